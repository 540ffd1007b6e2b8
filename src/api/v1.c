/* v1.c — mlplane's own JSON API, /api/v1, and the probes /healthz and /readyz.
 *
 *   GET  /api/v1/runs                      runs, newest first (as `get runs -o json`)
 *   POST /api/v1/runs                      submit: {"spec": YAML, "params": {}, "parallel": N, "spec_name": "x.yaml"}
 *   GET  /api/v1/runs/{id}                 describe: run + steps + events (?events_after=EVENT_ID)
 *   GET  /api/v1/runs/{id}/steps           steps (as `get steps RUN -o json`)
 *   GET  /api/v1/runs/{id}/metrics         metrics (as `get metrics RUN -o json`)
 *   GET  /api/v1/runs/{id}/logs?step=S&offset=N   a chunk of a step's log, to follow it
 *   POST /api/v1/runs/{id}/cancel          cancel, wait for the run to stop
 *   DELETE /api/v1/runs/{id}[?force=true]  delete for good (force: cancel first), as `mlplane delete run`
 *   GET  /api/v1/nodes                     nodes with capacity and allocation (as `get nodes -o json`)
 *   POST /api/v1/uploads/missing|assemble, GET|PUT /api/v1/uploads/sha256/HEX   local inputs (uploads.c)
 *
 * A submit may carry the spec's local inputs: "files" [{path, sha256,
 * executable}] and "dirs" [path], relative to a tree in which the spec sits at
 * "spec_dir"; the blobs are uploaded first. The run then gets its own tree,
 * HOME/submitted/RANDOM/ (see uploads.c), and its spec is SPEC_DIR/NAME there.
 *
 * A submitted run is executed the way the CLI executes one: the spec is written
 * to HOME/submitted/RANDOM.yaml and this very binary is spawned as
 * `mlplane --home HOME run --detach FILE`, which records the run, hands it to a
 * background engine process and prints its id. The server itself never drives
 * runs, so it can be restarted while they go on.
 *
 * Threads: handlers run on the server's worker threads, concurrently; each uses
 * req->st (its thread's store) and keeps no state of its own. Errors use MLflow's
 * shape {"error_code", "message"} like the rest of the server. */
#include "track/track.h"
#include "api/api.h"
#include "api/api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/exec.h"
#include "engine/engine.h"
#include "spec/spec.h"

extern char **environ;

enum { LOG_CHUNK_DEFAULT = 1 << 20, LOG_CHUNK_MAX = 8 << 20 };

void api_error(mp_http_resp *resp, const mp_err *e) {
    static const struct {
        int code;
        int status;
        const char *name;
    } map[] = {
        {MP_ENOENT, 404, "RESOURCE_DOES_NOT_EXIST"}, {MP_EINVAL, 400, "INVALID_PARAMETER_VALUE"},
        {MP_ESTATE, 409, "INVALID_STATE"},           {MP_EBUSY, 409, "INVALID_STATE"},
        {MP_EEXIST, 409, "RESOURCE_ALREADY_EXISTS"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].code == e->code) {
            mp_http_mlflow_error(resp, map[i].status, map[i].name, "%s", e->msg[0] ? e->msg : mp_code_name(e->code));
            return;
        }
    mp_http_mlflow_error(resp, 500, "INTERNAL_ERROR", "%s", e->msg[0] ? e->msg : mp_code_name(e->code));
}

/* ---- a run and what belongs to it -------------------------------------------------- */

typedef struct bundle {
    store_run run;
    store_step *steps;
    size_t nsteps;
    store_metric *metrics;
    size_t nmetrics;
} bundle;

static void bundle_free(bundle *b) {
    store_step_array_free(b->steps, b->nsteps);
    store_metric_array_free(b->metrics, b->nmetrics);
    store_run_free(&b->run);
    memset(b, 0, sizeof *b);
}

/* Loads run id (a unique prefix will do) with its steps and metrics; on failure
 * fills resp and returns non-zero. */
