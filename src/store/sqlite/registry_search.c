/* registry_search.c — reading the model registry's records over the SQLite store
 * (a version with its tags and aliases, a model with its latest versions, tags and
 * aliases), and its searches (store_registry_methods.model_search / version_search).
 *
 * A store_reg_query (conditions already parsed from MLflow's filter language by
 * src/track) becomes one SELECT built for the request: every value is a bound
 * parameter, never text spliced into the SQL; column names come from fixed
 * tables. LIKE is case-sensitive as in MLflow (done with GLOB, the pattern
 * translated), ILIKE compares lower-cased text. Tag conditions are EXISTS
 * subqueries on the tag table. Ties are broken by name ascending, then (model
 * versions) version descending, as MLflow does.
 *
 * Thread-safety: as the store: the connection belongs to the calling thread. */
#include "store/sqlite/registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void done(sqlite3_stmt *q) {
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}
static void bind_str(sqlite3_stmt *q, int i, const char *v) { sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC); }

/* ---- reading records ---------------------------------------------------------------- */

void reg__read_version(sqlite3_stmt *q, store_model_version *v) {
    memset(v, 0, sizeof *v);
    v->name = store__col_str(q, 0);
    v->version = sqlite3_column_int64(q, 1);
    v->creation_time = sqlite3_column_int64(q, 2);
    v->last_updated_time = sqlite3_column_int64(q, 3);
    v->description = store__col_str(q, 4);
    v->user_id = store__col_str(q, 5);
    v->current_stage = store__col_str(q, 6);
    v->source = store__col_str(q, 7);
    v->run_id = store__col_str(q, 8);
    v->run_link = store__col_str(q, 9);
    v->status = store__col_str(q, 10);
    v->status_message = store__col_str(q, 11);
}

void reg__read_model(sqlite3_stmt *q, store_registered_model *m) {
    memset(m, 0, sizeof *m);
    m->name = store__col_str(q, 0);
    m->creation_time = sqlite3_column_int64(q, 1);
    m->last_updated_time = sqlite3_column_int64(q, 2);
    m->description = store__col_str(q, 3);
    m->namespace_ = store__col_str(q, 4);
}

/* Adapter for store__collect. */
static void read_version(sqlite3_stmt *q, void *v) { reg__read_version(q, v); }

static int read_kv(store *st, sqlite3_stmt *q, store_kv **out, size_t *n, mp_err *e) {
    return store__read_kvs(st, q, out, n, "registry tags", e);
}

static void read_alias(sqlite3_stmt *q, void *elem) { *(char **)elem = store__col_str(q, 0); }

int reg__fill_version(store *st, store_model_version *v, bool with_aliases, mp_err *e) {
    sqlite3_stmt *q = reg__q(st, RQ_VTAG_LIST, e);
    if (!q) return MP_ESTORE;
    bind_str(q, 1, v->name);
    sqlite3_bind_int64(q, 2, v->version);
    if (read_kv(st, q, &v->tags, &v->ntags, e) != 0) return MP_ESTORE;
    if (!with_aliases) return 0;
    if (!(q = reg__q(st, RQ_ALIAS_VERSION, e))) return MP_ESTORE;
    bind_str(q, 1, v->name);
    sqlite3_bind_int64(q, 2, v->version);
    void *arr = v->aliases;
    int rc = store__collect(q, sizeof *v->aliases, read_alias, &arr, &v->naliases);
    v->aliases = arr;
    if (rc != SQLITE_DONE) store__save_err(st);
    done(q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot read the aliases of %s", v->name);
}

int reg__read_latest(store *st, const char *name, bool with_aliases, store_model_version **out, size_t *n,
                       mp_err *e) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = reg__q(st, RQ_VER_LATEST, e);
    if (!q) return MP_ESTORE;
    bind_str(q, 1, name);
    void *rows = NULL;
    size_t len = 0;
    int rc = store__collect(q, sizeof(store_model_version), read_version, &rows, &len);
    store_model_version *v = rows;
    if (rc != SQLITE_DONE) store__save_err(st);
    done(q);
    int ret = rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot read the latest versions of %s", name);
    for (size_t i = 0; ret == 0 && i < len; i++) ret = reg__fill_version(st, &v[i], with_aliases, e);
    if (ret != 0) {
        store_model_version_array_free(v, len);
        return ret;
    }
    *out = v;
    *n = len;
    return 0;
}

