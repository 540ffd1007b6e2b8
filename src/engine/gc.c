/* gc.c — retention (`mlplane gc`): what the applied RetentionPolicies say has
 * expired is reported and, unless it is a dry run, deleted.
 *
 * A run is governed by the policy of its experiment (spec.experiment = its
 * pipeline's name, in its namespace), else by its namespace's (no experiment);
 * several of the same reach: the shortest TTL of each kind wins. Ages count from
 * the run's end, so a run in progress (or interrupted: not ended) is never
 * touched. For a finished run, in this order:
 *   runs       past spec.runs: the run goes whole, as `mlplane delete run` deletes
 *              it (engine__run_remove, engine_run_delete's deleting half: records,
 *              MLflow run, folders), after the same checks made once for all runs;
 *   artifacts  past spec.artifacts: its steps' outputs (HOME/runs/ID/STEP, its
 *              checkpoints) and its MLflow artifacts (HOME/artifacts/EXP/ID); the
 *              run's records, metrics and logs stay;
 *   logs       past spec.logs: HOME/runs/ID/logs/ and engine.log.
 * Kept, and said why, whatever the TTL: a run a registered model version came
 * from (its run_id, or its source inside the run's folders: the lineage of the
 * version stays whole), and a run whose outputs the step cache points at (a
 * cache entry or another run's cache hit), so the next run of the pipeline still
 * hits the cache. Registered versions' files live in the artifact store
 * (HOME/artifacts/sha256) and are never deleted here; its orphans are swept
 * (store_artstore_sweep) as at the server's start.
 * Runs on the caller's thread with its store. */
#include "engine/engine_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the policies --------------------------------------------------------------------- */

static int policies_load(store *st, sched_objects *objs, const spec_retention_policy ***out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    store_object *keys = NULL;
    size_t nk = 0;
    int rc = st->o->object_list(st, &keys, &nk, e);
    if (rc == 0) rc = sched_objects_load(st, objs, e);
    if (rc != 0) {
        store_object_array_free(keys, nk);
        return rc;
    }
    const spec_retention_policy **v = mp_xcalloc(nk + 1, sizeof *v);
    for (size_t i = 0; i < nk; i++) {
        if (strcmp(keys[i].kind, "RetentionPolicy") != 0) continue;
        for (size_t f = 0; f < objs->nfiles; f++) {
            if (objs->source_ids[f] != keys[i].source_id) continue;
            const spec_file *sf = objs->files[f];
            for (size_t k = 0; k < sf->nobjs; k++)
                if (sf->objs[k].kind == SPEC_KIND_RETENTION_POLICY &&
                    strcmp(sf->objs[k].u.retention->meta.name, keys[i].name) == 0 &&
                    strcmp(sf->objs[k].u.retention->meta.namespace_, keys[i].namespace_ ? keys[i].namespace_ : "") == 0)
                    v[(*n)++] = sf->objs[k].u.retention;
        }
    }
    store_object_array_free(keys, nk);
    *out = v;
    return 0;
}

/* The TTLs that govern run r (0: kept), and the policy's name (borrowed; NULL: none). */
typedef struct ttl {
    int64_t runs, logs, artifacts;
    const char *policy;
} ttl;

static void min_ttl(int64_t *cur, int64_t v) {
    if (v > 0 && (*cur == 0 || v < *cur)) *cur = v;
}

static ttl ttl_of(const spec_retention_policy *const *v, size_t n, const store_run *r) {
    ttl t = {0};
    const char *ns = r->namespace_ ? r->namespace_ : "default";
    for (int pass = 0; pass < 2 && !t.policy; pass++) /* an experiment's policies first, then the namespace's */
        for (size_t i = 0; i < n; i++) {
            const spec_retention_policy *p = v[i];
            if (strcmp(p->meta.namespace_ ? p->meta.namespace_ : "default", ns) != 0) continue;
            bool exp = p->experiment != NULL;
            if (pass == 0 ? !(exp && r->pipeline && strcmp(p->experiment, r->pipeline) == 0) : exp) continue;
            min_ttl(&t.runs, p->runs_ms);
            min_ttl(&t.logs, p->logs_ms);
            min_ttl(&t.artifacts, p->artifacts_ms);
            if (!t.policy) t.policy = p->meta.name;
        }
    return t;
}

/* ---- files ------------------------------------------------------------------------------ */

/* What deleting some paths frees: the regular files under them (symlinks not
 * followed) and the bytes of those whose every hard link is among them (a run's
 * output and its MLflow artifact are one file; a registered version's blob keeps
 * its bytes alive). Filled by du, read by du_bytes. */
