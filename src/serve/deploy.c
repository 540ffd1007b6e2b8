/* deploy.c — a Deployment running: its spec read from the store, its versions
 * resolved through the registry, a router with one pool per version, and the
 * router's hooks that make it a deployment:
 *   choose_version    the traffic split (serve_split), sticky by the spec's
 *                     header; a path naming a version goes to that version;
 *   desired_replicas  the autoscaler (serve_autoscale) per pool, fed with the
 *                     pool's requests in flight (or per second) plus those
 *                     waiting for a replica; also rereads the rollout state
 *                     when the store changed;
 *   answered          mirror.c: the request log and the shadow's copies;
 *   admin             GET /admin/rollout, POST /admin/rollout/reload; under an
 *                     authenticating server (--auth-review) first the check of
 *                     every request's credentials (authz.c, needed_verb).
 * Threads and ownership are described in deploy_int.h. */
#include "serve/deploy_int.h"
#include "serve/router_int.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const track_name[DEPLOY_TRACKS] = {"stable", "canary", "shadow"};

void serve__deploy_log(const serve_deploy *d, const char *fmt, ...) {
    char who[300];
    snprintf(who, sizeof who, "mlplane serve: deployment %s", d->name);
    va_list ap;
    va_start(ap, fmt);
    serve__vlog(who, fmt, ap);
    va_end(ap);
}

/* ---- the replicas' socket folder ---------------------------------------------------- */

