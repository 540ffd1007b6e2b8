/* test_track_filter.c — unit tests of MLflow's search filter and order_by parser
 * (src/track/filter.c): valid filters and the AST they give, invalid ones with the
 * position and expectation in the message. Single-threaded, no files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "track/track.h"

static store_track_filter parse_ok(const char *s, track_filter_target t) {
    store_track_filter f;
    mp_err e = {0};
    int rc = track_filter_parse(s, t, &f, &e);
    if (rc != 0) fail_msg("parse \"%s\": %s", s, e.msg);
    return f;
}

static void parse_bad(const char *s, track_filter_target t, const char *want) {
    store_track_filter f;
    mp_err e = {0};
    int rc = track_filter_parse(s, t, &f, &e);
    if (rc == 0) fail_msg("\"%s\" parsed but should not", s);
    assert_int_equal(rc, MP_EINVAL);
    assert_int_equal(f.n, 0);
    if (!strstr(e.msg, want)) fail_msg("\"%s\": message \"%s\" lacks \"%s\"", s, e.msg, want);
}

static void test_empty(void **state) {
    (void)state;
    store_track_filter f = parse_ok("", TRACK_FILTER_RUNS);
    assert_int_equal(f.n, 0);
    f = parse_ok("   ", TRACK_FILTER_RUNS);
    assert_int_equal(f.n, 0);
    f = parse_ok(NULL, TRACK_FILTER_RUNS);
    assert_int_equal(f.n, 0);
}

static void test_metrics(void **state) {
    (void)state;
    store_track_filter f = parse_ok("metrics.rmse < 1 and metric.acc >= 0.5 AND metrics.`my key` != -2e3",
                                    TRACK_FILTER_RUNS);
    assert_int_equal(f.n, 3);
    assert_int_equal(f.conds[0].entity, STORE_TRACK_METRIC);
    assert_string_equal(f.conds[0].key, "rmse");
    assert_int_equal(f.conds[0].op, STORE_OP_LT);
    assert_true(f.conds[0].is_num);
    assert_true(f.conds[0].num == 1.0);
    assert_int_equal(f.conds[1].op, STORE_OP_GE);
    assert_true(f.conds[1].num == 0.5);
    assert_string_equal(f.conds[2].key, "my key");
    assert_int_equal(f.conds[2].op, STORE_OP_NE);
    assert_true(f.conds[2].num == -2000.0);
    store_track_filter_free(&f);

    f = parse_ok("metrics.\"model class\"=3", TRACK_FILTER_RUNS);
    assert_string_equal(f.conds[0].key, "model class");
    assert_int_equal(f.conds[0].op, STORE_OP_EQ);
    store_track_filter_free(&f);

    f = parse_ok("metrics.a/b.c > .5 AND metrics.x <> 2 AND metrics.y <= 3 AND metrics.z > 4", TRACK_FILTER_RUNS);
    assert_int_equal(f.n, 4);
    assert_string_equal(f.conds[0].key, "a/b.c");
    assert_int_equal(f.conds[1].op, STORE_OP_NE);
    assert_int_equal(f.conds[2].op, STORE_OP_LE);
    assert_int_equal(f.conds[3].op, STORE_OP_GT);
    store_track_filter_free(&f);
}

static void test_params_tags(void **state) {
    (void)state;
    store_track_filter f = parse_ok("params.model = 'lin''ear' AND tags.\"user-name\" LIKE \"To%\" AND "
                                    "parameters.`a b` ILIKE '%X' AND tag.t != 'v' AND param.p IN ('a', \"b\") AND "
                                    "tags.k NOT IN ('x')",
                                    TRACK_FILTER_RUNS);
    assert_int_equal(f.n, 6);
    assert_int_equal(f.conds[0].entity, STORE_TRACK_PARAM);
    assert_string_equal(f.conds[0].str, "lin'ear");
    assert_int_equal(f.conds[1].entity, STORE_TRACK_TAG);
    assert_string_equal(f.conds[1].key, "user-name");
    assert_int_equal(f.conds[1].op, STORE_OP_LIKE);
    assert_string_equal(f.conds[1].str, "To%");
    assert_int_equal(f.conds[2].op, STORE_OP_ILIKE);
    assert_string_equal(f.conds[2].key, "a b");
    assert_int_equal(f.conds[3].op, STORE_OP_NE);
    assert_int_equal(f.conds[4].op, STORE_OP_IN);
    assert_int_equal(f.conds[4].nlist, 2);
    assert_string_equal(f.conds[4].list[1], "b");
    assert_int_equal(f.conds[5].op, STORE_OP_NOT_IN);
    assert_int_equal(f.conds[5].nlist, 1);
    store_track_filter_free(&f);
}

static void test_attributes(void **state) {
    (void)state;
    store_track_filter f = parse_ok("attributes.status = 'FINISHED' and run_name = 'x' and attribute.start_time > 10 "
                                    "and attributes.run_id IN ('a','b') and created < 5 and Created >= 1 and "
                                    "attr.end_time <= 3 and run.user_id = 'u' and attributes.artifact_uri LIKE 's3%' "
                                    "and attributes.`run_name` = 'q'",
                                    TRACK_FILTER_RUNS);
    assert_int_equal(f.n, 10);
    assert_int_equal(f.conds[0].entity, STORE_TRACK_ATTR);
    assert_string_equal(f.conds[0].key, "status");
    assert_string_equal(f.conds[1].key, "name");
    assert_string_equal(f.conds[2].key, "start_time");
    assert_true(f.conds[2].is_num);
    assert_string_equal(f.conds[3].key, "run_uuid");
    assert_string_equal(f.conds[4].key, "start_time");
    assert_string_equal(f.conds[5].key, "start_time");
    assert_string_equal(f.conds[6].key, "end_time");
    assert_string_equal(f.conds[7].key, "user_id");
    assert_string_equal(f.conds[8].key, "artifact_uri");
    assert_string_equal(f.conds[9].key, "name");
    store_track_filter_free(&f);
}

static void test_experiments(void **state) {
    (void)state;
    store_track_filter f =
        parse_ok("name LIKE 'test-%' AND tags.key = 'value' AND creation_time > 5 AND tags.`extra-key` ILIKE 'v%'",
                 TRACK_FILTER_EXPERIMENTS);
    assert_int_equal(f.n, 4);
    assert_string_equal(f.conds[0].key, "name");
    assert_int_equal(f.conds[1].entity, STORE_TRACK_TAG);
    assert_true(f.conds[2].is_num);
    store_track_filter_free(&f);
    parse_bad("metrics.x > 1", TRACK_FILTER_EXPERIMENTS, "expected an entity type: tags or attributes");
    parse_bad("status = 'x'", TRACK_FILTER_EXPERIMENTS, "expected an attribute");
    parse_bad("name IN ('a')", TRACK_FILTER_EXPERIMENTS, "position 6");
}

static void test_invalid(void **state) {
    (void)state;
    const track_filter_target R = TRACK_FILTER_RUNS;
    parse_bad("metrics.rmse", R, "at position 13: expected a comparator");
    parse_bad("metrics.rmse >", R, "at position 15: expected a number, found the end of the input");
    parse_bad("metrics.rmse > 'a'", R, "at position 16: expected a number");
    parse_bad("metrics.rmse LIKE 1", R, "at position 14: expected a numeric comparator");
    parse_bad("params.p > 'a'", R, "at position 10: expected =, !=, LIKE");
    parse_bad("params.p = a", R, "at position 12: expected a quoted string");
    parse_bad("params.p = 1", R, "expected a quoted string");
    parse_bad("params.p = 'a", R, "expected a closing '");
    parse_bad("metrics.x > 1 OR metrics.y < 2", R, "at position 15: expected AND or the end of the filter");
    parse_bad("metrics.x > 1 AND", R, "at position 18: expected an identifier");
    parse_bad("foo.x = 'a'", R, "at position 1: expected an entity type: metrics, params, tags or attributes");
    parse_bad("bogus = 'a'", R, "expected an attribute (one of run_id");
    parse_bad("attributes.nope = 'a'", R, "instead of 'nope'");
    parse_bad("metrics. > 1", R, "at position 9: expected a key");
    parse_bad("metrics.`` > 1", R, "non-empty key");
    parse_bad("metrics.`abc > 1", R, "expected a closing `");
    parse_bad("params.p IN 'a'", R, "expected a parenthesized list");
    parse_bad("params.p IN ('a' 'b')", R, "expected ',' or ')'");
    parse_bad("params.p NOT = 'a'", R, "expected IN after NOT");
    parse_bad("= 1", R, "at position 1: expected an identifier");
    parse_bad("metrics.x > 1 metrics.y > 2", R, "at position 15");
    parse_bad("metrics.x > 1.5.3", R, "expected a number");
    parse_bad("start_time = 'yesterday'", R, "expected a number");
    parse_bad("status > 'A'", R, "expected =, !=, LIKE");
}

static void test_order(void **state) {
    (void)state;
    store_track_order o;
    mp_err e = {0};
    assert_int_equal(track_order_parse("metrics.rmse DESC", TRACK_FILTER_RUNS, &o, &e), 0);
    assert_int_equal(o.entity, STORE_TRACK_METRIC);
    assert_string_equal(o.key, "rmse");
    assert_false(o.asc);
    free(o.key);
    assert_int_equal(track_order_parse("attributes.start_time asc", TRACK_FILTER_RUNS, &o, &e), 0);
    assert_int_equal(o.entity, STORE_TRACK_ATTR);
    assert_string_equal(o.key, "start_time");
    assert_true(o.asc);
    free(o.key);
    assert_int_equal(track_order_parse("params.`a b`", TRACK_FILTER_RUNS, &o, &e), 0);
    assert_string_equal(o.key, "a b");
    assert_true(o.asc);
    free(o.key);
    assert_int_equal(track_order_parse("name DESC", TRACK_FILTER_EXPERIMENTS, &o, &e), 0);
    free(o.key);
    assert_int_equal(track_order_parse("experiment_id", TRACK_FILTER_EXPERIMENTS, &o, &e), 0);
    assert_string_equal(o.key, "experiment_id");
    free(o.key);
    assert_int_equal(track_order_parse("metrics.x sideways", TRACK_FILTER_RUNS, &o, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "at position 11: expected ASC, DESC"));
    assert_int_equal(track_order_parse("bogus", TRACK_FILTER_RUNS, &o, &e), MP_EINVAL);
    assert_int_equal(track_order_parse("", TRACK_FILTER_RUNS, &o, &e), MP_EINVAL);
    /* experiment_id is only for ordering */
    store_track_filter f;
    assert_int_equal(track_filter_parse("experiment_id = '1'", TRACK_FILTER_EXPERIMENTS, &f, &e), MP_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),      cmocka_unit_test(test_metrics), cmocka_unit_test(test_params_tags),
        cmocka_unit_test(test_attributes), cmocka_unit_test(test_experiments), cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
