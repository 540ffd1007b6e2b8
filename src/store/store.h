/* store.h — the durable record of everything mlplane does: runs, their steps,
 * events, metrics and the step cache.
 *
 * The store is an interface (a struct of function pointers, like SQLite's VFS) so
 * that callers never see SQL and a PostgreSQL implementation can be added beside
 * the SQLite one (sqlite.c) without touching them. Every state change is
 * committed before the caller acts on it or reports it: each method that writes
 * runs in its own transaction unless the caller opened one with begin(), in which
 * case it joins that transaction and commit() makes the whole group durable.
 *
 * Records returned by the store are owned by the caller and freed with the
 * matching *_free function (arrays with *_array_free).
 * Thread-safety: one store handle per thread; several processes may open the same
 * store at once (SQLite WAL + busy timeout). */
#ifndef MLPLANE_STORE_H
#define MLPLANE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/prom.h"
#include "util/util.h"

/* ---- states ---------------------------------------------------------------------- */
typedef enum store_run_state {
    RUN_PENDING = 0,
    RUN_RUNNING,
    RUN_SUCCEEDED,
    RUN_FAILED,
    RUN_CANCELLED,
} store_run_state;

typedef enum store_step_state {
    STEP_PENDING = 0,
    STEP_RUNNING,
    STEP_SUCCEEDED,
    STEP_FAILED,
    STEP_CANCELLED,
    STEP_SKIPPED,  /* an upstream step did not succeed; never ran */
    STEP_RETRYING, /* failed, waiting for its backoff before the next attempt */
    STEP_STOPPED,  /* a sweep trial ended early by the sweep's earlyStopping rule */
    STEP_CACHED,   /* cache hit: the outputs of run cached_from were reused; never ran */
} store_step_state;

const char *store_run_state_name(int st);  /* "Pending", "Running", ... */
const char *store_step_state_name(int st); /* ..., "Skipped", "Retrying", "Stopped", "Cached" */
/* Parses a state name (case-insensitive); returns -1 when unknown. */
int store_run_state_parse(const char *s);
int store_step_state_parse(const char *s);
bool store_run_state_final(int st);
bool store_step_state_final(int st);
/* Whether a run or step may move from one state to another. Moving back to
 * Pending/Running from a non-final state is how resume restarts interrupted work. */
bool store_run_transition_ok(int from, int to);
bool store_step_transition_ok(int from, int to);

/* ---- records ------------------------------------------------------------------ */
typedef struct store_run {
    char *id;          /* "<pipeline>-<5 random [a-z0-9]>" */
    char *pipeline;    /* metadata.name */
    char *namespace_;  /* metadata.namespace */
    int state;         /* store_run_state */
    char *spec_path;   /* absolute path of the spec file as run */
    char *spec_yaml;   /* the full text of the spec file as run (for resume) */
    char *params_json; /* resolved params: JSON object name -> string */
    char *labels_json; /* the pipeline's metadata.labels: JSON object name -> string; set at insert,
                          never updated; NULL for runs recorded before schema v11 (no labels) */
    int64_t created_ms, started_ms, ended_ms; /* 0 when not yet */
    int owner_pid;       /* the mlplane process executing it, 0 when none */
    int64_t owner_start; /* that process' start time (mp_proc_start_time) */
    int parallel;        /* max concurrent steps */
    bool cancel_requested;
    char *message; /* why it ended, may be NULL */
} store_run;

typedef struct store_step {
    char *run_id;
    char *name;
    int idx;   /* position in the run's execution order */
    int state; /* store_step_state */
    int attempts;  /* attempts started so far */
    int exit_code; /* of the last attempt; -1 when none; 128+N when killed by signal N */
    int64_t started_ms, ended_ms; /* of the last attempt */
    int64_t next_attempt_ms; /* when Retrying: wall time of the next attempt */
    int pid;  /* of the running attempt (process group leader), 0 when none */
    char *cache_key;   /* may be NULL */
    char *cached_from; /* run id whose outputs were reused on a cache hit, may be NULL */
    char *outputs_dir; /* absolute; where its outputs are (another run's on a cache hit) */
    char *log_path;    /* absolute */
    char *message;     /* why it is in its state, may be NULL */
    /* A sweep trial's param values, JSON object name -> string; for a sweep's
     * aggregate step, its best trial's once chosen; NULL for other steps. */
    char *params_json;
} store_step;

typedef struct store_event {
    int64_t id; /* increasing; set by the store */
    char *run_id;
    char *step; /* NULL for run-level events */
    int64_t time_ms;
    char *type;    /* "RunStarted", "StepRunning", "StepSucceeded", ... */
    char *message; /* may be NULL */
} store_event;

typedef struct store_metric {
    char *run_id;
    char *step;
    char *key;
    double value;
} store_metric;

typedef struct store_cache_entry {
    char *key; /* hex SHA-256 */
    char *run_id;
    char *step;
    char *outputs_dir;
    int64_t created_ms;
} store_cache_entry;

/* What a step read (an input) or wrote (an output), by content: the lineage of
 * the models it registers. Written by the engine when the step starts (inputs)
 * and when it succeeds or is a cache hit (outputs). */
typedef struct store_step_artifact {
    char *run_id, *step;
    bool output;     /* false: an input */
    char *name;      /* the input's or output's name in the spec */
    char *hash;      /* hex SHA-256 of a file's bytes or a folder's tree (store_artstore_digest) */
    char *path;      /* absolute path it was read from or written to */
    char *source;    /* an input's path as the spec writes it (a template, a URL); NULL for outputs */
    char *from_step; /* an input: the step of the same run whose output it is; NULL when from outside */
    int64_t time_ms; /* when recorded */
} store_step_artifact;
void store_step_artifact_array_free(store_step_artifact *v, size_t n);

/* A workload: what a running step holds (see workload_put), or what a ready step
 * waits for (pending). cpu/memory/gpu are one worker's requests times its
 * workers, held only when not pending. */
