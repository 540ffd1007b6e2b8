/* serve.h — model serving over the Open Inference Protocol v2 (OIP, KServe's
 * "V2 inference protocol"), REST side.
 *
 * Three layers, each usable without the one above it:
 *   1. runtimes (serve_runtime): a struct of function pointers that loads a
 *      model file and predicts rows of floats; runtime_xgb.c implements it
 *      over the XGBoost C API. A model file is given to the first runtime that
 *      accepts its name.
 *   2. models (serve_model): a loaded model with the name and version it is
 *      served under and the metadata derived from it (input and output tensor
 *      shapes). serve_ref_resolve turns what a user names (a file, a folder,
 *      models:/NAME/VERSION, models:/NAME@ALIAS) into a file, a name and a
 *      version, through the registry of the home's store.
 *   3. the protocol (serve_oip): a function from a request (method, path,
 *      body: util/http.h's mp_http_req) to a response (status, body, headers),
 *      independent of any HTTP server. `mlplane serve` runs it behind the HTTP
 *      engine of util/http.h (serve_http_start); a router can call it directly.
 *   4. replicas behind a router (serve_router: router.c, forward.c, replica.c,
 *      metrics.c): N worker processes, each the single-process server on a
 *      unix socket, supervised (readiness probes, restarts with backoff,
 *      draining removal) by a thread of the router process, whose HTTP
 *      listener forwards every request to a ready replica.
 *
 * Errors follow util.h (int status + mp_err). Threads: a serve_model and a
 * serve_oip are built on one thread, then only read; serve_oip_handle and
 * every runtime's predict may run on many threads at once. Nothing here calls
 * up into cli or api.
 *
 * And the pieces of a rollout that a router wires together, each pure or
 * self-contained: split.c (which version answers a request: a canary
 * percentage, sticky by a header value, a copy to the shadow), autoscale.c
 * (how many replicas: Kubernetes HPA's rule with stabilization windows, scale
 * to and from zero), reqlog.c (a sampled, size-rotated JSON-lines log of
 * requests and answers); a spec_deployment (spec/spec.h) gives each its
 * settings. */
#ifndef MLPLANE_SERVE_H
#define MLPLANE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"

#include "util/http.h"
#include "util/util.h"

/* ---- runtimes ---------------------------------------------------------------------- */

/* What a runtime learns from a model file. */
typedef struct serve_model_meta {
    size_t nfeatures;  /* values per input row */
    size_t noutputs;   /* values per output row: 1, or e.g. the class count */
    char platform[32]; /* OIP's "<project>_<format>", e.g. "xgboost_json" */
} serve_model_meta;

typedef struct serve_runtime {
    const char *name; /* "xgboost" */
    /* Whether this runtime reads the model file at path (judged by its name). Pure. */
    bool (*accepts)(const char *path);
    /* Loads the model at path into *state (freed with unload) and fills meta.
     * MP_ENOENT when the file is missing, MP_EINVAL when it is not a model this
     * runtime reads. */
    int (*load)(const char *path, void **state, serve_model_meta *meta, mp_err *e);
    /* Predicts nrows rows of meta.nfeatures floats each (row-major; NaN is a
     * missing value) into out (nrows * meta.noutputs floats, caller-owned).
     * Safe on many threads at once; one call is one call into the library,
     * however many rows. MP_EIO on a library failure. */
    int (*predict)(void *state, const float *x, size_t nrows, float *out, mp_err *e);
    /* Frees the state; no predict may run any more. */
    void (*unload)(void *state);
    /* Appends the loaded model, written by the library in format ("json" or
     * "ubj"), to out. MP_EINVAL for a format it does not write, MP_EIO on a
     * library failure. NULL: the runtime writes no models. Not concurrently
     * with predict on the same state. */
    int (*save)(void *state, const char *format, mp_buf *out, mp_err *e);
} serve_runtime;

/* The XGBoost runtime (runtime_xgb.c): JSON (.json) and UBJSON (.ubj) model
 * files through the XGBoost C API; predictions are XGBoost's default output
 * (probabilities for binary:logistic and multi:softprob). */
extern const serve_runtime serve_runtime_xgboost;

/* The runtime that accepts path, or NULL. Pure. */
const serve_runtime *serve_runtime_for(const char *path);

/* ---- models ------------------------------------------------------------------------ */

typedef struct serve_model {
    char *name;     /* served under this name */
    char *version;  /* and this version: a registry version number, or for a file
                       the first 12 hex digits of its SHA-256 */
    char *path;     /* the model file */
    const serve_runtime *rt;
    void *state;    /* the runtime's */
    serve_model_meta meta;
    char input_name[32];  /* "input-0" */
    char output_name[32]; /* "predict" */
} serve_model;

/* Loads the model file at path with the runtime that accepts it; name and
 * version are copied. *out is freed with serve_model_free. MP_EINVAL when no
 * runtime reads such a file, or the runtime's error. */
