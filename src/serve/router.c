/* router.c — replicas behind a router: the router object and the request path.
 *
 * A router holds pools, one per model version (pool 0 is the stable one; a
 * canary is a second pool), each with up to SERVE_ROUTER_MAX_REPLICAS replica
 * slots. The supervisor thread (replica.c) starts, probes, restarts and removes
 * the replica processes; this file answers requests on the HTTP engine's
 * threads. A pool may instead be an upstream (serve_router_add_upstream,
 * `mlplane route`): one HTTP server at a base URL in slot 0, probed like a
 * replica but never started or scaled here; its requests take the same path:
 *
 *   GET  /v2/health/live, /v2/health/ready   the router's own health
 *   GET  /metrics                            Prometheus text (metrics.c)
 *   GET  /admin/replicas                     per-replica stats as JSON
 *   POST /admin/replicas?n=K[&version=V]     run K replicas (the scaling hook)
 *   anything else                            forwarded:
 *     1. the pool: choose_version(req), by default pool 0;
 *     2. the replica: a READY one with the fewest requests in flight,
 *        round-robin among equals (serve__pick); when none is ready the
 *        request waits on ready_cv up to ready_timeout_ms (also the hold of a
 *        pool scaled to zero) and then gets 503;
 *     3. forward.c sends it over the replica's unix socket; the replica's
 *        answer (any status, 5xx too) is the response;
 *     4. a refused connection (nothing delivered) marks the replica not ready
 *        and picks again; a replica that died before answering is marked not
 *        ready, the other ready ones are probed at once, and the request is
 *        sent once more (inference is idempotent) to a ready replica that has
 *        shown life since (answered a request or a probe), waiting for one if
 *        need be; a second such death is a 502 (a request that kills every
 *        replica it reaches takes down two at most), a timeout a 504.
 *
 * Threads: serve_router_new/add_version/start/stop/free run on the main
 * thread; serve_router_handle on the engine's threads, concurrently; the
 * supervisor in replica.c. Locking is described in router_int.h. */
#include "serve/router_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void serve__vlog(const char *who, const char *fmt, va_list ap) {
    char line[1200];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "%s: %s\n", who, line); /* one write: lines of threads do not mix */
}

void serve__log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    serve__vlog("mlplane serve", fmt, ap);
    va_end(ap);
}

/* ---- pure parts ---------------------------------------------------------------------- */

int serve__pick(const int *load, size_t n, unsigned start) {
    int best = -1;
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        if (load[i] < 0) continue;
        if (best < 0 || load[i] < load[best]) best = (int)i;
    }
    return best;
}

/* ---- the object ------------------------------------------------------------------------ */

static void pool_init(serve_router *r, size_t pi, const char *ref, const char *url, const char *version, int replicas) {
    serve__pool *p = &r->pools[pi];
    p->version = mp_xstrdup(version);
    p->ref = mp_xstrdup(ref);
    p->desired = replicas;
    if (url) {
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/') n--;
        p->url = mp_xstrndup(url, n);
        p->desired = 1;
    }
    atomic_init(&p->waiting, 0);
    for (int i = 0; i < SERVE_ROUTER_MAX_REPLICAS; i++) {
        serve__replica *x = &p->rep[i];
        x->pidfd = -1;
        atomic_init(&x->inflight, 0);
        atomic_init(&x->completed, 0);
        atomic_init(&x->ok_ms, 0);
        if (url) {
            snprintf(x->label, sizeof x->label, "upstream %s", version);
        } else if (pi == 0) {
            snprintf(x->sock, sizeof x->sock, "%s/replica-%d.sock", r->sock_dir, i);
            snprintf(x->label, sizeof x->label, "replica %d", i);
        } else {
            snprintf(x->sock, sizeof x->sock, "%s/v%zu-replica-%d.sock", r->sock_dir, pi, i);
            snprintf(x->label, sizeof x->label, "replica v%zu-%d", pi, i);
        }
    }
    if (url) { /* one server, there from the start: probed at once, never spawned */
        p->rep[0].state = SERVE__STARTING;
        p->rep[0].gen = 1;
        p->rep[0].next_probe_ms = 0;
        p->nslots = 1;
    }
    r->versions[pi] = p->version;
    r->npools = pi + 1;
}