typedef struct du_set {
    struct du_ino { dev_t dev; ino_t ino; nlink_t nlink, seen; int64_t size; } *v;
    size_t n, cap;
    int64_t files;
} du_set;

static void du(du_set *d, const char *path, int depth) {
    struct stat sb;
    if (depth > 64 || lstat(path, &sb) != 0) return;
    if (S_ISREG(sb.st_mode)) {
        d->files++;
        for (size_t i = 0; i < d->n; i++)
            if (d->v[i].dev == sb.st_dev && d->v[i].ino == sb.st_ino) {
                d->v[i].seen++;
                return;
            }
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 64;
            d->v = mp_xrealloc(d->v, d->cap * sizeof *d->v);
        }
        d->v[d->n++] = (struct du_ino){sb.st_dev, sb.st_ino, sb.st_nlink, 1, (int64_t)sb.st_size};
        return;
    }
    if (!S_ISDIR(sb.st_mode)) return;
    DIR *dir = opendir(path);
    if (!dir) return;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char *sub = mp_xasprintf("%s/%s", path, de->d_name);
        du(d, sub, depth + 1);
        free(sub);
    }
    closedir(dir);
}

static int64_t du_bytes(const du_set *d) {
    int64_t b = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].seen >= d->v[i].nlink) b += d->v[i].size;
    return b;
}

static void du_free(du_set *d) {
    free(d->v);
    memset(d, 0, sizeof *d);
}

/* The paths of a run's logs or of its artifacts (what exists), into out. */
static void run_paths(const mp_strv *dirs, bool logs, mp_strv *out) {
    const char *rd = dirs->v[0]; /* HOME/runs/ID */
    if (logs) {
        char *l = mp_xasprintf("%s/logs", rd), *el = mp_xasprintf("%s/engine.log", rd);
        if (mp_path_exists(l)) mp_strv_push(out, l);
        if (mp_path_exists(el)) mp_strv_push(out, el);
        free(l);
        free(el);
        return;
    }
    DIR *d = opendir(rd);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 || strcmp(de->d_name, "logs") == 0 ||
            strcmp(de->d_name, "engine.log") == 0)
            continue;
        char *p = mp_xasprintf("%s/%s", rd, de->d_name);
        mp_strv_push(out, p);
        free(p);
    }
    if (d) closedir(d);
    for (size_t i = 1; i < dirs->n; i++) /* its MLflow artifacts' folder (not a submitted spec's) */
        if (strstr(dirs->v[i], "/artifacts/") && mp_path_exists(dirs->v[i])) mp_strv_push(out, dirs->v[i]);
}

/* ---- what must stay -------------------------------------------------------------------- */

