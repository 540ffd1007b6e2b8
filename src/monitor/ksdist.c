/* ksdist.c — the distribution of the one-sample Kolmogorov–Smirnov statistic D_n that
 * ks_2samp's asymptotic p-value needs: Pr(D_n > d) as scipy.stats.kstwo.sf evaluates it
 * (SciPy's _ksstats._kolmogn, after Simard and L'Ecuyer 2011), with the same choice of
 * method for each (n, d), and scipy.special.smirnov (cephes) for the one-sided tail.
 * Methods, by region (t = n d):
 *   t <= 1 or t >= n - 1     Ruben and Gambino (1982): closed forms;
 *   d >= 0.5                 2 * smirnov(n, d) (exact there);
 *   n <= 140                 Durbin's matrix for n d^2 <= 0.754693, Pomeranz (1974) up to
 *                            n d^2 <= 4, else 2 * smirnov;
 *   n > 140                  0 for n d^2 >= 370, 2 * smirnov from 2.2, else 1 - CDF with
 *                            the CDF from Durbin's matrix (n <= 100000 and n d^1.5 <= 1.4)
 *                            or Pelz and Good's (1976) series.
 * Durbin's matrix power follows Marsaglia, Tsang and Wang (2003), with SciPy's scaling by
 * 2^128 to stay in range. Pure; the buffers are local and freed before return; any thread. */
#include "monitor/monitor_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sf_gamma.h>

#define E128 128
#define KS_PI 3.14159265358979323846
#define KS_LN2 0.69314718055994530942
#define SMIRNOV_MAX_COMPUTE_N 1000000L /* cephes: above, its exponential approximation */
#define SMIRNOV_DIRECT_TERMS 2000      /* sum every term up to this many */
#define SMIRNOV_WINDOW_LOG 60.0        /* terms below e^-60 of the largest are left out */
#define SMIRNOV_SAMPLES 400            /* points of the coarse sum over a wide window */

static double clip01(double p) { return p < 0 ? 0 : p > 1 ? 1 : p; }

/* ---- Smirnov's one-sided tail: Birnbaum–Tingey ----
 * Pr(D_n^+ >= x) = x sum_{v=0}^{floor(n(1-x))} C(n,v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v).
 * Every term is positive. The log of term v without the factor x: */
static double bt_logterm(long n, double x, long v) {
    double evn = x + (double)v / (double)n;
    if (!(1.0 - evn > 0)) return -INFINITY;
    gsl_sf_result c;
    if (gsl_sf_lnchoose_e((unsigned)n, (unsigned)v, &c) != 0) return NAN;
    return c.val + (double)(v - 1) * log(evn) + (double)(n - v) * log1p(-evn);
}

/* log of sum_{v=lo}^{hi} exp(lt(v)) stepping by step (a coarse trapezoid sum, step * the
 * samples, when step > 1), the largest log term being ltmax. */
static double bt_logsum(long n, double x, long lo, long hi, long step, double ltmax) {
    double s = 0;
    for (long v = lo; v <= hi; v += step) s += exp(bt_logterm(n, x, v) - ltmax);
    return ltmax + log(s * (double)step);
}

/* The terms as a function of v rise to one peak and fall (log-concave in v): find the
 * peak, keep the window where they stay within e^-60 of it, and sum that. A window wider
 * than SMIRNOV_DIRECT_TERMS holds a smooth bell some thousands of terms wide, whose sum
 * the trapezoid rule over SMIRNOV_SAMPLES points gives to far below double precision
 * (its error falls as exp(-2 pi^2 (width / step)^2)). */
