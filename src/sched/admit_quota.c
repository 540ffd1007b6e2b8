/* admit_quota.c — quotas for the admission cycle: ClusterQueues, their resource
 * groups and flavors, cohorts, what each queue uses (in the NOW and FUT views
 * of admit_int.h), whether a request fits, why not, and fair share.
 *
 * The model is Kueue's. A cell is one (flavor, resource) of a queue with its
 * nominalQuota, borrowingLimit and lendingLimit. Queues of a cohort pool what
 * they can lend: a cell's lendable amount is its lendingLimit (or all its
 * nominal quota without one); the rest of its nominal quota (its guaranteed
 * part) is never lent. Cells of the cohort with the same flavor and resource
 * share a pool: the sum of their lendable amounts. A queue's usage beyond its
 * guaranteed part comes out of the pool, so
 *     fits  <=>  sum over the cohort's cells of max(0, usage - guaranteed) <= pool
 *                and usage <= nominal + borrowingLimit (when set).
 * Without lending limits this is "the cohort's total usage stays within its
 * total nominal quota": a queue may borrow what others leave unused, and a
 * queue's own nominal quota is available to it only while others do not borrow
 * it (reclaiming it is preemption's job). A queue without a cohort has its
 * nominal quota and nothing more.
 *
 * Fair share (Kueue's dominant resource share): for each cell, what the queue
 * borrows (usage over nominal) divided by the cohort's pool; the largest, divided
 * by the queue's weight. Kept in parts per million so that equal shares compare
 * equal. */
#include "sched/admit_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s0(const char *s) { return s ? s : ""; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t sub0(int64_t a, int64_t b) { return a > b ? a - b : 0; }

/* ---- setup --------------------------------------------------------------------- */

static int flavor_index(const sched__cycle *cy, const char *name) {
    for (size_t i = 0; i < cy->c->nflavors; i++)
        if (cy->c->flavors[i] && strcmp(s0(cy->c->flavors[i]->meta.name), s0(name)) == 0) return (int)i;
    return -1;
}

static int add_cell(sched__cycle *cy) {
    if (cy->ncells == cy->cells_cap) {
        cy->cells_cap = cy->cells_cap ? 2 * cy->cells_cap : 32;
        cy->cells = mp_xrealloc(cy->cells, (size_t)cy->cells_cap * sizeof *cy->cells);
    }
    memset(&cy->cells[cy->ncells], 0, sizeof cy->cells[0]);
    return cy->ncells++;
}

static const spec_resource_quota *quota_of(const spec_flavor_quotas *fq, const char *res) {
    for (size_t i = 0; i < fq->nresources; i++) {
        const char *n = s0(fq->resources[i].name);
        if (strcmp(n, res) == 0 || (strcmp(n, "gpu") == 0 && strcmp(res, "nvidia.com/gpu") == 0))
            return &fq->resources[i];
    }
    return NULL;
}

