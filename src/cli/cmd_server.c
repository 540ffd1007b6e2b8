/* cmd_server.c — `mlplane server`: runs the HTTP server of src/api (mlplane's
 * /api/v1 and the MLflow REST API) until SIGTERM or SIGINT.
 * Threads: the main thread blocks SIGTERM/SIGINT/SIGHUP before the server starts
 * (so libmicrohttpd's workers inherit the mask), then waits for one with
 * sigwait and stops the server: no signal handler runs anywhere (with
 * --tls-cert, SIGHUP rereads the certificate and key instead). The
 * Deployments applied to the home run as child processes under the fleet of
 * serve.h (started after the API, stopped before it), and the applied Monitors are
 * checked on their schedules by the monitors' thread of src/api (started after the
 * fleet, stopped first). */
#include "cli/cli.h"
#include "serve/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The artifact store's sweep (store_artstore_sweep): orphans of a crash between a
 * version's deletion and its blob's removal. A failure is a warning. */
static void sweep_artifacts(const char *home) {
    store *st = NULL;
    mp_err e = {0};
    size_t removed = 0;
    int rc = store_open_home(home, &st, &e);
    if (rc == 0) rc = store_artstore_sweep(st, home, &removed, &e);
    if (st) st->m->close(st);
    if (rc != 0) fprintf(stderr, "mlplane server: warning: %s\n", e.msg);
    else if (removed > 0)
        fprintf(stderr, "mlplane server: removed %zu blob%s no model version names from %s/artifacts/sha256\n", removed,
                removed == 1 ? "" : "s", home);
}

/* Whether host (as mp_http_parse_listen gives it) is a loopback address. */
static bool loopback_host(const char *host) {
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "[::1]") == 0;
}

/* --init-admin: the user "admin" (cluster-admin: group system:masters) and its first
 * token, printed alone on stdout's first line; never again once that user exists. */
static int init_admin(const char *home) {
    store *st = NULL;
    mp_err e = {0};
    if (store_open_home(home, &st, &e) != 0) return cli_fail_err(&e);
    store_user u;
    int rc = st->a->user_get(st, "admin", &u, &e);
    if (rc == 0) {
        store_user_free(&u);
        st->m->close(st);
        fprintf(stderr,
                "mlplane server: --init-admin: the user \"admin\" exists already, no new token printed; create "
                "another with: mlplane token create --user admin --group system:masters\n");
        return CLI_OK;
    }
    char *token = NULL;
    store_token in = {.user = "admin", .namespace_ = "default", .groups = "system:masters",
                      .description = "first admin token (mlplane server --init-admin)"};
    store_token out = {0};
    rc = rc == MP_ENOENT ? st->m->begin(st, &e) : rc;
    if (rc == 0) rc = st->a->user_create(st, "admin", NULL, true, &e);
    if (rc == 0) rc = st->a->token_create(st, &in, &token, &out, &e);
    if (rc == 0) rc = st->m->commit(st, &e);
    else if (st->m->in_tx(st)) st->m->rollback(st);
    st->m->close(st);
    if (rc != 0) {
        free(token);
        return cli_fail(CLI_FAILED, "--init-admin: %s", e.msg);
    }
    printf("%s\n", token);
    fflush(stdout);
    fprintf(stderr, "mlplane server: created user \"admin\" (group system:masters) and token %s: keep the line "
                    "above, it is not shown again\n", out.id);
    sodium_memzero(token, strlen(token));
    free(token);
    store_token_free(&out);
    return CLI_OK;
}

