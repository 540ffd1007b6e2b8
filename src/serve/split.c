/* split.c — the traffic split of a deployment: stable or canary for each request,
 * and whether a copy goes to the shadow (serve.h says how each is decided).
 *
 * The state is a handful of C11 atomics, so that the router's threads call
 * serve_split_pick without a lock and a promote or rollback (a store of the new
 * percent) takes effect for the next request each thread picks. The even spread
 * of non-sticky requests needs only a shared sequence number: whether request n
 * is a canary one is a function of n mod 100 and the percent read for it, so a
 * change of percent needs no reset and no lock. Sticky requests hash the header
 * value with libsodium's SipHash-2-4 (crypto_shorthash) under a fixed key, so
 * every replica and every restart agrees on a value's bucket.
 * libsodium must be initialised first (mp_init, or serve_split_new). */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve.h"

/* The shadow's rate in millionths: the even spread runs over 10^6 requests. */
#define PPM 1000000u

/* Not a secret: it only has to be the same everywhere. */
static const char STICKY_KEY[] = "mlplane-split-01";
_Static_assert(sizeof STICKY_KEY == crypto_shorthash_KEYBYTES + 1, "the sticky key is a SipHash key");

struct serve_split {
    _Atomic int percent;         /* 0..100: the canary's share */
    _Atomic uint32_t shadow_ppm; /* 0..PPM: the shadow's share */
    _Atomic uint64_t seq;        /* non-sticky requests picked so far */
    _Atomic uint64_t shadow_seq; /* requests asked about the shadow so far */
    _Atomic uint64_t n_stable, n_canary, n_shadow;
};

/* Whether item m (0 <= m < period) of an even spread of share/period is picked:
 * the running count floor(m * share / period) steps up at m. */
static bool spread_hit(uint64_t m, uint64_t share, uint64_t period) {
    return (m + 1) * share / period > m * share / period;
}

static int check_percent(int percent, mp_err *e) {
    if (percent < 0 || percent > 100)
        return mp_err_set(e, MP_EINVAL, "canary percent %d is out of range: give a whole number from 0 to 100",
                          percent);
    return 0;
}

static int check_rate(double rate, mp_err *e) {
    if (!(rate >= 0 && rate <= 1))
        return mp_err_set(e, MP_EINVAL, "shadow sample rate %g is out of range: give a number from 0 to 1", rate);
    return 0;
}

int serve_split_new(int percent, double shadow_rate, serve_split **out, mp_err *e) {
    *out = NULL;
    if (check_percent(percent, e) || check_rate(shadow_rate, e)) return MP_EINVAL;
    if (sodium_init() < 0) return mp_err_set(e, MP_EINTERNAL, "cannot initialise libsodium");
    serve_split *s = mp_xcalloc(1, sizeof *s);
    atomic_init(&s->percent, percent);
    atomic_init(&s->shadow_ppm, (uint32_t)lround(shadow_rate * PPM));
    atomic_init(&s->seq, 0);
    atomic_init(&s->shadow_seq, 0);
    atomic_init(&s->n_stable, 0);
    atomic_init(&s->n_canary, 0);
    atomic_init(&s->n_shadow, 0);
    *out = s;
    return 0;
}

int serve_split_from_spec(const spec_deployment *d, serve_split **out, mp_err *e) {
    int percent = d->canary.set ? d->canary.percent : 0;
    double rate = d->shadow.set ? d->shadow.sample_rate : 0;
    int rc = serve_split_new(percent, rate, out, e);
    if (rc) mp_err_prefix(e, "deployment %s", d->meta.name ? d->meta.name : "?");
    return rc;
}

void serve_split_free(serve_split *s) {
    free(s);
}

serve_track serve_split_sticky_track(const char *sticky, int percent) {
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)sticky, strlen(sticky), (const unsigned char *)STICKY_KEY);
    uint64_t x = 0;
    for (size_t i = 0; i < sizeof h; i++) x |= (uint64_t)h[i] << (8 * i);
    /* 2^64 mod 100 = 16: buckets 0..15 are more likely by one part in 1.8e17. */
    return (int)(x % 100) < percent ? SERVE_TRACK_CANARY : SERVE_TRACK_STABLE;
}

serve_track serve_split_pick(serve_split *s, const char *sticky) {
    int p = atomic_load_explicit(&s->percent, memory_order_relaxed);
    serve_track t;
    if (sticky && *sticky) {
        t = serve_split_sticky_track(sticky, p);
    } else if (p <= 0 || p >= 100) {
        t = p <= 0 ? SERVE_TRACK_STABLE : SERVE_TRACK_CANARY;
    } else {
        uint64_t n = atomic_fetch_add_explicit(&s->seq, 1, memory_order_relaxed);
        t = spread_hit(n % 100, (uint64_t)p, 100) ? SERVE_TRACK_CANARY : SERVE_TRACK_STABLE;
    }
    atomic_fetch_add_explicit(t == SERVE_TRACK_CANARY ? &s->n_canary : &s->n_stable, 1, memory_order_relaxed);
    return t;
}

bool serve_split_mirror(serve_split *s) {
    uint32_t ppm = atomic_load_explicit(&s->shadow_ppm, memory_order_relaxed);
    if (ppm == 0) return false;
    bool hit = ppm >= PPM;
    if (!hit) {
        uint64_t n = atomic_fetch_add_explicit(&s->shadow_seq, 1, memory_order_relaxed);
        hit = spread_hit(n % PPM, ppm, PPM);
    }
    if (hit) atomic_fetch_add_explicit(&s->n_shadow, 1, memory_order_relaxed);
    return hit;
}

int serve_split_set_percent(serve_split *s, int percent, mp_err *e) {
    if (check_percent(percent, e)) return MP_EINVAL;
    atomic_store_explicit(&s->percent, percent, memory_order_relaxed);
    return 0;
}

int serve_split_set_shadow_rate(serve_split *s, double rate, mp_err *e) {
    if (check_rate(rate, e)) return MP_EINVAL;
    atomic_store_explicit(&s->shadow_ppm, (uint32_t)lround(rate * PPM), memory_order_relaxed);
    return 0;
}

int serve_split_percent(const serve_split *s) {
    return atomic_load_explicit(&((serve_split *)s)->percent, memory_order_relaxed); /* see counts_get */
}

double serve_split_shadow_rate(const serve_split *s) {
    return atomic_load_explicit(&((serve_split *)s)->shadow_ppm, memory_order_relaxed) / (double)PPM;
}

void serve_split_counts_get(const serve_split *s, serve_split_counts *out) {
    serve_split *m = (serve_split *)s; /* C17's atomic_load takes a non-const pointer */
    out->stable = atomic_load_explicit(&m->n_stable, memory_order_relaxed);
    out->canary = atomic_load_explicit(&m->n_canary, memory_order_relaxed);
    out->shadow = atomic_load_explicit(&m->n_shadow, memory_order_relaxed);
}