/* Removes the socket folders that routers now gone left under dir (named by their pid). */
static void sweep_dead_routers(const char *dir) {
    DIR *dd = opendir(dir);
    if (!dd) return;
    struct dirent *de;
    while ((de = readdir(dd)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (!de->d_name[0] || *end || pid <= 0 || mp_proc_start_time((int)pid) >= 0) continue;
        char *p = mp_xasprintf("%s/%s", dir, de->d_name);
        mp_rm_rf(p, NULL);
        free(p);
    }
    closedir(dd);
}

int serve_socket_dir(const char *home, const char *name, char **out, char **parent, mp_err *e) {
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *bases[2] = {home ? mp_xasprintf("%s/serving/%s", home, name) : NULL,
                      mp_xasprintf("%s/mlplane-%d/serving/%s", tmp, (int)getuid(), name)};
    int rc = 0;
    *out = *parent = NULL;
    for (int i = 0; i < 2 && !*out; i++) {
        if (!bases[i]) continue;
        char *dir = mp_xasprintf("%s/%d", bases[i], (int)getpid());
        if (strlen(dir) + sizeof "/v3-replica-63.sock" <= 108) {
            *out = dir;
            *parent = mp_xstrdup(bases[i]);
        } else {
            free(dir);
        }
    }
    if (!*out) rc = mp_err_set(e, MP_EINVAL, "no folder short enough for the replicas' unix sockets (set TMPDIR)");
    if (rc == 0) {
        sweep_dead_routers(*parent);
        rc = mp_mkdir_p(*out, e);
    }
    free(bases[0]);
    free(bases[1]);
    return rc;
}

/* ---- the spec, from the store ---------------------------------------------------------- */

int serve_deploy_load(store *st, const char *name, spec_file **f, const spec_deployment **d, mp_err *e) {
    *f = NULL;
    *d = NULL;
    store_object *objs = NULL;
    store_source *src = NULL;
    size_t nobjs = 0, nsrc = 0;
    int rc = st->o->object_list(st, &objs, &nobjs, e);
    int64_t source = -1;
    for (size_t i = 0; rc == 0 && i < nobjs; i++)
        if (strcmp(objs[i].kind, "Deployment") == 0 && strcmp(objs[i].name, name) == 0) source = objs[i].source_id;
    if (rc == 0 && source < 0)
        rc = mp_err_set(e, MP_ENOENT, "no Deployment \"%s\" is applied (apply one with: mlplane apply -f FILE)", name);
    if (rc == 0) rc = st->o->source_list(st, &src, &nsrc, e);
    const store_source *s = NULL;
    for (size_t i = 0; rc == 0 && i < nsrc && !s; i++)
        if (src[i].id == source) s = &src[i];
    if (rc == 0 && !s) rc = mp_err_set(e, MP_ESTORE, "the source of Deployment \"%s\" is missing from the store", name);
    if (rc == 0) {
        spec_diags diags = {0};
        char *dir = mp_path_dir(s->path);
        rc = spec_load_string(s->path, dir, s->text, strlen(s->text), f, &diags);
        free(dir);
        if (rc != 0) /* it was valid when applied: a newer mlplane reads it differently */
            rc = mp_err_set(e, MP_EINVAL, "Deployment \"%s\" as applied from %s no longer validates: %s", name, s->path,
                            diags.n ? diags.v[0].msg : "?");
        spec_diags_free(&diags);
    }
    for (size_t i = 0; rc == 0 && *f && i < (*f)->nobjs && !*d; i++)
        if ((*f)->objs[i].kind == SPEC_KIND_DEPLOYMENT && strcmp((*f)->objs[i].u.deployment->meta.name, name) == 0)
            *d = (*f)->objs[i].u.deployment;
    if (rc == 0 && !*d) rc = mp_err_set(e, MP_ESTORE, "Deployment \"%s\" is not in its applied source %s", name, s->path);
    if (rc != 0) {
        spec_file_free(*f);
        *f = NULL;
    }
    store_object_array_free(objs, nobjs);
    store_source_array_free(src, nsrc);
    return rc;
}

/* ---- the rollout state ----------------------------------------------------------------- */

/* Rereads the canary's percent from the store: when forced, or when another
 * connection committed since the last look. */
static void reload(serve_deploy *d, bool force) {
    if (!d->version[DEPLOY_CANARY]) return; /* (set before the pools: open reads the recorded percent) */
    pthread_mutex_lock(&d->st_mu);
    int64_t dv = d->st->m->data_version(d->st);
    if (force || dv != d->data_version) {
        d->data_version = dv;
        int p = 0;
        bool found = false;
        mp_err e = {0};
        if (d->st->o->rollout_get(d->st, d->name, &p, &found, &e) != 0) {
            serve__deploy_log(d, "cannot read the rollout state: %s", e.msg);
        } else {
            int want = found ? p : d->percent_spec, was = serve_split_percent(d->split);
            atomic_store(&d->percent_recorded, found);
            if (want != was && serve_split_set_percent(d->split, want, &e) == 0)
                serve__deploy_log(d, "canary version %s: %d%% -> %d%% of the requests", d->version[DEPLOY_CANARY], was,
                                  want);
        }
    }
    pthread_mutex_unlock(&d->st_mu);
}

/* ---- the router's hooks --------------------------------------------------------------- */

static size_t hook_choose(void *ud, const mp_http_req *req, const char *const *versions, size_t npools) {
    serve_deploy *d = ud;
    char v[64];
    if (deploy__path_version(req->path, v, sizeof v)) { /* asked for by number: that version, if served */
        for (size_t i = 0; i < npools; i++)
            if (strcmp(versions[i], v) == 0) return i;
        return (size_t)d->pool[DEPLOY_STABLE]; /* its replicas answer 404 for a version not served */
    }
    if (!deploy__is_infer(req)) return (size_t)d->pool[DEPLOY_STABLE];
    const char *sticky = d->spec->sticky_header ? mp_http_req_header(req, d->spec->sticky_header) : NULL;
    serve_track t = serve_split_pick(d->split, sticky); /* counts the request; percent 0 without a canary */
    return (size_t)d->pool[t == SERVE_TRACK_CANARY && d->pool[DEPLOY_CANARY] >= 0 ? DEPLOY_CANARY : DEPLOY_STABLE];
}

static int hook_desired(void *ud, size_t pool, const serve_router_pool_stats *st) {
    serve_deploy *d = ud;
    int64_t now = mp_mono_ms();
    if (pool == 0 && now >= d->next_check_ms) {
        reload(d, false);
        d->next_check_ms = now + 2000;
    }
    bool rps = d->spec->autoscale.set && d->spec->autoscale.metric == SPEC_SCALE_RPS;
    double observed = (rps ? st->rps : st->inflight_avg) + st->waiting;
    int want = serve_autoscale_desired(&d->as_cfg, &d->as[pool], now, observed, st->desired);
    if (want != st->desired)
        serve__deploy_log(d, "version %s: %d -> %d replica%s (%s %.1f, target %g per replica)", st->version, st->desired,
                          want, want == 1 ? "" : "s", rps ? "requests per second" : "requests in flight", observed,
                          d->as_cfg.target > 0 ? d->as_cfg.target : 0);
    return want;
}

/* With an authenticating server: the verb req needs on deployments in the
 * Deployment's namespace, or NULL when it is public. /admin/ GET (HEAD) is get,
 * anything else there update; the health routes and /metrics are public; the
 * other routes (inference, metadata) need get when spec.auth.inference is token. */
static const char *needed_verb(const serve_deploy *d, const mp_http_req *req) {
    const char *path = req->path ? req->path : "";
    if (mp_str_starts(path, "/admin/") || strcmp(path, "/admin") == 0)
        return strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0 ? "get" : "update";
    if (mp_str_starts(path, "/v2/health/") || strcmp(path, "/metrics") == 0 || strcmp(path, "/metrics/") == 0)
        return NULL;
    return d->spec->inference_auth == SPEC_INFERENCE_TOKEN ? "get" : NULL;
}

static bool hook_admin(void *ud, const mp_http_req *req, mp_http_resp *resp) {
    serve_deploy *d = ud;
    const char *path = req->path ? req->path : "";
    if (d->authz) {
        const char *verb = needed_verb(d, req);
        const char *ns = d->spec->meta.namespace_ ? d->spec->meta.namespace_ : "default";
        if (verb && serve__authz_check(d->authz, req, verb, "deployments", ns, resp) != 0) return true;
    }
    if (!mp_str_starts(path, "/admin/rollout")) return false;
    const char *rest = path + strlen("/admin/rollout");
    if (strcmp(rest, "") == 0 || strcmp(rest, "/") == 0) {
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
            serve_oip_not_allowed(resp, req->method, "/admin/rollout", "GET");
            return true;
        }
    } else if (strcmp(rest, "/reload") == 0) {
        if (strcmp(req->method, "POST") != 0) {
            serve_oip_not_allowed(resp, req->method, "/admin/rollout/reload", "POST");
            return true;
        }
        reload(d, true);
    } else {
        serve_oip_error(resp, 404, "no endpoint %s (the rollout's are GET /admin/rollout and POST /admin/rollout/reload)",
                        path);
        return true;
    }
    mp_http_json(resp, 200, serve_deploy_status(d));
    return true;
}

