/* rbac.c — kind: Role, ClusterRole, RoleBinding and ClusterRoleBinding, in
 * Kubernetes RBAC's shape (fields at the top level, no spec:):
 *
 *   kind: Role                       # or ClusterRole (no namespace)
 *   metadata: {name: runner, namespace: team-a}
 *   rules:
 *     - verbs: [get, list, create]   # or ["*"]
 *       resources: [runs, experiments]
 *   ---
 *   kind: RoleBinding                # or ClusterRoleBinding (grants everywhere)
 *   metadata: {name: ana-runs, namespace: team-a}
 *   roleRef: {kind: Role, name: runner}       # Role or ClusterRole
 *   subjects: [{kind: User, name: ana}, {kind: Group, name: ml}]
 *
 * Verbs and resources are checked against the lists mlplane knows (an unknown
 * one is an error at its place, with a did-you-mean); apiGroups, which
 * Kubernetes' rules carry, is accepted and ignored. The roles a binding names
 * are looked up when a request is checked (src/api/rbac.c), not here. Pure;
 * reentrant. */
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

const char *const SPEC_RBAC_VERBS[] = {"get", "list", "create", "update", "delete", NULL};
const char *const SPEC_RBAC_RESOURCES[] = {"pipelines", "runs",   "experiments", "models", "deployments",
                                           "monitors",  "secrets", "queues",     "tokens", "roles",
                                           NULL};
const char *const SPEC_BUILTIN_ROLES[] = {"viewer", "editor", "admin", "cluster-admin", NULL};

static const char *const RULE_FIELDS[] = {"verbs", "resources", "apiGroups", "resourceNames", NULL};
static const char *const REF_FIELDS[] = {"kind", "name", "apiGroup", NULL};
static const char *const SUBJECT_FIELDS[] = {"kind", "name", "apiGroup", "namespace", NULL};
static const char *const REF_KINDS[] = {"Role", "ClusterRole", NULL};
static const char *const SUBJECT_KINDS[] = {"User", "Group", NULL};

static int index_of(const char *const *words, const char *w) {
    for (int i = 0; w && words[i]; i++)
        if (strcmp(words[i], w) == 0) return i;
    return -1;
}

int spec_rbac_verb(const char *verb) { return index_of(SPEC_RBAC_VERBS, verb); }
int spec_rbac_resource(const char *resource) { return index_of(SPEC_RBAC_RESOURCES, resource); }

static size_t count(const char *const *w) {
    size_t n = 0;
    while (w[n]) n++;
    return n;
}

/* A list of words of `words` (or "*") at path: their bits. */
static unsigned decode_words(spec__ctx *c, struct fy_node *v, spec_pos kp, const char *path, const char *const *words,
                             const char *noun) {
    if (!spec__expect(c, v, kp, path, FYNT_SEQUENCE)) return 0;
    unsigned bits = 0;
    size_t nw = count(words), i = 0;
    void *it = NULL;
    struct fy_node *x;
    while ((x = fy_node_sequence_iterate(v, &it))) {
        char *sub = mp_xasprintf("%s[%zu]", path, i++);
        char *s = NULL;
        if (spec__get_str(c, x, kp, sub, &s)) {
            int k = index_of(words, s);
            if (strcmp(s, "*") == 0) {
                bits |= (1u << nw) - 1;
            } else if (k >= 0) {
                bits |= 1u << k;
            } else {
                char *all = spec__join(words, nw);
                const char *near = spec__closest(s, words, nw);
                if (near)
                    spec__err(c, spec__pos(x, kp), "%s: unknown %s \"%s\" (known: %s, or \"*\"; did you mean \"%s\"?)",
                              sub, noun, s, all, near);
                else
                    spec__err(c, spec__pos(x, kp), "%s: unknown %s \"%s\" (known: %s, or \"*\")", sub, noun, s, all);
                free(all);
            }
        }
        free(s);
        free(sub);
    }
    if (i == 0) spec__err(c, spec__pos(v, kp), "%s is empty: name at least one %s (or \"*\")", path, noun);
    return bits;
}

static void decode_rule(spec__ctx *c, spec_role *r, struct fy_node *x, spec_pos at, size_t i) {
    char *path = mp_xasprintf("rules[%zu]", i);
    spec_rule *ru = &r->rules[r->nrules++];
    if (spec__open_map(c, x, at, path, RULE_FIELDS)) {
        struct fy_node *v;
        spec_pos kp;
        const char *what[2] = {"verbs", "resources"};
        for (int k = 0; k < 2; k++) {
            char *sub = mp_xasprintf("%s.%s", path, what[k]);
            if (!spec__lookup(x, what[k], &v, &kp) || spec__is_null(v))
                spec__err(c, spec__pos(x, at), "missing required field \"%s\"", sub);
            else if (k == 0)
                ru->verbs = decode_words(c, v, kp, sub, SPEC_RBAC_VERBS, "verb");
            else
                ru->resources = decode_words(c, v, kp, sub, SPEC_RBAC_RESOURCES, "resource");
            free(sub);
        }
    }
    free(path);
}

