/* lineage.c — where a registered model version came from, and where data went
 * (`mlplane lineage`, GET /api/v1/lineage/...), as JSON both front ends print.
 *
 * A version names the run that registered it (run_id) and its file by content
 * (source mlflow-artifacts:/sha256/HE/HEX/NAME). The run keeps its spec's text
 * and params; the store's step_artifacts rows (its migration in migrate.c; written by the
 * engine: outcome.c, engine.c) say what each step read and wrote, by the same
 * content hash the artifact store names blobs by. So:
 *   model -> its run, spec hash, params, the registering step (its
 *            ModelRegistered event), the steps upstream of it (the spec's
 *            dependencies), their inputs with hashes and sources, and parent
 *            versions (an input whose hash is another version's file, or the
 *            version a Monitor found drifting when it started this run: the run's
 *            MLflow tag mlplane.retrainedFrom);
 *   hash  -> the steps that wrote it and read it, then (transitively) what those
 *            steps wrote and who read that, and every version whose file is one
 *            of those hashes.
 * Read-only; runs on the caller's thread with its store handle. */
#include "engine/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REVERSE_MAX 4096 /* hashes followed by engine_lineage_artifact at most */

/* HEX of a source in the artifact store (.../sha256/HE/HEX/NAME), heap, or NULL. */
static char *source_hash(const char *src) {
    const char *p = src ? strstr(src, "sha256/") : NULL;
    if (!p) return NULL;
    p += 7;
    const char *slash = strchr(p, '/');
    if (!slash || slash - p != 2) return NULL;
    p = slash + 1;
    size_t n = strspn(p, "0123456789abcdef");
    return n == 64 ? mp_xasprintf("%.64s", p) : NULL;
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *artifact_json(const store_step_artifact *a, bool with_run) {
    json_t *o = json_object();
    if (with_run) json_object_set_new(o, "run", json_string(a->run_id));
    json_object_set_new(o, "step", json_string(a->step));
    json_object_set_new(o, "name", json_string(a->name));
    json_object_set_new(o, "hash", json_string(a->hash));
    json_object_set_new(o, "path", str_or_null(a->path));
    if (!a->output) {
        json_object_set_new(o, "source", str_or_null(a->source));
        json_object_set_new(o, "fromStep", str_or_null(a->from_step));
    }
    return o;
}

/* Every version with the hash of its file (parallel arrays, heap). */
typedef struct versions {
    store_model_version *v;
    size_t n;
    char **hash; /* NULL where the source is not in the artifact store */
} versions;

static int versions_load(store *st, versions *vs, mp_err *e) {
    memset(vs, 0, sizeof *vs);
    store_reg_query q = {.limit = -1};
    int rc = st->r->version_search(st, &q, &vs->v, &vs->n, e);
    if (rc != 0) return rc;
    vs->hash = mp_xcalloc(vs->n + 1, sizeof *vs->hash);
    for (size_t i = 0; i < vs->n; i++) vs->hash[i] = source_hash(vs->v[i].source);
    return 0;
}

static void versions_free(versions *vs) {
    for (size_t i = 0; i < vs->n; i++) free(vs->hash[i]);
    free(vs->hash);
    store_model_version_array_free(vs->v, vs->n);
}

static json_t *version_ref(const store_model_version *v) {
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(v->name));
    json_object_set_new(o, "version", json_integer(v->version));
    json_object_set_new(o, "runId", str_or_null(v->run_id));
    return o;
}

/* ---- model -> where it came from ------------------------------------------------------ */

/* The step of run that registered name/version: its ModelRegistered event (heap), or NULL. */
static char *registering_step(store *st, const char *run, const char *name, int64_t version) {
    store_event *ev = NULL;
    size_t n = 0;
    char *found = NULL, *prefix = mp_xasprintf("model \"%s\" version %lld ", name, (long long)version);
    if (st->m->event_list(st, run, 0, &ev, &n, NULL) == 0)
        for (size_t i = 0; i < n && !found; i++)
            if (ev[i].step && strcmp(ev[i].type, "ModelRegistered") == 0 && ev[i].message &&
                mp_str_starts(ev[i].message, prefix))
                found = mp_xstrdup(ev[i].step);
    store_event_array_free(ev, n);
    free(prefix);
    return found;
}

static bool strv_has(const mp_strv *v, const char *s) {
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->v[i], s) == 0) return true;
    return false;
}

