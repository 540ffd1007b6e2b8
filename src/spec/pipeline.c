/* pipeline.c — decodes a Pipeline's `spec` (params and steps) into spec_pipeline.
 *
 * Each step field has one decoder in STEP_FIELDS, a table read in order (the
 * scheduling fields have theirs in step_sched.c, read after these); a field
 * with the wrong type, a bad quantity or a bad name is one diagnostic and the
 * decoder moves on, so one pass reports every problem of the document. Strings
 * that may hold templates are recorded with their field path and position in the
 * step's spec__step_aux for validate.c, which runs after all steps are known. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

typedef struct step_dec {
    spec__ctx *c;
    spec_step *s;
    spec__step_aux *aux;
    char *path;  /* "spec.steps[2]" */
    char *who;   /* "step \"train\"" or "spec.steps[2]" when it has no name */
    char *where; /* "in " who */
    spec_pos at; /* of the step's mapping */
    spec_pos script_at;
    spec_pos register_at;
} step_dec;

typedef void (*field_fn)(step_dec *d, struct fy_node *v, spec_pos kp, const char *path);

static void add_site(step_dec *d, const char *text, const char *path, spec_pos pos, bool in_input) {
    spec__step_aux *a = d->aux;
    if (a->nsites == a->capsites) {
        a->capsites = a->capsites ? a->capsites * 2 : 8;
        a->sites = mp_xrealloc(a->sites, a->capsites * sizeof *a->sites);
    }
    a->sites[a->nsites++] = (spec__site){text, mp_xstrdup(path), pos, in_input};
}

/* Names usable in {{...}} references: [A-Za-z0-9_][A-Za-z0-9_-]*. */
static bool is_ref_name(const char *s) {
    if (!*s || *s == '-') return false;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}

static bool is_env_name(const char *s) {
    if (!*s || (*s >= '0' && *s <= '9')) return false;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    }
    return true;
}

/* A relative path that stays inside its directory. */
static bool is_inner_path(const char *p) {
    if (!*p || *p == '/') return false;
    for (const char *seg = p; seg;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 2 && seg[0] == '.' && seg[1] == '.') return false;
        seg = slash ? slash + 1 : NULL;
    }
    return true;
}

/* ---- step fields -------------------------------------------------------------- */

static void f_name(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    d->aux->name_pos = spec__pos(v, kp);
    if (!spec__get_str(d->c, v, kp, path, &d->s->name)) {
        d->aux->bad_name = true;
        return;
    }
    if (!spec__is_dns_label(d->s->name)) {
        spec__err(d->c, d->aux->name_pos,
                  "step name \"%s\" is not valid: use lowercase letters, digits and '-', starting and ending with a "
                  "letter or digit, at most 63 characters",
                  d->s->name);
        d->aux->bad_name = true;
    }
}

static void f_command(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    if (!spec__expect(d->c, v, kp, path, FYNT_SEQUENCE)) return;
    int n = fy_node_sequence_item_count(v);
    if (n <= 0) {
        spec__err(d->c, spec__pos(v, kp), "field \"%s\" must not be empty (it is the program and its arguments)", path);
        return;
    }
    d->s->command = mp_xcalloc((size_t)n + 1, sizeof *d->s->command);
    void *it = NULL;
    struct fy_node *item;
    for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
        char *sub = mp_xasprintf("%s[%d]", path, i);
        char *arg = NULL;
        if (spec__get_str(d->c, item, kp, sub, &arg)) {
            d->s->command[d->s->ncommand++] = arg;
            add_site(d, arg, sub, spec__pos(item, kp), false);
        }
        free(sub);
    }
}

static void f_script(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    d->script_at = kp;
    if (spec__get_str(d->c, v, kp, path, &d->s->script)) add_site(d, d->s->script, path, spec__pos(v, kp), false);
}

static void f_image(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    if (!spec__is_null(v)) spec__get_str(d->c, v, kp, path, &d->s->image);
}

static void f_working_dir(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    if (spec__get_str(d->c, v, kp, path, &d->s->working_dir))
        add_site(d, d->s->working_dir, path, spec__pos(v, kp), false);
}

/* One env entry; value may be a null node (empty value); vf, when not NULL, is its
 * valueFrom (a Secret's key). */
