/* forward.c — the router's HTTP client to its replicas: libcurl over each
 * replica's unix socket, HTTP/1.1 with keep-alive.
 *
 * Each router thread (an HTTP engine worker) keeps one CURL easy handle per
 * replica slot of each pool, made on first use and kept in a thread-specific
 * slot (r->tls), so that its connection is reused request after request and
 * no handle is ever shared between threads. A handle made for an earlier
 * process of the slot (another gen) is replaced, which drops its dead
 * connection. The handles are freed when their thread exits (the key's
 * destructor), i.e. when the engine is stopped, which is before the router is
 * freed.
 *
 * A pool may instead be an upstream: one HTTP server at a base URL (a
 * Kubernetes Service of one version's pods), reached over TCP the same way.
 *
 * What is passed on: the method, the path (re-encoded) and query, the body,
 * and the end-to-end request headers (not Host, Content-Length, Connection and
 * the other hop-by-hop ones); back come the status, the body, Content-Type and
 * the end-to-end response headers (X-Model-Version among them).
 *
 * The supervisor's readiness probes (serve__probe) use handles of their own.
 * Threads: serve__forward runs on router threads, concurrently, each on its
 * own handles; serve__probe on the supervisor thread. */
#include "serve/router_int.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct tls_handles {
    CURL *h[SERVE_ROUTER_MAX_POOLS][SERVE_ROUTER_MAX_REPLICAS];
    unsigned gen[SERVE_ROUTER_MAX_POOLS][SERVE_ROUTER_MAX_REPLICAS];
} tls_handles;

static void tls_free(void *p) {
    tls_handles *t = p;
    for (int i = 0; i < SERVE_ROUTER_MAX_POOLS; i++)
        for (int j = 0; j < SERVE_ROUTER_MAX_REPLICAS; j++)
            if (t->h[i][j]) curl_easy_cleanup(t->h[i][j]);
    free(t);
}

int serve__forward_init(serve_router *r, mp_err *e) {
    int rc = pthread_key_create(&r->tls, tls_free);
    return rc ? mp_err_set(e, MP_EIO, "cannot make a thread-specific key: %s", strerror(rc)) : 0;
}

void serve__forward_fini(serve_router *r) {
    /* Threads that forwarded have exited (the engine is stopped); their handles
     * were freed by the destructor. A handle of this thread (none in mlplane)
     * is freed here. */
    tls_handles *t = pthread_getspecific(r->tls);
    if (t) {
        pthread_setspecific(r->tls, NULL);
        tls_free(t);
    }
    pthread_key_delete(r->tls);
}

/* ---- pure parts ------------------------------------------------------------------------ */

void serve__encode_path(mp_buf *b, const char *path) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("-._~!$&'()*+,;=:@/", *c))
            mp_buf_putc(b, (char)*c);
        else {
            char esc[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            mp_buf_append(b, esc, 3);
        }
    }
}

/* Query parameters: like the path, with '&', '=' and '+' encoded too. */
static void encode_query_part(mp_buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("-._~", *c))
            mp_buf_putc(b, (char)*c);
        else {
            char esc[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            mp_buf_append(b, esc, 3);
        }
    }
}

/* Hop-by-hop headers and those the client library writes itself. */
static bool not_forwarded(const char *name) {
    static const char *const skip[] = {"Host", "Content-Length", "Connection", "Keep-Alive", "Proxy-Connection",
                                       "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Expect", "Date"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strcasecmp(name, skip[i]) == 0) return true;
    return false;
}

/* ---- the request ------------------------------------------------------------------------ */

typedef struct req_headers {
    struct curl_slist *list;
    bool content_type;
} req_headers;

static void add_header(void *ud, const char *name, const char *value) {
    req_headers *h = ud;
    if (not_forwarded(name)) return;
    if (strcasecmp(name, "Content-Type") == 0) h->content_type = true;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: %s", name, value);
    if (n < 0) return;
    if ((size_t)n < sizeof line) {
        h->list = curl_slist_append(h->list, line);
    } else {
        char *big = mp_xasprintf("%s: %s", name, value);
        h->list = curl_slist_append(h->list, big);
        free(big);
    }
}

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    mp_http_resp *resp = ud;
    mp_buf_append(&resp->body, data, size * n);
    return size * n;
}

