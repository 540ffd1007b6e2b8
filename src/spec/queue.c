/* queue.c — kind: ClusterQueue, Kueue's unit of quota.
 *
 *   spec:
 *     cohort: team-a                    # queues of a cohort lend and borrow unused quota
 *     resourceGroups:
 *     - coveredResources: [cpu, memory, nvidia.com/gpu]
 *       flavors:                         # tried in order
 *       - name: a100
 *         resources:
 *         - {name: cpu, nominalQuota: 64, borrowingLimit: 16, lendingLimit: 8}
 *         - ...                          # exactly the coveredResources
 *     preemption: {reclaimWithinCohort: Any, withinClusterQueue: LowerPriority}
 *     fairSharing: {weight: 2}
 *
 * Rules checked here, as Kueue does: each flavor lists exactly its group's
 * coveredResources, a resource is covered by one group only, a flavor appears once
 * per queue, quotas are valid quantities in the resource's unit, borrowing and
 * lending limits need a cohort, and lendingLimit is at most nominalQuota. Whether
 * the flavors exist is the scheduler's business (they may be in another file). */
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

static const char *const CQ_FIELDS[] = {"cohort", "resourceGroups", "preemption", "fairSharing", NULL};
static const char *const GROUP_FIELDS[] = {"coveredResources", "flavors", NULL};
static const char *const FLAVOR_FIELDS[] = {"name", "resources", NULL};
static const char *const QUOTA_FIELDS[] = {"name", "nominalQuota", "borrowingLimit", "lendingLimit", NULL};
static const char *const PREEMPTION_FIELDS[] = {"reclaimWithinCohort", "withinClusterQueue", NULL};
static const char *const FAIR_FIELDS[] = {"weight", NULL};
static const char *const RECLAIM[] = {"Never", "LowerPriority", "Any", NULL};
static const char *const WITHIN[] = {"Never", "LowerPriority", "LowerOrNewerEqualPriority", NULL};
static const char *const BUILTIN[] = {"cpu", "memory", "nvidia.com/gpu", "gpu", NULL};

/* A resource name at n: returns a heap copy ("gpu" becomes "nvidia.com/gpu") or
 * NULL after a diagnostic. */
static char *resource_name(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path) {
    char *s = NULL;
    if (!spec__get_str(c, n, at, path, &s)) return NULL;
    for (size_t i = 0; BUILTIN[i]; i++) {
        if (strcmp(s, BUILTIN[i]) == 0) {
            if (strcmp(s, "gpu") == 0) {
                free(s);
                s = mp_xstrdup("nvidia.com/gpu");
            }
            return s;
        }
    }
    const char *near = spec__closest(s, BUILTIN, 4);
    if (near)
        spec__err(c, spec__pos(n, at), "unknown resource \"%s\" in %s (did you mean \"%s\"?)", s, path, near);
    else if (!spec__is_extended_resource(s))
        spec__err(c, spec__pos(n, at),
                  "unknown resource \"%s\" in %s (known: cpu, memory, nvidia.com/gpu, or an extended resource such "
                  "as nvidia.com/mig-1g.10gb)",
                  s, path);
    else
        return s;
    free(s);
    return NULL;
}

static bool has_name(char *const *names, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return true;
    return false;
}

/* A quantity field of a quota: false when absent or after a diagnostic. */
static bool quota_qty(spec__ctx *c, struct fy_node *m, spec_pos at, const char *sub, const char *field,
                      const char *res, int64_t *out, spec_pos *where) {
    struct fy_node *v;
    spec_pos kp;
    if (!spec__lookup(m, field, &v, &kp) || spec__is_null(v)) return false;
    *where = kp;
    char *path = mp_xasprintf("%s.%s", sub, field);
    char *text = NULL;
    bool ok = false;
    if (spec__get_str(c, v, kp, path, &text)) {
        mp_err e;
        ok = spec_parse_quantity(text, res ? spec_resource_qty_kind(res) : SPEC_QTY_COUNT, out, &e) == 0;
        if (!ok) spec__err(c, spec__pos(v, kp), "field \"%s\": %s", path, e.msg);
    }
    (void)at;
    free(text);
    free(path);
    return ok;
}

