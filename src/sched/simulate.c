/* simulate.c — capacity planning on a declared cluster: "would these workloads
 * fit on these nodes?". Every step of every Pipeline in the given files is a
 * workload (a gang of `parallelism` workers) asking for its resources at the same
 * time — the worst case, as if all were submitted together. Workloads are placed
 * in priority order (their PriorityClass value, the global default's for steps
 * naming none, else 0; file order among equals) with the placement library
 * (place.c) on the files' Node and NodePool objects, each placement allocating
 * before the next. Nothing runs and nothing is stored. Reentrant. */
#include "sched/sched_int.h"

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

int sched_simulate(const spec_file *const *files, size_t nfiles, sched_policy policy, sched_sim_report *out,
                   mp_err *e) {
    memset(out, 0, sizeof *out);
    /* the cluster: every Node and NodePool member of every file */
    sched_nodeset c;
    int rc = sched__nodeset_build(files, nfiles, NULL, NULL, &c, e);
    if (rc) return rc;
    size_t total = c.n;
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
            r->why = sched_why(SCHED_WAIT_PRIORITY_CLASS, "PriorityClass \"%s\" is not in the files", w[i].bad_class);
            continue;
        }
        sched_pod_req req = {.gang = r->gang};
        if ((rc = sched__res_from_spec(&w[i].s->resources, &req.requests, e)) != 0) break;
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
            r->why = sched_why(SCHED_WAIT_NODES, "%s", why);
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
    sched__nodeset_free(&c);
    if (rc) sched_sim_report_free(out);
    return rc;
}
