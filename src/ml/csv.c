/* csv.c — the numeric CSV reader and writer behind `mlplane data` and `mlplane
 * xgb` (file format in ml_int.h).
 *
 * Reading goes line by line through a fixed buffer of ML_CSV_MAX_LINE bytes, so
 * a file without newlines cannot make it allocate without bound. A line is split
 * in place on commas; each field is trimmed and parsed with strtod, which must
 * consume it whole. The first non-blank line decides the header form: all numbers
 * means a data row (no header); two whole numbers followed by names is sklearn's
 * header; all names is a header of column names; anything else is read as a data
 * row so that its bad values are reported. The number of columns is fixed by the
 * first data row. A bad row is recorded as a problem with FILE:LINE and column
 * and skipped, and reading goes on, so one pass reports everything (up to
 * ML_CSV_MAX_PROBLEMS messages). No global state; reentrant. */
#include "ml/ml_int.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- problems ------------------------------------------------------------------ */

typedef struct reader {
    const char *path;
    ml_table *t;
    mp_strv *problems; /* may be NULL */
    mp_err *e;
    size_t nproblems;  /* all found, kept or not */
    long line;         /* current 1-based line */
    size_t ncols;      /* fixed by the first data row; 0 before */
    long first_row_line;
    size_t cap;        /* rows allocated in t */
    bool labelled;     /* the last column is a class label */
} reader;

static void problem(reader *r, long line, const char *fmt, ...) MP_PRINTF(3, 4);

static void problem(reader *r, long line, const char *fmt, ...) {
    char msg[MP_ERR_MSG - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->nproblems == 0) mp_err_set(r->e, MP_EINVAL, "%s:%ld: %s", r->path, line, msg);
    if (r->problems && r->nproblems < ML_CSV_MAX_PROBLEMS)
        mp_strv_push_owned(r->problems, mp_xasprintf("%s:%ld: %s", r->path, line, msg));
    r->nproblems++;
}

/* ---- fields -------------------------------------------------------------------- */

#define MAX_SHOWN 40 /* characters of a bad value quoted in a message */

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

/* Splits line in place on commas into a heap array of trimmed fields. */
static char **split_fields(char *line, size_t *n) {
    size_t cap = 1;
    for (const char *p = line; *p; p++) cap += *p == ',';
    char **f = mp_xcalloc(cap, sizeof *f);
    size_t k = 0;
    for (char *p = line;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        f[k++] = trim(p);
        if (!comma) break;
        p = comma + 1;
    }
    *n = k;
    return f;
}

typedef enum num_status { NUM_OK, NUM_EMPTY, NUM_BAD, NUM_INFINITE, NUM_RANGE } num_status;

static num_status parse_num(const char *s, double *out) {
    if (!*s) return NUM_EMPTY;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end) return NUM_BAD;
    if (!isfinite(v)) return errno == ERANGE ? NUM_RANGE : NUM_INFINITE;
    if (fabs(v) > FLT_MAX) return NUM_RANGE;
    *out = v;
    return NUM_OK;
}

static bool is_number(const char *s) {
    double v;
    return parse_num(s, &v) == NUM_OK;
}

/* A non-negative whole number made of digits only. */
static bool parse_count(const char *s, size_t *out) {
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 15) return false;
    *out = (size_t)strtoull(s, NULL, 10);
    return true;
}

static const char *num_problem(num_status st) {
    switch (st) {
    case NUM_EMPTY: return "missing value";
    case NUM_BAD: return "not a number";
    case NUM_INFINITE: return "not a finite number";
    case NUM_RANGE: return "out of range for a 32-bit float";
    default: return "bad value";
    }
}

/* ---- header -------------------------------------------------------------------- */

static char *unquote(char *s) {
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        return s + 1;
    }
    return s;
}

/* Decides whether fields form a header; fills t and returns true when they do. */
static bool take_header(reader *r, char **f, size_t n) {
    ml_table *t = r->t;
    size_t numeric = 0;
    for (size_t i = 0; i < n; i++) numeric += is_number(f[i]);
    if (numeric == n) return false; /* a data row */
    size_t rows, feat;
    if (n >= 3 && parse_count(f[0], &rows) && parse_count(f[1], &feat) && numeric == 2) {
        t->header = ML_HDR_SKLEARN;
        t->decl_rows = rows;
        t->decl_feat = feat;
        for (size_t i = 2; i < n; i++) {
            if (!*f[i]) problem(r, r->line, "column %zu: empty class name in header", i + 1);
            mp_strv_push(&t->classnames, unquote(f[i]));
        }
        return true;
    }
    if (numeric > 0) return false; /* mixed: report its bad values as a row */
    t->header = ML_HDR_NAMES;
    for (size_t i = 0; i < n; i++) {
        char *name = unquote(f[i]);
        if (!*name) problem(r, r->line, "column %zu: empty column name in header", i + 1);
        for (size_t j = 0; j < t->colnames.n; j++)
            if (*name && strcmp(t->colnames.v[j], name) == 0)
                problem(r, r->line, "column %zu: duplicate column name '%.*s'", i + 1, MAX_SHOWN, name);
        mp_strv_push(&t->colnames, name);
    }
    return true;
}

