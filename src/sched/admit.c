/* admit.c — the admission cycle (sched_cycle in sched.h): one pass over every
 * pending workload, deciding for each ADMIT, PREEMPT or WAIT, deterministically
 * and without the clock (see docs/scheduler.md, "Admission cycle").
 *
 * The pass:
 *   1. derive what every node and every ClusterQueue holds from the admitted
 *      workloads (admit_nodes.c, admit_quota.c);
 *   2. put pending workloads in lanes, one per ClusterQueue (plus one for
 *      workloads without a queue and one for unknown queues), each sorted by
 *      priority, age and index; a heap orders the lanes by their queue's fair
 *      share, then their head workload. The next workload decided is the head of
 *      the first lane; after each decision the shares that changed are updated
 *      and their lanes moved in the heap — O(log lanes) per decision;
 *   3. decide it (decide() below) and let the decision's effect stand for the
 *      rest of the cycle: an admitted workload holds its nodes and quota, a
 *      preemptor the room its victims leave.
 *
 * Memory: everything is owned by the sched__cycle and freed before returning,
 * except the decisions, which are the caller's. */
#include "sched/admit_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *s0(const char *s) { return s ? s : ""; }

/* ---- small helpers ----------------------------------------------------------------- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ^ (h >> 29);
}

int sched__map_get(const sched__map *m, const char *key) {
    if (!m->cap) return -1;
    for (size_t i = hash_str(key) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (strcmp(m->keys[i], key) == 0) return m->vals[i];
    return -1;
}

static void map_grow(sched__map *m) {
    sched__map g = {.cap = m->cap ? 2 * m->cap : 64, .n = m->n};
    g.keys = mp_xcalloc(g.cap, sizeof *g.keys);
    g.vals = mp_xcalloc(g.cap, sizeof *g.vals);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = hash_str(m->keys[i]) & (g.cap - 1);
        while (g.keys[j]) j = (j + 1) & (g.cap - 1);
        g.keys[j] = m->keys[i];
        g.vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    *m = g;
}

int sched__map_put(sched__map *m, const char *key, int val) {
    if ((m->n + 1) * 2 > m->cap) map_grow(m);
    size_t i = hash_str(key) & (m->cap - 1);
    for (; m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (strcmp(m->keys[i], key) == 0) return m->vals[i];
    m->keys[i] = mp_xstrdup(key);
    m->vals[i] = val;
    m->n++;
    return val;
}

void sched__map_free(sched__map *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

int64_t sched__sat_add(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

int64_t sched__sat_mul(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

int sched__rid(sched__cycle *cy, const char *name) {
    if (strcmp(name, "gpu") == 0) name = "nvidia.com/gpu";
    int id = sched__map_put(&cy->res_map, name, cy->nres);
    if (id == cy->nres) {
        if (cy->nres == cy->res_cap) {
            cy->res_cap = cy->res_cap ? 2 * cy->res_cap : 16;
            cy->res_name = mp_xrealloc(cy->res_name, (size_t)cy->res_cap * sizeof *cy->res_name);
        }
        cy->res_name[cy->nres++] = mp_xstrdup(name);
    }
    return id;
}

void sched__fmt_amount(int rid, int64_t v, char *out, size_t n) {
    const int64_t mi = 1024 * 1024, gi = mi * 1024;
    if (rid == SCHED__CPU && v % 1000 != 0) snprintf(out, n, "%lldm", (long long)v);
    else if (rid == SCHED__CPU) snprintf(out, n, "%lld", (long long)(v / 1000));
    else if (rid != SCHED__MEM || v == 0) snprintf(out, n, "%lld", (long long)v);
    else if (v % gi == 0) snprintf(out, n, "%lldGi", (long long)(v / gi));
    else if (v % mi == 0) snprintf(out, n, "%lldMi", (long long)(v / mi));
    else if (v >= gi) snprintf(out, n, "%.1fGi", (double)v / (double)gi);
    else if (v >= mi) snprintf(out, n, "%.1fMi", (double)v / (double)mi);
    else snprintf(out, n, "%lld bytes of", (long long)v);
}

void sched__touch(sched__cycle *cy, int q) {
    if (q < 0 || cy->q[q].touched) return;
    cy->q[q].touched = true;
    cy->touched[cy->ntouched++] = q;
}

const char *sched__id(const sched__cycle *cy, size_t w) { return s0(cy->w[w].id); }

void sched__put_victims(sched__cycle *cy, mp_buf *b, const size_t *v, size_t n, bool prio) {
    for (size_t i = 0; i < n && i < SCHED__NAMES; i++) {
        mp_buf_printf(b, "%s%s", i ? ", " : "", sched__id(cy, v[i]));
        if (prio) mp_buf_printf(b, " (priority %d)", (int)cy->w[v[i]].priority);
    }
    if (n > SCHED__NAMES) mp_buf_printf(b, " and %zu more", n - SCHED__NAMES);
}

/* ---- workloads ----------------------------------------------------------------- */

