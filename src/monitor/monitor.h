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
 * *d the statistic, *p its p-value. Exact mode, when the larger sample has at most 10,000
 * values: *d is moved to the lattice h / lcm(na, nb) and *p counts lattice paths (Hodges;
 * O(na nb) time). Asymptotic mode, for larger samples or where the exact value is not a
 * probability (as SciPy, which then falls back; *d keeps its lattice value): *p =
 * kstwo.sf(*d, round(na nb / (na + nb))) (see monitor_int.h): well under a millisecond
 * for most sizes, tens of milliseconds at worst (Durbin's matrix, where that n is near
 * 100,000 and *d small). *p is in [0, 1]. Returns 0; -1 with *p NaN only when
 * memory runs out (*d still set). a (na >= 1) and b (nb >= 1) sorted. */
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

/* ---- a Deployment's request log as the current sample (reqlog.c) ------------------- */
typedef struct monitor_reqlog_opts {
    int64_t window_rows; /* the last N rows; 0: no count limit */
    int64_t since_ms;    /* rows logged at or after this wall-clock time; 0: any time */
    const char *version; /* only the rows this model version answered, or NULL: all */
} monitor_reqlog_opts;

/* What was read and what was left out, and why. */
typedef struct monitor_reqlog_counts {
    size_t rows;          /* kept */
    size_t shadow, failed, other_version, no_inputs, other_width, bad_lines;
} monitor_reqlog_counts;

/* Reads the rows of features in the request log at path (and its rotated files
 * PATH.1, PATH.2, ...: serve.h's format) into t (columns f0, f1, ..., numeric; free
 * with monitor_table_free), oldest row first. Shadow answers, failed requests, other
 * versions (o->version), lines without inputs or of another width are left out and
 * counted in *counts; unreadable lines too (a line being written). Returns 0, or
 * MP_ENOENT when there is no log at all (e says so and what to do). */
int monitor_reqlog_read(const char *path, const monitor_reqlog_opts *o, monitor_table *t,
                        monitor_reqlog_counts *counts, mp_err *e);

/* The requests one version answered in a request log: how many, how many failed,
 * their 90th-percentile latency (nearest rank). */
typedef struct monitor_version_stats {
    size_t requests, errors;
    double p90_ms;
} monitor_version_stats;

/* The requests logged at or after since_ms (shadow answers left out) that versions
 * stable and canary answered, into *s and *c. 0, or MP_ENOENT when there is no log. */
int monitor_reqlog_compare(const char *path, int64_t since_ms, const char *stable, const char *canary,
                           monitor_version_stats *s, monitor_version_stats *c, mp_err *e);

/* ---- drift between a reference table and a current one (drift.c, sort.c) -------- */

/* Sorts the n doubles of v ascending in O(n) (LSD radix sort of their bit patterns,
 * 8 bits a pass; -0.0 before 0.0), with 2 n words of scratch of its own. No NaNs.
 * Any thread. */
void monitor_sort_doubles(double *v, size_t n);

typedef enum { MONITOR_KIND_NUMERIC, MONITOR_KIND_CATEGORICAL, MONITOR_KIND_BINARY } monitor_kind;
typedef enum {
    MONITOR_TEST_AUTO = 0, /* Evidently's default choice */
    MONITOR_TEST_KS,
    MONITOR_TEST_CHISQUARE,
    MONITOR_TEST_Z,
    MONITOR_TEST_WASSERSTEIN, /* normalised by the reference's standard deviation */
    MONITOR_TEST_JENSENSHANNON,
    MONITOR_TEST_PSI,
    MONITOR_TEST_NONE, /* a column left out (no values on a side) */
} monitor_test;

#define MONITOR_BINS_DEFAULT 10
#define MONITOR_BINS_MAX 1000

/* One column of a reference, computed once (monitor_reference_build) and kept, so a
 * long-lived monitor compares each new batch without sorting the reference again.
 * sorted: the n finite values ascending (numeric columns). std: their population
 * standard deviation (numpy's np.std). edges: the nedges distinct inner edges of the
 * reference's quantile bins (bin k holds edges[k-1] < x <= edges[k]). cats/counts:
 * the ncats categories of a text column (owned strings) and their counts. nrows:
 * the rows read; nmissing: missing or non-finite values (Evidently drops both). */
typedef struct monitor_ref_column {
    char *name;
    monitor_col_type type;
    size_t nrows, nmissing, n;
    double *sorted;
    double std;
    double *edges;
    size_t nedges;
    double *bin_counts; /* nedges + 1 counts of the reference in its own bins */
    char **cats;
    double *counts;
    size_t ncats;
} monitor_ref_column;

typedef struct monitor_reference {
    monitor_ref_column *cols;
    size_t ncols;
    size_t bins; /* quantile bins asked for (--bins) */
} monitor_reference;

/* Builds ref from the columns of t named in names (all of t's when names is NULL),
 * with bins quantile bins (0: MONITOR_BINS_DEFAULT). The result owns copies of what it
 * keeps; t may be freed after. threads: worker threads (0: as many as cores, at most
 * 8); the result does not depend on it. Free with monitor_reference_free (also after
 * an error). Returns 0, MP_EINVAL (a name not in t, bins out of range). */
int monitor_reference_build(const monitor_table *t, const char *const *names, size_t nnames, size_t bins,
                            int threads, monitor_reference *ref, mp_err *e);
void monitor_reference_free(monitor_reference *ref);

