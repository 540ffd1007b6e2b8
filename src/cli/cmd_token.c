/* cmd_token.c — `mlplane token create|list|revoke` and `mlplane user
 * create|set-password|delete|list`: the credentials `mlplane server --auth`
 * checks, kept on the home directly (as kubeadm makes a cluster's first
 * credentials) or, with --server or MLPLANE_SERVER, through the server's
 * /api/v1/tokens and MLflow's /api/2.0/mlflow/users endpoints.
 * A created token is printed alone on stdout's first line, once; its id and
 * expiry go to stderr. Passwords come from stdin (--password-stdin), never from
 * the command line. Threads: the main thread only. */
#include "api/api.h"
#include "cli/cli.h"
#include "cli/remote_int.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char token_help[] =
    "Usage: mlplane token create --user USER [--namespace NS] [--group G]... [--ttl 30d] [--description TEXT]\n"
    "       mlplane token list [-o table|json|yaml]\n"
    "       mlplane token revoke ID\n\n"
    "API tokens for mlplane server --auth (sent as Authorization: Bearer TOKEN; MLflow\n"
    "clients: MLFLOW_TRACKING_TOKEN). On the home directly, or through a server with\n"
    "--server URL or MLPLANE_SERVER (the CLI then sends MLPLANE_TOKEN or the token of its\n"
    "credentials file).\n\n"
    "  --user USER         who the token acts as (through a server: yourself by default)\n"
    "  --namespace NS      the namespace it acts in by default (default \"default\")\n"
    "  --group G           a group it is in (repeat; system:masters is cluster-admin)\n"
    "  --ttl DURATION      lifetime: 30d, 12h, 90m, 3600s, 2w or never (default never)\n"
    "  --description TEXT  what it is for\n"
    "  -o, --output FORMAT list as table (default), json or yaml\n"
    "  --home DIR          the home (default $MLPLANE_HOME or ~/.mlplane)\n\n"
    "create prints the token alone on the first line of stdout, once: it is stored only as\n"
    "a hash. Its id and expiry go to stderr. list never shows a secret.\n";

static const char user_help[] =
    "Usage: mlplane user create NAME [--password-stdin] [--admin]\n"
    "       mlplane user set-password NAME [--password-stdin]\n"
    "       mlplane user delete NAME\n"
    "       mlplane user list [-o table|json|yaml]\n\n"
    "Users whose password mlplane server --auth accepts over HTTP Basic (MLflow clients:\n"
    "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD), kept as Argon2id hashes. On the\n"
    "home directly, or through a server (MLflow's users endpoints; list only on the home).\n\n"
    "  --password-stdin    read the password from the first line of stdin (set-password\n"
    "                      always does; create without it makes a user with no password)\n"
    "  --admin             the user is cluster-admin (group system:masters)\n"
    "  -o, --output FORMAT list as table (default), json or yaml\n"
    "  --home DIR          the home (default $MLPLANE_HOME or ~/.mlplane)\n";

typedef struct tok_args {
    const char *user, *ns, *ttl, *desc;
    mp_strv groups;
    bool password_stdin, admin;
    cli_out out;
} tok_args;

static int parse_args(cli_env *env, int argc, char **argv, const char *cmd, tok_args *a) {
    static const struct option longs[] = {
        {"user", required_argument, 0, 'u'},    {"namespace", required_argument, 0, 'n'},
        {"group", required_argument, 0, 'g'},   {"ttl", required_argument, 0, 't'},
        {"description", required_argument, 0, 'd'}, {"output", required_argument, 0, 'o'},
        {"home", required_argument, 0, 'H'},    {"password-stdin", no_argument, 0, 'P'},
        {"admin", no_argument, 0, 'A'},         {0, 0, 0, 0}};
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:n:", longs, NULL)) != -1) {
        switch (c) {
        case 'u': a->user = optarg; break;
        case 'n': a->ns = optarg; break;
        case 'g': mp_strv_push(&a->groups, optarg); break;
        case 't': a->ttl = optarg; break;
        case 'd': a->desc = optarg; break;
        case 'o':
            if (cli_parse_out(optarg, &a->out)) return CLI_USAGE;
            break;
        case 'H': env->home_flag = optarg; break;
        case 'P': a->password_stdin = true; break;
        case 'A': a->admin = true; break;
        default:
            return cli_fail(CLI_USAGE, "%s: unknown or incomplete option %s (see mlplane %s --help)", cmd,
                            argv[optind - 1], cmd);
        }
    }
    return 0;
}

