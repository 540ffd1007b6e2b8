/* test_store.c — unit tests of the store: state machines, the SQLite store's
 * schema, migrations, records, transactions and sharing one file between handles
 * and processes. Each test works in its own directory under $MLPLANE_TEST_TMP.
 * Single-threaded (one test forks a child writer with its own handle). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "unit_helpers.h"

typedef ut_fx fx;

static int setup(void **state) { return ut_fx_setup(state, "store"); }
static int teardown(void **state) { return ut_fx_teardown(state); }

/* Runs one SQL query on a raw connection and returns the first column of its first
 * row as a heap string (NULL when no row). */
static char *raw_query(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    char *out = NULL;
    if (sqlite3_step(q) == SQLITE_ROW) out = mp_xstrdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return out;
}

static void insert_run(store *s, const char *id, int64_t created) {
    store_run r = {.id = (char *)id, .pipeline = "p", .namespace_ = "default", .state = RUN_PENDING,
                   .spec_path = "/x/p.yaml", .spec_yaml = "kind: Pipeline\n", .params_json = "{}",
                   .created_ms = created, .parallel = 2};
    mp_err e = {0};
    if (s->m->run_insert(s, &r, &e) != 0) fail_msg("run_insert %s: %s", id, e.msg);
}

static void insert_step(store *s, const char *run, const char *name, int idx) {
    store_step st = {.run_id = (char *)run, .name = (char *)name, .idx = idx, .exit_code = -1,
                     .outputs_dir = "/o", .log_path = "/l"};
    mp_err e = {0};
    if (s->m->step_insert(s, &st, &e) != 0) fail_msg("step_insert %s: %s", name, e.msg);
}

/* ---- states ---------------------------------------------------------------------- */

static void test_state_names(void **state) {
    (void)state;
    assert_string_equal(store_run_state_name(RUN_PENDING), "Pending");
    assert_string_equal(store_run_state_name(RUN_CANCELLED), "Cancelled");
    assert_string_equal(store_step_state_name(STEP_SKIPPED), "Skipped");
    assert_string_equal(store_step_state_name(STEP_RETRYING), "Retrying");
    assert_string_equal(store_step_state_name(STEP_STOPPED), "Stopped");
    assert_string_equal(store_step_state_name(STEP_CACHED), "Cached");
    assert_string_equal(store_run_state_name(99), "Unknown");
    assert_int_equal(store_run_state_parse("succeeded"), RUN_SUCCEEDED);
    assert_int_equal(store_run_state_parse("RUNNING"), RUN_RUNNING);
    assert_int_equal(store_run_state_parse("Skipped"), -1);
    assert_int_equal(store_step_state_parse("sKiPpEd"), STEP_SKIPPED);
    assert_int_equal(store_step_state_parse("retrying"), STEP_RETRYING);
    assert_int_equal(store_step_state_parse("bogus"), -1);
    assert_int_equal(store_step_state_parse(""), -1);
    assert_int_equal(store_step_state_parse(NULL), -1);
    for (int i = 0; i <= STEP_CACHED; i++)
        assert_int_equal(store_step_state_parse(store_step_state_name(i)), i);
    assert_true(store_run_state_final(RUN_FAILED));
    assert_false(store_run_state_final(RUN_RUNNING));
    assert_true(store_step_state_final(STEP_SKIPPED));
    assert_true(store_step_state_final(STEP_CACHED));
    assert_false(store_step_state_final(STEP_RETRYING));
    assert_true(store_step_state_final(STEP_STOPPED));
}

static void test_transitions(void **state) {
    (void)state;
    assert_true(store_run_transition_ok(RUN_PENDING, RUN_RUNNING));
    assert_true(store_run_transition_ok(RUN_PENDING, RUN_CANCELLED));
    assert_true(store_run_transition_ok(RUN_RUNNING, RUN_SUCCEEDED));
    assert_true(store_run_transition_ok(RUN_RUNNING, RUN_PENDING));
    assert_false(store_run_transition_ok(RUN_PENDING, RUN_SUCCEEDED));
    assert_false(store_run_transition_ok(RUN_SUCCEEDED, RUN_RUNNING));
    assert_false(store_run_transition_ok(RUN_CANCELLED, RUN_PENDING));
    assert_false(store_run_transition_ok(RUN_RUNNING, RUN_RUNNING));
    assert_false(store_run_transition_ok(-1, RUN_RUNNING));
    assert_false(store_run_transition_ok(RUN_PENDING, 42));

    assert_true(store_step_transition_ok(STEP_PENDING, STEP_RUNNING));
    assert_true(store_step_transition_ok(STEP_PENDING, STEP_SKIPPED));
    assert_true(store_step_transition_ok(STEP_PENDING, STEP_CACHED)); /* a cache hit */
    assert_false(store_step_transition_ok(STEP_RUNNING, STEP_CACHED));
    assert_true(store_step_transition_ok(STEP_PENDING, STEP_FAILED));
    assert_true(store_step_transition_ok(STEP_RUNNING, STEP_RETRYING));
    assert_true(store_step_transition_ok(STEP_RUNNING, STEP_PENDING));
    assert_true(store_step_transition_ok(STEP_RETRYING, STEP_RUNNING));
    assert_true(store_step_transition_ok(STEP_RETRYING, STEP_CANCELLED));
    assert_true(store_step_transition_ok(STEP_PENDING, STEP_SUCCEEDED)); /* a sweep's aggregate step */
    assert_true(store_step_transition_ok(STEP_RUNNING, STEP_STOPPED));  /* a trial stopped early */
    assert_false(store_step_transition_ok(STEP_PENDING, STEP_STOPPED));
    assert_false(store_step_transition_ok(STEP_RETRYING, STEP_STOPPED));
    assert_false(store_step_transition_ok(STEP_PENDING, STEP_RETRYING));
    assert_false(store_step_transition_ok(STEP_RETRYING, STEP_SUCCEEDED));
    assert_false(store_step_transition_ok(STEP_SKIPPED, STEP_RUNNING));
    assert_false(store_step_transition_ok(STEP_SUCCEEDED, STEP_PENDING));
    assert_false(store_step_transition_ok(STEP_FAILED, STEP_RETRYING));
    assert_false(store_step_transition_ok(STEP_CANCELLED, STEP_RUNNING));
    /* No way out of a final state at all. */
    for (int from = 0; from <= STEP_CACHED; from++)
        for (int to = 0; to <= STEP_CACHED; to++)
            if (store_step_state_final(from)) assert_false(store_step_transition_ok(from, to));
    for (int from = 0; from <= RUN_CANCELLED; from++)
        for (int to = 0; to <= RUN_CANCELLED; to++)
            if (store_run_state_final(from)) assert_false(store_run_transition_ok(from, to));
}

