/* sched.h — admission and placement: where and when work may run.
 *
 * The machine's capacity and NVIDIA GPUs (capacity.c, gpu.c); placing one
 * worker or a gang on nodes (place.c); the applied cluster objects —
 * PriorityClasses, Nodes, NodePools, ResourceFlavors, ClusterQueues, LocalQueues
 * (objects.c); workloads (workload.c) and the shared queue of every run on this
 * machine, which the process holding the scheduler lease decides in one
 * admission cycle — quotas, borrowing, priorities, preemption, backfill
 * (admission.c, admit*.c); capacity planning over spec files (simulate.c).
 *
 * The pipeline engine (src/engine) calls down into it; nothing here knows about
 * runs being executed. Reentrant unless a function says otherwise; a
 * sched_queue belongs to one thread. */
#ifndef MLPLANE_SCHED_H
#define MLPLANE_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "store/store.h"
#include "util/util.h"

/* The machine a run's steps must fit on. */
typedef struct sched_capacity {
    int64_t cpu_milli;
    int64_t memory_bytes;
    int64_t gpu;
} sched_capacity;

/* Detects this machine's capacity: CPUs, memory, and NVIDIA GPUs (sched_gpu_local). */
void sched_local_capacity(sched_capacity *c);

/* Checks every step's resource requests against c. Returns 0, or MP_EINVAL naming
 * the first step that can never fit and why. */
int sched_check_capacity(const spec_pipeline *p, const sched_capacity *c, mp_err *e);

/* ---- GPUs (gpu.c) ------------------------------------------------------------
 * NVIDIA GPUs are found through NVML, loaded at run time: $MLPLANE_NVML_LIBRARY
 * when set, else libnvidia-ml.so.1. No library, or NVML failing, means 0 GPUs,
 * with the reason kept for display. */
typedef struct sched_gpu {
    int index;            /* NVML device index */
    char name[96];        /* "NVIDIA H100 80GB HBM3" */
    char uuid[96];        /* "GPU-xxxxxxxx-...", "" when unknown */
    int64_t memory_bytes; /* total device memory, 0 when unknown */
    int64_t memory_used_bytes; /* in use when discovered, 0 when unknown */
    int utilization_percent;   /* busy share of the last sample period (NVML), -1 when unknown */
} sched_gpu;

/* Asks NVML now: returns 0 (finding none is not an error), a heap array in *out
 * (caller frees; NULL when none) of *n GPUs, and in why (may be NULL) why none or
 * some were left out ("libnvidia-ml.so.1 not found"), "" when all were found. */
int sched_gpu_discover(sched_gpu **out, size_t *n, char *why, size_t whyn);

/* This process' GPUs, discovered on first call and cached (thread-safe): the
 * array (owned here, valid until exit), *n, and *why as for sched_gpu_discover. */
const sched_gpu *sched_gpu_local(size_t *n, const char **why);

/* ---- placement (place.c) -----------------------------------------------------
 * A pure, deterministic placement library over simulated or real nodes, with
 * Kubernetes semantics: filter (free resources fit, nodeSelector labels all match,
 * every NoSchedule/NoExecute taint tolerated), then score (BINPACK like
 * NodeResourcesFit MostAllocated, SPREAD like LeastAllocated; accelerators are
 * compared first, an intolerable PreferNoSchedule taint ranks a node below all
 * nodes without one, and a step that asks for no accelerator prefers nodes that
 * have none), ties broken by node order. Nothing here allocates global state or
 * reads the clock; all functions are reentrant. Strings (names, labels, taints,
 * tolerations) are borrowed from the caller; NULL reads as "". */
#define SCHED_EXT_MAX 8       /* extended resources in one sched_res */
#define SCHED_EXT_NAME 64     /* with the NUL: "nvidia.com/mig-1g.10gb" */
#define SCHED_GPU_TRACKED 64  /* GPU devices a node's bitmap tracks */
#define SCHED_GANG_MAX 100000 /* workers in one gang */
#define SCHED_GANG_MAX_STR "100000"

