/* serve_int.h — internals shared by oip.c (routing, metadata, health), infer.c
 * (the inference request and response) and tensor.c (datatypes and element
 * conversion). Not a public header. */
#ifndef MLPLANE_SERVE_INT_H
#define MLPLANE_SERVE_INT_H

#include <assert.h>
#include <jansson.h>

#include "serve/serve.h"

/* A served model with its name and version encoded once as JSON strings. */
typedef struct serve__entry {
    serve_model *m;
    char *name_json;    /* "\"breast-cancer\"" (heap) */
    char *version_json; /* "\"1\"" (heap) */
} serve__entry;

/* A heap JSON string literal (quotes and escapes) of s. */
char *serve__json_string(const char *s);

/* Answers POST .../infer for entry en: decodes the body (JSON, or a JSON
 * inference header and binary tensor data when the request has the
 * Inference-Header-Content-Length header), predicts the rows in one runtime
 * call and encodes the response (or a 400/500 error). Reentrant. */
void serve__infer(const serve__entry *en, const mp_http_req *req, mp_http_resp *resp);

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
