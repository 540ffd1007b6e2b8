/* test_exec_local.c — unit tests of the local-process executor (src/exec/local.c)
 * through its interface: real child processes, handles returned with their
 * exits, signals, and the failures of the system calls it makes, injected with
 * exec_local_set_syscall (a spawn that fails, a poll interrupted by a signal, a
 * full disk for the log). Single-threaded; logs under $MLPLANE_TEST_TMP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/exec.h"
#include "unit_helpers.h"

extern char **environ;

typedef struct fx {
    char *dir;
    char *log;
    executor *x;
} fx;

static int setup(void **state) {
    fx *f = mp_xcalloc(1, sizeof *f);
    f->dir = ut_scratch_dir("exec-local");
    f->log = mp_xasprintf("%s/step.log", f->dir);
    mp_err e = {0};
    if (exec_local_open(&f->x, &e) != 0) fail_msg("open: %s", e.msg);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    f->x->m->close(f->x);
    mp_rm_rf(f->dir, NULL);
    free(f->dir);
    free(f->log);
    free(f);
    exec_local_set_syscall("open", NULL);
    exec_local_set_syscall("posix_spawn", NULL);
    exec_local_set_syscall("poll", NULL);
    return 0;
}

static exec_task task(fx *f, char *const *argv) {
    return (exec_task){.run_id = "r1", .step = "s", .argv = argv, .envp = environ, .cwd = f->dir, .log_path = f->log};
}

/* Waits (up to a generous deadline) for one event; fails the test without one. */
static exec_event wait_one(fx *f) {
    exec_event ev;
    mp_err e = {0};
    for (int i = 0; i < 600; i++) {
        int n = f->x->m->wait(f->x, 100, &ev, 1, &e);
        assert_true(n >= 0);
        if (n == 1) return ev;
    }
    fail_msg("no event within 60 s");
    return ev;
}

static char *log_text(fx *f) {
    char *t = NULL;
    size_t n = 0;
    if (mp_read_file(f->log, &t, &n, NULL) != 0) return mp_xstrdup("");
    return t;
}

/* A started task comes back, with the caller's pointer, in its one exit event. */
static void test_exit_carries_handle(void **state) {
    fx *f = *state;
    char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    exec_task t = task(f, argv);
    int tag = 0;
    exec_handle *h = NULL;
    mp_err e = {0};
    assert_int_equal(f->x->m->start(f->x, &t, &tag, &h, &e), 0);
    assert_non_null(h);
    assert_true(h->pid > 0);
    assert_ptr_equal(h->user, &tag);
    exec_event ev = wait_one(f);
    assert_int_equal(ev.kind, EXEC_EXITED);
    assert_ptr_equal(ev.h, h);
    assert_int_equal(ev.exit_code, 3);
    assert_int_equal(ev.signal, 0);
    f->x->m->release(f->x, h);
    char *log = log_text(f);
    assert_non_null(strstr(log, "out\n"));
    assert_non_null(strstr(log, "err\n"));
    free(log);
    exec_event none;
    assert_int_equal(f->x->m->wait(f->x, 0, &none, 1, &e), 0); /* exactly one exit */
}

static void test_signal_reaches_task(void **state) {
    fx *f = *state;
    char *argv[] = {"/bin/sleep", "30", NULL};
    exec_task t = task(f, argv);
    exec_handle *h = NULL;
    mp_err e = {0};
    assert_int_equal(f->x->m->start(f->x, &t, NULL, &h, &e), 0);
    assert_int_equal(f->x->m->signal(f->x, h, SIGTERM, &e), 0);
    exec_event ev = wait_one(f);
    assert_ptr_equal(ev.h, h);
    assert_int_equal(ev.signal, SIGTERM);
    assert_int_equal(ev.exit_code, 128 + SIGTERM);
    assert_int_equal(f->x->m->signal(f->x, h, SIGTERM, &e), 0); /* gone: not an error */
    f->x->m->release(f->x, h);
}

