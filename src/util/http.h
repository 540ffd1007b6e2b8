/* http.h — HTTP for every server in mlplane: the request/response shapes that
 * handlers see, and the one HTTP engine (httpd.c, libmicrohttpd) that runs them.
 *
 * Handlers never see libmicrohttpd: the engine fills an mp_http_req, calls the
 * server's handler and sends the mp_http_resp it got back. `mlplane server`
 * (src/api) routes through the tables of api and track (the MLflow REST API);
 * `mlplane serve` (src/serve) hands every request to its Open Inference
 * Protocol layer, which a router can equally call without any HTTP server.
 *
 * Threads: the engine calls handlers on its worker threads, concurrently. In
 * `mlplane server` each request carries the store handle of its worker thread
 * (one SQLite connection per thread), so a handler uses req->st and nothing
 * global. */
#ifndef MLPLANE_HTTP_H
#define MLPLANE_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

struct store;

/* What the caller of a request may do, for handlers below api (the MLflow API in
 * track) that must filter what they list or answer a hidden object as a missing
 * one. The server sets it on every request it authenticated (mp_http_req.authz);
 * NULL means everything is allowed (authentication off). See mp_http_allowed. */
typedef struct mp_http_authz {
    const char *user;       /* the caller's user name */
    const char *namespace_; /* the namespace a request that names none acts in */
    void *ud;
    /* Whether the caller may verb ("get", "list", "create", "update", "delete")
     * resource ("experiments", "runs", "models", ...) in namespace ns. */
    bool (*allowed)(void *ud, const char *verb, const char *resource, const char *ns);
} mp_http_authz;

/* A request's body parsed once, for the checks that run before its handler and
 * the handler itself (mp_http_body_json, mp_http_body_peek): body is the text it
 * was parsed from (a request whose body was replaced does not match), v the
 * object (a reference the cache owns). The server keeps one per request. */
typedef struct mp_http_body_cache {
    const char *body;
    json_t *v;
} mp_http_body_cache;

typedef struct mp_http_kv {
    const char *key; /* decoded */
    const char *value;
} mp_http_kv;

typedef struct mp_http_req {
    const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *path;   /* decoded path without the query, e.g. "/api/2.0/mlflow/runs/get" */
    /* For prefix routes (path ending in a slash and a star): the part of the path
     * after the prefix (e.g. an artifact's path), else "". */
    const char *tail;
    /* The route's {name} segments, in order (see mp_http_param). */
    const mp_http_kv *params;
    size_t nparams;
    const mp_http_kv *query; /* query parameters in order; repeated keys repeat */
    size_t nquery;
    const char *body; /* the request body (NUL-terminated), "" when none */
    size_t body_len;
    const char *content_type; /* may be NULL */
    const char *host;         /* the Host header, may be NULL */
    struct store *st;         /* this worker thread's store handle (mlplane server), else NULL */
    const char *home;         /* the mlplane home */
    const char *base_url;     /* how clients reach this server, e.g. "http://127.0.0.1:5000" */
    /* The request headers as received (names and values raw bytes, values
     * without the surrounding whitespace), in order; see mp_http_req_header. */
    const mp_http_kv *headers;
    size_t nheaders;
    /* The engine's handle of this request when its answer may be deferred
     * (mp_httpd_defer), else NULL. Opaque; valid while the handler runs. */
    void *engine;
    /* The peer's address as text ("127.0.0.1", "::1", "unix"), "" when unknown. */
    const char *remote_addr;
    /* What the caller may do (see mp_http_authz); NULL: everything. */
    const mp_http_authz *authz;
    /* Where the body is kept once parsed (NULL: parsed at each use). */
    mp_http_body_cache *body_cache;
} mp_http_req;

typedef struct mp_http_header {
    char name[64];
    char value[512];
} mp_http_header;

typedef struct mp_http_resp {
    int status;              /* 200 unless set */
    mp_buf body;             /* response body */
    char content_type[96];   /* default "application/json" */
    char *file_path;         /* when set (heap), the body is this file's contents, streamed */
    mp_http_header headers[8];
    int nheaders;
} mp_http_resp;

typedef void (*mp_http_handler)(const mp_http_req *req, mp_http_resp *resp);

/* A route: a method and a path pattern. The pattern is literal segments and
 * {name} segments, each of which matches one non-empty segment of at most
 * MP_HTTP_PARAM_MAX bytes (read back with mp_http_param), optionally ending in
 * slash-star, which matches any tail (mp_http_req.tail), or none:
 * "/api/v1/runs/{id}/logs", "/api/v1/objects/{kind}/{name}", "/artifacts" + slash-star. */
typedef struct mp_http_route {
    const char *method; /* "GET", ..., or "*" for any */
    const char *path;
    mp_http_handler fn;
} mp_http_route;

#define MP_HTTP_PARAMS 4      /* {name} segments in one pattern, at most */
#define MP_HTTP_PARAM_MAX 255 /* bytes of one segment a {name} matches */