static void check_builtin(spec__ctx *c, const spec_meta *m, bool cluster) {
    if (cluster && m->name && index_of(SPEC_BUILTIN_ROLES, m->name) >= 0)
        spec__err(c, m->name_pos, "ClusterRole \"%s\" is built in and cannot be redefined: choose another name",
                  m->name);
}

bool spec__decode_role(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                       spec_pos sp, spec_object *o) {
    (void)spec, (void)sp;
    spec_role *r = mp_xcalloc(1, sizeof *r);
    r->meta = *meta;
    memset(meta, 0, sizeof *meta);
    r->cluster = o->kind == SPEC_KIND_CLUSTER_ROLE;
    o->u.role = r;
    check_builtin(c, &r->meta, r->cluster);
    struct fy_node *v;
    spec_pos kp;
    if (!spec__lookup(root, "rules", &v, &kp) || spec__is_null(v)) {
        spec__err(c, rp, "missing required field \"rules\" (a list of {verbs, resources}, at the top level as in "
                         "Kubernetes)");
        return true;
    }
    if (!spec__expect(c, v, kp, "rules", FYNT_SEQUENCE)) return true;
    size_t n = (size_t)fy_node_sequence_item_count(v);
    r->rules = mp_xcalloc(n ? n : 1, sizeof *r->rules);
    void *it = NULL;
    struct fy_node *x;
    while ((x = fy_node_sequence_iterate(v, &it)) && r->nrules < n) decode_rule(c, r, x, kp, r->nrules);
    return true;
}

/* {kind, name} of a roleRef or a subject at path: the kind's index in kinds, the name into *name. */
static int decode_ref(spec__ctx *c, struct fy_node *x, spec_pos at, const char *path, const char *const *fields,
                      const char *const *kinds, char **name) {
    if (!spec__open_map(c, x, at, path, fields)) return -1;
    struct fy_node *v;
    spec_pos kp;
    int kind = -1;
    char *sub = mp_xasprintf("%s.kind", path);
    if (!spec__lookup(x, "kind", &v, &kp) || spec__is_null(v))
        spec__err(c, spec__pos(x, at), "missing required field \"%s\"", sub);
    else
        kind = spec__get_enum(c, v, kp, sub, kinds);
    free(sub);
    sub = mp_xasprintf("%s.name", path);
    if (!spec__lookup(x, "name", &v, &kp) || spec__is_null(v))
        spec__err(c, spec__pos(x, at), "missing required field \"%s\"", sub);
    else if (spec__get_str(c, v, kp, sub, name) && !**name)
        spec__err(c, spec__pos(v, kp), "field \"%s\" is empty", sub);
    free(sub);
    return kind;
}

bool spec__decode_role_binding(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp,
                               struct fy_node *spec, spec_pos sp, spec_object *o) {
    (void)spec, (void)sp;
    spec_role_binding *b = mp_xcalloc(1, sizeof *b);
    b->meta = *meta;
    memset(meta, 0, sizeof *meta);
    b->cluster = o->kind == SPEC_KIND_CLUSTER_ROLE_BINDING;
    o->u.role_binding = b;
    struct fy_node *v;
    spec_pos kp;
    if (!spec__lookup(root, "roleRef", &v, &kp) || spec__is_null(v)) {
        spec__err(c, rp, "missing required field \"roleRef\" ({kind: Role|ClusterRole, name: ...})");
    } else {
        int k = decode_ref(c, v, kp, "roleRef", REF_FIELDS, REF_KINDS, &b->ref_name);
        b->ref_cluster = k == 1;
        if (k == 0 && b->cluster)
            spec__err(c, spec__pos(v, kp), "a ClusterRoleBinding's roleRef names a ClusterRole, not a Role");
    }
    if (!spec__lookup(root, "subjects", &v, &kp) || spec__is_null(v)) {
        spec__err(c, rp, "missing required field \"subjects\" (a list of {kind: User|Group, name: ...})");
        return true;
    }
    if (!spec__expect(c, v, kp, "subjects", FYNT_SEQUENCE)) return true;
    size_t n = (size_t)fy_node_sequence_item_count(v);
    if (n == 0) spec__err(c, spec__pos(v, kp), "subjects is empty: name at least one User or Group");
    b->subjects = mp_xcalloc(n ? n : 1, sizeof *b->subjects);
    void *it = NULL;
    struct fy_node *x;
    while ((x = fy_node_sequence_iterate(v, &it)) && b->nsubjects < n) {
        char *path = mp_xasprintf("subjects[%zu]", b->nsubjects);
        spec_subject *s = &b->subjects[b->nsubjects++];
        s->group = decode_ref(c, x, kp, path, SUBJECT_FIELDS, SUBJECT_KINDS, &s->name) == 1;
        free(path);
    }
    return true;
}

void spec_role_free(spec_role *r) {
    if (!r) return;
    spec__meta_free(&r->meta);
    free(r->rules);
    free(r);
}

void spec_role_binding_free(spec_role_binding *b) {
    if (!b) return;
    spec__meta_free(&b->meta);
    free(b->ref_name);
    for (size_t i = 0; i < b->nsubjects; i++) free(b->subjects[i].name);
    free(b->subjects);
    free(b);
}
