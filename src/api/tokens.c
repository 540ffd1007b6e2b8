/* tokens.c — API tokens and users through the server: /api/v1/tokens (create,
 * list, revoke) and MLflow's auth app's user endpoints (/api/2.0/mlflow/users/...),
 * and what `mlplane token` shares with them (a token's JSON, a TTL's parse).
 *
 * These routes need authentication (--auth): with it off they answer 403 and say
 * to run the command on the home. Beyond what RBAC decides (the "tokens"
 * resource, rbac.c), a caller outside group system:masters only creates tokens
 * for itself with a subset of its own groups, sees and revokes only its own,
 * and reads or changes only its own user; others' tokens answer as missing ones.
 * A created token's text is in its creation's answer only, never in another.
 * Threads: the handlers run on the server's worker threads with their own
 * store handles; no state of their own. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"

/* ---- shared with the CLI ------------------------------------------------------- */

static json_t *time_or_null(int64_t ms) {
    if (ms <= 0) return json_null();
    char b[40];
    mp_format_time(ms, b, sizeof b);
    return json_string(b);
}

json_t *api_token_json(const store_token *t) {
    json_t *groups = json_array();
    for (const char *p = t->groups ? t->groups : ""; *p;) {
        size_t n = strcspn(p, ",");
        if (n) json_array_append_new(groups, json_stringn(p, n));
        p += n;
        if (*p == ',') p++;
    }
    return json_pack("{s:s,s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:b,s:o}", "id", t->id, "user", t->user, "namespace",
                     t->namespace_ ? t->namespace_ : "default", "groups", groups, "description",
                     t->description ? t->description : "", "created", time_or_null(t->created_ms), "expires",
                     time_or_null(t->expires_ms), "last_used", time_or_null(t->last_used_ms), "revoked",
                     t->revoked_ms > 0, "revoked_at", time_or_null(t->revoked_ms));
}

int api_parse_ttl(const char *s, int64_t *ms, mp_err *e) {
    *ms = 0;
    if (!s || !*s || strcmp(s, "0") == 0 || strcmp(s, "never") == 0) return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"w", 604800000}};
    for (size_t i = 0; end != s && errno == 0 && v > 0 && v < 100000 && i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            *ms = (int64_t)v * units[i].ms;
            return 0;
        }
    }
    return mp_err_set(e, MP_EINVAL, "--ttl expects a duration like 30d, 12h, 90m, 3600s or 2w (or never), got \"%s\"",
                      s);
}

int api_groups_join(const mp_strv *groups, char **out, mp_err *e) {
    mp_buf b;
    mp_buf_init(&b);
    for (size_t i = 0; i < groups->n; i++) {
        const char *g = groups->v[i];
        if (!*g || strchr(g, ',') || strlen(g) >= 64) {
            mp_buf_free(&b);
            return mp_err_set(e, MP_EINVAL, "a group name is 1 to 63 characters without a comma, got \"%s\"", g);
        }
        if (i) mp_buf_append(&b, ",", 1);
        mp_buf_append(&b, g, strlen(g));
    }
    *out = mp_xstrdup(b.data ? b.data : "");
    mp_buf_free(&b);
    return 0;
}

/* ---- who may ------------------------------------------------------------------ */

/* The caller, or NULL (and resp filled: 403) when authentication is off. */
static const api_principal *caller(const mp_http_req *req, mp_http_resp *resp) {
    const api_principal *who = api__req_principal(req);
    if (!who || !who->auth_on || !who->authenticated) {
        mp_http_mlflow_error(resp, 403, "PERMISSION_DENIED",
                             "tokens and users are managed through a server only when it runs with --auth; run the "
                             "command without --server (or MLPLANE_SERVER) on the server's machine");
        return NULL;
    }
    return who;
}

static bool is_master(const api_principal *who) { return api__principal_in_group(who, API_GROUP_MASTERS); }

/* Whether every group of the comma list groups is one of who's. */
static bool groups_subset(const api_principal *who, const char *groups) {
    for (const char *p = groups; *p;) {
        size_t n = strcspn(p, ",");
        char g[64] = "";
        if (n >= sizeof g) return false;
        memcpy(g, p, n);
        g[n] = '\0';
        if (n && !api__principal_in_group(who, g)) return false;
        p += n;
        if (*p == ',') p++;
    }
    return true;
}