static void queue_build(sched__cycle *cy, int qi) {
    sched__queue *q = &cy->q[qi];
    const spec_cluster_queue *cq = q->cq;
    q->name = s0(cq->meta.name);
    q->cohort = -1;
    q->weight_milli = cq->fair_weight_milli;
    if (cq->cohort && cq->cohort[0]) {
        q->cohort = sched__map_put(&cy->cohort_map, cq->cohort, cy->ncohorts);
        if (q->cohort == cy->ncohorts) cy->ncohorts++;
    }
    q->ngroups = (int)cq->ngroups;
    q->groups = mp_xcalloc(cq->ngroups + 1, sizeof *q->groups);
    q->cell_lo = cy->ncells;
    for (size_t g = 0; g < cq->ngroups; g++) {
        const spec_resource_group *sg = &cq->groups[g];
        sched__group *ag = &q->groups[g];
        ag->ncov = (int)sg->ncovered;
        ag->cov = mp_xcalloc(sg->ncovered + 1, sizeof *ag->cov);
        for (size_t r = 0; r < sg->ncovered; r++) ag->cov[r] = sched__rid(cy, s0(sg->covered[r]));
        ag->nfl = (int)sg->nflavors;
        ag->fl = mp_xcalloc(sg->nflavors + 1, sizeof *ag->fl);
        ag->fl_name = mp_xcalloc(sg->nflavors + 1, sizeof *ag->fl_name);
        ag->cell0 = cy->ncells;
        for (size_t f = 0; f < sg->nflavors; f++) {
            const spec_flavor_quotas *fq = &sg->flavors[f];
            ag->fl_name[f] = s0(fq->name);
            ag->fl[f] = flavor_index(cy, fq->name);
            if (ag->fl[f] < 0 && !q->inactive)
                q->inactive = mp_xasprintf("ClusterQueue %s refers to ResourceFlavor %s, which is not defined",
                                           q->name, s0(fq->name));
            for (size_t r = 0; r < sg->ncovered; r++) {
                int ci = add_cell(cy);
                sched__cell *c = &cy->cells[ci];
                c->queue = qi;
                c->group = (int)g;
                c->fl = (int)f;
                c->rid = ag->cov[r];
                c->cfr = -1;
                const spec_resource_quota *rq = quota_of(fq, cy->res_name[c->rid]);
                if (!rq) continue; /* not declared: no quota */
                c->nominal = max64(rq->nominal, 0);
                c->has_bl = rq->has_borrowing_limit;
                c->borrow_limit = max64(rq->borrowing_limit, 0);
                int64_t lendable = rq->has_lending_limit ? min64(max64(rq->lending_limit, 0), c->nominal) : c->nominal;
                c->guaranteed = c->nominal - lendable;
                if (q->cohort < 0) continue;
                char key[160 + SCHED_EXT_NAME];
                snprintf(key, sizeof key, "%d|%d|%.128s", q->cohort, c->rid, ag->fl_name[f]);
                int id = sched__map_put(&cy->cfr_map, key, cy->ncfr);
                if (id == cy->ncfr) {
                    if (cy->ncfr == cy->cfr_cap) {
                        cy->cfr_cap = cy->cfr_cap ? 2 * cy->cfr_cap : 16;
                        cy->cfr = mp_xrealloc(cy->cfr, (size_t)cy->cfr_cap * sizeof *cy->cfr);
                    }
                    memset(&cy->cfr[cy->ncfr++], 0, sizeof cy->cfr[0]);
                }
                sched__cfr *x = &cy->cfr[id];
                x->cells = mp_xrealloc(x->cells, (size_t)(x->ncells + 1) * sizeof *x->cells);
                x->cells[x->ncells++] = ci;
                x->pool = sched__sat_add(x->pool, lendable);
                c->cfr = id;
            }
        }
    }
    q->cell_hi = cy->ncells;
}

int sched__queues_init(sched__cycle *cy, mp_err *e) {
    const sched_cluster *c = cy->c;
    cy->nq = (int)c->nqueues;
    cy->q = mp_xcalloc(c->nqueues + 1, sizeof *cy->q);
    for (int i = 0; i < cy->nq; i++) {
        if (!c->queues[i]) return mp_err_set(e, MP_EINVAL, "ClusterQueue %d of the cluster is missing", i);
        cy->q[i].cq = c->queues[i];
        queue_build(cy, i);
        sched__map_put(&cy->queue_map, cy->q[i].name, i); /* the first of a name wins */
    }
    for (int i = 0; i < cy->nq; i++) { /* which group covers each resource (the first one) */
        sched__queue *q = &cy->q[i];
        q->nrid = cy->nres;
        q->rid_group = mp_xmalloc((size_t)(q->nrid + 1) * sizeof *q->rid_group);
        q->rid_cov = mp_xmalloc((size_t)(q->nrid + 1) * sizeof *q->rid_cov);
        for (int r = 0; r < q->nrid; r++) q->rid_group[r] = q->rid_cov[r] = -1;
        for (int g = q->ngroups - 1; g >= 0; g--)
            for (int r = 0; r < q->groups[g].ncov; r++) {
                q->rid_group[q->groups[g].cov[r]] = g;
                q->rid_cov[q->groups[g].cov[r]] = r;
            }
    }
    return 0;
}

