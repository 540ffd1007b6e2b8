/* uploads.c — the local inputs of runs submitted from another machine: a
 * content-addressed blob store under the home and the tree a submitted run
 * reads them from.
 *
 *   POST /api/v1/uploads/missing        {"sha256": [HEX, ...]} -> {"missing": [HEX, ...]}
 *   PUT  /api/v1/uploads/sha256/HEX     the file's bytes; kept when their SHA-256 is HEX
 *   GET  /api/v1/uploads/sha256/HEX     the bytes back
 *   POST /api/v1/uploads/assemble       {"sha256": HEX, "chunks": [HEX, ...]}: the blob HEX
 *                                       made of stored blobs in that order (a file larger
 *                                       than a request body may be is sent in chunks)
 *
 * A blob is HOME/uploads/sha256/HE/HEX (HE: its first two hex digits), written
 * whole under a temporary name and renamed into place, read-only (0444), never
 * changed afterwards: the same bytes are stored once, whoever sends them. The
 * client asks which hashes are missing and sends only those.
 *
 * A run submitted with "files" (POST /api/v1/runs, see v1.c) gets its own tree,
 * HOME/submitted/RANDOM/, laid out as the client's files were around the spec:
 * each file is a hard link to its blob (a copy when linking fails, the file is
 * executable, or the server runs as root), each listed directory is created,
 * and the spec goes to SPEC_DIR/NAME. Relative paths in the spec then name the
 * same files on the server as on the client.
 *
 * Threads: the handlers run on the server's workers, concurrently; they share
 * nothing but the file system (a blob is renamed into place atomically, so two
 * workers storing the same blob both succeed with the same bytes). */
#include "api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_HASHES = 100000, MAX_FILES = 100000, MAX_REL = 1024 };

static bool is_hex64(const char *s) {
    if (!s || strlen(s) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* HOME/uploads/sha256/HE/HEX (heap). */
static char *blob_path(const char *home, const char *hex) {
    return mp_xasprintf("%s/uploads/sha256/%.2s/%s", home, hex, hex);
}

static bool blob_exists(const char *home, const char *hex) {
    char *p = blob_path(home, hex);
    struct stat sb;
    bool ok = stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
    free(p);
    return ok;
}

/* Opens a new temporary file beside path (workers may write the same blob at
 * once, so each has its own name): the fd, with *tmp (heap) its name, or -1
 * with e filled. */
static int tmp_open(const char *path, char **tmp, mp_err *e) {
    char rnd[13];
    mp_random_alnum(rnd, sizeof rnd);
    *tmp = mp_xasprintf("%s.tmp.%s", path, rnd);
    int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) mp_err_set(e, MP_EIO, "cannot write %s: %s", *tmp, strerror(errno));
    return fd;
}

/* Ends what tmp_open began: when rc is 0, gives fd mode, fsyncs, closes and
 * renames tmp over path; otherwise (or when one of those fails) closes and
 * removes tmp. Frees tmp. Returns rc, or the failure with e filled. */
static int tmp_commit(int fd, char *tmp, const char *path, mode_t mode, int rc, mp_err *e) {
    if (rc == 0 && (fchmod(fd, mode) != 0 || fsync(fd) != 0))
        rc = mp_err_set(e, MP_EIO, "cannot flush %s: %s", tmp, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && rc == 0) rc = mp_err_set(e, MP_EIO, "cannot flush %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0) rc = mp_err_set(e, MP_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc != 0 && fd >= 0) unlink(tmp);
    free(tmp);
    return rc;
}

/* Writes data to path through a temporary file and renames it into place with mode. */
static int write_whole(const char *path, const void *data, size_t len, mode_t mode, mp_err *e) {
    char *tmp;
    int fd = tmp_open(path, &tmp, e);
    int rc = fd < 0 ? MP_EIO : 0;
    const char *p = data;
    while (rc == 0 && len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) rc = mp_err_set(e, MP_EIO, "cannot write %s: %s", tmp, strerror(errno));
        else {
            p += w;
            len -= (size_t)w;
        }
    }
    return tmp_commit(fd, tmp, path, mode, rc, e);
}

/* ---- handlers --------------------------------------------------------------------- */

static void h_missing(const mp_http_req *req, mp_http_resp *resp) {
    json_t *body = mp_http_body_json(req, resp);
    if (!body) return;
    json_t *hs = json_object_get(body, "sha256");
    if (!json_is_array(hs) || json_array_size(hs) > MAX_HASHES) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                             "sha256 must be a list of at most %d SHA-256 digests (64 lowercase hex digits each)", MAX_HASHES);
        json_decref(body);
        return;
    }
    json_t *missing = json_array();
    size_t i;
    json_t *h;
    json_array_foreach(hs, i, h) {
        const char *hex = json_string_value(h);
        if (!is_hex64(hex)) {
            mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                                 "sha256[%zu] is not a SHA-256 digest (64 lowercase hex digits)", i);
            json_decref(missing);
            json_decref(body);
            return;
        }
        if (!blob_exists(req->home, hex)) json_array_append(missing, h);
    }
    json_decref(body);
    mp_http_json(resp, 200, json_pack("{s:o}", "missing", missing));
}

