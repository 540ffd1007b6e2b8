/* sqlite_int.h — private to src/store: what sqlite.c and migrate.c share.
 * Not part of the store interface; nothing outside src/store includes it.
 * Thread-safety: as the store, one connection per thread. */
#ifndef MLPLANE_STORE_SQLITE_INT_H
#define MLPLANE_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "util/util.h"

/* How long a writer waits for the write lock, in ms (busy_timeout and the
 * BEGIN IMMEDIATE retry loop). */
#define STORE__BUSY_MS 10000

/* Steps q once, retrying with short sleeps while it returns SQLITE_BUSY, for up to
 * STORE__BUSY_MS in total. Returns the last sqlite3_step result; q is NOT reset. */
int store__step_busy(sqlite3_stmt *q);

/* Brings the schema of db up to store_schema_version(), one migration per
 * transaction. MP_ESTORE when the file is newer than this binary or a migration
 * fails. path is only used in messages. */
int store__migrate(sqlite3 *db, const char *path, mp_err *e);

/* PRAGMA user_version of db, or -1 on error. */
int store__user_version(sqlite3 *db);

#endif
