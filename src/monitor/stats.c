/* stats.c — the two-sample statistics of monitor.h: Kolmogorov–Smirnov with SciPy's
 * p-value (exact here; the asymptotic one from ksdist.c), Wasserstein distance, PSI
 * with Evidently's empty-bin fill.
 * Pure; no state; any thread. KS and Wasserstein merge the two sorted arrays in one
 * pass, O(na + nb). */
#include "monitor/monitor.h"
#include "monitor/monitor_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define KS_MAX_EXACT_N 10000 /* SciPy's MAX_AUTO_N */

static uint64_t gcd64(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Pr(D_{n,n} >= h/n): Hodges (1958), Horner form as SciPy's _compute_prob_outside_square. */
static double prob_outside_square(int64_t n, int64_t h) {
    double P = 0.0;
    for (int64_t k = n / h; k >= 0; k--) {
        double p1 = 1.0;
        for (int64_t j = 0; j < h; j++) p1 = (double)(n - k * h - j) * p1 / (double)(n + k * h + j + 1);
        P = p1 * (1.0 - P);
    }
    return 2 * P;
}

/* 1 - Pr(paths stay strictly inside |x/m - y/n| < h/lcm): Hodges' inside method with
 * Viehmann's (2021, arXiv:2102.08037) recursion for 1-p, as SciPy's
 * _compute_outer_prob_inside_method. */
static double outer_prob_inside(int64_t m, int64_t n, int64_t g, int64_t h) {
    if (m < n) {
        int64_t t = m;
        m = n;
        n = t;
    }
    int64_t mg = m / g, ng = n / g;
    int64_t minj = 0, maxj = (int64_t)ceil((double)h / (double)mg);
    if (maxj > n + 1) maxj = n + 1;
    int64_t curlen = maxj - minj;
    int64_t lenA = 2 * maxj + 2 < n + 1 ? 2 * maxj + 2 : n + 1;
    double *A = malloc((size_t)lenA * sizeof *A);
    if (!A) return NAN;
    for (int64_t i = 0; i < lenA; i++) A[i] = 1.0;
    for (int64_t i = minj; i < maxj; i++) A[i] = 0.0;
    for (int64_t i = 1; i <= m; i++) {
        int64_t lastminj = minj, lastlen = curlen;
        minj = (int64_t)floor((double)(ng * i - h) / (double)mg) + 1;
        if (minj < 0) minj = 0;
        if (minj > n) minj = n;
        maxj = (int64_t)ceil((double)(ng * i + h) / (double)mg);
        if (maxj > n + 1) maxj = n + 1;
        if (maxj <= minj) {
            free(A);
            return 1.0;
        }
        double val = minj == 0 ? 0.0 : 1.0;
        for (int64_t jj = 0; jj < maxj - minj; jj++) {
            int64_t j = jj + minj;
            val = (A[jj + minj - lastminj] * (double)i + val * (double)j) / (double)(i + j);
            A[jj] = val;
        }
        curlen = maxj - minj;
        for (int64_t k = 0; lastlen > curlen && k < lastlen - curlen; k++) A[maxj - minj + k] = 1;
    }
    double r = A[maxj - minj - 1];
    free(A);
    return r;
}

/* The extremes of F_a - F_b after each distinct value, as SciPy's
 * searchsorted(side="right") gives them: the plain merge, for sizes the fast one
 * below does not cover. */
static void ks_extremes_plain(const double *a, size_t na, const double *b, size_t nb, double *maxS, double *minS) {
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        double v = j >= nb || (i < na && a[i] <= b[j]) ? a[i] : b[j];
        while (i < na && a[i] <= v) i++;
        while (j < nb && b[j] <= v) j++;
        double diff = (double)i / (double)na - (double)j / (double)nb;
        if (diff > *maxS) *maxS = diff;
        if (diff < *minS) *minS = diff;
    }
}

