/* prom.h — writing the Prometheus text exposition format (version 0.0.4),
 * shared by every /metrics mlplane serves (src/serve's model servers and
 * routers, src/api's server): family headers, escaped label values, and
 * histograms kept in atomics with one set of bucket bounds.
 *
 * Threads: mp_prom_hist_observe may run on any number of threads at once (only
 * relaxed atomic adds); rendering reads the atomics and may run beside them (a
 * scrape sees each counter at some moment, buckets at most a few requests apart).
 * Everything else only appends to the caller's buffer. */
#ifndef MLPLANE_UTIL_PROM_H
#define MLPLANE_UTIL_PROM_H

#include <stdatomic.h>
#include <stdint.h>

#include "util/util.h"

/* The content type of GET /metrics. */
#define MP_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds (seconds) of every latency histogram mlplane exports. */
#define MP_PROM_NBUCKETS 15
extern const double mp_prom_bucket_le[MP_PROM_NBUCKETS];
/* Index of the bucket a duration falls in (MP_PROM_NBUCKETS: beyond all bounds). */
int mp_prom_bucket(double seconds);

/* A latency histogram: zero-initialised is empty. */
typedef struct mp_prom_hist {
    atomic_ullong buckets[MP_PROM_NBUCKETS + 1]; /* not cumulative; the last is beyond every bound */
    atomic_ullong sum_us, count;
} mp_prom_hist;
/* Counts one duration (µs; negative counts as 0). */
void mp_prom_hist_observe(mp_prom_hist *h, int64_t us);
/* Appends the series of histogram h of family name: cumulative name_bucket{LABELS,le="..."}
 * up to le="+Inf", name_sum (seconds) and name_count. labels is the text inside the braces
 * before le ("version=\"1\"", already escaped), or "" for none. */
void mp_prom_hist_render(mp_buf *b, const char *name, const char *labels, const mp_prom_hist *h);
/* The same for a histogram read elsewhere (e.g. counted by a store query): counts[i]
 * per bucket (not cumulative, MP_PROM_NBUCKETS + 1 of them) and the sum in seconds. */
void mp_prom_hist_render_counts(mp_buf *b, const char *name, const char *labels, const uint64_t *counts, double sum);

/* Appends "# HELP name help" and "# TYPE name type" lines. */
void mp_prom_family(mp_buf *b, const char *name, const char *type, const char *help);
/* Appends s as a label value: backslash, double quote and newline escaped. */
void mp_prom_label_value(mp_buf *b, const char *s);
/* Appends key="value" (value escaped), preceded by a comma unless first. */
void mp_prom_label(mp_buf *b, bool first, const char *key, const char *value);
/* Appends the family mlplane_build_info{version="MLPLANE_VERSION"} 1. */
void mp_prom_build_info(mp_buf *b);

#endif