void sched__queues_free(sched__cycle *cy) {
    for (int i = 0; i < cy->nq; i++) {
        sched__queue *q = &cy->q[i];
        for (int g = 0; g < q->ngroups; g++) {
            free(q->groups[g].cov);
            free(q->groups[g].fl);
            free(q->groups[g].fl_name);
        }
        free(q->groups);
        free(q->rid_group);
        free(q->rid_cov);
        free(q->inactive);
    }
    free(cy->q);
    for (int i = 0; i < cy->ncfr; i++) free(cy->cfr[i].cells);
    free(cy->cfr);
    free(cy->cells);
}

int sched__queue_find(const sched__cycle *cy, const char *name) {
    int i = sched__map_get(&cy->queue_map, s0(name));
    return i < 0 ? SCHED__UNKNOWN_QUEUE : i;
}

/* ---- holdings ------------------------------------------------------------------ */

static int cell_at(const sched__queue *q, int g, int f, int cov) {
    return q->groups[g].cell0 + f * q->groups[g].ncov + cov;
}

void sched__workload_of(const sched__cycle *cy, int qi, const sched__req *r, const sched__combo *cb, sched__hold *h) {
    const sched__queue *q = &cy->q[qi];
    h->n = 0;
    for (int k = 0; k < r->n; k++) {
        int rid = r->rid[k];
        if (rid >= q->nrid || q->rid_group[rid] < 0) continue;
        int g = q->rid_group[rid];
        for (int i = 0; i < cb->ng; i++) {
            if (cb->g[i] != g) continue;
            h->cell[h->n] = cell_at(q, g, cb->f[i], q->rid_cov[rid]);
            h->amt[h->n++] = sched__sat_mul(r->amt[k], r->gang);
            break;
        }
    }
}

/* The flavor named in "RES=FLAVOR,..." for resource res, as a length-bounded slice. */
static bool flavor_in(const char *text, const char *res, const char **fl, size_t *fln) {
    size_t rn = strlen(res);
    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq && (size_t)(eq - p) == rn && memcmp(p, res, rn) == 0) {
            *fl = eq + 1;
            *fln = len - rn - 1;
            return true;
        }
        p = end ? end + 1 : NULL;
    }
    return false;
}

void sched__workload_parse(const sched__cycle *cy, int qi, const sched__req *r, const char *flavors, sched__hold *h) {
    const sched__queue *q = &cy->q[qi];
    h->n = 0;
    for (int k = 0; k < r->n; k++) {
        int rid = r->rid[k];
        if (rid >= q->nrid || q->rid_group[rid] < 0) continue;
        int g = q->rid_group[rid], f = 0;
        if (q->groups[g].nfl == 0) continue;
        const char *fl;
        size_t fln;
        if (flavor_in(s0(flavors), cy->res_name[rid], &fl, &fln))
            for (int i = 0; i < q->groups[g].nfl; i++)
                if (strlen(q->groups[g].fl_name[i]) == fln && memcmp(q->groups[g].fl_name[i], fl, fln) == 0) f = i;
        /* an unknown or missing flavor counts against the group's first one */
        h->cell[h->n] = cell_at(q, g, f, q->rid_cov[rid]);
        h->amt[h->n++] = sched__sat_mul(r->amt[k], r->gang);
    }
}

void sched__workload_usage(sched__cycle *cy, const sched__hold *h, int sign, unsigned mask) {
    for (int i = 0; i < h->n; i++) {
        sched__cell *c = &cy->cells[h->cell[i]];
        bool was = c->use[SCHED__FUT] > c->nominal;
        for (int v = 0; v < 2; v++)
            if (mask & (1u << v)) c->use[v] = sign > 0 ? sched__sat_add(c->use[v], h->amt[i]) : sub0(c->use[v], h->amt[i]);
        if (!was && c->use[SCHED__FUT] > c->nominal && !cy->planning) cy->borrow_gen++;
        sched__touch(cy, c->queue);
    }
}

/* ---- fitting ------------------------------------------------------------------- */

static int64_t use_of(const sched__cell *c, int view) {
    return view == SCHED__EFF ? max64(c->use[0], c->use[1]) : c->use[view];
}

