/* ml_int.h — internals of the built-in ML tools, shared by csv.c, args.c, data.c
 * and xgb.c and tested directly by tests/unit/test_ml.c. Not a public header: the
 * rest of mlplane only sees ml.h's two entry points.
 *
 * Data files are numeric CSV: every row holds the features and, last, an integer
 * class label 0..k-1. The first line may be
 *   - a scikit-learn header "N_ROWS,N_FEATURES,CLASS0,CLASS1,..." (two whole
 *     numbers, then class names that are not numbers), as in sklearn's bundled
 *     data sets; the counts are checked against the file;
 *   - a header of column names ("f0,f1,...,label"), none of which is a number;
 *     names may be wrapped in double quotes;
 *   - or no header at all (the first line is a row of numbers).
 * Values are parsed with strtod in the C locale and must be consumed whole, be
 * finite and fit a 32-bit float (XGBoost's type); spaces around a value are
 * allowed, empty values, quotes in data rows and blank lines inside the file are
 * not. Lines are limited to ML_CSV_MAX_LINE bytes.
 *
 * Errors follow util.h: int status and an mp_err. Readers that validate collect
 * up to ML_CSV_MAX_PROBLEMS messages "FILE:LINE: column C: what" into an mp_strv
 * so that a check can list them all. */
#ifndef MLPLANE_ML_INT_H
#define MLPLANE_ML_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define ML_CSV_MAX_LINE (1u << 20) /* bytes per line, newline excluded */
#define ML_CSV_MAX_PROBLEMS 20     /* messages kept; the rest are only counted */
#define ML_MAX_CLASSES 65536       /* labels must be below this */

/* ---- CSV tables (csv.c) ------------------------------------------------------- */
typedef enum ml_header {
    ML_HDR_NONE = 0, /* no header line */
    ML_HDR_SKLEARN,  /* "N_ROWS,N_FEATURES,CLASS0,..." */
    ML_HDR_NAMES,    /* column names */
} ml_header;

typedef struct ml_table {
    char *path;           /* as given */
    ml_header header;
    size_t nrows;
    size_t nfeat;         /* columns minus the label */
    double *x;            /* nrows * nfeat values, row-major */
    int *y;               /* nrows labels, each 0..ML_MAX_CLASSES-1 */
    long *lineno;         /* 1-based file line of each row */
    mp_strv rows;         /* each row's text as read (trimmed), for split */
    mp_strv colnames;     /* ML_HDR_NAMES: nfeat + 1 names (label last) */
    mp_strv classnames;   /* ML_HDR_SKLEARN: the declared class names */
    size_t decl_rows;     /* ML_HDR_SKLEARN: the declared counts */
    size_t decl_feat;
    size_t nclasses;      /* declared count (sklearn), else max label + 1 */
    size_t *class_count;  /* nclasses entries */
} ml_table;

/* Reads and validates the CSV at path into t (caller frees with ml_table_free,
 * also on failure). Returns 0 when the file is well formed; otherwise MP_EINVAL
 * (bad content) or MP_ENOENT/MP_EIO (unreadable), e holds the first problem and,
 * when problems is non-NULL, every problem found is appended to it (at most
 * ML_CSV_MAX_PROBLEMS, then one "... and N more problems" line). Rows with
 * problems are left out of t. */
int ml_csv_read(const char *path, ml_table *t, mp_strv *problems, mp_err *e);
/* The same; with labelled false every column is a feature (t->y unused, no
 * classes), for prediction input whose label column is optional. */
int ml_csv_read_opts(const char *path, bool labelled, ml_table *t, mp_strv *problems, mp_err *e);
void ml_table_free(ml_table *t);
/* Writes the header (same form as t's, with the row count of this subset; for
 * ML_HDR_NONE the names f0..fN-1,label) and the rows idx[0..n) to path, through a
 * temporary file and rename. */
int ml_csv_write_rows(const ml_table *t, const size_t *idx, size_t n, const char *path, mp_err *e);
/* "sklearn", "names" or "none". */
const char *ml_header_name(ml_header h);

