/* test_ml.c — unit tests for the built-in ML tools (src/ml): the CSV reader on
 * the real breast-cancer data and on broken files (each problem reported with its
 * FILE:LINE and column), the seeded split (deterministic, disjoint, complete,
 * stratified), XGBoost training/evaluation/prediction on the real data, and the
 * command-line entry points' exit statuses. Uses MLPLANE_SRC (source tree) and
 * MLPLANE_TEST_TMP (scratch directory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"
#include "ml/ml_int.h"
#include "util/util.h"

static char g_tmp[4096];
static char g_data[4096];

static const char *tmp_path(const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", g_tmp, name);
    return buf;
}

static const char *write_tmp(const char *name, const char *text) {
    static char path[8][4200];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", g_tmp, name);
    mp_err e = {0};
    assert_int_equal(mp_write_file_atomic(p, text, strlen(text), &e), 0);
    return p;
}

static int setup_all(void **state) {
    (void)state;
    const char *tmp = getenv("MLPLANE_TEST_TMP");
    const char *src = getenv("MLPLANE_SRC");
    if (!tmp || !src) {
        fprintf(stderr, "MLPLANE_TEST_TMP and MLPLANE_SRC must be set (run through ctest)\n");
        return -1;
    }
    snprintf(g_tmp, sizeof g_tmp, "%s/ml", tmp);
    snprintf(g_data, sizeof g_data, "%s/examples/data/breast_cancer.csv", src);
    mp_err e = {0};
    if (mp_rm_rf(g_tmp, &e) != 0 || mp_mkdir_p(g_tmp, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    return 0;
}

/* Asserts that s contains every one of the NULL-terminated needles. */
static void assert_has(const char *s, ...) {
    va_list ap;
    va_start(ap, s);
    for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *)) {
        if (!strstr(s, n)) fail_msg("'%s' does not contain '%s'", s, n);
    }
    va_end(ap);
}

/* ---- check ----------------------------------------------------------------------- */

