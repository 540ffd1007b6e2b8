/* migrate.c — the schema of the SQLite store and how a file is brought up to it.
 *
 * The schema is an ordered table of SQL scripts: migrations[i] takes a database
 * from user_version i to i+1. Opening a store applies the missing ones, each in its
 * own BEGIN IMMEDIATE transaction that also bumps PRAGMA user_version, so a crash
 * leaves the file at a whole version and several processes opening an old file at
 * once apply each script exactly once (the version is re-read under the write
 * lock). A file whose version is newer than the table is refused: an old binary
 * must not write into a schema it does not know.
 *
 * To change the schema, append a script; never edit one that has shipped.
 * States are stored as INTEGER values of store_run_state / store_step_state.
 * Thread-safety: functions work on the connection they are given and keep no
 * state; the connection belongs to the calling thread. */
#include "store/sqlite/sqlite_int.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const migrations[] = {
    /* v1: runs, steps, events, metrics, step cache. */
    "CREATE TABLE runs ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  pipeline TEXT,"
    "  namespace TEXT,"
    "  state INTEGER NOT NULL DEFAULT 0,"
    "  spec_path TEXT,"
    "  spec_yaml TEXT,"
    "  params_json TEXT,"
    "  created_ms INTEGER NOT NULL DEFAULT 0,"
    "  started_ms INTEGER NOT NULL DEFAULT 0,"
    "  ended_ms INTEGER NOT NULL DEFAULT 0,"
    "  owner_pid INTEGER NOT NULL DEFAULT 0,"
    "  owner_start INTEGER NOT NULL DEFAULT 0,"
    "  parallel INTEGER NOT NULL DEFAULT 1,"
    "  cancel_requested INTEGER NOT NULL DEFAULT 0,"
    "  message TEXT);"
    "CREATE INDEX runs_created ON runs(created_ms);"
    "CREATE TABLE steps ("
    "  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  idx INTEGER NOT NULL DEFAULT 0,"
    "  state INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  exit_code INTEGER NOT NULL DEFAULT -1,"
    "  started_ms INTEGER NOT NULL DEFAULT 0,"
    "  ended_ms INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_ms INTEGER NOT NULL DEFAULT 0,"
    "  pid INTEGER NOT NULL DEFAULT 0,"
    "  cache_key TEXT,"
    "  cached_from TEXT,"
    "  outputs_dir TEXT,"
    "  log_path TEXT,"
    "  message TEXT,"
    "  PRIMARY KEY (run_id, name));"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  step TEXT,"
    "  time_ms INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  message TEXT);"
    "CREATE INDEX events_run ON events(run_id, id);"
    "CREATE TABLE metrics ("
    "  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  step TEXT NOT NULL DEFAULT '',"
    "  key TEXT NOT NULL,"
    "  value REAL NOT NULL,"
    "  PRIMARY KEY (run_id, step, key));"
    "CREATE TABLE cache ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  run_id TEXT NOT NULL,"
    "  step TEXT NOT NULL,"
    "  outputs_dir TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL DEFAULT 0);",
    /* v2: MLflow tracking (track.c). */
    store__schema_track,
    /* v3: model registry (registry.c). */
    store__schema_registry,
    /* v4: what running steps hold (the table renamed workloads in v10), shared by every mlplane process (workload.c). */
    store__schema_holds,
    /* v5: pending workloads and their scheduling fields; applied scheduler objects. */
    store__schema_workloads,
    /* v6: a sweep trial's param values (and a sweep's best trial's) on its step. */
    "ALTER TABLE steps ADD COLUMN params_json TEXT;",
    /* v7: a Deployment's traffic split as `mlplane rollout` left it (over its spec's canary percent). */
    "CREATE TABLE rollouts ("
    "  name TEXT PRIMARY KEY,"
    "  canary_percent INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ");",
    /* v8: a Deployment's running state and events, as mlplane server's fleet records them. */
    "CREATE TABLE deployment_states ("
    "  name TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL,"
    "  message TEXT,"
    "  last_error TEXT,"
    "  restarts INTEGER NOT NULL DEFAULT 0,"
    "  pid INTEGER NOT NULL DEFAULT 0,"
    "  owner_pid INTEGER NOT NULL DEFAULT 0,"
    "  owner_start INTEGER NOT NULL DEFAULT 0,"
    "  started_ms INTEGER NOT NULL DEFAULT 0,"
    "  updated_ms INTEGER NOT NULL"
    ");"
    "CREATE TABLE deployment_events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  message TEXT NOT NULL DEFAULT '',"
    "  count INTEGER NOT NULL DEFAULT 1,"
    "  first_ms INTEGER NOT NULL,"
    "  last_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX deployment_events_name ON deployment_events(name, last_ms);",
    /* v9: a cache hit has its own step state, Cached (8), instead of Skipped (5);
     * earlier cache hits are the Skipped rows that name the run they reused. */
    "UPDATE steps SET state = 8 WHERE state = 5 AND cached_from IS NOT NULL;"
    "UPDATE events SET type = 'StepCached' WHERE type = 'StepSkipped' AND message LIKE 'cache hit:%';",
    /* v10: the holds table is called what it holds, workloads (one word in code and schema). */
    "ALTER TABLE holds RENAME TO workloads;"
    "DROP INDEX holds_pending;"
    "CREATE INDEX workloads_pending ON workloads(pending);",
    /* v11: a run keeps its pipeline's metadata.labels (JSON object), for `get runs -l`;
     * runs recorded before have none (NULL). */
    "ALTER TABLE runs ADD COLUMN labels_json TEXT;",
    /* v12: Monitors' checks and the state their actions keep, IF NOT EXISTS (a file set back keeps them); events in
     * deployment_events under the name "monitor/NAME", which no Deployment can have). */
    "CREATE TABLE IF NOT EXISTS monitor_checks ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  monitor TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  message TEXT,"
    "  version TEXT,"
    "  n_ref INTEGER NOT NULL DEFAULT 0,"
    "  n_cur INTEGER NOT NULL DEFAULT 0,"
    "  ncolumns INTEGER NOT NULL DEFAULT 0,"
    "  ndrifted INTEGER NOT NULL DEFAULT 0,"
    "  share REAL NOT NULL DEFAULT 0,"
    "  result_json TEXT"
    ");"
    "CREATE INDEX IF NOT EXISTS monitor_checks_monitor ON monitor_checks(monitor, id);"
    "CREATE TABLE IF NOT EXISTS monitor_states ("
    "  name TEXT PRIMARY KEY,"
    "  state_json TEXT NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ");",
    /* v13: Secrets' values, sealed (src/store/secrets.c): nonce, ciphertext with its tag, the id of the key. */
    "CREATE TABLE IF NOT EXISTS secret_values ("
    "  namespace TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  key_id TEXT NOT NULL,"
    "  nonce BLOB NOT NULL,"
    "  ciphertext BLOB NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (namespace, name, key)"
    ");",
    /* v14: API tokens (only the BLAKE2b hash of each secret kept) and users (only the Argon2id hash of each
     * password kept), for `mlplane server --auth`. */
    "CREATE TABLE IF NOT EXISTS api_tokens ("
    "  id TEXT PRIMARY KEY,"
    "  user TEXT NOT NULL,"
    "  namespace TEXT NOT NULL DEFAULT 'default',"
    "  groups TEXT NOT NULL DEFAULT '',"
    "  description TEXT NOT NULL DEFAULT '',"
    "  created_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_used_ms INTEGER NOT NULL DEFAULT 0,"
    "  revoked_ms INTEGER NOT NULL DEFAULT 0,"
    "  secret_hash TEXT NOT NULL"
    ");"
    "CREATE TABLE IF NOT EXISTS api_users ("
    "  name TEXT PRIMARY KEY,"
    "  password_hash TEXT,"
    "  admin INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ");",
    /* v15: lineage: what each step read and wrote, by content hash (lineage.c). */
    "CREATE TABLE IF NOT EXISTS step_artifacts ("
    "  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  step TEXT NOT NULL,"
    "  output INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  hash TEXT NOT NULL,"
    "  path TEXT,"
    "  source TEXT,"
    "  from_step TEXT,"
    "  time_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (run_id, step, output, name));"
    "CREATE INDEX IF NOT EXISTS step_artifacts_hash ON step_artifacts(hash);",
    /* v16: experiments and registered models belong to a namespace (authorization); those recorded before are
     * in "default". */
    "ALTER TABLE mlflow_experiments ADD COLUMN namespace TEXT NOT NULL DEFAULT 'default';"
    "ALTER TABLE reg_models ADD COLUMN namespace TEXT NOT NULL DEFAULT 'default';",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int store_schema_version(void) { return N_MIGRATIONS; }

