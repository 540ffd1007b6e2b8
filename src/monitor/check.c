/* check.c — one check of a Monitor (kind: Monitor): its current sample (the newest
 * rows of a Deployment's request log, or a data file) against its reference (a
 * file, or the training data of the version the Deployment serves: the registered
 * version's tag mlplane.trainingData), compared by monitor_drift and recorded in
 * the store with an event when the verdict is news.
 *
 * The reference is prepared once (sorted values, quantile bins, category counts)
 * and kept in the caller's monitor_cache while its file, its columns and its bins
 * stay the same, so a long-lived Monitor sorts only its current rows at each check.
 * What is found is recorded, not returned as an error: a check that cannot run
 * (no log yet, no training data, a column of another type) is a Failed check with
 * the reason, and too few rows a Waiting one. Only a store failure is an error.
 * Thread: the caller's; a cache belongs to one thread at a time. */
#include "monitor/monitor.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- JSON of a drift result -------------------------------------------------------- */

static json_t *jnum(double x) { return isfinite(x) ? json_real(x) : x > 0 ? json_string("inf") : json_null(); }

json_t *monitor_column_drift_json(const monitor_column_drift *d) {
    json_t *o = json_object();
    json_object_set_new(o, "column", json_string(d->name));
    json_object_set_new(o, "type", json_string(monitor_col_type_name(d->type)));
    json_object_set_new(o, "kind", json_string(monitor_kind_name(d->kind)));
    json_object_set_new(o, "test", json_string(monitor_test_name(d->test)));
    json_object_set_new(o, "statistic", jnum(d->statistic));
    json_object_set_new(o, "p_value", jnum(d->p_value));
    json_object_set_new(o, "threshold", jnum(d->threshold));
    json_object_set_new(o, "drifted", json_boolean(d->drifted));
    json_object_set_new(o, "n_reference", json_integer((json_int_t)d->n_ref));
    json_object_set_new(o, "n_current", json_integer((json_int_t)d->n_cur));
    /* a numeric column's values are counted up to 6: null means more than 5 */
    json_object_set_new(o, "n_values", d->type == MONITOR_COL_TEXT || d->kind != MONITOR_KIND_NUMERIC
                                           ? json_integer((json_int_t)d->n_values)
                                           : json_null());
    json_object_set_new(o, "psi", jnum(d->psi));
    json_object_set_new(o, "bins", json_integer((json_int_t)d->nbins));
    json_object_set_new(o, "ks", json_pack("{s:o,s:o}", "statistic", jnum(d->ks_d), "p_value", jnum(d->ks_p)));
    json_object_set_new(o, "wasserstein",
                        json_pack("{s:o,s:o}", "distance", jnum(d->wasserstein), "normed", jnum(d->wasserstein_norm)));
    json_object_set_new(o, "chisquare", json_pack("{s:o,s:o}", "statistic", jnum(d->chi2), "p_value", jnum(d->chi2_p)));
    json_object_set_new(o, "z", json_pack("{s:o,s:o}", "statistic", jnum(d->z), "p_value", jnum(d->z_p)));
    json_object_set_new(o, "jensenshannon", jnum(d->js));
    json_object_set_new(o, "missing", json_pack("{s:o,s:o,s:o}", "reference", jnum(d->missing_ref), "current",
                                                jnum(d->missing_cur), "change", jnum(d->missing_change)));
    return o;
}

json_t *monitor_drift_summary_json(const monitor_drift_result *r) {
    return json_pack("{s:I,s:I,s:f,s:f,s:b}", "columns", (json_int_t)r->ntested, "drifted", (json_int_t)r->ndrifted,
                     "share", r->share, "drift_share", r->drift_share, "dataset_drift", r->drift);
}

/* ---- the reference, prepared and kept --------------------------------------------- */

void monitor_cache_free(monitor_cache *c) {
    if (c->built) monitor_reference_free(&c->ref);
    free(c->key);
    memset(c, 0, sizeof *c);
}

/* "PATH\nMTIME\nSIZE\nBINS\nCOL..." of what decides the prepared reference: its file
 * and the names the columns are picked from (spec.columns, else the current rows'). */
static char *ref_key(const char *path, const struct stat *sb, size_t bins, const char *const *names, size_t n) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "%s\n%lld.%09ld\n%lld\n%zu", path, (long long)sb->st_mtim.tv_sec, sb->st_mtim.tv_nsec,
                  (long long)sb->st_size, bins);
    for (size_t i = 0; i < n; i++) mp_buf_printf(&b, "\n%s", names[i]);
    return mp_buf_steal(&b);
}

