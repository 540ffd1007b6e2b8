/* api.h — mlplane's HTTP server and its own JSON API.
 *
 * server.c runs libmicrohttpd (epoll, a pool of worker threads), turns each
 * request into an mp_http_req (util/http.h) and routes it through the tables of
 * api (/healthz, /readyz, /api/v1/...) and of track (the MLflow REST API under
 * /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/). v1.c holds the /api/v1 handlers
 * (runs: list, describe, steps, metrics, logs, submit, cancel); json.c the JSON
 * views of store records, shared with the CLI (cli -> api, never api -> cli).
 *
 * Threads: api_server_start/stop are called from one controlling thread; the
 * handlers run on the worker threads, each with its own store handle. */
#ifndef MLPLANE_API_H
#define MLPLANE_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/http.h"
#include "util/util.h"

/* ---- JSON views of store records (json.c) ---------------------------------------- */

/* A run's state as shown to users: its stored state, or "Interrupted" for a
 * running run that no live process drives. */
const char *api_run_state_shown(const store_run *r);
/* Whether a step's work is done: it succeeded, a cache hit supplied its outputs,
 * or it is a sweep trial stopped early (finished, not failed). */
bool api_step_done(const store_step *s);
/* "lr=0.1, depth=4" of a params object (a sweep trial's values; heap, "" for
 * anything that is not a non-empty object). */
char *api_params_text(const json_t *params);
/* A run as `mlplane get runs -o json` prints it (new reference); steps may be NULL. */
json_t *api_run_json(const store_run *r, const store_step *steps, size_t n);
/* A step with the metrics (of the whole run, filtered to this step) it reported;
 * "params" are a sweep trial's values (a sweep step's: its best trial's), else null. */
json_t *api_step_json(const store_step *s, const store_metric *m, size_t nm);
/* How many of a failed step's last log lines describe run shows, and their width. */
#define API_LOG_TAIL_LINES 5
#define API_LOG_TAIL_WIDTH 200
/* Adds "log_tail": [the last lines of its last attempt's log] to step o when the
 * step s has Failed or is Retrying (describe run, local and through the API). */
void api_step_add_log_tail(json_t *o, const store_step *s);
/* An event: {"time","step","type","message","id"} (new reference). */
json_t *api_event_json(const store_event *ev);

/* describe run's JSON (GET /api/v1/runs/ID, `describe run -o json`): run r as
 * api_run_json, "steps" as api_step_json with a failed step's "log_tail", and
 * "events" with an id above events_after (0: all), read from st after the run
 * was. *out: a new object; store errors leave it NULL. */
int api_run_describe_json(store *st, const store_run *r, const store_step *steps, size_t nsteps,
                          const store_metric *metrics, size_t nmetrics, int64_t events_after, json_t **out, mp_err *e);

/* ---- the server (server.c) ---------------------------------------------------------- */

typedef struct api_server_opts {
    /* How to serve HTTP, as the engine takes it (listen NULL = 127.0.0.1:5000;
     * threads, max_body, timeout_s, drain_s, conn_memory, verbose); its
     * log_name, handler, error and cls are set by api_server_start. */
    mp_httpd_opts http;
    const char *home; /* the mlplane home (resolved, exists) */
    bool auth;        /* check credentials and permissions on every request (--auth) */
    const char *audit_key; /* the audit log's Ed25519 signing key file (--audit-key), or NULL: unsigned */
} api_server_opts;

typedef struct api_server api_server;

/* Opens the store once (running migrations), binds and starts the workers.
 * Signals the caller wants to handle itself must be blocked before this call
 * (the worker threads inherit the mask). *out is freed by api_server_stop. */
int api_server_start(const api_server_opts *o, api_server **out, mp_err *e);
/* "http://HOST:PORT" (https:// with http.tls_cert) with the port actually bound (valid until stop). */
const char *api_server_url(const api_server *s);
/* Rereads the TLS certificate and key (mp_httpd_reload_tls): on an error the
 * old pair goes on serving. Any thread. */
int api_server_reload_tls(api_server *s, mp_err *e);
/* Stops accepting, waits up to drain_s for requests in flight, stops the
 * workers, closes their stores and frees s. */
