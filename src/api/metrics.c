/* metrics.c — GET /metrics of `mlplane server`, in the Prometheus text format
 * (util/prom.h). Two kinds of families, kept apart so that a scrape never waits
 * on the store:
 *
 *   counted as requests are answered (atomics, rendered at each scrape):
 *     mlplane_http_requests_total{route,method,code}        counter
 *     mlplane_http_request_duration_seconds{route}          histogram
 *     mlplane_store_operation_duration_seconds{operation}   histogram (store/store.h's profile)
 *     mlplane_build_info{version}                           gauge, 1
 *   read from the store and the machine by the collector thread, every
 *   API_METRICS_PERIOD_MS, and kept as text:
 *     mlplane_runs{pipeline,state}, mlplane_steps{pipeline,state}           gauges
 *     mlplane_step_duration_seconds{pipeline}                                histogram
 *     mlplane_model_versions{stage}                                          gauge
 *     mlplane_data_validation_failures_total{pipeline}                       counter
 *     mlplane_queue_pending_workloads{queue}, mlplane_queue_admitted_workloads{queue},
 *     mlplane_queue_oldest_pending_wait_seconds{queue}                       gauges
 *     mlplane_node_capacity{node,resource,unit}, mlplane_node_allocated{...} gauges
 *     mlplane_gpu_utilization_ratio{gpu,name,uuid}, mlplane_gpu_memory_used_bytes{...},
 *     mlplane_gpu_memory_total_bytes{...}                                    gauges, NVML present
 *     mlplane_metrics_collections_total{result}, mlplane_metrics_last_collection_timestamp_seconds
 * Label values are bounded: route templates ("/api/v1/runs/{id}", never the
 * path asked for), methods outside the usual few read "other", pipelines, queues,
 * nodes, stages and devices are names, never run ids. docs/metrics.md lists
 * every family.
 *
 * Threads: api_metrics_start/stop run on the controlling thread. The worker
 * threads call api_metrics_observe (atomics only) and api_metrics_render (which
 * copies the collected text under mu, then formats the atomics). The collector
 * thread owns its own store handle and everything it reads; it swaps the text
 * it rendered into m->text under mu and sleeps on m->cv, which stop signals. */
#include "api/api.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/sched.h"
#include "util/prom.h"

#define API_METRICS_PERIOD_MS 5000
#define ROUTE_SLOTS 32 /* distinct (method, code) pairs counted per route */

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other"};
#define NMETHODS (int)(sizeof methods / sizeof methods[0])

typedef struct route_slot {
    atomic_int key; /* 0: free; else method * 1000 + code + 1 */
    atomic_ullong n;
} route_slot;

typedef struct route_stats {
    const char *route; /* the template (borrowed from the route tables) */
    route_slot slots[ROUTE_SLOTS];
    mp_prom_hist duration;
} route_stats;

struct api_metrics {
    char *home;
    size_t nroutes;   /* the server's routes, then /metrics, then "unmatched" */
    route_stats *rs;
    pthread_t th;
    bool running;
    pthread_mutex_t mu; /* guards text, stop */
    pthread_cond_t cv;
    bool stop;
    char *text;       /* the collected families (heap) */
    atomic_ullong collected_ok, collected_failed;
    atomic_llong collected_ms;
};

/* ---- what requests count --------------------------------------------------------------- */

static int method_index(const char *m) {
    for (int i = 0; i < NMETHODS - 1; i++)
        if (strcmp(m, methods[i]) == 0) return i;
    return NMETHODS - 1;
}

void api_metrics_observe(api_metrics *m, int route, const char *method, int status, int64_t us) {
    if (!m) return;
    if (route < 0 || (size_t)route >= m->nroutes) route = (int)m->nroutes - 1;
    route_stats *r = &m->rs[route];
    mp_prom_hist_observe(&r->duration, us);
    if (status < 100 || status > 599) status = 0;
    int key = method_index(method) * 1000 + status + 1;
    for (int i = 0; i < ROUTE_SLOTS; i++) {
        int k = atomic_load(&r->slots[i].key);
        if (k == 0) {
            int zero = 0;
            if (!atomic_compare_exchange_strong(&r->slots[i].key, &zero, key)) k = zero; /* taken meanwhile */
            else k = key;
        }
        if (k == key) {
            atomic_fetch_add_explicit(&r->slots[i].n, 1, memory_order_relaxed);
            return;
        }
    }
    /* more distinct (method, code) pairs than slots: the histogram counted it; the counter cannot */
}

