/* render_queue.c — the scheduler's objects on a cluster. With --kueue they are
 * Kueue's own (kueue.x-k8s.io/v1beta1 ResourceFlavor, ClusterQueue, LocalQueue:
 * mlplane's scheduler objects have Kueue's shapes, so every field carries
 * over). Without Kueue, a LocalQueue becomes a ResourceQuota (its
 * ClusterQueue's nominal quotas, summed over flavors) and a LimitRange (default
 * requests, so pods without any are counted) in its namespace; what plain
 * Kubernetes cannot express (cohorts, borrowing, lending, preemption, fair
 * sharing, flavors) is said on stderr. Reentrant. */
#include "k8s/k8s_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KUEUE_API "kueue.x-k8s.io/v1beta1"

static const char *reclaim_name(spec_reclaim_policy p) {
    return p == SPEC_RECLAIM_ANY ? "Any" : p == SPEC_RECLAIM_LOWER_PRIORITY ? "LowerPriority" : "Never";
}

static const char *within_name(spec_within_queue_policy p) {
    return p == SPEC_WITHIN_LOWER_OR_NEWER_EQUAL_PRIORITY ? "LowerOrNewerEqualPriority"
           : p == SPEC_WITHIN_LOWER_PRIORITY               ? "LowerPriority"
                                                           : "Never";
}

static void kueue_flavor(k8s__ctx *c, const spec_resource_flavor *rf) {
    json_t *o = k8s__object(KUEUE_API, "ResourceFlavor", rf->meta.name, NULL, k8s__labels(rf->meta.name, "queue"), NULL);
    json_t *sp = json_object();
    if (rf->nnode_labels) {
        json_t *nl = json_object();
        for (size_t i = 0; i < rf->nnode_labels; i++)
            json_object_set_new(nl, rf->node_labels[i].key, json_string(rf->node_labels[i].value));
        json_object_set_new(sp, "nodeLabels", nl);
    }
    json_object_set_new(o, "spec", sp);
    k8s__emit(c, o);
}

static void kueue_cluster_queue(k8s__ctx *c, const spec_cluster_queue *cq) {
    json_t *o = k8s__object(KUEUE_API, "ClusterQueue", cq->meta.name, NULL, k8s__labels(cq->meta.name, "queue"), NULL);
    json_t *sp = json_object();
    if (cq->cohort) json_object_set_new(sp, "cohort", json_string(cq->cohort));
    json_object_set_new(sp, "namespaceSelector", json_object()); /* LocalQueues of every namespace */
    json_t *groups = json_array();
    for (size_t g = 0; g < cq->ngroups; g++) {
        const spec_resource_group *rg = &cq->groups[g];
        json_t *cov = json_array();
        for (size_t i = 0; i < rg->ncovered; i++) json_array_append_new(cov, json_string(rg->covered[i]));
        json_t *fls = json_array();
        for (size_t f = 0; f < rg->nflavors; f++) {
            json_t *res = json_array();
            for (size_t r = 0; r < rg->flavors[f].nresources; r++) {
                const spec_resource_quota *q = &rg->flavors[f].resources[r];
                json_t *ro = json_object();
                json_object_set_new(ro, "name", json_string(q->name));
                json_object_set_new(ro, "nominalQuota", k8s__qty(q->name, q->nominal));
                if (q->has_borrowing_limit) json_object_set_new(ro, "borrowingLimit", k8s__qty(q->name, q->borrowing_limit));
                if (q->has_lending_limit) json_object_set_new(ro, "lendingLimit", k8s__qty(q->name, q->lending_limit));
                json_array_append_new(res, ro);
            }
            json_t *fo = json_object();
            json_object_set_new(fo, "name", json_string(rg->flavors[f].name));
            json_object_set_new(fo, "resources", res);
            json_array_append_new(fls, fo);
        }
        json_t *go = json_object();
        json_object_set_new(go, "coveredResources", cov);
        json_object_set_new(go, "flavors", fls);
        json_array_append_new(groups, go);
    }
    json_object_set_new(sp, "resourceGroups", groups);
    json_t *pre = json_object();
    json_object_set_new(pre, "reclaimWithinCohort", json_string(reclaim_name(cq->reclaim_within_cohort)));
    json_object_set_new(pre, "withinClusterQueue", json_string(within_name(cq->within_cluster_queue)));
    json_object_set_new(sp, "preemption", pre);
    char w[32];
    if (cq->fair_weight_milli % 1000 == 0) snprintf(w, sizeof w, "%lld", (long long)(cq->fair_weight_milli / 1000));
    else snprintf(w, sizeof w, "%lldm", (long long)cq->fair_weight_milli);
    json_object_set_new(sp, "fairSharing", json_pack("{s:s}", "weight", w));
    json_object_set_new(o, "spec", sp);
    k8s__emit(c, o);
}

