/* cmd_serve.c — `mlplane serve MODEL`: loads one model (a file, a folder, or a
 * registry reference resolved through the home's store) and serves it over the
 * Open Inference Protocol v2 (src/serve) until SIGTERM or SIGINT, on TCP or a
 * unix-domain socket. With --server URL a registry reference is downloaded from
 * that server (remote_models.c) and served as a local file. With --replicas N
 * (N >= 2) it runs N such servers as worker processes on unix sockets and a
 * router in front of them (serve.h's serve_router): this process then loads
 * the model only to check it (a worker of a --server router downloads the
 * pinned version itself).
 * A worker started by a router finds MLPLANE_PARENT_PID in its environment: it
 * asks for SIGTERM when its parent dies (PR_SET_PDEATHSIG) and exits at once
 * when the parent is gone already, so that no replica outlives its router.
 * Threads: the main thread blocks SIGTERM/SIGINT/SIGHUP before the server starts
 * (so the HTTP workers and the router's supervisor inherit the mask), waits for
 * one with sigwait, marks the model (or router) not ready and stops the server
 * (draining requests in flight), then the replicas: no signal handler runs
 * anywhere (with --tls-cert, a SIGHUP rereads the certificate and key of the
 * public engine instead). The model is freed after the workers are joined. */
#include "cli/cli.h"
#include "serve/serve.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char serve_help[] =
    "Usage: mlplane serve MODEL [--name NAME] [--listen HOST:PORT|unix:PATH] [--home DIR]\n"
    "       mlplane serve models:/NAME/VERSION|models:/NAME@ALIAS --server URL [--model-dir DIR] ...\n"
    "       mlplane serve deployment/NAME [--listen HOST:PORT] [--home DIR] [--auth-review URL]\n"
    "                     [--threads N] [--max-body SIZE] [--timeout S] [--drain S] [--verbose]\n"
    "                     [--replicas N] [--ready-timeout S] [--tls-cert FILE --tls-key FILE]\n\n"
    "Serves one model over the Open Inference Protocol v2 (REST) until SIGTERM or SIGINT:\n"
    "GET /v2, /v2/health/live, /v2/health/ready, /v2/models/NAME[/versions/V][/ready],\n"
    "POST /v2/models/NAME[/versions/V]/infer; GET /metrics (Prometheus text: requests by\n"
    "version and code, latency histogram, in flight, as a router names them).\n\n"
    "MODEL is an XGBoost model file (.json or .ubj), a folder holding one, or a registry\n"
    "reference resolved through the home's store: models:/NAME/VERSION, models:/NAME/latest,\n"
    "models:/NAME@ALIAS. A registered model is served under its name and version number; a\n"
    "file under its name without extension and the first 12 hex digits of its SHA-256.\n\n"
    "With --server URL (or $MLPLANE_SERVER) a registry reference is resolved by that mlplane\n"
    "server instead of the home: the version's model is downloaded as JSON from\n"
    "GET URL/api/v1/models/NAME/versions/VERSION/model.json (aliases/ALIAS/model.json for\n"
    "@ALIAS) into --model-dir DIR (default: a new folder under $TMPDIR, removed at exit) and\n"
    "served as a local model, under the model's name and the version number the server\n"
    "resolved. This is how a pod with no home serves a registered version.\n\n"
    "deployment/NAME runs a Deployment applied to the home (mlplane apply -f FILE): its\n"
    "versions behind a router, the canary split, the shadow, the autoscaler and the request\n"
    "log of its spec, under the deployment's name (docs/serving-rollout.md). It listens on\n"
    "--listen, else the spec's listen, else any free port of 127.0.0.1; `mlplane server`\n"
    "runs every applied Deployment this way by itself, passing the socket it keeps\n"
    "listening across restarts as --listen-fd=3.\n\n"
    "  --name NAME          serve under this name instead\n"
    "  --model-dir DIR      with --server: download the model into DIR (kept) instead\n"
    "  --listen ADDR        HOST:PORT (default 127.0.0.1:8080; port 0 = any free port) or\n"
    "                       unix:PATH for a unix-domain socket\n"
    "  --threads N          worker threads (default: one per CPU); with --replicas, split\n"
    "                       between the replicas\n"
    "  --max-body SIZE      largest request body, e.g. 16Mi (default), 1024, 10M\n"
    "  --timeout S          close connections idle for S seconds (default 30)\n"
    "  --drain S            on SIGTERM, wait up to S seconds for requests in flight (default 10)\n"
    "  -v, --verbose        log one line per request on stderr\n"
    "  --replicas N         run N servers (2-64) as processes behind a router on --listen:\n"
    "                       requests go to a ready one with the fewest in flight; one that\n"
    "                       exits is restarted; GET /metrics (Prometheus) and\n"
    "                       POST /admin/replicas?n=K (run K replicas) are the router's own\n"
    "  --ready-timeout S    with --replicas: how long a request waits for a ready replica\n"
    "                       (default 30)\n"
    "  --tls-cert FILE      serve HTTPS with this PEM certificate (not for deployment/NAME);\n"
    "                       SIGHUP rereads it and the key (a bad new pair keeps the old one)\n"
    "  --tls-key FILE       the certificate's unencrypted PEM private key (with --tls-cert)\n"
    "  --auth-review URL    with deployment/NAME: check the credentials of every /admin/ request\n"
    "                       (and of inference with spec.auth.inference: token) by asking the\n"
    "                       mlplane server at URL (POST /api/v1/authz/review); mlplane server\n"
    "                       --auth passes its own URL (docs/security.md, Deployments)\n\n"
    "The first line printed is \"mlplane serve listening on URL (model NAME version V, FILE)\";\n"
    "with --replicas it ends \", N replicas)\"; for a deployment it is\n"
    "\"mlplane serve listening on URL (deployment NAME: model M version V, ...)\".\n";

