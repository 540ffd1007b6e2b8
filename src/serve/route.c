/* route.c — a router in front of upstreams (`mlplane route`): the embedded
 * Deployment's traffic split, sticky header and shadow, over pools that are
 * plain HTTP servers at base URLs (on Kubernetes, one Service per version)
 * instead of supervised replicas.
 *
 * The pieces are the router's own (router.c, forward.c, replica.c's probes,
 * metrics.c, shadow.c, split.c): pool 0 is the stable upstream, then the
 * canary and the shadow, each added with serve_router_add_upstream. This file
 * only wires the hooks:
 *   choose_version  a path naming a version (/v2/models/N/versions/V/...)
 *                   goes to the pool of that label; an inference request to
 *                   the split's pick (sticky by the header's value); anything
 *                   else (metadata, model readiness) to the stable upstream;
 *   answered        a copy of the split's sampled share to the shadow;
 *   metrics         the split's families (serve__split_metrics).
 * An upstream that refuses connections or is not ready holds requests up to
 * ready_timeout_ms (the router's wait for a ready replica), then 503.
 *
 * Threads: start, stop and free on the main thread; the hooks on the router's
 * HTTP threads (the split's counters are atomics); the shadow's threads send
 * the copies; the supervisor probes the upstreams. */
#include "serve/deploy_int.h"
#include "serve/router_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ROUTE_STABLE = 0, ROUTE_CANARY = 1, ROUTE_SHADOW = 2, ROUTE_TRACKS = 3 };

struct serve_route {
    char *name, *sticky;
    char *version[ROUTE_TRACKS]; /* labels; NULL for a track not given */
    char *url[ROUTE_TRACKS];
    int pool[ROUTE_TRACKS];      /* the router's pool of each; -1 when none */
    serve_split *split;
    serve_router *router;
    serve__shadow *shadow;
    mp_httpd *http;
};

/* ---- pure parts ----------------------------------------------------------------------- */

