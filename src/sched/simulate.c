/* simulate.c — capacity planning on a declared cluster: "would these workloads
 * fit on these nodes?". Every step of every Pipeline in the given files is a
 * workload (a gang of `parallelism` workers) asking for its resources at the same
 * time — the worst case, as if all were submitted together. Workloads are placed
 * in priority order (their PriorityClass value, the global default's for steps
 * naming none, else 0; file order among equals) with the placement library
 * (place.c) on the files' Node and NodePool objects, each placement allocating
 * before the next. Nothing runs and nothing is stored. Reentrant. */
#include "sched/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct work {
    const spec_pipeline *p;
    const spec_step *s;
    int32_t priority;
    size_t order;
    const char *bad_class; /* a priorityClassName no file defines */
} work;

static int cmp_work(const void *a, const void *b) {
    const work *x = a, *y = b;
    if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static const spec_priority_class *find_class(const spec_file *const *files, size_t nfiles, const char *name) {
    for (size_t i = 0; i < nfiles; i++) {
        const spec_object *o = spec_file_find(files[i], SPEC_KIND_PRIORITY_CLASS, name);
        if (o) return o->u.priority_class;
    }
    return NULL;
}

static const spec_priority_class *default_class(const spec_file *const *files, size_t nfiles) {
    for (size_t i = 0; i < nfiles; i++)
        for (size_t j = 0; j < files[i]->nobjs; j++)
            if (files[i]->objs[j].kind == SPEC_KIND_PRIORITY_CLASS && files[i]->objs[j].u.priority_class->global_default)
                return files[i]->objs[j].u.priority_class;
    return NULL;
}

/* spec requests or capacity -> sched_res; MP_EINVAL past SCHED_EXT_MAX extended names. */
static int to_res(const spec_resources *r, sched_res *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    out->cpu_milli = r->cpu_milli;
    out->memory_bytes = r->memory_bytes;
    out->gpu = r->gpu;
    for (size_t i = 0; i < r->nextended; i++)
        if (sched_res_ext_set(out, r->extended[i].name, r->extended[i].count) != 0)
            return mp_err_set(e, MP_EINVAL, "too many extended resources (at most %d): %s", SCHED_EXT_MAX,
                              r->extended[i].name);
    return 0;
}

void sched_sim_report_free(sched_sim_report *r) {
    for (size_t i = 0; i < r->nwork; i++) {
        free(r->work[i].name);
        free(r->work[i].nodes);
        free(r->work[i].why);
    }
    free(r->work);
    for (size_t i = 0; i < r->nnodes; i++) free(r->nodes[i].name);
    free(r->nodes);
    memset(r, 0, sizeof *r);
}

typedef struct cluster {
    spec_node_inst *inst;
    size_t n;
    sched_node *nodes;
    sched_kv **labels;
    sched_taint **taints;
} cluster;

static void cluster_free(cluster *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->labels[i]);
        free(c->taints[i]);
    }
    free(c->labels);
    free(c->taints);
    free(c->nodes);
}

