/* monitor.c — kind: Monitor, drift of what a Deployment receives or of a data file,
 * checked on a schedule against a reference (docs/monitor.md).
 *
 *   spec:
 *     deployment: breast-cancer          # its request log; or data: {path: current.csv}
 *     reference: {path: train.csv}       # default: the training data of the served version
 *     schedule: {intervalSeconds: 300}
 *     window: {rows: 1000}               # or {seconds: 3600}
 *     minRows: 100
 *     columns: [f0, f3]                  # default: every column both sides have
 *     stattest: ks                       # default: Evidently's choice per column
 *     stattests: {f3: psi}
 *     threshold: 0.05
 *     thresholds: {f3: 0.2}
 *     driftShare: 0.5
 *     actions:
 *       cooldownSeconds: 3600
 *       retrain: {pipeline: breast-cancer, params: {rounds: "200"}}
 *       promote: canary                  # none | canary | auto
 *       canaryPercent: 10
 *       promoteAfterRequests: 100
 *       webhook: {url: "http://127.0.0.1:9000/alert"}
 *
 * Each field's type and range is checked where it is read; the rules between fields
 * (exactly one of deployment and data; promote needs retrain and a deployment) once
 * the whole spec is read. Names (the Deployment, the pipeline) are looked up when
 * the Monitor runs, not here. Pure; reentrant. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

const char *const SPEC_STATTESTS[] = {"ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi", NULL};

static const char *const MONITOR_FIELDS[] = {"deployment", "data",    "reference", "schedule",  "window",
                                             "minRows",    "columns", "stattest",  "stattests", "threshold",
                                             "thresholds", "driftShare", "actions", NULL};
static const char *const PATH_FIELDS[] = {"path", NULL};
static const char *const SCHEDULE_FIELDS[] = {"intervalSeconds", NULL};
static const char *const WINDOW_FIELDS[] = {"rows", "seconds", NULL};
static const char *const ACTION_FIELDS[] = {"cooldownSeconds", "retrain", "promote", "canaryPercent",
                                            "promoteAfterRequests", "webhook", NULL};
static const char *const RETRAIN_FIELDS[] = {"pipeline", "params", NULL};
static const char *const WEBHOOK_FIELDS[] = {"url", NULL};
static const char *const PROMOTE[] = {"none", "canary", "auto", NULL};

#define DEFAULT_INTERVAL_S 300
#define DEFAULT_WINDOW_ROWS 1000
#define DEFAULT_MIN_ROWS 100
#define DEFAULT_COOLDOWN_S 3600
#define DEFAULT_CANARY_PERCENT 10
#define DEFAULT_PROMOTE_AFTER 100

static bool field(struct fy_node *m, const char *key, struct fy_node **v, spec_pos *kp) {
    return spec__lookup(m, key, v, kp) && !spec__is_null(*v);
}

/* {path: P} at path: P into *out. */
static void decode_path(spec__ctx *c, struct fy_node *v, spec_pos kp, const char *path, char **out) {
    if (!spec__open_map(c, v, kp, path, PATH_FIELDS)) return;
    struct fy_node *x;
    spec_pos xk;
    char *sub = mp_xasprintf("%s.path", path);
    if (!field(v, "path", &x, &xk))
        spec__err(c, spec__pos(v, kp), "missing required field \"%s\" (a CSV file, relative to this file)", sub);
    else if (spec__get_str(c, x, xk, sub, out) && !**out)
        spec__err(c, spec__pos(x, xk), "field \"%s\" is empty: name a CSV file", sub);
    free(sub);
}

