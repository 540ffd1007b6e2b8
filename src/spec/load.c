/* load.c — spec files in: YAML text through libfyaml into spec_file objects.
 *
 * libfyaml parses each `---` document into a node tree; its own errors (syntax,
 * duplicate keys, unknown aliases) are collected through a quiet fy_diag instead
 * of being printed, and become diagnostics with their line:col. Each document's
 * envelope (apiVersion, kind, metadata) is checked here and its `spec` handed to
 * the decoder of its kind (a table, one row per kind). The node helpers used by
 * every decoder (positions, typed scalars, unknown-field checks) live here too.
 * Nothing is printed; every problem found is one diagnostic, sorted by position. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

/* ---- node helpers -------------------------------------------------------------- */

spec_pos spec__pos(struct fy_node *n, spec_pos fallback) {
    if (!n) return fallback;
    void *it = NULL;
    switch (fy_node_get_type(n)) {
    case FYNT_SCALAR: {
        /* libfyaml 0.7 has no public start mark for nodes, but scalars keep their token. */
        struct fy_token *t = fy_node_get_scalar_token(n);
        const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
        if (!m) return fallback;
        /* A quoted scalar's token starts after its opening quote; point at the quote. */
        enum fy_node_style st = fy_node_get_style(n);
        int quote = (st == FYNS_SINGLE_QUOTED || st == FYNS_DOUBLE_QUOTED) && m->column > 0;
        return (spec_pos){m->line + 1, m->column + 1 - quote};
    }
    case FYNT_MAPPING: { /* a block mapping starts where its first key does */
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? spec__pos(fy_node_pair_key(p), fallback) : fallback;
    }
    case FYNT_SEQUENCE: {
        struct fy_node *x = fy_node_sequence_iterate(n, &it);
        return x ? spec__pos(x, fallback) : fallback;
    }
    }
    return fallback;
}

char *spec__scalar_dup(struct fy_node *n) {
    size_t len = 0;
    const char *s = n ? fy_node_get_scalar(n, &len) : NULL;
    return s ? mp_xstrndup(s, len) : mp_xstrdup("");
}

typedef enum scalar_kind { SK_NULL, SK_BOOL, SK_INT, SK_FLOAT, SK_STR, SK_MAP, SK_SEQ } scalar_kind;

