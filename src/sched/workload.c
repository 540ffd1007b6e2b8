/* workload.c — the shared queue as the scheduling process sees it: every live
 * workload in the store (pending or admitted, of every run on this machine),
 * turned into sched_workloads for sched_cycle.
 *
 * A workload is stored as a row of the workloads table (store_workload): its request as JSON (one
 * worker's resources, node selector, tolerations, workers, whether it may
 * preempt), priority, ClusterQueue, times, and once admitted the node of each
 * worker and its flavors. Rows whose owner process is dead are ignored.
 * Used inside the caller's write transaction, so what it reads cannot change
 * before the decisions it leads to are committed. One thread. */
#include "sched/sched_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- requests ------------------------------------------------------------------------ */

void sched__req_free(sched__req *r) {
    free(r->sel);
    free(r->tol);
    if (r->json) json_decref(r->json);
    memset(r, 0, sizeof *r);
}

int sched__req_from_step(const spec_step *s, bool may_preempt, sched__req *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    out->may_preempt = may_preempt;
    out->req.gang = s->parallelism > 0 ? s->parallelism : 1;
    int rc = sched__res_from_spec(&s->resources, &out->req.requests, e);
    if (rc) return rc;
    out->sel = mp_xcalloc(s->nnode_selector + 1, sizeof *out->sel);
    for (size_t i = 0; i < s->nnode_selector; i++)
        out->sel[i] = (sched_kv){s->node_selector[i].key, s->node_selector[i].value};
    out->tol = mp_xcalloc(s->ntolerations + 1, sizeof *out->tol);
    for (size_t i = 0; i < s->ntolerations; i++) {
        const spec_toleration *t = &s->tolerations[i];
        out->tol[i] = (sched_toleration){t->key, t->op == SPEC_TOL_EXISTS ? SCHED_TOL_EXISTS : SCHED_TOL_EQUAL,
                                         t->value, (sched_effect)t->effect};
    }
    out->req.node_selector = out->sel;
    out->req.nnode_selector = s->nnode_selector;
    out->req.tolerations = out->tol;
    out->req.ntolerations = s->ntolerations;
    return 0;
}

static const char *const effect_names[] = {"", "NoSchedule", "PreferNoSchedule", "NoExecute"};

char *sched__req_to_json(const sched__req *r) {
    const sched_pod_req *q = &r->req;
    json_t *ext = json_object(), *sel = json_object(), *tol = json_array();
    for (int i = 0; i < q->requests.next; i++)
        json_object_set_new(ext, q->requests.ext[i].name, json_integer(q->requests.ext[i].count));
    for (size_t i = 0; i < q->nnode_selector; i++)
        json_object_set_new(sel, q->node_selector[i].key ? q->node_selector[i].key : "",
                            json_string(q->node_selector[i].value ? q->node_selector[i].value : ""));
    for (size_t i = 0; i < q->ntolerations; i++) {
        const sched_toleration *t = &q->tolerations[i];
        json_array_append_new(tol, json_pack("{s:s,s:s,s:s,s:s}", "key", t->key ? t->key : "", "op",
                                             t->op == SCHED_TOL_EXISTS ? "Exists" : "Equal", "value",
                                             t->value ? t->value : "", "effect",
                                             effect_names[t->effect <= SCHED_NO_EXECUTE ? t->effect : 0]));
    }
    json_t *j = json_pack("{s:I,s:I,s:I,s:o,s:i,s:o,s:o,s:b}", "cpu", (json_int_t)q->requests.cpu_milli, "memory",
                          (json_int_t)q->requests.memory_bytes, "gpu", (json_int_t)q->requests.gpu, "ext", ext,
                          "workers", q->gang > 0 ? q->gang : 1, "nodeSelector", sel, "tolerations", tol, "preempt",
                          r->may_preempt);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static int bad_req(mp_err *e, const char *why) {
    return mp_err_set(e, MP_EINVAL, "store: a workload's request is malformed (%s)", why);
}

int sched__req_from_json(const char *text, sched__req *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *j = json_loads(text ? text : "", 0, &je);
    if (!j || !json_is_object(j)) {
        if (j) json_decref(j);
        return bad_req(e, je.text);
    }
    out->json = j;
    sched_pod_req *q = &out->req;
    q->requests.cpu_milli = json_integer_value(json_object_get(j, "cpu"));
    q->requests.memory_bytes = json_integer_value(json_object_get(j, "memory"));
    q->requests.gpu = json_integer_value(json_object_get(j, "gpu"));
    json_int_t w = json_integer_value(json_object_get(j, "workers"));
    q->gang = w >= 1 && w <= SCHED_GANG_MAX ? (int)w : 1;
    json_t *b = json_object_get(j, "preempt");
    out->may_preempt = !b || json_is_true(b);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(j, "ext"), k, v) {
        if (sched_res_ext_set(&q->requests, k, json_integer_value(v)) != 0) {
            sched__req_free(out);
            return bad_req(e, "too many extended resources");
        }
    }
    json_t *sel = json_object_get(j, "nodeSelector");
    out->sel = mp_xcalloc(json_object_size(sel) + 1, sizeof *out->sel);
    json_object_foreach(sel, k, v) out->sel[q->nnode_selector++] = (sched_kv){k, json_string_value(v)};
    json_t *tol = json_object_get(j, "tolerations");
    out->tol = mp_xcalloc(json_array_size(tol) + 1, sizeof *out->tol);
    size_t i;
    json_array_foreach(tol, i, v) {
        const char *eff = json_string_value(json_object_get(v, "effect"));
        sched_effect ef = SCHED_EFFECT_ANY;
        for (int x = 1; x <= SCHED_NO_EXECUTE && eff; x++)
            if (strcmp(eff, effect_names[x]) == 0) ef = (sched_effect)x;
        const char *op = json_string_value(json_object_get(v, "op"));
        out->tol[q->ntolerations++] = (sched_toleration){
            json_string_value(json_object_get(v, "key")), op && strcmp(op, "Exists") == 0 ? SCHED_TOL_EXISTS : SCHED_TOL_EQUAL,
            json_string_value(json_object_get(v, "value")), ef};
    }
    q->node_selector = out->sel;
    q->tolerations = out->tol;
    return 0;
}

