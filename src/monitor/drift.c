/* drift.c — data drift between a reference table and a current one, column by
 * column, with Evidently's default choice of test (see docs/drift.md):
 *   reference column of <= 1000 values: numeric (more than 5 distinct values over
 *   both sides) two-sample KS, categorical chi-squared, binary (<= 2 values) the
 *   two-proportion Z-test, drift at p < 0.05; more than 1000 values: Wasserstein
 *   distance / max(std(ref), 0.001) for numeric columns and Jensen–Shannon for the
 *   others, drift at >= 0.1. The data set drifts when the share of drifted columns
 *   is >= 0.5. Every figure is computed for every column that it fits (KS d and p,
 *   Wasserstein raw and normalised, PSI and JS over the reference's quantile bins or
 *   over the categories, chi-squared, Z), whichever decides.
 *
 * A monitor_reference keeps what the reference gives once: each numeric column's
 * sorted values, standard deviation, quantile edges and bin counts, each text
 * column's category counts. monitor_drift then sorts each current column (radix,
 * O(n)), merges it with the reference for KS and Wasserstein, and counts the current
 * sample into the bins by binary search in its sorted values. Nothing is O(n^2).
 *
 * Threads: monitor_reference_build and monitor_drift hand columns to a few worker
 * threads (run_columns); a worker writes only its own columns' slots of the result
 * and its own scratch (ws[worker], reused across its columns, freed by the caller's
 * thread after the join), and reads the shared inputs. The caller's thread
 * joins them all before it reads the slots, so the result is the same for any
 * number of threads. The caller owns the reference and the result. */
#include "monitor/monitor.h"
#include "monitor/monitor_int.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SMALL_REFERENCE 1000 /* Evidently: reference_data.shape[0] <= 1000 */
#define FEW_VALUES 5         /* numeric columns with at most this many values are categorical */
#define THREADS_MAX 8

/* ---- names -------------------------------------------------------------------- */

static const char *const TEST_NAMES[] = {
    [MONITOR_TEST_AUTO] = "auto",         [MONITOR_TEST_KS] = "ks",
    [MONITOR_TEST_CHISQUARE] = "chisquare", [MONITOR_TEST_Z] = "z",
    [MONITOR_TEST_WASSERSTEIN] = "wasserstein", [MONITOR_TEST_JENSENSHANNON] = "jensenshannon",
    [MONITOR_TEST_PSI] = "psi",           [MONITOR_TEST_NONE] = "none",
};

const char *monitor_test_name(monitor_test t) {
    return (unsigned)t < sizeof TEST_NAMES / sizeof TEST_NAMES[0] ? TEST_NAMES[t] : "?";
}

int monitor_test_parse(const char *s) {
    for (size_t i = 0; i < sizeof TEST_NAMES / sizeof TEST_NAMES[0]; i++)
        if (i != MONITOR_TEST_NONE && strcmp(TEST_NAMES[i], s) == 0) return (int)i;
    return -1;
}

const char *monitor_kind_name(monitor_kind k) {
    switch (k) {
    case MONITOR_KIND_NUMERIC: return "numeric";
    case MONITOR_KIND_CATEGORICAL: return "categorical";
    case MONITOR_KIND_BINARY: return "binary";
    }
    return "?";
}

bool monitor_test_is_pvalue(monitor_test t) {
    return t == MONITOR_TEST_KS || t == MONITOR_TEST_CHISQUARE || t == MONITOR_TEST_Z;
}

static double default_threshold(monitor_test t) { return monitor_test_is_pvalue(t) ? 0.05 : 0.1; }

void monitor_drift_options_init(monitor_drift_options *o) {
    memset(o, 0, sizeof *o);
    o->threshold = NAN;
    o->drift_share = NAN;
}

/* ---- worker threads ------------------------------------------------------------ */

typedef struct pool {
    atomic_size_t next;
    size_t n;
    void (*fn)(void *ctx, size_t i, int worker);
    void *ctx;
} pool;

typedef struct worker_arg {
    pool *p;
    int id;
} worker_arg;

