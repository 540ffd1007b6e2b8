/* test_place.c — the placement library (src/sched/place.c) on small simulated
 * clusters: resource arithmetic, fits and misfits on each resource (extended ones
 * such as MIG slices included), bin packing against spreading, nodeSelector,
 * taints and tolerations (Equal, Exists, empty key, effects), PreferNoSchedule
 * ranking, gangs all or nothing (a failed gang changes nothing), the reason
 * strings and error codes, the GPU device picker, determinism, and a 1000-node
 * cluster taking 10,000 placements (no timing assertions). Single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/sched.h"

#define GI (1024LL * 1024 * 1024)
#define MIG "nvidia.com/mig-1g.10gb"

static sched_node node(const char *name, int64_t cpus, int64_t mem_gi, int64_t gpus) {
    sched_node n;
    memset(&n, 0, sizeof n);
    n.name = name;
    n.capacity.cpu_milli = cpus * 1000;
    n.capacity.memory_bytes = mem_gi * GI;
    n.capacity.gpu = gpus;
    return n;
}

static sched_pod_req pod(int64_t cpu_milli, int64_t mem_gi, int64_t gpus) {
    sched_pod_req r;
    memset(&r, 0, sizeof r);
    r.requests.cpu_milli = cpu_milli;
    r.requests.memory_bytes = mem_gi * GI;
    r.requests.gpu = gpus;
    return r;
}

static sched_res res(int64_t cpu_milli, int64_t mem_gi, int64_t gpus) { return pod(cpu_milli, mem_gi, gpus).requests; }

static void expect_why(const char *why, const char *words) {
    if (!strstr(why, words)) print_message("reason \"%s\" lacks \"%s\"\n", why, words);
    assert_non_null(strstr(why, words));
}

/* Places rq and expects success on node want (by index). */
static void expect_place(const sched_node *nodes, size_t n, const sched_pod_req *rq, sched_policy p, size_t want) {
    size_t at = 999;
    char why[256] = "x";
    int rc = sched_place(nodes, n, rq, p, &at, why, sizeof why);
    if (rc) print_message("placement failed (%d): %s\n", rc, why);
    assert_int_equal(rc, 0);
    assert_string_equal(why, "");
    assert_int_equal(at, want);
}

/* Places rq and expects code with a reason containing words. */
static void expect_fail(const sched_node *nodes, size_t n, const sched_pod_req *rq, int code, const char *words) {
    size_t at = 999;
    char why[512] = "";
    assert_int_equal(sched_place(nodes, n, rq, SCHED_BINPACK, &at, why, sizeof why), code);
    assert_int_equal(at, 999);
    expect_why(why, words);
}

static void test_res_arithmetic(void **state) {
    (void)state;
    sched_res a = res(1000, 1, 1), b = res(500, 1, 2);
    assert_int_equal(sched_res_ext_set(&a, MIG, 2), 0);
    assert_int_equal(sched_res_ext_set(&b, MIG, 3), 0);
    assert_int_equal(sched_res_ext_set(&b, "example.com/dongle", 1), 0);
    assert_int_equal(sched_res_add(&a, &b), 0);
    assert_true(a.cpu_milli == 1500 && a.memory_bytes == 2 * GI && a.gpu == 3);
    assert_true(sched_res_ext_get(&a, MIG) == 5 && sched_res_ext_get(&a, "example.com/dongle") == 1);
    assert_true(sched_res_ext_get(&a, "nope") == 0);
    /* sub clamps at 0 and drops emptied extended entries */
    sched_res big = res(9000, 9, 9);
    assert_int_equal(sched_res_ext_set(&big, "example.com/dongle", 5), 0);
    sched_res_sub(&a, &big);
    assert_true(a.cpu_milli == 0 && a.memory_bytes == 0 && a.gpu == 0);
    assert_int_equal(a.next, 1);
    assert_true(sched_res_ext_get(&a, MIG) == 5);
    /* fits */
    sched_res req = res(0, 0, 0), avail = res(1000, 1, 0);
    assert_int_equal(sched_res_ext_set(&req, MIG, 5), 0);
    assert_false(sched_res_fits(&req, &avail));
    assert_true(sched_res_fits(&req, &a));
    req.gpu = 1;
    assert_false(sched_res_fits(&req, &a));
    /* a full table refuses new names and leaves a unchanged */
    sched_res full = res(0, 0, 0), extra = res(1, 0, 0);
    char name[32];
    for (int i = 0; i < SCHED_EXT_MAX; i++) {
        snprintf(name, sizeof name, "example.com/r%d", i);
        assert_int_equal(sched_res_ext_set(&full, name, 1), 0);
    }
    assert_int_equal(sched_res_ext_set(&full, "example.com/more", 1), MP_EINVAL);
    assert_int_equal(sched_res_ext_set(&extra, "example.com/more", 1), 0);
    sched_res before = full;
    assert_int_equal(sched_res_add(&full, &extra), MP_EINVAL);
    assert_memory_equal(&before, &full, sizeof full);
    assert_int_equal(sched_res_ext_set(&full, "example.com/r3", 4), 0); /* existing name: fine */
    assert_int_equal(sched_res_ext_set(&full, "", 1), MP_EINVAL);
    assert_int_equal(sched_res_ext_set(&full, "example.com/r0", -1), MP_EINVAL);
    char longname[80];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(sched_res_ext_set(&extra, longname, 1), MP_EINVAL);
}

