/* test_spec.c — spec loading: a valid pipeline becomes the right structs, and each
 * kind of mistake becomes a diagnostic at the right line:col with a useful message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spec/spec.h"

/* ---- helpers ------------------------------------------------------------------- */

/* The first six lines of most inline specs; steps start on line 7. */
#define HDR                                                                                                            \
    "apiVersion: mlplane.dev/v1\n"                                                                                     \
    "kind: Pipeline\n"                                                                                                 \
    "metadata:\n"                                                                                                      \
    "  name: p\n"                                                                                                      \
    "spec:\n"                                                                                                          \
    "  steps:\n"

#include "spec_helpers.h"

static const char *env_of(const spec_step *s, const char *key) {
    for (size_t i = 0; i < s->nenv; i++)
        if (strcmp(s->env[i].key, key) == 0) return s->env[i].value;
    return NULL;
}

/* ---- valid specs ------------------------------------------------------------------ */

static void test_valid_pipeline_fixture_parses_into_structs(void **state) {
    (void)state;
    char *path = fixture("valid_pipeline.yaml");
    spec_diags d = {0};
    spec_file *f = NULL;
    int rc = spec_load_file(path, &f, &d);
    if (rc) dump(&d);
    assert_int_equal(rc, 0);
    assert_string_equal(f->path, path);
    assert_true(f->dir[0] == '/');
    assert_true(mp_str_ends(f->dir, "tests/specs"));
    assert_int_equal(f->nobjs, 1);
    assert_int_equal(f->objs[0].kind, SPEC_KIND_PIPELINE);
    assert_int_equal(f->objs[0].pos.line, 2);

    const spec_pipeline *p = spec_file_pipeline(f);
    assert_non_null(p);
    assert_string_equal(p->meta.name, "breast-cancer");
    assert_string_equal(p->meta.namespace_, "research");
    assert_int_equal(p->meta.nlabels, 2);
    assert_string_equal(p->meta.labels[1].key, "tier");
    assert_string_equal(p->meta.labels[1].value, "2");
    assert_int_equal(p->nparams, 3);
    assert_string_equal(p->params[0].key, "eta");
    assert_string_equal(p->params[0].value, "0.3");
    assert_string_equal(p->params[2].value, "hello world");
    assert_int_equal(p->params[1].pos.line, 13);
    assert_int_equal(p->params[1].pos.col, 13);
    assert_int_equal(p->nsteps, 4);

    const spec_step *prep = &p->steps[0];
    assert_string_equal(prep->name, "prepare");
    assert_int_equal(prep->pos.line, 16);
    assert_int_equal(prep->pos.col, 7);
    assert_string_equal(prep->image, "python:3.12");
    assert_int_equal(prep->ncommand, 4);
    assert_string_equal(prep->command[0], "python");
    assert_string_equal(prep->command[3], "{{ steps.fetch.outputs.raw }}");
    assert_null(prep->command[4]);
    assert_null(prep->script);
    assert_int_equal(prep->noutputs, 2);
    assert_string_equal(prep->outputs[0].name, "train");
    assert_string_equal(prep->outputs[0].path, "train"); /* path defaults to the name */
    assert_string_equal(prep->outputs[1].path, "data/test.csv");
    /* Implied by {{steps.fetch.outputs.raw}}, though fetch comes later in the file. */
    assert_int_equal(prep->ndepends, 1);
    assert_string_equal(prep->depends_on[0], "fetch");
    assert_int_equal(prep->retry_limit, 0);
    assert_true(prep->backoff_seconds == 1.0);
    assert_int_equal(prep->timeout_seconds, 0);
    assert_false(prep->cache);

    const spec_step *fetch = spec_pipeline_step(p, "fetch");
    assert_ptr_equal(fetch, &p->steps[1]);
    assert_null(fetch->command);
    assert_true(mp_str_starts(fetch->script, "curl -o"));
    assert_int_equal(fetch->timeout_seconds, 300);
    assert_int_equal(fetch->retry_limit, 3);
    assert_true(fetch->backoff_seconds == 2.5);
    assert_int_equal(fetch->ndepends, 0);

    const spec_step *train = &p->steps[2];
    assert_int_equal(spec_pipeline_step_index(p, "train"), 2);
    assert_string_equal(train->working_dir, "{{params.note}}");
    assert_int_equal(train->ncommand, 6);
    assert_int_equal(train->nenv, 2); /* map form */
    assert_string_equal(env_of(train, "SEED"), "42");
    assert_string_equal(env_of(train, "RUN"), "{{run.name}}");
    assert_int_equal(train->ninputs, 2);
    assert_string_equal(train->inputs[0].name, "data");
    assert_string_equal(train->inputs[0].path, "{{steps.prepare.outputs.train}}");
    assert_string_equal(train->inputs[1].path, "extra/file.txt");
    assert_int_equal(train->noutputs, 2);
    assert_string_equal(train->outputs[1].path, "metrics.json");
    /* Explicit dependsOn first; the implied one (same step) is not repeated. */
    assert_int_equal(train->ndepends, 1);
    assert_string_equal(train->depends_on[0], "prepare");
    assert_int_equal(train->resources.cpu_milli, 500);
    assert_int_equal(train->resources.memory_bytes, 1610612736LL);
    assert_int_equal(train->resources.gpu, 1);
    assert_true(train->cache);

    const spec_step *ev = &p->steps[3];
    assert_int_equal(ev->nenv, 2); /* list form, value optional */
    assert_string_equal(env_of(ev, "THRESHOLD"), "0.9");
    assert_string_equal(env_of(ev, "EMPTY"), "");
    assert_int_equal(ev->ndepends, 2);
    assert_string_equal(ev->depends_on[0], "train");
    assert_string_equal(ev->depends_on[1], "prepare");
    assert_int_equal(ev->resources.cpu_milli, 2000);
    assert_int_equal(ev->resources.gpu, 0);
    assert_null(spec_pipeline_step(p, "nope"));
    assert_int_equal(spec_pipeline_step_index(p, "nope"), -1);

    size_t order[4];
    mp_err e;
    assert_int_equal(spec_pipeline_topo_order(p, order, &e), 0);
    assert_int_equal(order[0], 1); /* fetch */
    assert_int_equal(order[1], 0); /* prepare */
    assert_int_equal(order[2], 2); /* train */
    assert_int_equal(order[3], 3); /* evaluate */

    spec_file_free(f);
    spec_diags_free(&d);
    free(path);
}