void serve__who(const serve__pool *p, const serve__replica *x, int pid, char *out, size_t n) {
    if (p->url) snprintf(out, n, "%s (%s)", x->label, p->url);
    else snprintf(out, n, "%s (pid %d)", x->label, pid);
}

/* The workers' environment: ours, with MLPLANE_PARENT_PID set to our pid and
 * without MLPLANE_SERVER (a worker resolves its pinned reference through the
 * home it is given, or the --server it is given, never through a server it
 * happens to inherit). */
char **serve__worker_env(void) {
    mp_strv v = {0};
    for (char **e = environ; e && *e; e++)
        if (!mp_str_starts(*e, "MLPLANE_PARENT_PID=") && !mp_str_starts(*e, "MLPLANE_SERVER=") &&
            !mp_str_starts(*e, SERVE_ADMIN_CREDENTIAL_ENV "="))
            mp_strv_push(&v, *e);
    mp_strv_push_owned(&v, mp_xasprintf("MLPLANE_PARENT_PID=%d", (int)getpid()));
    mp_strv_terminated(&v);
    return v.v;
}

int serve_router_new(const serve_router_opts *opts, serve_router **out, mp_err *e) {
    *out = NULL;
    if ((!opts->url && (!opts->ref || !opts->sock_dir)) || !opts->name || !opts->version)
        return mp_err_set(e, MP_EINTERNAL, "serve_router_new: ref and sock_dir (or url), name and version are needed");
    if (opts->replicas < 0 || opts->replicas > SERVE_ROUTER_MAX_REPLICAS)
        return mp_err_set(e, MP_EINVAL, "replicas must be from 0 to %d", SERVE_ROUTER_MAX_REPLICAS);
    if (opts->sock_dir && strlen(opts->sock_dir) + sizeof "/v3-replica-63.sock" > sizeof ((serve__replica *)0)->sock)
        return mp_err_set(e, MP_EINVAL, "the socket folder %s is too long for a unix socket address", opts->sock_dir);
    serve_router *r = mp_xcalloc(1, sizeof *r);
    r->o = *opts;
    r->name = mp_xstrdup(opts->name);
    r->sock_dir = opts->sock_dir ? mp_xstrdup(opts->sock_dir) : NULL;
    r->exe = mp_xstrdup(opts->exe ? opts->exe : "/proc/self/exe");
    r->home = mp_xstrdup(opts->home);
    r->server = mp_xstrdup(opts->server);
    r->o.name = r->name;
    r->o.sock_dir = r->sock_dir;
    r->o.exe = r->exe;
    r->o.home = r->home;
    r->o.server = r->server;
    r->o.ref = r->o.version = r->o.url = NULL; /* pool 0 holds them */
    if (r->o.worker_threads <= 0) r->o.worker_threads = 1;
    if (r->o.drain_s <= 0) r->o.drain_s = 10;
    if (r->o.ready_timeout_ms <= 0) r->o.ready_timeout_ms = 30000;
    if (r->o.upstream_timeout_ms <= 0) r->o.upstream_timeout_ms = 120000;
    r->envp = serve__worker_env();
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->ready_cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&r->draining, false);
    atomic_init(&r->stopping, false);
    r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pool_init(r, 0, opts->url ? NULL : opts->ref, opts->url, opts->version, opts->replicas);
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: not thread-safe */
    int rc = r->wake_fd < 0 ? mp_err_set(e, MP_EIO, "cannot make an eventfd: %s", strerror(errno)) : 0;
    if (rc == 0) rc = serve__forward_init(r, e);
    if (rc != 0) {
        serve_router_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Adds pool ref (replicas) or url (an upstream) serving version. */
static int add_pool(serve_router *r, const char *ref, const char *url, const char *version, int replicas, size_t *index,
                    mp_err *e) {
    if (r->started) return mp_err_set(e, MP_ESTATE, "versions are added before the router starts");
    if (!url && !r->sock_dir) return mp_err_set(e, MP_EINTERNAL, "a router of upstreams has no folder for replicas' sockets");
    if (r->npools == SERVE_ROUTER_MAX_POOLS)
        return mp_err_set(e, MP_EINVAL, "a router serves at most %d versions", SERVE_ROUTER_MAX_POOLS);
    if (replicas < 0 || replicas > SERVE_ROUTER_MAX_REPLICAS)
        return mp_err_set(e, MP_EINVAL, "replicas must be from 0 to %d", SERVE_ROUTER_MAX_REPLICAS);
    for (size_t i = 0; i < r->npools; i++)
        if (strcmp(r->pools[i].version, version) == 0)
            return mp_err_set(e, MP_EEXIST, "version %s is served already", version);
    if (index) *index = r->npools;
    pool_init(r, r->npools, ref, url, version, replicas);
    return 0;
}

int serve_router_add_version(serve_router *r, const char *ref, const char *version, int replicas, size_t *index,
                             mp_err *e) {
    return add_pool(r, ref, NULL, version, replicas, index, e);
}

int serve_router_add_upstream(serve_router *r, const char *url, const char *version, size_t *index, mp_err *e) {
    return add_pool(r, NULL, url, version, 1, index, e);
}

int serve_router_start(serve_router *r, mp_err *e) {
    if (r->started) return mp_err_set(e, MP_ESTATE, "the router has started already");
    int rc = pthread_create(&r->sup, NULL, serve__supervise, r);
    if (rc != 0) return mp_err_set(e, MP_EIO, "cannot start the supervisor thread: %s", strerror(rc));
    r->started = true;
    return 0;
}

int serve_router_set_replicas(serve_router *r, size_t pool, int n, mp_err *e) {
    if (pool >= r->npools) return mp_err_set(e, MP_ENOENT, "no version %zu (the router serves %zu)", pool, r->npools);
    if (n < 0 || n > SERVE_ROUTER_MAX_REPLICAS)
        return mp_err_set(e, MP_EINVAL, "replicas must be from 0 to %d, got %d", SERVE_ROUTER_MAX_REPLICAS, n);
    if (r->pools[pool].url)
        return mp_err_set(e, MP_EINVAL, "version %s is the upstream %s: it is scaled where it runs, not here",
                          r->pools[pool].version, r->pools[pool].url);
    pthread_mutex_lock(&r->mu);
    r->pools[pool].desired = n;
    pthread_mutex_unlock(&r->mu);
    serve__wake(r);
    return 0;
}

static const char *state_name(serve__state s) {
    switch (s) {
    case SERVE__STARTING: return "starting";
    case SERVE__READY: return "ready";
    case SERVE__DRAINING: return "draining";
    case SERVE__RESTARTING: return "restarting";
    default: return "empty";
    }
}

void serve__pool_stats_locked(serve_router *r, size_t pi, serve_router_pool_stats *st) {
    const serve__pool *p = &r->pools[pi];
    memset(st, 0, sizeof *st);
    mp_strlcpy(st->version, p->version, sizeof st->version);
    st->desired = p->desired;
    st->waiting = atomic_load(&p->waiting);
    for (int i = 0; i < p->nslots; i++) {
        const serve__replica *x = &p->rep[i];
        if (x->state == SERVE__EMPTY) continue;
        serve_router_replica_stats *o = &st->replicas[st->nreplicas++];
        o->slot = i;
        o->pid = (int)x->pid;
        o->state = state_name(x->state);
        o->inflight = atomic_load(&x->inflight);
        o->completed = atomic_load(&x->completed);
        o->rps = x->rps;
        o->restarts = x->restarts;
        if (x->state == SERVE__READY) st->ready++;
        else if (x->state == SERVE__DRAINING) st->draining++;
        else st->starting++;
        st->inflight += o->inflight;
        st->rps += o->rps;
    }
}

void serve_router_stats(serve_router *r, serve_router_snapshot *out) {
    pthread_mutex_lock(&r->mu);
    out->npools = r->npools;
    for (size_t i = 0; i < r->npools; i++) serve__pool_stats_locked(r, i, &out->pools[i]);
    pthread_mutex_unlock(&r->mu);
}

bool serve_router_ready(serve_router *r) {
    if (atomic_load(&r->draining)) return false;
    bool ready = false;
    pthread_mutex_lock(&r->mu);
    const serve__pool *p = &r->pools[0];
    /* scaled to zero with a hook that starts a replica for a waiting request: ready, requests are held */
    ready = p->desired == 0 && r->o.desired_replicas != NULL;
    for (int i = 0; i < p->nslots && !ready; i++) ready = p->rep[i].state == SERVE__READY;
    pthread_mutex_unlock(&r->mu);
    return ready;
}

void serve_router_drain(serve_router *r) {
    atomic_store(&r->draining, true);
    pthread_mutex_lock(&r->mu);
    pthread_cond_broadcast(&r->ready_cv);
    pthread_mutex_unlock(&r->mu);
}

void serve_router_stop(serve_router *r) {
    if (!r || r->stopped) return;
    r->stopped = true;
    serve_router_drain(r);
    if (!r->started) return;
    atomic_store(&r->stopping, true);
    serve__wake(r);
    pthread_join(r->sup, NULL);
}

void serve_router_free(serve_router *r) {
    if (!r) return;
    serve_router_stop(r);
    serve__forward_fini(r);
    for (size_t i = 0; i < r->npools; i++) {
        free(r->pools[i].version);
        free(r->pools[i].ref);
        free(r->pools[i].url);
    }
    if (r->sock_dir) rmdir(r->sock_dir); /* when empty */
    if (r->wake_fd >= 0) close(r->wake_fd);
    pthread_cond_destroy(&r->ready_cv);
    pthread_mutex_destroy(&r->mu);
    for (char **e = r->envp; e && *e; e++) free(*e);
    free(r->envp);
    free(r->name);
    free(r->sock_dir);
    free(r->exe);
    free(r->home);
    free(r->server);
    free(r);
    curl_global_cleanup();
}

/* ---- the request path ---------------------------------------------------------------------- */

/* A ready replica of pool p with its request counted in flight, waiting for
 * one up to deadline_ms (monotonic); -1 when none came (or the router drains).
 * With alive_since > 0, only a replica that showed life since then qualifies. */
static int acquire(serve_router *r, serve__pool *p, int64_t deadline_ms, int64_t alive_since, unsigned *gen) {
    int slot = -1;
    bool waited = false;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        int load[SERVE_ROUTER_MAX_REPLICAS];
        size_t n = (size_t)p->nslots;
        for (size_t i = 0; i < n; i++) {
            const serve__replica *x = &p->rep[i];
            bool ok = x->state == SERVE__READY && (alive_since == 0 || atomic_load(&x->ok_ms) >= alive_since);
            load[i] = ok ? atomic_load_explicit(&x->inflight, memory_order_relaxed) : -1;
        }
        slot = serve__pick(load, n, p->rr++);
        if (slot >= 0) {
            atomic_fetch_add(&p->rep[slot].inflight, 1);
            *gen = p->rep[slot].gen;
            break;
        }
        if (atomic_load(&r->draining) || mp_mono_ms() >= deadline_ms) break;
        if (!waited) {
            waited = true;
            atomic_fetch_add(&p->waiting, 1);
            if (p->url) p->rep[0].next_probe_ms = 0; /* an upstream: probed at once, then often while requests wait */
            serve__wake(r); /* the scaling hook sees a request waiting */
        }
        struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
        pthread_cond_timedwait(&r->ready_cv, &r->mu, &ts);
    }
    if (waited) atomic_fetch_sub(&p->waiting, 1);
    pthread_mutex_unlock(&r->mu);
    return slot;
}

