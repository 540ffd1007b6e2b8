/* spec.c — the small public pieces of spec.h that are not about YAML: diagnostics,
 * freeing, object and step lookups, the dependency graph (topological order and cycle
 * finding, shared with validate.c) and `-p name=value` parameter overrides.
 * Pure functions over the objects; no I/O. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

/* ---- diagnostics -------------------------------------------------------------- */

void spec_diag_add(spec_diags *d, const char *file, spec_pos pos, const char *fmt, ...) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->v = mp_xrealloc(d->v, d->cap * sizeof *d->v);
    }
    mp_buf b;
    mp_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    spec_diag *g = &d->v[d->n++];
    g->file = mp_xstrdup(file ? file : "<input>");
    /* every diagnostic has a position: a problem with the whole file is at its start */
    g->pos = pos.line > 0 ? (spec_pos){pos.line, pos.col > 0 ? pos.col : 1} : (spec_pos){1, 1};
    g->msg = mp_buf_steal(&b);
}

void spec_diags_format(const spec_diags *d, mp_buf *out) {
    for (size_t i = 0; i < d->n; i++) {
        const spec_diag *g = &d->v[i];
        mp_buf_printf(out, "%s:%d:%d: %s\n", g->file, g->pos.line, g->pos.col, g->msg);
    }
}

void spec_diags_free(spec_diags *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
    }
    free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}

void spec__err(spec__ctx *c, spec_pos pos, const char *fmt, ...) {
    mp_buf b;
    mp_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    spec_diag_add(c->diags, c->file, pos, "%s", b.data);
    mp_buf_free(&b);
}

/* ---- freeing ---------------------------------------------------------------------- */

void spec_kv_array_free(spec_kv *kv, size_t n) {
    if (!kv) return;
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void artifacts_free(spec_artifact *a, size_t n) {
    if (!a) return;
    for (size_t i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].path);
        spec_expectations_free(a[i].validate);
    }
    free(a);
}

static void strs_free(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void step_free(spec_step *s) {
    free(s->name);
    strs_free(s->command, s->ncommand);
    free(s->script);
    free(s->image);
    spec_kv_array_free(s->env, s->nenv);
    free(s->working_dir);
    free(s->register_model);
    free(s->register_artifact);
    strs_free(s->depends_on, s->ndepends);
    artifacts_free(s->inputs, s->ninputs);
    artifacts_free(s->outputs, s->noutputs);
    spec__resources_free(&s->resources);
    spec__step_sched_free(s);
    spec__secret_refs_free(s);
}

void spec__meta_free(spec_meta *m) {
    free(m->name);
    free(m->namespace_);
    spec_kv_array_free(m->labels, m->nlabels);
    memset(m, 0, sizeof *m);
}

void spec_pipeline_free(spec_pipeline *p) {
    spec__pipeline_free(p);
}

void spec__pipeline_free(spec_pipeline *p) {
    if (!p) return;
    spec__meta_free(&p->meta);
    spec_kv_array_free(p->params, p->nparams);
    for (size_t i = 0; i < p->nsteps; i++) step_free(&p->steps[i]);
    free(p->steps);
    free(p);
}

void spec__aux_free(spec__step_aux *aux, size_t n) {
    if (!aux) return;
    for (size_t i = 0; i < n; i++) {
        free(aux[i].dep_pos);
        for (size_t j = 0; j < aux[i].nsites; j++) free(aux[i].sites[j].field);
        free(aux[i].sites);
    }
    free(aux);
}

void spec_file_free(spec_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->nobjs; i++) spec__object_free(&f->objs[i]);
    free(f->objs);
    free(f->path);
    free(f->dir);
    free(f);
}

/* ---- lookups ------------------------------------------------------------------------ */

const spec_pipeline *spec_file_pipeline(const spec_file *f) {
    if (!f) return NULL;
    for (size_t i = 0; i < f->nobjs; i++)
        if (f->objs[i].kind == SPEC_KIND_PIPELINE) return f->objs[i].u.pipeline;
    return NULL;
}

