/* spawn.c — how mlplane server starts a run: this very binary spawned as
 * `mlplane --home HOME run --detach [--param=k=v]... -- FILE`, which records the run,
 * hands it to a background engine process and prints its id (POST /api/v1/runs, and a
 * Monitor's retraining). The server itself never drives runs.
 * Thread: the caller's; the child is waited for before returning. */
#include "api/api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum { SPAWN_TIMEOUT_MS = 60000 };

/* Reads the child's stdout and stderr to their end (each capped at 64 KiB) or the deadline. */
static bool read_both(int out_fd, int err_fd, mp_buf *out, mp_buf *err) {
    struct pollfd p[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    mp_buf *dst[2] = {out, err};
    int64_t until = mp_mono_ms() + SPAWN_TIMEOUT_MS;
    int open_fds = 2;
    while (open_fds > 0) {
        int64_t left = until - mp_mono_ms();
        if (left <= 0) return false;
        int r = poll(p, 2, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return false;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n > 0 && dst[i]->len < 65536) mp_buf_append(dst[i], buf, (size_t)n);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
    return true;
}

/* Spawns `mlplane --home HOME run --detach [--parallel=N] [--param=k=v]... -- FILE`
 * with a clean signal state and without MLPLANE_SERVER (which would loop back
 * here); MLFLOW_TRACKING_URI is this server, so steps log to it (with token as
 * MLFLOW_TRACKING_TOKEN when the server checks credentials). *status: its
 * exit status, -1 when unknown. */
int api__spawn_run(const char *home, const char *base_url, const char *file, const mp_strv *params, int parallel,
                   const char *token, mp_buf *out, mp_buf *err, int *status, mp_err *e) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return mp_err_set(e, MP_EIO, "cannot find the mlplane binary: %s", strerror(errno));
    exe[n] = '\0';
    mp_strv argv = {0}, envv = {0};
    mp_strv_push(&argv, exe);
    mp_strv_push(&argv, "--home");
    mp_strv_push(&argv, home);
    mp_strv_push(&argv, "run");
    mp_strv_push(&argv, "--detach");
    if (parallel > 0) mp_strv_push_owned(&argv, mp_xasprintf("--parallel=%d", parallel));
    for (size_t i = 0; i < params->n; i++) mp_strv_push_owned(&argv, mp_xasprintf("--param=%s", params->v[i]));
    mp_strv_push(&argv, "--");
    mp_strv_push(&argv, file);
    for (char **ep = environ; ep && *ep; ep++)
        if (!mp_str_starts(*ep, "MLPLANE_SERVER=") && !mp_str_starts(*ep, "MLFLOW_TRACKING_URI=") &&
            !mp_str_starts(*ep, "MLFLOW_TRACKING_TOKEN=") && !mp_str_starts(*ep, "MLPLANE_TOKEN="))
            mp_strv_push(&envv, *ep);
    if (base_url && *base_url) mp_strv_push_owned(&envv, mp_xasprintf("MLFLOW_TRACKING_URI=%s", base_url));
    if (token && *token) mp_strv_push_owned(&envv, mp_xasprintf("MLFLOW_TRACKING_TOKEN=%s", token));

    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    int rc = 0;
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0)
        rc = mp_err_set(e, MP_EIO, "cannot create pipes: %s", strerror(errno));
    pid_t pid = -1;
    if (rc == 0) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, po[1], 1);
        posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
        posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        posix_spawnattr_init(&at);
        sigset_t none, dfl;
        sigemptyset(&none);
        sigemptyset(&dfl);
        int sigs[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&dfl, sigs[i]);
        posix_spawnattr_setsigmask(&at, &none); /* the server's workers block SIGTERM/SIGINT */
        posix_spawnattr_setsigdefault(&at, &dfl);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        int sr = posix_spawn(&pid, exe, &fa, &at, mp_strv_terminated(&argv), mp_strv_terminated(&envv));
        if (sr != 0) rc = mp_err_set(e, MP_EIO, "cannot start %s: %s", exe, strerror(sr));
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
    }
    if (po[1] >= 0) close(po[1]);
    if (pe[1] >= 0) close(pe[1]);
    *status = -1;
    if (rc == 0) {
        bool finished = read_both(po[0], pe[0], out, err);
        if (!finished) kill(pid, SIGKILL);
        int ws;
        pid_t w;
        while ((w = waitpid(pid, &ws, 0)) < 0 && errno == EINTR) {
        }
        /* ECHILD: another thread's executor reaped it (stop_orphans reaps any child); its output decides. */
        if (w == pid) *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
        if (!finished) rc = mp_err_set(e, MP_EIO, "mlplane run did not answer within %d s", SPAWN_TIMEOUT_MS / 1000);
    }
    if (po[0] >= 0) close(po[0]);
    if (pe[0] >= 0) close(pe[0]);
    mp_strv_free(&argv);
    mp_strv_free(&envv);
    return rc;
}

/* The run id on the first line of out, or NULL when it does not look like one. */
char *api__first_line_id(const mp_buf *out) {
    size_t l = strcspn(out->data, "\n");
    if (l == 0 || l > 200) return NULL;
    for (size_t i = 0; i < l; i++) {
        char c = out->data[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return NULL;
    }
    return mp_xstrndup(out->data, l);
}

