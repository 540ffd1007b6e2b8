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
 * their path). The copies wait in a bounded queue for the shadow threads, which send them to
 * the shadow's pool with serve_router_forward and log the answers of sampled
 * ones with "shadow": true; the client's answer never waits for the shadow. A
 * full queue drops the copy (counted as dropped). Threads: deploy__answered on
 * the router's HTTP threads; the queue under d->qmu; DEPLOY_SHADOW_THREADS
 * threads pop it. */
#include "serve/deploy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct deploy_copy {
    char *method, *path, *body, *content_type, *id;
    size_t body_len;
    mp_http_kv *headers, *query;
    size_t nheaders, nquery;
    bool sampled;
    int64_t time_ms;
};

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

/* ---- the shadow's queue -------------------------------------------------------------- */

static void copy_free(deploy_copy *c) {
    if (!c) return;
    for (size_t i = 0; i < c->nheaders; i++) {
        free((char *)c->headers[i].key);
        free((char *)c->headers[i].value);
    }
    for (size_t i = 0; i < c->nquery; i++) {
        free((char *)c->query[i].key);
        free((char *)c->query[i].value);
    }
    free(c->headers);
    free(c->query);
    free(c->method);
    free(c->path);
    free(c->body);
    free(c->content_type);
    free(c->id);
    free(c);
}

static deploy_copy *copy_of(const mp_http_req *req, const char *id, bool sampled, int64_t time_ms) {
    deploy_copy *c = mp_xcalloc(1, sizeof *c);
    c->method = mp_xstrdup(req->method);
    c->path = mp_xstrdup(req->path);
    c->body = mp_xmalloc(req->body_len + 1);
    if (req->body_len) memcpy(c->body, req->body, req->body_len);
    c->body[req->body_len] = '\0';
    c->body_len = req->body_len;
    c->content_type = req->content_type ? mp_xstrdup(req->content_type) : NULL;
    c->id = mp_xstrdup(id);
    c->sampled = sampled;
    c->time_ms = time_ms;
    c->headers = mp_xcalloc(req->nheaders + 1, sizeof *c->headers);
    for (size_t i = 0; i < req->nheaders; i++)
        c->headers[c->nheaders++] = (mp_http_kv){mp_xstrdup(req->headers[i].key), mp_xstrdup(req->headers[i].value)};
    c->query = mp_xcalloc(req->nquery + 1, sizeof *c->query);
    for (size_t i = 0; i < req->nquery; i++)
        c->query[c->nquery++] = (mp_http_kv){mp_xstrdup(req->query[i].key), mp_xstrdup(req->query[i].value)};
    return c;
}

static void enqueue(serve_deploy *d, deploy_copy *c) {
    pthread_mutex_lock(&d->qmu);
    bool taken = !d->qstop && d->qn < DEPLOY_QUEUE_MAX;
    if (taken) {
        d->q[(d->qhead + d->qn) % DEPLOY_QUEUE_MAX] = c;
        d->qn++;
        pthread_cond_signal(&d->qcv);
    }
    pthread_mutex_unlock(&d->qmu);
    if (!taken) {
        atomic_fetch_add(&d->dropped, 1);
        copy_free(c);
    } else {
        atomic_fetch_add(&d->mirrored, 1);
    }
}

static void *shadow_main(void *arg) {
    serve_deploy *d = arg;
    for (;;) {
        pthread_mutex_lock(&d->qmu);
        while (d->qn == 0 && !d->qstop) pthread_cond_wait(&d->qcv, &d->qmu);
        deploy_copy *c = NULL;
        if (d->qn > 0 && !d->qstop) {
            c = d->q[d->qhead];
            d->qhead = (d->qhead + 1) % DEPLOY_QUEUE_MAX;
            d->qn--;
        }
        pthread_mutex_unlock(&d->qmu);
        if (!c) break;
        mp_http_req rq = {.method = c->method, .path = c->path, .tail = "", .query = c->query, .nquery = c->nquery,
                          .body = c->body, .body_len = c->body_len, .content_type = c->content_type,
                          .headers = c->headers, .nheaders = c->nheaders};
        mp_http_resp resp;
        mp_http_resp_init(&resp);
        int64_t t0 = mp_mono_us();
        serve_router_forward(d->router, (size_t)d->pool[DEPLOY_SHADOW], &rq, &resp);
        int64_t us = mp_mono_us() - t0;
        if (resp.status != 200) atomic_fetch_add(&d->shadow_failed, 1);
        if (c->sampled) {
            json_t *body = json_part(c->body, c->body_len, mp_http_req_header(&rq, "Inference-Header-Content-Length"));
            log_line(d, d->version[DEPLOY_SHADOW], c->id, c->time_ms, us, body, &resp, true);
            json_decref(body);
        }
        mp_http_resp_free(&resp);
        copy_free(c);
    }
    return NULL;
}

int deploy__mirror_start(serve_deploy *d, mp_err *e) {
    if (d->pool[DEPLOY_SHADOW] < 0) return 0;
    for (int i = 0; i < DEPLOY_SHADOW_THREADS; i++) {
        int rc = pthread_create(&d->qthread[i], NULL, shadow_main, d);
        if (rc != 0) {
            deploy__mirror_stop(d);
            return mp_err_set(e, MP_EIO, "cannot start the shadow's thread: %s", strerror(rc));
        }
        d->qthreads = i + 1;
    }
    return 0;
}

void deploy__mirror_stop(serve_deploy *d) {
    pthread_mutex_lock(&d->qmu);
    d->qstop = true;
    pthread_cond_broadcast(&d->qcv);
    pthread_mutex_unlock(&d->qmu);
    for (int i = 0; i < d->qthreads; i++) pthread_join(d->qthread[i], NULL);
    d->qthreads = 0;
    while (d->qn > 0) { /* not sent: the deployment stops */
        copy_free(d->q[d->qhead]);
        d->qhead = (d->qhead + 1) % DEPLOY_QUEUE_MAX;
        d->qn--;
        atomic_fetch_add(&d->dropped, 1);
    }
}

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
    if (mirror) enqueue(d, copy_of(req, id, sampled, time_ms));
    json_decref(body);
}
