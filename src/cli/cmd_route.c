/* cmd_route.c — `mlplane route NAME --listen ADDR --stable VERSION=URL ...`:
 * the router of a Deployment (traffic split, sticky header, shadow, metrics)
 * in front of upstream HTTP servers, one per version (serve.h's serve_route),
 * until SIGTERM or SIGINT. Threads: the main thread blocks SIGTERM/SIGINT/
 * SIGHUP before anything starts (the HTTP threads, the probing supervisor and
 * the shadow's senders inherit the mask), waits for one with sigwait, then
 * drains and stops: no signal handler runs anywhere. */
#include "cli/cli.h"
#include "serve/serve.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char route_help[] =
    "Usage: mlplane route NAME --listen HOST:PORT --stable VERSION=URL\n"
    "                     [--canary VERSION=URL --canary-percent P] [--shadow VERSION=URL [--shadow-rate R]]\n"
    "                     [--sticky-header H] [--ready-timeout S] [--threads N] [--verbose]\n"
    "                     [--max-body SIZE] [--timeout S] [--drain S]\n\n"
    "Routes the Open Inference Protocol v2 requests of model NAME to upstreams: HTTP servers\n"
    "at base URLs, one per version (on Kubernetes, the Service of one version's pods running\n"
    "`mlplane serve`), as a Deployment's router routes to its replicas:\n"
    "  POST /v2/models/NAME[/versions/V]/infer   to the stable or the canary upstream: P% of\n"
    "                       each 100 consecutive requests to the canary; with --sticky-header\n"
    "                       the header's value always to the same version; a path naming a\n"
    "                       version (its label) to that upstream. The answer is the upstream's\n"
    "                       (model_version and X-Model-Version say which version answered).\n"
    "  a copy of R of them to the shadow upstream, whose answers are never returned;\n"
    "  GET /v2, /v2/models/NAME[/ready]           to the stable upstream;\n"
    "  GET /v2/health/live (this process is up), /v2/health/ready (the stable upstream is\n"
    "  ready), /metrics (Prometheus text, per version label).\n"
    "A request whose upstream refuses connections or is not ready (a version scaled to zero)\n"
    "waits up to --ready-timeout, then gets 503. SIGTERM drains requests in flight.\n"
    "NAME must be the name the upstreams serve the model under (mlplane serve --name).\n\n"
    "  --listen ADDR          HOST:PORT (default 127.0.0.1:8080; port 0 = any free port)\n"
    "  --stable VERSION=URL   the stable version (a version number or an alias label) and its\n"
    "                         upstream's base URL, e.g. 1=http://bc-v1:8080 (required)\n"
    "  --canary VERSION=URL   the canary; --canary-percent P (0-100, default 0) of the requests\n"
    "  --shadow VERSION=URL   the shadow; --shadow-rate R (0-1, default 1) of the requests copied\n"
    "  --sticky-header H      route by the value of request header H (e.g. X-User)\n"
    "  --ready-timeout S      how long a request waits for its upstream (default 30)\n"
    "  --threads N            threads sending the shadow's copies (default 2; one thread per\n"
    "                         client connection routes)\n"
    "  --max-body SIZE        largest request body (default 16Mi)\n"
    "  --timeout S            close connections idle for S seconds (default 30)\n"
    "  --drain S              on SIGTERM, wait up to S seconds for requests in flight (default 10)\n"
    "  -v, --verbose          log one line per request on stderr\n\n"
    "The first line printed is \"mlplane route listening on URL (route NAME: stable V at URL, ...)\".\n";

/* Parses flag's VERSION=URL into *version and *url (heap, replacing earlier ones). */
static int upstream_arg(const char *flag, const char *arg, char **version, char **url) {
    free(*version);
    free(*url);
    mp_err e = {0};
    if (serve_route_parse_upstream(arg, version, url, &e) != 0) return cli_fail(CLI_USAGE, "%s %s", flag, e.msg);
    return 0;
}

