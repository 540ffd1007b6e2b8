/* rbac_routes.c — what each route of mlplane server does, as RBAC sees it: one
 * table keyed by method and route template (mlplane's /api/v1, the MLflow
 * tracking and registry APIs, the artifact proxy) giving the verb, the resource
 * and where the object that decides the namespace is named (a {param} of the
 * path, a query parameter or a field of the JSON body). api__authorize_route
 * finds the request's row, reads the object's namespace from the store (a run's,
 * an experiment's, a registered model's, an applied Deployment's or Monitor's)
 * and asks api__rbac_allowed.
 *
 * A refusal is a 403 naming the permission (`user "ana" cannot delete models in
 * namespace "team-b"`), except where the caller cannot even get the object: then
 * the route's own handler answers for an object that does not exist (the name
 * swapped for one no object has, and swapped back in the answer), so a hidden
 * object answers byte for byte as a missing one. Lists and searches are the
 * handlers' to filter (mp_http_allowed); apply checks each object it applies. A
 * route missing from the table is refused (fail closed).
 *
 * Threads: called on the server's worker threads with the worker's store; the
 * table is constant, its route patterns built once (pthread_once). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"
#include "sched/sched.h"
#include "track/track.h"

typedef enum key_kind {
    K_PUBLIC,  /* anyone, no credentials needed */
    K_LIST,    /* any caller; the handler shows only what the caller may list */
    K_HANDLER, /* any caller; the handler checks each object (apply) */
    K_REQNS,   /* creates in the request's namespace (X-Mlplane-Namespace, else the token's) */
    K_CLUSTER, /* cluster-scoped */
    K_PRUN,    /* a pipeline run, by id (a unique prefix) */
    K_RUN,     /* an MLflow run: run_id (or run_uuid) */
    K_EXP,     /* an experiment, by id */
    K_EXP_NAME,
    K_MODEL,   /* a registered model, by name */
    K_DEPLOY,
    K_MONITOR,
    K_OBJECT,   /* DELETE /api/v1/objects/{kind}/{name} */
    K_ARTIFACT, /* the artifact proxy: the experiment id leading the path */
} key_kind;

typedef struct rule {
    const char *method, *path;
    const char *verb, *resource;
    key_kind kind;
    const char *key; /* the {param}, query parameter or body field naming the object */
} rule;

#define MF "/api/2.0/mlflow/"
#define RM MF "registered-models/"
#define MV MF "model-versions/"
#define AP "/api/2.0/mlflow-artifacts/artifacts"

