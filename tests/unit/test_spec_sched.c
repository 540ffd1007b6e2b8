/* test_spec_sched.c — the scheduler's side of spec loading: PriorityClass, Node,
 * NodePool, ResourceFlavor, ClusterQueue and LocalQueue documents, a step's
 * scheduling fields (queue, priority, node selection, gang, checkpoint, sweep,
 * extended resources), lookups over a mixed file, and each kind of mistake as a
 * diagnostic at its line:col. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spec/spec.h"

/* ---- helpers ------------------------------------------------------------------- */

#define API "apiVersion: mlplane.dev/v1\n"
/* A pipeline header; its first step starts on line 7. */
#define HDR API "kind: Pipeline\nmetadata:\n  name: p\nspec:\n  steps:\n"
/* The same with params a and lr (which sweeps may vary); its first step starts on line 8. */
#define HDRP API "kind: Pipeline\nmetadata:\n  name: p\nspec:\n  params: {a: 1, lr: 1}\n  steps:\n"

#include "spec_helpers.h"

/* ---- the mixed fixture ---------------------------------------------------------------- */

static spec_file *load_fixture(void) {
    char *path = fixture("cluster.yaml");
    spec_diags d = {0};
    spec_file *f = NULL;
    int rc = spec_load_file(path, &f, &d);
    if (rc) dump(&d);
    assert_int_equal(rc, 0);
    free(path);
    spec_diags_free(&d);
    return f;
}

static void test_mixed_file_has_every_kind(void **state) {
    (void)state;
    spec_file *f = load_fixture();
    assert_int_equal(f->nobjs, 8);
    spec_kind want[] = {SPEC_KIND_PRIORITY_CLASS, SPEC_KIND_NODE,          SPEC_KIND_NODE_POOL,
                        SPEC_KIND_RESOURCE_FLAVOR, SPEC_KIND_RESOURCE_FLAVOR, SPEC_KIND_CLUSTER_QUEUE,
                        SPEC_KIND_LOCAL_QUEUE,     SPEC_KIND_PIPELINE};
    for (size_t i = 0; i < 8; i++) assert_int_equal(f->objs[i].kind, want[i]);
    assert_int_equal(spec_file_count(f, SPEC_KIND_RESOURCE_FLAVOR), 2);
    assert_string_equal(spec_kind_name(SPEC_KIND_NODE_POOL), "NodePool");
    assert_string_equal(spec_object_meta(&f->objs[6])->namespace_, "ml");

    const spec_object *o = spec_file_find(f, SPEC_KIND_CLUSTER_QUEUE, "research");
    assert_ptr_equal(o, &f->objs[5]);
    assert_null(spec_file_find(f, SPEC_KIND_LOCAL_QUEUE, "research"));
    assert_non_null(spec_file_find_ns(f, SPEC_KIND_LOCAL_QUEUE, "ml", "team-a"));
    assert_null(spec_file_find_ns(f, SPEC_KIND_LOCAL_QUEUE, "default", "team-a"));
    assert_ptr_equal(spec_file_pipeline(f), f->objs[7].u.pipeline);
    spec_file_free(f);
}

static void test_priority_class_fields_at_top_level(void **state) {
    (void)state;
    spec_file *f = load_fixture();
    const spec_priority_class *pc = spec_file_find(f, SPEC_KIND_PRIORITY_CLASS, "high")->u.priority_class;
    assert_int_equal(pc->value, 1000);
    assert_int_equal(pc->preemption, SPEC_PREEMPT_NEVER);
    assert_true(pc->global_default);
    assert_string_equal(pc->description, "training that must finish");
    spec_file_free(f);

    f = load_ok(API "kind: PriorityClass\nmetadata: {name: low}\nvalue: -5\n");
    pc = f->objs[0].u.priority_class;
    assert_int_equal(pc->value, -5);
    assert_int_equal(pc->preemption, SPEC_PREEMPT_LOWER_PRIORITY);
    assert_false(pc->global_default);
    assert_null(pc->description);
    spec_file_free(f);
}

