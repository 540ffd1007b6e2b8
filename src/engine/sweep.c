/* sweep.c — hyperparameter sweeps at run time.
 *
 * A step S with `sweep:` is expanded at submit (engine_submit) into trial steps
 * S[0], S[1], ... — ordinary step records that run S's spec with their own values
 * of the swept params (kept in each record's params_json, so resume and `get
 * steps` read them back) — followed by S itself, the aggregate. Names with '[' are
 * not valid step names, so a trial can never collide with a step of the pipeline.
 *
 * Trial values: a grid is every combination in order (the last param varies
 * fastest); a random sweep draws count trials from splitmix64 seeded with the
 * spec's seed (0 when none is given, so two runs of one spec get the same trials):
 * for each trial, each param in spec order takes one 64-bit draw x, u = (x >> 11)
 * * 2^-53 in [0, 1), and becomes values[floor(u * n)] for a list, min + u * (max -
 * min) for a range (in log space with scale: log; printed with %.6g), or
 * min + floor(u * (max - min + 1)) for an integer range.
 *
 * While the run executes, the engine asks this file: which record is a trial and
 * what its params are (engine__sweep_bind, engine__trial_param), whether a trial
 * may start beside its running siblings (maxParallel), whether a trial must stop
 * early (the median stopping rule, checked every second from the trials'
 * metrics.json histories), and, once every trial has ended, what the aggregate
 * becomes (engine__sweep_conclude). Recording states and events, and signalling,
 * stay in engine.c. Runs on the engine's thread; nothing here is shared. */
#include "engine/engine_int.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- trials' values ----------------------------------------------------------------- */

char *engine__trial_name(const char *step, size_t i) { return mp_xasprintf("%s[%zu]", step, i); }

int engine__sweep_insert(store *st, const char *home, const char *run_id, const spec_step *s, int *idx, mp_err *e) {
    assert(st->m->in_tx(st)); /* the trials commit with their run */
    char **params = NULL;
    size_t n = spec_sweep_expand(s->sweep, &params);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *name = engine__trial_name(s->name, i);
        store_step ss = {.run_id = (char *)run_id, .name = name, .idx = (*idx)++, .state = STEP_PENDING,
                         .exit_code = -1, .outputs_dir = engine__step_dir(home, run_id, name),
                         .log_path = mp_xasprintf("%s/runs/%s/logs/%s.log", home, run_id, name),
                         .params_json = params[i]};
        if (rc == 0) rc = st->m->step_insert(st, &ss, e);
        free(ss.outputs_dir);
        free(ss.log_path);
        free(name);
        free(params[i]);
    }
    free(params);
    return rc;
}

/* ---- binding records to specs ---------------------------------------------------------- */

/* "S[i]" -> S in base (NUL-terminated) and i; false for any other name. */
static bool parse_trial_name(const char *name, char *base, size_t n, int *index) {
    const char *lb = strchr(name, '[');
    size_t len = strlen(name);
    if (!lb || lb == name || (size_t)(lb - name) >= n || len < 3 || name[len - 1] != ']' || lb + 1 == name + len - 1)
        return false;
    long v = 0;
    for (const char *q = lb + 1; q < name + len - 1; q++) {
        if (*q < '0' || *q > '9' || v > 1000000) return false;
        v = v * 10 + (*q - '0');
    }
    memcpy(base, name, (size_t)(lb - name));
    base[lb - name] = '\0';
    *index = (int)v;
    return true;
}

static engine__step *find_agg(engine__step *steps, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (steps[i].sweep && strcmp(steps[i].rec.name, name) == 0) return &steps[i];
    return NULL;
}

