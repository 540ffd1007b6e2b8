/* cmd_get.c — read-only commands: get runs|steps|metrics, describe run, logs.
 * They only read the store and log files, so they are safe beside running runs. */
#include "track/track.h"
#include "cli/cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct get_opts {
    const char *home;
    cli_out out;
    bool follow;
    int npos;
    char *pos[4];
} get_opts;

/* Parses [-o FMT] [--home DIR] [-f] and up to 4 positional arguments. */
static int parse_common(int argc, char **argv, get_opts *g, bool allow_follow) {
    static const struct option longs[] = {{"output", required_argument, 0, 'o'},
                                          {"home", required_argument, 0, 'H'},
                                          {"follow", no_argument, 0, 'f'},
                                          {0, 0, 0, 0}};
    memset(g, 0, sizeof *g);
    optind = 0; /* full re-initialisation of GNU getopt, which permutes positionals last */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:f", longs, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (cli_parse_out(optarg, &g->out)) return CLI_USAGE;
            break;
        case 'H': g->home = optarg; break;
        case 'f':
            if (!allow_follow) return cli_fail(CLI_USAGE, "-f is only for mlplane logs");
            g->follow = true;
            break;
        default: return cli_fail(CLI_USAGE, "unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    while (optind < argc) {
        if (g->npos >= 4) return cli_fail(CLI_USAGE, "too many arguments");
        g->pos[g->npos++] = argv[optind++];
    }
    return 0;
}

int cli_local_get_runs(cli_env *env, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
    store_run *runs = NULL;
    size_t n = 0;
    mp_err e;
    int rc = st->m->run_list(st, 0, &runs, &n, &e);
    if (rc == 0) engine_runs_settle(st, runs, n);
    int status = CLI_OK;
    if (rc) {
        status = cli_fail_err(&e);
    } else if (out == OUT_TABLE) {
        static const char *const hdr[] = {"RUN", "PIPELINE", "STATE", "STEPS", "CREATED", "DURATION"};
        cli_table t;
        cli_table_init(&t, 6, hdr);
        for (size_t i = 0; i < n && status == CLI_OK; i++) {
            store_step *steps = NULL;
            size_t ns = 0;
            if (st->m->step_list(st, runs[i].id, &steps, &ns, &e) != 0) {
                status = cli_fail_err(&e);
                break;
            }
            size_t done = 0;
            for (size_t j = 0; j < ns; j++) done += api_step_done(&steps[j]);
            char stepc[32], created[40], dur[32];
            snprintf(stepc, sizeof stepc, "%zu/%zu", done, ns);
            mp_format_time(runs[i].created_ms, created, sizeof created);
            int64_t end = runs[i].ended_ms ? runs[i].ended_ms : mp_now_ms();
            if (runs[i].started_ms) mp_format_duration(end - runs[i].started_ms, dur, sizeof dur);
            else mp_strlcpy(dur, "-", sizeof dur);
            const char *row[] = {runs[i].id, runs[i].pipeline, api_run_state_shown(&runs[i]), stepc, created, dur};
            cli_table_add(&t, row);
            store_step_array_free(steps, ns);
        }
        if (status == CLI_OK) cli_table_print(&t, stdout);
        cli_table_free(&t);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n && status == CLI_OK; i++) {
            store_step *steps = NULL;
            size_t ns = 0;
            if (st->m->step_list(st, runs[i].id, &steps, &ns, &e) != 0) status = cli_fail_err(&e);
            else json_array_append_new(arr, api_run_json(&runs[i], steps, ns));
            store_step_array_free(steps, ns);
        }
        if (status == CLI_OK) status = cli_print_json(arr, out);
        json_decref(arr);
    }
    store_run_array_free(runs, n);
    st->m->close(st);
    free(home);
    return status;
}

/* Loads a run, its steps and metrics; prints the error and returns non-zero when it cannot. */
typedef struct run_bundle {
    char *home;
    store *st;
    store_run run;
    store_step *steps;
    size_t nsteps;
    store_metric *metrics;
    size_t nmetrics;
} run_bundle;

