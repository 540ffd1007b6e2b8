/* main.c — the mlplane command: global flags, then one entry of the command
 * table below (Redis-style: a table you can read at a glance, not a chain of
 * strcmp). Single-threaded. */
#include "cli/cli.h"
#include "ml/ml.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const cli_command commands[] = {
    {"run", cmd_run, "FILE [-p name=value]... [--detach] [--parallel N]", "run a pipeline and follow it"},
    {"get", cmd_get, "runs|steps RUN|metrics RUN|experiments|nodes|queue|deployments|clusterqueues|localqueues|priorityclasses|resourceflavors [-o ...]",
     "list runs, a run's steps or metrics, experiments"},
    {"models", cmd_models, "list | get NAME [-o table|json|yaml]", "show the model registry"},
    {"apply", cmd_apply, "-f FILE|DIR|-", "store objects: Deployment, PriorityClass, Node, ClusterQueue, LocalQueue, ..."},
    {"delete", cmd_delete, "KIND NAME [-n NAMESPACE]", "remove an applied object (a Deployment stops serving)"},
    {"rollout", cmd_rollout, "status|promote|rollback DEPLOYMENT", "show or change a Deployment's canary split"},
    {"k8s", cmd_k8s, "render FILE... [-n NS] [--image IMAGE] [--kueue] [-o yaml|json] [--out DIR]",
     "the Kubernetes objects of spec files (Jobs, Services, PriorityClasses)"},
    {"launch", cmd_launch, "--install DIR | [--] COMMAND [ARG...]", "run a step inside a Kubernetes pod: fetch its inputs, run it, upload its outputs"},
    {"sched", cmd_sched, "simulate FILE... [--policy binpack|spread]", "would these steps fit on this cluster?"},
    {"describe", cmd_describe, "run RUN|deployment NAME|model NAME", "show everything about a run (steps, metrics, events), a Deployment (state, errors, events) or a model"},
    {"logs", cmd_logs, "RUN [STEP] [-f]", "print the logs of a run's steps"},
    {"cancel", cmd_cancel, "RUN", "cancel a run: stop its steps"},
    {"resume", cmd_resume, "RUN", "finish a run whose mlplane process died"},
    {"serve", cmd_serve, "MODEL|deployment/NAME [--listen HOST:PORT|unix:PATH] [--replicas N]", "serve a model or a Deployment over the Open Inference Protocol v2"},
    {"route", cmd_route, "NAME --listen HOST:PORT --stable VERSION=URL [--canary VERSION=URL --canary-percent P] [--shadow VERSION=URL]",
     "route a model's requests to upstream servers: canary split, sticky header, shadow"},
    {"server", cmd_server, "[--listen HOST:PORT] [--threads N] [--max-body SIZE] [--auth] [--init-admin]", "serve the HTTP API (mlplane and MLflow) and the applied Deployments"},
    {"audit", cmd_audit, "verify [--public-key F] | log [--user U] [--since D] | keygen --out F",
     "check and show the audit log of the server's changes, denials and login failures"},
    {"token", cmd_token, "create --user USER [--namespace NS] [--group G]... [--ttl 30d] | list | revoke ID", "API tokens for mlplane server --auth"},
    {"user", cmd_user, "create|set-password|delete NAME [--password-stdin] [--admin] | list", "users whose password mlplane server --auth accepts (HTTP Basic)"},
    {"drift", cmd_drift, "--reference FILE --current FILE [--columns A,B] [--stattest ...] [-o ...]",
     "data drift between two CSV files, per column and for the data set (exit 1 on drift)"},
    {"secrets", cmd_secrets, "rotate-key --new-key-file FILE", "re-encrypt every Secret's values with a new key"},
    {"lineage", cmd_lineage, "models:/NAME/VERSION | artifact HASH [-o table|json|yaml|dot]",
     "where a model version came from (run, spec, params, inputs), where data went"},
    {"gc", cmd_gc, "[--dry-run] [-o table|json]", "delete what RetentionPolicies say has expired: runs, logs, artifacts"},
    {"monitor", cmd_monitor, "check NAME [-o ...]", "check a Monitor now: drift of what its Deployment receives"},
    {"validate", cmd_validate, "FILE...", "check spec files and report every error"},
    {"version", cmd_version, "", "print the version"},
    {"data", cmd_data, "check|split|validate ...", "built-in data tools (check a CSV, split train/test, validate against expectations)"},
    {"xgb", cmd_xgb, "train|eval|predict ...", "built-in XGBoost tools"},
};

