/* workers.c — the processes of a running step: one, or a gang's `parallelism`
 * workers, each with its rank, its node, its GPUs and the step's checkpoint
 * directory in its environment; signals to all of them; a gang ending as a
 * whole; and the preemption the scheduler asks of a step.
 * Called by the engine (engine.c) on its thread. */
#include "engine/engine_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef engine__engine engine;

/* Gives a starting worker the GPUs in devs (bits: the d-th GPU found by NVML),
 * named to the process by CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES
 * (NVML's indexes, with CUDA_DEVICE_ORDER=PCI_BUS_ID so CUDA counts as NVML
 * does). On a machine with GPUs a step that asked for none sees none, as in
 * Kubernetes. */
static void assign_gpus(engine *g, uint64_t devs, mp_strv *env) {
    if (g->cap.gpu <= 0) return;
    mp_buf ids;
    mp_buf_init(&ids);
    size_t ngpu = 0;
    const char *why = NULL;
    const sched_gpu *gpu = sched_gpu_local(&ngpu, &why);
    for (size_t d = 0; d < 64 && d < ngpu; d++)
        if (devs & ((uint64_t)1 << d)) mp_buf_printf(&ids, "%s%d", ids.len ? "," : "", gpu[d].index);
    /* NVML numbers devices in PCI bus order; CUDA must count them the same way */
    mp_strv_push(env, "CUDA_DEVICE_ORDER=PCI_BUS_ID");
    mp_strv_push_owned(env, mp_xasprintf("CUDA_VISIBLE_DEVICES=%s", ids.data ? ids.data : ""));
    mp_strv_push_owned(env, mp_xasprintf("NVIDIA_VISIBLE_DEVICES=%s", ids.len ? ids.data : "void"));
    mp_buf_free(&ids);
}

/* The part of a gang's devices that worker rank gets: its own `per` devices. */
static uint64_t worker_devices(uint64_t all, int64_t per, int rank) {
    uint64_t out = 0;
    int64_t skip = per * rank, take = per;
    for (int d = 0; d < 64 && take > 0; d++) {
        if (!(all & ((uint64_t)1 << d))) continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        out |= (uint64_t)1 << d;
        take--;
    }
    return out;
}

/* A free TCP port on 127.0.0.1 for a gang's rank 0 (0 when none can be had). */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* The environment of one worker: the step's, with the variables mlplane sets
 * replaced (GPUs, rank, node, checkpoint directory). */
static char **worker_env(engine *g, engine__step *s, const engine__prep *pr, int rank, int world, int port,
                         const char *node, const char *ckdir, mp_strv *env) {
    static const char *const ours[] = {"CUDA_VISIBLE_DEVICES=", "NVIDIA_VISIBLE_DEVICES=", "CUDA_DEVICE_ORDER=",
                                       "MLPLANE_RANK=", "MLPLANE_WORLD_SIZE=", "MLPLANE_MASTER_ADDR=",
                                       "MLPLANE_MASTER_PORT=", "MLPLANE_NODE=", "MLPLANE_CHECKPOINT_DIR=",
                                       "RANK=", "WORLD_SIZE=", "MASTER_ADDR=", "MASTER_PORT="};
    for (size_t i = 0; i < pr->env.n; i++) {
        bool drop = false;
        for (size_t k = 0; k < sizeof ours / sizeof ours[0] && !drop; k++) drop = mp_str_starts(pr->env.v[i], ours[k]);
        if (!drop) mp_strv_push(env, pr->env.v[i]);
    }
    assign_gpus(g, worker_devices(s->gpus, s->spec->resources.gpu, rank), env);
    if (node) mp_strv_push_owned(env, mp_xasprintf("MLPLANE_NODE=%s", node));
    if (ckdir) mp_strv_push_owned(env, mp_xasprintf("MLPLANE_CHECKPOINT_DIR=%s", ckdir));
    if (world > 1) { /* distributed training: the names mlplane documents, and torchrun's */
        mp_strv_push_owned(env, mp_xasprintf("MLPLANE_RANK=%d", rank));
        mp_strv_push_owned(env, mp_xasprintf("MLPLANE_WORLD_SIZE=%d", world));
        mp_strv_push(env, "MLPLANE_MASTER_ADDR=127.0.0.1");
        mp_strv_push_owned(env, mp_xasprintf("MLPLANE_MASTER_PORT=%d", port));
        mp_strv_push_owned(env, mp_xasprintf("RANK=%d", rank));
        mp_strv_push_owned(env, mp_xasprintf("WORLD_SIZE=%d", world));
        mp_strv_push(env, "MASTER_ADDR=127.0.0.1");
        mp_strv_push_owned(env, mp_xasprintf("MASTER_PORT=%d", port));
    }
    return mp_strv_terminated(env);
}

