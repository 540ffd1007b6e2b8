/* test_admit.c — the admission cycle (src/sched/admit*.c) on small simulated
 * clusters, one scenario per test: priority preemption (fewest and lowest
 * victims, preemptionPolicy Never, evicting victims not chosen again, room
 * promised to a preemptor not given away), quota waits, borrowing within
 * borrowingLimit and lendingLimit, reclaiming quota from borrowers, preemption
 * within a ClusterQueue, gangs all or nothing and preempted whole, taints and
 * nodeSelector, MIG slices, flavors with node labels, unknown queues and
 * resources, malformed input (pending and admitted), and determinism over
 * several cycles of a pseudo-random load. The simulations (fair share,
 * starvation, backfill) are in test_admit_sim.c. Single-threaded. */
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

/* ---- priority preemption ---------------------------------------------------------- */

/* Two nodes of 8 GPUs, full of 4-GPU training jobs: t1 and t2 (priority 0) on n0,
 * t3 (priority 10) and t4 (priority 0, started last) on n1. */
static world *training_cluster(void) {
    world *wd = world_new(NULL);
    add_node(wd, 64, 512, 8);
    add_node(wd, 64, 512, 8);
    size_t t1 = add_work(wd, "train/t1", NULL, 0, 1000, 4, 1), t2 = add_work(wd, "train/t2", NULL, 0, 1000, 4, 1);
    size_t t3 = add_work(wd, "train/t3", NULL, 10, 1000, 4, 1), t4 = add_work(wd, "train/t4", NULL, 0, 1000, 4, 1);
    admit1(wd, t1, 100, NULL, 0);
    admit1(wd, t2, 200, NULL, 0);
    admit1(wd, t3, 50, NULL, 1);
    admit1(wd, t4, 300, NULL, 1);
    return wd;
}

static void test_serving_preempts_training(void **state) {
    (void)state;
    world *wd = training_cluster();
    size_t s = add_work(wd, "serve/s", NULL, 1000, 1000, 4, 1);
    cycle_ok(wd, 1000);
    /* the latest started of the lowest priority goes first, and one is enough */
    const sched_decision *d = expect(wd, s, SCHED_PREEMPT, "waiting for preemption: preempts train/t4 (priority 0) to "
                                                           "make room; needs 4 nvidia.com/gpu, largest free on any "
                                                           "node is 0");
    assert_int_equal(d->nvictims, 1);
    assert_int_equal(d->victims[0], 3);
    world_free(wd);

    /* a whole node: t4 and t2 and t1 are taken in order, then t4 is spared */
    wd = training_cluster();
    s = add_work(wd, "serve/s", NULL, 1000, 1000, 8, 1);
    cycle_ok(wd, 1000);
    d = expect(wd, s, SCHED_PREEMPT, "preempts train/t2 (priority 0), train/t1 (priority 0)");
    assert_int_equal(d->nvictims, 2);
    assert_true(has_victim(d, 0) && has_victim(d, 1));
    world_free(wd);
}

static void test_preemption_policy_never(void **state) {
    (void)state;
    world *wd = training_cluster();
    size_t s = add_work(wd, "serve/s", NULL, 1000, 1000, 4, 1);
    wd->w[s].may_preempt = false;
    cycle_ok(wd, 1000);
    const sched_decision *d = expect(wd, s, SCHED_WAIT, "waiting for nodes: needs 4 nvidia.com/gpu, largest free on any node is 0");
    assert_int_equal(d->nvictims, 0);
    /* and nothing of lower or equal priority preempts either */
    world_free(wd);
    wd = training_cluster();
    s = add_work(wd, "train/t5", NULL, 0, 1000, 4, 1);
    cycle_ok(wd, 1000);
    expect(wd, s, SCHED_WAIT, "largest free on any node is 0");
    world_free(wd);
}

