/* test_monitor_table.c — CSV files read as typed columns (src/monitor/table.c) from
 * real files: quoting (commas, doubled quotes and newlines inside quotes), CRLF,
 * blank lines, pandas' missing-value strings, a column that turns to text midway
 * (its earlier numbers as their shortest text, the first non-number's row and line),
 * scikit-learn's header and a file without a header, a Deployment's request log
 * (rotated files, the window, what is left out),
 * keep_text, and malformed files refused with FILE, row and line. */
#include <math.h>
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

static char *write_csv(const char *name, const char *text) {
    char *path = mp_xasprintf("%s/%s", dir, name);
    assert_int_equal(mp_write_file_atomic(path, text, strlen(text), NULL), 0);
    return path;
}

static void test_types_and_quotes(void **state) {
    (void)state;
    char *path = write_csv("a.csv", "x,name,mixed,gone\r\n"
                                    "1.5,\"Smith, J\",1.50,NA\r\n"
                                    "\r\n"
                                    " 2 ,\"say \"\"hi\"\"\",2,\r\n"
                                    "NaN,\"two\nlines\",abc,null\r\n"
                                    "-3e2,,4,None\r\n");
    monitor_table t;
    mp_err e = {0};
    assert_int_equal(monitor_table_read(path, false, &t, &e), 0);
    assert_int_equal(t.ncols, 4);
    assert_int_equal(t.nrows, 4);
    const monitor_column *x = monitor_table_column(&t, "x");
    assert_int_equal(x->type, MONITOR_COL_NUMERIC);
    assert_true(x->num[0] == 1.5 && x->num[1] == 2 && isnan(x->num[2]) && x->num[3] == -300);
    assert_int_equal(x->nmissing, 1);
    assert_null(x->cat);
    const monitor_column *n = monitor_table_column(&t, "name");
    assert_int_equal(n->type, MONITOR_COL_TEXT);
    assert_string_equal(n->cats[n->cat[0]], "Smith, J");
    assert_string_equal(n->cats[n->cat[1]], "say \"hi\"");
    assert_string_equal(n->cats[n->cat[2]], "two\nlines");
    assert_int_equal(n->cat[3], MONITOR_MISSING);
    assert_int_equal(n->first_text_row, 1);
    const monitor_column *m = monitor_table_column(&t, "mixed");
    assert_int_equal(m->type, MONITOR_COL_TEXT);
    assert_string_equal(m->cats[m->cat[0]], "1.5"); /* shortest form of 1.50 */
    assert_string_equal(m->cats[m->cat[1]], "2");
    assert_string_equal(m->cats[m->cat[2]], "abc");
    assert_string_equal(m->cats[m->cat[3]], "4");
    assert_int_equal(m->first_text_row, 3);
    assert_int_equal(m->first_text_line, 5); /* the blank line 3 is no row */
    assert_string_equal(m->first_text, "abc");
    assert_int_equal(t.lines[3], 7);
    const monitor_column *g = monitor_table_column(&t, "gone");
    assert_int_equal(g->type, MONITOR_COL_EMPTY);
    assert_int_equal(g->nmissing, 4);
    assert_null(monitor_table_column(&t, "nope"));
    monitor_table_free(&t);

    assert_int_equal(monitor_table_read(path, true, &t, &e), 0);
    m = monitor_table_column(&t, "mixed");
    assert_string_equal(m->cats[m->cat[0]], "1.50"); /* as written */
    x = monitor_table_column(&t, "x");
    assert_non_null(x->num);
    assert_string_equal(x->cats[x->cat[1]], " 2 ");
    monitor_table_free(&t);
    free(path);
}

static void test_many_categories(void **state) {
    (void)state;
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_puts(&b, "k\n");
    for (int i = 0; i < 5000; i++) mp_buf_printf(&b, "c%d\n", i % 1500);
    char *path = write_csv("many.csv", b.data);
    mp_buf_free(&b);
    monitor_table t;
    assert_int_equal(monitor_table_read(path, false, &t, NULL), 0);
    assert_int_equal(t.nrows, 5000);
    assert_int_equal(t.cols[0].ncats, 1500);
    for (size_t i = 0; i < t.nrows; i++) {
        char want[16];
        snprintf(want, sizeof want, "c%zu", i % 1500);
        assert_string_equal(t.cols[0].cats[t.cols[0].cat[i]], want);
    }
    monitor_table_free(&t);
    free(path);
}

