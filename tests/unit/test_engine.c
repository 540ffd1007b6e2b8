/* test_engine.c — unit tests of the pipeline engine (engine_execute) driving an
 * executor it does not know: a scripted stand-in executor (this file) that
 * starts nothing and reports exits and notes from its own event list, as a
 * Kubernetes executor reports them from a watch stream. A real SQLite store and
 * a real pipeline spec under $MLPLANE_TEST_TMP. Single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/exec.h"
#include "engine/engine.h"
#include "spec/spec.h"
#include "store/store.h"
#include "unit_helpers.h"

/* ---- the scripted executor -------------------------------------------------------- */

typedef struct fake_task {
    exec_handle base;
    char step[64];
    bool done;
} fake_task;

typedef struct fake_exec {
    executor base;
    fake_task *tasks[64];
    size_t ntasks;
    int starts_of_b; /* b fails its first attempt */
    int released;
    int signals;
} fake_exec;

static int fake_start(executor *x, const exec_task *t, void *user, exec_handle **out, mp_err *e) {
    fake_exec *fx = (fake_exec *)x;
    *out = NULL;
    if (strcmp(t->step, "nostart") == 0) return mp_err_set(e, MP_EIO, "no room for %s", t->step);
    fake_task *k = mp_xcalloc(1, sizeof *k);
    k->base.user = user;
    snprintf(k->base.ref, sizeof k->base.ref, "fake/%zu", fx->ntasks);
    snprintf(k->step, sizeof k->step, "%s", t->step);
    if (strcmp(t->step, "b") == 0) fx->starts_of_b++;
    assert_true(fx->ntasks < 64);
    fx->tasks[fx->ntasks++] = k;
    *out = &k->base;
    return 0;
}

static int fake_signal(executor *x, exec_handle *h, int sig, mp_err *e) {
    (void)h, (void)sig, (void)e;
    ((fake_exec *)x)->signals++;
    return 0;
}

/* Every started task ends at the next wait: a with a note first, b with exit 1
 * on its first attempt, every other with 0. */
static int fake_wait(executor *x, int timeout_ms, exec_event *out, size_t max, mp_err *e) {
    (void)timeout_ms, (void)e;
    fake_exec *fx = (fake_exec *)x;
    size_t n = 0;
    for (size_t i = 0; i < fx->ntasks && n + 1 < max; i++) {
        fake_task *k = fx->tasks[i];
        if (!k || k->done) continue;
        k->done = true;
        if (strcmp(k->step, "a") == 0) {
            out[n] = (exec_event){.kind = EXEC_NOTE, .h = &k->base};
            snprintf(out[n].reason, sizeof out[n].reason, "ImagePulled");
            snprintf(out[n].message, sizeof out[n].message, "image pulled for %s", k->base.ref);
            n++;
        }
        int code = strcmp(k->step, "b") == 0 && fx->starts_of_b == 1 ? 1 : 0;
        out[n++] = (exec_event){.kind = EXEC_EXITED, .h = &k->base, .exit_code = code};
    }
    return (int)n;
}

static void fake_release(executor *x, exec_handle *h) {
    fake_exec *fx = (fake_exec *)x;
    for (size_t i = 0; i < fx->ntasks; i++)
        if (fx->tasks[i] && &fx->tasks[i]->base == h) {
            free(fx->tasks[i]);
            fx->tasks[i] = NULL;
            fx->released++;
        }
}

static int fake_stop_orphans(executor *x, const char *run_id, int grace_ms, mp_err *e) {
    (void)x, (void)run_id, (void)grace_ms, (void)e;
    return 0;
}

static void fake_close(executor *x) {
    fake_exec *fx = (fake_exec *)x;
    for (size_t i = 0; i < fx->ntasks; i++) free(fx->tasks[i]);
}

static const exec_methods fake_methods = {
    .name = "scripted",
    .start = fake_start,
    .signal = fake_signal,
    .wait = fake_wait,
    .release = fake_release,
    .stop_orphans = fake_stop_orphans,
    .close = fake_close,
};

/* ---- fixture ------------------------------------------------------------------------ */

typedef struct fx {
    char *home;
    store *s;
    fake_exec x;
} fx;

static int setup(void **state) {
    fx *f = mp_xcalloc(1, sizeof *f);
    f->home = ut_scratch_dir("engine");
    f->s = ut_store_in(f->home);
    f->x.base.m = &fake_methods;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    f->x.base.m->close(&f->x.base);
    f->s->m->close(f->s);
    mp_rm_rf(f->home, NULL);
    free(f->home);
    free(f);
    return 0;
}

