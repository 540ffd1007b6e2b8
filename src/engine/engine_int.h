/* engine_int.h — internals shared by the files of src/engine/ (not a public
 * header). engine.c drives a run, workers.c starts and stops its processes,
 * outcome.c records what a step's end means, prepare.c turns a step spec into
 * something to start (templates, environment, cache key), run.c submits,
 * resumes and cancels, sweep.c expands a sweep step into trials and judges them,
 * track.c keeps the run's MLflow view, delete.c deletes a run. */
#ifndef MLPLANE_ENGINE_INT_H
#define MLPLANE_ENGINE_INT_H

#include <jansson.h>

#include "engine/engine.h"

/* Everything needed to start one attempt of a step (owned; see engine__prep_free). */
typedef struct engine__prep {
    mp_strv argv;
    mp_strv env;
    char *cwd;
    char *cache_key; /* NULL unless cache: true */
    char *error;     /* set when the step cannot start (bad input path, template) */
    const char *reason; /* the event of that failure: "DataValidationFailed"; NULL: "StepFailed" */
    char *report;       /* what to write to the step's log about it (a validation report), or NULL */
    /* Secrets (secrets.c): files to write under secrets_dir before it starts (.key is
     * the path), every value given to it (masked in its log), and a keyed hash of them
     * for the cache key; all zeroed when freed. */
    store_secret_plain *secret_files;
    size_t nsecret_files;
    char *secrets_dir;
    unsigned char **redact;
    size_t *redact_len;
    size_t nredact;
    char *secrets_digest;
    store_step_artifact *inputs; /* lineage: each input that exists, by content hash (heap array) */
    size_t ninputs;
} engine__prep;

/* One step of a run being executed. */
typedef struct engine__step {
    const spec_step *spec;
    store_step rec; /* the step as committed (owned) */
    exec_handle **workers; /* the running attempt's tasks: rank i is workers[i], NULL once
                            * it ended or could not start (heap array; handles the executor's) */
    int nworkers;       /* started */
    int alive;          /* not yet exited */
    int fail_code, fail_signal; /* the first failing worker's exit, when one failed */
    int fail_rank;              /* and its rank (whose log tells why) */
    char *nodes;        /* the running attempt's node of each worker, comma-separated (heap) */
    bool preempting;    /* SIGTERM sent because a higher-priority workload needs the room */
    char *preempt_why;
    engine__prep prep;   /* prepared while it waited for admission (valid when prepped) */
    bool prepped;
    bool running;
    bool timed_out;       /* SIGTERM sent because of timeoutSeconds */
    bool cancelling;      /* SIGTERM sent because the run is being cancelled */
    int64_t deadline;     /* monotonic ms when the timeout fires, 0 = none */
    int64_t kill_at;      /* monotonic ms when SIGKILL follows SIGTERM, 0 = none */
    int64_t started_mono; /* monotonic ms the attempt started */
    uint64_t gpus;        /* bit i set: GPU i is given to the running attempt */
    bool waiting;         /* ready, but not admitted: StepWaiting recorded with rec.message */
    struct engine__trial *trial; /* a sweep's trial S[i] (sweep.c); NULL for other steps */
    struct engine__sweep *sweep; /* a sweep's aggregate step S (sweep.c); NULL for other steps */
    store_step_artifact *outs;   /* lineage: its outputs by content hash, computed outside the engine's
                                  * transaction when it ended (or hit the cache), recorded in it (heap) */
    size_t nouts;
    bool outs_hashed;            /* outs is computed */
} engine__step;

typedef struct engine__ctx {
    const spec_pipeline *p;
    const store_run *run;
    const char *spec_dir;
    spec_kv *params;
    size_t nparams;
    engine__step *steps;
    size_t nsteps;
    const char *self_exe;
    const char *experiment_id; /* of the run's MLflow run, NULL when unknown */
    store *st;                 /* read for the Secrets steps refer to (outside transactions) */
} engine__ctx;

/* ---- the run as an MLflow run (track.c) ------------------------------------------
 * Every pipeline run is also an MLflow run with the same id, in the experiment
 * named after the pipeline, so MLflow clients see pipelines and notebooks alike. */