static void env_add(step_dec *d, struct fy_node *kn, struct fy_node *vn, struct fy_node *vf, spec_pos at,
                    const char *path) {
    spec_step *s = d->s;
    char *name = spec__scalar_dup(kn);
    spec_pos np = spec__pos(kn, at);
    if (!is_env_name(name)) {
        spec__err(d->c, np,
                  "env var name \"%s\" in %s is not valid: use letters, digits and '_', not starting with a digit",
                  name, path);
        free(name);
        return;
    }
    if (mp_str_starts(name, "MLPLANE_")) {
        spec__err(d->c, np, "env var name \"%s\" in %s is reserved: mlplane sets the MLPLANE_ variables itself", name,
                  path);
        free(name);
        return;
    }
    for (size_t i = 0; i < s->nenv + s->nsecret_refs; i++) {
        const char *k = i < s->nenv ? s->env[i].key : s->secret_refs[i - s->nenv].env;
        if (k && strcmp(k, name) == 0) {
            spec__err(d->c, np, "env var \"%s\" is set twice %s (first at line %d)", name, d->where,
                      i < s->nenv ? s->env[i].pos.line : s->secret_refs[i - s->nenv].pos.line);
            free(name);
            return;
        }
    }
    char *sub = mp_xasprintf("%s.%s", path, name);
    if (!vf && vn && fy_node_get_type(vn) == FYNT_MAPPING) { /* NAME: {valueFrom: ...} */
        static const char *const VF[] = {"valueFrom", NULL};
        char *where = mp_xasprintf("in %s", sub);
        spec__check_keys(d->c, vn, VF, where);
        free(where);
        spec_pos vp;
        if (!spec__lookup(vn, "valueFrom", &vf, &vp)) {
            spec__err(d->c, spec__pos(vn, np), "%s must be a string or {valueFrom: {secretKeyRef: {name, key}}}", sub);
            free(name);
            free(sub);
            return;
        }
    }
    if (vf) {
        char *vsub = mp_xasprintf("%s.valueFrom", sub);
        spec__decode_secret_env(d->c, s, name, vf, np, vsub);
        free(vsub);
        free(sub);
        return;
    }
    char *val = NULL;
    if (spec__is_null(vn))
        val = mp_xstrdup("");
    else if (!spec__get_str(d->c, vn, np, sub, &val))
        val = NULL;
    if (val) {
        s->env[s->nenv++] = (spec_kv){name, val, spec__pos(vn, np)};
        add_site(d, val, sub, spec__pos(vn, np), false);
    } else {
        free(name);
    }
    free(sub);
}

static const char *const ENV_ITEM_FIELDS[] = {"name", "value", "valueFrom", NULL};

static void f_env(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    if (spec__is_null(v)) return;
    enum fy_node_type t = fy_node_get_type(v);
    if (t == FYNT_MAPPING) { /* env: {NAME: value} */
        d->s->env = mp_xcalloc((size_t)fy_node_mapping_item_count(v) + 1, sizeof *d->s->env);
        void *it = NULL;
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(v, &it))) {
            struct fy_node *k = fy_node_pair_key(p);
            if (!spec__is_scalar(k)) {
                spec__err(d->c, spec__pos(k, kp), "keys in %s must be strings", path);
                continue;
            }
            env_add(d, k, fy_node_pair_value(p), NULL, kp, path);
        }
        return;
    }
    if (t != FYNT_SEQUENCE) { /* env: [{name: N, value: V}] is the other form */
        char *got = spec__describe(v);
        spec__err(d->c, spec__pos(v, kp),
                  "field \"%s\" must be a mapping of NAME: value or a list of {name, value}, got %s", path, got);
        free(got);
        return;
    }
    d->s->env = mp_xcalloc((size_t)fy_node_sequence_item_count(v) + 1, sizeof *d->s->env);
    void *it = NULL;
    struct fy_node *item;
    for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
        char *sub = mp_xasprintf("%s[%d]", path, i);
        if (spec__expect(d->c, item, kp, sub, FYNT_MAPPING)) {
            spec_pos ip = spec__pos(item, kp);
            char *where = mp_xasprintf("in %s", sub);
            spec__check_keys(d->c, item, ENV_ITEM_FIELDS, where);
            free(where);
            struct fy_node *nn, *vn = NULL;
            spec_pos np, vp;
            if (!spec__lookup(item, "name", &nn, &np))
                spec__err(d->c, ip, "missing required field \"name\" in %s", sub);
            else if (!spec__is_scalar(nn)) {
                char *f = mp_xasprintf("%s.name", sub);
                spec__expect(d->c, nn, np, f, FYNT_SCALAR);
                free(f);
            } else {
                struct fy_node *vf = NULL;
                spec_pos fp;
                bool has_value = spec__lookup(item, "value", &vn, &vp);
                if (spec__lookup(item, "valueFrom", &vf, &fp) && has_value)
                    spec__err(d->c, vp, "%s has both value and valueFrom: give one", sub);
                else
                    env_add(d, nn, vn, vf, ip, path);
            }
        }
        free(sub);
    }
}

