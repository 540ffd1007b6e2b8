/* launch.c — `mlplane launch -- ARGV`, the step's side of a Kubernetes pod
 * (docs/kubernetes-render.md, "Artifacts on a cluster"): read the artifacts
 * description, fetch every local input by its tree hash and every upstream
 * output through its step's record into the work folder, run the command there
 * with the pod's environment and stdout/stderr, then, when it succeeded,
 * upload each declared output and metrics.json and record them under the
 * run's step, and exit with the command's status.
 *
 * In the artifact store (the server's MLflow artifact proxy and its blob store):
 *   mlplane/trees/HE/HEX.json                        a tree's manifest (launch_tree.c)
 *   mlplane/runs/RUN/steps/STEP/outputs/NAME.json    {"sha256": TREE, "kind", "size"}: an output
 *   mlplane/runs/RUN/steps/STEP/metrics.json         the step's metrics.json, as written
 *   mlplane/runs/RUN/steps/STEP/launch.json          {"exit_status", "outputs"}: written last
 * (STEP/trials/I for trial I of a sweep). An output's record is written after
 * its blobs and manifest, so a record never names what is not there.
 *
 * A failed command uploads nothing: its status is the launcher's, and the Job
 * retries it or fails (as locally, a failed attempt's outputs are not used).
 *
 * Threads: one. While the command runs the launcher only waits for it and
 * forwards signals (it may be the container's PID 1, which gets no default
 * action for SIGTERM); it reaps any orphan reparented to it on the way. */
#include "exec/launch_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef struct launch_env {
    const char *run, *step, *trial, *server;
    char *work, *outputs, *workdir;
    int retries;
} launch_env;

static const char *env_or(const char *k, const char *dflt) {
    const char *v = getenv(k);
    return v && *v ? v : dflt;
}

static int read_env(launch_env *le, char **desc_text, mp_err *e) {
    memset(le, 0, sizeof *le);
    *desc_text = NULL;
    const char *need[] = {"MLPLANE_RUN_ID", "MLPLANE_STEP", "MLPLANE_SERVER"};
    for (size_t i = 0; i < 3; i++)
        if (!getenv(need[i]) || !*getenv(need[i]))
            return mp_err_set(e, MP_EINVAL, "%s is not set: `mlplane launch` runs a step inside the pod `mlplane k8s "
                              "render` describes, whose env sets it (see docs/kubernetes-render.md)", need[i]);
    le->run = getenv("MLPLANE_RUN_ID");
    le->step = getenv("MLPLANE_STEP");
    le->trial = getenv("MLPLANE_TRIAL");
    le->server = getenv("MLPLANE_SERVER");
    le->work = mp_xstrdup(env_or("MLPLANE_WORK", LAUNCH_WORK));
    char *dflt = mp_xasprintf("%s/outputs", le->work);
    le->outputs = mp_xstrdup(env_or("MLPLANE_OUTPUTS", dflt));
    free(dflt);
    le->workdir = mp_xstrdup(env_or("MLPLANE_WORKDIR", le->outputs));
    const char *r = env_or("MLPLANE_LAUNCH_RETRIES", "8");
    char *end;
    long n = strtol(r, &end, 10);
    if (*end || n < 0 || n > 100)
        return mp_err_set(e, MP_EINVAL, "MLPLANE_LAUNCH_RETRIES \"%s\" is not a whole number from 0 to 100", r);
    le->retries = (int)n;
    const char *text = getenv("MLPLANE_ARTIFACTS"), *file = getenv("MLPLANE_ARTIFACTS_FILE");
    if (text && *text) {
        *desc_text = mp_xstrdup(text);
    } else if (file && *file) {
        size_t len;
        mp_err fe;
        if (mp_read_file(file, desc_text, &len, &fe) != 0)
            return mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS_FILE: %s", fe.msg);
    }
    return 0;
}

static void env_free(launch_env *le) {
    free(le->work);
    free(le->outputs);
    free(le->workdir);
}

