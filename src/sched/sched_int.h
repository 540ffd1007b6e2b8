/* sched_int.h — internals shared by the files of src/sched/ (not a public header):
 * node sets and requests (objects.c, workload.c), the queue's innards. */
#ifndef MLPLANE_SCHED_INT_H
#define MLPLANE_SCHED_INT_H

#include <jansson.h>

#include "sched/sched.h"

/* ---- nodes and requests (objects.c) ---------------------------------------------- */
/* spec requests or capacity -> sched_res; MP_EINVAL past SCHED_EXT_MAX extended names. */
int sched__res_from_spec(const spec_resources *r, sched_res *out, mp_err *e);
/* Every Node and NodePool member of files[0..nfiles) for which keep (may be NULL)
 * says yes, as sched_nodes borrowing from the files (which must outlive c). */
int sched__nodeset_build(const spec_file *const *files, size_t nfiles, bool (*keep)(void *ud, size_t file, const spec_node_inst *ni),
                         void *ud, sched_nodeset *c, mp_err *e);
void sched__nodeset_free(sched_nodeset *c);

/* ---- workloads (workload.c) ---------------------------------------------------------- */
/* A worker's request with the arrays it points at (owned); strings are borrowed
 * from the step spec, or owned by json when read from the store. */
typedef struct sched__req {
    sched_pod_req req;
    bool may_preempt;
    sched_kv *sel;
    sched_toleration *tol;
    json_t *json;
} sched__req;
int sched__req_from_step(const spec_step *s, bool may_preempt, sched__req *out, mp_err *e);
/* The request as stored in a workload row (heap JSON). */
char *sched__req_to_json(const sched__req *r);
int sched__req_from_json(const char *text, sched__req *out, mp_err *e);
void sched__req_free(sched__req *r);

/* (Re)loads the applied objects when they changed. */
int sched__queue_objects(sched_queue *q, store *st, mp_err *e);
/* Reads every live workload. Inside the caller's transaction. */
int sched__queue_load(sched_queue *q, store *st, mp_err *e);
int sched__queue_cycle(sched_queue *q, int64_t now_ms, sched_decision **out, size_t *nout, mp_err *e);
/* "node-a,node-a,node-b": the nodes of gang workers (heap). */
char *sched__nodes_text(const sched_queue *q, const size_t *nodes, int gang);
void sched__queue_reset(sched_queue *q);

/* ---- admission (admission.c) -------------------------------------------------------
 * Engines queue their ready steps as pending workload rows; the process holding
 * the scheduler lease runs the cycle over every live row and writes each
 * decision into the rows; each engine starts its own steps once their rows say
 * admitted (see admission.c). */

#endif
