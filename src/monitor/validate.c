/* validate.c — data validation: a CSV table (table.c, read with keep_text)
 * against spec_expectations (src/spec/expect.c), the checks of Great
 * Expectations that are used most, each under its GE name:
 *   rows.min/max          expect_table_row_count_to_be_between
 *   required (default)    expect_column_to_exist
 *   type                  expect_column_values_to_be_of_type
 *   maxNullFraction       expect_column_values_to_not_be_null (mostly = 1 - it)
 *   min/max               expect_column_values_to_be_between
 *   in                    expect_column_values_to_be_in_set
 *   unique                expect_column_values_to_be_unique
 *   regex                 expect_column_values_to_match_regex
 * As in GE, missing values (pandas' NA strings) are left out of every check but
 * the null fraction. A broken expectation is one monitor_failure: expected,
 * observed, how many rows break it and the first MONITOR_EXAMPLES of them.
 * Values are compared as written (the table's text) and, where both sides read
 * as numbers, as numbers ("1.0" is in [1, 2]; "01" equals "1" for uniqueness of
 * a numeric column). A regex is POSIX extended (regcomp) and searched for, not
 * anchored (GE's re.search): write ^...$ for the whole value.
 *
 * Pure apart from monitor_validate_file's read; reentrant, nothing global. */
#include "monitor/monitor.h"

#include <jansson.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values --------------------------------------------------------------------- */

/* The text of row i of c as written, or NULL when missing. */
static const char *text_at(const monitor_column *c, size_t i) {
    return c->cat[i] == MONITOR_MISSING ? NULL : c->cats[c->cat[i]];
}

static bool number_at(const monitor_column *c, size_t i, double *v) {
    if (c->num && c->type == MONITOR_COL_NUMERIC) {
        *v = c->num[i];
        return !isnan(*v);
    }
    const char *s = text_at(c, i);
    return s && monitor_parse_number(s, strlen(s), v);
}

static monitor_failure *add_failure(monitor_report *r, const char *column, const char *expectation, char *expected) {
    r->v = mp_xrealloc(r->v, (r->n + 1) * sizeof *r->v);
    monitor_failure *f = &r->v[r->n++];
    memset(f, 0, sizeof *f);
    f->column = column ? mp_xstrdup(column) : NULL;
    f->expectation = expectation;
    f->expected = expected;
    return f;
}

/* Counts row i of c as breaking f, keeping it as an example while there is room. */
static void add_row(monitor_failure *f, const monitor_table *t, const monitor_column *c, size_t i) {
    f->count++;
    if (f->nexamples == MONITOR_EXAMPLES) return;
    monitor_example *x = &f->examples[f->nexamples++];
    x->row = (long)i + 1;
    x->line = t->lines[i];
    const char *s = text_at(c, i);
    x->missing = !s;
    snprintf(x->value, sizeof x->value, "%.60s", s ? s : "");
}

/* ---- one column ------------------------------------------------------------------- */

typedef bool (*row_pred)(const monitor_column *c, size_t i, const void *arg);

/* Adds a failure for the rows where bad() holds among the non-missing ones;
 * returns it, or NULL when none does. observed is set by the caller. */
static monitor_failure *scan(monitor_report *r, const monitor_table *t, const monitor_column *c,
                             const char *expectation, char *expected, row_pred bad, const void *arg) {
    monitor_failure *f = NULL;
    for (size_t i = 0; i < t->nrows; i++) {
        if (c->cat[i] == MONITOR_MISSING || !bad(c, i, arg)) continue;
        if (!f) f = add_failure(r, c->name, expectation, mp_xstrdup(expected));
        add_row(f, t, c, i);
    }
    free(expected);
    return f;
}

static bool not_number(const monitor_column *c, size_t i, const void *arg) {
    (void)arg;
    double v;
    return !number_at(c, i, &v);
}

static bool not_integer(const monitor_column *c, size_t i, const void *arg) {
    (void)arg;
    double v;
    return !number_at(c, i, &v) || !isfinite(v) || floor(v) != v;
}

static bool not_boolean(const monitor_column *c, size_t i, const void *arg) {
    (void)arg;
    static const char *const words[] = {"True", "False", "true", "false", "TRUE", "FALSE"};
    const char *s = text_at(c, i);
    for (size_t k = 0; k < sizeof words / sizeof *words; k++)
        if (strcmp(s, words[k]) == 0) return false;
    return true;
}

static bool outside(const monitor_column *c, size_t i, const void *arg) {
    const spec_column_expect *ce = arg;
    double v;
    if (!number_at(c, i, &v)) return true;
    return (ce->has_min && v < ce->min) || (ce->has_max && v > ce->max);
}

