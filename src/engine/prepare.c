/* prepare.c — turns a step of a pipeline into a concrete attempt: templates
 * resolved, environment built, working directory chosen, cache key computed.
 *
 * The cache key must be equal across runs for equal work, so it is computed over
 * the step's templates as written (not as rendered, since rendered paths hold the
 * run id) plus the values the templates refer to: params by value, files and
 * directories (inputs, upstream outputs) by content. A sweep trial sees its own
 * values of the swept params (templates, MLPLANE_PARAM_*, the cache key) and
 * MLPLANE_TRIAL, MLPLANE_SWEEP.
 * An input with `validate:` is read and checked against its expectations
 * (monitor_validate) here, before anything starts: a broken expectation makes
 * the step fail without running, with reason DataValidationFailed.
 * Pure apart from reading input files; called on the engine's thread. */
#include "engine/engine_int.h"
#include "monitor/monitor.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

typedef struct lookup_ud {
    const engine__ctx *c;
    const engine__step *s;
    mp_strv *inputs; /* resolved absolute input paths, parallel to spec->inputs */
    mp_buf scratch[8];
    int nscratch;
} lookup_ud;

/* A param's value for step s: a sweep trial's own value, else the run's. */
static const char *param_value(const engine__ctx *c, const engine__step *s, const char *name) {
    const char *v = engine__trial_param(s, name);
    if (v) return v;
    for (size_t i = 0; i < c->nparams; i++)
        if (strcmp(c->params[i].key, name) == 0) return c->params[i].value;
    return NULL;
}

static const engine__step *find_step(const engine__ctx *c, const char *name) {
    for (size_t i = 0; i < c->nsteps; i++)
        if (strcmp(c->steps[i].rec.name, name) == 0) return &c->steps[i];
    return NULL;
}

/* "steps.S.outputs.A" -> absolute path of that artifact, into buf. */
static const char *artifact_path(const engine__ctx *c, const char *ref, mp_buf *buf) {
    char tmp[512];
    if (!mp_strlcpy(tmp, ref + 6, sizeof tmp)) return NULL;
    char *dot = strstr(tmp, ".outputs.");
    if (!dot) return NULL;
    *dot = '\0';
    const char *art = dot + 9;
    const engine__step *dep = find_step(c, tmp);
    if (!dep || !dep->rec.outputs_dir) return NULL;
    for (size_t i = 0; i < dep->spec->noutputs; i++) {
        if (strcmp(dep->spec->outputs[i].name, art) == 0) {
            mp_buf_reset(buf);
            mp_buf_printf(buf, "%s/%s", dep->rec.outputs_dir, dep->spec->outputs[i].path);
            return buf->data;
        }
    }
    return NULL;
}

static const char *lookup(void *vud, const char *ref) {
    lookup_ud *ud = vud;
    const engine__ctx *c = ud->c;
    if (mp_str_starts(ref, "params.")) return param_value(c, ud->s, ref + 7);
    if (strcmp(ref, "run.id") == 0) return c->run->id;
    if (strcmp(ref, "run.name") == 0) return c->run->pipeline;
    if (mp_str_starts(ref, "inputs.") && ud->inputs) {
        for (size_t i = 0; i < ud->s->spec->ninputs && i < ud->inputs->n; i++)
            if (strcmp(ud->s->spec->inputs[i].name, ref + 7) == 0) return ud->inputs->v[i];
        return NULL;
    }
    if (mp_str_starts(ref, "steps.")) {
        if (ud->nscratch >= 8) ud->nscratch = 0;
        return artifact_path(c, ref, &ud->scratch[ud->nscratch++]);
    }
    return NULL;
}

/* For the cache key: keep each reference as written, and hash what it stands for. */
typedef struct key_ud {
    lookup_ud *real;
    mp_hash *h;
    mp_err *e;
    int failed;
    mp_buf echo;
} key_ud;

static const char *key_lookup(void *vud, const char *ref) {
    key_ud *k = vud;
    const char *v = lookup(k->real, ref);
    mp_hash_str(k->h, ref);
    if (v && (mp_str_starts(ref, "steps.") || mp_str_starts(ref, "inputs."))) {
        if (mp_hash_path(k->h, v, k->e) != 0) k->failed = 1;
    } else {
        mp_hash_str(k->h, v ? v : "");
    }
    mp_buf_reset(&k->echo);
    mp_buf_printf(&k->echo, "{{%s}}", ref);
    return k->echo.data;
}

