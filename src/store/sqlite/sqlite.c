/* sqlite.c — the SQLite implementation of the store interface (store.h).
 *
 * One handle is one sqlite3 connection. Opening it sets:
 *   journal_mode=WAL   readers never block the writer and the writer never blocks
 *                      readers, so `mlplane get` works while a run executes, and
 *                      several processes may share one file;
 *   synchronous=NORMAL in WAL mode a commit is durable against a crash of the
 *                      process (the requirement: mlplane may be killed at any
 *                      moment) but the last commits may be lost on power loss or an
 *                      OS crash; FULL would fsync every commit and cap a run at a
 *                      few hundred state changes per second;
 *   busy_timeout       10 s ($MLPLANE_BUSY_TIMEOUT_MS): a writer waits for another
 *                      process' write lock;
 *   foreign_keys=ON    steps/events/metrics die with their run.
 * then runs the migrations (migrate.c) and prepares every statement once; each
 * method binds, steps and resets a cached statement, so one state change costs one
 * prepared-statement execution plus BEGIN/COMMIT (also prepared).
 *
 * Transactions: a write method runs in its own BEGIN IMMEDIATE ... COMMIT unless
 * the caller opened one with begin(); then it joins it and commit() makes the group
 * durable. BEGIN IMMEDIATE takes the write lock up front so a transaction never
 * fails half-way for a lock; when it still reports SQLITE_BUSY (the busy handler is
 * not used in some cases) it is retried with short sleeps for up to 10 s.
 * Invariant: every statement is reset before a method returns, so no read
 * transaction stays open between calls (it would pin an old snapshot and block
 * WAL checkpoints).
 *
 * Thread-safety: a handle belongs to the thread that uses it (the connection is
 * opened with SQLITE_OPEN_NOMUTEX); open one handle per thread or process. */
#include "store/sqlite/sqlite_int.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- statements ---------------------------------------------------------------- */

enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_RUN_INSERT,
    Q_RUN_GET,
    Q_RUN_PREFIX,
    Q_RUN_LIST,
    Q_RUN_UPDATE,
    Q_STEP_INSERT,
    Q_STEP_GET,
    Q_STEP_LIST,
    Q_STEP_UPDATE,
    Q_EVENT_APPEND,
    Q_EVENT_LIST,
    Q_METRIC_PUT,
    Q_METRIC_LIST,
    Q_CACHE_GET,
    Q_CACHE_PUT,
    Q_CACHE_DELETE,
    Q__COUNT
};

/* Column lists; the ?N of insert and update statements follow this order, so one
 * bind function serves both. */
#define RUN_COLS                                                                                  \
    "id, pipeline, namespace, state, spec_path, spec_yaml, params_json, created_ms, started_ms, " \
    "ended_ms, owner_pid, owner_start, parallel, cancel_requested, message, labels_json"
#define STEP_COLS                                                                                   \
    "run_id, name, idx, state, attempts, exit_code, started_ms, ended_ms, next_attempt_ms, pid, " \
    "cache_key, cached_from, outputs_dir, log_path, message, params_json"
#define P15 "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15"
#define P16 P15 ", ?16"