const spec_meta *spec_object_meta(const spec_object *o) {
    switch (o->kind) {
    case SPEC_KIND_PIPELINE: return &o->u.pipeline->meta;
    case SPEC_KIND_PRIORITY_CLASS: return &o->u.priority_class->meta;
    case SPEC_KIND_NODE: return &o->u.node->meta;
    case SPEC_KIND_NODE_POOL: return &o->u.node_pool->meta;
    case SPEC_KIND_CLUSTER_QUEUE: return &o->u.cluster_queue->meta;
    case SPEC_KIND_LOCAL_QUEUE: return &o->u.local_queue->meta;
    case SPEC_KIND_RESOURCE_FLAVOR: return &o->u.resource_flavor->meta;
    case SPEC_KIND_DEPLOYMENT: return &o->u.deployment->meta;
    case SPEC_KIND_MONITOR: return &o->u.monitor->meta;
    case SPEC_KIND_SECRET: return &o->u.secret->meta;
    case SPEC_KIND_RETENTION_POLICY: return &o->u.retention->meta;
    case SPEC_KIND_ROLE:
    case SPEC_KIND_CLUSTER_ROLE: return &o->u.role->meta;
    case SPEC_KIND_ROLE_BINDING:
    case SPEC_KIND_CLUSTER_ROLE_BINDING: return &o->u.role_binding->meta;
    }
    assert(!"unknown spec_kind");
    return NULL;
}

void spec__object_free(spec_object *o) {
    switch (o->kind) {
    case SPEC_KIND_PIPELINE: spec__pipeline_free(o->u.pipeline); break;
    case SPEC_KIND_PRIORITY_CLASS: spec_priority_class_free(o->u.priority_class); break;
    case SPEC_KIND_NODE: spec_node_free(o->u.node); break;
    case SPEC_KIND_NODE_POOL: spec_node_pool_free(o->u.node_pool); break;
    case SPEC_KIND_CLUSTER_QUEUE: spec_cluster_queue_free(o->u.cluster_queue); break;
    case SPEC_KIND_LOCAL_QUEUE: spec_local_queue_free(o->u.local_queue); break;
    case SPEC_KIND_RESOURCE_FLAVOR: spec_resource_flavor_free(o->u.resource_flavor); break;
    case SPEC_KIND_DEPLOYMENT: spec_deployment_free(o->u.deployment); break;
    case SPEC_KIND_MONITOR: spec_monitor_free(o->u.monitor); break;
    case SPEC_KIND_SECRET: spec_secret_free(o->u.secret); break;
    case SPEC_KIND_RETENTION_POLICY: spec_retention_policy_free(o->u.retention); break;
    case SPEC_KIND_ROLE:
    case SPEC_KIND_CLUSTER_ROLE: spec_role_free(o->u.role); break;
    case SPEC_KIND_ROLE_BINDING:
    case SPEC_KIND_CLUSTER_ROLE_BINDING: spec_role_binding_free(o->u.role_binding); break;
    }
}

const spec_object *spec_file_find_ns(const spec_file *f, spec_kind kind, const char *ns, const char *name) {
    if (!f || !name) return NULL;
    for (size_t i = 0; i < f->nobjs; i++) {
        if (f->objs[i].kind != kind) continue;
        const spec_meta *m = spec_object_meta(&f->objs[i]);
        if (m->name && strcmp(m->name, name) == 0 && (!ns || strcmp(m->namespace_, ns) == 0)) return &f->objs[i];
    }
    return NULL;
}

const spec_object *spec_file_find(const spec_file *f, spec_kind kind, const char *name) {
    return spec_file_find_ns(f, kind, NULL, name);
}

size_t spec_file_count(const spec_file *f, spec_kind kind) {
    size_t n = 0;
    for (size_t i = 0; f && i < f->nobjs; i++) n += f->objs[i].kind == kind;
    return n;
}

int spec_pipeline_step_index(const spec_pipeline *p, const char *name) {
    if (!p || !name) return -1;
    for (size_t i = 0; i < p->nsteps; i++)
        if (p->steps[i].name && strcmp(p->steps[i].name, name) == 0) return (int)i;
    return -1;
}

const spec_step *spec_pipeline_step(const spec_pipeline *p, const char *name) {
    int i = spec_pipeline_step_index(p, name);
    return i < 0 ? NULL : &p->steps[i];
}

/* ---- dependency graph ------------------------------------------------------------ */

typedef struct name_idx {
    const char *name;
    size_t idx;
} name_idx;