static int bundle_load(const mp_http_req *req, mp_http_resp *resp, const char *id, bundle *b) {
    memset(b, 0, sizeof *b);
    mp_err e;
    store *st = req->st;
    int rc = st->m->run_get(st, id, &b->run, &e);
    if (rc == 0) engine_runs_settle(st, &b->run, 1);
    if (rc == 0) rc = st->m->step_list(st, b->run.id, &b->steps, &b->nsteps, &e);
    if (rc == 0) rc = st->m->metric_list(st, b->run.id, &b->metrics, &b->nmetrics, &e);
    if (rc) {
        api_error(resp, &e);
        bundle_free(b);
    }
    return rc;
}

/* Parses a query parameter as a non-negative integer (def when absent). */
static int query_int(const mp_http_req *req, mp_http_resp *resp, const char *key, long long def, long long *out) {
    const char *v = mp_http_query(req, key);
    *out = def;
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < 0) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "%s must be a whole number >= 0, got \"%s\"", key, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* ---- probes ------------------------------------------------------------------------ */

static void h_healthz(const mp_http_req *req, mp_http_resp *resp) {
    (void)req;
    mp_http_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(const mp_http_req *req, mp_http_resp *resp) {
    store_run *runs = NULL;
    size_t n = 0;
    mp_err e;
    if (req->st->m->run_list(req->st, 1, &runs, &n, &e) != 0) {
        mp_http_json(resp, 503, json_pack("{s:s,s:s}", "status", "unavailable", "message", e.msg));
        return;
    }
    store_run_array_free(runs, n);
    mp_http_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

/* ---- reading runs ---------------------------------------------------------------------- */

static void h_runs_list(const mp_http_req *req, mp_http_resp *resp) {
    long long limit;
    if (query_int(req, resp, "limit", 0, &limit)) return;
    store_run *runs = NULL;
    size_t n = 0;
    mp_err e;
    if (req->st->m->run_list(req->st, (size_t)limit, &runs, &n, &e) != 0) {
        api_error(resp, &e);
        return;
    }
    engine_runs_settle(req->st, runs, n);
    json_t *arr = json_array();
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!mp_http_allowed(req, "list", "runs", runs[i].namespace_ ? runs[i].namespace_ : "default")) continue;
        store_step *steps = NULL;
        size_t ns = 0;
        rc = req->st->m->step_list(req->st, runs[i].id, &steps, &ns, &e);
        if (rc == 0) json_array_append_new(arr, api_run_json(&runs[i], steps, ns));
        store_step_array_free(steps, ns);
    }
    store_run_array_free(runs, n);
    if (rc != 0) {
        json_decref(arr);
        api_error(resp, &e);
        return;
    }
    mp_http_json(resp, 200, arr);
}

/* GET /api/v1/pipelines: every pipeline that has runs, newest run first, with its
 * run count and its latest run's id, state and creation time. */
static void h_pipelines_list(const mp_http_req *req, mp_http_resp *resp) {
    store_run *runs = NULL;
    size_t n = 0;
    mp_err e;
    if (req->st->m->run_list(req->st, 0, &runs, &n, &e) != 0) {
        api_error(resp, &e);
        return;
    }
    engine_runs_settle(req->st, runs, n);
    json_t *arr = json_array(), *seen = json_object();
    for (size_t i = 0; i < n; i++) { /* runs come newest first: the first of a pipeline is its latest */
        if (!mp_http_allowed(req, "list", "pipelines", runs[i].namespace_ ? runs[i].namespace_ : "default")) continue;
        char *key = mp_xasprintf("%s/%s", runs[i].namespace_ ? runs[i].namespace_ : "", runs[i].pipeline);
        json_t *p = json_object_get(seen, key);
        if (p) {
            json_object_set_new(p, "runs", json_integer(json_integer_value(json_object_get(p, "runs")) + 1));
        } else {
            char created[40];
            mp_format_time(runs[i].created_ms, created, sizeof created);
            p = json_pack("{s:s,s:s,s:i,s:s,s:s,s:s}", "name", runs[i].pipeline, "namespace",
                          runs[i].namespace_ ? runs[i].namespace_ : "default", "runs", 1, "latest_run", runs[i].id,
                          "latest_state", api_run_state_shown(&runs[i]), "latest_created", created);
            json_object_set(seen, key, p);
            json_array_append_new(arr, p);
        }
        free(key);
    }
    json_decref(seen);
    store_run_array_free(runs, n);
    mp_http_json(resp, 200, arr);
}