/* ---- metrics ----------------------------------------------------------------------------- */

static void metric_line(mp_buf *b, const char *name, const serve_deploy *d, const char *label, const char *value,
                        unsigned long long v) {
    mp_buf_printf(b, "%s{deployment=\"", name);
    mp_prom_label_value(b, d->name);
    mp_buf_putc(b, '"');
    if (label) {
        mp_buf_printf(b, ",%s=\"", label);
        mp_prom_label_value(b, value);
        mp_buf_putc(b, '"');
    }
    mp_buf_printf(b, "} %llu\n", v);
}

/* The deployment's own families, after the router's. */
static void hook_metrics(void *ud, mp_buf *out) {
    serve_deploy *d = ud;
    serve__split_metrics(out, d->name, d->split, d->version[DEPLOY_STABLE],
                         d->pool[DEPLOY_CANARY] >= 0 ? d->version[DEPLOY_CANARY] : NULL, d->shadow);
    if (d->log) {
        mp_buf_puts(out, "# HELP mlplane_deployment_request_log_lines_total Lines written to the request log, "
                         "and lines that could not be.\n"
                         "# TYPE mlplane_deployment_request_log_lines_total counter\n");
        metric_line(out, "mlplane_deployment_request_log_lines_total", d, "result", "written", atomic_load(&d->logged));
        metric_line(out, "mlplane_deployment_request_log_lines_total", d, "result", "failed", atomic_load(&d->log_failed));
    }
}

/* ---- status ------------------------------------------------------------------------------ */

