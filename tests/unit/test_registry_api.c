/* test_registry_api.c — unit tests of the MLflow model registry REST API
 * (src/track/registry*.c) and the registry store under it: every endpoint and
 * its errors, version numbering (also under concurrent creates from several
 * connections), aliases, stage transitions, latest versions, searches with
 * filters, order and pages, and that a failing request changes nothing.
 * Handlers are called directly through the route table with mp_http_req structs,
 * each test on a fresh SQLite store in its own directory under $MLPLANE_TEST_TMP.
 * Single-threaded except the concurrency test (one store handle per thread). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "track/track.h"
#include "unit_helpers.h"

typedef struct fx {
    char *dir;
    char *db;
    store *s;
} fx;

static int setup(void **state) {
    fx *f = mp_xcalloc(1, sizeof *f);
    f->dir = ut_scratch_dir("registry");
    f->db = mp_xasprintf("%s/mlplane.db", f->dir);
    f->s = ut_store_open(f->db);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    f->s->m->close(f->s);
    mp_rm_rf(f->dir, NULL);
    free(f->dir);
    free(f->db);
    free(f);
    return 0;
}

/* Calls METHOD /api/2.0/mlflow/<path> with a JSON body (or "" for none) and a
 * query string "k=v&k=v" (values not encoded; may be NULL). Returns the status;
 * *out gets the parsed JSON response (caller decrefs). */
static int call_st(store *s, const char *home, const char *method, const char *path, const char *body,
                   const char *query, json_t **out) {
    char full[512];
    snprintf(full, sizeof full, "/api/2.0/mlflow/%s", path);
    size_t n;
    const mp_http_route *routes = track_registry_routes(&n);
    mp_http_match mm;
    bool known;
    const mp_http_route *r = mp_http_route_find(routes, n, method, full, &mm, &known);
    if (!r) fail_msg("no route for %s %s", method, full);
    mp_http_kv kv[16];
    size_t nq = 0;
    char *qcopy = query ? mp_xstrdup(query) : NULL;
    for (char *save = NULL, *tok = qcopy ? strtok_r(qcopy, "&", &save) : NULL; tok && nq < 16;
         tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        if (eq) *eq = '\0';
        kv[nq++] = (mp_http_kv){tok, eq ? eq + 1 : ""};
    }
    mp_http_req req = {.method = method, .path = full, .tail = mm.tail, .params = mm.params, .nparams = mm.nparams, .query = kv, .nquery = nq,
                       .body = body ? body : "", .body_len = body ? strlen(body) : 0, .st = s, .home = home};
    mp_http_resp resp;
    mp_http_resp_init(&resp);
    r->fn(&req, &resp);
    json_error_t je;
    *out = json_loads(resp.body.data ? resp.body.data : "", 0, &je);
    if (!*out) fail_msg("%s %s: response is not JSON: %s", method, path, resp.body.data);
    int status = resp.status;
    mp_http_resp_free(&resp);
    free(qcopy);
    return status;
}

static int call(fx *f, const char *method, const char *path, const char *body, const char *query, json_t **out) {
    return call_st(f->s, f->dir, method, path, body, query, out);
}

/* Calls and checks the status; returns the response (caller decrefs). */
static json_t *ok(fx *f, const char *method, const char *path, const char *body, const char *query) {
    json_t *o;
    int st = call(f, method, path, body, query, &o);
    if (st != 200) {
        char *s = json_dumps(o, 0);
        fail_msg("%s %s: status %d: %s", method, path, st, s);
    }
    return o;
}

/* Calls, expects status and error_code, and that the message contains want. */
static void err(fx *f, const char *method, const char *path, const char *body, const char *query, int status,
                const char *code, const char *want) {
    json_t *o;
    int st = call(f, method, path, body, query, &o);
    const char *c = json_string_value(json_object_get(o, "error_code"));
    const char *m = json_string_value(json_object_get(o, "message"));
    if (st != status || !c || strcmp(c, code) != 0 || !m || (want && !strstr(m, want)))
        fail_msg("%s %s %s: got %d %s \"%s\", want %d %s \"%s\"", method, path, body ? body : query ? query : "", st,
                 c ? c : "-", m ? m : "-", status, code, want ? want : "");
    json_decref(o);
}

static const char *sget(json_t *o, const char *path) {
    /* dotted path: "model_version.version" */
    char buf[256];
    mp_strlcpy(buf, path, sizeof buf);
    json_t *cur = o;
    for (char *save = NULL, *t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, t);
    return json_string_value(cur);
}

static void mk_model(fx *f, const char *name) {
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    json_decref(ok(f, "POST", "registered-models/create", body, NULL));
}

/* Creates a version of name; returns its number. */
static int mk_version(fx *f, const char *name, const char *source, const char *run_id) {
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"source\":\"%s\",\"run_id\":\"%s\"}", name, source, run_id);
    json_t *o = ok(f, "POST", "model-versions/create", body, NULL);
    int v = atoi(sget(o, "model_version.version"));
    json_decref(o);
    return v;
}