/* The request to slot is over. */
static void release(serve__pool *p, int slot, bool answered) {
    atomic_fetch_sub(&p->rep[slot].inflight, 1);
    if (answered) {
        atomic_fetch_add(&p->rep[slot].completed, 1);
        atomic_store_explicit(&p->rep[slot].ok_ms, mp_mono_ms(), memory_order_relaxed);
    }
}

/* The router could not reach slot's process gen: no more traffic until a probe
 * passes. When it died with a request (check_peers), the other ready replicas
 * are probed at once too: replicas killed together are found out. */
static void mark_failed(serve_router *r, serve__pool *p, int slot, unsigned gen, bool check_peers, const char *why) {
    serve__replica *x = &p->rep[slot];
    bool logged = false;
    pthread_mutex_lock(&r->mu);
    if (x->gen == gen && x->state == SERVE__READY) {
        x->state = SERVE__STARTING;
        x->next_probe_ms = 0; /* probe at once */
        logged = true;
    }
    for (int i = 0; check_peers && i < p->nslots; i++)
        if (p->rep[i].state == SERVE__READY) p->rep[i].next_probe_ms = 0;
    int pid = (int)x->pid;
    pthread_mutex_unlock(&r->mu);
    char who[300];
    serve__who(p, x, pid, who, sizeof who);
    if (logged) serve__log("%s not ready: %s", who, why);
    serve__wake(r);
}

