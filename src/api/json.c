/* json.c — JSON views of store records: runs, steps, events. One definition
 * shared by the HTTP API (/api/v1) and the CLI's -o json|yaml, so that both
 * print the same field names. Pure functions over records; reentrant. */
#include "track/track.h"
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static json_t *time_json(int64_t ms) {
    if (ms <= 0) return json_null();
    char buf[40];
    mp_format_time(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *str_json(const char *s) {
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_null(); /* NULL also for text that is not UTF-8 */
}

bool api_step_done(const store_step *s) {
    return s->state == STEP_SUCCEEDED || s->state == STEP_CACHED || s->state == STEP_STOPPED;
}

char *api_params_text(const json_t *params) {
    mp_buf b;
    mp_buf_init(&b);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
        mp_buf_printf(&b, "%s%s=%s", b.len ? ", " : "", k, json_is_string(v) ? json_string_value(v) : "?");
    return mp_buf_steal(&b);
}

const char *api_run_state_shown(const store_run *r) {
    /* not ended, and no live process drives it: it waits for `mlplane resume` */
    if (!store_run_state_final(r->state) && !engine_owner_alive(r)) return "Interrupted";
    return store_run_state_name(r->state);
}

json_t *api_run_json(const store_run *r, const store_step *steps, size_t n) {
    json_t *o = json_object();
    json_object_set_new(o, "id", str_json(r->id));
    json_object_set_new(o, "pipeline", str_json(r->pipeline));
    json_object_set_new(o, "namespace", str_json(r->namespace_));
    json_object_set_new(o, "state", json_string(api_run_state_shown(r)));
    json_error_t je;
    json_t *labels = r->labels_json ? json_loads(r->labels_json, 0, &je) : NULL;
    if (!json_is_object(labels)) {
        json_decref(labels);
        labels = json_object(); /* a run recorded before labels were stored has none */
    }
    json_object_set_new(o, "labels", labels);
    json_t *params = r->params_json ? json_loads(r->params_json, 0, &je) : NULL;
    json_object_set_new(o, "params", params ? params : json_object());
    json_object_set_new(o, "created", time_json(r->created_ms));
    json_object_set_new(o, "started", time_json(r->started_ms));
    json_object_set_new(o, "ended", time_json(r->ended_ms));
    int64_t end = r->ended_ms ? r->ended_ms : mp_now_ms();
    json_object_set_new(o, "duration_ms", r->started_ms ? json_integer(end - r->started_ms) : json_null());
    json_object_set_new(o, "message", str_json(r->message));
    json_object_set_new(o, "spec_path", str_json(r->spec_path));
    json_object_set_new(o, "parallel", json_integer(r->parallel));
    if (steps) {
        int ok = 0;
        for (size_t i = 0; i < n; i++) ok += api_step_done(&steps[i]);
        json_object_set_new(o, "steps_total", json_integer((json_int_t)n));
        json_object_set_new(o, "steps_done", json_integer(ok));
    }
    return o;
}

json_t *api_step_json(const store_step *s, const store_metric *m, size_t nm) {
    json_t *o = json_object();
    json_object_set_new(o, "name", str_json(s->name));
    json_object_set_new(o, "state", json_string(store_step_state_name(s->state)));
    json_object_set_new(o, "attempts", json_integer(s->attempts));
    json_object_set_new(o, "exit_code", s->exit_code >= 0 ? json_integer(s->exit_code) : json_null());
    json_object_set_new(o, "started", time_json(s->started_ms));
    json_object_set_new(o, "ended", time_json(s->ended_ms));
    int64_t end = s->ended_ms ? s->ended_ms : mp_now_ms();
    json_object_set_new(o, "duration_ms", s->started_ms ? json_integer(end - s->started_ms) : json_null());
    json_object_set_new(o, "cached_from", str_json(s->cached_from));
    json_object_set_new(o, "cache_key", str_json(s->cache_key));
    json_object_set_new(o, "outputs_dir", str_json(s->outputs_dir));
    json_object_set_new(o, "log", str_json(s->log_path));
    json_object_set_new(o, "message", str_json(s->message));
    json_error_t je;
    json_t *params = s->params_json ? json_loads(s->params_json, 0, &je) : NULL;
    json_object_set_new(o, "params", params ? params : json_null());
    json_t *mj = json_object();
    for (size_t i = 0; i < nm; i++)
        if (m[i].step && m[i].key && s->name && strcmp(m[i].step, s->name) == 0)
            json_object_set_new(mj, m[i].key, track_double_json(m[i].value));
    json_object_set_new(o, "metrics", mj);
    return o;
}

void api_step_add_log_tail(json_t *o, const store_step *s) {
    if (s->state != STEP_FAILED && s->state != STEP_RETRYING) return;
    char *tail = engine_log_tail(s->log_path, API_LOG_TAIL_LINES, API_LOG_TAIL_WIDTH);
    if (!tail) return;
    json_t *arr = json_array();
    for (char *line = tail, *nl; line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        json_array_append_new(arr, str_json(line));
    }
    json_object_set_new(o, "log_tail", arr);
    free(tail);
}

json_t *api_event_json(const store_event *ev) {
    json_t *o = json_object();
    json_object_set_new(o, "time", time_json(ev->time_ms));
    json_object_set_new(o, "step", str_json(ev->step));
    json_object_set_new(o, "type", str_json(ev->type));
    json_object_set_new(o, "message", str_json(ev->message));
    json_object_set_new(o, "id", json_integer(ev->id));
    return o;
}

int api_run_describe_json(store *st, const store_run *r, const store_step *steps, size_t nsteps,
                          const store_metric *metrics, size_t nmetrics, int64_t events_after, json_t **out, mp_err *e) {
    *out = NULL;
    /* Events are read after the run: a final state read before comes with all its events. */
    store_event *evs = NULL;
    size_t nev = 0;
    int rc = st->m->event_list(st, r->id, events_after, &evs, &nev, e);
    if (rc != 0) return rc;
    json_t *o = api_run_json(r, steps, nsteps);
    json_t *arr = json_array();
    for (size_t i = 0; i < nsteps; i++) {
        json_t *sj = api_step_json(&steps[i], metrics, nmetrics);
        api_step_add_log_tail(sj, &steps[i]);
        json_array_append_new(arr, sj);
    }
    json_object_set_new(o, "steps", arr);
    json_t *ea = json_array();
    for (size_t i = 0; i < nev; i++) json_array_append_new(ea, api_event_json(&evs[i]));
    json_object_set_new(o, "events", ea);
    store_event_array_free(evs, nev);
    *out = o;
    return 0;
}