static void test_evicting_victims_not_chosen_again(void **state) {
    (void)state;
    world *wd = training_cluster();
    size_t s1 = add_work(wd, "serve/s1", NULL, 1000, 1000, 8, 1);
    size_t s2 = add_work(wd, "serve/s2", NULL, 1000, 1000, 8, 1);
    size_t low = add_work(wd, "batch/low", NULL, 0, 1000, 4, 1);
    cycle_ok(wd, 1000);
    /* s1 takes t2, t1; s2 may not take them again: it takes t4 and t3 */
    const sched_decision *d1 = expect(wd, s1, SCHED_PREEMPT, "train/t2");
    const sched_decision *d2 = expect(wd, s2, SCHED_PREEMPT, "train/t4 (priority 0), train/t3 (priority 10)");
    assert_true(has_victim(d1, 0) && has_victim(d1, 1) && d1->nvictims == 2);
    assert_true(has_victim(d2, 2) && has_victim(d2, 3) && d2->nvictims == 2);
    /* the room the victims leave is promised: a later workload does not get it */
    expect(wd, low, SCHED_WAIT, NULL);

    /* next cycle: the victims are evicting; s1 and s2 wait for them, choosing no one new */
    for (size_t t = 0; t < 4; t++) wd->w[t].evicting = true;
    cycle_ok(wd, 2000);
    d1 = expect(wd, s1, SCHED_WAIT, "waiting for preempted workloads to exit: train/t1, train/t2");
    d2 = expect(wd, s2, SCHED_WAIT, "waiting for preempted workloads to exit: train/t3, train/t4");
    assert_int_equal(d1->nvictims + d2->nvictims, 0);
    expect(wd, low, SCHED_WAIT, NULL);

    /* they exit: s1 and s2 start where they were */
    for (size_t t = 0; t < 4; t++) wd->jobs[t].gone = true;
    cycle_ok(wd, 3000);
    expect(wd, s1, SCHED_ADMIT, "admitted to n0");
    expect(wd, s2, SCHED_ADMIT, "admitted to n1");
    expect(wd, low, SCHED_WAIT, NULL);
    world_free(wd);
}

/* ---- quotas -------------------------------------------------------------------- */

#define FLAVOR_DEFAULT API "kind: ResourceFlavor\nmetadata: {name: default}\n---\n"
#define RESOURCES_GPU(gpu)                                                                                             \
    "  resourceGroups:\n"                                                                                              \
    "    - coveredResources: [cpu, memory, nvidia.com/gpu]\n"                                                          \
    "      flavors:\n"                                                                                                 \
    "        - name: default\n"                                                                                        \
    "          resources:\n"                                                                                           \
    "            - {name: cpu, nominalQuota: 1000}\n"                                                                  \
    "            - {name: memory, nominalQuota: 10Ti}\n"                                                               \
    "            - {name: nvidia.com/gpu, " gpu "}\n"

static void test_quota_wait_without_cohort(void **state) {
    (void)state;
    world *wd = world_new(FLAVOR_DEFAULT API "kind: ClusterQueue\nmetadata: {name: team-a}\nspec:\n" RESOURCES_GPU(
        "nominalQuota: 4"));
    add_node(wd, 64, 512, 8);
    size_t a = add_work(wd, "r/a", "team-a", 0, 1000, 3, 1);
    admit1(wd, a, 0, "cpu=default,memory=default,nvidia.com/gpu=default", 0);
    size_t b = add_work(wd, "r/b", "team-a", 0, 1000, 2, 1), c = add_work(wd, "r/c", "team-a", 0, 1000, 1, 1);
    cycle_ok(wd, 10);
    expect(wd, b, SCHED_WAIT,
           "waiting for quota: queue team-a over nominal nvidia.com/gpu quota 4 (3 in use, 2 requested), no cohort to "
           "borrow from");
    const sched_decision *d = expect(wd, c, SCHED_ADMIT, "admitted to n0 (queue team-a, flavor default)");
    assert_string_equal(d->flavors, "cpu=default,memory=default,nvidia.com/gpu=default");
    assert_false(d->borrows);
    world_free(wd);
}

#define COHORT_QUEUE(name, extra, gpu)                                                                                 \
    API "kind: ClusterQueue\nmetadata: {name: " name "}\nspec:\n  cohort: lab\n" extra RESOURCES_GPU(gpu) "---\n"

static void test_borrowing_limit(void **state) {
    (void)state;
    world *wd = world_new(FLAVOR_DEFAULT COHORT_QUEUE("team-a", "", "nominalQuota: 2, borrowingLimit: 3")
                              COHORT_QUEUE("team-b", "", "nominalQuota: 6, lendingLimit: 4"));
    add_node(wd, 64, 512, 8);
    add_node(wd, 64, 512, 8);
    size_t first = wd->n;
    for (int i = 0; i < 7; i++) add_work(wd, "a/job", "team-a", 0, 1000, 1, 1);
    cycle_ok(wd, 0);
    /* 2 nominal + 3 borrowed (b could lend 4, the limit is 3) */
    for (size_t i = first; i < first + 5; i++) {
        const sched_decision *d = expect(wd, i, SCHED_ADMIT, NULL);
        assert_int_equal(d->borrows, i >= first + 2);
        if (i >= first + 2) assert_non_null(strstr(d->why, "borrowing nvidia.com/gpu 1 from cohort"));
    }
    expect(wd, first + 5, SCHED_WAIT, "queue team-a over nominal nvidia.com/gpu quota 2 (5 in use, 1 requested), "
                                      "its borrowingLimit is 3, needs 4");
    world_free(wd);
}