json_t *serve_deploy_status(serve_deploy *d) {
    serve_router_snapshot *snap = mp_xmalloc(sizeof *snap);
    serve_router_stats(d->router, snap);
    serve_split_counts c;
    serve_split_counts_get(d->split, &c);
    int percent = serve_split_percent(d->split);
    json_t *tracks = json_array();
    for (int t = 0; t < DEPLOY_TRACKS; t++) {
        if (d->pool[t] < 0) continue;
        const serve_router_pool_stats *ps = &snap->pools[d->pool[t]];
        json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:f}", "track", track_name[t], "version",
                              d->version[t], "named", d->named[t], "desired", ps->desired, "ready", ps->ready,
                              "starting", ps->starting, "draining", ps->draining, "inflight", ps->inflight, "waiting",
                              ps->waiting, "rps", ps->rps);
        if (t == DEPLOY_STABLE) {
            json_object_set_new(o, "percent", json_integer(d->pool[DEPLOY_CANARY] >= 0 ? 100 - percent : 100));
            json_object_set_new(o, "requests", json_integer((json_int_t)c.stable));
        } else if (t == DEPLOY_CANARY) {
            json_object_set_new(o, "percent", json_integer(percent));
            json_object_set_new(o, "requests", json_integer((json_int_t)c.canary));
        } else {
            json_object_set_new(o, "sampleRate", json_real(serve_split_shadow_rate(d->split)));
            unsigned long long q, dr, f;
            serve__shadow_counts(d->shadow, &q, &dr, &f);
            json_object_set_new(o, "requests", json_integer((json_int_t)q));
            json_object_set_new(o, "dropped", json_integer((json_int_t)dr));
            json_object_set_new(o, "failed", json_integer((json_int_t)f));
        }
        json_array_append_new(tracks, o);
    }
    free(snap);
    json_t *v = json_pack("{s:s,s:s,s:s?,s:o,s:s?,s:i,s:s}", "deployment", d->name, "model", d->model, "url",
                          d->http ? mp_httpd_url(d->http) : NULL, "tracks", tracks, "stickyHeader",
                          d->spec->sticky_header, "pid", (int)getpid(), "percentFrom",
                          atomic_load(&d->percent_recorded) ? "rollout" : "spec");
    if (d->log)
        json_object_set_new(v, "requestLog",
                            json_pack("{s:s,s:f,s:I,s:I}", "path", d->log_path, "sampleRate", d->log_rate, "logged",
                                      (json_int_t)atomic_load(&d->logged), "failed",
                                      (json_int_t)atomic_load(&d->log_failed)));
    return v;
}

void serve_deploy_describe(const serve_deploy *d, char *out, size_t n) {
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_printf(&b, "deployment %s: model %s version %s", d->name, d->model, d->version[DEPLOY_STABLE]);
    if (d->version[DEPLOY_CANARY])
        mp_buf_printf(&b, ", canary version %s at %d%%", d->version[DEPLOY_CANARY], serve_split_percent(d->split));
    if (d->version[DEPLOY_SHADOW])
        mp_buf_printf(&b, ", shadow version %s at %g", d->version[DEPLOY_SHADOW], serve_split_shadow_rate(d->split));
    if (d->as_cfg.min_replicas == d->as_cfg.max_replicas)
        mp_buf_printf(&b, ", %d replica%s", d->as_cfg.min_replicas, d->as_cfg.min_replicas == 1 ? "" : "s");
    else
        mp_buf_printf(&b, ", %d-%d replicas", d->as_cfg.min_replicas, d->as_cfg.max_replicas);
    mp_strlcpy(out, b.data ? b.data : "", n);
    mp_buf_free(&b);
}

const char *serve_deploy_url(const serve_deploy *d) { return d->http ? mp_httpd_url(d->http) : NULL; }

/* ---- open, start, stop ------------------------------------------------------------------ */

/* Resolves track t's version (a number or an alias) to a number, and checks that
 * the model file loads: a deployment that cannot serve fails here, not in a
 * restart loop. */
static int resolve(serve_deploy *d, int t, const spec_model_version *mv, mp_err *e) {
    char *ref = mv->alias ? mp_xasprintf("models:/%s@%s", d->model, mv->alias)
                          : mp_xasprintf("models:/%s/%lld", d->model, (long long)mv->version);
    d->named[t] = mv->alias ? mp_xasprintf("@%s", mv->alias) : mp_xasprintf("%lld", (long long)mv->version);
    serve_ref r = {0};
    serve_model *m = NULL;
    int rc = serve_ref_resolve(ref, d->home, &r, e);
    if (rc == 0) rc = serve_model_load(r.path, d->name, r.version, &m, e);
    if (rc == 0) d->version[t] = mp_xstrdup(r.version);
    if (rc != 0) mp_err_prefix(e, "Deployment \"%s\" spec.%s", d->name, t == DEPLOY_STABLE ? "model" : track_name[t]);
    serve_model_free(m);
    serve_ref_free(&r);
    free(ref);
    for (int u = 0; rc == 0 && u < t; u++)
        if (d->version[u] && strcmp(d->version[u], d->version[t]) == 0)
            rc = mp_err_set(e, MP_EINVAL, "Deployment \"%s\": spec.%s (%s) is version %s, which spec.%s serves already",
                            d->name, t == DEPLOY_STABLE ? "model" : track_name[t], d->named[t], d->version[t],
                            u == DEPLOY_STABLE ? "model" : track_name[u]);
    return rc;
}

