/* monitor_actions.c — what a Monitor does when its check finds drift, and the
 * loop that follows: retraining, registration, canary, promotion.
 *
 *   webhook   a JSON alert POSTed on drift, at most once per actions.cooldownSeconds;
 *   retrain   the pipeline actions.retrain.pipeline (the spec of its latest run in
 *             this home) run again with actions.retrain.params, through `mlplane run
 *             --detach`: at most once per cooldownSeconds, never while a retraining
 *             it started (or the canary of one) is still going;
 *   promote   when that run succeeds and registers a version of the Deployment's
 *             model: canary — the Deployment applied again with that version as its
 *             canary at actions.canaryPercent; auto — the same, then once the canary
 *             has answered actions.promoteAfterRequests logged requests, promoted to
 *             100% (the new stable version) when its error ratio and p90 latency are
 *             no worse than the stable version's over the same time, else rolled back.
 * The state between checks is a JSON object in the store (monitor_state_get/put):
 *   {"phase": "retraining"|"canary", "run", "version", "sinceMs", "retrainMs", "webhookMs"}.
 * Every action and every outcome is an event of the Monitor.
 * Thread: the caller's (the monitors' thread, or `mlplane monitor check`), with its store. */
#include "api/api.h"
#include "api/api_int.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor.h"
#include "sched/sched.h"
#include "serve/serve.h"

/* "no worse": what a canary's numbers may exceed the stable version's by */
#define ERROR_RATIO_SLACK 0.01
#define LATENCY_FACTOR 1.2
#define LATENCY_SLACK_MS 10.0 /* sub-millisecond p90s differ by more than this much only by noise (a fresh process, load) */

void api__monitor_served(store *st, const char *home, const char *name, char **model, char **version) {
    *model = *version = NULL;
    mp_err e = {0};
    char warn[256];
    json_t *s = serve_deploy_status_of(st, home, name, warn, sizeof warn, &e);
    if (!s) return;
    const char *mo = json_string_value(json_object_get(s, "model"));
    const char *v = json_string_value(json_object_get(json_array_get(json_object_get(s, "tracks"), 0), "version"));
    if (mo) *model = mp_xstrdup(mo);
    if (mo && v && v[0] == '@') {
        store_model_version mv = {0};
        if (st->r->alias_get(st, mo, v + 1, &mv, &e) == 0) *version = mp_xasprintf("%lld", (long long)mv.version);
        store_model_version_free(&mv);
    } else if (v) {
        *version = mp_xstrdup(v);
    }
    json_decref(s);
}

/* ---- the state ------------------------------------------------------------------------ */

static json_t *state_load(store *st, const char *name) {
    char *text = NULL;
    mp_err e = {0};
    json_t *j = NULL;
    if (st->o->monitor_state_get(st, name, &text, &e) == 0 && text) j = json_loads(text, 0, NULL);
    free(text);
    if (!json_is_object(j)) {
        json_decref(j);
        j = json_object();
    }
    return j;
}

static void state_save(store *st, const char *name, json_t *j) {
    char *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    mp_err e = {0};
    if (st->o->monitor_state_put(st, name, out, &e) != 0) fprintf(stderr, "mlplane: monitor %s: %s\n", name, e.msg);
    free(out);
}

static const char *phase_of(json_t *s) { return json_string_value(json_object_get(s, "phase")); }

static void event(store *st, const char *name, const char *type, const char *fmt, ...) MP_PRINTF(4, 5);
static void event(store *st, const char *name, const char *type, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mp_err e = {0};
    if (st->o->monitor_event_add(st, name, type, msg, &e) != 0) fprintf(stderr, "mlplane: monitor %s: %s\n", name, e.msg);
}

