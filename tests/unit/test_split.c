/* test_split.c — the traffic split: the canary's share is exact and evenly spread
 * for requests without a sticky header, a sticky value always gets the same
 * version and the values split in proportion, the shadow's sample, bad values, and
 * promote/rollback (percent changes) while other threads pick. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/serve.h"

static serve_split *new_split(int percent, double rate) {
    serve_split *s = NULL;
    mp_err e;
    int rc = serve_split_new(percent, rate, &s, &e);
    if (rc) print_message("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

static void test_canary_share_is_exact(void **state) {
    (void)state;
    const int percents[] = {1, 10, 25, 33, 50, 90, 99};
    for (size_t k = 0; k < sizeof percents / sizeof *percents; k++) {
        int p = percents[k];
        serve_split *s = new_split(p, 0);
        int canary = 0, window = 0, since = 0, longest_gap = 0;
        for (int i = 0; i < 10000; i++) {
            bool c = serve_split_pick(s, NULL) == SERVE_TRACK_CANARY;
            canary += c;
            window += c;
            since = c ? 0 : since + 1;
            if (since > longest_gap) longest_gap = since;
            if (i % 100 == 99) { /* every 100 consecutive requests hold exactly p canary ones */
                assert_int_equal(window, p);
                window = 0;
            }
        }
        assert_int_equal(canary, 100 * p); /* 10% of 10,000 is 1000, exactly */
        /* evenly spread: never more stable ones in a row than the spread allows */
        assert_true(longest_gap <= (100 + p - 1) / p);
        serve_split_counts cnt;
        serve_split_counts_get(s, &cnt);
        assert_int_equal(cnt.canary, 100 * p);
        assert_int_equal(cnt.stable, 10000 - 100 * p);
        serve_split_free(s);
    }
}

static void test_zero_and_hundred(void **state) {
    (void)state;
    serve_split *s = new_split(0, 0);
    for (int i = 0; i < 1000; i++) {
        char v[32];
        snprintf(v, sizeof v, "user-%d", i);
        assert_int_equal(serve_split_pick(s, NULL), SERVE_TRACK_STABLE);
        assert_int_equal(serve_split_pick(s, v), SERVE_TRACK_STABLE);
        assert_false(serve_split_mirror(s));
    }
    mp_err e;
    assert_int_equal(serve_split_set_percent(s, 100, &e), 0); /* promote */
    assert_int_equal(serve_split_percent(s), 100);
    for (int i = 0; i < 1000; i++) {
        char v[32];
        snprintf(v, sizeof v, "user-%d", i);
        assert_int_equal(serve_split_pick(s, NULL), SERVE_TRACK_CANARY);
        assert_int_equal(serve_split_pick(s, v), SERVE_TRACK_CANARY);
    }
    assert_int_equal(serve_split_set_percent(s, 0, &e), 0); /* rollback */
    assert_int_equal(serve_split_pick(s, NULL), SERVE_TRACK_STABLE);
    serve_split_counts cnt;
    serve_split_counts_get(s, &cnt);
    assert_int_equal(cnt.stable, 2001);
    assert_int_equal(cnt.canary, 2000);
    assert_int_equal(cnt.shadow, 0);
    serve_split_free(s);
}

static void test_sticky_values(void **state) {
    (void)state;
    serve_split *s = new_split(10, 0);
    /* the same value, the same version, however many times and from any split */
    serve_split *other = new_split(10, 0);
    for (int i = 0; i < 200; i++) {
        char v[32];
        snprintf(v, sizeof v, "client-%d", i);
        serve_track t = serve_split_pick(s, v);
        for (int j = 0; j < 20; j++) assert_int_equal(serve_split_pick(s, v), t);
        assert_int_equal(serve_split_pick(other, v), t);
        assert_int_equal(serve_split_sticky_track(v, 10), t);
    }
    serve_split_free(other);

    /* over 10,000 distinct values the canary gets p% +- 2% */
    const int percents[] = {1, 10, 50, 90};
    for (size_t k = 0; k < sizeof percents / sizeof *percents; k++) {
        int p = percents[k], canary = 0;
        for (int i = 0; i < 10000; i++) {
            char v[32];
            snprintf(v, sizeof v, "user-%d", i);
            canary += serve_split_sticky_track(v, p) == SERVE_TRACK_CANARY;
        }
        print_message("sticky %d%%: %d of 10000\n", p, canary);
        assert_true(canary >= 100 * p - 200 && canary <= 100 * p + 200);
    }

    /* raising the share only moves values to the canary, never back */
    for (int i = 0; i < 10000; i++) {
        char v[32];
        snprintf(v, sizeof v, "user-%d", i);
        for (int p = 1; p <= 100; p++)
            if (serve_split_sticky_track(v, p - 1) == SERVE_TRACK_CANARY)
                assert_int_equal(serve_split_sticky_track(v, p), SERVE_TRACK_CANARY);
    }

    /* an empty value is no value: the even spread, not one bucket for all */
    int canary = 0;
    for (int i = 0; i < 1000; i++) canary += serve_split_pick(s, "") == SERVE_TRACK_CANARY;
    assert_int_equal(canary, 100);
    serve_split_free(s);
}