static bool all_digits(const char *s, size_t n) {
    if (!n) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

static bool is_one_of(const char *s, size_t n, const char *const *words) {
    for (; *words; words++)
        if (strlen(*words) == n && memcmp(*words, s, n) == 0) return true;
    return false;
}

static const char *const NULL_WORDS[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const TRUE_WORDS[] = {"true", "True", "TRUE", NULL};
static const char *const FALSE_WORDS[] = {"false", "False", "FALSE", NULL};

/* What a node is by the YAML 1.2 core schema; only plain scalars can be other than
 * strings. */
static scalar_kind classify(struct fy_node *n) {
    if (!n || fy_node_is_null(n)) return SK_NULL;
    if (fy_node_get_type(n) == FYNT_MAPPING) return SK_MAP;
    if (fy_node_get_type(n) == FYNT_SEQUENCE) return SK_SEQ;
    if (fy_node_get_style(n) != FYNS_PLAIN) return SK_STR;
    size_t len = 0;
    const char *s = fy_node_get_scalar(n, &len);
    if (!s || is_one_of(s, len, NULL_WORDS)) return SK_NULL;
    if (is_one_of(s, len, TRUE_WORDS) || is_one_of(s, len, FALSE_WORDS)) return SK_BOOL;
    size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (all_digits(s + i, len - i)) return SK_INT;
    /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
    size_t d = 0, j = i;
    while (j < len && s[j] >= '0' && s[j] <= '9') j++, d++;
    if (j < len && s[j] == '.') {
        j++;
        while (j < len && s[j] >= '0' && s[j] <= '9') j++, d++;
    }
    if (d && j < len && (s[j] == 'e' || s[j] == 'E')) {
        j++;
        if (j < len && (s[j] == '-' || s[j] == '+')) j++;
        size_t k = j;
        while (j < len && s[j] >= '0' && s[j] <= '9') j++;
        if (j == k) return SK_STR;
    }
    return d && j == len ? SK_FLOAT : SK_STR;
}

bool spec__is_null(struct fy_node *n) {
    return classify(n) == SK_NULL;
}

bool spec__is_scalar(struct fy_node *n) {
    scalar_kind k = classify(n);
    return k != SK_NULL && k != SK_MAP && k != SK_SEQ;
}

char *spec__describe(struct fy_node *n) {
    size_t len = 0;
    const char *s = n && fy_node_get_type(n) == FYNT_SCALAR ? fy_node_get_scalar(n, &len) : NULL;
    int shown = len > 40 ? 40 : (int)len;
    const char *more = len > 40 ? "..." : "";
    switch (classify(n)) {
    case SK_NULL: return mp_xstrdup("null");
    case SK_MAP: return mp_xstrdup("a mapping");
    case SK_SEQ: return mp_xstrdup("a list");
    case SK_BOOL: return mp_xasprintf("boolean %.*s", shown, s);
    case SK_INT: return mp_xasprintf("integer %.*s", shown, s);
    case SK_FLOAT: return mp_xasprintf("number %.*s", shown, s);
    case SK_STR: break;
    }
    return mp_xasprintf("string \"%.*s%s\"", shown, s ? s : "", more);
}

static bool type_error(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, const char *want) {
    char *got = spec__describe(n);
    spec__err(c, spec__pos(n, at), "field \"%s\" must be %s, got %s", path, want, got);
    free(got);
    return false;
}

bool spec__get_str(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, char **out) {
    if (!spec__is_scalar(n)) return type_error(c, n, at, path, "a string");
    *out = spec__scalar_dup(n);
    return true;
}

bool spec__get_int(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, long long min, long long max,
                   long long *out) {
    if (classify(n) != SK_INT) return type_error(c, n, at, path, "an integer");
    char *s = spec__scalar_dup(n);
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    bool range = errno == ERANGE;
    free(s);
    if (range || v < min || v > max) {
        char *got = spec__describe(n);
        if (v < min && !range)
            spec__err(c, spec__pos(n, at), "field \"%s\" must be at least %lld, got %s", path, min, got);
        else
            spec__err(c, spec__pos(n, at), "field \"%s\" must be at most %lld, got %s", path, max, got);
        free(got);
        return false;
    }
    *out = v;
    return true;
}

bool spec__get_number(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, double min, double *out) {
    scalar_kind k = classify(n);
    if (k != SK_INT && k != SK_FLOAT) return type_error(c, n, at, path, "a number");
    char *s = spec__scalar_dup(n);
    double v = strtod(s, NULL);
    free(s);
    if (!(v >= min) || v > 1e15) {
        char *got = spec__describe(n);
        spec__err(c, spec__pos(n, at), "field \"%s\" must be a number from %g to 1e15, got %s", path, min, got);
        free(got);
        return false;
    }
    *out = v;
    return true;
}

bool spec__get_range(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, double min, double max,
                     double *out) {
    scalar_kind k = classify(n);
    if (k != SK_INT && k != SK_FLOAT) return type_error(c, n, at, path, "a number");
    char *s = spec__scalar_dup(n);
    double v = strtod(s, NULL);
    free(s);
    if (!(v >= min) || !(v <= max)) {
        char *got = spec__describe(n);
        spec__err(c, spec__pos(n, at), "field \"%s\" must be a number from %.15g to %.15g, got %s", path, min, max,
                  got);
        free(got);
        return false;
    }
    *out = v;
    return true;
}

bool spec__get_bool(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, bool *out) {
    if (classify(n) != SK_BOOL) return type_error(c, n, at, path, "a boolean (true or false)");
    size_t len = 0;
    const char *s = fy_node_get_scalar(n, &len);
    *out = is_one_of(s, len, TRUE_WORDS);
    return true;
}

bool spec__expect(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, enum fy_node_type type) {
    scalar_kind k = classify(n);
    if (type == FYNT_MAPPING && k != SK_MAP) return type_error(c, n, at, path, "a mapping");
    if (type == FYNT_SEQUENCE && k != SK_SEQ) return type_error(c, n, at, path, "a list");
    if (type == FYNT_SCALAR && !spec__is_scalar(n)) return type_error(c, n, at, path, "a scalar");
    return true;
}

/* The text of a mapping key, or NULL when the key is not a plain string. */
static const char *key_text(struct fy_node *k, size_t *len) {
    if (!k || fy_node_get_type(k) != FYNT_SCALAR) return NULL;
    return fy_node_get_scalar(k, len);
}

bool spec__lookup(struct fy_node *m, const char *key, struct fy_node **val, spec_pos *keypos) {
    void *it = NULL;
    struct fy_node_pair *p;
    size_t klen = strlen(key);
    while (m && (p = fy_node_mapping_iterate(m, &it))) {
        size_t len = 0;
        const char *k = key_text(fy_node_pair_key(p), &len);
        if (k && len == klen && memcmp(k, key, len) == 0) {
            *val = fy_node_pair_value(p);
            *keypos = spec__pos(fy_node_pair_key(p), (spec_pos){0, 0});
            return true;
        }
    }
    return false;
}

const char *spec__closest(const char *word, const char *const *cands, size_t n) {
    const char *best = NULL;
    int bestd = 3;
    for (size_t i = 0; i < n; i++) {
        int d = mp_edit_distance(word, cands[i]);
        if (d < bestd && (size_t)d < strlen(word)) {
            bestd = d;
            best = cands[i];
        }
    }
    return best;
}

const char *spec_closest(const char *word, const char *const *cands, size_t n) {
    return spec__closest(word, cands, n);
}

char *spec__join(const char *const *names, size_t n) {
    if (!n) return mp_xstrdup("none");
    mp_buf b;
    mp_buf_init(&b);
    for (size_t i = 0; i < n; i++) mp_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
    return mp_buf_steal(&b);
}

void spec__check_keys(spec__ctx *c, struct fy_node *m, const char *const *known, const char *where) {
    spec__check_keys_as(c, m, known, "field", where);
}

void spec__check_keys_as(spec__ctx *c, struct fy_node *m, const char *const *known, const char *noun,
                         const char *where) {
    size_t nknown = 0;
    while (known[nknown]) nknown++;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(m, &it))) {
        struct fy_node *kn = fy_node_pair_key(p);
        spec_pos at = spec__pos(kn, spec__pos(m, (spec_pos){0, 0}));
        size_t len = 0;
        const char *k = key_text(kn, &len);
        if (!k || !spec__is_scalar(kn)) {
            spec__err(c, at, "keys %s must be strings", where);
            continue;
        }
        bool found = false;
        for (size_t i = 0; i < nknown && !found; i++) found = strlen(known[i]) == len && memcmp(known[i], k, len) == 0;
        if (found) continue;
        char *key = mp_xstrndup(k, len);
        const char *near = spec__closest(key, known, nknown);
        if (near) {
            spec__err(c, at, "unknown %s \"%s\" %s (did you mean \"%s\"?)", noun, key, where, near);
        } else {
            char *all = spec__join(known, nknown);
            spec__err(c, at, "unknown %s \"%s\" %s (known: %s)", noun, key, where, all);
            free(all);
        }
        free(key);
    }
}

