/* admit_preempt.c — what the admission cycle does for a workload that does not
 * fit now: wait for workloads already being evicted, preempt, or wait with a
 * backfill reservation; and the check that keeps later admissions from
 * delaying that reservation.
 *
 * All planning happens in the FUT view (admit_int.h): victims are taken out of
 * it and the preemptor's placement put in, while NOW keeps the victims (they
 * hold until they exit). So nothing admitted later in the cycle can take room a
 * victim still uses, nor room promised to a preemptor.
 *
 * Victims: candidates in one order (priority ascending, latest started first,
 * index), each taken only when it helps (holds quota the preemptor lacks, or a
 * worker on a node the preemptor may use), until quota and room both fit; then
 * every victim not needed is spared, highest first. The number of workers that
 * fit is updated per released node, so a search costs O(candidates + eligible
 * nodes), and a failed search is remembered (admit_int.h: sched__wshape) until
 * anything changes. */
#include "sched/admit_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vkey {
    int32_t prio;
    int64_t started;
    size_t idx;
} vkey;

static int cmp_vkey(const void *a, const void *b) {
    const vkey *x = a, *y = b;
    if (x->prio != y->prio) return x->prio < y->prio ? -1 : 1;
    if (x->started != y->started) return x->started > y->started ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void sched__victim_order(sched__cycle *cy) {
    vkey *v = mp_xmalloc((cy->n + 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < cy->n; i++) {
        if (!cy->w[i].admitted || cy->wk[i].leaving) continue;
        v[n++] = (vkey){cy->w[i].priority, cy->w[i].started_ms, i};
        int q = cy->wk[i].queue;
        if (q < 0) continue;
        if (!cy->q[q].has_admitted || cy->w[i].priority < cy->q[q].min_prio) cy->q[q].min_prio = cy->w[i].priority;
        cy->q[q].has_admitted = true;
    }
    qsort(v, n, sizeof *v, cmp_vkey);
    cy->by_victim_order = mp_xmalloc((n + 1) * sizeof *cy->by_victim_order);
    for (size_t i = 0; i < n; i++) {
        const sched__work *k = &cy->wk[v[i].idx];
        cy->by_victim_order[i] = (sched__cand){.idx = v[i].idx, .node0 = k->nodes[0], .prio = v[i].prio,
                                            .one = k->req.gang == 1};
        cy->wk[v[i].idx].cand = i;
    }
    cy->nvo = n;
    free(v);
}

static int64_t end_of(const sched__cycle *cy, size_t j) {
    int64_t lim = cy->w[j].limit_ms;
    return lim > 0 ? sched__sat_add(cy->now, lim) : cy->now;
}

/* j now holds h and nodes (owned) in FUT, for the rest of the cycle. */
static void promise(sched__cycle *cy, size_t j, const sched__hold *h, size_t *nodes) {
    sched__work *k = &cy->wk[j];
    k->holds = true;
    k->own_nodes = nodes;
    k->nodes = nodes;
    k->hold = *h;
    k->end_ms = end_of(cy, j);
    sched__workload_usage(cy, h, 1, 1u << SCHED__FUT);
    cy->alloc_gen++;
}

static bool on_nodes(const sched__cycle *cy, size_t v, const unsigned char *mark) {
    const sched__work *k = &cy->wk[v];
    for (int g = 0; g < k->req.gang; g++)
        if (mark[k->nodes[g]]) return true;
    return false;
}

/* Whether workload v holds quota of a cell of h (the same cell, or the same
 * flavor and resource of the cohort); with borrowing, only where v's queue borrows. */
static bool holds_related(const sched__cycle *cy, size_t v, const sched__hold *h, bool borrowing) {
    const sched__hold *vh = &cy->wk[v].hold;
    for (int i = 0; i < vh->n; i++) {
        const sched__cell *c = &cy->cells[vh->cell[i]];
        for (int j = 0; j < h->n; j++) {
            const sched__cell *d = &cy->cells[h->cell[j]];
            if (vh->cell[i] != h->cell[j] && (c->cfr < 0 || c->cfr != d->cfr)) continue;
            if (!borrowing || sched__cell_borrowing(cy, vh->cell[i], SCHED__FUT)) return true;
        }
    }
    return false;
}

/* ---- waiting for evicted workloads -------------------------------------------------- */

static void put_leaving_names(sched__cycle *cy, mp_buf *b, const size_t *plan, int gang, const sched__hold *h) {
    unsigned char *mark = mp_xcalloc(cy->nn + 1, 1);
    for (int g = 0; g < gang; g++) mark[plan[g]] = 1;
    size_t *names = mp_xmalloc((cy->nleaving + 1) * sizeof *names), nn = 0;
    for (size_t i = 0; i < cy->nleaving; i++)
        if (on_nodes(cy, cy->leaving[i], mark)) names[nn++] = cy->leaving[i];
    for (size_t i = 0; i < cy->nleaving && nn == 0; i++)
        if (holds_related(cy, cy->leaving[i], h, false)) names[nn++] = cy->leaving[i];
    if (nn) sched__put_victims(cy, b, names, nn, false);
    else sched__put_victims(cy, b, cy->leaving, cy->nleaving, false); /* none in particular: all that leave */
    free(names);
    free(mark);
}

bool sched__wait_for_leaving(sched__cycle *cy, size_t j, const sched__combo *cbs, int ncb, sched_decision *d) {
    if (cy->nleaving == 0) return false;
    sched__work *k = &cy->wk[j];
    const sched__req *r = &cy->reqs[k->req_id];
    for (int i = 0; i < ncb; i++) {
        sched__hold h = {0};
        if (k->queue >= 0) sched__workload_of(cy, k->queue, r, &cbs[i], &h);
        if (!sched__workload_fits(cy, &h, SCHED__FUT, NULL)) continue;
        int sh = sched__shape_of(cy, sched__class_of(cy, k->base, k->queue >= 0 ? &cy->q[k->queue] : NULL, &cbs[i]),
                              k->req_id);
        if (!sched__shape_possible(cy, &cy->shapes[sh])) continue;
        const sched__class *cl = &cy->cls[cy->shapes[sh].cls];
        if (sched__count(cy, cl, r, SCHED__FUT, r->gang) < r->gang) continue;
        size_t *plan = mp_xmalloc((size_t)r->gang * sizeof *plan);
        if (!sched__plan(cy, cl, r, NULL, 0, plan)) {
            free(plan);
            continue;
        }
        if (!sched__backfill_ok(cy, j, plan, NULL, 0, false)) {
            sched__workload_nodes(cy, r, plan, -1, 1u << SCHED__FUT);
            free(plan);
            continue;
        }
        promise(cy, j, &h, plan);
        mp_buf b;
        mp_buf_init(&b);
        put_leaving_names(cy, &b, plan, r->gang, &h);
        d->verdict = SCHED_WAIT;
        d->why = sched_why_take(SCHED_WAIT_EVICTED, mp_buf_steal(&b));
        return true;
    }
    return false;
}

/* ---- preemption ---------------------------------------------------------------- */

typedef struct search {
    size_t j;
    const sched__req *r;
    const sched__class *cl;
    const sched__hold *h;
    int64_t count; /* workers that fit in FUT with the victims so far gone */
} search;

/* Takes (sign -1) or gives back (1) victim v in FUT, keeping s->count; its quota
 * too when it is taken for quota (room victims do not free quota for the search:
 * quota is taken only as the queue's policies allow). */
static void flip(sched__cycle *cy, search *s, size_t v, int sign, bool quota) {
    const sched__work *k = &cy->wk[v];
    for (int g = 0; g < k->req.gang; g++) {
        size_t i = k->nodes[g];
        if (!s->cl->is_elig[i]) {
            sched__node_add(cy, i, &k->req, sign, 1u << SCHED__FUT);
            continue;
        }
        int64_t before = sched__node_share(cy, i, s->r, SCHED__FUT);
        sched__node_add(cy, i, &k->req, sign, 1u << SCHED__FUT);
        s->count += sched__node_share(cy, i, s->r, SCHED__FUT) - before;
    }
    if (quota) sched__workload_usage(cy, &k->hold, sign, 1u << SCHED__FUT);
}

static bool quota_ok(sched__cycle *cy, const search *s) { return sched__workload_fits(cy, s->h, SCHED__FUT, NULL); }

/* Whether the preemptor's policies let it take v for quota. */
static bool quota_candidate(sched__cycle *cy, const search *s, size_t v, bool nominal_ok) {
    const sched_workload *W = &cy->w[s->j], *V = &cy->w[v];
    int q = cy->wk[s->j].queue, vq = cy->wk[v].queue;
    if (q < 0 || vq < 0) return false;
    const spec_cluster_queue *cq = cy->q[q].cq;
    bool lower = V->priority < W->priority;
    if (vq == q) {
        bool ok = cq->within_cluster_queue == SPEC_WITHIN_LOWER_PRIORITY ? lower
                  : cq->within_cluster_queue == SPEC_WITHIN_LOWER_OR_NEWER_EQUAL_PRIORITY
                      ? lower || (V->priority == W->priority && V->created_ms > W->created_ms)
                      : false;
        return ok && holds_related(cy, v, s->h, false);
    }
    if (cy->q[q].cohort < 0 || cy->q[vq].cohort != cy->q[q].cohort || !nominal_ok) return false;
    if (cq->reclaim_within_cohort == SPEC_RECLAIM_NEVER) return false;
    if (cq->reclaim_within_cohort == SPEC_RECLAIM_LOWER_PRIORITY && !lower) return false;
    return holds_related(cy, v, s->h, true);
}

static void put_reason(sched__cycle *cy, mp_buf *b, const size_t *v, size_t nv, bool for_quota, int shape,
                       const sched__hold *h) {
    mp_buf_puts(b, "preempts ");
    sched__put_victims(cy, b, v, nv, true);
    if (for_quota) {
        mp_buf_puts(b, " to free quota");
        mp_buf why;
        mp_buf_init(&why);
        if (!sched__workload_fits(cy, h, SCHED__EFF, &why)) mp_buf_printf(b, "; %s", why.data);
        mp_buf_free(&why);
    } else {
        mp_buf_printf(b, " to make room; %s", sched__shape_why(cy, &cy->shapes[shape]));
    }
}

/* Whether any workload could be taken for quota by j (queue q, within its nominal
 * quota or not): a cheap bound that spares a search that cannot succeed. */
static bool quota_victims_possible(const sched__cycle *cy, size_t j, int q, bool nominal_ok) {
    const spec_cluster_queue *cq = cy->q[q].cq;
    int32_t p = cy->w[j].priority;
    const sched__queue *own = &cy->q[q];
    if (own->has_admitted && ((cq->within_cluster_queue == SPEC_WITHIN_LOWER_PRIORITY && own->min_prio < p) ||
                              (cq->within_cluster_queue == SPEC_WITHIN_LOWER_OR_NEWER_EQUAL_PRIORITY &&
                               own->min_prio <= p)))
        return true;
    if (!nominal_ok || own->cohort < 0 || cq->reclaim_within_cohort == SPEC_RECLAIM_NEVER) return false;
    for (int i = 0; i < cy->nq; i++) {
        const sched__queue *o = &cy->q[i];
        if (i == q || o->cohort != own->cohort || !o->has_admitted) continue;
        if (cq->reclaim_within_cohort == SPEC_RECLAIM_LOWER_PRIORITY && o->min_prio >= p) continue;
        for (int c = o->cell_lo; c < o->cell_hi; c++)
            if (sched__cell_borrowing(cy, c, SCHED__FUT)) return true;
    }
    return false;
}

/* One victim search for j with holding h on shape sh. */
static bool search_victims(sched__cycle *cy, size_t j, const sched__hold *h, bool qfit, int sh, sched_decision *d,
                           bool *delayed) {
    const sched_workload *W = &cy->w[j];
    const sched__work *k = &cy->wk[j];
    const sched__shape *shape = &cy->shapes[sh];
    search s = {.j = j, .r = &cy->reqs[shape->req], .cl = &cy->cls[shape->cls], .h = h};
    int q = k->queue;
    if (!qfit) {
        if (q < 0) return false;
        const spec_cluster_queue *cq = cy->q[q].cq;
        bool reclaim = cy->q[q].cohort >= 0 && cq->reclaim_within_cohort != SPEC_RECLAIM_NEVER;
        if (cq->within_cluster_queue == SPEC_WITHIN_NEVER && !reclaim) return false;
    }
    bool nominal_ok = q >= 0 && sched__workload_within_nominal(cy, h, SCHED__FUT);
    if (!qfit && !quota_victims_possible(cy, j, q, nominal_ok)) return false;
    cy->planning = true; /* usage moves back and forth: not a queue starting to borrow */
    int64_t gang = s.r->gang;
    for (size_t i = 0; i < s.cl->nelig; i++) s.count += sched__node_share(cy, s.cl->elig[i], s.r, SCHED__FUT);
    bool qok = qfit, nok = s.count >= gang;
    size_t *v = mp_xmalloc((cy->nvo + 1) * sizeof *v), nv = 0;
    bool *vq = mp_xmalloc((cy->nvo + 1) * sizeof *vq); /* taken for quota */
    for (size_t c = 0; c < cy->nvo && !(qok && nok); c++) {
        const sched__cand *cd = &cy->by_victim_order[c];
        if (cd->leaving) continue;
        bool lower = cd->prio < W->priority;
        if (qok && !lower) break; /* only room is missing: lower priorities only, and they come first */
        if (qok && cd->one && !s.cl->is_elig[cd->node0]) continue;
        size_t idx = cd->idx;
        bool for_quota = !qok && quota_candidate(cy, &s, idx, nominal_ok);
        bool for_room = !nok && (lower || for_quota) && on_nodes(cy, idx, s.cl->is_elig);
        if (!for_quota && !for_room) continue;
        flip(cy, &s, idx, -1, for_quota);
        vq[nv] = for_quota;
        v[nv++] = idx;
        if (!qok) qok = quota_ok(cy, &s);
        nok = s.count >= gang;
    }
    if (!(qok && nok)) {
        while (nv) nv--, flip(cy, &s, v[nv], 1, vq[nv]);
        cy->planning = false;
        free(vq);
        free(v);
        return false;
    }
    for (size_t i = nv; i-- > 0;) { /* spare those not needed, highest first */
        flip(cy, &s, v[i], 1, vq[i]);
        if (s.count >= gang && quota_ok(cy, &s)) v[i] = (size_t)-1;
        else flip(cy, &s, v[i], -1, vq[i]);
    }
    size_t m = 0;
    for (size_t i = 0; i < nv; i++)
        if (v[i] != (size_t)-1) vq[m] = vq[i], v[m++] = v[i];
    nv = m;
    size_t np = 0;
    for (size_t i = 0; i < nv; i++) np += (size_t)cy->wk[v[i]].req.gang;
    size_t *prefer = mp_xmalloc((np + 1) * sizeof *prefer); /* the plan goes where the victims leave room */
    np = 0;
    for (size_t i = 0; i < nv; i++)
        for (int g = 0; g < cy->wk[v[i]].req.gang; g++) prefer[np++] = cy->wk[v[i]].nodes[g];
    size_t *plan = mp_xmalloc((size_t)gang * sizeof *plan);
    bool planned = sched__plan(cy, s.cl, s.r, prefer, np, plan);
    free(prefer);
    if (planned && !sched__backfill_ok(cy, j, plan, v, nv, false)) {
        sched__workload_nodes(cy, s.r, plan, -1, 1u << SCHED__FUT);
        planned = false;
        *delayed = true;
    }
    if (!planned) {
        while (nv) nv--, flip(cy, &s, v[nv], 1, vq[nv]);
        cy->planning = false;
        free(plan);
        free(vq);
        free(v);
        return false;
    }
    for (size_t i = 0; i < nv; i++) /* every victim's quota is freed once it exits */
        if (!vq[i]) sched__workload_usage(cy, &cy->wk[v[i]].hold, -1, 1u << SCHED__FUT);
    free(vq);
    cy->planning = false;
    mp_buf b;
    mp_buf_init(&b);
    put_reason(cy, &b, v, nv, !qfit, sh, h);
    for (size_t i = 0; i < nv; i++) {
        sched__work *vk = &cy->wk[v[i]];
        vk->leaving = vk->victim = true;
        vk->holds = false;
        cy->by_victim_order[vk->cand].leaving = true;
        cy->leaving[cy->nleaving++] = v[i];
    }
    promise(cy, j, h, plan);
    cy->release_gen++;
    d->verdict = SCHED_PREEMPT;
    d->victims = v;
    d->nvictims = nv;
    d->why = sched_why_take(SCHED_WAIT_PREEMPTION, mp_buf_steal(&b));
    return true;
}

bool sched__preempt(sched__cycle *cy, size_t j, const sched__combo *cbs, int ncb, sched_decision *d, bool *delayed) {
    sched__work *k = &cy->wk[j];
    sched__wshape *ws = &cy->wshapes[k->wshape];
    int32_t prio = cy->w[j].priority;
    const sched__req *r = &cy->reqs[k->req_id];
    sched__hold h[SCHED__COMBOS];
    uint32_t mask = 0;
    for (int i = 0; i < ncb; i++) {
        h[i] = (sched__hold){0};
        if (k->queue >= 0) sched__workload_of(cy, k->queue, r, &cbs[i], &h[i]);
        if (sched__workload_fits(cy, &h[i], SCHED__FUT, NULL)) mask |= 1u << i;
    }
    bool same = ws->fail_release == cy->release_gen && ws->fail_borrow == cy->borrow_gen && ws->fail_mask == mask;
    if (same && prio <= ws->fail_prio) return false;
    bool was_delayed = *delayed;
    for (int pass = 0; pass < 2; pass++) { /* flavors that fit quota first, then the others */
        for (int i = 0; i < ncb; i++) {
            bool qfit = mask & (1u << i);
            if (qfit != (pass == 0)) continue;
            int sh = sched__shape_of(cy, sched__class_of(cy, k->base, k->queue >= 0 ? &cy->q[k->queue] : NULL, &cbs[i]),
                                  k->req_id);
            if (!sched__shape_possible(cy, &cy->shapes[sh])) continue;
            if (search_victims(cy, j, &h[i], qfit, sh, d, delayed)) return true;
        }
    }
    if (*delayed && !was_delayed) return false; /* not a failure to remember: the reason differs */
    ws->fail_prio = same && ws->fail_prio > prio ? ws->fail_prio : prio;
    ws->fail_release = cy->release_gen;
    ws->fail_borrow = cy->borrow_gen;
    ws->fail_mask = mask;
    return false;
}

/* ---- backfill ------------------------------------------------------------------ */

typedef struct ekey {
    int64_t end;
    size_t idx;
} ekey;

static int cmp_ekey(const void *a, const void *b) {
    const ekey *x = a, *y = b;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void sched__reserve(sched__cycle *cy, size_t j, int shape, const sched__hold *h, mp_buf *why) {
    if (cy->has_res) return;
    const sched__shape *s = &cy->shapes[shape];
    const sched__class *cl = &cy->cls[s->cls];
    const sched__req *r = &cy->reqs[s->req];
    sched__tview_init(cy);
    ekey *e = mp_xmalloc((cy->n + 1) * sizeof *e);
    size_t ne = 0;
    for (size_t i = 0; i < cy->n; i++) {
        cy->wk[i].in_t = cy->wk[i].holds;
        if (cy->wk[i].holds) e[ne++] = (ekey){cy->wk[i].end_ms, i};
    }
    qsort(e, ne, sizeof *e, cmp_ekey);
    int64_t count = 0;
    for (size_t i = 0; i < cl->nelig; i++) count += sched__tnode_share(cy, cl->elig[i], r);
    bool found = count >= r->gang;
    int64_t t = cy->now;
    for (size_t i = 0; i < ne && !found;) {
        int64_t end = e[i].end;
        for (; i < ne && e[i].end == end; i++) { /* every holding that ends then */
            sched__work *k = &cy->wk[e[i].idx];
            sched__req one = k->req;
            one.gang = 1;
            for (int g = 0; g < k->req.gang; g++) {
                size_t nd = k->nodes[g];
                int64_t before = cl->is_elig[nd] ? sched__tnode_share(cy, nd, r) : 0;
                sched__tview_add(cy, &one, &k->nodes[g], -1);
                if (cl->is_elig[nd]) count += sched__tnode_share(cy, nd, r) - before;
            }
            k->in_t = false;
        }
        if (count >= r->gang) {
            found = true;
            t = end > cy->now ? end : cy->now;
        }
    }
    free(e);
    if (!found) return;
    cy->has_res = true;
    cy->res_w = j;
    cy->res_shape = shape;
    cy->res_t = t;
    sched__workload_usage(cy, h, 1, 1u << SCHED__FUT); /* its quota waits for it too */
    int64_t secs = (t - cy->now + 999) / 1000;
    if (secs > 0) mp_buf_printf(why, "; first in line, expected to start in %lld s", (long long)secs);
    else mp_buf_puts(why, "; first in line");
}

bool sched__backfill_ok(sched__cycle *cy, size_t j, const size_t *nodes, const size_t *victims, size_t nvictims,
                     bool admit_now) {
    if (!cy->has_res) return true;
    const sched_workload *W = &cy->w[j];
    if (admit_now && W->limit_ms > 0 && sched__sat_add(cy->now, W->limit_ms) <= cy->res_t) return true;
    const sched__shape *s = &cy->shapes[cy->res_shape];
    const sched__req *r = &cy->reqs[s->req], *wr = &cy->wk[j].req;
    for (size_t i = 0; i < nvictims; i++) {
        const sched__work *v = &cy->wk[victims[i]];
        if (v->in_t) sched__tview_add(cy, &v->req, v->nodes, -1);
    }
    sched__tview_add(cy, wr, nodes, 1);
    if (sched__tcount(cy, &cy->cls[s->cls], r) >= r->gang) {
        for (size_t i = 0; i < nvictims; i++) cy->wk[victims[i]].in_t = false;
        cy->wk[j].in_t = true;
        return true;
    }
    sched__tview_add(cy, wr, nodes, -1);
    for (size_t i = 0; i < nvictims; i++) {
        const sched__work *v = &cy->wk[victims[i]];
        if (v->in_t) sched__tview_add(cy, &v->req, v->nodes, 1);
    }
    return false;
}

void sched__put_delay(sched__cycle *cy, mp_buf *b) {
    int64_t secs = (cy->res_t - cy->now + 999) / 1000;
    mp_buf_printf(b, "would delay %s ", sched__id(cy, cy->res_w));
    if (secs > 0) mp_buf_printf(b, "(reserved to start in %lld s)", (long long)secs);
    else mp_buf_puts(b, "(reserved to start next)");
}
