/* cmd_monitor.c — Monitors on the home:
 *   mlplane monitor check NAME [-o table|json|yaml]   one check now, recorded as the
 *                                                     server's would be (actions included)
 *   mlplane get monitors [-o ...]                     (through cli_get_monitors)
 *   mlplane describe monitor NAME [-o ...]            (through cli_describe_monitor)
 * mlplane server checks each applied Monitor on its schedule (src/api/monitors.c);
 * these read what it recorded, in the home or, with --server, through the server's
 * /api/v1/monitors. The command's thread owns everything here. */
#include "cli/cli.h"
#include "cli/remote_int.h"
#include "api/api.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char monitor_help[] =
    "Usage: mlplane monitor check NAME [-o table|json|yaml] [--home DIR]\n\n"
    "Checks the Monitor NAME (applied with mlplane apply) once now: its current rows\n"
    "(the newest its Deployment logged, in spec.window, or spec.data's file) against its\n"
    "reference (spec.reference.path, or the training data of the version the Deployment\n"
    "serves), recorded in the home as mlplane server's scheduled checks are, and its\n"
    "actions carried out when the data set drifts. mlplane get monitors and mlplane\n"
    "describe monitor NAME show the checks.\n\n"
    "  -o, --output FMT   table (default), json or yaml\n"
    "  --home DIR         the home the Monitor is applied to\n\n"
    "Exit status: 0 no drift (or too few rows yet), 1 the data set drifts, 2 the check\n"
    "could not run (why is printed) or bad usage.\n";

static const char *watches(json_t *spec, char *buf, size_t n) {
    const char *d = cli_jstr(spec, "deployment", NULL);
    if (d) snprintf(buf, n, "deployment/%s", d);
    else snprintf(buf, n, "data/%s", cli_jstr(spec, "data", "-"));
    return buf;
}

static void fmt(char *out, size_t n, json_t *x) {
    if (json_is_number(x)) snprintf(out, n, "%.4g", json_number_value(x));
    else if (json_is_string(x)) snprintf(out, n, "%s", json_string_value(x));
    else snprintf(out, n, "-");
}

static int print_monitors(json_t *all, cli_out out) {
    if (out != OUT_TABLE) return cli_print_json(all, out);
    static const char *const hdr[] = {"NAME", "WATCHES", "STATUS", "DRIFTED", "VERSION", "LAST CHECK", "MESSAGE"};
    cli_table t;
    cli_table_init(&t, 7, hdr);
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v) {
        char w[300], drifted[40] = "-", age[32] = "-";
        json_t *c = json_object_get(v, "lastCheck");
        json_t *d = json_object_get(c, "drift");
        if (json_is_object(d) && json_integer_value(json_object_get(d, "columns")) > 0)
            snprintf(drifted, sizeof drifted, "%lld/%lld", (long long)json_integer_value(json_object_get(d, "drifted")),
                     (long long)json_integer_value(json_object_get(d, "columns")));
        if (c) cli_fmt_age(json_integer_value(json_object_get(c, "timeMs")), age, sizeof age);
        const char *row[] = {cli_jstr(v, "name", "-"), watches(json_object_get(v, "spec"), w, sizeof w),
                             cli_jstr(c, "status", "NotChecked"), drifted, cli_jstr(c, "version", "-"), age,
                             cli_jstr(c, "message", "")};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    return CLI_OK;
}

