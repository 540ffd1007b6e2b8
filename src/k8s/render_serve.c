/* render_serve.c — a serving Deployment (kind: Deployment, docs/serving-rollout.md)
 * as the objects that serve it on a cluster.
 *
 * Plain Kubernetes (no mesh, no KServe): one apps/v1 Deployment and ClusterIP
 * Service per version (stable, canary, shadow), NAME-vN or NAME-ALIAS, running
 * `mlplane serve models:/MODEL/N --server URL`, which downloads the version's model
 * into the emptyDir /mlplane/model and answers OIP v2 on port 8080; in front of
 * them a router Deployment NAME (`mlplane route`, two replicas) and the Service
 * NAME that clients use. The router splits the requests exactly (a canary at 10%
 * gets 10% of the requests, whatever the replica counts), copies a sample to the
 * shadow and keeps a sticky header's requests on one version, as embedded mode
 * does. Each version autoscales on its own: an autoscaling/v2 HPA on the pods'
 * mlplane_serve_inflight (or requests per second, via a custom-metrics adapter),
 * or with --keda a KEDA ScaledObject over the router's per-version metrics, which
 * can scale a version to zero and back (the router holds a request until a pod
 * of its version is ready). A PodDisruptionBudget per Deployment allows one pod
 * down at a time, so it never blocks a drain.
 *
 * --kserve: one KServe InferenceService instead (xgboost, protocol v2, the
 * model's file at mlplane server's registry endpoint), with KServe's canary
 * rollout; what KServe cannot express is said on stderr.
 *
 * Reentrant; every object built here is new and handed to the context. */
#include "k8s/k8s_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PORT 8080
#define MODEL_DIR "/mlplane/model"
#define ROUTER_REPLICAS 2
/* How long the router holds a request for a version scaled to zero: KEDA's
 * polling, scheduling, the image pull and the model's download. */
#define READY_TIMEOUT_S 300
#define KEDA_POLLING_S 15
#define RPS_METRIC "mlplane_serve_requests_per_second"

/* One version Deployment: the stable, canary or shadow target. */
typedef struct ver {
    const spec_model_version *mv;
    const char *field; /* "spec.model", "spec.canary", "spec.shadow" */
    char label[300];   /* the version label and the router's VERSION=: "1" or the alias */
    char *name;        /* NAME-vN or NAME-ALIAS (heap) */
    bool dup;          /* the same version as an earlier one: rendered once */
} ver;

typedef struct serve_ctx {
    k8s__ctx *c;
    const spec_deployment *d;
    const char *ns;
    const char *image, *server;
    ver v[3];
    int nv;
    int canary, shadow; /* indexes into v, or -1 */
} serve_ctx;

/* ---- names and labels --------------------------------------------------------------- */

/* A Service name: 1..63 of [a-z0-9-], a letter first, alphanumeric last. */
static bool dns1035(const char *s) { return k8s_dns_label(s) && s[0] >= 'a' && s[0] <= 'z'; }

static json_t *labels(serve_ctx *sc, const char *name, const char *component, const ver *v) {
    json_t *l = k8s__labels(name, component);
    json_object_set_new(l, "mlplane.dev/deployment", json_string(sc->d->meta.name));
    if (v) json_object_set_new(l, "mlplane.dev/version", json_string(v->label));
    for (size_t i = 0; i < sc->d->meta.nlabels; i++) /* the deployment's own, never over mlplane's */
        if (!json_object_get(l, sc->d->meta.labels[i].key))
            json_object_set_new(l, sc->d->meta.labels[i].key, json_string(sc->d->meta.labels[i].value));
    return l;
}

/* What a version's (or, v NULL, the router's) Service and budgets select: stable
 * labels that no other pod of the deployment carries. */
static json_t *selector(serve_ctx *sc, const ver *v) {
    json_t *s = json_object();
    json_object_set_new(s, "mlplane.dev/deployment", json_string(sc->d->meta.name));
    if (v) json_object_set_new(s, "mlplane.dev/version", json_string(v->label));
    else json_object_set_new(s, "app.kubernetes.io/component", json_string("router"));
    return s;
}