int serve_model_load(const char *path, const char *name, const char *version, serve_model **out, mp_err *e);
void serve_model_free(serve_model *m);
/* Appends model m as its runtime writes it in format ("json", "ubj") to out:
 * the same model in another file format, converted by the library itself.
 * MP_EINVAL when the runtime does not write that format. */
int serve_model_save(const serve_model *m, const char *format, mp_buf *out, mp_err *e);

/* What a user names, resolved. All heap strings, freed with serve_ref_free. */
typedef struct serve_ref {
    char *path;    /* the model file */
    char *name;    /* the registered model's name, else the file's name without extension */
    char *version; /* the registry version number, else the file's digest (see serve_model) */
} serve_ref;

/* Resolves ref: "models:/NAME/VERSION" or "models:/NAME@ALIAS" through the
 * registry of the store of home (the version's source: a local path or a
 * file:// URI, a model file or a folder holding one), else a path to a model
 * file or to a folder holding exactly one file a runtime reads (model.* is
 * preferred). MP_EINVAL for a malformed reference, MP_ENOENT for an unknown
 * model, version, alias or file. home may be NULL when ref is a path. */
int serve_ref_resolve(const char *ref, const char *home, serve_ref *out, mp_err *e);
struct store;
/* serve_ref_resolve of a models:/ reference through st, an open store of home
 * (mlplane server's worker handle); home locates mlflow-artifacts:/ sources. */
int serve_ref_resolve_store(struct store *st, const char *home, const char *ref, serve_ref *out, mp_err *e);
void serve_ref_free(serve_ref *r);

/* ---- the protocol -------------------------------------------------------------------- */

typedef struct serve_oip serve_oip;

/* A protocol layer serving no model yet. Freed with serve_oip_free. */
serve_oip *serve_oip_new(void);
/* Serves m (taken: freed with o). MP_EEXIST when o serves that name and
 * version already. Call before requests are handled: the table is not locked. */
int serve_oip_add(serve_oip *o, serve_model *m, mp_err *e);
/* Marks the server ready or not (e.g. not while draining); /v2/health/ready and
 * the models' ready endpoints answer from it. Safe on any thread. */
void serve_oip_set_ready(serve_oip *o, bool ready);
void serve_oip_free(serve_oip *o);

/* Answers one OIP v2 REST request: GET /v2, /v2/health/live, /v2/health/ready,
 * /v2/models/NAME[/versions/V][/ready]; POST /v2/models/NAME[/versions/V]/infer,
 * with JSON tensor data or the binary tensor data extension (a JSON inference
 * header of Inference-Header-Content-Length bytes, then the tensors' raw bytes).
 * Only req->method, path, body, body_len and headers are read. Errors are
 * {"error": "..."} with 400 (bad request), 404 (unknown path, model or
 * version), 405 (with Allow), 500 (runtime failure). An infer response carries
 * the X-Model-Version header, and when it holds binary outputs,
 * Inference-Header-Content-Length and Content-Type application/octet-stream.
 * Reentrant. */
void serve_oip_handle(serve_oip *o, const mp_http_req *req, mp_http_resp *resp);

/* Fills resp with OIP's error body {"error": msg} and status. */
void serve_oip_error(mp_http_resp *resp, int status, const char *fmt, ...) MP_PRINTF(3, 4);
/* The one 405 of OIP's shape: "METHOD is not allowed on PATH (allowed: ALLOW)"
 * with the Allow header (mp_http_not_allowed is the MLflow-shaped one). */
void serve_oip_not_allowed(mp_http_resp *resp, const char *method, const char *path, const char *allow);

/* Runs o behind the HTTP engine with the listen address, threads and limits of
 * opts (its handler, error, cls and loop_hook are set here; thread_per_connection
 * must be false). Each worker thread runs its own event loop, and the
 * predictions of the small inference requests (up to 64 rows) it read in one
 * round are made in one runtime call, their answers split back (micro-batching:
 * no timer, a lone request is a batch of one). Stop with mp_httpd_stop before
 * freeing o. */
int serve_http_start(serve_oip *o, const mp_httpd_opts *opts, mp_httpd **out, mp_err *e);

/* ---- traffic split (split.c) -------------------------------------------------------
 * Which of two tracks answers a request: the stable version, or the canary that
 * gets percent of the requests. Promote and rollback are changes of percent (100:
 * all to the canary, 0: none) that take effect for the next request, without
 * stopping the requests of other threads.
 *   - Not sticky (no header value): a shared counter spreads the canary's requests
 *     evenly: request n (from 0) goes to the canary when floor((m+1)p/100) >
 *     floor(mp/100), m = n mod 100. Any 100 consecutive requests hold exactly p
 *     canary ones, at most one apart from an even spread (a smooth weighted
 *     round-robin of two).
 *   - Sticky (a header value): the value's SipHash-2-4 (libsodium's
 *     crypto_shorthash, a fixed key: the same on every replica and restart) taken
 *     mod 100 is its bucket; buckets below p go to the canary. A value always gets
 *     the same track while p holds, and raising p only moves values to the
 *     canary, never back.
 *   - Shadow: a copy of the request goes to the shadow version for a share rate
 *     of the requests, picked by the same even spread over 10^6 requests.
 * Thread-safety: every function but serve_split_new and serve_split_free may be
 * called from many threads at once (C11 atomics, no locks). The hashes need
 * libsodium initialised: mp_init, or serve_split_new / serve_reqlog_open. */