static int load_bundle(cli_env *env, const char *id, run_bundle *b) {
    memset(b, 0, sizeof *b);
    if (cli_open_store_existing(env, NULL, &b->home, &b->st)) return CLI_FAILED;
    mp_err e;
    int rc = b->st->m->run_get(b->st, id, &b->run, &e);
    if (rc == 0) engine_runs_settle(b->st, &b->run, 1);
    if (rc == 0) rc = b->st->m->step_list(b->st, b->run.id, &b->steps, &b->nsteps, &e);
    if (rc == 0) rc = b->st->m->metric_list(b->st, b->run.id, &b->metrics, &b->nmetrics, &e);
    if (rc) return cli_fail_err(&e);
    return 0;
}

static void free_bundle(run_bundle *b) {
    store_step_array_free(b->steps, b->nsteps);
    store_metric_array_free(b->metrics, b->nmetrics);
    store_run_free(&b->run);
    if (b->st) b->st->m->close(b->st);
    free(b->home);
}

/* A step's params_json as "lr=0.1, depth=4" (heap; "" when none). */
static char *step_params(const store_step *s) {
    json_error_t je;
    json_t *p = s->params_json ? json_loads(s->params_json, 0, &je) : NULL;
    char *text = api_params_text(p);
    json_decref(p);
    return text;
}

static int get_steps(cli_env *env, cli_out out, const char *id) {
    run_bundle b;
    int status = load_bundle(env, id, &b);
    if (status == 0 && out == OUT_TABLE) {
        /* A run with a sweep shows each trial's param values (the sweep step's: its best's). */
        static const char *const hdr[] = {"STEP", "STATE", "ATTEMPTS", "EXIT", "DURATION", "MESSAGE"};
        static const char *const hdrp[] = {"STEP", "STATE", "ATTEMPTS", "EXIT", "DURATION", "PARAMS", "MESSAGE"};
        bool sweep = false;
        for (size_t i = 0; i < b.nsteps; i++) sweep = sweep || b.steps[i].params_json;
        cli_table t;
        cli_table_init(&t, sweep ? 7 : 6, sweep ? hdrp : hdr);
        for (size_t i = 0; i < b.nsteps; i++) {
            store_step *s = &b.steps[i];
            char att[16], ex[16], dur[32];
            snprintf(att, sizeof att, "%d", s->attempts);
            if (s->exit_code >= 0) snprintf(ex, sizeof ex, "%d", s->exit_code);
            else mp_strlcpy(ex, "-", sizeof ex);
            int64_t end = s->ended_ms ? s->ended_ms : mp_now_ms();
            if (s->started_ms) mp_format_duration(end - s->started_ms, dur, sizeof dur);
            else mp_strlcpy(dur, "-", sizeof dur);
            char *params = step_params(s);
            const char *msg = s->message ? s->message : "";
            const char *row[] = {s->name, store_step_state_name(s->state), att, ex, dur, sweep ? params : msg, msg};
            cli_table_add(&t, row);
            free(params);
        }
        cli_table_print(&t, stdout);
        cli_table_free(&t);
    } else if (status == 0) {
        json_t *arr = json_array();
        for (size_t i = 0; i < b.nsteps; i++) json_array_append_new(arr, api_step_json(&b.steps[i], b.metrics, b.nmetrics));
        status = cli_print_json(arr, out);
        json_decref(arr);
    }
    free_bundle(&b);
    return status;
}

static int get_metrics(cli_env *env, cli_out out, const char *id) {
    run_bundle b;
    int status = load_bundle(env, id, &b);
    if (status == 0 && out == OUT_TABLE) {
        static const char *const hdr[] = {"STEP", "METRIC", "VALUE"};
        cli_table t;
        cli_table_init(&t, 3, hdr);
        for (size_t i = 0; i < b.nmetrics; i++) {
            char v[64];
            double x = b.metrics[i].value;
            if (isnan(x) || isinf(x)) snprintf(v, sizeof v, "%s", isnan(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity");
            else snprintf(v, sizeof v, "%.6g", x);
            const char *row[] = {b.metrics[i].step, b.metrics[i].key, v};
            cli_table_add(&t, row);
        }
        cli_table_print(&t, stdout);
        cli_table_free(&t);
    } else if (status == 0) {
        json_t *arr = json_array();
        for (size_t i = 0; i < b.nmetrics; i++)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:o}", "step", b.metrics[i].step, "key", b.metrics[i].key,
                                                 "value", track_double_json(b.metrics[i].value)));
        status = cli_print_json(arr, out);
        json_decref(arr);
    }
    free_bundle(&b);
    return status;
}