static const char server_help[] =
    "Usage: mlplane server [--listen HOST:PORT] [--home DIR] [--threads N] [--max-body SIZE]\n"
    "                      [--timeout S] [--drain S] [--verbose] [--tls-cert FILE --tls-key FILE]\n"
    "                      [--audit-key FILE] [--auth] [--init-admin]\n\n"
    "Serves mlplane's JSON API (/api/v1) and the MLflow tracking and registry REST API\n"
    "(/api/2.0/mlflow/, /ajax-api/2.0/mlflow/) over HTTP, until SIGTERM or SIGINT.\n"
    "Every Deployment applied to the home (mlplane apply -f FILE) is served by a child\n"
    "process, mlplane serve deployment/NAME, started when it is applied, restarted when\n"
    "it exits or is applied again, stopped when deleted; its output goes to\n"
    "HOME/serving/NAME/server.log and mlplane get deployments says where it listens.\n"
    "At start, before listening, it removes the blobs of the registry's artifact store\n"
    "(HOME/artifacts/sha256) that no model version's source names.\n\n"
    "  --listen HOST:PORT  where to listen (default 127.0.0.1:5000; port 0 = any free port)\n"
    "  --threads N         worker threads (default 4)\n"
    "  --max-body SIZE     largest request body, e.g. 64Mi (default), 1024, 10M\n"
    "  --timeout S         close connections idle for S seconds (default 30)\n"
    "  --drain S           on SIGTERM, wait up to S seconds for requests in flight (default 10)\n"
    "  -v, --verbose       log one line per request on stderr\n"
    "  --tls-cert FILE     serve HTTPS with this PEM certificate (then any intermediate ones);\n"
    "                      SIGHUP rereads it and the key (a bad new pair keeps the old one serving)\n"
    "  --tls-key FILE      the certificate's unencrypted PEM private key (with --tls-cert)\n"
    "  --audit-key FILE    sign each line of the audit log (HOME/audit/audit.log) with this\n"
    "                      Ed25519 key (mlplane audit keygen --out FILE; mode 0600)\n"
    "  --auth              require credentials on every request but /healthz and /readyz: a token\n"
    "                      (Authorization: Bearer) or a user's password (Basic); see docs/security.md\n"
    "  --init-admin        with --auth: create the user \"admin\" (cluster-admin) and its first token,\n"
    "                      printed alone on the first line; only once (when no user \"admin\" exists)\n\n"
    "With --auth the Deployments check their callers too: /admin/ always, inference with\n"
    "spec.auth.inference: token, by asking this server (POST /api/v1/authz/review).\n\n"
    "Every mutating request, every denied one (403) and every login failure (401) is\n"
    "appended to HOME/audit/audit.log before it is answered (mlplane audit --help).\n"
    "Every answer carries an X-Request-Id header.\n\n"
    "A listen address other than loopback (127.0.0.1, ::1, localhost) needs --auth.\n"
    "The first line printed is \"mlplane server listening on URL (home DIR)\" (after the\n"
    "token with --init-admin).\n";

