/* launch_desc.c — the launcher's pure parts: the pod's artifacts description
 * (the mlplane.dev/artifacts annotation src/k8s/render_job.c writes) read into
 * a launch_desc, its paths moved under the work folder, retry pauses and exit
 * statuses. No I/O; reentrant. */
#include "exec/launch_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

bool exec__launch_safe_rel(const char *p) {
    if (!p || !*p || p[0] == '/') return false;
    for (const char *s = p; *s;) {
        size_t l = strcspn(s, "/");
        if (l == 0 || (l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.')) return false;
        s += l;
        if (*s == '/' && !*++s) return false;
    }
    return true;
}

char *exec__launch_map(const char *path, const char *work) {
    size_t n = strlen(LAUNCH_WORK);
    if (!path || strncmp(path, LAUNCH_WORK, n) != 0 || (path[n] && path[n] != '/')) return NULL;
    const char *rest = path[n] ? path + n + 1 : "";
    if (*rest && !exec__launch_safe_rel(rest)) return NULL;
    return *rest ? mp_xasprintf("%s/%s", work, rest) : mp_xstrdup(work);
}

static bool is_hex64(const char *s) {
    if (!s || strlen(s) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* The string field key of o, or NULL with e filled ("FIELD[i].key ..."). */
static const char *need_str(json_t *o, const char *field, size_t i, const char *key, mp_err *e) {
    const char *v = json_string_value(json_object_get(o, key));
    if (!v || !*v)
        mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS: %s[%zu].%s: missing or not a string (the description is the pod's "
                   "mlplane.dev/artifacts annotation, as `mlplane k8s render` writes it)", field, i, key);
    return v && *v ? v : NULL;
}

static json_t *need_array(json_t *root, const char *key, mp_err *e) {
    json_t *a = json_object_get(root, key);
    if (!a) return json_array(); /* absent: none */
    if (!json_is_array(a)) {
        mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS: %s: not a list", key);
        return NULL;
    }
    return json_incref(a);
}

static int parse_inputs(json_t *a, const char *work, launch_desc *d, mp_err *e) {
    d->inputs = calloc(json_array_size(a) + 1, sizeof *d->inputs);
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o) {
        launch_input *in = &d->inputs[d->ninputs++];
        const char *name = need_str(o, "inputs", i, "name", e);
        if (!name) return MP_EINVAL;
        in->name = mp_xstrdup(name);
        if (!exec__launch_safe_rel(name) || strchr(name, '/'))
            return mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS: inputs[%zu].name \"%s\" is not a file name", i, name);
        const char *from = json_string_value(json_object_get(o, "from"));
        if (from) {
            in->from = exec__launch_map(from, work);
            if (!in->from)
                return mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS: inputs[%zu].from \"%s\" is not under " LAUNCH_WORK, i,
                                  from);
            continue;
        }
        const char *hex = need_str(o, "inputs", i, "sha256", e);
        if (!hex) return MP_EINVAL;
        if (!is_hex64(hex))
            return mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS: inputs[%zu].sha256 \"%s\" is not a SHA-256 (64 lowercase "
                              "hex digits)", i, hex);
        in->sha256 = mp_xstrdup(hex);
    }
    return 0;
}

static int parse_fetch(json_t *a, const char *work, launch_desc *d, mp_err *e) {
    d->fetch = calloc(json_array_size(a) + 1, sizeof *d->fetch);
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o) {
        launch_fetch *f = &d->fetch[d->nfetch++];
        const char *step = need_str(o, "fetch", i, "step", e);
        const char *out = step ? need_str(o, "fetch", i, "output", e) : NULL;
        const char *path = out ? need_str(o, "fetch", i, "path", e) : NULL;
        if (!path) return MP_EINVAL;
        f->step = mp_xstrdup(step);
        f->output = mp_xstrdup(out);
        if (!exec__launch_safe_rel(step) || strchr(step, '/') || !exec__launch_safe_rel(out) || strchr(out, '/'))
            return mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS: fetch[%zu]: step \"%s\" and output \"%s\" must be names",
                              i, step, out);
        f->path = exec__launch_map(path, work);
        if (!f->path)
            return mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS: fetch[%zu].path \"%s\" is not under " LAUNCH_WORK, i,
                              path);
    }
    return 0;
}

