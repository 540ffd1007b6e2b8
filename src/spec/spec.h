/* spec.h — mlplane's YAML documents turned into validated objects.
 *
 * A spec file holds one or more Kubernetes-style documents separated by `---`:
 *   apiVersion: mlplane.dev/v1
 *   kind: Pipeline
 *   metadata: {name: ..., namespace: default, labels: {...}}
 *   spec: {...}
 * Kinds: Pipeline (what to run); for the scheduler, PriorityClass, Node,
 * NodePool, ResourceFlavor, ClusterQueue and LocalQueue (Kubernetes/Kueue shapes;
 * see "scheduler objects" below); for serving, Deployment (see "serving objects");
 * Secret (Kubernetes' shape, values kept in memory only; see "Secrets").
 * One file may mix them; names are unique per kind (per namespace for Pipeline
 * and LocalQueue). References between objects (a
 * step's queueName, a LocalQueue's clusterQueue, a flavor name) are not resolved
 * here: they may live in other files.
 * Parsing (libfyaml) and validation collect every problem found, each with its
 * file:line:col, into a spec_diags list instead of stopping at the first one.
 * Objects are plain structs that own their heap strings; free them with the
 * matching *_free. Nothing here touches the store or runs anything.
 *
 * Templates: strings in a step's command, script, env values, workingDir and
 * inputs may hold {{params.NAME}}, {{steps.STEP.outputs.ARTIFACT}} and
 * {{inputs.NAME}} (and {{run.id}}, {{run.name}}); whitespace inside the braces is
 * allowed. A reference to another step's output also makes the step depend on it.
 * Thread-safety: functions are reentrant; objects are not shared between threads. */
#ifndef MLPLANE_SPEC_H
#define MLPLANE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define SPEC_API_VERSION "mlplane.dev/v1"

/* ---- diagnostics -------------------------------------------------------------- */
/* The candidate closest to word (for "did you mean"), NULL when none is close. */
const char *spec_closest(const char *word, const char *const *cands, size_t n);

typedef struct spec_pos {
    int line; /* 1-based; 0 when unknown */
    int col;  /* 1-based */
} spec_pos;

typedef struct spec_diag {
    char *file; /* as given by the caller */
    spec_pos pos;
    char *msg; /* one sentence, no trailing newline */
} spec_diag;

typedef struct spec_diags {
    spec_diag *v;
    size_t n, cap;
} spec_diags;

/* Adds a diagnostic; a position with no line (a problem with the whole file:
 * unreadable, empty, no documents) is recorded as 1:1, a missing column as 1. */
void spec_diag_add(spec_diags *d, const char *file, spec_pos pos, const char *fmt, ...) MP_PRINTF(4, 5);
/* Writes each diagnostic as "FILE:LINE:COL: message\n" into out. */
void spec_diags_format(const spec_diags *d, mp_buf *out);
void spec_diags_free(spec_diags *d);

/* ---- quantities (Kubernetes resource.Quantity syntax) ------------------------- */
typedef enum spec_qty_kind {
    SPEC_QTY_CPU,    /* result in millicores: "500m" -> 500, "2" -> 2000, "0.1" -> 100 */
    SPEC_QTY_MEMORY, /* result in bytes, rounded up: "512Mi", "4G", "1e9", "1.5Gi" */
    SPEC_QTY_COUNT,  /* whole devices: "1", "2"; fractions are an error */
} spec_qty_kind;

/* Parses s exactly (integer arithmetic, no floating point). Suffixes: decimal
 * n u m "" k M G T P E, binary Ki Mi Gi Ti Pi Ei, and decimal exponents (e3, E-2).
 * Negative values, garbage and overflow are MP_EINVAL with a message saying why. */
int spec_parse_quantity(const char *s, spec_qty_kind kind, int64_t *out, mp_err *e);

/* ---- objects -------------------------------------------------------------------- */
typedef struct spec_kv {
    char *key;
    char *value;
    spec_pos pos; /* of the value */
} spec_kv;

/* ---- data expectations (expect.c) ---------------------------------------------
 * What a CSV file must look like, the most used of Great Expectations' checks:
 *   rows: {min: 100, max: 1000000}
 *   columns:
 *     age:   {type: integer, maxNullFraction: 0.01, min: 0, max: 120}
 *     state: {type: string, in: [CA, NY, TX], regex: "^[A-Z]{2}$"}
 *     id:    {unique: true, required: true}
 * The same shape in a step input's `validate:` and in the file of `mlplane data
 * validate --expect`. The checks themselves are monitor_validate's (src/monitor). */
typedef enum spec_expect_type {
    SPEC_EXPECT_ANY = 0, /* type not given: not checked */
    SPEC_EXPECT_NUMBER,  /* every value a number */
    SPEC_EXPECT_INTEGER, /* every value a whole number */
    SPEC_EXPECT_STRING,  /* any value (text as written) */
    SPEC_EXPECT_BOOLEAN, /* True/False, true/false, TRUE/FALSE (pandas' words) */
} spec_expect_type;

