/* artifacts.c — MLflow's artifact proxy (mlflow/protos/mlflow_artifacts.proto) over
 * a file-system artifact store rooted at HOME/artifacts:
 *   PUT    /api/2.0/mlflow-artifacts/artifacts/PATH   upload the raw body
 *   GET    /api/2.0/mlflow-artifacts/artifacts/PATH   download (streamed from disk)
 *   GET    /api/2.0/mlflow-artifacts/artifacts?path=D list D: {"files":[{path,is_dir,file_size}]}
 *   DELETE /api/2.0/mlflow-artifacts/artifacts/PATH   delete a file or a directory tree
 *
 * Security: a client path must stay inside the root. It is refused (400
 * INVALID_PARAMETER_VALUE, "Invalid path: ...") when absolute, when any
 * component is ".." (also after URL-unquoting), when it holds a backslash, a
 * control byte or invalid UTF-8 (also after unquoting), or empty; and every existing
 * directory it goes through is resolved with realpath(3) and must lie inside the
 * root's realpath, so a symbolic link cannot lead out of it. Uploads create the
 * missing directories one component at a time (never through a link that leads
 * out) and write through a temporary file in the target directory, renamed over
 * the target, so a reader sees the old file or the new one, never a part.
 * An upload onto a symbolic link is refused (the link is neither followed nor
 * replaced). Deleting a link removes the link, never its target. sha256/ holds the
 * registry's content-addressed blobs (store/artstore.c): readable here, never
 * written or deleted through the proxy (403), since a blob is named by its
 * bytes and others may name it.
 *
 * Threads: handlers run concurrently on the server's worker threads; they share
 * nothing but the file system (temporary names are unique per upload). */
#include "track/track.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX "/api/2.0/mlflow-artifacts/artifacts"

static void invalid_path(mp_http_resp *resp, const char *path) {
    mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "Invalid path: %s", path);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Whether s holds a byte no artifact path may: a backslash (a Windows separator,
 * so "..\\x" is no name of its own), a control byte (CR and LF would end a response
 * header the name is written into), DEL, or invalid UTF-8. */
static bool bad_byte(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '\\' || *p < 0x20 || *p == 0x7f) return true;
    /* Not UTF-8 ("%c0%ae", an overlong "."), or U+FFFD, the engine's stand-in for
     * bytes that were not: the name written would not be the name asked for. */
    if (strstr(s, "\xef\xbf\xbd")) return true;
    mp_buf b;
    mp_buf_init(&b);
    size_t n = strlen(s);
    mp_utf8_clean(&b, s, n, false);
    bool changed = b.len != n || (n > 0 && memcmp(b.data, s, n) != 0);
    mp_buf_free(&b);
    return changed;
}

/* Whether s has a ".." component, a NUL, a bad byte or an absolute start, also once
 * %XX are decoded (repeatedly: "%252e%252e" is ".." twice removed). */
static bool path_escapes(const char *s) {
    char *cur = mp_xstrdup(s);
    bool bad = false;
    for (int round = 0; round < 8 && !bad; round++) {
        bad = cur[0] == '/' || bad_byte(cur);
        for (const char *p = cur; !bad && *p;) {
            const char *slash = strchr(p, '/');
            size_t l = slash ? (size_t)(slash - p) : strlen(p);
            bad = l == 2 && p[0] == '.' && p[1] == '.';
            p += l;
            if (*p == '/') p++;
        }
        if (!strchr(cur, '%')) break;
        mp_buf b;
        mp_buf_init(&b);
        for (const char *p = cur; *p; p++) {
            if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
                char c = (char)(hexval(p[1]) * 16 + hexval(p[2]));
                if (c == '\0') bad = true;
                mp_buf_putc(&b, c);
                p += 2;
            } else {
                mp_buf_putc(&b, *p);
            }
        }
        bool same = strcmp(b.data, cur) == 0;
        free(cur);
        cur = mp_buf_steal(&b);
        if (same) break;
    }
    free(cur);
    return bad;
}

