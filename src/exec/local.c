/* local.c — the local-process executor: each task is a child process, in its own
 * process group, started with posix_spawn (cheap: no copy of our address space),
 * its output appended to a log file (through a relay thread that masks the
 * step's secret values when it has some, redact.c), reaped through a signalfd for SIGCHLD: on
 * each wake-up, waitpid(pid, WNOHANG) for each of its own live tasks, so children
 * this executor did not start are never reaped here.
 *
 * Orphans: a run's children carry MLPLANE_RUN_ID in their environment, so when
 * the mlplane process that owned a run died (kill -9), stop_orphans finds every
 * process of that run by reading /proc/PID/environ, whatever process group it
 * moved to, and stops it.
 * Thread: the thread that calls exec_local_open owns the executor (SIGCHLD is
 * blocked there and read from the signalfd), with its list of tasks.
 * System calls go through the table sys (exec_local_set_syscall), so that a
 * unit test can make one fail. */
#include "exec/exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct local_task {
    exec_handle base;
    struct local_task *next;
    bool reaped; /* its EXEC_EXITED was delivered */
    bool relay;  /* output goes through a relay thread masking secrets (redact.c) */
    pthread_t relay_th;
} local_task;

typedef struct local_exec {
    executor base;
    int sfd; /* signalfd for SIGCHLD */
    sigset_t old_mask;
    local_task *tasks; /* started and not released */
} local_exec;

/* ---- the system calls, replaceable by a test ---------------------------------------- */

typedef int (*open_fn)(const char *, int, ...);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);
typedef pid_t (*waitpid_fn)(pid_t, int *, int);
typedef int (*kill_fn)(pid_t, int);
typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
typedef ssize_t (*read_fn)(int, void *, size_t);

static struct {
    open_fn open;
    spawn_fn posix_spawn;
    waitpid_fn waitpid;
    kill_fn kill;
    poll_fn poll;
    read_fn read;
} sys = {open, posix_spawn, waitpid, kill, poll, read};

int exec_local_set_syscall(const char *name, void (*fn)(void)) {
    if (strcmp(name, "open") == 0) sys.open = fn ? (open_fn)fn : open;
    else if (strcmp(name, "posix_spawn") == 0) sys.posix_spawn = fn ? (spawn_fn)fn : posix_spawn;
    else if (strcmp(name, "waitpid") == 0) sys.waitpid = fn ? (waitpid_fn)fn : waitpid;
    else if (strcmp(name, "kill") == 0) sys.kill = fn ? (kill_fn)fn : kill;
    else if (strcmp(name, "poll") == 0) sys.poll = fn ? (poll_fn)fn : poll;
    else if (strcmp(name, "read") == 0) sys.read = fn ? (read_fn)fn : read;
    else return MP_ENOENT;
    return 0;
}

char *exec_find_program(const char *cmd, const char *path_list, const char *cwd) {
    if (!cmd || !cmd[0]) return NULL;
    if (strchr(cmd, '/')) {
        char *p = cmd[0] == '/' ? mp_xstrdup(cmd) : mp_path_abs(cwd, cmd);
        if (access(p, X_OK) == 0) return p;
        free(p);
        return NULL;
    }
    if (!path_list) path_list = "/usr/local/bin:/usr/bin:/bin";
    const char *s = path_list;
    while (*s) {
        const char *colon = strchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        char *cand = n ? mp_xasprintf("%.*s/%s", (int)n, s, cmd) : mp_xasprintf("./%s", cmd);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) return cand;
        free(cand);
        if (!colon) break;
        s = colon + 1;
    }
    return NULL;
}

static const char *env_get(char *const *envp, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=') return envp[i] + n + 1;
    return NULL;
}

static void log_line(const char *log_path, const char *msg) {
    int fd = sys.open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ssize_t w = write(fd, msg, strlen(msg));
    (void)w;
    close(fd);
}