static void decode_columns(spec__ctx *c, spec_monitor *m, struct fy_node *v, spec_pos kp) {
    if (!spec__expect(c, v, kp, "spec.columns", FYNT_SEQUENCE)) return;
    size_t n = (size_t)fy_node_sequence_item_count(v);
    m->columns = mp_xcalloc(n ? n : 1, sizeof *m->columns);
    void *it = NULL;
    struct fy_node *x;
    size_t i = 0;
    while ((x = fy_node_sequence_iterate(v, &it))) {
        char path[48];
        snprintf(path, sizeof path, "spec.columns[%zu]", i++);
        char *s = NULL;
        if (!spec__get_str(c, x, kp, path, &s)) continue;
        bool dup = false;
        for (size_t j = 0; j < m->ncolumns && !dup; j++) dup = strcmp(m->columns[j], s) == 0;
        if (dup || !*s) {
            spec__err(c, spec__pos(x, kp), "%s: %s", path, dup ? "the column is named twice" : "empty column name");
            free(s);
            continue;
        }
        m->columns[m->ncolumns++] = s;
    }
    if (n == 0) spec__err(c, spec__pos(v, kp), "spec.columns is empty: name columns, or leave it out for all");
}

static void decode_stattests(spec__ctx *c, spec_monitor *m, struct fy_node *v, spec_pos kp) {
    spec__decode_string_map(c, v, kp, "spec.stattests", &m->stattests, &m->nstattests);
    for (size_t i = 0; i < m->nstattests; i++) {
        bool ok = false;
        for (size_t k = 0; SPEC_STATTESTS[k] && !ok; k++) ok = strcmp(SPEC_STATTESTS[k], m->stattests[i].value) == 0;
        if (!ok) {
            char *all = spec__join(SPEC_STATTESTS, 6);
            spec__err(c, m->stattests[i].pos, "spec.stattests.%s: \"%s\" is not a drift test; use one of %s",
                      m->stattests[i].key, m->stattests[i].value, all);
            free(all);
        }
    }
}

static void decode_thresholds(spec__ctx *c, spec_monitor *m, struct fy_node *v, spec_pos kp) {
    if (!spec__expect(c, v, kp, "spec.thresholds", FYNT_MAPPING)) return;
    size_t n = (size_t)fy_node_mapping_item_count(v);
    m->thresholds = mp_xcalloc(n ? n : 1, sizeof *m->thresholds);
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(v, &it))) {
        char *key = spec__scalar_dup(fy_node_pair_key(p));
        struct fy_node *x = fy_node_pair_value(p);
        char *path = mp_xasprintf("spec.thresholds.%s", key ? key : "?");
        double t;
        if (key && spec__get_number(c, x, kp, path, 0, &t)) {
            spec_col_value *cv = &m->thresholds[m->nthresholds++];
            cv->column = key;
            cv->value = t;
            cv->pos = spec__pos(x, kp);
            key = NULL;
        }
        free(key);
        free(path);
    }
}

