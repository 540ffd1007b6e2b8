/* registry_versions.c — the model-versions/... handlers of MLflow's model
 * registry REST API (routed by registry.c): create, get, update, delete, search,
 * transition-stage, set-tag, delete-tag, get-download-uri.
 *
 * As in registry.c: parameters checked as MLflow checks them, then one store call
 * (one transaction), store failures mapped to MLflow's error codes.
 * Threads: handlers run concurrently on the server's worker threads; each uses
 * only its request's store handle and keeps no state. */
#include "track/registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESULTS_VERSIONS 200000

static void send_version(mp_http_resp *resp, store_model_version *v) {
    mp_http_json(resp, 200, json_pack("{s:o}", "model_version", reg__version_json(v)));
    store_model_version_free(v);
}

/* Reads the required name and version. */
static int name_version(json_t *p, const char **name, int64_t *v, mp_http_resp *resp) {
    const char *version;
    if (reg__str(p, "name", true, name, resp) != 0 || reg__str(p, "version", true, &version, resp) != 0) return -1;
    return reg__version(version, v, resp);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One round of URL unquoting (%XX and +); heap. */
static char *unquote(const char *s, size_t *len) {
    mp_buf b;
    mp_buf_init(&b);
    for (; *s; s++) {
        if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            mp_buf_putc(&b, (char)(hexval(s[1]) * 16 + hexval(s[2])));
            s += 2;
        } else {
            mp_buf_putc(&b, *s == '+' ? ' ' : *s);
        }
    }
    *len = b.len;
    return mp_buf_steal(&b);
}

/* MLflow refuses model version sources with relative path references ("..", also
 * URL-encoded, or NUL), which could reach files outside the artifact store. */
static int source_ok(const char *source, mp_http_resp *resp) {
    char *s = mp_xstrdup(source);
    size_t len = strlen(s);
    for (;;) {
        if (strlen(s) != len) break; /* an encoded NUL */
        size_t nlen;
        char *u = unquote(s, &nlen);
        bool same = nlen == len && memcmp(u, s, len) == 0;
        free(s);
        s = u;
        len = nlen;
        if (same) break;
    }
    bool bad = strlen(s) != len;
    for (const char *p = s; !bad && *p;) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        bad = l == 2 && p[0] == '.' && p[1] == '.';
        p += l;
        if (*p == '/') p++;
    }
    free(s);
    if (!bad) return 0;
    reg__invalid(resp,
                 "Invalid model version source: '%s'. If supplying a source as an http, https, local file path, ftp, "
                 "objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path "
                 "references present. Please provide an absolute path.",
                 source);
    return -1;
}

void reg__mv_create(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *source, *run_id, *run_link, *desc;
    store_kv *tags = NULL;
    size_t ntags = 0;
    if (reg__str(p, "name", true, &name, resp) == 0 && reg__str(p, "source", true, &source, resp) == 0 &&
        reg__str(p, "run_id", false, &run_id, resp) == 0 && reg__str(p, "run_link", false, &run_link, resp) == 0 &&
        reg__str(p, "description", false, &desc, resp) == 0 && reg__tags(p, &tags, &ntags, resp) == 0 &&
        source_ok(source, resp) == 0) {
        /* Unset proto strings read as "" in MLflow, and are stored and shown so. */
        store_model_version in = {.name = (char *)name,
                                  .source = (char *)source,
                                  .run_id = (char *)(run_id ? run_id : ""),
                                  .run_link = (char *)(run_link ? run_link : ""),
                                  .description = (char *)(desc ? desc : ""),
                                  .tags = tags,
                                  .ntags = ntags};
        store_model_version v;
        mp_err e = {0};
        if (req->st->r->version_create(req->st, &in, &v, &e) != 0) reg__store_error(resp, &e);
        else send_version(resp, &v);
    }
    free(tags);
    json_decref(p);
}

void reg__mv_get(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name;
    int64_t version;
    if (name_version(p, &name, &version, resp) == 0) {
        store_model_version v;
        mp_err e = {0};
        if (req->st->r->version_get(req->st, name, version, &v, &e) != 0) reg__store_error(resp, &e);
        else send_version(resp, &v);
    }
    json_decref(p);
}

void reg__mv_update(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *desc;
    int64_t version;
    if (name_version(p, &name, &version, resp) == 0 && reg__str(p, "description", false, &desc, resp) == 0) {
        store_model_version v;
        mp_err e = {0};
        /* As MLflow: without a description the version's description is cleared. */
        if (req->st->r->version_update(req->st, name, version, desc, &v, &e) != 0) reg__store_error(resp, &e);
        else send_version(resp, &v);
    }
    json_decref(p);
}

void reg__release_sources(const mp_http_req *req, const char *const *sources, size_t n) {
    mp_err e = {0};
    if (!req->home || n == 0 || store_artstore_release(req->st, req->home, sources, n, NULL, &e) == 0) return;
    fprintf(stderr, "mlplane server: %s (the next sweep, at the server's start, removes what is left)\n", e.msg);
}

