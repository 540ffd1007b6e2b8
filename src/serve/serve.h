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
 * up into cli or api. */
#ifndef MLPLANE_SERVE_H
#define MLPLANE_SERVE_H

#include <stdbool.h>
#include <stddef.h>

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
 * /v2/models/NAME[/versions/V][/ready]; POST /v2/models/NAME[/versions/V]/infer.
 * Only req->method, path, body and body_len are read. Errors are
 * {"error": "..."} with 400 (bad request), 404 (unknown path, model or
 * version), 405 (with Allow), 500 (runtime failure). An infer response carries
 * the X-Model-Version header. Reentrant. */
void serve_oip_handle(serve_oip *o, const mp_http_req *req, mp_http_resp *resp);

/* Fills resp with OIP's error body {"error": msg} and status. */
void serve_oip_error(mp_http_resp *resp, int status, const char *fmt, ...) MP_PRINTF(3, 4);

/* Runs o behind the HTTP engine with the listen address, threads and limits of
 * opts (its handler, error and cls are set here). Stop with mp_httpd_stop
 * before freeing o. */
int serve_http_start(serve_oip *o, const mp_httpd_opts *opts, mp_httpd **out, mp_err *e);

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

typedef struct serve_router_opts {
    const char *ref;       /* what pool 0's workers load: a model file or a pinned models:/NAME/VERSION */
    const char *name;      /* the name every worker serves the model under (--name) */
    const char *version;   /* pool 0's version (metrics labels, stats) */
    int replicas;          /* pool 0's starting count, 0..SERVE_ROUTER_MAX_REPLICAS */
    const char *sock_dir;  /* an existing folder for the replicas' sockets (removed by serve_router_free
                              when empty); its path plus "/v3-replica-63.sock" must fit a socket address */
    const char *exe;       /* the mlplane binary workers run; NULL = /proc/self/exe */
    const char *home;      /* given to workers as --home; may be NULL */
    int worker_threads;    /* --threads of each worker; 0 = 1 */
    size_t max_body;       /* --max-body of each worker; 0 = their default */
    int drain_s;           /* how long a removed or stopped replica may drain; 0 = 10 */
    int ready_timeout_ms;  /* how long a request waits for a ready replica; 0 = 30000 */
    int upstream_timeout_ms; /* how long a replica may take to answer; 0 = 120000 */
    serve_choose_version_fn choose_version; /* NULL: pool 0 */
    serve_desired_replicas_fn desired_replicas; /* NULL: as set */
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
/* Whether at least one replica of pool 0 is ready and the router not draining. */
bool serve_router_ready(serve_router *r);
/* Appends the Prometheus text exposition of the router's metrics to out. */
void serve_router_metrics(serve_router *r, mp_buf *out);

/* Answers one request: the router's own /v2/health/live, /v2/health/ready,
 * /metrics and /admin/replicas; everything else is forwarded to a ready
 * replica of the chosen version (see docs/serving.md#replicas). Reentrant. */
void serve_router_handle(serve_router *r, const mp_http_req *req, mp_http_resp *resp);
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

#endif
