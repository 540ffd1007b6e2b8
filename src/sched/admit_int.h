/* admit_int.h — internals of the admission cycle (sched_cycle), shared by
 * admit.c (the driver: order, decisions), admit_nodes.c (node room: views,
 * eligibility classes, counting, reasons), admit_quota.c (ClusterQueues,
 * cohorts, flavors, usage, fair share) and admit_preempt.c (victims, waiting
 * for evicted workloads, the backfill reservation). Not a public header.
 *
 * Views. What a node or a quota holds is kept twice:
 *   NOW  what is held at this moment: admitted workloads, evicting ones and
 *        victims chosen this cycle included (they hold until they exit), plus
 *        what this cycle admits;
 *   FUT  what will be held once every evicting workload and victim has exited:
 *        NOW without them, plus the placements preemptors (and workloads waiting
 *        for evicted ones) are promised, and the quota of the backfill
 *        reservation.
 * A workload is admitted now only when it fits both (EFF: the larger of the two
 * in every amount), so it takes neither room still in use nor room promised.
 * Preemption and "wait for the evicted" plan in FUT.
 *
 * Everything here lives for one cycle, is owned by the sched__cycle and freed with
 * it; strings of the caller (names, labels) are borrowed. */
#ifndef MLPLANE_ADMIT_INT_H
#define MLPLANE_ADMIT_INT_H

#include "sched/sched.h"

#define SCHED__SLOTS (3 + SCHED_EXT_MAX) /* a node's amounts: cpu, memory, gpu, its extended resources */
#define SCHED__ITEMS (3 + SCHED_EXT_MAX) /* the non-zero amounts of one request */
#define SCHED__COMBOS 32                 /* flavor combinations tried per workload */
#define SCHED__NAMES 8                   /* workloads or nodes named in one reason */

enum { SCHED__CPU = 0, SCHED__MEM = 1, SCHED__GPU = 2 }; /* resource ids; extended names follow */
enum { SCHED__NOW = 0, SCHED__FUT = 1, SCHED__EFF = 2 }; /* views (see above) */
enum { SCHED__NO_QUEUE = -1, SCHED__UNKNOWN_QUEUE = -2 };

/* ---- a tiny string -> int map (open addressing; keys copied) ------------------------ */
typedef struct sched__map {
    char **keys;
    int *vals;
    size_t cap, n;
} sched__map;
/* The value of key, or -1. */
int sched__map_get(const sched__map *m, const char *key);
/* Adds key -> val unless present; returns the value now stored. */
int sched__map_put(sched__map *m, const char *key, int val);
void sched__map_free(sched__map *m);

/* ---- requests ------------------------------------------------------------------ */
/* One worker's non-zero amounts by resource id (ascending), and the gang size. */
typedef struct sched__req {
    int n;
    int rid[SCHED__ITEMS];
    int64_t amt[SCHED__ITEMS];
    int gang; /* >= 1 */
} sched__req;

/* ---- nodes --------------------------------------------------------------------- */
typedef struct sched__node {
    int next;                   /* extended resources in capacity */
    int ext_rid[SCHED_EXT_MAX]; /* their ids (slot 3 + k) */
    int64_t cap[SCHED__SLOTS];
    int64_t use[2][SCHED__SLOTS]; /* NOW, FUT */
} sched__node;

/* The nodes a set of constraints (nodeSelector + the flavors' nodeLabels,
 * tolerations) lets a worker on. */
typedef struct sched__class {
    sched_kv *sel; /* owned array; strings borrowed */
    size_t nsel;
    const sched_toleration *tol; /* borrowed from a workload */
    size_t ntol;
    size_t *elig; /* eligible nodes, ascending */
    size_t nelig;
    unsigned char *is_elig; /* per node */
    char *none_why;         /* when nelig == 0: the placement library's reason */
} sched__class;

/* A request on a class: what is remembered about it during the cycle. */
typedef struct sched__shape {
    int cls, req;
    int never;           /* -1 unknown, 0 fits an empty cluster, 1 never fits */
    char *never_why;     /* when never */
    uint64_t nofit_gen;  /* release generation at which it did not fit EFF; 0 = none */
    uint64_t why_gen;    /* allocation generation of why; 0 = none */
    char *why;           /* node-room reason under EFF */
} sched__shape;