/* ---- one check --------------------------------------------------------------------- */

typedef struct checker {
    store *st;
    const spec_monitor *m;
    const monitor_target *t;
    store_monitor_check *out;
    mp_buf msg;
} checker;

static void say(checker *k, const char *status, const char *fmt, ...) MP_PRINTF(3, 4);
static void say(checker *k, const char *status, const char *fmt, ...) {
    free(k->out->status);
    k->out->status = mp_xstrdup(status);
    mp_buf_reset(&k->msg);
    va_list ap;
    va_start(ap, fmt);
    mp_buf_vprintf(&k->msg, fmt, ap);
    va_end(ap);
}

/* The reference file: spec.reference.path, or the served version's training data. NULL
 * (with the check said Failed) when there is none. Heap. */
static char *reference_path(checker *k) {
    const spec_monitor *m = k->m;
    if (m->reference) return mp_path_abs(k->t->spec_dir, m->reference);
    if (!k->t->model || !k->t->version) {
        say(k, "Failed", "deployment %s serves no known model version yet, so it has no training data to compare "
                         "with (set spec.reference.path)",
            m->deployment);
        return NULL;
    }
    char *end;
    long long v = strtoll(k->t->version, &end, 10);
    store_model_version mv = {0};
    mp_err e = {0};
    if (*end || v < 1 || k->st->r->version_get(k->st, k->t->model, v, &mv, &e) != 0) {
        say(k, "Failed", "model %s version %s is not in the registry: %s", k->t->model, k->t->version,
            *e.msg ? e.msg : "not a version number");
        return NULL;
    }
    char *path = NULL;
    for (size_t i = 0; i < mv.ntags && !path; i++)
        if (strcmp(mv.tags[i].key, STORE_TAG_TRAINING_DATA) == 0) path = mp_xstrdup(mv.tags[i].value);
    store_model_version_free(&mv);
    if (!path)
        say(k, "Failed", "model %s version %s has no training data recorded (its tag %s; the step that registered "
                         "it read no .csv input): set spec.reference.path",
            k->t->model, k->t->version, STORE_TAG_TRAINING_DATA);
    return path;
}

/* The current rows: the request log's window, or the data file. */
static bool current_rows(checker *k, int64_t now_ms, monitor_table *cur) {
    const spec_monitor *m = k->m;
    mp_err e = {0};
    if (m->data) {
        char *path = mp_path_abs(k->t->spec_dir, m->data);
        int rc = monitor_table_read(path, false, cur, &e);
        free(path);
        if (rc != 0) say(k, "Failed", "the current data: %s", e.msg);
        return rc == 0;
    }
    char *log = mp_xasprintf("%s/serving/%s/requests.log", k->t->home, m->deployment);
    monitor_reqlog_opts o = {.window_rows = m->window_rows,
                             .since_ms = m->window_s ? now_ms - (int64_t)m->window_s * 1000 : 0,
                             .version = k->t->version};
    monitor_reqlog_counts cnt;
    int rc = monitor_reqlog_read(log, &o, cur, &cnt, &e);
    free(log);
    if (rc == MP_ENOENT) say(k, "Waiting", "%s", e.msg);
    else if (rc != 0) say(k, "Failed", "%s", e.msg);
    return rc == 0;
}

/* The columns compared: spec.columns, else every column of the reference that the
 * current rows have too (in the reference's order). */
static bool pick_columns(checker *k, const monitor_table *ref, const monitor_table *cur, mp_strv *cols) {
    const spec_monitor *m = k->m;
    if (m->ncolumns) {
        for (size_t i = 0; i < m->ncolumns; i++) {
            const char *side = !monitor_table_column(ref, m->columns[i]) ? "the reference"
                               : !monitor_table_column(cur, m->columns[i]) ? "the current rows"
                                                                           : NULL;
            if (side) {
                say(k, "Failed", "spec.columns names \"%s\", which %s do%s not have", m->columns[i], side,
                    strcmp(side, "the reference") == 0 ? "es" : "");
                return false;
            }
            mp_strv_push(cols, m->columns[i]);
        }
        return true;
    }
    for (size_t j = 0; j < ref->ncols; j++)
        if (monitor_table_column(cur, ref->cols[j].name)) mp_strv_push(cols, ref->cols[j].name);
    if (cols->n == 0)
        say(k, "Failed", "the reference and the current rows have no column in common (the current rows have "
                         "%zu columns, f0 ...; the reference's first is \"%s\")",
            cur->ncols, ref->ncols ? ref->cols[0].name : "");
    return cols->n > 0;
}

