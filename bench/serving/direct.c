/* direct.c — bench/serving's helper (bench_serve_direct):
 *
 *   bench_serve_direct rate MODEL CSV ROWS THREADS SECONDS
 *       the limit for batch serving: THREADS threads each predicting batches of
 *       ROWS rows (taken in turn from the CSV's feature columns) through the
 *       XGBoost C API directly — in-place prediction from dense floats through a
 *       reused proxy DMatrix, nthread=1, as the serving runtime calls it, with no
 *       JSON and no HTTP. Prints "rows_per_s N".
 *   bench_serve_direct body CSV ROWS OUT
 *       writes an Open Inference Protocol request of ROWS rows (cycling over the
 *       CSV's rows, values as the CSV writes them) to OUT, for wrk.
 *   bench_serve_direct binbody CSV ROWS OUT
 *       the same rows as a request of the binary tensor data extension, as
 *       Triton's HTTP client sends it by default: a JSON inference header, then
 *       the rows as little-endian FP32, and the output asked for as binary data
 *       ("binary_data_output"). Prints the header's length (the value of
 *       Inference-Header-Content-Length).
 *
 * The CSV is read with mlplane's own reader (a label column, when present,
 * is left out: the model's feature count decides). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "ml/ml_int.h"

static const char CONFIG[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
                             "\"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}";

typedef struct worker {
    BoosterHandle h;
    const float *x; /* the batch: rows * nfeat */
    size_t rows, nfeat;
    int64_t until_ms;
    size_t done;    /* rows predicted */
    int failed;
} worker;

static void *run(void *arg) {
    worker *w = arg;
    DMatrixHandle proxy;
    if (XGProxyDMatrixCreate(&proxy) != 0) {
        w->failed = 1;
        return NULL;
    }
    char iface[192];
    snprintf(iface, sizeof iface, "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", \"version\": 3}",
             (unsigned long long)(uintptr_t)w->x, w->rows, w->nfeat);
    float *out = malloc(w->rows * sizeof *out);
    while (mp_mono_ms() < w->until_ms) {
        const bst_ulong *shape;
        bst_ulong dim;
        const float *res;
        if (XGBoosterPredictFromDense(w->h, iface, CONFIG, proxy, &shape, &dim, &res) != 0) {
            w->failed = 1;
            break;
        }
        memcpy(out, res, w->rows * sizeof *out); /* as the runtime does */
        w->done += w->rows;
    }
    free(out);
    XGDMatrixFree(proxy);
    return NULL;
}

/* Rows of the CSV's first nfeat columns, cycled to n rows. */
static float *batch(const ml_table *t, size_t nfeat, size_t n) {
    float *x = malloc(n * nfeat * sizeof *x);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nfeat; j++) x[i * nfeat + j] = (float)t->x[(i % t->nrows) * t->nfeat + j];
    return x;
}

static int cmd_rate(char **argv) {
    size_t rows = strtoul(argv[4], NULL, 10);
    int threads = atoi(argv[5]);
    double secs = atof(argv[6]);
    ml_table t;
    mp_err e = {0};
    if (ml_csv_read_opts(argv[3], false, &t, NULL, &e) != 0) {
        fprintf(stderr, "bench_serve_direct: %s\n", e.msg);
        return 1;
    }
    BoosterHandle h;
    bst_ulong nfeat = 0;
    if (XGBoosterCreate(NULL, 0, &h) != 0 || XGBoosterLoadModel(h, argv[2]) != 0 ||
        XGBoosterSetParam(h, "nthread", "1") != 0 || XGBoosterGetNumFeature(h, &nfeat) != 0 || nfeat > t.nfeat) {
        fprintf(stderr, "bench_serve_direct: cannot load %s: %s\n", argv[2], XGBGetLastError());
        return 1;
    }
    float *x = batch(&t, nfeat, rows);
    worker *w = calloc((size_t)threads, sizeof *w);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    int64_t start = mp_mono_ms();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){.h = h, .x = x, .rows = rows, .nfeat = nfeat, .until_ms = start + (int64_t)(secs * 1000)};
        pthread_create(&tid[i], NULL, run, &w[i]);
    }
    size_t done = 0;
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        done += w[i].done;
        failed |= w[i].failed;
    }
    double elapsed = (double)(mp_mono_ms() - start) / 1000.0;
    if (failed) fprintf(stderr, "bench_serve_direct: predict failed: %s\n", XGBGetLastError());
    else printf("rows_per_s %.0f\n", (double)done / elapsed);
    free(x);
    free(w);
    free(tid);
    XGBoosterFree(h);
    ml_table_free(&t);
    return failed;
}

static int cmd_body(char **argv) {
    size_t rows = strtoul(argv[3], NULL, 10);
    ml_table t;
    mp_err e = {0};
    if (ml_csv_read(argv[2], &t, NULL, &e) != 0) {
        fprintf(stderr, "bench_serve_direct: %s\n", e.msg);
        return 1;
    }
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "{\"id\":\"batch-%zu\",\"inputs\":[{\"name\":\"input-0\",\"shape\":[%zu,%zu],\"datatype\":\"FP32\",\"data\":[",
                  rows, rows, t.nfeat);
    for (size_t i = 0; i < rows; i++) {
        /* the row's text as read: "f0,f1,...,label"; drop the label */
        const char *row = t.rows.v[i % t.nrows];
        const char *last = strrchr(row, ',');
        mp_buf_printf(&b, "%s%.*s", i ? "," : "", (int)(last - row), row);
    }
    mp_buf_puts(&b, "]}]}");
    int rc = mp_write_file_atomic(argv[4], b.data, b.len, &e);
    if (rc) fprintf(stderr, "bench_serve_direct: %s\n", e.msg);
    mp_buf_free(&b);
    ml_table_free(&t);
    return rc ? 1 : 0;
}

static int cmd_binbody(char **argv) {
    size_t rows = strtoul(argv[3], NULL, 10);
    ml_table t;
    mp_err e = {0};
    if (ml_csv_read(argv[2], &t, NULL, &e) != 0) {
        fprintf(stderr, "bench_serve_direct: %s\n", e.msg);
        return 1;
    }
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "{\"id\":\"batch-%zu\",\"parameters\":{\"binary_data_output\":true},\"inputs\":[{\"name\":\"input-0\","
                      "\"shape\":[%zu,%zu],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":%zu}}]}",
                  rows, rows, t.nfeat, rows * t.nfeat * 4);
    size_t header = b.len;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < t.nfeat; j++) {
            float f = (float)t.x[(i % t.nrows) * t.nfeat + j];
            uint32_t u;
            memcpy(&u, &f, sizeof u);
            unsigned char c[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
            mp_buf_append(&b, c, sizeof c);
        }
    int rc = mp_write_file_atomic(argv[4], b.data, b.len, &e);
    if (rc) fprintf(stderr, "bench_serve_direct: %s\n", e.msg);
    else printf("%zu\n", header);
    mp_buf_free(&b);
    ml_table_free(&t);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 7 && strcmp(argv[1], "rate") == 0) return cmd_rate(argv);
    if (argc == 5 && strcmp(argv[1], "body") == 0) return cmd_body(argv);
    if (argc == 5 && strcmp(argv[1], "binbody") == 0) return cmd_binbody(argv);
    fprintf(stderr, "usage: bench_serve_direct rate MODEL CSV ROWS THREADS SECONDS\n"
                    "       bench_serve_direct body CSV ROWS OUT\n"
                    "       bench_serve_direct binbody CSV ROWS OUT\n");
    return 2;
}
