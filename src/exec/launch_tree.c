/* launch_tree.c — artifacts as trees of content-addressed blobs: a file or a
 * folder read once (mp_hash_path_visit) into its tree hash — the step cache's
 * hash, so an artifact has one name on a laptop and on a cluster — and a
 * manifest naming its chunks; the upload of a tree and its fetch (blobs
 * streamed into a staging path beside the destination, its tree hash checked,
 * then renamed into place, so a destination is whole or absent).
 *
 * Memory: at most one chunk (LAUNCH_CHUNK) of a file at a time, whatever the
 * artifact's size. Single-threaded. */
#include "exec/launch_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT "mlplane-tree-v1"

typedef struct build_ud {
    size_t chunk_max;
    exec__chunk_fn on_chunk;
    void *ud;
    json_t *entries;
    json_t *cur;       /* the file being read: its entry */
    mp_hash ch;        /* the current chunk's SHA-256 */
    unsigned char *buf; /* the current chunk's bytes (chunk_max > 0) */
    size_t len;        /* bytes in the current chunk */
    int64_t total;
} build_ud;

static int chunk_end(build_ud *b, mp_err *e) {
    char hex[65];
    mp_hash_final_hex(&b->ch, hex);
    json_array_append_new(json_object_get(b->cur, "chunks"), json_string(hex));
    int rc = b->on_chunk ? b->on_chunk(b->ud, hex, b->chunk_max ? b->buf : NULL, b->len, e) : 0;
    b->len = 0;
    mp_hash_init(&b->ch);
    return rc;
}

static int on_entry(void *ud, const char *rel, const char *full, bool is_dir, mp_err *e) {
    build_ud *b = ud;
    (void)e;
    json_t *o = json_pack("{s:s,s:s}", "path", rel, "kind", is_dir ? "dir" : "file");
    if (!is_dir) {
        struct stat sb;
        bool x = stat(full, &sb) == 0 && (sb.st_mode & S_IXUSR);
        json_object_set_new(o, "size", json_integer(0));
        json_object_set_new(o, "executable", json_boolean(x));
        json_object_set_new(o, "chunks", json_array());
        b->cur = o;
        b->len = 0;
        mp_hash_init(&b->ch);
    }
    json_array_append_new(b->entries, o);
    return 0;
}

static int on_bytes(void *ud, const void *p, size_t n, mp_err *e) {
    build_ud *b = ud;
    const unsigned char *s = p;
    json_t *sz = json_object_get(b->cur, "size");
    json_integer_set(sz, json_integer_value(sz) + (json_int_t)n);
    b->total += (int64_t)n;
    while (n > 0) {
        size_t take = n;
        if (b->chunk_max && take > b->chunk_max - b->len) take = b->chunk_max - b->len;
        mp_hash_bytes(&b->ch, s, take);
        if (b->chunk_max) memcpy(b->buf + b->len, s, take);
        b->len += take;
        s += take;
        n -= take;
        if (b->chunk_max && b->len == b->chunk_max) {
            int rc = chunk_end(b, e);
            if (rc != 0) return rc;
        }
    }
    return 0;
}

static int on_file_end(void *ud, mp_err *e) {
    build_ud *b = ud;
    int rc = b->len > 0 ? chunk_end(b, e) : 0;
    b->cur = NULL;
    return rc;
}

int exec__tree_build(const char *path, size_t chunk_max, exec__chunk_fn on_chunk, void *ud, json_t **manifest,
                     char tree[65], mp_err *e) {
    *manifest = NULL;
    build_ud b = {.chunk_max = chunk_max, .on_chunk = on_chunk, .ud = ud, .entries = json_array()};
    if (chunk_max) b.buf = malloc(chunk_max);
    if (chunk_max && !b.buf) abort();
    mp_hash h;
    mp_hash_init(&h);
    mp_hash_visit v = {.entry = on_entry, .bytes = on_bytes, .file_end = on_file_end, .ud = &b};
    int rc = mp_hash_path_visit(&h, path, &v, e);
    free(b.buf);
    if (rc != 0) {
        json_decref(b.entries);
        return rc;
    }
    mp_hash_final_hex(&h, tree);
    json_t *root = json_array_get(b.entries, 0);
    *manifest = json_pack("{s:s,s:s,s:s,s:I,s:o}", "format", FORMAT, "sha256", tree, "kind",
                          json_string_value(json_object_get(root, "kind")), "size", (json_int_t)b.total, "entries",
                          b.entries);
    return 0;
}

