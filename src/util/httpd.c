/* httpd.c — the HTTP engine of every mlplane server (see http.h): libmicrohttpd
 * in epoll mode with an internal pool of worker threads, in front of one
 * handler. It owns everything libmicrohttpd-specific; handlers only see the
 * mp_http_req/mp_http_resp shapes.
 *
 * A request goes: URI seen -> a conn_ctx is allocated (before libmicrohttpd
 * decodes the URI, so that an encoded NUL is noticed); first access call
 * (headers) -> a URI with %00 is answered 400 and a Content-Length over the
 * limit 413 at once; upload calls -> the body accumulates up to max_body; final
 * call -> the decoded path and query parameters are made valid UTF-8 and the
 * handler is called; its mp_http_resp becomes an MHD response (a buffer, or a
 * file streamed from its fd).
 *
 * With opts.loop_hook the engine runs the event loops itself: one
 * libmicrohttpd daemon per thread in external epoll mode, all on the one
 * listening socket, each polled by a thread of ours that calls the hook after
 * every round (MHD_run_wait). A handler may then defer its answer: the
 * connection is suspended when the handler returns, the hook (same thread)
 * resumes it, and the next round calls the handler's finish function and
 * sends what it answered. Requests read in one round can so be answered
 * together (serve batches their predictions).
 *
 * Threads: mp_httpd_start/stop run on the controlling thread. The URI, access
 * and completion callbacks run on the worker threads (a pool, our loop
 * threads, or one thread per connection when asked), each connection on one
 * worker at a time; a deferred request stays on its thread from defer to
 * finish. Workers share only the atomics below. inflight counts requests
 * between their URI and their completion, for the drain on stop; draining
 * and stopping tell the loop threads to stop accepting and to end. */
#include "util/http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* One of our event loops (opts.loop_hook): a daemon and the thread that polls it. */
typedef struct loop {
    mp_httpd *s;
    struct MHD_Daemon *d;
    pthread_t t;
    bool running; /* t was started */
} loop;

struct mp_httpd {
    struct MHD_Daemon *d;  /* the daemon with its internal threads; NULL with loops */
    int lsock;             /* our listening socket (MHD is given it); closed after stop */
    mp_httpd_opts o;       /* defaults filled in */
    char *log_name;
    char *unix_path;       /* the socket file to remove on stop, or NULL */
    char url[320];         /* http://HOST:PORT as bound, or unix:PATH */
    atomic_int inflight;
    atomic_bool draining;
    loop *loops;           /* opts.loop_hook: nloops event loops of our own */
    int nloops;
    atomic_bool stopping;
};

#define RESERVE_MAX ((size_t)64 << 10) /* the largest body buffer reserved from Content-Length alone */

typedef enum later_state { LATER_NONE, LATER_SUSPENDED, LATER_RESUMED, LATER_DONE } later_state;

/* A request's state; also its mp_httpd_later when deferred. */
typedef struct mp_httpd_later {
    bool started;     /* on_access has seen this request */
    bool nul_in_uri;  /* the raw URI holds %00: decoding would cut it short */
    mp_buf body;
    size_t received;  /* body bytes seen, kept or not */
    size_t declared;  /* the Content-Length, when given (at most max_body) */
    bool too_big;     /* the body went over max_body: answer 413 */
    bool responded;   /* a response is queued already */
    int64_t start_ms; /* monotonic, for the request log */
    /* A deferred request (loop_hook engines): its continuation, called once */
    mp_httpd_finish_fn finish;
    void *finish_arg;
    later_state later;
    struct MHD_Connection *conn;
} conn_ctx;

/* ---- listen addresses (pure) ------------------------------------------------------ */

