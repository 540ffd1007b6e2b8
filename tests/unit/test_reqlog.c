/* test_reqlog.c — the request log: each line a JSON object with the fields the
 * drift monitor reads, sampling by request id, rotation at the size limit with
 * the number of files kept, concurrent writers leaving only whole lines, and
 * directories that are missing or not writable as clear errors. Each test works
 * in its own directory under $MLPLANE_TEST_TMP. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve/serve.h"
#include "unit_helpers.h"

/* A fresh directory; returns DIR/requests.log (caller frees both). */
static char *fresh_log(char **dir_out) {
    char *dir = ut_scratch_dir("reqlog");
    *dir_out = dir;
    return mp_xasprintf("%s/requests.log", dir);
}

static serve_reqlog *open_ok(const char *path, double rate, int64_t max_bytes, int keep) {
    serve_reqlog_cfg cfg = {rate, max_bytes, keep};
    serve_reqlog *l = NULL;
    mp_err e;
    int rc = serve_reqlog_open(path, &cfg, &l, &e);
    if (rc) print_message("%s\n", e.msg);
    assert_int_equal(rc, 0);
    return l;
}

/* Every line of the file at path parsed (a JSON array of them); NULL when the file
 * does not exist. Fails the test on a line that is not a whole JSON object. */
static json_t *read_lines(const char *path) {
    char *text = NULL;
    size_t len = 0;
    if (mp_read_file(path, &text, &len, NULL) != 0) return NULL;
    json_t *arr = json_array();
    char *p = text;
    while (*p) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl); /* every line ends */
        json_error_t err;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, &err);
        if (!j) print_message("bad line in %s: %.*s (%s)\n", path, (int)(nl - p), p, err.text);
        assert_non_null(j);
        assert_true(json_is_object(j));
        json_array_append_new(arr, j);
        p = nl + 1;
    }
    free(text);
    return arr;
}

static void rm_dir(char *dir) {
    mp_rm_rf(dir, NULL);
    free(dir);
}

static void test_line_format(void **state) {
    (void)state;
    char *dir, *path = fresh_log(&dir);
    serve_reqlog *l = open_ok(path, 1, 1 << 20, 5);
    json_t *in = json_pack("[[f,f,f],[f,f,f]]", 1.5, 2.0, -3.25, 0.0, 1e-3, 42.0);
    json_t *out = json_pack("[f,f]", 0.97, 0.01);
    serve_reqlog_entry en = {.time_ms = 1764100495123LL,
                             .id = "req-1",
                             .model = "breast-cancer",
                             .version = "2",
                             .latency_ms = 1.2345,
                             .inputs = in,
                             .outputs = out};
    bool written = false;
    mp_err e;
    assert_int_equal(serve_reqlog_write(l, &en, &written, &e), 0);
    assert_true(written);
    /* a shadow's answer, a failure, strings that need escaping, nothing known */
    serve_reqlog_entry sh = {.time_ms = 7, .id = "req-\"2\"\n", .model = "m", .version = "3",
                             .latency_ms = NAN, .shadow = true, .error = "runtime said: \"no\""};
    assert_int_equal(serve_reqlog_write(l, &sh, &written, &e), 0);
    serve_reqlog_close(l);

    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 2);
    json_t *a = json_array_get(lines, 0);
    assert_string_equal(json_string_value(json_object_get(a, "time")), "2025-11-25T19:54:55.123Z");
    assert_string_equal(json_string_value(json_object_get(a, "id")), "req-1");
    assert_string_equal(json_string_value(json_object_get(a, "model")), "breast-cancer");
    assert_string_equal(json_string_value(json_object_get(a, "version")), "2");
    assert_true(fabs(json_number_value(json_object_get(a, "latency_ms")) - 1.2345) < 0.001);
    assert_true(json_equal(json_object_get(a, "inputs"), in));
    assert_true(json_equal(json_object_get(a, "outputs"), out));
    assert_null(json_object_get(a, "shadow"));
    assert_null(json_object_get(a, "error"));
    json_t *b = json_array_get(lines, 1);
    assert_string_equal(json_string_value(json_object_get(b, "time")), "1970-01-01T00:00:00.007Z");
    assert_string_equal(json_string_value(json_object_get(b, "id")), "req-\"2\"\n");
    assert_true(json_is_null(json_object_get(b, "latency_ms")));
    assert_true(json_is_null(json_object_get(b, "inputs")));
    assert_true(json_is_true(json_object_get(b, "shadow")));
    assert_string_equal(json_string_value(json_object_get(b, "error")), "runtime said: \"no\"");
    /* the keys in the documented order */
    const char *order[] = {"time", "id", "model", "version", "latency_ms", "inputs", "outputs"};
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(a, k, v) {
        (void)v;
        assert_true(i < 7);
        assert_string_equal(k, order[i++]);
    }
    json_decref(lines);
    json_decref(in);
    json_decref(out);
    rm_dir(dir);
    free(path);
}

