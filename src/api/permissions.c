/* permissions.c — MLflow's permission endpoints (its basic-auth app) over RBAC:
 *   POST   /api/2.0/mlflow/experiments/permissions/create  {experiment_id, username, permission}
 *   GET    /api/2.0/mlflow/experiments/permissions/get     ?experiment_id&username
 *   PATCH  /api/2.0/mlflow/experiments/permissions/update  {experiment_id, username, permission}
 *   DELETE /api/2.0/mlflow/experiments/permissions/delete  {experiment_id, username}
 * and the same under registered-models/permissions/ with name for experiment_id.
 *
 * A grant becomes applied objects in the namespace of the experiment (or model):
 * a Role mlflow-experiments-read|edit|manage (mlflow-models-... for models) and a
 * RoleBinding mlflow-experiments-USER binding USER to it. READ is get and list,
 * EDIT adds update, MANAGE adds create and delete, over experiments and runs
 * (models); NO_PERMISSIONS binds a Role without rules. RBAC grants by namespace,
 * so a grant on one experiment holds for every experiment of its namespace
 * (docs/security.md). Who may call them: create roles in that namespace
 * (rbac_routes.c's table).
 *
 * Threads: handlers run on the server's worker threads with the worker's store. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"
#include "sched/sched.h"

static const char *const LEVELS[] = {"READ", "EDIT", "MANAGE", "NO_PERMISSIONS", NULL};
static const char *const LEVEL_VERBS[] = {"[get, list]", "[get, list, update]", "[get, list, update, create, delete]",
                                          NULL};

typedef struct target {
    bool model;            /* registered-models/permissions, else experiments */
    const char *id;        /* the experiment id or the model name */
    const char *user;
    char ns[128];
    char binding[80];      /* mlflow-experiments-USER-HASH (at most 60) */
} target;

/* A DNS label naming user's binding: its letters and digits (others as '-'), and a hash of the whole name. */
static void binding_name(const target *t, char *out, size_t n) {
    char s[33];
    size_t k = 0;
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)t->user; *p; p++) {
        h = (h ^ *p) * 16777619u;
        char c = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (k + 1 < sizeof s && (ok || (k && s[k - 1] != '-'))) s[k++] = ok ? c : '-';
    }
    while (k && s[k - 1] == '-') k--;
    s[k] = '\0';
    snprintf(out, n, "mlflow-%s-%.32s%s%08x", t->model ? "models" : "experiments", s, k ? "-" : "", (unsigned)h);
}

/* Reads the request's target; on failure fills resp (400, or the 404 of a missing object) and returns false. */
static bool read_target(const mp_http_req *req, mp_http_resp *resp, bool model, json_t **body, target *t) {
    memset(t, 0, sizeof *t);
    t->model = model;
    const char *idk = model ? "name" : "experiment_id";
    *body = NULL;
    if (req->body_len) { /* the body when there is one, else the query (what rbac_routes.c checks) */
        *body = mp_http_body_peek(req); /* the object rbac_routes.c read the target from */
        if (!*body) {
            mp_http_mlflow_error(resp, 400, "MALFORMED_REQUEST", "the body must be a JSON object");
            return false;
        }
        t->id = json_string_value(json_object_get(*body, idk));
        t->user = json_string_value(json_object_get(*body, "username"));
    } else {
        t->id = mp_http_query(req, idk);
        t->user = mp_http_query(req, "username");
    }
    if (!t->id || !*t->id || !t->user || !*t->user) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter '%s'.",
                             !t->id || !*t->id ? idk : "username");
        return false;
    }
    mp_err e = {0};
    int rc = model ? req->st->r->model_namespace(req->st, t->id, t->ns, sizeof t->ns, &e)
                   : req->st->t->experiment_namespace(req->st, t->id, t->ns, sizeof t->ns, &e);
    if (rc != 0) {
        if (model) mp_http_mlflow_error(resp, 404, "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=%s not found", t->id);
        else mp_http_mlflow_error(resp, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=%s exists", t->id);
        return false;
    }
    binding_name(t, t->binding, sizeof t->binding);
    return true;
}

static void reply(mp_http_resp *resp, const target *t, const char *level) {
    json_t *p = json_pack("{s:s,s:s,s:s}", t->model ? "name" : "experiment_id", t->id, "user_id", t->user,
                          "permission", level);
    mp_http_json(resp, 200, json_pack("{s:o}", t->model ? "registered_model_permission" : "experiment_permission", p));
}

static void not_found(mp_http_resp *resp, const target *t) {
    mp_http_mlflow_error(resp, 404, "RESOURCE_DOES_NOT_EXIST", "%s permission with %s=%s and username=%s not found",
                         t->model ? "Registered model" : "Experiment", t->model ? "name" : "experiment_id", t->id,
                         t->user);
}

/* The permission user's binding gives (from its Role's name), or NULL when there is none. */
static const char *current_level(store *st, const target *t) {
    char role[64];
    if (api__binding_role(st, t->ns, t->binding, role, sizeof role) != 0) return NULL;
    const char *dash = strrchr(role, '-');
    if (!dash) return NULL;
    for (int i = 0; LEVELS[i]; i++) {
        char low[32];
        size_t k = 0;
        for (const char *c = LEVELS[i]; *c && k + 1 < sizeof low; c++) low[k++] = *c == '_' ? '_' : (char)(*c - 'A' + 'a');
        low[k] = '\0';
        if (strcmp(dash + 1, strcmp(LEVELS[i], "NO_PERMISSIONS") == 0 ? "none" : low) == 0) return LEVELS[i];
    }
    return NULL;
}

