/* registry.c — the model registry (store.h, store_registry_methods) over the
 * SQLite store: registered models, their numbered versions, tags and aliases.
 *
 * Schema (migration v3, store__schema_registry below): reg_models holds each model
 * and last_version, the counter its version numbers come from; reg_versions,
 * reg_model_tags, reg_version_tags and reg_aliases hang off it by foreign keys
 * with ON UPDATE/ON DELETE CASCADE, so renaming or deleting a model is one
 * statement and deleting a version takes its tags and aliases with it.
 *
 * Version numbers: creating a version increments the model's last_version and
 * reads it back inside one BEGIN IMMEDIATE transaction, i.e. under SQLite's write
 * lock; concurrent creates (threads or processes) are serialised there and never
 * get the same number, and numbers of deleted versions are not reused (as MLflow,
 * which keeps deleted versions as tombstones).
 *
 * Transactions: every write method runs in its own transaction (the store's
 * begin()/commit()), or in a SAVEPOINT when the caller has a begin() open, so a
 * method that fails half-way leaves nothing behind either way.
 * Statements are prepared once per connection, on first use, and kept in the
 * connection's STORE__EXT_REGISTRY slot (freed when the store closes).
 * Searches, whose SQL depends on the request, are in registry_search.c.
 *
 * Thread-safety: as the store: a handle (connection) belongs to one thread. */
#include "store/sqlite/registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char store__schema_registry[] =
    "CREATE TABLE reg_models ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  creation_time INTEGER NOT NULL,"
    "  last_updated_time INTEGER NOT NULL,"
    "  description TEXT,"
    "  last_version INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX reg_models_updated ON reg_models(last_updated_time);"
    "CREATE TABLE reg_model_tags ("
    "  name TEXT NOT NULL REFERENCES reg_models(name) ON UPDATE CASCADE ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT,"
    "  PRIMARY KEY (name, key));"
    "CREATE TABLE reg_versions ("
    "  name TEXT NOT NULL REFERENCES reg_models(name) ON UPDATE CASCADE ON DELETE CASCADE,"
    "  version INTEGER NOT NULL,"
    "  creation_time INTEGER NOT NULL,"
    "  last_updated_time INTEGER NOT NULL,"
    "  description TEXT,"
    "  user_id TEXT,"
    "  current_stage TEXT NOT NULL DEFAULT 'None',"
    "  source TEXT,"
    "  run_id TEXT,"
    "  run_link TEXT,"
    "  status TEXT NOT NULL DEFAULT 'READY',"
    "  status_message TEXT,"
    "  PRIMARY KEY (name, version));"
    "CREATE INDEX reg_versions_run ON reg_versions(run_id);"
    "CREATE TABLE reg_version_tags ("
    "  name TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value TEXT,"
    "  PRIMARY KEY (name, version, key),"
    "  FOREIGN KEY (name, version) REFERENCES reg_versions(name, version) ON UPDATE CASCADE ON DELETE CASCADE);"
    "CREATE TABLE reg_aliases ("
    "  name TEXT NOT NULL,"
    "  alias TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  PRIMARY KEY (name, alias),"
    "  FOREIGN KEY (name, version) REFERENCES reg_versions(name, version) ON UPDATE CASCADE ON DELETE CASCADE);"
    "CREATE INDEX reg_aliases_version ON reg_aliases(name, version);";

/* ---- statements ----------------------------------------------------------------- */