static void test_sampling(void **state) {
    (void)state;
    /* decided by the id alone: the same answer every time */
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof id, "id-%d", i);
        bool s = serve_reqlog_sampled(id, 0.3);
        for (int j = 0; j < 5; j++) assert_true(serve_reqlog_sampled(id, 0.3) == s);
        assert_false(serve_reqlog_sampled(id, 0));
        assert_true(serve_reqlog_sampled(id, 1));
        if (s) assert_true(serve_reqlog_sampled(id, 0.6)); /* a higher rate keeps every id a lower one had */
    }
    /* in proportion over 10,000 ids, and the file holds exactly the sampled ones */
    char *dir, *path = fresh_log(&dir);
    const double rates[] = {0.1, 0.5, 0.02};
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        serve_reqlog *l = open_ok(path, rates[r], 1LL << 30, 1);
        int expected = 0;
        for (int i = 0; i < 10000; i++) {
            char id[32];
            snprintf(id, sizeof id, "%zu-req-%d", r, i);
            bool w = true;
            serve_reqlog_entry en = {.time_ms = i, .id = id, .model = "m", .version = "1"};
            assert_int_equal(serve_reqlog_write(l, &en, &w, NULL), 0);
            assert_true(w == serve_reqlog_sampled(id, rates[r]));
            expected += w;
        }
        serve_reqlog_close(l);
        print_message("rate %g: %d of 10000\n", rates[r], expected);
        assert_true(fabs(expected - rates[r] * 10000) <= 200);
        json_t *lines = read_lines(path);
        assert_int_equal(json_array_size(lines), expected);
        json_decref(lines);
        unlink(path);
    }
    /* rate 0: nothing, and nothing is built */
    serve_reqlog *l = open_ok(path, 0, 1024, 1);
    serve_reqlog_entry en = {.id = "x", .model = "\xff"}; /* not UTF-8, but never looked at */
    assert_int_equal(serve_reqlog_write(l, &en, NULL, NULL), 0);
    serve_reqlog_close(l);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    rm_dir(dir);
    free(path);
}

/* Writes entry number i with an id of fixed width, so every line has one length. */
static size_t write_numbered(serve_reqlog *l, int i) {
    char id[32];
    snprintf(id, sizeof id, "req-%06d", i);
    serve_reqlog_entry en = {.time_ms = 1000, .id = id, .model = "m", .version = "1", .latency_ms = 1};
    bool w = false;
    mp_err e;
    int rc = serve_reqlog_write(l, &en, &w, &e);
    if (rc) print_message("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_true(w);
    return strlen("{\"time\":\"1970-01-01T00:00:01.000Z\",\"id\":\"req-000000\",\"model\":\"m\",\"version\":\"1\","
                  "\"latency_ms\":1.000,\"inputs\":null,\"outputs\":null}\n");
}

/* The ids in the file at path, as numbers, into ids; returns how many. */
static size_t ids_in(const char *path, int *ids, size_t cap) {
    json_t *lines = read_lines(path);
    if (!lines) return 0;
    size_t n = json_array_size(lines);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++)
        ids[i] = atoi(json_string_value(json_object_get(json_array_get(lines, i), "id")) + 4);
    json_decref(lines);
    return n;
}

static void expect_ids(const char *path, int first, int count) {
    int ids[64];
    size_t n = ids_in(path, ids, 64);
    if ((int)n != count) print_message("%s: %zu lines, expected %d\n", path, n, count);
    assert_int_equal(n, count);
    for (int i = 0; i < count; i++) assert_int_equal(ids[i], first + i);
}

