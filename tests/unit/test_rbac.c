/* test_rbac.c — api__rbac_allowed with hand-made principals over Roles and
 * bindings applied to a scratch store: the built-in ClusterRoles, a namespace's
 * Role, Group subjects, a ClusterRoleBinding everywhere, cluster-scoped objects,
 * system:masters, unknown verbs and resources, anonymous callers, and the table
 * read again once the applied objects change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "api/api_int.h"
#include "api/api.h"
#include "sched/sched.h"
#include "track/track.h"
#include "unit_helpers.h"

static const char OBJECTS[] = "apiVersion: mlplane.dev/v1\n"
                              "kind: Role\n"
                              "metadata: {name: runs-only, namespace: team-a}\n"
                              "rules: [{verbs: [get, list], resources: [runs]}, {verbs: [update], resources: [runs]}]\n"
                              "---\n"
                              "apiVersion: mlplane.dev/v1\n"
                              "kind: RoleBinding\n"
                              "metadata: {name: rita, namespace: team-a}\n"
                              "roleRef: {kind: Role, name: runs-only}\n"
                              "subjects: [{kind: User, name: rita}]\n"
                              "---\n"
                              "apiVersion: mlplane.dev/v1\n"
                              "kind: RoleBinding\n"
                              "metadata: {name: viewers, namespace: team-a}\n"
                              "roleRef: {kind: ClusterRole, name: viewer}\n"
                              "subjects: [{kind: Group, name: readers}]\n"
                              "---\n"
                              "apiVersion: mlplane.dev/v1\n"
                              "kind: RoleBinding\n"
                              "metadata: {name: editors, namespace: team-a}\n"
                              "roleRef: {kind: ClusterRole, name: editor}\n"
                              "subjects: [{kind: User, name: eddie}]\n"
                              "---\n"
                              "apiVersion: mlplane.dev/v1\n"
                              "kind: RoleBinding\n"
                              "metadata: {name: admins, namespace: team-a}\n"
                              "roleRef: {kind: ClusterRole, name: admin}\n"
                              "subjects: [{kind: User, name: adam}]\n"
                              "---\n"
                              "apiVersion: mlplane.dev/v1\n"
                              "kind: ClusterRole\n"
                              "metadata: {name: queue-admin}\n"
                              "rules: [{verbs: [\"*\"], resources: [queues]}]\n"
                              "---\n"
                              "apiVersion: mlplane.dev/v1\n"
                              "kind: ClusterRoleBinding\n"
                              "metadata: {name: ops}\n"
                              "roleRef: {kind: ClusterRole, name: queue-admin}\n"
                              "subjects: [{kind: Group, name: ops}]\n"
                              "---\n"
                              "apiVersion: mlplane.dev/v1\n"
                              "kind: RoleBinding\n"
                              "metadata: {name: dangling, namespace: team-a}\n"
                              "roleRef: {kind: Role, name: no-such-role}\n"
                              "subjects: [{kind: User, name: dan}]\n";

static api_principal who(const char *user, const char *group) {
    api_principal p;
    memset(&p, 0, sizeof p);
    p.auth_on = p.authenticated = true;
    mp_strlcpy(p.user, user, sizeof p.user);
    mp_strlcpy(p.namespace_, "team-a", sizeof p.namespace_);
    if (group) mp_strlcpy(p.groups[p.ngroups++], group, sizeof p.groups[0]);
    return p;
}

static void apply(store *st, const char *text) {
    spec_file *f = NULL;
    spec_diags d = {0};
    assert_int_equal(spec_load_string("objects.yaml", "/", text, strlen(text), &f, &d), 0);
    mp_err e = {0};
    size_t n = 0;
    assert_int_equal(st->m->begin(st, &e), 0);
    if (sched_objects_apply(st, f, text, &n, &d, &e) != 0) fail_msg("apply: %s", e.msg);
    assert_int_equal(st->m->commit(st, &e), 0);
    spec_diags_free(&d);
    spec_file_free(f);
    api__rbac_changed();
}

static void test_decisions(void **state) {
    (void)state;
    char *dir = ut_scratch_dir("rbac");
    store *st = ut_store_in(dir);
    apply(st, OBJECTS);
    static const struct {
        const char *user, *group, *verb, *resource, *ns;
        bool want;
    } cases[] = {
        /* a namespace's Role: its rules, merged, in its namespace only */
        {"rita", NULL, "get", "runs", "team-a", true},
        {"rita", NULL, "update", "runs", "team-a", true},
        {"rita", NULL, "delete", "runs", "team-a", false},
        {"rita", NULL, "get", "experiments", "team-a", false},
        {"rita", NULL, "get", "runs", "team-b", false},
        /* viewer through a Group */
        {"someone", "readers", "list", "models", "team-a", true},
        {"someone", "readers", "get", "secrets", "team-a", false},
        {"someone", "readers", "get", "tokens", "team-a", false},
        {"someone", "readers", "create", "models", "team-a", false},
        {"someone", "other", "get", "models", "team-a", false},
        /* editor: writes but not tokens or roles */
        {"eddie", NULL, "delete", "models", "team-a", true},
        {"eddie", NULL, "create", "secrets", "team-a", true},
        {"eddie", NULL, "get", "secrets", "team-a", false},
        {"eddie", NULL, "create", "roles", "team-a", false},
        {"eddie", NULL, "create", "tokens", "team-a", false},
        {"eddie", NULL, "get", "runs", "team-b", false},
        /* admin: everything in its namespace, nothing elsewhere or cluster-wide */
        {"adam", NULL, "create", "roles", "team-a", true},
        {"adam", NULL, "delete", "tokens", "team-a", true},
        {"adam", NULL, "get", "runs", "team-b", false},
        {"adam", NULL, "create", "queues", "", false},
        /* a ClusterRoleBinding: everywhere, cluster scope included */
        {"olga", "ops", "create", "queues", "", true},
        {"olga", "ops", "delete", "queues", "team-z", true},
        {"olga", "ops", "get", "runs", "team-a", false},
        /* a binding to a role that is not applied grants nothing */
        {"dan", NULL, "get", "runs", "team-a", false},
        /* system:masters: everything */
        {"root", "system:masters", "delete", "tokens", "", true},
        /* words nobody knows */
        {"adam", NULL, "patch", "runs", "team-a", false},
        {"adam", NULL, "get", "widgets", "team-a", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        api_principal p = who(cases[i].user, cases[i].group);
        bool got = api__rbac_allowed(st, &p, cases[i].verb, cases[i].resource, cases[i].ns);
        if (got != cases[i].want)
            fail_msg("%s (%s) %s %s in \"%s\": got %d, want %d", cases[i].user, cases[i].group ? cases[i].group : "-",
                     cases[i].verb, cases[i].resource, cases[i].ns, got, cases[i].want);
    }
    /* anonymous with auth on: nothing; auth off: everything */
    api_principal anon;
    memset(&anon, 0, sizeof anon);
    anon.auth_on = true;
    assert_false(api__rbac_allowed(st, &anon, "get", "runs", "team-a"));
    anon.auth_on = false;
    assert_true(api__rbac_allowed(st, &anon, "delete", "tokens", ""));
    /* the table follows the applied objects: a new binding grants on the next check */
    api_principal bea = who("bea", NULL);
    assert_false(api__rbac_allowed(st, &bea, "get", "runs", "team-b"));
    apply(st, "apiVersion: mlplane.dev/v1\nkind: RoleBinding\nmetadata: {name: bea, namespace: team-b}\n"
              "roleRef: {kind: ClusterRole, name: viewer}\nsubjects: [{kind: User, name: bea}]\n");
    assert_true(api__rbac_allowed(st, &bea, "get", "runs", "team-b"));
    mp_err e = {0};
    assert_int_equal(sched_objects_delete(st, "rolebinding", "team-b", "bea", &e), 0);
    api__rbac_changed();
    assert_false(api__rbac_allowed(st, &bea, "get", "runs", "team-b"));
    st->m->close(st);
    mp_rm_rf(dir, NULL);
    free(dir);
}

