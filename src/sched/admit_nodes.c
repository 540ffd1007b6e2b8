/* admit_nodes.c — node room for the admission cycle: what each node holds in the
 * NOW and FUT views (admit_int.h), which nodes a workload may go to, how many of
 * its workers fit, and why not.
 *
 * The cycle asks "does it fit?" far more often than "where?": every pending
 * workload is asked, most of them wait. So:
 *   - eligibility (nodeSelector with the flavors' nodeLabels, taints against
 *     tolerations; the same filter as place.c) is worked out once per distinct
 *     set of constraints (a class) and kept as a list of nodes;
 *   - the workers of a request that fit are counted over the class' nodes from
 *     plain arrays: a node takes min over resources of free / request workers,
 *     and since workers of a gang are identical, greedy placement (what
 *     sched_place_gang does) fits exactly the sum of those;
 *   - a request on a class (a shape) remembers that it did not fit until
 *     something is released, and its reason until anything changes.
 * Only an admission calls sched_place_gang, on sched_node copies whose
 * allocations are kept equal to the EFF view, so nodes are chosen (scored) by the
 * placement library itself. */
#include "sched/admit_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s0(const char *s) { return s ? s : ""; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t sub0(int64_t a, int64_t b) { return a > b ? a - b : 0; }

/* ---- setup --------------------------------------------------------------------- */

static bool res_ok(const sched_res *r) {
    if (r->cpu_milli < 0 || r->memory_bytes < 0 || r->gpu < 0 || r->next < 0 || r->next > SCHED_EXT_MAX)
        return false;
    for (int i = 0; i < r->next; i++)
        if (r->ext[i].count < 0 || !r->ext[i].name[0] || !memchr(r->ext[i].name, 0, sizeof r->ext[i].name))
            return false;
    return true;
}

int sched__nodes_init(sched__cycle *cy, mp_err *e) {
    const sched_cluster *c = cy->c;
    cy->nn = c->nnodes;
    cy->nodes = mp_xcalloc(cy->nn + 1, sizeof *cy->nodes);
    cy->wn = mp_xcalloc(cy->nn + 1, sizeof *cy->wn);
    for (size_t i = 0; i < cy->nn; i++) {
        const sched_node *src = &c->nodes[i];
        if (!res_ok(&src->capacity) || (src->nlabels && !src->labels) || (src->ntaints && !src->taints))
            return mp_err_set(e, MP_EINVAL, "node %s has a negative capacity or a malformed resource, label or "
                              "taint list", s0(src->name));
        sched__node *nd = &cy->nodes[i];
        nd->cap[SCHED__CPU] = src->capacity.cpu_milli;
        nd->cap[SCHED__MEM] = src->capacity.memory_bytes;
        nd->cap[SCHED__GPU] = src->capacity.gpu;
        for (int k = 0; k < src->capacity.next; k++) {
            int rid = sched__rid(cy, src->capacity.ext[k].name);
            bool dup = false;
            for (int j = 0; j < nd->next; j++) dup = dup || nd->ext_rid[j] == rid;
            if (dup) continue; /* the placement library reads the first one */
            nd->ext_rid[nd->next] = rid;
            nd->cap[3 + nd->next++] = src->capacity.ext[k].count;
        }
        sched_node *wn = &cy->wn[i];
        *wn = *src;
        memset(&wn->allocated, 0, sizeof wn->allocated);
        wn->gpu_used = 0; /* devices are the executor's business; counts are ours */
    }
    return 0;
}

void sched__nodes_free(sched__cycle *cy) {
    for (int i = 0; i < cy->ncls; i++) {
        free(cy->cls[i].sel);
        free(cy->cls[i].elig);
        free(cy->cls[i].is_elig);
        free(cy->cls[i].none_why);
    }
    free(cy->cls);
    for (int i = 0; i < cy->nshapes; i++) {
        free(cy->shapes[i].never_why);
        free(cy->shapes[i].why);
    }
    free(cy->shapes);
    free(cy->nodes);
    free(cy->wn);
    free(cy->tview);
}

