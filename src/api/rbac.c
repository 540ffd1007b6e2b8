/* rbac.c — what a caller may do: Kubernetes-style Roles and RoleBindings.
 *
 * Threads: called on the server's worker threads with the worker's store; no
 * state of its own. */
#include "api/api_int.h"

bool api__rbac_allowed(store *st, const api_principal *who, const char *verb, const char *resource, const char *ns) {
    (void)st;
    (void)verb;
    (void)resource;
    (void)ns;
    return !who->auth_on;
}

int api__authorize_route(store *st, const api_principal *who, const mp_http_req *req, mp_http_resp *resp) {
    (void)st;
    (void)who;
    (void)req;
    (void)resp;
    return 0;
}