static const char *const sql_text[Q__COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_RUN_INSERT] = "INSERT INTO runs (" RUN_COLS ") VALUES (" P16 ")",
    [Q_RUN_GET] = "SELECT " RUN_COLS " FROM runs WHERE id = ?1",
    /* ids with ?1 as prefix: ?1 <= id < ?2, where ?2 is ?1 with its last byte
     * incremented (text compares bytewise, so no LIKE/GLOB escaping is needed). */
    [Q_RUN_PREFIX] = "SELECT id FROM runs WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 6",
    [Q_RUN_LIST] = "SELECT " RUN_COLS " FROM runs ORDER BY created_ms DESC, rowid DESC LIMIT ?1",
    [Q_RUN_UPDATE] = "UPDATE runs SET state = ?4, started_ms = ?9, ended_ms = ?10, owner_pid = ?11, "
                     "owner_start = ?12, parallel = ?13, cancel_requested = ?14, message = ?15 WHERE id = ?1",
    [Q_STEP_INSERT] = "INSERT INTO steps (" STEP_COLS ") VALUES (" P16 ")",
    [Q_STEP_GET] = "SELECT " STEP_COLS " FROM steps WHERE run_id = ?1 AND name = ?2",
    [Q_STEP_LIST] = "SELECT " STEP_COLS " FROM steps WHERE run_id = ?1 ORDER BY idx, name",
    [Q_STEP_UPDATE] = "UPDATE steps SET idx = ?3, state = ?4, attempts = ?5, exit_code = ?6, started_ms = ?7, "
                      "ended_ms = ?8, next_attempt_ms = ?9, pid = ?10, cache_key = ?11, cached_from = ?12, "
                      "outputs_dir = ?13, log_path = ?14, message = ?15, params_json = ?16 "
                      "WHERE run_id = ?1 AND name = ?2",
    [Q_EVENT_APPEND] = "INSERT INTO events (run_id, step, time_ms, type, message) VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_EVENT_LIST] = "SELECT id, run_id, step, time_ms, type, message FROM events "
                     "WHERE run_id = ?1 AND id > ?2 ORDER BY id",
    [Q_METRIC_PUT] = "INSERT INTO metrics (run_id, step, key, value) VALUES (?1, ?2, ?3, ?4) "
                     "ON CONFLICT (run_id, step, key) DO UPDATE SET value = excluded.value",
    [Q_METRIC_LIST] = "SELECT run_id, step, key, value FROM metrics WHERE run_id = ?1 ORDER BY step, key",
    [Q_CACHE_GET] = "SELECT key, run_id, step, outputs_dir, created_ms FROM cache WHERE key = ?1",
    [Q_CACHE_PUT] = "INSERT OR REPLACE INTO cache (key, run_id, step, outputs_dir, created_ms) "
                    "VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_CACHE_DELETE] = "DELETE FROM cache WHERE key = ?1",
};

typedef struct sq {
    store base; /* first: a store * is a sq * */
    sqlite3 *db;
    char *path;
    sqlite3_stmt *q[Q__COUNT];
    bool in_tx;         /* the caller's begin() is open */
    int64_t changes;    /* rows changed by the last successful write */
    int64_t rowid;      /* rowid inserted by it */
    char errmsg[512];   /* sqlite3_errmsg of the last failure, saved before a
                         * ROLLBACK overwrites it */
    store__ext ext[STORE__EXT_COUNT]; /* per-connection state of track/registry files */
    bool holds_writer;  /* this handle holds the process' writer mutex */
} sq;

static const store_methods sqlite_methods;

static sq *SQ(store *s) { return (sq *)s; }

/* ---- errors ---------------------------------------------------------------------- */

static void save_err(sq *s) { mp_strlcpy(s->errmsg, sqlite3_errmsg(s->db), sizeof s->errmsg); }

static int code_of(int rc) {
    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE: return MP_EEXIST;
    case SQLITE_CONSTRAINT_FOREIGNKEY: return MP_ENOENT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return MP_EBUSY; /* another writer held the lock past the busy timeout */
    default: return MP_ESTORE;
    }
}

/* Sets e to "store: <op>: <saved sqlite message>" with a code derived from rc. */
static int fail(sq *s, mp_err *e, int rc, const char *fmt, ...) MP_PRINTF(4, 5);
static int fail(sq *s, mp_err *e, int rc, const char *fmt, ...) {
    char op[MP_ERR_MSG / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op, sizeof op, fmt, ap);
    va_end(ap);
    return mp_err_set(e, code_of(rc), "store: %s: %s", op, s->errmsg);
}

/* ---- binding and reading ---------------------------------------------------------- */

static void bind_str(sqlite3_stmt *q, int i, const char *v) { sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC); }


static void done(sqlite3_stmt *q) {
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}

static void bind_run(sqlite3_stmt *q, const store_run *r) {
    bind_str(q, 1, r->id);
    bind_str(q, 2, r->pipeline);
    bind_str(q, 3, r->namespace_);
    sqlite3_bind_int(q, 4, r->state);
    bind_str(q, 5, r->spec_path);
    bind_str(q, 6, r->spec_yaml);
    bind_str(q, 7, r->params_json);
    sqlite3_bind_int64(q, 8, r->created_ms);
    sqlite3_bind_int64(q, 9, r->started_ms);
    sqlite3_bind_int64(q, 10, r->ended_ms);
    sqlite3_bind_int(q, 11, r->owner_pid);
    sqlite3_bind_int64(q, 12, r->owner_start);
    sqlite3_bind_int(q, 13, r->parallel);
    sqlite3_bind_int(q, 14, r->cancel_requested ? 1 : 0);
    bind_str(q, 15, r->message);
    bind_str(q, 16, r->labels_json); /* insert only: the update does not name ?16 */
}