/* ---- what the collector reads ----------------------------------------------------------- */

static void labels1(mp_buf *b, const char *name, const char *k, const char *v) {
    mp_buf_printf(b, "%s{", name);
    mp_prom_label(b, true, k, v);
    mp_buf_puts(b, "} ");
}

static void labels2(mp_buf *b, const char *name, const char *k1, const char *v1, const char *k2, const char *v2) {
    mp_buf_printf(b, "%s{", name);
    mp_prom_label(b, true, k1, v1);
    mp_prom_label(b, false, k2, v2);
    mp_buf_puts(b, "} ");
}

/* Every state of every pipeline that has rows (0 where none), so ratios and deltas have series. */
static void by_state(mp_buf *b, const char *name, const store_count *c, size_t n, int nstates,
                     const char *(*state_name)(int)) {
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int64_t count[16] = {0};
        for (; j < n && strcmp(c[j].key, c[i].key) == 0; j++)
            if (c[j].key_state >= 0 && c[j].key_state < nstates) count[c[j].key_state] += c[j].n;
        for (int s = 0; s < nstates; s++) {
            labels2(b, name, "pipeline", c[i].key, "state", state_name(s));
            mp_buf_printf(b, "%lld\n", (long long)count[s]);
        }
        i = j;
    }
}

static void render_store(mp_buf *b, const store_stats *s) {
    mp_prom_family(b, "mlplane_runs", "gauge", "Runs in the store, by pipeline and state.");
    by_state(b, "mlplane_runs", s->runs, s->nruns, RUN_CANCELLED + 1, store_run_state_name);
    mp_prom_family(b, "mlplane_steps", "gauge", "Steps of the runs in the store, by pipeline and state.");
    by_state(b, "mlplane_steps", s->steps, s->nsteps, STEP_CACHED + 1, store_step_state_name);
    mp_prom_family(b, "mlplane_step_duration_seconds", "histogram",
                   "How long the steps in the store that ran took (their last attempt), by pipeline.");
    for (size_t i = 0; i < s->nstep_durations; i++) {
        mp_buf l;
        mp_buf_init(&l);
        mp_prom_label(&l, true, "pipeline", s->step_durations[i].key);
        mp_prom_hist_render_counts(b, "mlplane_step_duration_seconds", l.data, s->step_durations[i].counts,
                                   s->step_durations[i].sum_s);
        mp_buf_free(&l);
    }
    /* Every pipeline with runs has a series (0 included), so that the first failure is an increase. */
    mp_prom_family(b, "mlplane_data_validation_failures_total", "counter",
                   "Steps of the runs in the store that failed data validation before they ran, by pipeline.");
    for (size_t i = 0, v = 0; i < s->nruns; i++) {
        if (i > 0 && strcmp(s->runs[i].key, s->runs[i - 1].key) == 0) continue;
        int64_t n = 0;
        for (; v < s->nvalidation_failures && strcmp(s->validation_failures[v].key, s->runs[i].key) < 0; v++) {}
        if (v < s->nvalidation_failures && strcmp(s->validation_failures[v].key, s->runs[i].key) == 0)
            n = s->validation_failures[v].n;
        labels1(b, "mlplane_data_validation_failures_total", "pipeline", s->runs[i].key);
        mp_buf_printf(b, "%lld\n", (long long)n);
    }
    mp_prom_family(b, "mlplane_model_versions", "gauge", "Registered model versions, by stage.");
    for (size_t i = 0; i < s->nversions; i++) {
        labels1(b, "mlplane_model_versions", "stage", s->versions[i].key);
        mp_buf_printf(b, "%lld\n", (long long)s->versions[i].n);
    }
}

/* One ClusterQueue's workloads (or "(none)": steps not queued in one). */
typedef struct queue_row {
    const char *name;
    int64_t pending, admitted, oldest_ms;
} queue_row;