static void test_node_capacity_labels_and_taints(void **state) {
    (void)state;
    spec_file *f = load_fixture();
    const spec_node *n = spec_file_find(f, SPEC_KIND_NODE, "big-0")->u.node;
    assert_int_equal(n->capacity.cpu_milli, 64000);
    assert_int_equal(n->capacity.memory_bytes, 512LL << 30);
    assert_int_equal(n->capacity.gpu, 8);
    assert_int_equal(n->capacity.nextended, 1);
    assert_string_equal(n->capacity.extended[0].name, "nvidia.com/mig-1g.10gb");
    assert_int_equal(n->capacity.extended[0].count, 14);
    assert_int_equal(spec_resources_get(&n->capacity, "nvidia.com/mig-1g.10gb"), 14);
    assert_int_equal(spec_resources_get(&n->capacity, "gpu"), 8);
    assert_int_equal(spec_resources_get(&n->capacity, "example.com/fpga"), 0);
    assert_int_equal(n->meta.nlabels, 2);
    assert_string_equal(n->meta.labels[0].key, "gpu.product");
    assert_int_equal(n->ntaints, 2);
    assert_string_equal(n->taints[0].key, "dedicated");
    assert_string_equal(n->taints[0].value, "training");
    assert_int_equal(n->taints[0].effect, SPEC_EFFECT_NO_SCHEDULE);
    assert_string_equal(n->taints[1].value, "");
    assert_int_equal(n->taints[1].effect, SPEC_EFFECT_PREFER_NO_SCHEDULE);
    assert_int_equal(n->taints[1].pos.line, 23);
    spec_file_free(f);
}

static void test_node_pool_expands_into_nodes(void **state) {
    (void)state;
    spec_file *f = load_fixture();
    const spec_node_pool *np = spec_file_find(f, SPEC_KIND_NODE_POOL, "cpu")->u.node_pool;
    assert_int_equal(np->count, 3);
    assert_string_equal(np->name_prefix, "cpu-");
    spec_node_inst *v;
    size_t n = spec_file_nodes(f, &v);
    assert_int_equal(n, 4);
    assert_string_equal(v[0].name, "big-0");
    assert_null(v[0].pool);
    assert_string_equal(v[1].name, "cpu-0");
    assert_string_equal(v[3].name, "cpu-2");
    assert_ptr_equal(v[3].pool, np);
    assert_int_equal(v[3].index, 2);
    assert_int_equal(v[3].capacity->cpu_milli, 8000);
    assert_string_equal(v[3].meta->labels[0].value, "b");
    assert_int_equal(v[3].ntaints, 0);
    spec_node_insts_free(v, n);
    spec_file_free(f);

    f = load_ok(API "kind: NodePool\nmetadata: {name: g}\n"
                    "spec: {count: 12, namePrefix: gpu-node, capacity: {nvidia.com/gpu: 8},"
                    " taints: [{key: gpu, effect: NoExecute}]}\n");
    n = spec_file_nodes(f, &v);
    assert_int_equal(n, 12);
    assert_string_equal(v[11].name, "gpu-node11");
    assert_int_equal(v[11].taints[0].effect, SPEC_EFFECT_NO_EXECUTE);
    spec_node_insts_free(v, n);
    spec_file_free(f);
}

