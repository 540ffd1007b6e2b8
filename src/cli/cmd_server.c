/* cmd_server.c — `mlplane server`: runs the HTTP server of src/api (mlplane's
 * /api/v1 and the MLflow REST API) until SIGTERM or SIGINT.
 * Threads: the main thread blocks SIGTERM/SIGINT/SIGHUP before the server starts
 * (so libmicrohttpd's workers inherit the mask), then waits for one with
 * sigwait and stops the server: no signal handler runs anywhere. */
#include "cli/cli.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char server_help[] =
    "Usage: mlplane server [--listen HOST:PORT] [--home DIR] [--threads N] [--max-body SIZE]\n"
    "                      [--timeout S] [--drain S] [--verbose]\n\n"
    "Serves mlplane's JSON API (/api/v1) and the MLflow tracking and registry REST API\n"
    "(/api/2.0/mlflow/, /ajax-api/2.0/mlflow/) over HTTP, until SIGTERM or SIGINT.\n\n"
    "  --listen HOST:PORT  where to listen (default 127.0.0.1:5000; port 0 = any free port)\n"
    "  --threads N         worker threads (default 4)\n"
    "  --max-body SIZE     largest request body, e.g. 64Mi (default), 1024, 10M\n"
    "  --timeout S         close connections idle for S seconds (default 30)\n"
    "  --drain S           on SIGTERM, wait up to S seconds for requests in flight (default 10)\n"
    "  -v, --verbose       log one line per request on stderr\n\n"
    "The first line printed is \"mlplane server listening on URL (home DIR)\".\n";

int cmd_server(cli_env *env, int argc, char **argv) {
    static const struct option longs[] = {{"listen", required_argument, 0, 'l'},   {"home", required_argument, 0, 'H'},
                                          {"threads", required_argument, 0, 't'},  {"max-body", required_argument, 0, 'b'},
                                          {"timeout", required_argument, 0, 'T'},  {"drain", required_argument, 0, 'D'},
                                          {"verbose", no_argument, 0, 'v'},        {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    api_server_opts o = {.listen = "127.0.0.1:5000"};
    const char *home_flag = NULL;
    mp_err e;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "vh", longs, NULL)) != -1) {
        switch (c) {
        case 'l': o.listen = optarg; break;
        case 'H': home_flag = optarg; break;
        case 't':
            if (cli_parse_int("--threads", optarg, 1, 1024, &o.threads)) return CLI_USAGE;
            break;
        case 'b':
            if (mp_parse_size(optarg, &o.max_body, &e) != 0) return cli_fail(CLI_USAGE, "--max-body: %s", e.msg);
            break;
        case 'T':
            if (cli_parse_int("--timeout", optarg, 1, 86400, &o.timeout_s)) return CLI_USAGE;
            break;
        case 'D':
            if (cli_parse_int("--drain", optarg, 1, 86400, &o.drain_s)) return CLI_USAGE;
            break;
        case 'v': o.verbose = true; break;
        case 'h': fputs(server_help, stdout); return CLI_OK;
        default: return cli_fail(CLI_USAGE, "unknown or incomplete option %s (see mlplane server --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_fail(CLI_USAGE, "server takes no arguments, got \"%s\"", argv[optind]);
    char host[256];
    int port;
    if (mp_http_parse_listen(o.listen, host, sizeof host, &port, &e) != 0) return cli_fail(CLI_USAGE, "%s", e.msg);

    char *home = NULL;
    if (store_home_resolve(home_flag ? home_flag : env->home_flag, &home, &e) != 0) return cli_fail_err(&e);
    o.home = home;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    api_server *s = NULL;
    if (api_server_start(&o, &s, &e) != 0) {
        free(home);
        return cli_fail(CLI_FAILED, "%s", e.msg);
    }
    printf("mlplane server listening on %s (home %s)\n", api_server_url(s), home);
    fflush(stdout);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    if (o.verbose) fprintf(stderr, "mlplane server: %s, stopping\n", strsignal(sig));
    api_server_stop(s);
    free(home);
    return CLI_OK;
}
