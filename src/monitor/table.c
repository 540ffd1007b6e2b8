/* table.c — a CSV file as typed columns (monitor_table), for drift and data
 * validation. Parsing is libcsv's (RFC 4180: quotes, doubled quotes, embedded
 * commas and newlines); this file only types and stores what it hands over.
 *
 * The first record names the columns, unless it is scikit-learn's header
 * ("569,30,malignant,benign": rows, K features, class names; the columns are then
 * f0 .. fK-1 and target, as mlplane's own data files are) or a row of numbers only
 * (no header: columns f0, f1, ..., XGBoost's default feature names, and the record
 * is the first row). Each later record is a row and must have as many fields. A field is missing when it is one of pandas' default NA strings
 * ("", "NA", "NaN", "null", "None", "N/A", "#N/A", ...). A column is numeric when
 * every value that is not missing reads whole as a decimal number (strtod, spaces
 * around it allowed, hexadecimal refused), text when one does not, empty when
 * all are missing. While a column is numeric only its numbers are kept; at its
 * first non-number its earlier values become text in their shortest round-trip
 * form (1.50 becomes "1.5") and the column keeps category ids from then on. With
 * keep_text every column also keeps its values as category ids (the text as
 * written), for checks on the text of numbers.
 *
 * The file is fed to libcsv one line at a time so that each row knows the line it
 * starts on. A field longer than MONITOR_FIELD_MAX bytes or more than
 * MONITOR_COLUMNS_MAX columns is an error, so no input makes it grow without bound
 * besides the rows themselves. Reentrant; no global state. */
#include "monitor/monitor.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pandas' default na_values (pandas/_libs/parsers.pyx STR_NA_VALUES). */
static const char *const NA_STRINGS[] = {
    "",     "#N/A", "#N/A N/A", "#NA",  "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A",  "NA",       "NULL", "NaN",     "None",     "n/a",  "nan",  "null",
};

bool monitor_is_missing(const char *s, size_t n) {
    for (size_t i = 0; i < sizeof NA_STRINGS / sizeof NA_STRINGS[0]; i++)
        if (strlen(NA_STRINGS[i]) == n && memcmp(NA_STRINGS[i], s, n) == 0) return true;
    return false;
}

bool monitor_parse_number(const char *s, size_t n, double *out) {
    char buf[128];
    while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    const char *d = buf + (buf[0] == '+' || buf[0] == '-');
    if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) return false;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + n) return false;
    if (isnan(v)) return false;
    *out = v;
    return true;
}

/* ---- category dictionary (open addressing, FNV-1a) ------------------------------ */

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* The id of the n bytes of s in c's dictionary, added when new. */
static uint32_t cat_id(monitor_column *c, const char *s, size_t n) {
    if (c->x_slots == 0 || (c->ncats + 1) * 2 > c->x_slots) {
        size_t ns = c->x_slots ? c->x_slots * 2 : 64;
        uint32_t *slots = mp_xmalloc(ns * sizeof *slots);
        for (size_t i = 0; i < ns; i++) slots[i] = UINT32_MAX;
        for (size_t k = 0; k < c->ncats; k++) {
            size_t i = fnv1a(c->cats[k], strlen(c->cats[k])) & (ns - 1);
            while (slots[i] != UINT32_MAX) i = (i + 1) & (ns - 1);
            slots[i] = (uint32_t)k;
        }
        free(c->x_slot);
        c->x_slot = slots;
        c->x_slots = ns;
    }
    size_t i = fnv1a(s, n) & (c->x_slots - 1);
    while (c->x_slot[i] != UINT32_MAX) {
        const char *t = c->cats[c->x_slot[i]];
        if (strlen(t) == n && memcmp(t, s, n) == 0) return c->x_slot[i];
        i = (i + 1) & (c->x_slots - 1);
    }
    if (c->ncats == c->x_catcap) {
        c->x_catcap = c->x_catcap ? c->x_catcap * 2 : 16;
        c->cats = mp_xrealloc(c->cats, c->x_catcap * sizeof *c->cats);
    }
    c->cats[c->ncats] = mp_xstrndup(s, n);
    c->x_slot[i] = (uint32_t)c->ncats;
    return (uint32_t)c->ncats++;
}