typedef enum serve_track {
    SERVE_TRACK_STABLE = 0,
    SERVE_TRACK_CANARY = 1,
} serve_track;

typedef struct serve_split serve_split;

/* A split sending percent (0..100) of the requests to the canary and a copy of
 * shadow_rate (0..1) of them to the shadow (0 when there is none). MP_EINVAL for
 * values out of range. *out is freed with serve_split_free. */
int serve_split_new(int percent, double shadow_rate, serve_split **out, mp_err *e);
/* The split a deployment's spec asks for (canary percent, shadow sampleRate). */
int serve_split_from_spec(const spec_deployment *d, serve_split **out, mp_err *e);
void serve_split_free(serve_split *s);

/* The track of one request. sticky is the value of the deployment's sticky header
 * in the request, or NULL (or "") when not sticky. */
serve_track serve_split_pick(serve_split *s, const char *sticky);
/* The track a sticky value gets at percent p, without counting a request. Pure. */
serve_track serve_split_sticky_track(const char *sticky, int percent);
/* Whether a copy of this request goes to the shadow too. */
bool serve_split_mirror(serve_split *s);

/* Changes the canary's share (promote: 100, rollback: 0) or the shadow's rate;
 * MP_EINVAL when out of range (nothing changes). */
int serve_split_set_percent(serve_split *s, int percent, mp_err *e);
int serve_split_set_shadow_rate(serve_split *s, double rate, mp_err *e);
int serve_split_percent(const serve_split *s);
double serve_split_shadow_rate(const serve_split *s);

/* Requests picked so far for each track, and mirrored to the shadow. */
typedef struct serve_split_counts {
    uint64_t stable, canary, shadow;
} serve_split_counts;
void serve_split_counts_get(const serve_split *s, serve_split_counts *out);

/* ---- autoscaler (autoscale.c) -------------------------------------------------------
 * How many replicas a deployment should have, from the demand measured over its
 * ready replicas: Kubernetes HPA's algorithm, as a pure function of a config, a
 * state the caller keeps, and a clock the caller passes (tests simulate it).
 *   1. recommendation: ceil(observed / target), but the current count when
 *      observed / (target * current) is within the tolerance (10%) of 1;
 *      clamped to [min, max], and to at least 1 unless zero is allowed (below);
 *   2. stabilization: the result is the current count moved no further than
 *      [the lowest recommendation over the scale-up window, the highest over the
 *      scale-down window] (HPA's behavior.*.stabilizationWindowSeconds);
 *   3. zero: with min 0, zero is allowed when there is no demand and, when
 *      scale_to_zero_after_ms is set, there has been none for that long — then
 *      the count drops to 0 at once, whatever the windows say; any demand with no
 *      replica gives at least 1 at once (the router holds that first request).
 * Without a target (no autoscale in the spec) the recommendation is min.
 * The windows' recommendations are kept in two monotonic queues (a ring buffer
 * each): a recommendation that can never again be a window's extreme is dropped,
 * so each holds at most one entry per replica count — bounded, and exact. */

/* The most replicas the autoscaler recommends (its history's bound). */
#define SERVE_AUTOSCALE_MAX SPEC_DEPLOYMENT_MAX_REPLICAS
/* Kubernetes HPA's default tolerance. */
#define SERVE_AUTOSCALE_TOLERANCE 0.1

typedef struct serve_autoscale_cfg {
    int min_replicas;               /* >= 0 */
    int max_replicas;               /* >= max(min, 1); at most SERVE_AUTOSCALE_MAX */
    double target;                  /* demand per replica; <= 0: no autoscaling */
    double tolerance;               /* SERVE_AUTOSCALE_TOLERANCE */
    int64_t scale_up_window_ms;     /* 0: scale up at once */
    int64_t scale_down_window_ms;   /* 0: scale down at once */
    int64_t scale_to_zero_after_ms; /* with min 0: idle this long before 0; 0: the windows decide */
} serve_autoscale_cfg;

/* The config of a deployment's spec (replicas, autoscale, scaleToZeroAfterSeconds). */
void serve_autoscale_cfg_from_spec(const spec_deployment *d, serve_autoscale_cfg *cfg);

typedef struct serve_autoscale_rec {
    int64_t t_ms;
    int replicas;
} serve_autoscale_rec;