/* ---- webhook -------------------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ud) {
    (void)p, (void)ud;
    return size * n;
}

/* POSTs the alert to the webhook; returns 0, or fills why. */
static int post_webhook(const char *url, const char *body, char *why, size_t whyn) {
    CURL *c = curl_easy_init();
    if (!c) return snprintf(why, whyn, "cannot make an HTTP client"), -1;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) return snprintf(why, whyn, "%s", curl_easy_strerror(rc)), -1;
    if (code < 200 || code > 299) return snprintf(why, whyn, "the webhook answered HTTP %ld", code), -1;
    return 0;
}

static void webhook(store *st, const spec_monitor *m, const store_monitor_check *c, json_t *state, int64_t now) {
    int64_t last = json_integer_value(json_object_get(state, "webhookMs"));
    if (last && now - last < (int64_t)m->cooldown_s * 1000) return;
    char when[40];
    mp_format_time(c->time_ms, when, sizeof when);
    json_t *body = json_pack("{s:s,s:s,s:s?,s:s,s:s,s:I,s:I,s:f}", "monitor", m->meta.name, "status", c->status,
                             "deployment", m->deployment, "message", c->message ? c->message : "", "time", when,
                             "columns", (json_int_t)c->ncolumns, "drifted", (json_int_t)c->ndrifted, "share", c->share);
    if (c->version) json_object_set_new(body, "version", json_string(c->version));
    if (c->result_json) json_object_set_new(body, "result", json_loads(c->result_json, 0, NULL));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char why[300];
    if (post_webhook(m->webhook_url, text, why, sizeof why) == 0) {
        json_object_set_new(state, "webhookMs", json_integer(now));
        event(st, m->meta.name, "WebhookSent", "%s", m->webhook_url);
    } else {
        event(st, m->meta.name, "WebhookFailed", "%s: %s", m->webhook_url, why);
    }
    free(text);
}

/* ---- retrain ----------------------------------------------------------------------------- */

/* The spec file of pipeline name's latest run in the home (heap), or NULL. */
static char *pipeline_spec(store *st, const char *name) {
    store_run *runs = NULL;
    size_t n = 0;
    mp_err e = {0};
    char *path = NULL;
    /* the newest runs first (each comes with its spec's text), every run only when need be */
    static const size_t pages[] = {50, 0};
    for (size_t p = 0; p < 2 && !path; p++) {
        if (st->m->run_list(st, pages[p], &runs, &n, &e) != 0) break;
        for (size_t i = 0; i < n && !path; i++)
            if (runs[i].pipeline && strcmp(runs[i].pipeline, name) == 0 && runs[i].spec_path)
                path = mp_xstrdup(runs[i].spec_path);
        bool all = pages[p] == 0 || n < pages[p];
        store_run_array_free(runs, n);
        runs = NULL;
        n = 0;
        if (all) break;
    }
    return path;
}

/* Lineage: the retraining run's MLflow tags name the version its Deployment served when
 * the drift was found (mlplane.retrainedFrom = models:/MODEL/VERSION) and this Monitor
 * (mlplane.retrainedBy = monitor/NAME); `mlplane lineage` shows that version as a parent
 * of what the run registers. Best effort: a failure is an event, the retraining goes on. */
static void tag_lineage(store *st, const char *home, const spec_monitor *m, const char *run) {
    char *model = NULL, *version = NULL;
    if (m->deployment) api__monitor_served(st, home, m->deployment, &model, &version);
    char *from = model && version ? mp_xasprintf("models:/%s/%s", model, version) : NULL;
    char *by = mp_xasprintf("monitor/%s", m->meta.name);
    store_kv tags[] = {{"mlplane.retrainedBy", by}, {"mlplane.retrainedFrom", from}};
    mp_err e = {0};
    if (st->t->log_batch(st, run, NULL, 0, NULL, 0, tags, from ? 2 : 1, &e) != 0)
        event(st, m->meta.name, "LineageNotRecorded", "retraining run %s: %s", run, e.msg);
    free(from);
    free(by);
    free(model);
    free(version);
}

