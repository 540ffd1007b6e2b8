/* rbac.c — what a caller may do: Kubernetes-style Roles and RoleBindings.
 *
 * A caller may verb a resource in a namespace when a binding whose subjects name
 * its user or one of its groups grants it there: a RoleBinding in its own
 * namespace, a ClusterRoleBinding everywhere (cluster-scoped objects, namespace
 * "", only through a ClusterRoleBinding). A binding's roleRef names a Role of its
 * namespace, an applied ClusterRole or a built-in one:
 *   viewer         get, list on everything but secrets and tokens
 *   editor         viewer's, and create, update, delete on everything but tokens and roles
 *   admin          everything (meant for a RoleBinding: everything in its namespace)
 *   cluster-admin  everything (meant for a ClusterRoleBinding)
 * The group system:masters holds cluster-admin everywhere without any binding.
 *
 * The applied bindings are read from the store into a compact table (each
 * binding's subjects and, per resource, a bit set of verbs) once, and looked at
 * again only when the store moved: its data_version (another connection
 * committed) or this process's own generation (api__rbac_changed, after an apply
 * or a delete through this server) changed; then the list of applied objects is
 * read and the sources parsed again only when that list changed. The hot path is
 * a scan of that table, no YAML.
 *
 * Threads: each worker thread keeps its own table (a pthread-specific slot,
 * freed when the thread ends) for the store handle it was read with; the
 * generation is an atomic shared by all. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "sched/sched.h"

enum { NVERBS = 5, NRES = 10 };
#define ALL_VERBS ((1u << NVERBS) - 1)

typedef struct grant {
    char ns[64];        /* "" everywhere (ClusterRoleBinding) */
    unsigned perm[NRES]; /* verb bits per resource */
    spec_subject *subj; /* borrowed from the cache's objects */
    size_t nsubj;
} grant;

typedef struct named_ns {
    bool monitor; /* else a Deployment */
    char *name;   /* borrowed from the cache's objects */
    char ns[64];
} named_ns;

typedef struct rbac_cache {
    store *st;
    int64_t dv;
    unsigned gen;
    uint64_t sig; /* of the objects' list the table was read from */
    bool loaded;
    sched_objects objs;
    grant *g;
    size_t ng;
    named_ns *named;
    size_t nnamed;
} rbac_cache;

static atomic_uint generation;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_clear(rbac_cache *c) {
    if (c->loaded) sched_objects_free(&c->objs);
    free(c->g);
    free(c->named);
    c->g = NULL, c->named = NULL;
    c->ng = c->nnamed = 0;
    c->loaded = false;
}

static void cache_free(void *p) {
    rbac_cache *c = p;
    if (!c) return;
    cache_clear(c);
    free(c);
}

static void cache_init(void) { pthread_key_create(&cache_key, cache_free); }

void api__rbac_changed(void) { atomic_fetch_add(&generation, 1); }

/* The verbs a built-in ClusterRole grants on resource r; false when name is none of them. */
static bool builtin_perms(const char *name, unsigned perm[NRES]) {
    int secrets = spec_rbac_resource("secrets"), tokens = spec_rbac_resource("tokens"),
        roles = spec_rbac_resource("roles");
    unsigned read = 1u << spec_rbac_verb("get") | 1u << spec_rbac_verb("list");
    unsigned write = 1u << spec_rbac_verb("create") | 1u << spec_rbac_verb("update") | 1u << spec_rbac_verb("delete");
    bool viewer = strcmp(name, "viewer") == 0, editor = strcmp(name, "editor") == 0;
    bool all = strcmp(name, "admin") == 0 || strcmp(name, "cluster-admin") == 0;
    if (!viewer && !editor && !all) return false;
    for (int r = 0; r < NRES; r++) {
        if (all) perm[r] = ALL_VERBS;
        else {
            perm[r] = (r == secrets || r == tokens) ? 0 : read;
            if (editor && r != tokens && r != roles) perm[r] |= write;
        }
    }
    return true;
}