/* ---- reading -------------------------------------------------------------------- */

typedef struct reader {
    const char *path;
    monitor_table *t;
    bool keep_text;
    mp_err *e;
    int rc;           /* first error; the rest of the file is skipped */
    long line;        /* line being fed, 1-based */
    long rec_line;    /* line the current record started on */
    size_t field;     /* fields seen in the current record */
    size_t rowcap;
    mp_strv header;
} reader;

static void grow_rows(reader *r) {
    if (r->t->nrows < r->rowcap) return;
    r->rowcap = r->rowcap ? r->rowcap * 2 : 1024;
    for (size_t j = 0; j < r->t->ncols; j++) {
        monitor_column *c = &r->t->cols[j];
        if (c->num) c->num = mp_xrealloc(c->num, r->rowcap * sizeof *c->num);
        if (c->cat) c->cat = mp_xrealloc(c->cat, r->rowcap * sizeof *c->cat);
    }
    r->t->lines = mp_xrealloc(r->t->lines, r->rowcap * sizeof *r->t->lines);
}

/* Column c turns to text at the current row: its numbers so far become their
 * shortest round-trip text. */
static void to_text(reader *r, monitor_column *c) {
    size_t row = r->t->nrows;
    c->type = MONITOR_COL_TEXT;
    c->first_text_row = (long)row + 1;
    c->first_text_line = r->rec_line;
    if (c->cat) { /* keep_text: the text as written is already there */
        free(c->num);
        c->num = NULL;
        return;
    }
    c->cat = mp_xmalloc((r->rowcap ? r->rowcap : 1) * sizeof *c->cat);
    for (size_t i = 0; i < row; i++) {
        double v = c->num[i];
        if (isnan(v)) {
            c->cat[i] = MONITOR_MISSING;
            continue;
        }
        char buf[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, v);
            if (strtod(buf, NULL) == v) break;
        }
        c->cat[i] = cat_id(c, buf, strlen(buf));
    }
    free(c->num);
    c->num = NULL;
}

static void on_header_field(reader *r, const char *s, size_t n) {
    if (r->header.n >= MONITOR_COLUMNS_MAX) {
        r->rc = mp_err_set(r->e, MP_EINVAL, "%s: line %ld: more than %d columns", r->path, r->rec_line,
                           MONITOR_COLUMNS_MAX);
        return;
    }
    mp_strv_push_owned(&r->header, mp_xstrndup(s, n));
}

static bool whole_number(const char *s, long *out) {
    double v;
    if (!monitor_parse_number(s, strlen(s), &v) || v != floor(v) || v < 0 || v > 1e9) return false;
    *out = (long)v;
    return true;
}

/* The first record read: names, scikit-learn's header ("N,K,class,...": K features
 * then the label), or a first data row (every field a number). Returns the names
 * (heap strv moved into r->header) and whether the record is a data row. */
static bool header_form(reader *r) {
    mp_strv *h = &r->header;
    long rows, k;
    if (h->n >= 2 && whole_number(h->v[0], &rows) && whole_number(h->v[1], &k) && k >= 1 &&
        k < MONITOR_COLUMNS_MAX) {
        bool names = true;
        for (size_t j = 2; j < h->n && names; j++) {
            double v;
            names = !monitor_parse_number(h->v[j], strlen(h->v[j]), &v);
        }
        if (names && (h->n > 2 || k != 1)) {
            mp_strv_free(h);
            for (long j = 0; j < k; j++) mp_strv_push_owned(h, mp_xasprintf("f%ld", j));
            mp_strv_push(h, "target");
            return false;
        }
    }
    bool numbers = true;
    for (size_t j = 0; j < h->n && numbers; j++) {
        double v;
        numbers = monitor_parse_number(h->v[j], strlen(h->v[j]), &v);
    }
    if (numbers) return true;
    for (size_t j = 0; j < h->n; j++) {
        if (!*h->v[j]) {
            r->rc = mp_err_set(r->e, MP_EINVAL, "%s: line %ld: column %zu has no name: the first line must name every column",
                               r->path, r->rec_line, j + 1);
            return false;
        }
        for (size_t i = 0; i < j; i++) {
            if (strcmp(h->v[i], h->v[j]) == 0) {
                r->rc = mp_err_set(r->e, MP_EINVAL, "%s: line %ld: column \"%s\" is named twice (columns %zu and %zu)",
                                   r->path, r->rec_line, h->v[j], i + 1, j + 1);
                return false;
            }
        }
    }
    return false;
}