typedef struct spec_column_expect {
    char *name;
    spec_pos pos;           /* of the column's key */
    bool required;          /* the column must be present (default true) */
    spec_expect_type type;
    bool has_max_null;
    double max_null_fraction; /* in [0, 1] */
    bool has_min, has_max;
    double min, max;
    char **in; /* allowed values as written (nin of them), or NULL */
    size_t nin;
    bool unique;
    char *regex; /* POSIX extended; compiles (checked when decoded), or NULL */
} spec_column_expect;

typedef struct spec_expectations {
    bool has_rows_min, has_rows_max;
    long long rows_min, rows_max;
    spec_column_expect *cols; /* in file order, names unique */
    size_t ncols;
    /* validate: {expect: FILE} in a step input: the expectations are in FILE (as
     * written: relative to the spec file's folder, read when the step is about to
     * start); the fields above are then empty. NULL for inline expectations. */
    char *expect_file;
    spec_pos pos; /* of the mapping */
} spec_expectations;

/* Reads an expectations file (one YAML document in the shape above). On success
 * returns 0 and *out (caller frees with spec_expectations_free); otherwise
 * MP_EINVAL, *out NULL, every problem in diags with FILE:LINE:COL (an unreadable
 * file is one diagnostic). */
int spec_expectations_load_file(const char *path, spec_expectations **out, spec_diags *diags);
/* The same over text in memory; name is used in diagnostics. */
int spec_expectations_load_string(const char *name, const char *text, size_t len, spec_expectations **out,
                                  spec_diags *diags);
void spec_expectations_free(spec_expectations *x);
/* "number", "integer", "string", "boolean"; "any" for SPEC_EXPECT_ANY. */
const char *spec_expect_type_name(spec_expect_type t);

typedef struct spec_artifact {
    char *name;
    /* outputs: path relative to the step's MLPLANE_OUTPUTS directory (default: name).
     * inputs: a file or directory, relative to the spec file's directory, or a template
     * such as "{{steps.split.outputs.train}}". */
    char *path;
    spec_pos pos;
    spec_expectations *validate; /* inputs: what the file must hold before the step runs, or NULL */
} spec_artifact;

/* An extended resource: any name with a '/' other than nvidia.com/gpu, such as
 * nvidia.com/mig-1g.10gb or example.com/fpga; whole units only (Kubernetes rule). */
typedef struct spec_resource_qty {
    char *name;
    int64_t count;
    spec_pos pos; /* of the value */
} spec_resource_qty;

/* Requests of a step, or the capacity of a Node/NodePool. */
typedef struct spec_resources {
    int64_t cpu_milli;    /* 0 when not requested */
    int64_t memory_bytes; /* 0 when not requested */
    int64_t gpu;          /* nvidia.com/gpu (also accepted as `gpu`) */
    spec_resource_qty *extended; /* in file order, names unique; NULL when none */
    size_t nextended;
} spec_resources;

/* The amount of resource name in r in its unit (cpu: millicores, memory: bytes,
 * others: count; "gpu" and "nvidia.com/gpu" are the same); 0 when absent. */
int64_t spec_resources_get(const spec_resources *r, const char *name);
/* How quantities of resource name are read: cpu -> SPEC_QTY_CPU, memory ->
 * SPEC_QTY_MEMORY, anything else (GPUs, extended resources) -> SPEC_QTY_COUNT. */
spec_qty_kind spec_resource_qty_kind(const char *name);

/* ---- scheduling fields of a step ------------------------------------------------ */
typedef enum spec_taint_effect {
    SPEC_EFFECT_ANY = 0, /* tolerations only: an empty effect tolerates every effect */
    SPEC_EFFECT_NO_SCHEDULE,
    SPEC_EFFECT_PREFER_NO_SCHEDULE,
    SPEC_EFFECT_NO_EXECUTE,
} spec_taint_effect;

/* A node taint: pods without a matching toleration are kept off (NoSchedule),
 * avoided (PreferNoSchedule) or evicted (NoExecute). */
typedef struct spec_taint {
    char *key;
    char *value; /* "" when not given */
    spec_taint_effect effect; /* never SPEC_EFFECT_ANY */
    spec_pos pos;
} spec_taint;

typedef enum spec_toleration_op {
    SPEC_TOL_EQUAL = 0, /* default: key and value must match */
    SPEC_TOL_EXISTS,    /* key must exist (any value); an empty key tolerates every taint */
} spec_toleration_op;

typedef struct spec_toleration {
    char *key;   /* "" only with Exists: matches every key */
    char *value; /* "" when not given; always "" with Exists */
    spec_toleration_op op;
    spec_taint_effect effect; /* SPEC_EFFECT_ANY when not given */
    spec_pos pos;
} spec_toleration;

typedef enum spec_sweep_kind {
    SPEC_SWEEP_GRID = 1, /* every combination of the params' value lists */
    SPEC_SWEEP_RANDOM,   /* count trials, each param drawn from its list or range */
} spec_sweep_kind;