static void *pool_worker(void *arg) {
    worker_arg *w = arg;
    for (size_t i; (i = atomic_fetch_add(&w->p->next, 1)) < w->p->n;) w->p->fn(w->p->ctx, i, w->id);
    return NULL;
}

/* Calls fn(ctx, i, worker) for i in [0, n) on up to threads threads (the caller's
 * among them; worker: 0 .. THREADS_MAX-1, one thread each) and returns when all are
 * done. A thread that cannot be started leaves its share to the others. */
static void run_columns(size_t n, int threads, void (*fn)(void *, size_t, int), void *ctx) {
    if (threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (int)c : 1;
    }
    if (threads > THREADS_MAX) threads = THREADS_MAX;
    if ((size_t)threads > n) threads = n ? (int)n : 1;
    pool p = {.n = n, .fn = fn, .ctx = ctx};
    atomic_init(&p.next, 0);
    pthread_t tid[THREADS_MAX];
    worker_arg args[THREADS_MAX];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        args[started] = (worker_arg){&p, started + 1};
        if (pthread_create(&tid[started], NULL, pool_worker, &args[started]) == 0) started++;
    }
    worker_arg self = {&p, 0};
    pool_worker(&self);
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
}

/* n bytes for a large array (freed with free): from 4 MiB on, 2 MiB-aligned and
 * marked for transparent huge pages, which spares most of the page faults of fresh
 * memory (costly in virtual machines); the system may ignore the advice. */
static void *big_alloc(size_t n) {
    if (n < ((size_t)4 << 20)) return mp_xmalloc(n ? n : 1);
    void *p = NULL;
    size_t huge = (size_t)2 << 20;
    if (posix_memalign(&p, huge, (n + huge - 1) / huge * huge) != 0) return mp_xmalloc(n);
    madvise(p, (n + huge - 1) / huge * huge, MADV_HUGEPAGE);
    return p;
}

/* A worker's scratch, kept across its columns: the radix sort's words and the
 * current sample's sorted values. Grown, never shrunk; freed by scratch_free. */
typedef struct scratch {
    uint64_t *words;
    double *vals;
    size_t cap; /* values: words holds 2 cap */
} scratch;

static void scratch_reserve(scratch *s, size_t n) {
    if (n <= s->cap) return;
    free(s->words);
    free(s->vals);
    s->words = big_alloc(2 * n * sizeof *s->words);
    s->vals = big_alloc(n * sizeof *s->vals);
    s->cap = n;
}

static void scratch_free(scratch *ws) {
    for (int t = 0; t < THREADS_MAX; t++) {
        free(ws[t].words);
        free(ws[t].vals);
    }
}

/* ---- helpers over sorted arrays ----------------------------------------------- */

/* The number of values of s (n, sorted) that are <= x. */
static size_t count_le(const double *s, size_t n, double x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] <= x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Counts of s in the bins that edges (nedges, ascending) bound: bin k holds
 * edges[k-1] < x <= edges[k]. */
static void bin_counts(const double *s, size_t n, const double *edges, size_t nedges, double *out) {
    size_t prev = 0;
    for (size_t k = 0; k < nedges; k++) {
        size_t c = count_le(s, n, edges[k]);
        out[k] = (double)(c - prev);
        prev = c;
    }
    out[nedges] = (double)(n - prev);
}

/* Distinct values over two sorted arrays, counted up to cap + 1 (the merge stops
 * there); the first cap of them in vals, with ca and cb their counts on each side. */
static size_t distinct_union(const double *a, size_t na, const double *b, size_t nb, size_t cap, double *vals,
                             double *ca, double *cb) {
    size_t i = 0, j = 0, k = 0;
    while ((i < na || j < nb) && k <= cap) {
        double v = j >= nb || (i < na && a[i] <= b[j]) ? a[i] : b[j];
        size_t i0 = i, j0 = j;
        while (i < na && a[i] == v) i++;
        while (j < nb && b[j] == v) j++;
        if (k < cap) {
            vals[k] = v;
            ca[k] = (double)(i - i0);
            cb[k] = (double)(j - j0);
        }
        k++;
    }
    return k;
}

/* ---- the reference ------------------------------------------------------------- */