static int name_idx_cmp(const void *a, const void *b) {
    const name_idx *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Lowest index of a step named name, or -1 (names sorted, ties by index). */
static long find_name(const name_idx *sorted, size_t n, const char *name) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(sorted[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(sorted[lo].name, name) == 0 ? (long)sorted[lo].idx : -1;
}

void spec__graph_build(const spec_pipeline *p, spec__graph *g) {
    memset(g, 0, sizeof *g);
    size_t n = p->nsteps;
    g->n = n;
    name_idx *sorted = mp_xcalloc(n ? n : 1, sizeof *sorted);
    size_t nn = 0;
    for (size_t i = 0; i < n; i++)
        if (p->steps[i].name) sorted[nn++] = (name_idx){p->steps[i].name, i};
    qsort(sorted, nn, sizeof *sorted, name_idx_cmp);

    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += p->steps[i].ndepends;
    g->dep_off = mp_xcalloc(n + 1, sizeof *g->dep_off);
    g->dep = mp_xcalloc(total ? total : 1, sizeof *g->dep);
    size_t *indeg_rev = mp_xcalloc(n + 1, sizeof *indeg_rev);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        g->dep_off[i] = k;
        const spec_step *s = &p->steps[i];
        for (size_t j = 0; j < s->ndepends; j++) {
            long d = find_name(sorted, nn, s->depends_on[j]);
            if (d < 0) {
                if (!g->nunknown++) {
                    g->unknown = s->depends_on[j];
                    g->unknown_in = s->name;
                }
                continue;
            }
            if ((size_t)d == i) {
                g->self = true;
                continue;
            }
            bool dup = false;
            for (size_t q = g->dep_off[i]; q < k && !dup; q++) dup = g->dep[q] == (size_t)d;
            if (dup) continue;
            g->dep[k++] = (size_t)d;
            indeg_rev[d]++;
        }
    }
    g->dep_off[n] = k;

    /* Reverse edges, grouped by dependency, in increasing dependent order. */
    g->rev_off = mp_xcalloc(n + 1, sizeof *g->rev_off);
    g->rev = mp_xcalloc(k ? k : 1, sizeof *g->rev);
    for (size_t i = 0, acc = 0; i <= n; i++) {
        g->rev_off[i] = acc;
        if (i < n) acc += indeg_rev[i];
    }
    memset(indeg_rev, 0, (n + 1) * sizeof *indeg_rev);
    for (size_t i = 0; i < n; i++)
        for (size_t q = g->dep_off[i]; q < g->dep_off[i + 1]; q++) {
            size_t d = g->dep[q];
            g->rev[g->rev_off[d] + indeg_rev[d]++] = i;
        }
    free(indeg_rev);
    free(sorted);
}

void spec__graph_free(spec__graph *g) {
    free(g->dep_off);
    free(g->dep);
    free(g->rev_off);
    free(g->rev);
    memset(g, 0, sizeof *g);
}

/* A binary min-heap of step indexes: the ready set, lowest index out first. */
typedef struct heap {
    size_t *v;
    size_t n;
} heap;

static void heap_push(heap *h, size_t x) {
    size_t i = h->n++;
    h->v[i] = x;
    while (i > 0 && h->v[(i - 1) / 2] > h->v[i]) {
        size_t par = (i - 1) / 2, t = h->v[par];
        h->v[par] = h->v[i];
        h->v[i] = t;
        i = par;
    }
}

static size_t heap_pop(heap *h) {
    size_t top = h->v[0];
    h->v[0] = h->v[--h->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l] < h->v[m]) m = l;
        if (r < h->n && h->v[r] < h->v[m]) m = r;
        if (m == i) break;
        size_t t = h->v[m];
        h->v[m] = h->v[i];
        h->v[i] = t;
        i = m;
    }
    return top;
}

void spec__graph_order(const spec__graph *g, bool *done, size_t *order, size_t *placed) {
    size_t n = g->n;
    size_t *pending = mp_xcalloc(n ? n : 1, sizeof *pending);
    heap h = {mp_xcalloc(n ? n : 1, sizeof(size_t)), 0};
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        for (size_t q = g->dep_off[i]; q < g->dep_off[i + 1]; q++)
            if (!done[g->dep[q]]) pending[i]++;
        if (!pending[i]) heap_push(&h, i);
    }
    while (h.n) {
        size_t i = heap_pop(&h);
        done[i] = true;
        order[(*placed)++] = i;
        for (size_t q = g->rev_off[i]; q < g->rev_off[i + 1]; q++) {
            size_t d = g->rev[q];
            if (!done[d] && --pending[d] == 0) heap_push(&h, d);
        }
    }
    free(h.v);
    free(pending);
}

