/* cmd_models.c — the model registry and experiments from the command line:
 *   mlplane models list [-o table|json|yaml]
 *   mlplane models get NAME [-o table|json|yaml]
 *   mlplane get experiments [-o table|json|yaml]   (through cli_get_experiments)
 * They read the embedded store; -o json|yaml print MLflow's JSON shapes. */
#include "cli/cli.h"
#include "track/track.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void fmt_ms(int64_t ms, char *out, size_t n) {
    mp_format_time(ms, out, n);
}

int cli_get_experiments(cli_env *env, const char *home_flag, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store(env, home_flag, &home, &st)) return CLI_FAILED;
    store_track_query q = {.view = STORE_VIEW_ACTIVE_ONLY, .limit = -1};
    store_experiment *xs = NULL;
    size_t n = 0;
    mp_err e;
    int status = CLI_OK;
    if (st->t->experiment_search(st, &q, &xs, &n, &e) != 0) {
        status = cli_fail_err(&e);
    } else if (out == OUT_TABLE) {
        static const char *const hdr[] = {"ID", "NAME", "CREATED", "ARTIFACT LOCATION"};
        cli_table t;
        cli_table_init(&t, 4, hdr);
        for (size_t i = 0; i < n; i++) {
            char created[40];
            fmt_ms(xs[i].creation_time, created, sizeof created);
            const char *row[] = {xs[i].experiment_id, xs[i].name, created, xs[i].artifact_location};
            cli_table_add(&t, row);
        }
        cli_table_print(&t, stdout);
        cli_table_free(&t);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, track_experiment_json(&xs[i]));
        status = cli_print_json(arr, out);
        json_decref(arr);
    }
    store_experiment_array_free(xs, n);
    st->m->close(st);
    free(home);
    return status;
}

static int models_list(store *st, cli_out out) {
    store_reg_order order = {.field = STORE_REG_NAME, .asc = true};
    store_reg_query q = {.order = &order, .norder = 1, .limit = -1};
    store_registered_model *ms = NULL;
    size_t n = 0;
    mp_err e;
    if (st->r->model_search(st, &q, &ms, &n, &e) != 0) return cli_fail_err(&e);
    int status = CLI_OK;
    if (out == OUT_TABLE) {
        static const char *const hdr[] = {"NAME", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION"};
        cli_table t;
        cli_table_init(&t, 5, hdr);
        for (size_t i = 0; i < n; i++) {
            /* the full model (search results carry no versions or aliases) */
            store_registered_model m = {0};
            st->r->model_get(st, ms[i].name, &m, NULL);
            int64_t latest = 0;
            for (size_t j = 0; j < m.nlatest; j++)
                if (m.latest[j].version > latest) latest = m.latest[j].version;
            char lv[32] = "-", upd[40];
            if (latest) snprintf(lv, sizeof lv, "%lld", (long long)latest);
            mp_buf al;
            mp_buf_init(&al);
            for (size_t j = 0; j < m.naliases; j++)
                mp_buf_printf(&al, "%s%s=v%s", j ? "," : "", m.aliases[j].key, m.aliases[j].value);
            fmt_ms(ms[i].last_updated_time, upd, sizeof upd);
            const char *row[] = {ms[i].name, lv, al.len ? al.data : "-", upd,
                                 ms[i].description ? ms[i].description : ""};
            cli_table_add(&t, row);
            mp_buf_free(&al);
            store_registered_model_free(&m);
        }
        cli_table_print(&t, stdout);
        cli_table_free(&t);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, track_model_json(&ms[i]));
        status = cli_print_json(arr, out);
        json_decref(arr);
    }
    store_registered_model_array_free(ms, n);
    return status;
}

