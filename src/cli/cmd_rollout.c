/* cmd_rollout.c — Deployments from the command line:
 *   mlplane rollout status NAME [-o table|json|yaml]
 *   mlplane rollout promote NAME [--percent N]     (default 100)
 *   mlplane rollout rollback NAME                  (the canary's percent to 0)
 *   mlplane get deployments [-o table|json|yaml]   (through cli_get_deployments)
 *   mlplane describe deployment NAME [-o ...]      (through cli_describe_deployment)
 * promote and rollback record the canary's percent in the home's store first
 * (it outlives restarts), then ask the running deployment, if any, to reread it
 * (POST /admin/rollout/reload): the next request each of its threads routes
 * follows the new split, and no request is dropped. status asks the running
 * deployment (GET /admin/rollout), else shows what the store holds; each of
 * them shows the deployment's state (Starting, Running, CrashLoopBackOff,
 * Stopped), ready/desired replicas, restarts and last error as mlplane server
 * recorded them, and describe (and status, the latest) its events. With
 * --server, the same through the server's /api/v1 (remote.c). */
#include "cli/cli.h"
#include "serve/serve.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char rollout_help[] =
    "Usage: mlplane rollout status NAME [-o table|json|yaml] [--home DIR]\n"
    "       mlplane rollout promote NAME [--percent N] [--home DIR]\n"
    "       mlplane rollout rollback NAME [--home DIR]\n\n"
    "Shows or changes the traffic split of a Deployment applied with mlplane apply.\n"
    "  status     its state as mlplane server recorded it (Starting, Running,\n"
    "             CrashLoopBackOff, Stopped), restarts, the last error and latest events;\n"
    "             the versions it serves, each one's share of the requests, requests\n"
    "             answered, replicas (ready/desired), requests in flight and per second\n"
    "  promote    gives the canary N% of the requests (default 100: all of them)\n"
    "  rollback   gives the canary 0%: every request goes to the stable version\n\n"
    "The new percent is recorded in the home's store (it holds across restarts, until\n"
    "the Deployment is applied again) and the running deployment rereads it at once:\n"
    "requests in flight finish where they are, no request is dropped.\n\n"
    "  --percent N        promote: the canary's share, 0 to 100\n"
    "  -o, --output FMT   status: table (default), json or yaml\n"
    "  --home DIR         the home the Deployment is applied to\n";

/* ---- state and events ------------------------------------------------------------------ */

/* The "status" object's fields (a server of an older mlplane may send none). */
typedef struct dep_state {
    const char *state, *message, *last_error;
    char ready[32], restarts[16], age[16];
} dep_state;

static void state_of(json_t *v, dep_state *d) {
    json_t *s = json_object_get(v, "status");
    d->state = cli_jstr(s, "state", "-");
    d->message = cli_jstr(s, "message", NULL);
    d->last_error = cli_jstr(s, "lastError", NULL);
    if (s) {
        snprintf(d->ready, sizeof d->ready, "%lld/%lld", (long long)json_integer_value(json_object_get(s, "ready")),
                 (long long)json_integer_value(json_object_get(s, "desired")));
        snprintf(d->restarts, sizeof d->restarts, "%lld", (long long)json_integer_value(json_object_get(s, "restarts")));
    } else {
        snprintf(d->ready, sizeof d->ready, "-");
        snprintf(d->restarts, sizeof d->restarts, "-");
    }
    cli_fmt_age(json_integer_value(json_object_get(s, "appliedMs")), d->age, sizeof d->age);
}


/* The lines on its state, after "Model:" (the deployment's status v). */
static void print_state(json_t *v) {
    dep_state d;
    state_of(v, &d);
    json_t *url = json_object_get(v, "url");
    printf("Status:      %s (%s ready, %s restarts)\n", d.state, d.ready, d.restarts);
    if (d.message) printf("Message:     %s\n", d.message);
    if (d.last_error && (!d.message || strcmp(d.message, d.last_error) != 0)) printf("Last error:  %s\n", d.last_error);
    if (json_is_string(url))
        printf("Serving:     %s (pid %d)\n", json_string_value(url), (int)json_integer_value(json_object_get(v, "pid")));
    else if (strcmp(d.state, "Stopped") == 0 || strcmp(d.state, "-") == 0)
        printf("Serving:     no (run it with mlplane server, or mlplane serve deployment/%s)\n", cli_jstr(v, "deployment", "-"));
    else
        printf("Serving:     no (%s)\n", d.state);
}

/* ---- status --------------------------------------------------------------------------- */

