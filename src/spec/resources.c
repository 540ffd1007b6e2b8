/* resources.c — resource maps and taints, shared by steps and simulated nodes.
 *
 * A step's `resources` and a Node's `spec.capacity` are the same map: cpu
 * (millicores), memory (bytes), gpu or nvidia.com/gpu (devices) and extended
 * resources — any vendor-prefixed name with a '/', such as nvidia.com/mig-1g.10gb,
 * counted in whole units as Kubernetes does. The known names keep their fields in
 * spec_resources; extended ones go to its `extended` array in file order. Taints
 * ({key, value, effect}) are read here too, for Node and NodePool. Every problem is
 * one diagnostic; decoding goes on after it. */
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

static const char *const RESOURCE_NAMES[] = {"cpu", "memory", "gpu", "nvidia.com/gpu", NULL};

const char *const SPEC__EFFECTS[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};

spec_qty_kind spec_resource_qty_kind(const char *name) {
    if (strcmp(name, "cpu") == 0) return SPEC_QTY_CPU;
    if (strcmp(name, "memory") == 0) return SPEC_QTY_MEMORY;
    return SPEC_QTY_COUNT;
}

int64_t spec_resources_get(const spec_resources *r, const char *name) {
    if (!r || !name) return 0;
    if (strcmp(name, "cpu") == 0) return r->cpu_milli;
    if (strcmp(name, "memory") == 0) return r->memory_bytes;
    if (strcmp(name, "gpu") == 0 || strcmp(name, "nvidia.com/gpu") == 0) return r->gpu;
    for (size_t i = 0; i < r->nextended; i++)
        if (strcmp(r->extended[i].name, name) == 0) return r->extended[i].count;
    return 0;
}

static bool is_alnum(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* DNS subdomain: dot-separated DNS labels, at most 253 characters. */
static bool is_dns_subdomain(const char *s, size_t n) {
    if (n == 0 || n > 253) return false;
    for (size_t start = 0; start <= n;) {
        const char *dot = memchr(s + start, '.', n - start);
        size_t end = dot ? (size_t)(dot - s) : n;
        char label[64];
        if (end - start == 0 || end - start > 63) return false;
        memcpy(label, s + start, end - start);
        label[end - start] = '\0';
        if (!spec__is_dns_label(label)) return false;
        start = end + 1;
    }
    return true;
}

/* The name part of a qualified name (and a label value): 1 to 63 of [A-Za-z0-9._-],
 * starting and ending alphanumeric. */
static bool is_qualified_part(const char *n) {
    size_t len = strlen(n);
    if (len == 0 || len > 63 || !is_alnum(n[0]) || !is_alnum(n[len - 1])) return false;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(n[i]) && n[i] != '-' && n[i] != '_' && n[i] != '.') return false;
    return true;
}

bool spec__is_extended_resource(const char *name) {
    const char *slash = strchr(name, '/');
    if (!slash || strchr(slash + 1, '/')) return false;
    if (!is_dns_subdomain(name, (size_t)(slash - name))) return false;
    return is_qualified_part(slash + 1);
}

bool spec__is_label_key(const char *key) {
    const char *slash = strchr(key, '/');
    if (!slash) return is_qualified_part(key);
    if (strchr(slash + 1, '/') || !is_dns_subdomain(key, (size_t)(slash - key))) return false;
    return is_qualified_part(slash + 1);
}

bool spec__is_label_value(const char *v) { return !*v || is_qualified_part(v); }

/* Reads q's quantity of resource name into *dst; false after a diagnostic. */
static bool read_qty(spec__ctx *c, struct fy_node *q, spec_pos qp, const char *path, const char *name,
                     int64_t *dst) {
    char *sub = mp_xasprintf("%s.%s", path, name);
    char *text = NULL;
    bool ok = false;
    if (spec__get_str(c, q, qp, sub, &text)) {
        mp_err e;
        ok = spec_parse_quantity(text, spec_resource_qty_kind(name), dst, &e) == 0;
        if (!ok) spec__err(c, spec__pos(q, qp), "field \"%s\": %s", sub, e.msg);
    }
    free(text);
    free(sub);
    return ok;
}

/* A key that is not one of RESOURCE_NAMES: an extended resource, or a mistake. */
static void extended_key(spec__ctx *c, struct fy_node *k, struct fy_node *q, spec_pos kp, const char *path,
                         const char *where_keys, spec_resources *r) {
    char *name = spec__scalar_dup(k);
    const char *near = spec__closest(name, RESOURCE_NAMES, 4);
    if (!strchr(name, '/') || near) {
        if (near) {
            spec__err(c, kp, "unknown resource \"%s\" %s (did you mean \"%s\"?)", name, where_keys, near);
        } else {
            spec__err(c, kp,
                      "unknown resource \"%s\" %s (known: cpu, memory, gpu, nvidia.com/gpu, or an extended "
                      "resource such as nvidia.com/mig-1g.10gb)",
                      name, where_keys);
        }
    } else if (!spec__is_extended_resource(name)) {
        spec__err(c, kp,
                  "extended resource name \"%s\" %s is not valid: use DOMAIN/NAME such as nvidia.com/mig-1g.10gb "
                  "(a lowercase DNS domain, then letters, digits, '-', '_' and '.')",
                  name, where_keys);
    } else {
        int64_t n = 0;
        if (read_qty(c, q, kp, path, name, &n)) {
            r->extended[r->nextended++] = (spec_resource_qty){name, n, spec__pos(q, kp)};
            return;
        }
    }
    free(name);
}

