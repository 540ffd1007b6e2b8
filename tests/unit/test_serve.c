/* test_serve.c — src/serve in-process, without HTTP: the XGBoost runtime on a
 * model trained here on the breast-cancer data (every row's prediction through
 * the protocol layer equals the XGBoost C API's, one row at a time and as one
 * batch), a multi-class UBJSON model, every endpoint of the Open Inference
 * Protocol layer and each of its errors, datatypes and nested data, and the
 * resolution of files, folders and registry references (models:/NAME/VERSION,
 * /latest, @ALIAS) through a scratch home's store. Uses MLPLANE_SRC and
 * MLPLANE_TEST_TMP. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include <cmocka.h>

#include "ml/ml_int.h"
#include "serve_helpers.h"
#include "serve/serve.h"
#include "store/store.h"

static char g_tmp[4096];
static char g_model[4200];  /* binary:logistic on the 30 breast-cancer features */
static char g_multi[4200];  /* multi:softprob, 3 classes, 4 features, UBJSON */
static char g_data[4200];   /* the breast-cancer CSV */
static serve_oip *g_oip;    /* serves g_model as "bc" version "1" */

static int setup_all(void **state) {
    (void)state;
    if (serve_fixture("serve", g_tmp, sizeof g_tmp, g_data, sizeof g_data, g_model, sizeof g_model) != 0) return -1;
    snprintf(g_multi, sizeof g_multi, "%s/multi.ubj", g_tmp);
    mp_err e = {0};
    /* A 3-class model on 4 features: class = which of the first three features is largest. */
    enum { N = 300, F = 4 };
    static float x[N * F], y[N];
    uint64_t seed = 7;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < F; j++) x[i * F + j] = (float)(ml_rand_below(&seed, 1000)) / 100.0f;
        y[i] = x[i * F] > x[i * F + 1] ? (x[i * F] > x[i * F + 2] ? 0.0f : 2.0f) : (x[i * F + 1] > x[i * F + 2] ? 1.0f : 2.0f);
    }
    DMatrixHandle d;
    BoosterHandle h;
    if (XGDMatrixCreateFromMat(x, N, F, NAN, &d) || XGDMatrixSetFloatInfo(d, "label", y, N) || XGBoosterCreate(&d, 1, &h) ||
        XGBoosterSetParam(h, "objective", "multi:softprob") || XGBoosterSetParam(h, "num_class", "3") ||
        XGBoosterSetParam(h, "nthread", "1"))
        return -1;
    for (int i = 0; i < 10; i++)
        if (XGBoosterUpdateOneIter(h, i, d)) return -1;
    if (XGBoosterSaveModel(h, g_multi)) return -1;
    XGBoosterFree(h);
    XGDMatrixFree(d);

    serve_model *m = NULL;
    if (serve_model_load(g_model, "bc", "1", &m, &e) != 0) {
        fprintf(stderr, "load: %s\n", e.msg);
        return -1;
    }
    g_oip = serve_oip_new();
    return serve_oip_add(g_oip, m, &e);
}

static int teardown_all(void **state) {
    (void)state;
    serve_oip_free(g_oip);
    return 0;
}

/* Calls the protocol layer; returns the status, *body the parsed JSON (caller decrefs). */
static int call(const char *method, const char *path, const char *body, json_t **out, mp_http_resp *keep) {
    mp_http_req req = {.method = method, .path = path, .body = body ? body : "", .body_len = body ? strlen(body) : 0};
    mp_http_resp resp;
    mp_http_resp_init(&resp);
    serve_oip_handle(g_oip, &req, &resp);
    int status = resp.status;
    if (out) {
        json_error_t je;
        *out = json_loads(resp.body.data ? resp.body.data : "", 0, &je);
        assert_non_null(*out);
    }
    if (keep) *keep = resp;
    else mp_http_resp_free(&resp);
    return status;
}

