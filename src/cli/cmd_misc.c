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

int cmd_validate(cli_env *env, int argc, char **argv) {
    (void)env;
    if (cli_wants_help(argc, argv)) {
        fputs("Usage: mlplane validate FILE...\n\n"
              "Checks spec files and reports every error as FILE:LINE:COL: message.\n"
              "Exit status 2 when any file has errors. Nothing is recorded or run.\n",
              stdout);
        return CLI_OK;
    }
    if (argc < 2) return cli_fail(CLI_USAGE, "validate needs at least one file: mlplane validate FILE...");
    int status = CLI_OK;
    for (int i = 1; i < argc; i++) {
        spec_diags d = {0};
        spec_file *f = NULL;
        if (spec_load_file(argv[i], &f, &d) != 0) {
            mp_buf b;
            mp_buf_init(&b);
            spec_diags_format(&d, &b);
            fputs(b.data, stderr);
            mp_buf_free(&b);
            status = CLI_USAGE;
        } else {
            mp_buf b;
            mp_buf_init(&b);
            summarize(f, &b);
            printf("%s: valid (%s)\n", argv[i], b.data);
            mp_buf_free(&b);
        }
        spec_diags_free(&d);
        spec_file_free(f);
    }
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
