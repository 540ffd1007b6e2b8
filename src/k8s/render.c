/* render.c — mlplane objects to Kubernetes objects (k8s.h): the driver over a
 * file's documents, the metadata every object carries, PriorityClasses, and the
 * notes for what has no Kubernetes object. Pipeline steps are render_job.c's,
 * queues render_queue.c's, serving Deployments render_serve.c's.
 * Reentrant; every object built here is new and handed to the caller. */
#include "k8s/k8s_int.h"

#include <sodium.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool k8s_dns_label(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-')) return false;
    }
    return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]);
}

bool k8s__dns_subdomain(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 253) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '.')) return false;
    }
    return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]);
}

void k8s_notes_free(k8s_notes *n) {
    for (size_t i = 0; i < n->n; i++) free(n->v[i]);
    free(n->v);
    n->v = NULL;
    n->n = 0;
}

void k8s__note(k8s__ctx *c, spec_pos pos, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->notes->v = mp_xrealloc(c->notes->v, (c->notes->n + 1) * sizeof *c->notes->v);
    c->notes->v[c->notes->n++] = mp_xasprintf("%s:%d:%d: %s", c->f->path, pos.line ? pos.line : 1, pos.col ? pos.col : 1, msg);
}

void k8s__fail(k8s__ctx *c, spec_pos pos, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    spec_diag_add(c->d, c->f->path, pos, "%s", msg);
    c->failed = true;
}

json_t *k8s__qty(const char *name, int64_t v) {
    char b[48];
    switch (spec_resource_qty_kind(name)) {
    case SPEC_QTY_CPU:
        if (v % 1000 == 0) snprintf(b, sizeof b, "%lld", (long long)(v / 1000));
        else snprintf(b, sizeof b, "%lldm", (long long)v);
        break;
    case SPEC_QTY_MEMORY: {
        static const char *const suf[] = {"Ki", "Mi", "Gi", "Ti", "Pi"};
        int k = -1;
        int64_t x = v;
        while (k < 4 && x >= 1024 && x % 1024 == 0) {
            x /= 1024;
            k++;
        }
        if (k < 0) snprintf(b, sizeof b, "%lld", (long long)v);
        else snprintf(b, sizeof b, "%lld%s", (long long)x, suf[k]);
        break;
    }
    default: snprintf(b, sizeof b, "%lld", (long long)v); break;
    }
    return json_string(b);
}

json_t *k8s__labels(const char *name, const char *component) {
    json_t *l = json_object();
    json_object_set_new(l, "app.kubernetes.io/name", json_string(name));
    json_object_set_new(l, "app.kubernetes.io/part-of", json_string("mlplane"));
    json_object_set_new(l, "app.kubernetes.io/managed-by", json_string("mlplane"));
    if (component) json_object_set_new(l, "app.kubernetes.io/component", json_string(component));
    return l;
}

json_t *k8s__object(const char *api_version, const char *kind, const char *name, const char *ns, json_t *labels,
                    json_t *annotations) {
    json_t *o = json_object();
    json_object_set_new(o, "apiVersion", json_string(api_version));
    json_object_set_new(o, "kind", json_string(kind));
    json_t *m = json_object();
    json_object_set_new(m, "name", json_string(name));
    if (ns) json_object_set_new(m, "namespace", json_string(ns));
    if (labels) json_object_set_new(m, "labels", labels);
    if (annotations && json_object_size(annotations) > 0) json_object_set_new(m, "annotations", annotations);
    else json_decref(annotations);
    json_object_set_new(o, "metadata", m);
    return o;
}

const char *k8s__namespace(const k8s__ctx *c, const spec_meta *m) {
    if (c->o->namespace_ && *c->o->namespace_) return c->o->namespace_;
    return m->namespace_ && *m->namespace_ ? m->namespace_ : "default";
}

void k8s__emit(k8s__ctx *c, json_t *obj) { json_array_append_new(c->out, obj); }

/* The ServiceAccount steps of namespace ns run as, once per namespace. */
void k8s__service_account(k8s__ctx *c, const char *ns) {
    size_t i;
    json_t *v;
    json_array_foreach(c->out, i, v) {
        json_t *m = json_object_get(v, "metadata");
        if (strcmp(json_string_value(json_object_get(v, "kind")), "ServiceAccount") == 0 &&
            strcmp(json_string_value(json_object_get(m, "namespace")), ns) == 0)
            return;
    }
    json_t *sa = k8s__object("v1", "ServiceAccount", K8S__STEP_SA, ns, k8s__labels("mlplane-step", "step"), NULL);
    json_object_set_new(sa, "automountServiceAccountToken", json_false()); /* steps talk to mlplane, not the API */
    /* first, so that kubectl apply creates it before the Jobs that name it */
    json_array_insert_new(c->out, 0, sa);
}

