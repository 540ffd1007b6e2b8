/* replica.c — the supervisor thread of a router: it starts, probes, restarts
 * and removes the replica processes of every pool.
 *
 * A replica is the single-process server, `mlplane serve REF --name NAME
 * --listen unix:SOCK_DIR/replica-I.sock --threads T --drain D [--max-body B]
 * [--home H] [--server URL]`, started with posix_spawn of /proc/self/exe (the
 * very binary the router runs, even if the file was replaced since) in a
 * process group of its own, stdin and stdout on /dev/null, stderr shared with the router,
 * descriptors above 2 closed, an empty signal mask and default handlers.
 *
 * Orphans: a worker's environment holds MLPLANE_PARENT_PID (the router's
 * pid). A worker that finds it asks the kernel for SIGTERM when its parent
 * goes (prctl PR_SET_PDEATHSIG, which posix_spawn cannot set before exec, so
 * the worker sets it after) and exits at once if the parent is gone already
 * (cmd_serve.c). A router killed with SIGKILL thus leaves no replica behind:
 * each drains and exits. PR_SET_PDEATHSIG fires when the thread that spawned
 * the worker exits; that is this thread, which lives as long as the router.
 *
 * Life of a slot (router_int.h's states):
 *   EMPTY -> STARTING (spawned; probed every 100 ms) -> READY (a probe of
 *   /v2/health/ready answered 200; probed every second; gets traffic);
 *   READY -> STARTING when a probe fails or the router could not reach it;
 *   STARTING/READY -> RESTARTING when the process exits unasked (logged with
 *   its exit status or signal): started again after 100 ms, doubling up to
 *   10 s for exits in a row, starting over once a process stayed up 30 s;
 *   any -> DRAINING when the pool has more replicas than desired: no new
 *   requests; SIGTERM once it holds none (or drain_s later) and the worker
 *   drains itself; SIGKILL to its group drain_s + 2 s after that -> EMPTY.
 * A pool that is an upstream (a base URL, serve_router_add_upstream) has one
 * slot and no process: it is probed like a replica (every 100 ms while not
 * ready and requests wait for it, else every second) but never started,
 * restarted, scaled or stopped.
 * Exits are seen at once: the loop polls a pidfd per process and an eventfd
 * (set_replicas, a waiting request, stop), then reaps with waitpid(WNOHANG).
 *
 * Threads: everything here runs on the supervisor thread, which alone spawns,
 * signals and reaps. It takes r->mu to change a replica's state (the request
 * path reads states under mu) and never holds it across a probe or a spawn. */
#include "serve/router_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROBE_STARTING_MS 100
#define PROBE_READY_MS 1000
#define PROBE_TIMEOUT_MS 1000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 10000
#define BACKOFF_RESET_MS 30000
#define TICK_MAX_MS 100

/* ---- pure parts ---------------------------------------------------------------------- */

int64_t serve__backoff_ms(int failures) {
    int64_t d = BACKOFF_FIRST_MS;
    for (int i = 0; i < failures && d < BACKOFF_MAX_MS; i++) d *= 2;
    return d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
}

int serve__backoff_failures(int prev, int64_t uptime_ms) {
    return uptime_ms >= BACKOFF_RESET_MS ? 0 : prev;
}

int serve__pick_victim(const serve__state *state, const int *load, size_t n) {
    int best = -1, best_rank = 0;
    for (size_t i = 0; i < n; i++) {
        int rank; /* lower goes first */
        if (state[i] == SERVE__RESTARTING) rank = 0;
        else if (state[i] == SERVE__STARTING) rank = 1;
        else if (state[i] == SERVE__READY) rank = 2 + (load[i] > 0 ? load[i] : 0);
        else continue;
        if (best < 0 || rank <= best_rank) { /* <=: the highest slot among equals */
            best = (int)i;
            best_rank = rank;
        }
    }
    return best;
}

/* ---- processes ------------------------------------------------------------------------- */

void serve__wake(serve_router *r) {
    uint64_t one = 1;
    ssize_t w = write(r->wake_fd, &one, sizeof one);
    (void)w; /* a full counter already wakes */
}

int serve__pidfd_of(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0); /* close-on-exec by design */
#else
    (void)pid;
    return -1; /* the loop's tick then notices exits */
#endif
}

/* Starts exe with argv (the list is terminated here) and envp: stdin from
 * /dev/null, stdout and stderr to out (appended; NULL: stdout to /dev/null,
 * stderr inherited), pass_fd (when >= 0) as descriptor 3 and no other above 2,
 * an empty signal mask and default handlers, a process group of its own. 0
 * with *pid, or an errno. */
