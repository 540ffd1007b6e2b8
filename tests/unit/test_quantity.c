/* test_quantity.c — spec_parse_quantity: Kubernetes quantity syntax to exact
 * integers (millicores, bytes, device counts), and every way to get it wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spec/spec.h"

typedef struct good_case {
    const char *text;
    spec_qty_kind kind;
    int64_t want;
} good_case;

typedef struct bad_case {
    const char *text;
    spec_qty_kind kind;
    const char *words; /* expected in the message */
} bad_case;

static void check_good(const good_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int64_t v = -42;
        mp_err e = {0};
        int rc = spec_parse_quantity(cases[i].text, cases[i].kind, &v, &e);
        if (rc != 0 || v != cases[i].want)
            print_message("quantity \"%s\" (kind %d): rc=%d value=%lld want %lld: %s\n", cases[i].text,
                          (int)cases[i].kind, rc, (long long)v, (long long)cases[i].want, e.msg);
        assert_int_equal(rc, 0);
        assert_true(v == cases[i].want);
    }
}

static void check_bad(const bad_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int64_t v = -42;
        mp_err e = {0};
        int rc = spec_parse_quantity(cases[i].text, cases[i].kind, &v, &e);
        if (rc != MP_EINVAL || !strstr(e.msg, cases[i].words))
            print_message("quantity \"%s\" (kind %d): rc=%d value=%lld msg=\"%s\", want \"%s\"\n", cases[i].text,
                          (int)cases[i].kind, rc, (long long)v, e.msg, cases[i].words);
        assert_int_equal(rc, MP_EINVAL);
        assert_int_equal(e.code, MP_EINVAL);
        assert_non_null(strstr(e.msg, cases[i].words));
        assert_true(v == -42); /* untouched on error */
    }
}

static void test_cpu_quantities_in_millicores(void **state) {
    (void)state;
    static const good_case cases[] = {
        {"500m", SPEC_QTY_CPU, 500},    {"2", SPEC_QTY_CPU, 2000},        {"0.1", SPEC_QTY_CPU, 100},
        {"1", SPEC_QTY_CPU, 1000},      {"1.5", SPEC_QTY_CPU, 1500},      {"250m", SPEC_QTY_CPU, 250},
        {"+1", SPEC_QTY_CPU, 1000},     {".5", SPEC_QTY_CPU, 500},        {"5.", SPEC_QTY_CPU, 5000},
        {"0", SPEC_QTY_CPU, 0},         {"0m", SPEC_QTY_CPU, 0},          {"0.000", SPEC_QTY_CPU, 0},
        {"1e3", SPEC_QTY_CPU, 1000000}, {"1E3", SPEC_QTY_CPU, 1000000},   {"2e-3", SPEC_QTY_CPU, 2},
        {"1k", SPEC_QTY_CPU, 1000000},  {"1000000u", SPEC_QTY_CPU, 1000}, {"007", SPEC_QTY_CPU, 7000},
    };
    check_good(cases, sizeof cases / sizeof *cases);
}

static void test_cpu_fractions_of_a_millicore_round_up(void **state) {
    (void)state;
    static const good_case cases[] = {
        {"100n", SPEC_QTY_CPU, 1},      {"1n", SPEC_QTY_CPU, 1},       {"0.0001", SPEC_QTY_CPU, 1},
        {"1.0001", SPEC_QTY_CPU, 1001}, {"1500001n", SPEC_QTY_CPU, 2}, {"1500000n", SPEC_QTY_CPU, 2},
        {"1e-3", SPEC_QTY_CPU, 1},      {"1e-99999", SPEC_QTY_CPU, 1}, {"0e99999", SPEC_QTY_CPU, 0},
        {"2.5m", SPEC_QTY_CPU, 3},
    };
    check_good(cases, sizeof cases / sizeof *cases);
}

static void test_memory_quantities_in_bytes(void **state) {
    (void)state;
    static const good_case cases[] = {
        {"512Mi", SPEC_QTY_MEMORY, 536870912LL},
        {"4G", SPEC_QTY_MEMORY, 4000000000LL},
        {"1e9", SPEC_QTY_MEMORY, 1000000000LL},
        {"1.5Gi", SPEC_QTY_MEMORY, 1610612736LL},
        {"1Ki", SPEC_QTY_MEMORY, 1024},
        {"1", SPEC_QTY_MEMORY, 1},
        {"128974848", SPEC_QTY_MEMORY, 128974848LL},
        {"129e6", SPEC_QTY_MEMORY, 129000000LL},
        {"123Mi", SPEC_QTY_MEMORY, 128974848LL},
        {"2Ti", SPEC_QTY_MEMORY, 2199023255552LL},
        {"1Pi", SPEC_QTY_MEMORY, 1125899906842624LL},
        {"1Ei", SPEC_QTY_MEMORY, 1152921504606846976LL},
        {"7.5Ei", SPEC_QTY_MEMORY, 8646911284551352320LL},
        {"9E", SPEC_QTY_MEMORY, 9000000000000000000LL},
        {"9223372036854775807", SPEC_QTY_MEMORY, INT64_MAX},
        {"0.5", SPEC_QTY_MEMORY, 1}, /* bytes round up */
        {"100m", SPEC_QTY_MEMORY, 1},
        {"0.1Ki", SPEC_QTY_MEMORY, 103}, /* 102.4 */
        {"12345678901234567890123n", SPEC_QTY_MEMORY, 12345678901235LL},
        {"1k", SPEC_QTY_MEMORY, 1000},
        {"1M", SPEC_QTY_MEMORY, 1000000},
        {"1T", SPEC_QTY_MEMORY, 1000000000000LL},
        {"1P", SPEC_QTY_MEMORY, 1000000000000000LL},
    };
    check_good(cases, sizeof cases / sizeof *cases);
}

