/* registry_params.c — the model registry handlers' view of a request and of a
 * response: parameters read from the JSON body or the query string and checked
 * as MLflow's server checks them (same messages, same error codes), the MLflow
 * error for a store failure, and the JSON of model versions and registered
 * models as MLflow's message_to_json writes them (fields left out when MLflow
 * leaves them unset; int64 times as JSON numbers; version numbers as strings).
 * Reentrant; no global state. */
#include "track/registry_int.h"
#include "track/track_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reg__invalid(mp_http_resp *resp, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    track__invalidv(resp, fmt, ap);
    va_end(ap);
}

/* As the tracking API's, except that MP_ESTATE is an internal error here. */
void reg__store_error(mp_http_resp *resp, const mp_err *e) {
    if (e->code == MP_ESTATE) mp_http_mlflow_error(resp, 500, "INTERNAL_ERROR", "%s", e->msg);
    else track__store_error(resp, e);
}

/* ---- parameters --------------------------------------------------------------------- */

json_t *reg__params(const mp_http_req *req, mp_http_resp *resp) {
    if (req->body && req->body_len > 0) return mp_http_body_json(req, resp);
    return track__query_json(req);
}

int reg__str(json_t *p, const char *key, bool required, const char **out, mp_http_resp *resp) {
    return track__str(p, key, required, out, resp);
}

int reg__int(json_t *p, const char *key, int64_t def, int64_t *out, mp_http_resp *resp) {
    *out = def;
    json_t *v = json_object_get(p, key);
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        while (*end && isspace((unsigned char)*end)) end++;
        if (*s && !*end && errno == 0) {
            *out = x;
            return 0;
        }
    }
    return track__bad_value(resp, key, v);
}

int reg__bool(json_t *p, const char *key, bool *out, mp_http_resp *resp) {
    *out = false;
    json_t *v = json_object_get(p, key);
    if (!v || json_is_null(v)) return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
            *out = strcasecmp(s, "true") == 0;
            return 0;
        }
    }
    return track__bad_value(resp, key, v);
}

int reg__str_array(json_t *p, const char *key, const char ***out, size_t *n, mp_http_resp *resp) {
    return track__strs(p, key, out, n, resp);
}

int reg__tags(json_t *p, store_kv **out, size_t *n, mp_http_resp *resp) {
    *out = NULL;
    *n = 0;
    json_t *v = json_object_get(p, "tags");
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v)) return track__bad_value(resp, "tags", v);
    size_t len = json_array_size(v);
    store_kv *kv = mp_xcalloc(len ? len : 1, sizeof *kv);
    for (size_t i = 0; i < len; i++) {
        json_t *t = json_array_get(v, i);
        json_t *k = json_object_get(t, "key"), *val = json_object_get(t, "value");
        if (!json_is_object(t) || (k && !json_is_string(k)) || (val && !json_is_null(val) && !json_is_string(val))) {
            free(kv);
            return track__bad_value(resp, "tags", v);
        }
        /* An unset proto string reads as "" (what MLflow's store then sees). */
        kv[i].key = (char *)(k ? json_string_value(k) : "");
        kv[i].value = (char *)(json_is_string(val) ? json_string_value(val) : "");
        if (reg__tag_ok(kv[i].key, kv[i].value, resp) != 0) {
            free(kv);
            return -1;
        }
    }
    *out = kv;
    *n = len;
    return 0;
}

/* ---- validations ---------------------------------------------------------------------- */

int reg__version(const char *s, int64_t *out, mp_http_resp *resp) {
    const char *q = s;
    while (isspace((unsigned char)*q)) q++;
    char *end;
    errno = 0;
    long long x = strtoll(q, &end, 10);
    while (*end && isspace((unsigned char)*end)) end++;
    if (!*q || *end || errno != 0 || end == q) {
        reg__invalid(resp, "Parameter 'version' must be an integer, got '%s'.", s);
        return -1;
    }
    *out = x;
    return 0;
}

/* posixpath.normpath of a relative or absolute name (heap). */
static char *normpath(const char *name) {
    bool abs = name[0] == '/';
    mp_strv parts = {0};
    const char *p = name;
    while (*p) {
        const char *s = strchr(p, '/');
        size_t l = s ? (size_t)(s - p) : strlen(p);
        if (l == 0 || (l == 1 && p[0] == '.')) {
            /* skip */
        } else if (l == 2 && p[0] == '.' && p[1] == '.') {
            if (parts.n > 0 && strcmp(parts.v[parts.n - 1], "..") != 0) free(parts.v[--parts.n]);
            else if (!abs) mp_strv_push(&parts, "..");
        } else {
            mp_strv_push_owned(&parts, mp_xstrndup(p, l));
        }
        p += l;
        if (*p == '/') p++;
    }
    mp_buf b;
    mp_buf_init(&b);
    if (abs) mp_buf_puts(&b, "/");
    for (size_t i = 0; i < parts.n; i++) mp_buf_printf(&b, "%s%s", i ? "/" : "", parts.v[i]);
    if (b.len == 0) mp_buf_puts(&b, ".");
    mp_strv_free(&parts);
    return mp_buf_steal(&b);
}

static bool tag_char_ok(unsigned char c) {
    return isalnum(c) || c >= 0x80 || strchr("_/.- :", c) != NULL;
}

