/* why.c — the one shape of "why it waits" (sched.h, "why a step waits"):
 * "waiting for WHAT: WHY[; MORE]". Every reason a ready step gives for not
 * running is built here, so the shape cannot drift. Reentrant. */
#include "sched/sched.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

char *sched_why(const char *what, const char *fmt, ...) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "waiting for %s: ", what);
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return mp_buf_steal(&b);
}

char *sched_why_take(const char *what, char *why) {
    char *r = sched_why(what, "%s", why ? why : "");
    free(why);
    return r;
}

bool sched_why_is(const char *why, const char *what) {
    static const char lead[] = "waiting for ";
    if (!why || !what || strncmp(why, lead, sizeof lead - 1) != 0) return false;
    why += sizeof lead - 1;
    size_t n = strlen(what);
    return strncmp(why, what, n) == 0 && why[n] == ':' && why[n + 1] == ' ';
}