int serve__spawn(const char *exe, mp_strv *argv, char **envp, const char *out, int pass_fd, pid_t *pid) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out) {
        posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    } else {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    }
    if (pass_fd >= 0) posix_spawn_file_actions_adddup2(&fa, pass_fd, 3); /* dup2 clears close-on-exec */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, pass_fd >= 0 ? 4 : 3); /* not the parent's client connections */
#endif
    sigset_t none, defs;
    sigemptyset(&none);
    sigemptyset(&defs);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2};
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) sigaddset(&defs, sigs[k]);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &defs);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(pid, exe, &fa, &at, mp_strv_terminated(argv), envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

/* Starts the worker of slot i of pool pi; returns its pid, or 0 (logged). */
static pid_t spawn_worker(serve_router *r, size_t pi, int i) {
    serve__pool *p = &r->pools[pi];
    serve__replica *x = &p->rep[i];
    mp_strv argv = {0};
    mp_strv_push(&argv, "mlplane");
    mp_strv_push(&argv, "serve");
    mp_strv_push(&argv, p->ref);
    mp_strv_push(&argv, "--name");
    mp_strv_push(&argv, r->name);
    mp_strv_push_owned(&argv, mp_xasprintf("--listen=unix:%s", x->sock));
    mp_strv_push_owned(&argv, mp_xasprintf("--threads=%d", r->o.worker_threads));
    mp_strv_push_owned(&argv, mp_xasprintf("--drain=%d", r->o.drain_s));
    if (r->o.max_body) mp_strv_push_owned(&argv, mp_xasprintf("--max-body=%zu", r->o.max_body));
    if (r->home) mp_strv_push_owned(&argv, mp_xasprintf("--home=%s", r->home));
    if (r->server) mp_strv_push_owned(&argv, mp_xasprintf("--server=%s", r->server));

    pid_t pid = 0;
    int rc = serve__spawn(r->exe, &argv, r->envp, NULL, -1, &pid);
    mp_strv_free(&argv);
    if (rc != 0) {
        serve__log("%s: cannot start %s: %s", x->label, r->exe, strerror(rc));
        return 0;
    }
    return pid;
}

/* Starts slot i (EMPTY or RESTARTING) of pool pi. */
static void start_slot(serve_router *r, size_t pi, int i, int64_t now) {
    serve__pool *p = &r->pools[pi];
    serve__replica *x = &p->rep[i];
    bool restart = x->state == SERVE__RESTARTING;
    pid_t pid = spawn_worker(r, pi, i);
    pthread_mutex_lock(&r->mu);
    if (!restart) { /* a new replica in this slot */
        x->failures = 0;
        x->restarts = 0;
    }
    x->gen++;
    x->pid = pid;
    x->started_ms = now;
    x->next_probe_ms = now + 20; /* loading a model takes a moment */
    x->drain_ms = x->term_ms = 0;
    if (pid > 0) {
        x->state = SERVE__STARTING;
    } else { /* could not even spawn: as if it exited at once */
        x->state = SERVE__RESTARTING;
        x->next_start_ms = now + serve__backoff_ms(x->failures++);
    }
    if (i >= p->nslots) p->nslots = i + 1;
    pthread_mutex_unlock(&r->mu);
    if (pid > 0) {
        x->pidfd = serve__pidfd_of(pid);
        if (restart) serve__log("%s restarted (pid %d)", x->label, (int)pid);
    }
}

static void describe_exit(int status, char *out, size_t n) {
    if (WIFEXITED(status)) snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(out, n, "ended (wait status %d)", status);
}

/* Slot i's process has exited with status: mark it, and plan a restart unless it was asked to go. */
static void on_exit_of(serve_router *r, size_t pi, int i, int status, int64_t now) {
    serve__pool *p = &r->pools[pi];
    serve__replica *x = &p->rep[i];
    if (x->pidfd >= 0) close(x->pidfd);
    x->pidfd = -1;
    serve__probe_close(&x->probe);
    char how[160], up[32];
    describe_exit(status, how, sizeof how);
    mp_format_duration(now - x->started_ms, up, sizeof up);
    int pid = (int)x->pid;
    int64_t delay = 0;
    pthread_mutex_lock(&r->mu);
    bool asked = x->state == SERVE__DRAINING || atomic_load(&r->stopping);
    x->pid = 0;
    if (asked) {
        x->state = SERVE__EMPTY;
    } else {
        x->failures = serve__backoff_failures(x->failures, now - x->started_ms);
        delay = serve__backoff_ms(x->failures++);
        x->state = SERVE__RESTARTING;
        x->next_start_ms = now + delay;
        x->restarts++;
        atomic_fetch_add(&p->restarts, 1);
    }
    pthread_mutex_unlock(&r->mu);
    unlink(x->sock); /* a worker that drained removed it; one that was killed did not */
    if (asked && !atomic_load(&r->stopping)) serve__log("%s (pid %d) removed: %s", x->label, pid, how);
    else if (!asked) serve__log("%s (pid %d) %s after %s; restarting in %lld ms", x->label, pid, how, up, (long long)delay);
}

static void reap(serve_router *r, int64_t now) {
    for (size_t pi = 0; pi < r->npools; pi++) {
        serve__pool *p = &r->pools[pi];
        for (int i = 0; i < p->nslots; i++) {
            if (p->rep[i].pid <= 0) continue;
            int status = 0;
            pid_t w = waitpid(p->rep[i].pid, &status, WNOHANG);
            if (w == p->rep[i].pid || (w < 0 && errno == ECHILD)) on_exit_of(r, pi, i, status, now);
        }
    }
}

/* ---- the desired count ------------------------------------------------------------------- */

/* Whether a request waits on a pool that runs no replica (scaled to zero): the hook is asked at once. */
static bool waiting_on_empty_pool(serve_router *r) {
    bool any = false;
    pthread_mutex_lock(&r->mu);
    for (size_t pi = 0; pi < r->npools && !any; pi++)
        any = r->pools[pi].desired == 0 && atomic_load(&r->pools[pi].waiting) > 0;
    pthread_mutex_unlock(&r->mu);
    return any;
}

/* Asks the desired_replicas hook, about once a second per pool. */
static void ask_hook(serve_router *r) {
    if (!r->o.desired_replicas) return;
    serve_router_pool_stats *st = mp_xmalloc(sizeof *st);
    for (size_t pi = 0; pi < r->npools; pi++) {
        pthread_mutex_lock(&r->mu);
        serve__pool_stats_locked(r, pi, st);
        pthread_mutex_unlock(&r->mu);
        serve__pool *p = &r->pools[pi];
        st->inflight_avg = p->inflight_samples ? p->inflight_acc / p->inflight_samples : st->inflight;
        p->inflight_acc = 0;
        p->inflight_samples = 0;
        int want = r->o.desired_replicas(r->o.hook_ud, pi, st);
        if (want < 0) continue;
        if (want > SERVE_ROUTER_MAX_REPLICAS) want = SERVE_ROUTER_MAX_REPLICAS;
        pthread_mutex_lock(&r->mu);
        r->pools[pi].desired = want;
        pthread_mutex_unlock(&r->mu);
    }
    free(st);
}

/* Starts replicas into empty slots, or marks some draining, until the pool has desired. */
static void reconcile(serve_router *r, size_t pi, int64_t now) {
    serve__pool *p = &r->pools[pi];
    if (p->url) return; /* an upstream is scaled where it runs */
    pthread_mutex_lock(&r->mu);
    int desired = p->desired, active = 0;
    for (int i = 0; i < p->nslots; i++) {
        serve__state s = p->rep[i].state;
        active += s == SERVE__STARTING || s == SERVE__READY || s == SERVE__RESTARTING;
    }
    while (active > desired) {
        serve__state state[SERVE_ROUTER_MAX_REPLICAS];
        int load[SERVE_ROUTER_MAX_REPLICAS];
        for (int i = 0; i < p->nslots; i++) {
            state[i] = p->rep[i].state;
            load[i] = atomic_load(&p->rep[i].inflight);
        }
        int v = serve__pick_victim(state, load, (size_t)p->nslots);
        if (v < 0) break;
        serve__replica *x = &p->rep[v];
        x->state = x->pid > 0 ? SERVE__DRAINING : SERVE__EMPTY;
        x->drain_ms = now;
        active--;
        if (x->pid > 0) serve__log("%s (pid %d) draining: %d replica%s wanted", x->label, (int)x->pid, desired, desired == 1 ? "" : "s");
    }
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < SERVE_ROUTER_MAX_REPLICAS && active < desired; i++) {
        if (p->rep[i].state != SERVE__EMPTY) continue; /* only this thread makes a slot non-empty */
        start_slot(r, pi, i, now);
        active++;
    }
}

