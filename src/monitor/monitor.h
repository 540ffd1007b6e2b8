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

#endif