/* The C API's predictions for every row of the CSV (binary model). */
static float *direct_predictions(const ml_table *t) {
    BoosterHandle h;
    DMatrixHandle d;
    float *x = malloc(t->nrows * t->nfeat * sizeof *x);
    for (size_t i = 0; i < t->nrows * t->nfeat; i++) x[i] = (float)t->x[i];
    assert_int_equal(XGBoosterCreate(NULL, 0, &h), 0);
    assert_int_equal(XGBoosterLoadModel(h, g_model), 0);
    assert_int_equal(XGDMatrixCreateFromMat(x, t->nrows, t->nfeat, NAN, &d), 0);
    bst_ulong len;
    const float *res;
    assert_int_equal(XGBoosterPredict(h, d, 0, 0, 0, &len, &res), 0);
    assert_int_equal(len, t->nrows);
    float *out = malloc(len * sizeof *out);
    memcpy(out, res, len * sizeof *out);
    XGDMatrixFree(d);
    XGBoosterFree(h);
    free(x);
    return out;
}

/* A request for rows [from, from + n) of t, values as %.9g of their floats. */
static char *request_rows(const ml_table *t, size_t from, size_t n, bool nested) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "{\"id\":\"rows-%zu\",\"inputs\":[{\"name\":\"input-0\",\"shape\":[%zu,%zu],\"datatype\":\"FP32\",\"data\":[", from,
                  n, t->nfeat);
    for (size_t i = from; i < from + n; i++) {
        if (nested) mp_buf_printf(&b, "%s[", i > from ? "," : "");
        for (size_t j = 0; j < t->nfeat; j++)
            mp_buf_printf(&b, "%s%.9g", (nested ? j > 0 : i > from || j > 0) ? "," : "", (double)(float)t->x[i * t->nfeat + j]);
        if (nested) mp_buf_putc(&b, ']');
    }
    mp_buf_puts(&b, "]}]}");
    return mp_buf_steal(&b);
}

static void test_predictions_match_c_api(void **state) {
    (void)state;
    ml_table t;
    mp_err e = {0};
    assert_int_equal(ml_csv_read(g_data, &t, NULL, &e), 0);
    float *want = direct_predictions(&t);
    /* every row alone */
    for (size_t i = 0; i < t.nrows; i++) {
        char *body = request_rows(&t, i, 1, false);
        json_t *r;
        assert_int_equal(call("POST", "/v2/models/bc/infer", body, &r, NULL), 200);
        json_t *data = json_object_get(json_array_get(json_object_get(r, "outputs"), 0), "data");
        assert_int_equal(json_array_size(data), 1);
        assert_true((float)json_number_value(json_array_get(data, 0)) == want[i]);
        char idbuf[32];
        snprintf(idbuf, sizeof idbuf, "rows-%zu", i);
        assert_string_equal(json_string_value(json_object_get(r, "id")), idbuf);
        json_decref(r);
        free(body);
    }
    /* all rows in one request, flat and nested */
    for (int nested = 0; nested <= 1; nested++) {
        char *body = request_rows(&t, 0, t.nrows, nested);
        json_t *r;
        mp_http_resp resp;
        assert_int_equal(call("POST", "/v2/models/bc/versions/1/infer", body, &r, &resp), 200);
        assert_string_equal(resp.headers[0].name, "X-Model-Version");
        assert_string_equal(resp.headers[0].value, "1");
        mp_http_resp_free(&resp);
        json_t *out = json_array_get(json_object_get(r, "outputs"), 0);
        assert_string_equal(json_string_value(json_object_get(r, "model_name")), "bc");
        assert_string_equal(json_string_value(json_object_get(r, "model_version")), "1");
        assert_string_equal(json_string_value(json_object_get(out, "name")), "predict");
        assert_string_equal(json_string_value(json_object_get(out, "datatype")), "FP32");
        assert_int_equal(json_integer_value(json_array_get(json_object_get(out, "shape"), 0)), t.nrows);
        json_t *data = json_object_get(out, "data");
        assert_int_equal(json_array_size(data), t.nrows);
        for (size_t i = 0; i < t.nrows; i++) assert_true((float)json_number_value(json_array_get(data, i)) == want[i]);
        json_decref(r);
        free(body);
    }
    free(want);
    ml_table_free(&t);
}

/* A 30-feature request of one row whose values are the JSON text v (repeated). */
static char *one_row(const char *datatype, const char *v, const char *shape) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "{\"inputs\":[{\"name\":\"input-0\",\"shape\":%s,\"datatype\":\"%s\",\"data\":[", shape, datatype);
    for (int j = 0; j < 30; j++) mp_buf_printf(&b, "%s%s", j ? "," : "", v);
    mp_buf_puts(&b, "]}]}");
    return mp_buf_steal(&b);
}

