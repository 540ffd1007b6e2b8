/* exec.h — the executor interface: start a step's process, signal it, learn when
 * it ends, and find what a dead run left behind.
 *
 * An executor is a struct of function pointers (like SQLite's VFS) with one
 * implementation per place work runs: local processes (local.c) now, Kubernetes
 * Jobs later. The engine above (src/engine) owns all decisions (what to start, timeouts,
 * retries) and records every state change in the store before calling here; an
 * executor keeps no durable state of its own.
 *
 * Local semantics: every task runs in its own process group (so a signal reaches
 * the step and all its children), stdin is /dev/null, stdout and stderr are
 * appended to the task's log file. The environment given is the whole
 * environment of the child; PATH in it is used to find argv[0].
 * Thread-safety: an executor belongs to the one thread that opened it. The local
 * executor reaps only the children it started (waitpid on each of its pids), so
 * other children of the process (a server's model replicas) are left to their
 * owners. */
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
    /* Secret values the step was given: every occurrence in its output is written
     * to the log as "***" (locally through a pipe and a relay thread). NULL/0: none. */
    const unsigned char *const *redact;
    const size_t *redact_len;
    size_t nredact;
} exec_task;

/* What an executor hands back for one started task. An executor allocates a
 * larger struct of its own with this as its first member (as executor itself);
 * the caller reads it, never writes it, and gives it back with release() once
 * the task's EXEC_EXITED event has been handled (or when it stops caring). */
typedef struct exec_handle {
    void *user;    /* the caller's, given to start(): returned with every event */
    int pid;       /* local: the process (and process group) id; 0 where none */
    char ref[128]; /* a printable handle ("pid 1234", "job/train-0", ...) */
} exec_handle;

typedef enum exec_event_kind {
    EXEC_EXITED = 1, /* the task ended: exit_code and signal say how */
    EXEC_NOTE,       /* a change worth recording that is not an end (reason, message):
                      * a pod pending on an image pull, a node lost, ... */
} exec_event_kind;

typedef struct exec_event {
    exec_event_kind kind;
    exec_handle *h;    /* the task's handle: h->user says whose */
    int exit_code;     /* EXEC_EXITED: the exit status, or 128 + signal when killed by one */
    int signal;        /* EXEC_EXITED: the signal that killed it, 0 when it exited */
    char reason[64];   /* EXEC_NOTE: a CamelCase reason ("ImagePullBackOff") */
    char message[256]; /* EXEC_NOTE: one sentence */
} exec_event;

typedef struct executor executor;

typedef struct exec_methods {
    const char *name; /* "local" */
    /* Starts t; *out is the task's handle (owned by the executor, given back with
     * release()) carrying user. MP_ENOENT when argv[0] cannot be found, MP_EIO
     * when it cannot be run; the reason is also appended to the task's log. On
     * failure nothing was started and *out is NULL. */
    int (*start)(executor *x, const exec_task *t, void *user, exec_handle **out, mp_err *e);
    /* Sends sig to the task (locally its whole process group). A task already
     * gone is not an error. */
    int (*signal)(executor *x, exec_handle *h, int sig, mp_err *e);
    /* Waits up to timeout_ms for events from the executor's own source (local: a
     * signalfd for SIGCHLD; Kubernetes: a watch stream) and fills out[0..max)
     * with them. Returns how many (0 on timeout or when a signal interrupted the
     * wait), or a negative error. A task has exactly one EXEC_EXITED event. */
    int (*wait)(executor *x, int timeout_ms, exec_event *out, size_t max, mp_err *e);
    /* Forgets a task: h is invalid afterwards. Releasing a task that still runs
     * leaves it running (unwatched). */
    void (*release)(executor *x, exec_handle *h);
    /* Stops every process still running for run_id from an earlier, dead owner
     * (found by MLPLANE_RUN_ID in their environment): SIGTERM, then SIGKILL for
     * those still there after grace_ms. Returns the number found, or an error. */
    int (*stop_orphans)(executor *x, const char *run_id, int grace_ms, mp_err *e);
    /* Closes the executor; handles not released are freed with it. */
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

/* The system calls the local executor makes, by name, so that a test can make
 * one fail (SQLite's xSetSystemCall): "open", "posix_spawn", "waitpid", "kill",
 * "poll", "read". fn NULL restores the real one. Returns MP_ENOENT for an
 * unknown name. Not thread-safe: for tests, before any executor is opened. */
int exec_local_set_syscall(const char *name, void (*fn)(void));

/* ---- masking secret values in output (redact.c) ------------------------------------------
 * A streaming redactor: exec_redactor_feed appends data to what it holds back and
 * writes to out everything that can no longer be part of a value, each value
 * replaced by "***"; final flushes the rest. exec_redactor_new copies the values
 * (empty ones ignored); free zeroes them. One thread at a time. */
typedef struct exec_redactor exec_redactor;
exec_redactor *exec_redactor_new(const unsigned char *const *vals, const size_t *lens, size_t n);
void exec_redactor_feed(exec_redactor *r, const void *data, size_t len, bool final, mp_buf *out);
void exec_redactor_free(exec_redactor *r);
/* Starts a thread copying rfd to logfd through r until end of file; it takes rfd,
 * logfd and r and frees them when it ends (join or detach *th). */
#include <pthread.h>
int exec_redact_relay_start(int rfd, int logfd, exec_redactor *r, pthread_t *th, mp_err *e);

/* ---- the step launcher inside a Kubernetes pod (launch*.c) -----------------------------
 * What `mlplane launch` does (docs/kubernetes-render.md, "Artifacts on a
 * cluster"): fetch a step's inputs and upstream outputs from mlplane server,
 * run its command, upload its outputs and metrics. */

/* Runs argv (NULL-terminated, looked up in PATH) as the pod's step, reading the
 * artifacts description and the rest from the environment (MLPLANE_ARTIFACTS or
 * MLPLANE_ARTIFACTS_FILE, MLPLANE_RUN_ID, MLPLANE_STEP, MLPLANE_SERVER,
 * MLPLANE_WORK, MLPLANE_OUTPUTS, MLPLANE_WORKDIR, MLPLANE_TRIAL,
 * MLPLANE_LAUNCH_RETRIES). Returns 0 when the command ran, with *status its
 * exit status (128+N for signal N); its outputs were uploaded when that is 0.
 * Otherwise an error: nothing ran (a bad description, an input missing or not
 * matching its hash), or the command succeeded and an output could not be
 * uploaded. Forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 to the
 * command's process group while it runs. */
int exec_launch(char *const *argv, int *status, mp_err *e);

/* Copies a self-contained launcher into dir (created): the running mlplane
 * binary as dir/mlplane, its ELF loader as dir/ld.so and every shared library
 * the process has loaded in dir/lib, each written under a temporary name and
 * renamed (so running it again gives the same folder). Run it as
 * `dir/ld.so --library-path dir/lib dir/mlplane ...`: nothing of the image
 * it runs in is needed. */
int exec_launch_install(const char *dir, mp_err *e);

/* The tree hash (the step cache's, mp_hash_path) of the file or folder at path
 * into tree, and its manifest as JSON text (*json, heap) whose chunks are its
 * whole files named by their SHA-256, as `mlplane --server URL run` uploads them. */
int exec_tree_manifest(const char *path, char **json, char tree[65], mp_err *e);
/* Where the manifest of tree hex lives in the artifact store: "mlplane/trees/HE/HEX.json" (heap). */
char *exec_tree_manifest_path(const char *hex);

#endif
