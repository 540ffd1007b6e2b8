/* runs.c — MLflow run handlers: runs/create, get, update, delete, restore,
 * search, and artifacts/list (a run's artifacts under HOME/artifacts, where the
 * artifact proxy keeps mlflow-artifacts:/ URIs).
 * Threads: handlers run on the server's worker threads; each uses only its
 * request's store handle and keeps no state. */
#include "track/track_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- run names --------------------------------------------------------------------------- */

/* Like MLflow's generated names: "<adjective>-<noun>-<number>". */
static char *random_run_name(void) {
    static const char *const adj[] = {"able",   "amazing", "bold",   "brave",  "bright", "calm",   "clever",
                                      "crisp",  "eager",   "fast",   "gentle", "glad",   "keen",   "kind",
                                      "lucky",  "merry",   "nimble", "proud",  "quiet",  "rare",   "silent",
                                      "smooth", "sunny",   "swift",  "tidy",   "vivid",  "warm",   "wise"};
    static const char *const noun[] = {"ant",   "bear",  "bee",   "cat",   "crow",  "deer",  "dove",
                                       "eel",   "finch", "fox",   "frog",  "goat",  "hawk",  "hen",
                                       "lark",  "lynx",  "mole",  "moth",  "newt",  "owl",   "panda",
                                       "quail", "seal",  "shrew", "snail", "stork", "toad",  "wolf"};
    uint32_t a = randombytes_uniform(sizeof adj / sizeof adj[0]);
    uint32_t b = randombytes_uniform(sizeof noun / sizeof noun[0]);
    return mp_xasprintf("%s-%s-%u", adj[a], noun[b], (unsigned)randombytes_uniform(1000));
}

static void new_run_id(char out[33]) {
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, 33, raw, sizeof raw);
}

static int check_run_tags(const store_kv *tags, size_t n, mp_http_resp *resp) {
    for (size_t i = 0; i < n; i++)
        if (track__check_key("tag", tags[i].key, resp) != 0 ||
            track__check_length("Tag key", TRACK__MAX_ENTITY_KEY_LENGTH, tags[i].key, resp) != 0 ||
            track__check_length("Tag value", TRACK__MAX_TAG_VAL_LENGTH, tags[i].value, resp) != 0)
            return -1;
    return 0;
}

/* ---- create, get, update, delete, restore ------------------------------------------------ */

static void reply_run(const mp_http_req *req, mp_http_resp *resp, const char *run_id) {
    mp_err e = {0};
    store_track_run r;
    if (req->st->t->run_get(req->st, run_id, &r, &e) != 0) {
        track__store_error(resp, &e);
        return;
    }
    mp_http_json(resp, 200, json_pack("{s:o}", "run", track__run_json(&r)));
    store_track_run_free(&r);
}

void track__run_create(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *exp, *user, *name;
    int64_t start;
    store_kv *tags = NULL;
    size_t ntags = 0;
    char *gen = NULL;
    if (track__str(a, "experiment_id", false, &exp, resp) != 0 || track__str(a, "user_id", false, &user, resp) != 0 ||
        track__str(a, "run_name", false, &name, resp) != 0 || track__int(a, "start_time", false, 0, &start, resp) != 0 ||
        track__kvs(a, "tags", &tags, &ntags, resp) != 0 || check_run_tags(tags, ntags, resp) != 0)
        goto out;
    const char *tag_name = NULL;
    for (size_t i = 0; i < ntags; i++)
        if (strcmp(tags[i].key, "mlflow.runName") == 0) tag_name = tags[i].value;
    if (name && *name && tag_name && strcmp(name, tag_name) != 0) {
        track__invalid(resp,
                       "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values "
                       "(run_name='%s', mlflow.runName='%s').",
                       name, tag_name);
        goto out;
    }
    if (!name || !*name) name = tag_name;
    if (!name || !*name) name = gen = random_run_name();
    if (!tag_name) { /* MLflow records the name as the mlflow.runName tag too */
        tags = mp_xrealloc(tags, (ntags + 1) * sizeof *tags);
        tags[ntags].key = mp_xstrdup("mlflow.runName");
        tags[ntags].value = mp_xstrdup(name);
        ntags++;
    }
    char id[33];
    new_run_id(id);
    store_track_run r = {.run_id = id,
                         .run_name = (char *)name,
                         .experiment_id = (char *)(exp && *exp ? exp : "0"),
                         .user_id = (char *)user,
                         .status = "RUNNING",
                         .start_time = start ? start : mp_now_ms(),
                         .end_time = -1,
                         .tags = tags,
                         .ntags = ntags};
    mp_err e = {0};
    if (req->st->t->run_create(req->st, &r, &e) != 0) track__store_error(resp, &e);
    else reply_run(req, resp, id);
out:
    free(gen);
    store_kv_array_free(tags, ntags);
    json_decref(a);
}

