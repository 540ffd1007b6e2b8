/* cmd_run.c — mlplane run, resume and cancel, and what the user watches meanwhile:
 * on a terminal a live view (one line per step: state, elapsed time, attempts,
 * redrawn in place); otherwise one plain line per event, for logs and CI.
 * SIGINT/SIGTERM during a run cancel it gracefully (steps get SIGTERM, then
 * SIGKILL after the grace period). Single-threaded. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int g_interrupted;

static void on_signal(int sig) {
    (void)sig;
    g_interrupted = 1;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: interrupt the wait */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static char *self_exe(void) {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return NULL;
    buf[n] = '\0';
    return mp_xstrdup(buf);
}

/* ---- what the user sees ------------------------------------------------------- */

typedef struct view_state {
    bool tty;
    bool color; /* colours in the live view (a terminal, no --no-color, no NO_COLOR) */
    int lines_drawn;
    int64_t started;
    int64_t last_draw;
} view_state;

/* The mark of a step's state, coloured when color. */
static const char *state_mark(int st, bool color) {
    switch (st) {
    case STEP_SUCCEEDED: return color ? "\033[32m✓\033[0m" : "✓";
    case STEP_RUNNING: return color ? "\033[36m●\033[0m" : "●";
    case STEP_FAILED: return color ? "\033[31m✗\033[0m" : "✗";
    case STEP_RETRYING: return color ? "\033[33m↻\033[0m" : "↻";
    case STEP_SKIPPED: return color ? "\033[90m↷\033[0m" : "↷";
    case STEP_CACHED: return color ? "\033[32m↺\033[0m" : "↺";
    case STEP_CANCELLED: return color ? "\033[31m■\033[0m" : "■";
    case STEP_STOPPED: return color ? "\033[33m⊘\033[0m" : "⊘";
    default: return color ? "\033[90m○\033[0m" : "○";
    }
}

static void draw(view_state *vs, const engine_view *v, bool force) {
    int64_t now = mp_mono_ms();
    if (!force && now - vs->last_draw < 100) return;
    vs->last_draw = now;
    if (vs->lines_drawn) printf("\033[%dA", vs->lines_drawn);
    char el[32];
    mp_format_duration(now - vs->started, el, sizeof el);
    printf("\033[2K%srun %s%s  %s  %s\n", vs->color ? "\033[1m" : "", v->run_id, vs->color ? "\033[0m" : "",
           store_run_state_name(v->run_state), el);
    int64_t wall = mp_now_ms();
    for (size_t i = 0; i < v->nsteps; i++) {
        const engine_step_view *s = &v->steps[i];
        char d[32] = "";
        if (s->started_ms && !s->cached) mp_format_duration((s->ended_ms ? s->ended_ms : wall) - s->started_ms, d, sizeof d);
        char att[32] = "";
        if (s->attempts > 1 || s->state == STEP_RETRYING) snprintf(att, sizeof att, "attempt %d", s->attempts);
        const char *extra = (s->state == STEP_FAILED || s->state == STEP_RETRYING || s->state == STEP_SKIPPED ||
                             s->state == STEP_STOPPED || s->state == STEP_CACHED) &&
                                    s->message
                                ? s->message
                                : "";
        printf("\033[2K  %s %-24s %-10s %8s  %-10s %s\n", state_mark(s->state, vs->color), s->name, store_step_state_name(s->state), d,
               att, extra);
    }
    vs->lines_drawn = (int)v->nsteps + 1;
    fflush(stdout);
}

static void on_event(void *ud, const engine_view *v, const char *step, const char *type, const char *msg) {
    view_state *vs = ud;
    if (vs->tty) {
        draw(vs, v, true);
        return;
    }
    char t[40];
    mp_format_time(mp_now_ms(), t, sizeof t);
    /* "StepRunning" -> "Running" */
    const char *state = mp_str_starts(type, "Step") ? type + 4 : mp_str_starts(type, "Run") ? type + 3 : type;
    printf("%s %s %s%s%s\n", t, step ? step : "run", state, msg ? ": " : "", msg ? msg : "");
    fflush(stdout);
}

