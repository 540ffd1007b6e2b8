/* infer.c — the inference request and response of the Open Inference Protocol
 * v2 (REST):
 *
 *   request  {"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype",
 *             "parameters"?, "data"}], "outputs"?: [{"name", "parameters"?}]}
 *   response {"model_name", "model_version", "id"? (echoed), "outputs":
 *             [{"name", "datatype", "shape", "data"}]}
 *
 * The body is parsed once with jansson; the input tensor is checked against the
 * model (its one input, the feature count) and converted, element by element,
 * into one row-major float matrix, which the runtime predicts in one call. Data
 * may be flat (row-major) or nested as the shape says ([[row], [row]]). Every
 * problem is a 400 whose message names the field and what was expected; the
 * response is written straight into the body buffer (floats as %.9g, which
 * carries an FP32 value exactly). Reentrant: nothing is shared between calls. */
#include "serve/serve_int.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- datatypes ---------------------------------------------------------------------- */

typedef enum dt_kind { DT_FLOAT, DT_INT, DT_BOOL } dt_kind;

typedef struct dtype {
    const char *name;
    dt_kind kind;
    long long lo, hi; /* DT_INT: the range of the type (as far as JSON integers reach) */
} dtype;

/* The OIP datatypes a request may send; all become the model's 32-bit floats. */
static const dtype dtypes[] = {
    {"FP32", DT_FLOAT, 0, 0},
    {"FP64", DT_FLOAT, 0, 0},
    {"INT8", DT_INT, -128, 127},
    {"INT16", DT_INT, -32768, 32767},
    {"INT32", DT_INT, INT_MIN, INT_MAX},
    {"INT64", DT_INT, LLONG_MIN, LLONG_MAX},
    {"UINT8", DT_INT, 0, 255},
    {"UINT16", DT_INT, 0, 65535},
    {"UINT32", DT_INT, 0, 4294967295LL},
    {"UINT64", DT_INT, 0, LLONG_MAX},
    {"BOOL", DT_BOOL, 0, 0},
};
/* OIP datatypes that cannot become numbers for a model. */
static const char *const dtypes_unsupported[] = {"FP16", "BF16", "BYTES"};

static const dtype *dtype_find(const char *name) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, name) == 0) return &dtypes[i];
    return NULL;
}

/* Converts one element; on failure writes why into why (e.g. "is a string"). */
static bool convert(const json_t *v, const dtype *dt, float *out, char *why, size_t n) {
    switch (dt->kind) {
    case DT_FLOAT:
        if (!json_is_number(v)) break;
        double d = json_number_value(v);
        float f = (float)d;
        if (!isfinite(f)) {
            snprintf(why, n, "(%g) is beyond the range of the model's 32-bit floats", d);
            return false;
        }
        *out = f;
        return true;
    case DT_INT:
        if (!json_is_integer(v)) break;
        json_int_t x = json_integer_value(v);
        if (x < dt->lo || x > dt->hi) {
            snprintf(why, n, "(%lld) is out of the range of %s", (long long)x, dt->name);
            return false;
        }
        *out = (float)x;
        return true;
    case DT_BOOL:
        if (!json_is_boolean(v)) break;
        *out = json_is_true(v) ? 1.0f : 0.0f;
        return true;
    }
    static const char *const kinds[] = {"an object", "an array", "a string", "an integer", "a number", "true", "false", "null"};
    const char *what = kinds[json_typeof(v)];
    const char *want = dt->kind == DT_FLOAT ? "numbers" : dt->kind == DT_INT ? "integers" : "true or false";
    snprintf(why, n, "is %s; %s data are %s", what, dt->name, want);
    return false;
}

/* ---- the request ------------------------------------------------------------------------ */

typedef struct infer_req {
    const char *id;  /* NULL when the request has none */
    size_t rows;
    float *x;        /* rows * nfeatures, heap */
} infer_req;