/* A target per replica as a Kubernetes quantity ("8", "500m"). */
static json_t *qty_of(double x) {
    double r = round(x);
    if (fabs(x - r) < 1e-9) return json_sprintf("%lld", (long long)r);
    return json_sprintf("%lldm", (long long)ceil(x * 1000.0 - 1e-6));
}

/* s with every byte outside RFC 3986's unreserved set percent-encoded (heap). */
static char *url_path_escape(const char *s) {
    mp_buf b;
    mp_buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            mp_buf_printf(&b, "%c", *p);
        else
            mp_buf_printf(&b, "%%%02X", *p);
    }
    char *out = mp_xstrdup(b.data ? b.data : "");
    mp_buf_free(&b);
    return out;
}

/* The model's file at mlplane server's registry (heap). */
static char *storage_uri(serve_ctx *sc, const spec_model_version *mv) {
    char *m = url_path_escape(sc->d->model);
    char *u;
    if (mv->alias) {
        char *a = url_path_escape(mv->alias);
        u = mp_xasprintf("%s/api/v1/models/%s/aliases/%s/model.json", sc->server, m, a);
        free(a);
    } else {
        u = mp_xasprintf("%s/api/v1/models/%s/versions/%lld/model.json", sc->server, m, (long long)mv->version);
    }
    free(m);
    return u;
}

/* Adds a version Deployment; false (recorded) when its name is no Service name. */
static bool add_version(serve_ctx *sc, const spec_model_version *mv, const char *field) {
    ver *v = &sc->v[sc->nv++];
    v->mv = mv;
    v->field = field;
    if (mv->alias) snprintf(v->label, sizeof v->label, "%s", mv->alias);
    else snprintf(v->label, sizeof v->label, "%lld", (long long)mv->version);
    v->name = mv->alias ? mp_xasprintf("%s-%s", sc->d->meta.name, mv->alias)
                        : mp_xasprintf("%s-v%lld", sc->d->meta.name, (long long)mv->version);
    for (int i = 0; i < sc->nv - 1; i++)
        if (strcmp(sc->v[i].name, v->name) == 0) v->dup = true;
    if (sc->c->o->kserve || dns1035(v->name)) return true; /* KServe names its own */
    k8s__fail(sc->c, mv->pos,
              "%s.%s: the Deployment and Service name \"%s\" (deployment name, %s) is not a DNS-1035 label "
              "(at most 63 lower-case letters, digits and '-', a letter first); %s",
              field, mv->alias ? "alias" : "version", v->name, mv->alias ? "alias" : "version",
              mv->alias ? "use a lower-case alias or a version number" : "shorten the deployment's name");
    return false;
}

/* ---- pods --------------------------------------------------------------------------- */

static json_t *probe(const char *path, int period, int failures) {
    json_t *p = json_object();
    json_object_set_new(p, "httpGet", json_pack("{s:s,s:s}", "path", path, "port", "http"));
    json_object_set_new(p, "periodSeconds", json_integer(period));
    json_object_set_new(p, "timeoutSeconds", json_integer(2));
    json_object_set_new(p, "failureThreshold", json_integer(failures));
    return p;
}

/* The serving container's ports, probes, mounts and security (added to ct). A
 * startupProbe of 10 minutes covers the model's download; readiness then takes
 * a pod out of its Service within 15 s, liveness restarts it after 30 s. ready
 * is the path that says the pod may take traffic: /v2/health/ready, except for
 * a router whose stable version may have no pod at all (KEDA, min 0), which
 * must take requests and hold them while that version scales up from zero: its
 * own liveness then says it is ready. */
static void container_rest(json_t *ct, const char *ready) {
    json_object_set_new(ct, "ports", json_pack("[{s:s,s:i,s:s}]", "name", "http", "containerPort", PORT, "protocol", "TCP"));
    json_object_set_new(ct, "startupProbe", probe(ready, 5, 120));
    json_object_set_new(ct, "readinessProbe", probe(ready, 5, 3));
    json_object_set_new(ct, "livenessProbe", probe("/v2/health/live", 10, 3));
}