static bool inside(const char *path, const char *dir) {
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Why run r must keep its files (heap), or NULL: a version came from it, or the cache points at it. */
static char *why_kept(store *st, const store_run *r, const mp_strv *dirs, const store_model_version *vs, size_t nv,
                      const mp_strv *reused_from) {
    for (size_t i = 0; i < nv; i++) {
        bool hit = vs[i].run_id && strcmp(vs[i].run_id, r->id) == 0;
        const char *src = vs[i].source ? vs[i].source : "";
        if (mp_str_starts(src, "runs:/") && mp_str_starts(src + 6, r->id) && src[6 + strlen(r->id)] == '/') hit = true;
        if (mp_str_starts(src, "file://")) src += 7;
        for (size_t k = 0; !hit && src[0] == '/' && k < dirs->n; k++) hit = inside(src, dirs->v[k]);
        if (hit)
            return mp_xasprintf("registered model version %s/%lld came from it (models:/%s/%lld)", vs[i].name,
                                (long long)vs[i].version, vs[i].name, (long long)vs[i].version);
    }
    for (size_t i = 0; i < reused_from->n; i++)
        if (strcmp(reused_from->v[i], r->id) == 0) return mp_xstrdup("other runs' cached steps reuse its outputs");
    store_step *ss = NULL;
    size_t ns = 0;
    char *why = NULL;
    if (st->m->step_list(st, r->id, &ss, &ns, NULL) == 0)
        for (size_t i = 0; i < ns && !why; i++) {
            store_cache_entry ce;
            if (!ss[i].cache_key || ss[i].cached_from || st->m->cache_get(st, ss[i].cache_key, &ce, NULL) != 0) continue;
            if (strcmp(ce.run_id, r->id) == 0)
                why = mp_xasprintf("the step cache holds its step %s's outputs (key %.12s)", ss[i].name, ce.key);
            store_cache_entry_free(&ce);
        }
    store_step_array_free(ss, ns);
    return why;
}

/* ---- the collection ------------------------------------------------------------------------ */

typedef struct gc {
    store *st;
    const engine_gc_opts *o;
    json_t *deleted, *kept;
    int64_t runs, log_files, artifact_files, bytes;
    size_t items;
} gc;

static void progress(gc *g) {
    if (++g->items % 100 == 0 && g->o->progress) {
        char line[200];
        snprintf(line, sizeof line, "%s %lld runs, %lld log files, %lld artifact files so far",
                 g->o->dry_run ? "would delete" : "deleted", (long long)g->runs, (long long)g->log_files,
                 (long long)g->artifact_files);
        g->o->progress(g->o->ud, line);
    }
}

static void note(json_t *arr, const store_run *r, const char *what, const char *policy, int64_t files,
                 int64_t bytes, const char *reason) {
    json_t *o = json_object();
    json_object_set_new(o, "run", json_string(r->id));
    json_object_set_new(o, "what", json_string(what));
    json_object_set_new(o, "policy", json_string(policy));
    json_object_set_new(o, "endedMs", json_integer(r->ended_ms));
    if (reason) json_object_set_new(o, "reason", json_string(reason));
    else {
        json_object_set_new(o, "files", json_integer(files));
        json_object_set_new(o, "bytes", json_integer(bytes));
    }
    json_array_append_new(arr, o);
}

/* Deletes (or, in a dry run, measures) paths; their files and the bytes that frees. */
static int remove_paths(gc *g, const mp_strv *paths, int64_t *files, int64_t *bytes, mp_err *e) {
    du_set d = {0};
    for (size_t i = 0; i < paths->n; i++) du(&d, paths->v[i], 0);
    *files = d.files;
    *bytes = du_bytes(&d);
    du_free(&d);
    for (size_t i = 0; i < paths->n && !g->o->dry_run; i++)
        if (mp_rm_rf(paths->v[i], e) != 0) return MP_EIO;
    return 0;
}

static int collect_run(gc *g, const store_run *r, const ttl *t, const store_model_version *vs, size_t nv,
                       const mp_strv *reused_from, int64_t now, mp_err *e) {
    int64_t age = now - r->ended_ms;
    bool runs_due = t->runs && age >= t->runs, art_due = t->artifacts && age >= t->artifacts,
         logs_due = t->logs && age >= t->logs;
    if (!runs_due && !art_due && !logs_due) return 0;
    mp_strv dirs = {0};
    engine__run_dirs(g->st, g->o->home, r, &dirs);
    char *why = runs_due || art_due ? why_kept(g->st, r, &dirs, vs, nv, reused_from) : NULL;
    int rc = 0;
    if (why) {
        note(g->kept, r, runs_due ? "run" : "artifacts", t->policy, 0, 0, why);
        runs_due = art_due = false;
    }
    if (runs_due) {
        mp_strv lp = {0};
        run_paths(&dirs, true, &lp);
        du_set dl = {0}, da = {0};
        for (size_t i = 0; i < lp.n; i++) du(&dl, lp.v[i], 0);
        for (size_t i = 0; i < dirs.n; i++) du(&da, dirs.v[i], 0);
        int64_t logs = dl.files, files = da.files, bytes = du_bytes(&da);
        du_free(&dl);
        du_free(&da);
        mp_strv_free(&lp);
        /* engine_run_delete's deleting half: its checks (ended, no version, no cache hit) are
         * why_kept's, made above over sets read once rather than once per run */
        int drc = g->o->dry_run ? 0 : engine__run_remove(g->st, r->id, &dirs, e);
        if (drc != 0) {
            rc = drc;
        } else {
            note(g->deleted, r, "run", t->policy, files, bytes, NULL);
            g->runs++;
            g->log_files += logs;
            g->artifact_files += files - logs;
            g->bytes += bytes;
            progress(g);
        }
        logs_due = art_due = false;
    }
    static const struct { const char *what; bool logs; } kinds[] = {{"artifacts", false}, {"logs", true}};
    for (int k = 0; k < 2 && rc == 0; k++) {
        if (!(kinds[k].logs ? logs_due : art_due)) continue;
        mp_strv paths = {0};
        run_paths(&dirs, kinds[k].logs, &paths);
        int64_t files = 0, bytes = 0;
        if (paths.n) rc = remove_paths(g, &paths, &files, &bytes, e);
        if (rc == 0 && files) {
            note(g->deleted, r, kinds[k].what, t->policy, files, bytes, NULL);
            *(kinds[k].logs ? &g->log_files : &g->artifact_files) += files;
            g->bytes += bytes;
            progress(g);
        }
        mp_strv_free(&paths);
    }
    free(why);
    mp_strv_free(&dirs);
    return rc;
}

/* Run ids whose outputs other runs' cached steps reuse (cached_from). */
static void reused(store *st, const store_run *runs, size_t n, mp_strv *out) {
    for (size_t i = 0; i < n; i++) {
        store_step *ss = NULL;
        size_t ns = 0;
        if (st->m->step_list(st, runs[i].id, &ss, &ns, NULL) != 0) continue;
        for (size_t j = 0; j < ns; j++) {
            const char *from = ss[j].cached_from;
            bool have = false;
            for (size_t k = 0; from && k < out->n && !have; k++) have = strcmp(out->v[k], from) == 0;
            if (from && !have && strcmp(from, runs[i].id) != 0) mp_strv_push(out, from);
        }
        store_step_array_free(ss, ns);
    }
}

static json_t *policy_json(const spec_retention_policy *p) {
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(p->meta.name));
    json_object_set_new(o, "namespace", json_string(p->meta.namespace_ ? p->meta.namespace_ : "default"));
    json_object_set_new(o, "experiment", p->experiment ? json_string(p->experiment) : json_null());
    json_object_set_new(o, "runsMs", json_integer(p->runs_ms));
    json_object_set_new(o, "logsMs", json_integer(p->logs_ms));
    json_object_set_new(o, "artifactsMs", json_integer(p->artifacts_ms));
    return o;
}

