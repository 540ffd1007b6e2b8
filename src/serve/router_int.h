/* router_int.h — internals shared by the files of the router (serve.h, layer
 * 4): router.c (the object and the request path), forward.c (the HTTP client
 * to a replica), replica.c (the supervisor thread) and metrics.c (Prometheus
 * text and stats). Not a public header; tests/unit/test_router.c includes it
 * for the pure functions at the end.
 *
 * Locking: r->mu guards each replica's state, pid, gen, restarts and rps, each
 * pool's desired count and slot range, and ready_cv. The request path holds mu
 * only to pick a replica (a scan of at most SERVE_ROUTER_MAX_REPLICAS slots)
 * and to mark one not ready; everything it counts is an atomic. Fields marked
 * "supervisor" are touched by the supervisor thread alone. */
#ifndef MLPLANE_ROUTER_INT_H
#define MLPLANE_ROUTER_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "serve/serve.h"
#include "serve/serve_int.h"

typedef enum serve__state {
    SERVE__EMPTY = 0,  /* no replica in this slot */
    SERVE__STARTING,   /* its process runs but it is not (or no longer) ready: no traffic; probed every 100 ms */
    SERVE__READY,      /* gets traffic; probed every second */
    SERVE__DRAINING,   /* being removed: no new traffic; SIGTERM once its requests are done */
    SERVE__RESTARTING, /* exited unasked: started again at next_start_ms */
} serve__state;

#define SERVE__RPS_WINDOW 5 /* seconds over which rps is measured */

typedef struct serve__replica {
    /* guarded by mu */
    serve__state state;
    pid_t pid;          /* 0 while no process runs */
    unsigned gen;       /* bumped at each start: a request or probe of an earlier process is told apart */
    int restarts;       /* times restarted after an unasked exit */
    double rps;         /* completed per second over the last SERVE__RPS_WINDOW seconds */
    int64_t next_probe_ms; /* monotonic; the request path sets it to 0 to have it probed at once */
    /* supervisor */
    int pidfd;          /* readable when the process exits; -1 when none */
    int64_t started_ms; /* monotonic */
    int64_t next_start_ms;
    int64_t drain_ms, term_ms; /* when draining began and SIGTERM was sent (0: not yet) */
    int failures;       /* unasked exits in a row, none of which stayed up 30 s */
    unsigned long long ring[SERVE__RPS_WINDOW + 1]; /* completed at each of the last seconds */
    size_t ring_n;
    void *probe;        /* the supervisor's CURL handle for this process, or NULL */
    /* constant after serve_router_new */
    char sock[108];     /* its unix socket */
    char label[48];     /* "replica 3", "replica v1-3" in logs */
    /* atomics (request path) */
    atomic_int inflight;
    atomic_ullong completed;
    atomic_llong ok_ms; /* monotonic ms of its last sign of life: a request answered, a probe passed */
} serve__replica;

typedef struct serve__pool {
    char *version;      /* constant after start */
    char *ref;          /* what its workers load; NULL for an upstream */
    char *url;          /* an upstream's base URL ("http://svc:8080", no trailing slash): the pool is
                           that one server, slot 0, probed but never started or stopped; NULL: replicas */
    int desired;        /* mu */
    int nslots;         /* mu: 1 + the highest slot ever used */
    unsigned rr;        /* mu: where the next scan starts (round-robin among equals) */
    serve__replica rep[SERVE_ROUTER_MAX_REPLICAS];
    atomic_int waiting; /* requests held for a ready replica */
    double inflight_acc;  /* supervisor: requests in flight summed over samples since the hook's last call */
    int inflight_samples; /* supervisor */
    /* metrics */
    serve__reqstats req;  /* requests answered (its inflight unused: the replicas count theirs) */
    atomic_ullong refused, died, timeouts, errors, retries, restarts;
} serve__pool;

struct serve_router {
    serve_router_opts o;  /* its strings point at the copies below */
    char *name, *sock_dir, *exe, *home, *server;
    char **envp;          /* the workers' environment (with MLPLANE_PARENT_PID) */
    pthread_mutex_t mu;
    pthread_cond_t ready_cv; /* on mu, CLOCK_MONOTONIC: a replica became ready, or draining began */
    size_t npools;        /* constant after start */
    const char *versions[SERVE_ROUTER_MAX_POOLS]; /* pools[i].version, for choose_version */
    serve__pool pools[SERVE_ROUTER_MAX_POOLS];
    atomic_bool draining; /* serve_router_drain was called */
    atomic_bool stopping; /* the supervisor must stop */
    int wake_fd;          /* eventfd that wakes the supervisor */
    pthread_t sup;
    bool started, stopped; /* main thread */
    pthread_key_t tls;    /* forward.c: each router thread's handles */
};

