/* sched_int.h — internals shared by the files of src/sched/ (not a public header).
 * engine.c drives a run, prepare.c turns a step spec into something to start
 * (templates, environment, cache key), run.c submits, resumes and cancels,
 * sweep.c expands a sweep step into trials and judges them. */
#ifndef MLPLANE_SCHED_INT_H
#define MLPLANE_SCHED_INT_H

#include <jansson.h>

#include "sched/sched.h"

/* Everything needed to start one attempt of a step (owned; see sched__prep_free). */
typedef struct sched__prep {
    mp_strv argv;
    mp_strv env;
    char *cwd;
    char *cache_key; /* NULL unless cache: true */
    char *error;     /* set when the step cannot start (bad input path, template) */
} sched__prep;

/* One step of a run being executed. */
typedef struct sched__step {
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
    sched__prep prep;   /* prepared while it waited for admission (valid when prepped) */
    bool prepped;
    bool running;
    bool timed_out;       /* SIGTERM sent because of timeoutSeconds */
    bool cancelling;      /* SIGTERM sent because the run is being cancelled */
    int64_t deadline;     /* monotonic ms when the timeout fires, 0 = none */
    int64_t kill_at;      /* monotonic ms when SIGKILL follows SIGTERM, 0 = none */
    int64_t started_mono; /* monotonic ms the attempt started */
    uint64_t gpus;        /* bit i set: GPU i is given to the running attempt */
    bool waiting;         /* ready, but not admitted: StepWaiting recorded with rec.message */
    struct sched__trial *trial; /* a sweep's trial S[i] (sweep.c); NULL for other steps */
    struct sched__sweep *sweep; /* a sweep's aggregate step S (sweep.c); NULL for other steps */
} sched__step;

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
/* name_at: where the pipeline's metadata.name is ("FILE:LINE:COL"), for the
 * message when its experiment is deleted (MP_ESTATE); may be NULL. */
int sched__track_create(store *st, const store_run *r, const spec_kv *params, size_t nparams, const char *name_at,
                        mp_err *e);
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

/* ---- nodes and requests (objects.c) ---------------------------------------------- */
/* spec requests or capacity -> sched_res; MP_EINVAL past SCHED_EXT_MAX extended names. */
int sched__res_from_spec(const spec_resources *r, sched_res *out, mp_err *e);
/* Every Node and NodePool member of files[0..nfiles) for which keep (may be NULL)
 * says yes, as sched_nodes borrowing from the files (which must outlive c). */
int sched__nodeset_build(const spec_file *const *files, size_t nfiles, bool (*keep)(void *ud, size_t file, const spec_node_inst *ni),
                         void *ud, sched_nodeset *c, mp_err *e);
void sched__nodeset_free(sched_nodeset *c);

/* ---- workloads (workload.c) ---------------------------------------------------------- */
/* A worker's request with the arrays it points at (owned); strings are borrowed
 * from the step spec, or owned by json when read from the store. */
typedef struct sched__req {
    sched_pod_req req;
    bool may_preempt;
    sched_kv *sel;
    sched_toleration *tol;
    json_t *json;
} sched__req;
int sched__req_from_step(const spec_step *s, bool may_preempt, sched__req *out, mp_err *e);
/* The request as stored in a workload row (heap JSON). */
char *sched__req_to_json(const sched__req *r);
int sched__req_from_json(const char *text, sched__req *out, mp_err *e);
void sched__req_free(sched__req *r);

/* The shared queue seen by one process (see workload.c). */
typedef struct sched__queue {
    sched_objects obj; /* what is applied; reloaded when it changes */
    bool loaded;
    int64_t sig;
    store_workload *rows; /* the rows read by the last sched__queue_load */
    size_t nrows;
    sched_workload *w; /* workloads: the live rows */
    sched__req *reqs;
    size_t **nodes;
    char **ids;
    size_t *row_of; /* the row of rows[] each came from */
    size_t n, cap;
} sched__queue;
/* (Re)loads the applied objects when they changed. */
int sched__queue_objects(sched__queue *q, store *st, mp_err *e);
/* Reads every live workload. Inside the caller's transaction. */
int sched__queue_load(sched__queue *q, store *st, mp_err *e);
int sched__queue_cycle(sched__queue *q, int64_t now_ms, sched_decision **out, size_t *nout, mp_err *e);
/* "node-a,node-a,node-b": the nodes of gang workers (heap). */
char *sched__nodes_text(const sched__queue *q, const size_t *nodes, int gang);
void sched__queue_reset(sched__queue *q);
void sched__queue_free(sched__queue *q);

