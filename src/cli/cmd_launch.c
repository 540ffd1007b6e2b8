/* cmd_launch.c — `mlplane launch`: the step's side of a Kubernetes pod
 * (src/exec/launch*.c): `--install DIR` in the init container, `-- COMMAND`
 * in the step's container. Single-threaded. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char launch_help[] =
    "Usage: mlplane launch --install DIR\n"
    "       mlplane launch [--] COMMAND [ARG...]\n\n"
    "Runs one pipeline step inside the pod `mlplane k8s render` describes (docs/kubernetes-render.md).\n\n"
    "  --install DIR   copy a launcher that needs nothing of the image it runs in into DIR: this\n"
    "                  binary (DIR/mlplane), its ELF loader (DIR/ld.so) and every shared library it\n"
    "                  has loaded (DIR/lib); run it as DIR/ld.so --library-path DIR/lib DIR/mlplane\n\n"
    "Otherwise: fetch the step's inputs (by content hash) and its upstream steps' outputs from\n"
    "mlplane server into the work folder, verify their hashes, run COMMAND in the outputs folder\n"
    "with this environment, stdout and stderr, then upload each declared output and metrics.json.\n"
    "The exit status is COMMAND's (128+N when signal N ended it); a failed command uploads nothing;\n"
    "a failure of the launcher itself (a bad description, an input missing or not matching its\n"
    "hash, an upload that failed after retries) exits 1.\n\n"
    "Environment (the rendered pod sets it):\n"
    "  MLPLANE_ARTIFACTS      the pod's mlplane.dev/artifacts annotation (JSON), or\n"
    "  MLPLANE_ARTIFACTS_FILE a file holding it (a downwardAPI volume)\n"
    "  MLPLANE_RUN_ID, MLPLANE_STEP, MLPLANE_SERVER   the run, the step, the server's URL\n"
    "  MLPLANE_TRIAL          a sweep trial's index (its outputs are recorded as the trial's)\n"
    "  MLPLANE_WORK           the work folder (default /mlplane/work; paths under /mlplane/work in\n"
    "                         the description are moved under it)\n"
    "  MLPLANE_OUTPUTS        the outputs folder (default $MLPLANE_WORK/outputs), emptied first\n"
    "                         when it lies in the work folder\n"
    "  MLPLANE_WORKDIR        where COMMAND starts (default $MLPLANE_OUTPUTS)\n"
    "  MLPLANE_LAUNCH_RETRIES how often a transient server error is tried again (default 8)\n";

int cmd_launch(cli_env *env, int argc, char **argv) {
    (void)env;
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(launch_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    mp_err e;
    mp_err_clear(&e);
    if (strcmp(argv[1], "--install") == 0 || mp_str_starts(argv[1], "--install=")) {
        const char *dir = argv[1][9] == '=' ? argv[1] + 10 : argc > 2 ? argv[2] : NULL;
        int extra = argv[1][9] == '=' ? 2 : 3;
        if (!dir || argc > extra) return cli_fail(CLI_USAGE, "usage: mlplane launch --install DIR");
        return exec_launch_install(dir, &e) == 0 ? CLI_OK : cli_fail(CLI_FAILED, "launch --install %s: %s", dir, e.msg);
    }
    int first = strcmp(argv[1], "--") == 0 ? 2 : 1;
    if (first == 1 && argv[1][0] == '-')
        return cli_fail(CLI_USAGE, "launch: unknown flag %s (use -- before a command that starts with '-')", argv[1]);
    if (first >= argc) return cli_fail(CLI_USAGE, "usage: mlplane launch [--] COMMAND [ARG...]");
    int status = 1;
    if (exec_launch(argv + first, &status, &e) != 0) return cli_fail(CLI_FAILED, "launch: %s", e.msg);
    return status;
}
