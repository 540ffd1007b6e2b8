/* cmd_models.c — the model registry and experiments from the command line:
 *   mlplane models list [-o table|json|yaml]
 *   mlplane models get NAME [-o table|json|yaml]
 *   mlplane get experiments [-o table|json|yaml]   (through cli_get_experiments)
 * They read the embedded store, or with --server the server's MLflow REST API
 * (remote_track.c); both print through the cli_print_* functions here, from
 * MLflow's JSON shapes, which -o json|yaml print as they are. */
#include "cli/cli.h"
#include "track/track.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static json_int_t jint(json_t *o, const char *k) {
    return json_integer_value(json_object_get(o, k));
}

static void fmt_jms(json_t *o, const char *k, char *out, size_t n) {
    mp_format_time(jint(o, k), out, n);
}

int cli_print_experiments(json_t *arr, cli_out out) {
    if (out != OUT_TABLE) return cli_print_json(arr, out);
    static const char *const hdr[] = {"ID", "NAME", "CREATED", "ARTIFACT LOCATION"};
    cli_table t;
    cli_table_init(&t, 4, hdr);
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        char created[40];
        fmt_jms(x, "creation_time", created, sizeof created);
        const char *row[] = {cli_jstr(x, "experiment_id", ""), cli_jstr(x, "name", ""), created,
                             cli_jstr(x, "artifact_location", "")};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    return CLI_OK;
}

int cli_get_experiments(cli_env *env, const char *home_flag, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, home_flag, &home, &st)) return CLI_FAILED;
    store_track_query q = {.view = STORE_VIEW_ACTIVE_ONLY, .limit = -1};
    store_experiment *xs = NULL;
    size_t n = 0;
    mp_err e;
    int status = CLI_OK;
    if (st->t->experiment_search(st, &q, &xs, &n, &e) != 0) {
        status = cli_fail_err(&e);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, track_experiment_json(&xs[i]));
        status = cli_print_experiments(arr, out);
        json_decref(arr);
    }
    store_experiment_array_free(xs, n);
    st->m->close(st);
    free(home);
    return status;
}