static void key_text(key_ud *k, const char *tmpl) {
    char *out = NULL;
    if (!tmpl) {
        mp_hash_str(k->h, "<none>");
        return;
    }
    if (spec_render(tmpl, key_lookup, k, &out, k->e) != 0) {
        k->failed = 1;
        return;
    }
    mp_hash_str(k->h, out);
    free(out);
}

static char *cache_key(const engine__ctx *c, const engine__step *s, lookup_ud *lud, const char *secrets,
                       char **error) {
    mp_hash h;
    mp_err e;
    mp_err_clear(&e);
    key_ud k = {.real = lud, .h = &h, .e = &e};
    mp_buf_init(&k.echo);
    const spec_step *sp = s->spec;
    mp_hash_init(&h);
    mp_hash_str(&h, "mlplane-step-cache-v1");
    mp_hash_str(&h, c->p->meta.namespace_);
    mp_hash_str(&h, c->p->meta.name);
    mp_hash_str(&h, sp->name);
    mp_hash_str(&h, sp->image);
    for (size_t i = 0; i < sp->ncommand; i++) key_text(&k, sp->command[i]);
    key_text(&k, sp->script);
    for (size_t i = 0; i < sp->nenv; i++) {
        mp_hash_str(&h, sp->env[i].key);
        key_text(&k, sp->env[i].value);
    }
    key_text(&k, sp->working_dir);
    for (size_t i = 0; i < sp->nsecret_refs; i++) { /* the values by a hash keyed with the Secrets' key */
        mp_hash_str(&h, sp->secret_refs[i].env ? sp->secret_refs[i].env : "");
        mp_hash_str(&h, sp->secret_refs[i].path ? sp->secret_refs[i].path : "");
    }
    if (secrets) mp_hash_str(&h, secrets);
    for (size_t i = 0; i < c->nparams; i++) {
        mp_hash_str(&h, c->params[i].key);
        mp_hash_str(&h, param_value(c, s, c->params[i].key));
    }
    for (size_t i = 0; i < sp->ninputs && i < lud->inputs->n; i++) {
        mp_hash_str(&h, sp->inputs[i].name);
        if (mp_hash_path(&h, lud->inputs->v[i], &e) != 0) k.failed = 1;
    }
    for (size_t i = 0; i < sp->noutputs; i++) {
        mp_hash_str(&h, sp->outputs[i].name);
        mp_hash_str(&h, sp->outputs[i].path);
    }
    mp_buf_free(&k.echo);
    if (k.failed) {
        *error = mp_xasprintf("cannot compute the cache key: %s", e.msg);
        return NULL;
    }
    char hex[65];
    mp_hash_final_hex(&h, hex);
    return mp_xstrdup(hex);
}

static void env_put(mp_strv *env, const char *key, const char *value) {
    mp_strv_push_owned(env, mp_xasprintf("%s=%s", key, value));
}

static bool env_has(const spec_step *sp, const char *key, size_t klen) {
    for (size_t i = 0; i < sp->nenv; i++)
        if (strlen(sp->env[i].key) == klen && strncmp(sp->env[i].key, key, klen) == 0) return true;
    for (size_t i = 0; i < sp->nsecret_refs; i++)
        if (sp->secret_refs[i].env && strlen(sp->secret_refs[i].env) == klen &&
            strncmp(sp->secret_refs[i].env, key, klen) == 0)
            return true;
    return false;
}

static char *render_or_fail(const char *tmpl, lookup_ud *lud, const char *what, engine__prep *pr) {
    char *out = NULL;
    mp_err e;
    if (spec_render(tmpl, lookup, lud, &out, &e) != 0) {
        if (!pr->error) pr->error = mp_xasprintf("%s: %s", what, e.msg);
        return NULL;
    }
    return out;
}

/* The first failures of r on one line, for the step's message. */
static void summary(const monitor_report *r, mp_buf *b) {
    for (size_t i = 0; i < r->n && i < 3; i++) {
        const monitor_failure *f = &r->v[i];
        if (f->column) mp_buf_printf(b, "%scolumn \"%s\": ", i ? "; " : "", f->column);
        else mp_buf_printf(b, "%stable: ", i ? "; " : "");
        mp_buf_printf(b, "%s: expected %s, observed %s", f->expectation, f->expected, f->observed);
        if (f->nexamples) {
            const monitor_example *x = &f->examples[0];
            mp_buf_printf(b, " (e.g. row %ld, line %ld: %s)", x->row, x->line, x->missing ? "missing" : x->value);
        }
    }
    if (r->n > 3) mp_buf_printf(b, "; and %zu more (see the step's log)", r->n - 3);
}