void track__run_get(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id;
    if (track__run_id(a, &id, resp) == 0) reply_run(req, resp, id);
    json_decref(a);
}

static const char *const statuses[] = {"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"};

/* A RunStatus by name or number (1..5); NULL when absent; -1 when invalid. */
static int run_status(json_t *a, const char **out, mp_http_resp *resp) {
    json_t *v = json_object_get(a, "status");
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if ((json_is_string(v) && strcmp(json_string_value(v), statuses[i]) == 0) ||
            (json_is_integer(v) && json_integer_value(v) == (json_int_t)i + 1)) {
            *out = statuses[i];
            return 0;
        }
    char *s = json_dumps(v, JSON_ENCODE_ANY);
    track__invalid(resp, "Invalid value %s for parameter 'status' supplied: expected one of RUNNING, SCHEDULED, "
                         "FINISHED, FAILED, KILLED", s ? s : "?");
    free(s);
    return -1;
}

void track__run_update(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id, *status, *name;
    int64_t end;
    if (track__run_id(a, &id, resp) == 0 && run_status(a, &status, resp) == 0 &&
        track__int(a, "end_time", false, -1, &end, resp) == 0 && track__str(a, "run_name", false, &name, resp) == 0 &&
        (!name || track__check_length("Tag value", TRACK__MAX_TAG_VAL_LENGTH, name, resp) == 0)) {
        mp_err e = {0};
        store_track_run r;
        if (req->st->t->run_update(req->st, id, status, end, name && *name ? name : NULL, &e) != 0 ||
            req->st->t->run_get(req->st, id, &r, &e) != 0) {
            track__store_error(resp, &e);
        } else {
            mp_http_json(resp, 200, json_pack("{s:o}", "run_info", track__run_info_json(&r)));
            store_track_run_free(&r);
        }
    }
    json_decref(a);
}

static void run_lifecycle(const mp_http_req *req, mp_http_resp *resp, const char *stage) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id;
    if (track__run_id(a, &id, resp) == 0) {
        mp_err e = {0};
        if (req->st->t->run_set_lifecycle(req->st, id, stage, &e) != 0) track__store_error(resp, &e);
        else track__ok_empty(resp);
    }
    json_decref(a);
}

void track__run_delete(const mp_http_req *req, mp_http_resp *resp) { run_lifecycle(req, resp, "deleted"); }
void track__run_restore(const mp_http_req *req, mp_http_resp *resp) { run_lifecycle(req, resp, "active"); }

/* ---- search -------------------------------------------------------------------------------- */

void track__run_search(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *filter = NULL;
    const char **orders = NULL, **exps = NULL;
    size_t norders = 0, nexps = 0, nord = 0;
    store_track_filter f = {0};
    store_track_order *ord = NULL;
    store_track_query q = {0};
    mp_err e = {0};
    if (track__strs(a, "experiment_ids", &exps, &nexps, resp) != 0 || track__str(a, "filter", false, &filter, resp) != 0 ||
        track__strs(a, "order_by", &orders, &norders, resp) != 0 || track__view(a, "run_view_type", &q.view, resp) != 0 ||
        track__max_results(a, TRACK__DEFAULT_MAX_RESULTS, TRACK__SEARCH_MAX_RESULTS, &q.limit, resp) != 0 ||
        track__page_offset(a, &q.offset, resp) != 0)
        goto out;
    if (track_filter_parse(filter, TRACK_FILTER_RUNS, &f, &e) != 0) {
        track__store_error(resp, &e);
        goto out;
    }
    ord = mp_xcalloc(norders + 1, sizeof *ord);
    for (; nord < norders; nord++)
        if (track_order_parse(orders[nord], TRACK_FILTER_RUNS, &ord[nord], &e) != 0) {
            track__store_error(resp, &e);
            goto out;
        }
    if (req->authz) { /* only the experiments whose runs the caller may list; none: nothing found */
        size_t keep = 0;
        for (size_t i = 0; i < nexps; i++) {
            char ns[128];
            if (req->st->t->experiment_namespace(req->st, exps[i], ns, sizeof ns, &e) == 0 &&
                mp_http_allowed(req, "list", "runs", ns))
                exps[keep++] = exps[i];
        }
        if (keep == 0 && nexps > 0) {
            mp_http_json(resp, 200, json_object());
            goto out;
        }
        nexps = keep;
    }
    q.experiment_ids = exps;
    q.nexperiment_ids = nexps;
    q.filter = &f;
    q.order = ord;
    q.norder = nord;
    int64_t want = q.limit;
    q.limit = want + 1; /* one more tells whether there is a next page */
    store_track_run *v = NULL;
    size_t n = 0;
    if (req->st->t->run_search(req->st, &q, &v, &n, &e) != 0) {
        track__store_error(resp, &e);
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && (int64_t)i < want; i++) json_array_append_new(arr, track__run_json(&v[i]));
    json_t *o = json_object();
    if (json_array_size(arr) > 0) json_object_set_new(o, "runs", arr);
    else json_decref(arr);
    if ((int64_t)n > want) track__set_page_token(o, q.offset + want);
    mp_http_json(resp, 200, o);
    store_track_run_array_free(v, n);
out:
    store_track_order_array_free(ord, nord);
    store_track_filter_free(&f);
    free(orders);
    free(exps);
    json_decref(a);
}

