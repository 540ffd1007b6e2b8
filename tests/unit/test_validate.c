/* test_validate.c — data validation (src/monitor/validate.c) of real CSV files
 * against expectations decoded from YAML (src/spec/expect.c): each expectation
 * holding and broken, with the observed value, the count and the example rows
 * (row, line, value as written); missing values left out but for the null
 * fraction; bad expectations refused with FILE:LINE:COL; a malformed CSV named
 * with its row and line. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/monitor.h"
#include "unit_helpers.h"

static char *dir;

/* A CSV of 6 rows; line 4 is a quoted field over two lines, so row 3 starts on
 * line 4 and row 4 on line 6. */
static const char CSV[] = "id,age,state,score,flag,note\n"
                          "1,34,CA,0.5,true,a\n"
                          "2,-3,NY,,false,b\n"
                          "3,130,ZZ,0.7,True,\"two\nlines\"\n"
                          "3,45,tx,NA,maybe,d\n"
                          "5,12.5,TX,0.1,FALSE,e\n"
                          "6.0,40,CA,0.2,true,f\n";

static char *write_file(const char *name, const char *text) {
    char *path = mp_xasprintf("%s/%s", dir, name);
    assert_int_equal(mp_write_file_atomic(path, text, strlen(text), NULL), 0);
    return path;
}

static spec_expectations *expect(const char *yaml) {
    spec_diags d = {0};
    spec_expectations *x = NULL;
    if (spec_expectations_load_string("x.yaml", yaml, strlen(yaml), &x, &d) != 0) {
        mp_buf b;
        mp_buf_init(&b);
        spec_diags_format(&d, &b);
        fail_msg("expectations refused: %s", b.data);
    }
    return x;
}

/* Validates CSV against yaml into r. */
static void check(const char *yaml, monitor_report *r) {
    char *path = write_file("d.csv", CSV);
    spec_expectations *x = expect(yaml);
    mp_err e = {0};
    assert_int_equal(monitor_validate_file(path, x, r, &e), 0);
    spec_expectations_free(x);
    free(path);
}

/* The one failure of r (asserting there is exactly one, of expectation). */
static const monitor_failure *only(const monitor_report *r, const char *expectation) {
    if (r->n != 1) fail_msg("%zu failures, expected 1 (%s)", r->n, r->n ? r->v[0].expectation : "none");
    assert_string_equal(r->v[0].expectation, expectation);
    return &r->v[0];
}

static void assert_example(const monitor_failure *f, size_t k, long row, long line, const char *value) {
    assert_true(k < f->nexamples);
    assert_int_equal(f->examples[k].row, row);
    assert_int_equal(f->examples[k].line, line);
    if (value) assert_string_equal(f->examples[k].value, value);
    else assert_true(f->examples[k].missing);
}

static void test_rows(void **state) {
    (void)state;
    monitor_report r;
    check("rows: {min: 1, max: 6}", &r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.checked, 1);
    assert_int_equal(r.rows, 6);
    monitor_report_free(&r);
    check("rows: {min: 100}", &r);
    const monitor_failure *f = only(&r, "expect_table_row_count_to_be_between");
    assert_null(f->column);
    assert_string_equal(f->expected, "rows in [100, ...]");
    assert_string_equal(f->observed, "6 rows, fewer than 100");
    monitor_report_free(&r);
    check("rows: {max: 5}", &r);
    assert_string_equal(only(&r, "expect_table_row_count_to_be_between")->observed, "6 rows, more than 5");
    monitor_report_free(&r);
}

static void test_exists(void **state) {
    (void)state;
    monitor_report r;
    check("columns: {id: {}, zip: {required: false}}", &r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.checked, 1); /* zip is not required: nothing is checked of it */
    monitor_report_free(&r);
    check("columns: {zip: {}}", &r);
    const monitor_failure *f = only(&r, "expect_column_to_exist");
    assert_string_equal(f->column, "zip");
    assert_non_null(strstr(f->observed, "absent; the columns are id, age, state, score, flag, note"));
    monitor_report_free(&r);
}

static void test_types(void **state) {
    (void)state;
    monitor_report r;
    check("columns: {id: {type: number}, score: {type: number}, state: {type: string}, age: {type: number}}", &r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.checked, 8);
    monitor_report_free(&r);
    check("columns: {id: {type: integer}}", &r); /* 6.0 is whole */
    assert_int_equal(r.n, 0);
    monitor_report_free(&r);
    check("columns: {age: {type: integer}}", &r);
    const monitor_failure *f = only(&r, "expect_column_values_to_be_of_type");
    assert_string_equal(f->expected, "type integer");
    assert_string_equal(f->observed, "1 value is not an integer");
    assert_int_equal(f->count, 1);
    assert_example(f, 0, 5, 7, "12.5");
    monitor_report_free(&r);
    check("columns: {state: {type: number}}", &r);
    f = only(&r, "expect_column_values_to_be_of_type");
    assert_int_equal(f->count, 6);
    assert_int_equal(f->nexamples, MONITOR_EXAMPLES); /* 6 rows break it, 5 are shown */
    assert_example(f, 2, 3, 4, "ZZ");
    monitor_report_free(&r);
    check("columns: {flag: {type: boolean}}", &r);
    f = only(&r, "expect_column_values_to_be_of_type");
    assert_string_equal(f->observed, "1 value is not a boolean");
    assert_example(f, 0, 4, 6, "maybe");
    monitor_report_free(&r);
}