static void retrain(store *st, const char *home, const spec_monitor *m, json_t *state, int64_t now) {
    const char *name = m->meta.name, *phase = phase_of(state);
    if (phase && strcmp(phase, "retraining") == 0) {
        event(st, name, "RetrainSkipped", "retraining run %s is still running",
              json_string_value(json_object_get(state, "run")));
        return;
    }
    if (phase && strcmp(phase, "canary") == 0) {
        event(st, name, "RetrainSkipped", "the canary of version %s is still being judged",
              json_string_value(json_object_get(state, "version")));
        return;
    }
    int64_t last = json_integer_value(json_object_get(state, "retrainMs"));
    if (last && now - last < (int64_t)m->cooldown_s * 1000) {
        char when[40];
        mp_format_time(last + (int64_t)m->cooldown_s * 1000, when, sizeof when);
        event(st, name, "RetrainCooldown", "no retraining before %s (actions.cooldownSeconds %d after the last one)",
              when, m->cooldown_s);
        return;
    }
    char *spec = pipeline_spec(st, m->retrain_pipeline);
    if (!spec || !mp_path_exists(spec)) {
        event(st, name, "RetrainFailed",
              spec ? "pipeline %s: its spec file %s is gone"
                   : "pipeline %s has no run in this home: run it once (mlplane run FILE) so its spec is known%s",
              m->retrain_pipeline, spec ? spec : "");
        free(spec);
        return;
    }
    mp_strv params = {0};
    for (size_t i = 0; i < m->nretrain_params; i++)
        mp_strv_push_owned(&params, mp_xasprintf("%s=%s", m->retrain_params[i].key, m->retrain_params[i].value));
    mp_buf out, err;
    mp_buf_init(&out);
    mp_buf_init(&err);
    int status = -1;
    mp_err e = {0};
    int rc = api__spawn_run(home, NULL, spec, &params, 0, NULL, &out, &err, &status, &e);
    char *id = rc == 0 && status == 0 ? api__first_line_id(&out) : NULL;
    /* a retraining that could not start counts for the cooldown too: no retry storm */
    json_object_set_new(state, "retrainMs", json_integer(now));
    if (id) {
        json_object_set_new(state, "phase", json_string("retraining"));
        json_object_set_new(state, "run", json_string(id));
        event(st, name, "RetrainSubmitted", "run %s of pipeline %s (%s)", id, m->retrain_pipeline, spec);
        tag_lineage(st, home, m, id);
    } else {
        size_t l = strcspn(err.data, "\n");
        event(st, name, "RetrainFailed", "pipeline %s (%s): %.*s", m->retrain_pipeline, spec, (int)l,
              rc ? e.msg : err.len ? err.data : "mlplane run failed without a message");
    }
    free(id);
    mp_buf_free(&out);
    mp_buf_free(&err);
    mp_strv_free(&params);
    free(spec);
}

void api__monitor_act(store *st, const char *home, const spec_monitor *m, const store_monitor_check *c) {
    if (strcmp(c->status, "Drift") != 0 || (!m->webhook_url && !m->retrain_pipeline)) return;
    json_t *state = state_load(st, m->meta.name);
    int64_t now = mp_now_ms();
    if (m->webhook_url) webhook(st, m, c, state, now);
    if (m->retrain_pipeline) retrain(st, home, m, state, now);
    state_save(st, m->meta.name, state);
    json_decref(state);
}

/* ---- after the retraining ------------------------------------------------------------------ */