/* The registering step and every step it depends on, transitively (the spec's
 * dependencies), into up; every step of the run when the spec cannot be read. */
static void upstream(const store_run *r, const char *reg, mp_strv *up) {
    spec_file *f = NULL;
    spec_diags d = {0};
    char *dir = r->spec_path ? mp_path_dir(r->spec_path) : mp_xstrdup("/");
    const char *text = r->spec_yaml ? r->spec_yaml : "";
    const spec_pipeline *p = NULL;
    if (spec_load_string(r->spec_path ? r->spec_path : "spec", dir, text, strlen(text), &f, &d) == 0)
        p = spec_file_pipeline(f);
    if (p && reg) {
        mp_strv_push(up, reg);
        for (size_t k = 0; k < up->n; k++)
            for (size_t i = 0; i < p->nsteps; i++) {
                const spec_step *s = &p->steps[i];
                if (strcmp(s->name, up->v[k]) != 0) continue;
                for (size_t j = 0; j < s->ndepends; j++)
                    if (!strv_has(up, s->depends_on[j])) mp_strv_push(up, s->depends_on[j]);
            }
    }
    spec_file_free(f);
    spec_diags_free(&d);
    free(dir);
}

/* Whether a step record (a sweep trial "S[i]" belongs to S) is in the set. */
static bool in_set(const mp_strv *set, const char *step, bool all) {
    if (all) return true;
    if (strv_has(set, step)) return true;
    const char *br = strchr(step, '[');
    if (!br) return false;
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)(br - step), step);
    return strv_has(set, base);
}

static json_t *run_json(const store_run *r) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "pipeline", str_or_null(r->pipeline));
    json_object_set_new(o, "namespace", str_or_null(r->namespace_));
    json_object_set_new(o, "state", json_string(store_run_state_name(r->state)));
    json_object_set_new(o, "specPath", str_or_null(r->spec_path));
    mp_hash h;
    char hex[65];
    mp_hash_init(&h);
    if (r->spec_yaml) mp_hash_bytes(&h, r->spec_yaml, strlen(r->spec_yaml));
    mp_hash_final_hex(&h, hex);
    json_object_set_new(o, "specHash", json_string(hex));
    json_t *params = json_loads(r->params_json ? r->params_json : "{}", 0, NULL);
    json_object_set_new(o, "params", params ? params : json_object());
    json_object_set_new(o, "createdMs", json_integer(r->created_ms));
    json_object_set_new(o, "endedMs", json_integer(r->ended_ms));
    return o;
}

/* The steps of the set with their inputs and outputs; external inputs and parents
 * (an input that is another version's file) on the side. */
static void steps_json(store *st, const store_run *r, const mp_strv *set, bool all, const versions *vs,
                       const store_model_version *self, json_t *steps, json_t *inputs, json_t *parents) {
    store_step *ss = NULL;
    size_t ns = 0;
    store_step_artifact *arts = NULL;
    size_t na = 0;
    if (st->m->step_list(st, r->id, &ss, &ns, NULL) != 0) ns = 0;
    if (st->m->artifact_list(st, r->id, NULL, &arts, &na, NULL) != 0) na = 0;
    for (size_t i = 0; i < ns; i++) {
        if (!in_set(set, ss[i].name, all)) continue;
        json_t *o = json_object(), *in = json_array(), *out = json_array();
        json_object_set_new(o, "name", json_string(ss[i].name));
        json_object_set_new(o, "state", json_string(store_step_state_name(ss[i].state)));
        json_object_set_new(o, "cacheKey", str_or_null(ss[i].cache_key));
        json_object_set_new(o, "cachedFrom", str_or_null(ss[i].cached_from));
        for (size_t k = 0; k < na; k++) {
            const store_step_artifact *a = &arts[k];
            if (strcmp(a->step, ss[i].name) != 0) continue;
            json_array_append_new(a->output ? out : in, artifact_json(a, false));
            if (a->output) continue;
            if (!a->from_step) json_array_append_new(inputs, artifact_json(a, false));
            for (size_t v = 0; v < vs->n; v++) {
                if (!vs->hash[v] || strcmp(vs->hash[v], a->hash) != 0) continue;
                if (strcmp(vs->v[v].name, self->name) == 0 && vs->v[v].version == self->version) continue;
                json_t *p = version_ref(&vs->v[v]);
                json_object_set_new(p, "via", json_sprintf("input %s of step %s", a->name, a->step));
                json_object_set_new(p, "hash", json_string(a->hash));
                json_array_append_new(parents, p);
            }
        }
        json_object_set_new(o, "inputs", in);
        json_object_set_new(o, "outputs", out);
        json_array_append_new(steps, o);
    }
    store_step_artifact_array_free(arts, na);
    store_step_array_free(ss, ns);
}

