/* test_sweep.c — hyperparameter sweeps: the spec's rules (swept names are pipeline
 * params, at most SPEC_SWEEP_MAX_TRIALS trials, ranges, earlyStopping and its
 * defaults), each mistake as a diagnostic at its line:col; then the scheduler's
 * pure parts: trial names, grid order, reproducible random draws, and the median
 * stopping rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine_int.h"
#include "spec/spec.h"

#define API "apiVersion: mlplane.dev/v1\n"
/* A pipeline with params lr, depth and seed; its first step's sweep is on line 10. */
#define HDR                                                                                                            \
    API "kind: Pipeline\nmetadata:\n  name: p\nspec:\n  params: {lr: 0.1, depth: 4, seed: 1}\n  steps:\n"            \
        "    - name: train\n      script: x\n"

#include "spec_helpers.h"

static const spec_sweep *sweep_of(const spec_file *f) { return spec_file_pipeline(f)->steps[0].sweep; }

/* ---- the spec -------------------------------------------------------------------------- */

static void test_ranges_and_defaults(void **state) {
    (void)state;
    spec_file *f = load_ok(HDR "      sweep:\n"
                               "        random:\n"
                               "          count: 5\n"
                               "          params:\n"
                               "            lr: {min: 0.001, max: 0.3, scale: log}\n"
                               "            depth: {min: 2, max: 8}\n"
                               "        objective: {metric: valid_auc, goal: maximize}\n"
                               "        earlyStopping: {}\n");
    const spec_sweep *sw = sweep_of(f);
    assert_int_equal(sw->kind, SPEC_SWEEP_RANDOM);
    assert_false(sw->has_seed);
    assert_int_equal(sw->seed, 0);
    assert_true(sw->params[0].is_range && sw->params[0].log && !sw->params[0].integer);
    assert_true(sw->params[1].is_range && !sw->params[1].log && sw->params[1].integer);
    assert_int_equal(spec_sweep_trials(sw), 5);
    const spec_early_stopping *es = sw->early_stopping;
    assert_non_null(es);
    assert_string_equal(es->metric, "valid_auc"); /* the objective's */
    assert_int_equal(es->goal, SPEC_GOAL_MAXIMIZE);
    assert_int_equal(es->min_trials, 3);
    assert_int_equal(es->start_step, 4);
    spec_file_free(f);

    f = load_ok(HDR "      sweep:\n"
                    "        grid: {lr: [0.1, 0.2, 0.3], depth: [2, 4]}\n"
                    "        earlyStopping: {metric: valid_logloss, goal: minimize, minTrials: 2, startStep: 5}\n");
    sw = sweep_of(f);
    assert_int_equal(spec_sweep_trials(sw), 6);
    assert_null(sw->metric);
    assert_string_equal(sw->early_stopping->metric, "valid_logloss");
    assert_int_equal(sw->early_stopping->goal, SPEC_GOAL_MINIMIZE);
    assert_int_equal(sw->early_stopping->min_trials, 2);
    assert_int_equal(sw->early_stopping->start_step, 5);
    spec_file_free(f);
}

static void test_swept_names_are_pipeline_params(void **state) {
    (void)state;
    EXPECT_ONE(HDR "      sweep: {grid: {lrr: [0.1], depth: [2]}}\n", 10, 22,
               "sweep of step \"train\" varies \"lrr\", which is not a param of the pipeline", "did you mean \"lr\"?");
    EXPECT_ONE(HDR "      sweep: {random: {count: 2, params: {momentum: {min: 0, max: 1}}}}\n", 10, 43,
               "varies \"momentum\"", "known params: lr, depth, seed");
}

static void test_trial_cap(void **state) {
    (void)state;
    mp_buf y;
    mp_buf_init(&y);
    mp_buf_puts(&y, HDR "      sweep:\n        grid:\n          lr: [");
    for (int i = 0; i < 101; i++) mp_buf_printf(&y, "%s%d", i ? ", " : "", i);
    mp_buf_puts(&y, "]\n          depth: [");
    for (int i = 0; i < 100; i++) mp_buf_printf(&y, "%s%d", i ? ", " : "", i);
    mp_buf_puts(&y, "]\n");
    EXPECT_ONE(y.data, 11, 9, "sweep of step \"train\" has 10100 trials (grid of lr (101) x depth (100))",
               "at most 10000", "use random with a count");
    mp_buf_free(&y);
    EXPECT_ONE(HDR "      sweep: {random: {count: 10001, params: {lr: [1]}}}\n", 10, 31,
               "sweep.random.count", "at most 10000");
}

