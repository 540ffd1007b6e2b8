/* workload.c — the workloads table: what each ready or running step of every run
 * on this machine asks for (pending) or has been given (admitted: cpu, memory,
 * GPUs and which devices, nodes), with the process that owns it, and the
 * scheduler lease. Several `mlplane run` processes (and the runs a server spawns)
 * read it inside their write transaction before starting a step, so admission is
 * serialised by SQLite's write lock and the machine is never oversubscribed.
 * Workloads of a dead owner are left for the scheduler to ignore (it checks the
 * owner's pid and start time) and are removed by resume and cancel.
 * Thread-safety: as the store, one connection per thread; the prepared
 * statements live in the connection's STORE__EXT_WORKLOADS slot. */
#include "store/sqlite/sqlite_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* v4 (as it was: the table is renamed workloads by v10). */
const char store__schema_holds[] =
    "CREATE TABLE holds ("
    "  run_id TEXT NOT NULL,"
    "  step TEXT NOT NULL,"
    "  cpu_milli INTEGER NOT NULL DEFAULT 0,"
    "  memory_bytes INTEGER NOT NULL DEFAULT 0,"
    "  gpu INTEGER NOT NULL DEFAULT 0,"
    "  gpu_devices INTEGER NOT NULL DEFAULT 0,"
    "  owner_pid INTEGER NOT NULL DEFAULT 0,"
    "  owner_start INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (run_id, step));";

/* v5: a held row becomes a workload as the scheduler sees it: pending ones too, with
 * priority, queue, request, placement, and the preemption asked of it. */
const char store__schema_workloads[] =
    "ALTER TABLE holds ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE holds ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE holds ADD COLUMN queue TEXT;"
    "ALTER TABLE holds ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE holds ADD COLUMN started_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE holds ADD COLUMN limit_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE holds ADD COLUMN request TEXT;"
    "ALTER TABLE holds ADD COLUMN nodes TEXT;"
    "ALTER TABLE holds ADD COLUMN flavors TEXT;"
    "ALTER TABLE holds ADD COLUMN evict TEXT;"
    "ALTER TABLE holds ADD COLUMN reason TEXT;"
    "CREATE TABLE sched_sources ("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL,"
    "  text TEXT NOT NULL,"
    "  applied_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE sched_objects ("
    "  kind TEXT NOT NULL,"
    "  namespace TEXT NOT NULL DEFAULT '',"
    "  name TEXT NOT NULL,"
    "  source_id INTEGER NOT NULL REFERENCES sched_sources(id),"
    "  applied_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (kind, namespace, name));"
    "CREATE INDEX holds_pending ON holds(pending);"
    "CREATE TABLE sched_lease ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  owner_pid INTEGER NOT NULL,"
    "  owner_start INTEGER NOT NULL,"
    "  renewed_ms INTEGER NOT NULL);";

enum { W_PUT, W_DELETE_STEP, W_DELETE_RUN, W_LIST, W_EVICT, W_LIST_RUN, W_LEASE_GET, W_LEASE_PUT, W_LEASE_DEL,
       W__COUNT };

static const char *const sql_text[W__COUNT] = {
    [W_PUT] = "INSERT OR REPLACE INTO workloads (run_id, step, cpu_milli, memory_bytes, gpu, gpu_devices, owner_pid, "
              "owner_start, pending, priority, queue, created_ms, started_ms, limit_ms, request, nodes, flavors, evict, "
              "reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    [W_DELETE_STEP] = "DELETE FROM workloads WHERE run_id = ?1 AND step = ?2",
    [W_DELETE_RUN] = "DELETE FROM workloads WHERE run_id = ?1",
    [W_LIST] = "SELECT run_id, step, cpu_milli, memory_bytes, gpu, gpu_devices, owner_pid, owner_start, pending, "
               "priority, queue, created_ms, started_ms, limit_ms, request, nodes, flavors, evict, reason FROM workloads "
               "ORDER BY run_id, step",
    [W_LIST_RUN] = "SELECT run_id, step, cpu_milli, memory_bytes, gpu, gpu_devices, owner_pid, owner_start, pending, "
                   "priority, queue, created_ms, started_ms, limit_ms, request, nodes, flavors, evict, reason FROM workloads "
                   "WHERE run_id = ?1 ORDER BY step",
    [W_LEASE_GET] = "SELECT owner_pid, owner_start, renewed_ms FROM sched_lease WHERE id = 1",
    [W_LEASE_PUT] = "INSERT OR REPLACE INTO sched_lease (id, owner_pid, owner_start, renewed_ms) VALUES (1, ?1, ?2, ?3)",
    [W_LEASE_DEL] = "DELETE FROM sched_lease WHERE owner_pid = ?1 AND owner_start = ?2",
    [W_EVICT] = "UPDATE workloads SET evict = ?3 WHERE run_id = ?1 AND step = ?2 AND evict IS NULL",
};

static sqlite3_stmt *Q(store *st, int i, mp_err *e) {
    return store__ext_stmt(st, STORE__EXT_WORKLOADS, sql_text, W__COUNT, i, "workloads", e);
}