static void start_columns(reader *r) {
    monitor_table *t = r->t;
    t->ncols = r->header.n;
    t->cols = mp_xcalloc(t->ncols ? t->ncols : 1, sizeof *t->cols);
    for (size_t j = 0; j < t->ncols; j++) {
        monitor_column *c = &t->cols[j];
        c->name = r->header.v[j];
        r->header.v[j] = NULL;
        c->type = MONITOR_COL_EMPTY;
        c->num = mp_xmalloc(sizeof *c->num);
        if (r->keep_text) c->cat = mp_xmalloc(sizeof *c->cat);
    }
    r->header.n = 0;
    r->rowcap = 1;
    t->lines = mp_xmalloc(sizeof *t->lines);
}

static void on_field(void *s, size_t n, void *data) {
    reader *r = data;
    if (r->rc) return;
    if (r->field == 0) r->rec_line = r->line;
    size_t j = r->field++;
    if (!r->t->cols) {
        on_header_field(r, s, n);
        return;
    }
    monitor_table *t = r->t;
    if (j >= t->ncols) {
        if (j == t->ncols)
            r->rc = mp_err_set(r->e, MP_EINVAL, "%s: row %zu (line %ld): more fields than the %zu columns the first line names",
                               r->path, t->nrows + 1, r->rec_line, t->ncols);
        return;
    }
    if (j == 0) {
        grow_rows(r);
        t->lines[t->nrows] = r->rec_line;
    }
    monitor_column *c = &t->cols[j];
    size_t row = t->nrows;
    if (monitor_is_missing(s, n)) {
        c->nmissing++;
        if (c->num) c->num[row] = NAN;
        if (c->cat) c->cat[row] = MONITOR_MISSING;
        return;
    }
    double v;
    if (c->type != MONITOR_COL_TEXT) {
        if (monitor_parse_number(s, n, &v)) {
            c->type = MONITOR_COL_NUMERIC;
            c->num[row] = v;
        } else {
            to_text(r, c);
            snprintf(c->first_text, sizeof c->first_text, "%.*s", (int)(n < 60 ? n : 60), (const char *)s);
        }
    }
    if (c->cat) c->cat[row] = cat_id(c, s, n);
}

static void on_record(int term, void *data) {
    reader *r = data;
    if (r->rc) return;
    if (!r->t->cols) {
        if (r->header.n == 0) return;
        mp_strv first = {0};
        bool data_row = header_form(r);
        if (r->rc) return;
        if (data_row) { /* no header: columns f0, f1, ...; the record is row 1 */
            first = r->header;
            r->header = (mp_strv){0};
            for (size_t j = 0; j < first.n; j++) mp_strv_push_owned(&r->header, mp_xasprintf("f%zu", j));
        }
        start_columns(r);
        r->field = 0;
        if (data_row) {
            long line = r->rec_line;
            for (size_t j = 0; j < first.n; j++) {
                on_field(first.v[j], strlen(first.v[j]), r);
                r->rec_line = line;
            }
            mp_strv_free(&first);
            on_record(term, data);
        }
        return;
    }
    monitor_table *t = r->t;
    if (r->field < t->ncols)
        r->rc = mp_err_set(r->e, MP_EINVAL, "%s: row %zu (line %ld): %zu field%s, the first line names %zu columns",
                           r->path, t->nrows + 1, r->rec_line, r->field, r->field == 1 ? "" : "s", t->ncols);
    else if (r->rc == 0)
        t->nrows++;
    r->field = 0;
}

