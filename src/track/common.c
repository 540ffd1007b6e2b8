/* common.c — what every tracking handler needs (track_int.h): reading request
 * arguments the way MLflow's server does (JSON body or query string, proto JSON
 * types), MLflow's error shapes and validation messages, page tokens, and the
 * JSON of experiments, runs and metrics. Reentrant: no state. */
#include "track/track_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arguments ------------------------------------------------------------------------ */

json_t *track__args(const mp_http_req *req, mp_http_resp *resp) {
    bool get = req->method && strcmp(req->method, "GET") == 0;
    if (!get || (req->body && req->body_len > 0)) return mp_http_body_json(req, resp);
    return track__query_json(req);
}

json_t *track__query_json(const mp_http_req *req) {
    json_t *o = json_object();
    for (size_t i = 0; i < req->nquery; i++) {
        const char *k = req->query[i].key;
        json_t *v = json_string(req->query[i].value ? req->query[i].value : "");
        if (!v) continue; /* not UTF-8 */
        json_t *old = json_object_get(o, k);
        if (!old) {
            json_object_set_new(o, k, v);
        } else if (json_is_array(old)) {
            json_array_append_new(old, v);
        } else {
            json_t *arr = json_array();
            json_array_append(arr, old);
            json_array_append_new(arr, v);
            json_object_set_new(o, k, arr);
        }
    }
    return o;
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "dict";
    case JSON_ARRAY: return "list";
    case JSON_STRING: return "str";
    case JSON_INTEGER: return "int";
    case JSON_REAL: return "float";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    default: return "NoneType";
    }
}

int track__bad_value(mp_http_resp *resp, const char *name, const json_t *v) {
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    track__invalid(resp,
                   "Invalid value %s for parameter '%s' supplied. Hint: Value was of type '%s'. See the API docs for "
                   "more information about request parameters.",
                   s ? s : "?", name, type_name(v));
    free(s);
    return -1;
}

int track__missing(mp_http_resp *resp, const char *name) {
    track__invalid(resp,
                   "Missing value for required parameter '%s'. See the API docs for more information about request "
                   "parameters.",
                   name);
    return -1;
}

int track__str(json_t *a, const char *name, bool required, const char **out, mp_http_resp *resp) {
    json_t *v = json_object_get(a, name);
    *out = NULL;
    if (!v || json_is_null(v)) return required ? track__missing(resp, name) : 0;
    if (!json_is_string(v)) return track__bad_value(resp, name, v);
    *out = json_string_value(v);
    if (required && !**out) return track__missing(resp, name);
    return 0;
}

static bool parse_i64(const char *s, int64_t *out) {
    if (!s || !*s) return false;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (*end) return false;
    *out = v;
    return true;
}

int track__int(json_t *a, const char *name, bool required, int64_t dflt, int64_t *out, mp_http_resp *resp) {
    json_t *v = json_object_get(a, name);
    *out = dflt;
    if (!v || json_is_null(v)) return required ? track__missing(resp, name) : 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 9e18) {
        *out = (int64_t)json_real_value(v);
        return 0;
    }
    if (json_is_string(v) && parse_i64(json_string_value(v), out)) return 0;
    return track__bad_value(resp, name, v);
}

int track__run_id(json_t *a, const char **out, mp_http_resp *resp) {
    if (track__str(a, "run_id", false, out, resp) != 0) return -1;
    if (*out && **out) return 0;
    if (track__str(a, "run_uuid", false, out, resp) != 0) return -1;
    if (*out && **out) return 0;
    return track__missing(resp, "run_id");
}

int track__strs(json_t *a, const char *name, const char ***out, size_t *n, mp_http_resp *resp) {
    *out = NULL;
    *n = 0;
    json_t *v = json_object_get(a, name);
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        *out = mp_xmalloc(sizeof **out);
        (*out)[(*n)++] = json_string_value(v);
        return 0;
    }
    if (!json_is_array(v)) return track__bad_value(resp, name, v);
    *out = mp_xmalloc((json_array_size(v) + 1) * sizeof **out);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!json_is_string(x)) {
            free(*out);
            *out = NULL;
            *n = 0;
            return track__bad_value(resp, name, v);
        }
        (*out)[(*n)++] = json_string_value(x);
    }
    return 0;
}