int cli_local_get_run_items(cli_env *env, const char *what, const char *run, cli_out out) {
    return strcmp(what, "metrics") == 0 ? get_metrics(env, out, run) : get_steps(env, out, run);
}

static const char get_help[] =
    "Usage: mlplane get KIND [ARG] [-o table|wide|json|yaml|name|jsonpath=TEMPLATE] [-l SELECTOR] [--limit N]\n"
    "                        [--show-labels] [-w]\n"
    "       e.g. mlplane get runs, get steps RUN, get metrics RUN, get nodes, get deploy -o name\n\n"
    "KIND: runs (run), steps RUN, metrics RUN, experiments, nodes, queue, deployments (deploy), monitors (mon),\n"
    "      clusterqueues (cq), localqueues (lq), priorityclasses (pc), resourceflavors (rf), secrets (key\n"
    "      names only: values are never shown), retentionpolicies (retention),\n"
    "      roles, rolebindings, clusterroles, clusterrolebindings\n\n"
    "RUN may be a unique prefix of a run id. -o json|yaml print every field; -o name prints\n"
    "KIND/NAME lines; -o jsonpath=TEMPLATE evaluates a template such as\n"
    "'{range .items[*]}{.id}{\"\\n\"}{end}' over the JSON -o json prints.\n"
    "-l key=value,key==value,key!=value,key,!key keeps the items whose labels match all\n"
    "(runs: their pipeline's metadata.labels; a key that is no label is looked up in the\n"
    "params, then pipeline, state, ...). --limit N keeps the first N (runs: the most recent).\n"
    "--show-labels adds a LABELS column to the table.\n"
    "-w keeps watching: prints a row again whenever it changes, until interrupted.\n";

typedef struct get_kind get_kind;

/* What get was asked: the kind's words and the list options. */
typedef struct get_req {
    get_opts g;
    cli_list_opts lo;
    const get_kind *kind;
} get_req;

/* One kind `get` lists: its names (plural, singular, short) and what -o name
 * prints (the singular), the handler that fetches the list once in a format,
 * how many arguments follow the kind, and whether it works through --server. */
struct get_kind {
    const char *kind, *singular, *shortname;
    int (*fetch)(cli_env *env, const get_req *q, cli_out out);
    int nargs;         /* 0, or 1: the run (steps RUN, metrics RUN) */
    bool remote;       /* works through --server */
    const char *for_one; /* with nargs 0, how to see one (said when an argument is given), or NULL */
};

static int parse_get(int argc, char **argv, get_req *q) {
    static const struct option longs[] = {{"output", required_argument, 0, 'o'},   {"home", required_argument, 0, 'H'},
                                          {"selector", required_argument, 0, 'l'}, {"limit", required_argument, 0, 'L'},
                                          {"watch", no_argument, 0, 'w'},          {"show-labels", no_argument, 0, 'S'},
                                          {0, 0, 0, 0}};
    memset(q, 0, sizeof *q);
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:l:w", longs, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (cli_list_parse_out(optarg, &q->lo)) return CLI_USAGE;
            break;
        case 'H': q->g.home = optarg; break;
        case 'l': q->lo.selector = optarg; break;
        case 'L':
            if (cli_parse_int("--limit", optarg, 1, 1000000, &q->lo.limit)) return CLI_USAGE;
            break;
        case 'w': q->lo.watch = true; break;
        case 'S': q->lo.show_labels = true; break;
        default: return cli_fail(CLI_USAGE, "unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    while (optind < argc) {
        if (q->g.npos >= 4) return cli_fail(CLI_USAGE, "too many arguments");
        q->g.pos[q->g.npos++] = argv[optind++];
    }
    return 0;
}