bool spec__is_dns_label(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && !(ch == '-' && i > 0 && i < n - 1)) return false;
    }
    return true;
}

int spec__get_enum(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, const char *const *words) {
    char *s = NULL;
    if (!spec__get_str(c, n, at, path, &s)) return -1;
    size_t nw = 0;
    while (words[nw]) nw++;
    for (size_t i = 0; i < nw; i++) {
        if (strcmp(s, words[i]) == 0) {
            free(s);
            return (int)i;
        }
    }
    char *all = spec__join(words, nw);
    const char *near = spec__closest(s, words, nw);
    if (near)
        spec__err(c, spec__pos(n, at), "field \"%s\" must be one of %s, got \"%s\" (did you mean \"%s\"?)", path, all,
                  s, near);
    else
        spec__err(c, spec__pos(n, at), "field \"%s\" must be one of %s, got \"%s\"", path, all, s);
    free(all);
    free(s);
    return -1;
}

bool spec__open_map(spec__ctx *c, struct fy_node *m, spec_pos at, const char *path, const char *const *known) {
    if (!spec__expect(c, m, at, path, FYNT_MAPPING)) return false;
    char *where = mp_xasprintf("in %s", path);
    spec__check_keys(c, m, known, where);
    free(where);
    return true;
}

/* ---- documents ------------------------------------------------------------------ */

static const char *const DOC_FIELDS[] = {"apiVersion", "kind", "metadata", "spec", NULL};
/* PriorityClass keeps its fields at the top level, as in Kubernetes; `spec` is
 * known only to say so. */
