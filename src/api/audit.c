/* audit.c — the audit log: HOME/audit/audit.log, one JSON line per audited
 * request, each chained to the one before it by a hash and optionally signed.
 *
 * The format of a line (fields in this order, jansson's compact form):
 *   {"time","user","source","method","verb","resource","namespace","name",
 *    "status","result","request_id","prev","hash"[,"sig"]}
 * prev is the hash of the line before (64 zeros for the first line); the line's
 * canonical content is the line without "hash" and "sig" (what jansson's compact
 * dump of the parsed line, those two removed, gives back), and
 *   hash = hex(BLAKE2b-256(prev (64 hex characters) || canonical content))
 *   sig  = hex(Ed25519 detached signature of the 32 raw bytes of hash)
 * so an edited line fails its own hash, a removed, inserted or moved line breaks
 * the next line's prev, and without the signing key a forger cannot make the
 * signatures of a rewritten tail (audit_verify.c checks all of it).
 *
 * Group commit: api_audit_append queues its line's fields and waits; the first
 * waiter that finds no flush in progress becomes the flusher: it takes every
 * queued line, and under flock(2) on the file (the server and a CLI on the same
 * home chain in turn) re-reads the last line's hash when the file changed since
 * its own last write, chains and signs the lines, writes them with one write(2)
 * (and fdatasync(2)s when the last sync is a second old), then wakes the
 * waiters. An append returns only once its line is written, so the server
 * answers a request after its line is as durable as the store's commits.
 *
 * Threads: any thread may call api_audit_append concurrently; mu guards the
 * queue and the flush state; the chain state (prev, known_size) belongs to the
 * one flusher of the moment (flushing set under mu). Open and close run on one
 * controlling thread with no append in flight. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/api_int.h"

#define AUDIT_SYNC_US 1000000 /* the longest a written line waits for its fdatasync while lines come */
#define TAIL_READ 16384 /* bytes read back from the end of the file to find the last hash */

struct api_audit {
    char *path;
    int fd;
    bool has_key;
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **queue; /* heap: each queued line's content up to before ",\"prev\"" */
    size_t nqueue, capqueue;
    uint64_t enqueued;    /* lines queued so far (sequence numbers 1..) */
    uint64_t done;        /* lines flushed (well or not) so far */
    uint64_t failed_from; /* the last failed batch: sequence numbers [failed_from, failed_to] */
    uint64_t failed_to;
    char failed_msg[256];
    bool flushing;
    /* the flusher's */
    char prev[65];
    off_t known_size; /* the file's size after our last write; -1: unknown */
    int64_t synced_us; /* mp_mono_us() of the last fdatasync */
    bool unsynced;     /* lines were written since */
    ino_t known_ino;
    /* request ids */
    char id_prefix[17];
    atomic_uint_fast64_t next_id;
};

char *api_audit_path(const char *home) {
    return mp_xasprintf("%s/audit/audit.log", home);
}

/* ---- keys --------------------------------------------------------------------------- */

/* Reads the hex key of file path into out (n bytes). */
static int read_hex_key(const char *path, unsigned char *out, size_t n, bool secret, mp_err *e) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mp_err_set(e, MP_ENOENT, "cannot read audit key %s: %s (create a pair with mlplane audit keygen --out FILE)",
                          path, strerror(errno));
    if (secret && (sb.st_mode & 077))
        return mp_err_set(e, MP_EINVAL, "audit key %s is readable by others (mode %03o): chmod 600 %s", path,
                          (unsigned)(sb.st_mode & 0777), path);
    char *text = NULL;
    size_t len = 0;
    if (mp_read_file(path, &text, &len, e) != 0) return mp_err_prefix(e, "audit key");
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) text[--len] = '\0';
    size_t got = 0;
    int rc = sodium_hex2bin(out, n, text, len, NULL, &got, NULL);
    sodium_memzero(text, len);
    free(text);
    if (rc != 0 || got != n)
        return mp_err_set(e, MP_EINVAL, "%s is not an audit %s key (%zu hex characters expected; see mlplane audit keygen)",
                          path, secret ? "signing" : "public", 2 * n);
    return 0;
}

