/* test_track_api.c — unit tests of the MLflow tracking handlers (src/track): each
 * endpoint is called through the route table with an mp_http_req on a fresh
 * SQLite store under $MLPLANE_TEST_TMP, and its JSON, status and error_code are
 * checked against MLflow's. Also: log-batch limits and atomicity, params
 * immutability, search filters, ordering and paging. Single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "track/track.h"
#include "unit_helpers.h"

typedef struct fx {
    char *dir;
    store *s;
    int status;
    json_t *out; /* the last response */
} fx;

static int setup(void **state) {
    fx *f = mp_xcalloc(1, sizeof *f);
    f->dir = ut_scratch_dir("track");
    f->s = ut_store_in(f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    json_decref(f->out);
    f->s->m->close(f->s);
    mp_rm_rf(f->dir, NULL);
    free(f->dir);
    free(f);
    return 0;
}

/* Calls METHOD /api/2.0/mlflow/PATH (or /ajax-api/ when path starts with "ajax:")
 * with a JSON body (POST) or a query string "k=v&k=v" (GET). Returns the status;
 * f->out holds the response JSON. */
static int call(fx *f, const char *method, const char *path, const char *arg) {
    char full[256];
    if (mp_str_starts(path, "ajax:")) snprintf(full, sizeof full, "/ajax-api/2.0/mlflow/%s", path + 5);
    else snprintf(full, sizeof full, "/api/2.0/mlflow/%s", path);
    size_t n;
    const mp_http_route *routes = track_routes(&n);
    mp_http_match mm;
    bool known;
    const mp_http_route *r = mp_http_route_find(routes, n, method, full, &mm, &known);
    if (!r) fail_msg("no route for %s %s", method, full);
    mp_http_kv q[16];
    char *qs = NULL;
    size_t nq = 0;
    bool get = strcmp(method, "GET") == 0;
    if (get && arg) {
        qs = mp_xstrdup(arg);
        for (char *tok = strtok(qs, "&"); tok && nq < 16; tok = strtok(NULL, "&")) {
            char *eq = strchr(tok, '=');
            if (eq) *eq = 0;
            q[nq].key = tok;
            q[nq].value = eq ? eq + 1 : "";
            nq++;
        }
    }
    mp_http_req req = {.method = method, .path = full, .tail = mm.tail, .params = mm.params, .nparams = mm.nparams, .query = q, .nquery = nq,
                       .body = get || !arg ? "" : arg, .body_len = get || !arg ? 0 : strlen(arg),
                       .st = f->s, .home = f->dir, .base_url = "http://127.0.0.1:5000"};
    mp_http_resp resp;
    mp_http_resp_init(&resp);
    r->fn(&req, &resp);
    json_decref(f->out);
    json_error_t je;
    f->out = json_loads(resp.body.data, 0, &je);
    if (!f->out) fail_msg("%s %s: response is not JSON: %s", method, path, resp.body.data);
    f->status = resp.status;
    mp_http_resp_free(&resp);
    free(qs);
    return f->status;
}

static int callf(fx *f, const char *method, const char *path, const char *fmt, ...) MP_PRINTF(4, 5);
static int callf(fx *f, const char *method, const char *path, const char *fmt, ...) {
    mp_buf b;
    mp_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    int rc = call(f, method, path, b.data);
    mp_buf_free(&b);
    return rc;
}

/* A string at a dotted path of the last response ("run.info.run_id"); numbers in
 * the path index arrays. NULL when absent. */
static json_t *at(fx *f, const char *path) {
    json_t *v = f->out;
    char *p = mp_xstrdup(path);
    for (char *tok = strtok(p, "."); tok && v; tok = strtok(NULL, "."))
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(tok)) : json_object_get(v, tok);
    free(p);
    return v;
}
static const char *str_at(fx *f, const char *path) { return json_string_value(at(f, path)); }

static void expect_error(fx *f, int status, const char *code, const char *msg_part) {
    const char *c = str_at(f, "error_code"), *m = str_at(f, "message");
    if (f->status != status || !c || strcmp(c, code) != 0 || (msg_part && (!m || !strstr(m, msg_part)))) {
        char *s = json_dumps(f->out, 0);
        fail_msg("expected %d %s (%s), got %d %s", status, code, msg_part ? msg_part : "", f->status, s);
    }
}

static char *create_exp(fx *f, const char *name) {
    assert_int_equal(callf(f, "POST", "experiments/create", "{\"name\":\"%s\"}", name), 200);
    return mp_xstrdup(str_at(f, "experiment_id"));
}

static char *create_run(fx *f, const char *exp, const char *extra) {
    if (callf(f, "POST", "runs/create", "{\"experiment_id\":\"%s\"%s%s}", exp, extra ? "," : "", extra ? extra : "") != 200)
        fail_msg("runs/create: %s", json_dumps(f->out, 0));
    return mp_xstrdup(str_at(f, "run.info.run_id"));
}

/* ---- experiments ------------------------------------------------------------------------ */

