/* test_router.c — the router of `mlplane serve --replicas` in-process, with no
 * replica process: its pure parts (which replica gets a request, which one a
 * shrinking pool removes, the restart backoff, histogram buckets, label and
 * path encoding), its own endpoints (health, /metrics as Prometheus text,
 * /admin/replicas), the hold of a request while nothing is ready, and the
 * forwarding itself against a fake replica (an HTTP engine on the unix socket
 * of slot 0, marked ready by hand): method, path, query, body, headers and
 * status go through unchanged, a 5xx is returned as is, and a replica that
 * refuses connections is taken out of traffic. Uses MLPLANE_TEST_TMP. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve/router_int.h"

static char g_dir[4096];

static int setup_all(void **state) {
    (void)state;
    const char *tmp = getenv("MLPLANE_TEST_TMP");
    if (!tmp) {
        fprintf(stderr, "MLPLANE_TEST_TMP must be set (run through ctest)\n");
        return -1;
    }
    /* A short folder: socket addresses hold 107 bytes. */
    snprintf(g_dir, sizeof g_dir, "/tmp/mlplane-test-router-%d", (int)getpid());
    mp_err e = {0};
    return mp_rm_rf(g_dir, &e) == 0 && mp_mkdir_p(g_dir, &e) == 0 ? 0 : -1;
}

static int teardown_all(void **state) {
    (void)state;
    mp_rm_rf(g_dir, NULL);
    return 0;
}

/* ---- pure parts ------------------------------------------------------------------------ */

static void test_pick(void **state) {
    (void)state;
    assert_int_equal(serve__pick(NULL, 0, 0), -1);
    int none[] = {-1, -1};
    assert_int_equal(serve__pick(none, 2, 5), -1);
    /* equals: round-robin as start moves on */
    int eq[] = {0, 0, 0};
    for (unsigned s = 0; s < 6; s++) assert_int_equal(serve__pick(eq, 3, s), (int)(s % 3));
    /* the not-ready one is skipped; the others alternate */
    int skip[] = {-1, 4, 4};
    assert_int_equal(serve__pick(skip, 3, 0), 1);
    assert_int_equal(serve__pick(skip, 3, 1), 1);
    assert_int_equal(serve__pick(skip, 3, 2), 2);
    /* the least loaded wins wherever the scan starts */
    int least[] = {3, 1, 2, 7};
    for (unsigned s = 0; s < 4; s++) assert_int_equal(serve__pick(least, 4, s), 1);
    int least2[] = {2, 5, 2, 0};
    assert_int_equal(serve__pick(least2, 4, 0), 3);
}

static void test_pick_victim(void **state) {
    (void)state;
    serve__state st[] = {SERVE__READY, SERVE__READY, SERVE__STARTING, SERVE__RESTARTING, SERVE__DRAINING, SERVE__EMPTY};
    int load[] = {0, 0, 0, 0, 0, 0};
    assert_int_equal(serve__pick_victim(st, load, 6), 3); /* no process first */
    st[3] = SERVE__EMPTY;
    assert_int_equal(serve__pick_victim(st, load, 6), 2); /* then one not ready yet */
    st[2] = SERVE__DRAINING;
    assert_int_equal(serve__pick_victim(st, load, 6), 1); /* then the highest idle ready one */
    load[1] = 3;
    assert_int_equal(serve__pick_victim(st, load, 6), 0); /* ... the least busy */
    serve__state gone[] = {SERVE__DRAINING, SERVE__EMPTY};
    assert_int_equal(serve__pick_victim(gone, load, 2), -1);
}

static void test_backoff(void **state) {
    (void)state;
    const int64_t want[] = {100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000};
    for (int i = 0; i < 9; i++) assert_int_equal(serve__backoff_ms(i), want[i]);
    assert_int_equal(serve__backoff_ms(1000), 10000);
    assert_int_equal(serve__backoff_failures(5, 29999), 5);
    assert_int_equal(serve__backoff_failures(5, 30000), 0);
    /* the schedule of a replica that keeps dying at once, then one that stayed up */
    int f = 0;
    int64_t got[5];
    for (int i = 0; i < 4; i++) {
        f = serve__backoff_failures(f, 50);
        got[i] = serve__backoff_ms(f++);
    }
    f = serve__backoff_failures(f, 45000);
    got[4] = serve__backoff_ms(f++);
    assert_int_equal(got[0], 100);
    assert_int_equal(got[1], 200);
    assert_int_equal(got[2], 400);
    assert_int_equal(got[3], 800);
    assert_int_equal(got[4], 100);
}

static void test_buckets_labels_paths(void **state) {
    (void)state;
    assert_int_equal(mp_prom_bucket(0), 0);
    assert_int_equal(mp_prom_bucket(0.0005), 0);
    assert_int_equal(mp_prom_bucket(0.0006), 1);
    assert_int_equal(mp_prom_bucket(30), MP_PROM_NBUCKETS - 1);
    assert_int_equal(mp_prom_bucket(31), MP_PROM_NBUCKETS);
    mp_buf b;
    mp_buf_init(&b);
    mp_prom_label_value(&b, "a\"b\\c\nd");
    assert_string_equal(b.data, "a\\\"b\\\\c\\nd");
    mp_buf_reset(&b);
    serve__encode_path(&b, "/v2/models/a b?#%\xc3\xa9/infer");
    assert_string_equal(b.data, "/v2/models/a%20b%3F%23%25%C3%A9/infer");
    mp_buf_free(&b);
}

