/* cmd_rollout.c — Deployments from the command line:
 *   mlplane rollout status NAME [-o table|json|yaml]
 *   mlplane rollout promote NAME [--percent N]     (default 100)
 *   mlplane rollout rollback NAME                  (the canary's percent to 0)
 *   mlplane get deployments [-o table|json|yaml]   (through cli_get_deployments)
 * promote and rollback record the canary's percent in the home's store first
 * (it outlives restarts), then ask the running deployment, if any, to reread it
 * (POST /admin/rollout/reload): the next request each of its threads routes
 * follows the new split, and no request is dropped. status asks the running
 * deployment (GET /admin/rollout), else shows what the store holds. */
#include "cli/cli.h"
#include "serve/serve.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char rollout_help[] =
    "Usage: mlplane rollout status NAME [-o table|json|yaml] [--home DIR]\n"
    "       mlplane rollout promote NAME [--percent N] [--home DIR]\n"
    "       mlplane rollout rollback NAME [--home DIR]\n\n"
    "Shows or changes the traffic split of a Deployment applied with mlplane apply.\n"
    "  status     the versions it serves, each one's share of the requests, requests\n"
    "             answered, replicas (ready/desired), requests in flight and per second\n"
    "  promote    gives the canary N% of the requests (default 100: all of them)\n"
    "  rollback   gives the canary 0%: every request goes to the stable version\n\n"
    "The new percent is recorded in the home's store (it holds across restarts, until\n"
    "the Deployment is applied again) and the running deployment rereads it at once:\n"
    "requests in flight finish where they are, no request is dropped.\n\n"
    "  --percent N        promote: the canary's share, 0 to 100\n"
    "  -o, --output FMT   status: table (default), json or yaml\n"
    "  --home DIR         the home the Deployment is applied to\n";

/* ---- the running deployment's admin endpoint ------------------------------------------ */

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
    mp_buf_append(ud, p, size * n);
    return size * n;
}

/* method path on the deployment at url: its JSON answer (a new reference), or NULL
 * with why in e. */
static json_t *admin_call(const char *url, const char *method, const char *path, mp_err *e) {
    CURL *c = curl_easy_init();
    if (!c) {
        mp_err_set(e, MP_EIO, "cannot make an HTTP client");
        return NULL;
    }
    char *full = mp_xasprintf("%s%s", url, path);
    mp_buf b;
    mp_buf_init(&b);
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    json_t *v = NULL;
    if (rc != CURLE_OK)
        mp_err_set(e, MP_EIO, "%s %s: %s", method, full, ebuf[0] ? ebuf : curl_easy_strerror(rc));
    else if (!(v = json_loadb(b.data ? b.data : "", b.len, 0, NULL)) || status != 200) {
        const char *why = json_string_value(json_object_get(v, "error"));
        mp_err_set(e, MP_EIO, "%s %s answered %ld: %s", method, full, status, why ? why : "not JSON");
        json_decref(v);
        v = NULL;
    }
    mp_buf_free(&b);
    free(full);
    curl_easy_cleanup(c);
    return v;
}

/* ---- status --------------------------------------------------------------------------- */

