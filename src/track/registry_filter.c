/* registry_filter.c — the search arguments of the model registry's REST API:
 * MLflow's filter language, order_by clauses and page tokens, turned into the
 * store's store_reg_query pieces.
 *
 * Filter grammar (what MLflow's registry searches accept):
 *   filter  := cond { AND cond }
 *   cond    := key op value
 *   key     := [attribute.|attributes.|attr.] NAME | tags.NAME | tag.NAME
 *              (NAME may be `quoted` or "quoted")
 *   op      := = | != | < | <= | > | >= | LIKE | ILIKE | IN
 *   value   := 'text' | "text" | integer | ( 'text' {, 'text'} )
 * Registered models: attribute name (=, !=, LIKE, ILIKE) and tags. Model versions:
 * name, run_id (also IN), source_path, version_number (numeric) and tags.
 * Page tokens are base64 of {"offset": N}, as MLflow makes them.
 * Reentrant; no global state. */
#include "track/registry_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
    const char *s; /* the whole filter, for messages */
    const char *p;
} lexer;

static void skip_ws(lexer *l) {
    while (isspace((unsigned char)*l->p)) l->p++;
}

static int unparsable(const lexer *l, mp_http_resp *resp) {
    reg__invalid(resp, "Invalid filter '%s'. Could not be parsed.", l->s);
    return -1;
}

/* Reads a quoted text starting at the quote under the cursor ('' or "" inside
 * stands for the quote itself). */
static char *read_quoted(lexer *l) {
    char qc = *l->p++;
    mp_buf b;
    mp_buf_init(&b);
    for (;;) {
        if (!*l->p) {
            mp_buf_free(&b);
            return NULL;
        }
        if (*l->p == qc) {
            if (l->p[1] == qc) {
                mp_buf_putc(&b, qc);
                l->p += 2;
                continue;
            }
            l->p++;
            return mp_buf_steal(&b);
        }
        mp_buf_putc(&b, *l->p++);
    }
}

static bool ident_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '.'; }

/* Reads a key: *is_tag set for tags.X, *name gets X or the attribute (heap). */
static int read_key(lexer *l, bool *is_tag, char **name, mp_http_resp *resp) {
    skip_ws(l);
    *is_tag = false;
    *name = NULL;
    if (*l->p == '`' || *l->p == '"') {
        if (!(*name = read_quoted(l))) return unparsable(l, resp);
        return 0;
    }
    const char *start = l->p;
    while (ident_char(*l->p)) l->p++;
    size_t len = (size_t)(l->p - start);
    if (len == 0) return unparsable(l, resp);
    char *word = mp_xstrndup(start, len);
    static const char *const tag_prefixes[] = {"tags.", "tag."};
    static const char *const attr_prefixes[] = {"attributes.", "attribute.", "attr."};
    for (size_t i = 0; i < 2; i++) {
        size_t pl = strlen(tag_prefixes[i]);
        if (strncasecmp(word, tag_prefixes[i], pl) == 0) {
            *is_tag = true;
            if (word[pl] == '\0' && (*l->p == '`' || *l->p == '"')) {
                free(word);
                if (!(*name = read_quoted(l))) return unparsable(l, resp);
                return 0;
            }
            *name = mp_xstrdup(word + pl);
            free(word);
            return **name ? 0 : unparsable(l, resp);
        }
    }
    for (size_t i = 0; i < 3; i++) {
        size_t pl = strlen(attr_prefixes[i]);
        if (strncasecmp(word, attr_prefixes[i], pl) == 0) {
            *name = mp_xstrdup(word + pl);
            free(word);
            return 0;
        }
    }
    *name = word;
    return 0;
}

static bool read_word(lexer *l, const char *w) {
    skip_ws(l);
    size_t n = strlen(w);
    if (strncasecmp(l->p, w, n) == 0 && !ident_char(l->p[n])) {
        l->p += n;
        return true;
    }
    return false;
}

static const struct {
    const char *text;
    store_track_op op;
} ops[] = {
    {"!=", STORE_OP_NE}, {"<>", STORE_OP_NE}, {"<=", STORE_OP_LE}, {">=", STORE_OP_GE},
    {"=", STORE_OP_EQ},  {"<", STORE_OP_LT},  {">", STORE_OP_GT},
};

