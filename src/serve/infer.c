/* infer.c — the inference request and response of the Open Inference Protocol
 * v2 (REST), with the binary tensor data extension (as Triton and KServe
 * define it):
 *
 *   request  {"id"?, "parameters"?: {"binary_data_output"?}, "inputs": [{"name",
 *             "shape", "datatype", "parameters"?: {"binary_data_size"?}, "data"?}],
 *             "outputs"?: [{"name", "parameters"?: {"binary_data"?}}]}
 *   response {"model_name", "model_version", "id"? (echoed), "outputs":
 *             [{"name", "datatype", "shape", "data" | "parameters":
 *             {"binary_data_size"}}]}
 *
 * Body layout. Without the Inference-Header-Content-Length header the body is
 * the JSON request. With it (N), the first N bytes are the JSON request (the
 * "inference header") and the rest is the raw data of the inputs that say
 * "binary_data_size", one after the other in input order, each exactly that
 * many bytes, which must be the shape's element count times the datatype's
 * size; nothing may be left over. A response with binary outputs is laid out
 * the same way (Inference-Header-Content-Length, Content-Type
 * application/octet-stream); an output is binary when its "binary_data" says
 * so, else when the request's "binary_data_output" does.
 *
 * The JSON is parsed once with jansson; the input tensor is checked against the
 * model (its one input, the feature count) and converted (tensor.c), element
 * by element, into one row-major float matrix, which the runtime predicts in
 * one call. JSON data may be flat (row-major) or nested as the shape says
 * ([[row], [row]]). Every problem is a 400 whose message names the field and
 * what was expected. The response is written straight into the body buffer
 * (JSON floats as %.9g, which carries an FP32 value exactly).
 *
 * Behind an engine that can defer answers (serve_http_start), a request of at
 * most SERVE__BATCH_DEFER rows is not predicted here: its rows, with what its
 * answer needs, go into one heap block (a deferred, owned by the engine's
 * finish from then on), which joins the worker thread's batch (batch.c); the
 * finish encodes the answer once the batch was predicted. Otherwise (bigger
 * requests, or a caller without an engine) a request of a few rows needs no
 * heap memory of its own beyond jansson's. Reentrant: nothing is shared
 * between calls but the calling thread's batch. */
#include "serve/serve_int.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_LEN "Inference-Header-Content-Length"
#define SMALL 256 /* floats held in the request itself: a few rows */

/* ---- the request ------------------------------------------------------------------------ */

typedef struct infer_req {
    const char *id;      /* NULL when the request has none */
    size_t rows;
    float *x;            /* rows * nfeatures: small_x or heap */
    bool binary_out;     /* the output goes back as binary data */
    bool has_header;     /* Inference-Header-Content-Length was given */
    size_t header_len;   /* the JSON's length: the header's value, else the body's */
    const unsigned char *bin; /* the bytes after the JSON inference header */
    size_t bin_len, bin_used; /* how many, and how many the inputs took */
    float small_x[SMALL];
} infer_req;

static float *rows_alloc(infer_req *r, size_t n) {
    r->x = n <= SMALL ? r->small_x : mp_xmalloc(n * sizeof *r->x);
    return r->x;
}

/* Reads Inference-Header-Content-Length: digits only, within the body. */
static bool split_body(const mp_http_req *req, infer_req *r, mp_http_resp *resp) {
    const char *h = mp_http_req_header(req, HEADER_LEN);
    r->header_len = req->body_len;
    if (!h) return true;
    r->has_header = true;
    char *end = NULL;
    errno = 0;
    unsigned long long n = *h >= '0' && *h <= '9' ? strtoull(h, &end, 10) : 0;
    if (!end || *end || errno) {
        serve_oip_error(resp, 400, HEADER_LEN " \"%.40s\" is not a byte count (a whole number from 1 up)", h);
        return false;
    }
    if (n == 0) {
        serve_oip_error(resp, 400, HEADER_LEN " is 0: it gives the length of the JSON inference header, which comes first in the body");
        return false;
    }
    if (n > req->body_len) {
        serve_oip_error(resp, 400, HEADER_LEN " is %llu but the body holds only %zu bytes", n, req->body_len);
        return false;
    }
    r->header_len = (size_t)n;
    r->bin = (const unsigned char *)req->body + n;
    r->bin_len = req->body_len - (size_t)n;
    return true;
}

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

