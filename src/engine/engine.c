/* engine.c — drives one run to its end.
 *
 * The loop, on the calling thread:
 *   1. wait (bounded) for steps to end;
 *   2. prepare the steps that can start (templates, env, cache key: file reads,
 *      outside any transaction);
 *   3. in ONE transaction: record ended steps, retries, timeouts, cancellation,
 *      cache hits, upstream skips, steps about to start, and the run's end;
 *   4. after the commit: tell observers, then act (spawn, signal).
 * So a state is always committed before it is acted on or reported, and one
 * commit covers every change of an iteration (which keeps the store fast when
 * many short steps run).
 * Capacity: at most `parallel` steps run at once; a step that asks for resources
 * or several workers starts only once the scheduler admitted it (admission.c:
 * priorities, quotas, placement on the nodes, preemption); one asked to yield is
 * stopped and requeued. outcome.c records what a step's end means; workers.c
 * runs its processes.
 * Sweeps: a trial S[i] is an ordinary step; sweep.c says when it may start
 * (maxParallel) or must stop early, and what the aggregate step S becomes once
 * every trial has ended (the hooks are marked "sweep"). */
#include "engine/engine_int.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef engine__engine engine;
typedef engine__pending_ev pending_ev;

/* ---- recording ----------------------------------------------------------------- */

static void queue_ev(engine *g, const char *step, const char *type, const char *msg) {
    if (g->nevs == g->capevs) {
        g->capevs = g->capevs ? g->capevs * 2 : 16;
        g->evs = mp_xrealloc(g->evs, g->capevs * sizeof *g->evs);
    }
    g->evs[g->nevs++] = (pending_ev){mp_xstrdup(step), mp_xstrdup(type), mp_xstrdup(msg)};
}

int engine__record_event(engine *g, const char *step, const char *type, const char *msg) {
    store_event ev = {.run_id = g->run.id, .step = (char *)step, .type = (char *)type, .message = (char *)msg};
    int rc = g->st->m->event_append(g->st, &ev, g->e);
    if (rc == 0) queue_ev(g, step, type, msg);
    return rc;
}

/* Opens the engine's transaction. A run that was acknowledged must finish, so
 * when other writers hold the store's write lock past the busy timeout (very
 * many runs sharing one store on a loaded machine) the engine waits again, saying
 * so once on its output, instead of giving up on the run, up to
 * SCHED_BEGIN_WAIT_MS in all; then the run stops with an error that says so (its
 * state is as last committed, and `mlplane resume` goes on from there). */
#define SCHED_BEGIN_WAIT_MS (10 * 60 * 1000)
int engine__begin(engine *g) {
    int rc;
    int64_t first = 0;
    while ((rc = g->st->m->begin(g->st, g->e)) == MP_EBUSY) {
        int64_t now = mp_mono_ms();
        if (!first) {
            first = now;
            fprintf(stderr, "mlplane: run %s: the store's write lock is busy (%s); waiting for it\n", g->run.id, g->e->msg);
        } else if (now - first >= SCHED_BEGIN_WAIT_MS) {
            char why[sizeof g->e->msg];
            snprintf(why, sizeof why, "%s", g->e->msg);
            return mp_err_set(g->e, MP_EBUSY,
                              "the store's write lock stayed busy for %d minutes (another process holds it: %s); "
                              "find that process, then finish the run with `mlplane resume %s`",
                              SCHED_BEGIN_WAIT_MS / 60000, why, g->run.id);
        }
    }
    return rc;
}

/* Records one event in its own transaction (waiting for the write lock as
 * engine__begin does), for what is recorded and then acted on outside the loop's
 * transaction. */
int engine__record_now(engine *g, const char *step, const char *type, const char *msg) {
    int rc = engine__begin(g);
    if (rc) return rc;
    rc = engine__record_event(g, step, type, msg);
    if (rc == 0) return g->st->m->commit(g->st, g->e);
    g->st->m->rollback(g->st);
    return rc;
}

/* Moves step s to state (in the open transaction) with an event of type. */
int engine__set_step(engine *g, engine__step *s, int state, const char *type, const char *msg) {
    if (s->rec.state != state && !store_step_transition_ok(s->rec.state, state))
        return mp_err_set(g->e, MP_EINTERNAL, "step \"%s\": illegal transition %s -> %s", s->rec.name,
                          store_step_state_name(s->rec.state), store_step_state_name(state));
    s->rec.state = state;
    free(s->rec.message);
    s->rec.message = mp_xstrdup(msg);
    int rc = g->st->m->step_update(g->st, &s->rec, g->e);
    if (rc == 0) rc = engine__record_event(g, s->rec.name, type, msg);
    return rc;
}

