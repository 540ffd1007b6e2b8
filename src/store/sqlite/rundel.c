/* rundel.c — removing a pipeline run from the SQLite store (`mlplane delete
 * run`): its rows in every table keyed by its id, the MLflow run of the same id
 * included, in one transaction. Registered model versions are kept (a version's
 * run_id may name a run that is gone, as in MLflow). Deleting is rare, so the
 * statements are prepared per call. Thread-safety: as the store. */
#include "store/sqlite/sqlite_int.h"
#include "store/store.h"

static const char *const deletes[] = {
    "DELETE FROM mlflow_input_tags WHERE run_uuid = ?1",
    "DELETE FROM mlflow_inputs WHERE run_uuid = ?1",
    "DELETE FROM mlflow_tags WHERE run_uuid = ?1",
    "DELETE FROM mlflow_params WHERE run_uuid = ?1",
    "DELETE FROM mlflow_latest_metrics WHERE run_uuid = ?1",
    "DELETE FROM mlflow_metrics WHERE run_uuid = ?1",
    "DELETE FROM mlflow_runs WHERE run_uuid = ?1",
    "DELETE FROM cache WHERE run_id = ?1",
    "DELETE FROM step_artifacts WHERE run_id = ?1",
    "DELETE FROM workloads WHERE run_id = ?1",
    "DELETE FROM events WHERE run_id = ?1",
    "DELETE FROM metrics WHERE run_id = ?1",
    "DELETE FROM steps WHERE run_id = ?1",
    "DELETE FROM runs WHERE id = ?1",
};

int store__run_delete(store *st, const char *id, mp_err *e) {
    bool own = !store__in_tx(st);
    if (own && st->m->begin(st, e) != 0) return MP_ESTORE;
    int rc = 0;
    int64_t gone = 0;
    for (size_t i = 0; i < sizeof deletes / sizeof deletes[0] && rc == 0; i++) {
        sqlite3_stmt *q = NULL;
        int src = sqlite3_prepare_v2(store__db(st), deletes[i], -1, &q, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
            src = store__write(st, q);
        } else {
            store__save_err(st);
        }
        if (src != SQLITE_DONE) rc = store__fail(st, e, src, "cannot delete run %s", id);
        else if (i == sizeof deletes / sizeof deletes[0] - 1) gone = store__changes(st);
        sqlite3_finalize(q);
    }
    if (rc == 0 && gone == 0) rc = mp_err_set(e, MP_ENOENT, "run %s not found", id);
    if (own && rc == 0) rc = st->m->commit(st, e);
    else if (own) st->m->rollback(st);
    return rc;
}