static const char *const rq_text[RQ__COUNT] = {
    [RQ_SAVEPOINT] = "SAVEPOINT registry",
    [RQ_RELEASE] = "RELEASE registry",
    [RQ_ROLLBACK_TO] = "ROLLBACK TO registry",
    [RQ_MODEL_INSERT] = "INSERT INTO reg_models (name, creation_time, last_updated_time, description) "
                        "VALUES (?1, ?2, ?2, ?3)",
    [RQ_MODEL_INSERT_IF_NEW] = "INSERT INTO reg_models (name, creation_time, last_updated_time) VALUES (?1, ?2, ?2) "
                               "ON CONFLICT (name) DO NOTHING",
    [RQ_MODEL_GET] = "SELECT " REG__MODEL_COLS " FROM reg_models m WHERE m.name = ?1",
    [RQ_MODEL_TOUCH] = "UPDATE reg_models SET last_updated_time = ?2 WHERE name = ?1",
    [RQ_MODEL_RENAME] = "UPDATE reg_models SET name = ?2, last_updated_time = ?3 WHERE name = ?1",
    [RQ_MODEL_DESC] = "UPDATE reg_models SET description = ?2, last_updated_time = ?3 WHERE name = ?1",
    [RQ_MODEL_DELETE] = "DELETE FROM reg_models WHERE name = ?1",
    [RQ_MODEL_NEXT] = "UPDATE reg_models SET last_version = last_version + 1, last_updated_time = ?2 WHERE name = ?1",
    [RQ_MODEL_LAST] = "SELECT last_version FROM reg_models WHERE name = ?1",
    [RQ_MTAG_PUT] = "INSERT INTO reg_model_tags (name, key, value) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
    [RQ_MTAG_DEL] = "DELETE FROM reg_model_tags WHERE name = ?1 AND key = ?2",
    [RQ_MTAG_LIST] = "SELECT key, value FROM reg_model_tags WHERE name = ?1 ORDER BY key",
    [RQ_ALIAS_PUT] = "INSERT INTO reg_aliases (name, alias, version) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
    [RQ_ALIAS_DEL] = "DELETE FROM reg_aliases WHERE name = ?1 AND alias = ?2",
    [RQ_ALIAS_GET] = "SELECT version FROM reg_aliases WHERE name = ?1 AND alias = ?2",
    [RQ_ALIAS_MODEL] = "SELECT alias, version FROM reg_aliases WHERE name = ?1 ORDER BY alias",
    [RQ_ALIAS_VERSION] = "SELECT alias FROM reg_aliases WHERE name = ?1 AND version = ?2 ORDER BY alias",
    [RQ_VER_INSERT] = "INSERT INTO reg_versions (name, version, creation_time, last_updated_time, description, "
                      "user_id, current_stage, source, run_id, run_link, status, status_message) "
                      "VALUES (?1, ?2, ?3, ?3, ?4, NULL, 'None', ?5, ?6, ?7, 'READY', NULL)",
    [RQ_VER_GET] = "SELECT " REG__VERSION_COLS " FROM reg_versions v WHERE v.name = ?1 AND v.version = ?2",
    [RQ_VER_TOUCH_ALL] = "UPDATE reg_versions SET last_updated_time = ?2 WHERE name = ?1",
    [RQ_VER_DESC] = "UPDATE reg_versions SET description = ?3, last_updated_time = ?4 WHERE name = ?1 AND version = ?2",
    [RQ_VER_DELETE] = "DELETE FROM reg_versions WHERE name = ?1 AND version = ?2",
    [RQ_VER_STAGE] = "UPDATE reg_versions SET current_stage = ?3, last_updated_time = ?4 "
                     "WHERE name = ?1 AND version = ?2",
    [RQ_VER_ARCHIVE] = "UPDATE reg_versions SET current_stage = 'Archived', last_updated_time = ?4 "
                       "WHERE name = ?1 AND version <> ?2 AND current_stage = ?3",
    /* The highest version of each stage; stages in the order of their lowest
     * version (the order MLflow builds its per-stage map in). */
    [RQ_VER_LATEST] = "SELECT " REG__VERSION_COLS " FROM reg_versions v WHERE v.name = ?1 AND v.version = "
                      "(SELECT max(w.version) FROM reg_versions w WHERE w.name = v.name AND w.current_stage = "
                      "v.current_stage) ORDER BY (SELECT min(w.version) FROM reg_versions w WHERE w.name = v.name "
                      "AND w.current_stage = v.current_stage)",
    [RQ_VTAG_PUT] = "INSERT INTO reg_version_tags (name, version, key, value) VALUES (?1, ?2, ?3, ?4) "
                    "ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
    [RQ_VTAG_DEL] = "DELETE FROM reg_version_tags WHERE name = ?1 AND version = ?2 AND key = ?3",
    [RQ_VTAG_LIST] = "SELECT key, value FROM reg_version_tags WHERE name = ?1 AND version = ?2 ORDER BY key",
};