static int read_op(lexer *l, store_track_op *op, const char **text, mp_http_resp *resp) {
    skip_ws(l);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(l->p, ops[i].text, n) == 0) {
            l->p += n;
            *op = ops[i].op;
            *text = ops[i].text;
            return 0;
        }
    }
    if (read_word(l, "LIKE")) *op = STORE_OP_LIKE, *text = "LIKE";
    else if (read_word(l, "ILIKE")) *op = STORE_OP_ILIKE, *text = "ILIKE";
    else if (read_word(l, "IN")) *op = STORE_OP_IN, *text = "IN";
    else return unparsable(l, resp);
    return 0;
}

/* Which attributes a search knows and which comparisons each takes. */
typedef struct attr_rule {
    const char *key;
    store_reg_field field;
    bool versions; /* model versions only */
    bool numeric;
} attr_rule;

static const attr_rule attrs[] = {
    {"name", STORE_REG_NAME, false, false},
    {"run_id", STORE_REG_RUN_ID, true, false},
    {"source_path", STORE_REG_SOURCE, true, false},
    {"version_number", STORE_REG_VERSION, true, true},
};

static char *keep(reg_filter *f, char *s) {
    mp_strv_push_owned(&f->strs, s);
    return s;
}

/* Reads the value of condition c (after its operator). */
static int read_value(lexer *l, reg_filter *f, store_reg_cond *c, bool numeric, mp_http_resp *resp) {
    skip_ws(l);
    if (c->op == STORE_OP_IN) {
        if (*l->p != '(') return unparsable(l, resp);
        l->p++;
        mp_strv items = {0};
        for (;;) {
            skip_ws(l);
            char *s = (*l->p == '\'' || *l->p == '"') ? read_quoted(l) : NULL;
            if (!s) {
                mp_strv_free(&items);
                return unparsable(l, resp);
            }
            mp_strv_push_owned(&items, s);
            skip_ws(l);
            if (*l->p == ',') {
                l->p++;
                continue;
            }
            if (*l->p == ')') {
                l->p++;
                break;
            }
            mp_strv_free(&items);
            return unparsable(l, resp);
        }
        char **arr = mp_xcalloc(items.n ? items.n : 1, sizeof *arr);
        for (size_t i = 0; i < items.n; i++) arr[i] = keep(f, items.v[i]);
        free(items.v); /* the strings now belong to f->strs */
        f->lists = mp_xrealloc(f->lists, (f->nlists + 1) * sizeof *f->lists);
        f->lists[f->nlists++] = arr;
        c->list = (const char *const *)arr;
        c->nlist = items.n;
        return 0;
    }
    if (*l->p == '\'' || *l->p == '"') {
        char *s = read_quoted(l);
        if (!s) return unparsable(l, resp);
        c->str = keep(f, s);
    } else {
        const char *start = l->p;
        while (*l->p && !isspace((unsigned char)*l->p)) l->p++;
        char *s = mp_xstrndup(start, (size_t)(l->p - start));
        if (!numeric || !*s) {
            reg__invalid(resp,
                         "Parameter value is either not quoted or unidentified quote types used for string value "
                         "%s. Use either single or double quotes.",
                         s);
            free(s);
            return -1;
        }
        c->str = keep(f, s);
    }
    if (numeric) {
        char *end;
        c->num = strtoll(c->str, &end, 10);
        if (!*c->str || *end) {
            reg__invalid(resp, "Expected numeric value type for numeric attribute: %s. Found %s", "version_number",
                         c->str);
            return -1;
        }
    }
    return 0;
}

/* Checks that the comparison fits the key, as MLflow's registry stores do. */
static int check_op(const store_reg_cond *c, const attr_rule *a, const char *optext, mp_http_resp *resp) {
    bool text_op = c->op == STORE_OP_EQ || c->op == STORE_OP_NE || c->op == STORE_OP_LIKE || c->op == STORE_OP_ILIKE;
    if (!a) {
        if (text_op) return 0;
        reg__invalid(resp, "Invalid comparator for tag: %s", optext);
        return -1;
    }
    if (a->numeric) {
        if (c->op != STORE_OP_LIKE && c->op != STORE_OP_ILIKE && c->op != STORE_OP_IN) return 0;
        reg__invalid(resp, "Invalid comparator for attribute %s: %s", a->key, optext);
        return -1;
    }
    if (text_op || (c->op == STORE_OP_IN && a->field == STORE_REG_RUN_ID)) return 0;
    reg__invalid(resp, "Invalid comparator for attribute: %s", optext);
    return -1;
}