/* An amount of resources: the fixed three plus named extended resources. */
typedef struct sched_res {
    int64_t cpu_milli;
    int64_t memory_bytes;
    int64_t gpu; /* nvidia.com/gpu, whole devices */
    struct {
        char name[SCHED_EXT_NAME];
        int64_t count;
    } ext[SCHED_EXT_MAX]; /* the first next entries are in use, names distinct */
    int next;
} sched_res;

/* Sets extended resource name to count in r (adding it); 0, or MP_EINVAL when the
 * name is empty or too long or r already holds SCHED_EXT_MAX others. */
int sched_res_ext_set(sched_res *r, const char *name, int64_t count);
/* The count of extended resource name in r, 0 when absent. */
int64_t sched_res_ext_get(const sched_res *r, const char *name);
/* a += b; 0, or MP_EINVAL (a unchanged) when b's extended names do not fit in a. */
int sched_res_add(sched_res *a, const sched_res *b);
/* a -= b, each amount clamped at 0; extended entries that reach 0 are removed. */
void sched_res_sub(sched_res *a, const sched_res *b);
/* Whether every amount of req is at most the same amount in avail. */
bool sched_res_fits(const sched_res *req, const sched_res *avail);

typedef struct sched_kv {
    const char *key;
    const char *value;
} sched_kv;

typedef enum sched_effect {
    SCHED_EFFECT_ANY = 0, /* tolerations only: matches every effect */
    SCHED_NO_SCHEDULE,
    SCHED_PREFER_NO_SCHEDULE,
    SCHED_NO_EXECUTE,
} sched_effect;

typedef struct sched_taint {
    const char *key;
    const char *value; /* may be empty */
    sched_effect effect; /* never SCHED_EFFECT_ANY */
} sched_taint;

typedef enum sched_tol_op { SCHED_TOL_EQUAL = 0, SCHED_TOL_EXISTS } sched_tol_op;

/* Kubernetes rules: the effect matches when ANY or equal; an empty key with Exists
 * tolerates every taint; otherwise keys must be equal, and with Equal the values. */
typedef struct sched_toleration {
    const char *key;
    sched_tol_op op;
    const char *value;
    sched_effect effect;
} sched_toleration;

/* Whether toleration t tolerates taint ta (the rules above). */
bool sched_tolerates(const sched_toleration *t, const sched_taint *ta);

typedef struct sched_node {
    const char *name;
    sched_res capacity;  /* allocatable */
    sched_res allocated; /* what placed work holds (sched_node_allocate) */
    const sched_kv *labels;
    size_t nlabels;
    const sched_taint *taints;
    size_t ntaints;
    /* Bit i set: GPU device i is in use (sched_gpu_mark). A node's free GPUs are
     * the fewer of capacity - allocated and its devices with a clear bit. */
    uint64_t gpu_used;
} sched_node;

typedef struct sched_pod_req {
    sched_res requests; /* of one worker */
    const sched_kv *node_selector; /* every pair must equal a node label */
    size_t nnode_selector;
    const sched_toleration *tolerations;
    size_t ntolerations;
    int gang; /* workers placed all or nothing by sched_place_gang; 0 means 1; <= SCHED_GANG_MAX */
} sched_pod_req;

typedef enum sched_policy {
    SCHED_BINPACK = 0, /* prefer nodes that end up fullest (MostAllocated) */
    SCHED_SPREAD,      /* prefer nodes that end up emptiest (LeastAllocated) */
} sched_policy;

/* Picks the best node for one worker of req: 0 and its index in *node_out (why ""),
 * or MP_EBUSY when none fits now but one would with its allocations released,
 * MP_ENOENT when none ever could, MP_EINVAL for a malformed request or node; on
 * every error why (may be NULL) says why in one line. */