int engine__sweep_bind(engine__step *steps, size_t n, mp_err *e) {
    for (size_t i = 0; i < n; i++) {
        engine__step *s = &steps[i];
        if (s->spec && s->spec->sweep && strcmp(s->rec.name, s->spec->name) == 0) {
            s->sweep = mp_xcalloc(1, sizeof *s->sweep);
            s->sweep->spec = s->spec->sweep;
            s->sweep->trials = mp_xcalloc(n, sizeof *s->sweep->trials);
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        engine__step *s = &steps[i];
        char base[256];
        int index;
        if (s->spec || !parse_trial_name(s->rec.name, base, sizeof base, &index)) continue;
        engine__step *agg = find_agg(steps, n, base);
        if (!agg) continue; /* the engine reports a step its pipeline does not define */
        engine__trial *t = s->trial = mp_xcalloc(1, sizeof *t);
        t->index = index;
        t->agg = agg;
        t->metric_prefix = mp_xasprintf("%s/%d/", base, index);
        s->spec = agg->spec;
        t->slot = agg->sweep->ntrials;
        agg->sweep->trials[agg->sweep->ntrials++] = s;
        rc = engine__params_from_json(s->rec.params_json, &t->params, &t->nparams, e);
        if (rc) mp_err_prefix(e, "trial %s", s->rec.name);
    }
    return rc;
}

void engine__sweep_unbind(engine__step *steps, size_t n) {
    for (size_t i = 0; i < n; i++) {
        engine__trial *t = steps[i].trial;
        if (t) {
            spec_kv_array_free(t->params, t->nparams);
            free(t->metric_prefix);
            free(t->stop_why);
            free(t->hist);
            free(t);
        }
        if (steps[i].sweep) {
            free(steps[i].sweep->trials);
            free(steps[i].sweep);
        }
        steps[i].trial = NULL;
        steps[i].sweep = NULL;
    }
}

const char *engine__trial_param(const engine__step *s, const char *name) {
    if (!s || !s->trial) return NULL;
    for (size_t i = 0; i < s->trial->nparams; i++)
        if (strcmp(s->trial->params[i].key, name) == 0) return s->trial->params[i].value;
    return NULL;
}

/* Counting running siblings looks only at trials[lo, hi): before lo every trial
 * has ended (for good, in this process), and no trial at or after hi has ever been
 * admitted; so a sweep of thousands of trials costs about its window. */
bool engine__sweep_admits(const engine__step *s) {
    if (!s->trial) return true;
    engine__sweep *sw = s->trial->agg->sweep;
    if (sw->spec->max_parallel <= 0) return true;
    while (sw->lo < sw->ntrials && !sw->trials[sw->lo]->running &&
           store_step_state_final(sw->trials[sw->lo]->rec.state))
        sw->lo++;
    int running = 0;
    for (size_t i = sw->lo; i < sw->hi && running < sw->spec->max_parallel; i++)
        running += sw->trials[i] != s && sw->trials[i]->running;
    if (running >= sw->spec->max_parallel) return false;
    if (s->trial->slot + 1 > sw->hi) sw->hi = s->trial->slot + 1;
    return true;
}

bool engine__sweep_trials_ended(const engine__step *agg) {
    const engine__sweep *sw = agg->sweep;
    for (size_t i = 0; i < sw->ntrials; i++)
        if (sw->trials[i]->running || !store_step_state_final(sw->trials[i]->rec.state)) return false;
    return true;
}

/* "lr=0.1, depth=4" of a trial (heap). */
static char *params_text(const engine__trial *t) {
    mp_buf b;
    mp_buf_init(&b);
    for (size_t i = 0; i < t->nparams; i++)
        mp_buf_printf(&b, "%s%s=%s", i ? ", " : "", t->params[i].key, t->params[i].value);
    return mp_buf_steal(&b);
}

static const char *goal_name(spec_goal g) { return g == SPEC_GOAL_MAXIMIZE ? "maximize" : "minimize"; }

char *engine__sweep_starting(engine__step *s) {
    if (!s->trial) return NULL;
    engine__step *agg = s->trial->agg;
    engine__sweep *sw = agg->sweep;
    if (sw->announced) return NULL;
    sw->announced = true;
    for (size_t i = 0; i < sw->ntrials; i++) /* a resumed sweep had started before */
        if (sw->trials[i]->rec.started_ms) return NULL;
    agg->rec.started_ms = mp_now_ms();
    const spec_sweep *sp = sw->spec;
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "%zu trials", sw->ntrials);
    if (sp->kind == SPEC_SWEEP_RANDOM) mp_buf_printf(&b, " drawn with seed %llu", (unsigned long long)sp->seed);
    mp_buf_printf(&b, " (%s over ", sp->kind == SPEC_SWEEP_GRID ? "grid" : "random");
    for (size_t i = 0; i < sp->nparams; i++) {
        const spec_sweep_param *p = &sp->params[i];
        const char *sep = i ? ", " : "";
        if (p->is_range)
            mp_buf_printf(&b, "%s%s in [%g, %g]%s", sep, p->name, p->min, p->max, p->log ? " log" : "");
        else
            mp_buf_printf(&b, "%s%s: %zu value%s", sep, p->name, p->nvalues, p->nvalues == 1 ? "" : "s");
    }
    mp_buf_puts(&b, ")");
    if (sp->max_parallel > 0) mp_buf_printf(&b, "; maxParallel %d", sp->max_parallel);
    if (sp->metric) mp_buf_printf(&b, "; objective %s (%s)", sp->metric, goal_name(sp->goal));
    const spec_early_stopping *es = sp->early_stopping;
    if (es)
        mp_buf_printf(&b, "; median stopping on %s (%s) from step %d with %d trials", es->metric, goal_name(es->goal),
                      es->start_step, es->min_trials);
    return mp_buf_steal(&b);
}

