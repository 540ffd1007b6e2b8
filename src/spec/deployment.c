/* deployment.c — kind: Deployment, versions of a registered model served by
 * `mlplane server` (KServe-flavoured; docs/serving-rollout.md).
 *
 *   spec:
 *     model: {name: breast-cancer, version: 3}       # or alias: champion
 *     canary: {version: 4, percent: 10}              # 10% of the requests
 *     shadow: {alias: challenger, sampleRate: 0.5}   # a copy of half of them; answers only logged
 *     replicas: {min: 0, max: 4}
 *     autoscale: {metric: concurrency, target: 8,
 *                 scaleUpStabilizationSeconds: 0, scaleDownStabilizationSeconds: 300}
 *     scaleToZeroAfterSeconds: 600
 *     stickyHeader: X-User                           # same header value, same version
 *     requestLog: {sampleRate: 0.1, maxBytes: 64Mi, keep: 5}
 *     listen: 127.0.0.1:8080
 *     auth: {inference: token}                       # default public; /admin/ always needs credentials
 *
 * Each field's type and range is checked where it is read. The rules between fields
 * (exactly one of version and alias; replicas against autoscale and scale to zero;
 * a canary or shadow that is the stable version again) are checked once the whole
 * spec is read, each at the position of the field that breaks it. Names, versions
 * and aliases are not looked up in the registry here: that happens when the
 * deployment is applied. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec/internal.h"

static const char *const DEPLOYMENT_FIELDS[] = {"model",     "canary",       "shadow",     "replicas",
                                                "autoscale", "stickyHeader", "requestLog", "listen",
                                                "scaleToZeroAfterSeconds", "auth", NULL};
static const char *const MODEL_FIELDS[] = {"name", "version", "alias", NULL};
static const char *const CANARY_FIELDS[] = {"version", "alias", "percent", NULL};
static const char *const SHADOW_FIELDS[] = {"version", "alias", "sampleRate", NULL};
static const char *const REPLICAS_FIELDS[] = {"min", "max", NULL};
static const char *const AUTOSCALE_FIELDS[] = {"metric", "target", "scaleUpStabilizationSeconds",
                                               "scaleDownStabilizationSeconds", NULL};
static const char *const REQUEST_LOG_FIELDS[] = {"sampleRate", "maxBytes", "keep", NULL};
static const char *const METRICS[] = {"concurrency", "rps", NULL};
static const char *const AUTH_FIELDS[] = {"inference", NULL};
static const char *const INFERENCE_AUTH[] = {"public", "token", NULL};

#define DEFAULT_SCALE_DOWN_WINDOW_S 300
#define DEFAULT_LOG_MAX_BYTES (64LL << 20)
#define DEFAULT_LOG_KEEP 5
#define MAX_LOG_KEEP 1000

/* What the cross-field rules need to know about where things were written. */
typedef struct dep_dec {
    spec__ctx *c;
    spec_deployment *d;
    spec_pos at;            /* of the spec mapping */
    bool has_min, has_max;  /* replicas.min / max were given (and valid) */
    bool bad_replicas;      /* one was given but invalid: the replica rules are not checked */
    bool zero_given;        /* scaleToZeroAfterSeconds was given, valid or not */
    spec_pos min_pos, max_pos, zero_pos;
} dep_dec;

/* key is in m with a value that is not null. */
static bool field(struct fy_node *m, const char *key, struct fy_node **v, spec_pos *kp) {
    return spec__lookup(m, key, v, kp) && !spec__is_null(*v);
}


/* The registry's alias rule: [A-Za-z0-9_-] (and non-ASCII), at most 255, not
 * "latest" and not v<digits>. NULL when a is fine, else why not. */
static const char *alias_problem(const char *a) {
    size_t n = strlen(a);
    if (!n) return "an alias cannot be empty";
    if (n > 255) return "an alias has at most 255 characters";
    for (const char *p = a; *p; p++) {
        unsigned char u = (unsigned char)*p;
        bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_' ||
                  u == '-' || u >= 0x80;
        if (!ok) return "an alias holds only letters, digits, '_' and '-'";
    }
    if (strcasecmp(a, "latest") == 0) return "\"latest\" is not an alias; name the version number instead";
    if ((a[0] == 'v' || a[0] == 'V') && a[1] && strspn(a + 1, "0123456789") == n - 1)
        return "v<number> is a version, not an alias; write version: <number> instead";
    return NULL;
}

