/* engine.h — the pipeline engine: turns a validated pipeline into a run and
 * drives it to an end: dependency order, concurrency, caching, retries with
 * exponential backoff, timeouts, cancellation, sweeps, resume after a crash,
 * and the run's MLflow view. Admission and placement are src/sched's; processes
 * (or Jobs) are an executor's (src/exec).
 *
 * Durability rule: every state change of a run or step is committed to the store
 * (with its event) before it is acted on (a process started or signalled) or
 * reported to an observer. So a run whose owner is killed can always be resumed
 * from what the store says.
 *
 * Files of a run: HOME/runs/RUN/STEP/ holds a step's outputs (and is its working
 * directory unless workingDir says otherwise); HOME/runs/RUN/logs/STEP.log its output.
 * Thread: engine_execute runs in the calling thread; it owns the store handle and
 * executor given to it for its duration. Observers are called on that thread. */
#ifndef MLPLANE_ENGINE_H
#define MLPLANE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "exec/exec.h"
#include "sched/sched.h"
#include "spec/spec.h"
#include "store/store.h"
#include "util/util.h"

typedef struct engine_submit_req {
    const spec_pipeline *pipeline;
    const char *spec_path; /* absolute path of the spec file */
    const char *spec_text; /* its full text, kept for resume */
    const char *const *overrides; /* "name=value" */
    size_t noverrides;
    int parallel; /* max concurrent steps; 0 = CPU count */
    /* The file the pipeline comes from, or NULL: its other documents (PriorityClass,
     * Node, ClusterQueue, ...) are applied in the same transaction as the run, as
     * `mlplane apply` would. */
    const spec_file *file;
    spec_diags *diags; /* where problems with those objects go (may be NULL with file NULL) */
} engine_submit_req;

/* Creates a Pending run and its Pending steps in one transaction. Returns 0 and a
 * heap run id in *run_id (caller frees), or MP_EINVAL for bad params, objects
 * that are not applied (a PriorityClass, a LocalQueue) or a step that no node of
 * the cluster could ever hold (nothing written), or a store error. */
int engine_submit(store *st, const char *home, const engine_submit_req *req, char **run_id, mp_err *e);

/* What an observer sees: the run's steps as they are now. */
typedef struct engine_step_view {
    const char *name;
    int state; /* store_step_state */
    int attempts;
    int exit_code;
    int64_t started_ms, ended_ms; /* wall ms; 0 when not yet */
    bool cached;
    const char *message; /* may be NULL */
} engine_step_view;

typedef struct engine_view {
    const char *run_id;
    int run_state;
    const engine_step_view *steps;
    size_t nsteps;
} engine_view;

typedef struct engine_observer {
    /* A committed state change (step NULL for the run itself). */
    void (*on_event)(void *ud, const engine_view *v, const char *step, const char *type, const char *msg);
    /* Called about every 200 ms while the run goes on (for live views). */
    void (*on_tick)(void *ud, const engine_view *v);
    void *ud;
} engine_observer;

typedef struct engine_opts {
    const char *home;
    const char *self_exe;       /* the mlplane binary; its directory is put first in steps' PATH */
    int kill_grace_ms;          /* SIGTERM -> SIGKILL grace; 0 = default (10 s, or $MLPLANE_KILL_GRACE_MS) */
    const engine_observer *obs;  /* may be NULL */
    volatile int *interrupted;  /* set non-zero (by a signal handler) to cancel the run; may be NULL */
} engine_opts;

/* Executes run_id (Pending, or prepared by engine_prepare_resume) to a final state,
 * which is returned in *final_state. p must be the run's pipeline, parsed from
 * the run's stored spec. Returns 0 when the run reached a final state (whatever
 * it is), or an error when it could not be driven (store failure, ...). */
int engine_execute(store *st, executor *x, const spec_pipeline *p, const char *run_id, const engine_opts *o,
                  int *final_state, mp_err *e);

/* Makes an interrupted run executable again: refuses a final run (MP_ESTATE) or a
 * run whose owner process is alive (MP_EBUSY); stops the dead run's orphaned
 * processes; returns steps that were Running to Pending with their partial
 * outputs discarded. Steps that succeeded stay Succeeded. */
int engine_prepare_resume(store *st, executor *x, const char *run_id, const engine_opts *o, mp_err *e);