/* checkpoint: {path}: a directory kept across attempts, preemptions and resume,
 * HOME/runs/RUN/checkpoints/STEP, linked at PATH in the step's outputs (an
 * absolute PATH is used as it is). NULL when the step has none. */
static char *checkpoint_dir(engine *g, engine__step *s, mp_err *e, int *rc) {
    const char *path = s->spec->checkpoint_path;
    if (!path) return NULL;
    char *dir = path[0] == '/' ? mp_xstrdup(path)
                               : mp_xasprintf("%s/runs/%s/checkpoints/%s", g->o->home, g->run.id, s->rec.name);
    if ((*rc = mp_mkdir_p(dir, e)) != 0) return dir;
    if (path[0] != '/') {
        char *link = mp_xasprintf("%s/%s", s->rec.outputs_dir, path);
        char *parent = mp_path_dir(link);
        if ((*rc = mp_mkdir_p(parent, e)) == 0 && symlink(dir, link) != 0)
            *rc = mp_err_set(e, MP_EIO, "cannot link checkpoint directory %s at %s: %s", dir, link, strerror(errno));
        free(parent);
        free(link);
    }
    return dir;
}

/* The node of worker rank, from "a,b,c" (heap), or NULL. */
static char *worker_node(const char *nodes, int rank) {
    const char *p = nodes;
    for (int i = 0; p && i < rank; i++) {
        p = strchr(p, ',');
        if (p) p++;
    }
    if (!p || !*p) return NULL;
    const char *c = strchr(p, ',');
    return c ? mp_xstrndup(p, (size_t)(c - p)) : mp_xstrdup(p);
}

/* Spawns a step whose Running state is committed: its workers (one, or a gang's
 * `parallelism`). A worker that cannot start gets a faked exit so the next
 * iteration records it like any other failed attempt. */
void engine__spawn_step(engine *g, engine__step *s, engine__prep *pr, engine__exit *fails, size_t *nfails) {
    mp_err e;
    int rc = 0;
    if (!g->logs_ready) {
        char *dir = mp_path_dir(s->rec.log_path);
        rc = mp_mkdir_p(dir, &e);
        free(dir);
        g->logs_ready = rc == 0;
    }
    mp_rm_rf(s->rec.outputs_dir, NULL); /* partial outputs of an earlier attempt */
    if (rc == 0 && mkdir(s->rec.outputs_dir, 0755) != 0) rc = mp_mkdir_p(s->rec.outputs_dir, &e);
    if (rc == 0 && s->rec.attempts > 1) {
        FILE *f = fopen(s->rec.log_path, "a");
        if (f) {
            char t[40];
            mp_format_time(mp_now_ms(), t, sizeof t);
            fprintf(f, "==> mlplane: attempt %d at %s\n", s->rec.attempts, t);
            fclose(f);
        }
    }
    if (rc == 0 && pr->secrets_dir && (rc = engine__secrets_write(pr, &e)) != 0) {
        FILE *f = fopen(s->rec.log_path, "a");
        if (f) {
            fprintf(f, "==> mlplane: %s\n", e.msg);
            fclose(f);
        }
    }
    char *ckdir = rc == 0 ? checkpoint_dir(g, s, &e, &rc) : NULL;
    int world = s->spec->parallelism > 1 ? s->spec->parallelism : 1;
    int port = world > 1 ? free_port() : 0;
    for (int r = 0; s->workers && r < s->nworkers; r++)
        if (s->workers[r]) g->x->m->release(g->x, s->workers[r]);
    free(s->workers);
    s->workers = mp_xcalloc((size_t)world, sizeof *s->workers);
    s->nworkers = world;
    s->alive = 0;
    s->fail_code = s->fail_signal = s->fail_rank = 0;
    s->running = true;
    s->timed_out = s->cancelling = s->preempting = false;
    s->kill_at = 0;
    for (int r = 0; r < world; r++) {
        int wrc = rc;
        mp_strv env = {0};
        char *node = worker_node(s->nodes, r);
        char *log = r == 0 ? NULL : mp_xasprintf("%.*s.rank%d.log", (int)strlen(s->rec.log_path) - 4, s->rec.log_path, r);
        exec_task t = {.run_id = g->run.id, .step = s->rec.name, .argv = mp_strv_terminated(&pr->argv),
                       .envp = worker_env(g, s, pr, r, world, port, node, ckdir, &env), .cwd = pr->cwd,
                       .log_path = log ? log : s->rec.log_path, .image = s->spec->image,
                       .redact = (const unsigned char *const *)pr->redact, .redact_len = pr->redact_len,
                       .nredact = pr->nredact};
        if (wrc == 0) wrc = g->x->m->start(g->x, &t, s, &s->workers[r], &e);
        s->alive++;
        if (wrc != 0) {
            s->workers[r] = NULL;
            fails[(*nfails)++] = (engine__exit){.s = s, .rank = r, .exit_code = wrc == MP_ENOENT ? 127 : 126};
        }
        mp_strv_free(&env);
        free(node);
        free(log);
    }
    free(ckdir);
    s->rec.pid = s->workers[0] ? s->workers[0]->pid : 0;
    s->started_mono = mp_mono_ms();
    s->deadline = s->spec->timeout_seconds > 0 ? s->started_mono + (int64_t)s->spec->timeout_seconds * 1000 : 0;
}