static void test_lending_limit(void **state) {
    (void)state;
    world *wd = world_new(FLAVOR_DEFAULT COHORT_QUEUE("team-b", "", "nominalQuota: 6, lendingLimit: 4")
                              COHORT_QUEUE("team-c", "", "nominalQuota: 0"));
    add_node(wd, 64, 512, 16);
    size_t first = wd->n;
    for (int i = 0; i < 5; i++) add_work(wd, "c/job", "team-c", 0, 1000, 1, 1);
    cycle_ok(wd, 0);
    for (size_t i = first; i < first + 4; i++) expect(wd, i, SCHED_ADMIT, "borrowing nvidia.com/gpu 1 from cohort");
    expect(wd, first + 4, SCHED_WAIT, "queue team-c over nominal nvidia.com/gpu quota 0 (4 in use, 1 requested), "
                                      "cohort can lend it 4 in all, it would need 5");
    sim_apply(wd, 0);
    /* team-b keeps the 2 GPUs it does not lend; the other 4 are lent out */
    size_t b1 = add_work(wd, "b/two", "team-b", 0, 1000, 2, 1), b2 = add_work(wd, "b/one", "team-b", 0, 1000, 1, 1);
    cycle_ok(wd, 1);
    expect(wd, b1, SCHED_ADMIT, NULL);
    expect(wd, b2, SCHED_WAIT, "queue team-b needs 1 nvidia.com/gpu within its nominal quota 6 (2 in use), but other "
                               "queues of its cohort borrow it: 0 left");
    world_free(wd);
}

/* team-a (nominal 4, reclaim policy given) lends everything to team-b, whose four
 * 1-GPU jobs (priority prio_b) borrow it. */
static world *reclaim_cluster(const char *policy, int32_t prio_b) {
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "%s%s%s", FLAVOR_DEFAULT,
             strcmp(policy, "Any") == 0 ? COHORT_QUEUE("team-a", "  preemption: {reclaimWithinCohort: Any}\n",
                                                       "nominalQuota: 4")
             : strcmp(policy, "LowerPriority") == 0
                 ? COHORT_QUEUE("team-a", "  preemption: {reclaimWithinCohort: LowerPriority}\n", "nominalQuota: 4")
                 : COHORT_QUEUE("team-a", "", "nominalQuota: 4"),
             COHORT_QUEUE("team-b", "", "nominalQuota: 0"));
    world *wd = world_new(yaml);
    add_node(wd, 64, 512, 8);
    for (int i = 0; i < 4; i++) {
        size_t b = add_work(wd, "b/borrower", "team-b", prio_b, 1000, 1, 1);
        snprintf(wd->ids[b], sizeof wd->ids[b], "b/borrower%d", i);
        admit1(wd, b, 10 * i, "nvidia.com/gpu=default", 0);
    }
    return wd;
}

static void test_reclaim_within_cohort(void **state) {
    (void)state;
    world *wd = reclaim_cluster("Any", 100);
    size_t a = add_work(wd, "a/job", "team-a", 0, 1000, 2, 1);
    cycle_ok(wd, 1000);
    const sched_decision *d =
        expect(wd, a, SCHED_PREEMPT, "waiting for preemption: preempts b/borrower3 (priority 100), "
                          "b/borrower2 (priority 100) to free quota");
    assert_int_equal(d->nvictims, 2);
    world_free(wd);

    /* LowerPriority: higher-priority borrowers are kept, lower ones are taken */
    wd = reclaim_cluster("LowerPriority", 100);
    a = add_work(wd, "a/job", "team-a", 0, 1000, 2, 1);
    cycle_ok(wd, 1000);
    expect(wd, a, SCHED_WAIT, "queue team-a needs 2 nvidia.com/gpu within its nominal quota 4 (0 in use), but other "
                              "queues of its cohort borrow it: 0 left");
    world_free(wd);
    wd = reclaim_cluster("LowerPriority", -5);
    a = add_work(wd, "a/job", "team-a", 0, 1000, 2, 1);
    cycle_ok(wd, 1000);
    expect(wd, a, SCHED_PREEMPT, "to free quota");
    world_free(wd);

    /* Never (the default): it waits */
    wd = reclaim_cluster("Never", -5);
    a = add_work(wd, "a/job", "team-a", 0, 1000, 2, 1);
    cycle_ok(wd, 1000);
    expect(wd, a, SCHED_WAIT, "but other queues of its cohort borrow it");
    world_free(wd);

    /* reclaiming is for a queue within its nominal quota: 5 GPUs is over it */
    wd = reclaim_cluster("Any", -5);
    a = add_work(wd, "a/big", "team-a", 0, 1000, 5, 1);
    cycle_ok(wd, 1000);
    expect(wd, a, SCHED_WAIT, "over nominal nvidia.com/gpu quota 4");
    world_free(wd);
}