int mp_http_parse_listen(const char *s, char *host, size_t hostn, int *port, mp_err *e) {
    if (!s || !*s) return mp_err_set(e, MP_EINVAL, "--listen needs HOST:PORT, e.g. 127.0.0.1:5000");
    const char *portp;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return mp_err_set(e, MP_EINVAL, "--listen \"%s\": an IPv6 address is written [ADDR]:PORT", s);
        size_t hl = (size_t)(close - s - 1);
        if (hl == 0 || hl + 1 > hostn) return mp_err_set(e, MP_EINVAL, "--listen \"%s\": bad address", s);
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        portp = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon && strchr(s, ':') != colon)
            return mp_err_set(e, MP_EINVAL, "--listen \"%s\": write an IPv6 address as [ADDR]:PORT", s);
        size_t hl = colon ? (size_t)(colon - s) : 0;
        if (hl + 1 > hostn) return mp_err_set(e, MP_EINVAL, "--listen \"%s\": host name too long", s);
        if (hl == 0) mp_strlcpy(host, "127.0.0.1", hostn);
        else {
            memcpy(host, s, hl);
            host[hl] = '\0';
        }
        portp = colon ? colon + 1 : s;
    }
    char *end;
    errno = 0;
    long p = strtol(portp, &end, 10);
    if (!*portp || *end || errno || p < 0 || p > 65535)
        return mp_err_set(e, MP_EINVAL, "--listen \"%s\": the port must be a number from 0 to 65535", s);
    for (const char *c = host; *c; c++)
        if (!(c[0] == '.' || c[0] == '-' || c[0] == ':' || c[0] == '_' || (c[0] >= '0' && c[0] <= '9') ||
              (c[0] >= 'a' && c[0] <= 'z') || (c[0] >= 'A' && c[0] <= 'Z')))
            return mp_err_set(e, MP_EINVAL, "--listen \"%s\": bad character in the host", s);
    *port = (int)p;
    return 0;
}

/* ---- responses ---------------------------------------------------------------------- */

static void request_log(mp_httpd *s, conn_ctx *cx, const char *method, const char *url, int status, size_t bytes) {
    if (!s->o.verbose) return;
    char t[40];
    mp_format_time(mp_now_ms(), t, sizeof t);
    fprintf(stderr, "%s %s %s %d %zu %lldms\n", t, method, url, status, bytes,
            (long long)(mp_mono_ms() - cx->start_ms));
}

/* Queues resp on c (taking its body); returns MHD's answer. */
static enum MHD_Result send_resp(mp_httpd *s, struct MHD_Connection *c, conn_ctx *cx, mp_http_resp *resp,
                                 const char *method, const char *url) {
    struct MHD_Response *mr = NULL;
    size_t bytes = 0;
    if (resp->file_path) {
        int fd = open(resp->file_path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
            bytes = (size_t)sb.st_size;
            mr = MHD_create_response_from_fd64((uint64_t)sb.st_size, fd);
            if (!mr) close(fd);
        } else {
            if (fd >= 0) close(fd);
            free(resp->file_path);
            resp->file_path = NULL;
            s->o.error(s->o.cls, resp, 404, "RESOURCE_DOES_NOT_EXIST", "the file to send no longer exists");
        }
    }
    if (!resp->file_path && resp->status >= 400 && resp->body.len == 0 && mp_str_starts(resp->content_type, "application/json"))
        s->o.error(s->o.cls, resp, resp->status, "INTERNAL_ERROR", "the error could not be encoded");
    if (!resp->file_path) {
        bytes = resp->body.len;
        char *data = mp_buf_steal(&resp->body);
        mr = MHD_create_response_from_buffer(bytes, data, MHD_RESPMEM_MUST_FREE);
        if (!mr) free(data);
    }
    if (!mr) return MHD_NO;
    if (resp->content_type[0]) MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (int i = 0; i < resp->nheaders && i < (int)(sizeof resp->headers / sizeof resp->headers[0]); i++)
        MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value); /* MHD refuses CR/LF */
    if (atomic_load(&s->draining)) MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    int status = resp->status >= 100 && resp->status <= 599 ? resp->status : 500;
    enum MHD_Result r = MHD_queue_response(c, (unsigned)status, mr);
    MHD_destroy_response(mr);
    cx->responded = true;
    request_log(s, cx, method, url, status, bytes);
    return r;
}