static double predict_one(const char *datatype, const char *v) {
    char *body = one_row(datatype, v, "[1,30]");
    json_t *r;
    assert_int_equal(call("POST", "/v2/models/bc/infer", body, &r, NULL), 200);
    double p = json_number_value(json_array_get(json_object_get(json_array_get(json_object_get(r, "outputs"), 0), "data"), 0));
    assert_null(json_object_get(r, "id")); /* none asked, none echoed */
    json_decref(r);
    free(body);
    return p;
}

static void test_datatypes(void **state) {
    (void)state;
    double f1 = predict_one("FP32", "1.0");
    assert_true(f1 == predict_one("FP64", "1"));
    assert_true(f1 == predict_one("INT32", "1"));
    assert_true(f1 == predict_one("INT64", "1"));
    assert_true(f1 == predict_one("UINT8", "1"));
    assert_true(f1 == predict_one("BOOL", "true"));
    assert_true(predict_one("BOOL", "false") == predict_one("INT16", "0"));
    /* [30] is one row */
    char *body = one_row("FP32", "1.0", "[30]");
    json_t *r;
    assert_int_equal(call("POST", "/v2/models/bc/infer", body, &r, NULL), 200);
    json_t *out = json_array_get(json_object_get(r, "outputs"), 0);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(out, "shape"), 0)), 1);
    json_decref(r);
    free(body);
    /* no rows: an empty answer */
    assert_int_equal(call("POST", "/v2/models/bc/infer",
                          "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[0,30],\"datatype\":\"FP32\",\"data\":[]}],"
                          "\"outputs\":[{\"name\":\"predict\"}],\"parameters\":{\"x\":1}}",
                          &r, NULL),
                     200);
    assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(r, "outputs"), 0), "data")), 0);
    json_decref(r);
}

static void expect_error(const char *method, const char *path, const char *body, int status, const char *needle) {
    json_t *r;
    int got = call(method, path, body, &r, NULL);
    const char *msg = json_string_value(json_object_get(r, "error"));
    if (got != status || !msg || !strstr(msg, needle))
        fail_msg("%s %s %.80s: expected %d with \"%s\", got %d: %s", method, path, body ? body : "", status, needle, got,
                 msg ? msg : "(no error)");
    assert_int_equal(json_object_size(r), 1);
    json_decref(r);
}