/* ---- router.c ---- */
/* Prints "WHO: " and the message on stderr, one line. */
void serve__vlog(const char *who, const char *fmt, va_list ap);
/* Prints "mlplane serve: " and the message on stderr, one line. */
void serve__log(const char *fmt, ...) MP_PRINTF(1, 2);
/* A fresh snapshot of pool pi (mu held by the caller). */
void serve__pool_stats_locked(serve_router *r, size_t pi, serve_router_pool_stats *st);

/* The workers' environment: ours, with MLPLANE_PARENT_PID set to our pid and
 * without MLPLANE_SERVER and SERVE_ADMIN_CREDENTIAL_ENV (heap strings in a heap
 * array, NULL-terminated). */
char **serve__worker_env(void);

/* "replica 3 (pid 123)" or "upstream 2 (http://svc:8080)": who x is, in logs. */
void serve__who(const serve__pool *p, const serve__replica *x, int pid, char *out, size_t n);

/* ---- rollout.c ---- */
/* method path (a POST has an empty body) on the server at url ("http://HOST:PORT"),
 * 10 s at most, with Authorization: Bearer bearer when bearer is not NULL (the
 * admin credential of serve_admin_credential_read; never logged): its JSON answer
 * when it is 200 (a new reference), else NULL with why in e. Any thread, once
 * curl_global_init has run. */
json_t *serve__http_json(const char *url, const char *method, const char *path, const char *bearer, mp_err *e);

/* ---- authz.c: the checks of a Deployment's routes under an authenticating server ---- */
typedef struct serve__authz serve__authz;
/* How long a review's answer is remembered. */
#define SERVE_AUTHZ_TTL_MS 5000
/* Checks against mlplane server at server_url (its POST /api/v1/authz/review,
 * naming the Deployment name); admin_credential (may be NULL) is let through
 * without a review. Free with serve__authz_free. MP_EINVAL for a URL that is not
 * http(s)://. */
int serve__authz_new(const char *server_url, const char *name, const char *admin_credential, serve__authz **out,
                     mp_err *e);
void serve__authz_free(serve__authz *a);
/* Whether req's credentials may verb resource in ns: 0, else resp filled (401
 * without or with invalid credentials, 403 naming the missing permission, 503
 * when the server cannot be asked) and MP_EPERM. Any thread. */
int serve__authz_check(serve__authz *a, const mp_http_req *req, const char *verb, const char *resource,
                       const char *ns, mp_http_resp *resp);

/* ---- replica.c: the supervisor ---- */
/* Starts exe with argv (the list is terminated here) and envp: stdin from
 * /dev/null, stdout and stderr to out (appended; NULL: stdout to /dev/null,
 * stderr inherited), pass_fd (when >= 0) as descriptor 3 and no other above 2,
 * an empty signal mask and default handlers, a process group of its own. 0
 * with *pid, or an errno. */
int serve__spawn(const char *exe, mp_strv *argv, char **envp, const char *out, int pass_fd, pid_t *pid);
/* A descriptor readable when pid exits (pidfd_open), or -1. */
int serve__pidfd_of(pid_t pid);
void *serve__supervise(void *router);
/* Wakes the supervisor (set_replicas, stop). Any thread. */
void serve__wake(serve_router *r);

/* ---- forward.c ---- */
typedef enum serve__fwd {
    SERVE__FWD_OK = 0,  /* resp holds the replica's answer, whatever its status */
    SERVE__FWD_REFUSED, /* no connection: the request never reached the replica */
    SERVE__FWD_DIED,    /* the connection broke before a whole answer came */
    SERVE__FWD_TIMEOUT, /* no answer within upstream_timeout_ms */
    SERVE__FWD_ERROR,   /* anything else (e.g. a malformed answer) */
} serve__fwd;

