/* test_spec_deployment.c — kind: Deployment: every field read with its default,
 * the rules between fields (version or alias, replicas against autoscale and scale
 * to zero, canary and shadow versions), and each kind of mistake as a diagnostic at
 * its line:col, all of them collected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spec/spec.h"

#define API "apiVersion: mlplane.dev/v1\n"
/* A Deployment header; its spec's fields start on line 5, column 3. */
#define DEP API "kind: Deployment\nmetadata: {name: d}\nspec:\n"
/* The same with a model (line 5); further fields start on line 6. */
#define DEPM DEP "  model: {name: m, version: 3}\n"

#include "spec_helpers.h"

static const spec_deployment *only(const spec_file *f) {
    assert_int_equal(f->nobjs, 1);
    assert_int_equal(f->objs[0].kind, SPEC_KIND_DEPLOYMENT);
    return f->objs[0].u.deployment;
}

static void test_example_file(void **state) {
    (void)state;
    char *path = fixture("../../examples/serving/deployment.yaml");
    spec_diags d = {0};
    spec_file *f = NULL;
    int rc = spec_load_file(path, &f, &d);
    if (rc) dump(&d);
    assert_int_equal(rc, 0);
    const spec_deployment *dp = only(f);
    assert_string_equal(spec_kind_name(SPEC_KIND_DEPLOYMENT), "Deployment");
    assert_ptr_equal(spec_file_find(f, SPEC_KIND_DEPLOYMENT, "breast-cancer"), &f->objs[0]);
    assert_int_equal(spec_file_count(f, SPEC_KIND_DEPLOYMENT), 1);
    assert_string_equal(dp->meta.name, "breast-cancer");
    assert_string_equal(dp->model, "breast-cancer");
    assert_int_equal(dp->version.version, 1);
    assert_null(dp->version.alias);
    assert_true(dp->canary.set);
    assert_int_equal(dp->canary.target.version, 2);
    assert_int_equal(dp->canary.percent, 10);
    assert_false(dp->shadow.set);
    assert_string_equal(dp->sticky_header, "X-User");
    assert_int_equal(dp->min_replicas, 0);
    assert_int_equal(dp->max_replicas, 4);
    assert_true(dp->autoscale.set);
    assert_int_equal(dp->autoscale.metric, SPEC_SCALE_CONCURRENCY);
    assert_true(dp->autoscale.target == 8);
    assert_int_equal(dp->autoscale.scale_up_window_s, 0);
    assert_int_equal(dp->autoscale.scale_down_window_s, 300);
    assert_int_equal(dp->scale_to_zero_after_s, 600);
    assert_true(dp->request_log.sample_rate == 0.1);
    assert_int_equal(dp->request_log.max_bytes, 64LL << 20);
    assert_int_equal(dp->request_log.keep, 5);
    assert_string_equal(dp->listen, "127.0.0.1:8080");
    spec_file_free(f);
    spec_diags_free(&d);
    free(path);
}

