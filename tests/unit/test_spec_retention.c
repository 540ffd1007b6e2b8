/* test_spec_retention.c — kind: RetentionPolicy: durations (spec_duration_parse),
 * every field, the namespace it applies to, and each kind of mistake as a
 * diagnostic at its line:col. */
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
/* A RetentionPolicy header; its spec's fields start on line 5, column 3. */
#define RET API "kind: RetentionPolicy\nmetadata: {name: keep, namespace: team-a}\nspec:\n"

#include "spec_helpers.h"

static void test_durations(void **state) {
    (void)state;
    int64_t ms = 0;
    assert_int_equal(spec_duration_parse("30d", &ms), 0);
    assert_true(ms == 30LL * 86400000);
    assert_int_equal(spec_duration_parse("2w", &ms), 0);
    assert_true(ms == 14LL * 86400000);
    assert_int_equal(spec_duration_parse("12h", &ms), 0);
    assert_true(ms == 12LL * 3600000);
    assert_int_equal(spec_duration_parse("90s", &ms), 0);
    assert_true(ms == 90000);
    assert_int_equal(spec_duration_parse("5m", &ms), 0);
    assert_true(ms == 300000);
    static const char *const bad[] = {"", "d", "30", "30 d", "30days", "-1d", "0d", "1.5d", "1y", "999999d", NULL};
    for (size_t i = 0; bad[i]; i++) assert_int_equal(spec_duration_parse(bad[i], &ms), -1);
}

static void test_fields(void **state) {
    (void)state;
    spec_file *f = load_ok(RET "  experiment: churn\n  runs: 30d\n  logs: 7d\n  artifacts: 90d\n");
    assert_int_equal(f->nobjs, 1);
    assert_int_equal(f->objs[0].kind, SPEC_KIND_RETENTION_POLICY);
    const spec_retention_policy *r = f->objs[0].u.retention;
    assert_string_equal(r->meta.name, "keep");
    assert_string_equal(r->meta.namespace_, "team-a");
    assert_string_equal(r->experiment, "churn");
    assert_true(r->runs_ms == 30LL * 86400000);
    assert_true(r->logs_ms == 7LL * 86400000);
    assert_true(r->artifacts_ms == 90LL * 86400000);
    assert_string_equal(spec_kind_name(f->objs[0].kind), "RetentionPolicy");
    spec_file_free(f);
    f = load_ok(API "kind: RetentionPolicy\nmetadata: {name: all}\nspec: {logs: 1d}\n");
    r = f->objs[0].u.retention;
    assert_string_equal(r->meta.namespace_, "default");
    assert_null(r->experiment);
    assert_true(r->runs_ms == 0 && r->artifacts_ms == 0 && r->logs_ms == 86400000);
    spec_file_free(f);
}

static void test_mistakes(void **state) {
    (void)state;
    EXPECT_ONE(RET "  runs: 30 days\n", 5, 9, "spec.runs", "\"30 days\" is not a duration", "e.g. 30d");
    EXPECT_ONE(RET "  logs: 7\n", 5, 9, "spec.logs", "not a duration");
    EXPECT_ONE(RET "  runs: 1d\n  keep: 2d\n", 6, 3, "keep");
    EXPECT_ONE(RET "  experiment: \"\"\n  runs: 1d\n", 5, 15, "spec.experiment is empty");
    EXPECT_ONE(RET "  experiment: churn\n", 4, 1, "give at least one of spec.runs, spec.logs, spec.artifacts");
}

static void test_example_file(void **state) {
    (void)state;
    char *path = fixture("../../examples/retention/policy.yaml");
    spec_diags d = {0};
    spec_file *f = NULL;
    int rc = spec_load_file(path, &f, &d);
    if (rc != 0) dump(&d);
    assert_int_equal(rc, 0);
    assert_int_equal(f->nobjs, 2);
    assert_null(f->objs[0].u.retention->experiment);
    assert_string_equal(f->objs[1].u.retention->experiment, "breast-cancer-sweep");
    assert_true(f->objs[1].u.retention->artifacts_ms == 0);
    spec_file_free(f);
    spec_diags_free(&d);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_mistakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
