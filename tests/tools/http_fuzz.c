/* http_fuzz.c — a deterministic HTTP fuzz client for mlplane's servers (used by
 * tests/integration/server_hardening.sh): it connects over TCP to HOST:PORT and
 * sends COUNT requests made from templates of the server's real routes (the
 * MLflow REST API, the artifact proxy, /api/v1), each mutated by a seeded
 * pseudo-random generator: methods, paths (random bytes, %-encodings, double
 * encodings, traversal), query strings, headers (random names and values,
 * duplicate or bogus framing headers, obs-folds, bare LFs), bodies (JSON
 * corruptions: flipped, inserted and deleted bytes, truncation, deep nesting,
 * huge numbers, invalid UTF-8, \u0000), truncated requests and pipelined ones.
 *
 * Every template that reaches a route which could change something carries a
 * "poison" that makes the request invalid whatever else is mutated: an id or a
 * name that does not exist, a required field of the wrong type, a spec that is
 * no pipeline, an artifact path that leaves the root or lies in sha256/, an
 * upload whose bytes do not match its hash (and the server under test has its
 * Default experiment deleted, so that a run cannot land there when a mutation
 * removes the experiment's id). Read-only routes are fuzzed freely.
 * So a run must leave the server's state as it found it (the test compares).
 *
 * It reads every answer (until the server closes, or a timeout) and checks
 * that each is an HTTP/1.x status line with a code from 100 to 599. Exit
 * status: 0 when every answer was valid and none was a 5xx other than 503; 1
 * otherwise (each offending request is printed on stderr, escaped, and saved
 * under --save DIR as a file); 2 for usage or connection errors. A summary line
 * goes to stdout: "requests N answered A closed C 2xx X 4xx Y 5xx Z ...".
 *
 * Usage: http_fuzz --port P [--host 127.0.0.1] [--count N] [--seed S]
 *                  [--timeout-ms T] [--save DIR] [--only I]
 * (--only I: of the COUNT requests made, send only the I-th, to replay one; with
 * --dump FILE it is written to FILE instead of being sent; --first I: skip those
 * before the I-th.)
 * Threads: one; sequential requests, one connection each. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the generator (splitmix64) --------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }
static bool chance(int percent) { return below(100) < (size_t)percent; }

/* ---- a growable byte buffer --------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void reserve(buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "http_fuzz: out of memory\n");
        exit(2);
    }
    b->p = p;
    b->cap = cap;
}
static void put(buf *b, const void *d, size_t n) {
    uintptr_t at = (uintptr_t)d, lo = (uintptr_t)b->p;
    if (b->p && at >= lo && at < lo + b->cap) { /* a part of itself: copied by offset, after the realloc */
        size_t off = (size_t)(at - lo);
        reserve(b, n);
        memmove(b->p + b->len, b->p + off, n);
        b->len += n;
        b->p[b->len] = '\0';
        return;
    }
    reserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }
static void putc_(buf *b, char c) { put(b, &c, 1); }
static void printf_(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
static void clear(buf *b) {
    b->len = 0;
    if (b->p) b->p[0] = '\0';
}

/* ---- templates ---------------------------------------------------------------------------- */

/* A route's request: method, path (with a query when any), JSON body or NULL.
 * writes: the route could change state; its poison is in the template. */
typedef struct tmpl {
    const char *method, *path, *body;
    bool writes;
} tmpl;

#define NOEXP "987654321"
#define NORUN "0123456789abcdef0123456789abcdef"
#define NOMODEL "no-such-model-fuzz"
#define MLF "/api/2.0/mlflow/"
#define ART "/api/2.0/mlflow-artifacts/artifacts"

static const tmpl templates[] = {
    /* MLflow tracking: writes name an experiment or run that does not exist, or a wrong-typed name */
    {"POST", MLF "experiments/create", "{\"name\": 12345, \"artifact_location\": \"x\", \"tags\": [{\"key\": \"k\", \"value\": \"v\"}]}", true},
    {"POST", MLF "experiments/create", "{\"name\": [\"exp\"], \"tags\": [{\"key\": \"k\"}]}", true},
    {"POST", MLF "experiments/update", "{\"experiment_id\": \"" NOEXP "\", \"new_name\": \"renamed\"}", true},
    {"POST", MLF "experiments/delete", "{\"experiment_id\": \"" NOEXP "\"}", true},
    {"POST", MLF "experiments/restore", "{\"experiment_id\": \"" NOEXP "\"}", true},
    {"POST", MLF "experiments/set-experiment-tag", "{\"experiment_id\": \"" NOEXP "\", \"key\": \"k\", \"value\": \"v\"}", true},
    /* three poisons: an experiment that does not exist, and a run_name the mlflow.runName tag contradicts */
    {"POST", MLF "runs/create", "{\"run_name\": \"r\", \"experiment_id\": \"" NOEXP "\", \"start_time\": 1700000000000, \"tags\": [{\"key\": \"mlflow.runName\", \"value\": \"x\"}]}", true},
    {"POST", MLF "runs/update", "{\"run_id\": \"" NORUN "\", \"status\": \"FINISHED\", \"end_time\": 1700000000001}", true},
    {"POST", MLF "runs/delete", "{\"run_id\": \"" NORUN "\"}", true},
    {"POST", MLF "runs/restore", "{\"run_id\": \"" NORUN "\"}", true},
    {"POST", MLF "runs/log-metric", "{\"run_id\": \"" NORUN "\", \"key\": \"loss\", \"value\": 0.5, \"timestamp\": 1700000000000, \"step\": 3}", true},
    {"POST", MLF "runs/log-parameter", "{\"run_id\": \"" NORUN "\", \"key\": \"lr\", \"value\": \"0.1\"}", true},
    {"POST", MLF "runs/set-tag", "{\"run_id\": \"" NORUN "\", \"key\": \"t\", \"value\": \"v\"}", true},
    {"POST", MLF "runs/delete-tag", "{\"run_id\": \"" NORUN "\", \"key\": \"t\"}", true},
    {"POST", MLF "runs/log-batch", "{\"run_id\": \"" NORUN "\", \"metrics\": [{\"key\": \"m\", \"value\": 1.5, \"timestamp\": 1700000000000, \"step\": 0}, {\"key\": \"n\", \"value\": -2e300, \"timestamp\": 1, \"step\": 1}], \"params\": [{\"key\": \"p\", \"value\": \"1\"}], \"tags\": [{\"key\": \"mlflow.runName\", \"value\": \"x\"}]}", true},
    {"POST", MLF "runs/log-inputs", "{\"run_id\": \"" NORUN "\", \"datasets\": [{\"dataset\": {\"name\": \"d\", \"digest\": \"abc\", \"source_type\": \"local\", \"source\": \"/x\"}, \"tags\": []}]}", true},
    /* MLflow registry: writes name a model that does not exist, or a wrong-typed name */
    {"POST", MLF "registered-models/create", "{\"name\": {\"n\": 1}, \"tags\": [{\"key\": \"k\", \"value\": \"v\"}], \"description\": \"d\"}", true},
    {"POST", MLF "registered-models/create", "{\"name\": null}", true},
    {"POST", MLF "registered-models/rename", "{\"name\": \"" NOMODEL "\", \"new_name\": \"other\"}", true},
    {"PATCH", MLF "registered-models/update", "{\"name\": \"" NOMODEL "\", \"description\": \"x\"}", true},
    {"DELETE", MLF "registered-models/delete", "{\"name\": \"" NOMODEL "\"}", true},
    {"POST", MLF "registered-models/set-tag", "{\"name\": \"" NOMODEL "\", \"key\": \"k\", \"value\": \"v\"}", true},
    {"DELETE", MLF "registered-models/delete-tag", "{\"name\": \"" NOMODEL "\", \"key\": \"k\"}", true},
    {"POST", MLF "registered-models/alias", "{\"name\": \"" NOMODEL "\", \"alias\": \"champion\", \"version\": \"1\"}", true},
    {"DELETE", MLF "registered-models/alias", "{\"name\": \"" NOMODEL "\", \"alias\": \"champion\"}", true},
    {"POST", MLF "model-versions/create", "{\"name\": \"" NOMODEL "\", \"source\": \"mlflow-artifacts:/x/model.json\", \"run_id\": \"" NORUN "\"}", true},
    {"PATCH", MLF "model-versions/update", "{\"name\": \"" NOMODEL "\", \"version\": \"1\", \"description\": \"x\"}", true},
    {"DELETE", MLF "model-versions/delete", "{\"name\": \"" NOMODEL "\", \"version\": \"1\"}", true},
    {"POST", MLF "model-versions/transition-stage", "{\"name\": \"" NOMODEL "\", \"version\": \"1\", \"stage\": \"Production\", \"archive_existing_versions\": true}", true},
    {"POST", MLF "model-versions/set-tag", "{\"name\": \"" NOMODEL "\", \"version\": \"1\", \"key\": \"k\", \"value\": \"v\"}", true},
    {"DELETE", MLF "model-versions/delete-tag", "{\"name\": \"" NOMODEL "\", \"version\": \"1\", \"key\": \"k\"}", true},
    /* MLflow reads */
    {"GET", MLF "experiments/get?experiment_id=0", NULL, false},
    {"GET", MLF "experiments/get-by-name?experiment_name=Default", NULL, false},
    {"GET", MLF "experiments/search?max_results=10&filter=name%20LIKE%20%27%25a%25%27", NULL, false},
    {"POST", MLF "experiments/search", "{\"max_results\": 5, \"filter\": \"attribute.name = 'x'\", \"order_by\": [\"name DESC\"], \"view_type\": \"ALL\"}", false},
    {"GET", MLF "runs/get?run_id=" NORUN, NULL, false},
    {"POST", MLF "runs/search", "{\"experiment_ids\": [\"0\", \"1\"], \"filter\": \"metrics.m > 1 and params.p = '1' and tags.t != 'x'\", \"max_results\": 10, \"order_by\": [\"metrics.m DESC\"], \"page_token\": \"abc\"}", false},
    {"GET", MLF "metrics/get-history?run_id=" NORUN "&metric_key=m&max_results=5", NULL, false},
    {"GET", MLF "artifacts/list?run_id=" NORUN "&path=a/b", NULL, false},
    {"GET", MLF "registered-models/get?name=" NOMODEL, NULL, false},
    {"GET", MLF "registered-models/search?filter=name%20LIKE%20%27%25%27&max_results=3&order_by=name", NULL, false},
    {"POST", MLF "registered-models/get-latest-versions", "{\"name\": \"" NOMODEL "\", \"stages\": [\"Production\"]}", false},
    {"GET", MLF "registered-models/alias?name=" NOMODEL "&alias=champion", NULL, false},
    {"GET", MLF "model-versions/get?name=" NOMODEL "&version=1", NULL, false},
    {"GET", MLF "model-versions/search?filter=name%3D%27x%27&max_results=2", NULL, false},
    {"GET", MLF "model-versions/get-download-uri?name=" NOMODEL "&version=1", NULL, false},
    {"GET", "/ajax-api/2.0/mlflow/experiments/search?max_results=2", NULL, false},
    /* the artifact proxy: writes leave the root or go to sha256/ */
    {"PUT", ART "/../escape-fuzz.txt", "bytes", true},
    {"PUT", ART "/a/%2e%2e/%2e%2e/escape-fuzz.txt", "bytes", true},
    {"PUT", ART "/%252e%252e/escape-fuzz.txt", "bytes", true},
    {"PUT", ART "//tmp/escape-fuzz.txt", "bytes", true},
    {"PUT", ART "/sha256/ab/escape-fuzz.txt", "bytes", true},
    {"DELETE", ART "/../escape-fuzz.txt", NULL, true},
    {"DELETE", ART "/sha256", NULL, true},
    /* (reads, but marked writes: a PUT or DELETE swapped in would write the seed's files) */
    {"GET", ART "?path=seed", NULL, true},
    {"GET", ART "/seed/file.txt", NULL, true},
    {"GET", ART "/seed/../../mlplane.db", NULL, true},
    /* mlplane's /api/v1: writes name what does not exist, or send no pipeline */
    {"POST", "/api/v1/runs", "{\"spec\": \"apiVersion: mlplane.dev/v1\\nkind: Pipelin\\nmetadata: {name: fz}\\nspec:\\n  steps:\\n    - {name: a, command: [\\\"true\\\"]}\\n\", \"spec_name\": \"fz.yaml\", \"params\": {\"a\": \"b\"}}", true},
    {"POST", "/api/v1/runs", "{\"spec\": 17, \"params\": []}", true},
    {"POST", "/api/v1/apply", "{\"yaml\": \"apiVersion: mlplane.dev/v1\\nkind: NoSuchKind\\nmetadata: {name: fz}\\n\"}", true},
    {"DELETE", "/api/v1/runs/no-such-run-fuzz", NULL, true},
    {"POST", "/api/v1/runs/no-such-run-fuzz/cancel", NULL, true},
    {"DELETE", "/api/v1/objects/Deployment/no-such-deploy-fuzz", NULL, true},
    {"POST", "/api/v1/deployments/no-such-deploy-fuzz/rollout", "{\"weight\": 50}", true},
    {"POST", "/api/v1/monitors/no-such-monitor-fuzz/check", NULL, true},
    {"POST", "/api/v1/uploads/assemble", "{\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"chunks\": [\"1111111111111111111111111111111111111111111111111111111111111111\"]}", true},
    {"PUT", "/api/v1/uploads/sha256/0000000000000000000000000000000000000000000000000000000000000000", "not these bytes", true},
    {"POST", "/api/v1/uploads/missing", "{\"sha256\": [\"0000000000000000000000000000000000000000000000000000000000000000\"]}", false},
    {"GET", "/api/v1/runs?limit=5&state=Running", NULL, false},
    {"GET", "/api/v1/runs/no-such-run-fuzz", NULL, false},
    {"GET", "/api/v1/runs/no-such-run-fuzz/steps", NULL, false},
    {"GET", "/api/v1/runs/no-such-run-fuzz/metrics", NULL, false},
    {"GET", "/api/v1/runs/no-such-run-fuzz/logs?step=a&tail=10", NULL, false},
    {"GET", "/api/v1/pipelines", NULL, false},
    {"GET", "/api/v1/nodes", NULL, false},
    {"GET", "/api/v1/deployments", NULL, false},
    {"GET", "/api/v1/deployments/no-such-deploy-fuzz", NULL, false},
    {"GET", "/api/v1/monitors", NULL, false},
    {"GET", "/api/v1/monitors/no-such-monitor-fuzz", NULL, false},
    {"GET", "/api/v1/models/" NOMODEL "/versions/1/model.json", NULL, false},
    {"GET", "/api/v1/models/" NOMODEL "/aliases/champion/model.ubj", NULL, false},
    {"GET", "/api/v1/uploads/sha256/0000000000000000000000000000000000000000000000000000000000000000", NULL, false},
    {"GET", "/healthz", NULL, false},
    {"GET", "/readyz", NULL, false},
    {"GET", "/metrics", NULL, false},
};
#define NTEMPLATES (sizeof templates / sizeof templates[0])

/* Methods a mutation may swap in for a read-only route; a writing route keeps its own
 * (its poison is its body or path), or takes one that no writing route of it has. */
static const char *const any_methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
                                          "CONNECT", "get", "G\x01T", "POST ", "", "XYZZY"};
