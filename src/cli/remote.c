/* remote.c — the CLI against a server (`--server URL` or $MLPLANE_SERVER): run,
 * get, describe, logs, cancel and delete run through /api/v1 over libcurl
 * (apply, rollout, Deployments and delete KIND NAME: remote_deploy.c), printing
 * what the embedded commands print (the same JSON views, the same tables and lines).
 * A run is followed by polling GET /api/v1/runs/ID every 200 ms and printing
 * each new event as one plain line; logs -f polls the logs endpoint.
 * Single-threaded; one curl handle per command (kept alive between polls). */
#include "cli/remote_int.h"

#include <sodium.h>

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

enum { POLL_MS = 200 };

static volatile sig_atomic_t g_interrupted;

static void on_signal(int sig) {
    (void)sig;
    g_interrupted = 1;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
    mp_buf_append(ud, p, size * n);
    return size * n;
}

int remote__open(cli_env *env, remote *r) {
    memset(r, 0, sizeof *r);
    r->server = env->server;
    mp_strlcpy(r->base, env->server, sizeof r->base);
    size_t l = strlen(r->base);
    while (l > 0 && r->base[l - 1] == '/') r->base[--l] = '\0';
    if (!mp_str_starts(r->base, "http://") && !mp_str_starts(r->base, "https://"))
        return cli_fail(CLI_USAGE, "--server expects a URL like http://127.0.0.1:5000, got \"%s\"", env->server);
    char token[512];
    int trc = cli_credentials_token(token, sizeof token);
    if (trc) return trc;
    if (*token) snprintf(r->auth, sizeof r->auth, "Authorization: Bearer %s", token);
    sodium_memzero(token, sizeof token);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    r->c = curl_easy_init();
    if (!r->c) {
        curl_global_cleanup();
        return cli_fail(CLI_FAILED, "cannot initialise libcurl");
    }
    return 0;
}

struct curl_slist *remote__auth(const remote *r, struct curl_slist *h) {
    return r->auth[0] ? curl_slist_append(h, r->auth) : h;
}

void remote__close(remote *r) {
    sodium_memzero(r->auth, sizeof r->auth);
    if (!r->c) return;
    curl_easy_cleanup(r->c);
    curl_global_cleanup();
    r->c = NULL;
}

void remote__reply_free(reply *y) {
    mp_buf_free(&y->body);
    json_decref(y->json);
    memset(y, 0, sizeof *y);
}

/* One request; body (JSON text) may be NULL. Returns 0 with *y filled (any HTTP
 * status), or prints why the server could not be reached and returns CLI_FAILED. */
int remote__call(remote *r, const char *method, const char *path, const char *body, reply *y) {
    memset(y, 0, sizeof *y);
    mp_buf_init(&y->body);
    char *url = mp_xasprintf("%s%s", r->base, path);
    CURL *c = r->c;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &y->body);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mlplane/" MLPLANE_VERSION);
    struct curl_slist *h = remote__auth(r, NULL);
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (h) curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    r->errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    free(url);
    if (rc != CURLE_OK) {
        mp_buf_free(&y->body);
        return cli_fail(CLI_FAILED, "cannot reach the server at %s: %s; is `mlplane server` running?", r->server,
                        r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &y->status);
    json_error_t je;
    y->json = json_loadb(y->body.data, y->body.len, JSON_DECODE_ANY, &je);
    return 0;
}

/* PUTs size bytes read from f to path, as what (in messages). */
static int put_stream(remote *r, const char *path, FILE *f, int64_t size, const char *what, reply *y) {
    char *url = mp_xasprintf("%s%s", r->base, path);
    CURL *c = r->c;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &y->body);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mlplane/" MLPLANE_VERSION);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READDATA, f);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    h = curl_slist_append(h, "Expect:");
    h = remote__auth(r, h);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    r->errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    free(url);
    if (rc != CURLE_OK) {
        mp_buf_free(&y->body);
        return cli_fail(CLI_FAILED, "cannot send %s to the server at %s: %s", what, r->server,
                        r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &y->status);
    json_error_t je;
    y->json = json_loadb(y->body.data, y->body.len, JSON_DECODE_ANY, &je);
    return 0;
}

