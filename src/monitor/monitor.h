/* monitor.h — drift statistics between a reference sample and a current one, as
 * SciPy and Evidently compute them (the first part of `mlplane drift`).
 * Pure functions over caller-owned arrays: no I/O, reentrant; any thread may call
 * them (the only process-wide state is GSL's error handler, turned off once, see
 * categorical.c). Each sorted input is ascending, without NaNs. Category counts are
 * two arrays over the same categories in the same order (a category absent from one
 * side has count 0 there), each count finite and >= 0. */
#ifndef MLPLANE_MONITOR_H
#define MLPLANE_MONITOR_H

#include <stddef.h>

#include "util/util.h"

/* Two-sample Kolmogorov–Smirnov test, two-sided, as scipy.stats.ks_2samp(method="auto"):
 * *d the statistic, *p its p-value, exact (Hodges' lattice-path counts) when the larger
 * sample has at most 10,000 values. Larger samples: returns -1 (asymptotic p-value not
 * yet implemented), *d still set. Returns 0. a (na >= 1) and b (nb >= 1) sorted. */
int monitor_ks_2samp(const double *a, size_t na, const double *b, size_t nb, double *d, double *p);

/* First Wasserstein distance as scipy.stats.wasserstein_distance of two sorted samples. */
double monitor_wasserstein(const double *a, size_t na, const double *b, size_t nb);

/* PSI of two histograms (counts over the same bins), with Evidently's fill of empty
 * bins: a share of 0 becomes 0.0001, or the smallest non-zero share / 1e6 when that is
 * at most 0.0001. Returns the PSI (natural log). */
double monitor_psi(const double *ref_counts, const double *cur_counts, size_t nbins);

/* Chi-squared goodness of fit of the current counts to the reference's, as Evidently's
 * chi-square test: expected_k = ref_k * n_cur / n_ref (n = the sum of a side's counts),
 * *stat = sum_k (cur_k - expected_k)^2 / expected_k, *p = Q(*stat; k - 1 degrees of
 * freedom) (GSL's gsl_cdf_chisq_Q), as scipy.stats.chisquare(cur, expected). A category
 * absent from the reference but present in the current sample (expected 0, observed
 * > 0) gives *stat = +inf and *p = 0, as SciPy. Returns 0, or MP_EINVAL (e says which
 * count) for: nref != ncur, fewer than 2 categories, a negative or non-finite count, a
 * side whose counts sum to 0, a category with count 0 on both sides (SciPy's NaN:
 * leave it out). MP_EINTERNAL if GSL gives no probability. */
int monitor_chisquare(const double *ref_counts, size_t nref, const double *cur_counts, size_t ncur,
                      double *stat, double *p, mp_err *e);

/* Evidently's two-proportion Z-test for a binary column, pooled: counts of its two
 * categories in sorted order (the first sorted category counts as 0, the other as 1, as
 * Evidently's z_stat_test maps them). p1 = ref[1] / n_ref, p2 = cur[1] / n_cur,
 * P = (ref[1] + cur[1]) / (n_ref + n_cur), *z = (p1 - p2) / sqrt(P (1 - P) (1/n_ref +
 * 1/n_cur)), *p = 2 (1 - Phi(|z|)) = erfc(|z| / sqrt 2). Both sides holding only the
 * same one category (P = 0 or 1): *z = 0, *p = 1, as Evidently. Returns 0, or MP_EINVAL
 * for nref != ncur, a count of categories other than 2, a negative or non-finite count,
 * or a side whose counts sum to 0. */
int monitor_ztest_proportions(const double *ref_counts, size_t nref, const double *cur_counts, size_t ncur,
                              double *z, double *p, mp_err *e);

/* Jensen–Shannon distance of two count vectors, natural log, as
 * scipy.spatial.distance.jensenshannon(ref, cur) (base None): with P = ref / n_ref,
 * Q = cur / n_cur and M = (P + Q) / 2, *js = sqrt((KL(P || M) + KL(Q || M)) / 2), a
 * term with P_k = 0 (or Q_k = 0) counting 0. In [0, sqrt(ln 2)]. Returns 0, or MP_EINVAL
 * for nref != ncur, no categories, a negative or non-finite count, or a side whose
 * counts sum to 0. */
int monitor_jensenshannon(const double *ref_counts, size_t nref, const double *cur_counts, size_t ncur,
                          double *js, mp_err *e);

/* ---- CSV tables (table.c) ------------------------------------------------------ */
#include <stdbool.h>
#include <stdint.h>

#define MONITOR_COLUMNS_MAX 10000     /* columns per file */
#define MONITOR_FIELD_MAX (1 << 20)   /* bytes per field */
#define MONITOR_MISSING UINT32_MAX    /* category id of a missing value */

typedef enum { MONITOR_COL_EMPTY, MONITOR_COL_NUMERIC, MONITOR_COL_TEXT } monitor_col_type;

