/* internal.h — what the files of src/spec share and nobody else should use.
 *
 * Loading runs in three stages, one file each:
 *   load.c      YAML text -> libfyaml documents (syntax errors become diagnostics),
 *               the document envelope (apiVersion, kind, metadata) and the libfyaml
 *               node helpers (positions, typed scalars, unknown-field checks);
 *   pipeline.c  a Pipeline's `spec` -> spec_pipeline, checking every field's type;
 *   validate.c  cross-field rules (unique names, dependencies, templates, cycles).
 * The scheduler's kinds and fields have files of their own:
 *   resources.c   resource maps (cpu, memory, GPUs, extended names) and taints;
 *   step_sched.c  a step's scheduling fields (queue, priority, tolerations...);
 *   sweep.c       a step's sweep: (hyperparameter search) and its cross-field rules;
 *   cluster.c     PriorityClass, Node, NodePool, ResourceFlavor, LocalQueue, and the
 *                 file-wide checks (node names, one global default priority);
 *   queue.c       ClusterQueue.
 * Serving's kind has one too:
 *   deployment.c  Deployment (model versions, canary, shadow, replicas, autoscale).
 * Access's kinds:
 *   rbac.c        Role, ClusterRole, RoleBinding, ClusterRoleBinding.
 * Monitoring's too:
 *   monitor.c     Monitor (what is watched, against what, how often, the actions).
 * Decoding notes where strings and list items came from in a spec__step_aux so
 * that validate.c can point at the right line after the YAML is gone.
 * Every function adds to the context's diagnostics and carries on; the loader
 * decides at the end whether anything went wrong by counting them. */
#ifndef MLPLANE_SPEC_INTERNAL_H
#define MLPLANE_SPEC_INTERNAL_H

#include <libfyaml.h>

#include "spec/spec.h"

/* ---- decoding context ------------------------------------------------------------ */
typedef struct spec__ctx {
    const char *file; /* name used in diagnostics */
    spec_diags *diags;
} spec__ctx;

void spec__err(spec__ctx *c, spec_pos pos, const char *fmt, ...) MP_PRINTF(3, 4);

/* A string of a step that may hold templates, and where it came from. */
typedef struct spec__site {
    const char *text; /* borrowed from the step */
    char *field;      /* "spec.steps[1].command[2]" */
    spec_pos pos;
    bool in_input; /* an inputs[].path: {{inputs.X}} is not allowed there */
} spec__site;

/* Positions the decoder saw for one step, kept until validation is done. */
typedef struct spec__step_aux {
    spec_pos name_pos;
    bool bad_name;     /* the name was missing or invalid: don't look it up */
    spec_pos *dep_pos; /* of each explicit dependsOn item (ndepends of them) */
    spec__site *sites;
    size_t nsites, capsites;
} spec__step_aux;

void spec__aux_free(spec__step_aux *aux, size_t n);

/* Parses the YAML text's documents, calling fn for each that is not empty (i: 1, 2, ...);
 * YAML syntax errors become diagnostics (*yaml_err then true). Returns the documents seen. */
typedef void (*spec__doc_fn)(spec__ctx *c, struct fy_node *root, size_t i, void *ud);
size_t spec__parse_documents(spec__ctx *c, const char *text, size_t len, spec__doc_fn fn, void *ud, bool *yaml_err);
/* Sorts the diagnostics from index from on by position (stable): file order. */
void spec__sort_diags(spec_diags *d, size_t from);
/* The whole file at path into b (initialised here; NUL-terminated; the caller frees it
 * with mp_buf_free), or MP_EINVAL with a "cannot read" diagnostic (b then holds nothing
 * to free). */
int spec__read_file(const char *path, mp_buf *b, spec_diags *diags);

/* ---- libfyaml node helpers (load.c) -------------------------------------------- */
/* The 1-based position of node n; fallback when libfyaml keeps none for it
 * (empty values, empty collections). */
spec_pos spec__pos(struct fy_node *n, spec_pos fallback);
/* Heap copy of a scalar's text. */
char *spec__scalar_dup(struct fy_node *n);
/* "string \"x\"", "integer 3", "mapping", "list", "null" — for type errors. */
char *spec__describe(struct fy_node *n);
bool spec__is_null(struct fy_node *n);
/* Scalar that is neither null nor a collection. */
bool spec__is_scalar(struct fy_node *n);

/* Typed getters: on a wrong type they add "field "PATH" must be ..., got ..." at
 * the node and return false. */
bool spec__get_str(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, char **out);
bool spec__get_int(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, long long min, long long max,
                   long long *out);
bool spec__get_number(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, double min, double *out);
/* A number from min to max ("must be a number from MIN to MAX, got ..."). */
bool spec__get_range(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, double min, double max,
                     double *out);