int sched_place(const sched_node *nodes, size_t n, const sched_pod_req *req, sched_policy policy, size_t *node_out,
                char *why, size_t whyn);

/* Places req->gang workers (at least 1) all or nothing, one by one on a scratch
 * copy of the allocations: 0 and their nodes in node_out[0..gang-1], or the codes
 * of sched_place with node_out untouched and why naming how many fit. */
int sched_place_gang(const sched_node *nodes, size_t n, const sched_pod_req *req, sched_policy policy,
                     size_t *node_out, char *why, size_t whyn);

/* Adds r to node's allocations; 0, or MP_EINVAL (unchanged) when the extended
 * resource table is full. Does not mark GPU devices (see sched_gpu_mark). */
int sched_node_allocate(sched_node *node, const sched_res *r);
/* Takes r from node's allocations, clamped at 0. */
void sched_node_release(sched_node *node, const sched_res *r);
/* node's free resources: capacity - allocated, clamped at 0, GPUs as in sched_node. */
void sched_node_free(const sched_node *node, sched_res *out);

/* Picks count free GPU devices of node, lowest index first, into devices: 0, or
 * MP_EBUSY (devices untouched) when fewer are free, MP_EINVAL for count < 0. */
int sched_gpu_pick(const sched_node *node, int64_t count, int *devices);
/* Marks devices (indexes < SCHED_GPU_TRACKED; others ignored) used or free. */
void sched_gpu_mark(sched_node *node, const int *devices, size_t n, bool used);

/* ---- capacity planning (simulate.c) ------------------------------------------------
 * Every step of every Pipeline in files is a workload of `parallelism` workers,
 * placed all at once on the files' Nodes and NodePools in priority order
 * (PriorityClass value; the global default's for steps naming none; file order
 * among equals). */
typedef struct sched_sim_work {
    char *name;     /* "pipeline/step" */
    int32_t priority;
    int gang;       /* workers */
    bool placed;
    char *nodes;    /* when placed: the node of each worker, comma-separated */
    char *why;      /* when not: the reason, as `get queue` will say it */
} sched_sim_work;

typedef struct sched_sim_node {
    char *name;
    sched_res capacity, allocated;
} sched_sim_node;

typedef struct sched_sim_report {
    sched_sim_work *work; /* in placement order */
    size_t nwork;
    sched_sim_node *nodes;
    size_t nnodes;
} sched_sim_report;

/* Fills out (caller frees with sched_sim_report_free). MP_EINVAL when the files
 * declare no node or a request cannot be represented. */
int sched_simulate(const spec_file *const *files, size_t nfiles, sched_policy policy, sched_sim_report *out,
                   mp_err *e);
void sched_sim_report_free(sched_sim_report *r);

/* ---- the applied cluster (objects.c) -------------------------------------------
 * Scheduler objects applied to the store (`mlplane apply -f FILE`, or the other
 * documents of a file given to `mlplane run`). Without applied Nodes the cluster
 * is this machine, one node named after the host; with them, the nodes are
 * simulated over this machine (placement and quotas follow them, processes run
 * here). Built-in PriorityClasses when not applied: mlplane-serving (1000000)
 * and mlplane-training (0). */
typedef struct sched_nodeset { /* nodes built from spec files (owned) */
    spec_node_inst **insts;
    size_t *ninsts, nfiles;
    sched_node *nodes;
    size_t n;
    sched_kv **labels;
    sched_taint **taints;
} sched_nodeset;