/* ---- rows ---------------------------------------------------------------------- */

static void grow_rows(reader *r) {
    ml_table *t = r->t;
    if (t->nrows < r->cap) return;
    r->cap = r->cap ? r->cap * 2 : 256;
    t->x = mp_xrealloc(t->x, r->cap * t->nfeat * sizeof *t->x);
    t->y = mp_xrealloc(t->y, r->cap * sizeof *t->y);
    t->lineno = mp_xrealloc(t->lineno, r->cap * sizeof *t->lineno);
}

static const char *col_name(const ml_table *t, size_t i) {
    return t->header == ML_HDR_NAMES && i < t->colnames.n ? t->colnames.v[i] : NULL;
}

/* Parses one data row; adds it to t when it is good. text is the trimmed line. */
static void take_row(reader *r, char **f, size_t n, const char *text) {
    ml_table *t = r->t;
    if (r->ncols == 0) {
        if (r->labelled && n < 2) {
            problem(r, r->line, "a row needs at least one feature and a label, found %zu column", n);
            return;
        }
        r->ncols = n;
        r->first_row_line = r->line;
        t->nfeat = r->labelled ? n - 1 : n;
    }
    if (n != r->ncols) {
        problem(r, r->line, "row has %zu columns, expected %zu (as on line %ld)", n, r->ncols, r->first_row_line);
        return;
    }
    size_t before = r->nproblems;
    double label = 0;
    double *vals = mp_xmalloc(n * sizeof *vals);
    for (size_t i = 0; i < n; i++) {
        num_status st = parse_num(f[i], &vals[i]);
        if (st == NUM_OK) continue;
        const char *name = col_name(t, i);
        if (st == NUM_EMPTY)
            problem(r, r->line, "column %zu%s%s%s: missing value", i + 1, name ? " (" : "", name ? name : "",
                    name ? ")" : "");
        else
            problem(r, r->line, "column %zu%s%s%s: %s: '%.*s'", i + 1, name ? " (" : "", name ? name : "",
                    name ? ")" : "", num_problem(st), MAX_SHOWN, f[i]);
    }
    if (r->nproblems == before && r->labelled) {
        label = vals[n - 1];
        if (label < 0 || label != floor(label) || label >= ML_MAX_CLASSES)
            problem(r, r->line, "column %zu (label): '%.*s' is not a class number 0..k-1", n, MAX_SHOWN, f[n - 1]);
        else if (t->header == ML_HDR_SKLEARN && (size_t)label >= t->classnames.n)
            problem(r, r->line, "column %zu (label): class %d but the header names only %zu classes", n, (int)label,
                    t->classnames.n);
    }
    if (r->nproblems != before) {
        free(vals);
        return;
    }
    grow_rows(r);
    memcpy(t->x + t->nrows * t->nfeat, vals, t->nfeat * sizeof *vals);
    t->y[t->nrows] = (int)label;
    t->lineno[t->nrows] = r->line;
    mp_strv_push(&t->rows, text);
    t->nrows++;
    free(vals);
}

/* ---- lines ----------------------------------------------------------------------- */

typedef enum line_status { LINE_OK, LINE_EOF, LINE_LONG, LINE_NUL } line_status;

/* Reads one line (without its newline) into buf of ML_CSV_MAX_LINE + 1 bytes. An
 * over-long line or one holding a NUL byte is consumed and reported. */
static line_status read_line(FILE *f, char *buf) {
    size_t n = 0;
    bool any = false, nul = false, longl = false;
    int c;
    while ((c = getc(f)) != EOF) {
        any = true;
        if (c == '\n') break;
        if (c == '\0') nul = true;
        if (n < ML_CSV_MAX_LINE)
            buf[n++] = (char)c;
        else
            longl = true;
    }
    buf[n] = '\0';
    if (!any) return LINE_EOF;
    return longl ? LINE_LONG : nul ? LINE_NUL : LINE_OK;
}

/* Counts the classes: declared (sklearn header) or max label + 1. */
static void count_classes(ml_table *t) {
    size_t k = t->header == ML_HDR_SKLEARN ? t->classnames.n : 0;
    for (size_t i = 0; i < t->nrows; i++)
        if ((size_t)t->y[i] + 1 > k) k = (size_t)t->y[i] + 1;
    t->nclasses = k;
    t->class_count = mp_xcalloc(k ? k : 1, sizeof *t->class_count);
    for (size_t i = 0; i < t->nrows; i++) t->class_count[t->y[i]]++;
}

int ml_csv_read(const char *path, ml_table *t, mp_strv *problems, mp_err *e) {
    return ml_csv_read_opts(path, true, t, problems, e);
}

