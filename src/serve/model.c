/* model.c — served models: the runtime table, loading a model file with the
 * runtime that reads it, and resolving what a user names (a file, a folder, a
 * registry reference) into a file, a name and a version.
 *
 * Registry references are resolved through the store of the home (store->r):
 *   models:/NAME/VERSION   that version (a number), or "latest": the highest
 *   models:/NAME/STAGE     the latest version in a stage (None, Staging,
 *                          Production, Archived; any case, as MLflow)
 *   models:/NAME@ALIAS     the version the alias points at
 * The version's source is a local path, a file:// URI or an
 * mlflow-artifacts:/ URI (HOME/artifacts/...); a folder is searched for the
 * one model file in it. Threads: any; nothing global is written. */
#include "serve/serve.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/store.h"

/* ---- runtimes ------------------------------------------------------------------------ */

/* Asked in this order; the first that accepts a file's name loads it. */
static const serve_runtime *const runtimes[] = {&serve_runtime_xgboost};

const serve_runtime *serve_runtime_for(const char *path) {
    for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++)
        if (runtimes[i]->accepts(path)) return runtimes[i];
    return NULL;
}

/* ---- models ------------------------------------------------------------------------- */

int serve_model_load(const char *path, const char *name, const char *version, serve_model **out, mp_err *e) {
    *out = NULL;
    const serve_runtime *rt = serve_runtime_for(path);
    if (!rt) return mp_err_set(e, MP_EINVAL, "no runtime reads %s: XGBoost models end in .json or .ubj", path);
    serve_model *m = mp_xcalloc(1, sizeof *m);
    int rc = rt->load(path, &m->state, &m->meta, e);
    if (rc != 0) {
        free(m);
        return rc;
    }
    m->rt = rt;
    mp_buf clean; /* names go into JSON and headers: valid UTF-8 */
    mp_buf_init(&clean);
    mp_utf8_clean(&clean, name, strlen(name), false);
    m->name = mp_buf_steal(&clean);
    m->version = mp_xstrdup(version);
    m->path = mp_xstrdup(path);
    mp_strlcpy(m->input_name, "input-0", sizeof m->input_name);
    mp_strlcpy(m->output_name, "predict", sizeof m->output_name);
    *out = m;
    return 0;
}

int serve_model_save(const serve_model *m, const char *format, mp_buf *out, mp_err *e) {
    if (!m->rt->save) return mp_err_set(e, MP_EINVAL, "the %s runtime cannot write its models", m->rt->name);
    return m->rt->save(m->state, format, out, e);
}

void serve_model_free(serve_model *m) {
    if (!m) return;
    if (m->rt && m->state) m->rt->unload(m->state);
    free(m->name);
    free(m->version);
    free(m->path);
    free(m);
}

/* ---- resolving references ------------------------------------------------------------- */

void serve_ref_free(serve_ref *r) {
    free(r->path);
    free(r->name);
    free(r->version);
    memset(r, 0, sizeof *r);
}

/* The model file of a folder: model.EXT when one exists, else the only file a
 * runtime reads. *out is heap. */
static int model_in_dir(const char *dir, char **out, mp_err *e) {
    DIR *d = opendir(dir);
    if (!d) return mp_err_set(e, MP_EIO, "cannot read the folder %s: %s", dir, strerror(errno));
    mp_strv found;
    memset(&found, 0, sizeof found);
    char *preferred = NULL;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !serve_runtime_for(de->d_name)) continue;
        char *p = mp_xasprintf("%s/%s", dir, de->d_name);
        if (mp_is_dir(p)) {
            free(p);
            continue;
        }
        if (!preferred && mp_str_starts(de->d_name, "model.")) preferred = mp_xstrdup(p);
        mp_strv_push_owned(&found, p);
    }
    closedir(d);
    int rc = 0;
    if (preferred) {
        *out = preferred;
    } else if (found.n == 1) {
        *out = mp_xstrdup(found.v[0]);
    } else if (found.n == 0) {
        rc = mp_err_set(e, MP_ENOENT, "the folder %s holds no model file (XGBoost: .json or .ubj)", dir);
    } else {
        rc = mp_err_set(e, MP_EINVAL, "the folder %s holds %zu model files; name one of them (e.g. %s)", dir, found.n,
                        found.v[0]);
    }
    mp_strv_free(&found);
    return rc;
}