/* One monotonic queue of (time, recommendation) in a ring. */
typedef struct serve_autoscale_ring {
    serve_autoscale_rec v[SERVE_AUTOSCALE_MAX + 2];
    size_t head, n;
} serve_autoscale_ring;

/* What the autoscaler remembers between calls; zero it with serve_autoscale_init. */
typedef struct serve_autoscale_state {
    serve_autoscale_ring up;   /* increasing: its front is the scale-up window's lowest */
    serve_autoscale_ring down; /* decreasing: its front is the scale-down window's highest */
    int64_t idle_since_ms;     /* since when observed has been 0; -1 while there is demand */
    int last;                  /* the last recommendation (step 1), for status output */
} serve_autoscale_state;

void serve_autoscale_init(serve_autoscale_state *st);

/* The number of replicas to run now. now_ms: a monotonic clock, never going back;
 * observed: the demand summed over the ready replicas (in-flight requests, or
 * requests per second), NaN or negative read as 0; current: the replicas there
 * are. Pure but for st. */
int serve_autoscale_desired(const serve_autoscale_cfg *cfg, serve_autoscale_state *st, int64_t now_ms,
                            double observed, int current);

/* ---- request log (reqlog.c) -----------------------------------------------------------
 * A sample of the requests a deployment answers, one JSON object per line,
 * appended to a file (HOME/serving/DEPLOYMENT/requests.log by convention; the
 * caller names it and creates its directory):
 *   {"time":"2026-11-25T19:54:55.123Z","id":"...","model":"breast-cancer",
 *    "version":"2","latency_ms":1.234,"inputs":...,"outputs":...}
 * plus "shadow":true for a shadow's answer and "error":"..." for a failed one.
 *   - Sampling is decided by the request id: its SipHash-2-4 (fixed key) read as a
 *     fraction of 2^64 is below sample_rate. The same id is sampled the same way
 *     everywhere, so a request's stable and shadow answers are logged together.
 *   - Rotation by size: a line that would take the file past max_bytes first
 *     renames requests.log to requests.log.1, .1 to .2, ... up to .KEEP (the
 *     oldest dropped). A file holds at least one line, so one longer than
 *     max_bytes makes a file of its own.
 *   - Each line is one write(2) on a descriptor opened O_APPEND, under the log's
 *     mutex: lines of concurrent threads never interleave. There is no fsync per
 *     line: a crash of the machine may lose the last lines (not of the process:
 *     the kernel has them), never leave half a line before a whole one.
 * One process writes a log at a time (the mutex does not span processes). */

typedef struct serve_reqlog serve_reqlog;

typedef struct serve_reqlog_cfg {
    double sample_rate; /* 0..1 */
    int64_t max_bytes;  /* > 0 */
    int keep;           /* rotated files kept, >= 0 */
} serve_reqlog_cfg;

/* The settings of a deployment's spec.requestLog. */
void serve_reqlog_cfg_from_spec(const spec_deployment *d, serve_reqlog_cfg *cfg);

/* Opens (creating) the log at path for appending. MP_EINVAL for a bad cfg,
 * MP_ENOENT when its directory does not exist, MP_EIO when it cannot be opened
 * (read-only directory, ...); each says which file and what to do. *out is freed
 * with serve_reqlog_close. */
int serve_reqlog_open(const char *path, const serve_reqlog_cfg *cfg, serve_reqlog **out, mp_err *e);
void serve_reqlog_close(serve_reqlog *l);

/* Whether the request with this id is logged at rate (see above). Pure. */
bool serve_reqlog_sampled(const char *id, double rate);

struct json_t; /* jansson's json_t */

/* One request; everything is borrowed. inputs and outputs are jansson values,
 * written as they are; NULL writes null. */
typedef struct serve_reqlog_entry {
    int64_t time_ms;    /* wall clock, ms since the epoch, when the request came */
    const char *id;     /* the request id (required: it decides the sampling) */
    const char *model;  /* the served model's name */
    const char *version;
    double latency_ms;
    const struct json_t *inputs;  /* the features */
    const struct json_t *outputs; /* the prediction */
    bool shadow;         /* the shadow's answer */
    const char *error;   /* why the request failed, or NULL */
} serve_reqlog_entry;

/* Appends en when its id is sampled (then *written is true, when non-NULL),
 * rotating first when the line would pass max_bytes. MP_EINVAL when the id is
 * missing, a string is not UTF-8 or inputs/outputs cannot be written as JSON;
 * MP_EIO when the line cannot be written, or when rotation failed (the line is
 * then appended to the current file: *written says so, and the next line tries
 * the rotation again). The log stays usable after any error. Thread-safe. */
int serve_reqlog_write(serve_reqlog *l, const serve_reqlog_entry *en, bool *written, mp_err *e);

/* The path of rotated file i (1..keep) of the log at path: "PATH.i". Heap string. */
char *serve_reqlog_rotated_path(const char *path, int i);

