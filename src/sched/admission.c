/* admission.c — admission of a run's ready steps against the shared queue.
 *
 * Inside the engine's write transaction: read every live workload (sched__queue),
 * add this run's candidates, run one sched_cycle, and record its outcome for
 * this run's steps only: an admitted step's workload row (nodes, flavors, GPU
 * devices), a waiting step's pending row with its reason (so other processes
 * order it correctly and `get queue` shows it), and preemption asked of victims
 * (their owners stop them). Other runs' decisions are theirs to act on; they
 * reach the same ones, as they run the same cycle over the same rows.
 * One thread: the engine's. */
#include "sched/sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sched__cand_clear(sched__cand *c) {
    free(c->nodes);
    free(c->node_idx);
    free(c->flavors);
    free(c->why);
    sched__step *s = c->s;
    memset(c, 0, sizeof *c);
    c->s = s;
}

static const store_hold *find_row(const sched__queue *q, const char *run, const char *step) {
    for (size_t i = 0; i < q->nholds; i++)
        if (strcmp(q->holds[i].run_id, run) == 0 && strcmp(q->holds[i].step, step) == 0) return &q->holds[i];
    return NULL;
}

/* GPU devices in use on this machine: those of every live admitted row. */
static uint64_t devices_used(const sched__queue *q) {
    uint64_t used = 0;
    for (size_t i = 0; i < q->n; i++)
        if (q->w[i].admitted && q->hold_of[i] != (size_t)-1) used |= q->holds[q->hold_of[i]].gpu_devices;
    return used;
}

static uint64_t pick_devices(uint64_t used, int64_t want, int64_t have) {
    uint64_t got = 0;
    for (int d = 0; d < 64 && d < have && want > 0; d++) {
        if (used & ((uint64_t)1 << d)) continue;
        got |= (uint64_t)1 << d;
        want--;
    }
    return want > 0 ? 0 : got;
}

static int put_row(store *st, const store_run *run, sched__cand *c, const sched_workload *w, const sched__req *req,
                   bool pending, int64_t now, mp_err *e) {
    char *json = sched__req_to_json(req);
    int gang = w->req.gang > 0 ? w->req.gang : 1;
    store_hold h = {.run_id = run->id, .step = c->s->rec.name, .owner_pid = run->owner_pid,
                    .owner_start = run->owner_start, .pending = pending, .priority = w->priority,
                    .queue = (char *)w->cluster_queue, .created_ms = w->created_ms, .limit_ms = w->limit_ms,
                    .request = json, .reason = pending ? c->why : NULL};
    if (!pending) {
        h.cpu_milli = w->req.requests.cpu_milli * gang;
        h.memory_bytes = w->req.requests.memory_bytes * gang;
        h.gpu = w->req.requests.gpu * gang;
        h.gpu_devices = c->gpus;
        h.started_ms = now;
        h.nodes = c->nodes;
        h.flavors = c->flavors;
    }
    int rc = st->m->hold_put(st, &h, e);
    free(json);
    return rc;
}

int sched__admit(sched__queue *q, store *st, const store_run *run, sched__cand *cands, size_t ncands, int64_t now,
                 mp_err *e) {
    int rc = sched__queue_load(q, st, run->id, e);
    if (rc) return rc;
    size_t *idx = mp_xcalloc(ncands + 1, sizeof *idx);
    for (size_t i = 0; i < ncands; i++) {
        sched__cand *c = &cands[i];
        sched__cand_clear(c);
        idx[i] = (size_t)-1;
        const spec_step *s = c->s->spec;
        sched_resolved res;
        mp_err re;
        if (sched_objects_resolve(&q->obj, run->namespace_, s, &res, &re) != 0) {
            c->why = mp_xstrdup(re.msg);
            continue;
        }
        sched__req req;
        if (sched__req_from_step(s, res.may_preempt, &req, &re) != 0) {
            c->why = mp_xstrdup(re.msg);
            continue;
        }
        const store_hold *row = find_row(q, run->id, c->s->rec.name);
        int64_t created = row && row->pending && row->created_ms ? row->created_ms : now;
        idx[i] = sched__queue_add(q, run->id, c->s->rec.name, &res, created,
                                  (int64_t)s->timeout_seconds * 1000, &req);
    }
    sched_decision *d = NULL;
    size_t nd = 0;
    rc = sched__queue_cycle(q, now, &d, &nd, e);
    uint64_t used = rc == 0 ? devices_used(q) : 0;
    for (size_t k = 0; k < nd && rc == 0; k++) {
        size_t wi = d[k].workload;
        sched__cand *c = NULL;
        for (size_t i = 0; i < ncands && !c; i++)
            if (idx[i] == wi) c = &cands[i];
        if (!c) continue; /* another run's workload: its owner acts on it */
        const sched_workload *w = &q->w[wi];
        int gang = w->req.gang > 0 ? w->req.gang : 1;
        c->verdict = (int)d[k].verdict;
        c->why = mp_xstrdup(d[k].why ? d[k].why : "");
        if (d[k].verdict == SCHED_ADMIT) {
            c->node_idx = mp_xcalloc((size_t)gang + 1, sizeof *c->node_idx);
            memcpy(c->node_idx, d[k].nodes, (size_t)gang * sizeof *c->node_idx);
            c->nodes = sched__nodes_text(q, d[k].nodes, gang);
            c->flavors = mp_xstrdup(d[k].flavors ? d[k].flavors : "");
            c->borrows = d[k].borrows;
            int64_t want = w->req.requests.gpu * gang;
            if (!q->obj.simulated && want > 0) {
                c->gpus = pick_devices(used, want, q->obj.nodes[0].capacity.gpu);
                used |= c->gpus;
            }
            c->admit = true;
            rc = put_row(st, run, c, w, &q->reqs[wi], false, now, e);
        } else {
            if (d[k].verdict == SCHED_PREEMPT) {
                for (size_t v = 0; v < d[k].nvictims && rc == 0; v++) {
                    size_t hv = q->hold_of[d[k].victims[v]];
                    if (hv == (size_t)-1) continue;
                    const store_hold *h = &q->holds[hv];
                    char why[600];
                    snprintf(why, sizeof why, "preempted by %s (priority %d) to make room", w->id, (int)w->priority);
                    rc = st->m->hold_evict(st, h->run_id, h->step, why, e);
                }
            }
            const store_hold *row = find_row(q, run->id, c->s->rec.name);
            if (rc == 0 && (!row || !row->pending || !row->reason || strcmp(row->reason, c->why) != 0))
                rc = put_row(st, run, c, w, &q->reqs[wi], true, now, e);
        }
    }
    sched_decisions_free(d, nd);
    free(idx);
    return rc;
}
