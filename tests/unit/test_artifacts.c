/* test_artifacts.c — unit tests of the MLflow artifact proxy (src/track/artifacts.c):
 * upload/download round trip of a binary file, listing, deletion, and the paths
 * that must be refused (.., absolute, encoded traversal, symbolic links out of
 * the root). Handlers are called through the route table with mp_http_req
 * structs; each test has its own home under $MLPLANE_TEST_TMP. Single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "track/track.h"
#include "unit_helpers.h"

#define PREFIX "/api/2.0/mlflow-artifacts/artifacts"

typedef struct fx {
    char *home;
    char *outside; /* a directory next to the home, outside the artifact root */
} fx;

static int setup(void **state) {
    fx *f = mp_xcalloc(1, sizeof *f);
    char *dir = ut_scratch_dir("artifacts");
    f->home = mp_xasprintf("%s/home", dir);
    f->outside = mp_xasprintf("%s/outside", dir);
    free(dir);
    assert_int_equal(mp_mkdir_p(f->home, NULL), 0);
    assert_int_equal(mp_mkdir_p(f->outside, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    char *dir = mp_path_dir(f->home);
    mp_rm_rf(dir, NULL);
    free(dir);
    free(f->home);
    free(f->outside);
    free(f);
    return 0;
}

typedef struct result {
    int status;
    json_t *json;     /* NULL for a file response */
    char *file_path;  /* set for downloads */
    char content_type[96];
    char disposition[512]; /* the Content-Disposition header, "" when none */
} result;

/* Calls METHOD PREFIX<suffix> with an optional body and a "path" query parameter. */
static result call(fx *f, const char *method, const char *suffix, const void *body, size_t len, const char *qpath) {
    char full[1024];
    snprintf(full, sizeof full, "%s%s", PREFIX, suffix);
    size_t n;
    const mp_http_route *routes = track_artifact_routes(&n);
    mp_http_match mm;
    bool known;
    const mp_http_route *r = mp_http_route_find(routes, n, method, full, &mm, &known);
    if (!r) fail_msg("no route for %s %s", method, full);
    mp_http_kv kv[1] = {{"path", qpath}};
    mp_http_req req = {.method = method, .path = full, .tail = mm.tail, .params = mm.params, .nparams = mm.nparams, .query = kv, .nquery = qpath ? 1 : 0,
                       .body = body ? body : "", .body_len = len, .home = f->home};
    mp_http_resp resp;
    mp_http_resp_init(&resp);
    r->fn(&req, &resp);
    result out = {.status = resp.status};
    mp_strlcpy(out.content_type, resp.content_type, sizeof out.content_type);
    for (int i = 0; i < resp.nheaders; i++)
        if (strcmp(resp.headers[i].name, "Content-Disposition") == 0)
            mp_strlcpy(out.disposition, resp.headers[i].value, sizeof out.disposition);
    if (resp.file_path) out.file_path = mp_xstrdup(resp.file_path);
    else out.json = json_loads(resp.body.data ? resp.body.data : "", 0, NULL);
    mp_http_resp_free(&resp);
    return out;
}

static void result_free(result *r) {
    json_decref(r->json);
    free(r->file_path);
}

static void expect_error(fx *f, const char *method, const char *suffix, const char *qpath, int status,
                         const char *code) {
    result r = call(f, method, suffix, "x", 1, qpath);
    const char *c = json_string_value(json_object_get(r.json, "error_code"));
    if (r.status != status || !c || strcmp(c, code) != 0)
        fail_msg("%s %s (path=%s): got %d %s, want %d %s", method, suffix, qpath ? qpath : "", r.status, c ? c : "-",
                 status, code);
    result_free(&r);
}

static void test_roundtrip_binary(void **state) {
    fx *f = *state;
    unsigned char data[70000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)((i * 131 + 7) % 256);
    data[10] = 0;
    result r = call(f, "PUT", "/1/abc/artifacts/model/weights.bin", data, sizeof data, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_object_size(r.json), 0);
    result_free(&r);

    r = call(f, "GET", "/1/abc/artifacts/model/weights.bin", NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/octet-stream");
    assert_non_null(r.file_path);
    char *got;
    size_t len;
    assert_int_equal(mp_read_file(r.file_path, &got, &len, NULL), 0);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(got, data, sizeof data);
    free(got);
    result_free(&r);

    /* overwrite, then an empty file */
    r = call(f, "PUT", "/1/abc/artifacts/model/weights.bin", "new", 3, NULL);
    assert_int_equal(r.status, 200);
    result_free(&r);
    r = call(f, "PUT", "/1/abc/artifacts/empty.txt", NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    result_free(&r);
    r = call(f, "GET", "/1/abc/artifacts/model/weights.bin", NULL, 0, NULL);
    assert_int_equal(mp_read_file(r.file_path, &got, &len, NULL), 0);
    assert_int_equal(len, 3);
    free(got);
    result_free(&r);
}

static void test_list(void **state) {
    fx *f = *state;
    result r = call(f, "PUT", "/exp/run/b.txt", "hello", 5, NULL);
    result_free(&r);
    r = call(f, "PUT", "/exp/run/a/model.pkl", "xy", 2, NULL);
    result_free(&r);
    r = call(f, "GET", "", NULL, 0, "exp/run");
    assert_int_equal(r.status, 200);
    json_t *files = json_object_get(r.json, "files");
    assert_int_equal(json_array_size(files), 2);
    json_t *a = json_array_get(files, 0), *b = json_array_get(files, 1);
    assert_string_equal(json_string_value(json_object_get(a, "path")), "a");
    assert_true(json_is_true(json_object_get(a, "is_dir")));
    assert_null(json_object_get(a, "file_size"));
    assert_string_equal(json_string_value(json_object_get(b, "path")), "b.txt");
    assert_true(json_is_false(json_object_get(b, "is_dir")));
    assert_int_equal(json_integer_value(json_object_get(b, "file_size")), 5);
    result_free(&r);
    /* the root, a missing directory, a file */
    r = call(f, "GET", "", NULL, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "files")), 1);
    result_free(&r);
    r = call(f, "GET", "", NULL, 0, "nope");
    assert_int_equal(r.status, 200);
    assert_null(json_object_get(r.json, "files"));
    result_free(&r);
    r = call(f, "GET", "", NULL, 0, "exp/run/b.txt");
    assert_int_equal(r.status, 200);
    assert_null(json_object_get(r.json, "files"));
    result_free(&r);
}

static void test_delete(void **state) {
    fx *f = *state;
    result r = call(f, "PUT", "/d/x/f1", "1", 1, NULL);
    result_free(&r);
    r = call(f, "PUT", "/d/x/f2", "2", 1, NULL);
    result_free(&r);
    r = call(f, "DELETE", "/d/x/f1", NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    result_free(&r);
    expect_error(f, "GET", "/d/x/f1", NULL, 404, "RESOURCE_DOES_NOT_EXIST");
    expect_error(f, "DELETE", "/d/x/f1", NULL, 404, "RESOURCE_DOES_NOT_EXIST");
    r = call(f, "DELETE", "/d/x/", NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    result_free(&r);
    expect_error(f, "GET", "/d/x/f2", NULL, 404, "RESOURCE_DOES_NOT_EXIST");
    expect_error(f, "DELETE", "/", NULL, 400, "INVALID_PARAMETER_VALUE");
    char *root = mp_xasprintf("%s/artifacts", f->home);
    assert_true(mp_is_dir(root));
    free(root);
}

static void test_traversal_refused(void **state) {
    fx *f = *state;
    char *secret = mp_xasprintf("%s/secret", f->outside);
    assert_int_equal(mp_write_file_atomic(secret, "s", 1, NULL), 0);
    const char *bad[] = {"/../outside/secret", "/a/../../outside/secret", "/..", "//etc/passwd",
                         "/%2e%2e/outside/secret", "/a/%252e%252e/%252e%252e/x", "/a/..%2f..%2fx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_error(f, "GET", bad[i], NULL, 400, "INVALID_PARAMETER_VALUE");
        expect_error(f, "PUT", bad[i], NULL, 400, "INVALID_PARAMETER_VALUE");
        expect_error(f, "DELETE", bad[i], NULL, 400, "INVALID_PARAMETER_VALUE");
    }
    expect_error(f, "GET", "", "../outside", 400, "INVALID_PARAMETER_VALUE");
    expect_error(f, "GET", "", "/etc", 400, "INVALID_PARAMETER_VALUE");
    expect_error(f, "PUT", "/", NULL, 400, "INVALID_PARAMETER_VALUE");
    expect_error(f, "GET", "/", NULL, 400, "INVALID_PARAMETER_VALUE");
    expect_error(f, "GET", "/missing.bin", NULL, 404, "RESOURCE_DOES_NOT_EXIST");

    /* symbolic links that lead out of the root */
    result r = call(f, "PUT", "/in/ok.txt", "ok", 2, NULL);
    result_free(&r);
    char *link_dir = mp_xasprintf("%s/artifacts/in/out", f->home);
    char *link_file = mp_xasprintf("%s/artifacts/in/secret", f->home);
    assert_int_equal(symlink(f->outside, link_dir), 0);
    assert_int_equal(symlink(secret, link_file), 0);
    expect_error(f, "GET", "/in/secret", NULL, 400, "INVALID_PARAMETER_VALUE");
    expect_error(f, "GET", "/in/out/secret", NULL, 400, "INVALID_PARAMETER_VALUE");
    expect_error(f, "PUT", "/in/out/new.txt", NULL, 400, "INVALID_PARAMETER_VALUE");
    expect_error(f, "PUT", "/in/out/sub/new.txt", NULL, 400, "INVALID_PARAMETER_VALUE");
    expect_error(f, "DELETE", "/in/out/secret", NULL, 400, "INVALID_PARAMETER_VALUE");
    expect_error(f, "GET", "", "in/out", 400, "INVALID_PARAMETER_VALUE");
    char *made = mp_xasprintf("%s/new.txt", f->outside);
    assert_false(mp_path_exists(made));
    free(made);
    /* listing the directory leaves out the links that lead out */
    r = call(f, "GET", "", NULL, 0, "in");
    assert_int_equal(json_array_size(json_object_get(r.json, "files")), 1);
    result_free(&r);
    /* deleting a link removes the link, not what it points to */
    r = call(f, "DELETE", "/in/secret", NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    result_free(&r);
    assert_true(mp_path_exists(secret));
    /* a directory is not a file */
    expect_error(f, "GET", "/in", NULL, 400, "INVALID_PARAMETER_VALUE");
    expect_error(f, "PUT", "/in", NULL, 400, "INVALID_PARAMETER_VALUE");
    free(link_dir);
    free(link_file);
    free(secret);
}

/* Names no artifact may have: backslashes, control bytes (a CR/LF would reach the
 * Content-Disposition header), invalid UTF-8 (U+FFFD, the engine's stand-in for it);
 * raw and %-encoded. An upload onto a link is refused and the link kept. */
static void test_hostile_names_refused(void **state) {
    fx *f = *state;
    const char *bad[] = {"/a\\..\\..\\outside\\x", "/..%5c..%5cx", "/%5C", "/a\rX-Injected: yes", "/a%0d%0aX-Injected: yes",
                         "/a%0ax", "/a\x7f", "/a%7f", "/%09tab", "/\xef\xbf\xbd\xef\xbf\xbd/x", "/%c0%ae%c0%ae/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_error(f, "GET", bad[i], NULL, 400, "INVALID_PARAMETER_VALUE");
        expect_error(f, "PUT", bad[i], NULL, 400, "INVALID_PARAMETER_VALUE");
        expect_error(f, "DELETE", bad[i], NULL, 400, "INVALID_PARAMETER_VALUE");
        expect_error(f, "GET", "", bad[i] + 1, 400, "INVALID_PARAMETER_VALUE");
    }
    char *root = mp_xasprintf("%s/artifacts", f->home);
    mp_strv names = {0};
    DIR *d = opendir(root);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') mp_strv_push(&names, de->d_name);
    if (d) closedir(d);
    assert_int_equal(names.n, 0); /* nothing was written */
    mp_strv_free(&names);

    /* an upload onto a link: refused, the link and its target as they were */
    char *secret = mp_xasprintf("%s/secret", f->outside);
    assert_int_equal(mp_write_file_atomic(secret, "s", 1, NULL), 0);
    char *link = mp_xasprintf("%s/link", root);
    assert_int_equal(symlink(secret, link), 0);
    expect_error(f, "PUT", "/link", NULL, 400, "INVALID_PARAMETER_VALUE");
    struct stat sb;
    assert_int_equal(lstat(link, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(mp_read_file(secret, &data, &len, NULL), 0);
    assert_int_equal(len, 1);
    free(data);

    /* a name with a quote and a semicolon stays one quoted filename */
    result r = call(f, "PUT", "/we\"ird; x=y.txt", "q", 1, NULL);
    assert_int_equal(r.status, 200);
    result_free(&r);
    r = call(f, "GET", "/we\"ird; x=y.txt", NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.disposition, "attachment; filename=\"we\\\"ird; x=y.txt\"");
    result_free(&r);
    free(link);
    free(secret);
    free(root);
}

/* A response header's value never carries a CR or LF (a header injection). */
static void test_header_values_cleaned(void **state) {
    (void)state;
    mp_http_resp resp;
    mp_http_resp_init(&resp);
    mp_http_header_add(&resp, "X-Model-Name", "m\r\nX-Injected: yes\x7f\tend");
    assert_int_equal(resp.nheaders, 1);
    assert_string_equal(resp.headers[0].value, "m  X-Injected: yes \tend");
    mp_http_resp_free(&resp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_binary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_traversal_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_names_refused, setup, teardown),
        cmocka_unit_test(test_header_values_cleaned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
