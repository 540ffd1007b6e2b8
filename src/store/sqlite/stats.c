/* stats.c — what GET /metrics of `mlplane server` reads from the store: runs
 * and steps by pipeline and state, the durations of the steps that ran as a
 * histogram by pipeline, registered model versions by stage, and the steps that
 * data validation failed (their DataValidationFailed events) by pipeline. Each is one
 * aggregate query (GROUP BY; the histogram's buckets are SUM(CASE ...) columns
 * over util/prom.h's bounds), however many runs there are; the four run in one
 * read transaction, so they agree with each other.
 *
 * Also the store's latency: SQLite's trace callback (sqlite3_trace_v2: a
 * statement's start, then its end) times each statement a connection runs into
 * process-wide histograms by the statement's kind, once store_profile_enable
 * was called (mlplane server calls it; other commands pay nothing).
 *
 * Threads: store__stats uses the handle it is given (one per thread, as every
 * method). The profile histograms are atomics written by whichever thread runs
 * a statement, which notes its statements' start times in thread-local slots; the enable flag is atomic and read when a connection opens. */
#include "store/sqlite/sqlite_int.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the counts ------------------------------------------------------------------- */

static const char sql_runs[] = "SELECT COALESCE(pipeline, ''), state, COUNT(*) FROM runs GROUP BY 1, 2 ORDER BY 1, 2";
static const char sql_steps[] = "SELECT COALESCE(r.pipeline, ''), s.state, COUNT(*) FROM steps s JOIN runs r ON r.id = s.run_id "
                                "GROUP BY 1, 2 ORDER BY 1, 2";
static const char sql_versions[] = "SELECT current_stage, COUNT(*) FROM reg_versions GROUP BY 1 ORDER BY 1";
static const char sql_validation[] = "SELECT COALESCE(r.pipeline, ''), COUNT(*) FROM events e JOIN runs r ON r.id = e.run_id "
                                     "WHERE e.type = 'DataValidationFailed' GROUP BY 1 ORDER BY 1";

void store_stats_free(store_stats *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nruns; i++) free(s->runs[i].key);
    for (size_t i = 0; i < s->nsteps; i++) free(s->steps[i].key);
    for (size_t i = 0; i < s->nversions; i++) free(s->versions[i].key);
    for (size_t i = 0; i < s->nstep_durations; i++) free(s->step_durations[i].key);
    for (size_t i = 0; i < s->nvalidation_failures; i++) free(s->validation_failures[i].key);
    free(s->validation_failures);
    free(s->runs);
    free(s->steps);
    free(s->versions);
    free(s->step_durations);
    memset(s, 0, sizeof *s);
}

static char *col_text(sqlite3_stmt *q, int i) {
    const unsigned char *t = sqlite3_column_text(q, i);
    return mp_xstrdup(t ? (const char *)t : "");
}

/* Runs sql and reads (key, [state,] n) rows; with_state: the second column is a state. */
static int read_counts(store *st, const char *sql, bool with_state, store_count **out, size_t *n, mp_err *e) {
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(store__db(st), sql, -1, &q, NULL);
    size_t cap = 0;
    for (rc = rc == SQLITE_OK ? store__step_busy(q) : rc; rc == SQLITE_ROW; rc = store__step_busy(q)) {
        if (*n == cap) *out = mp_xrealloc(*out, (cap = cap ? cap * 2 : 16) * sizeof **out);
        store_count *c = &(*out)[(*n)++];
        memset(c, 0, sizeof *c);
        c->key = col_text(q, 0);
        if (with_state) c->key_state = sqlite3_column_int(q, 1);
        c->n = sqlite3_column_int64(q, with_state ? 2 : 1);
    }
    if (rc != SQLITE_DONE) {
        store__save_err(st);
        sqlite3_finalize(q);
        return store__fail(st, e, rc, "cannot count for metrics");
    }
    sqlite3_finalize(q);
    return 0;
}

/* SELECT pipeline, SUM(d <= b0), ..., SUM(d <= b14), COUNT(*), SUM(d) over the steps that ran and ended. */
static char *durations_sql(void) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_puts(&b, "SELECT p");
    for (int i = 0; i < MP_PROM_NBUCKETS; i++) mp_buf_printf(&b, ", SUM(d <= %.6f)", mp_prom_bucket_le[i] * 1000.0);
    mp_buf_printf(&b, ", COUNT(*), SUM(d) FROM (SELECT COALESCE(r.pipeline, '') AS p, s.ended_ms - s.started_ms AS d "
                      "FROM steps s JOIN runs r ON r.id = s.run_id WHERE s.started_ms > 0 AND s.ended_ms >= s.started_ms "
                      "AND s.state IN (%d, %d, %d, %d)) GROUP BY p ORDER BY p",
                  STEP_SUCCEEDED, STEP_FAILED, STEP_CANCELLED, STEP_STOPPED);
    return mp_buf_steal(&b);
}