bool spec__get_bool(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, bool *out);
bool spec__expect(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, enum fy_node_type type);

/* Checks the keys of mapping m against known[] (NULL-terminated): each key that is
 * not a string or not known is one diagnostic, with a did-you-mean when one is
 * close; where names the mapping in the message ("in step \"train\""). */
void spec__check_keys(spec__ctx *c, struct fy_node *m, const char *const *known, const char *where);
/* The same with another noun than "field" ("unknown resource \"mem\" ..."). */
void spec__check_keys_as(spec__ctx *c, struct fy_node *m, const char *const *known, const char *noun,
                         const char *where);
/* Finds key in mapping m: returns true with its value (NULL for an empty value)
 * in *val and the key's position in *keypos. */
bool spec__lookup(struct fy_node *m, const char *key, struct fy_node **val, spec_pos *keypos);
/* The candidate closest to word when within edit distance 2, else NULL. */
const char *spec__closest(const char *word, const char *const *cands, size_t n);
/* "a, b, c" of a list of names, or "none". Heap string. */
char *spec__join(const char *const *names, size_t n);

/* DNS-label rule for names: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
bool spec__is_dns_label(const char *s);

/* Reads a string -> scalar mapping (null values are "") into a heap spec_kv array. */
void spec__decode_string_map(spec__ctx *c, struct fy_node *m, spec_pos at, const char *path, spec_kv **out,
                             size_t *n);
/* Reads a string that must be one of words[] (NULL-terminated): returns its index,
 * or -1 after a diagnostic (wrong type, or "must be one of ..."). */
int spec__get_enum(spec__ctx *c, struct fy_node *n, spec_pos at, const char *path, const char *const *words);
/* Opens a mapping-valued field: checks its type and keys (diagnostics "in PATH");
 * returns false when it is not a mapping. */
bool spec__open_map(spec__ctx *c, struct fy_node *m, spec_pos at, const char *path, const char *const *known);
void spec__meta_free(spec_meta *m);

/* ---- resources and taints (resources.c) ------------------------------------------ */
/* Reads a resource map (cpu, memory, gpu | nvidia.com/gpu, NAME/WITH-SLASH) into r.
 * where_keys words unknown names (in resources of step "a"), where the rest
 * (in step "a"). */
void spec__decode_resources(spec__ctx *c, struct fy_node *m, spec_pos at, const char *path, const char *where_keys,
                            const char *where, spec_resources *r);
void spec__resources_free(spec_resources *r);
/* True for a valid extended resource name: PREFIX/NAME with a DNS-subdomain prefix
 * and a name of [A-Za-z0-9._-] starting and ending alphanumeric. */
bool spec__is_extended_resource(const char *name);
/* Kubernetes label syntax: a key is NAME or PREFIX/NAME (PREFIX a DNS subdomain,
 * NAME 1-63 of [A-Za-z0-9._-] starting and ending alphanumeric); a value is
 * empty or like NAME. */
bool spec__is_label_key(const char *key);
bool spec__is_label_value(const char *value);
/* "NoSchedule", "PreferNoSchedule", "NoExecute": index + 1 is the spec_taint_effect. */
extern const char *const SPEC__EFFECTS[];
/* spec.taints: a list of {key, value, effect}. */
void spec__decode_taints(spec__ctx *c, struct fy_node *v, spec_pos at, const char *path, spec_taint **out,
                         size_t *n);
void spec__taints_free(spec_taint *t, size_t n);

/* ---- step scheduling fields (step_sched.c) --------------------------------------- */
typedef void (*spec__step_field_fn)(spec__ctx *c, spec_step *s, const char *where, struct fy_node *v, spec_pos kp,
                                    const char *path);
typedef struct spec__step_field {
    const char *name;
    spec__step_field_fn fn;
} spec__step_field;
extern const spec__step_field SPEC__SCHED_STEP_FIELDS[];
extern const size_t SPEC__NSCHED_STEP_FIELDS;
void spec__step_sched_free(spec_step *s);

/* ---- sweeps (sweep.c) -------------------------------------------------------------- */
/* The decoder of a step's `sweep:` field (an entry of SPEC__SCHED_STEP_FIELDS). */
void spec__decode_sweep(spec__ctx *c, spec_step *s, const char *where, struct fy_node *v, spec_pos kp,
                        const char *path);
/* The rules of a sweep that look outside its step: its params are the pipeline's,
 * its size is at most SPEC_SWEEP_MAX_TRIALS, earlyStopping has a metric and goal
 * (filling the defaults from the objective). */
void spec__validate_sweep(spec__ctx *c, const spec_pipeline *p, spec_step *s);
void spec__sweep_free(spec_sweep *sw);

