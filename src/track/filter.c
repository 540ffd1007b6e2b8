/* filter.c — MLflow's search filter and order_by language: a tokenizer and a
 * recursive-descent parser that turn "metrics.rmse < 1 AND params.`model class`
 * LIKE 'lin%'" into a store_track_filter (store.h), which the store translates to
 * SQL with bound parameters.
 *
 * Grammar (keywords are case-insensitive):
 *   filter     := [ condition { AND condition } ]
 *   condition  := identifier comparator value
 *   identifier := [ entity "." ] key           entity: metric(s) param(s) parameter(s)
 *                                              tag(s) attribute(s) attr run; none = attribute
 *   key        := word | `back-quoted` | "double-quoted"
 *   comparator := = | != | <> | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
 *   value      := number | 'string' | "string" | ( string { , string } )
 *   order_by   := identifier [ ASC | DESC ]
 * Which comparators and values an identifier accepts depends on what it names:
 * metrics and numeric attributes take numbers and the ordering comparators; params,
 * tags and text attributes take strings, =, !=, LIKE, ILIKE, IN and NOT IN.
 * Errors say where (1-based position in the filter) and what was expected.
 * Reentrant: no state outside the parse. */
#include "track/track.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- what identifiers name ----------------------------------------------------------- */

typedef struct entity_name {
    const char *word;
    store_track_entity entity;
} entity_name;

static const entity_name entities[] = {
    {"metric", STORE_TRACK_METRIC},     {"metrics", STORE_TRACK_METRIC},  {"param", STORE_TRACK_PARAM},
    {"params", STORE_TRACK_PARAM},      {"parameter", STORE_TRACK_PARAM}, {"parameters", STORE_TRACK_PARAM},
    {"tag", STORE_TRACK_TAG},           {"tags", STORE_TRACK_TAG},        {"attribute", STORE_TRACK_ATTR},
    {"attributes", STORE_TRACK_ATTR},   {"attr", STORE_TRACK_ATTR},       {"run", STORE_TRACK_ATTR},
};

typedef struct attr_def {
    const char *name;   /* as written in a filter */
    const char *column; /* the store's key */
    bool numeric;
    bool filterable; /* false: order_by only */
} attr_def;

static const attr_def run_attrs[] = {
    {"run_id", "run_uuid", false, true},       {"run_name", "name", false, true},
    {"status", "status", false, true},         {"start_time", "start_time", true, true},
    {"end_time", "end_time", true, true},      {"artifact_uri", "artifact_uri", false, true},
    {"user_id", "user_id", false, true},       {"created", "start_time", true, true},
    {"Created", "start_time", true, true},
};
static const attr_def exp_attrs[] = {
    {"name", "name", false, true},
    {"creation_time", "creation_time", true, true},
    {"last_update_time", "last_update_time", true, true},
    {"experiment_id", "experiment_id", false, false},
};

/* ---- tokens ------------------------------------------------------------------------- */

typedef struct parser {
    const char *s;
    size_t pos;
    track_filter_target target;
    mp_err *e;
    const char *what; /* "filter" or "order_by" */
} parser;

static void skip_ws(parser *p) {
    while (p->s[p->pos] && isspace((unsigned char)p->s[p->pos])) p->pos++;
}

/* A short description of what is at pos, for messages. */
static void found(const parser *p, size_t pos, char *out, size_t n) {
    if (!p->s[pos]) {
        mp_strlcpy(out, "the end of the input", n);
        return;
    }
    size_t l = 0;
    while (p->s[pos + l] && !isspace((unsigned char)p->s[pos + l]) && l < 20) l++;
    if (l == 0) l = 1;
    char tok[24];
    memcpy(tok, p->s + pos, l);
    tok[l] = 0;
    snprintf(out, n, "'%s'", tok);
}