int remote__put_file(remote *r, const char *path, const char *local_path, reply *y) {
    memset(y, 0, sizeof *y);
    mp_buf_init(&y->body);
    FILE *f = fopen(local_path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0) {
        int err = errno;
        if (f) fclose(f);
        return cli_fail(CLI_FAILED, "cannot read %s: %s", local_path, strerror(err));
    }
    int status = put_stream(r, path, f, (int64_t)sb.st_size, local_path, y);
    fclose(f);
    return status;
}

int remote__put_data(remote *r, const char *path, const void *data, size_t len, const char *what, reply *y) {
    memset(y, 0, sizeof *y);
    mp_buf_init(&y->body);
    FILE *f = fmemopen((void *)data, len, "rb");
    if (!f) return cli_fail(CLI_FAILED, "cannot send %s: %s", what, strerror(errno));
    int status = put_stream(r, path, f, (int64_t)len, what, y);
    fclose(f);
    return status;
}

/* Prints the server's error and returns the exit status: 2 for a 400, else 1. */
int remote__fail_reply(const reply *y) {
    const char *msg = y->json ? json_string_value(json_object_get(y->json, "message")) : NULL;
    int status = y->status == 400 ? CLI_USAGE : CLI_FAILED;
    if (msg) return cli_fail(status, "%s", msg);
    return cli_fail(status, "the server answered HTTP %ld: %.300s", y->status, y->body.data);
}

/* GETs path and expects 200 with a JSON body of the given type; 0 or an exit status. */
int remote__get_json(remote *r, const char *path, json_type type, reply *y) {
    if (remote__call(r, "GET", path, NULL, y)) return CLI_FAILED;
    if (y->status != 200) {
        int st = remote__fail_reply(y);
        remote__reply_free(y);
        return st;
    }
    if (!y->json || json_typeof(y->json) != type) {
        remote__reply_free(y);
        return cli_fail(CLI_FAILED, "the server at %s sent an answer mlplane does not understand", r->server);
    }
    return 0;
}

/* "/api/v1/runs/ID" + suffix, the id escaped. */
static char *run_path(remote *r, const char *run, const char *suffix) {
    char *esc = curl_easy_escape(r->c, run, 0);
    char *p = mp_xasprintf("/api/v1/runs/%s%s", esc ? esc : "", suffix);
    curl_free(esc);
    return p;
}

static void jdur(json_t *o, char *out, size_t n) {
    json_t *d = json_object_get(o, "duration_ms");
    if (json_is_integer(d)) mp_format_duration(json_integer_value(d), out, n);
    else mp_strlcpy(out, "-", n);
}

/* ---- run -------------------------------------------------------------------------- */

static void print_event(json_t *ev) {
    const char *type = cli_jstr(ev, "type", "");
    const char *state = mp_str_starts(type, "Step") ? type + 4 : mp_str_starts(type, "Run") ? type + 3 : type;
    const char *msg = cli_jstr(ev, "message", NULL);
    printf("%s %s %s%s%s\n", cli_jstr(ev, "time", "-"), cli_jstr(ev, "step", "run"), state, msg ? ": " : "", msg ? msg : "");
    fflush(stdout);
}

static int finish(json_t *run) {
    const char *id = cli_jstr(run, "id", "?"), *state = cli_jstr(run, "state", "?");
    char dur[32];
    jdur(run, dur, sizeof dur);
    if (strcmp(state, "Succeeded") == 0) {
        printf("run %s Succeeded in %s\n", id, dur);
        return CLI_OK;
    }
    fprintf(stderr, "mlplane: run %s %s after %s: %s\n", id, state, dur, cli_jstr(run, "message", ""));
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(run, "steps"), i, s) if (strcmp(cli_jstr(s, "state", ""), "Failed") == 0)
        fprintf(stderr, "mlplane: see its log: mlplane logs %s %s\n", id, cli_jstr(s, "name", "?"));
    return CLI_FAILED;
}