static void on_tick(void *ud, const engine_view *v) {
    view_state *vs = ud;
    if (vs->tty) draw(vs, v, false);
}

/* Prints the closing lines of a run and returns the exit status (0 only on success). */
static int finish(store *st, const char *run_id, int final_state) {
    store_run r = {0};
    mp_err e;
    if (st->m->run_get(st, run_id, &r, &e) != 0)
        return cli_fail(CLI_FAILED, "run %s ended %s, but it cannot be read back: %s", run_id,
                        store_run_state_name(final_state), e.msg);
    char dur[32];
    mp_format_duration((r.ended_ms ? r.ended_ms : mp_now_ms()) - r.started_ms, dur, sizeof dur);
    if (final_state == RUN_SUCCEEDED) {
        printf("run %s Succeeded in %s\n", run_id, dur);
    } else {
        fprintf(stderr, "mlplane: run %s %s after %s: %s\n", run_id, store_run_state_name(final_state), dur,
                r.message ? r.message : "");
        store_step *steps = NULL;
        size_t n = 0;
        if (st->m->step_list(st, run_id, &steps, &n, &e) != 0)
            fprintf(stderr, "mlplane: cannot read the steps of run %s: %s\n", run_id, e.msg);
        for (size_t i = 0; i < n; i++)
            if (steps[i].state == STEP_FAILED)
                fprintf(stderr, "mlplane: see its log: mlplane logs %s %s\n", run_id, steps[i].name);
        store_step_array_free(steps, n);
    }
    store_run_free(&r);
    return final_state == RUN_SUCCEEDED ? CLI_OK : CLI_FAILED;
}

/* Executes an existing run in this process, with the view. */
static int drive(store *st, const char *home, const spec_pipeline *p, const char *run_id, bool quiet) {
    mp_err e;
    executor *x = NULL;
    if (exec_local_open(&x, &e)) return cli_fail_err(&e);
    install_signals();
    view_state vs = {.tty = !quiet && isatty(STDOUT_FILENO), .started = mp_mono_ms()};
    vs.color = vs.tty && cli_color();
    engine_observer obs = {.on_event = on_event, .on_tick = on_tick, .ud = &vs};
    char *exe = self_exe();
    engine_opts o = {.home = home, .self_exe = exe, .obs = quiet ? NULL : &obs, .interrupted = &g_interrupted};
    int final_state = RUN_FAILED;
    int rc = engine_execute(st, x, p, run_id, &o, &final_state, &e);
    x->m->close(x);
    free(exe);
    if (rc) return cli_fail(CLI_FAILED, "run %s stopped: %s (finish it with `mlplane resume %s`)", run_id, e.msg, run_id);
    return quiet ? (final_state == RUN_SUCCEEDED ? CLI_OK : CLI_FAILED) : finish(st, run_id, final_state);
}

/* Parses a run's stored spec. */
static int load_run_spec(const store_run *r, spec_file **f) {
    spec_diags d = {0};
    char *dir = mp_path_dir(r->spec_path ? r->spec_path : "./x");
    int rc = spec_load_string(r->spec_path ? r->spec_path : r->id, dir, r->spec_yaml ? r->spec_yaml : "",
                              r->spec_yaml ? strlen(r->spec_yaml) : 0, f, &d);
    free(dir);
    if (rc) {
        mp_buf b;
        mp_buf_init(&b);
        spec_diags_format(&d, &b);
        cli_fail(CLI_FAILED, "the stored spec of run %s no longer parses:\n%s", r->id, b.data);
        mp_buf_free(&b);
    }
    spec_diags_free(&d);
    return rc;
}

