/* http.h — the request/response shapes shared by the HTTP server (src/api) and
 * the subsystems whose handlers it routes to (src/track for the MLflow REST API,
 * src/serve later). Handlers never see libmicrohttpd: the server fills an
 * mp_http_req, calls the handler from its route table, and sends the
 * mp_http_resp it got back.
 *
 * Threads: the server calls handlers on its worker threads, concurrently; each
 * request carries the store handle of its worker thread (one SQLite connection
 * per thread), so a handler uses req->st and nothing global. */
#ifndef MLPLANE_HTTP_H
#define MLPLANE_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

struct store;

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
    const mp_http_kv *query; /* query parameters in order; repeated keys repeat */
    size_t nquery;
    const char *body; /* the request body (NUL-terminated), "" when none */
    size_t body_len;
    const char *content_type; /* may be NULL */
    struct store *st;         /* this worker thread's store handle */
    const char *home;         /* the mlplane home */
    const char *base_url;     /* how clients reach this server, e.g. "http://127.0.0.1:5000" */
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

typedef struct mp_http_route {
    const char *method; /* "GET", ..., or "*" for any */
    const char *path;   /* exact path, or a prefix ending in slash-star */
    mp_http_handler fn;
} mp_http_route;

/* The first value of query parameter key, or NULL. */
const char *mp_http_query(const mp_http_req *req, const char *key);

/* Sets the response to status and the JSON v (a new reference, taken: v is
 * decref'd here). */
void mp_http_json(mp_http_resp *resp, int status, json_t *v);
/* Sets a plain-text body. */
void mp_http_text(mp_http_resp *resp, int status, const char *fmt, ...) MP_PRINTF(3, 4);
/* Adds a response header (ignored beyond 8). */
void mp_http_header_add(mp_http_resp *resp, const char *name, const char *value);

void mp_http_resp_init(mp_http_resp *resp);
void mp_http_resp_free(mp_http_resp *resp);

/* Parses the request body as a JSON object. On failure fills resp with 400 and
 * {"error_code":"INVALID_PARAMETER_VALUE","message":"malformed JSON at line L
 * column C: ..."} (MLflow's error shape) and returns NULL. An empty body is {}. */
json_t *mp_http_body_json(const mp_http_req *req, mp_http_resp *resp);

/* Fills resp with MLflow's error shape: {"error_code": code, "message": ...}. */
void mp_http_mlflow_error(mp_http_resp *resp, int status, const char *code, const char *fmt, ...) MP_PRINTF(4, 5);

/* Finds the route for method+path in a table; *tail receives the prefix tail.
 * Returns NULL when no route matches; *path_known is set when the path matched
 * but not the method (405 rather than 404). */
const mp_http_route *mp_http_route_find(const mp_http_route *routes, size_t n, const char *method, const char *path,
                                        const char **tail, bool *path_known);

#endif
