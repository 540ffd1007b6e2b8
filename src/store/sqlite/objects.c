/* objects.c — scheduler objects applied to the store (`mlplane apply`):
 * PriorityClasses, Nodes, NodePools, ResourceFlavors, ClusterQueues and
 * LocalQueues, and Deployments with their rollout state and the running state
 * and events mlplane server records for them (deployment_states,
 * deployment_events; a Monitor's events too, under "monitor/NAME"). The store keeps each applied file's text once (sched_sources) and,
 * per object name, which source defines it (sched_objects); readers re-parse the
 * sources with the spec layer, so the store never needs to understand YAML.
 * Thread-safety: as the store, one connection per thread; the prepared
 * statements live in the connection's STORE__EXT_OBJECTS slot. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

enum {
    O_SOURCE_ADD, O_PUT, O_DELETE, O_GC, O_LIST, O_SOURCES, O_RO_GET, O_RO_SET, O_RO_CLEAR,
    O_DS_PUT, O_DS_GET, O_DS_CLEAR, O_DE_BUMP, O_DE_ADD, O_DE_TRIM, O_DE_LIST, O_DE_CLEAR, O__COUNT
};

static const char *const sql_text[O__COUNT] = {
    [O_SOURCE_ADD] = "INSERT INTO sched_sources (path, text, applied_ms) VALUES (?1, ?2, ?3)",
    [O_PUT] = "INSERT OR REPLACE INTO sched_objects (kind, namespace, name, source_id, applied_ms) "
              "VALUES (?1, ?2, ?3, ?4, ?5)",
    [O_DELETE] = "DELETE FROM sched_objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
    [O_GC] = "DELETE FROM sched_sources WHERE id NOT IN (SELECT source_id FROM sched_objects)",
    [O_LIST] = "SELECT kind, namespace, name, source_id, applied_ms FROM sched_objects "
               "ORDER BY kind, namespace, name",
    [O_SOURCES] = "SELECT id, path, text FROM sched_sources WHERE id IN (SELECT source_id FROM sched_objects) "
                  "ORDER BY id",
    [O_RO_GET] = "SELECT canary_percent FROM rollouts WHERE name = ?1",
    [O_RO_SET] = "INSERT OR REPLACE INTO rollouts (name, canary_percent, updated_ms) VALUES (?1, ?2, ?3)",
    [O_RO_CLEAR] = "DELETE FROM rollouts WHERE name = ?1",
    [O_DS_PUT] = "INSERT OR REPLACE INTO deployment_states (name, state, message, last_error, restarts, pid, owner_pid, "
                 "owner_start, started_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [O_DS_GET] = "SELECT name, state, message, last_error, restarts, pid, owner_pid, owner_start, started_ms, updated_ms "
                 "FROM deployment_states WHERE name = ?1",
    [O_DS_CLEAR] = "DELETE FROM deployment_states WHERE name = ?1",
    [O_DE_BUMP] = "UPDATE deployment_events SET count = count + 1, last_ms = ?4 "
                  "WHERE name = ?1 AND type = ?2 AND message = ?3",
    [O_DE_ADD] = "INSERT INTO deployment_events (name, type, message, count, first_ms, last_ms) VALUES (?1, ?2, ?3, 1, ?4, ?4)",
    [O_DE_TRIM] = "DELETE FROM deployment_events WHERE name = ?1 AND id NOT IN (SELECT id FROM deployment_events "
                  "WHERE name = ?1 ORDER BY last_ms DESC, id DESC LIMIT ?2)",
    [O_DE_LIST] = "SELECT type, message, count, first_ms, last_ms FROM deployment_events WHERE name = ?1 "
                  "ORDER BY last_ms, id",
    [O_DE_CLEAR] = "DELETE FROM deployment_events WHERE name = ?1",
};

static sqlite3_stmt *Q(store *st, int i, mp_err *e) {
    return store__ext_stmt(st, STORE__EXT_OBJECTS, sql_text, O__COUNT, i, "scheduler objects", e);
}

static int gc(store *st, mp_err *e) {
    sqlite3_stmt *q = Q(st, O_GC, e);
    if (!q) return MP_ESTORE;
    int rc = store__write(st, q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot delete unused scheduler object sources");
}

static int sq_object_apply(store *st, const char *path, const char *text, const store_object *objs, size_t n,
                        mp_err *e) {
    sqlite3_stmt *q = Q(st, O_SOURCE_ADD, e);
    if (!q) return MP_ESTORE;
    int64_t now = mp_now_ms();
    sqlite3_bind_text(q, 1, path ? path : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, text ? text : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, now);
    int rc = store__write(st, q);
    if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot store the objects of %s", path ? path : "?");
    int64_t id = sqlite3_last_insert_rowid(store__db(st));
    for (size_t i = 0; i < n; i++) {
        if (!(q = Q(st, O_PUT, e))) return MP_ESTORE;
        sqlite3_bind_text(q, 1, objs[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, objs[i].namespace_ ? objs[i].namespace_ : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, objs[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, id);
        sqlite3_bind_int64(q, 5, now);
        rc = store__write(st, q);
        if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot store %s %s", objs[i].kind, objs[i].name);
    }
    return gc(st, e);
}

static int sq_object_delete(store *st, const char *kind, const char *ns, const char *name, mp_err *e) {
    sqlite3_stmt *q = Q(st, O_DELETE, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ns ? ns : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, name, -1, SQLITE_STATIC);
    int rc = store__write(st, q);
    if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot delete %s %s", kind, name);
    if (store__changes(st) == 0) return mp_err_set(e, MP_ENOENT, "%s \"%s\" is not applied", kind, name);
    return gc(st, e);
}

static void read_object(sqlite3_stmt *q, void *elem) {
    *(store_object *)elem = (store_object){.kind = store__col_str(q, 0), .namespace_ = store__col_str(q, 1),
                                           .name = store__col_str(q, 2), .source_id = sqlite3_column_int64(q, 3),
                                           .applied_ms = sqlite3_column_int64(q, 4)};
}

static void free_objects(void *v, size_t n) { store_object_array_free(v, n); }

static int sq_object_list(store *st, store_object **out, size_t *n, mp_err *e) {
    sqlite3_stmt *q = Q(st, O_LIST, e);
    if (!q) return MP_ESTORE;
    return store__list(st, q, sizeof **out, read_object, free_objects, "scheduler objects", (void **)out, n, e);
}

static void read_source(sqlite3_stmt *q, void *elem) {
    *(store_source *)elem =
        (store_source){.id = sqlite3_column_int64(q, 0), .path = store__col_str(q, 1), .text = store__col_str(q, 2)};
}

static void free_sources(void *v, size_t n) { store_source_array_free(v, n); }

static int sq_source_list(store *st, store_source **out, size_t *n, mp_err *e) {
    sqlite3_stmt *q = Q(st, O_SOURCES, e);
    if (!q) return MP_ESTORE;
    return store__list(st, q, sizeof **out, read_source, free_sources, "scheduler object sources", (void **)out, n, e);
}

static int sq_rollout_get(store *st, const char *name, int *percent, bool *found, mp_err *e) {
    *found = false;
    sqlite3_stmt *q = Q(st, O_RO_GET, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *found = true;
        *percent = sqlite3_column_int(q, 0);
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) store__save_err(st);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot read the rollout of deployment %s", name);
}

static int sq_rollout_set(store *st, const char *name, int percent, mp_err *e) {
    sqlite3_stmt *q = Q(st, percent < 0 ? O_RO_CLEAR : O_RO_SET, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (percent >= 0) {
        sqlite3_bind_int(q, 2, percent);
        sqlite3_bind_int64(q, 3, mp_now_ms());
    }
    int rc = store__write(st, q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot record the rollout of deployment %s", name);
}

/* ---- Deployments' running state and events ------------------------------------------------ */