static void test_experiments(void **state) {
    fx *f = *state;
    /* the Default experiment exists */
    assert_int_equal(call(f, "GET", "experiments/get", "experiment_id=0"), 200);
    assert_string_equal(str_at(f, "experiment.name"), "Default");
    assert_string_equal(str_at(f, "experiment.artifact_location"), "mlflow-artifacts:/0");
    assert_string_equal(str_at(f, "experiment.lifecycle_stage"), "active");

    assert_int_equal(call(f, "POST", "experiments/create",
                          "{\"name\":\"exp-a\",\"tags\":[{\"key\":\"team\",\"value\":\"ml\"}]}"),
                     200);
    char *id = mp_xstrdup(str_at(f, "experiment_id"));
    assert_string_equal(id, "1");
    assert_int_equal(callf(f, "GET", "experiments/get", "experiment_id=%s", id), 200);
    assert_string_equal(str_at(f, "experiment.artifact_location"), "mlflow-artifacts:/1");
    assert_string_equal(str_at(f, "experiment.tags.0.key"), "team");
    assert_true(json_is_integer(at(f, "experiment.creation_time")));

    assert_int_equal(call(f, "POST", "experiments/create", "{\"name\":\"exp-a\"}"), 400);
    expect_error(f, 400, "RESOURCE_ALREADY_EXISTS", "exp-a");
    call(f, "POST", "experiments/create", "{}");
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'name'");
    call(f, "POST", "experiments/create", "{\"name\": 5}");
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Invalid value 5 for parameter 'name'");
    call(f, "POST", "experiments/create", "{\"name\": \"x\", \"artifact_location\": \"runs:/a\"}");
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "runs:/");
    call(f, "POST", "experiments/create", "{not json");
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "malformed JSON");
    assert_int_equal(call(f, "POST", "experiments/create", "{\"name\":\"custom\",\"artifact_location\":\"s3://b/x\"}"),
                     200);

    call(f, "GET", "experiments/get", "experiment_id=999");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=999 exists");
    call(f, "GET", "experiments/get", "experiment_id=abc");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
    call(f, "GET", "experiments/get", NULL);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "experiment_id");

    assert_int_equal(call(f, "GET", "experiments/get-by-name", "experiment_name=exp-a"), 200);
    assert_string_equal(str_at(f, "experiment.experiment_id"), id);
    call(f, "GET", "ajax:experiments/get-by-name", "experiment_name=nope");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", "Could not find experiment with name 'nope'");

    /* update */
    assert_int_equal(callf(f, "POST", "experiments/update", "{\"experiment_id\":\"%s\",\"new_name\":\"exp-b\"}", id),
                     200);
    assert_int_equal(call(f, "GET", "experiments/get-by-name", "experiment_name=exp-b"), 200);
    callf(f, "POST", "experiments/update", "{\"experiment_id\":\"%s\",\"new_name\":\"Default\"}", id);
    expect_error(f, 400, "RESOURCE_ALREADY_EXISTS", NULL);
    call(f, "POST", "experiments/update", "{\"experiment_id\":\"77\",\"new_name\":\"z\"}");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

    /* tags */
    assert_int_equal(callf(f, "POST", "experiments/set-experiment-tag",
                           "{\"experiment_id\":\"%s\",\"key\":\"team\",\"value\":\"infra\"}", id),
                     200);
    callf(f, "GET", "experiments/get", "experiment_id=%s", id);
    assert_string_equal(str_at(f, "experiment.tags.0.value"), "infra");
    callf(f, "POST", "experiments/set-experiment-tag", "{\"experiment_id\":\"%s\",\"key\":\"../x\",\"value\":\"v\"}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Invalid tag name");

    /* delete and restore */
    assert_int_equal(callf(f, "POST", "experiments/delete", "{\"experiment_id\":\"%s\"}", id), 200);
    callf(f, "GET", "experiments/get", "experiment_id=%s", id);
    assert_string_equal(str_at(f, "experiment.lifecycle_stage"), "deleted");
    callf(f, "POST", "experiments/update", "{\"experiment_id\":\"%s\",\"new_name\":\"exp-c\"}", id);
    expect_error(f, 500, "INVALID_STATE", "Cannot rename a non-active experiment");
    callf(f, "POST", "experiments/set-experiment-tag", "{\"experiment_id\":\"%s\",\"key\":\"k\",\"value\":\"v\"}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state");
    callf(f, "POST", "runs/create", "{\"experiment_id\":\"%s\"}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state");
    call(f, "POST", "experiments/create", "{\"name\":\"exp-b\"}");
    expect_error(f, 400, "RESOURCE_ALREADY_EXISTS", NULL);
    assert_int_equal(callf(f, "POST", "experiments/restore", "{\"experiment_id\":\"%s\"}", id), 200);
    callf(f, "GET", "experiments/get", "experiment_id=%s", id);
    assert_string_equal(str_at(f, "experiment.lifecycle_stage"), "active");
    call(f, "POST", "experiments/delete", "{\"experiment_id\":\"1234\"}");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
    free(id);
}