static void reset_resp(mp_http_resp *resp) {
    mp_http_resp_free(resp);
    mp_http_resp_init(resp);
}

void serve_router_forward(serve_router *r, size_t pi, const mp_http_req *req, mp_http_resp *resp) {
    int64_t t0 = mp_mono_us();
    if (pi >= r->npools) pi = 0;
    serve__pool *p = &r->pools[pi];
    int64_t deadline = t0 / 1000 + r->o.ready_timeout_ms, alive_since = 0;
    int deaths = 0;
    for (int attempt = 0;; attempt++) {
        unsigned gen = 0;
        int slot = attempt < 2 * SERVE_ROUTER_MAX_REPLICAS ? acquire(r, p, deadline, alive_since, &gen) : -1;
        if (slot < 0) {
            if (atomic_load(&r->draining))
                serve_oip_error(resp, 503, "the server is stopping");
            else if (p->url)
                serve_oip_error(resp, 503, "the upstream of model %s version %s (%s) was not ready within %d ms (--ready-timeout)",
                                r->name, p->version, p->url, r->o.ready_timeout_ms);
            else
                serve_oip_error(resp, 503, "no replica of model %s version %s became ready within %d ms (--ready-timeout)",
                                r->name, p->version, r->o.ready_timeout_ms);
            break;
        }
        char err[CURL_ERROR_SIZE + 64];
        serve__fwd f = serve__forward(r, pi, slot, gen, req, resp, err, sizeof err);
        release(p, slot, f == SERVE__FWD_OK);
        if (f == SERVE__FWD_OK) break;
        reset_resp(resp);
        const char *label = p->rep[slot].label;
        if (f == SERVE__FWD_REFUSED) { /* never delivered: try again, wherever is ready */
            atomic_fetch_add(&p->refused, 1);
            atomic_fetch_add(&p->retries, 1);
            mark_failed(r, p, slot, gen, false, err);
            continue;
        }
        if (f == SERVE__FWD_DIED) {
            atomic_fetch_add(&p->died, 1);
            mark_failed(r, p, slot, gen, true, err);
            if (deaths++ == 0) {
                /* Sent again only to a replica alive after this one died (it answered a
                 * request or a probe since): one killed together with it is not, and the
                 * retry waits for a restart instead of dying with it. */
                alive_since = mp_mono_ms();
                atomic_fetch_add(&p->retries, 1);
                continue;
            }
            serve_oip_error(resp, 502, "%s failed to answer, as did the replica tried before it: %s", label, err);
        } else if (f == SERVE__FWD_TIMEOUT) {
            atomic_fetch_add(&p->timeouts, 1);
            serve_oip_error(resp, 504, "%s did not answer within %d ms", label, r->o.upstream_timeout_ms);
        } else {
            atomic_fetch_add(&p->errors, 1);
            serve_oip_error(resp, 502, "%s: %s", label, err);
        }
        break;
    }
    serve__observe(p, resp->status, mp_mono_us() - t0);
}

