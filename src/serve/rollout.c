/* rollout.c — a Deployment's status and split from outside its process, for
 * `mlplane rollout`, `mlplane get deployments`, `mlplane describe deployment`
 * and the server's /api/v1: the live status from the running deployment's GET
 * /admin/rollout (found through HOME/serving/NAME/router.json), else what the
 * store holds; with its state (kubectl-like: Starting, Running,
 * CrashLoopBackOff, Stopped), replicas ready of desired, restarts, last error
 * and events as mlplane server's fleet recorded them (fleet.c); and a new
 * canary percent, committed to the store first, then told to the running
 * deployment (POST /admin/rollout/reload). Reentrant; the store handle is the
 * caller's, used on the caller's thread. */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/router_int.h"
#include "store/store.h"

/* ---- the running deployment's admin endpoint ------------------------------------------ */

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
    mp_buf_append(ud, p, size * n);
    return size * n;
}

json_t *serve__http_json(const char *url, const char *method, const char *path, const char *bearer, mp_err *e) {
    CURL *c = curl_easy_init();
    if (!c) {
        mp_err_set(e, MP_EIO, "cannot make an HTTP client");
        return NULL;
    }
    char *full = mp_xasprintf("%s%s", url, path);
    mp_buf b;
    mp_buf_init(&b);
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *hs = NULL;
    char *auth = bearer ? mp_xasprintf("Authorization: Bearer %s", bearer) : NULL;
    if (auth) {
        hs = curl_slist_append(NULL, auth);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hs);
    if (auth) {
        sodium_memzero(auth, strlen(auth));
        free(auth);
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    json_t *v = NULL;
    if (rc != CURLE_OK)
        mp_err_set(e, MP_EIO, "%s %s: %s", method, full, ebuf[0] ? ebuf : curl_easy_strerror(rc));
    else if (!(v = json_loadb(b.data ? b.data : "", b.len, 0, NULL)) || status != 200) {
        const char *why = json_string_value(json_object_get(v, "error"));
        mp_err_set(e, MP_EIO, "%s %s answered %ld: %s", method, full, status, why ? why : "not JSON");
        json_decref(v);
        v = NULL;
    }
    mp_buf_free(&b);
    free(full);
    curl_easy_cleanup(c);
    return v;
}

/* The status from the store alone: the spec's versions and the recorded percent. */
static json_t *stored_status(store *st, const char *name, mp_err *e) {
    spec_file *f = NULL;
    const spec_deployment *d = NULL;
    if (serve_deploy_load(st, name, &f, &d, e) != 0) return NULL;
    int percent = d->canary.set ? d->canary.percent : 0;
    bool found = false;
    int recorded = 0;
    if (st->o->rollout_get(st, name, &recorded, &found, e) != 0) {
        spec_file_free(f);
        return NULL;
    }
    if (found) percent = recorded;
    json_t *tracks = json_array();
    const spec_model_version *mv[3] = {&d->version, d->canary.set ? &d->canary.target : NULL,
                                       d->shadow.set ? &d->shadow.target : NULL};
    static const char *const names[3] = {"stable", "canary", "shadow"};
    for (int t = 0; t < 3; t++) {
        if (!mv[t]) continue;
        char v[280];
        if (mv[t]->alias) snprintf(v, sizeof v, "@%s", mv[t]->alias);
        else snprintf(v, sizeof v, "%lld", (long long)mv[t]->version);
        json_t *o = json_pack("{s:s,s:s,s:s}", "track", names[t], "version", v, "named", v);
        if (t == 0) json_object_set_new(o, "percent", json_integer(d->canary.set ? 100 - percent : 100));
        else if (t == 1) json_object_set_new(o, "percent", json_integer(percent));
        else json_object_set_new(o, "sampleRate", json_real(d->shadow.sample_rate));
        json_array_append_new(tracks, o);
    }
    json_t *v = json_pack("{s:s,s:s,s:n,s:o,s:s?,s:s}", "deployment", name, "model", d->model, "url", "tracks", tracks,
                          "stickyHeader", d->sticky_header, "percentFrom", found ? "rollout" : "spec");
    spec_file_free(f);
    return v;
}

/* ---- its state: the fleet's record, and whether it runs -------------------------------- */

/* Replicas desired by the spec over its tracks, for a deployment that does not run. */
static int spec_desired(store *st, const char *name) {
    spec_file *f = NULL;
    const spec_deployment *d = NULL;
    mp_err e = {0};
    if (serve_deploy_load(st, name, &f, &d, &e) != 0) return 0;
    serve_autoscale_cfg cfg;
    serve_autoscale_cfg_from_spec(d, &cfg);
    int tracks = 1 + d->canary.set + d->shadow.set;
    spec_file_free(f);
    return cfg.min_replicas * tracks;
}

static json_t *state_json(const char *state, const char *message, const store_deploy_state *rec, bool found,
                         int ready, int desired, int64_t applied_ms) {
    json_t *s = json_pack("{s:s,s:i,s:i,s:i,s:s?,s:s?}", "state", state, "ready", ready, "desired", desired,
                          "restarts", found ? rec->restarts : 0, "message", message, "lastError",
                          found ? rec->last_error : NULL);
    if (applied_ms) json_object_set_new(s, "appliedMs", json_integer(applied_ms));
    if (found && rec->pid > 0 && rec->started_ms) json_object_set_new(s, "startedMs", json_integer(rec->started_ms));
    if (found && rec->owner_pid > 0) json_object_set_new(s, "serverPid", json_integer(rec->owner_pid));
    return s;
}

/* Adds "status" to v (a deployment's status, live when live), and "events"
 * when events is true. */
static int add_state(store *st, const char *name, int64_t applied_ms, json_t *v, bool live, bool events, mp_err *e) {
    store_deploy_state rec;
    bool found = false;
    if (st->o->deploy_state_get(st, name, &rec, &found, e) != 0) return MP_ESTORE;
    int ready = 0, desired = 0;
    size_t i;
    json_t *tr;
    json_array_foreach(json_object_get(v, "tracks"), i, tr) {
        ready += (int)json_integer_value(json_object_get(tr, "ready"));
        desired += (int)json_integer_value(json_object_get(tr, "desired"));
    }
    if (!live) desired = spec_desired(st, name);
    bool supervised = found && mp_proc_alive(rec.owner_pid, rec.owner_start);
    const char *state, *message;
    char gone[200];
    if (supervised) { /* as mlplane server's fleet last recorded it */
        state = rec.state;
        message = rec.message;
    } else if (live) { /* run by `mlplane serve deployment/NAME` itself */
        state = "Running";
        message = NULL;
    } else {
        state = "Stopped";
        if (found && strcmp(rec.state, "Stopped") == 0) {
            message = rec.message;
        } else if (found) {
            snprintf(gone, sizeof gone, "the mlplane server that ran it (pid %d) is gone", rec.owner_pid);
            message = gone;
        } else {
            message = "not running: mlplane server runs every applied Deployment (or mlplane serve deployment/NAME)";
        }
    }
    json_object_set_new(v, "status", state_json(state, message, &rec, found, ready, desired, applied_ms));
    store_deploy_state_free(&rec);
    if (!events) return 0;
    store_deploy_event *evs = NULL;
    size_t n = 0;
    if (st->o->deploy_event_list(st, name, &evs, &n, e) != 0) return MP_ESTORE;
    json_t *arr = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:I,s:I}", "type", evs[k].type, "message", evs[k].message,
                                             "count", evs[k].count, "firstMs", (json_int_t)evs[k].first_ms, "lastMs",
                                             (json_int_t)evs[k].last_ms));
    store_deploy_event_array_free(evs, n);
    json_object_set_new(v, "events", arr);
    return 0;
}