static void test_within_cluster_queue(void **state) {
    (void)state;
    const char *lower = FLAVOR_DEFAULT API "kind: ClusterQueue\nmetadata: {name: q}\nspec:\n"
                                          "  preemption: {withinClusterQueue: LowerPriority}\n" RESOURCES_GPU(
                                              "nominalQuota: 4");
    world *wd = world_new(lower);
    add_node(wd, 64, 512, 8);
    size_t l1 = add_work(wd, "r/l1", "q", 0, 1000, 2, 1), l2 = add_work(wd, "r/l2", "q", 0, 1000, 2, 1);
    admit1(wd, l1, 10, "nvidia.com/gpu=default", 0);
    admit1(wd, l2, 20, "nvidia.com/gpu=default", 0);
    size_t hi = add_work(wd, "r/hi", "q", 10, 1000, 2, 1), eq = add_work(wd, "r/eq", "q", 0, 1000, 2, 1);
    wd->w[eq].created_ms = -1; /* older than both: still not preempting equals under LowerPriority */
    cycle_ok(wd, 100);
    const sched_decision *d = expect(wd, hi, SCHED_PREEMPT, "preempts r/l2 (priority 0) to free quota; queue q over");
    assert_int_equal(d->nvictims, 1);
    expect(wd, eq, SCHED_WAIT, "over nominal nvidia.com/gpu quota 4");
    world_free(wd);

    /* LowerOrNewerEqualPriority: an older workload of equal priority takes the newest */
    wd = world_new(FLAVOR_DEFAULT API "kind: ClusterQueue\nmetadata: {name: q}\nspec:\n"
                                     "  preemption: {withinClusterQueue: LowerOrNewerEqualPriority}\n" RESOURCES_GPU(
                                         "nominalQuota: 4"));
    add_node(wd, 64, 512, 8);
    l1 = add_work(wd, "r/l1", "q", 0, 1000, 2, 1);
    l2 = add_work(wd, "r/l2", "q", 0, 1000, 2, 1);
    admit1(wd, l1, 10, "nvidia.com/gpu=default", 0);
    admit1(wd, l2, 20, "nvidia.com/gpu=default", 0);
    eq = add_work(wd, "r/eq", "q", 0, 1000, 2, 1);
    wd->w[l1].created_ms = 0;
    wd->w[eq].created_ms = 1; /* newer than l1, older than l2 */
    wd->w[l2].created_ms = 5;
    cycle_ok(wd, 100);
    d = expect(wd, eq, SCHED_PREEMPT, "preempts r/l2 (priority 0)");
    assert_int_equal(d->nvictims, 1);
    world_free(wd);
}

/* ---- gangs --------------------------------------------------------------------- */

static void test_gang_all_or_nothing(void **state) {
    (void)state;
    world *wd = world_new(NULL);
    for (int i = 0; i < 4; i++) add_node(wd, 64, 512, 8);
    size_t blocker = add_work(wd, "other/blocker", NULL, 100, 1000, 8, 1);
    admit1(wd, blocker, 0, NULL, 3);
    size_t g = add_work(wd, "train/gang", NULL, 0, 1000, 8, 4);
    cycle_ok(wd, 10);
    expect(wd, g, SCHED_WAIT, "waiting for nodes: gang of 4 workers of 8 nvidia.com/gpu, 1 cpu, 1Gi memory: only 3 fit");
    for (size_t k = 0; k < wd->nd; k++) assert_int_not_equal(wd->d[k].verdict, SCHED_ADMIT);
    wd->jobs[blocker].gone = true;
    cycle_ok(wd, 20);
    const sched_decision *d = expect(wd, g, SCHED_ADMIT, "admitted to ");
    bool seen[4] = {false};
    for (int k = 0; k < 4; k++) {
        assert_true(d->nodes[k] < 4);
        assert_false(seen[d->nodes[k]]);
        seen[d->nodes[k]] = true;
    }
    world_free(wd);
}

static void test_gang_preempted_whole(void **state) {
    (void)state;
    world *wd = world_new(NULL);
    for (int i = 0; i < 2; i++) add_node(wd, 64, 512, 8);
    size_t g = add_work(wd, "train/gang", NULL, 0, 1000, 8, 2);
    size_t nodes[2] = {0, 1};
    admit_on(wd, g, 0, NULL, nodes);
    size_t s = add_work(wd, "serve/s", NULL, 100, 1000, 4, 1);
    cycle_ok(wd, 10);
    const sched_decision *d = expect(wd, s, SCHED_PREEMPT, "preempts train/gang (priority 0)");
    assert_int_equal(d->nvictims, 1);
    assert_int_equal(d->victims[0], g);
    world_free(wd);
}

/* ---- node constraints ---------------------------------------------------------------- */