static void test_errors(void **state) {
    (void)state;
    static const char *const P = "/v2/models/bc/infer";
    char *wrong_feat = one_row("FP32", "1", "[1,29]");
    char *three_dims = one_row("FP32", "1", "[1,1,30]");
    char *wrong_count = one_row("FP32", "1", "[2,30]");
    char *strings = one_row("FP32", "\"a\"", "[1,30]");
    char *nulls = one_row("FP64", "null", "[1,30]");
    char *floats_as_int = one_row("INT32", "1.5", "[1,30]");
    char *int_range = one_row("INT8", "300", "[1,30]");
    char *bool_num = one_row("BOOL", "1", "[1,30]");
    char *huge = one_row("FP64", "1e300", "[1,30]");
    char *fp16 = one_row("FP16", "1", "[1,30]");
    char *weird = one_row("FLOAT", "1", "[1,30]");
    char *nested1 = one_row("FP32", "[1]", "[30]");
    const struct {
        const char *method, *path, *body;
        int status;
        const char *needle;
    } cases[] = {
        {"POST", P, "", 400, "empty"},
        {"POST", P, "{\"inputs\": [", 400, "malformed JSON"},
        {"POST", P, "[1,2]", 400, "must be a JSON object"},
        {"POST", P, "{}", 400, "\"inputs\" is missing"},
        {"POST", P, "{\"inputs\": []}", 400, "non-empty array"},
        {"POST", P, "{\"inputs\": [{}, {}]}", 400, "has 2 inputs"},
        {"POST", P, "{\"id\": 5, \"inputs\": [{}]}", 400, "\"id\" must be a string"},
        {"POST", P, "{\"parameters\": [], \"inputs\": [{}]}", 400, "\"parameters\" must be an object"},
        {"POST", P, "{\"inputs\": [7]}", 400, "must be an object"},
        {"POST", P, "{\"inputs\": [{\"name\": \"input-0\", \"shape\": [1, 30], \"datatype\": \"FP32\"}]}", 400, "no \"data\""},
        {"POST", P, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 30], \"datatype\": \"FP32\", \"data\": []}]}", 400,
         "unknown input \"x\""},
        {"POST", P, "{\"inputs\": [{\"name\": \"input-0\", \"shape\": \"1\", \"datatype\": \"FP32\", \"data\": []}]}", 400,
         "\"shape\" must be an array"},
        {"POST", P, "{\"inputs\": [{\"name\": \"input-0\", \"shape\": [-1, 30], \"datatype\": \"FP32\", \"data\": []}]}", 400,
         "whole numbers from 0 up"},
        {"POST", P, "{\"inputs\": [{\"name\": \"input-0\", \"shape\": [1, 30], \"datatype\": 3, \"data\": []}]}", 400,
         "\"datatype\" must be a string"},
        {"POST", P, "{\"inputs\": [{\"name\": \"input-0\", \"shape\": [1, 30], \"datatype\": \"FP32\", \"data\": 5}]}", 400,
         "\"data\" must be an array"},
        {"POST", P, "{\"inputs\": [{\"name\": \"input-0\", \"shape\": [1, 30], \"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": 120}}]}",
         400, "no Inference-Header-Content-Length header"},
        {"POST", P, "{\"inputs\": [{\"name\": \"input-0\", \"shape\": [2, 30], \"datatype\": \"FP32\", \"data\": [[1], [2]]}]}", 400,
         "data[0] must be a row of 30 values"},
        {"POST", P, "{\"inputs\": [{\"name\": \"input-0\", \"shape\": [4611686018427387904, 30], \"datatype\": \"FP32\", \"data\": [1]}]}",
         400, "asks for"},
        {"POST", P, wrong_feat, 400, "gives 29 features per row but the model takes 30"},
        {"POST", P, three_dims, 400, "has 3 dimensions"},
        {"POST", P, wrong_count, 400, "holds 30 values but the shape asks for 60"},
        {"POST", P, strings, 400, "data[0] is a string; FP32 data are numbers"},
        {"POST", P, nulls, 400, "data[0] is null"},
        {"POST", P, floats_as_int, 400, "data[0] is a number; INT32 data are integers"},
        {"POST", P, int_range, 400, "out of the range of INT8"},
        {"POST", P, bool_num, 400, "BOOL data are true or false"},
        {"POST", P, huge, 400, "beyond the range of the model's 32-bit floats"},
        {"POST", P, fp16, 400, "FP16 data cannot be JSON values; send them as binary tensor data"},
        {"POST", P, weird, 400, "unknown datatype \"FLOAT\""},
        {"POST", P, nested1, 400, "nested but the shape [30] has one dimension"},
        {"POST", P, "{\"inputs\": [{}], \"outputs\": [{\"name\": \"proba\"}]}", 400, "unknown output \"proba\""},
        {"POST", P, "{\"inputs\": [{}], \"outputs\": {}}", 400, "\"outputs\" must be an array"},
        {"POST", P, "{\"inputs\": [{}], \"outputs\": [{\"name\": \"predict\", \"parameters\": {\"binary_data\": 1}}]}", 400,
         "\"binary_data\" must be true or false"},
        {"POST", "/v2/models/nope/infer", "{}", 404, "unknown model nope (served: bc)"},
        {"POST", "/v2/models/bc/versions/7/infer", "{}", 404, "model bc has no version 7 (served: 1)"},
        {"GET", "/v2/models/bc/versions/7", NULL, 404, "has no version 7"},
        {"GET", "/v2/models/nope/ready", NULL, 404, "unknown model nope"},
        {"GET", P, NULL, 405, "GET is not allowed on /v2/models/bc/infer (allowed: POST)"},
        {"POST", "/v2/health/live", "{}", 405, "allowed: GET"},
        {"DELETE", "/v2/models/bc", NULL, 405, "allowed: GET"},
        {"GET", "/v2/models/bc/explain", NULL, 404, "no endpoint"},
        {"GET", "/v2//models", NULL, 404, "no endpoint"},
        {"GET", "/v1/models/bc", NULL, 404, "no endpoint"},
        {"GET", "/", NULL, 404, "no endpoint"},
        {"GET", "/v2/models/bc/versions/1/ready/x", NULL, 404, "no endpoint"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].method, cases[i].path, cases[i].body, cases[i].status, cases[i].needle);
    /* 405 says what is allowed in a header too */
    mp_http_resp resp;
    call("GET", P, NULL, NULL, &resp);
    bool allow = false;
    for (int i = 0; i < resp.nheaders; i++) allow |= strcmp(resp.headers[i].name, "Allow") == 0 && strcmp(resp.headers[i].value, "POST") == 0;
    assert_true(allow);
    mp_http_resp_free(&resp);
    char *all[] = {wrong_feat, three_dims, wrong_count, strings, nulls, floats_as_int, int_range, bool_num, huge, fp16, weird, nested1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

static void test_metadata_and_health(void **state) {
    (void)state;
    json_t *r;
    assert_int_equal(call("GET", "/v2", NULL, &r, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(r, "name")), "mlplane");
    assert_string_equal(json_string_value(json_object_get(r, "version")), MLPLANE_VERSION);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "extensions"), 0)), "binary_tensor_data");
    json_decref(r);
    assert_int_equal(call("GET", "/v2/", NULL, &r, NULL), 200);
    json_decref(r);
    assert_int_equal(call("GET", "/v2/health/live", NULL, &r, NULL), 200);
    assert_true(json_is_true(json_object_get(r, "live")));
    json_decref(r);
    const char *const meta_paths[] = {"/v2/models/bc", "/v2/models/bc/versions/1"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(call("GET", meta_paths[i], NULL, &r, NULL), 200);
        char *s = json_dumps(r, JSON_COMPACT);
        assert_string_equal(s, "{\"name\":\"bc\",\"versions\":[\"1\"],\"platform\":\"xgboost_json\",\"inputs\":[{\"name\":\"input-0\","
                               "\"datatype\":\"FP32\",\"shape\":[-1,30]}],\"outputs\":[{\"name\":\"predict\",\"datatype\":\"FP32\","
                               "\"shape\":[-1]}]}");
        free(s);
        json_decref(r);
    }
    assert_int_equal(call("HEAD", "/v2/models/bc", NULL, NULL, NULL), 200);
    const char *const ready_paths[] = {"/v2/health/ready", "/v2/models/bc/ready", "/v2/models/bc/versions/1/ready"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(call("GET", ready_paths[i], NULL, &r, NULL), 200);
        assert_true(json_is_true(json_object_get(r, "ready")));
        json_decref(r);
    }
    /* draining: not ready (a 4xx, as the protocol asks), still live */
    serve_oip_set_ready(g_oip, false);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(call("GET", ready_paths[i], NULL, &r, NULL), 400);
        assert_true(json_is_false(json_object_get(r, "ready")));
        json_decref(r);
    }
    assert_int_equal(call("GET", "/v2/health/live", NULL, NULL, NULL), 200);
    serve_oip_set_ready(g_oip, true);
}

