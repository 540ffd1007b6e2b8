/* capacity.c — whether a pipeline can ever run here: this machine's capacity
 * (CPUs, memory, NVIDIA GPUs), every step's requests against it, and against
 * the applied cluster's nodes and names (sched_objects). Reentrant; reads the
 * machine (and NVML, once) on the calling thread. */
#include "sched/sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sched_local_capacity(sched_capacity *c) {
    c->cpu_milli = (int64_t)mp_cpu_count() * 1000;
    c->memory_bytes = mp_mem_total();
    size_t ngpu = 0;
    sched_gpu_local(&ngpu, NULL);
    c->gpu = (int64_t)ngpu;
}

static void fmt_bytes(int64_t b, char *out, size_t n) {
    if (b >= (1LL << 30)) snprintf(out, n, "%.1fGi", (double)b / (double)(1LL << 30));
    else if (b >= (1LL << 20)) snprintf(out, n, "%.1fMi", (double)b / (double)(1LL << 20));
    else snprintf(out, n, "%lld", (long long)b);
}

int sched_check_capacity(const spec_pipeline *p, const sched_capacity *c, mp_err *e) {
    for (size_t i = 0; i < p->nsteps; i++) {
        const spec_step *s = &p->steps[i];
        const spec_resources *r = &s->resources;
        if (r->cpu_milli > c->cpu_milli)
            return mp_err_set(e, MP_EINVAL, "step \"%s\" requests cpu %lldm but this machine has %lldm; lower resources.cpu",
                              s->name, (long long)r->cpu_milli, (long long)c->cpu_milli);
        if (r->memory_bytes > c->memory_bytes) {
            char a[32], b[32];
            fmt_bytes(r->memory_bytes, a, sizeof a);
            fmt_bytes(c->memory_bytes, b, sizeof b);
            return mp_err_set(e, MP_EINVAL, "step \"%s\" requests memory %s but this machine has %s; lower resources.memory",
                              s->name, a, b);
        }
        if (r->gpu > c->gpu)
            return mp_err_set(e, MP_EINVAL, "step \"%s\" requests %lld nvidia.com/gpu but this machine has %lld", s->name,
                              (long long)r->gpu, (long long)c->gpu);
    }
    return 0;
}

/* Whether every step could ever run on the cluster o (each worker fits some node
 * with nothing else on it) and names applied objects; MP_EINVAL saying which not. */
int sched_check_pipeline(const sched_objects *o, const spec_pipeline *p, mp_err *e) {
    if (!o->simulated) {
        sched_capacity cap;
        sched_local_capacity(&cap);
        int rc = sched_check_capacity(p, &cap, e);
        if (rc) return rc;
    }
    for (size_t i = 0; i < p->nsteps; i++) {
        const spec_step *s = &p->steps[i];
        sched_resolved res;
        int rc = sched_objects_resolve(o, p->meta.namespace_, s, &res, e);
        if (rc) return rc;
        if (!o->simulated && s->resources.nextended == 0) continue; /* checked above */
        sched__req req;
        if ((rc = sched__req_from_step(s, true, &req, e)) != 0) return rc;
        size_t *where = mp_xcalloc((size_t)req.req.gang + 1, sizeof *where);
        char why[512];
        rc = sched_place_gang(o->nodes, o->nnodes, &req.req, SCHED_BINPACK, where, why, sizeof why);
        if (rc == MP_ENOENT || rc == MP_EINVAL)
            rc = mp_err_set(e, MP_EINVAL, "step \"%s\" can never run on this cluster: %s", s->name, why);
        else
            rc = 0; /* fits, or will once others end */
        free(where);
        sched__req_free(&req);
        if (rc) return rc;
    }
    return 0;
}

int sched_step_fits_files(const spec_file *const *files, size_t nfiles, const spec_step *s, char *why, size_t whyn) {
    sched_nodeset ns = {0};
    mp_err e;
    why[0] = '\0';
    if (sched__nodeset_build(files, nfiles, NULL, NULL, &ns, &e) != 0) {
        snprintf(why, whyn, "%s", e.msg);
        return 0;
    }
    int fits = 1;
    if (ns.n > 0) {
        sched__req req;
        if (sched__req_from_step(s, true, &req, &e) != 0) {
            snprintf(why, whyn, "%s", e.msg);
            fits = 0;
        } else {
            size_t *where = mp_xcalloc((size_t)req.req.gang + 1, sizeof *where);
            int rc = sched_place_gang(ns.nodes, ns.n, &req.req, SCHED_BINPACK, where, why, whyn);
            fits = !(rc == MP_ENOENT || rc == MP_EINVAL);
            free(where);
            sched__req_free(&req);
        }
    }
    sched__nodeset_free(&ns);
    return fits;
}