typedef struct build_ctx {
    const monitor_table *t;
    const monitor_column **src;
    monitor_reference *ref;
    scratch ws[THREADS_MAX];
} build_ctx;

/* numpy's np.quantile(s, q) (linear interpolation) of sorted s. */
static double quantile(const double *s, size_t n, double q) {
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo + 1 >= n) return s[n - 1];
    return s[lo] + (s[lo + 1] - s[lo]) * (pos - (double)lo);
}

static void build_numeric(const monitor_column *c, size_t nrows, size_t bins, scratch *w, monitor_ref_column *rc) {
    rc->sorted = big_alloc(nrows * sizeof *rc->sorted);
    scratch_reserve(w, nrows);
    size_t n = monitor__sort_values(c->num, nrows, rc->sorted, w->words, true);
    rc->n = n;
    rc->nmissing = nrows - n;
    double mean = 0, ss = 0;
    for (size_t i = 0; i < n; i++) mean += rc->sorted[i];
    mean = n ? mean / (double)n : 0;
    for (size_t i = 0; i < n; i++) ss += (rc->sorted[i] - mean) * (rc->sorted[i] - mean);
    rc->std = n ? sqrt(ss / (double)n) : 0;
    rc->edges = mp_xmalloc(bins * sizeof *rc->edges);
    rc->bin_counts = mp_xmalloc(bins * sizeof *rc->bin_counts);
    rc->nedges = 0;
    for (size_t k = 1; n && k < bins; k++) {
        double q = quantile(rc->sorted, n, (double)k / (double)bins);
        if (rc->nedges && q <= rc->edges[rc->nedges - 1]) continue; /* ties: pandas' duplicates="drop" */
        rc->edges[rc->nedges++] = q;
    }
    bin_counts(rc->sorted, n, rc->edges, rc->nedges, rc->bin_counts);
}

static void build_text(const monitor_column *c, size_t nrows, monitor_ref_column *rc) {
    rc->ncats = c->ncats;
    rc->cats = mp_xcalloc(c->ncats ? c->ncats : 1, sizeof *rc->cats);
    rc->counts = mp_xcalloc(c->ncats ? c->ncats : 1, sizeof *rc->counts);
    for (size_t k = 0; k < c->ncats; k++) rc->cats[k] = mp_xstrdup(c->cats[k]);
    size_t n = 0;
    for (size_t i = 0; i < nrows; i++)
        if (c->cat[i] != MONITOR_MISSING && c->cat[i] < c->ncats) {
            rc->counts[c->cat[i]]++;
            n++;
        }
    rc->n = n;
    rc->nmissing = nrows - n;
}

static void build_one(void *arg, size_t j, int worker) {
    build_ctx *b = arg;
    const monitor_column *c = b->src[j];
    monitor_ref_column *rc = &b->ref->cols[j];
    rc->name = mp_xstrdup(c->name);
    rc->type = c->type;
    rc->nrows = b->t->nrows;
    if (c->type == MONITOR_COL_TEXT) build_text(c, b->t->nrows, rc);
    else build_numeric(c, b->t->nrows, b->ref->bins, &b->ws[worker], rc);
}

int monitor_reference_build(const monitor_table *t, const char *const *names, size_t nnames, size_t bins,
                            int threads, monitor_reference *ref, mp_err *e) {
    memset(ref, 0, sizeof *ref);
    if (bins == 0) bins = MONITOR_BINS_DEFAULT;
    if (bins < 2 || bins > MONITOR_BINS_MAX)
        return mp_err_set(e, MP_EINVAL, "bins: %zu; give 2 to %d quantile bins", bins, MONITOR_BINS_MAX);
    size_t n = names ? nnames : t->ncols;
    build_ctx *b = mp_xcalloc(1, sizeof *b);
    b->t = t;
    b->ref = ref;
    b->src = mp_xcalloc(n ? n : 1, sizeof *b->src);
    for (size_t j = 0; j < n; j++) {
        b->src[j] = names ? monitor_table_column(t, names[j]) : &t->cols[j];
        if (!b->src[j]) {
            free(b->src);
            free(b);
            return mp_err_set(e, MP_EINVAL, "the reference has no column \"%s\"", names[j]);
        }
    }
    ref->bins = bins;
    ref->ncols = n;
    ref->cols = mp_xcalloc(n ? n : 1, sizeof *ref->cols);
    run_columns(n, threads, build_one, b);
    scratch_free(b->ws);
    free(b->src);
    free(b);
    return 0;
}