static void test_fits_each_resource(void **state) {
    (void)state;
    sched_node n[1] = {node("node-0", 4, 16, 2)};
    sched_pod_req exact = pod(4000, 16, 2);
    expect_place(n, 1, &exact, SCHED_BINPACK, 0);
    sched_pod_req cpu = pod(4500, 1, 0), mem = pod(1000, 17, 0), gpu = pod(1000, 1, 3), half = pod(500, 0, 0);
    expect_fail(n, 1, &cpu, MP_ENOENT, "needs 4500m cpu, largest free on any node is 4 (largest capacity 4)");
    expect_fail(n, 1, &mem, MP_ENOENT, "needs 17Gi memory, largest free on any node is 16Gi (largest capacity 16Gi)");
    expect_fail(n, 1, &gpu, MP_ENOENT, "needs 3 nvidia.com/gpu, largest free on any node is 2 (largest capacity 2)");
    /* allocations count: what fits an empty node but not now is MP_EBUSY */
    sched_res used = res(3800, 8, 1);
    assert_int_equal(sched_node_allocate(&n[0], &used), 0);
    sched_pod_req two = pod(1000, 1, 2);
    expect_fail(n, 1, &two, MP_EBUSY, "needs 2 nvidia.com/gpu, largest free on any node is 1");
    expect_fail(n, 1, &half, MP_EBUSY, "needs 500m cpu, largest free on any node is 200m");
    sched_res fr;
    sched_node_free(&n[0], &fr);
    assert_true(fr.cpu_milli == 200 && fr.memory_bytes == 8 * GI && fr.gpu == 1);
    sched_node_release(&n[0], &used);
    expect_place(n, 1, &two, SCHED_BINPACK, 0);
    /* an empty request fits anywhere, even a zero node */
    sched_node z[1] = {node("zero", 0, 0, 0)};
    sched_pod_req none = pod(0, 0, 0);
    expect_place(z, 1, &none, SCHED_SPREAD, 0);
    /* no nodes at all */
    expect_fail(n, 0, &none, MP_ENOENT, "no nodes");
}

static void test_extended_resources(void **state) {
    (void)state;
    sched_node n[3] = {node("cpu-0", 32, 128, 0), node("mig-0", 32, 128, 0), node("mig-1", 32, 128, 0)};
    assert_int_equal(sched_res_ext_set(&n[1].capacity, MIG, 7), 0);
    assert_int_equal(sched_res_ext_set(&n[2].capacity, MIG, 7), 0);
    sched_res held = res(0, 0, 0);
    assert_int_equal(sched_res_ext_set(&held, MIG, 5), 0);
    assert_int_equal(sched_node_allocate(&n[2], &held), 0);
    sched_pod_req rq = pod(1000, 8, 0);
    assert_int_equal(sched_res_ext_set(&rq.requests, MIG, 2), 0);
    expect_place(n, 3, &rq, SCHED_BINPACK, 2); /* mig-1 ends up full */
    expect_place(n, 3, &rq, SCHED_SPREAD, 1);  /* mig-0 ends up emptiest */
    assert_int_equal(sched_res_ext_set(&rq.requests, MIG, 3), 0);
    expect_place(n, 3, &rq, SCHED_BINPACK, 1); /* only 2 left on mig-1 */
    assert_int_equal(sched_res_ext_set(&rq.requests, MIG, 8), 0);
    expect_fail(n, 3, &rq, MP_ENOENT, "needs 8 " MIG ", largest free on any node is 7 (largest capacity 7)");
    /* a slice nobody has */
    sched_pod_req other = pod(0, 0, 0);
    assert_int_equal(sched_res_ext_set(&other.requests, "nvidia.com/mig-3g.40gb", 1), 0);
    expect_fail(n, 3, &other, MP_ENOENT, "needs 1 nvidia.com/mig-3g.40gb, largest free on any node is 0");
    /* a request without accelerators keeps off accelerator nodes, even when packing */
    sched_pod_req plain = pod(1000, 1, 0);
    expect_place(n, 3, &plain, SCHED_BINPACK, 0);
    sched_node_release(&n[2], &held);
    assert_int_equal(n[2].allocated.next, 0);
}

