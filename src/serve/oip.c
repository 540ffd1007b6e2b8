/* oip.c — the Open Inference Protocol v2 REST layer: a function from a request
 * (method, path, body) to a response (status, body, headers), with no HTTP
 * server inside, so that `mlplane serve` and a router in front of several
 * servers can both call it.
 *
 *   GET  /v2                                         server metadata (extensions:
 *                                                    binary_tensor_data)
 *   GET  /v2/health/live, /v2/health/ready           liveness, readiness
 *   GET  /v2/models/NAME[/versions/V]                model metadata
 *   GET  /v2/models/NAME[/versions/V]/ready          model readiness
 *   POST /v2/models/NAME[/versions/V]/infer          inference (infer.c)
 *   GET  /metrics                                    Prometheus text: the requests
 *                                                    answered by each version, as a
 *                                                    router counts them (metrics.c)
 *
 * The endpoints are one table (kind, method, handler); a path is split into its
 * segments once. Errors are {"error": "..."}: 404 for an unknown path, model
 * or version, 405 (with Allow) for a known path and the wrong method.
 *
 * Every request but the health checks and /metrics is counted (status, time
 * to its answer, in flight) under the version of the model it names, else
 * the first model's, as a router counts the requests it forwards to its
 * stable version; a deferred one (a batch) when its finish runs.
 *
 * Threads: the model table is filled before requests are handled and only read
 * afterwards; ready and the counts are atomic. serve_oip_handle is reentrant. */
#include "serve/serve_int.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct serve_oip {
    serve__entry *models; /* in the order added; the first of a name answers when no version is asked */
    size_t n;
    atomic_bool ready;
};

serve_oip *serve_oip_new(void) {
    serve_oip *o = mp_xcalloc(1, sizeof *o);
    atomic_init(&o->ready, true);
    return o;
}

int serve_oip_add(serve_oip *o, serve_model *m, mp_err *e) {
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->models[i].m->name, m->name) == 0 && strcmp(o->models[i].m->version, m->version) == 0)
            return mp_err_set(e, MP_EEXIST, "model %s version %s is served already", m->name, m->version);
    o->models = mp_xrealloc(o->models, (o->n + 1) * sizeof *o->models);
    o->models[o->n++] = (serve__entry){
        .m = m,
        .name_json = serve__json_string(m->name),
        .version_json = serve__json_string(m->version),
        .stats = mp_xcalloc(1, sizeof(serve__reqstats)),
    };
    return 0;
}

void serve_oip_set_ready(serve_oip *o, bool ready) {
    atomic_store(&o->ready, ready);
}

void serve_oip_free(serve_oip *o) {
    if (!o) return;
    for (size_t i = 0; i < o->n; i++) {
        serve_model_free(o->models[i].m);
        free(o->models[i].name_json);
        free(o->models[i].version_json);
        free(o->models[i].stats);
    }
    free(o->models);
    free(o);
}

void serve_oip_not_allowed(mp_http_resp *resp, const char *method, const char *path, const char *allow) {
    serve_oip_error(resp, 405, "%s is not allowed on %s (allowed: %s)", method, path, allow);
    mp_http_header_add(resp, "Allow", allow);
}

void serve_oip_error(mp_http_resp *resp, int status, const char *fmt, ...) {
    mp_buf m, clean;
    mp_buf_init(&m);
    mp_buf_init(&clean);
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    mp_utf8_clean(&clean, m.data, m.len, false); /* JSON strings are UTF-8 */
    mp_http_json(resp, status, json_pack("{s:s}", "error", clean.data));
    mp_buf_free(&m);
    mp_buf_free(&clean);
}

/* ---- paths --------------------------------------------------------------------------- */

typedef enum ep_kind {
    EP_NONE, EP_SERVER_META, EP_LIVE, EP_READY, EP_MODEL_META, EP_MODEL_READY, EP_INFER, EP_METRICS
} ep_kind;

typedef struct target {
    ep_kind kind;
    char *name;          /* model endpoints: the model's name (heap) */
    char *version;       /* and the version asked for (heap), or NULL */
    int64_t t0_us;       /* the request's arrival (monotonic), for its count */
} target;

