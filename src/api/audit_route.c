/* audit_route.c — which requests the server audits, and what each one did in the
 * words of the audit log: verb (get, list, create, update, delete), resource,
 * namespace and name, read from the route's template and params, the query and,
 * for the MLflow API (whose ids travel in the body), the request's JSON body.
 *
 * Audited: every mutating request (POST, PUT, PATCH, DELETE) on a known route
 * but the read-only POSTs of read_only_posts, and every answer 401 (no valid
 * credentials) or 403 (denied), whatever the route, and every access review
 * that said no (a Deployment's caller refused: the review's verb, resource,
 * namespace and name, status 403). Every answer gets an
 * X-Request-Id header, the id an audited request's line carries.
 *
 * Threads: api__audit_request runs on the server's worker threads; it keeps no
 * state of its own (the log, audit.c, serialises the appends). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"

/* Bodies up to this size are parsed whole for a name; of larger ones (a log-batch
 * of a thousand metrics), only the first members within BODY_HEAD bytes are read,
 * so the audit does not parse every large body a second time. */
#define BODY_PARSE_MAX 8192
#define BODY_HEAD 512

/* POSTs that only read (MLflow searches with their filter in the body). */
static const char *const read_only_posts[] = {
    "/api/2.0/mlflow/experiments/search",
    "/api/2.0/mlflow/runs/search",
    "/api/2.0/mlflow/registered-models/get-latest-versions",
    "/api/v1/uploads/missing",
    "/api/v1/authz/review",
};

/* What a route's template (its prefix) acts on, and where its object's name is:
 * a {param} of the template, else these keys of the query or the JSON body. */
typedef struct audit_resource {
    const char *prefix;
    const char *resource; /* NULL: the template's {kind} */
    const char *param;    /* the {param} that names the object, or NULL */
    const char *keys[2];  /* query or body keys that name it, in order */
} audit_resource;

static const audit_resource resources[] = {
    {"/api/v1/runs", "runs", "id", {NULL, NULL}},
    {"/api/v1/pipelines", "pipelines", NULL, {NULL, NULL}},
    {"/api/v1/apply", "objects", NULL, {NULL, NULL}},
    {"/api/v1/deployments", "deployments", "name", {NULL, NULL}},
    {"/api/v1/objects/", NULL, "name", {NULL, NULL}},
    {"/api/v1/monitors", "monitors", "name", {NULL, NULL}},
    {"/api/v1/nodes", "nodes", NULL, {NULL, NULL}},
    {"/api/v1/models/", "models", "name", {NULL, NULL}},
    {"/api/v1/uploads", "uploads", "hex", {NULL, NULL}},
    {"/api/2.0/mlflow/experiments/", "experiments", NULL, {"experiment_id", "name"}},
    {"/api/2.0/mlflow/runs/", "runs", NULL, {"run_id", "run_uuid"}},
    {"/api/2.0/mlflow/metrics/", "runs", NULL, {"run_id", "run_uuid"}},
    {"/api/2.0/mlflow/artifacts/", "runs", NULL, {"run_id", "run_uuid"}},
    {"/api/2.0/mlflow/registered-models/", "models", NULL, {"name", NULL}},
    {"/api/2.0/mlflow/model-versions/", "models", NULL, {"name", NULL}},
    {"/api/2.0/mlflow-artifacts/artifacts", "artifacts", NULL, {NULL, NULL}},
};

/* What a created object is called, read from the answer: JSON paths of
 * MLflow's create responses. */
static const char *const created_names[][3] = {
    {"run", "info", "run_id"},
    {"experiment_id", NULL, NULL},
    {"registered_model", "name", NULL},
    {"model_version", "name", NULL},
};

/* /ajax-api/2.0/... as /api/2.0/... (the MLflow UI's prefix). */
static const char *normalised(const char *p, char *buf, size_t n) {
    static const char ajax[] = "/ajax-api/2.0/";
    if (p && strncmp(p, ajax, sizeof ajax - 1) == 0) {
        snprintf(buf, n, "/api/2.0/%s", p + sizeof ajax - 1);
        return buf;
    }
    return p ? p : "";
}

static bool is_mutating(const char *m) {
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0 || strcmp(m, "DELETE") == 0;
}

static bool is_read_only_post(const char *path) {
    for (size_t i = 0; i < sizeof read_only_posts / sizeof read_only_posts[0]; i++)
        if (strcmp(path, read_only_posts[i]) == 0) return true;
    return false;
}