typedef struct sched_objects {
    spec_file **files; /* the parsed sources */
    bool *owned;
    int64_t *source_ids;
    size_t nfiles;
    /* current objects (borrowed from files), in apply order: later ones win */
    const spec_priority_class **classes;
    size_t nclasses;
    const spec_cluster_queue **queues;
    size_t nqueues;
    const spec_local_queue **local_queues;
    size_t nlocal_queues;
    const spec_resource_flavor **flavors;
    size_t nflavors;
    /* access objects: Roles and ClusterRoles, RoleBindings and ClusterRoleBindings */
    const spec_role **roles;
    size_t nroles;
    const spec_role_binding **bindings;
    size_t nbindings;
    /* the nodes: the applied ones, or this machine */
    const sched_node *nodes;
    size_t nnodes;
    bool simulated;
    sched_nodeset sim;
    sched_node local;
    sched_kv *local_labels;
    char local_name[256];
} sched_objects;

/* Loads what is applied (caller frees with sched_objects_free). MP_EINVAL when a
 * stored source no longer parses (a newer mlplane wrote it), or store errors. */
int sched_objects_load(store *st, sched_objects *out, mp_err *e);
void sched_objects_free(sched_objects *o);
/* Applies the non-Pipeline objects of f (whose full text is text) in the
 * caller's transaction: checks references (LocalQueue -> ClusterQueue,
 * ClusterQueue -> ResourceFlavor, one global default PriorityClass) against the
 * store plus f, each problem into d with its position, then stores them.
 * *napplied: how many objects. MP_EINVAL (nothing stored) when d got problems. */
int sched_objects_apply(store *st, const spec_file *f, const char *text, size_t *napplied, spec_diags *d,
                        mp_err *e);
/* The kinds of applied objects `delete KIND NAME` removes, in the order messages
 * list them: the Kind as written in a spec and the words commands accept. */
typedef struct sched_object_kind {
    const char *kind, *singular, *plural;
    const char *shortname; /* kubectl's short name (pc, no, rf, cq, lq, deploy), or NULL */
} sched_object_kind;
const sched_object_kind *sched_object_kinds(size_t *n);
/* The Kind a word names (the Kind itself, or its singular, plural or short name in
 * any case), or NULL. */
const char *sched_object_kind_find(const char *word);
/* Removes the applied object kind/name (kind as sched_object_kind_find takes it)
 * in one transaction of its own. ns is a LocalQueue's, Role's or RoleBinding's
 * namespace, "default" when NULL or empty; other kinds have none. A Deployment also loses the canary
 * percent rollout recorded and the state and events the fleet recorded.
 * MP_EINVAL for an unknown kind (the message lists the kinds), MP_ENOENT when
 * nothing of that name is applied, or store errors; nothing changes then. */
int sched_objects_delete(store *st, const char *kind, const char *ns, const char *name, mp_err *e);
/* The objects applied in st (none when st is NULL) with those of files[0..nfiles)
 * over them, as if they were applied too (the files are borrowed: free them after
 * o). Nodes are not built when st is NULL. */
int sched_objects_view(store *st, const spec_file *const *files, size_t nfiles, sched_objects *o, mp_err *e);
/* Checks that each step of f's Pipelines (only `only` when not NULL) names a
 * PriorityClass (priorityClassName) and a LocalQueue (queueName, in the
 * Pipeline's namespace) that o has; each unknown name is a diagnostic at its
 * field in d, with a did-you-mean or the names known. nowhere completes "names
 * no LocalQueue ...", e.g. "applied or in this file"; note (may be NULL) ends
 * the message. Returns how many. */
size_t sched_objects_check_names(const sched_objects *o, const spec_file *f, const spec_pipeline *only,
                                 const char *nowhere, const char *note, spec_diags *d);
/* The PriorityClass named name (built-ins included), or with name NULL the
 * global default; NULL when none. */
const spec_priority_class *sched_objects_class(const sched_objects *o, const char *name);
const spec_cluster_queue *sched_objects_queue(const sched_objects *o, const char *name);

/* One worker's request of workload row h and how many workers it has (from its
 * stored request, or what a row written before requests were stored holds). */
void sched_row_request(const store_workload *h, sched_res *one, int *workers);
/* Whether workload row h's owner process is alive (rows of dead owners hold nothing). */
bool sched_workload_live(const store_workload *h);