static void h_run_describe(const mp_http_req *req, mp_http_resp *resp) {
    const char *id = mp_http_param(req, "id");
    long long after;
    if (query_int(req, resp, "events_after", 0, &after)) return;
    bundle b;
    if (bundle_load(req, resp, id, &b)) return;
    json_t *o = NULL;
    mp_err e;
    int rc = api_run_describe_json(req->st, &b.run, b.steps, b.nsteps, b.metrics, b.nmetrics, (int64_t)after, &o, &e);
    bundle_free(&b);
    if (rc != 0) {
        api_error(resp, &e);
        return;
    }
    mp_http_json(resp, 200, o);
}

static void h_run_steps(const mp_http_req *req, mp_http_resp *resp) {
    const char *id = mp_http_param(req, "id");
    bundle b;
    if (bundle_load(req, resp, id, &b)) return;
    json_t *arr = json_array();
    for (size_t i = 0; i < b.nsteps; i++) json_array_append_new(arr, api_step_json(&b.steps[i], b.metrics, b.nmetrics));
    bundle_free(&b);
    mp_http_json(resp, 200, arr);
}

static void h_run_metrics(const mp_http_req *req, mp_http_resp *resp) {
    const char *id = mp_http_param(req, "id");
    bundle b;
    if (bundle_load(req, resp, id, &b)) return;
    json_t *arr = json_array();
    for (size_t i = 0; i < b.nmetrics; i++)
        json_array_append_new(arr, json_pack("{s:s?,s:s?,s:o}", "step", b.metrics[i].step, "key", b.metrics[i].key,
                                             "value", track_double_json(b.metrics[i].value)));
    bundle_free(&b);
    mp_http_json(resp, 200, arr);
}

/* ---- logs ------------------------------------------------------------------------------- */


static void step_names(const bundle *b, mp_buf *out) {
    for (size_t i = 0; i < b->nsteps; i++) mp_buf_printf(out, "%s%s", i ? ", " : "", b->steps[i].name);
}

static void h_run_logs(const mp_http_req *req, mp_http_resp *resp) {
    const char *id = mp_http_param(req, "id");
    long long offset, max;
    if (query_int(req, resp, "offset", 0, &offset) || query_int(req, resp, "max", LOG_CHUNK_DEFAULT, &max)) return;
    if (max < 1) max = 1;
    if (max > LOG_CHUNK_MAX) max = LOG_CHUNK_MAX;
    const char *name = mp_http_query(req, "step");
    bundle b;
    if (bundle_load(req, resp, id, &b)) return;
    const store_step *s = NULL;
    for (size_t i = 0; name && i < b.nsteps; i++)
        if (strcmp(b.steps[i].name, name) == 0) s = &b.steps[i];
    if (!s) {
        mp_buf names;
        mp_buf_init(&names);
        step_names(&b, &names);
        if (name)
            mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "run %s has no step \"%s\" (steps: %s)", b.run.id,
                                 name, names.data);
        else
            mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "logs needs ?step=NAME (steps of run %s: %s)",
                                 b.run.id, names.data);
        mp_buf_free(&names);
        bundle_free(&b);
        return;
    }
    /* Whether more output may come is decided before reading: if it is done now,
     * what is read below is everything. */
    bool done = store_run_state_final(b.run.state) || !engine_owner_alive(&b.run);
    bool exists = false;
    mp_buf data;
    mp_buf_init(&data);
    /* A Cached step never ran: its log is the one of the step whose outputs it reused. */
    char *log_path = NULL;
    mp_err ce = {0};
    int cached_rc = s->state == STEP_CACHED ? store_cached_log(req->st, s, &log_path, &ce) : 0;
    if (s->state != STEP_CACHED && s->log_path) log_path = mp_xstrdup(s->log_path);
    int fd = log_path ? open(log_path, O_RDONLY | O_CLOEXEC) : -1;
    free(log_path);
    struct stat sb;
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        exists = true;
        if (offset > (long long)sb.st_size) offset = (long long)sb.st_size; /* the log was truncated */
        size_t want = (size_t)((long long)sb.st_size - offset < max ? (long long)sb.st_size - offset : max);
        char *raw = mp_xmalloc(want + 1);
        ssize_t got = want ? pread(fd, raw, want, (off_t)offset) : 0;
        if (got > 0) {
            bool at_end = offset + got >= (long long)sb.st_size;
            size_t held = mp_utf8_clean(&data, raw, (size_t)got, !(done && at_end));
            offset += got - (long long)held;
        }
        free(raw);
    }
    if (fd >= 0) close(fd);
    json_t *o = json_object();
    json_object_set_new(o, "step", json_string(s->name));
    json_t *dj = json_stringn(data.data, data.len);
    json_object_set_new(o, "data", dj ? dj : json_string(""));
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "done", json_boolean(done));
    json_object_set_new(o, "exists", json_boolean(exists));
    if (s->state == STEP_CACHED) {
        json_object_set_new(o, "cached_from", s->cached_from ? json_string(s->cached_from) : json_null());
        if (cached_rc) json_object_set_new(o, "cached_log_error", json_string(ce.msg));
    }
    mp_buf_free(&data);
    bundle_free(&b);
    mp_http_json(resp, 200, o);
}