/* version | alias of the mapping m at mp (path "spec.model"): exactly one. */
static void decode_version(spec__ctx *c, struct fy_node *m, spec_pos mp, const char *path, spec_model_version *out) {
    struct fy_node *vv = NULL, *av = NULL;
    spec_pos vk = mp, ak = mp;
    bool hv = field(m, "version", &vv, &vk), ha = field(m, "alias", &av, &ak);
    if (hv && ha) {
        spec__err(c, ak, "%s has both version and alias; give one of them", path);
    } else if (!hv && !ha) {
        spec__err(c, mp, "missing %s.version or %s.alias (the registered model version: a number, or an alias "
                         "such as champion)",
                  path, path);
        return;
    }
    char *sub = mp_xasprintf("%s.%s", path, hv ? "version" : "alias");
    if (hv) {
        long long n;
        if (spec__get_int(c, vv, vk, sub, 1, INT32_MAX, &n)) {
            out->version = n;
            out->pos = spec__pos(vv, vk);
        }
    } else {
        char *s = NULL;
        if (spec__get_str(c, av, ak, sub, &s)) {
            const char *why = alias_problem(s);
            if (why) {
                spec__err(c, spec__pos(av, ak), "%s \"%s\" is not a valid alias: %s", sub, s, why);
                free(s);
            } else {
                out->alias = s;
                out->pos = spec__pos(av, ak);
            }
        }
    }
    free(sub);
}

static void decode_model(dep_dec *dd, struct fy_node *v, spec_pos kp) {
    spec__ctx *c = dd->c;
    if (!spec__open_map(c, v, kp, "spec.model", MODEL_FIELDS)) return;
    spec_pos mp = spec__pos(v, kp);
    struct fy_node *x;
    spec_pos xk;
    if (!field(v, "name", &x, &xk)) {
        spec__err(c, mp, "missing required field \"spec.model.name\" (a registered model, as in `mlplane models`)");
    } else if (spec__get_str(c, x, xk, "spec.model.name", &dd->d->model)) {
        const char *s = dd->d->model;
        bool ok = *s != '\0';
        for (const char *p = s; *p && ok; p++) ok = *p != '/' && *p != '@' && (unsigned char)*p >= 0x20;
        if (!ok)
            spec__err(c, spec__pos(x, xk),
                      "spec.model.name \"%s\" is not a registered model name: it must be non-empty without '/', '@' "
                      "or control characters",
                      s);
    }
    decode_version(c, v, mp, "spec.model", &dd->d->version);
}

static void decode_canary(dep_dec *dd, struct fy_node *v, spec_pos kp) {
    spec__ctx *c = dd->c;
    spec_canary *cn = &dd->d->canary;
    if (!spec__open_map(c, v, kp, "spec.canary", CANARY_FIELDS)) return;
    cn->set = true;
    cn->pos = spec__pos(v, kp);
    decode_version(c, v, cn->pos, "spec.canary", &cn->target);
    struct fy_node *x;
    spec_pos xk;
    long long n;
    if (!field(v, "percent", &x, &xk))
        spec__err(c, cn->pos,
                  "missing required field \"spec.canary.percent\" (the share of requests the canary answers, 0 to "
                  "100)");
    else if (spec__get_int(c, x, xk, "spec.canary.percent", 0, 100, &n))
        cn->percent = (int)n;
}

static void decode_shadow(dep_dec *dd, struct fy_node *v, spec_pos kp) {
    spec__ctx *c = dd->c;
    spec_shadow *sh = &dd->d->shadow;
    if (!spec__open_map(c, v, kp, "spec.shadow", SHADOW_FIELDS)) return;
    sh->set = true;
    sh->pos = spec__pos(v, kp);
    decode_version(c, v, sh->pos, "spec.shadow", &sh->target);
    struct fy_node *x;
    spec_pos xk;
    if (field(v, "sampleRate", &x, &xk)) spec__get_range(c, x, xk, "spec.shadow.sampleRate", 0, 1, &sh->sample_rate);
}

