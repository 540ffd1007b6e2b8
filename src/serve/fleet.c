/* fleet.c — the Deployments of a home, run under `mlplane server`'s
 * supervision: one process `mlplane serve deployment/NAME --home HOME` per
 * applied Deployment (its router and replicas below it), output appended to
 * HOME/serving/NAME/server.log.
 *
 * The fleet's thread looks at the store twice a second (a cheap data_version
 * check, the object list only when another connection committed) and
 *   - starts the deployments applied and not running;
 *   - hands one whose Deployment was applied again over: the new spec's
 *     process starts beside the old one, and the old one gets SIGTERM (it
 *     stops accepting and drains) once the new one is ready;
 * The fleet binds each deployment's listening socket itself and passes it to
 * the processes as descriptor 3 (--listen-fd=3): a restarted process keeps the
 * port (even a port-0 one), and in a hand-over both processes accept from one
 * queue, so no connection waiting in it is lost when the old one stops.
 *   - stops one whose Deployment was deleted;
 *   - restarts one that exited unasked, after a backoff (100 ms doubling to
 *     10 s, reset after 30 s up), as the router does for replicas.
 * Each child gets MLPLANE_PARENT_PID: it asks for SIGTERM when the server dies.
 * With opts.auth_review (mlplane server --auth) each child gets --auth-review=URL
 * and, in its environment only, the admin credential the server's own calls on
 * its /admin/ routes carry (authz.c), made at start and removed at stop.
 *
 * What happens is committed to the store for `get deployments`, `rollout
 * status` and `describe deployment` (src/serve/rollout.c reads it): each
 * deployment's state (Starting, Running once its /v2/health/ready answers,
 * CrashLoopBackOff while it waits to restart, Stopped), its restarts, the
 * last error (how the process ended and the last "mlplane: ..." line it wrote
 * to its log, e.g. "cannot listen on ...: Address already in use"), and events
 * (Started, Ready, Exited, BackOff, Updated, Stopped), under this server's pid
 * and start time so that readers know a record whose server is gone.
 * Threads: serve_fleet_start/stop on the server's main thread; everything else
 * on the fleet's thread, which owns the children and its store handle. */
#include "serve/router_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

typedef struct proc {
    pid_t pid;            /* 0: none */
    bool asked;           /* SIGTERM sent: its exit is not a failure */
    const char *why;      /* why it was asked (static) */
    int64_t started_ms, term_ms;
} proc;

typedef struct child {
    char *name;
    int64_t applied_ms;   /* the spec cur runs (the object's applied time) */
    int64_t want_applied; /* the spec that should run; 0: deleted */
    proc cur;             /* the process of the current spec */
    proc old;             /* the previous spec's, serving until cur is ready (a hand-over) */
    int64_t next_start_ms;
    int64_t next_probe_ms;
    int failures;
    int lsock;            /* the listening socket its processes inherit (kept across restarts); -1: none */
    char *laddr;          /* the address lsock was bound for (spec.listen or 127.0.0.1:0) */
    /* what is recorded in the store */
    bool ready;           /* cur has answered its readiness check */
    int restarts;         /* unasked exits since the spec was applied (or the server started) */
    int64_t started_wall; /* wall clock: when cur started */
    long log_off;         /* server.log's size when cur started: what follows is cur's */
    char *last_error;     /* how the last failed process ended, and its last error line (heap), or NULL */
} child;

struct serve_fleet {
    char *home, *exe;
    char *auth_review;    /* the server's URL the deployments ask about callers, or NULL */
    char *admin_cred;     /* the admin credential (authz.c) with auth_review; in envp too */
    char **envp;
    int drain_s;
    int wake_fd;
    atomic_bool stopping;
    pthread_t thread;
    bool started;
    store *st;
    int pid;              /* this server's, and its start time: the records' owner */
    int64_t pid_start;
    int64_t data_version;
    child *kids;
    size_t nkids;
};

static void flog(const char *fmt, ...) MP_PRINTF(1, 2);
static void flog(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    serve__vlog("mlplane server", fmt, ap);
    va_end(ap);
}

static child *find(serve_fleet *f, const char *name) {
    for (size_t i = 0; i < f->nkids; i++)
        if (strcmp(f->kids[i].name, name) == 0) return &f->kids[i];
    return NULL;
}

/* ---- what the store records ---------------------------------------------------------- */

/* Commits c's state (message may be NULL). A store that cannot be written is
 * logged; supervision goes on. */