static const char *const PRIORITY_CLASS_FIELDS[] = {"apiVersion",    "kind",        "metadata", "value",
                                                    "globalDefault", "description", "preemptionPolicy", "spec",
                                                    NULL};

/* Secret, as Kubernetes: values at the top level, no spec. */
static const char *const SECRET_FIELDS[] = {"apiVersion", "kind", "metadata", "data", "stringData", "type", NULL};
/* Roles and bindings keep theirs at the top level too (Kubernetes RBAC). */
static const char *const ROLE_FIELDS[] = {"apiVersion", "kind", "metadata", "rules", NULL};
static const char *const BINDING_FIELDS[] = {"apiVersion", "kind", "metadata", "roleRef", "subjects", NULL};

static bool decode_pipeline_kind(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp,
                                 struct fy_node *spec, spec_pos sp, spec_object *o) {
    (void)root, (void)rp;
    spec_pipeline *p = mp_xcalloc(1, sizeof *p);
    p->meta = *meta;
    memset(meta, 0, sizeof *meta);
    spec__step_aux *aux = NULL;
    spec__decode_pipeline(c, spec, sp, p, &aux);
    spec__validate_pipeline(c, p, aux);
    spec__aux_free(aux, p->nsteps);
    o->u.pipeline = p;
    return true;
}

typedef struct kind_def {
    const char *name;
    spec_kind kind;
    spec__kind_fn decode;
    const char *const *fields; /* top-level fields */
    bool needs_spec;
    bool namespaced; /* names are unique per namespace, not per file */
} kind_def;

static const kind_def KINDS[] = {
    {"Pipeline", SPEC_KIND_PIPELINE, decode_pipeline_kind, DOC_FIELDS, true, true},
    {"PriorityClass", SPEC_KIND_PRIORITY_CLASS, spec__decode_priority_class, PRIORITY_CLASS_FIELDS, false, false},
    {"Node", SPEC_KIND_NODE, spec__decode_node, DOC_FIELDS, true, false},
    {"NodePool", SPEC_KIND_NODE_POOL, spec__decode_node_pool, DOC_FIELDS, true, false},
    {"ClusterQueue", SPEC_KIND_CLUSTER_QUEUE, spec__decode_cluster_queue, DOC_FIELDS, true, false},
    {"LocalQueue", SPEC_KIND_LOCAL_QUEUE, spec__decode_local_queue, DOC_FIELDS, true, true},
    {"ResourceFlavor", SPEC_KIND_RESOURCE_FLAVOR, spec__decode_resource_flavor, DOC_FIELDS, false, false},
    {"Deployment", SPEC_KIND_DEPLOYMENT, spec__decode_deployment, DOC_FIELDS, true, false},
    {"Monitor", SPEC_KIND_MONITOR, spec__decode_monitor, DOC_FIELDS, true, false},
    {"Secret", SPEC_KIND_SECRET, spec__decode_secret, SECRET_FIELDS, false, true},
    {"RetentionPolicy", SPEC_KIND_RETENTION_POLICY, spec__decode_retention, DOC_FIELDS, true, true},
    {"Role", SPEC_KIND_ROLE, spec__decode_role, ROLE_FIELDS, false, true},
    {"ClusterRole", SPEC_KIND_CLUSTER_ROLE, spec__decode_role, ROLE_FIELDS, false, false},
    {"RoleBinding", SPEC_KIND_ROLE_BINDING, spec__decode_role_binding, BINDING_FIELDS, false, true},
    {"ClusterRoleBinding", SPEC_KIND_CLUSTER_ROLE_BINDING, spec__decode_role_binding, BINDING_FIELDS, false, false},
};
#define NKINDS (sizeof KINDS / sizeof *KINDS)

static const kind_def *kind_of(spec_kind kind) {
    for (size_t i = 0; i < NKINDS; i++)
        if (KINDS[i].kind == kind) return &KINDS[i];
    return NULL;
}

const char *spec_kind_name(spec_kind kind) {
    const kind_def *k = kind_of(kind);
    return k ? k->name : "?";
}

static const char *const META_FIELDS[] = {"name", "namespace", "labels", NULL};

#define DNS_RULE                                                                                                       \
    "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"