/* The kinds as spec reads them: bits of verbs and resources, "*", subjects, and errors at their places. */
/* Every route of mlplane server has a row in the authorization table: a route
 * added without one would be refused to everyone but system:masters. */
static void test_every_route_ruled(void **state) {
    (void)state;
    typedef const mp_http_route *(*table_fn)(size_t *n);
    const table_fn tables[] = {api_routes,   api_auth_routes,       api_authz_routes,
                               track_routes, track_registry_routes, track_artifact_routes};
    int missing = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        size_t n = 0;
        const mp_http_route *r = tables[t](&n);
        for (size_t i = 0; r && i < n; i++) {
            char path[512];
            if (strncmp(r[i].path, "/ajax-api/2.0/", 14) == 0) /* the server routes it as /api/2.0/... */
                snprintf(path, sizeof path, "/api/2.0/%s", r[i].path + 14);
            else
                mp_strlcpy(path, r[i].path, sizeof path);
            size_t len = strlen(path);
            if (len >= 2 && strcmp(path + len - 2, "/*") == 0) path[len - 1] = 'x'; /* a tail */
            const char *method = strcmp(r[i].method, "*") == 0 ? "GET" : r[i].method;
            if (!api__route_ruled(method, path)) {
                print_error("no authorization rule for %s %s\n", method, r[i].path);
                missing++;
            }
        }
    }
    assert_int_equal(missing, 0);
}

