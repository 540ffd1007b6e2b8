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

typedef struct rows {
    double *v; /* nrows x width */
    size_t n, cap, width;
} rows;

static void rows_push(rows *r, const double *row) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = mp_xrealloc(r->v, r->cap * r->width * sizeof *r->v);
    }
    memcpy(r->v + r->n * r->width, row, r->width * sizeof *row);
    r->n++;
}

/* The rows of one file, oldest first, appended to out (width fixed by the first row
 * taken overall). */
static void read_file(const char *path, const monitor_reqlog_opts *o, rows *out, monitor_reqlog_counts *cnt,
                      bool *older_than_window) {
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    double *row = NULL;
    size_t rowcap = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)len, 0, &je);
        if (!json_is_object(j)) {
            cnt->bad_lines++;
            json_decref(j);
            continue;
        }
        const char *ts = json_string_value(json_object_get(j, "time"));
        int64_t t = ts ? parse_time(ts) : -1;
        const char *ver = json_string_value(json_object_get(j, "version"));
        json_t *in = json_object_get(j, "inputs");
        if (json_is_true(json_object_get(j, "shadow"))) {
            cnt->shadow++;
        } else if (json_object_get(j, "error")) {
            cnt->failed++;
        } else if (o->since_ms > 0 && (t < 0 || t < o->since_ms)) {
            *older_than_window = true;
        } else if (o->version && (!ver || strcmp(ver, o->version) != 0)) {
            cnt->other_version++;
        } else if (!json_is_array(in) || json_array_size(in) == 0) {
            cnt->no_inputs++;
        } else {
            size_t i;
            json_t *r;
            json_array_foreach(in, i, r) {
                size_t w = json_is_array(r) ? json_array_size(r) : 0;
                if (w == 0 || (out->width && w != out->width)) {
                    cnt->other_width++;
                    continue;
                }
                if (w > rowcap) {
                    rowcap = w;
                    row = mp_xrealloc(row, w * sizeof *row);
                }
                bool ok = true;
                for (size_t k = 0; k < w && ok; k++) {
                    json_t *x = json_array_get(r, k);
                    if (json_is_number(x)) row[k] = json_number_value(x);
                    else if (json_is_null(x)) row[k] = NAN;
                    else ok = false;
                }
                if (!ok) {
                    cnt->no_inputs++;
                    continue;
                }
                if (!out->width) out->width = w;
                rows_push(out, row);
            }
        }
        json_decref(j);
    }
    free(row);
    free(line);
    fclose(f);
}

int monitor_reqlog_read(const char *path, const monitor_reqlog_opts *o, monitor_table *t,
                        monitor_reqlog_counts *counts, mp_err *e) {
    memset(t, 0, sizeof *t);
    memset(counts, 0, sizeof *counts);
    /* the newest file first; each file's rows are kept apart so the window takes the newest */
    rows per[MAX_FILES];
    size_t nfiles = 0, total = 0;
    bool any = false;
    size_t width = 0;
    for (int i = 0; i < MAX_FILES; i++) {
        char *p = i == 0 ? mp_xstrdup(path) : mp_xasprintf("%s.%d", path, i);
        bool exists = mp_path_exists(p);
        if (!exists) {
            free(p);
            if (i == 0) continue; /* the current file may not exist yet after a rotation */
            break;
        }
        any = true;
        rows r = {.width = width};
        bool older = false;
        read_file(p, o, &r, counts, &older);
        free(p);
        if (!width) width = r.width;
        per[nfiles++] = r;
        total += r.n;
        if (older || (o->window_rows > 0 && total >= (size_t)o->window_rows)) break;
    }
    if (!any) return mp_err_set(e, MP_ENOENT, "%s: no request log yet (does the Deployment log requests? "
                                              "spec.requestLog.sampleRate must be above 0)", path);
    size_t want = total;
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
    size_t skip = total - want, at = 0;
    for (size_t fi = nfiles; fi-- > 0;) {
        rows *r = &per[fi];
        for (size_t i = 0; i < r->n; i++) {
            if (skip) {
                skip--;
                continue;
            }
            for (size_t k = 0; k < width; k++) {
                double v = r->v[i * width + k];
                monitor_column *c = &t->cols[k];
                c->num[at] = v;
                if (isnan(v)) c->nmissing++;
                else c->type = MONITOR_COL_NUMERIC;
            }
            at++;
        }
        free(r->v);
    }
    counts->rows = want;
    return 0;
}

/* ---- a canary against the stable version ---------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The 90th percentile (nearest rank) of v (n > 0), sorting it. */
static double p90(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    size_t k = (size_t)ceil(0.9 * (double)n);
    return v[k ? k - 1 : 0];
}

int monitor_reqlog_compare(const char *path, int64_t since_ms, const char *stable, const char *canary,
                           monitor_version_stats *s, monitor_version_stats *c, mp_err *e) {
    memset(s, 0, sizeof *s);
    memset(c, 0, sizeof *c);
    monitor_version_stats *side[2] = {s, c};
    const char *ver[2] = {stable, canary};
    double *lat[2] = {NULL, NULL};
    size_t cap[2] = {0, 0};
    bool any = false;
    for (int i = 0; i < MAX_FILES; i++) {
        char *p = i == 0 ? mp_xstrdup(path) : mp_xasprintf("%s.%d", path, i);
        FILE *f = fopen(p, "rb");
        free(p);
        if (!f) {
            if (i == 0) continue;
            break;
        }
        any = true;
        char *line = NULL;
        size_t lcap = 0;
        ssize_t len;
        bool older = false;
        while ((len = getline(&line, &lcap, f)) > 0) {
            json_t *j = json_loadb(line, (size_t)len, 0, NULL);
            const char *ts = json_string_value(json_object_get(j, "time"));
            int64_t t = ts ? parse_time(ts) : -1;
            const char *v = json_string_value(json_object_get(j, "version"));
            if (t < since_ms) older = true;
            if (!json_is_object(j) || t < since_ms || !v || json_is_true(json_object_get(j, "shadow"))) {
                json_decref(j);
                continue;
            }
            for (int k = 0; k < 2; k++) {
                if (strcmp(v, ver[k]) != 0) continue;
                side[k]->requests++;
                if (json_object_get(j, "error")) side[k]->errors++;
                if (side[k]->requests > cap[k]) {
                    cap[k] = cap[k] ? cap[k] * 2 : 256;
                    lat[k] = mp_xrealloc(lat[k], cap[k] * sizeof *lat[k]);
                }
                lat[k][side[k]->requests - 1] = json_number_value(json_object_get(j, "latency_ms"));
            }
            json_decref(j);
        }
        free(line);
        fclose(f);
        if (older) break; /* older files hold only older lines */
    }
    for (int k = 0; k < 2; k++) {
        if (side[k]->requests) side[k]->p90_ms = p90(lat[k], side[k]->requests);
        free(lat[k]);
    }
    if (!any) return mp_err_set(e, MP_ENOENT, "%s: no request log yet", path);
    return 0;
}
