/* decide.c — bench/sched (a): how fast the admission cycle (sched_cycle) decides.
 *
 * A simulated cluster of 1,000 nodes (600 CPU nodes of 32 cores / 128Gi; 300
 * nodes of 8 GPUs labelled gpu=a100, 50 of them tainted dedicated=serving; 100
 * nodes of 4 GPUs labelled gpu=t4), 10 ClusterQueues in 2 cohorts with flavors
 * default (cpu, memory), a100 and t4 (GPUs), preemption and fair-share weights,
 * 5 priority levels. A warm-up cycle (not timed) admits the cluster's initial
 * load; then ROUNDS rounds, each 5 simulated minutes later: finished and
 * evicted workloads leave, new ones arrive to keep PENDING pending, one cycle
 * runs (timed), and its decisions are acted on (admitted ones start, victims
 * are evicted). Workloads: CPU-only (1-16 cores), GPU (1, 2, 4 or 8 GPUs), some
 * gangs of 2-4 workers, some tolerating the taint, some without a queue.
 *
 * Prints the two BENCH lines (decisions per second over the timed cycles, whole
 * cycles included; p99 of one decision's time, measured inside the cycle with
 * sched_cluster.time_decisions) and a summary line.
 * Usage: bench_sched_decide [ROUNDS [PENDING]]   (defaults 6 and 10000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/sched.h"

#define NODES 1000
#define QUEUES 10
#define GI (1024LL * 1024 * 1024)
#define MINUTE 60000LL
#define TARGET_RATE 50000.0
#define TARGET_P99_US 1000.0

typedef struct job {
    sched_workload w;
    char id[32];
    size_t *nodes;
    char *flavors;
    int64_t runs_ms; /* how long it runs once started */
    int64_t end_ms;
    bool alive;
} job;

typedef struct bench {
    sched_node nodes[NODES];
    char names[NODES][16];
    job *jobs;
    size_t njobs, cap;
    uint64_t seed;
    int serial;
    long admitted, preempts, waits, victims;
} bench;

static const sched_kv LABEL_A100[] = {{"gpu", "a100"}}, LABEL_T4[] = {{"gpu", "t4"}};
static const sched_taint SERVING[] = {{"dedicated", "serving", SCHED_NO_SCHEDULE}};
static const sched_toleration TOLERATE[] = {{"dedicated", SCHED_TOL_EQUAL, "serving", SCHED_NO_SCHEDULE}};
static const int32_t PRIORITIES[] = {0, 100, 1000, 10000, 100000};