static void test_shadow_sample(void **state) {
    (void)state;
    const double rates[] = {0.25, 0.1, 0.001, 0.5};
    for (size_t k = 0; k < sizeof rates / sizeof *rates; k++) {
        serve_split *s = new_split(0, rates[k]);
        int n = 0;
        for (int i = 0; i < 1000000; i++) n += serve_split_mirror(s);
        assert_int_equal(n, (int)(rates[k] * 1000000));
        serve_split_counts cnt;
        serve_split_counts_get(s, &cnt);
        assert_int_equal(cnt.shadow, (uint64_t)n);
        serve_split_free(s);
    }
    serve_split *s = new_split(0, 1);
    for (int i = 0; i < 100; i++) assert_true(serve_split_mirror(s));
    mp_err e;
    assert_int_equal(serve_split_set_shadow_rate(s, 0.5, &e), 0);
    assert_true(serve_split_shadow_rate(s) == 0.5);
    int n = 0;
    for (int i = 0; i < 10000; i++) n += serve_split_mirror(s);
    assert_int_equal(n, 5000);
    serve_split_free(s);
}

static void test_bad_values(void **state) {
    (void)state;
    serve_split *s = (serve_split *)1;
    mp_err e;
    assert_int_equal(serve_split_new(101, 0, &s, &e), MP_EINVAL);
    assert_null(s);
    assert_non_null(strstr(e.msg, "from 0 to 100"));
    assert_int_equal(serve_split_new(-1, 0, &s, &e), MP_EINVAL);
    assert_int_equal(serve_split_new(10, 1.5, &s, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "from 0 to 1"));
    assert_int_equal(serve_split_new(10, NAN, &s, &e), MP_EINVAL);
    s = new_split(10, 0);
    assert_int_equal(serve_split_set_percent(s, 200, &e), MP_EINVAL);
    assert_int_equal(serve_split_percent(s), 10); /* unchanged */
    assert_int_equal(serve_split_set_shadow_rate(s, -0.1, NULL), MP_EINVAL);
    assert_true(serve_split_shadow_rate(s) == 0);
    serve_split_free(s);
    serve_split_free(NULL);
}

static void test_from_spec(void **state) {
    (void)state;
    spec_deployment d = {.meta = {.name = "d"}};
    serve_split *s;
    mp_err e;
    assert_int_equal(serve_split_from_spec(&d, &s, &e), 0);
    assert_int_equal(serve_split_percent(s), 0);
    assert_true(serve_split_shadow_rate(s) == 0);
    serve_split_free(s);
    d.canary = (spec_canary){.set = true, .percent = 15};
    d.shadow = (spec_shadow){.set = true, .sample_rate = 0.2};
    assert_int_equal(serve_split_from_spec(&d, &s, &e), 0);
    assert_int_equal(serve_split_percent(s), 15);
    assert_true(serve_split_shadow_rate(s) == 0.2);
    serve_split_free(s);
}

/* ---- changes while other threads pick -------------------------------------------------
 * The main thread promotes and rolls back (100%, 0%, and shares in between) while
 * pickers run. A seqlock-style epoch tells each picker which percent its pick
 * must have seen: odd while a change is under way, even once it is done. Every
 * pick made wholly inside one settled phase of 0% or 100% must give that phase's
 * track; none may be lost from the counts. */

#define NTHREADS 4
#define NPHASES 40

