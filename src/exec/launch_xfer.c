/* launch_xfer.c — the launcher's client of mlplane server (libcurl): the
 * content-addressed blob store (/api/v1/uploads) and the MLflow artifact proxy
 * (/api/2.0/mlflow-artifacts/artifacts), with retries.
 *
 * Every request is tried again after a transient failure (no answer, 408, 429,
 * 5xx) with a doubling pause (exec__launch_backoff_ms), up to the client's
 * retries; a blob being downloaded is rewound to where it started first. A
 * download streams into its file, its SHA-256 checked as it comes; an upload
 * sends one chunk held in memory (at most LAUNCH_CHUNK). With MLPLANE_TOKEN set
 * (a server with --auth), every request carries it as Authorization: Bearer.
 * Single-threaded: one handle, one request at a time. */
#include "exec/launch_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct launch_client {
    CURL *c;
    char *base; /* the server's URL without a trailing slash */
    char *cacert; /* $MLPLANE_CACERT: the CA that verifies an https:// server, or NULL */
    int retries;
    char errbuf[CURL_ERROR_SIZE];
    char auth[600]; /* "Authorization: Bearer $MLPLANE_TOKEN", "" without one */
};

int exec__client_open(const char *url, int retries, launch_client **out, mp_err *e) {
    *out = NULL;
    if (!url || !(mp_str_starts(url, "http://") || mp_str_starts(url, "https://")))
        return mp_err_set(e, MP_EINVAL, "MLPLANE_SERVER \"%s\" is not an http:// or https:// URL of mlplane server",
                          url ? url : "");
    static bool inited;
    if (!inited && curl_global_init(CURL_GLOBAL_DEFAULT) != 0) return mp_err_set(e, MP_EIO, "cannot initialise libcurl");
    inited = true;
    launch_client *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->c = curl_easy_init();
    if (!c->c) {
        free(c);
        return mp_err_set(e, MP_EIO, "cannot initialise libcurl");
    }
    c->base = mp_xstrdup(url);
    const char *ca = getenv("MLPLANE_CACERT");
    c->cacert = ca && *ca ? mp_xstrdup(ca) : NULL;
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/') c->base[--n] = '\0';
    c->retries = retries < 0 ? 0 : retries;
    const char *token = getenv("MLPLANE_TOKEN");
    if (token && *token) snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", token);
    *out = c;
    return 0;
}

void exec__client_close(launch_client *c) {
    if (!c) return;
    curl_easy_cleanup(c->c);
    free(c->base);
    free(c->cacert);
    sodium_memzero(c->auth, sizeof c->auth);
    free(c);
}

static void pause_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Where a response body goes: a buffer, or a file with its SHA-256. */
typedef struct sink {
    mp_buf *buf;
    int fd;
    mp_hash h;
    int64_t n;
    int err; /* errno of a failed write */
} sink;

static size_t on_data(char *p, size_t size, size_t nm, void *ud) {
    sink *s = ud;
    size_t n = size * nm;
    if (s->buf) {
        mp_buf_append(s->buf, p, n);
        return n;
    }
    mp_hash_bytes(&s->h, p, n);
    for (size_t off = 0; off < n;) {
        ssize_t w = write(s->fd, p + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            s->err = errno;
            return 0;
        }
        off += (size_t)w;
    }
    s->n += (int64_t)n;
    return n;
}

typedef struct src {
    const char *p;
    size_t left;
} src;

static size_t on_read(char *out, size_t size, size_t nm, void *ud) {
    src *s = ud;
    size_t n = size * nm < s->left ? size * nm : s->left;
    memcpy(out, s->p, n);
    s->p += n;
    s->left -= n;
    return n;
}

/* The "message" of an MLflow-shaped error body, or the body's start (static buffer). */
static const char *why(const mp_buf *b) {
    static char out[300];
    json_t *j = b && b->len ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(j, "message"));
    snprintf(out, sizeof out, "%s", m ? m : b && b->len ? b->data : "no message");
    json_decref(j);
    return out;
}

/* One request, tried again while transient: method, path, body (may be NULL),
 * into out (a buffer or a file). *http: the final status. */