/* Converts JSON data (flat, or nested as [rows][features]) into r->x. */
static bool take_json_data(const serve_model *m, const json_t *data, const serve__dtype *dt, bool batched, infer_req *r,
                           mp_http_resp *resp) {
    const char *in = m->input_name;
    size_t f = m->meta.nfeatures, n = json_array_size(data);
    char why[160];
    if (!serve__dtype_json(dt)) {
        serve_oip_error(resp, 400, "input %s: %s data cannot be JSON values; send them as binary tensor data (\"binary_data_size\")%s",
                        in, dt->name, dt->kind == SERVE__DT_BYTES ? ", though BYTES cannot be the model's numeric input either" : "");
        return false;
    }
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
    float *x = rows_alloc(r, r->rows * f);
    if (!nested) {
        for (size_t i = 0; i < n; i++)
            if (!serve__json_elem(json_array_get(data, i), dt, &x[i], why, sizeof why)) {
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
            if (!serve__json_elem(json_array_get(row, j), dt, &x[i * f + j], why, sizeof why)) {
                serve_oip_error(resp, 400, "input %s: data[%zu][%zu] %s", in, i, j, why);
                return false;
            }
    }
    return true;
}

/* Takes the input's binary_data_size bytes, the next ones after the JSON
 * inference header, and converts them into r->x. */
static bool take_binary_data(const serve_model *m, const json_t *size, const serve__dtype *dt, infer_req *r,
                             mp_http_resp *resp) {
    const char *in = m->input_name;
    size_t f = m->meta.nfeatures;
    if (!json_is_integer(size) || json_integer_value(size) < 0) {
        serve_oip_error(resp, 400, "input %s: \"binary_data_size\" must be a whole number of bytes from 0 up", in);
        return false;
    }
    if (!r->has_header) {
        serve_oip_error(resp, 400, "input %s has \"binary_data_size\" but the request has no " HEADER_LEN
                        " header to say where the JSON inference header ends and the binary data begin", in);
        return false;
    }
    if (dt->kind == SERVE__DT_BYTES) {
        serve_oip_error(resp, 400, "input %s: BYTES (length-prefixed strings) cannot be the model's numeric input; use FP32, FP64, FP16, BF16, an integer datatype or BOOL",
                        in);
        return false;
    }
    unsigned long long said = (unsigned long long)json_integer_value(size);
    size_t count = r->rows * f;
    bool overflow = r->rows > SIZE_MAX / f || count > SIZE_MAX / dt->size;
    if (overflow || said != (unsigned long long)(count * dt->size)) {
        if (overflow)
            serve_oip_error(resp, 400, "input %s: \"binary_data_size\" is %llu but %zu rows of %zu %s features are more bytes than any body holds",
                            in, said, r->rows, f, dt->name);
        else
            serve_oip_error(resp, 400, "input %s: \"binary_data_size\" is %llu but %zu rows of %zu %s features take %zu bytes (%zu x %zu x %zu)",
                            in, said, r->rows, f, dt->name, count * dt->size, r->rows, f, dt->size);
        return false;
    }
    size_t bytes = count * dt->size;
    if (bytes > r->bin_len - r->bin_used) {
        serve_oip_error(resp, 400, "input %s: \"binary_data_size\" is %zu but only %zu bytes of binary data follow the %zu-byte JSON inference header (%s)",
                        in, bytes, r->bin_len - r->bin_used, r->header_len,
                        r->bin_used ? "after the earlier inputs' data" : "the body is cut short");
        return false;
    }
    const unsigned char *p = r->bin + r->bin_used;
    r->bin_used += bytes;
    float *x = rows_alloc(r, count);
    size_t bad = 0;
    char why[160];
    if (!serve__binary_elems(p, count, dt, x, &bad, why, sizeof why)) {
        serve_oip_error(resp, 400, "input %s: element %zu (row %zu, feature %zu) of the binary data %s", in, bad, bad / f, bad % f, why);
        return false;
    }
    return true;
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
    const json_t *bsize = json_is_object(params) ? json_object_get(params, "binary_data_size") : NULL;
    const char *missing = !name ? "name" : !shape ? "shape" : !dtn ? "datatype" : !data && !bsize ? "data" : NULL;
    if (missing) {
        serve_oip_error(resp, 400, "\"inputs\"[0] has no \"%s\" (an input is {\"name\", \"shape\", \"datatype\", \"data\"}, "
                        "or \"parameters\": {\"binary_data_size\"} instead of \"data\")", missing);
        return false;
    }
    if (!json_is_string(name) || strcmp(json_string_value(name), in) != 0) {
        serve_oip_error(resp, 400, "unknown input %s%s%s: model %s takes one input, %s", json_is_string(name) ? "\"" : "",
                        json_is_string(name) ? json_string_value(name) : "(not a string)", json_is_string(name) ? "\"" : "",
                        m->name, in);
        return false;
    }
    if (params && !json_is_object(params)) {
        serve_oip_error(resp, 400, "input %s: \"parameters\" must be an object", in);
        return false;
    }
    if (data && bsize) {
        serve_oip_error(resp, 400, "input %s has both \"data\" and \"binary_data_size\": its values come one way or the other", in);
        return false;
    }
    if (!json_is_string(dtn)) {
        serve_oip_error(resp, 400, "input %s: \"datatype\" must be a string such as \"FP32\"", in);
        return false;
    }
    const serve__dtype *dt = serve__dtype_find(json_string_value(dtn));
    if (!dt) {
        serve_oip_error(resp, 400, "input %s: unknown datatype \"%s\"; use FP32, FP64, INT8..INT64, UINT8..UINT64 or BOOL (FP16 and BF16 as binary data)",
                        in, json_string_value(dtn));
        return false;
    }
    bool batched = false;
    if (!check_shape(m, shape, &r->rows, &batched, resp)) return false;
    return bsize ? take_binary_data(m, bsize, dt, r, resp) : take_json_data(m, data, dt, batched, r, resp);
}

/* A boolean parameter: *out keeps its value when the parameter is absent. */
static bool bool_param(const json_t *params, const char *key, bool *out, const char *where, mp_http_resp *resp) {
    const json_t *v = json_object_get(params, key);
    if (!v) return true;
    if (!json_is_boolean(v)) {
        serve_oip_error(resp, 400, "%s: \"%s\" must be true or false", where, key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

/* Checks the requested outputs (each must name the model's output) and whether
 * the output goes back as binary data. */
static bool check_outputs(const serve_model *m, const json_t *root, infer_req *r, mp_http_resp *resp) {
    const json_t *outs = json_object_get(root, "outputs");
    r->binary_out = false;
    if (!bool_param(json_object_get(root, "parameters"), "binary_data_output", &r->binary_out, "\"parameters\"", resp))
        return false;
    if (!outs) return true;
    if (!json_is_array(outs)) {
        serve_oip_error(resp, 400, "\"outputs\" must be an array of {\"name\"}");
        return false;
    }
    bool all = r->binary_out;
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
        if (params && !json_is_object(params)) {
            serve_oip_error(resp, 400, "\"outputs\"[%zu]: \"parameters\" must be an object", i);
            return false;
        }
        bool bin = all;
        char where[48];
        snprintf(where, sizeof where, "output %s", m->output_name);
        if (!bool_param(params, "binary_data", &bin, where, resp)) return false;
        r->binary_out = bin;
    }
    return true;
}

/* Decodes and checks the whole request into r. */
static bool take_request(const serve_model *m, const json_t *root, infer_req *r, mp_http_resp *resp) {
    if (!json_is_object(root)) {
        serve_oip_error(resp, 400, "the request body must be a JSON object with \"inputs\"");
        return false;
    }
    const json_t *id = json_object_get(root, "id"), *inputs = json_object_get(root, "inputs"),
                 *params = json_object_get(root, "parameters");
    if (id && !json_is_string(id)) {
        serve_oip_error(resp, 400, "\"id\" must be a string");
        return false;
    }
    r->id = id ? json_string_value(id) : NULL;
    if (params && !json_is_object(params)) {
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
    if (!check_outputs(m, root, r, resp) || !take_input(m, json_array_get(inputs, 0), r, resp)) return false;
    if (r->bin_used != r->bin_len) {
        serve_oip_error(resp, 400, "the body holds %zu bytes of binary data after the %zu-byte JSON inference header but the inputs' "
                        "\"binary_data_size\" add up to %zu",
                        r->bin_len, r->header_len, r->bin_used);
        return false;
    }
    return true;
}

/* ---- the response ------------------------------------------------------------------------ */

/* Appends s (valid UTF-8, as jansson gives it) as a JSON string literal. */
static void put_json_string(mp_buf *b, const char *s) {
    mp_buf_putc(b, '"');
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        mp_buf_append(b, run, (size_t)(p - run));
        char esc[8];
        if (c == '"' || c == '\\') snprintf(esc, sizeof esc, "\\%c", c);
        else snprintf(esc, sizeof esc, "\\u%04x", c);
        mp_buf_puts(b, esc);
        run = p + 1;
    }
    mp_buf_puts(b, run);
    mp_buf_putc(b, '"');
}

char *serve__json_string(const char *s) {
    json_t *v = json_string(s);
    char *out = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return out ? out : mp_xstrdup("\"\"");
}

/* What the answer needs of its request. */
typedef struct infer_answer {
    const char *id;  /* NULL when the request has none */
    size_t rows;
    bool binary_out;
} infer_answer;

static bool encode(const serve__entry *en, const infer_answer *r, const float *y, mp_http_resp *resp) {
    const serve_model *m = en->m;
    size_t k = m->meta.noutputs, n = r->rows * k;
    if (!r->binary_out)
        for (size_t i = 0; i < n; i++)
            if (!isfinite(y[i])) {
                serve_oip_error(resp, 500, "model %s predicted a value that is not finite, which JSON cannot carry "
                                "(binary output can: \"binary_data\": true)", m->name);
                return false;
            }
    mp_buf *b = &resp->body;
    mp_buf_reset(b);
    mp_buf_puts(b, "{\"model_name\":");
    mp_buf_puts(b, en->name_json);
    mp_buf_puts(b, ",\"model_version\":");
    mp_buf_puts(b, en->version_json);
    if (r->id) {
        mp_buf_puts(b, ",\"id\":");
        put_json_string(b, r->id);
    }
    mp_buf_printf(b, ",\"outputs\":[{\"name\":\"%s\",\"datatype\":\"FP32\",\"shape\":[%zu", m->output_name, r->rows);
    if (k > 1) mp_buf_printf(b, ",%zu", k);
    if (r->binary_out) {
        mp_buf_printf(b, "],\"parameters\":{\"binary_data_size\":%zu}}]}", n * sizeof(float));
        char len[24];
        snprintf(len, sizeof len, "%zu", b->len);
        mp_http_header_add(resp, HEADER_LEN, len);
        mp_strlcpy(resp->content_type, "application/octet-stream", sizeof resp->content_type);
        serve__put_floats_le(b, y, n);
    } else {
        mp_buf_puts(b, "],\"data\":[");
        for (size_t i = 0; i < n; i++) {
            char num[32];
            int len = snprintf(num, sizeof num, i ? ",%.9g" : "%.9g", (double)y[i]);
            mp_buf_append(b, num, (size_t)len);
        }
        mp_buf_puts(b, "]}]}");
    }
    resp->status = 200;
    return true;
}

/* A request whose prediction waits in its thread's batch (batch.c); heap,
 * freed by its finish. */
typedef struct deferred {
    serve__pending p;        /* the batch's view; x and y point into xy */
    const serve__entry *en;
    int64_t t0_us;           /* its arrival (monotonic), for its count in en->stats */
    json_t *root;            /* the request (a.id points into it) */
    infer_answer a;
    float xy[];              /* the rows (rows * nfeatures), then the prediction (rows * noutputs) */
} deferred;

static void predicted(const serve__entry *en, const infer_answer *a, int rc, const char *why, const float *y,
                      mp_http_resp *resp) {
    const serve_model *m = en->m;
    if (rc != 0) serve_oip_error(resp, 500, "model %s version %s failed to predict: %s", m->name, m->version, why);
    else encode(en, a, y, resp);
}

/* The engine's finish of a deferred request (resp NULL: the client left). */
static void finish_deferred(void *arg, mp_http_resp *resp) {
    deferred *d = arg;
    if (resp) {
        mp_http_header_add(resp, "X-Model-Version", d->en->m->version);
        predicted(d->en, &d->a, d->p.rc, d->p.why ? d->p.why : "", d->p.y, resp);
    }
    serve__answered(d->en, resp ? resp->status : 0, d->t0_us);
    free(d->p.why);
    json_decref(d->root);
    free(d);
}

/* Queues the prediction of a small request on this thread's batch when the
 * engine can defer the answer (a copy of its rows goes with it); false when it
 * cannot: predict now. Takes root when it returns true. */
static bool defer_predict(const serve__entry *en, const mp_http_req *req, json_t *root, const infer_req *r,
                          int64_t t0_us) {
    const serve_model *m = en->m;
    if (!req->engine || r->rows == 0 || r->rows > SERVE__BATCH_DEFER) return false;
    size_t nx = r->rows * m->meta.nfeatures, ny = r->rows * m->meta.noutputs;
    deferred *d = mp_xmalloc(sizeof *d + (nx + ny) * sizeof d->xy[0]);
    memcpy(d->xy, r->x, nx * sizeof d->xy[0]);
    d->p = (serve__pending){.m = m, .x = d->xy, .rows = r->rows, .y = d->xy + nx};
    d->en = en;
    d->t0_us = t0_us;
    d->root = root;
    d->a = (infer_answer){.id = r->id, .rows = r->rows, .binary_out = r->binary_out};
    d->p.later = mp_httpd_defer(req, finish_deferred, d);
    if (!d->p.later) {
        free(d);
        return false;
    }
    serve__batch_add(&d->p);
    return true;
}

bool serve__infer(const serve__entry *en, const mp_http_req *req, mp_http_resp *resp, int64_t t0_us) {
    const serve_model *m = en->m;
    mp_http_header_add(resp, "X-Model-Version", m->version); /* on errors too: which version refused */
    infer_req r = {0};
    if (!split_body(req, &r, resp)) return false;
    if (r.header_len == 0) {
        serve_oip_error(resp, 400, "the request body is empty: an inference request is a JSON object with \"inputs\"");
        return false;
    }
    json_error_t je;
    json_t *root = json_loadb(req->body, r.header_len, JSON_DECODE_ANY, &je);
    if (!root) {
        /* a whole JSON value and then more: likely binary data sent without the header */
        json_t *head = r.has_header ? NULL : json_loadb(req->body, r.header_len, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, NULL);
        bool trailing = head != NULL;
        json_decref(head);
        serve_oip_error(resp, 400, "malformed JSON %sat line %d column %d: %s%s", r.has_header ? "inference header " : "", je.line,
                        je.column, je.text,
                        trailing ? " (to send binary tensor data after the JSON, give the " HEADER_LEN " header)" : "");
        return false;
    }
    float small_y[64];
    float *y = NULL;
    bool deferred = false;
    if (take_request(m, root, &r, resp)) {
        if (defer_predict(en, req, root, &r, t0_us)) {
            root = NULL; /* the deferred request's now */
            deferred = true;
        } else {
            mp_err e = {0};
            size_t ny = r.rows * m->meta.noutputs;
            y = ny <= sizeof small_y / sizeof small_y[0] ? small_y : mp_xmalloc(ny * sizeof *y);
            int rc = m->rt->predict(m->state, r.x, r.rows, y, &e);
            infer_answer a = {.id = r.id, .rows = r.rows, .binary_out = r.binary_out};
            predicted(en, &a, rc, e.msg, y, resp);
        }
    }
    if (y && y != small_y) free(y);
    if (r.x != r.small_x) free(r.x);
    json_decref(root); /* r.id points into root: freed last */
    return deferred;
}