/* A check's columns as a table. */
static void print_columns(json_t *cols) {
    static const char *const hdr[] = {"COLUMN", "KIND", "TEST", "STATISTIC", "THRESHOLD", "DRIFT", "PSI", "MISSING"};
    cli_table t;
    cli_table_init(&t, 8, hdr);
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c) {
        char st[32], th[32], psi[32], miss[32];
        fmt(st, sizeof st, json_object_get(c, "statistic"));
        fmt(th, sizeof th, json_object_get(c, "threshold"));
        fmt(psi, sizeof psi, json_object_get(c, "psi"));
        fmt(miss, sizeof miss, json_object_get(json_object_get(c, "missing"), "change"));
        const char *row[] = {cli_jstr(c, "column", "-"), cli_jstr(c, "kind", "-"), cli_jstr(c, "test", "-"), st, th,
                             json_is_true(json_object_get(c, "drifted")) ? "yes" : "no", psi, miss};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

static void print_check(json_t *c) {
    json_t *d = json_object_get(c, "drift");
    printf("Status:        %s\n", cli_jstr(c, "status", "-"));
    printf("Message:       %s\n", cli_jstr(c, "message", ""));
    printf("Checked:       %s\n", cli_jstr(c, "time", "-"));
    printf("Version:       %s\n", cli_jstr(c, "version", "-"));
    printf("Rows:          %lld reference, %lld current\n",
           (long long)json_integer_value(json_object_get(json_object_get(c, "rows"), "reference")),
           (long long)json_integer_value(json_object_get(json_object_get(c, "rows"), "current")));
    if (json_integer_value(json_object_get(d, "columns")) > 0)
        printf("Drifted:       %lld of %lld columns (%.0f%%)\n", (long long)json_integer_value(json_object_get(d, "drifted")),
               (long long)json_integer_value(json_object_get(d, "columns")),
               100 * json_number_value(json_object_get(d, "share")));
    json_t *cols = json_object_get(c, "columns");
    if (json_array_size(cols)) {
        printf("\n");
        print_columns(cols);
    }
}

static int print_describe(json_t *j, cli_out out) {
    if (out != OUT_TABLE) return cli_print_json(j, out);
    json_t *spec = json_object_get(j, "spec");
    char w[300];
    printf("Name:          %s\n", cli_jstr(j, "name", "-"));
    printf("Watches:       %s\n", watches(spec, w, sizeof w));
    printf("Reference:     %s\n", cli_jstr(spec, "reference", "-"));
    json_t *win = json_object_get(spec, "window");
    if (json_object_get(win, "seconds"))
        printf("Window:        the last %llds\n", (long long)json_integer_value(json_object_get(win, "seconds")));
    else
        printf("Window:        the last %lld rows\n", (long long)json_integer_value(json_object_get(win, "rows")));
    printf("Every:         %llds\n", (long long)json_integer_value(json_object_get(spec, "intervalSeconds")));
    json_t *c = json_object_get(j, "lastCheck");
    printf("\nLast check:\n");
    if (json_is_object(c)) print_check(c);
    else printf("  none yet\n");
    json_t *h = json_object_get(j, "history");
    if (json_array_size(h)) {
        printf("\nHistory:\n");
        static const char *const hdr[] = {"TIME", "STATUS", "DRIFTED", "SHARE", "VERSION", "ROWS"};
        cli_table t;
        cli_table_init(&t, 6, hdr);
        size_t i;
        json_t *x;
        json_array_foreach(h, i, x) {
            json_t *d = json_object_get(x, "drift");
            char dr[40], sh[32], rows[40];
            snprintf(dr, sizeof dr, "%lld/%lld", (long long)json_integer_value(json_object_get(d, "drifted")),
                     (long long)json_integer_value(json_object_get(d, "columns")));
            snprintf(sh, sizeof sh, "%.0f%%", 100 * json_number_value(json_object_get(d, "share")));
            snprintf(rows, sizeof rows, "%lld",
                     (long long)json_integer_value(json_object_get(json_object_get(x, "rows"), "current")));
            const char *row[] = {cli_jstr(x, "time", "-"), cli_jstr(x, "status", "-"), dr, sh,
                                 cli_jstr(x, "version", "-"), rows};
            cli_table_add(&t, row);
        }
        cli_table_print(&t, stdout);
        cli_table_free(&t);
    }
    cli_print_events(j, 0);
    return CLI_OK;
}

/* GET or POST path of the server: its JSON (of the given type) into *j (a new reference). */
static int remote_json(cli_env *env, const char *method, const char *name, const char *suffix, json_type type,
                       json_t **j) {
    *j = NULL;
    remote r;
    int status = remote__open(env, &r);
    if (status) return status;
    char *esc = name ? curl_easy_escape(r.c, name, 0) : NULL;
    char *path = mp_xasprintf("/api/v1/monitors%s%s%s", name ? "/" : "", esc ? esc : name ? name : "", suffix);
    curl_free(esc);
    reply y = {0};
    if (strcmp(method, "GET") == 0) {
        status = remote__get_json(&r, path, type, &y);
    } else if ((status = remote__call(&r, method, path, "{}", &y)) == 0 && y.status != 200) {
        status = remote__fail_reply(&y);
    }
    if (status == 0 && !json_is_object(y.json) && !json_is_array(y.json))
        status = cli_fail(CLI_FAILED, "%s%s: the server's answer is not JSON", r.base, path);
    if (status == 0) *j = json_incref(y.json);
    free(path);
    remote__reply_free(&y);
    remote__close(&r);
    return status;
}

/* get monitors (name NULL) or describe monitor NAME's JSON, from the home or the server
 * (*j a new reference); 0 or an exit status (printed). */
static int monitors_json(cli_env *env, const char *home_flag, const char *name, json_t **j) {
    *j = NULL;
    if (env->server) return remote_json(env, "GET", name, "", name ? JSON_OBJECT : JSON_ARRAY, j);
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, home_flag, &home, &st)) return CLI_FAILED;
    mp_err e = {0};
    *j = name ? api_monitor_describe_json(st, name, &e) : api_monitors_json(st, &e);
    int status = *j ? CLI_OK : cli_fail_err(&e);
    st->m->close(st);
    free(home);
    return status;
}