static double bt_sum_log(long n, double x, long nn) {
    if (nn + 1 <= SMIRNOV_DIRECT_TERMS) {
        double ltmax = -INFINITY;
        for (long v = 0; v <= nn; v++) {
            double lt = bt_logterm(n, x, v);
            if (lt > ltmax) ltmax = lt;
        }
        if (!isfinite(ltmax)) return ltmax;
        return bt_logsum(n, x, 0, nn, 1, ltmax);
    }
    long lo = 0, hi = nn;
    while (hi - lo > 2) {
        long m1 = lo + (hi - lo) / 3, m2 = hi - (hi - lo) / 3;
        if (bt_logterm(n, x, m1) < bt_logterm(n, x, m2)) lo = m1 + 1;
        else hi = m2;
    }
    long vmax = lo;
    double ltmax = bt_logterm(n, x, lo);
    for (long v = lo + 1; v <= hi; v++) {
        double lt = bt_logterm(n, x, v);
        if (lt > ltmax) {
            ltmax = lt;
            vmax = v;
        }
    }
    if (!isfinite(ltmax)) return ltmax;
    if (ltmax + log((double)nn + 1) < -800) return -INFINITY; /* the sum underflows anyway */
    double cut = ltmax - SMIRNOV_WINDOW_LOG;
    long a = 0, b = vmax; /* first v with lt(v) >= cut: rising side */
    while (a < b) {
        long mid = a + (b - a) / 2;
        if (bt_logterm(n, x, mid) >= cut) b = mid;
        else a = mid + 1;
    }
    long vl = a;
    a = vmax;
    b = nn; /* last v with lt(v) >= cut: falling side */
    while (a < b) {
        long mid = b - (b - a) / 2;
        if (bt_logterm(n, x, mid) >= cut) a = mid;
        else b = mid - 1;
    }
    long vr = a;
    long step = (vr - vl) / SMIRNOV_SAMPLES;
    /* the coarse sum needs the window to end where the terms are negligible */
    if (vr - vl + 1 <= SMIRNOV_DIRECT_TERMS || step < 1 || vl == 0 || vr == nn) step = 1;
    return bt_logsum(n, x, vl, vr, step, ltmax);
}

double monitor__smirnov(long n, double x) {
    if (!(n > 0 && x >= 0.0 && x <= 1.0)) return NAN;
    if (n == 1) return 1.0 - x;
    if (x == 0.0) return 1.0;
    if (x == 1.0) return 0.0;
    if (n > SMIRNOV_MAX_COMPUTE_N) {
        double nd = (double)n, q = 6.0 * nd * x + 1.0;
        double logp = -q * q / 18.0 / nd;
        return logp < -KS_LN2 ? exp(logp) : 1.0 - (-expm1(logp));
    }
    long nn = (long)floor((double)n * (1.0 - x));
    if (nn > n - 1) nn = n - 1;
    double ls = bt_sum_log(n, x, nn);
    if (isnan(ls)) return NAN;
    return clip01(exp(log(x) + ls));
}

/* ---- Ruben–Gambino: log(n! / n^n) by Stirling's series, n*log(n) taken out ---- */
static const double stirling[] = {-2.955065359477124183e-2, 6.4102564102564102564e-3,
                                  -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                                  -5.952380952380952381e-4,  7.9365079365079365079e-4,
                                  -2.7777777777777777778e-3, 8.3333333333333333333e-2};

static double log_nfact_div_npown(double n) {
    double rn = 1.0 / n, u = rn / n, poly = 0;
    for (size_t i = 0; i < sizeof stirling / sizeof stirling[0]; i++) poly = poly * u + stirling[i];
    return log(n) / 2 - n + log(2 * KS_PI) / 2 + rn * poly;
}

/* ---- Durbin's matrix: Pr(D_n <= d) = n!/n^n (H^n)_{kk} ---- */
static void matmul(const double *A, const double *B, double *C, int m) {
    memset(C, 0, (size_t)m * (size_t)m * sizeof *C);
    for (int i = 0; i < m; i++)
        for (int l = 0; l < m; l++) {
            double a = A[i * m + l];
            if (a == 0) continue;
            for (int j = 0; j < m; j++) C[i * m + j] += a * B[l * m + j];
        }
}