/* A model file from a path that is a file or a folder holding one. */
static int model_file(const char *path, char **out, mp_err *e) {
    if (!mp_path_exists(path)) return mp_err_set(e, MP_ENOENT, "model file %s does not exist", path);
    if (mp_is_dir(path)) return model_in_dir(path, out, e);
    *out = mp_xstrdup(path);
    return 0;
}

/* The first 12 hex digits of the SHA-256 of a file (as sha256sum prints it). */
static int file_digest(const char *path, char out[13], mp_err *e) {
    char *data = NULL;
    size_t len = 0;
    int rc = mp_read_file(path, &data, &len, e);
    if (rc != 0) return rc;
    mp_hash h;
    mp_hash_init(&h);
    mp_hash_bytes(&h, data, len);
    char hex[65];
    mp_hash_final_hex(&h, hex);
    mp_strlcpy(out, hex, 13);
    free(data);
    return 0;
}

/* The local path of a registry version's source. */
static int source_path(const char *home, const store_model_version *v, char **out, mp_err *e) {
    const char *src = v->source ? v->source : "";
    static const char art[] = "mlflow-artifacts:/";
    if (mp_str_starts(src, "file://")) src += 7;
    if (mp_str_starts(src, art)) {
        const char *rest = src + sizeof art - 1;
        while (*rest == '/') rest++;
        if (strstr(rest, "..")) return mp_err_set(e, MP_EINVAL, "source %s of model %s version %lld climbs out of the artifact store",
                                                  v->source, v->name, (long long)v->version);
        *out = mp_xasprintf("%s/artifacts/%s", home, rest);
        return 0;
    }
    if (src[0] != '/')
        return mp_err_set(e, MP_EINVAL,
                          "source \"%s\" of model %s version %lld is not a local path (a path, file:// or mlflow-artifacts:/)",
                          v->source ? v->source : "", v->name, (long long)v->version);
    *out = mp_xstrdup(src);
    return 0;
}

/* MLflow's stages, matched as its models:/NAME/STAGE URIs match them (any case). */
static const char *canonical_stage(const char *s) {
    static const char *const stages[] = {"None", "Staging", "Production", "Archived"};
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++)
        if (strcasecmp(s, stages[i]) == 0) return stages[i];
    return NULL;
}

/* The highest version number of a registered model, in stage (NULL: any). */
static int latest_version(store *st, const char *name, const char *stage, int64_t *out, mp_err *e) {
    store_model_version *v = NULL;
    size_t n = 0;
    int rc = st->r->version_latest(st, name, stage ? &stage : NULL, stage ? 1 : 0, &v, &n, e);
    if (rc != 0) return rc;
    *out = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].version > *out) *out = v[i].version;
    store_model_version_array_free(v, n);
    if (*out == 0 && !stage) return mp_err_set(e, MP_ENOENT, "registered model %s has no versions", name);
    if (*out == 0)
        return mp_err_set(e, MP_ENOENT,
                          "registered model %s has no version in stage %s (move one there with POST "
                          "/api/2.0/mlflow/model-versions/transition-stage)",
                          name, stage);
    return 0;
}