static int parse_cond(lexer *l, bool versions, reg_filter *f, store_reg_cond *c, mp_http_resp *resp) {
    bool is_tag;
    char *name;
    if (read_key(l, &is_tag, &name, resp) != 0) return -1;
    keep(f, name);
    const attr_rule *a = NULL;
    memset(c, 0, sizeof *c);
    if (is_tag) {
        c->field = STORE_REG_TAG;
        c->tag_key = name;
    } else {
        for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && !a; i++)
            if (strcmp(name, attrs[i].key) == 0 && (versions || !attrs[i].versions)) a = &attrs[i];
        if (!a) {
            reg__invalid(resp, "Invalid attribute name: %s", name);
            return -1;
        }
        c->field = a->field;
    }
    const char *optext;
    if (read_op(l, &c->op, &optext, resp) != 0) return -1;
    if (check_op(c, a, optext, resp) != 0) return -1;
    return read_value(l, f, c, a && a->numeric, resp);
}

int reg__filter_parse(const char *s, bool versions, reg_filter *out, mp_http_resp *resp) {
    memset(out, 0, sizeof *out);
    if (!s) return 0;
    lexer l = {s, s};
    skip_ws(&l);
    if (!*l.p) return 0;
    size_t cap = 0;
    for (;;) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 4;
            out->conds = mp_xrealloc(out->conds, cap * sizeof *out->conds);
        }
        if (parse_cond(&l, versions, out, &out->conds[out->n], resp) != 0) goto fail;
        out->n++;
        skip_ws(&l);
        if (!*l.p) return 0;
        if (!read_word(&l, "AND")) {
            unparsable(&l, resp);
            goto fail;
        }
    }
fail:
    reg__filter_free(out);
    return -1;
}

void reg__filter_free(reg_filter *f) {
    free(f->conds);
    mp_strv_free(&f->strs);
    for (size_t i = 0; i < f->nlists; i++) free(f->lists[i]);
    free(f->lists);
    memset(f, 0, sizeof *f);
}

/* ---- order_by ------------------------------------------------------------------------- */

static const struct {
    const char *key;
    store_reg_field field;
    bool versions; /* valid for model versions (else registered models) */
} order_keys[] = {
    {"name", STORE_REG_NAME, false},
    {"last_updated_timestamp", STORE_REG_UPDATED, false},
    {"timestamp", STORE_REG_UPDATED, false},
    {"name", STORE_REG_NAME, true},
    {"version_number", STORE_REG_VERSION, true},
    {"creation_timestamp", STORE_REG_CREATED, true},
    {"last_updated_timestamp", STORE_REG_UPDATED, true},
};

int reg__order_parse(const char *const *items, size_t n, bool versions, store_reg_order **out, size_t *nout,
                     mp_http_resp *resp) {
    *out = mp_xcalloc(n ? n : 1, sizeof **out);
    *nout = 0;
    for (size_t i = 0; i < n; i++) {
        lexer l = {items[i], items[i]};
        bool is_tag;
        char *key = NULL;
        mp_http_resp scratch;
        mp_http_resp_init(&scratch);
        int rc = read_key(&l, &is_tag, &key, &scratch);
        mp_http_resp_free(&scratch);
        bool asc = true;
        if (rc == 0) {
            if (read_word(&l, "DESC")) asc = false;
            else read_word(&l, "ASC");
            skip_ws(&l);
        }
        if (rc != 0 || *l.p || is_tag) {
            free(key);
            reg__invalid(resp, "Invalid order_by clause '%s'. Could not be parsed.", items[i]);
            goto fail;
        }
        int field = -1;
        for (size_t k = 0; k < sizeof order_keys / sizeof order_keys[0] && field < 0; k++)
            if (order_keys[k].versions == versions && strcmp(order_keys[k].key, key) == 0)
                field = (int)order_keys[k].field;
        if (field < 0) {
            reg__invalid(resp, "Invalid order by key '%s' specified. Valid keys are %s", key,
                         versions ? "{'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'}"
                                  : "'{'name', 'last_updated_timestamp'}'");
            free(key);
            goto fail;
        }
        free(key);
        for (size_t k = 0; k < *nout; k++) {
            if ((int)(*out)[k].field == field) {
                /* MLflow raises this without an error code: its clients see INTERNAL_ERROR. */
                mp_http_mlflow_error(resp, 500, "INTERNAL_ERROR", "`order_by` contains duplicate fields: %s",
                                     items[i]);
                goto fail;
            }
        }
        (*out)[(*nout)++] = (store_reg_order){.field = (store_reg_field)field, .asc = asc};
    }
    return 0;
fail:
    free(*out);
    *out = NULL;
    *nout = 0;
    return -1;
}

