/* track.c — a pipeline run is also an MLflow run (same id), in the experiment
 * named after its pipeline: params at submit, each step's metrics.json as metrics
 * (arrays become a metric's history, one point per step; names MLflow would
 * refuse are left out; a sweep trial's names are prefixed "S/i/"), the status at
 * the end.
 * Everything goes through the store's tracking methods inside the engine's
 * transactions, so the MLflow view never disagrees with the run's state.
 * Runs on the engine's thread. */
#include "engine/engine_int.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int engine__track_create(store *st, const store_run *r, const spec_kv *params, size_t nparams, const char *name_at,
                        mp_err *e) {
    assert(st->m->in_tx(st)); /* the MLflow run commits with the pipeline run */
    char *exp_id = NULL;
    int rc = st->t->experiment_get_or_create(st, r->pipeline, &exp_id, e);
    if (rc) return rc;
    store_experiment x;
    if (st->t->experiment_get(st, exp_id, &x, NULL) == 0) {
        /* the experiment belongs to the pipeline's namespace: one still in "default" (new) moves there */
        if (r->namespace_ && *r->namespace_ && strcmp(r->namespace_, "default") != 0 &&
            (!x.namespace_ || strcmp(x.namespace_, "default") == 0))
            rc = st->t->experiment_set_namespace(st, exp_id, r->namespace_, e);
        if (rc == 0 && strcmp(x.lifecycle_stage, "active") != 0)
            rc = mp_err_set(e, MP_ESTATE,
                            "experiment \"%s\" (id %s), where this pipeline's runs are tracked, is deleted; "
                            "restore it (POST /api/2.0/mlflow/experiments/restore {\"experiment_id\":\"%s\"} to "
                            "mlplane server) or give the pipeline another name%s%s%s",
                            x.name, x.experiment_id, x.experiment_id, name_at ? " (metadata.name at " : "",
                            name_at ? name_at : "", name_at ? ")" : "");
        store_experiment_free(&x);
        if (rc) {
            free(exp_id);
            return rc;
        }
    }
    store_kv tags[] = {
        {"mlflow.source.name", r->spec_path ? r->spec_path : ""},
        {"mlflow.source.type", "JOB"},
        {"mlplane.pipeline", r->pipeline},
        {"mlplane.namespace", r->namespace_},
    };
    store_track_run tr = {.run_id = r->id, .run_name = r->id, .experiment_id = exp_id, .status = "SCHEDULED",
                          .start_time = r->created_ms, .end_time = -1, .tags = tags,
                          .ntags = sizeof tags / sizeof tags[0]};
    rc = st->t->run_create(st, &tr, e);
    if (rc == 0 && nparams > 0) {
        store_kv *kv = mp_xcalloc(nparams, sizeof *kv);
        for (size_t i = 0; i < nparams; i++) kv[i] = (store_kv){params[i].key, params[i].value};
        rc = st->t->log_batch(st, r->id, NULL, 0, kv, nparams, NULL, 0, e);
        free(kv);
    }
    free(exp_id);
    return rc;
}

/* MLflow's rule for metric names: letters, digits, '_', '-', '.', ' ', '/', at
 * most 250 characters, and no path that climbs ("..") or starts at the root. */
static bool metric_key_ok(const char *k) {
    size_t n = strlen(k);
    if (n == 0 || n > 250 || k[0] == '/' || strstr(k, "..")) return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_-. /", *p)))
            return false;
    return true;
}

/* key (owned by the caller's list of keys) -> one point of v. */
static void add_point(store_track_metric **v, size_t *n, size_t *cap, char *key, json_t *val, int64_t step,
                      int64_t now) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = mp_xrealloc(*v, *cap * sizeof **v);
    }
    double d = 0;
    engine__metric_number(val, &d);
    (*v)[(*n)++] = (store_track_metric){key, d, now, step};
}

int engine__track_metrics(store *st, const char *run_id, const char *prefix, json_t *metrics, mp_err *e) {
    if (!json_is_object(metrics)) return 0;
    store_track_metric *v = NULL;
    size_t n = 0, cap = 0;
    int64_t now = mp_now_ms();
    mp_strv keys = {0};
    const char *key;
    json_t *val;
    json_object_foreach(metrics, key, val) {
        char *full = mp_xasprintf("%s%s", prefix ? prefix : "", key);
        if (!metric_key_ok(full)) {
            free(full);
            continue;
        }
        mp_strv_push_owned(&keys, full);
        double d;
        if (json_is_array(val)) {
            size_t i;
            json_t *x;
            json_array_foreach(val, i, x) if (engine__metric_number(x, &d)) add_point(&v, &n, &cap, full, x, (int64_t)i, now);
        } else if (engine__metric_number(val, &d)) {
            add_point(&v, &n, &cap, full, val, 0, now);
        }
    }
    int rc = 0;
    /* log_batch takes at most 1000 metrics a call, as MLflow's API does. */
    for (size_t off = 0; off < n && rc == 0; off += 1000)
        rc = st->t->log_batch(st, run_id, v + off, n - off < 1000 ? n - off : 1000, NULL, 0, NULL, 0, e);
    free(v);
    mp_strv_free(&keys);
    return rc;
}

int engine__track_finish(store *st, const char *run_id, int run_state, int64_t end_ms, mp_err *e) {
    const char *status = run_state == RUN_SUCCEEDED ? "FINISHED" : run_state == RUN_CANCELLED ? "KILLED"
                       : run_state == RUN_FAILED    ? "FAILED"
                                                    : "RUNNING";
    return st->t->run_update(st, run_id, status, store_run_state_final(run_state) ? end_ms : -1, NULL, e);
}