static void read_run(sqlite3_stmt *q, void *dst) {
    store_run *r = dst;
    r->id = store__col_str(q, 0);
    r->pipeline = store__col_str(q, 1);
    r->namespace_ = store__col_str(q, 2);
    r->state = sqlite3_column_int(q, 3);
    r->spec_path = store__col_str(q, 4);
    r->spec_yaml = store__col_str(q, 5);
    r->params_json = store__col_str(q, 6);
    r->created_ms = sqlite3_column_int64(q, 7);
    r->started_ms = sqlite3_column_int64(q, 8);
    r->ended_ms = sqlite3_column_int64(q, 9);
    r->owner_pid = sqlite3_column_int(q, 10);
    r->owner_start = sqlite3_column_int64(q, 11);
    r->parallel = sqlite3_column_int(q, 12);
    r->cancel_requested = sqlite3_column_int(q, 13) != 0;
    r->message = store__col_str(q, 14);
    r->labels_json = store__col_str(q, 15);
}

static void bind_step(sqlite3_stmt *q, const store_step *st) {
    bind_str(q, 1, st->run_id);
    bind_str(q, 2, st->name);
    sqlite3_bind_int(q, 3, st->idx);
    sqlite3_bind_int(q, 4, st->state);
    sqlite3_bind_int(q, 5, st->attempts);
    sqlite3_bind_int(q, 6, st->exit_code);
    sqlite3_bind_int64(q, 7, st->started_ms);
    sqlite3_bind_int64(q, 8, st->ended_ms);
    sqlite3_bind_int64(q, 9, st->next_attempt_ms);
    sqlite3_bind_int(q, 10, st->pid);
    bind_str(q, 11, st->cache_key);
    bind_str(q, 12, st->cached_from);
    bind_str(q, 13, st->outputs_dir);
    bind_str(q, 14, st->log_path);
    bind_str(q, 15, st->message);
    bind_str(q, 16, st->params_json);
}

static void read_step(sqlite3_stmt *q, void *dst) {
    store_step *st = dst;
    st->run_id = store__col_str(q, 0);
    st->name = store__col_str(q, 1);
    st->idx = sqlite3_column_int(q, 2);
    st->state = sqlite3_column_int(q, 3);
    st->attempts = sqlite3_column_int(q, 4);
    st->exit_code = sqlite3_column_int(q, 5);
    st->started_ms = sqlite3_column_int64(q, 6);
    st->ended_ms = sqlite3_column_int64(q, 7);
    st->next_attempt_ms = sqlite3_column_int64(q, 8);
    st->pid = sqlite3_column_int(q, 9);
    st->cache_key = store__col_str(q, 10);
    st->cached_from = store__col_str(q, 11);
    st->outputs_dir = store__col_str(q, 12);
    st->log_path = store__col_str(q, 13);
    st->message = store__col_str(q, 14);
    st->params_json = store__col_str(q, 15);
}

static void read_event(sqlite3_stmt *q, void *dst) {
    store_event *ev = dst;
    ev->id = sqlite3_column_int64(q, 0);
    ev->run_id = store__col_str(q, 1);
    ev->step = store__col_str(q, 2);
    ev->time_ms = sqlite3_column_int64(q, 3);
    ev->type = store__col_str(q, 4);
    ev->message = store__col_str(q, 5);
}

static void read_metric(sqlite3_stmt *q, void *dst) {
    store_metric *m = dst;
    m->run_id = store__col_str(q, 0);
    m->step = store__col_str(q, 1);
    m->key = store__col_str(q, 2);
    m->value = sqlite3_column_type(q, 3) == SQLITE_TEXT ? NAN : sqlite3_column_double(q, 3);
}

static void read_cache(sqlite3_stmt *q, void *dst) {
    store_cache_entry *c = dst;
    c->key = store__col_str(q, 0);
    c->run_id = store__col_str(q, 1);
    c->step = store__col_str(q, 2);
    c->outputs_dir = store__col_str(q, 3);
    c->created_ms = sqlite3_column_int64(q, 4);
}

static void free_run(void *p) { store_run_free(p); }
static void free_step(void *p) { store_step_free(p); }
static void free_event(void *p) { store_event_free(p); }
static void free_metric(void *p) { store_metric_free(p); }

/* How to read one kind of record from a result row. */
typedef struct row_kind {
    size_t size;
    void (*read)(sqlite3_stmt *q, void *dst);
    void (*free)(void *p);
} row_kind;