sqlite3_stmt *reg__q(store *st, int i, mp_err *e) {
    return store__ext_stmt(st, STORE__EXT_REGISTRY, rq_text, RQ__COUNT, i, "registry", e);
}

static void bind_str(sqlite3_stmt *q, int i, const char *v) { sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC); }
static void done(sqlite3_stmt *q) {
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}

/* Runs the bound write q in the open transaction; 0 or an error with e set. */
static int write1(store *st, sqlite3_stmt *q, mp_err *e, const char *what) {
    int rc = store__write(st, q);
    if (rc != SQLITE_DONE) return store__fail(st, e, rc, "%s", what);
    return 0;
}

/* ---- transactions ------------------------------------------------------------------ */

/* Opens the transaction of one write method: the store's BEGIN IMMEDIATE when the
 * caller has none open (*own set), else a savepoint inside the caller's. */
static int tx_open(store *st, bool *own, mp_err *e) {
    *own = !store__in_tx(st);
    if (*own) return st->m->begin(st, e);
    sqlite3_stmt *q = reg__q(st, RQ_SAVEPOINT, e);
    if (!q) return MP_ESTORE;
    int rc = sqlite3_step(q);
    if (rc != SQLITE_DONE) store__save_err(st);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot open a savepoint");
}

/* Closes it: commits when rc is 0, else undoes everything since tx_open. Returns
 * rc, or the commit's failure. */
static int tx_close(store *st, bool own, int rc, mp_err *e) {
    if (own) {
        if (rc == 0) return st->m->commit(st, e);
        st->m->rollback(st);
        return rc;
    }
    if (rc != 0) {
        sqlite3_stmt *r = reg__q(st, RQ_ROLLBACK_TO, NULL);
        if (r) {
            sqlite3_step(r);
            sqlite3_reset(r);
        }
    }
    sqlite3_stmt *q = reg__q(st, RQ_RELEASE, NULL);
    if (q) {
        sqlite3_step(q);
        sqlite3_reset(q);
    }
    return rc;
}

static int model_not_found(mp_err *e, const char *name) {
    return mp_err_set(e, MP_ENOENT, "Registered Model with name=%s not found", name);
}

static int version_not_found(mp_err *e, const char *name, int64_t version) {
    return mp_err_set(e, MP_ENOENT, "Model Version (name=%s, version=%lld) not found", name, (long long)version);
}

/* Reads model name (its row only). */
static int model_row(store *st, const char *name, store_registered_model *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *q = reg__q(st, RQ_MODEL_GET, e);
    if (!q) return MP_ESTORE;
    bind_str(q, 1, name);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) reg__read_model(q, out);
    else if (rc != SQLITE_DONE) store__save_err(st);
    done(q);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return model_not_found(e, name);
    return store__fail(st, e, rc, "cannot read registered model %s", name);
}

static int version_row(store *st, const char *name, int64_t version, store_model_version *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *q = reg__q(st, RQ_VER_GET, e);
    if (!q) return MP_ESTORE;
    bind_str(q, 1, name);
    sqlite3_bind_int64(q, 2, version);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) reg__read_version(q, out);
    else if (rc != SQLITE_DONE) store__save_err(st);
    done(q);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return version_not_found(e, name, version);
    return store__fail(st, e, rc, "cannot read model version %s/%lld", name, (long long)version);
}

/* 0 when version of model name exists, else MP_ENOENT (MLflow's message). */
static int version_check(store *st, const char *name, int64_t version, mp_err *e) {
    store_model_version v;
    int rc = version_row(st, name, version, &v, e);
    store_model_version_free(&v);
    return rc;
}

/* The whole model (row, latest versions, tags, aliases) into out, when out is set. */
static int model_full(store *st, const char *name, store_registered_model *out, mp_err *e) {
    if (!out) return 0;
    int rc = model_row(st, name, out, e);
    if (rc == 0) rc = reg__fill_model(st, out, e);
    if (rc != 0) store_registered_model_free(out);
    return rc;
}

