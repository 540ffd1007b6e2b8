/* util.c — errors, memory, strings, buffers, time and process helpers (see util.h).
 * No global state besides libsodium's one-time initialisation. */
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------------ */

int mp_err_set(mp_err *e, int code, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int mp_err_prefix(mp_err *e, const char *fmt, ...) {
    if (!e) return MP_EINTERNAL;
    mp_buf b;
    mp_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    mp_buf_puts(&b, ": ");
    mp_buf_puts(&b, e->msg);
    mp_strlcpy(e->msg, b.data, sizeof e->msg);
    mp_buf_free(&b);
    return e->code;
}

void mp_err_clear(mp_err *e) {
    if (e) {
        e->code = 0;
        e->msg[0] = '\0';
    }
}

const char *mp_code_name(int code) {
    switch (code) {
    case MP_OK: return "ok";
    case MP_EINVAL: return "invalid input";
    case MP_ENOENT: return "not found";
    case MP_EIO: return "i/o error";
    case MP_ESTORE: return "store error";
    case MP_ESTATE: return "wrong state";
    case MP_EBUSY: return "busy";
    case MP_EEXIST: return "already exists";
    default: return "internal error";
    }
}

int mp_init(void) {
    return sodium_init() < 0 ? MP_EINTERNAL : MP_OK;
}

/* ---- memory and strings ---------------------------------------------------- */

static void oom(size_t n) {
    fprintf(stderr, "mlplane: out of memory allocating %zu bytes\n", n);
    exit(70);
}

void *mp_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *mp_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *mp_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *mp_xstrdup(const char *s) {
    if (!s) return NULL;
    return mp_xstrndup(s, strlen(s));
}

char *mp_xstrndup(const char *s, size_t n) {
    if (!s) return NULL;
    char *d = mp_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *mp_xasprintf(const char *fmt, ...) {
    mp_buf b;
    mp_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return mp_buf_steal(&b);
}

bool mp_strlcpy(char *dst, const char *src, size_t n) {
    if (n == 0) return false;
    size_t l = strlen(src);
    if (l < n) {
        memcpy(dst, src, l + 1);
        return true;
    }
    memcpy(dst, src, n - 1);
    dst[n - 1] = '\0';
    return false;
}

bool mp_str_starts(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool mp_str_ends(const char *s, const char *suffix) {
    size_t ls = strlen(s), lf = strlen(suffix);
    return ls >= lf && memcmp(s + ls - lf, suffix, lf) == 0;
}

int mp_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 255;
    int prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int v = prev[j - 1] + cost;
            if (prev[j] + 1 < v) v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            cur[j] = v;
        }
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb] > 255 ? 255 : prev[lb];
}

/* ---- buffers ----------------------------------------------------------------- */

void mp_buf_init(mp_buf *b) {
    b->cap = 64;
    b->len = 0;
    b->data = mp_xmalloc(b->cap);
    b->data[0] = '\0';
}

static void buf_reserve(mp_buf *b, size_t extra) {
    if (!b->data) mp_buf_init(b);
    if (b->len + extra + 1 <= b->cap) return;
    size_t nc = b->cap * 2;
    while (nc < b->len + extra + 1) nc *= 2;
    b->data = mp_xrealloc(b->data, nc);
    b->cap = nc;
}