int sched_simulate(const spec_file *const *files, size_t nfiles, sched_policy policy, sched_sim_report *out,
                   mp_err *e) {
    memset(out, 0, sizeof *out);
    /* the cluster: every Node and NodePool member of every file */
    spec_node_inst **insts = mp_xcalloc(nfiles + 1, sizeof *insts);
    size_t *ninsts = mp_xcalloc(nfiles + 1, sizeof *ninsts), total = 0;
    for (size_t i = 0; i < nfiles; i++) total += ninsts[i] = spec_file_nodes(files[i], &insts[i]);
    cluster c = {.n = total, .nodes = mp_xcalloc(total + 1, sizeof(sched_node)),
                 .labels = mp_xcalloc(total + 1, sizeof(sched_kv *)), .taints = mp_xcalloc(total + 1, sizeof(sched_taint *))};
    int rc = 0;
    size_t k = 0;
    for (size_t i = 0; i < nfiles; i++) {
        for (size_t j = 0; j < ninsts[i] && rc == 0; j++, k++) {
            const spec_node_inst *ni = &insts[i][j];
            sched_node *nd = &c.nodes[k];
            nd->name = ni->name;
            rc = to_res(ni->capacity, &nd->capacity, e);
            c.labels[k] = mp_xcalloc(ni->meta->nlabels + 1, sizeof(sched_kv));
            for (size_t l = 0; l < ni->meta->nlabels; l++)
                c.labels[k][l] = (sched_kv){ni->meta->labels[l].key, ni->meta->labels[l].value};
            nd->labels = c.labels[k];
            nd->nlabels = ni->meta->nlabels;
            c.taints[k] = mp_xcalloc(ni->ntaints + 1, sizeof(sched_taint));
            for (size_t t = 0; t < ni->ntaints; t++)
                c.taints[k][t] = (sched_taint){ni->taints[t].key, ni->taints[t].value, (sched_effect)ni->taints[t].effect};
            nd->taints = c.taints[k];
            nd->ntaints = ni->ntaints;
        }
    }
    if (rc == 0 && total == 0)
        rc = mp_err_set(e, MP_EINVAL, "no Node or NodePool in the files: declare the cluster to simulate "
                                      "(kind: Node or kind: NodePool)");

    /* the workloads, in priority order */
    const spec_priority_class *dflt = default_class(files, nfiles);
    work *w = NULL;
    size_t nw = 0, cap = 0, order = 0;
    for (size_t i = 0; i < nfiles && rc == 0; i++) {
        for (size_t j = 0; j < files[i]->nobjs; j++) {
            if (files[i]->objs[j].kind != SPEC_KIND_PIPELINE) continue;
            const spec_pipeline *p = files[i]->objs[j].u.pipeline;
            for (size_t s = 0; s < p->nsteps; s++) {
                if (nw == cap) {
                    cap = cap ? cap * 2 : 16;
                    w = mp_xrealloc(w, cap * sizeof *w);
                }
                const spec_step *st = &p->steps[s];
                const spec_priority_class *pc = st->priority_class ? find_class(files, nfiles, st->priority_class) : dflt;
                w[nw++] = (work){p, st, pc ? pc->value : 0, order++, st->priority_class && !pc ? st->priority_class : NULL};
            }
        }
    }
    if (nw) qsort(w, nw, sizeof *w, cmp_work);

    out->work = mp_xcalloc(nw + 1, sizeof *out->work);
    for (size_t i = 0; i < nw && rc == 0; i++) {
        sched_sim_work *r = &out->work[out->nwork++];
        r->name = mp_xasprintf("%s/%s", w[i].p->meta.name, w[i].s->name);
        r->priority = w[i].priority;
        r->gang = w[i].s->parallelism > 0 ? w[i].s->parallelism : 1;
        if (w[i].bad_class) {
            r->why = mp_xasprintf("unknown PriorityClass \"%s\"", w[i].bad_class);
            continue;
        }
        sched_pod_req req = {.gang = r->gang};
        if ((rc = to_res(&w[i].s->resources, &req.requests, e)) != 0) break;
        sched_kv *sel = mp_xcalloc(w[i].s->nnode_selector + 1, sizeof *sel);
        for (size_t l = 0; l < w[i].s->nnode_selector; l++)
            sel[l] = (sched_kv){w[i].s->node_selector[l].key, w[i].s->node_selector[l].value};
        sched_toleration *tol = mp_xcalloc(w[i].s->ntolerations + 1, sizeof *tol);
        for (size_t l = 0; l < w[i].s->ntolerations; l++) {
            const spec_toleration *t = &w[i].s->tolerations[l];
            tol[l] = (sched_toleration){t->key, t->op == SPEC_TOL_EXISTS ? SCHED_TOL_EXISTS : SCHED_TOL_EQUAL, t->value,
                                        (sched_effect)t->effect};
        }
        req.node_selector = sel;
        req.nnode_selector = w[i].s->nnode_selector;
        req.tolerations = tol;
        req.ntolerations = w[i].s->ntolerations;
        size_t *where = mp_xcalloc((size_t)r->gang + 1, sizeof *where);
        char why[512];
        int pr = sched_place_gang(c.nodes, c.n, &req, policy, where, why, sizeof why);
        if (pr == 0) {
            mp_buf nodes;
            mp_buf_init(&nodes);
            for (int g = 0; g < r->gang; g++) {
                sched_node_allocate(&c.nodes[where[g]], &req.requests);
                int devs[64];
                if (req.requests.gpu > 0 && req.requests.gpu <= 64 &&
                    sched_gpu_pick(&c.nodes[where[g]], req.requests.gpu, devs) == 0)
                    sched_gpu_mark(&c.nodes[where[g]], devs, (size_t)req.requests.gpu, true);
                mp_buf_printf(&nodes, "%s%s", g ? "," : "", c.nodes[where[g]].name);
            }
            r->placed = true;
            r->nodes = mp_buf_steal(&nodes);
        } else if (pr == MP_EINVAL) {
            rc = mp_err_set(e, MP_EINVAL, "cannot simulate %s: %s", r->name, why);
        } else {
            r->why = mp_xstrdup(why);
        }
        free(where);
        free(sel);
        free(tol);
    }
    if (rc == 0) {
        out->nodes = mp_xcalloc(c.n + 1, sizeof *out->nodes);
        for (size_t i = 0; i < c.n; i++)
            out->nodes[out->nnodes++] = (sched_sim_node){mp_xstrdup(c.nodes[i].name), c.nodes[i].capacity,
                                                         c.nodes[i].allocated};
    }
    free(w);
    cluster_free(&c);
    for (size_t i = 0; i < nfiles; i++) spec_node_insts_free(insts[i], ninsts[i]);
    free(insts);
    free(ninsts);
    if (rc) sched_sim_report_free(out);
    return rc;
}