static int version_full(store *st, const char *name, int64_t version, store_model_version *out, mp_err *e) {
    if (!out) return 0;
    int rc = version_row(st, name, version, out, e);
    if (rc == 0) rc = reg__fill_version(st, out, true, e);
    if (rc != 0) store_model_version_free(out);
    return rc;
}

/* ---- registered models ---------------------------------------------------------------- */

static int put_model_tag(store *st, const char *name, const char *key, const char *value, mp_err *e) {
    sqlite3_stmt *q = reg__q(st, RQ_MTAG_PUT, e);
    if (!q) return MP_ESTORE;
    bind_str(q, 1, name);
    bind_str(q, 2, key);
    bind_str(q, 3, value);
    return write1(st, q, e, "cannot set a registered model tag");
}

static int reg_model_create(store *st, const char *name, const char *description, const store_kv *tags,
                            size_t ntags, store_registered_model *out, mp_err *e) {
    if (out) memset(out, 0, sizeof *out);
    if (!name || !*name) return mp_err_set(e, MP_EINVAL, "Missing value for required parameter 'name'.");
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    sqlite3_stmt *q = reg__q(st, RQ_MODEL_INSERT, e);
    if (!q) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, name);
        sqlite3_bind_int64(q, 2, mp_now_ms());
        bind_str(q, 3, description);
        rc = write1(st, q, e, "cannot create a registered model");
        if (rc == MP_EEXIST) rc = mp_err_set(e, MP_EEXIST, "Registered Model (name=%s) already exists.", name);
    }
    for (size_t i = 0; rc == 0 && i < ntags; i++) rc = put_model_tag(st, name, tags[i].key, tags[i].value, e);
    if (rc == 0) rc = model_full(st, name, out, e);
    return tx_close(st, own, rc, e);
}

static int reg_model_get(store *st, const char *name, store_registered_model *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    return model_full(st, name, out, e);
}

static int reg_model_rename(store *st, const char *name, const char *new_name, store_registered_model *out,
                            mp_err *e) {
    if (out) memset(out, 0, sizeof *out);
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    store_registered_model cur;
    rc = model_row(st, name, &cur, e);
    store_registered_model_free(&cur);
    int64_t now = mp_now_ms();
    sqlite3_stmt *q = rc == 0 ? reg__q(st, RQ_MODEL_RENAME, e) : NULL;
    if (rc == 0 && !q) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, name);
        bind_str(q, 2, new_name);
        sqlite3_bind_int64(q, 3, now);
        rc = write1(st, q, e, "cannot rename a registered model");
        if (rc == MP_EEXIST) rc = mp_err_set(e, MP_EEXIST, "Registered Model (name=%s) already exists.", new_name);
    }
    if (rc == 0 && !(q = reg__q(st, RQ_VER_TOUCH_ALL, e))) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, new_name);
        sqlite3_bind_int64(q, 2, now);
        rc = write1(st, q, e, "cannot rename model versions");
    }
    if (rc == 0) rc = model_full(st, new_name, out, e);
    return tx_close(st, own, rc, e);
}

static int reg_model_update(store *st, const char *name, const char *description, store_registered_model *out,
                            mp_err *e) {
    if (out) memset(out, 0, sizeof *out);
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    sqlite3_stmt *q = reg__q(st, RQ_MODEL_DESC, e);
    if (!q) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, name);
        bind_str(q, 2, description);
        sqlite3_bind_int64(q, 3, mp_now_ms());
        rc = write1(st, q, e, "cannot update a registered model");
        if (rc == 0 && store__changes(st) == 0) rc = model_not_found(e, name);
    }
    if (rc == 0) rc = model_full(st, name, out, e);
    return tx_close(st, own, rc, e);
}

static int reg_model_delete(store *st, const char *name, mp_err *e) {
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    sqlite3_stmt *q = reg__q(st, RQ_MODEL_DELETE, e);
    if (!q) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, name);
        rc = write1(st, q, e, "cannot delete a registered model");
        if (rc == 0 && store__changes(st) == 0) rc = model_not_found(e, name);
    }
    return tx_close(st, own, rc, e);
}