/* The same extremes, bit for bit, from a merge that takes one value a step without
 * branching on the data. Each state (i, j) where the values taken are all below the
 * ones left (a distinct value's last) is scored by E = i nb - j na, the exact
 * difference times na nb, in integers; its double i / na - j / nb is computed only
 * where E reaches the extreme so far. With na nb <= 2^50 two states of different E
 * differ by 1 / (na nb) > 6 * 2^-53, more than the rounding of both doubles (3 * 2^-53
 * each), so the double extremes lie among the states of extreme E; their doubles are
 * compared among themselves as the plain merge compares them. */
#define KS_FAST_MAX_PRODUCT ((uint64_t)1 << 50)
#define KS_SCORE(i_, j_, e_)                                                                                     \
    do {                                                                                                       \
        if ((e_) >= emax) {                                                                                    \
            double diff_ = (double)(i_) / (double)na - (double)(j_) / (double)nb;                              \
            if ((e_) > emax || diff_ > *maxS) *maxS = diff_;                                                   \
            emax = (e_);                                                                                       \
        }                                                                                                      \
        if ((e_) <= emin) {                                                                                    \
            double diff_ = (double)(i_) / (double)na - (double)(j_) / (double)nb;                              \
            if ((e_) < emin || diff_ < *minS) *minS = diff_;                                                   \
            emin = (e_);                                                                                       \
        }                                                                                                      \
    } while (0)

/* + sa when took (0 or 1) is 1, - sb when it is 0, without a branch. */
static inline int64_t ks_step(size_t took, int64_t sa, int64_t sb) {
    return (int64_t)((0 - (uint64_t)took) & (uint64_t)(sa + sb)) - sb;
}

static void ks_extremes_fast(const double *a, size_t na, const double *b, size_t nb, double *maxS, double *minS) {
    int64_t emax = INT64_MIN, emin = INT64_MAX, sa = (int64_t)nb, sb = (int64_t)na;
    /* Two merges at once, two chains of loads the processor overlaps: one from the
     * smallest values (state (i, j), e; ties: a first) and one from the largest
     * (state (I, J), E; ties: b first), so that both walk the same order of the values
     * and meet. A state is scored when the value taken last lies below the next one
     * (from the top: above the next one down); NaN: nothing taken yet. */
    size_t i = 0, j = 0, I = na, J = nb;
    int64_t e = 0, E = 0;
    double last = NAN, top = NAN;
    while (i < na && j < nb && I > 0 && J > 0 && i + j + 2 <= I + J) {
        double x = a[i], y = b[j], X = a[I - 1], Y = b[J - 1];
        size_t take_a = x <= y, top_a = X > Y;
        double v = y < x ? y : x; /* x when x <= y: minsd, no branch */
        double V = X > Y ? X : Y; /* maxsd */
        if (v > last) KS_SCORE(i, j, e); /* everything taken is below what is left */
        if (V < top) KS_SCORE(I, J, E);  /* everything left is below what the top took */
        last = v;
        top = V;
        i += take_a;
        j += 1 - take_a;
        e += ks_step(take_a, sa, sb);
        I -= top_a;
        J -= 1 - top_a;
        E -= ks_step(top_a, sa, sb);
    }
    size_t meet = I + J; /* na + nb when the top merge took nothing */
    while (i < na && j < nb && i + j < meet) {
        double x = a[i], y = b[j];
        size_t take_a = x <= y;
        double v = y < x ? y : x;
        if (v > last) KS_SCORE(i, j, e);
        last = v;
        i += take_a;
        j += 1 - take_a;
        e += ks_step(take_a, sa, sb);
    }
    for (; i < na && i + j < meet; i++, e += sa) { /* b is used up */
        if (a[i] > last) KS_SCORE(i, j, e);
        last = a[i];
    }
    for (; j < nb && i + j < meet; j++, e -= sb) { /* a is used up */
        if (b[j] > last) KS_SCORE(i, j, e);
        last = b[j];
    }
    if (meet < na + nb && last < top) KS_SCORE(i, j, e); /* where the two met: (i, j) = (I, J) */
    KS_SCORE(na, nb, (int64_t)0);                       /* everything taken: 1 - 1 */
}