int engine_gc_policies(store *st, json_t **out, mp_err *e) {
    *out = NULL;
    sched_objects objs;
    const spec_retention_policy **pol = NULL;
    size_t np = 0;
    int rc = policies_load(st, &objs, &pol, &np, e);
    if (rc != 0) return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < np; i++) json_array_append_new(a, policy_json(pol[i]));
    free(pol);
    sched_objects_free(&objs);
    *out = a;
    return 0;
}

int engine_gc(store *st, const engine_gc_opts *o, json_t **report, mp_err *e) {
    *report = NULL;
    sched_objects objs;
    const spec_retention_policy **pol = NULL;
    size_t np = 0;
    int rc = policies_load(st, &objs, &pol, &np, e);
    if (rc != 0) return rc;
    store_run *runs = NULL;
    size_t nr = 0;
    store_model_version *vs = NULL;
    size_t nv = 0;
    store_reg_query q = {.limit = -1};
    if (np) rc = st->m->run_list(st, 0, &runs, &nr, e);
    if (rc == 0 && np) rc = st->r->version_search(st, &q, &vs, &nv, e);
    gc g = {.st = st, .o = o, .deleted = json_array(), .kept = json_array()};
    if (rc == 0) {
        engine_runs_settle(st, runs, nr);
        mp_strv reused_from = {0};
        reused(st, runs, nr, &reused_from);
        int64_t now = o->now_ms ? o->now_ms : mp_now_ms();
        for (size_t i = 0; i < nr && rc == 0; i++) {
            if (!store_run_state_final(runs[i].state) || runs[i].ended_ms <= 0) continue; /* never a run in progress */
            ttl t = ttl_of(pol, np, &runs[i]);
            if (t.policy) rc = collect_run(&g, &runs[i], &t, vs, nv, &reused_from, now, e);
        }
        mp_strv_free(&reused_from);
    }
    size_t orphans = 0;
    if (rc == 0 && !o->dry_run && o->home) rc = store_artstore_sweep(st, o->home, &orphans, e);
    json_t *r = json_object(), *pj = json_array();
    for (size_t i = 0; i < np; i++) json_array_append_new(pj, policy_json(pol[i]));
    json_object_set_new(r, "dryRun", json_boolean(o->dry_run));
    json_object_set_new(r, "policies", pj);
    json_object_set_new(r, "deleted", g.deleted);
    json_object_set_new(r, "kept", g.kept);
    json_t *tot = json_object();
    json_object_set_new(tot, "runs", json_integer(g.runs));
    json_object_set_new(tot, "logFiles", json_integer(g.log_files));
    json_object_set_new(tot, "artifactFiles", json_integer(g.artifact_files));
    json_object_set_new(tot, "bytes", json_integer(g.bytes));
    json_object_set_new(tot, "orphanBlobs", json_integer((json_int_t)orphans));
    json_object_set_new(r, "totals", tot);
    store_model_version_array_free(vs, nv);
    store_run_array_free(runs, nr);
    free(pol);
    sched_objects_free(&objs);
    if (rc != 0) {
        json_decref(r);
        return rc;
    }
    *report = r;
    return 0;
}