static const rule RULES[] = {
    {"GET", "/healthz", NULL, NULL, K_PUBLIC, NULL},
    {"GET", "/readyz", NULL, NULL, K_PUBLIC, NULL},
    /* mlplane's API */
    {"GET", "/api/v1/runs", "list", "runs", K_LIST, NULL},
    {"GET", "/api/v1/pipelines", "list", "pipelines", K_LIST, NULL},
    {"POST", "/api/v1/runs", "create", "runs", K_HANDLER, NULL}, /* in its Pipeline's namespace */
    {"GET", "/api/v1/runs/{id}", "get", "runs", K_PRUN, "id"},
    {"DELETE", "/api/v1/runs/{id}", "delete", "runs", K_PRUN, "id"},
    {"GET", "/api/v1/runs/{id}/steps", "get", "runs", K_PRUN, "id"},
    {"GET", "/api/v1/runs/{id}/metrics", "get", "runs", K_PRUN, "id"},
    {"GET", "/api/v1/runs/{id}/logs", "get", "runs", K_PRUN, "id"},
    {"POST", "/api/v1/runs/{id}/cancel", "update", "runs", K_PRUN, "id"},
    {"POST", "/api/v1/apply", "create", "queues", K_HANDLER, NULL},
    {"GET", "/api/v1/deployments", "list", "deployments", K_LIST, NULL},
    {"GET", "/api/v1/deployments/{name}", "get", "deployments", K_DEPLOY, "name"},
    {"POST", "/api/v1/deployments/{name}/rollout", "update", "deployments", K_DEPLOY, "name"},
    {"DELETE", "/api/v1/objects/{kind}/{name}", "delete", NULL, K_OBJECT, "name"},
    {"GET", "/api/v1/monitors", "list", "monitors", K_LIST, NULL},
    {"GET", "/api/v1/monitors/{name}", "get", "monitors", K_MONITOR, "name"},
    {"POST", "/api/v1/monitors/{name}/check", "update", "monitors", K_MONITOR, "name"},
    {"GET", "/api/v1/nodes", "list", "queues", K_CLUSTER, NULL},
    {"GET", "/api/v1/models/{name}/versions/{version}/model.json", "get", "models", K_MODEL, "name"},
    {"GET", "/api/v1/models/{name}/versions/{version}/model.ubj", "get", "models", K_MODEL, "name"},
    {"GET", "/api/v1/models/{name}/aliases/{alias}/model.json", "get", "models", K_MODEL, "name"},
    {"GET", "/api/v1/models/{name}/aliases/{alias}/model.ubj", "get", "models", K_MODEL, "name"},
    /* lineage: a version's, in its model's namespace; an artifact's crosses namespaces: cluster-wide */
    {"GET", "/api/v1/lineage/models/{name}/versions/{version}", "get", "models", K_MODEL, "name"},
    {"GET", "/api/v1/lineage/models/{name}/aliases/{alias}", "get", "models", K_MODEL, "name"},
    {"GET", "/api/v1/lineage/artifacts/{hash}", "get", "models", K_CLUSTER, NULL},
    {"POST", "/api/v1/uploads/missing", "create", "runs", K_REQNS, NULL},
    {"POST", "/api/v1/uploads/assemble", "create", "runs", K_REQNS, NULL},
    {"GET", "/api/v1/uploads/sha256/{hex}", "get", "runs", K_REQNS, NULL},
    {"PUT", "/api/v1/uploads/sha256/{hex}", "create", "runs", K_REQNS, NULL},
    /* tokens and users: their handlers let a caller manage its own, system:masters all (tokens.c) */
    {"POST", "/api/v1/tokens", "create", "tokens", K_HANDLER, NULL},
    {"GET", "/api/v1/tokens", "list", "tokens", K_HANDLER, NULL},
    {"DELETE", "/api/v1/tokens/{id}", "delete", "tokens", K_HANDLER, NULL},
    {"POST", MF "users/create", "create", "tokens", K_HANDLER, NULL},
    {"GET", MF "users/get", "get", "tokens", K_HANDLER, NULL},
    {"PATCH", MF "users/update-password", "update", "tokens", K_HANDLER, NULL},
    {"PATCH", MF "users/update-admin", "update", "tokens", K_HANDLER, NULL},
    {"DELETE", MF "users/delete", "delete", "tokens", K_HANDLER, NULL},
    /* a self review: any caller, about its own credentials (authz.c) */
    {"POST", "/api/v1/authz/review", "get", "deployments", K_HANDLER, NULL},
    /* MLflow's permission endpoints (permissions.c): RoleBindings in the object's namespace */
    {"POST", MF "experiments/permissions/create", "create", "roles", K_EXP, "experiment_id"},
    {"GET", MF "experiments/permissions/get", "get", "roles", K_EXP, "experiment_id"},
    {"PATCH", MF "experiments/permissions/update", "update", "roles", K_EXP, "experiment_id"},
    {"DELETE", MF "experiments/permissions/delete", "delete", "roles", K_EXP, "experiment_id"},
    {"POST", RM "permissions/create", "create", "roles", K_MODEL, "name"},
    {"GET", RM "permissions/get", "get", "roles", K_MODEL, "name"},
    {"PATCH", RM "permissions/update", "update", "roles", K_MODEL, "name"},
    {"DELETE", RM "permissions/delete", "delete", "roles", K_MODEL, "name"},
    /* MLflow tracking */
    {"POST", MF "experiments/create", "create", "experiments", K_REQNS, NULL},
    {"GET", MF "experiments/get", "get", "experiments", K_EXP, "experiment_id"},
    {"GET", MF "experiments/get-by-name", "get", "experiments", K_EXP_NAME, "experiment_name"},
    {"POST", MF "experiments/search", "list", "experiments", K_LIST, NULL},
    {"GET", MF "experiments/search", "list", "experiments", K_LIST, NULL},
    {"POST", MF "experiments/update", "update", "experiments", K_EXP, "experiment_id"},
    {"POST", MF "experiments/delete", "delete", "experiments", K_EXP, "experiment_id"},
    {"POST", MF "experiments/restore", "delete", "experiments", K_EXP, "experiment_id"},
    {"POST", MF "experiments/set-experiment-tag", "update", "experiments", K_EXP, "experiment_id"},
    {"POST", MF "runs/create", "create", "runs", K_EXP, "experiment_id"},
    {"GET", MF "runs/get", "get", "runs", K_RUN, "run_id"},
    {"POST", MF "runs/update", "update", "runs", K_RUN, "run_id"},
    {"POST", MF "runs/delete", "delete", "runs", K_RUN, "run_id"},
    {"POST", MF "runs/restore", "delete", "runs", K_RUN, "run_id"},
    {"POST", MF "runs/search", "list", "runs", K_LIST, NULL},
    {"POST", MF "runs/log-metric", "update", "runs", K_RUN, "run_id"},
    {"POST", MF "runs/log-parameter", "update", "runs", K_RUN, "run_id"},
    {"POST", MF "runs/set-tag", "update", "runs", K_RUN, "run_id"},
    {"POST", MF "runs/delete-tag", "update", "runs", K_RUN, "run_id"},
    {"POST", MF "runs/log-batch", "update", "runs", K_RUN, "run_id"},
    {"POST", MF "runs/log-inputs", "update", "runs", K_RUN, "run_id"},
    {"GET", MF "metrics/get-history", "get", "runs", K_RUN, "run_id"},
    {"GET", MF "artifacts/list", "get", "runs", K_RUN, "run_id"},
    /* MLflow model registry */
    {"POST", RM "create", "create", "models", K_REQNS, NULL},
    {"GET", RM "get", "get", "models", K_MODEL, "name"},
    {"POST", RM "rename", "update", "models", K_MODEL, "name"},
    {"PATCH", RM "update", "update", "models", K_MODEL, "name"},
    {"DELETE", RM "delete", "delete", "models", K_MODEL, "name"},
    {"GET", RM "search", "list", "models", K_LIST, NULL},
    {"POST", RM "get-latest-versions", "get", "models", K_MODEL, "name"},
    {"GET", RM "get-latest-versions", "get", "models", K_MODEL, "name"},
    {"POST", RM "set-tag", "update", "models", K_MODEL, "name"},
    {"DELETE", RM "delete-tag", "update", "models", K_MODEL, "name"},
    {"POST", RM "alias", "update", "models", K_MODEL, "name"},
    {"DELETE", RM "alias", "update", "models", K_MODEL, "name"},
    {"GET", RM "alias", "get", "models", K_MODEL, "name"},
    {"POST", MV "create", "update", "models", K_MODEL, "name"},
    {"GET", MV "get", "get", "models", K_MODEL, "name"},
    {"PATCH", MV "update", "update", "models", K_MODEL, "name"},
    {"DELETE", MV "delete", "delete", "models", K_MODEL, "name"},
    {"GET", MV "search", "list", "models", K_LIST, NULL},
    {"POST", MV "transition-stage", "update", "models", K_MODEL, "name"},
    {"POST", MV "set-tag", "update", "models", K_MODEL, "name"},
    {"DELETE", MV "delete-tag", "update", "models", K_MODEL, "name"},
    {"GET", MV "get-download-uri", "get", "models", K_MODEL, "name"},
    /* the artifact proxy: a run's files under its experiment's id */
    {"GET", AP, "get", "runs", K_ARTIFACT, "path"},
    {"PUT", AP "/*", "update", "runs", K_ARTIFACT, NULL},
    {"GET", AP "/*", "get", "runs", K_ARTIFACT, NULL},
    {"DELETE", AP "/*", "delete", "runs", K_ARTIFACT, NULL},
};
enum { NRULES = sizeof RULES / sizeof RULES[0] };

