/* backend.c — the two tables of cli_backend: commands on the home directly
 * (cli_backend_local: the store, the log files, this machine's processes) and
 * through `mlplane server` (cli_backend_remote: remote*.c over libcurl). main.c
 * picks one for the whole command; a NULL slot is what a backend cannot do. */
#include "cli/cli.h"

/* The local functions that take a home flag of their own: the command has
 * already stored its --home in env->home_flag, which they fall back to. */
static int l_get_experiments(cli_env *env, cli_out out) { return cli_get_experiments(env, NULL, out); }
static int l_get_nodes(cli_env *env, cli_out out) { return cli_get_nodes(env, NULL, out); }
static int l_get_deployments(cli_env *env, cli_out out) { return cli_get_deployments(env, NULL, out); }
static int l_get_queue(cli_env *env, cli_out out) { return cli_get_queue(env, NULL, out); }
static int l_get_objects(cli_env *env, const char *what, cli_out out) { return cli_get_objects(env, NULL, what, out); }
static int l_describe_deployment(cli_env *env, const char *name, cli_out out) {
    return cli_describe_deployment(env, NULL, name, out);
}
static int l_delete_run(cli_env *env, const char *run, bool force) { return cli_delete_run(env, NULL, run, force); }

const cli_backend cli_backend_local = {
    .name = "local",
    .run = cli_local_run,
    .resume = cli_local_resume,
    .cancel = cli_local_cancel,
    .get_runs = cli_local_get_runs,
    .get_run_items = cli_local_get_run_items,
    .get_experiments = l_get_experiments,
    .get_nodes = l_get_nodes,
    .get_deployments = l_get_deployments,
    .get_queue = l_get_queue,
    .get_objects = l_get_objects,
    .describe_run = cli_local_describe_run,
    .describe_deployment = l_describe_deployment,
    .models = cli_local_models,
    .logs = cli_local_logs,
    .delete_run = l_delete_run,
    .delete_object = cli_local_delete_object,
    .apply = cli_local_apply,
    .rollout = cli_local_rollout,
    .validate_names = cli_local_validate_names,
};

static int r_models(cli_env *env, const char *name, bool describe, cli_out out) {
    (void)describe; /* the server's registry: one model with its versions either way */
    return remote_models(env, name, out);
}

/* resume, get queue and the scheduler's objects read the home's workload rows
 * and processes; validate checks names only against the files given. */
const cli_backend cli_backend_remote = {
    .name = "remote",
    .run = remote_run,
    .cancel = remote_cancel,
    .get_runs = remote_get_runs,
    .get_run_items = remote_get_run_items,
    .get_experiments = remote_get_experiments,
    .get_nodes = remote_get_nodes,
    .get_deployments = remote_get_deployments,
    .describe_run = remote_describe,
    .describe_deployment = remote_describe_deployment,
    .models = r_models,
    .logs = remote_logs,
    .delete_run = remote_delete_run,
    .delete_object = remote_delete,
    .apply = remote_apply,
    .rollout = remote_rollout,
};

int cli_not_remote(cli_env *env, const char *what) {
    return cli_fail(CLI_USAGE,
                    "%s works on the home directly, not through a server (%s): run it on the server's machine "
                    "without --server or MLPLANE_SERVER",
                    what, env->server ? env->server : "--server");
}