static void test_flavors_and_queues(void **state) {
    (void)state;
    spec_file *f = load_fixture();
    const spec_resource_flavor *rf = spec_file_find(f, SPEC_KIND_RESOURCE_FLAVOR, "a100")->u.resource_flavor;
    assert_int_equal(rf->nnode_labels, 1);
    assert_string_equal(rf->node_labels[0].value, "a100");
    assert_int_equal(spec_file_find(f, SPEC_KIND_RESOURCE_FLAVOR, "default")->u.resource_flavor->nnode_labels, 0);

    const spec_cluster_queue *cq = spec_file_find(f, SPEC_KIND_CLUSTER_QUEUE, "research")->u.cluster_queue;
    assert_string_equal(cq->cohort, "lab");
    assert_int_equal(cq->ngroups, 2);
    const spec_resource_group *g = &cq->groups[0];
    assert_int_equal(g->ncovered, 2);
    assert_string_equal(g->covered[1], "memory");
    assert_int_equal(g->nflavors, 1);
    assert_string_equal(g->flavors[0].name, "default");
    const spec_resource_quota *q = &g->flavors[0].resources[0];
    assert_string_equal(q->name, "cpu");
    assert_int_equal(q->nominal, 40000);
    assert_true(q->has_borrowing_limit);
    assert_int_equal(q->borrowing_limit, 8000);
    assert_false(q->has_lending_limit);
    q = &g->flavors[0].resources[1];
    assert_int_equal(q->nominal, 256LL << 30);
    assert_int_equal(q->lending_limit, 64LL << 30);
    assert_string_equal(cq->groups[1].covered[0], "nvidia.com/gpu"); /* "gpu" is the same resource */
    assert_int_equal(cq->groups[1].flavors[0].resources[0].nominal, 8);
    assert_int_equal(cq->reclaim_within_cohort, SPEC_RECLAIM_ANY);
    assert_int_equal(cq->within_cluster_queue, SPEC_WITHIN_LOWER_OR_NEWER_EQUAL_PRIORITY);
    assert_int_equal(cq->fair_weight_milli, 500);

    const spec_local_queue *lq = spec_file_find(f, SPEC_KIND_LOCAL_QUEUE, "team-a")->u.local_queue;
    assert_string_equal(lq->cluster_queue, "research");
    spec_file_free(f);

    f = load_ok(API "kind: ClusterQueue\nmetadata: {name: q}\nspec: {}\n");
    cq = f->objs[0].u.cluster_queue;
    assert_null(cq->cohort);
    assert_int_equal(cq->ngroups, 0);
    assert_int_equal(cq->reclaim_within_cohort, SPEC_RECLAIM_NEVER);
    assert_int_equal(cq->within_cluster_queue, SPEC_WITHIN_NEVER);
    assert_int_equal(cq->fair_weight_milli, 1000);
    spec_file_free(f);
}

static void test_step_scheduling_fields(void **state) {
    (void)state;
    spec_file *f = load_fixture();
    const spec_pipeline *p = spec_file_pipeline(f);
    const spec_step *s = &p->steps[0];
    assert_string_equal(s->priority_class, "high");
    assert_string_equal(s->queue_name, "team-a");
    assert_int_equal(s->nnode_selector, 1);
    assert_string_equal(s->node_selector[0].key, "gpu.product");
    assert_int_equal(s->ntolerations, 2);
    assert_int_equal(s->tolerations[0].op, SPEC_TOL_EQUAL);
    assert_string_equal(s->tolerations[0].value, "training");
    assert_int_equal(s->tolerations[0].effect, SPEC_EFFECT_NO_SCHEDULE);
    assert_int_equal(s->tolerations[1].op, SPEC_TOL_EXISTS);
    assert_string_equal(s->tolerations[1].key, "");
    assert_int_equal(s->tolerations[1].effect, SPEC_EFFECT_ANY);
    assert_int_equal(s->parallelism, 4);
    assert_string_equal(s->checkpoint_path, "ckpt");
    assert_int_equal(s->resources.cpu_milli, 2000);
    assert_int_equal(s->resources.gpu, 1);
    assert_int_equal(s->resources.nextended, 1);
    assert_int_equal(s->resources.extended[0].count, 2);
    assert_int_equal(s->resources.extended[0].pos.line, 84);

    const spec_sweep *sw = s->sweep;
    assert_non_null(sw);
    assert_int_equal(sw->kind, SPEC_SWEEP_RANDOM);
    assert_int_equal(sw->count, 20);
    assert_true(sw->has_seed);
    assert_int_equal(sw->seed, 7);
    assert_int_equal(sw->nparams, 2);
    assert_string_equal(sw->params[0].name, "lr");
    assert_true(sw->params[0].is_range);
    assert_true(sw->params[0].min == 0.001 && sw->params[0].max == 0.5);
    assert_false(sw->params[1].is_range);
    assert_int_equal(sw->params[1].nvalues, 3);
    assert_string_equal(sw->params[1].values[2], "8");
    assert_int_equal(sw->max_parallel, 4);
    assert_string_equal(sw->metric, "val_auc");
    assert_int_equal(sw->goal, SPEC_GOAL_MAXIMIZE);

    s = &p->steps[1];
    assert_int_equal(s->parallelism, 1); /* the default */
    assert_null(s->priority_class);
    assert_null(s->queue_name);
    assert_int_equal(s->ntolerations, 0);
    assert_null(s->checkpoint_path);
    assert_int_equal(s->sweep->kind, SPEC_SWEEP_GRID);
    assert_int_equal(s->sweep->nparams, 2);
    assert_int_equal(s->sweep->params[1].nvalues, 3);
    assert_int_equal(s->sweep->count, 0);
    assert_null(s->sweep->metric);
    assert_int_equal(s->sweep->goal, 0);
    spec_file_free(f);
}

