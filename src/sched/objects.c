/* objects.c — the cluster as applied to the store: PriorityClasses, Nodes and
 * NodePools, ResourceFlavors, ClusterQueues and LocalQueues (`mlplane apply`, or
 * the non-Pipeline documents of a file given to `mlplane run`).
 *
 * The store keeps the text of each applied file and which file defines each
 * object name now; loading re-parses those texts with the spec layer and keeps,
 * per file, only the objects that file still defines. Applying validates the
 * whole result (references between objects, one global default PriorityClass)
 * before anything is written, so a bad file changes nothing.
 * Secrets are applied here too: their values sealed into the store
 * (store_secrets_put), the text kept with them stripped (spec_secret_strip).
 * Without applied Nodes, the cluster is this machine: one node named after the
 * host with the capacity detected at start. With them, the nodes are simulated
 * over this machine: placement and quotas follow them, processes run here.
 * Reentrant; a sched_objects is used by one thread. */
#include "sched/sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Built-in classes, used when no applied class has the name: serving work
 * outranks training by default. */
static const spec_priority_class builtin_classes[] = {
    {.meta = {.name = "mlplane-serving"}, .value = 1000000, .preemption = SPEC_PREEMPT_LOWER_PRIORITY,
     .description = "model serving (built in)"},
    {.meta = {.name = "mlplane-training"}, .value = 0, .preemption = SPEC_PREEMPT_LOWER_PRIORITY,
     .description = "training and batch work (built in)"},
};

int sched__res_from_spec(const spec_resources *r, sched_res *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    out->cpu_milli = r->cpu_milli;
    out->memory_bytes = r->memory_bytes;
    out->gpu = r->gpu;
    for (size_t i = 0; i < r->nextended; i++)
        if (sched_res_ext_set(out, r->extended[i].name, r->extended[i].count) != 0)
            return mp_err_set(e, MP_EINVAL, "too many extended resources (at most %d): %s", SCHED_EXT_MAX,
                              r->extended[i].name);
    return 0;
}

void sched__nodeset_free(sched_nodeset *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->labels[i]);
        free(c->taints[i]);
    }
    free(c->labels);
    free(c->taints);
    free(c->nodes);
    for (size_t i = 0; i < c->nfiles; i++) spec_node_insts_free(c->insts[i], c->ninsts[i]);
    free(c->insts);
    free(c->ninsts);
    memset(c, 0, sizeof *c);
}

int sched__nodeset_build(const spec_file *const *files, size_t nfiles, bool (*keep)(void *ud, size_t file, const spec_node_inst *ni),
                       void *ud, sched_nodeset *c, mp_err *e) {
    memset(c, 0, sizeof *c);
    c->nfiles = nfiles;
    c->insts = mp_xcalloc(nfiles + 1, sizeof *c->insts);
    c->ninsts = mp_xcalloc(nfiles + 1, sizeof *c->ninsts);
    size_t total = 0;
    for (size_t i = 0; i < nfiles; i++) total += c->ninsts[i] = spec_file_nodes(files[i], &c->insts[i]);
    c->nodes = mp_xcalloc(total + 1, sizeof(sched_node));
    c->labels = mp_xcalloc(total + 1, sizeof(sched_kv *));
    c->taints = mp_xcalloc(total + 1, sizeof(sched_taint *));
    int rc = 0;
    for (size_t i = 0; i < nfiles; i++) {
        for (size_t j = 0; j < c->ninsts[i] && rc == 0; j++) {
            const spec_node_inst *ni = &c->insts[i][j];
            if (keep && !keep(ud, i, ni)) continue;
            size_t k = c->n++;
            sched_node *nd = &c->nodes[k];
            nd->name = ni->name;
            rc = sched__res_from_spec(ni->capacity, &nd->capacity, e);
            c->labels[k] = mp_xcalloc(ni->meta->nlabels + 1, sizeof(sched_kv));
            for (size_t l = 0; l < ni->meta->nlabels; l++)
                c->labels[k][l] = (sched_kv){ni->meta->labels[l].key, ni->meta->labels[l].value};
            nd->labels = c->labels[k];
            nd->nlabels = ni->meta->nlabels;
            c->taints[k] = mp_xcalloc(ni->ntaints + 1, sizeof(sched_taint));
            for (size_t t = 0; t < ni->ntaints; t++)
                c->taints[k][t] =
                    (sched_taint){ni->taints[t].key, ni->taints[t].value, (sched_effect)ni->taints[t].effect};
            nd->taints = c->taints[k];
            nd->ntaints = ni->ntaints;
        }
    }
    if (rc) sched__nodeset_free(c);
    return rc;
}

