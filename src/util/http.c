/* http.c — helpers over mp_http_req/mp_http_resp (see http.h): JSON bodies,
 * MLflow-shaped errors, query and header lookup and route matching. Reentrant. */
#include "util/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *mp_http_query(const mp_http_req *req, const char *key) {
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].key, key) == 0) return req->query[i].value ? req->query[i].value : "";
    return NULL;
}

const char *mp_http_req_header(const mp_http_req *req, const char *name) {
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].key, name) == 0) return req->headers[i].value ? req->headers[i].value : "";
    return NULL;
}

bool mp_http_allowed(const mp_http_req *req, const char *verb, const char *resource, const char *ns) {
    if (!req->authz || !req->authz->allowed) return true;
    return req->authz->allowed(req->authz->ud, verb, resource, ns ? ns : "");
}

void mp_http_req_headers(const mp_http_req *req, void (*fn)(void *ud, const char *name, const char *value), void *ud) {
    for (size_t i = 0; i < req->nheaders; i++) fn(ud, req->headers[i].key, req->headers[i].value ? req->headers[i].value : "");
}

void mp_http_resp_init(mp_http_resp *resp) {
    memset(resp, 0, sizeof *resp);
    resp->status = 200;
    mp_buf_init(&resp->body);
    mp_strlcpy(resp->content_type, "application/json", sizeof resp->content_type);
}

void mp_http_resp_free(mp_http_resp *resp) {
    mp_buf_free(&resp->body);
    free(resp->file_path);
    resp->file_path = NULL;
}

void mp_http_json(mp_http_resp *resp, int status, json_t *v) {
    resp->status = status;
    mp_buf_reset(&resp->body);
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s) {
        mp_buf_puts(&resp->body, s);
        free(s);
    }
    mp_strlcpy(resp->content_type, "application/json", sizeof resp->content_type);
    json_decref(v);
}

void mp_http_text(mp_http_resp *resp, int status, const char *fmt, ...) {
    resp->status = status;
    mp_buf_reset(&resp->body);
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(&resp->body, fmt, ap);
    va_end(ap);
    mp_strlcpy(resp->content_type, "text/plain; charset=utf-8", sizeof resp->content_type);
}

void mp_http_header_add(mp_http_resp *resp, const char *name, const char *value) {
    if (resp->nheaders >= (int)(sizeof resp->headers / sizeof resp->headers[0])) return;
    mp_strlcpy(resp->headers[resp->nheaders].name, name, sizeof resp->headers[0].name);
    char *v = resp->headers[resp->nheaders].value;
    mp_strlcpy(v, value, sizeof resp->headers[0].value);
    for (char *c = v; *c; c++) /* CR and LF would end the header (and start another): never sent */
        if ((unsigned char)*c < 0x20 ? *c != '\t' : (unsigned char)*c == 0x7f) *c = ' ';
    resp->nheaders++;
}

void mp_http_mlflow_error(mp_http_resp *resp, int status, const char *code, const char *fmt, ...) {
    mp_buf b;
    mp_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    mp_http_json(resp, status, json_pack("{s:s,s:s}", "error_code", code, "message", b.data));
    mp_buf_free(&b);
}

/* The cached parse of req's body (borrowed), or NULL. */
static json_t *body_cached(const mp_http_req *req) {
    const mp_http_body_cache *c = req->body_cache;
    return c && c->v && c->body == req->body ? c->v : NULL;
}

bool mp_http_body_parsed(const mp_http_req *req) { return body_cached(req) != NULL; }

/* Keeps v (an object parsed from req's body) in req's cache when it has an empty one. */
static void body_keep(const mp_http_req *req, json_t *v) {
    mp_http_body_cache *c = req->body_cache;
    if (!c || c->v) return;
    c->body = req->body;
    c->v = json_incref(v);
}

json_t *mp_http_body_peek(const mp_http_req *req) {
    if (!req->body || req->body_len == 0) return NULL;
    json_t *v = body_cached(req);
    if (v) return json_incref(v);
    v = json_loadb(req->body, req->body_len, 0, NULL);
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    body_keep(req, v);
    return v;
}