int cli_print_models(json_t *found, json_t *full, cli_out out) {
    if (out != OUT_TABLE) return cli_print_json(found, out);
    static const char *const hdr[] = {"NAME", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION"};
    cli_table t;
    cli_table_init(&t, 5, hdr);
    size_t i, j;
    json_t *m, *v;
    json_array_foreach(full, i, m) {
        long long latest = 0;
        json_array_foreach(json_object_get(m, "latest_versions"), j, v) {
            long long n = atoll(cli_jstr(v, "version", "0"));
            if (n > latest) latest = n;
        }
        char lv[32] = "-", upd[40];
        if (latest) snprintf(lv, sizeof lv, "%lld", latest);
        mp_buf al;
        mp_buf_init(&al);
        json_array_foreach(json_object_get(m, "aliases"), j, v)
            mp_buf_printf(&al, "%s%s=v%s", j ? "," : "", cli_jstr(v, "alias", ""), cli_jstr(v, "version", ""));
        fmt_jms(m, "last_updated_timestamp", upd, sizeof upd);
        const char *row[] = {cli_jstr(m, "name", ""), lv, al.len ? al.data : "-", upd, cli_jstr(m, "description", "")};
        cli_table_add(&t, row);
        mp_buf_free(&al);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    return CLI_OK;
}

static int models_list(store *st, cli_out out) {
    store_reg_order order = {.field = STORE_REG_NAME, .asc = true};
    store_reg_query q = {.order = &order, .norder = 1, .limit = -1};
    store_registered_model *ms = NULL;
    size_t n = 0;
    mp_err e;
    if (st->r->model_search(st, &q, &ms, &n, &e) != 0) return cli_fail_err(&e);
    json_t *found = json_array(), *full = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(found, track_model_json(&ms[i]));
        /* the full model (search results carry no versions or aliases) */
        store_registered_model m = {0};
        if (st->r->model_get(st, ms[i].name, &m, NULL) == 0) json_array_append_new(full, track_model_json(&m));
        else json_array_append_new(full, track_model_json(&ms[i]));
        store_registered_model_free(&m);
    }
    int status = cli_print_models(found, full, out);
    json_decref(found);
    json_decref(full);
    store_registered_model_array_free(ms, n);
    return status;
}

int cli_print_model(json_t *m, json_t *versions, cli_out out) {
    if (out != OUT_TABLE) {
        json_t *o = json_pack("{s:O,s:O}", "registered_model", m, "model_versions", versions);
        int status = cli_print_json(o, out);
        json_decref(o);
        return status;
    }
    char created[40], updated[40];
    fmt_jms(m, "creation_timestamp", created, sizeof created);
    fmt_jms(m, "last_updated_timestamp", updated, sizeof updated);
    printf("Name:         %s\nCreated:      %s\nUpdated:      %s\n", cli_jstr(m, "name", ""), created, updated);
    if (cli_jstr(m, "description", NULL)) printf("Description:  %s\n", cli_jstr(m, "description", ""));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(m, "aliases"), i, v)
        printf("Alias:        @%s -> version %s\n", cli_jstr(v, "alias", ""), cli_jstr(v, "version", ""));
    json_array_foreach(json_object_get(m, "tags"), i, v) printf("Tag:          %s=%s\n", cli_jstr(v, "key", ""), cli_jstr(v, "value", ""));
    printf("\n");
    static const char *const hdr[] = {"VERSION", "STAGE", "STATUS", "RUN", "CREATED", "SOURCE"};
    cli_table t;
    cli_table_init(&t, 6, hdr);
    json_array_foreach(versions, i, v) {
        char cr[40];
        fmt_jms(v, "creation_timestamp", cr, sizeof cr);
        const char *run = cli_jstr(v, "run_id", "");
        const char *row[] = {cli_jstr(v, "version", ""), cli_jstr(v, "current_stage", ""), cli_jstr(v, "status", ""),
                             *run ? run : "-", cr, cli_jstr(v, "source", "")};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    bool headed = false;
    json_array_foreach(versions, i, v) {
        size_t j;
        json_t *x;
        json_array_foreach(json_object_get(v, "tags"), j, x) {
            if (!headed) printf("\nVersion tags:\n");
            headed = true;
            printf("  v%-6s %s=%s\n", cli_jstr(v, "version", ""), cli_jstr(x, "key", ""), cli_jstr(x, "value", ""));
        }
    }
    return CLI_OK;
}

/* models get NAME; full (describe model): each version as version_get has it, tags and aliases included. */
static int models_get(store *st, const char *name, cli_out out, bool full) {
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
    } else {
        json_t *mj = track_model_json(&m), *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            store_model_version fv = {0};
            if (full && st->r->version_get(st, name, vs[i].version, &fv, NULL) == 0)
                json_array_append_new(arr, track_version_json(&fv));
            else
                json_array_append_new(arr, track_version_json(&vs[i]));
            store_model_version_free(&fv);
        }
        status = cli_print_model(mj, arr, out);
        json_decref(mj);
        json_decref(arr);
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
    "MLflow clients use the registry through `mlplane server`. With --server URL the\n"
    "server's registry is shown, through its MLflow REST API.\n";

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
    int npos = argc - optind;
    const char *sub = npos > 0 ? argv[optind] : NULL;
    if (!sub || (strcmp(sub, "list") == 0 && npos != 1) || (strcmp(sub, "get") == 0 && npos != 2) ||
        (strcmp(sub, "list") != 0 && strcmp(sub, "get") != 0))
        return cli_fail(CLI_USAGE, "usage: mlplane models list | mlplane models get NAME");
    if (home_flag) env->home_flag = home_flag;
    return env->backend->models(env, sub[0] == 'g' ? argv[optind + 1] : NULL, false, out);
}

int cli_local_models(cli_env *env, const char *name, bool describe, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
    int status = name ? models_get(st, name, out, describe) : models_list(st, out);
    st->m->close(st);
    free(home);
    return status;
}
