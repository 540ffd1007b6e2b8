/* nodes.c — the nodes steps run on, as JSON: capacity, what is allocated now and
 * which workloads hold it. The nodes are this machine (capacity detected at
 * start: CPUs, memory, NVIDIA GPUs found through NVML), or the Nodes and
 * NodePools applied to the store, simulated over this machine. Allocation comes
 * from the workload rows the schedulers admit against (live owners only).
 * Read-only on the store. Shared by `mlplane get nodes` and GET /api/v1/nodes,
 * so both show the same thing.
 *
 * Threads: reentrant; each call uses the store handle it is given. */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"

typedef struct node_use {
    sched_res alloc;
    json_t *wl; /* "run/step" of each workload with a worker here */
} node_use;

static bool listed(json_t *arr, const char *id) {
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (strcmp(json_string_value(v), id) == 0) return true;
    return false;
}

static void tally(const sched_objects *o, const store_workload *h, size_t nh, node_use *use) {
    for (size_t i = 0; i < nh; i++) {
        if (h[i].pending || !sched_workload_live(&h[i])) continue;
        sched_res one;
        int workers;
        sched_row_request(&h[i], &one, &workers);
        char id[512];
        snprintf(id, sizeof id, "%s/%s", h[i].run_id, h[i].step);
        if (!h[i].nodes) { /* a row written before placements were recorded: this machine */
            if (!o->simulated && o->nnodes > 0) {
                sched_res_add(&use[0].alloc, &one);
                json_array_append_new(use[0].wl, json_string(id));
            }
            continue;
        }
        const char *p = h[i].nodes;
        while (*p) {
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            for (size_t k = 0; k < o->nnodes; k++) {
                if (strlen(o->nodes[k].name) != len || memcmp(o->nodes[k].name, p, len) != 0) continue;
                sched_res_add(&use[k].alloc, &one);
                if (!listed(use[k].wl, id)) json_array_append_new(use[k].wl, json_string(id));
            }
            p = c ? c + 1 : p + len;
        }
    }
}

/* Amounts as JSON: cpu_milli, memory_bytes, gpu (nvidia.com/gpu), extended by name. */
static json_t *res_json(const sched_res *r) {
    json_t *o = json_pack("{s:I,s:I,s:I}", "cpu_milli", (json_int_t)r->cpu_milli, "memory_bytes",
                          (json_int_t)r->memory_bytes, "gpu", (json_int_t)r->gpu);
    for (int i = 0; i < r->next; i++) json_object_set_new(o, r->ext[i].name, json_integer(r->ext[i].count));
    return o;
}

static json_t *node_json(const sched_objects *o, const sched_node *nd, node_use *use, const sched_gpu *gpus, size_t ngpu,
                         const char *why) {
    json_t *labels = json_object(), *taints = json_array();
    for (size_t i = 0; i < nd->nlabels; i++) json_object_set_new(labels, nd->labels[i].key, json_string(nd->labels[i].value));
    static const char *const eff[] = {"", "NoSchedule", "PreferNoSchedule", "NoExecute"};
    for (size_t i = 0; i < nd->ntaints; i++)
        json_array_append_new(taints, json_pack("{s:s,s:s,s:s}", "key", nd->taints[i].key, "value",
                                                nd->taints[i].value ? nd->taints[i].value : "", "effect",
                                                eff[nd->taints[i].effect <= SCHED_NO_EXECUTE ? nd->taints[i].effect : 0]));
    json_t *ja = res_json(&use->alloc);
    json_object_set_new(ja, "steps", json_integer((json_int_t)json_array_size(use->wl)));
    json_t *jn = json_pack("{s:s,s:b,s:o,s:o,s:o,s:o,s:O}", "name", nd->name, "simulated", o->simulated, "labels", labels,
                           "taints", taints, "capacity", res_json(&nd->capacity), "allocated", ja, "workloads", use->wl);
    if (!o->simulated) {
        json_t *ga = json_array();
        for (size_t i = 0; i < ngpu; i++)
            json_array_append_new(ga, json_pack("{s:i,s:s,s:s,s:I}", "index", gpus[i].index, "name", gpus[i].name, "uuid",
                                                gpus[i].uuid, "memory_bytes", (json_int_t)gpus[i].memory_bytes));
        json_object_set_new(jn, "gpus", ga);
        json_object_set_new(jn, "gpu_discovery", json_string(why && *why ? why : "ok"));
    }
    return jn;
}

int api_nodes_json(store *st, json_t **out, mp_err *e) {
    *out = NULL;
    sched_objects o;
    if (sched_objects_load(st, &o, e) != 0) return e ? e->code : MP_ESTORE;
    store_workload *h = NULL;
    size_t nh = 0;
    int rc = st->w->workload_list(st, &h, &nh, e);
    if (rc == 0) {
        node_use *use = mp_xcalloc(o.nnodes + 1, sizeof *use);
        for (size_t k = 0; k < o.nnodes; k++) use[k].wl = json_array();
        tally(&o, h, nh, use);
        size_t ngpu = 0;
        const char *why = NULL;
        const sched_gpu *gpus = o.simulated ? NULL : sched_gpu_local(&ngpu, &why);
        json_t *arr = json_array();
        for (size_t k = 0; k < o.nnodes; k++) json_array_append_new(arr, node_json(&o, &o.nodes[k], &use[k], gpus, ngpu, why));
        for (size_t k = 0; k < o.nnodes; k++) json_decref(use[k].wl);
        free(use);
        *out = arr;
    }
    store_workload_array_free(h, nh);
    sched_objects_free(&o);
    return rc;
}

void api_h_nodes(const mp_http_req *req, mp_http_resp *resp) {
    json_t *arr = NULL;
    mp_err e;
    if (api_nodes_json(req->st, &arr, &e) != 0) {
        api_error(resp, &e);
        return;
    }
    mp_http_json(resp, 200, arr);
}