void spec__decode_resources(spec__ctx *c, struct fy_node *m, spec_pos at, const char *path, const char *where_keys,
                            const char *where, spec_resources *r) {
    if (spec__is_null(m)) return;
    if (!spec__expect(c, m, at, path, FYNT_MAPPING)) return;
    r->extended = mp_xcalloc((size_t)fy_node_mapping_item_count(m) + 1, sizeof *r->extended);
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(m, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        spec_pos kp = spec__pos(k, spec__pos(m, at));
        if (!spec__is_scalar(k)) {
            spec__err(c, kp, "keys %s must be strings", where_keys);
            continue;
        }
        const char *ks = fy_node_get_scalar0(k);
        bool known = false;
        for (size_t i = 0; RESOURCE_NAMES[i] && !known; i++) known = ks && strcmp(ks, RESOURCE_NAMES[i]) == 0;
        if (!known) extended_key(c, k, fy_node_pair_value(p), kp, path, where_keys, r);
    }
    if (!r->nextended) {
        free(r->extended);
        r->extended = NULL;
    }
    int64_t *dst[] = {&r->cpu_milli, &r->memory_bytes, &r->gpu, &r->gpu};
    spec_pos gpu_at = {0, 0};
    for (size_t i = 0; RESOURCE_NAMES[i]; i++) {
        struct fy_node *q;
        spec_pos qp;
        if (!spec__lookup(m, RESOURCE_NAMES[i], &q, &qp)) continue;
        if (dst[i] == &r->gpu) {
            if (gpu_at.line)
                spec__err(c, qp, "gpu is given twice %s (as gpu at line %d and as nvidia.com/gpu); keep one", where,
                          gpu_at.line);
            gpu_at = qp;
        }
        read_qty(c, q, qp, path, RESOURCE_NAMES[i], dst[i]);
    }
}

void spec__resources_free(spec_resources *r) {
    for (size_t i = 0; i < r->nextended; i++) free(r->extended[i].name);
    free(r->extended);
    r->extended = NULL;
    r->nextended = 0;
}

/* ---- taints ----------------------------------------------------------------------- */

static const char *const TAINT_FIELDS[] = {"key", "value", "effect", NULL};

/* One taint item into t; false after a diagnostic. */
static bool decode_taint(spec__ctx *c, struct fy_node *item, spec_pos at, const char *sub, spec_taint *t) {
    if (!spec__open_map(c, item, at, sub, TAINT_FIELDS)) return false;
    spec_pos ip = spec__pos(item, at);
    t->pos = ip;
    struct fy_node *v;
    spec_pos kp;
    char *f = mp_xasprintf("%s.key", sub);
    bool ok = true;
    if (!spec__lookup(item, "key", &v, &kp) || spec__is_null(v)) {
        spec__err(c, ip, "missing required field \"key\" in %s", sub);
        ok = false;
    } else if (spec__get_str(c, v, kp, f, &t->key) && !*t->key) {
        spec__err(c, spec__pos(v, kp), "field \"%s\" must not be empty", f);
        ok = false;
    } else if (!t->key) {
        ok = false;
    }
    free(f);
    f = mp_xasprintf("%s.value", sub);
    if (spec__lookup(item, "value", &v, &kp) && !spec__is_null(v) && !spec__get_str(c, v, kp, f, &t->value))
        ok = false;
    if (!t->value) t->value = mp_xstrdup("");
    free(f);
    f = mp_xasprintf("%s.effect", sub);
    if (!spec__lookup(item, "effect", &v, &kp) || spec__is_null(v)) {
        spec__err(c, ip, "missing required field \"effect\" in %s (NoSchedule, PreferNoSchedule or NoExecute)", sub);
        ok = false;
    } else {
        int e = spec__get_enum(c, v, kp, f, SPEC__EFFECTS);
        if (e < 0) ok = false;
        t->effect = (spec_taint_effect)(e + 1);
    }
    free(f);
    return ok;
}

void spec__decode_taints(spec__ctx *c, struct fy_node *v, spec_pos at, const char *path, spec_taint **out,
                         size_t *n) {
    if (spec__is_null(v)) return;
    if (!spec__expect(c, v, at, path, FYNT_SEQUENCE)) return;
    spec_taint *arr = mp_xcalloc((size_t)fy_node_sequence_item_count(v) + 1, sizeof *arr);
    void *it = NULL;
    struct fy_node *item;
    for (int i = 0; (item = fy_node_sequence_iterate(v, &it)); i++) {
        char *sub = mp_xasprintf("%s[%d]", path, i);
        spec_taint t = {0};
        bool ok = decode_taint(c, item, at, sub, &t);
        for (size_t j = 0; j < *n && ok; j++) {
            if (strcmp(arr[j].key, t.key) == 0 && arr[j].effect == t.effect) {
                spec__err(c, t.pos, "duplicate taint \"%s\" with effect %s in %s (first at line %d)", t.key,
                          SPEC__EFFECTS[t.effect - 1], path, arr[j].pos.line);
                ok = false;
            }
        }
        if (ok) {
            arr[(*n)++] = t;
        } else {
            free(t.key);
            free(t.value);
        }
        free(sub);
    }
    *out = arr;
}

void spec__taints_free(spec_taint *t, size_t n) {
    if (!t) return;
    for (size_t i = 0; i < n; i++) {
        free(t[i].key);
        free(t[i].value);
    }
    free(t);
}