/* ---- artifacts/list ------------------------------------------------------------------------ */

/* A relative artifact path without "..", "." or empty components ("" is the root). */
static bool artifact_path_ok(const char *p) {
    if (!*p) return true;
    if (*p == '/') return false;
    for (const char *c = p;;) {
        const char *s = strchr(c, '/');
        size_t l = s ? (size_t)(s - c) : strlen(c);
        if ((l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.')) return false;
        if (!s) return true;
        c = s + 1;
    }
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Lists dir (sorted by name) into files as {path: prefix/name, is_dir, file_size}. */
static void list_dir(const char *dir, const char *prefix, json_t *files) {
    DIR *d = opendir(dir);
    if (!d) return;
    mp_strv names = {0};
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) mp_strv_push(&names, de->d_name);
    closedir(d);
    if (names.n) qsort(names.v, names.n, sizeof *names.v, cmp_name);
    for (size_t i = 0; i < names.n; i++) {
        char *full = mp_xasprintf("%s/%s", dir, names.v[i]);
        char *rel = *prefix ? mp_xasprintf("%s/%s", prefix, names.v[i]) : mp_xstrdup(names.v[i]);
        struct stat sb;
        if (stat(full, &sb) == 0) {
            json_t *f = json_pack("{s:s,s:b}", "path", rel, "is_dir", S_ISDIR(sb.st_mode));
            if (!S_ISDIR(sb.st_mode)) json_object_set_new(f, "file_size", json_integer(sb.st_size));
            json_array_append_new(files, f);
        }
        free(full);
        free(rel);
    }
    mp_strv_free(&names);
}

void track__artifacts_list(const mp_http_req *req, mp_http_resp *resp) {
    json_t *a = track__args(req, resp);
    if (!a) return;
    const char *id, *arg;
    char *path = NULL;
    if (track__run_id(a, &id, resp) != 0 || track__str(a, "path", false, &arg, resp) != 0) goto out;
    path = mp_xstrdup(arg ? arg : "");
    for (size_t l = strlen(path); l > 0 && path[l - 1] == '/'; l--) path[l - 1] = 0; /* "dir/" lists dir */
    if (!artifact_path_ok(path)) {
        track__invalid(resp, "Invalid path: '%s'. The path must be relative and must not contain '..'", path);
        goto out;
    }
    mp_err e = {0};
    store_track_run r;
    if (req->st->t->run_get(req->st, id, &r, &e) != 0) {
        track__store_error(resp, &e);
        goto out;
    }
    json_t *files = json_array();
    static const char scheme[] = "mlflow-artifacts:/";
    if (req->home && r.artifact_uri && mp_str_starts(r.artifact_uri, scheme)) {
        const char *rest = r.artifact_uri + strlen(scheme);
        while (*rest == '/') rest++;
        char *dir = mp_xasprintf("%s/artifacts/%s%s%s", req->home, rest, *path ? "/" : "", path);
        list_dir(dir, path, files);
        free(dir);
    }
    json_t *o = json_pack("{s:s}", "root_uri", r.artifact_uri ? r.artifact_uri : "");
    if (json_array_size(files) > 0) json_object_set_new(o, "files", files);
    else json_decref(files);
    mp_http_json(resp, 200, o);
    store_track_run_free(&r);
out:
    free(path);
    json_decref(a);
}
