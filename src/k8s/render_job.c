/* render_job.c — a pipeline's steps as batch/v1 Jobs.
 *
 * One Job per step (per trial for a sweep); a gang (`parallelism: N`) is an
 * Indexed Job of N completions run all at once, with a headless Service that
 * gives each worker a DNS name and the rank variables the local engine sets.
 *
 * Artifacts (docs/kubernetes-render.md): no shared filesystem is assumed and the
 * step's image may be any image. An init container of the mlplane image copies
 * its launcher (the binary, its loader and libraries) into the emptyDir
 * /mlplane/bin; the step's command runs under it, through its own loader so
 * nothing of the step's image is used (`/mlplane/bin/ld.so --library-path
 * /mlplane/bin/lib /mlplane/bin/mlplane launch -- ARGV`), which fetches the step's inputs and
 * its upstream steps' outputs from mlplane server's artifact store into the
 * emptyDir /mlplane/work, runs the command there, and uploads the outputs and
 * metrics before it exits — so nothing waits on a termination grace period. What
 * to fetch and upload is the pod's mlplane.dev/artifacts annotation, which the
 * container sees as $MLPLANE_ARTIFACTS (Downward API). Templates
 * are rendered against those paths: {{inputs.X}} is /mlplane/work/inputs/X,
 * {{steps.S.outputs.A}} /mlplane/work/steps/S/A, {{run.id}} the pod's
 * $(MLPLANE_RUN_ID), params their defaults (a sweep trial's: its values).
 * Reentrant. */
#include "k8s/k8s_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORK "/mlplane/work"
#define LAUNCHER_DIR "/mlplane/bin"
#define SECRETS_DIR "/mlplane/secrets" /* a step's secretFiles, a projected volume of its Secrets' keys */
#define GANG_PORT 29500
#define JOB_TTL_SECONDS 86400 /* finished Jobs (and their pods' logs) stay a day */

typedef struct step_ctx {
    k8s__ctx *c;
    const spec_pipeline *p;
    const spec_step *s;
    json_t *trial; /* a trial's param values, or NULL */
    mp_buf scratch[8];
    int nscratch;
} step_ctx;

static const char *param_value(step_ctx *sc, const char *name) {
    json_t *v = sc->trial ? json_object_get(sc->trial, name) : NULL;
    if (v) return json_string_value(v);
    for (size_t i = 0; i < sc->p->nparams; i++)
        if (strcmp(sc->p->params[i].key, name) == 0) return sc->p->params[i].value;
    return NULL;
}

static const char *lookup(void *ud, const char *ref) {
    step_ctx *sc = ud;
    if (mp_str_starts(ref, "params.")) return param_value(sc, ref + 7);
    mp_buf *b = &sc->scratch[sc->nscratch++ % 8];
    mp_buf_reset(b);
    if (strcmp(ref, "run.id") == 0) return "$(MLPLANE_RUN_ID)";
    if (strcmp(ref, "run.name") == 0) return sc->p->meta.name;
    if (mp_str_starts(ref, "inputs.")) {
        for (size_t i = 0; i < sc->s->ninputs; i++)
            if (strcmp(sc->s->inputs[i].name, ref + 7) == 0) {
                mp_buf_printf(b, WORK "/inputs/%s", ref + 7);
                return b->data;
            }
        return NULL;
    }
    if (mp_str_starts(ref, "steps.")) { /* steps.S.outputs.A */
        const char *s = ref + 6, *dot = strstr(s, ".outputs.");
        if (!dot) return NULL;
        mp_buf_printf(b, WORK "/steps/%.*s/%s", (int)(dot - s), s, dot + 9);
        return b->data;
    }
    return NULL;
}

/* tmpl rendered for the pod (heap), or NULL with the failure recorded at pos. */
static char *render(step_ctx *sc, const char *tmpl, spec_pos pos, const char *field) {
    char *out = NULL;
    mp_err e;
    if (spec_render(tmpl, lookup, sc, &out, &e) != 0) {
        k8s__fail(sc->c, pos, "steps[%s].%s: %s", sc->s->name, field, e.msg);
        return NULL;
    }
    return out;
}

/* ---- quantities ---------------------------------------------------------------------- */