static void test_rotation(void **state) {
    (void)state;
    char *dir, *path = fresh_log(&dir);
    serve_reqlog *l = open_ok(path, 1, 1, 2); /* measure one line first */
    size_t len = write_numbered(l, 0);
    serve_reqlog_close(l);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, len);
    unlink(path);

    /* exactly three lines fit: the fourth starts a new file */
    l = open_ok(path, 1, (int64_t)(3 * len), 2);
    for (int i = 0; i < 20; i++) write_numbered(l, i);
    serve_reqlog_close(l);
    char *r1 = serve_reqlog_rotated_path(path, 1), *r2 = serve_reqlog_rotated_path(path, 2),
         *r3 = serve_reqlog_rotated_path(path, 3);
    expect_ids(path, 18, 2);
    expect_ids(r1, 15, 3);
    expect_ids(r2, 12, 3);
    assert_false(mp_path_exists(r3)); /* keep 2: older files are gone */

    /* reopening counts what the file holds: one more line fits, the next rotates */
    l = open_ok(path, 1, (int64_t)(3 * len), 2);
    write_numbered(l, 20);
    expect_ids(path, 18, 3);
    write_numbered(l, 21);
    serve_reqlog_close(l);
    expect_ids(path, 21, 1);
    expect_ids(r1, 18, 3);
    expect_ids(r2, 15, 3);

    /* one byte short of three lines: two per file */
    l = open_ok(path, 1, (int64_t)(3 * len - 1), 2);
    write_numbered(l, 22);
    write_numbered(l, 23);
    serve_reqlog_close(l);
    expect_ids(path, 23, 1);
    expect_ids(r1, 21, 2);

    /* a line longer than the limit gets a file of its own */
    l = open_ok(path, 1, (int64_t)(len / 2), 2);
    write_numbered(l, 24);
    write_numbered(l, 25);
    serve_reqlog_close(l);
    expect_ids(path, 25, 1);
    expect_ids(r1, 24, 1);
    expect_ids(r2, 23, 1);

    /* keep 0: the log is cut, no rotated file is made */
    mp_rm_rf(dir, NULL);
    assert_int_equal(mp_mkdir_p(dir, NULL), 0);
    l = open_ok(path, 1, (int64_t)(2 * len), 0);
    for (int i = 0; i < 5; i++) write_numbered(l, i);
    serve_reqlog_close(l);
    expect_ids(path, 4, 1);
    assert_false(mp_path_exists(r1));
    free(r1);
    free(r2);
    free(r3);
    rm_dir(dir);
    free(path);
}

/* ---- concurrent writers ------------------------------------------------------------------ */

#define WRITERS 8
#define PER_WRITER 500

typedef struct writer {
    serve_reqlog *l;
    int no;
    int failures;
} writer;

static void *write_loop(void *arg) {
    writer *w = arg;
    json_t *in = json_array();
    for (int k = 0; k < 40; k++) json_array_append_new(in, json_real(w->no * 1000 + k + 0.5));
    for (int i = 0; i < PER_WRITER; i++) {
        char id[32];
        snprintf(id, sizeof id, "w%d-%d", w->no, i);
        json_t *out = json_pack("[i]", i);
        serve_reqlog_entry en = {.time_ms = i, .id = id, .model = "m", .version = "1", .latency_ms = 0.5,
                                 .inputs = in, .outputs = out};
        bool written = false;
        if (serve_reqlog_write(w->l, &en, &written, NULL) != 0 || !written) w->failures++;
        json_decref(out);
    }
    json_decref(in);
    return NULL;
}

static void test_concurrent_writers(void **state) {
    (void)state;
    char *dir, *path = fresh_log(&dir);
    serve_reqlog *l = open_ok(path, 1, 64 << 10, 1000); /* rotating often, keeping everything */
    writer w[WRITERS];
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer){l, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, write_loop, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    serve_reqlog_close(l);

    unsigned char *seen = mp_xcalloc(WRITERS * PER_WRITER, 1);
    size_t total = 0, files = 0;
    for (int f = 0; f <= 1000; f++) {
        char *p = f ? serve_reqlog_rotated_path(path, f) : mp_xstrdup(path);
        json_t *lines = read_lines(p); /* fails on any line that is not whole JSON */
        free(p);
        if (!lines) break;
        files++;
        size_t i;
        json_t *line;
        json_array_foreach(lines, i, line) {
            int wn, k;
            assert_int_equal(sscanf(json_string_value(json_object_get(line, "id")), "w%d-%d", &wn, &k), 2);
            assert_int_equal(json_array_size(json_object_get(line, "inputs")), 40);
            assert_int_equal(json_integer_value(json_array_get(json_object_get(line, "outputs"), 0)), k);
            assert_false(seen[wn * PER_WRITER + k]);
            seen[wn * PER_WRITER + k] = 1;
            total++;
        }
        json_decref(lines);
    }
    print_message("%zu lines in %zu files\n", total, files);
    assert_int_equal(total, WRITERS * PER_WRITER);
    assert_true(files > 10);
    free(seen);
    rm_dir(dir);
    free(path);
}

/* ---- errors ----------------------------------------------------------------------------- */