int reg__fill_model(store *st, store_registered_model *m, mp_err *e) {
    if (reg__read_latest(st, m->name, false, &m->latest, &m->nlatest, e) != 0) return MP_ESTORE;
    sqlite3_stmt *q = reg__q(st, RQ_MTAG_LIST, e);
    if (!q) return MP_ESTORE;
    bind_str(q, 1, m->name);
    if (read_kv(st, q, &m->tags, &m->ntags, e) != 0) return MP_ESTORE;
    if (!(q = reg__q(st, RQ_ALIAS_MODEL, e))) return MP_ESTORE;
    bind_str(q, 1, m->name);
    return read_kv(st, q, &m->aliases, &m->naliases, e);
}

/* ---- searches ------------------------------------------------------------------------- */

typedef struct sqlb {
    mp_buf sql;
    store__binds b;
} sqlb;

static void add_str(sqlb *s, const char *v) {
    store__bind_owned(&s->b, mp_xstrdup(v ? v : ""));
    mp_buf_puts(&s->sql, "?");
}

static void add_num(sqlb *s, int64_t v) {
    store__bind_int(&s->b, v);
    mp_buf_puts(&s->sql, "?");
}

static const char *const op_sql[] = {
    [STORE_OP_EQ] = " = ", [STORE_OP_NE] = " <> ", [STORE_OP_LT] = " < ",
    [STORE_OP_LE] = " <= ", [STORE_OP_GT] = " > ", [STORE_OP_GE] = " >= ",
};

/* Appends "<col> <op> <value>" for condition c. */
static int add_compare(sqlb *s, const char *col, const store_reg_cond *c, mp_err *e) {
    switch (c->op) {
    case STORE_OP_EQ:
    case STORE_OP_NE:
    case STORE_OP_LT:
    case STORE_OP_LE:
    case STORE_OP_GT:
    case STORE_OP_GE:
        mp_buf_printf(&s->sql, "%s%s", col, op_sql[c->op]);
        if (c->field == STORE_REG_VERSION) add_num(s, c->num);
        else add_str(s, c->str);
        return 0;
    case STORE_OP_LIKE: {
        mp_buf_printf(&s->sql, "%s GLOB ", col);
        store__bind_owned(&s->b, store__like_to_glob(c->str ? c->str : ""));
        mp_buf_puts(&s->sql, "?");
        return 0;
    }
    case STORE_OP_ILIKE:
        mp_buf_printf(&s->sql, "lower(%s) LIKE lower(", col);
        add_str(s, c->str);
        mp_buf_puts(&s->sql, ")");
        return 0;
    case STORE_OP_IN:
        if (c->nlist == 0) {
            mp_buf_puts(&s->sql, "0");
            return 0;
        }
        mp_buf_printf(&s->sql, "%s IN (", col);
        for (size_t i = 0; i < c->nlist; i++) {
            if (i) mp_buf_puts(&s->sql, ", ");
            add_str(s, c->list[i]);
        }
        mp_buf_puts(&s->sql, ")");
        return 0;
    default: return mp_err_set(e, MP_EINVAL, "store: unsupported comparison in a registry search");
    }
}

/* Appends " AND <cond>" for each condition; versions says which table. */
static int add_where(sqlb *s, const store_reg_query *q, bool versions, mp_err *e) {
    const char *t = versions ? "v" : "m";
    for (size_t i = 0; i < q->nconds; i++) {
        const store_reg_cond *c = &q->conds[i];
        mp_buf_puts(&s->sql, " AND ");
        char col[64];
        int rc = 0;
        switch (c->field) {
        case STORE_REG_NAME: snprintf(col, sizeof col, "%s.name", t); break;
        case STORE_REG_VERSION: snprintf(col, sizeof col, "v.version"); break;
        case STORE_REG_RUN_ID: snprintf(col, sizeof col, "v.run_id"); break;
        case STORE_REG_SOURCE: snprintf(col, sizeof col, "v.source"); break;
        case STORE_REG_TAG:
            if (versions)
                mp_buf_puts(&s->sql, "EXISTS (SELECT 1 FROM reg_version_tags t WHERE t.name = v.name AND "
                                     "t.version = v.version AND t.key = ");
            else
                mp_buf_puts(&s->sql, "EXISTS (SELECT 1 FROM reg_model_tags t WHERE t.name = m.name AND t.key = ");
            add_str(s, c->tag_key);
            mp_buf_puts(&s->sql, " AND ");
            rc = add_compare(s, "t.value", c, e);
            mp_buf_puts(&s->sql, ")");
            if (rc != 0) return rc;
            continue;
        default: return mp_err_set(e, MP_EINVAL, "store: unsupported field in a registry search");
        }
        if (!versions && c->field != STORE_REG_NAME)
            return mp_err_set(e, MP_EINVAL, "store: registered models are searched by name and tags only");
        if ((rc = add_compare(s, col, c, e)) != 0) return rc;
    }
    return 0;
}