/* requests and limits: the same (Guaranteed for what is asked; GPUs and other
 * extended resources may only be given as limits equal to requests). */
static json_t *resources(const spec_resources *r) {
    json_t *req = json_object();
    if (r->cpu_milli) json_object_set_new(req, "cpu", k8s__qty("cpu", r->cpu_milli));
    if (r->memory_bytes) json_object_set_new(req, "memory", k8s__qty("memory", r->memory_bytes));
    if (r->gpu) json_object_set_new(req, "nvidia.com/gpu", json_integer(r->gpu));
    for (size_t i = 0; i < r->nextended; i++)
        json_object_set_new(req, r->extended[i].name, json_integer(r->extended[i].count));
    json_t *o = json_object();
    if (json_object_size(req) == 0) {
        json_decref(req);
        return o;
    }
    /* limits without cpu: a step that asked for 1 cpu may burst (throttling
     * by a cpu limit slows training for nothing when the node has room) */
    json_t *lim = json_deep_copy(req);
    json_object_del(lim, "cpu");
    json_object_set_new(o, "requests", req);
    if (json_object_size(lim)) json_object_set_new(o, "limits", lim);
    else json_decref(lim);
    return o;
}

/* ---- the pod ------------------------------------------------------------------------ */

static json_t *env_var(const char *name, const char *value) {
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "value", json_string(value));
    return o;
}

static json_t *env_field(const char *name, const char *path) {
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    json_t *fr = json_object();
    json_object_set_new(fr, "fieldPath", json_string(path));
    json_t *vf = json_object();
    json_object_set_new(vf, "fieldRef", fr);
    json_object_set_new(o, "valueFrom", vf);
    return o;
}

json_t *k8s__mount(const char *name, const char *path, bool ro) {
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "mountPath", json_string(path));
    if (ro) json_object_set_new(o, "readOnly", json_true());
    return o;
}

json_t *k8s__container_security(void) {
    json_t *sc = json_object();
    json_object_set_new(sc, "allowPrivilegeEscalation", json_false());
    json_object_set_new(sc, "readOnlyRootFilesystem", json_true());
    json_t *caps = json_object();
    json_object_set_new(caps, "drop", json_pack("[s]", "ALL"));
    json_object_set_new(sc, "capabilities", caps);
    return sc;
}

json_t *k8s__pod_security(void) {
    json_t *sc = json_object();
    json_object_set_new(sc, "runAsNonRoot", json_true());
    json_object_set_new(sc, "runAsUser", json_integer(10001));
    json_object_set_new(sc, "runAsGroup", json_integer(10001));
    json_object_set_new(sc, "fsGroup", json_integer(10001));
    json_t *sp = json_object();
    json_object_set_new(sp, "type", json_string("RuntimeDefault"));
    json_object_set_new(sc, "seccompProfile", sp);
    return sc;
}

static const char *effect_name(spec_taint_effect e) {
    switch (e) {
    case SPEC_EFFECT_NO_SCHEDULE: return "NoSchedule";
    case SPEC_EFFECT_PREFER_NO_SCHEDULE: return "PreferNoSchedule";
    case SPEC_EFFECT_NO_EXECUTE: return "NoExecute";
    default: return NULL;
    }
}

static json_t *tolerations(const spec_step *s) {
    json_t *a = json_array();
    for (size_t i = 0; i < s->ntolerations; i++) {
        const spec_toleration *t = &s->tolerations[i];
        json_t *o = json_object();
        if (t->key[0]) json_object_set_new(o, "key", json_string(t->key));
        json_object_set_new(o, "operator", json_string(t->op == SPEC_TOL_EXISTS ? "Exists" : "Equal"));
        if (t->op != SPEC_TOL_EXISTS) json_object_set_new(o, "value", json_string(t->value));
        if (effect_name(t->effect)) json_object_set_new(o, "effect", json_string(effect_name(t->effect)));
        json_array_append_new(a, o);
    }
    return a;
}

/* Every {{steps.S.outputs.A}} of the step's command, script, env and workingDir:
 * what the launcher fetches before the command starts, once each. */
typedef struct refs_ud {
    json_t *seen; /* "S/A" -> true */
    json_t *fetch;
} refs_ud;