static void test_binpack_vs_spread(void **state) {
    (void)state;
    sched_node n[3] = {node("node-0", 8, 32, 0), node("node-1", 8, 32, 0), node("node-2", 8, 32, 0)};
    sched_res r4 = res(4000, 16, 0), r6 = res(6000, 12, 0);
    assert_int_equal(sched_node_allocate(&n[0], &r4), 0);
    assert_int_equal(sched_node_allocate(&n[2], &r6), 0);
    sched_pod_req one = pod(1000, 2, 0);
    expect_place(n, 3, &one, SCHED_BINPACK, 2); /* 7/8 cpu, 14/32 mem beats 5/8, 18/32 */
    expect_place(n, 3, &one, SCHED_SPREAD, 1);
    sched_pod_req three = pod(3000, 2, 0); /* node-2 has only 2 cpus left */
    expect_place(n, 3, &three, SCHED_BINPACK, 0);

    /* GPUs first: packing fills the fullest GPU node, then the small one, keeping
     * the whole 8-GPU node free; spreading takes the whole one */
    sched_node g[3] = {node("big-0", 64, 512, 8), node("small", 16, 64, 2), node("big-1", 64, 512, 8)};
    sched_res seven = res(7000, 7, 7);
    assert_int_equal(sched_node_allocate(&g[2], &seven), 0);
    sched_pod_req gpu = pod(1000, 4, 1);
    expect_place(g, 3, &gpu, SCHED_BINPACK, 2);
    expect_place(g, 3, &gpu, SCHED_SPREAD, 0);
    assert_int_equal(sched_node_allocate(&g[2], &gpu.requests), 0);
    expect_place(g, 3, &gpu, SCHED_BINPACK, 1);
    assert_int_equal(sched_node_allocate(&g[1], &gpu.requests), 0);
    expect_place(g, 3, &gpu, SCHED_BINPACK, 1);
    assert_int_equal(sched_node_allocate(&g[1], &gpu.requests), 0);
    expect_place(g, 3, &gpu, SCHED_BINPACK, 0);
    /* a CPU-only step goes to a GPU node only when nothing else fits */
    sched_node mixed[2] = {node("gpu", 64, 512, 8), node("cpu", 4, 16, 0)};
    sched_pod_req small = pod(1000, 1, 0), large = pod(8000, 1, 0);
    expect_place(mixed, 2, &small, SCHED_BINPACK, 1);
    expect_place(mixed, 2, &small, SCHED_SPREAD, 1);
    expect_place(mixed, 2, &large, SCHED_BINPACK, 0);

    /* ties go to the first node, whatever the policy */
    sched_node same[3] = {node("a", 8, 8, 1), node("b", 8, 8, 1), node("c", 8, 8, 1)};
    expect_place(same, 3, &gpu, SCHED_BINPACK, 0);
    expect_place(same, 3, &gpu, SCHED_SPREAD, 0);
}