typedef struct store_workload {
    char *run_id;
    char *step;
    int64_t cpu_milli, memory_bytes, gpu;
    uint64_t gpu_devices; /* bit i: device i (in discovery order) */
    int owner_pid;
    int64_t owner_start;
    bool pending;         /* waiting for admission: holds nothing */
    int32_t priority;
    char *queue;          /* ClusterQueue, or NULL */
    int64_t created_ms;   /* first queued */
    int64_t started_ms;   /* admitted */
    int64_t limit_ms;     /* timeoutSeconds in ms; 0 = none */
    char *request;        /* JSON: one worker's request, constraints, workers (sched's format) */
    char *nodes;          /* admitted: each worker's node, comma-separated */
    char *flavors;        /* admitted: "RESOURCE=FLAVOR,..." */
    char *evict;          /* non-NULL: preemption asked, why */
    char *reason;         /* pending: why it waits */
} store_workload;

/* A scheduler object (PriorityClass, Node, ClusterQueue, ...) applied to the
 * store, and the source text it was applied from (shared by the objects of one
 * file). */
typedef struct store_object {
    char *kind, *namespace_, *name;
    int64_t source_id;
    int64_t applied_ms;
} store_object;

typedef struct store_source {
    int64_t id;
    char *path;
    char *text;
} store_source;

void store_object_array_free(store_object *v, size_t n);
void store_source_array_free(store_source *v, size_t n);

/* One value of an applied Secret as the store keeps it: sealed with
 * XChaCha20-Poly1305 (store_secret_seal), never in plain text. */
typedef struct store_secret_value {
    char *namespace_, *name, *key; /* the Secret and the key of its data */
    char *key_id;                  /* which encryption key sealed it (store_secret_key.id) */
    unsigned char *nonce;          /* crypto_aead_xchacha20poly1305_ietf_NPUBBYTES */
    size_t nonce_len;
    unsigned char *ct; /* ciphertext with its tag */
    size_t ct_len;
} store_secret_value;
void store_secret_value_free(store_secret_value *v);
void store_secret_value_array_free(store_secret_value *v, size_t n);

/* A Deployment's running state, as `mlplane server` (src/serve/fleet.c), which
 * supervises its process, last recorded it. */
typedef struct store_deploy_state {
    char *name;
    char *state;         /* "Starting", "Running", "CrashLoopBackOff", "Stopped" */
    char *message;       /* why it is in this state, or NULL */
    char *last_error;    /* the last failure (how the process ended, its last error line), kept after
                            it recovers; or NULL */
    int restarts;        /* restarts after an unasked exit since it was applied or the server started */
    int pid;             /* its current process, 0: none */
    int owner_pid;       /* the supervising mlplane server, with its start time (mp_proc_start_time): */
    int64_t owner_start; /* a record whose owner is gone is stale */
    int64_t started_ms;  /* wall clock: when its current process started; 0: none */
    int64_t updated_ms;  /* wall clock: when recorded (0 in a put: now) */
} store_deploy_state;

/* What happened to a Deployment's process, aggregated as Kubernetes does: the
 * same type and message seen again counts once more. */
typedef struct store_deploy_event {
    char *type;      /* "Started", "Ready", "Exited", "BackOff", "Stopped", "Updated", "Failed" */
    char *message;
    int count;       /* times seen */
    int64_t first_ms, last_ms; /* wall clock */
} store_deploy_event;

/* The most events kept per Deployment (the least recent go first). */
#define STORE_DEPLOY_EVENTS_MAX 50

/* One check of a Monitor (`kind: Monitor`): what it compared and what it found. */
typedef struct store_monitor_check {
    int64_t id;          /* set by monitor_check_add */
    char *monitor;
    int64_t time_ms;     /* wall clock */
    char *status;        /* "Drift", "NoDrift", "Waiting" (too few rows), "Failed" */
    char *message;       /* one line: what was found, or why it waits or failed */
    char *version;       /* the model version the current rows went to, or NULL */
    int64_t n_ref, n_cur; /* rows compared */
    int ncolumns, ndrifted;
    double share;        /* ndrifted / ncolumns */
    char *result_json;   /* the per-column results (src/monitor's JSON), or NULL */
} store_monitor_check;

/* A registered version's tag naming its training data (an absolute path), set by the
 * engine when the registering step's command reads a .csv input; a Monitor's default
 * reference. */
#define STORE_TAG_TRAINING_DATA "mlplane.trainingData"

/* The checks kept per Monitor (the oldest go first). */
#define STORE_MONITOR_CHECKS_MAX 100

void store_monitor_check_free(store_monitor_check *c);
void store_monitor_check_array_free(store_monitor_check *v, size_t n);
void store_deploy_state_free(store_deploy_state *s);
void store_deploy_event_array_free(store_deploy_event *v, size_t n);

void store_workload_array_free(store_workload *v, size_t n);
void store_run_free(store_run *r);
void store_step_free(store_step *s);
void store_event_free(store_event *ev);
void store_metric_free(store_metric *m);
void store_cache_entry_free(store_cache_entry *c);
void store_run_array_free(store_run *v, size_t n);
void store_step_array_free(store_step *v, size_t n);
void store_event_array_free(store_event *v, size_t n);
void store_metric_array_free(store_metric *v, size_t n);

/* ---- counts for GET /metrics (store_stats; sqlite/stats.c) --------------------------- */
/* One row of a GROUP BY count: two keys (the second may be unused) and how many. */
typedef struct store_count {
    char *key, *key2; /* heap; "" for a NULL column */
    int key_state;    /* the state column, where the count is by state */
    int64_t n;
} store_count;
/* Durations of one group as a histogram with util/prom.h's bounds. */
typedef struct store_duration_hist {
    char *key;                               /* heap */
    uint64_t counts[MP_PROM_NBUCKETS + 1];   /* per bucket, not cumulative */
    double sum_s;
} store_duration_hist;
/* What GET /metrics shows of the store, each array read by one aggregate query.
 * Owned by the caller: store_stats_free. */