/* The tree hash of path into hex, or false. */
static bool tree_hash(const char *path, char hex[65]) {
    mp_hash h;
    mp_hash_init(&h);
    mp_err ignored;
    if (mp_hash_path(&h, path, &ignored) != 0) return false;
    mp_hash_final_hex(&h, hex);
    return true;
}

/* Fetches tree hex to dest, unless dest holds it already (a launcher run again). */
static int fetch_tree(launch_client *c, const char *what, const char *hex, const char *dest, mp_err *e) {
    char have[65];
    struct stat sb;
    if (lstat(dest, &sb) == 0) {
        if (tree_hash(dest, have) && strcmp(have, hex) == 0) return 0;
        if (mp_rm_rf(dest, e) != 0) return MP_EIO;
    }
    int rc = exec__tree_fetch(c, hex, dest, e);
    if (rc != 0) {
        char msg[sizeof e->msg];
        snprintf(msg, sizeof msg, "%s", e->msg);
        return mp_err_set(e, rc, "%s: %s", what, msg);
    }
    fprintf(stderr, "mlplane launch: %s: fetched into %s (sha256 %.12s)\n", what, dest, hex);
    return 0;
}

/* The tree hash an upstream step recorded for its output, into hex. */
static int output_record(launch_client *c, const launch_env *le, const launch_fetch *f, char hex[65], mp_err *e) {
    char *rest = mp_xasprintf("outputs/%s.json", f->output);
    char *rel = exec__launch_step_path(le->run, f->step, NULL, rest);
    free(rest);
    if (!rel) return mp_err_set(e, MP_EINVAL, "MLPLANE_RUN_ID \"%s\" is not a run id", le->run);
    char *url = mp_xasprintf("/api/2.0/mlflow-artifacts/artifacts/%s", rel);
    char *body = NULL;
    size_t len = 0;
    long http = 0;
    int rc = exec__client_get(c, url, &body, &len, &http, e);
    json_t *j = rc == 0 && http == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    const char *h = json_string_value(json_object_get(j, "sha256"));
    if (rc == 0 && http == 404)
        rc = mp_err_set(e, MP_ENOENT, "steps.%s.outputs.%s: run %s has no such output recorded on the server (%s): has "
                        "step %s succeeded?", f->step, f->output, le->run, rel, f->step);
    else if (rc == 0 && (!h || strlen(h) != 64))
        rc = mp_err_set(e, MP_EIO, "steps.%s.outputs.%s: the record %s is not {\"sha256\": TREE} (the server answered %ld)",
                        f->step, f->output, rel, http);
    if (rc == 0) memcpy(hex, h, 65);
    json_decref(j);
    free(body);
    free(url);
    free(rel);
    return rc;
}