static void decode_replicas(dep_dec *dd, struct fy_node *v, spec_pos kp) {
    spec__ctx *c = dd->c;
    if (!spec__open_map(c, v, kp, "spec.replicas", REPLICAS_FIELDS)) return;
    struct fy_node *x;
    spec_pos xk;
    long long n;
    if (field(v, "min", &x, &xk)) {
        if (spec__get_int(c, x, xk, "spec.replicas.min", 0, SPEC_DEPLOYMENT_MAX_REPLICAS, &n)) {
            dd->d->min_replicas = (int)n;
            dd->has_min = true;
            dd->min_pos = spec__pos(x, xk);
        } else {
            dd->bad_replicas = true;
        }
    }
    if (field(v, "max", &x, &xk)) {
        if (spec__get_int(c, x, xk, "spec.replicas.max", 1, SPEC_DEPLOYMENT_MAX_REPLICAS, &n)) {
            dd->d->max_replicas = (int)n;
            dd->has_max = true;
            dd->max_pos = spec__pos(x, xk);
        } else {
            dd->bad_replicas = true;
        }
    }
}

static void decode_autoscale(dep_dec *dd, struct fy_node *v, spec_pos kp) {
    spec__ctx *c = dd->c;
    spec_autoscale *as = &dd->d->autoscale;
    if (!spec__open_map(c, v, kp, "spec.autoscale", AUTOSCALE_FIELDS)) return;
    as->set = true;
    as->pos = spec__pos(v, kp);
    struct fy_node *x;
    spec_pos xk;
    int m;
    if (field(v, "metric", &x, &xk) && (m = spec__get_enum(c, x, xk, "spec.autoscale.metric", METRICS)) >= 0)
        as->metric = (spec_scale_metric)(m + 1);
    double t;
    if (!field(v, "target", &x, &xk)) {
        spec__err(c, as->pos,
                  "missing required field \"spec.autoscale.target\" (the concurrency or requests per second one "
                  "replica should take)");
    } else if (spec__get_range(c, x, xk, "spec.autoscale.target", 0, 1e6, &t)) {
        if (t > 0) {
            as->target = t;
        } else {
            char *got = spec__describe(x);
            spec__err(c, spec__pos(x, xk), "field \"spec.autoscale.target\" must be above 0, got %s", got);
            free(got);
        }
    }
    long long n;
    if (field(v, "scaleUpStabilizationSeconds", &x, &xk) &&
        spec__get_int(c, x, xk, "spec.autoscale.scaleUpStabilizationSeconds", 0, SPEC_DEPLOYMENT_MAX_WINDOW_S, &n))
        as->scale_up_window_s = (int)n;
    if (field(v, "scaleDownStabilizationSeconds", &x, &xk) &&
        spec__get_int(c, x, xk, "spec.autoscale.scaleDownStabilizationSeconds", 0, SPEC_DEPLOYMENT_MAX_WINDOW_S, &n))
        as->scale_down_window_s = (int)n;
}

static void decode_request_log(dep_dec *dd, struct fy_node *v, spec_pos kp) {
    spec__ctx *c = dd->c;
    spec_request_log *rl = &dd->d->request_log;
    if (!spec__open_map(c, v, kp, "spec.requestLog", REQUEST_LOG_FIELDS)) return;
    struct fy_node *x;
    spec_pos xk;
    if (field(v, "sampleRate", &x, &xk))
        spec__get_range(c, x, xk, "spec.requestLog.sampleRate", 0, 1, &rl->sample_rate);
    char *text = NULL;
    if (field(v, "maxBytes", &x, &xk) && spec__get_str(c, x, xk, "spec.requestLog.maxBytes", &text)) {
        mp_err e;
        int64_t b;
        if (spec_parse_quantity(text, SPEC_QTY_MEMORY, &b, &e) != 0)
            spec__err(c, spec__pos(x, xk), "field \"spec.requestLog.maxBytes\": %s", e.msg);
        else if (b <= 0)
            spec__err(c, spec__pos(x, xk), "field \"spec.requestLog.maxBytes\" must be above 0 (e.g. 64Mi), got %s",
                      text);
        else
            rl->max_bytes = b;
    }
    free(text);
    long long n;
    if (field(v, "keep", &x, &xk) && spec__get_int(c, x, xk, "spec.requestLog.keep", 0, MAX_LOG_KEEP, &n))
        rl->keep = (int)n;
}