static bool not_in_set(const monitor_column *c, size_t i, const void *arg) {
    const spec_column_expect *ce = arg;
    const char *s = text_at(c, i);
    double v, w;
    bool num = monitor_parse_number(s, strlen(s), &v);
    for (size_t k = 0; k < ce->nin; k++) {
        if (strcmp(s, ce->in[k]) == 0) return false;
        if (num && monitor_parse_number(ce->in[k], strlen(ce->in[k]), &w) && v == w) return false;
    }
    return true;
}

static bool no_match(const monitor_column *c, size_t i, const void *arg) {
    return regexec((const regex_t *)arg, text_at(c, i), 0, NULL, 0) != 0;
}

static void check_type(monitor_report *r, const monitor_table *t, const monitor_column *c,
                       const spec_column_expect *ce) {
    static const row_pred preds[] = {[SPEC_EXPECT_NUMBER] = not_number,
                                     [SPEC_EXPECT_INTEGER] = not_integer,
                                     [SPEC_EXPECT_BOOLEAN] = not_boolean};
    if (ce->type == SPEC_EXPECT_ANY) return;
    r->checked++;
    if (ce->type == SPEC_EXPECT_STRING) return; /* every value is text as written */
    monitor_failure *f = scan(r, t, c, "expect_column_values_to_be_of_type",
                              mp_xasprintf("type %s", spec_expect_type_name(ce->type)), preds[ce->type], NULL);
    if (f) f->observed = mp_xasprintf("%zu value%s not %s %s", f->count, f->count == 1 ? " is" : "s are",
                                      ce->type == SPEC_EXPECT_INTEGER ? "an" : "a", spec_expect_type_name(ce->type));
}

static void check_nulls(monitor_report *r, const monitor_table *t, const monitor_column *c,
                        const spec_column_expect *ce) {
    if (!ce->has_max_null) return;
    r->checked++;
    double frac = t->nrows ? (double)c->nmissing / (double)t->nrows : 0;
    if (frac <= ce->max_null_fraction) return;
    monitor_failure *f = add_failure(r, c->name, "expect_column_values_to_not_be_null",
                                     mp_xasprintf("null fraction at most %g (mostly %g)", ce->max_null_fraction,
                                                  1 - ce->max_null_fraction));
    for (size_t i = 0; i < t->nrows; i++)
        if (c->cat[i] == MONITOR_MISSING) add_row(f, t, c, i);
    f->observed = mp_xasprintf("null fraction %.4g > %g (%zu of %zu rows)", frac, ce->max_null_fraction, c->nmissing,
                               t->nrows);
}

static void check_between(monitor_report *r, const monitor_table *t, const monitor_column *c,
                          const spec_column_expect *ce) {
    if (!ce->has_min && !ce->has_max) return;
    r->checked++;
    char lo[40] = "-inf", hi[40] = "inf";
    if (ce->has_min) snprintf(lo, sizeof lo, "%.15g", ce->min);
    if (ce->has_max) snprintf(hi, sizeof hi, "%.15g", ce->max);
    monitor_failure *f = scan(r, t, c, "expect_column_values_to_be_between", mp_xasprintf("in [%s, %s]", lo, hi),
                              outside, ce);
    if (!f) return;
    double mn = INFINITY, mx = -INFINITY, v;
    size_t nonnum = 0;
    for (size_t i = 0; i < t->nrows; i++) {
        if (c->cat[i] == MONITOR_MISSING) continue;
        if (!number_at(c, i, &v)) {
            nonnum++;
            continue;
        }
        if (v < mn) mn = v;
        if (v > mx) mx = v;
    }
    mp_buf b;
    mp_buf_init(&b);
    if (mn <= mx) {
        if (ce->has_min && mn < ce->min) mp_buf_printf(&b, "min %.15g < %s", mn, lo);
        else mp_buf_printf(&b, "min %.15g", mn);
        if (ce->has_max && mx > ce->max) mp_buf_printf(&b, ", max %.15g > %s", mx, hi);
        else mp_buf_printf(&b, ", max %.15g", mx);
        mp_buf_puts(&b, "; ");
    }
    mp_buf_printf(&b, "%zu row%s outside", f->count, f->count == 1 ? "" : "s");
    if (nonnum) mp_buf_printf(&b, " (%zu not a number)", nonnum);
    f->observed = mp_buf_steal(&b);
}