/* In the caller's transaction: creates the MLflow run of run r with its params. */
/* name_at: where the pipeline's metadata.name is ("FILE:LINE:COL"), for the
 * message when its experiment is deleted (MP_ESTATE); may be NULL. */
int engine__track_create(store *st, const store_run *r, const spec_kv *params, size_t nparams, const char *name_at,
                        mp_err *e);
/* Logs a step's metrics.json values (numbers, or arrays as histories) to the run,
 * each name after prefix (NULL: none; a sweep trial's is "S/i/"). */
int engine__track_metrics(store *st, const char *run_id, const char *prefix, json_t *metrics, mp_err *e);
/* Sets the MLflow run's status from the pipeline run's final state. */
int engine__track_finish(store *st, const char *run_id, int run_state, int64_t end_ms, mp_err *e);

/* Fills pr for step s (whose dependencies have all succeeded). Never fails hard:
 * a problem the user must fix is put in pr->error. */
void engine__prepare(const engine__ctx *c, const engine__step *s, engine__prep *pr);
void engine__prep_free(engine__prep *pr);
/* secrets.c: the Secret keys step sp refers to, opened with the environment's key:
 * env vars appended to env, files and values to mask into pr; a missing Secret or
 * key, or no key to open them, is pr->error (reason SecretUnavailable). */
void engine__secrets_resolve(const engine__ctx *c, const spec_step *sp, const char *outputs_dir, mp_strv *env,
                             engine__prep *pr);
void engine__secrets_free(engine__prep *pr);
/* Writes pr's secret files (mode 0400) under a fresh pr->secrets_dir (0700). */
int engine__secrets_write(const engine__prep *pr, mp_err *e);
/* HOME/runs/RUN/STEP.secrets: where a step's secret files are (heap). */
char *engine__secrets_dir(const char *outputs_dir);
/* The training data of the model step s registers (its first .csv argument that is an
 * input or an upstream output), or NULL; heap. */
char *engine__training_data(const engine__ctx *c, const engine__step *s);

/* Parses a run's params_json into a kv array (caller frees with spec_kv_array_free). */
int engine__params_from_json(const char *json, spec_kv **out, size_t *n, mp_err *e);
char *engine__params_to_json(const spec_kv *kv, size_t n);

/* The folders run r owns (delete.c), into dirs (absolute, clean): HOME/runs/ID first,
 * then HOME/artifacts/EXP/ID (its MLflow artifacts) when it has one, then
 * HOME/submitted/X for a run submitted to a server. */
void engine__run_dirs(store *st, const char *home, const store_run *r, mp_strv *dirs);
/* The deleting half of engine_run_delete, for a caller that has made its checks (an
 * ended run no version or cache hit needs: gc.c): the run's records (one transaction),
 * then the folders dirs (engine__run_dirs). */
int engine__run_remove(store *st, const char *id, const mp_strv *dirs, mp_err *e);

/* HOME/runs/RUN/STEP (heap): a step's outputs directory. */
char *engine__step_dir(const char *home, const char *run_id, const char *step);

/* ---- sweeps (sweep.c) ---------------------------------------------------------------
 * A step S with `sweep:` becomes, at submit, trial steps S[0], S[1], ... (ordinary
 * step records, run with S's spec and their own param values, kept in the record's
 * params_json) followed by S itself, the aggregate: it runs no process, waits
 * until every trial has ended, then takes the best trial's outputs (its outputs
 * directory becomes a symlink to the best trial's) or fails. */

/* One trial S[i] while a run executes. */
typedef struct engine__trial {
    int index;
    spec_kv *params;           /* its values of the swept params */
    size_t nparams;
    struct engine__step *agg;   /* the aggregate step S */
    size_t slot;               /* its position in agg's trials */
    char *metric_prefix;       /* "S/i/": its metrics' names in the run's MLflow run */
    bool stopped;              /* stopped early: SIGTERM sent, Stopped when it exits */
    char *stop_why;            /* why, for its final message */
    double *hist;              /* the earlyStopping metric's history last read */
    size_t nhist;
    bool hist_final;           /* read after the trial ended: it will not change */
} engine__trial;