static void test_node_selector(void **state) {
    (void)state;
    sched_kv a100[] = {{"gpu", "a100"}, {"zone", "eu-1"}}, h100[] = {{"gpu", "h100"}, {"zone", "eu-1"}};
    sched_node n[3] = {node("node-0", 8, 8, 1), node("node-1", 8, 8, 1), node("node-2", 8, 8, 1)};
    n[1].labels = h100, n[1].nlabels = 2;
    n[2].labels = a100, n[2].nlabels = 2;
    sched_pod_req rq = pod(1000, 1, 1);
    sched_kv want_h100[] = {{"gpu", "h100"}}, want_both[] = {{"zone", "eu-1"}, {"gpu", "a100"}};
    sched_kv want_b200[] = {{"gpu", "b200"}}, want_two[] = {{"gpu", "a100"}, {"zone", "us-2"}};
    rq.node_selector = want_h100, rq.nnode_selector = 1;
    expect_place(n, 3, &rq, SCHED_SPREAD, 1);
    rq.node_selector = want_both, rq.nnode_selector = 2;
    expect_place(n, 3, &rq, SCHED_BINPACK, 2);
    rq.node_selector = want_b200, rq.nnode_selector = 1;
    expect_fail(n, 3, &rq, MP_ENOENT, "0/3 nodes match nodeSelector gpu=b200");
    rq.node_selector = want_two, rq.nnode_selector = 2;
    expect_fail(n, 3, &rq, MP_ENOENT, "0/3 nodes match nodeSelector gpu=a100,zone=us-2");
    /* matching nodes that are full: the resource is the reason, others are counted */
    rq.node_selector = want_h100, rq.nnode_selector = 1;
    assert_int_equal(sched_node_allocate(&n[1], &rq.requests), 0);
    expect_fail(n, 3, &rq, MP_EBUSY, "needs 1 nvidia.com/gpu, largest free on any node is 0; 2 other nodes excluded");
}

static void test_taints_and_tolerations(void **state) {
    (void)state;
    sched_taint serving[] = {{"dedicated", "serving", SCHED_NO_SCHEDULE}};
    sched_taint evict[] = {{"maintenance", NULL, SCHED_NO_EXECUTE}};
    sched_node n[2] = {node("node-0", 8, 8, 0), node("node-1", 8, 8, 0)};
    n[0].taints = evict, n[0].ntaints = 1;
    n[1].taints = serving, n[1].ntaints = 1;
    sched_pod_req rq = pod(1000, 1, 0);
    expect_fail(n, 2, &rq, MP_ENOENT, "node-0 has taint maintenance:NoExecute that the step does not tolerate");
    expect_fail(&n[1], 1, &rq, MP_ENOENT, "node-1 has taint dedicated=serving:NoSchedule that the step does not tolerate");
    expect_fail(n, 2, &rq, MP_ENOENT, "2/2 nodes have taints it does not tolerate");

    sched_toleration eq_ok[] = {{"dedicated", SCHED_TOL_EQUAL, "serving", SCHED_NO_SCHEDULE}};
    sched_toleration eq_bad[] = {{"dedicated", SCHED_TOL_EQUAL, "training", SCHED_EFFECT_ANY}};
    sched_toleration exists[] = {{"dedicated", SCHED_TOL_EXISTS, NULL, SCHED_EFFECT_ANY}};
    sched_toleration wrong_effect[] = {{"dedicated", SCHED_TOL_EXISTS, NULL, SCHED_NO_EXECUTE}};
    sched_toleration all[] = {{NULL, SCHED_TOL_EXISTS, NULL, SCHED_EFFECT_ANY}};
    sched_toleration empty_equal[] = {{"", SCHED_TOL_EQUAL, "", SCHED_EFFECT_ANY}};
    sched_toleration all_noexec[] = {{"", SCHED_TOL_EXISTS, NULL, SCHED_NO_EXECUTE}};
    rq.tolerations = eq_ok, rq.ntolerations = 1;
    expect_place(n, 2, &rq, SCHED_BINPACK, 1);
    rq.tolerations = exists;
    expect_place(n, 2, &rq, SCHED_BINPACK, 1);
    rq.tolerations = eq_bad;
    expect_fail(&n[1], 1, &rq, MP_ENOENT, "node-1 has taint dedicated=serving:NoSchedule");
    rq.tolerations = wrong_effect;
    expect_fail(&n[1], 1, &rq, MP_ENOENT, "node-1 has taint dedicated=serving:NoSchedule");
    rq.tolerations = empty_equal; /* an empty key only matches everything with Exists */
    expect_fail(n, 2, &rq, MP_ENOENT, "does not tolerate");
    rq.tolerations = all_noexec; /* every key, but only NoExecute taints */
    expect_place(n, 2, &rq, SCHED_BINPACK, 0);
    rq.tolerations = all;
    expect_place(n, 2, &rq, SCHED_BINPACK, 0);
    expect_place(n, 2, &rq, SCHED_SPREAD, 0);
    /* several tolerations: any one may match */
    sched_toleration two[] = {{"maintenance", SCHED_TOL_EXISTS, NULL, SCHED_NO_EXECUTE},
                              {"dedicated", SCHED_TOL_EQUAL, "serving", SCHED_EFFECT_ANY}};
    rq.tolerations = two, rq.ntolerations = 2;
    assert_int_equal(sched_node_allocate(&n[1], &rq.requests), 0);
    expect_place(n, 2, &rq, SCHED_BINPACK, 1);
    /* taints and a selector together */
    sched_kv sel[] = {{"pool", "x"}};
    sched_kv lab[] = {{"pool", "x"}};
    sched_node m[3] = {node("a", 8, 8, 0), node("b", 8, 8, 0), node("c", 8, 8, 0)};
    m[1].labels = lab, m[1].nlabels = 1, m[1].taints = serving, m[1].ntaints = 1;
    sched_pod_req s = pod(1000, 1, 0);
    s.node_selector = sel, s.nnode_selector = 1;
    expect_fail(m, 3, &s, MP_ENOENT,
                "b has taint dedicated=serving:NoSchedule that the step does not tolerate; 2/3 nodes do not match "
                "nodeSelector pool=x");
}

