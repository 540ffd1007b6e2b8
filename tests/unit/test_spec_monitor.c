/* test_spec_monitor.c — kind: Monitor: every field with its default, the rules
 * between fields (deployment or data, data needs a reference, promote needs a
 * retrain and a deployment), and each kind of mistake as a diagnostic at its
 * line:col. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spec/spec.h"

#define API "apiVersion: mlplane.dev/v1\n"
/* A Monitor header; its spec's fields start on line 5, column 3. */
#define MON API "kind: Monitor\nmetadata: {name: m}\nspec:\n"
/* The same with a deployment (line 5); further fields start on line 6. */
#define MOND MON "  deployment: web\n"

#include "spec_helpers.h"

static const spec_monitor *only(const spec_file *f) {
    assert_int_equal(f->nobjs, 1);
    assert_int_equal(f->objs[0].kind, SPEC_KIND_MONITOR);
    return f->objs[0].u.monitor;
}

static void test_defaults(void **state) {
    (void)state;
    spec_file *f = load_ok(MOND);
    const spec_monitor *m = only(f);
    assert_string_equal(m->deployment, "web");
    assert_null(m->data);
    assert_null(m->reference);
    assert_int_equal(m->interval_s, 300);
    assert_int_equal(m->window_rows, 1000);
    assert_int_equal(m->window_s, 0);
    assert_int_equal(m->min_rows, 100);
    assert_int_equal(m->ncolumns, 0);
    assert_null(m->stattest);
    assert_true(isnan(m->threshold));
    assert_true(m->drift_share == 0.5);
    assert_int_equal(m->cooldown_s, 3600);
    assert_null(m->retrain_pipeline);
    assert_int_equal(m->promote, SPEC_PROMOTE_NONE);
    assert_int_equal(m->canary_percent, 10);
    assert_int_equal(m->promote_after, 100);
    assert_null(m->webhook_url);
    spec_file_free(f);
}

static void test_every_field(void **state) {
    (void)state;
    spec_file *f = load_ok(MOND "  reference: {path: train.csv}\n"
                                "  schedule: {intervalSeconds: 60}\n"
                                "  window: {seconds: 3600}\n"
                                "  minRows: 50\n"
                                "  columns: [f0, f3]\n"
                                "  stattest: psi\n"
                                "  stattests: {f3: ks}\n"
                                "  threshold: 0.2\n"
                                "  thresholds: {f3: 0.01}\n"
                                "  driftShare: 0.3\n"
                                "  actions:\n"
                                "    cooldownSeconds: 600\n"
                                "    retrain: {pipeline: bc, params: {rounds: \"200\"}}\n"
                                "    promote: auto\n"
                                "    canaryPercent: 20\n"
                                "    promoteAfterRequests: 50\n"
                                "    webhook: {url: \"http://127.0.0.1:9/alert\"}\n");
    const spec_monitor *m = only(f);
    assert_string_equal(m->reference, "train.csv");
    assert_int_equal(m->interval_s, 60);
    assert_int_equal(m->window_rows, 0);
    assert_int_equal(m->window_s, 3600);
    assert_int_equal(m->min_rows, 50);
    assert_int_equal(m->ncolumns, 2);
    assert_string_equal(m->columns[1], "f3");
    assert_string_equal(m->stattest, "psi");
    assert_int_equal(m->nstattests, 1);
    assert_string_equal(m->stattests[0].key, "f3");
    assert_string_equal(m->stattests[0].value, "ks");
    assert_true(m->threshold == 0.2);
    assert_int_equal(m->nthresholds, 1);
    assert_true(m->thresholds[0].value == 0.01);
    assert_true(m->drift_share == 0.3);
    assert_int_equal(m->cooldown_s, 600);
    assert_string_equal(m->retrain_pipeline, "bc");
    assert_int_equal(m->nretrain_params, 1);
    assert_string_equal(m->retrain_params[0].value, "200");
    assert_int_equal(m->promote, SPEC_PROMOTE_AUTO);
    assert_int_equal(m->canary_percent, 20);
    assert_int_equal(m->promote_after, 50);
    assert_string_equal(m->webhook_url, "http://127.0.0.1:9/alert");
    spec_file_free(f);

    f = load_ok(MON "  data: {path: today.csv}\n  reference: {path: ref.csv}\n");
    assert_string_equal(only(f)->data, "today.csv");
    spec_file_free(f);
}