/* ---- quotas -------------------------------------------------------------------- */
typedef struct sched__group {
    int ncov;
    int *cov;     /* covered resource ids */
    int nfl;
    int *fl;      /* flavor index in the cluster's flavors, -1 when undefined */
    const char **fl_name;
    int cell0;    /* cell of flavor f, covered r: cell0 + f * ncov + r (global) */
} sched__group;

typedef struct sched__queue {
    const spec_cluster_queue *cq;
    const char *name;
    int cohort; /* -1 none */
    int ngroups;
    sched__group *groups;
    int *rid_group, *rid_cov; /* per resource id (< nrid): its group and index there, -1 when not covered */
    int nrid;
    int cell_lo, cell_hi;     /* its cells: [cell_lo, cell_hi) */
    int64_t weight_milli;
    char *inactive; /* why it admits nothing (a flavor is not defined), or NULL */
    int64_t share;  /* weighted dominant resource share, parts per million (cached) */
    bool touched;   /* usage changed in the current decision */
    bool has_admitted; /* admitted workloads (given to the cycle) to preempt, ... */
    int32_t min_prio;  /* ... the lowest priority among them */
} sched__queue;

typedef struct sched__cell {
    int queue, group, fl, rid;
    int cfr;           /* its (cohort, flavor, resource) entry, -1 without a cohort */
    int64_t nominal;
    int64_t borrow_limit; /* valid when has_bl */
    int64_t guaranteed;   /* nominal - lendingLimit: kept from the cohort (0 without a limit) */
    bool has_bl;
    int64_t use[2];       /* NOW, FUT */
} sched__cell;

typedef struct sched__cfr {
    int64_t pool; /* what the cohort's members can lend: sum of lendingLimit (or nominal) */
    int *cells;   /* members' cells of this flavor and resource */
    int ncells;
} sched__cfr;

/* A workload's flavor choice: for each group it requests from, a flavor. */
typedef struct sched__combo {
    int ng;
    int g[SCHED__ITEMS]; /* group index in the queue */
    int f[SCHED__ITEMS]; /* flavor index in the group */
} sched__combo;

/* What a workload holds of quotas. */
typedef struct sched__hold {
    int n;
    int cell[SCHED__ITEMS];
    int64_t amt[SCHED__ITEMS];
} sched__hold;

/* ---- workloads ----------------------------------------------------------------- */
typedef struct sched__work {
    int queue;    /* index, SCHED__NO_QUEUE or SCHED__UNKNOWN_QUEUE */
    sched__req req;
    char *invalid; /* pending with a malformed request: why (owned) */
    int req_id, base, wshape; /* pending: interned request, constraints, memo */
    /* Holding (admitted, admitted this cycle, or promised a placement): */
    bool holds;   /* counted in FUT */
    bool leaving; /* evicting, or chosen as victim this cycle: in NOW only */
    bool victim;  /* chosen this cycle */
    bool in_t;    /* still held at the reservation time (backfill view) */
    size_t cand;  /* admitted: its place in by_victim_order */
    const size_t *nodes; /* one per worker */
    size_t *own_nodes;   /* owned copy when planned here */
    sched__hold hold;
    int64_t end_ms; /* when it is assumed to end (backfill) */
} sched__work;

/* Per (queue, constraints, request): a failed preemption remembered. It fails
 * again as long as nothing was released in FUT (release_gen), no queue started
 * to borrow (borrow_gen: new reclaim candidates), each flavor combination still
 * fits quota or not as before, and the priority is not higher: admissions only
 * take room and quota, and later workloads of the same lane have no more
 * candidates (lower or equal priority, created later). */
typedef struct sched__wshape {
    uint64_t fail_release, fail_borrow; /* generations at the failure; 0 none */
    uint32_t fail_mask;                 /* combinations that fit quota then */
    int32_t fail_prio;                  /* it failed for this priority (and so for any lower) */
} sched__wshape;

/* A preemption candidate, compact for the scans of victim searches. */
typedef struct sched__cand {
    size_t idx;    /* workload */
    size_t node0;  /* its first worker's node */
    int32_t prio;
    bool one;      /* a single worker */
    bool leaving;  /* chosen as a victim this cycle */
} sched__cand;