/* The artifact root: HOME/artifacts (created) resolved by realpath. Heap, or NULL
 * with resp filled. */
static char *root_of(const mp_http_req *req, mp_http_resp *resp) {
    char *dir = mp_xasprintf("%s/artifacts", req->home ? req->home : ".");
    mp_err e = {0};
    char *real = NULL;
    if (mp_mkdir_p(dir, &e) == 0) real = realpath(dir, NULL);
    if (!real)
        mp_http_mlflow_error(resp, 500, "INTERNAL_ERROR", "cannot open the artifact store %s: %s", dir,
                             e.msg[0] ? e.msg : strerror(errno));
    free(dir);
    return real;
}

/* Whether real (a realpath) is root or inside it. */
static bool inside(const char *root, const char *real) {
    size_t n = strlen(root);
    return strncmp(real, root, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

/* Checks a client path (rel) and returns root/rel (heap), not resolved; NULL with
 * resp filled when it would escape. allow_empty: "" names the root itself. */
static char *join_checked(const char *root, const char *rel, bool allow_empty, mp_http_resp *resp) {
    if ((!allow_empty && (!rel || !*rel)) || path_escapes(rel ? rel : "")) {
        invalid_path(resp, rel ? rel : "");
        return NULL;
    }
    while (rel && *rel == '/') rel++;
    return rel && *rel ? mp_xasprintf("%s/%s", root, rel) : mp_xstrdup(root);
}

/* Resolves an existing path and checks that it stays inside root. Returns the
 * realpath (heap); NULL with resp filled: 404 when missing, 400 when outside. */
static char *resolve_existing(const char *root, const char *full, const char *rel, mp_http_resp *resp) {
    char *real = realpath(full, NULL);
    if (!real) {
        if (errno == ENOENT || errno == ENOTDIR)
            mp_http_mlflow_error(resp, 404, "RESOURCE_DOES_NOT_EXIST", "No such artifact: %s", rel);
        else
            mp_http_mlflow_error(resp, 500, "INTERNAL_ERROR", "cannot read artifact %s: %s", rel, strerror(errno));
        return NULL;
    }
    if (!inside(root, real)) {
        invalid_path(resp, rel);
        free(real);
        return NULL;
    }
    return real;
}

/* ---- upload ------------------------------------------------------------------------ */

/* Creates the directories of rel's parent under root one by one; each existing one
 * is resolved and must stay inside root. Returns the resolved parent (heap). */
static char *make_parents(const char *root, const char *rel, mp_http_resp *resp) {
    char *cur = mp_xstrdup(root);
    const char *p = rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (!slash) return cur; /* the rest is the file name */
        if (slash == p || (slash - p == 1 && p[0] == '.')) {
            p = slash + 1;
            continue;
        }
        char *next = mp_xasprintf("%s/%.*s", cur, (int)(slash - p), p);
        if (mkdir(next, 0755) != 0 && errno != EEXIST) {
            mp_http_mlflow_error(resp, 500, "INTERNAL_ERROR", "cannot create directory for %s: %s", rel,
                                 strerror(errno));
            free(next);
            free(cur);
            return NULL;
        }
        char *real = realpath(next, NULL);
        free(next);
        struct stat sb;
        if (!real || !inside(root, real) || stat(real, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            invalid_path(resp, rel);
            free(real);
            free(cur);
            return NULL;
        }
        free(cur);
        cur = real;
        p = slash + 1;
    }
}

static int write_all(int fd, const char *p, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Whether rel lies in sha256/, the content-addressed blobs (its first component,
 * "./" and empty components skipped). */
static bool content_addressed(const char *rel) {
    const char *p = rel ? rel : "";
    for (;;) {
        if (*p == '/') p++;
        else if (p[0] == '.' && (p[1] == '/' || p[1] == '\0')) p += 1;
        else break;
    }
    return strncmp(p, "sha256", 6) == 0 && (p[6] == '/' || p[6] == '\0');
}

/* A 403 for a write or delete under sha256/: true when refused. */
static bool refuse_content_addressed(const mp_http_req *req, mp_http_resp *resp) {
    if (!content_addressed(req->tail)) return false;
    mp_http_mlflow_error(resp, 403, "PERMISSION_DENIED",
                         "%s %s: sha256/ holds the content-addressed blobs of registered model versions; they are "
                         "read-only here (register a version to add one, delete the version to remove it)",
                         req->method, req->path);
    return true;
}

static void upload(const mp_http_req *req, mp_http_resp *resp) {
    if (refuse_content_addressed(req, resp)) return;
    char *root = root_of(req, resp);
    if (!root) return;
    const char *rel = req->tail;
    char *full = join_checked(root, rel, false, resp);
    const char *base = rel ? strrchr(rel, '/') : NULL;
    base = base ? base + 1 : rel;
    if (full && (!*base || strcmp(base, ".") == 0)) {
        invalid_path(resp, rel);
        goto out;
    }
    char *dir = full ? make_parents(root, rel, resp) : NULL;
    if (!dir) goto out;
    char *target = mp_xasprintf("%s/%s", dir, base);
    struct stat lb;
    if (lstat(target, &lb) == 0 && S_ISLNK(lb.st_mode)) { /* never replaced, nor followed */
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "Invalid path: %s is a symbolic link", rel);
        free(target);
        free(dir);
        goto out;
    }
    char *tmp = mp_xasprintf("%s/.upload-XXXXXX", dir);
    int fd = mkstemp(tmp);
    int err = 0;
    if (fd < 0) {
        err = errno;
    } else {
        fchmod(fd, 0644);
        if (write_all(fd, req->body, req->body_len) != 0 || fsync(fd) != 0) err = errno;
        if (close(fd) != 0 && !err) err = errno;
        if (!err && rename(tmp, target) != 0) err = errno;
        if (err) unlink(tmp);
    }
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST)
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "Invalid path: %s is a directory", rel);
    else if (err)
        mp_http_mlflow_error(resp, 500, "INTERNAL_ERROR", "cannot write artifact %s: %s", rel, strerror(err));
    else
        mp_http_json(resp, 200, json_object());
    free(tmp);
    free(target);
    free(dir);
out:
    free(full);
    free(root);
}

