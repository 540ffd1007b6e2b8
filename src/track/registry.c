/* registry.c — MLflow's model registry REST API (mlflow/protos/model_registry.proto):
 * the route table, and the handlers of registered models and their aliases
 * (model versions are in registry_versions.c).
 *
 * Each handler reads its parameters (JSON body, or query string for GET) and
 * checks them as MLflow's server does, then makes ONE store call, which is one
 * transaction: a request that fails changes nothing. Store failures become
 * MLflow's error codes (reg__store_error). Responses are MLflow's JSON.
 *
 * Threads: handlers run concurrently on the server's worker threads; each uses
 * only its request's store handle (req->st) and keeps no state. */
#include "track/registry_int.h"
#include "track/track.h"

#include <stdlib.h>
#include <string.h>

#define MAX_RESULTS_MODELS 1000

/* Sends {"registered_model": m} and frees m. */
static void send_model(mp_http_resp *resp, store_registered_model *m) {
    mp_http_json(resp, 200, json_pack("{s:o}", "registered_model", reg__model_json(m)));
    store_registered_model_free(m);
}

static void send_empty(mp_http_resp *resp) { mp_http_json(resp, 200, json_object()); }

static void rm_create(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *desc;
    store_kv *tags = NULL;
    size_t ntags = 0;
    if (reg__str(p, "name", true, &name, resp) == 0 && reg__str(p, "description", false, &desc, resp) == 0 &&
        reg__tags(p, &tags, &ntags, resp) == 0) {
        store_registered_model m;
        mp_err e = {0};
        /* created and moved into the request's namespace in one transaction */
        const char *ns = track__req_namespace(req, resp);
        int rc = ns ? req->st->m->begin(req->st, &e) : MP_EINVAL;
        if (ns && rc == 0) rc = req->st->r->model_create(req->st, name, desc ? desc : "", tags, ntags, &m, &e);
        if (ns && rc == 0 && (rc = req->st->r->model_set_namespace(req->st, name, ns, &e)) != 0)
            store_registered_model_free(&m);
        if (ns && rc == 0) rc = req->st->m->commit(req->st, &e);
        else if (ns) req->st->m->rollback(req->st);
        if (ns && rc != 0) reg__store_error(resp, &e);
        else if (ns) send_model(resp, &m);
    }
    free(tags);
    json_decref(p);
}

static void rm_get(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name;
    if (reg__str(p, "name", true, &name, resp) == 0) {
        store_registered_model m;
        mp_err e = {0};
        if (req->st->r->model_get(req->st, name, &m, &e) != 0) reg__store_error(resp, &e);
        else send_model(resp, &m);
    }
    json_decref(p);
}

static void rm_rename(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *new_name;
    if (reg__str(p, "name", true, &name, resp) == 0 && reg__str(p, "new_name", true, &new_name, resp) == 0) {
        store_registered_model m;
        mp_err e = {0};
        if (req->st->r->model_rename(req->st, name, new_name, &m, &e) != 0) reg__store_error(resp, &e);
        else send_model(resp, &m);
    }
    json_decref(p);
}

static void rm_update(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *desc;
    if (reg__str(p, "name", true, &name, resp) == 0 && reg__str(p, "description", false, &desc, resp) == 0) {
        store_registered_model m;
        mp_err e = {0};
        /* MLflow passes the proto field, "" when absent. */
        if (req->st->r->model_update(req->st, name, desc ? desc : "", &m, &e) != 0) reg__store_error(resp, &e);
        else send_model(resp, &m);
    }
    json_decref(p);
}

static void rm_delete(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name;
    if (reg__str(p, "name", true, &name, resp) == 0) {
        mp_err e = {0};
        store_reg_cond c = {.field = STORE_REG_NAME, .op = STORE_OP_EQ, .str = name};
        store_reg_query q = {.conds = &c, .nconds = 1, .limit = -1};
        store_model_version *vs = NULL;
        size_t n = 0;
        /* its versions' sources and the deletion in one transaction, so none is missed */
        store *st = req->st;
        int rc = st->m->begin(st, &e);
        if (rc == 0) rc = st->r->version_search(st, &q, &vs, &n, &e);
        if (rc == 0) rc = st->r->model_delete(st, name, &e);
        if (rc == 0) rc = st->m->commit(st, &e);
        else st->m->rollback(st);
        if (rc != 0) {
            reg__store_error(resp, &e);
        } else { /* then the blobs of its versions that no other model's version names */
            const char **srcs = mp_xcalloc(n ? n : 1, sizeof *srcs);
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (vs[i].source) srcs[k++] = vs[i].source;
            reg__release_sources(req, srcs, k);
            free(srcs);
            send_empty(resp);
        }
        store_model_version_array_free(vs, n);
    }
    json_decref(p);
}

static void rm_search(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    reg_search s;
    store_registered_model *v;
    size_t n;
    mp_err e = {0};
    if (reg__search_args(p, false, 100, MAX_RESULTS_MODELS, NULL, 0, &s, resp) != 0) goto out;
    if (req->st->r->model_search(req->st, &s.q, &v, &n, &e) != 0) {
        reg__store_error(resp, &e);
        goto out;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n && i < (size_t)s.max; i++) /* only what the caller may list */
        if (mp_http_allowed(req, "list", "models", v[i].namespace_ ? v[i].namespace_ : "default"))
            json_array_append_new(a, reg__model_json(&v[i]));
    reg__search_reply(resp, &s, "registered_models", a, n);
    store_registered_model_array_free(v, n);
out:
    reg__search_free(&s);
    json_decref(p);
}

