/* monitors.c — the Monitors of a home: each applied `kind: Monitor` checked when
 * it is due (its spec.schedule.intervalSeconds after its last check) by a thread of
 * mlplane server, or once on demand (`mlplane monitor check NAME`); and the JSON of
 * `get monitors` and `describe monitor`, and the Monitors' families of GET /metrics.
 *
 * A check is src/monitor's (monitor_check): this file finds what it needs from the
 * layers above it — the Monitor's spec from the applied sources, the version its
 * Deployment serves (serving's status: the stable track, an alias resolved through
 * the registry) — and carries out its actions when it finds drift: the webhook's
 * JSON alert, at most once per actions.cooldownSeconds. Each action is an event of
 * the Monitor.
 *
 * Thread: the monitors' thread owns its store handle, the applied Monitors it parsed
 * (again only when the store's data_version moves), the prepared references of the
 * Monitors (one monitor_cache each) and its webhook requests; the
 * other functions run on their caller's thread with its store. */
#include "api/api.h"
#include "api/api_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <unistd.h>

#include "monitor/monitor.h"
#include "util/prom.h"
#include "sched/sched.h"
#include "serve/serve.h"

/* ---- the applied Monitors ---------------------------------------------------------- */

typedef struct applied {
    const spec_monitor *m; /* borrowed from objs */
    const char *dir;       /* its file's folder */
} applied;

typedef struct applied_set {
    sched_objects objs;
    applied *v;
    size_t n;
} applied_set;

static void applied_free(applied_set *a) {
    sched_objects_free(&a->objs);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* Every Monitor the store names, from the source each points at. */
static int applied_load(store *st, applied_set *a, mp_err *e) {
    memset(a, 0, sizeof *a);
    store_object *objs = NULL;
    size_t n = 0;
    int rc = st->o->object_list(st, &objs, &n, e);
    if (rc == 0) rc = sched_objects_load(st, &a->objs, e);
    if (rc != 0) {
        store_object_array_free(objs, n);
        return rc;
    }
    a->v = mp_xcalloc(n ? n : 1, sizeof *a->v);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(objs[i].kind, "Monitor") != 0) continue;
        for (size_t f = 0; f < a->objs.nfiles; f++) {
            if (a->objs.source_ids[f] != objs[i].source_id) continue;
            const spec_file *sf = a->objs.files[f];
            for (size_t k = 0; k < sf->nobjs; k++)
                if (sf->objs[k].kind == SPEC_KIND_MONITOR && strcmp(sf->objs[k].u.monitor->meta.name, objs[i].name) == 0)
                    a->v[a->n++] = (applied){.m = sf->objs[k].u.monitor, .dir = sf->dir};
        }
    }
    store_object_array_free(objs, n);
    return 0;
}

static const applied *applied_find(const applied_set *a, const char *name) {
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].m->meta.name, name) == 0) return &a->v[i];
    return NULL;
}

/* ---- one check ----------------------------------------------------------------------- */

static int check_one(store *st, const char *home, const applied *a, monitor_cache *cache, store_monitor_check *out,
                     mp_err *e) {
    char *model = NULL, *version = NULL;
    if (a->m->deployment) api__monitor_served(st, home, a->m->deployment, &model, &version);
    monitor_target t = {.home = home, .spec_dir = a->dir, .model = model, .version = version};
    int rc = monitor_check(st, a->m, &t, cache, out, e);
    if (rc == 0) api__monitor_act(st, home, a->m, out);
    free(model);
    free(version);
    return rc;
}

int api_monitor_check_now(store *st, const char *home, const char *name, store_monitor_check *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    applied_set a;
    int rc = applied_load(st, &a, e);
    if (rc != 0) return rc;
    const applied *m = applied_find(&a, name);
    if (!m) {
        applied_free(&a);
        return mp_err_set(e, MP_ENOENT, "monitor \"%s\" not found: apply one with `mlplane apply -f FILE` "
                                        "(`mlplane get monitors` lists them)", name);
    }
    monitor_cache cache = {0};
    rc = check_one(st, home, m, &cache, out, e);
    monitor_cache_free(&cache);
    applied_free(&a);
    return rc;
}