static void test_check_real_data(void **state) {
    (void)state;
    ml_table t;
    mp_strv probs = {0};
    mp_err e = {0};
    int rc = ml_data_check(g_data, 30, 569, &t, &probs, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(probs.n, 0);
    assert_int_equal(t.header, ML_HDR_SKLEARN);
    assert_int_equal(t.nrows, 569);
    assert_int_equal(t.nfeat, 30);
    assert_int_equal(t.nclasses, 2);
    assert_int_equal(t.class_count[0], 212);
    assert_int_equal(t.class_count[1], 357);
    assert_string_equal(t.classnames.v[0], "malignant");
    assert_string_equal(t.classnames.v[1], "benign");
    assert_true(fabs(t.x[0] - 17.99) < 1e-12);
    assert_int_equal(t.y[0], 0);
    assert_int_equal(t.lineno[0], 2);

    char rep[4200];
    tmp_path("report.json", rep, sizeof rep);
    assert_int_equal(ml_data_write_report(rep, g_data, &t, &probs, &e), 0);
    char *text = NULL;
    assert_int_equal(mp_read_file(rep, &text, NULL, &e), 0);
    assert_has(text, "\"ok\": true", "\"rows\": 569", "\"features\": 30", "\"malignant\"", "212", NULL);
    free(text);
    ml_table_free(&t);
    mp_strv_free(&probs);

    /* Wrong expected counts are problems too. */
    rc = ml_data_check(g_data, 29, 0, &t, &probs, &e);
    assert_int_equal(rc, MP_EINVAL);
    assert_has(e.msg, "expected 29 features, found 30", NULL);
    ml_table_free(&t);
    mp_strv_free(&probs);
}

/* Each case: file text, then substrings the first problem must hold. */
static const struct bad_case {
    const char *name, *text, *want1, *want2;
} BAD[] = {
    {"missing.csv", "3,2,a,b\n1,2,0\n1,,1\n3,4,1\n", "missing.csv:3:", "column 2: missing value"},
    {"nonnum.csv", "f0,f1,label\n1,2,0\n1,abc,1\n", "nonnum.csv:3:", "column 2 (f1): not a number: 'abc'"},
    {"ragged.csv", "1,2,0\n3,4,1\n5,6,7,1\n", "ragged.csv:3:", "row has 4 columns, expected 3 (as on line 1)"},
    {"rowcount.csv", "5,2,a,b\n1,2,0\n3,4,1\n", "rowcount.csv:1:", "header declares 5 rows but the file has 2"},
    {"featcount.csv", "2,3,a,b\n1,2,0\n3,4,1\n", "featcount.csv:1:", "header declares 3 features but rows have 2"},
    {"names.csv", "a,b,c,label\n1,2,0\n3,4,1\n", "names.csv:1:", "header names 4 columns but rows have 3"},
    {"nan.csv", "1,nan,0\n", "nan.csv:1:", "column 2: not a finite number"},
    {"inf.csv", "1,2,0\n1,1e39,1\n", "inf.csv:2:", "out of range for a 32-bit float"},
    {"label.csv", "1,2,0\n1,2,0.5\n", "label.csv:2:", "column 3 (label): '0.5' is not a class number"},
    {"neglabel.csv", "1,2,-1\n", "neglabel.csv:1:", "is not a class number"},
    {"class.csv", "2,1,a,b\n1,0\n1,2\n", "class.csv:3:", "class 2 but the header names only 2 classes"},
    {"blank.csv", "1,2,0\n\n1,2,1\n", "blank.csv:2:", "blank line inside the data"},
    {"empty.csv", "", "empty.csv:1:", "no data rows"},
    {"header-only.csv", "f0,label\n", "header-only.csv:1:", "no data rows"},
    {"trailing.csv", "1,2x,0\n", "trailing.csv:1:", "not a number: '2x'"},
    {"dupname.csv", "x,x,label\n1,2,0\n", "dupname.csv:1:", "duplicate column name 'x'"},
    {"onecol.csv", "1\n2\n", "onecol.csv:1:", "at least one feature and a label"},
};

static void test_check_broken(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        const char *p = write_tmp(BAD[i].name, BAD[i].text);
        ml_table t;
        mp_strv probs = {0};
        mp_err e = {0};
        int rc = ml_data_check(p, 0, 0, &t, &probs, &e);
        if (rc != MP_EINVAL) fail_msg("%s: expected MP_EINVAL, got %d (%s)", BAD[i].name, rc, e.msg);
        assert_true(probs.n >= 1);
        assert_has(e.msg, BAD[i].want1, BAD[i].want2, NULL);
        assert_has(probs.v[0], BAD[i].want1, BAD[i].want2, NULL);
        ml_table_free(&t);
        mp_strv_free(&probs);
    }
}

static void test_check_many_problems(void **state) {
    (void)state;
    /* All problems of a file are reported, and the list is capped. */
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_puts(&b, "1,2,0\n");
    for (int i = 0; i < 30; i++) mp_buf_puts(&b, "1,,0\n");
    const char *p = write_tmp("many.csv", b.data);
    mp_buf_free(&b);
    ml_table t;
    mp_strv probs = {0};
    mp_err e = {0};
    assert_int_equal(ml_data_check(p, 0, 0, &t, &probs, &e), MP_EINVAL);
    assert_int_equal(probs.n, ML_CSV_MAX_PROBLEMS + 1);
    assert_has(probs.v[0], "many.csv:2:", NULL);
    assert_has(probs.v[1], "many.csv:3:", NULL);
    assert_has(probs.v[ML_CSV_MAX_PROBLEMS], "and 10 more problems", NULL);
    assert_has(e.msg, "(and 29 more problems)", NULL);
    ml_table_free(&t);
    mp_strv_free(&probs);
}