/* Fails with MP_ENOENT unless model name exists. */
static int model_exists(store *st, const char *name, mp_err *e) {
    store_registered_model m;
    int rc = model_row(st, name, &m, e);
    store_registered_model_free(&m);
    return rc;
}

static int reg_model_set_tag(store *st, const char *name, const char *key, const char *value, mp_err *e) {
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    rc = model_exists(st, name, e);
    if (rc == 0) rc = put_model_tag(st, name, key, value, e);
    return tx_close(st, own, rc, e);
}

/* Runs statement stmt on (name, key) of existing model name, in one transaction. */
static int model_key_delete(store *st, int stmt, const char *name, const char *key, const char *what, mp_err *e) {
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    rc = model_exists(st, name, e);
    sqlite3_stmt *q = rc == 0 ? reg__q(st, stmt, e) : NULL;
    if (rc == 0 && !q) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, name);
        bind_str(q, 2, key);
        rc = write1(st, q, e, what);
    }
    return tx_close(st, own, rc, e);
}

static int reg_model_delete_tag(store *st, const char *name, const char *key, mp_err *e) {
    return model_key_delete(st, RQ_MTAG_DEL, name, key, "cannot delete a registered model tag", e);
}

/* ---- aliases ---------------------------------------------------------------------------- */

static int reg_alias_set(store *st, const char *name, const char *alias, int64_t version, mp_err *e) {
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    rc = version_check(st, name, version, e);
    sqlite3_stmt *q = rc == 0 ? reg__q(st, RQ_ALIAS_PUT, e) : NULL;
    if (rc == 0 && !q) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, name);
        bind_str(q, 2, alias);
        sqlite3_bind_int64(q, 3, version);
        rc = write1(st, q, e, "cannot set an alias");
    }
    return tx_close(st, own, rc, e);
}

static int reg_alias_delete(store *st, const char *name, const char *alias, mp_err *e) {
    return model_key_delete(st, RQ_ALIAS_DEL, name, alias, "cannot delete an alias", e);
}

static int reg_alias_get(store *st, const char *name, const char *alias, store_model_version *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *q = reg__q(st, RQ_ALIAS_GET, e);
    if (!q) return MP_ESTORE;
    bind_str(q, 1, name);
    bind_str(q, 2, alias);
    int rc = sqlite3_step(q);
    int64_t version = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) store__save_err(st);
    done(q);
    if (rc == SQLITE_DONE) return mp_err_set(e, MP_EINVAL, "Registered model alias %s not found.", alias);
    if (rc != SQLITE_ROW) return store__fail(st, e, rc, "cannot read alias %s of %s", alias, name);
    return version_full(st, name, version, out, e);
}

/* ---- model versions ----------------------------------------------------------------- */

static int put_version_tag(store *st, const char *name, int64_t version, const char *key, const char *value,
                           mp_err *e) {
    sqlite3_stmt *q = reg__q(st, RQ_VTAG_PUT, e);
    if (!q) return MP_ESTORE;
    bind_str(q, 1, name);
    sqlite3_bind_int64(q, 2, version);
    bind_str(q, 3, key);
    bind_str(q, 4, value);
    return write1(st, q, e, "cannot set a model version tag");
}

/* Allocates the next version number of in->name and inserts the version, inside
 * the open transaction. */
static int insert_version(store *st, const store_model_version *in, int64_t *version, mp_err *e) {
    int64_t now = mp_now_ms();
    sqlite3_stmt *q = reg__q(st, RQ_MODEL_NEXT, e);
    if (!q) return MP_ESTORE;
    bind_str(q, 1, in->name);
    sqlite3_bind_int64(q, 2, now);
    int rc = write1(st, q, e, "cannot allocate a model version");
    if (rc != 0) return rc;
    if (store__changes(st) == 0) return model_not_found(e, in->name);
    if (!(q = reg__q(st, RQ_MODEL_LAST, e))) return MP_ESTORE;
    bind_str(q, 1, in->name);
    int src = sqlite3_step(q);
    int64_t v = src == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    if (src != SQLITE_ROW) store__save_err(st);
    done(q);
    if (src != SQLITE_ROW) return store__fail(st, e, src, "cannot read the version counter of %s", in->name);
    if (!(q = reg__q(st, RQ_VER_INSERT, e))) return MP_ESTORE;
    bind_str(q, 1, in->name);
    sqlite3_bind_int64(q, 2, v);
    sqlite3_bind_int64(q, 3, now);
    bind_str(q, 4, in->description);
    bind_str(q, 5, in->source);
    bind_str(q, 6, in->run_id);
    bind_str(q, 7, in->run_link);
    if ((rc = write1(st, q, e, "cannot create a model version")) != 0) return rc;
    for (size_t i = 0; rc == 0 && i < in->ntags; i++)
        rc = put_version_tag(st, in->name, v, in->tags[i].key, in->tags[i].value, e);
    *version = v;
    return rc;
}

