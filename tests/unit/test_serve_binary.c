/* test_serve_binary.c — the binary tensor data extension of src/serve, in
 * process, on a model trained here on the breast-cancer data: every row's
 * prediction from binary FP32 and FP64 inputs, with binary and JSON outputs,
 * equals the XGBoost C API's and the JSON path's; every datatype's bytes
 * (FP16, BF16, signed and unsigned integers, BOOL) convert as the protocol
 * says; a NaN is a missing value; and each malformed body (header length,
 * sizes, truncated or left-over data, misplaced parameters) is a 400 that says
 * why. Uses MLPLANE_SRC and MLPLANE_TEST_TMP. */
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
#include "serve/serve_int.h"

static char g_tmp[4096];
static char g_model[4200];
static char g_data[4200];
static serve_oip *g_oip; /* serves g_model as "bc" version "1" */
static ml_table g_t;     /* the breast-cancer rows */
static float *g_x;       /* g_t's features as floats, row-major */
static float *g_want;    /* the C API's prediction of every row */

static int setup_all(void **state) {
    (void)state;
    if (serve_fixture("serve-binary", g_tmp, sizeof g_tmp, g_data, sizeof g_data, g_model, sizeof g_model) != 0) return -1;
    mp_err e = {0};
    if (ml_csv_read(g_data, &g_t, NULL, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    g_x = malloc(g_t.nrows * g_t.nfeat * sizeof *g_x);
    for (size_t i = 0; i < g_t.nrows * g_t.nfeat; i++) g_x[i] = (float)g_t.x[i];
    BoosterHandle h;
    DMatrixHandle d;
    bst_ulong len;
    const float *res;
    if (XGBoosterCreate(NULL, 0, &h) || XGBoosterLoadModel(h, g_model) ||
        XGDMatrixCreateFromMat(g_x, g_t.nrows, g_t.nfeat, NAN, &d) || XGBoosterPredict(h, d, 0, 0, 0, &len, &res) ||
        len != g_t.nrows)
        return -1;
    g_want = malloc(len * sizeof *g_want);
    memcpy(g_want, res, len * sizeof *g_want);
    XGDMatrixFree(d);
    XGBoosterFree(h);
    serve_model *m = NULL;
    if (serve_model_load(g_model, "bc", "1", &m, &e) != 0) return -1;
    g_oip = serve_oip_new();
    return serve_oip_add(g_oip, m, &e);
}

static int teardown_all(void **state) {
    (void)state;
    serve_oip_free(g_oip);
    ml_table_free(&g_t);
    free(g_x);
    free(g_want);
    return 0;
}

/* A response taken apart: its JSON (the inference header when binary) and the bytes after it. */
typedef struct answer {
    int status;
    json_t *json;
    const unsigned char *bin;
    size_t bin_len;
    mp_http_resp resp;
} answer;

static void answer_free(answer *a) {
    json_decref(a->json);
    mp_http_resp_free(&a->resp);
}

static const char *resp_header(const mp_http_resp *r, const char *name) {
    for (int i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, name) == 0) return r->headers[i].value;
    return NULL;
}

/* POSTs json followed by n bytes of bin to the model's infer endpoint. hlen is
 * the Inference-Header-Content-Length value: NULL for strlen(json), "" for no
 * header at all. */
static answer post(const char *json, const void *bin, size_t n, const char *hlen) {
    mp_buf body;
    mp_buf_init(&body);
    mp_buf_puts(&body, json);
    if (n) mp_buf_append(&body, bin, n);
    char len[32];
    snprintf(len, sizeof len, "%zu", strlen(json));
    mp_http_kv hdr[2] = {{"Content-Type", "application/octet-stream"}, {"inference-header-content-length", hlen ? hlen : len}};
    mp_http_req req = {.method = "POST", .path = "/v2/models/bc/infer", .body = body.data, .body_len = body.len,
                       .headers = hdr, .nheaders = hlen && !*hlen ? 1 : 2};
    answer a = {0};
    mp_http_resp_init(&a.resp);
    serve_oip_handle(g_oip, &req, &a.resp);
    a.status = a.resp.status;
    const char *h = resp_header(&a.resp, "Inference-Header-Content-Length");
    size_t jl = h ? strtoul(h, NULL, 10) : a.resp.body.len;
    assert_true(jl <= a.resp.body.len);
    a.json = json_loadb(a.resp.body.data, jl, 0, NULL);
    assert_non_null(a.json);
    a.bin = (const unsigned char *)a.resp.body.data + jl;
    a.bin_len = a.resp.body.len - jl;
    if (h) assert_string_equal(a.resp.content_type, "application/octet-stream");
    else assert_string_equal(a.resp.content_type, "application/json");
    mp_buf_free(&body);
    return a;
}

static const json_t *out0(const answer *a) {
    return json_array_get(json_object_get(a->json, "outputs"), 0);
}

/* The output's values, binary or JSON, as floats (n of them). */
static float *values(const answer *a, size_t n) {
    assert_int_equal(a->status, 200);
    float *v = malloc((n ? n : 1) * sizeof *v);
    const json_t *o = out0(a), *bsize = json_object_get(json_object_get(o, "parameters"), "binary_data_size");
    if (bsize) {
        assert_null(json_object_get(o, "data"));
        assert_int_equal(json_integer_value(bsize), n * 4);
        assert_int_equal(a->bin_len, n * 4);
        for (size_t i = 0; i < n; i++) {
            const unsigned char *p = a->bin + 4 * i;
            uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            memcpy(&v[i], &u, sizeof u);
        }
    } else {
        assert_int_equal(a->bin_len, 0);
        const json_t *d = json_object_get(o, "data");
        assert_int_equal(json_array_size(d), n);
        for (size_t i = 0; i < n; i++) v[i] = (float)json_number_value(json_array_get(d, i));
    }
    return v;
}

/* Little-endian bytes of rows [from, from + n) of g_x as FP32 or FP64. */
static unsigned char *row_bytes(size_t from, size_t n, bool fp64, size_t *len) {
    size_t k = n * g_t.nfeat, w = fp64 ? 8 : 4;
    unsigned char *b = malloc(k * w + 1);
    for (size_t i = 0; i < k; i++) {
        float f = g_x[from * g_t.nfeat + i];
        uint64_t u = 0;
        if (fp64) {
            double d = f;
            memcpy(&u, &d, sizeof d);
        } else {
            uint32_t u32;
            memcpy(&u32, &f, sizeof f);
            u = u32;
        }
        for (size_t j = 0; j < w; j++) b[i * w + j] = (unsigned char)(u >> (8 * j));
    }
    *len = k * w;
    return b;
}

static char *header_json(size_t rows, const char *dt, size_t bytes, const char *outputs) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "{\"id\":\"b\",\"inputs\":[{\"name\":\"input-0\",\"shape\":[%zu,%zu],\"datatype\":\"%s\",\"parameters\":{\"binary_data_size\":%zu}}]%s}",
                  rows, g_t.nfeat, dt, bytes, outputs);
    return mp_buf_steal(&b);
}