/* Checks input a (at abs) against its expectations; a failure goes in pr. */
static void validate_input(const engine__ctx *c, const spec_artifact *a, const char *abs, engine__prep *pr) {
    if (mp_is_dir(abs)) {
        pr->error = mp_xasprintf("input \"%s\" is a folder (%s): validate: checks one CSV file; name the file in "
                                 "inputs[].path",
                                 a->name, abs);
        return;
    }
    spec_expectations *own = NULL;
    const spec_expectations *x = a->validate;
    if (x->expect_file) {
        char *path = mp_path_abs(c->spec_dir, x->expect_file);
        spec_diags d = {0};
        if (spec_expectations_load_file(path, &own, &d) != 0) {
            mp_buf b;
            mp_buf_init(&b);
            spec_diags_format(&d, &b);
            while (b.len && b.data[b.len - 1] == '\n') b.data[--b.len] = '\0';
            pr->error = mp_xasprintf("input \"%s\": bad expectations file: %s", a->name, b.data);
            mp_buf_free(&b);
            spec_diags_free(&d);
            free(path);
            return;
        }
        free(path);
        x = own;
    }
    monitor_report r;
    mp_err e;
    mp_err_clear(&e);
    if (monitor_validate_file(abs, x, &r, &e) != 0) {
        pr->error = mp_xasprintf("data validation of input \"%s\" could not read it: %s", a->name, e.msg);
        pr->reason = "DataValidationFailed";
        pr->report = mp_xasprintf("mlplane: data validation of input \"%s\": %s\n", a->name, e.msg);
    } else if (r.n) {
        mp_buf b;
        mp_buf_init(&b);
        mp_buf_printf(&b, "data validation failed for input \"%s\" (%s): %zu of %zu expectations broken: ", a->name,
                      abs, r.n, r.checked);
        summary(&r, &b);
        pr->error = mp_buf_steal(&b);
        pr->reason = "DataValidationFailed";
        mp_buf_init(&b);
        mp_buf_printf(&b, "==> mlplane: data validation of input \"%s\" failed; the step did not run\n", a->name);
        monitor_report_text(&r, 0, &b);
        pr->report = mp_buf_steal(&b);
    }
    monitor_report_free(&r);
    spec_expectations_free(own);
}

/* The step whose output a template names ("{{ steps.S.outputs.A }}"), heap, or NULL. */
static char *producer_of(const char *tmpl) {
    for (const char *p = tmpl ? strstr(tmpl, "{{") : NULL; p; p = strstr(p + 2, "{{")) {
        const char *q = p + 2;
        while (*q == ' ') q++;
        if (!mp_str_starts(q, "steps.")) continue;
        q += 6;
        const char *dot = strstr(q, ".outputs.");
        const char *end = strstr(q, "}}");
        if (dot && (!end || dot < end)) return mp_xasprintf("%.*s", (int)(dot - q), q);
    }
    return NULL;
}

/* Lineage: each existing input of s by content (a file's SHA-256, a folder's tree). */
static void lineage_inputs(const engine__ctx *c, const engine__step *s, const mp_strv *inputs, engine__prep *pr) {
    const spec_step *sp = s->spec;
    pr->inputs = mp_xcalloc(sp->ninputs + 1, sizeof *pr->inputs);
    for (size_t i = 0; i < sp->ninputs && i < inputs->n; i++) {
        char hex[65];
        mp_err e;
        if (!mp_path_exists(inputs->v[i]) || store_artstore_digest(inputs->v[i], hex, &e) != 0) continue;
        store_step_artifact *a = &pr->inputs[pr->ninputs++];
        a->run_id = mp_xstrdup(c->run->id);
        a->step = mp_xstrdup(s->rec.name);
        a->name = mp_xstrdup(sp->inputs[i].name);
        a->hash = mp_xstrdup(hex);
        a->path = mp_xstrdup(inputs->v[i]);
        a->source = mp_xstrdup(sp->inputs[i].path);
        a->from_step = producer_of(sp->inputs[i].path);
    }
}