static int f_runs(cli_env *env, const get_req *q, cli_out out) {
    (void)q;
    return env->backend->get_runs(env, out);
}
static int f_run_items(cli_env *env, const get_req *q, cli_out out) {
    return env->backend->get_run_items(env, q->kind->kind, q->g.pos[1], out);
}
static int f_experiments(cli_env *env, const get_req *q, cli_out out) {
    (void)q;
    return env->backend->get_experiments(env, out);
}
static int f_nodes(cli_env *env, const get_req *q, cli_out out) {
    (void)q;
    return env->backend->get_nodes(env, out);
}
static int f_queue(cli_env *env, const get_req *q, cli_out out) {
    (void)q;
    return env->backend->get_queue(env, out);
}
static int f_deployments(cli_env *env, const get_req *q, cli_out out) {
    (void)q;
    return env->backend->get_deployments(env, out);
}
static int f_monitors(cli_env *env, const get_req *q, cli_out out) {
    (void)q;
    return cli_get_monitors(env, NULL, out);
}
static int f_secrets(cli_env *env, const get_req *q, cli_out out) {
    (void)q;
    return cli_get_secrets(env, NULL, out);
}

static int f_retention(cli_env *env, const get_req *q, cli_out out) {
    (void)q;
    return cli_get_retention(env, out);
}
static int f_objects(cli_env *env, const get_req *q, cli_out out) {
    return env->backend->get_objects(env, q->kind->kind, out);
}

static const get_kind kinds[] = {
    {"runs", "run", NULL, f_runs, 0, true, "to see one run use mlplane describe run RUN"},
    {"steps", "step", NULL, f_run_items, 1, true, NULL},
    {"metrics", "metric", NULL, f_run_items, 1, true, NULL},
    {"experiments", "experiment", NULL, f_experiments, 0, true, NULL},
    {"nodes", "node", "no", f_nodes, 0, true, NULL},
    {"queue", "queue", NULL, f_queue, 0, false, NULL},
    {"deployments", "deployment", "deploy", f_deployments, 0, true, "for one use mlplane rollout status NAME"},
    {"monitors", "monitor", "mon", f_monitors, 0, true, "for one use mlplane describe monitor NAME"},
    {"clusterqueues", "clusterqueue", "cq", f_objects, 0, false, NULL},
    {"localqueues", "localqueue", "lq", f_objects, 0, false, NULL},
    {"priorityclasses", "priorityclass", "pc", f_objects, 0, false, NULL},
    {"resourceflavors", "resourceflavor", "rf", f_objects, 0, false, NULL},
    {"secrets", "secret", NULL, f_secrets, 0, false, "for one use mlplane describe secret [NAMESPACE/]NAME"},
    {"retentionpolicies", "retentionpolicy", "retention", f_retention, 0, false, "mlplane gc --dry-run shows what they expire"},
    {"roles", "role", NULL, f_objects, 0, false, NULL},
    {"rolebindings", "rolebinding", NULL, f_objects, 0, false, NULL},
    {"clusterroles", "clusterrole", NULL, f_objects, 0, false, NULL},
    {"clusterrolebindings", "clusterrolebinding", NULL, f_objects, 0, false, NULL},
};
enum { NKINDS = sizeof kinds / sizeof kinds[0] };

static int fetch_kind(cli_env *env, void *ctx, cli_out out) {
    get_req *q = ctx;
    q->g.out = out;
    return q->kind->fetch(env, q, out);
}