/* What a step's scheduling names resolve to. */
typedef struct sched_resolved {
    int32_t priority;
    bool may_preempt;
    const char *priority_class; /* NULL: none named and no global default */
    const char *local_queue;    /* NULL: no queue (no quota) */
    const char *cluster_queue;
} sched_resolved;
/* Resolves step s of a pipeline in namespace ns: its priorityClassName (or the
 * global default), and its queueName (or the namespace's LocalQueue named
 * "default", or its only one). MP_EINVAL naming what is not applied. Strings
 * are borrowed from o. */
int sched_objects_resolve(const sched_objects *o, const char *ns, const spec_step *s, sched_resolved *out, mp_err *e);

/* ---- why a step waits (why.c) ------------------------------------------------
 * Every reason a ready step gives for not running (a waiting decision's why, a
 * step's message, the StepWaiting and StepPreempting events, `get queue`,
 * `sched simulate`) has one shape, like the message of a Kueue Workload's
 * condition:
 *     waiting for WHAT: WHY[; MORE]
 * WHAT is one of the SCHED_WAIT_* below, WHY the facts (amounts, names), MORE
 * what else holds or what would help. docs/scheduler.md ("Why a step waits")
 * lists them; build them only through these. */
#define SCHED_WAIT_SCHEDULER "the scheduler"             /* queued; no cycle has decided it yet */
#define SCHED_WAIT_NODES "nodes"                         /* room on the nodes: now, ever, a reservation */
#define SCHED_WAIT_QUOTA "quota"                         /* its ClusterQueue's quota */
#define SCHED_WAIT_PREEMPTION "preemption"               /* it preempts (WHY: "preempts VICTIMS to ...") */
#define SCHED_WAIT_EVICTED "preempted workloads to exit" /* victims chosen earlier still hold */
#define SCHED_WAIT_PRIORITY_CLASS "a PriorityClass"      /* its priorityClassName names none */
#define SCHED_WAIT_LOCAL_QUEUE "a LocalQueue"            /* its queueName names none */
#define SCHED_WAIT_CLUSTER_QUEUE "a ClusterQueue"        /* its LocalQueue's ClusterQueue is not applied */
#define SCHED_WAIT_FLAVOR "a ResourceFlavor"             /* its ClusterQueue's flavor is not applied */
#define SCHED_WAIT_REQUEST "a valid request"             /* a malformed request */
#define SCHED_WAIT_RETRY "its next attempt"              /* a retry's backoff */
#define SCHED_WAIT_SLOT "its dependencies or a free slot" /* not queued: upstream steps, --parallel, maxParallel */
/* A constant reason: SCHED_WHY(SCHED_WAIT_SCHEDULER, "queued"). */
#define SCHED_WHY(what, why) "waiting for " what ": " why
#define SCHED_WHY_QUEUED SCHED_WHY(SCHED_WAIT_SCHEDULER, "queued")
/* "waiting for WHAT: " and the rest as printf formats it (heap). */
char *sched_why(const char *what, const char *fmt, ...) MP_PRINTF(2, 3);
/* The same around why (heap, freed here; NULL reads as ""). */
char *sched_why_take(const char *what, char *why);
/* Whether why has the shape with this WHAT (a StepPreempting is SCHED_WAIT_PREEMPTION). */
bool sched_why_is(const char *why, const char *what);