static int no_space(unsigned char c) {
    (void)c;
    return 0;
}

int monitor_table_read(const char *path, bool keep_text, monitor_table *t, mp_err *e) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f)
        return mp_err_set(e, errno == ENOENT ? MP_ENOENT : MP_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_APPEND_NULL) != 0) {
        fclose(f);
        return mp_err_set(e, MP_EINTERNAL, "csv_init failed");
    }
    csv_set_space_func(&p, no_space); /* text as written, as pandas keeps it */
    reader r = {.path = path, .t = t, .keep_text = keep_text, .e = e, .line = 1, .rec_line = 1};
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    while (r.rc == 0 && (n = getline(&buf, &cap, f)) > 0) {
        if (csv_parse(&p, buf, (size_t)n, on_field, on_record, &r) != (size_t)n) {
            r.rc = mp_err_set(e, MP_EINVAL, "%s: line %ld: %s", path, r.line, csv_strerror(csv_error(&p)));
            break;
        }
        if (p.entry_pos > MONITOR_FIELD_MAX) {
            r.rc = mp_err_set(e, MP_EINVAL, "%s: line %ld: a field longer than %d bytes (an unclosed quote?)", path,
                              r.rec_line, MONITOR_FIELD_MAX);
            break;
        }
        r.line++;
    }
    if (r.rc == 0 && ferror(f)) r.rc = mp_err_set(e, MP_EIO, "%s: read failed: %s", path, strerror(errno));
    if (r.rc == 0 && p.quoted && p.pstate == 2) /* libcsv's FIELD_BEGUN inside quotes */
        r.rc = mp_err_set(e, MP_EINVAL, "%s: line %ld: a quoted field is not closed by the end of the file (an unclosed quote)",
                          path, r.rec_line);
    if (r.rc == 0) {
        r.line--;
        if (csv_fini(&p, on_field, on_record, &r) != 0 && r.rc == 0)
            r.rc = mp_err_set(e, MP_EINVAL, "%s: line %ld: %s (an unclosed quote?)", path, r.line,
                              csv_strerror(csv_error(&p)));
    }
    if (r.rc == 0 && !t->cols) {
        if (r.header.n > 0) { /* a file of one line without its newline */
            on_record(0, &r);
            if (!t->cols && r.rc == 0) start_columns(&r);
        }
        else r.rc = mp_err_set(e, MP_EINVAL, "%s: empty file: the first line must name the columns", path);
    }
    csv_free(&p);
    free(buf);
    fclose(f);
    mp_strv_free(&r.header);
    if (r.rc) {
        monitor_table_free(t);
        return r.rc;
    }
    for (size_t j = 0; j < t->ncols; j++) {
        free(t->cols[j].x_slot);
        t->cols[j].x_slot = NULL;
        t->cols[j].x_slots = 0;
        if (t->cols[j].type == MONITOR_COL_EMPTY && !keep_text) {
            free(t->cols[j].cat);
            t->cols[j].cat = NULL;
        }
    }
    return 0;
}

const monitor_column *monitor_table_column(const monitor_table *t, const char *name) {
    for (size_t j = 0; j < t->ncols; j++)
        if (strcmp(t->cols[j].name, name) == 0) return &t->cols[j];
    return NULL;
}

const char *monitor_col_type_name(monitor_col_type type) {
    switch (type) {
    case MONITOR_COL_NUMERIC: return "numeric";
    case MONITOR_COL_TEXT: return "text";
    case MONITOR_COL_EMPTY: return "empty";
    }
    return "?";
}

void monitor_table_free(monitor_table *t) {
    for (size_t j = 0; j < t->ncols; j++) {
        monitor_column *c = &t->cols[j];
        free(c->name);
        free(c->num);
        free(c->cat);
        for (size_t k = 0; k < c->ncats; k++) free(c->cats[k]);
        free(c->cats);
        free(c->x_slot);
    }
    free(t->cols);
    free(t->lines);
    memset(t, 0, sizeof *t);
}