int cli_fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("mlplane: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

int cli_fail_err(const mp_err *e) {
    /* Invalid input is a usage error (2); everything else, a missing run included, fails (1). */
    int status = e->code == MP_EINVAL ? CLI_USAGE : CLI_FAILED;
    return cli_fail(status, "%s", e->msg[0] ? e->msg : mp_code_name(e->code));
}

void cli_block_stop_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

int cli_wait_stop_signal(const sigset_t *set) {
    int sig = 0;
    while (sigwait(set, &sig) != 0) {
    }
    return sig;
}

int cli_read_spec(const char *path, char **text, size_t *len) {
    FILE *fp = fopen(path, "rb");
    int err = fp ? 0 : errno;
    mp_buf b;
    mp_buf_init(&b);
    if (fp) {
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) mp_buf_append(&b, chunk, n);
        if (ferror(fp)) err = errno ? errno : EIO;
        fclose(fp);
    }
    if (err) {
        mp_buf_free(&b);
        fprintf(stderr, "%s:1:1: cannot read: %s\n", path, strerror(err));
        return CLI_USAGE;
    }
    *len = b.len;
    *text = mp_buf_steal(&b);
    return 0;
}

bool cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return true;
    }
    return false;
}

int cli_open_store(cli_env *env, const char *home_flag, char **home, store **st) {
    mp_err e;
    int rc = store_home_resolve(home_flag ? home_flag : env->home_flag, home, &e);
    if (rc == 0) rc = store_open_home(*home, st, &e);
    if (rc != 0) {
        free(*home);
        *home = NULL;
        cli_fail_err(&e);
        return rc;
    }
    return 0;
}

int cli_open_store_existing(cli_env *env, const char *home_flag, char **home, store **st) {
    mp_err e;
    int rc = store_home_path(home_flag ? home_flag : env->home_flag, home, &e);
    if (rc != 0) {
        cli_fail_err(&e);
        return rc;
    }
    if (!mp_is_dir(*home)) {
        cli_fail(CLI_FAILED, "home %s does not exist (set --home or MLPLANE_HOME; it is created by run, apply or server)",
                 *home);
        free(*home);
        *home = NULL;
        return MP_ENOENT;
    }
    free(*home);
    *home = NULL;
    return cli_open_store(env, home_flag, home, st);
}

int cmd_data(cli_env *env, int argc, char **argv) {
    (void)env;
    if (argc >= 2 && strcmp(argv[1], "validate") == 0) return cli_data_validate(argc - 1, argv + 1);
    int rc = ml_data_main(argc - 1, argv + 1);
    if (argc < 2 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "split") != 0))
        fprintf(rc ? stderr : stdout, "%s\n", CLI_DATA_VALIDATE_USAGE); /* the sub-commands' list goes on */
    return rc;
}

int cmd_xgb(cli_env *env, int argc, char **argv) {
    (void)env;
    return ml_xgb_main(argc - 1, argv + 1);
}

static void usage(FILE *f) {
    fprintf(f,
            "mlplane — pipelines, tracking and serving for machine learning\n\n"
            "Usage: mlplane [--home DIR] [--server URL] [--cacert FILE] [--no-color] [--secret-key-file FILE] COMMAND [ARGS]\n\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %-52s %s\n", commands[i].name, commands[i].usage, commands[i].help);
    fprintf(f,
            "\nGlobal flags:\n"
            "  --home DIR   where mlplane keeps its store, logs and outputs\n"
            "               (default: $MLPLANE_HOME, else ~/.mlplane)\n"
            "  --server URL run (its local inputs sent along), get, describe, logs, cancel, models, apply,\n"
            "               rollout and delete through the mlplane server at URL\n"
            "               (default: $MLPLANE_SERVER, else none: work on the home directly)\n"
            "  --cacert FILE the PEM file of the CA that signed an https:// server's certificate\n"
            "               (default: $MLPLANE_CACERT, else the system's CAs)\n"
            "  --no-color   no colours (also: $NO_COLOR set and not empty, or stdout not a terminal)\n"
            "  --secret-key-file FILE\n"
            "               the key that encrypts Secrets (sets $MLPLANE_SECRET_KEY_FILE for this command\n"
            "               and what it starts; else $MLPLANE_SECRET_KEY; never stored in the home)\n"
            "  -h, --help   help; `mlplane COMMAND --help` (or `mlplane help COMMAND`) for a command\n");
}

static int unknown_command(const char *name);

/* `mlplane help [COMMAND]`: the general help, or exactly what `mlplane COMMAND --help` prints. */
static int help_command(cli_env *env, int argc, char **argv) {
    if (argc < 2) {
        usage(stdout);
        return CLI_OK;
    }
    if (argc > 2) return cli_fail(CLI_USAGE, "usage: mlplane help [COMMAND]");
    if (strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        if (strcmp(commands[c].name, argv[1]) != 0) continue;
        char *args[] = {argv[1], "--help", NULL};
        return commands[c].fn(env, 2, args);
    }
    return unknown_command(argv[1]);
}