static void store_error(mp_http_resp *resp, const mp_err *e) {
    int status = e->code == MP_ENOENT ? 404 : e->code == MP_EEXIST ? 400 : e->code == MP_EINVAL ? 400 : 500;
    const char *code = e->code == MP_ENOENT   ? "RESOURCE_DOES_NOT_EXIST"
                       : e->code == MP_EEXIST ? "RESOURCE_ALREADY_EXISTS"
                       : e->code == MP_EINVAL ? "INVALID_PARAMETER_VALUE"
                                              : "INTERNAL_ERROR";
    mp_http_mlflow_error(resp, status, code, "%s", e->msg);
}

/* ---- /api/v1/tokens ----------------------------------------------------------- */

/* POST {user, namespace, groups: [..], ttl: "30d", description} -> {token, ...the token's JSON}. */
static void h_token_create(const mp_http_req *req, mp_http_resp *resp) {
    const api_principal *who = caller(req, resp);
    if (!who) return;
    json_t *body = mp_http_body_json(req, resp);
    if (!body) return;
    mp_err e = {0};
    const char *user = json_string_value(json_object_get(body, "user"));
    const char *ns = json_string_value(json_object_get(body, "namespace"));
    const char *ttl = json_string_value(json_object_get(body, "ttl"));
    const char *desc = json_string_value(json_object_get(body, "description"));
    if (!user || !*user) user = who->user;
    if (!ns || !*ns) ns = who->namespace_;
    mp_strv gv = {0};
    json_t *ga = json_object_get(body, "groups");
    size_t i;
    json_t *g;
    json_array_foreach(ga, i, g) if (json_is_string(g)) mp_strv_push(&gv, json_string_value(g));
    char *groups = NULL;
    int64_t ttl_ms = 0;
    int rc = api_groups_join(&gv, &groups, &e);
    if (rc == 0) rc = api_parse_ttl(ttl, &ttl_ms, &e);
    mp_strv_free(&gv);
    if (rc != 0) {
        store_error(resp, &e);
    } else if (!is_master(who) && strcmp(user, who->user) != 0) {
        mp_http_mlflow_error(resp, 403, "PERMISSION_DENIED", "user \"%s\" cannot create tokens for user \"%s\"",
                             who->user, user);
    } else if (!is_master(who) && !groups_subset(who, groups)) {
        mp_http_mlflow_error(resp, 403, "PERMISSION_DENIED",
                             "user \"%s\" cannot create a token in groups it is not in (%s)", who->user, groups);
    } else {
        store_token in = {.user = (char *)user, .namespace_ = (char *)ns, .groups = groups,
                          .description = (char *)(desc ? desc : ""),
                          .expires_ms = ttl_ms > 0 ? mp_now_ms() + ttl_ms : 0};
        store_token out;
        char *token = NULL;
        if (req->st->a->token_create(req->st, &in, &token, &out, &e) != 0) {
            store_error(resp, &e);
        } else {
            json_t *o = api_token_json(&out);
            json_object_set_new(o, "token", json_string(token));
            mp_http_json(resp, 200, o);
            sodium_memzero(token, strlen(token));
            free(token);
            store_token_free(&out);
        }
    }
    free(groups);
    json_decref(body);
}

static void h_token_list(const mp_http_req *req, mp_http_resp *resp) {
    const api_principal *who = caller(req, resp);
    if (!who) return;
    store_token *v = NULL;
    size_t n = 0;
    mp_err e = {0};
    if (req->st->a->token_list(req->st, &v, &n, &e) != 0) {
        store_error(resp, &e);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (is_master(who) || strcmp(v[i].user, who->user) == 0) json_array_append_new(arr, api_token_json(&v[i]));
    store_token_array_free(v, n);
    mp_http_json(resp, 200, json_pack("{s:o}", "tokens", arr));
}

static void h_token_revoke(const mp_http_req *req, mp_http_resp *resp) {
    const api_principal *who = caller(req, resp);
    if (!who) return;
    const char *id = mp_http_param(req, "id");
    store_token t;
    mp_err e = {0};
    int rc = req->st->a->token_get(req->st, id, &t, &e);
    if (rc == 0 && !is_master(who) && strcmp(t.user, who->user) != 0)
        rc = mp_err_set(&e, MP_ENOENT, "no token \"%s\"", id); /* others' tokens answer as missing ones */
    if (rc == 0) rc = req->st->a->token_revoke(req->st, id, &e);
    if (rc == 0) {
        store_token_free(&t);
        rc = req->st->a->token_get(req->st, id, &t, &e);
    }
    if (rc != 0) {
        store_error(resp, &e);
        return;
    }
    mp_http_json(resp, 200, api_token_json(&t));
    store_token_free(&t);
}

/* ---- MLflow's users ----------------------------------------------------------- */

static json_t *user_json(const store_user *u) {
    return json_pack("{s:{s:I,s:s,s:b,s:[],s:[]}}", "user", "id", (json_int_t)(u->created_ms), "username", u->name,
                     "is_admin", u->admin, "experiment_permissions", "registered_model_permissions");
}

/* The username of the request (body, else query), NULL with resp filled when missing;
 * when self_ok, a caller may name itself, else only system:masters may act. */
static const char *target_user(const mp_http_req *req, mp_http_resp *resp, json_t *body, const api_principal *who,
                               bool self_ok) {
    const char *name = json_string_value(json_object_get(body, "username"));
    if (!name) name = mp_http_query(req, "username");
    if (!name || !*name) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "missing value for required parameter 'username'");
        return NULL;
    }
    if (is_master(who) || (self_ok && strcmp(name, who->user) == 0)) return name;
    mp_http_mlflow_error(resp, 403, "PERMISSION_DENIED", "user \"%s\" cannot manage user \"%s\"", who->user, name);
    return NULL;
}