/* The value of template tmpl's {key} segment in path, into out ("" when none). */
static void template_param(const char *tmpl, const char *path, const char *key, char *out, size_t n) {
    out[0] = '\0';
    const char *t = tmpl, *p = path;
    while (*t && *p) {
        const char *te = strchr(t + 1, '/'), *pe = strchr(p + 1, '/');
        size_t tl = te ? (size_t)(te - t) : strlen(t), pl = pe ? (size_t)(pe - p) : strlen(p);
        if (tl > 3 && t[1] == '{' && t[tl - 1] == '}' && strlen(key) == tl - 3 && strncmp(t + 2, key, tl - 3) == 0) {
            size_t vl = pl > 0 ? pl - 1 : 0;
            if (vl >= n) vl = n - 1;
            memcpy(out, p + 1, vl);
            out[vl] = '\0';
            return;
        }
        t += tl;
        p += pl;
    }
}

/* The last segment of a template ("create" of ".../runs/create"). */
static const char *last_segment(const char *tmpl) {
    const char *s = strrchr(tmpl, '/');
    return s ? s + 1 : tmpl;
}

static const char *derive_verb(const char *method, const char *path, const char *tmpl) {
    const char *last = last_segment(tmpl);
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || is_read_only_post(path)) {
        if (strcmp(last, "search") == 0 || (!mp_str_starts(last, "get") && last[0] != '{' && !strchr(last, '.')))
            return strcmp(last, "missing") == 0 ? "get" : "list";
        return "get";
    }
    if (strcmp(method, "DELETE") == 0 || strcmp(last, "delete") == 0) return "delete";
    if (strcmp(last, "create") == 0 || strcmp(method, "PUT") == 0 || strcmp(tmpl, "/api/v1/runs") == 0 ||
        strcmp(tmpl, "/api/v1/apply") == 0 || strcmp(last, "assemble") == 0)
        return "create";
    return "update";
}

/* A string or number at key of o as text into out. */
static bool json_text(json_t *v, char *out, size_t n) {
    if (json_is_string(v)) return mp_strlcpy(out, json_string_value(v), n), true;
    if (json_is_integer(v)) return snprintf(out, n, "%lld", (long long)json_integer_value(v)), true;
    return false;
}

/* The first members of a large JSON object body as an object of their own (new
 * reference, or NULL): the body's text up to one of its first commas, closed with
 * a brace, parsed by jansson. A cut inside a string or a nested value never
 * parses (the string or the value stays open), so the first cut that does is
 * exactly the body's leading members. */
static json_t *body_head(const mp_http_req *in) {
    char buf[BODY_HEAD + 2];
    size_t n = in->body_len < BODY_HEAD ? in->body_len : BODY_HEAD;
    memcpy(buf, in->body, n);
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != ',') continue;
        buf[i] = '}';
        json_t *o = json_loadb(buf, i + 1, 0, NULL);
        buf[i] = ',';
        if (o) return o;
    }
    return NULL;
}

/* The name of the object a request acts on (best effort; "" when not found). */
static void derive_name(const audit_resource *r, const char *tmpl, const char *path, const mp_http_req *in,
                        const mp_http_resp *resp, char *out, size_t n) {
    out[0] = '\0';
    if (r->param) template_param(tmpl, path, r->param, out, n);
    if (out[0] || !r->keys[0]) {
        if (!out[0] && strcmp(r->prefix, "/api/2.0/mlflow-artifacts/artifacts") == 0) {
            const char *tail = path + strlen(r->prefix);
            mp_strlcpy(out, *tail == '/' ? tail + 1 : tail, n);
        }
        return;
    }
    for (size_t i = 0; i < in->nquery && !out[0]; i++)
        for (size_t k = 0; k < 2 && r->keys[k]; k++)
            if (strcmp(in->query[i].key, r->keys[k]) == 0) mp_strlcpy(out, in->query[i].value, n);
    if (!out[0] && in->body_len > 0 && in->body[0] == '{') {
        /* the object the check and the handler parsed, else a small body parsed here, else a large one's head */
        json_t *b = mp_http_body_parsed(in) || in->body_len <= BODY_PARSE_MAX ? mp_http_body_peek(in) : body_head(in);
        for (size_t k = 0; k < 2 && r->keys[k] && !out[0]; k++) json_text(json_object_get(b, r->keys[k]), out, n);
        char ver[32] = "";
        if (out[0] && mp_str_starts(r->prefix, "/api/2.0/mlflow/model-versions/") &&
            json_text(json_object_get(b, "version"), ver, sizeof ver)) {
            size_t l = strlen(out);
            snprintf(out + l, n - l, "/%s", ver);
        }
        json_decref(b);
    }
    if (!out[0] && resp->status == 200 && resp->body.len > 0 && resp->body.len <= BODY_PARSE_MAX) { /* a create's answer */
        json_t *b = json_loadb(resp->body.data, resp->body.len, 0, NULL);
        for (size_t i = 0; i < sizeof created_names / sizeof created_names[0] && !out[0]; i++) {
            json_t *v = b;
            for (size_t k = 0; k < 3 && created_names[i][k] && v; k++) v = json_object_get(v, created_names[i][k]);
            if (v) json_text(v, out, n);
        }
        json_decref(b);
    }
}

