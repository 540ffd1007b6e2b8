/* reqlog.c — the current sample of a Monitor from a Deployment's request log:
 * the rows of features the deployment answered, as a monitor_table whose columns
 * are f0, f1, ... (the names a training file with scikit-learn's header, or none,
 * gets in table.c, and XGBoost's default feature names).
 *
 * The log's format is serving's (src/serve/serve.h, "request log"): one JSON
 * object per line, "inputs" the features as rows, rotated to PATH.1 .. PATH.KEEP,
 * the newest in PATH. Read newest file first, each file whole (a file holds at most
 * the log's maxBytes), until the window is full: the last N rows, or the rows
 * logged since a time. Lines of a shadow, of a failed request, of another version
 * when one is asked, without inputs (the binary tensor extension logs null) or of
 * another width than the newest row are left out and counted, never an error: a
 * log is written by a running server and its last line may be half written.
 * Reentrant; no global state. */
#include "monitor/monitor.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FILES 1001 /* the log and the most rotated files serving keeps */

/* "2026-11-25T19:54:55.123Z" as ms since the epoch; -1 when it is not that. */
static int64_t parse_time(const char *s) {
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return -1;
    int64_t ms = 0;
    if (*rest == '.') {
        int digits = 0;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++)
            if (digits++ < 3) ms = ms * 10 + (*rest - '0');
        while (digits++ < 3) ms *= 10;
    }
    if (*rest != 'Z') return -1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* The lines of a log, newest file first (PATH, PATH.1, ...), each file's lines in
 * order: line gets each as a JSON object (NULL for a line that is not one: a line
 * being written) with its time (-1 when none); after each file, file_end says whether
 * to go on to the older one. */
typedef struct log_visit {
    void (*line)(void *ud, json_t *j, int64_t t);
    bool (*file_end)(void *ud);
    void *ud;
} log_visit;

/* Visits the log at path; returns whether it has any file. */
static bool visit_log(const char *path, const log_visit *v) {
    bool any = false;
    char *line = NULL;
    size_t cap = 0;
    for (int i = 0; i < MAX_FILES; i++) {
        char *p = i == 0 ? mp_xstrdup(path) : mp_xasprintf("%s.%d", path, i);
        FILE *f = fopen(p, "rb");
        free(p);
        if (!f) {
            if (i == 0) continue; /* the current file may not exist yet after a rotation */
            break;
        }
        any = true;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) > 0) {
            json_t *j = json_loadb(line, (size_t)len, 0, NULL);
            if (!json_is_object(j)) {
                json_decref(j);
                j = NULL;
            }
            const char *ts = j ? json_string_value(json_object_get(j, "time")) : NULL;
            v->line(v->ud, j, ts ? parse_time(ts) : -1);
            json_decref(j);
        }
        fclose(f);
        if (!v->file_end(v->ud)) break;
    }
    free(line);
    return any;
}

/* ---- the current sample ---------------------------------------------------------------- */

typedef struct rows {
    double *v; /* nrows x width */
    size_t n, cap;
} rows;

typedef struct reader {
    const monitor_reqlog_opts *o;
    monitor_reqlog_counts *cnt;
    rows *per;          /* each file's rows, newest file first */
    size_t nfiles, total;
    size_t width;       /* fixed by the first row taken */
    rows cur;           /* the file being read */
    double *row;
    size_t rowcap;
    bool older;         /* a line before the window was seen */
} reader;

static void rows_push(rows *r, const double *row, size_t width) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = mp_xrealloc(r->v, r->cap * width * sizeof *r->v);
    }
    memcpy(r->v + r->n * width, row, width * sizeof *row);
    r->n++;
}

static void take_line(void *ud, json_t *j, int64_t t) {
    reader *r = ud;
    monitor_reqlog_counts *cnt = r->cnt;
    if (!j) {
        cnt->bad_lines++;
        return;
    }
    const char *ver = json_string_value(json_object_get(j, "version"));
    json_t *in = json_object_get(j, "inputs");
    if (json_is_true(json_object_get(j, "shadow"))) {
        cnt->shadow++;
    } else if (json_object_get(j, "error")) {
        cnt->failed++;
    } else if (r->o->since_ms > 0 && (t < 0 || t < r->o->since_ms)) {
        r->older = true;
    } else if (r->o->version && (!ver || strcmp(ver, r->o->version) != 0)) {
        cnt->other_version++;
    } else if (!json_is_array(in) || json_array_size(in) == 0) {
        cnt->no_inputs++;
    } else {
        size_t i;
        json_t *x;
        json_array_foreach(in, i, x) {
            size_t w = json_is_array(x) ? json_array_size(x) : 0;
            if (w == 0 || (r->width && w != r->width)) {
                cnt->other_width++;
                continue;
            }
            if (w > r->rowcap) {
                r->rowcap = w;
                r->row = mp_xrealloc(r->row, w * sizeof *r->row);
            }
            bool ok = true;
            for (size_t k = 0; k < w && ok; k++) {
                json_t *y = json_array_get(x, k);
                if (json_is_number(y)) r->row[k] = json_number_value(y);
                else if (json_is_null(y)) r->row[k] = NAN;
                else ok = false;
            }
            if (!ok) {
                cnt->no_inputs++;
                continue;
            }
            if (!r->width) r->width = w;
            rows_push(&r->cur, r->row, w);
        }
    }
}