static void test_taints_and_node_selector(void **state) {
    (void)state;
    world *wd = world_new(NULL);
    add_node(wd, 64, 512, 0);
    size_t gpu = add_node(wd, 64, 512, 8);
    node_label(wd, gpu, "pool", "serving");
    node_taint(wd, gpu, "dedicated", "serving", SCHED_NO_SCHEDULE);
    static const sched_kv sel[] = {{"pool", "serving"}}, bad[] = {{"pool", "nope"}};
    static const sched_toleration tol[] = {{"dedicated", SCHED_TOL_EQUAL, "serving", SCHED_NO_SCHEDULE}};
    size_t plain = add_work(wd, "r/plain", NULL, 0, 1000, 1, 1);
    wd->w[plain].req.node_selector = sel;
    wd->w[plain].req.nnode_selector = 1;
    size_t tolerating = add_work(wd, "r/tol", NULL, 0, 1000, 1, 1);
    wd->w[tolerating].req.node_selector = sel;
    wd->w[tolerating].req.nnode_selector = 1;
    wd->w[tolerating].req.tolerations = tol;
    wd->w[tolerating].req.ntolerations = 1;
    size_t lost = add_work(wd, "r/lost", NULL, 0, 1000, 0, 1);
    wd->w[lost].req.node_selector = bad;
    wd->w[lost].req.nnode_selector = 1;
    size_t cpu = add_work(wd, "r/cpu", NULL, 0, 1000, 0, 1);
    cycle_ok(wd, 0);
    expect(wd, plain, SCHED_WAIT, "n1 has taint dedicated=serving:NoSchedule that the step does not tolerate");
    expect(wd, tolerating, SCHED_ADMIT, "admitted to n1");
    expect(wd, lost, SCHED_WAIT, "waiting for nodes: 0/2 nodes match nodeSelector pool=nope");
    expect(wd, cpu, SCHED_ADMIT, "admitted to n0"); /* not on the tainted node */
    world_free(wd);
}

static void test_mig_slices(void **state) {
    (void)state;
    world *wd = world_new(NULL);
    size_t n = add_node(wd, 64, 512, 0);
    assert_int_equal(sched_res_ext_set(&wd->nodes[n].capacity, MIG, 7), 0);
    int64_t want[] = {3, 3, 1, 1};
    size_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = add_work(wd, "r/mig", NULL, 0, 1000, 0, 1);
        assert_int_equal(sched_res_ext_set(&wd->w[w[i]].req.requests, MIG, want[i]), 0);
    }
    cycle_ok(wd, 0);
    expect(wd, w[0], SCHED_ADMIT, NULL);
    expect(wd, w[1], SCHED_ADMIT, NULL);
    expect(wd, w[2], SCHED_ADMIT, NULL);
    expect(wd, w[3], SCHED_WAIT, "needs 1 nvidia.com/mig-1g.10gb, largest free on any node is 0");
    sim_apply(wd, 0); /* holds 7 of 7 */
    size_t big = add_work(wd, "r/big", NULL, 0, 1000, 0, 1);
    assert_int_equal(sched_res_ext_set(&wd->w[big].req.requests, MIG, 8), 0);
    cycle_ok(wd, 1);
    expect(wd, big, SCHED_WAIT, "needs 8 nvidia.com/mig-1g.10gb, largest capacity on any node is 7");
    world_free(wd);
}

static const char *const FLAVORS_YAML =
    API "kind: ResourceFlavor\nmetadata: {name: a100}\nspec: {nodeLabels: {gpu: a100}}\n---\n"
    API "kind: ResourceFlavor\nmetadata: {name: t4}\nspec: {nodeLabels: {gpu: t4}}\n---\n"
    API "kind: ClusterQueue\nmetadata: {name: q}\nspec:\n"
        "  resourceGroups:\n"
        "    - coveredResources: [cpu, memory, nvidia.com/gpu]\n"
        "      flavors:\n"
        "        - name: a100\n"
        "          resources: [{name: cpu, nominalQuota: 100}, {name: memory, nominalQuota: 1Ti},"
        " {name: nvidia.com/gpu, nominalQuota: 4}]\n"
        "        - name: t4\n"
        "          resources: [{name: cpu, nominalQuota: 100}, {name: memory, nominalQuota: 1Ti},"
        " {name: nvidia.com/gpu, nominalQuota: 8}]\n";

/* n0: an a100 node of 8 GPUs; n1: a t4 node of 4. */
static world *flavor_cluster(void) {
    world *wd = world_new(FLAVORS_YAML);
    size_t a = add_node(wd, 64, 512, 8), t = add_node(wd, 64, 512, 4);
    node_label(wd, a, "gpu", "a100");
    node_label(wd, t, "gpu", "t4");
    return wd;
}