typedef struct cq_dec {
    spec__ctx *c;
    spec_cluster_queue *cq;
    char **all_covered; /* over every group, borrowed */
    size_t nall;
    char **all_flavors; /* borrowed */
    size_t nflavors;
} cq_dec;

static bool decode_quota(cq_dec *d, struct fy_node *m, spec_pos at, const char *sub, spec_resource_quota *q) {
    spec__ctx *c = d->c;
    if (!spec__open_map(c, m, at, sub, QUOTA_FIELDS)) return false;
    q->pos = spec__pos(m, at);
    struct fy_node *v;
    spec_pos kp;
    char *path = mp_xasprintf("%s.name", sub);
    if (!spec__lookup(m, "name", &v, &kp) || spec__is_null(v))
        spec__err(c, q->pos, "missing required field \"%s\"", path);
    else
        q->name = resource_name(c, v, kp, path);
    free(path);
    spec_pos np = q->pos, bp, lp;
    bool ok = q->name != NULL;
    if (!quota_qty(c, m, at, sub, "nominalQuota", q->name, &q->nominal, &np)) {
        if (!spec__lookup(m, "nominalQuota", &v, &kp) || spec__is_null(v))
            spec__err(c, q->pos, "missing required field \"%s.nominalQuota\"", sub);
        ok = false;
    }
    q->has_borrowing_limit = quota_qty(c, m, at, sub, "borrowingLimit", q->name, &q->borrowing_limit, &bp);
    q->has_lending_limit = quota_qty(c, m, at, sub, "lendingLimit", q->name, &q->lending_limit, &lp);
    if (!d->cq->cohort) {
        if (q->has_borrowing_limit)
            spec__err(c, bp, "%s.borrowingLimit needs spec.cohort: a queue outside a cohort cannot borrow", sub);
        if (q->has_lending_limit)
            spec__err(c, lp, "%s.lendingLimit needs spec.cohort: a queue outside a cohort cannot lend", sub);
    }
    if (ok && q->has_lending_limit && q->lending_limit > q->nominal)
        spec__err(c, lp, "%s.lendingLimit is above nominalQuota; a queue can lend at most its nominal quota", sub);
    return ok;
}

static void decode_flavor(cq_dec *d, spec_resource_group *g, struct fy_node *m, spec_pos at, const char *sub,
                          spec_flavor_quotas *fl) {
    spec__ctx *c = d->c;
    if (!spec__open_map(c, m, at, sub, FLAVOR_FIELDS)) return;
    fl->pos = spec__pos(m, at);
    struct fy_node *v;
    spec_pos kp;
    char *path = mp_xasprintf("%s.name", sub);
    if (!spec__lookup(m, "name", &v, &kp) || spec__is_null(v)) {
        spec__err(c, fl->pos, "missing required field \"%s\"", path);
    } else if (spec__get_str(c, v, kp, path, &fl->name)) {
        if (!spec__is_dns_label(fl->name))
            spec__err(c, spec__pos(v, kp), "flavor name \"%s\" in %s is not a valid ResourceFlavor name", fl->name,
                      path);
        else if (has_name(d->all_flavors, d->nflavors, fl->name))
            spec__err(c, spec__pos(v, kp), "flavor \"%s\" appears twice in ClusterQueue \"%s\"", fl->name,
                      d->cq->meta.name ? d->cq->meta.name : "?");
        else
            d->all_flavors[d->nflavors++] = fl->name;
    }
    free(path);
    path = mp_xasprintf("%s.resources", sub);
    if (!spec__lookup(m, "resources", &v, &kp) || spec__is_null(v)) {
        spec__err(c, fl->pos, "missing required field \"%s\" (one quota per covered resource)", path);
        free(path);
        return;
    }
    if (!spec__expect(c, v, kp, path, FYNT_SEQUENCE)) {
        free(path);
        return;
    }
    fl->resources = mp_xcalloc((size_t)fy_node_sequence_item_count(v) + 1, sizeof *fl->resources);
    void *it = NULL;
    struct fy_node *item;
    bool complete = true; /* every item decoded: only then are missing resources worth naming */
    for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
        char *qs = mp_xasprintf("%s[%d]", path, i);
        spec_resource_quota q = {0};
        bool ok = decode_quota(d, item, kp, qs, &q);
        complete = complete && ok;
        if (q.name && !has_name(g->covered, g->ncovered, q.name)) {
            spec__err(c, q.pos, "resource \"%s\" of flavor \"%s\" is not in the group's coveredResources", q.name,
                      fl->name ? fl->name : "?");
            ok = false;
        }
        for (size_t j = 0; q.name && j < fl->nresources && ok; j++) {
            if (strcmp(fl->resources[j].name, q.name) == 0) {
                spec__err(c, q.pos, "resource \"%s\" is listed twice in %s", q.name, path);
                ok = false;
            }
        }
        if (ok)
            fl->resources[fl->nresources++] = q;
        else
            free(q.name);
        free(qs);
    }
    for (size_t j = 0; j < g->ncovered && complete; j++) {
        bool found = false;
        for (size_t k = 0; k < fl->nresources && !found; k++) found = strcmp(fl->resources[k].name, g->covered[j]) == 0;
        if (!found)
            spec__err(c, fl->pos,
                      "flavor \"%s\" has no quota for \"%s\"; each flavor lists exactly the coveredResources",
                      fl->name ? fl->name : "?", g->covered[j]);
    }
    free(path);
}

