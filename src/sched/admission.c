/* admission.c — admission of every run's steps through one scheduler.
 *
 * A ready step that needs admission (it asks for resources or several workers)
 * is queued by its engine as a pending workload row (sched_enqueue). One
 * process at a time holds the scheduler lease in the store; inside a write
 * transaction it reads every live row, runs sched_cycle over them and writes
 * each decision into the rows (sched_schedule): an admitted workload's nodes,
 * flavors, GPU devices and why it was admitted; a waiting one's reason; the
 * victims of a preemption asked to yield. Each engine polls its own rows and
 * starts its steps once admitted, records the reasons as events, and stops a
 * step asked to yield. So the cycle runs once per change, not once per waiting
 * run, however many runs wait; if the holder dies, the next engine to look
 * takes the lease over.
 * One thread: the engine's. */
#include "sched/sched_int.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int sched_enqueue(sched_queue *q, store *st, const store_run *run, const char *step, const spec_step *s, int64_t now,
                  char **why, mp_err *e) {
    assert(st->m->in_tx(st)); /* the row and the decisions it feeds commit together */
    *why = NULL;
    int rc = sched__queue_objects(q, st, e);
    if (rc) return rc;
    sched_resolved res;
    mp_err re;
    if (sched_objects_resolve(&q->obj, run->namespace_, s, &res, &re) != 0) {
        bool no_class = s->priority_class && !sched_objects_class(&q->obj, s->priority_class);
        *why = sched_why(no_class ? SCHED_WAIT_PRIORITY_CLASS : SCHED_WAIT_LOCAL_QUEUE, "%s", re.msg);
        return 0;
    }
    sched__req req;
    if (sched__req_from_step(s, res.may_preempt, &req, &re) != 0) {
        *why = sched_why(SCHED_WAIT_REQUEST, "%s", re.msg);
        return 0;
    }
    char *json = sched__req_to_json(&req);
    store_workload h = {.run_id = run->id, .step = (char *)step, .owner_pid = run->owner_pid,
                    .owner_start = run->owner_start, .pending = true, .priority = res.priority,
                    .queue = (char *)res.cluster_queue, .created_ms = now,
                    .limit_ms = (int64_t)s->timeout_seconds * 1000, .request = json,
                    .reason = SCHED_WHY_QUEUED};
    rc = st->w->workload_put(st, &h, e);
    free(json);
    sched__req_free(&req);
    return rc;
}

/* GPU devices in use on this machine: those of every live admitted row. */
static uint64_t devices_used(const sched_queue *q) {
    uint64_t used = 0;
    for (size_t i = 0; i < q->n; i++)
        if (q->w[i].admitted) used |= q->rows[q->row_of[i]].gpu_devices;
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

/* Whether two reasons differ in more than their numbers (a reservation's "in
 * 12 s" ticking down is not worth a write on every cycle). */
static bool reason_changed(const char *a, const char *b) {
    if (!a || !b) return a != b;
    while (*a || *b) {
        while (isdigit((unsigned char)*a) || *a == '.') a++;
        while (isdigit((unsigned char)*b) || *b == '.') b++;
        if (*a != *b) return true;
        if (*a) a++, b++;
    }
    return false;
}

int sched_schedule(sched_queue *q, store *st, int64_t now, mp_err *e) {
    assert(st->m->in_tx(st)); /* decisions are written in the lease holder's transaction */
    int rc = sched__queue_load(q, st, e);
    if (rc) return rc;
    sched_decision *d = NULL;
    size_t nd = 0;
    if ((rc = sched__queue_cycle(q, now, &d, &nd, e)) != 0) return rc;
    uint64_t used = devices_used(q);
    for (size_t k = 0; k < nd && rc == 0; k++) {
        size_t wi = d[k].workload;
        store_workload h = q->rows[q->row_of[wi]]; /* a shallow copy: fields are borrowed */
        const sched_workload *w = &q->w[wi];
        int gang = w->req.gang > 0 ? w->req.gang : 1;
        char *nodes = NULL;
        if (d[k].verdict == SCHED_ADMIT) {
            nodes = sched__nodes_text(q, d[k].nodes, gang);
            h.pending = false;
            h.started_ms = now;
            h.nodes = nodes;
            h.flavors = d[k].flavors ? d[k].flavors : (char *)"";
            h.cpu_milli = w->req.requests.cpu_milli * gang;
            h.memory_bytes = w->req.requests.memory_bytes * gang;
            h.gpu = w->req.requests.gpu * gang;
            h.gpu_devices = 0;
            if (!q->obj.simulated && h.gpu > 0) {
                h.gpu_devices = pick_devices(used, h.gpu, q->obj.nodes[0].capacity.gpu);
                used |= h.gpu_devices;
            }
            h.reason = d[k].why;
            rc = st->w->workload_put(st, &h, e);
        } else {
            if (d[k].verdict == SCHED_PREEMPT) {
                for (size_t v = 0; v < d[k].nvictims && rc == 0; v++) {
                    size_t hv = q->row_of[d[k].victims[v]];
                    char why[600];
                    snprintf(why, sizeof why, "preempted by %s (priority %d) to make room", w->id, (int)w->priority);
                    rc = st->w->workload_evict(st, q->rows[hv].run_id, q->rows[hv].step, why, e);
                }
            }
            if (rc == 0 && reason_changed(h.reason, d[k].why)) {
                h.reason = d[k].why;
                rc = st->w->workload_put(st, &h, e);
            }
        }
        free(nodes);
    }
    sched_decisions_free(d, nd);
    return rc;
}
