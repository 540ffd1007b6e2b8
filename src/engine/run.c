/* run.c — the life of a run around its execution: submit (validate params,
 * check that every step could ever run (src/sched/capacity.c), write the run and
 * its steps — a sweep's trials included — in one transaction), resume after the
 * owner died, cancel. Runs on the caller's thread. */
#include "engine/engine_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *new_run_id(const char *pipeline) {
    char rnd[6];
    mp_random_alnum(rnd, sizeof rnd);
    return mp_xasprintf("%.*s-%s", 56, pipeline, rnd);
}

int engine_submit(store *st, const char *home, const engine_submit_req *req, char **run_id, mp_err *e) {
    const spec_pipeline *p = req->pipeline;
    int rc = 0;
    spec_kv *params = NULL;
    if (req->file && spec_file_count(req->file, SPEC_KIND_SECRET))
        return mp_err_set(e, MP_EINVAL,
                          "%s holds a Secret: apply it first with `mlplane apply -f FILE` and run a file without it "
                          "(a run keeps its spec's text, and Secrets are kept only encrypted)",
                          req->file->path);
    if ((rc = spec_resolve_params(p, req->overrides, req->noverrides, &params, e)) != 0) return rc;
    size_t *order = mp_xcalloc(p->nsteps + 1, sizeof *order);
    if ((rc = spec_pipeline_topo_order(p, order, e)) != 0) {
        free(order);
        spec_kv_array_free(params, p->nparams);
        return rc;
    }
    store_run r = {.pipeline = p->meta.name, .namespace_ = p->meta.namespace_, .state = RUN_PENDING,
                   .spec_path = (char *)req->spec_path, .spec_yaml = (char *)req->spec_text,
                   .params_json = engine__params_to_json(params, p->nparams),
                   .labels_json = engine__params_to_json(p->meta.labels, p->meta.nlabels), .created_ms = mp_now_ms(),
                   .owner_pid = (int)getpid(), .owner_start = mp_proc_start_time((int)getpid()),
                   .parallel = req->parallel > 0 ? req->parallel : mp_cpu_count()};
    for (int tries = 0; tries < 5; tries++) {
        r.id = new_run_id(p->meta.name);
        store_run existing = {0};
        if (st->m->run_get(st, r.id, &existing, NULL) == MP_ENOENT) break;
        store_run_free(&existing);
        free(r.id);
        r.id = NULL;
    }
    if (!r.id) rc = mp_err_set(e, MP_EINTERNAL, "could not pick a unique run id");
    /* Many runs submitted at once may hold the write lock past the busy timeout:
     * waiting a few times longer beats refusing the run. */
    if (rc == 0)
        for (int busy = 0; (rc = st->m->begin(st, e)) == MP_EBUSY && busy < 5; busy++) {}
    if (rc == 0) {
        size_t napplied = 0;
        spec_diags scratch = {0};
        if (req->file) rc = sched_objects_apply(st, req->file, req->spec_text, &napplied, req->diags ? req->diags : &scratch, e);
        spec_diags_free(&scratch);
        sched_objects o;
        if (rc == 0 && (rc = sched_objects_load(st, &o, e)) == 0) {
            /* names with their place in the file first; check_steps says the same without */
            size_t bad = req->file && req->diags
                             ? sched_objects_check_names(&o, req->file, p, "applied or in this file", NULL, req->diags)
                             : 0;
            if (bad)
                rc = mp_err_set(e, MP_EINVAL, "%s names %zu object%s that %s not exist; nothing was run",
                                req->file->path, bad, bad == 1 ? "" : "s", bad == 1 ? "does" : "do");
            else
                rc = sched_check_pipeline(&o, p, e);
            sched_objects_free(&o);
        }
        if (rc == 0) rc = st->m->run_insert(st, &r, e);
        int idx = 0;
        for (size_t i = 0; i < p->nsteps && rc == 0; i++) {
            const spec_step *s = &p->steps[order[i]];
            /* A sweep's trials S[0], S[1], ... come before S, their aggregate. */
            if (s->sweep && (rc = engine__sweep_insert(st, home, r.id, s, &idx, e)) != 0) break;
            /* One directory per step (its outputs, and its working directory), logs
             * beside them: one mkdir per step start keeps many short steps cheap. */
            store_step ss = {.run_id = r.id, .name = s->name, .idx = idx++, .state = STEP_PENDING, .exit_code = -1,
                             .outputs_dir = engine__step_dir(home, r.id, s->name),
                             .log_path = mp_xasprintf("%s/runs/%s/logs/%s.log", home, r.id, s->name)};
            rc = st->m->step_insert(st, &ss, e);
            free(ss.outputs_dir);
            free(ss.log_path);
        }
        if (rc == 0) {
            char *name_at = req->file && p->meta.name_pos.line
                                ? mp_xasprintf("%s:%d:%d", req->file->path, p->meta.name_pos.line, p->meta.name_pos.col)
                                : NULL;
            rc = engine__track_create(st, &r, params, p->nparams, name_at, e);
            free(name_at);
        }
        if (rc == 0) {
            store_event ev = {.run_id = r.id, .type = "RunCreated", .message = r.params_json};
            rc = st->m->event_append(st, &ev, e);
        }
        if (rc == 0) rc = st->m->commit(st, e);
        else st->m->rollback(st);
    }
    free(order);
    free(r.params_json);
    free(r.labels_json);
    spec_kv_array_free(params, p->nparams);
    if (rc) {
        free(r.id);
        return rc;
    }
    *run_id = r.id;
    return 0;
}