/* ---- replicas behind a router ------------------------------------------------------ */

#define SERVE_ROUTER_MAX_POOLS 4     /* model versions behind one router */
#define SERVE_ROUTER_MAX_REPLICAS 64 /* replicas of one version */

typedef struct serve_router serve_router;

typedef struct serve_router_replica_stats {
    int slot;          /* the replica's number: its socket is replica-SLOT.sock */
    int pid;           /* 0 while no process runs (waiting to restart) */
    const char *state; /* "starting", "ready", "draining", "restarting" (static) */
    int inflight;      /* requests the router has sent it and not had answered */
    unsigned long long completed; /* requests answered (any status) since the router started */
    double rps;        /* completed per second over the last 5 seconds */
    int restarts;      /* times it was restarted after exiting unasked */
} serve_router_replica_stats;

typedef struct serve_router_pool_stats {
    char version[128];  /* the model version this pool serves */
    int desired;        /* replicas wanted */
    int ready, starting, draining; /* replicas in each state ("restarting" counts as starting) */
    int inflight;       /* sum over the replicas */
    double inflight_avg; /* for desired_replicas: inflight averaged over samples every 100 ms since its last call */
    int waiting;        /* requests held because no replica of this pool is ready */
    double rps;         /* sum over the replicas */
    size_t nreplicas;
    serve_router_replica_stats replicas[SERVE_ROUTER_MAX_REPLICAS]; /* live slots, by slot */
} serve_router_pool_stats;

typedef struct serve_router_snapshot {
    size_t npools;
    serve_router_pool_stats pools[SERVE_ROUTER_MAX_POOLS];
} serve_router_snapshot;

/* Hook: which version (pool index below npools) answers req. Runs on the
 * router's HTTP threads, concurrently; must not block. NULL: always pool 0,
 * the stable version. versions[i] is pool i's version. An index out of range
 * means pool 0. */
typedef size_t (*serve_choose_version_fn)(void *ud, const mp_http_req *req, const char *const *versions,
                                          size_t npools);
/* Hook: how many replicas pool should run, given its stats; called by the
 * supervisor thread about once a second per pool. A negative answer keeps
 * st->desired. NULL: st->desired, as serve_router_set_replicas left it. */
typedef int (*serve_desired_replicas_fn)(void *ud, size_t pool, const serve_router_pool_stats *st);
/* Hook: req was answered by pool with resp (any status), latency_us after it
 * came at wall clock time_ms. Runs on the router's HTTP thread after the
 * answer is complete and before it is sent: keep it short. Not called for the
 * router's own endpoints, nor for serve_router_forward. */
typedef void (*serve_answered_fn)(void *ud, size_t pool, const mp_http_req *req, const mp_http_resp *resp,
                                  int64_t time_ms, int64_t latency_us);
/* Hook: answers req itself and returns true (extra endpoints, e.g.
 * /admin/rollout), or returns false to let the router go on. Runs on the
 * router's HTTP threads, concurrently, before anything else. */
typedef bool (*serve_admin_fn)(void *ud, const mp_http_req *req, mp_http_resp *resp);
/* Hook: appends more metric families (Prometheus text) to GET /metrics. Runs
 * on the router's HTTP threads, concurrently. */
typedef void (*serve_metrics_fn)(void *ud, mp_buf *out);

typedef struct serve_router_opts {
    const char *ref;       /* what pool 0's workers load: a model file or a pinned models:/NAME/VERSION */
    const char *url;       /* instead of ref: pool 0 is the upstream at this base URL (http://HOST:PORT), one
                              server probed on /v2/health/ready, never started by the router; replicas and
                              sock_dir are then ignored (NULL sock_dir: only upstreams can be added) */
    const char *name;      /* the name every worker serves the model under (--name) */
    const char *version;   /* pool 0's version (metrics labels, stats) */
    int replicas;          /* pool 0's starting count, 0..SERVE_ROUTER_MAX_REPLICAS */
    const char *sock_dir;  /* an existing folder for the replicas' sockets (removed by serve_router_free
                              when empty); its path plus "/v3-replica-63.sock" must fit a socket address */
    const char *exe;       /* the mlplane binary workers run; NULL = /proc/self/exe */
    const char *home;      /* given to workers as --home; may be NULL */
    const char *server;    /* given to workers as --server (ref is then a models:/ reference they download); may be NULL */
    int worker_threads;    /* --threads of each worker; 0 = 1 */
    size_t max_body;       /* --max-body of each worker; 0 = their default */
    int drain_s;           /* how long a removed or stopped replica may drain; 0 = 10 */
    int ready_timeout_ms;  /* how long a request waits for a ready replica; 0 = 30000 */
    int upstream_timeout_ms; /* how long a replica may take to answer; 0 = 120000 */
    serve_choose_version_fn choose_version; /* NULL: pool 0 */
    serve_desired_replicas_fn desired_replicas; /* NULL: as set */
    serve_answered_fn answered; /* NULL: none */
    serve_admin_fn admin;  /* NULL: none */
    serve_metrics_fn metrics; /* NULL: none */
    void *hook_ud;         /* passed to the hooks */
} serve_router_opts;