static void test_flavors_with_node_labels(void **state) {
    (void)state;
    world *wd = flavor_cluster();
    size_t j1 = add_work(wd, "r/j1", "q", 0, 1000, 2, 1), j2 = add_work(wd, "r/j2", "q", 0, 1000, 2, 1);
    size_t j3 = add_work(wd, "r/j3", "q", 0, 1000, 2, 1), big = add_work(wd, "r/big", "q", 0, 1000, 6, 1);
    cycle_ok(wd, 0);
    const sched_decision *d = expect(wd, j1, SCHED_ADMIT, "admitted to n0 (queue q, flavor a100)");
    assert_string_equal(d->flavors, "cpu=a100,memory=a100,nvidia.com/gpu=a100");
    expect(wd, j2, SCHED_ADMIT, "admitted to n0 (queue q, flavor a100)");
    d = expect(wd, j3, SCHED_ADMIT, "admitted to n1 (queue q, flavor t4)"); /* a100's quota is used up */
    assert_string_equal(d->flavors, "cpu=t4,memory=t4,nvidia.com/gpu=t4");
    /* a100's quota is too small, and no t4 node is big enough */
    expect(wd, big, SCHED_WAIT, "needs 6 nvidia.com/gpu, largest capacity on any node is 4");
    world_free(wd);

    /* a100 has quota left but no room: the t4 flavor, which has both, is chosen */
    wd = flavor_cluster();
    size_t other = add_work(wd, "x/other", NULL, 0, 1000, 8, 1); /* fills the a100 node, outside the queue */
    admit1(wd, other, 0, NULL, 0);
    size_t j = add_work(wd, "r/j", "q", 0, 1000, 2, 1);
    cycle_ok(wd, 1);
    expect(wd, j, SCHED_ADMIT, "admitted to n1 (queue q, flavor t4)");
    world_free(wd);
}

/* ---- names and bad input --------------------------------------------------------------- */

static void test_unknown_queue_and_resource(void **state) {
    (void)state;
    world *wd = world_new(FLAVOR_DEFAULT API "kind: ClusterQueue\nmetadata: {name: cpu-only}\nspec:\n"
                                             "  resourceGroups:\n"
                                             "    - coveredResources: [cpu, memory]\n"
                                             "      flavors: [{name: default, resources: [{name: cpu, nominalQuota: "
                                             "10}, {name: memory, nominalQuota: 10Gi}]}]\n");
    add_node(wd, 64, 512, 8);
    size_t u = add_work(wd, "r/u", "nope", 0, 1000, 0, 1);
    size_t g = add_work(wd, "r/g", "cpu-only", 0, 1000, 1, 1);
    size_t ok = add_work(wd, "r/ok", "cpu-only", 0, 1000, 0, 1);
    cycle_ok(wd, 0);
    expect(wd, u, SCHED_WAIT, "waiting for a ClusterQueue: ClusterQueue nope is not applied; apply it with");
    expect(wd, g, SCHED_WAIT, "waiting for quota: ClusterQueue cpu-only has no quota for nvidia.com/gpu");
    expect(wd, ok, SCHED_ADMIT, "(queue cpu-only, flavor default)");
    world_free(wd);

    /* a flavor no ResourceFlavor defines makes the queue admit nothing */
    wd = world_new(API "kind: ClusterQueue\nmetadata: {name: q}\nspec:\n" RESOURCES_GPU("nominalQuota: 4"));
    add_node(wd, 64, 512, 8);
    g = add_work(wd, "r/g", "q", 0, 1000, 1, 1);
    cycle_ok(wd, 0);
    expect(wd, g, SCHED_WAIT, "ClusterQueue q refers to ResourceFlavor default, which is not defined");
    world_free(wd);
}

/* The one shape of why a step waits, and how a preemption is told apart. */
static void test_why_shape(void **state) {
    (void)state;
    char *w = sched_why(SCHED_WAIT_NODES, "gang of %d workers: %d fit", 4, 3);
    assert_string_equal(w, "waiting for nodes: gang of 4 workers: 3 fit");
    assert_true(sched_why_is(w, SCHED_WAIT_NODES));
    assert_false(sched_why_is(w, SCHED_WAIT_QUOTA));
    free(w);
    w = sched_why_take(SCHED_WAIT_PREEMPTION, mp_xstrdup("preempts r/x (priority 0) to make room"));
    assert_string_equal(w, "waiting for preemption: preempts r/x (priority 0) to make room");
    assert_true(sched_why_is(w, SCHED_WAIT_PREEMPTION));
    free(w);
    assert_string_equal(SCHED_WHY_QUEUED, "waiting for the scheduler: queued");
    assert_false(sched_why_is("waiting for preempted workloads to exit: r/x", SCHED_WAIT_PREEMPTION));
    assert_false(sched_why_is("preempts r/x (priority 0)", SCHED_WAIT_PREEMPTION));
    assert_false(sched_why_is("waiting for preemption", SCHED_WAIT_PREEMPTION));
    assert_false(sched_why_is(NULL, SCHED_WAIT_PREEMPTION));
}