static void test_range_and_early_stopping_mistakes(void **state) {
    (void)state;
    EXPECT_ONE(HDR "      sweep: {random: {count: 2, params: {lr: {min: 0, max: 1, scale: log}}}}\n", 10, 48,
               "scale log and min 0", "above 0");
    EXPECT_ONE(HDR "      sweep: {random: {count: 2, params: {lr: {min: 1, max: 2, scale: ln}}}}\n", 10, 71,
               "scale", "linear, log");
    EXPECT_ONE(HDR "      sweep: {grid: {lr: [1]}, earlyStopping: {minTrials: 2}}\n", 10, 48,
               "earlyStopping of step \"train\" needs a metric");
    EXPECT_ONE(HDR "      sweep: {grid: {lr: [1]}, objective: {metric: auc, goal: maximize},\n"
                   "              earlyStopping: {metric: loss}}\n",
               11, 31, "needs a goal", "\"loss\"");
    EXPECT_ONE(HDR "      sweep: {grid: {lr: [1]}, earlyStopping: {metric: m, goal: minimize, startStep: 0}}\n", 10,
               86, "earlyStopping.startStep", "at least 1");
    EXPECT_ONE(HDR "      sweep: {grid: {lr: [1]}, earlyStoping: {}}\n", 10, 32, "unknown field \"earlyStoping\"",
               "did you mean \"earlyStopping\"");
}

/* ---- trials ------------------------------------------------------------------------------ */

static void test_trial_names_and_grid_order(void **state) {
    (void)state;
    char *name = engine__trial_name("train", 12);
    assert_string_equal(name, "train[12]");
    free(name);
    spec_file *f = load_ok(HDR "      sweep: {grid: {lr: [0.1, 0.3], depth: [2, 4, 6]}}\n");
    char **v = NULL;
    size_t n = spec_sweep_expand(sweep_of(f), &v);
    assert_int_equal(n, 6);
    const char *want[] = {"{\"lr\":\"0.1\",\"depth\":\"2\"}", "{\"lr\":\"0.1\",\"depth\":\"4\"}",
                          "{\"lr\":\"0.1\",\"depth\":\"6\"}", "{\"lr\":\"0.3\",\"depth\":\"2\"}",
                          "{\"lr\":\"0.3\",\"depth\":\"4\"}", "{\"lr\":\"0.3\",\"depth\":\"6\"}"};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i], want[i]);
        free(v[i]);
    }
    free(v);
    spec_file_free(f);
}

/* Expands a random sweep with the given seed line ("" for none). */
static size_t expand_random(const char *seed, char ***v) {
    char *y = mp_xasprintf(HDR "      sweep:\n        random:\n          count: 50\n%s"
                               "          params:\n"
                               "            lr: {min: 0.001, max: 0.3, scale: log}\n"
                               "            depth: {min: 2, max: 8}\n"
                               "            seed: [a, b, c]\n",
                           seed);
    spec_file *f = load_ok(y);
    size_t n = spec_sweep_expand(sweep_of(f), v);
    spec_file_free(f);
    free(y);
    return n;
}

