/* k8s.h — mlplane objects as the Kubernetes objects a platform team would write
 * by hand (`mlplane k8s render`), and later the API client that submits and
 * watches them.
 *
 * Rendering is a pure function of the spec files and the options: the same
 * input gives the same objects in the same order with the same keys (no
 * timestamps, no random names), so the output can be committed and diffed.
 * What each kind becomes, and how a step's artifacts travel on a cluster, is in
 * docs/kubernetes-render.md.
 *
 * Objects are built as jansson values whose keys are inserted in a fixed order
 * (apiVersion, kind, metadata, spec, ... as kubectl prints them); callers print
 * them with JSON_PRESERVE_ORDER. Reentrant; no state. */
#ifndef MLPLANE_K8S_H
#define MLPLANE_K8S_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "spec/spec.h"
#include "util/util.h"

/* The image steps run in when they name none, and the launcher's: the one this
 * repository's Dockerfile builds at this version. */
#define K8S_DEFAULT_IMAGE "ghcr.io/mlplane/mlplane:" MLPLANE_VERSION
/* How pods reach mlplane server when --server is not given: the Service that
 * deploy/base creates. */
#define K8S_DEFAULT_SERVER "http://mlplane.mlplane.svc.cluster.local:5000"

/* Where KEDA's prometheus triggers query the router's metrics when --prometheus
 * is not given: the prometheus-community chart's Service, installed as
 * "prometheus" in namespace "monitoring". */
#define K8S_DEFAULT_PROMETHEUS "http://prometheus-server.monitoring.svc.cluster.local"

typedef struct k8s_opts {
    const char *namespace_; /* -n: every namespaced object's namespace; NULL: the object's own */
    const char *image;      /* --image: steps without an image, and the launcher; NULL: K8S_DEFAULT_IMAGE */
    const char *server;     /* --server: what the launcher talks to; NULL: K8S_DEFAULT_SERVER */
    bool kueue;             /* Jobs suspended with kueue.x-k8s.io/queue-name; queues as Kueue objects */
    bool keda;              /* serving: a KEDA ScaledObject instead of an HPA */
    bool kserve;            /* serving: a KServe InferenceService */
    const char *prometheus; /* --prometheus: KEDA's serverAddress; NULL: K8S_DEFAULT_PROMETHEUS */
} k8s_opts;

/* A note about an object that renders to nothing (a Node: the cluster has its
 * own) or to less than it says: "FILE:LINE:COL: KIND NAME: why". */
typedef struct k8s_notes {
    char **v;
    size_t n;
} k8s_notes;
void k8s_notes_free(k8s_notes *n);

/* Renders every object of files[0..nfiles) in file and document order. On
 * success returns 0 and *out, a new JSON array of Kubernetes objects (caller
 * decrefs), with notes for what was not rendered. When an object cannot be
 * rendered (a name that is no DNS-1123 label after prefixing, a gang larger than
 * Kubernetes allows, ...) returns MP_EINVAL with every problem in d
 * (FILE:LINE:COL and the field), *out NULL: no partial output. */
int k8s_render(const spec_file *const *files, size_t nfiles, const k8s_opts *o, json_t **out, k8s_notes *notes,
               spec_diags *d);

/* The file name --out DIR gives an object: "KIND-NAME.yaml" in lower case
 * (heap). */
char *k8s_object_file_name(const json_t *obj);

/* Whether s is a DNS-1123 label: 1..63 of [a-z0-9-], starting and ending
 * alphanumeric. */
bool k8s_dns_label(const char *s);

#endif