void spec__decode_string_map(spec__ctx *c, struct fy_node *m, spec_pos at, const char *path, spec_kv **out,
                             size_t *n) {
    if (!spec__expect(c, m, at, path, FYNT_MAPPING)) return;
    size_t cap = (size_t)fy_node_mapping_item_count(m);
    *out = mp_xcalloc(cap ? cap : 1, sizeof **out);
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(m, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        spec_pos kp = spec__pos(k, at);
        if (!spec__is_scalar(k)) {
            spec__err(c, kp, "keys in %s must be strings", path);
            continue;
        }
        char *key = spec__scalar_dup(k);
        char *sub = mp_xasprintf("%s.%s", path, key);
        char *val = NULL;
        if (spec__is_null(v))
            val = mp_xstrdup("");
        else if (!spec__get_str(c, v, kp, sub, &val))
            val = NULL;
        free(sub);
        if (!val) {
            free(key);
            continue;
        }
        (*out)[*n] = (spec_kv){key, val, spec__pos(v, kp)};
        (*n)++;
    }
}

#define LABEL_RULE "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"

/* Kubernetes' label syntax, each bad key or value reported at its place. */
static void check_labels(spec__ctx *c, struct fy_node *m, spec_pos at) {
    if (fy_node_get_type(m) != FYNT_MAPPING) return; /* spec__decode_string_map said so */
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(m, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        if (!spec__is_scalar(k)) continue;
        spec_pos kp = spec__pos(k, at);
        char *key = spec__scalar_dup(k);
        if (!spec__is_label_key(key)) {
            spec__err(c, kp,
                      "metadata.labels: \"%s\" is not a valid label key: use " LABEL_RULE
                      ", optionally after a DNS subdomain prefix and '/' (e.g. team, example.com/team)",
                      key);
        } else if (!spec__is_null(v) && spec__is_scalar(v)) {
            char *val = spec__scalar_dup(v);
            if (!spec__is_label_value(val))
                spec__err(c, spec__pos(v, kp),
                          "metadata.labels.%s: \"%s\" is not a valid label value: use " LABEL_RULE " (or nothing)",
                          key, val);
            free(val);
        }
        free(key);
    }
}

static void decode_meta(spec__ctx *c, struct fy_node *m, spec_pos at, spec_meta *meta) {
    if (!spec__expect(c, m, at, "metadata", FYNT_MAPPING)) return;
    spec_pos mp = spec__pos(m, at);
    spec__check_keys(c, m, META_FIELDS, "in metadata");
    struct fy_node *v;
    spec_pos kp;
    if (!spec__lookup(m, "name", &v, &kp)) {
        spec__err(c, mp, "missing required field \"metadata.name\"");
    } else if (spec__get_str(c, v, kp, "metadata.name", &meta->name) && !spec__is_dns_label(meta->name)) {
        spec__err(c, spec__pos(v, kp), "metadata.name \"%s\" is not a valid name: " DNS_RULE, meta->name);
    } else {
        meta->name_pos = spec__pos(v, kp);
    }
    if (spec__lookup(m, "namespace", &v, &kp) && !spec__is_null(v)) {
        if (spec__get_str(c, v, kp, "metadata.namespace", &meta->namespace_) && !spec__is_dns_label(meta->namespace_))
            spec__err(c, spec__pos(v, kp), "metadata.namespace \"%s\" is not a valid name: " DNS_RULE,
                      meta->namespace_);
    }
    if (!meta->namespace_) meta->namespace_ = mp_xstrdup("default");
    if (spec__lookup(m, "labels", &v, &kp) && !spec__is_null(v))
    {
        spec__decode_string_map(c, v, kp, "metadata.labels", &meta->labels, &meta->nlabels);
        check_labels(c, v, kp);
    }
}