static void test_implied_dependencies_follow_explicit_ones_deduplicated(void **state) {
    (void)state;
    spec_file *f = load_ok(HDR "    - name: a\n"
                               "      command: [x]\n"
                               "      outputs: [{name: o}]\n"
                               "    - name: b\n"
                               "      command: [x]\n"
                               "      outputs: [{name: o}]\n"
                               "    - name: c\n"
                               "      dependsOn: [b, b]\n"
                               "      command: [x, '{{steps.a.outputs.o}}', '{{steps.b.outputs.o}}']\n"
                               "      env: {X: '{{ steps.a.outputs.o }}'}\n");
    const spec_step *c = &spec_file_pipeline(f)->steps[2];
    assert_int_equal(c->ndepends, 2);
    assert_string_equal(c->depends_on[0], "b");
    assert_string_equal(c->depends_on[1], "a");
    spec_file_free(f);
}

static void test_multiple_documents_and_defaults(void **state) {
    (void)state;
    spec_file *f = load_ok("---\n"
                           "apiVersion: mlplane.dev/v1\n"
                           "kind: Pipeline\n"
                           "metadata: {name: one}\n"
                           "spec:\n"
                           "  steps: [{name: s, script: 'true', command: null, image: ~, retries: null}]\n"
                           "---\n"
                           "apiVersion: mlplane.dev/v1\n"
                           "kind: Pipeline\n"
                           "metadata: {name: two}\n"
                           "spec:\n"
                           "  steps:\n"
                           "  - name: s\n"
                           "    command: [echo, hi]\n"
                           "---\n");
    assert_int_equal(f->nobjs, 2);
    assert_string_equal(f->dir, "/tmp");
    const spec_pipeline *one = f->objs[0].u.pipeline, *two = f->objs[1].u.pipeline;
    assert_ptr_equal(spec_file_pipeline(f), one);
    assert_string_equal(one->meta.name, "one");
    assert_string_equal(one->meta.namespace_, "default");
    assert_int_equal(one->meta.nlabels, 0);
    assert_int_equal(one->nparams, 0);
    assert_string_equal(one->steps[0].script, "true"); /* explicit nulls are left-out fields */
    assert_null(one->steps[0].command);
    assert_null(one->steps[0].image);
    assert_true(one->steps[0].backoff_seconds == 1.0);
    assert_string_equal(two->meta.name, "two");
    assert_int_equal(f->objs[1].pos.line, 8);
    assert_int_equal(two->steps[0].pos.line, 13);
    assert_int_equal(two->steps[0].pos.col, 5);
    assert_string_equal(two->steps[0].command[1], "hi");
    spec_file_free(f);
}