static void print_tracks(json_t *v) {
    static const char *const hdr[] = {"TRACK", "VERSION", "SHARE", "REQUESTS", "READY", "DESIRED", "IN FLIGHT", "RPS"};
    cli_table t;
    cli_table_init(&t, 8, hdr);
    size_t i;
    json_t *tr;
    json_array_foreach(json_object_get(v, "tracks"), i, tr) {
        char version[160], share[32], req[64] = "-", ready[16] = "-", desired[16] = "-", inflight[16] = "-", rps[32] = "-";
        const char *named = cli_jstr(tr, "named", "-");
        if (named[0] == '@') snprintf(version, sizeof version, "%s (%s)", cli_jstr(tr, "version", "-"), named);
        else snprintf(version, sizeof version, "%s", cli_jstr(tr, "version", "-"));
        json_t *pc = json_object_get(tr, "percent");
        if (pc) snprintf(share, sizeof share, "%lld%%", (long long)json_integer_value(pc));
        else snprintf(share, sizeof share, "copy of %g%%", 100 * json_number_value(json_object_get(tr, "sampleRate")));
        json_t *n = json_object_get(tr, "requests");
        if (n) {
            snprintf(req, sizeof req, "%lld", (long long)json_integer_value(n));
            json_t *dr = json_object_get(tr, "dropped");
            if (dr && json_integer_value(dr) > 0)
                snprintf(req + strlen(req), sizeof req - strlen(req), " (%lld dropped)", (long long)json_integer_value(dr));
        }
        if (json_object_get(tr, "ready")) {
            snprintf(ready, sizeof ready, "%lld", (long long)json_integer_value(json_object_get(tr, "ready")));
            snprintf(desired, sizeof desired, "%lld", (long long)json_integer_value(json_object_get(tr, "desired")));
            snprintf(inflight, sizeof inflight, "%lld", (long long)json_integer_value(json_object_get(tr, "inflight")));
            snprintf(rps, sizeof rps, "%.1f", json_number_value(json_object_get(tr, "rps")));
        }
        const char *row[] = {cli_jstr(tr, "track", "-"), version, share, req, ready, desired, inflight, rps};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    json_t *log = json_object_get(v, "requestLog");
    if (log)
        printf("\nRequest log: %s (%g%% of the requests, %lld lines written)\n", cli_jstr(log, "path", "-"),
               100 * json_number_value(json_object_get(log, "sampleRate")),
               (long long)json_integer_value(json_object_get(log, "logged")));
}

void cli_print_rollout_status(json_t *v) {
    printf("Deployment:  %s\n", cli_jstr(v, "deployment", "-"));
    printf("Model:       %s\n", cli_jstr(v, "model", "-"));
    print_state(v);
    printf("Split:       %s\n", strcmp(cli_jstr(v, "percentFrom", "-"), "rollout") == 0 ? "set by mlplane rollout" : "as the spec says");
    if (json_is_string(json_object_get(v, "stickyHeader"))) printf("Sticky by:   %s\n", cli_jstr(v, "stickyHeader", "-"));
    printf("\n");
    print_tracks(v);
    cli_print_events(v, 5);
}

void cli_print_deployment_describe(json_t *v) {
    json_t *s = json_object_get(v, "status");
    char applied[40], started[40], age[16];
    mp_format_time(json_integer_value(json_object_get(s, "appliedMs")), applied, sizeof applied);
    cli_fmt_age(json_integer_value(json_object_get(s, "appliedMs")), age, sizeof age);
    mp_format_time(json_integer_value(json_object_get(s, "startedMs")), started, sizeof started);
    printf("Name:        %s\n", cli_jstr(v, "deployment", "-"));
    printf("Model:       %s\n", cli_jstr(v, "model", "-"));
    printf("Applied:     %s (%s ago)\n", applied, age);
    print_state(v);
    if (json_object_get(s, "startedMs")) printf("Started:     %s\n", started);
    if (json_object_get(s, "serverPid"))
        printf("Supervisor:  mlplane server (pid %lld)\n", (long long)json_integer_value(json_object_get(s, "serverPid")));
    printf("Split:       %s\n", strcmp(cli_jstr(v, "percentFrom", "-"), "rollout") == 0 ? "set by mlplane rollout" : "as the spec says");
    if (json_is_string(json_object_get(v, "stickyHeader"))) printf("Sticky by:   %s\n", cli_jstr(v, "stickyHeader", "-"));
    printf("\n");
    print_tracks(v);
    cli_print_events(v, 0);
}

int cli_print_rollout_set(const char *name, const char *canary, int was, int percent, bool running, bool told,
                          const char *why) {
    printf("deployment %s: the canary (version %s) gets %d%% of the requests (was %d%%)\n", name, canary, percent, was);
    if (!running) {
        printf("deployment %s is not running: the split applies when it starts\n", name);
        return CLI_OK;
    }
    if (told) return CLI_OK;
    return cli_fail(CLI_FAILED, "recorded, but the running deployment did not reread it (%s); it will within 2 seconds",
                    why ? why : "?");
}

/* ---- the command ---------------------------------------------------------------------- */

int cmd_rollout(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(rollout_help, stdout);
        return CLI_OK;
    }
    static const struct option longs[] = {{"percent", required_argument, 0, 'p'},
                                          {"output", required_argument, 0, 'o'},
                                          {"home", required_argument, 0, 'H'},
                                          {0, 0, 0, 0}};
    const char *home_flag = env->home_flag;
    int percent = -1;
    cli_out out = OUT_TABLE;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", longs, NULL)) != -1) {
        if (c == 'p') {
            if (cli_parse_int("--percent", optarg, 0, 100, &percent)) return CLI_USAGE;
        } else if (c == 'o') {
            if (cli_parse_out(optarg, &out)) return CLI_USAGE;
        } else if (c == 'H') {
            home_flag = optarg;
        } else {
            return cli_fail(CLI_USAGE, "rollout: unknown or incomplete option %s (see mlplane rollout --help)",
                            argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return cli_fail(CLI_USAGE, "usage: mlplane rollout status|promote|rollback NAME (see mlplane rollout --help)");
    const char *verb = argv[optind], *name = argv[optind + 1];
    bool status_verb = strcmp(verb, "status") == 0, promote = strcmp(verb, "promote") == 0,
         rollback = strcmp(verb, "rollback") == 0;
    if (!status_verb && !promote && !rollback)
        return cli_fail(CLI_USAGE, "rollout %s: expected status, promote or rollback", verb);
    if (percent >= 0 && !promote) return cli_fail(CLI_USAGE, "--percent goes with promote");
    if (out != OUT_TABLE && !status_verb) return cli_fail(CLI_USAGE, "-o goes with status");
    if (promote && percent < 0) percent = 100;
    if (rollback) percent = 0;
    if (home_flag) env->home_flag = home_flag;
    return env->backend->rollout(env, name, status_verb ? -1 : percent, out);
}

int cli_local_rollout(cli_env *env, const char *name, int percent, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
    mp_err e = {0};
    int status = CLI_OK;
    if (percent < 0) {
        char warn[1024] = "";
        json_t *v = serve_deploy_status_of(st, home, name, warn, sizeof warn, &e);
        if (warn[0]) fprintf(stderr, "mlplane: %s\n", warn);
        if (!v) status = cli_fail_err(&e);
        else if (out == OUT_TABLE) cli_print_rollout_status(v);
        else status = cli_print_json(v, out);
        json_decref(v);
    } else {
        serve_rollout_result res;
        if (serve_deploy_set_percent(st, home, name, percent, &res, &e) != 0) status = cli_fail_err(&e);
        else status = cli_print_rollout_set(name, res.canary, res.was, res.percent, res.running, res.told, res.why);
    }
    st->m->close(st);
    free(home);
    return status;
}

int cli_print_deployments(json_t *all, cli_out out) {
    if (out != OUT_TABLE) return cli_print_json(all, out);
    static const char *const hdr[] = {"NAME",   "READY",  "STATUS", "RESTARTS", "AGE",    "MODEL",
                                      "STABLE", "CANARY", "SHADOW", "URL",      "MESSAGE"};
    cli_table t;
    cli_table_init(&t, 11, hdr);
    size_t k;
    json_t *v;
    json_array_foreach(all, k, v) {
        char cell[3][96] = {"-", "-", "-"};
        size_t j;
        json_t *tr;
        json_array_foreach(json_object_get(v, "tracks"), j, tr) {
            const char *tn = cli_jstr(tr, "track", "-");
            int slot = strcmp(tn, "stable") == 0 ? 0 : strcmp(tn, "canary") == 0 ? 1 : 2;
            json_t *pc = json_object_get(tr, "percent");
            if (pc) snprintf(cell[slot], sizeof cell[slot], "%s (%lld%%)", cli_jstr(tr, "version", "-"), (long long)json_integer_value(pc));
            else snprintf(cell[slot], sizeof cell[slot], "%s", cli_jstr(tr, "version", "-"));
        }
        dep_state d;
        state_of(v, &d);
        const char *msg = strcmp(d.state, "Running") == 0 || !d.message ? "" : d.message;
        const char *row[] = {cli_jstr(v, "deployment", "-"), d.ready, d.state, d.restarts, d.age, cli_jstr(v, "model", "-"),
                             cell[0], cell[1], cell[2], cli_jstr(v, "url", "-"), msg};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout); /* an empty list: get's "No resources found." */
    cli_table_free(&t);
    return CLI_OK;
}

/* get deployments: each applied Deployment with its versions, split and where it runs. */
int cli_get_deployments(cli_env *env, const char *home_flag, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, home_flag, &home, &st)) return CLI_FAILED;
    mp_err e = {0};
    int status = CLI_OK;
    json_t *all = serve_deploy_status_all(st, home, &e);
    if (!all) status = cli_fail_err(&e);
    if (status == CLI_OK) status = cli_print_deployments(all, out);
    json_decref(all);
    st->m->close(st);
    free(home);
    return status;
}

/* describe deployment NAME: its state, versions, split, replicas and events. */
int cli_describe_deployment(cli_env *env, const char *home_flag, const char *name, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, home_flag, &home, &st)) return CLI_FAILED;
    mp_err e = {0};
    int status = CLI_OK;
    char warn[1024] = "";
    json_t *v = serve_deploy_status_of(st, home, name, warn, sizeof warn, &e);
    if (warn[0]) fprintf(stderr, "mlplane: %s\n", warn);
    if (!v) status = cli_fail_err(&e);
    else if (out == OUT_TABLE) cli_print_deployment_describe(v);
    else status = cli_print_json(v, out);
    json_decref(v);
    st->m->close(st);
    free(home);
    return status;
}