/* The reference prepared in cache: kept while its file and the names its columns are
 * picked from are the same, else read and prepared again. */
static bool prepare_reference(checker *k, const char *path, const monitor_table *cur, monitor_cache *cache) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        say(k, "Failed", "the reference %s cannot be read: %s", path, strerror(errno));
        return false;
    }
    mp_strv names = {0};
    if (k->m->ncolumns)
        for (size_t i = 0; i < k->m->ncolumns; i++) mp_strv_push(&names, k->m->columns[i]);
    else
        for (size_t j = 0; j < cur->ncols; j++) mp_strv_push(&names, cur->cols[j].name);
    char *key = ref_key(path, &sb, MONITOR_BINS_DEFAULT, (const char *const *)names.v, names.n);
    mp_strv_free(&names);
    if (cache->built && cache->key && strcmp(cache->key, key) == 0) {
        free(key);
        return true;
    }
    monitor_cache_free(cache);
    monitor_table ref;
    mp_err e = {0};
    if (monitor_table_read(path, false, &ref, &e) != 0) {
        say(k, "Failed", "the reference: %s", e.msg);
        free(key);
        return false;
    }
    mp_strv cols = {0};
    bool ok = pick_columns(k, &ref, cur, &cols);
    if (ok && monitor_reference_build(&ref, (const char *const *)cols.v, cols.n, 0, 0, &cache->ref, &e) != 0) {
        say(k, "Failed", "the reference %s: %s", path, e.msg);
        monitor_reference_free(&cache->ref);
        ok = false;
    }
    if (ok) {
        cache->built = true;
        cache->key = key;
        key = NULL;
    }
    free(key);
    mp_strv_free(&cols);
    monitor_table_free(&ref);
    return ok;
}

/* The drift options of spec m; per (heap, m->nstattests + m->nthresholds) freed by the caller. */
static bool options(checker *k, monitor_drift_options *o, monitor_column_option **per) {
    const spec_monitor *m = k->m;
    monitor_drift_options_init(o);
    if (m->stattest) o->test = (monitor_test)monitor_test_parse(m->stattest);
    if (!isnan(m->threshold)) o->threshold = m->threshold;
    o->drift_share = m->drift_share;
    size_t n = 0, cap = m->nstattests + m->nthresholds;
    *per = mp_xcalloc(cap ? cap : 1, sizeof **per);
    for (size_t i = 0; i < m->nstattests; i++)
        (*per)[n++] = (monitor_column_option){.column = m->stattests[i].key,
                                              .test = (monitor_test)monitor_test_parse(m->stattests[i].value),
                                              .threshold = NAN};
    for (size_t i = 0; i < m->nthresholds; i++) {
        monitor_column_option *c = NULL;
        for (size_t j = 0; j < n && !c; j++)
            if (strcmp((*per)[j].column, m->thresholds[i].column) == 0) c = &(*per)[j];
        if (!c) {
            c = &(*per)[n++];
            *c = (monitor_column_option){.column = m->thresholds[i].column, .test = MONITOR_TEST_AUTO};
        }
        c->threshold = m->thresholds[i].value;
    }
    o->per_column = *per;
    o->nper_column = n;
    return true;
}

static void found(checker *k, const monitor_drift_result *r) {
    store_monitor_check *out = k->out;
    out->ncolumns = (int)r->ntested;
    out->ndrifted = (int)r->ndrifted;
    out->share = r->share;
    mp_buf names;
    mp_buf_init(&names);
    for (size_t j = 0, shown = 0; j < r->ncols; j++) {
        if (!r->cols[j].drifted) continue;
        if (shown++ < 10) mp_buf_printf(&names, "%s%s", names.len ? ", " : "", r->cols[j].name);
        else if (shown == 11) mp_buf_printf(&names, ", ...");
    }
    if (r->drift)
        say(k, "Drift", "drift: %zu of %zu columns drifted (%.0f%%; the data set drifts at %.0f%%): %s", r->ndrifted,
            r->ntested, 100 * r->share, 100 * r->drift_share, names.data);
    else if (r->ndrifted)
        say(k, "NoDrift", "no data set drift: %zu of %zu columns drifted (%.0f%%, below %.0f%%): %s", r->ndrifted,
            r->ntested, 100 * r->share, 100 * r->drift_share, names.data);
    else
        say(k, "NoDrift", "no drift: 0 of %zu columns drifted", r->ntested);
    mp_buf_free(&names);
    json_t *cols = json_array();
    for (size_t j = 0; j < r->ncols; j++) json_array_append_new(cols, monitor_column_drift_json(&r->cols[j]));
    json_t *j = json_pack("{s:o,s:o}", "drift", monitor_drift_summary_json(r), "columns", cols);
    out->result_json = json_dumps(j, JSON_COMPACT);
    json_decref(j);
}