int api_audit_read_public_key(const char *path, unsigned char pk[crypto_sign_PUBLICKEYBYTES], mp_err *e) {
    return read_hex_key(path, pk, crypto_sign_PUBLICKEYBYTES, false, e);
}

/* Writes text to path, created with mode (refusing one that exists). */
static int write_new_file(const char *path, const char *text, mode_t mode, mp_err *e) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return mp_err_set(e, MP_EIO, "cannot create %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int err = (w == (ssize_t)len) ? 0 : (w < 0 ? errno : EIO);
    if (!err && fsync(fd) != 0) err = errno;
    close(fd);
    if (err) return mp_err_set(e, MP_EIO, "cannot write %s: %s", path, strerror(err));
    return 0;
}

int api_audit_keygen(const char *out, char **pub_path, mp_err *e) {
    *pub_path = mp_xasprintf("%s.pub", out);
    if (mp_path_exists(out) || mp_path_exists(*pub_path)) {
        int rc = mp_err_set(e, MP_EEXIST, "%s or %s exists already: remove it or choose another --out", out, *pub_path);
        free(*pub_path);
        *pub_path = NULL;
        return rc;
    }
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    char skhex[2 * sizeof sk + 2], pkhex[2 * sizeof pk + 2];
    sodium_bin2hex(skhex, sizeof skhex, sk, sizeof sk);
    sodium_bin2hex(pkhex, sizeof pkhex, pk, sizeof pk);
    strcat(skhex, "\n");
    strcat(pkhex, "\n");
    int rc = write_new_file(out, skhex, 0600, e);
    if (rc == 0) rc = write_new_file(*pub_path, pkhex, 0644, e);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(skhex, sizeof skhex);
    if (rc != 0) {
        free(*pub_path);
        *pub_path = NULL;
    }
    return rc;
}

/* ---- open and close ---------------------------------------------------------------- */

int api_audit_open(const char *home, const char *key_file, api_audit **out, mp_err *e) {
    *out = NULL;
    api_audit *a = mp_xcalloc(1, sizeof *a);
    a->fd = -1;
    if (key_file) {
        if (read_hex_key(key_file, a->sk, sizeof a->sk, true, e) != 0) {
            free(a);
            return e->code;
        }
        a->has_key = true;
    }
    char *dir = mp_xasprintf("%s/audit", home);
    int rc = mp_mkdir_p(dir, e);
    if (rc == 0) chmod(dir, 0700);
    free(dir);
    if (rc != 0) {
        sodium_memzero(a->sk, sizeof a->sk);
        free(a);
        return rc;
    }
    a->path = api_audit_path(home);
    a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        rc = mp_err_set(e, MP_EIO, "cannot open the audit log %s: %s", a->path, strerror(errno));
        free(a->path);
        sodium_memzero(a->sk, sizeof a->sk);
        free(a);
        return rc;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->known_size = -1;
    unsigned char r[8];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(a->id_prefix, sizeof a->id_prefix, r, sizeof r);
    *out = a;
    return 0;
}

void api_audit_close(api_audit *a) {
    if (!a) return;
    for (size_t i = 0; i < a->nqueue; i++) free(a->queue[i]);
    free(a->queue);
    if (a->fd >= 0 && a->unsynced) fdatasync(a->fd);
    if (a->fd >= 0) close(a->fd);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    sodium_memzero(a->sk, sizeof a->sk);
    free(a->path);
    free(a);
}

void api_audit_request_id(api_audit *a, char out[API_AUDIT_ID_MAX]) {
    uint64_t n = atomic_fetch_add(&a->next_id, 1) + 1;
    snprintf(out, API_AUDIT_ID_MAX, "%s-%08llx", a->id_prefix, (unsigned long long)n);
}

/* ---- lines --------------------------------------------------------------------------- */

/* A JSON string of s (valid UTF-8: invalid bytes become U+FFFD; at most 1 KiB). */
static json_t *jstr(const char *s) {
    if (!s) s = "";
    size_t n = strnlen(s, 1024);
    mp_buf b;
    mp_buf_init(&b);
    mp_utf8_clean(&b, s, n, false);
    json_t *v = json_stringn(b.data, b.len);
    mp_buf_free(&b);
    return v ? v : json_string("");
}

void api_audit_time(int64_t ms, char out[32]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, (int)(ms % 1000));
}