/* Applies the Role of level and user's binding to it in the target's namespace. */
static int grant(store *st, const target *t, int level, mp_err *e) {
    const char *kind = t->model ? "models" : "experiments";
    const char *res = t->model ? "[models]" : "[experiments, runs]";
    char lvl[16];
    snprintf(lvl, sizeof lvl, "%s", level == 0 ? "read" : level == 1 ? "edit" : level == 2 ? "manage" : "none");
    json_t *subj = json_string(t->user);
    char *user = json_dumps(subj, JSON_ENCODE_ANY); /* a YAML flow scalar: JSON's string is one */
    json_decref(subj);
    char *text;
    if (level == 3)
        text = mp_xasprintf("apiVersion: mlplane.dev/v1\nkind: Role\nmetadata: {name: mlflow-%s-%s, namespace: %s}\n"
                            "rules: []\n",
                            kind, lvl, t->ns);
    else
        text = mp_xasprintf("apiVersion: mlplane.dev/v1\nkind: Role\nmetadata: {name: mlflow-%s-%s, namespace: %s}\n"
                            "rules: [{verbs: %s, resources: %s}]\n",
                            kind, lvl, t->ns, LEVEL_VERBS[level], res);
    char *all = mp_xasprintf("%s---\napiVersion: mlplane.dev/v1\nkind: RoleBinding\n"
                             "metadata: {name: %s, namespace: %s}\nroleRef: {kind: Role, name: mlflow-%s-%s}\n"
                             "subjects: [{kind: User, name: %s}]\n",
                             text, t->binding, t->ns, kind, lvl, user ? user : "\"\"");
    free(text);
    free(user);
    spec_file *f = NULL;
    spec_diags d = {0};
    int rc = spec_load_string("permission", "/", all, strlen(all), &f, &d);
    if (rc != 0) rc = mp_err_set(e, MP_EINVAL, "cannot grant the permission: %s", d.n ? d.v[0].msg : "invalid");
    size_t n = 0;
    if (rc == 0) rc = st->m->begin(st, e);
    if (rc == 0) {
        rc = sched_objects_apply(st, f, all, &n, &d, e);
        if (rc == 0) rc = st->m->commit(st, e);
        else st->m->rollback(st);
    }
    if (rc == 0) api__rbac_changed();
    spec_diags_free(&d);
    spec_file_free(f);
    free(all);
    return rc;
}

static int level_of(json_t *body, mp_http_resp *resp) {
    const char *p = json_string_value(json_object_get(body, "permission"));
    for (int i = 0; p && LEVELS[i]; i++)
        if (strcmp(p, LEVELS[i]) == 0) return i;
    mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                         "Invalid permission '%s'. Valid permissions are: READ, EDIT, MANAGE, NO_PERMISSIONS",
                         p ? p : "");
    return -1;
}

typedef enum { P_CREATE, P_GET, P_UPDATE, P_DELETE } op;

static void call(const mp_http_req *req, mp_http_resp *resp, bool model, op o) {
    json_t *body = NULL;
    target t;
    if (!read_target(req, resp, model, &body, &t)) {
        json_decref(body);
        return;
    }
    const char *cur = current_level(req->st, &t);
    mp_err e = {0};
    int level = -1;
    if (o == P_GET) {
        if (cur) reply(resp, &t, cur);
        else not_found(resp, &t);
    } else if (o == P_DELETE) {
        if (!cur) not_found(resp, &t);
        else if (sched_objects_delete(req->st, "RoleBinding", t.ns, t.binding, &e) != 0) api_error(resp, &e);
        else {
            api__rbac_changed();
            mp_http_json(resp, 200, json_object());
        }
    } else if ((level = level_of(body, resp)) < 0) {
        /* resp says why */
    } else if (o == P_CREATE && cur) {
        mp_http_mlflow_error(resp, 400, "RESOURCE_ALREADY_EXISTS",
                             "%s permission (%s=%s, username=%s) already exists.", model ? "Registered model" : "Experiment",
                             model ? "name" : "experiment_id", t.id, t.user);
    } else if (o == P_UPDATE && !cur) {
        not_found(resp, &t);
    } else if (grant(req->st, &t, level, &e) != 0) {
        api_error(resp, &e);
    } else if (o == P_CREATE) {
        reply(resp, &t, LEVELS[level]);
    } else {
        mp_http_json(resp, 200, json_object());
    }
    json_decref(body);
}

void api__h_exp_perm_create(const mp_http_req *req, mp_http_resp *resp) { call(req, resp, false, P_CREATE); }
void api__h_exp_perm_get(const mp_http_req *req, mp_http_resp *resp) { call(req, resp, false, P_GET); }
void api__h_exp_perm_update(const mp_http_req *req, mp_http_resp *resp) { call(req, resp, false, P_UPDATE); }
void api__h_exp_perm_delete(const mp_http_req *req, mp_http_resp *resp) { call(req, resp, false, P_DELETE); }
void api__h_model_perm_create(const mp_http_req *req, mp_http_resp *resp) { call(req, resp, true, P_CREATE); }
void api__h_model_perm_get(const mp_http_req *req, mp_http_resp *resp) { call(req, resp, true, P_GET); }
void api__h_model_perm_update(const mp_http_req *req, mp_http_resp *resp) { call(req, resp, true, P_UPDATE); }
void api__h_model_perm_delete(const mp_http_req *req, mp_http_resp *resp) { call(req, resp, true, P_DELETE); }