/* ---- early stopping ------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

bool engine__median_stop(const spec_early_stopping *es, const double *h, size_t nh, const double *const *peers,
                        const size_t *npeer, size_t npeers, char *why, size_t whyn) {
    size_t k = nh, have = 0;
    for (; k >= (size_t)es->start_step && k > 0; k--) {
        have = 0;
        for (size_t i = 0; i < npeers; i++) have += npeer[i] >= k;
        if (have >= (size_t)es->min_trials) break;
    }
    if (k < (size_t)es->start_step || k == 0) return false;
    bool maximize = es->goal == SPEC_GOAL_MAXIMIZE;
    double best = h[0];
    for (size_t j = 1; j < k; j++) best = maximize ? fmax(best, h[j]) : fmin(best, h[j]);
    double *avg = mp_xcalloc(have, sizeof *avg);
    size_t m = 0;
    for (size_t i = 0; i < npeers; i++) {
        if (npeer[i] < k) continue;
        double sum = 0;
        for (size_t j = 0; j < k; j++) sum += peers[i][j];
        avg[m++] = sum / (double)k;
    }
    qsort(avg, m, sizeof *avg, cmp_double);
    double median = m % 2 ? avg[m / 2] : (avg[m / 2 - 1] + avg[m / 2]) / 2;
    free(avg);
    bool worse = maximize ? best < median : best > median;
    if (worse)
        snprintf(why, whyn,
                 "%s: best %.6g by step %zu is worse than %.6g, the median of %zu other trials' running averages at "
                 "step %zu (%s)",
                 es->metric, best, k, median, m, k, goal_name(es->goal));
    return worse;
}

/* The values of metric in DIR/metrics.json: an array's numbers, or one number.
 * False when the file or the metric is not there (or not yet whole). */
static bool read_history(const char *dir, const char *metric, double **out, size_t *n) {
    char *path = mp_xasprintf("%s/metrics.json", dir);
    char *warning = NULL;
    json_t *root = engine__metrics_load(path, &warning);
    free(warning);
    free(path);
    json_t *v = root ? json_object_get(root, metric) : NULL;
    double d0;
    bool ok = v && (json_is_array(v) || engine__metric_number(v, &d0));
    if (ok) {
        size_t cnt = json_is_array(v) ? json_array_size(v) : 1, k = 0;
        double *h = mp_xcalloc(cnt + 1, sizeof *h);
        for (size_t i = 0; i < cnt; i++) {
            json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
            if (!engine__metric_number(x, &h[k])) break;
            k++;
        }
        free(*out);
        *out = h;
        *n = k;
    }
    json_decref(root);
    return ok;
}

/* Refreshes the histories of sw's trials: those running, and once those ended. */
static void load_histories(engine__sweep *sw) {
    const char *metric = sw->spec->early_stopping->metric;
    for (size_t i = 0; i < sw->ntrials; i++) {
        engine__step *s = sw->trials[i];
        engine__trial *t = s->trial;
        bool final = store_step_state_final(s->rec.state) && !s->running;
        if (t->hist_final || (!s->running && !final)) continue;
        if (!read_history(s->rec.outputs_dir, metric, &t->hist, &t->nhist)) t->nhist = 0;
        t->hist_final = final;
    }
}