int cmd_server(cli_env *env, int argc, char **argv) {
    static const struct option longs[] = {CLI_HTTPD_LONGOPTS, {"home", required_argument, 0, 'H'},
                                          {"tls-cert", required_argument, 0, 'C'}, {"tls-key", required_argument, 0, 'K'},
                                          {"audit-key", required_argument, 0, 'A'}, {"auth", no_argument, 0, 'U'},
                                          {"init-admin", no_argument, 0, 'I'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    api_server_opts so = {.http = {.listen = "127.0.0.1:5000"}};
    mp_httpd_opts *o = &so.http;
    const char *home_flag = NULL;
    bool first_admin = false;
    mp_err e;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "vh", longs, NULL)) != -1) {
        int hrc = cli_httpd_option(c, optarg, o);
        if (hrc >= 0) {
            if (hrc) return hrc;
            continue;
        }
        switch (c) {
        case 'H': home_flag = optarg; break;
        case 'C': o->tls_cert = optarg; break;
        case 'K': o->tls_key = optarg; break;
        case 'A': so.audit_key = optarg; break;
        case 'U': so.auth = true; break;
        case 'I': so.auth = first_admin = true; break;
        case 'h': fputs(server_help, stdout); return CLI_OK;
        default: return cli_fail(CLI_USAGE, "unknown or incomplete option %s (see mlplane server --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_fail(CLI_USAGE, "server takes no arguments, got \"%s\"", argv[optind]);
    char host[256];
    int port;
    if (mp_http_parse_listen(o->listen, host, sizeof host, &port, &e) != 0) return cli_fail(CLI_USAGE, "%s", e.msg);
    if (mp_httpd_tls_check(o->tls_cert, o->tls_key, &e) != 0) return cli_fail(CLI_USAGE, "%s", e.msg);
    if (!so.auth && !loopback_host(host))
        return cli_fail(CLI_USAGE,
                        "refusing to listen on %s without authentication: anyone who can reach it could read and "
                        "change every run, model and deployment; add --auth (and --init-admin for a first admin "
                        "token), or listen on 127.0.0.1",
                        o->listen);

    /* Bound before the home is touched: a port in use leaves nothing behind. */
    int lfd = -1;
    char url[300];
    if (mp_http_listen_tcp(o->listen, &lfd, url, sizeof url, &e) != 0) return cli_fail(CLI_FAILED, "%s", e.msg);
    if (lfd <= 2) { /* (0-2 closed by our parent) the engine takes a descriptor above 2 */
        int hi = fcntl(lfd, F_DUPFD_CLOEXEC, 3);
        close(lfd);
        if (hi < 0) return cli_fail(CLI_FAILED, "cannot listen on %s: %s", o->listen, strerror(errno));
        lfd = hi;
    }
    o->listen_fd = lfd; /* the engine closes it on stop */
    char *home = NULL;
    if (store_home_resolve(home_flag ? home_flag : env->home_flag, &home, &e) != 0) {
        close(lfd);
        return cli_fail_err(&e);
    }
    so.home = home;
    sweep_artifacts(home);

    sigset_t set;
    cli_block_stop_signals(&set);

    api_server *s = NULL;
    if (api_server_start(&so, &s, &e) != 0) {
        free(home);
        return cli_fail(CLI_FAILED, "%s", e.msg);
    }
    serve_fleet_opts fo = {.home = home, .drain_s = o->drain_s, .auth_review = so.auth ? api_server_url(s) : NULL};
    serve_fleet *fleet = NULL;
    if (serve_fleet_start(&fo, &fleet, &e) != 0) {
        api_server_stop(s);
        free(home);
        return cli_fail(CLI_FAILED, "%s", e.msg);
    }
    api_monitors *mons = NULL;
    if (api_monitors_start(home, &mons, &e) != 0) {
        serve_fleet_stop(fleet);
        api_server_stop(s);
        free(home);
        return cli_fail(CLI_FAILED, "%s", e.msg);
    }
    if (first_admin && init_admin(home) != CLI_OK) {
        api_monitors_stop(mons);
        serve_fleet_stop(fleet);
        api_server_stop(s);
        free(home);
        return CLI_FAILED;
    }
    printf("mlplane server listening on %s (home %s)%s\n", api_server_url(s), home,
           so.auth ? ", authentication on" : "");
    fflush(stdout);
    int sig;
    while ((sig = cli_wait_stop_signal(&set)) == SIGHUP && o->tls_cert) {
        mp_err re = {0};
        if (api_server_reload_tls(s, &re) == 0)
            fprintf(stderr, "mlplane server: SIGHUP: reloaded the TLS certificate %s and key %s\n", o->tls_cert, o->tls_key);
        else
            fprintf(stderr, "mlplane server: SIGHUP: %s; the certificate loaded before goes on serving\n", re.msg);
    }
    if (o->verbose) fprintf(stderr, "mlplane server: %s, stopping\n", strsignal(sig));
    api_monitors_stop(mons);
    serve_fleet_stop(fleet); /* the deployments drain while the API still answers */
    api_server_stop(s);
    free(home);
    return CLI_OK;
}
