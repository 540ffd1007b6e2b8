/* jsonpath.c — the subset of kubectl's -o jsonpath=TEMPLATE that mlplane get
 * understands, evaluated over the JSON document -o json prints (jansson values):
 *   text outside braces          printed as it is
 *   {.a.b}  {$.a}  {.a[0]}  {.a[*].b}   fields, indexes and every element
 *   {.items[*]...}               on a list (a JSON array) .items is the list itself
 *   {range .items[*]}...{end}    the inner template once per element (relative paths)
 *   {"\n"}  {"text"}             a literal (escapes \n \t \\ \")
 * Several results of one expression are joined by a space; strings print bare,
 * other values as compact JSON. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

typedef enum { JP_TEXT, JP_PATH, JP_RANGE } jp_kind;

typedef struct jp_seg {
    char *field; /* NULL: an index (or every element when all) */
    long index;
    bool all;
} jp_seg;

typedef struct jp_node {
    jp_kind kind;
    char *text; /* JP_TEXT */
    jp_seg *segs;
    size_t nsegs;
    bool absolute;
    struct cli_jsonpath *body; /* JP_RANGE */
} jp_node;

struct cli_jsonpath {
    jp_node *nodes;
    size_t n;
};

static void add_node(cli_jsonpath *jp, jp_node nd) {
    jp->nodes = mp_xrealloc(jp->nodes, (jp->n + 1) * sizeof *jp->nodes);
    jp->nodes[jp->n++] = nd;
}

void cli_jsonpath_free(cli_jsonpath *jp) {
    if (!jp) return;
    for (size_t i = 0; i < jp->n; i++) {
        free(jp->nodes[i].text);
        for (size_t j = 0; j < jp->nodes[i].nsegs; j++) free(jp->nodes[i].segs[j].field);
        free(jp->nodes[i].segs);
        cli_jsonpath_free(jp->nodes[i].body);
    }
    free(jp->nodes);
    free(jp);
}

typedef struct jp_parser {
    const char *s;
    size_t pos;
    char *err;
    size_t errn;
} jp_parser;

static int perr(jp_parser *p, size_t at, const char *what) {
    snprintf(p->err, p->errn, "jsonpath: column %zu: %s", at + 1, what);
    return -1;
}

/* Parses a path (from p->pos to end, exclusive) into nd. */
static int parse_path(jp_parser *p, size_t end, jp_node *nd) {
    size_t i = p->pos;
    while (i < end && p->s[i] == ' ') i++;
    if (i < end && (p->s[i] == '$' || p->s[i] == '@')) {
        nd->absolute = p->s[i] == '$';
        i++;
    }
    if (i >= end) return perr(p, i, "expected a path such as .items[*].id");
    while (i < end) {
        char c = p->s[i];
        jp_seg sg = {0};
        if (c == '.') {
            i++;
            if (i < end && p->s[i] == '[') continue; /* .[*] */
            size_t b = i;
            while (i < end && p->s[i] != '.' && p->s[i] != '[' && p->s[i] != ' ') i++;
            if (i == b) {
                if (i >= end && nd->nsegs == 0) return 0; /* {.}: the current value */
                return perr(p, b, "expected a field name after \".\"");
            }
            sg.field = mp_xstrndup(p->s + b, i - b);
        } else if (c == '[') {
            size_t b = ++i;
            while (i < end && p->s[i] != ']') i++;
            if (i >= end) return perr(p, b - 1, "\"[\" without \"]\"");
            if (i - b == 1 && p->s[b] == '*') sg.all = true;
            else {
                char *num = mp_xstrndup(p->s + b, i - b), *e;
                sg.index = strtol(num, &e, 10);
                bool bad = !*num || *e;
                free(num);
                if (bad) return perr(p, b, "expected [*] or [N], a whole number");
            }
            i++;
        } else if (c == ' ') {
            i++;
            continue;
        } else {
            return perr(p, i, "unexpected character in a path (expected . or [)");
        }
        nd->segs = mp_xrealloc(nd->segs, (nd->nsegs + 1) * sizeof *nd->segs);
        nd->segs[nd->nsegs++] = sg;
    }
    return 0;
}

