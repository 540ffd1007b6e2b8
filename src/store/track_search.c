/* track_search.c — runs/search and experiments/search over the SQLite store: turns
 * a parsed filter and order_by (store_track_query, built by src/track's parser)
 * into one SELECT with bound parameters, then loads each row's data.
 *
 * Only fixed text is spliced into the SQL: attribute names are looked up in the
 * tables below (an unknown one is refused) and every value or key is a ?NNN
 * parameter. Each condition on a metric, param or tag is an inner join on that
 * key's row (so a run without the key never matches); each order_by on one is a
 * left join, sorted with missing values last as MLflow does.
 * Speed: when the first order_by is a metric that a condition also filters on,
 * the query is driven from that condition's latest_metrics row (CROSS JOIN fixes
 * the join order), so SQLite walks the (key, value) index in the requested order
 * and stops after offset+limit matching runs instead of sorting every run.
 *
 * A statement is prepared per call (its text depends on the query) and finalized.
 * Thread-safety: as the store: one handle per thread. */
#include "store/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bound values ------------------------------------------------------------------ */

typedef struct bindv {
    int type; /* SQLITE_TEXT, SQLITE_FLOAT or SQLITE_INTEGER */
    const char *s;
    char *owned; /* s when heap */
    double d;
    int64_t i;
} bindv;

typedef struct qbuild {
    mp_buf from, where, order;
    bindv *b;
    int nb, capb;
} qbuild;

static int push(qbuild *qb, bindv v) {
    if (qb->nb == qb->capb) {
        qb->capb = qb->capb ? qb->capb * 2 : 16;
        qb->b = mp_xrealloc(qb->b, (size_t)qb->capb * sizeof *qb->b);
    }
    qb->b[qb->nb] = v;
    return ++qb->nb; /* ?N is 1-based */
}
static int push_str(qbuild *qb, const char *s) { return push(qb, (bindv){.type = SQLITE_TEXT, .s = s}); }
static int push_owned(qbuild *qb, char *s) { return push(qb, (bindv){.type = SQLITE_TEXT, .s = s, .owned = s}); }
static int push_num(qbuild *qb, double d) { return push(qb, (bindv){.type = SQLITE_FLOAT, .d = d}); }
static int push_int(qbuild *qb, int64_t i) { return push(qb, (bindv){.type = SQLITE_INTEGER, .i = i}); }

static void qb_init(qbuild *qb) {
    memset(qb, 0, sizeof *qb);
    mp_buf_init(&qb->from);
    mp_buf_init(&qb->where);
    mp_buf_init(&qb->order);
}

static void qb_free(qbuild *qb) {
    for (int i = 0; i < qb->nb; i++) free(qb->b[i].owned);
    free(qb->b);
    mp_buf_free(&qb->from);
    mp_buf_free(&qb->where);
    mp_buf_free(&qb->order);
}

static void and_(qbuild *qb) { mp_buf_puts(&qb->where, qb->where.len ? " AND " : " WHERE "); }

/* MLflow's LIKE is case-sensitive: it becomes a GLOB (% -> *, _ -> ?, GLOB's own
 * specials bracketed). ILIKE stays a LIKE, which SQLite compares without case. */