/* The aggregate step S of a sweep while a run executes. */
typedef struct engine__sweep {
    const spec_sweep *spec;
    struct engine__step **trials; /* in index order */
    size_t ntrials;
    size_t lo, hi;         /* trials that may be running are in trials[lo, hi) (engine__sweep_admits) */
    bool announced;        /* SweepStarted recorded by this process */
    int64_t next_poll;     /* monotonic ms of the next early-stopping check */
} engine__sweep;

/* What the aggregate step becomes once its trials have ended. */
typedef struct engine__sweep_end {
    int state;        /* STEP_SUCCEEDED or STEP_FAILED */
    char *msg;        /* its message */
    char *best_event; /* SweepBestTrial's message, NULL when no trial was picked by an objective */
} engine__sweep_end;

/* The name of trial i of step: "S[i]" (heap). */
char *engine__trial_name(const char *step, size_t i);
/* In the caller's transaction: inserts the trial steps of sweep step s of run_id
 * as Pending steps at positions *idx, *idx + 1, ... (advancing *idx). */
int engine__sweep_insert(store *st, const char *home, const char *run_id, const spec_step *s, int *idx, mp_err *e);

/* Gives trial records (named S[i]) their spec (S's) and every trial and aggregate
 * its engine__trial / engine__sweep. MP_EINTERNAL when a trial's params cannot be read. */
int engine__sweep_bind(engine__step *steps, size_t n, mp_err *e);
void engine__sweep_unbind(engine__step *steps, size_t n);
/* The value of param name for step s when s is a trial that sets it, else NULL. */
const char *engine__trial_param(const engine__step *s, const char *name);
/* Whether s may start beside its sweep's running trials (maxParallel); true for
 * steps that are not trials. */
bool engine__sweep_admits(const engine__step *s);
/* Whether every trial of aggregate step agg has ended. */
bool engine__sweep_trials_ended(const engine__step *agg);
/* SweepStarted's message (heap) when s is the first trial of its sweep to start,
 * else NULL; sets the aggregate's started_ms. */
char *engine__sweep_starting(engine__step *s);
/* Early stopping, every second per sweep with earlyStopping (now: monotonic ms):
 * returns how many running trials must stop, in *out (heap, caller frees), each
 * marked stopped with its reason in stop_why. */
size_t engine__sweep_poll(engine__step *steps, size_t n, int64_t now, engine__step ***out);
/* The median stopping rule for one trial whose history is h[0..nh), among peers
 * (the sweep's other trials' histories). Stops (true, why filled) when, at the
 * latest step k <= nh that at least es->min_trials peers have reached, with
 * k >= es->start_step, the trial's best value of its first k is strictly worse than
 * the median of the peers' averages of their first k values. */
bool engine__median_stop(const spec_early_stopping *es, const double *h, size_t nh, const double *const *peers,
                        const size_t *npeer, size_t npeers, char *why, size_t whyn);
/* Picks the outcome of aggregate step agg (every trial ended): the best trial by the
 * objective (the last value of its metric in metrics.json), or without one the
 * first trial that succeeded. On success links agg's outputs directory to the
 * winner's, sets agg's params_json, and (when tracked) logs S.best_trial and
 * S.best.P params to the run's MLflow run. Errors are the store's. */
int engine__sweep_conclude(store *st, const char *run_id, bool tracked, engine__step *agg, engine__sweep_end *out,
                          mp_err *e);
void engine__sweep_end_free(engine__sweep_end *end);

/* A worker's end as the loop handles it: from the executor's EXEC_EXITED, or
 * made up for a worker that could not start (exit 127 or 126). */
typedef struct engine__exit {
    engine__step *s;
    int rank;
    int exit_code; /* the exit status, or 128 + signal */
    int signal;
} engine__exit;

/* ---- the engine, across engine.c, outcome.c and workers.c ------------------------------
 * One run being driven (engine.c says how); owned by engine_execute's thread. */