/* A retraining's parent: the version its Monitor found drifting (the run's MLflow tags
 * mlplane.retrainedFrom = models:/NAME/VERSION, mlplane.retrainedBy), into parents. */
static void retrained_from(store *st, const char *run, json_t *parents) {
    store_track_run tr = {0};
    if (st->t->run_get(st, run, &tr, NULL) != 0) return;
    const char *from = NULL, *by = NULL;
    for (size_t i = 0; i < tr.ntags; i++) {
        if (strcmp(tr.tags[i].key, "mlplane.retrainedFrom") == 0) from = tr.tags[i].value;
        if (strcmp(tr.tags[i].key, "mlplane.retrainedBy") == 0) by = tr.tags[i].value;
    }
    const char *slash = from && mp_str_starts(from, "models:/") ? strrchr(from + 8, '/') : NULL;
    if (slash) {
        json_t *p = json_object();
        json_object_set_new(p, "name", json_stringn(from + 8, (size_t)(slash - from - 8)));
        json_object_set_new(p, "version", json_integer(strtoll(slash + 1, NULL, 10)));
        json_object_set_new(p, "via", json_sprintf("retraining by %s on drift", by ? by : "a Monitor"));
        json_array_append_new(parents, p);
    }
    store_track_run_free(&tr);
}

int engine_lineage_model(store *st, const char *name, int64_t version, json_t **out, mp_err *e) {
    *out = NULL;
    store_model_version mv;
    int rc = st->r->version_get(st, name, version, &mv, e);
    if (rc != 0) return rc;
    versions vs;
    if ((rc = versions_load(st, &vs, e)) != 0) {
        store_model_version_free(&mv);
        return rc;
    }
    json_t *o = json_object(), *model = json_object();
    char *hash = source_hash(mv.source);
    json_object_set_new(model, "name", json_string(mv.name));
    json_object_set_new(model, "version", json_integer(mv.version));
    json_object_set_new(model, "source", str_or_null(mv.source));
    json_object_set_new(model, "hash", str_or_null(hash));
    json_object_set_new(model, "runId", str_or_null(mv.run_id));
    json_object_set_new(model, "createdMs", json_integer(mv.creation_time));
    json_object_set(o, "model", model);
    json_decref(model);
    json_t *steps = json_array(), *inputs = json_array(), *parents = json_array();
    store_run r = {0};
    bool have_run = mv.run_id && st->m->run_get(st, mv.run_id, &r, NULL) == 0;
    if (have_run) {
        char *reg = registering_step(st, r.id, mv.name, mv.version);
        mp_strv set = {0};
        upstream(&r, reg, &set);
        json_object_set_new(o, "run", run_json(&r));
        json_object_set_new(o, "step", str_or_null(reg));
        steps_json(st, &r, &set, set.n == 0, &vs, &mv, steps, inputs, parents);
        retrained_from(st, r.id, parents);
        mp_strv_free(&set);
        free(reg);
    } else {
        store_track_run tr = {0};
        bool mlflow = mv.run_id && st->t->run_get(st, mv.run_id, &tr, NULL) == 0;
        store_track_run_free(&tr);
        json_object_set_new(o, "run", json_null());
        json_object_set_new(o, "step", json_null());
        json_object_set_new(o, "note", json_string(mlflow       ? "registered from an MLflow run, not a pipeline run: "
                                                                  "no steps or inputs are recorded"
                                                   : mv.run_id ? "the run that registered this version was deleted"
                                                               : "this version names no run"));
    }
    json_object_set_new(o, "steps", steps);
    json_object_set_new(o, "inputs", inputs);
    json_object_set_new(o, "parents", parents);
    store_run_free(&r);
    free(hash);
    versions_free(&vs);
    store_model_version_free(&mv);
    *out = o;
    return 0;
}

/* ---- hash -> where it went ----------------------------------------------------------- */