/* A child the executor did not start is left to its owner. */
static void test_foreign_child_not_reaped(void **state) {
    fx *f = *state;
    pid_t other;
    char *oargv[] = {"/bin/true", NULL};
    assert_int_equal(posix_spawn(&other, "/bin/true", NULL, NULL, oargv, environ), 0);
    char *argv[] = {"/bin/sh", "-c", "sleep 0.2", NULL};
    exec_task t = task(f, argv);
    exec_handle *h = NULL;
    mp_err e = {0};
    assert_int_equal(f->x->m->start(f->x, &t, NULL, &h, &e), 0);
    exec_event ev = wait_one(f);
    assert_ptr_equal(ev.h, h);
    f->x->m->release(f->x, h);
    int status = -1;
    assert_int_equal(waitpid(other, &status, 0), other);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_command_not_found(void **state) {
    fx *f = *state;
    char *argv[] = {"no-such-command-xyz", NULL};
    exec_task t = task(f, argv);
    exec_handle *h = (exec_handle *)1;
    mp_err e = {0};
    assert_int_equal(f->x->m->start(f->x, &t, NULL, &h, &e), MP_ENOENT);
    assert_null(h);
    assert_non_null(strstr(e.msg, "command not found: no-such-command-xyz"));
    char *log = log_text(f);
    assert_non_null(strstr(log, "command not found: no-such-command-xyz"));
    free(log);
}

/* Starts /bin/true, which must be refused with status want and no handle. */
static void start_true_refused(fx *f, int want, mp_err *e) {
    char *argv[] = {"/bin/true", NULL};
    exec_task t = task(f, argv);
    exec_handle *h = NULL;
    assert_int_equal(f->x->m->start(f->x, &t, NULL, &h, e), want);
    assert_null(h);
}

static int spawn_eagain(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *at, char *const argv[], char *const envp[]) {
    (void)pid, (void)path, (void)fa, (void)at, (void)argv, (void)envp;
    return EAGAIN;
}

static void test_spawn_fails(void **state) {
    fx *f = *state;
    exec_local_set_syscall("posix_spawn", (void (*)(void))spawn_eagain);
    mp_err e = {0};
    start_true_refused(f, MP_EIO, &e);
    assert_non_null(strstr(e.msg, "cannot run /bin/true"));
    assert_non_null(strstr(e.msg, strerror(EAGAIN)));
    char *log = log_text(f);
    assert_non_null(strstr(log, strerror(EAGAIN)));
    free(log);
    exec_event ev;
    assert_int_equal(f->x->m->wait(f->x, 0, &ev, 1, &e), 0); /* nothing started, nothing ends */
}

static int open_enospc(const char *path, int flags, ...) {
    (void)path, (void)flags;
    errno = ENOSPC;
    return -1;
}

static void test_log_on_full_disk(void **state) {
    fx *f = *state;
    exec_local_set_syscall("open", (void (*)(void))open_enospc);
    mp_err e = {0};
    start_true_refused(f, MP_EIO, &e);
    assert_non_null(strstr(e.msg, "cannot open log"));
    assert_non_null(strstr(e.msg, f->log));
    assert_non_null(strstr(e.msg, strerror(ENOSPC)));
}

static int poll_calls;
static int poll_eintr(struct pollfd *fds, nfds_t n, int timeout) {
    (void)fds, (void)n, (void)timeout;
    poll_calls++;
    errno = EINTR;
    return -1;
}

/* A wait interrupted by a signal returns no event and no error; the exit is
 * delivered by the next wait. */
static void test_wait_eintr(void **state) {
    fx *f = *state;
    char *argv[] = {"/bin/sh", "-c", "sleep 0.3", NULL};
    exec_task t = task(f, argv);
    exec_handle *h = NULL;
    mp_err e = {0};
    assert_int_equal(f->x->m->start(f->x, &t, NULL, &h, &e), 0);
    exec_local_set_syscall("poll", (void (*)(void))poll_eintr);
    exec_event ev;
    poll_calls = 0;
    assert_int_equal(f->x->m->wait(f->x, 5000, &ev, 1, &e), 0);
    assert_int_equal(poll_calls, 1);
    exec_local_set_syscall("poll", NULL);
    ev = wait_one(f);
    assert_ptr_equal(ev.h, h);
    assert_int_equal(ev.exit_code, 0);
    f->x->m->release(f->x, h);
}

static void test_unknown_syscall(void **state) {
    (void)state;
    assert_int_equal(exec_local_set_syscall("fork", NULL), MP_ENOENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exit_carries_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_reaches_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_child_not_reaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_on_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_eintr, setup, teardown),
        cmocka_unit_test(test_unknown_syscall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