typedef struct spec_sweep_param {
    char *name;    /* a param of the pipeline (validation checks it) */
    char **values; /* the choices, scalars as their text; NULL for a range */
    size_t nvalues;
    bool is_range; /* random only: {min, max}, drawn uniformly */
    double min, max;
    bool integer;  /* range whose min and max are written as integers: whole numbers, max included */
    bool log;      /* range with scale: log: uniform in log space (min > 0) */
    spec_pos pos;
} spec_sweep_param;

typedef enum spec_goal { SPEC_GOAL_MINIMIZE = 1, SPEC_GOAL_MAXIMIZE } spec_goal;

/* earlyStopping: {metric, goal, minTrials, startStep}: the median stopping rule
 * (Google Vizier, Katib's medianstop). metric and goal default to the objective's. */
typedef struct spec_early_stopping {
    char *metric;   /* never NULL after validation */
    spec_goal goal; /* never 0 after validation */
    int min_trials; /* peers that must have reached a step before it is judged; default 3 */
    int start_step; /* first step (1-based position in the metric's history) judged; default 4 */
    spec_pos pos;
} spec_early_stopping;

/* The most trials one sweep may have (a grid's product, a random count). */
#define SPEC_SWEEP_MAX_TRIALS 10000

/* sweep: {grid: {P: [v...]}} or {random: {count, seed, params: {P: [v...] | {min, max, scale}}}},
 * with maxParallel, objective {metric, goal} and earlyStopping. Validation checks
 * that every P is a param of the pipeline and that the sweep has at most
 * SPEC_SWEEP_MAX_TRIALS trials; the scheduler expands it into trials at submit. */
typedef struct spec_sweep {
    spec_sweep_kind kind;
    spec_sweep_param *params; /* at least one */
    size_t nparams;
    int count;            /* random: number of trials (>= 1); grid: 0 */
    uint64_t seed;        /* random: the seed given, else 0 (valid when has_seed) */
    bool has_seed;
    int max_parallel;     /* 0 = no limit */
    char *metric;         /* objective.metric, or NULL without an objective */
    spec_goal goal;       /* 0 without an objective */
    spec_early_stopping *early_stopping; /* NULL when absent */
    spec_pos pos;
} spec_sweep;

/* How many trials sw expands to: a grid's product of list sizes (saturating at
 * SIZE_MAX), a random sweep's count. */
size_t spec_sweep_trials(const spec_sweep *sw);
/* The param values of sw's trials, each a JSON object name -> string in sw's param
 * order (grid: every combination, the last param varying fastest; random: count
 * draws of splitmix64 seeded with sw->seed). Returns the count and a heap array in
 * *out (free each and the array). The same for every caller: a run's trials
 * locally and their Jobs on Kubernetes. */
size_t spec_sweep_expand(const spec_sweep *sw, char ***out);

/* A step's use of a Secret key: as env var env (secretFiles: env NULL, as the
 * file path under the step's MLPLANE_SECRETS folder). */
typedef struct spec_secret_ref {
    char *env;    /* env var name, or NULL for a file */
    char *path;   /* file path relative to MLPLANE_SECRETS, or NULL for env */
    char *secret; /* the Secret's name (in the pipeline's namespace) */
    char *key;
    spec_pos pos;
} spec_secret_ref;

typedef struct spec_step {
    char *name;
    char **command; /* argv (NULL-terminated) or NULL when script is used */
    size_t ncommand;
    char *script; /* run with /bin/sh -e -c, or NULL */
    char *image;  /* for Kubernetes; unused locally; may be NULL */
    spec_kv *env;
    size_t nenv;
    char *working_dir; /* may be NULL */
    /* All dependencies after validation: explicit dependsOn plus those implied by
     * {{steps.X...}} references, deduplicated, in first-seen order. */
    char **depends_on;
    size_t ndepends;
    spec_artifact *inputs;
    size_t ninputs;
    spec_artifact *outputs;
    size_t noutputs;
    spec_resources resources;
    int retry_limit;          /* retries after the first attempt; 0 = none */
    double backoff_seconds;   /* first retry delay; doubles each retry; default 1 */
    int timeout_seconds;      /* 0 = no timeout */
    bool cache;
    /* register: {model: NAME, artifact: OUTPUT}: after success, the output becomes a
     * new version of registered model NAME (NULL when absent). */
    char *register_model;
    char *register_artifact;
    bool register_if_changed; /* register.ifChanged: only when the bytes differ from the latest version's */
    /* Scheduling (step_sched.c). Names are not resolved against other objects here. */
    char *priority_class; /* priorityClassName, or NULL (the global default applies) */
    char *queue_name;     /* queueName: a LocalQueue in the pipeline's namespace, or NULL */
    spec_pos priority_class_pos, queue_name_pos; /* of their values, for diagnostics */
    spec_kv *node_selector; /* node label -> required value */
    size_t nnode_selector;
    spec_toleration *tolerations;
    size_t ntolerations;
    int parallelism;       /* pods started together, all or none (a gang); 1 when not given */
    char *checkpoint_path; /* checkpoint.path, or NULL */
    /* env valueFrom.secretKeyRef and secretFiles, in file order (NULL when none) */
    spec_secret_ref *secret_refs;
    size_t nsecret_refs;
    spec_sweep *sweep;     /* NULL when absent */
    spec_pos pos; /* of the step's mapping */
} spec_step;

