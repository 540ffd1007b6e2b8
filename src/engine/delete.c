/* delete.c — removing a run for good (`mlplane delete run`, DELETE /api/v1/runs/ID):
 * its records in the store (sched's view, the MLflow run, cache entries) and the
 * folders it owns: HOME/runs/ID, its MLflow artifacts (HOME/artifacts/EXP/ID) and,
 * for a run submitted to a server, its submitted spec and inputs
 * (HOME/submitted/X). Refused, with nothing changed, for a run in progress
 * (unless force: it is cancelled first), for a run that holds the files of a
 * registered model version, and for a run whose outputs other runs reuse (cache
 * hits point into its folder). Runs on the caller's thread. */
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

/* Whether path is dir or lies inside it (both absolute and clean). */
static bool inside(const char *path, const char *dir) {
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The local path of an artifact location or a registry source (heap), or NULL
 * when it is not one (an URI of another scheme). */
static char *local_path(const char *home, const char *src) {
    static const char art[] = "mlflow-artifacts:/";
    if (!src) return NULL;
    if (mp_str_starts(src, "file://")) src += 7;
    if (mp_str_starts(src, art)) {
        const char *rest = src + sizeof art - 1;
        while (*rest == '/') rest++;
        char *joined = mp_xasprintf("%s/artifacts/%s", home, rest);
        char *clean = mp_path_abs(NULL, joined);
        free(joined);
        return clean;
    }
    return src[0] == '/' ? mp_path_abs(NULL, src) : NULL;
}

/* The folders run r owns (absolute, clean), into dirs: HOME/runs/ID first, then its
 * MLflow artifacts' folder when it has one, then its submitted spec's. */
void engine__run_dirs(store *st, const char *home, const store_run *r, mp_strv *dirs) {
    char *runs = mp_xasprintf("%s/runs/%s", home, r->id);
    char *p = mp_path_abs(NULL, runs);
    mp_strv_push(dirs, p);
    free(p);
    free(runs);
    /* its MLflow artifacts, when they are where a run's are kept: .../ID/artifacts */
    store_track_run tr = {0};
    if (st->t->run_get(st, r->id, &tr, NULL) == 0) {
        char *a = local_path(home, tr.artifact_uri);
        char *tail = mp_xasprintf("/%s/artifacts", r->id);
        size_t al = a ? strlen(a) : 0, tl = strlen(tail);
        if (a && al > tl && strcmp(a + al - tl, tail) == 0) {
            a[al - tl + 1 + strlen(r->id)] = '\0'; /* .../ID */
            mp_strv_push(dirs, a);
        }
        free(tail);
        free(a);
    }
    store_track_run_free(&tr);
    /* a server's copy of what was submitted: HOME/submitted/X(.yaml) */
    char *sub = mp_xasprintf("%s/submitted", home);
    char *subdir = mp_path_abs(NULL, sub);
    char *spec = r->spec_path ? mp_path_abs(NULL, r->spec_path) : NULL;
    if (spec && inside(spec, subdir) && strlen(spec) > strlen(subdir)) {
        const char *x = spec + strlen(subdir) + 1;
        size_t n = strcspn(x, "/");
        char *top = mp_xasprintf("%s/%.*s", subdir, (int)n, x);
        mp_strv_push(dirs, top);
        free(top);
    }
    free(spec);
    free(subdir);
    free(sub);
}

/* MP_ESTATE when a registered version's source lies in dirs, or names the run. */
static int check_versions(store *st, const char *home, const char *id, const mp_strv *dirs, mp_err *e) {
    store_reg_query q = {.limit = -1};
    store_model_version *vs = NULL;
    size_t n = 0;
    if (st->r->version_search(st, &q, &vs, &n, e) != 0) return MP_ESTORE;
    mp_buf held;
    mp_buf_init(&held);
    size_t count = 0;
    char *runs_uri = mp_xasprintf("runs:/%s/", id);
    for (size_t i = 0; i < n; i++) {
        char *p = local_path(home, vs[i].source);
        bool hit = vs[i].source && mp_str_starts(vs[i].source, runs_uri);
        for (size_t k = 0; p && k < dirs->n && !hit; k++) hit = inside(p, dirs->v[k]);
        free(p);
        if (!hit) continue;
        if (count++ < 5)
            mp_buf_printf(&held, "%s%s version %lld (%s)", count > 1 ? ", " : "", vs[i].name, (long long)vs[i].version,
                          vs[i].source);
    }
    free(runs_uri);
    int rc = 0;
    if (count)
        rc = mp_err_set(e, MP_ESTATE,
                        "run %s holds the files of %zu registered model version%s: %s%s; deleting it would break %s, so "
                        "nothing was deleted (delete th%s version%s first, or keep the run)",
                        id, count, count == 1 ? "" : "s", held.data, count > 5 ? ", ..." : "", count == 1 ? "it" : "them",
                        count == 1 ? "at" : "ose", count == 1 ? "" : "s");
    mp_buf_free(&held);
    store_model_version_array_free(vs, n);
    return rc;
}

/* MP_ESTATE when steps of other runs use outputs inside dirs (cache hits). */
static int check_reuse(store *st, const char *id, const mp_strv *dirs, mp_err *e) {
    store_run *runs = NULL;
    size_t n = 0;
    if (st->m->run_list(st, 0, &runs, &n, e) != 0) return MP_ESTORE;
    mp_buf users;
    mp_buf_init(&users);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(runs[i].id, id) == 0) continue;
        store_step *steps = NULL;
        size_t ns = 0;
        bool uses = false;
        if (st->m->step_list(st, runs[i].id, &steps, &ns, NULL) == 0)
            for (size_t j = 0; j < ns && !uses; j++) {
                uses = steps[j].cached_from && strcmp(steps[j].cached_from, id) == 0;
                char *o = steps[j].outputs_dir ? mp_path_abs(NULL, steps[j].outputs_dir) : NULL;
                for (size_t k = 0; o && k < dirs->n && !uses; k++) uses = inside(o, dirs->v[k]);
                free(o);
            }
        store_step_array_free(steps, ns);
        if (uses && count++ < 5) mp_buf_printf(&users, "%s%s", count > 1 ? ", " : "", runs[i].id);
    }
    store_run_array_free(runs, n);
    int rc = 0;
    if (count)
        rc = mp_err_set(e, MP_ESTATE,
                        "the outputs of run %s are reused by %zu other run%s (cache hits): %s%s; nothing was deleted "
                        "(delete th%s first)",
                        id, count, count == 1 ? "" : "s", users.data, count > 5 ? ", ..." : "", count == 1 ? "at one" : "ose");
    mp_buf_free(&users);
    return rc;
}