static void test_experiment_search(void **state) {
    fx *f = *state;
    char *a = create_exp(f, "alpha-1"), *b = create_exp(f, "alpha-2"), *c = create_exp(f, "beta");
    callf(f, "POST", "experiments/set-experiment-tag", "{\"experiment_id\":\"%s\",\"key\":\"k\",\"value\":\"v\"}", b);
    assert_int_equal(call(f, "POST", "experiments/search", "{}"), 200);
    assert_int_equal(json_array_size(at(f, "experiments")), 4);

    assert_int_equal(call(f, "POST", "experiments/search", "{\"filter\":\"name LIKE 'alpha%'\",\"order_by\":[\"name DESC\"]}"),
                     200);
    assert_int_equal(json_array_size(at(f, "experiments")), 2);
    assert_string_equal(str_at(f, "experiments.0.name"), "alpha-2");
    assert_int_equal(call(f, "POST", "experiments/search", "{\"filter\":\"name LIKE 'ALPHA%'\"}"), 200);
    assert_int_equal(json_array_size(at(f, "experiments")), 0);
    assert_int_equal(call(f, "POST", "experiments/search", "{\"filter\":\"name ILIKE 'ALPHA%'\"}"), 200);
    assert_int_equal(json_array_size(at(f, "experiments")), 2);
    assert_int_equal(call(f, "POST", "experiments/search", "{\"filter\":\"tags.k = 'v'\"}"), 200);
    assert_int_equal(json_array_size(at(f, "experiments")), 1);
    assert_string_equal(str_at(f, "experiments.0.name"), "alpha-2");
    /* GET with a query string, paging */
    assert_int_equal(call(f, "GET", "experiments/search", "max_results=3&order_by=name ASC"), 200);
    assert_int_equal(json_array_size(at(f, "experiments")), 3);
    assert_string_equal(str_at(f, "experiments.0.name"), "Default");
    char *tok = mp_xstrdup(str_at(f, "next_page_token"));
    assert_non_null(tok);
    char *body = mp_xasprintf("{\"max_results\":3,\"order_by\":[\"name ASC\"],\"page_token\":\"%s\"}", tok);
    assert_int_equal(call(f, "POST", "experiments/search", body), 200);
    assert_int_equal(json_array_size(at(f, "experiments")), 1);
    assert_string_equal(str_at(f, "experiments.0.name"), "beta");
    assert_null(at(f, "next_page_token"));
    free(body);
    free(tok);
    /* view types */
    callf(f, "POST", "experiments/delete", "{\"experiment_id\":\"%s\"}", c);
    call(f, "POST", "experiments/search", "{\"view_type\":\"DELETED_ONLY\"}");
    assert_int_equal(json_array_size(at(f, "experiments")), 1);
    call(f, "POST", "experiments/search", "{\"view_type\":\"ALL\"}");
    assert_int_equal(json_array_size(at(f, "experiments")), 4);
    call(f, "POST", "experiments/search", "{}");
    assert_int_equal(json_array_size(at(f, "experiments")), 3);
    /* errors */
    call(f, "POST", "experiments/search", "{\"filter\":\"name = \"}");
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "position 8");
    call(f, "POST", "experiments/search", "{\"max_results\": 50001}");
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "at most 50000");
    call(f, "POST", "experiments/search", "{\"page_token\": \"!!!\"}");
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Invalid page token");
    call(f, "POST", "experiments/search", "{\"view_type\": \"SOME\"}");
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "view_type");
    free(a);
    free(b);
    free(c);
}

/* ---- runs ------------------------------------------------------------------------------- */