bool sched_workload_live(const store_workload *h) { return mp_proc_alive(h->owner_pid, h->owner_start); }

void sched_row_request(const store_workload *h, sched_res *one, int *workers) {
    memset(one, 0, sizeof *one);
    *workers = 1;
    sched__req r;
    mp_err ignored;
    if (h->request && sched__req_from_json(h->request, &r, &ignored) == 0) {
        *one = r.req.requests;
        *workers = r.req.gang > 0 ? r.req.gang : 1;
        sched__req_free(&r);
        return;
    }
    one->cpu_milli = h->cpu_milli;
    one->memory_bytes = h->memory_bytes;
    one->gpu = h->gpu;
}

/* ---- the queue ------------------------------------------------------------------------ */

void sched__queue_reset(sched_queue *q) {
    for (size_t i = 0; i < q->n; i++) {
        sched__req_free(&q->reqs[i]);
        free(q->nodes[i]);
        free(q->ids[i]);
    }
    q->n = 0;
    store_workload_array_free(q->rows, q->nrows);
    q->rows = NULL;
    q->nrows = 0;
}

void sched_queue_free(sched_queue *q) {
    sched__queue_reset(q);
    free(q->w);
    free(q->reqs);
    free(q->nodes);
    free(q->ids);
    free(q->row_of);
    if (q->loaded) sched_objects_free(&q->obj);
    memset(q, 0, sizeof *q);
}

static size_t grow(sched_queue *q) {
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->w = mp_xrealloc(q->w, q->cap * sizeof *q->w);
        q->reqs = mp_xrealloc(q->reqs, q->cap * sizeof *q->reqs);
        q->nodes = mp_xrealloc(q->nodes, q->cap * sizeof *q->nodes);
        q->ids = mp_xrealloc(q->ids, q->cap * sizeof *q->ids);
        q->row_of = mp_xrealloc(q->row_of, q->cap * sizeof *q->row_of);
    }
    size_t i = q->n++;
    memset(&q->w[i], 0, sizeof q->w[i]);
    memset(&q->reqs[i], 0, sizeof q->reqs[i]);
    q->nodes[i] = NULL;
    q->ids[i] = NULL;
    q->row_of[i] = 0;
    return i;
}

/* A signature of what is applied: reload the objects only when it changes. */
static int objects_signature(store *st, int64_t *sig, mp_err *e) {
    store_object *o = NULL;
    size_t n = 0;
    int rc = st->o->object_list(st, &o, &n, e);
    int64_t s = (int64_t)n * 1000003;
    for (size_t i = 0; i < n; i++) s = s * 31 + o[i].source_id * 7 + o[i].applied_ms;
    store_object_array_free(o, n);
    *sig = s;
    return rc;
}

