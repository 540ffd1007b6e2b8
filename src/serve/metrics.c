/* metrics.c — what the router counts, and how it shows it: GET /metrics in
 * the Prometheus text exposition format (version 0.0.4: "# HELP" and "# TYPE"
 * lines, then one `name{label="value",...} number` line per series, label
 * values escaped; a histogram as cumulative _bucket{le=...} series ending at
 * le="+Inf", with _sum and _count), and GET /admin/replicas as JSON.
 *
 *   mlplane_serve_requests_total{version,code}          counter
 *   mlplane_serve_request_duration_seconds{version}     histogram (waits and retries included)
 *   mlplane_serve_replicas{version,state}               gauge: ready, starting, draining
 *   mlplane_serve_inflight{version}                     gauge
 *   mlplane_serve_waiting{version}                      gauge: requests held for a ready replica
 *   mlplane_serve_replica_restarts_total{version}       counter
 *   mlplane_serve_upstream_failures_total{version,reason} counter: refused, died, timeout, error
 *   mlplane_serve_retries_total{version}                counter
 *
 * Threads: serve__observe runs on router threads and only adds to atomics;
 * the rendering reads them, and the replica states under r->mu. */
#include "serve/router_int.h"

#include <stdio.h>
#include <stdlib.h>

void serve__reqstats_observe(serve__reqstats *s, int status, int64_t us) {
    atomic_fetch_add_explicit(&s->codes[status >= 0 && status < SERVE__NCODES ? status : 0], 1, memory_order_relaxed);
    mp_prom_hist_observe(&s->duration, us);
}

void serve__observe(serve__pool *p, int status, int64_t us) { serve__reqstats_observe(&p->req, status, us); }

/* Starts a series line name{version="V" (the caller closes the braces). */
static void series_v(mp_buf *b, const char *name, const char *version) {
    mp_buf_printf(b, "%s{version=\"", name);
    mp_prom_label_value(b, version);
    mp_buf_putc(b, '"');
}

void serve__reqstats_render(mp_buf *out, size_t n, const char *const *versions, serve__reqstats *const *stats,
                            const char *help_requests, const char *help_duration) {
    mp_prom_family(out, "mlplane_serve_requests_total", "counter", help_requests);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < SERVE__NCODES; c++) {
            unsigned long long v = atomic_load(&stats[i]->codes[c]);
            if (!v) continue;
            series_v(out, "mlplane_serve_requests_total", versions[i]);
            mp_buf_printf(out, ",code=\"%d\"} %llu\n", c, v);
        }
    mp_prom_family(out, "mlplane_serve_request_duration_seconds", "histogram", help_duration);
    for (size_t i = 0; i < n; i++) {
        mp_buf labels;
        mp_buf_init(&labels);
        mp_prom_label(&labels, true, "version", versions[i]);
        mp_prom_hist_render(out, "mlplane_serve_request_duration_seconds", labels.data, &stats[i]->duration);
        mp_buf_free(&labels);
    }
}

/* Starts a series line: name{version="V" (the caller closes the braces). */
static void series(mp_buf *b, const char *name, const serve__pool *p) { series_v(b, name, p->version); }