static void test_check_forms(void **state) {
    (void)state;
    /* No header, CRLF, spaces, quoted names, a missing trailing newline. */
    const char *cases[] = {
        "1.5,2e3,0\n-3,.5,1\n",
        "\"f0\", \"f1\" ,label\r\n 1.5 , 2,0\r\n3,4,1\r\n",
        "2,2,neg,pos\n1,2,0\n3,4,1",
        "1,2,0\n3,4,1\n\n\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *p = write_tmp("good.csv", cases[i]);
        ml_table t;
        mp_strv probs = {0};
        mp_err e = {0};
        int rc = ml_data_check(p, 2, 2, &t, &probs, &e);
        if (rc) fail_msg("case %zu: %s", i, e.msg);
        assert_int_equal(t.nclasses, 2);
        ml_table_free(&t);
        mp_strv_free(&probs);
    }
    /* A class without rows is a check problem. */
    const char *p = write_tmp("gap.csv", "1,0\n2,2\n");
    ml_table t;
    mp_err e = {0};
    assert_int_equal(ml_data_check(p, 0, 0, &t, NULL, &e), MP_EINVAL);
    assert_has(e.msg, "class 1 has no rows", NULL);
    ml_table_free(&t);
    /* A missing file. */
    assert_int_equal(ml_data_check("/nonexistent/x.csv", 0, 0, &t, NULL, &e), MP_ENOENT);
    ml_table_free(&t);
}

static void test_check_long_line(void **state) {
    (void)state;
    size_t n = ML_CSV_MAX_LINE + 10;
    char *big = mp_xmalloc(n + 16);
    memset(big, '1', n);
    memcpy(big + n, ",0\n1,1\n", 8);
    const char *p = write_tmp("long.csv", big);
    free(big);
    ml_table t;
    mp_err e = {0};
    assert_int_equal(ml_csv_read(p, &t, NULL, &e), MP_EINVAL);
    assert_has(e.msg, "long.csv:1:", "line longer than", NULL);
    ml_table_free(&t);
}

/* ---- split ----------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_split(void **state) {
    (void)state;
    char tr1[4200], te1[4200], tr2[4200], te2[4200], tr3[4200], te3[4200];
    tmp_path("s1-train.csv", tr1, sizeof tr1);
    tmp_path("s1-test.csv", te1, sizeof te1);
    tmp_path("s2-train.csv", tr2, sizeof tr2);
    tmp_path("s2-test.csv", te2, sizeof te2);
    tmp_path("s3-train.csv", tr3, sizeof tr3);
    tmp_path("s3-test.csv", te3, sizeof te3);
    mp_err e = {0};
    size_t ntr = 0, nte = 0;
    assert_int_equal(ml_data_split(g_data, 0.2, 42, tr1, te1, &ntr, &nte, &e), 0);
    assert_int_equal(ntr, 455);
    assert_int_equal(nte, 114);
    assert_int_equal(ml_data_split(g_data, 0.2, 42, tr2, te2, NULL, NULL, &e), 0);
    assert_int_equal(ml_data_split(g_data, 0.2, 7, tr3, te3, NULL, NULL, &e), 0);

    char *a = NULL, *b = NULL;
    assert_int_equal(mp_read_file(tr1, &a, NULL, &e), 0);
    assert_int_equal(mp_read_file(tr2, &b, NULL, &e), 0);
    assert_string_equal(a, b); /* same seed, same bytes */
    free(b);
    assert_int_equal(mp_read_file(tr3, &b, NULL, &e), 0);
    assert_string_not_equal(a, b); /* another seed, another split */
    free(a);
    free(b);

    /* Both outputs pass check with their own header counts, stratified. */
    ml_table all, train, test;
    assert_int_equal(ml_data_check(g_data, 0, 0, &all, NULL, &e), 0);
    assert_int_equal(ml_data_check(tr1, 30, 455, &train, NULL, &e), 0);
    assert_int_equal(ml_data_check(te1, 30, 114, &test, NULL, &e), 0);
    assert_int_equal(train.header, ML_HDR_SKLEARN);
    assert_int_equal(test.class_count[0], 42); /* 212 * 114 / 569 = 42.47 */
    assert_int_equal(test.class_count[1], 72); /* 357 * 114 / 569 = 71.53 */

    /* Disjoint and complete: the rows of train + test are the input's rows. */
    size_t n = all.nrows;
    char **x = mp_xmalloc(n * sizeof *x), **y = mp_xmalloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) x[i] = all.rows.v[i];
    for (size_t i = 0; i < train.nrows; i++) y[i] = train.rows.v[i];
    for (size_t i = 0; i < test.nrows; i++) y[train.nrows + i] = test.rows.v[i];
    qsort(x, n, sizeof *x, cmp_str);
    qsort(y, n, sizeof *y, cmp_str);
    for (size_t i = 0; i < n; i++) assert_string_equal(x[i], y[i]);
    /* Rows are unique in this data set, so complete also means disjoint. */
    for (size_t i = 1; i < n; i++) assert_string_not_equal(x[i - 1], x[i]);
    free(x);
    free(y);
    ml_table_free(&all);
    ml_table_free(&train);
    ml_table_free(&test);

    /* A header-less input gets f0..fN-1,label; bad fractions are refused. */
    const char *p = write_tmp("plain.csv", "1,2,0\n3,4,1\n5,6,0\n7,8,1\n");
    assert_int_equal(ml_data_split(p, 0.5, 1, tr1, te1, &ntr, &nte, &e), 0);
    assert_int_equal(mp_read_file(tr1, &a, NULL, &e), 0);
    assert_has(a, "f0,f1,label\n", NULL);
    free(a);
    assert_int_equal(ml_data_split(p, 0.01, 1, tr1, te1, NULL, NULL, &e), MP_EINVAL);
    assert_has(e.msg, "leaves the test set empty", NULL);
    assert_int_equal(ml_data_split(p, 1.5, 1, tr1, te1, NULL, NULL, &e), MP_EINVAL);
}