static void test_runs(void **state) {
    fx *f = *state;
    char *exp = create_exp(f, "runs");
    assert_int_equal(callf(f, "POST", "runs/create",
                           "{\"experiment_id\":\"%s\",\"user_id\":\"ann\",\"run_name\":\"first\",\"start_time\":1000,"
                           "\"tags\":[{\"key\":\"t\",\"value\":\"1\"}]}",
                           exp),
                     200);
    char *id = mp_xstrdup(str_at(f, "run.info.run_id"));
    assert_int_equal(strlen(id), 32);
    assert_string_equal(str_at(f, "run.info.run_uuid"), id);
    assert_string_equal(str_at(f, "run.info.run_name"), "first");
    assert_string_equal(str_at(f, "run.info.status"), "RUNNING");
    assert_string_equal(str_at(f, "run.info.user_id"), "ann");
    assert_string_equal(str_at(f, "run.info.lifecycle_stage"), "active");
    assert_int_equal(json_integer_value(at(f, "run.info.start_time")), 1000);
    assert_null(at(f, "run.info.end_time"));
    char *uri = mp_xasprintf("mlflow-artifacts:/%s/%s/artifacts", exp, id);
    assert_string_equal(str_at(f, "run.info.artifact_uri"), uri);
    free(uri);
    assert_string_equal(str_at(f, "run.data.tags.0.key"), "mlflow.runName");
    assert_string_equal(str_at(f, "run.data.tags.0.value"), "first");
    assert_non_null(at(f, "run.inputs"));

    /* a generated name; the Default experiment when none is given */
    assert_int_equal(call(f, "POST", "runs/create", "{}"), 200);
    assert_string_equal(str_at(f, "run.info.experiment_id"), "0");
    assert_non_null(strchr(str_at(f, "run.info.run_name"), '-'));
    call(f, "POST", "runs/create",
         "{\"run_name\":\"a\",\"tags\":[{\"key\":\"mlflow.runName\",\"value\":\"b\"}]}");
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Both 'run_name' argument and 'mlflow.runName' tag");
    call(f, "POST", "runs/create", "{\"experiment_id\":\"4242\"}");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=4242 exists");

    /* get */
    assert_int_equal(callf(f, "GET", "runs/get", "run_id=%s", id), 200);
    assert_string_equal(str_at(f, "run.info.run_name"), "first");
    assert_int_equal(callf(f, "GET", "ajax:runs/get", "run_uuid=%s", id), 200);
    call(f, "GET", "runs/get", "run_id=nope");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=nope not found");
    call(f, "GET", "runs/get", NULL);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "'run_id'");

    /* update */
    assert_int_equal(callf(f, "POST", "runs/update",
                           "{\"run_id\":\"%s\",\"status\":\"FINISHED\",\"end_time\":2000,\"run_name\":\"renamed\"}", id),
                     200);
    assert_string_equal(str_at(f, "run_info.status"), "FINISHED");
    assert_int_equal(json_integer_value(at(f, "run_info.end_time")), 2000);
    assert_string_equal(str_at(f, "run_info.run_name"), "renamed");
    callf(f, "GET", "runs/get", "run_id=%s", id);
    assert_string_equal(str_at(f, "run.data.tags.0.value"), "renamed");
    callf(f, "POST", "runs/update", "{\"run_id\":\"%s\",\"status\":\"DONE\"}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "status");
    assert_int_equal(callf(f, "POST", "runs/update", "{\"run_id\":\"%s\",\"status\":5}", id), 200);
    assert_string_equal(str_at(f, "run_info.status"), "KILLED");
    call(f, "POST", "runs/update", "{\"run_id\":\"nope\",\"status\":\"FAILED\"}");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

    /* set-tag renames through mlflow.runName */
    assert_int_equal(callf(f, "POST", "runs/set-tag", "{\"run_id\":\"%s\",\"key\":\"mlflow.runName\",\"value\":\"n3\"}", id),
                     200);
    callf(f, "GET", "runs/get", "run_id=%s", id);
    assert_string_equal(str_at(f, "run.info.run_name"), "n3");

    /* delete and restore */
    assert_int_equal(callf(f, "POST", "runs/delete", "{\"run_id\":\"%s\"}", id), 200);
    callf(f, "GET", "runs/get", "run_id=%s", id);
    assert_string_equal(str_at(f, "run.info.lifecycle_stage"), "deleted");
    callf(f, "POST", "runs/log-metric", "{\"run_id\":\"%s\",\"key\":\"m\",\"value\":1,\"timestamp\":1}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state. Current state is deleted.");
    callf(f, "POST", "runs/set-tag", "{\"run_id\":\"%s\",\"key\":\"k\",\"value\":\"v\"}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "'active' state");
    callf(f, "POST", "runs/update", "{\"run_id\":\"%s\",\"status\":\"FAILED\"}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "'active' state");
    assert_int_equal(callf(f, "POST", "runs/restore", "{\"run_id\":\"%s\"}", id), 200);
    callf(f, "GET", "runs/get", "run_id=%s", id);
    assert_string_equal(str_at(f, "run.info.lifecycle_stage"), "active");
    call(f, "POST", "runs/delete", "{\"run_id\":\"nope\"}");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

    /* deleting the experiment deletes its runs; restoring restores them */
    callf(f, "POST", "experiments/delete", "{\"experiment_id\":\"%s\"}", exp);
    callf(f, "GET", "runs/get", "run_id=%s", id);
    assert_string_equal(str_at(f, "run.info.lifecycle_stage"), "deleted");
    callf(f, "POST", "experiments/restore", "{\"experiment_id\":\"%s\"}", exp);
    callf(f, "GET", "runs/get", "run_id=%s", id);
    assert_string_equal(str_at(f, "run.info.lifecycle_stage"), "active");
    free(id);
    free(exp);
}

/* ---- logging ----------------------------------------------------------------------------- */

static void test_log_metric_param_tag(void **state) {
    fx *f = *state;
    char *id = create_run(f, "0", NULL);
    assert_int_equal(callf(f, "POST", "runs/log-metric", "{\"run_id\":\"%s\",\"key\":\"loss\",\"value\":0.5,\"timestamp\":10}",
                           id),
                     200);
    assert_int_equal(callf(f, "POST", "runs/log-metric",
                           "{\"run_uuid\":\"%s\",\"key\":\"loss\",\"value\":0.25,\"timestamp\":20,\"step\":1}", id),
                     200);
    assert_int_equal(callf(f, "POST", "runs/log-metric",
                           "{\"run_id\":\"%s\",\"key\":\"loss\",\"value\":0.9,\"timestamp\":5,\"step\":0}", id),
                     200);
    assert_int_equal(callf(f, "POST", "runs/log-metric",
                           "{\"run_id\":\"%s\",\"key\":\"odd\",\"value\":\"NaN\",\"timestamp\":5}", id),
                     200);
    callf(f, "GET", "runs/get", "run_id=%s", id);
    /* latest = greatest (step, timestamp, value) */
    assert_string_equal(str_at(f, "run.data.metrics.0.key"), "loss");
    assert_true(json_real_value(at(f, "run.data.metrics.0.value")) == 0.25);
    assert_int_equal(json_integer_value(at(f, "run.data.metrics.0.step")), 1);
    assert_string_equal(str_at(f, "run.data.metrics.1.value"), "NaN");

    callf(f, "POST", "runs/log-metric", "{\"run_id\":\"%s\",\"key\":\"loss\",\"value\":1}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "'timestamp'");
    callf(f, "POST", "runs/log-metric", "{\"run_id\":\"%s\",\"key\":\"loss\",\"value\":\"x\",\"timestamp\":1}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "valid double");
    callf(f, "POST", "runs/log-metric", "{\"run_id\":\"%s\",\"key\":\"a\\\\b\",\"value\":1,\"timestamp\":1}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Invalid metric name");
    callf(f, "POST", "runs/log-metric", "{\"run_id\":\"%s\",\"key\":\"/abs\",\"value\":1,\"timestamp\":1}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Invalid metric name");
    callf(f, "POST", "runs/log-metric", "{\"run_id\":\"%s\",\"key\":\"m\",\"value\":1,\"timestamp\":-1}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Timestamp must be a nonnegative");
    call(f, "POST", "runs/log-metric", "{\"run_id\":\"nope\",\"key\":\"m\",\"value\":1,\"timestamp\":1}");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

    /* history, paged */
    assert_int_equal(callf(f, "GET", "metrics/get-history", "run_id=%s&metric_key=loss", id), 200);
    assert_int_equal(json_array_size(at(f, "metrics")), 3);
    assert_int_equal(json_integer_value(at(f, "metrics.0.timestamp")), 5);
    assert_int_equal(callf(f, "GET", "metrics/get-history", "run_id=%s&metric_key=loss&max_results=2", id), 200);
    assert_int_equal(json_array_size(at(f, "metrics")), 2);
    char *tok = mp_xstrdup(str_at(f, "next_page_token"));
    assert_int_equal(callf(f, "GET", "metrics/get-history", "run_id=%s&metric_key=loss&max_results=2&page_token=%s", id, tok),
                     200);
    assert_int_equal(json_array_size(at(f, "metrics")), 1);
    assert_int_equal(json_integer_value(at(f, "metrics.0.timestamp")), 20);
    assert_null(at(f, "next_page_token"));
    free(tok);
    callf(f, "GET", "metrics/get-history", "run_id=%s", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "metric_key");
    call(f, "GET", "metrics/get-history", "run_id=nope&metric_key=loss");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

    /* params are immutable */
    assert_int_equal(callf(f, "POST", "runs/log-parameter", "{\"run_id\":\"%s\",\"key\":\"lr\",\"value\":\"0.1\"}", id), 200);
    assert_int_equal(callf(f, "POST", "runs/log-parameter", "{\"run_id\":\"%s\",\"key\":\"lr\",\"value\":\"0.1\"}", id), 200);
    callf(f, "POST", "runs/log-parameter", "{\"run_id\":\"%s\",\"key\":\"lr\",\"value\":\"0.2\"}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed. Param with key='lr'");
    callf(f, "POST", "runs/log-parameter", "{\"run_id\":\"%s\",\"key\":\"lr\"}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "'value'");
    char *big = mp_xmalloc(6002);
    memset(big, 'x', 6001);
    big[6001] = 0;
    callf(f, "POST", "runs/log-parameter", "{\"run_id\":\"%s\",\"key\":\"big\",\"value\":\"%s\"}", id, big);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "exceeded length limit of 6000");
    free(big);

    /* tags */
    assert_int_equal(callf(f, "POST", "runs/set-tag", "{\"run_id\":\"%s\",\"key\":\"k\",\"value\":\"1\"}", id), 200);
    assert_int_equal(callf(f, "POST", "runs/set-tag", "{\"run_id\":\"%s\",\"key\":\"k\",\"value\":\"2\"}", id), 200);
    callf(f, "GET", "runs/get", "run_id=%s", id);
    assert_string_equal(str_at(f, "run.data.params.0.value"), "0.1");
    assert_string_equal(str_at(f, "run.data.tags.0.key"), "k");
    assert_string_equal(str_at(f, "run.data.tags.0.value"), "2");
    assert_int_equal(callf(f, "POST", "runs/delete-tag", "{\"run_id\":\"%s\",\"key\":\"k\"}", id), 200);
    callf(f, "POST", "runs/delete-tag", "{\"run_id\":\"%s\",\"key\":\"k\"}", id);
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", "No tag with name: k");
    free(id);
}

/* A log-batch body with nm metrics, np params, nt tags. */
static char *batch_body(const char *id, int nm, int np, int nt, const char *extra_param) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "{\"run_id\":\"%s\",\"metrics\":[", id);
    for (int i = 0; i < nm; i++)
        mp_buf_printf(&b, "%s{\"key\":\"m%d\",\"value\":%d.5,\"timestamp\":%d,\"step\":%d}", i ? "," : "", i % 7, i, i,
                      i);
    mp_buf_puts(&b, "],\"params\":[");
    for (int i = 0; i < np; i++) mp_buf_printf(&b, "%s{\"key\":\"p%d\",\"value\":\"v%d\"}", i ? "," : "", i, i);
    if (extra_param) mp_buf_printf(&b, "%s%s", np ? "," : "", extra_param);
    mp_buf_puts(&b, "],\"tags\":[");
    for (int i = 0; i < nt; i++) mp_buf_printf(&b, "%s{\"key\":\"t%d\",\"value\":\"v\"}", i ? "," : "", i);
    mp_buf_puts(&b, "]}");
    return mp_buf_steal(&b);
}

static void test_log_batch(void **state) {
    fx *f = *state;
    char *id = create_run(f, "0", NULL);
    char *body = batch_body(id, 1000, 0, 0, NULL);
    assert_int_equal(call(f, "POST", "runs/log-batch", body), 200);
    free(body);
    callf(f, "GET", "metrics/get-history", "run_id=%s&metric_key=m3", id);
    assert_int_equal(json_array_size(at(f, "metrics")), 143);
    callf(f, "GET", "runs/get", "run_id=%s", id);
    assert_int_equal(json_array_size(at(f, "run.data.metrics")), 7);
    /* m6's latest is its highest step: 6 + 7*142 = 1000 - 6 = 1000 - 1 - (999 % 7 - 6)... step 999 - 4 = 995 */
    assert_string_equal(str_at(f, "run.data.metrics.6.key"), "m6");
    assert_int_equal(json_integer_value(at(f, "run.data.metrics.6.step")), 993);

    /* limits, with MLflow's messages */
    body = batch_body(id, 1001, 0, 0, NULL);
    call(f, "POST", "runs/log-batch", body);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE",
                 "A batch logging request can contain at most 1000 metrics. Got 1001 metrics. Please split up metrics "
                 "across multiple requests and try again.");
    free(body);
    body = batch_body(id, 0, 101, 0, NULL);
    call(f, "POST", "runs/log-batch", body);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "at most 100 params. Got 101 params.");
    free(body);
    body = batch_body(id, 0, 0, 101, NULL);
    call(f, "POST", "runs/log-batch", body);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "at most 100 tags. Got 101 tags.");
    free(body);
    body = batch_body(id, 950, 50, 1, NULL);
    call(f, "POST", "runs/log-batch", body);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE",
                 "at most 1000 metrics, params, and tags. Got 1001 metrics, params, and tags.");
    free(body);
    body = batch_body(id, 0, 2, 0, "{\"key\":\"p1\",\"value\":\"other\"}");
    call(f, "POST", "runs/log-batch", body);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Duplicate parameter keys have been submitted: ['p1']");
    free(body);
    call(f, "POST", "runs/log-batch", "{\"run_id\":\"x\",\"metrics\":{}}");
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "metrics");

    /* atomic: a param conflict at the end leaves nothing of the batch behind */
    assert_int_equal(callf(f, "POST", "runs/log-parameter", "{\"run_id\":\"%s\",\"key\":\"fixed\",\"value\":\"1\"}", id), 200);
    char *id2 = create_run(f, "0", NULL);
    body = batch_body(id2, 0, 0, 0, NULL);
    free(body);
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b,
                  "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"new\",\"value\":1,\"timestamp\":1}],"
                  "\"params\":[{\"key\":\"np\",\"value\":\"1\"},{\"key\":\"fixed\",\"value\":\"2\"}],"
                  "\"tags\":[{\"key\":\"nt\",\"value\":\"1\"}]}",
                  id);
    call(f, "POST", "runs/log-batch", b.data);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed");
    mp_buf_free(&b);
    callf(f, "GET", "runs/get", "run_id=%s", id);
    assert_int_equal(json_array_size(at(f, "run.data.params")), 1);
    assert_int_equal(json_array_size(at(f, "run.data.metrics")), 7);
    json_t *tags = at(f, "run.data.tags");
    for (size_t i = 0; i < json_array_size(tags); i++)
        assert_string_not_equal(json_string_value(json_object_get(json_array_get(tags, i), "key")), "nt");
    callf(f, "GET", "metrics/get-history", "run_id=%s&metric_key=new", id);
    assert_int_equal(json_array_size(at(f, "metrics")), 0);
    /* a bad entry late in the batch: validation before any write */
    mp_buf_init(&b);
    mp_buf_printf(&b,
                  "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"ok\",\"value\":1,\"timestamp\":1},"
                  "{\"key\":\"bad\",\"value\":true,\"timestamp\":1}]}",
                  id2);
    call(f, "POST", "runs/log-batch", b.data);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "metric 'bad'");
    mp_buf_free(&b);
    callf(f, "GET", "metrics/get-history", "run_id=%s&metric_key=ok", id2);
    assert_int_equal(json_array_size(at(f, "metrics")), 0);
    /* the same point twice is kept once */
    const char *same = "{\"key\":\"s\",\"value\":1,\"timestamp\":1,\"step\":1}";
    callf(f, "POST", "runs/log-batch", "{\"run_id\":\"%s\",\"metrics\":[%s,%s]}", id2, same, same);
    assert_int_equal(f->status, 200);
    callf(f, "GET", "metrics/get-history", "run_id=%s&metric_key=s", id2);
    assert_int_equal(json_array_size(at(f, "metrics")), 1);
    call(f, "POST", "runs/log-batch", "{\"run_id\":\"nope\"}");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
    free(id);
    free(id2);
}