static void record(serve_fleet *f, const child *c, const char *state, const char *message) {
    char *also = NULL; /* a hand-over's new spec not running yet: the old one serves */
    if (c->old.pid > 0 && !c->old.asked && strcmp(state, "Running") != 0)
        message = also = mp_xasprintf("%s%sthe previous spec's process (pid %d) serves meanwhile", message ? message : "",
                                      message ? "; " : "", (int)c->old.pid);
    store_deploy_state ds = {.name = c->name, .state = (char *)state, .message = (char *)message,
                             .last_error = c->last_error, .restarts = c->restarts, .pid = (int)c->cur.pid,
                             .owner_pid = f->pid, .owner_start = f->pid_start,
                             .started_ms = c->cur.pid > 0 ? c->started_wall : 0};
    mp_err e = {0};
    if (f->st->o->deploy_state_put(f->st, &ds, &e) != 0) flog("deployment %s: cannot record its state: %s", c->name, e.msg);
    free(also);
}

static void event(serve_fleet *f, const child *c, const char *type, const char *fmt, ...) MP_PRINTF(4, 5);
static void event(serve_fleet *f, const child *c, const char *type, const char *fmt, ...) {
    char msg[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mp_err e = {0};
    if (f->st->o->deploy_event_add(f->st, c->name, type, msg, &e) != 0)
        flog("deployment %s: cannot record an event: %s", c->name, e.msg);
}

/* The size of the file at path (0 when missing). */
static long file_size(const char *path) {
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    long n = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : 0;
    fclose(fp);
    return n < 0 ? 0 : n;
}

/* The last error line the command wrote to log after offset off (its last
 * 8 KiB at most): the text of the last line "mlplane: ..." (cli_fail's), or ""
 * when there is none. */
static void last_error_line(const char *log, long off, char *out, size_t n) {
    out[0] = '\0';
    FILE *fp = fopen(log, "r");
    if (!fp) return;
    long end = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : 0;
    long from = off > end ? 0 : off; /* shorter than it was: truncated since */
    if (end - from > 8192) from = end - 8192;
    if (fseek(fp, from, SEEK_SET) == 0) {
        char line[1024];
        while (fgets(line, sizeof line, fp)) {
            if (!mp_str_starts(line, "mlplane: ")) continue;
            line[strcspn(line, "\n")] = '\0';
            mp_strlcpy(out, line + strlen("mlplane: "), n);
        }
    }
    fclose(fp);
}

/* ---- the children ---------------------------------------------------------------------- */

/* Reads which Deployments are applied (when the store changed). */
static void scan(serve_fleet *f) {
    int64_t dv = f->st->m->data_version(f->st);
    if (dv == f->data_version && dv >= 0) return;
    store_object *objs = NULL;
    size_t n = 0;
    mp_err e = {0};
    if (f->st->o->object_list(f->st, &objs, &n, &e) != 0) {
        flog("cannot list the applied Deployments: %s", e.msg);
        return;
    }
    f->data_version = dv;
    for (size_t i = 0; i < f->nkids; i++) f->kids[i].want_applied = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(objs[i].kind, "Deployment") != 0) continue;
        child *c = find(f, objs[i].name);
        if (!c) {
            f->kids = mp_xrealloc(f->kids, (f->nkids + 1) * sizeof *f->kids);
            c = &f->kids[f->nkids++];
            memset(c, 0, sizeof *c);
            c->name = mp_xstrdup(objs[i].name);
            c->lsock = -1;
        }
        c->want_applied = objs[i].applied_ms;
    }
    store_object_array_free(objs, n);
}

static void close_socket(child *c) {
    if (c->lsock >= 0) close(c->lsock);
    c->lsock = -1;
    free(c->laddr);
    c->laddr = NULL;
}

/* The listening socket of c's processes for its spec's listen address: the one
 * it has when the address is the same (so a restart or a hand-over keeps the
 * port and the connections queued on it), else a new one. -1 when the spec
 * cannot be read or the address not bound: the process then reports why. */
static int socket_for(serve_fleet *f, child *c) {
    spec_file *sf = NULL;
    const spec_deployment *d = NULL;
    mp_err e = {0};
    if (serve_deploy_load(f->st, c->name, &sf, &d, &e) != 0) return -1;
    const char *addr = d->listen ? d->listen : "127.0.0.1:0";
    if (c->lsock < 0 || strcmp(c->laddr, addr) != 0) {
        close_socket(c); /* a process still serving on it keeps its own copy */
        char url[300];
        int fd = -1;
        if (mp_http_listen_tcp(addr, &fd, url, sizeof url, &e) != 0) {
            flog("deployment %s: %s", c->name, e.msg);
        } else {
            c->lsock = fd;
            c->laddr = mp_xstrdup(addr);
        }
    }
    spec_file_free(sf);
    return c->lsock;
}

