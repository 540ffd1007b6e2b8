/* sched.h — turns a validated pipeline into a run and drives it to an end:
 * dependency order, concurrency, capacity, caching, retries with exponential
 * backoff, timeouts, cancellation, and resume after a crash.
 *
 * Durability rule: every state change of a run or step is committed to the store
 * (with its event) before it is acted on (a process started or signalled) or
 * reported to an observer. So a run whose owner is killed can always be resumed
 * from what the store says.
 *
 * Files of a run: HOME/runs/RUN/STEP/ holds a step's outputs (and is its working
 * directory unless workingDir says otherwise); HOME/runs/RUN/logs/STEP.log its output.
 * Thread: sched_execute runs in the calling thread; it owns the store handle and
 * executor given to it for its duration. Observers are called on that thread. */
#ifndef MLPLANE_SCHED_H
#define MLPLANE_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec/exec.h"
#include "spec/spec.h"
#include "store/store.h"
#include "util/util.h"

/* The machine a run's steps must fit on. */
typedef struct sched_capacity {
    int64_t cpu_milli;
    int64_t memory_bytes;
    int64_t gpu;
} sched_capacity;

/* Detects this machine's capacity: CPUs, memory, and NVIDIA GPUs (sched_gpu_local). */
void sched_local_capacity(sched_capacity *c);

/* Checks every step's resource requests against c. Returns 0, or MP_EINVAL naming
 * the first step that can never fit and why. */
int sched_check_capacity(const spec_pipeline *p, const sched_capacity *c, mp_err *e);

typedef struct sched_submit_req {
    const spec_pipeline *pipeline;
    const char *spec_path; /* absolute path of the spec file */
    const char *spec_text; /* its full text, kept for resume */
    const char *const *overrides; /* "name=value" */
    size_t noverrides;
    int parallel; /* max concurrent steps; 0 = CPU count */
} sched_submit_req;

/* Creates a Pending run and its Pending steps in one transaction. Returns 0 and a
 * heap run id in *run_id (caller frees), or MP_EINVAL for bad params or capacity
 * (nothing written), or a store error. */
int sched_submit(store *st, const char *home, const sched_submit_req *req, char **run_id, mp_err *e);

/* What an observer sees: the run's steps as they are now. */
typedef struct sched_step_view {
    const char *name;
    int state; /* store_step_state */
    int attempts;
    int exit_code;
    int64_t started_ms, ended_ms; /* wall ms; 0 when not yet */
    bool cached;
    const char *message; /* may be NULL */
} sched_step_view;

typedef struct sched_view {
    const char *run_id;
    int run_state;
    const sched_step_view *steps;
    size_t nsteps;
} sched_view;

typedef struct sched_observer {
    /* A committed state change (step NULL for the run itself). */
    void (*on_event)(void *ud, const sched_view *v, const char *step, const char *type, const char *msg);
    /* Called about every 200 ms while the run goes on (for live views). */
    void (*on_tick)(void *ud, const sched_view *v);
    void *ud;
} sched_observer;

typedef struct sched_opts {
    const char *home;
    const char *self_exe;       /* the mlplane binary; its directory is put first in steps' PATH */
    int kill_grace_ms;          /* SIGTERM -> SIGKILL grace; 0 = default (10 s, or $MLPLANE_KILL_GRACE_MS) */
    const sched_observer *obs;  /* may be NULL */
    volatile int *interrupted;  /* set non-zero (by a signal handler) to cancel the run; may be NULL */
} sched_opts;

/* Executes run_id (Pending, or prepared by sched_prepare_resume) to a final state,
 * which is returned in *final_state. p must be the run's pipeline, parsed from
 * the run's stored spec. Returns 0 when the run reached a final state (whatever
 * it is), or an error when it could not be driven (store failure, ...). */
int sched_execute(store *st, executor *x, const spec_pipeline *p, const char *run_id, const sched_opts *o,
                  int *final_state, mp_err *e);

/* Makes an interrupted run executable again: refuses a final run (MP_ESTATE) or a
 * run whose owner process is alive (MP_EBUSY); stops the dead run's orphaned
 * processes; returns steps that were Running to Pending with their partial
 * outputs discarded. Steps that succeeded stay Succeeded. */
int sched_prepare_resume(store *st, executor *x, const char *run_id, const sched_opts *o, mp_err *e);

/* Cancels a run. When its owner is alive it is asked to cancel (through the
 * store) and this waits up to wait_ms for the run to end; when the owner is dead
 * this stops the run's processes and marks it Cancelled itself. MP_ESTATE when the
 * run has already ended. */
int sched_cancel(store *st, executor *x, const char *run_id, const sched_opts *o, int wait_ms, mp_err *e);

/* Whether the process recorded as a run's owner is still alive. */
bool sched_owner_alive(const store_run *r);

/* Appends an event to the store (its own transaction unless one is open). */
int sched_event(store *st, const char *run_id, const char *step, const char *type, const char *msg, mp_err *e);

/* ---- GPUs (gpu.c) ------------------------------------------------------------
 * NVIDIA GPUs are found through NVML, loaded at run time: $MLPLANE_NVML_LIBRARY
 * when set, else libnvidia-ml.so.1. No library, or NVML failing, means 0 GPUs,
 * with the reason kept for display. */
typedef struct sched_gpu {
    int index;            /* NVML device index */
    char name[96];        /* "NVIDIA H100 80GB HBM3" */
    char uuid[96];        /* "GPU-xxxxxxxx-...", "" when unknown */
    int64_t memory_bytes; /* total device memory, 0 when unknown */
} sched_gpu;

/* Asks NVML now: returns 0 (finding none is not an error), a heap array in *out
 * (caller frees; NULL when none) of *n GPUs, and in why (may be NULL) why none or
 * some were left out ("libnvidia-ml.so.1 not found"), "" when all were found. */
int sched_gpu_discover(sched_gpu **out, size_t *n, char *why, size_t whyn);

/* This process' GPUs, discovered on first call and cached (thread-safe): the
 * array (owned here, valid until exit), *n, and *why as for sched_gpu_discover. */
const sched_gpu *sched_gpu_local(size_t *n, const char **why);

#endif
