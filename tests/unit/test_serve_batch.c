/* test_serve_batch.c — micro-batching of small inference requests (serve/batch.c)
 * behind the real HTTP engine (util/httpd.c with a loop hook): a model trained
 * here on the breast-cancer data, served on 127.0.0.1 by serve_http_start with
 * two worker threads, and client threads that each send one-row (and a few
 * two-row) requests over their own keep-alive connection, all at once. Every
 * answer must carry its own request's id and exactly the XGBoost C API's
 * prediction for its rows; every small request must have gone through a
 * batch; a request too big for a batch is answered as before; and the engine's
 * defer/resume path answers deferred requests with the finish function's
 * answer (a plain handler, many concurrent clients). Uses MLPLANE_SRC and
 * MLPLANE_TEST_TMP. */
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include <cmocka.h>

#include "ml/ml_int.h"
#include "serve_helpers.h"
#include "serve/serve_int.h"

enum { CLIENTS = 8, PER_CLIENT = 60 };

static char g_tmp[4096];
static char g_model[4200];
static char g_data[4200];
static ml_table g_t;
static float *g_want; /* the C API's prediction of every row */

static int setup_all(void **state) {
    (void)state;
    if (serve_fixture("serve_batch", g_tmp, sizeof g_tmp, g_data, sizeof g_data, g_model, sizeof g_model) != 0) return -1;
    mp_err e = {0};
    if (ml_csv_read(g_data, &g_t, NULL, &e) != 0) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return -1;
    }
    /* The reference: the C API's DMatrix prediction of all rows at once. */
    BoosterHandle h;
    DMatrixHandle d;
    float *x = malloc(g_t.nrows * g_t.nfeat * sizeof *x);
    for (size_t i = 0; i < g_t.nrows * g_t.nfeat; i++) x[i] = (float)g_t.x[i];
    bst_ulong len = 0;
    const float *res = NULL;
    int rc = XGBoosterCreate(NULL, 0, &h) || XGBoosterLoadModel(h, g_model) ||
             XGDMatrixCreateFromMat(x, g_t.nrows, g_t.nfeat, NAN, &d) || XGBoosterPredict(h, d, 0, 0, 0, &len, &res);
    if (rc || len != g_t.nrows) return -1;
    g_want = malloc(len * sizeof *g_want);
    memcpy(g_want, res, len * sizeof *g_want);
    XGDMatrixFree(d);
    XGBoosterFree(h);
    free(x);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int teardown_all(void **state) {
    (void)state;
    ml_table_free(&g_t);
    free(g_want);
    curl_global_cleanup();
    return 0;
}

/* ---- a client --------------------------------------------------------------------- */

static size_t collect(char *p, size_t size, size_t n, void *ud) {
    mp_buf_append(ud, p, size * n);
    return size * n;
}

/* POSTs body to url on handle c; returns the status, the answer in *out. */
static long post(CURL *c, const char *url, const char *body, mp_buf *out) {
    mp_buf_reset(out);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (curl_easy_perform(c) != CURLE_OK) return -1;
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* A request for rows [from, from + n) with id "r-FROM-N". */
static char *request_rows(size_t from, size_t n) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "{\"id\":\"r-%zu-%zu\",\"inputs\":[{\"name\":\"input-0\",\"shape\":[%zu,%zu],\"datatype\":\"FP32\",\"data\":[", from,
                  n, n, g_t.nfeat);
    for (size_t i = from; i < from + n; i++)
        for (size_t j = 0; j < g_t.nfeat; j++)
            mp_buf_printf(&b, "%s%.9g", i > from || j > 0 ? "," : "", (double)(float)g_t.x[i * g_t.nfeat + j]);
    mp_buf_puts(&b, "]}]}");
    return mp_buf_steal(&b);
}

typedef struct client {
    const char *url;
    int index;
    int bad;         /* answers that were wrong */
    char why[256];   /* the first one */
} client;

