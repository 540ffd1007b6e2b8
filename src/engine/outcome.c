/* outcome.c — what a step's end means for a run: its metrics.json as metrics,
 * its declared outputs checked, its model registered, retries with backoff,
 * requeueing after preemption, early-stopped trials, and the end of a sweep.
 * Called by the engine (engine.c) on its thread, inside its transaction. */
#include "engine/engine_int.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef engine__engine engine;

/* ---- step outcomes --------------------------------------------------------------- */

/* A metric's value: a number, or the last point of a history (NULL when empty). */
static json_t *last_point(json_t *val) {
    return json_is_array(val) ? json_array_get(val, json_array_size(val) - 1) : val;
}

/* The pipeline's MLflow run gets a step's metrics as series of their own,
 * STEP/KEY with the whole history (a sweep's trials: S/INDEX/KEY), so two steps'
 * `loss` never merge; and, for steps, the pipeline run's summary KEY: one point,
 * the step's last value (where several steps log KEY, the latest logged wins,
 * as MLflow's latest-value rule has it). */
static int track_step_metrics(engine *g, engine__step *s, json_t *root) {
    if (s->trial) return engine__track_metrics(g->st, g->run.id, s->trial->metric_prefix, root, g->e);
    char *prefix = mp_xasprintf("%s/", s->rec.name);
    int rc = engine__track_metrics(g->st, g->run.id, prefix, root, g->e);
    free(prefix);
    if (rc || !json_is_object(root)) return rc;
    json_t *summary = json_object();
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        json_t *last = last_point(val);
        if (last) json_object_set(summary, key, last);
    }
    rc = engine__track_metrics(g->st, g->run.id, NULL, summary, g->e);
    json_decref(summary);
    return rc;
}

/* Records $MLPLANE_OUTPUTS/metrics.json as the step's metrics: a flat object whose
 * values are numbers, or arrays of numbers (a history, one value per step/round,
 * of which the last is the metric's value). */
int engine__record_metrics(engine *g, engine__step *s) {
    char *path = mp_xasprintf("%s/metrics.json", s->rec.outputs_dir);
    char *warning = NULL;
    json_t *root = engine__metrics_load(path, &warning);
    free(path);
    int wrc = warning ? engine__record_event(g, s->rec.name, "MetricsInvalid", warning) : 0;
    free(warning);
    if (wrc) return wrc;
    if (!root) return 0;
    int rc = g->tracked ? track_step_metrics(g, s, root) : 0;
    if (rc == 0 && json_is_object(root)) {
        const char *key;
        json_t *val;
        json_object_foreach(root, key, val) {
            json_t *last = last_point(val);
            double d;
            if (!engine__metric_number(last, &d)) continue;
            store_metric m = {.run_id = g->run.id, .step = s->rec.name, .key = (char *)key, .value = d};
            if ((rc = g->st->m->metric_put(g->st, &m, g->e)) != 0) break;
        }
    }
    json_decref(root);
    return rc;
}

static char *missing_output(const engine__step *s) {
    for (size_t i = 0; i < s->spec->noutputs; i++) {
        char *p = mp_xasprintf("%s/%s", s->rec.outputs_dir, s->spec->outputs[i].path);
        bool ok = mp_path_exists(p);
        free(p);
        if (!ok)
            return mp_xasprintf("declared output \"%s\" (%s) was not produced in $MLPLANE_OUTPUTS", s->spec->outputs[i].name,
                                s->spec->outputs[i].path);
    }
    return NULL;
}

/* Whether the latest version of model holds the same stored bytes as source
 * (a registered model that does not exist yet has no latest version). */
static bool same_as_latest(engine *g, const char *model, const char *source, int64_t *version) {
    store_model_version *v = NULL;
    size_t n = 0;
    mp_err ignored;
    if (g->st->r->version_latest(g->st, model, NULL, 0, &v, &n, &ignored) != 0) return false;
    const store_model_version *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (!best || v[i].version > best->version) best = &v[i];
    bool same = best && best->source && strcmp(best->source, source) == 0;
    if (same) *version = best->version;
    store_model_version_array_free(v, n);
    return same;
}

/* The step's declared outputs become artifacts of the pipeline's MLflow run,
 * STEP/PATH under its artifact URI (mlflow-artifacts:/EXP/RUN/artifacts, i.e.
 * HOME/artifacts/EXP/RUN/artifacts), so artifacts/list and the artifact proxy
 * show them. Hard links: no bytes are copied. A failure is a warning event
 * (ArtifactsNotPublished), never the step's failure. */
