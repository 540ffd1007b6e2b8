/* test_api.c — the pure helpers the server relies on (listen addresses, sizes,
 * UTF-8 cleaning of logs, from util), src/api's JSON views, and the /api/v1 handlers called in-process on a
 * scratch store: routing inside /api/v1/runs/{id}/..., error shapes, garbage
 * query parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "api/api.h"

static void test_listen_addresses(void **state) {
    (void)state;
    static const struct {
        const char *in;
        const char *host;
        int port;
    } good[] = {
        {"127.0.0.1:5000", "127.0.0.1", 5000}, {":8080", "127.0.0.1", 8080}, {"0", "127.0.0.1", 0},
        {"0.0.0.0:0", "0.0.0.0", 0},           {"[::1]:5000", "::1", 5000},  {"localhost:65535", "localhost", 65535},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char host[64];
        int port = -1;
        mp_err e = {0};
        assert_int_equal(mp_http_parse_listen(good[i].in, host, sizeof host, &port, &e), 0);
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
    static const char *const bad[] = {"", "host:", "host:65536", "host:-1", "host:5x", "::1:5000", "[::1]5000", "[]:1",
                                      "bad host:1", "a/b:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char host[64];
        int port;
        mp_err e = {0};
        assert_int_equal(mp_http_parse_listen(bad[i], host, sizeof host, &port, &e), MP_EINVAL);
        assert_true(strstr(e.msg, "listen") != NULL);
    }
    char tiny[4];
    int port;
    assert_int_equal(mp_http_parse_listen("longhost:1", tiny, sizeof tiny, &port, NULL), MP_EINVAL);
}

static void test_sizes(void **state) {
    (void)state;
    size_t v = 0;
    assert_int_equal(mp_parse_size("1024", &v, NULL), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(mp_parse_size("64Mi", &v, NULL), 0);
    assert_int_equal(v, (size_t)64 << 20);
    assert_int_equal(mp_parse_size("10M", &v, NULL), 0);
    assert_int_equal(v, 10000000);
    assert_int_equal(mp_parse_size("2Ki", &v, NULL), 0);
    assert_int_equal(v, 2048);
    static const char *const bad[] = {"", "0", "-1", "12Q", "Mi", "1.5Mi", "99999999999999999999999", "99999999999Gi"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mp_err e = {0};
        assert_int_equal(mp_parse_size(bad[i], &v, &e), MP_EINVAL);
        assert_true(e.msg[0] != '\0');
    }
}

static char *clean(const char *in, size_t n, bool partial_ok, size_t *held) {
    mp_buf b;
    mp_buf_init(&b);
    *held = mp_utf8_clean(&b, in, n, partial_ok);
    return mp_buf_steal(&b);
}

static void test_utf8_clean(void **state) {
    (void)state;
    size_t held;
    char *s = clean("plain ascii\n", 12, true, &held);
    assert_string_equal(s, "plain ascii\n");
    assert_int_equal(held, 0);
    free(s);
    s = clean("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", 14, true, &held); /* é ✓ 😀 */
    assert_string_equal(s, "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80");
    free(s);
    s = clean("a\xff" "b\xc0\xaf" "c", 6, true, &held); /* invalid byte, overlong "/" */
    assert_string_equal(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c");
    free(s);
    s = clean("\xed\xa0\x80", 3, true, &held); /* a UTF-16 surrogate */
    assert_int_equal(strlen(s), 9);
    free(s);
    s = clean("ok \xe2\x9c", 5, true, &held); /* a sequence cut at the end: held back */
    assert_string_equal(s, "ok ");
    assert_int_equal(held, 2);
    free(s);
    s = clean("ok \xe2\x9c", 5, false, &held); /* ... unless nothing more will come */
    assert_string_equal(s, "ok \xef\xbf\xbd");
    assert_int_equal(held, 0);
    free(s);
}