/* One deployment's status (applied at applied_ms), its state, and with events its events. */
static json_t *status_one(store *st, const char *home, const char *name, int64_t applied_ms, bool events, char *warn,
                          size_t warnn, mp_err *e) {
    char *url = NULL;
    json_t *v = NULL;
    int pid = 0;
    if (serve_deploy_running(home, name, &url, &pid)) {
        char *cred = serve_admin_credential_read(home);
        v = serve__http_json(url, "GET", "/admin/rollout", cred, e);
        if (cred) {
            sodium_memzero(cred, strlen(cred));
            free(cred);
        }
        if (!v && warn) /* it runs but did not answer (starting, stopping): say so, then show what the store holds */
            snprintf(warn, warnn, "deployment %s runs (pid %d) but did not answer: %s; showing the store's view", name,
                     pid, e->msg);
    }
    free(url);
    bool live = v != NULL;
    if (!v) v = stored_status(st, name, e);
    if (v && add_state(st, name, applied_ms, v, live, events, e) != 0) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

json_t *serve_deploy_status_of(store *st, const char *home, const char *name, char *warn, size_t warnn, mp_err *e) {
    store_object *objs = NULL;
    size_t n = 0;
    if (st->o->object_list(st, &objs, &n, e) != 0) return NULL;
    int64_t applied_ms = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(objs[i].kind, "Deployment") == 0 && strcmp(objs[i].name, name) == 0) applied_ms = objs[i].applied_ms;
    store_object_array_free(objs, n);
    return status_one(st, home, name, applied_ms, true, warn, warnn, e);
}

