/* logging.c — MLflow handlers that write a run's data: runs/log-metric,
 * log-parameter, set-tag, delete-tag, log-batch, log-inputs, and
 * metrics/get-history that reads a metric back.
 *
 * Every writer goes through one store call (log_batch or log_inputs): the whole
 * request is validated first (MLflow's limits and name rules), then written in one
 * transaction, so a request that fails writes nothing. log-batch keeps the strings
 * of the request's JSON (borrowed) instead of copying them: a batch of 1000 metrics
 * costs one JSON parse and one transaction with one reused insert statement.
 * Threads: handlers run on the server's worker threads; no state. */
#include "track/track_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- entries ----------------------------------------------------------------------------- */

/* Reads metric i of a request (an object with key, value, timestamp, step) into m,
 * borrowing the key. ts_required: log-metric requires a timestamp. */
static int read_metric(json_t *o, const char *field, bool ts_required, store_track_metric *m, mp_http_resp *resp) {
    const char *key;
    if (!json_is_object(o)) {
        track__invalid(resp, "Invalid value for parameter '%s': expected an object", field);
        return -1;
    }
    if (track__str(o, "key", true, &key, resp) != 0) return -1;
    m->key = (char *)key;
    json_t *v = json_object_get(o, "value");
    if (!v || json_is_null(v)) {
        track__invalid(resp, "Missing value for required parameter 'value'. See the API docs for more information "
                             "about request parameters.");
        return -1;
    }
    if (!track__double_parse(v, &m->value)) {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        track__invalid(resp, "Got invalid value %s for metric '%s' (timestamp=%s). Please specify value as a valid "
                             "double (64-bit floating point)", s ? s : "?", key, "?");
        free(s);
        return -1;
    }
    if (track__int(o, "timestamp", ts_required, 0, &m->timestamp, resp) != 0 ||
        track__int(o, "step", false, 0, &m->step, resp) != 0)
        return -1;
    if (m->timestamp < 0) {
        track__invalid(resp, "Got invalid timestamp %lld for metric '%s' (value=%g). Timestamp must be a nonnegative "
                             "long (64-bit integer) ", (long long)m->timestamp, key, m->value);
        return -1;
    }
    if (track__check_key("metric", key, resp) != 0 ||
        track__check_length("Metric name", TRACK__MAX_ENTITY_KEY_LENGTH, key, resp) != 0)
        return -1;
    return 0;
}

/* Reads a {key, value} param or tag, borrowing both. */
static int read_kv(json_t *o, const char *kind, store_kv *kv, mp_http_resp *resp) {
    const char *key, *value;
    if (!json_is_object(o)) {
        track__invalid(resp, "Invalid value for a %s: expected an object with key and value", kind);
        return -1;
    }
    if (track__str(o, "key", true, &key, resp) != 0 || track__str(o, "value", false, &value, resp) != 0) return -1;
    kv->key = (char *)key;
    kv->value = (char *)(value ? value : "");
    bool param = strcmp(kind, "param") == 0;
    if (track__check_key(param ? "parameter" : "tag", key, resp) != 0 ||
        track__check_length(param ? "Param key" : "Tag key", TRACK__MAX_ENTITY_KEY_LENGTH, key, resp) != 0 ||
        track__check_length(param ? "Param value" : "Tag value",
                            param ? TRACK__MAX_PARAM_VAL_LENGTH : TRACK__MAX_TAG_VAL_LENGTH, kv->value, resp) != 0)
        return -1;
    return 0;
}

static int batch_limit(const char *entity, size_t limit, size_t n, mp_http_resp *resp) {
    if (n <= limit) return 0;
    track__invalid(resp,
                   "A batch logging request can contain at most %zu %s. Got %zu %s. Please split up %s across "
                   "multiple requests and try again.",
                   limit, entity, n, entity, entity);
    return -1;
}

static int array_field(json_t *a, const char *name, json_t **out, mp_http_resp *resp) {
    *out = json_object_get(a, name);
    if (!*out || json_is_null(*out)) {
        *out = NULL;
        return 0;
    }
    if (json_is_array(*out)) return 0;
    track__invalid(resp, "Invalid value for parameter '%s' supplied: expected a list", name);
    return -1;
}