int ml_csv_read_opts(const char *path, bool labelled, ml_table *t, mp_strv *problems, mp_err *e) {
    memset(t, 0, sizeof *t);
    t->path = mp_xstrdup(path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        return mp_err_set(e, err == ENOENT ? MP_ENOENT : MP_EIO, "cannot read %s: %s", path, strerror(err));
    }
    reader r = {.path = path, .t = t, .problems = problems, .e = e, .labelled = labelled};
    char *buf = mp_xmalloc(ML_CSV_MAX_LINE + 1);
    bool started = false;
    long blank = 0; /* first blank line since the last non-blank one */
    size_t rows_seen = 0;
    for (;;) {
        line_status st = read_line(f, buf);
        if (st == LINE_EOF) break;
        r.line++;
        if (st == LINE_LONG) {
            problem(&r, r.line, "line longer than %u bytes", ML_CSV_MAX_LINE);
            continue;
        }
        if (st == LINE_NUL) {
            problem(&r, r.line, "NUL byte in line (not a text file?)");
            continue;
        }
        char *text = trim(buf);
        if (!*text) {
            if (!blank) blank = r.line;
            continue;
        }
        if (blank && started) problem(&r, blank, "blank line inside the data");
        blank = 0;
        char *copy = mp_xstrdup(text);
        size_t n;
        char **fields = split_fields(text, &n);
        if (!started && take_header(&r, fields, n)) {
            started = true;
        } else {
            started = true;
            rows_seen++;
            take_row(&r, fields, n, copy);
        }
        free(fields);
        free(copy);
    }
    int rd_err = ferror(f);
    fclose(f);
    free(buf);
    if (rd_err) return mp_err_set(e, MP_EIO, "error reading %s", path);
    /* The header's row count is about every data row in the file, good or bad. */
    if (t->header == ML_HDR_SKLEARN && r.ncols && t->decl_rows != rows_seen)
        problem(&r, 1, "header declares %zu rows but the file has %zu", t->decl_rows, rows_seen);
    /* Unlabelled reading is for prediction, where the label column is optional. */
    if (t->header == ML_HDR_SKLEARN && r.ncols && t->decl_feat != t->nfeat &&
        (labelled || t->decl_feat + 1 != t->nfeat))
        problem(&r, 1, "header declares %zu features but rows have %zu (line %ld)", t->decl_feat, t->nfeat,
                r.first_row_line);
    if (t->header == ML_HDR_NAMES && r.ncols && t->colnames.n != r.ncols)
        problem(&r, 1, "header names %zu columns but rows have %zu (line %ld)", t->colnames.n, r.ncols,
                r.first_row_line);
    if (rows_seen == 0) problem(&r, r.line > 0 ? r.line : 1, "no data rows");
    if (labelled) count_classes(t);
    if (r.nproblems > ML_CSV_MAX_PROBLEMS && problems)
        mp_strv_push_owned(problems,
                           mp_xasprintf("%s: ... and %zu more problem%s", path, r.nproblems - ML_CSV_MAX_PROBLEMS,
                                        r.nproblems - ML_CSV_MAX_PROBLEMS > 1 ? "s" : ""));
    if (r.nproblems > 1 && e) {
        char more[64];
        snprintf(more, sizeof more, " (and %zu more problem%s)", r.nproblems - 1, r.nproblems > 2 ? "s" : "");
        size_t len = strlen(e->msg);
        if (len + strlen(more) < sizeof e->msg) memcpy(e->msg + len, more, strlen(more) + 1);
    }
    return r.nproblems ? MP_EINVAL : 0;
}

void ml_table_free(ml_table *t) {
    if (!t) return;
    free(t->path);
    free(t->x);
    free(t->y);
    free(t->lineno);
    free(t->class_count);
    mp_strv_free(&t->rows);
    mp_strv_free(&t->colnames);
    mp_strv_free(&t->classnames);
    memset(t, 0, sizeof *t);
}

const char *ml_header_name(ml_header h) {
    switch (h) {
    case ML_HDR_SKLEARN: return "sklearn";
    case ML_HDR_NAMES: return "names";
    default: return "none";
    }
}

/* ---- writing --------------------------------------------------------------------- */

int ml_csv_write_rows(const ml_table *t, const size_t *idx, size_t n, const char *path, mp_err *e) {
    mp_buf b;
    mp_buf_init(&b);
    switch (t->header) {
    case ML_HDR_SKLEARN:
        mp_buf_printf(&b, "%zu,%zu", n, t->nfeat);
        for (size_t i = 0; i < t->classnames.n; i++) mp_buf_printf(&b, ",%s", t->classnames.v[i]);
        break;
    case ML_HDR_NAMES:
        for (size_t i = 0; i < t->colnames.n; i++) mp_buf_printf(&b, "%s%s", i ? "," : "", t->colnames.v[i]);
        break;
    default:
        for (size_t i = 0; i < t->nfeat; i++) mp_buf_printf(&b, "f%zu,", i);
        mp_buf_puts(&b, "label");
        break;
    }
    mp_buf_putc(&b, '\n');
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= t->nrows) {
            mp_buf_free(&b);
            return mp_err_set(e, MP_EINTERNAL, "row index %zu out of range (%zu rows)", idx[i], t->nrows);
        }
        mp_buf_puts(&b, t->rows.v[idx[i]]);
        mp_buf_putc(&b, '\n');
    }
    int rc = mp_write_file_atomic(path, b.data, b.len, e);
    mp_buf_free(&b);
    return rc;
}