static void free_strs(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void test_random_is_reproducible_and_in_range(void **state) {
    (void)state;
    char **a, **b, **c, **d;
    size_t na = expand_random("          seed: 7\n", &a), nb = expand_random("          seed: 7\n", &b);
    size_t nc = expand_random("          seed: 8\n", &c), nd = expand_random("", &d);
    assert_int_equal(na, 50);
    assert_int_equal(nb, 50);
    assert_int_equal(nc, 50);
    assert_int_equal(nd, 50);
    size_t same_as_other_seed = 0;
    bool depths[9] = {0};
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i], b[i]);
        same_as_other_seed += strcmp(a[i], c[i]) == 0;
        json_error_t je;
        json_t *o = json_loads(a[i], 0, &je);
        assert_non_null(o);
        double lr = atof(json_string_value(json_object_get(o, "lr")));
        assert_true(lr >= 0.001 && lr < 0.3);
        const char *depth = json_string_value(json_object_get(o, "depth"));
        assert_int_equal(strlen(depth), 1); /* a whole number */
        assert_true(depth[0] >= '2' && depth[0] <= '8');
        depths[depth[0] - '0'] = true;
        const char *s = json_string_value(json_object_get(o, "seed"));
        assert_true(strcmp(s, "a") == 0 || strcmp(s, "b") == 0 || strcmp(s, "c") == 0);
        json_decref(o);
    }
    assert_true(same_as_other_seed < 5);
    for (int k = 2; k <= 8; k++) assert_true(depths[k]); /* max included */
    /* No seed: seed 0, the same every time. */
    char **e;
    size_t ne = expand_random("          seed: 0\n", &e);
    for (size_t i = 0; i < nd; i++) assert_string_equal(d[i], e[i]);
    free_strs(a, na);
    free_strs(b, nb);
    free_strs(c, nc);
    free_strs(d, nd);
    free_strs(e, ne);
}

/* ---- the median stopping rule ----------------------------------------------------------------- */

static void test_median_stopping_rule(void **state) {
    (void)state;
    spec_early_stopping es = {.metric = "loss", .goal = SPEC_GOAL_MINIMIZE, .min_trials = 3, .start_step = 3};
    const double p1[] = {1.0, 0.8, 0.6, 0.5, 0.4}, p2[] = {0.9, 0.7, 0.5, 0.4}, p3[] = {1.1, 0.9, 0.7};
    const double *peers[] = {p1, p2, p3};
    size_t npeer[] = {5, 4, 3};
    char why[400] = "";
    /* Medians of the peers' running averages: step 3: 0.8, 0.7, 0.9 -> 0.8. */
    const double bad[] = {2.0, 1.9, 1.8, 1.7};
    assert_true(engine__median_stop(&es, bad, 4, peers, npeer, 3, why, sizeof why));
    assert_non_null(strstr(why, "loss: best 1.8 by step 3 is worse than 0.8"));
    assert_non_null(strstr(why, "median of 3 other trials"));
    /* Good enough: best 0.75 by step 3 beats the median 0.8. */
    const double good[] = {1.5, 1.0, 0.75, 0.9};
    assert_false(engine__median_stop(&es, good, 4, peers, npeer, 3, why, sizeof why));
    /* Before startStep nothing is judged. */
    assert_false(engine__median_stop(&es, bad, 2, peers, npeer, 3, why, sizeof why));
    /* Too few peers have reached step 3. */
    size_t short_peers[] = {5, 2, 2};
    assert_false(engine__median_stop(&es, bad, 4, peers, short_peers, 3, why, sizeof why));
    es.min_trials = 1; /* then step 3 is judged against p1 alone: 0.8 */
    assert_true(engine__median_stop(&es, bad, 4, peers, short_peers, 3, why, sizeof why));
    /* Maximize: strictly worse means lower; an equal value is kept. */
    es = (spec_early_stopping){.metric = "auc", .goal = SPEC_GOAL_MAXIMIZE, .min_trials = 2, .start_step = 1};
    const double q1[] = {0.9}, q2[] = {0.7};
    const double *qp[] = {q1, q2};
    size_t nq[] = {1, 1};
    const double low[] = {0.79}, even[] = {0.8};
    assert_true(engine__median_stop(&es, low, 1, qp, nq, 2, why, sizeof why));
    assert_false(engine__median_stop(&es, even, 1, qp, nq, 2, why, sizeof why));
}

int main(void) {
    (void)fixture; /* a helper the spec tests share, unused here */
    mp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges_and_defaults),
        cmocka_unit_test(test_swept_names_are_pipeline_params),
        cmocka_unit_test(test_trial_cap),
        cmocka_unit_test(test_range_and_early_stopping_mistakes),
        cmocka_unit_test(test_trial_names_and_grid_order),
        cmocka_unit_test(test_random_is_reproducible_and_in_range),
        cmocka_unit_test(test_median_stopping_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