/* ---- registered models ------------------------------------------------------------ */

static void test_model_crud(void **state) {
    fx *f = *state;
    json_t *o = ok(f, "POST", "registered-models/create",
                   "{\"name\":\"m\",\"description\":\"first\",\"tags\":[{\"key\":\"team\",\"value\":\"ml\"}]}", NULL);
    json_t *rm = json_object_get(o, "registered_model");
    assert_string_equal(sget(rm, "name"), "m");
    assert_string_equal(sget(rm, "description"), "first");
    assert_true(json_integer_value(json_object_get(rm, "creation_timestamp")) > 1600000000000LL);
    assert_string_equal(sget(json_array_get(json_object_get(rm, "tags"), 0), "key"), "team");
    assert_null(json_object_get(rm, "latest_versions"));
    json_decref(o);

    err(f, "POST", "registered-models/create", "{\"name\":\"m\"}", NULL, 400, "RESOURCE_ALREADY_EXISTS",
        "Registered Model (name=m) already exists.");
    err(f, "POST", "registered-models/create", "{}", NULL, 400, "INVALID_PARAMETER_VALUE",
        "Missing value for required parameter 'name'");
    err(f, "POST", "registered-models/create", "{\"name\":5}", NULL, 400, "INVALID_PARAMETER_VALUE", "'name'");
    err(f, "POST", "registered-models/create", "{\"name\":", NULL, 400, "INVALID_PARAMETER_VALUE", "malformed JSON");

    o = ok(f, "GET", "registered-models/get", NULL, "name=m");
    assert_string_equal(sget(o, "registered_model.name"), "m");
    json_decref(o);
    err(f, "GET", "registered-models/get", NULL, "name=nope", 404, "RESOURCE_DOES_NOT_EXIST",
        "Registered Model with name=nope not found");
    err(f, "GET", "registered-models/get", NULL, NULL, 400, "INVALID_PARAMETER_VALUE", "'name'");

    o = ok(f, "PATCH", "registered-models/update", "{\"name\":\"m\",\"description\":\"second\"}", NULL);
    assert_string_equal(sget(o, "registered_model.description"), "second");
    json_decref(o);
    err(f, "PATCH", "registered-models/update", "{\"name\":\"x\",\"description\":\"d\"}", NULL, 404,
        "RESOURCE_DOES_NOT_EXIST", "name=x");

    mk_version(f, "m", "s3://b/m1", "r1");
    mk_model(f, "other");
    err(f, "POST", "registered-models/rename", "{\"name\":\"m\",\"new_name\":\"other\"}", NULL, 400,
        "RESOURCE_ALREADY_EXISTS", "name=other");
    err(f, "POST", "registered-models/rename", "{\"name\":\"m\"}", NULL, 400, "INVALID_PARAMETER_VALUE", "'new_name'");
    err(f, "POST", "registered-models/rename", "{\"name\":\"zz\",\"new_name\":\"yy\"}", NULL, 404,
        "RESOURCE_DOES_NOT_EXIST", "name=zz");
    o = ok(f, "POST", "registered-models/rename", "{\"name\":\"m\",\"new_name\":\"m2\"}", NULL);
    assert_string_equal(sget(o, "registered_model.name"), "m2");
    json_t *lv = json_object_get(json_object_get(o, "registered_model"), "latest_versions");
    assert_int_equal(json_array_size(lv), 1);
    assert_string_equal(sget(json_array_get(lv, 0), "name"), "m2");
    json_decref(o);
    o = ok(f, "GET", "model-versions/get", NULL, "name=m2&version=1");
    assert_string_equal(sget(o, "model_version.name"), "m2");
    json_decref(o);
    err(f, "GET", "registered-models/get", NULL, "name=m", 404, "RESOURCE_DOES_NOT_EXIST", NULL);

    json_decref(ok(f, "DELETE", "registered-models/delete", "{\"name\":\"m2\"}", NULL));
    err(f, "GET", "registered-models/get", NULL, "name=m2", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
    err(f, "GET", "model-versions/get", NULL, "name=m2&version=1", 404, "RESOURCE_DOES_NOT_EXIST",
        "Model Version (name=m2, version=1) not found");
    err(f, "DELETE", "registered-models/delete", "{\"name\":\"m2\"}", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
    /* A model created again under a deleted name starts again at version 1. */
    mk_model(f, "m2");
    assert_int_equal(mk_version(f, "m2", "s3://b/x", ""), 1);
}

static void test_model_tags(void **state) {
    fx *f = *state;
    mk_model(f, "m");
    json_decref(ok(f, "POST", "registered-models/set-tag", "{\"name\":\"m\",\"key\":\"k\",\"value\":\"v1\"}", NULL));
    json_decref(ok(f, "POST", "registered-models/set-tag", "{\"name\":\"m\",\"key\":\"k\",\"value\":\"v2\"}", NULL));
    json_decref(ok(f, "POST", "registered-models/set-tag", "{\"name\":\"m\",\"key\":\"a\",\"value\":\"x\"}", NULL));
    json_t *o = ok(f, "GET", "registered-models/get", NULL, "name=m");
    json_t *tags = json_object_get(json_object_get(o, "registered_model"), "tags");
    assert_int_equal(json_array_size(tags), 2);
    assert_string_equal(sget(json_array_get(tags, 1), "value"), "v2");
    json_decref(o);
    err(f, "POST", "registered-models/set-tag", "{\"name\":\"m\",\"key\":\"../x\",\"value\":\"v\"}", NULL, 400,
        "INVALID_PARAMETER_VALUE", "'key'");
    err(f, "POST", "registered-models/set-tag", "{\"name\":\"m\",\"key\":\"a*b\",\"value\":\"v\"}", NULL, 400,
        "INVALID_PARAMETER_VALUE", "Names may only contain");
    err(f, "POST", "registered-models/set-tag", "{\"name\":\"nope\",\"key\":\"k\",\"value\":\"v\"}", NULL, 404,
        "RESOURCE_DOES_NOT_EXIST", NULL);
    err(f, "POST", "registered-models/set-tag", "{\"name\":\"m\",\"value\":\"v\"}", NULL, 400,
        "INVALID_PARAMETER_VALUE", "'key'");
    json_decref(ok(f, "DELETE", "registered-models/delete-tag", "{\"name\":\"m\",\"key\":\"k\"}", NULL));
    json_decref(ok(f, "DELETE", "registered-models/delete-tag", "{\"name\":\"m\",\"key\":\"k\"}", NULL));
    err(f, "DELETE", "registered-models/delete-tag", "{\"name\":\"nope\",\"key\":\"k\"}", NULL, 404,
        "RESOURCE_DOES_NOT_EXIST", NULL);
    o = ok(f, "GET", "registered-models/get", NULL, "name=m");
    assert_int_equal(json_array_size(json_object_get(json_object_get(o, "registered_model"), "tags")), 1);
    json_decref(o);
}

/* ---- model versions --------------------------------------------------------------- */

static void test_version_numbering(void **state) {
    fx *f = *state;
    mk_model(f, "m");
    json_t *o = ok(f, "POST", "model-versions/create",
                   "{\"name\":\"m\",\"source\":\"s3://b/1\",\"tags\":[{\"key\":\"t\",\"value\":\"1\"}]}", NULL);
    json_t *mv = json_object_get(o, "model_version");
    assert_string_equal(sget(mv, "version"), "1");
    assert_string_equal(sget(mv, "current_stage"), "None");
    assert_string_equal(sget(mv, "status"), "READY");
    assert_string_equal(sget(mv, "source"), "s3://b/1");
    assert_string_equal(sget(mv, "run_id"), "");
    assert_string_equal(sget(mv, "description"), "");
    assert_string_equal(sget(mv, "run_link"), "");
    assert_null(json_object_get(mv, "user_id"));
    assert_null(json_object_get(mv, "aliases"));
    assert_int_equal(json_array_size(json_object_get(mv, "tags")), 1);
    json_decref(o);
    assert_int_equal(mk_version(f, "m", "s3://b/2", "r"), 2);
    assert_int_equal(mk_version(f, "m", "s3://b/3", "r"), 3);
    json_decref(ok(f, "DELETE", "model-versions/delete", "{\"name\":\"m\",\"version\":\"3\"}", NULL));
    assert_int_equal(mk_version(f, "m", "s3://b/4", "r"), 4); /* numbers are never reused */
    err(f, "POST", "model-versions/create", "{\"name\":\"nope\",\"source\":\"s3://x\"}", NULL, 404,
        "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=nope not found");
    err(f, "POST", "model-versions/create", "{\"name\":\"m\"}", NULL, 400, "INVALID_PARAMETER_VALUE", "'source'");
    err(f, "POST", "model-versions/create", "{\"name\":\"m\",\"source\":\"s3://b/../../etc\"}", NULL, 400,
        "INVALID_PARAMETER_VALUE", "Invalid model version source");
    err(f, "POST", "model-versions/create", "{\"name\":\"m\",\"source\":\"/a/%2e%2e/b\"}", NULL, 400,
        "INVALID_PARAMETER_VALUE", "Invalid model version source");
    /* the failed creates took no number */
    assert_int_equal(mk_version(f, "m", "s3://b/5", "r"), 5);
    o = ok(f, "GET", "registered-models/get", NULL, "name=m");
    json_t *lv = json_object_get(json_object_get(o, "registered_model"), "latest_versions");
    assert_int_equal(json_array_size(lv), 1);
    assert_string_equal(sget(json_array_get(lv, 0), "version"), "5");
    json_decref(o);
}

typedef struct worker {
    const char *db;
    int n;
    int versions[64];
} worker;

static void *create_many(void *arg) {
    worker *w = arg;
    store *s = NULL;
    mp_err e = {0};
    if (store_sqlite_open(w->db, &s, &e) != 0) return NULL;
    for (int i = 0; i < w->n; i++) {
        json_t *o;
        int st = call_st(s, "/tmp", "POST", "model-versions/create", "{\"name\":\"c\",\"source\":\"s3://b/c\"}", NULL,
                         &o);
        w->versions[i] = st == 200 ? atoi(sget(o, "model_version.version")) : -st;
        json_decref(o);
    }
    s->m->close(s);
    return NULL;
}

static void test_concurrent_creates(void **state) {
    fx *f = *state;
    mk_model(f, "c");
    enum { T = 4, N = 15 };
    pthread_t th[T];
    worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker){.db = f->db, .n = N};
        assert_int_equal(pthread_create(&th[i], NULL, create_many, &w[i]), 0);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    bool seen[T * N + 1] = {false};
    for (int i = 0; i < T; i++) {
        for (int k = 0; k < N; k++) {
            int v = w[i].versions[k];
            if (v < 1 || v > T * N) fail_msg("thread %d create %d: %d", i, k, v);
            if (seen[v]) fail_msg("version %d given twice", v);
            seen[v] = true;
        }
    }
}

static void test_version_get_update_delete(void **state) {
    fx *f = *state;
    mk_model(f, "m");
    mk_version(f, "m", "s3://b/1", "r1");
    err(f, "GET", "model-versions/get", NULL, "name=m&version=abc", 400, "INVALID_PARAMETER_VALUE",
        "Parameter 'version' must be an integer, got 'abc'.");
    err(f, "GET", "model-versions/get", NULL, "name=m", 400, "INVALID_PARAMETER_VALUE", "'version'");
    err(f, "GET", "model-versions/get", NULL, "name=m&version=9", 404, "RESOURCE_DOES_NOT_EXIST",
        "Model Version (name=m, version=9) not found");
    json_t *o = ok(f, "PATCH", "model-versions/update", "{\"name\":\"m\",\"version\":\"1\",\"description\":\"d\"}", NULL);
    assert_string_equal(sget(o, "model_version.description"), "d");
    json_decref(o);
    o = ok(f, "PATCH", "model-versions/update", "{\"name\":\"m\",\"version\":\"1\"}", NULL);
    assert_null(json_object_get(json_object_get(o, "model_version"), "description"));
    json_decref(o);
    err(f, "PATCH", "model-versions/update", "{\"name\":\"m\",\"version\":\"7\",\"description\":\"d\"}", NULL, 404,
        "RESOURCE_DOES_NOT_EXIST", NULL);
    o = ok(f, "GET", "model-versions/get-download-uri", NULL, "name=m&version=1");
    assert_string_equal(sget(o, "artifact_uri"), "s3://b/1");
    json_decref(o);
    err(f, "GET", "model-versions/get-download-uri", NULL, "name=m&version=2", 404, "RESOURCE_DOES_NOT_EXIST", NULL);

    json_decref(ok(f, "POST", "model-versions/set-tag", "{\"name\":\"m\",\"version\":\"1\",\"key\":\"k\",\"value\":\"v\"}",
                   NULL));
    o = ok(f, "GET", "model-versions/get", NULL, "name=m&version=1");
    assert_string_equal(sget(json_array_get(json_object_get(json_object_get(o, "model_version"), "tags"), 0), "value"),
                        "v");
    json_decref(o);
    err(f, "POST", "model-versions/set-tag", "{\"name\":\"m\",\"version\":\"3\",\"key\":\"k\",\"value\":\"v\"}", NULL,
        404, "RESOURCE_DOES_NOT_EXIST", NULL);
    err(f, "POST", "model-versions/set-tag", "{\"name\":\"m\",\"version\":\"1\",\"key\":\"/abs\",\"value\":\"v\"}", NULL,
        400, "INVALID_PARAMETER_VALUE", "'key'");
    json_decref(ok(f, "DELETE", "model-versions/delete-tag", "{\"name\":\"m\",\"version\":\"1\",\"key\":\"k\"}", NULL));
    o = ok(f, "GET", "model-versions/get", NULL, "name=m&version=1");
    assert_null(json_object_get(json_object_get(o, "model_version"), "tags"));
    json_decref(o);
    err(f, "DELETE", "model-versions/delete-tag", "{\"name\":\"m\",\"version\":\"5\",\"key\":\"k\"}", NULL, 404,
        "RESOURCE_DOES_NOT_EXIST", NULL);

    json_decref(ok(f, "DELETE", "model-versions/delete", "{\"name\":\"m\",\"version\":\"1\"}", NULL));
    err(f, "DELETE", "model-versions/delete", "{\"name\":\"m\",\"version\":\"1\"}", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
        NULL);
    err(f, "GET", "model-versions/get", NULL, "name=m&version=1", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
}

static void test_aliases(void **state) {
    fx *f = *state;
    mk_model(f, "m");
    mk_version(f, "m", "s3://b/1", "r1");
    mk_version(f, "m", "s3://b/2", "r2");
    json_decref(ok(f, "POST", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"champion\",\"version\":\"1\"}", NULL));
    json_decref(ok(f, "POST", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"beta\",\"version\":\"1\"}", NULL));
    json_t *o = ok(f, "GET", "registered-models/get", NULL, "name=m");
    json_t *al = json_object_get(json_object_get(o, "registered_model"), "aliases");
    assert_int_equal(json_array_size(al), 2);
    assert_string_equal(sget(json_array_get(al, 0), "alias"), "beta");
    assert_string_equal(sget(json_array_get(al, 1), "version"), "1");
    json_decref(o);
    o = ok(f, "GET", "model-versions/get", NULL, "name=m&version=1");
    al = json_object_get(json_object_get(o, "model_version"), "aliases");
    assert_int_equal(json_array_size(al), 2);
    assert_string_equal(json_string_value(json_array_get(al, 1)), "champion");
    json_decref(o);
    o = ok(f, "GET", "registered-models/alias", NULL, "name=m&alias=champion");
    assert_string_equal(sget(o, "model_version.version"), "1");
    json_decref(o);
    /* moving the alias */
    json_decref(ok(f, "POST", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"champion\",\"version\":\"2\"}", NULL));
    o = ok(f, "GET", "registered-models/alias", NULL, "name=m&alias=champion");
    assert_string_equal(sget(o, "model_version.version"), "2");
    json_decref(o);
    err(f, "POST", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"latest\",\"version\":\"1\"}", NULL, 400,
        "INVALID_PARAMETER_VALUE", "reserved");
    err(f, "POST", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"V12\",\"version\":\"1\"}", NULL, 400,
        "INVALID_PARAMETER_VALUE", "reserved");
    err(f, "POST", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"a b\",\"version\":\"1\"}", NULL, 400,
        "INVALID_PARAMETER_VALUE", "Invalid alias name");
    err(f, "POST", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"x\",\"version\":\"9\"}", NULL, 404,
        "RESOURCE_DOES_NOT_EXIST", "version=9");
    err(f, "POST", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"x\"}", NULL, 400, "INVALID_PARAMETER_VALUE",
        "'version'");
    json_decref(ok(f, "DELETE", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"beta\"}", NULL));
    json_decref(ok(f, "DELETE", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"beta\"}", NULL));
    err(f, "DELETE", "registered-models/alias", "{\"name\":\"nope\",\"alias\":\"beta\"}", NULL, 404,
        "RESOURCE_DOES_NOT_EXIST", NULL);
    err(f, "GET", "registered-models/alias", NULL, "name=m&alias=beta", 400, "INVALID_PARAMETER_VALUE",
        "Registered model alias beta not found.");
    /* deleting a version removes its aliases */
    json_decref(ok(f, "DELETE", "model-versions/delete", "{\"name\":\"m\",\"version\":\"2\"}", NULL));
    err(f, "GET", "registered-models/alias", NULL, "name=m&alias=champion", 400, "INVALID_PARAMETER_VALUE", NULL);
    o = ok(f, "GET", "registered-models/get", NULL, "name=m");
    assert_null(json_object_get(json_object_get(o, "registered_model"), "aliases"));
    json_decref(o);
}

static const char *stage_of(fx *f, const char *v) {
    static char buf[32];
    char q[64];
    snprintf(q, sizeof q, "name=m&version=%s", v);
    json_t *o = ok(f, "GET", "model-versions/get", NULL, q);
    mp_strlcpy(buf, sget(o, "model_version.current_stage"), sizeof buf);
    json_decref(o);
    return buf;
}

static void test_transition(void **state) {
    fx *f = *state;
    mk_model(f, "m");
    for (int i = 0; i < 3; i++) mk_version(f, "m", "s3://b/x", "r");
    json_t *o = ok(f, "POST", "model-versions/transition-stage",
                   "{\"name\":\"m\",\"version\":\"1\",\"stage\":\"production\",\"archive_existing_versions\":false}", NULL);
    assert_string_equal(sget(o, "model_version.current_stage"), "Production");
    json_decref(o);
    json_decref(ok(f, "POST", "model-versions/transition-stage",
                   "{\"name\":\"m\",\"version\":\"2\",\"stage\":\"Production\",\"archive_existing_versions\":false}", NULL));
    assert_string_equal(stage_of(f, "1"), "Production");
    json_decref(ok(f, "POST", "model-versions/transition-stage",
                   "{\"name\":\"m\",\"version\":\"3\",\"stage\":\"Production\",\"archive_existing_versions\":true}", NULL));
    assert_string_equal(stage_of(f, "1"), "Archived");
    assert_string_equal(stage_of(f, "2"), "Archived");
    assert_string_equal(stage_of(f, "3"), "Production");
    err(f, "POST", "model-versions/transition-stage", "{\"name\":\"m\",\"version\":\"1\",\"stage\":\"bogus\"}", NULL, 400,
        "INVALID_PARAMETER_VALUE", "Invalid Model Version stage: bogus");
    err(f, "POST", "model-versions/transition-stage",
        "{\"name\":\"m\",\"version\":\"1\",\"stage\":\"None\",\"archive_existing_versions\":true}", NULL, 500,
        "INTERNAL_ERROR", "not an Active stage");
    err(f, "POST", "model-versions/transition-stage", "{\"name\":\"m\",\"version\":\"9\",\"stage\":\"Staging\"}", NULL,
        404, "RESOURCE_DOES_NOT_EXIST", NULL);
    err(f, "POST", "model-versions/transition-stage", "{\"name\":\"m\",\"version\":\"1\"}", NULL, 400,
        "INVALID_PARAMETER_VALUE", "'stage'");
    /* a failing archive-and-transition archives nothing */
    err(f, "POST", "model-versions/transition-stage",
        "{\"name\":\"m\",\"version\":\"9\",\"stage\":\"Production\",\"archive_existing_versions\":true}", NULL, 404,
        "RESOURCE_DOES_NOT_EXIST", NULL);
    assert_string_equal(stage_of(f, "3"), "Production");
}

static void test_latest_versions(void **state) {
    fx *f = *state;
    mk_model(f, "m");
    for (int i = 0; i < 5; i++) mk_version(f, "m", "s3://b/x", "r");
    const char *moves[][2] = {{"1", "Production"}, {"2", "Staging"}, {"3", "Production"}};
    for (size_t i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"name\":\"m\",\"version\":\"%s\",\"stage\":\"%s\"}", moves[i][0], moves[i][1]);
        json_decref(ok(f, "POST", "model-versions/transition-stage", body, NULL));
    }
    json_decref(ok(f, "POST", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"prod\",\"version\":\"3\"}", NULL));
    json_t *o = ok(f, "POST", "registered-models/get-latest-versions", "{\"name\":\"m\"}", NULL);
    json_t *a = json_object_get(o, "model_versions");
    assert_int_equal(json_array_size(a), 3); /* Production 3, Staging 2, None 5 */
    int seen = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *st = sget(json_array_get(a, i), "current_stage"), *v = sget(json_array_get(a, i), "version");
        if (strcmp(st, "Production") == 0) {
            assert_string_equal(v, "3");
            assert_string_equal(json_string_value(json_array_get(json_object_get(json_array_get(a, i), "aliases"), 0)),
                                "prod");
            seen |= 1;
        } else if (strcmp(st, "Staging") == 0) {
            assert_string_equal(v, "2");
            seen |= 2;
        } else {
            assert_string_equal(st, "None");
            assert_string_equal(v, "5");
            seen |= 4;
        }
    }
    assert_int_equal(seen, 7);
    json_decref(o);
    o = ok(f, "POST", "registered-models/get-latest-versions", "{\"name\":\"m\",\"stages\":[\"production\"]}", NULL);
    a = json_object_get(o, "model_versions");
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(sget(json_array_get(a, 0), "version"), "3");
    json_decref(o);
    o = ok(f, "GET", "registered-models/get-latest-versions", NULL, "name=m&stages=Staging&stages=None");
    assert_int_equal(json_array_size(json_object_get(o, "model_versions")), 2);
    json_decref(o);
    o = ok(f, "POST", "registered-models/get-latest-versions", "{\"name\":\"m\",\"stages\":[\"Archived\"]}", NULL);
    assert_null(json_object_get(o, "model_versions"));
    json_decref(o);
    err(f, "POST", "registered-models/get-latest-versions", "{\"name\":\"m\",\"stages\":[\"Prod\"]}", NULL, 400,
        "INVALID_PARAMETER_VALUE", "Invalid Model Version stage: Prod");
    err(f, "POST", "registered-models/get-latest-versions", "{\"name\":\"zz\"}", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
        NULL);
    err(f, "POST", "registered-models/get-latest-versions", "{\"name\":\"m\",\"stages\":\"x\"}", NULL, 400,
        "INVALID_PARAMETER_VALUE", NULL);
}

