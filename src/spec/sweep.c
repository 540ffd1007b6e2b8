/* sweep.c — a step's `sweep:` field: a hyperparameter search over the step.
 *
 *   sweep:
 *     grid: {lr: [0.01, 0.1], depth: [4, 6]}          # every combination, or
 *     random: {count: 20, seed: 7, params: {lr: {min: 0.001, max: 0.3, scale: log}, depth: [4, 6, 8]}}
 *     maxParallel: 4                                    # trials running at once
 *     objective: {metric: valid_auc, goal: maximize}    # how the best trial is picked
 *     earlyStopping: {metric: valid_logloss, goal: minimize, minTrials: 3, startStep: 5}
 *
 * The decoder (spec__decode_sweep, one entry of the step field table) checks
 * shapes and types only; spec__validate_sweep runs with the rest of validate.c
 * and checks what needs the whole pipeline: each swept name is a pipeline param,
 * the sweep has at most SPEC_SWEEP_MAX_TRIALS trials, and earlyStopping has a
 * metric and a goal. What a sweep does at run time is the engine's business
 * (src/engine/sweep.c). */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

static const char *const SWEEP_FIELDS[] = {"grid", "random", "maxParallel", "objective", "earlyStopping", NULL};
static const char *const RANDOM_FIELDS[] = {"count", "seed", "params", NULL};
static const char *const RANGE_FIELDS[] = {"min", "max", "scale", NULL};
static const char *const SCALES[] = {"linear", "log", NULL};
static const char *const OBJECTIVE_FIELDS[] = {"metric", "goal", NULL};
static const char *const EARLY_FIELDS[] = {"metric", "goal", "minTrials", "startStep", NULL};
static const char *const GOALS[] = {"minimize", "maximize", NULL};

static bool is_param_name(const char *s) {
    if (!*s || *s == '-') return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return false;
    return true;
}