int cli_get_monitors(cli_env *env, const char *home_flag, cli_out out) {
    json_t *all = NULL;
    int status = monitors_json(env, home_flag, NULL, &all);
    if (status == 0) status = print_monitors(all, out);
    json_decref(all);
    return status;
}

int cli_describe_monitor(cli_env *env, const char *home_flag, const char *name, cli_out out) {
    json_t *j = NULL;
    int status = monitors_json(env, home_flag, name, &j);
    if (status == 0) status = print_describe(j, out);
    json_decref(j);
    return status;
}

int cmd_monitor(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(monitor_help, stdout);
        return CLI_OK;
    }
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"home", required_argument, NULL, 'H'}, {NULL, 0, NULL, 0}};
    cli_out out = OUT_TABLE;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o') {
            if (cli_parse_out(optarg, &out)) return CLI_USAGE;
        } else if (c == 'H') {
            env->home_flag = optarg;
        } else {
            return cli_fail(CLI_USAGE, "monitor: unknown flag %s (see mlplane monitor --help)", argv[optind - 1]);
        }
    }
    if (argc - optind != 2 || strcmp(argv[optind], "check") != 0)
        return cli_fail(CLI_USAGE, "usage: mlplane monitor check NAME [-o table|json|yaml]");
    const char *name = argv[optind + 1];
    if (env->server) {
        json_t *last = NULL;
        int status = remote_json(env, "POST", name, "/check", JSON_OBJECT, &last);
        if (status != 0) return status;
        if (out != OUT_TABLE) cli_print_json(last, out);
        else print_check(last);
        const char *st = cli_jstr(last, "status", "");
        status = strcmp(st, "Drift") == 0 ? 1 : strcmp(st, "Failed") == 0 ? 2 : 0;
        if (status == 2) fprintf(stderr, "mlplane: monitor %s: %s\n", name, cli_jstr(last, "message", "failed"));
        json_decref(last);
        return status;
    }
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
    mp_err e = {0};
    store_monitor_check chk;
    int status = CLI_OK;
    if (api_monitor_check_now(st, home, name, &chk, &e) != 0) {
        status = cli_fail_err(&e);
    } else {
        json_t *j = api_monitor_describe_json(st, name, &e);
        json_t *last = j ? json_object_get(j, "lastCheck") : NULL;
        if (last && out != OUT_TABLE) cli_print_json(last, out);
        else if (last) print_check(last);
        json_decref(j);
        status = strcmp(chk.status, "Drift") == 0 ? 1 : strcmp(chk.status, "Failed") == 0 ? 2 : 0;
        if (status == 2) fprintf(stderr, "mlplane: monitor %s: %s\n", name, chk.message ? chk.message : "failed");
    }
    store_monitor_check_free(&chk);
    st->m->close(st);
    free(home);
    return status;
}