int cmd_get(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(get_help, stdout);
        return CLI_OK;
    }
    get_req q;
    if (parse_get(argc, argv, &q)) return CLI_USAGE;
    if (q.g.home) env->home_flag = q.g.home;
    if (q.g.npos < 1) return cli_fail(CLI_USAGE, "get needs what to list: runs, steps RUN, metrics RUN, experiments or nodes");
    const char *what = q.g.pos[0];
    for (size_t i = 0; i < NKINDS && !q.kind; i++)
        if (strcmp(what, kinds[i].kind) == 0 || strcmp(what, kinds[i].singular) == 0 ||
            (kinds[i].shortname && strcmp(what, kinds[i].shortname) == 0))
            q.kind = &kinds[i];
    if (!q.kind) {
        mp_buf list;
        mp_buf_init(&list);
        for (size_t i = 0; i < NKINDS; i++) {
            mp_buf_printf(&list, "%s%s", i == 0 ? "" : i + 1 == NKINDS ? " or " : ", ", kinds[i].kind);
            if (kinds[i].shortname && strcmp(kinds[i].shortname, "no") != 0) mp_buf_printf(&list, " (%s)", kinds[i].shortname);
        }
        int st = cli_fail(CLI_USAGE, "cannot get \"%s\": expected %s", what, list.data);
        mp_buf_free(&list);
        return st;
    }
    const get_kind *k = q.kind;
    if (k->nargs == 1 && q.g.npos != 2) return cli_fail(CLI_USAGE, "get %s needs a run id: mlplane get %s RUN", what, what);
    if (k->nargs == 0 && q.g.npos > 1) {
        if (k->for_one) return cli_fail(CLI_USAGE, "get %s takes no argument; %s", k->kind, k->for_one);
        return cli_fail(CLI_USAGE, "get %s takes no argument", what);
    }
    if (!k->remote && env->server) {
        char *w = mp_xasprintf("get %s", what);
        int st = cli_not_remote(env, w);
        free(w);
        return st;
    }
    return cli_list_run(env, k->singular, &q.lo, fetch_kind, &q);
}

int cmd_describe(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("Usage: mlplane describe run RUN [-o table|json|yaml]\n"
              "       mlplane describe deployment NAME [-o table|json|yaml]\n"
              "       mlplane describe monitor NAME [-o table|json|yaml]\n"
              "       mlplane describe model NAME [-o table|json|yaml]\n"
              "       mlplane describe secret [NAMESPACE/]NAME [-o table|json|yaml]\n\n"
              "Shows a run: its labels and params, each step (state, attempts, exit code, duration, cache,\n"
              "outputs, log), the metrics steps reported, and its events.\n"
              "Shows a Deployment: its state (Starting, Running, CrashLoopBackOff, Stopped),\n"
              "replicas ready of desired, restarts, last error, versions and split, and the\n"
              "events mlplane server recorded (Started, Ready, Exited, BackOff, Updated, Stopped).\n"
              "Shows a registered model: its tags and aliases, and every version with its stage,\n"
              "status, run, source and tags.\n"
              "Shows a Secret: its keys with their sizes and the id of the key that encrypted them\n"
              "(never a value).\n",
              stdout);
        return CLI_OK;
    }
    get_opts g;
    if (parse_common(argc, argv, &g, false)) return CLI_USAGE;
    if (g.home) env->home_flag = g.home;
    if (g.npos == 2 && (strcmp(g.pos[0], "deployment") == 0 || strcmp(g.pos[0], "deployments") == 0 ||
                        strcmp(g.pos[0], "deploy") == 0))
        return env->backend->describe_deployment(env, g.pos[1], g.out);
    if (g.npos == 2 && (strcmp(g.pos[0], "monitor") == 0 || strcmp(g.pos[0], "monitors") == 0 ||
                        strcmp(g.pos[0], "mon") == 0)) {
        return cli_describe_monitor(env, NULL, g.pos[1], g.out);
    }
    if (g.npos == 2 && (strcmp(g.pos[0], "secret") == 0 || strcmp(g.pos[0], "secrets") == 0)) {
        if (env->server) return cli_not_remote(env, "describe secret");
        return cli_describe_secret(env, NULL, g.pos[1], g.out);
    }
    if (g.npos == 2 && (strcmp(g.pos[0], "model") == 0 || strcmp(g.pos[0], "models") == 0))
        return env->backend->models(env, g.pos[1], true, g.out);
    if (g.npos != 2 || strcmp(g.pos[0], "run") != 0)
        return cli_fail(CLI_USAGE,
                        "usage: mlplane describe run RUN, mlplane describe deployment NAME or mlplane describe model NAME");
    return env->backend->describe_run(env, g.pos[1], g.out);
}