static void log_stop(int sig, bool verbose) {
    if (verbose) fprintf(stderr, "mlplane serve: %s, draining\n", strsignal(sig));
}

/* Waits for a stop signal; with TLS (o->tls_cert), each SIGHUP before it
 * rereads h's certificate and key and says so in one line on stderr. */
static int wait_stop(const sigset_t *set, mp_httpd *h, const mp_httpd_opts *o) {
    int sig;
    while ((sig = cli_wait_stop_signal(set)) == SIGHUP && o->tls_cert) {
        mp_err e = {0};
        if (mp_httpd_reload_tls(h, &e) == 0)
            fprintf(stderr, "mlplane serve: SIGHUP: reloaded the TLS certificate %s and key %s\n", o->tls_cert, o->tls_key);
        else
            fprintf(stderr, "mlplane serve: SIGHUP: %s; the certificate loaded before goes on serving\n", e.msg);
    }
    return sig;
}

/* Resolves and loads the model into a new protocol layer; *m is the model (owned by *out).
 * fetched, when non-NULL, is the reference resolved by a server already. */
static int load(cli_env *env, const char *ref, const serve_ref *fetched, const char *home_flag, const char *name,
                serve_oip **out, const serve_model **mout, mp_err *e) {
    char *home = NULL;
    int rc = 0;
    if (!fetched && mp_str_starts(ref, "models:/")) rc = store_home_resolve(home_flag ? home_flag : env->home_flag, &home, e);
    serve_ref r = {0};
    serve_model *m = NULL;
    if (fetched) {
        r.path = mp_xstrdup(fetched->path);
        r.name = mp_xstrdup(fetched->name);
        r.version = mp_xstrdup(fetched->version);
    } else if (rc == 0) {
        rc = serve_ref_resolve(ref, home, &r, e);
    }
    if (rc == 0) rc = serve_model_load(r.path, name ? name : r.name, r.version, &m, e);
    if (rc == 0) {
        *out = serve_oip_new();
        *mout = m;
        rc = serve_oip_add(*out, m, e);
        if (rc != 0) serve_model_free(m);
    }
    serve_ref_free(&r);
    free(home);
    return rc;
}

/* A worker started by a router (MLPLANE_PARENT_PID in the environment) gets
 * SIGTERM when its parent dies; false when the parent is gone already. */
static bool watch_parent(void) {
    const char *pp = getenv("MLPLANE_PARENT_PID");
    if (!pp || !*pp) return true;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    return getppid() == (pid_t)atoi(pp);
}

/* mlplane serve --replicas N: checks the model loads, then runs the router on
 * o's listen address with N worker processes behind it until a stop signal. */
