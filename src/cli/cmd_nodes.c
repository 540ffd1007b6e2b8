/* cmd_nodes.c — `mlplane get nodes`: the nodes steps run on, with capacity, what
 * is allocated now and which workloads hold it. The nodes are this machine
 * (capacity detected at start: CPUs, memory, NVIDIA GPUs found through NVML),
 * or the Nodes and NodePools applied to the store, simulated over this machine.
 * Allocation comes from the workload rows the schedulers admit against (live
 * owners only). Read-only on the store, so safe beside running runs.
 * Single-threaded. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

typedef struct node_use {
    sched_res alloc;
    mp_buf work; /* "run/step" of each workload with a worker here */
    json_t *wl;
} node_use;

static void tally(const sched_objects *o, const store_hold *h, size_t nh, node_use *use) {
    for (size_t i = 0; i < nh; i++) {
        if (h[i].pending || !sched_hold_live(&h[i])) continue;
        sched_res one;
        int workers;
        sched_row_request(&h[i], &one, &workers);
        char id[512];
        snprintf(id, sizeof id, "%s/%s", h[i].run_id, h[i].step);
        if (!h[i].nodes) { /* a row written before placements were recorded: this machine */
            if (!o->simulated) {
                sched_res_add(&use[0].alloc, &one);
                mp_buf_printf(&use[0].work, "%s%s", use[0].work.len ? ", " : "", id);
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
                if (!strstr(use[k].work.data ? use[k].work.data : "", id)) {
                    mp_buf_printf(&use[k].work, "%s%s", use[k].work.len ? ", " : "", id);
                    json_array_append_new(use[k].wl, json_string(id));
                }
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

int cli_get_nodes(cli_env *env, const char *home_flag, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store(env, home_flag, &home, &st)) return CLI_FAILED;
    mp_err e;
    sched_objects o;
    store_hold *h = NULL;
    size_t nh = 0;
    int status = CLI_OK;
    if (sched_objects_load(st, &o, &e) != 0) {
        st->m->close(st);
        free(home);
        return cli_fail_err(&e);
    }
    if (st->m->hold_list(st, &h, &nh, &e) != 0) status = cli_fail_err(&e);
    node_use *use = mp_xcalloc(o.nnodes + 1, sizeof *use);
    for (size_t k = 0; k < o.nnodes; k++) {
        mp_buf_init(&use[k].work);
        use[k].wl = json_array();
    }
    tally(&o, h, nh, use);
    size_t ngpu = 0;
    const char *why = NULL;
    const sched_gpu *gpus = o.simulated ? NULL : sched_gpu_local(&ngpu, &why);
    static const char *const hdr[] = {"NAME", "CPU", "MEMORY", "GPU", "OTHER", "WORKLOADS"};
    cli_table t;
    cli_table_init(&t, 6, hdr);
    json_t *arr = json_array();
    for (size_t k = 0; k < o.nnodes && status == CLI_OK; k++) {
        const sched_node *nd = &o.nodes[k];
        const sched_res *c = &nd->capacity, *a = &use[k].alloc;
        char x[32], y[32], cpu[80], mem[80], gpu[80];
        cli_fmt_cpu(c->cpu_milli, x, sizeof x);
        cli_fmt_cpu(a->cpu_milli, y, sizeof y);
        snprintf(cpu, sizeof cpu, "%s (%s used)", x, y);
        cli_fmt_mem(c->memory_bytes, x, sizeof x);
        cli_fmt_mem(a->memory_bytes, y, sizeof y);
        snprintf(mem, sizeof mem, "%s (%s used)", x, y);
        snprintf(gpu, sizeof gpu, "%lld (%lld used)", (long long)c->gpu, (long long)a->gpu);
        mp_buf ext;
        mp_buf_init(&ext);
        for (int i = 0; i < c->next; i++)
            mp_buf_printf(&ext, "%s%s %lld/%lld", i ? ", " : "", c->ext[i].name,
                          (long long)sched_res_ext_get(a, c->ext[i].name), (long long)c->ext[i].count);
        const char *row[] = {nd->name, cpu, mem, gpu, ext.data ? ext.data : "-",
                             use[k].work.len ? use[k].work.data : "-"};
        cli_table_add(&t, row);
        mp_buf_free(&ext);
        json_t *labels = json_object(), *taints = json_array();
        for (size_t i = 0; i < nd->nlabels; i++)
            json_object_set_new(labels, nd->labels[i].key, json_string(nd->labels[i].value));
        static const char *const eff[] = {"", "NoSchedule", "PreferNoSchedule", "NoExecute"};
        for (size_t i = 0; i < nd->ntaints; i++)
            json_array_append_new(taints, json_pack("{s:s,s:s,s:s}", "key", nd->taints[i].key, "value",
                                                    nd->taints[i].value ? nd->taints[i].value : "", "effect",
                                                    eff[nd->taints[i].effect <= SCHED_NO_EXECUTE ? nd->taints[i].effect : 0]));
        json_t *ja = res_json(a);
        json_object_set_new(ja, "steps", json_integer((json_int_t)json_array_size(use[k].wl)));
        json_t *jn = json_pack("{s:s,s:b,s:o,s:o,s:o,s:o,s:O}", "name", nd->name, "simulated", o.simulated, "labels",
                               labels, "taints", taints, "capacity", res_json(c), "allocated", ja, "workloads",
                               use[k].wl);
        if (!o.simulated) {
            json_t *ga = json_array();
            for (size_t i = 0; i < ngpu; i++)
                json_array_append_new(ga, json_pack("{s:i,s:s,s:s,s:I}", "index", gpus[i].index, "name", gpus[i].name,
                                                    "uuid", gpus[i].uuid, "memory_bytes",
                                                    (json_int_t)gpus[i].memory_bytes));
            json_object_set_new(jn, "gpus", ga);
            json_object_set_new(jn, "gpu_discovery", json_string(why && *why ? why : "ok"));
        }
        json_array_append_new(arr, jn);
    }
    if (status == CLI_OK && out == OUT_TABLE) {
        cli_table_print(&t, stdout);
        if (ngpu) {
            char x[32];
            fputs("GPUS: ", stdout);
            for (size_t i = 0; i < ngpu; i++) {
                cli_fmt_mem(gpus[i].memory_bytes, x, sizeof x);
                printf("%s%d: %s (%s)", i ? ", " : "", gpus[i].index, gpus[i].name, x);
            }
            fputc('\n', stdout);
        }
        if (why && *why) printf("Note: %s%s\n", ngpu ? "" : "no GPUs: ", why);
        if (o.simulated) printf("Note: simulated nodes (applied Node/NodePool objects); their work runs on this machine\n");
    } else if (status == CLI_OK) {
        status = cli_print_json(arr, out);
    }
    json_decref(arr);
    cli_table_free(&t);
    for (size_t k = 0; k < o.nnodes; k++) {
        mp_buf_free(&use[k].work);
        json_decref(use[k].wl);
    }
    free(use);
    store_hold_array_free(h, nh);
    sched_objects_free(&o);
    st->m->close(st);
    free(home);
    return status;
}