static enum MHD_Result send_error(mp_httpd *s, struct MHD_Connection *c, conn_ctx *cx, int status, const char *code,
                                  const char *method, const char *url, const char *fmt, ...) MP_PRINTF(8, 9);
static enum MHD_Result send_error(mp_httpd *s, struct MHD_Connection *c, conn_ctx *cx, int status, const char *code,
                                  const char *method, const char *url, const char *fmt, ...) {
    mp_http_resp resp;
    mp_http_resp_init(&resp);
    mp_buf m;
    mp_buf_init(&m);
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    s->o.error(s->o.cls, &resp, status, code, m.data);
    mp_buf_free(&m);
    enum MHD_Result r = send_resp(s, c, cx, &resp, method, url);
    mp_http_resp_free(&resp);
    return r;
}

static enum MHD_Result send_too_big(mp_httpd *s, struct MHD_Connection *c, conn_ctx *cx, const char *method,
                                    const char *url) {
    return send_error(s, c, cx, 413, "RESOURCE_LIMIT_EXCEEDED", method, url,
                      "the request body is larger than the server's limit of %zu bytes (--max-body)", s->o.max_body);
}

/* ---- requests ------------------------------------------------------------------------ */

/* Decoded query parameters, as valid UTF-8 copies (handlers put them in JSON). */
typedef struct kv_list {
    mp_http_kv *v;
    size_t n, cap;
    mp_strv own; /* the copies */
} kv_list;

/* A heap copy of s made valid UTF-8 (invalid bytes become U+FFFD). */
static char *utf8_copy(const char *s) {
    mp_buf b;
    mp_buf_init(&b);
    mp_utf8_clean(&b, s, strlen(s), false);
    return mp_buf_steal(&b);
}

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    kv_list *l = cls;
    if (!key || l->n >= 1000) return MHD_YES; /* silly numbers of parameters are dropped */
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = mp_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    mp_strv_push_owned(&l->own, utf8_copy(key));
    l->v[l->n].key = l->own.v[l->own.n - 1];
    mp_strv_push_owned(&l->own, utf8_copy(value ? value : ""));
    l->v[l->n].value = l->own.v[l->own.n - 1];
    l->n++;
    return MHD_YES;
}

/* The request headers: pointers into libmicrohttpd's copies (valid for the
 * request), in a fixed array first, on the heap beyond it. */
typedef struct hdr_list {
    mp_http_kv fixed[32];
    mp_http_kv *v;
    size_t n, cap;
} hdr_list;

static enum MHD_Result collect_hdr(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    hdr_list *l = cls;
    if (!key || l->n >= 1000) return MHD_YES; /* silly numbers of headers are dropped */
    if (l->n == l->cap) {
        l->cap *= 2;
        if (l->v == l->fixed) {
            l->v = mp_xmalloc(l->cap * sizeof *l->v);
            memcpy(l->v, l->fixed, sizeof l->fixed);
        } else {
            l->v = mp_xrealloc(l->v, l->cap * sizeof *l->v);
        }
    }
    l->v[l->n++] = (mp_http_kv){.key = key, .value = value ? value : ""};
    return MHD_YES;
}

/* The peer's address of connection c as text into buf ("unix" for a unix-domain socket, "" unknown). */
static const char *peer_addr(struct MHD_Connection *c, char *buf, size_t n) {
    buf[0] = '\0';
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (!sa) return buf;
    if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)n);
    else if (sa->sa_family == AF_INET6) inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)n);
    else if (sa->sa_family == AF_UNIX) mp_strlcpy(buf, "unix", n);
    return buf;
}