static int parse_outputs(json_t *a, launch_desc *d, mp_err *e) {
    d->outputs = calloc(json_array_size(a) + 1, sizeof *d->outputs);
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o) {
        launch_output *out = &d->outputs[d->noutputs++];
        const char *name = need_str(o, "outputs", i, "name", e);
        const char *path = name ? need_str(o, "outputs", i, "path", e) : NULL;
        if (!path) return MP_EINVAL;
        out->name = mp_xstrdup(name);
        out->path = mp_xstrdup(path);
        if (!exec__launch_safe_rel(name) || strchr(name, '/'))
            return mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS: outputs[%zu].name \"%s\" is not a file name", i, name);
        if (!exec__launch_safe_rel(path))
            return mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS: outputs[%zu].path \"%s\" must be relative to the outputs "
                              "folder and stay inside it", i, path);
    }
    return 0;
}

int exec__launch_desc_parse(const char *json, const char *work, launch_desc *d, mp_err *e) {
    memset(d, 0, sizeof *d);
    json_error_t je;
    json_t *root = json ? json_loads(json, 0, &je) : NULL;
    if (!root || !json_is_object(root)) {
        int rc = json ? mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS: not a JSON object (line %d column %d: %s)",
                                   root ? 1 : je.line, root ? 1 : je.column, root ? "another value" : je.text)
                      : mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS is not set: it carries the pod's mlplane.dev/artifacts "
                                   "annotation (`mlplane k8s render` exposes it through the Downward API)");
        json_decref(root);
        return rc;
    }
    json_t *in = need_array(root, "inputs", e), *fe = in ? need_array(root, "fetch", e) : NULL;
    json_t *out = fe ? need_array(root, "outputs", e) : NULL;
    int rc = out ? 0 : MP_EINVAL;
    if (rc == 0) rc = parse_inputs(in, work, d, e);
    if (rc == 0) rc = parse_fetch(fe, work, d, e);
    if (rc == 0) rc = parse_outputs(out, d, e);
    if (rc == 0) {
        json_t *m = json_object_get(root, "metrics");
        const char *ms = json_string_value(m);
        if (m && !json_is_null(m) && (!ms || !exec__launch_safe_rel(ms)))
            rc = mp_err_set(e, MP_EINVAL, "MLPLANE_ARTIFACTS: metrics must be a path relative to the outputs folder");
        else if (ms)
            d->metrics = mp_xstrdup(ms);
    }
    json_decref(in);
    json_decref(fe);
    json_decref(out);
    json_decref(root);
    return rc;
}

void exec__launch_desc_free(launch_desc *d) {
    for (size_t i = 0; i < d->ninputs; i++) {
        free(d->inputs[i].name);
        free(d->inputs[i].sha256);
        free(d->inputs[i].from);
    }
    for (size_t i = 0; i < d->nfetch; i++) {
        free(d->fetch[i].step);
        free(d->fetch[i].output);
        free(d->fetch[i].path);
    }
    for (size_t i = 0; i < d->noutputs; i++) {
        free(d->outputs[i].name);
        free(d->outputs[i].path);
    }
    free(d->inputs);
    free(d->fetch);
    free(d->outputs);
    free(d->metrics);
    memset(d, 0, sizeof *d);
}

int exec__launch_backoff_ms(int attempt) {
    if (attempt < 1) attempt = 1;
    if (attempt > 6) return 8000;
    return 250 << (attempt - 1) > 8000 ? 8000 : 250 << (attempt - 1);
}

bool exec__launch_transient(long http) {
    return http == 0 || http == 408 || http == 429 || (http >= 500 && http <= 599);
}

int exec__launch_exit_status(int wstatus) {
    if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
    return 1;
}

char *exec__launch_step_path(const char *run, const char *step, const char *trial, const char *rest) {
    bool ok = exec__launch_safe_rel(run) && !strchr(run, '/') && exec__launch_safe_rel(step) && !strchr(step, '/') &&
              (!trial || !*trial || (exec__launch_safe_rel(trial) && !strchr(trial, '/')));
    if (!ok) return NULL;
    if (trial && *trial) return mp_xasprintf("mlplane/runs/%s/steps/%s/trials/%s/%s", run, step, trial, rest);
    return mp_xasprintf("mlplane/runs/%s/steps/%s/%s", run, step, rest);
}
