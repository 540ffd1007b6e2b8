/* secret.c — kind Secret, as Kubernetes spells it: `data` (base64 values) and
 * `stringData` (text values, winning over data for the same key), an optional
 * `type`; and the text of a file with its Secrets' values stripped, which is what
 * the store keeps of an applied file (the values themselves are sealed apart,
 * src/store/secrets.c).
 * Decoded values are heap buffers zeroed before they are freed. Reentrant. */
#include "spec/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define KEY_RULE "use letters, digits, '-', '_' or '.', at most 253 characters"

static bool is_secret_key(const char *k) {
    size_t n = strlen(k);
    if (n == 0 || n > 253 || strcmp(k, ".") == 0 || strcmp(k, "..") == 0) return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '-' ||
              *k == '_' || *k == '.'))
            return false;
    return true;
}

static void item_wipe(spec_secret_item *it) {
    free(it->key);
    if (it->value) {
        sodium_memzero(it->value, it->len + 1);
        free(it->value);
    }
    memset(it, 0, sizeof *it);
}

/* Sets key to value (taken), replacing one there (stringData over data). */
static void put_item(spec_secret *s, char *key, unsigned char *value, size_t len, spec_pos pos) {
    for (size_t i = 0; i < s->nitems; i++) {
        if (strcmp(s->items[i].key, key) == 0) {
            item_wipe(&s->items[i]);
            s->items[i] = (spec_secret_item){key, value, len, pos};
            return;
        }
    }
    s->items = mp_xrealloc(s->items, (s->nitems + 1) * sizeof *s->items);
    s->items[s->nitems++] = (spec_secret_item){key, value, len, pos};
}

static void decode_values(spec__ctx *c, spec_secret *s, struct fy_node *m, spec_pos at, const char *field,
                          bool base64) {
    if (spec__is_null(m) || !spec__expect(c, m, at, field, FYNT_MAPPING)) return;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(m, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        spec_pos kp = spec__pos(k, at);
        if (!spec__is_scalar(k)) {
            spec__err(c, kp, "keys in %s must be strings", field);
            continue;
        }
        char *key = spec__scalar_dup(k);
        if (!is_secret_key(key)) {
            spec__err(c, kp, "%s: \"%s\" is not a valid key: " KEY_RULE, field, key);
            free(key);
            continue;
        }
        size_t vlen = 0;
        const char *text = spec__is_null(v) ? "" : spec__is_scalar(v) ? fy_node_get_scalar(v, &vlen) : NULL;
        if (!text) {
            spec__err(c, spec__pos(v, kp), "%s.%s must be a string", field, key);
            free(key);
            continue;
        }
        unsigned char *val = mp_xcalloc(vlen + 1, 1);
        size_t len = 0;
        if (base64) {
            const char *end = NULL;
            if (sodium_base642bin(val, vlen + 1, text, vlen, " \t\r\n", &len, &end, sodium_base64_VARIANT_ORIGINAL) !=
                    0 ||
                (end && (size_t)(end - text) != vlen)) {
                spec__err(c, spec__pos(v, kp),
                          "data.%s is not base64 (put text in stringData instead, or encode it with base64 -w0)", key);
                sodium_memzero(val, vlen + 1);
                free(val);
                free(key);
                continue;
            }
        } else {
            memcpy(val, text, vlen);
            len = vlen;
        }
        val[len] = '\0';
        put_item(s, key, val, len, kp);
    }
}

static int item_cmp(const void *a, const void *b) {
    return strcmp(((const spec_secret_item *)a)->key, ((const spec_secret_item *)b)->key);
}

bool spec__decode_secret(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                         spec_pos sp, spec_object *o) {
    (void)rp;
    spec_secret *s = mp_xcalloc(1, sizeof *s);
    s->meta = *meta;
    memset(meta, 0, sizeof *meta);
    o->u.secret = s;
    (void)spec, (void)sp; /* a "spec" is an unknown field, said by the loader */
    struct fy_node *v;
    spec_pos kp;
    if (spec__lookup(root, "type", &v, &kp) && !spec__is_null(v)) spec__get_str(c, v, kp, "type", &s->type);
    if (spec__lookup(root, "data", &v, &kp)) decode_values(c, s, v, kp, "data", true);
    if (spec__lookup(root, "stringData", &v, &kp)) decode_values(c, s, v, kp, "stringData", false);
    if (s->nitems > 1) qsort(s->items, s->nitems, sizeof *s->items, item_cmp);
    return true;
}

void spec_secret_free(spec_secret *s) {
    if (!s) return;
    spec__meta_free(&s->meta);
    free(s->type);
    for (size_t i = 0; i < s->nitems; i++) item_wipe(&s->items[i]);
    free(s->items);
    free(s);
}

/* ---- the text the store keeps --------------------------------------------------------- */