static enum MHD_Result dispatch(mp_httpd *s, struct MHD_Connection *c, conn_ctx *cx, const char *raw_url,
                                const char *method) {
    if (!raw_url || raw_url[0] != '/')
        return send_error(s, c, cx, 404, "ENDPOINT_NOT_FOUND", method, "?", "no endpoint at this path");
    /* The decoded path may hold any byte: handlers and messages see valid UTF-8. */
    char *url = utf8_copy(raw_url);
    kv_list q = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_kv, &q);
    hdr_list h = {.n = 0, .cap = sizeof h.fixed / sizeof h.fixed[0]};
    h.v = h.fixed;
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_hdr, &h);
    char peer[64];
    mp_http_req req = {
        .method = method,
        .path = url,
        .tail = "",
        .query = q.v,
        .nquery = q.n,
        .body = cx->body.data ? cx->body.data : "",
        .body_len = cx->body.len,
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST),
        .headers = h.v,
        .nheaders = h.n,
        .engine = s->loops ? cx : NULL,
        .remote_addr = peer_addr(c, peer, sizeof peer),
    };
    mp_http_resp resp;
    mp_http_resp_init(&resp);
    cx->conn = c;
    s->o.handler(s->o.cls, &req, &resp);
    enum MHD_Result res = MHD_YES;
    if (cx->later == LATER_SUSPENDED) MHD_suspend_connection(c); /* answered by the finish, after mp_httpd_resume */
    else res = send_resp(s, c, cx, &resp, method, url);
    mp_http_resp_free(&resp);
    free(q.v);
    mp_strv_free(&q.own);
    if (h.v != h.fixed) free(h.v);
    free(url);
    return res;
}

mp_httpd_later *mp_httpd_defer(const mp_http_req *req, mp_httpd_finish_fn finish, void *arg) {
    conn_ctx *cx = req->engine;
    if (!cx || cx->later != LATER_NONE) return NULL;
    cx->finish = finish;
    cx->finish_arg = arg;
    cx->later = LATER_SUSPENDED; /* dispatch suspends the connection when the handler returns */
    return cx;
}

void mp_httpd_resume(mp_httpd_later *l) {
    assert(l->later == LATER_SUSPENDED);
    l->later = LATER_RESUMED;
    MHD_resume_connection(l->conn); /* the loop's next round calls on_access, which finishes it */
}

/* The answer of a resumed request: its finish function's. */
static enum MHD_Result finish_deferred(mp_httpd *s, struct MHD_Connection *c, conn_ctx *cx, const char *method,
                                       const char *url) {
    cx->later = LATER_DONE;
    mp_http_resp resp;
    mp_http_resp_init(&resp);
    cx->finish(cx->finish_arg, &resp);
    enum MHD_Result r = send_resp(s, c, cx, &resp, method, url);
    mp_http_resp_free(&resp);
    return r;
}

/* A request's context, made when its URI arrives (before libmicrohttpd decodes
 * it, so that a %00, which decoding would turn into an early end, is seen). */
