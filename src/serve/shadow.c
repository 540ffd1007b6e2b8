/* shadow.c — the shadow's sender: copies of requests sent to a router's
 * shadow pool, whose answers are never returned to a client.
 *
 * A copy (method, path, query, headers, body: all owned by the copy) waits in
 * a bounded queue of SERVE__SHADOW_QUEUE_MAX; a full queue drops it (counted).
 * The sender threads pop copies and send each with serve_router_forward to
 * the shadow's pool (so it waits for a ready replica or upstream as any
 * request does, and is counted in that pool's metrics), then hand the answer
 * to the owner's done callback (a deployment logs sampled ones). The client's
 * answer never waits for the shadow. Used by a Deployment (mirror.c) and by
 * a router of upstreams (route.c).
 *
 * Threads: serve__shadow_push on the router's HTTP threads; the queue under
 * s->mu; s->nthreads sender threads pop it; start, stop and free on the main
 * thread. Counters are atomics, read by any thread. */
#include "serve/router_int.h"
#include "util/prom.h"

#include <stdlib.h>
#include <string.h>

typedef struct shadow_copy {
    char *method, *path, *body, *content_type, *id;
    size_t body_len;
    mp_http_kv *headers, *query;
    size_t nheaders, nquery;
    bool sampled;
    int64_t time_ms;
} shadow_copy;

struct serve__shadow {
    serve_router *r;
    size_t pool;
    serve__shadow_done_fn done;
    void *ud;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    shadow_copy *q[SERVE__SHADOW_QUEUE_MAX];
    size_t head, n;
    bool stop;
    pthread_t threads[SERVE__SHADOW_THREADS_MAX];
    int nthreads; /* started */
    atomic_ullong queued, dropped, failed;
};

static void copy_free(shadow_copy *c) {
    if (!c) return;
    for (size_t i = 0; i < c->nheaders; i++) {
        free((char *)c->headers[i].key);
        free((char *)c->headers[i].value);
    }
    for (size_t i = 0; i < c->nquery; i++) {
        free((char *)c->query[i].key);
        free((char *)c->query[i].value);
    }
    free(c->headers);
    free(c->query);
    free(c->method);
    free(c->path);
    free(c->body);
    free(c->content_type);
    free(c->id);
    free(c);
}

static shadow_copy *copy_of(const mp_http_req *req, const char *id, bool sampled, int64_t time_ms) {
    shadow_copy *c = mp_xcalloc(1, sizeof *c);
    c->method = mp_xstrdup(req->method);
    c->path = mp_xstrdup(req->path);
    c->body = mp_xmalloc(req->body_len + 1);
    if (req->body_len) memcpy(c->body, req->body, req->body_len);
    c->body[req->body_len] = '\0';
    c->body_len = req->body_len;
    c->content_type = req->content_type ? mp_xstrdup(req->content_type) : NULL;
    c->id = id ? mp_xstrdup(id) : NULL;
    c->sampled = sampled;
    c->time_ms = time_ms;
    c->headers = mp_xcalloc(req->nheaders + 1, sizeof *c->headers);
    for (size_t i = 0; i < req->nheaders; i++)
        c->headers[c->nheaders++] = (mp_http_kv){mp_xstrdup(req->headers[i].key), mp_xstrdup(req->headers[i].value)};
    c->query = mp_xcalloc(req->nquery + 1, sizeof *c->query);
    for (size_t i = 0; i < req->nquery; i++)
        c->query[c->nquery++] = (mp_http_kv){mp_xstrdup(req->query[i].key), mp_xstrdup(req->query[i].value)};
    return c;
}

void serve__shadow_push(serve__shadow *s, const mp_http_req *req, const char *id, bool sampled, int64_t time_ms) {
    shadow_copy *c = copy_of(req, id, sampled, time_ms);
    pthread_mutex_lock(&s->mu);
    bool taken = !s->stop && s->n < SERVE__SHADOW_QUEUE_MAX;
    if (taken) {
        s->q[(s->head + s->n) % SERVE__SHADOW_QUEUE_MAX] = c;
        s->n++;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (!taken) {
        atomic_fetch_add(&s->dropped, 1);
        copy_free(c);
    } else {
        atomic_fetch_add(&s->queued, 1);
    }
}

static void *sender_main(void *arg) {
    serve__shadow *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->n == 0 && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
        shadow_copy *c = NULL;
        if (s->n > 0 && !s->stop) {
            c = s->q[s->head];
            s->head = (s->head + 1) % SERVE__SHADOW_QUEUE_MAX;
            s->n--;
        }
        pthread_mutex_unlock(&s->mu);
        if (!c) break;
        mp_http_req rq = {.method = c->method, .path = c->path, .tail = "", .query = c->query, .nquery = c->nquery,
                          .body = c->body, .body_len = c->body_len, .content_type = c->content_type,
                          .headers = c->headers, .nheaders = c->nheaders};
        mp_http_resp resp;
        mp_http_resp_init(&resp);
        int64_t t0 = mp_mono_us();
        serve_router_forward(s->r, s->pool, &rq, &resp);
        int64_t us = mp_mono_us() - t0;
        if (resp.status != 200) atomic_fetch_add(&s->failed, 1);
        if (s->done) s->done(s->ud, c->id, c->sampled, c->time_ms, &rq, &resp, us);
        mp_http_resp_free(&resp);
        copy_free(c);
    }
    return NULL;
}