/* Sends sig to every worker of s still running. */
void engine__signal_step(engine *g, engine__step *s, int sig) {
    for (int r = 0; r < s->nworkers; r++)
        if (s->workers[r]) g->x->m->signal(g->x, s->workers[r], sig, NULL);
}

/* A worker ended (x). Returns its step when that was the step's last worker,
 * with x rewritten to the step's outcome (the first failing worker's exit, or
 * success), else NULL. The first failure stops the rest of a gang: a gang
 * succeeds or fails as a whole. */
size_t engine__take_events(engine *g, const exec_event *evs, size_t nev, engine__exit *exits) {
    size_t n = 0;
    for (size_t i = 0; i < nev; i++) {
        const exec_event *ev = &evs[i];
        engine__step *s = ev->h ? ev->h->user : NULL;
        if (!s) continue;
        if (ev->kind == EXEC_NOTE) {
            engine__record_now(g, s->rec.name, ev->reason[0] ? ev->reason : "StepNote", ev->message);
            engine__flush_events(g);
            continue;
        }
        int rank = -1;
        for (int r = 0; r < s->nworkers && rank < 0; r++)
            if (s->workers[r] == ev->h) rank = r;
        g->x->m->release(g->x, ev->h);
        if (rank < 0) continue; /* a task of an attempt already given up */
        s->workers[rank] = NULL;
        exits[n++] = (engine__exit){.s = s, .rank = rank, .exit_code = ev->exit_code, .signal = ev->signal};
    }
    return n;
}

engine__step *engine__worker_exited(engine *g, engine__exit *x) {
    engine__step *s = x->s;
    int rank = x->rank;
    if (!s) return NULL;
    bool failed = x->signal || x->exit_code != 0;
    if (failed && !s->fail_code && !s->fail_signal) {
        s->fail_code = x->exit_code ? x->exit_code : 128 + x->signal;
        s->fail_signal = x->signal;
        s->fail_rank = rank;
        if (s->alive > 1 && !s->kill_at) { /* the gang fails as a whole */
            engine__signal_step(g, s, SIGTERM);
            s->kill_at = mp_mono_ms() + g->grace_ms;
        }
    }
    if (--s->alive > 0) return NULL;
    s->running = false;
    x->exit_code = s->fail_code;
    x->signal = s->fail_signal;
    return s;
}

/* Stops running steps whose workload another was admitted to preempt (their rows
 * say so; polled every 250 ms): recorded, then SIGTERM and the grace period to
 * checkpoint. The step is requeued when it exits. */
void engine__poll_evictions(engine *g) {
    int64_t now = mp_mono_ms();
    if (now - g->last_evict_poll < 250) return;
    g->last_evict_poll = now;
    bool any = false;
    for (size_t i = 0; i < g->n && !any; i++) any = g->steps[i].running && engine__needs_admission(&g->steps[i]);
    if (!any) return;
    store_workload *h = NULL;
    size_t n = 0;
    if (g->st->w->workload_list(g->st, &h, &n, NULL) != 0) return;
    for (size_t i = 0; i < n; i++) {
        if (!h[i].evict || h[i].pending || strcmp(h[i].run_id, g->run.id) != 0) continue;
        engine__step *s = engine__step_by_name(g, h[i].step);
        if (!s || !s->running || s->preempting || s->cancelling || s->timed_out) continue;
        s->preempting = true;
        free(s->preempt_why);
        s->preempt_why = mp_xstrdup(h[i].evict);
        char msg[700];
        snprintf(msg, sizeof msg, "%s: SIGTERM sent, %d ms to checkpoint", h[i].evict, g->grace_ms);
        engine__record_now(g, s->rec.name, "StepPreempted", msg); /* recorded (own commit), then acted on */
        engine__flush_events(g);
        engine__signal_step(g, s, SIGTERM);
        s->kill_at = now + g->grace_ms;
    }
    store_workload_array_free(h, n);
}