static int fail_at(parser *p, size_t pos, const char *expected) {
    char f[48];
    found(p, pos, f, sizeof f);
    return mp_err_set(p->e, MP_EINVAL, "Invalid %s '%s': at position %zu: expected %s, found %s", p->what, p->s,
                      pos + 1, expected, f);
}

static bool is_word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }
static bool is_key_char(char c) { return is_word_char(c) || c == '.' || c == '/' || c == ':' || c == '-'; }

/* Reads a keyword-like word at pos (letters, digits, _) into out; 0 when none. */
static size_t peek_word(const parser *p, char *out, size_t n) {
    size_t l = 0;
    while (is_word_char(p->s[p->pos + l])) l++;
    if (out) {
        size_t c = l < n - 1 ? l : n - 1;
        memcpy(out, p->s + p->pos, c);
        out[c] = 0;
    }
    return l;
}

static bool accept_kw(parser *p, const char *kw) {
    char w[16];
    size_t l = peek_word(p, w, sizeof w);
    if (l == 0 || l != strlen(kw) || strcasecmp(w, kw) != 0) return false;
    p->pos += l;
    skip_ws(p);
    return true;
}

/* A quoted text starting at pos with quote q; \q, \\ and a doubled q stand for
 * themselves. Sets *out (heap). */
static int quoted(parser *p, char q, char **out) {
    size_t start = p->pos;
    mp_buf b;
    mp_buf_init(&b);
    p->pos++;
    for (;;) {
        char c = p->s[p->pos];
        if (!c) {
            mp_buf_free(&b);
            char exp[48];
            snprintf(exp, sizeof exp, "a closing %c for the one at position %zu", q, start + 1);
            return fail_at(p, p->pos, exp);
        }
        if (c == '\\' && (p->s[p->pos + 1] == q || p->s[p->pos + 1] == '\\')) {
            mp_buf_putc(&b, p->s[p->pos + 1]);
            p->pos += 2;
        } else if (c == q && p->s[p->pos + 1] == q) {
            mp_buf_putc(&b, q);
            p->pos += 2;
        } else if (c == q) {
            p->pos++;
            break;
        } else {
            mp_buf_putc(&b, c);
            p->pos++;
        }
    }
    skip_ws(p);
    *out = mp_buf_steal(&b);
    return 0;
}

/* ---- identifiers ---------------------------------------------------------------------- */

typedef struct ident {
    store_track_entity entity;
    char *key;
    bool numeric;    /* compares as a number */
    bool filterable;
} ident;

static const attr_def *find_attr(track_filter_target t, const char *name, size_t *n_out) {
    const attr_def *tab = t == TRACK_FILTER_RUNS ? run_attrs : exp_attrs;
    size_t n = t == TRACK_FILTER_RUNS ? sizeof run_attrs / sizeof run_attrs[0] : sizeof exp_attrs / sizeof exp_attrs[0];
    if (n_out) *n_out = n;
    for (size_t i = 0; i < n; i++)
        if (name && strcmp(tab[i].name, name) == 0) return &tab[i];
    return NULL;
}

static int bad_attr(parser *p, size_t pos, const char *name) {
    size_t n;
    find_attr(p->target, NULL, &n);
    const attr_def *tab = p->target == TRACK_FILTER_RUNS ? run_attrs : exp_attrs;
    mp_buf b;
    mp_buf_init(&b);
    for (size_t i = 0; i < n; i++) mp_buf_printf(&b, "%s%s", i ? ", " : "", tab[i].name);
    char *exp = mp_xasprintf("an attribute (one of %s) instead of '%s'", b.data, name);
    fail_at(p, pos, exp);
    free(exp);
    mp_buf_free(&b);
    return MP_EINVAL;
}