static void test_anchors_and_aliases_are_resolved(void **state) {
    (void)state;
    spec_file *f = load_ok(HDR "    - name: a\n"
                               "      command: &cmd [python, run.py]\n"
                               "      env: &env {A: '1'}\n"
                               "    - name: b\n"
                               "      command: *cmd\n"
                               "      env: *env\n");
    const spec_pipeline *p = spec_file_pipeline(f);
    assert_string_equal(p->steps[1].command[1], "run.py");
    assert_string_equal(env_of(&p->steps[1], "A"), "1");
    spec_file_free(f);
}

/* ---- one test per kind of mistake ------------------------------------------------ */

static void test_unknown_field_suggests_the_closest(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: train\n"
                   "      command: [x]\n"
                   "      dependOn: [train]\n",
               9, 7, "unknown field \"dependOn\" in step \"train\" (did you mean \"dependsOn\"?)");
    EXPECT_ONE(HDR "    - name: train\n"
                   "      command: [x]\n"
                   "      frobnicate: 1\n",
               9, 7, "unknown field \"frobnicate\"", "known:", "dependsOn");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata: {name: p}\n"
               "specs: {}\n"
               "spec: {steps: [{name: a, script: x}]}\n",
               4, 1, "unknown field \"specs\" in document", "did you mean \"spec\"");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata: {name: p, labels: {ok: a, \"bad key\": b}}\n"
               "spec: {steps: [{name: a, script: x}]}\n",
               3, 37, "\"bad key\" is not a valid label key", "metadata.labels");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata: {name: p, labels: {example.com/team: a, Bad_Prefix/x: b}}\n"
               "spec: {steps: [{name: a, script: x}]}\n",
               3, 51, "\"Bad_Prefix/x\" is not a valid label key");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata: {name: p, labels: {team: \"a b\", tier: \"\", x.y/z_1: A-1.b}}\n"
               "spec: {steps: [{name: a, script: x}]}\n",
               3, 36, "metadata.labels.team: \"a b\" is not a valid label value");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata: {name: p, lables: {}}\n"
               "spec: {steps: [{name: a, script: x}]}\n",
               3, 21, "unknown field \"lables\" in metadata", "labels");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      retries: {limit: 1, backof: 2}\n",
               9, 27, "unknown field \"backof\"", "spec.steps[0].retries", "backoffSeconds");
}