int engine__publish_outputs(engine *g, engine__step *s) {
    static const char scheme[] = "mlflow-artifacts:/";
    if (!g->tracked || s->trial || s->spec->noutputs == 0 || !g->o->home) return 0;
    store_track_run r;
    mp_err e;
    memset(&e, 0, sizeof e);
    if (g->st->t->run_get(g->st, g->run.id, &r, &e) != 0) return 0;
    int rc = 0;
    if (r.artifact_uri && mp_str_starts(r.artifact_uri, scheme) && !strstr(r.artifact_uri, "..")) {
        const char *rest = r.artifact_uri + strlen(scheme);
        while (*rest == '/') rest++;
        for (size_t i = 0; i < s->spec->noutputs && rc == 0; i++) {
            const char *rel = s->spec->outputs[i].path;
            char *src = mp_xasprintf("%s/%s", s->rec.outputs_dir, rel);
            char *dst = mp_xasprintf("%s/artifacts/%s/%s/%s", g->o->home, rest, s->rec.name, rel);
            char *dir = mp_path_dir(dst);
            rc = mp_mkdir_p(dir, &e);
            if (rc == 0) rc = mp_link_tree(src, dst, &e);
            free(src);
            free(dst);
            free(dir);
        }
    }
    store_track_run_free(&r);
    if (rc == 0) return 0;
    return engine__record_event(g, s->rec.name, "ArtifactsNotPublished", e.msg);
}

/* register: {model, artifact[, ifChanged]}: the artifact becomes the next version
 * of the model, its file or tree kept in the home's artifact store (store_artstore_put,
 * in the engine's transaction, which records the version); with
 * ifChanged, only when its bytes differ from the latest version's. The version's
 * tag mlplane.trainingData names its training data when the step's command has a
 * .csv input (engine__training_data). */
int engine__register_model(engine *g, engine__step *s) {
    const spec_step *sp = s->spec;
    if (!sp->register_model || !sp->register_artifact || s->trial) return 0; /* a sweep registers its best, once */
    const char *rel = NULL;
    for (size_t i = 0; i < sp->noutputs; i++)
        if (strcmp(sp->outputs[i].name, sp->register_artifact) == 0) rel = sp->outputs[i].path;
    if (!rel) return 0;
    char *produced = mp_xasprintf("%s/%s", s->rec.outputs_dir, rel), *source = NULL;
    int rc = store_artstore_put(g->o->home, produced, &source, g->e);
    free(produced);
    if (rc != 0) return rc;
    int64_t version = 0;
    if (sp->register_if_changed && same_as_latest(g, sp->register_model, source, &version)) {
        char msg[700];
        snprintf(msg, sizeof msg, "model \"%s\" not registered: %s is unchanged since version %lld (register.ifChanged)",
                 sp->register_model, source, (long long)version);
        free(source);
        return engine__record_event(g, s->rec.name, "ModelUnchanged", msg);
    }
    rc = g->st->r->version_register(g->st, sp->register_model, source, g->run.id, &version, g->e);
    char ns[128] = "default"; /* a model still in "default" (new) moves to the pipeline's namespace */
    const char *pns = g->run.namespace_;
    if (rc == 0 && pns && *pns && strcmp(pns, "default") != 0 &&
        g->st->r->model_namespace(g->st, sp->register_model, ns, sizeof ns, g->e) == 0 && strcmp(ns, "default") == 0)
        rc = g->st->r->model_set_namespace(g->st, sp->register_model, pns, g->e);
    char *data = rc == 0 ? engine__training_data(&g->c, s) : NULL;
    if (data) /* what a Monitor of this version compares its requests with */
        rc = g->st->r->version_set_tag(g->st, sp->register_model, version, STORE_TAG_TRAINING_DATA, data, g->e);
    free(data);
    if (rc == 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "model \"%s\" version %lld from %s", sp->register_model, (long long)version, source);
        rc = engine__record_event(g, s->rec.name, "ModelRegistered", msg);
    }
    free(source);
    return rc;
}