static void test_multiclass_ubj(void **state) {
    (void)state;
    serve_oip *o = serve_oip_new();
    serve_model *m = NULL;
    mp_err e = {0};
    assert_int_equal(serve_model_load(g_multi, "three", "2", &m, &e), 0);
    assert_int_equal(m->meta.nfeatures, 4);
    assert_int_equal(m->meta.noutputs, 3);
    assert_string_equal(m->meta.platform, "xgboost_ubj");
    assert_int_equal(serve_oip_add(o, m, &e), 0);
    serve_model *again = NULL;
    assert_int_equal(serve_model_load(g_multi, "three", "2", &again, &e), 0);
    assert_int_equal(serve_oip_add(o, again, &e), MP_EEXIST);
    serve_model_free(again);
    const char *body = "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[2,4],\"datatype\":\"FP32\",\"data\":[[9,1,1,0],[1,1,9,0]]}]}";
    mp_http_req req = {.method = "POST", .path = "/v2/models/three/infer", .body = body, .body_len = strlen(body)};
    mp_http_resp resp;
    mp_http_resp_init(&resp);
    serve_oip_handle(o, &req, &resp);
    assert_int_equal(resp.status, 200);
    json_t *r = json_loads(resp.body.data, 0, NULL);
    json_t *out = json_array_get(json_object_get(r, "outputs"), 0);
    char *shape = json_dumps(json_object_get(out, "shape"), JSON_COMPACT);
    assert_string_equal(shape, "[2,3]");
    free(shape);
    json_t *d = json_object_get(out, "data");
    assert_int_equal(json_array_size(d), 6);
    assert_true(json_number_value(json_array_get(d, 0)) > json_number_value(json_array_get(d, 1))); /* row 0: class 0 */
    assert_true(json_number_value(json_array_get(d, 5)) > json_number_value(json_array_get(d, 3))); /* row 1: class 2 */
    float want[6];
    for (size_t i = 0; i < 6; i++) want[i] = (float)json_number_value(json_array_get(d, i));
    json_decref(r);
    mp_http_resp_free(&resp);
    /* the same as binary output: 2 x 3 little-endian floats after the JSON */
    const char *bbody = "{\"parameters\":{\"binary_data_output\":true},\"inputs\":[{\"name\":\"input-0\",\"shape\":[2,4],"
                        "\"datatype\":\"FP32\",\"data\":[[9,1,1,0],[1,1,9,0]]}]}";
    req.body = bbody;
    req.body_len = strlen(bbody);
    mp_http_resp_init(&resp);
    serve_oip_handle(o, &req, &resp);
    assert_int_equal(resp.status, 200);
    const char *hl = NULL;
    for (int i = 0; i < resp.nheaders; i++)
        if (strcmp(resp.headers[i].name, "Inference-Header-Content-Length") == 0) hl = resp.headers[i].value;
    assert_non_null(hl);
    size_t jl = strtoul(hl, NULL, 10);
    assert_int_equal(resp.body.len, jl + 24);
    r = json_loadb(resp.body.data, jl, 0, NULL);
    out = json_array_get(json_object_get(r, "outputs"), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "parameters"), "binary_data_size")), 24);
    float p[6];
    memcpy(p, resp.body.data + jl, sizeof p); /* little-endian host */
    for (int i = 0; i < 6; i++) assert_true(p[i] == want[i]);
    json_decref(r);
    mp_http_resp_free(&resp);
    mp_http_resp_init(&resp);
    req.method = "GET";
    req.path = "/v2/models/three";
    serve_oip_handle(o, &req, &resp);
    assert_non_null(strstr(resp.body.data, "\"outputs\":[{\"name\":\"predict\",\"datatype\":\"FP32\",\"shape\":[-1,3]}]"));
    mp_http_resp_free(&resp);
    serve_oip_free(o);
}