static int set_run(engine *g, int state, const char *type, const char *msg) {
    if (g->run.state != state && !store_run_transition_ok(g->run.state, state))
        return mp_err_set(g->e, MP_EINTERNAL, "run %s: illegal transition %s -> %s", g->run.id,
                          store_run_state_name(g->run.state), store_run_state_name(state));
    g->run.state = state;
    if (store_run_state_final(state)) g->run.ended_ms = mp_now_ms();
    if (g->tracked) {
        int trc = engine__track_finish(g->st, g->run.id, state, g->run.ended_ms, g->e);
        if (trc) return trc;
    }
    free(g->run.message);
    g->run.message = mp_xstrdup(msg);
    int rc = g->st->m->run_update(g->st, &g->run, g->e);
    if (rc == 0) rc = engine__record_event(g, NULL, type, msg);
    return rc;
}

static void refresh_views(engine *g) {
    for (size_t i = 0; i < g->n; i++) {
        store_step *r = &g->steps[i].rec;
        g->views[i] = (engine_step_view){.name = r->name,
                                        .state = r->state,
                                        .attempts = r->attempts,
                                        .exit_code = r->exit_code,
                                        .started_ms = r->started_ms,
                                        .ended_ms = r->ended_ms,
                                        .cached = r->cached_from != NULL,
                                        .message = r->message};
    }
}

void engine__flush_events(engine *g) {
    const engine_observer *obs = g->o->obs;
    if (obs && obs->on_event && g->nevs) {
        refresh_views(g);
        engine_view v = {.run_id = g->run.id, .run_state = g->run.state, .steps = g->views, .nsteps = g->n};
        for (size_t i = 0; i < g->nevs; i++) obs->on_event(obs->ud, &v, g->evs[i].step, g->evs[i].type, g->evs[i].msg);
    }
    for (size_t i = 0; i < g->nevs; i++) {
        free(g->evs[i].step);
        free(g->evs[i].type);
        free(g->evs[i].msg);
    }
    g->nevs = 0;
}

/* Whether a step goes through admission: one that asks for no resource and is
 * one worker holds nothing (Kubernetes' BestEffort) and is limited only by
 * `parallel`. */
bool engine__needs_admission(const engine__step *s) {
    const spec_resources *r = &s->spec->resources;
    return r->cpu_milli > 0 || r->memory_bytes > 0 || r->gpu > 0 || r->nextended > 0 || s->spec->parallelism > 1;
}

/* ---- readiness -------------------------------------------------------------------- */

engine__step *engine__step_by_name(engine *g, const char *name) {
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->steps[i].rec.name, name) == 0) return &g->steps[i];
    return NULL;
}

static bool dep_ok(const engine__step *d) {
    return d->rec.state == STEP_SUCCEEDED || d->rec.state == STEP_CACHED;
}

static bool dep_blocks(const engine__step *d) {
    return d->rec.state == STEP_FAILED || d->rec.state == STEP_CANCELLED || d->rec.state == STEP_SKIPPED;
}

/* 1: ready; 0: waiting; -1: can never run (the blocking dependency in *blocker). */
static int readiness(engine *g, engine__step *s, const char **blocker) {
    if (s->rec.state != STEP_PENDING && s->rec.state != STEP_RETRYING) return 0;
    int ready = 1;
    for (size_t i = 0; i < s->spec->ndepends; i++) {
        engine__step *d = engine__step_by_name(g, s->spec->depends_on[i]);
        if (!d) continue;
        if (dep_blocks(d)) {
            *blocker = d->rec.name;
            return -1;
        }
        if (!dep_ok(d)) ready = 0;
    }
    if (ready && s->sweep && !engine__sweep_trials_ended(s)) ready = 0; /* a sweep waits for its trials */
    if (ready && s->rec.state == STEP_RETRYING && s->rec.next_attempt_ms > mp_now_ms()) return 0;
    return ready;
}

/* Records why a ready step is not admitted (in the open transaction), once per
 * reason, so `get steps` and `describe` say so. */
