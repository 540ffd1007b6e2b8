/* template.c — the {{ ref }} mini-language of step strings.
 *
 * A template is plain text with references in double braces; whitespace inside
 * the braces is ignored, so "{{ params.lr }}" and "{{params.lr}}" are the same.
 * There is no escaping and no nesting: a "{{" runs to the next "}}". This file only
 * finds and substitutes references; what a reference may name is checked by
 * validate.c and what it resolves to is up to the caller's lookup function. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

/* Scans tmpl for the next reference from *at. Returns false at the end, or sets
 * *ok = false at an unterminated "{{". Otherwise the reference spans
 * [*open, *close + 2) and the trimmed ref is [*rs, *re). */
static bool next_ref(const char *tmpl, size_t *at, size_t *open, size_t *rs, size_t *re, bool *ok) {
    const char *o = strstr(tmpl + *at, "{{");
    if (!o) return false;
    const char *c = strstr(o + 2, "}}");
    if (!c) {
        *open = (size_t)(o - tmpl);
        *ok = false;
        return false;
    }
    const char *b = o + 2, *end = c;
    while (b < end && isspace((unsigned char)*b)) b++;
    while (end > b && isspace((unsigned char)end[-1])) end--;
    *open = (size_t)(o - tmpl);
    *rs = (size_t)(b - tmpl);
    *re = (size_t)(end - tmpl);
    *at = (size_t)(c - tmpl) + 2;
    return true;
}

int spec_template_refs(const char *tmpl, spec_ref_fn fn, void *ud, mp_err *e) {
    size_t at = 0, open = 0, rs = 0, re = 0;
    bool ok = true;
    mp_buf ref;
    mp_buf_init(&ref);
    while (next_ref(tmpl, &at, &open, &rs, &re, &ok)) {
        mp_buf_reset(&ref);
        mp_buf_append(&ref, tmpl + rs, re - rs);
        fn(ud, ref.data, open);
    }
    mp_buf_free(&ref);
    if (!ok) return mp_err_set(e, MP_EINVAL, "unterminated \"{{\" at offset %zu (no \"}}\" after it)", open);
    return 0;
}

int spec_render(const char *tmpl, spec_lookup_fn lookup, void *ud, char **out, mp_err *e) {
    *out = NULL;
    mp_buf res, ref;
    mp_buf_init(&res);
    mp_buf_init(&ref);
    size_t at = 0, prev = 0, open = 0, rs = 0, re = 0;
    bool ok = true;
    int rc = 0;
    while (next_ref(tmpl, &at, &open, &rs, &re, &ok)) {
        mp_buf_append(&res, tmpl + prev, open - prev);
        mp_buf_reset(&ref);
        mp_buf_append(&ref, tmpl + rs, re - rs);
        const char *v = ref.len ? lookup(ud, ref.data) : NULL;
        if (!v) {
            rc = mp_err_set(e, MP_EINVAL, "cannot resolve {{%s}}: unknown reference", ref.data);
            break;
        }
        mp_buf_puts(&res, v);
        prev = at;
    }
    if (!rc && !ok) rc = mp_err_set(e, MP_EINVAL, "unterminated \"{{\" at offset %zu (no \"}}\" after it)", open);
    if (!rc) {
        mp_buf_puts(&res, tmpl + prev);
        *out = mp_buf_steal(&res);
    }
    mp_buf_free(&res);
    mp_buf_free(&ref);
    return rc;
}