static void test_errors(void **state) {
    (void)state;
    char *dir, *path = fresh_log(&dir);
    serve_reqlog_cfg cfg = {0.5, 1024, 3};
    serve_reqlog *l = (serve_reqlog *)1;
    mp_err e;

    /* a missing directory, and a path through a file, are said to be missing */
    char *missing = mp_xasprintf("%s/nope/requests.log", dir);
    assert_int_equal(serve_reqlog_open(missing, &cfg, &l, &e), MP_ENOENT);
    assert_null(l);
    assert_non_null(strstr(e.msg, missing));
    assert_non_null(strstr(e.msg, "create its directory"));
    free(missing);
    assert_int_equal(mp_write_file_atomic(path, "x\n", 2, NULL), 0);
    char *through = mp_xasprintf("%s/requests.log", path);
    assert_int_equal(serve_reqlog_open(through, &cfg, &l, &e), MP_ENOENT);
    free(through);
    unlink(path);

    /* a directory where the file should be */
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(serve_reqlog_open(path, &cfg, &l, &e), MP_EIO);
    assert_non_null(strstr(e.msg, path));
    rmdir(path);

    /* a read-only directory (root writes anyway: then there is nothing to see) */
    char *ro = mp_xasprintf("%s/ro", dir), *ro_log = mp_xasprintf("%s/ro/requests.log", dir);
    assert_int_equal(mkdir(ro, 0555), 0);
    if (access(ro, W_OK) != 0) {
        assert_int_equal(serve_reqlog_open(ro_log, &cfg, &l, &e), MP_EIO);
        assert_non_null(strstr(e.msg, "writable"));
    }
    chmod(ro, 0755);
    free(ro);
    free(ro_log);

    /* bad settings */
    serve_reqlog_cfg bad[] = {{1.5, 1024, 1}, {-0.1, 1024, 1}, {NAN, 1024, 1}, {0.5, 0, 1}, {0.5, 1024, -1},
                              {0.5, 1024, 1001}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(serve_reqlog_open(path, &bad[i], &l, &e), MP_EINVAL);
        assert_null(l);
    }
    assert_int_equal(serve_reqlog_open("", &cfg, &l, &e), MP_EINVAL);

    /* entries that cannot be written: no id, a string that is not UTF-8 */
    l = open_ok(path, 1, 1024, 1);
    serve_reqlog_entry en = {.model = "m"};
    bool w = true;
    assert_int_equal(serve_reqlog_write(l, &en, &w, &e), MP_EINVAL);
    assert_false(w);
    assert_non_null(strstr(e.msg, "request id"));
    en.id = "r1";
    en.version = "\xc3\x28";
    assert_int_equal(serve_reqlog_write(l, &en, &w, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "UTF-8"));
    en.version = "1";
    en.error = "\xff";
    assert_int_equal(serve_reqlog_write(l, &en, &w, &e), MP_EINVAL);
    en.error = NULL;
    assert_int_equal(serve_reqlog_write(l, &en, &w, &e), 0);
    assert_true(w);

    /* a rotation that fails (a directory is in the way) keeps the line and says so */
    char *r1 = serve_reqlog_rotated_path(path, 1), *inside = mp_xasprintf("%s/x", r1);
    assert_int_equal(mkdir(r1, 0755), 0);
    assert_int_equal(mp_write_file_atomic(inside, "x", 1, NULL), 0);
    int rc = 0;
    for (int i = 0; i < 40 && rc == 0; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i + 2);
        en.id = id;
        rc = serve_reqlog_write(l, &en, &w, &e);
    }
    assert_int_equal(rc, MP_EIO);
    assert_true(w);
    assert_non_null(strstr(e.msg, "cannot rotate request log"));
    /* the way cleared, the next line rotates */
    mp_rm_rf(r1, NULL);
    en.id = "last";
    assert_int_equal(serve_reqlog_write(l, &en, &w, &e), 0);
    serve_reqlog_close(l);
    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 0), "id")), "last");
    json_decref(lines);
    lines = read_lines(r1);
    assert_true(json_array_size(lines) > 1024 / 150);
    json_decref(lines);
    serve_reqlog_close(NULL);
    free(r1);
    free(inside);
    rm_dir(dir);
    free(path);
}

static void test_cfg_from_spec(void **state) {
    (void)state;
    spec_deployment d = {.request_log = {.sample_rate = 0.25, .max_bytes = 4096, .keep = 7}};
    serve_reqlog_cfg c;
    serve_reqlog_cfg_from_spec(&d, &c);
    assert_true(c.sample_rate == 0.25);
    assert_int_equal(c.max_bytes, 4096);
    assert_int_equal(c.keep, 7);
    char *p = serve_reqlog_rotated_path("/h/serving/d/requests.log", 3);
    assert_string_equal(p, "/h/serving/d/requests.log.3");
    free(p);
}

int main(void) {
    if (mp_init() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_format),
        cmocka_unit_test(test_sampling),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cfg_from_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
