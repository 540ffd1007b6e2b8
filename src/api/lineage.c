/* lineage.c — GET /api/v1/lineage/models/{name}/versions/{version},
 * /api/v1/lineage/models/{name}/aliases/{alias} and /api/v1/lineage/artifacts/{hash}:
 * engine_lineage_model / engine_lineage_artifact's JSON, what `mlplane lineage
 * --server` prints. Handlers keep no state; each request's store is its worker's. */
#include "api/api.h"
#include "engine/engine.h"

#include <stdlib.h>

void api_h_lineage_model(const mp_http_req *req, mp_http_resp *resp) {
    mp_err e = {0};
    const char *name = mp_http_param(req, "name"), *alias = mp_http_param(req, "alias");
    int64_t version = 0;
    int rc = 0;
    if (alias) {
        store_model_version mv;
        rc = req->st->r->alias_get(req->st, name, alias, &mv, &e);
        if (rc == 0) version = mv.version;
        if (rc == 0) store_model_version_free(&mv);
    } else {
        char *end = NULL;
        const char *v = mp_http_param(req, "version");
        long long n = v ? strtoll(v, &end, 10) : 0;
        if (n <= 0 || !end || *end) rc = mp_err_set(&e, MP_EINVAL, "version \"%s\" is not a version number", v ? v : "");
        version = n;
    }
    json_t *j = NULL;
    if (rc == 0) rc = engine_lineage_model(req->st, name, version, &j, &e);
    if (rc != 0) api_error(resp, &e);
    else mp_http_json(resp, 200, j);
}

void api_h_lineage_artifact(const mp_http_req *req, mp_http_resp *resp) {
    mp_err e = {0};
    json_t *j = NULL;
    if (engine_lineage_artifact(req->st, mp_http_param(req, "hash"), &j, &e) != 0) api_error(resp, &e);
    else mp_http_json(resp, 200, j);
}