/* auth: {inference: public | token}. */
static void decode_auth(dep_dec *dd, struct fy_node *v, spec_pos kp) {
    spec__ctx *c = dd->c;
    if (!spec__open_map(c, v, kp, "spec.auth", AUTH_FIELDS)) return;
    struct fy_node *x;
    spec_pos xk;
    int m;
    if (field(v, "inference", &x, &xk) && (m = spec__get_enum(c, x, xk, "spec.auth.inference", INFERENCE_AUTH)) >= 0)
        dd->d->inference_auth = m == 1 ? SPEC_INFERENCE_TOKEN : SPEC_INFERENCE_PUBLIC;
}

/* RFC 9110 token: the characters of an HTTP header name. */
static bool is_header_name(const char *s) {
    if (!*s) return false;
    for (; *s; s++) {
        unsigned char u = (unsigned char)*s;
        bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                  (u && strchr("!#$%&'*+-.^_`|~", u));
        if (!ok) return false;
    }
    return true;
}

/* HOST:PORT or [ADDR]:PORT with a port from 0 to 65535 (the grammar of
 * `mlplane server --listen`, with the host required). NULL when fine, else why not. */
static const char *listen_problem(const char *s) {
    const char *host = s, *port;
    size_t hl;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return "an IPv6 address is written [ADDR]:PORT";
        host = s + 1;
        hl = (size_t)(close - host);
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon) return "write HOST:PORT, e.g. 127.0.0.1:8080";
        if (strchr(s, ':') != colon) return "write an IPv6 address as [ADDR]:PORT";
        hl = (size_t)(colon - s);
        port = colon + 1;
    }
    if (hl == 0) return "the host is missing (e.g. 127.0.0.1:8080)";
    for (size_t i = 0; i < hl; i++) {
        unsigned char u = (unsigned char)host[i];
        if (!((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '.' || u == '-' ||
              u == '_' || u == ':'))
            return "bad character in the host";
    }
    size_t pl = strlen(port);
    if (pl == 0 || pl > 5 || strspn(port, "0123456789") != pl || atol(port) > 65535)
        return "the port must be a number from 0 to 65535 (0: any free port)";
    return NULL;
}

static void decode_scalars(dep_dec *dd, struct fy_node *spec) {
    spec__ctx *c = dd->c;
    spec_deployment *d = dd->d;
    struct fy_node *v;
    spec_pos kp;
    long long n;
    if (field(spec, "scaleToZeroAfterSeconds", &v, &kp)) {
        dd->zero_given = true;
        if (spec__get_int(c, v, kp, "spec.scaleToZeroAfterSeconds", 1, SPEC_DEPLOYMENT_MAX_IDLE_S, &n)) {
            d->scale_to_zero_after_s = (int)n;
            dd->zero_pos = spec__pos(v, kp);
        }
    }
    if (field(spec, "stickyHeader", &v, &kp) && spec__get_str(c, v, kp, "spec.stickyHeader", &d->sticky_header) &&
        !is_header_name(d->sticky_header)) {
        spec__err(c, spec__pos(v, kp),
                  "spec.stickyHeader \"%s\" is not an HTTP header name: use letters, digits and !#$%%&'*+-.^_`|~",
                  d->sticky_header);
    }
    if (field(spec, "listen", &v, &kp) && spec__get_str(c, v, kp, "spec.listen", &d->listen)) {
        const char *why = listen_problem(d->listen);
        if (why) spec__err(c, spec__pos(v, kp), "spec.listen \"%s\": %s", d->listen, why);
    }
}

static bool same_version(const spec_model_version *a, const spec_model_version *b) {
    if (a->alias || b->alias) return a->alias && b->alias && strcmp(a->alias, b->alias) == 0;
    return a->version > 0 && a->version == b->version;
}

static void version_text(const spec_model_version *v, char *out, size_t n) {
    if (v->alias)
        snprintf(out, n, "alias %s", v->alias);
    else
        snprintf(out, n, "version %lld", (long long)v->version);
}