/* Checks apiVersion and kind; returns the kind or 0 when it is unusable. */
static spec_kind decode_envelope(spec__ctx *c, struct fy_node *root, spec_pos rp) {
    struct fy_node *v;
    spec_pos kp;
    char *s = NULL;

    const char *names[NKINDS];
    for (size_t i = 0; i < NKINDS; i++) names[i] = KINDS[i].name;
    char *known = spec__join(names, NKINDS);
    spec_kind kind = 0;
    if (!spec__lookup(root, "kind", &v, &kp)) {
        spec__err(c, rp, "missing required field \"kind\" (known kinds: %s)", known);
    } else if (spec__get_str(c, v, kp, "kind", &s)) {
        for (size_t i = 0; i < NKINDS && !kind; i++)
            if (strcmp(s, KINDS[i].name) == 0) kind = KINDS[i].kind;
        if (!kind) {
            const char *near = spec__closest(s, names, NKINDS);
            if (near)
                spec__err(c, spec__pos(v, kp), "unknown kind \"%s\" (known kinds: %s; did you mean \"%s\"?)", s, known,
                          near);
            else
                spec__err(c, spec__pos(v, kp), "unknown kind \"%s\" (known kinds: %s)", s, known);
        }
    }
    free(s);
    free(known);
    s = NULL;
    /* a Secret keeps Kubernetes' own apiVersion too */
    if (!spec__lookup(root, "apiVersion", &v, &kp)) {
        spec__err(c, rp, "missing required field \"apiVersion\" (expected \"%s\")", SPEC_API_VERSION);
    } else if (spec__get_str(c, v, kp, "apiVersion", &s) && strcmp(s, SPEC_API_VERSION) != 0 &&
               !(kind == SPEC_KIND_SECRET && strcmp(s, "v1") == 0)) {
        spec__err(c, spec__pos(v, kp), "unsupported apiVersion \"%s\" (expected \"%s\"%s)", s, SPEC_API_VERSION,
                  kind == SPEC_KIND_SECRET ? " or \"v1\"" : "");
    }
    free(s);
    return kind;
}

static void add_object(spec_file *f, spec_object o) {
    f->objs = mp_xrealloc(f->objs, (f->nobjs + 1) * sizeof *f->objs);
    f->objs[f->nobjs++] = o;
}

static void load_document(spec__ctx *c, struct fy_node *root, spec_file *f) {
    spec_pos rp = spec__pos(root, (spec_pos){1, 1});
    if (fy_node_get_type(root) != FYNT_MAPPING) {
        char *got = spec__describe(root);
        spec__err(c, rp, "a document must be a mapping with apiVersion, kind, metadata and spec, got %s", got);
        free(got);
        return;
    }
    spec_kind kind = decode_envelope(c, root, rp);
    const kind_def *kd = kind_of(kind);
    spec__check_keys(c, root, kd ? kd->fields : DOC_FIELDS, "in document");

    spec_meta meta = {0};
    struct fy_node *v;
    spec_pos kp;
    if (!spec__lookup(root, "metadata", &v, &kp))
        spec__err(c, rp, "missing required field \"metadata\" (with at least a name)");
    else
        decode_meta(c, v, kp, &meta);
    if (!meta.namespace_) meta.namespace_ = mp_xstrdup("default");

    bool has_spec = spec__lookup(root, "spec", &v, &kp);
    if (!has_spec && (!kd || kd->needs_spec)) spec__err(c, rp, "missing required field \"spec\"");
    if (!kd || (kd->needs_spec && !has_spec)) {
        spec__meta_free(&meta);
        return;
    }
    for (size_t i = 0; i < f->nobjs; i++) {
        const spec_object *q = &f->objs[i];
        const spec_meta *qm = spec_object_meta(q);
        if (q->kind == kind && meta.name && qm->name && strcmp(meta.name, qm->name) == 0 &&
            (!kd->namespaced || strcmp(meta.namespace_, qm->namespace_) == 0))
            spec__err(c, rp, "duplicate %s \"%s\" (first defined at line %d)", kd->name, meta.name, q->pos.line);
    }
    spec_object o = {.kind = kind, .pos = rp};
    if (!has_spec) v = NULL, kp = rp;
    if (kd->decode(c, &meta, root, rp, v, kp, &o)) add_object(f, o);
    spec__meta_free(&meta);
}

/* ---- entry points ---------------------------------------------------------------- */

static void diag_sink(struct fy_diag *diag, void *user, const char *buf, size_t len) {
    (void)diag, (void)user, (void)buf, (void)len;
}

typedef struct sort_item {
    spec_diag d;
    size_t seq;
} sort_item;

