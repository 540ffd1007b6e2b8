/* serve_int.h — internals shared by oip.c (routing, metadata, health) and
 * infer.c (the inference request and response). Not a public header. */
#ifndef MLPLANE_SERVE_INT_H
#define MLPLANE_SERVE_INT_H

#include "serve/serve.h"

/* A served model with its name and version encoded once as JSON strings. */
typedef struct serve__entry {
    serve_model *m;
    char *name_json;    /* "\"breast-cancer\"" (heap) */
    char *version_json; /* "\"1\"" (heap) */
} serve__entry;

/* A heap JSON string literal (quotes and escapes) of s. */
char *serve__json_string(const char *s);

/* Answers POST .../infer for entry en: decodes the body, predicts the rows in
 * one runtime call and encodes the response (or a 400/500 error). Reentrant. */
void serve__infer(const serve__entry *en, const char *body, size_t len, mp_http_resp *resp);

#endif