/* The rules between fields, once every field is read; defaults are filled here. */
static void check_rules(dep_dec *dd) {
    spec__ctx *c = dd->c;
    spec_deployment *d = dd->d;
    if (!dd->has_min) d->min_replicas = 1;
    int floor1 = d->min_replicas > 1 ? d->min_replicas : 1;
    if (!dd->has_max) d->max_replicas = floor1;
    if (dd->bad_replicas) {
        /* already reported; the rules below would only repeat it */
    } else if (d->max_replicas < d->min_replicas) {
        spec__err(c, dd->max_pos, "spec.replicas.max (%d) is below spec.replicas.min (%d)", d->max_replicas,
                  d->min_replicas);
    } else if (!d->autoscale.set && d->max_replicas != floor1) {
        spec__err(c, dd->max_pos,
                  "spec.replicas.max (%d) is above %d but there is no spec.autoscale to add replicas: add "
                  "spec.autoscale, or set max to %d",
                  d->max_replicas, floor1, floor1);
    }
    if (d->scale_to_zero_after_s > 0 && d->min_replicas != 0 && !dd->bad_replicas) {
        spec__err(c, dd->zero_pos,
                  "spec.scaleToZeroAfterSeconds needs spec.replicas.min: 0 (min is %d); set min to 0 or remove "
                  "scaleToZeroAfterSeconds",
                  d->min_replicas);
    }
    if (dd->has_min && d->min_replicas == 0 && !dd->zero_given && !d->autoscale.set) {
        spec__err(c, dd->min_pos,
                  "spec.replicas.min 0 needs spec.scaleToZeroAfterSeconds or spec.autoscale, to say when the last "
                  "replica stops");
    }
    char what[300];
    if (d->canary.set && same_version(&d->canary.target, &d->version)) {
        version_text(&d->version, what, sizeof what);
        spec__err(c, d->canary.target.pos,
                  "spec.canary names the stable %s of spec.model again; a canary is another version", what);
    }
    if (d->shadow.set && same_version(&d->shadow.target, &d->version)) {
        version_text(&d->version, what, sizeof what);
        spec__err(c, d->shadow.target.pos,
                  "spec.shadow names the stable %s of spec.model again; a shadow is another version", what);
    }
}

/* One decoder per structured field of spec, in a table. */
typedef void (*dep_field_fn)(dep_dec *dd, struct fy_node *v, spec_pos kp);
static const struct {
    const char *name;
    dep_field_fn fn;
} DEP_FIELDS[] = {
    {"model", decode_model},       {"canary", decode_canary},       {"shadow", decode_shadow},
    {"replicas", decode_replicas}, {"autoscale", decode_autoscale}, {"requestLog", decode_request_log},
    {"auth", decode_auth},
};

bool spec__decode_deployment(spec__ctx *c, spec_meta *meta, struct fy_node *root, spec_pos rp, struct fy_node *spec,
                             spec_pos sp, spec_object *o) {
    (void)root, (void)rp;
    spec_deployment *d = mp_xcalloc(1, sizeof *d);
    d->meta = *meta;
    memset(meta, 0, sizeof *meta);
    o->u.deployment = d;
    d->shadow.sample_rate = 1;
    d->autoscale.metric = SPEC_SCALE_CONCURRENCY;
    d->autoscale.scale_down_window_s = DEFAULT_SCALE_DOWN_WINDOW_S;
    d->request_log.max_bytes = DEFAULT_LOG_MAX_BYTES;
    d->request_log.keep = DEFAULT_LOG_KEEP;
    d->min_replicas = 1;
    d->max_replicas = 1;
    if (!spec__open_map(c, spec, sp, "spec", DEPLOYMENT_FIELDS)) return true;
    dep_dec dd = {.c = c, .d = d, .at = spec__pos(spec, sp)};
    dd.min_pos = dd.max_pos = dd.zero_pos = dd.at;
    struct fy_node *v;
    spec_pos kp;
    if (!field(spec, "model", &v, &kp))
        spec__err(c, dd.at, "missing required field \"spec.model\" (name and version or alias of a registered model)");
    for (size_t i = 0; i < sizeof DEP_FIELDS / sizeof *DEP_FIELDS; i++)
        if (field(spec, DEP_FIELDS[i].name, &v, &kp)) DEP_FIELDS[i].fn(&dd, v, kp);
    decode_scalars(&dd, spec);
    check_rules(&dd);
    return true;
}

