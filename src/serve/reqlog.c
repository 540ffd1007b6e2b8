/* reqlog.c — the request log of a deployment: a sample of its requests and
 * answers, one JSON object per line, rotated by size (the format and the rules are
 * in serve.h; the drift monitor reads these files).
 *
 * Whether a request is logged is decided before any lock, from its id alone. A
 * sampled line is built in memory (jansson writes every value, so a line is valid
 * JSON whatever the strings hold), then, under the log's mutex: rotate when the
 * line would pass max_bytes, and append it with one write(2) on a descriptor
 * opened O_APPEND. The mutex keeps lines of concurrent threads whole and the size
 * count true; a write cut short (a full disk) is cut back off the file, so a
 * reader never meets half a line followed by a whole one. No fsync: the kernel's
 * page cache outlives the process, and a log of samples is not worth a disk flush
 * per request. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve.h"

#define MAX_KEEP 1000

/* Not a secret: the same id must be sampled the same way everywhere. */
static const char SAMPLE_KEY[] = "mlplane-reqlog-1";
_Static_assert(sizeof SAMPLE_KEY == crypto_shorthash_KEYBYTES + 1, "the sampling key is a SipHash key");

struct serve_reqlog {
    pthread_mutex_t mu; /* guards fd and size, and orders the lines */
    char *path;
    int fd;       /* the current file, O_APPEND */
    int64_t size; /* bytes in the current file */
    serve_reqlog_cfg cfg;
};

void serve_reqlog_cfg_from_spec(const spec_deployment *d, serve_reqlog_cfg *cfg) {
    cfg->sample_rate = d->request_log.sample_rate;
    cfg->max_bytes = d->request_log.max_bytes;
    cfg->keep = d->request_log.keep;
}

char *serve_reqlog_rotated_path(const char *path, int i) {
    return mp_xasprintf("%s.%d", path, i);
}

bool serve_reqlog_sampled(const char *id, double rate) {
    if (!(rate > 0)) return false;
    if (rate >= 1) return true;
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)id, strlen(id), (const unsigned char *)SAMPLE_KEY);
    uint64_t x = 0;
    for (size_t i = 0; i < sizeof h; i++) x |= (uint64_t)h[i] << (8 * i);
    return ldexp((double)x, -64) < rate;
}

/* Opens path for appending; the error says what to do. */
static int open_file(const char *path, int *fd, int64_t *size, mp_err *e) {
    int f = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR)
            return mp_err_set(e, MP_ENOENT, "cannot open request log %s: %s (create its directory first)", path,
                              strerror(err));
        return mp_err_set(e, MP_EIO, "cannot open request log %s: %s (the directory must be writable)", path,
                          strerror(err));
    }
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = errno;
        close(f);
        return mp_err_set(e, MP_EIO, "request log %s is not a regular file%s%s", path, err ? ": " : "",
                          err ? strerror(err) : "");
    }
    *fd = f;
    *size = (int64_t)st.st_size;
    return 0;
}

int serve_reqlog_open(const char *path, const serve_reqlog_cfg *cfg, serve_reqlog **out, mp_err *e) {
    *out = NULL;
    if (!path || !*path) return mp_err_set(e, MP_EINVAL, "request log: no file named");
    if (!(cfg->sample_rate >= 0 && cfg->sample_rate <= 1))
        return mp_err_set(e, MP_EINVAL, "request log %s: sample rate %g is not a number from 0 to 1", path,
                          cfg->sample_rate);
    if (cfg->max_bytes <= 0)
        return mp_err_set(e, MP_EINVAL, "request log %s: the size limit must be above 0 bytes", path);
    if (cfg->keep < 0 || cfg->keep > MAX_KEEP)
        return mp_err_set(e, MP_EINVAL, "request log %s: keep %d is not from 0 to %d", path, cfg->keep, MAX_KEEP);
    if (sodium_init() < 0) return mp_err_set(e, MP_EINTERNAL, "cannot initialise libsodium");
    int fd;
    int64_t size;
    int rc = open_file(path, &fd, &size, e);
    if (rc) return rc;
    serve_reqlog *l = mp_xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    l->path = mp_xstrdup(path);
    l->fd = fd;
    l->size = size;
    l->cfg = *cfg;
    *out = l;
    return 0;
}

void serve_reqlog_close(serve_reqlog *l) {
    if (!l) return;
    if (l->fd >= 0) close(l->fd);
    pthread_mutex_destroy(&l->mu);
    free(l->path);
    free(l);
}

/* ---- lines --------------------------------------------------------------------------- */

static int buf_sink(const char *p, size_t n, void *ud) {
    mp_buf_append(ud, p, n);
    return 0;
}

/* Appends ,"key":<v> (the key is a literal); v may be NULL (null). Numbers
 * with 15 significant digits: a feature or prediction given in decimal with at
 * most 15 digits (every FP32 value's shortest form) is written as given
 * (17.99, not 17.989999999999998). */