/* Reads a request into r: NULL, or why it is malformed (heap: "a gang must have ..."). */
static char *req_read(sched__cycle *cy, const sched_pod_req *pr, sched__req *r) {
    memset(r, 0, sizeof *r);
    const sched_res *q = &pr->requests;
    if (pr->gang < 0 || pr->gang > SCHED_GANG_MAX)
        return mp_xasprintf("a gang must have 0 to %d workers, not %d", SCHED_GANG_MAX, pr->gang);
    if (q->cpu_milli < 0 || q->memory_bytes < 0 || q->gpu < 0 || q->next < 0 || q->next > SCHED_EXT_MAX)
        return mp_xstrdup("a negative amount or a malformed list of extended resources");
    if ((pr->nnode_selector && !pr->node_selector) || (pr->ntolerations && !pr->tolerations))
        return mp_xstrdup("its nodeSelector or tolerations are missing");
    const int64_t fixed[3] = {q->cpu_milli, q->memory_bytes, q->gpu};
    for (int k = 0; k < 3; k++)
        if (fixed[k] > 0) r->rid[r->n] = k, r->amt[r->n++] = fixed[k];
    for (int i = 0; i < q->next; i++) {
        const char *name = q->ext[i].name;
        if (q->ext[i].count < 0 || !name[0] || !memchr(name, 0, sizeof q->ext[i].name))
            return mp_xstrdup("a negative amount or a malformed extended resource");
        if (q->ext[i].count == 0) continue;
        int rid = sched__rid(cy, name);
        for (int k = 0; k < r->n; k++)
            if (r->rid[k] == rid) return mp_xasprintf("resource %s is given twice", name);
        int k = r->n++;
        for (; k > 0 && r->rid[k - 1] > rid; k--) r->rid[k] = r->rid[k - 1], r->amt[k] = r->amt[k - 1];
        r->rid[k] = rid;
        r->amt[k] = q->ext[i].count;
    }
    r->gang = pr->gang > 0 ? pr->gang : 1;
    return NULL;
}

static int intern_req(sched__cycle *cy, const sched__req *r) {
    char key[SCHED__ITEMS * 48 + 16];
    int len = 0;
    for (int k = 0; k < r->n; k++)
        len += snprintf(key + len, sizeof key - (size_t)len, "%d:%lld,", r->rid[k], (long long)r->amt[k]);
    snprintf(key + len, sizeof key - (size_t)len, "g%d", r->gang);
    int id = sched__map_put(&cy->req_map, key, cy->nreqs);
    if (id == cy->nreqs) {
        if (cy->nreqs == cy->reqs_cap) {
            cy->reqs_cap = cy->reqs_cap ? 2 * cy->reqs_cap : 64;
            cy->reqs = mp_xrealloc(cy->reqs, (size_t)cy->reqs_cap * sizeof *cy->reqs);
        }
        cy->reqs[cy->nreqs++] = *r;
    }
    return id;
}