typedef struct spec_meta {
    char *name;
    spec_pos name_pos; /* of metadata.name's value, for diagnostics */
    char *namespace_; /* default "default" */
    spec_kv *labels;
    size_t nlabels;
} spec_meta;

typedef struct spec_pipeline {
    spec_meta meta;
    spec_kv *params; /* name -> default value (scalars kept as their text) */
    size_t nparams;
    spec_step *steps;
    size_t nsteps;
} spec_pipeline;

/* ---- scheduler objects ------------------------------------------------------------
 * Kubernetes/Kueue shapes, read for mlplane's scheduler; only the fields listed are
 * accepted. All are cluster-scoped (metadata.namespace is ignored) except
 * LocalQueue. A quantity of resource R is read by spec_resource_qty_kind(R). */

typedef enum spec_preemption_policy {
    SPEC_PREEMPT_LOWER_PRIORITY = 0, /* default */
    SPEC_PREEMPT_NEVER,
} spec_preemption_policy;

/* kind: PriorityClass — fields at the top level, as in Kubernetes (no spec:):
 * value (int32, required), preemptionPolicy, globalDefault, description. At most
 * one PriorityClass of a file may be globalDefault. */
typedef struct spec_priority_class {
    spec_meta meta;
    int32_t value; /* higher runs first */
    spec_preemption_policy preemption;
    bool global_default;
    char *description; /* may be NULL */
} spec_priority_class;

/* kind: Node — a simulated node: metadata.labels, spec.capacity (required: cpu,
 * memory, nvidia.com/gpu, extended resources), spec.taints. */
typedef struct spec_node {
    spec_meta meta; /* meta.labels are the node's labels */
    spec_resources capacity;
    spec_taint *taints;
    size_t ntaints;
} spec_node;

/* kind: NodePool — count identical Nodes named namePrefix + index (0..count-1),
 * with the pool's metadata.labels, spec.capacity and spec.taints. */
typedef struct spec_node_pool {
    spec_meta meta;
    int count;         /* >= 1 */
    char *name_prefix; /* default metadata.name + "-" */
    spec_resources capacity;
    spec_taint *taints;
    size_t ntaints;
} spec_node_pool;

/* kind: ResourceFlavor — spec.nodeLabels pick the nodes the flavor stands for
 * (spec may be left out: a flavor matching every node). */
typedef struct spec_resource_flavor {
    spec_meta meta;
    spec_kv *node_labels;
    size_t nnode_labels;
} spec_resource_flavor;

/* One resource of a flavor in a ClusterQueue; amounts in the resource's unit. */
typedef struct spec_resource_quota {
    char *name;
    int64_t nominal;         /* nominalQuota */
    int64_t borrowing_limit; /* valid when has_borrowing_limit (needs a cohort) */
    int64_t lending_limit;   /* valid when has_lending_limit (<= nominal; needs a cohort) */
    bool has_borrowing_limit, has_lending_limit;
    spec_pos pos;
} spec_resource_quota;

typedef struct spec_flavor_quotas {
    char *name; /* a ResourceFlavor's name */
    spec_resource_quota *resources; /* exactly the group's coveredResources */
    size_t nresources;
    spec_pos pos;
} spec_flavor_quotas;

/* Flavors tried in order for the covered resources. A resource is covered by at
 * most one group and a flavor appears at most once per ClusterQueue. */
typedef struct spec_resource_group {
    char **covered; /* coveredResources; "gpu" is stored as "nvidia.com/gpu" */
    size_t ncovered;
    spec_flavor_quotas *flavors;
    size_t nflavors;
    spec_pos pos;
} spec_resource_group;

typedef enum spec_reclaim_policy {
    SPEC_RECLAIM_NEVER = 0, /* default */
    SPEC_RECLAIM_LOWER_PRIORITY,
    SPEC_RECLAIM_ANY,
} spec_reclaim_policy;

typedef enum spec_within_queue_policy {
    SPEC_WITHIN_NEVER = 0, /* default */
    SPEC_WITHIN_LOWER_PRIORITY,
    SPEC_WITHIN_LOWER_OR_NEWER_EQUAL_PRIORITY,
} spec_within_queue_policy;

/* kind: ClusterQueue — spec.cohort, spec.resourceGroups, spec.preemption
 * {reclaimWithinCohort, withinClusterQueue}, spec.fairSharing {weight}. */