static int diag_cmp(const void *a, const void *b) {
    const sort_item *x = a, *y = b;
    if (x->d.pos.line != y->d.pos.line) return x->d.pos.line < y->d.pos.line ? -1 : 1;
    if (x->d.pos.col != y->d.pos.col) return x->d.pos.col < y->d.pos.col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Stable sort of diags[from..] by position. */
static void sort_diags(spec_diags *d, size_t from) {
    size_t n = d->n - from;
    if (n < 2) return;
    sort_item *v = mp_xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (sort_item){d->v[from + i], i};
    qsort(v, n, sizeof *v, diag_cmp);
    for (size_t i = 0; i < n; i++) d->v[from + i] = v[i].d;
    free(v);
}

void spec__sort_diags(spec_diags *d, size_t from) { sort_diags(d, from); }

size_t spec__parse_documents(spec__ctx *c, const char *text, size_t len, spec__doc_fn fn, void *ud, bool *yaml_err) {
    *yaml_err = false;
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = diag_sink;
    dc.colorize = false;
    struct fy_diag *fyd = fy_diag_create(&dc);
    struct fy_parser *fyp = NULL;
    if (fyd) {
        fy_diag_set_collect_errors(fyd, true);
        struct fy_parse_cfg pc = {.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT, .diag = fyd};
        fyp = fy_parser_create(&pc);
    }
    size_t ndocs = 0;
    if (!fyp || fy_parser_set_string(fyp, text, len) != 0) {
        spec__err(c, (spec_pos){0, 0}, "cannot start the YAML parser");
        *yaml_err = true;
    } else {
        struct fy_document *doc;
        while ((doc = fy_parse_load_document(fyp))) {
            struct fy_node *root = fy_document_root(doc);
            if (root && !spec__is_null(root)) /* an empty document (a trailing ---) is skipped */
                fn(c, root, ++ndocs, ud);
            fy_parse_document_destroy(fyp, doc);
        }
        void *it = NULL;
        struct fy_diag_error *err;
        while ((err = fy_diag_errors_iterate(fyd, &it))) {
            if (err->type < FYET_ERROR) continue;
            *yaml_err = true;
            spec_pos at = {err->line > 0 ? err->line : 1, err->column > 0 ? err->column : 1};
            spec__err(c, at, "YAML syntax error: %s", err->msg ? err->msg : "invalid YAML");
        }
        if (!*yaml_err && fy_parser_get_stream_error(fyp)) {
            *yaml_err = true;
            spec__err(c, (spec_pos){0, 0}, "YAML syntax error");
        }
    }
    if (fyp) fy_parser_destroy(fyp);
    if (fyd) fy_diag_destroy(fyd);
    return ndocs;
}

static void on_document(spec__ctx *c, struct fy_node *root, size_t i, void *ud) {
    (void)i;
    load_document(c, root, ud);
}

int spec_load_string(const char *name, const char *dir, const char *text, size_t len, spec_file **out,
                     spec_diags *diags) {
    *out = NULL;
    spec__ctx c = {name ? name : "<input>", diags};
    size_t before = diags->n;
    spec_file *f = mp_xcalloc(1, sizeof *f);
    f->path = mp_xstrdup(c.file);
    f->dir = mp_path_abs(NULL, dir ? dir : ".");
    bool yaml_err;
    size_t ndocs = spec__parse_documents(&c, text, len, on_document, f, &yaml_err);
    if (!ndocs && !yaml_err)
        spec__err(&c, (spec_pos){0, 0}, "no documents: expected at least one with apiVersion, kind, metadata and spec");
    if (!yaml_err) spec__validate_file(&c, f);
    if (diags->n > before) {
        sort_diags(diags, before);
        spec_file_free(f);
        return MP_EINVAL;
    }
    *out = f;
    return 0;
}

int spec__read_file(const char *path, mp_buf *b, spec_diags *diags) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        spec_diag_add(diags, path, (spec_pos){0, 0}, "cannot read: %s", strerror(errno));
        *b = (mp_buf){0};
        return MP_EINVAL;
    }
    mp_buf_init(b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) mp_buf_append(b, chunk, n);
    int err = ferror(fp) ? (errno ? errno : EIO) : 0;
    fclose(fp);
    if (err) {
        spec_diag_add(diags, path, (spec_pos){0, 0}, "cannot read: %s", strerror(err));
        mp_buf_free(b);
        return MP_EINVAL;
    }
    if (!b->data) mp_buf_puts(b, "");
    return 0;
}

int spec_load_file(const char *path, spec_file **out, spec_diags *diags) {
    *out = NULL;
    mp_buf b;
    if (spec__read_file(path, &b, diags) != 0) return MP_EINVAL;
    char *dir = mp_path_dir(path);
    int rc = spec_load_string(path, dir, b.data, b.len, out, diags);
    free(dir);
    mp_buf_free(&b);
    return rc;
}