json_t *serve_deploy_status_all(store *st, const char *home, mp_err *e) {
    store_object *objs = NULL;
    size_t n = 0;
    if (st->o->object_list(st, &objs, &n, e) != 0) return NULL;
    json_t *all = json_array();
    for (size_t i = 0; i < n && all; i++) {
        if (strcmp(objs[i].kind, "Deployment") != 0) continue;
        json_t *v = status_one(st, home, objs[i].name, objs[i].applied_ms, false, NULL, 0, e);
        if (!v) {
            json_decref(all);
            all = NULL;
        } else {
            json_array_append_new(all, v);
        }
    }
    store_object_array_free(objs, n);
    return all;
}

int serve_deploy_set_percent(store *st, const char *home, const char *name, int percent, serve_rollout_result *out,
                             mp_err *e) {
    memset(out, 0, sizeof *out);
    out->percent = percent;
    if (percent < 0 || percent > 100) return mp_err_set(e, MP_EINVAL, "the canary's percent must be 0 to 100, got %d", percent);
    spec_file *f = NULL;
    const spec_deployment *d = NULL;
    int rc = serve_deploy_load(st, name, &f, &d, e);
    if (rc == 0 && !d->canary.set)
        rc = mp_err_set(e, MP_EINVAL, "Deployment \"%s\" has no canary to %s: give it spec.canary and apply it again", name,
                        percent == 0 ? "rollback" : "promote");
    bool found = false;
    if (rc == 0) rc = st->o->rollout_get(st, name, &out->was, &found, e);
    if (rc == 0 && !found) out->was = d->canary.percent;
    if (rc == 0) {
        if (d->canary.target.alias) snprintf(out->canary, sizeof out->canary, "@%s", d->canary.target.alias);
        else snprintf(out->canary, sizeof out->canary, "%lld", (long long)d->canary.target.version);
        rc = st->m->begin(st, e);
    }
    if (rc == 0) {
        rc = st->o->rollout_set(st, name, percent, e);
        if (rc == 0) rc = st->m->commit(st, e);
        else st->m->rollback(st);
    }
    spec_file_free(f);
    if (rc != 0) return rc;
    char *url = NULL;
    out->running = serve_deploy_running(home, name, &url, NULL);
    if (out->running) {
        mp_err pe = {0};
        char *cred = serve_admin_credential_read(home);
        json_t *v = serve__http_json(url, "POST", "/admin/rollout/reload", cred, &pe);
        if (cred) {
            sodium_memzero(cred, strlen(cred));
            free(cred);
        }
        out->told = v != NULL;
        if (!v) snprintf(out->why, sizeof out->why, "%s", pe.msg);
        json_decref(v);
    }
    free(url);
    return 0;
}
