/* runtime_xgb.c — the XGBoost serving runtime (serve_runtime_xgboost): JSON and
 * UBJSON model files through the XGBoost C API (libxgboost 1.7).
 *
 * The fast call path (measured in the serving peers' anchors): in-place
 * prediction from a dense float array, XGBoosterPredictFromDense, through a
 * proxy DMatrix that is made once per thread and reused (it only points at the
 * caller's rows), with nthread=1: parallelism comes from the server's worker
 * threads, not from XGBoost's OpenMP. A batch of rows is one call.
 *
 * Threads: load and unload run on one thread, with no predict in flight.
 * predict runs on any number of threads at once: the booster is only read
 * (XGBoost keeps each thread's prediction buffer in thread-local storage, so
 * the result pointer is this thread's until its next call, and is copied out
 * at once); each thread's proxy DMatrix is its own, kept in a pthread-specific
 * slot and listed under mu so that unload frees every one. */
#include "serve/serve.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "ml/ml.h"

typedef struct xgb_state {
    BoosterHandle h;
    size_t nfeat, nout;
    pthread_key_t key;      /* per thread: its proxy DMatrix */
    pthread_mutex_t mu;     /* guards proxies */
    DMatrixHandle *proxies;
    size_t nproxies;
} xgb_state;

/* XGBoost 1.7's in-place prediction needs every one of these keys: plain
 * predictions (type 0: probabilities for logistic objectives), all trees, NaN
 * as the missing value, and the natural shape ([rows] or [rows, k]). */