void serve_router_metrics(serve_router *r, mp_buf *out) {
    serve_router_snapshot *st = mp_xmalloc(sizeof *st);
    serve_router_stats(r, st);

    const char *versions[SERVE_ROUTER_MAX_POOLS];
    serve__reqstats *stats[SERVE_ROUTER_MAX_POOLS];
    for (size_t pi = 0; pi < r->npools; pi++) {
        versions[pi] = r->pools[pi].version;
        stats[pi] = &r->pools[pi].req;
    }
    serve__reqstats_render(out, r->npools, versions, stats,
                           "Requests the router answered, by the model version chosen and the status code returned.",
                           "Time from a request's arrival at the router to its answer, waits and retries included.");

    mp_prom_family(out, "mlplane_serve_replicas", "gauge",
           "Replicas by state: ready (taking requests), starting (not ready yet, or waiting to restart), draining.");
    for (size_t pi = 0; pi < st->npools; pi++) {
        const serve_router_pool_stats *ps = &st->pools[pi];
        const struct { const char *state; int n; } rows[] = {{"ready", ps->ready}, {"starting", ps->starting},
                                                              {"draining", ps->draining}};
        for (size_t k = 0; k < 3; k++) {
            series(out, "mlplane_serve_replicas", &r->pools[pi]);
            mp_buf_printf(out, ",state=\"%s\"} %d\n", rows[k].state, rows[k].n);
        }
    }

    mp_prom_family(out, "mlplane_serve_inflight", "gauge", "Requests forwarded to a replica and not answered yet.");
    for (size_t pi = 0; pi < st->npools; pi++) {
        series(out, "mlplane_serve_inflight", &r->pools[pi]);
        mp_buf_printf(out, "} %d\n", st->pools[pi].inflight);
    }
    mp_prom_family(out, "mlplane_serve_waiting", "gauge", "Requests held until a replica of their version is ready.");
    for (size_t pi = 0; pi < st->npools; pi++) {
        series(out, "mlplane_serve_waiting", &r->pools[pi]);
        mp_buf_printf(out, "} %d\n", st->pools[pi].waiting);
    }
    mp_prom_family(out, "mlplane_serve_replica_restarts_total", "counter", "Replicas restarted after exiting unasked.");
    for (size_t pi = 0; pi < r->npools; pi++) {
        series(out, "mlplane_serve_replica_restarts_total", &r->pools[pi]);
        mp_buf_printf(out, "} %llu\n", atomic_load(&r->pools[pi].restarts));
    }
    mp_prom_family(out, "mlplane_serve_upstream_failures_total", "counter",
           "Attempts to reach a replica that failed: refused (never delivered), died (no whole answer), timeout, error.");
    for (size_t pi = 0; pi < r->npools; pi++) {
        const serve__pool *p = &r->pools[pi];
        const struct { const char *reason; unsigned long long n; } rows[] = {
            {"refused", atomic_load(&p->refused)}, {"died", atomic_load(&p->died)},
            {"timeout", atomic_load(&p->timeouts)}, {"error", atomic_load(&p->errors)}};
        for (size_t k = 0; k < 4; k++) {
            series(out, "mlplane_serve_upstream_failures_total", p);
            mp_buf_printf(out, ",reason=\"%s\"} %llu\n", rows[k].reason, rows[k].n);
        }
    }
    mp_prom_family(out, "mlplane_serve_retries_total", "counter", "Requests sent again after a failed attempt.");
    for (size_t pi = 0; pi < r->npools; pi++) {
        series(out, "mlplane_serve_retries_total", &r->pools[pi]);
        mp_buf_printf(out, "} %llu\n", atomic_load(&r->pools[pi].retries));
    }
    free(st);
    mp_prom_build_info(out);
    if (r->o.metrics) r->o.metrics(r->o.hook_ud, out);
}

json_t *serve__stats_json(const serve_router_snapshot *st) {
    json_t *versions = json_array();
    for (size_t pi = 0; pi < st->npools; pi++) {
        const serve_router_pool_stats *ps = &st->pools[pi];
        json_t *reps = json_array();
        for (size_t i = 0; i < ps->nreplicas; i++) {
            const serve_router_replica_stats *x = &ps->replicas[i];
            json_array_append_new(reps, json_pack("{s:i,s:i,s:s,s:i,s:I,s:f,s:i}", "replica", x->slot, "pid", x->pid,
                                                  "state", x->state, "inflight", x->inflight, "completed",
                                                  (json_int_t)x->completed, "rps", x->rps, "restarts", x->restarts));
        }
        json_array_append_new(versions, json_pack("{s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:f,s:o}", "version", ps->version,
                                                  "desired", ps->desired, "ready", ps->ready, "starting", ps->starting,
                                                  "draining", ps->draining, "inflight", ps->inflight, "waiting",
                                                  ps->waiting, "rps", ps->rps, "replicas", reps));
    }
    return json_pack("{s:o}", "versions", versions);
}
