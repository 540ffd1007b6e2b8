/* ingest.c — bench/tracking (a): log-batch ingestion over HTTP from a C client.
 * Creates an experiment and a run through the MLflow REST API, then sends POINTS
 * metric points as log-batch requests of BATCH metrics each, over CONNS
 * keep-alive connections (one thread each), and prints the rate.
 * Usage: bench_track_ingest URL POINTS CONNS BATCH
 * With MLPLANE_TOKEN set, every request carries it (Authorization: Bearer), for a
 * server with --auth.
 * Prints: "ingest POINTS SECONDS POINTS_PER_S" and exits non-zero on any error. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct worker {
    const char *url;
    const char *run_id;
    long first_batch, nbatches;
    int batch;
    int failed;
    char err[256];
} worker;

typedef struct sink {
    char buf[4096];
    size_t len;
} sink;

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
    sink *s = ud;
    size_t take = sz * n;
    if (take > sizeof s->buf - 1 - s->len) take = sizeof s->buf - 1 - s->len;
    memcpy(s->buf + s->len, p, take);
    s->len += take;
    s->buf[s->len] = '\0';
    return sz * n;
}

/* POSTs body to base+path on h; returns the HTTP status (0 on transport error). */
static long post(CURL *h, const char *base, const char *path, const char *body, sink *out) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    out->len = 0;
    out->buf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (curl_easy_perform(h) != CURLE_OK) return 0;
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

/* h with the Authorization header of $MLPLANE_TOKEN appended, when set. */
static struct curl_slist *with_token(struct curl_slist *h) {
    const char *t = getenv("MLPLANE_TOKEN");
    if (!t || !*t) return h;
    char line[600];
    snprintf(line, sizeof line, "Authorization: Bearer %s", t);
    return curl_slist_append(h, line);
}

static void *work(void *arg) {
    worker *w = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    /* as MLflow's Python client (requests): no "Expect: 100-continue" round trip */
    hdr = curl_slist_append(hdr, "Expect:");
    hdr = with_token(hdr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    size_t cap = (size_t)w->batch * 96 + 256;
    char *body = malloc(cap);
    sink out;
    for (long b = 0; b < w->nbatches && !w->failed; b++) {
        long batch_no = w->first_batch + b;
        size_t len = (size_t)snprintf(body, cap, "{\"run_id\":\"%s\",\"metrics\":[", w->run_id);
        for (int i = 0; i < w->batch; i++) {
            long step = batch_no * w->batch + i;
            len += (size_t)snprintf(body + len, cap - len, "%s{\"key\":\"m%d\",\"value\":%ld.5,\"timestamp\":%ld,\"step\":%ld}",
                                    i ? "," : "", i % 10, step % 997, 1700000000000L + step, step);
        }
        snprintf(body + len, cap - len, "]}");
        long code = post(h, w->url, "/api/2.0/mlflow/runs/log-batch", body, &out);
        if (code != 200) {
            w->failed = 1;
            snprintf(w->err, sizeof w->err, "log-batch answered %ld: %.200s", code, out.buf);
        }
    }
    free(body);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s URL POINTS CONNS BATCH\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    long points = atol(argv[2]);
    int conns = atoi(argv[3]), batch = atoi(argv[4]);
    if (points <= 0 || conns <= 0 || batch <= 0 || points % batch) {
        fprintf(stderr, "POINTS must be a positive multiple of BATCH\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = with_token(curl_slist_append(NULL, "Content-Type: application/json"));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    sink out;
    char name[64], body[256];
    snprintf(name, sizeof name, "bench-ingest-%ld", (long)time(NULL));
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    if (post(h, url, "/api/2.0/mlflow/experiments/create", body, &out) != 200) {
        fprintf(stderr, "experiments/create failed: %s\n", out.buf);
        return 1;
    }
    json_t *j = json_loads(out.buf, 0, NULL);
    char exp_id[64];
    snprintf(exp_id, sizeof exp_id, "%s", json_string_value(json_object_get(j, "experiment_id")));
    json_decref(j);
    snprintf(body, sizeof body, "{\"experiment_id\":\"%s\",\"run_name\":\"ingest\"}", exp_id);
    if (post(h, url, "/api/2.0/mlflow/runs/create", body, &out) != 200) {
        fprintf(stderr, "runs/create failed: %s\n", out.buf);
        return 1;
    }
    j = json_loads(out.buf, 0, NULL);
    char run_id[128];
    snprintf(run_id, sizeof run_id, "%s", json_string_value(json_object_get(json_object_get(json_object_get(j, "run"), "info"), "run_id")));
    json_decref(j);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);

    long nb = points / batch;
    worker *ws = calloc((size_t)conns, sizeof *ws);
    pthread_t *th = calloc((size_t)conns, sizeof *th);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    long next = 0;
    for (int i = 0; i < conns; i++) {
        long mine = nb / conns + (i < nb % conns ? 1 : 0);
        ws[i] = (worker){.url = url, .run_id = run_id, .first_batch = next, .nbatches = mine, .batch = batch};
        next += mine;
        pthread_create(&th[i], NULL, work, &ws[i]);
    }
    int failed = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        if (ws[i].failed) {
            fprintf(stderr, "connection %d: %s\n", i, ws[i].err);
            failed = 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("ingest %ld %.6f %.0f %s\n", points, secs, (double)points / secs, run_id);
    free(ws);
    free(th);
    curl_global_cleanup();
    return failed;
}