/* ---- page tokens ---------------------------------------------------------------------- */

char *reg__page_token(int64_t offset) {
    char json[64];
    int len = snprintf(json, sizeof json, "{\"offset\": %lld}", (long long)offset);
    size_t n = sodium_base64_encoded_len((size_t)len, sodium_base64_VARIANT_ORIGINAL);
    char *out = mp_xmalloc(n);
    sodium_bin2base64(out, n, (const unsigned char *)json, (size_t)len, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

int reg__page_token_parse(const char *tok, int64_t *offset, mp_http_resp *resp) {
    *offset = 0;
    if (!tok || !*tok) return 0;
    size_t cap = strlen(tok) + 1;
    unsigned char *bin = mp_xmalloc(cap);
    size_t len = 0;
    if (sodium_base642bin(bin, cap, tok, strlen(tok), " \n", &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(bin);
        reg__invalid(resp, "Invalid page token, could not base64-decode. Error: '%s'", tok);
        return -1;
    }
    json_t *v = json_loadb((const char *)bin, len, 0, NULL);
    free(bin);
    json_t *off = json_object_get(v, "offset");
    int rc = 0;
    if (!v) {
        reg__invalid(resp, "Invalid page token, decoded value=%s", tok);
        rc = -1;
    } else if (!off) {
        reg__invalid(resp, "Invalid page token, parsed value=%s", tok);
        rc = -1;
    } else if (!json_is_integer(off) || json_integer_value(off) < 0) {
        reg__invalid(resp, "Invalid page token, offset must be a non-negative integer");
        rc = -1;
    } else {
        *offset = json_integer_value(off);
    }
    json_decref(v);
    return rc;
}

/* ---- search requests ----------------------------------------------------------------- */

int reg__search_args(json_t *p, bool versions, int64_t dflt, int64_t limit, const char *const *dflt_order,
                     size_t ndflt_order, reg_search *out, mp_http_resp *resp) {
    memset(out, 0, sizeof *out);
    const char *filter, *token;
    size_t norder_by = 0, norder = 0;
    int64_t offset;
    if (reg__str(p, "filter", false, &filter, resp) != 0 || reg__int(p, "max_results", dflt, &out->max, resp) != 0 ||
        reg__str_array(p, "order_by", &out->order_by, &norder_by, resp) != 0 ||
        reg__str(p, "page_token", false, &token, resp) != 0)
        return -1;
    if (out->max > limit) {
        reg__invalid(resp, "Invalid value for request parameter max_results. It must be at most %lld, but got value %lld",
                     (long long)limit, (long long)out->max);
        return -1;
    }
    if (out->max < 1) {
        reg__invalid(resp, "Invalid value for max_results. It must be a positive integer, but got %lld",
                     (long long)out->max);
        return -1;
    }
    if (reg__filter_parse(filter, versions, &out->f, resp) != 0) return -1;
    if (norder_by == 0 && ndflt_order > 0) {
        if (reg__order_parse(dflt_order, ndflt_order, versions, &out->order, &norder, resp) != 0) return -1;
    } else if (reg__order_parse(out->order_by, norder_by, versions, &out->order, &norder, resp) != 0) {
        return -1;
    }
    if (reg__page_token_parse(token, &offset, resp) != 0) return -1;
    out->q = (store_reg_query){out->f.conds, out->f.n, out->order, norder, offset, out->max + 1};
    return 0;
}

void reg__search_free(reg_search *s) {
    free(s->order_by);
    free(s->order);
    reg__filter_free(&s->f);
}

void reg__search_reply(mp_http_resp *resp, const reg_search *s, const char *key, json_t *items, size_t n) {
    json_t *o = json_object();
    if (n > 0) json_object_set_new(o, key, items);
    else json_decref(items);
    if (n > (size_t)s->max) {
        char *t = reg__page_token(s->q.offset + s->max);
        json_object_set_new(o, "next_page_token", json_string(t));
        free(t);
    }
    mp_http_json(resp, 200, o);
}