static int models_get(store *st, const char *name, cli_out out) {
    store_registered_model m = {0};
    mp_err e;
    if (st->r->model_get(st, name, &m, &e) != 0) {
        store_registered_model_free(&m);
        return cli_fail(CLI_FAILED, "%s (see mlplane models list)", e.msg);
    }
    store_reg_cond cond = {.field = STORE_REG_NAME, .op = STORE_OP_EQ, .str = name};
    store_reg_order order = {.field = STORE_REG_VERSION, .asc = false};
    store_reg_query q = {.conds = &cond, .nconds = 1, .order = &order, .norder = 1, .limit = -1};
    store_model_version *vs = NULL;
    size_t n = 0;
    int status = CLI_OK;
    if (st->r->version_search(st, &q, &vs, &n, &e) != 0) {
        status = cli_fail_err(&e);
    } else if (out == OUT_TABLE) {
        char created[40], updated[40];
        fmt_ms(m.creation_time, created, sizeof created);
        fmt_ms(m.last_updated_time, updated, sizeof updated);
        printf("Name:         %s\nCreated:      %s\nUpdated:      %s\n", m.name, created, updated);
        if (m.description) printf("Description:  %s\n", m.description);
        for (size_t j = 0; j < m.naliases; j++) printf("Alias:        @%s -> version %s\n", m.aliases[j].key, m.aliases[j].value);
        for (size_t j = 0; j < m.ntags; j++) printf("Tag:          %s=%s\n", m.tags[j].key, m.tags[j].value);
        printf("\n");
        static const char *const hdr[] = {"VERSION", "STAGE", "STATUS", "RUN", "CREATED", "SOURCE"};
        cli_table t;
        cli_table_init(&t, 6, hdr);
        for (size_t i = 0; i < n; i++) {
            char ver[32], cr[40];
            snprintf(ver, sizeof ver, "%lld", (long long)vs[i].version);
            fmt_ms(vs[i].creation_time, cr, sizeof cr);
            const char *row[] = {ver, vs[i].current_stage, vs[i].status, vs[i].run_id ? vs[i].run_id : "-", cr,
                                 vs[i].source};
            cli_table_add(&t, row);
        }
        cli_table_print(&t, stdout);
        cli_table_free(&t);
    } else {
        json_t *o = json_object();
        json_object_set_new(o, "registered_model", track_model_json(&m));
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, track_version_json(&vs[i]));
        json_object_set_new(o, "model_versions", arr);
        status = cli_print_json(o, out);
        json_decref(o);
    }
    store_model_version_array_free(vs, n);
    store_registered_model_free(&m);
    return status;
}

static const char models_help[] =
    "Usage: mlplane models list [-o table|json|yaml]\n"
    "       mlplane models get NAME [-o table|json|yaml]\n\n"
    "Shows the model registry: registered models with their latest version and\n"
    "aliases, or one model with every version (stage, status, run, source).\n"
    "Pipeline steps register versions with `register: {model: NAME, artifact: OUTPUT}`;\n"
    "MLflow clients use the registry through `mlplane server`.\n";

int cmd_models(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(models_help, stdout);
        return CLI_OK;
    }
    static const struct option longs[] = {{"output", required_argument, 0, 'o'}, {"home", required_argument, 0, 'H'},
                                          {0, 0, 0, 0}};
    cli_out out = OUT_TABLE;
    const char *home_flag = NULL;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", longs, NULL)) != -1) {
        if (c == 'o') {
            if (cli_parse_out(optarg, &out)) return CLI_USAGE;
        } else if (c == 'H') {
            home_flag = optarg;
        } else {
            return cli_fail(CLI_USAGE, "unknown or incomplete option %s (see mlplane models --help)", argv[optind - 1]);
        }
    }
    if (env->server)
        return cli_fail(CLI_USAGE, "models reads the embedded store; with a server use its MLflow API "
                                   "(%s/api/2.0/mlflow/registered-models/search)", env->server);
    int npos = argc - optind;
    const char *sub = npos > 0 ? argv[optind] : NULL;
    if (!sub || (strcmp(sub, "list") == 0 && npos != 1) || (strcmp(sub, "get") == 0 && npos != 2) ||
        (strcmp(sub, "list") != 0 && strcmp(sub, "get") != 0))
        return cli_fail(CLI_USAGE, "usage: mlplane models list | mlplane models get NAME");
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store(env, home_flag, &home, &st)) return CLI_FAILED;
    int status = sub[0] == 'l' ? models_list(st, out) : models_get(st, argv[optind + 1], out);
    st->m->close(st);
    free(home);
    return status;
}