/* Creates the thread-specific key of the router threads' handles. */
int serve__forward_init(serve_router *r, mp_err *e);
void serve__forward_fini(serve_router *r);
/* Sends req to replica slot of pool pi (process gen) and fills resp with its
 * answer: status, body, Content-Type and end-to-end headers. On failure resp
 * is left for the caller to reset, and err says what happened. */
serve__fwd serve__forward(serve_router *r, size_t pi, int slot, unsigned gen, const mp_http_req *req,
                          mp_http_resp *resp, char *err, size_t errn);
/* GET /v2/health/ready on the unix socket sock, or at base URL url when it is
 * not NULL, with *handle (made when NULL): the status, or 0 when there was no
 * answer within timeout_ms. */
int serve__probe(void **handle, const char *sock, const char *url, int timeout_ms);
void serve__probe_close(void **handle);

/* ---- shadow.c: the shadow's sender ---- */
#define SERVE__SHADOW_QUEUE_MAX 256 /* copies waiting for the shadow; more are dropped (counted) */
#define SERVE__SHADOW_THREADS_MAX 16
typedef struct serve__shadow serve__shadow;
/* A copy was answered by the shadow (resp: its answer, or the router's error);
 * id, sampled and time_ms as pushed. On a sender thread. */
typedef void (*serve__shadow_done_fn)(void *ud, const char *id, bool sampled, int64_t time_ms, const mp_http_req *req,
                                      const mp_http_resp *resp, int64_t latency_us);
/* Starts threads (1..SERVE__SHADOW_THREADS_MAX) sending copies to pool of r.
 * *out is freed with serve__shadow_free (before r). */
int serve__shadow_start(serve_router *r, size_t pool, int threads, serve__shadow_done_fn done, void *ud,
                        serve__shadow **out, mp_err *e);
/* Queues a copy of req (everything copied; id may be NULL), or drops it when
 * the queue is full; counted either way. Any thread. */
void serve__shadow_push(serve__shadow *s, const mp_http_req *req, const char *id, bool sampled, int64_t time_ms);
/* Stops the threads (a copy being sent finishes); copies still queued are dropped. Idempotent. */
void serve__shadow_stop(serve__shadow *s);
void serve__shadow_free(serve__shadow *s);
/* Copies queued, dropped, and answered other than 200 (zeros for NULL). Any thread. */
void serve__shadow_counts(serve__shadow *s, unsigned long long *queued, unsigned long long *dropped,
                          unsigned long long *failed);
/* Appends the split's families, labelled deployment="NAME" (a Deployment's or
 * a route's name): mlplane_deployment_canary_percent,
 * mlplane_deployment_split_requests_total{track,version} (canary NULL: none)
 * and, with a shadow, mlplane_deployment_shadow_copies_total{result}. */
void serve__split_metrics(mp_buf *out, const char *deployment, serve_split *split, const char *stable,
                          const char *canary, serve__shadow *shadow);

/* ---- metrics.c ---- */
/* Counts one answered request of pool p: its status and its duration. */
void serve__observe(serve__pool *p, int status, int64_t us);
/* GET /admin/replicas: the stats as JSON (a new reference). */
json_t *serve__stats_json(const serve_router_snapshot *st);

/* ---- pure functions (unit-tested) ---- */
/* Which slot gets the next request: load[i] is slot i's requests in flight, or
 * negative when it takes none (not ready). The least loaded wins; among
 * equals, the first met scanning from start (mod n), so that a caller moving
 * start on by one each time goes round-robin. -1 when none takes requests. */
int serve__pick(const int *load, size_t n, unsigned start);
/* Which slot to remove when a pool shrinks: state[i] and load[i] per slot;
 * only STARTING, READY and RESTARTING ones are candidates. A RESTARTING one
 * (no process) first, then a STARTING one, then the READY one with the fewest
 * requests in flight; among equals the highest slot. -1 when none. */
int serve__pick_victim(const serve__state *state, const int *load, size_t n);
/* The restart delay after `failures` unasked exits in a row before this one:
 * 100 ms, doubling, at most 10 s. */
int64_t serve__backoff_ms(int failures);
/* The count of failures in a row once a process that ran for uptime_ms exits:
 * it starts over (0) when the process stayed up 30 s, else prev. */
int serve__backoff_failures(int prev, int64_t uptime_ms);
/* Appends path percent-encoded for a request line (bytes other than
 * unreserved characters, sub-delims, ':', '@' and '/' become %XX). */
void serve__encode_path(mp_buf *b, const char *path);

#endif