/* Checks one answer: status 200, its own id, the C API's values for its rows. */
static bool check_answer(long status, const char *text, size_t from, size_t n, char *why, size_t wn) {
    if (status != 200) {
        snprintf(why, wn, "rows %zu+%zu: status %ld: %.150s", from, n, status, text);
        return false;
    }
    json_t *v = json_loads(text, 0, NULL);
    char id[64];
    snprintf(id, sizeof id, "r-%zu-%zu", from, n);
    const json_t *data = json_object_get(json_array_get(json_object_get(v, "outputs"), 0), "data");
    bool ok = v && strcmp(json_string_value(json_object_get(v, "id")) ? json_string_value(json_object_get(v, "id")) : "", id) == 0 &&
              json_array_size(data) == n;
    for (size_t i = 0; ok && i < n; i++) ok = (float)json_number_value(json_array_get(data, i)) == g_want[from + i];
    if (!ok) snprintf(why, wn, "rows %zu+%zu: wrong answer %.200s", from, n, text);
    json_decref(v);
    return ok;
}

static void *client_main(void *arg) {
    client *cl = arg;
    CURL *c = curl_easy_init();
    mp_buf out;
    mp_buf_init(&out);
    for (int k = 0; k < PER_CLIENT; k++) {
        size_t n = k % 10 == 9 ? 2 : 1; /* a few two-row requests among the one-row ones */
        size_t from = ((size_t)cl->index * PER_CLIENT + (size_t)k) % (g_t.nrows - 1);
        char *body = request_rows(from, n);
        long status = post(c, cl->url, body, &out);
        char why[256];
        if (!check_answer(status, out.data ? out.data : "", from, n, why, sizeof why) && cl->bad++ == 0)
            mp_strlcpy(cl->why, why, sizeof cl->why);
        free(body);
    }
    mp_buf_free(&out);
    curl_easy_cleanup(c);
    return NULL;
}

/* Runs CLIENTS client threads at once against url; fails on any wrong answer. */
static void run_clients(const char *url) {
    pthread_t t[CLIENTS];
    client cl[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (client){.url = url, .index = i};
        assert_int_equal(pthread_create(&t[i], NULL, client_main, &cl[i]), 0);
    }
    for (int i = 0; i < CLIENTS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < CLIENTS; i++) {
        if (cl[i].bad) fprintf(stderr, "client %d: %d wrong answers, first: %s\n", i, cl[i].bad, cl[i].why);
        assert_int_equal(cl[i].bad, 0);
    }
}

/* ---- the tests ----------------------------------------------------------------------- */

static void test_concurrent_requests_exact(void **state) {
    (void)state;
    mp_err e = {0};
    serve_model *m = NULL;
    assert_int_equal(serve_model_load(g_model, "bc", "1", &m, &e), 0);
    serve_oip *o = serve_oip_new();
    assert_int_equal(serve_oip_add(o, m, &e), 0);
    mp_httpd *h = NULL;
    mp_httpd_opts opts = {.listen = "127.0.0.1:0", .threads = 2};
    assert_int_equal(serve_http_start(o, &opts, &h, &e), 0);
    char url[400];
    snprintf(url, sizeof url, "%s/v2/models/bc/infer", mp_httpd_url(h));

    unsigned long long calls0, reqs0, calls1, reqs1;
    serve__batch_counts(&calls0, &reqs0);
    run_clients(url);
    serve__batch_counts(&calls1, &reqs1);
    /* every request was small: each went through a batch, and a batch is one call */
    assert_int_equal(reqs1 - reqs0, CLIENTS * PER_CLIENT);
    assert_true(calls1 - calls0 >= 1 && calls1 - calls0 <= reqs1 - reqs0);
    fprintf(stderr, "%llu requests in %llu batched calls\n", reqs1 - reqs0, calls1 - calls0);

    /* a request over SERVE__BATCH_DEFER rows is predicted on its own, as before */
    CURL *c = curl_easy_init();
    mp_buf out;
    mp_buf_init(&out);
    size_t big = SERVE__BATCH_DEFER + 36;
    char *body = request_rows(3, big), why[256] = "";
    serve__batch_counts(&calls0, &reqs0);
    long status = post(c, url, body, &out);
    bool ok = check_answer(status, out.data ? out.data : "", 3, big, why, sizeof why);
    serve__batch_counts(&calls1, &reqs1);
    if (!ok) fprintf(stderr, "%s\n", why);
    assert_true(ok);
    assert_int_equal(reqs1, reqs0);
    /* errors are answered at once, with the version header, as before */
    assert_int_equal(post(c, url, "{\"inputs\":[]}", &out), 400);
    free(body);
    mp_buf_free(&out);
    curl_easy_cleanup(c);

    mp_httpd_stop(h);
    serve_oip_free(o);
}

