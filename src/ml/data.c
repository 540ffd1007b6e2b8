/* data.c — `mlplane data check` and `mlplane data split`: validate a numeric CSV
 * data set (format in ml_int.h) and split it into train/test files with a fixed
 * seed, so pipelines can prepare data without Python.
 *
 *   mlplane data check FILE [--features N] [--rows N] [--report OUT.json]
 *   mlplane data split FILE --test-fraction F --seed S --train OUT --test OUT
 *
 * The split is stratified: each class gives its share of the test rows (largest
 * remainder rounding), and the rows are picked by a Fisher-Yates shuffle driven
 * by splitmix64, a PRNG of plain 64-bit integer arithmetic, so a seed gives the
 * same files on every platform and libc. Outputs keep the input's header form
 * (an sklearn header gets the new row count). Exit status: 0 ok, 1 failure (bad
 * data, unreadable file), 2 bad usage. */
#include "ml/ml.h"
#include "ml/ml_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG ------------------------------------------------------------------------ */

uint64_t ml_rand_next(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

uint64_t ml_rand_below(uint64_t *state, uint64_t n) {
    /* Reject the top partial block so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = ml_rand_next(state);
    while (v >= limit);
    return v % n;
}

/* ---- check ----------------------------------------------------------------------- */

int ml_data_check(const char *path, size_t want_feat, size_t want_rows, ml_table *t, mp_strv *problems,
                  mp_err *e) {
    int rc = ml_csv_read(path, t, problems, e);
    if (rc == MP_ENOENT || rc == MP_EIO) return rc;
    size_t extra = 0;
    char msg[512];
    if (rc == 0) {
        if (want_feat && t->nfeat != want_feat) {
            snprintf(msg, sizeof msg, "%s: expected %zu features, found %zu", path, want_feat, t->nfeat);
            if (problems) mp_strv_push(problems, msg);
            if (!extra++) mp_err_set(e, MP_EINVAL, "%s", msg);
        }
        if (want_rows && t->nrows != want_rows) {
            snprintf(msg, sizeof msg, "%s: expected %zu rows, found %zu", path, want_rows, t->nrows);
            if (problems) mp_strv_push(problems, msg);
            if (!extra++) mp_err_set(e, MP_EINVAL, "%s", msg);
        }
        for (size_t k = 0; k < t->nclasses; k++) {
            if (t->class_count[k]) continue;
            snprintf(msg, sizeof msg, "%s: class %zu has no rows (labels must be 0..%zu, each used)", path, k,
                     t->nclasses - 1);
            if (problems) mp_strv_push(problems, msg);
            if (!extra++) mp_err_set(e, MP_EINVAL, "%s", msg);
        }
    }
    return rc ? rc : extra ? MP_EINVAL : 0;
}

static const char *class_name(const ml_table *t, size_t k) {
    return k < t->classnames.n ? t->classnames.v[k] : NULL;
}

int ml_data_write_report(const char *out, const char *path, const ml_table *t, const mp_strv *problems,
                         mp_err *e) {
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "ok", json_boolean(problems->n == 0));
    json_object_set_new(o, "rows", json_integer((json_int_t)t->nrows));
    json_object_set_new(o, "features", json_integer((json_int_t)t->nfeat));
    json_object_set_new(o, "header", json_string(ml_header_name(t->header)));
    json_object_set_new(o, "classes", json_integer((json_int_t)t->nclasses));
    json_t *counts = json_array(), *names = json_array(), *probs = json_array();
    for (size_t k = 0; k < t->nclasses; k++) {
        json_array_append_new(counts, json_integer((json_int_t)t->class_count[k]));
        const char *n = class_name(t, k);
        json_array_append_new(names, n ? json_string(n) : json_sprintf("%zu", k));
    }
    for (size_t i = 0; i < problems->n; i++) json_array_append_new(probs, json_string(problems->v[i]));
    json_object_set_new(o, "class_names", names);
    json_object_set_new(o, "class_counts", counts);
    json_object_set_new(o, "problems", probs);
    char *s = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!s) return mp_err_set(e, MP_EINTERNAL, "cannot encode the report as JSON");
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_puts(&b, s);
    mp_buf_putc(&b, '\n');
    free(s);
    int rc = mp_write_file_atomic(out, b.data, b.len, e);
    mp_buf_free(&b);
    return rc;
}

