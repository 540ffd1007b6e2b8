/* test_audit.c — the audit log's chain (src/api/audit*.c): concurrent appends
 * from many threads and from a second handle on the same file (as a second
 * process would) chain into one log that verifies; a moved-away log starts a new
 * chain; signatures; a cut last line; and which requests the server's hook audits
 * (mutating ones, not read-only POSTs or reads; 401 and 403 always) with what
 * verb, resource and name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "api/api.h"
#include "api/api_int.h"

#define THREADS 8
#define PER_THREAD 40

static char *scratch_home(void) {
    const char *tmp = getenv("MLPLANE_TEST_TMP");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/audit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    mp_mkdir_p(tmp && *tmp ? tmp : "/tmp", NULL);
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return mp_xstrdup(d);
}

typedef struct worker {
    api_audit *a;
    int n;
} worker;

static void *append_many(void *arg) {
    worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char id[API_AUDIT_ID_MAX], name[32];
        api_audit_request_id(w->a, id);
        snprintf(name, sizeof name, "t%d-%d", w->n, i);
        api_audit_entry en = {.user = "ana", .source = "127.0.0.1", .method = "POST", .verb = "update",
                              .resource = "runs", .namespace_ = "default", .name = name, .status = 200,
                              .result = "allowed", .request_id = id};
        mp_err e = {0};
        assert_int_equal(api_audit_append(w->a, &en, &e), 0);
    }
    return NULL;
}

static void test_concurrent_and_two_handles(void **state) {
    (void)state;
    char *home = scratch_home();
    api_audit *a = NULL, *b = NULL;
    mp_err e = {0};
    assert_int_equal(api_audit_open(home, NULL, &a, &e), 0);
    assert_int_equal(api_audit_open(home, NULL, &b, &e), 0);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.a = i % 2 ? b : a, .n = i}; /* half through each handle: two writers on one file */
        pthread_create(&th[i], NULL, append_many, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    api_audit_close(a);
    api_audit_close(b);
    char *path = api_audit_path(home);
    api_audit_verdict v;
    assert_int_equal(api_audit_verify(path, NULL, &v, &e), 0);
    if (v.bad_line) fail_msg("line %zu: %s", v.bad_line, v.what);
    assert_int_equal(v.lines, THREADS * PER_THREAD);
    json_t *all = NULL;
    assert_int_equal(api_audit_entries(path, "ana", 0, &all, &e), 0);
    assert_int_equal(json_array_size(all), THREADS * PER_THREAD);
    json_decref(all);
    assert_int_equal(api_audit_entries(path, "bob", 0, &all, &e), 0);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
    free(path);
    mp_rm_rf(home, NULL);
    free(home);
}

static void append_one(api_audit *a, const char *name) {
    api_audit_entry en = {.method = "DELETE", .verb = "delete", .resource = "models", .name = name, .status = 200,
                          .result = "allowed", .request_id = "x"};
    mp_err e = {0};
    assert_int_equal(api_audit_append(a, &en, &e), 0);
}

static void test_signed_rotated_and_cut(void **state) {
    (void)state;
    char *home = scratch_home();
    char *key = mp_xasprintf("%s/k", home), *pubp = NULL;
    mp_err e = {0};
    assert_int_equal(api_audit_keygen(key, &pubp, &e), 0);
    free(pubp);
    pubp = NULL;
    assert_int_equal(api_audit_keygen(key, &pubp, &e), MP_EEXIST);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    char *pub2 = mp_xasprintf("%s.pub", key);
    assert_int_equal(api_audit_read_public_key(pub2, pk, &e), 0);
    api_audit *a = NULL;
    assert_int_equal(api_audit_open(home, key, &a, &e), 0);
    append_one(a, "m1");
    append_one(a, "m2");
    char *path = api_audit_path(home);
    api_audit_verdict v;
    assert_int_equal(api_audit_verify(path, pk, &v, &e), 0);
    assert_int_equal(v.bad_line, 0);
    assert_int_equal(v.signed_lines, 2);
    /* moved away: the next append starts a new chain at the same path */
    char *old = mp_xasprintf("%s.1", path);
    assert_int_equal(rename(path, old), 0);
    append_one(a, "m3");
    assert_int_equal(api_audit_verify(path, pk, &v, &e), 0);
    assert_int_equal(v.bad_line, 0);
    assert_int_equal(v.lines, 1);
    assert_int_equal(api_audit_verify(old, pk, &v, &e), 0);
    assert_int_equal(v.lines, 2);
    assert_int_equal(v.bad_line, 0);
    api_audit_close(a);
    /* a cut last line */
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(mp_read_file(old, &text, &len, &e), 0);
    assert_int_equal(mp_write_file_atomic(old, text, len - 10, &e), 0);
    assert_int_equal(api_audit_verify(old, pk, &v, &e), 0);
    assert_int_equal(v.bad_line, 2);
    assert_non_null(strstr(v.what, "newline"));
    /* an empty line */
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_append(&b, text, len);
    mp_buf_puts(&b, "\n");
    assert_int_equal(mp_write_file_atomic(old, b.data, b.len, &e), 0);
    assert_int_equal(api_audit_verify(old, NULL, &v, &e), 0);
    assert_int_equal(v.bad_line, 3);
    mp_buf_free(&b);
    free(text);
    free(old);
    free(path);
    free(pub2);
    free(pubp);
    free(key);
    mp_rm_rf(home, NULL);
    free(home);
}

