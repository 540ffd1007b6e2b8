/* ext.c — prepared statements of the files that extend the SQLite store
 * (tracking, registry, workloads, objects): each keeps its statements in its extension slot
 * of the connection, all prepared on first use and finalized when it closes.
 * Thread-safety: as the store, one connection per thread. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>

typedef struct ext_stmts {
    int n;
    sqlite3_stmt *q[]; /* n of them */
} ext_stmts;

static void ext_stmts_free(void *p) {
    ext_stmts *x = p;
    if (!x) return;
    for (int i = 0; i < x->n; i++) sqlite3_finalize(x->q[i]);
    free(x);
}

sqlite3_stmt *store__ext_stmt(store *st, int slot, const char *const *sql, int n, int i, const char *what, mp_err *e) {
    store__ext *x = store__ext_slot(st, slot);
    if (!x->data) {
        ext_stmts *v = mp_xcalloc(1, sizeof *v + (size_t)n * sizeof v->q[0]);
        v->n = n;
        sqlite3 *db = store__db(st);
        for (int k = 0; k < n; k++) {
            if (sqlite3_prepare_v3(db, sql[k], -1, SQLITE_PREPARE_PERSISTENT, &v->q[k], NULL) != SQLITE_OK) {
                mp_err_set(e, MP_ESTORE, "store: cannot prepare %s statement %d: %s", what, k, sqlite3_errmsg(db));
                ext_stmts_free(v);
                return NULL;
            }
        }
        x->data = v;
        x->free = ext_stmts_free;
    }
    return ((ext_stmts *)x->data)->q[i];
}