/* ---- mistakes ---------------------------------------------------------------------- */

static void test_unknown_fields_suggest_the_closest(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      nodeSelecter: {a: b}\n",
               9, 7, "unknown field \"nodeSelecter\" in step \"a\"", "did you mean \"nodeSelector\"");
    spec_diags d = load_bad(API "kind: ClusterQueue\nmetadata: {name: q}\n"
                                "spec:\n"
                                "  resourceGroups:\n"
                                "    - coveredResource: [cpu]\n"
                                "      flavors: [{name: f, resources: []}]\n");
    expect_diag(&d, 6, 7, "unknown field \"coveredResource\" in spec.resourceGroups[0]", "did you mean",
                "\"coveredResources\"", NULL);
    expect_diag(&d, 6, 7, "missing required field \"spec.resourceGroups[0].coveredResources\"", NULL);
    assert_int_equal(d.n, 2);
    spec_diags_free(&d);
    EXPECT_ONE(API "kind: PriorityClass\nmetadata: {name: x}\nvalue: 1\nglobalDefualt: true\n",
               5, 1, "unknown field \"globalDefualt\" in document", "did you mean \"globalDefault\"");
    EXPECT_ONE(API "kind: Node\nmetadata: {name: n}\nspec: {capacity: {cpu: 1}, taint: []}\n",
               4, 28, "unknown field \"taint\" in spec", "taints");
    EXPECT_ONE(API "kind: Node\nmetadata: {name: n}\nspec: {capacity: {cpus: 1}}\n",
               4, 19, "unknown resource \"cpus\"", "Node \"n\"", "did you mean \"cpu\"");
    EXPECT_ONE(API "kind: NodPool\nmetadata: {name: n}\nspec: {}\n",
               2, 7, "unknown kind \"NodPool\"", "did you mean \"NodePool\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      resources: {nvidia.com/gpus: 1}\n",
               9, 19, "unknown resource \"nvidia.com/gpus\"", "did you mean \"nvidia.com/gpu\"");
}

static void test_wrong_types_and_values(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      parallelism: two\n",
               9, 20, "spec.steps[0].parallelism", "must be an integer", "string \"two\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      parallelism: 0\n",
               9, 20, "parallelism", "at least 1");
    EXPECT_ONE(API "kind: PriorityClass\nmetadata: {name: x}\nvalue: 3000000000\n",
               4, 8, "field \"value\"", "at most 2147483647");
    EXPECT_ONE(API "kind: PriorityClass\nmetadata: {name: x}\nvalue: 1\npreemptionPolicy: Nevr\n",
               5, 19, "preemptionPolicy", "PreemptLowerPriority, Never", "did you mean \"Never\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      tolerations: [{key: k, operator: In}]\n",
               9, 40, "spec.steps[0].tolerations[0].operator", "Equal, Exists", "\"In\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      tolerations: [{key: k, operator: Exists, value: v}]\n",
               9, 22, "operator Exists and a value");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      nodeSelector: [a]\n",
               9, 22, "spec.steps[0].nodeSelector", "must be a mapping", "a list");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      sweep: {grid: {lr: 0.1}}\n",
               9, 26, "spec.steps[0].sweep.grid.lr", "must be a list");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      sweep: {random: {count: 3, params: {lr: {min: 1, max: 0}}}}\n",
               9, 48, "sweep.random.params.lr", "min 1 above max 0");
    EXPECT_ONE(HDRP "    - name: a\n"
                    "      script: x\n"
                    "      sweep: {grid: {lr: [1]}, objective: {metric: m, goal: best}}\n",
               10, 61, "objective.goal", "minimize, maximize");
    EXPECT_ONE(API "kind: Node\nmetadata: {name: n}\nspec: {capacity: {cpu: 1}, taints: [{key: k, effect: Never}]}\n",
               4, 54, "spec.taints[0].effect", "NoSchedule, PreferNoSchedule, NoExecute");
    EXPECT_ONE(API "kind: PriorityClass\nmetadata: {name: x}\nvalue: 1\nspec: {value: 1}\n",
               5, 1, "has no spec", "top level");
}

