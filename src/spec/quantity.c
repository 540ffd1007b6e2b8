/* quantity.c — Kubernetes resource quantities ("500m", "1.5Gi", "1e3") to integers.
 *
 * The number is read as a string of significant decimal digits D with a decimal
 * exponent and a power of two: value = D * 10^E10 * 2^E2. The result in the
 * wanted unit (millicores, bytes, devices) is computed exactly with a small
 * decimal big-number (an array of digits), so "0.1" is 100m and "100n" is 1m after
 * rounding up, as Kubernetes does, without floating point. Anything that does not
 * fit an int64 is rejected as too large. */
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

#define QTY_MAX_LEN 128
#define QTY_MAX_EXP 10000 /* |exponent| beyond this is too large/small anyway */

typedef struct suffix {
    const char *text;
    int exp10; /* decimal exponent */
    int exp2;  /* binary exponent */
} suffix;

/* Longest first, so "Ki" wins over a plain "K" (which is not a suffix anyway). */
static const suffix SUFFIXES[] = {
    {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},   {"G", 9, 0},
    {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"", 0, 0},
};

static const char *kind_unit(spec_qty_kind kind) {
    switch (kind) {
    case SPEC_QTY_CPU: return "cpu";
    case SPEC_QTY_MEMORY: return "memory";
    case SPEC_QTY_COUNT: return "count";
    }
    return "quantity";
}

static int bad(mp_err *e, const char *s, const char *why) {
    return mp_err_set(e, MP_EINVAL, "invalid quantity \"%s\": %s", s, why);
}

/* Parses an optionally signed decimal exponent at p (all of the rest of the string). */
static bool parse_exponent(const char *p, int *out) {
    int sign = 1;
    if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
    if (!*p) return false;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        if (v < QTY_MAX_EXP * 10) v = v * 10 + (*p - '0');
    }
    *out = (int)(sign * (v > QTY_MAX_EXP * 10 ? QTY_MAX_EXP * 10 : v));
    return true;
}

int spec_parse_quantity(const char *s, spec_qty_kind kind, int64_t *out, mp_err *e) {
    if (!s || !*s)
        return mp_err_set(e, MP_EINVAL, "invalid quantity \"\": empty (expected e.g. \"500m\", \"2\", \"512Mi\")");
    if (strlen(s) > QTY_MAX_LEN) return bad(e, s, "too long");
    const char *p = s;
    if (*p == '-') {
        /* "-1" is negative; "--1" or "-x" is garbage either way. */
        if ((p[1] >= '0' && p[1] <= '9') || (p[1] == '.' && p[2] >= '0' && p[2] <= '9'))
            return bad(e, s, "must not be negative");
        return bad(e, s, "not a number");
    }
    if (*p == '+') p++;

    /* Mantissa: digits [. digits], at least one digit. */
    char digits[QTY_MAX_LEN + 1];
    size_t nd = 0;
    int exp10 = 0;
    bool any = false, dot = false;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.') {
            if (dot) return bad(e, s, "more than one decimal point");
            dot = true;
            continue;
        }
        any = true;
        if (nd == 0 && *p == '0') { /* leading zero: skip, but keep the scale */
            if (dot) exp10--;
            continue;
        }
        digits[nd++] = *p;
        if (dot) exp10--;
    }
    if (!any) return bad(e, s, "not a number");

    /* Suffix or exponent. */
    int exp2 = 0;
    if ((*p == 'e' || *p == 'E') && p[1] && p[1] != 'i') {
        int x;
        if (!parse_exponent(p + 1, &x)) {
            if (*p == 'E')
                return bad(e, s,
                           "unknown suffix (expected n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent "
                           "such as e3)");
            return bad(e, s, "bad exponent after \"e\"");
        }
        exp10 += x;
    } else {
        const suffix *sf = NULL;
        for (size_t i = 0; i < sizeof SUFFIXES / sizeof *SUFFIXES && !sf; i++)
            if (strcmp(p, SUFFIXES[i].text) == 0) sf = &SUFFIXES[i];
        if (!sf) {
            mp_err_set(
                e, MP_EINVAL,
                "invalid quantity \"%s\": unknown suffix \"%s\" (expected n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, "
                "Ti, Pi, Ei or an exponent such as e3)",
                s, p);
            return MP_EINVAL;
        }
        exp10 += sf->exp10;
        exp2 = sf->exp2;
    }
    if (kind == SPEC_QTY_CPU) exp10 += 3; /* cores -> millicores */

    /* Drop trailing zeros of D into the exponent. */
    while (nd > 0 && digits[nd - 1] == '0') {
        nd--;
        exp10++;
    }
    if (nd == 0) { /* zero, whatever the suffix */
        *out = 0;
        return 0;
    }
    /* D >= 1 here, so 10^19 or more cannot fit; 2^60 * 10^-40 < 1 puts a tiny
     * value in (0, 1). */
    if ((long)nd + exp10 > 19 + 1) return mp_err_set(e, MP_EINVAL, "quantity \"%s\" is too large", s);
    if ((long)nd + exp10 < -40) {
        if (kind == SPEC_QTY_COUNT) return bad(e, s, "must be a whole number");
        *out = 1;
        return 0;
    }

    /* Big decimal: n digits, most significant first, times 2^exp2 by doubling. */
    size_t cap = nd + 64;
    unsigned char *num = mp_xcalloc(cap, 1);
    size_t n = nd, off = cap - nd; /* num[off .. cap) holds the digits */
    for (size_t i = 0; i < nd; i++) num[off + i] = (unsigned char)(digits[i] - '0');
    for (int k = 0; k < exp2; k++) {
        int carry = 0;
        for (size_t i = cap; i-- > off;) {
            int v = num[i] * 2 + carry;
            num[i] = (unsigned char)(v % 10);
            carry = v / 10;
        }
        if (carry) {
            num[--off] = (unsigned char)carry;
            n++;
        }
    }
    /* Integer part: the first n + exp10 digits (all of them and zeros when exp10 >= 0). */
    long nint = (long)n + exp10;
    bool frac = false;
    for (long i = nint < 0 ? 0 : nint; i < (long)n; i++) frac = frac || num[off + (size_t)i] != 0;
    int rc = 0;
    if (nint > 19) {
        rc = mp_err_set(e, MP_EINVAL, "quantity \"%s\" is too large", s);
    } else if (frac && kind == SPEC_QTY_COUNT) {
        rc = bad(e, s, "must be a whole number");
    } else {
        uint64_t v = 0;
        for (long i = 0; i < nint; i++) v = v * 10 + (i < (long)n ? num[off + (size_t)i] : 0);
        if (frac) v++; /* round up */
        if (v > (uint64_t)INT64_MAX)
            rc = mp_err_set(e, MP_EINVAL, "quantity \"%s\" is too large for %s", s, kind_unit(kind));
        else
            *out = (int64_t)v;
    }
    free(num);
    return rc;
}