char *exec__tree_manifest_path(const char *hex) {
    return mp_xasprintf("mlplane/trees/%.2s/%s.json", hex, hex);
}

static bool hex64(const char *s) {
    if (!s || strlen(s) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

int exec__tree_check(const json_t *m, mp_err *e) {
    const char *fmt = json_string_value(json_object_get(m, "format"));
    if (!fmt || strcmp(fmt, FORMAT) != 0)
        return mp_err_set(e, MP_EINVAL, "the manifest's format is \"%s\", not " FORMAT, fmt ? fmt : "");
    if (!hex64(json_string_value(json_object_get(m, "sha256"))))
        return mp_err_set(e, MP_EINVAL, "the manifest's sha256 is not 64 lowercase hex digits");
    json_t *ents = json_object_get(m, "entries");
    if (!json_is_array(ents) || json_array_size(ents) == 0)
        return mp_err_set(e, MP_EINVAL, "the manifest has no entries");
    size_t i;
    json_t *o;
    json_array_foreach(ents, i, o) {
        const char *p = json_string_value(json_object_get(o, "path"));
        const char *k = json_string_value(json_object_get(o, "kind"));
        bool file = k && strcmp(k, "file") == 0, dir = k && strcmp(k, "dir") == 0;
        if (!p || (i == 0 ? *p != '\0' : !exec__launch_safe_rel(p)))
            return mp_err_set(e, MP_EINVAL, "the manifest's entries[%zu].path is not %s", i,
                              i == 0 ? "\"\" (the root comes first)" : "a relative path inside the tree");
        if (!file && !dir) return mp_err_set(e, MP_EINVAL, "the manifest's entries[%zu].kind is not file or dir", i);
        if (i > 0 && strcmp(json_string_value(json_object_get(json_array_get(ents, 0), "kind")), "dir") != 0)
            return mp_err_set(e, MP_EINVAL, "the manifest of a file has more than one entry");
        if (!file) continue;
        json_t *ch = json_object_get(o, "chunks");
        if (!json_is_array(ch)) return mp_err_set(e, MP_EINVAL, "the manifest's entries[%zu].chunks is not a list", i);
        size_t j;
        json_t *h;
        json_array_foreach(ch, j, h) if (!hex64(json_string_value(h)))
            return mp_err_set(e, MP_EINVAL, "the manifest's entries[%zu].chunks[%zu] is not a SHA-256", i, j);
    }
    return 0;
}

/* ---- public: the manifest of a local input (for the CLI's submit) -------------------------- */

int exec_tree_manifest(const char *path, char **json_text, char tree[65], mp_err *e) {
    json_t *m = NULL;
    *json_text = NULL;
    int rc = exec__tree_build(path, 0, NULL, NULL, &m, tree, e);
    if (rc == 0) *json_text = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(m);
    return rc;
}

char *exec_tree_manifest_path(const char *hex) {
    return exec__tree_manifest_path(hex);
}

/* ---- upload and fetch ------------------------------------------------------------------ */

static int put_chunk(void *ud, const char *hex, const void *data, size_t len, mp_err *e) {
    return exec__client_put_blob(ud, hex, data, len, e);
}

int exec__tree_upload(launch_client *c, const char *path, char tree[65], mp_err *e) {
    json_t *m = NULL;
    int rc = exec__tree_build(path, LAUNCH_CHUNK, put_chunk, c, &m, tree, e);
    if (rc != 0) return rc;
    char *text = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *rel = exec__tree_manifest_path(tree);
    char *url = mp_xasprintf("/api/2.0/mlflow-artifacts/artifacts/%s", rel);
    rc = exec__client_put(c, url, text, strlen(text), "application/json", e);
    free(url);
    free(rel);
    free(text);
    json_decref(m);
    return rc;
}

/* Writes one file entry at p from its chunks. */
static int fetch_file(launch_client *c, json_t *ent, const char *p, mp_err *e) {
    bool x = json_is_true(json_object_get(ent, "executable"));
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, x ? 0755 : 0644);
    if (fd < 0) return mp_err_set(e, MP_EIO, "cannot create %s: %s", p, strerror(errno));
    size_t j;
    json_t *h;
    int rc = 0;
    json_array_foreach(json_object_get(ent, "chunks"), j, h) {
        int64_t got = 0;
        rc = exec__client_get_blob(c, json_string_value(h), fd, &got, e);
        if (rc != 0) break;
    }
    if (rc == 0 && fsync(fd) != 0) rc = mp_err_set(e, MP_EIO, "cannot write %s: %s", p, strerror(errno));
    if (close(fd) != 0 && rc == 0) rc = mp_err_set(e, MP_EIO, "cannot write %s: %s", p, strerror(errno));
    return rc;
}

int exec__tree_fetch(launch_client *c, const char *hex, const char *dest, mp_err *e) {
    char *rel = exec__tree_manifest_path(hex);
    char *url = mp_xasprintf("/api/2.0/mlflow-artifacts/artifacts/%s", rel);
    char *body = NULL;
    size_t len = 0;
    long http = 0;
    int rc = exec__client_get(c, url, &body, &len, &http, e);
    free(url);
    free(rel);
    if (rc == 0 && http == 404)
        rc = mp_err_set(e, MP_ENOENT, "the server has no artifact with tree hash %s (a local input is uploaded when its run "
                        "is submitted with `mlplane --server URL run`; an output when its step's launcher ends)", hex);
    else if (rc == 0 && http != 200)
        rc = mp_err_set(e, MP_EIO, "the server answered %ld for the manifest of %s", http, hex);
    json_t *m = rc == 0 ? json_loadb(body, len, 0, NULL) : NULL;
    free(body);
    if (rc == 0 && !m) rc = mp_err_set(e, MP_EINVAL, "the manifest of %s is not JSON", hex);
    if (rc == 0) rc = exec__tree_check(m, e);
    if (rc == 0 && strcmp(json_string_value(json_object_get(m, "sha256")), hex) != 0)
        rc = mp_err_set(e, MP_EINVAL, "the manifest stored for %s names another tree", hex);
    char *stage = mp_xasprintf("%s.partial", dest);
    mp_err ignored;
    if (rc == 0 && mp_path_exists(stage)) rc = mp_rm_rf(stage, e);
    char *parent = mp_path_dir(dest);
    if (rc == 0) rc = mp_mkdir_p(parent, e);
    free(parent);
    size_t i;
    json_t *ent;
    json_array_foreach(rc == 0 ? json_object_get(m, "entries") : NULL, i, ent) {
        const char *p = json_string_value(json_object_get(ent, "path"));
        bool dir = strcmp(json_string_value(json_object_get(ent, "kind")), "dir") == 0;
        char *full = *p ? mp_xasprintf("%s/%s", stage, p) : mp_xstrdup(stage);
        if (dir && mkdir(full, 0755) != 0) rc = mp_err_set(e, MP_EIO, "cannot create %s: %s", full, strerror(errno));
        if (!dir) rc = fetch_file(c, ent, full, e);
        free(full);
        if (rc != 0) break;
    }
    if (rc == 0) { /* the cache's own hash of what was written: equal, or refused */
        mp_hash h;
        char got[65];
        mp_hash_init(&h);
        rc = mp_hash_path(&h, stage, e);
        if (rc == 0) mp_hash_final_hex(&h, got);
        if (rc == 0 && strcmp(got, hex) != 0)
            rc = mp_err_set(e, MP_EINVAL, "what the server sent for %s hashes to %s: refused (the manifest or a blob "
                            "does not match)", hex, got);
    }
    if (rc == 0 && rename(stage, dest) != 0)
        rc = mp_err_set(e, MP_EIO, "cannot rename %s to %s: %s", stage, dest, strerror(errno));
    if (rc != 0 && mp_path_exists(stage)) mp_rm_rf(stage, &ignored);
    free(stage);
    json_decref(m);
    return rc;
}
