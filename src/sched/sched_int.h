/* sched_int.h — internals shared by the files of src/sched/ (not a public header).
 * engine.c drives a run, prepare.c turns a step spec into something to start
 * (templates, environment, cache key), run.c submits, resumes and cancels,
 * sweep.c expands a sweep step into trials and judges them. */
#ifndef MLPLANE_SCHED_INT_H
#define MLPLANE_SCHED_INT_H

#include <jansson.h>

#include "sched/sched.h"

/* One step of a run being executed. */
typedef struct sched__step {
    const spec_step *spec;
    store_step rec; /* the step as committed (owned) */
    exec_proc proc;
    bool running;
    bool timed_out;       /* SIGTERM sent because of timeoutSeconds */
    bool cancelling;      /* SIGTERM sent because the run is being cancelled */
    int64_t deadline;     /* monotonic ms when the timeout fires, 0 = none */
    int64_t kill_at;      /* monotonic ms when SIGKILL follows SIGTERM, 0 = none */
    int64_t started_mono; /* monotonic ms the attempt started */
    uint64_t gpus;        /* bit i set: GPU i is given to the running attempt */
    bool waiting;         /* ready, but the machine lacks room: StepWaiting recorded */
    struct sched__trial *trial; /* a sweep's trial S[i] (sweep.c); NULL for other steps */
    struct sched__sweep *sweep; /* a sweep's aggregate step S (sweep.c); NULL for other steps */
} sched__step;

/* Everything needed to start one attempt of a step (owned; see sched__prep_free). */
typedef struct sched__prep {
    mp_strv argv;
    mp_strv env;
    char *cwd;
    char *cache_key; /* NULL unless cache: true */
    char *error;     /* set when the step cannot start (bad input path, template) */
} sched__prep;

typedef struct sched__ctx {
    const spec_pipeline *p;
    const store_run *run;
    const char *spec_dir;
    spec_kv *params;
    size_t nparams;
    sched__step *steps;
    size_t nsteps;
    const char *self_exe;
    const char *experiment_id; /* of the run's MLflow run, NULL when unknown */
} sched__ctx;

/* ---- the run as an MLflow run (track.c) ------------------------------------------
 * Every pipeline run is also an MLflow run with the same id, in the experiment
 * named after the pipeline, so MLflow clients see pipelines and notebooks alike. */

/* In the caller's transaction: creates the MLflow run of run r with its params. */
int sched__track_create(store *st, const store_run *r, const spec_kv *params, size_t nparams, mp_err *e);
/* Logs a step's metrics.json values (numbers, or arrays as histories) to the run,
 * each name after prefix (NULL: none; a sweep trial's is "S/i/"). */
int sched__track_metrics(store *st, const char *run_id, const char *prefix, json_t *metrics, mp_err *e);
/* Sets the MLflow run's status from the pipeline run's final state. */
int sched__track_finish(store *st, const char *run_id, int run_state, int64_t end_ms, mp_err *e);

/* Fills pr for step s (whose dependencies have all succeeded). Never fails hard:
 * a problem the user must fix is put in pr->error. */
void sched__prepare(const sched__ctx *c, const sched__step *s, sched__prep *pr);
void sched__prep_free(sched__prep *pr);

/* Parses a run's params_json into a kv array (caller frees with spec_kv_array_free). */
int sched__params_from_json(const char *json, spec_kv **out, size_t *n, mp_err *e);
char *sched__params_to_json(const spec_kv *kv, size_t n);

/* HOME/runs/RUN/STEP (heap): a step's outputs directory. */
char *sched__step_dir(const char *home, const char *run_id, const char *step);

/* ---- sweeps (sweep.c) ---------------------------------------------------------------
 * A step S with `sweep:` becomes, at submit, trial steps S[0], S[1], ... (ordinary
 * step records, run with S's spec and their own param values, kept in the record's
 * params_json) followed by S itself, the aggregate: it runs no process, waits
 * until every trial has ended, then takes the best trial's outputs (its outputs
 * directory becomes a symlink to the best trial's) or fails. */