static void print_summary(const char *path, const ml_table *t) {
    printf("%s: ok\n", path);
    printf("  rows:     %zu\n", t->nrows);
    printf("  features: %zu\n", t->nfeat);
    printf("  header:   %s\n", ml_header_name(t->header));
    printf("  classes:  %zu\n", t->nclasses);
    for (size_t k = 0; k < t->nclasses; k++) {
        const char *n = class_name(t, k);
        printf("    %zu%s%s%s: %zu rows (%.1f%%)\n", k, n ? " (" : "", n ? n : "", n ? ")" : "", t->class_count[k],
               t->nrows ? 100.0 * (double)t->class_count[k] / (double)t->nrows : 0.0);
    }
}

/* ---- split ----------------------------------------------------------------------- */

int ml_data_split(const char *path, double test_fraction, uint64_t seed, const char *train_out,
                  const char *test_out, size_t *ntrain, size_t *ntest, mp_err *e) {
    if (!(test_fraction > 0 && test_fraction < 1))
        return mp_err_set(e, MP_EINVAL, "the test fraction must be between 0 and 1 (exclusive), not %g",
                          test_fraction);
    ml_table t;
    int rc = ml_csv_read(path, &t, NULL, e);
    if (rc) {
        ml_table_free(&t);
        return rc;
    }
    size_t n = t.nrows, k = t.nclasses;
    size_t want = (size_t)llround((double)n * test_fraction);
    if (want == 0 || want >= n) {
        ml_table_free(&t);
        return mp_err_set(e, MP_EINVAL, "a test fraction of %g of %zu rows leaves %s set empty", test_fraction, n,
                          want == 0 ? "the test" : "the training");
    }
    /* Per-class test quotas: floor of the proportional share, then the leftover
     * rows to the largest remainders (ties to the lower class). */
    size_t *quota = mp_xcalloc(k, sizeof *quota);
    double *rem = mp_xcalloc(k, sizeof *rem);
    size_t given = 0;
    for (size_t c = 0; c < k; c++) {
        double share = (double)t.class_count[c] * (double)want / (double)n;
        quota[c] = (size_t)floor(share);
        rem[c] = share - floor(share);
        given += quota[c];
    }
    while (given < want) {
        size_t best = k;
        for (size_t c = 0; c < k; c++)
            if (quota[c] < t.class_count[c] && (best == k || rem[c] > rem[best])) best = c;
        if (best == k) break;
        quota[best]++;
        rem[best] = -1;
        given++;
    }
    /* Shuffle all rows, then walk them: each class's first quota rows go to test. */
    size_t *perm = mp_xmalloc(n * sizeof *perm);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    uint64_t st = seed;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)ml_rand_below(&st, (uint64_t)i + 1);
        size_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    size_t *train = mp_xmalloc(n * sizeof *train), *test = mp_xmalloc(n * sizeof *test);
    size_t ntr = 0, nte = 0;
    for (size_t i = 0; i < n; i++) {
        int c = t.y[perm[i]];
        if (quota[c] > 0) {
            quota[c]--;
            test[nte++] = perm[i];
        } else {
            train[ntr++] = perm[i];
        }
    }
    rc = ml_csv_write_rows(&t, train, ntr, train_out, e);
    if (rc == 0) rc = ml_csv_write_rows(&t, test, nte, test_out, e);
    if (rc == 0) {
        if (ntrain) *ntrain = ntr;
        if (ntest) *ntest = nte;
    }
    free(quota);
    free(rem);
    free(perm);
    free(train);
    free(test);
    ml_table_free(&t);
    return rc;
}

/* ---- command line ---------------------------------------------------------------- */

static const char CHECK_USAGE[] = "usage: mlplane data check FILE [--features N] [--rows N] [--report OUT.json]";
static const char SPLIT_USAGE[] =
    "usage: mlplane data split FILE --test-fraction F --seed S --train OUT.csv --test OUT.csv";

static int usage_error(const char *usage, const mp_err *e) {
    fprintf(stderr, "mlplane data: %s\n%s\n", e->msg, usage);
    return 2;
}