/* A router with pool 0 as opts says; strings are copied. No process starts
 * before serve_router_start. MP_EINVAL for a socket folder too long. Freed
 * with serve_router_free. Call on the main thread, before other threads start
 * (it reads the environment the workers inherit). */
int serve_router_new(const serve_router_opts *opts, serve_router **out, mp_err *e);
/* Adds a pool serving version from ref (another version of the same name: a
 * canary); returns its index in *index. Before serve_router_start only.
 * MP_EINVAL beyond SERVE_ROUTER_MAX_POOLS, MP_EEXIST for a version present. */
int serve_router_add_version(serve_router *r, const char *ref, const char *version, int replicas, size_t *index,
                             mp_err *e);
/* Adds a pool that is the upstream at base URL url (see opts.url) serving
 * version; as serve_router_add_version otherwise. */
int serve_router_add_upstream(serve_router *r, const char *url, const char *version, size_t *index, mp_err *e);
/* Starts the supervisor thread, which starts the replicas. Block the signals
 * the caller sigwaits for first (the thread inherits the mask; workers get an
 * empty mask and default handlers). */
int serve_router_start(serve_router *r, mp_err *e);
/* Sets how many replicas pool runs (0..SERVE_ROUTER_MAX_REPLICAS): new ones
 * get traffic once ready; removed ones stop getting new requests, finish the
 * ones they hold, then get SIGTERM. Any thread. MP_EINVAL out of range. */
int serve_router_set_replicas(serve_router *r, size_t pool, int n, mp_err *e);
/* A snapshot of every pool and replica. Any thread. */
void serve_router_stats(serve_router *r, serve_router_snapshot *out);
/* Whether the router takes requests: not draining, and a replica of pool 0
 * ready, or pool 0 scaled to zero under a desired_replicas hook (a request is
 * held while the hook starts a replica). */
bool serve_router_ready(serve_router *r);
/* Appends the Prometheus text exposition of the router's metrics to out. */
void serve_router_metrics(serve_router *r, mp_buf *out);

/* Answers one request: the router's own /v2/health/live, /v2/health/ready,
 * /metrics and /admin/replicas; everything else is forwarded to a ready
 * replica of the chosen version (see docs/serving.md#replicas). Reentrant. */
void serve_router_handle(serve_router *r, const mp_http_req *req, mp_http_resp *resp);
/* Sends req to a ready replica of pool (waiting for one as a routed request
 * does, retrying once on a replica's death) and fills resp with its answer or
 * the router's error; counted in pool's metrics. For copies of requests (a
 * shadow): the answered hook is not called. Any thread but the supervisor. */
void serve_router_forward(serve_router *r, size_t pool, const mp_http_req *req, mp_http_resp *resp);
/* Runs serve_router_handle behind the HTTP engine with opts' listen address
 * and limits, one thread per connection (a request waits for a replica in its
 * connection's thread). Stop it with mp_httpd_stop before serve_router_stop. */
int serve_router_http_start(serve_router *r, const mp_httpd_opts *opts, mp_httpd **out, mp_err *e);

/* The first step of a stop: not ready any more; requests waiting for a ready
 * replica get 503 at once; requests forwarded already finish. Any thread. */
void serve_router_drain(serve_router *r);
/* Stops the supervisor: SIGTERM to every replica, waits up to drain_s (+2 s)
 * for them, then SIGKILL; removes their sockets. The HTTP engine must be
 * stopped first. Idempotent. */
void serve_router_stop(serve_router *r);
/* Stops (if needed) and frees. */
void serve_router_free(serve_router *r);

/* ---- routing to upstreams (route.c) ---------------------------------------------------
 * `mlplane route`: the router of a Deployment (split, sticky header, shadow,
 * metrics, holding requests while a version is not ready) in front of
 * upstreams that are HTTP base URLs, one per version (on Kubernetes, the
 * Service of one version's pods), instead of replica processes. See
 * docs/serving-rollout.md#routing-to-upstreams-kubernetes. */

typedef struct serve_route serve_route;

typedef struct serve_route_opts {
    const char *name;                          /* the model's name (/v2/models/NAME); required */
    const char *stable_version, *stable_url;   /* required */
    const char *canary_version, *canary_url;   /* both NULL: no canary */
    int canary_percent;                        /* 0..100 */
    const char *shadow_version, *shadow_url;   /* both NULL: no shadow */
    double shadow_rate;                        /* 0..1 */
    const char *sticky_header;                 /* NULL: not sticky */
    int ready_timeout_ms;                      /* how long a request waits for its upstream; 0 = 30000 */
    int upstream_timeout_ms;                   /* how long an upstream may take to answer; 0 = 120000 */
    int shadow_threads;                        /* threads sending the shadow's copies; 0 = 2 */
    mp_httpd_opts http;                        /* listen, timeout_s, drain_s, max_body, verbose */
} serve_route_opts;