void monitor_reference_free(monitor_reference *ref) {
    for (size_t j = 0; j < ref->ncols; j++) {
        monitor_ref_column *c = &ref->cols[j];
        free(c->name);
        free(c->sorted);
        free(c->edges);
        free(c->bin_counts);
        for (size_t k = 0; k < c->ncats; k++) free(c->cats[k]);
        free(c->cats);
        free(c->counts);
    }
    free(ref->cols);
    memset(ref, 0, sizeof *ref);
}

/* ---- one column ---------------------------------------------------------------- */

typedef struct drift_ctx {
    const monitor_reference *ref;
    const monitor_column **cur;
    size_t cur_rows;
    const monitor_drift_options *o;
    monitor_drift_result *r;
    mp_err *errs; /* one a column */
    int *rcs;
    scratch ws[THREADS_MAX];
} drift_ctx;

/* The categorical figures (chi-squared, Z, PSI, JS) of counts over the same k
 * categories; order: the categories' sorted order (the Z-test's 0 and 1). */
static int categorical_figures(const double *ca, const double *cb, size_t k, monitor_column_drift *d, mp_err *e) {
    int rc = 0;
    d->psi = monitor_psi(ca, cb, k);
    if ((rc = monitor_jensenshannon(ca, k, cb, k, &d->js, e))) return rc;
    if (k >= 2 && (rc = monitor_chisquare(ca, k, cb, k, &d->chi2, &d->chi2_p, e))) return rc;
    if (k <= 2) {
        double za[2] = {ca[0], k == 2 ? ca[1] : 0}, zb[2] = {cb[0], k == 2 ? cb[1] : 0};
        if ((rc = monitor_ztest_proportions(za, 2, zb, 2, &d->z, &d->z_p, e))) return rc;
    }
    return 0;
}

/* The test and threshold (NAN: the test's default) that decide a column: the
 * per-column option, else the global one, else Evidently's default choice. */
static monitor_test pick_test(const monitor_drift_options *o, const char *name, monitor_kind kind, size_t n_ref,
                              double *threshold) {
    monitor_test t = o->test;
    double th = o->threshold;
    for (size_t k = 0; k < o->nper_column; k++) {
        if (strcmp(o->per_column[k].column, name) != 0) continue;
        if (o->per_column[k].test != MONITOR_TEST_AUTO) t = o->per_column[k].test;
        if (!isnan(o->per_column[k].threshold)) th = o->per_column[k].threshold;
    }
    bool small = n_ref <= SMALL_REFERENCE;
    if (t == MONITOR_TEST_AUTO) {
        if (kind == MONITOR_KIND_NUMERIC) t = small ? MONITOR_TEST_KS : MONITOR_TEST_WASSERSTEIN;
        else if (!small) t = MONITOR_TEST_JENSENSHANNON;
        else t = kind == MONITOR_KIND_BINARY ? MONITOR_TEST_Z : MONITOR_TEST_CHISQUARE;
    }
    *threshold = th;
    return t;
}