static void h_blob_put(const mp_http_req *req, mp_http_resp *resp, const char *hex) {
    unsigned char d[crypto_hash_sha256_BYTES];
    char got[65];
    crypto_hash_sha256(d, (const unsigned char *)req->body, req->body_len);
    sodium_bin2hex(got, sizeof got, d, sizeof d);
    if (strcmp(got, hex) != 0) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                             "the body's SHA-256 is %s, not %s: the file changed while it was sent, or the request "
                             "names another file; nothing was stored",
                             got, hex);
        return;
    }
    bool had = blob_exists(req->home, hex);
    if (!had) {
        mp_err e;
        char *dir = mp_xasprintf("%s/uploads/sha256/%.2s", req->home, hex);
        char *path = blob_path(req->home, hex);
        int rc = mp_mkdir_p(dir, &e);
        if (rc == 0) rc = write_whole(path, req->body, req->body_len, 0444, &e);
        free(dir);
        free(path);
        if (rc != 0) {
            api_error(resp, &e);
            return;
        }
    }
    mp_http_json(resp, had ? 200 : 201,
                 json_pack("{s:s,s:I,s:b}", "sha256", hex, "size", (json_int_t)req->body_len, "stored", !had));
}

static void h_blob_get(const mp_http_req *req, mp_http_resp *resp, const char *hex) {
    if (!blob_exists(req->home, hex)) {
        mp_http_mlflow_error(resp, 404, "RESOURCE_DOES_NOT_EXIST", "no upload with sha256 %s", hex);
        return;
    }
    resp->file_path = blob_path(req->home, hex);
    mp_strlcpy(resp->content_type, "application/octet-stream", sizeof resp->content_type);
}

/* The {hex} of the route, or NULL with a 404 in resp. */
static const char *blob_hex(const mp_http_req *req, mp_http_resp *resp) {
    const char *hex = mp_http_param(req, "hex");
    if (is_hex64(hex)) return hex;
    mp_http_mlflow_error(resp, 404, "ENDPOINT_NOT_FOUND",
                         "no endpoint %s %s: uploads are named by their SHA-256 (64 lowercase hex digits)", req->method,
                         req->path);
    return NULL;
}

void api_h_upload_put(const mp_http_req *req, mp_http_resp *resp) {
    const char *hex = blob_hex(req, resp);
    if (hex) h_blob_put(req, resp, hex);
}

void api_h_upload_get(const mp_http_req *req, mp_http_resp *resp) {
    const char *hex = blob_hex(req, resp);
    if (hex) h_blob_get(req, resp, hex);
}

void api_h_uploads_missing(const mp_http_req *req, mp_http_resp *resp) {
    h_missing(req, resp);
}