static conn_ctx *new_conn(mp_httpd *s, const char *raw_uri) {
    conn_ctx *cx = mp_xcalloc(1, sizeof *cx);
    mp_buf_init(&cx->body);
    cx->start_ms = s->o.verbose ? mp_mono_ms() : 0;
    cx->nul_in_uri = raw_uri && strstr(raw_uri, "%00") != NULL;
    atomic_fetch_add(&s->inflight, 1);
    return cx;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)c;
    return new_conn(cls, uri);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    mp_httpd *s = cls;
    conn_ctx *cx = *con_cls;
    if (!cx) { /* no URI callback ran (not expected): set up here */
        cx = new_conn(s, NULL);
        *con_cls = cx;
    }
    if (!cx->started) { /* headers only: refuse bad URIs and declared bodies over the limit at once */
        cx->started = true;
        if (cx->nul_in_uri)
            return send_error(s, c, cx, 400, "INVALID_PARAMETER_VALUE", method, url,
                              "the request URL holds an encoded NUL byte (%%00), which no path or parameter may hold");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || (v > s->o.max_body)) return send_too_big(s, c, cx, method, url);
            cx->declared = (size_t)v;
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (cx->responded) return MHD_YES;
        cx->received += n;
        if (cx->too_big || cx->body.len + n > s->o.max_body) {
            cx->too_big = true;
            mp_buf_free(&cx->body);
            mp_buf_init(&cx->body);
            /* A chunked body that goes on far past the limit is not worth reading to its end. */
            return cx->received / 2 > s->o.max_body ? MHD_NO : MHD_YES;
        }
        if (cx->body.len == 0 && cx->declared >= cx->body.cap && cx->declared <= RESERVE_MAX) {
            /* a small declared size at once: one allocation, not a chain of reallocs
             * (not a large one: a body that never comes would hold it) */
            free(cx->body.data);
            cx->body.cap = cx->declared + 1;
            cx->body.data = mp_xmalloc(cx->body.cap);
            cx->body.data[0] = '\0';
        }
        mp_buf_append(&cx->body, upload, n);
        return MHD_YES;
    }
    if (cx->responded) return MHD_YES;
    if (cx->later == LATER_RESUMED) return finish_deferred(s, c, cx, method, url);
    if (cx->later == LATER_SUSPENDED) return MHD_YES; /* not expected: libmicrohttpd does not call a suspended one */
    if (cx->too_big) return send_too_big(s, c, cx, method, url);
    return dispatch(s, c, cx, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    mp_httpd *s = cls;
    conn_ctx *cx = *con_cls;
    if (!cx) return;
    if (cx->finish && cx->later != LATER_DONE) cx->finish(cx->finish_arg, NULL); /* gone before its answer */
    mp_buf_free(&cx->body);
    free(cx);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    mp_httpd *s = cls;
    if (!s->o.verbose) return;
    fprintf(stderr, "%s: ", s->log_name);
    vfprintf(stderr, fmt, ap);
}

/* ---- listening sockets ------------------------------------------------------------- */

/* "http://HOST:PORT" of the TCP socket fd as bound (getsockname). */
static int socket_url(int fd, char *url, size_t n, mp_err *e) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return mp_err_set(e, MP_EIO, "cannot read the bound address: %s", strerror(errno));
    char host[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        snprintf(url, n, "http://[%s]:%d", host, port);
    } else if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        snprintf(url, n, "http://%s:%d", host, port);
    } else {
        return mp_err_set(e, MP_EINVAL, "descriptor %d is not a TCP socket", fd);
    }
    return 0;
}

int mp_http_listen_tcp(const char *addr, int *out, char *url, size_t n, mp_err *e) {
    *out = -1;
    char host[256];
    int port = 0;
    int rc = mp_http_parse_listen(addr, host, sizeof host, &port, e);
    if (rc) return rc;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int gr = getaddrinfo(host, ps, &hints, &ai);
    if (gr != 0) return mp_err_set(e, MP_EINVAL, "cannot listen on %s:%d: %s", host, port, gai_strerror(gr));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0) rc = mp_err_set(e, MP_EIO, "cannot create a socket: %s", strerror(errno));
    if (rc == 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rc == 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        rc = mp_err_set(e, MP_EIO, "cannot listen on %s:%d: %s", host, port, strerror(errno));
    if (rc == 0 && listen(fd, 511) != 0)
        rc = mp_err_set(e, MP_EIO, "cannot listen on %s:%d: %s", host, port, strerror(errno));
    if (rc == 0) rc = socket_url(fd, url, n, e);
    if (rc == 0) *out = fd;
    else if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return rc;
}

/* Whether a server accepts connections on the unix socket at sa. */
static bool unix_socket_live(const struct sockaddr_un *sa) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool live = connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0;
    close(fd);
    return live;
}