/* ---- printing ----------------------------------------------------------------- */

static const char *token_status(json_t *o) {
    if (json_is_true(json_object_get(o, "revoked"))) return "revoked";
    const char *exp = cli_jstr(o, "expires", NULL);
    char now[40];
    mp_format_time(mp_now_ms(), now, sizeof now);
    return exp && strcmp(exp, now) <= 0 ? "expired" : "active"; /* RFC 3339 UTC sorts as text */
}

static int print_tokens(json_t *arr, cli_out out) {
    if (out != OUT_TABLE) return cli_print_json(arr, out);
    static const char *const hdr[] = {"ID",      "USER",      "NAMESPACE", "GROUPS",     "CREATED",
                                      "EXPIRES", "LAST USED", "STATUS",    "DESCRIPTION"};
    cli_table t;
    cli_table_init(&t, 9, hdr);
    size_t i, j;
    json_t *o, *g;
    json_array_foreach(arr, i, o) {
        mp_buf groups;
        mp_buf_init(&groups);
        json_array_foreach(json_object_get(o, "groups"), j, g) {
            if (j) mp_buf_append(&groups, ",", 1);
            mp_buf_append(&groups, json_string_value(g), strlen(json_string_value(g)));
        }
        const char *row[] = {cli_jstr(o, "id", ""),        cli_jstr(o, "user", ""),
                             cli_jstr(o, "namespace", ""), groups.len ? groups.data : "-",
                             cli_jstr(o, "created", "-"),  cli_jstr(o, "expires", "never"),
                             cli_jstr(o, "last_used", "never"), token_status(o),
                             cli_jstr(o, "description", "")};
        cli_table_add(&t, row);
        mp_buf_free(&groups);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    return CLI_OK;
}

/* The created token on stdout's first line, the rest on stderr. */
static void print_created(const char *token, json_t *o) {
    printf("%s\n", token);
    fflush(stdout);
    fprintf(stderr, "token %s for user %s (namespace %s), expires %s: keep the line above, it is not shown again\n",
            cli_jstr(o, "id", "?"), cli_jstr(o, "user", "?"), cli_jstr(o, "namespace", "default"),
            cli_jstr(o, "expires", "never"));
}

/* ---- through a server --------------------------------------------------------- */

static int remote_json(cli_env *env, const char *method, const char *path, json_t *body, json_t **out) {
    remote r;
    int rc = remote__open(env, &r);
    if (rc) return rc;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    reply y;
    rc = remote__call(&r, method, path, text, &y);
    if (text) {
        sodium_memzero(text, strlen(text));
        free(text);
    }
    remote__close(&r);
    if (rc) return rc;
    if (y.status != 200) {
        rc = remote__fail_reply(&y);
        remote__reply_free(&y);
        return rc;
    }
    *out = json_incref(y.json);
    remote__reply_free(&y);
    return *out ? CLI_OK : cli_fail(CLI_FAILED, "the server's answer to %s %s is not JSON", method, path);
}

/* ---- token -------------------------------------------------------------------- */

static int token_create(cli_env *env, tok_args *a) {
    mp_err e = {0};
    int64_t ttl_ms = 0;
    char *groups = NULL;
    if (api_parse_ttl(a->ttl, &ttl_ms, &e) != 0 || api_groups_join(&a->groups, &groups, &e) != 0)
        return cli_fail(CLI_USAGE, "token create: %s", e.msg);
    if (env->server) {
        json_t *ga = json_array();
        for (size_t i = 0; i < a->groups.n; i++) json_array_append_new(ga, json_string(a->groups.v[i]));
        json_t *body = json_pack("{s:o}", "groups", ga), *o = NULL;
        if (a->user) json_object_set_new(body, "user", json_string(a->user));
        if (a->ns) json_object_set_new(body, "namespace", json_string(a->ns));
        if (a->ttl) json_object_set_new(body, "ttl", json_string(a->ttl));
        if (a->desc) json_object_set_new(body, "description", json_string(a->desc));
        int rc = remote_json(env, "POST", "/api/v1/tokens", body, &o);
        json_decref(body);
        free(groups);
        if (rc) return rc;
        print_created(cli_jstr(o, "token", ""), o);
        json_decref(o);
        return CLI_OK;
    }
    if (!a->user || !*a->user) {
        free(groups);
        return cli_fail(CLI_USAGE, "token create: --user USER is required (who the token acts as)");
    }
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store(env, NULL, &home, &st)) {
        free(groups);
        return CLI_FAILED;
    }
    store_token in = {.user = (char *)a->user, .namespace_ = (char *)a->ns, .groups = groups,
                      .description = (char *)a->desc, .expires_ms = ttl_ms > 0 ? mp_now_ms() + ttl_ms : 0};
    store_token out;
    char *token = NULL;
    int rc = st->a->token_create(st, &in, &token, &out, &e);
    st->m->close(st);
    free(home);
    free(groups);
    if (rc != 0) return cli_fail_err(&e);
    json_t *o = api_token_json(&out);
    print_created(token, o);
    json_decref(o);
    sodium_memzero(token, strlen(token));
    free(token);
    store_token_free(&out);
    return CLI_OK;
}

