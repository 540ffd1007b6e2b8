/* test_autoscale.c — the autoscaler on a simulated clock: ramping up, HPA's
 * tolerance, the scale-up and scale-down stabilization windows (no flapping; down
 * only once the window has passed), scale to zero after the idle delay and from
 * zero on the first request, a fixed replica count without a target, clamps and
 * nonsense inputs, and the bounded history checked against a naive one. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/serve.h"

#define S 1000 /* ms per second */

/* min..max replicas, target per replica, windows in seconds, no scale-to-zero delay. */
static serve_autoscale_cfg cfg_of(int min, int max, double target, int up_s, int down_s) {
    return (serve_autoscale_cfg){.min_replicas = min,
                                 .max_replicas = max,
                                 .target = target,
                                 .tolerance = SERVE_AUTOSCALE_TOLERANCE,
                                 .scale_up_window_ms = (int64_t)up_s * S,
                                 .scale_down_window_ms = (int64_t)down_s * S};
}

/* A deployment under the autoscaler: the replica count follows what it says. */
typedef struct sim {
    serve_autoscale_cfg cfg;
    serve_autoscale_state st;
    int64_t now;
    int replicas;
} sim;

static void sim_init(sim *s, serve_autoscale_cfg cfg, int replicas) {
    s->cfg = cfg;
    serve_autoscale_init(&s->st);
    s->now = 0;
    s->replicas = replicas;
}

/* One autoscaler tick at now (s) with the given total demand; returns the count. */
static int tick(sim *s, int64_t now_s, double observed) {
    s->now = now_s * S;
    s->replicas = serve_autoscale_desired(&s->cfg, &s->st, s->now, observed, s->replicas);
    return s->replicas;
}

static void test_ramp_up_and_clamps(void **state) {
    (void)state;
    sim s;
    sim_init(&s, cfg_of(1, 10, 10, 0, 300), 1);
    assert_int_equal(tick(&s, 0, 5), 1);     /* ceil(0.5) = 1 */
    assert_int_equal(tick(&s, 15, 25), 3);   /* ceil(2.5) */
    assert_int_equal(tick(&s, 30, 25), 3);   /* 25 over 3 replicas of 10: 0.83, but ceil(2.5) is 3 anyway */
    assert_int_equal(tick(&s, 45, 61), 7);
    assert_int_equal(tick(&s, 60, 100), 10);
    assert_int_equal(tick(&s, 75, 5000), 10); /* clamped to max */
    assert_int_equal(tick(&s, 90, INFINITY), 10);
    assert_int_equal(s.st.last, 10);

    /* min is a floor even without demand, and a count below it is raised at once */
    sim_init(&s, cfg_of(3, 10, 10, 0, 0), 0);
    assert_int_equal(tick(&s, 0, 0), 3);
    assert_int_equal(tick(&s, 15, 1), 3);
    /* NaN and negative demand read as none; a negative count as none */
    assert_int_equal(serve_autoscale_desired(&s.cfg, &s.st, 30 * S, NAN, 3), 3);
    assert_int_equal(serve_autoscale_desired(&s.cfg, &s.st, 45 * S, -5, -2), 3);
    /* a config with max below min runs min; one past the bound is cut to it */
    serve_autoscale_cfg c = cfg_of(4, 2, 10, 0, 0);
    serve_autoscale_init(&s.st);
    assert_int_equal(serve_autoscale_desired(&c, &s.st, 0, 1000, 1), 4);
    c = cfg_of(1, 100000, 1, 0, 0);
    serve_autoscale_init(&s.st);
    assert_int_equal(serve_autoscale_desired(&c, &s.st, 0, 1e9, 1), SERVE_AUTOSCALE_MAX);
    /* a count above max (max was lowered) comes down to it at once */
    c = cfg_of(1, 3, 10, 0, 300);
    serve_autoscale_init(&s.st);
    assert_int_equal(serve_autoscale_desired(&c, &s.st, 0, 50, 6), 3);
}

static void test_tolerance(void **state) {
    (void)state;
    sim s;
    sim_init(&s, cfg_of(1, 10, 10, 0, 0), 4);
    assert_int_equal(tick(&s, 0, 43), 4);  /* 43 / 40 = 1.075: within 10%, no change */
    assert_int_equal(tick(&s, 15, 37), 4); /* 0.925 */
    assert_int_equal(tick(&s, 30, 45), 5); /* 1.125: ceil(4.5) */
    assert_int_equal(tick(&s, 45, 52), 5); /* 52 / 50 = 1.04 */
    assert_int_equal(tick(&s, 60, 30), 3); /* 0.6: ceil(3.0); no scale-down window here */
    /* 0.1 * 3 / 0.1 is not above 3 */
    sim_init(&s, cfg_of(1, 10, 0.1, 0, 0), 1);
    assert_int_equal(tick(&s, 0, 0.1 * 3), 3);
}