/* Cancels a run. When its owner is alive it is asked to cancel (through the
 * store) and this waits up to wait_ms for the run to end; when the owner is dead
 * this stops the run's processes and marks it Cancelled itself. MP_ESTATE when the
 * run has already ended. */
int engine_cancel(store *st, executor *x, const char *run_id, const engine_opts *o, int wait_ms, mp_err *e);

/* The last nlines non-empty lines (heap, joined by '\n') that the last attempt of a
 * step wrote to log_path (after its "==> mlplane: attempt N" header), each made
 * printable UTF-8 and cut at max_line bytes; NULL when there are none or the
 * log cannot be read. */
char *engine_log_tail(const char *log_path, int nlines, size_t max_line);

/* Deletes run (an id or a unique prefix) for good (delete.c): its records (steps,
 * events, metrics, cache entries, its MLflow run) and the folders it owns
 * (HOME/runs/ID, its MLflow artifacts, a server's copy of its submission).
 * MP_ESTATE, nothing changed, when the run has not ended (unless force: it is
 * cancelled first, waiting up to wait_ms), when a registered model version's
 * source lies in its folders, or when other runs' steps reuse its outputs. On
 * success *deleted is its full id (heap). MP_EIO when its records went but some
 * of its files could not be removed. */
int engine_run_delete(store *st, executor *x, const char *home, const char *run, bool force, int wait_ms,
                     char **deleted, mp_err *e);

/* Whether the process recorded as a run's owner is still alive. */
bool engine_owner_alive(const store_run *r);

/* ---- retention (gc.c) --------------------------------------------------------------------
 * `mlplane gc`: what the applied RetentionPolicies say has expired (finished runs past
 * spec.runs, their artifacts past spec.artifacts, their logs past spec.logs) deleted,
 * or only reported with dry_run. Never a run in progress, nor the files of a run a
 * registered version came from or the step cache points at (those are in "kept",
 * with why). Runs go as engine_run_delete deletes them. *report (a new reference):
 * {dryRun, policies, deleted: [{run, what: run|artifacts|logs, policy, files, bytes}],
 * kept: [{run, what, policy, reason}], totals: {runs, logFiles, artifactFiles, bytes,
 * orphanBlobs}}. */
typedef struct engine_gc_opts {
    const char *home;
    bool dry_run;
    int64_t now_ms; /* the time ages are counted to; 0: now */
    void (*progress)(void *ud, const char *line); /* every 100 items deleted; may be NULL */
    void *ud;
} engine_gc_opts;
int engine_gc(store *st, const engine_gc_opts *o, json_t **report, mp_err *e);
/* The applied RetentionPolicies: [{name, namespace, experiment, runsMs, logsMs,
 * artifactsMs}] (a new reference; `get retentionpolicies`). */
int engine_gc_policies(store *st, json_t **out, mp_err *e);

/* ---- lineage (lineage.c) ----------------------------------------------------------------
 * What a registered version came from: {model, run (id, pipeline, namespace, state,
 * specPath, specHash, params, ...; null when the run was deleted), step (the one that
 * registered it), steps (it and every step upstream of it, each with its inputs and
 * outputs by content hash), inputs (the data read from outside the run: hash, path,
 * source), parents (versions whose file one of those steps read, or that a Monitor retrained)}. *out: a new
 * reference. MP_ENOENT when there is no such version. */
int engine_lineage_model(store *st, const char *name, int64_t version, json_t **out, mp_err *e);
/* Where the artifact whose hash starts with hash (8 to 64 hex digits) went: {hash,
 * hashes (it and what was made from it, transitively), producedBy, consumedBy (steps
 * of runs, with their depth), models (versions whose file is one of hashes)}.
 * MP_ENOENT when nothing knows the hash, MP_EINVAL for a malformed one. */
int engine_lineage_artifact(store *st, const char *hash, json_t **out, mp_err *e);

/* Makes runs[0..n) fit to be shown: a run read while its owner was ending it
 * (not final in the row read, its owner gone by the liveness check) is read
 * again, so that it shows the state its owner committed before exiting rather
 * than Interrupted. A run still not final with its owner gone is interrupted.
 * Each replaced run is freed and overwritten in place. */
void engine_runs_settle(store *st, store_run *runs, size_t n);


/* Appends an event to the store (its own transaction unless one is open). */
int engine_event(store *st, const char *run_id, const char *step, const char *type, const char *msg, mp_err *e);

#endif
