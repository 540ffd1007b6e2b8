/* artstore.c — the registry's content-addressed artifact store (store.h):
 * HOME/artifacts/sha256/HE/HEX/NAME holds the file or the directory tree of
 * registered model versions, as long as a version's source names it.
 *
 * HEX: for a file the SHA-256 of its bytes (what sha256sum prints); for a
 * directory the SHA-256 of its tree as mp_hash_path computes it (each entry's
 * relative path, kind and bytes, in name order). HE: its first two digits. NAME:
 * the file's or the directory's own name (runtimes read the format from it). So
 * equal bytes are stored once; two NAMEs of equal bytes share HEX but are two
 * blobs. Files are hard-linked (copied across file systems); a directory is
 * linked into HEX/.tmp-XXXXXX and renamed to HEX/NAME, so NAME is whole or
 * absent.
 *
 * Collection: a blob is HE/HEX/NAME. It is referenced when a model version's
 * source (mlflow-artifacts:/sha256/..., file://PATH or an absolute path into
 * HOME/artifacts) names it, lies inside it, or contains it. Collecting runs under
 * the store's write lock (begin(), BEGIN IMMEDIATE, nothing written): a
 * registration stores its blob and records its version inside one such
 * transaction (the engine's), so the collector never sees a blob whose version
 * is on its way. Release runs after a deletion is committed (a crash in between
 * leaves an orphan), the sweep finds orphans, and leftovers of an interrupted
 * directory copy (.tmp-*). Entries whose names are not HE/HEX are left alone.
 * Threads: any, with the caller's store handle. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ART_SCHEME "mlflow-artifacts:/"
#define STAGING ".tmp-"

static bool all_hex(const char *s, size_t n) {
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* ---- put ------------------------------------------------------------------------------ */

/* HEX of a file (its bytes) or a directory (its tree). */
static int digest(const char *path, bool dir, char hex[65], mp_err *e) {
    mp_hash h;
    mp_hash_init(&h);
    if (dir) {
        int rc = mp_hash_path(&h, path, e);
        if (rc != 0) return rc;
    } else {
        char *data = NULL;
        size_t len = 0;
        int rc = mp_read_file(path, &data, &len, e);
        if (rc != 0) return rc;
        mp_hash_bytes(&h, data, len);
        free(data);
    }
    mp_hash_final_hex(&h, hex);
    return 0;
}

int store_artstore_digest(const char *path, char hex[65], mp_err *e) {
    return digest(path, mp_is_dir(path), hex, e);
}

/* Links the tree at path into HEX/.tmp-XXXXXX and renames it to dest; a dest
 * already there is kept (the same bytes). */
static int put_tree(const char *path, const char *hexdir, const char *dest, mp_err *e) {
    if (mp_is_dir(dest)) return 0;
    char *tmp = mp_xasprintf("%s/" STAGING "XXXXXX", hexdir);
    int rc = 0;
    if (!mkdtemp(tmp)) rc = mp_err_set(e, MP_EIO, "cannot create a folder in %s: %s", hexdir, strerror(errno));
    if (rc == 0) rc = mp_link_tree(path, tmp, e);
    if (rc == 0 && rename(tmp, dest) != 0 && !((errno == EEXIST || errno == ENOTEMPTY) && mp_is_dir(dest)))
        rc = mp_err_set(e, MP_EIO, "cannot rename %s to %s: %s", tmp, dest, strerror(errno));
    mp_err ignored;
    if (mp_path_exists(tmp)) mp_rm_rf(tmp, &ignored);
    free(tmp);
    return rc;
}

int store_artstore_put(const char *home, const char *path, char **uri, mp_err *e) {
    *uri = NULL;
    char *clean = mp_xstrdup(path);
    size_t l = strlen(clean);
    while (l > 1 && clean[l - 1] == '/') clean[--l] = '\0';
    const char *base = strrchr(clean, '/');
    base = base ? base + 1 : clean;
    bool dir = mp_is_dir(clean);
    char hex[65];
    int rc = strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || !*base
                 ? mp_err_set(e, MP_EINVAL, "%s has no name of its own to store it under", path)
                 : digest(clean, dir, hex, e);
    char *hexdir = rc == 0 ? mp_xasprintf("%s/artifacts/sha256/%.2s/%s", home, hex, hex) : NULL;
    char *dest = hexdir ? mp_xasprintf("%s/%s", hexdir, base) : NULL;
    if (rc == 0) rc = mp_mkdir_p(hexdir, e);
    if (rc == 0) rc = dir ? put_tree(clean, hexdir, dest, e) : mp_link_tree(clean, dest, e);
    if (rc == 0) *uri = mp_xasprintf(ART_SCHEME "sha256/%.2s/%s/%s", hex, hex, base);
    free(dest);
    free(hexdir);
    free(clean);
    return rc == 0 ? 0 : mp_err_prefix(e, "storing the registered artifact %s", path);
}

