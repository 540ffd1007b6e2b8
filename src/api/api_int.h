/* api_int.h — what the files of src/api share (not a public API). */
#ifndef MLPLANE_API_INT_H
#define MLPLANE_API_INT_H

#include "api/api.h"
#include "spec/spec.h"
#include "store/store.h"
#include "util/http.h"
#include "util/util.h"

/* Spawns `mlplane --home HOME run --detach [--parallel=N] [--param=k=v]... -- FILE`
 * (params: "k=v" strings) with a clean signal state and without MLPLANE_SERVER;
 * MLFLOW_TRACKING_URI is base_url when given, MLFLOW_TRACKING_TOKEN token when
 * given (else neither inherited). Its stdout and stderr (64 KiB each at
 * most) into out and err, *status its exit status (-1 when unknown). 0, or MP_EIO
 * when it could not be started or did not answer within a minute. */
int api__spawn_run(const char *home, const char *base_url, const char *file, const mp_strv *params, int parallel,
                   const char *token, mp_buf *out, mp_buf *err, int *status, mp_err *e);
/* The run id on out's first line (heap), or NULL when it does not look like one. */
char *api__first_line_id(const mp_buf *out);

/* Monitors' actions (monitor_actions.c). The model and the version Deployment name
 * serves now (heap; NULL when not known). */
void api__monitor_served(store *st, const char *home, const char *name, char **model, char **version);
/* What Monitor m does after check c: on drift, its webhook and its retraining. */
void api__monitor_act(store *st, const char *home, const spec_monitor *m, const store_monitor_check *c);
/* Follows m's retraining: registered version, canary, promotion (each tick). */
void api__monitor_advance(store *st, const char *home, const spec_monitor *m);

/* ---- who sends a request (auth.c) and what they may do (rbac.c) ---------------------- */

#define API_GROUPS_MAX 8

/* The caller of one request, as authentication found it. */
typedef struct api_principal {
    bool auth_on;        /* the server checks credentials (--auth, or a non-loopback address) */
    bool authenticated;  /* valid credentials came with the request */
    char user[128];      /* "" when anonymous */
    char namespace_[64]; /* the namespace the credentials act in by default ("default") */
    char groups[API_GROUPS_MAX][64];
    int ngroups;
    char token_id[64];   /* the token's id, "" for a password or no credentials */
} api_principal;

/* Reads the credentials of req (Authorization: Bearer TOKEN, or Basic user:password)
 * into *who. With auth_on false every request is anonymous and allowed (0). With
 * auth_on, a request without valid credentials gets a 401 in resp (MLflow's error
 * shape, WWW-Authenticate) and MP_EPERM; then who->authenticated is false and
 * who->user (a Basic user name) or who->token_id (the id a token claims) says what
 * was tried, for the audit log. st is this worker's store (NULL for the routes that
 * need none, which are public). */
int api__authenticate(store *st, bool auth_on, const mp_http_req *req, api_principal *who, mp_http_resp *resp);
/* The groups authentication adds: every authenticated caller's, and the one an
 * admin user (and the --init-admin token) is in, which cluster-admin is bound to. */
#define API_GROUP_AUTHENTICATED "system:authenticated"
#define API_GROUP_MASTERS "system:masters"
/* Whether who is in group. */
bool api__principal_in_group(const api_principal *who, const char *group);
/* Forgets every remembered password check (a password changed, a user deleted). */
void api__auth_forget(void);
/* The caller of req as api__authenticate found it (server.c), NULL when the
 * server does not check credentials (req->authz unset). Borrowed: valid while the handler runs. */
const api_principal *api__req_principal(const mp_http_req *req);
/* For a run submitted by req's caller (with --auth): a new token acting as the
 * caller (user, namespace, groups), valid API__RUN_TOKEN_TTL_MS, that its steps
 * send as MLFLOW_TRACKING_TOKEN (heap; NULL when the server checks no
 * credentials or it cannot be made: a warning on stderr). */
#define API__RUN_TOKEN_TTL_MS (7LL * 86400000)
char *api__run_token(const mp_http_req *req);