typedef struct store_stats {
    store_count *runs;     /* key: pipeline, key_state: store_run_state */
    size_t nruns;
    store_count *steps;    /* key: pipeline, key_state: store_step_state */
    size_t nsteps;
    store_duration_hist *step_durations; /* key: pipeline; steps that ran and ended */
    size_t nstep_durations;
    store_count *versions; /* key: registered model version's stage ("None", "Staging", ...) */
    size_t nversions;
    store_count *validation_failures; /* key: pipeline; its DataValidationFailed events */
    size_t nvalidation_failures;
} store_stats;
void store_stats_free(store_stats *s);

/* Store latency: with store_profile_enable() called before a connection is
 * opened, every SQL statement that connection runs is timed (SQLite's profile
 * callback) into a process-wide histogram by its kind, store_profile_ops[i]:
 * "select", "insert", "update", "delete", "begin", "commit", "rollback", "other". */
#define STORE_PROFILE_OPS 8
extern const char *const store_profile_ops[STORE_PROFILE_OPS];
void store_profile_enable(void);
/* The histogram of kind i (process-wide, lives until exit). */
const mp_prom_hist *store_profile_hist(int i);

/* ---- API tokens and users (sqlite/tokens.c) -------------------------------------
 * A token's text is "mlp_<id>_<secret>": id 12 lowercase hex digits (how the row is
 * found), secret 64 (32 random bytes). Only the BLAKE2b hash of the secret is kept.
 * A user's password is kept only as its Argon2id hash (crypto_pwhash_str). */
#define STORE_TOKEN_ID_LEN 12
#define STORE_TOKEN_SECRET_LEN 64
typedef struct store_token {
    char *id;          /* 12 hex digits */
    char *user;        /* who the token acts as */
    char *namespace_;  /* the namespace it acts in by default */
    char *groups;      /* comma-separated group names, "" when none */
    char *description; /* may be "" */
    int64_t created_ms;
    int64_t expires_ms;   /* 0: never */
    int64_t last_used_ms; /* 0: never used (updated at most once a minute) */
    int64_t revoked_ms;   /* 0: not revoked */
} store_token;
void store_token_free(store_token *t);
void store_token_array_free(store_token *v, size_t n);

typedef struct store_user {
    char *name;
    bool admin;        /* cluster-admin (MLflow's is_admin) */
    bool has_password; /* a password is set (Basic auth possible) */
    int64_t created_ms, updated_ms;
} store_user;
void store_user_free(store_user *u);
void store_user_array_free(store_user *v, size_t n);

/* ---- the interface ---------------------------------------------------------------- */
typedef struct store store;
typedef struct store_track_methods store_track_methods;
typedef struct store_registry_methods store_registry_methods;

typedef struct store_methods {
    const char *name; /* "sqlite" */
    void (*close)(store *s);

    /* Groups the following writes into one transaction (write lock taken now). */
    int (*begin)(store *s, mp_err *e);
    int (*commit)(store *s, mp_err *e);
    void (*rollback)(store *s);

    int (*run_insert)(store *s, const store_run *r, mp_err *e);
    /* id may be a unique prefix of a run id. MP_ENOENT when none, MP_EINVAL when
     * ambiguous (the message lists candidates). */
    int (*run_get)(store *s, const char *id, store_run *out, mp_err *e);
    /* Newest first; limit 0 means all. */
    int (*run_list)(store *s, size_t limit, store_run **out, size_t *n, mp_err *e);
    /* Writes state, started/ended, owner, cancel_requested, message, parallel. */
    int (*run_update)(store *s, const store_run *r, mp_err *e);

    int (*step_insert)(store *s, const store_step *st, mp_err *e);
    int (*step_get)(store *s, const char *run_id, const char *name, store_step *out, mp_err *e);
    /* In idx order. */
    int (*step_list)(store *s, const char *run_id, store_step **out, size_t *n, mp_err *e);
    /* Writes every mutable field of the step (matched by run_id + name). */
    int (*step_update)(store *s, const store_step *st, mp_err *e);

    /* Sets ev->id. time_ms 0 means now. */
    int (*event_append)(store *s, store_event *ev, mp_err *e);
    /* Events of a run with id > after_id, oldest first. */
    int (*event_list)(store *s, const char *run_id, int64_t after_id, store_event **out, size_t *n, mp_err *e);

    /* Insert or replace. */
    int (*metric_put)(store *s, const store_metric *m, mp_err *e);
    int (*metric_list)(store *s, const char *run_id, store_metric **out, size_t *n, mp_err *e);

    /* MP_ENOENT when the key is unknown. */
    int (*cache_get)(store *s, const char *key, store_cache_entry *out, mp_err *e);
    /* Insert or replace. */
    int (*cache_put)(store *s, const store_cache_entry *c, mp_err *e);
    int (*cache_delete)(store *s, const char *key, mp_err *e);

    /* A number that changes whenever another connection commits (PRAGMA
     * data_version); -1 on error. */
    int64_t (*data_version)(store *s);
    /* Whether this handle has a transaction open (begin() not yet committed or
     * rolled back): what a function that must run inside the caller's
     * transaction asserts. */
    bool (*in_tx)(store *s);
    /* Removes run id (a full id, not a prefix) and everything recorded under it:
     * steps, events, metrics, its step cache entries and workload rows, and the
     * MLflow run of the same id (metrics, params, tags, inputs), all at once (in
     * the caller's transaction when one is open). Registered model versions are
     * kept. Files are the caller's. MP_ENOENT when there is no such run. */
    int (*run_delete)(store *s, const char *id, mp_err *e);
    /* Fills *out (zeroed first) with the counts of store_stats, in one read transaction. */
    int (*stats)(store *s, store_stats *out, mp_err *e);

    /* Lineage (sqlite/lineage.c, the step_artifacts table): what a step read and wrote, by content.
     * artifact_put inserts or replaces a->(run_id, step, output, name), in the caller's
     * transaction when one is open. artifact_list reads the rows of run_id (hash NULL),
     * or of every run whose artifact's hash starts with hash (run_id NULL; at least 8
     * hex digits), by run, step, inputs first (heap; store_step_artifact_array_free). */
    int (*artifact_put)(store *s, const store_step_artifact *a, mp_err *e);
    int (*artifact_list)(store *s, const char *run_id, const char *hash, store_step_artifact **out, size_t *n,
                         mp_err *e);
} store_methods;