int track__kvs(json_t *a, const char *name, store_kv **out, size_t *n, mp_http_resp *resp) {
    *out = NULL;
    *n = 0;
    json_t *v = json_object_get(a, name);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v)) return track__bad_value(resp, name, v);
    *out = mp_xcalloc(json_array_size(v) + 1, sizeof **out);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        const char *k = NULL, *val = NULL;
        char field[64];
        snprintf(field, sizeof field, "%s[%zu]", name, i);
        if (!json_is_object(x)) {
            track__bad_value(resp, field, x);
            goto fail;
        }
        if (track__str(x, "key", false, &k, resp) != 0 || track__str(x, "value", false, &val, resp) != 0) goto fail;
        (*out)[*n].key = mp_xstrdup(k ? k : "");
        (*out)[*n].value = mp_xstrdup(val ? val : "");
        (*n)++;
    }
    return 0;
fail:
    store_kv_array_free(*out, *n);
    *out = NULL;
    *n = 0;
    return -1;
}

int track__view(json_t *a, const char *name, int *out, mp_http_resp *resp) {
    static const struct {
        const char *name;
        int v;
    } views[] = {{"ACTIVE_ONLY", STORE_VIEW_ACTIVE_ONLY}, {"DELETED_ONLY", STORE_VIEW_DELETED_ONLY}, {"ALL", STORE_VIEW_ALL}};
    *out = STORE_VIEW_ACTIVE_ONLY;
    json_t *v = json_object_get(a, name);
    if (!v || json_is_null(v)) return 0;
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        if ((json_is_string(v) && strcmp(json_string_value(v), views[i].name) == 0) ||
            (json_is_integer(v) && json_integer_value(v) == views[i].v) ||
            (json_is_string(v) && atoi(json_string_value(v)) == views[i].v)) {
            *out = views[i].v;
            return 0;
        }
    }
    return track__bad_value(resp, name, v);
}

int track__max_results(json_t *a, int64_t dflt, int64_t max, int64_t *out, mp_http_resp *resp) {
    if (track__int(a, "max_results", false, dflt, out, resp) != 0) return -1;
    if (*out > max) {
        track__invalid(resp,
                       "Invalid value for request parameter max_results. It must be at most %lld, but got value %lld",
                       (long long)max, (long long)*out);
        return -1;
    }
    if (*out < 0) {
        track__invalid(resp, "Invalid value for request parameter max_results. It must be a non-negative integer, "
                             "but got value %lld", (long long)*out);
        return -1;
    }
    return 0;
}

/* Page tokens are base64 of {"offset": N}, as MLflow's SQL store writes them. */
void track__set_page_token(json_t *obj, int64_t offset) {
    char raw[64];
    int l = snprintf(raw, sizeof raw, "{\"offset\": %lld}", (long long)offset);
    char b64[128];
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)raw, (size_t)l, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(obj, "next_page_token", json_string(b64));
}

int track__page_offset(json_t *a, int64_t *out, mp_http_resp *resp) {
    const char *tok = NULL;
    *out = 0;
    if (track__str(a, "page_token", false, &tok, resp) != 0) return -1;
    if (!tok || !*tok) return 0;
    unsigned char raw[256];
    size_t len = 0;
    if (sodium_base642bin(raw, sizeof raw - 1, tok, strlen(tok), NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        track__invalid(resp, "Invalid page token, could not base64-decode");
        return -1;
    }
    raw[len] = 0;
    json_t *o = json_loads((const char *)raw, 0, NULL);
    json_t *off = json_object_get(o, "offset");
    bool ok = json_is_integer(off) && json_integer_value(off) >= 0;
    if (ok) *out = json_integer_value(off);
    json_decref(o);
    if (!ok) {
        track__invalid(resp, "Invalid page token, decoded value=%s", (const char *)raw);
        return -1;
    }
    return 0;
}

/* ---- errors ----------------------------------------------------------------------------- */

void track__invalidv(mp_http_resp *resp, const char *fmt, va_list ap) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_vprintf(&b, fmt, ap);
    mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "%s", b.data);
    mp_buf_free(&b);
}