static struct fy_node *map_get(struct fy_node *m, const char *key) {
    return fy_node_is_mapping(m) ? fy_node_mapping_lookup_by_string(m, key, FY_NT) : NULL;
}

/* doc's Secret root with stringData's keys moved into data, every value "". */
static int strip_doc(struct fy_document *doc, struct fy_node *root) {
    struct fy_node *keys = fy_node_create_mapping(doc);
    if (!keys) return -1;
    static const char *const fields[] = {"data", "stringData"};
    for (size_t f = 0; f < 2; f++) {
        struct fy_node *m = map_get(root, fields[f]);
        void *it = NULL;
        struct fy_node_pair *p;
        while (fy_node_is_mapping(m) && (p = fy_node_mapping_iterate(m, &it))) {
            const char *k = fy_node_get_scalar0(fy_node_pair_key(p));
            if (!k || fy_node_mapping_lookup_pair_by_string(keys, k, FY_NT)) continue;
            struct fy_node *kn = fy_node_create_scalar_copy(doc, k, FY_NT);
            struct fy_node *vn = fy_node_build_from_string(doc, "\"\"", FY_NT);
            if (!kn || !vn || fy_node_mapping_append(keys, kn, vn) != 0) return -1;
        }
        if (fy_node_mapping_lookup_pair_by_string(root, fields[f], FY_NT)) {
            struct fy_node *kn = fy_node_create_scalar_copy(doc, fields[f], FY_NT);
            struct fy_node *old = kn ? fy_node_mapping_remove_by_key(root, kn) : NULL;
            if (!old) return -1;
            fy_node_free(old);
        }
    }
    struct fy_node *kn = fy_node_create_scalar_copy(doc, "data", FY_NT);
    return kn ? fy_node_mapping_append(root, kn, keys) : -1;
}

int spec_secret_strip(const char *text, char **out, mp_err *e) {
    *out = NULL;
    struct fy_parse_cfg pc = {.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT};
    struct fy_parser *fyp = fy_parser_create(&pc);
    if (!fyp || fy_parser_set_string(fyp, text, FY_NT) != 0) {
        if (fyp) fy_parser_destroy(fyp);
        return mp_err_set(e, MP_EINTERNAL, "cannot start the YAML parser");
    }
    mp_buf b;
    mp_buf_init(&b);
    int rc = 0;
    bool any = false;
    size_t ndocs = 0;
    struct fy_document *doc;
    while (rc == 0 && (doc = fy_parse_load_document(fyp))) {
        struct fy_node *root = fy_document_root(doc);
        if (root && !(fy_node_is_scalar(root) && !fy_node_get_scalar0(root))) {
            const char *kind = fy_node_get_scalar0(map_get(root, "kind"));
            if (kind && strcmp(kind, "Secret") == 0 && fy_node_is_mapping(root)) {
                any = true;
                if (strip_doc(doc, root) != 0) rc = mp_err_set(e, MP_EINTERNAL, "cannot strip a Secret's values");
            }
            char *s = rc == 0 ? fy_emit_document_to_string(doc, FYECF_MODE_BLOCK) : NULL;
            if (rc == 0 && !s) rc = mp_err_set(e, MP_EINTERNAL, "cannot write a document back as YAML");
            if (s) {
                mp_buf_printf(&b, "%s%s", ndocs++ ? "---\n" : "", s);
                free(s);
            }
        }
        fy_parse_document_destroy(fyp, doc);
    }
    fy_parser_destroy(fyp);
    if (rc == 0 && any) {
        mp_buf_putc(&b, '\0');
        *out = mp_buf_steal(&b);
    }
    mp_buf_free(&b);
    return rc;
}

/* ---- a step's references -------------------------------------------------------------- */

static void push_ref(spec_step *s, spec_secret_ref r) {
    s->secret_refs = mp_xrealloc(s->secret_refs, (s->nsecret_refs + 1) * sizeof *s->secret_refs);
    s->secret_refs[s->nsecret_refs++] = r;
}

/* The required string field f of mapping m (at path), checked by rule ok (NULL: any). */
static char *req_str(spec__ctx *c, struct fy_node *m, spec_pos at, const char *path, const char *f,
                     bool (*ok)(const char *), const char *rule) {
    struct fy_node *v;
    spec_pos kp;
    char *sub = mp_xasprintf("%s.%s", path, f), *out = NULL;
    if (!spec__lookup(m, f, &v, &kp) || spec__is_null(v))
        spec__err(c, at, "missing required field \"%s\"", sub);
    else if (spec__get_str(c, v, kp, sub, &out) && ok && !ok(out)) {
        spec__err(c, spec__pos(v, kp), "%s \"%s\" is not valid: %s", sub, out, rule);
        free(out);
        out = NULL;
    }
    free(sub);
    return out;
}

