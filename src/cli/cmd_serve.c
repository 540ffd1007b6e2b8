/* cmd_serve.c — `mlplane serve MODEL`: loads one model (a file, a folder, or a
 * registry reference resolved through the home's store) and serves it over the
 * Open Inference Protocol v2 (src/serve) until SIGTERM or SIGINT, on TCP or a
 * unix-domain socket.
 * Threads: the main thread blocks SIGTERM/SIGINT/SIGHUP before the server starts
 * (so the HTTP workers inherit the mask), waits for one with sigwait, marks the
 * model not ready and stops the server (draining requests in flight): no signal
 * handler runs anywhere. The model is freed after the workers are joined. */
#include "cli/cli.h"
#include "serve/serve.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char serve_help[] =
    "Usage: mlplane serve MODEL [--name NAME] [--listen HOST:PORT|unix:PATH] [--home DIR]\n"
    "                     [--threads N] [--max-body SIZE] [--timeout S] [--drain S] [--verbose]\n\n"
    "Serves one model over the Open Inference Protocol v2 (REST) until SIGTERM or SIGINT:\n"
    "GET /v2, /v2/health/live, /v2/health/ready, /v2/models/NAME[/versions/V][/ready],\n"
    "POST /v2/models/NAME[/versions/V]/infer.\n\n"
    "MODEL is an XGBoost model file (.json or .ubj), a folder holding one, or a registry\n"
    "reference resolved through the home's store: models:/NAME/VERSION, models:/NAME/latest,\n"
    "models:/NAME@ALIAS. A registered model is served under its name and version number; a\n"
    "file under its name without extension and the first 12 hex digits of its SHA-256.\n\n"
    "  --name NAME          serve under this name instead\n"
    "  --listen ADDR        HOST:PORT (default 127.0.0.1:8080; port 0 = any free port) or\n"
    "                       unix:PATH for a unix-domain socket\n"
    "  --threads N          worker threads (default: one per CPU)\n"
    "  --max-body SIZE      largest request body, e.g. 16Mi (default), 1024, 10M\n"
    "  --timeout S          close connections idle for S seconds (default 30)\n"
    "  --drain S            on SIGTERM, wait up to S seconds for requests in flight (default 10)\n"
    "  -v, --verbose        log one line per request on stderr\n\n"
    "The first line printed is \"mlplane serve listening on URL (model NAME version V, FILE)\".\n";

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi)
        return cli_fail(CLI_USAGE, "%s expects a whole number from %d to %d, got \"%s\"", flag, lo, hi, v);
    *out = (int)x;
    return 0;
}

/* Resolves and loads the model into a new protocol layer; *m is the model (owned by *out). */
static int load(cli_env *env, const char *ref, const char *home_flag, const char *name, serve_oip **out,
                const serve_model **mout, mp_err *e) {
    char *home = NULL;
    int rc = 0;
    if (mp_str_starts(ref, "models:/")) rc = store_home_resolve(home_flag ? home_flag : env->home_flag, &home, e);
    serve_ref r = {0};
    serve_model *m = NULL;
    if (rc == 0) rc = serve_ref_resolve(ref, home, &r, e);
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

int cmd_serve(cli_env *env, int argc, char **argv) {
    static const struct option longs[] = {{"name", required_argument, 0, 'n'},     {"listen", required_argument, 0, 'l'},
                                          {"home", required_argument, 0, 'H'},     {"threads", required_argument, 0, 't'},
                                          {"max-body", required_argument, 0, 'b'}, {"timeout", required_argument, 0, 'T'},
                                          {"drain", required_argument, 0, 'D'},    {"verbose", no_argument, 0, 'v'},
                                          {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    mp_httpd_opts o = {.listen = "127.0.0.1:8080", .threads = mp_cpu_count(), .max_body = (size_t)16 << 20,
                      .conn_memory = (size_t)16 << 10};
    const char *home_flag = NULL, *name = NULL;
    mp_err e = {0};
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "vh", longs, NULL)) != -1) {
        switch (c) {
        case 'n': name = optarg; break;
        case 'l': o.listen = optarg; break;
        case 'H': home_flag = optarg; break;
        case 't':
            if (parse_int("--threads", optarg, 1, 1024, &o.threads)) return CLI_USAGE;
            break;
        case 'b':
            if (mp_parse_size(optarg, &o.max_body, &e) != 0) return cli_fail(CLI_USAGE, "--max-body: %s", e.msg);
            break;
        case 'T':
            if (parse_int("--timeout", optarg, 1, 86400, &o.timeout_s)) return CLI_USAGE;
            break;
        case 'D':
            if (parse_int("--drain", optarg, 1, 86400, &o.drain_s)) return CLI_USAGE;
            break;
        case 'v': o.verbose = true; break;
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

    serve_oip *oip = NULL;
    const serve_model *m = NULL;
    if (load(env, ref, home_flag, name, &oip, &m, &e) != 0) {
        serve_oip_free(oip);
        return cli_fail_err(&e);
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    mp_httpd *h = NULL;
    if (serve_http_start(oip, &o, &h, &e) != 0) {
        serve_oip_free(oip);
        return cli_fail(CLI_FAILED, "%s", e.msg);
    }
    printf("mlplane serve listening on %s (model %s version %s, %s)\n", mp_httpd_url(h), m->name, m->version, m->path);
    fflush(stdout);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    if (o.verbose) fprintf(stderr, "mlplane serve: %s, draining\n", strsignal(sig));
    serve_oip_set_ready(oip, false);
    mp_httpd_stop(h);
    serve_oip_free(oip);
    return CLI_OK;
}