static void f_secret_files(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    spec__decode_secret_files(d->c, d->s, v, kp, path);
}

static void f_depends_on(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    if (spec__is_null(v)) return;
    if (!spec__expect(d->c, v, kp, path, FYNT_SEQUENCE)) return;
    size_t n = (size_t)fy_node_sequence_item_count(v);
    d->s->depends_on = mp_xcalloc(n + 1, sizeof *d->s->depends_on);
    d->aux->dep_pos = mp_xcalloc(n + 1, sizeof *d->aux->dep_pos);
    void *it = NULL;
    struct fy_node *item;
    for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
        char *sub = mp_xasprintf("%s[%d]", path, i);
        char *dep = NULL;
        if (spec__get_str(d->c, item, kp, sub, &dep)) {
            d->aux->dep_pos[d->s->ndepends] = spec__pos(item, kp);
            d->s->depends_on[d->s->ndepends++] = dep;
        }
        free(sub);
    }
}

static const char *const INPUT_FIELDS[] = {"name", "path", "validate", NULL};
static const char *const OUTPUT_FIELDS[] = {"name", "path", NULL};

/* inputs and outputs: lists of {name, path}; outputs may be plain names too. */
static void artifacts(step_dec *d, struct fy_node *v, spec_pos kp, const char *path, bool output) {
    if (spec__is_null(v)) return;
    if (!spec__expect(d->c, v, kp, path, FYNT_SEQUENCE)) return;
    size_t n = (size_t)fy_node_sequence_item_count(v);
    spec_artifact *arr = mp_xcalloc(n + 1, sizeof *arr);
    size_t *cnt = output ? &d->s->noutputs : &d->s->ninputs;
    if (output)
        d->s->outputs = arr;
    else
        d->s->inputs = arr;
    const char *what = output ? "output" : "input";
    void *it = NULL;
    struct fy_node *item;
    for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
        char *sub = mp_xasprintf("%s[%d]", path, i);
        spec_pos ip = spec__pos(item, kp);
        spec_artifact a = {NULL, NULL, ip, NULL};
        struct fy_node *nn = NULL, *pn = NULL;
        spec_pos np = ip, pp = ip;
        bool ok = true;
        if (output && spec__is_scalar(item)) {
            nn = item;
        } else if (spec__expect(d->c, item, kp, sub, FYNT_MAPPING)) {
            char *where = mp_xasprintf("in %s", sub);
            spec__check_keys(d->c, item, output ? OUTPUT_FIELDS : INPUT_FIELDS, where);
            free(where);
            struct fy_node *vn;
            spec_pos vp;
            if (!output && spec__lookup(item, "validate", &vn, &vp) && vn && !spec__is_null(vn)) {
                char *vpath = mp_xasprintf("%s.validate", sub);
                a.validate = mp_xcalloc(1, sizeof *a.validate);
                size_t before = d->c->diags->n;
                spec__decode_expectations(d->c, vn, vp, vpath, true, a.validate);
                if (d->c->diags->n > before) ok = false;
                free(vpath);
            }
            if (!spec__lookup(item, "name", &nn, &np)) {
                spec__err(d->c, ip, "missing required field \"name\" in %s", sub);
                ok = false;
            }
            if (!spec__lookup(item, "path", &pn, &pp) && !output) {
                spec__err(d->c, ip, "missing required field \"path\" in %s (%s \"%s\")", sub, what,
                          nn && spec__is_scalar(nn) ? fy_node_get_scalar0(nn) : "?");
                ok = false;
            }
        } else {
            ok = false;
        }
        char *f = mp_xasprintf("%s.name", sub);
        if (nn && spec__get_str(d->c, nn, np, f, &a.name)) {
            if (!is_ref_name(a.name)) {
                spec__err(d->c, spec__pos(nn, np), "%s name \"%s\" is not valid: use letters, digits, '_' and '-'",
                          what, a.name);
                ok = false;
            }
            for (size_t j = 0; j < *cnt && ok; j++) {
                if (strcmp(arr[j].name, a.name) == 0) {
                    spec__err(d->c, spec__pos(nn, np), "duplicate %s \"%s\" %s (first at line %d)", what, a.name,
                              d->where, arr[j].pos.line);
                    ok = false;
                }
            }
        } else {
            ok = false;
        }
        free(f);
        f = mp_xasprintf("%s.path", sub);
        if (output && pn && spec__is_null(pn)) pn = NULL; /* path: ~ is the default path */
        if (pn && !spec__get_str(d->c, pn, pp, f, &a.path)) ok = false;
        if (ok && output && !a.path) a.path = mp_xstrdup(a.name);
        if (ok && output && !is_inner_path(a.path)) {
            spec__err(d->c, spec__pos(pn, pp),
                      "output path \"%s\" in %s must be relative and stay inside the outputs "
                      "directory (no leading '/', no '..')",
                      a.path, f);
            ok = false;
        }
        if (ok && !output && !*a.path) {
            spec__err(d->c, spec__pos(pn, pp), "field \"%s\" must not be empty", f);
            ok = false;
        }
        if (ok && a.validate && a.path[strlen(a.path) - 1] == '/') {
            spec__err(d->c, spec__pos(pn, pp),
                      "input \"%s\" is a folder (%s ends with '/'): validate: checks one CSV file; name the file", a.name,
                      f);
            ok = false;
        }
        if (ok) {
            arr[*cnt] = a;
            if (!output) add_site(d, arr[*cnt].path, f, spec__pos(pn, pp), true);
            (*cnt)++;
        } else {
            free(a.name);
            free(a.path);
            spec_expectations_free(a.validate);
        }
        free(f);
        free(sub);
    }
}