/* ---- loading ------------------------------------------------------------------------ */

typedef struct cur {
    const store_object *objs;
    size_t n;
    int64_t source;
} cur;

/* Whether object (kind, ns, name) is defined by source c->source now. */
static bool current(const cur *c, const char *kind, const char *ns, const char *name) {
    for (size_t i = 0; i < c->n; i++)
        if (c->objs[i].source_id == c->source && strcmp(c->objs[i].kind, kind) == 0 &&
            strcmp(c->objs[i].name, name) == 0 && strcmp(c->objs[i].namespace_, ns ? ns : "") == 0)
            return true;
    return false;
}

static const char *obj_ns(const spec_object *o) {
    return o->kind == SPEC_KIND_LOCAL_QUEUE || o->kind == SPEC_KIND_PIPELINE || o->kind == SPEC_KIND_SECRET ||
                   o->kind == SPEC_KIND_RETENTION_POLICY || o->kind == SPEC_KIND_ROLE ||
                   o->kind == SPEC_KIND_ROLE_BINDING
               ? spec_object_meta(o)->namespace_
               : "";
}

/* Refuses a key other than the one the store's other Secrets are encrypted with:
 * one home, one key (rotate-key changes it for all). */
static int same_key(store *st, const spec_file *f, const store_secret_key *key, mp_err *e) {
    store_secret_value *v = NULL;
    size_t n = 0;
    int rc = st->o->secret_list(st, NULL, NULL, &v, &n, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (strcmp(v[i].key_id, key->id) == 0) continue;
        bool replaced = false; /* a Secret of this file is sealed anew anyway */
        for (size_t k = 0; k < f->nobjs && !replaced; k++)
            replaced = f->objs[k].kind == SPEC_KIND_SECRET &&
                       strcmp(f->objs[k].u.secret->meta.namespace_, v[i].namespace_) == 0 &&
                       strcmp(f->objs[k].u.secret->meta.name, v[i].name) == 0;
        if (!replaced)
            rc = mp_err_set(e, MP_EINVAL,
                            "the key given (id %s) is not the one the applied Secrets are encrypted with (id %s, "
                            "secret %s/%s): give that key, or change it for all with `mlplane secrets rotate-key`",
                            key->id, v[i].key_id, v[i].namespace_, v[i].name);
    }
    store_secret_value_array_free(v, n);
    return rc;
}

/* The Secrets of f sealed into the store with the key of the environment
 * (store_secret_key_load), in the caller's transaction. */
static int put_secrets(store *st, const spec_file *f, mp_err *e) {
    store_secret_key key;
    int rc = 0;
    bool have_key = false;
    for (size_t i = 0; rc == 0 && i < f->nobjs; i++) {
        if (f->objs[i].kind != SPEC_KIND_SECRET) continue;
        const spec_secret *sc = f->objs[i].u.secret;
        if (!have_key) {
            mp_err ke = {0};
            if (store_secret_key_load(NULL, &key, &ke) != 0) {
                rc = mp_err_set(e, ke.code == MP_ENOENT ? MP_EINVAL : ke.code,
                                "%s:%d:%d: Secret \"%s\" cannot be stored encrypted: %s", f->path, f->objs[i].pos.line,
                                f->objs[i].pos.col, sc->meta.name, ke.msg);
                break;
            }
            have_key = true;
            rc = same_key(st, f, &key, e);
            if (rc) break;
        }
        store_secret_plain *items = mp_xcalloc(sc->nitems + 1, sizeof *items);
        for (size_t k = 0; k < sc->nitems; k++) /* borrowed: not freed here */
            items[k] = (store_secret_plain){sc->items[k].key, sc->items[k].value, sc->items[k].len};
        rc = store_secrets_put(st, &key, sc->meta.namespace_, sc->meta.name, items, sc->nitems, e);
        free(items);
    }
    if (have_key) store_secret_wipe_key(&key);
    return rc;
}

typedef struct keep_ctx {
    const cur *c;
    const int64_t *source_ids;
} keep_ctx;