int engine__record_inputs(engine *g, const engine__prep *pr) {
    int rc = 0;
    int64_t now = mp_now_ms();
    for (size_t i = 0; i < pr->ninputs && rc == 0; i++) {
        store_step_artifact a = pr->inputs[i];
        a.time_ms = now;
        rc = g->st->m->artifact_put(g->st, &a, g->e);
    }
    return rc;
}

void engine__outs_free(engine__step *s) {
    store_step_artifact_array_free(s->outs, s->nouts);
    s->outs = NULL;
    s->nouts = 0;
    s->outs_hashed = false;
}

void engine__hash_outputs(const engine *g, engine__step *s, const char *dir) {
    engine__outs_free(s);
    s->outs = mp_xcalloc(s->spec->noutputs + 1, sizeof *s->outs);
    s->outs_hashed = true;
    for (size_t i = 0; i < s->spec->noutputs && dir; i++) {
        char *p = mp_xasprintf("%s/%s", dir, s->spec->outputs[i].path);
        char hex[65];
        mp_err e;
        if (!mp_path_exists(p) || store_artstore_digest(p, hex, &e) != 0) {
            free(p);
            continue;
        }
        store_step_artifact *a = &s->outs[s->nouts++];
        a->run_id = mp_xstrdup(g->run.id);
        a->step = mp_xstrdup(s->rec.name);
        a->output = true;
        a->name = mp_xstrdup(s->spec->outputs[i].name);
        a->hash = mp_xstrdup(hex);
        a->path = p;
    }
}

int engine__record_outputs(engine *g, engine__step *s) {
    if (!s->outs_hashed) engine__hash_outputs(g, s, s->rec.outputs_dir); /* not hashed beforehand (a sweep's end) */
    int rc = 0;
    int64_t now = mp_now_ms();
    for (size_t i = 0; i < s->nouts && rc == 0; i++) {
        s->outs[i].time_ms = now;
        rc = g->st->m->artifact_put(g->st, &s->outs[i], g->e);
    }
    engine__outs_free(s);
    return rc;
}

static int step_failed(engine *g, engine__step *s, const char *why) {
    if (g->cancel || s->cancelling) return engine__set_step(g, s, STEP_CANCELLED, "StepCancelled", "cancelled");
    if (s->rec.attempts <= s->spec->retry_limit) {
        double delay = s->spec->backoff_seconds;
        for (int i = 1; i < s->rec.attempts; i++) delay *= 2;
        s->rec.next_attempt_ms = mp_now_ms() + (int64_t)(delay * 1000.0);
        char msg[600];
        snprintf(msg, sizeof msg, "%s; retry %d of %d in %.1fs", why, s->rec.attempts, s->spec->retry_limit, delay);
        return engine__set_step(g, s, STEP_RETRYING, "StepRetrying", msg);
    }
    return engine__set_step(g, s, STEP_FAILED, "StepFailed", why);
}

/* ": LAST LINE" of what the failing worker's attempt wrote to its log, so that a
 * failure's reason is in the step's message ("" when it wrote nothing). */
static void log_reason(const engine__step *s, char *out, size_t n) {
    out[0] = '\0';
    char *rank_log = s->fail_rank > 0 ? mp_xasprintf("%.*s.rank%d.log", (int)strlen(s->rec.log_path) - 4,
                                                     s->rec.log_path, s->fail_rank)
                                      : NULL;
    char *last = engine_log_tail(rank_log ? rank_log : s->rec.log_path, 1, 200);
    if (last) {
        const char *l = last + strspn(last, " ");
        if (mp_str_starts(l, "mlplane: ")) l += 9;
        snprintf(out, n, ": %s", l);
    }
    free(last);
    free(rank_log);
}