/* What the cohort's other cells take out of cell's pool. */
static int64_t others_over(const sched__cycle *cy, int cell, int view) {
    const sched__cfr *f = &cy->cfr[cy->cells[cell].cfr];
    int64_t sum = 0;
    for (int i = 0; i < f->ncells; i++) {
        if (f->cells[i] == cell) continue;
        const sched__cell *m = &cy->cells[f->cells[i]];
        sum = sched__sat_add(sum, sub0(use_of(m, view), m->guaranteed));
    }
    return sum;
}

bool sched__cell_fits(const sched__cycle *cy, int cell, int64_t amt, int view) {
    const sched__cell *c = &cy->cells[cell];
    int64_t nu = sched__sat_add(use_of(c, view), amt);
    if (c->cfr < 0) return nu <= c->nominal;
    if (c->has_bl && nu > sched__sat_add(c->nominal, c->borrow_limit)) return false;
    return sched__sat_add(others_over(cy, cell, view), sub0(nu, c->guaranteed)) <= cy->cfr[c->cfr].pool;
}

static void put_cell_why(sched__cycle *cy, mp_buf *b, int cell, int64_t amt, int view) {
    const sched__cell *c = &cy->cells[cell];
    const sched__queue *q = &cy->q[c->queue];
    const sched__group *g = &q->groups[c->group];
    int64_t u = use_of(c, view), nu = sched__sat_add(u, amt);
    char nom[48], in_use[48], req[48], x[48], y[48];
    sched__fmt_amount(c->rid, c->nominal, nom, sizeof nom);
    sched__fmt_amount(c->rid, u, in_use, sizeof in_use);
    sched__fmt_amount(c->rid, amt, req, sizeof req);
    char flavor[160] = "";
    if (g->nfl > 1) snprintf(flavor, sizeof flavor, " in flavor %.128s", g->fl_name[c->fl]);
    const char *res = cy->res_name[c->rid];
    if (c->cfr < 0) {
        mp_buf_printf(b, "queue %s over nominal %s quota %s%s (%s in use, %s requested), no cohort to borrow from",
                      q->name, res, nom, flavor, in_use, req);
        return;
    }
    int64_t room = sub0(sched__sat_add(c->guaranteed, cy->cfr[c->cfr].pool), others_over(cy, cell, view));
    if (nu <= c->nominal) { /* its own quota is lent out */
        sched__fmt_amount(c->rid, sub0(room, u), x, sizeof x);
        mp_buf_printf(b, "queue %s needs %s %s within its nominal quota %s%s (%s in use), but other queues of its "
                      "cohort borrow it: %s left", q->name, req, res, nom, flavor, in_use, x);
        return;
    }
    mp_buf_printf(b, "queue %s over nominal %s quota %s%s (%s in use, %s requested), ", q->name, res, nom, flavor,
                  in_use, req);
    int64_t lend = sub0(room, c->nominal);
    bool by_limit = c->has_bl && c->borrow_limit < lend;
    if (by_limit) lend = c->borrow_limit;
    sched__fmt_amount(c->rid, lend, x, sizeof x);
    sched__fmt_amount(c->rid, nu - c->nominal, y, sizeof y);
    if (by_limit) mp_buf_printf(b, "its borrowingLimit is %s, needs %s", x, y);
    else if (lend == 0) mp_buf_puts(b, "cohort has none to lend");
    else mp_buf_printf(b, "cohort can lend it %s in all, it would need %s", x, y);
}

bool sched__workload_fits(sched__cycle *cy, const sched__hold *h, int view, mp_buf *why) {
    for (int i = 0; i < h->n; i++) {
        if (sched__cell_fits(cy, h->cell[i], h->amt[i], view)) continue;
        if (why) put_cell_why(cy, why, h->cell[i], h->amt[i], view);
        return false;
    }
    return true;
}