/* ---- cancel ------------------------------------------------------------------------------- */

static void h_run_cancel(const mp_http_req *req, mp_http_resp *resp) {
    const char *id = mp_http_param(req, "id");
    mp_err e;
    executor *x = NULL;
    if (exec_local_open(&x, &e) != 0) {
        api_error(resp, &e);
        return;
    }
    engine_opts o = {.home = req->home};
    const char *g = getenv("MLPLANE_KILL_GRACE_MS");
    int wait_ms = (g && atoi(g) > 0 ? atoi(g) : 10000) + 5000;
    int rc = engine_cancel(req->st, x, id, &o, wait_ms, &e);
    x->m->close(x);
    if (rc != 0) {
        api_error(resp, &e);
        return;
    }
    store_run r = {0};
    if (req->st->m->run_get(req->st, id, &r, &e) != 0) {
        api_error(resp, &e);
        return;
    }
    json_t *out = api_run_json(&r, NULL, 0);
    store_run_free(&r);
    mp_http_json(resp, 200, out);
}

/* ---- delete ------------------------------------------------------------------------------- */

static void h_run_delete(const mp_http_req *req, mp_http_resp *resp) {
    const char *id = mp_http_param(req, "id");
    const char *f = mp_http_query(req, "force");
    bool force = f && (strcmp(f, "true") == 0 || strcmp(f, "1") == 0);
    mp_err e;
    executor *x = NULL;
    if (exec_local_open(&x, &e) != 0) {
        api_error(resp, &e);
        return;
    }
    const char *g = getenv("MLPLANE_KILL_GRACE_MS");
    int wait_ms = (g && atoi(g) > 0 ? atoi(g) : 10000) + 5000;
    char *deleted = NULL;
    int rc = engine_run_delete(req->st, x, req->home, id, force, wait_ms, &deleted, &e);
    x->m->close(x);
    if (rc != 0) api_error(resp, &e);
    else mp_http_json(resp, 200, json_pack("{s:s,s:b}", "id", deleted, "deleted", 1));
    free(deleted);
}

/* ---- submit ------------------------------------------------------------------------------- */

/* What the spawned `mlplane run` said on stderr, as a message of this server:
 * without the "mlplane: " each of its lines starts with (the client adds its own),
 * the spec's path here (file) given as the client named it (name), and without
 * the final newline (heap). */
static char *child_message(const mp_buf *err, const char *file, const char *name) {
    mp_buf m;
    mp_buf_init(&m);
    const char *p = err->len ? err->data : "mlplane run failed without a message";
    size_t flen = strlen(file);
    while (*p) {
        size_t l = strcspn(p, "\n");
        const char *line = p;
        if (mp_str_starts(line, "mlplane: ")) line += 9;
        for (const char *q = line, *hit; q < p + l; q = hit + flen) {
            hit = flen ? strstr(q, file) : NULL;
            if (!hit || hit >= p + l) {
                mp_buf_append(&m, q, (size_t)(p + l - q));
                break;
            }
            mp_buf_append(&m, q, (size_t)(hit - q));
            mp_buf_printf(&m, "%s", name);
        }
        p += l;
        if (*p == '\n') p++;
        if (*p) mp_buf_putc(&m, '\n');
    }
    return mp_buf_steal(&m);
}