static int request(launch_client *c, const char *method, const char *path, const void *body, size_t len,
                   const char *ctype, sink *out, long *http, mp_err *e) {
    char *url = mp_xasprintf("%s%s", c->base, path);
    off_t start = out->buf ? 0 : lseek(out->fd, 0, SEEK_CUR);
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        if (out->buf) mp_buf_reset(out->buf);
        else if (ftruncate(out->fd, start) != 0 || lseek(out->fd, start, SEEK_SET) != start) {
            rc = mp_err_set(e, MP_EIO, "cannot rewind a download: %s", strerror(errno));
            break;
        }
        mp_hash_init(&out->h);
        out->n = 0;
        out->err = 0;
        CURL *h = c->c;
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        /* no overall timeout: a blob takes what it takes; a stalled transfer is cut */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 120L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "mlplane-launch/" MLPLANE_VERSION);
        if (c->cacert) curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
        struct curl_slist *hd = c->auth[0] ? curl_slist_append(NULL, c->auth) : NULL;
        src s = {body, len};
        if (body) {
            char ct[128];
            snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
            hd = curl_slist_append(hd, ct);
            hd = curl_slist_append(hd, "Expect:");
        }
        if (hd) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        if (body) {
            if (strcmp(method, "PUT") == 0) {
                curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
                curl_easy_setopt(h, CURLOPT_READDATA, &s);
                curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
            } else {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
            }
        }
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        c->errbuf[0] = '\0';
        CURLcode cr = curl_easy_perform(h);
        curl_slist_free_all(hd);
        *http = 0;
        if (cr == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
        if (out->err) {
            rc = mp_err_set(e, MP_EIO, "cannot write what %s %s sent: %s", method, url, strerror(out->err));
            break;
        }
        if (!exec__launch_transient(*http)) break;
        if (attempt >= c->retries) {
            rc = cr != CURLE_OK ? mp_err_set(e, MP_EIO, "%s %s: %s (tried %d times)", method, url,
                                             c->errbuf[0] ? c->errbuf : curl_easy_strerror(cr), attempt + 1)
                                : mp_err_set(e, MP_EIO, "%s %s: the server answered %ld: %s (tried %d times)", method,
                                             url, *http, out->buf ? why(out->buf) : "", attempt + 1);
            break;
        }
        int ms = exec__launch_backoff_ms(attempt + 1);
        fprintf(stderr, "mlplane launch: %s %s: %s; trying again in %d ms\n", method, path,
                cr != CURLE_OK ? (c->errbuf[0] ? c->errbuf : curl_easy_strerror(cr)) : "the server is not answering well",
                ms);
        pause_ms(ms);
    }
    free(url);
    return rc;
}

int exec__client_get(launch_client *c, const char *path, char **body, size_t *len, long *http, mp_err *e) {
    mp_buf b;
    mp_buf_init(&b);
    sink s = {.buf = &b};
    int rc = request(c, "GET", path, NULL, 0, NULL, &s, http, e);
    if (rc != 0) {
        mp_buf_free(&b);
        *body = NULL;
        return rc;
    }
    *len = b.len;
    *body = mp_buf_steal(&b);
    return 0;
}

int exec__client_put(launch_client *c, const char *path, const void *body, size_t len, const char *content_type,
                     mp_err *e) {
    mp_buf b;
    mp_buf_init(&b);
    sink s = {.buf = &b};
    long http = 0;
    int rc = request(c, "PUT", path, body ? body : "", len, content_type, &s, &http, e);
    if (rc == 0 && (http < 200 || http > 299))
        rc = mp_err_set(e, MP_EIO, "PUT %s%s: the server answered %ld: %s", c->base, path, http, why(&b));
    mp_buf_free(&b);
    return rc;
}

int exec__client_put_blob(launch_client *c, const char *hex, const void *data, size_t len, mp_err *e) {
    mp_buf b;
    mp_buf_init(&b);
    sink s = {.buf = &b};
    long http = 0;
    char q[100];
    snprintf(q, sizeof q, "{\"sha256\":[\"%s\"]}", hex);
    int rc = request(c, "POST", "/api/v1/uploads/missing", q, strlen(q), "application/json", &s, &http, e);
    json_t *j = rc == 0 && http == 200 ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    if (rc == 0 && !json_is_array(json_object_get(j, "missing")))
        rc = mp_err_set(e, MP_EIO, "POST %s/api/v1/uploads/missing: the server answered %ld: %s", c->base, http, why(&b));
    bool missing = rc == 0 && json_array_size(json_object_get(j, "missing")) > 0;
    json_decref(j);
    mp_buf_free(&b);
    if (rc != 0 || !missing) return rc;
    char path[128];
    snprintf(path, sizeof path, "/api/v1/uploads/sha256/%s", hex);
    return exec__client_put(c, path, data, len, "application/octet-stream", e);
}

int exec__client_get_blob(launch_client *c, const char *hex, int fd, int64_t *size, mp_err *e) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/uploads/sha256/%s", hex);
    sink s = {.fd = fd};
    long http = 0;
    int rc = request(c, "GET", path, NULL, 0, NULL, &s, &http, e);
    if (rc == 0 && http == 404)
        return mp_err_set(e, MP_ENOENT, "the server at %s has no blob %s (it was removed, or never sent)", c->base, hex);
    if (rc == 0 && http != 200) return mp_err_set(e, MP_EIO, "GET %s%s: the server answered %ld", c->base, path, http);
    if (rc != 0) return rc;
    char got[65];
    mp_hash_final_hex(&s.h, got);
    if (strcmp(got, hex) != 0)
        return mp_err_set(e, MP_EINVAL, "the blob %s the server sent hashes to %s: refused", hex, got);
    *size = s.n;
    return 0;
}