static int note_waiting(engine *g, engine__step *s, const char *type, const char *why) {
    if (s->waiting && s->rec.message && strcmp(s->rec.message, why) == 0) return 0;
    s->waiting = true;
    free(s->rec.message);
    s->rec.message = mp_xstrdup(why);
    int rc = g->st->m->step_update(g->st, &s->rec, g->e);
    if (rc == 0) rc = engine__record_event(g, s->rec.name, type, why);
    return rc;
}

/* ---- the loop ---------------------------------------------------------------------- */

enum { ADMISSION_NONE = 0, ADMISSION_ENQUEUE, ADMISSION_PENDING, ADMISSION_ADMITTED };

/* What the loop does with a ready step. */
typedef enum start_kind {
    START_SPAWN = 0, /* start it (once admitted, when it needs admission) */
    START_CACHED,    /* a cache hit: its outputs are reused */
    START_CANNOT,    /* it cannot start (prep.error says why): it fails */
    START_UNKNOWN,   /* names that resolve to nothing applied: it waits */
} start_kind;

typedef struct start_item {
    engine__step *s;
    int adm;               /* ADMISSION_*: where its admission stands (ADMISSION_NONE: it needs none) */
    const store_workload *row; /* its workload row (in g->own) when ADMISSION_PENDING or ADMISSION_ADMITTED */
    engine__prep prep;
    start_kind kind;
    store_cache_entry hit;
} start_item;

static bool cache_hit_usable(const engine__step *s, const store_cache_entry *ce) {
    if (!ce->outputs_dir || !mp_is_dir(ce->outputs_dir)) return false;
    for (size_t i = 0; i < s->spec->noutputs; i++) {
        char *p = mp_xasprintf("%s/%s", ce->outputs_dir, s->spec->outputs[i].path);
        bool ok = mp_path_exists(p);
        free(p);
        if (!ok) return false;
    }
    return true;
}