void api_server_stop(api_server *s);

/* ---- the audit log (audit.c, audit_verify.c; audit_route.c decides what a request is) ----
 * HOME/audit/audit.log: one JSON line per mutating, denied (403) or unauthenticated
 * (401) request, chained by BLAKE2b hashes, optionally signed with Ed25519 (the
 * format is described in audit.c). */
typedef struct api_audit api_audit;
#define API_AUDIT_ID_MAX 40
/* The compact, order-keeping JSON form lines are written and hashed in. */
#define API_AUDIT_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

/* One audited request (strings borrowed; NULL is ""). */
typedef struct api_audit_entry {
    int64_t time_ms;        /* wall clock; 0 = now */
    const char *user;       /* "" when anonymous */
    const char *source;     /* the peer's address */
    const char *method;     /* the HTTP method */
    const char *verb;       /* get, list, create, update, delete */
    const char *resource;   /* runs, experiments, models, ... */
    const char *namespace_;
    const char *name;
    int status;             /* the HTTP status of the answer */
    const char *result;     /* "allowed", "denied" (401, 403) or "error" */
    const char *request_id;
} api_audit_entry;

/* HOME/audit/audit.log (heap). */
char *api_audit_path(const char *home);
/* Opens (creating HOME/audit, mode 0700, and the log, 0600) the log of home for
 * appending; key_file (NULL: lines unsigned) holds a signing key as written by
 * api_audit_keygen and must not be readable by others. *out: free with
 * api_audit_close. */
int api_audit_open(const char *home, const char *key_file, api_audit **out, mp_err *e);
void api_audit_close(api_audit *a);
/* Appends en's line and returns once it is on disk (fdatasync), chained after the
 * file's last line even when another process wrote it (flock). Any thread; the
 * lines of concurrent appends are written and synced together. 0 or MP_EIO. */
int api_audit_append(api_audit *a, const api_audit_entry *en, mp_err *e);
/* A new request id ("PREFIX-COUNTER", unique to this handle) into out. Any thread. */
void api_audit_request_id(api_audit *a, char out[API_AUDIT_ID_MAX]);
/* RFC 3339 UTC with milliseconds ("2026-12-07T15:19:10.123Z"). */
void api_audit_time(int64_t ms, char out[32]);
/* hex(BLAKE2b-256(prev || content[0..len))) into out. */
void api_audit_hash(const char *prev, const char *content, size_t len, char out[65]);
/* Writes a new Ed25519 key pair: out (the signing key, hex, mode 0600) and
 * out.pub (the public key, hex); *pub_path is out.pub (heap). MP_EEXIST when
 * either exists. */
int api_audit_keygen(const char *out, char **pub_path, mp_err *e);
/* Reads a public key file as api_audit_keygen writes it. */
int api_audit_read_public_key(const char *path, unsigned char pk[crypto_sign_PUBLICKEYBYTES], mp_err *e);

/* What api_audit_verify found. */
typedef struct api_audit_verdict {
    size_t lines;     /* lines read */
    size_t bad_line;  /* the first bad line (1-based), 0 when all are good */
    char what[512];   /* what is wrong with it */
    char last_hash[65];
    size_t signed_lines;
} api_audit_verdict;
/* Checks the log at path: each line parses, its prev is the hash of the line
 * before (zeros for the first), its hash is right and, with pk (NULL: signatures
 * not checked), it carries a valid signature. 0 with v filled (v->bad_line says
 * whether it is good); MP_EIO/MP_ENOENT when the file cannot be read. */
int api_audit_verify(const char *path, const unsigned char *pk, api_audit_verdict *v, mp_err *e);
/* The log's entries (a new array of its parsed lines, unreadable ones left out),
 * those of user (NULL: all) at or after since_ms (0: all). */
int api_audit_entries(const char *path, const char *user, int64_t since_ms, json_t **out, mp_err *e);

/* ---- GET /metrics (metrics.c) --------------------------------------------------------- */
typedef struct api_metrics api_metrics;
/* Reads the store's families once, then starts the collector thread that
 * rereads them (its own store handle). routes: the route templates the server
 * numbers its routes by (borrowed; they outlive m). *out is freed by api_metrics_stop. */