static void test_prefer_no_schedule(void **state) {
    (void)state;
    sched_taint soft[] = {{"spot", "true", SCHED_PREFER_NO_SCHEDULE}};
    sched_node n[2] = {node("node-0", 8, 8, 0), node("node-1", 8, 8, 0)};
    n[1].taints = soft, n[1].ntaints = 1;
    sched_res busy = res(6000, 6, 0);
    assert_int_equal(sched_node_allocate(&n[1], &busy), 0);
    sched_pod_req rq = pod(1000, 1, 0);
    expect_place(n, 2, &rq, SCHED_BINPACK, 0); /* the fuller node is tainted */
    sched_toleration tol[] = {{"spot", SCHED_TOL_EQUAL, "true", SCHED_PREFER_NO_SCHEDULE}};
    sched_toleration hard_only[] = {{"spot", SCHED_TOL_EXISTS, NULL, SCHED_NO_SCHEDULE}};
    rq.tolerations = hard_only, rq.ntolerations = 1;
    expect_place(n, 2, &rq, SCHED_BINPACK, 0);
    rq.tolerations = tol;
    expect_place(n, 2, &rq, SCHED_BINPACK, 1);
    /* a soft taint never filters: when only that node fits, it is used */
    rq.ntolerations = 0;
    sched_pod_req big = pod(1500, 1, 0);
    sched_res most = res(7000, 1, 0);
    assert_int_equal(sched_node_allocate(&n[0], &most), 0);
    sched_node_release(&n[1], &busy);
    expect_place(n, 2, &big, SCHED_BINPACK, 1);
}