static int token_list(cli_env *env, cli_out out) {
    json_t *arr = NULL;
    if (env->server) {
        json_t *o = NULL;
        int rc = remote_json(env, "GET", "/api/v1/tokens", NULL, &o);
        if (rc) return rc;
        arr = json_incref(json_object_get(o, "tokens"));
        json_decref(o);
        if (!arr) arr = json_array();
    } else {
        char *home = NULL;
        store *st = NULL;
        if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
        store_token *v = NULL;
        size_t n = 0;
        mp_err e = {0};
        int rc = st->a->token_list(st, &v, &n, &e);
        st->m->close(st);
        free(home);
        if (rc != 0) return cli_fail_err(&e);
        arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, api_token_json(&v[i]));
        store_token_array_free(v, n);
    }
    int rc = print_tokens(arr, out);
    json_decref(arr);
    return rc;
}

static int token_revoke(cli_env *env, const char *id) {
    if (env->server) {
        char path[256];
        if (!*id || strlen(id) > 64 || strspn(id, "0123456789abcdef") != strlen(id))
            return cli_fail(CLI_USAGE, "token revoke: \"%s\" is not a token id (hex digits, as token list shows)", id);
        snprintf(path, sizeof path, "/api/v1/tokens/%s", id);
        json_t *o = NULL;
        int rc = remote_json(env, "DELETE", path, NULL, &o);
        json_decref(o);
        if (rc) return rc;
    } else {
        char *home = NULL;
        store *st = NULL;
        if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
        mp_err e = {0};
        int rc = st->a->token_revoke(st, id, &e);
        st->m->close(st);
        free(home);
        if (rc != 0) return cli_fail_err(&e);
    }
    printf("token %s revoked\n", id);
    return CLI_OK;
}

int cmd_token(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(token_help, stdout);
        return CLI_OK;
    }
    tok_args a = {.out = OUT_TABLE};
    int rc = parse_args(env, argc, argv, "token", &a);
    const char *verb = optind < argc ? argv[optind] : "";
    int nargs = argc - optind - 1;
    if (rc) {
    } else if (strcmp(verb, "create") == 0 && nargs == 0) {
        rc = token_create(env, &a);
    } else if (strcmp(verb, "list") == 0 && nargs == 0) {
        rc = token_list(env, a.out);
    } else if (strcmp(verb, "revoke") == 0 && nargs == 1) {
        rc = token_revoke(env, argv[optind + 1]);
    } else {
        rc = cli_fail(CLI_USAGE, "usage: mlplane token create --user USER ... | list | revoke ID (see mlplane token --help)");
    }
    mp_strv_free(&a.groups);
    return rc;
}

/* ---- user --------------------------------------------------------------------- */

