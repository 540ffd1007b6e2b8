/* expect.c — data expectations (spec_expectations): what a CSV file must hold,
 * decoded from YAML, either a step input's `validate:` field or the file given to
 * `mlplane data validate --expect`. One shape for both:
 *   rows: {min: N, max: N}
 *   columns: {NAME: {type, required, maxNullFraction, min, max, in, unique, regex}}
 * A step input may instead say `validate: {expect: FILE}` (the file is read when
 * the step is about to start, where the step runs).
 *
 * Like the rest of src/spec, every problem is one diagnostic with its
 * file:line:col and decoding carries on. A regex is compiled here (POSIX extended,
 * regcomp) only to report a bad one at its place; monitor_validate compiles it
 * again. Reentrant; nothing global. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

static const char *const TYPE_WORDS[] = {"number", "integer", "string", "boolean", NULL};
static const char *const TOP_FIELDS[] = {"rows", "columns", NULL};
static const char *const TOP_FIELDS_FILE[] = {"rows", "columns", "expect", NULL};
static const char *const ROWS_FIELDS[] = {"min", "max", NULL};
static const char *const COLUMN_FIELDS[] = {"type", "required", "maxNullFraction", "min", "max", "in", "unique",
                                            "regex", NULL};

const char *spec_expect_type_name(spec_expect_type t) {
    return t >= SPEC_EXPECT_NUMBER && t <= SPEC_EXPECT_BOOLEAN ? TYPE_WORDS[t - 1] : "any";
}

void spec_expectations_free(spec_expectations *x) {
    if (!x) return;
    for (size_t i = 0; i < x->ncols; i++) {
        spec_column_expect *ce = &x->cols[i];
        free(ce->name);
        for (size_t k = 0; k < ce->nin; k++) free(ce->in[k]);
        free(ce->in);
        free(ce->regex);
    }
    free(x->cols);
    free(x->expect_file);
    free(x);
}

static void decode_rows(spec__ctx *c, struct fy_node *v, spec_pos kp, const char *path, spec_expectations *x) {
    if (!spec__open_map(c, v, kp, path, ROWS_FIELDS)) return;
    struct fy_node *q;
    spec_pos qp;
    char *sub = mp_xasprintf("%s.min", path);
    if (spec__lookup(v, "min", &q, &qp) && q && spec__get_int(c, q, qp, sub, 0, LLONG_MAX, &x->rows_min))
        x->has_rows_min = true;
    free(sub);
    sub = mp_xasprintf("%s.max", path);
    if (spec__lookup(v, "max", &q, &qp) && q && spec__get_int(c, q, qp, sub, 0, LLONG_MAX, &x->rows_max))
        x->has_rows_max = true;
    free(sub);
    if (x->has_rows_min && x->has_rows_max && x->rows_min > x->rows_max)
        spec__err(c, spec__pos(v, kp), "%s: min %lld is greater than max %lld", path, x->rows_min, x->rows_max);
}

static void decode_in(spec__ctx *c, struct fy_node *v, spec_pos kp, const char *path, spec_column_expect *ce) {
    if (!spec__expect(c, v, kp, path, FYNT_SEQUENCE)) return;
    size_t n = (size_t)fy_node_sequence_item_count(v);
    if (n == 0) {
        spec__err(c, spec__pos(v, kp), "field \"%s\" must not be empty (list the allowed values)", path);
        return;
    }
    ce->in = mp_xcalloc(n + 1, sizeof *ce->in);
    void *it = NULL;
    struct fy_node *item;
    for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
        char *sub = mp_xasprintf("%s[%d]", path, i);
        char *val = NULL;
        if (spec__get_str(c, item, kp, sub, &val)) ce->in[ce->nin++] = val;
        free(sub);
    }
}

static void decode_regex(spec__ctx *c, struct fy_node *v, spec_pos kp, const char *path, spec_column_expect *ce) {
    char *re = NULL;
    if (!spec__get_str(c, v, kp, path, &re)) return;
    regex_t rx;
    int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[200];
        regerror(rc, &rx, why, sizeof why);
        spec__err(c, spec__pos(v, kp), "field \"%s\": \"%s\" is not a POSIX extended regular expression: %s", path, re,
                  why);
        free(re);
        return;
    }
    regfree(&rx);
    ce->regex = re;
}

static void decode_column(spec__ctx *c, struct fy_node *k, struct fy_node *v, spec_pos at, const char *path,
                          spec_expectations *x) {
    spec_pos np = spec__pos(k, at);
    char *name = spec__scalar_dup(k);
    if (!*name) {
        spec__err(c, np, "a column name in %s is empty", path);
        free(name);
        return;
    }
    char *cpath = mp_xasprintf("%s.%s", path, name);
    spec_column_expect ce = {.name = name, .pos = np, .required = true};
    if (v && !spec__is_null(v) && spec__open_map(c, v, np, cpath, COLUMN_FIELDS)) {
        struct fy_node *q;
        spec_pos qp;
        char *sub;
#define FIELD(key) (spec__lookup(v, key, &q, &qp) && q && !spec__is_null(q) && (sub = mp_xasprintf("%s.%s", cpath, key)))
        if (FIELD("type")) {
            int t = spec__get_enum(c, q, qp, sub, TYPE_WORDS);
            if (t >= 0) ce.type = (spec_expect_type)(t + 1);
            free(sub);
        }
        if (FIELD("required")) spec__get_bool(c, q, qp, sub, &ce.required), free(sub);
        if (FIELD("maxNullFraction")) {
            ce.has_max_null = spec__get_range(c, q, qp, sub, 0, 1, &ce.max_null_fraction);
            free(sub);
        }
        if (FIELD("min")) ce.has_min = spec__get_range(c, q, qp, sub, -DBL_MAX, DBL_MAX, &ce.min), free(sub);
        if (FIELD("max")) ce.has_max = spec__get_range(c, q, qp, sub, -DBL_MAX, DBL_MAX, &ce.max), free(sub);
        if (FIELD("in")) decode_in(c, q, qp, sub, &ce), free(sub);
        if (FIELD("unique")) spec__get_bool(c, q, qp, sub, &ce.unique), free(sub);
        if (FIELD("regex")) decode_regex(c, q, qp, sub, &ce), free(sub);
#undef FIELD
        if (ce.has_min && ce.has_max && ce.min > ce.max)
            spec__err(c, spec__pos(v, np), "%s: min %g is greater than max %g", cpath, ce.min, ce.max);
    }
    free(cpath);
    x->cols[x->ncols++] = ce;
}

static void decode_columns(spec__ctx *c, struct fy_node *v, spec_pos kp, const char *path, spec_expectations *x) {
    if (!spec__expect(c, v, kp, path, FYNT_MAPPING)) return;
    x->cols = mp_xcalloc((size_t)fy_node_mapping_item_count(v) + 1, sizeof *x->cols);
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(v, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        if (!spec__is_scalar(k)) {
            spec__err(c, spec__pos(k, kp), "keys in %s must be column names (strings)", path);
            continue;
        }
        decode_column(c, k, fy_node_pair_value(p), kp, path, x);
    }
}

void spec__decode_expectations(spec__ctx *c, struct fy_node *m, spec_pos at, const char *path, bool with_file,
                               spec_expectations *x) {
    if (!spec__open_map(c, m, at, path, with_file ? TOP_FIELDS_FILE : TOP_FIELDS)) return;
    x->pos = spec__pos(m, at);
    struct fy_node *v;
    spec_pos kp;
    if (with_file && spec__lookup(m, "expect", &v, &kp)) {
        char *sub = mp_xasprintf("%s.expect", path);
        if (v && spec__get_str(c, v, kp, sub, &x->expect_file) && !*x->expect_file)
            spec__err(c, spec__pos(v, kp), "field \"%s\" must not be empty (an expectations file)", sub);
        else if (!v)
            spec__err(c, kp, "field \"%s\" must be a file name", sub);
        if (fy_node_mapping_item_count(m) > 1)
            spec__err(c, kp, "%s: \"expect\" names a file of expectations; give rows and columns there, not beside it",
                      path);
        free(sub);
        return;
    }
    bool any = false;
    if (spec__lookup(m, "rows", &v, &kp) && v && !spec__is_null(v)) {
        char *sub = mp_xasprintf("%s.rows", path);
        decode_rows(c, v, kp, sub, x);
        free(sub);
        any = true;
    }
    if (spec__lookup(m, "columns", &v, &kp) && v && !spec__is_null(v)) {
        char *sub = mp_xasprintf("%s.columns", path);
        decode_columns(c, v, kp, sub, x);
        free(sub);
        any = true;
    }
    if (!any)
        spec__err(c, x->pos, "%s has no expectations: give rows, columns%s", path, with_file ? " or expect: FILE" : "");
}

/* ---- files ----------------------------------------------------------------------- */