int serve__shadow_start(serve_router *r, size_t pool, int threads, serve__shadow_done_fn done, void *ud,
                        serve__shadow **out, mp_err *e) {
    *out = NULL;
    if (threads < 1) threads = 1;
    if (threads > SERVE__SHADOW_THREADS_MAX) threads = SERVE__SHADOW_THREADS_MAX;
    serve__shadow *s = mp_xcalloc(1, sizeof *s);
    s->r = r;
    s->pool = pool;
    s->done = done;
    s->ud = ud;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_init(&s->queued, 0);
    atomic_init(&s->dropped, 0);
    atomic_init(&s->failed, 0);
    for (int i = 0; i < threads; i++) {
        int rc = pthread_create(&s->threads[i], NULL, sender_main, s);
        if (rc != 0) {
            serve__shadow_free(s);
            return mp_err_set(e, MP_EIO, "cannot start the shadow's thread: %s", strerror(rc));
        }
        s->nthreads = i + 1;
    }
    *out = s;
    return 0;
}

void serve__shadow_stop(serve__shadow *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nthreads; i++) pthread_join(s->threads[i], NULL);
    s->nthreads = 0;
    while (s->n > 0) { /* not sent: the router stops */
        copy_free(s->q[s->head]);
        s->head = (s->head + 1) % SERVE__SHADOW_QUEUE_MAX;
        s->n--;
        atomic_fetch_add(&s->dropped, 1);
    }
}

void serve__shadow_free(serve__shadow *s) {
    if (!s) return;
    serve__shadow_stop(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

void serve__shadow_counts(serve__shadow *s, unsigned long long *queued, unsigned long long *dropped,
                          unsigned long long *failed) {
    *queued = s ? atomic_load(&s->queued) : 0;
    *dropped = s ? atomic_load(&s->dropped) : 0;
    *failed = s ? atomic_load(&s->failed) : 0;
}

/* ---- the split's metric families ------------------------------------------------------------ */

static void split_line(mp_buf *b, const char *name, const char *deployment, const char *label, const char *value,
                       const char *version, unsigned long long v) {
    mp_buf_printf(b, "%s{deployment=\"", name);
    mp_prom_label_value(b, deployment);
    mp_buf_putc(b, '"');
    if (label) {
        mp_buf_printf(b, ",%s=\"", label);
        mp_prom_label_value(b, value);
        mp_buf_putc(b, '"');
    }
    if (version) {
        mp_buf_puts(b, ",version=\"");
        mp_prom_label_value(b, version);
        mp_buf_putc(b, '"');
    }
    mp_buf_printf(b, "} %llu\n", v);
}

void serve__split_metrics(mp_buf *out, const char *deployment, serve_split *split, const char *stable,
                          const char *canary, serve__shadow *shadow) {
    serve_split_counts c;
    serve_split_counts_get(split, &c);
    mp_prom_family(out, "mlplane_deployment_canary_percent", "gauge", "The share of the requests the canary answers.");
    split_line(out, "mlplane_deployment_canary_percent", deployment, NULL, NULL, NULL,
               canary ? (unsigned long long)serve_split_percent(split) : 0);
    mp_prom_family(out, "mlplane_deployment_split_requests_total", "counter",
                         "Inference requests the split routed, by track.");
    split_line(out, "mlplane_deployment_split_requests_total", deployment, "track", "stable", stable, c.stable);
    if (canary) split_line(out, "mlplane_deployment_split_requests_total", deployment, "track", "canary", canary, c.canary);
    if (shadow) {
        unsigned long long q, d, f;
        serve__shadow_counts(shadow, &q, &d, &f);
        mp_prom_family(out, "mlplane_deployment_shadow_copies_total", "counter",
                             "Copies of requests for the shadow: queued, dropped (queue full), failed (answered other than 200).");
        split_line(out, "mlplane_deployment_shadow_copies_total", deployment, "result", "queued", NULL, q);
        split_line(out, "mlplane_deployment_shadow_copies_total", deployment, "result", "dropped", NULL, d);
        split_line(out, "mlplane_deployment_shadow_copies_total", deployment, "result", "failed", NULL, f);
    }
}
