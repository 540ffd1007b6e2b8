/* lineage.c — `st->m->artifact_put` and `artifact_list`: the step_artifacts table
 * (its own migration), what each step of a run read and wrote, by content hash, so that
 * `mlplane lineage` can walk from a registered version to the data it came from
 * and back. A few rows per step, written in the engine's transaction; the
 * statements are prepared per call (as rundel.c's). Thread-safety: as the store. */
#include "store/sqlite/sqlite_int.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#define COLS "run_id, step, output, name, hash, path, source, from_step, time_ms"

static void bind_opt(sqlite3_stmt *q, int i, const char *s) {
    if (s) sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(q, i);
}

int store__artifact_put(store *st, const store_step_artifact *a, mp_err *e) {
    if (!a->run_id || !a->step || !a->name || !a->hash)
        return mp_err_set(e, MP_EINVAL, "store: a step artifact needs a run, a step, a name and a hash");
    sqlite3_stmt *q = NULL;
    int src = sqlite3_prepare_v2(store__db(st), "INSERT OR REPLACE INTO step_artifacts (" COLS
                                                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                                 -1, &q, NULL);
    if (src != SQLITE_OK) {
        store__save_err(st);
        return store__fail(st, e, src, "cannot record the artifacts of step %s of run %s", a->step, a->run_id);
    }
    sqlite3_bind_text(q, 1, a->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, a->step, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, a->output ? 1 : 0);
    sqlite3_bind_text(q, 4, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, a->hash, -1, SQLITE_STATIC);
    bind_opt(q, 6, a->path);
    bind_opt(q, 7, a->source);
    bind_opt(q, 8, a->from_step);
    sqlite3_bind_int64(q, 9, a->time_ms);
    src = store__write(st, q);
    int rc = src == SQLITE_DONE ? 0
                                : store__fail(st, e, src, "cannot record the artifacts of step %s of run %s", a->step,
                                              a->run_id);
    sqlite3_finalize(q);
    return rc;
}

static void read_row(sqlite3_stmt *q, void *elem) {
    store_step_artifact *a = elem;
    a->run_id = store__col_str(q, 0);
    a->step = store__col_str(q, 1);
    a->output = sqlite3_column_int(q, 2) != 0;
    a->name = store__col_str(q, 3);
    a->hash = store__col_str(q, 4);
    a->path = store__col_str(q, 5);
    a->source = store__col_str(q, 6);
    a->from_step = store__col_str(q, 7);
    a->time_ms = sqlite3_column_int64(q, 8);
}

static void free_arr(void *v, size_t n) { store_step_artifact_array_free(v, n); }

static bool hex_prefix(const char *h) {
    size_t n = strlen(h);
    if (n < 8 || n > 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return false;
    return true;
}

int store__artifact_list(store *st, const char *run_id, const char *hash, store_step_artifact **out, size_t *n,
                         mp_err *e) {
    *out = NULL;
    *n = 0;
    if (!run_id && (!hash || !hex_prefix(hash)))
        return mp_err_set(e, MP_EINVAL, "artifact hash \"%s\": give 8 to 64 lowercase hex digits of a SHA-256",
                          hash ? hash : "");
    sqlite3_stmt *q = NULL;
    const char *sql = run_id ? "SELECT " COLS " FROM step_artifacts WHERE run_id = ?1 ORDER BY step, output, name"
                             : "SELECT " COLS " FROM step_artifacts WHERE hash GLOB ?1 || '*' "
                               "ORDER BY time_ms, run_id, step, output, name";
    int src = sqlite3_prepare_v2(store__db(st), sql, -1, &q, NULL);
    if (src != SQLITE_OK) {
        store__save_err(st);
        return store__fail(st, e, src, "cannot list step artifacts");
    }
    sqlite3_bind_text(q, 1, run_id ? run_id : hash, -1, SQLITE_STATIC);
    int rc = store__list(st, q, sizeof **out, read_row, free_arr, "step artifacts", (void **)out, n, e);
    sqlite3_finalize(q);
    return rc;
}