static bool keep_node(void *ud, size_t file, const spec_node_inst *ni) {
    const keep_ctx *k = ud;
    cur one = *k->c;
    one.source = k->source_ids[file];
    const cur *c = &one;
    if (ni->pool) return current(c, "NodePool", "", ni->pool->meta.name);
    return current(c, "Node", "", ni->meta->name);
}

#define PUSH(arr, n, v)                                                   \
    do {                                                                  \
        (arr) = mp_xrealloc((void *)(arr), ((n) + 1) * sizeof *(arr));    \
        (arr)[(n)++] = (v);                                               \
    } while (0)

/* Collects from files[0..nfiles) the objects cur says are current (all when c is
 * NULL) into o's arrays, later files overriding earlier ones of the same name. */
static void collect(sched_objects *o, const cur *c0, size_t first) {
    for (size_t i = first; i < o->nfiles; i++) {
        const spec_file *f = o->files[i];
        cur c = c0 ? *c0 : (cur){0};
        if (c0) c.source = o->source_ids[i];
        for (size_t j = 0; j < f->nobjs; j++) {
            const spec_object *ob = &f->objs[j];
            if (ob->kind == SPEC_KIND_PIPELINE) continue;
            const spec_meta *m = spec_object_meta(ob);
            if (c0 && !current(&c, spec_kind_name(ob->kind), obj_ns(ob), m->name)) continue;
            switch (ob->kind) {
            case SPEC_KIND_PRIORITY_CLASS: PUSH(o->classes, o->nclasses, ob->u.priority_class); break;
            case SPEC_KIND_CLUSTER_QUEUE: PUSH(o->queues, o->nqueues, ob->u.cluster_queue); break;
            case SPEC_KIND_LOCAL_QUEUE: PUSH(o->local_queues, o->nlocal_queues, ob->u.local_queue); break;
            case SPEC_KIND_RESOURCE_FLAVOR: PUSH(o->flavors, o->nflavors, ob->u.resource_flavor); break;
            case SPEC_KIND_ROLE:
            case SPEC_KIND_CLUSTER_ROLE: PUSH(o->roles, o->nroles, ob->u.role); break;
            case SPEC_KIND_ROLE_BINDING:
            case SPEC_KIND_CLUSTER_ROLE_BINDING: PUSH(o->bindings, o->nbindings, ob->u.role_binding); break;
            default: break; /* nodes: sched__nodeset_build */
            }
        }
    }
}

void sched_objects_free(sched_objects *o) {
    for (size_t i = 0; i < o->nfiles; i++)
        if (o->owned[i]) spec_file_free(o->files[i]);
    free(o->files);
    free(o->owned);
    free(o->source_ids);
    free(o->classes);
    free(o->queues);
    free(o->local_queues);
    free(o->flavors);
    free(o->roles);
    free(o->bindings);
    sched__nodeset_free(&o->sim);
    free(o->local_labels);
    memset(o, 0, sizeof *o);
}

static void add_local_node(sched_objects *o) {
    sched_capacity cap;
    sched_local_capacity(&cap);
    if (gethostname(o->local_name, sizeof o->local_name) != 0 || !o->local_name[0])
        mp_strlcpy(o->local_name, "localhost", sizeof o->local_name);
    o->local_name[sizeof o->local_name - 1] = '\0';
    o->local_labels = mp_xcalloc(2, sizeof(sched_kv));
    o->local_labels[0] = (sched_kv){"kubernetes.io/hostname", o->local_name};
    o->local = (sched_node){.name = o->local_name, .labels = o->local_labels, .nlabels = 1};
    o->local.capacity.cpu_milli = cap.cpu_milli;
    o->local.capacity.memory_bytes = cap.memory_bytes;
    o->local.capacity.gpu = cap.gpu;
    o->nodes = &o->local;
    o->nnodes = 1;
}

/* Builds o's node list and marks o loaded; files/owned/source_ids are set. */
static int finish(sched_objects *o, const cur *c, mp_err *e) {
    collect(o, c, 0);
    keep_ctx k = {c, o->source_ids};
    int rc = sched__nodeset_build((const spec_file *const *)o->files, o->nfiles, c ? keep_node : NULL, &k, &o->sim, e);
    if (rc) return rc;
    if (o->sim.n) {
        o->nodes = o->sim.nodes;
        o->nnodes = o->sim.n;
        o->simulated = true;
    } else {
        add_local_node(o);
    }
    return 0;
}