static void start(serve_fleet *f, child *c, int64_t now) {
    char *dir = mp_xasprintf("%s/serving/%s", f->home, c->name);
    char *log = mp_xasprintf("%s/server.log", dir);
    mp_err e = {0};
    mp_strv argv = {0};
    mp_strv_push(&argv, "mlplane");
    mp_strv_push(&argv, "serve");
    mp_strv_push_owned(&argv, mp_xasprintf("deployment/%s", c->name));
    mp_strv_push_owned(&argv, mp_xasprintf("--home=%s", f->home));
    mp_strv_push_owned(&argv, mp_xasprintf("--drain=%d", f->drain_s));
    int fd = socket_for(f, c);
    if (fd >= 0) mp_strv_push(&argv, "--listen-fd=3");
    if (f->auth_review) mp_strv_push_owned(&argv, mp_xasprintf("--auth-review=%s", f->auth_review));
    c->log_off = file_size(log);
    pid_t pid = 0;
    int rc = mp_mkdir_p(dir, &e) != 0 ? EIO : serve__spawn(f->exe, &argv, f->envp, log, fd, &pid);
    mp_strv_free(&argv);
    c->applied_ms = c->want_applied;
    c->cur = (proc){.started_ms = now};
    c->ready = false;
    c->next_probe_ms = now + 100;
    if (rc != 0) {
        char why[1200];
        snprintf(why, sizeof why, "cannot start %s: %s", f->exe, e.msg[0] ? e.msg : strerror(rc));
        free(c->last_error);
        c->last_error = mp_xstrdup(why);
        event(f, c, "Failed", "%s", why);
        record(f, c, "CrashLoopBackOff", why);
        flog("deployment %s: %s", c->name, why);
        c->next_start_ms = now + serve__backoff_ms(c->failures++);
    } else {
        c->cur.pid = pid;
        c->started_wall = mp_now_ms();
        event(f, c, "Started", "mlplane serve deployment/%s (log %s)", c->name, log);
        record(f, c, "Starting", c->restarts > 0 ? c->last_error : NULL);
        flog("deployment %s: started (pid %d, log %s)", c->name, (int)pid, log);
    }
    free(dir);
    free(log);
}

static void terminate(const child *c, proc *p, int64_t now, const char *why) {
    if (p->pid <= 0 || p->asked) return;
    p->asked = true;
    p->why = why;
    p->term_ms = now;
    kill(p->pid, SIGTERM);
    flog("deployment %s: stopping (pid %d): %s", c->name, (int)p->pid, why);
}

/* Whether p has exited (reaped; p->pid is then 0); *how says how. SIGKILL for
 * one that outlived its drain. */
static bool exited(serve_fleet *f, proc *p, int64_t now, char *how, size_t n) {
    if (p->pid <= 0) return false;
    int status = 0;
    pid_t w = waitpid(p->pid, &status, WNOHANG);
    if (w == 0 || (w < 0 && errno == EINTR)) {
        if (p->asked && now - p->term_ms > (int64_t)(f->drain_s + 5) * 1000) kill(p->pid, SIGKILL);
        return false;
    }
    if (w > 0 && WIFSIGNALED(status)) snprintf(how, n, "killed by signal %d", WTERMSIG(status));
    else if (w > 0) snprintf(how, n, "exit status %d", WEXITSTATUS(status));
    else snprintf(how, n, "gone");
    p->pid = 0;
    return true;
}

/* Reaps exited children; one that exited unasked is restarted after a backoff. */
static void reap(serve_fleet *f, int64_t now) {
    char how[64];
    for (size_t i = 0; i < f->nkids; i++) {
        child *c = &f->kids[i];
        pid_t old_pid = c->old.pid;
        if (exited(f, &c->old, now, how, sizeof how)) {
            if (c->want_applied) event(f, c, "Stopped", "the previous spec's process (pid %d) stopped: %s", (int)old_pid, how);
            flog("deployment %s: the previous spec's process stopped (%s)", c->name, how);
        }
        if (!exited(f, &c->cur, now, how, sizeof how)) continue;
        if (c->cur.asked) {
            if (c->want_applied) { /* (a deleted one's records go with it) */
                event(f, c, "Stopped", "%s (%s)", c->cur.why ? c->cur.why : "asked to stop", how);
                record(f, c, "Stopped", c->cur.why);
            }
            flog("deployment %s: stopped (%s)", c->name, how);
            c->failures = 0;
            c->next_start_ms = now;
        } else {
            c->failures = serve__backoff_failures(c->failures, now - c->cur.started_ms);
            int64_t delay = serve__backoff_ms(c->failures++);
            c->next_start_ms = now + delay;
            char *log = mp_xasprintf("%s/serving/%s/server.log", f->home, c->name);
            char line[1024];
            last_error_line(log, c->log_off, line, sizeof line);
            free(c->last_error);
            c->last_error = line[0] ? mp_xasprintf("%s: %s", how, line) : mp_xstrdup(how);
            c->restarts++;
            event(f, c, "Exited", "%s", c->last_error);
            event(f, c, "BackOff", "back-off restarting the failed process");
            record(f, c, "CrashLoopBackOff", c->last_error);
            flog("deployment %s: exited unasked (%s); restarting in %lld ms (see %s)", c->name, how, (long long)delay, log);
            free(log);
        }
    }
}