static void test_defaults(void **state) {
    (void)state;
    spec_file *f = load_ok(DEP "  model: {name: Breast Cancer, alias: champion}\n");
    const spec_deployment *d = only(f);
    assert_string_equal(d->model, "Breast Cancer");
    assert_int_equal(d->version.version, 0);
    assert_string_equal(d->version.alias, "champion");
    assert_int_equal(d->version.pos.line, 5);
    assert_int_equal(d->version.pos.col, 39);
    assert_false(d->canary.set);
    assert_false(d->shadow.set);
    assert_false(d->autoscale.set);
    assert_int_equal(d->inference_auth, SPEC_INFERENCE_PUBLIC);
    assert_int_equal(d->min_replicas, 1);
    assert_int_equal(d->max_replicas, 1);
    assert_int_equal(d->scale_to_zero_after_s, 0);
    assert_null(d->sticky_header);
    assert_null(d->listen);
    assert_true(d->request_log.sample_rate == 0);
    assert_int_equal(d->request_log.max_bytes, 64LL << 20);
    assert_int_equal(d->request_log.keep, 5);
    assert_string_equal(d->meta.namespace_, "default");
    spec_file_free(f);

    /* shadow's sampleRate defaults to 1; autoscale's metric and windows to HPA's */
    f = load_ok(DEPM "  shadow: {alias: challenger}\n"
                     "  replicas: {min: 2, max: 6}\n"
                     "  autoscale: {metric: rps, target: 2.5}\n"
                     "  requestLog: {sampleRate: 1, maxBytes: 1Gi, keep: 0}\n");
    d = only(f);
    assert_true(d->shadow.set);
    assert_string_equal(d->shadow.target.alias, "challenger");
    assert_true(d->shadow.sample_rate == 1);
    assert_int_equal(d->autoscale.metric, SPEC_SCALE_RPS);
    assert_true(d->autoscale.target == 2.5);
    assert_int_equal(d->autoscale.scale_up_window_s, 0);
    assert_int_equal(d->autoscale.scale_down_window_s, 300);
    assert_int_equal(d->min_replicas, 2);
    assert_int_equal(d->max_replicas, 6);
    assert_int_equal(d->request_log.max_bytes, 1LL << 30);
    assert_int_equal(d->request_log.keep, 0);
    spec_file_free(f);

    /* replicas.min alone: max follows it */
    f = load_ok(DEPM "  replicas: {min: 3}\n");
    assert_int_equal(only(f)->max_replicas, 3);
    spec_file_free(f);
    /* a canary at 0% (staged) and at 100% (promoted), a canary by alias */
    f = load_ok(DEPM "  canary: {alias: next, percent: 0}\n  shadow: {alias: next, sampleRate: 0}\n");
    assert_int_equal(only(f)->canary.percent, 0);
    assert_string_equal(only(f)->canary.target.alias, "next");
    assert_true(only(f)->shadow.sample_rate == 0);
    spec_file_free(f);
    f = load_ok(DEPM "  canary: {version: 4, percent: 100}\n");
    assert_int_equal(only(f)->canary.percent, 100);
    spec_file_free(f);
}

static void test_replica_rules(void **state) {
    (void)state;
    /* min 0 is fine with autoscale, or with scaleToZeroAfterSeconds (max then 1) */
    spec_file *f = load_ok(DEPM "  replicas: {min: 0, max: 3}\n  autoscale: {target: 4}\n");
    assert_int_equal(only(f)->min_replicas, 0);
    assert_int_equal(only(f)->scale_to_zero_after_s, 0);
    spec_file_free(f);
    f = load_ok(DEPM "  replicas: {min: 0}\n  scaleToZeroAfterSeconds: 30\n");
    assert_int_equal(only(f)->max_replicas, 1);
    assert_int_equal(only(f)->scale_to_zero_after_s, 30);
    spec_file_free(f);

    EXPECT_ONE(DEPM "  replicas: {min: 0}\n", 6, 19, "spec.replicas.min 0 needs spec.scaleToZeroAfterSeconds",
               "spec.autoscale");
    EXPECT_ONE(DEPM "  scaleToZeroAfterSeconds: 60\n", 6, 28, "needs spec.replicas.min: 0 (min is 1)");
    EXPECT_ONE(DEPM "  replicas: {min: 2}\n  scaleToZeroAfterSeconds: 60\n", 7, 28, "(min is 2)");
    EXPECT_ONE(DEPM "  replicas: {min: 3, max: 2}\n  autoscale: {target: 1}\n", 6, 27,
               "spec.replicas.max (2) is below spec.replicas.min (3)");
    EXPECT_ONE(DEPM "  replicas: {min: 1, max: 4}\n", 6, 27, "spec.replicas.max (4) is above 1",
               "no spec.autoscale", "set max to 1");
    EXPECT_ONE(DEPM "  replicas: {max: 0}\n", 6, 19, "spec.replicas.max", "at least 1");
    EXPECT_ONE(DEPM "  replicas: {min: -1}\n", 6, 19, "spec.replicas.min", "at least 0");
    EXPECT_ONE(DEPM "  replicas: {min: 1, max: 257}\n  autoscale: {target: 1}\n", 6, 27, "at most 256");
    /* a bad min is reported once, not again by the rules it would break */
    EXPECT_ONE(DEPM "  replicas: {min: two}\n  scaleToZeroAfterSeconds: 60\n", 6, 19, "must be an integer");
    EXPECT_ONE(DEPM "  replicas: {min: 0}\n  scaleToZeroAfterSeconds: 0\n", 7, 28, "at least 1");
}