/* What cmd_run submits: the parsed spec and the options, for submit(). */
typedef struct submission {
    cli_env *env;
    const char *home_flag;
    engine_submit_req req;
    spec_diags *diags;
} submission;

/* Opens the store, records the run (its owner: this process) and prints its id.
 * Returns 0 or an exit status (the error printed); on 0 the caller frees *home
 * and *run_id and closes *st. */
static int submit(const submission *sub, char **home, store **st, char **run_id) {
    mp_err e;
    if (cli_open_store(sub->env, sub->home_flag, home, st)) return CLI_FAILED;
    if (engine_submit(*st, *home, &sub->req, run_id, &e) != 0) {
        if (sub->diags->n) {
            mp_buf b;
            mp_buf_init(&b);
            spec_diags_format(sub->diags, &b);
            fputs(b.data, stderr);
            mp_buf_free(&b);
        }
        (*st)->m->close(*st);
        *st = NULL;
        free(*home);
        *home = NULL;
        return cli_fail_err(&e);
    }
    printf("%s\n", *run_id);
    fflush(stdout);
    return CLI_OK;
}

/* Detached: a child process in its own session records the run as its owner,
 * prints the run id, and only then tells this process, which returns; the child
 * executes the run with its output in engine.log. So the run id is printed only
 * for a run that a live process owns from its first commit on: there is no
 * hand-over from the submitting process to the background one, which could
 * fail after the id was printed (under heavy contention for the store's write
 * lock it did, leaving an acknowledged run that nobody executed: Interrupted). */
static int detach(const submission *sub) {
    fflush(stdout);
    fflush(stderr);
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) return cli_fail(CLI_FAILED, "cannot create a pipe to detach: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(ready[0]);
        close(ready[1]);
        return cli_fail(CLI_FAILED, "cannot fork to detach: %s", strerror(errno));
    }
    if (pid > 0) {
        close(ready[1]);
        char c;
        ssize_t n;
        while ((n = read(ready[0], &c, 1)) < 0 && errno == EINTR) {}
        close(ready[0]);
        if (n == 1) return CLI_OK; /* the child printed the id and owns the run */
        /* The child ended before it owned a run: it printed why; its status is ours. */
        int ws = 0;
        pid_t w;
        while ((w = waitpid(pid, &ws, 0)) < 0 && errno == EINTR) {}
        if (w == pid && WIFEXITED(ws) && WEXITSTATUS(ws) != CLI_OK) return WEXITSTATUS(ws);
        return cli_fail(CLI_FAILED, "the background process that records the run did not start");
    }
    close(ready[0]);
    setsid();
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0) dup2(nul, 0);
    char *home = NULL, *run_id = NULL;
    store *st = NULL;
    int status = submit(sub, &home, &st, &run_id);
    if (status != CLI_OK) _exit(status);
    /* From here on the output goes to the run's engine.log. */
    char *dir = mp_xasprintf("%s/runs/%s", home, run_id);
    mp_mkdir_p(dir, NULL);
    char *log = mp_xasprintf("%s/engine.log", dir);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    free(dir);
    free(log);
    ssize_t wr = write(ready[1], "1", 1);
    (void)wr;
    close(ready[1]);
    status = drive(st, home, sub->req.pipeline, run_id, false);
    st->m->close(st);
    free(home);
    free(run_id);
    _exit(status);
}

static const char run_help[] =
    "Usage: mlplane run FILE [-p name=value]... [--detach] [--parallel N] [--home DIR]\n\n"
    "Validates FILE, records a new run of its Pipeline and executes it. The run id is\n"
    "the first line printed. On a terminal a live view shows each step's state,\n"
    "elapsed time and attempts; otherwise one line is printed per event.\n\n"
    "  -p, --param name=value  override a param of the pipeline (repeatable)\n"
    "  -d, --detach            print the run id and run in the background\n"
    "  -j, --parallel N        run at most N steps at once (default: CPU count)\n\n"
    "With --server URL the run goes to that server, with the spec's local inputs (its\n"
    "inputs and workingDir relative to FILE): each file is sent once, by content.\n\n"
    "Exit status: 0 when the run succeeded, 1 when it failed or was cancelled,\n"
    "2 when the input was invalid (nothing is recorded then).\n";

