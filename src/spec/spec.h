/* spec.h — mlplane's YAML documents turned into validated objects.
 *
 * A spec file holds one or more Kubernetes-style documents separated by `---`:
 *   apiVersion: mlplane.dev/v1
 *   kind: Pipeline
 *   metadata: {name: ..., namespace: default, labels: {...}}
 *   spec: {...}
 * Parsing (libfyaml) and validation collect every problem found, each with its
 * file:line:col, into a spec_diags list instead of stopping at the first one.
 * Objects are plain structs that own their heap strings; free them with the
 * matching *_free. Nothing here touches the store or runs anything.
 *
 * Templates: strings in a step's command, script, env values, workingDir and
 * inputs may hold {{params.NAME}}, {{steps.STEP.outputs.ARTIFACT}} and
 * {{inputs.NAME}} (and {{run.id}}, {{run.name}}); whitespace inside the braces is
 * allowed. A reference to another step's output also makes the step depend on it.
 * Thread-safety: functions are reentrant; objects are not shared between threads. */
#ifndef MLPLANE_SPEC_H
#define MLPLANE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define SPEC_API_VERSION "mlplane.dev/v1"

/* ---- diagnostics -------------------------------------------------------------- */
typedef struct spec_pos {
    int line; /* 1-based; 0 when unknown */
    int col;  /* 1-based */
} spec_pos;

typedef struct spec_diag {
    char *file; /* as given by the caller */
    spec_pos pos;
    char *msg; /* one sentence, no trailing newline */
} spec_diag;

typedef struct spec_diags {
    spec_diag *v;
    size_t n, cap;
} spec_diags;

void spec_diag_add(spec_diags *d, const char *file, spec_pos pos, const char *fmt, ...) MP_PRINTF(4, 5);
/* Writes each diagnostic as "FILE:LINE:COL: message\n" into out. */
void spec_diags_format(const spec_diags *d, mp_buf *out);
void spec_diags_free(spec_diags *d);

/* ---- quantities (Kubernetes resource.Quantity syntax) ------------------------- */
typedef enum spec_qty_kind {
    SPEC_QTY_CPU,    /* result in millicores: "500m" -> 500, "2" -> 2000, "0.1" -> 100 */
    SPEC_QTY_MEMORY, /* result in bytes, rounded up: "512Mi", "4G", "1e9", "1.5Gi" */
    SPEC_QTY_COUNT,  /* whole devices: "1", "2"; fractions are an error */
} spec_qty_kind;

/* Parses s exactly (integer arithmetic, no floating point). Suffixes: decimal
 * n u m "" k M G T P E, binary Ki Mi Gi Ti Pi Ei, and decimal exponents (e3, E-2).
 * Negative values, garbage and overflow are MP_EINVAL with a message saying why. */
int spec_parse_quantity(const char *s, spec_qty_kind kind, int64_t *out, mp_err *e);

/* ---- objects -------------------------------------------------------------------- */
typedef struct spec_kv {
    char *key;
    char *value;
    spec_pos pos; /* of the value */
} spec_kv;

typedef struct spec_artifact {
    char *name;
    /* outputs: path relative to the step's MLPLANE_OUTPUTS directory (default: name).
     * inputs: a file or directory, relative to the spec file's directory, or a template
     * such as "{{steps.split.outputs.train}}". */
    char *path;
    spec_pos pos;
} spec_artifact;

typedef struct spec_resources {
    int64_t cpu_milli;    /* 0 when not requested */
    int64_t memory_bytes; /* 0 when not requested */
    int64_t gpu;          /* nvidia.com/gpu (also accepted as `gpu`) */
} spec_resources;