/* ---- admission (admit.c) ------------------------------------------------------
 * One scheduling cycle: a pure, deterministic function from (nodes, queues,
 * flavors, every workload pending or admitted, now) to one decision per pending
 * workload. Every mlplane process that schedules runs the same cycle over the
 * same store state under the store's write lock and acts only on its own
 * workloads, so all of them agree (see docs/scheduler.md).
 *
 * Semantics (Kubernetes + Kueue):
 * - Order: pending workloads are tried by ClusterQueue fair share when queues of
 *   one cohort compete (lowest weighted dominant resource share first), then by
 *   priority (higher first), then created_ms (older first), then index.
 * - Quota: a workload with a cluster_queue must fit that ClusterQueue's quota
 *   for each resource it requests, per flavor: nominal, plus what its cohort can
 *   lend (others' unused nominal, within their lendingLimit), up to its own
 *   borrowingLimit. Flavors of a resource group are tried in order; a flavor's
 *   nodeLabels are added to the workload's node selector for placement. Resources
 *   a ClusterQueue does not cover cannot be requested through it. A workload
 *   with no cluster_queue is not subject to quotas.
 * - Placement: sched_place_gang over the nodes (allocations derived from the
 *   admitted workloads), all or nothing for gangs.
 * - Preemption (only when may_preempt): when a workload does not fit, victims
 *   are chosen among admitted, not evicting workloads: for node room, those of
 *   lower priority; for quota, per its ClusterQueue's withinClusterQueue policy
 *   (same queue) and reclaimWithinCohort policy (other queues of the cohort that
 *   borrow, when the workload fits its own nominal quota). Fewest and lowest
 *   victims: candidates by priority ascending, then latest started first, added
 *   until it fits, then every victim not needed is spared (highest first). A
 *   gang is a victim as a whole. While victims chosen earlier are still
 *   evicting and would make room, the workload waits without choosing more.
 * - Backfill: the first pending workload blocked by node room (not by quota)
 *   gets a reservation at the earliest time it would fit, assuming admitted
 *   workloads end at started_ms + limit_ms (those with limit_ms 0 are assumed to
 *   end now, which keeps backfill conservative). A later workload is admitted
 *   only when it cannot delay that: it ends (now + limit_ms, limit_ms > 0) by the
 *   reservation time, or the reservation still fits with it placed.
 * Strings are borrowed; NULL reads as "". */

/* A workload: one step (all its gang workers), pending or admitted. */
typedef struct sched_workload {
    const char *id;            /* unique ("RUN/STEP"); used in reasons and events */
    const char *cluster_queue; /* ClusterQueue it is admitted through; NULL or "" = none */
    int32_t priority;          /* higher first */
    bool may_preempt;          /* false for preemptionPolicy: Never */
    int64_t created_ms;        /* when it was queued: FIFO among equal priority */
    int64_t limit_ms;          /* most it may run (timeoutSeconds); 0 = unknown */
    sched_pod_req req;         /* one worker's request and constraints; req.gang workers */
    /* Admitted workloads (holding resources): */
    bool admitted;
    int64_t started_ms;
    const size_t *nodes;       /* node index of each of the req.gang workers */
    const char *flavors;       /* the assignment sched_cycle gave it (sched_decision.flavors) */
    bool evicting;             /* preemption asked; it holds until it exits */
} sched_workload;

typedef enum sched_verdict {
    SCHED_WAIT = 0, /* stays pending: why says why */
    SCHED_ADMIT,    /* start it: nodes, flavors */
    SCHED_PREEMPT,  /* evict victims, then it will fit: it stays pending meanwhile */
} sched_verdict;

typedef struct sched_decision {
    size_t workload;     /* index in the workloads given to sched_cycle */
    sched_verdict verdict;
    size_t *nodes;       /* ADMIT: node index of each worker (heap) */
    char *flavors;       /* ADMIT: "RESOURCE=FLAVOR,..." for the queued resources, "" without a queue (heap) */
    bool borrows;        /* ADMIT: its queue goes over nominal quota in some resource */
    size_t *victims;     /* PREEMPT: indexes of admitted workloads to evict (heap) */
    size_t nvictims;
    /* WAIT and PREEMPT: why it waits, as `get queue` shows it (the shape of
     * sched_why: "waiting for nodes: needs 2 nvidia.com/gpu, largest free on any
     * node is 1", "waiting for quota: queue team-a over nominal nvidia.com/gpu
     * quota 4 (3 in use, 2 requested), cohort has none to lend", "waiting for
     * preemption: preempts r/x (priority 0) to make room; ..."); ADMIT: a
     * one-line explanation for the event (heap, never NULL). */
    char *why;
    int64_t ns; /* nanoseconds spent deciding it; 0 unless sched_cluster.time_decisions */
} sched_decision;