/* ---- searches ----------------------------------------------------------------------- */

static size_t count_of(json_t *o, const char *key) { return json_array_size(json_object_get(o, key)); }

static void test_search_models(void **state) {
    fx *f = *state;
    const char *names[] = {"alpha", "alpine", "Apex", "beta", "gamma"};
    for (size_t i = 0; i < 5; i++) mk_model(f, names[i]);
    json_decref(ok(f, "POST", "registered-models/set-tag", "{\"name\":\"beta\",\"key\":\"team\",\"value\":\"ml\"}", NULL));
    mp_sleep_ms(5);
    json_decref(ok(f, "PATCH", "registered-models/update", "{\"name\":\"beta\",\"description\":\"b\"}", NULL));
    json_t *o = ok(f, "GET", "registered-models/search", NULL, NULL);
    assert_int_equal(count_of(o, "registered_models"), 5);
    assert_string_equal(sget(json_array_get(json_object_get(o, "registered_models"), 0), "name"), "Apex");
    assert_null(json_object_get(o, "next_page_token"));
    json_decref(o);
    struct {
        const char *filter;
        size_t n;
    } cases[] = {
        {"name LIKE 'al%'", 2},   {"name LIKE 'A%'", 1},           {"name ILIKE 'a%'", 3},
        {"name = 'beta'", 1},     {"name != 'beta'", 4},          {"name LIKE '_lp%' AND name != 'alpha'", 1},
        {"tags.team = 'ml'", 1},  {"tags.`team` LIKE 'm%'", 1},   {"tags.team = 'x'", 0},
        {"name like 'gam%'", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *p = json_pack("{s:s}", "filter", cases[i].filter);
        char *body = json_dumps(p, 0);
        json_decref(p);
        /* search is GET; the handler reads a body as well as a query */
        o = ok(f, "GET", "registered-models/search", body, NULL);
        if (count_of(o, "registered_models") != cases[i].n)
            fail_msg("filter %s: %zu results, want %zu", cases[i].filter, count_of(o, "registered_models"), cases[i].n);
        json_decref(o);
        free(body);
    }
    /* pages of 2 */
    o = ok(f, "GET", "registered-models/search", NULL, "max_results=2&order_by=name DESC");
    assert_int_equal(count_of(o, "registered_models"), 2);
    assert_string_equal(sget(json_array_get(json_object_get(o, "registered_models"), 0), "name"), "gamma");
    char q[256];
    snprintf(q, sizeof q, "max_results=2&order_by=name DESC&page_token=%s", sget(o, "next_page_token"));
    json_decref(o);
    o = ok(f, "GET", "registered-models/search", NULL, q);
    assert_string_equal(sget(json_array_get(json_object_get(o, "registered_models"), 0), "name"), "alpine");
    snprintf(q, sizeof q, "max_results=2&order_by=name DESC&page_token=%s", sget(o, "next_page_token"));
    json_decref(o);
    o = ok(f, "GET", "registered-models/search", NULL, q);
    assert_int_equal(count_of(o, "registered_models"), 1);
    assert_null(json_object_get(o, "next_page_token"));
    json_decref(o);
    o = ok(f, "GET", "registered-models/search", NULL, "order_by=last_updated_timestamp DESC&max_results=1");
    assert_string_equal(sget(json_array_get(json_object_get(o, "registered_models"), 0), "name"), "beta");
    json_decref(o);

    err(f, "GET", "registered-models/search", NULL, "max_results=1001", 400, "INVALID_PARAMETER_VALUE", "max_results");
    err(f, "GET", "registered-models/search", NULL, "max_results=abc", 400, "INVALID_PARAMETER_VALUE", "max_results");
    err(f, "GET", "registered-models/search", NULL, "filter=name LIKE", 400, "INVALID_PARAMETER_VALUE", NULL);
    err(f, "GET", "registered-models/search", NULL, "filter=name = beta", 400, "INVALID_PARAMETER_VALUE", "quote");
    err(f, "GET", "registered-models/search", NULL, "filter=run_id = 'x'", 400, "INVALID_PARAMETER_VALUE",
        "Invalid attribute name: run_id");
    err(f, "GET", "registered-models/search", NULL, "filter=name > 'x'", 400, "INVALID_PARAMETER_VALUE",
        "Invalid comparator");
    err(f, "GET", "registered-models/search", NULL, "order_by=bogus", 400, "INVALID_PARAMETER_VALUE", "bogus");
    err(f, "GET", "registered-models/search", NULL, "page_token=!!notbase64", 400, "INVALID_PARAMETER_VALUE",
        "Invalid page token");
}

static void test_search_versions(void **state) {
    fx *f = *state;
    mk_model(f, "m");
    mk_model(f, "n");
    mk_version(f, "m", "s3://bucket/m/1", "r1");
    mk_version(f, "m", "s3://bucket/m/2", "r2");
    mk_version(f, "m", "s3://other/m/3", "r1");
    mk_version(f, "n", "s3://bucket/n/1", "r3");
    json_decref(ok(f, "POST", "model-versions/set-tag", "{\"name\":\"n\",\"version\":\"1\",\"key\":\"k\",\"value\":\"v\"}",
                   NULL));
    json_decref(ok(f, "POST", "registered-models/alias", "{\"name\":\"m\",\"alias\":\"a\",\"version\":\"1\"}", NULL));
    struct {
        const char *filter;
        size_t n;
    } cases[] = {
        {"", 4},
        {"name='m'", 3},
        {"run_id = 'r1'", 2},
        {"run_id IN ('r1', 'r3')", 3},
        {"source_path LIKE 's3://bucket/%'", 3},
        {"name = 'm' AND version_number > 1", 2},
        {"version_number <= 1", 2},
        {"tags.k = 'v'", 1},
        {"name = \"n\"", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *p = json_pack("{s:s}", "filter", cases[i].filter);
        char *body = json_dumps(p, 0);
        json_decref(p);
        json_t *o = ok(f, "GET", "model-versions/search", body, NULL);
        if (count_of(o, "model_versions") != cases[i].n)
            fail_msg("filter %s: %zu results, want %zu", cases[i].filter, count_of(o, "model_versions"), cases[i].n);
        json_decref(o);
        free(body);
    }
    json_t *o = ok(f, "GET", "model-versions/search", NULL, "order_by=name ASC&order_by=version_number ASC");
    json_t *a = json_object_get(o, "model_versions");
    assert_string_equal(sget(json_array_get(a, 0), "version"), "1");
    assert_string_equal(sget(json_array_get(a, 2), "version"), "3");
    assert_string_equal(sget(json_array_get(a, 3), "name"), "n");
    assert_null(json_object_get(json_array_get(a, 0), "aliases")); /* MLflow's search shows none */
    json_decref(o);
    o = ok(f, "GET", "model-versions/search", NULL, "filter=name='m'&max_results=2");
    assert_int_equal(count_of(o, "model_versions"), 2);
    assert_string_equal(sget(json_array_get(json_object_get(o, "model_versions"), 0), "version"), "3");
    char q[256];
    snprintf(q, sizeof q, "filter=name='m'&max_results=2&page_token=%s", sget(o, "next_page_token"));
    json_decref(o);
    o = ok(f, "GET", "model-versions/search", NULL, q);
    assert_int_equal(count_of(o, "model_versions"), 1);
    assert_string_equal(sget(json_array_get(json_object_get(o, "model_versions"), 0), "version"), "1");
    json_decref(o);
    err(f, "GET", "model-versions/search", NULL, "filter=name IN ('m')", 400, "INVALID_PARAMETER_VALUE",
        "Invalid comparator");
    err(f, "GET", "model-versions/search", NULL, "filter=version_number LIKE '1'", 400, "INVALID_PARAMETER_VALUE",
        "Invalid comparator");
    err(f, "GET", "model-versions/search", NULL, "filter=foo = 'x'", 400, "INVALID_PARAMETER_VALUE", "foo");
    err(f, "GET", "model-versions/search", NULL, "max_results=200001", 400, "INVALID_PARAMETER_VALUE", "max_results");
    err(f, "GET", "model-versions/search", NULL, "order_by=name&order_by=name DESC", 500, "INTERNAL_ERROR",
        "duplicate");
}

/* ---- atomicity and the C API for the pipeline engine ----------------------------------- */

static void test_failed_request_changes_nothing(void **state) {
    fx *f = *state;
    err(f, "POST", "registered-models/create",
        "{\"name\":\"t\",\"tags\":[{\"key\":\"ok\",\"value\":\"1\"},{\"key\":\"../bad\",\"value\":\"2\"}]}", NULL, 400,
        "INVALID_PARAMETER_VALUE", NULL);
    err(f, "GET", "registered-models/get", NULL, "name=t", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
    /* A store call failing inside the caller's transaction rolls back only itself. */
    store *s = f->s;
    mp_err e = {0};
    assert_int_equal(s->m->begin(s, &e), 0);
    int64_t v = 0;
    assert_int_equal(s->r->version_register(s, "p", "/runs/1/model", "run-1", &v, &e), 0);
    assert_int_equal(v, 1);
    assert_int_equal(s->r->model_create(s, "p", NULL, NULL, 0, NULL, &e), MP_EEXIST);
    assert_int_equal(s->r->version_register(s, "p", "/runs/2/model", NULL, &v, &e), 0);
    assert_int_equal(v, 2);
    assert_int_equal(s->m->commit(s, &e), 0);
    json_t *o = ok(f, "GET", "model-versions/get", NULL, "name=p&version=2");
    assert_string_equal(sget(o, "model_version.source"), "/runs/2/model");
    assert_null(json_object_get(json_object_get(o, "model_version"), "run_id"));
    json_decref(o);
    o = ok(f, "GET", "model-versions/get", NULL, "name=p&version=1");
    assert_string_equal(sget(o, "model_version.run_id"), "run-1");
    json_decref(o);
    assert_int_equal(s->r->version_register(s, "", "/x", NULL, &v, &e), MP_EINVAL);
}

static void test_routes(void **state) {
    (void)state;
    size_t n;
    const mp_http_route *r = track_registry_routes(&n);
    assert_true(n >= 22);
    mp_http_match mm;
    bool known;
    assert_null(mp_http_route_find(r, n, "PUT", "/api/2.0/mlflow/registered-models/create", &mm, &known));
    assert_true(known);
    assert_non_null(mp_http_route_find(r, n, "GET", "/api/2.0/mlflow/registered-models/get-latest-versions", &mm, &known));
    assert_non_null(mp_http_route_find(r, n, "DELETE", "/api/2.0/mlflow/registered-models/alias", &mm, &known));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_numbering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_creates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_get_update_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latest_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_request_changes_nothing, setup, teardown),
        cmocka_unit_test(test_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
