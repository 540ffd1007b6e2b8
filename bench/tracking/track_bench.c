/* track_bench.c — the parts of bench/tracking that run in C:
 *   raw DB N              (b) the limit: N metric rows into a fresh store's metrics
 *                         table through the server's own INSERT, one prepared
 *                         statement, one transaction -> "raw N SECONDS ROWS_PER_S"
 *   seed HOME NRUNS       creates NRUNS MLflow runs (one metric "score", one param)
 *                         in one experiment of HOME's store -> "seed EXPERIMENT_ID"
 *   search URL EXP N MAX  (c) N runs/search requests (metric filter + order_by),
 *                         MAX results each -> "search N P50_MS P99_MS ROWS"
 *   auth DB N             (d) what --auth adds to a request: N checks of one token
 *                         (store token_verify, as api__authenticate makes them)
 *                         -> "auth N SECONDS US_PER_CHECK"
 * Exits non-zero on any error. */
#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int raw(const char *db, long n) {
    store *st = NULL;
    mp_err e;
    if (store_sqlite_open(db, &st, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    sqlite3 *h = store__db(st);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(h, store__track_metric_insert_sql(), -1, &q, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(h));
        return 1;
    }
    char key[16];
    double t0 = now_s();
    sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (long i = 0; i < n; i++) {
        /* the same rows the ingestion client sends: 10 keys, distinct steps */
        snprintf(key, sizeof key, "m%ld", i % 10);
        sqlite3_bind_text(q, 1, "0123456789abcdef0123456789abcdef", -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(q, 3, (double)(i % 997) + 0.5);
        sqlite3_bind_int64(q, 4, 1700000000000LL + i);
        sqlite3_bind_int64(q, 5, i);
        sqlite3_bind_int(q, 6, 0);
        if (sqlite3_step(q) != SQLITE_DONE) {
            fprintf(stderr, "insert: %s\n", sqlite3_errmsg(h));
            return 1;
        }
        sqlite3_reset(q);
    }
    if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "commit: %s\n", sqlite3_errmsg(h));
        return 1;
    }
    double secs = now_s() - t0;
    sqlite3_finalize(q);
    st->m->close(st);
    printf("raw %ld %.6f %.0f\n", n, secs, (double)n / secs);
    return 0;
}

static int seed(const char *home, long nruns) {
    store *st = NULL;
    mp_err e;
    if (store_open_home(home, &st, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    char *exp = NULL;
    int rc = st->t->experiment_get_or_create(st, "bench-search", &exp, &e);
    if (rc == 0) rc = st->m->begin(st, &e);
    for (long i = 0; i < nruns && rc == 0; i++) {
        char id[33], name[32], pv[32];
        snprintf(id, sizeof id, "%032lx", i + 1);
        snprintf(name, sizeof name, "run-%ld", i);
        snprintf(pv, sizeof pv, "%ld", i % 50);
        store_track_run r = {.run_id = id, .run_name = name, .experiment_id = exp, .status = "FINISHED",
                             .start_time = 1700000000000LL + i, .end_time = 1700000000000LL + i + 1000};
        rc = st->t->run_create(st, &r, &e);
        /* scores spread over [0, 1) in a scrambled order */
        store_track_metric m = {.key = "score", .value = (double)((i * 7919) % 100000) / 100000.0,
                                .timestamp = 1700000000000LL + i, .step = 0};
        store_kv p = {"bucket", pv};
        if (rc == 0) rc = st->t->log_batch(st, id, &m, 1, &p, 1, NULL, 0, &e);
    }
    if (rc == 0) rc = st->m->commit(st, &e);
    if (rc != 0) fprintf(stderr, "seed: %s\n", e.msg);
    else printf("seed %s\n", exp);
    free(exp);
    st->m->close(st);
    return rc ? 1 : 0;
}

typedef struct sink {
    char *buf;
    size_t len;
} sink;

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
    sink *s = ud;
    s->buf = realloc(s->buf, s->len + sz * n + 1);
    memcpy(s->buf + s->len, p, sz * n);
    s->len += sz * n;
    s->buf[s->len] = '\0';
    return sz * n;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int search(const char *url, const char *exp, int n, int max) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    char full[512], body[512];
    snprintf(full, sizeof full, "%s/api/2.0/mlflow/runs/search", url);
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    double *lat = calloc((size_t)n, sizeof *lat);
    long rows = 0;
    for (int i = 0; i < n; i++) {
        /* a different threshold each time, so no answer is reused */
        double thr = 0.5 + 0.4 * (double)(i % 97) / 97.0;
        snprintf(body, sizeof body,
                 "{\"experiment_ids\":[\"%s\"],\"filter\":\"metrics.score > %.4f and params.bucket != '7'\","
                 "\"order_by\":[\"metrics.score DESC\"],\"max_results\":%d}",
                 exp, thr, max);
        sink s = {0};
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        double t0 = now_s();
        CURLcode cc = curl_easy_perform(h);
        lat[i] = (now_s() - t0) * 1000.0;
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        json_t *j = s.buf ? json_loads(s.buf, 0, NULL) : NULL;
        if (cc != CURLE_OK || code != 200 || !j) {
            fprintf(stderr, "search answered %ld: %.300s\n", code, s.buf ? s.buf : curl_easy_strerror(cc));
            return 1;
        }
        rows = (long)json_array_size(json_object_get(j, "runs"));
        if (rows != max) {
            fprintf(stderr, "search returned %ld runs, expected %d\n", rows, max);
            return 1;
        }
        json_decref(j);
        free(s.buf);
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    printf("search %d %.3f %.3f %ld\n", n, lat[n / 2], lat[(int)((n - 1) * 0.99)], rows);
    free(lat);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return 0;
}

static int auth(const char *db, long n) {
    store *s = NULL;
    mp_err e = {0};
    if (store_sqlite_open(db, &s, &e) != 0) {
        fprintf(stderr, "auth: %s\n", e.msg);
        return 1;
    }
    store_token in = {.user = "bench", .groups = "team"}, t;
    char *token = NULL;
    int rc = s->a->token_create(s, &in, &token, NULL, &e);
    int64_t t0 = mp_mono_us();
    for (long i = 0; rc == 0 && i < n; i++) {
        rc = s->a->token_verify(s, token, mp_now_ms(), &t, &e);
        store_token_free(&t);
    }
    int64_t us = mp_mono_us() - t0;
    free(token);
    s->m->close(s);
    if (rc != 0) {
        fprintf(stderr, "auth: %s\n", e.msg);
        return 1;
    }
    printf("auth %ld %.3f %.3f\n", n, (double)us / 1e6, (double)us / (double)n);
    return 0;
}

int main(int argc, char **argv) {
    if (mp_init() != 0) return 1;
    if (argc == 4 && strcmp(argv[1], "auth") == 0) return auth(argv[2], atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "raw") == 0) return raw(argv[2], atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "seed") == 0) return seed(argv[2], atol(argv[3]));
    if (argc == 6 && strcmp(argv[1], "search") == 0) return search(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: %s raw DB N | seed HOME NRUNS | search URL EXPERIMENT N MAX | auth DB N\n", argv[0]);
    return 2;
}