/* Polls the run until it ends, printing its events; Ctrl-C cancels it. */
static int follow_run(remote *r, const char *run_id) {
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    json_int_t last = 0;
    bool cancel_sent = false;
    int status = CLI_FAILED;
    char *base = run_path(r, run_id, "");
    for (;;) {
        char *p = mp_xasprintf("%s?events_after=%" JSON_INTEGER_FORMAT, base, last);
        reply y;
        int rc = remote__get_json(r, p, JSON_OBJECT, &y);
        free(p);
        if (rc) {
            status = rc;
            break;
        }
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(y.json, "events"), i, ev) {
            /* as the embedded view: the run's events from its start on */
            if (strcmp(cli_jstr(ev, "type", ""), "RunCreated") != 0) print_event(ev);
            json_int_t id = json_integer_value(json_object_get(ev, "id"));
            if (id > last) last = id;
        }
        const char *state = cli_jstr(y.json, "state", "");
        int st = store_run_state_parse(state);
        if (st >= 0 && store_run_state_final(st)) {
            status = finish(y.json);
            remote__reply_free(&y);
            break;
        }
        bool interrupted = strcmp(state, "Interrupted") == 0; /* state lives in y */
        remote__reply_free(&y);
        if (interrupted) {
            status = cli_fail(CLI_FAILED,
                              "run %s is interrupted: no mlplane process drives it; finish it with `mlplane resume %s` "
                              "on the server's machine",
                              run_id, run_id);
            break;
        }
        if (g_interrupted && !cancel_sent) {
            cancel_sent = true;
            char *cp = run_path(r, run_id, "/cancel");
            reply cy;
            if (remote__call(r, "POST", cp, "{}", &cy) == 0) remote__reply_free(&cy);
            free(cp);
            continue;
        }
        mp_sleep_ms(POLL_MS);
    }
    free(base);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return status;
}

int remote_run(cli_env *env, const char *spec_path, const mp_strv *params, bool detach, int parallel) {
    char *text = NULL;
    size_t len = 0;
    if (cli_read_spec(spec_path, &text, &len) != 0) return cli_fail(CLI_USAGE, "nothing was run");
    json_t *pj = json_object();
    for (size_t i = 0; i < params->n; i++) {
        const char *eq = strchr(params->v[i], '=');
        if (!eq || eq == params->v[i]) {
            json_decref(pj);
            free(text);
            return cli_fail(CLI_USAGE, "-p expects name=value, got \"%s\"", params->v[i]);
        }
        char *k = mp_xstrndup(params->v[i], (size_t)(eq - params->v[i]));
        json_object_set_new(pj, k, json_string(eq + 1));
        free(k);
    }
    json_t *sj = json_stringn(text, len);
    free(text);
    if (!sj) {
        json_decref(pj);
        return cli_fail(CLI_USAGE, "%s is not UTF-8 text", spec_path);
    }
    remote_inputs in;
    int status = remote__inputs_collect(spec_path, params, &in);
    if (status) {
        remote__inputs_free(&in);
        json_decref(pj);
        json_decref(sj);
        return status;
    }
    json_t *req = json_pack("{s:o,s:s,s:o}", "spec", sj, "spec_name", spec_path, "params", pj);
    if (parallel > 0) json_object_set_new(req, "parallel", json_integer(parallel));
    if (json_array_size(in.files) || json_array_size(in.dirs)) {
        json_t *files = json_array();
        size_t i;
        json_t *fe;
        json_array_foreach(in.files, i, fe)
            json_array_append_new(files, json_pack("{s:O,s:O,s:O}", "path", json_object_get(fe, "path"), "sha256",
                                                   json_object_get(fe, "sha256"), "executable",
                                                   json_object_get(fe, "executable")));
        json_object_set_new(req, "files", files);
        json_object_set(req, "dirs", in.dirs);
        json_object_set_new(req, "spec_dir", json_string(in.spec_dir));
    }
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    remote r;
    status = remote__open(env, &r);
    reply y = {0};
    if (status == 0) status = remote__inputs_upload(&r, &in);
    remote__inputs_free(&in);
    if (status == 0 && remote__call(&r, "POST", "/api/v1/runs", body, &y) != 0) status = CLI_FAILED;
    free(body);
    if (status != 0) {
        remote__close(&r);
        return status;
    }
    const char *run_id = y.status == 200 ? cli_jstr(y.json, "run_id", NULL) : NULL;
    json_t *diags = json_object_get(y.json, "diagnostics");
    if (!run_id && y.status == 400 && json_is_array(diags)) {
        size_t i;
        json_t *d;
        json_array_foreach(diags, i, d) fprintf(stderr, "%s\n", json_string_value(d) ? json_string_value(d) : "");
        status = cli_fail(CLI_USAGE, "%s is not valid; nothing was run", spec_path);
    } else if (!run_id) {
        status = y.status == 200 ? cli_fail(CLI_FAILED, "the server did not return a run id") : remote__fail_reply(&y);
    } else {
        printf("%s\n", run_id);
        fflush(stdout);
        if (!detach) status = follow_run(&r, run_id);
    }
    remote__reply_free(&y);
    remote__close(&r);
    return status;
}