static void test_json_views(void **state) {
    (void)state;
    store_run r = {.id = "p-abcde", .pipeline = "p", .namespace_ = "default", .state = RUN_SUCCEEDED,
                   .params_json = "{\"a\":\"1\"}", .labels_json = "{\"team\":\"a\"}", .created_ms = 1000, .started_ms = 2000, .ended_ms = 5000,
                   .message = "bad \xff utf8", .parallel = 2};
    store_step steps[3] = {{.name = "s1", .state = STEP_SUCCEEDED, .exit_code = 0},
                           {.name = "s2", .state = STEP_SKIPPED, .exit_code = -1},
                           {.name = "s3", .state = STEP_CACHED, .exit_code = -1, .cached_from = "p-00000"}};
    json_t *o = api_run_json(&r, steps, 3);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "Succeeded");
    assert_int_equal(json_integer_value(json_object_get(o, "duration_ms")), 3000);
    assert_int_equal(json_integer_value(json_object_get(o, "steps_total")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "steps_done")), 2); /* Skipped is not done, Cached is */
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "params"), "a")), "1");
    assert_true(json_is_null(json_object_get(o, "message"))); /* not UTF-8: null rather than a broken object */
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "labels"), "team")), "a");
    json_decref(o);
    r.labels_json = NULL; /* a run recorded before labels were kept */
    o = api_run_json(&r, NULL, 0);
    assert_true(json_is_object(json_object_get(o, "labels")));
    assert_int_equal(json_object_size(json_object_get(o, "labels")), 0);
    json_decref(o);
    store_metric m[2] = {{.step = "s1", .key = "auc", .value = 0.9}, {.step = "s2", .key = "x", .value = 1}};
    o = api_step_json(&steps[0], m, 2);
    assert_true(json_is_null(json_object_get(o, "started")));
    assert_int_equal(json_object_size(json_object_get(o, "metrics")), 1);
    json_decref(o);
    store_event ev = {.id = 7, .run_id = "p-abcde", .time_ms = 1000, .type = "RunStarted"};
    o = api_event_json(&ev);
    assert_int_equal(json_integer_value(json_object_get(o, "id")), 7);
    assert_true(json_is_null(json_object_get(o, "step")));
    json_decref(o);
}

/* ---- handlers in-process ---------------------------------------------------------- */

typedef struct fixture {
    char *home;
    store *st;
} fixture;

