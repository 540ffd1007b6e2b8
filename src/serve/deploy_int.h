/* deploy_int.h — internals shared by the files of a running Deployment
 * (serve.h, layer 5): deploy.c (the object, the spec from the store, the
 * router's hooks, /admin/rollout) and mirror.c (the request log lines and the
 * shadow's queue). Not a public header.
 *
 * Threads: serve_deploy_open/start/stop/free run on the main thread. The
 * router's HTTP threads run the choose_version, answered and admin hooks; its
 * supervisor thread runs desired_replicas (and so owns as[] and the periodic
 * rollout check); the shadow thread (mirror.c) sends the copies. st is used
 * under st_mu by the supervisor and the admin hook. */
#ifndef MLPLANE_DEPLOY_INT_H
#define MLPLANE_DEPLOY_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "serve/serve.h"
#include "store/store.h"

enum { DEPLOY_STABLE = 0, DEPLOY_CANARY = 1, DEPLOY_SHADOW = 2, DEPLOY_TRACKS = 3 };

#define DEPLOY_SHADOW_THREADS 2 /* copies sent to the shadow at once */

struct serve__shadow; /* router_int.h: the shadow's sender */
struct serve__authz;  /* router_int.h: the callers' checks */

struct serve_deploy {
    char *home, *name, *model;
    char *dir;                       /* HOME/serving/NAME */
    char *sock_dir, *sock_parent;    /* the replicas' sockets */
    char *info_path;                 /* HOME/serving/NAME/router.json while it runs */
    spec_file *file;
    const spec_deployment *spec;     /* in file */
    char *version[DEPLOY_TRACKS];    /* resolved version numbers; NULL for a track not in the spec */
    char *named[DEPLOY_TRACKS];      /* what the spec said: "2" or "@challenger" */
    int pool[DEPLOY_TRACKS];         /* the router's pool of each track; -1 when none */
    serve_split *split;
    int percent_spec;                /* the spec's canary percent */
    atomic_bool percent_recorded;    /* the percent comes from `mlplane rollout` (the store) */
    serve_autoscale_cfg as_cfg;
    serve_autoscale_state as[SERVE_ROUTER_MAX_POOLS]; /* supervisor */
    serve_reqlog *log;
    char *log_path;
    double log_rate;
    serve_router *router;
    mp_httpd *http;
    /* the store: rollout reloads */
    pthread_mutex_t st_mu;
    store *st;
    int64_t data_version;            /* st_mu */
    int64_t next_check_ms;           /* supervisor */
    struct serve__shadow *shadow;    /* the shadow's sender (shadow.c), while started; NULL without a shadow */
    atomic_ullong logged, log_failed;
    atomic_ullong ids;               /* generated request ids */
    char id_prefix[24];              /* of generated ids: this process's */
    struct serve__authz *authz;      /* the callers' checks (--auth-review), or NULL: none */
};

/* ---- deploy.c ---- */
/* Prints "mlplane serve: deployment NAME: " and the message on stderr, one line. */
void serve__deploy_log(const serve_deploy *d, const char *fmt, ...) MP_PRINTF(2, 3);

/* ---- mirror.c ---- */
/* The answered hook: writes the request log line when sampled and queues a
 * copy for the shadow when the split mirrors this request. */
void deploy__answered(void *ud, size_t pool, const mp_http_req *req, const mp_http_resp *resp, int64_t time_ms,
                      int64_t latency_us);
int deploy__mirror_start(serve_deploy *d, mp_err *e);
/* Stops the shadow's threads; copies still queued are dropped (counted). */
void deploy__mirror_stop(serve_deploy *d);
/* Whether req is an inference request: POST /v2/models/.../infer. */
bool deploy__is_infer(const mp_http_req *req);
/* The version a path names (/v2/models/NAME/versions/V/...), copied into out;
 * false when it names none. */
bool deploy__path_version(const char *path, char *out, size_t n);

#endif