/* ---- the thread ------------------------------------------------------------------------ */

typedef struct kept {
    char *name;
    monitor_cache cache;
    int64_t next_ms; /* wall clock of its next check */
} kept;

struct api_monitors {
    char *home;
    store *st;
    pthread_t thread;
    bool started;
    int wake_fd;
    atomic_bool stopping;
    kept *k;
    size_t nk;
    applied_set a;   /* the applied Monitors, as of data_version */
    bool loaded;
    int64_t data_version;
};

static kept *kept_of(api_monitors *am, const char *name) {
    for (size_t i = 0; i < am->nk; i++)
        if (strcmp(am->k[i].name, name) == 0) return &am->k[i];
    am->k = mp_xrealloc(am->k, (am->nk + 1) * sizeof *am->k);
    kept *k = &am->k[am->nk++];
    memset(k, 0, sizeof *k);
    k->name = mp_xstrdup(name);
    return k;
}

/* Checks every Monitor that is due; returns ms until the next one is (at most 1000:
 * Monitors applied meanwhile are seen within a second). */
static int64_t tick(api_monitors *am) {
    mp_err e = {0};
    /* the applied sources are parsed again only when another connection wrote */
    int64_t v = am->st->m->data_version(am->st);
    if (!am->loaded || v < 0 || v != am->data_version) {
        if (am->loaded) applied_free(&am->a);
        am->loaded = false;
        if (applied_load(am->st, &am->a, &e) != 0) {
            fprintf(stderr, "mlplane server: monitors: %s\n", e.msg);
            return 1000;
        }
        am->loaded = true;
        am->data_version = v;
    }
    const applied_set a = am->a;
    int64_t wait = 1000;
    for (size_t i = 0; i < a.n && !atomic_load(&am->stopping); i++) {
        const spec_monitor *m = a.v[i].m;
        kept *k = kept_of(am, m->meta.name);
        int64_t now = mp_now_ms();
        if (k->next_ms == 0) { /* first seen: due one interval after its last recorded check */
            store_monitor_check *last = NULL;
            size_t n = 0;
            if (am->st->o->monitor_check_list(am->st, m->meta.name, 1, &last, &n, &e) == 0 && n)
                k->next_ms = last[0].time_ms + (int64_t)m->interval_s * 1000;
            else
                k->next_ms = now;
            store_monitor_check_array_free(last, n);
        }
        if (now >= k->next_ms) {
            store_monitor_check c;
            if (check_one(am->st, am->home, &a.v[i], &k->cache, &c, &e) != 0)
                fprintf(stderr, "mlplane server: monitor %s: %s\n", m->meta.name, e.msg);
            store_monitor_check_free(&c);
            k->next_ms = mp_now_ms() + (int64_t)m->interval_s * 1000;
        }
        api__monitor_advance(am->st, am->home, m);
        int64_t left = k->next_ms - mp_now_ms();
        if (left < wait) wait = left < 0 ? 0 : left;
    }
    /* forget the caches of Monitors no longer applied */
    for (size_t i = 0; i < am->nk;) {
        if (applied_find(&a, am->k[i].name)) {
            i++;
            continue;
        }
        monitor_cache_free(&am->k[i].cache);
        free(am->k[i].name);
        am->k[i] = am->k[--am->nk];
    }
    return wait;
}

static void *monitors_main(void *arg) {
    api_monitors *am = arg;
    while (!atomic_load(&am->stopping)) {
        int64_t wait = tick(am);
        struct pollfd p = {.fd = am->wake_fd, .events = POLLIN};
        if (poll(&p, 1, (int)(wait > 0 ? wait : 0)) > 0) {
            uint64_t v;
            ssize_t r = read(am->wake_fd, &v, sizeof v);
            (void)r;
        }
    }
    return NULL;
}