/* Workloads: what each ready or running step of every run on this machine asks
 * for or has been given (pending or admitted), so that several mlplane processes
 * share one view of capacity, and the scheduler lease. A workload names its
 * owner process; workloads of a dead owner are ignored by the scheduler. */
typedef struct store_workload_methods {
    int (*workload_put)(store *s, const store_workload *w, mp_err *e); /* insert or replace */
    int (*workload_delete)(store *s, const char *run_id, const char *step, mp_err *e); /* step NULL: all of the run */
    int (*workload_list)(store *s, store_workload **out, size_t *n, mp_err *e);
    /* Records, once, that step's workload is asked to yield (why); no-op when it is
     * already asked or gone. Its owner polls workload_list_run and stops it. */
    int (*workload_evict)(store *s, const char *run_id, const char *step, const char *why, mp_err *e);
    /* The workloads of one run (indexed; what an engine polls). */
    int (*workload_list_run)(store *s, const char *run_id, store_workload **out, size_t *n, mp_err *e);
    /* The scheduler lease: which process decides admission for every run. In the
     * caller's transaction (asserted): takes it for (pid, start) when free,
     * already ours, or held by a process alive() says is gone; *held says
     * whether it is ours now. */
    int (*lease_take)(store *s, int pid, int64_t start, int64_t now_ms, bool (*alive)(int pid, int64_t start),
                      bool *held, mp_err *e);
    /* Gives the lease up if (pid, start) holds it. */
    int (*lease_release)(store *s, int pid, int64_t start, mp_err *e);
} store_workload_methods;

/* Applied objects (`mlplane apply`): scheduler objects and Deployments, with
 * what belongs to a Deployment: its rollout (the canary's percent) and the
 * running state and events mlplane server records for it. */
typedef struct store_object_methods {
    /* object_apply stores text (read from path) as one source and points each of
     * objs[0..n) (kind, namespace_, name) at it, replacing what those names
     * pointed at; sources no object points at any more are deleted. In the
     * caller's transaction when one is open. */
    int (*object_apply)(store *s, const char *path, const char *text, const store_object *objs, size_t n,
                        mp_err *e);
    /* MP_ENOENT when there is no such object. */
    int (*object_delete)(store *s, const char *kind, const char *namespace_, const char *name, mp_err *e);
    /* Every object, by kind then namespace then name (heap; free with store_object_array_free). */
    int (*object_list)(store *s, store_object **out, size_t *n, mp_err *e);
    /* Every source some object points at, by id (heap; free with store_source_array_free). */
    int (*source_list)(store *s, store_source **out, size_t *n, mp_err *e);

    /* A Deployment's traffic split as `mlplane rollout` set it: the canary's
     * percent, over the spec's. *found is false when none is recorded. */
    int (*rollout_get)(store *s, const char *name, int *percent, bool *found, mp_err *e);
    /* Records percent (0..100) for the deployment name; a negative percent
     * forgets it (the spec's percent holds again: a Deployment applied anew). */
    int (*rollout_set)(store *s, const char *name, int percent, mp_err *e);
    /* A Deployment's running state (insert or replace by ds->name). */
    int (*deploy_state_put)(store *s, const store_deploy_state *ds, mp_err *e);
    /* *found is false when none is recorded; else *out (free with store_deploy_state_free). */
    int (*deploy_state_get)(store *s, const char *name, store_deploy_state *out, bool *found, mp_err *e);
    /* Records an event of deployment name now: counted again when one of the
     * same type and message is kept; at most STORE_DEPLOY_EVENTS_MAX kept. */
    int (*deploy_event_add)(store *s, const char *name, const char *type, const char *message, mp_err *e);
    /* name's events, least recently seen first (heap; free with store_deploy_event_array_free). */
    int (*deploy_event_list)(store *s, const char *name, store_deploy_event **out, size_t *n, mp_err *e);
    /* Forgets name's state and events (its Deployment was deleted). */
    int (*deploy_state_clear)(store *s, const char *name, mp_err *e);

    /* Monitors: a check recorded (c->id set; at most STORE_MONITOR_CHECKS_MAX kept per
     * monitor), c->monitor's checks newest first (at most limit; 0: all kept; heap; free
     * with store_monitor_check_array_free), its events (as a Deployment's, aggregated;
     * a Monitor and a Deployment of the same name keep theirs apart), the state its
     * actions keep between checks (a JSON object's text, or *json NULL when none; heap),
     * and all of these forgotten (the Monitor was deleted). */
    int (*monitor_check_add)(store *s, store_monitor_check *c, mp_err *e);
    int (*monitor_check_list)(store *s, const char *monitor, int limit, store_monitor_check **out, size_t *n,
                              mp_err *e);
    int (*monitor_event_add)(store *s, const char *monitor, const char *type, const char *message, mp_err *e);
    int (*monitor_event_list)(store *s, const char *monitor, store_deploy_event **out, size_t *n, mp_err *e);
    int (*monitor_state_get)(store *s, const char *monitor, char **json, mp_err *e);
    int (*monitor_state_put)(store *s, const char *monitor, const char *json, mp_err *e);
    int (*monitor_clear)(store *s, const char *monitor, mp_err *e);

    /* Secrets' sealed values: one inserted or replaced (by namespace, name, key);
     * those of one Secret by key, or of every Secret (namespace_ and name NULL) by
     * namespace, name and key (heap; free with store_secret_value_array_free); all of
     * one Secret forgotten. In the caller's transaction when one is open. */
    int (*secret_put)(store *s, const store_secret_value *v, mp_err *e);
    int (*secret_list)(store *s, const char *namespace_, const char *name, store_secret_value **out, size_t *n,
                       mp_err *e);
    int (*secret_clear)(store *s, const char *namespace_, const char *name, mp_err *e);
} store_object_methods;

/* API tokens and users. Errors: MP_ENOENT (no such token or user), MP_EEXIST (a
 * user of that name exists), MP_EPERM (credentials that do not verify, with why:
 * unknown, wrong, revoked, or expired; the message never contains the secret). */