/* Reads params {"k": "v"|number|bool} into "k=v" strings; 400 on anything else. */
static int read_params(json_t *pj, mp_strv *out, mp_http_resp *resp) {
    if (!pj || json_is_null(pj)) return 0;
    if (!json_is_object(pj)) {
        mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "params must be an object of name: value");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(pj, k, v) {
        if (!*k || strchr(k, '=') || strpbrk(k, "\n\r\t ")) {
            mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "params: \"%s\" is not a param name", k);
            return -1;
        }
        char *s = NULL;
        if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
            s = mp_xasprintf("%s=%s", k, json_string_value(v));
        else if (json_is_integer(v)) s = mp_xasprintf("%s=%" JSON_INTEGER_FORMAT, k, json_integer_value(v));
        else if (json_is_real(v)) s = mp_xasprintf("%s=%.17g", k, json_real_value(v));
        else if (json_is_boolean(v)) s = mp_xasprintf("%s=%s", k, json_is_true(v) ? "true" : "false");
        if (!s) {
            mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                                 "params: the value of \"%s\" must be a string, number or boolean (without NUL)", k);
            return -1;
        }
        mp_strv_push_owned(out, s);
    }
    return 0;
}

/* The name a spec goes by in diagnostics (never used as a path): printable,
 * bounded; a name too long keeps its end (the file's own name), after "...". */
static void clean_name(const char *in, char *out, size_t n) {
    const char *base = in && *in ? in : "spec.yaml";
    size_t j = 0, len = strlen(base);
    if (len + 1 > n && n > 4) {
        memcpy(out, "...", 3);
        j = 3;
        base += len - (n - 4);
    }
    for (size_t i = 0; base[i] && j + 1 < n; i++)
        out[j++] = (unsigned char)base[i] < 0x20 || base[i] == 0x7f ? '_' : base[i];
    out[j] = '\0';
}

/* The file name a submitted spec gets in its tree: the base name of its
 * spec_name when that is a plain YAML file name, else "pipeline.yaml" (borrowed). */
static const char *spec_file_name(const char *name) {
    const char *b = strrchr(name, '/');
    b = b ? b + 1 : name;
    if (!*b || b[0] == '.' || strlen(b) > 200 || (!mp_str_ends(b, ".yaml") && !mp_str_ends(b, ".yml"))) return "pipeline.yaml";
    for (const char *p = b; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
              *p == '-'))
            return "pipeline.yaml";
    return b;
}