/* What each object kind is swapped for when it is hidden: a name no object has. */
static const char *fake_of(key_kind k) {
    switch (k) {
    case K_RUN: return "ffffffffffffffffffffffffffff0000";
    case K_EXP:
    case K_ARTIFACT: return "999999999999999999";
    default: return "mlplane-hidden-0000";
    }
}

static mp_http_route patterns[NRULES];
static pthread_once_t patterns_once = PTHREAD_ONCE_INIT;
static void patterns_init(void) {
    for (size_t i = 0; i < NRULES; i++) patterns[i] = (mp_http_route){RULES[i].method, RULES[i].path, NULL};
}

/* The resource of the object a rule names, which the caller must be able to get to learn it exists. */
static const char *object_resource(key_kind k, const char *resource) {
    switch (k) {
    case K_EXP:
    case K_EXP_NAME: return "experiments";
    case K_RUN:
    case K_PRUN:
    case K_ARTIFACT: return "runs";
    case K_MODEL: return "models";
    case K_DEPLOY: return "deployments";
    case K_MONITOR: return "monitors";
    default: return resource;
    }
}

/* The route of the server's tables req matched (its handler, for a hidden object's answer). */
static const mp_http_route *server_route(const mp_http_req *req) {
    typedef const mp_http_route *(*table_fn)(size_t *n);
    static const table_fn tables[] = {api_routes, api_auth_routes, track_routes, track_registry_routes, track_artifact_routes};
    mp_http_match m;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        size_t n = 0;
        const mp_http_route *t = tables[i](&n);
        const mp_http_route *r = t && n ? mp_http_route_find(t, n, req->method, req->path, &m, NULL) : NULL;
        if (r) return r;
    }
    return NULL;
}