static void test_bad_model_files(void **state) {
    (void)state;
    serve_model *m = NULL;
    mp_err e = {0};
    char p[4300];
    assert_int_equal(serve_model_load("/nonexistent/m.json", "x", "1", &m, &e), MP_ENOENT);
    snprintf(p, sizeof p, "%s/garbage.json", g_tmp);
    assert_int_equal(mp_write_file_atomic(p, "{\"not\": \"a model\"}", 18, &e), 0);
    assert_int_equal(serve_model_load(p, "x", "1", &m, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "XGBoost failed to load the model"));
    assert_int_equal(serve_model_load(g_data, "x", "1", &m, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "no runtime reads"));
    assert_null(m);
    assert_ptr_equal(serve_runtime_for("a/b.json"), &serve_runtime_xgboost);
    assert_ptr_equal(serve_runtime_for("b.ubj"), &serve_runtime_xgboost);
    assert_null(serve_runtime_for("b.pkl"));
}

static void test_resolve_files(void **state) {
    (void)state;
    serve_ref r;
    mp_err e = {0};
    assert_int_equal(serve_ref_resolve(g_model, NULL, &r, &e), 0);
    assert_string_equal(r.name, "bc");
    assert_string_equal(r.path, g_model);
    assert_int_equal(strlen(r.version), 12);
    serve_ref_free(&r);
    /* a folder with one model file names the model after the folder */
    char dir[4300], f[4400];
    snprintf(dir, sizeof dir, "%s/pack", g_tmp);
    assert_int_equal(mp_mkdir_p(dir, &e), 0);
    snprintf(f, sizeof f, "%s/notes.txt", dir);
    assert_int_equal(mp_write_file_atomic(f, "x", 1, &e), 0);
    snprintf(f, sizeof f, "%s/booster.ubj", dir);
    char *bytes;
    size_t n;
    assert_int_equal(mp_read_file(g_multi, &bytes, &n, &e), 0);
    assert_int_equal(mp_write_file_atomic(f, bytes, n, &e), 0);
    assert_int_equal(serve_ref_resolve(dir, NULL, &r, &e), 0);
    assert_string_equal(r.name, "pack");
    assert_string_equal(r.path, f);
    serve_ref_free(&r);
    snprintf(f, sizeof f, "%s/other.json", dir);
    assert_int_equal(mp_write_file_atomic(f, bytes, n, &e), 0);
    assert_int_equal(serve_ref_resolve(dir, NULL, &r, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "holds 2 model files"));
    free(bytes);
    assert_int_equal(serve_ref_resolve("/nonexistent/model.json", NULL, &r, &e), MP_ENOENT);
    assert_int_equal(serve_ref_resolve("s3://bucket/model.json", NULL, &r, &e), MP_EINVAL);
    assert_int_equal(serve_ref_resolve("", NULL, &r, &e), MP_EINVAL);
    assert_int_equal(serve_ref_resolve("models:/bc/1", NULL, &r, &e), MP_EINVAL);
}