int api_metrics_start(const char *home, const char *const *routes, size_t nroutes, api_metrics **out, mp_err *e);
/* Counts one answered request of route number route: 0..nroutes-1 a route,
 * nroutes GET /metrics, -1 none matched. Any thread; atomics only. */
void api_metrics_observe(api_metrics *m, int route, const char *method, int status, int64_t us);
/* Fills resp with the text exposition (200, Prometheus' content type). Any thread;
 * holds the collector's lock only to copy its text. */
void api_metrics_render(api_metrics *m, mp_http_resp *resp);
/* Stops and joins the collector thread, frees m. */
void api_metrics_stop(api_metrics *m);

/* ---- routes (v1.c) ---------------------------------------------------------------- */

/* The server's own routes: /healthz, /readyz and /api/v1/... */
const mp_http_route *api_routes(size_t *n);

/* ---- API tokens and users (tokens.c) ------------------------------------------------- */
/* POST|GET /api/v1/tokens, DELETE /api/v1/tokens/{id}, and MLflow's
 * /api/2.0/mlflow/users/{create,get,update-password,update-admin,delete}. */
const mp_http_route *api_auth_routes(size_t *n);
/* A token's row as the API and `mlplane token list -o json` show it (never its
 * secret): id, user, namespace, groups, description, created, expires, last_used,
 * revoked, revoked_at. A new object. */
json_t *api_token_json(const store_token *t);
/* A token's lifetime: "30d", "12h", "90m", "3600s", "2w"; "", "0" or "never": 0
 * (no expiry). MP_EINVAL saying the accepted forms. */
int api_parse_ttl(const char *s, int64_t *ms, mp_err *e);
/* groups as the store keeps them, "a,b" (heap); MP_EINVAL for an empty name, a
 * comma or a name over 63 characters. */
int api_groups_join(const mp_strv *groups, char **out, mp_err *e);

/* ---- access reviews (authz.c) --------------------------------------------------------- */
/* POST /api/v1/authz/review {"verb","resource","namespace"}: whether the request's
 * own credentials may do that ({"allowed","user","groups","reason", ...}). */
const mp_http_route *api_authz_routes(size_t *n);
void api_h_authz_review(const mp_http_req *req, mp_http_resp *resp);

/* ---- applied objects and Deployments (deploy.c) ------------------------------------- */
/* POST /api/v1/apply, GET /api/v1/deployments, GET /api/v1/deployments/{name},
 * POST /api/v1/deployments/{name}/rollout. */
void api_h_apply(const mp_http_req *req, mp_http_resp *resp);
void api_h_deployments(const mp_http_req *req, mp_http_resp *resp);
void api_h_deployment_get(const mp_http_req *req, mp_http_resp *resp);
void api_h_deployment_rollout(const mp_http_req *req, mp_http_resp *resp);
/* DELETE /api/v1/objects/{kind}/{name}[?namespace=NS]. */
void api_h_object_delete(const mp_http_req *req, mp_http_resp *resp);

/* ---- registered versions as one model file (models.c) ------------------------------- */
/* GET /api/v1/models/{name}/versions/{version}/model.json|model.ubj and
 * GET /api/v1/models/{name}/aliases/{alias}/model.json|model.ubj: the version's
 * model file in that format (converted by the serving runtime when need be),
 * with X-Model-Name and X-Model-Version. */
void api_h_model_version_file(const mp_http_req *req, mp_http_resp *resp);
void api_h_model_alias_file(const mp_http_req *req, mp_http_resp *resp);

/* ---- nodes (nodes.c) ------------------------------------------------------------------ */
/* The nodes steps run on, as `mlplane get nodes -o json` prints them: name,
 * simulated, labels, taints, capacity, allocated (+ steps), workloads, and on a
 * real (not simulated) node gpus and gpu_discovery. *out: a new array. */
int api_nodes_json(store *st, json_t **out, mp_err *e);
/* GET /api/v1/nodes: that array. */
void api_h_nodes(const mp_http_req *req, mp_http_resp *resp);