static int identifier(parser *p, ident *id) {
    memset(id, 0, sizeof *id);
    size_t start = p->pos;
    char word[32];
    size_t l = peek_word(p, word, sizeof word);
    char q = p->s[p->pos];
    if (l == 0 && q != '`' && q != '"')
        return fail_at(p, start, "an identifier such as metrics.<key>, params.<key>, tags.<key> or an attribute");
    bool has_entity = l > 0 && p->s[p->pos + l] == '.';
    id->entity = STORE_TRACK_ATTR;
    if (has_entity) {
        size_t i = 0, n = sizeof entities / sizeof entities[0];
        for (; i < n && strcmp(entities[i].word, word) != 0; i++) {}
        if (i == n || (p->target == TRACK_FILTER_EXPERIMENTS && entities[i].entity != STORE_TRACK_TAG &&
                       entities[i].entity != STORE_TRACK_ATTR))
            return fail_at(p, start,
                           p->target == TRACK_FILTER_RUNS
                               ? "an entity type: metrics, params, tags or attributes"
                               : "an entity type: tags or attributes");
        id->entity = entities[i].entity;
        p->pos += l + 1;
    }
    size_t kpos = p->pos;
    q = p->s[p->pos];
    if (q == '`' || q == '"') {
        if (quoted(p, q, &id->key) != 0) return MP_EINVAL;
    } else {
        size_t k = 0;
        while (is_key_char(p->s[p->pos + k])) k++;
        if (k == 0) return fail_at(p, kpos, "a key after the '.' (quote it with backticks when it has spaces)");
        id->key = mp_xstrndup(p->s + p->pos, k);
        p->pos += k;
        skip_ws(p);
    }
    if (!*id->key) {
        free(id->key);
        id->key = NULL;
        return fail_at(p, kpos, "a non-empty key");
    }
    id->numeric = id->entity == STORE_TRACK_METRIC;
    id->filterable = true;
    if (id->entity == STORE_TRACK_ATTR) {
        const attr_def *a = find_attr(p->target, id->key, NULL);
        if (!a) {
            int rc = bad_attr(p, kpos, id->key);
            free(id->key);
            id->key = NULL;
            return rc;
        }
        free(id->key);
        id->key = mp_xstrdup(a->column);
        id->numeric = a->numeric;
        id->filterable = a->filterable;
    }
    return 0;
}

/* ---- conditions ---------------------------------------------------------------------- */

typedef struct op_def {
    const char *text;
    store_track_op op;
    bool word; /* a keyword (needs a word boundary) */
} op_def;

/* Longest first, so "<=" wins over "<". */
static const op_def ops[] = {
    {"!=", STORE_OP_NE, false},   {"<>", STORE_OP_NE, false}, {"<=", STORE_OP_LE, false},
    {">=", STORE_OP_GE, false},   {"=", STORE_OP_EQ, false},  {"<", STORE_OP_LT, false},
    {">", STORE_OP_GT, false},    {"LIKE", STORE_OP_LIKE, true}, {"ILIKE", STORE_OP_ILIKE, true},
    {"IN", STORE_OP_IN, true},
};

static int comparator(parser *p, store_track_op *op) {
    size_t start = p->pos;
    if (accept_kw(p, "NOT")) {
        if (accept_kw(p, "IN")) {
            *op = STORE_OP_NOT_IN;
            return 0;
        }
        return fail_at(p, p->pos, "IN after NOT");
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (ops[i].word) {
            if (accept_kw(p, ops[i].text)) {
                *op = ops[i].op;
                return 0;
            }
        } else if (strncmp(p->s + p->pos, ops[i].text, strlen(ops[i].text)) == 0) {
            p->pos += strlen(ops[i].text);
            skip_ws(p);
            *op = ops[i].op;
            return 0;
        }
    }
    return fail_at(p, start, "a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)");
}

static bool is_numeric_op(store_track_op op) { return op <= STORE_OP_GE; }

static int number(parser *p, double *out) {
    const char *b = p->s + p->pos;
    char *end = NULL;
    if (!(isdigit((unsigned char)*b) || ((*b == '-' || *b == '+' || *b == '.') && (isdigit((unsigned char)b[1]) || b[1] == '.'))))
        return fail_at(p, p->pos, "a number");
    double v = strtod(b, &end);
    if (end == b || is_key_char(*end) || isnan(v)) return fail_at(p, p->pos, "a number");
    p->pos += (size_t)(end - b);
    skip_ws(p);
    *out = v;
    return 0;
}