/* Binds and listens on the unix-domain socket at path (replacing a stale socket file). */
static int listen_unix(mp_httpd *s, const char *path, mp_err *e) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!*path) return mp_err_set(e, MP_EINVAL, "--listen unix:PATH needs a path");
    if (!mp_strlcpy(sa.sun_path, path, sizeof sa.sun_path))
        return mp_err_set(e, MP_EINVAL, "--listen unix:%s: the path is longer than %zu bytes", path, sizeof sa.sun_path - 1);
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) return mp_err_set(e, MP_EINVAL, "--listen unix:%s: the path exists and is not a socket", path);
        if (unix_socket_live(&sa)) return mp_err_set(e, MP_EIO, "--listen unix:%s: another server listens there", path);
        unlink(path); /* a socket file left by a server that is gone */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return mp_err_set(e, MP_EIO, "cannot create a socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 511) != 0) {
        int err = errno;
        close(fd);
        return mp_err_set(e, MP_EIO, "cannot listen on unix:%s: %s", path, strerror(err));
    }
    s->lsock = fd;
    s->unix_path = mp_xstrdup(path);
    snprintf(s->url, sizeof s->url, "unix:%s", path);
    return 0;
}

static int listen_on(mp_httpd *s, const char *listen, mp_err *e) {
    if (s->o.listen_fd > 2) { /* inherited, listening already */
        int rc = socket_url(s->o.listen_fd, s->url, sizeof s->url, e);
        if (rc == 0) s->lsock = s->o.listen_fd;
        return rc;
    }
    if (mp_str_starts(listen, "unix:")) return listen_unix(s, listen + 5, e);
    return mp_http_listen_tcp(listen, &s->lsock, s->url, sizeof s->url, e);
}

/* ---- start and stop ----------------------------------------------------------------- */

static void free_engine(mp_httpd *s) {
    if (s->lsock >= 0) close(s->lsock);
    if (s->unix_path) unlink(s->unix_path);
    free(s->unix_path);
    free(s->log_name);
    free(s);
}

static struct MHD_Daemon *start_daemon(mp_httpd *s, unsigned flags, unsigned pool, unsigned limit) {
    return MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, /* first: it takes the options' warnings too */
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->lsock,
                            MHD_OPTION_THREAD_POOL_SIZE, pool,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->o.timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, limit,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->o.conn_memory,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                            MHD_OPTION_END);
}

/* A loop thread: rounds of its daemon (waiting at most 50 ms, so that a stop
 * is seen), each followed by the hook. The hook runs after the last round too,
 * so no request stays suspended. The daemon gives the shared listening socket
 * back (quiesce) before its thread ends: libmicrohttpd would close it on stop. */
static void *loop_main(void *arg) {
    loop *l = arg;
    mp_httpd *s = l->s;
    bool quiesced = false;
    while (!atomic_load(&s->stopping)) {
        if (!quiesced && atomic_load(&s->draining)) {
            MHD_quiesce_daemon(l->d); /* the socket is shared: closed once, by free_engine */
            quiesced = true;
        }
        MHD_run_wait(l->d, 50);
        s->o.loop_hook(s->o.cls);
    }
    if (!quiesced) MHD_quiesce_daemon(l->d);
    return NULL;
}

/* Stops and joins the loop threads, then their daemons. */
static void stop_loops(mp_httpd *s) {
    atomic_store(&s->stopping, true);
    for (int i = 0; i < s->nloops; i++) {
        loop *l = &s->loops[i];
        if (l->running) pthread_join(l->t, NULL); /* it quiesced its daemon */
        else if (l->d) MHD_quiesce_daemon(l->d);
        if (l->d) MHD_stop_daemon(l->d);
    }
    free(s->loops);
    s->loops = NULL;
    s->nloops = 0;
}

/* opts.loop_hook: one daemon in external epoll mode per thread, on the shared
 * listening socket, and our threads to run them. */