/* Writes "[2, 30]" for a shape into buf. */
static void shape_text(const json_t *shape, char *buf, size_t n) {
    size_t off = (size_t)snprintf(buf, n, "[");
    for (size_t i = 0; i < json_array_size(shape) && off < n; i++) {
        const json_t *d = json_array_get(shape, i);
        off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? ", " : "",
                                json_is_integer(d) ? (long long)json_integer_value(d) : -1LL);
    }
    if (off < n) snprintf(buf + off, n - off, "]");
}

/* Checks the shape against the model: [F] (one row) or [R, F]; sets *rows. */
static bool check_shape(const serve_model *m, const json_t *shape, size_t *rows, bool *batched, mp_http_resp *resp) {
    const char *in = m->input_name;
    size_t nd = json_array_size(shape), f = m->meta.nfeatures;
    if (!json_is_array(shape) || nd == 0) {
        serve_oip_error(resp, 400, "input %s: \"shape\" must be an array of 1 or 2 whole numbers, e.g. [1, %zu]", in, f);
        return false;
    }
    for (size_t i = 0; i < nd; i++) {
        const json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0) {
            serve_oip_error(resp, 400, "input %s: \"shape\" must hold whole numbers from 0 up (element %zu does not)", in, i);
            return false;
        }
    }
    char st[96];
    shape_text(shape, st, sizeof st);
    if (nd > 2) {
        serve_oip_error(resp, 400, "input %s: shape %s has %zu dimensions; the model's input is [-1, %zu]: [ROWS, %zu], or [%zu] for one row",
                        in, st, nd, f, f, f);
        return false;
    }
    size_t last = (size_t)json_integer_value(json_array_get(shape, nd - 1));
    if (last != f) {
        serve_oip_error(resp, 400, "input %s: shape %s gives %zu features per row but the model takes %zu (shape [-1, %zu])", in, st,
                        last, f, f);
        return false;
    }
    *batched = nd == 2;
    *rows = nd == 2 ? (size_t)json_integer_value(json_array_get(shape, 0)) : 1;
    return true;
}

/* Converts data (flat, or nested as [rows][features]) into r->x. */
static bool take_data(const serve_model *m, const json_t *data, const dtype *dt, bool batched, infer_req *r,
                      mp_http_resp *resp) {
    const char *in = m->input_name;
    size_t f = m->meta.nfeatures, n = json_array_size(data);
    char why[160];
    if (!json_is_array(data)) {
        serve_oip_error(resp, 400, "input %s: \"data\" must be an array", in);
        return false;
    }
    bool nested = n > 0 && json_is_array(json_array_get(data, 0));
    if (nested && !batched) {
        serve_oip_error(resp, 400, "input %s: \"data\" is nested but the shape [%zu] has one dimension: send it flat", in, f);
        return false;
    }
    if (nested ? n != r->rows : r->rows > SIZE_MAX / f || n != r->rows * f) {
        serve_oip_error(resp, 400, "input %s: \"data\" holds %zu %s but the shape asks for %zu (%zu rows of %zu features)", in, n,
                        nested ? "rows" : "values", nested ? r->rows : r->rows * f, r->rows, f);
        return false;
    }
    r->x = mp_xmalloc((r->rows ? r->rows * f : 1) * sizeof *r->x);
    if (!nested) {
        for (size_t i = 0; i < n; i++)
            if (!convert(json_array_get(data, i), dt, &r->x[i], why, sizeof why)) {
                serve_oip_error(resp, 400, "input %s: data[%zu] %s", in, i, why);
                return false;
            }
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *row = json_array_get(data, i);
        if (!json_is_array(row) || json_array_size(row) != f) {
            serve_oip_error(resp, 400, "input %s: data[%zu] must be a row of %zu values, like data[0]", in, i, f);
            return false;
        }
        for (size_t j = 0; j < f; j++)
            if (!convert(json_array_get(row, j), dt, &r->x[i * f + j], why, sizeof why)) {
                serve_oip_error(resp, 400, "input %s: data[%zu][%zu] %s", in, i, j, why);
                return false;
            }
    }
    return true;
}

static bool is_object_or_absent(const json_t *v) {
    return !v || json_is_object(v);
}