static void test_versions_and_aliases(void **state) {
    (void)state;
    EXPECT_ONE(DEP "  model: {name: m, version: 1, alias: a}\n", 5, 32, "spec.model has both version and alias");
    EXPECT_ONE(DEP "  model: {name: m}\n", 5, 11, "missing spec.model.version or spec.model.alias");
    EXPECT_ONE(DEP "  model: {version: 1}\n", 5, 11, "missing required field \"spec.model.name\"");
    EXPECT_ONE(DEP "  model: {name: a/b, version: 1}\n", 5, 17,
               "spec.model.name \"a/b\" is not a registered model name");
    EXPECT_ONE(DEP "  model: {name: m, version: 0}\n", 5, 29, "spec.model.version", "at least 1");
    EXPECT_ONE(DEP "  model: {name: m, version: \"3\"}\n", 5, 29, "must be an integer", "string \"3\"");
    EXPECT_ONE(DEP "  model: {name: m, alias: latest}\n", 5, 27, "\"latest\" is not an alias");
    EXPECT_ONE(DEP "  model: {name: m, alias: v12}\n", 5, 27, "v<number> is a version");
    EXPECT_ONE(DEP "  model: {name: m, alias: \"a b\"}\n", 5, 27, "only letters, digits");
    EXPECT_ONE(DEP "  model: m\n", 5, 10, "field \"spec.model\" must be a mapping", "string \"m\"");
    EXPECT_ONE(DEP "  canary: {version: 2, percent: 5}\n", 5, 3, "missing required field \"spec.model\"");
    EXPECT_ONE(API "kind: Deployment\nmetadata: {name: d}\n", 1, 1, "missing required field \"spec\"");
}

static void test_canary_and_shadow(void **state) {
    (void)state;
    EXPECT_ONE(DEPM "  canary: {version: 4}\n", 6, 12, "missing required field \"spec.canary.percent\"");
    EXPECT_ONE(DEPM "  canary: {version: 4, percent: 101}\n", 6, 33, "spec.canary.percent", "at most 100");
    EXPECT_ONE(DEPM "  canary: {version: 4, percent: 12.5}\n", 6, 33, "must be an integer");
    EXPECT_ONE(DEPM "  canary: {percent: 10}\n", 6, 12, "missing spec.canary.version or spec.canary.alias");
    EXPECT_ONE(DEPM "  canary: {version: 3, percent: 10}\n", 6, 21, "spec.canary names the stable version 3");
    EXPECT_ONE(DEP "  model: {name: m, alias: a}\n  canary: {alias: a, percent: 10}\n", 6, 19,
               "spec.canary names the stable alias a");
    EXPECT_ONE(DEPM "  shadow: {version: 3}\n", 6, 21, "spec.shadow names the stable version 3");
    EXPECT_ONE(DEPM "  shadow: {version: 4, sampleRate: 1.5}\n", 6, 36, "spec.shadow.sampleRate",
               "from 0 to 1", "1.5");
    /* a version number and an alias may be the same version: only the registry knows */
    spec_file *f = load_ok(DEPM "  canary: {alias: v-next, percent: 10}\n  shadow: {version: 4}\n");
    spec_file_free(f);
}

static void test_auth(void **state) {
    (void)state;
    spec_file *f = load_ok(DEPM "  auth: {inference: token}\n");
    assert_int_equal(only(f)->inference_auth, SPEC_INFERENCE_TOKEN);
    spec_file_free(f);
    f = load_ok(DEPM "  auth: {inference: public}\n");
    assert_int_equal(only(f)->inference_auth, SPEC_INFERENCE_PUBLIC);
    spec_file_free(f);
    f = load_ok(DEPM "  auth: {}\n");
    assert_int_equal(only(f)->inference_auth, SPEC_INFERENCE_PUBLIC);
    spec_file_free(f);
    EXPECT_ONE(DEPM "  auth: {inference: bearer}\n", 6, 21, "spec.auth.inference", "must be one of public, token");
    EXPECT_ONE(DEPM "  auth: {admin: public}\n", 6, 10, "admin");
    EXPECT_ONE(DEPM "  auth: token\n", 6, 9, "spec.auth");
}