static int fetch_all(launch_client *c, const launch_env *le, const launch_desc *d, mp_err *e) {
    char *inputs = mp_xasprintf("%s/inputs", le->work);
    int rc = mp_mkdir_p(inputs, e);
    for (size_t i = 0; i < d->ninputs && rc == 0; i++) {
        if (!d->inputs[i].sha256) continue;
        char *dest = mp_xasprintf("%s/%s", inputs, d->inputs[i].name);
        char *what = mp_xasprintf("inputs.%s", d->inputs[i].name);
        rc = fetch_tree(c, what, d->inputs[i].sha256, dest, e);
        free(what);
        free(dest);
    }
    for (size_t i = 0; i < d->nfetch && rc == 0; i++) {
        char hex[65];
        rc = output_record(c, le, &d->fetch[i], hex, e);
        char *what = mp_xasprintf("steps.%s.outputs.%s", d->fetch[i].step, d->fetch[i].output);
        if (rc == 0) rc = fetch_tree(c, what, hex, d->fetch[i].path, e);
        free(what);
    }
    for (size_t i = 0; i < d->ninputs && rc == 0; i++) { /* an input from an upstream output: inputs/NAME links to it */
        if (!d->inputs[i].from) continue;
        char *dest = mp_xasprintf("%s/%s", inputs, d->inputs[i].name);
        unlink(dest);
        if (!mp_path_exists(d->inputs[i].from))
            rc = mp_err_set(e, MP_EINVAL, "inputs.%s: %s was not fetched (no fetch entry names it)", d->inputs[i].name,
                            d->inputs[i].from);
        else if (symlink(d->inputs[i].from, dest) != 0)
            rc = mp_err_set(e, MP_EIO, "cannot link %s: %s", dest, strerror(errno));
        free(dest);
    }
    free(inputs);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------- */

static volatile sig_atomic_t child_pgid;

static void forward(int sig) {
    if (child_pgid > 0) kill(-(pid_t)child_pgid, sig);
}

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static int run_command(char *const *argv, const char *cwd, int *status, mp_err *e) {
    if (mp_mkdir_p(cwd, e) != 0) return MP_EIO;
    struct sigaction sa = {0}, old[6];
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    sigset_t all, prev;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &prev); /* no forwarding before the child's group exists */
    for (size_t i = 0; i < 6; i++) sigaction(forwarded[i], &sa, &old[i]);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        for (size_t i = 0; i < 6; i++) signal(forwarded[i], SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, &prev, NULL);
        if (chdir(cwd) != 0) {
            fprintf(stderr, "mlplane launch: cannot enter %s: %s\n", cwd, strerror(errno));
            _exit(127);
        }
        execvp(argv[0], argv);
        int err = errno;
        fprintf(stderr, "mlplane launch: cannot run %s: %s%s\n", argv[0], strerror(err),
                err == ENOENT ? " (not found in PATH of the step's image)" : "");
        _exit(err == ENOENT ? 127 : 126);
    }
    int rc = 0;
    if (pid < 0) {
        rc = mp_err_set(e, MP_EIO, "cannot start %s: %s", argv[0], strerror(errno));
    } else {
        setpgid(pid, pid); /* also here: whichever runs first */
        child_pgid = pid;
    }
    sigprocmask(SIG_SETMASK, &prev, NULL);
    while (pid > 0) { /* reap orphans too (the launcher may be PID 1) until the command ends */
        int ws;
        pid_t got = waitpid(-1, &ws, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            rc = mp_err_set(e, MP_EIO, "cannot wait for %s: %s", argv[0], strerror(errno));
            break;
        }
        if (got == pid) {
            *status = exec__launch_exit_status(ws);
            break;
        }
    }
    child_pgid = 0;
    for (size_t i = 0; i < 6; i++) sigaction(forwarded[i], &old[i], NULL);
    return rc;
}

/* ---- outputs --------------------------------------------------------------------------- */

static int put_record(launch_client *c, const launch_env *le, const char *rest, json_t *o, mp_err *e) {
    char *rel = exec__launch_step_path(le->run, le->step, le->trial, rest);
    if (!rel) {
        json_decref(o);
        return mp_err_set(e, MP_EINVAL, "MLPLANE_RUN_ID \"%s\", MLPLANE_STEP \"%s\" or MLPLANE_TRIAL is not a plain name",
                          le->run, le->step);
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *url = mp_xasprintf("/api/2.0/mlflow-artifacts/artifacts/%s", rel);
    int rc = exec__client_put(c, url, text, strlen(text), "application/json", e);
    free(url);
    free(text);
    free(rel);
    json_decref(o);
    return rc;
}

static int upload_metrics(launch_client *c, const launch_env *le, const launch_desc *d, mp_err *e) {
    if (!d->metrics) return 0;
    char *p = mp_xasprintf("%s/%s", le->outputs, d->metrics);
    struct stat sb;
    int rc = 0;
    if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
        char *data = NULL;
        size_t len = 0;
        if (sb.st_size > (off_t)LAUNCH_CHUNK)
            rc = mp_err_set(e, MP_EINVAL, "%s is %lld bytes: metrics are a small JSON object (at most %zu bytes)", p,
                            (long long)sb.st_size, LAUNCH_CHUNK);
        if (rc == 0) rc = mp_read_file(p, &data, &len, e);
        char *rel = rc == 0 ? exec__launch_step_path(le->run, le->step, le->trial, "metrics.json") : NULL;
        char *url = rel ? mp_xasprintf("/api/2.0/mlflow-artifacts/artifacts/%s", rel) : NULL;
        if (rc == 0 && url) rc = exec__client_put(c, url, data, len, "application/json", e);
        free(url);
        free(rel);
        free(data);
    }
    free(p);
    return rc;
}