int monitor_ks_2samp(const double *a, size_t na, const double *b, size_t nb, double *d, double *p) {
    /* ECDF difference after each distinct value, as SciPy's searchsorted(side="right") gives it. */
    double maxS = -INFINITY, minS = INFINITY;
    if (na && nb && (uint64_t)na <= KS_FAST_MAX_PRODUCT / (uint64_t)nb) ks_extremes_fast(a, na, b, nb, &maxS, &minS);
    else ks_extremes_plain(a, na, b, nb, &maxS, &minS);
    double neg = -minS;
    if (neg < 0) neg = 0;
    if (neg > 1) neg = 1;
    *d = neg > maxS ? neg : maxS;
    size_t big = na > nb ? na : nb;
    if (big <= KS_MAX_EXACT_N) {
        /* SciPy's _attempt_exact_2kssamp: d moves to the lattice h / lcm(na, nb) */
        uint64_t g = gcd64(na, nb);
        double lcm = (double)(na / g) * (double)nb;
        int64_t h = (int64_t)nearbyint(*d * lcm);
        *d = (double)h / lcm;
        if (h == 0) {
            *p = 1.0;
            return 0;
        }
        double prob = na == nb ? prob_outside_square((int64_t)na, h)
                               : outer_prob_inside((int64_t)na, (int64_t)nb, (int64_t)g, h);
        if (prob >= 0 && prob <= 1) {
            *p = prob;
            return 0;
        }
        /* not a probability (NaN: no memory, or rounding): SciPy goes on to the
         * asymptotic p-value, with the lattice d */
    }
    /* SciPy's asymptotic mode: kstwo.sf(d, round(m n / (m + n))), m >= n, round half even */
    double m = (double)big, n = (double)(na > nb ? nb : na);
    double en = nearbyint(m * n / (m + n));
    double prob = monitor__kstwo_sf(*d, en);
    if (isnan(prob)) {
        *p = NAN;
        return -1;
    }
    *p = prob < 0 ? 0 : prob > 1 ? 1 : prob;
    return 0;
}

double monitor_wasserstein(const double *a, size_t na, const double *b, size_t nb) {
    /* SciPy's _cdf_distance(p=1): sum over the merged values of |F_a - F_b| * gap. */
    size_t i = 0, j = 0;
    long double sum = 0;
    double prev = 0;
    int started = 0;
    while (i < na || j < nb) {
        double v = j >= nb || (i < na && a[i] <= b[j]) ? a[i] : b[j];
        if (started) {
            double fa = (double)i / (double)na, fb = (double)j / (double)nb;
            sum += (long double)fabs(fa - fb) * (long double)(v - prev);
        }
        if (j >= nb || (i < na && a[i] <= b[j])) i++;
        else j++;
        prev = v;
        started = 1;
    }
    return (double)sum;
}

static void fill_zeroes(double *s, size_t n) {
    double min = INFINITY;
    for (size_t k = 0; k < n; k++)
        if (s[k] != 0 && s[k] < min) min = s[k];
    double fill = min <= 0.0001 ? min / 1e6 : 0.0001;
    for (size_t k = 0; k < n; k++)
        if (s[k] == 0) s[k] = fill;
}

double monitor_psi(const double *ref_counts, const double *cur_counts, size_t nbins) {
    double rt = 0, ct = 0;
    for (size_t k = 0; k < nbins; k++) {
        rt += ref_counts[k];
        ct += cur_counts[k];
    }
    double *r = malloc(2 * nbins * sizeof *r);
    if (!r) return NAN;
    double *c = r + nbins;
    for (size_t k = 0; k < nbins; k++) {
        r[k] = ref_counts[k] / rt;
        c[k] = cur_counts[k] / ct;
    }
    fill_zeroes(r, nbins);
    fill_zeroes(c, nbins);
    double psi = 0;
    for (size_t k = 0; k < nbins; k++) psi += (r[k] - c[k]) * log(r[k] / c[k]);
    free(r);
    return psi;
}