static json_t *pod_spec(json_t *ct, bool model_dir) {
    json_t *ps = json_object();
    json_object_set_new(ps, "serviceAccountName", json_string(K8S__STEP_SA));
    json_object_set_new(ps, "automountServiceAccountToken", json_false()); /* they talk to mlplane, not the API */
    json_object_set_new(ps, "securityContext", k8s__pod_security());
    json_object_set_new(ps, "terminationGracePeriodSeconds", json_integer(30));
    json_t *mounts = json_array();
    if (model_dir) json_array_append_new(mounts, k8s__mount("model", MODEL_DIR, false));
    json_array_append_new(mounts, k8s__mount("tmp", "/tmp", false));
    json_object_set_new(ct, "volumeMounts", mounts);
    json_object_set_new(ct, "securityContext", k8s__container_security());
    json_object_set_new(ps, "containers", json_pack("[o]", ct));
    json_t *vols = json_array();
    if (model_dir) json_array_append_new(vols, json_pack("{s:s,s:{}}", "name", "model", "emptyDir"));
    json_array_append_new(vols, json_pack("{s:s,s:{}}", "name", "tmp", "emptyDir"));
    json_object_set_new(ps, "volumes", vols);
    return ps;
}

static json_t *version_pod(serve_ctx *sc, const ver *v) {
    char *ref = v->mv->alias ? mp_xasprintf("models:/%s@%s", sc->d->model, v->mv->alias)
                             : mp_xasprintf("models:/%s/%lld", sc->d->model, (long long)v->mv->version);
    json_t *ct = json_object();
    json_object_set_new(ct, "name", json_string("serve"));
    json_object_set_new(ct, "image", json_string(sc->image));
    json_object_set_new(ct, "command", json_pack("[s,s,s,s,s,s,s,s,s]", "mlplane", "serve", ref, "--server", sc->server,
                                                 "--model-dir", MODEL_DIR, "--listen", "0.0.0.0:8080"));
    free(ref);
    container_rest(ct, "/v2/health/ready");
    return pod_spec(ct, true);
}

static bool may_be_zero(serve_ctx *sc) { return sc->c->o->keda && sc->d->min_replicas == 0; }

static void url_arg(json_t *cmd, const char *flag, const ver *v) {
    json_array_append_new(cmd, json_string(flag));
    json_array_append_new(cmd, json_sprintf("%s=http://%s:%d", v->label, v->name, PORT));
}

static json_t *router_pod(serve_ctx *sc) {
    const spec_deployment *d = sc->d;
    json_t *cmd = json_pack("[s,s,s,s,s]", "mlplane", "route", d->meta.name, "--listen", "0.0.0.0:8080");
    url_arg(cmd, "--stable", &sc->v[0]);
    if (sc->canary >= 0) {
        url_arg(cmd, "--canary", &sc->v[sc->canary]);
        json_array_append_new(cmd, json_string("--canary-percent"));
        json_array_append_new(cmd, json_sprintf("%d", d->canary.percent));
    }
    if (sc->shadow >= 0) {
        url_arg(cmd, "--shadow", &sc->v[sc->shadow]);
        json_array_append_new(cmd, json_string("--shadow-rate"));
        json_array_append_new(cmd, json_sprintf("%g", d->shadow.sample_rate));
    }
    if (d->sticky_header) {
        json_array_append_new(cmd, json_string("--sticky-header"));
        json_array_append_new(cmd, json_string(d->sticky_header));
    }
    if (may_be_zero(sc)) {
        json_array_append_new(cmd, json_string("--ready-timeout"));
        json_array_append_new(cmd, json_sprintf("%d", READY_TIMEOUT_S));
    }
    json_t *ct = json_object();
    json_object_set_new(ct, "name", json_string("router"));
    json_object_set_new(ct, "image", json_string(sc->image));
    json_object_set_new(ct, "command", cmd);
    container_rest(ct, may_be_zero(sc) ? "/v2/health/live" : "/v2/health/ready");
    return pod_spec(ct, false);
}

/* ---- objects ------------------------------------------------------------------------ */