/* Submits the pipeline in yaml and executes it with the scripted executor. */
static int run_pipeline(fx *f, const char *yaml, char **run_id, int *final_state) {
    spec_diags d = {0};
    spec_file *sf = NULL;
    char *spec_path = mp_xasprintf("%s/p.yaml", f->home);
    if (spec_load_string(spec_path, f->home, yaml, strlen(yaml), &sf, &d) != 0) {
        mp_buf b = {0};
        spec_diags_format(&d, &b);
        fail_msg("spec: %s", b.data);
    }
    mp_err e = {0};
    engine_submit_req req = {.pipeline = spec_file_pipeline(sf), .spec_path = spec_path, .spec_text = yaml,
                            .parallel = 4, .file = sf, .diags = &d};
    if (engine_submit(f->s, f->home, &req, run_id, &e) != 0) fail_msg("submit: %s", e.msg);
    engine_opts o = {.home = f->home, .self_exe = "/bin/true", .kill_grace_ms = 100};
    int rc = engine_execute(f->s, &f->x.base, spec_file_pipeline(sf), *run_id, &o, final_state, &e);
    if (rc != 0) fail_msg("execute: %s", e.msg);
    spec_file_free(sf);
    spec_diags_free(&d);
    free(spec_path);
    return rc;
}

static bool has_event(fx *f, const char *run_id, const char *step, const char *type, const char *msg_part) {
    store_event *ev = NULL;
    size_t n = 0;
    mp_err e = {0};
    if (f->s->m->event_list(f->s, run_id, 0, &ev, &n, &e) != 0) fail_msg("events: %s", e.msg);
    bool found = false;
    for (size_t i = 0; i < n && !found; i++)
        found = ev[i].step && strcmp(ev[i].step, step) == 0 && strcmp(ev[i].type, type) == 0 &&
                (!msg_part || (ev[i].message && strstr(ev[i].message, msg_part)));
    store_event_array_free(ev, n);
    return found;
}

static store_step step_of(fx *f, const char *run_id, const char *name) {
    store_step st = {0};
    mp_err e = {0};
    if (f->s->m->step_get(f->s, run_id, name, &st, &e) != 0) fail_msg("step %s: %s", name, e.msg);
    return st;
}

static const char *dag = "apiVersion: mlplane.dev/v1\n"
                         "kind: Pipeline\n"
                         "metadata: {name: scripted}\n"
                         "spec:\n"
                         "  steps:\n"
                         "    - name: a\n"
                         "      command: [\"true\"]\n"
                         "    - name: b\n"
                         "      dependsOn: [a]\n"
                         "      command: [\"true\"]\n"
                         "      retries: {limit: 1, backoffSeconds: 0.05}\n"
                         "    - name: c\n"
                         "      dependsOn: [b]\n"
                         "      command: [\"true\"]\n";

/* The engine runs a DAG through the executor's events alone: exits in order, a
 * failed attempt retried, a note recorded as the step's event, every handle
 * given back. */
static void test_dag_through_events(void **state) {
    fx *f = *state;
    char *run_id = NULL;
    int final = 0;
    run_pipeline(f, dag, &run_id, &final);
    assert_int_equal(final, RUN_SUCCEEDED);
    store_step a = step_of(f, run_id, "a"), b = step_of(f, run_id, "b"), c = step_of(f, run_id, "c");
    assert_int_equal(a.state, STEP_SUCCEEDED);
    assert_int_equal(b.state, STEP_SUCCEEDED);
    assert_int_equal(b.attempts, 2);
    assert_int_equal(c.state, STEP_SUCCEEDED);
    assert_int_equal(a.pid, 0);
    store_step_free(&a);
    store_step_free(&b);
    store_step_free(&c);
    assert_int_equal(f->x.ntasks, 4); /* a, b twice, c */
    assert_int_equal(f->x.released, 4);
    assert_true(has_event(f, run_id, "a", "ImagePulled", "image pulled for fake/0"));
    assert_true(has_event(f, run_id, "b", "StepRetrying", NULL));
    free(run_id);
}

/* A task the executor cannot start fails the step (exit 126) without retries
 * spinning, and the run fails with the step named. */
static void test_cannot_start(void **state) {
    fx *f = *state;
    const char *yaml = "apiVersion: mlplane.dev/v1\n"
                       "kind: Pipeline\n"
                       "metadata: {name: nostart}\n"
                       "spec:\n"
                       "  steps:\n"
                       "    - name: nostart\n"
                       "      command: [\"true\"]\n"
                       "    - name: after\n"
                       "      dependsOn: [nostart]\n"
                       "      command: [\"true\"]\n";
    char *run_id = NULL;
    int final = 0;
    run_pipeline(f, yaml, &run_id, &final);
    assert_int_equal(final, RUN_FAILED);
    store_step s = step_of(f, run_id, "nostart"), after = step_of(f, run_id, "after");
    assert_int_equal(s.state, STEP_FAILED);
    assert_int_equal(s.exit_code, 126);
    assert_int_equal(after.state, STEP_SKIPPED);
    store_step_free(&s);
    store_step_free(&after);
    assert_int_equal(f->x.ntasks, 0);
    free(run_id);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dag_through_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