static int start_loops(mp_httpd *s, mp_err *e) {
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    int n = s->o.threads;
    unsigned limit = 1024 / (unsigned)n > 0 ? 1024 / (unsigned)n : 1;
    s->loops = mp_xcalloc((size_t)n, sizeof *s->loops);
    s->nloops = n;
    for (int i = 0; i < n; i++) {
        s->loops[i].s = s;
        s->loops[i].d = start_daemon(s, flags, 0, limit);
        if (!s->loops[i].d) {
            stop_loops(s);
            return mp_err_set(e, MP_EIO, "cannot start the HTTP server on %s (libmicrohttpd refused)", s->url);
        }
    }
    for (int i = 0; i < n; i++) {
        int err = pthread_create(&s->loops[i].t, NULL, loop_main, &s->loops[i]);
        if (err != 0) {
            stop_loops(s);
            return mp_err_set(e, MP_EIO, "cannot start the HTTP server's threads: %s", strerror(err));
        }
        s->loops[i].running = true;
    }
    return 0;
}

int mp_httpd_start(const mp_httpd_opts *o, mp_httpd **out, mp_err *e) {
    *out = NULL;
    if (!o->handler || !o->error) return mp_err_set(e, MP_EINTERNAL, "mp_httpd_start: no handler or error function");
    if (o->loop_hook && o->thread_per_connection)
        return mp_err_set(e, MP_EINTERNAL, "mp_httpd_start: loop_hook and thread_per_connection exclude each other");
    mp_httpd *s = mp_xcalloc(1, sizeof *s);
    s->o = *o;
    s->lsock = -1;
    if (s->o.threads <= 0) s->o.threads = 4;
    if (s->o.max_body == 0) s->o.max_body = (size_t)64 << 20;
    if (s->o.timeout_s <= 0) s->o.timeout_s = 30;
    if (s->o.drain_s <= 0) s->o.drain_s = 10;
    if (s->o.conn_memory == 0) s->o.conn_memory = (size_t)128 << 10;
    s->log_name = mp_xstrdup(o->log_name ? o->log_name : "mlplane");
    s->o.log_name = s->log_name;
    atomic_init(&s->inflight, 0);
    atomic_init(&s->draining, false);
    atomic_init(&s->stopping, false);

    int rc = listen_on(s, o->listen ? o->listen : "127.0.0.1:5000", e);
    if (rc == 0 && s->o.loop_hook) {
        rc = start_loops(s, e);
    } else if (rc == 0) {
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
        flags |= s->o.thread_per_connection ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL : MHD_USE_EPOLL;
        /* A pool of one is no pool: libmicrohttpd warns; nor does a thread per connection take one. */
        unsigned pool = s->o.thread_per_connection || s->o.threads < 2 ? 0 : (unsigned)s->o.threads;
        s->d = start_daemon(s, flags, pool, 1024);
        if (!s->d) rc = mp_err_set(e, MP_EIO, "cannot start the HTTP server on %s (libmicrohttpd refused)", s->url);
    }
    if (rc != 0) {
        free_engine(s);
        return rc;
    }
    *out = s;
    return 0;
}

const char *mp_httpd_url(const mp_httpd *s) {
    return s->url;
}

void mp_httpd_stop(mp_httpd *s) {
    if (!s) return;
    atomic_store(&s->draining, true);
    if (s->d) MHD_quiesce_daemon(s->d); /* returns our own listening socket: closed below, after stop */
    /* loops: each thread quiesces its own daemon on its next round */
    if (s->unix_path) { /* new clients fail at once rather than queue */
        unlink(s->unix_path);
        free(s->unix_path);
        s->unix_path = NULL;
    }
    int64_t until = mp_mono_ms() + (int64_t)s->o.drain_s * 1000;
    while (atomic_load(&s->inflight) > 0 && mp_mono_ms() < until) mp_sleep_ms(20);
    if (s->d) MHD_stop_daemon(s->d); /* joins the workers */
    else stop_loops(s);
    free_engine(s);
}
