/* track.c — MLflow tracking over the SQLite store: the store_track_methods
 * that create and read experiments and runs and log metrics, params, tags and
 * inputs. The schema is in track_schema.c, searching in track_search.c.
 *
 * Metrics are written twice: the full history (mlflow_metrics) and the latest
 * value per run and key (mlflow_latest_metrics, indexed on (key, value) so that
 * runs/search with a metric filter and order_by walks the index in order). A NaN
 * is stored as MLflow does (value 0, is_nan 1) in the history and as a NULL value
 * in latest_metrics, so it never matches a comparison and sorts after every number.
 * The history and latest tables have no foreign keys: runs are only ever deleted
 * softly, and log_batch checks the run under its write lock.
 *
 * Statements are prepared once per connection, on first use, into the store's
 * tracking extension slot. Multi-statement writes run in one transaction (their
 * own, or the caller's begin()); log_batch reuses one insert statement per point.
 * Thread-safety: as the store: one handle per thread. */
#include "store/sqlite/sqlite_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statements ------------------------------------------------------------------- */

enum {
    T_EXP_INSERT,
    T_EXP_SET_LOCATION,
    T_EXP_GET,
    T_EXP_BY_NAME,
    T_EXP_RENAME,
    T_EXP_LIFECYCLE,
    T_EXP_RUNS_LIFECYCLE,
    T_EXP_TAG_PUT,
    T_EXP_TAGS,
    T_RUN_INSERT,
    T_RUN_GET,
    T_RUN_STAGE,
    T_RUN_UPDATE,
    T_RUN_LIFECYCLE,
    T_RUN_RENAME,
    T_TAG_PUT,
    T_TAG_DELETE,
    T_TAGS,
    T_PARAM_INSERT,
    T_PARAM_GET,
    T_PARAMS,
    T_METRIC_INSERT,
    T_LATEST_PUT,
    T_LATEST,
    T_HISTORY,
    T_DATASET_INSERT,
    T_DATASET_ID,
    T_INPUT_INSERT,
    T_INPUT_TAG_PUT,
    T_INPUTS,
    T_INPUT_TAGS,
    T__COUNT
};