static const row_kind K_RUN = {sizeof(store_run), read_run, free_run};
static const row_kind K_STEP = {sizeof(store_step), read_step, free_step};
static const row_kind K_EVENT = {sizeof(store_event), read_event, free_event};
static const row_kind K_METRIC = {sizeof(store_metric), read_metric, free_metric};

/* Steps the bound query q for at most one row, read into dst (zeroed first).
 * Returns SQLITE_ROW (found), SQLITE_DONE (none) or an error code with the message
 * saved. Resets q. */
static int read_one(sq *s, sqlite3_stmt *q, void (*read)(sqlite3_stmt *, void *), void *dst, size_t size) {
    memset(dst, 0, size);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) read(q, dst);
    else if (rc != SQLITE_DONE) save_err(s);
    done(q);
    return rc;
}

/* Steps the bound query q to the end, reading every row into a new array.
 * Returns SQLITE_DONE with *out and *n set (NULL/0 when no rows), or an error code
 * with the message saved and nothing allocated. Resets q. */
static int read_all(sq *s, sqlite3_stmt *q, const row_kind *k, void **out, size_t *n) {
    void *v = NULL;
    size_t len = 0;
    int rc = store__collect(q, k->size, k->read, &v, &len);
    char *arr = v;
    if (rc != SQLITE_DONE) {
        save_err(s);
        for (size_t i = 0; i < len; i++) k->free(arr + i * k->size);
        free(arr);
        arr = NULL;
        len = 0;
    }
    done(q);
    *out = arr;
    *n = len;
    return rc;
}

/* ---- transactions ------------------------------------------------------------------- */

/* Writers of one process queue on this mutex before BEGIN IMMEDIATE: a thread
 * waiting for SQLite's write lock would sleep in the busy handler in steps of
 * up to 100 ms, while one waiting here wakes as soon as the lock is free. Other
 * processes still meet at SQLite's lock (busy_timeout). A timed lock keeps one
 * thread holding two handles on the same file from deadlocking with itself. */
static pthread_mutex_t writer_mutex = PTHREAD_MUTEX_INITIALIZER;

static void writer_enter(sq *s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    s->holds_writer = pthread_mutex_timedlock(&writer_mutex, &ts) == 0;
}

static void writer_leave(sq *s) {
    if (s->holds_writer) pthread_mutex_unlock(&writer_mutex);
    s->holds_writer = false;
}

static void rollback_now(sq *s) {
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_step(s->q[Q_ROLLBACK]);
        sqlite3_reset(s->q[Q_ROLLBACK]);
    }
}

/* Runs the bound write statement q: inside the caller's transaction when begin()
 * is open, else in its own BEGIN IMMEDIATE ... COMMIT. Returns SQLITE_DONE with
 * s->changes and s->rowid set, or an error code with the message saved (and its own
 * transaction rolled back). Resets q. */
static int run_write(sq *s, sqlite3_stmt *q) {
    bool own = !s->in_tx;
    int rc;
    if (!own && sqlite3_get_autocommit(s->db)) {
        /* SQLite rolled the caller's transaction back after an error (e.g. disk
         * full); writing now would silently autocommit outside the group. */
        mp_strlcpy(s->errmsg, "the transaction was rolled back after an earlier error", sizeof s->errmsg);
        done(q);
        return SQLITE_ABORT;
    }
    if (own) {
        writer_enter(s);
        rc = store__step_busy(s->q[Q_BEGIN]);
        if (rc != SQLITE_DONE) save_err(s);
        sqlite3_reset(s->q[Q_BEGIN]);
        if (rc != SQLITE_DONE) {
            writer_leave(s);
            done(q);
            return rc;
        }
    }
    rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        s->changes = sqlite3_changes(s->db);
        s->rowid = sqlite3_last_insert_rowid(s->db);
    } else {
        save_err(s);
    }
    done(q);
    if (!own) return rc;
    if (rc == SQLITE_DONE) {
        rc = store__step_busy(s->q[Q_COMMIT]);
        if (rc != SQLITE_DONE) save_err(s);
        sqlite3_reset(s->q[Q_COMMIT]);
    }
    if (rc != SQLITE_DONE) rollback_now(s);
    writer_leave(s);
    return rc;
}