static void f_inputs(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    artifacts(d, v, kp, path, false);
}

static void f_outputs(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    artifacts(d, v, kp, path, true);
}

static void f_resources(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    char *where = mp_xasprintf("in resources of %s", d->who);
    spec__decode_resources(d->c, v, kp, path, where, d->where, &d->s->resources);
    free(where);
}

static const char *const RETRY_FIELDS[] = {"limit", "backoffSeconds", NULL};

static void f_retries(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    if (spec__is_null(v)) return;
    if (!spec__expect(d->c, v, kp, path, FYNT_MAPPING)) return;
    char *where = mp_xasprintf("in %s", path);
    spec__check_keys(d->c, v, RETRY_FIELDS, where);
    free(where);
    struct fy_node *q;
    spec_pos qp;
    char *sub = mp_xasprintf("%s.limit", path);
    long long n;
    if (spec__lookup(v, "limit", &q, &qp) && spec__get_int(d->c, q, qp, sub, 0, 1000, &n)) d->s->retry_limit = (int)n;
    free(sub);
    sub = mp_xasprintf("%s.backoffSeconds", path);
    double b;
    if (spec__lookup(v, "backoffSeconds", &q, &qp) && spec__get_number(d->c, q, qp, sub, 0, &b))
        d->s->backoff_seconds = b;
    free(sub);
}

static void f_timeout(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    long long n;
    if (spec__get_int(d->c, v, kp, path, 0, INT_MAX, &n)) d->s->timeout_seconds = (int)n;
}

static void f_cache(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    spec__get_bool(d->c, v, kp, path, &d->s->cache);
}

static const char *const REGISTER_FIELDS[] = {"model", "artifact", "ifChanged", NULL};

