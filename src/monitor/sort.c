/* sort.c — an O(n) sort of doubles for the drift statistics: LSD radix sort of
 * the IEEE-754 bit patterns mapped to unsigned keys that order as the numbers do
 * (negative: all bits flipped; positive: the sign bit set), 8 bits a pass, eight
 * passes at most (faster here than 11 or 16 bits: 256 counters and write heads);
 * a pass whose digit is the same for every key is skipped. A first pass only counts
 * (every digit's histogram) and drops the values left out; the first moving pass
 * reads the doubles themselves, the others go back and forth between the output and
 * one scratch array so that the last lands in the output, writing the doubles. Small
 * arrays go to insertion sort. The drift code calls monitor__sort_values, which takes
 * its scratch from the caller. Pure over caller-owned arrays; any thread. */
#include "monitor/monitor.h"
#include "monitor/monitor_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t key_of(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u ^ ((uint64_t)((int64_t)u >> 63) | 0x8000000000000000ull); /* no branch on the sign */
}

static inline double double_of(uint64_t k) {
    uint64_t u = k ^ (((k >> 63) - 1) | 0x8000000000000000ull);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void insertion(double *v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        double x = v[i];
        uint64_t kx = key_of(x);
        size_t j = i;
        while (j > 0 && key_of(v[j - 1]) > kx) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

#define DIGIT_BITS 8 /* 256 counters a pass: they and the pass's write heads stay in L1 */
#define DIGITS (1 << DIGIT_BITS)
#define PASSES 8

/* Keys kept in double arrays (the output and its ping-pong partner) travel as bytes. */
static inline void put_key(double *p, uint64_t k) { memcpy(p, &k, sizeof k); }
static inline uint64_t get_key(const double *p) {
    uint64_t k;
    memcpy(&k, p, sizeof k);
    return k;
}

static inline bool kept(double x, bool finite_only) { return finite_only ? isfinite(x) : !isnan(x); }

size_t monitor__sort_values(const double *src, size_t n, double *out, uint64_t *scratch, bool finite_only) {
    size_t count[PASSES][DIGITS];
    memset(count, 0, sizeof count);
    size_t m = 0;
    uint64_t k0 = 0;
    for (size_t i = 0; i < n; i++) { /* the histograms of every digit, the keys not yet stored */
        if (!kept(src[i], finite_only)) continue;
        uint64_t k = key_of(src[i]);
        if (m++ == 0) k0 = k;
        for (int p = 0; p < PASSES; p++) count[p][(k >> (p * DIGIT_BITS)) & (DIGITS - 1)]++;
    }
    if (m < 64) {
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (kept(src[i], finite_only)) out[w++] = src[i]; /* w <= i: src may be out */
        insertion(out, m);
        return m;
    }
    int pass[PASSES], np = 0; /* the passes that move anything: a digit not the same for all */
    for (int p = 0; p < PASSES; p++)
        if (count[p][(k0 >> (DIGIT_BITS * p)) & (DIGITS - 1)] != m) pass[np++] = p;
    if (np == 0) { /* every key the same */
        double v = double_of(k0);
        for (size_t i = 0; i < m; i++) out[i] = v;
        return m;
    }
    /* The first pass reads src; the others ping-pong between out and the scratch so
     * that the last lands in out, writing the doubles themselves. Where src is out and
     * the first pass would write there, it writes to the scratch's second half. */
    double *s1 = (double *)(void *)scratch, *s2 = (double *)(void *)(scratch + n);
    const double *from = NULL;
    for (int t = 0; t < np; t++) {
        size_t *c = count[pass[t]];
        int shift = DIGIT_BITS * pass[t];
        const uint64_t mask = DIGITS - 1;
        size_t sum = 0;
        for (size_t d = 0; d < DIGITS; d++) {
            size_t x = c[d];
            c[d] = sum;
            sum += x;
        }
        bool last = t == np - 1;
        double *to = (np - 1 - t) % 2 == 0 ? out : s1;
        if (t == 0 && to == src) to = s2;
        if (t == 0 && last && to == out) {
            for (size_t i = 0; i < n; i++) {
                double x = src[i];
                if (kept(x, finite_only)) out[c[(key_of(x) >> shift) & mask]++] = x;
            }
        } else if (t == 0) {
            for (size_t i = 0; i < n; i++) {
                double x = src[i];
                if (!kept(x, finite_only)) continue;
                uint64_t k = key_of(x);
                put_key(&to[c[(k >> shift) & mask]++], k);
            }
        } else if (last) {
            for (size_t i = 0; i < m; i++) {
                uint64_t k = get_key(&from[i]);
                out[c[(k >> shift) & mask]++] = double_of(k);
            }
        } else {
            for (size_t i = 0; i < m; i++) {
                uint64_t k = get_key(&from[i]);
                put_key(&to[c[(k >> shift) & mask]++], k);
            }
        }
        from = to;
    }
    if (from != out) /* one pass, src being out: it wrote keys to the scratch */
        for (size_t i = 0; i < m; i++) out[i] = double_of(get_key(&from[i]));
    return m;
}

void monitor_sort_doubles(double *v, size_t n) {
    if (n < 64) {
        insertion(v, n);
        return;
    }
    uint64_t *scratch = mp_xmalloc(2 * n * sizeof *scratch);
    monitor__sort_values(v, n, v, scratch, false);
    free(scratch);
}