static json_t *scrape_annotations(void) {
    return json_pack("{s:s,s:s,s:s}", "prometheus.io/scrape", "true", "prometheus.io/port", "8080", "prometheus.io/path",
                     "/metrics");
}

/* replicas < 0: left to the autoscaler (so that applying the file again does not
 * reset what it chose). */
static void deployment(serve_ctx *sc, const char *name, const char *component, const ver *v, int replicas, json_t *ps) {
    json_t *o = k8s__object("apps/v1", "Deployment", name, sc->ns, labels(sc, name, component, v), NULL);
    json_t *sp = json_object();
    if (replicas >= 0) json_object_set_new(sp, "replicas", json_integer(replicas));
    json_object_set_new(sp, "revisionHistoryLimit", json_integer(3));
    json_object_set_new(sp, "selector", json_pack("{s:o}", "matchLabels", selector(sc, v)));
    /* a new pod is ready before an old one goes: no capacity lost in a rollout */
    json_object_set_new(sp, "strategy", json_pack("{s:s,s:{s:i,s:i}}", "type", "RollingUpdate", "rollingUpdate",
                                                  "maxSurge", 1, "maxUnavailable", 0));
    json_t *tm = json_object();
    json_object_set_new(tm, "labels", labels(sc, name, component, v));
    json_object_set_new(tm, "annotations", scrape_annotations());
    json_object_set_new(sp, "template", json_pack("{s:o,s:o}", "metadata", tm, "spec", ps));
    json_object_set_new(o, "spec", sp);
    k8s__emit(sc->c, o);
}

static void service(serve_ctx *sc, const char *name, const char *component, const ver *v) {
    json_t *o = k8s__object("v1", "Service", name, sc->ns, labels(sc, name, component, v), NULL);
    json_t *sp = json_object();
    json_object_set_new(sp, "type", json_string("ClusterIP"));
    json_object_set_new(sp, "selector", selector(sc, v));
    json_object_set_new(sp, "ports", json_pack("[{s:s,s:i,s:s,s:s}]", "name", "http", "port", PORT, "targetPort", "http",
                                               "protocol", "TCP"));
    json_object_set_new(o, "spec", sp);
    k8s__emit(sc->c, o);
}

/* One pod down at a time: a drain proceeds, and a Deployment scaled to zero has
 * nothing to protect. */
static void pdb(serve_ctx *sc, const char *name, const char *component, const ver *v) {
    json_t *o = k8s__object("policy/v1", "PodDisruptionBudget", name, sc->ns, labels(sc, name, component, v), NULL);
    json_t *sp = json_object();
    json_object_set_new(sp, "maxUnavailable", json_integer(1));
    json_object_set_new(sp, "selector", json_pack("{s:o}", "matchLabels", selector(sc, v)));
    json_object_set_new(o, "spec", sp);
    k8s__emit(sc->c, o);
}

static json_t *behavior(const spec_autoscale *a) {
    return json_pack("{s:{s:i},s:{s:i}}", "scaleUp", "stabilizationWindowSeconds", a->scale_up_window_s, "scaleDown",
                     "stabilizationWindowSeconds", a->scale_down_window_s);
}

static json_t *scale_target(const char *name) {
    return json_pack("{s:s,s:s,s:s}", "apiVersion", "apps/v1", "kind", "Deployment", "name", name);
}

static void hpa(serve_ctx *sc, const ver *v) {
    const spec_deployment *d = sc->d;
    json_t *o = k8s__object("autoscaling/v2", "HorizontalPodAutoscaler", v->name, sc->ns,
                            labels(sc, v->name, "model", v), NULL);
    json_t *sp = json_object();
    json_object_set_new(sp, "scaleTargetRef", scale_target(v->name));
    json_object_set_new(sp, "minReplicas", json_integer(d->min_replicas > 0 ? d->min_replicas : 1));
    json_object_set_new(sp, "maxReplicas", json_integer(d->max_replicas));
    const char *metric = d->autoscale.metric == SPEC_SCALE_RPS ? RPS_METRIC : "mlplane_serve_inflight";
    json_t *m = json_pack("{s:s,s:{s:{s:s},s:{s:s,s:o}}}", "type", "Pods", "pods", "metric", "name", metric, "target",
                          "type", "AverageValue", "averageValue", qty_of(d->autoscale.target));
    json_object_set_new(sp, "metrics", json_pack("[o]", m));
    json_object_set_new(sp, "behavior", behavior(&d->autoscale));
    json_object_set_new(o, "spec", sp);
    k8s__emit(sc->c, o);
}