static void test_nulls(void **state) {
    (void)state;
    monitor_report r;
    check("columns: {score: {maxNullFraction: 0.34}}", &r); /* 2 of 6 */
    assert_int_equal(r.n, 0);
    monitor_report_free(&r);
    check("columns: {score: {maxNullFraction: 0.01}}", &r);
    const monitor_failure *f = only(&r, "expect_column_values_to_not_be_null");
    assert_string_equal(f->observed, "null fraction 0.3333 > 0.01 (2 of 6 rows)");
    assert_string_equal(f->expected, "null fraction at most 0.01 (mostly 0.99)");
    assert_int_equal(f->count, 2);
    assert_example(f, 0, 2, 3, NULL); /* "" */
    assert_example(f, 1, 4, 6, NULL); /* "NA" */
    monitor_report_free(&r);
}

static void test_between(void **state) {
    (void)state;
    monitor_report r;
    check("columns: {age: {min: -3, max: 130}, score: {min: 0, max: 1}}", &r); /* missing scores left out */
    assert_int_equal(r.n, 0);
    monitor_report_free(&r);
    check("columns: {age: {min: 0, max: 120}}", &r);
    const monitor_failure *f = only(&r, "expect_column_values_to_be_between");
    assert_string_equal(f->expected, "in [0, 120]");
    assert_string_equal(f->observed, "min -3 < 0, max 130 > 120; 2 rows outside");
    assert_example(f, 0, 2, 3, "-3");
    assert_example(f, 1, 3, 4, "130");
    monitor_report_free(&r);
    check("columns: {state: {min: 0}}", &r); /* text is outside any range */
    f = only(&r, "expect_column_values_to_be_between");
    assert_string_equal(f->observed, "6 rows outside (6 not a number)");
    monitor_report_free(&r);
}

static void test_in_set(void **state) {
    (void)state;
    monitor_report r;
    check("columns: {state: {in: [CA, NY, TX, ZZ, tx]}, id: {in: [1, 2, 3, 5, 6]}}", &r); /* 6.0 is 6 */
    assert_int_equal(r.n, 0);
    monitor_report_free(&r);
    check("columns: {state: {in: [CA, NY, TX]}}", &r);
    const monitor_failure *f = only(&r, "expect_column_values_to_be_in_set");
    assert_string_equal(f->expected, "in [CA, NY, TX]");
    assert_string_equal(f->observed, "2 values not in the set");
    assert_example(f, 0, 3, 4, "ZZ");
    assert_example(f, 1, 4, 6, "tx");
    monitor_report_free(&r);
}

static void test_unique(void **state) {
    (void)state;
    monitor_report r;
    check("columns: {age: {unique: true}, note: {unique: true}, score: {unique: true}}", &r); /* missing: no dups */
    assert_int_equal(r.n, 0);
    monitor_report_free(&r);
    check("columns: {id: {unique: true}}", &r);
    const monitor_failure *f = only(&r, "expect_column_values_to_be_unique");
    assert_int_equal(f->count, 1);
    assert_string_equal(f->observed, "1 duplicate (a value of an earlier row)");
    assert_example(f, 0, 4, 6, "3");
    monitor_report_free(&r);
    check("columns: {state: {unique: true}}", &r);
    f = only(&r, "expect_column_values_to_be_unique");
    assert_int_equal(f->count, 1);
    assert_example(f, 0, 6, 8, "CA");
    monitor_report_free(&r);
}

static void test_regex(void **state) {
    (void)state;
    monitor_report r;
    check("columns: {state: {regex: \"^[A-Za-z]{2}$\"}, note: {regex: \"[a-z]\"}}", &r);
    assert_int_equal(r.n, 0);
    monitor_report_free(&r);
    check("columns: {state: {regex: \"^[A-Z]{2}$\"}}", &r);
    const monitor_failure *f = only(&r, "expect_column_values_to_match_regex");
    assert_string_equal(f->expected, "match /^[A-Z]{2}$/");
    assert_string_equal(f->observed, "1 value does not match");
    assert_example(f, 0, 4, 6, "tx");
    monitor_report_free(&r);
}