static queue_row *queue_for(queue_row *q, size_t *n, const char *name) {
    for (size_t i = 0; i < *n; i++)
        if (strcmp(q[i].name, name) == 0) return &q[i];
    q[*n] = (queue_row){.name = name};
    return &q[(*n)++];
}

static int render_queues(mp_buf *b, store *st, mp_err *e) {
    sched_objects o;
    if (sched_objects_load(st, &o, e) != 0) return e->code ? e->code : MP_ESTORE;
    store_workload *w = NULL;
    size_t nw = 0;
    int rc = st->w->workload_list(st, &w, &nw, e);
    if (rc == 0) {
        queue_row *q = mp_xcalloc(o.nqueues + nw + 1, sizeof *q);
        size_t nq = 0;
        for (size_t i = 0; i < o.nqueues; i++) queue_for(q, &nq, o.queues[i]->meta.name);
        int64_t now = mp_now_ms();
        for (size_t i = 0; i < nw; i++) {
            if (!sched_workload_live(&w[i])) continue;
            queue_row *r = queue_for(q, &nq, w[i].queue && *w[i].queue ? w[i].queue : "(none)");
            if (!w[i].pending) {
                r->admitted++;
                continue;
            }
            r->pending++;
            if (w[i].created_ms > 0 && (r->oldest_ms == 0 || w[i].created_ms < r->oldest_ms)) r->oldest_ms = w[i].created_ms;
        }
        mp_prom_family(b, "mlplane_queue_pending_workloads", "gauge", "Steps waiting for admission, by ClusterQueue.");
        for (size_t i = 0; i < nq; i++) {
            labels1(b, "mlplane_queue_pending_workloads", "queue", q[i].name);
            mp_buf_printf(b, "%lld\n", (long long)q[i].pending);
        }
        mp_prom_family(b, "mlplane_queue_admitted_workloads", "gauge", "Steps admitted and holding resources, by ClusterQueue.");
        for (size_t i = 0; i < nq; i++) {
            labels1(b, "mlplane_queue_admitted_workloads", "queue", q[i].name);
            mp_buf_printf(b, "%lld\n", (long long)q[i].admitted);
        }
        mp_prom_family(b, "mlplane_queue_oldest_pending_wait_seconds", "gauge",
                       "How long the longest-waiting step of a ClusterQueue has waited for admission (0: none waits).");
        for (size_t i = 0; i < nq; i++) {
            labels1(b, "mlplane_queue_oldest_pending_wait_seconds", "queue", q[i].name);
            double wait = q[i].oldest_ms > 0 && now > q[i].oldest_ms ? (double)(now - q[i].oldest_ms) / 1000.0 : 0;
            mp_buf_printf(b, "%.3f\n", wait);
        }
        free(q);
    }
    store_workload_array_free(w, nw);
    sched_objects_free(&o);
    return rc;
}

/* A resource of a node's capacity or allocation, as `get nodes -o json` names it. */
static void node_resource(mp_buf *b, const char *name, const char *node, const char *key, json_t *v) {
    const char *resource = key, *unit = "integer";
    double x = (double)json_integer_value(v);
    if (strcmp(key, "steps") == 0) return;
    if (strcmp(key, "cpu_milli") == 0) resource = "cpu", unit = "core", x /= 1000.0;
    else if (strcmp(key, "memory_bytes") == 0) resource = "memory", unit = "byte";
    else if (strcmp(key, "gpu") == 0) resource = "nvidia.com/gpu";
    mp_buf_printf(b, "%s{", name);
    mp_prom_label(b, true, "node", node);
    mp_prom_label(b, false, "resource", resource);
    mp_prom_label(b, false, "unit", unit);
    mp_buf_printf(b, "} %.17g\n", x);
}

static int render_nodes(mp_buf *b, store *st, mp_err *e) {
    json_t *nodes = NULL;
    int rc = api_nodes_json(st, &nodes, e);
    if (rc != 0) return rc;
    static const struct { const char *family, *field, *help; } fams[] = {
        {"mlplane_node_capacity", "capacity", "What a node offers steps, by resource (cpu in cores, memory in bytes)."},
        {"mlplane_node_allocated", "allocated", "What the admitted steps hold of a node, by resource."},
    };
    for (size_t f = 0; f < 2; f++) {
        mp_prom_family(b, fams[f].family, "gauge", fams[f].help);
        size_t i;
        json_t *nd;
        json_array_foreach(nodes, i, nd) {
            const char *key;
            json_t *v;
            json_object_foreach(json_object_get(nd, fams[f].field), key, v)
                node_resource(b, fams[f].family, json_string_value(json_object_get(nd, "name")), key, v);
        }
    }
    json_decref(nodes);
    return 0;
}