/* The router's per-version series: the router's pods are NAME-HASH-ID, which a
 * version's own pods (NAME-vN-HASH-ID, which count their requests too) are not. */
static char *router_series(serve_ctx *sc, const char *metric, const ver *v) {
    return mp_xasprintf("%s{namespace=\"%s\",pod=~\"%s-[a-z0-9]+-[a-z0-9]+\",version=\"%s\"}", metric, sc->ns,
                        sc->d->meta.name, v->label);
}

static void scaled_object(serve_ctx *sc, const ver *v) {
    const spec_deployment *d = sc->d;
    /* without autoscale a ScaledObject only scales 0 <-> 1 on idleness */
    spec_autoscale a = d->autoscale.set ? d->autoscale
                                        : (spec_autoscale){.metric = SPEC_SCALE_CONCURRENCY, .target = 1,
                                                           .scale_down_window_s = 300};
    json_t *o = k8s__object("keda.sh/v1alpha1", "ScaledObject", v->name, sc->ns, labels(sc, v->name, "model", v), NULL);
    json_t *sp = json_object();
    json_object_set_new(sp, "scaleTargetRef", scale_target(v->name));
    json_object_set_new(sp, "pollingInterval", json_integer(KEDA_POLLING_S));
    if (d->min_replicas == 0 && d->scale_to_zero_after_s > 0)
        json_object_set_new(sp, "cooldownPeriod", json_integer(d->scale_to_zero_after_s));
    json_object_set_new(sp, "minReplicaCount", json_integer(d->min_replicas));
    json_object_set_new(sp, "maxReplicaCount", json_integer(d->max_replicas));
    json_object_set_new(sp, "advanced", json_pack("{s:{s:o}}", "horizontalPodAutoscalerConfig", "behavior", behavior(&a)));
    char *q;
    if (a.metric == SPEC_SCALE_RPS) {
        char *s = router_series(sc, "mlplane_serve_requests_total", v);
        q = mp_xasprintf("sum(rate(%s[1m]))", s);
        free(s);
    } else { /* held requests count: one wakes a version scaled to zero */
        char *i = router_series(sc, "mlplane_serve_inflight", v), *w = router_series(sc, "mlplane_serve_waiting", v);
        q = mp_xasprintf("(sum(%s) or vector(0)) + (sum(%s) or vector(0))", i, w);
        free(i);
        free(w);
    }
    json_t *md = json_object();
    json_object_set_new(md, "serverAddress", json_string(sc->c->o->prometheus ? sc->c->o->prometheus : K8S_DEFAULT_PROMETHEUS));
    json_object_set_new(md, "query", json_string(q));
    free(q);
    json_object_set_new(md, "threshold", json_sprintf("%g", a.target));
    json_object_set_new(md, "activationThreshold", json_string("0"));
    json_t *trig = json_object();
    json_object_set_new(trig, "type", json_string("prometheus"));
    json_object_set_new(trig, "metricType", json_string("AverageValue"));
    json_object_set_new(trig, "metadata", md);
    json_object_set_new(sp, "triggers", json_pack("[o]", trig));
    json_object_set_new(o, "spec", sp);
    k8s__emit(sc->c, o);
}

/* ---- plain Kubernetes ---------------------------------------------------------------- */

static void render_version(serve_ctx *sc, const ver *v) {
    const spec_deployment *d = sc->d;
    bool keda = sc->c->o->keda && (d->autoscale.set || d->min_replicas == 0);
    bool scaled = keda || d->autoscale.set;
    deployment(sc, v->name, "model", v, scaled ? -1 : (d->min_replicas > 0 ? d->min_replicas : 1), version_pod(sc, v));
    service(sc, v->name, "model", v);
    if (keda) scaled_object(sc, v);
    else if (d->autoscale.set) hpa(sc, v);
    pdb(sc, v->name, "model", v);
}