static int add_order(sqlb *s, const store_reg_query *q, bool versions, mp_err *e) {
    const char *t = versions ? "v" : "m";
    bool by_name = false, by_version = false;
    mp_buf_puts(&s->sql, " ORDER BY ");
    for (size_t i = 0; i < q->norder; i++) {
        const store_reg_order *o = &q->order[i];
        const char *col;
        switch (o->field) {
        case STORE_REG_NAME: col = "name"; by_name = true; break;
        case STORE_REG_CREATED: col = "creation_time"; break;
        case STORE_REG_UPDATED: col = "last_updated_time"; break;
        case STORE_REG_VERSION:
            if (!versions) return mp_err_set(e, MP_EINVAL, "store: registered models have no version to order by");
            col = "version";
            by_version = true;
            break;
        default: return mp_err_set(e, MP_EINVAL, "store: unsupported order in a registry search");
        }
        mp_buf_printf(&s->sql, "%s.%s %s, ", t, col, o->asc ? "ASC" : "DESC");
    }
    if (!by_name) mp_buf_printf(&s->sql, "%s.name ASC, ", t);
    if (versions && !by_version) mp_buf_puts(&s->sql, "v.version DESC, ");
    s->sql.len -= 2; /* the last ", " */
    s->sql.data[s->sql.len] = '\0';
    return 0;
}

/* Builds the query's SELECT and prepares it with its values bound. */
static int prepare(store *st, const store_reg_query *q, bool versions, sqlite3_stmt **out, mp_err *e) {
    *out = NULL;
    sqlb s = {0};
    mp_buf_init(&s.sql);
    if (versions) mp_buf_puts(&s.sql, "SELECT " REG__VERSION_COLS " FROM reg_versions v WHERE 1");
    else mp_buf_puts(&s.sql, "SELECT " REG__MODEL_COLS " FROM reg_models m WHERE 1");
    int rc = add_where(&s, q, versions, e);
    if (rc == 0) rc = add_order(&s, q, versions, e);
    if (rc == 0) {
        mp_buf_puts(&s.sql, " LIMIT ");
        add_num(&s, q->limit < 0 ? -1 : q->limit);
        mp_buf_puts(&s.sql, " OFFSET ");
        add_num(&s, q->offset < 0 ? 0 : q->offset);
        sqlite3 *db = store__db(st);
        if (sqlite3_prepare_v2(db, s.sql.data, -1, out, NULL) != SQLITE_OK) {
            store__save_err(st);
            rc = store__fail(st, e, SQLITE_ERROR, "cannot prepare a registry search");
        }
    }
    if (rc == 0) store__binds_apply(*out, &s.b);
    mp_buf_free(&s.sql);
    store__binds_free(&s.b);
    return rc;
}

static void read_model(sqlite3_stmt *q, void *m) { reg__read_model(q, m); }
static int fill_version(store *st, void *v, mp_err *e) { return reg__fill_version(st, v, false, e); }
static int fill_model(store *st, void *m, mp_err *e) { return reg__fill_model(st, m, e); }
static void free_versions(void *v, size_t n) { store_model_version_array_free(v, n); }
static void free_models(void *v, size_t n) { store_registered_model_array_free(v, n); }

/* Runs the search q over models or versions (rows as how reads them). */
static int search(store *st, const store_reg_query *q, bool versions, const store__rows *how, void **out, size_t *n,
                  mp_err *e) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *stmt;
    int rc = prepare(st, q, versions, &stmt, e);
    if (rc != 0) return rc;
    return store__collect_rows(st, stmt, how, out, n, e);
}

int store__reg_model_search(store *st, const store_reg_query *q, store_registered_model **out, size_t *n,
                            mp_err *e) {
    static const store__rows how = {sizeof(store_registered_model), read_model, fill_model, free_models,
                                    "registered models"};
    void *v;
    int rc = search(st, q, false, &how, &v, n, e);
    *out = v;
    return rc;
}

int store__reg_version_search(store *st, const store_reg_query *q, store_model_version **out, size_t *n,
                              mp_err *e) {
    static const store__rows how = {sizeof(store_model_version), read_version, fill_version, free_versions,
                                    "model versions"};
    void *v;
    int rc = search(st, q, true, &how, &v, n, e);
    *out = v;
    return rc;
}