static const int PHASE_PERCENT[] = {0, 100, 10, 0, 100, 50, 100, 0};
#define PHASE_OF(epoch) PHASE_PERCENT[((epoch) / 2) % (sizeof PHASE_PERCENT / sizeof *PHASE_PERCENT)]

typedef struct picker {
    serve_split *s;
    atomic_uint *epoch;
    atomic_bool *stop;
    atomic_ulong done;        /* picks made */
    unsigned long checked;    /* picks inside a settled 0% or 100% phase */
    unsigned long wrong;      /* of those, picks of the other track */
} picker;

static void *pick_loop(void *arg) {
    picker *p = arg;
    unsigned long n = 0;
    while (!atomic_load(p->stop)) {
        unsigned e1 = atomic_load_explicit(p->epoch, memory_order_acquire);
        serve_track t = serve_split_pick(p->s, NULL);
        atomic_thread_fence(memory_order_acquire);
        unsigned e2 = atomic_load_explicit(p->epoch, memory_order_relaxed);
        int pc = PHASE_OF(e1);
        if (e1 == e2 && e1 % 2 == 0 && (pc == 0 || pc == 100)) {
            p->checked++;
            if (t != (pc == 100 ? SERVE_TRACK_CANARY : SERVE_TRACK_STABLE)) p->wrong++;
        }
        atomic_store(&p->done, ++n);
    }
    return NULL;
}

static void test_changes_under_concurrent_picks(void **state) {
    (void)state;
    serve_split *s = new_split(PHASE_PERCENT[0], 0);
    atomic_uint epoch = 0;
    atomic_bool stop = false;
    picker pk[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        pk[i] = (picker){.s = s, .epoch = &epoch, .stop = &stop};
        atomic_init(&pk[i].done, 0);
        assert_int_equal(pthread_create(&th[i], NULL, pick_loop, &pk[i]), 0);
    }
    for (unsigned phase = 1; phase <= NPHASES; phase++) {
        /* let every picker make a few picks in the current phase */
        unsigned long seen[NTHREADS];
        for (int i = 0; i < NTHREADS; i++) seen[i] = atomic_load(&pk[i].done);
        for (int i = 0; i < NTHREADS; i++)
            while (atomic_load(&pk[i].done) < seen[i] + 50) sched_yield();
        unsigned odd = 2 * phase - 1;
        atomic_store_explicit(&epoch, odd, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        assert_int_equal(serve_split_set_percent(s, PHASE_OF(odd + 1), NULL), 0);
        atomic_store_explicit(&epoch, odd + 1, memory_order_release);
    }
    atomic_store(&stop, true);
    unsigned long total = 0, checked = 0, wrong = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        total += atomic_load(&pk[i].done);
        checked += pk[i].checked;
        wrong += pk[i].wrong;
    }
    print_message("%lu picks, %lu in settled 0%%/100%% phases, %lu wrong\n", total, checked, wrong);
    assert_true(checked > 0);
    assert_int_equal(wrong, 0);
    serve_split_counts cnt;
    serve_split_counts_get(s, &cnt);
    assert_int_equal(cnt.stable + cnt.canary, total);
    serve_split_free(s);
}

/* The even spread holds across threads: 8 threads of 1250 picks at 10% give 1000. */
typedef struct counter_arg {
    serve_split *s;
    int canary;
} counter_arg;

static void *pick_1250(void *arg) {
    counter_arg *a = arg;
    for (int i = 0; i < 1250; i++) a->canary += serve_split_pick(a->s, NULL) == SERVE_TRACK_CANARY;
    return NULL;
}

static void test_share_exact_across_threads(void **state) {
    (void)state;
    serve_split *s = new_split(10, 0);
    counter_arg a[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (counter_arg){s, 0};
        assert_int_equal(pthread_create(&th[i], NULL, pick_1250, &a[i]), 0);
    }
    int canary = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        canary += a[i].canary;
    }
    assert_int_equal(canary, 1000);
    serve_split_free(s);
}

int main(void) {
    if (mp_init() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canary_share_is_exact),
        cmocka_unit_test(test_zero_and_hundred),
        cmocka_unit_test(test_sticky_values),
        cmocka_unit_test(test_shadow_sample),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_from_spec),
        cmocka_unit_test(test_changes_under_concurrent_picks),
        cmocka_unit_test(test_share_exact_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