static const char PREDICT_CONFIG[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
                                     "\"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}";

static bool xgb_accepts(const char *path) {
    return mp_str_ends(path, ".json") || mp_str_ends(path, ".ubj");
}

static DMatrixHandle thread_proxy(xgb_state *st, mp_err *e) {
    DMatrixHandle p = pthread_getspecific(st->key);
    if (p) return p;
    if (XGProxyDMatrixCreate(&p) != 0) {
        ml_xgb_error(e, "create a proxy matrix");
        return NULL;
    }
    pthread_setspecific(st->key, p);
    pthread_mutex_lock(&st->mu);
    st->proxies = mp_xrealloc(st->proxies, (st->nproxies + 1) * sizeof *st->proxies);
    st->proxies[st->nproxies++] = p;
    pthread_mutex_unlock(&st->mu);
    return p;
}

/* One call into XGBoost: *res (XGBoost's, this thread's) holds *nres values. */
static int predict_raw(xgb_state *st, const float *x, size_t nrows, const float **res, size_t *nres, mp_err *e) {
    DMatrixHandle proxy = thread_proxy(st, e);
    if (!proxy) return MP_EIO;
    char iface[192];
    snprintf(iface, sizeof iface,
             "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", \"version\": 3}",
             (unsigned long long)(uintptr_t)x, nrows, st->nfeat);
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    if (XGBoosterPredictFromDense(st->h, iface, PREDICT_CONFIG, proxy, &shape, &dim, res) != 0)
        return ml_xgb_error(e, "predict");
    size_t n = 1;
    for (bst_ulong i = 0; i < dim; i++) n *= (size_t)shape[i];
    if (dim < 1 || dim > 2 || shape[0] != nrows)
        return mp_err_set(e, MP_EINTERNAL, "XGBoost returned predictions of an unexpected shape (%llu dimensions)",
                          (unsigned long long)dim);
    *nres = n;
    return 0;
}

static void xgb_unload(void *state) {
    xgb_state *st = state;
    if (!st) return;
    for (size_t i = 0; i < st->nproxies; i++) XGDMatrixFree(st->proxies[i]);
    free(st->proxies);
    pthread_key_delete(st->key);
    pthread_mutex_destroy(&st->mu);
    if (st->h) XGBoosterFree(st->h);
    free(st);
}

static int xgb_load(const char *path, void **state, serve_model_meta *meta, mp_err *e) {
    *state = NULL;
    if (!mp_path_exists(path)) return mp_err_set(e, MP_ENOENT, "model file %s does not exist", path);
    if (mp_is_dir(path)) return mp_err_set(e, MP_EINVAL, "model file %s is a directory", path);
    xgb_state *st = mp_xcalloc(1, sizeof *st);
    pthread_mutex_init(&st->mu, NULL);
    pthread_key_create(&st->key, NULL);
    int rc = 0;
    bst_ulong nfeat = 0;
    char what[512];
    snprintf(what, sizeof what, "load the model %.400s", path);
    if (XGBoosterCreate(NULL, 0, &st->h) != 0) {
        rc = ml_xgb_error(e, "create a booster");
    } else if (XGBoosterLoadModel(st->h, path) != 0) {
        ml_xgb_error(e, what); /* not a model XGBoost reads: the file's fault */
        rc = MP_EINVAL;
        if (e) e->code = rc;
    } else if (XGBoosterSetParam(st->h, "nthread", "1") != 0) {
        rc = ml_xgb_error(e, "set nthread=1");
    } else if (XGBoosterGetNumFeature(st->h, &nfeat) != 0) {
        rc = ml_xgb_error(e, "read the model's feature count");
    }
    if (rc == 0 && nfeat == 0) rc = mp_err_set(e, MP_EINVAL, "model %s takes no features", path);
    if (rc == 0) {
        /* The output's width is learned from one prediction of a row of zeros. */
        st->nfeat = (size_t)nfeat;
        float *zero = mp_xcalloc(st->nfeat, sizeof *zero);
        const float *res = NULL;
        size_t n = 0;
        rc = predict_raw(st, zero, 1, &res, &n, e);
        free(zero);
        if (rc == 0 && n == 0) rc = mp_err_set(e, MP_EINVAL, "model %s predicts nothing", path);
        st->nout = n;
    }
    if (rc != 0) {
        xgb_unload(st);
        return rc;
    }
    meta->nfeatures = st->nfeat;
    meta->noutputs = st->nout;
    snprintf(meta->platform, sizeof meta->platform, "xgboost_%s", mp_str_ends(path, ".ubj") ? "ubj" : "json");
    *state = st;
    return 0;
}

static int xgb_predict(void *state, const float *x, size_t nrows, float *out, mp_err *e) {
    xgb_state *st = state;
    if (nrows == 0) return 0;
    const float *res = NULL;
    size_t n = 0;
    int rc = predict_raw(st, x, nrows, &res, &n, e);
    if (rc) return rc;
    if (n != nrows * st->nout)
        return mp_err_set(e, MP_EINTERNAL, "XGBoost returned %zu values for %zu rows of %zu outputs", n, nrows, st->nout);
    memcpy(out, res, n * sizeof *out);
    return 0;
}

/* The model as XGBoost writes it (XGBoosterSaveModelToBuffer): JSON or UBJSON. */
static int xgb_save(void *state, const char *format, mp_buf *out, mp_err *e) {
    xgb_state *st = state;
    if (strcmp(format, "json") != 0 && strcmp(format, "ubj") != 0)
        return mp_err_set(e, MP_EINVAL, "XGBoost writes models as json or ubj, not %s", format);
    char config[64];
    snprintf(config, sizeof config, "{\"format\": \"%s\"}", format);
    bst_ulong len = 0;
    const char *buf = NULL;
    if (XGBoosterSaveModelToBuffer(st->h, config, &len, &buf) != 0) return ml_xgb_error(e, "write the model");
    mp_buf_append(out, buf, (size_t)len); /* XGBoost's buffer, valid until its next call on the booster */
    return 0;
}

const serve_runtime serve_runtime_xgboost = {
    .name = "xgboost",
    .accepts = xgb_accepts,
    .load = xgb_load,
    .predict = xgb_predict,
    .unload = xgb_unload,
    .save = xgb_save,
};