static const char *const safe_methods[] = {"HEAD", "OPTIONS", "TRACE", "get", "XYZZY", ""};

static const char *const content_types[] = {"application/json", "application/json; charset=utf-8", "text/plain",
                                            "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                            "application/octet-stream", "", "application/json\x01", "\xff\xfe"};

/* ---- mutations ------------------------------------------------------------------------------- */

static char random_byte(void) {
    static const char interesting[] = {'\0', '\r', '\n', '%', '/', '\\', '.', '?', '#', '&', '=', '"', '\'',
                                       ' ', '\t', '{', '}', '[', ']', ',', ':', '\x7f', (char)0x80, (char)0xff,
                                       (char)0xc0, (char)0xed};
    return chance(50) ? interesting[below(sizeof interesting)] : (char)below(256);
}

/* The path (and query) of t, mutated: bytes, encodings, traversal, queries. For a writing
 * route only its query and its encoding change, and bytes past its fixed part. */
static void mutate_path(buf *out, const tmpl *t) {
    clear(out);
    puts_(out, t->path);
    int n = (int)below(4);
    for (int i = 0; i < n; i++) {
        switch (below(9)) {
        case 0: /* append a random segment */
            putc_(out, '/');
            for (size_t k = below(12); k > 0; k--) putc_(out, random_byte());
            break;
        case 1: /* a percent-encoded or double-encoded byte */
            printf_(out, chance(50) ? "%%%02x" : "%%25%02x", (unsigned)(unsigned char)random_byte());
            break;
        case 2: /* traversal */
            puts_(out, (const char *[]){"/..", "/%2e%2e", "/%2E%2e/", "/..%2f..", "/%252e%252e", "/%c0%ae%c0%ae",
                                        "/.%00.", "\\..\\..", "/./././", "//"}[below(10)]);
            break;
        case 3: /* a query parameter */
            printf_(out, "%c%s=", strchr(out->p, '?') ? '&' : '?',
                    (const char *[]){"experiment_id", "run_id", "name", "path", "max_results", "filter", "version",
                                     "page_token", "x", "", "%00"}[below(11)]);
            for (size_t k = below(20); k > 0; k--) {
                char c = random_byte();
                if (c == ' ' || c == '\r' || c == '\n' || c == '\0') printf_(out, "%%%02x", (unsigned)(unsigned char)c);
                else putc_(out, c);
            }
            break;
        case 4: /* a long query value */
            printf_(out, "%cfilter=", strchr(out->p, '?') ? '&' : '?');
            for (size_t k = 100 + below(5000); k > 0; k--) putc_(out, "a'%() =<>"[below(9)]);
            break;
        case 5: /* many parameters */
            for (size_t k = 0; k < 50 + below(2000); k++) printf_(out, "%cp%zu=%zu", k || strchr(out->p, '?') ? '&' : '?', k, k);
            break;
        case 6: /* %-encode one byte of the path */
            if (!t->writes && out->len > 1) {
                size_t at = 1 + below(out->len - 1);
                char c = out->p[at];
                buf tmp = {0};
                put(&tmp, out->p, at);
                printf_(&tmp, "%%%02X", (unsigned)(unsigned char)c);
                puts_(&tmp, out->p + at + 1);
                clear(out);
                puts_(out, tmp.p);
                free(tmp.p);
            }
            break;
        case 7: /* a byte of a read-only route's path replaced */
            if (!t->writes && out->len > 1) out->p[1 + below(out->len - 1)] = random_byte();
            break;
        default: /* a fragment or raw bytes at the end */
            putc_(out, chance(50) ? '#' : random_byte());
            break;
        }
    }
    /* a raw space, CR, LF or NUL in the request target breaks the request line: the
     * server must refuse it, and nothing after it is a header it may apply */
}

/* JSON nested depth deep. */
static void deep(buf *b, size_t depth) {
    for (size_t i = 0; i < depth; i++) putc_(b, chance(50) ? '[' : '{');
}

/* The body of t, mutated. */
static void mutate_body(buf *out, const tmpl *t) {
    clear(out);
    if (t->body) puts_(out, t->body);
    else if (chance(70)) return;
    int n = (int)below(4);
    for (int i = 0; i < n; i++) {
        switch (below(12)) {
        case 0: /* flip a byte */
            if (out->len) out->p[below(out->len)] = random_byte();
            break;
        case 1: { /* insert bytes */
            size_t at = below(out->len + 1), k = 1 + below(8);
            buf tmp = {0};
            put(&tmp, out->p ? out->p : "", at);
            while (k--) putc_(&tmp, random_byte());
            put(&tmp, out->p ? out->p + at : "", out->len - at);
            clear(out);
            put(out, tmp.p, tmp.len);
            free(tmp.p);
            break;
        }
        case 2: /* delete a range */
            if (out->len) {
                size_t at = below(out->len), k = 1 + below(out->len - at);
                memmove(out->p + at, out->p + at + k, out->len - at - k);
                out->len -= k;
                out->p[out->len] = '\0';
            }
            break;
        case 3: /* truncate */
            if (out->len) {
                out->len = below(out->len);
                out->p[out->len] = '\0';
            }
            break;
        case 4: /* duplicate itself */
            if (out->len && out->len < 100000) {
                buf tmp = {0};
                put(&tmp, out->p, out->len);
                put(out, tmp.p, tmp.len);
                free(tmp.p);
            }
            break;
        case 5: /* deep nesting */
            clear(out);
            deep(out, 100 + below(100000));
            break;
        case 6: { /* a value swapped for a hostile one */
            const char *vals[] = {"1e999999", "-0", "123456789012345678901234567890", "\"\\u0000\"", "\"\\ud800\"",
                                  "\"\xff\xfe\"", "null", "[]", "{}", "true", "\"\\", "NaN", "-", "0x10",
                                  "\"a\\u0000b\"", "9223372036854775808", "-9223372036854775809"};
            char *colon = out->len ? memchr(out->p, ':', out->len) : NULL;
            if (colon) {
                size_t at = (size_t)(colon - out->p) + 1;
                char *end = out->p + at;
                while (*end && *end != ',' && *end != '}') end++;
                buf tmp = {0};
                put(&tmp, out->p, at);
                puts_(&tmp, vals[below(sizeof vals / sizeof vals[0])]);
                puts_(&tmp, end);
                clear(out);
                puts_(out, tmp.p);
                free(tmp.p);
            }
            break;
        }
        case 7: /* a long string value */
            if (out->len > 1 && out->p[out->len - 1] == '}') {
                out->len--;
                puts_(out, ", \"long\": \"");
                for (size_t k = 1000 + below(200000); k > 0; k--) putc_(out, 'x');
                puts_(out, "\"}");
            }
            break;
        case 8: /* not JSON at all */
            clear(out);
            for (size_t k = below(300); k > 0; k--) putc_(out, random_byte());
            break;
        case 9: /* a big array of the template's first object */
            if (t->body && out->len < 2000) {
                clear(out);
                putc_(out, '[');
                for (size_t k = 0; k < 1 + below(500); k++) {
                    if (k) putc_(out, ',');
                    puts_(out, t->body);
                }
                putc_(out, ']');
            }
            break;
        case 10: /* invalid UTF-8 inside a string */
            if (out->len) {
                char *q = memchr(out->p, '"', out->len);
                if (q) {
                    size_t at = (size_t)(q - out->p) + 1;
                    buf tmp = {0};
                    put(&tmp, out->p, at);
                    puts_(&tmp, (const char *[]){"\xc3\x28", "\xe2\x82", "\xf0\x28\x8c\xbc", "\xed\xa0\x80", "\xc0\xaf"}[below(5)]);
                    puts_(&tmp, out->p + at);
                    clear(out);
                    puts_(out, tmp.p);
                    free(tmp.p);
                }
            }
            break;
        default: /* unchanged */
            break;
        }
    }
}

/* Framing and header mutations: which of them a request gets. */
enum { F_NONE, F_SHORT_CL, F_LONG_CL, F_BAD_CL, F_TWO_CL, F_CHUNKED, F_BAD_CHUNKED, F_TE_AND_CL, F_TRUNCATE,
       F_PIPELINE, F_HTTP10, F_BAD_VERSION, F_NFRAMES };

static int last_frame; /* the framing of the request made last (for messages) */

/* Random headers: names and values with random bytes, obs-folds, bare LFs, an
 * empty name (": x": libmicrohttpd 0.9.75 ends the headers at that line, so the
 * request arrives without what follows: its body too, and the test's server has no
 * active Default experiment, so that a bodyless POST runs/create is refused too). */
static void random_headers(buf *r) {
    for (size_t n = below(4); n > 0; n--) {
        size_t k = below(7);
        switch (k) {
        case 0: printf_(r, "X-Fuzz-%zu: ", (size_t)below(1000)); for (size_t k = below(40); k > 0; k--) { char c = random_byte(); putc_(r, c == '\n' || c == '\r' ? ' ' : c); } puts_(r, "\r\n"); break;
        case 1: puts_(r, "X-Folded: one\r\n two\r\n"); break;                 /* an obs-fold */
        case 2: puts_(r, "X-Bare: lf\nX-After: bare\r\n"); break;            /* a bare LF */
        case 3: puts_(r, "Bad Name: x\r\n"); break;                          /* a space in a name */
        case 4: puts_(r, ": empty-name\r\n"); break;
        case 5: printf_(r, "X-Long: "); for (size_t k = 1000 + below(60000); k > 0; k--) putc_(r, 'h'); puts_(r, "\r\n"); break;
        default: puts_(r, "X-Mlplane-Namespace: ../../etc\r\n"); break;
        }
    }
}

/* One request (or several pipelined) into r; *truncate: the request is cut, the
 * connection's write side shut after it. Returns how many answers at most to expect. */
static int make_request(buf *r, const tmpl *t, buf *path, buf *body, bool *truncate, const char **sent_method) {
    clear(r);
    *truncate = false;
    const char *method = t->method;
    if (chance(10)) method = t->writes ? safe_methods[below(sizeof safe_methods / sizeof safe_methods[0])]
                                       : any_methods[below(sizeof any_methods / sizeof any_methods[0])];
    *sent_method = method;
    mutate_path(path, t);
    mutate_body(body, t);
    int frame = chance(60) ? F_NONE : (int)below(F_NFRAMES);
    last_frame = frame;
    const char *version = frame == F_HTTP10 ? "HTTP/1.0" : frame == F_BAD_VERSION ? (chance(50) ? "HTTP/9.9" : "HTXP/1.1") : "HTTP/1.1";
    printf_(r, "%s ", method);
    put(r, path->p, path->len);
    printf_(r, " %s\r\nHost: 127.0.0.1\r\n", version);
    if (body->len || chance(20))
        printf_(r, "Content-Type: %s\r\n", content_types[below(sizeof content_types / sizeof content_types[0])]);
    random_headers(r);
    switch (frame) {
    case F_SHORT_CL: printf_(r, "Content-Length: %zu\r\n", body->len ? below(body->len) : 0); break;
    case F_LONG_CL: printf_(r, "Content-Length: %zu\r\n", body->len + 1 + below(1000)); *truncate = true; break;
    case F_BAD_CL: printf_(r, "Content-Length: %s\r\n", (const char *[]){"-1", "abc", "1e3", "99999999999999999999999", " 5", "0x10", ""}[below(7)]); break;
    case F_TWO_CL: printf_(r, "Content-Length: %zu\r\nContent-Length: %zu\r\n", body->len, body->len + 3); break;
    case F_CHUNKED: case F_BAD_CHUNKED: case F_TE_AND_CL: break;
    default: if (body->len || chance(50)) printf_(r, "Content-Length: %zu\r\n", body->len); break;
    }
    if (frame == F_CHUNKED || frame == F_BAD_CHUNKED || frame == F_TE_AND_CL) {
        puts_(r, "Transfer-Encoding: chunked\r\n");
        if (frame == F_TE_AND_CL) printf_(r, "Content-Length: %zu\r\n", body->len);
    }
    puts_(r, frame == F_PIPELINE ? "\r\n" : "Connection: close\r\n\r\n");
    if (frame == F_CHUNKED || frame == F_TE_AND_CL) {
        size_t at = 0;
        while (at < body->len) {
            size_t k = 1 + below(body->len - at);
            printf_(r, "%zx\r\n", k);
            put(r, body->p + at, k);
            puts_(r, "\r\n");
            at += k;
        }
        puts_(r, "0\r\n\r\n");
    } else if (frame == F_BAD_CHUNKED) {
        printf_(r, "%s\r\n", (const char *[]){"zz", "-1", "ffffffffffffffffffff", "5;ext=\"x", ""}[below(5)]);
        put(r, body->p ? body->p : "", body->len);
        puts_(r, "\r\n0\r\n\r\n");
    } else {
        put(r, body->p ? body->p : "", body->len);
    }
    if (frame == F_TRUNCATE && r->len > 1) {
        r->len = 1 + below(r->len - 1);
        *truncate = true;
    }
    if (frame == F_PIPELINE) { /* the same request again, then a read-only one that closes */
        size_t first = r->len;
        if (r->len < 300000) put(r, r->p, first);
        puts_(r, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        return 3;
    }
    return 1;
}

/* ---- the connection ---------------------------------------------------------------------------- */

static int connect_to(const char *host, int port) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Writes r (stopping quietly when the server closes first). */
static void send_all(int fd, const buf *r) {
    size_t at = 0;
    while (at < r->len) {
        ssize_t w = send(fd, r->p + at, r->len - at, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        at += (size_t)w;
    }
}

/* Reads until the server closes, or nothing comes for timeout_ms; *timed_out says which. */
static void read_answer(int fd, buf *a, int timeout_ms, bool *timed_out) {
    clear(a);
    *timed_out = false;
    char tmp[65536];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, timeout_ms);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) {
            *timed_out = true;
            return;
        }
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return; /* closed, or reset */
        if (a->len < ((size_t)16 << 20)) put(a, tmp, (size_t)n);
    }
}