static void f_register(step_dec *d, struct fy_node *v, spec_pos kp, const char *path) {
    if (!spec__expect(d->c, v, kp, path, FYNT_MAPPING)) return;
    char *where = mp_xasprintf("in %s", path);
    spec__check_keys(d->c, v, REGISTER_FIELDS, where);
    free(where);
    d->register_at = spec__pos(v, kp);
    struct fy_node *q;
    spec_pos qp;
    if (spec__lookup(v, "ifChanged", &q, &qp)) {
        char *sub = mp_xasprintf("%s.ifChanged", path);
        spec__get_bool(d->c, q, qp, sub, &d->s->register_if_changed);
        free(sub);
    }
    for (int i = 0; i < 2; i++) {
        char *sub = mp_xasprintf("%s.%s", path, REGISTER_FIELDS[i]);
        char **dst = i == 0 ? &d->s->register_model : &d->s->register_artifact;
        if (!spec__lookup(v, REGISTER_FIELDS[i], &q, &qp) || spec__is_null(q))
            spec__err(d->c, d->register_at, "missing required field \"%s\"", sub);
        else if (spec__get_str(d->c, q, qp, sub, dst) && !**dst)
            spec__err(d->c, qp, "field \"%s\" must not be empty", sub);
        free(sub);
    }
}

/* A registered artifact must be one of the step's outputs (checked once all
 * fields are decoded, whatever their order). */
static void check_register(step_dec *d) {
    spec_step *s = d->s;
    if (!s->register_artifact || !*s->register_artifact) return;
    for (size_t i = 0; i < s->noutputs; i++)
        if (s->outputs[i].name && strcmp(s->outputs[i].name, s->register_artifact) == 0) return;
    mp_buf names;
    mp_buf_init(&names);
    for (size_t i = 0; i < s->noutputs; i++) mp_buf_printf(&names, "%s%s", i ? ", " : "", s->outputs[i].name);
    spec__err(d->c, d->register_at, "register.artifact \"%s\" is not an output of %s (outputs: %s)",
              s->register_artifact, d->who, s->noutputs ? names.data : "none");
    mp_buf_free(&names);
}

static const struct {
    const char *name;
    field_fn fn;
} STEP_FIELDS[] = {
    {"name", f_name},       {"command", f_command},        {"script", f_script},        {"image", f_image},
    {"env", f_env},         {"workingDir", f_working_dir}, {"dependsOn", f_depends_on}, {"inputs", f_inputs},
    {"outputs", f_outputs}, {"resources", f_resources},    {"retries", f_retries},      {"timeoutSeconds", f_timeout},
    {"cache", f_cache},     {"register", f_register},      {"secretFiles", f_secret_files},
};
#define NSTEP_FIELDS (sizeof STEP_FIELDS / sizeof *STEP_FIELDS)

static void decode_step(spec__ctx *c, struct fy_node *m, spec_pos at, size_t idx, spec_step *s, spec__step_aux *aux) {
    step_dec d = {c, s, aux, mp_xasprintf("spec.steps[%zu]", idx), NULL, NULL, at, {0, 0}, {0, 0}};
    s->backoff_seconds = 1;
    s->parallelism = 1;
    aux->name_pos = at;
    if (!spec__expect(c, m, at, d.path, FYNT_MAPPING)) {
        aux->bad_name = true;
        free(d.path);
        return;
    }
    d.at = s->pos = spec__pos(m, at);
    const char **known = mp_xcalloc(NSTEP_FIELDS + SPEC__NSCHED_STEP_FIELDS + 1, sizeof *known);
    for (size_t i = 0; i < NSTEP_FIELDS; i++) known[i] = STEP_FIELDS[i].name;
    for (size_t i = 0; i < SPEC__NSCHED_STEP_FIELDS; i++) known[NSTEP_FIELDS + i] = SPEC__SCHED_STEP_FIELDS[i].name;

    /* The name first, so that every later message can say which step. */
    struct fy_node *v;
    spec_pos kp;
    if (spec__lookup(m, "name", &v, &kp)) {
        char *sub = mp_xasprintf("%s.name", d.path);
        f_name(&d, v, kp, sub);
        free(sub);
    } else {
        spec__err(c, d.at, "missing required field \"name\" in %s", d.path);
        aux->bad_name = true;
    }
    d.who = s->name ? mp_xasprintf("step \"%s\"", s->name) : mp_xstrdup(d.path);
    d.where = mp_xasprintf("in %s", d.who);
    spec__check_keys(c, m, known, d.where);
    free(known);
    for (size_t i = 1; i < NSTEP_FIELDS; i++) { /* an explicit null is the same as leaving a field out */
        if (!spec__lookup(m, STEP_FIELDS[i].name, &v, &kp) || spec__is_null(v)) continue;
        char *sub = mp_xasprintf("%s.%s", d.path, STEP_FIELDS[i].name);
        STEP_FIELDS[i].fn(&d, v, kp, sub);
        free(sub);
    }
    for (size_t i = 0; i < SPEC__NSCHED_STEP_FIELDS; i++) { /* scheduling fields: step_sched.c */
        if (!spec__lookup(m, SPEC__SCHED_STEP_FIELDS[i].name, &v, &kp) || spec__is_null(v)) continue;
        char *sub = mp_xasprintf("%s.%s", d.path, SPEC__SCHED_STEP_FIELDS[i].name);
        SPEC__SCHED_STEP_FIELDS[i].fn(c, s, d.where, v, kp, sub);
        free(sub);
    }
    check_register(&d);
    bool has_cmd = spec__lookup(m, "command", &v, &kp) && !spec__is_null(v);
    bool has_script = spec__lookup(m, "script", &v, &kp) && !spec__is_null(v);
    if (has_cmd && has_script)
        spec__err(c, d.script_at, "%s has both command and script; use one of them", d.who);
    else if (!has_cmd && !has_script)
        spec__err(c, d.at, "missing required field \"command\" or \"script\" %s (exactly one of them)", d.where);
    free(d.who);
    free(d.where);
    free(d.path);
}