static int sq_begin(store *st, mp_err *e) {
    sq *s = SQ(st);
    if (s->in_tx) return mp_err_set(e, MP_EINTERNAL, "store: begin: a transaction is already open");
    writer_enter(s);
    int rc = store__step_busy(s->q[Q_BEGIN]);
    if (rc != SQLITE_DONE) save_err(s);
    sqlite3_reset(s->q[Q_BEGIN]);
    if (rc != SQLITE_DONE) {
        writer_leave(s);
        return fail(s, e, rc, "cannot begin a transaction on %s", s->path);
    }
    s->in_tx = true;
    return 0;
}

/* Closes the caller's transaction whatever happens: committed on success, rolled
 * back on failure. */
static int sq_commit(store *st, mp_err *e) {
    sq *s = SQ(st);
    if (!s->in_tx) return mp_err_set(e, MP_EINTERNAL, "store: commit without begin");
    s->in_tx = false;
    if (sqlite3_get_autocommit(s->db)) {
        writer_leave(s);
        return mp_err_set(e, MP_ESTORE, "store: cannot commit: the transaction was rolled back after an earlier error");
    }
    int rc = store__step_busy(s->q[Q_COMMIT]);
    if (rc != SQLITE_DONE) save_err(s);
    sqlite3_reset(s->q[Q_COMMIT]);
    if (rc != SQLITE_DONE) {
        rollback_now(s);
        writer_leave(s);
        return fail(s, e, rc, "cannot commit a transaction on %s", s->path);
    }
    writer_leave(s);
    return 0;
}

static void sq_rollback(store *st) {
    sq *s = SQ(st);
    if (!s->in_tx) return;
    s->in_tx = false;
    rollback_now(s);
    writer_leave(s);
}

/* ---- runs ------------------------------------------------------------------------------ */

static int sq_run_insert(store *st, const store_run *r, mp_err *e) {
    sq *s = SQ(st);
    if (!r->id || !*r->id) return mp_err_set(e, MP_EINVAL, "store: cannot insert a run without an id");
    bind_run(s->q[Q_RUN_INSERT], r);
    int rc = run_write(s, s->q[Q_RUN_INSERT]);
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot insert run \"%s\"", r->id);
    return 0;
}

/* The smallest string greater than every string with prefix p (p with its last
 * byte below 0xff incremented and the rest cut), or NULL when there is none. */
static char *prefix_upper(const char *p) {
    size_t n = strlen(p);
    while (n > 0 && (unsigned char)p[n - 1] == 0xff) n--;
    if (n == 0) return NULL;
    char *u = mp_xstrndup(p, n);
    u[n - 1] = (char)((unsigned char)u[n - 1] + 1);
    return u;
}

/* Finds the ids starting with prefix (at most 6). */
static int run_ids_with_prefix(sq *s, const char *prefix, mp_strv *ids) {
    sqlite3_stmt *q = s->q[Q_RUN_PREFIX];
    char *upper = prefix_upper(prefix);
    bind_str(q, 1, prefix);
    if (upper) bind_str(q, 2, upper);
    else sqlite3_bind_zeroblob(q, 2, 0); /* every text sorts below a blob */
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) mp_strv_push(ids, (const char *)sqlite3_column_text(q, 0));
    if (rc != SQLITE_DONE) save_err(s);
    done(q);
    free(upper);
    return rc;
}

static int sq_run_get(store *st, const char *id, store_run *out, mp_err *e) {
    sq *s = SQ(st);
    memset(out, 0, sizeof *out);
    if (!id || !*id) return mp_err_set(e, MP_EINVAL, "store: empty run id");
    sqlite3_stmt *q = s->q[Q_RUN_GET];
    bind_str(q, 1, id);
    int rc = read_one(s, q, read_run, out, sizeof *out);
    if (rc == SQLITE_ROW) return 0;
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot read run \"%s\"", id);

    mp_strv ids = {0};
    rc = run_ids_with_prefix(s, id, &ids);
    int ret = 0;
    if (rc != SQLITE_DONE) {
        ret = fail(s, e, rc, "cannot look up run \"%s\"", id);
    } else if (ids.n == 0) {
        ret = mp_err_set(e, MP_ENOENT, "no run \"%s\" (see mlplane get runs)", id);
    } else if (ids.n > 1) {
        mp_buf b;
        mp_buf_init(&b);
        for (size_t i = 0; i < ids.n && i < 5; i++) mp_buf_printf(&b, "%s%s", i ? ", " : "", ids.v[i]);
        if (ids.n > 5) mp_buf_puts(&b, ", ...");
        ret = mp_err_set(e, MP_EINVAL, "run id \"%s\" is ambiguous: it matches %s; give more characters", id, b.data);
        mp_buf_free(&b);
    } else {
        bind_str(q, 1, ids.v[0]);
        rc = read_one(s, q, read_run, out, sizeof *out);
        if (rc == SQLITE_DONE) /* deleted in between */
            ret = mp_err_set(e, MP_ENOENT, "no run \"%s\" (see mlplane get runs)", id);
        else if (rc != SQLITE_ROW)
            ret = fail(s, e, rc, "cannot read run \"%s\"", ids.v[0]);
    }
    mp_strv_free(&ids);
    return ret;
}

