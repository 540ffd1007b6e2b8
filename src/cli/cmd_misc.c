/* cmd_misc.c — mlplane validate and mlplane version. */
#include "cli/cli.h"

#include <libfyaml.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

/* "2 objects: 1 Pipeline, 4 steps, 1 Deployment": the objects of f counted by kind,
 * in the order of spec_kind, kinds it has none of left out; the Pipelines' steps
 * come after them. */
static void summarize(const spec_file *f, mp_buf *out) {
    mp_buf_printf(out, "%zu object%s:", f->nobjs, f->nobjs == 1 ? "" : "s");
    const char *sep = " ";
    for (int k = SPEC_KIND_PIPELINE; strcmp(spec_kind_name((spec_kind)k), "?") != 0; k++) {
        size_t n = spec_file_count(f, (spec_kind)k);
        if (!n) continue;
        const char *name = spec_kind_name((spec_kind)k);
        bool es = name[strlen(name) - 1] == 's';
        mp_buf_printf(out, "%s%zu %s%s", sep, n, name, n == 1 ? "" : es ? "es" : "s");
        sep = ", ";
        if (k != SPEC_KIND_PIPELINE) continue;
        size_t nsteps = 0;
        for (size_t j = 0; j < f->nobjs; j++)
            if (f->objs[j].kind == SPEC_KIND_PIPELINE) nsteps += f->objs[j].u.pipeline->nsteps;
        mp_buf_printf(out, ", %zu step%s", nsteps, nsteps == 1 ? "" : "s");
    }
}

/* The objects steps may name: those of the files given, over those applied in
 * the home when it exists (nothing is created); *nowhere says where a missing
 * one was looked for (heap). */
static int validate_view(cli_env *env, const spec_file *const *files, size_t n, sched_objects *o, char **nowhere,
                         char **note) {
    const char *here = n == 1 ? "in this file" : "in the files given";
    char *home = NULL;
    mp_err e;
    store *st = NULL;
    if (store_home_path(env->home_flag, &home, &e) != 0) return cli_fail_err(&e);
    char *db = mp_xasprintf("%s/mlplane.db", home);
    if (!mp_path_exists(db)) {
        *nowhere = mp_xstrdup(here);
        *note = mp_xasprintf("; there is no mlplane home at %s to look in", home);
    } else if (store_open_home(home, &st, &e) != 0 || sched_objects_view(st, files, n, o, &e) != 0) {
        fprintf(stderr, "mlplane: validate: cannot read the objects applied in %s (%s); names are checked %s only\n",
                home, e.msg, here);
        *nowhere = mp_xstrdup(here);
        *note = mp_xasprintf("; the objects applied in %s could not be read", home);
        if (st) st->m->close(st);
        st = NULL;
    } else {
        *nowhere = mp_xasprintf("applied in %s or %s", home, here);
    }
    int rc = st ? 0 : sched_objects_view(NULL, files, n, o, &e);
    if (st) st->m->close(st);
    free(db);
    free(home);
    return rc ? cli_fail_err(&e) : 0;
}

int cli_local_validate_names(cli_env *env, spec_file *const *f, size_t n, spec_diags *d) {
    const spec_file **loaded = mp_xcalloc(n + 1, sizeof *loaded);
    size_t nloaded = 0;
    for (size_t i = 0; i < n; i++)
        if (f[i]) loaded[nloaded++] = f[i];
    int status = CLI_OK;
    if (nloaded) {
        sched_objects o;
        char *nowhere = NULL, *note = NULL;
        status = validate_view(env, loaded, nloaded, &o, &nowhere, &note);
        if (status == CLI_OK) {
            for (size_t i = 0; i < n; i++)
                if (f[i]) sched_objects_check_names(&o, f[i], NULL, nowhere, note, &d[i]);
            sched_objects_free(&o);
        }
        free(nowhere);
        free(note);
    }
    free(loaded);
    return status;
}

int cmd_validate(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("Usage: mlplane validate FILE...\n\n"
              "Checks spec files and reports every error as FILE:LINE:COL: message.\n"
              "A step's priorityClassName and queueName must name an object of the files\n"
              "given or one applied in the home (when it exists; with --server they are not\n"
              "checked: run checks them on the server). The expectations files that step\n"
              "inputs name (validate: {expect: FILE}) are read and checked too.\n"
              "Exit status 2 when any file has errors. Nothing is recorded or run.\n",
              stdout);
        return CLI_OK;
    }
    if (argc < 2) return cli_fail(CLI_USAGE, "validate needs at least one file: mlplane validate FILE...");
    size_t n = (size_t)argc - 1;
    spec_diags *d = mp_xcalloc(n, sizeof *d);
    spec_file **f = mp_xcalloc(n, sizeof *f);
    for (size_t i = 0; i < n; i++)
        if (spec_load_file(argv[i + 1], &f[i], &d[i]) == 0) spec_file_check_expectations(f[i], &d[i]);
    int status = CLI_OK;
    if (env->backend->validate_names) status = env->backend->validate_names(env, f, n, d);
    for (size_t i = 0; i < n; i++) {
        mp_buf b;
        mp_buf_init(&b);
        if (d[i].n) {
            spec_diags_format(&d[i], &b);
            fputs(b.data, stderr);
            status = CLI_USAGE;
        } else if (f[i]) {
            summarize(f[i], &b);
            printf("%s: valid (%s)\n", argv[i + 1], b.data);
        }
        mp_buf_free(&b);
        spec_diags_free(&d[i]);
        spec_file_free(f[i]);
    }
    free(d);
    free(f);
    return status;
}

int cmd_version(cli_env *env, int argc, char **argv) {
    (void)env;
    if (cli_wants_help(argc, argv)) {
        fputs("Usage: mlplane version\n\nPrints mlplane's version and those of the libraries it uses.\n", stdout);
        return CLI_OK;
    }
    int maj = 0, min = 0, pat = 0;
    XGBoostVersion(&maj, &min, &pat);
    printf("mlplane %s (sqlite %s, xgboost %d.%d.%d, libfyaml %s, jansson %s, libsodium %s)\n", MLPLANE_VERSION,
           sqlite3_libversion(), maj, min, pat, fy_library_version(), JANSSON_VERSION, sodium_version_string());
    return CLI_OK;
}
