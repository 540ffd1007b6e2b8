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

#endif
