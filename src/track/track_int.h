/* track_int.h — private to the tracking handlers of src/track (mlflow.c, runs.c,
 * logging.c, common.c): request arguments, MLflow-shaped errors, entity JSON,
 * page tokens and MLflow's name validation. The model registry's handlers
 * (registry_params.c) share its argument readers and error helpers.
 * Nothing outside src/track includes it.
 * Reentrant: no state. */
#ifndef MLPLANE_TRACK_INT_H
#define MLPLANE_TRACK_INT_H

#include <jansson.h>
#include <stdarg.h>

#include "track/track.h"

/* MLflow's limits (mlflow/utils/validation.py). */
#define TRACK__MAX_METRICS_PER_BATCH 1000
#define TRACK__MAX_PARAMS_TAGS_PER_BATCH 100
#define TRACK__MAX_ENTITIES_PER_BATCH 1000
#define TRACK__MAX_PARAM_VAL_LENGTH 6000
#define TRACK__MAX_TAG_VAL_LENGTH 5000
#define TRACK__MAX_ENTITY_KEY_LENGTH 250
#define TRACK__MAX_EXPERIMENT_NAME_LENGTH 500
#define TRACK__MAX_EXPERIMENT_TAG_VAL_LENGTH 5000
#define TRACK__SEARCH_MAX_RESULTS 50000
#define TRACK__DEFAULT_MAX_RESULTS 1000

/* The request's arguments as a JSON object: the body of a POST, the query
 * parameters of a GET (a repeated key becomes an array). NULL with resp filled
 * (400) when the body is not a JSON object. Caller decrefs. */
json_t *track__args(const mp_http_req *req, mp_http_resp *resp);

/* The query parameters of req as a JSON object of strings (a repeated key becomes
 * an array; a value that is not UTF-8 is left out). Caller decrefs. */
json_t *track__query_json(const mp_http_req *req);

/* Field getters: 0 on success; on a wrong type or a missing required field they
 * fill resp with 400 INVALID_PARAMETER_VALUE (MLflow's message) and return -1.
 * *out is NULL / dflt when the field is absent. */
int track__str(json_t *a, const char *name, bool required, const char **out, mp_http_resp *resp);
/* Accepts a JSON integer or a string of one (int64 fields in proto JSON). */
int track__int(json_t *a, const char *name, bool required, int64_t dflt, int64_t *out, mp_http_resp *resp);
/* run_id, or the deprecated run_uuid; required. */
int track__run_id(json_t *a, const char **out, mp_http_resp *resp);
/* A repeated string field (an array, or one string from a query). *out is a
 * vector of borrowed strings (free the array only). */
int track__strs(json_t *a, const char *name, const char ***out, size_t *n, mp_http_resp *resp);
/* A list of {key, value} objects (tags). *out heap; values copied. */
int track__kvs(json_t *a, const char *name, store_kv **out, size_t *n, mp_http_resp *resp);
/* A ViewType: name or number; absent = ACTIVE_ONLY. */
int track__view(json_t *a, const char *name, int *out, mp_http_resp *resp);
/* max_results: absent = dflt; must be 0..max. */
int track__max_results(json_t *a, int64_t dflt, int64_t max, int64_t *out, mp_http_resp *resp);
/* page_token: absent or empty = 0. */
int track__page_offset(json_t *a, int64_t *out, mp_http_resp *resp);
/* Sets "next_page_token" on obj for offset. */
void track__set_page_token(json_t *obj, int64_t offset);

/* Fills resp from a store error: MP_ENOENT 404 RESOURCE_DOES_NOT_EXIST, MP_EEXIST
 * 400 RESOURCE_ALREADY_EXISTS, MP_EINVAL and MP_ESTATE 400 INVALID_PARAMETER_VALUE
 * (MLflow reports an inactive run or experiment so), else 500 INTERNAL_ERROR. */
void track__store_error(mp_http_resp *resp, const mp_err *e);
void track__invalid(mp_http_resp *resp, const char *fmt, ...) MP_PRINTF(2, 3);
void track__invalidv(mp_http_resp *resp, const char *fmt, va_list ap) MP_PRINTF(2, 0);
/* MLflow's 400 for field name holding v of the wrong type ("Invalid value ... Hint:
 * Value was of type ..."), and for a missing required field. Both return -1. */
int track__bad_value(mp_http_resp *resp, const char *name, const json_t *v);
int track__missing(mp_http_resp *resp, const char *name);
/* 200 with an empty JSON object. */
void track__ok_empty(mp_http_resp *resp);

/* MLflow's checks of metric/param/tag names ("metric", "param", "tag") and value
 * lengths: -1 with resp filled when invalid. */
int track__check_key(const char *kind, const char *key, mp_http_resp *resp);
int track__check_length(const char *entity, size_t limit, const char *value, mp_http_resp *resp);

/* Entities as MLflow's JSON (proto3 field names, int64 as numbers, empty lists left out). */
json_t *track__experiment_json(const store_experiment *x);
json_t *track__run_info_json(const store_track_run *r);
json_t *track__run_json(const store_track_run *r);
json_t *track__metric_json(const store_track_metric *m);
/* A metric value: a number, or "NaN" / "Infinity" / "-Infinity" as proto JSON writes them. */
json_t *track__double_json(double v);
/* Parses such a value (number or those strings); false when it is not one. */
bool track__double_parse(json_t *v, double *out);

/* Handlers of runs.c and logging.c (mounted by mlflow.c's table). */
void track__run_create(const mp_http_req *req, mp_http_resp *resp);
void track__run_get(const mp_http_req *req, mp_http_resp *resp);
void track__run_update(const mp_http_req *req, mp_http_resp *resp);
void track__run_delete(const mp_http_req *req, mp_http_resp *resp);
void track__run_restore(const mp_http_req *req, mp_http_resp *resp);
void track__run_search(const mp_http_req *req, mp_http_resp *resp);
void track__artifacts_list(const mp_http_req *req, mp_http_resp *resp);
void track__log_metric(const mp_http_req *req, mp_http_resp *resp);
void track__log_param(const mp_http_req *req, mp_http_resp *resp);
void track__set_tag(const mp_http_req *req, mp_http_resp *resp);
void track__delete_tag(const mp_http_req *req, mp_http_resp *resp);
void track__log_batch(const mp_http_req *req, mp_http_resp *resp);
void track__log_inputs(const mp_http_req *req, mp_http_resp *resp);
void track__metric_history(const mp_http_req *req, mp_http_resp *resp);

/* The namespace what req creates belongs to: its X-Mlplane-Namespace header, else
 * its caller's (req->authz), else "default" (borrowed from req); NULL with a 400
 * in resp when the header names no valid namespace. */
const char *track__req_namespace(const mp_http_req *req, mp_http_resp *resp);

#endif
