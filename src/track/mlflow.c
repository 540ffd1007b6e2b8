/* mlflow.c — the route table of MLflow's tracking REST API (service.proto) and the
 * experiment handlers; run handlers are in runs.c, logging in logging.c.
 *
 * Every route is listed under /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/ (the
 * MLflow UI's prefix). Handlers read their arguments with track__args (a POST's
 * JSON body or a GET's query string), call the store through req->st->t, and
 * answer MLflow's JSON or MLflow's error shape. A request that fails changes
 * nothing: handlers validate everything before the one store call that writes.
 * Threads: handlers run on the server's worker threads; each uses only its
 * request's store handle. The route table is constant. */
#include "track/track_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- experiments ----------------------------------------------------------------------- */

static int check_exp_tags(const store_kv *tags, size_t n, mp_http_resp *resp) {
    for (size_t i = 0; i < n; i++)
        if (track__check_key("tag", tags[i].key, resp) != 0 ||
            track__check_length("Tag key", TRACK__MAX_ENTITY_KEY_LENGTH, tags[i].key, resp) != 0 ||
            track__check_length("Tag value", TRACK__MAX_EXPERIMENT_TAG_VAL_LENGTH, tags[i].value, resp) != 0)
            return -1;
    return 0;
}

static int check_exp_name(const char *name, mp_http_resp *resp) {
    if (strlen(name) > TRACK__MAX_EXPERIMENT_NAME_LENGTH) {
        track__invalid(resp, "Experiment name exceeds the maximum length of %d characters",
                       TRACK__MAX_EXPERIMENT_NAME_LENGTH);
        return -1;
    }
    return 0;
}

static void exp_create(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *name, *loc;
    store_kv *tags = NULL;
    size_t ntags = 0;
    if (track__str(a, "name", true, &name, resp) != 0 || check_exp_name(name, resp) != 0 ||
        track__str(a, "artifact_location", false, &loc, resp) != 0 || track__kvs(a, "tags", &tags, &ntags, resp) != 0 ||
        check_exp_tags(tags, ntags, resp) != 0)
        goto out;
    if (loc && mp_str_starts(loc, "runs:")) {
        track__invalid(resp, "Artifact location cannot be a runs:/ URI. Given: '%s'", loc);
        goto out;
    }
    mp_err e = {0};
    char *id = NULL;
    /* created and moved into the request's namespace in one transaction */
    const char *ns = track__req_namespace(req, resp);
    if (!ns) goto out;
    int rc = req->st->m->begin(req->st, &e);
    if (rc == 0) rc = req->st->t->experiment_create(req->st, name, loc, tags, ntags, &id, &e);
    if (rc == 0) rc = req->st->t->experiment_set_namespace(req->st, id, ns, &e);
    if (rc == 0) rc = req->st->m->commit(req->st, &e);
    else req->st->m->rollback(req->st);
    if (rc != 0) track__store_error(resp, &e);
    else mp_http_json(resp, 200, json_pack("{s:s}", "experiment_id", id));
    free(id);
out:
    store_kv_array_free(tags, ntags);
    json_decref(a);
}

static void exp_reply(mp_http_resp *resp, store_experiment *x) {
    mp_http_json(resp, 200, json_pack("{s:o}", "experiment", track__experiment_json(x)));
    store_experiment_free(x);
}

static void exp_get(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id;
    if (track__str(a, "experiment_id", true, &id, resp) == 0) {
        mp_err e = {0};
        store_experiment x;
        if (req->st->t->experiment_get(req->st, id, &x, &e) != 0) track__store_error(resp, &e);
        else exp_reply(resp, &x);
    }
    json_decref(a);
}

static void exp_get_by_name(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *name;
    if (track__str(a, "experiment_name", true, &name, resp) == 0) {
        mp_err e = {0};
        store_experiment x;
        if (req->st->t->experiment_get_by_name(req->st, name, &x, &e) != 0) track__store_error(resp, &e);
        else exp_reply(resp, &x);
    }
    json_decref(a);
}

static void exp_search(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *filter = NULL;
    const char **orders = NULL;
    size_t norders = 0;
    store_track_filter f = {0};
    store_track_order *ord = NULL;
    size_t nord = 0;
    store_track_query q = {0};
    mp_err e = {0};
    if (track__str(a, "filter", false, &filter, resp) != 0 || track__strs(a, "order_by", &orders, &norders, resp) != 0 ||
        track__view(a, "view_type", &q.view, resp) != 0 ||
        track__max_results(a, TRACK__DEFAULT_MAX_RESULTS, TRACK__SEARCH_MAX_RESULTS, &q.limit, resp) != 0 ||
        track__page_offset(a, &q.offset, resp) != 0)
        goto out;
    if (track_filter_parse(filter, TRACK_FILTER_EXPERIMENTS, &f, &e) != 0) {
        track__store_error(resp, &e);
        goto out;
    }
    ord = mp_xcalloc(norders + 1, sizeof *ord);
    for (; nord < norders; nord++)
        if (track_order_parse(orders[nord], TRACK_FILTER_EXPERIMENTS, &ord[nord], &e) != 0) {
            track__store_error(resp, &e);
            goto out;
        }
    q.filter = &f;
    q.order = ord;
    q.norder = nord;
    int64_t want = q.limit;
    q.limit = want + 1; /* one more tells whether there is a next page */
    store_experiment *v = NULL;
    size_t n = 0;
    if (req->st->t->experiment_search(req->st, &q, &v, &n, &e) != 0) {
        track__store_error(resp, &e);
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && (int64_t)i < want; i++) /* only what the caller may list */
        if (mp_http_allowed(req, "list", "experiments", v[i].namespace_ ? v[i].namespace_ : "default"))
            json_array_append_new(arr, track__experiment_json(&v[i]));
    json_t *o = json_object();
    json_object_set_new(o, "experiments", arr);
    if ((int64_t)n > want) track__set_page_token(o, q.offset + want);
    mp_http_json(resp, 200, o);
    store_experiment_array_free(v, n);
out:
    store_track_order_array_free(ord, nord);
    store_track_filter_free(&f);
    free(orders);
    json_decref(a);
}