/* Applies deployment name again with its versions rewritten (spec_deployment_rewrite). */
static int redeploy(store *st, const char *name, int64_t stable, int64_t canary, int percent, mp_err *e) {
    store_object *objs = NULL;
    store_source *srcs = NULL;
    size_t no = 0, ns = 0;
    int rc = st->o->object_list(st, &objs, &no, e);
    if (rc == 0) rc = st->o->source_list(st, &srcs, &ns, e);
    const store_source *src = NULL;
    for (size_t i = 0; rc == 0 && i < no && !src; i++)
        if (strcmp(objs[i].kind, "Deployment") == 0 && strcmp(objs[i].name, name) == 0)
            for (size_t k = 0; k < ns && !src; k++)
                if (srcs[k].id == objs[i].source_id) src = &srcs[k];
    char *text = NULL;
    if (rc == 0 && !src) rc = mp_err_set(e, MP_ENOENT, "deployment %s is not applied", name);
    if (rc == 0) rc = spec_deployment_rewrite(src->text, name, stable, canary, percent, &text, e);
    spec_file *f = NULL;
    if (rc == 0) {
        spec_diags d = {0};
        char *dir = mp_path_dir(src->path);
        if (spec_load_string(src->path, dir, text, strlen(text), &f, &d) != 0) {
            mp_buf b;
            mp_buf_init(&b);
            spec_diags_format(&d, &b);
            rc = mp_err_set(e, MP_EINVAL, "the rewritten deployment %s does not load: %s", name, b.data);
            mp_buf_free(&b);
        }
        free(dir);
        if (rc == 0) {
            size_t napplied = 0;
            rc = st->m->begin(st, e);
            if (rc == 0) rc = sched_objects_apply(st, f, text, &napplied, &d, e);
            if (rc == 0) rc = st->m->commit(st, e);
            else st->m->rollback(st);
        }
        spec_diags_free(&d);
    }
    spec_file_free(f);
    free(text);
    store_object_array_free(objs, no);
    store_source_array_free(srcs, ns);
    return rc;
}

/* The version of model that run registered (the highest), or 0. */
static int64_t version_of_run(store *st, const char *model, const char *run) {
    store_reg_cond conds[2] = {{.field = STORE_REG_NAME, .op = STORE_OP_EQ, .str = model},
                               {.field = STORE_REG_RUN_ID, .op = STORE_OP_IN, .list = &run, .nlist = 1}};
    store_reg_order order = {.field = STORE_REG_VERSION, .asc = false};
    store_reg_query q = {.conds = conds, .nconds = 2, .order = &order, .norder = 1, .limit = 1};
    store_model_version *v = NULL;
    size_t n = 0;
    mp_err e = {0};
    int64_t version = 0;
    if (st->r->version_search(st, &q, &v, &n, &e) == 0 && n) version = v[0].version;
    store_model_version_array_free(v, n);
    return version;
}

static void finished_retraining(store *st, const char *home, const spec_monitor *m, json_t *state) {
    const char *name = m->meta.name, *run = json_string_value(json_object_get(state, "run"));
    store_run r = {0};
    mp_err e = {0};
    if (!run || st->m->run_get(st, run, &r, &e) != 0) {
        event(st, name, "RetrainFailed", "retraining run %s: %s", run ? run : "?", e.msg);
        json_object_del(state, "phase");
        return;
    }
    int rs = r.state;
    char *msg = r.message ? mp_xstrdup(r.message) : NULL;
    store_run_free(&r);
    if (rs == RUN_PENDING || rs == RUN_RUNNING) {
        free(msg);
        return;
    }
    json_object_del(state, "phase");
    if (rs != RUN_SUCCEEDED) {
        event(st, name, "RetrainFailed", "retraining run %s %s%s%s", run, store_run_state_name(rs),
              msg ? ": " : "", msg ? msg : "");
        free(msg);
        return;
    }
    free(msg);
    char *model = NULL, *stable = NULL;
    if (m->deployment) api__monitor_served(st, home, m->deployment, &model, &stable);
    int64_t v = model ? version_of_run(st, model, run) : 0;
    if (!v) {
        event(st, name, "RetrainRegisteredNothing",
              "retraining run %s succeeded but registered no version of model %s (register: on a step, or "
              "register.ifChanged found the same model)",
              run, model ? model : "?");
    } else {
        event(st, name, "ModelRetrained", "retraining run %s registered model %s version %lld", run, model,
              (long long)v);
        if (m->promote != SPEC_PROMOTE_NONE && stable && atoll(stable) == v) {
            event(st, name, "CanarySkipped", "version %lld is already the stable version of deployment %s",
                  (long long)v, m->deployment);
        } else if (m->promote != SPEC_PROMOTE_NONE) {
            if (redeploy(st, m->deployment, 0, v, m->canary_percent, &e) != 0) {
                event(st, name, "CanaryFailed", "deployment %s: %s", m->deployment, e.msg);
            } else {
                event(st, name, "CanaryStarted", "deployment %s: version %lld at %d%% of the requests", m->deployment,
                      (long long)v, m->canary_percent);
                if (m->promote == SPEC_PROMOTE_AUTO) {
                    json_object_set_new(state, "phase", json_string("canary"));
                    json_object_set_new(state, "version", json_sprintf("%lld", (long long)v));
                    json_object_set_new(state, "stable", json_string(stable ? stable : ""));
                    json_object_set_new(state, "sinceMs", json_integer(mp_now_ms()));
                }
            }
        }
    }
    free(model);
    free(stable);
}