/* The line's fields up to prev, as jansson's compact dump without its closing brace (heap). */
static char *line_head(const api_audit_entry *en) {
    char t[32];
    api_audit_time(en->time_ms ? en->time_ms : mp_now_ms(), t);
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(t));
    json_object_set_new(o, "user", jstr(en->user));
    json_object_set_new(o, "source", jstr(en->source));
    json_object_set_new(o, "method", jstr(en->method));
    json_object_set_new(o, "verb", jstr(en->verb));
    json_object_set_new(o, "resource", jstr(en->resource));
    json_object_set_new(o, "namespace", jstr(en->namespace_));
    json_object_set_new(o, "name", jstr(en->name));
    json_object_set_new(o, "status", json_integer(en->status));
    json_object_set_new(o, "result", jstr(en->result));
    json_object_set_new(o, "request_id", jstr(en->request_id));
    char *s = json_dumps(o, API_AUDIT_JSON_FLAGS);
    json_decref(o);
    size_t n = strlen(s);
    if (n > 0 && s[n - 1] == '}') s[n - 1] = '\0';
    return s;
}

void api_audit_hash(const char *prev, const char *content, size_t len, char out[65]) {
    unsigned char h[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)prev, strlen(prev));
    crypto_generichash_update(&st, (const unsigned char *)content, len);
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* The "hash" of the last complete line of the file open at fd, into prev (zeros
 * for an empty file, or when the last line carries no readable hash: verify
 * reports that line). */
static void read_last_hash(int fd, off_t size, char prev[65]) {
    memset(prev, '0', 64);
    prev[64] = '\0';
    if (size <= 0) return;
    off_t from = size > TAIL_READ ? size - TAIL_READ : 0;
    char *buf = mp_xmalloc(TAIL_READ + 1);
    ssize_t n = pread(fd, buf, (size_t)(size - from), from);
    if (n > 0) {
        buf[n] = '\0';
        while (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
        char *line = strrchr(buf, '\n');
        line = line ? line + 1 : buf;
        json_t *o = json_loads(line, 0, NULL);
        const char *h = json_string_value(json_object_get(o, "hash"));
        if (h && strlen(h) == 64) memcpy(prev, h, 64);
        json_decref(o);
    }
    free(buf);
}

/* Brings fd and the chain state up to date with the file, under the flock. */
static int sync_with_file(api_audit *a, mp_err *e) {
    struct stat path_sb, fd_sb;
    if (stat(a->path, &path_sb) != 0 || fstat(a->fd, &fd_sb) != 0 || path_sb.st_ino != fd_sb.st_ino ||
        path_sb.st_dev != fd_sb.st_dev) {
        /* The file was moved away or removed (rotation): a new log starts at path. */
        flock(a->fd, LOCK_UN);
        close(a->fd);
        a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (a->fd < 0) return mp_err_set(e, MP_EIO, "cannot open the audit log %s: %s", a->path, strerror(errno));
        if (flock(a->fd, LOCK_EX) != 0) return mp_err_set(e, MP_EIO, "cannot lock %s: %s", a->path, strerror(errno));
        if (fstat(a->fd, &fd_sb) != 0) return mp_err_set(e, MP_EIO, "cannot stat %s: %s", a->path, strerror(errno));
        a->known_size = -1;
    }
    if (fd_sb.st_size != a->known_size || fd_sb.st_ino != a->known_ino) {
        /* Someone else (another process on this home) wrote since our last line. */
        int rfd = open(a->path, O_RDONLY | O_CLOEXEC);
        if (rfd < 0) return mp_err_set(e, MP_EIO, "cannot read the audit log %s: %s", a->path, strerror(errno));
        read_last_hash(rfd, fd_sb.st_size, a->prev);
        close(rfd);
        a->known_size = fd_sb.st_size;
        a->known_ino = fd_sb.st_ino;
    }
    return 0;
}

/* Chains, signs and writes heads (n lines) durably. The caller is the flusher. */
static int write_batch(api_audit *a, char **heads, size_t n, mp_err *e) {
    if (a->fd < 0) { /* a reopen failed last time: try again */
        a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        a->known_size = -1;
        if (a->fd < 0) return mp_err_set(e, MP_EIO, "cannot open the audit log %s: %s", a->path, strerror(errno));
    }
    if (flock(a->fd, LOCK_EX) != 0) return mp_err_set(e, MP_EIO, "cannot lock %s: %s", a->path, strerror(errno));
    int rc = sync_with_file(a, e);
    mp_buf b;
    mp_buf_init(&b);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t start = b.len;
        mp_buf_printf(&b, "%s,\"prev\":\"%s\"}", heads[i], a->prev);
        char hash[65];
        api_audit_hash(a->prev, b.data + start, b.len - start, hash);
        b.len--; /* the closing brace: hash (and sig) follow */
        mp_buf_printf(&b, ",\"hash\":\"%s\"", hash);
        if (a->has_key) {
            unsigned char raw[32], sig[crypto_sign_BYTES];
            char sighex[2 * crypto_sign_BYTES + 1];
            sodium_hex2bin(raw, sizeof raw, hash, 64, NULL, NULL, NULL);
            crypto_sign_detached(sig, NULL, raw, sizeof raw, a->sk);
            sodium_bin2hex(sighex, sizeof sighex, sig, sizeof sig);
            mp_buf_printf(&b, ",\"sig\":\"%s\"", sighex);
        }
        mp_buf_puts(&b, "}\n");
        memcpy(a->prev, hash, sizeof hash);
    }
    size_t off = 0;
    while (rc == 0 && off < b.len) {
        ssize_t w = write(a->fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) rc = mp_err_set(e, MP_EIO, "cannot write the audit log %s: %s", a->path, strerror(w < 0 ? errno : EIO));
        else off += (size_t)w;
    }
    /* Durable as the store's own commits (synchronous=NORMAL): written before the
     * answer, so a crash of the server loses nothing; synced at most every
     * AUDIT_SYNC_US (and at close), so a power loss may lose what the kernel had
     * not yet written back, as it may of the store's last commits. */
    if (rc == 0) {
        int64_t now = mp_mono_us();
        if (now - a->synced_us >= AUDIT_SYNC_US) {
            if (fdatasync(a->fd) != 0)
                rc = mp_err_set(e, MP_EIO, "cannot sync the audit log %s: %s", a->path, strerror(errno));
            a->synced_us = now;
            a->unsynced = false;
        } else {
            a->unsynced = true;
        }
    }
    if (rc == 0) a->known_size += (off_t)b.len;
    else a->known_size = -1; /* reread what is there next time */
    mp_buf_free(&b);
    flock(a->fd, LOCK_UN);
    return rc;
}