static void test_header_forms(void **state) {
    (void)state;
    monitor_table t;
    mp_err e = {0};
    char *path = write_csv("sk.csv", "3,2,malignant,benign\n1,2,0\n3,4,1\n5,6,0\n");
    assert_int_equal(monitor_table_read(path, false, &t, &e), 0);
    assert_int_equal(t.ncols, 3);
    assert_int_equal(t.nrows, 3);
    assert_string_equal(t.cols[0].name, "f0");
    assert_string_equal(t.cols[1].name, "f1");
    assert_string_equal(t.cols[2].name, "target");
    assert_true(t.cols[1].num[2] == 6);
    monitor_table_free(&t);
    free(path);
    path = write_csv("bare.csv", "1,1,2.5\n3,4,5");
    assert_int_equal(monitor_table_read(path, false, &t, &e), 0);
    assert_int_equal(t.ncols, 3);
    assert_int_equal(t.nrows, 2);
    assert_string_equal(t.cols[2].name, "f2");
    assert_true(t.cols[0].num[0] == 1 && t.cols[2].num[0] == 2.5 && t.cols[2].num[1] == 5);
    assert_int_equal(t.lines[0], 1);
    assert_int_equal(t.lines[1], 2);
    monitor_table_free(&t);
    free(path);
}

static void test_reqlog(void **state) {
    (void)state;
    char *path = mp_xasprintf("%s/requests.log", dir);
    char *old = mp_xasprintf("%s/requests.log.1", dir);
    /* the rotated file is older; the current one ends with a line being written */
    const char *rotated =
        "{\"time\":\"2026-11-25T10:00:00.000Z\",\"id\":\"a\",\"version\":\"1\",\"inputs\":[[1,10],[2,20]]}\n"
        "{\"time\":\"2026-11-25T10:00:01.000Z\",\"id\":\"b\",\"version\":\"2\",\"inputs\":[[3,30]]}\n";
    const char *current =
        "{\"time\":\"2026-11-25T10:00:02.000Z\",\"id\":\"c\",\"version\":\"1\",\"inputs\":[[4,null]]}\n"
        "{\"time\":\"2026-11-25T10:00:03.000Z\",\"id\":\"d\",\"version\":\"1\",\"inputs\":[[5,50]],"
        "\"shadow\":true}\n"
        "{\"time\":\"2026-11-25T10:00:04.000Z\",\"id\":\"e\",\"version\":\"1\",\"inputs\":[[6,60]],"
        "\"error\":\"bad\"}\n"
        "{\"time\":\"2026-11-25T10:00:05.000Z\",\"id\":\"f\",\"version\":\"1\",\"inputs\":null}\n"
        "{\"time\":\"2026-11-25T10:00:06.000Z\",\"id\":\"g\",\"version\":\"1\",\"inputs\":[[7,70,700]]}\n"
        "{\"time\":\"2026-11-25T10:00:07.000Z\",\"id\":\"h\",\"version\":\"1\",\"inp";
    assert_int_equal(mp_write_file_atomic(old, rotated, strlen(rotated), NULL), 0);
    assert_int_equal(mp_write_file_atomic(path, current, strlen(current), NULL), 0);
    monitor_table t;
    monitor_reqlog_counts n;
    mp_err e = {0};
    monitor_reqlog_opts all = {0};
    assert_int_equal(monitor_reqlog_read(path, &all, &t, &n, &e), 0);
    assert_int_equal(t.ncols, 2);
    assert_string_equal(t.cols[1].name, "f1");
    assert_int_equal(t.nrows, 4); /* oldest first: 1, 2, 3, 4 */
    assert_true(t.cols[0].num[0] == 1 && t.cols[0].num[2] == 3 && t.cols[0].num[3] == 4);
    assert_true(isnan(t.cols[1].num[3]));
    assert_int_equal(t.cols[1].nmissing, 1);
    assert_int_equal(t.cols[0].type, MONITOR_COL_NUMERIC);
    assert_int_equal(n.shadow, 1);
    assert_int_equal(n.failed, 1);
    assert_int_equal(n.no_inputs, 1);
    assert_int_equal(n.other_width, 1);
    assert_int_equal(n.bad_lines, 1);
    monitor_table_free(&t);

    monitor_reqlog_opts last2 = {.window_rows = 2, .version = "1"};
    assert_int_equal(monitor_reqlog_read(path, &last2, &t, &n, &e), 0);
    assert_int_equal(t.nrows, 2); /* the newest two of version 1: 2 (rotated file) and 4 */
    assert_true(t.cols[0].num[0] == 2 && t.cols[0].num[1] == 4);
    monitor_table_free(&t);
    last2.window_rows = 3;
    assert_int_equal(monitor_reqlog_read(path, &last2, &t, &n, &e), 0);
    assert_int_equal(t.nrows, 3);
    assert_true(t.cols[0].num[0] == 1 && t.cols[0].num[2] == 4); /* version 2's 3 left out */
    assert_int_equal(n.other_version, 1);
    monitor_table_free(&t);

    monitor_reqlog_opts since = {.since_ms = 1795600801000}; /* 2026-11-25T10:00:01Z */
    assert_int_equal(monitor_reqlog_read(path, &since, &t, &n, &e), 0);
    assert_int_equal(t.nrows, 2); /* 3 and 4 */
    assert_true(t.cols[0].num[0] == 3);
    monitor_table_free(&t);

    char *none = mp_xasprintf("%s/none.log", dir);
    assert_int_equal(monitor_reqlog_read(none, &all, &t, &n, &e), MP_ENOENT);
    assert_non_null(strstr(e.msg, "sampleRate"));
    monitor_table_free(&t);
    free(none);
    free(path);
    free(old);
}