typedef struct sched_cluster {
    const sched_node *nodes; /* capacity, labels, taints; allocated is ignored */
    size_t nnodes;
    const spec_cluster_queue *const *queues;
    size_t nqueues;
    const spec_resource_flavor *const *flavors;
    size_t nflavors;
    sched_policy policy;
    /* Measure each decision (sched_decision.ns) with the monotonic clock: for
     * benchmarks; the only clock sched_cycle ever reads, and only when set. */
    bool time_decisions;
} sched_cluster;

/* Runs one cycle at now_ms over w[0..n) (pending and admitted). Returns 0 with a
 * heap array in *out of one decision per pending workload, in the order they were
 * decided (caller frees with sched_decisions_free), or MP_EINVAL (nothing
 * allocated) when an admitted workload names a node index out of range or the
 * cycle cannot represent a request, saying which. A workload naming an unknown
 * ClusterQueue waits with that as its reason. */
int sched_cycle(const sched_cluster *c, const sched_workload *w, size_t n, int64_t now_ms, sched_decision **out,
                size_t *nout, mp_err *e);
void sched_decisions_free(sched_decision *d, size_t n);

/* Whether every step of p could ever run: on this machine's capacity (unless
 * the cluster is simulated) and on o's nodes, with names o resolves. Returns 0,
 * or MP_EINVAL saying which step cannot and why. */
int sched_check_pipeline(const sched_objects *o, const spec_pipeline *p, mp_err *e);
/* Whether step s (all its gang workers) could ever run on the nodes that
 * files[0..nfiles) declare (Node, NodePool), each empty: 1 when it could, or
 * when the files declare no nodes (then nothing is known); 0 with why filled
 * when it never could. */
int sched_step_fits_files(const spec_file *const *files, size_t nfiles, const spec_step *s, char *why, size_t whyn);

/* ---- the shared queue (workload.c, admission.c) ------------------------------------
 * Engines queue their ready steps as pending workload rows; the process holding
 * the scheduler lease runs the cycle over every live row and writes each
 * decision into the rows; each engine starts its own steps once their rows say
 * admitted (see admission.c). */
/* The shared queue seen by one process (see workload.c). */
typedef struct sched_queue {
    sched_objects obj; /* what is applied; reloaded when it changes */
    bool loaded;
    int64_t sig;
    store_workload *rows; /* the rows read by the last sched_queue_load */
    size_t nrows;
    sched_workload *w; /* workloads: the live rows */
    struct sched__req *reqs;
    size_t **nodes;
    char **ids;
    size_t *row_of; /* the row of rows[] each came from */
    size_t n, cap;
} sched_queue;
void sched_queue_free(sched_queue *q);
/* Writes a pending row for step (named step, of spec s) of run (priority,
 * queue and request resolved against q's objects), in the caller's transaction.
 * The row's reason is SCHED_WHY_QUEUED until a cycle decides it. When the
 * step's names cannot be resolved (or its request represented), returns 0 with
 * *why set (heap, the shape of sched_why) and writes nothing. */
int sched_enqueue(sched_queue *q, store *st, const store_run *run, const char *step, const spec_step *s, int64_t now,
                  char **why, mp_err *e);
/* One cycle over every live row, its decisions written into the rows (admitted:
 * nodes, flavors, GPU devices and the explanation; pending: the reason; victims:
 * asked to yield). In the caller's transaction; the caller holds the lease. */
int sched_schedule(sched_queue *q, store *st, int64_t now, mp_err *e);

#endif