static void run_check(checker *k, int64_t now_ms, monitor_cache *cache) {
    monitor_table cur = {0};
    char *ref_path = NULL;
    monitor_column_option *per = NULL;
    if (!current_rows(k, now_ms, &cur)) goto done;
    k->out->n_cur = (int64_t)cur.nrows;
    if ((int64_t)cur.nrows < k->m->min_rows) {
        say(k, "Waiting", "%zu rows to compare, %lld needed (spec.minRows)", cur.nrows, (long long)k->m->min_rows);
        goto done;
    }
    if (!(ref_path = reference_path(k))) goto done;
    if (!prepare_reference(k, ref_path, &cur, cache)) goto done;
    k->out->n_ref = cache->ref.ncols ? (int64_t)cache->ref.cols[0].nrows : 0;
    monitor_drift_options o;
    options(k, &o, &per);
    monitor_drift_result r;
    mp_err e = {0};
    if (monitor_drift(&cache->ref, &cur, &o, &r, &e) != 0) say(k, "Failed", "%s", e.msg);
    else found(k, &r);
    monitor_drift_result_free(&r);
done:
    free(per);
    free(ref_path);
    monitor_table_free(&cur);
}

int monitor_check(store *st, const spec_monitor *m, const monitor_target *t, monitor_cache *cache,
                  store_monitor_check *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    checker k = {.st = st, .m = m, .t = t, .out = out};
    mp_buf_init(&k.msg);
    out->monitor = mp_xstrdup(m->meta.name);
    out->time_ms = mp_now_ms();
    out->version = t->version ? mp_xstrdup(t->version) : NULL;
    run_check(&k, out->time_ms, cache);
    out->message = mp_buf_steal(&k.msg);
    /* the last check decides whether this one is news; the last verdict (Drift or
     * NoDrift, over Waiting and Failed checks) whether drift is resolved */
    store_monitor_check *prev = NULL;
    size_t nprev = 0;
    int rc = st->o->monitor_check_list(st, m->meta.name, 1, &prev, &nprev, e);
    if (rc == 0 && nprev && strcmp(prev[0].status, "Drift") != 0 && strcmp(prev[0].status, "NoDrift") != 0) {
        /* a Waiting or Failed check: the verdict is further back (rarely needed) */
        store_monitor_check_array_free(prev, nprev);
        rc = st->o->monitor_check_list(st, m->meta.name, STORE_MONITOR_CHECKS_MAX, &prev, &nprev, e);
    }
    const char *was = rc == 0 && nprev ? prev[0].status : NULL, *verdict = NULL;
    for (size_t i = 0; rc == 0 && i < nprev && !verdict; i++)
        if (strcmp(prev[i].status, "Drift") == 0 || strcmp(prev[i].status, "NoDrift") == 0) verdict = prev[i].status;
    if (rc == 0) rc = st->m->begin(st, e);
    if (rc == 0) {
        rc = st->o->monitor_check_add(st, out, e);
        const char *type = NULL;
        if (strcmp(out->status, "Drift") == 0) type = "DriftDetected";
        else if (strcmp(out->status, "Failed") == 0) type = "CheckFailed";
        else if (strcmp(out->status, "Waiting") == 0 && !(was && strcmp(was, "Waiting") == 0)) type = "Waiting";
        else if (strcmp(out->status, "NoDrift") == 0 && verdict && strcmp(verdict, "Drift") == 0)
            type = "DriftResolved";
        if (rc == 0 && type) rc = st->o->monitor_event_add(st, m->meta.name, type, out->message, e);
        if (rc == 0) rc = st->m->commit(st, e);
        else st->m->rollback(st);
    }
    store_monitor_check_array_free(prev, nprev);
    return rc;
}