void mp_buf_append(mp_buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mp_buf_puts(mp_buf *b, const char *s) {
    mp_buf_append(b, s, strlen(s));
}

void mp_buf_putc(mp_buf *b, char c) {
    mp_buf_append(b, &c, 1);
}

void mp_buf_vprintf(mp_buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        mp_buf_append(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void mp_buf_printf(mp_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void mp_buf_reset(mp_buf *b) {
    if (!b->data) mp_buf_init(b);
    b->len = 0;
    b->data[0] = '\0';
}

char *mp_buf_steal(mp_buf *b) {
    if (!b->data) mp_buf_init(b);
    char *s = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void mp_buf_free(mp_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void mp_strv_push_owned(mp_strv *sv, char *s) {
    if (sv->n + 2 > sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 8;
        sv->v = mp_xrealloc(sv->v, sv->cap * sizeof *sv->v);
    }
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
}

void mp_strv_push(mp_strv *sv, const char *s) {
    mp_strv_push_owned(sv, mp_xstrdup(s));
}

char **mp_strv_terminated(mp_strv *sv) {
    if (!sv->v) {
        sv->cap = 8;
        sv->v = mp_xcalloc(sv->cap, sizeof *sv->v);
    }
    return sv->v;
}

void mp_strv_free(mp_strv *sv) {
    for (size_t i = 0; i < sv->n; i++) free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

/* ---- time ------------------------------------------------------------------ */

int64_t mp_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mp_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mp_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void mp_format_time(int64_t ms, char *out, size_t n) {
    if (ms <= 0) {
        mp_strlcpy(out, "-", n);
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void mp_format_duration(int64_t ms, char *out, size_t n) {
    if (ms < 0) ms = 0;
    if (ms < 60000)
        snprintf(out, n, "%.1fs", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(out, n, "%dm%02ds", (int)(ms / 60000), (int)(ms / 1000 % 60));
    else
        snprintf(out, n, "%dh%02dm", (int)(ms / 3600000), (int)(ms / 60000 % 60));
}

void mp_sleep_ms(int64_t ms) {
    if (ms <= 0) return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* ---- misc ------------------------------------------------------------------ */

void mp_random_alnum(char *out, size_t n) {
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    if (n == 0) return;
    for (size_t i = 0; i + 1 < n; i++) out[i] = al[randombytes_uniform(sizeof al - 1)];
    out[n - 1] = '\0';
}

int64_t mp_proc_start_time(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: skip past the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p++;
    /* Fields from 3 on; starttime is field 22, i.e. the 20th after ')'. */
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 3 && tok[0] == 'Z') return -1; /* a zombie is as good as gone */
        if (field == 22) return strtoll(tok, NULL, 10);
    }
    return -1;
}

bool mp_proc_alive(int pid, int64_t start) {
    return pid > 0 && start >= 0 && mp_proc_start_time(pid) == start;
}

int mp_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

int64_t mp_mem_total(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    if (pages < 0 || size < 0) return 0;
    return (int64_t)pages * size;
}

/* ---- text ------------------------------------------------------------------- */

int mp_parse_size(const char *s, size_t *out, mp_err *e) {
    static const struct {
        const char *suffix;
        unsigned long long mult;
    } units[] = {{"", 1},          {"K", 1000ULL},          {"Ki", 1ULL << 10}, {"M", 1000000ULL},
                 {"Mi", 1ULL << 20}, {"G", 1000000000ULL}, {"Gi", 1ULL << 30}};
    if (!s || !*s || *s < '0' || *s > '9') return mp_err_set(e, MP_EINVAL, "expected a size like 64Mi, got \"%s\"", s ? s : "");
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return mp_err_set(e, MP_EINVAL, "size \"%s\" is too large", s);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) != 0) continue;
        if (v == 0) return mp_err_set(e, MP_EINVAL, "size \"%s\" must be at least 1 byte", s);
        if (v > (unsigned long long)(SIZE_MAX / 4) / units[i].mult) return mp_err_set(e, MP_EINVAL, "size \"%s\" is too large", s);
        *out = (size_t)(v * units[i].mult);
        return 0;
    }
    return mp_err_set(e, MP_EINVAL, "size \"%s\": the unit must be K, Ki, M, Mi, G or Gi", s);
}


size_t mp_utf8_clean(mp_buf *b, const char *p, size_t n, bool partial_ok) {
    static const char repl[] = "\xEF\xBF\xBD";
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            mp_buf_putc(b, (char)c);
            i++;
            continue;
        }
        size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        size_t have = len && i + len > n ? n - i : len;
        bool cont = len > 0;
        for (size_t j = 1; cont && j < have; j++) cont = (s[i + j] & 0xC0) == 0x80;
        if (cont && have < len) { /* a sequence cut by the end of the buffer */
            if (partial_ok) return n - i;
            mp_buf_puts(b, repl); /* one replacement for the whole cut sequence */
            break;
        }
        uint32_t cp = 0;
        if (cont) {
            cp = c & (0xFF >> (len + 1));
            for (size_t j = 1; j < len; j++) cp = (cp << 6) | (s[i + j] & 0x3F);
            static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
            cont = cp >= min[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (!cont) {
            mp_buf_puts(b, repl);
            i++;
            continue;
        }
        mp_buf_append(b, s + i, len);
        i += len;
    }
    return 0;
}