int cli_local_describe_run(cli_env *env, const char *run, cli_out out) {
    run_bundle b;
    int status = load_bundle(env, run, &b);
    json_t *o = NULL;
    mp_err e;
    if (status == 0 &&
        api_run_describe_json(b.st, &b.run, b.steps, b.nsteps, b.metrics, b.nmetrics, 0, &o, &e) != 0)
        status = cli_fail_err(&e);
    if (status) {
        free_bundle(&b);
        return status;
    }
    if (out != OUT_TABLE) {
        status = cli_print_json(o, out);
    } else {
        store_run *r = &b.run;
        char created[40], dur[32];
        mp_format_time(r->created_ms, created, sizeof created);
        int64_t end = r->ended_ms ? r->ended_ms : mp_now_ms();
        if (r->started_ms) mp_format_duration(end - r->started_ms, dur, sizeof dur);
        else mp_strlcpy(dur, "-", sizeof dur);
        json_t *labels = r->labels_json ? json_loads(r->labels_json, 0, NULL) : NULL;
        char *ltext = api_params_text(labels);
        printf("Run:        %s\nPipeline:   %s (namespace %s)\nLabels:     %s\nState:      %s\nCreated:    %s\n"
               "Duration:   %s\n",
               r->id, r->pipeline, r->namespace_, *ltext ? ltext : "<none>", api_run_state_shown(r), created, dur);
        free(ltext);
        json_decref(labels);
        if (r->message) printf("Message:    %s\n", r->message);
        if (!store_run_state_final(r->state) && !engine_owner_alive(r))
            printf("Hint:       no mlplane process drives this run; finish it with `mlplane resume %s`\n", r->id);
        printf("Spec:       %s\nParams:     %s\n\nSteps:\n", r->spec_path ? r->spec_path : "-", r->params_json);
        for (size_t i = 0; i < b.nsteps; i++) {
            store_step *s = &b.steps[i];
            int64_t se = s->ended_ms ? s->ended_ms : mp_now_ms();
            if (s->started_ms) mp_format_duration(se - s->started_ms, dur, sizeof dur);
            else mp_strlcpy(dur, "-", sizeof dur);
            char ex[16] = "-";
            if (s->exit_code >= 0) snprintf(ex, sizeof ex, "%d", s->exit_code);
            printf("  %-20s %-10s attempts %d  exit %s  %s\n", s->name, store_step_state_name(s->state), s->attempts, ex,
                   dur);
            if (s->message) printf("      message:  %s\n", s->message);
            char *params = step_params(s);
            if (*params) printf("      params:   %s\n", params);
            free(params);
            if (s->cached_from) printf("      cache:    hit, outputs of run %s\n", s->cached_from);
            printf("      outputs:  %s\n      log:      %s\n", s->outputs_dir ? s->outputs_dir : "-",
                   s->log_path ? s->log_path : "-");
            json_t *sj = json_object();
            api_step_add_log_tail(sj, s);
            cli_print_log_tail(json_object_get(sj, "log_tail"));
            json_decref(sj);
        }
        if (b.nmetrics) {
            printf("\nMetrics:\n");
            for (size_t i = 0; i < b.nmetrics; i++)
                printf("  %-20s %-16s %.6g\n", b.metrics[i].step, b.metrics[i].key, b.metrics[i].value);
        }
        printf("\nEvents:\n");
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(o, "events"), i, ev)
            printf("  %s  %-16s %-20s %s\n", cli_jstr(ev, "time", "-"), cli_jstr(ev, "type", ""), cli_jstr(ev, "step", "-"),
                   cli_jstr(ev, "message", ""));
    }
    json_decref(o);
    free_bundle(&b);
    return status;
}

/* Copies bytes of path from *off on to stdout; returns true when something was printed. */
static bool cat_from(const char *path, long *off) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    if (fseek(f, *off, SEEK_SET) != 0) {
        fclose(f);
        return false;
    }
    char buf[8192];
    size_t n;
    bool any = false;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        fwrite(buf, 1, n, stdout);
        *off += (long)n;
        any = true;
    }
    fclose(f);
    fflush(stdout);
    return any;
}