/* Whether who may verb ("get", "list", "create", "update", "delete") resource
 * ("pipelines", "runs", "experiments", "models", "deployments", "monitors",
 * "secrets", "queues", "tokens", "roles": SPEC_RBAC_RESOURCES) in namespace ns
 * ("" for a cluster-scoped object: only a ClusterRoleBinding grants there), by
 * the Roles, ClusterRoles and their bindings applied in st, and the built-in
 * roles; the group system:masters may do everything. Always true with auth off;
 * false for an unauthenticated caller, an unknown verb or resource, or a store
 * whose bindings cannot be read. */
bool api__rbac_allowed(store *st, const api_principal *who, const char *verb, const char *resource, const char *ns);

/* The check of one routed request before its handler runs: what the route does
 * (verb, resource, namespace) decided from req, then api__rbac_allowed. A refusal
 * fills resp (403 naming the missing permission, or the 404 a missing object
 * would get when the caller cannot even read it) and returns MP_EPERM. */
int api__authorize_route(store *st, const api_principal *who, const mp_http_req *req, mp_http_resp *resp);

/* ---- the audit log's hook (audit_route.c) ------------------------------------------- */

/* After the handler has filled resp, before the answer goes out: gives resp an
 * X-Request-Id header and, when the request is audited (mutating, 401 or 403),
 * appends its line to a durably. route: the template of the route in matched
 * (NULL: none did); who: the caller as authentication found it. a NULL: nothing. */
void api__audit_request(api_audit *a, const mp_http_req *in, const char *route, const api_principal *who,
                        mp_http_resp *resp);
/* Whether rbac_routes.c's table has a row for method and path (a route's template
 * matches itself: every route of the server must have one, else it is refused). */
bool api__route_ruled(const char *method, const char *path);
/* After this process applied or deleted objects: every worker reads the bindings again. */
void api__rbac_changed(void);
/* Whether who is in the group system:masters (cluster-admin without a binding). */
bool api__is_master(const api_principal *who);
/* The namespace (metadata.namespace) of the applied Monitor (monitor) or
 * Deployment name into ns; MP_ENOENT when none is applied. From the worker's table. */
int api__object_namespace(store *st, bool monitor, const char *name, char *ns, size_t n);
/* Removes from the JSON array arr the items (objects with a "deployment" or a "name") of applied
 * Deployments (monitor false) or Monitors whose namespace req's caller may not list. */
void api__filter_listed(const mp_http_req *req, json_t *arr, bool monitor);
/* The roleRef name of RoleBinding name in namespace ns into role; MP_ENOENT when none is applied. */
int api__binding_role(store *st, const char *ns, const char *name, char *role, size_t n);
/* MLflow's permission endpoints (permissions.c). */
void api__h_exp_perm_create(const mp_http_req *req, mp_http_resp *resp);
void api__h_exp_perm_get(const mp_http_req *req, mp_http_resp *resp);
void api__h_exp_perm_update(const mp_http_req *req, mp_http_resp *resp);
void api__h_exp_perm_delete(const mp_http_req *req, mp_http_resp *resp);
void api__h_model_perm_create(const mp_http_req *req, mp_http_resp *resp);
void api__h_model_perm_get(const mp_http_req *req, mp_http_resp *resp);
void api__h_model_perm_update(const mp_http_req *req, mp_http_resp *resp);
void api__h_model_perm_delete(const mp_http_req *req, mp_http_resp *resp);
/* Whether req's caller may create (or update, when one of that kind and name is
 * applied) each object of f but its Pipelines, in its namespace; else resp gets
 * the 403 of the first it may not. True when req has no authz (auth off). */
bool api__objects_allowed(const mp_http_req *req, const spec_file *f, mp_http_resp *resp);
/* The RBAC resource of an applied kind ("deployments", "monitors", "roles", "queues", "pipelines"). */
const char *api__kind_resource(spec_kind kind);
/* The namespace authorization checks an object in: its metadata.namespace, or ""
 * for a cluster-scoped kind (ClusterQueue, ResourceFlavor, Node, NodePool,
 * PriorityClass, ClusterRole, ClusterRoleBinding). */
const char *api__kind_namespace(const spec_object *o);
/* Fills resp with the 403 naming the missing permission:
 * user "ana" cannot delete models in namespace "team-b" (MLflow's shape, PERMISSION_DENIED). */
void api__deny(mp_http_resp *resp, const char *user, const char *verb, const char *resource, const char *ns);
/* The namespace a request that creates something acts in: its X-Mlplane-Namespace
 * header, else its token's namespace, else "default" (borrowed from req). */
const char *api__req_namespace(const mp_http_req *req);

#endif