static int read_durations(store *st, store_stats *out, mp_err *e) {
    char *sql = durations_sql();
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(store__db(st), sql, -1, &q, NULL);
    free(sql);
    size_t cap = 0;
    for (rc = rc == SQLITE_OK ? store__step_busy(q) : rc; rc == SQLITE_ROW; rc = store__step_busy(q)) {
        if (out->nstep_durations == cap)
            out->step_durations = mp_xrealloc(out->step_durations, (cap = cap ? cap * 2 : 8) * sizeof *out->step_durations);
        store_duration_hist *h = &out->step_durations[out->nstep_durations++];
        memset(h, 0, sizeof *h);
        h->key = col_text(q, 0);
        uint64_t prev = 0;
        for (int i = 0; i <= MP_PROM_NBUCKETS; i++) { /* cumulative in SQL, per bucket here */
            uint64_t cum = (uint64_t)sqlite3_column_int64(q, 1 + i);
            h->counts[i] = cum >= prev ? cum - prev : 0;
            prev = cum;
        }
        h->sum_s = sqlite3_column_double(q, 2 + MP_PROM_NBUCKETS) / 1000.0;
    }
    if (rc != SQLITE_DONE) {
        store__save_err(st);
        sqlite3_finalize(q);
        return store__fail(st, e, rc, "cannot read step durations for metrics");
    }
    sqlite3_finalize(q);
    return 0;
}

int store__stats(store *st, store_stats *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    bool own = !store__in_tx(st);
    if (own && sqlite3_exec(store__db(st), "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        store__save_err(st);
        return store__fail(st, e, sqlite3_errcode(store__db(st)), "cannot begin a read");
    }
    int rc = read_counts(st, sql_runs, true, &out->runs, &out->nruns, e);
    if (rc == 0) rc = read_counts(st, sql_steps, true, &out->steps, &out->nsteps, e);
    if (rc == 0) rc = read_durations(st, out, e);
    if (rc == 0) rc = read_counts(st, sql_versions, false, &out->versions, &out->nversions, e);
    if (rc == 0) rc = read_counts(st, sql_validation, false, &out->validation_failures, &out->nvalidation_failures, e);
    if (own) sqlite3_exec(store__db(st), "COMMIT", NULL, NULL, NULL); /* a read: nothing to lose */
    if (rc != 0) store_stats_free(out);
    return rc;
}

/* ---- statement latency ----------------------------------------------------------------- */

const char *const store_profile_ops[STORE_PROFILE_OPS] = {"select", "insert", "update", "delete",
                                                          "begin",  "commit", "rollback", "other"};
static mp_prom_hist profile_hists[STORE_PROFILE_OPS];
static atomic_bool profile_on;

void store_profile_enable(void) { atomic_store(&profile_on, true); }

const mp_prom_hist *store_profile_hist(int i) { return &profile_hists[i >= 0 && i < STORE_PROFILE_OPS ? i : 0]; }

/* The kind of a statement: its first keyword ("REPLACE" and "INSERT OR ..." are inserts, "END" a commit). */
static int op_of(const char *sql) {
    while (sql && isspace((unsigned char)*sql)) sql++;
    if (!sql) return STORE_PROFILE_OPS - 1;
    static const struct { const char *word; int op; } words[] = {
        {"SELECT", 0}, {"INSERT", 1}, {"REPLACE", 1}, {"UPDATE", 2}, {"DELETE", 3},
        {"BEGIN", 4},  {"COMMIT", 5}, {"END", 5},     {"ROLLBACK", 6},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t l = strlen(words[i].word);
        if (strncasecmp(sql, words[i].word, l) == 0 && !isalnum((unsigned char)sql[l])) return words[i].op;
    }
    return STORE_PROFILE_OPS - 1;
}

/* SQLite's own profile time has the VFS clock's millisecond resolution, too
 * coarse for most statements: each thread notes when its statements start
 * (SQLITE_TRACE_STMT) and the profile event ends them on the monotonic clock.
 * A thread has at most a few statements stepping at once. */
#define PROFILE_OPEN 8
static _Thread_local struct {
    void *stmt;
    int64_t t0_us;
} profile_open[PROFILE_OPEN];

static int on_trace(unsigned type, void *ctx, void *p, void *x) {
    (void)ctx;
    if (type == SQLITE_TRACE_STMT) {
        const char *text = x;
        if (text && text[0] == '-' && text[1] == '-') return 0; /* a trigger's statement, inside p */
        int slot = -1;
        for (int i = 0; i < PROFILE_OPEN; i++) {
            if (profile_open[i].stmt == p) { slot = i; break; }
            if (!profile_open[i].stmt && slot < 0) slot = i;
        }
        if (slot >= 0) profile_open[slot].stmt = p, profile_open[slot].t0_us = mp_mono_us();
        return 0;
    }
    if (type != SQLITE_TRACE_PROFILE) return 0;
    for (int i = 0; i < PROFILE_OPEN; i++)
        if (profile_open[i].stmt == p) {
            profile_open[i].stmt = NULL;
            mp_prom_hist_observe(&profile_hists[op_of(sqlite3_sql((sqlite3_stmt *)p))], mp_mono_us() - profile_open[i].t0_us);
            return 0;
        }
    return 0; /* started while the table was full: not counted */
}

void store__profile_attach(sqlite3 *db) {
    if (atomic_load(&profile_on)) sqlite3_trace_v2(db, SQLITE_TRACE_STMT | SQLITE_TRACE_PROFILE, on_trace, NULL);
}