static const char *password_of(json_t *body, mp_http_resp *resp) {
    const char *pw = json_string_value(json_object_get(body, "password"));
    if (!pw || !*pw) mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "the password must not be empty");
    return pw && *pw ? pw : NULL;
}

typedef enum { U_CREATE, U_GET, U_PASSWORD, U_ADMIN, U_DELETE } user_op;

static void user_call(const mp_http_req *req, mp_http_resp *resp, user_op op) {
    const api_principal *who = caller(req, resp);
    if (!who) return;
    json_t *body = mp_http_body_json(req, resp);
    if (!body) return;
    const char *name = target_user(req, resp, body, who, op == U_GET || op == U_PASSWORD);
    const char *pw = NULL;
    mp_err e = {0};
    int rc = name ? 0 : -1;
    if (rc == 0 && (op == U_CREATE || op == U_PASSWORD) && !(pw = password_of(body, resp))) rc = -1;
    if (rc == 0) {
        store *st = req->st;
        switch (op) {
        case U_CREATE: rc = st->a->user_create(st, name, pw, false, &e); break;
        case U_PASSWORD: rc = st->a->user_set_password(st, name, pw, &e); break;
        case U_ADMIN: rc = st->a->user_set_admin(st, name, json_is_true(json_object_get(body, "is_admin")), &e); break;
        case U_DELETE: rc = st->a->user_delete(st, name, &e); break;
        case U_GET: break;
        }
        if (op != U_GET && op != U_CREATE) api__auth_forget();
        if (rc != 0) store_error(resp, &e);
    }
    if (rc == 0 && (op == U_CREATE || op == U_GET)) {
        store_user u;
        if (req->st->a->user_get(req->st, name, &u, &e) != 0) {
            store_error(resp, &e);
        } else {
            mp_http_json(resp, 200, user_json(&u));
            store_user_free(&u);
        }
    } else if (rc == 0) {
        mp_http_json(resp, 200, json_object());
    }
    json_decref(body);
}

static void h_user_create(const mp_http_req *req, mp_http_resp *resp) { user_call(req, resp, U_CREATE); }
static void h_user_get(const mp_http_req *req, mp_http_resp *resp) { user_call(req, resp, U_GET); }
static void h_user_password(const mp_http_req *req, mp_http_resp *resp) { user_call(req, resp, U_PASSWORD); }
static void h_user_admin(const mp_http_req *req, mp_http_resp *resp) { user_call(req, resp, U_ADMIN); }
static void h_user_delete(const mp_http_req *req, mp_http_resp *resp) { user_call(req, resp, U_DELETE); }

static const mp_http_route routes[] = {
    {"POST", "/api/v1/tokens", h_token_create},
    {"GET", "/api/v1/tokens", h_token_list},
    {"DELETE", "/api/v1/tokens/{id}", h_token_revoke},
    {"POST", "/api/2.0/mlflow/users/create", h_user_create},
    {"GET", "/api/2.0/mlflow/users/get", h_user_get},
    {"PATCH", "/api/2.0/mlflow/users/update-password", h_user_password},
    {"PATCH", "/api/2.0/mlflow/users/update-admin", h_user_admin},
    {"DELETE", "/api/2.0/mlflow/users/delete", h_user_delete},
};

const mp_http_route *api_auth_routes(size_t *n) {
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