static int sq_run_list(store *st, size_t limit, store_run **out, size_t *n, mp_err *e) {
    sq *s = SQ(st);
    sqlite3_stmt *q = s->q[Q_RUN_LIST];
    sqlite3_bind_int64(q, 1, limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit);
    int rc = read_all(s, q, &K_RUN, (void **)out, n);
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot list runs");
    return 0;
}

static int sq_run_update(store *st, const store_run *r, mp_err *e) {
    sq *s = SQ(st);
    if (!r->id) return mp_err_set(e, MP_EINVAL, "store: cannot update a run without an id");
    bind_run(s->q[Q_RUN_UPDATE], r);
    int rc = run_write(s, s->q[Q_RUN_UPDATE]);
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot update run \"%s\"", r->id);
    if (s->changes == 0) return mp_err_set(e, MP_ENOENT, "store: cannot update run \"%s\": no such run", r->id);
    return 0;
}

/* ---- steps ------------------------------------------------------------------------------ */

static int sq_step_insert(store *st, const store_step *x, mp_err *e) {
    sq *s = SQ(st);
    if (!x->run_id || !x->name) return mp_err_set(e, MP_EINVAL, "store: cannot insert a step without run id and name");
    bind_step(s->q[Q_STEP_INSERT], x);
    int rc = run_write(s, s->q[Q_STEP_INSERT]);
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot insert step \"%s\" of run \"%s\"", x->name, x->run_id);
    return 0;
}

static int sq_step_get(store *st, const char *run_id, const char *name, store_step *out, mp_err *e) {
    sq *s = SQ(st);
    if (!run_id || !name) {
        memset(out, 0, sizeof *out);
        return mp_err_set(e, MP_EINVAL, "store: a step is named by run id and name");
    }
    sqlite3_stmt *q = s->q[Q_STEP_GET];
    bind_str(q, 1, run_id);
    bind_str(q, 2, name);
    int rc = read_one(s, q, read_step, out, sizeof *out);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return mp_err_set(e, MP_ENOENT, "no step \"%s\" in run \"%s\"", name, run_id);
    return fail(s, e, rc, "cannot read step \"%s\" of run \"%s\"", name, run_id);
}

static int sq_step_list(store *st, const char *run_id, store_step **out, size_t *n, mp_err *e) {
    sq *s = SQ(st);
    sqlite3_stmt *q = s->q[Q_STEP_LIST];
    bind_str(q, 1, run_id);
    int rc = read_all(s, q, &K_STEP, (void **)out, n);
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot list the steps of run \"%s\"", run_id);
    return 0;
}

static int sq_step_update(store *st, const store_step *x, mp_err *e) {
    sq *s = SQ(st);
    if (!x->run_id || !x->name) return mp_err_set(e, MP_EINVAL, "store: cannot update a step without run id and name");
    bind_step(s->q[Q_STEP_UPDATE], x);
    int rc = run_write(s, s->q[Q_STEP_UPDATE]);
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot update step \"%s\" of run \"%s\"", x->name, x->run_id);
    if (s->changes == 0)
        return mp_err_set(e, MP_ENOENT, "store: cannot update step \"%s\" of run \"%s\": no such step", x->name, x->run_id);
    return 0;
}

/* ---- events ------------------------------------------------------------------------------ */

static int sq_event_append(store *st, store_event *ev, mp_err *e) {
    sq *s = SQ(st);
    if (!ev->run_id || !ev->type) return mp_err_set(e, MP_EINVAL, "store: cannot append an event without run id and type");
    if (ev->time_ms == 0) ev->time_ms = mp_now_ms();
    sqlite3_stmt *q = s->q[Q_EVENT_APPEND];
    bind_str(q, 1, ev->run_id);
    bind_str(q, 2, ev->step);
    sqlite3_bind_int64(q, 3, ev->time_ms);
    bind_str(q, 4, ev->type);
    bind_str(q, 5, ev->message);
    int rc = run_write(s, q);
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot append event %s to run \"%s\"", ev->type, ev->run_id);
    ev->id = s->rowid;
    return 0;
}