static void test_predictions_match_c_api(void **state) {
    (void)state;
    size_t n = g_t.nrows;
    static const char *const outs[] = {"", ",\"outputs\":[{\"name\":\"predict\",\"parameters\":{\"binary_data\":true}}]",
                                       ",\"parameters\":{\"binary_data_output\":true}"};
    for (int fp64 = 0; fp64 <= 1; fp64++)
        for (size_t o = 0; o < 3; o++) {
            size_t len;
            unsigned char *bin = row_bytes(0, n, fp64, &len);
            char *json = header_json(n, fp64 ? "FP64" : "FP32", len, outs[o]);
            answer a = post(json, bin, len, NULL);
            float *got = values(&a, n);
            for (size_t i = 0; i < n; i++)
                if (got[i] != g_want[i]) fail_msg("%s, outputs %zu: row %zu: %.9g, the C API %.9g", fp64 ? "FP64" : "FP32", o, i, got[i], g_want[i]);
            assert_string_equal(json_string_value(json_object_get(a.json, "id")), "b");
            assert_int_equal(json_integer_value(json_array_get(json_object_get(out0(&a), "shape"), 0)), n);
            assert_string_equal(resp_header(&a.resp, "X-Model-Version"), "1");
            assert_true((o == 0) == (resp_header(&a.resp, "Inference-Header-Content-Length") == NULL));
            free(got);
            answer_free(&a);
            free(json);
            free(bin);
        }
    /* every row alone, binary in and out, against the C API and the JSON path */
    for (size_t i = 0; i < n; i++) {
        size_t len;
        unsigned char *bin = row_bytes(i, 1, false, &len);
        char *json = header_json(1, "FP32", len, outs[2]);
        answer a = post(json, bin, len, NULL);
        float *got = values(&a, 1);
        assert_true(got[0] == g_want[i]);
        mp_buf j;
        mp_buf_init(&j);
        mp_buf_puts(&j, "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[30],\"datatype\":\"FP32\",\"data\":[");
        for (size_t k = 0; k < g_t.nfeat; k++) mp_buf_printf(&j, "%s%.9g", k ? "," : "", (double)g_x[i * g_t.nfeat + k]);
        mp_buf_puts(&j, "]}]}");
        answer b = post(j.data, NULL, 0, "");
        float *json_got = values(&b, 1);
        assert_true(json_got[0] == got[0]);
        free(json_got);
        answer_free(&b);
        mp_buf_free(&j);
        free(got);
        answer_free(&a);
        free(json);
        free(bin);
    }
}