typedef struct engine__pending_ev {
    char *step;
    char *type;
    char *msg;
} engine__pending_ev;

typedef struct engine__engine {
    store *st;
    executor *x;
    const engine_opts *o;
    engine__ctx c;
    store_run run;
    engine__step *steps;
    size_t n;
    engine_step_view *views;
    int parallel;
    sched_capacity cap;
    int grace_ms;
    bool cancel;
    bool logs_ready; /* HOME/runs/RUN/logs exists */
    bool tracked;    /* the run has its MLflow run (runs recorded before tracking existed have not) */
    sched_queue q; /* the shared queue, as last read (admission.c) */
    bool lease_held;      /* this process decides admission for every run */
    bool first;           /* the first iteration always opens a transaction */
    int64_t last_dv;      /* the store's data_version when it last scheduled */
    int64_t last_sched, last_lease_check; /* monotonic ms */
    store_workload *own;      /* this run's workload rows, as last read */
    size_t nown;
    int64_t last_cancel_poll, last_evict_poll;
    engine__pending_ev *evs;
    size_t nevs, capevs;
    mp_err *e;
} engine__engine;

int engine__record_event(engine__engine *g, const char *step, const char *type, const char *msg);
/* Opens the engine's transaction, waiting as long as other writers hold the
 * store's write lock (MP_EBUSY is never returned). */
int engine__begin(engine__engine *g);
/* Records one event in its own transaction (opened with engine__begin). */
int engine__record_now(engine__engine *g, const char *step, const char *type, const char *msg);
/* Moves step s to state (in the open transaction) with an event of type. */
int engine__set_step(engine__engine *g, engine__step *s, int state, const char *type, const char *msg);
/* Tells observers about the events recorded since the last call. */
void engine__flush_events(engine__engine *g);
/* Whether a step goes through admission (it asks for resources or several workers). */
bool engine__needs_admission(const engine__step *s);
engine__step *engine__step_by_name(engine__engine *g, const char *name);
/* outcome.c */
int engine__record_metrics(engine__engine *g, engine__step *s);
/* Links the step's outputs under the pipeline MLflow run's artifacts, as STEP/PATH. */
int engine__publish_outputs(engine__engine *g, engine__step *s);
/* metrics_file.c: path's object (NULL when absent); *warning (heap) says what was wrong with it. */
json_t *engine__metrics_load(const char *path, char **warning);
/* A metric value: a number, or "NaN", "Infinity", "-Infinity". */
bool engine__metric_number(json_t *v, double *out);
int engine__register_model(engine__engine *g, engine__step *s);
/* Lineage (outcome.c), in the open transaction: the inputs prepared for s (pr->inputs),
 * and the declared outputs of s by content hash (a cache hit's: the reused ones). */
int engine__record_inputs(engine__engine *g, const engine__prep *pr);
int engine__record_outputs(engine__engine *g, engine__step *s);
/* Hashes the declared outputs of s found under dir into s->outs, outside any transaction
 * (reading files); engine__record_outputs then only writes them. */
void engine__hash_outputs(const engine__engine *g, engine__step *s, const char *dir);
void engine__outs_free(engine__step *s);
int engine__step_exited(engine__engine *g, engine__step *s, const engine__exit *x);
int engine__sweep_started(engine__engine *g, engine__step *s);
int engine__conclude_sweep(engine__engine *g, engine__step *s);
void engine__stop_early(engine__engine *g);
/* workers.c */
void engine__spawn_step(engine__engine *g, engine__step *s, engine__prep *pr, engine__exit *fails, size_t *nfails);
void engine__signal_step(engine__engine *g, engine__step *s, int sig);
engine__step *engine__worker_exited(engine__engine *g, engine__exit *x);
/* Turns the executor's events into exits[0..) (a task's end; its handle given
 * back) and records its notes as the step's events. Returns how many exits. */
size_t engine__take_events(engine__engine *g, const exec_event *evs, size_t nev, engine__exit *exits);
void engine__poll_evictions(engine__engine *g);

#endif