/* Appends blob hex to fd, hashing what it copies into st. */
static int append_blob(const char *home, const char *hex, int fd, crypto_hash_sha256_state *st, int64_t *size,
                       mp_err *e) {
    char *p = blob_path(home, hex);
    int in = open(p, O_RDONLY | O_CLOEXEC);
    int rc = in < 0 ? mp_err_set(e, MP_EIO, "cannot read upload %s: %s", hex, strerror(errno)) : 0;
    static _Thread_local unsigned char buf[1 << 16];
    while (rc == 0) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = mp_err_set(e, MP_EIO, "cannot read upload %s: %s", hex, strerror(errno));
        if (n <= 0) break;
        crypto_hash_sha256_update(st, buf, (unsigned long long)n);
        *size += n;
        for (ssize_t off = 0; rc == 0 && off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) rc = mp_err_set(e, MP_EIO, "cannot write an assembled upload: %s", strerror(errno));
            else off += w;
        }
    }
    if (in >= 0) close(in);
    free(p);
    return rc;
}

/* POST /api/v1/uploads/assemble: streams the chunks, in order, into a temporary
 * file beside the blob, checks the whole file's SHA-256 and renames it into
 * place (0444). Nothing is stored when a chunk is missing or the hash differs. */
void api_h_uploads_assemble(const mp_http_req *req, mp_http_resp *resp) {
    json_t *body = mp_http_body_json(req, resp);
    if (!body) return;
    const char *hex = json_string_value(json_object_get(body, "sha256"));
    json_t *chunks = json_object_get(body, "chunks");
    if (!is_hex64(hex) || !json_is_array(chunks) || json_array_size(chunks) == 0 ||
        json_array_size(chunks) > MAX_HASHES) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                             "assemble takes sha256 (the whole file's SHA-256) and chunks (1 to %d SHA-256 digests of "
                             "uploaded blobs, in order)",
                             MAX_HASHES);
        json_decref(body);
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(chunks, i, c) {
        const char *ch = json_string_value(c);
        if (!is_hex64(ch) || !blob_exists(req->home, ch)) {
            if (!is_hex64(ch))
                mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                                     "chunks[%zu] is not a SHA-256 digest (64 lowercase hex digits)", i);
            else
                mp_http_mlflow_error(resp, 409, "RESOURCE_DOES_NOT_EXIST",
                                     "chunks[%zu] %s is not uploaded: send it first (PUT /api/v1/uploads/sha256/HEX)", i, ch);
            json_decref(body);
            return;
        }
    }
    if (blob_exists(req->home, hex)) {
        mp_http_json(resp, 200, json_pack("{s:s,s:b}", "sha256", hex, "stored", 0));
        json_decref(body);
        return;
    }
    mp_err e;
    char *dir = mp_xasprintf("%s/uploads/sha256/%.2s", req->home, hex);
    char *path = blob_path(req->home, hex);
    char *tmp = NULL;
    int rc = mp_mkdir_p(dir, &e), fd = -1;
    if (rc == 0) {
        fd = tmp_open(path, &tmp, &e);
        if (fd < 0) rc = MP_EIO;
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    int64_t size = 0;
    json_array_foreach(chunks, i, c) {
        if (rc != 0) break;
        rc = append_blob(req->home, json_string_value(c), fd, &st, &size, &e);
    }
    char got[65] = "";
    if (rc == 0) {
        unsigned char d[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_final(&st, d);
        sodium_bin2hex(got, sizeof got, d, sizeof d);
        if (strcmp(got, hex) != 0) rc = 1;
    }
    if (tmp) rc = tmp_commit(fd, tmp, path, 0444, rc, &e);
    if (rc == 1)
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                             "the chunks make a file whose SHA-256 is %s, not %s: nothing was stored", got, hex);
    else if (rc != 0) api_error(resp, &e);
    else mp_http_json(resp, 201, json_pack("{s:s,s:I,s:b}", "sha256", hex, "size", (json_int_t)size, "stored", 1));
    free(path);
    free(dir);
    json_decref(body);
}

/* ---- a submitted run's tree ----------------------------------------------------------- */

/* Whether p is a relative path that stays inside its root: segments of printable
 * characters, none empty, "." or "..". */