static void forward(serve_router *r, const mp_http_req *req, mp_http_resp *resp) {
    int64_t t0 = mp_mono_us(), wall = mp_now_ms();
    size_t pi = r->o.choose_version ? r->o.choose_version(r->o.hook_ud, req, r->versions, r->npools) : 0;
    if (pi >= r->npools) pi = 0;
    serve_router_forward(r, pi, req, resp);
    if (r->o.answered) r->o.answered(r->o.hook_ud, pi, req, resp, wall, mp_mono_us() - t0);
}

/* ---- the router's own endpoints -------------------------------------------------------------- */

static void ep_live(serve_router *r, const mp_http_req *req, mp_http_resp *resp) {
    (void)r, (void)req;
    mp_http_json(resp, 200, json_pack("{s:b}", "live", 1));
}

/* Ready while a replica of the stable version is; not ready is a 4xx, as OIP asks. */
static void ep_ready(serve_router *r, const mp_http_req *req, mp_http_resp *resp) {
    (void)req;
    bool ready = serve_router_ready(r);
    mp_http_json(resp, ready ? 200 : 400, json_pack("{s:b}", "ready", ready));
}

static void ep_metrics(serve_router *r, const mp_http_req *req, mp_http_resp *resp) {
    (void)req;
    serve_router_metrics(r, &resp->body);
    resp->status = 200;
    mp_strlcpy(resp->content_type, MP_PROM_CONTENT_TYPE, sizeof resp->content_type);
}