typedef struct sched__cycle {
    const sched_cluster *c;
    const sched_workload *w;
    size_t n;
    int64_t now;
    /* resources */
    sched__map res_map;
    char **res_name; /* by id (owned copies) */
    int nres, res_cap;
    /* nodes */
    size_t nn;
    sched__node *nodes;
    sched_node *wn;      /* for sched_place_gang: capacity, labels, taints; allocated = EFF */
    int64_t (*tview)[SCHED__SLOTS]; /* the backfill view: held at the reservation time */
    /* eligibility classes, requests, shapes */
    sched__map base_map, class_map, req_map, shape_map, wshape_map;
    const sched_workload **base_of; /* a workload whose selector/tolerations define base b */
    int nbase, base_cap;
    sched__class *cls;
    int ncls, cls_cap;
    sched__req *reqs;
    int nreqs, reqs_cap;
    sched__shape *shapes;
    int nshapes, shapes_cap;
    sched__wshape *wshapes;
    int nwshapes, wshapes_cap;
    /* quotas */
    sched__queue *q;
    int nq;
    sched__cell *cells;
    int ncells, cells_cap;
    sched__cfr *cfr;
    int ncfr, cfr_cap;
    sched__map queue_map, cohort_map, cfr_map;
    int ncohorts;
    /* workloads */
    sched__work *wk;
    sched__cand *by_victim_order; /* admitted, not leaving: priority asc, started desc, index asc */
    size_t nvo;
    size_t *leaving; /* evicting workloads and victims chosen so far */
    size_t nleaving;
    /* generations (start at 1) */
    uint64_t alloc_gen;   /* EFF node amounts changed */
    uint64_t release_gen; /* something left a view (EFF may have grown free) */
    uint64_t borrow_gen;  /* a queue's FUT usage went over nominal in some cell */
    bool planning;        /* a victim search is moving usage back and forth */
    /* the backfill reservation */
    bool has_res;
    size_t res_w;
    int res_shape;
    int64_t res_t;
    /* queues whose usage changed in the current decision */
    int *touched;
    int ntouched;
    mp_buf buf; /* scratch */
} sched__cycle;

/* ---- admit.c ------------------------------------------------------------------- */
int sched__rid(sched__cycle *cy, const char *name); /* interns a resource name; its id */
void sched__fmt_amount(int rid, int64_t v, char *out, size_t n); /* "500m" cpu, "16Gi" memory, "2" */
int64_t sched__sat_add(int64_t a, int64_t b);
int64_t sched__sat_mul(int64_t a, int64_t b);
void sched__touch(sched__cycle *cy, int queue);
const char *sched__id(const sched__cycle *cy, size_t w);
/* Appends up to SCHED__NAMES workload ids with priorities: "RUN/x (priority 0), ...". */
void sched__put_victims(sched__cycle *cy, mp_buf *b, const size_t *v, size_t n, bool prio);

/* ---- admit_nodes.c ------------------------------------------------------------- */
int sched__nodes_init(sched__cycle *cy, mp_err *e);
/* Appends "1 nvidia.com/gpu, 4 cpu, 16Gi memory" (scarcest first). */
void sched__put_req(sched__cycle *cy, mp_buf *b, const sched__req *r);
void sched__nodes_free(sched__cycle *cy);
/* Adds (sign 1) or takes (-1) one worker of r on node i in the views of mask (1 << SCHED__NOW | ...). */
void sched__node_add(sched__cycle *cy, size_t i, const sched__req *r, int sign, unsigned mask);
/* The same for every worker of a holding. */
void sched__workload_nodes(sched__cycle *cy, const sched__req *r, const size_t *nodes, int sign, unsigned mask);
/* Workers of r node i takes in view (SCHED__NOW, SCHED__FUT, SCHED__EFF), capped at r->gang. */
int64_t sched__node_share(const sched__cycle *cy, size_t i, const sched__req *r, int view);
int64_t sched__tnode_share(const sched__cycle *cy, size_t i, const sched__req *r);
/* Workers of r the class' nodes take in view, counting no further than want. */
int64_t sched__count(const sched__cycle *cy, const sched__class *k, const sched__req *r, int view, int64_t want);
int64_t sched__tcount(const sched__cycle *cy, const sched__class *k, const sched__req *r);
/* Interns the constraints of w (a base) and a class of a base with flavors. */
int sched__base(sched__cycle *cy, const sched_workload *w);
int sched__class_of(sched__cycle *cy, int base, const sched__queue *q, const sched__combo *cb);
int sched__shape_of(sched__cycle *cy, int cls, int req);
/* Whether the shape can ever fit (computing never_why when not). */
bool sched__shape_possible(sched__cycle *cy, sched__shape *s);
/* Whether it fits EFF now (remembering a failure until something is released). */
bool sched__shape_fits_eff(sched__cycle *cy, sched__shape *s);
/* The node-room reason under EFF (owned by the shape; valid until the next call). */
const char *sched__shape_why(sched__cycle *cy, sched__shape *s);
/* Places the shape's workload w under EFF with sched_place_gang: 0 and out[gang],
 * or an error with why in cy->buf. */