int engine__step_exited(engine *g, engine__step *s, const engine__exit *x) {
    s->running = false;
    if (s->spec->nsecret_refs && s->rec.outputs_dir) { /* its secret files go with it */
        char *sd = engine__secrets_dir(s->rec.outputs_dir);
        mp_rm_rf(sd, NULL);
        free(sd);
    }
    s->gpus = 0; /* its row was deleted by decide() */
    s->rec.ended_ms = mp_now_ms();
    s->rec.exit_code = x->exit_code;
    s->rec.pid = 0;
    if (s->trial && s->trial->stopped && !s->cancelling) { /* early stopping: ended, not failed */
        int rc = engine__record_metrics(g, s);
        return rc ? rc : engine__set_step(g, s, STEP_STOPPED, "StepStopped", s->trial->stop_why);
    }
    char why[700];
    if (s->preempting && !g->cancel && !s->cancelling && !s->timed_out) {
        s->preempting = false;
        s->rec.attempts--; /* preemption is not the step's fault: the attempt is not charged */
        snprintf(why, sizeof why, "%s; requeued (attempt not charged)", s->preempt_why ? s->preempt_why : "preempted");
        return engine__set_step(g, s, STEP_PENDING, "StepRequeued", why);
    }
    if (s->timed_out) {
        snprintf(why, sizeof why, "timed out after %ds", s->spec->timeout_seconds);
        return step_failed(g, s, why);
    }
    char reason[256];
    if (x->signal) {
        log_reason(s, reason, sizeof reason);
        snprintf(why, sizeof why, "killed by signal %d (%s)%s", x->signal, strsignal(x->signal), reason);
        return step_failed(g, s, why);
    }
    if (x->exit_code != 0) {
        log_reason(s, reason, sizeof reason);
        snprintf(why, sizeof why, "exited with code %d%s", x->exit_code, reason);
        return step_failed(g, s, why);
    }
    if (s->cancelling) return engine__set_step(g, s, STEP_CANCELLED, "StepCancelled", "cancelled");
    char *miss = missing_output(s);
    if (miss) {
        int rc = step_failed(g, s, miss);
        free(miss);
        return rc;
    }
    int rc = engine__record_metrics(g, s);
    if (rc == 0 && s->spec->cache && s->rec.cache_key) {
        store_cache_entry ce = {.key = s->rec.cache_key, .run_id = g->run.id, .step = s->rec.name,
                                .outputs_dir = s->rec.outputs_dir, .created_ms = mp_now_ms()};
        rc = g->st->m->cache_put(g->st, &ce, g->e);
    }
    if (rc == 0) rc = engine__record_outputs(g, s);
    if (rc == 0) rc = engine__publish_outputs(g, s);
    if (rc == 0) rc = engine__register_model(g, s);
    char dur[32], msg[64];
    mp_format_duration(s->rec.ended_ms - s->rec.started_ms, dur, sizeof dur);
    snprintf(msg, sizeof msg, "completed in %s", dur);
    return rc ? rc : engine__set_step(g, s, STEP_SUCCEEDED, "StepSucceeded", msg);
}

/* ---- sweeps (sweep.c decides; states, events and signals stay here) ----------------- */

/* SweepStarted on the aggregate step when the first trial of its sweep starts. */
int engine__sweep_started(engine *g, engine__step *s) {
    char *msg = engine__sweep_starting(s);
    int rc = msg ? engine__set_step(g, s->trial->agg, STEP_PENDING, "SweepStarted", msg) : 0;
    free(msg);
    return rc;
}

/* Every trial has ended: the aggregate takes the best trial's outputs, or fails. */
int engine__conclude_sweep(engine *g, engine__step *s) {
    engine__sweep_end end;
    int rc = engine__sweep_conclude(g->st, g->run.id, g->tracked, s, &end, g->e);
    bool ok = end.state == STEP_SUCCEEDED;
    if (rc == 0 && end.best_event) rc = engine__record_event(g, s->rec.name, "SweepBestTrial", end.best_event);
    if (rc == 0 && ok) rc = engine__record_metrics(g, s); /* the best trial's metrics.json, as S's */
    if (rc == 0 && ok) rc = engine__record_outputs(g, s);
    if (rc == 0 && ok) rc = engine__register_model(g, s);
    if (rc == 0) rc = engine__set_step(g, s, end.state, ok ? "StepSucceeded" : "StepFailed", end.msg);
    engine__sweep_end_free(&end);
    return rc;
}


/* Trials the median stopping rule ends: recorded (own commit), then SIGTERM. */
void engine__stop_early(engine *g) {
    engine__step **stop = NULL;
    size_t n = engine__sweep_poll(g->steps, g->n, mp_mono_ms(), &stop);
    for (size_t i = 0; i < n; i++) {
        engine__record_now(g, stop[i]->rec.name, "TrialEarlyStopped", stop[i]->trial->stop_why);
        engine__flush_events(g);
        stop[i]->kill_at = mp_mono_ms() + g->grace_ms;
        engine__signal_step(g, stop[i], SIGTERM);
    }
    free(stop);
}