static void test_missing_required_fields(void **state) {
    (void)state;
    EXPECT_ONE(API "kind: PriorityClass\nmetadata: {name: x}\n", 1, 1, "missing required field \"value\"");
    EXPECT_ONE(API "kind: LocalQueue\nmetadata: {name: x}\nspec: {}\n", 4, 1,
               "missing required field \"spec.clusterQueue\"");
    EXPECT_ONE(API "kind: Node\nmetadata: {name: n}\nspec:\n  taints: []\n", 5, 3,
               "missing required field \"spec.capacity\"", "Node \"n\"");
    EXPECT_ONE(API "kind: NodePool\nmetadata: {name: n}\nspec:\n  capacity: {cpu: 1}\n", 5, 3,
               "missing required field \"spec.count\"");
    EXPECT_ONE(API "kind: Node\nmetadata: {name: n}\n", 1, 1, "missing required field \"spec\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      checkpoint: {}\n",
               9, 7, "missing required field \"spec.steps[0].checkpoint.path\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      sweep: {maxParallel: 2}\n",
               9, 15, "missing required field \"spec.steps[0].sweep.grid\" or", "random");
    EXPECT_ONE(HDRP "    - name: a\n"
                    "      script: x\n"
                    "      sweep: {random: {params: {a: [1]}}}\n",
               10, 24, "missing required field \"spec.steps[0].sweep.random.count\"");
    EXPECT_ONE(API "kind: ClusterQueue\nmetadata: {name: q}\n"
                   "spec:\n"
                   "  resourceGroups:\n"
                   "    - coveredResources: [cpu]\n"
                   "      flavors: [{name: f, resources: [{name: cpu}]}]\n",
               7, 40, "missing required field \"spec.resourceGroups[0].flavors[0].resources[0].nominalQuota\"");
}

static void test_bad_quantities(void **state) {
    (void)state;
    EXPECT_ONE(API "kind: Node\nmetadata: {name: n}\nspec: {capacity: {memory: 12Q}}\n",
               4, 27, "spec.capacity.memory", "invalid quantity \"12Q\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      resources: {nvidia.com/mig-1g.10gb: 0.5}\n",
               9, 43, "resources.nvidia.com/mig-1g.10gb", "whole number");
    EXPECT_ONE(API "kind: ClusterQueue\nmetadata: {name: q}\n"
                   "spec:\n"
                   "  resourceGroups:\n"
                   "    - coveredResources: [memory]\n"
                   "      flavors: [{name: f, resources: [{name: memory, nominalQuota: lots}]}]\n",
               7, 68, "resources[0].nominalQuota", "invalid quantity \"lots\"");
    EXPECT_ONE(API "kind: ClusterQueue\nmetadata: {name: q}\nspec: {fairSharing: {weight: -1}}\n",
               4, 30, "spec.fairSharing.weight", "negative");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      resources: {Example.com/x: 1}\n",
               9, 19, "extended resource name \"Example.com/x\"", "not valid");
}