static double dmtw_cdf(long n, double d) {
    if (d >= 1.0) return 1.0;
    double nd = (double)n * d;
    if (nd <= 0.5) return 0.0;
    int k = (int)ceil(nd), m = 2 * k - 1;
    double h = k - nd;
    size_t mm = (size_t)m * (size_t)m;
    double *buf = calloc(4 * mm + 2 * (size_t)m, sizeof *buf);
    if (!buf) return NAN;
    double *H = buf, *P = H + mm, *T = P + mm, *T2 = T + mm, *v = T2 + mm, *w = v + m;
    double fac = 1.0;
    for (int j = 1; j <= m; j++) {
        v[j - 1] = 1.0 - pow(h, j);
        w[j - 1] = fac;
        fac /= j;
        v[j - 1] *= fac;
    }
    double tt = pow(fmax(2 * h - 1.0, 0), m) - 2 * pow(h, m);
    v[m - 1] = (1.0 + tt) * fac;
    for (int i = 1; i < m; i++)
        for (int r = i - 1; r < m; r++) H[r * m + i] = w[r - (i - 1)];
    for (int r = 0; r < m; r++) H[r * m] = v[r];
    for (int c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c];
    for (int i = 0; i < m; i++) P[i * m + i] = 1.0;
    long expnt = 0, hexpnt = 0;
    for (long e = n; e > 0; e /= 2) {
        if (e % 2) {
            matmul(P, H, T, m);
            memcpy(P, T, mm * sizeof *P);
            expnt += hexpnt;
        }
        if (e / 2 == 0) break; /* the last square is not used */
        matmul(H, H, T2, m);
        memcpy(H, T2, mm * sizeof *H);
        hexpnt *= 2;
        if (fabs(H[(k - 1) * m + (k - 1)]) > ldexp(1.0, E128)) {
            for (size_t i = 0; i < mm; i++) H[i] = ldexp(H[i], -E128);
            hexpnt += E128;
        }
    }
    double p = P[(k - 1) * m + (k - 1)];
    free(buf);
    for (long i = 1; i <= n; i++) {
        p = (double)i * p / (double)n;
        if (fabs(p) < ldexp(1.0, -E128)) {
            p = ldexp(p, E128);
            expnt -= E128;
        }
    }
    return clip01(ldexp(p, (int)expnt));
}

/* ---- Pomeranz's recursion over the 2n+1 strips between the points i/n +- d ---- */
static void pomeranz_j1j2(long i, long n, long ll, long ceilf, long roundf, long *j1, long *j2) {
    long a, b;
    if (i == 0) {
        a = -ll - ceilf - 1;
        b = ll + ceilf - 1;
    } else {
        long half = (i + 1) / 2;
        if ((i + 1) % 2 == 0) { /* i odd */
            if (half == n + 1) {
                a = n - ll - ceilf - 1;
                b = n + ll + ceilf - 1;
            } else {
                a = half - 1 - ll - roundf - 1;
                b = half + ll - 1 + ceilf - 1;
            }
        } else {
            a = half - 1 - ll - 1;
            b = half + ll + roundf - 1;
        }
    }
    *j1 = a + 2 > 0 ? a + 2 : 0;
    *j2 = b < n ? b : n;
}

static double pomeranz_cdf(long n, double x) {
    double t = (double)n * x;
    long ll = (long)floor(t);
    double f = t - (double)ll, g = fmin(f, 1.0 - f);
    long ceilf = f > 0, roundf = f > 0.5, np = 2 * (ll + 1);
    double *buf = calloc(5 * (size_t)np, sizeof *buf);
    if (!buf) return NAN;
    double *gp = buf, *g2p = gp + np, *g12p = g2p + np, *V0 = g12p + np, *V1 = V0 + np;
    gp[0] = g2p[0] = g12p[0] = 1.0;
    double gn = g / (double)n, g2n = 2 * g / (double)n, g12n = (1 - 2 * g) / (double)n;
    for (long m = 1; m < np; m++) {
        gp[m] = gp[m - 1] * gn / (double)m;
        g2p[m] = g2p[m - 1] * g2n / (double)m;
        g12p[m] = g12p[m - 1] * g12n / (double)m;
    }
    V1[0] = 1;
    long v0s = 0, v1s = 0, expnt = 0, j1, j2;
    pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
    for (long i = 1; i <= 2 * n + 1; i++) {
        long k1 = j1, ts = v0s;
        double *tp = V0;
        V0 = V1;
        V1 = tp;
        v0s = v1s;
        v1s = ts;
        memset(V1, 0, (size_t)np * sizeof *V1);
        pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
        const double *pw = (i == 1 || i == 2 * n + 1) ? gp : (i % 2 ? g2p : g12p);
        long ln2 = j2 - k1 + 1;
        if (ln2 <= 0) continue;
        long off = k1 - v0s, la = ln2; /* V0[off .. off + la), cut at the row's end */
        if (off < 0) off = 0;
        if (off + la > np) la = np - off;
        long cstart = j1 - k1, clen = j2 - j1 + 1;
        double vmax = 0;
        for (long idx = 0; idx < clen && idx < np; idx++) {
            long c = cstart + idx;
            double s = 0;
            for (long a = 0; a < la && a <= c; a++)
                if (c - a < ln2) s += V0[off + a] * pw[c - a];
            V1[idx] = s;
            if (s > vmax) vmax = s;
        }
        if (vmax > 0 && vmax < ldexp(1.0, -E128)) {
            for (long idx = 0; idx < np; idx++) V1[idx] = ldexp(V1[idx], E128);
            expnt -= E128;
        }
        v1s = v0s + j1 - k1;
    }
    double ans = (n - v1s >= 0 && n - v1s < np) ? V1[n - v1s] : 0;
    free(buf);
    for (long m = 1; m <= n; m++) {
        if (fabs(ans) > ldexp(1.0, E128)) {
            ans = ldexp(ans, -E128);
            expnt += E128;
        }
        ans *= (double)m;
    }
    return clip01(ldexp(ans, (int)expnt));
}