static void test_spec_kinds(void **state) {
    (void)state;
    static const char text[] = "apiVersion: mlplane.dev/v1\n"
                               "kind: ClusterRole\n"
                               "metadata: {name: all-runs}\n"
                               "rules: [{apiGroups: [\"\"], verbs: [\"*\"], resources: [runs, models]}]\n"
                               "---\n"
                               "apiVersion: mlplane.dev/v1\n"
                               "kind: RoleBinding\n"
                               "metadata: {name: b, namespace: ns1}\n"
                               "roleRef: {kind: ClusterRole, name: all-runs}\n"
                               "subjects: [{kind: Group, name: g}, {kind: User, name: u}]\n";
    spec_file *f = NULL;
    spec_diags d = {0};
    assert_int_equal(spec_load_string("k.yaml", "/", text, strlen(text), &f, &d), 0);
    assert_int_equal(f->nobjs, 2);
    assert_int_equal(f->objs[0].kind, SPEC_KIND_CLUSTER_ROLE);
    const spec_role *r = f->objs[0].u.role;
    assert_true(r->cluster);
    assert_int_equal(r->nrules, 1);
    assert_int_equal(r->rules[0].verbs, 0x1f);
    assert_int_equal(r->rules[0].resources,
                     (1u << spec_rbac_resource("runs")) | (1u << spec_rbac_resource("models")));
    const spec_role_binding *b = f->objs[1].u.role_binding;
    assert_false(b->cluster);
    assert_true(b->ref_cluster);
    assert_string_equal(b->ref_name, "all-runs");
    assert_int_equal(b->nsubjects, 2);
    assert_true(b->subjects[0].group);
    assert_false(b->subjects[1].group);
    assert_string_equal(b->meta.namespace_, "ns1");
    spec_file_free(f);
    spec_diags_free(&d);

    static const char bad[] = "apiVersion: mlplane.dev/v1\n"
                              "kind: Role\n"
                              "metadata: {name: r}\n"
                              "rules: [{verbs: [], resources: [runs]}, {verbs: [get]}]\n"
                              "---\n"
                              "apiVersion: mlplane.dev/v1\n"
                              "kind: ClusterRole\n"
                              "metadata: {name: viewer}\n"
                              "rules: []\n"
                              "---\n"
                              "apiVersion: mlplane.dev/v1\n"
                              "kind: RoleBinding\n"
                              "metadata: {name: b}\n"
                              "roleRef: {kind: Role}\n"
                              "subjects: []\n";
    f = NULL;
    memset(&d, 0, sizeof d);
    assert_int_equal(spec_load_string("bad.yaml", "/", bad, strlen(bad), &f, &d), MP_EINVAL);
    mp_buf out;
    mp_buf_init(&out);
    spec_diags_format(&d, &out);
    assert_non_null(strstr(out.data, "bad.yaml:4:10: rules[0].verbs is empty"));
    assert_non_null(strstr(out.data, "missing required field \"rules[1].resources\""));
    assert_non_null(strstr(out.data, "bad.yaml:8:18: ClusterRole \"viewer\" is built in"));
    assert_non_null(strstr(out.data, "missing required field \"roleRef.name\""));
    assert_non_null(strstr(out.data, "subjects is empty"));
    mp_buf_free(&out);
    spec_diags_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_spec_kinds),
        cmocka_unit_test(test_every_route_ruled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
