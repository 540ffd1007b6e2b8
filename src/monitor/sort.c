/* sort.c — an O(n) sort of doubles for the drift statistics: LSD radix sort of
 * the IEEE-754 bit patterns mapped to unsigned keys that order as the numbers do
 * (negative: all bits flipped; positive: the sign bit set), 8 bits a pass, eight
 * passes at most (faster here than 11 or 16 bits: 256 counters and write heads);
 * a pass whose digit is the same for every key is skipped, and the last one writes
 * the doubles. Small arrays go to insertion sort. The drift code
 * calls monitor__sort_values, which also drops non-finite values in its first pass
 * and takes its scratch from the caller. Pure over caller-owned arrays; any thread. */
#include "monitor/monitor.h"
#include "monitor/monitor_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t key_of(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return (u & 0x8000000000000000ull) ? ~u : u | 0x8000000000000000ull;
}

static inline double double_of(uint64_t k) {
    uint64_t u = (k & 0x8000000000000000ull) ? k & ~0x8000000000000000ull : ~k;
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

size_t monitor__sort_values(const double *src, size_t n, double *out, uint64_t *scratch, bool finite_only) {
    uint64_t *a = scratch, *b = scratch + n;
    size_t count[PASSES][DIGITS];
    memset(count, 0, sizeof count);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (finite_only ? !isfinite(src[i]) : isnan(src[i])) continue;
        uint64_t k = key_of(src[i]);
        a[m++] = k;
        for (int p = 0; p < PASSES; p++) count[p][(k >> (p * DIGIT_BITS)) & (DIGITS - 1)]++;
    }
    if (m < 64) {
        for (size_t i = 0; i < m; i++) out[i] = double_of(a[i]);
        insertion(out, m);
        return m;
    }
    int last = -1; /* the last pass that moves anything: it writes the doubles themselves */
    for (int pass = 0; pass < PASSES; pass++)
        if (count[pass][(a[0] >> (DIGIT_BITS * pass)) & (DIGITS - 1)] != m) last = pass;
    for (int pass = 0; pass <= last; pass++) {
        size_t *c = count[pass];
        int shift = DIGIT_BITS * pass;
        if (c[(a[0] >> shift) & (DIGITS - 1)] == m) continue; /* one digit for all */
        size_t sum = 0;
        for (size_t d = 0; d < DIGITS; d++) {
            size_t t = c[d];
            c[d] = sum;
            sum += t;
        }
        if (pass == last) {
            for (size_t i = 0; i < m; i++) out[c[(a[i] >> shift) & (DIGITS - 1)]++] = double_of(a[i]);
            return m;
        }
        for (size_t i = 0; i < m; i++) b[c[(a[i] >> shift) & (DIGITS - 1)]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < m; i++) out[i] = double_of(a[i]); /* every key the same */
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
