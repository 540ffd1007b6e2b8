/* step_sched.c — the fields of a Pipeline step that only the scheduler reads.
 *
 * priorityClassName and queueName name a PriorityClass and a LocalQueue (resolved
 * by the scheduler, not here: they may live in another file); nodeSelector and
 * tolerations restrict which nodes a step's pods may use, as in a Kubernetes pod
 * spec; parallelism makes the step a gang of pods admitted all at once;
 * checkpoint tells where a preempted step keeps its state; sweep (decoded in
 * sweep.c) describes a hyperparameter search over the step. Each field has one
 * decoder in SPEC__SCHED_STEP_FIELDS, which pipeline.c runs after its own table;
 * decoders only check shapes and types and never look outside their step. */
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
    s->priority_class_pos = spec__pos(v, kp);
}

static void f_queue_name(spec__ctx *c, spec_step *s, const char *where, struct fy_node *v, spec_pos kp,
                         const char *path) {
    (void)where;
    object_name(c, v, kp, path, "LocalQueue", &s->queue_name);
    s->queue_name_pos = spec__pos(v, kp);
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

const spec__step_field SPEC__SCHED_STEP_FIELDS[] = {
    {"priorityClassName", f_priority_class},
    {"queueName", f_queue_name},
    {"nodeSelector", f_node_selector},
    {"tolerations", f_tolerations},
    {"parallelism", f_parallelism},
    {"checkpoint", f_checkpoint},
    {"sweep", spec__decode_sweep},
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
    spec__sweep_free(s->sweep);
    s->sweep = NULL;
}