static void on_ref(void *ud, const char *ref, size_t offset) {
    (void)offset;
    refs_ud *r = ud;
    const char *s = ref + 6, *dot = mp_str_starts(ref, "steps.") ? strstr(s, ".outputs.") : NULL;
    if (!dot) return;
    char *key = mp_xasprintf("%.*s/%s", (int)(dot - s), s, dot + 9);
    if (!json_object_get(r->seen, key)) {
        json_object_set_new(r->seen, key, json_true());
        char *step = mp_xstrndup(s, (size_t)(dot - s));
        char *path = mp_xasprintf(WORK "/steps/%s", key);
        json_array_append_new(r->fetch, json_pack("{s:s,s:s,s:s}", "step", step, "output", dot + 9, "path", path));
        free(step);
        free(path);
    }
    free(key);
}

static void collect_fetch(step_ctx *sc, json_t *fetch) {
    const spec_step *s = sc->s;
    refs_ud r = {.seen = json_object(), .fetch = fetch};
    mp_err e;
    for (size_t i = 0; i < s->ncommand; i++) spec_template_refs(s->command[i], on_ref, &r, &e);
    if (s->script) spec_template_refs(s->script, on_ref, &r, &e);
    for (size_t i = 0; i < s->nenv; i++) spec_template_refs(s->env[i].value, on_ref, &r, &e);
    if (s->working_dir) spec_template_refs(s->working_dir, on_ref, &r, &e);
    for (size_t i = 0; i < s->ninputs; i++) spec_template_refs(s->inputs[i].path, on_ref, &r, &e);
    json_decref(r.seen);
}

