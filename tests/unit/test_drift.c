/* test_drift.c — src/monitor/drift.c: the radix sort against qsort; Evidently's default
 * choice of test (a reference column of <= 1000 values or more, counted after its
 * missing values are dropped; numeric columns with <= 5 distinct values as
 * categorical, <= 2 as binary; text columns); overrides of test and threshold and the
 * tests refused for a column; the figures option; the data set's verdict at its drift share; the same
 * result on 1 or 4 threads; and the statistical properties at the default thresholds,
 * over seeds 1..200 of GSL's MT19937 with standard normal samples: no data-set false
 * alarm for a 10-column data set of identical distributions (per-column and data-set
 * rates printed), and detection of a 0.5-standard-deviation mean shift at n = 1000 in
 * >= 99% of seeds, both for the KS regime (reference of 1000 values) and the
 * normalised Wasserstein regime (1001). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "monitor/monitor.h"

/* ---- tables in memory ----------------------------------------------------------- */

static void table_init(monitor_table *t, size_t ncols, size_t nrows) {
    memset(t, 0, sizeof *t);
    t->cols = mp_xcalloc(ncols, sizeof *t->cols);
    t->ncols = ncols;
    t->nrows = nrows;
}

/* Column j numeric, named name, with values v (NULL: zeros). */
static double *num_col(monitor_table *t, size_t j, const char *name, const double *v) {
    monitor_column *c = &t->cols[j];
    c->name = mp_xstrdup(name);
    c->type = MONITOR_COL_NUMERIC;
    c->num = mp_xcalloc(t->nrows ? t->nrows : 1, sizeof *c->num);
    if (v) memcpy(c->num, v, t->nrows * sizeof *v);
    for (size_t i = 0; v && i < t->nrows; i++)
        if (isnan(v[i])) c->nmissing++;
    return c->num;
}

/* Column j text: row i holds cats[ids[i]] (ids[i] < 0: missing). */
static void text_col(monitor_table *t, size_t j, const char *name, const char *const *cats, size_t ncats,
                     const int *ids) {
    monitor_column *c = &t->cols[j];
    c->name = mp_xstrdup(name);
    c->type = MONITOR_COL_TEXT;
    c->cats = mp_xcalloc(ncats, sizeof *c->cats);
    for (size_t k = 0; k < ncats; k++) c->cats[k] = mp_xstrdup(cats[k]);
    c->ncats = ncats;
    c->cat = mp_xcalloc(t->nrows, sizeof *c->cat);
    for (size_t i = 0; i < t->nrows; i++) {
        c->cat[i] = ids[i] < 0 ? MONITOR_MISSING : (uint32_t)ids[i];
        if (ids[i] < 0) c->nmissing++;
    }
}

static void gaussian(gsl_rng *r, double *v, size_t n, double mean) {
    for (size_t i = 0; i < n; i++) v[i] = mean + gsl_ran_gaussian(r, 1.0);
}

/* Runs drift of cur against ref with options o (NULL: defaults); returns the status. */
static int run(const monitor_table *ref, const monitor_table *cur, const monitor_drift_options *o,
               monitor_drift_result *r, mp_err *e) {
    monitor_reference mr;
    int rc = monitor_reference_build(ref, NULL, 0, 0, o ? o->threads : 1, &mr, e);
    if (rc == 0) rc = monitor_drift(&mr, cur, o, r, e);
    /* The names point into the reference: keep them alive past its free. */
    static char names[64][64];
    for (size_t j = 0; j < r->ncols && j < 64; j++) {
        snprintf(names[j], sizeof names[j], "%s", r->cols[j].name);
        r->cols[j].name = names[j];
    }
    monitor_reference_free(&mr);
    return rc;
}

/* ---- the sort ---------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_sort(void **state) {
    (void)state;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    size_t sizes[] = {0, 1, 5, 63, 64, 1000, 100003};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        double *a = mp_xmalloc((n + 1) * sizeof *a), *b = mp_xmalloc((n + 1) * sizeof *b);
        for (size_t i = 0; i < n; i++) {
            double u = gsl_rng_uniform(r);
            a[i] = u < 0.1 ? (double)(int)(u * 100) - 5 : u < 0.15 ? -INFINITY : u < 0.2 ? INFINITY
                   : gsl_ran_gaussian(r, 1e3) * (u < 0.5 ? 1e-300 : 1);
        }
        memcpy(b, a, n * sizeof *a);
        monitor_sort_doubles(a, n);
        qsort(b, n, sizeof *b, cmp_double);
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i]) fail_msg("n=%zu: sorted[%zu] = %g, qsort %g", n, i, a[i], b[i]);
        free(a);
        free(b);
    }
    gsl_rng_free(r);
}

/* ---- the default test ---------------------------------------------------------- */