int serve_route_parse_upstream(const char *arg, char **version, char **url, mp_err *e) {
    *version = *url = NULL;
    const char *eq = arg ? strchr(arg, '=') : NULL;
    if (!eq || eq == arg || !eq[1])
        return mp_err_set(e, MP_EINVAL, "\"%s\": write VERSION=URL, e.g. 1=http://bc-v1:8080", arg ? arg : "");
    size_t vl = (size_t)(eq - arg);
    if (vl > 100) return mp_err_set(e, MP_EINVAL, "\"%.40s...\": the version is longer than 100 characters", arg);
    for (size_t i = 0; i < vl; i++) {
        char c = arg[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            return mp_err_set(e, MP_EINVAL,
                              "\"%s\": the version \"%.*s\" may hold only letters, digits, '.', '-' and '_' (a version "
                              "number or an alias)",
                              arg, (int)vl, arg);
    }
    const char *u = eq + 1;
    const char *host = mp_str_starts(u, "http://") ? u + 7 : mp_str_starts(u, "https://") ? u + 8 : NULL;
    if (!host || !*host || *host == '/')
        return mp_err_set(e, MP_EINVAL, "\"%s\": the upstream must be an http:// or https:// base URL, e.g. http://bc-v1:8080",
                          arg);
    if (strchr(u, '?') || strchr(u, '#'))
        return mp_err_set(e, MP_EINVAL, "\"%s\": the upstream is a base URL, without a query or fragment", arg);
    size_t ul = strlen(u);
    while (ul > 0 && u[ul - 1] == '/') ul--;
    *version = mp_xstrndup(arg, vl);
    *url = mp_xstrndup(u, ul);
    return 0;
}

/* ---- the router's hooks --------------------------------------------------------------- */

static size_t hook_choose(void *ud, const mp_http_req *req, const char *const *versions, size_t npools) {
    serve_route *rt = ud;
    char v[128];
    if (deploy__path_version(req->path, v, sizeof v)) { /* asked for by label: that upstream, if there is one */
        for (size_t i = 0; i < npools; i++)
            if (strcmp(versions[i], v) == 0) return i;
        return (size_t)rt->pool[ROUTE_STABLE]; /* it answers 404 for a version it does not serve */
    }
    if (!deploy__is_infer(req)) return (size_t)rt->pool[ROUTE_STABLE];
    const char *sticky = rt->sticky ? mp_http_req_header(req, rt->sticky) : NULL;
    serve_track t = serve_split_pick(rt->split, sticky);
    return (size_t)rt->pool[t == SERVE_TRACK_CANARY && rt->pool[ROUTE_CANARY] >= 0 ? ROUTE_CANARY : ROUTE_STABLE];
}

static void hook_answered(void *ud, size_t pool, const mp_http_req *req, const mp_http_resp *resp, int64_t time_ms,
                          int64_t latency_us) {
    serve_route *rt = ud;
    (void)pool, (void)resp, (void)latency_us;
    char v[128];
    if (!rt->shadow || !deploy__is_infer(req) || deploy__path_version(req->path, v, sizeof v)) return;
    if (serve_split_mirror(rt->split)) serve__shadow_push(rt->shadow, req, mp_http_req_header(req, "X-Request-Id"), false, time_ms);
}

static void hook_metrics(void *ud, mp_buf *out) {
    serve_route *rt = ud;
    serve__split_metrics(out, rt->name, rt->split, rt->version[ROUTE_STABLE], rt->version[ROUTE_CANARY], rt->shadow);
}

/* ---- start, stop ------------------------------------------------------------------------ */

int serve_route_start(const serve_route_opts *o, serve_route **out, mp_err *e) {
    *out = NULL;
    if (!o->name || !o->stable_version || !o->stable_url)
        return mp_err_set(e, MP_EINTERNAL, "serve_route_start: name and the stable upstream are needed");
    if (!o->canary_version != !o->canary_url || !o->shadow_version != !o->shadow_url)
        return mp_err_set(e, MP_EINTERNAL, "serve_route_start: an upstream needs a version and a URL");
    serve_route *rt = mp_xcalloc(1, sizeof *rt);
    rt->name = mp_xstrdup(o->name);
    rt->sticky = o->sticky_header && *o->sticky_header ? mp_xstrdup(o->sticky_header) : NULL;
    const char *vs[ROUTE_TRACKS] = {o->stable_version, o->canary_version, o->shadow_version};
    const char *us[ROUTE_TRACKS] = {o->stable_url, o->canary_url, o->shadow_url};
    for (int t = 0; t < ROUTE_TRACKS; t++) {
        rt->version[t] = vs[t] ? mp_xstrdup(vs[t]) : NULL;
        rt->url[t] = us[t] ? mp_xstrdup(us[t]) : NULL;
        rt->pool[t] = -1;
    }
    int rc = serve_split_new(o->canary_url ? o->canary_percent : 0, o->shadow_url ? o->shadow_rate : 0, &rt->split, e);
    if (rc == 0) {
        serve_router_opts ro = {.url = rt->url[ROUTE_STABLE], .name = rt->name, .version = rt->version[ROUTE_STABLE],
                                .ready_timeout_ms = o->ready_timeout_ms, .upstream_timeout_ms = o->upstream_timeout_ms,
                                .drain_s = o->http.drain_s, .choose_version = hook_choose,
                                .answered = hook_answered, .metrics = hook_metrics, .hook_ud = rt};
        rc = serve_router_new(&ro, &rt->router, e);
        if (rc == 0) rt->pool[ROUTE_STABLE] = 0;
    }
    static const char *const flag[ROUTE_TRACKS] = {"--stable", "--canary", "--shadow"};
    for (int t = ROUTE_CANARY; rc == 0 && t < ROUTE_TRACKS; t++) {
        if (!rt->url[t]) continue;
        size_t idx = 0;
        rc = serve_router_add_upstream(rt->router, rt->url[t], rt->version[t], &idx, e);
        if (rc == MP_EEXIST) rc = mp_err_set(e, MP_EINVAL, "%s: version %s is another upstream's already; give each its own label",
                                             flag[t], rt->version[t]);
        if (rc == 0) rt->pool[t] = (int)idx;
    }
    if (rc == 0) {
        mp_httpd_opts h = o->http;
        if (!h.log_name) h.log_name = "mlplane route";
        rc = serve_router_http_start(rt->router, &h, &rt->http, e);
    }
    if (rc == 0) rc = serve_router_start(rt->router, e);
    if (rc == 0 && rt->pool[ROUTE_SHADOW] >= 0)
        rc = serve__shadow_start(rt->router, (size_t)rt->pool[ROUTE_SHADOW], o->shadow_threads > 0 ? o->shadow_threads : 2,
                                 NULL, NULL, &rt->shadow, e);
    if (rc != 0) {
        serve_route_free(rt);
        return rc;
    }
    *out = rt;
    return 0;
}

const char *serve_route_url(const serve_route *rt) { return rt->http ? mp_httpd_url(rt->http) : NULL; }

void serve_route_describe(const serve_route *rt, char *out, size_t n) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "route %s: stable %s at %s", rt->name, rt->version[ROUTE_STABLE], rt->url[ROUTE_STABLE]);
    if (rt->url[ROUTE_CANARY])
        mp_buf_printf(&b, ", canary %s at %s (%d%%)", rt->version[ROUTE_CANARY], rt->url[ROUTE_CANARY],
                      serve_split_percent(rt->split));
    if (rt->url[ROUTE_SHADOW])
        mp_buf_printf(&b, ", shadow %s at %s (%g)", rt->version[ROUTE_SHADOW], rt->url[ROUTE_SHADOW],
                      serve_split_shadow_rate(rt->split));
    if (rt->sticky) mp_buf_printf(&b, ", sticky by %s", rt->sticky);
    mp_strlcpy(out, b.data ? b.data : "", n);
    mp_buf_free(&b);
}

void serve_route_stop(serve_route *rt) {
    if (!rt || !rt->router) return;
    serve_router_drain(rt->router); /* requests waiting for an upstream get 503 at once */
    if (rt->http) mp_httpd_stop(rt->http); /* those forwarded already finish */
    rt->http = NULL;
    serve__shadow_stop(rt->shadow);
    serve_router_stop(rt->router);
}

void serve_route_free(serve_route *rt) {
    if (!rt) return;
    serve_route_stop(rt);
    serve__shadow_free(rt->shadow);
    serve_router_free(rt->router);
    serve_split_free(rt->split);
    for (int t = 0; t < ROUTE_TRACKS; t++) {
        free(rt->version[t]);
        free(rt->url[t]);
    }
    free(rt->name);
    free(rt->sticky);
    free(rt);
}
