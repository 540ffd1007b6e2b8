/* categorical.c — the statistics of monitor.h over category counts: chi-squared
 * (SciPy's chisquare with Evidently's expected counts, p-value from GSL), Evidently's
 * pooled two-proportion Z-test for binary columns, Jensen–Shannon distance (SciPy's).
 * Pure over caller-owned arrays; any thread. The one piece of process-wide state is
 * GSL's error handler: its default aborts the process, so the first chi-squared call
 * turns it off (pthread_once) and a failed GSL evaluation becomes an MP_EINTERNAL
 * here instead. Nothing else in mlplane uses GSL. */
#include "monitor/monitor.h"

#include <math.h>
#include <pthread.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>

static pthread_once_t gsl_handler_once = PTHREAD_ONCE_INIT;

static void gsl_handler_off(void) { gsl_set_error_handler_off(); }

/* The checks every test here makes: the same number of categories on both sides, at
 * least min_cat of them, each count finite and >= 0, each side's sum > 0. Sets *rt and
 * *ct to the sums. */
static int check_counts(const char *test, const double *ref, size_t nref, const double *cur, size_t ncur,
                        size_t min_cat, double *rt, double *ct, mp_err *e) {
    if (nref != ncur)
        return mp_err_set(e, MP_EINVAL,
                          "%s: the reference has %zu categories and the current sample %zu: pass the counts of "
                          "the same categories in the same order (0 where a side has none)",
                          test, nref, ncur);
    if (nref < min_cat)
        return mp_err_set(e, MP_EINVAL, "%s: %zu categories; it needs at least %zu", test, nref, min_cat);
    double sr = 0, sc = 0;
    for (size_t k = 0; k < nref; k++) {
        if (!isfinite(ref[k]) || ref[k] < 0)
            return mp_err_set(e, MP_EINVAL, "%s: reference count %zu is %g: counts are finite and >= 0", test, k,
                              ref[k]);
        if (!isfinite(cur[k]) || cur[k] < 0)
            return mp_err_set(e, MP_EINVAL, "%s: current count %zu is %g: counts are finite and >= 0", test, k,
                              cur[k]);
        sr += ref[k];
        sc += cur[k];
    }
    if (sr <= 0) return mp_err_set(e, MP_EINVAL, "%s: the reference's counts sum to 0 (no values)", test);
    if (sc <= 0) return mp_err_set(e, MP_EINVAL, "%s: the current sample's counts sum to 0 (no values)", test);
    *rt = sr;
    *ct = sc;
    return 0;
}

int monitor_chisquare(const double *ref_counts, size_t nref, const double *cur_counts, size_t ncur,
                      double *stat, double *p, mp_err *e) {
    double rt, ct;
    int rc = check_counts("chi-squared", ref_counts, nref, cur_counts, ncur, 2, &rt, &ct, e);
    if (rc) return rc;
    double k_norm = ct / rt, s = 0;
    int absent = 0; /* a category the reference lacks and the current sample has */
    for (size_t k = 0; k < nref; k++) {
        double expected = ref_counts[k] * k_norm;
        if (expected == 0) {
            if (cur_counts[k] == 0)
                return mp_err_set(e, MP_EINVAL,
                                  "chi-squared: category %zu has count 0 on both sides (its term is 0/0): leave it "
                                  "out of the counts",
                                  k);
            absent = 1;
            continue;
        }
        double d = cur_counts[k] - expected;
        s += d * d / expected;
    }
    if (absent) {
        *stat = INFINITY;
        *p = 0;
        return 0;
    }
    pthread_once(&gsl_handler_once, gsl_handler_off);
    double q = gsl_cdf_chisq_Q(s, (double)(nref - 1));
    if (!(q >= 0 && q <= 1))
        return mp_err_set(e, MP_EINTERNAL, "chi-squared: GSL gave no p-value for %g with %zu degrees of freedom", s,
                          nref - 1);
    *stat = s;
    *p = q;
    return 0;
}

int monitor_ztest_proportions(const double *ref_counts, size_t nref, const double *cur_counts, size_t ncur,
                              double *z, double *p, mp_err *e) {
    double n1, n2;
    int rc = check_counts("Z-test", ref_counts, nref, cur_counts, ncur, 2, &n1, &n2, e);
    if (rc) return rc;
    if (nref != 2)
        return mp_err_set(e, MP_EINVAL, "Z-test: %zu categories; it is for a binary column (2): use chi-squared",
                          nref);
    if ((ref_counts[1] == 0 && cur_counts[1] == 0) || (ref_counts[0] == 0 && cur_counts[0] == 0)) {
        *z = 0; /* one and the same value on both sides */
        *p = 1;
        return 0;
    }
    double p1 = ref_counts[1] / n1, p2 = cur_counts[1] / n2;
    double P = (p1 * n1 + p2 * n2) / (n1 + n2);
    *z = (p1 - p2) / sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2));
    /* 2 (1 - Phi(|z|)) without the cancellation of 1 - Phi: the same value where Evidently's
     * is accurate, and the far tail that 1 - Phi rounds to 0 kept. */
    *p = erfc(fabs(*z) / sqrt(2.0));
    return 0;
}

int monitor_jensenshannon(const double *ref_counts, size_t nref, const double *cur_counts, size_t ncur,
                          double *js, mp_err *e) {
    double rt, ct;
    int rc = check_counts("Jensen-Shannon", ref_counts, nref, cur_counts, ncur, 1, &rt, &ct, e);
    if (rc) return rc;
    double sum = 0;
    for (size_t k = 0; k < nref; k++) {
        double pk = ref_counts[k] / rt, qk = cur_counts[k] / ct, mk = (pk + qk) / 2;
        if (pk > 0) sum += pk * log(pk / mk); /* SciPy's rel_entr: 0 where the share is 0 */
        if (qk > 0) sum += qk * log(qk / mk);
    }
    *js = sum > 0 ? sqrt(sum / 2) : 0;
    return 0;
}