/* Splits "VERSION=URL" (a version number or alias label of letters, digits,
 * '.', '-', '_'; an http:// or https:// base URL, trailing slashes dropped)
 * into *version and *url (heap). MP_EINVAL saying what is wrong. Pure. */
int serve_route_parse_upstream(const char *arg, char **version, char **url, mp_err *e);
/* Listens and starts probing the upstreams. MP_EINVAL for a percent or rate
 * out of range or two upstreams of one version; the listen address's errors.
 * Block the signals the caller sigwaits for first. Freed with serve_route_free. */
int serve_route_start(const serve_route_opts *o, serve_route **out, mp_err *e);
/* "http://HOST:PORT" while it runs. */
const char *serve_route_url(const serve_route *rt);
/* One line: "route NAME: stable 1 at URL, canary 2 at URL (10%), ...". */
void serve_route_describe(const serve_route *rt, char *out, size_t n);
/* Drains: waiting requests get 503, forwarded ones are answered; stops. Idempotent. */
void serve_route_stop(serve_route *rt);
void serve_route_free(serve_route *rt);

/* ---- deployments (deploy.c, mirror.c) --------------------------------------------------
 * A Deployment applied to the home's store (`mlplane apply`), running: its
 * versions resolved through the registry (an alias at start), one router pool
 * per version (stable, canary, shadow), the traffic split deciding each
 * inference request's pool (sticky by a header when the spec says), the
 * autoscaler deciding each pool's replicas about once a second, a copy of
 * sampled requests sent to the shadow by a thread of its own (answers logged,
 * never returned), and the request log. The canary's percent is the spec's
 * until `mlplane rollout` records another in the store; the deployment reads it
 * at start, when POST /admin/rollout/reload asks, and every two seconds when
 * the store changed. GET /admin/rollout is its status as JSON.
 * HOME/serving/NAME/router.json says where it listens ({"url","pid","start"})
 * while it runs. See docs/serving-rollout.md. */

typedef struct serve_deploy serve_deploy;

typedef struct serve_deploy_opts {
    const char *home;      /* the home (its store and registry); required */
    const char *name;      /* the Deployment's name; required */
    const char *listen;    /* NULL: the spec's listen, else 127.0.0.1:0 */
    int listen_fd;         /* above 2: an inherited listening socket, used instead (mlplane server's) */
    const char *exe;       /* the mlplane binary the replicas run; NULL = /proc/self/exe */
    int ready_timeout_ms;  /* how long a request waits for a ready replica; 0 = 30000 */
    int drain_s;           /* 0 = 10 */
    int timeout_s;         /* idle connections; 0 = 30 */
    size_t max_body;       /* 0 = 16 MiB */
    /* The authenticating mlplane server to ask about callers (--auth-review URL), or
     * NULL: no route checks credentials. With it, /admin/ always needs them, and the
     * inference routes when spec.auth.inference is token (authz.c). */
    const char *auth_review;
    const char *admin_credential; /* let through without a review (SERVE_ADMIN_CREDENTIAL_ENV), or NULL */
} serve_deploy_opts;

/* Reads the Deployment name from st: *f is its source file re-parsed (free with
 * spec_file_free), *d the deployment in it. MP_ENOENT when none is applied. */
int serve_deploy_load(struct store *st, const char *name, spec_file **f, const spec_deployment **d, mp_err *e);

/* Loads the deployment and resolves its versions (MP_ENOENT for a model,
 * version or alias the registry does not have); starts nothing. Main thread,
 * before other threads start. Freed with serve_deploy_free. */
int serve_deploy_open(const serve_deploy_opts *o, serve_deploy **out, mp_err *e);
/* Listens, starts the replicas' supervisor and the shadow's thread, writes
 * router.json. Block the signals the caller sigwaits for first. */
int serve_deploy_start(serve_deploy *d, const serve_deploy_opts *o, mp_err *e);
/* "http://HOST:PORT" once started. */
const char *serve_deploy_url(const serve_deploy *d);
/* One line: "deployment NAME: model M version 1, canary version 2 at 10%, ...". */
void serve_deploy_describe(const serve_deploy *d, char *out, size_t n);
/* The status GET /admin/rollout answers (a new reference). Any thread. */
struct json_t *serve_deploy_status(serve_deploy *d);
/* Drains: requests in flight are answered, new ones refused; then stops the
 * replicas and removes router.json. Idempotent. */
void serve_deploy_stop(serve_deploy *d);
void serve_deploy_free(serve_deploy *d);
/* Whether the deployment name of home runs now (its router.json names a live
 * process): then *url (heap, when url is non-NULL) and *pid say where. */