/* Appends text to the step's log (its folder made when needed): why it did not start. */
static void write_report(const engine__step *s, const char *text) {
    if (!s->rec.log_path) return;
    char *dir = mp_path_dir(s->rec.log_path);
    mp_mkdir_p(dir, NULL);
    free(dir);
    FILE *f = fopen(s->rec.log_path, "a");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static int apply_start(engine *g, start_item *it) {
    engine__step *s = it->s;
    if (it->kind == START_UNKNOWN) return 0; /* its names resolve to nothing applied: it waits */
    int src = engine__sweep_started(g, s);
    if (src) return src;
    if (it->kind == START_CANNOT) {
        s->rec.attempts++;
        s->rec.started_ms = s->rec.ended_ms = mp_now_ms();
        s->rec.exit_code = -1;
        if (it->prep.report) write_report(s, it->prep.report);
        /* Retrying cannot fix a missing input, a bad template or data that breaks its expectations. */
        return engine__set_step(g, s, STEP_FAILED, it->prep.reason ? it->prep.reason : "StepFailed", it->prep.error);
    }
    if (it->kind == START_CACHED) {
        free(s->rec.cache_key);
        s->rec.cache_key = mp_xstrdup(it->hit.key);
        free(s->rec.cached_from);
        s->rec.cached_from = mp_xstrdup(it->hit.run_id);
        free(s->rec.outputs_dir);
        s->rec.outputs_dir = mp_xstrdup(it->hit.outputs_dir);
        s->rec.started_ms = s->rec.ended_ms = mp_now_ms();
        char msg[300];
        snprintf(msg, sizeof msg, "cache hit: reusing the outputs of run %s", it->hit.run_id);
        int rc = engine__record_metrics(g, s); /* the reused outputs' metrics.json: the hit's metrics */
        if (rc == 0 && g->tracked) { /* MLflow tag mlplane.cached.STEP = the run whose outputs were reused */
            char *key = mp_xasprintf("mlplane.cached.%s", s->rec.name);
            store_kv tag = {key, it->hit.run_id};
            rc = g->st->t->log_batch(g->st, g->run.id, NULL, 0, NULL, 0, &tag, 1, g->e);
            free(key);
        }
        if (rc == 0) rc = engine__record_inputs(g, &it->prep);
        if (rc == 0) rc = engine__record_outputs(g, s);
        if (rc == 0) rc = engine__publish_outputs(g, s);
        if (rc == 0) rc = engine__register_model(g, s);
        return rc ? rc : engine__set_step(g, s, STEP_CACHED, "StepCached", msg);
    }
    /* Admission was decided by the scheduler (admission.c) into the step's row. */
    free(s->nodes);
    s->nodes = NULL;
    s->gpus = 0;
    if (it->adm == ADMISSION_PENDING || it->adm == ADMISSION_ENQUEUE) {
        const char *why = it->row && it->row->reason ? it->row->reason : SCHED_WHY_QUEUED;
        return note_waiting(g, s, sched_why_is(why, SCHED_WAIT_PREEMPTION) ? "StepPreempting" : "StepWaiting", why);
    }
    if (it->adm == ADMISSION_ADMITTED) {
        s->gpus = it->row->gpu_devices;
        s->nodes = it->row->nodes ? mp_xstrdup(it->row->nodes) : NULL;
        int rc = engine__record_event(g, s->rec.name, "StepAdmitted", it->row->reason ? it->row->reason : "admitted");
        if (rc) return rc;
    }
    s->waiting = false;
    s->rec.attempts++;
    s->rec.started_ms = mp_now_ms();
    s->rec.ended_ms = 0;
    s->rec.exit_code = -1;
    free(s->rec.cache_key);
    s->rec.cache_key = mp_xstrdup(it->prep.cache_key);
    char msg[64];
    snprintf(msg, sizeof msg, "attempt %d", s->rec.attempts);
    int rc = engine__record_inputs(g, &it->prep);
    return rc ? rc : engine__set_step(g, s, STEP_RUNNING, "StepRunning", msg);
}

static void poll_cancel(engine *g) {
    if (g->o->interrupted && *g->o->interrupted && !g->cancel) {
        /* Record the request before any step is signalled because of it. */
        g->cancel = true;
        g->run.cancel_requested = true;
        if (engine__begin(g) == 0) {
            if (g->st->m->run_update(g->st, &g->run, g->e) == 0 &&
                engine_event(g->st, g->run.id, NULL, "CancelRequested", "interrupted by a signal", g->e) == 0)
                g->st->m->commit(g->st, g->e);
            else
                g->st->m->rollback(g->st);
        }
    }
    int64_t now = mp_mono_ms();
    if (g->cancel || now - g->last_cancel_poll < 250) return;
    g->last_cancel_poll = now;
    store_run r = {0};
    if (g->st->m->run_get(g->st, g->run.id, &r, NULL) == 0 && r.cancel_requested) g->cancel = true;
    store_run_free(&r);
}

static int running_count(engine *g) {
    int n = 0;
    for (size_t i = 0; i < g->n; i++)
        if (g->steps[i].running) n++;
    return n;
}

/* Reads this run's workload rows and points each admission item at its own. */
static int read_own(engine *g, start_item *items, size_t nitems) {
    store_workload_array_free(g->own, g->nown);
    g->own = NULL;
    g->nown = 0;
    int rc = g->st->w->workload_list_run(g->st, g->run.id, &g->own, &g->nown, g->e);
    for (size_t i = 0; i < nitems && rc == 0; i++) {
        start_item *it = &items[i];
        if (it->kind != START_SPAWN || it->adm == ADMISSION_NONE) continue;
        it->row = NULL;
        it->adm = ADMISSION_ENQUEUE;
        for (size_t k = 0; k < g->nown && !it->row; k++)
            if (strcmp(g->own[k].step, it->s->rec.name) == 0) it->row = &g->own[k];
        if (it->row) it->adm = it->row->pending ? ADMISSION_PENDING : ADMISSION_ADMITTED;
    }
    return rc;
}

/* In the transaction: when this process holds (or can take) the scheduler lease,
 * one cycle for every run; then this run's rows again, as decided. */
static int schedule(engine *g, start_item *items, size_t nitems) {
    bool held = false;
    int rc = g->st->w->lease_take(g->st, g->run.owner_pid, g->run.owner_start, mp_now_ms(), mp_proc_alive, &held, g->e);
    g->lease_held = held;
    if (rc == 0 && held) {
        g->last_dv = g->st->m->data_version(g->st);
        g->last_sched = mp_mono_ms();
        rc = sched_schedule(&g->q, g->st, mp_now_ms(), g->e);
    }
    return rc ? rc : read_own(g, items, nitems);
}

/* Whether the scheduler's cycle is due: for the lease holder when another
 * process changed the store or a second passed (decisions depend on time:
 * reservations, owners that died); for others, every second, whether the lease
 * is free to take (its holder ended or died). */
static bool duty_due(engine *g, bool any_adm) {
    int64_t now = mp_mono_ms();
    if (g->lease_held) return g->st->m->data_version(g->st) != g->last_dv || now - g->last_sched >= 1000;
    if (!any_adm || now - g->last_lease_check < 1000) return false;
    g->last_lease_check = now;
    return true;
}

/* One transaction's worth of decisions. Fills starts[] with steps to spawn after
 * the commit and sigs[] with signals to send. Returns 1 when the run has ended. */
static int decide(engine *g, engine__exit *exits, engine__step **ended, size_t nexits, start_item *items, size_t nitems,
                  bool duty, int *rc) {
    /* Admission first: the steps that ended in this iteration no longer hold
     * anything once their end is recorded below, in the same transaction. */
    bool changed = false;
    for (size_t i = 0; i < nexits && *rc == 0; i++)
        if (ended[i] && engine__needs_admission(ended[i])) {
            *rc = g->st->w->workload_delete(g->st, g->run.id, ended[i]->rec.name, g->e);
            changed = true;
        }
    for (size_t i = 0; i < nitems && *rc == 0; i++) {
        start_item *it = &items[i];
        if (it->kind != START_SPAWN || it->adm != ADMISSION_ENQUEUE) continue;
        char *why = NULL;
        *rc = sched_enqueue(&g->q, g->st, &g->run, it->s->rec.name, it->s->spec, mp_now_ms(), &why, g->e);
        if (why) { /* names that resolve to nothing applied: it waits, saying so */
            if (*rc == 0) *rc = note_waiting(g, it->s, "StepWaiting", why);
            it->kind = START_UNKNOWN;
            free(why);
        }
        changed = true;
    }
    if (*rc == 0 && (changed || duty)) *rc = schedule(g, items, nitems);
    for (size_t i = 0; i < nexits && *rc == 0; i++) {
        engine__step *s = ended[i];
        if (s) *rc = engine__step_exited(g, s, &exits[i]);
    }
    for (size_t i = 0; i < nitems && *rc == 0; i++) *rc = apply_start(g, &items[i]);
    /* Upstream failures and cancellation of waiting steps. */
    changed = true;
    while (changed && *rc == 0) {
        changed = false;
        for (size_t i = 0; i < g->n && *rc == 0; i++) {
            engine__step *s = &g->steps[i];
            if (s->rec.state != STEP_PENDING && s->rec.state != STEP_RETRYING) continue;
            const char *blocker = NULL;
            if (g->cancel) {
                *rc = engine__set_step(g, s, STEP_CANCELLED, "StepCancelled", "cancelled before it started");
                if (*rc == 0 && engine__needs_admission(s)) /* what it was queued or admitted for */
                    *rc = g->st->w->workload_delete(g->st, g->run.id, s->rec.name, g->e);
                changed = true;
            } else if (readiness(g, s, &blocker) < 0) {
                char msg[300];
                snprintf(msg, sizeof msg, "upstream step \"%s\" did not succeed", blocker);
                *rc = engine__set_step(g, s, STEP_SKIPPED, "StepSkipped", msg);
                changed = true;
            } else if (s->sweep && readiness(g, s, &blocker) == 1) { /* its trials have all ended */
                *rc = engine__conclude_sweep(g, s);
                changed = true;
            }
        }
    }
    if (*rc) return 0;
    bool all_final = true, all_ok = true;
    const char *first_bad = NULL;
    for (size_t i = 0; i < g->n; i++) {
        store_step *r = &g->steps[i].rec;
        if (!store_step_state_final(r->state) || g->steps[i].running) all_final = false;
        if (g->steps[i].trial) continue; /* a sweep's trials are judged by the sweep step */
        if (!(r->state == STEP_SUCCEEDED || r->state == STEP_CACHED)) {
            all_ok = false;
            if (!first_bad && (r->state == STEP_FAILED || r->state == STEP_CANCELLED)) first_bad = r->name;
        }
    }
    if (!all_final) return 0;
    if ((*rc = g->st->w->workload_delete(g->st, g->run.id, NULL, g->e)) != 0) return 0; /* pending rows too */
    char msg[400];
    if (g->cancel) {
        *rc = set_run(g, RUN_CANCELLED, "RunCancelled", "cancelled");
    } else if (all_ok) {
        *rc = set_run(g, RUN_SUCCEEDED, "RunSucceeded", "all steps succeeded");
    } else {
        engine__step *b = first_bad ? engine__step_by_name(g, first_bad) : NULL;
        snprintf(msg, sizeof msg, "step \"%s\" failed: %s", first_bad ? first_bad : "?",
                 b && b->rec.message ? b->rec.message : "see its log");
        *rc = set_run(g, RUN_FAILED, "RunFailed", msg);
    }
    return 1;
}

/* Sends due signals: timeouts, cancellation, SIGKILL after the grace period. */
static int signal_due(engine *g) {
    int64_t now = mp_mono_ms(), next = now + 200;
    for (size_t i = 0; i < g->n; i++) {
        engine__step *s = &g->steps[i];
        if (!s->running) continue;
        if (!s->timed_out && !s->cancelling && s->deadline && now >= s->deadline) {
            s->timed_out = true;
            s->kill_at = now + g->grace_ms;
            char msg[128];
            snprintf(msg, sizeof msg, "timeout of %ds reached: SIGTERM sent", s->spec->timeout_seconds);
            engine__record_now(g, s->rec.name, "StepTimedOut", msg); /* recorded (own commit), then acted on */
            engine__flush_events(g);
            engine__signal_step(g, s, SIGTERM);
        }
        if (g->cancel && !s->cancelling && !s->timed_out) {
            s->cancelling = true;
            s->kill_at = now + g->grace_ms;
            engine__signal_step(g, s, SIGTERM);
        }
        if (s->kill_at && now >= s->kill_at) {
            engine__signal_step(g, s, SIGKILL);
            s->kill_at = now + 1000;
        }
        if (s->deadline && !s->timed_out && s->deadline < next) next = s->deadline;
        if (s->kill_at && s->kill_at < next) next = s->kill_at;
    }
    int64_t wall = mp_now_ms();
    for (size_t i = 0; i < g->n; i++) {
        engine__step *s = &g->steps[i];
        if (s->rec.state == STEP_RETRYING && s->rec.next_attempt_ms > wall && now + (s->rec.next_attempt_ms - wall) < next)
            next = now + (s->rec.next_attempt_ms - wall);
    }
    return (int)(next > now ? next - now : 1);
}

static void tick(engine *g) {
    const engine_observer *obs = g->o->obs;
    if (!obs || !obs->on_tick) return;
    refresh_views(g);
    engine_view v = {.run_id = g->run.id, .run_state = g->run.state, .steps = g->views, .nsteps = g->n};
    obs->on_tick(obs->ud, &v);
}

static int loop(engine *g, int *final_state) {
    size_t maxn = 1; /* exits of one wait: every worker of every step at most */
    for (size_t i = 0; i < g->n; i++) maxn += g->steps[i].spec->parallelism > 1 ? (size_t)g->steps[i].spec->parallelism : 1;
    engine__exit *exits = mp_xcalloc(maxn, sizeof *exits);
    exec_event *evs = mp_xcalloc(maxn, sizeof *evs);
    start_item *items = mp_xcalloc(g->n + 1, sizeof *items);
    size_t nexits = 0;
    int rc = 0, done = 0;
    engine__step **ended = mp_xcalloc(maxn, sizeof *ended);
    while (!done && rc == 0) {
        poll_cancel(g);
        engine__poll_evictions(g);
        /* Steps that ended free their capacity now, so their successors (or the
         * next independent steps) start in this same iteration. */
        for (size_t i = 0; i < nexits; i++) {
            ended[i] = engine__worker_exited(g, &exits[i]);
            /* lineage: a successful end's outputs hashed here, outside the transaction */
            if (ended[i] && !exits[i].signal && exits[i].exit_code == 0 && ended[i]->spec->noutputs)
                engine__hash_outputs(g, ended[i], ended[i]->rec.outputs_dir);
        }
        /* Prepare what can start now (outside the transaction); a step that
         * waits for admission keeps what was prepared for it. */
        size_t nitems = 0;
        int slots = g->parallel - running_count(g);
        for (size_t i = 0; i < g->n && !g->cancel && slots > 0; i++) {
            engine__step *s = &g->steps[i];
            const char *blocker = NULL;
            if (readiness(g, s, &blocker) != 1) continue;
            if (s->sweep || !engine__sweep_admits(s)) continue; /* a sweep ends in decide(); maxParallel */
            start_item *it = &items[nitems++];
            memset(it, 0, sizeof *it);
            it->s = s;
            if (s->prepped) {
                it->prep = s->prep;
                memset(&s->prep, 0, sizeof s->prep);
                s->prepped = false;
            } else {
                engine__prepare(&g->c, s, &it->prep);
            }
            if (it->prep.error) {
                it->kind = START_CANNOT;
                continue;
            }
            if (it->prep.cache_key && g->st->m->cache_get(g->st, it->prep.cache_key, &it->hit, NULL) == 0) {
                if (cache_hit_usable(s, &it->hit)) {
                    it->kind = START_CACHED;
                    engine__hash_outputs(g, s, it->hit.outputs_dir); /* lineage: the reused outputs */
                    continue;
                }
                store_cache_entry_free(&it->hit);
                memset(&it->hit, 0, sizeof it->hit);
            }
            slots--;
            if (engine__needs_admission(s)) it->adm = ADMISSION_ENQUEUE;
            s->running = true; /* counts as running while the others are chosen (a sweep's maxParallel) */
        }
        for (size_t i = 0; i < nitems; i++)
            if (items[i].kind == START_SPAWN) items[i].s->running = false;
        /* A transaction only when something changes: a run whose steps all wait
         * for admission, with nothing new decided, only reads its rows. */
        bool need = g->first || nexits > 0 || g->cancel, any_adm = false;
        for (size_t i = 0; i < nitems; i++) {
            if (items[i].kind != START_SPAWN || items[i].adm == ADMISSION_NONE) need = true;
            else any_adm = true;
        }
        if (any_adm && (rc = read_own(g, items, nitems)) == 0) {
            for (size_t i = 0; i < nitems && !need; i++) {
                const start_item *it = &items[i];
                if (it->adm == ADMISSION_ENQUEUE || it->adm == ADMISSION_ADMITTED ||
                    (it->adm == ADMISSION_PENDING && (!it->s->waiting || !it->s->rec.message ||
                                                strcmp(it->s->rec.message, it->row->reason ? it->row->reason : "") != 0)))
                    need = true;
            }
        }
        bool duty = rc == 0 && duty_due(g, any_adm || g->lease_held);
        g->first = false;
        if (rc == 0 && (need || duty)) {
            if ((rc = engine__begin(g)) == 0) {
                done = decide(g, exits, ended, nexits, items, nitems, duty, &rc);
                if (rc == 0) rc = g->st->m->commit(g->st, g->e);
                else g->st->m->rollback(g->st);
            }
        }
        nexits = 0;
        if (rc == 0) engine__flush_events(g);
        for (size_t i = 0; i < nitems; i++) {
            start_item *it = &items[i];
            if (rc == 0 && it->kind == START_SPAWN && it->s->rec.state == STEP_RUNNING) {
                engine__spawn_step(g, it->s, &it->prep, exits, &nexits);
            } else if (rc == 0 && (it->kind == START_SPAWN || it->kind == START_UNKNOWN) && !it->s->prepped) { /* waits: keep what was prepared */
                it->s->prep = it->prep;
                it->s->prepped = true;
                memset(&it->prep, 0, sizeof it->prep);
            }
            engine__prep_free(&it->prep);
            store_cache_entry_free(&it->hit);
        }
        if (rc != 0 || done) break;
        engine__stop_early(g);
        int timeout = signal_due(g);
        /* Admission is decided by the lease holder and seen by polling: poll
         * faster while this run waits for it, or decides it for others. */
        if ((any_adm || g->lease_held) && timeout > 50) timeout = 50;
        tick(g);
        if (nexits == 0) {
            int n = g->x->m->wait(g->x, timeout, evs, maxn, g->e);
            if (n < 0) rc = n;
            else nexits = engine__take_events(g, evs, (size_t)n, exits);
        }
    }
    free(exits);
    free(evs);
    free(ended);
    free(items);
    tick(g);
    *final_state = g->run.state;
    return rc;
}

int engine_execute(store *st, executor *x, const spec_pipeline *p, const char *run_id, const engine_opts *o,
                  int *final_state, mp_err *e) {
    engine g = {.st = st, .x = x, .o = o, .e = e, .first = true};
    int rc = st->m->run_get(st, run_id, &g.run, e);
    if (rc) return rc;
    if (store_run_state_final(g.run.state)) {
        *final_state = g.run.state;
        store_run_free(&g.run);
        return mp_err_set(e, MP_ESTATE, "run %s has already ended (%s)", run_id, store_run_state_name(*final_state));
    }
    store_step *recs = NULL;
    size_t nrecs = 0;
    if ((rc = st->m->step_list(st, g.run.id, &recs, &nrecs, e)) != 0) {
        store_run_free(&g.run);
        return rc;
    }
    g.n = nrecs;
    g.steps = mp_xcalloc(nrecs + 1, sizeof *g.steps);
    g.views = mp_xcalloc(nrecs + 1, sizeof *g.views);
    for (size_t i = 0; i < nrecs; i++) {
        g.steps[i].rec = recs[i];
        g.steps[i].spec = spec_pipeline_step(p, recs[i].name);
    }
    free(recs);
    rc = engine__sweep_bind(g.steps, g.n, e); /* a trial S[i] runs S's spec */
    for (size_t i = 0; i < nrecs; i++)
        if (!g.steps[i].spec && rc == 0)
            rc = mp_err_set(e, MP_EINTERNAL, "run %s has step \"%s\" that its pipeline does not define", run_id,
                            g.steps[i].rec.name);
    char *spec_dir = mp_path_dir(g.run.spec_path ? g.run.spec_path : "./x");
    g.c = (engine__ctx){.p = p, .run = &g.run, .spec_dir = spec_dir, .steps = g.steps, .nsteps = g.n,
                       .self_exe = o->self_exe, .st = st};
    if (rc == 0) rc = engine__params_from_json(g.run.params_json, &g.c.params, &g.c.nparams, e);
    store_track_run tr = {0};
    if (rc == 0 && st->t->run_get(st, g.run.id, &tr, NULL) == 0) {
        g.c.experiment_id = tr.experiment_id;
        g.tracked = true;
    }
    g.parallel = g.run.parallel > 0 ? g.run.parallel : mp_cpu_count();
    sched_local_capacity(&g.cap);
    g.grace_ms = o->kill_grace_ms;
    if (g.grace_ms <= 0) {
        const char *env = getenv("MLPLANE_KILL_GRACE_MS");
        g.grace_ms = env && atoi(env) > 0 ? atoi(env) : 10000;
    }
    if (rc == 0) {
        g.run.owner_pid = (int)getpid();
        g.run.owner_start = mp_proc_start_time(g.run.owner_pid);
        if (!g.run.started_ms) g.run.started_ms = mp_now_ms();
        const char *type = g.run.state == RUN_PENDING ? "RunStarted" : "RunResumed";
        /* One transaction (the run, its MLflow run, the event), as every change. */
        if ((rc = engine__begin(&g)) == 0) {
            rc = set_run(&g, RUN_RUNNING, type, NULL);
            if (rc == 0) rc = st->m->commit(st, e);
            else st->m->rollback(st);
        }
        if (rc == 0) engine__flush_events(&g);
    }
    if (rc == 0) rc = loop(&g, final_state);
    engine__sweep_unbind(g.steps, g.n);
    for (size_t i = 0; i < g.n; i++) {
        engine__step *s = &g.steps[i];
        if (s->spec && s->spec->nsecret_refs && s->rec.outputs_dir) { /* left by a step still running */
            char *sd = engine__secrets_dir(s->rec.outputs_dir);
            mp_rm_rf(sd, NULL);
            free(sd);
        }
        store_step_free(&s->rec);
        for (int r = 0; r < s->nworkers; r++)
            if (s->workers[r]) x->m->release(x, s->workers[r]);
        free(s->workers);
        free(s->nodes);
        free(s->preempt_why);
        if (s->prepped) engine__prep_free(&s->prep);
        engine__outs_free(s);
    }
    if (g.lease_held) g.st->w->lease_release(g.st, g.run.owner_pid, g.run.owner_start, NULL);
    store_workload_array_free(g.own, g.nown);
    sched_queue_free(&g.q);
    engine__flush_events(&g);
    free(g.evs);
    free(g.steps);
    free(g.views);
    free(spec_dir);
    spec_kv_array_free(g.c.params, g.c.nparams);
    store_track_run_free(&tr);
    store_run_free(&g.run);
    return rc;
}