static void test_gang_all_or_nothing(void **state) {
    (void)state;
    sched_node n[3] = {node("node-0", 16, 64, 2), node("node-1", 16, 64, 1), node("node-2", 16, 64, 2)};
    sched_res one = res(0, 0, 1);
    assert_int_equal(sched_node_allocate(&n[0], &one), 0);
    assert_int_equal(sched_node_allocate(&n[2], &one), 0);
    sched_node before[3];
    memcpy(before, n, sizeof n);
    sched_pod_req rq = pod(0, 0, 1);
    rq.gang = 4;
    size_t out[4] = {77, 77, 77, 77};
    char why[512];
    assert_int_equal(sched_place_gang(n, 3, &rq, SCHED_BINPACK, out, why, sizeof why), MP_EBUSY);
    expect_why(why, "gang of 4 workers of 1 nvidia.com/gpu: only 3 fit");
    expect_why(why, "then: needs 1 nvidia.com/gpu, largest free on any node is 0");
    for (int i = 0; i < 4; i++) assert_int_equal(out[i], 77);
    assert_memory_equal(before, n, sizeof n);
    rq.gang = 6; /* more than the cluster holds even when empty */
    assert_int_equal(sched_place_gang(n, 3, &rq, SCHED_BINPACK, out, why, sizeof why), MP_ENOENT);
    /* three fit, one per node */
    rq.gang = 3;
    assert_int_equal(sched_place_gang(n, 3, &rq, SCHED_BINPACK, out, why, sizeof why), 0);
    assert_string_equal(why, "");
    assert_int_equal(out[0], 0); /* packing: full nodes first, ties by order */
    assert_int_equal(out[1], 1);
    assert_int_equal(out[2], 2);
    assert_int_equal(out[3], 77);
    assert_memory_equal(before, n, sizeof n); /* the caller allocates */

    /* packing keeps a gang together; spreading scatters it */
    sched_node c[4] = {node("a", 32, 256, 8), node("b", 32, 256, 8), node("c", 32, 256, 8), node("d", 32, 256, 8)};
    sched_pod_req w = pod(4000, 16, 2);
    w.gang = 4;
    size_t o[4];
    assert_int_equal(sched_place_gang(c, 4, &w, SCHED_BINPACK, o, why, sizeof why), 0);
    for (int i = 0; i < 4; i++) assert_int_equal(o[i], 0);
    assert_int_equal(sched_place_gang(c, 4, &w, SCHED_SPREAD, o, why, sizeof why), 0);
    for (int i = 0; i < 4; i++) assert_int_equal(o[i], (size_t)i);
    /* gang 0 and 1 are one worker */
    w.gang = 0;
    assert_int_equal(sched_place_gang(c, 4, &w, SCHED_BINPACK, o, why, sizeof why), 0);
    assert_int_equal(o[0], 0);
    /* nothing fits at all */
    sched_kv sel[] = {{"gpu", "a100"}};
    w.gang = 2, w.node_selector = sel, w.nnode_selector = 1;
    assert_int_equal(sched_place_gang(c, 4, &w, SCHED_BINPACK, o, why, sizeof why), MP_ENOENT);
    expect_why(why, "gang of 2 workers of 2 nvidia.com/gpu, 4 cpu, 16Gi memory: none fit (0/4 nodes match "
                    "nodeSelector gpu=a100)");
}

static void test_reasons(void **state) {
    (void)state;
    /* each resource fits somewhere, never together */
    sched_node n[2] = {node("gpus", 8, 8, 4), node("mem", 8, 256, 0)};
    sched_pod_req rq = pod(1000, 64, 2);
    char why[512];
    size_t at;
    assert_int_equal(sched_place(n, 2, &rq, SCHED_BINPACK, &at, why, sizeof why), MP_ENOENT);
    expect_why(why, "needs 2 nvidia.com/gpu, 1 cpu, 64Gi memory on one node; none of the 2 eligible nodes has it "
                    "all free (1 short of nvidia.com/gpu, 1 short of memory)");
    /* memory amounts people can read */
    sched_node m[1] = {node("m", 8, 1, 0)};
    sched_res some = res(0, 0, 0);
    some.memory_bytes = 512LL * 1024 * 1024 + 1;
    assert_int_equal(sched_node_allocate(&m[0], &some), 0);
    sched_pod_req big = pod(0, 1, 0);
    expect_fail(m, 1, &big, MP_EBUSY, "needs 1Gi memory, largest free on any node is 512.0Mi");
    /* a small why buffer is cut, not overrun; NULL why is fine */
    char tiny[8];
    assert_int_equal(sched_place(m, 1, &big, SCHED_BINPACK, &at, tiny, sizeof tiny), MP_EBUSY);
    assert_string_equal(tiny, "needs 1");
    assert_int_equal(sched_place(m, 1, &big, SCHED_BINPACK, &at, NULL, 0), MP_EBUSY);
}