static int sq_workload_put(store *st, const store_workload *h, mp_err *e) {
    sqlite3_stmt *q = Q(st, W_PUT, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, h->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, h->step, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, h->cpu_milli);
    sqlite3_bind_int64(q, 4, h->memory_bytes);
    sqlite3_bind_int64(q, 5, h->gpu);
    sqlite3_bind_int64(q, 6, (sqlite3_int64)h->gpu_devices);
    sqlite3_bind_int(q, 7, h->owner_pid);
    sqlite3_bind_int64(q, 8, h->owner_start);
    sqlite3_bind_int(q, 9, h->pending);
    sqlite3_bind_int(q, 10, h->priority);
    sqlite3_bind_text(q, 11, h->queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 12, h->created_ms);
    sqlite3_bind_int64(q, 13, h->started_ms);
    sqlite3_bind_int64(q, 14, h->limit_ms);
    sqlite3_bind_text(q, 15, h->request, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 16, h->nodes, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 17, h->flavors, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 18, h->evict, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 19, h->reason, -1, SQLITE_STATIC);
    int rc = store__write(st, q);
    if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot record what step \"%s\" holds", h->step);
    return 0;
}

static int sq_workload_delete(store *st, const char *run_id, const char *step, mp_err *e) {
    sqlite3_stmt *q = Q(st, step ? W_DELETE_STEP : W_DELETE_RUN, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, run_id, -1, SQLITE_STATIC);
    if (step) sqlite3_bind_text(q, 2, step, -1, SQLITE_STATIC);
    int rc = store__write(st, q);
    if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot release what run \"%s\" holds", run_id);
    return 0;
}

static int sq_workload_evict(store *st, const char *run_id, const char *step, const char *why, mp_err *e) {
    sqlite3_stmt *q = Q(st, W_EVICT, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, step, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, why, -1, SQLITE_STATIC);
    int rc = store__write(st, q);
    if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot ask step \"%s\" of run %s to yield", step, run_id);
    return 0;
}

static void read_workload(sqlite3_stmt *q, void *elem) {
    *(store_workload *)elem = (store_workload){.run_id = store__col_str(q, 0),
                                               .step = store__col_str(q, 1),
                                               .cpu_milli = sqlite3_column_int64(q, 2),
                                               .memory_bytes = sqlite3_column_int64(q, 3),
                                               .gpu = sqlite3_column_int64(q, 4),
                                               .gpu_devices = (uint64_t)sqlite3_column_int64(q, 5),
                                               .owner_pid = sqlite3_column_int(q, 6),
                                               .owner_start = sqlite3_column_int64(q, 7),
                                               .pending = sqlite3_column_int(q, 8) != 0,
                                               .priority = sqlite3_column_int(q, 9),
                                               .queue = store__col_str(q, 10),
                                               .created_ms = sqlite3_column_int64(q, 11),
                                               .started_ms = sqlite3_column_int64(q, 12),
                                               .limit_ms = sqlite3_column_int64(q, 13),
                                               .request = store__col_str(q, 14),
                                               .nodes = store__col_str(q, 15),
                                               .flavors = store__col_str(q, 16),
                                               .evict = store__col_str(q, 17),
                                               .reason = store__col_str(q, 18)};
}

static void free_workloads(void *v, size_t n) { store_workload_array_free(v, n); }

static int list(store *st, sqlite3_stmt *q, store_workload **out, size_t *n, mp_err *e) {
    return store__list(st, q, sizeof **out, read_workload, free_workloads, "workloads", (void **)out, n, e);
}

static int sq_workload_list(store *st, store_workload **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = Q(st, W_LIST, e);
    return q ? list(st, q, out, n, e) : MP_ESTORE;
}

static int sq_workload_list_run(store *st, const char *run_id, store_workload **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = Q(st, W_LIST_RUN, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, run_id, -1, SQLITE_STATIC);
    return list(st, q, out, n, e);
}

static int sq_lease_take(store *st, int pid, int64_t start, int64_t now_ms, bool (*alive)(int pid, int64_t start),
                      bool *held, mp_err *e) {
    assert(store__in_tx(st)); /* taken and acted on in one transaction */
    *held = false;
    sqlite3_stmt *q = Q(st, W_LEASE_GET, e);
    if (!q) return MP_ESTORE;
    int rc = sqlite3_step(q);
    bool free_ = true;
    if (rc == SQLITE_ROW) {
        int opid = sqlite3_column_int(q, 0);
        int64_t ostart = sqlite3_column_int64(q, 1);
        free_ = (opid == pid && ostart == start) || !alive(opid, ostart);
    } else if (rc != SQLITE_DONE) {
        store__save_err(st);
        sqlite3_reset(q);
        return store__fail(st, e, rc, "cannot read the scheduler lease");
    }
    sqlite3_reset(q);
    if (!free_) return 0;
    if (!(q = Q(st, W_LEASE_PUT, e))) return MP_ESTORE;
    sqlite3_bind_int(q, 1, pid);
    sqlite3_bind_int64(q, 2, start);
    sqlite3_bind_int64(q, 3, now_ms);
    rc = store__write(st, q);
    if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot take the scheduler lease");
    *held = true;
    return 0;
}

static int sq_lease_release(store *st, int pid, int64_t start, mp_err *e) {
    sqlite3_stmt *q = Q(st, W_LEASE_DEL, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_int(q, 1, pid);
    sqlite3_bind_int64(q, 2, start);
    int rc = store__write(st, q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot release the scheduler lease");
}

int64_t store__data_version(store *st) {
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(store__db(st), "PRAGMA data_version", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

const store_workload_methods store__sqlite_workload = {
    .workload_put = sq_workload_put,
    .workload_delete = sq_workload_delete,
    .workload_list = sq_workload_list,
    .workload_evict = sq_workload_evict,
    .workload_list_run = sq_workload_list_run,
    .lease_take = sq_lease_take,
    .lease_release = sq_lease_release,
};