static const char *const VALUE_FROM_FIELDS[] = {"secretKeyRef", NULL};
static const char *const KEY_REF_FIELDS[] = {"name", "key", NULL};

void spec__decode_secret_env(spec__ctx *c, spec_step *s, char *env, struct fy_node *vf, spec_pos at,
                             const char *path) {
    char *where = mp_xasprintf("in %s", path);
    if (!spec__expect(c, vf, at, path, FYNT_MAPPING)) goto out;
    spec__check_keys(c, vf, VALUE_FROM_FIELDS, where);
    struct fy_node *r;
    spec_pos rp;
    if (!spec__lookup(vf, "secretKeyRef", &r, &rp)) {
        spec__err(c, spec__pos(vf, at), "missing required field \"%s.secretKeyRef\" ({name: SECRET, key: KEY})", path);
        goto out;
    }
    char *sub = mp_xasprintf("%s.secretKeyRef", path);
    if (spec__expect(c, r, rp, sub, FYNT_MAPPING)) {
        char *w2 = mp_xasprintf("in %s", sub);
        spec__check_keys(c, r, KEY_REF_FIELDS, w2);
        free(w2);
        spec_pos mp = spec__pos(r, rp);
        char *name = req_str(c, r, mp, sub, "name", spec__is_dns_label, "name a Secret (a DNS label)");
        char *key = req_str(c, r, mp, sub, "key", is_secret_key, KEY_RULE);
        if (name && key) {
            push_ref(s, (spec_secret_ref){.env = env, .secret = name, .key = key, .pos = mp});
            env = NULL;
        } else {
            free(name);
            free(key);
        }
    }
    free(sub);
out:
    free(where);
    free(env);
}

static const char *const SECRET_FILE_FIELDS[] = {"secretRef", "key", "path", NULL};

/* A relative path of plain segments (no "..", no "." , no empty ones). */
static bool is_file_path(const char *p) {
    if (!*p || *p == '/' || strlen(p) > 255) return false;
    for (const char *seg = p; seg;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) return false;
        seg = slash ? slash + 1 : NULL;
    }
    return true;
}

void spec__decode_secret_files(spec__ctx *c, spec_step *s, struct fy_node *v, spec_pos kp, const char *path) {
    if (!spec__expect(c, v, kp, path, FYNT_SEQUENCE)) return;
    void *it = NULL;
    struct fy_node *item;
    for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
        char *sub = mp_xasprintf("%s[%d]", path, i);
        if (spec__expect(c, item, kp, sub, FYNT_MAPPING)) {
            spec_pos ip = spec__pos(item, kp);
            char *where = mp_xasprintf("in %s", sub);
            spec__check_keys(c, item, SECRET_FILE_FIELDS, where);
            free(where);
            char *name = req_str(c, item, ip, sub, "secretRef", spec__is_dns_label, "name a Secret (a DNS label)");
            char *key = req_str(c, item, ip, sub, "key", is_secret_key, KEY_RULE);
            struct fy_node *pn;
            spec_pos pp;
            char *fpath = NULL;
            if (spec__lookup(item, "path", &pn, &pp) && !spec__is_null(pn)) {
                char *ps = mp_xasprintf("%s.path", sub);
                if (spec__get_str(c, pn, pp, ps, &fpath) && !is_file_path(fpath)) {
                    spec__err(c, spec__pos(pn, pp),
                              "%s \"%s\" is not valid: a relative path under MLPLANE_SECRETS, without \"..\"", ps,
                              fpath);
                    free(fpath);
                    fpath = NULL;
                    free(key); /* reported: the reference is dropped */
                    key = NULL;
                }
                free(ps);
            } else if (key) {
                fpath = mp_xstrdup(key); /* default: the key's name */
            }
            for (size_t j = 0; fpath && j < s->nsecret_refs; j++)
                if (s->secret_refs[j].path && strcmp(s->secret_refs[j].path, fpath) == 0) {
                    spec__err(c, ip, "%s: path \"%s\" is used twice in secretFiles", sub, fpath);
                    free(fpath);
                    fpath = NULL;
                }
            if (name && key && fpath)
                push_ref(s, (spec_secret_ref){.path = fpath, .secret = name, .key = key, .pos = ip});
            else {
                free(name);
                free(key);
                free(fpath);
            }
        }
        free(sub);
    }
}

void spec__secret_refs_free(spec_step *s) {
    for (size_t i = 0; i < s->nsecret_refs; i++) {
        free(s->secret_refs[i].env);
        free(s->secret_refs[i].path);
        free(s->secret_refs[i].secret);
        free(s->secret_refs[i].key);
    }
    free(s->secret_refs);
    s->secret_refs = NULL;
    s->nsecret_refs = 0;
}