/* models:/NAME/VERSION, models:/NAME/STAGE or models:/NAME@ALIAS -> the version record. */
static int registry_lookup(store *st, const char *ref, const char *spec, store_model_version *v, mp_err *e) {
    const char *at = strchr(spec, '@'), *slash = strchr(spec, '/');
    if (at && !slash) {
        char *name = mp_xstrndup(spec, (size_t)(at - spec));
        const char *alias = at + 1;
        int rc = 0;
        if (!*name || !*alias) rc = mp_err_set(e, MP_EINVAL, "%s: write models:/NAME@ALIAS", ref);
        if (rc == 0) {
            rc = st->r->alias_get(st, name, alias, v, e);
            if (rc == MP_EINVAL) /* the registry's answer for an alias that is not set */
                rc = mp_err_set(e, MP_ENOENT, "%s: registered model %s has no alias %s", ref, name, alias);
        }
        free(name);
        return rc;
    }
    if (!slash || at || strchr(slash + 1, '/') || slash == spec || !slash[1])
        return mp_err_set(e, MP_EINVAL, "%s: write models:/NAME/VERSION or models:/NAME@ALIAS", ref);
    char *name = mp_xstrndup(spec, (size_t)(slash - spec));
    const char *ver = slash + 1;
    int64_t num = 0;
    int rc = 0;
    const char *stage = canonical_stage(ver);
    if (strcmp(ver, "latest") == 0) {
        rc = latest_version(st, name, NULL, &num, e);
    } else if (stage) {
        rc = latest_version(st, name, stage, &num, e);
        if (rc == MP_ENOENT) mp_err_prefix(e, "%s", ref);
    } else {
        char *end;
        errno = 0;
        long long x = strtoll(ver, &end, 10);
        if (*end || errno || x < 1 || ver[0] == '+' || ver[0] == ' ')
            rc = mp_err_set(e, MP_EINVAL, "%s: the version must be a number from 1 up, latest or a stage (None, Staging, Production, Archived), got \"%s\"", ref, ver);
        num = x;
    }
    if (rc == 0) rc = st->r->version_get(st, name, num, v, e);
    free(name);
    return rc;
}

int serve_ref_resolve_store(struct store *st, const char *home, const char *ref, serve_ref *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    if (!ref || !mp_str_starts(ref, "models:/"))
        return mp_err_set(e, MP_EINVAL, "%s: not a registry reference (models:/NAME/VERSION)", ref ? ref : "");
    store_model_version v;
    memset(&v, 0, sizeof v);
    int rc = registry_lookup(st, ref, ref + strlen("models:/"), &v, e);
    bool have = rc == 0;
    char *src = NULL;
    if (rc == 0) rc = source_path(home, &v, &src, e);
    if (rc == 0) {
        rc = model_file(src, &out->path, e);
        if (rc != 0) mp_err_prefix(e, "%s (version %lld of %s)", ref, (long long)v.version, v.name);
    }
    if (rc == 0) {
        out->name = mp_xstrdup(v.name);
        out->version = mp_xasprintf("%lld", (long long)v.version);
    }
    if (have) store_model_version_free(&v);
    free(src);
    if (rc != 0) serve_ref_free(out);
    return rc;
}

static int resolve_registry(const char *ref, const char *home, serve_ref *out, mp_err *e) {
    if (!home) return mp_err_set(e, MP_EINVAL, "%s: a registry reference needs a home (--home or MLPLANE_HOME)", ref);
    store *st = NULL;
    int rc = store_open_home(home, &st, e);
    if (rc != 0) return rc;
    rc = serve_ref_resolve_store(st, home, ref, out, e);
    st->m->close(st);
    return rc;
}

int serve_ref_resolve(const char *ref, const char *home, serve_ref *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    if (!ref || !*ref) return mp_err_set(e, MP_EINVAL, "no model named: give a model file or models:/NAME/VERSION");
    int rc;
    if (mp_str_starts(ref, "models:/")) {
        rc = resolve_registry(ref, home, out, e);
    } else if (strstr(ref, ":/") && !mp_path_exists(ref)) {
        rc = mp_err_set(e, MP_EINVAL, "%s: only models:/ references and local paths can be served", ref);
    } else {
        rc = model_file(ref, &out->path, e);
        char digest[13];
        if (rc == 0) rc = file_digest(out->path, digest, e);
        if (rc == 0) {
            /* A folder names the model; a file names it without its extension. */
            char *dir = mp_is_dir(ref) ? mp_path_abs(NULL, ref) : NULL;
            const char *named = dir ? dir : out->path;
            const char *base = strrchr(named, '/');
            base = base && base[1] ? base + 1 : named;
            const char *dot = strrchr(base, '.');
            out->name = !dir && dot && dot != base ? mp_xstrndup(base, (size_t)(dot - base)) : mp_xstrdup(base);
            out->version = mp_xstrdup(digest);
            free(dir);
        }
    }
    if (rc != 0) serve_ref_free(out);
    return rc;
}