/* Where the object's name came from, so that a hidden one can be swapped. */
typedef enum { SRC_NONE, SRC_PARAM, SRC_QUERY, SRC_BODY, SRC_TAIL } src_kind;

typedef struct found {
    src_kind src;
    const char *key;   /* the field actually found (run_uuid for run_id) */
    char value[512];   /* the object's name or id */
} found;

static bool take(found *f, src_kind src, const char *key, const char *v) {
    if (!v || !*v) return false;
    f->src = src;
    f->key = key;
    mp_strlcpy(f->value, v, sizeof f->value);
    return true;
}

/* Where the handler of req reads its arguments, which the check must read too
 * (else a request could name one object to the check and another to the
 * handler): the tracking API reads the JSON body unless it is a GET without
 * one, the registry API (and the permission endpoints) the body when there is
 * one, else the query. */
static bool reads_body(const mp_http_req *req) {
    bool registry = mp_str_starts(req->path, RM) || mp_str_starts(req->path, MV) ||
                    mp_str_starts(req->path, MF "experiments/permissions/");
    if (registry) return req->body_len > 0;
    return strcmp(req->method, "GET") != 0 || req->body_len > 0;
}

/* The object's name: the {param}, else the query parameter or the body field key
 * (for runs run_id, else run_uuid), from where the handler reads it. */