size_t spec__graph_cycle(const spec__graph *g, const bool *done, size_t *cyc) {
    size_t n = g->n;
    long *at = mp_xcalloc(n ? n : 1, sizeof *at); /* position in the walk + 1, 0 = unvisited */
    size_t *walk = mp_xcalloc(n ? n : 1, sizeof *walk);
    size_t len = 0, cur = n;
    for (size_t i = 0; i < n && cur == n; i++)
        if (!done[i]) cur = i;
    size_t ncyc = 0;
    while (cur < n) {
        if (at[cur]) {
            size_t start = (size_t)(at[cur] - 1);
            ncyc = len - start;
            size_t lo = start;
            for (size_t q = start; q < len; q++)
                if (walk[q] < walk[lo]) lo = q;
            for (size_t q = 0; q < ncyc; q++) cyc[q] = walk[start + (lo - start + q) % ncyc];
            break;
        }
        at[cur] = (long)(++len);
        walk[len - 1] = cur;
        size_t next = n;
        for (size_t q = g->dep_off[cur]; q < g->dep_off[cur + 1] && next == n; q++)
            if (!done[g->dep[q]]) next = g->dep[q];
        cur = next; /* n (no cycle) only when called with a ready step left */
    }
    free(walk);
    free(at);
    return ncyc;
}

void spec__cycle_text(const spec_pipeline *p, const size_t *cyc, size_t n, mp_buf *out) {
    for (size_t i = 0; i < n; i++) mp_buf_printf(out, "%s -> ", p->steps[cyc[i]].name);
    if (n) mp_buf_puts(out, p->steps[cyc[0]].name);
}

int spec_pipeline_topo_order(const spec_pipeline *p, size_t *order, mp_err *e) {
    spec__graph g;
    spec__graph_build(p, &g);
    int rc = 0;
    if (g.nunknown) {
        rc = mp_err_set(e, MP_EINVAL, "step \"%s\" depends on undefined step \"%s\"", g.unknown_in ? g.unknown_in : "?",
                        g.unknown);
    } else if (g.self) {
        for (size_t i = 0; i < p->nsteps && !rc; i++)
            for (size_t j = 0; j < p->steps[i].ndepends && !rc; j++)
                if (strcmp(p->steps[i].depends_on[j], p->steps[i].name) == 0)
                    rc = mp_err_set(e, MP_EINVAL, "dependency cycle: %s -> %s", p->steps[i].name, p->steps[i].name);
    } else {
        bool *done = mp_xcalloc(p->nsteps ? p->nsteps : 1, sizeof *done);
        size_t placed = 0;
        spec__graph_order(&g, done, order, &placed);
        if (placed < p->nsteps) {
            size_t *cyc = mp_xcalloc(p->nsteps, sizeof *cyc);
            size_t nc = spec__graph_cycle(&g, done, cyc);
            mp_buf b;
            mp_buf_init(&b);
            spec__cycle_text(p, cyc, nc, &b);
            rc = mp_err_set(e, MP_EINVAL, "dependency cycle: %s", b.data);
            mp_buf_free(&b);
            free(cyc);
        }
        free(done);
    }
    spec__graph_free(&g);
    return rc;
}

/* ---- parameter overrides ---------------------------------------------------------- */

static char *param_names(const spec_pipeline *p) {
    if (!p->nparams) return mp_xstrdup("the pipeline defines no params");
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_puts(&b, "known: ");
    for (size_t i = 0; i < p->nparams; i++) mp_buf_printf(&b, "%s%s", i ? ", " : "", p->params[i].key);
    return mp_buf_steal(&b);
}

int spec_resolve_params(const spec_pipeline *p, const char *const *overrides, size_t noverrides, spec_kv **out,
                        mp_err *e) {
    *out = NULL;
    spec_kv *kv = mp_xcalloc(p->nparams ? p->nparams : 1, sizeof *kv);
    for (size_t i = 0; i < p->nparams; i++) {
        kv[i].key = mp_xstrdup(p->params[i].key);
        kv[i].value = mp_xstrdup(p->params[i].value ? p->params[i].value : "");
        kv[i].pos = p->params[i].pos;
    }
    for (size_t i = 0; i < noverrides; i++) {
        const char *o = overrides[i];
        const char *eq = o ? strchr(o, '=') : NULL;
        if (!eq || eq == o) {
            spec_kv_array_free(kv, p->nparams);
            return mp_err_set(e, MP_EINVAL, "-p expects name=value, got \"%s\"", o ? o : "");
        }
        size_t klen = (size_t)(eq - o);
        size_t j = 0;
        while (j < p->nparams && !(strlen(kv[j].key) == klen && memcmp(kv[j].key, o, klen) == 0)) j++;
        if (j == p->nparams) {
            char *known = param_names(p);
            mp_err_set(e, MP_EINVAL, "unknown param \"%.*s\" in -p %s (%s)", (int)klen, o, o, known);
            free(known);
            spec_kv_array_free(kv, p->nparams);
            return MP_EINVAL;
        }
        free(kv[j].value);
        kv[j].value = mp_xstrdup(eq + 1);
    }
    *out = kv;
    return 0;
}