/* Splits path into segments (heap copies); a path with an empty segment inside
 * ("/v2//x") has none. Returns the count, at most max. */
static size_t split(const char *path, char **seg, size_t max) {
    size_t n = 0;
    const char *p = path;
    if (*p != '/') return 0;
    p++;
    size_t len = strlen(p);
    if (len > 0 && p[len - 1] == '/') len--; /* "/v2/" is "/v2" */
    const char *end = p + len;
    while (p < end) {
        const char *s = memchr(p, '/', (size_t)(end - p));
        if (!s) s = end;
        if (s == p || n == max) {
            for (size_t i = 0; i < n; i++) free(seg[i]);
            return 0;
        }
        seg[n++] = mp_xstrndup(p, (size_t)(s - p));
        p = s + 1;
    }
    return n;
}

static target parse_path(const char *path) {
    target t = {.kind = EP_NONE};
    char *seg[7];
    size_t n = split(path, seg, 7);
    if (n == 1 && strcmp(seg[0], "metrics") == 0) t.kind = EP_METRICS;
    if (n >= 1 && strcmp(seg[0], "v2") == 0) {
        if (n == 1) t.kind = EP_SERVER_META;
        else if (n == 3 && strcmp(seg[1], "health") == 0 && strcmp(seg[2], "live") == 0) t.kind = EP_LIVE;
        else if (n == 3 && strcmp(seg[1], "health") == 0 && strcmp(seg[2], "ready") == 0) t.kind = EP_READY;
        else if (n >= 3 && strcmp(seg[1], "models") == 0) {
            /* models/NAME [versions/V] [ready|infer] */
            size_t rest = 3;
            bool ok = true;
            if (n >= 5 && strcmp(seg[3], "versions") == 0) {
                t.version = mp_xstrdup(seg[4]);
                rest = 5;
            }
            if (n == rest) t.kind = EP_MODEL_META;
            else if (n == rest + 1 && strcmp(seg[rest], "ready") == 0) t.kind = EP_MODEL_READY;
            else if (n == rest + 1 && strcmp(seg[rest], "infer") == 0) t.kind = EP_INFER;
            else ok = false;
            if (ok) t.name = mp_xstrdup(seg[2]);
            else {
                free(t.version);
                t.version = NULL;
            }
        }
    }
    for (size_t i = 0; i < n; i++) free(seg[i]);
    return t;
}

/* The served model the target names, or NULL with a 404 in resp. */
static const serve__entry *find_model(serve_oip *o, const target *t, mp_http_resp *resp) {
    const serve__entry *by_name = NULL;
    for (size_t i = 0; i < o->n; i++) {
        if (strcmp(o->models[i].m->name, t->name) != 0) continue;
        if (!by_name) by_name = &o->models[i];
        if (!t->version || strcmp(o->models[i].m->version, t->version) == 0) return &o->models[i];
    }
    mp_buf names;
    mp_buf_init(&names);
    for (size_t i = 0; i < o->n; i++)
        if (!by_name || strcmp(o->models[i].m->name, t->name) == 0)
            mp_buf_printf(&names, "%s%s", names.len ? ", " : "", by_name ? o->models[i].m->version : o->models[i].m->name);
    if (by_name) serve_oip_error(resp, 404, "model %s has no version %s (served: %s)", t->name, t->version, names.data);
    else serve_oip_error(resp, 404, "unknown model %s (served: %s)", t->name, names.len ? names.data : "none");
    mp_buf_free(&names);
    return NULL;
}

/* ---- endpoints ------------------------------------------------------------------------- */

static json_t *tensor_json(const char *name, size_t width) {
    json_t *shape = json_pack("[i]", -1);
    if (width > 0) json_array_append_new(shape, json_integer((json_int_t)width));
    return json_pack("{s:s,s:s,s:o}", "name", name, "datatype", "FP32", "shape", shape);
}