static uint64_t rnd(bench *b) {
    b->seed = b->seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return b->seed >> 33;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_nodes(bench *b) {
    for (int i = 0; i < NODES; i++) {
        sched_node *n = &b->nodes[i];
        memset(n, 0, sizeof *n);
        snprintf(b->names[i], sizeof b->names[i], "node-%d", i);
        n->name = b->names[i];
        if (i < 600) {
            n->capacity.cpu_milli = 32000;
            n->capacity.memory_bytes = 128 * GI;
        } else if (i < 900) {
            n->capacity.cpu_milli = 96000;
            n->capacity.memory_bytes = 1024 * GI;
            n->capacity.gpu = 8;
            n->labels = LABEL_A100;
            n->nlabels = 1;
            if (i >= 850) n->taints = SERVING, n->ntaints = 1;
        } else {
            n->capacity.cpu_milli = 48000;
            n->capacity.memory_bytes = 384 * GI;
            n->capacity.gpu = 4;
            n->labels = LABEL_T4;
            n->nlabels = 1;
        }
    }
}

/* Flavors and queues as a user would write them. */
static spec_file *load_queues(void) {
    mp_buf y;
    mp_buf_init(&y);
    mp_buf_puts(&y, "apiVersion: mlplane.dev/v1\nkind: ResourceFlavor\nmetadata: {name: default}\n---\n"
                    "apiVersion: mlplane.dev/v1\nkind: ResourceFlavor\nmetadata: {name: a100}\n"
                    "spec: {nodeLabels: {gpu: a100}}\n---\n"
                    "apiVersion: mlplane.dev/v1\nkind: ResourceFlavor\nmetadata: {name: t4}\n"
                    "spec: {nodeLabels: {gpu: t4}}\n");
    static const char *const reclaim[] = {"Any", "LowerPriority", "Never"};
    for (int q = 0; q < QUEUES; q++)
        mp_buf_printf(&y,
                      "---\napiVersion: mlplane.dev/v1\nkind: ClusterQueue\nmetadata: {name: team-%d}\nspec:\n"
                      "  cohort: %s\n"
                      "  preemption: {reclaimWithinCohort: %s, withinClusterQueue: LowerPriority}\n"
                      "  fairSharing: {weight: %d}\n"
                      "  resourceGroups:\n"
                      "    - coveredResources: [cpu, memory]\n"
                      "      flavors:\n"
                      "        - name: default\n"
                      "          resources: [{name: cpu, nominalQuota: %d}, {name: memory, nominalQuota: %dGi}]\n"
                      "    - coveredResources: [nvidia.com/gpu]\n"
                      "      flavors:\n"
                      "        - name: a100\n"
                      "          resources: [{name: nvidia.com/gpu, nominalQuota: %d, borrowingLimit: %d}]\n"
                      "        - name: t4\n"
                      "          resources: [{name: nvidia.com/gpu, nominalQuota: %d, lendingLimit: %d}]\n",
                      q, q < 5 ? "research" : "production", reclaim[q % 3], 1 + q % 2, 4000 + 400 * (q % 3),
                      24000 + 2048 * (q % 4), 200 + 40 * (q % 2), 100, 40, 20);
    spec_diags d = {0};
    spec_file *f = NULL;
    if (spec_load_string("bench.yaml", "/tmp", y.data, y.len, &f, &d) != 0) {
        mp_buf out;
        mp_buf_init(&out);
        spec_diags_format(&d, &out);
        fprintf(stderr, "bench_sched_decide: the queues do not load:\n%s", out.data);
        exit(1);
    }
    spec_diags_free(&d);
    mp_buf_free(&y);
    return f;
}

static job *new_job(bench *b, int64_t now) {
    if (b->njobs == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 1024;
        b->jobs = realloc(b->jobs, b->cap * sizeof *b->jobs);
        if (!b->jobs) exit(70);
    }
    job *j = &b->jobs[b->njobs++];
    memset(j, 0, sizeof *j);
    j->alive = true;
    snprintf(j->id, sizeof j->id, "run-%d/step", b->serial++);
    sched_workload *w = &j->w; /* id, nodes and flavors are pointed at in cycle() */
    static char queues[QUEUES][16];
    if (!queues[0][0])
        for (int q = 0; q < QUEUES; q++) snprintf(queues[q], sizeof queues[q], "team-%d", q);
    uint64_t r = rnd(b) % 100;
    w->cluster_queue = r < 5 ? NULL : queues[rnd(b) % QUEUES];
    uint64_t p = rnd(b) % 100;
    w->priority = PRIORITIES[p < 40 ? 0 : p < 65 ? 1 : p < 85 ? 2 : p < 95 ? 3 : 4];
    w->may_preempt = rnd(b) % 10 != 0;
    w->created_ms = now + b->serial;
    w->limit_ms = rnd(b) % 5 == 0 ? 0 : (int64_t)(5 + rnd(b) % 56) * MINUTE;
    j->runs_ms = w->limit_ms ? w->limit_ms : (int64_t)(5 + rnd(b) % 56) * MINUTE;
    w->req.gang = 1;
    if (r < 60) { /* CPU only */
        w->req.requests.cpu_milli = (int64_t)(1 + rnd(b) % 16) * 1000;
        w->req.requests.memory_bytes = (int64_t)(1 + rnd(b) % 16) * 4 * GI;
        if (rnd(b) % 10 == 0) w->req.gang = 2 + (int)(rnd(b) % 3);
    } else {
        static const int gpus[] = {1, 1, 2, 4, 8};
        int g = gpus[rnd(b) % 5];
        if (rnd(b) % 10 == 0) g = 8, w->req.gang = 2 + (int)(rnd(b) % 3);
        w->req.requests.gpu = g;
        w->req.requests.cpu_milli = 8000LL * g;
        w->req.requests.memory_bytes = 64 * GI * g;
        if (rnd(b) % 5 == 0) w->req.tolerations = TOLERATE, w->req.ntolerations = 1;
    }
    return j;
}

/* Finished and evicted workloads leave; the live ones are packed to the front. */
static void retire(bench *b, int64_t now) {
    size_t k = 0;
    for (size_t i = 0; i < b->njobs; i++) {
        job *j = &b->jobs[i];
        if (j->w.admitted && (j->w.evicting || j->end_ms <= now)) j->alive = false;
        if (!j->alive) {
            free(j->nodes);
            free(j->flavors);
            continue;
        }
        b->jobs[k++] = *j;
    }
    b->njobs = k;
}

static size_t pending(const bench *b) {
    size_t n = 0;
    for (size_t i = 0; i < b->njobs; i++) n += !b->jobs[i].w.admitted;
    return n;
}

typedef struct timing {
    double seconds;
    long decisions;
    int64_t *ns;
    size_t nns, cap;
} timing;

/* One cycle over every live job at now; acts on its decisions. */
static void cycle(bench *b, const sched_cluster *c, int64_t now, timing *t) {
    sched_workload *w = malloc((b->njobs + 1) * sizeof *w);
    for (size_t i = 0; i < b->njobs; i++) { /* jobs may have moved: pointers into them are set here */
        job *j = &b->jobs[i];
        w[i] = j->w;
        w[i].id = j->id;
        w[i].nodes = j->nodes;
        w[i].flavors = j->flavors;
    }
    sched_decision *d = NULL;
    size_t nd = 0;
    mp_err e = {0};
    double t0 = now_s();
    int rc = sched_cycle(c, w, b->njobs, now, &d, &nd, &e);
    double took = now_s() - t0;
    if (rc) {
        fprintf(stderr, "bench_sched_decide: sched_cycle: %s\n", e.msg);
        exit(1);
    }
    if (t) {
        t->seconds += took;
        t->decisions += (long)nd;
        if (t->nns + nd > t->cap) {
            t->cap = 2 * (t->nns + nd);
            t->ns = realloc(t->ns, t->cap * sizeof *t->ns);
        }
        for (size_t i = 0; i < nd; i++) t->ns[t->nns++] = d[i].ns;
    }
    for (size_t i = 0; i < nd; i++) {
        job *j = &b->jobs[d[i].workload];
        if (t) {
            b->admitted += d[i].verdict == SCHED_ADMIT;
            b->preempts += d[i].verdict == SCHED_PREEMPT;
            b->waits += d[i].verdict == SCHED_WAIT;
            b->victims += (long)d[i].nvictims;
        }
        if (d[i].verdict == SCHED_ADMIT) {
            j->w.admitted = true;
            j->w.started_ms = now;
            j->nodes = d[i].nodes;
            d[i].nodes = NULL;
            j->flavors = d[i].flavors;
            d[i].flavors = NULL;
            j->end_ms = now + j->runs_ms;
        }
        for (size_t v = 0; v < d[i].nvictims; v++) b->jobs[d[i].victims[v]].w.evicting = true;
    }
    sched_decisions_free(d, nd);
    free(w);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 6;
    size_t want = argc > 2 ? (size_t)atol(argv[2]) : 10000;
    if (rounds < 1 || want < 1) {
        fprintf(stderr, "usage: bench_sched_decide [ROUNDS [PENDING]]\n");
        return 2;
    }
    static bench b;
    b.seed = 2026;
    make_nodes(&b);
    spec_file *f = load_queues();
    const spec_cluster_queue *queues[QUEUES];
    const spec_resource_flavor *flavors[3];
    size_t nq = 0, nf = 0;
    for (size_t i = 0; i < f->nobjs; i++) {
        if (f->objs[i].kind == SPEC_KIND_CLUSTER_QUEUE) queues[nq++] = f->objs[i].u.cluster_queue;
        if (f->objs[i].kind == SPEC_KIND_RESOURCE_FLAVOR) flavors[nf++] = f->objs[i].u.resource_flavor;
    }
    sched_cluster c = {.nodes = b.nodes, .nnodes = NODES, .queues = queues, .nqueues = nq, .flavors = flavors,
                       .nflavors = nf, .policy = SCHED_BINPACK, .time_decisions = true};
    int64_t now = 0;
    for (int i = 0; i < 6000; i++) new_job(&b, now); /* the initial load (not timed) */
    cycle(&b, &c, now, NULL);
    for (size_t i = 0; i < b.njobs; i++) /* what did not start is not part of the load */
        if (!b.jobs[i].w.admitted) b.jobs[i].alive = false;
    retire(&b, now);
    size_t load = b.njobs;
    timing t = {0};
    size_t per_cycle = 0;
    for (int r = 0; r < rounds; r++) {
        now += 5 * MINUTE;
        retire(&b, now);
        for (size_t p = pending(&b); p < want; p++) new_job(&b, now);
        per_cycle += b.njobs;
        cycle(&b, &c, now, &t);
    }
    qsort(t.ns, t.nns, sizeof *t.ns, cmp_i64);
    double rate = (double)t.decisions / t.seconds;
    double p99 = t.nns ? (double)t.ns[(size_t)(0.99 * (double)(t.nns - 1))] / 1000.0 : 0;
    printf("BENCH sched_decisions_per_s %.0f decisions/s target >= %.0f %s\n", rate, TARGET_RATE,
           rate >= TARGET_RATE ? "ok" : "SHORT");
    printf("BENCH sched_decision_p99 %.1f us target <= %.0f %s\n", p99, TARGET_P99_US,
           p99 <= TARGET_P99_US ? "ok" : "SHORT");
    printf("sched_decide: %d nodes, %zu queues, initial load %zu admitted, %d cycles of %zu workloads on average "
           "(%zu pending each): %ld decisions in %.3f s; admitted %ld, preempt %ld (%ld victims), wait %ld; "
           "max decision %.1f us\n",
           NODES, nq, load, rounds, per_cycle / (size_t)rounds, want, t.decisions, t.seconds, b.admitted, b.preempts,
           b.victims, b.waits, t.nns ? (double)t.ns[t.nns - 1] / 1000.0 : 0.0);
    for (size_t i = 0; i < b.njobs; i++) {
        free(b.jobs[i].nodes);
        free(b.jobs[i].flavors);
    }
    free(b.jobs);
    free(t.ns);
    spec_file_free(f);
    return 0;
}