size_t engine__sweep_poll(engine__step *steps, size_t n, int64_t now, engine__step ***out) {
    *out = NULL;
    size_t nout = 0;
    for (size_t a = 0; a < n; a++) {
        engine__sweep *sw = steps[a].sweep;
        if (!sw || !sw->spec->early_stopping || now < sw->next_poll) continue;
        sw->next_poll = now + 1000;
        load_histories(sw);
        const double **peers = mp_xcalloc(sw->ntrials + 1, sizeof *peers);
        size_t *npeer = mp_xcalloc(sw->ntrials + 1, sizeof *npeer);
        for (size_t i = 0; i < sw->ntrials; i++) {
            engine__step *s = sw->trials[i];
            if (!s->running || s->trial->stopped || s->cancelling || s->timed_out || !s->trial->nhist) continue;
            size_t np = 0;
            for (size_t j = 0; j < sw->ntrials; j++) {
                if (j == i || !sw->trials[j]->trial->nhist) continue;
                peers[np] = sw->trials[j]->trial->hist;
                npeer[np++] = sw->trials[j]->trial->nhist;
            }
            char why[400];
            if (!engine__median_stop(sw->spec->early_stopping, s->trial->hist, s->trial->nhist, peers, npeer, np, why,
                                    sizeof why))
                continue;
            s->trial->stopped = true;
            s->trial->stop_why = mp_xasprintf("stopped early: %s", why);
            *out = mp_xrealloc(*out, (nout + 1) * sizeof **out);
            (*out)[nout++] = s;
        }
        free(peers);
        free(npeer);
    }
    return nout;
}

/* ---- the aggregate's outcome ------------------------------------------------------------- */

/* The last value of metric in DIR/metrics.json (an array's last element). */
static bool final_value(const char *dir, const char *metric, double *out) {
    double *h = NULL;
    size_t n = 0;
    bool ok = read_history(dir, metric, &h, &n) && n > 0 && isfinite(h[n - 1]);
    if (ok) *out = h[n - 1];
    free(h);
    return ok;
}

static bool trial_ok(const engine__step *s) {
    return s->rec.state == STEP_SUCCEEDED || s->rec.state == STEP_CACHED;
}

/* Makes agg's outputs directory a symlink to best's. */
static int link_outputs(const engine__step *agg, const engine__step *best, mp_err *e) {
    char *dir = mp_path_dir(agg->rec.outputs_dir);
    int rc = mp_mkdir_p(dir, e);
    free(dir);
    if (rc == 0) rc = mp_rm_rf(agg->rec.outputs_dir, e);
    if (rc == 0 && symlink(best->rec.outputs_dir, agg->rec.outputs_dir) != 0)
        rc = mp_err_set(e, MP_EIO, "cannot link %s to %s: %s", agg->rec.outputs_dir, best->rec.outputs_dir,
                        strerror(errno));
    return rc;
}

/* S.best_trial, S.best.P (and S.sweep.seed) as params of the run's MLflow run. */
static int track_best(store *st, const char *run_id, const engine__step *agg, const engine__step *best, mp_err *e) {
    const engine__trial *t = best->trial;
    size_t n = t->nparams + 2, k = 0;
    store_kv *kv = mp_xcalloc(n, sizeof *kv);
    char **keys = mp_xcalloc(n, sizeof *keys);
    keys[k] = mp_xasprintf("%s.best_trial", agg->rec.name);
    kv[k] = (store_kv){keys[k], best->rec.name};
    k++;
    for (size_t i = 0; i < t->nparams; i++, k++) {
        keys[k] = mp_xasprintf("%s.best.%s", agg->rec.name, t->params[i].key);
        kv[k] = (store_kv){keys[k], t->params[i].value};
    }
    char seed[32];
    if (agg->sweep->spec->kind == SPEC_SWEEP_RANDOM) {
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)agg->sweep->spec->seed);
        keys[k] = mp_xasprintf("%s.sweep.seed", agg->rec.name);
        kv[k] = (store_kv){keys[k], seed};
        k++;
    }
    int rc = st->t->log_batch(st, run_id, NULL, 0, kv, k, NULL, 0, e);
    for (size_t i = 0; i < k; i++) free(keys[i]);
    free(keys);
    free(kv);
    return rc;
}