int engine_lineage_artifact(store *st, const char *hash, json_t **out, mp_err *e) {
    *out = NULL;
    store_step_artifact *first = NULL;
    size_t nfirst = 0;
    int rc = st->m->artifact_list(st, NULL, hash, &first, &nfirst, e);
    if (rc != 0) return rc;
    versions vs;
    if ((rc = versions_load(st, &vs, e)) != 0) {
        store_step_artifact_array_free(first, nfirst);
        return rc;
    }
    mp_strv seen = {0};  /* hashes reached, in order */
    mp_strv depth = {0}; /* their depth, as text, parallel */
    for (size_t i = 0; i < nfirst; i++)
        if (!strv_has(&seen, first[i].hash)) {
            mp_strv_push(&seen, first[i].hash);
            mp_strv_push(&depth, "0");
        }
    for (size_t v = 0; v < vs.n; v++)
        if (vs.hash[v] && mp_str_starts(vs.hash[v], hash) && !strv_has(&seen, vs.hash[v])) {
            mp_strv_push(&seen, vs.hash[v]);
            mp_strv_push(&depth, "0");
        }
    if (seen.n == 0) {
        rc = mp_err_set(e, MP_ENOENT,
                        "no step read or wrote an artifact whose hash starts with %s, and no model version's file has "
                        "it (give a hash `mlplane lineage models:/NAME/VERSION` shows)",
                        hash);
    }
    json_t *o = json_object(), *produced = json_array(), *consumed = json_array(), *models = json_array();
    mp_strv steps_seen = {0}; /* "run\tstep" consuming steps already followed */
    for (size_t k = 0; k < seen.n && rc == 0 && seen.n < REVERSE_MAX; k++) {
        int d = atoi(depth.v[k]);
        store_step_artifact *rows = NULL;
        size_t nr = 0;
        if ((rc = st->m->artifact_list(st, NULL, seen.v[k], &rows, &nr, e)) != 0) break;
        for (size_t i = 0; i < nr; i++) {
            const store_step_artifact *a = &rows[i];
            if (strcmp(a->hash, seen.v[k]) != 0) continue;
            json_t *j = artifact_json(a, true);
            json_object_set_new(j, "depth", json_integer(d));
            json_array_append_new(a->output ? produced : consumed, j);
            if (a->output) continue;
            char *key = mp_xasprintf("%s\t%s", a->run_id, a->step);
            bool again = strv_has(&steps_seen, key);
            if (!again) mp_strv_push(&steps_seen, key);
            free(key);
            if (again) continue;
            store_step_artifact *outs = NULL;
            size_t no = 0;
            if (st->m->artifact_list(st, a->run_id, NULL, &outs, &no, NULL) == 0)
                for (size_t m = 0; m < no; m++)
                    if (outs[m].output && strcmp(outs[m].step, a->step) == 0 && !strv_has(&seen, outs[m].hash)) {
                        char dd[16];
                        snprintf(dd, sizeof dd, "%d", d + 1);
                        mp_strv_push(&seen, outs[m].hash);
                        mp_strv_push(&depth, dd);
                    }
            store_step_artifact_array_free(outs, no);
        }
        store_step_artifact_array_free(rows, nr);
    }
    for (size_t v = 0; v < vs.n && rc == 0; v++)
        for (size_t k = 0; k < seen.n; k++)
            if (vs.hash[v] && strcmp(vs.hash[v], seen.v[k]) == 0) {
                json_t *j = version_ref(&vs.v[v]);
                json_object_set_new(j, "hash", json_string(seen.v[k]));
                json_object_set_new(j, "depth", json_integer(atoi(depth.v[k])));
                json_array_append_new(models, j);
                break;
            }
    json_object_set_new(o, "truncated", json_boolean(seen.n >= REVERSE_MAX));
    json_t *hashes = json_array();
    for (size_t k = 0; k < seen.n; k++) json_array_append_new(hashes, json_string(seen.v[k]));
    json_object_set_new(o, "hash", json_string(hash));
    json_object_set_new(o, "hashes", hashes);
    json_object_set_new(o, "producedBy", produced);
    json_object_set_new(o, "consumedBy", consumed);
    json_object_set_new(o, "models", models);
    mp_strv_free(&steps_seen);
    mp_strv_free(&seen);
    mp_strv_free(&depth);
    versions_free(&vs);
    store_step_artifact_array_free(first, nfirst);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}
