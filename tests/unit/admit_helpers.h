/* admit_helpers.h — simulated clusters for the admission cycle's tests
 * (tests/unit/test_admit*.c): nodes with labels, taints and extended resources;
 * ClusterQueues and ResourceFlavors loaded from YAML; workloads pending or
 * admitted; one cycle with its decisions; and a discrete-event simulator that
 * runs a cycle at every event and acts on the decisions like the engine would
 * (admit = start, preempt = the victims exit before the next cycle, a job ends
 * after its duration). Every cycle is checked for invariants: no node holds more
 * than its capacity, every pending workload has exactly one decision.
 * Included after cmocka.h and sched/sched.h. */
#ifndef MLPLANE_TEST_ADMIT_HELPERS_H
#define MLPLANE_TEST_ADMIT_HELPERS_H

#define GI (1024LL * 1024 * 1024)
#define MIG "nvidia.com/mig-1g.10gb"
#define API "apiVersion: mlplane.dev/v1\n"
#define MAXW 4096
#define MAXN 64

typedef struct job {
    int64_t duration;     /* how long it runs once started (ms) */
    bool gone;            /* finished or preempted: no longer given to the cycle */
    int64_t start, end;   /* of its last run; -1 until then */
    int preempted;        /* times it was a victim */
    size_t nodes[64];
    char flavors[256];
} job;

typedef struct world {
    spec_file *f;
    const spec_cluster_queue *queues[16];
    size_t nq;
    const spec_resource_flavor *flavors[16];
    size_t nf;
    sched_node nodes[MAXN];
    char node_names[MAXN][16];
    sched_kv labels[MAXN][4];
    sched_taint taints[MAXN][2];
    size_t nn;
    sched_workload w[MAXW];
    char ids[MAXW][32];
    job jobs[MAXW];
    size_t n;
    sched_policy policy;
    /* the last cycle */
    sched_decision *d;
    size_t nd;
    size_t map[MAXW]; /* index in the cycle's array -> index in w */
} world;

static inline world *world_new(const char *yaml) {
    world *wd = calloc(1, sizeof *wd);
    assert_non_null(wd);
    if (yaml) {
        spec_diags diags = {0};
        int rc = spec_load_string("t.yaml", "/tmp", yaml, strlen(yaml), &wd->f, &diags);
        if (rc) {
            mp_buf b;
            mp_buf_init(&b);
            spec_diags_format(&diags, &b);
            print_message("%s", b.data);
            mp_buf_free(&b);
        }
        assert_int_equal(rc, 0);
        spec_diags_free(&diags);
        for (size_t i = 0; i < wd->f->nobjs; i++) {
            if (wd->f->objs[i].kind == SPEC_KIND_CLUSTER_QUEUE) wd->queues[wd->nq++] = wd->f->objs[i].u.cluster_queue;
            if (wd->f->objs[i].kind == SPEC_KIND_RESOURCE_FLAVOR)
                wd->flavors[wd->nf++] = wd->f->objs[i].u.resource_flavor;
        }
    }
    return wd;
}

static inline void world_free(world *wd) {
    sched_decisions_free(wd->d, wd->nd);
    spec_file_free(wd->f);
    free(wd);
}

static inline size_t add_node(world *wd, int64_t cpus, int64_t mem_gi, int64_t gpus) {
    assert_true(wd->nn < MAXN);
    size_t i = wd->nn++;
    sched_node *n = &wd->nodes[i];
    memset(n, 0, sizeof *n);
    snprintf(wd->node_names[i], sizeof wd->node_names[i], "n%zu", i);
    n->name = wd->node_names[i];
    n->capacity.cpu_milli = cpus * 1000;
    n->capacity.memory_bytes = mem_gi * GI;
    n->capacity.gpu = gpus;
    n->labels = wd->labels[i];
    n->taints = wd->taints[i];
    return i;
}

static inline void node_label(world *wd, size_t i, const char *k, const char *v) {
    wd->labels[i][wd->nodes[i].nlabels++] = (sched_kv){k, v};
}

static inline void node_taint(world *wd, size_t i, const char *k, const char *v, sched_effect eff) {
    wd->taints[i][wd->nodes[i].ntaints++] = (sched_taint){k, v, eff};
}

/* A pending workload; created_ms is its index unless changed. */
static inline size_t add_work(world *wd, const char *id, const char *queue, int32_t prio, int64_t cpu_milli,
                              int64_t gpus, int gang) {
    assert_true(wd->n < MAXW);
    size_t i = wd->n++;
    sched_workload *w = &wd->w[i];
    memset(w, 0, sizeof *w);
    memset(&wd->jobs[i], 0, sizeof wd->jobs[i]);
    wd->jobs[i].start = wd->jobs[i].end = -1;
    snprintf(wd->ids[i], sizeof wd->ids[i], "%s", id);
    w->id = wd->ids[i];
    w->cluster_queue = queue;
    w->priority = prio;
    w->may_preempt = true;
    w->created_ms = (int64_t)i;
    w->req.requests.cpu_milli = cpu_milli;
    w->req.requests.memory_bytes = GI;
    w->req.requests.gpu = gpus;
    w->req.gang = gang;
    return i;
}