int cmd_run(cli_env *env, int argc, char **argv) {
    static const struct option longs[] = {{"param", required_argument, 0, 'p'},
                                          {"detach", no_argument, 0, 'd'},
                                          {"parallel", required_argument, 0, 'j'},
                                          {"home", required_argument, 0, 'H'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    mp_strv params = {0};
    bool detached = false;
    int parallel = 0;
    const char *home_flag = NULL;
    optind = 0;
    opterr = 0;
    int c, status = CLI_OK;
    while ((c = getopt_long(argc, argv, "p:dj:h", longs, NULL)) != -1) {
        switch (c) {
        case 'p': mp_strv_push(&params, optarg); break;
        case 'd': detached = true; break;
        case 'j': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 4096) {
                mp_strv_free(&params);
                return cli_fail(CLI_USAGE, "--parallel expects a whole number from 1 to 4096, got \"%s\"", optarg);
            }
            parallel = (int)v;
            break;
        }
        case 'H': home_flag = optarg; break;
        case 'h':
            fputs(run_help, stdout);
            mp_strv_free(&params);
            return CLI_OK;
        default:
            mp_strv_free(&params);
            return cli_fail(CLI_USAGE, "unknown or incomplete option %s (see mlplane run --help)", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        mp_strv_free(&params);
        return cli_fail(CLI_USAGE, "run needs exactly one spec file: mlplane run FILE [-p name=value]...");
    }
    if (home_flag) env->home_flag = home_flag;
    status = env->backend->run(env, argv[optind], &params, detached, parallel);
    mp_strv_free(&params);
    return status;
}

int cli_local_run(cli_env *env, const char *path, const mp_strv *params, bool detached, int parallel) {
    int status = CLI_OK;
    char *text = NULL;
    size_t len = 0;
    spec_diags d = {0};
    spec_file *f = NULL;
    if (cli_read_spec(path, &text, &len) != 0) return cli_fail(CLI_USAGE, "nothing was run");
    char *abs = mp_path_abs(NULL, path);
    char *dir = mp_path_dir(abs);
    if (spec_load_string(path, dir, text, len, &f, &d) != 0) {
        mp_buf b;
        mp_buf_init(&b);
        spec_diags_format(&d, &b);
        fputs(b.data, stderr);
        fprintf(stderr, "mlplane: %s is not valid; nothing was run\n", path);
        mp_buf_free(&b);
        status = CLI_USAGE;
    }
    const spec_pipeline *p = f ? spec_file_pipeline(f) : NULL;
    if (status == CLI_OK && !p) status = cli_fail(CLI_USAGE, "%s holds no Pipeline to run", path);
    char *home = NULL, *run_id = NULL;
    store *st = NULL;
    submission sub = {.env = env, .home_flag = NULL, .diags = &d,
                      .req = {.pipeline = p, .spec_path = abs, .spec_text = text,
                              .overrides = (const char *const *)params->v, .noverrides = params->n,
                              .parallel = parallel, .file = f, .diags = &d}};
    if (status == CLI_OK && detached) status = detach(&sub);
    else if (status == CLI_OK && (status = submit(&sub, &home, &st, &run_id)) == CLI_OK)
        status = drive(st, home, p, run_id, false);
    if (st) st->m->close(st);
    spec_diags_free(&d);
    spec_file_free(f);
    free(text);
    free(abs);
    free(dir);
    free(home);
    free(run_id);
    return status;
}

/* Shared by resume and cancel: one RUN argument and --home. */
static int parse_run_arg(int argc, char **argv, const char **home_flag, const char **run, const char *usage) {
    static const struct option longs[] = {{"home", required_argument, 0, 'H'}, {0, 0, 0, 0}};
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'H') *home_flag = optarg;
        else return cli_fail(CLI_USAGE, "unknown or incomplete option %s; usage: %s", argv[optind - 1], usage);
    }
    if (argc - optind != 1) return cli_fail(CLI_USAGE, "usage: %s", usage);
    *run = argv[optind];
    return 0;
}

