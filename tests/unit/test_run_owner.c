/* test_run_owner.c — unit tests of how a run's owner decides what is shown:
 * engine_owner_alive (pid and start time) and engine_runs_settle, which reads a
 * run again when it was read while its owner was ending it (not final in the row
 * read, the owner gone by the liveness check), so that a run that just ended is
 * never shown Interrupted. A real SQLite store under $MLPLANE_TEST_TMP, a real
 * child process as the dead owner. Single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/api.h"
#include "engine/engine.h"
#include "store/store.h"
#include "unit_helpers.h"

typedef struct fx {
    char *dir;
    store *s;
} fx;

static int setup(void **state) {
    fx *f = mp_xcalloc(1, sizeof *f);
    f->dir = ut_scratch_dir("run-owner");
    f->s = ut_store_in(f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    f->s->m->close(f->s);
    mp_rm_rf(f->dir, NULL);
    free(f->dir);
    free(f);
    return 0;
}

/* A pid that was alive and is now gone (reaped), with its start time. */
static int dead_pid(int64_t *start) {
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        ssize_t n = read(ready[0], &c, 1);
        _exit(n == 1 ? 0 : 1);
    }
    *start = mp_proc_start_time((int)pid);
    assert_true(*start >= 0);
    assert_int_equal(write(ready[1], "x", 1), 1);
    close(ready[0]);
    close(ready[1]);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    return (int)pid;
}

static void insert_run(store *s, const char *id, int state, int owner, int64_t start) {
    store_run r = {.id = (char *)id, .pipeline = "p", .namespace_ = "default", .state = state, .params_json = "{}",
                   .created_ms = mp_now_ms(), .owner_pid = owner, .owner_start = start, .parallel = 1};
    mp_err e = {0};
    if (s->m->run_insert(s, &r, &e) != 0) fail_msg("insert %s: %s", id, e.msg);
}

static void set_state(store *s, const char *id, int state) {
    store_run r = {0};
    mp_err e = {0};
    assert_int_equal(s->m->run_get(s, id, &r, &e), 0);
    r.state = state;
    r.ended_ms = mp_now_ms();
    if (s->m->run_update(s, &r, &e) != 0) fail_msg("update %s: %s", id, e.msg);
    store_run_free(&r);
}

static void test_owner_alive(void **state) {
    (void)state;
    store_run me = {.owner_pid = (int)getpid(), .owner_start = mp_proc_start_time((int)getpid())};
    assert_true(engine_owner_alive(&me));
    me.owner_start++; /* the same pid, another start: a recycled pid is not the owner */
    assert_false(engine_owner_alive(&me));
    int64_t start;
    store_run gone = {.owner_pid = dead_pid(&start)};
    gone.owner_start = start;
    assert_false(engine_owner_alive(&gone));
    store_run none = {.owner_pid = 0};
    assert_false(engine_owner_alive(&none));
}

/* The race a listing runs into under load: the row is read while the run is
 * Running; its owner commits Succeeded and exits; then the liveness check finds
 * it gone. Without the second read the run shows Interrupted. */
static void test_settle_rereads_a_run_its_owner_ended(void **state) {
    fx *f = *state;
    int64_t start;
    int pid = dead_pid(&start);
    insert_run(f->s, "ended-1", RUN_RUNNING, pid, start);
    insert_run(f->s, "lost-1", RUN_RUNNING, pid, start);
    insert_run(f->s, "live-1", RUN_RUNNING, (int)getpid(), mp_proc_start_time((int)getpid()));
    store_run *runs = NULL;
    size_t n = 0;
    assert_int_equal(f->s->m->run_list(f->s, 0, &runs, &n, NULL), 0);
    assert_int_equal(n, 3);
    /* after the read: the owner of ended-1 ended it; lost-1's owner died without */
    set_state(f->s, "ended-1", RUN_SUCCEEDED);
    set_state(f->s, "live-1", RUN_SUCCEEDED);
    engine_runs_settle(f->s, runs, n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(runs[i].id, "ended-1") == 0) {
            assert_int_equal(runs[i].state, RUN_SUCCEEDED);
            assert_string_equal(api_run_state_shown(&runs[i]), "Succeeded");
        } else if (strcmp(runs[i].id, "lost-1") == 0) {
            assert_int_equal(runs[i].state, RUN_RUNNING);
            assert_string_equal(api_run_state_shown(&runs[i]), "Interrupted");
        } else {
            /* a live owner drives it: what was read stands (it is shown Running) */
            assert_string_equal(runs[i].id, "live-1");
            assert_string_equal(api_run_state_shown(&runs[i]), "Running");
        }
    }
    store_run_array_free(runs, n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_alive),
        cmocka_unit_test_setup_teardown(test_settle_rereads_a_run_its_owner_ended, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