typedef struct spec_cluster_queue {
    spec_meta meta;
    char *cohort; /* NULL when not in a cohort */
    spec_resource_group *groups;
    size_t ngroups;
    spec_reclaim_policy reclaim_within_cohort;
    spec_within_queue_policy within_cluster_queue;
    int64_t fair_weight_milli; /* fairSharing.weight in thousandths; default 1000 */
} spec_cluster_queue;

/* kind: LocalQueue — namespaced; spec.clusterQueue (required) names where its
 * workloads are admitted. */
typedef struct spec_local_queue {
    spec_meta meta;
    char *cluster_queue;
} spec_local_queue;

/* ---- serving objects -----------------------------------------------------------------
 * kind: Deployment — registered model versions served by `mlplane server`, with a
 * canary split, a shadow, replicas, autoscaling and a request log (KServe-flavoured;
 * docs/serving-rollout.md). Names are unique across namespaces: a deployment is
 * named by its name alone (`mlplane rollout status NAME`). Registry references
 * (model names, versions, aliases) are not resolved here. */

/* The most replicas (worker processes) one Deployment may have. */
#define SPEC_DEPLOYMENT_MAX_REPLICAS 256
/* The longest stabilization window and scale-to-zero delay, in seconds. */
#define SPEC_DEPLOYMENT_MAX_WINDOW_S 3600
#define SPEC_DEPLOYMENT_MAX_IDLE_S 604800

/* A version of the registered model: a number, or an alias resolved when the
 * deployment is applied. Exactly one is set. */
typedef struct spec_model_version {
    int64_t version; /* >= 1, or 0 when alias is set */
    char *alias;     /* NULL when version is set */
    spec_pos pos;    /* of the version or alias value */
} spec_model_version;

/* canary: {version | alias, percent}: percent of the requests go to this version,
 * the rest to spec.model's. */
typedef struct spec_canary {
    bool set; /* false when spec.canary is absent (then all traffic is stable) */
    spec_model_version target;
    int percent; /* 0..100 */
    spec_pos pos;
} spec_canary;

/* shadow: {version | alias, sampleRate}: a copy of sampleRate of the requests is
 * sent to this version too; its answers are logged, never returned. */
typedef struct spec_shadow {
    bool set;
    spec_model_version target;
    double sample_rate; /* 0..1, default 1 */
    spec_pos pos;
} spec_shadow;

typedef enum spec_scale_metric {
    SPEC_SCALE_CONCURRENCY = 1, /* requests in flight per replica (default) */
    SPEC_SCALE_RPS,             /* requests per second per replica */
} spec_scale_metric;

/* autoscale: {metric, target, scaleUpStabilizationSeconds, scaleDownStabilizationSeconds}. */
typedef struct spec_autoscale {
    bool set;                /* false: the deployment runs a fixed replicas.min (see below) */
    spec_scale_metric metric;
    double target;           /* per replica, > 0 */
    int scale_up_window_s;   /* default 0: scale up at once */
    int scale_down_window_s; /* default 300 (Kubernetes HPA's) */
    spec_pos pos;
} spec_autoscale;

/* requestLog: {sampleRate, maxBytes, keep}. */
typedef struct spec_request_log {
    double sample_rate; /* 0..1, default 0: nothing logged */
    int64_t max_bytes;  /* the log is rotated past this size; default 64Mi */
    int keep;           /* rotated files kept; default 5 */
} spec_request_log;

/* auth.inference: who may call a Deployment's inference routes when mlplane server
 * checks credentials (its /admin/ routes always need them then). */
typedef enum spec_inference_auth {
    SPEC_INFERENCE_PUBLIC = 0, /* "public" (the default): anyone */
    SPEC_INFERENCE_TOKEN,      /* "token": credentials that may get deployments in its namespace */
} spec_inference_auth;

typedef struct spec_deployment {
    spec_meta meta;
    char *model;                /* spec.model.name: a registered model's name */
    spec_model_version version; /* spec.model.version | alias: the stable version */
    spec_canary canary;
    spec_shadow shadow;
    /* replicas: {min, max}. min >= 0 (default 1), max >= max(min, 1) (default
     * max(min, 1)); without autoscale, max must be max(min, 1). */
    int min_replicas, max_replicas;
    spec_autoscale autoscale;
    /* scaleToZeroAfterSeconds: with replicas.min 0, stop the last replica after this
     * long without requests; 0 when not given. min 0 needs it or autoscale. */
    int scale_to_zero_after_s;
    char *sticky_header; /* stickyHeader: an HTTP header name, or NULL */
    spec_request_log request_log;
    char *listen; /* listen: "HOST:PORT" or "[ADDR]:PORT" (port 0: any free port), or NULL */
    spec_inference_auth inference_auth; /* auth.inference */
} spec_deployment;

/* ---- monitoring objects ---------------------------------------------------------------
 * kind: Monitor — drift of what a Deployment receives (its request log), or of a data
 * file a step refreshes, against a reference, checked on a schedule (docs/monitor.md).
 * Exactly one of deployment and data. Names are unique across namespaces. */