static void test_autoscale_and_scalars(void **state) {
    (void)state;
    EXPECT_ONE(DEPM "  autoscale: {metric: rps}\n", 6, 15, "missing required field \"spec.autoscale.target\"");
    EXPECT_ONE(DEPM "  autoscale: {metric: qps, target: 1}\n", 6, 23, "must be one of concurrency, rps", "\"qps\"");
    EXPECT_ONE(DEPM "  autoscale: {target: 0}\n", 6, 23, "spec.autoscale.target\" must be above 0");
    EXPECT_ONE(DEPM "  autoscale: {target: -2}\n", 6, 23, "must be a number from 0 to 1000000", "-2");
    EXPECT_ONE(DEPM "  autoscale: {target: 2e6}\n", 6, 23, "must be a number from 0 to 1000000");
    EXPECT_ONE(DEPM "  autoscale: {target: many}\n", 6, 23, "must be a number");
    EXPECT_ONE(DEPM "  autoscale: {target: 1, scaleDownStabilizationSeconds: 3601}\n", 6, 57, "at most 3600");
    EXPECT_ONE(DEPM "  autoscale: {target: 1, scaleUpStabilizationSeconds: -1}\n", 6, 55, "at least 0");
    EXPECT_ONE(DEPM "  stickyHeader: \"X User\"\n", 6, 17, "spec.stickyHeader \"X User\" is not an HTTP header name");
    EXPECT_ONE(DEPM "  requestLog: {sampleRate: -0.5}\n", 6, 28, "spec.requestLog.sampleRate", "from 0 to 1");
    EXPECT_ONE(DEPM "  requestLog: {maxBytes: lots}\n", 6, 26, "spec.requestLog.maxBytes", "lots");
    EXPECT_ONE(DEPM "  requestLog: {maxBytes: 0}\n", 6, 26, "must be above 0");
    EXPECT_ONE(DEPM "  requestLog: {keep: 1001}\n", 6, 22, "at most 1000");

    const char *good[] = {"127.0.0.1:8080", "localhost:0", "[::1]:9000", "serve-1.local:65535"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char *y = mp_xasprintf(DEPM "  listen: \"%s\"\n", good[i]);
        spec_file *f = load_ok(y);
        assert_string_equal(only(f)->listen, good[i]);
        spec_file_free(f);
        free(y);
    }
    const struct {
        const char *text, *why;
    } bad[] = {{"localhost", "write HOST:PORT"},      {":8080", "the host is missing"},
               {"127.0.0.1:65536", "0 to 65535"},    {"127.0.0.1:", "0 to 65535"},
               {"::1:80", "[ADDR]:PORT"},            {"[::1]80", "[ADDR]:PORT"},
               {"ho st:80", "bad character"},        {"127.0.0.1:80x", "0 to 65535"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *y = mp_xasprintf(DEPM "  listen: \"%s\"\n", bad[i].text);
        EXPECT_ONE(y, 6, 11, "spec.listen", bad[i].why);
        free(y);
    }
}

static void test_unknown_fields_and_many_errors(void **state) {
    (void)state;
    EXPECT_ONE(DEPM "  replica: {min: 1}\n", 6, 3, "unknown field \"replica\" in spec", "did you mean \"replicas\"");
    EXPECT_ONE(DEPM "  canary: {version: 4, percnt: 10, percent: 1}\n", 6, 24,
               "unknown field \"percnt\" in spec.canary", "\"percent\"");
    EXPECT_ONE(DEPM "  autoscale: {target: 1, scaleDownStabilisationSeconds: 10}\n", 6, 26,
               "did you mean \"scaleDownStabilizationSeconds\"");
    EXPECT_ONE(DEP "  model: {name: m, version: 1, versoin: 2}\n", 5, 32, "did you mean \"version\"");
    EXPECT_ONE(DEPM "  requestLog: {rate: 1}\n", 6, 16, "unknown field \"rate\" in spec.requestLog",
               "known: sampleRate, maxBytes, keep");

    /* every problem of a file is reported, sorted by position */
    spec_diags d = load_bad(DEP "  model: {name: m, version: 0}\n"
                                "  canary: {version: 2}\n"
                                "  shadow: {sampleRate: 2}\n"
                                "  replicas: {min: 5, max: 1}\n"
                                "  autoscale: {target: 0, metric: gpu}\n"
                                "  stickyHeader: \"\"\n"
                                "  listen: nowhere\n"
                                "  requestLog: {keep: -1}\n");
    if (d.n != 10) dump(&d);
    assert_int_equal(d.n, 10);
    expect_diag(&d, 5, 29, "at least 1", NULL);
    expect_diag(&d, 6, 12, "spec.canary.percent", NULL);
    expect_diag(&d, 7, 12, "missing spec.shadow.version", NULL);
    expect_diag(&d, 7, 24, "from 0 to 1", NULL);
    expect_diag(&d, 8, 27, "below spec.replicas.min", NULL);
    expect_diag(&d, 9, 23, "above 0", NULL);
    expect_diag(&d, 9, 34, "must be one of", NULL);
    expect_diag(&d, 10, 17, "not an HTTP header name", NULL);
    expect_diag(&d, 11, 11, "write HOST:PORT", NULL);
    expect_diag(&d, 12, 22, "at least 0", NULL);
    for (size_t i = 1; i < d.n; i++)
        assert_true(d.v[i - 1].pos.line < d.v[i].pos.line ||
                    (d.v[i - 1].pos.line == d.v[i].pos.line && d.v[i - 1].pos.col <= d.v[i].pos.col));
    spec_diags_free(&d);
}

static void test_names_and_mixed_files(void **state) {
    (void)state;
    /* names are unique across namespaces: a deployment is named by its name alone */
    EXPECT_ONE(API "kind: Deployment\nmetadata: {name: d, namespace: a}\nspec: {model: {name: m, version: 1}}\n"
                   "---\n" API "kind: Deployment\nmetadata: {name: d, namespace: b}\n"
                   "spec: {model: {name: m, version: 2}}\n",
               6, 1, "duplicate Deployment \"d\"");
    spec_file *f = load_ok(API "kind: Deployment\nmetadata: {name: a}\nspec: {model: {name: m, version: 1}}\n"
                               "---\n" API "kind: Pipeline\nmetadata: {name: p}\nspec:\n  steps: [{name: s, "
                               "command: [\"true\"]}]\n"
                               "---\n" API "kind: Deployment\nmetadata: {name: b, labels: {team: ml}}\n"
                               "spec: {model: {name: m, alias: prod}}\n");
    assert_int_equal(f->nobjs, 3);
    assert_int_equal(spec_file_count(f, SPEC_KIND_DEPLOYMENT), 2);
    assert_non_null(spec_file_pipeline(f));
    const spec_deployment *b = spec_file_find(f, SPEC_KIND_DEPLOYMENT, "b")->u.deployment;
    assert_string_equal(spec_object_meta(spec_file_find(f, SPEC_KIND_DEPLOYMENT, "b"))->labels[0].value, "ml");
    assert_string_equal(b->version.alias, "prod");
    spec_file_free(f);
    EXPECT_ONE(API "kind: Deploymnet\nmetadata: {name: d}\nspec: {}\n", 2, 7, "did you mean \"Deployment\"");
    spec_deployment_free(NULL);
}

static void test_rewrite(void **state) {
    (void)state;
    const char *text = API "kind: Monitor\nmetadata: {name: m}\nspec: {deployment: d}\n---\n" DEP
                       "  model: {name: m, alias: champion}\n  canary: {version: 4, percent: 10}\n"
                       "  replicas: {min: 2}\n";
    char *out = NULL;
    mp_err e = {0};
    /* a new canary */
    assert_int_equal(spec_deployment_rewrite(text, "d", 0, 7, 25, &out, &e), 0);
    spec_file *f = load_ok(out);
    const spec_deployment *d = only(f);
    assert_string_equal(d->version.alias, "champion");
    assert_true(d->canary.set);
    assert_int_equal(d->canary.target.version, 7);
    assert_int_equal(d->canary.percent, 25);
    assert_int_equal(d->min_replicas, 2);
    spec_file_free(f);
    free(out);
    /* promoted: the version is the stable one, no canary, the alias gone */
    assert_int_equal(spec_deployment_rewrite(text, "d", 7, 0, 0, &out, &e), 0);
    f = load_ok(out);
    d = only(f);
    assert_null(d->version.alias);
    assert_int_equal(d->version.version, 7);
    assert_false(d->canary.set);
    spec_file_free(f);
    free(out);
    assert_int_equal(spec_deployment_rewrite(text, "other", 1, 0, 0, &out, &e), MP_ENOENT);
    assert_null(out);
    assert_non_null(strstr(e.msg, "no Deployment named other"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewrite),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_replica_rules),
        cmocka_unit_test(test_versions_and_aliases),
        cmocka_unit_test(test_canary_and_shadow),
        cmocka_unit_test(test_autoscale_and_scalars),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_unknown_fields_and_many_errors),
        cmocka_unit_test(test_names_and_mixed_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
