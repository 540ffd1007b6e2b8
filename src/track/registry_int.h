/* registry_int.h — private to the model registry handlers of src/track: what
 * registry.c (registered models, aliases, the route table), registry_versions.c
 * (model versions), registry_params.c (request parameters, validation, errors,
 * JSON views) and registry_filter.c (filter / order_by / page_token) share.
 *
 * Every helper that validates fills the response with MLflow's error (status,
 * error_code, message) and returns -1 when the input is bad, else 0; a handler
 * stops at the first -1. Threads: all reentrant, no global state. */
#ifndef MLPLANE_TRACK_REGISTRY_INT_H
#define MLPLANE_TRACK_REGISTRY_INT_H

#include <jansson.h>

#include "store/store.h"
#include "util/http.h"

/* ---- request parameters (registry_params.c) ------------------------------------- */

/* The request's parameters as a JSON object (new reference): the JSON body, or the
 * query parameters when the body is empty (GET; a repeated key becomes an array).
 * NULL with resp filled when the body is malformed. */
json_t *reg__params(const mp_http_req *req, mp_http_resp *resp);
/* String parameter key (borrowed from p; NULL when absent). required: absent or ""
 * is "Missing value for required parameter". */
int reg__str(json_t *p, const char *key, bool required, const char **out, mp_http_resp *resp);
/* Integer parameter (a JSON integer or a decimal string); def when absent. */
int reg__int(json_t *p, const char *key, int64_t def, int64_t *out, mp_http_resp *resp);
/* Boolean parameter (true/false, or "true"/"false" in a query); false when absent. */
int reg__bool(json_t *p, const char *key, bool *out, mp_http_resp *resp);
/* Array of strings (a single string counts as one); *out is a heap array of
 * borrowed strings (caller frees the array only). */
int reg__str_array(json_t *p, const char *key, const char ***out, size_t *n, mp_http_resp *resp);
/* The "tags" array of {key, value}, validated as registry tags; *out borrows the
 * strings of p (caller frees the array only). */
int reg__tags(json_t *p, store_kv **out, size_t *n, mp_http_resp *resp);

/* ---- MLflow's validations --------------------------------------------------------- */

/* A version number given as a string ("Parameter 'version' must be an integer"). */
int reg__version(const char *s, int64_t *out, mp_http_resp *resp);
/* A registry tag key and value (characters, no path tricks, length limits). */
int reg__tag_ok(const char *key, const char *value, mp_http_resp *resp);
/* An alias name: [A-Za-z0-9_-]*, not empty, not "latest", not v<digits>. */
int reg__alias_ok(const char *alias, mp_http_resp *resp);
/* Canonical stage name for s (case-insensitive), or NULL with resp filled. */
const char *reg__stage(const char *s, mp_http_resp *resp);

/* ---- responses ---------------------------------------------------------------------- */

/* The MLflow error for a failed store call: MP_ENOENT -> 404 RESOURCE_DOES_NOT_EXIST,
 * MP_EEXIST -> 400 RESOURCE_ALREADY_EXISTS, MP_EINVAL -> 400 INVALID_PARAMETER_VALUE,
 * else 500 INTERNAL_ERROR. */
void reg__store_error(mp_http_resp *resp, const mp_err *e);
/* 400 INVALID_PARAMETER_VALUE with the message. */
void reg__invalid(mp_http_resp *resp, const char *fmt, ...) MP_PRINTF(2, 3);
/* JSON of a model version / registered model as MLflow's message_to_json writes
 * the proto (unset fields and empty lists left out). New references. */
json_t *reg__version_json(const store_model_version *v);
json_t *reg__model_json(const store_registered_model *m);

/* ---- search arguments (registry_filter.c) ------------------------------------------ */

typedef struct reg_filter {
    store_reg_cond *conds;
    size_t n;
    mp_strv strs;  /* owns the conditions' strings (each stays where it is) */
    char ***lists; /* owns the IN lists' arrays */
    size_t nlists;
} reg_filter;

/* Parses MLflow's filter language ("name = 'x' AND tags.k LIKE 'v%'") for
 * registered models (versions false) or model versions. */
int reg__filter_parse(const char *s, bool versions, reg_filter *out, mp_http_resp *resp);
void reg__filter_free(reg_filter *f);
/* Parses order_by clauses ("name", "last_updated_timestamp DESC", ...); *out heap. */
int reg__order_parse(const char *const *items, size_t n, bool versions, store_reg_order **out, size_t *nout,
                     mp_http_resp *resp);
/* The arguments of a search request, parsed (reg__search_args). */
typedef struct reg_search {
    store_reg_query q; /* for the store: one row more than max, to tell a next page */
    int64_t max;
    const char **order_by;
    store_reg_order *order;
    reg_filter f;
} reg_search;
/* Reads filter, max_results (absent = dflt; 1..limit), order_by (absent = the
 * ndflt_order terms of dflt_order, when any) and page_token of a search over
 * registered models (versions false) or model versions. -1 with resp filled when
 * invalid. Free out with reg__search_free either way. */
int reg__search_args(json_t *p, bool versions, int64_t dflt, int64_t limit, const char *const *dflt_order,
                     size_t ndflt_order, reg_search *out, mp_http_resp *resp);
void reg__search_free(reg_search *s);
/* 200 with {key: items} (left out when the store returned n = 0 rows; items is
 * taken) and next_page_token when the store returned more than s->max rows. */
void reg__search_reply(mp_http_resp *resp, const reg_search *s, const char *key, json_t *items, size_t n);
/* page_token: base64 of {"offset": N}; NULL or "" is offset 0. */
int reg__page_token_parse(const char *tok, int64_t *offset, mp_http_resp *resp);
/* The page token of offset (heap). */
char *reg__page_token(int64_t offset);

/* ---- model version handlers (registry_versions.c), routed by registry.c ------------- */
void reg__mv_create(const mp_http_req *req, mp_http_resp *resp);
void reg__mv_get(const mp_http_req *req, mp_http_resp *resp);
void reg__mv_update(const mp_http_req *req, mp_http_resp *resp);
void reg__mv_delete(const mp_http_req *req, mp_http_resp *resp);
/* After a committed deletion: the artifact store's blobs that the deleted
 * versions' sources named and no other version's names go (a failure is logged:
 * the deletion stands, the next sweep takes them). */
void reg__release_sources(const mp_http_req *req, const char *const *sources, size_t n);
void reg__mv_search(const mp_http_req *req, mp_http_resp *resp);
void reg__mv_transition(const mp_http_req *req, mp_http_resp *resp);
void reg__mv_set_tag(const mp_http_req *req, mp_http_resp *resp);
void reg__mv_delete_tag(const mp_http_req *req, mp_http_resp *resp);
void reg__mv_download_uri(const mp_http_req *req, mp_http_resp *resp);

/* As track__req_namespace (common.c). */
const char *track__req_namespace(const mp_http_req *req, mp_http_resp *resp);

#endif