static int put_json(mp_buf *b, const char *key, const json_t *v) {
    mp_buf_printf(b, ",\"%s\":", key);
    if (!v) {
        mp_buf_puts(b, "null");
        return 0;
    }
    return json_dump_callback(v, buf_sink, b, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

/* Appends ,"key":"s" escaped (null for NULL); -1 when s is not UTF-8. */
static int put_str(mp_buf *b, const char *key, const char *s) {
    if (!s) return put_json(b, key, NULL);
    json_t *j = json_string(s);
    if (!j) return -1;
    int rc = put_json(b, key, j);
    json_decref(j);
    return rc;
}

/* RFC 3339 UTC with milliseconds: "2026-11-25T19:54:55.123Z". */
static void format_time_ms(int64_t ms, char out[32]) {
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - sec * 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", frac);
}

static int build_line(const serve_reqlog_entry *en, mp_buf *b, mp_err *e) {
    char when[32];
    format_time_ms(en->time_ms, when);
    mp_buf_printf(b, "{\"time\":\"%s\"", when);
    if (put_str(b, "id", en->id) || put_str(b, "model", en->model) || put_str(b, "version", en->version))
        return mp_err_set(e, MP_EINVAL, "request %s: the id, model or version is not valid UTF-8", en->id);
    if (isfinite(en->latency_ms))
        mp_buf_printf(b, ",\"latency_ms\":%.3f", en->latency_ms);
    else
        mp_buf_puts(b, ",\"latency_ms\":null");
    if (put_json(b, "inputs", en->inputs) || put_json(b, "outputs", en->outputs))
        return mp_err_set(e, MP_EINVAL, "request %s: its inputs or outputs cannot be written as JSON", en->id);
    if (en->shadow) mp_buf_puts(b, ",\"shadow\":true");
    if (en->error && put_str(b, "error", en->error))
        return mp_err_set(e, MP_EINVAL, "request %s: the error message is not valid UTF-8", en->id);
    mp_buf_puts(b, "}\n");
    return 0;
}

/* ---- the file ------------------------------------------------------------------------- */

/* requests.log -> .1 -> .2 ... -> .keep (the oldest replaced), then a new empty
 * requests.log. Only the files there are are renamed: .1, .2, ... up to the first
 * one missing (rotation never leaves a gap). Called with the mutex held. */
static int rotate(serve_reqlog *l, mp_err *e) {
    int keep = l->cfg.keep, top = 0;
    while (top < keep - 1) {
        char *p = serve_reqlog_rotated_path(l->path, top + 1);
        struct stat st;
        bool there = lstat(p, &st) == 0;
        free(p);
        if (!there) break;
        top++;
    }
    for (int i = top; i >= 1; i--) {
        char *from = serve_reqlog_rotated_path(l->path, i), *to = serve_reqlog_rotated_path(l->path, i + 1);
        int rc = rename(from, to) != 0 && errno != ENOENT ? errno : 0;
        free(from);
        free(to);
        if (rc) return mp_err_set(e, MP_EIO, "cannot rotate request log %s: %s", l->path, strerror(rc));
    }
    char *first = keep > 0 ? serve_reqlog_rotated_path(l->path, 1) : NULL;
    int rc = (first ? rename(l->path, first) : unlink(l->path)) != 0 && errno != ENOENT ? errno : 0;
    free(first);
    if (rc) return mp_err_set(e, MP_EIO, "cannot rotate request log %s: %s", l->path, strerror(rc));
    int fd;
    int64_t size;
    if (open_file(l->path, &fd, &size, e)) return MP_EIO;
    close(l->fd);
    l->fd = fd;
    l->size = size;
    return 0;
}

/* One write(2) of the line (more only when the kernel takes part of it); a line
 * that could not be written whole is cut back off. Called with the mutex held. */
static int append(serve_reqlog *l, const char *p, size_t n, mp_err *e) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(l->fd, p + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int err = w < 0 ? errno : EIO;
            if (done && ftruncate(l->fd, (off_t)l->size) != 0) {
                /* the piece stays: end it, so that the next line starts on its own */
                static const char nl = '\n';
                if (write(l->fd, &nl, 1) == 1) l->size += (int64_t)done + 1;
            }
            return mp_err_set(e, MP_EIO, "cannot write request log %s: %s", l->path, strerror(err));
        }
        done += (size_t)w;
    }
    l->size += (int64_t)n;
    return 0;
}

int serve_reqlog_write(serve_reqlog *l, const serve_reqlog_entry *en, bool *written, mp_err *e) {
    if (written) *written = false;
    if (!en->id || !*en->id) return mp_err_set(e, MP_EINVAL, "request log %s: an entry needs the request id", l->path);
    if (!serve_reqlog_sampled(en->id, l->cfg.sample_rate)) return 0;
    mp_buf line;
    mp_buf_init(&line);
    int rc = build_line(en, &line, e);
    if (rc) {
        mp_buf_free(&line);
        return rc;
    }
    pthread_mutex_lock(&l->mu);
    int rot = 0;
    mp_err rot_err;
    if (l->size > 0 && l->size + (int64_t)line.len > l->cfg.max_bytes) rot = rotate(l, &rot_err);
    rc = append(l, line.data, line.len, e);
    if (rc == 0 && written) *written = true;
    pthread_mutex_unlock(&l->mu);
    mp_buf_free(&line);
    if (rc == 0 && rot) {
        /* the line went to the file that could not be rotated away: kept, but said */
        if (e) *e = rot_err;
        rc = rot;
    }
    return rc;
}
