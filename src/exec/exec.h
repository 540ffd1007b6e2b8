/* exec.h — the executor interface: start a step's process, signal it, learn when
 * it ends, and find what a dead run left behind.
 *
 * An executor is a struct of function pointers (like SQLite's VFS) with one
 * implementation per place work runs: local processes (local.c) now, Kubernetes
 * Jobs later. The scheduler above owns all decisions (what to start, timeouts,
 * retries) and records every state change in the store before calling here; an
 * executor keeps no durable state of its own.
 *
 * Local semantics: every task runs in its own process group (so a signal reaches
 * the step and all its children), stdin is /dev/null, stdout and stderr are
 * appended to the task's log file. The environment given is the whole
 * environment of the child; PATH in it is used to find argv[0].
 * Thread-safety: an executor belongs to the one thread that opened it; local
 * executors reap children with waitpid(-1), so a process should have one. */
#ifndef MLPLANE_EXEC_H
#define MLPLANE_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

typedef struct exec_task {
    const char *run_id;
    const char *step;
    char *const *argv;  /* NULL-terminated; argv[0] looked up in envp's PATH */
    char *const *envp;  /* NULL-terminated; the child's whole environment */
    const char *cwd;    /* working directory, NULL for the current one */
    const char *log_path; /* stdout and stderr are appended here */
    const char *image;  /* container image (Kubernetes); ignored locally */
} exec_task;

typedef struct exec_proc {
    int pid;       /* local: the process (and process group) id */
    char ref[128]; /* a printable handle ("pid 1234", a Job name, ...) */
} exec_proc;

typedef struct exec_exit {
    int pid;
    int exit_code; /* the exit status, or 128 + signal when killed by a signal */
    int signal;    /* the signal that killed it, 0 when it exited */
} exec_exit;

typedef struct executor executor;

typedef struct exec_methods {
    const char *name; /* "local" */
    /* Starts t. MP_ENOENT when argv[0] cannot be found, MP_EIO when it cannot be
     * run; the reason is also appended to the task's log. */
    int (*start)(executor *x, const exec_task *t, exec_proc *out, mp_err *e);
    /* Sends sig to the task's whole process group. A task already gone is not an
     * error. */
    int (*signal)(executor *x, const exec_proc *p, int sig, mp_err *e);
    /* Waits up to timeout_ms for tasks to end and fills out[0..max) with those
     * that did. Returns how many (0 on timeout or when a signal interrupted the
     * wait), or a negative error. */
    int (*wait)(executor *x, int timeout_ms, exec_exit *out, size_t max, mp_err *e);
    /* Stops every process still running for run_id from an earlier, dead owner
     * (found by MLPLANE_RUN_ID in their environment): SIGTERM, then SIGKILL for
     * those still there after grace_ms. Returns the number found, or an error. */
    int (*stop_orphans)(executor *x, const char *run_id, int grace_ms, mp_err *e);
    void (*close)(executor *x);
} exec_methods;

struct executor {
    const exec_methods *m;
};

/* Opens the local-process executor; *out is freed with (*out)->m->close(*out).
 * It blocks SIGCHLD in the calling thread (delivered through a signalfd). */
int exec_local_open(executor **out, mp_err *e);

/* Looks cmd up in the colon-separated path list (as execvp would). Returns a heap
 * path (caller frees) or NULL when not found or not executable. A cmd holding '/'
 * is returned as is when cwd-relative resolution succeeds. */
char *exec_find_program(const char *cmd, const char *path_list, const char *cwd);

#endif