int api_monitors_start(const char *home, api_monitors **out, mp_err *e) {
    *out = NULL;
    api_monitors *am = mp_xcalloc(1, sizeof *am);
    am->home = mp_xstrdup(home);
    atomic_init(&am->stopping, false);
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before the thread: not thread-safe */
    am->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int rc = am->wake_fd < 0 ? mp_err_set(e, MP_EIO, "cannot make an eventfd: %s", strerror(errno)) : 0;
    if (rc == 0) rc = store_open_home(home, &am->st, e);
    if (rc == 0) {
        int prc = pthread_create(&am->thread, NULL, monitors_main, am);
        if (prc != 0) rc = mp_err_set(e, MP_EIO, "cannot start the monitors' thread: %s", strerror(prc));
        else am->started = true;
    }
    if (rc != 0) {
        api_monitors_stop(am);
        return rc;
    }
    *out = am;
    return 0;
}

void api_monitors_stop(api_monitors *am) {
    if (!am) return;
    if (am->started) {
        atomic_store(&am->stopping, true);
        uint64_t one = 1;
        ssize_t w = write(am->wake_fd, &one, sizeof one);
        (void)w;
        pthread_join(am->thread, NULL);
    }
    for (size_t i = 0; i < am->nk; i++) {
        monitor_cache_free(&am->k[i].cache);
        free(am->k[i].name);
    }
    free(am->k);
    if (am->loaded) applied_free(&am->a);
    if (am->st) am->st->m->close(am->st);
    if (am->wake_fd >= 0) close(am->wake_fd);
    free(am->home);
    free(am);
    curl_global_cleanup();
}

/* ---- JSON for get and describe ---------------------------------------------------------- */

static json_t *check_json(const store_monitor_check *c, bool with_columns) {
    char when[40];
    mp_format_time(c->time_ms, when, sizeof when);
    json_t *j = json_pack("{s:I,s:s,s:I,s:s,s:s?,s:s?,s:{s:I,s:I},s:{s:i,s:i,s:f}}", "id", (json_int_t)c->id, "time",
                          when, "timeMs", (json_int_t)c->time_ms, "status", c->status, "message", c->message,
                          "version", c->version, "rows", "reference", (json_int_t)c->n_ref, "current",
                          (json_int_t)c->n_cur, "drift", "columns", c->ncolumns, "drifted", c->ndrifted, "share",
                          c->share);
    if (with_columns && c->result_json) {
        json_t *r = json_loads(c->result_json, 0, NULL);
        json_t *cols = json_object_get(r, "columns");
        json_t *d = json_object_get(r, "drift");
        if (json_is_object(d)) json_object_update(json_object_get(j, "drift"), d);
        if (cols) json_object_set(j, "columns", cols);
        json_decref(r);
    }
    return j;
}

static json_t *spec_json(const spec_monitor *m) {
    json_t *j = json_object();
    if (m->deployment) json_object_set_new(j, "deployment", json_string(m->deployment));
    if (m->data) json_object_set_new(j, "data", json_string(m->data));
    json_object_set_new(j, "reference", m->reference ? json_string(m->reference) : json_string("training data"));
    json_object_set_new(j, "intervalSeconds", json_integer(m->interval_s));
    if (m->window_s) json_object_set_new(j, "window", json_pack("{s:i}", "seconds", m->window_s));
    else json_object_set_new(j, "window", json_pack("{s:I}", "rows", (json_int_t)m->window_rows));
    json_object_set_new(j, "minRows", json_integer(m->min_rows));
    json_object_set_new(j, "driftShare", json_real(m->drift_share));
    json_t *acts = json_array();
    if (m->retrain_pipeline) json_array_append_new(acts, json_pack("{s:s,s:s}", "action", "retrain", "pipeline",
                                                                    m->retrain_pipeline));
    if (m->webhook_url) json_array_append_new(acts, json_pack("{s:s,s:s}", "action", "webhook", "url", m->webhook_url));
    json_object_set_new(j, "actions", acts);
    json_object_set_new(j, "cooldownSeconds", json_integer(m->cooldown_s));
    return j;
}