static void kueue_local_queue(k8s__ctx *c, const spec_local_queue *lq) {
    json_t *o = k8s__object(KUEUE_API, "LocalQueue", lq->meta.name, k8s__namespace(c, &lq->meta),
                            k8s__labels(lq->meta.name, "queue"), NULL);
    json_object_set_new(o, "spec", json_pack("{s:s}", "clusterQueue", lq->cluster_queue));
    k8s__emit(c, o);
}

/* The ClusterQueue named name in any file being rendered, or NULL. */
static const spec_cluster_queue *find_cq(k8s__ctx *c, const char *name) {
    for (size_t i = 0; i < c->nfiles; i++) {
        const spec_object *so = spec_file_find(c->files[i], SPEC_KIND_CLUSTER_QUEUE, name);
        if (so) return so->u.cluster_queue;
    }
    return NULL;
}

/* Plain Kubernetes: the LocalQueue's namespace gets its ClusterQueue's quota. */
static void quota_local_queue(k8s__ctx *c, const spec_object *so) {
    const spec_local_queue *lq = so->u.local_queue;
    const spec_cluster_queue *cq = find_cq(c, lq->cluster_queue);
    const char *ns = k8s__namespace(c, &lq->meta);
    if (!cq) {
        k8s__note(c, so->pos, "LocalQueue %s: nothing rendered: its ClusterQueue %s is not in the files given",
                  lq->meta.name, lq->cluster_queue);
        return;
    }
    json_t *hard = json_object();
    for (size_t g = 0; g < cq->ngroups; g++)
        for (size_t i = 0; i < cq->groups[g].ncovered; i++) {
            const char *res = cq->groups[g].covered[i];
            int64_t sum = 0;
            for (size_t f = 0; f < cq->groups[g].nflavors; f++)
                for (size_t r = 0; r < cq->groups[g].flavors[f].nresources; r++)
                    if (strcmp(cq->groups[g].flavors[f].resources[r].name, res) == 0)
                        sum += cq->groups[g].flavors[f].resources[r].nominal;
            char key[200];
            snprintf(key, sizeof key, "requests.%s", res);
            json_object_set_new(hard, key, k8s__qty(res, sum));
        }
    json_t *o = k8s__object("v1", "ResourceQuota", lq->meta.name, ns, k8s__labels(lq->meta.name, "queue"),
                            json_pack("{s:s}", "mlplane.dev/cluster-queue", cq->meta.name));
    json_object_set_new(o, "spec", json_pack("{s:o}", "hard", hard));
    k8s__emit(c, o);
    /* pods without requests would not be admitted under a requests quota */
    json_t *lr = k8s__object("v1", "LimitRange", lq->meta.name, ns, k8s__labels(lq->meta.name, "queue"), NULL);
    json_object_set_new(lr, "spec",
                        json_pack("{s:[{s:s,s:{s:s,s:s}}]}", "limits", "type", "Container", "defaultRequest", "cpu",
                                  "100m", "memory", "128Mi"));
    k8s__emit(c, lr);
    if (cq->cohort)
        k8s__note(c, so->pos, "LocalQueue %s: ClusterQueue %s's cohort %s (borrowing, lending, reclaiming) has no "
                  "plain Kubernetes equivalent: namespace %s gets its nominal quota only (use --kueue)",
                  lq->meta.name, cq->meta.name, cq->cohort, ns);
    if (cq->within_cluster_queue != SPEC_WITHIN_NEVER)
        k8s__note(c, so->pos, "LocalQueue %s: preemption within ClusterQueue %s is left to PriorityClasses "
                  "(kube-scheduler's preemption), not to the queue (use --kueue)", lq->meta.name, cq->meta.name);
}

void k8s__render_queue(k8s__ctx *c, const spec_object *so) {
    if (c->o->kueue) {
        if (so->kind == SPEC_KIND_RESOURCE_FLAVOR) kueue_flavor(c, so->u.resource_flavor);
        else if (so->kind == SPEC_KIND_CLUSTER_QUEUE) kueue_cluster_queue(c, so->u.cluster_queue);
        else kueue_local_queue(c, so->u.local_queue);
        return;
    }
    if (so->kind == SPEC_KIND_LOCAL_QUEUE) {
        quota_local_queue(c, so);
    } else if (so->kind == SPEC_KIND_CLUSTER_QUEUE) {
        k8s__note(c, so->pos, "ClusterQueue %s: rendered as the ResourceQuota of each LocalQueue that names it "
                  "(use --kueue for Kueue's ClusterQueue)", so->u.cluster_queue->meta.name);
    } else {
        k8s__note(c, so->pos, "ResourceFlavor %s: nothing rendered: flavors are Kueue's (use --kueue); steps pick "
                  "nodes with nodeSelector", so->u.resource_flavor->meta.name);
    }
}
