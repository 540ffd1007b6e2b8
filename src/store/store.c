/* store.c — the backend-independent half of the store: state names, the state
 * machines of runs and steps (as tables), freeing of records, and where the
 * mlplane home and its default store live.
 *
 * The transition tables are the single source of truth for which state changes
 * are legal; the engine asks them before it writes a change, the store itself
 * does not enforce them (a resume after a crash may need to repair states).
 * Thread-safety: every function is reentrant and keeps no state; the tables are
 * read-only. store_home_resolve reads the environment (getenv), so call it before
 * starting threads that modify it. */
#include "store/store.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- state names ----------------------------------------------------------- */

static const char *const run_state_names[] = {
    [RUN_PENDING] = "Pending",     [RUN_RUNNING] = "Running", [RUN_SUCCEEDED] = "Succeeded",
    [RUN_FAILED] = "Failed",       [RUN_CANCELLED] = "Cancelled",
};
#define N_RUN_STATES ((int)(sizeof run_state_names / sizeof run_state_names[0]))

static const char *const step_state_names[] = {
    [STEP_PENDING] = "Pending",   [STEP_RUNNING] = "Running",     [STEP_SUCCEEDED] = "Succeeded",
    [STEP_FAILED] = "Failed",     [STEP_CANCELLED] = "Cancelled", [STEP_SKIPPED] = "Skipped",
    [STEP_RETRYING] = "Retrying", [STEP_STOPPED] = "Stopped",     [STEP_CACHED] = "Cached",
};
#define N_STEP_STATES ((int)(sizeof step_state_names / sizeof step_state_names[0]))

const char *store_run_state_name(int st) {
    return st >= 0 && st < N_RUN_STATES ? run_state_names[st] : "Unknown";
}

const char *store_step_state_name(int st) {
    return st >= 0 && st < N_STEP_STATES ? step_state_names[st] : "Unknown";
}

static int parse_name(const char *const *names, int n, const char *s) {
    if (!s) return -1;
    for (int i = 0; i < n; i++)
        if (strcasecmp(names[i], s) == 0) return i;
    return -1;
}

int store_run_state_parse(const char *s) { return parse_name(run_state_names, N_RUN_STATES, s); }
int store_step_state_parse(const char *s) { return parse_name(step_state_names, N_STEP_STATES, s); }

/* ---- state machines ---------------------------------------------------------- */

/* run_moves[from][to]: whether a run may go from `from` to `to`. Final states
 * (Succeeded, Failed, Cancelled) have empty rows. Running -> Pending is resume. */
static const bool run_moves[N_RUN_STATES][N_RUN_STATES] = {
    [RUN_PENDING] = {[RUN_RUNNING] = true, [RUN_CANCELLED] = true, [RUN_FAILED] = true},
    [RUN_RUNNING] = {[RUN_SUCCEEDED] = true, [RUN_FAILED] = true, [RUN_CANCELLED] = true,
                     [RUN_PENDING] = true /* resume */},
};

/* step_moves[from][to]. Final states (Succeeded, Failed, Cancelled, Skipped,
 * Stopped, Cached) have empty rows. Pending -> Failed covers a step that cannot start
 * (e.g. a missing input); Pending -> Succeeded is a sweep's aggregate step, which
 * runs no process; Running -> Stopped a sweep trial stopped early;
 * Running/Retrying -> Pending is resume after a crash. */
static const bool step_moves[N_STEP_STATES][N_STEP_STATES] = {
    [STEP_PENDING] = {[STEP_RUNNING] = true, [STEP_SKIPPED] = true, [STEP_CACHED] = true, [STEP_CANCELLED] = true,
                      [STEP_FAILED] = true, [STEP_SUCCEEDED] = true /* sweep aggregate */},
    [STEP_RUNNING] = {[STEP_SUCCEEDED] = true, [STEP_FAILED] = true, [STEP_RETRYING] = true,
                      [STEP_CANCELLED] = true, [STEP_STOPPED] = true, [STEP_PENDING] = true /* resume */},
    [STEP_RETRYING] = {[STEP_RUNNING] = true, [STEP_CANCELLED] = true, [STEP_PENDING] = true /* resume */},
};