/* ---- amounts ------------------------------------------------------------------- */

static int slot_of(const sched__node *nd, int rid) {
    if (rid < 3) return rid;
    for (int k = 0; k < nd->next; k++)
        if (nd->ext_rid[k] == rid) return 3 + k;
    return -1;
}

/* Keeps the placement library's copy of node i at EFF. */
static void sync_wn(sched__cycle *cy, size_t i) {
    const sched__node *nd = &cy->nodes[i];
    sched_res *a = &cy->wn[i].allocated;
    a->cpu_milli = max64(nd->use[0][SCHED__CPU], nd->use[1][SCHED__CPU]);
    a->memory_bytes = max64(nd->use[0][SCHED__MEM], nd->use[1][SCHED__MEM]);
    a->gpu = max64(nd->use[0][SCHED__GPU], nd->use[1][SCHED__GPU]);
    a->next = 0;
    for (int k = 0; k < nd->next; k++) {
        int64_t v = max64(nd->use[0][3 + k], nd->use[1][3 + k]);
        if (v <= 0) continue;
        mp_strlcpy(a->ext[a->next].name, cy->res_name[nd->ext_rid[k]], SCHED_EXT_NAME);
        a->ext[a->next++].count = v;
    }
}

void sched__node_add(sched__cycle *cy, size_t i, const sched__req *r, int sign, unsigned mask) {
    sched__node *nd = &cy->nodes[i];
    for (int k = 0; k < r->n; k++) {
        int s = slot_of(nd, r->rid[k]);
        if (s < 0) continue; /* the node has none: nothing to hold */
        for (int v = 0; v < 2; v++) {
            if (!(mask & (1u << v))) continue;
            nd->use[v][s] = sign > 0 ? sched__sat_add(nd->use[v][s], r->amt[k]) : sub0(nd->use[v][s], r->amt[k]);
        }
    }
    sync_wn(cy, i);
}

void sched__workload_nodes(sched__cycle *cy, const sched__req *r, const size_t *nodes, int sign, unsigned mask) {
    for (int g = 0; g < r->gang; g++) sched__node_add(cy, nodes[g], r, sign, mask);
}

static int64_t share_of(const sched__node *nd, const int64_t *u0, const int64_t *u1, const sched__req *r) {
    int64_t share = r->gang;
    for (int k = 0; k < r->n; k++) {
        int s = slot_of(nd, r->rid[k]);
        if (s < 0) return 0;
        int64_t used = u1 ? max64(u0[s], u1[s]) : u0[s];
        int64_t c = sub0(nd->cap[s], used) / r->amt[k];
        if (c < share) share = c;
        if (share == 0) return 0;
    }
    return share;
}

int64_t sched__node_share(const sched__cycle *cy, size_t i, const sched__req *r, int view) {
    const sched__node *nd = &cy->nodes[i];
    if (view == SCHED__EFF) return share_of(nd, nd->use[0], nd->use[1], r);
    return share_of(nd, nd->use[view], NULL, r);
}

int64_t sched__tnode_share(const sched__cycle *cy, size_t i, const sched__req *r) {
    return share_of(&cy->nodes[i], cy->tview[i], NULL, r);
}

int64_t sched__count(const sched__cycle *cy, const sched__class *k, const sched__req *r, int view, int64_t want) {
    int64_t sum = 0;
    for (size_t j = 0; j < k->nelig && sum < want; j++) sum += sched__node_share(cy, k->elig[j], r, view);
    return sum;
}

int64_t sched__tcount(const sched__cycle *cy, const sched__class *k, const sched__req *r) {
    int64_t sum = 0;
    for (size_t j = 0; j < k->nelig && sum < r->gang; j++) sum += sched__tnode_share(cy, k->elig[j], r);
    return sum;
}