static void gpu_series(mp_buf *b, const char *name, const sched_gpu *g) {
    char idx[16];
    snprintf(idx, sizeof idx, "%d", g->index);
    mp_buf_printf(b, "%s{", name);
    mp_prom_label(b, true, "gpu", idx);
    mp_prom_label(b, false, "name", g->name);
    mp_prom_label(b, false, "uuid", g->uuid);
    mp_buf_puts(b, "} ");
}

/* Asks NVML now (nothing when it is absent or finds no GPU). */
static void render_gpus(mp_buf *b) {
    sched_gpu *g = NULL;
    size_t n = 0;
    sched_gpu_discover(&g, &n, NULL, 0);
    if (n == 0) return;
    mp_prom_family(b, "mlplane_gpu_utilization_ratio", "gauge",
                   "Share of NVML's last sample period in which a kernel ran on the GPU (0 to 1).");
    for (size_t i = 0; i < n; i++)
        if (g[i].utilization_percent >= 0) {
            gpu_series(b, "mlplane_gpu_utilization_ratio", &g[i]);
            mp_buf_printf(b, "%.2f\n", g[i].utilization_percent / 100.0);
        }
    mp_prom_family(b, "mlplane_gpu_memory_used_bytes", "gauge", "GPU memory in use, as NVML reports it.");
    for (size_t i = 0; i < n; i++) {
        gpu_series(b, "mlplane_gpu_memory_used_bytes", &g[i]);
        mp_buf_printf(b, "%lld\n", (long long)g[i].memory_used_bytes);
    }
    mp_prom_family(b, "mlplane_gpu_memory_total_bytes", "gauge", "GPU memory, as NVML reports it.");
    for (size_t i = 0; i < n; i++) {
        gpu_series(b, "mlplane_gpu_memory_total_bytes", &g[i]);
        mp_buf_printf(b, "%lld\n", (long long)g[i].memory_bytes);
    }
    free(g);
}

/* One collection into a new text; the previous text stays when the store fails. */
static void collect(api_metrics *m, store **st) {
    mp_err e = {0};
    mp_buf b;
    mp_buf_init(&b);
    int rc = *st ? 0 : store_open_home(m->home, st, &e);
    store_stats s;
    if (rc == 0 && (rc = (*st)->m->stats(*st, &s, &e)) == 0) {
        render_store(&b, &s);
        store_stats_free(&s);
    }
    if (rc == 0) rc = render_queues(&b, *st, &e);
    if (rc == 0) rc = render_nodes(&b, *st, &e);
    if (rc == 0) render_gpus(&b);
    if (rc != 0) {
        atomic_fetch_add(&m->collected_failed, 1);
        fprintf(stderr, "mlplane server: metrics: %s (the last values are kept)\n", e.msg);
        mp_buf_free(&b);
        return;
    }
    char *text = mp_buf_steal(&b);
    pthread_mutex_lock(&m->mu);
    char *old = m->text;
    m->text = text;
    pthread_mutex_unlock(&m->mu);
    free(old);
    atomic_fetch_add(&m->collected_ok, 1);
    atomic_store(&m->collected_ms, mp_now_ms());
}