/* The verbs per resource the role a binding names grants (nothing when it names no role applied). */
static void role_perms(const sched_objects *o, const spec_role_binding *b, unsigned perm[NRES]) {
    memset(perm, 0, NRES * sizeof *perm);
    if (b->ref_cluster && builtin_perms(b->ref_name, perm)) return;
    for (size_t i = 0; i < o->nroles; i++) {
        const spec_role *r = o->roles[i];
        if (r->cluster != b->ref_cluster || strcmp(r->meta.name, b->ref_name) != 0) continue;
        if (!r->cluster && strcmp(r->meta.namespace_, b->meta.namespace_) != 0) continue;
        for (size_t k = 0; k < r->nrules; k++)
            for (int res = 0; res < NRES; res++)
                if (r->rules[k].resources & (1u << res)) perm[res] |= r->rules[k].verbs;
    }
}

/* The Deployments and Monitors of objs (the store's objects), with the namespace of their metadata. */
static void load_named(rbac_cache *c, const store_object *objs, size_t n) {
    c->named = mp_xcalloc(n ? n : 1, sizeof *c->named);
    for (size_t i = 0; i < n; i++) {
        bool mon = strcmp(objs[i].kind, "Monitor") == 0;
        if (!mon && strcmp(objs[i].kind, "Deployment") != 0) continue;
        for (size_t f = 0; f < c->objs.nfiles; f++) {
            if (c->objs.source_ids[f] != objs[i].source_id) continue;
            const spec_file *sf = c->objs.files[f];
            for (size_t k = 0; k < sf->nobjs; k++) {
                const spec_object *ob = &sf->objs[k];
                if (ob->kind != (mon ? SPEC_KIND_MONITOR : SPEC_KIND_DEPLOYMENT)) continue;
                const spec_meta *m = spec_object_meta(ob);
                if (strcmp(m->name, objs[i].name) != 0) continue;
                named_ns *x = &c->named[c->nnamed++];
                x->monitor = mon;
                x->name = m->name;
                mp_strlcpy(x->ns, m->namespace_ ? m->namespace_ : "default", sizeof x->ns);
                break;
            }
        }
    }
}

/* What changes whenever an object is applied or deleted: their count, sources and times. */
static uint64_t signature(const store_object *objs, size_t n) {
    uint64_t h = 1469598103934665603ull ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint64_t)objs[i].source_id) * 1099511628211ull ^ (uint64_t)objs[i].applied_ms;
    return h;
}

/* This thread's table for st. When the store moved (its data_version or this
 * process's generation), the objects' list is read (one small query) and the
 * sources parsed again only when that list changed. NULL when it cannot be read. */
static rbac_cache *cache_get(store *st) {
    pthread_once(&cache_once, cache_init);
    rbac_cache *c = pthread_getspecific(cache_key);
    if (!c) {
        c = mp_xcalloc(1, sizeof *c);
        pthread_setspecific(cache_key, c);
    }
    int64_t dv = st->m->data_version(st);
    unsigned gen = atomic_load(&generation);
    if (c->loaded && c->st == st && c->dv == dv && c->gen == gen && dv >= 0) return c;
    store_object *objs = NULL;
    size_t n = 0;
    mp_err e;
    if (dv < 0 || st->o->object_list(st, &objs, &n, &e) != 0) {
        cache_clear(c);
        return NULL;
    }
    uint64_t sig = signature(objs, n);
    if (c->loaded && c->st == st && c->sig == sig) { /* something else was written */
        c->dv = dv;
        c->gen = gen;
        store_object_array_free(objs, n);
        return c;
    }
    cache_clear(c);
    if (sched_objects_load(st, &c->objs, &e) != 0) {
        store_object_array_free(objs, n);
        return NULL;
    }
    c->loaded = true;
    c->st = st;
    c->dv = dv;
    c->gen = gen;
    c->sig = sig;
    c->g = mp_xcalloc(c->objs.nbindings ? c->objs.nbindings : 1, sizeof *c->g);
    for (size_t i = 0; i < c->objs.nbindings; i++) {
        const spec_role_binding *b = c->objs.bindings[i];
        grant *g = &c->g[c->ng++];
        mp_strlcpy(g->ns, b->cluster ? "" : b->meta.namespace_, sizeof g->ns);
        role_perms(&c->objs, b, g->perm);
        g->subj = b->subjects;
        g->nsubj = b->nsubjects;
    }
    load_named(c, objs, n);
    store_object_array_free(objs, n);
    return c;
}