static void ep_admin_get(serve_router *r, const mp_http_req *req, mp_http_resp *resp) {
    (void)req;
    serve_router_snapshot *st = mp_xmalloc(sizeof *st);
    serve_router_stats(r, st);
    json_t *v = serve__stats_json(st);
    char *text = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(6)); /* rps 0.666667, not 0.66666666666666663 */
    json_decref(v);
    free(st);
    if (!text) {
        serve_oip_error(resp, 500, "cannot encode the stats");
        return;
    }
    resp->status = 200;
    mp_buf_puts(&resp->body, text);
    free(text);
}

/* POST /admin/replicas?n=K[&version=V]: the scaling hook, for operators and tests. */
static void ep_admin_set(serve_router *r, const mp_http_req *req, mp_http_resp *resp) {
    const char *n = mp_http_query(req, "n"), *v = mp_http_query(req, "version");
    char *end = NULL;
    long k = n ? strtol(n, &end, 10) : -1;
    if (!n || !*n || *end || k < 0 || k > SERVE_ROUTER_MAX_REPLICAS) {
        serve_oip_error(resp, 400, "give the replica count as ?n=K, K from 0 to %d", SERVE_ROUTER_MAX_REPLICAS);
        return;
    }
    size_t pi = 0;
    if (v) {
        while (pi < r->npools && strcmp(r->pools[pi].version, v) != 0) pi++;
        if (pi == r->npools) {
            serve_oip_error(resp, 404, "the router serves no version %s", v);
            return;
        }
    }
    mp_err e = {0};
    if (serve_router_set_replicas(r, pi, (int)k, &e) != 0) {
        serve_oip_error(resp, 400, "%s", e.msg);
        return;
    }
    mp_http_json(resp, 200, json_pack("{s:s,s:i}", "version", r->pools[pi].version, "replicas", (int)k));
}

typedef void (*router_ep)(serve_router *r, const mp_http_req *req, mp_http_resp *resp);

static const struct local_route {
    const char *method;
    const char *path;
    router_ep fn;
} local_routes[] = {
    {"GET", "/v2/health/live", ep_live},
    {"GET", "/v2/health/ready", ep_ready},
    {"GET", "/metrics", ep_metrics},
    {"GET", "/admin/replicas", ep_admin_get},
    {"POST", "/admin/replicas", ep_admin_set},
};

void serve_router_handle(serve_router *r, const mp_http_req *req, mp_http_resp *resp) {
    if (r->o.admin && r->o.admin(r->o.hook_ud, req, resp)) return;
    const char *path = req->path ? req->path : "";
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/') len--; /* "/metrics/" is "/metrics" */
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    char allow[32] = ""; /* the methods the path takes, when it is one of ours */
    for (size_t i = 0; i < sizeof local_routes / sizeof local_routes[0]; i++) {
        const struct local_route *lr = &local_routes[i];
        if (strlen(lr->path) != len || strncmp(lr->path, path, len) != 0) continue;
        if (strcmp(lr->method, method) == 0) {
            lr->fn(r, req, resp);
            return;
        }
        size_t al = strlen(allow);
        snprintf(allow + al, sizeof allow - al, "%s%s", al ? ", " : "", lr->method);
    }
    if (allow[0]) {
        serve_oip_not_allowed(resp, req->method, path, allow);
        return;
    }
    forward(r, req, resp);
}

/* ---- behind the HTTP engine ------------------------------------------------------------------------ */

static void http_handle(void *cls, const mp_http_req *req, mp_http_resp *resp) {
    serve_router_handle(cls, req, resp);
}

static void http_error(void *cls, mp_http_resp *resp, int status, const char *code, const char *msg) {
    (void)cls, (void)code;
    serve_oip_error(resp, status, "%s", msg);
}

int serve_router_http_start(serve_router *r, const mp_httpd_opts *opts, mp_httpd **out, mp_err *e) {
    mp_httpd_opts h = *opts;
    h.handler = http_handle;
    h.error = http_error;
    h.cls = r;
    h.thread_per_connection = true; /* a request waiting for a replica holds up no other connection */
    if (!h.log_name) h.log_name = "mlplane serve";
    return mp_httpd_start(&h, out, e);
}