/* ---- Pelz–Good: Li-Chien/Korolyuk's expansion in 1/sqrt(n), theta-transformed ---- */
static double pelzgood_cdf(long n, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    const double pi2 = KS_PI * KS_PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2, sqrt2pi = sqrt(2 * KS_PI);
    double z = sqrt((double)n) * x, z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
    double qlog = -pi2 / 8 / z2;
    if (qlog < -708) return 0.0;
    double q = exp(qlog);
    double k1a = -z2, k1b = pi2 / 4;
    double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16;
    double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
    double k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * pow(z, 8);
    double K[4] = {0, 0, 0, 0};
    long maxk = (long)ceil(16 * z / KS_PI);
    for (long k = maxk; k > 0; k--) {
        double m = 2.0 * (double)k - 1, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
        double qp = pow(q, 8.0 * (double)k);
        double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6};
        for (int i = 0; i < 4; i++) K[i] = K[i] * qp + c[i];
    }
    const double div[4] = {z, 6 * z4, 72 * pow(z, 7), 6480 * pow(z, 10)};
    for (int i = 0; i < 4; i++) K[i] = K[i] * q * sqrt2pi / div[i];
    double q2 = exp(-pi2 / 2 / z2), sqrt3z = sqrt(3.0) * z, e2 = 0, e3 = 0;
    for (long k = maxk; k > 0; k--) {
        double kk = (double)k * (double)k, qk = pow(q2, kk), kpi = KS_PI * (double)k;
        e2 += kk * qk;
        e3 += (sqrt3z + kpi) * (sqrt3z - kpi) * kk * qk;
    }
    K[2] += e2 * pi2 * sqrt2pi / (-36 * z3);
    K[3] += e3 * pi2 * sqrt2pi / (216 * z6);
    double sum = 0;
    for (int i = 0; i < 4; i++) sum += K[i] / pow((double)n, i / 2.0);
    return sum;
}

double monitor__kstwo_sf(double d, double n) {
    if (isnan(d) || !(n >= 1) || n != floor(n) || n > 9.0e15) return NAN;
    if (d >= 1.0) return 0.0;
    if (d <= 0.0) return 1.0;
    long ni = (long)n;
    double t = n * d;
    if (t <= 1.0) {
        if (t <= 0.5) return 1.0;
        double prob;
        if (ni <= 140) {
            prob = 1.0;
            for (long i = 1; i <= ni; i++) prob *= (double)i * (1.0 / n) * (2 * t - 1);
        } else {
            prob = exp(log_nfact_div_npown(n) + n * log(2 * t - 1));
        }
        return clip01(1.0 - prob);
    }
    if (t >= n - 1) return clip01(2 * pow(1.0 - d, n));
    if (d >= 0.5) return clip01(2 * monitor__smirnov(ni, d));
    double nx2 = t * d;
    if (ni <= 140) {
        if (nx2 <= 0.754693) return clip01(1.0 - dmtw_cdf(ni, d));
        if (nx2 <= 4) return clip01(1.0 - pomeranz_cdf(ni, d));
        return clip01(2 * monitor__smirnov(ni, d));
    }
    if (nx2 >= 370.0) return 0.0;
    if (nx2 >= 2.2) return clip01(2 * monitor__smirnov(ni, d));
    double cdf = ni <= 100000 && n * pow(d, 1.5) <= 1.4 ? dmtw_cdf(ni, d) : pelzgood_cdf(ni, d);
    return clip01(1.0 - cdf);
}
