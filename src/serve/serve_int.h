/* serve_int.h — internals shared by oip.c (routing, metadata, health,
 * metrics), infer.c (the inference request and response), tensor.c (datatypes
 * and element conversion), and metrics.c (the request counts a single server
 * and a router both show). Not a public header. */
#ifndef MLPLANE_SERVE_INT_H
#define MLPLANE_SERVE_INT_H

#include <assert.h>
#include <jansson.h>
#include <stdatomic.h>

#include "serve/serve.h"
#include "util/prom.h"

/* ---- request counts (metrics.c) -------------------------------------------------------
 * What GET /metrics shows of the requests answered, by model version: the same
 * families for a single `mlplane serve` (oip.c) and a router (router.c):
 *   mlplane_serve_requests_total{version,code}        counter
 *   mlplane_serve_request_duration_seconds{version}   histogram
 * Only atomics: many threads count at once, any thread renders. */

#define SERVE__NCODES 600 /* status codes counted: 0..599 */

typedef struct serve__reqstats {
    atomic_ullong codes[SERVE__NCODES];
    mp_prom_hist duration; /* mlplane_serve_request_duration_seconds (util/prom.h's buckets) */
    atomic_int inflight; /* a single server's requests being answered (a router counts per replica) */
} serve__reqstats;

/* Counts one answered request: its status and its duration. */
void serve__reqstats_observe(serve__reqstats *s, int status, int64_t us);
/* Appends the two families above for n series, versions[i] counted in
 * stats[i], each with its HELP text. */
void serve__reqstats_render(mp_buf *out, size_t n, const char *const *versions, serve__reqstats *const *stats,
                            const char *help_requests, const char *help_duration);

/* A served model with its name and version encoded once as JSON strings. */
typedef struct serve__entry {
    serve_model *m;
    char *name_json;    /* "\"breast-cancer\"" (heap) */
    char *version_json; /* "\"1\"" (heap) */
    serve__reqstats *stats; /* its requests, for GET /metrics (heap) */
} serve__entry;

/* A heap JSON string literal (quotes and escapes) of s. */
char *serve__json_string(const char *s);

/* Answers POST .../infer for entry en: decodes the body (JSON, or a JSON
 * inference header and binary tensor data when the request has the
 * Inference-Header-Content-Length header), predicts the rows in one runtime
 * call and encodes the response (or a 400/500 error). Reentrant. Returns true
 * when the answer is deferred (a batch, below): its finish then counts it in
 * en->stats as serve__answered does, with t0_us as its arrival. */
bool serve__infer(const serve__entry *en, const mp_http_req *req, mp_http_resp *resp, int64_t t0_us);
/* A request counted in en->stats (inflight) was answered with status (0: the
 * client went away first, only inflight is counted down), t0_us being its
 * arrival on the monotonic µs clock. */
void serve__answered(const serve__entry *en, int status, int64_t t0_us);

/* ---- micro-batching (batch.c) -----------------------------------------------------------
 * Behind an engine with a loop hook (serve_http_start), an inference request
 * of at most SERVE__BATCH_DEFER rows is decoded on its worker thread, then
 * its prediction waits in that thread's batch while the thread reads the
 * other requests that arrived in the same round; the hook then predicts the
 * whole batch in one runtime call per model and resumes each request, whose
 * answer is encoded and sent in the next round. Nothing waits on a timer: a
 * lone request is a batch of one, predicted as soon as its round ends. */

#define SERVE__BATCH_DEFER 64 /* rows of a request that may join a batch */
#define SERVE__BATCH_ROWS 256 /* rows of one runtime call, at most */

/* A prediction waiting in its thread's batch. Owned by the caller (the
 * request's state), which keeps x and y alive until the request is resumed. */
typedef struct serve__pending {
    const serve_model *m;
    const float *x;        /* rows * m->meta.nfeatures */
    size_t rows;           /* 1..SERVE__BATCH_DEFER */
    float *y;              /* rows * m->meta.noutputs: filled by the batch */
    int rc;                /* the runtime's status for the batch; 0: y holds the prediction */
    char *why;             /* when rc != 0: the runtime's message (heap, the owner frees it) */
    mp_httpd_later *later; /* resumed once y or rc is set */
    struct serve__pending *next;
} serve__pending;

/* Queues p (later set) on the calling thread's batch. */
void serve__batch_add(serve__pending *p);
/* The engine's loop hook: predicts every prediction queued on the calling
 * thread, consecutive ones of a model together (up to SERVE__BATCH_ROWS
 * rows a call), and resumes each request. */
void serve__batch_flush(void *cls);
/* Runtime calls the batches made, and the requests they answered, since the
 * process started (every thread). */
void serve__batch_counts(unsigned long long *calls, unsigned long long *requests);

/* ---- tensors (tensor.c) ---------------------------------------------------------------- */

typedef enum serve__dt_kind {
    SERVE__DT_FLOAT, /* FP32, FP64 */
    SERVE__DT_INT,   /* INT8..INT64 */
    SERVE__DT_UINT,  /* UINT8..UINT64 */
    SERVE__DT_BOOL,
    SERVE__DT_HALF,  /* FP16: binary data only */
    SERVE__DT_BF16,  /* binary data only */
    SERVE__DT_BYTES, /* length-prefixed strings: never a model's numeric input */
} serve__dt_kind;

/* An OIP datatype. */
typedef struct serve__dtype {
    const char *name; /* "FP32" */
    serve__dt_kind kind;
    size_t size;      /* bytes per element in binary data; 0 for BYTES */
    long long lo, hi; /* integer kinds: the range of a JSON value */
} serve__dtype;

/* The datatype named name (the protocol's spelling), or NULL. Pure. */
const serve__dtype *serve__dtype_find(const char *name);
/* Whether elements of dt may come as JSON values (FP16, BF16 and BYTES may not). */
bool serve__dtype_json(const serve__dtype *dt);

/* Converts the JSON value v, an element of datatype dt (serve__dtype_json),
 * into *out; false with why (e.g. "is a string; FP32 data are numbers") when
 * it is the wrong kind of value or out of range. */
bool serve__json_elem(const json_t *v, const serve__dtype *dt, float *out, char *why, size_t n);

/* Converts count elements of dt (size > 0) packed little-endian at p
 * (count * dt->size bytes, any alignment) into out; false with *bad the
 * index of the first element the model cannot take and why. */
bool serve__binary_elems(const unsigned char *p, size_t count, const serve__dtype *dt, float *out, size_t *bad, char *why,
                         size_t n);

/* Appends the n floats of x to b as little-endian FP32 bytes. */
void serve__put_floats_le(mp_buf *b, const float *x, size_t n);

#endif
