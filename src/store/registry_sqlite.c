/* registry_sqlite.c — model registry tables over the SQLite store. */
#include "store/sqlite_int.h"

const char store__schema_registry[] = "CREATE TABLE IF NOT EXISTS registry_placeholder (x INTEGER);";

const store_registry_methods store__sqlite_registry = {0};