/* What a route's pattern matched in a path. */
typedef struct mp_http_match {
    const char *tail; /* for a slash-star pattern: the part after the prefix, else "" */
    mp_http_kv params[MP_HTTP_PARAMS];
    size_t nparams;
    char buf[MP_HTTP_PARAMS * (MP_HTTP_PARAM_MAX + 1) + 256]; /* the params' names and values */
} mp_http_match;

/* The value of the route's {key} segment, or NULL. */
const char *mp_http_param(const mp_http_req *req, const char *key);

/* Whether req's caller may verb resource in namespace ns (true when req->authz is NULL). */
bool mp_http_allowed(const mp_http_req *req, const char *verb, const char *resource, const char *ns);

/* The first value of query parameter key, or NULL. */
const char *mp_http_query(const mp_http_req *req, const char *key);
/* The value of the first request header named name (case-insensitive), or NULL. */
const char *mp_http_req_header(const mp_http_req *req, const char *name);

/* Calls fn for each request header, in order. */
void mp_http_req_headers(const mp_http_req *req, void (*fn)(void *ud, const char *name, const char *value), void *ud);

/* Sets the response to status and the JSON v (a new reference, taken: v is
 * decref'd here). */
void mp_http_json(mp_http_resp *resp, int status, json_t *v);
/* Sets a plain-text body. */
void mp_http_text(mp_http_resp *resp, int status, const char *fmt, ...) MP_PRINTF(3, 4);
/* Adds a response header (ignored beyond 8); control bytes in value (CR, LF: a header
 * injection) become spaces. */
void mp_http_header_add(mp_http_resp *resp, const char *name, const char *value);

void mp_http_resp_init(mp_http_resp *resp);
void mp_http_resp_free(mp_http_resp *resp);

/* Parses the request body as a JSON object. On failure fills resp with 400 and
 * {"error_code":"INVALID_PARAMETER_VALUE","message":"malformed JSON at line L
 * column C: ..."} (MLflow's error shape) and returns NULL. An empty body is {}. */
json_t *mp_http_body_json(const mp_http_req *req, mp_http_resp *resp);

/* The request body as a JSON object (a new reference), or NULL when it is empty,
 * malformed or not an object; parsed once per request when req has a body_cache. */
json_t *mp_http_body_peek(const mp_http_req *req);

/* Whether req's body has been parsed already (its cache holds the object). */
bool mp_http_body_parsed(const mp_http_req *req);

/* Fills resp with MLflow's error shape: {"error_code": code, "message": ...}. */
void mp_http_mlflow_error(mp_http_resp *resp, int status, const char *code, const char *fmt, ...) MP_PRINTF(4, 5);

/* Finds the first route of a table whose method and pattern match; *m receives
 * what the pattern matched (m->tail points into path). Returns NULL when none
 * does; *path_known (may be NULL) is set when a pattern matched but not its
 * method (a 405 rather than a 404). */
const mp_http_route *mp_http_route_find(const mp_http_route *routes, size_t n, const char *method, const char *path,
                                        mp_http_match *m, bool *path_known);
/* Appends to allow ("GET, POST", comma-separated, no repeats) the methods of the
 * routes of a table whose pattern matches path. */
void mp_http_route_allow(const mp_http_route *routes, size_t n, const char *path, mp_buf *allow);
/* The one 405: MLflow's error shape, with the Allow header. */
void mp_http_not_allowed(mp_http_resp *resp, const char *method, const char *path, const char *allow);

/* ---- listen addresses ------------------------------------------------------------- */

/* Parses "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (host defaults to 127.0.0.1)
 * into host (without brackets) and port (0..65535; 0 = any free port).
 * Returns 0 or MP_EINVAL with a message. Pure. */
int mp_http_parse_listen(const char *s, char *host, size_t hostn, int *port, mp_err *e);

/* ---- the engine (httpd.c) -------------------------------------------------------------
 * libmicrohttpd in epoll mode with an internal pool of worker threads (or, when
 * asked, poll and one thread per connection). Before a
 * handler runs, the engine answers by itself (through opts.error, in the
 * server's own error shape): a URL that is not a path (404), an encoded NUL in
 * the URL (400), a body over max_body (413, at once when Content-Length says
 * so). Everything else goes to opts.handler with the body read whole. */

typedef struct mp_httpd mp_httpd;

/* Answers one request (on a worker thread, concurrently with others). */
typedef void (*mp_httpd_handler)(void *cls, const mp_http_req *req, mp_http_resp *resp);
/* Fills resp with status and msg in the server's error shape; code is a short
 * machine name ("ENDPOINT_NOT_FOUND", "INVALID_PARAMETER_VALUE",
 * "RESOURCE_LIMIT_EXCEEDED") for shapes that carry one. */
typedef void (*mp_httpd_error_fn)(void *cls, mp_http_resp *resp, int status, const char *code, const char *msg);

