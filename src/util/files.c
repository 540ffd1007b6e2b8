/* files.c — file-system helpers and content hashing (see util.h). Reentrant. */
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mp_mkdir_p(const char *path, mp_err *e) {
    char tmp[4096];
    if (!mp_strlcpy(tmp, path, sizeof tmp)) return mp_err_set(e, MP_EINVAL, "path too long: %.100s...", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return mp_err_set(e, MP_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return mp_err_set(e, MP_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
    if (!mp_is_dir(tmp)) return mp_err_set(e, MP_EIO, "%s exists and is not a directory", tmp);
    return 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p) != 0 && errno != ENOENT ? -1 : 0;
}

int mp_rm_rf(const char *path, mp_err *e) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return mp_err_set(e, MP_EIO, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

int mp_link_tree(const char *src, const char *dst, mp_err *e) {
    if (!mp_is_dir(src)) {
        if (mp_path_exists(dst) || linkat(AT_FDCWD, src, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) == 0) return 0;
        char *data = NULL;
        size_t len = 0;
        int rc = mp_read_file(src, &data, &len, e);
        if (rc == 0) rc = mp_write_file_atomic(dst, data, len, e);
        free(data);
        return rc;
    }
    int rc = mp_mkdir_p(dst, e);
    DIR *d = rc == 0 ? opendir(src) : NULL;
    if (rc == 0 && !d) return mp_err_set(e, MP_EIO, "cannot read %s: %s", src, strerror(errno));
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char *a = mp_xasprintf("%s/%s", src, de->d_name), *b = mp_xasprintf("%s/%s", dst, de->d_name);
        rc = mp_link_tree(a, b, e);
        free(a);
        free(b);
    }
    if (d) closedir(d);
    return rc;
}

int mp_read_file(const char *path, char **out, size_t *len, mp_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return mp_err_set(e, errno == ENOENT ? MP_ENOENT : MP_EIO, "cannot read %s: %s", path, strerror(errno));
    mp_buf b;
    mp_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) mp_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        mp_buf_free(&b);
        return mp_err_set(e, MP_EIO, "error reading %s", path);
    }
    if (len) *len = b.len;
    *out = mp_buf_steal(&b);
    return 0;
}

int mp_write_file_atomic(const char *path, const void *data, size_t len, mp_err *e) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return mp_err_set(e, MP_EIO, "cannot write %s: %s", tmp, strerror(errno));
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            close(fd);
            unlink(tmp);
            return mp_err_set(e, MP_EIO, "cannot write %s: %s", tmp, strerror(err));
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return mp_err_set(e, MP_EIO, "cannot flush %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return mp_err_set(e, MP_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(err));
    }
    return 0;
}

bool mp_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

bool mp_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *mp_path_abs(const char *base, const char *p) {
    mp_buf raw;
    mp_buf_init(&raw);
    if (p[0] == '/') {
        mp_buf_puts(&raw, p);
    } else {
        if (base) {
            mp_buf_puts(&raw, base);
        } else {
            char cwd[4096];
            mp_buf_puts(&raw, getcwd(cwd, sizeof cwd) ? cwd : ".");
        }
        mp_buf_putc(&raw, '/');
        mp_buf_puts(&raw, p);
    }
    /* Lexical clean: drop empty and "." segments, resolve "..". */
    mp_buf out;
    mp_buf_init(&out);
    char *save = NULL;
    for (char *seg = strtok_r(raw.data, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0) continue;
        if (strcmp(seg, "..") == 0) {
            char *slash = strrchr(out.data, '/');
            if (slash) {
                out.len = (size_t)(slash - out.data);
                out.data[out.len] = '\0';
            }
            continue;
        }
        mp_buf_putc(&out, '/');
        mp_buf_puts(&out, seg);
    }
    if (out.len == 0) mp_buf_putc(&out, '/');
    mp_buf_free(&raw);
    return mp_buf_steal(&out);
}