/* A per-column override: its test (MONITOR_TEST_AUTO: the default one) and threshold
 * (NAN: the test's default). */
typedef struct monitor_column_option {
    const char *column;
    monitor_test test;
    double threshold;
} monitor_column_option;

/* Options of monitor_drift; zero-initialised gives Evidently's defaults except that
 * threshold and drift_share must be set to NAN for "default" (monitor_drift_options_init). */
typedef struct monitor_drift_options {
    monitor_test test;  /* every column's test (AUTO: the default choice) */
    double threshold;   /* every column's threshold (NAN: the test's default) */
    const monitor_column_option *per_column;
    size_t nper_column;
    double drift_share; /* the data set drifts when this share of columns does (NAN: 0.5) */
    int threads;        /* 0: as many as cores, at most 8 */
    unsigned figures;   /* 0: every figure; else MONITOR_FIGURE_* of the merges wanted (the
                           deciding test's always; PSI, JS and the categorical ones always) */
} monitor_drift_options;

#define MONITOR_FIGURE_KS 1u          /* ks_d, ks_p */
#define MONITOR_FIGURE_WASSERSTEIN 2u /* wasserstein, wasserstein_norm */

void monitor_drift_options_init(monitor_drift_options *o);

/* One column's result. NAN where a figure does not apply (KS and Wasserstein for text
 * columns, chi-squared for numeric ones, a p-value the test does not give). statistic is
 * the test's figure (a p-value for ks, chisquare and z; a distance for the others);
 * drifted: p < threshold for the p-value tests, statistic >= threshold for the
 * distances. The regime (<= 1000 or more values) is the column's n_ref, as Evidently's
 * reference_data.shape[0] after its NaNs are dropped. n_values: distinct values over
 * both sides (of a numeric column counted up to 6, which means "more than 5"). nbins: the bins (numeric) or categories PSI and JS were computed over. */
typedef struct monitor_column_drift {
    const char *name; /* the reference's */
    monitor_col_type type;
    monitor_kind kind;
    monitor_test test;
    double statistic, p_value, threshold;
    bool drifted;
    double psi, ks_d, ks_p, wasserstein, wasserstein_norm, chi2, chi2_p, js, z, z_p;
    double missing_ref, missing_cur, missing_change; /* shares of rows; change = cur - ref */
    size_t n_ref, n_cur, n_values, nbins;
} monitor_column_drift;

typedef struct monitor_drift_result {
    monitor_column_drift *cols; /* heap; the names point into the reference */
    size_t ncols;
    size_t ntested, ndrifted;
    double share, drift_share;
    bool drift;
} monitor_drift_result;

/* Compares cur with ref column by column (each of ref's columns must be in cur, numeric
 * in both or text in both; an empty column goes with either). Fills r (free with
 * monitor_drift_result_free, also after an error). Returns 0, MP_EINVAL (a missing
 * column, a type mismatch, a test that does not fit a column, a threshold out of
 * range) with e naming the column. Columns run on options->threads workers; the
 * result is the same for any number. */
int monitor_drift(const monitor_reference *ref, const monitor_table *cur, const monitor_drift_options *o,
                  monitor_drift_result *r, mp_err *e);
void monitor_drift_result_free(monitor_drift_result *r);

/* "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi", "auto", "none";
 * monitor_test_parse: the test of a name, or -1. */
const char *monitor_test_name(monitor_test t);
int monitor_test_parse(const char *s);
/* "numeric", "categorical", "binary". */
const char *monitor_kind_name(monitor_kind k);
/* Whether a test's figure is a p-value (drift below the threshold). */
bool monitor_test_is_pvalue(monitor_test t);

/* ---- a Monitor's check (check.c) ---------------------------------------------------- */
#include "spec/spec.h"
#include "store/store.h"

struct json_t;

/* The JSON of one column's result and of a result's verdict, as `mlplane drift -o json`
 * and a Monitor's checks show them (new references). */
struct json_t *monitor_column_drift_json(const monitor_column_drift *d);
struct json_t *monitor_drift_summary_json(const monitor_drift_result *r);

/* What a check of a Monitor reads, resolved by its caller. */
typedef struct monitor_target {
    const char *home;     /* HOME: a Deployment's request log is HOME/serving/NAME/requests.log */
    const char *spec_dir; /* the folder of the file the Monitor was applied from (its relative paths) */
    const char *model;    /* the monitored Deployment's model, or NULL */
    const char *version;  /* the version it serves ("3"), or NULL when not known */
} monitor_target;

/* The prepared reference a Monitor keeps between its checks (zero-initialised at first;
 * freed with monitor_cache_free). Rebuilt when its file, columns or bins change. */
typedef struct monitor_cache {
    monitor_reference ref;
    bool built;
    char *key;
} monitor_cache;
void monitor_cache_free(monitor_cache *c);

/* Checks Monitor m once: its current rows (the newest of its Deployment's request log
 * that t->version answered, in spec.window; or spec.data's file) against its reference
 * (spec.reference.path, or the training data recorded on t's model version), and
 * records the check in st (with an event when it is news: DriftDetected, CheckFailed,
 * DriftResolved, Waiting), in one transaction. *out is the check recorded (free with
 * store_monitor_check_free): status Drift, NoDrift, Waiting (fewer rows than
 * spec.minRows, or no log yet) or Failed (with why). Returns 0 when it was recorded,
 * else the store's error. */
int monitor_check(store *st, const spec_monitor *m, const monitor_target *t, monitor_cache *cache,
                  store_monitor_check *out, mp_err *e);

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