static int local_start(executor *x, const exec_task *t, void *user, exec_handle **out, mp_err *e) {
    local_exec *lx = (local_exec *)x;
    *out = NULL;
    const char *cwd = t->cwd;
    char *prog = exec_find_program(t->argv[0], env_get(t->envp, "PATH"), cwd);
    if (!prog) {
        char msg[600];
        snprintf(msg, sizeof msg, "mlplane: command not found: %s (searched PATH of the step)\n", t->argv[0]);
        log_line(t->log_path, msg);
        return mp_err_set(e, MP_ENOENT, "command not found: %s", t->argv[0]);
    }
    int logfd = sys.open(t->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        int err = errno;
        free(prog);
        return mp_err_set(e, MP_EIO, "cannot open log %s: %s", t->log_path, strerror(err));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    /* with secrets: output through a pipe to a relay thread that masks them */
    int pfd[2] = {-1, -1};
    if (t->nredact && pipe2(pfd, O_CLOEXEC) != 0) {
        int err = errno;
        close(logfd);
        free(prog);
        return mp_err_set(e, MP_EIO, "cannot make the pipe that masks secrets in the log: %s", strerror(err));
    }
    int outfd = pfd[1] >= 0 ? pfd[1] : logfd;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, outfd, 1);
    posix_spawn_file_actions_adddup2(&fa, outfd, 2);
    if (cwd) posix_spawn_file_actions_addchdir_np(&fa, cwd);
    sigset_t none, defs;
    sigemptyset(&none);
    sigemptyset(&defs);
    sigaddset(&defs, SIGINT);
    sigaddset(&defs, SIGTERM);
    sigaddset(&defs, SIGPIPE);
    sigaddset(&defs, SIGCHLD);
    sigaddset(&defs, SIGHUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &defs);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = sys.posix_spawn(&pid, prog, &fa, &at, t->argv, t->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    pthread_t th;
    bool relay = false;
    if (pfd[1] >= 0) {
        close(pfd[1]);
        if (rc == 0) {
            exec_redactor *r = exec_redactor_new(t->redact, t->redact_len, t->nredact);
            mp_err re = {0};
            if (exec_redact_relay_start(pfd[0], logfd, r, &th, &re) == 0) {
                relay = true; /* the thread owns pfd[0], logfd and r now */
            } else {
                exec_redactor_free(r);
                sys.kill(-pid, SIGKILL); /* unmasked output must not reach the log */
                rc = EIO;
            }
        }
        if (!relay) close(pfd[0]);
    }
    if (!relay) close(logfd);
    if (rc != 0) {
        char msg[800];
        snprintf(msg, sizeof msg, "mlplane: cannot run %s%s%s: %s\n", prog, cwd ? " in " : "", cwd ? cwd : "",
                 strerror(rc));
        log_line(t->log_path, msg);
        mp_err_set(e, rc == ENOENT ? MP_ENOENT : MP_EIO, "cannot run %s%s%s: %s", prog, cwd ? " in " : "",
                   cwd ? cwd : "", strerror(rc));
        free(prog);
        return e ? e->code : MP_EIO;
    }
    free(prog);
    local_task *lt = mp_xcalloc(1, sizeof *lt);
    lt->base.user = user;
    lt->base.pid = pid;
    lt->relay = relay;
    if (relay) lt->relay_th = th;
    snprintf(lt->base.ref, sizeof lt->base.ref, "pid %d", (int)pid);
    lt->next = lx->tasks;
    lx->tasks = lt;
    *out = &lt->base;
    return 0;
}

static int local_signal(executor *x, exec_handle *h, int sig, mp_err *e) {
    (void)x;
    local_task *lt = (local_task *)h;
    if (!lt || lt->reaped || h->pid <= 0) return 0;
    if (sys.kill(-h->pid, sig) != 0 && errno != ESRCH) {
        if (sys.kill(h->pid, sig) != 0 && errno != ESRCH)
            return mp_err_set(e, MP_EIO, "cannot signal %s: %s", h->ref, strerror(errno));
    }
    return 0;
}

static void local_release(executor *x, exec_handle *h) {
    local_exec *lx = (local_exec *)x;
    for (local_task **pp = &lx->tasks; *pp; pp = &(*pp)->next)
        if (&(*pp)->base == h) {
            local_task *lt = *pp;
            *pp = lt->next;
            if (lt->relay) pthread_detach(lt->relay_th); /* released unreaped: the thread ends with the pipe */
            free(lt);
            return;
        }
}

/* Reaps the tasks of lx that have ended, into out[0..max). */
static size_t reap(local_exec *lx, exec_event *out, size_t max) {
    size_t n = 0;
    for (local_task *lt = lx->tasks; lt && n < max; lt = lt->next) {
        if (lt->reaped) continue;
        int status;
        pid_t pid = sys.waitpid(lt->base.pid, &status, WNOHANG);
        if (pid == 0 || (pid < 0 && errno == EINTR)) continue;
        lt->reaped = true;
        if (lt->relay) { /* the log complete before the exit is told; a child left holding the pipe is not waited for */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 2;
            if (pthread_timedjoin_np(lt->relay_th, NULL, &ts) != 0) pthread_detach(lt->relay_th);
            lt->relay = false;
        }
        exec_event *ev = &out[n++];
        memset(ev, 0, sizeof *ev);
        ev->kind = EXEC_EXITED;
        ev->h = &lt->base;
        if (pid < 0) { /* not our child any more (ECHILD): reaped elsewhere, status unknown */
            ev->exit_code = 128 + SIGKILL;
            ev->signal = SIGKILL;
        } else if (WIFSIGNALED(status)) {
            ev->signal = WTERMSIG(status);
            ev->exit_code = 128 + ev->signal;
        } else {
            ev->exit_code = WEXITSTATUS(status);
        }
    }
    return n;
}

static int local_wait(executor *x, int timeout_ms, exec_event *out, size_t max, mp_err *e) {
    local_exec *lx = (local_exec *)x;
    /* Reap whatever has ended; else sleep until SIGCHLD and reap again. */
    size_t n = reap(lx, out, max);
    if (n > 0 || timeout_ms <= 0) return (int)n;
    struct pollfd pfd = {.fd = lx->sfd, .events = POLLIN};
    int pr = sys.poll(&pfd, 1, timeout_ms);
    if (pr < 0) {
        if (errno == EINTR) return 0;
        return mp_err_set(e, MP_EIO, "waiting for steps: %s", strerror(errno));
    }
    if (pr == 0) return 0;
    struct signalfd_siginfo si[16];
    ssize_t r = sys.read(lx->sfd, si, sizeof si); /* drain; reap() does the work */
    (void)r;
    return (int)reap(lx, out, max);
}

/* Whether /proc/PID/environ holds "MLPLANE_RUN_ID=<run_id>". */
static bool proc_belongs(int pid, const char *needle, size_t nlen) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return false;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n;) {
        const char *s = buf + i;
        size_t l = strnlen(s, (size_t)(n - i));
        if (l == nlen && memcmp(s, needle, nlen) == 0) return true;
        i += (ssize_t)l + 1;
    }
    return false;
}