/* A self review (authz.c) that answered "allowed": false stands for a request a
 * Deployment refuses with 403: its verb, resource, namespace and name (the
 * Deployment's, when the review names it) into the entry's buffers. */
static bool review_denied(const mp_http_req *in, const mp_http_resp *resp, char *verb, char *resource, char *ns,
                          char *name) {
    if (resp->status != 200 || resp->body.len == 0 || resp->body.len > BODY_PARSE_MAX) return false;
    json_t *b = json_loadb(resp->body.data, resp->body.len, 0, NULL);
    bool no = json_is_false(json_object_get(b, "allowed"));
    if (no) {
        json_text(json_object_get(b, "verb"), verb, 16);
        json_text(json_object_get(b, "resource"), resource, 32);
        json_text(json_object_get(b, "namespace"), ns, 64);
        json_t *q = in->body_len <= BODY_PARSE_MAX ? mp_http_body_peek(in) : NULL;
        json_text(json_object_get(q, "name"), name, 256);
        json_decref(q);
    }
    json_decref(b);
    return no;
}

void api__audit_request(api_audit *a, const mp_http_req *in, const char *route, const api_principal *who,
                        mp_http_resp *resp) {
    if (!a) return;
    char id[API_AUDIT_ID_MAX];
    api_audit_request_id(a, id);
    mp_http_header_add(resp, "X-Request-Id", id);
    int status = resp->status;
    char pbuf[4096], tbuf[512];
    const char *path = normalised(in->path, pbuf, sizeof pbuf);
    bool denied = status == 401 || status == 403;
    char rverb[16] = "", rres[32] = "", rns[64] = "", rname[256] = "";
    if (route && strcmp(path, "/api/v1/authz/review") == 0 && review_denied(in, resp, rverb, rres, rns, rname)) {
        api_audit_entry den = {.user = who ? who->user : "", .source = in->remote_addr, .method = in->method,
                               .verb = rverb, .resource = rres, .namespace_ = rns, .name = rname, .status = 403,
                               .result = "denied", .request_id = id};
        mp_err de = {0};
        if (api_audit_append(a, &den, &de) != 0)
            fprintf(stderr, "mlplane server: the audit log lost request %s (a denied review): %s\n", id, de.msg);
        return;
    }
    if (!denied && (!route || !is_mutating(in->method) || is_read_only_post(path))) return;
    const char *tmpl = route ? normalised(route, tbuf, sizeof tbuf) : path;
    const audit_resource *r = NULL;
    for (size_t i = 0; i < sizeof resources / sizeof resources[0] && !r; i++)
        if (mp_str_starts(tmpl, resources[i].prefix)) r = &resources[i];
    char name[256] = "", kind[64] = "";
    const char *resource = "";
    if (r) {
        derive_name(r, tmpl, path, in, resp, name, sizeof name);
        if (r->resource) resource = r->resource;
        else {
            template_param(tmpl, path, "kind", kind, sizeof kind);
            for (char *k = kind; *k; k++)
                if (*k >= 'A' && *k <= 'Z') *k = (char)(*k - 'A' + 'a');
            size_t kl = strlen(kind); /* Deployment -> deployments, PriorityClass -> priorityclasses */
            if (kl > 0 && kl + 3 < sizeof kind) mp_strlcpy(kind + kl, kind[kl - 1] == 's' ? "es" : "s", 3);
            resource = kind;
        }
    }
    const char *ns = mp_http_query(in, "namespace");
    if (!ns || !*ns) ns = mp_http_req_header(in, "X-Mlplane-Namespace");
    if ((!ns || !*ns) && who) ns = who->namespace_;
    if (!ns || !*ns) ns = "default";
    api_audit_entry en = {
        .user = who ? who->user : "",
        .source = in->remote_addr,
        .method = in->method,
        .verb = derive_verb(in->method, path, tmpl),
        .resource = resource,
        .namespace_ = ns,
        .name = name,
        .status = status,
        .result = denied ? "denied" : status < 400 ? "allowed" : "error",
        .request_id = id,
    };
    mp_err e = {0};
    if (api_audit_append(a, &en, &e) != 0)
        fprintf(stderr, "mlplane server: the audit log lost request %s (%s %s): %s\n", id, in->method, in->path, e.msg);
}