/* The drift tests a Monitor (and `mlplane drift --stattest`) may name, Evidently's names. */
extern const char *const SPEC_STATTESTS[]; /* "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi", NULL */

#define SPEC_MONITOR_MAX_INTERVAL_S 604800
#define SPEC_MONITOR_MAX_WINDOW_ROWS 10000000

typedef enum spec_promote {
    SPEC_PROMOTE_NONE = 0, /* a retrained version is registered, not served */
    SPEC_PROMOTE_CANARY,   /* rolled out as the monitored Deployment's canary */
    SPEC_PROMOTE_AUTO,     /* as a canary, then to 100% or rolled back by its numbers */
} spec_promote;

/* A per-column number: stattest thresholds. */
typedef struct spec_col_value {
    char *column;
    double value;
    spec_pos pos;
} spec_col_value;

typedef struct spec_monitor {
    spec_meta meta;
    char *deployment;     /* spec.deployment: a Deployment's name, or NULL */
    char *data;           /* spec.data.path as written (relative to the file's folder), or NULL */
    char *reference;      /* spec.reference.path as written, or NULL: the training data of the served version */
    int interval_s;       /* spec.schedule.intervalSeconds, default 300 */
    int64_t window_rows;  /* spec.window.rows: the last N rows logged (default 1000); 0 with window_s */
    int window_s;         /* spec.window.seconds: the rows of the last S seconds, or 0 */
    int64_t min_rows;     /* spec.minRows: fewer current rows and the check waits; default 100 */
    char **columns;       /* spec.columns (ncolumns), or NULL: every column both sides have */
    size_t ncolumns;
    char *stattest;       /* spec.stattest, or NULL: Evidently's default per column */
    spec_kv *stattests;   /* spec.stattests: column -> test */
    size_t nstattests;
    double threshold;     /* spec.threshold, or NaN: the test's default */
    spec_col_value *thresholds; /* spec.thresholds: column -> threshold */
    size_t nthresholds;
    double drift_share;   /* spec.driftShare: the data set drifts at this share of columns; default 0.5 */
    /* spec.actions */
    int cooldown_s;       /* actions.cooldownSeconds, default 3600 */
    char *retrain_pipeline;  /* actions.retrain.pipeline, or NULL */
    spec_kv *retrain_params; /* actions.retrain.params */
    size_t nretrain_params;
    spec_promote promote;    /* actions.promote */
    int canary_percent;      /* actions.canaryPercent, default 10 */
    int64_t promote_after;   /* actions.promoteAfterRequests: the canary's requests judged by promote: auto; 100 */
    char *webhook_url;       /* actions.webhook.url, or NULL */
    spec_pos pos;            /* of spec */
} spec_monitor;

/* ---- Secrets (secret.c) -------------------------------------------------------------
 * kind: Secret as Kubernetes spells it (apiVersion v1 or mlplane.dev/v1):
 *   metadata: {name, namespace}
 *   type: Opaque            (optional, kept as written)
 *   data: {KEY: BASE64}     and/or
 *   stringData: {KEY: text} (wins over data for the same key, as in Kubernetes)
 * Keys: letters, digits, '-', '_', '.' (at most 253). Values are held decoded;
 * spec_secret_free zeroes them. A step refers to a key with env
 * valueFrom.secretKeyRef {name, key} or secretFiles [{secretRef, key, path}]. */
typedef struct spec_secret_item {
    char *key;
    unsigned char *value; /* len bytes and a NUL not counted */
    size_t len;
    spec_pos pos; /* of the key */
} spec_secret_item;

typedef struct spec_secret {
    spec_meta meta;
    char *type; /* NULL when not given */
    spec_secret_item *items; /* by key, unique */
    size_t nitems;
} spec_secret;

/* text (a file of one or more documents) with every Secret's values removed:
 * stringData dropped and each data value made empty, its keys kept; the other
 * documents as they were (comments may go). *out: a new heap string (free()), or
 * NULL when text has no Secret (keep text as it is). */
int spec_secret_strip(const char *text, char **out, mp_err *e);
/* ---- retention ------------------------------------------------------------------------
 * kind: RetentionPolicy — how long the finished runs of a namespace (or of one
 * experiment in it) are kept, and their logs and artifacts, before `mlplane gc`
 * deletes them (retention.c). */