static int upload_all(launch_client *c, const launch_env *le, const launch_desc *d, json_t *outs, mp_err *e) {
    for (size_t i = 0; i < d->noutputs; i++) {
        char *p = mp_xasprintf("%s/%s", le->outputs, d->outputs[i].path);
        struct stat sb;
        int rc = 0;
        if (stat(p, &sb) != 0)
            rc = mp_err_set(e, MP_ENOENT, "outputs.%s: the command succeeded but did not write %s (declared as path \"%s\" "
                            "in its outputs folder)", d->outputs[i].name, p, d->outputs[i].path);
        char tree[65];
        if (rc == 0) rc = exec__tree_upload(c, p, tree, e);
        if (rc == 0) {
            char *rest = mp_xasprintf("outputs/%s.json", d->outputs[i].name);
            rc = put_record(c, le, rest,
                            json_pack("{s:s,s:s,s:I}", "sha256", tree, "kind", S_ISDIR(sb.st_mode) ? "dir" : "file",
                                      "size", (json_int_t)(S_ISDIR(sb.st_mode) ? 0 : sb.st_size)),
                            e);
            free(rest);
        }
        if (rc == 0) {
            json_object_set_new(outs, d->outputs[i].name, json_string(tree));
            fprintf(stderr, "mlplane launch: outputs.%s: uploaded (sha256 %.12s)\n", d->outputs[i].name, tree);
        }
        free(p);
        if (rc != 0) return rc;
    }
    return upload_metrics(c, le, d, e);
}

int exec_launch(char *const *argv, int *status, mp_err *e) {
    *status = 1;
    if (!argv || !argv[0]) return mp_err_set(e, MP_EINVAL, "no command: mlplane launch [--] COMMAND [ARG...]");
    launch_env le;
    char *text = NULL;
    launch_desc d = {0};
    launch_client *c = NULL;
    int rc = read_env(&le, &text, e);
    if (rc == 0) rc = exec__launch_desc_parse(text, le.work, &d, e);
    if (rc == 0) rc = exec__client_open(le.server, le.retries, &c, e);
    /* emptied, as locally before an attempt; only inside the work folder (a
     * launcher run by hand with another MLPLANE_OUTPUTS keeps what is there) */
    size_t wl = rc == 0 ? strlen(le.work) : 0;
    bool inside = rc == 0 && strncmp(le.outputs, le.work, wl) == 0 && le.outputs[wl] == '/';
    if (rc == 0 && inside && mp_path_exists(le.outputs)) rc = mp_rm_rf(le.outputs, e);
    if (rc == 0) rc = mp_mkdir_p(le.outputs, e);
    if (rc == 0) rc = fetch_all(c, &le, &d, e);
    if (rc == 0) rc = run_command(argv, le.workdir, status, e);
    if (rc == 0 && *status != 0)
        fprintf(stderr, "mlplane launch: %s ended with status %d: its outputs are not uploaded\n", argv[0], *status);
    if (rc == 0 && *status == 0) {
        json_t *outs = json_object();
        rc = upload_all(c, &le, &d, outs, e);
        if (rc == 0) rc = put_record(c, &le, "launch.json", json_pack("{s:i,s:O}", "exit_status", 0, "outputs", outs), e);
        json_decref(outs);
    }
    exec__client_close(c);
    exec__launch_desc_free(&d);
    free(text);
    env_free(&le);
    return rc;
}
