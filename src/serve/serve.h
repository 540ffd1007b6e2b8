/* serve.h — model serving: the pieces of a rollout that a router wires together.
 *
 * Three parts, each pure or self-contained and testable alone:
 *   split.c      which version answers a request: a canary percentage, sticky by
 *                a header value, and whether a copy goes to the shadow;
 *   autoscale.c  how many replicas a deployment should have, Kubernetes HPA's
 *                rule with stabilization windows, scale to and from zero;
 *   reqlog.c     a sampled, size-rotated JSON-lines log of requests and answers.
 * A spec_deployment (spec/spec.h) gives each its settings. Errors follow util.h
 * (int status + mp_err). Nothing here starts threads, processes or sockets, and
 * nothing calls up into cli or api. */
#ifndef MLPLANE_SERVE_H
#define MLPLANE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/util.h"

/* ---- traffic split (split.c) -------------------------------------------------------
 * Which of two tracks answers a request: the stable version, or the canary that
 * gets percent of the requests. Promote and rollback are changes of percent (100:
 * all to the canary, 0: none) that take effect for the next request, without
 * stopping the requests of other threads.
 *   - Not sticky (no header value): a shared counter spreads the canary's requests
 *     evenly: request n (from 0) goes to the canary when floor((m+1)p/100) >
 *     floor(mp/100), m = n mod 100. Any 100 consecutive requests hold exactly p
 *     canary ones, at most one apart from an even spread (a smooth weighted
 *     round-robin of two).
 *   - Sticky (a header value): the value's SipHash-2-4 (libsodium's
 *     crypto_shorthash, a fixed key: the same on every replica and restart) taken
 *     mod 100 is its bucket; buckets below p go to the canary. A value always gets
 *     the same track while p holds, and raising p only moves values to the
 *     canary, never back.
 *   - Shadow: a copy of the request goes to the shadow version for a share rate
 *     of the requests, picked by the same even spread over 10^6 requests.
 * Thread-safety: every function but serve_split_new and serve_split_free may be
 * called from many threads at once (C11 atomics, no locks). The hashes need
 * libsodium initialised: mp_init, or serve_split_new / serve_reqlog_open. */

typedef enum serve_track {
    SERVE_TRACK_STABLE = 0,
    SERVE_TRACK_CANARY = 1,
} serve_track;

typedef struct serve_split serve_split;

/* A split sending percent (0..100) of the requests to the canary and a copy of
 * shadow_rate (0..1) of them to the shadow (0 when there is none). MP_EINVAL for
 * values out of range. *out is freed with serve_split_free. */
int serve_split_new(int percent, double shadow_rate, serve_split **out, mp_err *e);
/* The split a deployment's spec asks for (canary percent, shadow sampleRate). */
int serve_split_from_spec(const spec_deployment *d, serve_split **out, mp_err *e);
void serve_split_free(serve_split *s);

/* The track of one request. sticky is the value of the deployment's sticky header
 * in the request, or NULL (or "") when not sticky. */
serve_track serve_split_pick(serve_split *s, const char *sticky);
/* The track a sticky value gets at percent p, without counting a request. Pure. */
serve_track serve_split_sticky_track(const char *sticky, int percent);
/* Whether a copy of this request goes to the shadow too. */
bool serve_split_mirror(serve_split *s);

/* Changes the canary's share (promote: 100, rollback: 0) or the shadow's rate;
 * MP_EINVAL when out of range (nothing changes). */
int serve_split_set_percent(serve_split *s, int percent, mp_err *e);
int serve_split_set_shadow_rate(serve_split *s, double rate, mp_err *e);
int serve_split_percent(const serve_split *s);
double serve_split_shadow_rate(const serve_split *s);

/* Requests picked so far for each track, and mirrored to the shadow. */
typedef struct serve_split_counts {
    uint64_t stable, canary, shadow;
} serve_split_counts;
void serve_split_counts_get(const serve_split *s, serve_split_counts *out);

/* ---- autoscaler (autoscale.c) -------------------------------------------------------
 * How many replicas a deployment should have, from the demand measured over its
 * ready replicas: Kubernetes HPA's algorithm, as a pure function of a config, a
 * state the caller keeps, and a clock the caller passes (tests simulate it).
 *   1. recommendation: ceil(observed / target), but the current count when
 *      observed / (target * current) is within the tolerance (10%) of 1;
 *      clamped to [min, max], and to at least 1 unless zero is allowed (below);
 *   2. stabilization: the result is the current count moved no further than
 *      [the lowest recommendation over the scale-up window, the highest over the
 *      scale-down window] (HPA's behavior.*.stabilizationWindowSeconds);
 *   3. zero: with min 0, zero is allowed when there is no demand and, when
 *      scale_to_zero_after_ms is set, there has been none for that long — then
 *      the count drops to 0 at once, whatever the windows say; any demand with no
 *      replica gives at least 1 at once (the router holds that first request).
 * Without a target (no autoscale in the spec) the recommendation is min.
 * The windows' recommendations are kept in two monotonic queues (a ring buffer
 * each): a recommendation that can never again be a window's extreme is dropped,
 * so each holds at most one entry per replica count — bounded, and exact. */

/* The most replicas the autoscaler recommends (its history's bound). */
#define SERVE_AUTOSCALE_MAX SPEC_DEPLOYMENT_MAX_REPLICAS
/* Kubernetes HPA's default tolerance. */
#define SERVE_AUTOSCALE_TOLERANCE 0.1