void spec_deployment_free(spec_deployment *d) {
    if (!d) return;
    spec__meta_free(&d->meta);
    free(d->model);
    free(d->version.alias);
    free(d->canary.target.alias);
    free(d->shadow.target.alias);
    free(d->sticky_header);
    free(d->listen);
    free(d);
}

/* ---- a Deployment's versions rewritten (a Monitor's canary and promotion) ------------------ */

/* The mapping value of key in m, or NULL. */
static struct fy_node *map_get(struct fy_node *m, const char *key) {
    return fy_node_is_mapping(m) ? fy_node_mapping_lookup_by_string(m, key, FY_NT) : NULL;
}

/* Removes key (and its value) from m, when there. */
static int map_del(struct fy_document *d, struct fy_node *m, const char *key) {
    if (!fy_node_mapping_lookup_pair_by_string(m, key, FY_NT)) return 0;
    struct fy_node *k = fy_node_create_scalar_copy(d, key, FY_NT); /* taken by remove_by_key */
    struct fy_node *v = k ? fy_node_mapping_remove_by_key(m, k) : NULL;
    if (!v) return -1;
    fy_node_free(v);
    return 0;
}

/* Sets m[key] to the YAML text value (replacing one there). */
static int map_set(struct fy_document *d, struct fy_node *m, const char *key, const char *value) {
    struct fy_node *v = fy_node_build_from_string(d, value, FY_NT);
    if (!v) return -1;
    struct fy_node_pair *p = fy_node_mapping_lookup_pair_by_string(m, key, FY_NT);
    if (p) return fy_node_pair_set_value(p, v);
    struct fy_node *k = fy_node_create_scalar_copy(d, key, FY_NT);
    return k ? fy_node_mapping_append(m, k, v) : -1;
}

int spec_deployment_rewrite(const char *text, const char *name, int64_t stable, int64_t canary, int percent,
                            char **out, mp_err *e) {
    *out = NULL;
    struct fy_parse_cfg pc = {.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT};
    struct fy_parser *fyp = fy_parser_create(&pc);
    if (!fyp || fy_parser_set_string(fyp, text, FY_NT) != 0) {
        if (fyp) fy_parser_destroy(fyp);
        return mp_err_set(e, MP_EINTERNAL, "cannot start the YAML parser");
    }
    int rc = MP_ENOENT;
    struct fy_document *doc;
    while (rc == MP_ENOENT && (doc = fy_parse_load_document(fyp))) {
        struct fy_node *root = fy_document_root(doc);
        const char *kind = fy_node_get_scalar0(map_get(root, "kind"));
        const char *nm = fy_node_get_scalar0(map_get(map_get(root, "metadata"), "name"));
        struct fy_node *sp = map_get(root, "spec");
        if (kind && nm && strcmp(kind, "Deployment") == 0 && strcmp(nm, name) == 0 && fy_node_is_mapping(sp)) {
            struct fy_node *model = map_get(sp, "model");
            char buf[128];
            rc = 0;
            if (stable > 0 && fy_node_is_mapping(model)) {
                rc = map_del(doc, model, "alias") == 0 ? 0 : MP_EINTERNAL;
                snprintf(buf, sizeof buf, "%lld", (long long)stable);
                if (rc == 0 && map_set(doc, model, "version", buf) != 0) rc = MP_EINTERNAL;
            }
            if (rc == 0 && map_del(doc, sp, "canary") != 0) rc = MP_EINTERNAL;
            if (rc == 0 && canary > 0) {
                snprintf(buf, sizeof buf, "{version: %lld, percent: %d}", (long long)canary, percent);
                if (map_set(doc, sp, "canary", buf) != 0) rc = MP_EINTERNAL;
            }
            if (rc == 0) {
                char *s = fy_emit_document_to_string(doc, FYECF_MODE_BLOCK);
                if (s) *out = s;
                else rc = MP_EINTERNAL;
            }
            if (rc != 0) mp_err_set(e, rc, "cannot rewrite deployment %s's versions", name);
        }
        fy_parse_document_destroy(fyp, doc);
    }
    fy_parser_destroy(fyp);
    if (rc == MP_ENOENT) mp_err_set(e, rc, "no Deployment named %s in its applied source", name);
    return rc;
}
