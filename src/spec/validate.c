/* validate.c — the rules of a Pipeline that span fields and steps.
 *
 * Runs after pipeline.c decoded every step (so all names and outputs are known):
 * step names are unique, dependsOn names existing other steps, every {{ ref }}
 * in a step's strings names something that exists, references to another step's
 * outputs become dependencies, the dependency graph has no cycle, and sweeps
 * name pipeline params (spec__validate_sweep). Each broken rule is one
 * diagnostic at the node it came from (positions noted by the decoder in
 * spec__step_aux); validation never stops early. */
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

typedef struct ref_list {
    char **ref;
    size_t n, cap;
} ref_list;

static void collect_ref(void *ud, const char *ref, size_t offset) {
    (void)offset;
    ref_list *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->ref = mp_xrealloc(l->ref, l->cap * sizeof *l->ref);
    }
    l->ref[l->n++] = mp_xstrdup(ref);
}

static void ref_list_free(ref_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->ref[i]);
    free(l->ref);
}

/* Adds name to s->depends_on unless already there. */
static void add_dep(spec_step *s, const char *name) {
    for (size_t i = 0; i < s->ndepends; i++)
        if (strcmp(s->depends_on[i], name) == 0) return;
    s->depends_on = mp_xrealloc(s->depends_on, (s->ndepends + 2) * sizeof *s->depends_on);
    s->depends_on[s->ndepends++] = mp_xstrdup(name);
    s->depends_on[s->ndepends] = NULL;
}

static char *step_names(const spec_pipeline *p, const char ***names, size_t *n) {
    *names = mp_xcalloc(p->nsteps + 1, sizeof **names);
    *n = 0;
    for (size_t i = 0; i < p->nsteps; i++) {
        const char *name = p->steps[i].name;
        bool seen = !name;
        for (size_t j = 0; j < *n && !seen; j++) seen = strcmp((*names)[j], name) == 0;
        if (!seen) (*names)[(*n)++] = name;
    }
    return spec__join(*names, *n);
}

/* "(did you mean \"x\"?)" or "(known: a, b)" for an unknown name among cands. */
static char *hint(const char *word, const char *const *cands, size_t n, const char *label) {
    const char *near = spec__closest(word, cands, n);
    if (near) return mp_xasprintf("did you mean \"%s\"?", near);
    char *all = spec__join(cands, n);
    char *h = mp_xasprintf("%s: %s", label, all);
    free(all);
    return h;
}

static char *artifact_names(const spec_artifact *a, size_t n) {
    const char **names = mp_xcalloc(n + 1, sizeof *names);
    for (size_t i = 0; i < n; i++) names[i] = a[i].name;
    char *s = spec__join(names, n);
    free(names);
    return s;
}

static bool has_artifact(const spec_artifact *a, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].name, name) == 0) return true;
    return false;
}

/* Splits ref at dots into at most 5 parts (a copy in buf); returns the count. */
static size_t split_ref(const char *ref, char *buf, size_t bufsz, char **parts) {
    mp_strlcpy(buf, ref, bufsz);
    size_t n = 0;
    for (char *p = buf; p && n < 5;) {
        parts[n++] = p;
        char *dot = strchr(p, '.');
        if (dot) *dot = '\0';
        p = dot ? dot + 1 : NULL;
    }
    return n;
}

/* Checks one reference of step si found in site; adds implied dependencies. */
static void check_ref(spec__ctx *c, spec_pipeline *p, size_t si, const spec__site *site, const char *ref) {
    spec_step *s = &p->steps[si];
    char buf[512];
    char *parts[5] = {0};
    size_t n = split_ref(ref, buf, sizeof buf, parts);
    const char *f = site->field;
    if (n == 2 && strcmp(parts[0], "params") == 0) {
        for (size_t i = 0; i < p->nparams; i++)
            if (strcmp(p->params[i].key, parts[1]) == 0) return;
        const char **names = mp_xcalloc(p->nparams + 1, sizeof *names);
        for (size_t i = 0; i < p->nparams; i++) names[i] = p->params[i].key;
        char *h = hint(parts[1], names, p->nparams, "known params");
        spec__err(c, site->pos, "%s: unknown param \"%s\" in {{%s}} (%s)", f, parts[1], ref, h);
        free(h);
        free(names);
    } else if (n == 4 && strcmp(parts[0], "steps") == 0 && strcmp(parts[2], "outputs") == 0) {
        int ti = spec_pipeline_step_index(p, parts[1]);
        if (ti < 0) {
            const char **names;
            size_t nn;
            free(step_names(p, &names, &nn));
            char *h = hint(parts[1], names, nn, "steps");
            spec__err(c, site->pos, "%s: unknown step \"%s\" in {{%s}} (%s)", f, parts[1], ref, h);
            free(h);
            free(names);
        } else if ((size_t)ti == si) {
            spec__err(c, site->pos,
                      "%s: step \"%s\" references its own output in {{%s}}; a step can only use outputs of other steps",
                      f, s->name, ref);
        } else {
            const spec_step *t = &p->steps[ti];
            if (!has_artifact(t->outputs, t->noutputs, parts[3])) {
                char *outs = artifact_names(t->outputs, t->noutputs);
                spec__err(c, site->pos, "%s: step \"%s\" has no output \"%s\" (outputs: %s)", f, t->name, parts[3],
                          outs);
                free(outs);
            }
            add_dep(s, t->name);
        }
    } else if (n == 2 && strcmp(parts[0], "inputs") == 0) {
        if (site->in_input) {
            spec__err(c, site->pos,
                      "%s: an input path cannot use {{%s}}; inputs can only refer to params, run and "
                      "other steps' outputs",
                      f, ref);
        } else if (!has_artifact(s->inputs, s->ninputs, parts[1])) {
            char *ins = artifact_names(s->inputs, s->ninputs);
            spec__err(c, site->pos, "%s: step \"%s\" has no input \"%s\" (inputs: %s)", f, s->name ? s->name : "?",
                      parts[1], ins);
            free(ins);
        }
    } else if (n == 2 && strcmp(parts[0], "run") == 0 &&
               (strcmp(parts[1], "id") == 0 || strcmp(parts[1], "name") == 0)) {
        return;
    } else {
        spec__err(c, site->pos,
                  "%s: unknown template reference {{%s}} (expected params.NAME, steps.STEP.outputs.NAME, inputs.NAME, "
                  "run.id or run.name)",
                  f, ref);
    }
}