static bool safe_rel(const char *p) {
    if (!p || !*p || strlen(p) > MAX_REL || p[0] == '/') return false;
    for (const char *s = p; *s;) {
        size_t l = strcspn(s, "/");
        if (l == 0 || (l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.')) return false;
        for (size_t i = 0; i < l; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
        s += l;
        if (*s == '/') {
            s++;
            if (!*s) return false;
        }
    }
    return true;
}

/* Places one blob at dest: a hard link, or a copy (executable files, other file
 * systems, and a server running as root, whose steps the blob's mode 0444 would
 * not keep from writing into it). */
static int place_file(const char *blob, const char *dest, bool executable, mp_err *e) {
    if (!executable && geteuid() != 0 && link(blob, dest) == 0) return 0;
    char *data = NULL;
    size_t len = 0;
    int rc = mp_read_file(blob, &data, &len, e);
    if (rc == 0) rc = write_whole(dest, data, len, executable ? 0555 : 0444, e);
    free(data);
    return rc;
}

/* Fills 400 with "files[i].FIELD ..." and returns -1. */
static int bad_entry(mp_http_resp *resp, const char *what, size_t i, const char *why) {
    mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "%s[%zu]%s", what, i, why);
    return -1;
}

int api_uploads_check(const mp_http_req *req, json_t *files, json_t *dirs, json_t *spec_dir, mp_http_resp *resp) {
    if (spec_dir && !json_is_null(spec_dir) &&
        (!json_is_string(spec_dir) || (json_string_length(spec_dir) && !safe_rel(json_string_value(spec_dir))))) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                             "spec_dir must be a relative path inside the uploaded tree (no '..', no leading '/')");
        return -1;
    }
    if (files && !json_is_null(files) && (!json_is_array(files) || json_array_size(files) > MAX_FILES)) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                             "files must be a list of at most %d {path, sha256, executable}", MAX_FILES);
        return -1;
    }
    if (dirs && !json_is_null(dirs) && (!json_is_array(dirs) || json_array_size(dirs) > MAX_FILES)) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "dirs must be a list of at most %d paths", MAX_FILES);
        return -1;
    }
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        const char *path = json_string_value(json_object_get(f, "path"));
        const char *hex = json_string_value(json_object_get(f, "sha256"));
        if (!safe_rel(path)) return bad_entry(resp, "files", i, ".path must be a relative path (no '..', no leading '/')");
        if (!is_hex64(hex)) return bad_entry(resp, "files", i, ".sha256 must be 64 lowercase hex digits");
        if (!blob_exists(req->home, hex)) {
            mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                                 "files[%zu] (%s): no upload with sha256 %s; send it first with "
                                 "PUT /api/v1/uploads/sha256/%s",
                                 i, path, hex, hex);
            return -1;
        }
    }
    json_t *d;
    json_array_foreach(dirs, i, d) if (!safe_rel(json_string_value(d)))
        return bad_entry(resp, "dirs", i, " must be a relative path (no '..', no leading '/')");
    return 0;
}

int api_uploads_place(const char *home, const char *root, json_t *files, json_t *dirs, mp_err *e) {
    int rc = mp_mkdir_p(root, e);
    size_t i;
    json_t *d;
    json_array_foreach(dirs, i, d) {
        if (rc) break;
        char *p = mp_xasprintf("%s/%s", root, json_string_value(d));
        rc = mp_mkdir_p(p, e);
        free(p);
    }
    json_t *f;
    json_array_foreach(files, i, f) {
        if (rc) break;
        const char *path = json_string_value(json_object_get(f, "path"));
        char *dest = mp_xasprintf("%s/%s", root, path);
        char *parent = mp_path_dir(dest);
        char *blob = blob_path(home, json_string_value(json_object_get(f, "sha256")));
        rc = mp_mkdir_p(parent, e);
        if (rc == 0) {
            unlink(dest); /* listed twice: the last one counts */
            rc = place_file(blob, dest, json_is_true(json_object_get(f, "executable")), e);
        }
        free(blob);
        free(parent);
        free(dest);
    }
    return rc;
}
