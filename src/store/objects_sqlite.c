/* objects_sqlite.c — scheduler objects applied to the store (`mlplane apply`):
 * PriorityClasses, Nodes, NodePools, ResourceFlavors, ClusterQueues and
 * LocalQueues, and Deployments with their rollout state. The store keeps each applied file's text once (sched_sources) and,
 * per object name, which source defines it (sched_objects); readers re-parse the
 * sources with the spec layer, so the store never needs to understand YAML.
 * Thread-safety: as the store, one connection per thread; the prepared
 * statements live in the connection's STORE__EXT_OBJECTS slot. */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

enum { O_SOURCE_ADD, O_PUT, O_DELETE, O_GC, O_LIST, O_SOURCES, O_RO_GET, O_RO_SET, O_RO_CLEAR, O__COUNT };

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

int store__object_apply(store *st, const char *path, const char *text, const store_object *objs, size_t n,
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

int store__object_delete(store *st, const char *kind, const char *ns, const char *name, mp_err *e) {
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

static char *col_dup(sqlite3_stmt *q, int i) {
    const char *t = (const char *)sqlite3_column_text(q, i);
    return mp_xstrdup(t ? t : "");
}

int store__object_list(store *st, store_object **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = Q(st, O_LIST, e);
    if (!q) return MP_ESTORE;
    store_object *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            v = mp_xrealloc(v, cap * sizeof *v);
        }
        v[len++] = (store_object){.kind = col_dup(q, 0), .namespace_ = col_dup(q, 1), .name = col_dup(q, 2),
                                  .source_id = sqlite3_column_int64(q, 3), .applied_ms = sqlite3_column_int64(q, 4)};
    }
    if (rc != SQLITE_DONE) store__save_err(st);
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        store_object_array_free(v, len);
        return store__fail(st, e, rc, "cannot list scheduler objects");
    }
    *out = v;
    *n = len;
    return 0;
}

int store__source_list(store *st, store_source **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = Q(st, O_SOURCES, e);
    if (!q) return MP_ESTORE;
    store_source *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            v = mp_xrealloc(v, cap * sizeof *v);
        }
        v[len++] = (store_source){.id = sqlite3_column_int64(q, 0), .path = col_dup(q, 1), .text = col_dup(q, 2)};
    }
    if (rc != SQLITE_DONE) store__save_err(st);
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        store_source_array_free(v, len);
        return store__fail(st, e, rc, "cannot read scheduler object sources");
    }
    *out = v;
    *n = len;
    return 0;
}

int store__rollout_get(store *st, const char *name, int *percent, bool *found, mp_err *e) {
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

int store__rollout_set(store *st, const char *name, int percent, mp_err *e) {
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