typedef struct serve_autoscale_cfg {
    int min_replicas;               /* >= 0 */
    int max_replicas;               /* >= max(min, 1); at most SERVE_AUTOSCALE_MAX */
    double target;                  /* demand per replica; <= 0: no autoscaling */
    double tolerance;               /* SERVE_AUTOSCALE_TOLERANCE */
    int64_t scale_up_window_ms;     /* 0: scale up at once */
    int64_t scale_down_window_ms;   /* 0: scale down at once */
    int64_t scale_to_zero_after_ms; /* with min 0: idle this long before 0; 0: the windows decide */
} serve_autoscale_cfg;

/* The config of a deployment's spec (replicas, autoscale, scaleToZeroAfterSeconds). */
void serve_autoscale_cfg_from_spec(const spec_deployment *d, serve_autoscale_cfg *cfg);

typedef struct serve_autoscale_rec {
    int64_t t_ms;
    int replicas;
} serve_autoscale_rec;

/* One monotonic queue of (time, recommendation) in a ring. */
typedef struct serve_autoscale_ring {
    serve_autoscale_rec v[SERVE_AUTOSCALE_MAX + 2];
    size_t head, n;
} serve_autoscale_ring;

/* What the autoscaler remembers between calls; zero it with serve_autoscale_init. */
typedef struct serve_autoscale_state {
    serve_autoscale_ring up;   /* increasing: its front is the scale-up window's lowest */
    serve_autoscale_ring down; /* decreasing: its front is the scale-down window's highest */
    int64_t idle_since_ms;     /* since when observed has been 0; -1 while there is demand */
    int last;                  /* the last recommendation (step 1), for status output */
} serve_autoscale_state;

void serve_autoscale_init(serve_autoscale_state *st);

/* The number of replicas to run now. now_ms: a monotonic clock, never going back;
 * observed: the demand summed over the ready replicas (in-flight requests, or
 * requests per second), NaN or negative read as 0; current: the replicas there
 * are. Pure but for st. */
int serve_autoscale_desired(const serve_autoscale_cfg *cfg, serve_autoscale_state *st, int64_t now_ms,
                            double observed, int current);

/* ---- request log (reqlog.c) -----------------------------------------------------------
 * A sample of the requests a deployment answers, one JSON object per line,
 * appended to a file (HOME/serving/DEPLOYMENT/requests.log by convention; the
 * caller names it and creates its directory):
 *   {"time":"2026-11-25T19:54:55.123Z","id":"...","model":"breast-cancer",
 *    "version":"2","latency_ms":1.234,"inputs":...,"outputs":...}
 * plus "shadow":true for a shadow's answer and "error":"..." for a failed one.
 *   - Sampling is decided by the request id: its SipHash-2-4 (fixed key) read as a
 *     fraction of 2^64 is below sample_rate. The same id is sampled the same way
 *     everywhere, so a request's stable and shadow answers are logged together.
 *   - Rotation by size: a line that would take the file past max_bytes first
 *     renames requests.log to requests.log.1, .1 to .2, ... up to .KEEP (the
 *     oldest dropped). A file holds at least one line, so one longer than
 *     max_bytes makes a file of its own.
 *   - Each line is one write(2) on a descriptor opened O_APPEND, under the log's
 *     mutex: lines of concurrent threads never interleave. There is no fsync per
 *     line: a crash of the machine may lose the last lines (not of the process:
 *     the kernel has them), never leave half a line before a whole one.
 * One process writes a log at a time (the mutex does not span processes). */

typedef struct serve_reqlog serve_reqlog;

typedef struct serve_reqlog_cfg {
    double sample_rate; /* 0..1 */
    int64_t max_bytes;  /* > 0 */
    int keep;           /* rotated files kept, >= 0 */
} serve_reqlog_cfg;

/* The settings of a deployment's spec.requestLog. */
void serve_reqlog_cfg_from_spec(const spec_deployment *d, serve_reqlog_cfg *cfg);

/* Opens (creating) the log at path for appending. MP_EINVAL for a bad cfg,
 * MP_ENOENT when its directory does not exist, MP_EIO when it cannot be opened
 * (read-only directory, ...); each says which file and what to do. *out is freed
 * with serve_reqlog_close. */
int serve_reqlog_open(const char *path, const serve_reqlog_cfg *cfg, serve_reqlog **out, mp_err *e);
void serve_reqlog_close(serve_reqlog *l);

/* Whether the request with this id is logged at rate (see above). Pure. */
bool serve_reqlog_sampled(const char *id, double rate);

struct json_t; /* jansson's json_t */

/* One request; everything is borrowed. inputs and outputs are jansson values,
 * written as they are; NULL writes null. */
typedef struct serve_reqlog_entry {
    int64_t time_ms;    /* wall clock, ms since the epoch, when the request came */
    const char *id;     /* the request id (required: it decides the sampling) */
    const char *model;  /* the served model's name */
    const char *version;
    double latency_ms;
    const struct json_t *inputs;  /* the features */
    const struct json_t *outputs; /* the prediction */
    bool shadow;         /* the shadow's answer */
    const char *error;   /* why the request failed, or NULL */
} serve_reqlog_entry;

/* Appends en when its id is sampled (then *written is true, when non-NULL),
 * rotating first when the line would pass max_bytes. MP_EINVAL when the id is
 * missing, a string is not UTF-8 or inputs/outputs cannot be written as JSON;
 * MP_EIO when the line cannot be written, or when rotation failed (the line is
 * then appended to the current file: *written says so, and the next line tries
 * the rotation again). The log stays usable after any error. Thread-safe. */
int serve_reqlog_write(serve_reqlog *l, const serve_reqlog_entry *en, bool *written, mp_err *e);

/* The path of rotated file i (1..keep) of the log at path: "PATH.i". Heap string. */
char *serve_reqlog_rotated_path(const char *path, int i);

#endif