/* The default test of a one-column table pair: ref of nref rows, cur of ncur, values
 * made by f(seeded rng, row). */
static monitor_column_drift one_column(size_t nref, size_t ncur, double (*f)(gsl_rng *, size_t)) {
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 7);
    monitor_table ref, cur;
    table_init(&ref, 1, nref);
    table_init(&cur, 1, ncur);
    double *a = num_col(&ref, 0, "x", NULL), *b = num_col(&cur, 0, "x", NULL);
    for (size_t i = 0; i < nref; i++) a[i] = f(r, i);
    for (size_t i = 0; i < ncur; i++) b[i] = f(r, i);
    monitor_drift_result res;
    mp_err e = {0};
    assert_int_equal(run(&ref, &cur, NULL, &res, &e), 0);
    monitor_column_drift d = res.cols[0];
    monitor_drift_result_free(&res);
    monitor_table_free(&ref);
    monitor_table_free(&cur);
    gsl_rng_free(r);
    return d;
}

static double normal(gsl_rng *r, size_t i) { return (void)i, gsl_ran_gaussian(r, 1); }
static double four_values(gsl_rng *r, size_t i) { return (void)i, (double)gsl_rng_uniform_int(r, 4); }
static double five_values(gsl_rng *r, size_t i) { return (void)i, (double)gsl_rng_uniform_int(r, 5); }
static double six_values(gsl_rng *r, size_t i) { return (void)i, (double)gsl_rng_uniform_int(r, 6); }
static double binary(gsl_rng *r, size_t i) { return (void)i, (double)gsl_rng_uniform_int(r, 2); }
static double constant(gsl_rng *r, size_t i) { return (void)r, (void)i, 3.0; }
/* one value in five missing */
static double holes(gsl_rng *r, size_t i) { return i % 5 == 0 ? NAN : gsl_ran_gaussian(r, 1); }