static void decode_covered(cq_dec *d, struct fy_node *v, spec_pos kp, const char *path, spec_resource_group *g) {
    spec__ctx *c = d->c;
    if (!spec__expect(c, v, kp, path, FYNT_SEQUENCE)) return;
    size_t n = (size_t)fy_node_sequence_item_count(v);
    if (!n) spec__err(c, kp, "field \"%s\" must not be empty", path);
    g->covered = mp_xcalloc(n + 1, sizeof *g->covered);
    void *it = NULL;
    struct fy_node *item;
    for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
        char *sub = mp_xasprintf("%s[%d]", path, i);
        char *name = resource_name(c, item, kp, sub);
        if (name && has_name(g->covered, g->ncovered, name)) {
            spec__err(c, spec__pos(item, kp), "resource \"%s\" is listed twice in %s", name, path);
        } else if (name) {
            /* Kept in the group even when another covers it too, so that its flavors are not
             * also reported for listing it. */
            if (has_name(d->all_covered, d->nall, name)) {
                spec__err(c, spec__pos(item, kp), "resource \"%s\" is already covered by another resource group",
                          name);
            } else {
                d->all_covered = mp_xrealloc(d->all_covered, (d->nall + 1) * sizeof *d->all_covered);
                d->all_covered[d->nall++] = name;
            }
            g->covered[g->ncovered++] = name;
            name = NULL;
        }
        free(name);
        free(sub);
    }
}

static void decode_group(cq_dec *d, struct fy_node *m, spec_pos at, const char *sub, spec_resource_group *g) {
    spec__ctx *c = d->c;
    if (!spec__open_map(c, m, at, sub, GROUP_FIELDS)) return;
    g->pos = spec__pos(m, at);
    struct fy_node *v;
    spec_pos kp;
    char *path = mp_xasprintf("%s.coveredResources", sub);
    if (!spec__lookup(m, "coveredResources", &v, &kp) || spec__is_null(v))
        spec__err(c, g->pos, "missing required field \"%s\"", path);
    else
        decode_covered(d, v, kp, path, g);
    free(path);
    path = mp_xasprintf("%s.flavors", sub);
    if (!spec__lookup(m, "flavors", &v, &kp) || spec__is_null(v)) {
        spec__err(c, g->pos, "missing required field \"%s\" (at least one flavor)", path);
    } else if (spec__expect(c, v, kp, path, FYNT_SEQUENCE)) {
        size_t n = (size_t)fy_node_sequence_item_count(v);
        if (!n) spec__err(c, kp, "field \"%s\" must not be empty (at least one flavor)", path);
        g->flavors = mp_xcalloc(n + 1, sizeof *g->flavors);
        d->all_flavors = mp_xrealloc(d->all_flavors, (d->nflavors + n + 1) * sizeof *d->all_flavors);
        void *it = NULL;
        struct fy_node *item;
        for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
            char *fs = mp_xasprintf("%s[%d]", path, i);
            decode_flavor(d, g, item, kp, fs, &g->flavors[g->nflavors++]);
            free(fs);
        }
    }
    free(path);
}