typedef struct store_auth_methods {
    /* Creates a token from in's user, namespace_ (NULL: "default"), groups,
     * description and expires_ms; *token is its full text (heap; shown once, never
     * stored), out (may be NULL) the row as stored. */
    int (*token_create)(store *s, const store_token *in, char **token, store_token *out, mp_err *e);
    /* The row of the token whose full text is token, when its secret matches and it
     * is neither revoked nor expired at now_ms (else MP_EPERM saying which);
     * records now_ms as its last use when the recorded one is a minute old. */
    int (*token_verify)(store *s, const char *token, int64_t now_ms, store_token *out, mp_err *e);
    int (*token_get)(store *s, const char *id, store_token *out, mp_err *e);
    /* Every token, newest first (heap; free with store_token_array_free). */
    int (*token_list)(store *s, store_token **out, size_t *n, mp_err *e);
    /* Marks it revoked now (again: no change). */
    int (*token_revoke)(store *s, const char *id, mp_err *e);
    /* Creates user name (password NULL: none, Basic auth impossible until set). */
    int (*user_create)(store *s, const char *name, const char *password, bool admin, mp_err *e);
    int (*user_set_password)(store *s, const char *name, const char *password, mp_err *e);
    int (*user_set_admin)(store *s, const char *name, bool admin, mp_err *e);
    int (*user_get)(store *s, const char *name, store_user *out, mp_err *e);
    int (*user_list)(store *s, store_user **out, size_t *n, mp_err *e);
    int (*user_delete)(store *s, const char *name, mp_err *e);
    /* The user when password is theirs (Argon2id: slow by design), else MP_EPERM. */
    int (*user_verify)(store *s, const char *name, const char *password, store_user *out, mp_err *e);
} store_auth_methods;

struct store {
    const store_methods *m;            /* transactions; runs, steps, events, metrics, cache */
    const store_workload_methods *w;   /* workloads and the scheduler lease */
    const store_object_methods *o;     /* applied objects, Deployments and their rollouts */
    const store_track_methods *t;      /* MLflow tracking: experiments, runs, metrics, params, tags */
    const store_registry_methods *r;   /* model registry */
    const store_auth_methods *a;       /* API tokens and users */
};

/* ---- MLflow tracking (implemented by sqlite/track.c, sqlite/track_search.c) -------------
 * Experiments, runs, metrics, params and tags as MLflow models them. Ids are
 * strings: experiment ids are decimal integers ("0" is the Default experiment,
 * created by the migration), run ids 32 lowercase hex digits for runs created through
 * the API, the pipeline run's id for pipeline runs. Times are ms since
 * the epoch. Errors: MP_ENOENT (no such experiment/run/tag), MP_EEXIST (name
 * taken), MP_ESTATE (the run or experiment is deleted), MP_EINVAL (e.g. a param
 * logged again with another value); their messages are MLflow's, fit for a client.
 *
 * What the pipeline engine calls to make a pipeline run an MLflow run:
 *   experiment_get_or_create(name)      -> experiment id
 *   run_create(run with run_id, run_name, experiment_id, start_time, status)
 *   log_batch(run_id, params...)        params set (immutable once logged)
 *   log_batch(run_id, metrics...)       metric log (history + latest value)
 *   run_update(run_id, "FINISHED"/"FAILED"/"KILLED", end_time, NULL)
 * Each is one transaction (or joins the caller's begin()). */
typedef struct store_kv {
    char *key;
    char *value;
} store_kv;

typedef struct store_track_metric {
    char *key;
    double value; /* may be NaN or +-Inf */
    int64_t timestamp;
    int64_t step;
} store_track_metric;

typedef struct store_experiment {
    char *experiment_id;
    char *name;
    char *artifact_location;
    char *lifecycle_stage; /* "active" or "deleted" */
    int64_t creation_time, last_update_time;
    store_kv *tags;
    size_t ntags;
    char *namespace_; /* the namespace it belongs to ("default" unless set) */
} store_experiment;

/* One input of a run: a dataset and the tags of its use (e.g. mlflow.data.context). */
typedef struct store_dataset_input {
    char *name, *digest, *source_type, *source; /* required */
    char *schema, *profile;                     /* may be NULL */
    store_kv *tags;
    size_t ntags;
} store_dataset_input;

typedef struct store_track_run {
    char *run_id;
    char *run_name;
    char *experiment_id;
    char *user_id;         /* may be NULL */
    char *status;          /* "RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED" */
    int64_t start_time;    /* 0 when unknown */
    int64_t end_time;      /* -1 while not ended */
    char *artifact_uri;    /* run_create: NULL = <experiment artifact_location>/<run_id>/artifacts */
    char *lifecycle_stage; /* "active" or "deleted" */
    /* data: latest value of each metric, params, tags (run_create inserts tags) */
    store_track_metric *metrics;
    size_t nmetrics;
    store_kv *params;
    size_t nparams;
    store_kv *tags;
    size_t ntags;
    store_dataset_input *inputs;
    size_t ninputs;
} store_track_run;

/* A parsed search filter: conditions ANDed together (built by track_filter_parse). */
typedef enum store_track_entity {
    STORE_TRACK_METRIC,
    STORE_TRACK_PARAM,
    STORE_TRACK_TAG,
    STORE_TRACK_ATTR, /* key is the attribute's column: run_uuid, name, status, start_time, end_time,
                       * artifact_uri, user_id (runs); name, experiment_id, creation_time,
                       * last_update_time (experiments) */
} store_track_entity;

typedef enum store_track_op {
    STORE_OP_EQ, STORE_OP_NE, STORE_OP_LT, STORE_OP_LE, STORE_OP_GT, STORE_OP_GE,
    STORE_OP_LIKE, STORE_OP_ILIKE, STORE_OP_IN, STORE_OP_NOT_IN,
} store_track_op;

typedef struct store_track_cond {
    store_track_entity entity;
    char *key;
    store_track_op op;
    bool is_num;  /* the value is num (metrics, numeric attributes) else str / list */
    double num;
    char *str;    /* for all ops but IN / NOT IN */
    char **list;  /* IN / NOT IN */
    size_t nlist;
} store_track_cond;

typedef struct store_track_filter {
    store_track_cond *conds;
    size_t n;
} store_track_filter;

