/* test_monitor.c — src/monitor's statistics against SciPy's values
 * (tests/fixtures/drift/cases.h, made by make_fixtures.py there with python3-scipy):
 * KS statistic within 1e-9, exact p-value and Wasserstein within 1e-6 relative; ties,
 * unequal and equal sizes. PSI against hand-computed values with Evidently's fill. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "monitor/monitor.h"
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ks_and_wasserstein),
        cmocka_unit_test(test_psi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