/* Deletes the version; then its blob in the artifact store when no other
 * version's source names it. */
void reg__mv_delete(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name;
    int64_t version;
    if (name_version(p, &name, &version, resp) == 0) {
        mp_err e = {0};
        store_model_version v = {0};
        if (req->st->r->version_get(req->st, name, version, &v, &e) != 0 ||
            req->st->r->version_delete(req->st, name, version, &e) != 0) {
            reg__store_error(resp, &e);
        } else {
            const char *src = v.source;
            reg__release_sources(req, &src, src ? 1 : 0);
            mp_http_json(resp, 200, json_object());
        }
        store_model_version_free(&v);
    }
    json_decref(p);
}

static const char *const default_order[] = {"last_updated_timestamp DESC", "name ASC", "version_number DESC"};

void reg__mv_search(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    reg_search s;
    store_model_version *v;
    size_t n;
    mp_err e = {0};
    if (reg__search_args(p, true, MAX_RESULTS_VERSIONS, MAX_RESULTS_VERSIONS, default_order, 3, &s, resp) != 0)
        goto out;
    if (req->st->r->version_search(req->st, &s.q, &v, &n, &e) != 0) {
        reg__store_error(resp, &e);
        goto out;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n && i < (size_t)s.max; i++) { /* only what the caller may list */
        char ns[128] = "default";
        if (req->authz && (req->st->r->model_namespace(req->st, v[i].name, ns, sizeof ns, &e) != 0 ||
                           !mp_http_allowed(req, "list", "models", ns)))
            continue;
        json_array_append_new(a, reg__version_json(&v[i]));
    }
    reg__search_reply(resp, &s, "model_versions", a, n);
    store_model_version_array_free(v, n);
out:
    reg__search_free(&s);
    json_decref(p);
}

void reg__mv_transition(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *version, *stage_in, *stage;
    bool archive;
    int64_t v;
    if (reg__str(p, "name", true, &name, resp) != 0 || reg__str(p, "version", true, &version, resp) != 0 ||
        reg__str(p, "stage", true, &stage_in, resp) != 0 || reg__bool(p, "archive_existing_versions", &archive, resp) != 0 ||
        !(stage = reg__stage(stage_in, resp)))
        goto out;
    if (archive && strcmp(stage, "Staging") != 0 && strcmp(stage, "Production") != 0) {
        /* MLflow raises this without an error code: its clients see INTERNAL_ERROR. */
        mp_http_mlflow_error(resp, 500, "INTERNAL_ERROR",
                             "Model version transition cannot archive existing model versions because '%s' is not "
                             "an Active stage. Valid stages are ['Staging', 'Production']",
                             stage_in);
        goto out;
    }
    if (reg__version(version, &v, resp) != 0) goto out;
    store_model_version mv;
    mp_err e = {0};
    if (req->st->r->version_transition(req->st, name, v, stage, archive, &mv, &e) != 0) reg__store_error(resp, &e);
    else send_version(resp, &mv);
out:
    json_decref(p);
}

void reg__mv_set_tag(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *key, *value;
    int64_t version;
    if (name_version(p, &name, &version, resp) == 0 && reg__str(p, "key", true, &key, resp) == 0 &&
        reg__str(p, "value", false, &value, resp) == 0 && reg__tag_ok(key, value, resp) == 0) {
        mp_err e = {0};
        if (req->st->r->version_set_tag(req->st, name, version, key, value ? value : "", &e) != 0)
            reg__store_error(resp, &e);
        else
            mp_http_json(resp, 200, json_object());
    }
    json_decref(p);
}

void reg__mv_delete_tag(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name, *key;
    int64_t version;
    if (name_version(p, &name, &version, resp) == 0 && reg__str(p, "key", true, &key, resp) == 0 &&
        reg__tag_ok(key, NULL, resp) == 0) {
        mp_err e = {0};
        if (req->st->r->version_delete_tag(req->st, name, version, key, &e) != 0) reg__store_error(resp, &e);
        else mp_http_json(resp, 200, json_object());
    }
    json_decref(p);
}

void reg__mv_download_uri(const mp_http_req *req, mp_http_resp *resp) {
    json_t *p = reg__params(req, resp);
    if (!p) return;
    const char *name;
    int64_t version;
    if (name_version(p, &name, &version, resp) == 0) {
        store_model_version v;
        mp_err e = {0};
        if (req->st->r->version_get(req->st, name, version, &v, &e) != 0) {
            reg__store_error(resp, &e);
        } else {
            mp_http_json(resp, 200, json_pack("{s:s}", "artifact_uri", v.source ? v.source : ""));
            store_model_version_free(&v);
        }
    }
    json_decref(p);
}