typedef struct spec_step {
    char *name;
    char **command; /* argv (NULL-terminated) or NULL when script is used */
    size_t ncommand;
    char *script; /* run with /bin/sh -e -c, or NULL */
    char *image;  /* for Kubernetes; unused locally; may be NULL */
    spec_kv *env;
    size_t nenv;
    char *working_dir; /* may be NULL */
    /* All dependencies after validation: explicit dependsOn plus those implied by
     * {{steps.X...}} references, deduplicated, in first-seen order. */
    char **depends_on;
    size_t ndepends;
    spec_artifact *inputs;
    size_t ninputs;
    spec_artifact *outputs;
    size_t noutputs;
    spec_resources resources;
    int retry_limit;          /* retries after the first attempt; 0 = none */
    double backoff_seconds;   /* first retry delay; doubles each retry; default 1 */
    int timeout_seconds;      /* 0 = no timeout */
    bool cache;
    /* register: {model: NAME, artifact: OUTPUT}: after success, the output becomes a
     * new version of registered model NAME (NULL when absent). */
    char *register_model;
    char *register_artifact;
    spec_pos pos; /* of the step's mapping */
} spec_step;

typedef struct spec_meta {
    char *name;
    char *namespace_; /* default "default" */
    spec_kv *labels;
    size_t nlabels;
} spec_meta;

typedef struct spec_pipeline {
    spec_meta meta;
    spec_kv *params; /* name -> default value (scalars kept as their text) */
    size_t nparams;
    spec_step *steps;
    size_t nsteps;
} spec_pipeline;

typedef enum spec_kind {
    SPEC_KIND_PIPELINE = 1,
} spec_kind;

typedef struct spec_object {
    spec_kind kind;
    spec_pos pos; /* of the document's root */
    union {
        spec_pipeline *pipeline;
    } u;
} spec_object;

typedef struct spec_file {
    char *path; /* as given */
    char *dir;  /* absolute directory of the file, for relative input paths */
    spec_object *objs;
    size_t nobjs;
} spec_file;

/* Parses and validates every document in the file at path. On success returns 0
 * and *out (caller frees with spec_file_free). When anything is wrong returns
 * MP_EINVAL, *out is NULL, and every problem found is in diags (caller frees);
 * an unreadable file is one diagnostic too. */
int spec_load_file(const char *path, spec_file **out, spec_diags *diags);
/* The same over text already in memory; name is used in diagnostics and dir
 * for relative paths. */
int spec_load_string(const char *name, const char *dir, const char *text, size_t len, spec_file **out,
                     spec_diags *diags);
void spec_file_free(spec_file *f);

/* The first Pipeline in f, or NULL. */
const spec_pipeline *spec_file_pipeline(const spec_file *f);
/* The step named name, or NULL. */
const spec_step *spec_pipeline_step(const spec_pipeline *p, const char *name);
/* Index of the step named name, or -1. */
int spec_pipeline_step_index(const spec_pipeline *p, const char *name);

/* Fills order[0..nsteps) with step indexes so that each step comes after all its
 * dependencies, keeping file order among independent steps. Returns 0, or
 * MP_EINVAL (naming the steps of a cycle) — which validation already rules out. */
int spec_pipeline_topo_order(const spec_pipeline *p, size_t *order, mp_err *e);

/* Applies "-p name=value" overrides to a copy of the params: returns a heap array
 * of nparams spec_kv (caller frees with spec_kv_array_free). An override naming
 * an unknown param, or without '=', is MP_EINVAL saying which and listing the
 * known ones. */
int spec_resolve_params(const spec_pipeline *p, const char *const *overrides, size_t noverrides, spec_kv **out,
                        mp_err *e);
void spec_kv_array_free(spec_kv *kv, size_t n);

/* ---- templates ------------------------------------------------------------------ */
/* Called for each {{ ref }} with the trimmed ref ("params.lr", "steps.a.outputs.b",
 * "inputs.x", "run.id"); returns the value (borrowed) or NULL when unknown. */
typedef const char *(*spec_lookup_fn)(void *ud, const char *ref);

/* Renders tmpl, replacing every {{ ref }} through lookup. Returns 0 and a heap
 * string in *out (caller frees), or MP_EINVAL naming the unresolvable reference
 * or an unterminated "{{". */
int spec_render(const char *tmpl, spec_lookup_fn lookup, void *ud, char **out, mp_err *e);

/* Calls fn for each {{ ref }} in tmpl with the trimmed ref and its byte offset.
 * Returns 0, or MP_EINVAL at an unterminated "{{" (offset in e's message). */
typedef void (*spec_ref_fn)(void *ud, const char *ref, size_t offset);
int spec_template_refs(const char *tmpl, spec_ref_fn fn, void *ud, mp_err *e);

#endif
