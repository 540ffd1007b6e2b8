/* remote_deploy.c — the CLI against a server for applied objects and
 * Deployments: apply (one POST /api/v1/apply), rollout status|promote|rollback,
 * get and describe deployment, delete KIND NAME; printed as the embedded
 * commands print them. Single-threaded; one curl handle per command. */
#include "cli/remote_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int remote_apply(cli_env *env, const cli_apply_file *files, size_t n, const char *what) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *one = json_pack("{s:s,s:s%}", "path", files[i].path, "text", files[i].text, files[i].len);
        if (!one) {
            json_decref(arr);
            return cli_fail(CLI_USAGE, "%s is not UTF-8 text; nothing was applied", files[i].name);
        }
        json_array_append_new(arr, one);
    }
    json_t *req = json_pack("{s:o}", "files", arr);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) return cli_fail(CLI_FAILED, "cannot encode the request");
    remote r;
    int status = remote__open(env, &r);
    reply y = {0};
    if (status == 0 && remote__call(&r, "POST", "/api/v1/apply", body, &y) != 0) status = CLI_FAILED;
    else if (status == 0 && y.status != 200) {
        const char *diags = json_string_value(json_object_get(y.json, "diagnostics"));
        if (diags) fputs(diags, stderr);
        status = remote__fail_reply(&y);
    } else if (status == 0) {
        size_t i, napplied = 0;
        json_t *o;
        json_array_foreach(json_object_get(y.json, "applied"), i, o) {
            printf("%s/%s applied\n", json_string_value(json_object_get(o, "kind")), json_string_value(json_object_get(o, "name")));
            napplied++;
        }
        json_array_foreach(json_object_get(y.json, "notApplied"), i, o) {
            const char *path = json_string_value(json_object_get(o, "path")), *name = files[0].name;
            for (size_t k = 0; path && k < n; k++)
                if (strcmp(files[k].path, path) == 0) name = files[k].name;
            printf("pipeline/%s not applied (run it with: mlplane run %s)\n", json_string_value(json_object_get(o, "name")), name);
        }
        if (napplied == 0) printf("nothing to apply in %s\n", what);
    }
    remote__reply_free(&y);
    remote__close(&r);
    free(body);
    return status;
}

/* "/api/v1/deployments/NAME" + suffix, the name escaped. */
static char *deployment_path(remote *r, const char *name, const char *suffix) {
    char *esc = curl_easy_escape(r->c, name, 0);
    char *p = mp_xasprintf("/api/v1/deployments/%s%s", esc ? esc : name, suffix);
    curl_free(esc);
    return p;
}

int remote_rollout(cli_env *env, const char *name, int percent, cli_out out) {
    remote r;
    int status = remote__open(env, &r);
    if (status) return status;
    reply y = {0};
    if (percent < 0) {
        char *p = deployment_path(&r, name, "");
        status = remote__get_json(&r, p, JSON_OBJECT, &y);
        free(p);
        if (status == 0) {
            if (out == OUT_TABLE) cli_print_rollout_status(y.json);
            else status = cli_print_json(y.json, out);
        }
    } else {
        char *p = deployment_path(&r, name, "/rollout");
        char body[64];
        snprintf(body, sizeof body, "{\"percent\":%d}", percent);
        if (remote__call(&r, "POST", p, body, &y) != 0) status = CLI_FAILED;
        else if (y.status != 200) status = remote__fail_reply(&y);
        else
            status = cli_print_rollout_set(name, json_string_value(json_object_get(y.json, "canary")),
                                           (int)json_integer_value(json_object_get(y.json, "was")),
                                           (int)json_integer_value(json_object_get(y.json, "percent")),
                                           json_is_true(json_object_get(y.json, "running")),
                                           json_is_true(json_object_get(y.json, "told")),
                                           json_string_value(json_object_get(y.json, "why")));
        free(p);
    }
    remote__reply_free(&y);
    remote__close(&r);
    return status;
}

int remote_get_deployments(cli_env *env, cli_out out) {
    remote r;
    int status = remote__open(env, &r);
    if (status) return status;
    reply y = {0};
    status = remote__get_json(&r, "/api/v1/deployments", JSON_ARRAY, &y);
    if (status == 0) status = cli_print_deployments(y.json, out);
    remote__reply_free(&y);
    remote__close(&r);
    return status;
}

int remote_describe_deployment(cli_env *env, const char *name, cli_out out) {
    remote r;
    int status = remote__open(env, &r);
    if (status) return status;
    reply y = {0};
    char *p = deployment_path(&r, name, "");
    status = remote__get_json(&r, p, JSON_OBJECT, &y);
    free(p);
    if (status == 0) {
        if (out == OUT_TABLE) cli_print_deployment_describe(y.json);
        else status = cli_print_json(y.json, out);
    }
    remote__reply_free(&y);
    remote__close(&r);
    return status;
}

int remote_delete(cli_env *env, const char *kind, const char *name, const char *ns) {
    remote r;
    int status = remote__open(env, &r);
    if (status) return status;
    /* no namespace: the server's default, "default" for a LocalQueue */
    char *k = curl_easy_escape(r.c, kind, 0), *n = curl_easy_escape(r.c, name, 0);
    char *q = ns ? curl_easy_escape(r.c, ns, 0) : NULL;
    char *path = mp_xasprintf("/api/v1/objects/%s/%s%s%s", k, n, q ? "?namespace=" : "", q ? q : "");
    curl_free(k);
    curl_free(n);
    curl_free(q);
    reply y = {0};
    if (remote__call(&r, "DELETE", path, NULL, &y) != 0) status = CLI_FAILED;
    else if (y.status != 200) status = remote__fail_reply(&y);
    else printf("%s/%s deleted\n", kind, name);
    remote__reply_free(&y);
    remote__close(&r);
    free(path);
    return status;
}