void track__invalid(mp_http_resp *resp, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    track__invalidv(resp, fmt, ap);
    va_end(ap);
}

void track__store_error(mp_http_resp *resp, const mp_err *e) {
    switch (e->code) {
    case MP_ENOENT: mp_http_mlflow_error(resp, 404, "RESOURCE_DOES_NOT_EXIST", "%s", e->msg); break;
    case MP_EEXIST: mp_http_mlflow_error(resp, 400, "RESOURCE_ALREADY_EXISTS", "%s", e->msg); break;
    case MP_EINVAL:
    case MP_ESTATE: mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "%s", e->msg); break;
    default: mp_http_mlflow_error(resp, 500, "INTERNAL_ERROR", "%s", e->msg); break;
    }
}

void track__ok_empty(mp_http_resp *resp) { mp_http_json(resp, 200, json_object()); }

/* A namespace is a DNS label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
static bool dns_label(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-') return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) return false;
    return true;
}

const char *track__req_namespace(const mp_http_req *req, mp_http_resp *resp) {
    const char *h = mp_http_req_header(req, "X-Mlplane-Namespace");
    if (h && *h && !dns_label(h)) {
        track__invalid(resp, "X-Mlplane-Namespace: \"%.80s\" is not a namespace: use lowercase letters, digits and "
                             "'-', starting and ending with a letter or digit, at most 63 characters", h);
        return NULL;
    }
    if (h && *h) return h;
    if (req->authz && req->authz->namespace_ && *req->authz->namespace_) return req->authz->namespace_;
    return "default";
}

/* ---- validation (MLflow's rules for names) --------------------------------------------- */

static bool name_chars_ok(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!(*p >= 0x80 || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '_' || *p == '/' || *p == '.' || *p == '-' || *p == ' '))
            return false;
    return true;
}

/* posixpath.normpath(name) != name: an empty, "." or ".." component, or a leading
 * or trailing slash. */
static bool path_not_unique(const char *s) {
    if (!*s) return true;
    const char *c = s;
    for (;;) {
        const char *slash = strchr(c, '/');
        size_t l = slash ? (size_t)(slash - c) : strlen(c);
        if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.')) return true;
        if (!slash) return false;
        c = slash + 1;
    }
}

int track__check_key(const char *kind, const char *key, mp_http_resp *resp) {
    if (!key) {
        track__invalid(resp, "%s name cannot be None. A key name must be provided.", kind);
        return -1;
    }
    if (!name_chars_ok(key)) {
        track__invalid(resp,
                       "Invalid %s name: '%s'. Names may only contain alphanumerics, underscores (_), dashes (-), "
                       "periods (.), spaces ( ), and slashes (/).",
                       kind, key);
        return -1;
    }
    if (path_not_unique(key)) {
        track__invalid(resp,
                       "Invalid %s name: '%s'. Names may be treated as files in certain cases, and must not resolve "
                       "to other names when treated as such.",
                       kind, key);
        return -1;
    }
    return 0;
}

int track__check_length(const char *entity, size_t limit, const char *value, mp_http_resp *resp) {
    size_t l = value ? strlen(value) : 0;
    if (l <= limit) return 0;
    track__invalid(resp, "%s '%.250s' had length %zu, which exceeded length limit of %zu", entity, value, l, limit);
    return -1;
}

/* ---- JSON of entities -------------------------------------------------------------------- */