int api_audit_append(api_audit *a, const api_audit_entry *en, mp_err *e) {
    char *head = line_head(en);
    pthread_mutex_lock(&a->mu);
    if (a->nqueue == a->capqueue) {
        a->capqueue = a->capqueue ? 2 * a->capqueue : 16;
        a->queue = mp_xrealloc(a->queue, a->capqueue * sizeof *a->queue);
    }
    a->queue[a->nqueue++] = head;
    uint64_t mine = ++a->enqueued;
    while (a->done < mine) {
        if (a->flushing) {
            pthread_cond_wait(&a->cv, &a->mu);
            continue;
        }
        /* Become the flusher of everything queued so far. */
        a->flushing = true;
        char **heads = a->queue;
        size_t n = a->nqueue;
        uint64_t last = a->enqueued;
        a->queue = NULL;
        a->nqueue = a->capqueue = 0;
        pthread_mutex_unlock(&a->mu);
        mp_err fe = {0};
        int rc = write_batch(a, heads, n, &fe);
        for (size_t i = 0; i < n; i++) free(heads[i]);
        free(heads);
        pthread_mutex_lock(&a->mu);
        if (rc != 0) {
            a->failed_from = last - n + 1;
            a->failed_to = last;
            mp_strlcpy(a->failed_msg, fe.msg, sizeof a->failed_msg);
        }
        a->done = last;
        a->flushing = false;
        pthread_cond_broadcast(&a->cv);
    }
    int rc = 0;
    if (mine >= a->failed_from && mine <= a->failed_to && a->failed_to > 0)
        rc = mp_err_set(e, MP_EIO, "%s", a->failed_msg);
    pthread_mutex_unlock(&a->mu);
    return rc;
}