typedef struct spec_retention_policy {
    spec_meta meta;       /* metadata.namespace: the namespace it applies to */
    char *experiment;     /* spec.experiment: only this experiment's runs (its pipeline's name); NULL: all */
    int64_t runs_ms;      /* spec.runs: a run's records and folders, after its end; 0: kept */
    int64_t logs_ms;      /* spec.logs: its steps' logs; 0: kept */
    int64_t artifacts_ms; /* spec.artifacts: its steps' outputs and MLflow artifacts; 0: kept */
    spec_pos pos;         /* of spec */
} spec_retention_policy;
void spec_retention_policy_free(spec_retention_policy *r);
/* "30d" -> ms: a positive integer and a unit s, m, h, d or w. -1 when malformed. */
int spec_duration_parse(const char *s, int64_t *ms);
/* ---- access objects (rbac.c) ----------------------------------------------------------
 * Kubernetes RBAC's shapes, fields at the top level (no spec:):
 *   kind: Role (namespaced) / ClusterRole
 *   rules: [{verbs: [get, list], resources: [runs, models]}]   # "*" for all; apiGroups ignored
 *   kind: RoleBinding (namespaced: grants in its namespace) / ClusterRoleBinding (everywhere)
 *   roleRef: {kind: Role|ClusterRole, name: viewer}             # a ClusterRoleBinding names a ClusterRole
 *   subjects: [{kind: User|Group, name: ana}]
 * The built-in ClusterRoles viewer, editor, admin and cluster-admin cannot be
 * redefined. Which role a binding names is looked up when a request is checked. */
extern const char *const SPEC_RBAC_VERBS[];     /* get list create update delete, NULL */
extern const char *const SPEC_RBAC_RESOURCES[]; /* pipelines runs experiments models deployments monitors
                                                   secrets queues tokens roles, NULL */
extern const char *const SPEC_BUILTIN_ROLES[];  /* viewer editor admin cluster-admin, NULL */
/* Index of verb / resource in the lists above, or -1. */
int spec_rbac_verb(const char *verb);
int spec_rbac_resource(const char *resource);

typedef struct spec_rule {
    unsigned verbs;     /* bit i: SPEC_RBAC_VERBS[i] */
    unsigned resources; /* bit i: SPEC_RBAC_RESOURCES[i] */
} spec_rule;

typedef struct spec_role {
    spec_meta meta;
    bool cluster; /* ClusterRole */
    spec_rule *rules;
    size_t nrules;
} spec_role;

typedef struct spec_subject {
    bool group; /* kind: Group, else User */
    char *name;
} spec_subject;

typedef struct spec_role_binding {
    spec_meta meta;
    bool cluster;     /* ClusterRoleBinding */
    bool ref_cluster; /* roleRef.kind: ClusterRole */
    char *ref_name;
    spec_subject *subjects;
    size_t nsubjects;
} spec_role_binding;

void spec_role_free(spec_role *r);
void spec_role_binding_free(spec_role_binding *b);

typedef enum spec_kind {
    SPEC_KIND_PIPELINE = 1,
    SPEC_KIND_PRIORITY_CLASS,
    SPEC_KIND_NODE,
    SPEC_KIND_NODE_POOL,
    SPEC_KIND_CLUSTER_QUEUE,
    SPEC_KIND_LOCAL_QUEUE,
    SPEC_KIND_RESOURCE_FLAVOR,
    SPEC_KIND_DEPLOYMENT,
    SPEC_KIND_MONITOR,
    SPEC_KIND_SECRET,
    SPEC_KIND_RETENTION_POLICY,
    SPEC_KIND_ROLE,
    SPEC_KIND_CLUSTER_ROLE,
    SPEC_KIND_ROLE_BINDING,
    SPEC_KIND_CLUSTER_ROLE_BINDING,
} spec_kind;

typedef struct spec_object {
    spec_kind kind;
    spec_pos pos; /* of the document's root */
    union {
        spec_pipeline *pipeline;
        spec_priority_class *priority_class;
        spec_node *node;
        spec_node_pool *node_pool;
        spec_cluster_queue *cluster_queue;
        spec_local_queue *local_queue;
        spec_resource_flavor *resource_flavor;
        spec_deployment *deployment;
        spec_monitor *monitor;
        spec_secret *secret;
        spec_retention_policy *retention;
        spec_role *role;                 /* Role and ClusterRole */
        spec_role_binding *role_binding; /* RoleBinding and ClusterRoleBinding */
    } u;
} spec_object;

/* Each frees the object and everything it owns; NULL is a no-op. (Objects in a
 * spec_file are freed by spec_file_free.) */
void spec_pipeline_free(spec_pipeline *p);
void spec_priority_class_free(spec_priority_class *pc);
void spec_node_free(spec_node *n);
void spec_node_pool_free(spec_node_pool *np);
void spec_cluster_queue_free(spec_cluster_queue *cq);
void spec_local_queue_free(spec_local_queue *lq);
void spec_resource_flavor_free(spec_resource_flavor *rf);
void spec_deployment_free(spec_deployment *d);
void spec_monitor_free(spec_monitor *m);
void spec_secret_free(spec_secret *s);

/* The YAML document of Deployment name in text (a file of one or more documents),
 * rewritten: spec.model.version = stable when stable > 0 (an alias there goes), and
 * spec.canary = {version: canary, percent} when canary > 0, else no canary. The rest
 * as it was (comments may go). *out: a new heap string (free()), one document.
 * MP_ENOENT when text has no such Deployment. */
