/* step_sched.c — the fields of a Pipeline step that only the scheduler reads.
 *
 * priorityClassName and queueName name a PriorityClass and a LocalQueue (resolved
 * by the scheduler, not here: they may live in another file); nodeSelector and
 * tolerations restrict which nodes a step's pods may use, as in a Kubernetes pod
 * spec; parallelism makes the step a gang of pods admitted all at once;
 * checkpoint tells where a preempted step keeps its state; sweep describes a
 * hyperparameter search over the step. Each field has one decoder in
 * SPEC__SCHED_STEP_FIELDS, which pipeline.c runs after its own table; decoders
 * only check shapes and types and never look outside their step. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

#define DNS_RULE                                                                                                       \
    "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"

/* A field naming another object: a string that is a valid name. */
static void object_name(spec__ctx *c, struct fy_node *v, spec_pos kp, const char *path, const char *what, char **dst) {
    if (!spec__get_str(c, v, kp, path, dst)) return;
    if (!spec__is_dns_label(*dst)) {
        spec__err(c, spec__pos(v, kp), "field \"%s\": \"%s\" is not a valid %s name: " DNS_RULE, path, *dst, what);
        free(*dst);
        *dst = NULL;
    }
}

static void f_priority_class(spec__ctx *c, spec_step *s, const char *where, struct fy_node *v, spec_pos kp,
                             const char *path) {
    (void)where;
    object_name(c, v, kp, path, "PriorityClass", &s->priority_class);
}

static void f_queue_name(spec__ctx *c, spec_step *s, const char *where, struct fy_node *v, spec_pos kp,
                         const char *path) {
    (void)where;
    object_name(c, v, kp, path, "LocalQueue", &s->queue_name);
}

static void f_node_selector(spec__ctx *c, spec_step *s, const char *where, struct fy_node *v, spec_pos kp,
                            const char *path) {
    (void)where;
    spec__decode_string_map(c, v, kp, path, &s->node_selector, &s->nnode_selector);
}

static void f_parallelism(spec__ctx *c, spec_step *s, const char *where, struct fy_node *v, spec_pos kp,
                          const char *path) {
    (void)where;
    long long n;
    if (spec__get_int(c, v, kp, path, 1, 10000, &n)) s->parallelism = (int)n;
}

static const char *const CHECKPOINT_FIELDS[] = {"path", NULL};

static void f_checkpoint(spec__ctx *c, spec_step *s, const char *where, struct fy_node *v, spec_pos kp,
                         const char *path) {
    (void)where;
    if (!spec__open_map(c, v, kp, path, CHECKPOINT_FIELDS)) return;
    struct fy_node *q;
    spec_pos qp;
    char *sub = mp_xasprintf("%s.path", path);
    if (!spec__lookup(v, "path", &q, &qp) || spec__is_null(q)) {
        spec__err(c, spec__pos(v, kp), "missing required field \"%s\"", sub);
    } else if (spec__get_str(c, q, qp, sub, &s->checkpoint_path) && !*s->checkpoint_path) {
        spec__err(c, spec__pos(q, qp), "field \"%s\" must not be empty", sub);
        free(s->checkpoint_path);
        s->checkpoint_path = NULL;
    }
    free(sub);
}

/* ---- tolerations -------------------------------------------------------------------- */

static const char *const TOLERATION_FIELDS[] = {"key", "operator", "value", "effect", NULL};
static const char *const TOL_OPS[] = {"Equal", "Exists", NULL};

/* Reads an optional string field of item into *dst ("" when absent); false after a diagnostic. */
static bool opt_str(spec__ctx *c, struct fy_node *item, const char *key, const char *sub, char **dst) {
    struct fy_node *q;
    spec_pos qp;
    bool ok = true;
    if (spec__lookup(item, key, &q, &qp) && !spec__is_null(q)) {
        char *f = mp_xasprintf("%s.%s", sub, key);
        ok = spec__get_str(c, q, qp, f, dst);
        free(f);
    }
    if (!*dst) *dst = mp_xstrdup("");
    return ok;
}

static bool decode_toleration(spec__ctx *c, struct fy_node *item, spec_pos at, const char *sub, spec_toleration *t) {
    if (!spec__open_map(c, item, at, sub, TOLERATION_FIELDS)) return false;
    t->pos = spec__pos(item, at);
    bool ok = opt_str(c, item, "key", sub, &t->key);
    ok = opt_str(c, item, "value", sub, &t->value) && ok;
    struct fy_node *q;
    spec_pos qp;
    char *f = mp_xasprintf("%s.operator", sub);
    if (spec__lookup(item, "operator", &q, &qp) && !spec__is_null(q)) {
        int op = spec__get_enum(c, q, qp, f, TOL_OPS);
        if (op < 0) ok = false;
        t->op = op == 1 ? SPEC_TOL_EXISTS : SPEC_TOL_EQUAL;
    }
    free(f);
    f = mp_xasprintf("%s.effect", sub);
    if (spec__lookup(item, "effect", &q, &qp) && !spec__is_null(q)) {
        int e = spec__get_enum(c, q, qp, f, SPEC__EFFECTS);
        if (e < 0) ok = false;
        t->effect = (spec_taint_effect)(e + 1);
    }
    free(f);
    if (ok && t->op == SPEC_TOL_EXISTS && *t->value) {
        spec__err(c, t->pos, "%s has operator Exists and a value \"%s\"; Exists matches any value, drop the value",
                  sub, t->value);
        ok = false;
    }
    if (ok && t->op == SPEC_TOL_EQUAL && !*t->key) {
        spec__err(c, t->pos, "%s has no key: give a key, or operator Exists to tolerate every taint", sub);
        ok = false;
    }
    return ok;
}