static void on_document(spec__ctx *c, struct fy_node *root, size_t i, void *ud) {
    if (i == 1) spec__decode_expectations(c, root, (spec_pos){1, 1}, "expectations", false, ud);
    else spec__err(c, spec__pos(root, (spec_pos){1, 1}), "more than one YAML document: give one mapping");
}

int spec_expectations_load_string(const char *name, const char *text, size_t len, spec_expectations **out,
                                  spec_diags *diags) {
    *out = NULL;
    spec__ctx c = {name ? name : "<input>", diags};
    size_t before = diags->n;
    spec_expectations *x = mp_xcalloc(1, sizeof *x);
    bool yaml_err;
    size_t ndocs = spec__parse_documents(&c, text, len, on_document, x, &yaml_err);
    if (!ndocs && !yaml_err)
        spec__err(&c, (spec_pos){0, 0}, "no expectations: the file must be a mapping with rows and/or columns");
    if (diags->n > before) {
        spec__sort_diags(diags, before);
        spec_expectations_free(x);
        return MP_EINVAL;
    }
    *out = x;
    return 0;
}

int spec_expectations_load_file(const char *path, spec_expectations **out, spec_diags *diags) {
    *out = NULL;
    mp_buf b;
    if (spec__read_file(path, &b, diags) != 0) return MP_EINVAL;
    int rc = spec_expectations_load_string(path, b.data, b.len, out, diags);
    mp_buf_free(&b);
    return rc;
}