/* ---- probes, restarts, drains ----------------------------------------------------------------- */

static void probe(serve_router *r, serve__pool *p, serve__replica *x, int64_t now) {
    pthread_mutex_lock(&r->mu);
    unsigned gen = x->gen;
    pthread_mutex_unlock(&r->mu);
    int status = serve__probe(&x->probe, x->sock, p->url, PROBE_TIMEOUT_MS);
    now = mp_mono_ms();
    bool ok = status == 200;
    bool became_ready = false, lost = false;
    pthread_mutex_lock(&r->mu);
    if (x->gen == gen && ok) {
        atomic_store(&x->ok_ms, now);
        pthread_cond_broadcast(&r->ready_cv); /* a retry may wait for a replica alive since */
    }
    if (x->gen == gen && x->state == SERVE__STARTING && ok) {
        x->state = SERVE__READY;
        became_ready = true;
    } else if (x->gen == gen && x->state == SERVE__READY && !ok) {
        x->state = SERVE__STARTING;
        lost = true;
    }
    /* an upstream nobody waits for (maybe scaled to zero) is probed once a second */
    bool idle_upstream = p->url && atomic_load(&p->waiting) == 0;
    x->next_probe_ms = now + (x->state == SERVE__READY || idle_upstream ? PROBE_READY_MS : PROBE_STARTING_MS);
    int pid = (int)x->pid;
    pthread_mutex_unlock(&r->mu);
    char who[300];
    serve__who(p, x, pid, who, sizeof who);
    if (became_ready) serve__log("%s ready", who);
    if (lost) {
        if (status) serve__log("%s not ready: its probe answered %d", who, status);
        else serve__log("%s not ready: its probe got no answer within %d ms", who, PROBE_TIMEOUT_MS);
    }
}

