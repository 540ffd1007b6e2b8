/* test_route.c — `mlplane route`'s pure parts: VERSION=URL upstream arguments
 * (good ones, trailing slashes, and each malformed kind with its message), and
 * a router whose pools are upstreams: one slot each, not scalable, probed
 * before any traffic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/serve.h"

static void parses(const char *arg, const char *version, const char *url) {
    char *v = NULL, *u = NULL;
    mp_err e = {0};
    int rc = serve_route_parse_upstream(arg, &v, &u, &e);
    if (rc) print_message("%s: %s\n", arg, e.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(v, version);
    assert_string_equal(u, url);
    free(v);
    free(u);
}

static void refuses(const char *arg, const char *why) {
    char *v = NULL, *u = NULL;
    mp_err e = {0};
    assert_int_equal(serve_route_parse_upstream(arg, &v, &u, &e), MP_EINVAL);
    assert_null(v);
    assert_null(u);
    if (!strstr(e.msg, why)) print_message("%s: %s\n", arg, e.msg);
    assert_non_null(strstr(e.msg, why));
}

static void test_good_upstreams(void **state) {
    (void)state;
    parses("1=http://bc-v1:8080", "1", "http://bc-v1:8080");
    parses("champion=http://bc-champion.ml.svc.cluster.local:8080/", "champion",
           "http://bc-champion.ml.svc.cluster.local:8080");
    parses("v2.1_rc-1=https://10.0.0.7//", "v2.1_rc-1", "https://10.0.0.7");
    parses("3=http://127.0.0.1:9000/prefix", "3", "http://127.0.0.1:9000/prefix");
}

static void test_bad_upstreams(void **state) {
    (void)state;
    refuses("1", "write VERSION=URL");
    refuses("=http://x", "write VERSION=URL");
    refuses("1=", "write VERSION=URL");
    refuses("a/b=http://x", "only letters, digits");
    refuses("1 2=http://x", "only letters, digits");
    refuses("1=ftp://x", "http:// or https://");
    refuses("1=x:8080", "http:// or https://");
    refuses("1=http://", "http:// or https://");
    refuses("1=http:///path", "http:// or https://");
    refuses("1=http://x/?a=b", "without a query");
    char longv[200];
    memset(longv, '1', 150);
    snprintf(longv + 150, sizeof longv - 150, "=http://x");
    refuses(longv, "longer than 100");
}

static void test_upstream_pools(void **state) {
    (void)state;
    serve_router *r = NULL;
    mp_err e = {0};
    serve_router_opts o = {.url = "http://127.0.0.1:1/", .name = "bc", .version = "1"};
    assert_int_equal(serve_router_new(&o, &r, &e), 0);
    size_t idx = 0;
    assert_int_equal(serve_router_add_upstream(r, "http://127.0.0.1:2", "2", &idx, &e), 0);
    assert_int_equal(idx, 1);
    assert_int_equal(serve_router_add_upstream(r, "http://127.0.0.1:3", "2", &idx, &e), MP_EEXIST);
    /* no socket folder: replicas cannot be added to a router of upstreams */
    assert_int_not_equal(serve_router_add_version(r, "m.json", "4", 1, &idx, &e), 0);
    /* an upstream is scaled where it runs */
    assert_int_equal(serve_router_set_replicas(r, 1, 3, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "http://127.0.0.1:2"));
    serve_router_snapshot *st = malloc(sizeof *st);
    serve_router_stats(r, st);
    assert_int_equal(st->npools, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(st->pools[i].desired, 1);
        assert_int_equal(st->pools[i].nreplicas, 1);
        assert_int_equal(st->pools[i].ready, 0); /* not probed yet: no traffic */
        assert_int_equal(st->pools[i].starting, 1);
    }
    free(st);
    assert_false(serve_router_ready(r));
    serve_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_upstreams),
        cmocka_unit_test(test_bad_upstreams),
        cmocka_unit_test(test_upstream_pools),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
