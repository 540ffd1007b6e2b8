/* fleet.c — the Deployments of a home, run under `mlplane server`'s
 * supervision: one process `mlplane serve deployment/NAME --home HOME` per
 * applied Deployment (its router and replicas below it), output appended to
 * HOME/serving/NAME/server.log.
 *
 * The fleet's thread looks at the store twice a second (a cheap data_version
 * check, the object list only when another connection committed) and
 *   - starts the deployments applied and not running;
 *   - restarts one whose Deployment was applied again (SIGTERM: it drains and
 *     stops its replicas; the new spec starts once it has exited);
 *   - stops one whose Deployment was deleted;
 *   - restarts one that exited unasked, after a backoff (100 ms doubling to
 *     10 s, reset after 30 s up), as the router does for replicas.
 * Each child gets MLPLANE_PARENT_PID: it asks for SIGTERM when the server dies.
 * Threads: serve_fleet_start/stop on the server's main thread; everything else
 * on the fleet's thread, which owns the children and its store handle. */
#include "serve/router_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

typedef struct child {
    char *name;
    int64_t applied_ms;    /* the spec it runs (the object's applied time) */
    int64_t want_applied;  /* the spec that should run; 0: deleted */
    pid_t pid;             /* 0: not running */
    bool asked;            /* SIGTERM sent: its exit is not a failure */
    int64_t started_ms, term_ms, next_start_ms;
    int failures;
} child;

struct serve_fleet {
    char *home, *exe;
    char **envp;
    int drain_s;
    int wake_fd;
    atomic_bool stopping;
    pthread_t thread;
    bool started;
    store *st;
    int64_t data_version;
    child *kids;
    size_t nkids;
};

static void flog(const char *fmt, ...) MP_PRINTF(1, 2);
static void flog(const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "mlplane server: %s\n", line);
}

static child *find(serve_fleet *f, const char *name) {
    for (size_t i = 0; i < f->nkids; i++)
        if (strcmp(f->kids[i].name, name) == 0) return &f->kids[i];
    return NULL;
}

/* Reads which Deployments are applied (when the store changed). */
static void scan(serve_fleet *f) {
    int64_t dv = f->st->m->data_version(f->st);
    if (dv == f->data_version && dv >= 0) return;
    store_object *objs = NULL;
    size_t n = 0;
    mp_err e = {0};
    if (f->st->m->object_list(f->st, &objs, &n, &e) != 0) {
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
        }
        c->want_applied = objs[i].applied_ms;
    }
    store_object_array_free(objs, n);
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
    pid_t pid = 0;
    int rc = mp_mkdir_p(dir, &e) != 0 ? EIO : serve__spawn(f->exe, &argv, f->envp, log, &pid);
    mp_strv_free(&argv);
    c->applied_ms = c->want_applied;
    c->asked = false;
    c->started_ms = now;
    if (rc != 0) {
        flog("deployment %s: cannot start %s: %s", c->name, f->exe, e.msg[0] ? e.msg : strerror(rc));
        c->pid = 0;
        c->next_start_ms = now + serve__backoff_ms(c->failures++);
    } else {
        c->pid = pid;
        flog("deployment %s: started (pid %d, log %s)", c->name, (int)pid, log);
    }
    free(dir);
    free(log);
}

static void terminate(child *c, int64_t now, const char *why) {
    if (c->pid <= 0 || c->asked) return;
    c->asked = true;
    c->term_ms = now;
    kill(c->pid, SIGTERM);
    flog("deployment %s: stopping (pid %d): %s", c->name, (int)c->pid, why);
}

/* Reaps exited children; one that exited unasked is restarted after a backoff. */
static void reap(serve_fleet *f, int64_t now) {
    for (size_t i = 0; i < f->nkids; i++) {
        child *c = &f->kids[i];
        if (c->pid <= 0) continue;
        int status = 0;
        pid_t w = waitpid(c->pid, &status, WNOHANG);
        if (w == 0 || (w < 0 && errno == EINTR)) {
            if (c->asked && now - c->term_ms > (int64_t)(f->drain_s + 5) * 1000) kill(c->pid, SIGKILL);
            continue;
        }
        char how[64];
        if (w > 0 && WIFSIGNALED(status)) snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
        else if (w > 0) snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
        else snprintf(how, sizeof how, "gone");
        c->pid = 0;
        if (c->asked) {
            flog("deployment %s: stopped (%s)", c->name, how);
            c->failures = 0;
            c->next_start_ms = now;
        } else {
            c->failures = serve__backoff_failures(c->failures, now - c->started_ms);
            int64_t delay = serve__backoff_ms(c->failures++);
            c->next_start_ms = now + delay;
            flog("deployment %s: exited unasked (%s); restarting in %lld ms (see %s/serving/%s/server.log)", c->name,
                 how, (long long)delay, f->home, c->name);
        }
    }
}

/* Brings the children in line with the applied Deployments. */
static void reconcile(serve_fleet *f, int64_t now) {
    for (size_t i = 0; i < f->nkids;) {
        child *c = &f->kids[i];
        if (c->want_applied == 0) { /* deleted */
            terminate(c, now, "its Deployment was deleted");
            if (c->pid > 0) {
                i++;
                continue;
            }
            free(c->name);
            f->kids[i] = f->kids[--f->nkids];
            continue;
        }
        if (c->pid > 0 && c->applied_ms != c->want_applied) terminate(c, now, "its Deployment was applied again");
        if (c->pid == 0 && now >= c->next_start_ms) start(f, c, now);
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
    for (size_t i = 0; i < f->nkids; i++) terminate(&f->kids[i], now, "the server stops");
    for (;;) {
        now = mp_mono_ms();
        reap(f, now);
        bool any = false;
        for (size_t i = 0; i < f->nkids; i++) any |= f->kids[i].pid > 0;
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
    f->data_version = -1;
    atomic_init(&f->stopping, false);
    f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int rc = f->wake_fd < 0 ? mp_err_set(e, MP_EIO, "cannot make an eventfd: %s", strerror(errno)) : 0;
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
    for (size_t i = 0; i < f->nkids; i++) free(f->kids[i].name);
    free(f->kids);
    if (f->st) f->st->m->close(f->st);
    if (f->wake_fd >= 0) close(f->wake_fd);
    for (char **p = f->envp; p && *p; p++) free(*p);
    free(f->envp);
    free(f->home);
    free(f->exe);
    free(f);
}