/* ---- the engine's defer and resume, with a plain handler -------------------------------- */

typedef struct later_req {
    mp_httpd_later *later;
    char body[64];
    struct later_req *next;
} later_req;

static _Thread_local later_req *t_deferred; /* this worker thread's, until its hook */
static atomic_int g_finished, g_hooks, g_twice;

static void plain_finish(void *arg, mp_http_resp *resp) {
    later_req *l = arg;
    if (resp) {
        mp_buf_puts(&resp->body, l->body);
        resp->status = 200;
        atomic_fetch_add(&g_finished, 1);
    }
    free(l);
}

/* Echoes the body back, deferred. */
static void plain_handler(void *cls, const mp_http_req *req, mp_http_resp *resp) {
    (void)cls;
    later_req *l = calloc(1, sizeof *l);
    snprintf(l->body, sizeof l->body, "%.40s", req->body);
    l->later = mp_httpd_defer(req, plain_finish, l);
    if (!l->later) { /* not expected with a loop hook */
        mp_http_text(resp, 500, "not deferred");
        free(l);
        return;
    }
    if (mp_httpd_defer(req, plain_finish, l)) atomic_fetch_add(&g_twice, 1); /* once per request */
    l->next = t_deferred;
    t_deferred = l;
}

static void plain_hook(void *cls) {
    (void)cls;
    atomic_fetch_add(&g_hooks, 1);
    for (later_req *l = t_deferred, *next; l; l = next) {
        next = l->next; /* l is freed by its finish, in a later round */
        mp_httpd_resume(l->later);
    }
    t_deferred = NULL;
}

static void plain_error(void *cls, mp_http_resp *resp, int status, const char *code, const char *msg) {
    (void)cls, (void)code;
    mp_http_text(resp, status, "%s", msg);
}

typedef struct echo_client {
    const char *url;
    int index, bad;
} echo_client;

static void *echo_main(void *arg) {
    echo_client *ec = arg;
    CURL *c = curl_easy_init();
    mp_buf out;
    mp_buf_init(&out);
    for (int k = 0; k < PER_CLIENT; k++) {
        char body[64];
        snprintf(body, sizeof body, "client %d request %d", ec->index, k);
        if (post(c, ec->url, body, &out) != 200 || !out.data || strcmp(out.data, body) != 0) ec->bad++;
    }
    mp_buf_free(&out);
    curl_easy_cleanup(c);
    return NULL;
}

static void test_engine_defer_resume(void **state) {
    (void)state;
    mp_err e = {0};
    mp_httpd *h = NULL;
    mp_httpd_opts opts = {.listen = "127.0.0.1:0", .threads = 2, .handler = plain_handler, .error = plain_error,
                          .loop_hook = plain_hook};
    assert_int_equal(mp_httpd_start(&opts, &h, &e), 0);
    char url[400];
    snprintf(url, sizeof url, "%s/echo", mp_httpd_url(h));
    atomic_store(&g_finished, 0);
    pthread_t t[CLIENTS];
    echo_client ec[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        ec[i] = (echo_client){.url = url, .index = i};
        assert_int_equal(pthread_create(&t[i], NULL, echo_main, &ec[i]), 0);
    }
    for (int i = 0; i < CLIENTS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < CLIENTS; i++) assert_int_equal(ec[i].bad, 0);
    assert_int_equal(atomic_load(&g_finished), CLIENTS * PER_CLIENT);
    assert_true(atomic_load(&g_hooks) > 0);
    assert_int_equal(atomic_load(&g_twice), 0);
    mp_httpd_stop(h);

    /* a loop hook and a thread per connection exclude each other */
    opts.thread_per_connection = true;
    assert_int_not_equal(mp_httpd_start(&opts, &h, &e), 0);
    /* outside such an engine nothing is deferred */
    mp_http_req req = {.method = "POST", .path = "/echo", .body = ""};
    assert_null(mp_httpd_defer(&req, plain_finish, NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_requests_exact),
        cmocka_unit_test(test_engine_defer_resume),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