static int intern_wshape(sched__cycle *cy, const sched__work *k) {
    char key[48];
    snprintf(key, sizeof key, "%d|%d|%d", k->queue, k->base, k->req_id);
    int id = sched__map_put(&cy->wshape_map, key, cy->nwshapes);
    if (id == cy->nwshapes) {
        if (cy->nwshapes == cy->wshapes_cap) {
            cy->wshapes_cap = cy->wshapes_cap ? 2 * cy->wshapes_cap : 64;
            cy->wshapes = mp_xrealloc(cy->wshapes, (size_t)cy->wshapes_cap * sizeof *cy->wshapes);
        }
        cy->wshapes[cy->nwshapes++] = (sched__wshape){0};
    }
    return id;
}

/* An admitted workload: its nodes and quota are held. */
static int hold_admitted(sched__cycle *cy, size_t j, mp_err *e) {
    const sched_workload *W = &cy->w[j];
    sched__work *k = &cy->wk[j];
    char *bad = req_read(cy, &W->req, &k->req);
    if (bad) {
        mp_err_set(e, MP_EINVAL, "admitted workload %s: invalid request: %s", s0(W->id), bad);
        free(bad);
        return MP_EINVAL;
    }
    if (!W->nodes) return mp_err_set(e, MP_EINVAL, "admitted workload %s names no nodes", s0(W->id));
    for (int g = 0; g < k->req.gang; g++)
        if (W->nodes[g] >= cy->nn)
            return mp_err_set(e, MP_EINVAL, "admitted workload %s names node index %zu, out of range (%zu nodes)",
                              s0(W->id), W->nodes[g], cy->nn);
    k->nodes = W->nodes;
    if (k->queue >= 0) sched__workload_parse(cy, k->queue, &k->req, W->flavors, &k->hold);
    unsigned mask = W->evicting ? 1u << SCHED__NOW : (1u << SCHED__NOW) | (1u << SCHED__FUT);
    sched__workload_nodes(cy, &k->req, k->nodes, 1, mask);
    sched__workload_usage(cy, &k->hold, 1, mask);
    k->holds = !W->evicting;
    k->leaving = W->evicting;
    if (W->evicting) cy->leaving[cy->nleaving++] = j;
    int64_t end = W->limit_ms > 0 ? sched__sat_add(W->started_ms, W->limit_ms) : cy->now;
    k->end_ms = end > cy->now ? end : cy->now; /* overdue: any moment now */
    return 0;
}

static int works_init(sched__cycle *cy, mp_err *e) {
    cy->wk = mp_xcalloc(cy->n + 1, sizeof *cy->wk);
    cy->leaving = mp_xmalloc((cy->n + 1) * sizeof *cy->leaving);
    for (size_t j = 0; j < cy->n; j++) {
        const sched_workload *W = &cy->w[j];
        sched__work *k = &cy->wk[j];
        k->queue = !W->cluster_queue || !W->cluster_queue[0] ? SCHED__NO_QUEUE : sched__queue_find(cy, W->cluster_queue);
        if (W->admitted) {
            int rc = hold_admitted(cy, j, e);
            if (rc) return rc;
            continue;
        }
        k->invalid = req_read(cy, &W->req, &k->req);
        if (k->invalid) continue;
        k->req_id = intern_req(cy, &k->req);
        k->base = sched__base(cy, W);
        k->wshape = intern_wshape(cy, k);
    }
    return 0;
}

/* ---- the order ----------------------------------------------------------------- */

typedef struct lanes {
    int nl;
    size_t **v;   /* pending workloads of each lane, in lane order */
    size_t *n, *head;
    int *heap, nh;
    int *pos;     /* of each lane in heap, -1 when out */
} lanes;

typedef struct okey {
    int32_t prio;
    int64_t created;
    size_t idx;
} okey;