static void test_invalid_input(void **state) {
    (void)state;
    sched_node n[1] = {node("n", 8, 8, 1)};
    sched_pod_req rq = pod(-1, 0, 0);
    size_t at;
    char why[256];
    assert_int_equal(sched_place(n, 1, &rq, SCHED_BINPACK, &at, why, sizeof why), MP_EINVAL);
    expect_why(why, "negative");
    rq = pod(1, 1, 0);
    assert_int_equal(sched_place(n, 1, NULL, SCHED_BINPACK, &at, why, sizeof why), MP_EINVAL);
    assert_int_equal(sched_place(n, 1, &rq, (sched_policy)7, &at, why, sizeof why), MP_EINVAL);
    assert_int_equal(sched_place(n, 1, &rq, SCHED_BINPACK, NULL, why, sizeof why), MP_EINVAL);
    rq.nnode_selector = 1;
    assert_int_equal(sched_place(n, 1, &rq, SCHED_BINPACK, &at, why, sizeof why), MP_EINVAL);
    rq.nnode_selector = 0;
    rq.gang = -2;
    assert_int_equal(sched_place_gang(n, 1, &rq, SCHED_BINPACK, &at, why, sizeof why), MP_EINVAL);
    rq.gang = SCHED_GANG_MAX + 1;
    assert_int_equal(sched_place_gang(n, 1, &rq, SCHED_BINPACK, &at, why, sizeof why), MP_EINVAL);
    rq.gang = 1;
    n[0].capacity.gpu = -1;
    assert_int_equal(sched_place(n, 1, &rq, SCHED_BINPACK, &at, why, sizeof why), MP_EINVAL);
    expect_why(why, "node n");
}

static void test_gpu_devices(void **state) {
    (void)state;
    sched_node n = node("g", 64, 512, 4);
    int dev[4] = {-1, -1, -1, -1};
    assert_int_equal(sched_gpu_pick(&n, 2, dev), 0);
    assert_int_equal(dev[0], 0);
    assert_int_equal(dev[1], 1);
    sched_gpu_mark(&n, dev, 2, true);
    sched_res two = res(0, 0, 2);
    assert_int_equal(sched_node_allocate(&n, &two), 0);
    int more[3] = {-1, -1, -1};
    assert_int_equal(sched_gpu_pick(&n, 3, more), MP_EBUSY);
    assert_int_equal(more[0], -1);
    int one = 0;
    sched_gpu_mark(&n, &one, 1, false); /* device 0 free again */
    sched_res r1 = res(0, 0, 1);
    sched_node_release(&n, &r1);
    assert_int_equal(sched_gpu_pick(&n, 3, more), 0);
    assert_int_equal(more[0], 0);
    assert_int_equal(more[1], 2);
    assert_int_equal(more[2], 3);
    assert_int_equal(sched_gpu_pick(&n, -1, more), MP_EINVAL);
    assert_int_equal(sched_gpu_pick(&n, 0, NULL), 0);
    /* devices marked used outside the scheduler's accounting still count */
    sched_node m = node("m", 8, 8, 2);
    int d1 = 1, bad = 99;
    sched_gpu_mark(&m, &d1, 1, true);
    sched_gpu_mark(&m, &bad, 1, true); /* ignored */
    sched_res fr;
    sched_node_free(&m, &fr);
    assert_true(fr.gpu == 1);
    sched_pod_req rq = pod(0, 0, 2);
    expect_fail(&m, 1, &rq, MP_EBUSY, "needs 2 nvidia.com/gpu, largest free on any node is 1");
}

/* ---- a larger simulated cluster -------------------------------------------------- */

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

static const sched_kv pools[3][1] = {{{"pool", "a"}}, {{"pool", "b"}}, {{"pool", "c"}}};
static const sched_taint spot[] = {{"spot", "true", SCHED_PREFER_NO_SCHEDULE}};

static sched_node *cluster(size_t n, uint32_t seed) {
    sched_node *c = calloc(n, sizeof *c);
    assert_non_null(c);
    for (size_t i = 0; i < n; i++) {
        uint32_t r = lcg(&seed) >> 8;
        c[i] = node("n", 16 + 16 * (r % 4), 64 << (r % 3), (r % 5 == 0) ? 8 : 0);
        if (r % 7 == 0) assert_int_equal(sched_res_ext_set(&c[i].capacity, MIG, 7), 0);
        c[i].labels = pools[r % 3], c[i].nlabels = 1;
        if (r % 11 == 0) c[i].taints = spot, c[i].ntaints = 1;
    }
    return c;
}

/* Places `rounds` random requests on c, allocating and now and then releasing;
 * writes each outcome (node index or a negative code) into trace. */
