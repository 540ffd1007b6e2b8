/* models.c — a registered version's model as one file, for model servers that
 * download a single file (KServe's storageUri, `mlplane serve --server`):
 *   GET /api/v1/models/{name}/versions/{version}/model.json   (version: a number, latest, or a stage)
 *   GET /api/v1/models/{name}/aliases/{alias}/model.json
 *   and the same paths ending model.ubj (XGBoost's binary UBJSON format).
 * The version is resolved as `mlplane serve models:/...` resolves it
 * (serve_ref_resolve_store: its source a file or a folder holding one model
 * file); a file already in the asked format is sent as it is, any other is
 * loaded by the serving runtime and written by the library in that format (no
 * conversion here). The answer says which version it is (X-Model-Name,
 * X-Model-Version). Errors are MLflow's shape: 404 for a missing model,
 * version or alias, 400 for a malformed version. Handlers run on the
 * engine's worker threads with their own store (req->st). */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "serve/serve.h"

/* Answers with the model of ref in format ("json", "ubj"). */
static void send_model(const mp_http_req *req, mp_http_resp *resp, const char *ref, const char *format) {
    mp_err e = {0};
    serve_ref r = {0};
    if (serve_ref_resolve_store(req->st, req->home, ref, &r, &e) != 0) {
        api_error(resp, &e);
        return;
    }
    char ext[8];
    snprintf(ext, sizeof ext, ".%s", format);
    if (mp_str_ends(r.path, ext)) { /* as it is: streamed from the file */
        resp->file_path = mp_xstrdup(r.path);
    } else {
        serve_model *m = NULL;
        int rc = serve_model_load(r.path, r.name, r.version, &m, &e);
        if (rc == 0) rc = serve_model_save(m, format, &resp->body, &e);
        serve_model_free(m);
        if (rc != 0) {
            mp_http_resp_free(resp);
            mp_http_resp_init(resp);
            mp_err_prefix(&e, "%s as model.%s", ref, format);
            api_error(resp, &e);
            serve_ref_free(&r);
            return;
        }
    }
    resp->status = 200;
    mp_strlcpy(resp->content_type, strcmp(format, "json") == 0 ? "application/json" : "application/octet-stream",
               sizeof resp->content_type);
    char disp[64];
    snprintf(disp, sizeof disp, "attachment; filename=\"model.%s\"", format);
    mp_http_header_add(resp, "Content-Disposition", disp);
    mp_http_header_add(resp, "X-Model-Name", r.name);
    mp_http_header_add(resp, "X-Model-Version", r.version);
    serve_ref_free(&r);
}

/* The format a route's last segment names: "model.json" -> "json". */
static const char *format_of(const mp_http_req *req) {
    return mp_str_ends(req->path, ".ubj") ? "ubj" : "json";
}

void api_h_model_version_file(const mp_http_req *req, mp_http_resp *resp) {
    const char *name = mp_http_param(req, "name"), *version = mp_http_param(req, "version");
    if (strchr(name, '@')) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "model name \"%s\": write aliases as /aliases/ALIAS", name);
        return;
    }
    char *ref = mp_xasprintf("models:/%s/%s", name, version);
    send_model(req, resp, ref, format_of(req));
    free(ref);
}

void api_h_model_alias_file(const mp_http_req *req, mp_http_resp *resp) {
    const char *name = mp_http_param(req, "name"), *alias = mp_http_param(req, "alias");
    if (strchr(name, '@') || strchr(alias, '@')) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "a model name or alias cannot hold '@'");
        return;
    }
    char *ref = mp_xasprintf("models:/%s@%s", name, alias);
    send_model(req, resp, ref, format_of(req));
    free(ref);
}
