/* deploy.c — the server's /api/v1 for applied objects and Deployments, what
 * `mlplane --server URL apply|rollout|get deployments` call:
 *   POST /api/v1/apply                        {"files": [{"path": "FILE", "text": "YAML"}, ...]} (or one
 *                                             {"path", "text"}): applies the files' Deployments and
 *                                             scheduler objects together, all or nothing, as `mlplane apply`
 *   GET  /api/v1/deployments                  every Deployment's status
 *   GET  /api/v1/deployments/NAME             one's (live from the running deployment, else the store's),
 *                                             with its state and events (describe deployment)
 *   POST /api/v1/deployments/NAME/rollout     {"percent": N}: the canary's share, as `mlplane rollout promote`
 *   DELETE /api/v1/objects/KIND/NAME[?namespace=NS]  removes an applied object, as `mlplane delete`
 * Handlers run on the engine's worker threads with their own store (req->st);
 * the running deployments are reached over HTTP (src/serve/rollout.c). */
#include "api/api.h"
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"
#include "serve/serve.h"

/* The request's JSON object body, or NULL with a 400 in resp. */
static json_t *body_object(const mp_http_req *req, mp_http_resp *resp) {
    json_t *v = mp_http_body_peek(req); /* parsed once with the authorization check */
    if (v) return v;
    json_error_t je;
    v = json_loadb(req->body, req->body_len, 0, &je);
    if (!json_is_object(v)) {
        mp_http_mlflow_error(resp, 400, "MALFORMED_REQUEST", "the body must be a JSON object%s%s", v ? "" : ": ",
                             v ? "" : je.text);
        json_decref(v);
        return NULL;
    }
    return v;
}

/* One file of an apply request: its path (what messages say), its text, what it holds. */
typedef struct apply_file {
    const char *path;
    const char *text;
    spec_file *f;
} apply_file;

/* The request's files: {"files": [{"path", "text"}, ...]}, or one {"path", "text"}.
 * Returns how many (0 with a 400 in resp when the body is not one of those). */
static size_t apply_files(json_t *body, apply_file **out, mp_http_resp *resp) {
    json_t *files = json_object_get(body, "files"), *one;
    size_t n = files ? json_array_size(files) : 1;
    if (files && (!json_is_array(files) || n == 0)) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "\"files\" must be a non-empty array of {\"path\", \"text\"}");
        return 0;
    }
    apply_file *a = mp_xcalloc(n, sizeof *a);
    for (size_t i = 0; i < n; i++) {
        one = files ? json_array_get(files, i) : body;
        a[i].path = json_string_value(json_object_get(one, "path"));
        a[i].text = json_string_value(json_object_get(one, "text"));
        if (!a[i].path || !*a[i].path) a[i].path = "request";
        if (!a[i].text) {
            if (files) mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "files[%zu]: \"text\" (the file's YAML, a string) is required", i);
            else mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "\"text\" (the file's YAML, a string) is required");
            free(a);
            return 0;
        }
    }
    *out = a;
    return n;
}

/* Whether req's caller may apply every object of the files a[0..n) (api__objects_allowed). */
static bool apply_allowed(const mp_http_req *req, const apply_file *a, size_t n, mp_http_resp *resp) {
    for (size_t i = 0; i < n; i++)
        if (!api__objects_allowed(req, a[i].f, resp)) return false;
    return true;
}

/* Every file is loaded and checked first; then all are applied in one
 * transaction, so that a problem in any of them changes nothing. */
