/* k8s_int.h — internals shared by the files of src/k8s/ (not a public header):
 * the rendering context, object scaffolding (render.c), pipeline steps as Jobs
 * (render_job.c), queues (render_queue.c) and serving (render_serve.c). */
#ifndef MLPLANE_K8S_INT_H
#define MLPLANE_K8S_INT_H

#include "k8s/k8s.h"
#include "sched/sched.h"

#define K8S__STEP_SA "mlplane-step" /* the ServiceAccount steps run as */

typedef struct k8s__ctx {
    const k8s_opts *o;
    const spec_file *f; /* the file being rendered */
    const spec_file *const *files; /* all of them (references between files) */
    size_t nfiles;
    k8s_notes *notes;
    spec_diags *d;
    json_t *out; /* the objects so far */
    bool failed;
} k8s__ctx;

/* A note (stderr) or a problem (exit 2, nothing printed), at pos of the file. */
void k8s__note(k8s__ctx *c, spec_pos pos, const char *fmt, ...) MP_PRINTF(3, 4);
void k8s__fail(k8s__ctx *c, spec_pos pos, const char *fmt, ...) MP_PRINTF(3, 4);
/* A quantity of resource name (in spec units: millicores, bytes, counts) as
 * Kubernetes writes it ("500m", "2", "512Mi"). */
json_t *k8s__qty(const char *name, int64_t v);
/* The app.kubernetes.io labels every object carries (a new object). */
json_t *k8s__labels(const char *name, const char *component);
/* {apiVersion, kind, metadata: {name, namespace, labels, annotations}}; takes
 * labels and annotations (either may be NULL; empty annotations are dropped). */
json_t *k8s__object(const char *api_version, const char *kind, const char *name, const char *ns, json_t *labels,
                    json_t *annotations);
/* The namespace of a namespaced object: -n, else its own, else "default". */
const char *k8s__namespace(const k8s__ctx *c, const spec_meta *m);
void k8s__emit(k8s__ctx *c, json_t *obj);
void k8s__service_account(k8s__ctx *c, const char *ns);
bool k8s__dns_subdomain(const char *s);

/* render_job.c: the pod security every mlplane pod runs under (non-root uid
 * 10001, seccomp RuntimeDefault; no privilege escalation, no capabilities, a
 * read-only root filesystem), and a volumeMount (new objects). */
json_t *k8s__pod_security(void);
json_t *k8s__container_security(void);
json_t *k8s__mount(const char *name, const char *path, bool ro);
/* render_job.c: every step of p as a Job (a sweep's trials one each, a gang an
 * Indexed Job with its headless Service). */
void k8s__render_pipeline(k8s__ctx *c, const spec_pipeline *p);
/* render_queue.c: a ResourceFlavor, ClusterQueue or LocalQueue. */
void k8s__render_queue(k8s__ctx *c, const spec_object *so);
/* render_serve.c: a serving Deployment (per-version Deployments behind mlplane's
 * router, or a KServe InferenceService with --kserve). */
void k8s__render_deployment(k8s__ctx *c, const spec_deployment *d);

#endif