static bool names_caller(const grant *g, const api_principal *who) {
    for (size_t i = 0; i < g->nsubj; i++) {
        const spec_subject *s = &g->subj[i];
        if (!s->group) {
            if (who->user[0] && strcmp(s->name, who->user) == 0) return true;
            continue;
        }
        for (int k = 0; k < who->ngroups && k < API_GROUPS_MAX; k++)
            if (strcmp(s->name, who->groups[k]) == 0) return true;
    }
    return false;
}

bool api__is_master(const api_principal *who) { return api__principal_in_group(who, API_GROUP_MASTERS); }

bool api__rbac_allowed(store *st, const api_principal *who, const char *verb, const char *resource, const char *ns) {
    if (!who->auth_on) return true;
    if (!who->authenticated) return false;
    if (api__is_master(who)) return true;
    int v = spec_rbac_verb(verb), r = spec_rbac_resource(resource);
    if (v < 0 || r < 0 || !st) return false;
    rbac_cache *c = cache_get(st);
    if (!c) return false; /* the bindings cannot be read: nothing is granted */
    if (!ns) ns = "";
    for (size_t i = 0; i < c->ng; i++) {
        const grant *g = &c->g[i];
        if (!(g->perm[r] & (1u << v))) continue;
        if (g->ns[0] && strcmp(g->ns, ns) != 0) continue;
        if (names_caller(g, who)) return true;
    }
    return false;
}

int api__object_namespace(store *st, bool monitor, const char *name, char *ns, size_t n) {
    rbac_cache *c = st ? cache_get(st) : NULL;
    for (size_t i = 0; c && name && i < c->nnamed; i++)
        if (c->named[i].monitor == monitor && strcmp(c->named[i].name, name) == 0) {
            mp_strlcpy(ns, c->named[i].ns, n);
            return 0;
        }
    return MP_ENOENT;
}

int api__binding_role(store *st, const char *ns, const char *name, char *role, size_t n) {
    rbac_cache *c = st ? cache_get(st) : NULL;
    for (size_t i = 0; c && i < c->objs.nbindings; i++) {
        const spec_role_binding *b = c->objs.bindings[i];
        if (!b->cluster && strcmp(b->meta.namespace_, ns) == 0 && strcmp(b->meta.name, name) == 0) {
            mp_strlcpy(role, b->ref_name, n);
            return 0;
        }
    }
    return MP_ENOENT;
}

void api__filter_listed(const mp_http_req *req, json_t *arr, bool monitor) {
    if (!req->authz || !json_is_array(arr)) return;
    for (size_t i = json_array_size(arr); i-- > 0;) {
        json_t *item = json_array_get(arr, i);
        const char *name = json_string_value(json_object_get(item, monitor ? "name" : "deployment"));
        if (!name) name = json_string_value(json_object_get(item, "name"));
        char ns[64] = "default";
        if (name) api__object_namespace(req->st, monitor, name, ns, sizeof ns);
        if (!mp_http_allowed(req, "list", monitor ? "monitors" : "deployments", ns)) json_array_remove(arr, i);
    }
}