/* ---- references ------------------------------------------------------------------------- */

/* The path of a source relative to HOME/artifacts, cleaned (heap), or NULL when it
 * is not in it. roots: HOME/artifacts, as written and resolved. */
static char *rel_of(const char *src, const mp_strv *roots) {
    if (!src) return NULL;
    if (mp_str_starts(src, ART_SCHEME)) {
        char *abs = mp_path_abs("/", src + strlen(ART_SCHEME));
        char *rel = mp_xstrdup(abs + 1);
        free(abs);
        return rel;
    }
    if (mp_str_starts(src, "file://")) src += 7;
    if (src[0] != '/') return NULL;
    char *abs = mp_path_abs(NULL, src);
    char *rel = NULL;
    for (size_t i = 0; i < roots->n && !rel; i++) {
        size_t n = strlen(roots->v[i]);
        if (strncmp(abs, roots->v[i], n) == 0 && (abs[n] == '/' || abs[n] == '\0'))
            rel = mp_xstrdup(abs[n] ? abs + n + 1 : "");
    }
    free(abs);
    return rel;
}

static void roots_of(const char *home, mp_strv *roots) {
    char *dir = mp_xasprintf("%s/artifacts", home);
    char *abs = mp_path_abs(NULL, dir);
    mp_strv_push_owned(roots, abs);
    char *real = realpath(dir, NULL);
    if (real) mp_strv_push_owned(roots, real);
    free(dir);
}

/* Every version's source, as a path relative to HOME/artifacts (those elsewhere
 * left out), into refs. */
static int all_refs(store *st, const mp_strv *roots, mp_strv *refs, mp_err *e) {
    store_reg_query q = {.limit = -1};
    store_model_version *vs = NULL;
    size_t n = 0;
    int rc = st->r->version_search(st, &q, &vs, &n, e);
    if (rc != 0) return rc;
    for (size_t i = 0; i < n; i++) {
        char *r = rel_of(vs[i].source, roots);
        if (r) mp_strv_push_owned(refs, r);
    }
    store_model_version_array_free(vs, n);
    return 0;
}