/* One column of a monitor_table. num: nrows numbers (NaN = missing), for numeric and
 * empty columns. cat: nrows category ids into cats (MONITOR_MISSING = missing), for
 * text columns, and for every column when read with keep_text. cats: the ncats
 * distinct values in first-seen order. first_text_row/line/first_text: for a text
 * column, the first data row (1-based), its line, and the value that is not a
 * number (at most 60 bytes); 0 for other columns. x_*: the reader's own. */
typedef struct monitor_column {
    char *name;
    monitor_col_type type;
    size_t nmissing;
    double *num;
    uint32_t *cat;
    char **cats;
    size_t ncats;
    long first_text_row, first_text_line;
    char first_text[64];
    size_t x_catcap, x_slots;
    uint32_t *x_slot;
} monitor_column;

/* A CSV file as typed columns. lines[i]: the line data row i (0-based) starts on. */
typedef struct monitor_table {
    monitor_column *cols;
    size_t ncols, nrows;
    long *lines;
} monitor_table;

/* Reads the CSV at path (first line: the column names) into t, which the caller frees
 * with monitor_table_free (also after an error: t is then empty). Returns 0, MP_ENOENT
 * or MP_EIO for a file that cannot be read, MP_EINVAL for a malformed one (e says
 * FILE: row R (line L): what — a row with too few or too many fields, an unclosed
 * quote, a column without a name or named twice, an empty file). */
int monitor_table_read(const char *path, bool keep_text, monitor_table *t, mp_err *e);
void monitor_table_free(monitor_table *t);
/* The column named name, or NULL. */
const monitor_column *monitor_table_column(const monitor_table *t, const char *name);
/* "numeric", "text", "empty". */
const char *monitor_col_type_name(monitor_col_type type);
/* Whether the n bytes of s are one of pandas' default missing-value strings. */
bool monitor_is_missing(const char *s, size_t n);
/* Whether the n bytes of s read whole as a decimal number (spaces around allowed; no
 * hexadecimal, no NaN); the number in *out. */
bool monitor_parse_number(const char *s, size_t n, double *out);

/* ---- data validation (validate.c) ---------------------------------------------
 * A table against spec_expectations (spec.h), Great Expectations' checks: each
 * expectation that does not hold is one monitor_failure with what was expected,
 * what was observed and up to MONITOR_EXAMPLES rows that break it. */
#include "spec/spec.h"

#define MONITOR_EXAMPLES 5

typedef struct monitor_example {
    long row, line;   /* 1-based data row and the line it starts on */
    bool missing;     /* the value is missing (value then "") */
    char value[64];   /* the value as written, cut to 60 bytes */
} monitor_example;

typedef struct monitor_failure {
    char *column;            /* heap; NULL for the table's row count */
    const char *expectation; /* Great Expectations' name: "expect_column_values_to_be_unique", ... */
    char *expected;          /* heap: "at most 0.01", "in [0, 120]" */
    char *observed;          /* heap: "null fraction 0.031 (31 of 1000 rows)" */
    size_t count;            /* rows that break it (0 for a table-wide one) */
    monitor_example examples[MONITOR_EXAMPLES];
    size_t nexamples;
} monitor_failure;

typedef struct monitor_report {
    char *file;       /* heap: the CSV checked */
    size_t rows;      /* its data rows */
    size_t checked;   /* expectations evaluated */
    monitor_failure *v; /* heap, n of them, in the expectations' order */
    size_t n;
} monitor_report;

/* Checks table t (read with keep_text) against x into *r (caller frees with
 * monitor_report_free; file is copied into it). Returns 0 whether or not
 * expectations are broken (r->n says), MP_EINVAL when a regex does not compile
 * or t was not read with keep_text, or when x names a file (x->expect_file). */
int monitor_validate(const monitor_table *t, const char *file, const spec_expectations *x, monitor_report *r,
                     mp_err *e);
/* Reads the CSV at path (monitor_table_read, keep_text) and checks it. Errors:
 * monitor_table_read's (FILE: row R (line L): what) and monitor_validate's. */
int monitor_validate_file(const char *path, const spec_expectations *x, monitor_report *r, mp_err *e);
void monitor_report_free(monitor_report *r);
/* The report as a JSON object {file, rows, checked, passed, failures: [{column,
 * expectation, expected, observed, count, examples: [{row, line, value}]}]}
 * (value null for a missing one). New reference (jansson's json_t). */
struct json_t *monitor_report_json(const monitor_report *r);
/* The report as text, one paragraph a broken expectation, appended to out:
 *   FILE: 2 of 9 expectations broken (1000 rows)
 *     column "age": expect_column_values_to_be_between: expected in [0, 120], observed min -3 (4 rows outside)
 *       row 12 (line 13): -3
 * limit: at most this many failures written (0: all), then "... and N more". */
void monitor_report_text(const monitor_report *r, size_t limit, mp_buf *out);

#endif
