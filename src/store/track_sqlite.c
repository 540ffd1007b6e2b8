/* track_sqlite.c — MLflow tracking tables over the SQLite store. */
#include "store/sqlite_int.h"

const char store__schema_track[] = "CREATE TABLE IF NOT EXISTS track_placeholder (x INTEGER);";

const store_track_methods store__sqlite_track = {0};