bool engine_owner_alive(const store_run *r) {
    return mp_proc_alive(r->owner_pid, r->owner_start);
}

void engine_runs_settle(store *st, store_run *runs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (store_run_state_final(runs[i].state) || engine_owner_alive(&runs[i])) continue;
        store_run cur = {0};
        if (st->m->run_get(st, runs[i].id, &cur, NULL) != 0) continue;
        store_run_free(&runs[i]);
        runs[i] = cur;
    }
}

int engine_event(store *st, const char *run_id, const char *step, const char *type, const char *msg, mp_err *e) {
    store_event ev = {.run_id = (char *)run_id, .step = (char *)step, .type = (char *)type, .message = (char *)msg};
    return st->m->event_append(st, &ev, e);
}

static int grace_of(const engine_opts *o) {
    if (o && o->kill_grace_ms > 0) return o->kill_grace_ms;
    const char *env = getenv("MLPLANE_KILL_GRACE_MS");
    return env && atoi(env) > 0 ? atoi(env) : 10000;
}

/* Loads r and refuses runs that ended or that a live process still drives. */
static int load_orphaned(store *st, const char *run_id, store_run *r, mp_err *e) {
    int rc = st->m->run_get(st, run_id, r, e);
    if (rc) return rc;
    if (store_run_state_final(r->state))
        return mp_err_set(e, MP_ESTATE, "run %s has already ended (%s); nothing to do", r->id,
                          store_run_state_name(r->state));
    if (engine_owner_alive(r) && r->owner_pid != (int)getpid())
        return mp_err_set(e, MP_EBUSY, "run %s is still being executed by process %d", r->id, r->owner_pid);
    return 0;
}

/* The secret files a step of a dead owner left (its attempt never ended here). */
static void drop_secret_files(const store_step *s) {
    if (!s->outputs_dir) return;
    char *d = engine__secrets_dir(s->outputs_dir);
    mp_rm_rf(d, NULL);
    free(d);
}

