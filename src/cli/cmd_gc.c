/* cmd_gc.c — mlplane gc (placeholder). */
#include "cli/cli.h"

int cmd_gc(cli_env *env, int argc, char **argv) {
    (void)env, (void)argc, (void)argv;
    return cli_fail(CLI_FAILED, "gc: not yet");
}