static const char *const sql_text[T__COUNT] = {
    [T_EXP_INSERT] = "INSERT INTO mlflow_experiments (name, artifact_location, lifecycle_stage, creation_time, "
                     "last_update_time) VALUES (?1, ?2, 'active', ?3, ?3)",
    [T_EXP_SET_LOCATION] = "UPDATE mlflow_experiments SET artifact_location = 'mlflow-artifacts:/' || experiment_id "
                           "WHERE experiment_id = ?1",
    [T_EXP_GET] = "SELECT " STORE__TRACK_EXP_COLS " FROM mlflow_experiments x WHERE x.experiment_id = ?1",
    [T_EXP_BY_NAME] = "SELECT " STORE__TRACK_EXP_COLS " FROM mlflow_experiments x WHERE x.name = ?1",
    [T_EXP_RENAME] = "UPDATE mlflow_experiments SET name = ?2, last_update_time = ?3 WHERE experiment_id = ?1",
    [T_EXP_LIFECYCLE] = "UPDATE mlflow_experiments SET lifecycle_stage = ?2, last_update_time = ?3 "
                        "WHERE experiment_id = ?1",
    [T_EXP_RUNS_LIFECYCLE] = "UPDATE mlflow_runs SET lifecycle_stage = ?2, "
                             "deleted_time = CASE WHEN ?2 = 'deleted' THEN ?3 ELSE NULL END "
                             "WHERE experiment_id = ?1 AND lifecycle_stage <> ?2",
    [T_EXP_TAG_PUT] = "INSERT INTO mlflow_experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3) "
                      "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
    [T_EXP_TAGS] = "SELECT key, value FROM mlflow_experiment_tags WHERE experiment_id = ?1 ORDER BY key",
    [T_RUN_INSERT] = "INSERT INTO mlflow_runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, "
                     "lifecycle_stage, artifact_uri) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'active', ?8)",
    [T_RUN_GET] = "SELECT " STORE__TRACK_RUN_COLS " FROM mlflow_runs r WHERE r.run_uuid = ?1",
    [T_RUN_STAGE] = "SELECT lifecycle_stage FROM mlflow_runs WHERE run_uuid = ?1",
    [T_RUN_UPDATE] = "UPDATE mlflow_runs SET status = COALESCE(?2, status), "
                     "end_time = CASE WHEN ?3 >= 0 THEN ?3 ELSE end_time END, name = COALESCE(?4, name) "
                     "WHERE run_uuid = ?1",
    [T_RUN_LIFECYCLE] = "UPDATE mlflow_runs SET lifecycle_stage = ?2, "
                        "deleted_time = CASE WHEN ?2 = 'deleted' THEN ?3 ELSE NULL END WHERE run_uuid = ?1",
    [T_RUN_RENAME] = "UPDATE mlflow_runs SET name = ?2 WHERE run_uuid = ?1",
    [T_TAG_PUT] = "INSERT INTO mlflow_tags (run_uuid, key, value) VALUES (?1, ?2, ?3) "
                  "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
    [T_TAG_DELETE] = "DELETE FROM mlflow_tags WHERE run_uuid = ?1 AND key = ?2",
    [T_TAGS] = "SELECT key, value FROM mlflow_tags WHERE run_uuid = ?1 ORDER BY key",
    [T_PARAM_INSERT] = "INSERT INTO mlflow_params (run_uuid, key, value) VALUES (?1, ?2, ?3) "
                       "ON CONFLICT (run_uuid, key) DO NOTHING",
    [T_PARAM_GET] = "SELECT value FROM mlflow_params WHERE run_uuid = ?1 AND key = ?2",
    [T_PARAMS] = "SELECT key, value FROM mlflow_params WHERE run_uuid = ?1 ORDER BY key",
    [T_METRIC_INSERT] = "INSERT OR IGNORE INTO mlflow_metrics (run_uuid, key, value, timestamp, step, is_nan) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* The latest point is the greatest (step, timestamp, value); NaN compares lowest. */
    [T_LATEST_PUT] = "INSERT INTO mlflow_latest_metrics (run_uuid, key, value, timestamp, step, is_nan) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (run_uuid, key) DO UPDATE SET "
                     "value = excluded.value, timestamp = excluded.timestamp, step = excluded.step, "
                     "is_nan = excluded.is_nan WHERE excluded.step > mlflow_latest_metrics.step OR "
                     "(excluded.step = mlflow_latest_metrics.step AND (excluded.timestamp > "
                     "mlflow_latest_metrics.timestamp OR (excluded.timestamp = mlflow_latest_metrics.timestamp "
                     "AND IFNULL(excluded.value, -9e999) > IFNULL(mlflow_latest_metrics.value, -9e999))))",
    [T_LATEST] = "SELECT key, value, timestamp, step, is_nan FROM mlflow_latest_metrics WHERE run_uuid = ?1 "
                 "ORDER BY key",
    [T_HISTORY] = "SELECT key, value, timestamp, step, is_nan FROM mlflow_metrics WHERE run_uuid = ?1 AND key = ?2 "
                  "ORDER BY timestamp, step, value LIMIT ?3 OFFSET ?4",
    [T_DATASET_INSERT] = "INSERT OR IGNORE INTO mlflow_datasets (dataset_uuid, experiment_id, name, digest, "
                         "source_type, source, schema, profile) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [T_DATASET_ID] = "SELECT dataset_uuid FROM mlflow_datasets WHERE experiment_id = ?1 AND name = ?2 AND digest = ?3",
    [T_INPUT_INSERT] = "INSERT OR IGNORE INTO mlflow_inputs (run_uuid, dataset_uuid, seq) VALUES (?1, ?2, "
                       "(SELECT IFNULL(MAX(seq), 0) + 1 FROM mlflow_inputs WHERE run_uuid = ?1))",
    [T_INPUT_TAG_PUT] = "INSERT OR REPLACE INTO mlflow_input_tags (run_uuid, dataset_uuid, key, value) "
                        "VALUES (?1, ?2, ?3, ?4)",
    [T_INPUTS] = "SELECT d.dataset_uuid, d.name, d.digest, d.source_type, d.source, d.schema, d.profile "
                 "FROM mlflow_inputs i JOIN mlflow_datasets d ON d.dataset_uuid = i.dataset_uuid "
                 "WHERE i.run_uuid = ?1 ORDER BY i.seq",
    [T_INPUT_TAGS] = "SELECT key, value FROM mlflow_input_tags WHERE run_uuid = ?1 AND dataset_uuid = ?2 ORDER BY key",
};

/* The statement i of this connection, preparing them all on first use. */
static sqlite3_stmt *Q(store *st, int i, mp_err *e) {
    return store__ext_stmt(st, STORE__EXT_TRACK, sql_text, T__COUNT, i, "tracking", e);
}

#define GETQ(var, i)                             \
    sqlite3_stmt *var = Q(st, i, e);             \
    if (!var) return MP_ESTORE

/* ---- helpers ---------------------------------------------------------------------- */

static void bind_str(sqlite3_stmt *q, int i, const char *v) { sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC); }
static void done(sqlite3_stmt *q) {
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}

