/* authz.c — POST /api/v1/authz/review: may the caller verb resource in namespace?
 *
 * A self access review, as Kubernetes' SelfSubjectAccessReview (and what
 * kube-rbac-proxy asks for a service behind it): the credentials reviewed are the
 * request's own Authorization header, so a caller only ever learns what it may do
 * itself. A Deployment's process (src/serve/authz.c) sends its caller's header
 * here unchanged to decide its /admin/ and, with spec.auth.inference: token, its
 * inference routes.
 *
 *   POST /api/v1/authz/review  {"verb": "update", "resource": "deployments", "namespace": "team-b",
 *                               "name": "web"}          (name optional: the object, for the audit log)
 *   200 {"allowed": false, "user": "ana", "groups": [...],
 *        "reason": "user \"ana\" cannot update deployments in namespace \"team-b\""}
 *
 * No valid credentials: the 401 of authentication (server.c), before this handler.
 * With authentication off every review is allowed (user ""). A review that says
 * no is audited as the denial it stands for (audit_route.c).
 *
 * Threads: the handler runs on the server's worker threads with their store
 * handles; no state of its own. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"

static const char *const VERBS[] = {"get", "list", "create", "update", "delete", NULL};
static const char *const RESOURCES[] = {"pipelines", "runs",    "experiments", "models", "deployments",
                                        "monitors",  "secrets", "queues",      "tokens", NULL};

static bool one_of(const char *s, const char *const *words) {
    for (size_t i = 0; words[i]; i++)
        if (strcmp(s, words[i]) == 0) return true;
    return false;
}

static void words(char *out, size_t n, const char *const *w) {
    out[0] = '\0';
    for (size_t i = 0; w[i]; i++) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s%s", i ? ", " : "", w[i]);
    }
}

/* Reads a string member of body that must be one of allowed (NULL: any name). */
static const char *member(json_t *body, const char *key, const char *const *allowed, mp_http_resp *resp) {
    const char *v = json_string_value(json_object_get(body, key));
    char list[200];
    if (!v || !*v || strlen(v) > 63) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                             "the review needs \"%s\" as a string of 1 to 63 characters, e.g. {\"verb\": \"get\", "
                             "\"resource\": \"deployments\", \"namespace\": \"default\"}",
                             key);
        return NULL;
    }
    if (allowed && !one_of(v, allowed)) {
        words(list, sizeof list, allowed);
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "\"%s\" must be one of %s, got \"%s\"", key, list,
                             v);
        return NULL;
    }
    return v;
}

void api_h_authz_review(const mp_http_req *req, mp_http_resp *resp) {
    json_t *body = mp_http_body_json(req, resp);
    if (!body) return;
    const char *verb = member(body, "verb", VERBS, resp);
    const char *resource = verb ? member(body, "resource", RESOURCES, resp) : NULL;
    const char *ns = resource ? member(body, "namespace", NULL, resp) : NULL;
    json_t *nm = json_object_get(body, "name");
    if (ns && nm && (!json_is_string(nm) || strlen(json_string_value(nm)) > 253)) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                             "\"name\", when given, is a string of at most 253 characters");
        ns = NULL;
    }
    if (!ns) {
        json_decref(body);
        return;
    }
    const api_principal *who = api__req_principal(req);
    json_t *groups = json_array();
    bool allowed = true;
    char reason[400] = "";
    if (who && who->auth_on) {
        for (int i = 0; i < who->ngroups; i++) json_array_append_new(groups, json_string(who->groups[i]));
        allowed = who->authenticated && (api__principal_in_group(who, API_GROUP_MASTERS) ||
                                         api__rbac_allowed(req->st, who, verb, resource, ns));
        if (!allowed)
            snprintf(reason, sizeof reason, "user \"%s\" cannot %s %s in namespace \"%s\"", who->user, verb, resource,
                     ns);
    }
    mp_http_json(resp, 200,
                 json_pack("{s:b,s:s,s:o,s:s,s:s,s:s,s:s}", "allowed", allowed, "user", who ? who->user : "", "groups",
                           groups, "verb", verb, "resource", resource, "namespace", ns, "reason", reason));
    json_decref(body);
}

static const mp_http_route routes[] = {
    {"POST", "/api/v1/authz/review", api_h_authz_review},
};

const mp_http_route *api_authz_routes(size_t *n) {
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
