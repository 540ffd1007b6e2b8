/* credentials.c — the token the CLI sends to a server (Authorization: Bearer):
 * $MLPLANE_TOKEN, else the first line of the credentials file
 * ($MLPLANE_CREDENTIALS, else $XDG_CONFIG_HOME/mlplane/credentials, else
 * ~/.config/mlplane/credentials), which must not be readable by group or others
 * (mode 0600): one that is is refused, saying to chmod 600 it. No file: no token.
 * Threads: the main thread only. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The credentials file's path (heap), NULL when no home to put it in. */
static char *credentials_path(void) {
    const char *p = getenv("MLPLANE_CREDENTIALS");
    if (p && *p) return mp_xstrdup(p);
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && *x) return mp_xasprintf("%s/mlplane/credentials", x);
    const char *h = getenv("HOME");
    return h && *h ? mp_xasprintf("%s/.config/mlplane/credentials", h) : NULL;
}

int cli_credentials_token(char *out, size_t n) {
    out[0] = '\0';
    const char *t = getenv("MLPLANE_TOKEN");
    if (t && *t) {
        if (!mp_strlcpy(out, t, n)) return cli_fail(CLI_USAGE, "MLPLANE_TOKEN is longer than %zu bytes", n - 1);
        return CLI_OK;
    }
    char *path = credentials_path();
    if (!path) return CLI_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int err = errno;
        int rc = err == ENOENT && !getenv("MLPLANE_CREDENTIALS")
                     ? CLI_OK
                     : cli_fail(CLI_USAGE, "cannot read the credentials file %s: %s", path, strerror(err));
        free(path);
        return rc;
    }
    struct stat sb;
    int rc = CLI_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = cli_fail(CLI_USAGE, "the credentials file %s is not a regular file", path);
    } else if (sb.st_mode & 077) {
        rc = cli_fail(CLI_USAGE,
                      "the credentials file %s is readable by others (mode %04o), refusing to use it: run chmod 600 %s",
                      path, (unsigned)(sb.st_mode & 07777), path);
    } else {
        char buf[1024];
        ssize_t got = read(fd, buf, sizeof buf - 1);
        if (got < 0) got = 0;
        buf[got] = '\0';
        char *line = buf + strspn(buf, " \t\r\n");
        line[strcspn(line, " \t\r\n")] = '\0';
        if (!mp_strlcpy(out, line, n)) rc = cli_fail(CLI_USAGE, "the token in %s is too long", path);
        sodium_memzero(buf, sizeof buf);
    }
    close(fd);
    free(path);
    return rc;
}