static json_t *monitor_json(store *st, const applied *a, int history, bool events, mp_err *e) {
    const spec_monitor *m = a->m;
    store_monitor_check *c = NULL;
    size_t n = 0;
    if (st->o->monitor_check_list(st, m->meta.name, history, &c, &n, e) != 0) return NULL;
    json_t *j = json_pack("{s:s,s:o}", "name", m->meta.name, "spec", spec_json(m));
    json_object_set_new(j, "lastCheck", n ? check_json(&c[0], history > 1) : json_null());
    if (history > 1) {
        json_t *h = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(h, check_json(&c[i], false));
        json_object_set_new(j, "history", h);
    }
    store_monitor_check_array_free(c, n);
    if (events) {
        store_deploy_event *ev = NULL;
        size_t ne = 0;
        if (st->o->monitor_event_list(st, m->meta.name, &ev, &ne, e) != 0) {
            json_decref(j);
            return NULL;
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < ne; i++)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:I,s:I}", "type", ev[i].type, "message",
                                                 ev[i].message ? ev[i].message : "", "count", ev[i].count, "firstMs",
                                                 (json_int_t)ev[i].first_ms, "lastMs", (json_int_t)ev[i].last_ms));
        json_object_set_new(j, "events", arr);
        store_deploy_event_array_free(ev, ne);
    }
    return j;
}

json_t *api_monitors_json(store *st, mp_err *e) {
    applied_set a;
    if (applied_load(st, &a, e) != 0) return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < a.n; i++) {
        json_t *j = monitor_json(st, &a.v[i], 1, false, e);
        if (!j) {
            json_decref(arr);
            arr = NULL;
            break;
        }
        json_array_append_new(arr, j);
    }
    applied_free(&a);
    return arr;
}

json_t *api_monitor_describe_json(store *st, const char *name, mp_err *e) {
    applied_set a;
    if (applied_load(st, &a, e) != 0) return NULL;
    const applied *m = applied_find(&a, name);
    json_t *j = m ? monitor_json(st, m, 20, true, e)
                  : (mp_err_set(e, MP_ENOENT, "monitor \"%s\" not found (`mlplane get monitors` lists them)", name),
                     NULL);
    applied_free(&a);
    return j;
}

/* ---- GET /metrics ------------------------------------------------------------------------ */