/* Marks workload i admitted on the given nodes (one per worker). */
static inline void admit_on(world *wd, size_t i, int64_t started, const char *flavors, const size_t *nodes) {
    job *j = &wd->jobs[i];
    int gang = wd->w[i].req.gang > 0 ? wd->w[i].req.gang : 1;
    for (int g = 0; g < gang; g++) j->nodes[g] = nodes[g];
    snprintf(j->flavors, sizeof j->flavors, "%s", flavors ? flavors : "");
    wd->w[i].admitted = true;
    wd->w[i].started_ms = started;
    wd->w[i].nodes = j->nodes;
    wd->w[i].flavors = j->flavors;
    j->start = started;
}

static inline void admit1(world *wd, size_t i, int64_t started, const char *flavors, size_t node) {
    size_t nodes[64];
    for (int g = 0; g < 64; g++) nodes[g] = node;
    admit_on(wd, i, started, flavors, nodes);
}

static inline const char *verdict_name(sched_verdict v) {
    return v == SCHED_ADMIT ? "ADMIT" : v == SCHED_PREEMPT ? "PREEMPT" : "WAIT";
}

/* Checks that no node holds more than its capacity among the admitted workloads. */
static inline void check_capacity(const world *wd) {
    for (size_t nd = 0; nd < wd->nn; nd++) {
        sched_res held = {0};
        for (size_t i = 0; i < wd->n; i++) {
            if (wd->jobs[i].gone || !wd->w[i].admitted) continue;
            int gang = wd->w[i].req.gang > 0 ? wd->w[i].req.gang : 1;
            for (int g = 0; g < gang; g++)
                if (wd->w[i].nodes[g] == nd) assert_int_equal(sched_res_add(&held, &wd->w[i].req.requests), 0);
        }
        if (!sched_res_fits(&held, &wd->nodes[nd].capacity)) {
            print_message("node %s is overcommitted\n", wd->nodes[nd].name);
            fail();
        }
    }
}

/* Runs one cycle over the workloads that are not gone; the decisions stay in wd. */
/* Every reason but an admission's has the one shape, "waiting for WHAT: WHY",
 * with WHAT one of sched.h's; a preemption's WHAT is SCHED_WAIT_PREEMPTION. */
static inline void expect_shape(const sched_decision *d) {
    static const char *const whats[] = {SCHED_WAIT_NODES, SCHED_WAIT_QUOTA, SCHED_WAIT_PREEMPTION, SCHED_WAIT_EVICTED,
                                        SCHED_WAIT_CLUSTER_QUEUE, SCHED_WAIT_FLAVOR, SCHED_WAIT_REQUEST};
    if (d->verdict == SCHED_ADMIT) return;
    bool known = false;
    for (size_t i = 0; i < sizeof whats / sizeof whats[0] && !known; i++) known = sched_why_is(d->why, whats[i]);
    if (!known) print_message("a reason without the shape: \"%s\"\n", d->why);
    assert_true(known);
    assert_int_equal(sched_why_is(d->why, SCHED_WAIT_PREEMPTION), d->verdict == SCHED_PREEMPT);
}

static inline int run_cycle(world *wd, int64_t now, mp_err *e) {
    sched_decisions_free(wd->d, wd->nd);
    wd->d = NULL;
    wd->nd = 0;
    static sched_workload tmp[MAXW];
    size_t m = 0, pending = 0;
    for (size_t i = 0; i < wd->n; i++) {
        if (wd->jobs[i].gone) continue;
        wd->map[m] = i;
        tmp[m++] = wd->w[i];
        pending += !wd->w[i].admitted;
    }
    const spec_cluster_queue *const *qs = wd->queues;
    const spec_resource_flavor *const *fs = wd->flavors;
    sched_cluster c = {.nodes = wd->nodes, .nnodes = wd->nn, .queues = qs, .nqueues = wd->nq, .flavors = fs,
                       .nflavors = wd->nf, .policy = wd->policy};
    int rc = sched_cycle(&c, tmp, m, now, &wd->d, &wd->nd, e);
    if (rc) return rc;
    assert_int_equal(wd->nd, pending);
    bool trace = getenv("ADMIT_TRACE") != NULL; /* ADMIT_TRACE=1 ./test_admit: every decision */
    for (size_t k = 0; k < wd->nd; k++) { /* back to indexes in wd->w */
        sched_decision *d = &wd->d[k];
        assert_true(d->workload < m);
        assert_false(tmp[d->workload].admitted);
        assert_non_null(d->why);
        expect_shape(d);
        d->workload = wd->map[d->workload];
        for (size_t v = 0; v < d->nvictims; v++) {
            assert_true(tmp[d->victims[v]].admitted);
            d->victims[v] = wd->map[d->victims[v]];
        }
        if (trace)
            print_message("t=%lld %s %s: %s\n", (long long)now, verdict_name(d->verdict), wd->ids[d->workload],
                          d->why);
    }
    return 0;
}