/* --secret-key-file FILE: the key's place for this process and what it starts
 * (a run's engine, a server's runs), as an absolute path; the key itself is read
 * only where a Secret is sealed or opened. */
static void set_key_file(const char *f) {
    char *abs = mp_path_abs(NULL, f);
    setenv("MLPLANE_SECRET_KEY_FILE", abs, 1);
    free(abs);
}

/* Takes --server URL / --server=URL, --cacert FILE / --cacert=FILE, --secret-key-file and --no-color out of the command's arguments (up to "--"),
 * so that it works after the command too; returns the new argc. */
static int take_server_flag(int argc, char **argv, cli_env *env) {
    int w = 0;
    for (int r = 0; r < argc; r++) {
        if (strcmp(argv[r], "--") == 0) {
            while (r < argc) argv[w++] = argv[r++];
            break;
        }
        if (strcmp(argv[r], "--no-color") == 0) {
            cli_set_no_color();
        } else if (strcmp(argv[r], "--secret-key-file") == 0 && r + 1 < argc) {
            set_key_file(argv[++r]);
        } else if (mp_str_starts(argv[r], "--secret-key-file=")) {
            set_key_file(argv[r] + 18);
        } else if (strcmp(argv[r], "--server") == 0 && r + 1 < argc) {
            env->server = argv[++r];
            env->server_flag = true;
        } else if (mp_str_starts(argv[r], "--server=")) {
            env->server = argv[r] + 9;
            env->server_flag = true;
        } else if (strcmp(argv[r], "--cacert") == 0 && r + 1 < argc) {
            env->cacert = argv[++r];
        } else if (mp_str_starts(argv[r], "--cacert=")) {
            env->cacert = argv[r] + 9;
        } else {
            argv[w++] = argv[r];
        }
    }
    argv[w] = NULL;
    return w;
}

int main(int argc, char **argv) {
    /* A closed stdout (`mlplane run x | head -1`) must not kill a run half-way. */
    signal(SIGPIPE, SIG_IGN);
    if (mp_init() != 0) return cli_fail(CLI_FAILED, "cannot initialise libsodium");
    cli_env env = {.prog = "mlplane"};
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            env.home_flag = argv[i + 1];
            i += 2;
        } else if (mp_str_starts(argv[i], "--home=")) {
            env.home_flag = argv[i] + 7;
            i++;
        } else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            env.server = argv[i + 1];
            env.server_flag = true;
            i += 2;
        } else if (mp_str_starts(argv[i], "--server=")) {
            env.server = argv[i] + 9;
            env.server_flag = true;
            i++;
        } else if (strcmp(argv[i], "--cacert") == 0 && i + 1 < argc) {
            env.cacert = argv[i + 1];
            i += 2;
        } else if (mp_str_starts(argv[i], "--cacert=")) {
            env.cacert = argv[i] + 9;
            i++;
        } else if (strcmp(argv[i], "--no-color") == 0) {
            cli_set_no_color();
            i++;
        } else if (strcmp(argv[i], "--secret-key-file") == 0 && i + 1 < argc) {
            set_key_file(argv[i + 1]);
            i += 2;
        } else if (mp_str_starts(argv[i], "--secret-key-file=")) {
            set_key_file(argv[i] + 18);
            i++;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            return cmd_version(&env, 1, argv);
        } else {
            return cli_fail(CLI_USAGE, "unknown flag %s (see mlplane --help)", argv[i]);
        }
    }
    if (i >= argc) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[i];
    argc = i + take_server_flag(argc - i, argv + i, &env);
    if (!env.server) env.server = getenv("MLPLANE_SERVER");
    if (env.server && !*env.server) env.server = NULL;
    if (!env.cacert) env.cacert = getenv("MLPLANE_CACERT");
    if (env.cacert && !*env.cacert) env.cacert = NULL;
    env.backend = env.server ? &cli_backend_remote : &cli_backend_local;
    if (strcmp(name, "help") == 0) return help_command(&env, argc - i, argv + i);
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
        if (strcmp(commands[c].name, name) == 0) return commands[c].fn(&env, argc - i, argv + i);
    return unknown_command(name);
}

/* "unknown command", with the nearest command's name when one is close. */
static int unknown_command(const char *name) {
    const char *best = NULL;
    int bd = 3;
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        int d = mp_edit_distance(name, commands[c].name);
        if (d < bd) {
            bd = d;
            best = commands[c].name;
        }
    }
    if (best) return cli_fail(CLI_USAGE, "unknown command \"%s\" (did you mean \"%s\"?)", name, best);
    return cli_fail(CLI_USAGE, "unknown command \"%s\" (see mlplane --help)", name);
}
