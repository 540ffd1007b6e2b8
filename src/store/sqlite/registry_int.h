/* registry_int.h — private to the SQLite model registry: what registry.c
 * (models, versions, tags, aliases, the statements) and registry_search.c (reading
 * records; searches, whose SQL is built per request) share. Nothing outside src/store/sqlite includes it.
 * Thread-safety: as the store, one connection (and its statements) per thread. */
#ifndef MLPLANE_STORE_REGISTRY_INT_H
#define MLPLANE_STORE_REGISTRY_INT_H

#include "store/sqlite/sqlite_int.h"

/* The registry's prepared statements (texts in registry.c). */
enum {
    RQ_SAVEPOINT,
    RQ_RELEASE,
    RQ_ROLLBACK_TO,
    RQ_MODEL_INSERT,
    RQ_MODEL_INSERT_IF_NEW,
    RQ_MODEL_GET,
    RQ_MODEL_TOUCH,
    RQ_MODEL_RENAME,
    RQ_MODEL_DESC,
    RQ_MODEL_DELETE,
    RQ_MODEL_NEXT,
    RQ_MODEL_LAST,
    RQ_MTAG_PUT,
    RQ_MTAG_DEL,
    RQ_MTAG_LIST,
    RQ_ALIAS_PUT,
    RQ_ALIAS_DEL,
    RQ_ALIAS_GET,
    RQ_ALIAS_MODEL,
    RQ_ALIAS_VERSION,
    RQ_VER_INSERT,
    RQ_VER_GET,
    RQ_VER_TOUCH_ALL,
    RQ_VER_DESC,
    RQ_VER_DELETE,
    RQ_VER_STAGE,
    RQ_VER_ARCHIVE,
    RQ_VER_LATEST,
    RQ_VTAG_PUT,
    RQ_VTAG_DEL,
    RQ_VTAG_LIST,
    RQ__COUNT
};

/* Prepared statement i of this connection (all prepared on first use, kept in the
 * STORE__EXT_REGISTRY slot); NULL with e set when preparing failed. */
sqlite3_stmt *reg__q(store *st, int i, mp_err *e);

/* Columns of a model version row, in the order reg__read_version reads them. */
#define REG__VERSION_COLS                                                                                   \
    "v.name, v.version, v.creation_time, v.last_updated_time, v.description, v.user_id, v.current_stage, " \
    "v.source, v.run_id, v.run_link, v.status, v.status_message"
/* Columns of a registered model row, in the order reg__read_model reads them. */
#define REG__MODEL_COLS "m.name, m.creation_time, m.last_updated_time, m.description, m.namespace"

void reg__read_version(sqlite3_stmt *q, store_model_version *v);
void reg__read_model(sqlite3_stmt *q, store_registered_model *m);
/* Loads v's tags, and its aliases when with_aliases. */
int reg__fill_version(store *st, store_model_version *v, bool with_aliases, mp_err *e);
/* The latest version of each stage of model name (with aliases when asked), in the
 * order MLflow lists them. */
int reg__read_latest(store *st, const char *name, bool with_aliases, store_model_version **out, size_t *n,
                     mp_err *e);
/* Loads m's latest versions, tags and aliases. */
int reg__fill_model(store *st, store_registered_model *m, mp_err *e);

/* The registry's searches (registry_search.c). */
int store__reg_model_search(store *st, const store_reg_query *q, store_registered_model **out, size_t *n,
                            mp_err *e);
int store__reg_version_search(store *st, const store_reg_query *q, store_model_version **out, size_t *n,
                              mp_err *e);

#endif