int sched__place(sched__cycle *cy, const sched__shape *s, const sched_workload *w, size_t *out);
/* Plans gang workers of r greedily on class k under FUT, nodes in prefer first
 * (nprefer of them), then the others in order: true and out[gang], or false. */
bool sched__plan(sched__cycle *cy, const sched__class *k, const sched__req *r, const size_t *prefer, size_t nprefer,
              size_t *out);
/* The backfill view: starts as FUT; holdings are added or taken per worker. */
void sched__tview_init(sched__cycle *cy);
void sched__tview_add(sched__cycle *cy, const sched__req *r, const size_t *nodes, int sign);

/* ---- admit_quota.c ------------------------------------------------------------- */
int sched__queues_init(sched__cycle *cy, mp_err *e);
void sched__queues_free(sched__cycle *cy);
int sched__queue_find(const sched__cycle *cy, const char *name);
/* The quota cells a workload of queue q takes with combination cb, into h. */
void sched__workload_of(const sched__cycle *cy, int q, const sched__req *r, const sched__combo *cb, sched__hold *h);
/* The cells an admitted workload holds, read from its flavors string. */
void sched__workload_parse(const sched__cycle *cy, int q, const sched__req *r, const char *flavors, sched__hold *h);
/* Adds (sign 1) or takes (-1) a holding's usage in the views of mask. */
void sched__workload_usage(sched__cycle *cy, const sched__hold *h, int sign, unsigned mask);
/* Whether amt more of cell fits in view. */
bool sched__cell_fits(const sched__cycle *cy, int cell, int64_t amt, int view);
/* Whether the whole holding fits in view; on failure appends the reason to why
 * (may be NULL). */
bool sched__workload_fits(sched__cycle *cy, const sched__hold *h, int view, mp_buf *why);
/* Whether the request's resources of group g of queue q fit flavor f in view; on
 * failure appends the reason to why (may be NULL). */
bool sched__group_fits(sched__cycle *cy, int q, int g, int f, const sched__req *r, int view, mp_buf *why);
/* Whether every cell of h stays within nominal in view. */
bool sched__workload_within_nominal(const sched__cycle *cy, const sched__hold *h, int view);
/* Whether queue q uses more than its nominal quota of cell's flavor and resource in view. */
bool sched__cell_borrowing(const sched__cycle *cy, int cell, int view);
/* Recomputes queue q's weighted dominant resource share (EFF). */
void sched__share_update(sched__cycle *cy, int q);
/* "cpu=default,nvidia.com/gpu=a100" for a holding, in group order. */
char *sched__flavors_text(const sched__cycle *cy, const sched__hold *h);
/* ", flavor a100, borrowing nvidia.com/gpu 2 from cohort" parts of an ADMIT reason. */
void sched__put_flavor_note(const sched__cycle *cy, mp_buf *b, const sched__hold *h, bool *borrows);

/* ---- admit_preempt.c ----------------------------------------------------------- */
/* Sorts the admitted workloads into victim order. */
void sched__victim_order(sched__cycle *cy);
/* Phase 2: fits once leaving workloads exit; fills d (WAIT) and returns true. */
bool sched__wait_for_leaving(sched__cycle *cy, size_t j, const sched__combo *cbs, int ncb, sched_decision *d);
/* Phase 3: preemption with any of the combos; fills d (PREEMPT) and returns true. *delayed is set
 * when a victim set was found but would delay the reservation. */
bool sched__preempt(sched__cycle *cy, size_t j, const sched__combo *cbs, int ncb, sched_decision *d, bool *delayed);
/* Makes j (blocked by node room with shape s and holding h) the reservation; appends to why. */
void sched__reserve(sched__cycle *cy, size_t j, int shape, const sched__hold *h, mp_buf *why);
/* Whether j holding at nodes (after victims leave) keeps the reservation; commits it to the
 * backfill view when so. admit_now: an admission now (its limit may end it in time). */
bool sched__backfill_ok(sched__cycle *cy, size_t j, const size_t *nodes, const size_t *victims, size_t nvictims,
                     bool admit_now);
/* "would delay RUN/big (reserved to start in 120 s)" */
void sched__put_delay(sched__cycle *cy, mp_buf *b);

#endif