static void test_log_inputs(void **state) {
    fx *f = *state;
    char *id = create_run(f, "0", NULL);
    const char *ds = "{\"tags\":[{\"key\":\"mlflow.data.context\",\"value\":\"training\"}],"
                     "\"dataset\":{\"name\":\"iris\",\"digest\":\"abc123\",\"source_type\":\"local\","
                     "\"source\":\"{\\\"uri\\\":\\\"/d\\\"}\",\"schema\":\"{}\"}}";
    assert_int_equal(callf(f, "POST", "runs/log-inputs", "{\"run_id\":\"%s\",\"datasets\":[%s]}", id, ds), 200);
    assert_int_equal(callf(f, "POST", "runs/log-inputs", "{\"run_id\":\"%s\",\"datasets\":[%s]}", id, ds), 200);
    callf(f, "GET", "runs/get", "run_id=%s", id);
    assert_int_equal(json_array_size(at(f, "run.inputs.dataset_inputs")), 1);
    assert_string_equal(str_at(f, "run.inputs.dataset_inputs.0.dataset.name"), "iris");
    assert_string_equal(str_at(f, "run.inputs.dataset_inputs.0.dataset.schema"), "{}");
    assert_string_equal(str_at(f, "run.inputs.dataset_inputs.0.tags.0.value"), "training");
    callf(f, "POST", "runs/log-inputs", "{\"run_id\":\"%s\",\"datasets\":[{\"dataset\":{\"name\":\"x\"}}]}", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "'digest'");
    call(f, "POST", "runs/log-inputs", "{\"run_id\":\"nope\",\"datasets\":[]}");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
    free(id);
}