/* Whether a scalar is written as an integer: an optional sign and digits only. */
static bool written_as_integer(struct fy_node *n) {
    size_t len = 0;
    const char *s = fy_node_get_scalar(n, &len);
    size_t i = s && len && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (!s || i == len) return false;
    for (; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

/* A non-empty list of scalars into p->values. */
static bool value_list(spec__ctx *c, struct fy_node *v, spec_pos at, const char *path, spec_sweep_param *p) {
    int n = fy_node_sequence_item_count(v);
    if (n <= 0) {
        spec__err(c, spec__pos(v, at), "field \"%s\" must not be empty (list the values to try)", path);
        return false;
    }
    p->values = mp_xcalloc((size_t)n + 1, sizeof *p->values);
    bool ok = true;
    void *it = NULL;
    struct fy_node *item;
    for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
        char *sub = mp_xasprintf("%s[%d]", path, i);
        char *val = NULL;
        if (spec__get_str(c, item, at, sub, &val))
            p->values[p->nvalues++] = val;
        else
            ok = false;
        free(sub);
    }
    return ok;
}

/* {min, max, scale}: two numbers, min <= max; integers when both are written as
 * integers; scale log needs min > 0. */
static bool value_range(spec__ctx *c, struct fy_node *v, spec_pos at, const char *path, spec_sweep_param *p) {
    if (!spec__open_map(c, v, at, path, RANGE_FIELDS)) return false;
    bool ok = true, integer = true;
    double *dst[] = {&p->min, &p->max};
    for (int i = 0; i < 2; i++) {
        struct fy_node *q;
        spec_pos qp;
        char *sub = mp_xasprintf("%s.%s", path, RANGE_FIELDS[i]);
        if (!spec__lookup(v, RANGE_FIELDS[i], &q, &qp) || spec__is_null(q)) {
            spec__err(c, spec__pos(v, at), "missing required field \"%s\"", sub);
            ok = false;
        } else if (!spec__get_number(c, q, qp, sub, -1e15, dst[i])) {
            ok = false;
        } else {
            integer = integer && written_as_integer(q);
        }
        free(sub);
    }
    struct fy_node *q;
    spec_pos qp;
    if (spec__lookup(v, "scale", &q, &qp) && !spec__is_null(q)) {
        char *sub = mp_xasprintf("%s.scale", path);
        int sc = spec__get_enum(c, q, qp, sub, SCALES);
        free(sub);
        if (sc < 0) ok = false;
        p->log = sc == 1;
    }
    if (ok && p->min > p->max) {
        spec__err(c, spec__pos(v, at), "%s has min %g above max %g", path, p->min, p->max);
        ok = false;
    }
    if (ok && p->log && p->min <= 0) {
        spec__err(c, spec__pos(v, at), "%s has scale log and min %g; a log scale needs min above 0", path, p->min);
        ok = false;
    }
    p->integer = ok && integer;
    p->is_range = ok;
    return ok;
}

static void sweep_param_free(spec_sweep_param *p) {
    free(p->name);
    for (size_t i = 0; i < p->nvalues; i++) free(p->values[i]);
    free(p->values);
}

static void not_values(spec__ctx *c, struct fy_node *v, spec_pos at, const char *path) {
    char *got = spec__describe(v);
    spec__err(c, spec__pos(v, at), "field \"%s\" must be a list of values or {min, max}, got %s", path, got);
    free(got);
}

/* grid: {P: [values]} or random.params: {P: [values] | {min, max}}. */
static void sweep_params(spec__ctx *c, struct fy_node *m, spec_pos at, const char *path, bool ranges, spec_sweep *sw) {
    if (!spec__expect(c, m, at, path, FYNT_MAPPING)) return;
    int n = fy_node_mapping_item_count(m);
    if (n <= 0) {
        spec__err(c, spec__pos(m, at), "field \"%s\" must not be empty (name at least one param)", path);
        return;
    }
    sw->params = mp_xcalloc((size_t)n, sizeof *sw->params);
    void *it = NULL;
    struct fy_node_pair *pr;
    while ((pr = fy_node_mapping_iterate(m, &it))) {
        struct fy_node *k = fy_node_pair_key(pr), *v = fy_node_pair_value(pr);
        spec_pos kp = spec__pos(k, at);
        if (!spec__is_scalar(k)) {
            spec__err(c, kp, "keys in %s must be strings", path);
            continue;
        }
        spec_sweep_param p = {.name = spec__scalar_dup(k), .pos = kp};
        char *sub = mp_xasprintf("%s.%s", path, p.name);
        bool ok = false;
        if (!is_param_name(p.name))
            spec__err(c, kp, "param name \"%s\" in %s is not valid: use letters, digits, '_' and '-'", p.name, path);
        else if (fy_node_get_type(v) == FYNT_SEQUENCE && !spec__is_null(v))
            ok = value_list(c, v, kp, sub, &p);
        else if (ranges && fy_node_get_type(v) == FYNT_MAPPING)
            ok = value_range(c, v, kp, sub, &p);
        else if (!ranges)
            spec__expect(c, v, kp, sub, FYNT_SEQUENCE);
        else
            not_values(c, v, kp, sub);
        if (ok)
            sw->params[sw->nparams++] = p;
        else
            sweep_param_free(&p);
        free(sub);
    }
}

static void sweep_random(spec__ctx *c, struct fy_node *v, spec_pos kp, const char *path, spec_sweep *sw) {
    if (!spec__open_map(c, v, kp, path, RANDOM_FIELDS)) return;
    struct fy_node *q;
    spec_pos qp;
    char *sub = mp_xasprintf("%s.count", path);
    long long n;
    if (!spec__lookup(v, "count", &q, &qp) || spec__is_null(q))
        spec__err(c, spec__pos(v, kp), "missing required field \"%s\" (how many trials to draw)", sub);
    else if (spec__get_int(c, q, qp, sub, 1, SPEC_SWEEP_MAX_TRIALS, &n))
        sw->count = (int)n;
    free(sub);
    sub = mp_xasprintf("%s.seed", path);
    if (spec__lookup(v, "seed", &q, &qp) && !spec__is_null(q) && spec__get_int(c, q, qp, sub, 0, LLONG_MAX, &n)) {
        sw->seed = (uint64_t)n;
        sw->has_seed = true;
    }
    free(sub);
    sub = mp_xasprintf("%s.params", path);
    if (!spec__lookup(v, "params", &q, &qp) || spec__is_null(q))
        spec__err(c, spec__pos(v, kp), "missing required field \"%s\"", sub);
    else
        sweep_params(c, q, qp, sub, true, sw);
    free(sub);
}

/* metric (a string) and goal (minimize|maximize); either may be optional. */
static void metric_goal(spec__ctx *c, struct fy_node *v, spec_pos kp, const char *path, bool required, char **metric,
                        spec_goal *goal) {
    struct fy_node *q;
    spec_pos qp;
    char *sub = mp_xasprintf("%s.metric", path);
    if (spec__lookup(v, "metric", &q, &qp) && !spec__is_null(q))
        spec__get_str(c, q, qp, sub, metric);
    else if (required)
        spec__err(c, spec__pos(v, kp), "missing required field \"%s\"", sub);
    free(sub);
    sub = mp_xasprintf("%s.goal", path);
    if (spec__lookup(v, "goal", &q, &qp) && !spec__is_null(q)) {
        int g = spec__get_enum(c, q, qp, sub, GOALS);
        if (g >= 0) *goal = g == 0 ? SPEC_GOAL_MINIMIZE : SPEC_GOAL_MAXIMIZE;
    } else if (required) {
        spec__err(c, spec__pos(v, kp), "missing required field \"%s\" (minimize or maximize)", sub);
    }
    free(sub);
}

static void sweep_early_stopping(spec__ctx *c, struct fy_node *v, spec_pos kp, const char *path, spec_sweep *sw) {
    if (!spec__open_map(c, v, kp, path, EARLY_FIELDS)) return;
    spec_early_stopping *es = sw->early_stopping = mp_xcalloc(1, sizeof *es);
    es->pos = spec__pos(v, kp);
    es->min_trials = 3;
    es->start_step = 4;
    metric_goal(c, v, kp, path, false, &es->metric, &es->goal);
    static const char *const ints[] = {"minTrials", "startStep"};
    int *dst[] = {&es->min_trials, &es->start_step};
    for (int i = 0; i < 2; i++) {
        struct fy_node *q;
        spec_pos qp;
        long long n;
        char *sub = mp_xasprintf("%s.%s", path, ints[i]);
        if (spec__lookup(v, ints[i], &q, &qp) && !spec__is_null(q) && spec__get_int(c, q, qp, sub, 1, 1000000, &n))
            *dst[i] = (int)n;
        free(sub);
    }
}

void spec__decode_sweep(spec__ctx *c, spec_step *s, const char *where, struct fy_node *v, spec_pos kp,
                        const char *path) {
    if (!spec__open_map(c, v, kp, path, SWEEP_FIELDS)) return;
    spec_sweep *sw = s->sweep = mp_xcalloc(1, sizeof *sw);
    sw->pos = spec__pos(v, kp);
    struct fy_node *g = NULL, *r = NULL, *q;
    spec_pos gp = sw->pos, rp = sw->pos, qp;
    bool has_grid = spec__lookup(v, "grid", &g, &gp) && !spec__is_null(g);
    bool has_random = spec__lookup(v, "random", &r, &rp) && !spec__is_null(r);
    if (has_grid && has_random) {
        spec__err(c, rp, "%s has both grid and random %s; use one of them", path, where);
    } else if (!has_grid && !has_random) {
        spec__err(c, sw->pos, "missing required field \"%s.grid\" or \"%s.random\" (exactly one of them)", path, path);
    } else if (has_grid) {
        sw->kind = SPEC_SWEEP_GRID;
        char *sub = mp_xasprintf("%s.grid", path);
        sweep_params(c, g, gp, sub, false, sw);
        free(sub);
    } else {
        sw->kind = SPEC_SWEEP_RANDOM;
        char *sub = mp_xasprintf("%s.random", path);
        sweep_random(c, r, rp, sub, sw);
        free(sub);
    }
    char *sub = mp_xasprintf("%s.maxParallel", path);
    long long n;
    if (spec__lookup(v, "maxParallel", &q, &qp) && !spec__is_null(q) && spec__get_int(c, q, qp, sub, 1, 10000, &n))
        sw->max_parallel = (int)n;
    free(sub);
    sub = mp_xasprintf("%s.objective", path);
    if (spec__lookup(v, "objective", &q, &qp) && !spec__is_null(q) && spec__open_map(c, q, qp, sub, OBJECTIVE_FIELDS))
        metric_goal(c, q, qp, sub, true, &sw->metric, &sw->goal);
    free(sub);
    sub = mp_xasprintf("%s.earlyStopping", path);
    if (spec__lookup(v, "earlyStopping", &q, &qp) && !spec__is_null(q)) sweep_early_stopping(c, q, qp, sub, sw);
    free(sub);
}

size_t spec_sweep_trials(const spec_sweep *sw) {
    if (sw->kind == SPEC_SWEEP_RANDOM) return sw->count > 0 ? (size_t)sw->count : 0;
    size_t n = sw->nparams ? 1 : 0;
    for (size_t i = 0; i < sw->nparams; i++) {
        size_t k = sw->params[i].nvalues;
        n = k && n > SIZE_MAX / k ? SIZE_MAX : n * k;
    }
    return n;
}

void spec__validate_sweep(spec__ctx *c, const spec_pipeline *p, spec_step *s) {
    spec_sweep *sw = s->sweep;
    const char **names = mp_xcalloc(p->nparams + 1, sizeof *names);
    for (size_t i = 0; i < p->nparams; i++) names[i] = p->params[i].key;
    for (size_t i = 0; i < sw->nparams; i++) {
        const char *name = sw->params[i].name;
        bool known = false;
        for (size_t j = 0; j < p->nparams && !known; j++) known = strcmp(names[j], name) == 0;
        if (known) continue;
        const char *near = spec__closest(name, names, p->nparams);
        char *all = spec__join(names, p->nparams);
        char *hint = near ? mp_xasprintf("did you mean \"%s\"?", near) : mp_xasprintf("known params: %s", all);
        spec__err(c, sw->params[i].pos,
                  "sweep of step \"%s\" varies \"%s\", which is not a param of the pipeline (%s); a sweep can only "
                  "vary params declared in spec.params",
                  s->name ? s->name : "?", name, hint);
        free(hint);
        free(all);
    }
    free(names);
    size_t n = spec_sweep_trials(sw);
    if (sw->kind == SPEC_SWEEP_GRID && n > SPEC_SWEEP_MAX_TRIALS) {
        mp_buf b;
        mp_buf_init(&b);
        for (size_t i = 0; i < sw->nparams; i++)
            mp_buf_printf(&b, "%s%s (%zu)", i ? " x " : "", sw->params[i].name, sw->params[i].nvalues);
        char count[32];
        if (n == SIZE_MAX) mp_strlcpy(count, "too many", sizeof count);
        else snprintf(count, sizeof count, "%zu", n);
        spec__err(c, sw->pos,
                  "sweep of step \"%s\" has %s trials (grid of %s); at most %d are allowed: narrow the grid, or "
                  "use random with a count",
                  s->name ? s->name : "?", count, b.data, SPEC_SWEEP_MAX_TRIALS);
        mp_buf_free(&b);
    }
    spec_early_stopping *es = sw->early_stopping;
    if (!es) return;
    if (!es->metric && sw->metric) es->metric = mp_xstrdup(sw->metric);
    if (!es->metric) {
        spec__err(c, es->pos,
                  "earlyStopping of step \"%s\" needs a metric: set earlyStopping.metric, or an objective whose "
                  "metric it then uses",
                  s->name ? s->name : "?");
        return;
    }
    if (!es->goal && sw->metric && strcmp(es->metric, sw->metric) == 0) es->goal = sw->goal;
    if (!es->goal)
        spec__err(c, es->pos,
                  "earlyStopping of step \"%s\" needs a goal (minimize or maximize) for metric \"%s\", which is not "
                  "the objective's metric",
                  s->name ? s->name : "?", es->metric);
}

void spec__sweep_free(spec_sweep *sw) {
    if (!sw) return;
    for (size_t i = 0; i < sw->nparams; i++) sweep_param_free(&sw->params[i]);
    free(sw->params);
    free(sw->metric);
    if (sw->early_stopping) free(sw->early_stopping->metric);
    free(sw->early_stopping);
    free(sw);
}

/* ---- trials' values ----------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* One draw for param p (see the top comment), as text into out. */
static void draw(const spec_sweep_param *p, uint64_t *state, char *out, size_t n) {
    double u = (double)(splitmix64(state) >> 11) * 0x1.0p-53;
    if (!p->is_range) {
        size_t i = (size_t)(u * (double)p->nvalues);
        snprintf(out, n, "%s", p->values[i < p->nvalues ? i : p->nvalues - 1]);
    } else if (p->integer) {
        double hi = p->max + 1, v;
        if (p->log) v = floor(exp(log(p->min) + u * (log(hi) - log(p->min))));
        else v = p->min + floor(u * (hi - p->min));
        snprintf(out, n, "%lld", (long long)(v > p->max ? p->max : v < p->min ? p->min : v));
    } else {
        double v = p->log ? exp(log(p->min) + u * (log(p->max) - log(p->min))) : p->min + u * (p->max - p->min);
        snprintf(out, n, "%.6g", v);
    }
}

size_t spec_sweep_expand(const spec_sweep *sw, char ***out) {
    size_t n = spec_sweep_trials(sw);
    if (n > SPEC_SWEEP_MAX_TRIALS) n = 0; /* validation refuses it */
    char **v = mp_xcalloc(n + 1, sizeof *v);
    uint64_t state = sw->seed;
    for (size_t t = 0; t < n; t++) {
        json_t *o = json_object();
        size_t rest = t; /* grid: t in mixed radix, the last param the lowest digit */
        char **vals = mp_xcalloc(sw->nparams + 1, sizeof *vals);
        for (size_t j = sw->nparams; j-- > 0 && sw->kind == SPEC_SWEEP_GRID;) {
            vals[j] = sw->params[j].values[rest % sw->params[j].nvalues];
            rest /= sw->params[j].nvalues;
        }
        for (size_t j = 0; j < sw->nparams; j++) {
            char buf[512];
            if (sw->kind == SPEC_SWEEP_RANDOM) draw(&sw->params[j], &state, buf, sizeof buf);
            json_object_set_new(o, sw->params[j].name, json_string(sw->kind == SPEC_SWEEP_GRID ? vals[j] : buf));
        }
        free(vals);
        v[t] = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
    }
    *out = v;
    return n;
}