static void decode_actions(spec__ctx *c, spec_monitor *m, struct fy_node *v, spec_pos kp) {
    if (!spec__open_map(c, v, kp, "spec.actions", ACTION_FIELDS)) return;
    struct fy_node *x;
    spec_pos xk;
    long long n;
    if (field(v, "cooldownSeconds", &x, &xk) &&
        spec__get_int(c, x, xk, "spec.actions.cooldownSeconds", 0, SPEC_MONITOR_MAX_INTERVAL_S, &n))
        m->cooldown_s = (int)n;
    if (field(v, "canaryPercent", &x, &xk) && spec__get_int(c, x, xk, "spec.actions.canaryPercent", 1, 100, &n))
        m->canary_percent = (int)n;
    if (field(v, "promoteAfterRequests", &x, &xk) &&
        spec__get_int(c, x, xk, "spec.actions.promoteAfterRequests", 1, SPEC_MONITOR_MAX_WINDOW_ROWS, &n))
        m->promote_after = n;
    int pr;
    spec_pos promote_pos = spec__pos(v, kp);
    if (field(v, "promote", &x, &xk) && (pr = spec__get_enum(c, x, xk, "spec.actions.promote", PROMOTE)) >= 0) {
        m->promote = (spec_promote)pr;
        promote_pos = spec__pos(x, xk);
    }
    if (field(v, "retrain", &x, &xk) && spec__open_map(c, x, xk, "spec.actions.retrain", RETRAIN_FIELDS)) {
        struct fy_node *y;
        spec_pos yk;
        if (!field(x, "pipeline", &y, &yk))
            spec__err(c, spec__pos(x, xk),
                      "missing required field \"spec.actions.retrain.pipeline\" (an applied Pipeline's name)");
        else
            spec__get_str(c, y, yk, "spec.actions.retrain.pipeline", &m->retrain_pipeline);
        if (field(x, "params", &y, &yk))
            spec__decode_string_map(c, y, yk, "spec.actions.retrain.params", &m->retrain_params,
                                    &m->nretrain_params);
    }
    if (field(v, "webhook", &x, &xk) && spec__open_map(c, x, xk, "spec.actions.webhook", WEBHOOK_FIELDS)) {
        struct fy_node *y;
        spec_pos yk;
        if (!field(x, "url", &y, &yk))
            spec__err(c, spec__pos(x, xk), "missing required field \"spec.actions.webhook.url\" (http:// or https://)");
        else if (spec__get_str(c, y, yk, "spec.actions.webhook.url", &m->webhook_url) &&
                 !mp_str_starts(m->webhook_url, "http://") && !mp_str_starts(m->webhook_url, "https://"))
            spec__err(c, spec__pos(y, yk), "spec.actions.webhook.url \"%s\" is not an http:// or https:// URL",
                      m->webhook_url);
    }
    if (m->promote != SPEC_PROMOTE_NONE && !m->retrain_pipeline)
        spec__err(c, promote_pos, "spec.actions.promote %s needs spec.actions.retrain: the version it rolls out is "
                                  "the retrained one",
                  PROMOTE[m->promote]);
    if (m->promote != SPEC_PROMOTE_NONE && !m->deployment && !m->data)
        return; /* the missing source is reported by the caller */
    if (m->promote != SPEC_PROMOTE_NONE && !m->deployment)
        spec__err(c, promote_pos, "spec.actions.promote %s needs spec.deployment: a canary is of a Deployment",
                  PROMOTE[m->promote]);
}

static void decode_scalars(spec__ctx *c, spec_monitor *m, struct fy_node *spec) {
    struct fy_node *v;
    spec_pos kp;
    long long n;
    if (field(spec, "deployment", &v, &kp)) spec__get_str(c, v, kp, "spec.deployment", &m->deployment);
    if (field(spec, "data", &v, &kp)) decode_path(c, v, kp, "spec.data", &m->data);
    if (field(spec, "reference", &v, &kp)) decode_path(c, v, kp, "spec.reference", &m->reference);
    if (field(spec, "schedule", &v, &kp) && spec__open_map(c, v, kp, "spec.schedule", SCHEDULE_FIELDS)) {
        struct fy_node *x;
        spec_pos xk;
        if (field(v, "intervalSeconds", &x, &xk) &&
            spec__get_int(c, x, xk, "spec.schedule.intervalSeconds", 1, SPEC_MONITOR_MAX_INTERVAL_S, &n))
            m->interval_s = (int)n;
    }
    if (field(spec, "window", &v, &kp) && spec__open_map(c, v, kp, "spec.window", WINDOW_FIELDS)) {
        struct fy_node *x;
        spec_pos xk, rk = kp;
        bool rows = field(v, "rows", &x, &rk);
        if (rows && spec__get_int(c, x, rk, "spec.window.rows", 1, SPEC_MONITOR_MAX_WINDOW_ROWS, &n))
            m->window_rows = n;
        if (field(v, "seconds", &x, &xk)) {
            if (rows)
                spec__err(c, spec__pos(x, xk), "spec.window has both rows and seconds; give one of them");
            else if (spec__get_int(c, x, xk, "spec.window.seconds", 1, SPEC_MONITOR_MAX_INTERVAL_S, &n)) {
                m->window_s = (int)n;
                m->window_rows = 0;
            }
        }
    }
    if (field(spec, "minRows", &v, &kp))
        if (spec__get_int(c, v, kp, "spec.minRows", 1, SPEC_MONITOR_MAX_WINDOW_ROWS, &n)) m->min_rows = n;
    if (field(spec, "columns", &v, &kp)) decode_columns(c, m, v, kp);
    if (field(spec, "stattest", &v, &kp)) {
        int t = spec__get_enum(c, v, kp, "spec.stattest", SPEC_STATTESTS);
        if (t >= 0) m->stattest = mp_xstrdup(SPEC_STATTESTS[t]);
    }
    if (field(spec, "stattests", &v, &kp)) decode_stattests(c, m, v, kp);
    if (field(spec, "threshold", &v, &kp)) spec__get_number(c, v, kp, "spec.threshold", 0, &m->threshold);
    if (field(spec, "thresholds", &v, &kp)) decode_thresholds(c, m, v, kp);
    if (field(spec, "driftShare", &v, &kp)) {
        double s;
        if (spec__get_range(c, v, kp, "spec.driftShare", 0, 1, &s)) {
            if (s > 0)
                m->drift_share = s;
            else
                spec__err(c, spec__pos(v, kp), "spec.driftShare must be above 0 (a share of columns, up to 1)");
        }
    }
}

