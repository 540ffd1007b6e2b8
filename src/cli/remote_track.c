/* remote_track.c — `get experiments`, `models list|get` and `get nodes` with
 * --server: the experiments and the registry through the server's MLflow REST
 * API (experiments/search, registered-models/search|get, model-versions/search,
 * every page of each), the nodes through GET /api/v1/nodes. They print through
 * the same functions as the embedded commands (cmd_models.c, cmd_nodes.c), so
 * the columns and -o json|yaml are the same. Single-threaded. */
#include "cli/remote_int.h"

#include <stdlib.h>
#include <string.h>

enum { PAGE = 1000 };

/* Every page of a search: GETs path + "&page_token=..." until no next_page_token
 * comes, appending the items under key to *all (a new array). 0 or an exit status. */
static int search_all(remote *r, const char *path, const char *key, json_t **all) {
    *all = json_array();
    char *token = NULL;
    for (;;) {
        char *p = token ? mp_xasprintf("%s&page_token=%s", path, token) : mp_xstrdup(path);
        free(token);
        token = NULL;
        reply y;
        int status = remote__get_json(r, p, JSON_OBJECT, &y);
        free(p);
        if (status) {
            json_decref(*all);
            *all = NULL;
            return status;
        }
        json_array_extend(*all, json_object_get(y.json, key) ? json_object_get(y.json, key) : json_array());
        const char *next = json_string_value(json_object_get(y.json, "next_page_token"));
        if (next && *next) {
            char *esc = curl_easy_escape(r->c, next, 0);
            token = mp_xstrdup(esc ? esc : "");
            curl_free(esc);
        }
        remote__reply_free(&y);
        if (!token) return 0;
    }
}

int remote_get_experiments(cli_env *env, cli_out out) {
    remote r;
    int status = remote__open(env, &r);
    if (status) return status;
    json_t *all = NULL;
    char path[128];
    snprintf(path, sizeof path, "/api/2.0/mlflow/experiments/search?view_type=ACTIVE_ONLY&max_results=%d", PAGE);
    status = search_all(&r, path, "experiments", &all);
    if (status == 0) status = cli_print_experiments(all, out);
    json_decref(all);
    remote__close(&r);
    return status;
}

static int models_list(remote *r, cli_out out) {
    json_t *found = NULL;
    char path[128];
    snprintf(path, sizeof path, "/api/2.0/mlflow/registered-models/search?order_by=name%%20ASC&max_results=%d", PAGE);
    int status = search_all(r, path, "registered_models", &found);
    if (status) return status;
    json_t *full = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(found, i, m) {
        /* the full model, with its latest versions and aliases, as the embedded table reads it */
        char *esc = curl_easy_escape(r->c, cli_jstr(m, "name", ""), 0);
        char *p = mp_xasprintf("/api/2.0/mlflow/registered-models/get?name=%s", esc ? esc : "");
        curl_free(esc);
        reply y;
        status = remote__get_json(r, p, JSON_OBJECT, &y);
        free(p);
        if (status) break;
        json_t *rm = json_object_get(y.json, "registered_model");
        json_array_append(full, rm ? rm : m);
        remote__reply_free(&y);
    }
    if (status == 0) status = cli_print_models(found, full, out);
    json_decref(found);
    json_decref(full);
    return status;
}

static int by_version_desc(const void *a, const void *b) {
    long long x = atoll(cli_jstr(*(json_t *const *)a, "version", "0"));
    long long y = atoll(cli_jstr(*(json_t *const *)b, "version", "0"));
    return x < y ? 1 : x > y ? -1 : 0;
}

static int models_get(remote *r, const char *name, cli_out out) {
    char *esc = curl_easy_escape(r->c, name, 0);
    char *p = mp_xasprintf("/api/2.0/mlflow/registered-models/get?name=%s", esc ? esc : "");
    curl_free(esc);
    reply y;
    int status = remote__call(r, "GET", p, NULL, &y);
    free(p);
    if (status) return status;
    json_t *m = json_object_get(y.json, "registered_model");
    if (y.status != 200 || !json_is_object(m)) {
        const char *msg = json_string_value(json_object_get(y.json, "message"));
        status = msg ? cli_fail(CLI_FAILED, "%s (see mlplane models list)", msg) : remote__fail_reply(&y);
        remote__reply_free(&y);
        return status;
    }
    /* name = 'NAME' in MLflow's filter language: a quote inside is doubled */
    mp_buf f;
    mp_buf_init(&f);
    mp_buf_puts(&f, "name='");
    for (const char *c = name; *c; c++) mp_buf_puts(&f, *c == '\'' ? "''" : (char[]){*c, 0});
    mp_buf_putc(&f, '\'');
    char *fesc = curl_easy_escape(r->c, f.data, 0);
    mp_buf_free(&f);
    p = mp_xasprintf("/api/2.0/mlflow/model-versions/search?filter=%s&max_results=%d", fesc ? fesc : "", PAGE);
    curl_free(fesc);
    json_t *vs = NULL;
    status = search_all(r, p, "model_versions", &vs);
    free(p);
    if (status == 0) {
        size_t n = json_array_size(vs);
        json_t **v = mp_xcalloc(n + 1, sizeof *v);
        for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(vs, i));
        qsort(v, n, sizeof *v, by_version_desc);
        json_t *sorted = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(sorted, v[i]);
        free(v);
        status = cli_print_model(m, sorted, out);
        json_decref(sorted);
    }
    json_decref(vs);
    remote__reply_free(&y);
    return status;
}

int remote_models(cli_env *env, const char *name, cli_out out) {
    remote r;
    int status = remote__open(env, &r);
    if (status) return status;
    status = name ? models_get(&r, name, out) : models_list(&r, out);
    remote__close(&r);
    return status;
}

int remote_get_nodes(cli_env *env, cli_out out) {
    remote r;
    int status = remote__open(env, &r);
    if (status) return status;
    reply y;
    status = remote__get_json(&r, "/api/v1/nodes", JSON_ARRAY, &y);
    if (status == 0) {
        status = cli_print_nodes(y.json, out);
        remote__reply_free(&y);
    }
    remote__close(&r);
    return status;
}