static void h_runs_submit(const mp_http_req *req, mp_http_resp *resp) {
    json_t *body = mp_http_body_json(req, resp);
    if (!body) return;
    json_t *spec = json_object_get(body, "spec");
    json_t *par = json_object_get(body, "parallel");
    json_t *sn = json_object_get(body, "spec_name");
    mp_strv params = {0};
    spec_diags d = {0};
    spec_file *f = NULL;
    char *dir = mp_xasprintf("%s/submitted", req->home), *file = NULL;
    char name[512];
    clean_name(json_is_string(sn) ? json_string_value(sn) : NULL, name, sizeof name);
    int bad = 0;
    if (!json_is_string(spec) || json_string_length(spec) == 0 || strlen(json_string_value(spec)) != json_string_length(spec))
        bad = (mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "spec must be the YAML text of a spec file"), 1);
    else if (par && !json_is_null(par) && (!json_is_integer(par) || json_integer_value(par) < 0 || json_integer_value(par) > 4096))
        bad = (mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "parallel must be a whole number from 1 to 4096"), 1);
    else if (read_params(json_object_get(body, "params"), &params, resp) != 0)
        bad = 1;
    if (!bad && spec_load_string(name, dir, json_string_value(spec), json_string_length(spec), &f, &d) != 0) {
        mp_buf b;
        mp_buf_init(&b);
        spec_diags_format(&d, &b);
        json_t *lines = json_array();
        for (char *p = b.data; *p;) {
            size_t l = strcspn(p, "\n");
            json_array_append_new(lines, json_stringn(p, l));
            p += l + (p[l] == '\n');
        }
        char *msg = mp_xasprintf("%s is not valid; nothing was run:\n%s", name, b.data);
        json_t *o = json_pack("{s:s,s:s,s:o}", "error_code", "INVALID_PARAMETER_VALUE", "message", msg, "diagnostics", lines);
        free(msg);
        if (o) mp_http_json(resp, 400, o);
        else mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "%s is not valid; nothing was run", name);
        mp_buf_free(&b);
        bad = 1;
    }
    if (!bad && spec_file_count(f, SPEC_KIND_SECRET))
        bad = (mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE",
                                    "%s holds a Secret: apply it first (POST /api/v1/apply, or mlplane apply -f FILE) "
                                    "and submit a file without it (a run keeps its spec's text, and Secrets are kept "
                                    "only encrypted); nothing was run",
                                    name),
               1);
    if (!bad && !spec_file_pipeline(f))
        bad = (mp_http_mlflow_error(resp, 400, "INVALID_PARAMETER_VALUE", "%s holds no Pipeline to run", name), 1);
    if (!bad && req->authz) { /* the run is in its Pipeline's namespace */
        const char *ns = spec_file_pipeline(f)->meta.namespace_;
        if (!mp_http_allowed(req, "create", "runs", ns)) bad = (api__deny(resp, req->authz->user, "create", "runs", ns), 1);
        /* running a file applies its other objects too: each needs what apply needs */
        else if (!api__objects_allowed(req, f, resp)) bad = 1;
    }
    json_t *files = json_object_get(body, "files"), *dirs = json_object_get(body, "dirs");
    json_t *spec_dir = json_object_get(body, "spec_dir");
    bool tree = json_array_size(files) > 0 || json_array_size(dirs) > 0;
    if (!bad && api_uploads_check(req, files, dirs, spec_dir, resp) != 0) bad = 1;
    mp_err e;
    char *root = NULL; /* the run's own tree, when it has local inputs */
    if (!bad) {
        char rnd[13];
        mp_random_alnum(rnd, sizeof rnd);
        if (tree) {
            root = mp_xasprintf("%s/%s", dir, rnd);
            const char *sd = json_string_value(spec_dir);
            char *sdir = sd && *sd ? mp_xasprintf("%s/%s", root, sd) : mp_xstrdup(root);
            file = mp_xasprintf("%s/%s", sdir, spec_file_name(name));
            if (api_uploads_place(req->home, root, files, dirs, &e) != 0 || mp_mkdir_p(sdir, &e) != 0)
                bad = (api_error(resp, &e), 1);
            free(sdir);
        } else {
            file = mp_xasprintf("%s/%s.yaml", dir, rnd);
            if (mp_mkdir_p(dir, &e) != 0) bad = (api_error(resp, &e), 1);
        }
        if (!bad && mp_write_file_atomic(file, json_string_value(spec), json_string_length(spec), &e) != 0)
            bad = (api_error(resp, &e), 1);
        if (bad && root) mp_rm_rf(root, NULL);
    }
    if (!bad) {
        mp_buf out, err;
        mp_buf_init(&out);
        mp_buf_init(&err);
        int status = -1;
        int p = par && json_is_integer(par) ? (int)json_integer_value(par) : 0;
        char *token = api__run_token(req);
        int rc = api__spawn_run(req->home, req->base_url, file, &params, p, token, &out, &err, &status, &e);
        if (token) sodium_memzero(token, strlen(token));
        free(token);
        char *id = rc == 0 ? api__first_line_id(&out) : NULL;
        if (rc != 0) api_error(resp, &e);
        else if (id && (status == 0 || (status == -1 && err.len == 0)))
            mp_http_json(resp, 200, json_pack("{s:s}", "run_id", id));
        else {
            char *msg = child_message(&err, file, name);
            mp_http_mlflow_error(resp, status == 2 ? 400 : 500, status == 2 ? "INVALID_PARAMETER_VALUE" : "INTERNAL_ERROR",
                                 "%s", msg);
            free(msg);
        }
        if (!id || resp->status != 200) {
            if (root) mp_rm_rf(root, NULL);
            else unlink(file);
        }
        free(id);
        mp_buf_free(&out);
        mp_buf_free(&err);
    }
    json_decref(body);
    mp_strv_free(&params);
    spec_diags_free(&d);
    spec_file_free(f);
    free(dir);
    free(file);
    free(root);
}