/* ---- download ------------------------------------------------------------------------ */

/* "attachment; filename=\"NAME\"" into out (n bytes): NAME a quoted-string (RFC 6266),
 * '"' and '\\' escaped, control bytes (refused in paths already) left out, cut short
 * rather than overflow. */
static void content_disposition(const char *name, char *out, size_t n) {
    size_t o = (size_t)snprintf(out, n, "attachment; filename=\"");
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 4 < n; p++) {
        if (*p < 0x20 || *p == 0x7f) continue;
        if (*p == '"' || *p == '\\') out[o++] = '\\';
        out[o++] = (char)*p;
    }
    out[o++] = '"';
    out[o] = '\0';
}

static void download(const mp_http_req *req, mp_http_resp *resp) {
    char *root = root_of(req, resp);
    if (!root) return;
    const char *rel = req->tail;
    char *full = join_checked(root, rel, false, resp);
    char *real = full ? resolve_existing(root, full, rel, resp) : NULL;
    struct stat sb;
    if (real && (stat(real, &sb) != 0 || !S_ISREG(sb.st_mode))) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "Invalid path: %s is not a file", rel);
    } else if (real) {
        resp->status = 200;
        mp_strlcpy(resp->content_type, "application/octet-stream", sizeof resp->content_type);
        const char *base = strrchr(rel, '/');
        char disp[512];
        content_disposition(base ? base + 1 : rel, disp, sizeof disp);
        mp_http_header_add(resp, "Content-Disposition", disp);
        mp_http_header_add(resp, "X-Content-Type-Options", "nosniff");
        free(resp->file_path);
        resp->file_path = real;
        real = NULL;
    }
    free(real);
    free(full);
    free(root);
}