/* ---- search ------------------------------------------------------------------------------ */

static int n_runs(fx *f) { return (int)json_array_size(at(f, "runs")); }

static void test_run_search(void **state) {
    fx *f = *state;
    char *exp = create_exp(f, "search");
    char *ids[6];
    for (int i = 0; i < 6; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "\"start_time\":%d,\"run_name\":\"r%d\"%s", 100 + i, i,
                 i == 5 ? ",\"user_id\":\"zed\"" : "");
        ids[i] = create_run(f, exp, extra);
        if (i < 5)
            callf(f, "POST", "runs/log-batch",
                  "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"acc\",\"value\":0.%d,\"timestamp\":1},"
                  "{\"key\":\"my key\",\"value\":%d,\"timestamp\":1}],\"params\":[{\"key\":\"model\",\"value\":\"%s\"}],"
                  "\"tags\":[{\"key\":\"group\",\"value\":\"%s\"}]}",
                  ids[i], i, i, i % 2 ? "Linear" : "tree", i < 3 ? "a" : "b");
    }
    char *q = mp_xasprintf("\"experiment_ids\":[\"%s\"]", exp);
    /* default order: start_time DESC */
    assert_int_equal(callf(f, "POST", "runs/search", "{%s}", q), 200);
    assert_int_equal(n_runs(f), 6);
    assert_string_equal(str_at(f, "runs.0.info.run_id"), ids[5]);
    assert_string_equal(str_at(f, "runs.5.info.run_id"), ids[0]);
    /* other experiments are not searched */
    call(f, "POST", "runs/search", "{\"experiment_ids\":[\"0\"]}");
    assert_int_equal(n_runs(f), 0);

    struct {
        const char *filter;
        int n;
    } cases[] = {
        {"metrics.acc > 0.25", 2},
        {"metrics.acc >= 0.2 and metrics.acc < 0.4", 2},
        {"metrics.`my key` = 3", 1},
        {"metrics.acc != 0.1", 4},
        {"params.model = 'Linear'", 2},
        {"params.model LIKE 'lin%'", 0},
        {"params.model ILIKE 'lin%'", 2},
        {"params.model != 'tree'", 2},
        {"tags.group = 'b' AND params.model = 'tree'", 1},
        {"tags.group IN ('a', 'b')", 5},
        {"tags.group NOT IN ('a')", 2},
        {"attributes.run_name = 'r2'", 1},
        {"run_name LIKE 'r%'", 6},
        {"attributes.status = 'RUNNING'", 6},
        {"attributes.start_time >= 103", 3},
        {"created < 102", 2},
        {"attributes.user_id = 'zed'", 1},
        {"metrics.nothere > 0", 0},
        {"tags.mlflow.runName = 'r4'", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *body = json_pack("{s:[s],s:s}", "experiment_ids", exp, "filter", cases[i].filter);
        char *s = json_dumps(body, 0);
        json_decref(body);
        if (call(f, "POST", "runs/search", s) != 200) fail_msg("%s: %s", cases[i].filter, json_dumps(f->out, 0));
        if (n_runs(f) != cases[i].n) fail_msg("%s: %d runs, expected %d", cases[i].filter, n_runs(f), cases[i].n);
        free(s);
    }
    /* attributes.run_id IN */
    callf(f, "POST", "runs/search", "{%s,\"filter\":\"attributes.run_id IN ('%s', '%s')\"}", q, ids[1], ids[3]);
    assert_int_equal(n_runs(f), 2);

    /* order_by a metric: missing values last, either direction */
    callf(f, "POST", "runs/search", "{%s,\"order_by\":[\"metrics.acc DESC\"]}", q);
    assert_string_equal(str_at(f, "runs.0.info.run_id"), ids[4]);
    assert_string_equal(str_at(f, "runs.5.info.run_id"), ids[5]);
    callf(f, "POST", "runs/search", "{%s,\"order_by\":[\"metrics.acc ASC\"]}", q);
    assert_string_equal(str_at(f, "runs.0.info.run_id"), ids[0]);
    assert_string_equal(str_at(f, "runs.5.info.run_id"), ids[5]);
    /* the indexed path: filter and order on one metric */
    callf(f, "POST", "runs/search", "{%s,\"filter\":\"metrics.acc > 0.05\",\"order_by\":[\"metrics.acc DESC\"]}", q);
    assert_int_equal(n_runs(f), 4);
    assert_string_equal(str_at(f, "runs.0.info.run_id"), ids[4]);
    assert_string_equal(str_at(f, "runs.3.info.run_id"), ids[1]);
    callf(f, "POST", "runs/search", "{%s,\"filter\":\"metrics.acc > 0.05\",\"order_by\":[\"metrics.acc\"]}", q);
    assert_string_equal(str_at(f, "runs.0.info.run_id"), ids[1]);
    callf(f, "POST", "runs/search", "{%s,\"order_by\":[\"attributes.start_time ASC\"]}", q);
    assert_string_equal(str_at(f, "runs.0.info.run_id"), ids[0]);
    callf(f, "POST", "runs/search", "{%s,\"order_by\":[\"params.model DESC\", \"attributes.run_name\"]}", q);
    assert_string_equal(str_at(f, "runs.0.info.run_name"), "r0"); /* tree, r0 < r2 < r4 */
    assert_string_equal(str_at(f, "runs.5.info.run_name"), "r5"); /* no param: last */

    /* paging walks every run once */
    int seen = 0;
    char *tok = NULL;
    for (int page = 0; page < 10; page++) {
        if (tok) callf(f, "POST", "runs/search", "{%s,\"max_results\":4,\"page_token\":\"%s\"}", q, tok);
        else callf(f, "POST", "runs/search", "{%s,\"max_results\":4}", q);
        assert_int_equal(f->status, 200);
        seen += n_runs(f);
        free(tok);
        tok = str_at(f, "next_page_token") ? mp_xstrdup(str_at(f, "next_page_token")) : NULL;
        if (!tok) break;
    }
    assert_int_equal(seen, 6);

    /* view types */
    callf(f, "POST", "runs/delete", "{\"run_id\":\"%s\"}", ids[0]);
    callf(f, "POST", "runs/search", "{%s}", q);
    assert_int_equal(n_runs(f), 5);
    callf(f, "POST", "runs/search", "{%s,\"run_view_type\":\"DELETED_ONLY\"}", q);
    assert_int_equal(n_runs(f), 1);
    callf(f, "POST", "ajax:runs/search", "{%s,\"run_view_type\":\"ALL\"}", q);
    assert_int_equal(n_runs(f), 6);

    /* errors */
    callf(f, "POST", "runs/search", "{%s,\"filter\":\"metrics.acc >> 1\"}", q);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "position 14: expected a number");
    callf(f, "POST", "runs/search", "{%s,\"filter\":\"params.x < 'a'\"}", q);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "position 10");
    callf(f, "POST", "runs/search", "{%s,\"order_by\":[\"metrics.acc UP\"]}", q);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "order_by");
    callf(f, "POST", "runs/search", "{%s,\"max_results\":50001}", q);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE",
                 "Invalid value for request parameter max_results. It must be at most 50000, but got value 50001");
    callf(f, "POST", "runs/search", "{%s,\"page_token\":\"bm90IGpzb24=\"}", q);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Invalid page token");
    free(q);
    free(exp);
    for (int i = 0; i < 6; i++) free(ids[i]);
}