/* Parses a decimal experiment id; false when s is not one (no such experiment). */
static bool exp_id(const char *s, int64_t *out) {
    if (!s || !*s || strlen(s) > 18) return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

/* A read of q failed with rc: saves the message, resets q, fills e. */
static int read_fail(store *st, sqlite3_stmt *q, mp_err *e, int rc, const char *what) {
    store__save_err(st);
    done(q);
    return store__fail(st, e, rc, "cannot read %s", what);
}

/* Runs a write statement; on failure the error is "store: <what>: ..." */
static int exec_write(store *st, sqlite3_stmt *q, mp_err *e, const char *what) {
    int rc = store__write(st, q);
    if (rc != SQLITE_DONE) return store__fail(st, e, rc, "%s", what);
    return 0;
}

/* A group of writes: joins the caller's transaction or opens one. */
static int tx_begin(store *st, bool *own, mp_err *e) {
    *own = !store__in_tx(st);
    return *own ? st->m->begin(st, e) : 0;
}

static int tx_end(store *st, bool own, int rc, mp_err *e) {
    if (!own) return rc;
    if (rc != 0) {
        st->m->rollback(st);
        return rc;
    }
    return st->m->commit(st, e);
}

static int read_kvs(store *st, sqlite3_stmt *q, store_kv **out, size_t *n, mp_err *e) {
    return store__read_kvs(st, q, out, n, "tags or params", e);
}

static void read_metric(sqlite3_stmt *q, void *elem) {
    store_track_metric *m = elem;
    m->key = store__col_str(q, 0);
    m->value = sqlite3_column_int(q, 4) ? NAN : sqlite3_column_double(q, 1);
    m->timestamp = sqlite3_column_int64(q, 2);
    m->step = sqlite3_column_int64(q, 3);
}

/* Reads rows of (key, value, timestamp, step, is_nan). */
static int read_metrics(store *st, sqlite3_stmt *q, store_track_metric **out, size_t *n, mp_err *e) {
    void *rows = NULL;
    size_t len = 0;
    int rc = store__collect(q, sizeof(store_track_metric), read_metric, &rows, &len);
    store_track_metric *v = rows;
    if (rc != SQLITE_DONE) {
        store__save_err(st);
        store_track_metric_array_free(v, len);
        done(q);
        return store__fail(st, e, rc, "cannot read metrics");
    }
    done(q);
    *out = v;
    *n = len;
    return 0;
}

void store__track_read_experiment(sqlite3_stmt *q, store_experiment *x) {
    x->experiment_id = mp_xasprintf("%lld", (long long)sqlite3_column_int64(q, 0));
    x->name = store__col_str(q, 1);
    x->artifact_location = store__col_str(q, 2);
    x->lifecycle_stage = store__col_str(q, 3);
    x->creation_time = sqlite3_column_int64(q, 4);
    x->last_update_time = sqlite3_column_int64(q, 5);
    x->namespace_ = store__col_str(q, 6);
}

void store__track_read_run(sqlite3_stmt *q, store_track_run *r) {
    r->run_id = store__col_str(q, 0);
    r->run_name = store__col_str(q, 1);
    r->experiment_id = mp_xasprintf("%lld", (long long)sqlite3_column_int64(q, 2));
    r->user_id = store__col_str(q, 3);
    r->status = store__col_str(q, 4);
    r->start_time = sqlite3_column_int64(q, 5);
    r->end_time = sqlite3_column_type(q, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 6);
    r->artifact_uri = store__col_str(q, 7);
    r->lifecycle_stage = store__col_str(q, 8);
}

int store__track_load_experiment_tags(store *st, store_experiment *x, mp_err *e) {
    GETQ(q, T_EXP_TAGS);
    int64_t id = 0;
    exp_id(x->experiment_id, &id);
    sqlite3_bind_int64(q, 1, id);
    return read_kvs(st, q, &x->tags, &x->ntags, e);
}

static int load_inputs(store *st, store_track_run *r, mp_err *e) {
    GETQ(q, T_INPUTS);
    GETQ(qt, T_INPUT_TAGS);
    bind_str(q, 1, r->run_id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (r->ninputs == cap) {
            cap = cap ? cap * 2 : 4;
            r->inputs = mp_xrealloc(r->inputs, cap * sizeof *r->inputs);
        }
        store_dataset_input *d = &r->inputs[r->ninputs++];
        memset(d, 0, sizeof *d);
        d->name = store__col_str(q, 1);
        d->digest = store__col_str(q, 2);
        d->source_type = store__col_str(q, 3);
        d->source = store__col_str(q, 4);
        d->schema = store__col_str(q, 5);
        d->profile = store__col_str(q, 6);
        bind_str(qt, 1, r->run_id);
        bind_str(qt, 2, (const char *)sqlite3_column_text(q, 0));
        if (read_kvs(st, qt, &d->tags, &d->ntags, e) != 0) {
            done(q);
            return e ? e->code : MP_ESTORE;
        }
    }
    if (rc != SQLITE_DONE) {
        store__save_err(st);
        done(q);
        return store__fail(st, e, rc, "cannot read the inputs of run %s", r->run_id);
    }
    done(q);
    return 0;
}

int store__track_load_run_data(store *st, store_track_run *r, mp_err *e) {
    GETQ(qm, T_LATEST);
    GETQ(qp, T_PARAMS);
    GETQ(qt, T_TAGS);
    bind_str(qm, 1, r->run_id);
    if (read_metrics(st, qm, &r->metrics, &r->nmetrics, e) != 0) return MP_ESTORE;
    bind_str(qp, 1, r->run_id);
    if (read_kvs(st, qp, &r->params, &r->nparams, e) != 0) return MP_ESTORE;
    bind_str(qt, 1, r->run_id);
    if (read_kvs(st, qt, &r->tags, &r->ntags, e) != 0) return MP_ESTORE;
    return load_inputs(st, r, e);
}

/* ---- experiments ------------------------------------------------------------------ */

static int get_exp(store *st, int idx, const char *arg, int64_t id, store_experiment *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    GETQ(q, idx);
    if (arg) bind_str(q, 1, arg);
    else sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) store__track_read_experiment(q, out);
    else if (rc != SQLITE_DONE) store__save_err(st);
    done(q);
    if (rc == SQLITE_DONE) return MP_ENOENT;
    if (rc != SQLITE_ROW) return store__fail(st, e, rc, "cannot read an experiment");
    if (store__track_load_experiment_tags(st, out, e) != 0) {
        store_experiment_free(out);
        memset(out, 0, sizeof *out);
        return MP_ESTORE;
    }
    return 0;
}