static void churn(sched_node *c, size_t n, size_t rounds, sched_policy p, uint32_t seed, long *trace) {
    size_t *where = calloc(rounds, sizeof *where);
    sched_pod_req *reqs = calloc(rounds, sizeof *reqs);
    assert_true(where && reqs);
    char why[256];
    for (size_t k = 0; k < rounds; k++) {
        uint32_t r = lcg(&seed) >> 8;
        sched_pod_req *rq = &reqs[k];
        *rq = pod(250 * (1 + r % 16), 1 + r % 32, (r % 4 == 0) ? 1 + r % 3 : 0);
        if (r % 13 == 0) assert_int_equal(sched_res_ext_set(&rq->requests, MIG, 1 + r % 2), 0);
        if (r % 6 == 0) rq->node_selector = pools[r % 3], rq->nnode_selector = 1;
        int rc = sched_place(c, n, rq, p, &where[k], why, sizeof why);
        trace[k] = rc ? rc : (long)where[k];
        if (rc == 0) assert_int_equal(sched_node_allocate(&c[where[k]], &rq->requests), 0);
        else assert_true(why[0] != 0);
        if (k >= 3 && r % 3 == 0 && trace[k - 3] >= 0) { /* release an older one */
            sched_node_release(&c[where[k - 3]], &reqs[k - 3].requests);
            trace[k - 3] = -100;
        }
    }
    free(reqs);
    free(where);
}

static void test_determinism(void **state) {
    (void)state;
    enum { N = 60, R = 400 };
    long t1[R], t2[R];
    for (int p = SCHED_BINPACK; p <= SCHED_SPREAD; p++) {
        sched_node *a = cluster(N, 42), *b = cluster(N, 42);
        churn(a, N, R, (sched_policy)p, 7, t1);
        churn(b, N, R, (sched_policy)p, 7, t2);
        assert_memory_equal(t1, t2, sizeof t1);
        for (size_t i = 0; i < N; i++) assert_memory_equal(&a[i].allocated, &b[i].allocated, sizeof a[i].allocated);
        free(a);
        free(b);
    }
}

static void test_thousand_nodes(void **state) {
    (void)state;
    enum { N = 1000, R = 10000 };
    sched_node *c = cluster(N, 1);
    long *trace = calloc(R, sizeof *trace);
    assert_non_null(trace);
    churn(c, N, R / 2, SCHED_BINPACK, 3, trace);
    churn(c, N, R / 2, SCHED_SPREAD, 5, trace + R / 2);
    size_t placed = 0;
    for (size_t k = 0; k < R; k++) placed += trace[k] >= 0 || trace[k] == -100;
    assert_true(placed > R / 2);
    /* allocations never exceed capacity */
    for (size_t i = 0; i < N; i++) {
        sched_res fr;
        assert_true(sched_res_fits(&c[i].allocated, &c[i].capacity));
        sched_node_free(&c[i], &fr);
        assert_true(fr.cpu_milli >= 0 && fr.gpu >= 0);
    }
    /* a gang across the busy cluster: when it does not fit, the count of those
     * that do is exact — that many fit, one more does not */
    sched_pod_req g = pod(1000, 4, 1);
    g.gang = 400;
    size_t *out = calloc(400, sizeof *out);
    char why[512];
    int rc = sched_place_gang(c, N, &g, SCHED_BINPACK, out, why, sizeof why);
    if (rc) {
        const char *only = strstr(why, ": only ");
        assert_non_null(only);
        g.gang = atoi(only + strlen(": only "));
        assert_true(g.gang > 0 && g.gang < 400);
        assert_int_equal(sched_place_gang(c, N, &g, SCHED_BINPACK, out, why, sizeof why), 0);
        g.gang++;
        assert_int_not_equal(sched_place_gang(c, N, &g, SCHED_BINPACK, out, why, sizeof why), 0);
    }
    free(out);
    free(trace);
    free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_res_arithmetic),
        cmocka_unit_test(test_fits_each_resource),
        cmocka_unit_test(test_extended_resources),
        cmocka_unit_test(test_binpack_vs_spread),
        cmocka_unit_test(test_node_selector),
        cmocka_unit_test(test_taints_and_tolerations),
        cmocka_unit_test(test_prefer_no_schedule),
        cmocka_unit_test(test_gang_all_or_nothing),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_gpu_devices),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_thousand_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