static inline void cycle_ok(world *wd, int64_t now) {
    mp_err e = {0};
    int rc = run_cycle(wd, now, &e);
    if (rc) print_message("sched_cycle: %s\n", e.msg);
    assert_int_equal(rc, 0);
}

static inline const sched_decision *dec(const world *wd, size_t i) {
    for (size_t k = 0; k < wd->nd; k++)
        if (wd->d[k].workload == i) return &wd->d[k];
    print_message("no decision for %s\n", wd->w[i].id);
    fail();
    return NULL;
}

/* Expects workload i's verdict and a reason holding words (NULL: any). */
static inline const sched_decision *expect(const world *wd, size_t i, sched_verdict v, const char *words) {
    const sched_decision *d = dec(wd, i);
    if (d->verdict != v || (words && !strstr(d->why, words)))
        print_message("%s: %s \"%s\", expected %s with \"%s\"\n", wd->w[i].id, verdict_name(d->verdict), d->why,
                      verdict_name(v), words ? words : "");
    assert_int_equal(d->verdict, v);
    if (words) assert_non_null(strstr(d->why, words));
    return d;
}

/* Whether victim index v is among d's victims. */
static inline bool has_victim(const sched_decision *d, size_t v) {
    for (size_t k = 0; k < d->nvictims; k++)
        if (d->victims[k] == v) return true;
    return false;
}

/* ---- the simulator ------------------------------------------------------------- */

/* Acts on the last cycle's decisions at now: admitted ones start, victims leave
 * (they exit before the next cycle). */
static inline void sim_apply(world *wd, int64_t now) {
    for (size_t k = 0; k < wd->nd; k++) {
        const sched_decision *d = &wd->d[k];
        size_t i = d->workload;
        if (d->verdict == SCHED_ADMIT) {
            admit_on(wd, i, now, d->flavors, d->nodes);
            wd->jobs[i].end = now + wd->jobs[i].duration;
        }
        for (size_t v = 0; v < d->nvictims; v++) {
            size_t x = d->victims[v];
            wd->jobs[x].preempted++;
            wd->w[x].evicting = true;
        }
    }
    check_capacity(wd);
}

/* Ends what has finished by now and what was evicted. */
static inline void sim_finish(world *wd, int64_t now) {
    for (size_t i = 0; i < wd->n; i++) {
        job *j = &wd->jobs[i];
        if (j->gone || !wd->w[i].admitted) continue;
        if (wd->w[i].evicting) { /* back to pending, to run again from the start */
            wd->w[i].admitted = wd->w[i].evicting = false;
            wd->w[i].nodes = NULL;
            wd->w[i].flavors = NULL;
            j->start = j->end = -1;
        } else if (j->end >= 0 && j->end <= now) {
            j->gone = true;
        }
    }
}

/* The next time something ends after now, or -1. */
static inline int64_t sim_next(const world *wd, int64_t now) {
    int64_t t = -1;
    for (size_t i = 0; i < wd->n; i++) {
        const job *j = &wd->jobs[i];
        if (!j->gone && wd->w[i].admitted && j->end > now && (t < 0 || j->end < t)) t = j->end;
    }
    return t;
}

/* What a simulation lets a test do at each event. */
typedef struct sim_hooks {
    /* before the cycle at now (arrivals): returns the next time it wants a cycle, or -1 */
    int64_t (*before)(world *wd, int64_t now, void *ud);
    /* after the cycle at now, before its decisions are acted on */
    void (*after)(world *wd, int64_t now, void *ud);
    void *ud;
} sim_hooks;

/* Runs events from now until nothing is left to happen or until `until`. */
static inline void sim_run(world *wd, int64_t now, int64_t until, const sim_hooks *h) {
    for (int steps = 0; steps < 100000; steps++) {
        sim_finish(wd, now);
        int64_t wake = h && h->before ? h->before(wd, now, h->ud) : -1;
        cycle_ok(wd, now);
        if (h && h->after) h->after(wd, now, h->ud);
        sim_apply(wd, now);
        int64_t t = sim_next(wd, now);
        if (wake > now && (t < 0 || wake < t)) t = wake;
        bool evicting = false;
        for (size_t i = 0; i < wd->n; i++) evicting = evicting || (!wd->jobs[i].gone && wd->w[i].evicting);
        if (evicting) t = now; /* victims exit: decide again at once */
        if (t < 0 || t > until) return;
        now = t;
    }
    fail_msg("the simulation does not settle");
}

#endif