static int reg_version_create(store *st, const store_model_version *in, store_model_version *out, mp_err *e) {
    if (out) memset(out, 0, sizeof *out);
    if (!in->name || !*in->name) return mp_err_set(e, MP_EINVAL, "Missing value for required parameter 'name'.");
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    int64_t v = 0;
    rc = insert_version(st, in, &v, e);
    if (rc == 0) rc = version_full(st, in->name, v, out, e);
    return tx_close(st, own, rc, e);
}

static int reg_version_register(store *st, const char *name, const char *source, const char *run_id,
                                int64_t *version, mp_err *e) {
    *version = 0;
    if (!name || !*name) return mp_err_set(e, MP_EINVAL, "store: cannot register a model without a name");
    if (!source || !*source) return mp_err_set(e, MP_EINVAL, "store: cannot register model %s without a source", name);
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    sqlite3_stmt *q = reg__q(st, RQ_MODEL_INSERT_IF_NEW, e);
    if (!q) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, name);
        sqlite3_bind_int64(q, 2, mp_now_ms());
        rc = write1(st, q, e, "cannot create a registered model");
    }
    store_model_version in = {.name = (char *)name, .source = (char *)source, .run_id = (char *)run_id};
    if (rc == 0) rc = insert_version(st, &in, version, e);
    rc = tx_close(st, own, rc, e);
    if (rc != 0) *version = 0;
    return rc;
}

static int reg_version_get(store *st, const char *name, int64_t version, store_model_version *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    return version_full(st, name, version, out, e);
}

/* Sets the model's last_updated_time to now (a version of it changed). */
static int touch_model(store *st, const char *name, int64_t now, mp_err *e) {
    sqlite3_stmt *q = reg__q(st, RQ_MODEL_TOUCH, e);
    if (!q) return MP_ESTORE;
    bind_str(q, 1, name);
    sqlite3_bind_int64(q, 2, now);
    return write1(st, q, e, "cannot update a registered model");
}

static int reg_version_update(store *st, const char *name, int64_t version, const char *description,
                              store_model_version *out, mp_err *e) {
    if (out) memset(out, 0, sizeof *out);
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    sqlite3_stmt *q = reg__q(st, RQ_VER_DESC, e);
    if (!q) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, name);
        sqlite3_bind_int64(q, 2, version);
        bind_str(q, 3, description);
        sqlite3_bind_int64(q, 4, mp_now_ms());
        rc = write1(st, q, e, "cannot update a model version");
        if (rc == 0 && store__changes(st) == 0) rc = version_not_found(e, name, version);
    }
    if (rc == 0) rc = version_full(st, name, version, out, e);
    return tx_close(st, own, rc, e);
}

static int reg_version_delete(store *st, const char *name, int64_t version, mp_err *e) {
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    sqlite3_stmt *q = reg__q(st, RQ_VER_DELETE, e);
    if (!q) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, name);
        sqlite3_bind_int64(q, 2, version);
        rc = write1(st, q, e, "cannot delete a model version");
        if (rc == 0 && store__changes(st) == 0) rc = version_not_found(e, name, version);
    }
    if (rc == 0) rc = touch_model(st, name, mp_now_ms(), e);
    return tx_close(st, own, rc, e);
}