static int setup(void **state) {
    const char *tmp = getenv("MLPLANE_TEST_TMP");
    char *base = mp_xasprintf("%s/test_api-XXXXXX", tmp ? tmp : "/tmp");
    mp_mkdir_p(tmp ? tmp : "/tmp", NULL);
    fixture *f = mp_xcalloc(1, sizeof *f);
    f->home = mkdtemp(base) ? base : NULL;
    assert_non_null(f->home);
    assert_int_equal(store_open_home(f->home, &f->st, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    f->st->m->close(f->st);
    mp_rm_rf(f->home, NULL);
    free(f->home);
    free(f);
    return 0;
}

/* Routes method+path through api_routes() as the server does; returns the status. */
static int call(fixture *f, const char *method, const char *path, const mp_http_kv *q, size_t nq, const char *body,
                json_t **out) {
    size_t n;
    const mp_http_route *routes = api_routes(&n);
    mp_http_match mm;
    bool known;
    const mp_http_route *r = mp_http_route_find(routes, n, method, path, &mm, &known);
    if (!r) return known ? 405 : 404;
    mp_http_req req = {.method = method, .path = path, .tail = mm.tail, .params = mm.params, .nparams = mm.nparams, .query = q, .nquery = nq, .body = body ? body : "",
                       .body_len = body ? strlen(body) : 0, .st = f->st, .home = f->home,
                       .base_url = "http://127.0.0.1:1"};
    mp_http_resp resp;
    mp_http_resp_init(&resp);
    r->fn(&req, &resp);
    json_error_t je;
    json_t *v = json_loadb(resp.body.data, resp.body.len, JSON_DECODE_ANY, &je);
    assert_non_null(v); /* every answer is JSON */
    if (resp.status >= 400) {
        assert_non_null(json_string_value(json_object_get(v, "error_code")));
        assert_non_null(json_string_value(json_object_get(v, "message")));
    }
    int status = resp.status;
    mp_http_resp_free(&resp);
    if (out) *out = v;
    else json_decref(v);
    return status;
}

static void test_v1_routes_and_errors(void **state) {
    fixture *f = *state;
    json_t *v = NULL;
    assert_int_equal(call(f, "GET", "/healthz", NULL, 0, NULL, NULL), 200);
    assert_int_equal(call(f, "GET", "/readyz", NULL, 0, NULL, NULL), 200);
    assert_int_equal(call(f, "GET", "/api/v1/runs", NULL, 0, NULL, &v), 200);
    assert_true(json_is_array(v) && json_array_size(v) == 0);
    json_decref(v);
    assert_int_equal(call(f, "GET", "/api/v1/runs/nope", NULL, 0, NULL, &v), 404);
    assert_string_equal(json_string_value(json_object_get(v, "error_code")), "RESOURCE_DOES_NOT_EXIST");
    json_decref(v);
    assert_int_equal(call(f, "GET", "/api/v1/runs/nope/frobnicate", NULL, 0, NULL, NULL), 404);
    assert_int_equal(call(f, "DELETE", "/api/v1/runs/nope", NULL, 0, NULL, NULL), 404); /* delete run: no such run */
    assert_int_equal(call(f, "PATCH", "/api/v1/runs/nope", NULL, 0, NULL, NULL), 405);
    assert_int_equal(call(f, "GET", "/api/v1/runs/nope/cancel", NULL, 0, NULL, NULL), 405);
    assert_int_equal(call(f, "PUT", "/api/v1/runs", NULL, 0, NULL, NULL), 405);
    assert_int_equal(call(f, "GET", "/api/v1/runs/", NULL, 0, NULL, NULL), 404);
    mp_http_kv q[] = {{"offset", "-3"}, {"step", "a"}};
    assert_int_equal(call(f, "GET", "/api/v1/runs/nope/logs", q, 2, NULL, NULL), 400);
    mp_http_kv q2[] = {{"limit", "x"}};
    assert_int_equal(call(f, "GET", "/api/v1/runs", q2, 1, NULL, NULL), 400);
    assert_int_equal(call(f, "POST", "/api/v1/runs/nope/cancel", NULL, 0, NULL, NULL), 404);
}

static void test_v1_submit_refuses_bad_input(void **state) {
    fixture *f = *state;
    static const char *const bodies[] = {
        "{bad",
        "[]",
        "{}",
        "{\"spec\": 3}",
        "{\"spec\": \"\"}",
        "{\"spec\": \"a\\u0000b\"}",
        "{\"spec\": \"kind: Pipeline\", \"parallel\": \"x\"}",
        "{\"spec\": \"kind: Pipeline\", \"parallel\": 99999}",
        "{\"spec\": \"kind: Pipeline\", \"params\": [1]}",
        "{\"spec\": \"kind: Pipeline\", \"params\": {\"a=b\": \"c\"}}",
        "{\"spec\": \"kind: Pipeline\", \"params\": {\"a\": {}}}",
        "{\"spec\": \"kind: Pipeline\"}",
        "{\"spec\": \": : : [\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        assert_int_equal(call(f, "POST", "/api/v1/runs", NULL, 0, bodies[i], NULL), 400);
    json_t *v = NULL;
    assert_int_equal(call(f, "POST", "/api/v1/runs", NULL, 0, "{\"spec\": \"apiVersion: x\\nkind: Pipeline\\n\"}", &v), 400);
    assert_true(json_array_size(json_object_get(v, "diagnostics")) >= 2);
    json_decref(v);
    char *dir = mp_xasprintf("%s/submitted", f->home);
    assert_false(mp_path_exists(dir)); /* nothing written for refused input */
    free(dir);
    assert_int_equal(call(f, "GET", "/api/v1/runs", NULL, 0, NULL, &v), 200);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
}

/* Drops table of the fixture's database through a connection of its own. */
static void drop_table(fixture *f, const char *table) {
    char *path = mp_xasprintf("%s/mlplane.db", f->home), *sql = mp_xasprintf("DROP TABLE %s", table);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
    free(path);
    free(sql);
}

/* A read that fails is a 500 with its message, not an empty list or a run without events. */
static void test_v1_failed_reads_reported(void **state) {
    fixture *f = *state;
    store_run r = {.id = "readfail-1", .pipeline = "p", .namespace_ = "default", .state = RUN_SUCCEEDED,
                   .spec_path = "/x/p.yaml", .spec_yaml = "kind: Pipeline\n", .params_json = "{}",
                   .created_ms = 1000, .ended_ms = 2000, .parallel = 1};
    mp_err e = {0};
    assert_int_equal(f->st->m->run_insert(f->st, &r, &e), 0);
    json_t *v = NULL;
    assert_int_equal(call(f, "GET", "/api/v1/runs/readfail-1", NULL, 0, NULL, &v), 200);
    assert_int_equal(json_array_size(json_object_get(v, "events")), 0);
    json_decref(v);

    drop_table(f, "events"); /* describe reads the run, its steps and metrics, then its events */
    assert_int_equal(call(f, "GET", "/api/v1/runs/readfail-1", NULL, 0, NULL, &v), 500);
    assert_string_equal(json_string_value(json_object_get(v, "error_code")), "INTERNAL_ERROR");
    assert_non_null(strstr(json_string_value(json_object_get(v, "message")), "events"));
    json_decref(v);

    drop_table(f, "steps"); /* the runs' list reads each run's steps */
    assert_int_equal(call(f, "GET", "/api/v1/runs", NULL, 0, NULL, &v), 500);
    assert_non_null(strstr(json_string_value(json_object_get(v, "message")), "steps"));
    json_decref(v);
}

int main(void) {
    if (mp_init() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_addresses),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_utf8_clean),
        cmocka_unit_test(test_json_views),
        cmocka_unit_test_setup_teardown(test_v1_routes_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_submit_refuses_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_failed_reads_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
