/* test_log_tail.c — unit tests of engine_log_tail, the last lines of a step's
 * last attempt shown with a failure: only what follows the last attempt header,
 * blank lines skipped, controls and bytes that are not UTF-8 made printable,
 * long lines cut on a character boundary. Real files under $MLPLANE_TEST_TMP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"

static char *write_log(const char *text) {
    const char *base = getenv("MLPLANE_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    assert_int_equal(mp_mkdir_p(base, NULL), 0);
    char *path = mp_xasprintf("%s/log-tail-XXXXXX", base);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void expect_tail(const char *log, int n, size_t width, const char *want) {
    char *path = write_log(log);
    char *got = engine_log_tail(path, n, width);
    if (want) {
        assert_non_null(got);
        assert_string_equal(got, want);
    } else {
        assert_null(got);
    }
    free(got);
    unlink(path);
    free(path);
}

static void test_last_lines_skip_blanks(void **state) {
    (void)state;
    expect_tail("one\ntwo\n\n   \nthree\n\n", 1, 200, "three");
    expect_tail("one\ntwo\n\n   \nthree\n\n", 2, 200, "two\nthree");
    expect_tail("one\ntwo\nthree", 5, 200, "one\ntwo\nthree");
    expect_tail("  File \"x.py\", line 1\r\nValueError: bad\r\n", 2, 200, "  File \"x.py\", line 1\nValueError: bad");
    expect_tail("", 3, 200, NULL);
    expect_tail("\n \n\t\n", 3, 200, NULL);
}

static void test_only_the_last_attempt(void **state) {
    (void)state;
    expect_tail("boom\n==> mlplane: attempt 2 at 2026-12-07T03:00:00Z\nboom again\n", 5, 200, "boom again");
    expect_tail("boom\n==> mlplane: attempt 2 at 2026-12-07T03:00:00Z\n", 5, 200, NULL);
    expect_tail("x ==> mlplane: attempt 2 is not a header\n", 1, 200, "x ==> mlplane: attempt 2 is not a header");
}

static void test_printable_and_cut(void **state) {
    (void)state;
    expect_tail("a\tb\x1b[31mred\x7f\xff\xc3z\n", 1, 200, "a b?[31mred???" "z");
    expect_tail("caf\xc3\xa9 ok\n", 1, 200, "caf\xc3\xa9 ok");
    expect_tail("abcdefghij\n", 1, 4, "abcd...");
    expect_tail("ab\xc3\xa9\xc3\xa9\n", 1, 3, "ab...");  /* never half a character */
    expect_tail("ab\xc3\xa9\xc3\xa9\n", 1, 4, "ab\xc3\xa9...");
}

static void test_unreadable(void **state) {
    (void)state;
    assert_null(engine_log_tail("/nonexistent/dir/x.log", 3, 200));
    assert_null(engine_log_tail(NULL, 3, 200));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_lines_skip_blanks),
        cmocka_unit_test(test_only_the_last_attempt),
        cmocka_unit_test(test_printable_and_cut),
        cmocka_unit_test(test_unreadable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