/* ---- admission (admission.c) -------------------------------------------------------
 * Engines queue their ready steps as pending workload rows; the process holding
 * the scheduler lease runs the cycle over every live row and writes each
 * decision into the rows; each engine starts its own steps once their rows say
 * admitted (see admission.c). */

/* Writes a pending row for step s of run (priority, queue and request resolved
 * against q's objects), in the caller's transaction. When the step's names
 * cannot be resolved, returns 0 with *why set (heap) and writes nothing. */
int sched__enqueue(sched__queue *q, store *st, const store_run *run, const sched__step *s, int64_t now, char **why,
                   mp_err *e);
/* One cycle over every live row, its decisions written into the rows (admitted:
 * nodes, flavors, GPU devices and the explanation; pending: the reason; victims:
 * asked to yield). In the caller's transaction; the caller holds the lease. */
int sched__schedule(sched__queue *q, store *st, int64_t now, mp_err *e);

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

/* A worker's end as the loop handles it: from the executor's EXEC_EXITED, or
 * made up for a worker that could not start (exit 127 or 126). */
typedef struct sched__exit {
    sched__step *s;
    int rank;
    int exit_code; /* the exit status, or 128 + signal */
    int signal;
} sched__exit;

/* ---- the engine, across engine.c, outcome.c and workers.c ------------------------------
 * One run being driven (engine.c says how); owned by sched_execute's thread. */
typedef struct sched__pending_ev {
    char *step;
    char *type;
    char *msg;
} sched__pending_ev;

typedef struct sched__engine {
    store *st;
    executor *x;
    const sched_opts *o;
    sched__ctx c;
    store_run run;
    sched__step *steps;
    size_t n;
    sched_step_view *views;
    int parallel;
    sched_capacity cap;
    int grace_ms;
    bool cancel;
    bool logs_ready; /* HOME/runs/RUN/logs exists */
    bool tracked;    /* the run has its MLflow run (runs recorded before tracking existed have not) */
    sched__queue q; /* the shared queue, as last read (admission.c) */
    bool lease_held;      /* this process decides admission for every run */
    bool first;           /* the first iteration always opens a transaction */
    int64_t last_dv;      /* the store's data_version when it last scheduled */
    int64_t last_sched, last_lease_check; /* monotonic ms */
    store_workload *own;      /* this run's workload rows, as last read */
    size_t nown;
    int64_t last_cancel_poll, last_evict_poll;
    sched__pending_ev *evs;
    size_t nevs, capevs;
    mp_err *e;
} sched__engine;

int sched__record_event(sched__engine *g, const char *step, const char *type, const char *msg);
/* Opens the engine's transaction, waiting as long as other writers hold the
 * store's write lock (MP_EBUSY is never returned). */
int sched__begin(sched__engine *g);
/* Records one event in its own transaction (opened with sched__begin). */
int sched__record_now(sched__engine *g, const char *step, const char *type, const char *msg);
/* Moves step s to state (in the open transaction) with an event of type. */
int sched__set_step(sched__engine *g, sched__step *s, int state, const char *type, const char *msg);
/* Tells observers about the events recorded since the last call. */
void sched__flush_events(sched__engine *g);
/* Whether a step goes through admission (it asks for resources or several workers). */
bool sched__needs_admission(const sched__step *s);
sched__step *sched__step_by_name(sched__engine *g, const char *name);
/* outcome.c */
int sched__record_metrics(sched__engine *g, sched__step *s);
/* Links the step's outputs under the pipeline MLflow run's artifacts, as STEP/PATH. */
int sched__publish_outputs(sched__engine *g, sched__step *s);
/* metrics_file.c: path's object (NULL when absent); *warning (heap) says what was wrong with it. */
json_t *sched__metrics_load(const char *path, char **warning);
/* A metric value: a number, or "NaN", "Infinity", "-Infinity". */
bool sched__metric_number(json_t *v, double *out);
int sched__register_model(sched__engine *g, sched__step *s);
int sched__step_exited(sched__engine *g, sched__step *s, const sched__exit *x);
int sched__sweep_started(sched__engine *g, sched__step *s);
int sched__conclude_sweep(sched__engine *g, sched__step *s);
void sched__stop_early(sched__engine *g);
/* workers.c */
void sched__spawn_step(sched__engine *g, sched__step *s, sched__prep *pr, sched__exit *fails, size_t *nfails);
void sched__signal_step(sched__engine *g, sched__step *s, int sig);
sched__step *sched__worker_exited(sched__engine *g, sched__exit *x);
/* Turns the executor's events into exits[0..) (a task's end; its handle given
 * back) and records its notes as the step's events. Returns how many exits. */
size_t sched__take_events(sched__engine *g, const exec_event *evs, size_t nev, sched__exit *exits);
void sched__poll_evictions(sched__engine *g);

#endif