bool store_run_state_final(int st) {
    return st == RUN_SUCCEEDED || st == RUN_FAILED || st == RUN_CANCELLED;
}

bool store_step_state_final(int st) {
    return st == STEP_SUCCEEDED || st == STEP_FAILED || st == STEP_CANCELLED || st == STEP_SKIPPED ||
           st == STEP_STOPPED || st == STEP_CACHED;
}

bool store_run_transition_ok(int from, int to) {
    if (from < 0 || from >= N_RUN_STATES || to < 0 || to >= N_RUN_STATES) return false;
    return run_moves[from][to];
}

bool store_step_transition_ok(int from, int to) {
    if (from < 0 || from >= N_STEP_STATES || to < 0 || to >= N_STEP_STATES) return false;
    return step_moves[from][to];
}

/* ---- records ------------------------------------------------------------------ */
/* The *_free functions free the fields a record owns (not the record itself, which
 * is usually the caller's stack variable) and zero it, so freeing twice is safe. */

void store_run_free(store_run *r) {
    if (!r) return;
    free(r->id);
    free(r->pipeline);
    free(r->namespace_);
    free(r->spec_path);
    free(r->spec_yaml);
    free(r->params_json);
    free(r->labels_json);
    free(r->message);
    memset(r, 0, sizeof *r);
}

void store_step_free(store_step *s) {
    if (!s) return;
    free(s->run_id);
    free(s->name);
    free(s->cache_key);
    free(s->cached_from);
    free(s->outputs_dir);
    free(s->log_path);
    free(s->message);
    free(s->params_json);
    memset(s, 0, sizeof *s);
}

void store_event_free(store_event *ev) {
    if (!ev) return;
    free(ev->run_id);
    free(ev->step);
    free(ev->type);
    free(ev->message);
    memset(ev, 0, sizeof *ev);
}

void store_metric_free(store_metric *m) {
    if (!m) return;
    free(m->run_id);
    free(m->step);
    free(m->key);
    memset(m, 0, sizeof *m);
}

void store_cache_entry_free(store_cache_entry *c) {
    if (!c) return;
    free(c->key);
    free(c->run_id);
    free(c->step);
    free(c->outputs_dir);
    memset(c, 0, sizeof *c);
}

#define DEFINE_ARRAY_FREE(fn, type, one)          \
    void fn(type *v, size_t n) {                  \
        if (!v) return;                           \
        for (size_t i = 0; i < n; i++) one(&v[i]); \
        free(v);                                  \
    }
DEFINE_ARRAY_FREE(store_run_array_free, store_run, store_run_free)
DEFINE_ARRAY_FREE(store_step_array_free, store_step, store_step_free)
DEFINE_ARRAY_FREE(store_event_array_free, store_event, store_event_free)
DEFINE_ARRAY_FREE(store_metric_array_free, store_metric, store_metric_free)

static void step_artifact_free(store_step_artifact *a) {
    free(a->run_id);
    free(a->step);
    free(a->name);
    free(a->hash);
    free(a->path);
    free(a->source);
    free(a->from_step);
}
DEFINE_ARRAY_FREE(store_step_artifact_array_free, store_step_artifact, step_artifact_free)

/* ---- home ------------------------------------------------------------------------ */