/* One trial S[i] while a run executes. */
typedef struct sched__trial {
    int index;
    spec_kv *params;           /* its values of the swept params */
    size_t nparams;
    struct sched__step *agg;   /* the aggregate step S */
    size_t slot;               /* its position in agg's trials */
    char *metric_prefix;       /* "S/i/": its metrics' names in the run's MLflow run */
    bool stopped;              /* stopped early: SIGTERM sent, Stopped when it exits */
    char *stop_why;            /* why, for its final message */
    double *hist;              /* the earlyStopping metric's history last read */
    size_t nhist;
    bool hist_final;           /* read after the trial ended: it will not change */
} sched__trial;

/* The aggregate step S of a sweep while a run executes. */
typedef struct sched__sweep {
    const spec_sweep *spec;
    struct sched__step **trials; /* in index order */
    size_t ntrials;
    size_t lo, hi;         /* trials that may be running are in trials[lo, hi) (sched__sweep_admits) */
    bool announced;        /* SweepStarted recorded by this process */
    int64_t next_poll;     /* monotonic ms of the next early-stopping check */
} sched__sweep;

/* What the aggregate step becomes once its trials have ended. */
typedef struct sched__sweep_end {
    int state;        /* STEP_SUCCEEDED or STEP_FAILED */
    char *msg;        /* its message */
    char *best_event; /* SweepBestTrial's message, NULL when no trial was picked by an objective */
} sched__sweep_end;

/* The name of trial i of step: "S[i]" (heap). */
char *sched__trial_name(const char *step, size_t i);
/* The param values of sw's trials, each a JSON object name -> string in sw's param
 * order (grid: every combination, the last param varying fastest; random: count
 * draws of splitmix64 seeded with sw->seed). Returns the count and a heap array in
 * *out (free each and the array). */
size_t sched__sweep_expand(const spec_sweep *sw, char ***out);
/* In the caller's transaction: inserts the trial steps of sweep step s of run_id
 * as Pending steps at positions *idx, *idx + 1, ... (advancing *idx). */
int sched__sweep_insert(store *st, const char *home, const char *run_id, const spec_step *s, int *idx, mp_err *e);

/* Gives trial records (named S[i]) their spec (S's) and every trial and aggregate
 * its sched__trial / sched__sweep. MP_EINTERNAL when a trial's params cannot be read. */
int sched__sweep_bind(sched__step *steps, size_t n, mp_err *e);
void sched__sweep_unbind(sched__step *steps, size_t n);
/* The value of param name for step s when s is a trial that sets it, else NULL. */
const char *sched__trial_param(const sched__step *s, const char *name);
/* Whether s may start beside its sweep's running trials (maxParallel); true for
 * steps that are not trials. */
bool sched__sweep_admits(const sched__step *s);
/* Whether every trial of aggregate step agg has ended. */
bool sched__sweep_trials_ended(const sched__step *agg);
/* SweepStarted's message (heap) when s is the first trial of its sweep to start,
 * else NULL; sets the aggregate's started_ms. */
char *sched__sweep_starting(sched__step *s);
/* Early stopping, every second per sweep with earlyStopping (now: monotonic ms):
 * returns how many running trials must stop, in *out (heap, caller frees), each
 * marked stopped with its reason in stop_why. */
size_t sched__sweep_poll(sched__step *steps, size_t n, int64_t now, sched__step ***out);
/* The median stopping rule for one trial whose history is h[0..nh), among peers
 * (the sweep's other trials' histories). Stops (true, why filled) when, at the
 * latest step k <= nh that at least es->min_trials peers have reached, with
 * k >= es->start_step, the trial's best value of its first k is strictly worse than
 * the median of the peers' averages of their first k values. */
bool sched__median_stop(const spec_early_stopping *es, const double *h, size_t nh, const double *const *peers,
                        const size_t *npeer, size_t npeers, char *why, size_t whyn);
/* Picks the outcome of aggregate step agg (every trial ended): the best trial by the
 * objective (the last value of its metric in metrics.json), or without one the
 * first trial that succeeded. On success links agg's outputs directory to the
 * winner's, sets agg's params_json, and (when tracked) logs S.best_trial and
 * S.best.P params to the run's MLflow run. Errors are the store's. */
int sched__sweep_conclude(store *st, const char *run_id, bool tracked, sched__step *agg, sched__sweep_end *out,
                          mp_err *e);
void sched__sweep_end_free(sched__sweep_end *end);

#endif
