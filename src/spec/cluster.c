/* cluster.c — the simulated cluster's objects: PriorityClass, Node, NodePool,
 * ResourceFlavor and LocalQueue (ClusterQueue, the big one, is in queue.c).
 *
 * Shapes follow Kubernetes and Kueue so that a spec written here reads the same
 * there: PriorityClass keeps value/preemptionPolicy/globalDefault/description at
 * the top level (it has no spec), a Node's labels are its metadata.labels, and
 * NodePool is mlplane's shorthand for `count` identical Nodes named namePrefix +
 * index. Each decoder takes the envelope's metadata, checks every field's type,
 * adds one diagnostic per problem and always returns an object, so that later
 * checks can still see its name. spec__validate_file runs once all documents are
 * in: node names are unique across Nodes and pools, and only one PriorityClass is
 * the global default. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

#define MAX_POOL_NODES 100000

/* Moves meta into dst and leaves meta empty. */
static void take_meta(spec_meta *dst, spec_meta *meta) {
    *dst = *meta;
    memset(meta, 0, sizeof *meta);
}

/* "Node \"a\"" (or just the kind when the name is missing). */
static char *who(const char *kind, const spec_meta *m) {
    return m->name ? mp_xasprintf("%s \"%s\"", kind, m->name) : mp_xstrdup(kind);
}

/* ---- PriorityClass ------------------------------------------------------------------ */

static const char *const PREEMPTION_POLICIES[] = {"PreemptLowerPriority", "Never", NULL};

bool spec__decode_priority_class(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp,
                                 struct fy_node *spec, spec_pos sp, spec_object *o) {
    (void)spec;
    spec_priority_class *pc = mp_xcalloc(1, sizeof *pc);
    take_meta(&pc->meta, meta);
    struct fy_node *v;
    spec_pos kp;
    if (spec__lookup(root, "spec", &v, &kp))
        spec__err(c, sp,
                  "a PriorityClass has no spec: put value, preemptionPolicy, globalDefault and description at the "
                  "top level, as in Kubernetes");
    long long n;
    if (!spec__lookup(root, "value", &v, &kp) || spec__is_null(v))
        spec__err(c, rp, "missing required field \"value\" (the priority, an integer; higher runs first)");
    else if (spec__get_int(c, v, kp, "value", INT32_MIN, INT32_MAX, &n))
        pc->value = (int32_t)n;
    if (spec__lookup(root, "preemptionPolicy", &v, &kp) && !spec__is_null(v)) {
        int p = spec__get_enum(c, v, kp, "preemptionPolicy", PREEMPTION_POLICIES);
        pc->preemption = p == 1 ? SPEC_PREEMPT_NEVER : SPEC_PREEMPT_LOWER_PRIORITY;
    }
    if (spec__lookup(root, "globalDefault", &v, &kp) && !spec__is_null(v))
        spec__get_bool(c, v, kp, "globalDefault", &pc->global_default);
    if (spec__lookup(root, "description", &v, &kp) && !spec__is_null(v))
        spec__get_str(c, v, kp, "description", &pc->description);
    o->u.priority_class = pc;
    return true;
}

void spec_priority_class_free(spec_priority_class *pc) {
    if (!pc) return;
    spec__meta_free(&pc->meta);
    free(pc->description);
    free(pc);
}

/* ---- Node and NodePool ---------------------------------------------------------------- */

static const char *const NODE_FIELDS[] = {"capacity", "taints", NULL};
static const char *const NODE_POOL_FIELDS[] = {"count", "namePrefix", "capacity", "taints", NULL};

/* capacity (required) and taints of a Node or NodePool spec. */
static void node_body(spec__ctx *c, struct fy_node *spec, spec_pos sp, const char *kind, const spec_meta *m,
                      spec_resources *cap, spec_taint **taints, size_t *ntaints) {
    struct fy_node *v;
    spec_pos kp;
    char *w = who(kind, m);
    if (!spec__lookup(spec, "capacity", &v, &kp) || spec__is_null(v)) {
        spec__err(c, spec__pos(spec, sp), "missing required field \"spec.capacity\" in %s (cpu, memory, ...)", w);
    } else {
        char *where_keys = mp_xasprintf("in spec.capacity of %s", w);
        char *where = mp_xasprintf("in %s", w);
        spec__decode_resources(c, v, kp, "spec.capacity", where_keys, where, cap);
        free(where_keys);
        free(where);
    }
    if (spec__lookup(spec, "taints", &v, &kp)) spec__decode_taints(c, v, kp, "spec.taints", taints, ntaints);
    free(w);
}

bool spec__decode_node(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                       spec_pos sp, spec_object *o) {
    (void)root, (void)rp;
    spec_node *n = mp_xcalloc(1, sizeof *n);
    take_meta(&n->meta, meta);
    if (spec__open_map(c, spec, sp, "spec", NODE_FIELDS))
        node_body(c, spec, sp, "Node", &n->meta, &n->capacity, &n->taints, &n->ntaints);
    o->u.node = n;
    return true;
}