int reg__tag_ok(const char *key, const char *value, mp_http_resp *resp) {
    for (const char *c = key; *c; c++) {
        if (!tag_char_ok((unsigned char)*c)) {
            reg__invalid(resp,
                         "Invalid value \"%s\" for parameter 'key' supplied: Names may only contain alphanumerics, "
                         "underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).",
                         key);
            return -1;
        }
    }
    char *norm = normpath(key);
    bool bad = strcmp(norm, key) != 0 || strcmp(norm, ".") == 0 || mp_str_starts(norm, "..") || norm[0] == '/';
    if (bad) {
        reg__invalid(resp,
                     "Invalid value \"%s\" for parameter 'key' supplied: Names may be treated as files in certain "
                     "cases, and must not resolve to other names when treated as such. This name would resolve to "
                     "'%s'",
                     key, norm);
        free(norm);
        return -1;
    }
    free(norm);
    if (strlen(key) > 250) {
        reg__invalid(resp, "'key' exceeds the maximum length of 250 characters");
        return -1;
    }
    if (value && strlen(value) > 5000) {
        reg__invalid(resp, "'value' exceeds the maximum length of 5000 characters");
        return -1;
    }
    return 0;
}

int reg__alias_ok(const char *alias, mp_http_resp *resp) {
    if (!alias || !*alias) {
        reg__invalid(resp, "Registered model alias name cannot be empty.");
        return -1;
    }
    for (const char *c = alias; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (!(isalnum(u) || u >= 0x80 || u == '_' || u == '-')) {
            reg__invalid(resp,
                         "Invalid alias name: '%s'. Names may only contain alphanumerics, underscores (_), and "
                         "dashes (-).",
                         alias);
            return -1;
        }
    }
    if (strlen(alias) > 255) {
        reg__invalid(resp, "'Registered model alias name' exceeds the maximum length of 255 characters");
        return -1;
    }
    if (strcasecmp(alias, "latest") == 0) {
        reg__invalid(resp, "'latest' alias name (case insensitive) is reserved.");
        return -1;
    }
    if ((alias[0] == 'v' || alias[0] == 'V') && alias[1]) {
        bool digits = true;
        for (const char *c = alias + 1; *c; c++) digits = digits && isdigit((unsigned char)*c);
        if (digits) {
            reg__invalid(resp, "Version alias name '%s' is reserved.", alias);
            return -1;
        }
    }
    return 0;
}

static const char *const stages[] = {"None", "Staging", "Production", "Archived"};

const char *reg__stage(const char *s, mp_http_resp *resp) {
    for (size_t i = 0; s && i < sizeof stages / sizeof stages[0]; i++)
        if (strcasecmp(s, stages[i]) == 0) return stages[i];
    reg__invalid(resp, "Invalid Model Version stage: %s. Value must be one of None, Staging, Production, Archived.",
                 s ? s : "");
    return NULL;
}

/* ---- JSON views ------------------------------------------------------------------------ */

static json_t *tags_json(const store_kv *t, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:s}", "key", t[i].key, "value", t[i].value ? t[i].value : ""));
    return a;
}

static void set_str(json_t *o, const char *k, const char *v) {
    if (v) json_object_set_new(o, k, json_string(v));
}

json_t *reg__version_json(const store_model_version *v) {
    json_t *o = json_object();
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v->version);
    set_str(o, "name", v->name);
    set_str(o, "version", num);
    json_object_set_new(o, "creation_timestamp", json_integer(v->creation_time));
    json_object_set_new(o, "last_updated_timestamp", json_integer(v->last_updated_time));
    set_str(o, "user_id", v->user_id);
    set_str(o, "current_stage", v->current_stage);
    set_str(o, "description", v->description);
    set_str(o, "source", v->source);
    set_str(o, "run_id", v->run_id);
    set_str(o, "status", v->status);
    if (v->status_message && *v->status_message) set_str(o, "status_message", v->status_message);
    if (v->ntags) json_object_set_new(o, "tags", tags_json(v->tags, v->ntags));
    set_str(o, "run_link", v->run_link);
    if (v->naliases) {
        json_t *a = json_array();
        for (size_t i = 0; i < v->naliases; i++) json_array_append_new(a, json_string(v->aliases[i]));
        json_object_set_new(o, "aliases", a);
    }
    return o;
}

json_t *reg__model_json(const store_registered_model *m) {
    json_t *o = json_object();
    set_str(o, "name", m->name);
    json_object_set_new(o, "creation_timestamp", json_integer(m->creation_time));
    if (m->last_updated_time) json_object_set_new(o, "last_updated_timestamp", json_integer(m->last_updated_time));
    if (m->description && *m->description) set_str(o, "description", m->description);
    if (m->nlatest) {
        json_t *a = json_array();
        for (size_t i = 0; i < m->nlatest; i++) json_array_append_new(a, reg__version_json(&m->latest[i]));
        json_object_set_new(o, "latest_versions", a);
    }
    if (m->ntags) json_object_set_new(o, "tags", tags_json(m->tags, m->ntags));
    if (m->naliases) {
        json_t *a = json_array();
        for (size_t i = 0; i < m->naliases; i++)
            json_array_append_new(a, json_pack("{s:s,s:s}", "alias", m->aliases[i].key, "version",
                                               m->aliases[i].value ? m->aliases[i].value : ""));
        json_object_set_new(o, "aliases", a);
    }
    return o;
}