/* Parses until end of input (inner false) or a matching {end} (inner true). */
static cli_jsonpath *parse_seq(jp_parser *p, bool inner, size_t open_at) {
    cli_jsonpath *jp = mp_xcalloc(1, sizeof *jp);
    mp_buf text;
    mp_buf_init(&text);
    for (;;) {
        char c = p->s[p->pos];
        if (c != '{' && c != '\0') {
            mp_buf_putc(&text, c);
            p->pos++;
            continue;
        }
        if (text.len) add_node(jp, (jp_node){.kind = JP_TEXT, .text = mp_buf_steal(&text)});
        if (c == '\0') {
            mp_buf_free(&text);
            if (inner) {
                perr(p, open_at, "{range ...} without {end}");
                cli_jsonpath_free(jp);
                return NULL;
            }
            return jp;
        }
        size_t brace = p->pos;
        const char *close = strchr(p->s + brace, '}');
        /* a literal may hold "}" */
        size_t b = brace + 1;
        while (p->s[b] == ' ') b++;
        if (p->s[b] == '"') {
            mp_buf lit;
            mp_buf_init(&lit);
            size_t i = b + 1;
            while (p->s[i] && p->s[i] != '"') {
                if (p->s[i] == '\\' && p->s[i + 1]) {
                    char e = p->s[++i];
                    mp_buf_putc(&lit, e == 'n' ? '\n' : e == 't' ? '\t' : e);
                } else mp_buf_putc(&lit, p->s[i]);
                i++;
            }
            if (!p->s[i]) {
                mp_buf_free(&lit);
                perr(p, b, "a string literal without its closing \"");
                goto fail;
            }
            i++;
            while (p->s[i] == ' ') i++;
            if (p->s[i] != '}') {
                mp_buf_free(&lit);
                perr(p, i, "expected } after the string literal");
                goto fail;
            }
            add_node(jp, (jp_node){.kind = JP_TEXT, .text = mp_buf_steal(&lit)});
            p->pos = i + 1;
            continue;
        }
        if (!close) {
            perr(p, brace, "\"{\" without \"}\"");
            goto fail;
        }
        size_t end = (size_t)(close - p->s);
        while (end > b && p->s[end - 1] == ' ') end--;
        if (end - b == 3 && strncmp(p->s + b, "end", 3) == 0) {
            p->pos = (size_t)(close - p->s) + 1;
            if (!inner) {
                perr(p, brace, "{end} without {range ...}");
                goto fail;
            }
            mp_buf_free(&text);
            return jp;
        }
        jp_node nd = {.kind = JP_PATH};
        if (end - b > 6 && strncmp(p->s + b, "range ", 6) == 0) {
            nd.kind = JP_RANGE;
            b += 6;
        }
        p->pos = b;
        int rc = parse_path(p, end, &nd);
        p->pos = (size_t)(close - p->s) + 1;
        if (rc == 0 && nd.kind == JP_RANGE) {
            nd.body = parse_seq(p, true, brace);
            if (!nd.body) rc = -1;
        }
        add_node(jp, nd);
        if (rc) goto fail;
    }
fail:
    mp_buf_free(&text);
    cli_jsonpath_free(jp);
    return NULL;
}

cli_jsonpath *cli_jsonpath_parse(const char *tmpl, char *err, size_t errn) {
    jp_parser p = {.s = tmpl, .err = err, .errn = errn};
    if (errn) err[0] = '\0';
    return parse_seq(&p, false, 0);
}

/* The values path nd selects from cur (root for $...): borrowed references, in res. */
static void select_values(const jp_node *nd, json_t *root, json_t *cur, json_t ***res, size_t *n) {
    json_t **set = mp_xcalloc(1, sizeof *set);
    size_t ns = 1;
    set[0] = nd->absolute ? root : cur;
    for (size_t k = 0; k < nd->nsegs; k++) {
        const jp_seg *sg = &nd->segs[k];
        json_t **next = NULL;
        size_t nn = 0;
        for (size_t i = 0; i < ns; i++) {
            json_t *v = set[i];
            json_t *pick[1];
            json_t **from = pick;
            size_t cnt = 0;
            if (sg->field) {
                if (json_is_object(v) && json_object_get(v, sg->field)) pick[cnt++] = json_object_get(v, sg->field);
                else if (json_is_array(v) && strcmp(sg->field, "items") == 0 && v == root) pick[cnt++] = v;
            } else if (json_is_array(v)) {
                if (sg->all) {
                    cnt = json_array_size(v);
                    from = NULL;
                } else {
                    long ix = sg->index < 0 ? (long)json_array_size(v) + sg->index : sg->index;
                    if (ix >= 0 && (size_t)ix < json_array_size(v)) pick[cnt++] = json_array_get(v, (size_t)ix);
                }
            }
            next = mp_xrealloc(next, (nn + cnt + 1) * sizeof *next);
            for (size_t j = 0; j < cnt; j++) next[nn++] = from ? from[j] : json_array_get(v, j);
        }
        free(set);
        set = next;
        ns = nn;
    }
    *res = set;
    *n = ns;
}

static void eval_in(const cli_jsonpath *jp, json_t *root, json_t *cur, mp_buf *out) {
    for (size_t i = 0; i < jp->n; i++) {
        const jp_node *nd = &jp->nodes[i];
        if (nd->kind == JP_TEXT) {
            mp_buf_puts(out, nd->text);
            continue;
        }
        json_t **vals;
        size_t nv;
        select_values(nd, root, cur, &vals, &nv);
        for (size_t j = 0; j < nv; j++) {
            if (nd->kind == JP_RANGE) {
                eval_in(nd->body, root, vals[j], out);
                continue;
            }
            if (j) mp_buf_putc(out, ' ');
            if (json_is_string(vals[j])) {
                mp_buf_puts(out, json_string_value(vals[j]));
            } else {
                char *t = json_dumps(vals[j], JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
                if (t) mp_buf_puts(out, t);
                free(t);
            }
        }
        free(vals);
    }
}

void cli_jsonpath_eval(const cli_jsonpath *jp, json_t *root, mp_buf *out) { eval_in(jp, root, root, out); }