bool sched__group_fits(sched__cycle *cy, int qi, int g, int f, const sched__req *r, int view, mp_buf *why) {
    const sched__queue *q = &cy->q[qi];
    for (int k = 0; k < r->n; k++) {
        int rid = r->rid[k];
        if (rid >= q->nrid || q->rid_group[rid] != g) continue;
        int cell = cell_at(q, g, f, q->rid_cov[rid]);
        int64_t amt = sched__sat_mul(r->amt[k], r->gang);
        if (sched__cell_fits(cy, cell, amt, view)) continue;
        if (why) put_cell_why(cy, why, cell, amt, view);
        return false;
    }
    return true;
}

bool sched__workload_within_nominal(const sched__cycle *cy, const sched__hold *h, int view) {
    for (int i = 0; i < h->n; i++) {
        const sched__cell *c = &cy->cells[h->cell[i]];
        if (sched__sat_add(use_of(c, view), h->amt[i]) > c->nominal) return false;
    }
    return true;
}

bool sched__cell_borrowing(const sched__cycle *cy, int cell, int view) {
    const sched__cell *c = &cy->cells[cell];
    return use_of(c, view) > c->nominal;
}

/* ---- fair share ---------------------------------------------------------------- */

void sched__share_update(sched__cycle *cy, int qi) {
    sched__queue *q = &cy->q[qi];
    q->share = 0;
    if (q->cohort < 0) return;
    double top = 0;
    for (int i = q->cell_lo; i < q->cell_hi; i++) {
        const sched__cell *c = &cy->cells[i];
        int64_t borrowed = sub0(use_of(c, SCHED__EFF), c->nominal);
        if (borrowed <= 0 || c->cfr < 0) continue;
        int64_t pool = cy->cfr[c->cfr].pool;
        double r = pool > 0 ? (double)borrowed / (double)pool : 1e6;
        if (r > top) top = r;
    }
    if (top <= 0) return;
    if (q->weight_milli <= 0) {
        q->share = INT64_MAX; /* weight 0: only when nobody else wants it */
        return;
    }
    double s = top * 1e6 * 1000.0 / (double)q->weight_milli;
    q->share = s >= 9e18 ? INT64_MAX : (int64_t)llround(s);
}

/* ---- texts --------------------------------------------------------------------- */

static const char *cell_flavor(const sched__cycle *cy, int cell) {
    const sched__cell *c = &cy->cells[cell];
    return cy->q[c->queue].groups[c->group].fl_name[c->fl];
}

char *sched__flavors_text(const sched__cycle *cy, const sched__hold *h) {
    mp_buf b;
    mp_buf_init(&b);
    for (int i = 0; i < h->n; i++)
        mp_buf_printf(&b, "%s%s=%s", i ? "," : "", cy->res_name[cy->cells[h->cell[i]].rid],
                      cell_flavor(cy, h->cell[i]));
    return mp_buf_steal(&b);
}

/* Whether cell i of h is the first of h with its flavor. */
static bool first_of_flavor(const sched__cycle *cy, const sched__hold *h, int i) {
    for (int j = 0; j < i; j++)
        if (strcmp(cell_flavor(cy, h->cell[j]), cell_flavor(cy, h->cell[i])) == 0) return false;
    return true;
}

void sched__put_flavor_note(const sched__cycle *cy, mp_buf *b, const sched__hold *h, bool *borrows) {
    int distinct = 0, seen = 0;
    for (int i = 0; i < h->n; i++) distinct += first_of_flavor(cy, h, i);
    for (int i = 0; i < h->n; i++) {
        if (!first_of_flavor(cy, h, i)) continue;
        mp_buf_printf(b, "%s%s", seen++ ? ", " : distinct > 1 ? ", flavors " : ", flavor ", cell_flavor(cy, h->cell[i]));
    }
    *borrows = false;
    for (int i = 0; i < h->n; i++) {
        const sched__cell *c = &cy->cells[h->cell[i]];
        int64_t over = min64(sub0(use_of(c, SCHED__EFF), c->nominal), h->amt[i]);
        if (over <= 0) continue;
        char a[48];
        sched__fmt_amount(c->rid, over, a, sizeof a);
        mp_buf_printf(b, ", borrowing %s %s from cohort", cy->res_name[c->rid], a);
        *borrows = true;
    }
}