static int serve_replicas(cli_env *env, const char *ref, const serve_ref *fetched, const char *home_flag,
                          const char *name, const mp_httpd_opts *o, int replicas, int ready_timeout_s) {
    mp_err e = {0};
    const char *hf = home_flag ? home_flag : env->home_flag;
    bool home_given = !fetched && (hf || (getenv("MLPLANE_HOME") && *getenv("MLPLANE_HOME")));
    char *home = NULL, *pinned = NULL, *dir = NULL, *parent = NULL;
    serve_ref r = {0};
    serve_model *m = NULL;
    int rc = 0;
    if (home_given || (!fetched && mp_str_starts(ref, "models:/"))) rc = store_home_resolve(hf, &home, &e);
    if (fetched) {
        r.path = mp_xstrdup(fetched->path);
        r.name = mp_xstrdup(fetched->name);
        r.version = mp_xstrdup(fetched->version);
    } else if (rc == 0) {
        rc = serve_ref_resolve(ref, home, &r, &e);
    }
    if (rc == 0) rc = serve_model_load(r.path, name ? name : r.name, r.version, &m, &e); /* fail here, not in a loop */
    const char *served = name ? name : r.name;
    if (rc == 0) rc = serve_socket_dir(home, served, &dir, &parent, &e);
    if (rc != 0) {
        serve_model_free(m);
        serve_ref_free(&r);
        free(home);
        return cli_fail_err(&e);
    }
    /* Workers load exactly this version, even if an alias moves while they restart
     * (through the same server, when it came from one). */
    pinned = mp_str_starts(ref, "models:/") ? mp_xasprintf("models:/%s/%s", r.name, r.version) : mp_path_abs(NULL, r.path);
    serve_router_opts ro = {.ref = pinned, .name = served, .version = r.version, .replicas = replicas, .sock_dir = dir,
                            .home = mp_str_starts(ref, "models:/") ? home : NULL, .server = fetched ? env->server : NULL,
                            .worker_threads = o->threads / replicas > 1 ? o->threads / replicas : 1,
                            .max_body = o->max_body, .drain_s = o->drain_s, .ready_timeout_ms = ready_timeout_s * 1000};
    char first[1200];
    snprintf(first, sizeof first, "(model %s version %s, %s, %d replicas)", served, r.version, m->path, replicas);
    serve_model_free(m);

    sigset_t set;
    cli_block_stop_signals(&set);

    serve_router *router = NULL;
    mp_httpd *h = NULL;
    rc = serve_router_new(&ro, &router, &e);
    if (rc == 0) rc = serve_router_http_start(router, o, &h, &e);
    if (rc == 0) rc = serve_router_start(router, &e);
    if (rc == 0) {
        printf("mlplane serve listening on %s %s\n", mp_httpd_url(h), first);
        fflush(stdout);
        int sig = wait_stop(&set, h, o);
        log_stop(sig, o->verbose);
    }
    serve_router_drain(router);
    mp_httpd_stop(h);
    serve_router_free(router); /* SIGTERM to the replicas, waits for them, removes their sockets */
    rmdir(dir);
    rmdir(parent); /* when no other router of this name runs */
    free(dir);
    free(parent);
    free(pinned);
    serve_ref_free(&r);
    free(home);
    return rc == 0 ? CLI_OK : cli_fail(CLI_FAILED, "%s", e.msg);
}

/* mlplane serve deployment/NAME: runs an applied Deployment until a stop signal. */
static int serve_deployment(cli_env *env, const char *name, const char *home_flag, const mp_httpd_opts *o,
                            bool listen_given, int listen_fd, int ready_timeout_s, const char *auth_review) {
    mp_err e = {0};
    char *home = NULL;
    if (store_home_resolve(home_flag ? home_flag : env->home_flag, &home, &e) != 0) return cli_fail_err(&e);
    char *url = NULL;
    int pid = 0;
    if (listen_fd == 0 && serve_deploy_running(home, name, &url, &pid)) { /* (a server's hand-over passes a socket) */
        int rc = cli_fail(CLI_FAILED, "deployment %s runs already (pid %d, %s): stop it first, or leave it to mlplane server",
                          name, pid, url);
        free(url);
        free(home);
        return rc;
    }
    serve_deploy_opts dop = {.home = home, .name = name, .listen = listen_given ? o->listen : NULL, .listen_fd = listen_fd,
                             .ready_timeout_ms = ready_timeout_s * 1000, .drain_s = o->drain_s,
                             .timeout_s = o->timeout_s, .max_body = o->max_body, .auth_review = auth_review};
    /* The fleet's admin credential: kept here only, out of the environment the replicas inherit. */
    char *cred = getenv(SERVE_ADMIN_CREDENTIAL_ENV) ? mp_xstrdup(getenv(SERVE_ADMIN_CREDENTIAL_ENV)) : NULL;
    unsetenv(SERVE_ADMIN_CREDENTIAL_ENV);
    dop.admin_credential = auth_review ? cred : NULL;
    serve_deploy *d = NULL;
    int orc = serve_deploy_open(&dop, &d, &e);
    if (cred) {
        sodium_memzero(cred, strlen(cred));
        free(cred);
    }
    if (orc != 0) {
        free(home);
        return cli_fail_err(&e);
    }
    sigset_t set;
    cli_block_stop_signals(&set);
    int rc = serve_deploy_start(d, &dop, &e);
    if (rc == 0) {
        char what[1024];
        serve_deploy_describe(d, what, sizeof what);
        printf("mlplane serve listening on %s (%s)\n", serve_deploy_url(d), what);
        fflush(stdout);
        int sig = cli_wait_stop_signal(&set);
        log_stop(sig, o->verbose);
    }
    serve_deploy_free(d); /* drains, stops the replicas */
    free(home);
    return rc == 0 ? CLI_OK : cli_fail(CLI_FAILED, "%s", e.msg);
}