/* ---- command-line options (args.c) -------------------------------------------- */
typedef enum ml_opt_kind {
    ML_OPT_STR,  /* const char **: the argument as given */
    ML_OPT_INT,  /* int *: a whole number within [min, max] */
    ML_OPT_U64,  /* uint64_t *: a non-negative whole number */
    ML_OPT_REAL, /* double *: a finite number within [min, max] */
} ml_opt_kind;

typedef struct ml_opt {
    const char *name; /* "--rounds" */
    ml_opt_kind kind;
    void *dst;
    double min, max; /* for ML_OPT_INT and ML_OPT_REAL */
    bool required;
    bool seen; /* set by the parser */
} ml_opt;

/* Parses argv[1..argc) (argv[0] is the sub-command) against the table opts
 * ("--name VALUE" or "--name=VALUE"); other words go, in order, into pos (at most
 * maxpos). Returns 0, 1 when --help/-h was given, or MP_EINVAL with a one-line
 * message (unknown option, bad number, missing value or required option, too many
 * arguments). */
int ml_parse_args(int argc, char **argv, ml_opt *opts, size_t nopts, const char **pos, size_t maxpos,
                  size_t *npos, mp_err *e);

/* ---- data tools (data.c) ------------------------------------------------------ */
/* Validates path: ml_csv_read plus the wanted counts (0 = any) and that every
 * class 0..k-1 has rows. Returns 0 or an error as ml_csv_read; t is filled as far
 * as possible (caller frees). */
int ml_data_check(const char *path, size_t want_feat, size_t want_rows, ml_table *t, mp_strv *problems,
                  mp_err *e);
/* Writes the check summary as a JSON object to out (atomically). */
int ml_data_write_report(const char *out, const char *path, const ml_table *t, const mp_strv *problems,
                         mp_err *e);
/* Splits path into train_out and test_out: round(n * test_fraction) rows, spread
 * over the classes in proportion (largest remainder), the rows of each picked by
 * a seeded shuffle. Both outputs are in shuffled order. Same input and seed give
 * the same files on every platform. */
int ml_data_split(const char *path, double test_fraction, uint64_t seed, const char *train_out,
                  const char *test_out, size_t *ntrain, size_t *ntest, mp_err *e);

/* splitmix64 (Steele, Lea, Flood 2014): the state advances by a fixed odd
 * constant and the output is mixed; fixed integer arithmetic, so portable. */
uint64_t ml_rand_next(uint64_t *state);
/* Uniform in [0, n) without modulo bias (n > 0). */
uint64_t ml_rand_below(uint64_t *state, uint64_t n);

/* ---- XGBoost tools (xgb.c) ---------------------------------------------------- */
typedef struct ml_train_opts {
    const char *train;   /* CSV */
    const char *valid;   /* CSV or NULL */
    const char *model;   /* output, must end in .json or .ubj */
    const char *history; /* output JSON or NULL */
    int rounds;
    int max_depth;
    double eta;
    int seed;
    int nthread;
    bool quiet; /* no progress lines on stdout */
} ml_train_opts;

typedef struct ml_metrics {
    double accuracy; /* 1 - error (threshold 0.5) */
    double auc;
    double logloss;
    size_t rows;
} ml_metrics;

/* Trains a binary:logistic booster on o->train; writes the model and, when asked,
 * the per-round history {"train-logloss":[...],"train-auc":[...],"valid-...":[...]}. */
int ml_xgb_train(const ml_train_opts *o, mp_err *e);
/* Evaluates the model on data with XGBoost's own metrics (auc, logloss, error). */
int ml_xgb_eval(const char *model, const char *data, ml_metrics *m, mp_err *e);
/* Predicts P(label = 1) for each row of data, in file order; *out is a heap
 * array of *n floats (caller frees). */
int ml_xgb_predict(const char *model, const char *data, float **out, size_t *n, mp_err *e);

#endif