static void rm_latest(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name;
    const char **stages = NULL;
    size_t nstages = 0;
    if (reg__str(p, "name", true, &name, resp) != 0 || reg__str_array(p, "stages", &stages, &nstages, resp) != 0)
        goto out;
    for (size_t i = 0; i < nstages; i++)
        if (!(stages[i] = reg__stage(stages[i], resp))) goto out;
    store_model_version *v;
    size_t n;
    mp_err e = {0};
    if (req->st->r->version_latest(req->st, name, stages, nstages, &v, &n, &e) != 0) {
        reg__store_error(resp, &e);
        goto out;
    }
    json_t *o = json_object();
    if (n > 0) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(a, reg__version_json(&v[i]));
        json_object_set_new(o, "model_versions", a);
    }
    store_model_version_array_free(v, n);
    mp_http_json(resp, 200, o);
out:
    free(stages);
    json_decref(p);
}

static void rm_set_tag(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *key, *value;
    if (reg__str(p, "name", true, &name, resp) == 0 && reg__str(p, "key", true, &key, resp) == 0 &&
        reg__str(p, "value", false, &value, resp) == 0 && reg__tag_ok(key, value, resp) == 0) {
        mp_err e = {0};
        if (req->st->r->model_set_tag(req->st, name, key, value ? value : "", &e) != 0) reg__store_error(resp, &e);
        else send_empty(resp);
    }
    json_decref(p);
}

static void rm_delete_tag(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *key;
    if (reg__str(p, "name", true, &name, resp) == 0 && reg__str(p, "key", true, &key, resp) == 0 &&
        reg__tag_ok(key, NULL, resp) == 0) {
        mp_err e = {0};
        if (req->st->r->model_delete_tag(req->st, name, key, &e) != 0) reg__store_error(resp, &e);
        else send_empty(resp);
    }
    json_decref(p);
}

static void alias_set(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *alias, *version;
    int64_t v;
    if (reg__str(p, "name", true, &name, resp) == 0 && reg__str(p, "alias", true, &alias, resp) == 0 &&
        reg__str(p, "version", true, &version, resp) == 0 && reg__alias_ok(alias, resp) == 0 &&
        reg__version(version, &v, resp) == 0) {
        mp_err e = {0};
        if (req->st->r->alias_set(req->st, name, alias, v, &e) != 0) reg__store_error(resp, &e);
        else send_empty(resp);
    }
    json_decref(p);
}

static void alias_delete(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *alias;
    if (reg__str(p, "name", true, &name, resp) == 0 && reg__str(p, "alias", true, &alias, resp) == 0 &&
        reg__alias_ok(alias, resp) == 0) {
        mp_err e = {0};
        if (req->st->r->alias_delete(req->st, name, alias, &e) != 0) reg__store_error(resp, &e);
        else send_empty(resp);
    }
    json_decref(p);
}

static void alias_get(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *alias;
    if (reg__str(p, "name", true, &name, resp) == 0 && reg__str(p, "alias", true, &alias, resp) == 0 &&
        reg__alias_ok(alias, resp) == 0) {
        store_model_version v;
        mp_err e = {0};
        if (req->st->r->alias_get(req->st, name, alias, &v, &e) != 0) {
            reg__store_error(resp, &e);
        } else {
            mp_http_json(resp, 200, json_pack("{s:o}", "model_version", reg__version_json(&v)));
            store_model_version_free(&v);
        }
    }
    json_decref(p);
}

#define RM "/api/2.0/mlflow/registered-models/"
#define MV "/api/2.0/mlflow/model-versions/"

/* Methods and paths as model_registry.proto declares them. */
static const mp_http_route routes[] = {
    {"POST", RM "create", rm_create},
    {"GET", RM "get", rm_get},
    {"POST", RM "rename", rm_rename},
    {"PATCH", RM "update", rm_update},
    {"DELETE", RM "delete", rm_delete},
    {"GET", RM "search", rm_search},
    {"POST", RM "get-latest-versions", rm_latest},
    {"GET", RM "get-latest-versions", rm_latest},
    {"POST", RM "set-tag", rm_set_tag},
    {"DELETE", RM "delete-tag", rm_delete_tag},
    {"POST", RM "alias", alias_set},
    {"DELETE", RM "alias", alias_delete},
    {"GET", RM "alias", alias_get},
    {"POST", MV "create", reg__mv_create},
    {"GET", MV "get", reg__mv_get},
    {"PATCH", MV "update", reg__mv_update},
    {"DELETE", MV "delete", reg__mv_delete},
    {"GET", MV "search", reg__mv_search},
    {"POST", MV "transition-stage", reg__mv_transition},
    {"POST", MV "set-tag", reg__mv_set_tag},
    {"DELETE", MV "delete-tag", reg__mv_delete_tag},
    {"GET", MV "get-download-uri", reg__mv_download_uri},
};

const mp_http_route *track_registry_routes(size_t *n) {
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