static void bind_opt(sqlite3_stmt *q, int i, const char *s) {
    if (s) sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(q, i);
}

static int sq_deploy_state_put(store *st, const store_deploy_state *ds, mp_err *e) {
    sqlite3_stmt *q = Q(st, O_DS_PUT, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, ds->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ds->state ? ds->state : "Stopped", -1, SQLITE_STATIC);
    bind_opt(q, 3, ds->message);
    bind_opt(q, 4, ds->last_error);
    sqlite3_bind_int(q, 5, ds->restarts);
    sqlite3_bind_int(q, 6, ds->pid);
    sqlite3_bind_int(q, 7, ds->owner_pid);
    sqlite3_bind_int64(q, 8, ds->owner_start);
    sqlite3_bind_int64(q, 9, ds->started_ms);
    sqlite3_bind_int64(q, 10, ds->updated_ms ? ds->updated_ms : mp_now_ms());
    int rc = store__write(st, q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot record the state of deployment %s", ds->name);
}

static int sq_deploy_state_get(store *st, const char *name, store_deploy_state *out, bool *found, mp_err *e) {
    memset(out, 0, sizeof *out);
    *found = false;
    sqlite3_stmt *q = Q(st, O_DS_GET, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *found = true;
        *out = (store_deploy_state){.name = store__col_str(q, 0), .state = store__col_str(q, 1), .message = store__col_str(q, 2),
                                    .last_error = store__col_str(q, 3), .restarts = sqlite3_column_int(q, 4),
                                    .pid = sqlite3_column_int(q, 5), .owner_pid = sqlite3_column_int(q, 6),
                                    .owner_start = sqlite3_column_int64(q, 7), .started_ms = sqlite3_column_int64(q, 8),
                                    .updated_ms = sqlite3_column_int64(q, 9)};
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) store__save_err(st);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot read the state of deployment %s", name);
}

/* Binds name, type, message and now to ?1..?4 of statement i and writes it. */
static int event_write(store *st, int i, const char *name, const char *type, const char *message, int64_t now,
                       mp_err *e) {
    sqlite3_stmt *q = Q(st, i, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, message ? message : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, now);
    int rc = store__write(st, q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot record an event of deployment %s", name);
}

static int sq_deploy_event_add(store *st, const char *name, const char *type, const char *message, mp_err *e) {
    bool own = !store__in_tx(st); /* the three statements commit together */
    if (own && st->m->begin(st, e) != 0) return MP_ESTORE;
    int64_t now = mp_now_ms();
    int rc = event_write(st, O_DE_BUMP, name, type, message, now, e);
    if (rc == 0 && store__changes(st) == 0) rc = event_write(st, O_DE_ADD, name, type, message, now, e);
    if (rc == 0) {
        sqlite3_stmt *q = Q(st, O_DE_TRIM, e);
        if (!q) rc = MP_ESTORE;
        if (q) {
            sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_int(q, 2, STORE_DEPLOY_EVENTS_MAX);
            int src = store__write(st, q);
            if (src != SQLITE_DONE) rc = store__fail(st, e, src, "cannot trim the events of deployment %s", name);
        }
    }
    if (!own) return rc;
    if (rc == 0) return st->m->commit(st, e);
    st->m->rollback(st);
    return rc;
}

static void read_event(sqlite3_stmt *q, void *elem) {
    store_deploy_event *ev = elem;
    *ev = (store_deploy_event){.type = store__col_str(q, 0), .message = store__col_str(q, 1), .count = sqlite3_column_int(q, 2),
                               .first_ms = sqlite3_column_int64(q, 3), .last_ms = sqlite3_column_int64(q, 4)};
}

static int sq_deploy_event_list(store *st, const char *name, store_deploy_event **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = Q(st, O_DE_LIST, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    void *v = NULL;
    size_t len = 0;
    int rc = store__collect(q, sizeof(store_deploy_event), read_event, &v, &len);
    if (rc != SQLITE_DONE) store__save_err(st);
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        store_deploy_event_array_free(v, len);
        return store__fail(st, e, rc, "cannot list the events of deployment %s", name);
    }
    *out = v;
    *n = len;
    return 0;
}

static int sq_deploy_state_clear(store *st, const char *name, mp_err *e) {
    static const int clears[] = {O_DS_CLEAR, O_DE_CLEAR};
    for (size_t i = 0; i < sizeof clears / sizeof clears[0]; i++) {
        sqlite3_stmt *q = Q(st, clears[i], e);
        if (!q) return MP_ESTORE;
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        int rc = store__write(st, q);
        if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot forget the state of deployment %s", name);
    }
    return 0;
}

/* ---- Monitors (their checks and states in monitors.c) ------------------------------------ */

static char *monitor_key(const char *monitor) { return mp_xasprintf("monitor/%s", monitor); }

static int sq_monitor_event_add(store *st, const char *monitor, const char *type, const char *message, mp_err *e) {
    char *key = monitor_key(monitor);
    int rc = sq_deploy_event_add(st, key, type, message, e);
    free(key);
    return rc;
}

static int sq_monitor_event_list(store *st, const char *monitor, store_deploy_event **out, size_t *n, mp_err *e) {
    char *key = monitor_key(monitor);
    int rc = sq_deploy_event_list(st, key, out, n, e);
    free(key);
    return rc;
}

static int sq_monitor_clear(store *st, const char *monitor, mp_err *e) {
    char *key = monitor_key(monitor);
    int rc = 0;
    sqlite3_stmt *q = Q(st, O_DE_CLEAR, e);
    if (!q) rc = MP_ESTORE;
    if (q) {
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        int src = store__write(st, q);
        if (src != SQLITE_DONE) rc = store__fail(st, e, src, "cannot forget the events of monitor %s", monitor);
    }
    free(key);
    return rc ? rc : store__monitor_checks_clear(st, monitor, e);
}

const store_object_methods store__sqlite_objects = {
    .object_apply = sq_object_apply,
    .object_delete = sq_object_delete,
    .object_list = sq_object_list,
    .source_list = sq_source_list,
    .rollout_get = sq_rollout_get,
    .rollout_set = sq_rollout_set,
    .deploy_state_put = sq_deploy_state_put,
    .deploy_state_get = sq_deploy_state_get,
    .deploy_event_add = sq_deploy_event_add,
    .deploy_event_list = sq_deploy_event_list,
    .deploy_state_clear = sq_deploy_state_clear,
    .monitor_check_add = store__monitor_check_add,
    .monitor_check_list = store__monitor_check_list,
    .monitor_event_add = sq_monitor_event_add,
    .monitor_event_list = sq_monitor_event_list,
    .monitor_state_get = store__monitor_state_get,
    .monitor_state_put = store__monitor_state_put,
    .monitor_clear = sq_monitor_clear,
    .secret_put = store__secret_put,
    .secret_list = store__secret_list,
    .secret_clear = store__secret_clear,
};