int spec_deployment_rewrite(const char *text, const char *name, int64_t stable, int64_t canary, int percent,
                            char **out, mp_err *e);

/* "Pipeline", "NodePool", ... as written in `kind:`; "?" for an unknown value. */
const char *spec_kind_name(spec_kind kind);
/* The metadata of any object. */
const spec_meta *spec_object_meta(const spec_object *o);

typedef struct spec_file {
    char *path; /* as given */
    char *dir;  /* absolute directory of the file, for relative input paths */
    spec_object *objs;
    size_t nobjs;
} spec_file;

/* Parses and validates every document in the file at path. On success returns 0
 * and *out (caller frees with spec_file_free). When anything is wrong returns
 * MP_EINVAL, *out is NULL, and every problem found is in diags (caller frees);
 * an unreadable file is one diagnostic too. */
int spec_load_file(const char *path, spec_file **out, spec_diags *diags);
/* The same over text already in memory; name is used in diagnostics and dir
 * for relative paths. */
int spec_load_string(const char *name, const char *dir, const char *text, size_t len, spec_file **out,
                     spec_diags *diags);
void spec_file_free(spec_file *f);
/* Loads every expectations file the Pipelines of f name (validate: {expect: FILE},
 * relative to f->dir), adding each problem to diags (a file that cannot be read
 * at the place of its name). Returns how many files had problems. */
size_t spec_file_check_expectations(const spec_file *f, spec_diags *diags);

/* The first Pipeline in f, or NULL. */
const spec_pipeline *spec_file_pipeline(const spec_file *f);
/* The first object of kind named name (any namespace), or NULL. */
const spec_object *spec_file_find(const spec_file *f, spec_kind kind, const char *name);
/* The same for a namespaced kind (LocalQueue, Pipeline) in namespace ns. */
const spec_object *spec_file_find_ns(const spec_file *f, spec_kind kind, const char *ns, const char *name);
/* How many objects of kind f holds. */
size_t spec_file_count(const spec_file *f, spec_kind kind);

/* A node as the scheduler sees it: a Node, or one member of a NodePool. */
typedef struct spec_node_inst {
    char *name;              /* owned: the Node's name, or namePrefix + index */
    const spec_meta *meta;   /* borrowed from f: labels are the node's labels */
    const spec_resources *capacity;
    const spec_taint *taints;
    size_t ntaints;
    const spec_node_pool *pool; /* the NodePool it comes from, or NULL */
    int index;                  /* index in its pool; 0 for a Node */
} spec_node_inst;

/* Every node of f in file order, NodePools expanded: returns how many and the heap
 * array in *out (NULL when none); free with spec_node_insts_free. Borrowed fields
 * stay valid while f lives. Names are unique (loading checks it). */
size_t spec_file_nodes(const spec_file *f, spec_node_inst **out);
void spec_node_insts_free(spec_node_inst *v, size_t n);
/* The step named name, or NULL. */
const spec_step *spec_pipeline_step(const spec_pipeline *p, const char *name);
/* Index of the step named name, or -1. */
int spec_pipeline_step_index(const spec_pipeline *p, const char *name);

/* Fills order[0..nsteps) with step indexes so that each step comes after all its
 * dependencies, keeping file order among independent steps. Returns 0, or
 * MP_EINVAL (naming the steps of a cycle) — which validation already rules out. */
int spec_pipeline_topo_order(const spec_pipeline *p, size_t *order, mp_err *e);

/* Applies "-p name=value" overrides to a copy of the params: returns a heap array
 * of nparams spec_kv (caller frees with spec_kv_array_free). An override naming
 * an unknown param, or without '=', is MP_EINVAL saying which and listing the
 * known ones. */
int spec_resolve_params(const spec_pipeline *p, const char *const *overrides, size_t noverrides, spec_kv **out,
                        mp_err *e);
void spec_kv_array_free(spec_kv *kv, size_t n);

/* ---- templates ------------------------------------------------------------------ */
/* Called for each {{ ref }} with the trimmed ref ("params.lr", "steps.a.outputs.b",
 * "inputs.x", "run.id"); returns the value (borrowed) or NULL when unknown. */
typedef const char *(*spec_lookup_fn)(void *ud, const char *ref);

/* Renders tmpl, replacing every {{ ref }} through lookup. Returns 0 and a heap
 * string in *out (caller frees), or MP_EINVAL naming the unresolvable reference
 * or an unterminated "{{". */
int spec_render(const char *tmpl, spec_lookup_fn lookup, void *ud, char **out, mp_err *e);

/* Calls fn for each {{ ref }} in tmpl with the trimmed ref and its byte offset.
 * Returns 0, or MP_EINVAL at an unterminated "{{" (offset in e's message). */
typedef void (*spec_ref_fn)(void *ud, const char *ref, size_t offset);
int spec_template_refs(const char *tmpl, spec_ref_fn fn, void *ud, mp_err *e);

#endif