/* ---- list ------------------------------------------------------------------------------ */

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const mp_http_req *req, mp_http_resp *resp) {
    char *root = root_of(req, resp);
    if (!root) return;
    const char *rel = mp_http_query(req, "path");
    char *full = join_checked(root, rel ? rel : "", true, resp);
    char *real = full ? realpath(full, NULL) : NULL;
    json_t *o = NULL;
    if (full && real && !inside(root, real)) {
        invalid_path(resp, rel);
    } else if (full) {
        o = json_object();
        DIR *d = real ? opendir(real) : NULL; /* missing, or not a directory: no files (as MLflow) */
        mp_strv names = {0};
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            if (mp_str_starts(de->d_name, ".upload-")) continue; /* an upload in progress */
            mp_strv_push(&names, de->d_name);
        }
        if (d) closedir(d);
        if (names.n > 1) qsort(names.v, names.n, sizeof *names.v, by_name);
        json_t *files = json_array();
        for (size_t i = 0; i < names.n; i++) {
            char *p = mp_xasprintf("%s/%s", real, names.v[i]);
            char *rp = realpath(p, NULL);
            struct stat sb;
            if (rp && inside(root, rp) && stat(rp, &sb) == 0) {
                json_t *f = json_pack("{s:s,s:b}", "path", names.v[i], "is_dir", S_ISDIR(sb.st_mode));
                if (!S_ISDIR(sb.st_mode)) json_object_set_new(f, "file_size", json_integer((json_int_t)sb.st_size));
                json_array_append_new(files, f);
            }
            free(rp);
            free(p);
        }
        if (json_array_size(files) > 0) json_object_set_new(o, "files", files);
        else json_decref(files);
        mp_strv_free(&names);
    }
    if (o) mp_http_json(resp, 200, o);
    free(real);
    free(full);
    free(root);
}

/* ---- delete ---------------------------------------------------------------------------- */

static void delete_artifact(const mp_http_req *req, mp_http_resp *resp) {
    if (refuse_content_addressed(req, resp)) return;
    char *root = root_of(req, resp);
    if (!root) return;
    const char *rel = req->tail;
    char *full = join_checked(root, rel, false, resp);
    if (full) {
        size_t l = strlen(full);
        while (l > strlen(root) + 1 && full[l - 1] == '/') full[--l] = '\0';
        const char *b = strrchr(full, '/') + 1;
        if (strcmp(full, root) == 0 || strcmp(b, ".") == 0) {
            invalid_path(resp, rel);
            free(full);
            full = NULL;
        }
    }
    /* The parent must resolve inside the root; the last component itself is not
     * followed (a link is removed as a link). */
    char *parent = full ? mp_path_dir(full) : NULL;
    char *rparent = parent ? resolve_existing(root, parent, rel, resp) : NULL;
    if (rparent) {
        const char *base = strrchr(full, '/') + 1;
        char *target = mp_xasprintf("%s/%s", rparent, base);
        struct stat sb;
        mp_err e = {0};
        if (lstat(target, &sb) != 0) {
            mp_http_mlflow_error(resp, 404, "RESOURCE_DOES_NOT_EXIST", "No such artifact: %s", rel);
        } else if (mp_rm_rf(target, &e) != 0) {
            mp_http_mlflow_error(resp, 500, "INTERNAL_ERROR", "cannot delete artifact %s: %s", rel, e.msg);
        } else {
            mp_http_json(resp, 200, json_object());
        }
        free(target);
    }
    free(rparent);
    free(parent);
    free(full);
    free(root);
}

static const mp_http_route routes[] = {
    {"GET", PREFIX, list},
    {"PUT", PREFIX "/*", upload},
    {"GET", PREFIX "/*", download},
    {"DELETE", PREFIX "/*", delete_artifact},
};

const mp_http_route *track_artifact_routes(size_t *n) {
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