int serve_deploy_open(const serve_deploy_opts *o, serve_deploy **out, mp_err *e) {
    *out = NULL;
    if (!o->home || !o->name) return mp_err_set(e, MP_EINTERNAL, "serve_deploy_open: home and name are needed");
    serve_deploy *d = mp_xcalloc(1, sizeof *d);
    d->home = mp_xstrdup(o->home);
    d->name = mp_xstrdup(o->name);
    for (int t = 0; t < DEPLOY_TRACKS; t++) d->pool[t] = -1;
    pthread_mutex_init(&d->st_mu, NULL);
    snprintf(d->id_prefix, sizeof d->id_prefix, "%d-%llx", (int)getpid(), (unsigned long long)mp_now_ms());
    int rc = store_open_home(d->home, &d->st, e);
    if (rc == 0) rc = serve_deploy_load(d->st, d->name, &d->file, &d->spec, e);
    if (rc == 0 && o->auth_review) rc = serve__authz_new(o->auth_review, d->name, o->admin_credential, &d->authz, e);
    if (rc == 0 && !d->authz && d->spec->inference_auth == SPEC_INFERENCE_TOKEN)
        serve__deploy_log(d, "warning: spec.auth.inference is token but no server checks credentials (mlplane "
                             "server --auth runs it with --auth-review): its inference routes are public");
    if (rc == 0) {
        const spec_deployment *s = d->spec;
        d->model = mp_xstrdup(s->model);
        d->dir = mp_xasprintf("%s/serving/%s", d->home, d->name);
        rc = resolve(d, DEPLOY_STABLE, &s->version, e);
        if (rc == 0 && s->canary.set) rc = resolve(d, DEPLOY_CANARY, &s->canary.target, e);
        if (rc == 0 && s->shadow.set) rc = resolve(d, DEPLOY_SHADOW, &s->shadow.target, e);
    }
    if (rc == 0) {
        const spec_deployment *s = d->spec;
        d->percent_spec = s->canary.set ? s->canary.percent : 0;
        rc = serve_split_new(d->percent_spec, s->shadow.set ? s->shadow.sample_rate : 0, &d->split, e);
        serve_autoscale_cfg_from_spec(s, &d->as_cfg);
        for (int i = 0; i < SERVE_ROUTER_MAX_POOLS; i++) serve_autoscale_init(&d->as[i]);
        d->data_version = -1;
    }
    if (rc == 0) reload(d, true);
    if (rc == 0) rc = mp_mkdir_p(d->dir, e);
    if (rc == 0 && d->spec->request_log.sample_rate > 0) {
        serve_reqlog_cfg lc;
        serve_reqlog_cfg_from_spec(d->spec, &lc);
        d->log_rate = lc.sample_rate;
        d->log_path = mp_xasprintf("%s/requests.log", d->dir);
        rc = serve_reqlog_open(d->log_path, &lc, &d->log, e);
    }
    if (rc == 0) rc = serve_socket_dir(d->home, d->name, &d->sock_dir, &d->sock_parent, e);
    if (rc == 0) {
        int initial = d->as_cfg.min_replicas;
        char *pinned = mp_xasprintf("models:/%s/%s", d->model, d->version[DEPLOY_STABLE]);
        serve_router_opts ro = {.ref = pinned, .name = d->name, .version = d->version[DEPLOY_STABLE],
                                .replicas = initial, .sock_dir = d->sock_dir, .exe = o->exe, .home = d->home,
                                .worker_threads = 1, .max_body = o->max_body, .drain_s = o->drain_s,
                                .ready_timeout_ms = o->ready_timeout_ms, .choose_version = hook_choose,
                                .desired_replicas = hook_desired, .answered = deploy__answered, .admin = hook_admin, .metrics = hook_metrics,
                                .hook_ud = d};
        rc = serve_router_new(&ro, &d->router, e);
        free(pinned);
        if (rc == 0) d->pool[DEPLOY_STABLE] = 0;
        for (int t = DEPLOY_CANARY; t < DEPLOY_TRACKS && rc == 0; t++) {
            if (!d->version[t]) continue;
            size_t idx = 0;
            pinned = mp_xasprintf("models:/%s/%s", d->model, d->version[t]);
            rc = serve_router_add_version(d->router, pinned, d->version[t], initial, &idx, e);
            free(pinned);
            if (rc == 0) d->pool[t] = (int)idx;
        }
    }
    if (rc != 0) {
        serve_deploy_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

static void write_info(serve_deploy *d) {
    d->info_path = mp_xasprintf("%s/router.json", d->dir);
    json_t *v = json_pack("{s:s,s:i,s:I}", "url", mp_httpd_url(d->http), "pid", (int)getpid(), "start",
                          (json_int_t)mp_proc_start_time((int)getpid()));
    char *text = json_dumps(v, JSON_COMPACT);
    mp_err e = {0};
    if (!text || mp_write_file_atomic(d->info_path, text, strlen(text), &e) != 0)
        serve__deploy_log(d, "cannot write %s: %s", d->info_path, e.msg);
    free(text);
    json_decref(v);
}

int serve_deploy_start(serve_deploy *d, const serve_deploy_opts *o, mp_err *e) {
    mp_httpd_opts h = {.listen = o->listen ? o->listen : d->spec->listen ? d->spec->listen : "127.0.0.1:0",
                       .timeout_s = o->timeout_s, .drain_s = o->drain_s,
                       .max_body = o->max_body ? o->max_body : (size_t)16 << 20, .conn_memory = (size_t)16 << 10,
                       .verbose = false, .listen_fd = o->listen_fd, .log_name = "mlplane serve"};
    int rc = serve_router_http_start(d->router, &h, &d->http, e);
    if (rc == 0) rc = serve_router_start(d->router, e);
    if (rc == 0) rc = deploy__mirror_start(d, e);
    if (rc == 0) write_info(d);
    return rc;
}

void serve_deploy_stop(serve_deploy *d) {
    if (!d || !d->router) return;
    serve_router_drain(d->router);
    if (d->http) mp_httpd_stop(d->http);
    d->http = NULL;
    deploy__mirror_stop(d);
    serve_router_stop(d->router);
    if (d->info_path) { /* unless a successor (a hand-over) wrote it since */
        char *url = NULL;
        int pid = 0;
        if (!serve_deploy_running(d->home, d->name, &url, &pid) || pid == (int)getpid()) unlink(d->info_path);
        free(url);
    }
}

void serve_deploy_free(serve_deploy *d) {
    if (!d) return;
    serve_deploy_stop(d);
    serve_router_free(d->router);
    serve__authz_free(d->authz);
    if (d->sock_dir) rmdir(d->sock_dir);
    if (d->sock_parent) rmdir(d->sock_parent); /* when no other router of this name runs */
    serve_reqlog_close(d->log);
    serve_split_free(d->split);
    spec_file_free(d->file);
    if (d->st) d->st->m->close(d->st);
    for (int t = 0; t < DEPLOY_TRACKS; t++) {
        free(d->version[t]);
        free(d->named[t]);
    }
    pthread_mutex_destroy(&d->st_mu);
    serve__shadow_free(d->shadow);
    free(d->home);
    free(d->name);
    free(d->model);
    free(d->dir);
    free(d->sock_dir);
    free(d->sock_parent);
    free(d->info_path);
    free(d->log_path);
    free(d);
}

bool serve_deploy_running(const char *home, const char *name, char **url, int *pid) {
    if (url) *url = NULL;
    char *path = mp_xasprintf("%s/serving/%s/router.json", home, name);
    json_t *v = json_load_file(path, 0, NULL);
    free(path);
    const char *u = json_string_value(json_object_get(v, "url"));
    int p = (int)json_integer_value(json_object_get(v, "pid"));
    json_int_t start = json_integer_value(json_object_get(v, "start"));
    bool alive = u && start > 0 && mp_proc_alive(p, (int64_t)start);
    if (alive && url) *url = mp_xstrdup(u);
    if (alive && pid) *pid = p;
    json_decref(v);
    return alive;
}