/* ---- eligibility (place.c's filter) ----------------------------------------------- */

static bool selector_ok(const sched_node *nd, const sched_kv *sel, size_t nsel) {
    for (size_t i = 0; i < nsel; i++) {
        const char *key = s0(sel[i].key), *v = NULL;
        for (size_t l = 0; l < nd->nlabels && !v; l++)
            if (strcmp(s0(nd->labels[l].key), key) == 0) v = s0(nd->labels[l].value);
        if (!v || strcmp(v, s0(sel[i].value)) != 0) return false;
    }
    return true;
}

static bool taints_ok(const sched_node *nd, const sched_toleration *tol, size_t ntol) {
    for (size_t i = 0; i < nd->ntaints; i++) {
        const sched_taint *ta = &nd->taints[i];
        if (ta->effect == SCHED_PREFER_NO_SCHEDULE) continue;
        bool ok = false;
        for (size_t j = 0; j < ntol && !ok; j++) ok = sched_tolerates(&tol[j], ta);
        if (!ok) return false;
    }
    return true;
}

static void put_str(mp_buf *b, const char *s) { mp_buf_printf(b, "%zu:%s", strlen(s0(s)), s0(s)); }

int sched__base(sched__cycle *cy, const sched_workload *w) {
    mp_buf *b = &cy->buf;
    mp_buf_reset(b);
    for (size_t i = 0; i < w->req.nnode_selector; i++) {
        put_str(b, w->req.node_selector[i].key);
        put_str(b, w->req.node_selector[i].value);
    }
    mp_buf_putc(b, '|');
    for (size_t i = 0; i < w->req.ntolerations; i++) {
        const sched_toleration *t = &w->req.tolerations[i];
        put_str(b, t->key);
        put_str(b, t->value);
        mp_buf_printf(b, "%d.%d;", (int)t->op, (int)t->effect);
    }
    int id = sched__map_put(&cy->base_map, b->data, cy->nbase);
    if (id == cy->nbase) {
        if (cy->nbase == cy->base_cap) {
            cy->base_cap = cy->base_cap ? 2 * cy->base_cap : 16;
            cy->base_of = mp_xrealloc(cy->base_of, (size_t)cy->base_cap * sizeof *cy->base_of);
        }
        cy->base_of[cy->nbase++] = w;
    }
    return id;
}

static void class_build(sched__cycle *cy, sched__class *k, const sched_workload *w, const sched__queue *q,
                        const sched__combo *cb) {
    size_t nsel = w->req.nnode_selector;
    for (int i = 0; cb && i < cb->ng; i++) {
        int fl = q->groups[cb->g[i]].fl[cb->f[i]];
        if (fl >= 0) nsel += cy->c->flavors[fl]->nnode_labels;
    }
    k->sel = mp_xcalloc(nsel + 1, sizeof *k->sel);
    for (size_t i = 0; i < w->req.nnode_selector; i++) k->sel[k->nsel++] = w->req.node_selector[i];
    for (int i = 0; cb && i < cb->ng; i++) {
        int fl = q->groups[cb->g[i]].fl[cb->f[i]];
        if (fl < 0) continue;
        const spec_resource_flavor *rf = cy->c->flavors[fl];
        for (size_t l = 0; l < rf->nnode_labels; l++)
            k->sel[k->nsel++] = (sched_kv){rf->node_labels[l].key, rf->node_labels[l].value};
    }
    k->tol = w->req.tolerations;
    k->ntol = w->req.ntolerations;
    k->elig = mp_xmalloc((cy->nn + 1) * sizeof *k->elig);
    k->is_elig = mp_xcalloc(cy->nn + 1, 1);
    for (size_t i = 0; i < cy->nn; i++) {
        if (!selector_ok(&cy->wn[i], k->sel, k->nsel) || !taints_ok(&cy->wn[i], k->tol, k->ntol)) continue;
        k->elig[k->nelig++] = i;
        k->is_elig[i] = 1;
    }
    if (k->nelig == 0) { /* the library says why no node is eligible */
        sched_pod_req rq = {.node_selector = k->sel, .nnode_selector = k->nsel, .tolerations = k->tol,
                            .ntolerations = k->ntol, .gang = 1};
        char why[512] = "";
        size_t at;
        if (sched_place(cy->wn, cy->nn, &rq, cy->c->policy, &at, why, sizeof why) == 0 || !why[0])
            mp_strlcpy(why, "no node matches its nodeSelector and tolerates its node's taints", sizeof why);
        k->none_why = mp_xstrdup(why);
    }
}

