/* stats.c — the two-sample statistics of monitor.h: Kolmogorov–Smirnov with SciPy's
 * p-value (exact here; the asymptotic one from ksdist.c), Wasserstein distance, PSI
 * with Evidently's empty-bin fill.
 * Pure; no state; any thread. KS and Wasserstein merge the two sorted arrays in one
 * pass, O(na + nb). */
#include "monitor/monitor.h"
#include "monitor/monitor_int.h"

#include <math.h>
#include <stdbool.h>
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

/* The same extremes, bit for bit, from merges that take one value a step without
 * branching on the data. The values of both samples are walked in one order (by
 * value; on ties a before b), and each state (i, j) where the values taken are all
 * below the ones left (a distinct value's last) is scored by E = i nb - j na, the
 * exact difference times na nb, in integers; its double i / na - j / nb is computed
 * only where E reaches the extreme so far. With na nb <= 2^50 two states of different
 * E differ by 1 / (na nb) > 6 * 2^-53, more than the rounding of both doubles
 * (3 * 2^-53 each), so the double extremes lie among the states of extreme E; their
 * doubles are compared among themselves as the plain merge compares them. The order
 * is cut in two halves, each walked from both ends at once: four chains of loads the
 * processor overlaps. */
#define KS_FAST_MAX_PRODUCT ((uint64_t)1 << 50)

typedef struct ks_best {
    int64_t emax, emin;
    double *maxS, *minS;
    size_t na, nb;
} ks_best;

__attribute__((noinline)) static void ks_score_extreme(ks_best *k, size_t i, size_t j, int64_t e) {
    double diff = (double)i / (double)k->na - (double)j / (double)k->nb;
    if (e >= k->emax) {
        if (e > k->emax || diff > *k->maxS) *k->maxS = diff;
        k->emax = e;
    }
    if (e <= k->emin) {
        if (e < k->emin || diff < *k->minS) *k->minS = diff;
        k->emin = e;
    }
}

static inline void ks_score(ks_best *k, size_t i, size_t j, int64_t e) {
    if (e >= k->emax || e <= k->emin) ks_score_extreme(k, i, j, e);
}

/* One walk: its state (i values of a and j of b taken, e = i nb - j na) and the value
 * it took last (NaN: none yet). A walk from the top holds the values it has not
 * taken. */
typedef struct ks_walk {
    size_t i, j;
    int64_t e;
    double last;
} ks_walk;

/* + sa when took (0 or 1) is 1, - sb when it is 0, without a branch. */
static inline int64_t ks_step(size_t took, int64_t sa, int64_t sb) {
    return (int64_t)((0 - (uint64_t)took) & (uint64_t)(sa + sb)) - sb;
}

/* One step up (a[i] and b[j] exist), scoring the state first when everything taken
 * is below what is left. */
__attribute__((always_inline)) static inline void ks_up(const double *a, const double *b, ks_walk *w, ks_best *k) {
    double x = a[w->i], y = b[w->j];
    size_t take_a = x <= y;
    double v = y < x ? y : x; /* x when x <= y: minsd, no branch */
    if (v > w->last) ks_score(k, w->i, w->j, w->e);
    w->last = v;
    w->i += take_a;
    w->j += 1 - take_a;
    w->e += ks_step(take_a, (int64_t)k->nb, (int64_t)k->na);
}

/* One step down (i, j > 0), scoring the state first when everything left is below
 * what the walk took. */
__attribute__((always_inline)) static inline void ks_down(const double *a, const double *b, ks_walk *w, ks_best *k) {
    double x = a[w->i - 1], y = b[w->j - 1];
    size_t take_a = x > y;
    double v = x > y ? x : y; /* maxsd */
    if (v < w->last) ks_score(k, w->i, w->j, w->e);
    w->last = v;
    w->i -= take_a;
    w->j -= 1 - take_a;
    w->e -= ks_step(take_a, (int64_t)k->nb, (int64_t)k->na);
}

/* Whether up and down can each take a step before they meet. */
static inline bool ks_room(const ks_walk *up, const ks_walk *down, size_t na, size_t nb) {
    return up->i < na && up->j < nb && down->i > 0 && down->j > 0 && up->i + up->j + 2 <= down->i + down->j;
}

/* Walks the states strictly between up's and down's (both on the order; up below)
 * until they meet, scoring the group ends among them. */
static void ks_segment(const double *a, const double *b, ks_walk up, ks_walk down, ks_best *k) {
    size_t na = k->na, nb = k->nb;
    while (ks_room(&up, &down, na, nb)) {
        ks_up(a, b, &up, k);
        ks_down(a, b, &down, k);
    }
    size_t meet = down.i + down.j;
    while (up.i < na && up.j < nb && up.i + up.j < meet) ks_up(a, b, &up, k);
    for (; up.i < na && up.i + up.j < meet; up.i++, up.e += (int64_t)nb) { /* b is used up */
        if (a[up.i] > up.last) ks_score(k, up.i, up.j, up.e);
        up.last = a[up.i];
    }
    for (; up.j < nb && up.i + up.j < meet; up.j++, up.e -= (int64_t)na) { /* a is used up */
        if (b[up.j] > up.last) ks_score(k, up.i, up.j, up.e);
        up.last = b[up.j];
    }
    if (up.last < down.last) ks_score(k, up.i, up.j, up.e); /* where they met (NaN: an end, not here) */
}

static void ks_extremes_fast(const double *a, size_t na, const double *b, size_t nb, double *maxS, double *minS) {
    ks_best k = {INT64_MIN, INT64_MAX, maxS, minS, na, nb};
    /* the state half way (i + j = h) on the order: a[i-1] <= b[j] and b[j-1] < a[i] */
    size_t h = (na + nb) / 2, lo = h > nb ? h - nb : 0, hi = h < na ? h : na, i = lo, j = h - lo;
    while (lo <= hi) {
        i = lo + (hi - lo) / 2;
        j = h - i;
        if (i > 0 && j < nb && a[i - 1] > b[j]) hi = i - 1;
        else if (j > 0 && i < na && b[j - 1] >= a[i]) lo = i + 1;
        else break;
    }
    int64_t em = (int64_t)i * (int64_t)nb - (int64_t)j * (int64_t)na;
    ks_walk up1 = {0, 0, 0, NAN}, down1 = {i, j, em, NAN}, up2 = {i, j, em, NAN}, down2 = {na, nb, 0, NAN};
    while (ks_room(&up1, &down1, na, nb) && ks_room(&up2, &down2, na, nb)) {
        ks_up(a, b, &up1, &k);
        ks_down(a, b, &down1, &k);
        ks_up(a, b, &up2, &k);
        ks_down(a, b, &down2, &k);
    }
    ks_segment(a, b, up1, down1, &k);
    ks_segment(a, b, up2, down2, &k);
    if (i + j > 0 && i + j < na + nb) { /* the half-way state: everything taken below everything left */
        double taken = i == 0 ? b[j - 1] : j == 0 ? a[i - 1] : a[i - 1] > b[j - 1] ? a[i - 1] : b[j - 1];
        double left = i == na ? b[j] : j == nb ? a[i] : a[i] < b[j] ? a[i] : b[j];
        if (taken < left) ks_score(&k, i, j, em);
    }
    ks_score(&k, na, nb, 0); /* everything taken: 1 - 1 */
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