static bool find_key(const mp_http_req *req, const rule *r, found *f) {
    memset(f, 0, sizeof *f);
    const char *alt = r->kind == K_RUN ? "run_uuid" : NULL;
    if (take(f, SRC_PARAM, r->key, mp_http_param(req, r->key))) return true;
    if (!mp_str_starts(req->path, MF)) return false;
    if (!reads_body(req)) {
        if (take(f, SRC_QUERY, r->key, mp_http_query(req, r->key))) return true;
        return alt && take(f, SRC_QUERY, alt, mp_http_query(req, alt));
    }
    json_t *b = mp_http_body_peek(req); /* parsed once: the handler reads this very object */
    bool ok = false;
    if (json_is_object(b)) {
        ok = take(f, SRC_BODY, r->key, json_string_value(json_object_get(b, r->key)));
        if (!ok && alt) ok = take(f, SRC_BODY, alt, json_string_value(json_object_get(b, alt)));
        json_t *v = json_object_get(b, r->key);
        if (!ok && json_is_integer(v)) { /* an experiment id sent as a number */
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            ok = take(f, SRC_BODY, r->key, num);
        }
    }
    json_decref(b);
    return ok;
}

/* The experiment id an artifact path starts with ("" when it names none: the root or sha256/). */
static void artifact_exp(const mp_http_req *req, const rule *r, found *f, bool *blob) {
    memset(f, 0, sizeof *f);
    const char *p = r->key ? mp_http_query(req, r->key) : req->tail;
    f->src = r->key ? SRC_QUERY : SRC_TAIL;
    f->key = r->key;
    if (!p) p = "";
    while (*p == '/') p++;
    size_t l = strcspn(p, "/");
    *blob = l == 6 && strncmp(p, "sha256", 6) == 0;
    if (!*blob && l < sizeof f->value) {
        memcpy(f->value, p, l);
        f->value[l] = '\0';
    }
}

/* The namespace of the object f names into ns: 0, or MP_ENOENT when there is no such object. */
static int object_ns(store *st, const mp_http_req *req, key_kind k, const found *f, char *ns, size_t n) {
    mp_err e;
    switch (k) {
    case K_PRUN: {
        store_run run = {0};
        if (st->m->run_get(st, f->value, &run, &e) != 0) return MP_ENOENT;
        mp_strlcpy(ns, run.namespace_ && *run.namespace_ ? run.namespace_ : "default", n);
        store_run_free(&run);
        return 0;
    }
    case K_RUN: return st->t->run_namespace(st, f->value, ns, n, &e) == 0 ? 0 : MP_ENOENT;
    case K_EXP:
    case K_ARTIFACT: return st->t->experiment_namespace(st, f->value, ns, n, &e) == 0 ? 0 : MP_ENOENT;
    case K_EXP_NAME: {
        store_experiment x = {0};
        if (st->t->experiment_get_by_name(st, f->value, &x, &e) != 0) return MP_ENOENT;
        mp_strlcpy(ns, x.namespace_ ? x.namespace_ : "default", n);
        store_experiment_free(&x);
        return 0;
    }
    case K_MODEL: return st->r->model_namespace(st, f->value, ns, n, &e) == 0 ? 0 : MP_ENOENT;
    case K_DEPLOY: return api__object_namespace(st, false, f->value, ns, n);
    case K_MONITOR: return api__object_namespace(st, true, f->value, ns, n);
    default: (void)req; return MP_ENOENT;
    }
}

/* Appends to out the JSON-escaped text of s (without the quotes). */
static void json_escaped(const char *s, mp_buf *out) {
    json_t *j = json_string(s);
    char *d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    size_t l = d ? strlen(d) : 0;
    if (l >= 2) mp_buf_append(out, d + 1, l - 2);
    free(d);
    json_decref(j);
}

/* The answer of req's handler for an object that does not exist: req with f's
 * name swapped for fake, and fake swapped back for the name in what it answered. */