static void f_tolerations(spec__ctx *c, spec_step *s, const char *where, struct fy_node *v, spec_pos kp,
                          const char *path) {
    (void)where;
    if (!spec__expect(c, v, kp, path, FYNT_SEQUENCE)) return;
    s->tolerations = mp_xcalloc((size_t)fy_node_sequence_item_count(v) + 1, sizeof *s->tolerations);
    void *it = NULL;
    struct fy_node *item;
    for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
        char *sub = mp_xasprintf("%s[%d]", path, i);
        spec_toleration t = {0};
        if (decode_toleration(c, item, kp, sub, &t)) {
            s->tolerations[s->ntolerations++] = t;
        } else {
            free(t.key);
            free(t.value);
        }
        free(sub);
    }
}

/* ---- sweep -------------------------------------------------------------------------- */

static const char *const SWEEP_FIELDS[] = {"grid", "random", "maxParallel", "objective", NULL};
static const char *const RANDOM_FIELDS[] = {"count", "seed", "params", NULL};
static const char *const RANGE_FIELDS[] = {"min", "max", NULL};
static const char *const OBJECTIVE_FIELDS[] = {"metric", "goal", NULL};
static const char *const GOALS[] = {"minimize", "maximize", NULL};

static bool is_param_name(const char *s) {
    if (!*s || *s == '-') return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return false;
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

/* {min, max}, both numbers, min <= max. */
static bool value_range(spec__ctx *c, struct fy_node *v, spec_pos at, const char *path, spec_sweep_param *p) {
    if (!spec__open_map(c, v, at, path, RANGE_FIELDS)) return false;
    bool ok = true;
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
        }
        free(sub);
    }
    if (ok && p->min > p->max) {
        spec__err(c, spec__pos(v, at), "%s has min %g above max %g", path, p->min, p->max);
        ok = false;
    }
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
    else if (spec__get_int(c, q, qp, sub, 1, 100000, &n))
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

static void sweep_objective(spec__ctx *c, struct fy_node *v, spec_pos kp, const char *path, spec_sweep *sw) {
    if (!spec__open_map(c, v, kp, path, OBJECTIVE_FIELDS)) return;
    struct fy_node *q;
    spec_pos qp;
    char *sub = mp_xasprintf("%s.metric", path);
    if (!spec__lookup(v, "metric", &q, &qp) || spec__is_null(q))
        spec__err(c, spec__pos(v, kp), "missing required field \"%s\"", sub);
    else
        spec__get_str(c, q, qp, sub, &sw->metric);
    free(sub);
    sub = mp_xasprintf("%s.goal", path);
    if (!spec__lookup(v, "goal", &q, &qp) || spec__is_null(q)) {
        spec__err(c, spec__pos(v, kp), "missing required field \"%s\" (minimize or maximize)", sub);
    } else {
        int g = spec__get_enum(c, q, qp, sub, GOALS);
        if (g >= 0) sw->goal = g == 0 ? SPEC_GOAL_MINIMIZE : SPEC_GOAL_MAXIMIZE;
    }
    free(sub);
}

static void f_sweep(spec__ctx *c, spec_step *s, const char *where, struct fy_node *v, spec_pos kp, const char *path) {
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
    if (spec__lookup(v, "objective", &q, &qp) && !spec__is_null(q)) sweep_objective(c, q, qp, sub, sw);
    free(sub);
}

const spec__step_field SPEC__SCHED_STEP_FIELDS[] = {
    {"priorityClassName", f_priority_class},
    {"queueName", f_queue_name},
    {"nodeSelector", f_node_selector},
    {"tolerations", f_tolerations},
    {"parallelism", f_parallelism},
    {"checkpoint", f_checkpoint},
    {"sweep", f_sweep},
};
const size_t SPEC__NSCHED_STEP_FIELDS = sizeof SPEC__SCHED_STEP_FIELDS / sizeof *SPEC__SCHED_STEP_FIELDS;

void spec__step_sched_free(spec_step *s) {
    free(s->priority_class);
    free(s->queue_name);
    spec_kv_array_free(s->node_selector, s->nnode_selector);
    for (size_t i = 0; i < s->ntolerations; i++) {
        free(s->tolerations[i].key);
        free(s->tolerations[i].value);
    }
    free(s->tolerations);
    free(s->checkpoint_path);
    if (s->sweep) {
        for (size_t i = 0; i < s->sweep->nparams; i++) sweep_param_free(&s->sweep->params[i]);
        free(s->sweep->params);
        free(s->sweep->metric);
        free(s->sweep);
    }
}