static int cmd_check(int argc, char **argv) {
    int features = 0, rows = 0;
    const char *report = NULL, *pos[1];
    size_t npos;
    ml_opt opts[] = {
        {"--features", ML_OPT_INT, &features, 1, 1e9, false, false},
        {"--rows", ML_OPT_INT, &rows, 1, 2e9, false, false},
        {"--report", ML_OPT_STR, &report, 0, 0, false, false},
    };
    mp_err e = {0};
    int rc = ml_parse_args(argc, argv, opts, sizeof opts / sizeof *opts, pos, 1, &npos, &e);
    if (rc == 1) {
        printf("%s\n"
               "Validates a numeric CSV: same column count on every row, finite numbers, no\n"
               "missing values, integer class labels 0..k-1 in the last column, and the counts\n"
               "of an sklearn header (\"ROWS,FEATURES,CLASS0,...\"). --features/--rows also\n"
               "require those counts; --report writes the summary as JSON.\n",
               CHECK_USAGE);
        return 0;
    }
    if (rc == 0 && npos != 1) rc = mp_err_set(&e, MP_EINVAL, "FILE is required");
    if (rc) return usage_error(CHECK_USAGE, &e);
    ml_table t;
    mp_strv problems = {0};
    rc = ml_data_check(pos[0], (size_t)features, (size_t)rows, &t, &problems, &e);
    if (rc == MP_ENOENT || rc == MP_EIO) {
        fprintf(stderr, "mlplane data check: %s\n", e.msg);
        ml_table_free(&t);
        return 1;
    }
    if (report) {
        mp_err re = {0};
        if (ml_data_write_report(report, pos[0], &t, &problems, &re) != 0) {
            fprintf(stderr, "mlplane data check: %s\n", re.msg);
            rc = rc ? rc : MP_EIO;
        }
    }
    if (problems.n) {
        for (size_t i = 0; i < problems.n; i++) fprintf(stderr, "%s\n", problems.v[i]);
        fprintf(stderr, "mlplane data check: %s is not a valid data set\n", pos[0]);
    } else if (rc == 0) {
        print_summary(pos[0], &t);
    }
    mp_strv_free(&problems);
    ml_table_free(&t);
    return rc ? 1 : 0;
}

static int cmd_split(int argc, char **argv) {
    double frac = 0;
    uint64_t seed = 0;
    const char *train = NULL, *test = NULL, *pos[1];
    size_t npos;
    ml_opt opts[] = {
        {"--test-fraction", ML_OPT_REAL, &frac, 0, 1, true, false},
        {"--seed", ML_OPT_U64, &seed, 0, 0, true, false},
        {"--train", ML_OPT_STR, &train, 0, 0, true, false},
        {"--test", ML_OPT_STR, &test, 0, 0, true, false},
    };
    mp_err e = {0};
    int rc = ml_parse_args(argc, argv, opts, sizeof opts / sizeof *opts, pos, 1, &npos, &e);
    if (rc == 1) {
        printf("%s\n"
               "Shuffles the rows with the seed (same seed, same files on every platform) and\n"
               "writes round(rows * F) of them, stratified by class, to --test, the rest to\n"
               "--train; both keep the input's header form.\n",
               SPLIT_USAGE);
        return 0;
    }
    if (rc == 0 && npos != 1) rc = mp_err_set(&e, MP_EINVAL, "FILE is required");
    if (rc == 0 && !(frac > 0 && frac < 1))
        rc = mp_err_set(&e, MP_EINVAL, "--test-fraction must be between 0 and 1 (exclusive)");
    if (rc == 0 && strcmp(train, test) == 0) rc = mp_err_set(&e, MP_EINVAL, "--train and --test name the same file");
    if (rc) return usage_error(SPLIT_USAGE, &e);
    size_t ntr = 0, nte = 0;
    if (ml_data_split(pos[0], frac, seed, train, test, &ntr, &nte, &e) != 0) {
        fprintf(stderr, "mlplane data split: %s\n", e.msg);
        return 1;
    }
    printf("split %s (seed %llu): %zu train rows -> %s, %zu test rows -> %s\n", pos[0], (unsigned long long)seed, ntr,
           train, nte, test);
    return 0;
}

typedef struct data_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} data_cmd;

static const data_cmd DATA_CMDS[] = {
    {"check", cmd_check, CHECK_USAGE},
    {"split", cmd_split, SPLIT_USAGE},
};

int ml_data_main(int argc, char **argv) {
    size_t ncmd = sizeof DATA_CMDS / sizeof *DATA_CMDS;
    bool help = argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
                              strcmp(argv[0], "help") == 0);
    if (argc >= 1 && !help)
        for (size_t i = 0; i < ncmd; i++)
            if (strcmp(argv[0], DATA_CMDS[i].name) == 0) return DATA_CMDS[i].fn(argc, argv);
    FILE *out = help ? stdout : stderr;
    if (argc >= 1 && !help) fprintf(out, "mlplane data: unknown sub-command '%s'\n", argv[0]);
    for (size_t i = 0; i < ncmd; i++) fprintf(out, "%s\n", DATA_CMDS[i].usage);
    return help ? 0 : 2;
}