static void notes_plain(serve_ctx *sc, spec_pos pos) {
    const spec_deployment *d = sc->d;
    k8s__ctx *c = sc->c;
    const char *n = d->meta.name;
    if (!c->o->keda && d->min_replicas == 0)
        k8s__note(c, pos, "Deployment %s: replicas.min 0 renders as 1 (an HPA cannot scale to zero, nor does a plain "
                  "Deployment on idleness); render with --keda for a ScaledObject that scales each version to zero "
                  "and back", n);
    if (!c->o->keda && d->autoscale.set)
        k8s__note(c, pos, "Deployment %s: the HorizontalPodAutoscalers read the Pods metric %s, which needs a "
                  "custom-metrics adapter such as prometheus-adapter serving it from the pods' /metrics "
                  "(docs/kubernetes-render.md has the rule)", n,
                  d->autoscale.metric == SPEC_SCALE_RPS ? RPS_METRIC : "mlplane_serve_inflight");
    if (c->o->keda && (d->autoscale.set || d->min_replicas == 0))
        k8s__note(c, pos, "Deployment %s: the ScaledObjects query Prometheus at %s for the router pods' per-version "
                  "metrics (scraped by their prometheus.io annotations); --prometheus URL names another", n,
                  c->o->prometheus ? c->o->prometheus : K8S_DEFAULT_PROMETHEUS);
    if (d->request_log.sample_rate > 0)
        k8s__note(c, pos, "Deployment %s: spec.requestLog (sampleRate %g) is not carried: `mlplane route` takes no "
                  "request-log option, so nothing is logged on a cluster; read the router's /metrics instead", n,
                  d->request_log.sample_rate);
    if (d->listen)
        k8s__note(c, pos, "Deployment %s: spec.listen %s is ignored on a cluster: clients use the Service %s.%s:%d",
                  n, d->listen, n, sc->ns, PORT);
}

static void render_plain(serve_ctx *sc) {
    k8s__service_account(sc->c, sc->ns);
    for (int i = 0; i < sc->nv; i++)
        if (!sc->v[i].dup) render_version(sc, &sc->v[i]);
    const char *n = sc->d->meta.name;
    deployment(sc, n, "router", NULL, ROUTER_REPLICAS, router_pod(sc));
    service(sc, n, "router", NULL);
    pdb(sc, n, "router", NULL);
}

/* ---- KServe ------------------------------------------------------------------------- */