typedef struct store_track_order {
    store_track_entity entity;
    char *key; /* as in store_track_cond */
    bool asc;
} store_track_order;

enum { STORE_VIEW_ACTIVE_ONLY = 1, STORE_VIEW_DELETED_ONLY = 2, STORE_VIEW_ALL = 3 };

/* What runs/search and experiments/search ask for. */
typedef struct store_track_query {
    const char *const *experiment_ids; /* runs only */
    size_t nexperiment_ids;
    int view; /* STORE_VIEW_* */
    const store_track_filter *filter; /* may be NULL */
    const store_track_order *order;
    size_t norder;
    int64_t offset, limit;
} store_track_query;

void store_kv_array_free(store_kv *v, size_t n);
void store_experiment_free(store_experiment *x);
void store_experiment_array_free(store_experiment *v, size_t n);
void store_dataset_input_free(store_dataset_input *d);
void store_track_run_free(store_track_run *r);
void store_track_run_array_free(store_track_run *v, size_t n);
void store_track_metric_array_free(store_track_metric *v, size_t n);
void store_track_filter_free(store_track_filter *f);
void store_track_order_array_free(store_track_order *v, size_t n);

struct store_track_methods {
    /* artifact_location NULL means mlflow-artifacts:/<id>. Sets *id (heap). MP_EEXIST
     * when the name is taken (also by a deleted experiment). */
    int (*experiment_create)(store *s, const char *name, const char *artifact_location, const store_kv *tags,
                             size_t ntags, char **id, mp_err *e);
    /* Returns the id of the experiment named name, creating it when missing. */
    int (*experiment_get_or_create)(store *s, const char *name, char **id, mp_err *e);
    int (*experiment_get)(store *s, const char *id, store_experiment *out, mp_err *e);
    int (*experiment_get_by_name)(store *s, const char *name, store_experiment *out, mp_err *e);
    int (*experiment_search)(store *s, const store_track_query *q, store_experiment **out, size_t *n, mp_err *e);
    /* MP_ESTATE when the experiment is deleted. */
    int (*experiment_rename)(store *s, const char *id, const char *new_name, mp_err *e);
    /* stage "deleted" or "active"; the experiment's runs follow it. */
    int (*experiment_set_lifecycle)(store *s, const char *id, const char *stage, mp_err *e);
    int (*experiment_set_tag)(store *s, const char *id, const char *key, const char *value, mp_err *e);

    /* Inserts r (run_id, run_name, experiment_id required; status NULL = RUNNING) and
     * its tags. MP_ENOENT for an unknown experiment, MP_ESTATE for a deleted one. */
    int (*run_create)(store *s, const store_track_run *r, mp_err *e);
    /* The run with its data and inputs. */
    int (*run_get)(store *s, const char *run_id, store_track_run *out, mp_err *e);
    /* Updates what is given: status (NULL keeps), end_time (< 0 keeps), run_name
     * (NULL keeps; also sets the mlflow.runName tag). */
    int (*run_update)(store *s, const char *run_id, const char *status, int64_t end_time, const char *run_name,
                      mp_err *e);
    int (*run_set_lifecycle)(store *s, const char *run_id, const char *stage, mp_err *e);
    int (*run_search)(store *s, const store_track_query *q, store_track_run **out, size_t *n, mp_err *e);

    /* Logs metrics, params and tags of an active run in one transaction; nothing
     * is written when any of them fails (e.g. a param already logged with another
     * value: MP_EINVAL). Metrics append to the history and keep the latest value
     * per key; an identical metric point is ignored. A tag mlflow.runName renames the run. */
    int (*log_batch)(store *s, const char *run_id, const store_track_metric *metrics, size_t nmetrics,
                     const store_kv *params, size_t nparams, const store_kv *tags, size_t ntags, mp_err *e);
    /* MP_ENOENT when the run has no such tag. */
    int (*tag_delete)(store *s, const char *run_id, const char *key, mp_err *e);
    /* The history of one metric ordered by timestamp, step, value; limit < 0 = all. */
    int (*metric_history)(store *s, const char *run_id, const char *key, int64_t offset, int64_t limit,
                          store_track_metric **out, size_t *n, mp_err *e);
    /* Records dataset inputs of an active run (a dataset is keyed by experiment,
     * name and digest; logging one again adds nothing). */
    int (*log_inputs)(store *s, const char *run_id, const store_dataset_input *in, size_t n, mp_err *e);

    /* Namespaces (what authorization checks): an experiment's, a run's (its
     * experiment's) into ns (n bytes, truncated), MP_ENOENT when there is no such
     * experiment/run; setting one (experiments start in "default"). */
    int (*experiment_namespace)(store *s, const char *id, char *ns, size_t n, mp_err *e);
    int (*experiment_set_namespace)(store *s, const char *id, const char *ns, mp_err *e);
    int (*run_namespace)(store *s, const char *run_id, char *ns, size_t n, mp_err *e);
};

/* ---- model registry (implemented by sqlite/registry.c, sqlite/registry_search.c) ---------
 * Registered models and their numbered versions, as MLflow's model registry models
 * them. Version numbers are allocated per model from a counter kept on the model
 * row (1, 2, 3, ...), under the write lock, so concurrent creates never share a
 * number and a deleted version's number is never reused while the model exists.
 * Stages are MLflow's canonical names: "None", "Staging", "Production", "Archived".
 * Times are ms since the epoch.
 * Errors: MP_ENOENT (no such model/version), MP_EEXIST (name taken), MP_EINVAL;
 * their messages are MLflow's, fit for a client. Each write method is one
 * transaction (or a savepoint in the caller's begin()): it fails whole.
 *
 * What the pipeline engine calls to register a step's output:
 *   r->version_register(name, source, run_id) -> version number
 * which creates the registered model when missing. */