int sched__queue_objects(sched_queue *q, store *st, mp_err *e) {
    int64_t sig = 0;
    int rc = objects_signature(st, &sig, e);
    if (rc) return rc;
    if (q->loaded && sig == q->sig) return 0;
    if (q->loaded) sched_objects_free(&q->obj);
    q->loaded = false;
    if ((rc = sched_objects_load(st, &q->obj, e)) != 0) return rc;
    q->loaded = true;
    q->sig = sig;
    return 0;
}

static ssize_t node_index(const sched_objects *o, const char *name, size_t len) {
    for (size_t i = 0; i < o->nnodes; i++)
        if (strlen(o->nodes[i].name) == len && memcmp(o->nodes[i].name, name, len) == 0) return (ssize_t)i;
    return -1;
}

/* The node indexes of "a,b,c" (gang entries) into a heap array; NULL when one
 * is not a node any more or the count is wrong. */
static size_t *parse_nodes(const sched_objects *o, const char *list, int gang) {
    if (!list) return NULL;
    size_t *v = mp_xcalloc((size_t)gang + 1, sizeof *v);
    int k = 0;
    const char *p = list;
    while (*p && k < gang) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        ssize_t idx = node_index(o, p, len);
        if (idx < 0) break;
        v[k++] = (size_t)idx;
        p = c ? c + 1 : p + len;
    }
    if (k != gang) {
        free(v);
        return NULL;
    }
    return v;
}

int sched__queue_load(sched_queue *q, store *st, mp_err *e) {
    assert(st->m->in_tx(st)); /* what is read is what the cycle decides over */
    sched__queue_reset(q);
    int rc = sched__queue_objects(q, st, e);
    if (rc == 0) rc = st->w->workload_list(st, &q->rows, &q->nrows, e);
    for (size_t i = 0; i < q->nrows && rc == 0; i++) {
        store_workload *h = &q->rows[i];
        if (!sched_workload_live(h)) continue; /* dead owner */
        sched__req r = {0};
        if (h->request) {
            mp_err ignored;
            if (sched__req_from_json(h->request, &r, &ignored) != 0) continue; /* unreadable: not ours to judge */
        } else { /* a row written before requests were stored: what it holds, on this machine */
            r.req.requests.cpu_milli = h->cpu_milli;
            r.req.requests.memory_bytes = h->memory_bytes;
            r.req.requests.gpu = h->gpu;
            r.req.gang = 1;
            r.may_preempt = true;
        }
        size_t *nodes = NULL;
        if (!h->pending) {
            nodes = h->nodes ? parse_nodes(&q->obj, h->nodes, r.req.gang) : NULL;
            if (!nodes && !h->nodes && !q->obj.simulated) nodes = mp_xcalloc(2, sizeof *nodes); /* node 0 */
            if (!nodes) { /* its node is gone: it holds nothing we can place */
                sched__req_free(&r);
                continue;
            }
        }
        size_t k = grow(q);
        q->reqs[k] = r;
        q->nodes[k] = nodes;
        q->ids[k] = mp_xasprintf("%s/%s", h->run_id, h->step);
        q->row_of[k] = i;
        q->w[k] = (sched_workload){.id = q->ids[k], .cluster_queue = h->queue, .priority = h->priority,
                                   .may_preempt = r.may_preempt, .created_ms = h->created_ms,
                                   .limit_ms = h->limit_ms, .req = r.req, .admitted = !h->pending,
                                   .started_ms = h->started_ms, .nodes = nodes, .flavors = h->flavors,
                                   .evicting = h->evict != NULL};
    }
    return rc;
}

int sched__queue_cycle(sched_queue *q, int64_t now_ms, sched_decision **out, size_t *nout, mp_err *e) {
    for (size_t i = 0; i < q->n; i++) q->w[i].req = q->reqs[i].req; /* arrays may have moved */
    sched_cluster c = {.nodes = q->obj.nodes, .nnodes = q->obj.nnodes,
                       .queues = (const spec_cluster_queue *const *)q->obj.queues, .nqueues = q->obj.nqueues,
                       .flavors = (const spec_resource_flavor *const *)q->obj.flavors, .nflavors = q->obj.nflavors,
                       .policy = SCHED_BINPACK};
    return sched_cycle(&c, q->w, q->n, now_ms, out, nout, e);
}

char *sched__nodes_text(const sched_queue *q, const size_t *nodes, int gang) {
    mp_buf b;
    mp_buf_init(&b);
    for (int i = 0; i < gang; i++) mp_buf_printf(&b, "%s%s", i ? "," : "", q->obj.nodes[nodes[i]].name);
    return mp_buf_steal(&b);
}
