/* mirror.c — what a deployment does with each answered inference request: the
 * request log line (when the request's id is sampled) and a copy for the
 * shadow version (when the split mirrors it).
 *
 * The request's id is its JSON "id", else its X-Request-Id header, else one
 * made here (PID-TIME-N); the body is parsed (jansson) only when the
 * deployment keeps a request log. The log line holds the features as rows
 * (a flat [n, f] tensor is cut into n rows of f), the first output's data
 * (or every output's, when there are several) and the version that answered.
 *
 * Only requests the split routed are copied (not those naming a version in
 * their path). The copies go to the shadow's sender (shadow.c: a bounded
 * queue, DEPLOY_SHADOW_THREADS threads sending them to the shadow's pool),
 * which hands back each answer; those of sampled ones are logged with
 * "shadow": true. The client's answer never waits for the shadow. Threads:
 * deploy__answered on the router's HTTP threads, shadow_done on the sender's. */
#include "serve/deploy_int.h"
#include "serve/router_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- requests --------------------------------------------------------------------- */

bool deploy__is_infer(const mp_http_req *req) {
    if (!req->path || strcmp(req->method, "POST") != 0 || !mp_str_starts(req->path, "/v2/models/")) return false;
    size_t n = strlen(req->path);
    if (n > 0 && req->path[n - 1] == '/') n--;
    return n >= 6 && strncmp(req->path + n - 6, "/infer", 6) == 0;
}