int cmd_serve(cli_env *env, int argc, char **argv) {
    static const struct option longs[] = {CLI_HTTPD_LONGOPTS,
                                          {"name", required_argument, 0, 'n'},
                                          {"home", required_argument, 0, 'H'},
                                          {"replicas", required_argument, 0, 'R'},
                                          {"ready-timeout", required_argument, 0, 'W'},
                                          {"listen-fd", required_argument, 0, 'F'},
                                          {"model-dir", required_argument, 0, 'M'},
                                          {"tls-cert", required_argument, 0, 'C'},
                                          {"tls-key", required_argument, 0, 'K'},
                                          {"auth-review", required_argument, 0, 'A'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    mp_httpd_opts o = {.listen = "127.0.0.1:8080", .threads = mp_cpu_count(), .max_body = (size_t)16 << 20,
                      .conn_memory = (size_t)16 << 10};
    const char *home_flag = NULL, *name = NULL, *model_dir = NULL, *auth_review = NULL;
    int replicas = 1, ready_timeout_s = 30, listen_fd = 0;
    bool listen_given = false;
    mp_err e = {0};
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "vh", longs, NULL)) != -1) {
        int hrc = cli_httpd_option(c, optarg, &o);
        if (c == 'l') listen_given = true;
        if (hrc >= 0) {
            if (hrc) return hrc;
            continue;
        }
        switch (c) {
        case 'n': name = optarg; break;
        case 'H': home_flag = optarg; break;
        case 'M': model_dir = optarg; break;
        case 'C': o.tls_cert = optarg; break;
        case 'K': o.tls_key = optarg; break;
        case 'A': auth_review = optarg; break;
        case 'R':
            if (cli_parse_int("--replicas", optarg, 1, SERVE_ROUTER_MAX_REPLICAS, &replicas)) return CLI_USAGE;
            break;
        case 'W':
            if (cli_parse_int("--ready-timeout", optarg, 1, 3600, &ready_timeout_s)) return CLI_USAGE;
            break;
        case 'F':
            if (cli_parse_int("--listen-fd", optarg, 3, 1023, &listen_fd)) return CLI_USAGE;
            break;
        case 'h': fputs(serve_help, stdout); return CLI_OK;
        default: return cli_fail(CLI_USAGE, "unknown or incomplete option %s (see mlplane serve --help)", argv[optind - 1]);
        }
    }
    /* getopt_long permutes: options may follow MODEL too. */
    if (argc - optind > 1) return cli_fail(CLI_USAGE, "serve takes one MODEL, got \"%s\" and \"%s\"", argv[optind], argv[optind + 1]);
    const char *ref = optind < argc ? argv[optind] : NULL;
    if (!ref) return cli_fail(CLI_USAGE, "serve needs a MODEL: a model file or models:/NAME/VERSION (see mlplane serve --help)");
    if (name && !*name) return cli_fail(CLI_USAGE, "--name must not be empty");
    if (name && strchr(name, '/')) return cli_fail(CLI_USAGE, "--name \"%s\": a model name cannot hold a slash", name);
    if (!mp_str_starts(o.listen, "unix:")) {
        char host[256];
        int port;
        if (mp_http_parse_listen(o.listen, host, sizeof host, &port, &e) != 0) return cli_fail(CLI_USAGE, "%s", e.msg);
    }
    if (mp_httpd_tls_check(o.tls_cert, o.tls_key, &e) != 0) return cli_fail(CLI_USAGE, "%s", e.msg);
    /* The workers of a --server router download their version themselves: they verify it with the same CA
     * (set here, before any thread starts). */
    if (env->cacert) setenv("MLPLANE_CACERT", env->cacert, 1);
    if (!watch_parent()) return cli_fail(CLI_FAILED, "the router that started this server is gone");
    if (listen_fd && !mp_str_starts(ref, "deployment/") && !mp_str_starts(ref, "deployments/"))
        return cli_fail(CLI_USAGE, "--listen-fd goes with deployment/NAME");
    if (mp_str_starts(ref, "deployment/") || mp_str_starts(ref, "deployments/")) {
        const char *dn = strchr(ref, '/') + 1;
        if (!*dn || strchr(dn, '/')) return cli_fail(CLI_USAGE, "serve %s: name one deployment, as deployment/NAME", ref);
        if (name) return cli_fail(CLI_USAGE, "--name does not apply to a deployment: it is served under its own name");
        if (replicas > 1) return cli_fail(CLI_USAGE, "--replicas does not apply to a deployment: its spec.replicas says");
        if (o.tls_cert)
            return cli_fail(CLI_USAGE, "--tls-cert does not apply to a deployment: Deployments serve plain HTTP (put a TLS proxy in front)");
        return serve_deployment(env, dn, home_flag, &o, listen_given, listen_fd, ready_timeout_s, auth_review);
    }
    if (auth_review) return cli_fail(CLI_USAGE, "--auth-review goes with deployment/NAME");
    bool remote = env->server && mp_str_starts(ref, "models:/");
    if (model_dir && !remote)
        return cli_fail(CLI_USAGE, "--model-dir goes with a models:/ reference and --server URL (the model is downloaded there)");
    if (replicas > 1 && !remote) return serve_replicas(env, ref, NULL, home_flag, name, &o, replicas, ready_timeout_s);

    serve_ref fetched = {0};
    char *tmp = NULL;
    if (remote) {
        if (!model_dir) {
            const char *td = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
            tmp = mp_xasprintf("%s/mlplane-model-XXXXXX", td);
            if (!mkdtemp(tmp)) {
                int rc = cli_fail(CLI_FAILED, "cannot make a folder for the model under %s: %s (set TMPDIR or --model-dir)", td,
                                  strerror(errno));
                free(tmp);
                return rc;
            }
        }
        int rc = remote_model_fetch(env, ref, model_dir ? model_dir : tmp, &fetched.path, &fetched.name, &fetched.version);
        if (rc == 0 && replicas > 1) /* each worker downloads the pinned version itself */
            rc = serve_replicas(env, ref, &fetched, home_flag, name, &o, replicas, ready_timeout_s);
        if (rc != 0 || replicas > 1) {
            serve_ref_free(&fetched);
            if (tmp) mp_rm_rf(tmp, NULL);
            free(tmp);
            return rc;
        }
    }

    serve_oip *oip = NULL;
    const serve_model *m = NULL;
    if (load(env, ref, remote ? &fetched : NULL, home_flag, name, &oip, &m, &e) != 0) {
        serve_oip_free(oip);
        serve_ref_free(&fetched);
        if (tmp) mp_rm_rf(tmp, NULL);
        free(tmp);
        return cli_fail_err(&e);
    }

    sigset_t set;
    cli_block_stop_signals(&set);

    mp_httpd *h = NULL;
    if (serve_http_start(oip, &o, &h, &e) != 0) {
        serve_oip_free(oip);
        serve_ref_free(&fetched);
        if (tmp) mp_rm_rf(tmp, NULL);
        free(tmp);
        return cli_fail(CLI_FAILED, "%s", e.msg);
    }
    printf("mlplane serve listening on %s (model %s version %s, %s)\n", mp_httpd_url(h), m->name, m->version, m->path);
    fflush(stdout);
    int sig = wait_stop(&set, h, &o);
    log_stop(sig, o.verbose);
    serve_oip_set_ready(oip, false);
    mp_httpd_stop(h);
    serve_oip_free(oip);
    serve_ref_free(&fetched);
    if (tmp) mp_rm_rf(tmp, NULL); /* the downloaded model of --server without --model-dir */
    free(tmp);
    return CLI_OK;
}