static void check_in(monitor_report *r, const monitor_table *t, const monitor_column *c,
                     const spec_column_expect *ce) {
    if (!ce->in) return;
    r->checked++;
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_puts(&b, "in [");
    for (size_t k = 0; k < ce->nin && k < 20; k++) mp_buf_printf(&b, "%s%s", k ? ", " : "", ce->in[k]);
    mp_buf_puts(&b, ce->nin > 20 ? ", ...]" : "]");
    monitor_failure *f = scan(r, t, c, "expect_column_values_to_be_in_set", mp_buf_steal(&b), not_in_set, ce);
    if (f) f->observed = mp_xasprintf("%zu value%s not in the set", f->count, f->count == 1 ? "" : "s");
}

static int by_value(const void *a, const void *b) {
    const double *x = *(const double *const *)a, *y = *(const double *const *)b;
    if (*x != *y) return *x < *y ? -1 : 1;
    return x < y ? -1 : x > y; /* equal values: in row order */
}

static void check_unique(monitor_report *r, const monitor_table *t, const monitor_column *c,
                         const spec_column_expect *ce) {
    if (!ce->unique) return;
    r->checked++;
    bool *dup = mp_xcalloc(t->nrows + 1, sizeof *dup);
    if (c->type == MONITOR_COL_NUMERIC) { /* by value: "1.0" repeats "1" */
        const double **p = mp_xcalloc(t->nrows + 1, sizeof *p);
        size_t n = 0;
        for (size_t i = 0; i < t->nrows; i++)
            if (!isnan(c->num[i])) p[n++] = &c->num[i];
        qsort(p, n, sizeof *p, by_value);
        for (size_t k = 1; k < n; k++)
            if (*p[k] == *p[k - 1]) dup[p[k] - c->num] = true;
        free(p);
    } else {
        bool *seen = mp_xcalloc(c->ncats + 1, sizeof *seen);
        for (size_t i = 0; i < t->nrows; i++) {
            if (c->cat[i] == MONITOR_MISSING) continue;
            if (seen[c->cat[i]]) dup[i] = true;
            seen[c->cat[i]] = true;
        }
        free(seen);
    }
    monitor_failure *f = NULL;
    for (size_t i = 0; i < t->nrows; i++) {
        if (!dup[i]) continue;
        if (!f) f = add_failure(r, c->name, "expect_column_values_to_be_unique", mp_xstrdup("unique values"));
        add_row(f, t, c, i);
    }
    free(dup);
    if (f) f->observed = mp_xasprintf("%zu duplicate%s (a value of an earlier row)", f->count,
                                      f->count == 1 ? "" : "s");
}

static int check_regex(monitor_report *r, const monitor_table *t, const monitor_column *c,
                       const spec_column_expect *ce, mp_err *e) {
    if (!ce->regex) return 0;
    regex_t rx;
    int rc = regcomp(&rx, ce->regex, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[200];
        regerror(rc, &rx, why, sizeof why);
        return mp_err_set(e, MP_EINVAL, "column \"%s\": regex \"%s\" does not compile: %s", c->name, ce->regex, why);
    }
    r->checked++;
    monitor_failure *f = scan(r, t, c, "expect_column_values_to_match_regex", mp_xasprintf("match /%s/", ce->regex),
                              no_match, &rx);
    regfree(&rx);
    if (f) f->observed = mp_xasprintf("%zu value%s not match", f->count, f->count == 1 ? " does" : "s do");
    return 0;
}

static void check_exists(monitor_report *r, const monitor_table *t, const spec_column_expect *ce) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_puts(&b, "absent; the columns are ");
    for (size_t j = 0; j < t->ncols && j < 20; j++) mp_buf_printf(&b, "%s%s", j ? ", " : "", t->cols[j].name);
    if (t->ncols > 20) mp_buf_printf(&b, ", ... (%zu in all)", t->ncols);
    if (!t->ncols) mp_buf_puts(&b, "none");
    monitor_failure *f = add_failure(r, ce->name, "expect_column_to_exist", mp_xstrdup("the column is present"));
    f->observed = mp_buf_steal(&b);
}

/* ---- the table ------------------------------------------------------------------------ */