static int string_value(parser *p, char **out) {
    char q = p->s[p->pos];
    if (q != '\'' && q != '"') return fail_at(p, p->pos, "a quoted string ('...' or \"...\")");
    return quoted(p, q, out);
}

static int string_list(parser *p, store_track_cond *c) {
    if (p->s[p->pos] != '(') return fail_at(p, p->pos, "a parenthesized list of quoted strings, e.g. ('a', 'b')");
    p->pos++;
    skip_ws(p);
    for (;;) {
        char *s = NULL;
        if (string_value(p, &s) != 0) return MP_EINVAL;
        c->list = mp_xrealloc(c->list, (c->nlist + 1) * sizeof *c->list);
        c->list[c->nlist++] = s;
        if (p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            continue;
        }
        if (p->s[p->pos] == ')') {
            p->pos++;
            skip_ws(p);
            return 0;
        }
        return fail_at(p, p->pos, "',' or ')' in the list");
    }
}

static int condition(parser *p, store_track_cond *c) {
    ident id;
    if (identifier(p, &id) != 0) return MP_EINVAL;
    c->entity = id.entity;
    c->key = id.key;
    if (!id.filterable) return fail_at(p, p->pos, "a filterable attribute");
    size_t oppos = p->pos;
    if (comparator(p, &c->op) != 0) return MP_EINVAL;
    if (id.numeric) {
        if (!is_numeric_op(c->op))
            return fail_at(p, oppos, "a numeric comparator (=, !=, <, <=, >, >=) for a metric or a time");
        c->is_num = true;
        return number(p, &c->num);
    }
    if (is_numeric_op(c->op) && c->op != STORE_OP_EQ && c->op != STORE_OP_NE)
        return fail_at(p, oppos, "=, !=, LIKE, ILIKE, IN or NOT IN for a param, tag or text attribute");
    if (p->target == TRACK_FILTER_EXPERIMENTS && (c->op == STORE_OP_IN || c->op == STORE_OP_NOT_IN))
        return fail_at(p, oppos, "=, !=, LIKE or ILIKE");
    if (c->op == STORE_OP_IN || c->op == STORE_OP_NOT_IN) return string_list(p, c);
    return string_value(p, &c->str);
}

int track_filter_parse(const char *s, track_filter_target target, store_track_filter *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    parser p = {.s = s ? s : "", .target = target, .e = e, .what = "filter"};
    skip_ws(&p);
    if (!p.s[p.pos]) return 0;
    size_t cap = 0;
    for (;;) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 4;
            out->conds = mp_xrealloc(out->conds, cap * sizeof *out->conds);
        }
        store_track_cond *c = &out->conds[out->n++];
        memset(c, 0, sizeof *c);
        if (condition(&p, c) != 0) break;
        if (!p.s[p.pos]) return 0;
        if (!accept_kw(&p, "AND")) {
            fail_at(&p, p.pos, "AND or the end of the filter (OR is not supported)");
            break;
        }
    }
    store_track_filter_free(out);
    return MP_EINVAL;
}

int track_order_parse(const char *s, track_filter_target target, store_track_order *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    parser p = {.s = s ? s : "", .target = target, .e = e, .what = "order_by clause"};
    skip_ws(&p);
    ident id;
    if (identifier(&p, &id) != 0) return MP_EINVAL;
    out->entity = id.entity;
    out->key = id.key;
    out->asc = true;
    if (accept_kw(&p, "DESC")) out->asc = false;
    else accept_kw(&p, "ASC");
    if (p.s[p.pos]) {
        free(out->key);
        out->key = NULL;
        return fail_at(&p, p.pos, "ASC, DESC or the end of the clause");
    }
    return 0;
}