static int cmp_okey(const void *a, const void *b) {
    const okey *x = a, *y = b;
    if (x->prio != y->prio) return x->prio > y->prio ? -1 : 1;
    if (x->created != y->created) return x->created < y->created ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int lane_of(const sched__cycle *cy, size_t j) {
    int q = cy->wk[j].queue;
    return q >= 0 ? q : q == SCHED__NO_QUEUE ? cy->nq : cy->nq + 1;
}

static bool lane_before(const sched__cycle *cy, const lanes *L, int a, int b) {
    int64_t sa = a < cy->nq ? cy->q[a].share : 0, sb = b < cy->nq ? cy->q[b].share : 0;
    if (sa != sb) return sa < sb;
    const sched_workload *x = &cy->w[L->v[a][L->head[a]]], *y = &cy->w[L->v[b][L->head[b]]];
    okey kx = {x->priority, x->created_ms, L->v[a][L->head[a]]}, ky = {y->priority, y->created_ms, L->v[b][L->head[b]]};
    return cmp_okey(&kx, &ky) < 0;
}

static void heap_swap(lanes *L, int i, int j) {
    int t = L->heap[i];
    L->heap[i] = L->heap[j];
    L->heap[j] = t;
    L->pos[L->heap[i]] = i;
    L->pos[L->heap[j]] = j;
}

static void heap_fix(const sched__cycle *cy, lanes *L, int i) {
    while (i > 0 && lane_before(cy, L, L->heap[i], L->heap[(i - 1) / 2])) {
        heap_swap(L, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < L->nh && lane_before(cy, L, L->heap[l], L->heap[m])) m = l;
        if (r < L->nh && lane_before(cy, L, L->heap[r], L->heap[m])) m = r;
        if (m == i) return;
        heap_swap(L, i, m);
        i = m;
    }
}

static void heap_remove(const sched__cycle *cy, lanes *L, int lane) {
    int i = L->pos[lane];
    heap_swap(L, i, L->nh - 1);
    L->nh--;
    L->pos[lane] = -1;
    if (i < L->nh) heap_fix(cy, L, i);
}

static size_t lanes_init(const sched__cycle *cy, lanes *L) {
    L->nl = cy->nq + 2;
    L->v = mp_xcalloc((size_t)L->nl, sizeof *L->v);
    L->n = mp_xcalloc((size_t)L->nl, sizeof *L->n);
    L->head = mp_xcalloc((size_t)L->nl, sizeof *L->head);
    L->heap = mp_xcalloc((size_t)L->nl, sizeof *L->heap);
    L->pos = mp_xcalloc((size_t)L->nl, sizeof *L->pos);
    size_t pending = 0;
    for (size_t j = 0; j < cy->n; j++)
        if (!cy->w[j].admitted) L->n[lane_of(cy, j)]++, pending++;
    okey **keys = mp_xcalloc((size_t)L->nl, sizeof *keys);
    size_t *fill = mp_xcalloc((size_t)L->nl, sizeof *fill);
    for (int l = 0; l < L->nl; l++) keys[l] = mp_xmalloc((L->n[l] + 1) * sizeof *keys[l]);
    for (size_t j = 0; j < cy->n; j++) {
        if (cy->w[j].admitted) continue;
        int l = lane_of(cy, j);
        keys[l][fill[l]++] = (okey){cy->w[j].priority, cy->w[j].created_ms, j};
    }
    for (int l = 0; l < L->nl; l++) {
        size_t m = L->n[l];
        qsort(keys[l], m, sizeof *keys[l], cmp_okey);
        L->v[l] = mp_xmalloc((m + 1) * sizeof *L->v[l]);
        for (size_t i = 0; i < m; i++) L->v[l][i] = keys[l][i].idx;
        free(keys[l]);
        L->pos[l] = -1;
        if (m) {
            L->heap[L->nh] = l;
            L->pos[l] = L->nh++;
            heap_fix(cy, L, L->nh - 1);
        }
    }
    free(keys);
    free(fill);
    return pending;
}

static void lanes_free(lanes *L) {
    for (int l = 0; l < L->nl; l++) free(L->v[l]);
    free(L->v);
    free(L->n);
    free(L->head);
    free(L->heap);
    free(L->pos);
}

/* ---- one decision -------------------------------------------------------------- */

/* It waits for what (SCHED_WAIT_*): why (heap, taken) in the shape of sched_why. */
static void wait_with(sched_decision *d, const char *what, char *why) {
    d->verdict = SCHED_WAIT;
    d->why = sched_why_take(what, why);
}

/* Every flavor combination (up to SCHED__COMBOS) for the groups r requests from q, the
 * first group's flavor varying slowest; 0 when a requested group has no flavor. */
static int combos_of(const sched__cycle *cy, int qi, const sched__req *r, sched__combo *out) {
    sched__combo cb = {0};
    if (qi < 0) {
        out[0] = cb;
        return 1;
    }
    const sched__queue *q = &cy->q[qi];
    for (int g = 0; g < q->ngroups; g++) {
        bool wanted = false;
        for (int k = 0; k < r->n && !wanted; k++) wanted = r->rid[k] < q->nrid && q->rid_group[r->rid[k]] == g;
        if (!wanted) continue;
        if (q->groups[g].nfl == 0) return 0;
        cb.g[cb.ng++] = g;
    }
    int n = 0;
    for (;;) {
        out[n++] = cb;
        if (n == SCHED__COMBOS) return n;
        int i = cb.ng - 1;
        for (; i >= 0; i--) {
            if (++cb.f[i] < q->groups[cb.g[i]].nfl) break;
            cb.f[i] = 0;
        }
        if (i < 0) return n;
    }
}

/* Why no flavor fits quota: each flavor of the first group where none does. */
static char *quota_why(sched__cycle *cy, int qi, const sched__req *r, const sched__combo *cb) {
    mp_buf b;
    mp_buf_init(&b);
    const sched__queue *q = &cy->q[qi];
    for (int i = 0; i < cb->ng && b.len == 0; i++) {
        int g = cb->g[i];
        bool any = false;
        for (int f = 0; f < q->groups[g].nfl && !any; f++) any = sched__group_fits(cy, qi, g, f, r, SCHED__EFF, NULL);
        if (any) continue;
        for (int f = 0; f < q->groups[g].nfl; f++) {
            if (f) mp_buf_puts(&b, "; ");
            sched__group_fits(cy, qi, g, f, r, SCHED__EFF, &b);
        }
    }
    if (b.len == 0) mp_buf_printf(&b, "no combination of queue %s's flavors fits its quota", q->name);
    return mp_buf_steal(&b);
}

static void admit(sched__cycle *cy, size_t j, const sched__hold *h, size_t *nodes, sched_decision *d) {
    sched__work *k = &cy->wk[j];
    k->holds = true;
    k->nodes = nodes;
    k->hold = *h;
    k->end_ms = cy->w[j].limit_ms > 0 ? sched__sat_add(cy->now, cy->w[j].limit_ms) : cy->now;
    sched__workload_nodes(cy, &k->req, nodes, 1, (1u << SCHED__NOW) | (1u << SCHED__FUT));
    sched__workload_usage(cy, h, 1, (1u << SCHED__NOW) | (1u << SCHED__FUT));
    cy->alloc_gen++;
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_puts(&b, "admitted to ");
    for (int g = 0; g < k->req.gang && g < SCHED__NAMES; g++)
        mp_buf_printf(&b, "%s%s", g ? "," : "", s0(cy->wn[nodes[g]].name));
    if (k->req.gang > SCHED__NAMES) mp_buf_printf(&b, " and %d more", k->req.gang - SCHED__NAMES);
    if (k->queue >= 0) {
        mp_buf_printf(&b, " (queue %s", cy->q[k->queue].name);
        sched__put_flavor_note(cy, &b, h, &d->borrows);
        mp_buf_putc(&b, ')');
    }
    if (cy->has_res) mp_buf_printf(&b, "; backfilled without delaying %s", sched__id(cy, cy->res_w));
    d->verdict = SCHED_ADMIT;
    d->nodes = nodes;
    d->flavors = k->queue >= 0 ? sched__flavors_text(cy, h) : mp_xstrdup("");
    d->why = mp_buf_steal(&b);
}

static void decide(sched__cycle *cy, size_t j, sched_decision *d) {
    const sched_workload *W = &cy->w[j];
    sched__work *k = &cy->wk[j];
    if (k->invalid) return wait_with(d, SCHED_WAIT_REQUEST, mp_xstrdup(k->invalid));
    if (k->queue == SCHED__UNKNOWN_QUEUE)
        return wait_with(d, SCHED_WAIT_CLUSTER_QUEUE,
                         mp_xasprintf("ClusterQueue %s is not applied; apply it with `mlplane apply -f FILE`",
                                      s0(W->cluster_queue)));
    const sched__queue *q = k->queue >= 0 ? &cy->q[k->queue] : NULL;
    const sched__req *r = &cy->reqs[k->req_id];
    if (q && q->inactive) return wait_with(d, SCHED_WAIT_FLAVOR, mp_xstrdup(q->inactive));
    for (int i = 0; q && i < r->n; i++)
        if (r->rid[i] >= q->nrid || q->rid_group[r->rid[i]] < 0)
            return wait_with(d, SCHED_WAIT_QUOTA,
                             mp_xasprintf("ClusterQueue %s has no quota for %s (no resourceGroup covers it)", q->name,
                                          cy->res_name[r->rid[i]]));
    sched__combo cbs[SCHED__COMBOS];
    int ncb = combos_of(cy, k->queue, r, cbs);
    if (ncb == 0)
        return wait_with(d, SCHED_WAIT_QUOTA, mp_xasprintf("ClusterQueue %s has no flavor for a resource it covers",
                                                           q->name));

    /* 1. fits quota and room now: the first such flavor combination */
    int first = -1, never = -1;
    sched__hold first_h = {0};
    bool delayed = false;
    for (int i = 0; i < ncb; i++) {
        sched__hold h = {0};
        if (q) sched__workload_of(cy, k->queue, r, &cbs[i], &h);
        if (!sched__workload_fits(cy, &h, SCHED__EFF, NULL)) continue;
        int sh = sched__shape_of(cy, sched__class_of(cy, k->base, q, &cbs[i]), k->req_id);
        if (!sched__shape_possible(cy, &cy->shapes[sh])) {
            if (never < 0) never = sh;
            continue;
        }
        if (first < 0) first = sh, first_h = h;
        if (!sched__shape_fits_eff(cy, &cy->shapes[sh])) continue;
        size_t *nodes = mp_xmalloc((size_t)r->gang * sizeof *nodes);
        if (sched__place(cy, &cy->shapes[sh], W, nodes) != 0) { /* counted as fitting: cannot happen */
            free(nodes);
            continue;
        }
        if (!sched__backfill_ok(cy, j, nodes, NULL, 0, true)) {
            delayed = true;
            free(nodes);
            continue;
        }
        return admit(cy, j, &h, nodes, d);
    }
    /* 2. fits once evicted workloads exit; 3. preemption */
    if (sched__wait_for_leaving(cy, j, cbs, ncb, d)) return;
    if (W->may_preempt && sched__preempt(cy, j, cbs, ncb, d, &delayed)) return;
    /* 4. waits */
    mp_buf b;
    mp_buf_init(&b);
    if (delayed) {
        sched__put_delay(cy, &b);
    } else if (first < 0 && never >= 0) {
        mp_buf_puts(&b, cy->shapes[never].never_why);
    } else if (first < 0) {
        mp_buf_free(&b);
        return wait_with(d, SCHED_WAIT_QUOTA, quota_why(cy, k->queue, r, &cbs[0]));
    } else {
        mp_buf_puts(&b, sched__shape_why(cy, &cy->shapes[first]));
        if (!cy->has_res) sched__reserve(cy, j, first, &first_h, &b);
    }
    wait_with(d, SCHED_WAIT_NODES, mp_buf_steal(&b));
}

/* ---- the cycle ----------------------------------------------------------------- */

static void cycle_free(sched__cycle *cy) {
    sched__nodes_free(cy);
    sched__queues_free(cy);
    for (size_t j = 0; cy->wk && j < cy->n; j++) {
        free(cy->wk[j].invalid);
        free(cy->wk[j].own_nodes);
    }
    free(cy->wk);
    free(cy->leaving);
    free(cy->by_victim_order);
    free(cy->base_of);
    free(cy->reqs);
    free(cy->wshapes);
    free(cy->touched);
    for (int i = 0; i < cy->nres; i++) free(cy->res_name[i]);
    free(cy->res_name);
    sched__map *maps[] = {&cy->res_map, &cy->base_map, &cy->class_map, &cy->req_map, &cy->shape_map,
                       &cy->wshape_map, &cy->queue_map, &cy->cohort_map, &cy->cfr_map};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) sched__map_free(maps[i]);
    mp_buf_free(&cy->buf);
}

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int check_args(const sched_cluster *c, const sched_workload *w, size_t n, mp_err *e) {
    if (!c) return mp_err_set(e, MP_EINVAL, "sched_cycle: no cluster");
    if ((n && !w) || (c->nnodes && !c->nodes) || (c->nqueues && !c->queues) || (c->nflavors && !c->flavors))
        return mp_err_set(e, MP_EINVAL, "sched_cycle: a count is given without its array");
    if (c->policy != SCHED_BINPACK && c->policy != SCHED_SPREAD)
        return mp_err_set(e, MP_EINVAL, "sched_cycle: unknown placement policy %d", (int)c->policy);
    return 0;
}