int sched__class_of(sched__cycle *cy, int base, const sched__queue *q, const sched__combo *cb) {
    char key[32 + SCHED__ITEMS * 12];
    int len = snprintf(key, sizeof key, "%d|", base);
    for (int i = 0; cb && i < cb->ng && len < (int)sizeof key - 12; i++)
        len += snprintf(key + len, sizeof key - (size_t)len, "%d,", q->groups[cb->g[i]].fl[cb->f[i]]);
    int id = sched__map_put(&cy->class_map, key, cy->ncls);
    if (id < cy->ncls) return id;
    if (cy->ncls == cy->cls_cap) {
        cy->cls_cap = cy->cls_cap ? 2 * cy->cls_cap : 16;
        cy->cls = mp_xrealloc(cy->cls, (size_t)cy->cls_cap * sizeof *cy->cls);
    }
    sched__class *k = &cy->cls[cy->ncls++];
    memset(k, 0, sizeof *k);
    class_build(cy, k, cy->base_of[base], q, cb);
    return id;
}

int sched__shape_of(sched__cycle *cy, int cls, int req) {
    char key[32];
    snprintf(key, sizeof key, "%d|%d", cls, req);
    int id = sched__map_put(&cy->shape_map, key, cy->nshapes);
    if (id < cy->nshapes) return id;
    if (cy->nshapes == cy->shapes_cap) {
        cy->shapes_cap = cy->shapes_cap ? 2 * cy->shapes_cap : 64;
        cy->shapes = mp_xrealloc(cy->shapes, (size_t)cy->shapes_cap * sizeof *cy->shapes);
    }
    cy->shapes[id] = (sched__shape){.cls = cls, .req = req, .never = -1};
    cy->nshapes++;
    return id;
}

/* ---- reasons ------------------------------------------------------------------- */

/* Items of r in the order reasons look at them: GPUs, extended, CPU, memory. */
static int scarce_order(const sched__req *r, int *ord) {
    int n = 0;
    for (int pass = 0; pass < 3; pass++)
        for (int k = 0; k < r->n; k++) {
            int rid = r->rid[k];
            int p = rid == SCHED__GPU ? 0 : rid >= 3 ? 1 : 2;
            if (p == pass) ord[n++] = k;
        }
    return n;
}

void sched__put_req(sched__cycle *cy, mp_buf *b, const sched__req *r) {
    int ord[SCHED__ITEMS];
    int n = scarce_order(r, ord);
    for (int o = 0; o < n; o++) {
        char a[48];
        sched__fmt_amount(r->rid[ord[o]], r->amt[ord[o]], a, sizeof a);
        mp_buf_printf(b, "%s%s %s", o ? ", " : "", a, cy->res_name[r->rid[ord[o]]]);
    }
    if (n == 0) mp_buf_puts(b, "nothing");
}

static void put_excluded(sched__cycle *cy, mp_buf *b, const sched__class *k) {
    if (k->nelig < cy->nn)
        mp_buf_printf(b, "; %zu other nodes excluded by nodeSelector or taints", cy->nn - k->nelig);
}

