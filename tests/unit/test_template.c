/* test_template.c — {{ ref }} rendering and enumeration, step ordering
 * (spec_pipeline_topo_order) and -p overrides (spec_resolve_params). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spec/spec.h"

/* ---- rendering -------------------------------------------------------------------- */

static const char *lookup_table(void *ud, const char *ref) {
    const char *const *kv = ud;
    for (; kv[0]; kv += 2)
        if (strcmp(kv[0], ref) == 0) return kv[1];
    return NULL;
}

static const char *const TABLE[] = {
    "params.lr", "0.1", "steps.split.outputs.train", "/runs/r1/split/train", "run.id", "r1", "inputs.data",
    "/in/d",     NULL,
};

static char *render_ok(const char *tmpl) {
    char *out = NULL;
    mp_err e = {0};
    int rc = spec_render(tmpl, lookup_table, (void *)TABLE, &out, &e);
    if (rc) print_message("render \"%s\": %s\n", tmpl, e.msg);
    assert_int_equal(rc, 0);
    assert_non_null(out);
    return out;
}

#define ASSERT_RENDERS(tmpl, want)                                                                                     \
    do {                                                                                                               \
        char *o_ = render_ok(tmpl);                                                                                    \
        assert_string_equal(o_, want);                                                                                 \
        free(o_);                                                                                                      \
    } while (0)

static void test_render_replaces_references(void **state) {
    (void)state;
    ASSERT_RENDERS("--lr={{params.lr}}", "--lr=0.1");
    ASSERT_RENDERS("{{steps.split.outputs.train}}/x.csv", "/runs/r1/split/train/x.csv");
    ASSERT_RENDERS("{{run.id}}{{params.lr}}", "r10.1");
    ASSERT_RENDERS("a {{run.id}} b {{inputs.data}} c", "a r1 b /in/d c");
    ASSERT_RENDERS("no templates here", "no templates here");
    ASSERT_RENDERS("", "");
    ASSERT_RENDERS("{ single } and }} alone", "{ single } and }} alone");
}

static void test_render_allows_whitespace_inside_braces(void **state) {
    (void)state;
    ASSERT_RENDERS("{{ params.lr }}", "0.1");
    ASSERT_RENDERS("{{\tparams.lr  }}", "0.1");
    ASSERT_RENDERS("x{{  run.id}}y", "xr1y");
    ASSERT_RENDERS("{{\n params.lr\n}}", "0.1");
}

static void test_render_unknown_reference_is_an_error(void **state) {
    (void)state;
    char *out = (char *)1;
    mp_err e = {0};
    assert_int_equal(spec_render("x {{ params.eta }} y", lookup_table, (void *)TABLE, &out, &e), MP_EINVAL);
    assert_null(out);
    assert_non_null(strstr(e.msg, "params.eta"));
    out = (char *)1;
    assert_int_equal(spec_render("{{ }}", lookup_table, (void *)TABLE, &out, &e), MP_EINVAL);
    assert_null(out);
}

static void test_render_unterminated_braces_is_an_error(void **state) {
    (void)state;
    char *out = (char *)1;
    mp_err e = {0};
    assert_int_equal(spec_render("abc {{ params.lr", lookup_table, (void *)TABLE, &out, &e), MP_EINVAL);
    assert_null(out);
    assert_non_null(strstr(e.msg, "unterminated"));
    assert_non_null(strstr(e.msg, "offset 4"));
    assert_int_equal(spec_render("{{params.lr}} then {{", lookup_table, (void *)TABLE, &out, NULL), MP_EINVAL);
}

/* ---- enumeration ------------------------------------------------------------------ */

typedef struct seen {
    char refs[8][64];
    size_t offsets[8];
    size_t n;
} seen;

static void record(void *ud, const char *ref, size_t offset) {
    seen *s = ud;
    if (s->n < 8) {
        mp_strlcpy(s->refs[s->n], ref, sizeof s->refs[0]);
        s->offsets[s->n] = offset;
    }
    s->n++;
}

static void test_template_refs_lists_trimmed_refs_with_offsets(void **state) {
    (void)state;
    seen s = {0};
    mp_err e = {0};
    assert_int_equal(spec_template_refs("a {{ params.x }} b {{steps.s.outputs.o}}{{run.name}}", record, &s, &e), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.refs[0], "params.x");
    assert_int_equal(s.offsets[0], 2);
    assert_string_equal(s.refs[1], "steps.s.outputs.o");
    assert_int_equal(s.offsets[1], 19);
    assert_string_equal(s.refs[2], "run.name");
    assert_int_equal(s.offsets[2], 40);

    memset(&s, 0, sizeof s);
    assert_int_equal(spec_template_refs("plain", record, &s, &e), 0);
    assert_int_equal(s.n, 0);
}