json_t *mp_http_body_json(const mp_http_req *req, mp_http_resp *resp) {
    if (!req->body || req->body_len == 0) return json_object();
    json_t *c = body_cached(req);
    if (c) return json_incref(c);
    json_error_t je;
    json_t *v = json_loadb(req->body, req->body_len, 0, &je);
    if (!v) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "malformed JSON at line %d column %d: %s", je.line,
                             je.column, je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "the request body must be a JSON object");
        return NULL;
    }
    body_keep(req, v);
    return v;
}

/* Whether pattern pat matches path; fills m. */
static bool pattern_match(const char *pat, const char *path, mp_http_match *m) {
    m->tail = "";
    m->nparams = 0;
    size_t used = 0;
    const char *p = pat, *s = path;
    while (*p) {
        if (p[0] == '/' && p[1] == '*' && p[2] == '\0') { /* any tail, or none */
            if (*s == '\0') return true;
            if (*s != '/') return false;
            m->tail = s + 1;
            return true;
        }
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t vl = strcspn(s, "/");
            if (!close || vl == 0 || vl > MP_HTTP_PARAM_MAX || m->nparams == MP_HTTP_PARAMS) return false;
            size_t kl = (size_t)(close - p - 1);
            if (used + kl + vl + 2 > sizeof m->buf) return false;
            char *k = m->buf + used;
            memcpy(k, p + 1, kl);
            k[kl] = '\0';
            char *v = k + kl + 1;
            memcpy(v, s, vl);
            v[vl] = '\0';
            used += kl + vl + 2;
            m->params[m->nparams++] = (mp_http_kv){k, v};
            p = close + 1;
            s += vl;
            continue;
        }
        if (*p != *s) return false;
        p++;
        s++;
    }
    return *s == '\0';
}

const mp_http_route *mp_http_route_find(const mp_http_route *routes, size_t n, const char *method, const char *path,
                                        mp_http_match *m, bool *path_known) {
    if (path_known) *path_known = false;
    for (size_t i = 0; i < n; i++) {
        if (!pattern_match(routes[i].path, path, m)) continue;
        if (path_known) *path_known = true;
        if (strcmp(routes[i].method, "*") == 0 || strcmp(routes[i].method, method) == 0) return &routes[i];
    }
    m->tail = "";
    m->nparams = 0;
    return NULL;
}

/* Whether the list "GET, POST" holds method. */
static bool allow_has(const char *allow, const char *method) {
    size_t ml = strlen(method);
    for (const char *p = allow; p && *p;) {
        size_t l = strcspn(p, ",");
        if (l == ml && strncmp(p, method, ml) == 0) return true;
        p += l;
        while (*p == ',' || *p == ' ') p++;
    }
    return false;
}

void mp_http_route_allow(const mp_http_route *routes, size_t n, const char *path, mp_buf *allow) {
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    mp_http_match m;
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
        bool any = false;
        for (size_t i = 0; i < n && !any; i++)
            any = (strcmp(routes[i].method, "*") == 0 || strcmp(routes[i].method, methods[k]) == 0) &&
                  pattern_match(routes[i].path, path, &m);
        if (any && !allow_has(allow->data, methods[k])) mp_buf_printf(allow, "%s%s", allow->len ? ", " : "", methods[k]);
    }
}

void mp_http_not_allowed(mp_http_resp *resp, const char *method, const char *path, const char *allow) {
    mp_http_mlflow_error(resp, 405, "ENDPOINT_NOT_FOUND", "%s is not allowed on %s (allowed: %s)", method, path,
                         allow && *allow ? allow : "none");
    if (allow && *allow) mp_http_header_add(resp, "Allow", allow);
}

const char *mp_http_param(const mp_http_req *req, const char *key) {
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].key, key) == 0) return req->params[i].value;
    return NULL;
}