/* Per item of r: the most any eligible node has (free in view, or capacity when view < 0). */
static void max_per_item(const sched__cycle *cy, const sched__class *k, const sched__req *r, int view, int64_t *mx) {
    for (int i = 0; i < r->n; i++) mx[i] = 0;
    for (size_t j = 0; j < k->nelig; j++) {
        const sched__node *nd = &cy->nodes[k->elig[j]];
        for (int i = 0; i < r->n; i++) {
            int s = slot_of(nd, r->rid[i]);
            if (s < 0) continue;
            int64_t v = view < 0 ? nd->cap[s] : sub0(nd->cap[s], max64(nd->use[0][s], nd->use[1][s]));
            if (v > mx[i]) mx[i] = v;
        }
    }
}

/* "needs 2 nvidia.com/gpu, largest free on any node is 1" for the first short item, or
 * false when each item is there somewhere. */
static bool put_short(sched__cycle *cy, mp_buf *b, const sched__req *r, const int64_t *mx, const char *what) {
    int ord[SCHED__ITEMS];
    int n = scarce_order(r, ord);
    for (int o = 0; o < n; o++) {
        int i = ord[o];
        if (mx[i] >= r->amt[i]) continue;
        char a[48], f[48];
        sched__fmt_amount(r->rid[i], r->amt[i], a, sizeof a);
        sched__fmt_amount(r->rid[i], mx[i], f, sizeof f);
        mp_buf_printf(b, "needs %s %s, largest %s on any node is %s", a, cy->res_name[r->rid[i]], what, f);
        return true;
    }
    return false;
}

bool sched__shape_possible(sched__cycle *cy, sched__shape *s) {
    if (s->never >= 0) return s->never == 0;
    const sched__class *k = &cy->cls[s->cls];
    const sched__req *r = &cy->reqs[s->req];
    if (k->nelig == 0) {
        s->never = 1;
        s->never_why = mp_xstrdup(k->none_why);
        return false;
    }
    int64_t sum = 0;
    for (size_t j = 0; j < k->nelig && sum < r->gang; j++) {
        static const int64_t zero[SCHED__SLOTS];
        sum += share_of(&cy->nodes[k->elig[j]], zero, NULL, r);
    }
    s->never = sum >= r->gang ? 0 : 1;
    if (!s->never) return true;
    mp_buf b;
    mp_buf_init(&b);
    int64_t mx[SCHED__ITEMS];
    max_per_item(cy, k, r, -1, mx);
    if (r->gang > 1 && sum > 0) {
        mp_buf_printf(&b, "gang of %d workers of ", r->gang);
        sched__put_req(cy, &b, r);
        mp_buf_printf(&b, ": at most %lld fit even on empty nodes", (long long)sum);
    } else {
        if (r->gang > 1) mp_buf_printf(&b, "gang of %d workers: ", r->gang);
        if (!put_short(cy, &b, r, mx, "capacity")) {
            mp_buf_puts(&b, "needs ");
            sched__put_req(cy, &b, r);
            mp_buf_printf(&b, " on one node; none of the %zu eligible nodes has that much", k->nelig);
        }
    }
    put_excluded(cy, &b, k);
    s->never_why = mp_buf_steal(&b);
    return false;
}

bool sched__shape_fits_eff(sched__cycle *cy, sched__shape *s) {
    if (s->nofit_gen == cy->release_gen) return false;
    const sched__req *r = &cy->reqs[s->req];
    if (sched__count(cy, &cy->cls[s->cls], r, SCHED__EFF, r->gang) >= r->gang) return true;
    s->nofit_gen = cy->release_gen;
    return false;
}