static int checks(store *st, const char *home, const store_run *r, const mp_strv *dirs, mp_err *e) {
    int rc = check_versions(st, home, r->id, dirs, e);
    if (rc == 0) rc = check_reuse(st, r->id, dirs, e);
    return rc;
}

int engine__run_remove(store *st, const char *id, const mp_strv *dirs, mp_err *e) {
    int rc = st->m->run_delete(st, id, e);
    for (size_t k = 0; rc == 0 && k < dirs->n; k++) {
        mp_err fe;
        if (mp_rm_rf(dirs->v[k], &fe) != 0)
            rc = mp_err_set(e, MP_EIO, "the records of run %s are deleted, but not all of its files: %s", id, fe.msg);
    }
    return rc;
}

int engine_run_delete(store *st, executor *x, const char *home, const char *run, bool force, int wait_ms,
                     char **deleted, mp_err *e) {
    *deleted = NULL;
    store_run r = {0};
    int rc = st->m->run_get(st, run, &r, e);
    if (rc == 0) engine_runs_settle(st, &r, 1);
    mp_strv dirs = {0};
    if (rc == 0) engine__run_dirs(st, home, &r, &dirs);
    if (rc == 0 && !store_run_state_final(r.state) && !force) {
        bool live = engine_owner_alive(&r);
        rc = mp_err_set(e, MP_ESTATE,
                        "run %s has not ended (%s%s); nothing was deleted: cancel it first (mlplane cancel %s), or "
                        "delete it with --force, which cancels it",
                        r.id, live ? store_run_state_name(r.state) : "Interrupted",
                        live ? "" : ": no process drives it", r.id);
    }
    if (rc == 0) rc = checks(st, home, &r, &dirs, e);
    if (rc == 0 && !store_run_state_final(r.state)) {
        engine_opts o = {.home = home};
        rc = engine_cancel(st, x, r.id, &o, wait_ms, e);
        if (rc == MP_ESTATE) rc = 0; /* it ended meanwhile */
        store_run cur = {0};
        if (rc == 0 && st->m->run_get(st, r.id, &cur, e) == 0 && !store_run_state_final(cur.state))
            rc = mp_err_set(e, MP_ESTATE, "run %s was asked to cancel but has not stopped within %d s; nothing was deleted",
                            r.id, wait_ms / 1000);
        store_run_free(&cur);
        /* a step that ended while it stopped may have registered a version */
        if (rc == 0) rc = checks(st, home, &r, &dirs, e);
    }
    if (rc == 0) rc = engine__run_remove(st, r.id, &dirs, e);
    if (rc == 0) *deleted = mp_xstrdup(r.id);
    mp_strv_free(&dirs);
    store_run_free(&r);
    return rc;
}