json_t *track__double_json(double v) {
    if (isnan(v)) return json_string("NaN");
    if (isinf(v)) return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

bool track__double_parse(json_t *v, double *out) {
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (!json_is_string(v)) return false;
    const char *s = json_string_value(v);
    if (strcmp(s, "NaN") == 0) *out = NAN;
    else if (strcmp(s, "Infinity") == 0) *out = INFINITY;
    else if (strcmp(s, "-Infinity") == 0) *out = -INFINITY;
    else {
        char *end = NULL;
        *out = strtod(s, &end);
        return *s && !*end;
    }
    return true;
}

static json_t *kvs_json(const store_kv *v, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:s}", "key", v[i].key ? v[i].key : "", "value",
                                           v[i].value ? v[i].value : ""));
    return a;
}

static void set_list(json_t *o, const char *name, json_t *arr) {
    if (json_array_size(arr) > 0) json_object_set_new(o, name, arr);
    else json_decref(arr);
}

json_t *track__experiment_json(const store_experiment *x) {
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "experiment_id", x->experiment_id, "name", x->name,
                          "artifact_location", x->artifact_location ? x->artifact_location : "", "lifecycle_stage",
                          x->lifecycle_stage, "last_update_time", (json_int_t)x->last_update_time, "creation_time",
                          (json_int_t)x->creation_time);
    set_list(o, "tags", kvs_json(x->tags, x->ntags));
    return o;
}

json_t *track__run_info_json(const store_track_run *r) {
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "run_id", r->run_id, "run_uuid", r->run_id, "run_name",
                          r->run_name ? r->run_name : "", "experiment_id", r->experiment_id, "status", r->status,
                          "start_time", (json_int_t)r->start_time);
    if (r->user_id) json_object_set_new(o, "user_id", json_string(r->user_id));
    if (r->end_time >= 0) json_object_set_new(o, "end_time", json_integer(r->end_time));
    json_object_set_new(o, "artifact_uri", json_string(r->artifact_uri ? r->artifact_uri : ""));
    json_object_set_new(o, "lifecycle_stage", json_string(r->lifecycle_stage ? r->lifecycle_stage : "active"));
    return o;
}

json_t *track__metric_json(const store_track_metric *m) {
    json_t *o = json_object();
    json_object_set_new(o, "key", json_string(m->key));
    json_object_set_new(o, "value", track__double_json(m->value));
    json_object_set_new(o, "timestamp", json_integer(m->timestamp));
    json_object_set_new(o, "step", json_integer(m->step));
    return o;
}

json_t *track__run_json(const store_track_run *r) {
    json_t *data = json_object();
    json_t *ms = json_array();
    for (size_t i = 0; i < r->nmetrics; i++) json_array_append_new(ms, track__metric_json(&r->metrics[i]));
    set_list(data, "metrics", ms);
    set_list(data, "params", kvs_json(r->params, r->nparams));
    set_list(data, "tags", kvs_json(r->tags, r->ntags));
    json_t *ins = json_array();
    for (size_t i = 0; i < r->ninputs; i++) {
        const store_dataset_input *d = &r->inputs[i];
        json_t *ds = json_pack("{s:s,s:s,s:s,s:s}", "name", d->name ? d->name : "", "digest", d->digest ? d->digest : "",
                               "source_type", d->source_type ? d->source_type : "", "source", d->source ? d->source : "");
        if (d->schema) json_object_set_new(ds, "schema", json_string(d->schema));
        if (d->profile) json_object_set_new(ds, "profile", json_string(d->profile));
        json_t *di = json_object();
        set_list(di, "tags", kvs_json(d->tags, d->ntags));
        json_object_set_new(di, "dataset", ds);
        json_array_append_new(ins, di);
    }
    json_t *inputs = json_object();
    set_list(inputs, "dataset_inputs", ins);
    return json_pack("{s:o,s:o,s:o}", "info", track__run_info_json(r), "data", data, "inputs", inputs);
}
