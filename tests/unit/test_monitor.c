/* test_monitor.c — src/monitor's statistics against SciPy's values
 * (tests/fixtures/drift/cases.h, made by make_fixtures.py there with python3-scipy):
 * KS statistic within 1e-9, exact p-value and Wasserstein within 1e-6 relative; ties,
 * unequal and equal sizes. The asymptotic KS p-value within 1e-6 relative: kstwo.sf(d, n)
 * on a grid of n from 1 to 10^7 that reaches each method SciPy's _kolmogn picks, and
 * ks_2samp on generated samples (most above 10,000 values a side, a few exact ones),
 * made here as make_fixtures.py makes them. PSI against hand-computed values with
 * Evidently's fill.
 * Over category counts, within 1e-6 relative: chi-squared (statistic and p-value,
 * SciPy's chisquare with Evidently's expected counts; a category new in the current
 * sample gives inf and 0), Evidently's Z-test (its formula, in make_fixtures.py; and
 * SciPy's 2 norm.sf(|z|) in the far tail, where Evidently's value is 0) and
 * Jensen–Shannon distance (a category absent from one side, disjoint supports); bad
 * counts refused with a message naming the count. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/monitor.h"
#include "monitor/monitor_int.h"
#include "../fixtures/drift/cases.h"

static void rel_close(double got, double want, double tol, const char *what, const char *name) {
    double err = fabs(got - want) / fmax(fabs(want), 1e-300);
    if (err > tol) fail_msg("%s %s: got %.17g, SciPy %.17g", name, what, got, want);
}

static void test_ks_and_wasserstein(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof ks_cases / sizeof ks_cases[0]; i++) {
        const struct ks_case *c = &ks_cases[i];
        double d, p;
        assert_int_equal(monitor_ks_2samp(c->a, c->na, c->b, c->nb, &d, &p), 0);
        if (fabs(d - c->d) > 1e-9) fail_msg("%s: KS statistic %.17g, SciPy %.17g", c->name, d, c->d);
        rel_close(p, c->p, 1e-6, "KS p-value", c->name);
        rel_close(monitor_wasserstein(c->a, c->na, c->b, c->nb), c->w, 1e-6, "Wasserstein", c->name);
    }
}

/* The largest relative error against SciPy per method, printed for the record. */
struct branch_err {
    const char *branch;
    double err;
    int count;
};

static void note_err(struct branch_err *t, size_t cap, const char *branch, double got, double want) {
    double err = fabs(got - want) / fmax(fabs(want), 1e-300);
    for (size_t i = 0; i < cap; i++) {
        if (!t[i].branch) t[i].branch = branch;
        if (strcmp(t[i].branch, branch) == 0) {
            if (err > t[i].err) t[i].err = err;
            t[i].count++;
            return;
        }
    }
}

static void print_errs(const char *what, const struct branch_err *t, size_t cap) {
    for (size_t i = 0; i < cap && t[i].branch; i++)
        print_message("%s %-20s %3d cases, largest relative error %.3g\n", what, t[i].branch, t[i].count, t[i].err);
}

static void test_kstwo_sf(void **state) {
    (void)state;
    struct branch_err errs[16] = {{0}};
    for (size_t i = 0; i < sizeof kstwo_cases / sizeof kstwo_cases[0]; i++) {
        const struct kstwo_case *c = &kstwo_cases[i];
        char name[96];
        snprintf(name, sizeof name, "kstwo.sf(%.17g, %.0f) [%s]", c->d, c->n, c->branch);
        double sf = monitor__kstwo_sf(c->d, c->n);
        note_err(errs, 16, c->branch, sf, c->sf);
        rel_close(sf, c->sf, 1e-6, "", name);
    }
    print_errs("kstwo.sf", errs, 16);
    assert_true(isnan(monitor__kstwo_sf(0.1, 0)));
    assert_true(isnan(monitor__kstwo_sf(0.1, 2.5)));
    assert_true(isnan(monitor__kstwo_sf(NAN, 10)));
}