static void render_kserve(serve_ctx *sc, spec_pos pos) {
    const spec_deployment *d = sc->d;
    k8s__ctx *c = sc->c;
    const char *n = d->meta.name;
    json_t *ann = json_object();
    char *stable = storage_uri(sc, &d->version);
    if (sc->canary >= 0) json_object_set_new(ann, "mlplane.dev/stable-storage-uri", json_string(stable));
    if (d->min_replicas == 0 && d->scale_to_zero_after_s > 0)
        json_object_set_new(ann, "autoscaling.knative.dev/scale-to-zero-pod-retention-period",
                            json_sprintf("%ds", d->scale_to_zero_after_s));
    json_t *o = k8s__object("serving.kserve.io/v1beta1", "InferenceService", n, sc->ns, labels(sc, n, "model", NULL), ann);
    json_t *p = json_object();
    json_object_set_new(p, "minReplicas", json_integer(d->min_replicas));
    json_object_set_new(p, "maxReplicas", json_integer(d->max_replicas));
    if (d->autoscale.set) {
        json_object_set_new(p, "scaleMetric", json_string(d->autoscale.metric == SPEC_SCALE_RPS ? "rps" : "concurrency"));
        json_object_set_new(p, "scaleTarget", json_integer((json_int_t)ceil(d->autoscale.target - 1e-9)));
        if (fabs(d->autoscale.target - ceil(d->autoscale.target - 1e-9)) > 1e-9)
            k8s__note(c, d->autoscale.pos, "Deployment %s: KServe's scaleTarget is a whole number: %g renders as %lld",
                      n, d->autoscale.target, (long long)ceil(d->autoscale.target - 1e-9));
    }
    if (sc->canary >= 0) json_object_set_new(p, "canaryTrafficPercent", json_integer(d->canary.percent));
    json_t *m = json_object();
    json_object_set_new(m, "modelFormat", json_pack("{s:s}", "name", "xgboost"));
    json_object_set_new(m, "protocolVersion", json_string("v2"));
    char *uri = sc->canary >= 0 ? storage_uri(sc, &d->canary.target) : mp_xstrdup(stable);
    json_object_set_new(m, "storageUri", json_string(uri));
    json_object_set_new(p, "model", m);
    json_object_set_new(o, "spec", json_pack("{s:o}", "predictor", p));
    k8s__emit(c, o);
    if (sc->canary >= 0)
        k8s__note(c, d->canary.pos, "Deployment %s: KServe's canary is the newest revision of the InferenceService: "
                  "apply it first with storageUri %s (the stable version, in annotation mlplane.dev/stable-storage-uri) "
                  "and no canaryTrafficPercent, then this object, whose revision (%s) gets %d%% while the previous one "
                  "keeps the rest", n, stable, uri, d->canary.percent);
    if (sc->canary >= 0)
        k8s__note(c, d->canary.pos, "Deployment %s: KServe splits by Knative revision traffic, per request at the "
                  "activator and ingress; the exact split of mlplane's router is not guaranteed", n);
    if (d->shadow.set)
        k8s__note(c, d->shadow.pos, "Deployment %s: spec.shadow is not rendered: an InferenceService has no shadow "
                  "(render without --kserve for the router, which copies requests to the shadow version)", n);
    if (d->sticky_header)
        k8s__note(c, pos, "Deployment %s: stickyHeader %s is not rendered: KServe's traffic split has no session "
                  "affinity (render without --kserve for the router, which keeps it)", n, d->sticky_header);
    if (d->autoscale.set)
        k8s__note(c, d->autoscale.pos, "Deployment %s: the stabilization windows (up %ds, down %ds) are not rendered: "
                  "Knative's autoscaler uses its own windows", n, d->autoscale.scale_up_window_s,
                  d->autoscale.scale_down_window_s);
    if (d->request_log.sample_rate > 0)
        k8s__note(c, pos, "Deployment %s: spec.requestLog is not rendered: KServe's logger sends every request to a "
                  "URL of the cluster's (spec.predictor.logger), which mlplane does not know", n);
    if (d->listen)
        k8s__note(c, pos, "Deployment %s: spec.listen %s is ignored on a cluster: clients use the InferenceService's URL",
                  n, d->listen);
    if (c->o->keda)
        k8s__note(c, pos, "Deployment %s: --keda has no effect with --kserve: KServe scales the predictor itself", n);
    free(uri);
    free(stable);
}

void k8s__render_deployment(k8s__ctx *c, const spec_deployment *d) {
    spec_pos pos = d->meta.name_pos;
    if (!dns1035(d->meta.name)) {
        k8s__fail(c, pos, "metadata.name: \"%s\" is not a DNS-1035 label (at most 63 lower-case letters, digits and '-', "
                  "a letter first), which Service names are made of", d->meta.name);
        return;
    }
    serve_ctx sc = {.c = c, .d = d, .ns = k8s__namespace(c, &d->meta), .canary = -1, .shadow = -1};
    sc.image = c->o->image ? c->o->image : K8S_DEFAULT_IMAGE;
    sc.server = c->o->server ? c->o->server : K8S_DEFAULT_SERVER;
    bool ok = add_version(&sc, &d->version, "spec.model");
    if (d->canary.set) {
        sc.canary = sc.nv;
        ok = add_version(&sc, &d->canary.target, "spec.canary") && ok;
    }
    if (d->shadow.set) {
        sc.shadow = sc.nv;
        ok = add_version(&sc, &d->shadow.target, "spec.shadow") && ok;
    }
    if (ok) {
        if (c->o->kserve) render_kserve(&sc, pos);
        else {
            render_plain(&sc);
            notes_plain(&sc, pos);
        }
    }
    for (int i = 0; i < sc.nv; i++) free(sc.v[i].name);
}
