/* sqlite_int.h — private to src/store/sqlite: what sqlite.c and migrate.c share, and
 * (below) what the other files of the SQLite store share.
 * Not part of the store interface; nothing outside src/store/sqlite includes it (but a benchmark of it).
 * Thread-safety: as the store, one connection per thread. */
#ifndef MLPLANE_STORE_SQLITE_INT_H
#define MLPLANE_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "util/util.h"

/* How long a writer waits for the write lock, in ms (busy_timeout and the
 * BEGIN IMMEDIATE retry loop): $MLPLANE_BUSY_TIMEOUT_MS when it is a whole
 * number from 1 to 3600000, else 10000. */
int store__busy_ms(void);

/* Steps q once, retrying with short sleeps while it returns SQLITE_BUSY, for up to
 * store__busy_ms() in total. Returns the last sqlite3_step result; q is NOT reset. */
int store__step_busy(sqlite3_stmt *q);

/* Brings the schema of db up to store_schema_version(), one migration per
 * transaction. MP_ESTORE when the file is newer than this binary or a migration
 * fails. path is only used in messages. */
int store__migrate(sqlite3 *db, const char *path, mp_err *e);

/* PRAGMA user_version of db, or -1 on error. */
int store__user_version(sqlite3 *db);

/* ---- what sqlite.c offers the other files of the SQLite store ----------------------
 * track.c (MLflow tracking) and registry.c (model registry) implement
 * their method tables over the same connection. Each keeps its own prepared
 * statements in an extension slot of the connection, freed when it closes. */
#include "store/store.h"

enum {
    STORE__EXT_TRACK,
    STORE__EXT_REGISTRY,
    STORE__EXT_WORKLOADS,
    STORE__EXT_OBJECTS,
    STORE__EXT_MONITORS,
    STORE__EXT_SECRETS,
    STORE__EXT_AUTH,
    STORE__EXT_NAMESPACES,
    STORE__EXT_COUNT
};
typedef struct store__ext {
    void *data;
    void (*free)(void *data);
} store__ext;

extern const store_track_methods store__sqlite_track;
extern const store_registry_methods store__sqlite_registry;
/* Schema scripts of the tracking and registry tables (migrations v2 and v3) and
 * of the holds table (v4; renamed workloads by v10). */
extern const char store__schema_track[];
extern const char store__schema_registry[];
extern const char store__schema_holds[];
extern const char store__schema_workloads[]; /* v5: workloads and scheduler objects */
/* Workloads and the lease (workload.c); applied objects and Deployments (objects.c). */
extern const store_workload_methods store__sqlite_workload;
extern const store_object_methods store__sqlite_objects;
/* API tokens and users (tokens.c). */
extern const store_auth_methods store__sqlite_auth;
/* Monitors' checks and states (monitors.c), in store__sqlite_objects's table. */
int store__monitor_check_add(store *st, store_monitor_check *c, mp_err *e);
int store__monitor_check_list(store *st, const char *monitor, int limit, store_monitor_check **out, size_t *n,
                              mp_err *e);
int store__monitor_state_get(store *st, const char *monitor, char **json, mp_err *e);
int store__monitor_state_put(store *st, const char *monitor, const char *json, mp_err *e);
int store__monitor_checks_clear(store *st, const char *monitor, mp_err *e);
/* Secrets' sealed values (secrets.c), in store__sqlite_objects's table. */
int store__secret_put(store *st, const store_secret_value *v, mp_err *e);
int store__secret_list(store *st, const char *ns, const char *name, store_secret_value **out, size_t *n, mp_err *e);
int store__secret_clear(store *st, const char *ns, const char *name, mp_err *e);
int64_t store__data_version(store *s);
/* The namespaces of experiments, MLflow runs and registered models (namespaces.c). */
int store__experiment_namespace(store *st, const char *id, char *ns, size_t n, mp_err *e);
int store__experiment_set_namespace(store *st, const char *id, const char *ns, mp_err *e);
int store__run_namespace(store *st, const char *run_id, char *ns, size_t n, mp_err *e);
int store__model_namespace(store *st, const char *name, char *ns, size_t n, mp_err *e);
int store__model_set_namespace(store *st, const char *name, const char *ns, mp_err *e);
/* The counts of GET /metrics (stats.c). */
int store__stats(store *s, store_stats *out, mp_err *e);
/* Times db's statements when store_profile_enable was called (stats.c). */
void store__profile_attach(sqlite3 *db);
/* A run and everything recorded under its id (rundel.c). */
int store__run_delete(store *s, const char *id, mp_err *e);
/* What steps read and wrote (lineage.c). */
int store__artifact_put(store *s, const store_step_artifact *a, mp_err *e);
int store__artifact_list(store *s, const char *run_id, const char *hash, store_step_artifact **out, size_t *n,
                         mp_err *e);

sqlite3 *store__db(store *st);
store__ext *store__ext_slot(store *st, int slot);
/* Statement i of the n statements sql[0..n) kept in extension slot slot of this
 * connection, all prepared on first use (what names them in an error). NULL and
 * e set when one cannot be prepared. */
sqlite3_stmt *store__ext_stmt(store *st, int slot, const char *const *sql, int n, int i, const char *what, mp_err *e);
/* Runs the bound write statement q inside the caller's transaction when begin() is
 * open, else in its own BEGIN IMMEDIATE ... COMMIT. Returns SQLITE_DONE, or an
 * error code with the message saved. Resets q. */