bool deploy__path_version(const char *path, char *out, size_t n) {
    if (!path || !mp_str_starts(path, "/v2/models/")) return false;
    const char *p = strstr(path + strlen("/v2/models/"), "/versions/");
    if (!p) return false;
    p += strlen("/versions/");
    size_t len = strcspn(p, "/");
    if (len == 0 || len >= n) return false;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

/* The JSON part of a body: all of it, or its first Inference-Header-Content-Length
 * bytes (the binary tensor extension). NULL when it is not JSON. */
static json_t *json_part(const char *body, size_t len, const char *header_len) {
    if (header_len) {
        char *end = NULL;
        unsigned long long h = strtoull(header_len, &end, 10);
        if (end && !*end && h <= len) len = (size_t)h;
    }
    return body && len ? json_loadb(body, len, 0, NULL) : NULL;
}

static const char *resp_header(const mp_http_resp *resp, const char *name) {
    for (int i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0) return resp->headers[i].value;
    return NULL;
}

/* One input tensor's data as rows: [n, f] flat data becomes n arrays of f. */
static json_t *rows_of(json_t *in) {
    json_t *data = json_object_get(in, "data"), *shape = json_object_get(in, "shape");
    if (!json_is_array(data)) return json_null();
    size_t n = json_array_size(data);
    if (json_is_array(shape) && json_array_size(shape) == 2 && n > 0 && !json_is_array(json_array_get(data, 0))) {
        json_int_t rows = json_integer_value(json_array_get(shape, 0)), cols = json_integer_value(json_array_get(shape, 1));
        if (rows > 0 && cols > 0 && (size_t)(rows * cols) == n) {
            json_t *out = json_array();
            for (json_int_t r = 0; r < rows; r++) {
                json_t *row = json_array();
                for (json_int_t c = 0; c < cols; c++) json_array_append(row, json_array_get(data, (size_t)(r * cols + c)));
                json_array_append_new(out, row);
            }
            return out;
        }
    }
    return json_incref(data);
}

/* The features of a request (one input: its rows; several: an array of each's). */
static json_t *features(json_t *req) {
    json_t *inputs = json_object_get(req, "inputs");
    if (!json_is_array(inputs) || json_array_size(inputs) == 0) return json_null();
    if (json_array_size(inputs) == 1) return rows_of(json_array_get(inputs, 0));
    json_t *all = json_array();
    size_t i;
    json_t *in;
    json_array_foreach(inputs, i, in) json_array_append_new(all, rows_of(in));
    return all;
}

/* The prediction of an answer (one output: its data; several: an array of each's). */
static json_t *prediction(json_t *resp) {
    json_t *outputs = json_object_get(resp, "outputs");
    if (!json_is_array(outputs) || json_array_size(outputs) == 0) return json_null();
    if (json_array_size(outputs) == 1) {
        json_t *data = json_object_get(json_array_get(outputs, 0), "data");
        return data ? json_incref(data) : json_null();
    }
    json_t *all = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(outputs, i, o) {
        json_t *data = json_object_get(o, "data");
        json_array_append(all, data ? data : json_null());
    }
    return all;
}

static const char *pool_version(const serve_deploy *d, size_t pool) {
    for (int t = 0; t < DEPLOY_TRACKS; t++)
        if (d->pool[t] == (int)pool) return d->version[t];
    return d->version[DEPLOY_STABLE];
}

/* Writes the log line of one answered request (body: the request's JSON, or NULL). */
static void log_line(serve_deploy *d, const char *version, const char *id, int64_t time_ms, int64_t latency_us,
                     json_t *body, const mp_http_resp *resp, bool shadow) {
    json_t *in = body ? features(body) : json_null();
    json_t *answer = json_part(resp->body.data, resp->body.len, resp_header(resp, "Inference-Header-Content-Length"));
    json_t *out = answer && resp->status == 200 ? prediction(answer) : json_null();
    const char *err = NULL;
    char why[64];
    if (resp->status != 200) {
        err = json_string_value(json_object_get(answer, "error"));
        if (!err) {
            snprintf(why, sizeof why, "status %d", resp->status);
            err = why;
        }
    }
    serve_reqlog_entry en = {.time_ms = time_ms, .id = id, .model = d->name, .version = version,
                             .latency_ms = (double)latency_us / 1000.0, .inputs = in, .outputs = out,
                             .shadow = shadow, .error = err};
    mp_err e = {0};
    bool written = false;
    if (serve_reqlog_write(d->log, &en, &written, &e) != 0) {
        if (atomic_fetch_add(&d->log_failed, 1) == 0) serve__deploy_log(d, "request log: %s", e.msg);
    }
    if (written) atomic_fetch_add(&d->logged, 1);
    json_decref(in);
    json_decref(out);
    json_decref(answer);
}

/* ---- the shadow ------------------------------------------------------------------------ */

/* A copy's answer (shadow.c): logged with "shadow": true when sampled. */
static void shadow_done(void *ud, const char *id, bool sampled, int64_t time_ms, const mp_http_req *req,
                        const mp_http_resp *resp, int64_t latency_us) {
    serve_deploy *d = ud;
    if (!sampled || !d->log) return;
    json_t *body = json_part(req->body, req->body_len, mp_http_req_header(req, "Inference-Header-Content-Length"));
    log_line(d, d->version[DEPLOY_SHADOW], id, time_ms, latency_us, body, resp, true);
    json_decref(body);
}

int deploy__mirror_start(serve_deploy *d, mp_err *e) {
    if (d->pool[DEPLOY_SHADOW] < 0) return 0;
    return serve__shadow_start(d->router, (size_t)d->pool[DEPLOY_SHADOW], DEPLOY_SHADOW_THREADS, shadow_done, d,
                               &d->shadow, e);
}

void deploy__mirror_stop(serve_deploy *d) { serve__shadow_stop(d->shadow); }

/* ---- the answered hook ----------------------------------------------------------------- */

void deploy__answered(void *ud, size_t pool, const mp_http_req *req, const mp_http_resp *resp, int64_t time_ms,
                      int64_t latency_us) {
    serve_deploy *d = ud;
    if (!deploy__is_infer(req)) return;
    char v[64];
    /* only requests the split routed are copied: not one that asked for a version */
    bool mirror = d->pool[DEPLOY_SHADOW] >= 0 && !deploy__path_version(req->path, v, sizeof v) &&
                  serve_split_mirror(d->split);
    if (!mirror && !d->log) return;
    json_t *body = d->log ? json_part(req->body, req->body_len, mp_http_req_header(req, "Inference-Header-Content-Length"))
                          : NULL;
    const char *id = json_string_value(json_object_get(body, "id"));
    if (!id || !*id) id = mp_http_req_header(req, "X-Request-Id");
    char made[64];
    if (!id || !*id) {
        snprintf(made, sizeof made, "%s-%llu", d->id_prefix, (unsigned long long)atomic_fetch_add(&d->ids, 1));
        id = made;
    }
    bool sampled = d->log && serve_reqlog_sampled(id, d->log_rate);
    if (sampled) log_line(d, pool_version(d, pool), id, time_ms, latency_us, body, resp, false);
    if (mirror && d->shadow) serve__shadow_push(d->shadow, req, id, sampled, time_ms);
    json_decref(body);
}