static void drain_step(serve_router *r, serve__replica *x, int64_t now) {
    if (x->pid <= 0) return;
    if (!x->term_ms && (atomic_load(&x->inflight) == 0 || now - x->drain_ms >= (int64_t)r->o.drain_s * 1000)) {
        kill(x->pid, SIGTERM);
        x->term_ms = now;
    } else if (x->term_ms && now - x->term_ms >= (int64_t)r->o.drain_s * 1000 + 2000) {
        kill(-x->pid, SIGKILL);
        x->term_ms = now; /* again later if need be */
    }
}

/* Probes, restarts and drains what is due; returns the next time something is. */
static int64_t drive(serve_router *r, int64_t now) {
    int64_t next = now + TICK_MAX_MS;
    for (size_t pi = 0; pi < r->npools; pi++) {
        serve__pool *p = &r->pools[pi];
        serve__state st[SERVE_ROUTER_MAX_REPLICAS];
        int64_t due[SERVE_ROUTER_MAX_REPLICAS]; /* next_probe_ms: the request path may move it closer */
        pthread_mutex_lock(&r->mu);
        int n = p->nslots;
        for (int i = 0; i < n; i++) {
            st[i] = p->rep[i].state;
            due[i] = p->rep[i].next_probe_ms;
        }
        pthread_mutex_unlock(&r->mu);
        for (int i = 0; i < n; i++) {
            serve__replica *x = &p->rep[i];
            switch (st[i]) { /* only this thread changes a state, but for READY -> STARTING */
            case SERVE__RESTARTING:
                if (now >= x->next_start_ms) start_slot(r, pi, i, now);
                else if (x->next_start_ms < next) next = x->next_start_ms;
                break;
            case SERVE__STARTING:
            case SERVE__READY:
                if (now >= due[i]) {
                    probe(r, p, x, now);
                    pthread_mutex_lock(&r->mu);
                    due[i] = x->next_probe_ms;
                    pthread_mutex_unlock(&r->mu);
                }
                if (due[i] < next) next = due[i];
                break;
            case SERVE__DRAINING:
                drain_step(r, x, now);
                if (now + 10 < next) next = now + 10;
                break;
            default: break;
            }
        }
    }
    return next;
}