static void fill_grid(double *x, size_t n, double x0, double x1) {
    for (size_t i = 0; i < n; i++) x[i] = x0 + x1 * (((double)i + 0.5) / (double)n);
}

static void test_ks_asymptotic(void **state) {
    (void)state;
    struct branch_err errs[16] = {{0}};
    for (size_t i = 0; i < sizeof ks_big_cases / sizeof ks_big_cases[0]; i++) {
        const struct ks_big_case *c = &ks_big_cases[i];
        double *a = malloc(c->na * sizeof *a), *b = malloc(c->nb * sizeof *b);
        assert_non_null(a);
        assert_non_null(b);
        fill_grid(a, c->na, c->a0, c->a1);
        fill_grid(b, c->nb, c->b0, c->b1);
        double d = -1, p = -1;
        assert_int_equal(monitor_ks_2samp(a, c->na, b, c->nb, &d, &p), 0);
        free(a);
        free(b);
        if (fabs(d - c->d) > 1e-9) fail_msg("%s: KS statistic %.17g, SciPy %.17g", c->name, d, c->d);
        note_err(errs, 16, c->branch, p, c->p);
        rel_close(p, c->p, 1e-6, "asymptotic KS p-value", c->name);
    }
    print_errs("ks_2samp", errs, 16);
}

static void test_psi(void **state) {
    (void)state;
    const double r[] = {50, 50, 0}, c[] = {25, 75, 0};
    double want = (0.5 - 0.25) * log(0.5 / 0.25) + (0.5 - 0.75) * log(0.5 / 0.75);
    assert_true(fabs(monitor_psi(r, c, 3) - want) < 1e-12);
    /* an empty bin on one side only: 0.0001 */
    const double r2[] = {10, 10}, c2[] = {20, 0};
    double want2 = (0.5 - 1.0) * log(0.5 / 1.0) + (0.5 - 0.0001) * log(0.5 / 0.0001);
    assert_true(fabs(monitor_psi(r2, c2, 2) - want2) < 1e-12);
}

/* got == want exactly where SciPy's value is 0 or inf, else within 1e-6 relative */
static void cat_close(double got, double want, const char *what, const char *name) {
    if (want == 0 || isinf(want)) {
        if (got != want) fail_msg("%s %s: got %.17g, SciPy %.17g", name, what, got, want);
        return;
    }
    rel_close(got, want, 1e-6, what, name);
}

static void test_chisquare(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof chi_cases / sizeof chi_cases[0]; i++) {
        const struct chi_case *c = &chi_cases[i];
        double stat = -1, p = -1;
        mp_err e = {0};
        if (monitor_chisquare(c->ref, c->n, c->cur, c->n, &stat, &p, &e) != 0) fail_msg("%s: %s", c->name, e.msg);
        cat_close(stat, c->stat, "chi-squared statistic", c->name);
        cat_close(p, c->p, "chi-squared p-value", c->name);
    }
}

static void test_ztest(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof z_cases / sizeof z_cases[0]; i++) {
        const struct z_case *c = &z_cases[i];
        double z = NAN, p = NAN;
        mp_err e = {0};
        if (monitor_ztest_proportions(c->ref, c->n, c->cur, c->n, &z, &p, &e) != 0)
            fail_msg("%s: %s", c->name, e.msg);
        cat_close(z, c->z, "Z statistic", c->name);
        /* Evidently's 2 (1 - Phi(|z|)) where it is accurate; everywhere, SciPy's 2 norm.sf(|z|),
         * which keeps the far tail that 1 - Phi rounds to 0 */
        if (c->p > 1e-9) cat_close(p, c->p, "Z-test p-value (Evidently)", c->name);
        cat_close(p, c->p_sf, "Z-test p-value (2 norm.sf)", c->name);
    }
}