static void test_scale_up_window(void **state) {
    (void)state;
    sim s;
    sim_init(&s, cfg_of(1, 10, 10, 60, 0), 1);
    assert_int_equal(tick(&s, 0, 10), 1);
    /* a burst must last the whole window before replicas are added for it */
    for (int64_t t = 10; t <= 50; t += 10) assert_int_equal(tick(&s, t, 50), 1);
    assert_int_equal(tick(&s, 60, 50), 5); /* the 1 of t=0 left the window: in it means t > now - 60 */
    /* a short burst within the window adds nothing */
    sim_init(&s, cfg_of(1, 10, 10, 60, 0), 2);
    assert_int_equal(tick(&s, 0, 20), 2);
    assert_int_equal(tick(&s, 10, 90), 2);
    assert_int_equal(tick(&s, 20, 20), 2);
    assert_int_equal(tick(&s, 30, 90), 2);
    /* scale-down is not held by the up window */
    assert_int_equal(tick(&s, 40, 5), 1);
}

static void test_scale_down_window_prevents_flapping(void **state) {
    (void)state;
    sim s;
    sim_init(&s, cfg_of(1, 10, 10, 0, 300), 1);
    assert_int_equal(tick(&s, 0, 50), 5);
    /* demand that swings every 15 s for ten minutes: the count stays at the peak */
    int64_t t = 15;
    for (int i = 0; i < 40; i++, t += 15) assert_int_equal(tick(&s, t, i % 2 ? 50 : 12), 5);
    int64_t last_peak = t - 15; /* i = 39 was the last 50 */
    /* then the demand drops for good: nothing happens until the window has passed */
    for (; t < last_peak + 300; t += 15) assert_int_equal(tick(&s, t, 12), 5);
    assert_int_equal(t, last_peak + 300);
    assert_int_equal(tick(&s, t, 12), 2); /* the last 5 is 300 s old: out of the window */
    assert_int_equal(s.st.last, 2);

    /* stepping down: the highest recommendation of the window wins */
    sim_init(&s, cfg_of(1, 10, 10, 0, 100), 8);
    assert_int_equal(tick(&s, 0, 80), 8);
    assert_int_equal(tick(&s, 50, 60), 8);
    assert_int_equal(tick(&s, 100, 30), 6); /* 8 (t=0) expired, 6 (t=50) remains */
    assert_int_equal(tick(&s, 150, 30), 3);
    /* an increase goes through at once */
    assert_int_equal(tick(&s, 160, 95), 10);
}

static void test_scale_to_zero_after_idle(void **state) {
    (void)state;
    sim s;
    serve_autoscale_cfg c = cfg_of(0, 4, 10, 0, 300);
    c.scale_to_zero_after_ms = 600 * S;
    sim_init(&s, c, 0);
    assert_int_equal(tick(&s, 0, 0), 0);  /* nothing runs and nothing is asked: stay at zero */
    assert_int_equal(tick(&s, 10, 1), 1); /* the first request: one replica at once */
    assert_int_equal(tick(&s, 20, 20), 2);
    /* idle from t=30: one replica stays (scale-down window first, then the floor of 1) */
    for (int64_t t = 30; t < 20 + 300; t += 10) assert_int_equal(tick(&s, t, 0), 2);
    for (int64_t t = 320; t < 30 + 600; t += 10) assert_int_equal(tick(&s, t, 0), 1);
    assert_int_equal(tick(&s, 630, 0), 0); /* idle for 600 s: zero */
    assert_int_equal(tick(&s, 640, 0), 0);
    /* a request now wakes it, even though the windows remember the old ones */
    assert_int_equal(tick(&s, 700, 0.5), 1);
    /* idle again, but not long enough: any demand resets the idle clock */
    assert_int_equal(tick(&s, 710, 0), 1);
    assert_int_equal(tick(&s, 1300, 2), 1);
    assert_int_equal(tick(&s, 1310, 0), 1);
    assert_int_equal(tick(&s, 1909, 0), 1);
    assert_int_equal(tick(&s, 1910, 0), 0);

    /* the delay applies even with no scale-down window */
    c = cfg_of(0, 4, 10, 0, 0);
    c.scale_to_zero_after_ms = 60 * S;
    sim_init(&s, c, 3);
    assert_int_equal(tick(&s, 0, 0), 1);
    assert_int_equal(tick(&s, 59, 0), 1);
    assert_int_equal(tick(&s, 60, 0), 0);

    /* min 0 with autoscale and no delay: the scale-down window decides */
    sim_init(&s, cfg_of(0, 4, 10, 0, 120), 2);
    assert_int_equal(tick(&s, 0, 15), 2);
    assert_int_equal(tick(&s, 60, 0), 2);
    assert_int_equal(tick(&s, 119, 0), 2);
    assert_int_equal(tick(&s, 120, 0), 0);
}