/* scheduling.k8s.io/v1 PriorityClass: the same fields, by the same names. */
static void render_priority_class(k8s__ctx *c, const spec_object *so) {
    const spec_priority_class *pc = so->u.priority_class;
    if (!k8s__dns_subdomain(pc->meta.name)) {
        k8s__fail(c, pc->meta.name_pos, "metadata.name: \"%s\" is not a valid Kubernetes object name", pc->meta.name);
        return;
    }
    json_t *o = k8s__object("scheduling.k8s.io/v1", "PriorityClass", pc->meta.name, NULL,
                            k8s__labels(pc->meta.name, "priority-class"), NULL);
    json_object_set_new(o, "value", json_integer(pc->value));
    json_object_set_new(o, "globalDefault", json_boolean(pc->global_default));
    json_object_set_new(o, "preemptionPolicy",
                        json_string(pc->preemption == SPEC_PREEMPT_NEVER ? "Never" : "PreemptLowerPriority"));
    if (pc->description) json_object_set_new(o, "description", json_string(pc->description));
    k8s__emit(c, o);
}

/* v1 Secret: the same keys, every value in data as base64 (stringData folded in). */
static void render_secret(k8s__ctx *c, const spec_object *so) {
    const spec_secret *sc = so->u.secret;
    json_t *o = k8s__object("v1", "Secret", sc->meta.name, k8s__namespace(c, &sc->meta),
                            k8s__labels(sc->meta.name, "secret"), NULL);
    json_object_set_new(o, "type", json_string(sc->type ? sc->type : "Opaque"));
    json_t *data = json_object();
    for (size_t i = 0; i < sc->nitems; i++) {
        size_t n = sodium_base64_ENCODED_LEN(sc->items[i].len, sodium_base64_VARIANT_ORIGINAL);
        char *b = mp_xcalloc(n, 1);
        sodium_bin2base64(b, n, sc->items[i].value, sc->items[i].len, sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new(data, sc->items[i].key, json_string(b));
        free(b);
    }
    json_object_set_new(o, "data", data);
    k8s__emit(c, o);
}

static void render_object(k8s__ctx *c, const spec_object *so) {
    const spec_meta *m = spec_object_meta(so);
    switch (so->kind) {
    case SPEC_KIND_PIPELINE: k8s__render_pipeline(c, so->u.pipeline); break;
    case SPEC_KIND_PRIORITY_CLASS: render_priority_class(c, so); break;
    case SPEC_KIND_NODE:
    case SPEC_KIND_NODE_POOL:
        k8s__note(c, so->pos, "%s %s: nothing rendered: a cluster's nodes are its own (mlplane uses them for "
                  "`mlplane sched simulate` and embedded runs only)", spec_kind_name(so->kind), m->name);
        break;
    case SPEC_KIND_CLUSTER_QUEUE:
    case SPEC_KIND_LOCAL_QUEUE:
    case SPEC_KIND_RESOURCE_FLAVOR: k8s__render_queue(c, so); break;
    case SPEC_KIND_DEPLOYMENT: k8s__render_deployment(c, so->u.deployment); break;
    case SPEC_KIND_SECRET: render_secret(c, so); break;
    case SPEC_KIND_MONITOR:
        k8s__note(c, so->pos, "Monitor %s: nothing rendered: mlplane server runs Monitors itself (apply it to the "
                  "server with `mlplane apply --server URL`)", m->name);
        break;
    case SPEC_KIND_RETENTION_POLICY:
        k8s__note(c, so->pos, "RetentionPolicy %s: nothing rendered: `mlplane gc` applies it to the home's runs (apply "
                  "it there with `mlplane apply`)", m->name);
        break;
    default:
        k8s__note(c, so->pos, "%s %s: nothing rendered: this kind has no Kubernetes object",
                  spec_kind_name(so->kind), m->name);
        break;
    }
}

int k8s_render(const spec_file *const *files, size_t nfiles, const k8s_opts *o, json_t **out, k8s_notes *notes,
               spec_diags *d) {
    *out = NULL;
    k8s__ctx c = {.o = o, .notes = notes, .d = d, .out = json_array(), .files = files, .nfiles = nfiles};
    for (size_t i = 0; i < nfiles; i++) {
        c.f = files[i];
        for (size_t k = 0; k < files[i]->nobjs; k++) render_object(&c, &files[i]->objs[k]);
    }
    if (c.failed) {
        json_decref(c.out);
        return MP_EINVAL;
    }
    *out = c.out;
    return 0;
}

char *k8s_object_file_name(const json_t *obj) {
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
    char *s = ns ? mp_xasprintf("%s-%s-%s.yaml", kind ? kind : "object", ns, name ? name : "unnamed")
                 : mp_xasprintf("%s-%s.yaml", kind ? kind : "object", name ? name : "unnamed");
    for (char *p = s; *p; p++) *p = (char)tolower((unsigned char)*p);
    return s;
}