static int reg_version_transition(store *st, const char *name, int64_t version, const char *stage,
                                  bool archive_existing, store_model_version *out, mp_err *e) {
    if (out) memset(out, 0, sizeof *out);
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    int64_t now = mp_now_ms();
    sqlite3_stmt *q = NULL;
    if (archive_existing) {
        if (!(q = reg__q(st, RQ_VER_ARCHIVE, e))) rc = MP_ESTORE;
        if (rc == 0) {
            bind_str(q, 1, name);
            sqlite3_bind_int64(q, 2, version);
            bind_str(q, 3, stage);
            sqlite3_bind_int64(q, 4, now);
            rc = write1(st, q, e, "cannot archive model versions");
        }
    }
    if (rc == 0 && !(q = reg__q(st, RQ_VER_STAGE, e))) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, name);
        sqlite3_bind_int64(q, 2, version);
        bind_str(q, 3, stage);
        sqlite3_bind_int64(q, 4, now);
        rc = write1(st, q, e, "cannot transition a model version");
        if (rc == 0 && store__changes(st) == 0) rc = version_not_found(e, name, version);
    }
    if (rc == 0) rc = touch_model(st, name, now, e);
    if (rc == 0) rc = version_full(st, name, version, out, e);
    return tx_close(st, own, rc, e);
}

static int reg_version_latest(store *st, const char *name, const char *const *stages, size_t nstages,
                              store_model_version **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    int rc = model_exists(st, name, e);
    store_model_version *all = NULL;
    size_t nall = 0;
    if (rc == 0) rc = reg__read_latest(st, name, true, &all, &nall, e);
    if (rc != 0 || nstages == 0) {
        *out = all;
        *n = nall;
        return rc;
    }
    size_t keep = 0;
    for (size_t i = 0; i < nall; i++) {
        bool wanted = false;
        for (size_t k = 0; k < nstages && !wanted; k++) wanted = strcmp(all[i].current_stage, stages[k]) == 0;
        if (wanted) all[keep++] = all[i];
        else store_model_version_free(&all[i]);
    }
    *out = all;
    *n = keep;
    if (keep == 0) {
        free(all);
        *out = NULL;
    }
    return 0;
}

static int reg_version_set_tag(store *st, const char *name, int64_t version, const char *key, const char *value,
                               mp_err *e) {
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    rc = version_check(st, name, version, e);
    if (rc == 0) rc = put_version_tag(st, name, version, key, value, e);
    return tx_close(st, own, rc, e);
}

static int reg_version_delete_tag(store *st, const char *name, int64_t version, const char *key, mp_err *e) {
    bool own;
    int rc = tx_open(st, &own, e);
    if (rc != 0) return rc;
    rc = version_check(st, name, version, e);
    sqlite3_stmt *q = rc == 0 ? reg__q(st, RQ_VTAG_DEL, e) : NULL;
    if (rc == 0 && !q) rc = MP_ESTORE;
    if (rc == 0) {
        bind_str(q, 1, name);
        sqlite3_bind_int64(q, 2, version);
        bind_str(q, 3, key);
        rc = write1(st, q, e, "cannot delete a model version tag");
    }
    return tx_close(st, own, rc, e);
}

const store_registry_methods store__sqlite_registry = {
    .model_create = reg_model_create,
    .model_get = reg_model_get,
    .model_rename = reg_model_rename,
    .model_update = reg_model_update,
    .model_delete = reg_model_delete,
    .model_search = store__reg_model_search,
    .model_set_tag = reg_model_set_tag,
    .model_delete_tag = reg_model_delete_tag,
    .alias_set = reg_alias_set,
    .alias_delete = reg_alias_delete,
    .alias_get = reg_alias_get,
    .version_create = reg_version_create,
    .version_register = reg_version_register,
    .version_get = reg_version_get,
    .version_update = reg_version_update,
    .version_delete = reg_version_delete,
    .version_transition = reg_version_transition,
    .version_latest = reg_version_latest,
    .version_search = store__reg_version_search,
    .version_set_tag = reg_version_set_tag,
    .version_delete_tag = reg_version_delete_tag,
    .model_namespace = store__model_namespace,
    .model_set_namespace = store__model_set_namespace,
};