typedef struct mp_httpd_opts {
    /* "HOST:PORT" (see mp_http_parse_listen) or "unix:PATH" for a unix-domain
     * socket (a stale socket file at PATH is replaced; one a live server
     * listens on is refused; the file is removed on stop). */
    const char *listen;
    int threads;           /* worker threads; 0 = 4 (ignored with thread_per_connection) */
    /* One thread per connection instead of a pool in epoll mode: a handler
     * may then block (a router waiting for a backend) without holding up the
     * other connections a pool thread would serve. */
    bool thread_per_connection;
    size_t max_body;       /* request body limit in bytes; 0 = 64 MiB */
    int timeout_s;         /* idle connection timeout; 0 = 30 */
    int drain_s;           /* on stop, how long in-flight requests may take; 0 = 10 */
    /* Memory per connection for its headers and read buffer (the largest request
     * head it takes); 0 = 128 KiB. libmicrohttpd clears it between the requests
     * of a keep-alive connection, so a server of small requests wants it small. */
    size_t conn_memory;
    bool verbose;          /* one line per request on stderr */
    /* Above 2: a TCP socket listening already (inherited from a parent that
     * keeps it across its children, as `mlplane server` does for Deployments),
     * used instead of binding listen; closed on stop. */
    int listen_fd;
    const char *log_name;  /* prefix of libmicrohttpd's messages, e.g. "mlplane server" */
    /* HTTPS: the PEM file of the server's certificate (then any intermediate
     * ones) and the PEM file of its unencrypted private key, both or neither
     * (read at start: an unreadable file, or a key of another certificate, is
     * an MP_EINVAL error naming it; the engine keeps no pointer to these). The
     * engine's URL then says https://, and mp_httpd_reload_tls rereads them. */
    const char *tls_cert;
    const char *tls_key;
    mp_httpd_handler handler;
    mp_httpd_error_fn error;
    void *cls;             /* passed to handler, error and loop_hook; must outlive the engine */
    /* Optional (not with thread_per_connection): the engine runs its own event
     * loop on each of its threads (libmicrohttpd in external epoll mode, one
     * daemon per thread on the shared listening socket) and calls loop_hook
     * on that thread after each round of the loop: after the requests that
     * were ready have been read and handed to the handler, before the thread
     * waits for more. Handlers of such an engine may defer their answer
     * (mp_httpd_defer) and the hook lets them go on (mp_httpd_resume):
     * requests that arrived together can be answered together. */
    void (*loop_hook)(void *cls);
} mp_httpd_opts;

/* A request whose answer was deferred: the engine's, valid until its finish
 * function has run. */
typedef struct mp_httpd_later mp_httpd_later;

/* Answers a deferred request: fills resp (as a handler would) and frees what
 * arg holds. Called exactly once per deferral, on the thread that deferred,
 * with resp NULL when the connection went away before it could be answered
 * (then only arg is freed). */
typedef void (*mp_httpd_finish_fn)(void *arg, mp_http_resp *resp);

/* From a handler of an engine with loop_hook: defers the answer to req. The
 * handler then returns leaving resp untouched; the connection waits until
 * mp_httpd_resume, then finish(arg, resp) runs and its resp is sent. Returns
 * NULL, deferring nothing, when req cannot be deferred (no engine, or not a
 * loop_hook engine): answer at once then. */
mp_httpd_later *mp_httpd_defer(const mp_http_req *req, mp_httpd_finish_fn finish, void *arg);
/* Lets a deferred request go on. Only on the thread that deferred it, after
 * the handler returned (from loop_hook); every deferral must be resumed
 * before loop_hook returns. */
void mp_httpd_resume(mp_httpd_later *l);

/* Binds (a listen address it cannot bind is an MP_EIO or MP_EINVAL error) and
 * starts the workers. Signals the caller wants to handle itself must be blocked
 * before this call (the workers inherit the mask). *out is freed by
 * mp_httpd_stop. */
int mp_httpd_start(const mp_httpd_opts *o, mp_httpd **out, mp_err *e);
/* Binds and listens (backlog 511, close-on-exec, non-blocking) on the TCP
 * address listen ("HOST:PORT", see mp_http_parse_listen): *fd, and in url
 * "http://HOST:PORT" with the port actually bound. */
int mp_http_listen_tcp(const char *addr, int *fd, char *url, size_t n, mp_err *e);
/* "http://HOST:PORT" ("https://" with TLS) with the port actually bound, or "unix:PATH" (valid until stop). */
const char *mp_httpd_url(const mp_httpd *s);
/* Rereads the TLS certificate and key files of s (opts.tls_cert/tls_key):
 * handshakes from now on present the new pair, connections already open keep
 * theirs. When a file cannot be read or the pair does not hold (see
 * mp_httpd_opts), the pair loaded before goes on serving and the error names
 * the file. MP_EINVAL when s serves no TLS. Any thread, while s runs. */
int mp_httpd_reload_tls(mp_httpd *s, mp_err *e);
/* Whether cert and key (either may be NULL) would do as opts.tls_cert and
 * tls_key: both or neither, readable, and a certificate with its key. Returns
 * 0 or MP_EINVAL naming the file at fault. Reads the files; no state. */
int mp_httpd_tls_check(const char *cert, const char *key, mp_err *e);
/* Stops accepting, waits up to drain_s for requests in flight (their responses
 * say Connection: close), stops and joins the workers and frees s. */
void mp_httpd_stop(mp_httpd *s);

#endif