int sched_cycle(const sched_cluster *c, const sched_workload *w, size_t n, int64_t now_ms, sched_decision **out,
                size_t *nout, mp_err *e) {
    if (!out || !nout) return mp_err_set(e, MP_EINVAL, "sched_cycle: nowhere to put the decisions");
    *out = NULL;
    *nout = 0;
    int rc = check_args(c, w, n, e);
    if (rc) return rc;
    sched__cycle cy = {.c = c, .w = w, .n = n, .now = now_ms, .alloc_gen = 1, .release_gen = 1, .borrow_gen = 1};
    mp_buf_init(&cy.buf);
    sched__rid(&cy, "cpu");
    sched__rid(&cy, "memory");
    sched__rid(&cy, "nvidia.com/gpu");
    if ((rc = sched__nodes_init(&cy, e)) || (rc = sched__queues_init(&cy, e))) {
        cycle_free(&cy);
        return rc;
    }
    cy.touched = mp_xmalloc((size_t)(cy.nq + 1) * sizeof *cy.touched);
    if ((rc = works_init(&cy, e))) {
        cycle_free(&cy);
        return rc;
    }
    for (int i = 0; i < cy.nq; i++) {
        cy.q[i].touched = false;
        sched__share_update(&cy, i);
    }
    cy.ntouched = 0;
    sched__victim_order(&cy);
    lanes L = {0};
    size_t pending = lanes_init(&cy, &L);
    sched_decision *d = mp_xcalloc(pending + 1, sizeof *d);
    size_t nd = 0;
    while (L.nh > 0) {
        int lane = L.heap[0];
        size_t j = L.v[lane][L.head[lane]++];
        sched_decision *dj = &d[nd++];
        dj->workload = j;
        int64_t t0 = c->time_decisions ? mono_ns() : 0;
        decide(&cy, j, dj);
        if (!dj->why) dj->why = mp_xstrdup("");
        if (c->time_decisions) dj->ns = mono_ns() - t0;
        if (L.head[lane] == L.n[lane]) heap_remove(&cy, &L, lane);
        else heap_fix(&cy, &L, L.pos[lane]);
        for (int i = 0; i < cy.ntouched; i++) {
            int q = cy.touched[i];
            cy.q[q].touched = false;
            sched__share_update(&cy, q);
            if (L.pos[q] >= 0) heap_fix(&cy, &L, L.pos[q]);
        }
        cy.ntouched = 0;
    }
    lanes_free(&L);
    cycle_free(&cy);
    *out = d;
    *nout = nd;
    return 0;
}

void sched_decisions_free(sched_decision *d, size_t n) {
    if (!d) return;
    for (size_t i = 0; i < n; i++) {
        free(d[i].nodes);
        free(d[i].flavors);
        free(d[i].victims);
        free(d[i].why);
    }
    free(d);
}