int sched_objects_load(store *st, sched_objects *o, mp_err *e) {
    memset(o, 0, sizeof *o);
    store_object *objs = NULL;
    store_source *src = NULL;
    size_t nobjs = 0, nsrc = 0;
    int rc = st->o->object_list(st, &objs, &nobjs, e);
    if (rc == 0) rc = st->o->source_list(st, &src, &nsrc, e);
    o->files = mp_xcalloc(nsrc + 1, sizeof *o->files);
    o->owned = mp_xcalloc(nsrc + 1, sizeof *o->owned);
    o->source_ids = mp_xcalloc(nsrc + 1, sizeof *o->source_ids);
    for (size_t i = 0; i < nsrc && rc == 0; i++) {
        spec_diags d = {0};
        spec_file *f = NULL;
        char *dir = mp_path_dir(src[i].path);
        if (spec_load_string(src[i].path, dir, src[i].text, strlen(src[i].text), &f, &d) != 0) {
            mp_buf b;
            mp_buf_init(&b);
            spec_diags_format(&d, &b);
            rc = mp_err_set(e, MP_EINVAL, "applied objects from %s no longer load: %s", src[i].path,
                            b.data ? b.data : "");
            mp_buf_free(&b);
        } else {
            o->files[o->nfiles] = f;
            o->owned[o->nfiles] = true;
            o->source_ids[o->nfiles++] = src[i].id;
        }
        free(dir);
        spec_diags_free(&d);
    }
    cur c = {.objs = objs, .n = nobjs};
    if (rc == 0) rc = finish(o, &c, e);
    store_object_array_free(objs, nobjs);
    store_source_array_free(src, nsrc);
    if (rc) sched_objects_free(o);
    return rc;
}

/* ---- lookups ----------------------------------------------------------------------- */

const spec_priority_class *sched_objects_class(const sched_objects *o, const char *name) {
    const spec_priority_class *found = NULL;
    for (size_t i = 0; i < o->nclasses; i++) /* later applies override earlier ones */
        if (name ? strcmp(o->classes[i]->meta.name, name) == 0 : o->classes[i]->global_default)
            found = o->classes[i];
    if (found || !name) return found;
    for (size_t i = 0; i < sizeof builtin_classes / sizeof builtin_classes[0]; i++)
        if (strcmp(builtin_classes[i].meta.name, name) == 0) return &builtin_classes[i];
    return NULL;
}

const spec_cluster_queue *sched_objects_queue(const sched_objects *o, const char *name) {
    const spec_cluster_queue *found = NULL;
    for (size_t i = 0; i < o->nqueues; i++)
        if (strcmp(o->queues[i]->meta.name, name) == 0) found = o->queues[i];
    return found;
}

int sched_objects_resolve(const sched_objects *o, const char *ns, const spec_step *s, sched_resolved *out,
                          mp_err *e) {
    memset(out, 0, sizeof *out);
    out->may_preempt = true;
    const spec_priority_class *pc = sched_objects_class(o, s->priority_class);
    if (s->priority_class && !pc)
        return mp_err_set(e, MP_EINVAL,
                          "step \"%s\": PriorityClass \"%s\" is not applied (apply one with `mlplane apply -f FILE`, "
                          "or use mlplane-serving or mlplane-training)",
                          s->name, s->priority_class);
    if (pc) {
        out->priority = pc->value;
        out->may_preempt = pc->preemption != SPEC_PREEMPT_NEVER;
        out->priority_class = pc->meta.name;
    }
    ns = ns && *ns ? ns : "default";
    const spec_local_queue *lq = NULL;
    size_t in_ns = 0;
    for (size_t i = 0; i < o->nlocal_queues; i++) {
        const spec_local_queue *q = o->local_queues[i];
        if (strcmp(q->meta.namespace_, ns) != 0) continue;
        in_ns++;
        if (s->queue_name ? strcmp(q->meta.name, s->queue_name) == 0 : strcmp(q->meta.name, "default") == 0) lq = q;
        else if (!s->queue_name && in_ns == 1 && !lq) lq = q;
    }
    if (s->queue_name && !lq)
        return mp_err_set(e, MP_EINVAL,
                          "step \"%s\": LocalQueue \"%s\" is not applied in namespace \"%s\" (apply it with "
                          "`mlplane apply -f FILE`)",
                          s->name, s->queue_name, ns);
    if (!s->queue_name && in_ns > 1 && lq && strcmp(lq->meta.name, "default") != 0) lq = NULL; /* ambiguous */
    if (lq) {
        out->local_queue = lq->meta.name;
        out->cluster_queue = lq->cluster_queue;
    }
    return 0;
}