static void check_templates(spec__ctx *c, spec_pipeline *p, size_t si, const spec__step_aux *aux) {
    for (size_t k = 0; k < aux->nsites; k++) {
        const spec__site *site = &aux->sites[k];
        ref_list refs = {0};
        mp_err e;
        if (spec_template_refs(site->text, collect_ref, &refs, &e) != 0)
            spec__err(c, site->pos, "%s: bad template: %s", site->field, e.msg);
        for (size_t i = 0; i < refs.n; i++) check_ref(c, p, si, site, refs.ref[i]);
        ref_list_free(&refs);
    }
}

/* Explicit dependsOn: known, not itself, each once. Drops the bad ones. */
static void check_depends(spec__ctx *c, spec_pipeline *p, size_t si, const spec__step_aux *aux) {
    spec_step *s = &p->steps[si];
    size_t keep = 0;
    for (size_t j = 0; j < s->ndepends; j++) {
        char *dep = s->depends_on[j];
        spec_pos at = aux->dep_pos ? aux->dep_pos[j] : s->pos;
        bool drop = false;
        if (s->name && strcmp(dep, s->name) == 0) {
            spec__err(c, at, "step \"%s\" depends on itself", s->name);
            drop = true;
        } else if (spec_pipeline_step_index(p, dep) < 0) {
            const char **names;
            size_t nn;
            free(step_names(p, &names, &nn));
            char *h = hint(dep, names, nn, "steps");
            spec__err(c, at, "step \"%s\" depends on undefined step \"%s\" (%s)", s->name ? s->name : "?", dep, h);
            free(h);
            free(names);
            drop = true;
        }
        for (size_t q = 0; q < keep && !drop; q++) drop = strcmp(s->depends_on[q], dep) == 0;
        if (drop)
            free(dep);
        else
            s->depends_on[keep++] = dep;
    }
    s->ndepends = keep;
    if (s->depends_on) s->depends_on[keep] = NULL;
}

static void check_cycles(spec__ctx *c, const spec_pipeline *p) {
    spec__graph g;
    spec__graph_build(p, &g);
    bool *done = mp_xcalloc(p->nsteps + 1, sizeof *done);
    size_t *order = mp_xcalloc(p->nsteps + 1, sizeof *order);
    size_t *cyc = mp_xcalloc(p->nsteps + 1, sizeof *cyc);
    size_t placed = 0;
    spec__graph_order(&g, done, order, &placed);
    while (placed < p->nsteps) {
        size_t nc = spec__graph_cycle(&g, done, cyc);
        if (!nc) break; /* cannot happen: nothing ready means a cycle */
        mp_buf b;
        mp_buf_init(&b);
        spec__cycle_text(p, cyc, nc, &b);
        spec__err(c, p->steps[cyc[0]].pos, "dependency cycle: %s", b.data);
        mp_buf_free(&b);
        for (size_t i = 0; i < nc; i++) { /* report each cycle once, then go on past it */
            done[cyc[i]] = true;
            order[placed++] = cyc[i];
        }
        spec__graph_order(&g, done, order, &placed);
    }
    free(cyc);
    free(order);
    free(done);
    spec__graph_free(&g);
}

void spec__validate_pipeline(spec__ctx *c, spec_pipeline *p, spec__step_aux *aux) {
    if (!aux) return;
    for (size_t i = 0; i < p->nsteps; i++) {
        const spec_step *s = &p->steps[i];
        if (!s->name || aux[i].bad_name) continue;
        for (size_t j = 0; j < i; j++) {
            if (p->steps[j].name && strcmp(p->steps[j].name, s->name) == 0) {
                spec__err(c, aux[i].name_pos, "duplicate step name \"%s\" (first defined at line %d)", s->name,
                          aux[j].name_pos.line);
                break;
            }
        }
    }
    for (size_t i = 0; i < p->nsteps; i++) check_depends(c, p, i, &aux[i]);
    for (size_t i = 0; i < p->nsteps; i++) check_templates(c, p, i, &aux[i]);
    for (size_t i = 0; i < p->nsteps; i++)
        if (p->steps[i].sweep) spec__validate_sweep(c, p, &p->steps[i]);
    check_cycles(c, p);
}