/* ---- local inputs of submitted runs (uploads.c) --------------------------------------- */
/* POST /api/v1/uploads/missing and GET|PUT /api/v1/uploads/sha256/{hex}: the
 * content-addressed store HOME/uploads/sha256/HE/HEX. */
void api_h_uploads_missing(const mp_http_req *req, mp_http_resp *resp);
void api_h_uploads_assemble(const mp_http_req *req, mp_http_resp *resp);
void api_h_upload_get(const mp_http_req *req, mp_http_resp *resp);
void api_h_upload_put(const mp_http_req *req, mp_http_resp *resp);
/* Checks a submit request's "files" [{path, sha256, executable}], "dirs" [path]
 * and "spec_dir" (each may be NULL): safe relative paths, blobs present. Returns 0,
 * or fills resp with 400 and returns -1. */
int api_uploads_check(const mp_http_req *req, json_t *files, json_t *dirs, json_t *spec_dir, mp_http_resp *resp);
/* Lays out checked files and dirs under root (created): hard links to (or
 * copies of) their blobs in home's store. Returns 0 or MP_EIO. */
int api_uploads_place(const char *home, const char *root, json_t *files, json_t *dirs, mp_err *e);

/* Fills resp with MLflow's error shape for an mp_err: ENOENT -> 404
 * RESOURCE_DOES_NOT_EXIST, EINVAL -> 400 INVALID_PARAMETER_VALUE, ESTATE/EBUSY ->
 * 409 INVALID_STATE, others -> 500 INTERNAL_ERROR. */
void api_error(mp_http_resp *resp, const mp_err *e);

/* ---- Monitors (monitors.c) -----------------------------------------------------------
 * mlplane server checks each applied Monitor when it is due, on a thread of its own
 * (its own store handle; block the caller's stop signals first), and carries out its
 * actions when drift is found. */
typedef struct api_monitors api_monitors;
int api_monitors_start(const char *home, api_monitors **out, mp_err *e);
void api_monitors_stop(api_monitors *m);
/* Checks the applied Monitor name once now, as the thread would (actions included);
 * *out is the recorded check (free with store_monitor_check_free). MP_ENOENT when no
 * Monitor has that name. */
int api_monitor_check_now(store *st, const char *home, const char *name, store_monitor_check *out, mp_err *e);
/* `get monitors`: each applied Monitor with its spec's summary and last check (a JSON
 * array, a new reference; NULL with e on a store error). */
json_t *api_monitors_json(store *st, mp_err *e);
/* `describe monitor NAME`: the same with the last check's columns, the last 20 checks
 * and the Monitor's events. NULL with e (MP_ENOENT: no such Monitor). */
json_t *api_monitor_describe_json(store *st, const char *name, mp_err *e);
/* The Monitors' families of GET /metrics from their last checks, appended to b:
 * mlplane_monitor_drift_detected{monitor,column}, mlplane_monitor_dataset_drift{monitor},
 * mlplane_monitor_drifted_columns_ratio{monitor}, mlplane_monitor_last_check_status{monitor,status},
 * mlplane_monitor_last_check_timestamp_seconds{monitor}. 0, or the store's error. */
int api_monitors_render_metrics(store *st, mp_buf *b, mp_err *e);
/* GET /api/v1/monitors (get monitors), GET /api/v1/monitors/{name} (describe monitor),
 * POST /api/v1/monitors/{name}/check (monitor check: the recorded check, as describe's
 * lastCheck). */
void api_h_monitors(const mp_http_req *req, mp_http_resp *resp);
/* GET /api/v1/lineage/models/{name}/versions/{version} (or .../aliases/{alias}) and
 * /api/v1/lineage/artifacts/{hash} (lineage.c). */
void api_h_lineage_model(const mp_http_req *req, mp_http_resp *resp);
void api_h_lineage_artifact(const mp_http_req *req, mp_http_resp *resp);
void api_h_monitor_get(const mp_http_req *req, mp_http_resp *resp);
void api_h_monitor_check(const mp_http_req *req, mp_http_resp *resp);

#endif
