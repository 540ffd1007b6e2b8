/* remote_models.c — a registered version's model fetched from a server, for
 * `mlplane serve models:/... --server URL`: the reference is sent to
 * GET /api/v1/models/NAME/versions/VERSION/model.json (or .../aliases/ALIAS/
 * model.json), which resolves it as the home would and answers the model file
 * in JSON with the version it resolved to (X-Model-Version); the file is
 * written into the caller's folder. One request, so an alias that moves
 * meanwhile cannot mix two versions. Single-threaded. */
#include "cli/remote_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
    mp_buf_append(ud, p, size * n);
    return size * n;
}

typedef struct fetched {
    char version[64];
    char name[256];
} fetched;

/* Keeps X-Model-Version and X-Model-Name of the answer. */
static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    fetched *f = ud;
    size_t len = size * n;
    static const struct { const char *name; size_t off, cap; } keep[] = {
        {"X-Model-Version:", offsetof(fetched, version), sizeof ((fetched *)0)->version},
        {"X-Model-Name:", offsetof(fetched, name), sizeof ((fetched *)0)->name}};
    for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
        size_t hl = strlen(keep[k].name);
        if (len <= hl || strncasecmp(p, keep[k].name, hl) != 0) continue;
        const char *v = p + hl, *end = p + len;
        while (v < end && (*v == ' ' || *v == '\t')) v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
        size_t vl = (size_t)(end - v) < keep[k].cap ? (size_t)(end - v) : keep[k].cap - 1;
        memcpy((char *)f + keep[k].off, v, vl);
        ((char *)f + keep[k].off)[vl] = '\0';
    }
    return len;
}

/* The server's path of ref's model.json: models:/NAME/VERSION or models:/NAME@ALIAS. */
static int path_of(CURL *c, const char *ref, char **out) {
    const char *spec = ref + strlen("models:/"), *at = strchr(spec, '@'), *slash = strchr(spec, '/');
    bool alias = at && !slash;
    const char *sep = alias ? at : slash;
    if (!sep || sep == spec || !sep[1] || (!alias && (at || strchr(slash + 1, '/'))))
        return cli_fail(CLI_USAGE, "%s: write models:/NAME/VERSION, models:/NAME/latest or models:/NAME@ALIAS", ref);
    char *name = mp_xstrndup(spec, (size_t)(sep - spec));
    char *en = curl_easy_escape(c, name, 0), *ev = curl_easy_escape(c, sep + 1, 0);
    *out = mp_xasprintf("/api/v1/models/%s/%s/%s/model.json", en, alias ? "aliases" : "versions", ev);
    curl_free(en);
    curl_free(ev);
    free(name);
    return 0;
}

int remote_model_fetch(cli_env *env, const char *ref, const char *dir, char **path, char **name, char **version) {
    *path = *name = *version = NULL;
    remote r;
    int st = remote__open(env, &r);
    if (st) return st;
    char *rel = NULL;
    st = path_of(r.c, ref, &rel);
    mp_buf body;
    mp_buf_init(&body);
    fetched f = {0};
    long status = 0;
    if (st == 0) {
        char *url = mp_xasprintf("%s%s", r.base, rel);
        CURL *c = r.c;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300000L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r.errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &f);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "mlplane/" MLPLANE_VERSION);
        struct curl_slist *h = remote__auth(&r, NULL);
        if (h) curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        r.errbuf[0] = '\0';
        CURLcode cc = curl_easy_perform(c);
        curl_slist_free_all(h);
        free(url);
        if (cc != CURLE_OK)
            st = cli_fail(CLI_FAILED, "%s: cannot reach the server at %s: %s; is `mlplane server` running?", ref, r.server,
                          r.errbuf[0] ? r.errbuf : curl_easy_strerror(cc));
        else
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    if (st == 0 && status != 200) {
        json_t *v = json_loadb(body.data, body.len, 0, NULL);
        const char *msg = json_string_value(json_object_get(v, "message"));
        int code = status == 400 ? CLI_USAGE : CLI_FAILED;
        if (msg) st = cli_fail(code, "%s: %s (said the server at %s)", ref, msg, r.server);
        else st = cli_fail(code, "%s: the server at %s answered HTTP %ld to GET %s", ref, r.server, status, rel);
        json_decref(v);
    }
    if (st == 0 && !f.version[0])
        st = cli_fail(CLI_FAILED, "%s: the server at %s did not say which version it sent (X-Model-Version): "
                      "is it an mlplane server?", ref, r.server);
    mp_err e = {0};
    if (st == 0) {
        *path = mp_xasprintf("%s/model.json", dir);
        if (mp_mkdir_p(dir, &e) != 0 || mp_write_file_atomic(*path, body.data, body.len, &e) != 0) {
            st = cli_fail(CLI_FAILED, "%s: %s (--model-dir)", ref, e.msg);
            free(*path);
            *path = NULL;
        }
    }
    if (st == 0) {
        *version = mp_xstrdup(f.version);
        if (f.name[0]) {
            *name = mp_xstrdup(f.name);
        } else {
            const char *spec = ref + strlen("models:/");
            *name = mp_xstrndup(spec, strcspn(spec, "/@"));
        }
    }
    mp_buf_free(&body);
    free(rel);
    remote__close(&r);
    return st;
}