static int sq_event_list(store *st, const char *run_id, int64_t after_id, store_event **out, size_t *n, mp_err *e) {
    sq *s = SQ(st);
    sqlite3_stmt *q = s->q[Q_EVENT_LIST];
    bind_str(q, 1, run_id);
    sqlite3_bind_int64(q, 2, after_id);
    int rc = read_all(s, q, &K_EVENT, (void **)out, n);
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot list the events of run \"%s\"", run_id);
    return 0;
}

/* ---- metrics ----------------------------------------------------------------------------- */

/* A NULL step (a run-level metric) is stored, and read back, as "". */
static int sq_metric_put(store *st, const store_metric *m, mp_err *e) {
    sq *s = SQ(st);
    if (!m->run_id || !m->key) return mp_err_set(e, MP_EINVAL, "store: cannot record a metric without run id and key");
    sqlite3_stmt *q = s->q[Q_METRIC_PUT];
    bind_str(q, 1, m->run_id);
    bind_str(q, 2, m->step ? m->step : "");
    bind_str(q, 3, m->key);
    if (isnan(m->value)) sqlite3_bind_text(q, 4, "NaN", -1, SQLITE_STATIC); /* REAL cannot hold NaN */
    else sqlite3_bind_double(q, 4, m->value);
    int rc = run_write(s, q);
    if (rc != SQLITE_DONE)
        return fail(s, e, rc, "cannot record metric \"%s\" of step \"%s\" of run \"%s\"", m->key, m->step ? m->step : "",
                    m->run_id);
    return 0;
}

static int sq_metric_list(store *st, const char *run_id, store_metric **out, size_t *n, mp_err *e) {
    sq *s = SQ(st);
    sqlite3_stmt *q = s->q[Q_METRIC_LIST];
    bind_str(q, 1, run_id);
    int rc = read_all(s, q, &K_METRIC, (void **)out, n);
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot list the metrics of run \"%s\"", run_id);
    return 0;
}

/* ---- cache ------------------------------------------------------------------------------- */

static int sq_cache_get(store *st, const char *key, store_cache_entry *out, mp_err *e) {
    sq *s = SQ(st);
    sqlite3_stmt *q = s->q[Q_CACHE_GET];
    bind_str(q, 1, key);
    int rc = read_one(s, q, read_cache, out, sizeof *out);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return mp_err_set(e, MP_ENOENT, "no cache entry %s", key ? key : "(none)");
    return fail(s, e, rc, "cannot read cache entry %s", key ? key : "(none)");
}

static int sq_cache_put(store *st, const store_cache_entry *c, mp_err *e) {
    sq *s = SQ(st);
    if (!c->key || !c->run_id || !c->step || !c->outputs_dir)
        return mp_err_set(e, MP_EINVAL, "store: a cache entry needs key, run id, step and outputs dir");
    sqlite3_stmt *q = s->q[Q_CACHE_PUT];
    bind_str(q, 1, c->key);
    bind_str(q, 2, c->run_id);
    bind_str(q, 3, c->step);
    bind_str(q, 4, c->outputs_dir);
    sqlite3_bind_int64(q, 5, c->created_ms ? c->created_ms : mp_now_ms());
    int rc = run_write(s, q);
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot store cache entry %s", c->key);
    return 0;
}

/* Deleting an unknown key is not an error. */
static int sq_cache_delete(store *st, const char *key, mp_err *e) {
    sq *s = SQ(st);
    sqlite3_stmt *q = s->q[Q_CACHE_DELETE];
    bind_str(q, 1, key);
    int rc = run_write(s, q);
    if (rc != SQLITE_DONE) return fail(s, e, rc, "cannot delete cache entry %s", key ? key : "(none)");
    return 0;
}

/* ---- open and close ---------------------------------------------------------------------- */