static void test_wrong_types_name_the_field_and_the_value(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      retries: {limit: three}\n",
               9, 24, "field \"spec.steps[0].retries.limit\" must be an integer, got string \"three\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      timeoutSeconds: \"10\"\n",
               9, 23, "spec.steps[0].timeoutSeconds", "integer", "string \"10\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      command: python train.py\n",
               8, 16, "spec.steps[0].command", "must be a list", "string \"python train.py\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      cache: yes\n",
               9, 14, "spec.steps[0].cache", "boolean", "string \"yes\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      retries: {limit: -1}\n",
               9, 24, "retries.limit", "at least 0");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      retries: {backoffSeconds: 1.5x}\n",
               9, 33, "retries.backoffSeconds", "must be a number");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: {x: 1}\n",
               8, 16, "spec.steps[0].script", "must be a string", "got a mapping");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      env: [A]\n",
               9, 13, "spec.steps[0].env[0]", "must be a mapping");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata: {name: p}\n"
               "spec:\n"
               "  steps: {a: 1}\n",
               5, 11, "spec.steps", "must be a list", "got a mapping");
}

static void test_missing_required_fields(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - command: [x]\n", 7, 7, "missing required field \"name\"", "spec.steps[0]");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      image: busybox\n",
               7, 7, "missing required field \"command\" or \"script\"", "step \"a\"");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata:\n"
               "  labels: {a: b}\n"
               "spec: {steps: [{name: a, script: x}]}\n",
               4, 3, "missing required field \"metadata.name\"");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata: {name: p}\n"
               "spec:\n"
               "  params: {a: 1}\n",
               5, 3, "missing required field \"spec.steps\"");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata: {name: p}\n"
               "spec:\n"
               "  steps: []\n",
               5, 3, "spec.steps", "must not be empty");
    EXPECT_ONE("kind: Pipeline\n"
               "metadata: {name: p}\n"
               "spec: {steps: [{name: a, script: x}]}\n",
               1, 1, "missing required field \"apiVersion\"", "mlplane.dev/v1");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      inputs: [{name: d}]\n",
               9, 17, "missing required field \"path\"", "spec.steps[0].inputs[0]");
}

static void test_exactly_one_of_command_and_script(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: a\n"
                   "      command: [x]\n"
                   "      script: y\n",
               9, 7, "step \"a\" has both command and script");
}

static void test_bad_quantity_and_unknown_resource(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      resources:\n"
                   "        memory: 12Q\n",
               10, 17, "spec.steps[0].resources.memory", "invalid quantity \"12Q\"", "suffix");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      resources: {gpu: 0.5}\n",
               9, 24, "resources.gpu", "whole number");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      resources: {cpu: -1}\n",
               9, 24, "resources.cpu", "negative");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      resources: {cpus: 1}\n",
               9, 19, "unknown resource \"cpus\"", "step \"a\"", "did you mean \"cpu\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      resources: {disk: 1}\n",
               9, 19, "unknown resource \"disk\"", "cpu, memory, gpu, nvidia.com/gpu");
}

static void test_duplicate_step_name_points_at_the_second(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "    - name: b\n"
                   "      script: x\n"
                   "    - name: a\n"
                   "      script: x\n",
               11, 13, "duplicate step name \"a\"", "line 7");
}

static void test_invalid_names(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: Train_Model\n"
                   "      script: x\n",
               7, 13, "step name \"Train_Model\" is not valid", "lowercase");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata: {name: -p}\n"
               "spec: {steps: [{name: a, script: x}]}\n",
               3, 18, "metadata.name \"-p\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      env: {1X: a}\n",
               9, 13, "env var name \"1X\"");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      outputs: [{name: m, path: ../m}]\n",
               9, 33, "output path \"../m\"", "relative");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      outputs: [m, {name: m}]\n",
               9, 27, "duplicate output \"m\"", "step \"a\"");
}