bool serve_deploy_running(const char *home, const char *name, char **url, int *pid);

/* From outside a deployment's process (rollout.c): its status, live from
 * GET /admin/rollout when it runs, else the store's view (versions as the spec
 * names them, the recorded or the spec's percent, "url": null), with
 *   "status": {"state": "Starting"|"Running"|"CrashLoopBackOff"|"Stopped",
 *              "ready", "desired" (replicas over its tracks), "restarts",
 *              "message" (why, or absent), "lastError" (or absent),
 *              "appliedMs", "startedMs", "serverPid"}
 * as mlplane server's fleet recorded it (a record whose server is gone reads
 * Stopped), and "events": [{"type", "message", "count", "firstMs", "lastMs"}].
 * A new reference; NULL with e (MP_ENOENT: not applied). When it runs but does
 * not answer, warn (when non-NULL) says so and the store's view is returned. */
struct json_t *serve_deploy_status_of(struct store *st, const char *home, const char *name, char *warn, size_t warnn,
                                      mp_err *e);
/* Every applied Deployment's status, by name, each with its "status" but not
 * its "events" (a JSON array, a new reference). */
struct json_t *serve_deploy_status_all(struct store *st, const char *home, mp_err *e);

typedef struct serve_rollout_result {
    int was, percent;   /* the canary's share before and after */
    char canary[280];   /* the canary's version as the spec names it: "2" or "@challenger" */
    bool running;       /* the deployment runs */
    bool told;          /* it was told to reread the store (POST /admin/rollout/reload) */
    char why[1100];     /* why it could not be told */
} serve_rollout_result;
/* Records percent (0..100) as the canary's share of deployment name in st (its
 * own transaction), then tells the running deployment, if any. MP_ENOENT when
 * not applied, MP_EINVAL for a deployment without a canary or a percent out of
 * range: nothing changes then. A deployment that could not be told rereads the
 * store within 2 seconds (out->told false, out->why). */
int serve_deploy_set_percent(struct store *st, const char *home, const char *name, int percent,
                             serve_rollout_result *out, mp_err *e);

/* The Deployments of a home run under `mlplane server` (fleet.c): one
 * `mlplane serve deployment/NAME` process per applied Deployment, started when
 * it is applied, restarted (after a backoff) when it exits unasked or when the
 * Deployment is applied again, stopped when it is deleted and when the fleet
 * stops. Output goes to HOME/serving/NAME/server.log. Each one's state,
 * restarts, last error and events are committed to the store as they change
 * (store.h's deploy_state_*, deploy_event_*). */
typedef struct serve_fleet serve_fleet;
typedef struct serve_fleet_opts {
    const char *home; /* required */
    const char *exe;  /* the mlplane binary; NULL = /proc/self/exe */
    int drain_s;      /* how long a stopped deployment may drain; 0 = 10 */
    /* The URL of the authenticating mlplane server the deployments ask about their
     * callers (--auth-review), or NULL: their routes check no credentials. With it,
     * the fleet makes the admin credential (serve_admin_credential_make) and
     * passes it to each deployment. */
    const char *auth_review;
} serve_fleet_opts;
/* Starts the fleet's thread (block the caller's stop signals first). Stopped
 * and freed with serve_fleet_stop. */
int serve_fleet_start(const serve_fleet_opts *o, serve_fleet **out, mp_err *e);
/* Stops every deployment (SIGTERM; SIGKILL after drain_s + 5 s) and frees. */
void serve_fleet_stop(serve_fleet *f);

/* The credential mlplane server (and the CLI on its home) sends to the admin routes
 * of the Deployments its fleet runs with authentication on: "mlpd_" and 64 hex
 * characters, in HOME/serving/.admin-credential (mode 0600) while the server runs
 * (authz.c). */
#define SERVE_ADMIN_CREDENTIAL_PREFIX "mlpd_"
/* The variable a Deployment's process reads it from (and removes at once). */
#define SERVE_ADMIN_CREDENTIAL_ENV "MLPLANE_DEPLOY_CREDENTIAL"
/* HOME/serving/.admin-credential (heap). */
char *serve_admin_credential_path(const char *home);
/* Makes a new credential and writes it for home; *out heap (zero it before freeing). */
int serve_admin_credential_make(const char *home, char **out, mp_err *e);
/* home's credential (heap), or NULL when there is none. */
char *serve_admin_credential_read(const char *home);
/* Removes home's credential file when it still holds cred. */
void serve_admin_credential_remove(const char *home, const char *cred);

/* The folder for the replicas' unix sockets of a server named name:
 * HOME/serving/NAME/PID when home is given and the path fits a socket address,
 * else TMPDIR/mlplane-UID/serving/NAME/PID; made here, after removing the
 * folders of routers now gone. *parent is its NAME folder (both heap). */
int serve_socket_dir(const char *home, const char *name, char **out, char **parent, mp_err *e);

#endif