typedef struct store_model_version {
    char *name;
    int64_t version;
    int64_t creation_time, last_updated_time;
    char *description;    /* may be NULL (not shown) */
    char *user_id;        /* may be NULL */
    char *current_stage;  /* "None", "Staging", "Production", "Archived" */
    char *source;
    char *run_id;         /* may be NULL */
    char *run_link;       /* may be NULL */
    char *status;         /* "READY" */
    char *status_message; /* may be NULL */
    store_kv *tags;       /* sorted by key */
    size_t ntags;
    char **aliases; /* aliases pointing at this version, sorted; filled where MLflow shows them */
    size_t naliases;
} store_model_version;

typedef struct store_registered_model {
    char *name;
    int64_t creation_time, last_updated_time;
    char *description; /* may be NULL */
    store_model_version *latest; /* latest version of each stage (without aliases) */
    size_t nlatest;
    store_kv *tags;    /* sorted by key */
    size_t ntags;
    store_kv *aliases; /* key: alias, value: version number (decimal); sorted by alias */
    size_t naliases;
    char *namespace_; /* the namespace it belongs to ("default" unless set) */
} store_registered_model;

/* What a registry search asks for: conditions ANDed, then order, then a page. */
typedef enum store_reg_field {
    STORE_REG_NAME,
    STORE_REG_VERSION, /* model versions: numeric */
    STORE_REG_RUN_ID,  /* model versions */
    STORE_REG_SOURCE,  /* model versions */
    STORE_REG_TAG,
    STORE_REG_CREATED, /* order only */
    STORE_REG_UPDATED, /* order only */
} store_reg_field;

typedef struct store_reg_cond {
    store_reg_field field;
    const char *tag_key;       /* STORE_REG_TAG */
    store_track_op op;         /* EQ NE LIKE ILIKE on text; EQ NE LT LE GT GE on VERSION; IN on RUN_ID */
    const char *str;           /* text value */
    int64_t num;               /* STORE_REG_VERSION */
    const char *const *list;   /* STORE_OP_IN */
    size_t nlist;
} store_reg_cond;

typedef struct store_reg_order {
    store_reg_field field; /* NAME, VERSION, CREATED, UPDATED */
    bool asc;
} store_reg_order;

typedef struct store_reg_query {
    const store_reg_cond *conds;
    size_t nconds;
    const store_reg_order *order; /* ties: name ASC, then version DESC */
    size_t norder;
    int64_t offset, limit;        /* limit < 0: all */
} store_reg_query;

void store_model_version_free(store_model_version *v);
void store_model_version_array_free(store_model_version *v, size_t n);
void store_registered_model_free(store_registered_model *m);
void store_registered_model_array_free(store_registered_model *v, size_t n);

struct store_registry_methods {
    /* description may be NULL. MP_EEXIST when the name is taken. out may be NULL. */
    int (*model_create)(store *s, const char *name, const char *description, const store_kv *tags, size_t ntags,
                        store_registered_model *out, mp_err *e);
    /* The model with its latest versions, tags and aliases. */
    int (*model_get)(store *s, const char *name, store_registered_model *out, mp_err *e);
    /* Renames the model and its versions. MP_EEXIST when new_name is taken. */
    int (*model_rename)(store *s, const char *name, const char *new_name, store_registered_model *out, mp_err *e);
    int (*model_update)(store *s, const char *name, const char *description, store_registered_model *out,
                        mp_err *e);
    /* Deletes the model with its versions, tags and aliases. */
    int (*model_delete)(store *s, const char *name, mp_err *e);
    int (*model_search)(store *s, const store_reg_query *q, store_registered_model **out, size_t *n, mp_err *e);
    int (*model_set_tag)(store *s, const char *name, const char *key, const char *value, mp_err *e);
    /* Deleting a tag the model does not have is not an error. */
    int (*model_delete_tag)(store *s, const char *name, const char *key, mp_err *e);

    /* Points alias at an existing version (replacing its previous target). */
    int (*alias_set)(store *s, const char *name, const char *alias, int64_t version, mp_err *e);
    /* MP_ENOENT for an unknown model; an unknown alias is not an error. */
    int (*alias_delete)(store *s, const char *name, const char *alias, mp_err *e);
    /* MP_EINVAL (MLflow's choice) when the alias is not set. */
    int (*alias_get)(store *s, const char *name, const char *alias, store_model_version *out, mp_err *e);

    /* Creates the next version of an existing model from in's source, run_id,
     * run_link, description and tags; stage "None", status "READY". */
    int (*version_create)(store *s, const store_model_version *in, store_model_version *out, mp_err *e);
    /* For the pipeline engine: registers source (run_id may be NULL) as the next
     * version of model name, creating the model when missing; sets *version. */
    int (*version_register)(store *s, const char *name, const char *source, const char *run_id, int64_t *version,
                            mp_err *e);
    int (*version_get)(store *s, const char *name, int64_t version, store_model_version *out, mp_err *e);
    /* description NULL clears it (MLflow's update without a description). */
    int (*version_update)(store *s, const char *name, int64_t version, const char *description,
                          store_model_version *out, mp_err *e);
    /* Deletes the version, its tags and the aliases pointing at it. */
    int (*version_delete)(store *s, const char *name, int64_t version, mp_err *e);
    /* stage is canonical; with archive_existing, the model's other versions in
     * that stage move to "Archived" in the same transaction. */
    int (*version_transition)(store *s, const char *name, int64_t version, const char *stage, bool archive_existing,
                              store_model_version *out, mp_err *e);
    /* The latest version of each of the nstages canonical stages (all stages when
     * nstages is 0), with aliases; ordered as MLflow orders them. */
    int (*version_latest)(store *s, const char *name, const char *const *stages, size_t nstages,
                          store_model_version **out, size_t *n, mp_err *e);
    /* Model versions without aliases, as MLflow's search returns them. */
    int (*version_search)(store *s, const store_reg_query *q, store_model_version **out, size_t *n, mp_err *e);
    int (*version_set_tag)(store *s, const char *name, int64_t version, const char *key, const char *value,
                           mp_err *e);
    int (*version_delete_tag)(store *s, const char *name, int64_t version, const char *key, mp_err *e);
    /* A registered model's namespace into ns (n bytes), MP_ENOENT when there is no
     * such model; setting it (models start in "default"). */
    int (*model_namespace)(store *s, const char *name, char *ns, size_t n, mp_err *e);
    int (*model_set_namespace)(store *s, const char *name, const char *ns, mp_err *e);
};