void spec_node_free(spec_node *n) {
    if (!n) return;
    spec__meta_free(&n->meta);
    spec__resources_free(&n->capacity);
    spec__taints_free(n->taints, n->ntaints);
    free(n);
}

/* namePrefix + index must be a DNS label for every index. */
static void check_prefix(spec__ctx *c, spec_pos at, spec_node_pool *np) {
    char last[32];
    snprintf(last, sizeof last, "%d", np->count > 0 ? np->count - 1 : 0);
    char *first = mp_xasprintf("%s0", np->name_prefix);
    size_t longest = strlen(np->name_prefix) + strlen(last);
    if (!spec__is_dns_label(first) || longest > 63)
        spec__err(c, at,
                  "namePrefix \"%s\" does not make valid node names (\"%s\" .. \"%s%s\"): use lowercase letters, "
                  "digits and '-', starting with a letter or digit, at most 63 characters with the index",
                  np->name_prefix, first, np->name_prefix, last);
    free(first);
}

bool spec__decode_node_pool(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                            spec_pos sp, spec_object *o) {
    (void)root, (void)rp;
    spec_node_pool *np = mp_xcalloc(1, sizeof *np);
    take_meta(&np->meta, meta);
    o->u.node_pool = np;
    np->count = 1;
    if (!spec__open_map(c, spec, sp, "spec", NODE_POOL_FIELDS)) return true;
    struct fy_node *v;
    spec_pos kp, prefix_at = spec__pos(spec, sp);
    long long n;
    if (!spec__lookup(spec, "count", &v, &kp) || spec__is_null(v))
        spec__err(c, spec__pos(spec, sp), "missing required field \"spec.count\" (how many nodes the pool has)");
    else if (spec__get_int(c, v, kp, "spec.count", 1, MAX_POOL_NODES, &n))
        np->count = (int)n;
    bool prefix_ok = true;
    if (spec__lookup(spec, "namePrefix", &v, &kp) && !spec__is_null(v)) {
        prefix_ok = spec__get_str(c, v, kp, "spec.namePrefix", &np->name_prefix);
        prefix_at = spec__pos(v, kp);
    }
    if (!np->name_prefix) np->name_prefix = mp_xasprintf("%s-", np->meta.name ? np->meta.name : "node");
    if (prefix_ok) check_prefix(c, prefix_at, np);
    node_body(c, spec, sp, "NodePool", &np->meta, &np->capacity, &np->taints, &np->ntaints);
    return true;
}

void spec_node_pool_free(spec_node_pool *np) {
    if (!np) return;
    spec__meta_free(&np->meta);
    free(np->name_prefix);
    spec__resources_free(&np->capacity);
    spec__taints_free(np->taints, np->ntaints);
    free(np);
}

size_t spec_file_nodes(const spec_file *f, spec_node_inst **out) {
    *out = NULL;
    size_t n = 0;
    for (size_t i = 0; f && i < f->nobjs; i++) {
        if (f->objs[i].kind == SPEC_KIND_NODE) n++;
        if (f->objs[i].kind == SPEC_KIND_NODE_POOL) n += (size_t)f->objs[i].u.node_pool->count;
    }
    if (!n) return 0;
    spec_node_inst *v = mp_xcalloc(n, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < f->nobjs; i++) {
        const spec_object *o = &f->objs[i];
        if (o->kind == SPEC_KIND_NODE) {
            const spec_node *nd = o->u.node;
            v[k++] = (spec_node_inst){mp_xstrdup(nd->meta.name ? nd->meta.name : ""), &nd->meta, &nd->capacity,
                                      nd->taints, nd->ntaints, NULL, 0};
        } else if (o->kind == SPEC_KIND_NODE_POOL) {
            const spec_node_pool *np = o->u.node_pool;
            for (int j = 0; j < np->count; j++)
                v[k++] = (spec_node_inst){mp_xasprintf("%s%d", np->name_prefix, j), &np->meta, &np->capacity,
                                          np->taints, np->ntaints, np, j};
        }
    }
    *out = v;
    return n;
}

void spec_node_insts_free(spec_node_inst *v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i].name);
    free(v);
}

/* ---- ResourceFlavor and LocalQueue ------------------------------------------------------ */

static const char *const FLAVOR_FIELDS[] = {"nodeLabels", NULL};

bool spec__decode_resource_flavor(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp,
                                  struct fy_node *spec, spec_pos sp, spec_object *o) {
    (void)root, (void)rp;
    spec_resource_flavor *rf = mp_xcalloc(1, sizeof *rf);
    take_meta(&rf->meta, meta);
    o->u.resource_flavor = rf;
    if (spec__is_null(spec) || !spec__open_map(c, spec, sp, "spec", FLAVOR_FIELDS)) return true;
    struct fy_node *v;
    spec_pos kp;
    if (spec__lookup(spec, "nodeLabels", &v, &kp) && !spec__is_null(v))
        spec__decode_string_map(c, v, kp, "spec.nodeLabels", &rf->node_labels, &rf->nnode_labels);
    return true;
}