const char *sched__shape_why(sched__cycle *cy, sched__shape *s) {
    if (s->why && s->why_gen == cy->alloc_gen) return s->why;
    const sched__class *k = &cy->cls[s->cls];
    const sched__req *r = &cy->reqs[s->req];
    mp_buf b;
    mp_buf_init(&b);
    int64_t mx[SCHED__ITEMS];
    max_per_item(cy, k, r, SCHED__EFF, mx);
    int64_t fit = r->gang > 1 ? sched__count(cy, k, r, SCHED__EFF, r->gang) : 0;
    if (r->gang > 1) {
        mp_buf_printf(&b, "gang of %d workers of ", r->gang);
        sched__put_req(cy, &b, r);
        if (fit > 0) mp_buf_printf(&b, ": only %lld fit", (long long)fit);
        else mp_buf_puts(&b, ": none fit (");
    }
    if (fit == 0 && !put_short(cy, &b, r, mx, "free")) {
        mp_buf_puts(&b, "needs ");
        sched__put_req(cy, &b, r);
        mp_buf_printf(&b, " on one node; none of the %zu eligible nodes has it all free", k->nelig);
    }
    if (r->gang > 1 && fit == 0) mp_buf_putc(&b, ')');
    put_excluded(cy, &b, k);
    free(s->why);
    s->why = mp_buf_steal(&b);
    s->why_gen = cy->alloc_gen;
    return s->why;
}

/* ---- placing ------------------------------------------------------------------- */

int sched__place(sched__cycle *cy, const sched__shape *s, const sched_workload *w, size_t *out) {
    const sched__class *k = &cy->cls[s->cls];
    sched_pod_req rq = w->req;
    rq.node_selector = k->sel;
    rq.nnode_selector = k->nsel;
    rq.gang = cy->reqs[s->req].gang;
    char why[1024] = "";
    int rc = sched_place_gang(cy->wn, cy->nn, &rq, cy->c->policy, out, why, sizeof why);
    mp_buf_reset(&cy->buf);
    mp_buf_puts(&cy->buf, why);
    return rc;
}

bool sched__plan(sched__cycle *cy, const sched__class *k, const sched__req *r, const size_t *prefer, size_t nprefer,
              size_t *out) {
    sched__req one = *r;
    one.gang = 1;
    int placed = 0;
    for (size_t p = 0; p < nprefer && placed < r->gang; p++) {
        size_t i = prefer[p];
        if (!k->is_elig[i]) continue;
        while (placed < r->gang && share_of(&cy->nodes[i], cy->nodes[i].use[SCHED__FUT], NULL, &one) > 0) {
            sched__node_add(cy, i, r, 1, 1u << SCHED__FUT);
            out[placed++] = i;
        }
    }
    for (size_t j = 0; j < k->nelig && placed < r->gang; j++) {
        size_t i = k->elig[j];
        while (placed < r->gang && share_of(&cy->nodes[i], cy->nodes[i].use[SCHED__FUT], NULL, &one) > 0) {
            sched__node_add(cy, i, r, 1, 1u << SCHED__FUT);
            out[placed++] = i;
        }
    }
    if (placed == r->gang) return true;
    for (int g = 0; g < placed; g++) sched__node_add(cy, out[g], r, -1, 1u << SCHED__FUT);
    return false;
}

/* ---- the backfill view ---------------------------------------------------------------- */

void sched__tview_init(sched__cycle *cy) {
    if (!cy->tview) cy->tview = mp_xmalloc((cy->nn + 1) * sizeof *cy->tview);
    for (size_t i = 0; i < cy->nn; i++) memcpy(cy->tview[i], cy->nodes[i].use[SCHED__FUT], sizeof cy->tview[i]);
}

void sched__tview_add(sched__cycle *cy, const sched__req *r, const size_t *nodes, int sign) {
    for (int g = 0; g < r->gang; g++) {
        const sched__node *nd = &cy->nodes[nodes[g]];
        int64_t *t = cy->tview[nodes[g]];
        for (int k = 0; k < r->n; k++) {
            int s = slot_of(nd, r->rid[k]);
            if (s >= 0) t[s] = sign > 0 ? sched__sat_add(t[s], r->amt[k]) : sub0(t[s], r->amt[k]);
        }
    }
}