static void test_cluster_queue_rules(void **state) {
    (void)state;
#define CQ API "kind: ClusterQueue\nmetadata: {name: q}\nspec:\n"
    EXPECT_ONE(CQ "  resourceGroups:\n"
                  "    - coveredResources: [cpu, memory]\n"
                  "      flavors:\n"
                  "        - name: f\n"
                  "          resources: [{name: cpu, nominalQuota: 1}]\n",
               8, 11, "flavor \"f\" has no quota for \"memory\"", "exactly the coveredResources");
    EXPECT_ONE(CQ "  resourceGroups:\n"
                  "    - coveredResources: [cpu]\n"
                  "      flavors:\n"
                  "        - name: f\n"
                  "          resources: [{name: cpu, nominalQuota: 1}, {name: memory, nominalQuota: 1}]\n",
               9, 54, "resource \"memory\" of flavor \"f\" is not in the group's coveredResources");
    EXPECT_ONE(CQ "  resourceGroups:\n"
                  "    - coveredResources: [cpu]\n"
                  "      flavors: [{name: f, resources: [{name: cpu, nominalQuota: 1, borrowingLimit: 1}]}]\n",
               7, 68, "borrowingLimit needs spec.cohort");
    EXPECT_ONE(CQ "  cohort: c\n"
                  "  resourceGroups:\n"
                  "    - coveredResources: [cpu]\n"
                  "      flavors: [{name: f, resources: [{name: cpu, nominalQuota: 1, lendingLimit: 2}]}]\n",
               8, 68, "lendingLimit is above nominalQuota");
    EXPECT_ONE(CQ "  resourceGroups:\n"
                  "    - coveredResources: [cpu]\n"
                  "      flavors: [{name: f, resources: [{name: cpu, nominalQuota: 1}]}]\n"
                  "    - coveredResources: [cpu]\n"
                  "      flavors: [{name: g, resources: [{name: cpu, nominalQuota: 1}]}]\n",
               8, 26, "resource \"cpu\" is already covered by another resource group");
    EXPECT_ONE(CQ "  resourceGroups:\n"
                  "    - coveredResources: [cpu]\n"
                  "      flavors: [{name: f, resources: [{name: cpu, nominalQuota: 1}]}]\n"
                  "    - coveredResources: [memory]\n"
                  "      flavors: [{name: f, resources: [{name: memory, nominalQuota: 1}]}]\n",
               9, 24, "flavor \"f\" appears twice");
    EXPECT_ONE(CQ "  preemption: {reclaimWithinCohort: Sometimes}\n", 5, 37, "reclaimWithinCohort",
               "Never, LowerPriority, Any");
#undef CQ
}

static void test_file_wide_rules(void **state) {
    (void)state;
    EXPECT_ONE(API "kind: NodePool\nmetadata: {name: gpu}\nspec: {count: 2, capacity: {cpu: 1}}\n"
                   "---\n" API "kind: Node\nmetadata: {name: gpu-1}\nspec: {capacity: {cpu: 1}}\n",
               6, 1, "node name \"gpu-1\" of Node \"gpu-1\" is also a node of NodePool \"gpu\" (line 1)");
    EXPECT_ONE(API "kind: Node\nmetadata: {name: a}\nspec: {capacity: {cpu: 1}}\n"
                   "---\n" API "kind: Node\nmetadata: {name: a}\nspec: {capacity: {cpu: 1}}\n",
               6, 1, "duplicate Node \"a\"");
    EXPECT_ONE(API "kind: PriorityClass\nmetadata: {name: a}\nvalue: 1\nglobalDefault: true\n"
                   "---\n" API "kind: PriorityClass\nmetadata: {name: b}\nvalue: 2\nglobalDefault: true\n",
               7, 1, "PriorityClass \"b\" is globalDefault but so is \"a\"");
    EXPECT_ONE(API "kind: NodePool\nmetadata: {name: p}\nspec: {count: 1, namePrefix: Bad_, capacity: {cpu: 1}}\n",
               4, 30, "namePrefix \"Bad_\" does not make valid node names");
    /* LocalQueues are namespaced: the same name in two namespaces is fine. */
    spec_file *f = load_ok(API "kind: LocalQueue\nmetadata: {name: q, namespace: a}\nspec: {clusterQueue: c}\n"
                               "---\n" API "kind: LocalQueue\nmetadata: {name: q, namespace: b}\n"
                               "spec: {clusterQueue: c}\n");
    assert_int_equal(f->nobjs, 2);
    spec_file_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_file_has_every_kind),
        cmocka_unit_test(test_priority_class_fields_at_top_level),
        cmocka_unit_test(test_node_capacity_labels_and_taints),
        cmocka_unit_test(test_node_pool_expands_into_nodes),
        cmocka_unit_test(test_flavors_and_queues),
        cmocka_unit_test(test_step_scheduling_fields),
        cmocka_unit_test(test_unknown_fields_suggest_the_closest),
        cmocka_unit_test(test_wrong_types_and_values),
        cmocka_unit_test(test_missing_required_fields),
        cmocka_unit_test(test_bad_quantities),
        cmocka_unit_test(test_cluster_queue_rules),
        cmocka_unit_test(test_file_wide_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