int cmd_route(cli_env *env, int argc, char **argv) {
    (void)env;
    static const struct option longs[] = {CLI_HTTPD_LONGOPTS,
                                          {"stable", required_argument, 0, 'S'},
                                          {"canary", required_argument, 0, 'C'},
                                          {"canary-percent", required_argument, 0, 'P'},
                                          {"shadow", required_argument, 0, 'X'},
                                          {"shadow-rate", required_argument, 0, 'r'},
                                          {"sticky-header", required_argument, 0, 'K'},
                                          {"ready-timeout", required_argument, 0, 'W'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    mp_httpd_opts o = {.listen = "127.0.0.1:8080", .threads = 2, .max_body = (size_t)16 << 20,
                      .conn_memory = (size_t)16 << 10};
    char *sv = NULL, *su = NULL, *cv = NULL, *cu = NULL, *xv = NULL, *xu = NULL;
    const char *sticky = NULL;
    int percent = -1, ready_timeout_s = 30, rc = 0;
    double rate = -1;
    mp_err e = {0};
    optind = 0;
    opterr = 0;
    int c;
    while (rc == 0 && (c = getopt_long(argc, argv, "vh", longs, NULL)) != -1) {
        int hrc = cli_httpd_option(c, optarg, &o);
        if (hrc >= 0) {
            rc = hrc;
            continue;
        }
        switch (c) {
        case 'S': rc = upstream_arg("--stable", optarg, &sv, &su); break;
        case 'C': rc = upstream_arg("--canary", optarg, &cv, &cu); break;
        case 'X': rc = upstream_arg("--shadow", optarg, &xv, &xu); break;
        case 'P': rc = cli_parse_int("--canary-percent", optarg, 0, 100, &percent); break;
        case 'r': {
            char *end = NULL;
            rate = strtod(optarg, &end);
            if (!*optarg || *end || !(rate >= 0 && rate <= 1))
                rc = cli_fail(CLI_USAGE, "--shadow-rate \"%s\": give a share from 0 to 1, e.g. 0.1", optarg);
            break;
        }
        case 'K':
            sticky = optarg;
            if (!*sticky || strpbrk(sticky, ": \t\r\n"))
                rc = cli_fail(CLI_USAGE, "--sticky-header \"%s\": give a header name, e.g. X-User", sticky);
            break;
        case 'W': rc = cli_parse_int("--ready-timeout", optarg, 1, 3600, &ready_timeout_s); break;
        case 'h': fputs(route_help, stdout); rc = -1; break;
        default: rc = cli_fail(CLI_USAGE, "unknown or incomplete option %s (see mlplane route --help)", argv[optind - 1]);
        }
    }
    const char *name = rc == 0 && optind < argc ? argv[optind] : NULL;
    if (rc == 0 && argc - optind > 1)
        rc = cli_fail(CLI_USAGE, "route takes one NAME, got \"%s\" and \"%s\"", argv[optind], argv[optind + 1]);
    if (rc == 0 && (!name || !*name || strchr(name, '/')))
        rc = cli_fail(CLI_USAGE, "route needs the model's NAME, as its upstreams serve it (see mlplane route --help)");
    if (rc == 0 && !su) rc = cli_fail(CLI_USAGE, "route %s needs --stable VERSION=URL: the stable version's upstream", name);
    if (rc == 0 && percent >= 0 && !cu) rc = cli_fail(CLI_USAGE, "--canary-percent goes with --canary VERSION=URL");
    if (rc == 0 && rate >= 0 && !xu) rc = cli_fail(CLI_USAGE, "--shadow-rate goes with --shadow VERSION=URL");
    if (rc == 0) {
        char host[256];
        int port;
        if (mp_http_parse_listen(o.listen, host, sizeof host, &port, &e) != 0) rc = cli_fail(CLI_USAGE, "--listen %s", e.msg);
    }
    if (rc == 0) {
        int threads = o.threads;
        o.threads = 0; /* one thread per connection routes; --threads is the shadow's */
        serve_route_opts ro = {.name = name, .stable_version = sv, .stable_url = su, .canary_version = cv,
                               .canary_url = cu, .canary_percent = percent > 0 ? percent : 0, .shadow_version = xv,
                               .shadow_url = xu, .shadow_rate = rate >= 0 ? rate : 1, .sticky_header = sticky,
                               .ready_timeout_ms = ready_timeout_s * 1000, .shadow_threads = threads, .http = o};
        sigset_t set;
        cli_block_stop_signals(&set);
        serve_route *rt = NULL;
        if (serve_route_start(&ro, &rt, &e) != 0) {
            rc = cli_fail_err(&e);
        } else {
            char what[2048];
            serve_route_describe(rt, what, sizeof what);
            printf("mlplane route listening on %s (%s)\n", serve_route_url(rt), what);
            fflush(stdout);
            int sig = cli_wait_stop_signal(&set);
            if (o.verbose) fprintf(stderr, "mlplane route: %s, draining\n", strsignal(sig));
            serve_route_free(rt);
        }
    }
    free(sv);
    free(su);
    free(cv);
    free(cu);
    free(xv);
    free(xu);
    return rc < 0 ? CLI_OK : rc;
}