int api_monitors_render_metrics(store *st, mp_buf *b, mp_err *e) {
    applied_set a;
    if (applied_load(st, &a, e) != 0) return MP_ESTORE;
    store_monitor_check *last = mp_xcalloc(a.n ? a.n : 1, sizeof *last);
    bool *has = mp_xcalloc(a.n ? a.n : 1, sizeof *has);
    int rc = 0;
    for (size_t i = 0; i < a.n && rc == 0; i++) {
        store_monitor_check *c = NULL;
        size_t n = 0;
        rc = st->o->monitor_check_list(st, a.v[i].m->meta.name, 1, &c, &n, e);
        if (rc == 0 && n) {
            last[i] = c[0];
            has[i] = true;
            free(c);
        } else {
            store_monitor_check_array_free(c, n);
        }
    }
    if (rc == 0) {
        static const char *const statuses[] = {"Drift", "NoDrift", "Waiting", "Failed"};
        mp_prom_family(b, "mlplane_monitor_drift_detected", "gauge",
                       "Whether the last check of a Monitor found this column drifted (1) or not (0).");
        for (size_t i = 0; i < a.n; i++) {
            if (!has[i] || !last[i].result_json) continue;
            json_t *r = json_loads(last[i].result_json, 0, NULL);
            size_t k;
            json_t *c;
            json_array_foreach(json_object_get(r, "columns"), k, c) {
                mp_buf_puts(b, "mlplane_monitor_drift_detected{");
                mp_prom_label(b, true, "monitor", a.v[i].m->meta.name);
                mp_prom_label(b, false, "column", json_string_value(json_object_get(c, "column")) ? json_string_value(json_object_get(c, "column")) : "");
                mp_buf_printf(b, "} %d\n", json_is_true(json_object_get(c, "drifted")) ? 1 : 0);
            }
            json_decref(r);
        }
        mp_prom_family(b, "mlplane_monitor_dataset_drift", "gauge",
                       "Whether the last check of a Monitor found its data set drifted (1) or not (0).");
        for (size_t i = 0; i < a.n; i++) {
            if (!has[i] || (strcmp(last[i].status, "Drift") != 0 && strcmp(last[i].status, "NoDrift") != 0)) continue;
            mp_buf_puts(b, "mlplane_monitor_dataset_drift{");
            mp_prom_label(b, true, "monitor", a.v[i].m->meta.name);
            mp_buf_printf(b, "} %d\n", strcmp(last[i].status, "Drift") == 0);
        }
        mp_prom_family(b, "mlplane_monitor_drifted_columns_ratio", "gauge",
                       "The share of a Monitor's columns its last check found drifted.");
        for (size_t i = 0; i < a.n; i++) {
            if (!has[i] || last[i].ncolumns == 0) continue;
            mp_buf_puts(b, "mlplane_monitor_drifted_columns_ratio{");
            mp_prom_label(b, true, "monitor", a.v[i].m->meta.name);
            mp_buf_printf(b, "} %.17g\n", last[i].share);
        }
        mp_prom_family(b, "mlplane_monitor_last_check_status", "gauge",
                       "The status of a Monitor's last check: 1 for its status, 0 for the others.");
        for (size_t i = 0; i < a.n; i++) {
            if (!has[i]) continue;
            for (size_t s = 0; s < sizeof statuses / sizeof *statuses; s++) {
                mp_buf_puts(b, "mlplane_monitor_last_check_status{");
                mp_prom_label(b, true, "monitor", a.v[i].m->meta.name);
                mp_prom_label(b, false, "status", statuses[s]);
                mp_buf_printf(b, "} %d\n", strcmp(last[i].status, statuses[s]) == 0);
            }
        }
        mp_prom_family(b, "mlplane_monitor_last_check_timestamp_seconds", "gauge",
                       "When a Monitor was last checked (Unix time).");
        for (size_t i = 0; i < a.n; i++) {
            if (!has[i]) continue;
            mp_buf_puts(b, "mlplane_monitor_last_check_timestamp_seconds{");
            mp_prom_label(b, true, "monitor", a.v[i].m->meta.name);
            mp_buf_printf(b, "} %.3f\n", (double)last[i].time_ms / 1000.0);
        }
    }
    for (size_t i = 0; i < a.n; i++)
        if (has[i]) store_monitor_check_free(&last[i]);
    free(last);
    free(has);
    applied_free(&a);
    return rc;
}

/* ---- /api/v1/monitors --------------------------------------------------------------------- */

void api_h_monitors(const mp_http_req *req, mp_http_resp *resp) {
    mp_err e = {0};
    json_t *all = api_monitors_json(req->st, &e);
    if (all) api__filter_listed(req, json_is_object(all) ? json_object_get(all, "items") : all, true);
    if (!all) api_error(resp, &e);
    else mp_http_json(resp, 200, all);
}

void api_h_monitor_get(const mp_http_req *req, mp_http_resp *resp) {
    mp_err e = {0};
    json_t *j = api_monitor_describe_json(req->st, mp_http_param(req, "name"), &e);
    if (!j) api_error(resp, &e);
    else mp_http_json(resp, 200, j);
}

void api_h_monitor_check(const mp_http_req *req, mp_http_resp *resp) {
    const char *name = mp_http_param(req, "name");
    mp_err e = {0};
    store_monitor_check c;
    if (api_monitor_check_now(req->st, req->home, name, &c, &e) != 0) {
        api_error(resp, &e);
        return;
    }
    store_monitor_check_free(&c);
    json_t *j = api_monitor_describe_json(req->st, name, &e);
    if (!j) {
        api_error(resp, &e);
        return;
    }
    json_t *last = json_incref(json_object_get(j, "lastCheck"));
    json_decref(j);
    mp_http_json(resp, 200, last);
}