static size_t find_run_procs(const char *run_id, int *pids, size_t max) {
    char needle[256];
    int nl = snprintf(needle, sizeof needle, "MLPLANE_RUN_ID=%s", run_id);
    DIR *d = opendir("/proc");
    if (!d) return 0;
    size_t n = 0;
    struct dirent *de;
    int self = (int)getpid();
    while ((de = readdir(d)) != NULL && n < max) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 1 || pid == self) continue;
        if (mp_proc_start_time((int)pid) < 0) continue; /* gone or zombie */
        if (proc_belongs((int)pid, needle, (size_t)nl)) pids[n++] = (int)pid;
    }
    closedir(d);
    return n;
}

static int local_stop_orphans(executor *x, const char *run_id, int grace_ms, mp_err *e) {
    (void)x;
    (void)e;
    int pids[1024];
    size_t n = find_run_procs(run_id, pids, 1024);
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) sys.kill(pids[i], SIGTERM);
    int64_t deadline = mp_mono_ms() + grace_ms;
    int left[1024];
    size_t nleft = n;
    while (mp_mono_ms() < deadline) {
        nleft = find_run_procs(run_id, left, 1024);
        if (nleft == 0) break;
        mp_sleep_ms(50);
    }
    if (nleft > 0) {
        nleft = find_run_procs(run_id, left, 1024);
        for (size_t i = 0; i < nleft; i++) sys.kill(left[i], SIGKILL);
        for (int tries = 0; tries < 100 && find_run_procs(run_id, left, 1024) > 0; tries++) mp_sleep_ms(20);
    }
    /* Reap those that were our own children, and only those: in a server another
     * thread may be waiting for a child of its own. */
    for (size_t i = 0; i < n; i++) waitpid(pids[i], NULL, WNOHANG);
    return (int)n;
}

static void local_close(executor *x) {
    local_exec *lx = (local_exec *)x;
    if (!lx) return;
    while (lx->tasks) {
        local_task *lt = lx->tasks;
        lx->tasks = lt->next;
        if (lt->relay) pthread_detach(lt->relay_th);
        free(lt);
    }
    close(lx->sfd);
    sigprocmask(SIG_SETMASK, &lx->old_mask, NULL);
    free(lx);
}

static const exec_methods local_methods = {
    .name = "local",
    .start = local_start,
    .signal = local_signal,
    .wait = local_wait,
    .release = local_release,
    .stop_orphans = local_stop_orphans,
    .close = local_close,
};

int exec_local_open(executor **out, mp_err *e) {
    local_exec *lx = mp_xcalloc(1, sizeof *lx);
    lx->base.m = &local_methods;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, &lx->old_mask) != 0) {
        free(lx);
        return mp_err_set(e, MP_EIO, "cannot block SIGCHLD: %s", strerror(errno));
    }
    lx->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (lx->sfd < 0) {
        int err = errno;
        sigprocmask(SIG_SETMASK, &lx->old_mask, NULL);
        free(lx);
        return mp_err_set(e, MP_EIO, "cannot create signalfd: %s", strerror(err));
    }
    *out = &lx->base;
    return 0;
}