int engine_prepare_resume(store *st, executor *x, const char *run_id, const engine_opts *o, mp_err *e) {
    store_run r = {0};
    int rc = load_orphaned(st, run_id, &r, e);
    if (rc) {
        store_run_free(&r);
        return rc;
    }
    int found = x->m->stop_orphans(x, r.id, grace_of(o), e);
    store_step *steps = NULL;
    size_t n = 0;
    if (found >= 0) rc = st->m->step_list(st, r.id, &steps, &n, e);
    else rc = found;
    if (rc == 0) rc = st->m->begin(st, e);
    if (rc == 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "owner process %d is gone; %d orphaned process%s stopped", r.owner_pid, found,
                 found == 1 ? "" : "es");
        rc = engine_event(st, r.id, NULL, "RunInterrupted", msg, e);
        if (rc == 0) rc = st->w->workload_delete(st, r.id, NULL, e); /* the dead owner's holds */
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (steps[i].state != STEP_RUNNING) continue;
            mp_rm_rf(steps[i].outputs_dir, NULL);
            drop_secret_files(&steps[i]);
            steps[i].state = STEP_PENDING;
            steps[i].attempts = steps[i].attempts > 0 ? steps[i].attempts - 1 : 0; /* not charged */
            steps[i].pid = 0;
            free(steps[i].message);
            steps[i].message = mp_xstrdup("interrupted; partial outputs discarded, will run again");
            rc = st->m->step_update(st, &steps[i], e);
            if (rc == 0) rc = engine_event(st, r.id, steps[i].name, "StepInterrupted", steps[i].message, e);
        }
        r.owner_pid = 0;
        r.owner_start = 0;
        r.cancel_requested = false;
        if (rc == 0) rc = st->m->run_update(st, &r, e);
        if (rc == 0) rc = st->m->commit(st, e);
        else st->m->rollback(st);
    }
    store_step_array_free(steps, n);
    store_run_free(&r);
    return rc;
}

int engine_cancel(store *st, executor *x, const char *run_id, const engine_opts *o, int wait_ms, mp_err *e) {
    store_run r = {0};
    int rc = st->m->run_get(st, run_id, &r, e);
    if (rc == 0 && store_run_state_final(r.state))
        rc = mp_err_set(e, MP_ESTATE, "run %s has already ended (%s)", r.id, store_run_state_name(r.state));
    if (rc) {
        store_run_free(&r);
        return rc;
    }
    if (engine_owner_alive(&r)) {
        /* Ask the owner; it signals its steps and records the outcome. */
        r.cancel_requested = true;
        rc = st->m->run_update(st, &r, e);
        if (rc == 0) rc = engine_event(st, r.id, NULL, "CancelRequested", NULL, e);
        int64_t until = mp_mono_ms() + wait_ms;
        while (rc == 0 && mp_mono_ms() < until) {
            store_run cur = {0};
            if (st->m->run_get(st, r.id, &cur, NULL) == 0 && store_run_state_final(cur.state)) {
                store_run_free(&cur);
                break;
            }
            store_run_free(&cur);
            mp_sleep_ms(50);
        }
        store_run_free(&r);
        return rc;
    }
    /* Nobody drives the run: stop what it left and end it here. */
    int found = x->m->stop_orphans(x, r.id, grace_of(o), e);
    if (found < 0) {
        store_run_free(&r);
        return found;
    }
    store_step *steps = NULL;
    size_t n = 0;
    rc = st->m->step_list(st, r.id, &steps, &n, e);
    if (rc == 0) rc = st->m->begin(st, e);
    if (rc == 0) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (store_step_state_final(steps[i].state)) continue;
            drop_secret_files(&steps[i]);
            steps[i].state = STEP_CANCELLED;
            steps[i].pid = 0;
            if (!steps[i].ended_ms) steps[i].ended_ms = mp_now_ms();
            free(steps[i].message);
            steps[i].message = mp_xstrdup("cancelled");
            rc = st->m->step_update(st, &steps[i], e);
            if (rc == 0) rc = engine_event(st, r.id, steps[i].name, "StepCancelled", "cancelled", e);
        }
        if (rc == 0) rc = st->w->workload_delete(st, r.id, NULL, e);
        r.state = RUN_CANCELLED;
        r.ended_ms = mp_now_ms();
        r.owner_pid = 0;
        free(r.message);
        r.message = mp_xstrdup("cancelled");
        if (rc == 0) rc = st->m->run_update(st, &r, e);
        if (rc == 0) rc = engine_event(st, r.id, NULL, "RunCancelled", "cancelled", e);
        if (rc == 0) rc = st->m->commit(st, e);
        else st->m->rollback(st);
    }
    store_step_array_free(steps, n);
    store_run_free(&r);
    return rc;
}