/* Whether a is b or lies inside it (paths relative to one root, clean). */
static bool within(const char *a, const char *b) {
    size_t n = strlen(b);
    return n == 0 || (strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/'));
}

static bool referenced(const mp_strv *refs, const char *blob) {
    for (size_t i = 0; i < refs->n; i++)
        if (within(refs->v[i], blob) || within(blob, refs->v[i])) return true;
    return false;
}

/* The blob a path relative to HOME/artifacts lies in, "sha256/HE/HEX/NAME" (heap),
 * or NULL when it is not one. */
static char *blob_of(const char *rel) {
    char *parts[4] = {0};
    char *copy = mp_xstrdup(rel), *save = NULL, *out = NULL;
    size_t k = 0;
    for (char *p = strtok_r(copy, "/", &save); p && k < 4; p = strtok_r(NULL, "/", &save)) parts[k++] = p;
    if (k == 4 && strcmp(parts[0], "sha256") == 0 && all_hex(parts[1], 2) && all_hex(parts[2], 64) &&
        strncmp(parts[1], parts[2], 2) == 0 && !mp_str_starts(parts[3], STAGING))
        out = mp_xasprintf("sha256/%s/%s/%s", parts[1], parts[2], parts[3]);
    free(copy);
    return out;
}

/* Removes HOME/artifacts/blob, then its HEX and HE folders when they are empty. */
static int remove_blob(const char *home, const char *blob, mp_err *e) {
    char *path = mp_xasprintf("%s/artifacts/%s", home, blob);
    int rc = mp_rm_rf(path, e);
    for (int up = 0; up < 2 && rc == 0; up++) {
        char *parent = mp_path_dir(path);
        free(path);
        path = parent;
        if (rmdir(path) != 0) break; /* not empty (another blob), or gone */
    }
    free(path);
    return rc;
}

/* Opens the store's write transaction; the collector only reads in it. */
static int lock(store *st, mp_err *e) {
    int rc = st->m->begin(st, e);
    return rc == 0 ? 0 : mp_err_prefix(e, "collecting the artifact store");
}

/* ---- release and sweep --------------------------------------------------------------------- */

int store_artstore_release(store *st, const char *home, const char *const *sources, size_t n, size_t *removed,
                           mp_err *e) {
    if (removed) *removed = 0;
    mp_strv roots = {0}, refs = {0}, cands = {0};
    roots_of(home, &roots);
    for (size_t i = 0; i < n; i++) {
        char *rel = rel_of(sources[i], &roots);
        char *b = rel ? blob_of(rel) : NULL;
        if (b) mp_strv_push_owned(&cands, b);
        free(rel);
    }
    int rc = cands.n ? lock(st, e) : 0;
    if (rc == 0 && cands.n) {
        rc = all_refs(st, &roots, &refs, e);
        for (size_t i = 0; i < cands.n && rc == 0; i++) {
            char *p = mp_xasprintf("%s/artifacts/%s", home, cands.v[i]);
            bool there = mp_path_exists(p);
            free(p);
            if (!there || referenced(&refs, cands.v[i])) continue;
            rc = remove_blob(home, cands.v[i], e);
            if (rc == 0 && removed) (*removed)++;
        }
        st->m->rollback(st);
    }
    mp_strv_free(&cands);
    mp_strv_free(&refs);
    mp_strv_free(&roots);
    return rc;
}

/* The names in dir (without . and ..), into names; false when it cannot be read. */
static bool list_dir(const char *dir, mp_strv *names) {
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) mp_strv_push(names, de->d_name);
    closedir(d);
    return true;
}

/* Sweeps HOME/artifacts/sha256/HE/HEX: its blobs no reference names, and
 * staging leftovers. */
static int sweep_hex(const char *home, const char *he, const char *hex, const mp_strv *refs, size_t *removed,
                     mp_err *e) {
    char *dir = mp_xasprintf("%s/artifacts/sha256/%s/%s", home, he, hex);
    mp_strv names = {0};
    list_dir(dir, &names);
    int rc = 0;
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        char *blob = mp_xasprintf("sha256/%s/%s/%s", he, hex, names.v[i]);
        if (mp_str_starts(names.v[i], STAGING) || !referenced(refs, blob)) {
            rc = remove_blob(home, blob, e);
            if (rc == 0) (*removed)++;
        }
        free(blob);
    }
    if (rc == 0 && names.n == 0 && rmdir(dir) == 0) { /* an empty HEX folder: a removal cut short */
        char *up = mp_path_dir(dir);
        rmdir(up);
        free(up);
    }
    mp_strv_free(&names);
    free(dir);
    return rc;
}

int store_artstore_sweep(store *st, const char *home, size_t *removed, mp_err *e) {
    *removed = 0;
    char *top = mp_xasprintf("%s/artifacts/sha256", home);
    mp_strv roots = {0}, refs = {0}, hes = {0};
    int rc = 0;
    if (list_dir(top, &hes) && hes.n > 0) {
        roots_of(home, &roots);
        rc = lock(st, e);
        if (rc == 0) {
            rc = all_refs(st, &roots, &refs, e);
            for (size_t i = 0; i < hes.n && rc == 0; i++) {
                if (!all_hex(hes.v[i], 2)) continue;
                char *hedir = mp_xasprintf("%s/%s", top, hes.v[i]);
                mp_strv hexes = {0};
                list_dir(hedir, &hexes);
                for (size_t j = 0; j < hexes.n && rc == 0; j++)
                    if (all_hex(hexes.v[j], 64) && strncmp(hexes.v[j], hes.v[i], 2) == 0)
                        rc = sweep_hex(home, hes.v[i], hexes.v[j], &refs, removed, e);
                mp_strv_free(&hexes);
                free(hedir);
            }
            st->m->rollback(st);
        }
    }
    mp_strv_free(&hes);
    mp_strv_free(&refs);
    mp_strv_free(&roots);
    free(top);
    return rc;
}