/* ---- the pipeline spec ------------------------------------------------------------ */

static const char *const PIPELINE_FIELDS[] = {"params", "steps", NULL};

static void decode_params(spec__ctx *c, struct fy_node *m, spec_pos at, spec_pipeline *p) {
    if (spec__is_null(m)) return;
    if (!spec__expect(c, m, at, "spec.params", FYNT_MAPPING)) return;
    p->params = mp_xcalloc((size_t)fy_node_mapping_item_count(m) + 1, sizeof *p->params);
    void *it = NULL;
    struct fy_node_pair *pr;
    while ((pr = fy_node_mapping_iterate(m, &it))) {
        struct fy_node *k = fy_node_pair_key(pr), *v = fy_node_pair_value(pr);
        spec_pos kp = spec__pos(k, at);
        if (!spec__is_scalar(k)) {
            spec__err(c, kp, "keys in spec.params must be strings");
            continue;
        }
        char *name = spec__scalar_dup(k);
        char *path = mp_xasprintf("spec.params.%s", name);
        char *val = NULL;
        if (!is_ref_name(name))
            spec__err(c, kp, "param name \"%s\" is not valid: use letters, digits, '_' and '-'", name);
        else if (spec__is_null(v))
            val = mp_xstrdup("");
        else if (fy_node_get_type(v) != FYNT_SCALAR)
            spec__expect(c, v, kp, path, FYNT_SCALAR);
        else
            val = spec__scalar_dup(v);
        free(path);
        if (!val) {
            free(name);
            continue;
        }
        p->params[p->nparams++] = (spec_kv){name, val, spec__pos(v, kp)};
    }
}

void spec__decode_pipeline(spec__ctx *c, struct fy_node *spec, spec_pos at, spec_pipeline *p, spec__step_aux **aux) {
    *aux = NULL;
    if (!spec__expect(c, spec, at, "spec", FYNT_MAPPING)) return;
    spec_pos sp = spec__pos(spec, at);
    spec__check_keys(c, spec, PIPELINE_FIELDS, "in spec");
    struct fy_node *v;
    spec_pos kp;
    if (spec__lookup(spec, "params", &v, &kp)) decode_params(c, v, kp, p);
    if (!spec__lookup(spec, "steps", &v, &kp)) {
        spec__err(c, sp, "missing required field \"spec.steps\" (a pipeline needs at least one step)");
        return;
    }
    if (!spec__expect(c, v, kp, "spec.steps", FYNT_SEQUENCE)) return;
    size_t n = (size_t)fy_node_sequence_item_count(v);
    if (!n) {
        spec__err(c, kp, "field \"spec.steps\" must not be empty (a pipeline needs at least one step)");
        return;
    }
    p->steps = mp_xcalloc(n, sizeof *p->steps);
    *aux = mp_xcalloc(n, sizeof **aux);
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(v, &it)) && p->nsteps < n) {
        decode_step(c, item, spec__pos(item, kp), p->nsteps, &p->steps[p->nsteps], &(*aux)[p->nsteps]);
        p->nsteps++;
    }
}