/* Checks one input tensor and takes its rows. */
static bool take_input(const serve_model *m, const json_t *t, infer_req *r, mp_http_resp *resp) {
    const char *in = m->input_name;
    if (!json_is_object(t)) {
        serve_oip_error(resp, 400, "\"inputs\"[0] must be an object {\"name\", \"shape\", \"datatype\", \"data\"}");
        return false;
    }
    const json_t *name = json_object_get(t, "name"), *shape = json_object_get(t, "shape"),
                 *dtn = json_object_get(t, "datatype"), *data = json_object_get(t, "data"),
                 *params = json_object_get(t, "parameters");
    const char *missing = !name ? "name" : !shape ? "shape" : !dtn ? "datatype" : !data ? "data" : NULL;
    if (missing) {
        serve_oip_error(resp, 400, "\"inputs\"[0] has no \"%s\" (an input is {\"name\", \"shape\", \"datatype\", \"data\"})", missing);
        return false;
    }
    if (!json_is_string(name) || strcmp(json_string_value(name), in) != 0) {
        serve_oip_error(resp, 400, "unknown input %s%s%s: model %s takes one input, %s", json_is_string(name) ? "\"" : "",
                        json_is_string(name) ? json_string_value(name) : "(not a string)", json_is_string(name) ? "\"" : "",
                        m->name, in);
        return false;
    }
    if (!is_object_or_absent(params)) {
        serve_oip_error(resp, 400, "input %s: \"parameters\" must be an object", in);
        return false;
    }
    if (params && json_object_get(params, "binary_data_size")) {
        serve_oip_error(resp, 400, "input %s: binary tensor data is not supported; send \"data\" as JSON", in);
        return false;
    }
    if (!json_is_string(dtn)) {
        serve_oip_error(resp, 400, "input %s: \"datatype\" must be a string such as \"FP32\"", in);
        return false;
    }
    const char *dts = json_string_value(dtn);
    const dtype *dt = dtype_find(dts);
    if (!dt) {
        bool known = false;
        for (size_t i = 0; i < sizeof dtypes_unsupported / sizeof dtypes_unsupported[0]; i++)
            known |= strcmp(dts, dtypes_unsupported[i]) == 0;
        serve_oip_error(resp, 400, "input %s: %s datatype \"%s\"; use FP32, FP64, INT8..INT64, UINT8..UINT64 or BOOL", in,
                        known ? "unsupported" : "unknown", dts);
        return false;
    }
    bool batched = false;
    if (!check_shape(m, shape, &r->rows, &batched, resp)) return false;
    return take_data(m, data, dt, batched, r, resp);
}

/* Checks the requested outputs: each must name the model's output. */
static bool check_outputs(const serve_model *m, const json_t *outs, mp_http_resp *resp) {
    if (!outs) return true;
    if (!json_is_array(outs)) {
        serve_oip_error(resp, 400, "\"outputs\" must be an array of {\"name\"}");
        return false;
    }
    for (size_t i = 0; i < json_array_size(outs); i++) {
        const json_t *o = json_array_get(outs, i), *name = json_object_get(o, "name"),
                     *params = json_object_get(o, "parameters");
        if (!json_is_object(o) || !json_is_string(name)) {
            serve_oip_error(resp, 400, "\"outputs\"[%zu] must be an object with a \"name\"", i);
            return false;
        }
        if (strcmp(json_string_value(name), m->output_name) != 0) {
            serve_oip_error(resp, 400, "unknown output \"%s\": model %s has one output, %s", json_string_value(name), m->name,
                            m->output_name);
            return false;
        }
        if (!is_object_or_absent(params)) {
            serve_oip_error(resp, 400, "\"outputs\"[%zu]: \"parameters\" must be an object", i);
            return false;
        }
        if (params && json_is_true(json_object_get(params, "binary_data"))) {
            serve_oip_error(resp, 400, "output %s: binary tensor data is not supported; leave out \"binary_data\"", m->output_name);
            return false;
        }
    }
    return true;
}