static void test_template_refs_reports_unterminated_with_offset(void **state) {
    (void)state;
    seen s = {0};
    mp_err e = {0};
    assert_int_equal(spec_template_refs("{{a}} x {{ b", record, &s, &e), MP_EINVAL);
    assert_int_equal(s.n, 1); /* the complete one before it was still seen */
    assert_string_equal(s.refs[0], "a");
    assert_non_null(strstr(e.msg, "unterminated"));
    assert_non_null(strstr(e.msg, "offset 8"));
}

/* ---- topological order ---------------------------------------------------------- */

static spec_file *load(const char *yaml) {
    spec_diags d = {0};
    spec_file *f = NULL;
    int rc = spec_load_string("t.yaml", NULL, yaml, strlen(yaml), &f, &d);
    if (rc) {
        mp_buf b;
        mp_buf_init(&b);
        spec_diags_format(&d, &b);
        print_message("%s", b.data);
        mp_buf_free(&b);
    }
    assert_int_equal(rc, 0);
    spec_diags_free(&d);
    return f;
}

#define PIPE                                                                                                           \
    "apiVersion: mlplane.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  params: {eta: '0.3', rounds: 10}\n  "   \
    "steps:\n"

static void test_topo_order_keeps_file_order_among_ready_steps(void **state) {
    (void)state;
    /* b needs a; c is independent: file order a, b, c is already valid. */
    spec_file *f = load(PIPE "  - {name: a, script: x}\n"
                             "  - {name: b, script: x, dependsOn: [a]}\n"
                             "  - {name: c, script: x}\n");
    size_t order[3];
    assert_int_equal(spec_pipeline_topo_order(spec_file_pipeline(f), order, NULL), 0);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    spec_file_free(f);

    /* x needs z (declared later): y and z go first, in file order, then x. */
    f = load(PIPE "  - {name: x, script: x, dependsOn: [z]}\n"
                  "  - {name: y, script: x}\n"
                  "  - {name: z, script: x}\n"
                  "  - {name: w, script: x, dependsOn: [y, x]}\n");
    size_t o2[4];
    assert_int_equal(spec_pipeline_topo_order(spec_file_pipeline(f), o2, NULL), 0);
    assert_int_equal(o2[0], 1);
    assert_int_equal(o2[1], 2);
    assert_int_equal(o2[2], 0);
    assert_int_equal(o2[3], 3);
    spec_file_free(f);
}

static void test_topo_order_of_a_diamond(void **state) {
    (void)state;
    spec_file *f = load(PIPE "  - {name: join, script: x, dependsOn: [left, right]}\n"
                             "  - {name: right, script: x, dependsOn: [root]}\n"
                             "  - {name: left, script: x, dependsOn: [root]}\n"
                             "  - {name: root, script: x}\n");
    size_t order[4];
    assert_int_equal(spec_pipeline_topo_order(spec_file_pipeline(f), order, NULL), 0);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    assert_int_equal(order[3], 0);
    spec_file_free(f);
}

static void test_topo_order_names_a_cycle_in_hand_built_pipelines(void **state) {
    (void)state;
    /* Validation rules cycles out of loaded specs, so build one by hand. */
    char *da[] = {"b", NULL}, *db[] = {"c", NULL}, *dc[] = {"a", NULL}, *dd[] = {"a", NULL};
    spec_step steps[4] = {
        {.name = "d", .depends_on = dd, .ndepends = 1},
        {.name = "a", .depends_on = da, .ndepends = 1},
        {.name = "b", .depends_on = db, .ndepends = 1},
        {.name = "c", .depends_on = dc, .ndepends = 1},
    };
    spec_pipeline p = {.steps = steps, .nsteps = 4};
    size_t order[4];
    mp_err e = {0};
    assert_int_equal(spec_pipeline_topo_order(&p, order, &e), MP_EINVAL);
    assert_string_equal(e.msg, "dependency cycle: a -> b -> c -> a");

    char *dx[] = {"nope", NULL};
    spec_step one[1] = {{.name = "x", .depends_on = dx, .ndepends = 1}};
    spec_pipeline q = {.steps = one, .nsteps = 1};
    assert_int_equal(spec_pipeline_topo_order(&q, order, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "nope"));

    char *ds[] = {"s", NULL};
    spec_step self[1] = {{.name = "s", .depends_on = ds, .ndepends = 1}};
    spec_pipeline r = {.steps = self, .nsteps = 1};
    assert_int_equal(spec_pipeline_topo_order(&r, order, &e), MP_EINVAL);
    assert_string_equal(e.msg, "dependency cycle: s -> s");

    spec_pipeline empty = {0};
    assert_int_equal(spec_pipeline_topo_order(&empty, order, &e), 0);
}