static int tr_experiment_get(store *st, const char *id, store_experiment *out, mp_err *e) {
    int64_t n = 0;
    if (!exp_id(id, &n)) {
        memset(out, 0, sizeof *out);
        return mp_err_set(e, MP_ENOENT, "No Experiment with id=%s exists", id ? id : "");
    }
    int rc = get_exp(st, T_EXP_GET, NULL, n, out, e);
    if (rc == MP_ENOENT) return mp_err_set(e, MP_ENOENT, "No Experiment with id=%s exists", id);
    return rc;
}

static int tr_experiment_get_by_name(store *st, const char *name, store_experiment *out, mp_err *e) {
    int rc = get_exp(st, T_EXP_BY_NAME, name ? name : "", 0, out, e);
    if (rc == MP_ENOENT) return mp_err_set(e, MP_ENOENT, "Could not find experiment with name '%s'", name ? name : "");
    return rc;
}

static int put_exp_tags(store *st, int64_t id, const store_kv *tags, size_t n, mp_err *e) {
    GETQ(q, T_EXP_TAG_PUT);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(q, 1, id);
        bind_str(q, 2, tags[i].key);
        bind_str(q, 3, tags[i].value);
        if (exec_write(st, q, e, "cannot set an experiment tag") != 0) return MP_ESTORE;
    }
    return 0;
}

static int tr_experiment_create(store *st, const char *name, const char *location, const store_kv *tags, size_t ntags,
                                char **id_out, mp_err *e) {
    *id_out = NULL;
    if (!name || !*name) return mp_err_set(e, MP_EINVAL, "Invalid experiment name: '%s'", name ? name : "");
    GETQ(q, T_EXP_INSERT);
    GETQ(qloc, T_EXP_SET_LOCATION);
    bool own;
    if (tx_begin(st, &own, e) != 0) return MP_ESTORE;
    bind_str(q, 1, name);
    if (location && *location) bind_str(q, 2, location);
    sqlite3_bind_int64(q, 3, mp_now_ms());
    int rc = store__write(st, q);
    int64_t id = sqlite3_last_insert_rowid(store__db(st));
    if (rc != SQLITE_DONE) {
        rc = store__fail(st, e, rc, "cannot create experiment %s", name);
        if (rc == MP_EEXIST) mp_err_set(e, MP_EEXIST, "Experiment(name=%s) already exists.", name);
    } else {
        rc = 0;
        if (!location || !*location) {
            sqlite3_bind_int64(qloc, 1, id);
            rc = exec_write(st, qloc, e, "cannot set the artifact location of an experiment");
        }
        if (rc == 0) rc = put_exp_tags(st, id, tags, ntags, e);
    }
    rc = tx_end(st, own, rc, e);
    if (rc == 0) *id_out = mp_xasprintf("%lld", (long long)id);
    return rc;
}