static void test_malformed_input(void **state) {
    (void)state;
    world *wd = world_new(NULL);
    add_node(wd, 8, 64, 1);
    size_t a = add_work(wd, "r/a", NULL, 0, 1000, 0, 1);
    admit1(wd, a, 0, NULL, 5); /* no node 5 */
    mp_err e = {0};
    assert_int_equal(run_cycle(wd, 0, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "admitted workload r/a names node index 5, out of range (1 nodes)"));
    assert_null(wd->d);
    wd->w[a].nodes = NULL;
    assert_int_equal(run_cycle(wd, 0, &e), MP_EINVAL);
    wd->jobs[a].gone = true;

    size_t neg = add_work(wd, "r/neg", NULL, 0, -1, 0, 1);
    size_t gang = add_work(wd, "r/gang", NULL, 0, 1000, 0, -3);
    size_t sel = add_work(wd, "r/sel", NULL, 0, 1000, 0, 1);
    wd->w[sel].req.nnode_selector = 2; /* without the array */
    size_t huge = add_work(wd, "r/huge", NULL, 0, INT64_MAX, INT64_MAX, SCHED_GANG_MAX);
    size_t fine = add_work(wd, "r/fine", NULL, 0, 1000, 1, 0); /* gang 0 means 1 */
    wd->w[fine].id = NULL;
    cycle_ok(wd, 0);
    expect(wd, neg, SCHED_WAIT, "waiting for a valid request: a negative amount");
    expect(wd, gang, SCHED_WAIT, "waiting for a valid request: a gang must have 0 to");
    expect(wd, sel, SCHED_WAIT, "waiting for a valid request: its nodeSelector or tolerations are missing");
    expect(wd, huge, SCHED_WAIT, "largest capacity on any node is");
    const sched_decision *d = expect(wd, fine, SCHED_ADMIT, "admitted to n0");
    assert_int_equal(d->nodes[0], 0);
    world_free(wd);

    /* no nodes at all, and no cluster */
    wd = world_new(NULL);
    a = add_work(wd, "r/a", NULL, 0, 1000, 0, 1);
    cycle_ok(wd, 0);
    expect(wd, a, SCHED_WAIT, "there are no nodes");
    sched_decision *out = (sched_decision *)1;
    size_t nout = 9;
    assert_int_equal(sched_cycle(NULL, wd->w, 1, 0, &out, &nout, &e), MP_EINVAL);
    assert_null(out);
    assert_int_equal(nout, 0);
    world_free(wd);
}

static void test_garbage_in_admitted_workloads(void **state) {
    (void)state;
    world *wd = world_new(FLAVOR_DEFAULT API "kind: ClusterQueue\nmetadata: {name: q}\nspec:\n" RESOURCES_GPU(
        "nominalQuota: 4"));
    add_node(wd, 8, 64, 2);
    add_node(wd, 8, 64, 2);
    static const char *const flavors[] = {"", "garbage,,=,cpu=", "nvidia.com/gpu=nope", "=default", NULL};
    for (int i = 0; i < 5; i++) {
        size_t a = add_work(wd, "r/odd", "q", 0, 100, 0, 1);
        admit1(wd, a, 0, NULL, 0);
        wd->w[a].flavors = flavors[i]; /* unknown or missing flavors count against the first one */
    }
    size_t huge = add_work(wd, "r/huge", NULL, 0, INT64_MAX, INT64_MAX, 3);
    admit1(wd, huge, 0, NULL, 1); /* overcommits n1 beyond any sum */
    size_t big = add_work(wd, "r/big", "q", 0, INT64_MAX / 2, 0, 1);
    admit1(wd, big, 0, NULL, 1); /* holds a quota of its queue beyond any sum */
    wd->w[big].flavors = "cpu=default";
    size_t ext = add_work(wd, "r/ext", NULL, 0, 100, 0, 1);
    assert_int_equal(sched_res_ext_set(&wd->w[ext].req.requests, "example.com/none", 5), 0);
    admit1(wd, ext, 0, NULL, 0); /* a resource the node does not have */
    size_t gone = add_work(wd, "r/gone", "q", 0, 100, 0, 1);
    wd->w[gone].evicting = true; /* evicting but not admitted: just pending */
    size_t p = add_work(wd, "r/p", "q", 0, 100, 1, 1), room = add_work(wd, "r/room", NULL, 0, 100, 1, 1);
    cycle_ok(wd, 0);
    /* big and the odd ones hold the cpu quota */
    expect(wd, gone, SCHED_WAIT, "queue q over nominal cpu quota 1000 (4611686018427388403m in use");
    expect(wd, p, SCHED_WAIT, "over nominal cpu quota 1000");
    expect(wd, room, SCHED_ADMIT, "admitted to n0"); /* n1 is full beyond any sum */
    wd->jobs[big].gone = true;
    cycle_ok(wd, 1);
    expect(wd, gone, SCHED_ADMIT, "admitted to n0 (queue q");
    expect(wd, p, SCHED_ADMIT, "admitted to n0 (queue q");
    expect(wd, room, SCHED_ADMIT, "admitted to n0");
    world_free(wd);
}