/* Whether c's current process listens and is ready: router.json names it, and
 * its /v2/health/ready answers 200. */
static bool cur_ready(serve_fleet *f, const child *c, char *url_out, size_t n) {
    char *url = NULL;
    int pid = 0;
    bool ready = false;
    if (serve_deploy_running(f->home, c->name, &url, &pid) && pid == (int)c->cur.pid) {
        mp_err e = {0};
        json_t *v = serve__http_json(url, "GET", "/v2/health/ready", NULL, &e);
        ready = v != NULL;
        json_decref(v);
        mp_strlcpy(url_out, url, n);
    }
    free(url);
    return ready;
}

/* A new spec to run: its restarts and last error start over. */
static void new_spec(serve_fleet *f, child *c, const char *what) {
    c->restarts = 0;
    c->failures = 0;
    free(c->last_error);
    c->last_error = NULL;
    event(f, c, "Updated", "%s", what);
}

/* Brings the children in line with the applied Deployments. A Deployment
 * applied again is handed over: its new process starts beside the old one
 * (on the same listening socket while the address is the same), and the old
 * one is drained once the new one is ready; a new spec that never gets ready
 * leaves the old one serving. */
static void reconcile(serve_fleet *f, int64_t now) {
    for (size_t i = 0; i < f->nkids;) {
        child *c = &f->kids[i];
        if (c->want_applied == 0) { /* deleted */
            terminate(c, &c->cur, now, "its Deployment was deleted");
            terminate(c, &c->old, now, "its Deployment was deleted");
            if (c->cur.pid > 0 || c->old.pid > 0) {
                i++;
                continue;
            }
            mp_err e = {0};
            if (f->st->o->deploy_state_clear(f->st, c->name, &e) != 0)
                flog("deployment %s: cannot forget its state: %s", c->name, e.msg);
            close_socket(c);
            free(c->name);
            free(c->last_error);
            f->kids[i] = f->kids[--f->nkids];
            continue;
        }
        if (c->cur.pid > 0 && c->applied_ms != c->want_applied) {
            if (c->old.pid == 0 && !c->cur.asked) { /* hand over: cur becomes old, a new cur starts */
                flog("deployment %s: applied again; the new spec starts beside pid %d", c->name, (int)c->cur.pid);
                char what[160];
                snprintf(what, sizeof what, "applied again: the new spec starts beside pid %d", (int)c->cur.pid);
                c->old = c->cur;
                c->cur = (proc){0};
                new_spec(f, c, what);
                c->next_start_ms = now;
            } else { /* applied again during a hand-over: the unready new process is replaced */
                terminate(c, &c->cur, now, "its Deployment was applied again");
            }
        } else if (c->cur.pid == 0 && c->applied_ms && c->applied_ms != c->want_applied) {
            new_spec(f, c, "applied again: the new spec starts now"); /* no back-off for a new spec */
            c->applied_ms = c->want_applied;
            c->next_start_ms = now;
        }
        if (c->cur.pid == 0 && now >= c->next_start_ms) start(f, c, now);
        if (c->cur.pid > 0 && !c->cur.asked && !c->ready && now >= c->next_probe_ms) {
            c->next_probe_ms = now + 500;
            char url[300] = "";
            if (cur_ready(f, c, url, sizeof url)) {
                c->ready = true;
                event(f, c, "Ready", "pid %d answers on %s", (int)c->cur.pid, url);
                record(f, c, "Running", NULL);
            }
        }
        if (c->ready && c->old.pid > 0 && !c->old.asked && c->cur.pid > 0 && !c->cur.asked)
            terminate(c, &c->old, now, "the new spec's process is ready");
        i++;
    }
}