static void test_depends_on_undefined_step(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: prepare\n"
                   "      script: x\n"
                   "    - name: train\n"
                   "      script: x\n"
                   "      dependsOn: [prepar]\n",
               11, 19, "step \"train\" depends on undefined step \"prepar\"", "did you mean \"prepare\"");
}

static void test_dependency_cycle_names_its_steps(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      dependsOn: [c]\n"
                   "    - name: b\n"
                   "      script: x\n"
                   "      dependsOn: [a]\n"
                   "    - name: c\n"
                   "      script: x\n"
                   "      dependsOn: [b]\n"
                   "    - name: d\n"
                   "      script: x\n"
                   "      dependsOn: [c]\n",
               7, 7, "dependency cycle: a -> c -> b -> a");
    /* Two separate cycles are two diagnostics; an implied dependency counts. */
    spec_diags d = load_bad(HDR "    - name: a\n"
                                "      script: x\n"
                                "      dependsOn: [b]\n"
                                "    - name: b\n"
                                "      script: '{{steps.a.outputs.o}}'\n"
                                "      outputs: [o]\n"
                                "    - name: c\n"
                                "      script: x\n"
                                "      dependsOn: [d]\n"
                                "    - name: d\n"
                                "      script: x\n"
                                "      dependsOn: [c]\n");
    assert_int_equal(d.n, 3);
    expect_diag(&d, 7, 7, "dependency cycle: a -> b -> a", NULL);
    expect_diag(&d, 13, 7, "dependency cycle: c -> d -> c", NULL);
    expect_diag(&d, 11, 15, "step \"a\" has no output \"o\"", NULL);
    spec_diags_free(&d);
}

static void test_step_referencing_itself(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: x\n"
                   "      dependsOn: [a]\n",
               9, 19, "step \"a\" depends on itself");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      command: [x, '{{steps.a.outputs.m}}']\n"
                   "      outputs: [m]\n",
               8, 20, "spec.steps[0].command[1]", "references its own output");
}

static void test_template_unknown_param(void **state) {
    (void)state;
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata: {name: p}\n"
               "spec:\n"
               "  params: {eta: 1, rounds: 2}\n"
               "  steps:\n"
               "    - name: a\n"
               "      command: [x, '--lr={{ params.lr }}']\n",
               8, 20, "spec.steps[0].command[1]", "unknown param \"lr\"", "eta, rounds");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Pipeline\n"
               "metadata: {name: p}\n"
               "spec:\n"
               "  params: {eta: 1, rounds: 2}\n"
               "  steps:\n"
               "    - name: a\n"
               "      workingDir: '{{params.rouds}}'\n"
               "      script: x\n",
               8, 19, "spec.steps[0].workingDir", "unknown param \"rouds\"", "did you mean \"rounds\"");
}

static void test_template_unknown_step_and_artifact(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: train\n"
                   "      script: x\n"
                   "      outputs: [{name: model}, {name: metrics}]\n"
                   "    - name: eval\n"
                   "      script: 'eval {{steps.trian.outputs.model}}'\n",
               11, 15, "spec.steps[1].script", "unknown step \"trian\"", "did you mean \"train\"");
    EXPECT_ONE(HDR "    - name: train\n"
                   "      script: x\n"
                   "      outputs: [{name: model}, {name: metrics}]\n"
                   "    - name: eval\n"
                   "      script: x\n"
                   "      env: {M: '{{steps.train.outputs.modle}}'}\n",
               12, 16, "spec.steps[1].env.M", "step \"train\" has no output \"modle\" (outputs: model, metrics)");
    EXPECT_ONE(HDR "    - name: train\n"
                   "      script: x\n"
                   "      outputs: [model]\n"
                   "    - name: eval\n"
                   "      script: x\n"
                   "      inputs:\n"
                   "        - name: m\n"
                   "          path: '{{steps.train.outputs.mdl}}'\n",
               14, 17, "spec.steps[1].inputs[0].path", "has no output \"mdl\"");
}