/* ---- the names steps use ------------------------------------------------------------- */

int sched_objects_view(store *st, const spec_file *const *files, size_t nfiles, sched_objects *o, mp_err *e) {
    memset(o, 0, sizeof *o);
    int rc = st ? sched_objects_load(st, o, e) : 0;
    if (rc) return rc;
    size_t first = o->nfiles;
    o->files = mp_xrealloc(o->files, (o->nfiles + nfiles + 1) * sizeof *o->files);
    o->owned = mp_xrealloc(o->owned, (o->nfiles + nfiles + 1) * sizeof *o->owned);
    o->source_ids = mp_xrealloc(o->source_ids, (o->nfiles + nfiles + 1) * sizeof *o->source_ids);
    for (size_t i = 0; i < nfiles; i++) {
        o->files[o->nfiles] = (spec_file *)files[i];
        o->owned[o->nfiles] = false;
        o->source_ids[o->nfiles++] = 0;
    }
    collect(o, NULL, first);
    return 0;
}

/* " (did you mean \"x\"?)" or " (LABEL: a, b)" for name among cands (heap). */
static char *name_hint(const char *name, const char **cands, size_t n, const char *label) {
    size_t k = 0; /* without repeats: a later apply of a name overrides an earlier one */
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++) seen = strcmp(cands[j], cands[i]) == 0;
        if (!seen) cands[k++] = cands[i];
    }
    const char *near = spec_closest(name, cands, k);
    if (near) return mp_xasprintf(" (did you mean \"%s\"?)", near);
    if (!k) return mp_xstrdup(" (there is none: define one in the file or apply one with `mlplane apply -f FILE`)");
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, " (%s: ", label);
    for (size_t i = 0; i < k; i++) mp_buf_printf(&b, "%s%s", i ? ", " : "", cands[i]);
    mp_buf_printf(&b, ")");
    return mp_buf_steal(&b);
}

static size_t check_step_names(const sched_objects *o, const char *path, const spec_pipeline *p, const char *nowhere,
                               const char *note, spec_diags *d) {
    note = note ? note : "";
    size_t bad = 0;
    const char *ns = p->meta.namespace_ && *p->meta.namespace_ ? p->meta.namespace_ : "default";
    size_t ncands = o->nclasses + o->nlocal_queues + sizeof builtin_classes / sizeof builtin_classes[0];
    const char **cands = mp_xcalloc(ncands + 1, sizeof *cands);
    for (size_t i = 0; i < p->nsteps; i++) {
        const spec_step *s = &p->steps[i];
        if (s->priority_class && !sched_objects_class(o, s->priority_class)) {
            size_t n = 0;
            for (size_t k = 0; k < o->nclasses; k++) cands[n++] = o->classes[k]->meta.name;
            for (size_t k = 0; k < sizeof builtin_classes / sizeof builtin_classes[0]; k++)
                cands[n++] = builtin_classes[k].meta.name;
            char *h = name_hint(s->priority_class, cands, n, "PriorityClasses");
            spec_diag_add(d, path, s->priority_class_pos.line ? s->priority_class_pos : s->pos,
                          "step \"%s\": priorityClassName \"%s\" names no PriorityClass %s%s%s", s->name,
                          s->priority_class, nowhere, h, note);
            free(h);
            bad++;
        }
        if (s->queue_name) {
            size_t n = 0;
            bool found = false;
            for (size_t k = 0; k < o->nlocal_queues; k++) {
                const spec_local_queue *q = o->local_queues[k];
                if (strcmp(q->meta.namespace_, ns) != 0) continue;
                found = found || strcmp(q->meta.name, s->queue_name) == 0;
                cands[n++] = q->meta.name;
            }
            if (!found) {
                const char *label = "known there";
                char *h = name_hint(s->queue_name, cands, n, label);
                spec_diag_add(d, path, s->queue_name_pos.line ? s->queue_name_pos : s->pos,
                              "step \"%s\": queueName \"%s\" names no LocalQueue of namespace \"%s\" %s%s%s", s->name,
                              s->queue_name, ns, nowhere, h, note);
                free(h);
                bad++;
            }
        }
    }
    free(cands);
    return bad;
}