int cmd_logs(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("Usage: mlplane logs RUN [STEP] [-f] [--tail N]\n\n"
              "Prints the stdout and stderr of a run's steps (all steps, each under a header,\n"
              "or only STEP). -f follows: keeps printing new output until the run ends.\n"
              "--tail N prints only the last N lines of each step's log (then follows with -f).\n",
              stdout);
        return CLI_OK;
    }
    int tail;
    argc = cli_take_tail(argc, argv, &tail);
    if (argc < 0) return CLI_USAGE;
    get_opts g;
    if (parse_common(argc, argv, &g, true)) return CLI_USAGE;
    if (g.npos < 1 || g.npos > 2) return cli_fail(CLI_USAGE, "usage: mlplane logs RUN [STEP] [-f] [--tail N]");
    if (g.home) env->home_flag = g.home;
    return env->backend->logs(env, g.pos[0], g.npos == 2 ? g.pos[1] : NULL, g.follow, tail);
}

int cli_local_logs(cli_env *env, const char *run, const char *only, bool follow, int tail) {
    run_bundle b;
    int status = load_bundle(env, run, &b);
    if (status) {
        free_bundle(&b);
        return status;
    }
    if (only) {
        bool found = false;
        for (size_t i = 0; i < b.nsteps; i++) found |= strcmp(b.steps[i].name, only) == 0;
        if (!found) {
            mp_buf names;
            mp_buf_init(&names);
            for (size_t i = 0; i < b.nsteps; i++) mp_buf_printf(&names, "%s%s", i ? ", " : "", b.steps[i].name);
            status = cli_fail(CLI_USAGE, "run %s has no step \"%s\" (steps: %s)", b.run.id, only, names.data);
            mp_buf_free(&names);
            free_bundle(&b);
            return status;
        }
    }
    long *offs = mp_xcalloc(b.nsteps + 1, sizeof *offs);
    bool *headed = mp_xcalloc(b.nsteps + 1, sizeof *headed);
    /* A Cached step never ran: its log is the one of the step whose outputs it reused. */
    for (size_t i = 0; i < b.nsteps && status == 0; i++) {
        store_step *s = &b.steps[i];
        if (s->state != STEP_CACHED || (only && strcmp(s->name, only) != 0)) continue;
        char *src = NULL;
        mp_err e;
        if (store_cached_log(b.st, s, &src, &e) == 0) {
            fprintf(stderr, "step %s is cached from run %s; showing that run's log\n", s->name, s->cached_from);
            free(s->log_path);
            s->log_path = src;
        } else if (only) {
            status = cli_fail(CLI_FAILED, "%s", e.msg);
        } else {
            fprintf(stderr, "mlplane: %s\n", e.msg);
        }
    }
    for (size_t i = 0; tail >= 0 && i < b.nsteps; i++) {
        char *text = NULL;
        size_t len = 0;
        if (b.steps[i].log_path && mp_read_file(b.steps[i].log_path, &text, &len, NULL) == 0)
            offs[i] = (long)cli_tail_start(text, len, tail);
        free(text);
    }
    for (; status == 0;) {
        for (size_t i = 0; i < b.nsteps; i++) {
            store_step *s = &b.steps[i];
            if (only && strcmp(s->name, only) != 0) continue;
            if (!only && !headed[i] && mp_path_exists(s->log_path)) {
                printf("==> %s <==\n", s->name);
                headed[i] = true;
            }
            cat_from(s->log_path, &offs[i]);
        }
        if (!follow) break;
        store_run cur = {0};
        bool ended = b.st->m->run_get(b.st, b.run.id, &cur, NULL) != 0 || store_run_state_final(cur.state) ||
                     !engine_owner_alive(&cur);
        store_run_free(&cur);
        if (ended) {
            for (size_t i = 0; i < b.nsteps; i++)
                if (!only || strcmp(b.steps[i].name, only) == 0) cat_from(b.steps[i].log_path, &offs[i]);
            break;
        }
        mp_sleep_ms(200);
    }
    free(offs);
    free(headed);
    free_bundle(&b);
    return status;
}