static void test_template_unknown_input_and_reference(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: a\n"
                   "      inputs: [{name: data, path: d.csv}, {name: cfg, path: c.json}]\n"
                   "      command: [x, '{{inputs.dat}}']\n",
               9, 20, "step \"a\" has no input \"dat\" (inputs: data, cfg)");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      command: [x, '{{run.date}}']\n",
               8, 20, "unknown template reference {{run.date}}", "run.id");
    EXPECT_ONE(HDR "    - name: a\n"
                   "      inputs: [{name: d, path: '{{inputs.d}}'}]\n"
                   "      script: x\n",
               8, 32, "inputs[0].path", "cannot use {{inputs.d}}");
}

static void test_bad_template_syntax(void **state) {
    (void)state;
    EXPECT_ONE(HDR "    - name: a\n"
                   "      script: 'echo {{params.x'\n",
               8, 15, "spec.steps[0].script", "unterminated \"{{\"", "offset 5");
}

static void test_yaml_syntax_errors_have_positions(void **state) {
    (void)state;
    spec_diags d = load_bad(HDR "    - name: a\n"
                                "      command: [x, y\n"
                                "    - name: b\n");
    assert_int_equal(d.n, 1);
    assert_true(d.v[0].pos.line >= 8);
    assert_true(d.v[0].pos.col >= 1);
    assert_non_null(strstr(d.v[0].msg, "YAML syntax error"));
    spec_diags_free(&d);
    EXPECT_ONE("a: 1\n"
               "a: 2\n",
               2, 1, "YAML syntax error", "duplicate key");
    EXPECT_ONE("key: \"unterminated\n", 1, 7, "YAML syntax error", "double-quoted");
    /* An error in a later document still reports the earlier documents' problems. */
    d = load_bad("apiVersion: mlplane.dev/v1\n"
                 "kind: Pipeline\n"
                 "metadata: {name: p}\n"
                 "spec: {steps: [{name: a, script: x, cach: true}]}\n"
                 "---\n"
                 "a: [\n");
    assert_int_equal(d.n, 2);
    expect_diag(&d, 4, 37, "unknown field \"cach\"", NULL);
    assert_true(d.v[1].pos.line >= 6);
    assert_non_null(strstr(d.v[1].msg, "YAML syntax error"));
    spec_diags_free(&d);
}

static void test_document_shape_errors(void **state) {
    (void)state;
    EXPECT_ONE("", 1, 1, "no documents");
    EXPECT_ONE("# only a comment\n", 1, 1, "no documents");
    EXPECT_ONE("\n\n---\n", 1, 1, "no documents");
    EXPECT_ONE("- a\n- b\n", 1, 3, "document must be a mapping", "got a list");
    EXPECT_ONE("just text\n", 1, 1, "document must be a mapping", "string \"just text\"");
    EXPECT_ONE("apiVersion: mlplane.dev/v2\n"
               "kind: Pipeline\n"
               "metadata: {name: p}\n"
               "spec: {steps: [{name: a, script: x}]}\n",
               1, 13, "unsupported apiVersion \"mlplane.dev/v2\"", "mlplane.dev/v1");
    EXPECT_ONE("apiVersion: mlplane.dev/v1\n"
               "kind: Model\n"
               "metadata: {name: p}\n"
               "spec: {}\n",
               2, 7, "unknown kind \"Model\"", "known kinds: Pipeline");
}

static void test_unreadable_file_is_one_diagnostic_at_1_1(void **state) {
    (void)state;
    spec_diags d = {0};
    spec_file *f = (spec_file *)1;
    assert_int_equal(spec_load_file("/nonexistent/dir/p.yaml", &f, &d), MP_EINVAL);
    assert_null(f);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.v[0].pos.line, 1);
    assert_int_equal(d.v[0].pos.col, 1);
    mp_buf b;
    mp_buf_init(&b);
    spec_diags_format(&d, &b);
    assert_string_equal(b.data, "/nonexistent/dir/p.yaml:1:1: cannot read: No such file or directory\n");
    mp_buf_free(&b);
    spec_diags_free(&d);
}