size_t sched_objects_check_names(const sched_objects *o, const spec_file *f, const spec_pipeline *only,
                                 const char *nowhere, const char *note, spec_diags *d) {
    size_t bad = 0;
    for (size_t i = 0; i < f->nobjs; i++) {
        const spec_object *ob = &f->objs[i];
        if (ob->kind != SPEC_KIND_PIPELINE || (only && ob->u.pipeline != only)) continue;
        bad += check_step_names(o, f->path, ob->u.pipeline, nowhere, note, d);
    }
    return bad;
}

/* ---- applying ------------------------------------------------------------------------ */

/* Checks the objects of o (the store's plus the file being applied) refer to each
 * other correctly; every problem goes into d with the file position. */
static void check_refs(const sched_objects *o, const spec_file *f, spec_diags *d) {
    for (size_t i = 0; i < f->nobjs; i++) {
        const spec_object *ob = &f->objs[i];
        if (ob->kind == SPEC_KIND_LOCAL_QUEUE) {
            const spec_local_queue *lq = ob->u.local_queue;
            if (!sched_objects_queue(o, lq->cluster_queue))
                spec_diag_add(d, f->path, ob->pos,
                              "LocalQueue \"%s\": spec.clusterQueue \"%s\" is not applied and not in this file",
                              lq->meta.name, lq->cluster_queue);
        } else if (ob->kind == SPEC_KIND_CLUSTER_QUEUE) {
            const spec_cluster_queue *cq = ob->u.cluster_queue;
            for (size_t g = 0; g < cq->ngroups; g++)
                for (size_t k = 0; k < cq->groups[g].nflavors; k++) {
                    const char *fl = cq->groups[g].flavors[k].name;
                    bool ok = false;
                    for (size_t m = 0; m < o->nflavors && !ok; m++) ok = strcmp(o->flavors[m]->meta.name, fl) == 0;
                    if (!ok)
                        spec_diag_add(d, f->path, cq->groups[g].flavors[k].pos,
                                      "ClusterQueue \"%s\": ResourceFlavor \"%s\" is not applied and not in this file",
                                      cq->meta.name, fl);
                }
        } else if (ob->kind == SPEC_KIND_PRIORITY_CLASS && ob->u.priority_class->global_default) {
            for (size_t k = 0; k < o->nclasses; k++) {
                const spec_priority_class *pc = o->classes[k];
                if (pc->global_default && pc != ob->u.priority_class &&
                    strcmp(pc->meta.name, ob->u.priority_class->meta.name) != 0) {
                    spec_diag_add(d, f->path, ob->pos,
                                  "PriorityClass \"%s\" is globalDefault but \"%s\" already is; only one may be",
                                  ob->u.priority_class->meta.name, pc->meta.name);
                    break;
                }
            }
        }
    }
}

int sched_objects_apply(store *st, const spec_file *f, const char *text, size_t *napplied, spec_diags *d,
                        mp_err *e) {
    *napplied = 0;
    store_object *keys = mp_xcalloc(f->nobjs + 1, sizeof *keys);
    size_t nkeys = 0;
    for (size_t i = 0; i < f->nobjs; i++) {
        const spec_object *ob = &f->objs[i];
        if (ob->kind == SPEC_KIND_PIPELINE) continue; /* run, not applied */
        /* Deployments are kept with the scheduler objects (src/serve reads them);
         * their names are unique across namespaces, so they are stored without one. */
        keys[nkeys++] = (store_object){.kind = (char *)spec_kind_name(ob->kind), .namespace_ = (char *)obj_ns(ob),
                                       .name = spec_object_meta(ob)->name};
    }
    if (nkeys == 0) {
        free(keys);
        return 0;
    }
    /* the view after applying: the store's objects, then this file's over them */
    sched_objects o;
    int rc = sched_objects_load(st, &o, e);
    if (rc == 0) {
        size_t first = o.nfiles;
        o.files = mp_xrealloc(o.files, (o.nfiles + 1) * sizeof *o.files);
        o.owned = mp_xrealloc(o.owned, (o.nfiles + 1) * sizeof *o.owned);
        o.files[o.nfiles] = (spec_file *)f;
        o.owned[o.nfiles++] = false;
        collect(&o, NULL, first);
        size_t before = d->n;
        check_refs(&o, f, d);
        if (d->n > before) rc = mp_err_set(e, MP_EINVAL, "%s: %zu problem(s) with references", f->path, d->n - before);
        sched_objects_free(&o);
    }
    /* a Secret's values are sealed apart; the text kept has its key names only */
    char *stripped = NULL;
    if (rc == 0 && spec_file_count(f, SPEC_KIND_SECRET)) {
        rc = put_secrets(st, f, e);
        if (rc == 0) rc = spec_secret_strip(text, &stripped, e);
    }
    if (rc == 0) rc = st->o->object_apply(st, f->path, stripped ? stripped : text, keys, nkeys, e);
    free(stripped);
    for (size_t i = 0; i < f->nobjs && rc == 0; i++) /* applied anew: the spec's canary percent holds again */
        if (f->objs[i].kind == SPEC_KIND_DEPLOYMENT) rc = st->o->rollout_set(st, spec_object_meta(&f->objs[i])->name, -1, e);
    if (rc == 0) *napplied = nkeys;
    free(keys);
    return rc;
}