static bool end_file(void *ud) {
    reader *r = ud;
    r->per[r->nfiles++] = r->cur;
    r->total += r->cur.n;
    r->cur = (rows){0};
    return !(r->older || (r->o->window_rows > 0 && r->total >= (size_t)r->o->window_rows));
}

int monitor_reqlog_read(const char *path, const monitor_reqlog_opts *o, monitor_table *t,
                        monitor_reqlog_counts *counts, mp_err *e) {
    memset(t, 0, sizeof *t);
    memset(counts, 0, sizeof *counts);
    /* each file's rows are kept apart so that the window takes the newest */
    reader r = {.o = o, .cnt = counts, .per = mp_xcalloc(MAX_FILES, sizeof *r.per)};
    log_visit v = {take_line, end_file, &r};
    bool any = visit_log(path, &v);
    free(r.row);
    free(r.cur.v);
    if (!any) {
        free(r.per);
        return mp_err_set(e, MP_ENOENT, "%s: no request log yet (does the Deployment log requests? "
                                        "spec.requestLog.sampleRate must be above 0)", path);
    }
    size_t width = r.width, want = r.total;
    if (o->window_rows > 0 && want > (size_t)o->window_rows) want = (size_t)o->window_rows;
    t->ncols = width;
    t->nrows = want;
    t->cols = mp_xcalloc(width ? width : 1, sizeof *t->cols);
    t->lines = mp_xcalloc(want ? want : 1, sizeof *t->lines);
    for (size_t k = 0; k < width; k++) {
        t->cols[k].name = mp_xasprintf("f%zu", k);
        t->cols[k].type = MONITOR_COL_EMPTY;
        t->cols[k].num = mp_xmalloc((want ? want : 1) * sizeof(double));
    }
    /* oldest kept row first: walk the files from the oldest, skipping what is beyond the window */
    size_t skip = r.total - want, at = 0;
    for (size_t fi = r.nfiles; fi-- > 0;) {
        rows *f = &r.per[fi];
        for (size_t i = 0; i < f->n; i++) {
            if (skip) {
                skip--;
                continue;
            }
            for (size_t k = 0; k < width; k++) {
                double x = f->v[i * width + k];
                monitor_column *c = &t->cols[k];
                c->num[at] = x;
                if (isnan(x)) c->nmissing++;
                else c->type = MONITOR_COL_NUMERIC;
            }
            at++;
        }
        free(f->v);
    }
    free(r.per);
    counts->rows = want;
    return 0;
}

/* ---- a canary against the stable version ---------------------------------------------- */

typedef struct comparer {
    int64_t since_ms;
    monitor_version_stats *side[2];
    const char *ver[2];
    double *lat[2];
    size_t cap[2];
    bool older;
} comparer;

static void compare_line(void *ud, json_t *j, int64_t t) {
    comparer *c = ud;
    if (t < c->since_ms) c->older = true;
    const char *v = j ? json_string_value(json_object_get(j, "version")) : NULL;
    if (!v || t < c->since_ms || json_is_true(json_object_get(j, "shadow"))) return;
    for (int k = 0; k < 2; k++) {
        if (strcmp(v, c->ver[k]) != 0) continue;
        monitor_version_stats *s = c->side[k];
        s->requests++;
        if (json_object_get(j, "error")) s->errors++;
        if (s->requests > c->cap[k]) {
            c->cap[k] = c->cap[k] ? c->cap[k] * 2 : 256;
            c->lat[k] = mp_xrealloc(c->lat[k], c->cap[k] * sizeof *c->lat[k]);
        }
        c->lat[k][s->requests - 1] = json_number_value(json_object_get(j, "latency_ms"));
    }
}

static bool compare_end(void *ud) { return !((comparer *)ud)->older; /* older files hold only older lines */ }

int monitor_reqlog_compare(const char *path, int64_t since_ms, const char *stable, const char *canary,
                           monitor_version_stats *s, monitor_version_stats *c, mp_err *e) {
    memset(s, 0, sizeof *s);
    memset(c, 0, sizeof *c);
    comparer cmp = {.since_ms = since_ms, .side = {s, c}, .ver = {stable, canary}};
    log_visit v = {compare_line, compare_end, &cmp};
    bool any = visit_log(path, &v);
    for (int k = 0; k < 2; k++) {
        if (cmp.side[k]->requests) { /* the 90th percentile, nearest rank */
            size_t n = cmp.side[k]->requests;
            monitor_sort_doubles(cmp.lat[k], n);
            size_t rank = (size_t)ceil(0.9 * (double)n);
            cmp.side[k]->p90_ms = cmp.lat[k][rank ? rank - 1 : 0];
        }
        free(cmp.lat[k]);
    }
    if (!any) return mp_err_set(e, MP_ENOENT, "%s: no request log yet", path);
    return 0;
}