static void test_topo_order_handles_a_long_chain(void **state) {
    (void)state;
    /* 2000 steps, each depending on the next one: the order is reversed. */
    enum { N = 2000 };
    spec_step *steps = mp_xcalloc(N, sizeof *steps);
    char **names = mp_xcalloc(N, sizeof *names);
    char ***deps = mp_xcalloc(N, sizeof *deps);
    for (size_t i = 0; i < N; i++) names[i] = mp_xasprintf("s%zu", i);
    for (size_t i = 0; i < N; i++) {
        steps[i].name = names[i];
        if (i + 1 < N) {
            deps[i] = mp_xcalloc(2, sizeof **deps);
            deps[i][0] = names[i + 1];
            steps[i].depends_on = deps[i];
            steps[i].ndepends = 1;
        }
    }
    spec_pipeline p = {.steps = steps, .nsteps = N};
    size_t *order = mp_xcalloc(N, sizeof *order);
    assert_int_equal(spec_pipeline_topo_order(&p, order, NULL), 0);
    for (size_t i = 0; i < N; i++) assert_int_equal(order[i], N - 1 - i);
    for (size_t i = 0; i < N; i++) {
        free(names[i]);
        free(deps[i]);
    }
    free(order);
    free(deps);
    free(names);
    free(steps);
}

/* ---- parameter overrides ---------------------------------------------------------- */

static void test_resolve_params_applies_overrides(void **state) {
    (void)state;
    spec_file *f = load(PIPE "  - {name: a, script: x}\n");
    const spec_pipeline *p = spec_file_pipeline(f);
    const char *ov[] = {"rounds=50", "eta=a=b", "rounds=60"};
    spec_kv *kv = NULL;
    mp_err e = {0};
    assert_int_equal(spec_resolve_params(p, ov, 3, &kv, &e), 0);
    assert_string_equal(kv[0].key, "eta");
    assert_string_equal(kv[0].value, "a=b");
    assert_string_equal(kv[1].key, "rounds");
    assert_string_equal(kv[1].value, "60");        /* the last one wins */
    assert_string_equal(p->params[1].value, "10"); /* the pipeline is untouched */
    spec_kv_array_free(kv, p->nparams);

    assert_int_equal(spec_resolve_params(p, NULL, 0, &kv, &e), 0);
    assert_string_equal(kv[0].value, "0.3");
    spec_kv_array_free(kv, p->nparams);

    const char *empty[] = {"eta="};
    assert_int_equal(spec_resolve_params(p, empty, 1, &kv, &e), 0);
    assert_string_equal(kv[0].value, "");
    spec_kv_array_free(kv, p->nparams);
    spec_file_free(f);
}

static void test_resolve_params_rejects_unknown_and_malformed(void **state) {
    (void)state;
    spec_file *f = load(PIPE "  - {name: a, script: x}\n");
    const spec_pipeline *p = spec_file_pipeline(f);
    spec_kv *kv = (spec_kv *)1;
    mp_err e = {0};
    const char *unknown[] = {"eta=1", "lr=0.1"};
    assert_int_equal(spec_resolve_params(p, unknown, 2, &kv, &e), MP_EINVAL);
    assert_null(kv);
    assert_string_equal(e.msg, "unknown param \"lr\" in -p lr=0.1 (known: eta, rounds)");
    const char *noeq[] = {"foo"};
    assert_int_equal(spec_resolve_params(p, noeq, 1, &kv, &e), MP_EINVAL);
    assert_string_equal(e.msg, "-p expects name=value, got \"foo\"");
    const char *noname[] = {"=3"};
    assert_int_equal(spec_resolve_params(p, noname, 1, &kv, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "name=value"));
    spec_file_free(f);

    f = load(
        "apiVersion: mlplane.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec: {steps: [{name: a, script: x}]}\n");
    assert_int_equal(spec_resolve_params(spec_file_pipeline(f), unknown, 1, &kv, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "no params"));
    assert_int_equal(spec_resolve_params(spec_file_pipeline(f), NULL, 0, &kv, &e), 0);
    spec_kv_array_free(kv, 0);
    spec_file_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_replaces_references),
        cmocka_unit_test(test_render_allows_whitespace_inside_braces),
        cmocka_unit_test(test_render_unknown_reference_is_an_error),
        cmocka_unit_test(test_render_unterminated_braces_is_an_error),
        cmocka_unit_test(test_template_refs_lists_trimmed_refs_with_offsets),
        cmocka_unit_test(test_template_refs_reports_unterminated_with_offset),
        cmocka_unit_test(test_topo_order_keeps_file_order_among_ready_steps),
        cmocka_unit_test(test_topo_order_of_a_diamond),
        cmocka_unit_test(test_topo_order_names_a_cycle_in_hand_built_pipelines),
        cmocka_unit_test(test_topo_order_handles_a_long_chain),
        cmocka_unit_test(test_resolve_params_applies_overrides),
        cmocka_unit_test(test_resolve_params_rejects_unknown_and_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