static void test_count_quantities_are_whole_devices(void **state) {
    (void)state;
    static const good_case good[] = {
        {"1", SPEC_QTY_COUNT, 1},     {"2", SPEC_QTY_COUNT, 2},   {"0", SPEC_QTY_COUNT, 0},
        {"1000m", SPEC_QTY_COUNT, 1}, {"2e0", SPEC_QTY_COUNT, 2}, {"1k", SPEC_QTY_COUNT, 1000},
        {"8.0", SPEC_QTY_COUNT, 8},
    };
    check_good(good, sizeof good / sizeof *good);
    static const bad_case bad[] = {
        {"1.5", SPEC_QTY_COUNT, "whole number"},
        {"500m", SPEC_QTY_COUNT, "whole number"},
        {"1e-99999", SPEC_QTY_COUNT, "whole number"},
        {"-1", SPEC_QTY_COUNT, "negative"},
    };
    check_bad(bad, sizeof bad / sizeof *bad);
}

static void test_garbage_is_rejected_with_a_reason(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"", SPEC_QTY_CPU, "empty"},
        {"12Q", SPEC_QTY_MEMORY, "unknown suffix \"Q\""},
        {"1.2.3", SPEC_QTY_CPU, "decimal point"},
        {"--1", SPEC_QTY_CPU, "not a number"},
        {"-1", SPEC_QTY_CPU, "must not be negative"},
        {"-0.5", SPEC_QTY_MEMORY, "must not be negative"},
        {"abc", SPEC_QTY_CPU, "not a number"},
        {"Mi", SPEC_QTY_MEMORY, "not a number"},
        {".", SPEC_QTY_CPU, "not a number"},
        {" 1", SPEC_QTY_CPU, "not a number"},
        {"1 ", SPEC_QTY_CPU, "unknown suffix"},
        {"1 Mi", SPEC_QTY_MEMORY, "unknown suffix"},
        {"1e", SPEC_QTY_CPU, "unknown suffix \"e\""},
        {"1ee3", SPEC_QTY_CPU, "exponent"},
        {"1e3.5", SPEC_QTY_CPU, "exponent"},
        {"1mi", SPEC_QTY_MEMORY, "unknown suffix \"mi\""},
        {"1KiB", SPEC_QTY_MEMORY, "unknown suffix \"KiB\""},
        {"1K", SPEC_QTY_MEMORY, "unknown suffix \"K\""},
        {"1Gi1", SPEC_QTY_MEMORY, "unknown suffix"},
        {"0x10", SPEC_QTY_MEMORY, "unknown suffix"},
    };
    check_bad(cases, sizeof cases / sizeof *cases);
    mp_err e;
    int64_t v;
    assert_int_equal(spec_parse_quantity(NULL, SPEC_QTY_CPU, &v, &e), MP_EINVAL);
    assert_int_equal(spec_parse_quantity("1", SPEC_QTY_CPU, &v, NULL), 0); /* e may be NULL */
    assert_int_equal(spec_parse_quantity("x", SPEC_QTY_CPU, &v, NULL), MP_EINVAL);
}

static void test_overflow_of_int64_is_rejected(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"9223372036854775808", SPEC_QTY_MEMORY, "too large"},
        {"8Ei", SPEC_QTY_MEMORY, "too large"},
        {"10E", SPEC_QTY_MEMORY, "too large"},
        {"1e19", SPEC_QTY_MEMORY, "too large"},
        {"1e99999", SPEC_QTY_MEMORY, "too large"},
        {"99999999999999999999999999999999", SPEC_QTY_COUNT, "too large"},
        {"123456789012345678901234567890n", SPEC_QTY_MEMORY, "too large"},
        {"9223372036854775807", SPEC_QTY_CPU, "too large"}, /* x1000 for millicores */
        {"9300P", SPEC_QTY_CPU, "too large"},
    };
    check_bad(cases, sizeof cases / sizeof *cases);
    /* The largest cpu that fits. */
    int64_t v;
    assert_int_equal(spec_parse_quantity("9223372036854775807m", SPEC_QTY_CPU, &v, NULL), 0);
    assert_true(v == INT64_MAX);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_quantities_in_millicores),
        cmocka_unit_test(test_cpu_fractions_of_a_millicore_round_up),
        cmocka_unit_test(test_memory_quantities_in_bytes),
        cmocka_unit_test(test_count_quantities_are_whole_devices),
        cmocka_unit_test(test_garbage_is_rejected_with_a_reason),
        cmocka_unit_test(test_overflow_of_int64_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