/* ---- artifacts/list ------------------------------------------------------------------------ */

static void test_artifacts_list(void **state) {
    fx *f = *state;
    char *id = create_run(f, "0", NULL);
    call(f, "GET", "artifacts/list", NULL);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "run_id");
    assert_int_equal(callf(f, "GET", "artifacts/list", "run_id=%s", id), 200);
    assert_null(at(f, "files"));
    char *root = mp_xasprintf("mlflow-artifacts:/0/%s/artifacts", id);
    assert_string_equal(str_at(f, "root_uri"), root);
    free(root);
    char *dir = mp_xasprintf("%s/artifacts/0/%s/artifacts/model", f->dir, id);
    assert_int_equal(mp_mkdir_p(dir, NULL), 0);
    char *file = mp_xasprintf("%s/MLmodel", dir);
    assert_int_equal(mp_write_file_atomic(file, "abc", 3, NULL), 0);
    char *file2 = mp_xasprintf("%s/artifacts/0/%s/artifacts/a.txt", f->dir, id);
    assert_int_equal(mp_write_file_atomic(file2, "hello", 5, NULL), 0);
    assert_int_equal(callf(f, "GET", "artifacts/list", "run_id=%s", id), 200);
    assert_int_equal(json_array_size(at(f, "files")), 2);
    assert_string_equal(str_at(f, "files.0.path"), "a.txt");
    assert_int_equal(json_integer_value(at(f, "files.0.file_size")), 5);
    assert_string_equal(str_at(f, "files.1.path"), "model");
    assert_true(json_is_true(at(f, "files.1.is_dir")));
    assert_null(at(f, "files.1.file_size"));
    assert_int_equal(callf(f, "GET", "artifacts/list", "run_id=%s&path=model", id), 200);
    assert_string_equal(str_at(f, "files.0.path"), "model/MLmodel");
    callf(f, "GET", "artifacts/list", "run_id=%s&path=../x", id);
    expect_error(f, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
    call(f, "GET", "artifacts/list", "run_id=nope");
    expect_error(f, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
    free(dir);
    free(file);
    free(file2);
    free(id);
}

/* ---- the store's plain C interface (what the pipeline engine calls) ------------------------- */

static void test_store_engine_calls(void **state) {
    fx *f = *state;
    store *s = f->s;
    mp_err e = {0};
    char *eid = NULL, *eid2 = NULL;
    assert_int_equal(s->t->experiment_get_or_create(s, "pipeline-x", &eid, &e), 0);
    assert_int_equal(s->t->experiment_get_or_create(s, "pipeline-x", &eid2, &e), 0);
    assert_string_equal(eid, eid2);
    store_track_run r = {.run_id = "0123456789abcdef0123456789abcdef", .run_name = "pipeline-x-abcde",
                         .experiment_id = eid, .start_time = 5, .end_time = -1};
    assert_int_equal(s->t->run_create(s, &r, &e), 0);
    assert_int_equal(s->t->run_create(s, &r, &e), MP_EEXIST);
    store_kv p = {"alpha", "1"};
    store_track_metric m = {"rmse", 0.5, 10, 0};
    assert_int_equal(s->t->log_batch(s, r.run_id, &m, 1, &p, 1, NULL, 0, &e), 0);
    assert_int_equal(s->t->run_update(s, r.run_id, "FINISHED", 99, NULL, &e), 0);
    store_track_run got;
    assert_int_equal(s->t->run_get(s, r.run_id, &got, &e), 0);
    assert_string_equal(got.status, "FINISHED");
    assert_int_equal(got.end_time, 99);
    assert_int_equal(got.nmetrics, 1);
    assert_int_equal(got.nparams, 1);
    store_track_run_free(&got);
    /* inside the caller's transaction; rolled back, nothing stays */
    assert_int_equal(s->m->begin(s, &e), 0);
    store_kv p2 = {"beta", "2"};
    assert_int_equal(s->t->log_batch(s, r.run_id, NULL, 0, &p2, 1, NULL, 0, &e), 0);
    s->m->rollback(s);
    assert_int_equal(s->t->run_get(s, r.run_id, &got, &e), 0);
    assert_int_equal(got.nparams, 1);
    store_track_run_free(&got);
    free(eid);
    free(eid2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_experiments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_experiment_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_metric_param_tag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_artifacts_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_engine_calls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
