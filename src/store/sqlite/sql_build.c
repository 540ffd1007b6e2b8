/* sql_build.c — pieces shared by the SQLite store's searches and readers
 * (track_search.c, registry_search.c, track.c; declared in sqlite_int.h):
 * the list of values bound to a SELECT whose text is built per request, MLflow's
 * case-sensitive LIKE rewritten as a GLOB pattern, and reading every row of a
 * statement into a growing array.
 * Reentrant: no state; a store__binds belongs to its caller. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- bound values ------------------------------------------------------------------ */

int store__bind_push(store__binds *b, store__bindv v) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->v = mp_xrealloc(b->v, (size_t)b->cap * sizeof *b->v);
    }
    b->v[b->n] = v;
    return ++b->n; /* ?N is 1-based */
}

int store__bind_str(store__binds *b, const char *s) {
    return store__bind_push(b, (store__bindv){.type = SQLITE_TEXT, .s = s});
}

int store__bind_owned(store__binds *b, char *s) {
    return store__bind_push(b, (store__bindv){.type = SQLITE_TEXT, .s = s, .owned = s});
}

int store__bind_num(store__binds *b, double d) { return store__bind_push(b, (store__bindv){.type = SQLITE_FLOAT, .d = d}); }

int store__bind_int(store__binds *b, int64_t i) {
    return store__bind_push(b, (store__bindv){.type = SQLITE_INTEGER, .i = i});
}

void store__binds_free(store__binds *b) {
    for (int i = 0; i < b->n; i++) free(b->v[i].owned);
    free(b->v);
    memset(b, 0, sizeof *b);
}

int store__binds_apply(sqlite3_stmt *q, const store__binds *b) {
    for (int i = 0; i < b->n; i++) {
        const store__bindv *v = &b->v[i];
        int rc = v->type == SQLITE_TEXT    ? sqlite3_bind_text(q, i + 1, v->s, -1, SQLITE_TRANSIENT)
                 : v->type == SQLITE_FLOAT ? sqlite3_bind_double(q, i + 1, v->d)
                                           : sqlite3_bind_int64(q, i + 1, v->i);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

/* ---- LIKE as GLOB -------------------------------------------------------------------- */

char *store__like_to_glob(const char *p) {
    mp_buf b;
    mp_buf_init(&b);
    for (; *p; p++) {
        switch (*p) {
        case '%': mp_buf_putc(&b, '*'); break;
        case '_': mp_buf_putc(&b, '?'); break;
        case '*': mp_buf_puts(&b, "[*]"); break;
        case '?': mp_buf_puts(&b, "[?]"); break;
        case '[': mp_buf_puts(&b, "[[]"); break;
        default: mp_buf_putc(&b, *p);
        }
    }
    return mp_buf_steal(&b);
}

/* ---- reading rows --------------------------------------------------------------------- */

int store__collect(sqlite3_stmt *q, size_t size, void (*read)(sqlite3_stmt *q, void *elem), void **v, size_t *len) {
    size_t cap = *len;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*len == cap) {
            cap = cap ? cap * 2 : 8;
            *v = mp_xrealloc(*v, cap * size);
        }
        char *elem = (char *)*v + *len * size;
        memset(elem, 0, size);
        read(q, elem);
        (*len)++;
    }
    return rc;
}

char *store__col_str(sqlite3_stmt *q, int i) { return mp_xstrdup((const char *)sqlite3_column_text(q, i)); }

int store__list(store *st, sqlite3_stmt *q, size_t size, void (*read)(sqlite3_stmt *q, void *elem),
                void (*free_arr)(void *v, size_t n), const char *what, void **out, size_t *n, mp_err *e) {
    void *v = NULL;
    size_t len = 0;
    *out = NULL;
    *n = 0;
    int rc = store__collect(q, size, read, &v, &len);
    if (rc != SQLITE_DONE) store__save_err(st);
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        free_arr(v, len);
        return store__fail(st, e, rc, "cannot list %s", what);
    }
    *out = v;
    *n = len;
    return 0;
}

int store__collect_rows(store *st, sqlite3_stmt *q, const store__rows *how, void **out, size_t *n, mp_err *e) {
    void *v = NULL;
    size_t len = 0;
    int rc = 0;
    int src = store__collect(q, how->size, how->read, &v, &len);
    if (src != SQLITE_DONE) {
        store__save_err(st);
        rc = store__fail(st, e, src, "cannot search %s", how->what);
    }
    sqlite3_finalize(q);
    for (size_t i = 0; i < len && rc == 0 && how->fill; i++) rc = how->fill(st, (char *)v + i * how->size, e);
    if (rc != 0) {
        how->free(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
}

static void read_kv(sqlite3_stmt *q, void *elem) {
    store_kv *kv = elem;
    kv->key = mp_xstrdup((const char *)sqlite3_column_text(q, 0));
    kv->value = mp_xstrdup((const char *)sqlite3_column_text(q, 1));
}

int store__read_kvs(store *st, sqlite3_stmt *q, store_kv **out, size_t *n, const char *what, mp_err *e) {
    void *v = NULL;
    size_t len = 0;
    int rc = store__collect(q, sizeof(store_kv), read_kv, &v, &len);
    if (rc != SQLITE_DONE) store__save_err(st);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE) {
        store_kv_array_free(v, len);
        return store__fail(st, e, rc, "cannot read %s", what);
    }
    *out = v;
    *n = len;
    return 0;
}