/* ---- the router in-process ---------------------------------------------------------------- */

static serve_router *new_router(int ready_timeout_ms) {
    serve_router_opts o = {.ref = "/nonexistent/model.json", .name = "m", .version = "v1", .replicas = 0,
                           .sock_dir = g_dir, .ready_timeout_ms = ready_timeout_ms};
    serve_router *r = NULL;
    mp_err e = {0};
    assert_int_equal(mp_mkdir_p(g_dir, &e), 0); /* serve_router_free removes it */
    assert_int_equal(serve_router_new(&o, &r, &e), 0);
    return r;
}

static int call(serve_router *r, const char *method, const char *path, const mp_http_kv *q, size_t nq, const char *body,
                mp_http_resp *resp) {
    mp_http_req req = {.method = method, .path = path, .query = q, .nquery = nq, .body = body ? body : "",
                       .body_len = body ? strlen(body) : 0, .content_type = body ? "application/json" : NULL};
    mp_http_resp_init(resp);
    serve_router_handle(r, &req, resp);
    return resp->status;
}

/* Every line of a Prometheus text body is a comment or `name{labels} value`. */
static void assert_exposition(const char *text) {
    char *copy = mp_xstrdup(text), *save = NULL;
    int series = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            assert_true(mp_str_starts(line, "# HELP mlplane_") || mp_str_starts(line, "# TYPE mlplane_"));
            continue;
        }
        char *brace = strchr(line, '{'), *close = strrchr(line, '}');
        assert_non_null(brace);
        assert_non_null(close);
        assert_true(close[1] == ' ');
        char *end;
        strtod(close + 2, &end);
        assert_true(*end == '\0' && end != close + 2);
        series++;
    }
    assert_true(series > 10);
    free(copy);
}

static void test_own_endpoints(void **state) {
    (void)state;
    serve_router *r = new_router(150);
    mp_http_resp resp;
    assert_int_equal(call(r, "GET", "/v2/health/live", NULL, 0, NULL, &resp), 200);
    mp_http_resp_free(&resp);
    assert_int_equal(call(r, "GET", "/v2/health/ready", NULL, 0, NULL, &resp), 400); /* no replica ready */
    assert_string_equal(resp.body.data, "{\"ready\":false}");
    mp_http_resp_free(&resp);

    /* nothing ready: held for the ready timeout, then 503 */
    int64_t t0 = mp_mono_ms();
    assert_int_equal(call(r, "POST", "/v2/models/m/infer", NULL, 0, "{}", &resp), 503);
    assert_true(mp_mono_ms() - t0 >= 140);
    assert_non_null(strstr(resp.body.data, "no replica of model m version v1 became ready within 150 ms"));
    mp_http_resp_free(&resp);

    mp_http_kv bad[] = {{"n", "x"}}, big[] = {{"n", "65"}}, two[] = {{"n", "2"}}, badv[] = {{"n", "1"}, {"version", "v9"}};
    assert_int_equal(call(r, "POST", "/admin/replicas", bad, 1, NULL, &resp), 400);
    mp_http_resp_free(&resp);
    assert_int_equal(call(r, "POST", "/admin/replicas", big, 1, NULL, &resp), 400);
    mp_http_resp_free(&resp);
    assert_int_equal(call(r, "POST", "/admin/replicas", badv, 2, NULL, &resp), 404);
    mp_http_resp_free(&resp);
    assert_int_equal(call(r, "POST", "/admin/replicas", two, 1, NULL, &resp), 200);
    mp_http_resp_free(&resp);
    assert_int_equal(call(r, "DELETE", "/admin/replicas", NULL, 0, NULL, &resp), 405);
    mp_http_resp_free(&resp);
    assert_int_equal(call(r, "GET", "/admin/replicas/", NULL, 0, NULL, &resp), 200);
    json_t *j = json_loads(resp.body.data, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "versions"), 0), "desired")), 2);
    json_decref(j);
    mp_http_resp_free(&resp);

    assert_int_equal(call(r, "GET", "/metrics", NULL, 0, NULL, &resp), 200);
    assert_true(mp_str_starts(resp.content_type, "text/plain; version=0.0.4"));
    assert_non_null(strstr(resp.body.data, "mlplane_serve_requests_total{version=\"v1\",code=\"503\"} 1\n"));
    assert_non_null(strstr(resp.body.data, "mlplane_serve_request_duration_seconds_bucket{version=\"v1\",le=\"+Inf\"} 1\n"));
    assert_non_null(strstr(resp.body.data, "mlplane_serve_replicas{version=\"v1\",state=\"ready\"} 0\n"));
    assert_exposition(resp.body.data);
    mp_http_resp_free(&resp);

    size_t idx = 0;
    mp_err e = {0};
    assert_int_equal(serve_router_add_version(r, "/nonexistent/b.json", "v2", 0, &idx, &e), 0);
    assert_int_equal(idx, 1);
    assert_int_equal(serve_router_add_version(r, "/nonexistent/b.json", "v2", 0, &idx, &e), MP_EEXIST);
    serve_router_free(r);
}