/* A pseudo-random cluster and load (fixed seed), for determinism and robustness. */
static uint64_t rnd(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static world *random_world(uint64_t seed) {
    world *wd = world_new(FLAVOR_DEFAULT COHORT_QUEUE("team-a", "  preemption: {reclaimWithinCohort: Any, "
                                                                "withinClusterQueue: LowerPriority}\n  fairSharing: "
                                                                "{weight: 2}\n",
                                                      "nominalQuota: 8")
                              COHORT_QUEUE("team-b", "", "nominalQuota: 8, borrowingLimit: 4"));
    uint64_t s = seed;
    for (int i = 0; i < 12; i++) {
        size_t n = add_node(wd, 16 + (int64_t)(rnd(&s) % 48), 64, (int64_t)(rnd(&s) % 3) * 4);
        if (rnd(&s) % 4 == 0) node_taint(wd, n, "spot", "", SCHED_PREFER_NO_SCHEDULE);
        if (rnd(&s) % 5 == 0) assert_int_equal(sched_res_ext_set(&wd->nodes[n].capacity, MIG, 7), 0);
    }
    static const char *queues[] = {"team-a", "team-b", NULL, "ghost"};
    for (int i = 0; i < 300; i++) {
        size_t w = add_work(wd, "r/w", queues[rnd(&s) % 4], (int32_t)(rnd(&s) % 5) * 10,
                            500 * (int64_t)(1 + rnd(&s) % 16),
                            (int64_t)(rnd(&s) % 4 == 0 ? rnd(&s) % 5 : 0), 1 + (int)(rnd(&s) % 10 == 0) * 3);
        snprintf(wd->ids[w], sizeof wd->ids[w], "r/w%d", i);
        wd->w[w].may_preempt = rnd(&s) % 3 != 0;
        wd->w[w].created_ms = (int64_t)(rnd(&s) % 50);
        wd->w[w].limit_ms = (int64_t)(rnd(&s) % 3) * 60000;
        wd->jobs[w].duration = 1000 * (int64_t)(1 + rnd(&s) % 100);
        if (rnd(&s) % 7 == 0) assert_int_equal(sched_res_ext_set(&wd->w[w].req.requests, MIG, 1 + rnd(&s) % 3), 0);
    }
    return wd;
}

static void test_determinism_and_robustness(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        world *a = random_world(seed), *b = random_world(seed);
        a->policy = b->policy = seed % 2 ? SCHED_BINPACK : SCHED_SPREAD;
        for (int64_t now = 0; now < 400000; now += 20000) { /* several cycles, acting on each */
            sim_finish(a, now);
            sim_finish(b, now);
            cycle_ok(a, now);
            cycle_ok(b, now);
            assert_int_equal(a->nd, b->nd);
            for (size_t k = 0; k < a->nd; k++) {
                const sched_decision *x = &a->d[k], *y = &b->d[k];
                assert_int_equal(x->workload, y->workload);
                assert_int_equal(x->verdict, y->verdict);
                assert_string_equal(x->why, y->why);
                assert_int_equal(x->nvictims, y->nvictims);
                for (size_t v = 0; v < x->nvictims; v++) assert_int_equal(x->victims[v], y->victims[v]);
                if (x->verdict == SCHED_ADMIT) {
                    assert_string_equal(x->flavors, y->flavors);
                    for (int g = 0; g < (a->w[x->workload].req.gang ? a->w[x->workload].req.gang : 1); g++)
                        assert_int_equal(x->nodes[g], y->nodes[g]);
                }
            }
            sim_apply(a, now);
            sim_apply(b, now);
        }
        world_free(a);
        world_free(b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serving_preempts_training),
        cmocka_unit_test(test_preemption_policy_never),
        cmocka_unit_test(test_evicting_victims_not_chosen_again),
        cmocka_unit_test(test_quota_wait_without_cohort),
        cmocka_unit_test(test_borrowing_limit),
        cmocka_unit_test(test_lending_limit),
        cmocka_unit_test(test_reclaim_within_cohort),
        cmocka_unit_test(test_within_cluster_queue),
        cmocka_unit_test(test_gang_all_or_nothing),
        cmocka_unit_test(test_gang_preempted_whole),
        cmocka_unit_test(test_taints_and_node_selector),
        cmocka_unit_test(test_mig_slices),
        cmocka_unit_test(test_flavors_with_node_labels),
        cmocka_unit_test(test_unknown_queue_and_resource),
        cmocka_unit_test(test_why_shape),
        cmocka_unit_test(test_malformed_input),
        cmocka_unit_test(test_garbage_in_admitted_workloads),
        cmocka_unit_test(test_determinism_and_robustness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
