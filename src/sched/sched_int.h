/* sched_int.h — internals shared by the files of src/sched/ (not a public header).
 * engine.c drives a run, prepare.c turns a step spec into something to start
 * (templates, environment, cache key), run.c submits, resumes and cancels. */
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
/* Logs a step's metrics.json values (numbers, or arrays as histories) to the run. */
int sched__track_metrics(store *st, const char *run_id, json_t *metrics, mp_err *e);
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

#endif