int store__write(store *st, sqlite3_stmt *q);
/* Saves sqlite3_errmsg for the next store__fail. */
void store__save_err(store *st);
/* Sets e to "store: <op>: <saved message>" with a code from rc (MP_EEXIST for
 * unique violations, MP_ENOENT for foreign keys, else MP_ESTORE); returns it. */
int store__fail(store *st, mp_err *e, int rc, const char *fmt, ...) MP_PRINTF(4, 5);
bool store__in_tx(store *st);
/* Rows changed by the last successful store__write. */
int64_t store__changes(store *st);

/* ---- shared by the searches and readers of the SQLite store (sql_build.c) -------- */
/* A value to bind to ?N of a statement whose text is built per request. */
typedef struct store__bindv {
    int type; /* SQLITE_TEXT, SQLITE_FLOAT or SQLITE_INTEGER */
    const char *s;
    char *owned; /* s when heap (freed with the list) */
    double d;
    int64_t i;
} store__bindv;
typedef struct store__binds {
    store__bindv *v;
    int n, cap;
} store__binds; /* zero-initialised = empty */
/* Each appends a value and returns its 1-based number N (for "?N"). _str borrows s
 * (it must outlive store__binds_apply), _owned takes heap s. */
int store__bind_push(store__binds *b, store__bindv v);
int store__bind_str(store__binds *b, const char *s);
int store__bind_owned(store__binds *b, char *s);
int store__bind_num(store__binds *b, double d);
int store__bind_int(store__binds *b, int64_t i);
void store__binds_free(store__binds *b);
/* Binds value i to parameter i + 1 of q (text copied). SQLITE_OK or the bind error. */
int store__binds_apply(sqlite3_stmt *q, const store__binds *b);
/* MLflow's LIKE is case-sensitive: the GLOB pattern matching the same strings
 * (% -> *, _ -> ?, GLOB's own specials bracketed). Heap; caller frees. */
char *store__like_to_glob(const char *p);

/* Steps the bound q to its end, appending each row to the array *v of *len
 * elements of size bytes (each zeroed, then read by read). Returns the last
 * sqlite3_step result: SQLITE_DONE when every row was read. q is not reset. */
int store__collect(sqlite3_stmt *q, size_t size, void (*read)(sqlite3_stmt *q, void *elem), void **v, size_t *len);
/* Column i of the current row of q as a heap string, NULL for SQL NULL. */
char *store__col_str(sqlite3_stmt *q, int i);
/* Reads every row of the bound q into a new array *out of *n elements of size
 * bytes (each zeroed, then read by read), then resets q. On failure frees what
 * was read with free_arr, sets e ("cannot list <what>") and returns its code. */
int store__list(store *st, sqlite3_stmt *q, size_t size, void (*read)(sqlite3_stmt *q, void *elem),
                void (*free_arr)(void *v, size_t n), const char *what, void **out, size_t *n, mp_err *e);
/* How a search reads its rows with store__collect_rows. */
typedef struct store__rows {
    size_t size;                                   /* of an element */
    void (*read)(sqlite3_stmt *q, void *elem);     /* a row into a zeroed element */
    int (*fill)(store *st, void *elem, mp_err *e); /* then each element's data; may be NULL */
    void (*free)(void *v, size_t n);               /* the array, on failure */
    const char *what;                              /* "runs": "cannot search runs" */
} store__rows;
/* Reads every row of the prepared search q, finalizes q, then fills each element.
 * On failure frees what was read, sets e and returns its code. */
int store__collect_rows(store *st, sqlite3_stmt *q, const store__rows *how, void **out, size_t *n, mp_err *e);
/* Reads the (key, value) rows of the bound q into a new array, then resets q and
 * clears its bindings. On failure "cannot read <what>", nothing kept. */
int store__read_kvs(store *st, sqlite3_stmt *q, store_kv **out, size_t *n, const char *what, mp_err *e);

/* ---- shared by track.c and track_search.c (MLflow tracking) ---------------- */
/* Columns read by store__track_read_run / store__track_read_experiment, with the
 * table aliases r (mlflow_runs) and x (mlflow_experiments). */
#define STORE__TRACK_RUN_COLS \
    "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage"
#define STORE__TRACK_EXP_COLS \
    "x.experiment_id, x.name, x.artifact_location, x.lifecycle_stage, x.creation_time, x.last_update_time, x.namespace"
/* Read the info of the current row of q (columns as above) into a zeroed out. */
void store__track_read_run(sqlite3_stmt *q, store_track_run *out);
void store__track_read_experiment(sqlite3_stmt *q, store_experiment *out);
/* Load a run's data (latest metrics, params, tags) and inputs / an experiment's tags. */
int store__track_load_run_data(store *st, store_track_run *r, mp_err *e);
int store__track_load_experiment_tags(store *st, store_experiment *x, mp_err *e);
/* Search methods (track_search.c). */
int store__track_run_search(store *st, const store_track_query *q, store_track_run **out, size_t *n, mp_err *e);
int store__track_experiment_search(store *st, const store_track_query *q, store_experiment **out, size_t *n,
                                   mp_err *e);

/* The SQL that log-batch uses to append one metric point to the history (for the
 * tracking benchmark's raw-insert limit, which must use the same statement). */
const char *store__track_metric_insert_sql(void);

#endif