static const sched_object_kind object_kinds[] = {
    {"PriorityClass", "priorityclass", "priorityclasses", "pc"},
    {"Node", "node", "nodes", "no"},
    {"NodePool", "nodepool", "nodepools", NULL},
    {"ResourceFlavor", "resourceflavor", "resourceflavors", "rf"},
    {"ClusterQueue", "clusterqueue", "clusterqueues", "cq"},
    {"LocalQueue", "localqueue", "localqueues", "lq"},
    {"Deployment", "deployment", "deployments", "deploy"},
    {"Monitor", "monitor", "monitors", "mon"},
    {"Secret", "secret", "secrets", NULL},
    {"RetentionPolicy", "retentionpolicy", "retentionpolicies", "retention"},
    {"Role", "role", "roles", NULL},
    {"RoleBinding", "rolebinding", "rolebindings", NULL},
    {"ClusterRole", "clusterrole", "clusterroles", NULL},
    {"ClusterRoleBinding", "clusterrolebinding", "clusterrolebindings", NULL},
};
enum { NKINDS = sizeof object_kinds / sizeof object_kinds[0] };

const sched_object_kind *sched_object_kinds(size_t *n) {
    *n = NKINDS;
    return object_kinds;
}

const char *sched_object_kind_find(const char *word) {
    for (size_t i = 0; word && i < NKINDS; i++)
        if (strcmp(word, object_kinds[i].kind) == 0 || strcasecmp(word, object_kinds[i].singular) == 0 ||
            strcasecmp(word, object_kinds[i].plural) == 0 ||
            (object_kinds[i].shortname && strcasecmp(word, object_kinds[i].shortname) == 0))
            return object_kinds[i].kind;
    return NULL;
}

int sched_objects_delete(store *st, const char *kind, const char *ns, const char *name, mp_err *e) {
    const char *k = sched_object_kind_find(kind);
    if (!k) {
        mp_buf list;
        mp_buf_init(&list);
        for (size_t i = 0; i < NKINDS; i++)
            mp_buf_printf(&list, "%s%s", i == 0 ? "" : i + 1 == NKINDS ? " or " : ", ", object_kinds[i].kind);
        int rc = mp_err_set(e, MP_EINVAL, "cannot delete kind \"%s\": expected %s", kind ? kind : "", list.data);
        mp_buf_free(&list);
        return rc;
    }
    bool deployment = strcmp(k, "Deployment") == 0;
    /* LocalQueues, Secrets, RetentionPolicies, Roles and RoleBindings live in a namespace, "default" unless given (as kubectl); nothing else has one */
    bool namespaced = strcmp(k, "LocalQueue") == 0 || strcmp(k, "Secret") == 0 || strcmp(k, "RetentionPolicy") == 0 ||
                      strcmp(k, "Role") == 0 || strcmp(k, "RoleBinding") == 0;
    const char *where = namespaced ? (ns && *ns ? ns : "default") : "";
    int rc = st->m->begin(st, e);
    if (rc != 0) return rc;
    rc = st->o->object_delete(st, k, where, name, e);
    if (rc == 0 && deployment) rc = st->o->rollout_set(st, name, -1, e);
    if (rc == 0 && deployment) rc = st->o->deploy_state_clear(st, name, e);
    if (rc == 0 && strcmp(k, "Monitor") == 0) rc = st->o->monitor_clear(st, name, e);
    if (rc == 0 && strcmp(k, "Secret") == 0) rc = st->o->secret_clear(st, where, name, e);
    if (rc == 0) rc = st->m->commit(st, e);
    else st->m->rollback(st);
    return rc;
}