size_t spec_file_check_expectations(const spec_file *f, spec_diags *diags) {
    size_t bad = 0;
    for (size_t o = 0; o < f->nobjs; o++) {
        if (f->objs[o].kind != SPEC_KIND_PIPELINE) continue;
        const spec_pipeline *p = f->objs[o].u.pipeline;
        for (size_t i = 0; i < p->nsteps; i++) {
            for (size_t k = 0; k < p->steps[i].ninputs; k++) {
                const spec_expectations *x = p->steps[i].inputs[k].validate;
                if (!x || !x->expect_file) continue;
                char *path = mp_path_abs(f->dir, x->expect_file);
                spec_expectations *got = NULL;
                spec_diags d = {0};
                if (spec_expectations_load_file(path, &got, &d) != 0) {
                    bad++;
                    for (size_t j = 0; j < d.n; j++) {
                        if (d.v[j].pos.line <= 1 && strstr(d.v[j].msg, "cannot read"))
                            spec_diag_add(diags, f->path, x->pos, "input \"%s\" of step \"%s\": expectations file %s: %s",
                                          p->steps[i].inputs[k].name, p->steps[i].name, path, d.v[j].msg);
                        else
                            spec_diag_add(diags, d.v[j].file, d.v[j].pos, "%s", d.v[j].msg);
                    }
                }
                spec_diags_free(&d);
                spec_expectations_free(got);
                free(path);
            }
        }
    }
    return bad;
}