static void test_file_with_several_errors_reports_all_in_order(void **state) {
    (void)state;
    char *path = fixture("many_errors.yaml");
    spec_diags d = {0};
    spec_file *f = NULL;
    assert_int_equal(spec_load_file(path, &f, &d), MP_EINVAL);
    assert_null(f);
    mp_buf b;
    mp_buf_init(&b);
    spec_diags_format(&d, &b);
    char *want = mp_xasprintf(
        "%s:9:7: unknown field \"dependOn\" in step \"train\" (did you mean \"dependsOn\"?)\n"
        "%s:10:24: field \"spec.steps[0].retries.limit\" must be an integer, got string \"three\"\n"
        "%s:11:27: field \"spec.steps[0].resources.memory\": invalid quantity \"12Q\": unknown suffix \"Q\" "
        "(expected n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent such as e3)\n"
        "%s:13:34: spec.steps[1].command[2]: step \"train\" has no output \"modle\" (outputs: none)\n"
        "%s:13:67: spec.steps[1].command[3]: unknown param \"lr\" in {{params.lr}} (known params: none)\n"
        "%s:14:13: duplicate step name \"train\" (first defined at line 7)\n",
        path, path, path, path, path, path);
    assert_string_equal(b.data, want);
    free(want);
    mp_buf_free(&b);
    spec_diags_free(&d);
    free(path);
}

static void test_diags_format_and_add(void **state) {
    (void)state;
    spec_diags d = {0};
    spec_diag_add(&d, "a.yaml", (spec_pos){3, 9}, "bad %s %d", "thing", 7);
    spec_diag_add(&d, "b.yaml", (spec_pos){0, 0}, "no position");
    spec_diag_add(&d, "c.yaml", (spec_pos){4, 0}, "no column");
    mp_buf b;
    mp_buf_init(&b);
    spec_diags_format(&d, &b);
    assert_string_equal(b.data, "a.yaml:3:9: bad thing 7\nb.yaml:1:1: no position\nc.yaml:4:1: no column\n");
    mp_buf_free(&b);
    spec_diags_free(&d);
    assert_int_equal(d.n, 0);
    spec_diags_free(&d); /* twice is harmless */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_pipeline_fixture_parses_into_structs),
        cmocka_unit_test(test_implied_dependencies_follow_explicit_ones_deduplicated),
        cmocka_unit_test(test_multiple_documents_and_defaults),
        cmocka_unit_test(test_anchors_and_aliases_are_resolved),
        cmocka_unit_test(test_unknown_field_suggests_the_closest),
        cmocka_unit_test(test_wrong_types_name_the_field_and_the_value),
        cmocka_unit_test(test_missing_required_fields),
        cmocka_unit_test(test_exactly_one_of_command_and_script),
        cmocka_unit_test(test_bad_quantity_and_unknown_resource),
        cmocka_unit_test(test_duplicate_step_name_points_at_the_second),
        cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_depends_on_undefined_step),
        cmocka_unit_test(test_dependency_cycle_names_its_steps),
        cmocka_unit_test(test_step_referencing_itself),
        cmocka_unit_test(test_template_unknown_param),
        cmocka_unit_test(test_template_unknown_step_and_artifact),
        cmocka_unit_test(test_template_unknown_input_and_reference),
        cmocka_unit_test(test_bad_template_syntax),
        cmocka_unit_test(test_yaml_syntax_errors_have_positions),
        cmocka_unit_test(test_document_shape_errors),
        cmocka_unit_test(test_unreadable_file_is_one_diagnostic_at_1_1),
        cmocka_unit_test(test_file_with_several_errors_reports_all_in_order),
        cmocka_unit_test(test_diags_format_and_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