static void test_rand_fixed(void **state) {
    (void)state;
    /* splitmix64 reference values for seed 0 (from the published algorithm). */
    uint64_t s = 0;
    assert_true(ml_rand_next(&s) == UINT64_C(0xE220A8397B1DCDAF));
    assert_true(ml_rand_next(&s) == UINT64_C(0x6E789E6AA1B965F4));
    for (int i = 0; i < 1000; i++) assert_true(ml_rand_below(&s, 7) < 7);
}

/* ---- xgboost --------------------------------------------------------------------- */

static void test_xgb_train_eval_predict(void **state) {
    (void)state;
    char tr[4200], te[4200], model[4200], hist[4200], model_ubj[4200];
    tmp_path("x-train.csv", tr, sizeof tr);
    tmp_path("x-test.csv", te, sizeof te);
    tmp_path("model.json", model, sizeof model);
    tmp_path("model.ubj", model_ubj, sizeof model_ubj);
    tmp_path("history.json", hist, sizeof hist);
    mp_err e = {0};
    assert_int_equal(ml_data_split(g_data, 0.2, 42, tr, te, NULL, NULL, &e), 0);

    ml_train_opts o = {.train = tr, .valid = te, .model = model, .history = hist, .rounds = 100,
                       .max_depth = 4, .eta = 0.1, .seed = 0, .nthread = 1, .quiet = true};
    int rc = ml_xgb_train(&o, &e);
    if (rc) fail_msg("%s", e.msg);
    char *text = NULL;
    assert_int_equal(mp_read_file(model, &text, NULL, &e), 0);
    assert_has(text, "\"learner\"", "binary:logistic", NULL);
    free(text);
    assert_int_equal(mp_read_file(hist, &text, NULL, &e), 0);
    assert_has(text, "\"train-logloss\":[", "\"valid-logloss\":[", "\"valid-auc\":[", NULL);
    size_t commas = 0;
    const char *arr = strstr(text, "\"valid-logloss\":[");
    for (const char *c = arr; *c && *c != ']'; c++) commas += *c == ',';
    assert_int_equal(commas, 99); /* 100 rounds */
    free(text);

    ml_metrics m;
    rc = ml_xgb_eval(model, te, &m, &e);
    if (rc) fail_msg("%s", e.msg);
    print_message("test AUC %.4f accuracy %.4f logloss %.4f rows %zu\n", m.auc, m.accuracy, m.logloss, m.rows);
    assert_int_equal(m.rows, 114);
    assert_true(m.auc >= 0.95);
    assert_true(m.accuracy >= 0.9);
    assert_true(m.logloss > 0 && m.logloss < 0.3);

    /* Predictions come in file order: they reproduce eval's accuracy and logloss. */
    float *p = NULL;
    size_t n = 0;
    rc = ml_xgb_predict(model, te, &p, &n, &e);
    if (rc) fail_msg("%s", e.msg);
    ml_table t;
    assert_int_equal(ml_csv_read(te, &t, NULL, &e), 0);
    assert_int_equal(n, t.nrows);
    size_t right = 0;
    double ll = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(p[i] >= 0 && p[i] <= 1);
        right += (p[i] > 0.5) == (t.y[i] == 1);
        double q = fmin(fmax(p[i], 1e-16), 1 - 1e-16);
        ll -= t.y[i] ? log(q) : log(1 - q);
    }
    assert_true(fabs((double)right / (double)n - m.accuracy) < 1e-5);
    assert_true(fabs(ll / (double)n - m.logloss) < 1e-3);
    free(p);

    /* Without the label column the predictions are the same. */
    mp_buf b;
    mp_buf_init(&b);
    for (size_t i = 0; i < t.nrows; i++) {
        for (size_t j = 0; j < t.nfeat; j++) mp_buf_printf(&b, "%s%.17g", j ? "," : "", t.x[i * t.nfeat + j]);
        mp_buf_putc(&b, '\n');
    }
    const char *nolabel = write_tmp("nolabel.csv", b.data);
    mp_buf_free(&b);
    float *p2 = NULL;
    size_t n2 = 0;
    rc = ml_xgb_predict(model, nolabel, &p2, &n2, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(n2, n);
    float *p1 = NULL;
    assert_int_equal(ml_xgb_predict(model, te, &p1, &n, &e), 0);
    for (size_t i = 0; i < n; i++) assert_true(p1[i] == p2[i]);
    free(p1);
    free(p2);
    ml_table_free(&t);

    /* The same training writes UBJSON, which evaluates the same. */
    o.model = model_ubj;
    o.history = NULL;
    o.valid = NULL;
    assert_int_equal(ml_xgb_train(&o, &e), 0);
    ml_metrics m2;
    assert_int_equal(ml_xgb_eval(model_ubj, te, &m2, &e), 0);
    assert_true(fabs(m2.auc - m.auc) < 1e-6);
}

