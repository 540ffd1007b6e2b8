/* batch.c — micro-batching of the predictions of small inference requests
 * (see serve_int.h): XGBoost's in-place prediction costs about ten times a
 * row's work per call (it parses a JSON config and an array interface, sets up
 * its OpenMP loops), so requests of a few rows that arrive together are
 * predicted in one call and their answers split back.
 *
 * The engine (util/httpd.c with a loop hook) runs one event loop per worker
 * thread: a round reads what is ready on its connections and hands each
 * request to serve_oip_handle; infer.c decodes it and, instead of predicting,
 * queues a serve__pending here and defers the answer; at the end of the round
 * the engine calls serve__batch_flush on the same thread, which predicts and
 * resumes. No timer: the batch is what that round read, one request when the
 * load is low.
 *
 * Threads: each worker thread has its own queue (thread-local), touched only
 * by that thread: by the handler that queues and by the hook that empties it;
 * the counters are relaxed atomics, for tests and measurements.
 * The runtime's predict is safe on many threads. Ownership: a pending entry
 * and its x and y belong to the request (infer.c), which outlives the flush
 * (its finish runs in a later round). A group's gathered rows are heap
 * buffers of this call. */
#include "serve/serve_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local serve__pending *queue_head, *queue_tail;
static atomic_ullong n_calls, n_requests; /* since the process started */

void serve__batch_counts(unsigned long long *calls, unsigned long long *requests) {
    *calls = atomic_load_explicit(&n_calls, memory_order_relaxed);
    *requests = atomic_load_explicit(&n_requests, memory_order_relaxed);
}

void serve__batch_add(serve__pending *p) {
    assert(p->later && p->rows > 0 && p->rows <= SERVE__BATCH_DEFER);
    p->next = NULL;
    if (queue_tail) queue_tail->next = p;
    else queue_head = p;
    queue_tail = p;
}

/* Predicts the list g (one model, n rows in all) in one call: a lone request
 * straight from its own rows, several gathered into one matrix. */
static void predict_group(serve__pending *g, size_t n) {
    const serve_model *m = g->m;
    mp_err e = {0};
    if (!g->next) {
        g->rc = m->rt->predict(m->state, g->x, g->rows, g->y, &e);
        if (g->rc) g->why = mp_xstrdup(e.msg);
        return;
    }
    size_t f = m->meta.nfeatures, k = m->meta.noutputs, off = 0;
    float *x = mp_xmalloc(n * f * sizeof *x), *y = mp_xmalloc(n * k * sizeof *y);
    for (serve__pending *p = g; p; p = p->next) {
        memcpy(x + off * f, p->x, p->rows * f * sizeof *x);
        off += p->rows;
    }
    int rc = m->rt->predict(m->state, x, n, y, &e);
    off = 0;
    for (serve__pending *p = g; p; p = p->next) {
        p->rc = rc;
        if (rc == 0) memcpy(p->y, y + off * k, p->rows * k * sizeof *y);
        else p->why = mp_xstrdup(e.msg);
        off += p->rows;
    }
    free(x);
    free(y);
}

void serve__batch_flush(void *cls) {
    (void)cls;
    serve__pending *list = queue_head;
    queue_head = queue_tail = NULL;
    while (list) {
        serve__pending *g = list, *last = list;
        size_t n = g->rows;
        while (last->next && last->next->m == g->m && n + last->next->rows <= SERVE__BATCH_ROWS) {
            last = last->next;
            n += last->rows;
        }
        list = last->next;
        last->next = NULL;
        predict_group(g, n);
        unsigned long long k = 0;
        for (serve__pending *p = g; p; k++) {
            serve__pending *next = p->next; /* p stays valid: its finish runs in a later round */
            mp_httpd_resume(p->later);
            p = next;
        }
        atomic_fetch_add_explicit(&n_calls, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&n_requests, k, memory_order_relaxed);
    }
}