int monitor_validate(const monitor_table *t, const char *file, const spec_expectations *x, monitor_report *r,
                     mp_err *e) {
    memset(r, 0, sizeof *r);
    if (x->expect_file)
        return mp_err_set(e, MP_EINVAL, "expectations name the file %s: load it first (spec_expectations_load_file)",
                          x->expect_file);
    for (size_t j = 0; j < t->ncols; j++)
        if (!t->cols[j].cat && t->nrows > 0)
            return mp_err_set(e, MP_EINVAL, "%s: the table was read without its text (keep_text)", file);
    r->file = mp_xstrdup(file ? file : "");
    r->rows = t->nrows;
    if (x->has_rows_min || x->has_rows_max) {
        r->checked++;
        bool low = x->has_rows_min && (long long)t->nrows < x->rows_min;
        bool high = x->has_rows_max && (long long)t->nrows > x->rows_max;
        if (low || high) {
            char lo[32] = "0", hi[32] = "...";
            if (x->has_rows_min) snprintf(lo, sizeof lo, "%lld", x->rows_min);
            if (x->has_rows_max) snprintf(hi, sizeof hi, "%lld", x->rows_max);
            monitor_failure *f = add_failure(r, NULL, "expect_table_row_count_to_be_between",
                                             mp_xasprintf("rows in [%s, %s]", lo, hi));
            f->observed = mp_xasprintf("%zu rows, %s %s", t->nrows, low ? "fewer than" : "more than", low ? lo : hi);
        }
    }
    for (size_t k = 0; k < x->ncols; k++) {
        const spec_column_expect *ce = &x->cols[k];
        const monitor_column *c = monitor_table_column(t, ce->name);
        if (!c) {
            if (ce->required) {
                r->checked++;
                check_exists(r, t, ce);
            }
            continue;
        }
        if (ce->required) r->checked++;
        check_type(r, t, c, ce);
        check_nulls(r, t, c, ce);
        check_between(r, t, c, ce);
        check_in(r, t, c, ce);
        check_unique(r, t, c, ce);
        int rc = check_regex(r, t, c, ce, e);
        if (rc) {
            monitor_report_free(r);
            return rc;
        }
    }
    return 0;
}

int monitor_validate_file(const char *path, const spec_expectations *x, monitor_report *r, mp_err *e) {
    memset(r, 0, sizeof *r);
    monitor_table t;
    int rc = monitor_table_read(path, true, &t, e);
    if (rc == 0) rc = monitor_validate(&t, path, x, r, e);
    monitor_table_free(&t);
    return rc;
}

void monitor_report_free(monitor_report *r) {
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].column);
        free(r->v[i].expected);
        free(r->v[i].observed);
    }
    free(r->v);
    free(r->file);
    memset(r, 0, sizeof *r);
}

json_t *monitor_report_json(const monitor_report *r) {
    json_t *fails = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const monitor_failure *f = &r->v[i];
        json_t *ex = json_array();
        for (size_t k = 0; k < f->nexamples; k++) {
            const monitor_example *x = &f->examples[k];
            json_array_append_new(ex, json_pack("{s:I, s:I, s:o}", "row", (json_int_t)x->row, "line",
                                                (json_int_t)x->line, "value",
                                                x->missing ? json_null() : json_string(x->value)));
        }
        json_array_append_new(fails, json_pack("{s:o, s:s, s:s, s:s, s:I, s:o}", "column",
                                                f->column ? json_string(f->column) : json_null(), "expectation",
                                                f->expectation, "expected", f->expected, "observed",
                                                f->observed ? f->observed : "", "count", (json_int_t)f->count,
                                                "examples", ex));
    }
    return json_pack("{s:s, s:I, s:I, s:b, s:o}", "file", r->file ? r->file : "", "rows", (json_int_t)r->rows,
                     "checked", (json_int_t)r->checked, "passed", r->n == 0, "failures", fails);
}

void monitor_report_text(const monitor_report *r, size_t limit, mp_buf *out) {
    if (r->n == 0) {
        mp_buf_printf(out, "%s: all %zu expectations hold (%zu rows)\n", r->file, r->checked, r->rows);
        return;
    }
    mp_buf_printf(out, "%s: %zu of %zu expectations broken (%zu rows)\n", r->file, r->n, r->checked, r->rows);
    for (size_t i = 0; i < r->n; i++) {
        if (limit && i == limit) {
            mp_buf_printf(out, "  ... and %zu more\n", r->n - limit);
            break;
        }
        const monitor_failure *f = &r->v[i];
        if (f->column) mp_buf_printf(out, "  column \"%s\": ", f->column);
        else mp_buf_puts(out, "  table: ");
        mp_buf_printf(out, "%s: expected %s, observed %s\n", f->expectation, f->expected, f->observed);
        for (size_t k = 0; k < f->nexamples; k++) {
            const monitor_example *x = &f->examples[k];
            mp_buf_printf(out, "    row %ld (line %ld): %s\n", x->row, x->line, x->missing ? "(missing)" : x->value);
        }
    }
}