static const char *str(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void print_status(json_t *v) {
    json_t *url = json_object_get(v, "url");
    printf("Deployment:  %s\n", str(v, "deployment"));
    printf("Model:       %s\n", str(v, "model"));
    if (json_is_string(url))
        printf("Serving:     %s (pid %d)\n", json_string_value(url), (int)json_integer_value(json_object_get(v, "pid")));
    else
        printf("Serving:     no (run it with mlplane server, or mlplane serve deployment/%s)\n", str(v, "deployment"));
    printf("Split:       %s\n", strcmp(str(v, "percentFrom"), "rollout") == 0 ? "set by mlplane rollout" : "as the spec says");
    if (json_is_string(json_object_get(v, "stickyHeader"))) printf("Sticky by:   %s\n", str(v, "stickyHeader"));
    printf("\n");
    static const char *const hdr[] = {"TRACK", "VERSION", "SHARE", "REQUESTS", "READY", "DESIRED", "IN FLIGHT", "RPS"};
    cli_table t;
    cli_table_init(&t, 8, hdr);
    size_t i;
    json_t *tr;
    json_array_foreach(json_object_get(v, "tracks"), i, tr) {
        char version[160], share[32], req[64] = "-", ready[16] = "-", desired[16] = "-", inflight[16] = "-", rps[32] = "-";
        const char *named = str(tr, "named");
        if (named[0] == '@') snprintf(version, sizeof version, "%s (%s)", str(tr, "version"), named);
        else snprintf(version, sizeof version, "%s", str(tr, "version"));
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
        const char *row[] = {str(tr, "track"), version, share, req, ready, desired, inflight, rps};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    json_t *log = json_object_get(v, "requestLog");
    if (log)
        printf("\nRequest log: %s (%g%% of the requests, %lld lines written)\n", str(log, "path"),
               100 * json_number_value(json_object_get(log, "sampleRate")),
               (long long)json_integer_value(json_object_get(log, "logged")));
}

/* The status from the store alone: the spec's versions and the recorded percent. */
static json_t *stored_status(store *st, const char *name, mp_err *e) {
    spec_file *f = NULL;
    const spec_deployment *d = NULL;
    if (serve_deploy_load(st, name, &f, &d, e) != 0) return NULL;
    int percent = d->canary.set ? d->canary.percent : 0;
    bool found = false;
    int recorded = 0;
    if (st->m->rollout_get(st, name, &recorded, &found, e) != 0) {
        spec_file_free(f);
        return NULL;
    }
    if (found) percent = recorded;
    json_t *tracks = json_array();
    const spec_model_version *mv[3] = {&d->version, d->canary.set ? &d->canary.target : NULL,
                                       d->shadow.set ? &d->shadow.target : NULL};
    static const char *const names[3] = {"stable", "canary", "shadow"};
    for (int t = 0; t < 3; t++) {
        if (!mv[t]) continue;
        char v[280];
        if (mv[t]->alias) snprintf(v, sizeof v, "@%s", mv[t]->alias);
        else snprintf(v, sizeof v, "%lld", (long long)mv[t]->version);
        json_t *o = json_pack("{s:s,s:s,s:s}", "track", names[t], "version", v, "named", v);
        if (t == 0) json_object_set_new(o, "percent", json_integer(d->canary.set ? 100 - percent : 100));
        else if (t == 1) json_object_set_new(o, "percent", json_integer(percent));
        else json_object_set_new(o, "sampleRate", json_real(d->shadow.sample_rate));
        json_array_append_new(tracks, o);
    }
    json_t *v = json_pack("{s:s,s:s,s:n,s:o,s:s?,s:s}", "deployment", name, "model", d->model, "url", "tracks", tracks,
                          "stickyHeader", d->sticky_header, "percentFrom", found ? "rollout" : "spec");
    spec_file_free(f);
    return v;
}

/* The deployment's status: live when it runs, else from the store (a new reference). */
static json_t *status_of(store *st, const char *home, const char *name, mp_err *e) {
    char *url = NULL;
    json_t *v = NULL;
    int pid = 0;
    if (serve_deploy_running(home, name, &url, &pid)) {
        v = admin_call(url, "GET", "/admin/rollout", e);
        if (!v) /* it runs but did not answer (starting, stopping): say so, then show what the store holds */
            fprintf(stderr, "mlplane: deployment %s runs (pid %d) but did not answer: %s; showing the store's view\n",
                    name, pid, e->msg);
    }
    free(url);
    return v ? v : stored_status(st, name, e);
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
    if (env->server) return cli_fail(CLI_USAGE, "rollout works on the home's store; it does not work through --server yet");
    if (promote && percent < 0) percent = 100;
    if (rollback) percent = 0;

    char *home = NULL;
    store *st = NULL;
    if (cli_open_store(env, home_flag, &home, &st)) {
        free(home);
        return CLI_FAILED;
    }
    mp_err e = {0};
    int status = CLI_OK;
    if (status_verb) {
        json_t *v = status_of(st, home, name, &e);
        if (!v) status = cli_fail_err(&e);
        else if (out == OUT_TABLE) print_status(v);
        else status = cli_print_json(v, out);
        json_decref(v);
    } else {
        spec_file *f = NULL;
        const spec_deployment *d = NULL;
        int rc = serve_deploy_load(st, name, &f, &d, &e);
        if (rc == 0 && !d->canary.set)
            rc = mp_err_set(&e, MP_EINVAL, "Deployment \"%s\" has no canary to %s: give it spec.canary and apply it again",
                            name, verb);
        int was = 0;
        bool found = false;
        if (rc == 0) rc = st->m->rollout_get(st, name, &was, &found, &e);
        if (rc == 0 && !found) was = d->canary.percent;
        if (rc == 0) rc = st->m->begin(st, &e);
        if (rc == 0) {
            rc = st->m->rollout_set(st, name, percent, &e);
            if (rc == 0) rc = st->m->commit(st, &e);
            else st->m->rollback(st);
        }
        if (rc != 0) {
            status = cli_fail_err(&e);
        } else {
            char cv[280];
            if (d->canary.target.alias) snprintf(cv, sizeof cv, "@%s", d->canary.target.alias);
            else snprintf(cv, sizeof cv, "%lld", (long long)d->canary.target.version);
            printf("deployment %s: the canary (version %s) gets %d%% of the requests (was %d%%)\n", name, cv, percent,
                   was);
            char *url = NULL;
            if (serve_deploy_running(home, name, &url, NULL)) {
                json_t *v = admin_call(url, "POST", "/admin/rollout/reload", &e);
                if (!v) status = cli_fail(CLI_FAILED, "recorded, but the running deployment did not reread it (%s); it "
                                                      "will within 2 seconds", e.msg);
                json_decref(v);
            } else {
                printf("deployment %s is not running: the split applies when it starts\n", name);
            }
            free(url);
        }
        spec_file_free(f);
    }
    st->m->close(st);
    free(home);
    return status;
}

/* get deployments: each applied Deployment with its versions, split and where it runs. */
int cli_get_deployments(cli_env *env, const char *home_flag, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store(env, home_flag, &home, &st)) {
        free(home);
        return CLI_FAILED;
    }
    store_object *objs = NULL;
    size_t n = 0;
    mp_err e = {0};
    int status = CLI_OK;
    json_t *all = json_array();
    if (st->m->object_list(st, &objs, &n, &e) != 0) status = cli_fail_err(&e);
    for (size_t i = 0; i < n && status == CLI_OK; i++) {
        if (strcmp(objs[i].kind, "Deployment") != 0) continue;
        json_t *v = status_of(st, home, objs[i].name, &e);
        if (!v) status = cli_fail_err(&e);
        else json_array_append_new(all, v);
    }
    if (status == CLI_OK && out != OUT_TABLE) {
        status = cli_print_json(all, out);
    } else if (status == CLI_OK) {
        static const char *const hdr[] = {"NAME", "MODEL", "STABLE", "CANARY", "SHADOW", "URL"};
        cli_table t;
        cli_table_init(&t, 6, hdr);
        size_t k;
        json_t *v;
        json_array_foreach(all, k, v) {
            char cell[3][96] = {"-", "-", "-"};
            size_t j;
            json_t *tr;
            json_array_foreach(json_object_get(v, "tracks"), j, tr) {
                const char *tn = str(tr, "track");
                int slot = strcmp(tn, "stable") == 0 ? 0 : strcmp(tn, "canary") == 0 ? 1 : 2;
                json_t *pc = json_object_get(tr, "percent");
                if (pc) snprintf(cell[slot], sizeof cell[slot], "%s (%lld%%)", str(tr, "version"), (long long)json_integer_value(pc));
                else snprintf(cell[slot], sizeof cell[slot], "%s", str(tr, "version"));
            }
            const char *row[] = {str(v, "deployment"), str(v, "model"), cell[0], cell[1], cell[2], str(v, "url")};
            cli_table_add(&t, row);
        }
        if (t.nrows <= 1) printf("No deployments applied (mlplane apply -f FILE).\n");
        else cli_table_print(&t, stdout);
        cli_table_free(&t);
    }
    json_decref(all);
    store_object_array_free(objs, n);
    st->m->close(st);
    free(home);
    return status;
}