static void exp_update(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id, *name;
    if (track__str(a, "experiment_id", true, &id, resp) == 0 && track__str(a, "new_name", false, &name, resp) == 0 &&
        (!name || check_exp_name(name, resp) == 0)) {
        mp_err e = {0};
        store_experiment x;
        int rc = req->st->t->experiment_get(req->st, id, &x, &e);
        if (rc == 0) store_experiment_free(&x);
        if (rc == 0 && name && *name) rc = req->st->t->experiment_rename(req->st, id, name, &e);
        /* MLflow answers INVALID_STATE (HTTP 500) for renaming a deleted experiment */
        if (rc == MP_ESTATE) mp_http_mlflow_error(resp, 500, "INVALID_STATE", "%s", e.msg);
        else if (rc != 0) track__store_error(resp, &e);
        else track__ok_empty(resp);
    }
    json_decref(a);
}

static void exp_lifecycle(const mp_http_req *req, mp_http_resp *resp, const char *stage) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id;
    if (track__str(a, "experiment_id", true, &id, resp) == 0) {
        mp_err e = {0};
        if (req->st->t->experiment_set_lifecycle(req->st, id, stage, &e) != 0) track__store_error(resp, &e);
        else track__ok_empty(resp);
    }
    json_decref(a);
}

static void exp_delete(const mp_http_req *req, mp_http_resp *resp) { exp_lifecycle(req, resp, "deleted"); }
static void exp_restore(const mp_http_req *req, mp_http_resp *resp) { exp_lifecycle(req, resp, "active"); }

static void exp_set_tag(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id, *key, *value;
    if (track__str(a, "experiment_id", true, &id, resp) == 0 && track__str(a, "key", true, &key, resp) == 0 &&
        track__str(a, "value", false, &value, resp) == 0) {
        store_kv kv = {(char *)key, (char *)(value ? value : "")};
        mp_err e = {0};
        if (check_exp_tags(&kv, 1, resp) != 0) {
        } else if (req->st->t->experiment_set_tag(req->st, id, key, kv.value, &e) != 0) {
            track__store_error(resp, &e);
        } else {
            track__ok_empty(resp);
        }
    }
    json_decref(a);
}

/* ---- the route table --------------------------------------------------------------------- */

#define API "/api/2.0/mlflow/"
#define AJAX "/ajax-api/2.0/mlflow/"
#define ROUTE(method, path, fn) {method, API path, fn}, {method, AJAX path, fn}

static const mp_http_route routes[] = {
    ROUTE("POST", "experiments/create", exp_create),
    ROUTE("GET", "experiments/get", exp_get),
    ROUTE("GET", "experiments/get-by-name", exp_get_by_name),
    ROUTE("POST", "experiments/search", exp_search),
    ROUTE("GET", "experiments/search", exp_search),
    ROUTE("POST", "experiments/update", exp_update),
    ROUTE("POST", "experiments/delete", exp_delete),
    ROUTE("POST", "experiments/restore", exp_restore),
    ROUTE("POST", "experiments/set-experiment-tag", exp_set_tag),
    ROUTE("POST", "runs/create", track__run_create),
    ROUTE("GET", "runs/get", track__run_get),
    ROUTE("POST", "runs/update", track__run_update),
    ROUTE("POST", "runs/delete", track__run_delete),
    ROUTE("POST", "runs/restore", track__run_restore),
    ROUTE("POST", "runs/search", track__run_search),
    ROUTE("POST", "runs/log-metric", track__log_metric),
    ROUTE("POST", "runs/log-parameter", track__log_param),
    ROUTE("POST", "runs/set-tag", track__set_tag),
    ROUTE("POST", "runs/delete-tag", track__delete_tag),
    ROUTE("POST", "runs/log-batch", track__log_batch),
    ROUTE("POST", "runs/log-inputs", track__log_inputs),
    ROUTE("GET", "metrics/get-history", track__metric_history),
    ROUTE("GET", "artifacts/list", track__artifacts_list),
};

const mp_http_route *track_routes(size_t *n) {
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