static int tr_experiment_get_or_create(store *st, const char *name, char **id, mp_err *e) {
    *id = NULL;
    store_experiment x;
    int rc = tr_experiment_get_by_name(st, name, &x, e);
    if (rc == 0) {
        *id = x.experiment_id;
        x.experiment_id = NULL;
        store_experiment_free(&x);
        return 0;
    }
    if (rc != MP_ENOENT) return rc;
    rc = tr_experiment_create(st, name, NULL, NULL, 0, id, e);
    if (rc == MP_EEXIST) return tr_experiment_get_or_create(st, name, id, e); /* created meanwhile */
    return rc;
}

/* Looks the experiment up for a write: MP_ENOENT, or MP_ESTATE when want_active and
 * it is deleted. */
static int exp_check(store *st, const char *id, int64_t *n, bool want_active, mp_err *e) {
    store_experiment x;
    int rc = tr_experiment_get(st, id, &x, e);
    if (rc != 0) return rc;
    exp_id(id, n);
    if (want_active && strcmp(x.lifecycle_stage, "active") != 0)
        rc = mp_err_set(e, MP_ESTATE, "The experiment %s must be in the 'active' state. Current state is %s.", id,
                        x.lifecycle_stage);
    store_experiment_free(&x);
    return rc;
}

static int tr_experiment_rename(store *st, const char *id, const char *new_name, mp_err *e) {
    int64_t n = 0;
    int rc = exp_check(st, id, &n, true, e);
    if (rc == MP_ESTATE) return mp_err_set(e, MP_ESTATE, "Cannot rename a non-active experiment.");
    if (rc != 0) return rc;
    GETQ(q, T_EXP_RENAME);
    sqlite3_bind_int64(q, 1, n);
    bind_str(q, 2, new_name);
    sqlite3_bind_int64(q, 3, mp_now_ms());
    rc = store__write(st, q);
    if (rc == SQLITE_DONE) return 0;
    rc = store__fail(st, e, rc, "cannot rename experiment %s", id);
    if (rc == MP_EEXIST) mp_err_set(e, MP_EEXIST, "Experiment(name=%s) already exists.", new_name);
    return rc;
}

static int tr_experiment_set_lifecycle(store *st, const char *id, const char *stage, mp_err *e) {
    int64_t n = 0;
    int rc = exp_check(st, id, &n, false, e);
    if (rc != 0) return rc;
    GETQ(q, T_EXP_LIFECYCLE);
    GETQ(qr, T_EXP_RUNS_LIFECYCLE);
    bool own;
    if (tx_begin(st, &own, e) != 0) return MP_ESTORE;
    int64_t now = mp_now_ms();
    sqlite3_bind_int64(q, 1, n);
    bind_str(q, 2, stage);
    sqlite3_bind_int64(q, 3, now);
    rc = exec_write(st, q, e, "cannot change the lifecycle stage of an experiment");
    if (rc == 0) {
        sqlite3_bind_int64(qr, 1, n);
        bind_str(qr, 2, stage);
        sqlite3_bind_int64(qr, 3, now);
        rc = exec_write(st, qr, e, "cannot change the lifecycle stage of the runs of an experiment");
    }
    return tx_end(st, own, rc, e);
}

static int tr_experiment_set_tag(store *st, const char *id, const char *key, const char *value, mp_err *e) {
    int64_t n = 0;
    int rc = exp_check(st, id, &n, true, e);
    if (rc != 0) return rc;
    store_kv kv = {(char *)key, (char *)value};
    return put_exp_tags(st, n, &kv, 1, e);
}

/* ---- runs ------------------------------------------------------------------------- */

/* MP_ENOENT when the run does not exist, MP_ESTATE when want_active and it is deleted. */
static int run_check(store *st, const char *run_id, bool want_active, mp_err *e) {
    GETQ(q, T_RUN_STAGE);
    bind_str(q, 1, run_id ? run_id : "");
    int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        done(q);
        return mp_err_set(e, MP_ENOENT, "Run with id=%s not found", run_id ? run_id : "");
    }
    if (rc != SQLITE_ROW) {
        store__save_err(st);
        done(q);
        return store__fail(st, e, rc, "cannot read run %s", run_id);
    }
    const char *stage = (const char *)sqlite3_column_text(q, 0);
    if (want_active && (!stage || strcmp(stage, "active") != 0))
        rc = mp_err_set(e, MP_ESTATE, "The run %s must be in the 'active' state. Current state is %s.", run_id,
                        stage ? stage : "");
    else rc = 0;
    done(q);
    return rc;
}