static void test_jensenshannon(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof js_cases / sizeof js_cases[0]; i++) {
        const struct js_case *c = &js_cases[i];
        double js = NAN;
        mp_err e = {0};
        if (monitor_jensenshannon(c->ref, c->n, c->cur, c->n, &js, &e) != 0) fail_msg("%s: %s", c->name, e.msg);
        cat_close(js, c->js, "Jensen-Shannon distance", c->name);
    }
}

/* Each bad input: MP_EINVAL, the outputs untouched, and a message holding want. */
static void refused(int rc, const mp_err *e, double out, const char *want) {
    assert_int_equal(rc, MP_EINVAL);
    assert_int_equal(e->code, MP_EINVAL);
    assert_true(out == -7);
    if (!strstr(e->msg, want)) fail_msg("message '%s' lacks '%s'", e->msg, want);
}

static void test_bad_counts(void **state) {
    (void)state;
    const double a3[] = {1, 2, 3}, b2[] = {1, 2}, zero3[] = {0, 0, 0}, neg3[] = {1, -1, 3}, nan3[] = {1, NAN, 3};
    const double both_empty_r[] = {4, 0, 6}, both_empty_c[] = {5, 0, 5}, one[] = {5};
    double s = -7, p = -7;
    mp_err e = {0};
    refused(monitor_chisquare(a3, 3, b2, 2, &s, &p, &e), &e, s, "the reference has 3 categories and the current sample 2");
    refused(monitor_chisquare(a3, 0, a3, 0, &s, &p, &e), &e, s, "0 categories");
    refused(monitor_chisquare(one, 1, one, 1, &s, &p, &e), &e, s, "at least 2");
    refused(monitor_chisquare(zero3, 3, a3, 3, &s, &p, &e), &e, s, "the reference's counts sum to 0");
    refused(monitor_chisquare(a3, 3, zero3, 3, &s, &p, &e), &e, s, "the current sample's counts sum to 0");
    refused(monitor_chisquare(neg3, 3, a3, 3, &s, &p, &e), &e, s, "reference count 1 is -1");
    refused(monitor_chisquare(a3, 3, nan3, 3, &s, &p, &e), &e, s, "current count 1 is nan");
    refused(monitor_chisquare(both_empty_r, 3, both_empty_c, 3, &s, &p, &e), &e, s,
            "category 1 has count 0 on both sides");
    assert_true(p == -7);

    refused(monitor_ztest_proportions(a3, 3, a3, 3, &s, &p, &e), &e, s, "binary column");
    refused(monitor_ztest_proportions(b2, 2, a3, 3, &s, &p, &e), &e, s, "the reference has 2 categories");
    refused(monitor_ztest_proportions(zero3, 2, b2, 2, &s, &p, &e), &e, s, "sum to 0");
    refused(monitor_ztest_proportions(one, 1, one, 1, &s, &p, &e), &e, s, "at least 2");

    refused(monitor_jensenshannon(a3, 3, b2, 2, &s, &e), &e, s, "the reference has 3 categories");
    refused(monitor_jensenshannon(a3, 0, a3, 0, &s, &e), &e, s, "0 categories");
    refused(monitor_jensenshannon(a3, 3, zero3, 3, &s, &e), &e, s, "sum to 0");
    refused(monitor_jensenshannon(a3, 3, neg3, 3, &s, &e), &e, s, "current count 1 is -1");
    assert_int_equal(monitor_jensenshannon(a3, 3, a3, 3, &s, NULL), 0); /* e may be NULL */
    assert_true(s == 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ks_and_wasserstein),
        cmocka_unit_test(test_kstwo_sf),
        cmocka_unit_test(test_ks_asymptotic),
        cmocka_unit_test(test_psi),
        cmocka_unit_test(test_chisquare),
        cmocka_unit_test(test_ztest),
        cmocka_unit_test(test_jensenshannon),
        cmocka_unit_test(test_bad_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