static int numeric_column(const monitor_ref_column *rc, const monitor_column *cc, size_t cur_rows, scratch *w,
                          const monitor_drift_options *o, monitor_column_drift *d, mp_err *e) {
    scratch_reserve(w, cur_rows);
    double *cur = w->vals;
    size_t n = cc ? monitor__sort_values(cc->num, cur_rows, cur, w->words, true) : 0;
    d->n_cur = n;
    d->missing_cur = cur_rows ? (double)(cur_rows - n) / (double)cur_rows : 0;
    int rc_ = 0;
    if (rc->n == 0 || n == 0) return 0;
    double vals[FEW_VALUES], ca[FEW_VALUES], cb[FEW_VALUES];
    d->n_values = distinct_union(rc->sorted, rc->n, cur, n, FEW_VALUES, vals, ca, cb);
    d->kind = d->n_values <= 2 ? MONITOR_KIND_BINARY : d->n_values <= FEW_VALUES ? MONITOR_KIND_CATEGORICAL
                                                                                  : MONITOR_KIND_NUMERIC;
    /* KS and Wasserstein (a merge each) unless o->figures leaves them out and the test is another */
    double th;
    monitor_test t = pick_test(o, rc->name, d->kind, rc->n, &th);
    if (!o->figures || (o->figures & MONITOR_FIGURE_KS) || t == MONITOR_TEST_KS)
        if (monitor_ks_2samp(rc->sorted, rc->n, cur, n, &d->ks_d, &d->ks_p) != 0) d->ks_p = NAN;
    if (!o->figures || (o->figures & MONITOR_FIGURE_WASSERSTEIN) || t == MONITOR_TEST_WASSERSTEIN) {
        d->wasserstein = monitor_wasserstein(rc->sorted, rc->n, cur, n);
        d->wasserstein_norm = d->wasserstein / (rc->std > 0.001 ? rc->std : 0.001);
    }
    if (d->kind == MONITOR_KIND_NUMERIC) {
        size_t nb = rc->nedges + 1;
        double *cc_ = mp_xmalloc(nb * sizeof *cc_);
        bin_counts(cur, n, rc->edges, rc->nedges, cc_);
        d->nbins = nb;
        d->psi = monitor_psi(rc->bin_counts, cc_, nb);
        rc_ = monitor_jensenshannon(rc->bin_counts, nb, cc_, nb, &d->js, e);
        free(cc_);
    } else {
        d->nbins = d->n_values;
        rc_ = categorical_figures(ca, cb, d->n_values, d, e);
    }
    return rc_;
}