char *mp_path_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return mp_xstrdup(".");
    if (slash == path) return mp_xstrdup("/");
    return mp_xstrndup(path, (size_t)(slash - path));
}

/* ---- hashing ----------------------------------------------------------------- */

void mp_hash_init(mp_hash *h) {
    crypto_hash_sha256_init(&h->st);
}

void mp_hash_bytes(mp_hash *h, const void *p, size_t n) {
    crypto_hash_sha256_update(&h->st, p, n);
}

void mp_hash_str(mp_hash *h, const char *s) {
    if (!s) s = "";
    uint64_t n = strlen(s);
    mp_hash_bytes(h, &n, sizeof n);
    mp_hash_bytes(h, s, n);
}

/* Hashes a file's bytes, handing each block to v->bytes too (when v has it). */
static int hash_file(mp_hash *h, const char *path, const mp_hash_visit *v, mp_err *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mp_err_set(e, MP_EIO, "cannot read %s: %s", path, strerror(errno));
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return mp_err_set(e, MP_EIO, "cannot read %s: %s", path, strerror(err));
        }
        if (n == 0) break;
        mp_hash_bytes(h, chunk, (size_t)n);
        int rc = v && v->bytes ? v->bytes(v->ud, chunk, (size_t)n, e) : 0;
        if (rc != 0) {
            close(fd);
            return rc;
        }
    }
    close(fd);
    return v && v->file_end ? v->file_end(v->ud, e) : 0;
}

static int visit_entry(const mp_hash_visit *v, const char *rel, const char *full, bool is_dir, mp_err *e) {
    return v && v->entry ? v->entry(v->ud, rel, full, is_dir, e) : 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int hash_tree(mp_hash *h, const char *root, const char *rel, const mp_hash_visit *v, mp_err *e) {
    char *dir = rel[0] ? mp_xasprintf("%s/%s", root, rel) : mp_xstrdup(root);
    DIR *d = opendir(dir);
    if (!d) {
        mp_err_set(e, MP_EIO, "cannot list %s: %s", dir, strerror(errno));
        free(dir);
        return MP_EIO;
    }
    mp_strv names = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        mp_strv_push(&names, de->d_name);
    }
    closedir(d);
    if (names.n) qsort(names.v, names.n, sizeof *names.v, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        char *r = rel[0] ? mp_xasprintf("%s/%s", rel, names.v[i]) : mp_xstrdup(names.v[i]);
        char *full = mp_xasprintf("%s/%s", root, r);
        mp_hash_str(h, r);
        bool is_dir = mp_is_dir(full);
        rc = visit_entry(v, r, full, is_dir, e);
        if (rc == 0 && is_dir) {
            mp_hash_str(h, "dir");
            rc = hash_tree(h, root, r, v, e);
        } else if (rc == 0) {
            mp_hash_str(h, "file");
            rc = hash_file(h, full, v, e);
        }
        free(full);
        free(r);
    }
    mp_strv_free(&names);
    free(dir);
    return rc;
}

int mp_hash_path_visit(mp_hash *h, const char *path, const mp_hash_visit *v, mp_err *e) {
    struct stat st;
    if (stat(path, &st) != 0)
        return mp_err_set(e, MP_ENOENT, "cannot hash %s: %s", path, strerror(errno));
    bool is_dir = S_ISDIR(st.st_mode);
    int rc = visit_entry(v, "", path, is_dir, e);
    if (rc != 0) return rc;
    if (is_dir) {
        mp_hash_str(h, "dir");
        return hash_tree(h, path, "", v, e);
    }
    mp_hash_str(h, "file");
    return hash_file(h, path, v, e);
}

int mp_hash_path(mp_hash *h, const char *path, mp_err *e) {
    return mp_hash_path_visit(h, path, NULL, e);
}

void mp_hash_final_hex(mp_hash *h, char out[65]) {
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h->st, d);
    sodium_bin2hex(out, 65, d, sizeof d);
}