/* Decodes and checks the whole request into r. */
static bool take_request(const serve_model *m, const json_t *root, infer_req *r, mp_http_resp *resp) {
    if (!json_is_object(root)) {
        serve_oip_error(resp, 400, "the request body must be a JSON object with \"inputs\"");
        return false;
    }
    const json_t *id = json_object_get(root, "id"), *inputs = json_object_get(root, "inputs");
    if (id && !json_is_string(id)) {
        serve_oip_error(resp, 400, "\"id\" must be a string");
        return false;
    }
    r->id = id ? json_string_value(id) : NULL;
    if (!is_object_or_absent(json_object_get(root, "parameters"))) {
        serve_oip_error(resp, 400, "\"parameters\" must be an object");
        return false;
    }
    if (!json_is_array(inputs) || json_array_size(inputs) == 0) {
        serve_oip_error(resp, 400, "%s: an inference request is {\"inputs\": [{\"name\": \"%s\", \"shape\": [1, %zu], \"datatype\": \"FP32\", \"data\": [...]}]}",
                        !inputs ? "\"inputs\" is missing" : "\"inputs\" must be a non-empty array", m->input_name, m->meta.nfeatures);
        return false;
    }
    if (json_array_size(inputs) > 1) {
        serve_oip_error(resp, 400, "the request has %zu inputs; model %s takes one, %s", json_array_size(inputs), m->name,
                        m->input_name);
        return false;
    }
    return check_outputs(m, json_object_get(root, "outputs"), resp) && take_input(m, json_array_get(inputs, 0), r, resp);
}

/* ---- the response ------------------------------------------------------------------------ */

char *serve__json_string(const char *s) {
    json_t *v = json_string(s);
    char *out = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return out ? out : mp_xstrdup("\"\"");
}

static bool encode(const serve__entry *en, const infer_req *r, const float *y, mp_http_resp *resp) {
    const serve_model *m = en->m;
    size_t k = m->meta.noutputs, n = r->rows * k;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i])) {
            serve_oip_error(resp, 500, "model %s predicted a value that is not finite, which JSON cannot carry", m->name);
            return false;
        }
    mp_buf *b = &resp->body;
    mp_buf_reset(b);
    mp_buf_puts(b, "{\"model_name\":");
    mp_buf_puts(b, en->name_json);
    mp_buf_puts(b, ",\"model_version\":");
    mp_buf_puts(b, en->version_json);
    if (r->id) {
        char *id = serve__json_string(r->id);
        mp_buf_puts(b, ",\"id\":");
        mp_buf_puts(b, id);
        free(id);
    }
    mp_buf_printf(b, ",\"outputs\":[{\"name\":\"%s\",\"datatype\":\"FP32\",\"shape\":[%zu", m->output_name, r->rows);
    if (k > 1) mp_buf_printf(b, ",%zu", k);
    mp_buf_puts(b, "],\"data\":[");
    for (size_t i = 0; i < n; i++) {
        char num[32];
        int len = snprintf(num, sizeof num, i ? ",%.9g" : "%.9g", (double)y[i]);
        mp_buf_append(b, num, (size_t)len);
    }
    mp_buf_puts(b, "]}]}");
    resp->status = 200;
    return true;
}

void serve__infer(const serve__entry *en, const char *body, size_t len, mp_http_resp *resp) {
    const serve_model *m = en->m;
    mp_http_header_add(resp, "X-Model-Version", m->version); /* on errors too: which version refused */
    if (len == 0) {
        serve_oip_error(resp, 400, "the request body is empty: an inference request is a JSON object with \"inputs\"");
        return;
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_DECODE_ANY, &je);
    if (!root) {
        serve_oip_error(resp, 400, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
        return;
    }
    infer_req r = {0};
    float *y = NULL;
    if (take_request(m, root, &r, resp)) {
        mp_err e = {0};
        y = mp_xmalloc((r.rows ? r.rows * m->meta.noutputs : 1) * sizeof *y);
        if (m->rt->predict(m->state, r.x, r.rows, y, &e) != 0)
            serve_oip_error(resp, 500, "model %s version %s failed to predict: %s", m->name, m->version, e.msg);
        else
            encode(en, &r, y, resp);
    }
    free(y);
    free(r.x);
    json_decref(root); /* r.id points into root: freed last */
}
