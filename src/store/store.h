/* store.h — the durable record of everything mlplane does: runs, their steps,
 * events, metrics and the step cache.
 *
 * The store is an interface (a struct of function pointers, like SQLite's VFS) so
 * that callers never see SQL and a PostgreSQL implementation can be added beside
 * the SQLite one (sqlite.c) without touching them. Every state change is
 * committed before the caller acts on it or reports it: each method that writes
 * runs in its own transaction unless the caller opened one with begin(), in which
 * case it joins that transaction and commit() makes the whole group durable.
 *
 * Records returned by the store are owned by the caller and freed with the
 * matching *_free function (arrays with *_array_free).
 * Thread-safety: one store handle per thread; several processes may open the same
 * store at once (SQLite WAL + busy timeout). */
#ifndef MLPLANE_STORE_H
#define MLPLANE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- states ---------------------------------------------------------------------- */
typedef enum store_run_state {
    RUN_PENDING = 0,
    RUN_RUNNING,
    RUN_SUCCEEDED,
    RUN_FAILED,
    RUN_CANCELLED,
} store_run_state;

typedef enum store_step_state {
    STEP_PENDING = 0,
    STEP_RUNNING,
    STEP_SUCCEEDED,
    STEP_FAILED,
    STEP_CANCELLED,
    STEP_SKIPPED,  /* cache hit, or an upstream step failed */
    STEP_RETRYING, /* failed, waiting for its backoff before the next attempt */
} store_step_state;

const char *store_run_state_name(int st);  /* "Pending", "Running", ... */
const char *store_step_state_name(int st); /* ..., "Skipped", "Retrying" */
/* Parses a state name (case-insensitive); returns -1 when unknown. */
int store_run_state_parse(const char *s);
int store_step_state_parse(const char *s);
bool store_run_state_final(int st);
bool store_step_state_final(int st);
/* Whether a run or step may move from one state to another. Moving back to
 * Pending/Running from a non-final state is how resume restarts interrupted work. */
bool store_run_transition_ok(int from, int to);
bool store_step_transition_ok(int from, int to);

/* ---- records ------------------------------------------------------------------ */
typedef struct store_run {
    char *id;          /* "<pipeline>-<5 random [a-z0-9]>" */
    char *pipeline;    /* metadata.name */
    char *namespace_;  /* metadata.namespace */
    int state;         /* store_run_state */
    char *spec_path;   /* absolute path of the spec file as run */
    char *spec_yaml;   /* the full text of the spec file as run (for resume) */
    char *params_json; /* resolved params: JSON object name -> string */
    int64_t created_ms, started_ms, ended_ms; /* 0 when not yet */
    int owner_pid;       /* the mlplane process executing it, 0 when none */
    int64_t owner_start; /* that process' start time (mp_proc_start_time) */
    int parallel;        /* max concurrent steps */
    bool cancel_requested;
    char *message; /* why it ended, may be NULL */
} store_run;

typedef struct store_step {
    char *run_id;
    char *name;
    int idx;   /* position in the run's execution order */
    int state; /* store_step_state */
    int attempts;  /* attempts started so far */
    int exit_code; /* of the last attempt; -1 when none; 128+N when killed by signal N */
    int64_t started_ms, ended_ms; /* of the last attempt */
    int64_t next_attempt_ms; /* when Retrying: wall time of the next attempt */
    int pid;  /* of the running attempt (process group leader), 0 when none */
    char *cache_key;   /* may be NULL */
    char *cached_from; /* run id whose outputs were reused on a cache hit, may be NULL */
    char *outputs_dir; /* absolute; where its outputs are (another run's on a cache hit) */
    char *log_path;    /* absolute */
    char *message;     /* why it is in its state, may be NULL */
} store_step;

typedef struct store_event {
    int64_t id; /* increasing; set by the store */
    char *run_id;
    char *step; /* NULL for run-level events */
    int64_t time_ms;
    char *type;    /* "RunStarted", "StepRunning", "StepSucceeded", ... */
    char *message; /* may be NULL */
} store_event;

typedef struct store_metric {
    char *run_id;
    char *step;
    char *key;
    double value;
} store_metric;