static void test_xgb_errors(void **state) {
    (void)state;
    char model[4200], bad[4200];
    tmp_path("err-model.json", model, sizeof model);
    tmp_path("model.bin", bad, sizeof bad);
    mp_err e = {0};
    ml_train_opts o = {.train = g_data, .model = bad, .rounds = 2, .max_depth = 2, .eta = 0.3, .nthread = 1,
                       .quiet = true};
    assert_int_equal(ml_xgb_train(&o, &e), MP_EINVAL);
    assert_has(e.msg, "must end in .json or .ubj", NULL);

    /* Labels outside 0/1. */
    const char *three = write_tmp("three.csv", "1,2,0\n3,4,1\n5,6,2\n");
    o.model = model;
    o.train = three;
    assert_int_equal(ml_xgb_train(&o, &e), MP_EINVAL);
    assert_has(e.msg, "three.csv:3:", "labels 0 or 1", NULL);

    /* Broken CSV: the reader's message. */
    o.train = write_tmp("broken.csv", "1,2,0\n3,,1\n");
    assert_int_equal(ml_xgb_train(&o, &e), MP_EINVAL);
    assert_has(e.msg, "broken.csv:2:", "missing value", NULL);

    /* Missing model, and a file that is no model: XGBoost's own error. */
    ml_metrics m;
    assert_int_equal(ml_xgb_eval("/nonexistent/model.json", g_data, &m, &e), MP_ENOENT);
    const char *junk = write_tmp("junk.json", "{\"not\": \"a model\"}");
    assert_int_equal(ml_xgb_eval(junk, g_data, &m, &e), MP_EIO);
    assert_has(e.msg, "XGBoost failed to load the model", NULL);

    /* Feature count mismatch in predict. */
    o.train = g_data;
    assert_int_equal(ml_xgb_train(&o, &e), 0);
    float *p = NULL;
    size_t n = 0;
    assert_int_equal(ml_xgb_predict(model, three, &p, &n, &e), MP_EINVAL);
    assert_has(e.msg, "has 3 columns but the model takes 30 features", NULL);
    assert_null(p);
}

/* ---- command lines --------------------------------------------------------------- */

static int run_data(const char *a0, ...) {
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, a0);
    for (const char *s = a0; s && argc < 31; s = va_arg(ap, const char *)) argv[argc++] = (char *)s;
    va_end(ap);
    argv[argc] = NULL;
    return ml_data_main(argc, argv);
}