int engine__sweep_conclude(store *st, const char *run_id, bool tracked, engine__step *agg, engine__sweep_end *out,
                          mp_err *e) {
    memset(out, 0, sizeof *out);
    const engine__sweep *sw = agg->sweep;
    const spec_sweep *sp = sw->spec;
    size_t ok = 0, cached = 0, failed = 0, stopped = 0, other = 0, no_metric = 0;
    const engine__step *best = NULL, *first_failed = NULL;
    double best_v = 0;
    for (size_t i = 0; i < sw->ntrials; i++) {
        const engine__step *s = sw->trials[i];
        cached += s->rec.state == STEP_CACHED;
        if (trial_ok(s)) ok++;
        else if (s->rec.state == STEP_STOPPED) stopped++;
        else if (s->rec.state == STEP_FAILED) failed++;
        else other++;
        if (s->rec.state == STEP_FAILED && !first_failed) first_failed = s;
        if (!trial_ok(s)) continue;
        double v;
        if (!sp->metric) {
            if (!best) best = s;
        } else if (!final_value(s->rec.outputs_dir, sp->metric, &v)) {
            no_metric++;
        } else if (!best || (sp->goal == SPEC_GOAL_MAXIMIZE ? v > best_v : v < best_v)) {
            best = s;
            best_v = v;
        }
    }
    mp_buf tally;
    mp_buf_init(&tally);
    mp_buf_printf(&tally, "%zu trial%s: %zu succeeded", sw->ntrials, sw->ntrials == 1 ? "" : "s", ok);
    if (cached) mp_buf_printf(&tally, " (%zu of them cached)", cached);
    if (failed) mp_buf_printf(&tally, ", %zu failed", failed);
    if (stopped) mp_buf_printf(&tally, ", %zu stopped early", stopped);
    if (other) mp_buf_printf(&tally, ", %zu skipped or cancelled", other);
    if (no_metric) mp_buf_printf(&tally, ", %zu without metric %s", no_metric, sp->metric);
    out->state = STEP_FAILED;
    if (!best) {
        out->msg = sp->metric ? mp_xasprintf("no trial succeeded with metric %s (%s)", sp->metric, tally.data)
                              : mp_xasprintf("no trial succeeded (%s)", tally.data);
    } else if (!sp->metric && (failed || other)) {
        out->msg = mp_xasprintf("%s; without an objective every trial must succeed (first failure: %s: %s)",
                                tally.data, first_failed ? first_failed->rec.name : "?",
                                first_failed && first_failed->rec.message ? first_failed->rec.message : "see its log");
        best = NULL;
    }
    mp_err le;
    if (best && link_outputs(agg, best, &le) != 0) {
        out->msg = mp_xasprintf("cannot take the outputs of %s: %s", best->rec.name, le.msg);
        best = NULL;
    }
    int rc = 0;
    if (best) {
        char *ptext = params_text(best->trial);
        out->state = STEP_SUCCEEDED;
        if (sp->metric) {
            out->msg = mp_xasprintf("best %s (%s): %s=%.6g (%s); %s", best->rec.name, ptext, sp->metric, best_v,
                                    goal_name(sp->goal), tally.data);
            out->best_event = mp_xasprintf("trial %s (%s) %s=%.6g %s; %s", best->rec.name, ptext, sp->metric, best_v,
                                           goal_name(sp->goal), tally.data);
        } else {
            out->msg = mp_xasprintf("%s; outputs of %s (%s), the first trial (no objective)", tally.data,
                                    best->rec.name, ptext);
        }
        free(ptext);
        free(agg->rec.params_json);
        agg->rec.params_json = mp_xstrdup(best->rec.params_json);
        if (tracked) rc = track_best(st, run_id, agg, best, e);
    }
    if (!agg->rec.started_ms) agg->rec.started_ms = mp_now_ms();
    agg->rec.ended_ms = mp_now_ms();
    mp_buf_free(&tally);
    return rc;
}

void engine__sweep_end_free(engine__sweep_end *end) {
    free(end->msg);
    free(end->best_event);
    memset(end, 0, sizeof *end);
}