/* Once a second: each replica's completed count joins its ring, and rps is read off it. */
static void sample_rates(serve_router *r) {
    pthread_mutex_lock(&r->mu);
    for (size_t pi = 0; pi < r->npools; pi++) {
        serve__pool *p = &r->pools[pi];
        for (int i = 0; i < p->nslots; i++) {
            serve__replica *x = &p->rep[i];
            unsigned long long c = atomic_load(&x->completed);
            size_t w = SERVE__RPS_WINDOW + 1;
            x->ring[x->ring_n % w] = c;
            x->ring_n++;
            size_t have = x->ring_n < w ? x->ring_n : w; /* samples, the newest included */
            x->rps = have > 1 ? (double)(c - x->ring[(x->ring_n - have) % w]) / (double)(have - 1) : 0;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

/* Adds each pool's requests in flight now to its average (ten samples a second). */
static void sample_inflight(serve_router *r) {
    for (size_t pi = 0; pi < r->npools; pi++) {
        serve__pool *p = &r->pools[pi];
        int sum = 0;
        for (int i = 0; i < p->nslots; i++) sum += atomic_load_explicit(&p->rep[i].inflight, memory_order_relaxed);
        p->inflight_acc += sum;
        p->inflight_samples++;
    }
}

/* Sleeps until a process exits, the eventfd is written, or until (monotonic ms). */
static void wait_events(serve_router *r, int64_t until) {
    struct pollfd fds[1 + SERVE_ROUTER_MAX_POOLS * SERVE_ROUTER_MAX_REPLICAS];
    nfds_t n = 0;
    fds[n++] = (struct pollfd){.fd = r->wake_fd, .events = POLLIN};
    for (size_t pi = 0; pi < r->npools; pi++)
        for (int i = 0; i < r->pools[pi].nslots; i++)
            if (r->pools[pi].rep[i].pidfd >= 0) fds[n++] = (struct pollfd){.fd = r->pools[pi].rep[i].pidfd, .events = POLLIN};
    int64_t wait = until - mp_mono_ms();
    if (wait < 0) wait = 0;
    if (wait > TICK_MAX_MS) wait = TICK_MAX_MS;
    if (poll(fds, n, (int)wait) > 0 && (fds[0].revents & POLLIN)) {
        uint64_t v;
        ssize_t rd = read(r->wake_fd, &v, sizeof v);
        (void)rd;
    }
}

/* At stop: SIGTERM to every replica, up to drain_s + 2 s for them to go, then SIGKILL. */
static void stop_all(serve_router *r) {
    int64_t now = mp_mono_ms(), until = now + (int64_t)r->o.drain_s * 1000 + 2000;
    for (size_t pi = 0; pi < r->npools; pi++)
        for (int i = 0; i < r->pools[pi].nslots; i++)
            if (r->pools[pi].rep[i].pid > 0) kill(r->pools[pi].rep[i].pid, SIGTERM);
    for (;;) {
        now = mp_mono_ms();
        reap(r, now);
        bool left = false;
        for (size_t pi = 0; pi < r->npools; pi++)
            for (int i = 0; i < r->pools[pi].nslots; i++) left |= r->pools[pi].rep[i].pid > 0;
        if (!left) break;
        if (now >= until) {
            for (size_t pi = 0; pi < r->npools; pi++)
                for (int i = 0; i < r->pools[pi].nslots; i++) {
                    serve__replica *x = &r->pools[pi].rep[i];
                    if (x->pid <= 0) continue;
                    serve__log("%s (pid %d) did not stop within %d s of SIGTERM; killing it", x->label, (int)x->pid,
                               r->o.drain_s + 2);
                    kill(-x->pid, SIGKILL);
                    int status;
                    waitpid(x->pid, &status, 0);
                    on_exit_of(r, pi, i, status, now);
                }
            break;
        }
        wait_events(r, now + 20);
    }
    for (size_t pi = 0; pi < r->npools; pi++)
        for (int i = 0; i < r->pools[pi].nslots; i++) {
            serve__probe_close(&r->pools[pi].rep[i].probe);
            if (r->pools[pi].rep[i].sock[0]) unlink(r->pools[pi].rep[i].sock);
        }
}

void *serve__supervise(void *arg) {
    serve_router *r = arg;
    int64_t next_second = 0, next_sample = 0;
    while (!atomic_load(&r->stopping)) {
        int64_t now = mp_mono_ms();
        reap(r, now);
        if (now >= next_sample) {
            sample_inflight(r);
            next_sample = now + 100;
        }
        if (now >= next_second) {
            sample_rates(r);
            ask_hook(r);
            next_second = now + 1000;
        } else if (r->o.desired_replicas && waiting_on_empty_pool(r)) {
            ask_hook(r);
        }
        for (size_t pi = 0; pi < r->npools; pi++) reconcile(r, pi, now);
        int64_t next = drive(r, mp_mono_ms());
        if (next > next_second) next = next_second;
        if (next > next_sample) next = next_sample;
        wait_events(r, next);
    }
    stop_all(r);
    return NULL;
}