bool api__objects_allowed(const mp_http_req *req, const spec_file *f, mp_http_resp *resp) {
    if (!req->authz || !f) return true;
    store_object *objs = NULL;
    size_t nobjs = 0;
    mp_err e;
    if (req->st->o->object_list(req->st, &objs, &nobjs, &e) != 0) {
        mp_http_mlflow_error(resp, 500, "INTERNAL_ERROR", "%s", e.msg);
        return false;
    }
    bool ok = true;
    for (size_t j = 0; ok && j < f->nobjs; j++) {
        const spec_object *o = &f->objs[j];
        if (o->kind == SPEC_KIND_PIPELINE) continue; /* not applied */
        const char *kind = spec_kind_name(o->kind), *name = spec_object_meta(o)->name;
        const char *ns = api__kind_namespace(o), *res = api__kind_resource(o->kind);
        /* the store keeps a namespace for the namespaced kinds only (Deployments' names are unique across them) */
        bool keyed = o->kind == SPEC_KIND_ROLE || o->kind == SPEC_KIND_ROLE_BINDING || o->kind == SPEC_KIND_LOCAL_QUEUE ||
                     o->kind == SPEC_KIND_SECRET || o->kind == SPEC_KIND_RETENTION_POLICY;
        bool exists = false;
        for (size_t k = 0; k < nobjs && !exists; k++)
            exists = strcmp(objs[k].kind, kind) == 0 && strcmp(objs[k].name, name) == 0 &&
                     (!keyed || strcmp(objs[k].namespace_, ns) == 0);
        const char *verb = exists ? "update" : "create";
        if (!mp_http_allowed(req, verb, res, ns)) {
            api__deny(resp, req->authz->user, verb, res, ns);
            ok = false;
        }
    }
    store_object_array_free(objs, nobjs);
    return ok;
}

const char *api__kind_resource(spec_kind kind) {
    switch (kind) {
    case SPEC_KIND_PIPELINE: return "pipelines";
    case SPEC_KIND_DEPLOYMENT: return "deployments";
    case SPEC_KIND_MONITOR: return "monitors";
    case SPEC_KIND_SECRET: return "secrets";
    case SPEC_KIND_RETENTION_POLICY: return "runs"; /* it deletes runs when they expire */
    case SPEC_KIND_ROLE:
    case SPEC_KIND_CLUSTER_ROLE:
    case SPEC_KIND_ROLE_BINDING:
    case SPEC_KIND_CLUSTER_ROLE_BINDING: return "roles";
    case SPEC_KIND_PRIORITY_CLASS:
    case SPEC_KIND_NODE:
    case SPEC_KIND_NODE_POOL:
    case SPEC_KIND_CLUSTER_QUEUE:
    case SPEC_KIND_LOCAL_QUEUE:
    case SPEC_KIND_RESOURCE_FLAVOR: return "queues";
    }
    return "queues";
}

const char *api__kind_namespace(const spec_object *o) {
    switch (o->kind) {
    case SPEC_KIND_PIPELINE:
    case SPEC_KIND_DEPLOYMENT:
    case SPEC_KIND_MONITOR:
    case SPEC_KIND_ROLE:
    case SPEC_KIND_ROLE_BINDING:
    case SPEC_KIND_SECRET:
    case SPEC_KIND_RETENTION_POLICY:
    case SPEC_KIND_LOCAL_QUEUE: return spec_object_meta(o)->namespace_;
    default: return "";
    }
}

void api__deny(mp_http_resp *resp, const char *user, const char *verb, const char *resource, const char *ns) {
    if (ns && *ns)
        mp_http_mlflow_error(resp, 403, "PERMISSION_DENIED", "user \"%s\" cannot %s %s in namespace \"%s\"",
                             user && *user ? user : "anonymous", verb, resource, ns);
    else
        mp_http_mlflow_error(resp, 403, "PERMISSION_DENIED", "user \"%s\" cannot %s %s at cluster scope",
                             user && *user ? user : "anonymous", verb, resource);
}

const char *api__req_namespace(const mp_http_req *req) {
    const char *h = mp_http_req_header(req, "X-Mlplane-Namespace");
    if (h && *h) return h;
    if (req->authz && req->authz->namespace_ && *req->authz->namespace_) return req->authz->namespace_;
    return "default";
}
