/* prom.c — the Prometheus text exposition format (version 0.0.4) as mlplane
 * writes it: "# HELP" and "# TYPE" lines, then one `name{label="value",...}
 * number` line per series, label values escaped; a histogram as cumulative
 * _bucket{le=...} series ending at le="+Inf", with _sum and _count.
 *
 * Threads: histograms are atomics (any thread observes, any thread renders);
 * the rest writes only to the caller's buffer. */
#include "util/prom.h"

#include <stdio.h>

const double mp_prom_bucket_le[MP_PROM_NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                    0.25,   0.5,   1,      2.5,   5,    10,   30};

int mp_prom_bucket(double seconds) {
    int i = 0;
    while (i < MP_PROM_NBUCKETS && seconds > mp_prom_bucket_le[i]) i++;
    return i;
}

void mp_prom_hist_observe(mp_prom_hist *h, int64_t us) {
    if (us < 0) us = 0;
    atomic_fetch_add_explicit(&h->buckets[mp_prom_bucket((double)us / 1e6)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)us, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void mp_prom_label_value(mp_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\') mp_buf_puts(b, "\\\\");
        else if (*s == '"') mp_buf_puts(b, "\\\"");
        else if (*s == '\n') mp_buf_puts(b, "\\n");
        else mp_buf_putc(b, *s);
    }
}

void mp_prom_label(mp_buf *b, bool first, const char *key, const char *value) {
    mp_buf_printf(b, "%s%s=\"", first ? "" : ",", key);
    mp_prom_label_value(b, value ? value : "");
    mp_buf_putc(b, '"');
}

void mp_prom_family(mp_buf *b, const char *name, const char *type, const char *help) {
    mp_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void mp_prom_hist_render_counts(mp_buf *b, const char *name, const char *labels, const uint64_t *counts, double sum) {
    const char *sep = *labels ? "," : "";
    unsigned long long cum = 0;
    for (int i = 0; i <= MP_PROM_NBUCKETS; i++) {
        cum += counts[i];
        if (i < MP_PROM_NBUCKETS) mp_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, mp_prom_bucket_le[i], cum);
        else mp_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, cum);
    }
    const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
    mp_buf_printf(b, "%s_sum%s%s%s %.6f\n", name, open, labels, close, sum);
    mp_buf_printf(b, "%s_count%s%s%s %llu\n", name, open, labels, close, cum);
}

void mp_prom_hist_render(mp_buf *b, const char *name, const char *labels, const mp_prom_hist *h) {
    uint64_t counts[MP_PROM_NBUCKETS + 1];
    for (int i = 0; i <= MP_PROM_NBUCKETS; i++) counts[i] = atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    mp_prom_hist_render_counts(b, name, labels, counts, (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
}

void mp_prom_build_info(mp_buf *b) {
    mp_prom_family(b, "mlplane_build_info", "gauge", "Always 1; its version label is the mlplane version that answers.");
    mp_buf_puts(b, "mlplane_build_info{");
    mp_prom_label(b, true, "version", MLPLANE_VERSION);
    mp_buf_puts(b, "} 1\n");
}