static void log_and_reply(const mp_http_req *req, mp_http_resp *resp, const char *run_id, const store_track_metric *m,
                          size_t nm, const store_kv *p, size_t np, const store_kv *t, size_t nt) {
    mp_err e = {0};
    if (req->st->t->log_batch(req->st, run_id, m, nm, p, np, t, nt, &e) != 0) track__store_error(resp, &e);
    else track__ok_empty(resp);
}

/* ---- single entries ---------------------------------------------------------------------- */

void track__log_metric(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id;
    store_track_metric m = {0};
    if (track__run_id(a, &id, resp) == 0 && read_metric(a, "metric", true, &m, resp) == 0)
        log_and_reply(req, resp, id, &m, 1, NULL, 0, NULL, 0);
    json_decref(a);
}

void track__log_param(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id, *value;
    store_kv kv;
    if (track__run_id(a, &id, resp) == 0 && track__str(a, "value", true, &value, resp) == 0 &&
        read_kv(a, "param", &kv, resp) == 0)
        log_and_reply(req, resp, id, NULL, 0, &kv, 1, NULL, 0);
    json_decref(a);
}

void track__set_tag(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id;
    store_kv kv;
    if (track__run_id(a, &id, resp) == 0 && read_kv(a, "tag", &kv, resp) == 0)
        log_and_reply(req, resp, id, NULL, 0, NULL, 0, &kv, 1);
    json_decref(a);
}

void track__delete_tag(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id, *key;
    if (track__run_id(a, &id, resp) == 0 && track__str(a, "key", true, &key, resp) == 0) {
        mp_err e = {0};
        if (req->st->t->tag_delete(req->st, id, key, &e) != 0) track__store_error(resp, &e);
        else track__ok_empty(resp);
    }
    json_decref(a);
}

/* ---- log-batch ----------------------------------------------------------------------------- */

void track__log_batch(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id;
    json_t *jm, *jp, *jt;
    store_track_metric *m = NULL;
    store_kv *p = NULL, *t = NULL;
    if (track__run_id(a, &id, resp) != 0 || array_field(a, "metrics", &jm, resp) != 0 ||
        array_field(a, "params", &jp, resp) != 0 || array_field(a, "tags", &jt, resp) != 0)
        goto out;
    size_t nm = json_array_size(jm), np = json_array_size(jp), nt = json_array_size(jt);
    if (batch_limit("metrics", TRACK__MAX_METRICS_PER_BATCH, nm, resp) != 0 ||
        batch_limit("params", TRACK__MAX_PARAMS_TAGS_PER_BATCH, np, resp) != 0 ||
        batch_limit("tags", TRACK__MAX_PARAMS_TAGS_PER_BATCH, nt, resp) != 0 ||
        batch_limit("metrics, params, and tags", TRACK__MAX_ENTITIES_PER_BATCH, nm + np + nt, resp) != 0)
        goto out;
    m = mp_xcalloc(nm + 1, sizeof *m);
    p = mp_xcalloc(np + 1, sizeof *p);
    t = mp_xcalloc(nt + 1, sizeof *t);
    for (size_t i = 0; i < nm; i++)
        if (read_metric(json_array_get(jm, i), "metrics", false, &m[i], resp) != 0) goto out;
    for (size_t i = 0; i < np; i++)
        if (read_kv(json_array_get(jp, i), "param", &p[i], resp) != 0) goto out;
    for (size_t i = 0; i < nt; i++)
        if (read_kv(json_array_get(jt, i), "tag", &t[i], resp) != 0) goto out;
    /* duplicate param keys in one request (MLflow refuses them) */
    mp_buf dup;
    mp_buf_init(&dup);
    for (size_t i = 0; i < np; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(p[i].key, p[j].key) == 0) {
                mp_buf_printf(&dup, "%s'%s'", dup.len ? ", " : "", p[i].key);
                break;
            }
    if (dup.len) {
        track__invalid(resp,
                       "Duplicate parameter keys have been submitted: [%s]. Please ensure the request contains only "
                       "one param value per param key.",
                       dup.data);
        mp_buf_free(&dup);
        goto out;
    }
    mp_buf_free(&dup);
    log_and_reply(req, resp, id, m, nm, p, np, t, nt);
out:
    free(m);
    free(p);
    free(t);
    json_decref(a);
}