static int cmp_cat(const void *a, const void *b) {
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

static int text_column(const monitor_ref_column *rc, const monitor_column *cc, size_t cur_rows,
                       monitor_column_drift *d, mp_err *e) {
    size_t ncur = cc && cc->type == MONITOR_COL_TEXT ? cc->ncats : 0;
    /* The categories of both sides, each once, sorted: pointers to their names. */
    size_t total = rc->ncats + ncur;
    const char **names = mp_xcalloc(total ? total : 1, sizeof *names);
    double *ca = mp_xcalloc(total ? total : 1, sizeof *ca), *cb = mp_xcalloc(total ? total : 1, sizeof *cb);
    const char ***order = mp_xcalloc(total ? total : 1, sizeof *order);
    double *curcount = mp_xcalloc(ncur ? ncur : 1, sizeof *curcount);
    size_t n = 0;
    for (size_t i = 0; ncur && i < cur_rows; i++)
        if (cc->cat[i] != MONITOR_MISSING && cc->cat[i] < ncur) {
            curcount[cc->cat[i]]++;
            n++;
        }
    d->n_cur = n;
    d->missing_cur = cur_rows ? (double)(cur_rows - n) / (double)cur_rows : 0;
    int rc_ = 0;
    const char **all = mp_xcalloc(total ? total : 1, sizeof *all);
    double *wa = mp_xcalloc(total ? total : 1, sizeof *wa), *wb = mp_xcalloc(total ? total : 1, sizeof *wb);
    size_t m = 0;
    for (size_t k = 0; k < rc->ncats; k++)
        if (rc->counts[k] > 0) {
            all[m] = rc->cats[k];
            wa[m] = rc->counts[k];
            m++;
        }
    for (size_t k = 0; k < ncur; k++)
        if (curcount[k] > 0) {
            all[m] = cc->cats[k];
            wb[m] = curcount[k];
            m++;
        }
    for (size_t k = 0; k < m; k++) order[k] = &all[k];
    qsort(order, m, sizeof *order, cmp_cat);
    size_t u = 0;
    for (size_t k = 0; k < m; k++) {
        size_t at = (size_t)(order[k] - all);
        if (u > 0 && strcmp(names[u - 1], all[at]) == 0) {
            ca[u - 1] += wa[at];
            cb[u - 1] += wb[at];
            continue;
        }
        names[u] = all[at];
        ca[u] = wa[at];
        cb[u] = wb[at];
        u++;
    }
    d->n_values = u;
    d->kind = u <= 2 ? MONITOR_KIND_BINARY : MONITOR_KIND_CATEGORICAL;
    d->nbins = u;
    if (rc->n > 0 && n > 0) rc_ = categorical_figures(ca, cb, u, d, e);
    free(all);
    free(wa);
    free(wb);
    free(names);
    free(ca);
    free(cb);
    free(order);
    free(curcount);
    return rc_;
}

/* The test and threshold that decide column d: the per-column option, else the
 * global one, else the default; MP_EINVAL when the test does not fit the column. */
/* Column d's deciding test and threshold, checked against the column; its verdict. */
static int choose(const monitor_drift_options *o, monitor_column_drift *d, mp_err *e) {
    double th;
    monitor_test t = pick_test(o, d->name, d->kind, d->n_ref, &th);
    const char *tn = monitor_test_name(t);
    if ((t == MONITOR_TEST_KS || t == MONITOR_TEST_WASSERSTEIN) && d->type == MONITOR_COL_TEXT)
        return mp_err_set(e, MP_EINVAL, "column \"%s\": %s needs numbers and the column is text: use chisquare, z, "
                          "psi or jensenshannon", d->name, tn);
    if (t == MONITOR_TEST_CHISQUARE && d->kind == MONITOR_KIND_NUMERIC)
        return mp_err_set(e, MP_EINVAL, "column \"%s\": chisquare is for categorical columns (text, or at most %d "
                          "distinct numbers) and it has more than %d values: use ks, wasserstein, psi or "
                          "jensenshannon", d->name, FEW_VALUES, FEW_VALUES);
    if (t == MONITOR_TEST_CHISQUARE && d->n_values < 2)
        return mp_err_set(e, MP_EINVAL, "column \"%s\": chisquare needs 2 categories and it has %zu: use z, psi or "
                          "jensenshannon", d->name, d->n_values);
    if (t == MONITOR_TEST_Z && d->kind != MONITOR_KIND_BINARY)
        return mp_err_set(e, MP_EINVAL, "column \"%s\": z is for binary columns (2 values) and it has %s%zu: use "
                          "chisquare, psi or jensenshannon", d->name,
                          d->kind == MONITOR_KIND_NUMERIC ? "more than " : "", d->kind == MONITOR_KIND_NUMERIC
                          ? (size_t)FEW_VALUES : d->n_values);
    if (isnan(th)) th = default_threshold(t);
    if (monitor_test_is_pvalue(t) ? !(th > 0 && th <= 1) : !(th >= 0 && isfinite(th)))
        return mp_err_set(e, MP_EINVAL, "column \"%s\": threshold %g for %s: give %s", d->name, th, tn,
                          monitor_test_is_pvalue(t) ? "a p-value in (0, 1]" : "a distance >= 0");
    d->test = t;
    d->threshold = th;
    switch (t) {
    case MONITOR_TEST_KS: d->statistic = d->ks_p; break;
    case MONITOR_TEST_CHISQUARE: d->statistic = d->chi2_p; break;
    case MONITOR_TEST_Z: d->statistic = d->z_p; break;
    case MONITOR_TEST_WASSERSTEIN: d->statistic = d->wasserstein_norm; break;
    case MONITOR_TEST_JENSENSHANNON: d->statistic = d->js; break;
    default: d->statistic = d->psi; break;
    }
    if (monitor_test_is_pvalue(t)) d->p_value = d->statistic;
    /* A p-value the test cannot give yet (NAN) decides nothing. */
    d->drifted = monitor_test_is_pvalue(t) ? d->statistic < th : d->statistic >= th;
    return 0;
}

static void drift_one(void *arg, size_t j, int worker) {
    drift_ctx *x = arg;
    const monitor_ref_column *rc = &x->ref->cols[j];
    const monitor_column *cc = x->cur[j];
    monitor_column_drift *d = &x->r->cols[j];
    d->name = rc->name;
    d->type = rc->type == MONITOR_COL_EMPTY && cc ? cc->type : rc->type;
    d->statistic = d->p_value = d->threshold = NAN;
    d->psi = d->ks_d = d->ks_p = d->wasserstein = d->wasserstein_norm = NAN;
    d->chi2 = d->chi2_p = d->js = d->z = d->z_p = NAN;
    d->n_ref = rc->n;
    d->missing_ref = rc->nrows ? (double)rc->nmissing / (double)rc->nrows : 0;
    d->kind = MONITOR_KIND_NUMERIC;
    int rc_;
    if (d->type == MONITOR_COL_TEXT) rc_ = text_column(rc, cc, x->cur_rows, d, &x->errs[j]);
    else rc_ = numeric_column(rc, cc, x->cur_rows, &x->ws[worker], x->o, d, &x->errs[j]);
    d->missing_change = d->missing_cur - d->missing_ref;
    if (rc_ == 0 && (d->n_ref == 0 || d->n_cur == 0)) {
        d->test = MONITOR_TEST_NONE; /* nothing to compare: left out of the share */
    } else if (rc_ == 0) {
        rc_ = choose(x->o, d, &x->errs[j]);
    } else {
        mp_err_prefix(&x->errs[j], "column \"%s\"", d->name);
    }
    x->rcs[j] = rc_;
}

int monitor_drift(const monitor_reference *ref, const monitor_table *cur, const monitor_drift_options *o,
                  monitor_drift_result *r, mp_err *e) {
    memset(r, 0, sizeof *r);
    monitor_drift_options def;
    if (!o) {
        monitor_drift_options_init(&def);
        o = &def;
    }
    double share = isnan(o->drift_share) ? 0.5 : o->drift_share;
    if (!(share > 0 && share <= 1))
        return mp_err_set(e, MP_EINVAL, "drift share %g: give a share of columns in (0, 1]", o->drift_share);
    size_t n = ref->ncols;
    drift_ctx x = {.ref = ref, .cur_rows = cur->nrows, .o = o, .r = r};
    x.cur = mp_xcalloc(n ? n : 1, sizeof *x.cur);
    for (size_t j = 0; j < n; j++) {
        const monitor_ref_column *rc = &ref->cols[j];
        const monitor_column *cc = monitor_table_column(cur, rc->name);
        if (!cc) {
            free(x.cur);
            return mp_err_set(e, MP_EINVAL, "the current sample has no column \"%s\"", rc->name);
        }
        if ((rc->type == MONITOR_COL_NUMERIC && cc->type == MONITOR_COL_TEXT) ||
            (rc->type == MONITOR_COL_TEXT && cc->type == MONITOR_COL_NUMERIC)) {
            free(x.cur);
            return mp_err_set(e, MP_EINVAL, "column \"%s\" is %s in the reference and %s in the current sample",
                              rc->name, monitor_col_type_name(rc->type), monitor_col_type_name(cc->type));
        }
        x.cur[j] = cc->type == MONITOR_COL_EMPTY ? NULL : cc;
    }
    r->cols = mp_xcalloc(n ? n : 1, sizeof *r->cols);
    r->ncols = n;
    x.errs = mp_xcalloc(n ? n : 1, sizeof *x.errs);
    x.rcs = mp_xcalloc(n ? n : 1, sizeof *x.rcs);
    run_columns(n, o->threads, drift_one, &x);
    scratch_free(x.ws);
    int status = 0;
    for (size_t j = 0; j < n && !status; j++)
        if (x.rcs[j]) {
            status = x.rcs[j];
            if (e) *e = x.errs[j];
        }
    for (size_t j = 0; j < n; j++) {
        if (r->cols[j].test == MONITOR_TEST_NONE) continue;
        r->ntested++;
        if (r->cols[j].drifted) r->ndrifted++;
    }
    r->drift_share = share;
    r->share = r->ntested ? (double)r->ndrifted / (double)r->ntested : 0;
    r->drift = r->ntested > 0 && r->share >= share;
    free(x.cur);
    free(x.errs);
    free(x.rcs);
    return status;
}

void monitor_drift_result_free(monitor_drift_result *r) {
    free(r->cols);
    memset(r, 0, sizeof *r);
}