/* engine__prepare; lineage: whether to hash the inputs for step_artifacts. */
static void prepare(const engine__ctx *c, const engine__step *s, engine__prep *pr, bool lineage) {
    memset(pr, 0, sizeof *pr);
    const spec_step *sp = s->spec;
    mp_strv inputs = {0};
    lookup_ud lud = {.c = c, .s = s, .inputs = &inputs};
    for (int i = 0; i < 8; i++) mp_buf_init(&lud.scratch[i]);

    /* Inputs first: other templates may refer to them. */
    for (size_t i = 0; i < sp->ninputs; i++) {
        char *r = render_or_fail(sp->inputs[i].path, &lud, "inputs", pr);
        if (!r) r = mp_xstrdup("");
        char *abs = mp_path_abs(c->spec_dir, r);
        free(r);
        if (!pr->error && !mp_path_exists(abs))
            pr->error = mp_xasprintf("input \"%s\" not found: %s", sp->inputs[i].name, abs);
        mp_strv_push_owned(&inputs, abs);
    }
    for (size_t i = 0; i < sp->ninputs && !pr->error; i++)
        if (sp->inputs[i].validate) validate_input(c, &sp->inputs[i], inputs.v[i], pr);
    if (sp->script) {
        mp_strv_push(&pr->argv, "/bin/sh");
        mp_strv_push(&pr->argv, "-e");
        mp_strv_push(&pr->argv, "-c");
        char *r = render_or_fail(sp->script, &lud, "script", pr);
        mp_strv_push_owned(&pr->argv, r ? r : mp_xstrdup(""));
        mp_strv_push(&pr->argv, sp->name); /* $0 */
    } else {
        for (size_t i = 0; i < sp->ncommand; i++) {
            char *r = render_or_fail(sp->command[i], &lud, "command", pr);
            mp_strv_push_owned(&pr->argv, r ? r : mp_xstrdup(""));
        }
    }
    if (sp->working_dir) {
        char *r = render_or_fail(sp->working_dir, &lud, "workingDir", pr);
        pr->cwd = r ? mp_path_abs(c->spec_dir, r) : mp_xstrdup(s->rec.outputs_dir);
        free(r);
    } else {
        pr->cwd = mp_xstrdup(s->rec.outputs_dir);
    }

    /* Environment: mlplane's own variables first (orphan discovery reads them), then
     * params, then the step's env, then what mlplane was started with. */
    char attempt[32];
    snprintf(attempt, sizeof attempt, "%d", s->rec.attempts + 1);
    env_put(&pr->env, "MLPLANE_RUN_ID", c->run->id);
    env_put(&pr->env, "MLPLANE_STEP", s->rec.name); /* a sweep trial's: "S[i]" */
    env_put(&pr->env, "MLPLANE_OUTPUTS", s->rec.outputs_dir);
    env_put(&pr->env, "MLPLANE_ATTEMPT", attempt);
    env_put(&pr->env, "MLPLANE_PIPELINE", c->p->meta.name);
    if (s->trial) {
        char idx[32];
        snprintf(idx, sizeof idx, "%d", s->trial->index);
        env_put(&pr->env, "MLPLANE_TRIAL", idx);
        env_put(&pr->env, "MLPLANE_SWEEP", sp->name);
    }
    /* The step's MLflow run: the pipeline run itself. A client logs to it when a
     * tracking server is known (MLFLOW_TRACKING_URI, or the mlplane server). */
    env_put(&pr->env, "MLFLOW_RUN_ID", c->run->id);
    if (c->experiment_id) env_put(&pr->env, "MLFLOW_EXPERIMENT_ID", c->experiment_id);
    const char *uri = getenv("MLFLOW_TRACKING_URI");
    if (!uri || !*uri) uri = getenv("MLPLANE_SERVER");
    if (uri && *uri) env_put(&pr->env, "MLFLOW_TRACKING_URI", uri);
    for (size_t i = 0; i < c->nparams; i++) {
        char name[300];
        size_t j = 0;
        j += (size_t)snprintf(name, sizeof name, "MLPLANE_PARAM_");
        for (const char *q = c->params[i].key; *q && j + 1 < sizeof name; q++)
            name[j++] = (char)((*q >= 'a' && *q <= 'z') ? *q - 32 : ((*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')) ? *q : '_');
        name[j] = '\0';
        env_put(&pr->env, name, param_value(c, s, c->params[i].key));
    }
    for (size_t i = 0; i < sp->nenv; i++) {
        char *r = render_or_fail(sp->env[i].value, &lud, "env", pr);
        env_put(&pr->env, sp->env[i].key, r ? r : "");
        free(r);
    }
    engine__secrets_resolve(c, sp, s->rec.outputs_dir, &pr->env, pr);
    char *self_dir = c->self_exe ? mp_path_dir(c->self_exe) : NULL;
    for (char **ep = environ; ep && *ep; ep++) {
        const char *eq = strchr(*ep, '=');
        if (!eq || mp_str_starts(*ep, "MLPLANE_RUN_ID=") || mp_str_starts(*ep, "MLPLANE_STEP=") ||
            mp_str_starts(*ep, "MLPLANE_OUTPUTS=") || mp_str_starts(*ep, "MLPLANE_ATTEMPT=") ||
            mp_str_starts(*ep, "MLPLANE_PIPELINE=") || mp_str_starts(*ep, "MLPLANE_PARAM_") ||
            mp_str_starts(*ep, "MLPLANE_TRIAL=") || mp_str_starts(*ep, "MLPLANE_SWEEP=") ||
            mp_str_starts(*ep, "MLFLOW_RUN_ID=") || mp_str_starts(*ep, "MLFLOW_EXPERIMENT_ID=") ||
            mp_str_starts(*ep, "MLFLOW_TRACKING_URI=") || mp_str_starts(*ep, "MLPLANE_SECRETS=") ||
            mp_str_starts(*ep, "MLPLANE_SECRET_KEY=") || mp_str_starts(*ep, "MLPLANE_SECRET_KEY_FILE="))
            continue; /* the key that opens Secrets never reaches a step */
        if (env_has(sp, *ep, (size_t)(eq - *ep))) continue;
        if (self_dir && mp_str_starts(*ep, "PATH=")) {
            mp_strv_push_owned(&pr->env, mp_xasprintf("PATH=%s:%s", self_dir, eq + 1));
            continue;
        }
        mp_strv_push(&pr->env, *ep);
    }
    free(self_dir);

    if (sp->cache && !pr->error) pr->cache_key = cache_key(c, s, &lud, pr->secrets_digest, &pr->error);
    if (!pr->error && lineage) lineage_inputs(c, s, &inputs, pr);
    for (int i = 0; i < 8; i++) mp_buf_free(&lud.scratch[i]);
    mp_strv_free(&inputs);
}

void engine__prepare(const engine__ctx *c, const engine__step *s, engine__prep *pr) { prepare(c, s, pr, true); }

void engine__prep_free(engine__prep *pr) {
    mp_strv_free(&pr->argv);
    mp_strv_free(&pr->env);
    free(pr->cwd);
    free(pr->cache_key);
    free(pr->error);
    free(pr->report);
    engine__secrets_free(pr);
    store_step_artifact_array_free(pr->inputs, pr->ninputs);
    memset(pr, 0, sizeof *pr);
}

int engine__params_from_json(const char *json, spec_kv **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    json_error_t je;
    json_t *root = json_loads(json ? json : "{}", 0, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return mp_err_set(e, MP_ESTORE, "run params are not a JSON object: %s", je.text);
    }
    size_t cnt = json_object_size(root), i = 0;
    spec_kv *kv = mp_xcalloc(cnt ? cnt : 1, sizeof *kv);
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        kv[i].key = mp_xstrdup(key);
        kv[i].value = mp_xstrdup(json_is_string(val) ? json_string_value(val) : "");
        i++;
    }
    json_decref(root);
    *out = kv;
    *n = i;
    return 0;
}

char *engine__params_to_json(const spec_kv *kv, size_t n) {
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) json_object_set_new(o, kv[i].key, json_string(kv[i].value ? kv[i].value : ""));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

char *engine__step_dir(const char *home, const char *run_id, const char *step) {
    return mp_xasprintf("%s/runs/%s/%s", home, run_id, step);
}

/* The training data of a model registered by step s: the first argument of its
 * command (or a --flag=VALUE's value) that names an existing .csv file outside the
 * step's own outputs, i.e. one of its inputs or an upstream step's output. NULL
 * when none; heap. */
char *engine__training_data(const engine__ctx *c, const engine__step *s) {
    engine__prep pr;
    prepare(c, s, &pr, false); /* no lineage hashing: this runs in the engine's transaction */
    char *found = NULL;
    size_t olen = s->rec.outputs_dir ? strlen(s->rec.outputs_dir) : 0;
    for (size_t i = 0; i < pr.argv.n && !found; i++) {
        const char *a = pr.argv.v[i];
        const char *eq = a[0] == '-' ? strchr(a, '=') : NULL;
        if (eq) a = eq + 1;
        size_t n = strlen(a);
        if (n < 5 || strcasecmp(a + n - 4, ".csv") != 0) continue;
        char *abs = mp_path_abs(pr.cwd ? pr.cwd : c->spec_dir, a);
        bool own = olen && strncmp(abs, s->rec.outputs_dir, olen) == 0 && (abs[olen] == '/' || !abs[olen]);
        if (!own && mp_path_exists(abs) && !mp_is_dir(abs)) found = abs;
        else free(abs);
    }
    engine__prep_free(&pr);
    return found;
}