static int run_xgb(const char *a0, ...) {
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, a0);
    for (const char *s = a0; s && argc < 31; s = va_arg(ap, const char *)) argv[argc++] = (char *)s;
    va_end(ap);
    argv[argc] = NULL;
    return ml_xgb_main(argc, argv);
}

static void test_cli(void **state) {
    (void)state;
    char tr[4200], te[4200], model[4200], metrics[4200], rep[4200], pred[4200];
    tmp_path("c-train.csv", tr, sizeof tr);
    tmp_path("c-test.csv", te, sizeof te);
    tmp_path("c-model.json", model, sizeof model);
    tmp_path("c-metrics.json", metrics, sizeof metrics);
    tmp_path("c-report.json", rep, sizeof rep);
    tmp_path("c-pred.txt", pred, sizeof pred);
    const char *broken = write_tmp("c-broken.csv", "1,2,0\nx,2,1\n");

    assert_int_equal(run_data("check", g_data, "--features", "30", "--report", rep, NULL), 0);
    assert_int_equal(run_data("check", broken, NULL), 1);
    assert_int_equal(run_data("check", broken, "--report", rep, NULL), 1);
    char *text = NULL;
    mp_err e = {0};
    assert_int_equal(mp_read_file(rep, &text, NULL, &e), 0);
    assert_has(text, "\"ok\": false", "c-broken.csv:2: column 1: not a number", NULL);
    free(text);
    assert_int_equal(run_data("check", NULL), 2);
    assert_int_equal(run_data("check", g_data, "--bogus", NULL), 2);
    assert_int_equal(run_data("check", g_data, "--features", "x", NULL), 2);
    assert_int_equal(run_data("check", "--help", NULL), 0);
    assert_int_equal(run_data("split", "--help", NULL), 0);
    assert_int_equal(run_data("nope", NULL), 2);
    assert_int_equal(run_data("split", g_data, "--seed", "1", "--train", tr, NULL), 2);
    assert_int_equal(run_data("split", g_data, "--seed", "-1", "--test-fraction", "0.2", "--train", tr, "--test", te,
                              NULL),
                     2);
    assert_int_equal(run_data("split", g_data, "--test-fraction", "0.2", "--seed", "42", "--train", tr, "--test", te,
                              NULL),
                     0);

    assert_int_equal(run_xgb("train", "--help", NULL), 0);
    assert_int_equal(run_xgb("eval", "--help", NULL), 0);
    assert_int_equal(run_xgb("predict", "-h", NULL), 0);
    assert_int_equal(run_xgb("--help", NULL), 0);
    assert_int_equal(run_xgb("train", "--train", tr, NULL), 2);
    assert_int_equal(run_xgb("train", "--train", tr, "--model", "m.txt", NULL), 2);
    assert_int_equal(run_xgb("train", "--train", tr, "--model", model, "--rounds", "0", NULL), 2);
    assert_int_equal(run_xgb("train", "--train", tr, "--valid", te, "--model", model, "--rounds=20", "--quiet", NULL),
                     0);
    assert_int_equal(run_xgb("eval", "--model", model, "--data", te, "--metrics", metrics, NULL), 0);
    assert_int_equal(mp_read_file(metrics, &text, NULL, &e), 0);
    assert_has(text, "{\"accuracy\":", "\"auc\":", "\"logloss\":", "\"rows\":114}", NULL);
    free(text);
    assert_int_equal(run_xgb("eval", "--model", "/nonexistent.json", "--data", te, NULL), 1);
    assert_int_equal(run_xgb("predict", "--model", model, "--data", te, "--out", pred, NULL), 0);
    assert_int_equal(mp_read_file(pred, &text, NULL, &e), 0);
    size_t lines = 0;
    for (const char *c = text; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 114);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_real_data),
        cmocka_unit_test(test_check_broken),
        cmocka_unit_test(test_check_many_problems),
        cmocka_unit_test(test_check_forms),
        cmocka_unit_test(test_check_long_line),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_rand_fixed),
        cmocka_unit_test(test_xgb_train_eval_predict),
        cmocka_unit_test(test_xgb_errors),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup_all, NULL);
}