static void refused(const char *name, const char *text, int code, const char *want) {
    char *path = write_csv(name, text);
    monitor_table t;
    mp_err e = {0};
    assert_int_equal(monitor_table_read(path, false, &t, &e), code);
    if (!strstr(e.msg, want)) fail_msg("%s: message \"%s\" lacks \"%s\"", name, e.msg, want);
    if (!strstr(e.msg, path)) fail_msg("%s: message \"%s\" does not name the file", name, e.msg);
    assert_int_equal(t.ncols, 0);
    assert_null(t.cols);
    free(path);
}

static void test_refused(void **state) {
    (void)state;
    refused("short.csv", "a,b\n1,2\n3\n", MP_EINVAL, "row 2 (line 3): 1 field, the first line names 2 columns");
    refused("long.csv", "a,b\n1,2,3\n", MP_EINVAL, "row 1 (line 2): more fields than the 2 columns");
    refused("twice.csv", "a,b,a\n1,2,3\n", MP_EINVAL, "column \"a\" is named twice (columns 1 and 3)");
    refused("noname.csv", "a,,b\n1,2,3\n", MP_EINVAL, "column 2 has no name");
    refused("empty.csv", "", MP_EINVAL, "empty file");
    refused("quote.csv", "a,b\n1,\"open\n2,3\n", MP_EINVAL, "unclosed quote");
    monitor_table t;
    mp_err e = {0};
    char *missing = mp_xasprintf("%s/none.csv", dir);
    assert_int_equal(monitor_table_read(missing, false, &t, &e), MP_ENOENT);
    assert_non_null(strstr(e.msg, "none.csv: cannot open"));
    free(missing);
    /* a header alone is a table of no rows */
    char *path = write_csv("header.csv", "a,b\n");
    assert_int_equal(monitor_table_read(path, false, &t, &e), 0);
    assert_int_equal(t.ncols, 2);
    assert_int_equal(t.nrows, 0);
    monitor_table_free(&t);
    free(path);
}

static void test_numbers(void **state) {
    (void)state;
    double v;
    assert_true(monitor_parse_number(" -1.25e3 ", 9, &v) && v == -1250);
    assert_false(monitor_parse_number("0x10", 4, &v));
    assert_false(monitor_parse_number("nan", 3, &v));
    assert_false(monitor_parse_number("1.5x", 4, &v));
    assert_false(monitor_parse_number("", 0, &v));
    assert_true(monitor_is_missing("N/A", 3));
    assert_false(monitor_is_missing("n.a.", 4));
}

static int setup(void **state) {
    (void)state;
    dir = ut_scratch_dir("monitor-table");
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
        cmocka_unit_test(test_types_and_quotes),
        cmocka_unit_test(test_many_categories),
        cmocka_unit_test(test_header_forms),
        cmocka_unit_test(test_reqlog),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_numbers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
