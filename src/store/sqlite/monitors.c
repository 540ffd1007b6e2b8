/* monitors.c — what the SQLite store keeps for Monitors (`kind: Monitor`) besides
 * their applied text: each check's result (monitor_checks, the last
 * STORE_MONITOR_CHECKS_MAX per monitor) and the state their actions carry from
 * one check to the next (monitor_states, a JSON object's text the store does not
 * read). Their events share deployment_events (objects.c) under "monitor/NAME".
 * Thread-safety: as the store, one connection per thread; the prepared statements
 * live in the connection's STORE__EXT_MONITORS slot. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

enum { M_ADD, M_TRIM, M_LIST, M_CLEAR, M_ST_GET, M_ST_PUT, M_ST_CLEAR, M__COUNT };

static const char *const sql_text[M__COUNT] = {
    [M_ADD] = "INSERT INTO monitor_checks (monitor, time_ms, status, message, version, n_ref, n_cur, ncolumns, "
              "ndrifted, share, result_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [M_TRIM] = "DELETE FROM monitor_checks WHERE monitor = ?1 AND id NOT IN (SELECT id FROM monitor_checks "
               "WHERE monitor = ?1 ORDER BY id DESC LIMIT ?2)",
    [M_LIST] = "SELECT id, monitor, time_ms, status, message, version, n_ref, n_cur, ncolumns, ndrifted, share, "
               "result_json FROM monitor_checks WHERE monitor = ?1 ORDER BY id DESC LIMIT ?2",
    [M_CLEAR] = "DELETE FROM monitor_checks WHERE monitor = ?1",
    [M_ST_GET] = "SELECT state_json FROM monitor_states WHERE name = ?1",
    [M_ST_PUT] = "INSERT OR REPLACE INTO monitor_states (name, state_json, updated_ms) VALUES (?1, ?2, ?3)",
    [M_ST_CLEAR] = "DELETE FROM monitor_states WHERE name = ?1",
};

static sqlite3_stmt *Q(store *st, int i, mp_err *e) {
    return store__ext_stmt(st, STORE__EXT_MONITORS, sql_text, M__COUNT, i, "monitors", e);
}

static void bind_opt(sqlite3_stmt *q, int i, const char *s) {
    if (s) sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(q, i);
}

int store__monitor_check_add(store *st, store_monitor_check *c, mp_err *e) {
    bool own = !store__in_tx(st); /* the insert and the trim commit together */
    if (own && st->m->begin(st, e) != 0) return MP_ESTORE;
    int rc = 0;
    sqlite3_stmt *q = Q(st, M_ADD, e);
    if (!q) rc = MP_ESTORE;
    if (q) {
        sqlite3_bind_text(q, 1, c->monitor, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, c->time_ms ? c->time_ms : mp_now_ms());
        sqlite3_bind_text(q, 3, c->status ? c->status : "Failed", -1, SQLITE_STATIC);
        bind_opt(q, 4, c->message);
        bind_opt(q, 5, c->version);
        sqlite3_bind_int64(q, 6, c->n_ref);
        sqlite3_bind_int64(q, 7, c->n_cur);
        sqlite3_bind_int(q, 8, c->ncolumns);
        sqlite3_bind_int(q, 9, c->ndrifted);
        sqlite3_bind_double(q, 10, c->share);
        bind_opt(q, 11, c->result_json);
        int src = store__write(st, q);
        if (src != SQLITE_DONE) rc = store__fail(st, e, src, "cannot record a check of monitor %s", c->monitor);
        else c->id = sqlite3_last_insert_rowid(store__db(st));
    }
    if (rc == 0 && (q = Q(st, M_TRIM, e)) != NULL) {
        sqlite3_bind_text(q, 1, c->monitor, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 2, STORE_MONITOR_CHECKS_MAX);
        int src = store__write(st, q);
        if (src != SQLITE_DONE) rc = store__fail(st, e, src, "cannot trim the checks of monitor %s", c->monitor);
    } else if (rc == 0) {
        rc = MP_ESTORE;
    }
    if (!own) return rc;
    if (rc == 0) return st->m->commit(st, e);
    st->m->rollback(st);
    return rc;
}

static void read_check(sqlite3_stmt *q, void *elem) {
    *(store_monitor_check *)elem = (store_monitor_check){
        .id = sqlite3_column_int64(q, 0),      .monitor = store__col_str(q, 1),
        .time_ms = sqlite3_column_int64(q, 2), .status = store__col_str(q, 3),
        .message = store__col_str(q, 4),       .version = store__col_str(q, 5),
        .n_ref = sqlite3_column_int64(q, 6),   .n_cur = sqlite3_column_int64(q, 7),
        .ncolumns = sqlite3_column_int(q, 8),  .ndrifted = sqlite3_column_int(q, 9),
        .share = sqlite3_column_double(q, 10), .result_json = store__col_str(q, 11)};
}

static void free_checks(void *v, size_t n) { store_monitor_check_array_free(v, n); }

int store__monitor_check_list(store *st, const char *monitor, int limit, store_monitor_check **out, size_t *n,
                              mp_err *e) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = Q(st, M_LIST, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, monitor, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, limit > 0 ? limit : -1);
    return store__list(st, q, sizeof **out, read_check, free_checks, "the checks of a monitor", (void **)out, n, e);
}

int store__monitor_state_get(store *st, const char *monitor, char **json, mp_err *e) {
    *json = NULL;
    sqlite3_stmt *q = Q(st, M_ST_GET, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, monitor, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *json = store__col_str(q, 0);
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) store__save_err(st);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot read the state of monitor %s", monitor);
}

int store__monitor_state_put(store *st, const char *monitor, const char *json, mp_err *e) {
    sqlite3_stmt *q = Q(st, M_ST_PUT, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, monitor, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, mp_now_ms());
    int rc = store__write(st, q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot record the state of monitor %s", monitor);
}

int store__monitor_checks_clear(store *st, const char *monitor, mp_err *e) {
    static const int clears[] = {M_CLEAR, M_ST_CLEAR};
    for (size_t i = 0; i < sizeof clears / sizeof clears[0]; i++) {
        sqlite3_stmt *q = Q(st, clears[i], e);
        if (!q) return MP_ESTORE;
        sqlite3_bind_text(q, 1, monitor, -1, SQLITE_STATIC);
        int rc = store__write(st, q);
        if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot forget the checks of monitor %s", monitor);
    }
    return 0;
}
