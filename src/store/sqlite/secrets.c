/* secrets.c — Secrets' sealed values in the SQLite store (secret_values, v13):
 * one row per key of an applied Secret with the nonce, the ciphertext and the id
 * of the key that sealed it; never a value in plain text (src/store/secrets.c
 * seals and opens them). The Secret itself is an applied object (objects.c) whose
 * stored text carries its key names only.
 * Thread-safety: as the store, one connection per thread; the prepared
 * statements live in the connection's STORE__EXT_SECRETS slot. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

enum { S_PUT, S_LIST, S_LIST_ALL, S_CLEAR, S__COUNT };

static const char *const sql_text[S__COUNT] = {
    [S_PUT] = "INSERT OR REPLACE INTO secret_values (namespace, name, key, key_id, nonce, ciphertext, updated_ms) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_LIST] = "SELECT namespace, name, key, key_id, nonce, ciphertext FROM secret_values WHERE namespace = ?1 AND "
               "name = ?2 ORDER BY key",
    [S_LIST_ALL] = "SELECT namespace, name, key, key_id, nonce, ciphertext FROM secret_values ORDER BY namespace, "
                   "name, key",
    [S_CLEAR] = "DELETE FROM secret_values WHERE namespace = ?1 AND name = ?2",
};

static sqlite3_stmt *Q(store *st, int i, mp_err *e) {
    return store__ext_stmt(st, STORE__EXT_SECRETS, sql_text, S__COUNT, i, "secrets", e);
}

static unsigned char *col_blob(sqlite3_stmt *q, int i, size_t *len) {
    const void *b = sqlite3_column_blob(q, i);
    *len = (size_t)sqlite3_column_bytes(q, i);
    unsigned char *p = mp_xcalloc(*len + 1, 1);
    if (b && *len) memcpy(p, b, *len);
    return p;
}

static void read_value(sqlite3_stmt *q, void *elem) {
    store_secret_value *v = elem;
    v->namespace_ = store__col_str(q, 0);
    v->name = store__col_str(q, 1);
    v->key = store__col_str(q, 2);
    v->key_id = store__col_str(q, 3);
    v->nonce = col_blob(q, 4, &v->nonce_len);
    v->ct = col_blob(q, 5, &v->ct_len);
}

static void free_values(void *v, size_t n) { store_secret_value_array_free(v, n); }

int store__secret_put(store *st, const store_secret_value *v, mp_err *e) {
    sqlite3_stmt *q = Q(st, S_PUT, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, v->namespace_, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, v->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, v->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, v->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 5, v->nonce, (int)v->nonce_len, SQLITE_STATIC);
    sqlite3_bind_blob(q, 6, v->ct, (int)v->ct_len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 7, mp_now_ms());
    int rc = store__write(st, q);
    return rc == SQLITE_DONE ? 0
                             : store__fail(st, e, rc, "cannot record key %s of secret %s/%s", v->key, v->namespace_,
                                           v->name);
}

int store__secret_list(store *st, const char *ns, const char *name, store_secret_value **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    bool all = !ns || !name;
    sqlite3_stmt *q = Q(st, all ? S_LIST_ALL : S_LIST, e);
    if (!q) return MP_ESTORE;
    if (!all) {
        sqlite3_bind_text(q, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
    }
    return store__list(st, q, sizeof **out, read_value, free_values, "secret values", (void **)out, n, e);
}

int store__secret_clear(store *st, const char *ns, const char *name, mp_err *e) {
    sqlite3_stmt *q = Q(st, S_CLEAR, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
    int rc = store__write(st, q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot forget the values of secret %s/%s", ns, name);
}