static void answer_missing(const mp_http_req *req, const found *f, const char *fake, mp_http_resp *resp) {
    const mp_http_route *route = server_route(req);
    if (!route) {
        mp_http_mlflow_error(resp, 404, "RESOURCE_DOES_NOT_EXIST", "not found");
        return;
    }
    mp_http_req q = *req;
    mp_http_kv params[MP_HTTP_PARAMS];
    mp_http_kv *query = NULL;
    char *body = NULL;
    char tail[1024], qval[1024];
    if (f->src == SRC_PARAM) {
        for (size_t i = 0; i < req->nparams && i < MP_HTTP_PARAMS; i++) {
            params[i] = req->params[i];
            if (strcmp(params[i].key, f->key) == 0) params[i].value = fake;
        }
        q.params = params;
    } else if (f->src == SRC_QUERY) {
        query = mp_xcalloc(req->nquery + 1, sizeof *query);
        for (size_t i = 0; i < req->nquery; i++) {
            query[i] = req->query[i];
            if (strcmp(query[i].key, f->key) != 0) continue;
            const char *v = query[i].value;
            while (*v == '/') v++; /* an artifact path: its first component is the name */
            if (strncmp(v, f->value, strlen(f->value)) == 0) {
                snprintf(qval, sizeof qval, "%s%s", fake, v + strlen(f->value));
                query[i].value = qval;
            }
        }
        q.query = query;
    } else if (f->src == SRC_BODY) {
        json_t *b = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
        if (!json_is_object(b)) { /* an empty body: the fake alone (never the request as it came) */
            json_decref(b);
            b = json_object();
        }
        if (json_is_object(b)) {
            json_object_set_new(b, f->key, json_string(fake));
            if (json_object_get(b, "run_id") && strcmp(f->key, "run_uuid") == 0)
                json_object_set_new(b, "run_id", json_string(fake));
            if (json_object_get(b, "run_uuid") && strcmp(f->key, "run_id") == 0)
                json_object_set_new(b, "run_uuid", json_string(fake));
            body = json_dumps(b, JSON_COMPACT);
        }
        json_decref(b);
        if (body) {
            q.body = body; /* no longer the body the cache was parsed from */
            q.body_len = strlen(body);
        }
    } else if (f->src == SRC_TAIL) {
        const char *t = req->tail;
        while (*t == '/') t++;
        snprintf(tail, sizeof tail, "%s%s", fake, t + strlen(f->value));
        q.tail = tail;
    }
    mp_http_resp r;
    mp_http_resp_init(&r);
    route->fn(&q, &r);
    /* what it answered, with the real name back in place of fake */
    mp_buf out;
    mp_buf_init(&out);
    const char *s = r.body.data ? r.body.data : "";
    size_t fl = strlen(fake);
    for (const char *p = s; *p;) {
        const char *hit = strstr(p, fake);
        if (!hit) {
            mp_buf_puts(&out, p);
            break;
        }
        mp_buf_append(&out, p, (size_t)(hit - p));
        json_escaped(f->value, &out);
        p = hit + fl;
    }
    resp->status = r.status;
    mp_strlcpy(resp->content_type, r.content_type, sizeof resp->content_type);
    mp_buf_free(&resp->body);
    mp_buf_init(&resp->body);
    if (out.len) mp_buf_append(&resp->body, out.data, out.len);
    for (int i = 0; i < r.nheaders && i < 8; i++) mp_http_header_add(resp, r.headers[i].name, r.headers[i].value);
    mp_buf_free(&out);
    mp_http_resp_free(&r);
    free(query);
    free(body);
}

