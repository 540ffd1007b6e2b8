/* server.c — `mlplane server`: the HTTP engine of util/http.h in front of route
 * tables (api's own, then track's MLflow tables). The engine owns
 * libmicrohttpd, body limits and the drain on stop; this file routes: the path
 * is normalised (/ajax-api/2.0/... is /api/2.0/...), the route found (404, or
 * 405 with an Allow header), the worker's store attached and the handler
 * called. Errors the engine answers by itself take MLflow's shape
 * ({"error_code", "message"}), as every other error of this server.
 *
 * GET /metrics (metrics.c) is answered here, before the tables; every answer is
 * counted there by the template of the route it matched.
 *
 * Threads: api_server_start/stop run on the controlling thread (and start the
 * metrics collector thread, which owns its own store). on_request runs
 * on the engine's worker threads; each worker lazily opens its own store (kept
 * in a pthread-specific slot, and listed under mu so that stop closes every one
 * once the workers have been joined). */
#include "api/api.h"

#include <assert.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "track/track.h"

struct api_server {
    mp_httpd *h;
    api_server_opts o;     /* defaults filled in; o.home points at home */
    char *home;
    pthread_key_t key;     /* per worker thread: its store */
    pthread_mutex_t mu;    /* guards stores/nstores */
    store **stores;
    size_t nstores;
    api_metrics *metrics;
    const char **route_names; /* every table's route templates, numbered as in route_number */
    size_t nroutes;
    api_audit *audit;         /* HOME/audit/audit.log */
};

/* ---- per-thread stores ------------------------------------------------------------ */

