/* retention.c — kind RetentionPolicy: how long a namespace's (or one experiment's)
 * finished runs, their logs and their artifacts are kept before `mlplane gc`
 * deletes them (docs/lineage.md).
 *
 *   apiVersion: mlplane.dev/v1
 *   kind: RetentionPolicy
 *   metadata: {name: team-a, namespace: team-a}   # the namespace it applies to
 *   spec:
 *     experiment: churn      # optional: only this experiment's runs (a pipeline's name)
 *     runs: 30d              # a run's records and folders, counted from its end
 *     logs: 7d               # its steps' logs (the run stays)
 *     artifacts: 90d         # its steps' outputs and MLflow artifacts (the run stays)
 *
 * Durations are an integer and a unit: s, m, h, d or w; a field left out keeps
 * that kind of thing forever, and at least one must be given. Pure; reentrant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/internal.h"

static const char *const RETENTION_FIELDS[] = {"experiment", "runs", "logs", "artifacts", NULL};

int spec_duration_parse(const char *s, int64_t *ms) {
    static const struct { char unit; int64_t ms; } units[] = {
        {'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}, {'w', 604800000}};
    char *end = NULL;
    if (!s || s[0] < '0' || s[0] > '9') return -1;
    long long n = strtoll(s, &end, 10);
    if (!end || end[0] == '\0' || end[1] != '\0' || n <= 0 || n > 100000) return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (units[i].unit == end[0]) {
            *ms = (int64_t)n * units[i].ms;
            return 0;
        }
    return -1;
}

static void decode_ttl(spec__ctx *c, struct fy_node *spec, const char *key, int64_t *out, int *given) {
    struct fy_node *v;
    spec_pos kp;
    if (!spec__lookup(spec, key, &v, &kp) || spec__is_null(v)) return;
    char path[32], *s = NULL;
    snprintf(path, sizeof path, "spec.%s", key);
    if (!spec__get_str(c, v, kp, path, &s)) return;
    if (spec_duration_parse(s, out) != 0)
        spec__err(c, spec__pos(v, kp), "%s: \"%s\" is not a duration: write a positive integer and a unit, s, m, h, d "
                                       "or w (e.g. 30d)",
                  path, s);
    else (*given)++;
    free(s);
}

bool spec__decode_retention(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                            spec_pos sp, spec_object *o) {
    (void)root, (void)rp;
    spec_retention_policy *r = mp_xcalloc(1, sizeof *r);
    r->meta = *meta;
    memset(meta, 0, sizeof *meta);
    r->pos = sp;
    o->u.retention = r;
    size_t before = c->diags->n;
    if (!spec__open_map(c, spec, sp, "spec", RETENTION_FIELDS)) return true;
    struct fy_node *v;
    spec_pos kp;
    if (spec__lookup(spec, "experiment", &v, &kp) && !spec__is_null(v) &&
        spec__get_str(c, v, kp, "spec.experiment", &r->experiment) && !*r->experiment)
        spec__err(c, spec__pos(v, kp), "spec.experiment is empty: name an experiment (a pipeline's name), or leave "
                                       "it out for the whole namespace");
    int given = 0;
    decode_ttl(c, spec, "runs", &r->runs_ms, &given);
    decode_ttl(c, spec, "logs", &r->logs_ms, &given);
    decode_ttl(c, spec, "artifacts", &r->artifacts_ms, &given);
    if (given == 0 && c->diags->n == before)
        spec__err(c, sp, "RetentionPolicy \"%s\": give at least one of spec.runs, spec.logs, spec.artifacts (e.g. "
                         "runs: 30d)",
                  r->meta.name ? r->meta.name : "");
    return true;
}

void spec_retention_policy_free(spec_retention_policy *r) {
    if (!r) return;
    spec__meta_free(&r->meta);
    free(r->experiment);
    free(r);
}