/* Calls the hook on one request; returns the number of lines the log then has. */
static size_t hook(api_audit *a, const char *home, const char *method, const char *path, const char *route, int status,
                   const char *body, mp_http_resp *resp) {
    mp_http_req req = {.method = method, .path = path, .body = body, .body_len = strlen(body), .remote_addr = "::1",
                       .tail = ""};
    api_principal who = {0};
    mp_strlcpy(who.user, "ana", sizeof who.user);
    mp_strlcpy(who.namespace_, "team-a", sizeof who.namespace_);
    mp_http_resp_init(resp);
    resp->status = status;
    api__audit_request(a, &req, route, &who, resp);
    char *p = api_audit_path(home);
    json_t *all = NULL;
    mp_err e = {0};
    assert_int_equal(api_audit_entries(p, NULL, 0, &all, &e), 0);
    size_t n = json_array_size(all);
    json_decref(all);
    free(p);
    return n;
}

static void test_hook_decisions(void **state) {
    (void)state;
    char *home = scratch_home();
    api_audit *a = NULL;
    mp_err e = {0};
    assert_int_equal(api_audit_open(home, NULL, &a, &e), 0);
    mp_http_resp r;
    const char *A = "/api/2.0/mlflow/";
    char p[256];
    snprintf(p, sizeof p, "%sruns/search", A);
    assert_int_equal(hook(a, home, "POST", p, p, 200, "{}", &r), 0); /* a read-only POST */
    assert_int_equal(r.nheaders, 1);
    assert_string_equal(r.headers[0].name, "X-Request-Id");
    mp_http_resp_free(&r);
    assert_int_equal(hook(a, home, "GET", "/api/v1/runs", "/api/v1/runs", 200, "", &r), 0); /* a read */
    mp_http_resp_free(&r);
    assert_int_equal(hook(a, home, "POST", "/nothing", NULL, 404, "{}", &r), 0); /* no route */
    mp_http_resp_free(&r);
    assert_int_equal(hook(a, home, "GET", "/api/v1/runs", "/api/v1/runs", 403, "", &r), 1); /* denied read */
    mp_http_resp_free(&r);
    assert_int_equal(hook(a, home, "GET", "/nothing", NULL, 401, "", &r), 2); /* login failure, any path */
    mp_http_resp_free(&r);
    assert_int_equal(hook(a, home, "POST", "/ajax-api/2.0/mlflow/runs/log-batch", "/ajax-api/2.0/mlflow/runs/log-batch",
                          200, "{\"run_id\":\"r1\",\"metrics\":[]}", &r),
                     3);
    mp_http_resp_free(&r);
    assert_int_equal(hook(a, home, "DELETE", "/api/v1/objects/PriorityClass/high", "/api/v1/objects/{kind}/{name}", 200,
                          "", &r),
                     4);
    mp_http_resp_free(&r);
    snprintf(p, sizeof p, "%smodel-versions/delete", A);
    assert_int_equal(hook(a, home, "DELETE", p, p, 200, "{\"name\":\"bc\",\"version\":\"2\"}", &r), 5);
    mp_http_resp_free(&r);
    /* a large body: its name read from its first members */
    mp_buf big;
    mp_buf_init(&big);
    mp_buf_puts(&big, "{\"run_id\":\"r,2\",\"metrics\":[");
    for (int i = 0; i < 2000; i++) mp_buf_printf(&big, "%s{\"key\":\"m\",\"value\":%d}", i ? "," : "", i);
    mp_buf_puts(&big, "]}");
    snprintf(p, sizeof p, "%sruns/log-batch", A);
    assert_int_equal(hook(a, home, "POST", p, p, 200, big.data, &r), 6);
    mp_http_resp_free(&r);
    mp_buf_free(&big);
    api_audit_close(a);

    char *path = api_audit_path(home);
    json_t *all = NULL;
    assert_int_equal(api_audit_entries(path, NULL, 0, &all, &e), 0);
    static const char *const want[][5] = {
        {"list", "runs", "", "denied", "team-a"},   {"list", "", "", "denied", "team-a"},
        {"update", "runs", "r1", "allowed", "team-a"}, {"delete", "priorityclasses", "high", "allowed", "team-a"},
        {"delete", "models", "bc/2", "allowed", "team-a"}, {"update", "runs", "r,2", "allowed", "team-a"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_t *o = json_array_get(all, i);
        assert_string_equal(json_string_value(json_object_get(o, "verb")), want[i][0]);
        assert_string_equal(json_string_value(json_object_get(o, "resource")), want[i][1]);
        assert_string_equal(json_string_value(json_object_get(o, "name")), want[i][2]);
        assert_string_equal(json_string_value(json_object_get(o, "result")), want[i][3]);
        assert_string_equal(json_string_value(json_object_get(o, "namespace")), want[i][4]);
        assert_string_equal(json_string_value(json_object_get(o, "user")), "ana");
        assert_string_equal(json_string_value(json_object_get(o, "source")), "::1");
    }
    json_decref(all);
    api_audit_verdict v;
    assert_int_equal(api_audit_verify(path, NULL, &v, &e), 0);
    assert_int_equal(v.bad_line, 0);
    free(path);
    mp_rm_rf(home, NULL);
    free(home);
}

int main(void) {
    if (mp_init() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_and_two_handles),
        cmocka_unit_test(test_signed_rotated_and_cut),
        cmocka_unit_test(test_hook_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