/* ---- open, WAL, migrations --------------------------------------------------------- */

static void test_open_wal(void **state) {
    fx *f = *state;
    assert_true(mp_path_exists(f->path));
    char *wal = mp_xasprintf("%s-wal", f->path);
    assert_true(mp_path_exists(wal));
    free(wal);
    char *mode = raw_query(f->path, "PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
    assert_int_equal(store_sqlite_user_version(f->s), store_schema_version());
    assert_string_equal(f->s->m->name, "sqlite");
}

static void test_migrate_empty(void **state) {
    fx *f = *state;
    char *p = mp_xasprintf("%s/empty.db", f->dir);
    assert_int_equal(mp_write_file_atomic(p, "", 0, NULL), 0); /* a zero-byte file */
    char *v = raw_query(p, "PRAGMA user_version");
    assert_string_equal(v, "0");
    free(v);
    store *s = ut_store_open(p);
    assert_int_equal(store_sqlite_user_version(s), store_schema_version());
    assert_true(store_schema_version() >= 1);
    s->m->close(s);
    char *n = raw_query(p, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                           "('runs','steps','events','metrics','cache')");
    assert_string_equal(n, "5");
    free(n);
    /* Opening again does not re-run anything. */
    s = ut_store_open(p);
    assert_int_equal(store_sqlite_user_version(s), store_schema_version());
    s->m->close(s);
    free(p);
}

static void test_newer_version_refused(void **state) {
    fx *f = *state;
    char *p = mp_xasprintf("%s/new.db", f->dir);
    free(raw_query(p, "PRAGMA user_version = 999"));
    store *s = (store *)1;
    mp_err e = {0};
    assert_int_equal(store_sqlite_open(p, &s, &e), MP_ESTORE);
    assert_null(s);
    assert_int_equal(e.code, MP_ESTORE);
    assert_non_null(strstr(e.msg, "999"));
    assert_non_null(strstr(e.msg, "upgrade mlplane"));
    free(p);
}

static void test_open_bad_path(void **state) {
    fx *f = *state;
    char *p = mp_xasprintf("%s/no/such/dir/x.db", f->dir);
    store *s = NULL;
    mp_err e = {0};
    assert_int_equal(store_sqlite_open(p, &s, &e), MP_ESTORE);
    assert_null(s);
    assert_non_null(strstr(e.msg, "cannot open"));
    free(p);
}

static void test_reopen_keeps_data(void **state) {
    fx *f = *state;
    insert_run(f->s, "p-aaaaa", 1000);
    insert_step(f->s, "p-aaaaa", "train", 0);
    f->s->m->close(f->s);
    f->s = ut_store_open(f->path);
    store_run r;
    assert_int_equal(f->s->m->run_get(f->s, "p-aaaaa", &r, NULL), 0);
    assert_string_equal(r.spec_yaml, "kind: Pipeline\n");
    assert_int_equal(r.parallel, 2);
    store_run_free(&r);
    store_step st;
    assert_int_equal(f->s->m->step_get(f->s, "p-aaaaa", "train", &st, NULL), 0);
    assert_string_equal(st.log_path, "/l");
    store_step_free(&st);
}

/* ---- runs ------------------------------------------------------------------------------ */

static void test_runs(void **state) {
    fx *f = *state;
    store *s = f->s;
    mp_err e = {0};
    insert_run(s, "train-abc12", 1000);
    insert_run(s, "train-abd34", 2000);
    insert_run(s, "eval-xyz99", 3000);
    insert_run(s, "eval-xyz9", 500); /* a prefix of another id */

    store_run r;
    assert_int_equal(s->m->run_get(s, "train-abc12", &r, &e), 0);
    assert_string_equal(r.id, "train-abc12");
    assert_string_equal(r.pipeline, "p");
    assert_string_equal(r.namespace_, "default");
    assert_string_equal(r.params_json, "{}");
    assert_null(r.labels_json); /* inserted without labels */
    assert_int_equal(r.state, RUN_PENDING);
    assert_int_equal(r.created_ms, 1000);
    assert_null(r.message);
    assert_false(r.cancel_requested);
    store_run_free(&r);
    store_run_free(&r); /* freeing twice is harmless */

    /* unique prefix */
    assert_int_equal(s->m->run_get(s, "train-abc", &r, &e), 0);
    assert_string_equal(r.id, "train-abc12");
    store_run_free(&r);
    /* exact match wins over the longer id it prefixes */
    assert_int_equal(s->m->run_get(s, "eval-xyz9", &r, &e), 0);
    assert_string_equal(r.id, "eval-xyz9");
    store_run_free(&r);
    /* ambiguous */
    assert_int_equal(s->m->run_get(s, "train-ab", &r, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "ambiguous"));
    assert_non_null(strstr(e.msg, "train-abc12"));
    assert_non_null(strstr(e.msg, "train-abd34"));
    assert_null(r.id);
    /* missing; LIKE wildcards are not wildcards */
    assert_int_equal(s->m->run_get(s, "nope", &r, &e), MP_ENOENT);
    assert_string_equal(e.msg, "no run \"nope\" (see mlplane get runs)");
    assert_int_equal(s->m->run_get(s, "train%", &r, &e), MP_ENOENT);
    assert_int_equal(s->m->run_get(s, "train_abc12", &r, &e), MP_ENOENT);
    assert_int_equal(s->m->run_get(s, "t*", &r, &e), MP_ENOENT);
    assert_int_equal(s->m->run_get(s, "", &r, &e), MP_EINVAL);
    /* more than five candidates are cut */
    for (int i = 0; i < 7; i++) {
        char id[32];
        snprintf(id, sizeof id, "many-%05d", i);
        insert_run(s, id, 10 + i);
    }
    assert_int_equal(s->m->run_get(s, "many", &r, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "many-00004"));
    assert_null(strstr(e.msg, "many-00005"));
    assert_non_null(strstr(e.msg, "..."));

    /* duplicate */
    store_run dup = {.id = "eval-xyz99", .pipeline = "p"};
    assert_int_equal(s->m->run_insert(s, &dup, &e), MP_EEXIST);
    assert_non_null(strstr(e.msg, "eval-xyz99"));

    /* list newest first */
    store_run *v = NULL;
    size_t n = 0;
    assert_int_equal(s->m->run_list(s, 0, &v, &n, &e), 0);
    assert_int_equal(n, 11);
    assert_string_equal(v[0].id, "eval-xyz99");
    assert_string_equal(v[1].id, "train-abd34");
    assert_string_equal(v[2].id, "train-abc12");
    assert_string_equal(v[3].id, "eval-xyz9");
    for (size_t i = 1; i < n; i++) assert_true(v[i - 1].created_ms >= v[i].created_ms);
    store_run_array_free(v, n);
    assert_int_equal(s->m->run_list(s, 2, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[1].id, "train-abd34");
    store_run_array_free(v, n);

    /* labels: kept as inserted; an update does not change them */
    store_run lab = {.id = "labelled-1", .pipeline = "p", .labels_json = "{\"team\":\"a\"}", .created_ms = 1};
    assert_int_equal(s->m->run_insert(s, &lab, &e), 0);
    assert_int_equal(s->m->run_get(s, "labelled-1", &r, &e), 0);
    assert_string_equal(r.labels_json, "{\"team\":\"a\"}");
    free(r.labels_json);
    r.labels_json = mp_xstrdup("{\"team\":\"b\"}");
    r.state = RUN_RUNNING;
    assert_int_equal(s->m->run_update(s, &r, &e), 0);
    store_run_free(&r);
    assert_int_equal(s->m->run_get(s, "labelled-1", &r, &e), 0);
    assert_int_equal(r.state, RUN_RUNNING);
    assert_string_equal(r.labels_json, "{\"team\":\"a\"}");
    store_run_free(&r);

    /* update */
    assert_int_equal(s->m->run_get(s, "train-abc12", &r, &e), 0);
    r.state = RUN_SUCCEEDED;
    r.started_ms = 1100;
    r.ended_ms = 1900;
    r.owner_pid = 4242;
    r.owner_start = 777;
    r.cancel_requested = true;
    r.parallel = 8;
    free(r.message);
    r.message = mp_xstrdup("all good");
    assert_int_equal(s->m->run_update(s, &r, &e), 0);
    store_run_free(&r);
    assert_int_equal(s->m->run_get(s, "train-abc12", &r, &e), 0);
    assert_int_equal(r.state, RUN_SUCCEEDED);
    assert_int_equal(r.started_ms, 1100);
    assert_int_equal(r.ended_ms, 1900);
    assert_int_equal(r.owner_pid, 4242);
    assert_int_equal(r.owner_start, 777);
    assert_true(r.cancel_requested);
    assert_int_equal(r.parallel, 8);
    assert_string_equal(r.message, "all good");
    assert_string_equal(r.spec_yaml, "kind: Pipeline\n"); /* untouched */
    store_run_free(&r);

    store_run ghost = {.id = "ghost"};
    assert_int_equal(s->m->run_update(s, &ghost, &e), MP_ENOENT);
    assert_non_null(strstr(e.msg, "ghost"));
}

/* ---- steps ----------------------------------------------------------------------------- */

static void test_steps(void **state) {
    fx *f = *state;
    store *s = f->s;
    mp_err e = {0};
    insert_run(s, "p-1", 1);
    insert_step(s, "p-1", "eval", 2);
    insert_step(s, "p-1", "prep", 0);
    insert_step(s, "p-1", "train", 1);

    store_step *v = NULL;
    size_t n = 0;
    assert_int_equal(s->m->step_list(s, "p-1", &v, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].name, "prep");
    assert_string_equal(v[1].name, "train");
    assert_string_equal(v[2].name, "eval");
    assert_int_equal(v[0].exit_code, -1);
    assert_null(v[0].cache_key);
    store_step_array_free(v, n);
    assert_int_equal(s->m->step_list(s, "other", &v, &n, &e), 0);
    assert_int_equal(n, 0);
    store_step_array_free(v, n);

    store_step st;
    assert_int_equal(s->m->step_get(s, "p-1", "train", &st, &e), 0);
    st.state = STEP_RETRYING;
    st.attempts = 2;
    st.exit_code = 137;
    st.started_ms = 10;
    st.ended_ms = 20;
    st.next_attempt_ms = 30;
    st.pid = 999;
    st.cache_key = mp_xstrdup("abcdef");
    st.cached_from = mp_xstrdup("p-0");
    free(st.outputs_dir);
    st.outputs_dir = mp_xstrdup("/runs/p-0/train");
    st.message = mp_xstrdup("killed by signal 9");
    st.params_json = mp_xstrdup("{\"lr\":\"0.1\"}");
    assert_int_equal(s->m->step_update(s, &st, &e), 0);
    store_step_free(&st);
    assert_int_equal(s->m->step_get(s, "p-1", "train", &st, &e), 0);
    assert_int_equal(st.state, STEP_RETRYING);
    assert_int_equal(st.attempts, 2);
    assert_int_equal(st.exit_code, 137);
    assert_int_equal(st.started_ms, 10);
    assert_int_equal(st.ended_ms, 20);
    assert_int_equal(st.next_attempt_ms, 30);
    assert_int_equal(st.pid, 999);
    assert_string_equal(st.cache_key, "abcdef");
    assert_string_equal(st.cached_from, "p-0");
    assert_string_equal(st.outputs_dir, "/runs/p-0/train");
    assert_string_equal(st.message, "killed by signal 9");
    assert_string_equal(st.params_json, "{\"lr\":\"0.1\"}");
    assert_int_equal(st.idx, 1);
    store_step_free(&st);

    assert_int_equal(s->m->step_get(s, "p-1", "nope", &st, &e), MP_ENOENT);
    store_step ghost = {.run_id = "p-1", .name = "ghost"};
    assert_int_equal(s->m->step_update(s, &ghost, &e), MP_ENOENT);
    assert_non_null(strstr(e.msg, "cannot update step \"ghost\" of run \"p-1\""));
    /* duplicate, and a step of a run that does not exist */
    store_step dup = {.run_id = "p-1", .name = "prep"};
    assert_int_equal(s->m->step_insert(s, &dup, &e), MP_EEXIST);
    store_step orphan = {.run_id = "no-run", .name = "x"};
    assert_int_equal(s->m->step_insert(s, &orphan, &e), MP_ENOENT);
    assert_non_null(strstr(e.msg, "store: cannot insert step \"x\" of run \"no-run\": FOREIGN KEY"));
}

/* ---- events, metrics, cache -------------------------------------------------------- */

static void test_events(void **state) {
    fx *f = *state;
    store *s = f->s;
    mp_err e = {0};
    insert_run(s, "p-1", 1);
    insert_run(s, "p-2", 2);
    int64_t ids[5];
    int64_t before = mp_now_ms();
    for (int i = 0; i < 5; i++) {
        char msg[16];
        snprintf(msg, sizeof msg, "m%d", i);
        store_event ev = {.run_id = "p-1", .step = i == 0 ? NULL : "train", .type = "StepRunning",
                          .message = msg, .time_ms = i == 4 ? 12345 : 0};
        assert_int_equal(s->m->event_append(s, &ev, &e), 0);
        ids[i] = ev.id;
        if (i > 0) assert_true(ids[i] > ids[i - 1]);
        store_event other = {.run_id = "p-2", .type = "RunStarted"};
        assert_int_equal(s->m->event_append(s, &other, &e), 0);
    }
    store_event *v = NULL;
    size_t n = 0;
    assert_int_equal(s->m->event_list(s, "p-1", 0, &v, &n, &e), 0);
    assert_int_equal(n, 5);
    assert_null(v[0].step);
    assert_string_equal(v[1].step, "train");
    assert_string_equal(v[3].message, "m3");
    assert_string_equal(v[0].type, "StepRunning");
    assert_true(v[0].time_ms >= before);
    assert_int_equal(v[4].time_ms, 12345);
    for (size_t i = 0; i < n; i++) assert_int_equal(v[i].id, ids[i]);
    store_event_array_free(v, n);
    assert_int_equal(s->m->event_list(s, "p-1", ids[2], &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].id, ids[3]);
    store_event_array_free(v, n);
    assert_int_equal(s->m->event_list(s, "p-1", ids[4], &v, &n, &e), 0);
    assert_int_equal(n, 0);
    store_event_array_free(v, n);
}

static void test_metrics(void **state) {
    fx *f = *state;
    store *s = f->s;
    mp_err e = {0};
    insert_run(s, "p-1", 1);
    store_metric m1 = {.run_id = "p-1", .step = "train", .key = "loss", .value = 0.5};
    store_metric m2 = {.run_id = "p-1", .step = "eval", .key = "auc", .value = 0.91};
    store_metric m3 = {.run_id = "p-1", .step = "train", .key = "loss", .value = 0.25};
    assert_int_equal(s->m->metric_put(s, &m1, &e), 0);
    assert_int_equal(s->m->metric_put(s, &m2, &e), 0);
    assert_int_equal(s->m->metric_put(s, &m3, &e), 0); /* replaces m1 */
    store_metric *v = NULL;
    size_t n = 0;
    assert_int_equal(s->m->metric_list(s, "p-1", &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].step, "eval");
    assert_string_equal(v[0].key, "auc");
    assert_float_equal(v[0].value, 0.91, 1e-12);
    assert_string_equal(v[1].key, "loss");
    assert_float_equal(v[1].value, 0.25, 1e-12);
    store_metric_array_free(v, n);
}

static void test_cache(void **state) {
    fx *f = *state;
    store *s = f->s;
    mp_err e = {0};
    store_cache_entry c = {.key = "k1", .run_id = "p-1", .step = "train", .outputs_dir = "/o/1", .created_ms = 5};
    assert_int_equal(s->m->cache_put(s, &c, &e), 0);
    store_cache_entry got;
    assert_int_equal(s->m->cache_get(s, "k1", &got, &e), 0);
    assert_string_equal(got.run_id, "p-1");
    assert_string_equal(got.step, "train");
    assert_string_equal(got.outputs_dir, "/o/1");
    assert_int_equal(got.created_ms, 5);
    store_cache_entry_free(&got);
    c.outputs_dir = "/o/2"; /* replace */
    assert_int_equal(s->m->cache_put(s, &c, &e), 0);
    assert_int_equal(s->m->cache_get(s, "k1", &got, &e), 0);
    assert_string_equal(got.outputs_dir, "/o/2");
    store_cache_entry_free(&got);
    assert_int_equal(s->m->cache_get(s, "k2", &got, &e), MP_ENOENT);
    assert_int_equal(s->m->cache_delete(s, "k1", &e), 0);
    assert_int_equal(s->m->cache_get(s, "k1", &got, &e), MP_ENOENT);
    assert_int_equal(s->m->cache_delete(s, "k1", &e), 0); /* unknown key: fine */
}

/* Lineage rows (step_artifacts): put replaces by (run, step, in/out, name); listed by run and
 * by hash prefix; a malformed hash is refused; they go with their run. */
static void test_step_artifacts(void **state) {
    fx *f = *state;
    store *s = f->s;
    mp_err e = {0};
    insert_run(s, "p-1", 1);
    insert_run(s, "p-2", 2);
    const char *h1 = "aaaa1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888";
    const char *h2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    store_step_artifact in = {.run_id = "p-1", .step = "train", .name = "data", .hash = (char *)h2, .path = "/d.csv",
                              .source = "d.csv", .time_ms = 3};
    assert_int_equal(s->m->artifact_put(s, &in, &e), 0);
    in.hash = (char *)h1; /* replaced */
    assert_int_equal(s->m->artifact_put(s, &in, &e), 0);
    store_step_artifact out = {.run_id = "p-1", .step = "train", .output = true, .name = "model", .hash = (char *)h2,
                               .path = "/m.json", .time_ms = 4};
    assert_int_equal(s->m->artifact_put(s, &out, &e), 0);
    store_step_artifact in2 = {.run_id = "p-2", .step = "eval", .name = "model", .hash = (char *)h2,
                               .path = "/m.json", .source = "{{steps.train.outputs.model}}", .from_step = "train",
                               .time_ms = 5};
    assert_int_equal(s->m->artifact_put(s, &in2, &e), 0);
    store_step_artifact *v = NULL;
    size_t n = 0;
    assert_int_equal(s->m->artifact_list(s, "p-1", NULL, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_false(v[0].output); /* inputs first */
    assert_string_equal(v[0].hash, h1);
    assert_string_equal(v[0].source, "d.csv");
    assert_null(v[0].from_step);
    assert_true(v[1].output);
    assert_null(v[1].source);
    store_step_artifact_array_free(v, n);
    assert_int_equal(s->m->artifact_list(s, NULL, "01234567", &v, &n, &e), 0);
    assert_int_equal(n, 2); /* p-1's output and p-2's input */
    assert_string_equal(v[1].from_step, "train");
    store_step_artifact_array_free(v, n);
    assert_int_equal(s->m->artifact_list(s, NULL, "0123", &v, &n, &e), MP_EINVAL);
    assert_int_equal(s->m->artifact_list(s, NULL, "0123456Z", &v, &n, &e), MP_EINVAL);
    store_step_artifact bad = {.run_id = "p-1", .step = "x", .name = "y"};
    assert_int_equal(s->m->artifact_put(s, &bad, &e), MP_EINVAL);
    assert_int_equal(s->m->run_delete(s, "p-1", &e), 0);
    assert_int_equal(s->m->artifact_list(s, NULL, h2, &v, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].run_id, "p-2");
    store_step_artifact_array_free(v, n);
}

/* Workload rows: pending and admitted, with their scheduling fields; eviction is
 * asked once and survives a replace of nothing else. */
static void test_workloads(void **state) {
    fx *f = *state;
    store *s = f->s;
    mp_err e = {0};
    store_workload w = {.run_id = "r1", .step = "a", .pending = true, .priority = 1000, .queue = "team-a",
                    .created_ms = 7, .limit_ms = 60000, .request = "{\"cpu\":500}", .reason = "over quota",
                    .owner_pid = 42, .owner_start = 9};
    assert_int_equal(s->w->workload_put(s, &w, &e), 0);
    store_workload adm = {.run_id = "r2", .step = "b", .cpu_milli = 1000, .gpu = 2, .gpu_devices = 3, .started_ms = 8,
                      .nodes = "n1,n2", .flavors = "cpu=default", .owner_pid = 43};
    assert_int_equal(s->w->workload_put(s, &adm, &e), 0);
    assert_int_equal(s->w->workload_evict(s, "r2", "b", "preempted by r1/a", &e), 0);
    assert_int_equal(s->w->workload_evict(s, "r2", "b", "second reason is ignored", &e), 0);
    assert_int_equal(s->w->workload_evict(s, "r9", "zz", "no such row: no-op", &e), 0);
    store_workload *v = NULL;
    size_t n = 0;
    assert_int_equal(s->w->workload_list(s, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_true(v[0].pending);
    assert_int_equal(v[0].priority, 1000);
    assert_string_equal(v[0].queue, "team-a");
    assert_int_equal(v[0].created_ms, 7);
    assert_int_equal(v[0].limit_ms, 60000);
    assert_string_equal(v[0].request, "{\"cpu\":500}");
    assert_string_equal(v[0].reason, "over quota");
    assert_null(v[0].evict);
    assert_false(v[1].pending);
    assert_string_equal(v[1].nodes, "n1,n2");
    assert_string_equal(v[1].flavors, "cpu=default");
    assert_int_equal(v[1].gpu_devices, 3);
    assert_string_equal(v[1].evict, "preempted by r1/a");
    assert_null(v[1].queue);
    store_workload_array_free(v, n);
    assert_int_equal(s->w->workload_delete(s, "r1", NULL, &e), 0);
    assert_int_equal(s->w->workload_list(s, &v, &n, &e), 0);
    assert_int_equal(n, 1);
    store_workload_array_free(v, n);
}

/* Scheduler objects: applying points names at a source; re-applying a name moves
 * it; sources nothing points at are deleted. */
static void test_objects(void **state) {
    fx *f = *state;
    store *s = f->s;
    mp_err e = {0};
    store_object a[] = {{.kind = "ClusterQueue", .namespace_ = "", .name = "q1"},
                        {.kind = "LocalQueue", .namespace_ = "ns", .name = "lq"}};
    assert_int_equal(s->m->begin(s, &e), 0);
    assert_int_equal(s->o->object_apply(s, "/x/one.yaml", "text one", a, 2, &e), 0);
    assert_int_equal(s->m->commit(s, &e), 0);
    store_object b[] = {{.kind = "ClusterQueue", .namespace_ = "", .name = "q1"}};
    assert_int_equal(s->o->object_apply(s, "/x/two.yaml", "text two", b, 1, &e), 0);
    store_object *o = NULL;
    size_t n = 0;
    assert_int_equal(s->o->object_list(s, &o, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(o[0].kind, "ClusterQueue");
    assert_string_equal(o[1].namespace_, "ns");
    assert_true(o[0].source_id != o[1].source_id); /* q1 moved to the second file */
    store_object_array_free(o, n);
    store_source *src = NULL;
    assert_int_equal(s->o->source_list(s, &src, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(src[1].text, "text two");
    assert_string_equal(src[1].path, "/x/two.yaml");
    store_source_array_free(src, n);
    assert_int_equal(s->o->object_delete(s, "LocalQueue", "ns", "lq", &e), 0);
    assert_int_equal(s->o->object_delete(s, "LocalQueue", "ns", "lq", &e), MP_ENOENT);
    assert_int_equal(s->o->source_list(s, &src, &n, &e), 0);
    assert_int_equal(n, 1); /* the first file defines nothing any more */
    assert_string_equal(src[0].text, "text two");
    store_source_array_free(src, n);
}

/* The split `mlplane rollout` records: absent, set, replaced, forgotten; kept
 * across a reopen of the file. */
static void test_rollouts(void **state) {
    fx *f = *state;
    store *s = f->s;
    mp_err e = {0};
    int p = -1;
    bool found = true;
    assert_int_equal(s->o->rollout_get(s, "web", &p, &found, &e), 0);
    assert_false(found);
    assert_int_equal(s->o->rollout_set(s, "web", 100, &e), 0);
    assert_int_equal(s->o->rollout_set(s, "api", 5, &e), 0);
    assert_int_equal(s->o->rollout_set(s, "web", 30, &e), 0);
    assert_int_equal(s->o->rollout_get(s, "web", &p, &found, &e), 0);
    assert_true(found);
    assert_int_equal(p, 30);
    s->m->close(s);
    s = f->s = ut_store_open(f->path);
    assert_int_equal(s->o->rollout_get(s, "api", &p, &found, &e), 0);
    assert_true(found);
    assert_int_equal(p, 5);
    assert_int_equal(s->o->rollout_set(s, "web", -1, &e), 0);
    assert_int_equal(s->o->rollout_get(s, "web", &p, &found, &e), 0);
    assert_false(found);
    assert_int_equal(s->o->rollout_set(s, "never", -1, &e), 0); /* forgetting nothing is fine */
}

/* A Deployment's running state (absent, recorded, replaced; kept across a
 * reopen) and its events: the same type and message counted once more, at most
 * STORE_DEPLOY_EVENTS_MAX kept (the least recently seen go), both forgotten
 * together. */
static void test_deploy_states(void **state) {
    fx *f = *state;
    store *s = f->s;
    mp_err e = {0};
    store_deploy_state ds;
    bool found = true;
    assert_int_equal(s->o->deploy_state_get(s, "web", &ds, &found, &e), 0);
    assert_false(found);
    store_deploy_state w = {.name = "web", .state = "Starting", .restarts = 0, .pid = 42, .owner_pid = 7,
                            .owner_start = 99, .started_ms = 1000};
    assert_int_equal(s->o->deploy_state_put(s, &w, &e), 0);
    w.state = "CrashLoopBackOff";
    w.message = w.last_error = "exit status 1: cannot listen on 127.0.0.1:1: Address already in use";
    w.restarts = 3;
    w.pid = 0;
    assert_int_equal(s->o->deploy_state_put(s, &w, &e), 0);
    s->m->close(s);
    s = f->s = ut_store_open(f->path);
    assert_int_equal(s->o->deploy_state_get(s, "web", &ds, &found, &e), 0);
    assert_true(found);
    assert_string_equal(ds.state, "CrashLoopBackOff");
    assert_string_equal(ds.last_error, w.last_error);
    assert_int_equal(ds.restarts, 3);
    assert_int_equal(ds.pid, 0);
    assert_int_equal(ds.owner_pid, 7);
    assert_int_equal(ds.owner_start, 99);
    assert_true(ds.updated_ms > 0);
    store_deploy_state_free(&ds);

    for (int i = 0; i < 3; i++) {
        assert_int_equal(s->o->deploy_event_add(s, "web", "Started", "started", &e), 0);
        assert_int_equal(s->o->deploy_event_add(s, "web", "Exited", "exit status 1: boom", &e), 0);
    }
    assert_int_equal(s->o->deploy_event_add(s, "api", "Started", "started", &e), 0);
    store_deploy_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(s->o->deploy_event_list(s, "web", &ev, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].type, "Started");
    assert_int_equal(ev[0].count, 3);
    assert_string_equal(ev[1].message, "exit status 1: boom");
    assert_int_equal(ev[1].count, 3);
    assert_true(ev[1].first_ms <= ev[1].last_ms);
    store_deploy_event_array_free(ev, n);
    for (int i = 0; i < STORE_DEPLOY_EVENTS_MAX + 5; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "event %d", i);
        assert_int_equal(s->o->deploy_event_add(s, "web", "Ready", msg, &e), 0);
    }
    assert_int_equal(s->o->deploy_event_list(s, "web", &ev, &n, &e), 0);
    assert_int_equal(n, STORE_DEPLOY_EVENTS_MAX);
    char last[32];
    snprintf(last, sizeof last, "event %d", STORE_DEPLOY_EVENTS_MAX + 4);
    assert_string_equal(ev[n - 1].message, last);
    store_deploy_event_array_free(ev, n);

    assert_int_equal(s->o->deploy_state_clear(s, "web", &e), 0);
    assert_int_equal(s->o->deploy_state_get(s, "web", &ds, &found, &e), 0);
    assert_false(found);
    assert_int_equal(s->o->deploy_event_list(s, "web", &ev, &n, &e), 0);
    assert_int_equal(n, 0);
    store_deploy_event_array_free(ev, n);
    assert_int_equal(s->o->deploy_event_list(s, "api", &ev, &n, &e), 0); /* another's are kept */
    assert_int_equal(n, 1);
    store_deploy_event_array_free(ev, n);
    assert_int_equal(s->o->deploy_state_clear(s, "never", &e), 0); /* forgetting nothing is fine */
}

/* ---- transactions and sharing ------------------------------------------------------------ */

static int64_t count_events(store *s, const char *run) {
    store_event *v = NULL;
    size_t n = 0;
    assert_int_equal(s->m->event_list(s, run, 0, &v, &n, NULL), 0);
    store_event_array_free(v, n);
    return (int64_t)n;
}

static void test_tx_commit_rollback(void **state) {
    fx *f = *state;
    store *s = f->s;
    store *other = ut_store_open(f->path);
    mp_err e = {0};
    insert_run(s, "p-1", 1);
    insert_step(s, "p-1", "a", 0);

    assert_int_equal(s->m->begin(s, &e), 0);
    assert_int_equal(s->m->begin(s, &e), MP_EINTERNAL);
    store_step st = {.run_id = "p-1", .name = "a", .state = STEP_RUNNING, .exit_code = -1, .pid = 11};
    assert_int_equal(s->m->step_update(s, &st, &e), 0);
    store_event ev = {.run_id = "p-1", .step = "a", .type = "StepRunning"};
    assert_int_equal(s->m->event_append(s, &ev, &e), 0);
    /* not visible to another handle before commit */
    store_step seen;
    assert_int_equal(other->m->step_get(other, "p-1", "a", &seen, &e), 0);
    assert_int_equal(seen.state, STEP_PENDING);
    store_step_free(&seen);
    assert_int_equal(count_events(other, "p-1"), 0);
    assert_int_equal(s->m->commit(s, &e), 0);
    assert_int_equal(other->m->step_get(other, "p-1", "a", &seen, &e), 0);
    assert_int_equal(seen.state, STEP_RUNNING);
    assert_int_equal(seen.pid, 11);
    store_step_free(&seen);
    assert_int_equal(count_events(other, "p-1"), 1);
    assert_int_equal(s->m->commit(s, &e), MP_EINTERNAL);

    /* rollback discards the group */
    assert_int_equal(s->m->begin(s, &e), 0);
    insert_run(s, "p-2", 2);
    st.state = STEP_FAILED;
    assert_int_equal(s->m->step_update(s, &st, &e), 0);
    assert_int_equal(s->m->event_append(s, &ev, &e), 0);
    s->m->rollback(s);
    s->m->rollback(s); /* no transaction: no-op */
    store_run r;
    assert_int_equal(s->m->run_get(s, "p-2", &r, &e), MP_ENOENT);
    assert_int_equal(s->m->step_get(s, "p-1", "a", &seen, &e), 0);
    assert_int_equal(seen.state, STEP_RUNNING);
    store_step_free(&seen);
    assert_int_equal(count_events(s, "p-1"), 1);

    /* a failed write inside a group leaves the group usable */
    assert_int_equal(s->m->begin(s, &e), 0);
    store_run dup = {.id = "p-1"};
    assert_int_equal(s->m->run_insert(s, &dup, &e), MP_EEXIST);
    assert_int_equal(s->m->event_append(s, &ev, &e), 0);
    assert_int_equal(s->m->commit(s, &e), 0);
    assert_int_equal(count_events(other, "p-1"), 2);

    /* closing with an open transaction rolls it back */
    store *third = ut_store_open(f->path);
    assert_int_equal(third->m->begin(third, &e), 0);
    assert_int_equal(third->m->event_append(third, &ev, &e), 0);
    third->m->close(third);
    assert_int_equal(count_events(s, "p-1"), 2);
    other->m->close(other);
}

static void test_two_handles(void **state) {
    fx *f = *state;
    store *a = f->s;
    store *b = ut_store_open(f->path);
    mp_err e = {0};
    insert_run(a, "p-1", 1);
    insert_step(b, "p-1", "s", 0);
    for (int i = 0; i < 50; i++) {
        store *h = i % 2 ? a : b;
        store_event ev = {.run_id = "p-1", .type = i % 2 ? "A" : "B"};
        assert_int_equal(h->m->event_append(h, &ev, &e), 0);
        store_step st = {.run_id = "p-1", .name = "s", .attempts = i, .exit_code = -1};
        assert_int_equal(h->m->step_update(h, &st, &e), 0);
        /* each handle sees the other's committed write at once */
        store *o = h == a ? b : a;
        store_step seen;
        assert_int_equal(o->m->step_get(o, "p-1", "s", &seen, &e), 0);
        assert_int_equal(seen.attempts, i);
        store_step_free(&seen);
    }
    assert_int_equal(count_events(a, "p-1"), 50);
    assert_int_equal(count_events(b, "p-1"), 50);
    b->m->close(b);
}

/* Another process writing the same file at the same time as this one. */
static void test_two_processes(void **state) {
    fx *f = *state;
    insert_run(f->s, "p-1", 1);
    enum { N = 300 };
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        store *c = NULL;
        if (store_sqlite_open(f->path, &c, NULL) != 0) _exit(2);
        for (int i = 0; i < N; i++) {
            store_event ev = {.run_id = "p-1", .type = "Child"};
            if (c->m->event_append(c, &ev, NULL) != 0) _exit(3);
        }
        c->m->close(c);
        _exit(0);
    }
    mp_err e = {0};
    for (int i = 0; i < N; i++) {
        store_event ev = {.run_id = "p-1", .type = "Parent"};
        if (i % 50 == 0) {
            assert_int_equal(f->s->m->begin(f->s, &e), 0);
            assert_int_equal(f->s->m->event_append(f->s, &ev, &e), 0);
            assert_int_equal(f->s->m->commit(f->s, &e), 0);
        } else if (f->s->m->event_append(f->s, &ev, &e) != 0) {
            fail_msg("parent append: %s", e.msg);
        }
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(count_events(f->s, "p-1"), 2 * N);
    /* and it survives re-opening */
    f->s->m->close(f->s);
    f->s = ut_store_open(f->path);
    assert_int_equal(count_events(f->s, "p-1"), 2 * N);
}

/* Several processes opening (and so creating and migrating) a fresh file at once. */
static void test_concurrent_first_open(void **state) {
    fx *f = *state;
    char *p = mp_xasprintf("%s/fresh.db", f->dir);
    enum { K = 6 };
    pid_t kids[K];
    for (int k = 0; k < K; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            store *c = NULL;
            mp_err e = {0};
            if (store_sqlite_open(p, &c, &e) != 0) {
                fprintf(stderr, "child open: %s\n", e.msg);
                _exit(2);
            }
            char id[16];
            snprintf(id, sizeof id, "kid-%d", k);
            store_run r = {.id = id, .pipeline = "p", .created_ms = k};
            if (c->m->run_insert(c, &r, &e) != 0) {
                fprintf(stderr, "child insert: %s\n", e.msg);
                _exit(3);
            }
            c->m->close(c);
            _exit(0);
        }
    }
    for (int k = 0; k < K; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    store *s = ut_store_open(p);
    assert_int_equal(store_sqlite_user_version(s), store_schema_version());
    store_run *v = NULL;
    size_t n = 0;
    assert_int_equal(s->m->run_list(s, 0, &v, &n, NULL), 0);
    assert_int_equal(n, K);
    store_run_array_free(v, n);
    s->m->close(s);
    free(p);
}

/* Every state change committed: step_update + event_append, each in its own
 * transaction, as the scheduler does. Prints the rate; fails only when absurdly
 * slow (sanitizer builds are much slower than release). */
static void test_commit_rate(void **state) {
    fx *f = *state;
    store *s = f->s;
    insert_run(s, "p-1", 1);
    insert_step(s, "p-1", "s", 0);
    enum { N = 2000 };
    mp_err e = {0};
    int64_t t0 = mp_mono_ms();
    for (int i = 0; i < N; i++) {
        store_step st = {.run_id = "p-1", .name = "s", .state = i % 2, .attempts = i, .exit_code = -1,
                         .log_path = "/var/log/x", .outputs_dir = "/o"};
        if (s->m->step_update(s, &st, &e) != 0) fail_msg("%s", e.msg);
        store_event ev = {.run_id = "p-1", .step = "s", .type = "StepRunning", .message = "attempt"};
        if (s->m->event_append(s, &ev, &e) != 0) fail_msg("%s", e.msg);
    }
    int64_t ms = mp_mono_ms() - t0;
    printf("store: %d committed writes in %lld ms (%.0f/s)\n", 2 * N, (long long)ms,
           ms > 0 ? 2000.0 * N / (double)ms : 0.0);
    assert_true(ms < 30000);
}

/* ---- home ---------------------------------------------------------------------------- */

static void test_home_resolve(void **state) {
    fx *f = *state;
    char *old_home = mp_xstrdup(getenv("HOME"));
    char *old_mh = mp_xstrdup(getenv("MLPLANE_HOME"));
    char *flag = mp_xasprintf("%s/flag/home", f->dir);
    char *envh = mp_xasprintf("%s/env", f->dir);
    char *userh = mp_xasprintf("%s/user", f->dir);
    setenv("HOME", userh, 1);
    setenv("MLPLANE_HOME", envh, 1);
    char *out = NULL;
    mp_err e = {0};

    assert_int_equal(store_home_resolve(flag, &out, &e), 0);
    assert_string_equal(out, flag);
    assert_true(mp_is_dir(flag));
    free(out);

    assert_int_equal(store_home_resolve(NULL, &out, &e), 0);
    assert_string_equal(out, envh);
    assert_true(mp_is_dir(envh));
    free(out);

    unsetenv("MLPLANE_HOME");
    assert_int_equal(store_home_resolve(NULL, &out, &e), 0);
    char *want = mp_xasprintf("%s/.mlplane", userh);
    assert_string_equal(out, want);
    assert_true(mp_is_dir(want));
    free(want);

    store *s = NULL;
    assert_int_equal(store_open_home(out, &s, &e), 0);
    char *db = mp_xasprintf("%s/mlplane.db", out);
    assert_true(mp_path_exists(db));
    free(db);
    s->m->close(s);
    free(out);

    assert_int_equal(store_home_resolve("", &out, &e), MP_EINVAL);
    assert_null(out);

    if (old_home) setenv("HOME", old_home, 1);
    else unsetenv("HOME");
    if (old_mh) setenv("MLPLANE_HOME", old_mh, 1);
    free(old_home);
    free(old_mh);
    free(flag);
    free(envh);
    free(userh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test_setup_teardown(test_open_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_bad_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_artifacts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workloads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_commit_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_first_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_home_resolve, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
