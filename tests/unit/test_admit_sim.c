/* test_admit_sim.c — the admission cycle over time: discrete-event simulations
 * (admit_helpers.h) that run one cycle at every event and act on its decisions.
 *   - weighted fair share: two queues of weights 2 and 1 borrowing from a third
 *     queue's nominal quota share it 2:1, though first come, first served would
 *     give it all to the second;
 *   - no starvation: a low-priority job runs once high-priority ones stop
 *     coming, and a preempted job runs again to its end;
 *   - backfill: a blocked gang starts exactly when its reservation said, while
 *     small jobs with time limits run before it.
 * Single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/sched.h"

#include "admit_helpers.h"

#define S 1000 /* ms */

static uint64_t rnd(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* ---- weighted fair share ----------------------------------------------------------------- */

#define FAIR_QUEUE(name, weight, gpu)                                                                                  \
    API "kind: ClusterQueue\nmetadata: {name: " name "}\nspec:\n"                                                      \
        "  cohort: lab\n"                                                                                              \
        "  fairSharing: {weight: " weight "}\n"                                                                        \
        "  resourceGroups:\n"                                                                                          \
        "    - coveredResources: [cpu, memory, nvidia.com/gpu]\n"                                                      \
        "      flavors:\n"                                                                                             \
        "        - name: default\n"                                                                                    \
        "          resources:\n"                                                                                       \
        "            - {name: cpu, nominalQuota: 1000}\n"                                                              \
        "            - {name: memory, nominalQuota: 10Ti}\n"                                                           \
        "            - {name: nvidia.com/gpu, nominalQuota: " gpu "}\n"                                                \
        "---\n"

typedef struct usage {
    int64_t from, to;  /* the window measured */
    int64_t gpu_ms[2]; /* team-a, team-b */
    int64_t last;      /* time of the previous cycle */
    int64_t running[2];
} usage;

/* Integrates each queue's running GPUs over the window; checks the cohort's quota. */
static void measure(world *wd, int64_t now, void *ud) {
    usage *u = ud;
    for (int q = 0; q < 2; q++) {
        int64_t a = u->last > u->from ? u->last : u->from, b = now < u->to ? now : u->to;
        if (b > a) u->gpu_ms[q] += u->running[q] * (b - a);
    }
    u->last = now;
    int64_t total = 0;
    for (size_t i = 0; i < wd->n; i++) {
        if (wd->jobs[i].gone || !wd->w[i].admitted) continue;
        total += wd->w[i].req.requests.gpu;
    }
    for (size_t k = 0; k < wd->nd; k++)
        if (wd->d[k].verdict == SCHED_ADMIT) total += wd->w[wd->d[k].workload].req.requests.gpu;
    assert_true(total <= 30); /* all the cohort has */
    /* what runs from now on (after this cycle's admissions) */
    u->running[0] = u->running[1] = 0;
    for (size_t i = 0; i < wd->n; i++) {
        bool runs = !wd->jobs[i].gone && wd->w[i].admitted && !(wd->jobs[i].end >= 0 && wd->jobs[i].end <= now);
        for (size_t k = 0; k < wd->nd; k++) runs = runs || (wd->d[k].workload == i && wd->d[k].verdict == SCHED_ADMIT);
        if (runs) u->running[wd->w[i].cluster_queue[5] == 'a' ? 0 : 1] += wd->w[i].req.requests.gpu;
    }
}

static void test_fair_share_converges(void **state) {
    (void)state;
    world *wd = world_new(API "kind: ResourceFlavor\nmetadata: {name: default}\n---\n" FAIR_QUEUE("team-c", "1", "30")
                              FAIR_QUEUE("team-a", "2", "0") FAIR_QUEUE("team-b", "1", "0"));
    for (int i = 0; i < 8; i++) add_node(wd, 64, 512, 8); /* room for more than the quota */
    uint64_t seed = 42;
    for (int i = 0; i < 600; i++) { /* both queues stay busy through the window */
        bool b = i % 2 == 1;
        size_t w = add_work(wd, "job", b ? "team-b" : "team-a", 0, 1000, 1, 1);
        snprintf(wd->ids[w], sizeof wd->ids[w], "%s/%d", b ? "b" : "a", i);
        wd->w[w].created_ms = b ? 0 : 1; /* first come, first served would give b everything first */
        wd->jobs[w].duration = (50 + (int64_t)(rnd(&seed) % 101)) * S;
    }
    usage u = {.from = 200 * S, .to = 1200 * S};
    sim_hooks h = {.after = measure, .ud = &u};
    sim_run(wd, 0, 1300 * S, &h);
    double ratio = (double)u.gpu_ms[0] / (double)u.gpu_ms[1];
    print_message("fair share: team-a %.0f GPU-s, team-b %.0f GPU-s, ratio %.3f\n", u.gpu_ms[0] / 1000.0,
                  u.gpu_ms[1] / 1000.0, ratio);
    assert_true(ratio > 1.9 && ratio < 2.1);
    assert_true(u.gpu_ms[0] + u.gpu_ms[1] >= 28LL * (u.to - u.from)); /* the borrowed quota stays in use */
    world_free(wd);
}

/* ---- no starvation ------------------------------------------------------------------------ */

typedef struct arrivals {
    int64_t until; /* a new high-priority job every 10 s until then */
    int64_t next;
    int count;
} arrivals;

static int64_t keep_arriving(world *wd, int64_t now, void *ud) {
    arrivals *a = ud;
    while (a->next <= now && a->next < a->until) {
        size_t w = add_work(wd, "high", NULL, 100, 1000, 8, 1);
        snprintf(wd->ids[w], sizeof wd->ids[w], "high/%d", a->count++);
        wd->w[w].created_ms = a->next;
        wd->jobs[w].duration = 10 * S;
        a->next += 10 * S;
    }
    return a->next < a->until ? a->next : -1;
}

static void test_low_priority_not_starved(void **state) {
    (void)state;
    world *wd = world_new(NULL);
    add_node(wd, 64, 512, 8);
    size_t low = add_work(wd, "low/job", NULL, 0, 1000, 8, 1);
    wd->jobs[low].duration = 10 * S;
    size_t mid = add_work(wd, "mid/job", NULL, 50, 1000, 8, 1);
    wd->jobs[mid].duration = 30 * S;
    admit1(wd, mid, 0, NULL, 0); /* running when the first high one comes: it is preempted */
    wd->jobs[mid].end = 30 * S;
    arrivals a = {.until = 100 * S, .next = 5 * S};
    sim_hooks h = {.before = keep_arriving, .ud = &a};
    sim_run(wd, 5 * S, 1000 * S, &h);
    assert_true(a.count >= 9);
    assert_int_equal(wd->jobs[mid].preempted, 1);
    for (size_t i = 0; i < wd->n; i++) assert_true(wd->jobs[i].gone); /* every job ran to its end */
    /* the high ones ran back to back; then mid (higher than low), then low */
    assert_true(wd->jobs[mid].end <= wd->jobs[low].start);
    assert_true(wd->jobs[low].start >= 100 * S && wd->jobs[low].start <= 150 * S);
    world_free(wd);
}

/* ---- backfill ----------------------------------------------------------------------------- */

typedef struct watch {
    size_t big;
    int64_t reserved_at; /* when the big job's first reservation says it starts; -1 until then */
    int delayed;         /* WAITs that named the reservation */
} watch;

static void watch_big(world *wd, int64_t now, void *ud) {
    watch *wt = ud;
    for (size_t k = 0; k < wd->nd; k++) {
        const sched_decision *d = &wd->d[k];
        if (d->verdict == SCHED_WAIT && strstr(d->why, "would delay big/train")) wt->delayed++;
        if (d->workload != wt->big || wt->reserved_at >= 0 || d->verdict != SCHED_WAIT) continue;
        const char *p = strstr(d->why, "expected to start in ");
        assert_non_null(p);
        wt->reserved_at = now + atoll(p + strlen("expected to start in ")) * S;
    }
}

static void test_backfill_never_delays_blocked_job(void **state) {
    (void)state;
    world *wd = world_new(NULL);
    add_node(wd, 64, 512, 8);
    add_node(wd, 64, 512, 8);
    size_t r1 = add_work(wd, "run/r1", NULL, 50, 1000, 8, 1), r2 = add_work(wd, "run/r2", NULL, 50, 1000, 4, 1);
    wd->w[r1].limit_ms = wd->jobs[r1].duration = 100 * S;
    wd->w[r2].limit_ms = wd->jobs[r2].duration = 50 * S;
    admit1(wd, r1, 0, NULL, 0);
    admit1(wd, r2, 0, NULL, 1);
    wd->jobs[r1].end = 100 * S;
    wd->jobs[r2].end = 50 * S;
    size_t big = add_work(wd, "big/train", NULL, 10, 1000, 8, 2); /* both nodes whole */
    wd->w[big].limit_ms = wd->jobs[big].duration = 60 * S;
    wd->w[big].may_preempt = false;
    struct { int64_t gpus, limit_s, runs_s; } smalls[] = {
        {4, 40, 40}, {2, 0, 500}, {8, 30, 30}, {4, 60, 60}, {1, 20, 20}, {1, 200, 200}, {2, 10, 10},
    };
    size_t first = wd->n;
    for (size_t i = 0; i < sizeof smalls / sizeof smalls[0]; i++) {
        size_t w = add_work(wd, "small", NULL, 0, 1000, smalls[i].gpus, 1);
        snprintf(wd->ids[w], sizeof wd->ids[w], "small/%zu", i);
        wd->w[w].limit_ms = smalls[i].limit_s * S;
        wd->jobs[w].duration = smalls[i].runs_s * S;
    }
    watch wt = {.big = big, .reserved_at = -1};
    sim_hooks h = {.after = watch_big, .ud = &wt};
    sim_run(wd, 0, 10000 * S, &h);
    print_message("big reserved at %lld s, started at %lld s\n", (long long)(wt.reserved_at / S),
                  (long long)(wd->jobs[big].start / S));
    assert_int_equal(wt.reserved_at, 100 * S); /* when r1 and r2 will have ended */
    assert_int_equal(wd->jobs[big].start, wt.reserved_at);
    assert_true(wt.delayed > 0);
    int before = 0;
    for (size_t w = first; w < wd->n; w++) {
        assert_true(wd->jobs[w].gone);
        if (wd->jobs[w].start < wd->jobs[big].start) {
            before++; /* a backfilled job ended in time */
            assert_true(wd->jobs[w].start + wd->w[w].limit_ms <= wd->jobs[big].start);
        }
    }
    assert_true(before >= 3);
    assert_true(wd->jobs[first + 1].start >= wd->jobs[big].start); /* no time limit: after the big one */
    world_free(wd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fair_share_converges),
        cmocka_unit_test(test_low_priority_not_starved),
        cmocka_unit_test(test_backfill_never_delays_blocked_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