static void test_report(void **state) {
    (void)state;
    monitor_report r;
    check("rows: {min: 10}\ncolumns: {age: {min: 0}, score: {maxNullFraction: 0}}", &r);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.checked, 5);
    json_t *j = monitor_report_json(&r);
    assert_false(json_is_true(json_object_get(j, "passed")));
    json_t *f1 = json_array_get(json_object_get(j, "failures"), 1);
    assert_string_equal(json_string_value(json_object_get(f1, "column")), "age");
    json_t *ex = json_array_get(json_object_get(f1, "examples"), 0);
    assert_int_equal(json_integer_value(json_object_get(ex, "row")), 2);
    assert_int_equal(json_integer_value(json_object_get(ex, "line")), 3);
    assert_string_equal(json_string_value(json_object_get(ex, "value")), "-3");
    json_t *f2 = json_array_get(json_object_get(j, "failures"), 2);
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(f2, "examples"), 0), "value")));
    json_decref(j);
    mp_buf b;
    mp_buf_init(&b);
    monitor_report_text(&r, 2, &b);
    assert_non_null(strstr(b.data, ": 3 of 5 expectations broken (6 rows)\n"));
    assert_non_null(strstr(b.data, "  column \"age\": expect_column_values_to_be_between: expected in [0, inf], "
                                   "observed min -3 < 0, max 130; 1 row outside\n    row 2 (line 3): -3\n"));
    assert_non_null(strstr(b.data, "  ... and 1 more\n"));
    mp_buf_free(&b);
    monitor_report_free(&r);
}

/* Expectations refused, each with its line and column. */
static void test_bad_expectations(void **state) {
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"columns:\n  a: {regex: \"([a-z\"}\n", "x.yaml:2:14: field \"expectations.columns.a.regex\": \"([a-z\" is not a POSIX extended regular expression"},
        {"columns:\n  a: {type: float}\n", "x.yaml:2:13: field \"expectations.columns.a.type\" must be one of number, integer, string, boolean"},
        {"columns:\n  a: {maxNullFraction: 1.5}\n", "x.yaml:2:24: field \"expectations.columns.a.maxNullFraction\" must be a number from 0 to 1"},
        {"columns:\n  a: {mn: 1}\n", "x.yaml:2:7: unknown field \"mn\" in expectations.columns.a (did you mean \"min\"?)"},
        {"rows: {min: 5, max: 1}\n", "x.yaml:1:8: expectations.rows: min 5 is greater than max 1"},
        {"rows: {min: -1}\n", "x.yaml:1:13: field \"expectations.rows.min\" must be at least 0"},
        {"columns:\n  a: {in: []}\n", "x.yaml:2:7: field \"expectations.columns.a.in\" must not be empty"},
        {"columns: [a\n", "x.yaml:2:1: YAML syntax error"},
        {"colums: {}\n", "x.yaml:1:1: unknown field \"colums\" in expectations (did you mean \"columns\"?)"},
        {"expect: other.yaml\n", "unknown field \"expect\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        spec_diags d = {0};
        spec_expectations *x = NULL;
        assert_int_equal(spec_expectations_load_string("x.yaml", cases[i].yaml, strlen(cases[i].yaml), &x, &d),
                         MP_EINVAL);
        assert_null(x);
        mp_buf b;
        mp_buf_init(&b);
        spec_diags_format(&d, &b);
        if (!strstr(b.data, cases[i].want)) fail_msg("case %zu: \"%s\" not in: %s", i, cases[i].want, b.data);
        mp_buf_free(&b);
        spec_diags_free(&d);
    }
    spec_diags d = {0};
    spec_expectations *x = NULL;
    char *missing = mp_xasprintf("%s/none.yaml", dir);
    assert_int_equal(spec_expectations_load_file(missing, &x, &d), MP_EINVAL);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.v[0].msg, "cannot read"));
    spec_diags_free(&d);
    free(missing);
}

/* A malformed CSV is an error naming the file, the row and the line; nothing is reported. */
static void test_bad_csv(void **state) {
    (void)state;
    char *path = write_file("bad.csv", "a,b\n1,2\n3\n");
    spec_expectations *x = expect("columns: {a: {}}");
    monitor_report r;
    mp_err e = {0};
    assert_int_equal(monitor_validate_file(path, x, &r, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "bad.csv: row 2 (line 3): 1 field, the first line names 2 columns"));
    assert_int_equal(r.n, 0);
    assert_null(r.v);
    spec_expectations_free(x);
    free(path);
}

static int setup(void **state) {
    (void)state;
    dir = ut_scratch_dir("validate");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    mp_rm_rf(dir, NULL);
    free(dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),        cmocka_unit_test(test_exists),   cmocka_unit_test(test_types),
        cmocka_unit_test(test_nulls),       cmocka_unit_test(test_between),  cmocka_unit_test(test_in_set),
        cmocka_unit_test(test_unique),      cmocka_unit_test(test_regex),    cmocka_unit_test(test_report),
        cmocka_unit_test(test_bad_expectations), cmocka_unit_test(test_bad_csv),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