/* The log of the step whose outputs a Cached step reused (heap path in *log_path):
 * the step of run st->cached_from with the same cache key (else the same name).
 * MP_ENOENT, with a message saying so, when that run (or step) was deleted. */
int store_cached_log(store *s, const store_step *st, char **log_path, mp_err *e);

/* The current schema version that migrations bring a store to. */
int store_schema_version(void);

/* Opens (creating when missing) the SQLite store at path in WAL mode and runs
 * pending migrations. *out is freed with (*out)->m->close(*out). */
int store_sqlite_open(const char *path, store **out, mp_err *e);
/* The schema version of an open SQLite store (for tests). */
int store_sqlite_user_version(store *s);

/* The path of the mlplane home (as store_home_resolve finds it), heap; nothing
 * is created: it may not exist. */
int store_home_path(const char *flag, char **out, mp_err *e);
/* The mlplane home: flag value if non-NULL, else $MLPLANE_HOME, else ~/.mlplane.
 * Returns a heap string (caller frees), the directory created when missing. */
int store_home_resolve(const char *flag, char **out, mp_err *e);
/* Opens the default store of a home: HOME/mlplane.db. */
int store_open_home(const char *home, store **out, mp_err *e);

/* ---- the registry's artifact store (artstore.c) --------------------------------------
 * HOME/artifacts/sha256/HE/HEX/NAME: a registered version's file or directory tree,
 * content-addressed, kept while a version's source names it. */
/* Stores the file or the tree at path; *uri: mlflow-artifacts:/sha256/HE/HEX/NAME
 * (heap). Call it inside the write transaction (begin()) that records the version
 * naming it, so that no collection runs in between. */
int store_artstore_put(const char *home, const char *path, char **uri, mp_err *e);
/* After a deletion of versions is committed: removes the blobs their sources
 * named that no remaining version's source names (other sources ignored). Opens
 * its own transaction (the write lock, nothing written). removed may be NULL. */
int store_artstore_release(store *s, const char *home, const char *const *sources, size_t n, size_t *removed,
                           mp_err *e);
/* The content hash of the file or tree at path, as the artifact store names its
 * blobs: a file's SHA-256 (what sha256sum prints), a folder's mp_hash_path. */
int store_artstore_digest(const char *path, char hex[65], mp_err *e);
/* Removes every blob no version's source names (orphans of a crash between a
 * deletion and its release, of a failed registration) and interrupted copies. */
int store_artstore_sweep(store *s, const char *home, size_t *removed, mp_err *e);

/* ---- Secrets at rest (secrets.c) ------------------------------------------------------
 * A Secret's values are sealed with libsodium's XChaCha20-Poly1305 (IETF): a random
 * nonce per value, the value's identity "NAMESPACE/NAME/KEY" as additional data (a
 * sealed value copied onto another key or Secret does not open), and the id of the
 * key that sealed it kept beside it (a wrong key is said, not guessed at). The key
 * (32 bytes) is never stored in the home: it comes from a key file
 * (MLPLANE_SECRET_KEY_FILE, which --secret-key-file sets) or from MLPLANE_SECRET_KEY,
 * written as 64 hex digits or base64 (a key file may also hold the 32 raw bytes). */
#define STORE_SECRET_KEY_BYTES 32
typedef struct store_secret_key {
    unsigned char k[STORE_SECRET_KEY_BYTES];
    char id[17]; /* 16 hex digits of a BLAKE2b hash of the key: which key, not the key */
} store_secret_key;

/* A value in plain text, as a step receives it (heap; store_secret_plain_array_free zeroes it). */
typedef struct store_secret_plain {
    char *key;
    unsigned char *value; /* len bytes, followed by a NUL not counted */
    size_t len;
} store_secret_plain;
void store_secret_plain_array_free(store_secret_plain *v, size_t n);

/* The key from file (NULL: $MLPLANE_SECRET_KEY_FILE, else $MLPLANE_SECRET_KEY).
 * MP_ENOENT when none is given, saying how to give one; MP_EINVAL for a key that
 * is not 32 bytes, an unreadable file or one other users may read. */
int store_secret_key_load(const char *file, store_secret_key *out, mp_err *e);
/* A key from its text (hex, base64, or len == 32 raw bytes); what names it in errors. */
int store_secret_key_parse(const char *text, size_t len, const char *what, store_secret_key *out, mp_err *e);
/* Seals plain[0..len) as key `key` of Secret ns/name into *out (heap; free with
 * store_secret_value_free). */
int store_secret_seal(const store_secret_key *k, const char *ns, const char *name, const char *key,
                      const unsigned char *plain, size_t len, store_secret_value *out, mp_err *e);
/* Opens v into *plain (heap, NUL-terminated, len bytes; free with
 * sodium_free-like zeroing: store_secret_plain_array_free on a one-element array
 * or store_secret_wipe). MP_EINVAL when v was sealed with another key (named by
 * its id) or was altered. */
int store_secret_open(const store_secret_key *k, const store_secret_value *v, unsigned char **plain, size_t *len,
                      mp_err *e);
/* Zeroes and frees p[0..len). */
void store_secret_wipe(unsigned char *p, size_t len);
/* Zeroes a key held on the stack. */
void store_secret_wipe_key(store_secret_key *k);
/* Replaces every value of Secret ns/name with items[0..n), sealed with k. In the
 * caller's transaction when one is open. */
int store_secrets_put(store *s, const store_secret_key *k, const char *ns, const char *name,
                      const store_secret_plain *items, size_t n, mp_err *e);
/* The values of Secret ns/name opened with k, by key (heap; free with
 * store_secret_plain_array_free); *n 0 when it has none. */
int store_secrets_get(store *s, const store_secret_key *k, const char *ns, const char *name,
                      store_secret_plain **out, size_t *n, mp_err *e);
/* Re-seals every value of every Secret from old to new in one transaction (none
 * changes when one does not open); *count: how many. */
int store_secrets_rotate(store *s, const store_secret_key *old, const store_secret_key *new_key, size_t *count,
                         mp_err *e);

#endif