/* The first line of stdin (heap), without its newline; NULL (printed) when empty. */
static char *read_password(void) {
    char buf[1024];
    if (!fgets(buf, sizeof buf, stdin)) {
        cli_fail(CLI_USAGE, "no password on stdin: pipe it in, e.g. printf '%%s\\n' \"$PASSWORD\" | mlplane user ...");
        return NULL;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    char *pw = *buf ? mp_xstrdup(buf) : NULL;
    sodium_memzero(buf, sizeof buf);
    if (!pw) cli_fail(CLI_USAGE, "the password on stdin is empty");
    return pw;
}

static void free_password(char *pw) {
    if (!pw) return;
    sodium_memzero(pw, strlen(pw));
    free(pw);
}

static int user_remote(cli_env *env, const char *verb, const char *name, const char *pw, bool admin) {
    json_t *body = json_pack("{s:s}", "username", name), *o = NULL;
    if (pw) json_object_set_new(body, "password", json_string(pw));
    int rc;
    if (strcmp(verb, "create") == 0) {
        rc = remote_json(env, "POST", "/api/2.0/mlflow/users/create", body, &o);
        if (rc == 0 && admin) {
            json_decref(o);
            o = NULL;
            json_t *b2 = json_pack("{s:s,s:b}", "username", name, "is_admin", 1);
            rc = remote_json(env, "PATCH", "/api/2.0/mlflow/users/update-admin", b2, &o);
            json_decref(b2);
        }
    } else if (strcmp(verb, "set-password") == 0) {
        rc = remote_json(env, "PATCH", "/api/2.0/mlflow/users/update-password", body, &o);
    } else {
        rc = remote_json(env, "DELETE", "/api/2.0/mlflow/users/delete", body, &o);
    }
    json_decref(body);
    json_decref(o);
    return rc;
}

static int user_list(cli_env *env, cli_out out) {
    if (env->server) return cli_not_remote(env, "user list");
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
    store_user *v = NULL;
    size_t n = 0;
    mp_err e = {0};
    int rc = st->a->user_list(st, &v, &n, &e);
    st->m->close(st);
    free(home);
    if (rc != 0) return cli_fail_err(&e);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char created[40];
        mp_format_time(v[i].created_ms, created, sizeof created);
        json_array_append_new(arr, json_pack("{s:s,s:b,s:b,s:s}", "username", v[i].name, "is_admin", v[i].admin,
                                             "has_password", v[i].has_password, "created", created));
    }
    store_user_array_free(v, n);
    if (out != OUT_TABLE) {
        rc = cli_print_json(arr, out);
    } else {
        static const char *const hdr[] = {"USER", "ADMIN", "PASSWORD", "CREATED"};
        cli_table t;
        cli_table_init(&t, 4, hdr);
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o) {
            const char *row[] = {cli_jstr(o, "username", ""), json_is_true(json_object_get(o, "is_admin")) ? "yes" : "no",
                                 json_is_true(json_object_get(o, "has_password")) ? "set" : "none",
                                 cli_jstr(o, "created", "")};
            cli_table_add(&t, row);
        }
        cli_table_print(&t, stdout);
        cli_table_free(&t);
    }
    json_decref(arr);
    return rc;
}

static int user_local(cli_env *env, const char *verb, const char *name, const char *pw, bool admin) {
    char *home = NULL;
    store *st = NULL;
    bool create = strcmp(verb, "create") == 0;
    if ((create ? cli_open_store(env, NULL, &home, &st) : cli_open_store_existing(env, NULL, &home, &st)))
        return CLI_FAILED;
    mp_err e = {0};
    int rc;
    if (create) rc = st->a->user_create(st, name, pw, admin, &e);
    else if (strcmp(verb, "set-password") == 0) rc = st->a->user_set_password(st, name, pw, &e);
    else rc = st->a->user_delete(st, name, &e);
    st->m->close(st);
    free(home);
    return rc != 0 ? cli_fail_err(&e) : CLI_OK;
}

int cmd_user(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(user_help, stdout);
        return CLI_OK;
    }
    tok_args a = {.out = OUT_TABLE};
    int rc = parse_args(env, argc, argv, "user", &a);
    mp_strv_free(&a.groups);
    if (rc) return rc;
    const char *verb = optind < argc ? argv[optind] : "";
    int nargs = argc - optind - 1;
    if (strcmp(verb, "list") == 0 && nargs == 0) return user_list(env, a.out);
    bool create = strcmp(verb, "create") == 0, setpw = strcmp(verb, "set-password") == 0,
         del = strcmp(verb, "delete") == 0;
    if (!(create || setpw || del) || nargs != 1)
        return cli_fail(CLI_USAGE, "usage: mlplane user create|set-password|delete NAME | list (see mlplane user --help)");
    if (a.admin && !create) return cli_fail(CLI_USAGE, "--admin goes with user create");
    const char *name = argv[optind + 1];
    char *pw = NULL;
    if ((create && a.password_stdin) || setpw) {
        if (!(pw = read_password())) return CLI_USAGE;
    }
    bool had_pw = pw != NULL;
    rc = env->server ? user_remote(env, verb, name, pw, a.admin) : user_local(env, verb, name, pw, a.admin);
    free_password(pw);
    if (rc == CLI_OK) {
        if (create) printf("user %s created%s%s\n", name, a.admin ? " (cluster-admin)" : "", had_pw ? "" : " without a password (set one with mlplane user set-password)");
        else printf("user %s %s\n", name, setpw ? "has a new password" : "deleted");
    }
    return rc;
}