static store *thread_store(api_server *s, mp_err *e) {
    store *st = pthread_getspecific(s->key);
    if (st) return st;
    if (store_open_home(s->home, &st, e) != 0) return NULL;
    pthread_setspecific(s->key, st);
    pthread_mutex_lock(&s->mu);
    s->stores = mp_xrealloc(s->stores, (s->nstores + 1) * sizeof *s->stores);
    s->stores[s->nstores++] = st;
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* ---- routing -------------------------------------------------------------------------- */

typedef const mp_http_route *(*route_table_fn)(size_t *n);
/* Looked up in this order; the first route that matches path and method wins. */
static const route_table_fn route_tables[] = {api_routes,           api_auth_routes,       api_authz_routes,
                                              track_routes,         track_registry_routes, track_artifact_routes};

static const mp_http_route *route_find(const char *method, const char *path, mp_http_match *m, bool *known) {
    *known = false;
    for (size_t i = 0; i < sizeof route_tables / sizeof route_tables[0]; i++) {
        size_t n = 0;
        const mp_http_route *t = route_tables[i](&n);
        if (!t || n == 0) continue;
        bool k = false;
        const mp_http_route *r = mp_http_route_find(t, n, method, path, m, &k);
        if (r) return r;
        *known |= k;
    }
    return NULL;
}

/* The number api_metrics counts route r under (-1: none matched). */
static int route_number(const mp_http_route *r) {
    int base = 0;
    for (size_t i = 0; r && i < sizeof route_tables / sizeof route_tables[0]; i++) {
        size_t n = 0;
        const mp_http_route *t = route_tables[i](&n);
        if (t && r >= t && r < t + n) return base + (int)(r - t);
        base += (int)n;
    }
    return -1;
}

/* The templates of every route, in route_number's order (heap array of borrowed strings). */
static const char **route_templates(size_t *count) {
    size_t total = 0;
    for (size_t i = 0; i < sizeof route_tables / sizeof route_tables[0]; i++) {
        size_t n = 0;
        if (route_tables[i](&n)) total += n;
    }
    const char **names = mp_xcalloc(total + 1, sizeof *names);
    size_t k = 0;
    for (size_t i = 0; i < sizeof route_tables / sizeof route_tables[0]; i++) {
        size_t n = 0;
        const mp_http_route *t = route_tables[i](&n);
        for (size_t j = 0; t && j < n; j++) names[k++] = t[j].path;
    }
    *count = k;
    return names;
}

/* Methods a known path accepts, for the Allow header of a 405 (heap). */
static char *allowed_methods(const char *path) {
    mp_buf allow;
    mp_buf_init(&allow);
    for (size_t i = 0; i < sizeof route_tables / sizeof route_tables[0]; i++) {
        size_t n = 0;
        const mp_http_route *t = route_tables[i](&n);
        if (t && n) mp_http_route_allow(t, n, path, &allow);
    }
    return mp_buf_steal(&allow);
}

/* The path routes are looked up by: /ajax-api/2.0/... (MLflow's UI prefix) is /api/2.0/... */
static const char *normalise_path(const char *url, char *buf, size_t n) {
    static const char ajax[] = "/ajax-api/2.0/";
    if (strncmp(url, ajax, sizeof ajax - 1) == 0) {
        snprintf(buf, n, "/api/2.0/%s", url + sizeof ajax - 1);
        return buf;
    }
    return url;
}

/* "http://" ("https://" with TLS) + the Host header when it looks like a host, else the bound address. */
static void base_url(api_server *s, const char *h, char *out, size_t n) {
    bool ok = h && *h && strlen(h) < 256;
    for (const char *p = h; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(".-:[]_", *p);
    if (ok) snprintf(out, n, "%s://%s", mp_str_starts(mp_httpd_url(s->h), "https://") ? "https" : "http", h);
    else mp_strlcpy(out, mp_httpd_url(s->h), n);
}

/* The engine's error shape for this server: MLflow's. */
static void on_error(void *cls, mp_http_resp *resp, int status, const char *code, const char *msg) {
    (void)cls;
    mp_http_mlflow_error(resp, status, code, "%s", msg);
}

/* What mp_http_authz.allowed asks of rbac.c: the caller and the worker's store. */
typedef struct authz_ctx {
    store *st;
    const api_principal *who;
} authz_ctx;

static bool authz_allowed(void *ud, const char *verb, const char *resource, const char *ns) {
    const authz_ctx *az = ud;
    return api__rbac_allowed(az->st, az->who, verb, resource, ns);
}

const api_principal *api__req_principal(const mp_http_req *req) {
    if (!req->authz || req->authz->allowed != authz_allowed) return NULL;
    return ((const authz_ctx *)req->authz->ud)->who;
}

static void route_request(api_server *s, const mp_http_req *in, mp_http_resp *resp, int *number, api_principal *who) {
    assert(in->body_cache); /* on_request's: the body parsed once for the check, the handler and the audit line */
    char pbuf[4096];
    const char *path = normalise_path(in->path, pbuf, sizeof pbuf);
    const char *method = in->method;
    const char *lookup = strcmp(method, "HEAD") == 0 ? "GET" : method; /* MHD drops the body of a HEAD answer */
    if (strcmp(path, "/metrics") == 0) {
        *number = (int)s->nroutes;
        if (strcmp(lookup, "GET") == 0) api_metrics_render(s->metrics, resp);
        else mp_http_not_allowed(resp, method, in->path, "GET, HEAD");
        return;
    }
    mp_http_match m;
    bool known = false;
    const mp_http_route *r = route_find(lookup, path, &m, &known);
    *number = route_number(r);
    if (!r && known) {
        char *allow = allowed_methods(path);
        mp_http_not_allowed(resp, method, in->path, allow);
        free(allow);
        return;
    }
    if (!r) {
        mp_http_mlflow_error(resp, 404, "ENDPOINT_NOT_FOUND", "no endpoint %s %s", method, in->path);
        return;
    }
    store *st = NULL;
    if (strcmp(path, "/healthz") != 0) {
        mp_err e;
        st = thread_store(s, &e);
        if (!st) {
            mp_http_mlflow_error(resp, 503, "TEMPORARILY_UNAVAILABLE", "the store cannot be opened: %s", e.msg);
            return;
        }
    }
    char burl[300];
    base_url(s, in->host, burl, sizeof burl);
    mp_http_req req = *in;
    req.method = lookup;
    req.path = path;
    req.tail = m.tail;
    req.params = m.params;
    req.nparams = m.nparams;
    req.st = st;
    req.home = s->home;
    req.base_url = burl;
    if (api__authenticate(st, s->o.auth, &req, who, resp) != 0) return;
    authz_ctx az = {.st = st, .who = who};
    mp_http_authz authz = {.user = who->user, .namespace_ = who->namespace_, .ud = &az, .allowed = authz_allowed};
    if (s->o.auth) {
        req.authz = &authz;
        if (api__authorize_route(st, who, &req, resp) == 0) r->fn(&req, resp);
    } else {
        r->fn(&req, resp);
    }
}

static void on_request(void *cls, const mp_http_req *in, mp_http_resp *resp) {
    api_server *s = cls;
    int64_t t0 = mp_mono_us();
    int number = -1;
    api_principal who = {0};
    mp_http_body_cache body = {0}; /* the body parsed once: by the check, the handler and the audit line */
    mp_http_req req = *in;
    req.body_cache = &body;
    route_request(s, &req, resp, &number, &who);
    /* The audit line is written before the answer goes out. */
    api__audit_request(s->audit, &req, number >= 0 && number < (int)s->nroutes ? s->route_names[number] : NULL, &who, resp);
    json_decref(body.v);
    api_metrics_observe(s->metrics, number, in->method, resp->status, mp_mono_us() - t0);
}

/* ---- start and stop ----------------------------------------------------------------- */

int api_server_start(const api_server_opts *o, api_server **out, mp_err *e) {
    *out = NULL;
    api_server *s = mp_xcalloc(1, sizeof *s);
    s->o = *o;
    s->home = mp_xstrdup(o->home);
    s->o.home = s->home;
    pthread_mutex_init(&s->mu, NULL);
    pthread_key_create(&s->key, NULL);
    /* The deployments' handlers reach running deployments with libcurl from the
     * workers: its global set-up is not thread-safe, so it happens here, first. */
    curl_global_init(CURL_GLOBAL_DEFAULT);

    /* Open the store once here: migrations run before any worker, and a bad home fails now. */
    store *st = NULL;
    int rc = store_open_home(s->home, &st, e);
    if (rc == 0) st->m->close(st);
    if (rc == 0) rc = api_audit_open(s->home, o->audit_key, &s->audit, e);
    if (rc == 0) {
        s->route_names = route_templates(&s->nroutes);
        rc = api_metrics_start(s->home, s->route_names, s->nroutes, &s->metrics, e);
    }
    if (rc == 0) {
        mp_httpd_opts ho = o->http;
        if (!ho.listen) ho.listen = "127.0.0.1:5000";
        ho.log_name = "mlplane server";
        ho.handler = on_request;
        ho.error = on_error;
        ho.cls = s;
        rc = mp_httpd_start(&ho, &s->h, e);
    }
    if (rc != 0) {
        api_metrics_stop(s->metrics);
        api_audit_close(s->audit);
        free(s->route_names);
        pthread_key_delete(s->key);
        pthread_mutex_destroy(&s->mu);
        free(s->home);
        free(s);
        curl_global_cleanup();
        return rc;
    }
    *out = s;
    return 0;
}

const char *api_server_url(const api_server *s) {
    return mp_httpd_url(s->h);
}

int api_server_reload_tls(api_server *s, mp_err *e) {
    return mp_httpd_reload_tls(s->h, e);
}

void api_server_stop(api_server *s) {
    if (!s) return;
    mp_httpd_stop(s->h); /* drains and joins the workers */
    api_metrics_stop(s->metrics);
    api_audit_close(s->audit);
    free(s->route_names);
    for (size_t i = 0; i < s->nstores; i++) s->stores[i]->m->close(s->stores[i]);
    free(s->stores);
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->mu);
    free(s->home);
    free(s);
    curl_global_cleanup();
}