static void decode_preemption(spec__ctx *c, struct fy_node *m, spec_pos at, spec_cluster_queue *cq) {
    if (!spec__open_map(c, m, at, "spec.preemption", PREEMPTION_FIELDS)) return;
    struct fy_node *v;
    spec_pos kp;
    int x;
    if (spec__lookup(m, "reclaimWithinCohort", &v, &kp) && !spec__is_null(v) &&
        (x = spec__get_enum(c, v, kp, "spec.preemption.reclaimWithinCohort", RECLAIM)) >= 0)
        cq->reclaim_within_cohort = (spec_reclaim_policy)x;
    if (spec__lookup(m, "withinClusterQueue", &v, &kp) && !spec__is_null(v) &&
        (x = spec__get_enum(c, v, kp, "spec.preemption.withinClusterQueue", WITHIN)) >= 0)
        cq->within_cluster_queue = (spec_within_queue_policy)x;
}

static void decode_fair_sharing(spec__ctx *c, struct fy_node *m, spec_pos at, spec_cluster_queue *cq) {
    if (!spec__open_map(c, m, at, "spec.fairSharing", FAIR_FIELDS)) return;
    int64_t w;
    spec_pos wp;
    /* A quantity read as millis: "1" is 1000, "0.5" and "500m" are 500. */
    if (quota_qty(c, m, at, "spec.fairSharing", "weight", "cpu", &w, &wp)) cq->fair_weight_milli = w;
}

bool spec__decode_cluster_queue(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp,
                                struct fy_node *spec, spec_pos sp, spec_object *o) {
    (void)root, (void)rp;
    spec_cluster_queue *cq = mp_xcalloc(1, sizeof *cq);
    cq->meta = *meta;
    memset(meta, 0, sizeof *meta);
    cq->fair_weight_milli = 1000;
    o->u.cluster_queue = cq;
    if (!spec__open_map(c, spec, sp, "spec", CQ_FIELDS)) return true;
    struct fy_node *v;
    spec_pos kp;
    if (spec__lookup(spec, "cohort", &v, &kp) && !spec__is_null(v) &&
        spec__get_str(c, v, kp, "spec.cohort", &cq->cohort) && !spec__is_dns_label(cq->cohort))
        spec__err(c, spec__pos(v, kp),
                  "spec.cohort \"%s\" is not a valid name: use lowercase letters, digits and '-', starting and "
                  "ending with a letter or digit, at most 63 characters",
                  cq->cohort);
    if (spec__lookup(spec, "resourceGroups", &v, &kp) && !spec__is_null(v) &&
        spec__expect(c, v, kp, "spec.resourceGroups", FYNT_SEQUENCE)) {
        cq_dec d = {c, cq, NULL, 0, NULL, 0};
        cq->groups = mp_xcalloc((size_t)fy_node_sequence_item_count(v) + 1, sizeof *cq->groups);
        void *it = NULL;
        struct fy_node *item;
        for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
            char *sub = mp_xasprintf("spec.resourceGroups[%d]", i);
            decode_group(&d, item, kp, sub, &cq->groups[cq->ngroups++]);
            free(sub);
        }
        free(d.all_covered);
        free(d.all_flavors);
    }
    if (spec__lookup(spec, "preemption", &v, &kp) && !spec__is_null(v)) decode_preemption(c, v, kp, cq);
    if (spec__lookup(spec, "fairSharing", &v, &kp) && !spec__is_null(v)) decode_fair_sharing(c, v, kp, cq);
    return true;
}

void spec_cluster_queue_free(spec_cluster_queue *cq) {
    if (!cq) return;
    spec__meta_free(&cq->meta);
    free(cq->cohort);
    for (size_t i = 0; i < cq->ngroups; i++) {
        spec_resource_group *g = &cq->groups[i];
        for (size_t j = 0; j < g->ncovered; j++) free(g->covered[j]);
        free(g->covered);
        for (size_t j = 0; j < g->nflavors; j++) {
            spec_flavor_quotas *fl = &g->flavors[j];
            free(fl->name);
            for (size_t k = 0; k < fl->nresources; k++) free(fl->resources[k].name);
            free(fl->resources);
        }
        free(g->flavors);
    }
    free(cq->groups);
    free(cq);
}