/* ---- routes ------------------------------------------------------------------------------ */

static const mp_http_route routes[] = {
    {"GET", "/healthz", h_healthz},
    {"GET", "/readyz", h_readyz},
    {"GET", "/api/v1/runs", h_runs_list},
    {"GET", "/api/v1/pipelines", h_pipelines_list},
    {"POST", "/api/v1/runs", h_runs_submit},
    {"GET", "/api/v1/runs/{id}", h_run_describe},
    {"DELETE", "/api/v1/runs/{id}", h_run_delete},
    {"GET", "/api/v1/runs/{id}/steps", h_run_steps},
    {"GET", "/api/v1/runs/{id}/metrics", h_run_metrics},
    {"GET", "/api/v1/runs/{id}/logs", h_run_logs},
    {"POST", "/api/v1/runs/{id}/cancel", h_run_cancel},
    {"POST", "/api/v1/apply", api_h_apply},
    {"GET", "/api/v1/deployments", api_h_deployments},
    {"GET", "/api/v1/deployments/{name}", api_h_deployment_get},
    {"POST", "/api/v1/deployments/{name}/rollout", api_h_deployment_rollout},
    {"DELETE", "/api/v1/objects/{kind}/{name}", api_h_object_delete},
    {"GET", "/api/v1/monitors", api_h_monitors},
    {"GET", "/api/v1/monitors/{name}", api_h_monitor_get},
    {"POST", "/api/v1/monitors/{name}/check", api_h_monitor_check},
    {"GET", "/api/v1/nodes", api_h_nodes},
    {"GET", "/api/v1/lineage/models/{name}/versions/{version}", api_h_lineage_model},
    {"GET", "/api/v1/lineage/models/{name}/aliases/{alias}", api_h_lineage_model},
    {"GET", "/api/v1/lineage/artifacts/{hash}", api_h_lineage_artifact},
    {"GET", "/api/v1/models/{name}/versions/{version}/model.json", api_h_model_version_file},
    {"GET", "/api/v1/models/{name}/versions/{version}/model.ubj", api_h_model_version_file},
    {"GET", "/api/v1/models/{name}/aliases/{alias}/model.json", api_h_model_alias_file},
    {"GET", "/api/v1/models/{name}/aliases/{alias}/model.ubj", api_h_model_alias_file},
    {"POST", "/api/v1/uploads/missing", api_h_uploads_missing},
    {"POST", "/api/v1/uploads/assemble", api_h_uploads_assemble},
    {"GET", "/api/v1/uploads/sha256/{hex}", api_h_upload_get},
    {"PUT", "/api/v1/uploads/sha256/{hex}", api_h_upload_put},
    {"POST", "/api/2.0/mlflow/experiments/permissions/create", api__h_exp_perm_create},
    {"GET", "/api/2.0/mlflow/experiments/permissions/get", api__h_exp_perm_get},
    {"PATCH", "/api/2.0/mlflow/experiments/permissions/update", api__h_exp_perm_update},
    {"DELETE", "/api/2.0/mlflow/experiments/permissions/delete", api__h_exp_perm_delete},
    {"POST", "/api/2.0/mlflow/registered-models/permissions/create", api__h_model_perm_create},
    {"GET", "/api/2.0/mlflow/registered-models/permissions/get", api__h_model_perm_get},
    {"PATCH", "/api/2.0/mlflow/registered-models/permissions/update", api__h_model_perm_update},
    {"DELETE", "/api/2.0/mlflow/registered-models/permissions/delete", api__h_model_perm_delete},
};

const mp_http_route *api_routes(size_t *n) {
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
