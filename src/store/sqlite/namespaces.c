/* namespaces.c — the namespace of an experiment, of an MLflow run (its
 * experiment's) and of a registered model: the columns migration v13 added, read
 * on every authorized request of the MLflow API (one indexed lookup each) and
 * set when an experiment or a model is created.
 * Thread-safety: as the store, one connection per thread; the prepared statements
 * live in the connection's STORE__EXT_NAMESPACES slot. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

enum { N_EXP_GET, N_EXP_SET, N_RUN_GET, N_MODEL_GET, N_MODEL_SET, N__COUNT };

static const char *const sql_text[N__COUNT] = {
    [N_EXP_GET] = "SELECT namespace FROM mlflow_experiments WHERE experiment_id = ?1",
    [N_EXP_SET] = "UPDATE mlflow_experiments SET namespace = ?2 WHERE experiment_id = ?1",
    [N_RUN_GET] = ("SELECT x.namespace FROM mlflow_runs r JOIN mlflow_experiments x ON x.experiment_id = "
                   "r.experiment_id WHERE r.run_uuid = ?1"),
    [N_MODEL_GET] = "SELECT namespace FROM reg_models WHERE name = ?1",
    [N_MODEL_SET] = "UPDATE reg_models SET namespace = ?2 WHERE name = ?1",
};

static sqlite3_stmt *Q(store *st, int i, mp_err *e) {
    return store__ext_stmt(st, STORE__EXT_NAMESPACES, sql_text, N__COUNT, i, "namespaces", e);
}

/* An experiment id is a decimal integer; anything else names no experiment. */
static bool exp_id(const char *id, int64_t *n) {
    char *end = NULL;
    if (!id || !*id) return false;
    long long v = strtoll(id, &end, 10);
    *n = v;
    return end && !*end && v >= 0;
}

static int read_one(store *st, sqlite3_stmt *q, const char *what, const char *key, char *ns, size_t n, mp_err *e) {
    int rc = sqlite3_step(q);
    int out = 0;
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(q, 0);
        mp_strlcpy(ns, v && *v ? v : "default", n);
    } else if (rc == SQLITE_DONE) {
        out = mp_err_set(e, MP_ENOENT, "no %s %s", what, key);
    } else {
        store__save_err(st);
        out = store__fail(st, e, rc, "cannot read the namespace of %s %s", what, key);
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return out;
}

int store__experiment_namespace(store *st, const char *id, char *ns, size_t n, mp_err *e) {
    int64_t v = 0;
    if (!exp_id(id, &v)) return mp_err_set(e, MP_ENOENT, "no experiment %s", id ? id : "");
    sqlite3_stmt *q = Q(st, N_EXP_GET, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_int64(q, 1, v);
    return read_one(st, q, "experiment", id, ns, n, e);
}

int store__run_namespace(store *st, const char *run_id, char *ns, size_t n, mp_err *e) {
    sqlite3_stmt *q = Q(st, N_RUN_GET, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, run_id ? run_id : "", -1, SQLITE_STATIC);
    return read_one(st, q, "run", run_id ? run_id : "", ns, n, e);
}

int store__model_namespace(store *st, const char *name, char *ns, size_t n, mp_err *e) {
    sqlite3_stmt *q = Q(st, N_MODEL_GET, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name ? name : "", -1, SQLITE_STATIC);
    return read_one(st, q, "registered model", name ? name : "", ns, n, e);
}

static int set_one(store *st, sqlite3_stmt *q, const char *what, const char *key, mp_err *e) {
    int rc = store__write(st, q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot set the namespace of %s %s", what, key);
    if (store__changes(st) == 0) return mp_err_set(e, MP_ENOENT, "no %s %s", what, key);
    return 0;
}

int store__experiment_set_namespace(store *st, const char *id, const char *ns, mp_err *e) {
    int64_t v = 0;
    if (!exp_id(id, &v)) return mp_err_set(e, MP_ENOENT, "no experiment %s", id ? id : "");
    sqlite3_stmt *q = Q(st, N_EXP_SET, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_int64(q, 1, v);
    sqlite3_bind_text(q, 2, ns && *ns ? ns : "default", -1, SQLITE_STATIC);
    return set_one(st, q, "experiment", id, e);
}

int store__model_set_namespace(store *st, const char *name, const char *ns, mp_err *e) {
    sqlite3_stmt *q = Q(st, N_MODEL_SET, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ns && *ns ? ns : "default", -1, SQLITE_STATIC);
    return set_one(st, q, "registered model", name ? name : "", e);
}