int store__busy_ms(void) {
    const char *v = getenv("MLPLANE_BUSY_TIMEOUT_MS");
    char *end = NULL;
    long ms = v && *v ? strtol(v, &end, 10) : 0;
    return end && !*end && ms >= 1 && ms <= 3600000 ? (int)ms : 10000;
}

int store__step_busy(sqlite3_stmt *q) {
    int64_t deadline = mp_mono_ms() + store__busy_ms();
    int64_t nap = 1;
    for (;;) {
        int rc = sqlite3_step(q);
        if ((rc & 0xff) != SQLITE_BUSY || mp_mono_ms() >= deadline) return rc;
        sqlite3_reset(q);
        mp_sleep_ms(nap);
        if (nap < 20) nap *= 2;
    }
}

int store__user_version(sqlite3 *db) {
    sqlite3_stmt *q = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return v;
}

static int too_new(const char *path, int v, mp_err *e) {
    return mp_err_set(e, MP_ESTORE,
                      "store: %s has schema version %d but this mlplane (%s) knows only up to version %d; "
                      "upgrade mlplane to use it",
                      path, v, MLPLANE_VERSION, N_MIGRATIONS);
}

/* Applies the migration after version `from` inside the transaction the caller
 * holds. */
static int apply_one(sqlite3 *db, int from, mp_err *e, const char *path) {
    char *msg = NULL;
    if (sqlite3_exec(db, migrations[from], NULL, NULL, &msg) != SQLITE_OK) {
        mp_err_set(e, MP_ESTORE, "store: cannot migrate %s to schema version %d: %s", path, from + 1,
                   msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return MP_ESTORE;
    }
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", from + 1);
    if (sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK)
        return mp_err_set(e, MP_ESTORE, "store: cannot set the schema version of %s: %s", path, sqlite3_errmsg(db));
    return 0;
}

int store__migrate(sqlite3 *db, const char *path, mp_err *e) {
    for (int busy = 0;;) {
        int v = store__user_version(db);
        if (v < 0) return mp_err_set(e, MP_ESTORE, "store: cannot read the schema version of %s: %s", path, sqlite3_errmsg(db));
        if (v > N_MIGRATIONS) return too_new(path, v, e);
        if (v == N_MIGRATIONS) return 0;

        sqlite3_stmt *begin = NULL;
        int rc = sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL);
        if (rc == SQLITE_OK) rc = store__step_busy(begin);
        sqlite3_finalize(begin);
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && ++busy < 6) continue; /* many first opens at once */
        if (rc != SQLITE_DONE)
            return mp_err_set(e, MP_ESTORE, "store: cannot lock %s to migrate it: %s", path, sqlite3_errmsg(db));

        /* Re-read under the write lock: another process may have migrated meanwhile. */
        v = store__user_version(db);
        if (v < 0) {
            rc = mp_err_set(e, MP_ESTORE, "store: cannot read the schema version of %s: %s", path, sqlite3_errmsg(db));
        } else if (v > N_MIGRATIONS) {
            rc = too_new(path, v, e);
        } else if (v < N_MIGRATIONS) {
            rc = apply_one(db, v, e, path);
        } else {
            rc = 0;
        }
        if (rc != 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        sqlite3_stmt *commit = NULL;
        int crc = sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL);
        if (crc == SQLITE_OK) crc = store__step_busy(commit);
        sqlite3_finalize(commit);
        if (crc != SQLITE_DONE) {
            mp_err_set(e, MP_ESTORE, "store: cannot commit the migration of %s: %s", path, sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return MP_ESTORE;
        }
    }
}
