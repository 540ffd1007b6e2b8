/* redact.c — a step's output with its secret values masked before it reaches
 * the log: a streaming redactor (every occurrence of a value replaced by "***",
 * also across the boundary of two reads) and the relay thread the local executor
 * puts between a step's stdout/stderr pipe and its log file.
 *
 * The redactor keeps back at most (longest value - 1) bytes that could still be
 * the start of a value; everything before is written at once, so `mlplane logs
 * -f` follows the step as before. Values are matched longest first.
 * Thread: a relay thread owns its redactor and both descriptors, and frees them
 * when the pipe reaches end of file (every process holding its write end gone);
 * the executor only joins or detaches it. Copies of values are zeroed when freed. */
#include "exec/exec.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct exec_redactor {
    unsigned char **vals; /* longest first */
    size_t *lens;
    size_t n, maxlen;
    mp_buf pend; /* held back: may be the start of a value */
};

exec_redactor *exec_redactor_new(const unsigned char *const *vals, const size_t *lens, size_t n) {
    exec_redactor *r = mp_xcalloc(1, sizeof *r);
    r->vals = mp_xcalloc(n + 1, sizeof *r->vals);
    r->lens = mp_xcalloc(n + 1, sizeof *r->lens);
    for (size_t i = 0; i < n; i++) {
        if (!lens[i]) continue; /* an empty value matches nothing */
        size_t j = r->n++;
        while (j > 0 && r->lens[j - 1] < lens[i]) { /* insertion sort, longest first */
            r->vals[j] = r->vals[j - 1];
            r->lens[j] = r->lens[j - 1];
            j--;
        }
        r->vals[j] = mp_xcalloc(lens[i] + 1, 1);
        memcpy(r->vals[j], vals[i], lens[i]);
        r->lens[j] = lens[i];
        if (lens[i] > r->maxlen) r->maxlen = lens[i];
    }
    mp_buf_init(&r->pend);
    return r;
}

void exec_redactor_free(exec_redactor *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        sodium_memzero(r->vals[i], r->lens[i]);
        free(r->vals[i]);
    }
    free(r->vals);
    free(r->lens);
    if (r->pend.data) sodium_memzero(r->pend.data, r->pend.cap);
    mp_buf_free(&r->pend);
    free(r);
}

/* Whether p[0..n) (n shorter than some value) is the start of one. */
static bool may_start(const exec_redactor *r, const unsigned char *p, size_t n) {
    for (size_t v = 0; v < r->n; v++)
        if (r->lens[v] > n && memcmp(r->vals[v], p, n) == 0) return true;
    return false;
}

void exec_redactor_feed(exec_redactor *r, const void *data, size_t len, bool final, mp_buf *out) {
    if (len) mp_buf_append(&r->pend, data, len);
    const unsigned char *p = (const unsigned char *)r->pend.data;
    size_t n = r->pend.len, i = 0, from = 0;
    while (i < n) {
        size_t hit = 0;
        for (size_t v = 0; v < r->n && !hit; v++)
            if (r->lens[v] <= n - i && p[i] == r->vals[v][0] && memcmp(p + i, r->vals[v], r->lens[v]) == 0)
                hit = r->lens[v];
        if (hit) {
            mp_buf_append(out, p + from, i - from);
            mp_buf_puts(out, "***");
            i += hit;
            from = i;
            continue;
        }
        if (!final && n - i < r->maxlen && may_start(r, p + i, n - i)) break; /* wait for more */
        i++;
    }
    mp_buf_append(out, p + from, i - from);
    size_t rest = n - i;
    if (rest) memmove(r->pend.data, r->pend.data + i, rest);
    r->pend.len = rest;
}

typedef struct relay {
    int rfd, logfd;
    exec_redactor *r;
} relay;

static void write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* a full disk: the step goes on, its output is lost as it would be */
        p += w;
        n -= (size_t)w;
    }
}

static void *relay_main(void *arg) {
    relay *rl = arg;
    char buf[16384];
    mp_buf out;
    mp_buf_init(&out);
    for (;;) {
        ssize_t n = read(rl->rfd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        bool end = n <= 0;
        out.len = 0;
        exec_redactor_feed(rl->r, buf, end ? 0 : (size_t)n, end, &out);
        if (out.len) write_all(rl->logfd, out.data, out.len);
        if (end) break;
    }
    sodium_memzero(buf, sizeof buf);
    if (out.data) sodium_memzero(out.data, out.cap);
    mp_buf_free(&out);
    close(rl->rfd);
    close(rl->logfd);
    exec_redactor_free(rl->r);
    free(rl);
    return NULL;
}

int exec_redact_relay_start(int rfd, int logfd, exec_redactor *r, pthread_t *th, mp_err *e) {
    relay *rl = mp_xcalloc(1, sizeof *rl);
    *rl = (relay){rfd, logfd, r};
    pthread_attr_t at;
    pthread_attr_init(&at);
    int rc = pthread_create(th, &at, relay_main, rl);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        free(rl);
        return mp_err_set(e, MP_EIO, "cannot start the thread that masks secrets in the log: %s", strerror(rc));
    }
    return 0;
}