static void test_resolve_registry(void **state) {
    (void)state;
    char home[4300];
    snprintf(home, sizeof home, "%s/home", g_tmp);
    mp_err e = {0};
    assert_int_equal(mp_mkdir_p(home, &e), 0);
    store *st = NULL;
    assert_int_equal(store_open_home(home, &st, &e), 0);
    int64_t v = 0;
    char src[4400];
    snprintf(src, sizeof src, "file://%s", g_model);
    assert_int_equal(st->r->version_register(st, "cancer", g_model, NULL, &v, &e), 0);
    assert_int_equal(v, 1);
    assert_int_equal(st->r->version_register(st, "cancer", src, NULL, &v, &e), 0);
    assert_int_equal(v, 2);
    assert_int_equal(st->r->version_register(st, "cancer", "runs:/abc/model", NULL, &v, &e), 0);
    assert_int_equal(v, 3);
    assert_int_equal(st->r->alias_set(st, "cancer", "champion", 1, &e), 0);
    st->m->close(st);

    static const struct {
        const char *ref, *version;
        int rc;
        const char *needle;
    } cases[] = {
        {"models:/cancer/1", "1", 0, NULL},
        {"models:/cancer/2", "2", 0, NULL},
        {"models:/cancer@champion", "1", 0, NULL},
        {"models:/cancer/latest", "3", MP_EINVAL, "not a local path"},
        {"models:/cancer/3", "3", MP_EINVAL, "not a local path"},
        {"models:/cancer/9", NULL, MP_ENOENT, "9"},
        {"models:/cancer@nobody", NULL, MP_ENOENT, "has no alias nobody"},
        {"models:/nope/1", NULL, MP_ENOENT, "nope"},
        {"models:/cancer/x", NULL, MP_EINVAL, "number from 1 up"},
        {"models:/cancer/0", NULL, MP_EINVAL, "number from 1 up"},
        {"models:/cancer", NULL, MP_EINVAL, "models:/NAME/VERSION"},
        {"models:/cancer/1/2", NULL, MP_EINVAL, "models:/NAME/VERSION"},
        {"models:/@x", NULL, MP_EINVAL, "models:/NAME@ALIAS"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        serve_ref r;
        mp_err ee = {0};
        int rc = serve_ref_resolve(cases[i].ref, home, &r, &ee);
        if (rc != cases[i].rc || (cases[i].needle && !strstr(ee.msg, cases[i].needle)))
            fail_msg("%s: expected %d (%s), got %d: %s", cases[i].ref, cases[i].rc, cases[i].needle ? cases[i].needle : "",
                     rc, ee.msg);
        if (rc == 0) {
            assert_string_equal(r.name, "cancer");
            assert_string_equal(r.version, cases[i].version);
            assert_string_equal(r.path, g_model);
            serve_ref_free(&r);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predictions_match_c_api),
        cmocka_unit_test(test_datatypes),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_metadata_and_health),
        cmocka_unit_test(test_multiclass_ubj),
        cmocka_unit_test(test_bad_model_files),
        cmocka_unit_test(test_resolve_files),
        cmocka_unit_test(test_resolve_registry),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