/* DELETE /api/v1/objects/{kind}/{name}: the resource and the namespace of that object. */
static int object_route(store *st, const mp_http_req *req, const char **resource, char *ns, size_t n) {
    const char *k = sched_object_kind_find(mp_http_param(req, "kind"));
    const char *name = mp_http_param(req, "name");
    if (!k) return MP_EINVAL; /* the handler says which kinds there are */
    const char *qns = mp_http_query(req, "namespace");
    ns[0] = '\0';
    if (strcmp(k, "Deployment") == 0 || strcmp(k, "Monitor") == 0) {
        bool mon = k[0] == 'M';
        *resource = mon ? "monitors" : "deployments";
        return api__object_namespace(st, mon, name, ns, n);
    }
    if (strstr(k, "Role")) *resource = "roles";
    else *resource = "queues";
    if (strcmp(k, "Role") == 0 || strcmp(k, "RoleBinding") == 0 || strcmp(k, "LocalQueue") == 0)
        mp_strlcpy(ns, qns && *qns ? qns : "default", n);
    return 0;
}

bool api__route_ruled(const char *method, const char *path) {
    pthread_once(&patterns_once, patterns_init);
    mp_http_match m;
    return mp_http_route_find(patterns, NRULES, method, path, &m, NULL) != NULL;
}

int api__authorize_route(store *st, const api_principal *who, const mp_http_req *req, mp_http_resp *resp) {
    pthread_once(&patterns_once, patterns_init);
    mp_http_match m;
    const mp_http_route *p = mp_http_route_find(patterns, NRULES, req->method, req->path, &m, NULL);
    if (!p) {
        mp_http_mlflow_error(resp, 403, "PERMISSION_DENIED", "%s %s is not open to authorized callers", req->method,
                             req->path);
        return MP_EPERM;
    }
    const rule *r = &RULES[p - patterns];
    if (r->kind == K_PUBLIC || r->kind == K_LIST || r->kind == K_HANDLER) return 0;
    if (api__is_master(who)) return 0;
    char ns[128] = "";
    const char *resource = r->resource;
    found f;
    memset(&f, 0, sizeof f);
    if (r->kind == K_REQNS) {
        mp_strlcpy(ns, api__req_namespace(req), sizeof ns);
    } else if (r->kind == K_CLUSTER) {
        ns[0] = '\0';
    } else if (r->kind == K_OBJECT) {
        if (object_route(st, req, &resource, ns, sizeof ns) != 0) return 0; /* the handler answers: no such object */
        memset(&f, 0, sizeof f);
        take(&f, SRC_PARAM, "name", mp_http_param(req, "name"));
    } else if (r->kind == K_ARTIFACT) {
        bool blob = false;
        artifact_exp(req, r, &f, &blob);
        if (blob) {
            resource = "models";
            mp_strlcpy(ns, api__req_namespace(req), sizeof ns);
        } else if (!f.value[0]) {
            resource = "experiments"; /* the root lists every experiment's folder */
        } else if (object_ns(st, req, r->kind, &f, ns, sizeof ns) != 0) {
            ns[0] = '\0'; /* a folder of no experiment ("./7/...", a deleted one's): cluster scope only */
        }
    } else {
        if (!find_key(req, r, &f)) {
            /* runs/create without an experiment_id creates in the Default experiment, "0" */
            if (r->kind != K_EXP || strcmp(r->path, MF "runs/create") != 0) return 0; /* the handler says what is missing */
            take(&f, SRC_BODY, r->key, "0");
        }
        if (object_ns(st, req, r->kind, &f, ns, sizeof ns) != 0) return 0; /* it answers a missing one itself */
    }
    if (api__rbac_allowed(st, who, r->verb, resource, ns)) return 0;
    bool named = r->kind != K_REQNS && r->kind != K_CLUSTER && f.value[0] && f.src != SRC_NONE;
    const char *ores = object_resource(r->kind, resource);
    bool may_get = (strcmp(r->verb, "get") != 0 || strcmp(ores, resource) != 0) && api__rbac_allowed(st, who, "get", ores, ns);
    if (named && !may_get && !(r->kind == K_ARTIFACT && strcmp(req->method, "GET") != 0)) {
        answer_missing(req, &f, fake_of(r->kind), resp);
        return MP_EPERM;
    }
    api__deny(resp, who->user, r->verb, resource, ns);
    return MP_EPERM;
}