bool spec__decode_monitor(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                          spec_pos sp, spec_object *o) {
    (void)root, (void)rp;
    spec_monitor *m = mp_xcalloc(1, sizeof *m);
    m->meta = *meta;
    memset(meta, 0, sizeof *meta);
    o->u.monitor = m;
    m->interval_s = DEFAULT_INTERVAL_S;
    m->window_rows = DEFAULT_WINDOW_ROWS;
    m->min_rows = DEFAULT_MIN_ROWS;
    m->threshold = NAN;
    m->drift_share = 0.5;
    m->cooldown_s = DEFAULT_COOLDOWN_S;
    m->canary_percent = DEFAULT_CANARY_PERCENT;
    m->promote_after = DEFAULT_PROMOTE_AFTER;
    m->pos = spec__pos(spec, sp);
    if (!spec__open_map(c, spec, sp, "spec", MONITOR_FIELDS)) return true;
    decode_scalars(c, m, spec);
    if (m->deployment && m->data)
        spec__err(c, m->pos, "spec has both deployment and data; a Monitor watches one of them");
    else if (!m->deployment && !m->data)
        spec__err(c, m->pos,
                  "missing spec.deployment (a Deployment whose request log is watched) or spec.data.path (a CSV "
                  "file a step refreshes)");
    if (m->data && !m->reference)
        spec__err(c, m->pos, "spec.data needs spec.reference.path: only a Deployment's model has training data to "
                             "compare with");
    struct fy_node *v;
    spec_pos kp;
    if (field(spec, "actions", &v, &kp)) decode_actions(c, m, v, kp);
    return true;
}

void spec_monitor_free(spec_monitor *m) {
    if (!m) return;
    spec__meta_free(&m->meta);
    free(m->deployment);
    free(m->data);
    free(m->reference);
    for (size_t i = 0; i < m->ncolumns; i++) free(m->columns[i]);
    free(m->columns);
    free(m->stattest);
    for (size_t i = 0; i < m->nstattests; i++) free(m->stattests[i].key), free(m->stattests[i].value);
    free(m->stattests);
    for (size_t i = 0; i < m->nthresholds; i++) free(m->thresholds[i].column);
    free(m->thresholds);
    free(m->retrain_pipeline);
    for (size_t i = 0; i < m->nretrain_params; i++) free(m->retrain_params[i].key), free(m->retrain_params[i].value);
    free(m->retrain_params);
    free(m->webhook_url);
    free(m);
}