/* promote: auto — the canary judged once it has answered enough requests. */
static void judge_canary(store *st, const char *home, const spec_monitor *m, json_t *state) {
    const char *name = m->meta.name, *cv = json_string_value(json_object_get(state, "version")),
               *sv = json_string_value(json_object_get(state, "stable"));
    char *log = mp_xasprintf("%s/serving/%s/requests.log", home, m->deployment);
    monitor_version_stats s, c;
    mp_err e = {0};
    int rc = monitor_reqlog_compare(log, json_integer_value(json_object_get(state, "sinceMs")), sv ? sv : "",
                                    cv ? cv : "", &s, &c, &e);
    free(log);
    if (rc != 0 || c.requests < (size_t)m->promote_after) return; /* not enough yet */
    double ser = s.requests ? (double)s.errors / (double)s.requests : 0,
           cer = (double)c.errors / (double)c.requests;
    bool errors_ok = cer <= ser + ERROR_RATIO_SLACK;
    bool latency_ok = !s.requests || c.p90_ms <= s.p90_ms * LATENCY_FACTOR + LATENCY_SLACK_MS;
    char numbers[400];
    snprintf(numbers, sizeof numbers,
             "canary version %s: %zu requests, error ratio %.3f, p90 %.2f ms; stable version %s: %zu requests, "
             "error ratio %.3f, p90 %.2f ms",
             cv, c.requests, cer, c.p90_ms, sv && *sv ? sv : "?", s.requests, ser, s.p90_ms);
    json_object_del(state, "phase");
    if (errors_ok && latency_ok) {
        if (redeploy(st, m->deployment, atoll(cv), 0, 0, &e) != 0)
            event(st, name, "PromoteFailed", "deployment %s: %s", m->deployment, e.msg);
        else
            event(st, name, "CanaryPromoted", "deployment %s now serves version %s: %s", m->deployment, cv, numbers);
    } else {
        if (redeploy(st, m->deployment, 0, 0, 0, &e) != 0)
            event(st, name, "RollbackFailed", "deployment %s: %s", m->deployment, e.msg);
        else
            event(st, name, "CanaryRolledBack", "deployment %s: version %s is worse (%s): %s", m->deployment, cv,
                  !errors_ok ? "errors" : "latency", numbers);
    }
}

void api__monitor_advance(store *st, const char *home, const spec_monitor *m) {
    if (!m->retrain_pipeline) return;
    json_t *state = state_load(st, m->meta.name);
    char *before = json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS);
    const char *phase = phase_of(state);
    if (phase && strcmp(phase, "retraining") == 0) finished_retraining(st, home, m, state);
    else if (phase && strcmp(phase, "canary") == 0 && m->deployment) judge_canary(st, home, m, state);
    char *after = json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS);
    if (strcmp(before, after) != 0) state_save(st, m->meta.name, state); /* no write per tick while waiting */
    free(before);
    free(after);
    json_decref(state);
}