static void *collector(void *arg) {
    api_metrics *m = arg;
    store *st = NULL;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        pthread_mutex_unlock(&m->mu);
        collect(m, &st);
        pthread_mutex_lock(&m->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += API_METRICS_PERIOD_MS / 1000;
        ts.tv_nsec += (long)(API_METRICS_PERIOD_MS % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        while (!m->stop && pthread_cond_timedwait(&m->cv, &m->mu, &ts) == 0) {
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (st) st->m->close(st);
    return NULL;
}

/* ---- start, render, stop --------------------------------------------------------------- */

int api_metrics_start(const char *home, const char *const *routes, size_t nroutes, api_metrics **out, mp_err *e) {
    api_metrics *m = mp_xcalloc(1, sizeof *m);
    m->home = mp_xstrdup(home);
    m->nroutes = nroutes + 2;
    m->rs = mp_xcalloc(m->nroutes, sizeof *m->rs);
    for (size_t i = 0; i < nroutes; i++) m->rs[i].route = routes[i];
    m->rs[nroutes].route = "/metrics";
    m->rs[nroutes + 1].route = "unmatched";
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    store_profile_enable();
    store *st = NULL;
    collect(m, &st); /* the first scrape already has the store's families */
    if (st) st->m->close(st);
    if (pthread_create(&m->th, NULL, collector, m) != 0) {
        api_metrics_stop(m);
        return mp_err_set(e, MP_EINTERNAL, "mlplane server: cannot start the metrics collector thread");
    }
    m->running = true;
    *out = m;
    return 0;
}

void api_metrics_render(api_metrics *m, mp_http_resp *resp) {
    mp_buf *b = &resp->body;
    mp_prom_family(b, "mlplane_http_requests_total", "counter",
                   "Requests the server answered, by route template, method and status code.");
    for (size_t i = 0; i < m->nroutes; i++)
        for (int k = 0; k < ROUTE_SLOTS; k++) {
            int key = atomic_load(&m->rs[i].slots[k].key);
            if (!key) break;
            char code[8];
            snprintf(code, sizeof code, "%d", (key - 1) % 1000);
            mp_buf_puts(b, "mlplane_http_requests_total{");
            mp_prom_label(b, true, "route", m->rs[i].route);
            mp_prom_label(b, false, "method", methods[(key - 1) / 1000]);
            mp_prom_label(b, false, "code", code);
            mp_buf_printf(b, "} %llu\n", atomic_load(&m->rs[i].slots[k].n));
        }
    mp_prom_family(b, "mlplane_http_request_duration_seconds", "histogram",
                   "Time from a request's arrival to its answer, by route template.");
    for (size_t i = 0; i < m->nroutes; i++) {
        if (atomic_load(&m->rs[i].duration.count) == 0) continue;
        mp_buf l;
        mp_buf_init(&l);
        mp_prom_label(&l, true, "route", m->rs[i].route);
        mp_prom_hist_render(b, "mlplane_http_request_duration_seconds", l.data, &m->rs[i].duration);
        mp_buf_free(&l);
    }
    mp_prom_family(b, "mlplane_store_operation_duration_seconds", "histogram",
                   "Time the store took for the SQL statements this server ran, by kind of statement.");
    for (int i = 0; i < STORE_PROFILE_OPS; i++) {
        mp_buf l;
        mp_buf_init(&l);
        mp_prom_label(&l, true, "operation", store_profile_ops[i]);
        mp_prom_hist_render(b, "mlplane_store_operation_duration_seconds", l.data, store_profile_hist(i));
        mp_buf_free(&l);
    }
    mp_prom_family(b, "mlplane_metrics_collections_total", "counter",
                   "Reads of the store for the families below, by result (failed: the last values are kept).");
    mp_buf_printf(b, "mlplane_metrics_collections_total{result=\"ok\"} %llu\n", atomic_load(&m->collected_ok));
    mp_buf_printf(b, "mlplane_metrics_collections_total{result=\"failed\"} %llu\n", atomic_load(&m->collected_failed));
    mp_prom_family(b, "mlplane_metrics_last_collection_timestamp_seconds", "gauge",
                   "When the store's families were last read (Unix time).");
    mp_buf_printf(b, "mlplane_metrics_last_collection_timestamp_seconds %.3f\n", (double)atomic_load(&m->collected_ms) / 1000.0);
    pthread_mutex_lock(&m->mu);
    if (m->text) mp_buf_puts(b, m->text);
    pthread_mutex_unlock(&m->mu);
    mp_prom_build_info(b);
    resp->status = 200;
    mp_strlcpy(resp->content_type, MP_PROM_CONTENT_TYPE, sizeof resp->content_type);
}

void api_metrics_stop(api_metrics *m) {
    if (!m) return;
    if (m->running) {
        pthread_mutex_lock(&m->mu);
        m->stop = true;
        pthread_cond_signal(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->th, NULL);
    }
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m->text);
    free(m->rs);
    free(m->home);
    free(m);
}