static int put_tags(store *st, const char *run_id, const store_kv *tags, size_t n, mp_err *e) {
    GETQ(q, T_TAG_PUT);
    GETQ(qn, T_RUN_RENAME);
    for (size_t i = 0; i < n; i++) {
        bind_str(q, 1, run_id);
        bind_str(q, 2, tags[i].key);
        bind_str(q, 3, tags[i].value);
        if (exec_write(st, q, e, "cannot set a run tag") != 0) return MP_ESTORE;
        if (strcmp(tags[i].key, "mlflow.runName") == 0) {
            bind_str(qn, 1, run_id);
            bind_str(qn, 2, tags[i].value);
            if (exec_write(st, qn, e, "cannot rename a run") != 0) return MP_ESTORE;
        }
    }
    return 0;
}

static int tr_run_create(store *st, const store_track_run *r, mp_err *e) {
    if (!r->run_id || !*r->run_id || !r->run_name)
        return mp_err_set(e, MP_EINVAL, "store: a run needs a run id and a name");
    store_experiment x;
    int rc = tr_experiment_get(st, r->experiment_id, &x, e);
    if (rc != 0) return rc;
    if (strcmp(x.lifecycle_stage, "active") != 0) {
        rc = mp_err_set(e, MP_ESTATE, "The experiment %s must be in the 'active' state. Current state is %s.",
                        x.experiment_id, x.lifecycle_stage);
        store_experiment_free(&x);
        return rc;
    }
    char *uri = r->artifact_uri ? mp_xstrdup(r->artifact_uri)
                                : mp_xasprintf("%s%s%s/artifacts", x.artifact_location,
                                               mp_str_ends(x.artifact_location, "/") ? "" : "/", r->run_id);
    int64_t eid = 0;
    exp_id(x.experiment_id, &eid);
    store_experiment_free(&x);
    sqlite3_stmt *q = Q(st, T_RUN_INSERT, e);
    bool own = false;
    if (!q || tx_begin(st, &own, e) != 0) {
        free(uri);
        return MP_ESTORE;
    }
    bind_str(q, 1, r->run_id);
    bind_str(q, 2, r->run_name);
    sqlite3_bind_int64(q, 3, eid);
    bind_str(q, 4, r->user_id);
    bind_str(q, 5, r->status ? r->status : "RUNNING");
    sqlite3_bind_int64(q, 6, r->start_time);
    if (r->end_time >= 0) sqlite3_bind_int64(q, 7, r->end_time);
    bind_str(q, 8, uri);
    rc = store__write(st, q);
    free(uri);
    if (rc != SQLITE_DONE) {
        rc = store__fail(st, e, rc, "cannot create run %s", r->run_id);
        if (rc == MP_EEXIST) mp_err_set(e, MP_EEXIST, "Run with id=%s already exists", r->run_id);
    } else {
        rc = put_tags(st, r->run_id, r->tags, r->ntags, e);
    }
    return tx_end(st, own, rc, e);
}

static int tr_run_get(store *st, const char *run_id, store_track_run *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    GETQ(q, T_RUN_GET);
    bind_str(q, 1, run_id ? run_id : "");
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) store__track_read_run(q, out);
    else if (rc != SQLITE_DONE) store__save_err(st);
    done(q);
    if (rc == SQLITE_DONE) return mp_err_set(e, MP_ENOENT, "Run with id=%s not found", run_id ? run_id : "");
    if (rc != SQLITE_ROW) return store__fail(st, e, rc, "cannot read run %s", run_id);
    if (store__track_load_run_data(st, out, e) != 0) {
        store_track_run_free(out);
        memset(out, 0, sizeof *out);
        return MP_ESTORE;
    }
    return 0;
}

static int tr_run_update(store *st, const char *run_id, const char *status, int64_t end_time, const char *run_name,
                         mp_err *e) {
    int rc = run_check(st, run_id, true, e);
    if (rc != 0) return rc;
    GETQ(q, T_RUN_UPDATE);
    bool own;
    if (tx_begin(st, &own, e) != 0) return MP_ESTORE;
    bind_str(q, 1, run_id);
    bind_str(q, 2, status);
    sqlite3_bind_int64(q, 3, end_time);
    bind_str(q, 4, run_name);
    rc = exec_write(st, q, e, "cannot update a run");
    if (rc == 0 && run_name) {
        store_kv kv = {"mlflow.runName", (char *)run_name};
        rc = put_tags(st, run_id, &kv, 1, e);
    }
    return tx_end(st, own, rc, e);
}

static int tr_run_set_lifecycle(store *st, const char *run_id, const char *stage, mp_err *e) {
    int rc = run_check(st, run_id, false, e);
    if (rc != 0) return rc;
    GETQ(q, T_RUN_LIFECYCLE);
    bind_str(q, 1, run_id);
    bind_str(q, 2, stage);
    sqlite3_bind_int64(q, 3, mp_now_ms());
    return exec_write(st, q, e, "cannot change the lifecycle stage of a run");
}