/* ---- get and describe ----------------------------------------------------------------- */

static void runs_table(json_t *arr) {
    static const char *const hdr[] = {"RUN", "PIPELINE", "STATE", "STEPS", "CREATED", "DURATION"};
    cli_table t;
    cli_table_init(&t, 6, hdr);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        char stepc[48], dur[32];
        snprintf(stepc, sizeof stepc, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(o, "steps_done")), json_integer_value(json_object_get(o, "steps_total")));
        jdur(o, dur, sizeof dur);
        const char *row[] = {cli_jstr(o, "id", ""), cli_jstr(o, "pipeline", ""), cli_jstr(o, "state", ""), stepc,
                             cli_jstr(o, "created", ""), dur};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

static void steps_table(json_t *arr) {
    /* as get_steps in cmd_get.c: a PARAMS column for a run with a sweep */
    static const char *const hdr[] = {"STEP", "STATE", "ATTEMPTS", "EXIT", "DURATION", "MESSAGE"};
    static const char *const hdrp[] = {"STEP", "STATE", "ATTEMPTS", "EXIT", "DURATION", "PARAMS", "MESSAGE"};
    size_t i;
    json_t *s;
    bool sweep = false;
    json_array_foreach(arr, i, s) sweep = sweep || json_is_object(json_object_get(s, "params"));
    cli_table t;
    cli_table_init(&t, sweep ? 7 : 6, sweep ? hdrp : hdr);
    json_array_foreach(arr, i, s) {
        char att[24], ex[24], dur[32];
        snprintf(att, sizeof att, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(s, "attempts")));
        json_t *x = json_object_get(s, "exit_code");
        if (json_is_integer(x)) snprintf(ex, sizeof ex, "%" JSON_INTEGER_FORMAT, json_integer_value(x));
        else mp_strlcpy(ex, "-", sizeof ex);
        jdur(s, dur, sizeof dur);
        char *params = api_params_text(json_object_get(s, "params"));
        const char *msg = cli_jstr(s, "message", "");
        const char *row[] = {cli_jstr(s, "name", ""), cli_jstr(s, "state", ""), att, ex, dur, sweep ? params : msg, msg};
        cli_table_add(&t, row);
        free(params);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

static void metrics_table(json_t *arr) {
    static const char *const hdr[] = {"STEP", "METRIC", "VALUE"};
    cli_table t;
    cli_table_init(&t, 3, hdr);
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m) {
        char v[64];
        snprintf(v, sizeof v, "%.6g", json_number_value(json_object_get(m, "value")));
        const char *row[] = {cli_jstr(m, "step", ""), cli_jstr(m, "key", ""), v};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

int remote_get_runs(cli_env *env, cli_out out) {
    remote r;
    if (remote__open(env, &r)) return CLI_USAGE;
    reply y;
    int status = remote__get_json(&r, "/api/v1/runs", JSON_ARRAY, &y);
    if (status == 0) {
        if (out == OUT_TABLE) runs_table(y.json);
        else status = cli_print_json(y.json, out);
        remote__reply_free(&y);
    }
    remote__close(&r);
    return status;
}

int remote_get_run_items(cli_env *env, const char *what, const char *run, cli_out out) {
    remote r;
    if (remote__open(env, &r)) return CLI_USAGE;
    bool metrics = strcmp(what, "metrics") == 0;
    char *p = run_path(&r, run, metrics ? "/metrics" : "/steps");
    reply y;
    int status = remote__get_json(&r, p, JSON_ARRAY, &y);
    free(p);
    if (status == 0) {
        if (out != OUT_TABLE) status = cli_print_json(y.json, out);
        else if (metrics) metrics_table(y.json);
        else steps_table(y.json);
        remote__reply_free(&y);
    }
    remote__close(&r);
    return status;
}

/* The human view of `describe run`, from the describe JSON. */
static void describe_text(json_t *o) {
    char dur[32];
    jdur(o, dur, sizeof dur);
    const char *id = cli_jstr(o, "id", "?");
    char *labels = api_params_text(json_object_get(o, "labels"));
    printf("Run:        %s\nPipeline:   %s (namespace %s)\nLabels:     %s\nState:      %s\nCreated:    %s\n"
           "Duration:   %s\n",
           id, cli_jstr(o, "pipeline", ""), cli_jstr(o, "namespace", ""), *labels ? labels : "<none>",
           cli_jstr(o, "state", ""), cli_jstr(o, "created", "-"), dur);
    free(labels);
    if (cli_jstr(o, "message", NULL)) printf("Message:    %s\n", cli_jstr(o, "message", ""));
    if (strcmp(cli_jstr(o, "state", ""), "Interrupted") == 0)
        printf("Hint:       no mlplane process drives this run; finish it with `mlplane resume %s`\n", id);
    char *params = json_dumps(json_object_get(o, "params"), JSON_COMPACT | JSON_ENCODE_ANY);
    printf("Spec:       %s\nParams:     %s\n\nSteps:\n", cli_jstr(o, "spec_path", "-"), params ? params : "{}");
    free(params);
    size_t i;
    json_t *s;
    bool any_metric = false;
    json_array_foreach(json_object_get(o, "steps"), i, s) {
        jdur(s, dur, sizeof dur);
        json_t *x = json_object_get(s, "exit_code");
        char ex[16] = "-"; /* as the embedded view: "-" for a step that has not exited */
        if (json_is_integer(x) && json_integer_value(x) >= 0) snprintf(ex, sizeof ex, "%d", (int)json_integer_value(x));
        printf("  %-20s %-10s attempts %d  exit %s  %s\n", cli_jstr(s, "name", ""), cli_jstr(s, "state", ""),
               (int)json_integer_value(json_object_get(s, "attempts")), ex, dur);
        if (cli_jstr(s, "message", NULL)) printf("      message:  %s\n", cli_jstr(s, "message", ""));
        char *params = api_params_text(json_object_get(s, "params"));
        if (*params) printf("      params:   %s\n", params);
        free(params);
        if (cli_jstr(s, "cached_from", NULL)) printf("      cache:    hit, outputs of run %s\n", cli_jstr(s, "cached_from", ""));
        printf("      outputs:  %s\n      log:      %s\n", cli_jstr(s, "outputs_dir", "-"), cli_jstr(s, "log", "-"));
        cli_print_log_tail(json_object_get(s, "log_tail"));
        any_metric |= json_object_size(json_object_get(s, "metrics")) > 0;
    }
    if (any_metric) {
        printf("\nMetrics:\n");
        json_array_foreach(json_object_get(o, "steps"), i, s) {
            const char *k;
            json_t *v;
            json_object_foreach(json_object_get(s, "metrics"), k, v)
                printf("  %-20s %-16s %.6g\n", cli_jstr(s, "name", ""), k, json_number_value(v));
        }
    }
    printf("\nEvents:\n");
    json_t *ev;
    json_array_foreach(json_object_get(o, "events"), i, ev)
        printf("  %s  %-16s %-20s %s\n", cli_jstr(ev, "time", "-"), cli_jstr(ev, "type", ""), cli_jstr(ev, "step", "-"),
               cli_jstr(ev, "message", ""));
}

int remote_describe(cli_env *env, const char *run, cli_out out) {
    remote r;
    if (remote__open(env, &r)) return CLI_USAGE;
    char *p = run_path(&r, run, "");
    reply y;
    int status = remote__get_json(&r, p, JSON_OBJECT, &y);
    free(p);
    if (status == 0) {
        if (out == OUT_TABLE) describe_text(y.json);
        else status = cli_print_json(y.json, out);
        remote__reply_free(&y);
    }
    remote__close(&r);
    return status;
}

/* ---- logs and cancel ------------------------------------------------------------------- */

/* Prints what is new in one step's log; *done is set when no more will come. */
/* tail >= 0: what is there now is collected and only its last tail lines printed. */
static int logs_step(remote *r, const char *run, const char *step, long long *off, bool header, bool *headed, bool *noted,
                     bool *done, int tail) {
    char *esc = curl_easy_escape(r->c, step, 0);
    mp_buf held;
    mp_buf_init(&held);
    for (;;) {
        char *base = run_path(r, run, "/logs");
        char *p = mp_xasprintf("%s?step=%s&offset=%lld", base, esc ? esc : "", *off);
        free(base);
        reply y;
        int status = remote__get_json(r, p, JSON_OBJECT, &y);
        free(p);
        if (status) {
            curl_free(esc);
            mp_buf_free(&held);
            return status;
        }
        json_t *d = json_object_get(y.json, "data");
        size_t n = json_string_length(d);
        const char *cached_err = cli_jstr(y.json, "cached_log_error", NULL);
        if (!*noted && cli_jstr(y.json, "cached_from", NULL)) { /* a Cached step: the log of the run it reused */
            *noted = true;
            if (cached_err && !header) {
                remote__reply_free(&y);
                curl_free(esc);
                mp_buf_free(&held);
                return cli_fail(CLI_FAILED, "%s", cached_err);
            }
            if (cached_err) fprintf(stderr, "mlplane: %s\n", cached_err);
            else fprintf(stderr, "step %s is cached from run %s; showing that run's log\n", step,
                         cli_jstr(y.json, "cached_from", ""));
        }
        if (header && !*headed && json_is_true(json_object_get(y.json, "exists"))) {
            printf("==> %s <==\n", step);
            *headed = true;
        }
        if (n && tail >= 0) mp_buf_append(&held, json_string_value(d), n);
        else if (n) fwrite(json_string_value(d), 1, n, stdout);
        fflush(stdout);
        long long noff = (long long)json_integer_value(json_object_get(y.json, "offset"));
        *done = json_is_true(json_object_get(y.json, "done"));
        remote__reply_free(&y);
        bool more = noff != *off && n > 0;
        *off = noff;
        if (!more) break; /* drained: what was there has been printed */
    }
    if (tail >= 0 && held.len) {
        size_t from = cli_tail_start(held.data, held.len, tail);
        fwrite(held.data + from, 1, held.len - from, stdout);
        fflush(stdout);
    }
    mp_buf_free(&held);
    curl_free(esc);
    return 0;
}

int remote_logs(cli_env *env, const char *run, const char *step, bool follow, int tail) {
    remote r;
    if (remote__open(env, &r)) return CLI_USAGE;
    mp_strv names = {0};
    int status = 0;
    if (step) {
        mp_strv_push(&names, step);
    } else {
        char *p = run_path(&r, run, "/steps");
        reply y;
        status = remote__get_json(&r, p, JSON_ARRAY, &y);
        free(p);
        if (status == 0) {
            size_t i;
            json_t *s;
            json_array_foreach(y.json, i, s) mp_strv_push(&names, cli_jstr(s, "name", ""));
            remote__reply_free(&y);
        }
    }
    long long *offs = mp_xcalloc(names.n + 1, sizeof *offs);
    bool *headed = mp_xcalloc(names.n + 1, sizeof *headed);
    bool *noted = mp_xcalloc(names.n + 1, sizeof *noted);
    while (status == 0) {
        bool all_done = true;
        for (size_t i = 0; i < names.n && status == 0; i++) {
            bool done = true;
            status = logs_step(&r, run, names.v[i], &offs[i], step == NULL, &headed[i], &noted[i], &done, tail);
            all_done &= done;
        }
        tail = -1; /* the tail is of what was there at first; then everything new */
        if (status || !follow || all_done) break;
        mp_sleep_ms(POLL_MS);
    }
    free(offs);
    free(headed);
    free(noted);
    mp_strv_free(&names);
    remote__close(&r);
    return status;
}

int remote_cancel(cli_env *env, const char *run) {
    remote r;
    if (remote__open(env, &r)) return CLI_USAGE;
    char *p = run_path(&r, run, "/cancel");
    reply y;
    int status = remote__call(&r, "POST", p, "{}", &y);
    free(p);
    if (status == 0) {
        if (y.status == 200 && json_is_object(y.json)) printf("run %s %s\n", cli_jstr(y.json, "id", run), cli_jstr(y.json, "state", "?"));
        else status = remote__fail_reply(&y);
        remote__reply_free(&y);
    }
    remote__close(&r);
    return status;
}

int remote_delete_run(cli_env *env, const char *run, bool force) {
    remote r;
    if (remote__open(env, &r)) return CLI_USAGE;
    char *p = run_path(&r, run, force ? "?force=true" : "");
    reply y;
    int status = remote__call(&r, "DELETE", p, NULL, &y);
    free(p);
    if (status == 0) {
        if (y.status == 200 && json_is_object(y.json)) printf("run %s deleted\n", cli_jstr(y.json, "id", run));
        else status = remote__fail_reply(&y);
        remote__reply_free(&y);
    }
    remote__close(&r);
    return status;
}