typedef struct store_cache_entry {
    char *key; /* hex SHA-256 */
    char *run_id;
    char *step;
    char *outputs_dir;
    int64_t created_ms;
} store_cache_entry;

void store_run_free(store_run *r);
void store_step_free(store_step *s);
void store_event_free(store_event *ev);
void store_metric_free(store_metric *m);
void store_cache_entry_free(store_cache_entry *c);
void store_run_array_free(store_run *v, size_t n);
void store_step_array_free(store_step *v, size_t n);
void store_event_array_free(store_event *v, size_t n);
void store_metric_array_free(store_metric *v, size_t n);

/* ---- the interface ---------------------------------------------------------------- */
typedef struct store store;
typedef struct store_track_methods store_track_methods;
typedef struct store_registry_methods store_registry_methods;

typedef struct store_methods {
    const char *name; /* "sqlite" */
    void (*close)(store *s);

    /* Groups the following writes into one transaction (write lock taken now). */
    int (*begin)(store *s, mp_err *e);
    int (*commit)(store *s, mp_err *e);
    void (*rollback)(store *s);

    int (*run_insert)(store *s, const store_run *r, mp_err *e);
    /* id may be a unique prefix of a run id. MP_ENOENT when none, MP_EINVAL when
     * ambiguous (the message lists candidates). */
    int (*run_get)(store *s, const char *id, store_run *out, mp_err *e);
    /* Newest first; limit 0 means all. */
    int (*run_list)(store *s, size_t limit, store_run **out, size_t *n, mp_err *e);
    /* Writes state, started/ended, owner, cancel_requested, message, parallel. */
    int (*run_update)(store *s, const store_run *r, mp_err *e);

    int (*step_insert)(store *s, const store_step *st, mp_err *e);
    int (*step_get)(store *s, const char *run_id, const char *name, store_step *out, mp_err *e);
    /* In idx order. */
    int (*step_list)(store *s, const char *run_id, store_step **out, size_t *n, mp_err *e);
    /* Writes every mutable field of the step (matched by run_id + name). */
    int (*step_update)(store *s, const store_step *st, mp_err *e);

    /* Sets ev->id. time_ms 0 means now. */
    int (*event_append)(store *s, store_event *ev, mp_err *e);
    /* Events of a run with id > after_id, oldest first. */
    int (*event_list)(store *s, const char *run_id, int64_t after_id, store_event **out, size_t *n, mp_err *e);

    /* Insert or replace. */
    int (*metric_put)(store *s, const store_metric *m, mp_err *e);
    int (*metric_list)(store *s, const char *run_id, store_metric **out, size_t *n, mp_err *e);

    /* MP_ENOENT when the key is unknown. */
    int (*cache_get)(store *s, const char *key, store_cache_entry *out, mp_err *e);
    /* Insert or replace. */
    int (*cache_put)(store *s, const store_cache_entry *c, mp_err *e);
    int (*cache_delete)(store *s, const char *key, mp_err *e);
} store_methods;

struct store {
    const store_methods *m;            /* runs, steps, events, metrics, cache */
    const store_track_methods *t;      /* MLflow tracking: experiments, runs, metrics, params, tags */
    const store_registry_methods *r;   /* model registry */
};

/* ---- MLflow tracking (implemented by track_sqlite.c) ------------------------------ */
struct store_track_methods {
    int unused; /* filled in with the tracking methods */
};

/* ---- model registry (implemented by registry_sqlite.c) ---------------------------- */
struct store_registry_methods {
    int unused; /* filled in with the registry methods */
};

/* The current schema version that migrations bring a store to. */
int store_schema_version(void);

/* Opens (creating when missing) the SQLite store at path in WAL mode and runs
 * pending migrations. *out is freed with (*out)->m->close(*out). */
int store_sqlite_open(const char *path, store **out, mp_err *e);
/* The schema version of an open SQLite store (for tests). */
int store_sqlite_user_version(store *s);

/* The mlplane home: flag value if non-NULL, else $MLPLANE_HOME, else ~/.mlplane.
 * Returns a heap string (caller frees), the directory created when missing. */
int store_home_resolve(const char *flag, char **out, mp_err *e);
/* Opens the default store of a home: HOME/mlplane.db. */
int store_open_home(const char *home, store **out, mp_err *e);

#endif
