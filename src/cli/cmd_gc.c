/* cmd_gc.c — mlplane gc [--dry-run] [-o table|json|yaml]: deletes what the applied
 * RetentionPolicies say has expired (engine_gc: finished runs, their logs, their
 * artifacts; never a run in progress, nor what a registered version or the step
 * cache needs), or with --dry-run only says what it would delete. On the home only.
 * The command's thread owns everything. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char gc_help[] =
    "Usage: mlplane gc [--dry-run] [-o table|json|yaml] [--home DIR]\n\n"
    "Deletes what the applied RetentionPolicies (mlplane apply -f FILE) say has expired:\n"
    "finished runs past spec.runs (as mlplane delete run does), their steps' outputs and\n"
    "MLflow artifacts past spec.artifacts, their logs past spec.logs, each counted from\n"
    "the run's end. Never a run in progress, nor a run a registered model version came\n"
    "from or whose outputs the step cache points at (listed as kept, with why). Then\n"
    "the artifact store's orphans are swept. Ends with a summary: what was deleted and\n"
    "the bytes freed.\n\n"
    "  --dry-run          report what would be deleted; delete nothing\n"
    "  -o, --output FMT   table (default), json or yaml\n"
    "  --home DIR         the home to collect\n";

static void human(int64_t b, char *out, size_t n) {
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int i = 0;
    while (v >= 1024 && i < 4) v /= 1024, i++;
    if (i == 0) snprintf(out, n, "%lld B", (long long)b);
    else snprintf(out, n, "%.1f %s", v, u[i]);
}

static void progress_line(void *ud, const char *line) {
    (void)ud;
    fprintf(stderr, "gc: %s\n", line);
}

static void print_report(json_t *r) {
    bool dry = json_is_true(json_object_get(r, "dryRun"));
    static const char *const hdr[] = {"RUN", "WHAT", "POLICY", "FILES", "SIZE", "ACTION"};
    cli_table t;
    cli_table_init(&t, 6, hdr);
    static const char *const keys[] = {"deleted", "kept"};
    for (int k = 0; k < 2; k++) {
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(r, keys[k]), i, x) {
            char files[32] = "-", size[32] = "-";
            if (k == 0) {
                snprintf(files, sizeof files, "%lld", (long long)json_integer_value(json_object_get(x, "files")));
                human(json_integer_value(json_object_get(x, "bytes")), size, sizeof size);
            }
            char action[600];
            if (k == 0) snprintf(action, sizeof action, "%s", dry ? "would delete" : "deleted");
            else snprintf(action, sizeof action, "kept: %s", cli_jstr(x, "reason", ""));
            const char *row[] = {cli_jstr(x, "run", "-"), cli_jstr(x, "what", "-"), cli_jstr(x, "policy", "-"), files,
                                 size, action};
            cli_table_add(&t, row);
        }
    }
    if (t.nrows) cli_table_print(&t, stdout);
    cli_table_free(&t);
}

/* ms as the largest unit that divides it ("30d"), "-" for 0. */
static void ttl_text(int64_t ms, char *out, size_t n) {
    static const struct { char unit; int64_t ms; } units[] = {
        {'w', 604800000}, {'d', 86400000}, {'h', 3600000}, {'m', 60000}, {'s', 1000}};
    if (ms <= 0) {
        snprintf(out, n, "-");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms % units[i].ms == 0) {
            snprintf(out, n, "%lld%c", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    snprintf(out, n, "%lldms", (long long)ms);
}

int cli_get_retention(cli_env *env, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
    mp_err e = {0};
    json_t *all = NULL;
    int status = engine_gc_policies(st, &all, &e) == 0 ? CLI_OK : cli_fail_err(&e);
    if (status == CLI_OK && out != OUT_TABLE) {
        cli_print_json(all, out);
    } else if (status == CLI_OK) {
        static const char *const hdr[] = {"NAMESPACE", "NAME", "EXPERIMENT", "RUNS", "ARTIFACTS", "LOGS"};
        cli_table t;
        cli_table_init(&t, 6, hdr);
        size_t i;
        json_t *p;
        json_array_foreach(all, i, p) {
            char r[32], a[32], l[32];
            ttl_text(json_integer_value(json_object_get(p, "runsMs")), r, sizeof r);
            ttl_text(json_integer_value(json_object_get(p, "artifactsMs")), a, sizeof a);
            ttl_text(json_integer_value(json_object_get(p, "logsMs")), l, sizeof l);
            const char *row[] = {cli_jstr(p, "namespace", "-"), cli_jstr(p, "name", "-"), cli_jstr(p, "experiment", "*"),
                                 r, a, l};
            cli_table_add(&t, row);
        }
        if (t.nrows) cli_table_print(&t, stdout);
        else printf("no RetentionPolicy is applied\n");
        cli_table_free(&t);
    }
    json_decref(all);
    st->m->close(st);
    free(home);
    return status;
}

int cmd_gc(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(gc_help, stdout);
        return CLI_OK;
    }
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"home", required_argument, NULL, 'H'},
                                         {NULL, 0, NULL, 0}};
    cli_out out = OUT_TABLE;
    bool dry = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o') {
            if (cli_parse_out(optarg, &out)) return CLI_USAGE;
        } else if (c == 'n') {
            dry = true;
        } else if (c == 'H') {
            env->home_flag = optarg;
        } else {
            return cli_fail(CLI_USAGE, "gc: unknown flag %s (see mlplane gc --help)", argv[optind - 1]);
        }
    }
    if (optind != argc) return cli_fail(CLI_USAGE, "usage: mlplane gc [--dry-run] [-o table|json|yaml]");
    if (env->server) return cli_not_remote(env, "gc");
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
    mp_err e = {0};
    json_t *r = NULL;
    int status = CLI_OK;
    engine_gc_opts o = {.home = home, .dry_run = dry, .progress = progress_line};
    if (engine_gc(st, &o, &r, &e) != 0) status = cli_fail_err(&e);
    if (status == CLI_OK) {
        json_t *tot = json_object_get(r, "totals");
        if (out != OUT_TABLE) {
            cli_print_json(r, out);
        } else {
            print_report(r);
            char size[32];
            human(json_integer_value(json_object_get(tot, "bytes")), size, sizeof size);
            if (json_array_size(json_object_get(r, "policies")) == 0)
                printf("no RetentionPolicy is applied: nothing expires (apply one with mlplane apply -f FILE)\n");
            printf("%s %lld runs, %lld log files, %lld artifact files, %s %s", dry ? "would delete" : "deleted",
                   (long long)json_integer_value(json_object_get(tot, "runs")),
                   (long long)json_integer_value(json_object_get(tot, "logFiles")),
                   (long long)json_integer_value(json_object_get(tot, "artifactFiles")), size,
                   dry ? "would be freed" : "freed");
            printf("; %zu kept", json_array_size(json_object_get(r, "kept")));
            if (!dry) printf("; %lld orphan blobs swept", (long long)json_integer_value(json_object_get(tot, "orphanBlobs")));
            printf("\n");
        }
    }
    json_decref(r);
    st->m->close(st);
    free(home);
    return status;
}