/* ---- log-inputs ---------------------------------------------------------------------------- */

static int read_dataset_input(json_t *o, size_t i, store_dataset_input *d, mp_http_resp *resp) {
    char field[64];
    snprintf(field, sizeof field, "datasets[%zu].dataset", i);
    json_t *ds = json_object_get(o, "dataset");
    if (!json_is_object(o) || !json_is_object(ds)) {
        track__invalid(resp, "Missing value for required parameter '%s'. See the API docs for more information "
                             "about request parameters.", field);
        return -1;
    }
    static const char *const req_fields[] = {"name", "digest", "source_type", "source"};
    const char *v[4], *schema, *profile;
    for (int k = 0; k < 4; k++)
        if (track__str(ds, req_fields[k], true, &v[k], resp) != 0) return -1;
    if (track__str(ds, "schema", false, &schema, resp) != 0 || track__str(ds, "profile", false, &profile, resp) != 0 ||
        track__check_length("Dataset name", 500, v[0], resp) != 0 ||
        track__check_length("Dataset digest", 36, v[1], resp) != 0 ||
        track__check_length("Dataset source", 65535, v[3], resp) != 0)
        return -1;
    if (track__kvs(o, "tags", &d->tags, &d->ntags, resp) != 0) return -1;
    for (size_t k = 0; k < d->ntags; k++)
        if (track__check_length("Input tag key", 255, d->tags[k].key, resp) != 0 ||
            track__check_length("Input tag value", 500, d->tags[k].value, resp) != 0)
            return -1;
    d->name = mp_xstrdup(v[0]);
    d->digest = mp_xstrdup(v[1]);
    d->source_type = mp_xstrdup(v[2]);
    d->source = mp_xstrdup(v[3]);
    d->schema = mp_xstrdup(schema);
    d->profile = mp_xstrdup(profile);
    return 0;
}

void track__log_inputs(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id;
    json_t *jd;
    store_dataset_input *d = NULL;
    size_t n = 0;
    if (track__run_id(a, &id, resp) != 0 || array_field(a, "datasets", &jd, resp) != 0) goto out;
    if (json_array_size(jd) > 1000) {
        track__invalid(resp, "A batch logging request can contain at most 1000 datasets. Got %zu datasets.",
                       json_array_size(jd));
        goto out;
    }
    d = mp_xcalloc(json_array_size(jd) + 1, sizeof *d);
    for (; n < json_array_size(jd); n++)
        if (read_dataset_input(json_array_get(jd, n), n, &d[n], resp) != 0) {
            n++; /* free the partly read one too */
            goto out;
        }
    mp_err e = {0};
    if (req->st->t->log_inputs(req->st, id, d, n, &e) != 0) track__store_error(resp, &e);
    else track__ok_empty(resp);
out:
    for (size_t i = 0; i < n; i++) store_dataset_input_free(&d[i]);
    free(d);
    json_decref(a);
}

/* ---- metrics/get-history ------------------------------------------------------------------- */

void track__metric_history(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id, *key;
    int64_t max, offset;
    if (track__run_id(a, &id, resp) != 0 || track__str(a, "metric_key", true, &key, resp) != 0 ||
        track__int(a, "max_results", false, -1, &max, resp) != 0 || track__page_offset(a, &offset, resp) != 0)
        goto out;
    if (max == 0 || max < -1) {
        track__invalid(resp, "Invalid value for request parameter max_results. It must be a positive integer, but got "
                             "value %lld", (long long)max);
        goto out;
    }
    mp_err e = {0};
    store_track_metric *v = NULL;
    size_t n = 0;
    /* one more than asked tells whether there is a next page */
    if (req->st->t->metric_history(req->st, id, key, offset, max < 0 ? -1 : max + 1, &v, &n, &e) != 0) {
        track__store_error(resp, &e);
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && (max < 0 || (int64_t)i < max); i++) json_array_append_new(arr, track__metric_json(&v[i]));
    json_t *o = json_object();
    json_object_set_new(o, "metrics", arr);
    if (max >= 0 && (int64_t)n > max) track__set_page_token(o, offset + max);
    mp_http_json(resp, 200, o);
    store_track_metric_array_free(v, n);
out:
    json_decref(a);
}