static void sq_close(store *st) {
    if (!st) return;
    sq *s = SQ(st);
    if (s->in_tx) sq_rollback(st);
    for (int i = 0; i < STORE__EXT_COUNT; i++)
        if (s->ext[i].free) s->ext[i].free(s->ext[i].data);
    for (int i = 0; i < Q__COUNT; i++) sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static const store_methods sqlite_methods = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .run_insert = sq_run_insert,
    .run_get = sq_run_get,
    .run_list = sq_run_list,
    .run_update = sq_run_update,
    .step_insert = sq_step_insert,
    .step_get = sq_step_get,
    .step_list = sq_step_list,
    .step_update = sq_step_update,
    .event_append = sq_event_append,
    .event_list = sq_event_list,
    .metric_put = sq_metric_put,
    .metric_list = sq_metric_list,
    .cache_get = sq_cache_get,
    .cache_put = sq_cache_put,
    .cache_delete = sq_cache_delete,
    .data_version = store__data_version,
    .in_tx = store__in_tx,
    .run_delete = store__run_delete,
    .stats = store__stats,
    .artifact_put = store__artifact_put,
    .artifact_list = store__artifact_list,
};

/* Sets the connection's pragmas; WAL must really be on (it is not on some network
 * file systems), except for an in-memory database. */
static int configure(sqlite3 *db, const char *path, mp_err *e) {
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, store__busy_ms());
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &q, NULL);
    if (rc == SQLITE_OK) rc = store__step_busy(q);
    if (rc != SQLITE_ROW) {
        mp_err_set(e, MP_ESTORE, "store: cannot set WAL mode on %s: %s", path, sqlite3_errmsg(db));
        sqlite3_finalize(q);
        return MP_ESTORE;
    }
    const char *mode = (const char *)sqlite3_column_text(q, 0);
    bool ok = mode && (strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0);
    if (!ok)
        mp_err_set(e, MP_ESTORE, "store: %s cannot use WAL mode (journal mode is %s); put the mlplane home on a local disk",
                   path, mode ? mode : "unknown");
    sqlite3_finalize(q);
    if (!ok) return MP_ESTORE;
    char *msg = NULL;
    if (sqlite3_exec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536", NULL, NULL, &msg) != SQLITE_OK) {
        mp_err_set(e, MP_ESTORE, "store: cannot configure %s: %s", path, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return MP_ESTORE;
    }
    return 0;
}

int store_sqlite_open(const char *path, store **out, mp_err *e) {
    *out = NULL;
    if (!path || !*path) return mp_err_set(e, MP_EINVAL, "store: empty database path");
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        mp_err_set(e, MP_ESTORE, "store: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return MP_ESTORE;
    }
    store__profile_attach(db);
    if (configure(db, path, e) != 0 || store__migrate(db, path, e) != 0) {
        sqlite3_close(db);
        return MP_ESTORE;
    }
    sq *s = mp_xcalloc(1, sizeof *s);
    s->base.m = &sqlite_methods;
    s->base.w = &store__sqlite_workload;
    s->base.o = &store__sqlite_objects;
    s->base.t = &store__sqlite_track;
    s->base.r = &store__sqlite_registry;
    s->base.a = &store__sqlite_auth;
    s->db = db;
    s->path = mp_xstrdup(path);
    for (int i = 0; i < Q__COUNT; i++) {
        if (sqlite3_prepare_v3(db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) != SQLITE_OK) {
            mp_err_set(e, MP_ESTORE, "store: cannot prepare statement %d on %s: %s", i, path, sqlite3_errmsg(db));
            sq_close(&s->base);
            return MP_ESTORE;
        }
    }
    *out = &s->base;
    return 0;
}

int store_sqlite_user_version(store *st) {
    if (!st || st->m != &sqlite_methods) return -1;
    return store__user_version(SQ(st)->db);
}

/* ---- for the other files of the SQLite store (sqlite_int.h) ----------------------- */

sqlite3 *store__db(store *st) { return SQ(st)->db; }

store__ext *store__ext_slot(store *st, int slot) { return &SQ(st)->ext[slot]; }


int store__write(store *st, sqlite3_stmt *q) { return run_write(SQ(st), q); }

void store__save_err(store *st) { save_err(SQ(st)); }

int store__fail(store *st, mp_err *e, int rc, const char *fmt, ...) {
    char op[MP_ERR_MSG / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op, sizeof op, fmt, ap);
    va_end(ap);
    return mp_err_set(e, code_of(rc), "store: %s: %s", op, SQ(st)->errmsg);
}

bool store__in_tx(store *st) { return SQ(st)->in_tx; }

int64_t store__changes(store *st) { return SQ(st)->changes; }