void api_h_apply(const mp_http_req *req, mp_http_resp *resp) {
    json_t *body = body_object(req, resp);
    if (!body) return;
    apply_file *a = NULL;
    size_t n = apply_files(body, &a, resp);
    if (n == 0) {
        json_decref(body);
        return;
    }
    spec_diags d = {0};
    mp_err e = {0};
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        char *dir = mp_path_dir(a[i].path);
        if (spec_load_string(a[i].path, dir, a[i].text, strlen(a[i].text), &a[i].f, &d) != 0) bad++;
        free(dir);
    }
    int rc = 0;
    if (bad && n == 1) rc = mp_err_set(&e, MP_EINVAL, "%s: %zu problem(s)", a[0].path, d.n);
    else if (bad) rc = mp_err_set(&e, MP_EINVAL, "%zu of %zu files are not valid; nothing was applied", bad, n);
    store *st = req->st;
    if (rc == 0 && req->authz && !apply_allowed(req, a, n, resp)) {
        spec_diags_free(&d);
        for (size_t i = 0; i < n; i++) spec_file_free(a[i].f);
        free(a);
        json_decref(body);
        return;
    }
    if (rc == 0) rc = st->m->begin(st, &e);
    if (rc == 0) {
        for (size_t i = 0; rc == 0 && i < n; i++) {
            size_t napplied = 0;
            rc = sched_objects_apply(st, a[i].f, a[i].text, &napplied, &d, &e);
        }
        if (rc == 0) rc = st->m->commit(st, &e);
        else st->m->rollback(st);
        if (rc != 0 && n > 1 && !bad) {
            char msg[sizeof e.msg];
            snprintf(msg, sizeof msg, "%s", e.msg);
            mp_err_set(&e, e.code, "%.*s; nothing was applied", (int)(sizeof msg - 32), msg);
        }
    }
    if (rc != 0) {
        api_error(resp, &e);
        if (d.n) { /* every problem, as FILE:LINE:COL lines, beside MLflow's error shape */
            json_t *err = json_loadb(resp->body.data, resp->body.len, 0, NULL);
            mp_buf b;
            mp_buf_init(&b);
            spec_diags_format(&d, &b);
            if (err) {
                json_object_set_new(err, "diagnostics", json_string(b.data ? b.data : ""));
                mp_http_json(resp, resp->status, err);
            }
            mp_buf_free(&b);
        }
    } else {
        json_t *applied = json_array(), *skipped = json_array();
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < a[i].f->nobjs; j++) {
                const spec_object *o = &a[i].f->objs[j];
                json_t *x = json_pack("{s:s,s:s,s:s}", "kind", spec_kind_name(o->kind), "name", spec_object_meta(o)->name,
                                      "path", a[i].path);
                json_array_append_new(o->kind == SPEC_KIND_PIPELINE ? skipped : applied, x);
            }
        mp_http_json(resp, 200, json_pack("{s:o,s:o}", "applied", applied, "notApplied", skipped));
        api__rbac_changed();
    }
    spec_diags_free(&d);
    for (size_t i = 0; i < n; i++) spec_file_free(a[i].f);
    free(a);
    json_decref(body);
}

void api_h_deployments(const mp_http_req *req, mp_http_resp *resp) {
    mp_err e = {0};
    json_t *all = serve_deploy_status_all(req->st, req->home, &e);
    if (all) api__filter_listed(req, json_is_object(all) ? json_object_get(all, "items") : all, false);
    if (!all) api_error(resp, &e);
    else mp_http_json(resp, 200, all);
}

static void rollout(const mp_http_req *req, mp_http_resp *resp, const char *name) {
    json_t *body = body_object(req, resp);
    if (!body) return;
    json_t *p = json_object_get(body, "percent");
    if (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > 100) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "\"percent\" must be a whole number from 0 to 100");
        json_decref(body);
        return;
    }
    serve_rollout_result r;
    mp_err e = {0};
    if (serve_deploy_set_percent(req->st, req->home, name, (int)json_integer_value(p), &r, &e) != 0)
        api_error(resp, &e);
    else
        mp_http_json(resp, 200,
                     json_pack("{s:s,s:s,s:i,s:i,s:b,s:b,s:s?}", "deployment", name, "canary", r.canary, "was", r.was,
                               "percent", r.percent, "running", r.running, "told", r.told, "why",
                               r.running && !r.told ? r.why : NULL));
    json_decref(body);
}

void api_h_deployment_get(const mp_http_req *req, mp_http_resp *resp) {
    mp_err e = {0};
    json_t *v = serve_deploy_status_of(req->st, req->home, mp_http_param(req, "name"), NULL, 0, &e);
    if (!v) api_error(resp, &e);
    else mp_http_json(resp, 200, v);
}

void api_h_deployment_rollout(const mp_http_req *req, mp_http_resp *resp) {
    rollout(req, resp, mp_http_param(req, "name"));
}

void api_h_object_delete(const mp_http_req *req, mp_http_resp *resp) {
    const char *kind = mp_http_param(req, "kind"), *name = mp_http_param(req, "name");
    mp_err e = {0};
    if (sched_objects_delete(req->st, kind, mp_http_query(req, "namespace"), name, &e) != 0) api_error(resp, &e);
    else api__rbac_changed();
    if (e.code == 0) mp_http_json(resp, 200, json_pack("{s:s,s:s}", "kind", sched_object_kind_find(kind), "name", name));
}