/* ---- data expectations (expect.c) ----------------------------------------------- */
/* Decodes an expectations mapping (rows, columns; with_file: also the form
 * {expect: FILE}) at node m into x; diagnostics name fields after path. */
void spec__decode_expectations(spec__ctx *c, struct fy_node *m, spec_pos at, const char *path, bool with_file,
                               spec_expectations *x);

/* ---- kinds ------------------------------------------------------------------------ */
/* Decodes one document of a kind into o (o->kind and o->pos already set), taking
 * meta's contents (meta is left empty). spec is the `spec` value or NULL when the
 * document has none (only for kinds that do not require one). Returns false when
 * nothing was made (o untouched). */
typedef bool (*spec__kind_fn)(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                              spec_pos sp, spec_object *o);
bool spec__decode_priority_class(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp,
                                 struct fy_node *spec, spec_pos sp, spec_object *o);
bool spec__decode_node(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                       spec_pos sp, spec_object *o);
bool spec__decode_node_pool(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                            spec_pos sp, spec_object *o);
bool spec__decode_resource_flavor(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp,
                                  struct fy_node *spec, spec_pos sp, spec_object *o);
bool spec__decode_local_queue(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                              spec_pos sp, spec_object *o);
bool spec__decode_cluster_queue(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp,
                                struct fy_node *spec, spec_pos sp, spec_object *o);
bool spec__decode_retention(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                            spec_pos sp, spec_object *o);
bool spec__decode_monitor(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                          spec_pos sp, spec_object *o);
bool spec__decode_secret(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                         spec_pos sp, spec_object *o);
/* A step's env var env (taken) from valueFrom node vf ({secretKeyRef: {name, key}}), and
 * its secretFiles list; both add to s->secret_refs (secret.c). */
void spec__decode_secret_env(spec__ctx *c, spec_step *s, char *env, struct fy_node *vf, spec_pos at,
                             const char *path);
void spec__decode_secret_files(spec__ctx *c, spec_step *s, struct fy_node *v, spec_pos kp, const char *path);
void spec__secret_refs_free(spec_step *s);
bool spec__decode_deployment(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                             spec_pos sp, spec_object *o);
/* Role/ClusterRole and RoleBinding/ClusterRoleBinding (rbac.c), by o->kind. */
bool spec__decode_role(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                       spec_pos sp, spec_object *o);
bool spec__decode_role_binding(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp,
                               struct fy_node *spec, spec_pos sp, spec_object *o);
/* File-wide rules once every document is in: node names (Nodes and NodePool
 * members) are unique, at most one PriorityClass is globalDefault. */
void spec__validate_file(spec__ctx *c, const spec_file *f);
void spec__object_free(spec_object *o);

/* ---- stages --------------------------------------------------------------------- */
/* Decodes a Pipeline's spec node into p (meta already filled); aux gets one entry
 * per step (p->nsteps of them). */
void spec__decode_pipeline(spec__ctx *c, struct fy_node *spec, spec_pos at, spec_pipeline *p, spec__step_aux **aux);
/* Cross-field checks; completes each step's depends_on with implied dependencies. */
void spec__validate_pipeline(spec__ctx *c, spec_pipeline *p, spec__step_aux *aux);
/* The dependency graph of a pipeline by step index: deps of step i are
 * dep[dep_off[i] .. dep_off[i+1]), dependents likewise in rev. Self edges and
 * duplicates are dropped; names that match no step are counted in nunknown
 * (the first one is named in unknown). */
typedef struct spec__graph {
    size_t n;
    size_t *dep_off, *dep;
    size_t *rev_off, *rev;
    size_t nunknown;
    const char *unknown, *unknown_in; /* borrowed: the name and the step naming it */
    bool self;                        /* some step lists itself */
} spec__graph;
void spec__graph_build(const spec_pipeline *p, spec__graph *g);
void spec__graph_free(spec__graph *g);
/* Kahn's algorithm from the current done[] state: appends to order (at *placed)
 * every step whose dependencies all get done, lowest index first among the ready
 * ones, marking them done. */
void spec__graph_order(const spec__graph *g, bool *done, size_t *order, size_t *placed);
/* With some steps not done and none ready, finds a cycle among them: writes its
 * step indexes to cyc (each depends on the next, the last on the first), rotated
 * to start at the lowest index; returns its length. */
size_t spec__graph_cycle(const spec__graph *g, const bool *done, size_t *cyc);
/* "a -> b -> c -> a" for a cycle found above. */
void spec__cycle_text(const spec_pipeline *p, const size_t *cyc, size_t n, mp_buf *out);

void spec__pipeline_free(spec_pipeline *p);

#endif