static bool ep_server_meta(serve_oip *o, const target *t, const mp_http_req *req, mp_http_resp *resp) {
    (void)o, (void)t, (void)req;
    mp_http_json(resp, 200,
                 json_pack("{s:s,s:s,s:[s]}", "name", "mlplane", "version", MLPLANE_VERSION, "extensions", "binary_tensor_data"));
    return false;
}

static bool ep_live(serve_oip *o, const target *t, const mp_http_req *req, mp_http_resp *resp) {
    (void)o, (void)t, (void)req;
    mp_http_json(resp, 200, json_pack("{s:b}", "live", 1));
    return false;
}

/* Not ready is a 4xx, as the protocol's health API asks. */
static bool ep_ready(serve_oip *o, const target *t, const mp_http_req *req, mp_http_resp *resp) {
    (void)t, (void)req;
    bool ready = atomic_load(&o->ready) && o->n > 0;
    mp_http_json(resp, ready ? 200 : 400, json_pack("{s:b}", "ready", ready));
    return false;
}

static bool ep_model_meta(serve_oip *o, const target *t, const mp_http_req *req, mp_http_resp *resp) {
    (void)req;
    const serve__entry *en = find_model(o, t, resp);
    if (!en) return false;
    const serve_model *m = en->m;
    json_t *versions = json_array();
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->models[i].m->name, m->name) == 0) json_array_append_new(versions, json_string(o->models[i].m->version));
    json_t *v = json_pack("{s:s,s:o,s:s,s:[o],s:[o]}", "name", m->name, "versions", versions, "platform", m->meta.platform,
                          "inputs", tensor_json(m->input_name, m->meta.nfeatures), "outputs",
                          tensor_json(m->output_name, m->meta.noutputs > 1 ? m->meta.noutputs : 0));
    mp_http_json(resp, 200, v);
    return false;
}

static bool ep_model_ready(serve_oip *o, const target *t, const mp_http_req *req, mp_http_resp *resp) {
    (void)req;
    const serve__entry *en = find_model(o, t, resp);
    if (!en) return false;
    bool ready = atomic_load(&o->ready);
    mp_http_json(resp, ready ? 200 : 400, json_pack("{s:s,s:b}", "name", en->m->name, "ready", ready));
    return false;
}

static bool ep_infer(serve_oip *o, const target *t, const mp_http_req *req, mp_http_resp *resp) {
    const serve__entry *en = find_model(o, t, resp);
    return en && serve__infer(en, req, resp, t->t0_us);
}

static bool ep_metrics(serve_oip *o, const target *t, const mp_http_req *req, mp_http_resp *resp) {
    (void)t, (void)req;
    const char **versions = mp_xcalloc(o->n + 1, sizeof *versions);
    serve__reqstats **stats = mp_xcalloc(o->n + 1, sizeof *stats);
    for (size_t i = 0; i < o->n; i++) {
        versions[i] = o->models[i].m->version;
        stats[i] = o->models[i].stats;
    }
    mp_buf *b = &resp->body;
    serve__reqstats_render(b, o->n, versions, stats,
                           "Requests the server answered, by the model version and the status code returned.",
                           "Time from a request's arrival to its answer.");
    mp_prom_family(b, "mlplane_serve_inflight", "gauge", "Requests being answered.");
    for (size_t i = 0; i < o->n; i++) {
        mp_buf_puts(b, "mlplane_serve_inflight{version=\"");
        mp_prom_label_value(b, versions[i]);
        mp_buf_printf(b, "\"} %d\n", atomic_load(&stats[i]->inflight));
    }
    mp_prom_family(b, "mlplane_serve_ready", "gauge", "1 while the server takes requests (GET /v2/health/ready answers 200).");
    mp_buf_printf(b, "mlplane_serve_ready %d\n", atomic_load(&o->ready) && o->n > 0);
    unsigned long long calls = 0, batched = 0;
    serve__batch_counts(&calls, &batched);
    mp_prom_family(b, "mlplane_serve_batch_calls_total", "counter",
                         "Runtime calls that predicted a batch of small inference requests read together.");
    mp_buf_printf(b, "mlplane_serve_batch_calls_total %llu\n", calls);
    mp_prom_family(b, "mlplane_serve_batch_requests_total", "counter", "Inference requests those calls answered.");
    mp_buf_printf(b, "mlplane_serve_batch_requests_total %llu\n", batched);
    mp_prom_build_info(b);
    free(versions);
    free(stats);
    resp->status = 200;
    mp_strlcpy(resp->content_type, MP_PROM_CONTENT_TYPE, sizeof resp->content_type);
    return false;
}

