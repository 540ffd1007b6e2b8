/* autoscale.c — how many replicas a deployment should run: Kubernetes HPA's rule
 * (pkg/controller/podautoscaler: the tolerance, and the stabilization windows of
 * autoscaling/v2 behaviors), plus Knative-like scale to and from zero.
 *
 * A pure function of the config, a state the caller keeps and the time the caller
 * passes: the router's loop calls it every few seconds with the demand it measured,
 * and the tests call it with a simulated clock. Each call makes one recommendation
 * (step 1 in serve.h) and records it in two monotonic queues: one increasing, whose
 * front is the lowest recommendation of the scale-up window, one decreasing, whose
 * front is the highest of the scale-down window. A recommendation that an equal or
 * more extreme newer one outlives can never again be its window's extreme, so it is
 * dropped when that one comes: each queue holds strictly monotonic values in
 * [0, SERVE_AUTOSCALE_MAX], hence at most SERVE_AUTOSCALE_MAX + 1 entries, and the
 * windows are exact however long they are and however often the function runs.
 * No locks: a state belongs to one caller. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "serve/serve.h"

#define RING_CAP ((size_t)SERVE_AUTOSCALE_MAX + 2)
_Static_assert(sizeof(serve_autoscale_ring) >= RING_CAP * sizeof(serve_autoscale_rec), "ring size");

void serve_autoscale_cfg_from_spec(const spec_deployment *d, serve_autoscale_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->min_replicas = d->min_replicas;
    cfg->max_replicas = d->max_replicas;
    cfg->tolerance = SERVE_AUTOSCALE_TOLERANCE;
    if (d->autoscale.set) {
        cfg->target = d->autoscale.target;
        cfg->scale_up_window_ms = (int64_t)d->autoscale.scale_up_window_s * 1000;
        cfg->scale_down_window_ms = (int64_t)d->autoscale.scale_down_window_s * 1000;
    }
    cfg->scale_to_zero_after_ms = (int64_t)d->scale_to_zero_after_s * 1000;
}

void serve_autoscale_init(serve_autoscale_state *st) {
    memset(st, 0, sizeof *st);
    st->idle_since_ms = -1;
}

/* ---- the monotonic queues ---------------------------------------------------------- */

static serve_autoscale_rec *ring_at(serve_autoscale_ring *r, size_t i) {
    return &r->v[(r->head + i) % RING_CAP];
}

/* Drops the entries made at or before cutoff (they left the window). */
static void ring_expire(serve_autoscale_ring *r, int64_t cutoff) {
    while (r->n && ring_at(r, 0)->t_ms <= cutoff) {
        r->head = (r->head + 1) % RING_CAP;
        r->n--;
    }
}

/* Appends (t, v), first dropping from the back the entries it outlives and
 * outdoes: those >= v in the increasing queue, <= v in the decreasing one. */
static void ring_push(serve_autoscale_ring *r, int64_t t, int v, bool increasing) {
    while (r->n) {
        int b = ring_at(r, r->n - 1)->replicas;
        if (increasing ? b >= v : b <= v)
            r->n--;
        else
            break;
    }
    assert(r->n < RING_CAP); /* strictly monotonic values in [0, SERVE_AUTOSCALE_MAX] */
    *ring_at(r, r->n) = (serve_autoscale_rec){t, v};
    r->n++;
}

/* ---- the rule ------------------------------------------------------------------------- */

static int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* Step 1 before the bounds: ceil(observed / target), or current within the tolerance. */
static int recommend(const serve_autoscale_cfg *cfg, double observed, int current, int hi) {
    if (current > 0) {
        double ratio = observed / (cfg->target * current);
        if (fabs(ratio - 1) <= cfg->tolerance) return current;
    }
    /* 0.1 * 3 / 0.1 is 3.0000000000000004: such noise must not add a replica */
    double want = ceil(observed / cfg->target - 1e-9);
    if (!(want <= hi)) return hi;
    return want < 0 ? 0 : (int)want;
}

int serve_autoscale_desired(const serve_autoscale_cfg *cfg, serve_autoscale_state *st, int64_t now_ms,
                            double observed, int current) {
    if (!(observed > 0)) observed = 0; /* NaN and negative too */
    if (current < 0) current = 0;
    int lo = clampi(cfg->min_replicas, 0, SERVE_AUTOSCALE_MAX);
    int hi = clampi(cfg->max_replicas, lo > 1 ? lo : 1, SERVE_AUTOSCALE_MAX);

    if (observed > 0)
        st->idle_since_ms = -1;
    else if (st->idle_since_ms < 0)
        st->idle_since_ms = now_ms;
    /* Zero replicas are allowed with min 0 and no demand, once idle long enough (or
     * at once when no delay is set and the windows decide, or nothing runs anyway). */
    int64_t zero_after = cfg->scale_to_zero_after_ms;
    bool zero_ok = lo == 0 && observed == 0 &&
                   (current == 0 || zero_after <= 0 || now_ms - st->idle_since_ms >= zero_after);

    int rec = cfg->target > 0 ? recommend(cfg, observed, current, hi) : lo;
    rec = clampi(rec, zero_ok ? 0 : (lo > 1 ? lo : 1), hi);
    st->last = rec;

    ring_expire(&st->up, now_ms - cfg->scale_up_window_ms);
    ring_expire(&st->down, now_ms - cfg->scale_down_window_ms);
    ring_push(&st->up, now_ms, rec, true);
    ring_push(&st->down, now_ms, rec, false);
    int up_lowest = ring_at(&st->up, 0)->replicas, down_highest = ring_at(&st->down, 0)->replicas;

    int desired = current;
    if (desired < up_lowest) desired = up_lowest;
    if (desired > down_highest) desired = down_highest;
    if (zero_ok && zero_after > 0) desired = 0;        /* idle long enough: straight to zero */
    if (observed > 0 && current == 0 && desired < 1) desired = 1; /* the first request waits for it */
    return clampi(desired, lo, hi);
}