static void test_output_choice(void **state) {
    (void)state;
    size_t len;
    unsigned char *bin = row_bytes(0, 2, false, &len);
    static const struct {
        const char *rest;
        bool binary;
    } cases[] = {
        {"", false},
        {",\"parameters\":{\"binary_data_output\":true}", true},
        {",\"parameters\":{\"binary_data_output\":false}", false},
        {",\"parameters\":{\"binary_data_output\":true},\"outputs\":[{\"name\":\"predict\"}]", true},
        {",\"parameters\":{\"binary_data_output\":true},\"outputs\":[{\"name\":\"predict\",\"parameters\":{\"binary_data\":false}}]", false},
        {",\"outputs\":[{\"name\":\"predict\",\"parameters\":{\"binary_data\":true}}]", true},
        {",\"outputs\":[{\"name\":\"predict\",\"parameters\":{\"binary_data\":false,\"classification\":0}}]", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *json = header_json(2, "FP32", len, cases[i].rest);
        answer a = post(json, bin, len, NULL);
        assert_int_equal(a.status, 200);
        bool binary = json_object_get(json_object_get(out0(&a), "parameters"), "binary_data_size") != NULL;
        if (binary != cases[i].binary) fail_msg("%s: binary output %d", cases[i].rest, binary);
        float *v = values(&a, 2);
        assert_true(v[0] == g_want[0] && v[1] == g_want[1]);
        free(v);
        answer_free(&a);
        free(json);
    }
    /* binary output of a JSON request; the header length is the JSON's */
    const char *req = "{\"parameters\":{\"binary_data_output\":true},\"inputs\":[{\"name\":\"input-0\",\"shape\":[0,30],\"datatype\":\"FP32\",\"data\":[]}]}";
    answer a = post(req, NULL, 0, "");
    assert_int_equal(a.status, 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out0(&a), "parameters"), "binary_data_size")), 0);
    assert_int_equal(strtoul(resp_header(&a.resp, "Inference-Header-Content-Length"), NULL, 10), a.resp.body.len);
    answer_free(&a);
    /* the header may also say the whole body is JSON */
    char whole[32];
    snprintf(whole, sizeof whole, "%zu", strlen(req));
    a = post(req, NULL, 0, whole);
    assert_int_equal(a.status, 200);
    answer_free(&a);
    free(bin);
}

/* One row of 30 copies of the element given as little-endian bytes e (w of them). */
static float predict_bytes(const char *dt, const unsigned char *e, size_t w) {
    unsigned char bin[30 * 8];
    for (size_t i = 0; i < 30; i++) memcpy(bin + i * w, e, w);
    char *json = header_json(1, dt, 30 * w, "");
    answer a = post(json, bin, 30 * w, NULL);
    if (a.status != 200) fail_msg("%s: %d %s", dt, a.status, a.resp.body.data);
    float *v = values(&a, 1);
    float f = v[0];
    free(v);
    answer_free(&a);
    free(json);
    return f;
}