/* Parses "RUN [--home DIR]" into *run and env->home_flag; 0 or CLI_USAGE (printed). */
static int run_command_args(cli_env *env, int argc, char **argv, const char *usage, const char **run) {
    const char *home_flag = NULL;
    if (parse_run_arg(argc, argv, &home_flag, run, usage)) return CLI_USAGE;
    if (home_flag) env->home_flag = home_flag;
    return 0;
}

int cmd_resume(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("Usage: mlplane resume RUN\n\n"
              "Finishes a run whose mlplane process died (for example killed with -9):\n"
              "processes it left behind are stopped, steps that had succeeded are kept,\n"
              "steps that were running start again with their partial outputs discarded.\n",
              stdout);
        return CLI_OK;
    }
    if (!env->backend->resume) return cli_not_remote(env, "resume");
    const char *run = NULL;
    if (run_command_args(env, argc, argv, "mlplane resume RUN", &run)) return CLI_USAGE;
    return env->backend->resume(env, run);
}

int cli_local_resume(cli_env *env, const char *run) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
    mp_err e;
    store_run r = {0};
    spec_file *f = NULL;
    executor *x = NULL;
    int status = CLI_OK;
    if (st->m->run_get(st, run, &r, &e) != 0) status = cli_fail_err(&e);
    if (status == CLI_OK && load_run_spec(&r, &f) != 0) status = CLI_FAILED;
    if (status == CLI_OK && exec_local_open(&x, &e) != 0) status = cli_fail_err(&e);
    if (status == CLI_OK) {
        engine_opts o = {.home = home};
        if (engine_prepare_resume(st, x, r.id, &o, &e) != 0) status = cli_fail(CLI_FAILED, "%s", e.msg);
        x->m->close(x);
    }
    if (status == CLI_OK) {
        printf("%s\n", r.id);
        fflush(stdout);
        status = drive(st, home, spec_file_pipeline(f), r.id, false);
    }
    spec_file_free(f);
    store_run_free(&r);
    st->m->close(st);
    free(home);
    return status;
}

int cmd_cancel(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("Usage: mlplane cancel RUN\n\n"
              "Cancels a run: running steps get SIGTERM, then SIGKILL after the grace period\n"
              "($MLPLANE_KILL_GRACE_MS, default 10000); waiting steps never start.\n",
              stdout);
        return CLI_OK;
    }
    const char *run = NULL;
    if (run_command_args(env, argc, argv, "mlplane cancel RUN", &run)) return CLI_USAGE;
    return env->backend->cancel(env, run);
}

int cli_local_cancel(cli_env *env, const char *run) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
    mp_err e;
    executor *x = NULL;
    int status = CLI_OK;
    if (exec_local_open(&x, &e) != 0) status = cli_fail_err(&e);
    if (status == CLI_OK) {
        engine_opts o = {.home = home};
        const char *g = getenv("MLPLANE_KILL_GRACE_MS");
        int wait_ms = (g && atoi(g) > 0 ? atoi(g) : 10000) + 5000;
        if (engine_cancel(st, x, run, &o, wait_ms, &e) != 0) status = cli_fail_err(&e); /* an ambiguous prefix: 2 */
        x->m->close(x);
    }
    if (status == CLI_OK) {
        store_run r = {0};
        if (st->m->run_get(st, run, &r, NULL) == 0) printf("run %s %s\n", r.id, store_run_state_name(r.state));
        store_run_free(&r);
    }
    st->m->close(st);
    free(home);
    return status;
}