static void test_default_choice(void **state) {
    (void)state;
    struct {
        size_t nref, ncur;
        double (*f)(gsl_rng *, size_t);
        monitor_kind kind;
        monitor_test test;
        double threshold;
    } cases[] = {
        {1000, 800, normal, MONITOR_KIND_NUMERIC, MONITOR_TEST_KS, 0.05},
        {1001, 800, normal, MONITOR_KIND_NUMERIC, MONITOR_TEST_WASSERSTEIN, 0.1},
        {1000, 900, four_values, MONITOR_KIND_CATEGORICAL, MONITOR_TEST_CHISQUARE, 0.05},
        {1000, 900, five_values, MONITOR_KIND_CATEGORICAL, MONITOR_TEST_CHISQUARE, 0.05},
        {1000, 900, six_values, MONITOR_KIND_NUMERIC, MONITOR_TEST_KS, 0.05},
        {2000, 900, five_values, MONITOR_KIND_CATEGORICAL, MONITOR_TEST_JENSENSHANNON, 0.1},
        {1000, 900, binary, MONITOR_KIND_BINARY, MONITOR_TEST_Z, 0.05},
        {1001, 900, binary, MONITOR_KIND_BINARY, MONITOR_TEST_JENSENSHANNON, 0.1},
        {500, 500, constant, MONITOR_KIND_BINARY, MONITOR_TEST_Z, 0.05},
        /* 1250 rows, 250 missing: 1000 values, so the small-reference tests */
        {1250, 1250, holes, MONITOR_KIND_NUMERIC, MONITOR_TEST_KS, 0.05},
        {1255, 1250, holes, MONITOR_KIND_NUMERIC, MONITOR_TEST_WASSERSTEIN, 0.1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        monitor_column_drift d = one_column(cases[k].nref, cases[k].ncur, cases[k].f);
        if (d.kind != cases[k].kind || d.test != cases[k].test || d.threshold != cases[k].threshold)
            fail_msg("case %zu: kind %s test %s threshold %g, want %s %s %g", k, monitor_kind_name(d.kind),
                     monitor_test_name(d.test), d.threshold, monitor_kind_name(cases[k].kind),
                     monitor_test_name(cases[k].test), cases[k].threshold);
    }
    monitor_column_drift d = one_column(1250, 1250, holes);
    assert_int_equal(d.n_ref, 1000);
    assert_true(fabs(d.missing_ref - 0.2) < 1e-12 && fabs(d.missing_cur - 0.2) < 1e-12 && d.missing_change == 0);
    d = one_column(500, 500, constant);
    assert_true(d.p_value == 1 && !d.drifted && d.n_values == 1);
    d = one_column(1000, 900, four_values);
    assert_int_equal(d.n_values, 4);
    assert_true(!isnan(d.chi2_p) && !isnan(d.psi) && !isnan(d.js) && !isnan(d.ks_d));
    d = one_column(1000, 800, normal);
    assert_int_equal(d.nbins, 10);
    assert_true(isnan(d.chi2) && d.p_value == d.ks_p && d.wasserstein > 0);
}

/* Text columns: three categories (chi-squared), two (Z), a category new in the current
 * sample (chi-squared's inf: drift), and categories matched by their text, not their ids. */
static void test_text_columns(void **state) {
    (void)state;
    static const char *const abc[] = {"a", "b", "c"}, *const cba[] = {"c", "b", "a", "new"};
    int ra[300], rb[300], cur_same[300], cur_new[300];
    for (int i = 0; i < 300; i++) {
        ra[i] = i % 3;
        rb[i] = i % 2;
        cur_same[i] = 2 - i % 3; /* the same categories with ids reversed */
        cur_new[i] = i < 30 ? 3 : 2 - i % 3;
    }
    ra[7] = -1;
    monitor_table ref, cur;
    table_init(&ref, 2, 300);
    text_col(&ref, 0, "t3", abc, 3, ra);
    text_col(&ref, 1, "t2", abc, 2, rb);
    table_init(&cur, 2, 300);
    text_col(&cur, 0, "t3", cba, 4, cur_same);
    text_col(&cur, 1, "t2", abc, 2, rb);
    monitor_drift_result res;
    mp_err e = {0};
    assert_int_equal(run(&ref, &cur, NULL, &res, &e), 0);
    assert_int_equal(res.cols[0].test, MONITOR_TEST_CHISQUARE);
    assert_int_equal(res.cols[0].kind, MONITOR_KIND_CATEGORICAL);
    assert_int_equal(res.cols[0].n_values, 3);
    assert_false(res.cols[0].drifted);
    assert_true(res.cols[0].p_value > 0.9);
    assert_true(fabs(res.cols[0].missing_ref - 1.0 / 300) < 1e-12);
    assert_int_equal(res.cols[1].test, MONITOR_TEST_Z);
    assert_true(res.cols[1].p_value == 1 && res.cols[1].js == 0 && res.cols[1].psi == 0);
    assert_true(isnan(res.cols[0].ks_d) && isnan(res.cols[0].wasserstein));
    monitor_drift_result_free(&res);
    monitor_table_free(&cur);
    table_init(&cur, 2, 300);
    text_col(&cur, 0, "t3", cba, 4, cur_new);
    text_col(&cur, 1, "t2", abc, 2, rb);
    assert_int_equal(run(&ref, &cur, NULL, &res, &e), 0);
    assert_int_equal(res.cols[0].n_values, 4);
    assert_true(res.cols[0].drifted && res.cols[0].p_value == 0 && isinf(res.cols[0].chi2));
    monitor_drift_result_free(&res);
    /* ks does not fit a text column */
    monitor_drift_options o;
    monitor_drift_options_init(&o);
    o.test = MONITOR_TEST_KS;
    assert_int_equal(run(&ref, &cur, &o, &res, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "\"t3\""));
    monitor_drift_result_free(&res);
    monitor_table_free(&ref);
    monitor_table_free(&cur);
}

/* ---- overrides and the data set's verdict ---------------------------------------- */

/* ncols columns of n N(0,1) values; the current sample's first nshift columns shifted
 * by shift. */
static void make_pair(monitor_table *ref, monitor_table *cur, size_t ncols, size_t nref, size_t ncur, size_t nshift,
                      double shift, unsigned long seed) {
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    table_init(ref, ncols, nref);
    table_init(cur, ncols, ncur);
    for (size_t j = 0; j < ncols; j++) {
        char name[32];
        snprintf(name, sizeof name, "x%zu", j);
        gaussian(r, num_col(ref, j, name, NULL), nref, 0);
        gaussian(r, num_col(cur, j, name, NULL), ncur, j < nshift ? shift : 0);
    }
    gsl_rng_free(r);
}

static void test_overrides(void **state) {
    (void)state;
    monitor_table ref, cur;
    make_pair(&ref, &cur, 3, 500, 500, 1, 0.3, 11);
    monitor_drift_options o;
    monitor_drift_options_init(&o);
    monitor_column_option per[] = {{"x1", MONITOR_TEST_WASSERSTEIN, 0.5}, {"x2", MONITOR_TEST_AUTO, 0.5}};
    o.test = MONITOR_TEST_PSI;
    o.threshold = 0.01;
    o.per_column = per;
    o.nper_column = 2;
    monitor_drift_result res;
    mp_err e = {0};
    assert_int_equal(run(&ref, &cur, &o, &res, &e), 0);
    assert_int_equal(res.cols[0].test, MONITOR_TEST_PSI);
    assert_true(res.cols[0].threshold == 0.01 && res.cols[0].statistic == res.cols[0].psi);
    assert_true(res.cols[0].drifted == (res.cols[0].psi >= 0.01));
    assert_true(isnan(res.cols[0].p_value));
    assert_int_equal(res.cols[1].test, MONITOR_TEST_WASSERSTEIN);
    assert_true(res.cols[1].threshold == 0.5 && res.cols[1].statistic == res.cols[1].wasserstein_norm);
    assert_false(res.cols[1].drifted);
    assert_int_equal(res.cols[2].test, MONITOR_TEST_PSI);
    assert_true(res.cols[2].threshold == 0.5);
    monitor_drift_result_free(&res);
    /* figures: only KS beside the deciding test; the deciding test's figure always */
    monitor_drift_options_init(&o);
    o.test = MONITOR_TEST_PSI;
    o.figures = MONITOR_FIGURE_KS;
    o.per_column = per;
    o.nper_column = 1; /* x1: wasserstein */
    assert_int_equal(run(&ref, &cur, &o, &res, &e), 0);
    assert_true(!isnan(res.cols[0].ks_d) && !isnan(res.cols[0].psi) && isnan(res.cols[0].wasserstein));
    assert_true(!isnan(res.cols[1].wasserstein_norm) && res.cols[1].statistic == res.cols[1].wasserstein_norm);
    monitor_drift_result_free(&res);
    /* tests that do not fit: chi-squared and Z on a numeric column; thresholds out of range */
    monitor_test bad[] = {MONITOR_TEST_CHISQUARE, MONITOR_TEST_Z};
    for (size_t k = 0; k < 2; k++) {
        monitor_drift_options_init(&o);
        o.test = bad[k];
        assert_int_equal(run(&ref, &cur, &o, &res, &e), MP_EINVAL);
        assert_non_null(strstr(e.msg, "column \"x0\""));
        monitor_drift_result_free(&res);
    }
    monitor_drift_options_init(&o);
    o.threshold = 2; /* a p-value threshold above 1 for KS */
    assert_int_equal(run(&ref, &cur, &o, &res, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "threshold"));
    monitor_drift_result_free(&res);
    monitor_drift_options_init(&o);
    o.drift_share = 0;
    assert_int_equal(run(&ref, &cur, &o, &res, &e), MP_EINVAL);
    monitor_drift_result_free(&res);
    monitor_table_free(&ref);
    monitor_table_free(&cur);
}

static void test_dataset_verdict(void **state) {
    (void)state;
    monitor_table ref, cur;
    make_pair(&ref, &cur, 4, 800, 800, 2, 1.0, 5); /* 2 of 4 columns shifted by 1 sd */
    monitor_drift_result res;
    mp_err e = {0};
    assert_int_equal(run(&ref, &cur, NULL, &res, &e), 0);
    assert_int_equal(res.ntested, 4);
    assert_int_equal(res.ndrifted, 2);
    assert_true(res.cols[0].drifted && res.cols[1].drifted && !res.cols[2].drifted && !res.cols[3].drifted);
    assert_true(res.share == 0.5 && res.drift_share == 0.5 && res.drift);
    monitor_drift_result_free(&res);
    monitor_drift_options o;
    monitor_drift_options_init(&o);
    o.drift_share = 0.75;
    assert_int_equal(run(&ref, &cur, &o, &res, &e), 0);
    assert_false(res.drift);
    monitor_drift_result_free(&res);
    /* a numeric column against a text one */
    monitor_table_free(&cur);
    table_init(&cur, 4, 2);
    static const char *const ab[] = {"a", "b"};
    int ids[] = {0, 1};
    for (size_t j = 0; j < 4; j++) {
        char name[8];
        snprintf(name, sizeof name, "x%zu", j);
        if (j == 2) text_col(&cur, j, name, ab, 2, ids);
        else num_col(&cur, j, name, NULL);
    }
    assert_int_equal(run(&ref, &cur, NULL, &res, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "\"x2\" is numeric in the reference and text"));
    monitor_drift_result_free(&res);
    monitor_table_free(&ref);
    monitor_table_free(&cur);
}

static void test_threads(void **state) {
    (void)state;
    monitor_table ref, cur;
    make_pair(&ref, &cur, 9, 3000, 2000, 4, 0.2, 3);
    monitor_drift_options o;
    monitor_drift_options_init(&o);
    monitor_drift_result r1, r4;
    mp_err e = {0};
    o.threads = 1;
    assert_int_equal(run(&ref, &cur, &o, &r1, &e), 0);
    o.threads = 4;
    assert_int_equal(run(&ref, &cur, &o, &r4, &e), 0);
    for (size_t j = 0; j < 9; j++) {
        r1.cols[j].name = r4.cols[j].name = NULL; /* the same static buffer: compare the rest */
        assert_memory_equal(&r1.cols[j], &r4.cols[j], sizeof r1.cols[j]);
    }
    assert_true(r1.ndrifted == r4.ndrifted && r1.drift == r4.drift);
    monitor_drift_result_free(&r1);
    monitor_drift_result_free(&r4);
    monitor_table_free(&ref);
    monitor_table_free(&cur);
}

/* ---- statistical properties at the default thresholds ---------------------------- */

#define SEEDS 200

static void test_no_false_alarm(void **state) {
    (void)state;
    size_t sizes[] = {1000, 2000}; /* KS regime, normalised Wasserstein regime */
    for (size_t s = 0; s < 2; s++) {
        size_t col_alarms = 0, set_alarms = 0;
        for (unsigned long seed = 1; seed <= SEEDS; seed++) {
            monitor_table ref, cur;
            make_pair(&ref, &cur, 10, sizes[s], sizes[s], 0, 0, seed);
            monitor_drift_result res;
            mp_err e = {0};
            assert_int_equal(run(&ref, &cur, NULL, &res, &e), 0);
            col_alarms += res.ndrifted;
            set_alarms += res.drift;
            monitor_drift_result_free(&res);
            monitor_table_free(&ref);
            monitor_table_free(&cur);
        }
        printf("drift: same distribution, n = %zu (%s), %d seeds x 10 columns: per-column alarm rate %.4f "
               "(%zu of %d), data-set alarm rate %.4f (%zu of %d)\n",
               sizes[s], s ? "wasserstein" : "ks", SEEDS, (double)col_alarms / (10.0 * SEEDS), col_alarms,
               10 * SEEDS, (double)set_alarms / SEEDS, set_alarms, SEEDS);
        assert_int_equal(set_alarms, 0);
        if (s == 0) assert_true((double)col_alarms / (10.0 * SEEDS) < 0.08); /* KS at p < 0.05: about 5% */
    }
}

static void test_detects_half_sd_shift(void **state) {
    (void)state;
    size_t nrefs[] = {1000, 1001};
    for (size_t s = 0; s < 2; s++) {
        size_t hits = 0;
        for (unsigned long seed = 1; seed <= SEEDS; seed++) {
            monitor_table ref, cur;
            make_pair(&ref, &cur, 1, nrefs[s], 1000, 1, 0.5, seed);
            monitor_drift_result res;
            mp_err e = {0};
            assert_int_equal(run(&ref, &cur, NULL, &res, &e), 0);
            assert_int_equal(res.cols[0].test, s ? MONITOR_TEST_WASSERSTEIN : MONITOR_TEST_KS);
            hits += res.cols[0].drifted;
            monitor_drift_result_free(&res);
            monitor_table_free(&ref);
            monitor_table_free(&cur);
        }
        printf("drift: 0.5 sd shift, reference %zu, current 1000 (%s): detected in %zu of %d seeds (%.1f%%)\n",
               nrefs[s], s ? "wasserstein" : "ks", hits, SEEDS, 100.0 * (double)hits / SEEDS);
        assert_true(hits >= (size_t)(0.99 * SEEDS));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_default_choice),
        cmocka_unit_test(test_text_columns),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_dataset_verdict),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_no_false_alarm),
        cmocka_unit_test(test_detects_half_sd_shift),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