/* Answers req; true when the answer is deferred (ep_infer's batch). */
typedef bool (*ep_fn)(serve_oip *o, const target *t, const mp_http_req *req, mp_http_resp *resp);


static const struct endpoint {
    ep_kind kind;
    const char *method;
    ep_fn fn;
} endpoints[] = {
    {EP_SERVER_META, "GET", ep_server_meta},
    {EP_LIVE, "GET", ep_live},
    {EP_READY, "GET", ep_ready},
    {EP_MODEL_META, "GET", ep_model_meta},
    {EP_MODEL_READY, "GET", ep_model_ready},
    {EP_INFER, "POST", ep_infer},
    {EP_METRICS, "GET", ep_metrics},
};

/* The counts a request to t goes to: the model it names (a version it has),
 * else the first model's; none for the health checks and /metrics. */
static serve__reqstats *counted_in(serve_oip *o, const target *t) {
    if (o->n == 0 || t->kind == EP_LIVE || t->kind == EP_READY || t->kind == EP_METRICS) return NULL;
    for (size_t i = 0; t->name && i < o->n; i++)
        if (strcmp(o->models[i].m->name, t->name) == 0 && (!t->version || strcmp(o->models[i].m->version, t->version) == 0))
            return o->models[i].stats;
    return o->models[0].stats;
}

void serve__answered(const serve__entry *en, int status, int64_t t0_us) {
    atomic_fetch_sub_explicit(&en->stats->inflight, 1, memory_order_relaxed);
    if (status > 0) serve__reqstats_observe(en->stats, status, mp_mono_us() - t0_us);
}

void serve_oip_handle(serve_oip *o, const mp_http_req *req, mp_http_resp *resp) {
    int64_t t0 = mp_mono_us();
    target t = parse_path(req->path ? req->path : "");
    t.t0_us = t0;
    serve__reqstats *rs = counted_in(o, &t);
    if (rs) atomic_fetch_add_explicit(&rs->inflight, 1, memory_order_relaxed);
    bool deferred = false;
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    const struct endpoint *ep = NULL;
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++)
        if (endpoints[i].kind == t.kind) ep = &endpoints[i];
    if (!ep) {
        serve_oip_error(resp, 404, "no endpoint %s %s (see GET /v2 and /v2/models/NAME)", req->method, req->path);
    } else if (strcmp(ep->method, method) != 0) {
        serve_oip_not_allowed(resp, req->method, req->path, ep->method);
    } else {
        deferred = ep->fn(o, &t, req, resp);
    }
    if (rs && !deferred) {
        atomic_fetch_sub_explicit(&rs->inflight, 1, memory_order_relaxed);
        serve__reqstats_observe(rs, resp->status, mp_mono_us() - t0);
    }
    free(t.name);
    free(t.version);
}

/* ---- behind the HTTP engine --------------------------------------------------------------- */

static void http_handle(void *cls, const mp_http_req *req, mp_http_resp *resp) {
    serve_oip_handle(cls, req, resp);
}

static void http_error(void *cls, mp_http_resp *resp, int status, const char *code, const char *msg) {
    (void)cls, (void)code;
    serve_oip_error(resp, status, "%s", msg);
}

int serve_http_start(serve_oip *o, const mp_httpd_opts *opts, mp_httpd **out, mp_err *e) {
    mp_httpd_opts h = *opts;
    h.handler = http_handle;
    h.error = http_error;
    h.cls = o;
    h.loop_hook = serve__batch_flush; /* small requests are predicted together: batch.c */
    if (!h.log_name) h.log_name = "mlplane serve";
    return mp_httpd_start(&h, out, e);
}
