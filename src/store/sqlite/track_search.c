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
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the query being built ------------------------------------------------------- */

typedef struct qbuild {
    mp_buf from, where, order;
    store__binds b;
} qbuild;

static int push_str(qbuild *qb, const char *s) { return store__bind_str(&qb->b, s); }
static int push_int(qbuild *qb, int64_t i) { return store__bind_int(&qb->b, i); }

static void qb_init(qbuild *qb) {
    memset(qb, 0, sizeof *qb);
    mp_buf_init(&qb->from);
    mp_buf_init(&qb->where);
    mp_buf_init(&qb->order);
}

static void qb_free(qbuild *qb) {
    store__binds_free(&qb->b);
    mp_buf_free(&qb->from);
    mp_buf_free(&qb->where);
    mp_buf_free(&qb->order);
}

static void and_(qbuild *qb) { mp_buf_puts(&qb->where, qb->where.len ? " AND " : " WHERE "); }

/* MLflow's LIKE is case-sensitive: it becomes a GLOB (store__like_to_glob). ILIKE
 * stays a LIKE, which SQLite compares without case. */
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
    if (c->is_num) k = store__bind_num(&qb->b, c->num);
    else if (c->op == STORE_OP_LIKE) k = store__bind_owned(&qb->b, store__like_to_glob(c->str ? c->str : ""));
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

/* Prepares "SELECT cols FROM ... WHERE ... ORDER BY ... LIMIT ? OFFSET ?". */
static int prepare(store *st, qbuild *qb, const char *cols, const store_track_query *q, sqlite3_stmt **out, mp_err *e) {
    int kl = push_int(qb, q->limit < 0 ? -1 : q->limit);
    int ko = push_int(qb, q->offset < 0 ? 0 : q->offset);
    char *sql = mp_xasprintf("SELECT %s FROM %s%s%s LIMIT ?%d OFFSET ?%d", cols, qb->from.data, qb->where.data,
                             qb->order.data, kl, ko);
    sqlite3 *db = store__db(st);
    int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
    if (rc == SQLITE_OK) rc = store__binds_apply(*out, &qb->b);
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

/* Reads the rows of the prepared search s (and each row's data) inside one read
 * transaction, then frees qb. */
static int collect(store *st, sqlite3_stmt *s, qbuild *qb, const store__rows *rows, void **out, size_t *n,
                   mp_err *e) {
    bool own = read_begin(st);
    int rc = store__collect_rows(st, s, rows, out, n, e);
    read_end(st, own);
    qb_free(qb);
    return rc;
}

static void read_run(sqlite3_stmt *q, void *r) { store__track_read_run(q, r); }
static int load_run(store *st, void *r, mp_err *e) { return store__track_load_run_data(st, r, e); }
static void free_runs(void *v, size_t n) { store_track_run_array_free(v, n); }
static void read_experiment(sqlite3_stmt *q, void *x) { store__track_read_experiment(q, x); }
static int load_experiment(store *st, void *x, mp_err *e) { return store__track_load_experiment_tags(st, x, e); }
static void free_experiments(void *v, size_t n) { store_experiment_array_free(v, n); }

/* Whether an order_by term of q sorts by attribute col. */
static bool ordered_by(const store_track_query *q, const char *col) {
    for (size_t j = 0; j < q->norder; j++)
        if (q->order[j].entity == STORE_TRACK_ATTR && q->order[j].key && strcmp(q->order[j].key, col) == 0) return true;
    return false;
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
        const char *ties[2];
        size_t nt = 0;
        for (int k = 0; k < 2; k++)
            if (!ordered_by(q, tie_cols[k])) ties[nt++] = tie[k];
        rc = order_sql(&qb, &T_RUNS, q->order, q->norder, drive, ties, nt, e);
    }
    sqlite3_stmt *s = NULL;
    if (rc == 0) rc = prepare(st, &qb, STORE__TRACK_RUN_COLS, q, &s, e);
    if (rc != 0) {
        qb_free(&qb);
        return rc;
    }
    static const store__rows rows = {sizeof(store_track_run), read_run, load_run, free_runs, "runs"};
    void *v = NULL;
    rc = collect(st, s, &qb, &rows, &v, n, e);
    *out = v;
    return rc;
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
        bool has_id = ordered_by(q, "experiment_id");
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
    static const store__rows rows = {sizeof(store_experiment), read_experiment, load_experiment, free_experiments,
                                      "experiments"};
    void *v = NULL;
    rc = collect(st, s, &qb, &rows, &v, n, e);
    *out = v;
    return rc;
}
