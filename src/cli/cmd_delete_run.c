/* cmd_delete_run.c — mlplane delete run RUN [--force]: removes a run for good, on
 * the home (engine_run_delete) or through --server (DELETE /api/v1/runs/ID). */
#include "cli/cli.h"

#include <stdlib.h>

int cli_delete_run(cli_env *env, const char *home_flag, const char *run, bool force) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store(env, home_flag, &home, &st)) return CLI_FAILED;
    mp_err e;
    executor *x = NULL;
    char *id = NULL;
    int status = CLI_OK;
    if (exec_local_open(&x, &e) != 0) status = cli_fail_err(&e);
    if (status == CLI_OK) {
        const char *g = getenv("MLPLANE_KILL_GRACE_MS");
        int wait_ms = (g && atoi(g) > 0 ? atoi(g) : 10000) + 5000;
        if (engine_run_delete(st, x, home, run, force, wait_ms, &id, &e) != 0)
            status = cli_fail_err(&e);
        x->m->close(x);
    }
    if (status == CLI_OK) printf("run %s deleted\n", id);
    free(id);
    st->m->close(st);
    free(home);
    return status;
}