/* What the launcher fetches and uploads (the pod's mlplane.dev/artifacts). */
static char *artifacts_json(step_ctx *sc) {
    const spec_step *s = sc->s;
    json_t *in = json_array(), *from = json_array(), *out = json_array();
    for (size_t i = 0; i < s->ninputs; i++) {
        const spec_artifact *a = &s->inputs[i];
        if (strstr(a->path, "{{")) { /* an upstream output: fetched, and linked as inputs/NAME */
            char *r = render(sc, a->path, a->pos, "inputs");
            json_array_append_new(in, json_pack("{s:s,s:s}", "name", a->name, "from", r ? r : ""));
            free(r);
            continue;
        }
        char *abs = mp_path_abs(sc->c->f->dir, a->path);
        mp_hash h;
        mp_hash_init(&h);
        mp_err e;
        char hex[65] = "";
        if (mp_hash_path(&h, abs, &e) != 0)
            k8s__fail(sc->c, a->pos, "steps[%s].inputs[%s]: %s (a local input is uploaded, content-addressed, with the run)",
                      s->name, a->name, e.msg);
        else
            mp_hash_final_hex(&h, hex);
        json_array_append_new(in, json_pack("{s:s,s:s,s:s}", "name", a->name, "path", a->path, "sha256", hex));
        free(abs);
    }
    collect_fetch(sc, from);
    for (size_t i = 0; i < s->noutputs; i++)
        json_array_append_new(out, json_pack("{s:s,s:s}", "name", s->outputs[i].name, "path", s->outputs[i].path));
    json_t *o = json_object();
    json_object_set_new(o, "inputs", in);
    json_object_set_new(o, "fetch", from);
    json_object_set_new(o, "outputs", out);
    json_object_set_new(o, "metrics", json_string("metrics.json"));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

static json_t *step_env(step_ctx *sc, const char *job, const char *svc, int world, const char *workdir) {
    const spec_step *s = sc->s;
    json_t *env = json_array();
    json_array_append_new(env, env_field("MLPLANE_RUN_ID", "metadata.labels['mlplane.dev/run']"));
    json_array_append_new(env, env_field("MLPLANE_ARTIFACTS", "metadata.annotations['mlplane.dev/artifacts']"));
    json_array_append_new(env, env_var("MLPLANE_PIPELINE", sc->p->meta.name));
    json_array_append_new(env, env_var("MLPLANE_STEP", s->name));
    json_array_append_new(env, env_var("MLPLANE_OUTPUTS", WORK "/outputs"));
    json_array_append_new(env, env_var("MLPLANE_SERVER", sc->c->o->server ? sc->c->o->server : K8S_DEFAULT_SERVER));
    json_array_append_new(env, env_var("MLFLOW_TRACKING_URI", sc->c->o->server ? sc->c->o->server : K8S_DEFAULT_SERVER));
    json_array_append_new(env, env_var("MLFLOW_RUN_ID", "$(MLPLANE_RUN_ID)"));
    for (size_t i = 0; i < sc->p->nparams; i++) {
        char name[300];
        size_t j = (size_t)snprintf(name, sizeof name, "MLPLANE_PARAM_");
        for (const char *q = sc->p->params[i].key; *q && j + 1 < sizeof name; q++)
            name[j++] = (char)((*q >= 'a' && *q <= 'z') ? *q - 32
                               : ((*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')) ? *q
                                                                                         : '_');
        name[j] = '\0';
        json_array_append_new(env, env_var(name, param_value(sc, sc->p->params[i].key)));
    }
    if (world > 1) {
        const char *idx = "metadata.annotations['batch.kubernetes.io/job-completion-index']";
        char n[32], addr[600], port[16];
        snprintf(n, sizeof n, "%d", world);
        snprintf(addr, sizeof addr, "%s-0.%s", job, svc);
        snprintf(port, sizeof port, "%d", GANG_PORT);
        json_array_append_new(env, env_field("MLPLANE_RANK", idx));
        json_array_append_new(env, env_var("MLPLANE_WORLD_SIZE", n));
        json_array_append_new(env, env_var("MLPLANE_MASTER_ADDR", addr));
        json_array_append_new(env, env_var("MLPLANE_MASTER_PORT", port));
        json_array_append_new(env, env_field("RANK", idx));
        json_array_append_new(env, env_var("WORLD_SIZE", n));
        json_array_append_new(env, env_var("MASTER_ADDR", addr));
        json_array_append_new(env, env_var("MASTER_PORT", port));
        /* torchrun reads its flags from PET_*: one process per pod, the pod's rank */
        json_array_append_new(env, env_var("PET_NNODES", n));
        json_array_append_new(env, env_field("PET_NODE_RANK", idx));
        json_array_append_new(env, env_var("PET_MASTER_ADDR", addr));
        json_array_append_new(env, env_var("PET_MASTER_PORT", port));
    }
    if (sc->trial) {
        json_array_append_new(env, env_var("MLPLANE_SWEEP", s->name));
        json_array_append_new(env, env_field("MLPLANE_TRIAL", "metadata.labels['mlplane.dev/trial']"));
    }
    if (workdir) json_array_append_new(env, env_var("MLPLANE_WORKDIR", workdir));
    for (size_t i = 0; i < s->nenv; i++) {
        char *r = render(sc, s->env[i].value, s->env[i].pos, "env");
        json_array_append_new(env, env_var(s->env[i].key, r ? r : ""));
        free(r);
    }
    bool files = false;
    for (size_t i = 0; i < s->nsecret_refs; i++) { /* valueFrom.secretKeyRef as it was written */
        const spec_secret_ref *r = &s->secret_refs[i];
        if (!r->env) {
            files = true;
            continue;
        }
        json_array_append_new(env, json_pack("{s:s,s:{s:{s:s,s:s}}}", "name", r->env, "valueFrom", "secretKeyRef",
                                             "name", r->secret, "key", r->key));
    }
    if (files) json_array_append_new(env, env_var("MLPLANE_SECRETS", SECRETS_DIR));
    return env;
}

/* secretFiles as one projected volume of the Secrets' keys at their paths,
 * readable by the pod's group (fsGroup) only; NULL when the step has none. */
static json_t *secrets_volume(const spec_step *s) {
    json_t *sources = json_array();
    for (size_t i = 0; i < s->nsecret_refs; i++) {
        const spec_secret_ref *r = &s->secret_refs[i];
        if (r->env) continue;
        json_t *item = json_pack("{s:s,s:s}", "key", r->key, "path", r->path);
        size_t k;
        json_t *src, *found = NULL;
        json_array_foreach(sources, k, src) {
            json_t *sec = json_object_get(src, "secret");
            if (strcmp(json_string_value(json_object_get(sec, "name")), r->secret) == 0) found = sec;
        }
        if (found) json_array_append_new(json_object_get(found, "items"), item);
        else json_array_append_new(sources, json_pack("{s:{s:s,s:[o]}}", "secret", "name", r->secret, "items", item));
    }
    if (json_array_size(sources) == 0) {
        json_decref(sources);
        return NULL;
    }
    return json_pack("{s:s,s:{s:o,s:i}}", "name", "mlplane-secrets", "projected", "sources", sources, "defaultMode",
                     0440);
}

static json_t *step_command(step_ctx *sc) {
    const spec_step *s = sc->s;
    /* through the launcher's own loader: the binary's PT_INTERP names the image's /lib */
    json_t *cmd = json_pack("[s,s,s,s,s,s]", LAUNCHER_DIR "/ld.so", "--library-path", LAUNCHER_DIR "/lib",
                            LAUNCHER_DIR "/mlplane", "launch", "--");
    if (s->script) {
        char *r = render(sc, s->script, s->pos, "script");
        json_t *sh = json_pack("[s,s,s,s,s]", "/bin/sh", "-e", "-c", r ? r : "", s->name);
        json_array_extend(cmd, sh);
        json_decref(sh);
        free(r);
    } else {
        for (size_t i = 0; i < s->ncommand; i++) {
            char *r = render(sc, s->command[i], s->pos, "command");
            json_array_append_new(cmd, json_string(r ? r : ""));
            free(r);
        }
    }
    return cmd;
}

static json_t *pod_spec(step_ctx *sc, const char *job, const char *svc, int world) {
    const spec_step *s = sc->s;
    const char *mimage = sc->c->o->image ? sc->c->o->image : K8S_DEFAULT_IMAGE;
    json_t *ps = json_object();
    json_object_set_new(ps, "restartPolicy", json_string("Never")); /* retries are the Job's, counted by it */
    json_object_set_new(ps, "serviceAccountName", json_string(K8S__STEP_SA));
    json_object_set_new(ps, "automountServiceAccountToken", json_false());
    if (s->priority_class) json_object_set_new(ps, "priorityClassName", json_string(s->priority_class));
    if (s->nnode_selector) {
        json_t *ns = json_object();
        for (size_t i = 0; i < s->nnode_selector; i++)
            json_object_set_new(ns, s->node_selector[i].key, json_string(s->node_selector[i].value));
        json_object_set_new(ps, "nodeSelector", ns);
    }
    if (s->ntolerations) json_object_set_new(ps, "tolerations", tolerations(s));
    if (svc) json_object_set_new(ps, "subdomain", json_string(svc));
    json_object_set_new(ps, "securityContext", k8s__pod_security());

    json_t *init = json_object();
    json_object_set_new(init, "name", json_string("mlplane-launcher"));
    json_object_set_new(init, "image", json_string(mimage));
    json_object_set_new(init, "command", json_pack("[s,s,s,s]", "mlplane", "launch", "--install", LAUNCHER_DIR));
    json_object_set_new(init, "volumeMounts", json_pack("[o]", k8s__mount("mlplane-bin", LAUNCHER_DIR, false)));
    json_object_set_new(init, "resources",
                        json_pack("{s:{s:s,s:s}}", "requests", "cpu", "50m", "memory", "32Mi"));
    json_object_set_new(init, "securityContext", k8s__container_security());
    json_object_set_new(ps, "initContainers", json_pack("[o]", init));

    json_t *ct = json_object();
    json_object_set_new(ct, "name", json_string("step"));
    json_object_set_new(ct, "image", json_string(s->image ? s->image : mimage));
    json_object_set_new(ct, "command", step_command(sc));
    /* the container starts in the work folder (an emptyDir, so it exists and is
     * the pod's to write); the launcher starts the command in its outputs folder,
     * or in an absolute workingDir of the image (MLPLANE_WORKDIR) */
    char *workdir = NULL;
    if (s->working_dir) {
        char *r = render(sc, s->working_dir, s->pos, "workingDir");
        if (r && r[0] == '/') workdir = mp_xstrdup(r);
        else if (r)
            k8s__note(sc->c, s->pos, "steps[%s].workingDir \"%s\" is relative to the spec file: on Kubernetes the step "
                      "starts in its outputs directory", s->name, r);
        free(r);
    }
    json_object_set_new(ct, "workingDir", json_string(WORK));
    json_object_set_new(ct, "env", step_env(sc, job, svc, world, workdir));
    free(workdir);
    json_object_set_new(ct, "resources", resources(&s->resources));
    if (world > 1)
        json_object_set_new(ct, "ports", json_pack("[{s:s,s:i}]", "name", "rendezvous", "containerPort", GANG_PORT));
    json_t *svol = secrets_volume(s);
    json_t *mounts = json_pack("[o,o,o]", k8s__mount("mlplane-bin", LAUNCHER_DIR, true), k8s__mount("work", WORK, false),
                               k8s__mount("tmp", "/tmp", false));
    if (svol) json_array_append_new(mounts, k8s__mount("mlplane-secrets", SECRETS_DIR, true));
    json_object_set_new(ct, "volumeMounts", mounts);
    json_object_set_new(ct, "securityContext", k8s__container_security());
    json_object_set_new(ps, "containers", json_pack("[o]", ct));
    json_t *vols = json_pack("[{s:s,s:{}},{s:s,s:{}},{s:s,s:{}}]", "name", "mlplane-bin", "emptyDir", "name", "work",
                             "emptyDir", "name", "tmp", "emptyDir");
    if (svol) json_array_append_new(vols, svol);
    json_object_set_new(ps, "volumes", vols);
    return ps;
}

/* ---- the Job ------------------------------------------------------------------------ */

static json_t *step_labels(step_ctx *sc, const char *job) {
    json_t *l = k8s__labels(job, "step");
    json_object_set_new(l, "mlplane.dev/pipeline", json_string(sc->p->meta.name));
    json_object_set_new(l, "mlplane.dev/step", json_string(sc->s->name));
    return l;
}

static void render_job(step_ctx *sc, const char *job, size_t trial) {
    k8s__ctx *c = sc->c;
    const spec_step *s = sc->s;
    const char *ns = k8s__namespace(c, &sc->p->meta);
    int world = s->parallelism > 1 ? s->parallelism : 1;
    char svc[80] = "";
    if (world > 1) {
        snprintf(svc, sizeof svc, "%s", job);
        json_t *o = k8s__object("v1", "Service", svc, ns, step_labels(sc, job), NULL);
        json_t *sp = json_object();
        json_object_set_new(sp, "clusterIP", json_string("None"));
        json_object_set_new(sp, "publishNotReadyAddresses", json_true()); /* workers find each other before ready */
        json_t *sel = json_object();
        json_object_set_new(sel, "mlplane.dev/pipeline", json_string(sc->p->meta.name));
        json_object_set_new(sel, "mlplane.dev/step", json_string(s->name));
        if (sc->trial) json_object_set_new(sel, "mlplane.dev/trial", json_sprintf("%zu", trial));
        json_object_set_new(sp, "selector", sel);
        json_object_set_new(sp, "ports", json_pack("[{s:s,s:i}]", "name", "rendezvous", "port", GANG_PORT));
        json_object_set_new(o, "spec", sp);
        k8s__emit(c, o);
    }
    json_t *labels = step_labels(sc, job);
    if (sc->trial) json_object_set_new(labels, "mlplane.dev/trial", json_sprintf("%zu", trial));
    bool queued = c->o->kueue && s->queue_name;
    if (queued) json_object_set_new(labels, "kueue.x-k8s.io/queue-name", json_string(s->queue_name));
    json_t *ann = json_object();
    if (s->ndepends) {
        mp_buf b;
        mp_buf_init(&b);
        for (size_t i = 0; i < s->ndepends; i++) mp_buf_printf(&b, "%s%s", i ? "," : "", s->depends_on[i]);
        json_object_set_new(ann, "mlplane.dev/depends-on", json_string(b.data));
        mp_buf_free(&b);
    }
    json_t *o = k8s__object("batch/v1", "Job", job, ns, labels, ann);
    json_t *js = json_object();
    if (queued) json_object_set_new(js, "suspend", json_true()); /* Kueue admits it by unsuspending */
    if (world > 1) {
        json_object_set_new(js, "completionMode", json_string("Indexed"));
        json_object_set_new(js, "completions", json_integer(world));
        json_object_set_new(js, "parallelism", json_integer(world));
    }
    json_object_set_new(js, "backoffLimit", json_integer(s->retry_limit));
    if (s->timeout_seconds > 0) json_object_set_new(js, "activeDeadlineSeconds", json_integer(s->timeout_seconds));
    json_object_set_new(js, "ttlSecondsAfterFinished", json_integer(JOB_TTL_SECONDS));
    /* a pod disrupted by preemption, eviction or node loss is not the step's
     * failure: it does not count against its retries (as requeueing locally) */
    json_object_set_new(js, "podFailurePolicy",
                        json_pack("{s:[{s:s,s:[{s:s,s:s}]}]}", "rules", "action", "Ignore", "onPodConditions", "type",
                                  "DisruptionTarget", "status", "True"));
    json_t *tmeta = json_object();
    json_t *tl = step_labels(sc, job);
    if (sc->trial) json_object_set_new(tl, "mlplane.dev/trial", json_sprintf("%zu", trial));
    json_object_set_new(tmeta, "labels", tl);
    char *art = artifacts_json(sc);
    json_object_set_new(tmeta, "annotations", json_pack("{s:s%}", "mlplane.dev/artifacts", art, strlen(art)));
    free(art);
    json_t *tpl = json_object();
    json_object_set_new(tpl, "metadata", tmeta);
    json_object_set_new(tpl, "spec", pod_spec(sc, job, world > 1 ? svc : NULL, world));
    json_object_set_new(js, "template", tpl);
    json_object_set_new(o, "spec", js);
    k8s__emit(c, o);
}

/* "<pipeline>-<step>[-<trial>]" when it is a DNS-1123 label (heap), else NULL
 * with the failure recorded. */
static char *job_name(k8s__ctx *c, const spec_pipeline *p, const spec_step *s, const char *suffix) {
    char *n = mp_xasprintf("%s-%s%s%s", p->meta.name, s->name, suffix ? "-" : "", suffix ? suffix : "");
    /* the Job's pods carry its name in a label (and gangs' hostnames add "-N"):
     * 63 bytes, less room for the index */
    size_t max = s->parallelism > 1 ? 63 - 6 : 63;
    if (!k8s_dns_label(n) || strlen(n) > max) {
        k8s__fail(c, s->pos,
                  "steps[%s].name: the Job name \"%s\" (pipeline name, step name%s) is not a DNS-1123 label of at most "
                  "%zu characters (lower-case letters, digits and '-'); rename the step or the pipeline",
                  s->name, n, suffix ? ", trial" : "", max);
        free(n);
        return NULL;
    }
    return n;
}

void k8s__render_pipeline(k8s__ctx *c, const spec_pipeline *p) {
    if (!k8s_dns_label(p->meta.name)) {
        k8s__fail(c, p->meta.name_pos, "metadata.name: \"%s\" is not a DNS-1123 label (lower-case letters, digits "
                  "and '-', at most 63), which Kubernetes names are made of", p->meta.name);
        return;
    }
    k8s__service_account(c, k8s__namespace(c, &p->meta));
    for (size_t i = 0; i < p->nsteps; i++) {
        step_ctx sc = {.c = c, .p = p, .s = &p->steps[i]};
        char why[512];
        if (!sched_step_fits_files(c->files, c->nfiles, sc.s, why, sizeof why)) {
            k8s__fail(c, sc.s->pos, "steps[%s]: can never run on the nodes the files declare: %s", sc.s->name, why);
            continue;
        }
        for (int k = 0; k < 8; k++) mp_buf_init(&sc.scratch[k]);
        if (p->steps[i].sweep) {
            char **trials = NULL;
            size_t n = spec_sweep_expand(p->steps[i].sweep, &trials);
            for (size_t t = 0; t < n; t++) {
                char suffix[32];
                snprintf(suffix, sizeof suffix, "%zu", t);
                char *job = job_name(c, p, sc.s, suffix);
                sc.trial = json_loads(trials[t], 0, NULL);
                if (job) render_job(&sc, job, t);
                json_decref(sc.trial);
                sc.trial = NULL;
                free(job);
                free(trials[t]);
            }
            free(trials);
        } else {
            char *job = job_name(c, p, sc.s, NULL);
            if (job) render_job(&sc, job, 0);
            free(job);
        }
        for (int k = 0; k < 8; k++) mp_buf_free(&sc.scratch[k]);
    }
}