static void *fleet_main(void *arg) {
    serve_fleet *f = arg;
    while (!atomic_load(&f->stopping)) {
        int64_t now = mp_mono_ms();
        scan(f);
        reap(f, now);
        reconcile(f, now);
        struct pollfd p = {.fd = f->wake_fd, .events = POLLIN};
        if (poll(&p, 1, 500) > 0) {
            uint64_t v;
            ssize_t r = read(f->wake_fd, &v, sizeof v);
            (void)r;
        }
    }
    /* stop: SIGTERM to all, wait for them to drain, then SIGKILL */
    int64_t now = mp_mono_ms();
    for (size_t i = 0; i < f->nkids; i++) {
        child *c = &f->kids[i];
        if (c->cur.pid == 0 && c->want_applied) { /* waiting to restart: stopped now (one running is, when it exits) */
            event(f, c, "Stopped", "the server stops");
            record(f, c, "Stopped", "the server stops");
        }
        terminate(&f->kids[i], &f->kids[i].cur, now, "the server stops");
        terminate(&f->kids[i], &f->kids[i].old, now, "the server stops");
    }
    for (;;) {
        now = mp_mono_ms();
        reap(f, now);
        bool any = false;
        for (size_t i = 0; i < f->nkids; i++) any |= f->kids[i].cur.pid > 0 || f->kids[i].old.pid > 0;
        if (!any) break;
        mp_sleep_ms(50);
    }
    return NULL;
}

int serve_fleet_start(const serve_fleet_opts *o, serve_fleet **out, mp_err *e) {
    *out = NULL;
    serve_fleet *f = mp_xcalloc(1, sizeof *f);
    f->home = mp_xstrdup(o->home);
    f->exe = mp_xstrdup(o->exe ? o->exe : "/proc/self/exe");
    f->drain_s = o->drain_s > 0 ? o->drain_s : 10;
    f->envp = serve__worker_env();
    int rc = 0;
    if (o->auth_review) { /* the credential goes to the children in their environment, never on a command line */
        f->auth_review = mp_xstrdup(o->auth_review);
        rc = serve_admin_credential_make(f->home, &f->admin_cred, e);
        if (rc == 0) {
            size_t n = 0;
            while (f->envp[n]) n++;
            f->envp = mp_xrealloc(f->envp, (n + 2) * sizeof *f->envp);
            f->envp[n] = mp_xasprintf("%s=%s", SERVE_ADMIN_CREDENTIAL_ENV, f->admin_cred);
            f->envp[n + 1] = NULL;
        }
    } else { /* a credential left by a server that checked credentials is no longer any use */
        char *path = serve_admin_credential_path(f->home);
        unlink(path);
        free(path);
    }
    f->data_version = -1;
    f->pid = (int)getpid();
    f->pid_start = mp_proc_start_time(f->pid);
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before the thread: not thread-safe */
    atomic_init(&f->stopping, false);
    f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (rc == 0) rc = f->wake_fd < 0 ? mp_err_set(e, MP_EIO, "cannot make an eventfd: %s", strerror(errno)) : 0;
    if (rc == 0) rc = store_open_home(f->home, &f->st, e);
    if (rc == 0) {
        int prc = pthread_create(&f->thread, NULL, fleet_main, f);
        if (prc != 0) rc = mp_err_set(e, MP_EIO, "cannot start the deployments' thread: %s", strerror(prc));
        else f->started = true;
    }
    if (rc != 0) {
        serve_fleet_stop(f);
        return rc;
    }
    *out = f;
    return 0;
}

void serve_fleet_stop(serve_fleet *f) {
    if (!f) return;
    if (f->started) {
        atomic_store(&f->stopping, true);
        uint64_t one = 1;
        ssize_t w = write(f->wake_fd, &one, sizeof one);
        (void)w;
        pthread_join(f->thread, NULL);
    }
    for (size_t i = 0; i < f->nkids; i++) {
        close_socket(&f->kids[i]);
        free(f->kids[i].name);
        free(f->kids[i].last_error);
    }
    free(f->kids);
    if (f->st) f->st->m->close(f->st);
    if (f->wake_fd >= 0) close(f->wake_fd);
    for (char **p = f->envp; p && *p; p++) {
        sodium_memzero(*p, strlen(*p));
        free(*p);
    }
    free(f->envp);
    if (f->admin_cred) {
        serve_admin_credential_remove(f->home, f->admin_cred);
        sodium_memzero(f->admin_cred, strlen(f->admin_cred));
        free(f->admin_cred);
    }
    free(f->auth_review);
    free(f->home);
    free(f->exe);
    free(f);
    curl_global_cleanup();
}