static void test_rules(void **state) {
    (void)state;
    EXPECT_ONE(MON "  minRows: 5\n", 5, 3, "missing spec.deployment", "spec.data.path");
    EXPECT_ONE(MOND "  data: {path: x.csv}\n  reference: {path: r.csv}\n", 5, 3, "both deployment and data");
    EXPECT_ONE(MON "  data: {path: x.csv}\n", 5, 3, "spec.data needs spec.reference.path");
    EXPECT_ONE(MOND "  actions: {promote: canary}\n", 6, 22, "promote canary needs spec.actions.retrain");
    EXPECT_ONE(MON "  data: {path: x.csv}\n  reference: {path: r.csv}\n  actions:\n    retrain: {pipeline: p}\n"
                   "    promote: auto\n",
               9, 14, "promote auto needs spec.deployment");
    EXPECT_ONE(MOND "  window: {rows: 10, seconds: 5}\n", 6, 31, "both rows and seconds");
}

static void test_mistakes(void **state) {
    (void)state;
    EXPECT_ONE(MOND "  stattest: anderson\n", 6, 13, "spec.stattest", "ks");
    EXPECT_ONE(MOND "  stattests: {f1: tvd}\n", 6, 19, "spec.stattests.f1", "not a drift test");
    EXPECT_ONE(MOND "  schedule: {intervalSeconds: 0}\n", 6, 31, "spec.schedule.intervalSeconds");
    EXPECT_ONE(MOND "  driftShare: 0\n", 6, 15, "spec.driftShare must be above 0");
    EXPECT_ONE(MOND "  columns: [a, a]\n", 6, 16, "spec.columns[1]", "named twice");
    EXPECT_ONE(MOND "  columns: []\n", 6, 3, "spec.columns is empty");
    EXPECT_ONE(MOND "  actions: {webhook: {url: ftp://x}}\n", 6, 28, "not an http:// or https:// URL");
    EXPECT_ONE(MOND "  actions: {retrain: {params: {a: b}}}\n", 6, 23, "spec.actions.retrain.pipeline");
    EXPECT_ONE(MOND "  actions: {canaryPercent: 0}\n", 6, 28, "spec.actions.canaryPercent");
    spec_diags d = load_bad(MOND "  reference: {file: x}\n");
    expect_diag(&d, 6, 15, "unknown field \"file\" in spec.reference", NULL);
    expect_diag(&d, 6, 15, "missing required field \"spec.reference.path\"", NULL);
    spec_diags_free(&d);
    EXPECT_ONE(MOND "  window: {rows: 0}\n", 6, 18, "spec.window.rows");
}

/* examples/drift/monitor.yaml as documented */
static void test_example_file(void **state) {
    (void)state;
    char *path = fixture("../../examples/drift/monitor.yaml");
    spec_diags d = {0};
    spec_file *f = NULL;
    int rc = spec_load_file(path, &f, &d);
    if (rc != 0) dump(&d);
    assert_int_equal(rc, 0);
    assert_int_equal(f->nobjs, 2);
    assert_int_equal(f->objs[1].kind, SPEC_KIND_MONITOR);
    const spec_monitor *m = f->objs[1].u.monitor;
    assert_string_equal(m->deployment, "bc");
    assert_string_equal(m->retrain_pipeline, "drift-train");
    assert_int_equal(m->promote, SPEC_PROMOTE_AUTO);
    assert_int_equal(m->canary_percent, 50);
    assert_int_equal(m->promote_after, 20);
    spec_file_free(f);
    spec_diags_free(&d);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_field),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_mistakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