static int tr_tag_delete(store *st, const char *run_id, const char *key, mp_err *e) {
    int rc = run_check(st, run_id, true, e);
    if (rc != 0) return rc;
    GETQ(q, T_TAG_DELETE);
    bind_str(q, 1, run_id);
    bind_str(q, 2, key);
    if (exec_write(st, q, e, "cannot delete a run tag") != 0) return MP_ESTORE;
    if (store__changes(st) == 0)
        return mp_err_set(e, MP_ENOENT, "No tag with name: %s in run with id %s", key, run_id);
    return 0;
}

/* ---- logging ---------------------------------------------------------------------- */

static int log_params(store *st, const char *run_id, const store_kv *params, size_t n, mp_err *e) {
    GETQ(q, T_PARAM_INSERT);
    GETQ(qg, T_PARAM_GET);
    for (size_t i = 0; i < n; i++) {
        bind_str(q, 1, run_id);
        bind_str(q, 2, params[i].key);
        bind_str(q, 3, params[i].value);
        if (exec_write(st, q, e, "cannot log a param") != 0) return MP_ESTORE;
        if (store__changes(st) > 0) continue;
        bind_str(qg, 1, run_id);
        bind_str(qg, 2, params[i].key);
        int rc = sqlite3_step(qg);
        if (rc != SQLITE_ROW) return read_fail(st, qg, e, rc, "a param");
        const char *old = (const char *)sqlite3_column_text(qg, 0);
        if (strcmp(old ? old : "", params[i].value) != 0) {
            mp_err_set(e, MP_EINVAL,
                       "Changing param values is not allowed. Param with key='%s' was already logged with value='%s' "
                       "for run ID='%s'. Attempted logging new value '%s'.",
                       params[i].key, old ? old : "", run_id, params[i].value);
            done(qg);
            return MP_EINVAL;
        }
        done(qg);
    }
    return 0;
}

/* Is a ordered after b as MLflow picks the latest point: (step, timestamp, value). */
static bool metric_later(const store_track_metric *a, const store_track_metric *b) {
    if (a->step != b->step) return a->step > b->step;
    if (a->timestamp != b->timestamp) return a->timestamp > b->timestamp;
    if (isnan(b->value)) return !isnan(a->value);
    return !isnan(a->value) && a->value > b->value;
}

static void bind_metric(sqlite3_stmt *q, const char *run_id, const store_track_metric *m, bool latest) {
    bind_str(q, 1, run_id);
    bind_str(q, 2, m->key);
    bool nan = isnan(m->value);
    if (!nan) sqlite3_bind_double(q, 3, m->value);
    else if (!latest) sqlite3_bind_double(q, 3, 0.0); /* latest keeps NULL for NaN */
    sqlite3_bind_int64(q, 4, m->timestamp);
    sqlite3_bind_int64(q, 5, m->step);
    sqlite3_bind_int(q, 6, nan ? 1 : 0);
}

/* Appends every point to the history with one statement, then updates the latest
 * value once per distinct key (the latest of the batch, compared again in SQL). */
static int log_metrics(store *st, const char *run_id, const store_track_metric *m, size_t n, mp_err *e) {
    if (n == 0) return 0;
    GETQ(q, T_METRIC_INSERT);
    GETQ(ql, T_LATEST_PUT);
    size_t *best = mp_xmalloc(n * sizeof *best); /* index of the latest point of each distinct key */
    size_t nbest = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bind_metric(q, run_id, &m[i], false);
        rc = exec_write(st, q, e, "cannot log a metric");
        size_t k = 0;
        /* keys of a batch are few and usually repeat in runs: look at the last one first */
        if (nbest > 0 && strcmp(m[best[nbest - 1]].key, m[i].key) == 0) k = nbest - 1;
        else
            for (k = 0; k < nbest && strcmp(m[best[k]].key, m[i].key) != 0; k++) {}
        if (k == nbest) best[nbest++] = i;
        else if (metric_later(&m[i], &m[best[k]])) best[k] = i;
    }
    for (size_t k = 0; k < nbest && rc == 0; k++) {
        bind_metric(ql, run_id, &m[best[k]], true);
        rc = exec_write(st, ql, e, "cannot update the latest value of a metric");
    }
    free(best);
    return rc;
}