static float predict_value(float x) {
    unsigned char e[4];
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    for (int j = 0; j < 4; j++) e[j] = (unsigned char)(u >> (8 * j));
    return predict_bytes("FP32", e, 4);
}

static void test_datatypes(void **state) {
    (void)state;
    float one = predict_value(1.0f), minus2 = predict_value(-2.0f), zero = predict_value(0.0f);
    static const unsigned char fp64_one[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    assert_true(predict_bytes("FP64", fp64_one, 8) == one);
    assert_true(predict_bytes("FP16", (const unsigned char[]){0x00, 0x3c}, 2) == one);
    assert_true(predict_bytes("FP16", (const unsigned char[]){0x00, 0xc0}, 2) == minus2);
    assert_true(predict_bytes("BF16", (const unsigned char[]){0x80, 0x3f}, 2) == one);
    assert_true(predict_bytes("INT8", (const unsigned char[]){0xfe}, 1) == minus2);
    assert_true(predict_bytes("INT16", (const unsigned char[]){0xfe, 0xff}, 2) == minus2);
    assert_true(predict_bytes("INT32", (const unsigned char[]){0xfe, 0xff, 0xff, 0xff}, 4) == minus2);
    assert_true(predict_bytes("INT64", (const unsigned char[]){0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 8) == minus2);
    assert_true(predict_bytes("UINT8", (const unsigned char[]){1}, 1) == one);
    assert_true(predict_bytes("UINT16", (const unsigned char[]){1, 0}, 2) == one);
    assert_true(predict_bytes("UINT32", (const unsigned char[]){1, 0, 0, 0}, 4) == one);
    assert_true(predict_bytes("UINT64", (const unsigned char[]){1, 0, 0, 0, 0, 0, 0, 0}, 8) == one);
    assert_true(predict_bytes("BOOL", (const unsigned char[]){1}, 1) == one);
    assert_true(predict_bytes("BOOL", (const unsigned char[]){0}, 1) == zero);

    /* the conversions themselves, element by element */
    const serve__dtype *fp16 = serve__dtype_find("FP16"), *u64 = serve__dtype_find("UINT64");
    static const unsigned char halves[] = {0x01, 0x00, 0xff, 0x7b, 0x00, 0x80, 0x00, 0x7e, 0x55, 0x35};
    float h[5];
    size_t bad = 99;
    char why[160];
    assert_true(serve__binary_elems(halves, 5, fp16, h, &bad, why, sizeof why));
    assert_true(h[0] == ldexpf(1.0f, -24)); /* the smallest subnormal */
    assert_true(h[1] == 65504.0f);          /* the largest half */
    assert_true(h[2] == 0.0f && signbit(h[2]));
    assert_true(isnan(h[3]));
    assert_true(h[4] == 0x1.554p-2f);
    static const unsigned char max64[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_true(serve__binary_elems(max64, 1, u64, h, &bad, why, sizeof why));
    assert_true(h[0] == 18446744073709551616.0f);
    static const unsigned char halfinf[] = {0, 0, 0x00, 0x7c};
    assert_false(serve__binary_elems(halfinf, 2, fp16, h, &bad, why, sizeof why));
    assert_int_equal(bad, 1);
    assert_non_null(strstr(why, "infinite"));
    mp_buf b;
    mp_buf_init(&b);
    float neg = -2.5f;
    serve__put_floats_le(&b, &neg, 1);
    assert_memory_equal(b.data, ((const unsigned char[]){0x00, 0x00, 0x20, 0xc0}), 4);
    mp_buf_free(&b);
}

/* A NaN is a missing value, as XGBoost reads it. */
static void test_nan_is_missing(void **state) {
    (void)state;
    float row[30];
    memcpy(row, g_x, sizeof row);
    for (size_t i = 20; i < 30; i++) row[i] = NAN; /* the "worst" features, which the trees use */
    BoosterHandle h;
    DMatrixHandle d;
    bst_ulong len;
    const float *res;
    assert_int_equal(XGBoosterCreate(NULL, 0, &h), 0);
    assert_int_equal(XGBoosterLoadModel(h, g_model), 0);
    assert_int_equal(XGDMatrixCreateFromMat(row, 1, 30, NAN, &d), 0);
    assert_int_equal(XGBoosterPredict(h, d, 0, 0, 0, &len, &res), 0);
    float want = res[0];
    XGDMatrixFree(d);
    XGBoosterFree(h);
    unsigned char bin[120];
    for (size_t i = 0; i < 30; i++) {
        uint32_t u;
        memcpy(&u, &row[i], sizeof u);
        for (int j = 0; j < 4; j++) bin[4 * i + j] = (unsigned char)(u >> (8 * j));
    }
    char *json = header_json(1, "FP32", 120, "");
    answer a = post(json, bin, 120, NULL);
    float *v = values(&a, 1);
    assert_true(v[0] == want);
    assert_true(v[0] != g_want[0]);
    free(v);
    answer_free(&a);
    free(json);
}

static void expect_400(const char *json, const void *bin, size_t n, const char *hlen, const char *needle) {
    answer a = post(json, bin, n, hlen);
    const char *msg = json_string_value(json_object_get(a.json, "error"));
    if (a.status != 400 || !msg || !strstr(msg, needle))
        fail_msg("%.120s (+%zu bytes, header %s): expected 400 with \"%s\", got %d: %s", json, n, hlen ? hlen : "(its length)",
                 needle, a.status, msg ? msg : a.resp.body.data);
    assert_int_equal(json_object_size(a.json), 1);
    assert_string_equal(a.resp.content_type, "application/json");
    assert_null(resp_header(&a.resp, "Inference-Header-Content-Length"));
    answer_free(&a);
}

static void test_errors(void **state) {
    (void)state;
    size_t len;
    unsigned char *bin = row_bytes(0, 1, false, &len);
    unsigned char big[200] = {0};
    memcpy(big, bin, len);
    char *good = header_json(1, "FP32", 120, "");
    char glen[32], tiny[8], over[32];
    snprintf(glen, sizeof glen, "%zu", strlen(good));
    snprintf(tiny, sizeof tiny, "%d", 10);
    snprintf(over, sizeof over, "%zu", strlen(good) + 121);
    const char *json_row = "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,30],\"datatype\":\"FP32\",\"data\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}";
    char *sized100 = header_json(1, "FP32", 100, "");
    char *fp64_120 = header_json(1, "FP64", 120, "");
    char *bytes = header_json(1, "BYTES", 120, "");
    char *bool30 = header_json(1, "BOOL", 30, "");
    char *fp64_240 = header_json(1, "FP64", 240, "");
    const char *huge = "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[4611686018427387904,30],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":0}}]}";
    unsigned char bools[30] = {1, 0, 2};
    unsigned char infs[120];
    memcpy(infs, bin, sizeof infs);
    infs[4 * 7 + 0] = 0, infs[4 * 7 + 1] = 0, infs[4 * 7 + 2] = 0x80, infs[4 * 7 + 3] = 0x7f;
    unsigned char huge64[240] = {0};
    memset(huge64 + 8, 0, 8);
    huge64[8 + 6] = 0xf0, huge64[8 + 7] = 0x7e; /* about 1e303 */
    const struct {
        const char *json;
        const void *bin;
        size_t n;
        const char *hlen;
        const char *needle;
    } cases[] = {
        /* the header's value */
        {good, bin, 120, "abc", "Inference-Header-Content-Length \"abc\" is not a byte count"},
        {good, bin, 120, "-1", "\"-1\" is not a byte count"},
        {good, bin, 120, "+5", "\"+5\" is not a byte count"},
        {good, bin, 120, "12x", "\"12x\" is not a byte count"},
        {good, bin, 120, "99999999999999999999999", "is not a byte count"},
        {good, bin, 120, "0", "Inference-Header-Content-Length is 0"},
        {good, bin, 120, over, "but the body holds only"},
        {good, bin, 120, tiny, "malformed JSON inference header at line 1"},
        /* sizes and the data's extent */
        {good, bin, 60, NULL, "\"binary_data_size\" is 120 but only 60 bytes of binary data follow"},
        {good, NULL, 0, NULL, "but only 0 bytes of binary data follow"},
        {sized100, bin, 100, NULL, "\"binary_data_size\" is 100 but 1 rows of 30 FP32 features take 120 bytes"},
        {fp64_120, bin, 120, NULL, "take 240 bytes"},
        {good, big, 124, NULL, "holds 124 bytes of binary data after the"},
        {json_row, big, 8, NULL, "\"binary_data_size\" add up to 0"},
        {good, NULL, 0, "", "no Inference-Header-Content-Length header"},
        {good, bin, 120, "", "to send binary tensor data after the JSON, give the Inference-Header-Content-Length header"},
        {huge, NULL, 0, NULL, "more bytes than any body holds"},
        /* parameters in the wrong place or of the wrong kind */
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,30],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":120}}]}", bin, 120,
         NULL, "unknown input \"x\""},
        {"{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,30],\"datatype\":\"FP32\",\"data\":[],\"parameters\":{\"binary_data_size\":120}}]}",
         bin, 120, NULL, "has both \"data\" and \"binary_data_size\""},
        {"{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,30],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":\"120\"}}]}",
         bin, 120, NULL, "\"binary_data_size\" must be a whole number of bytes"},
        {"{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,30],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":-120}}]}",
         bin, 120, NULL, "\"binary_data_size\" must be a whole number of bytes"},
        {"{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,30],\"datatype\":\"FP32\",\"parameters\":7}]}", bin, 120, NULL,
         "no \"data\""},
        {"{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,30],\"datatype\":\"FP32\",\"data\":[],\"parameters\":7}]}", NULL, 0, "",
         "\"parameters\" must be an object"},
        {"{\"parameters\":{\"binary_data_output\":1},\"inputs\":[{}]}", NULL, 0, "", "\"binary_data_output\" must be true or false"},
        {"{\"inputs\":[{}],\"outputs\":[{\"name\":\"predict\",\"parameters\":{\"binary_data\":\"yes\"}}]}", NULL, 0, "",
         "output predict: \"binary_data\" must be true or false"},
        /* datatypes and values */
        {bytes, bin, 120, NULL, "BYTES (length-prefixed strings) cannot be the model's numeric input"},
        {"{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,30],\"datatype\":\"FP16\",\"data\":[1]}]}", NULL, 0, "",
         "FP16 data cannot be JSON values"},
        {"{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,30],\"datatype\":\"FP8\",\"parameters\":{\"binary_data_size\":30}}]}", bin,
         30, NULL, "unknown datatype \"FP8\""},
        {bool30, bools, 30, NULL, "element 2 (row 0, feature 2) of the binary data is the byte 2"},
        {good, infs, 120, NULL, "element 7 (row 0, feature 7) of the binary data is infinite"},
        {fp64_240, huge64, 240, NULL, "element 1 (row 0, feature 1) of the binary data (2.7"},
        /* binary data without the header */
        {json_row, big, 8, "", "to send binary tensor data after the JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_400(cases[i].json, cases[i].bin, cases[i].n, cases[i].hlen, cases[i].needle);
    /* after all that, the same request still answers */
    answer a = post(good, bin, 120, glen);
    float *v = values(&a, 1);
    assert_true(v[0] == g_want[0]);
    free(v);
    answer_free(&a);
    char *all[] = {good, sized100, fp64_120, bytes, bool30, fp64_240};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    free(bin);
}

static void test_metadata(void **state) {
    (void)state;
    mp_http_req req = {.method = "GET", .path = "/v2", .body = ""};
    mp_http_resp resp;
    mp_http_resp_init(&resp);
    serve_oip_handle(g_oip, &req, &resp);
    assert_non_null(strstr(resp.body.data, "\"extensions\":[\"binary_tensor_data\"]"));
    mp_http_resp_free(&resp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predictions_match_c_api),
        cmocka_unit_test(test_output_choice),
        cmocka_unit_test(test_datatypes),
        cmocka_unit_test(test_nan_is_missing),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_metadata),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
