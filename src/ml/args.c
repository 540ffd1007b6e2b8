/* args.c — the small option parser of the ML tools: each sub-command declares a
 * table of ml_opt rows (name, kind, destination, range, required) and
 * ml_parse_args fills it from argv, so usage checks live in data, not in chains
 * of strcmp. Accepts "--name VALUE", "--name=VALUE", "--" (end of options) and
 * -h/--help. Numbers must be consumed whole. Reentrant. */
#include "ml/ml_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static ml_opt *find_opt(ml_opt *opts, size_t nopts, const char *name, size_t len) {
    for (size_t i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0) return &opts[i];
    return NULL;
}

static int set_value(ml_opt *o, const char *v, mp_err *e) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case ML_OPT_STR:
        if (!*v) return mp_err_set(e, MP_EINVAL, "%s needs a non-empty value", o->name);
        *(const char **)o->dst = v;
        return 0;
    case ML_OPT_INT: {
        long long n = strtoll(v, &end, 10);
        if (!*v || *end || errno || n < (long long)o->min || n > (long long)o->max)
            return mp_err_set(e, MP_EINVAL, "%s must be a whole number from %.0f to %.0f, not '%s'", o->name, o->min,
                              o->max, v);
        *(int *)o->dst = (int)n;
        return 0;
    }
    case ML_OPT_U64: {
        unsigned long long n = strtoull(v, &end, 10);
        if (!*v || *end || errno || v[strspn(v, " \t")] == '-')
            return mp_err_set(e, MP_EINVAL, "%s must be a non-negative whole number, not '%s'", o->name, v);
        *(uint64_t *)o->dst = (uint64_t)n;
        return 0;
    }
    case ML_OPT_REAL: {
        double d = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(d) || d < o->min || d > o->max)
            return mp_err_set(e, MP_EINVAL, "%s must be a number from %g to %g, not '%s'", o->name, o->min, o->max,
                              v);
        *(double *)o->dst = d;
        return 0;
    }
    }
    return mp_err_set(e, MP_EINTERNAL, "option %s has an unknown kind", o->name);
}

int ml_parse_args(int argc, char **argv, ml_opt *opts, size_t nopts, const char **pos, size_t maxpos,
                  size_t *npos, mp_err *e) {
    *npos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) return 1;
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (*npos >= maxpos) return mp_err_set(e, MP_EINVAL, "unexpected argument '%s'", a);
            pos[(*npos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        ml_opt *o = find_opt(opts, nopts, a, len);
        if (!o) return mp_err_set(e, MP_EINVAL, "unknown option '%.*s'", (int)len, a);
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) return mp_err_set(e, MP_EINVAL, "%s needs a value", o->name);
            v = argv[++i];
        }
        int rc = set_value(o, v, e);
        if (rc) return rc;
        o->seen = true;
    }
    for (size_t i = 0; i < nopts; i++)
        if (opts[i].required && !opts[i].seen) return mp_err_set(e, MP_EINVAL, "%s is required", opts[i].name);
    return 0;
}