static int tr_log_batch(store *st, const char *run_id, const store_track_metric *metrics, size_t nmetrics,
                        const store_kv *params, size_t nparams, const store_kv *tags, size_t ntags, mp_err *e) {
    bool own;
    if (tx_begin(st, &own, e) != 0) return MP_ESTORE;
    int rc = run_check(st, run_id, true, e);
    if (rc == 0) rc = log_params(st, run_id, params, nparams, e);
    if (rc == 0) rc = put_tags(st, run_id, tags, ntags, e);
    if (rc == 0) rc = log_metrics(st, run_id, metrics, nmetrics, e);
    return tx_end(st, own, rc, e);
}

static int tr_metric_history(store *st, const char *run_id, const char *key, int64_t offset, int64_t limit,
                             store_track_metric **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    int rc = run_check(st, run_id, false, e);
    if (rc != 0) return rc;
    GETQ(q, T_HISTORY);
    bind_str(q, 1, run_id);
    bind_str(q, 2, key);
    sqlite3_bind_int64(q, 3, limit < 0 ? -1 : limit);
    sqlite3_bind_int64(q, 4, offset < 0 ? 0 : offset);
    return read_metrics(st, q, out, n, e);
}

static int log_input(store *st, const char *run_id, int64_t eid, const store_dataset_input *d, mp_err *e) {
    GETQ(qd, T_DATASET_INSERT);
    GETQ(qid, T_DATASET_ID);
    GETQ(qi, T_INPUT_INSERT);
    GETQ(qt, T_INPUT_TAG_PUT);
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    char uuid[33];
    sodium_bin2hex(uuid, sizeof uuid, raw, sizeof raw);
    bind_str(qd, 1, uuid);
    sqlite3_bind_int64(qd, 2, eid);
    bind_str(qd, 3, d->name);
    bind_str(qd, 4, d->digest);
    bind_str(qd, 5, d->source_type);
    bind_str(qd, 6, d->source);
    bind_str(qd, 7, d->schema);
    bind_str(qd, 8, d->profile);
    if (exec_write(st, qd, e, "cannot record a dataset") != 0) return MP_ESTORE;
    sqlite3_bind_int64(qid, 1, eid);
    bind_str(qid, 2, d->name);
    bind_str(qid, 3, d->digest);
    int rc = sqlite3_step(qid);
    if (rc != SQLITE_ROW) return read_fail(st, qid, e, rc, "a dataset");
    char *ds = store__col_str(qid, 0);
    done(qid);
    bind_str(qi, 1, run_id);
    bind_str(qi, 2, ds);
    rc = exec_write(st, qi, e, "cannot record a run input");
    for (size_t i = 0; i < d->ntags && rc == 0; i++) {
        bind_str(qt, 1, run_id);
        bind_str(qt, 2, ds);
        bind_str(qt, 3, d->tags[i].key);
        bind_str(qt, 4, d->tags[i].value);
        rc = exec_write(st, qt, e, "cannot record an input tag");
    }
    free(ds);
    return rc;
}

static int tr_log_inputs(store *st, const char *run_id, const store_dataset_input *in, size_t n, mp_err *e) {
    store_track_run r;
    int rc = tr_run_get(st, run_id, &r, e);
    if (rc != 0) return rc;
    int64_t eid = 0;
    exp_id(r.experiment_id, &eid);
    bool active = strcmp(r.lifecycle_stage, "active") == 0;
    store_track_run_free(&r);
    if (!active) return run_check(st, run_id, true, e);
    bool own;
    if (tx_begin(st, &own, e) != 0) return MP_ESTORE;
    for (size_t i = 0; i < n && rc == 0; i++) rc = log_input(st, run_id, eid, &in[i], e);
    return tx_end(st, own, rc, e);
}

const char *store__track_metric_insert_sql(void) { return sql_text[T_METRIC_INSERT]; }

const store_track_methods store__sqlite_track = {
    .experiment_create = tr_experiment_create,
    .experiment_get_or_create = tr_experiment_get_or_create,
    .experiment_get = tr_experiment_get,
    .experiment_get_by_name = tr_experiment_get_by_name,
    .experiment_search = store__track_experiment_search,
    .experiment_rename = tr_experiment_rename,
    .experiment_set_lifecycle = tr_experiment_set_lifecycle,
    .experiment_set_tag = tr_experiment_set_tag,
    .run_create = tr_run_create,
    .run_get = tr_run_get,
    .run_update = tr_run_update,
    .run_set_lifecycle = tr_run_set_lifecycle,
    .run_search = store__track_run_search,
    .log_batch = tr_log_batch,
    .tag_delete = tr_tag_delete,
    .metric_history = tr_metric_history,
    .log_inputs = tr_log_inputs,
    .experiment_namespace = store__experiment_namespace,
    .experiment_set_namespace = store__experiment_set_namespace,
    .run_namespace = store__run_namespace,
};