static void test_scale_from_zero(void **state) {
    (void)state;
    sim s;
    serve_autoscale_cfg c = cfg_of(0, 8, 10, 0, 300);
    c.scale_to_zero_after_ms = 60 * S;
    sim_init(&s, c, 0);
    assert_int_equal(tick(&s, 0, 35), 4); /* no up window: straight to what the demand needs */

    /* with an up window full of zeros, the first request still gets one replica now */
    c.scale_up_window_ms = 120 * S;
    sim_init(&s, c, 0);
    for (int64_t t = 0; t <= 100; t += 10) assert_int_equal(tick(&s, t, 0), 0);
    assert_int_equal(tick(&s, 110, 1), 1);
    assert_int_equal(tick(&s, 120, 35), 1);   /* the window still holds zeros */
    assert_int_equal(tick(&s, 220, 35), 1);   /* and the 1 of t=110 */
    assert_int_equal(tick(&s, 230, 35), 4);
}

static void test_fixed_count_without_target(void **state) {
    (void)state;
    sim s;
    sim_init(&s, cfg_of(2, 2, 0, 0, 0), 0);
    assert_int_equal(tick(&s, 0, 0), 2);
    assert_int_equal(tick(&s, 10, 1000), 2);
    assert_int_equal(tick(&s, 20, 0), 2);

    /* min 0 and a delay, no autoscale: one replica while there is demand */
    serve_autoscale_cfg c = cfg_of(0, 1, 0, 0, 0);
    c.scale_to_zero_after_ms = 30 * S;
    sim_init(&s, c, 0);
    assert_int_equal(tick(&s, 0, 0), 0);
    assert_int_equal(tick(&s, 5, 40), 1);
    assert_int_equal(tick(&s, 10, 0), 1);
    assert_int_equal(tick(&s, 39, 0), 1);
    assert_int_equal(tick(&s, 40, 0), 0);
}

static void test_cfg_from_spec(void **state) {
    (void)state;
    spec_deployment d = {.min_replicas = 0, .max_replicas = 4, .scale_to_zero_after_s = 600};
    serve_autoscale_cfg c;
    serve_autoscale_cfg_from_spec(&d, &c);
    assert_int_equal(c.min_replicas, 0);
    assert_int_equal(c.max_replicas, 4);
    assert_true(c.target == 0);
    assert_int_equal(c.scale_to_zero_after_ms, 600 * S);
    assert_int_equal(c.scale_down_window_ms, 0);
    d.autoscale = (spec_autoscale){.set = true, .target = 8, .scale_up_window_s = 30, .scale_down_window_s = 300};
    serve_autoscale_cfg_from_spec(&d, &c);
    assert_true(c.target == 8);
    assert_true(c.tolerance == SERVE_AUTOSCALE_TOLERANCE);
    assert_int_equal(c.scale_up_window_ms, 30 * S);
    assert_int_equal(c.scale_down_window_ms, 300 * S);
}

/* ---- the bounded history against a naive one ----------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void) { /* xorshift64 */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_history_is_bounded_and_exact(void **state) {
    (void)state;
    for (int round = 0; round < 20; round++) {
        int min = (int)(next_rand() % 3), max = 1 + (int)(next_rand() % 40);
        serve_autoscale_cfg c = cfg_of(min, max, 1 + (double)(next_rand() % 10),
                                       (int)(next_rand() % 120), (int)(next_rand() % 600));
        sim s;
        sim_init(&s, c, 1);
        enum { N = 20000 };
        serve_autoscale_rec *hist = mp_xcalloc(N, sizeof *hist);
        int64_t now = 0;
        for (int i = 0; i < N; i++) {
            now += (int64_t)(next_rand() % 5000); /* 0-5 s apart, sometimes the same ms */
            double observed = (double)(next_rand() % (uint64_t)(12 * max * c.target));
            if (next_rand() % 10 == 0) observed = 0;
            s.replicas = serve_autoscale_desired(&c, &s.st, now, observed, s.replicas);
            hist[i] = (serve_autoscale_rec){now, s.st.last};
            int lo = INT32_MAX, hi = -1;
            for (int j = i; j >= 0 && (hist[j].t_ms > now - c.scale_up_window_ms || j == i); j--)
                if (hist[j].replicas < lo) lo = hist[j].replicas;
            for (int j = i; j >= 0 && (hist[j].t_ms > now - c.scale_down_window_ms || j == i); j--)
                if (hist[j].replicas > hi) hi = hist[j].replicas;
            assert_int_equal(s.st.up.v[s.st.up.head].replicas, lo);
            assert_int_equal(s.st.down.v[s.st.down.head].replicas, hi);
            size_t bound = (size_t)(max > min ? max : min) + 1;
            assert_true(s.st.up.n <= bound && s.st.down.n <= bound);
            assert_true(s.replicas >= min && s.replicas <= (max > min ? max : min));
        }
        free(hist);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ramp_up_and_clamps),
        cmocka_unit_test(test_tolerance),
        cmocka_unit_test(test_scale_up_window),
        cmocka_unit_test(test_scale_down_window_prevents_flapping),
        cmocka_unit_test(test_scale_to_zero_after_idle),
        cmocka_unit_test(test_scale_from_zero),
        cmocka_unit_test(test_fixed_count_without_target),
        cmocka_unit_test(test_cfg_from_spec),
        cmocka_unit_test(test_history_is_bounded_and_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