/* ---- forwarding, against a fake replica --------------------------------------------------------- */

/* Echoes what it got as JSON; /status/N answers N. */
static void fake_handle(void *cls, const mp_http_req *req, mp_http_resp *resp) {
    (void)cls;
    const char *x = mp_http_req_header(req, "X-Test"), *q = mp_http_query(req, "q");
    int status = mp_str_starts(req->path, "/status/") ? atoi(req->path + 8) : 200;
    mp_http_json(resp, status, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "method", req->method, "path", req->path, "body",
                                        req->body, "ctype", req->content_type ? req->content_type : "", "x",
                                        x ? x : "", "q", q ? q : ""));
    mp_http_header_add(resp, "X-Model-Version", "fake-1");
}

static void fake_error(void *cls, mp_http_resp *resp, int status, const char *code, const char *msg) {
    (void)cls, (void)code;
    mp_http_json(resp, status, json_pack("{s:s}", "error", msg));
}

static mp_httpd *fake_start(serve_router *r) {
    mp_httpd_opts o = {.threads = 2, .handler = fake_handle, .error = fake_error};
    char listen[200];
    snprintf(listen, sizeof listen, "unix:%s", r->pools[0].rep[0].sock);
    o.listen = listen;
    mp_httpd *h = NULL;
    mp_err e = {0};
    assert_int_equal(mp_httpd_start(&o, &h, &e), 0);
    pthread_mutex_lock(&r->mu);
    r->pools[0].rep[0].state = SERVE__READY;
    r->pools[0].rep[0].gen = 1;
    r->pools[0].nslots = 1;
    pthread_mutex_unlock(&r->mu);
    return h;
}

static const char *header_of(const mp_http_resp *resp, const char *name) {
    for (int i = 0; i < resp->nheaders; i++)
        if (strcmp(resp->headers[i].name, name) == 0) return resp->headers[i].value;
    return NULL;
}

static void test_forwarding(void **state) {
    (void)state;
    serve_router *r = new_router(200);
    mp_httpd *fake = fake_start(r);
    mp_http_resp resp;

    mp_http_kv q[] = {{"q", "a b&c=d"}};
    assert_int_equal(call(r, "POST", "/v2/models/m m/infer", q, 1, "{\"inputs\": []}", &resp), 200);
    json_t *j = json_loads(resp.body.data, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/v2/models/m m/infer");
    assert_string_equal(json_string_value(json_object_get(j, "body")), "{\"inputs\": []}");
    assert_string_equal(json_string_value(json_object_get(j, "ctype")), "application/json");
    assert_string_equal(json_string_value(json_object_get(j, "q")), "a b&c=d");
    json_decref(j);
    assert_string_equal(resp.content_type, "application/json");
    assert_non_null(header_of(&resp, "X-Model-Version"));
    assert_string_equal(header_of(&resp, "X-Model-Version"), "fake-1");
    mp_http_resp_free(&resp);

    /* GET after POST on the same handle, then HEAD, then a 5xx that is returned as is */
    assert_int_equal(call(r, "GET", "/v2", NULL, 0, NULL, &resp), 200);
    assert_non_null(strstr(resp.body.data, "\"method\":\"GET\""));
    mp_http_resp_free(&resp);
    assert_int_equal(call(r, "HEAD", "/v2", NULL, 0, NULL, &resp), 200);
    assert_int_equal(resp.body.len, 0);
    mp_http_resp_free(&resp);
    assert_int_equal(call(r, "GET", "/status/503", NULL, 0, NULL, &resp), 503);
    mp_http_resp_free(&resp);
    assert_int_equal(atomic_load(&r->pools[0].retries), 0);
    assert_int_equal(atomic_load(&r->pools[0].rep[0].completed), 4);

    /* the replica goes away: its socket refuses, it is taken out of traffic, the request waits and gets 503 */
    mp_httpd_stop(fake);
    assert_int_equal(call(r, "POST", "/v2/models/m/infer", NULL, 0, "{}", &resp), 503);
    mp_http_resp_free(&resp);
    assert_int_equal(atomic_load(&r->pools[0].refused), 1);
    assert_int_equal(r->pools[0].rep[0].state, SERVE__STARTING);
    serve_router_snapshot st;
    serve_router_stats(r, &st);
    assert_int_equal(st.pools[0].ready, 0);
    assert_int_equal(st.pools[0].starting, 1);
    assert_int_equal(st.pools[0].inflight, 0);
    serve_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick),
        cmocka_unit_test(test_pick_victim),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_buckets_labels_paths),
        cmocka_unit_test(test_own_endpoints),
        cmocka_unit_test(test_forwarding),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