typedef struct stats {
    long requests, answered, closed_silent, timeouts, invalid, by_class[6], bad, by_5xx[100];
} stats;

/* Checks the answers in a: it must begin with an HTTP/1.x status line with a code
 * 100..599, and so must every further answer (a status line right after a blank
 * line; libmicrohttpd 0.9.75 may repeat the head of its own error pages, so
 * bodies are not counted out). Counts them into st; returns the number of bad
 * ones: malformed, or a 5xx other than 503 (overloaded), 501 (a method no route
 * has) and 505 (an HTTP version other than 1.x). */
static bool status_line(const char *p, size_t left, int *code) {
    if (left < 12 || strncmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ' || p[9] < '1' ||
        p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
        return false;
    *code = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    return true;
}

static int check_answers(const buf *a, stats *st, int *codes, int max_codes, int *ncodes) {
    int bad = 0, code;
    *ncodes = 0;
    if (!status_line(a->p, a->len, &code)) {
        st->invalid++;
        return 1;
    }
    for (const char *p = a->p; p; ) {
        size_t left = a->len - (size_t)(p - a->p);
        if (status_line(p, left, &code)) {
            if (*ncodes < max_codes) codes[(*ncodes)++] = code;
            st->answered++;
            st->by_class[code / 100]++;
            if (code >= 500) st->by_5xx[code - 500]++;
            if (code >= 500 && code != 503 && code != 501 && code != 505) bad++;
        }
        const char *next = memmem(p, left, "\r\n\r\n", 4);
        p = next ? next + 4 : NULL;
    }
    return bad;
}

static void print_escaped(FILE *f, const char *p, size_t n, size_t max) {
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c < 32 || c >= 127 || c == '\\') fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    if (n > max) fprintf(f, "...(%zu bytes)", n);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *save = NULL, *dump = NULL;
    int port = 0, timeout_ms = 3000;
    long count = 10000, only = -1, first = 0;
    uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--host") == 0) host = argv[i + 1];
        else if (strcmp(argv[i], "--count") == 0) count = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0) seed = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--timeout-ms") == 0) timeout_ms = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--save") == 0) save = argv[i + 1];
        else if (strcmp(argv[i], "--only") == 0) only = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--first") == 0) first = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--dump") == 0) dump = argv[i + 1];
        else {
            fprintf(stderr, "http_fuzz: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || count < 0) {
        fprintf(stderr, "usage: http_fuzz --port P [--host H] [--count N] [--seed S] [--timeout-ms T] [--save DIR]\n");
        return 2;
    }
    rng_state = seed;
    buf req = {0}, path = {0}, body = {0}, ans = {0};
    stats st = {0};
    long writes_ok = 0;
    for (long i = 0; i < count; i++) {
        const tmpl *t = &templates[below(NTEMPLATES)];
        bool truncate;
        const char *method;
        make_request(&req, t, &path, &body, &truncate, &method);
        if ((only >= 0 && i != only) || i < first) continue;
        if (dump) { /* write the request instead of sending it */
            FILE *f = fopen(dump, "wb");
            if (!f || fwrite(req.p, 1, req.len, f) != req.len || fclose(f) != 0) return 2;
            return 0;
        }
        int fd = connect_to(host, port);
        if (fd < 0) {
            fprintf(stderr, "http_fuzz: request %ld: cannot connect to %s:%d: %s (is the server down?)\n", i, host,
                    port, strerror(errno));
            return 2;
        }
        send_all(fd, &req);
        if (truncate) shutdown(fd, SHUT_WR);
        bool timed_out;
        /* a cut request may get an answer (400) or none: a short wait is enough, and
         * the server may wait for the rest until its idle timeout */
        read_answer(fd, &ans, truncate ? 20 : timeout_ms, &timed_out);
        if (truncate) timed_out = false;
        close(fd);
        st.requests++;
        if (timed_out) st.timeouts++;
        if (timed_out && getenv("HTTP_FUZZ_VERBOSE")) {
            fprintf(stderr, "http_fuzz: request %ld (framing %d%s) timed out: ", i, last_frame, truncate ? ", cut" : "");
            print_escaped(stderr, req.p, req.len, 400);
            fputc('\n', stderr);
        }
        if (ans.len == 0) {
            st.closed_silent++;
            continue;
        }
        int codes[8], ncodes = 0;
        int bad = check_answers(&ans, &st, codes, 8, &ncodes);
        /* A writing route's own first answer in 2xx would mean its poison did not hold. */
        bool wrote = t->writes && ncodes > 0 && codes[0] >= 200 && codes[0] < 300 && strcmp(method, t->method) == 0 &&
                     strcmp(method, "GET") != 0;
        if (wrote) writes_ok++;
        if (bad || wrote) {
            st.bad++;
            fprintf(stderr, "http_fuzz: request %ld (seed %llu) %s: ", i, (unsigned long long)seed,
                    wrote ? "a writing route answered 2xx" : "bad answer");
            print_escaped(stderr, ans.p, ans.len, 300);
            fputs("\n  request: ", stderr);
            print_escaped(stderr, req.p, req.len, 600);
            fputc('\n', stderr);
            if (save) {
                char name[4096];
                snprintf(name, sizeof name, "%s/request-%ld.http", save, i);
                FILE *f = fopen(name, "wb");
                if (f) {
                    fwrite(req.p, 1, req.len, f);
                    fclose(f);
                }
            }
        }
    }
    printf("requests %ld answered %ld closed %ld timeouts %ld invalid %ld 1xx %ld 2xx %ld 3xx %ld 4xx %ld 5xx %ld "
           "writes-2xx %ld bad %ld\n",
           st.requests, st.answered, st.closed_silent, st.timeouts, st.invalid, st.by_class[1], st.by_class[2],
           st.by_class[3], st.by_class[4], st.by_class[5], writes_ok, st.bad);
    for (int c = 0; c < 100; c++)
        if (st.by_5xx[c]) printf("  %d: %ld\n", 500 + c, st.by_5xx[c]);
    free(req.p);
    free(path.p);
    free(body.p);
    free(ans.p);
    return st.bad ? 1 : 0;
}