/* One header line of the answer: Content-Type and the end-to-end headers are kept. */
static size_t on_header(char *data, size_t size, size_t n, void *ud) {
    mp_http_resp *resp = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) { /* a status line: what came before was an interim answer */
        resp->nheaders = 0;
        resp->content_type[0] = '\0';
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon) return len;
    size_t nl = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t vl = (size_t)(end - v);
    char name[64], value[512];
    if (nl == 0 || nl >= sizeof name || vl >= sizeof value) return len;
    memcpy(name, data, nl);
    name[nl] = '\0';
    memcpy(value, v, vl);
    value[vl] = '\0';
    if (strcasecmp(name, "Content-Type") == 0) mp_strlcpy(resp->content_type, value, sizeof resp->content_type);
    else if (!not_forwarded(name)) mp_http_header_add(resp, name, value);
    return len;
}

/* This thread's handle for slot of pool pi, process gen. */
static CURL *handle_for(serve_router *r, size_t pi, int slot, unsigned gen) {
    tls_handles *t = pthread_getspecific(r->tls);
    if (!t) {
        t = mp_xcalloc(1, sizeof *t);
        pthread_setspecific(r->tls, t);
    }
    CURL *c = t->h[pi][slot];
    if (c && t->gen[pi][slot] == gen) return c;
    if (c) curl_easy_cleanup(c);
    c = curl_easy_init();
    t->h[pi][slot] = c;
    t->gen[pi][slot] = gen;
    if (!c) return NULL;
    if (!r->pools[pi].url) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, r->pools[pi].rep[slot].sock);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)r->o.upstream_timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    return c;
}

static serve__fwd classify(CURLcode cc) {
    switch (cc) {
    case CURLE_OK: return SERVE__FWD_OK;
    case CURLE_COULDNT_RESOLVE_HOST: /* an upstream's name not there yet (a Service being made): never delivered */
    case CURLE_COULDNT_CONNECT: return SERVE__FWD_REFUSED;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE: return SERVE__FWD_DIED;
    case CURLE_OPERATION_TIMEDOUT: return SERVE__FWD_TIMEOUT;
    default: return SERVE__FWD_ERROR;
    }
}

serve__fwd serve__forward(serve_router *r, size_t pi, int slot, unsigned gen, const mp_http_req *req,
                          mp_http_resp *resp, char *err, size_t errn) {
    CURL *c = handle_for(r, pi, slot, gen);
    if (!c) {
        snprintf(err, errn, "cannot make an HTTP client handle");
        return SERVE__FWD_ERROR;
    }
    mp_buf url;
    mp_buf_init(&url);
    mp_buf_puts(&url, r->pools[pi].url ? r->pools[pi].url : "http://replica");
    serve__encode_path(&url, req->path ? req->path : "/");
    for (size_t i = 0; i < req->nquery; i++) {
        mp_buf_putc(&url, i == 0 ? '?' : '&');
        encode_query_part(&url, req->query[i].key);
        mp_buf_putc(&url, '=');
        encode_query_part(&url, req->query[i].value);
    }
    req_headers h = {0};
    mp_http_req_headers(req, add_header, &h);
    if (!mp_http_req_header(req, "Content-Type") && req->content_type)
        add_header(&h, "Content-Type", req->content_type); /* a request made outside the engine */
    h.list = curl_slist_append(h.list, "Expect:");
    if (!h.content_type) h.list = curl_slist_append(h.list, "Content-Type:"); /* not libcurl's form type */

    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h.list);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    if (strcmp(req->method, "GET") == 0 && req->body_len == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (strcmp(req->method, "POST") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(h.list);
    mp_buf_free(&url);

    serve__fwd f = classify(cc);
    if (f == SERVE__FWD_OK && (status < 100 || status > 599)) {
        snprintf(err, errn, "the replica answered with no valid status");
        return SERVE__FWD_ERROR;
    }
    if (f != SERVE__FWD_OK) {
        snprintf(err, errn, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cc));
        return f;
    }
    resp->status = (int)status;
    return SERVE__FWD_OK;
}

/* ---- probes (the supervisor) ---------------------------------------------------------------- */

static size_t discard(char *data, size_t size, size_t n, void *ud) {
    (void)data, (void)ud;
    return size * n;
}

int serve__probe(void **handle, const char *sock, const char *url, int timeout_ms) {
    CURL *c = *handle;
    if (!c) {
        c = curl_easy_init();
        if (!c) return 0;
        *handle = c;
        if (url) {
            char *u = mp_xasprintf("%s/v2/health/ready", url);
            curl_easy_setopt(c, CURLOPT_URL, u); /* libcurl copies it */
            free(u);
        } else {
            curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
            curl_easy_setopt(c, CURLOPT_URL, "http://replica/v2/health/ready");
        }
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    }
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return (int)status;
}

void serve__probe_close(void **handle) {
    if (*handle) curl_easy_cleanup(*handle);
    *handle = NULL;
}