static char *like_to_glob(const char *p) {
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

static const char *const op_sql[] = {
    [STORE_OP_EQ] = "=", [STORE_OP_NE] = "!=", [STORE_OP_LT] = "<",        [STORE_OP_LE] = "<=",
    [STORE_OP_GT] = ">", [STORE_OP_GE] = ">=", [STORE_OP_LIKE] = "GLOB",   [STORE_OP_ILIKE] = "LIKE",
    [STORE_OP_IN] = "IN", [STORE_OP_NOT_IN] = "NOT IN",
};

/* Appends "<col> <op> <value>" to the WHERE clause. */
static void cond_sql(qbuild *qb, const char *col, const store_track_cond *c) {
    and_(qb);
    if (c->op == STORE_OP_IN || c->op == STORE_OP_NOT_IN) {
        mp_buf_printf(&qb->where, "%s %s (", col, op_sql[c->op]);
        for (size_t i = 0; i < c->nlist; i++) mp_buf_printf(&qb->where, "%s?%d", i ? ", " : "", push_str(qb, c->list[i]));
        mp_buf_puts(&qb->where, ")");
        return;
    }
    int k;
    if (c->is_num) k = push_num(qb, c->num);
    else if (c->op == STORE_OP_LIKE) k = push_owned(qb, like_to_glob(c->str ? c->str : ""));
    else k = push_str(qb, c->str ? c->str : "");
    mp_buf_printf(&qb->where, "%s %s ?%d", col, op_sql[c->op], k);
}

/* ---- attribute columns --------------------------------------------------------------- */

static const char *const run_attrs[] = {"run_uuid", "name",         "status",  "start_time",
                                        "end_time", "artifact_uri", "user_id", "lifecycle_stage"};
static const char *const exp_attrs[] = {"experiment_id", "name", "creation_time", "last_update_time",
                                        "artifact_location", "lifecycle_stage"};

/* The fixed column name for key, or NULL (never the caller's string). */
static const char *attr_col(const char *const *tab, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (key && strcmp(tab[i], key) == 0) return tab[i];
    return NULL;
}

typedef struct target {
    const char *alias;               /* "r" or "x" */
    const char *id_col;              /* "run_uuid" or "experiment_id" */
    const char *const *attrs;
    size_t nattrs;
    const char *tab[STORE_TRACK_ATTR]; /* table per entity; NULL when not searchable */
} target;

static const target T_RUNS = {"r", "run_uuid", run_attrs, sizeof run_attrs / sizeof run_attrs[0],
                              {[STORE_TRACK_METRIC] = "mlflow_latest_metrics", [STORE_TRACK_PARAM] = "mlflow_params",
                               [STORE_TRACK_TAG] = "mlflow_tags"}};
static const target T_EXPS = {"x", "experiment_id", exp_attrs, sizeof exp_attrs / sizeof exp_attrs[0],
                              {[STORE_TRACK_TAG] = "mlflow_experiment_tags"}};

/* Adds the joins and conditions of the filter. drive >= 0 names the condition that
 * drives the query (already in FROM). */
static int filter_sql(qbuild *qb, const target *t, const store_track_filter *f, int drive, mp_err *e) {
    for (size_t i = 0; f && i < f->n; i++) {
        const store_track_cond *c = &f->conds[i];
        char col[64];
        if (c->entity == STORE_TRACK_ATTR) {
            const char *a = attr_col(t->attrs, t->nattrs, c->key);
            if (!a) return mp_err_set(e, MP_EINVAL, "Invalid attribute key '%s' specified.", c->key ? c->key : "");
            snprintf(col, sizeof col, "%s.%s", t->alias, a);
        } else {
            const char *tab = t->tab[c->entity];
            if (!tab) return mp_err_set(e, MP_EINVAL, "Invalid entity type in the search filter");
            snprintf(col, sizeof col, "c%zu.value", i);
            if ((int)i != drive)
                mp_buf_printf(&qb->from, " JOIN %s c%zu ON c%zu.%s = %s.%s AND c%zu.key = ?%d", tab, i, i, t->id_col,
                              t->alias, t->id_col, i, push_str(qb, c->key));
        }
        cond_sql(qb, col, c);
    }
    return 0;
}

/* Adds the order_by terms and then the tiebreaks (fixed text, e.g. "run_uuid"). */
static int order_sql(qbuild *qb, const target *t, const store_track_order *o, size_t n, int drive,
                     const char *const *tiebreak, size_t ntie, mp_err *e) {
    for (size_t j = 0; j < n; j++) {
        const char *dir = o[j].asc ? "ASC" : "DESC";
        const char *sep = qb->order.len ? ", " : " ORDER BY ";
        if (o[j].entity == STORE_TRACK_ATTR) {
            const char *a = attr_col(t->attrs, t->nattrs, o[j].key);
            if (!a) return mp_err_set(e, MP_EINVAL, "Invalid order_by attribute '%s'", o[j].key ? o[j].key : "");
            mp_buf_printf(&qb->order, "%s%s.%s %s", sep, t->alias, a, dir);
            continue;
        }
        const char *tab = t->tab[o[j].entity];
        if (!tab) return mp_err_set(e, MP_EINVAL, "Invalid order_by entity");
        if (j == 0 && drive >= 0) {
            mp_buf_printf(&qb->order, "%sc%d.value %s", sep, drive, dir);
            continue;
        }
        mp_buf_printf(&qb->from, " LEFT JOIN %s o%zu ON o%zu.%s = %s.%s AND o%zu.key = ?%d", tab, j, j, t->id_col,
                      t->alias, t->id_col, j, push_str(qb, o[j].key));
        /* missing values (and NaN metrics, stored as NULL) last in both directions */
        if (o[j].asc) mp_buf_printf(&qb->order, "%so%zu.value IS NULL, o%zu.value ASC", sep, j, j);
        else mp_buf_printf(&qb->order, "%so%zu.value DESC", sep, j);
    }
    for (size_t k = 0; k < ntie; k++) {
        const char *sep = qb->order.len ? ", " : " ORDER BY ";
        mp_buf_printf(&qb->order, "%s%s.%s", sep, t->alias, tiebreak[k]);
    }
    return 0;
}

static int bind_all(sqlite3_stmt *q, const qbuild *qb) {
    for (int i = 0; i < qb->nb; i++) {
        const bindv *v = &qb->b[i];
        int rc = v->type == SQLITE_TEXT    ? sqlite3_bind_text(q, i + 1, v->s, -1, SQLITE_STATIC)
                 : v->type == SQLITE_FLOAT ? sqlite3_bind_double(q, i + 1, v->d)
                                           : sqlite3_bind_int64(q, i + 1, v->i);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

/* Prepares "SELECT cols FROM ... WHERE ... ORDER BY ... LIMIT ? OFFSET ?". */
static int prepare(store *st, qbuild *qb, const char *cols, const store_track_query *q, sqlite3_stmt **out, mp_err *e) {
    int kl = push_int(qb, q->limit < 0 ? -1 : q->limit);
    int ko = push_int(qb, q->offset < 0 ? 0 : q->offset);
    char *sql = mp_xasprintf("SELECT %s FROM %s%s%s LIMIT ?%d OFFSET ?%d", cols, qb->from.data, qb->where.data,
                             qb->order.data, kl, ko);
    sqlite3 *db = store__db(st);
    int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
    if (rc == SQLITE_OK) rc = bind_all(*out, qb);
    free(sql);
    if (rc != SQLITE_OK) {
        store__save_err(st);
        sqlite3_finalize(*out);
        *out = NULL;
        return store__fail(st, e, rc, "cannot search");
    }
    return 0;
}

/* A search runs its query and then a few statements per row: one read transaction
 * around them all gives one snapshot and takes SQLite's shared lock once instead
 * of per statement. Inside the caller's begin() it is already so. */
static bool read_begin(store *st) {
    if (store__in_tx(st) || !sqlite3_get_autocommit(store__db(st))) return false;
    return sqlite3_exec(store__db(st), "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
}

static void read_end(store *st, bool own) {
    if (own) sqlite3_exec(store__db(st), "COMMIT", NULL, NULL, NULL);
}

static const char *view_stage(int view) {
    return view == STORE_VIEW_DELETED_ONLY ? "deleted" : view == STORE_VIEW_ALL ? NULL : "active";
}

/* ---- runs ---------------------------------------------------------------------------- */

/* The condition that can drive the query: one on the metric the first order_by sorts. */
static int driving_cond(const store_track_query *q) {
    if (!q->filter || q->norder == 0 || q->order[0].entity != STORE_TRACK_METRIC) return -1;
    for (size_t i = 0; i < q->filter->n; i++) {
        const store_track_cond *c = &q->filter->conds[i];
        if (c->entity == STORE_TRACK_METRIC && c->key && q->order[0].key && strcmp(c->key, q->order[0].key) == 0)
            return (int)i;
    }
    return -1;
}

int store__track_run_search(store *st, const store_track_query *q, store_track_run **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    qbuild qb;
    qb_init(&qb);
    int drive = driving_cond(q);
    if (drive >= 0)
        mp_buf_printf(&qb.from, "mlflow_latest_metrics c%d CROSS JOIN mlflow_runs r ON r.run_uuid = c%d.run_uuid", drive,
                      drive);
    else mp_buf_puts(&qb.from, "mlflow_runs r");
    if (drive >= 0) {
        and_(&qb);
        mp_buf_printf(&qb.where, "c%d.key = ?%d", drive, push_str(&qb, q->filter->conds[drive].key));
    }
    and_(&qb);
    mp_buf_puts(&qb.where, "r.experiment_id IN (");
    int nids = 0;
    for (size_t i = 0; i < q->nexperiment_ids; i++) {
        const char *s = q->experiment_ids[i];
        char *end = NULL;
        long long v = s && *s ? strtoll(s, &end, 10) : 0;
        if (!s || !*s || *end || v < 0) continue; /* not an id: matches nothing */
        mp_buf_printf(&qb.where, "%s?%d", nids++ ? ", " : "", push_int(&qb, v));
    }
    mp_buf_puts(&qb.where, ")");
    const char *stage = view_stage(q->view);
    if (stage) {
        and_(&qb);
        mp_buf_printf(&qb.where, "r.lifecycle_stage = ?%d", push_str(&qb, stage));
    }
    static const char *const tie[] = {"start_time DESC", "run_uuid"};
    static const char *const tie_cols[] = {"start_time", "run_uuid"};
    int rc = filter_sql(&qb, &T_RUNS, q->filter, drive, e);
    if (rc == 0) {
        /* tiebreaks: start_time DESC then run_uuid, unless already ordered by them */
        bool has[2] = {false, false};
        for (size_t j = 0; j < q->norder; j++)
            for (int k = 0; k < 2; k++)
                if (q->order[j].entity == STORE_TRACK_ATTR && q->order[j].key && strcmp(q->order[j].key, tie_cols[k]) == 0)
                    has[k] = true;
        const char *ties[2];
        size_t nt = 0;
        for (int k = 0; k < 2; k++)
            if (!has[k]) ties[nt++] = tie[k];
        rc = order_sql(&qb, &T_RUNS, q->order, q->norder, drive, ties, nt, e);
    }
    sqlite3_stmt *s = NULL;
    if (rc == 0) rc = prepare(st, &qb, STORE__TRACK_RUN_COLS, q, &s, e);
    if (rc != 0) {
        qb_free(&qb);
        return rc;
    }
    bool own = read_begin(st);
    store_track_run *v = NULL;
    size_t len = 0, cap = 0;
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            v = mp_xrealloc(v, cap * sizeof *v);
        }
        memset(&v[len], 0, sizeof v[len]);
        store__track_read_run(s, &v[len++]);
    }
    if (src != SQLITE_DONE) {
        store__save_err(st);
        rc = store__fail(st, e, src, "cannot search runs");
    }
    sqlite3_finalize(s);
    qb_free(&qb);
    for (size_t i = 0; i < len && rc == 0; i++) rc = store__track_load_run_data(st, &v[i], e);
    read_end(st, own);
    if (rc != 0) {
        store_track_run_array_free(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
}

/* ---- experiments --------------------------------------------------------------------- */

int store__track_experiment_search(store *st, const store_track_query *q, store_experiment **out, size_t *n,
                                   mp_err *e) {
    *out = NULL;
    *n = 0;
    qbuild qb;
    qb_init(&qb);
    mp_buf_puts(&qb.from, "mlflow_experiments x");
    const char *stage = view_stage(q->view);
    if (stage) {
        and_(&qb);
        mp_buf_printf(&qb.where, "x.lifecycle_stage = ?%d", push_str(&qb, stage));
    }
    int rc = filter_sql(&qb, &T_EXPS, q->filter, -1, e);
    if (rc == 0) {
        static const store_track_order dflt = {STORE_TRACK_ATTR, "creation_time", false};
        bool has_id = false;
        for (size_t j = 0; j < q->norder; j++)
            if (q->order[j].entity == STORE_TRACK_ATTR && q->order[j].key && strcmp(q->order[j].key, "experiment_id") == 0)
                has_id = true;
        static const char *const tie[] = {"experiment_id ASC"};
        rc = order_sql(&qb, &T_EXPS, q->norder ? q->order : &dflt, q->norder ? q->norder : 1, -1, tie, has_id ? 0 : 1,
                       e);
    }
    sqlite3_stmt *s = NULL;
    if (rc == 0) rc = prepare(st, &qb, STORE__TRACK_EXP_COLS, q, &s, e);
    if (rc != 0) {
        qb_free(&qb);
        return rc;
    }
    bool own = read_begin(st);
    store_experiment *v = NULL;
    size_t len = 0, cap = 0;
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            v = mp_xrealloc(v, cap * sizeof *v);
        }
        memset(&v[len], 0, sizeof v[len]);
        store__track_read_experiment(s, &v[len++]);
    }
    if (src != SQLITE_DONE) {
        store__save_err(st);
        rc = store__fail(st, e, src, "cannot search experiments");
    }
    sqlite3_finalize(s);
    qb_free(&qb);
    for (size_t i = 0; i < len && rc == 0; i++) rc = store__track_load_experiment_tags(st, &v[i], e);
    read_end(st, own);
    if (rc != 0) {
        store_experiment_array_free(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
}
