/* serve.h — model serving over the Open Inference Protocol v2 (OIP, KServe's
 * "V2 inference protocol"), REST side.
 *
 * Three layers, each usable without the one above it:
 *   1. runtimes (serve_runtime): a struct of function pointers that loads a
 *      model file and predicts rows of floats; runtime_xgb.c implements it
 *      over the XGBoost C API. A model file is given to the first runtime that
 *      accepts its name.
 *   2. models (serve_model): a loaded model with the name and version it is
 *      served under and the metadata derived from it (input and output tensor
 *      shapes). serve_ref_resolve turns what a user names (a file, a folder,
 *      models:/NAME/VERSION, models:/NAME@ALIAS) into a file, a name and a
 *      version, through the registry of the home's store.
 *   3. the protocol (serve_oip): a function from a request (method, path,
 *      body: util/http.h's mp_http_req) to a response (status, body, headers),
 *      independent of any HTTP server. `mlplane serve` runs it behind the HTTP
 *      engine of util/http.h (serve_http_start); a router can call it directly.
 *
 * Errors follow util.h (int status + mp_err). Threads: a serve_model and a
 * serve_oip are built on one thread, then only read; serve_oip_handle and
 * every runtime's predict may run on many threads at once. Nothing here calls
 * up into cli or api. */
#ifndef MLPLANE_SERVE_H
#define MLPLANE_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/http.h"
#include "util/util.h"

/* ---- runtimes ---------------------------------------------------------------------- */

/* What a runtime learns from a model file. */
typedef struct serve_model_meta {
    size_t nfeatures;  /* values per input row */
    size_t noutputs;   /* values per output row: 1, or e.g. the class count */
    char platform[32]; /* OIP's "<project>_<format>", e.g. "xgboost_json" */
} serve_model_meta;

typedef struct serve_runtime {
    const char *name; /* "xgboost" */
    /* Whether this runtime reads the model file at path (judged by its name). Pure. */
    bool (*accepts)(const char *path);
    /* Loads the model at path into *state (freed with unload) and fills meta.
     * MP_ENOENT when the file is missing, MP_EINVAL when it is not a model this
     * runtime reads. */
    int (*load)(const char *path, void **state, serve_model_meta *meta, mp_err *e);
    /* Predicts nrows rows of meta.nfeatures floats each (row-major; NaN is a
     * missing value) into out (nrows * meta.noutputs floats, caller-owned).
     * Safe on many threads at once; one call is one call into the library,
     * however many rows. MP_EIO on a library failure. */
    int (*predict)(void *state, const float *x, size_t nrows, float *out, mp_err *e);
    /* Frees the state; no predict may run any more. */
    void (*unload)(void *state);
} serve_runtime;

/* The XGBoost runtime (runtime_xgb.c): JSON (.json) and UBJSON (.ubj) model
 * files through the XGBoost C API; predictions are XGBoost's default output
 * (probabilities for binary:logistic and multi:softprob). */
extern const serve_runtime serve_runtime_xgboost;

/* The runtime that accepts path, or NULL. Pure. */
const serve_runtime *serve_runtime_for(const char *path);

/* ---- models ------------------------------------------------------------------------ */

typedef struct serve_model {
    char *name;     /* served under this name */
    char *version;  /* and this version: a registry version number, or for a file
                       the first 12 hex digits of its SHA-256 */
    char *path;     /* the model file */
    const serve_runtime *rt;
    void *state;    /* the runtime's */
    serve_model_meta meta;
    char input_name[32];  /* "input-0" */
    char output_name[32]; /* "predict" */
} serve_model;

/* Loads the model file at path with the runtime that accepts it; name and
 * version are copied. *out is freed with serve_model_free. MP_EINVAL when no
 * runtime reads such a file, or the runtime's error. */
int serve_model_load(const char *path, const char *name, const char *version, serve_model **out, mp_err *e);
void serve_model_free(serve_model *m);

/* What a user names, resolved. All heap strings, freed with serve_ref_free. */
typedef struct serve_ref {
    char *path;    /* the model file */
    char *name;    /* the registered model's name, else the file's name without extension */
    char *version; /* the registry version number, else the file's digest (see serve_model) */
} serve_ref;

/* Resolves ref: "models:/NAME/VERSION" or "models:/NAME@ALIAS" through the
 * registry of the store of home (the version's source: a local path or a
 * file:// URI, a model file or a folder holding one), else a path to a model
 * file or to a folder holding exactly one file a runtime reads (model.* is
 * preferred). MP_EINVAL for a malformed reference, MP_ENOENT for an unknown
 * model, version, alias or file. home may be NULL when ref is a path. */
int serve_ref_resolve(const char *ref, const char *home, serve_ref *out, mp_err *e);
void serve_ref_free(serve_ref *r);

/* ---- the protocol -------------------------------------------------------------------- */

typedef struct serve_oip serve_oip;

/* A protocol layer serving no model yet. Freed with serve_oip_free. */
serve_oip *serve_oip_new(void);
/* Serves m (taken: freed with o). MP_EEXIST when o serves that name and
 * version already. Call before requests are handled: the table is not locked. */
int serve_oip_add(serve_oip *o, serve_model *m, mp_err *e);
/* Marks the server ready or not (e.g. not while draining); /v2/health/ready and
 * the models' ready endpoints answer from it. Safe on any thread. */
void serve_oip_set_ready(serve_oip *o, bool ready);
void serve_oip_free(serve_oip *o);

/* Answers one OIP v2 REST request: GET /v2, /v2/health/live, /v2/health/ready,
 * /v2/models/NAME[/versions/V][/ready]; POST /v2/models/NAME[/versions/V]/infer,
 * with JSON tensor data or the binary tensor data extension (a JSON inference
 * header of Inference-Header-Content-Length bytes, then the tensors' raw bytes).
 * Only req->method, path, body, body_len and headers are read. Errors are
 * {"error": "..."} with 400 (bad request), 404 (unknown path, model or
 * version), 405 (with Allow), 500 (runtime failure). An infer response carries
 * the X-Model-Version header, and when it holds binary outputs,
 * Inference-Header-Content-Length and Content-Type application/octet-stream.
 * Reentrant. */
void serve_oip_handle(serve_oip *o, const mp_http_req *req, mp_http_resp *resp);

/* Fills resp with OIP's error body {"error": msg} and status. */
void serve_oip_error(mp_http_resp *resp, int status, const char *fmt, ...) MP_PRINTF(3, 4);

/* Runs o behind the HTTP engine with the listen address, threads and limits of
 * opts (its handler, error and cls are set here). Stop with mp_httpd_stop
 * before freeing o. */
int serve_http_start(serve_oip *o, const mp_httpd_opts *opts, mp_httpd **out, mp_err *e);

#endif