void spec_resource_flavor_free(spec_resource_flavor *rf) {
    if (!rf) return;
    spec__meta_free(&rf->meta);
    spec_kv_array_free(rf->node_labels, rf->nnode_labels);
    free(rf);
}

static const char *const LOCAL_QUEUE_FIELDS[] = {"clusterQueue", NULL};

bool spec__decode_local_queue(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                              spec_pos sp, spec_object *o) {
    (void)root, (void)rp;
    spec_local_queue *lq = mp_xcalloc(1, sizeof *lq);
    take_meta(&lq->meta, meta);
    o->u.local_queue = lq;
    if (!spec__open_map(c, spec, sp, "spec", LOCAL_QUEUE_FIELDS)) return true;
    struct fy_node *v;
    spec_pos kp;
    if (!spec__lookup(spec, "clusterQueue", &v, &kp) || spec__is_null(v)) {
        spec__err(c, spec__pos(spec, sp), "missing required field \"spec.clusterQueue\" (the ClusterQueue it feeds)");
    } else if (spec__get_str(c, v, kp, "spec.clusterQueue", &lq->cluster_queue) &&
               !spec__is_dns_label(lq->cluster_queue)) {
        spec__err(c, spec__pos(v, kp),
                  "spec.clusterQueue \"%s\" is not a valid name: use lowercase letters, digits and '-', starting and "
                  "ending with a letter or digit, at most 63 characters",
                  lq->cluster_queue);
    }
    return true;
}

void spec_local_queue_free(spec_local_queue *lq) {
    if (!lq) return;
    spec__meta_free(&lq->meta);
    free(lq->cluster_queue);
    free(lq);
}

/* ---- file-wide rules -------------------------------------------------------------------- */

static const char *name_of(const spec_object *o) {
    const char *n = spec_object_meta(o)->name;
    return n ? n : "?";
}

typedef struct node_ref {
    const char *name;
    size_t obj; /* index in f->objs */
} node_ref;

static int node_ref_cmp(const void *a, const void *b) {
    const node_ref *x = a, *y = b;
    int d = strcmp(x->name, y->name);
    if (d) return d;
    return x->obj < y->obj ? -1 : x->obj > y->obj;
}

/* Two objects that make a node of the same name: one diagnostic per pair, at the
 * later one (two Nodes of one name are already a duplicate Node). */
static void check_node_names(spec__ctx *c, const spec_file *f) {
    spec_node_inst *v;
    size_t n = spec_file_nodes(f, &v);
    node_ref *refs = mp_xcalloc(n ? n : 1, sizeof *refs);
    size_t k = 0;
    for (size_t i = 0; i < f->nobjs; i++) {
        const spec_object *o = &f->objs[i];
        size_t cnt = o->kind == SPEC_KIND_NODE ? 1 : o->kind == SPEC_KIND_NODE_POOL ? (size_t)o->u.node_pool->count : 0;
        for (size_t j = 0; j < cnt; j++, k++) refs[k] = (node_ref){v[k].name, i};
    }
    qsort(refs, n, sizeof *refs, node_ref_cmp);
    size_t *pairs = NULL, npairs = 0; /* reported (first, second) object pairs */
    for (size_t i = 1; i < n; i++) {
        const node_ref *a = &refs[i - 1], *b = &refs[i];
        if (!*a->name || strcmp(a->name, b->name) != 0 || a->obj == b->obj) continue;
        const spec_object *oa = &f->objs[a->obj], *ob = &f->objs[b->obj];
        if (oa->kind == SPEC_KIND_NODE && ob->kind == SPEC_KIND_NODE) continue;
        bool seen = false;
        for (size_t p = 0; p < npairs && !seen; p++) seen = pairs[2 * p] == a->obj && pairs[2 * p + 1] == b->obj;
        if (seen) continue;
        pairs = mp_xrealloc(pairs, (npairs + 1) * 2 * sizeof *pairs);
        pairs[2 * npairs] = a->obj;
        pairs[2 * npairs + 1] = b->obj;
        npairs++;
        spec__err(c, ob->pos,
                  "node name \"%s\" of %s \"%s\" is also a node of %s \"%s\" (line %d); node names must be unique",
                  b->name, spec_kind_name(ob->kind), name_of(ob), spec_kind_name(oa->kind), name_of(oa), oa->pos.line);
    }
    free(pairs);
    free(refs);
    spec_node_insts_free(v, n);
}

static void check_global_default(spec__ctx *c, const spec_file *f) {
    const spec_object *first = NULL;
    for (size_t i = 0; i < f->nobjs; i++) {
        const spec_object *o = &f->objs[i];
        if (o->kind != SPEC_KIND_PRIORITY_CLASS || !o->u.priority_class->global_default) continue;
        if (!first) {
            first = o;
            continue;
        }
        spec__err(c, o->pos, "PriorityClass \"%s\" is globalDefault but so is \"%s\" (line %d); at most one may be",
                  name_of(o), name_of(first), first->pos.line);
    }
}

void spec__validate_file(spec__ctx *c, const spec_file *f) {
    check_node_names(c, f);
    check_global_default(c, f);
}