static const char *user_home(void) {
    const char *h = getenv("HOME");
    if (h && *h) return h;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

int store_home_path(const char *flag, char **out, mp_err *e) {
    *out = NULL;
    char *home;
    if (flag) {
        if (!*flag) return mp_err_set(e, MP_EINVAL, "the home directory flag is empty; give a path");
        home = mp_path_abs(NULL, flag);
    } else if (getenv("MLPLANE_HOME") && *getenv("MLPLANE_HOME")) {
        home = mp_path_abs(NULL, getenv("MLPLANE_HOME"));
    } else {
        const char *h = user_home();
        if (!h)
            return mp_err_set(e, MP_EINVAL,
                              "cannot find a home directory for mlplane: set MLPLANE_HOME or HOME");
        char *joined = mp_xasprintf("%s/.mlplane", h);
        home = mp_path_abs(NULL, joined);
        free(joined);
    }
    *out = home;
    return 0;
}

int store_home_resolve(const char *flag, char **out, mp_err *e) {
    int rc = store_home_path(flag, out, e);
    if (rc == 0) rc = mp_mkdir_p(*out, e);
    if (rc != 0 && *out) {
        mp_err_prefix(e, "cannot create the mlplane home");
        free(*out);
        *out = NULL;
    }
    return rc;
}

int store_open_home(const char *home, store **out, mp_err *e) {
    *out = NULL;
    int rc = mp_mkdir_p(home, e);
    if (rc != 0) return mp_err_prefix(e, "cannot create the mlplane home");
    char *path = mp_xasprintf("%s/mlplane.db", home);
    rc = store_sqlite_open(path, out, e);
    free(path);
    return rc;
}

void store_workload_array_free(store_workload *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].run_id);
        free(v[i].step);
        free(v[i].queue);
        free(v[i].request);
        free(v[i].nodes);
        free(v[i].flavors);
        free(v[i].evict);
        free(v[i].reason);
    }
    free(v);
}

void store_object_array_free(store_object *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].kind);
        free(v[i].namespace_);
        free(v[i].name);
    }
    free(v);
}

void store_monitor_check_free(store_monitor_check *c) {
    if (!c) return;
    free(c->monitor);
    free(c->status);
    free(c->message);
    free(c->version);
    free(c->result_json);
    memset(c, 0, sizeof *c);
}

void store_monitor_check_array_free(store_monitor_check *v, size_t n) {
    for (size_t i = 0; i < n; i++) store_monitor_check_free(&v[i]);
    free(v);
}

void store_deploy_state_free(store_deploy_state *s) {
    if (!s) return;
    free(s->name);
    free(s->state);
    free(s->message);
    free(s->last_error);
    memset(s, 0, sizeof *s);
}

void store_deploy_event_array_free(store_deploy_event *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].type);
        free(v[i].message);
    }
    free(v);
}

void store_source_array_free(store_source *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].path);
        free(v[i].text);
    }
    free(v);
}

/* ---- a cached step's log ------------------------------------------------------------ */

int store_cached_log(store *s, const store_step *st, char **log_path, mp_err *e) {
    *log_path = NULL;
    if (st->state != STEP_CACHED || !st->cached_from)
        return mp_err_set(e, MP_EINVAL, "step %s is not a cache hit", st->name);
    store_step *v = NULL;
    size_t n = 0;
    mp_err le = {0};
    int rc = s->m->step_list(s, st->cached_from, &v, &n, &le);
    if (rc == 0) {
        const store_step *src = NULL; /* the step that produced the cache entry: same key, else same name */
        for (size_t i = 0; i < n && !src; i++)
            if (st->cache_key && v[i].cache_key && strcmp(v[i].cache_key, st->cache_key) == 0 && v[i].state != STEP_CACHED)
                src = &v[i];
        for (size_t i = 0; i < n && !src; i++)
            if (strcmp(v[i].name, st->name) == 0) src = &v[i];
        if (src && src->log_path) *log_path = mp_xstrdup(src->log_path);
    }
    store_step_array_free(v, n);
    if (*log_path) return 0;
    return mp_err_set(e, MP_ENOENT, "run %s, whose outputs step %s reused, was deleted: its log is gone",
                      st->cached_from, st->name);
}
