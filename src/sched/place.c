/* place.c — placement: which node a step's worker (or a gang of them) goes to.
 *
 * The model is the Kubernetes scheduler's, cut down to what mlplane needs:
 *   filter  a node is feasible when its nodeSelector labels all match, every
 *           NoSchedule/NoExecute taint is tolerated, and the request fits its free
 *           resources (NodeResourcesFit);
 *   score   feasible nodes are ranked by a key compared field by field:
 *           1. intolerable PreferNoSchedule taints, fewer first (TaintToleration);
 *           2. for a request without GPUs or extended resources, nodes without
 *              any first, so accelerator nodes stay whole for work that needs them;
 *           3. accelerator use after placement (GPUs and requested extended
 *              resources), then 4. CPU and memory use after placement, both as
 *              NodeResourcesFit computes them (requested/capacity averaged over
 *              resources): highest first for BINPACK (MostAllocated), lowest first
 *              for SPREAD (LeastAllocated);
 *           5. node order.
 * Ratios are computed once in double and rounded to parts per million, so equal
 * ratios compare equal and the same input always gives the same node.
 *
 * Placing a gang of identical workers one by one is optimal: a node's share is
 * limited only by its own free resources, so greedy placement fits as many
 * workers as any assignment could. When nothing fits, a second, slower pass
 * (only then) works out the dominant reason for the message.
 *
 * Threads: no global state, no clock, no I/O; every function is reentrant and
 * touches only what it is given. */
#include "sched/sched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PPM 1000000.0

/* ---- resources ---------------------------------------------------------------- */

static int ext_find(const sched_res *r, const char *name) {
    for (int i = 0; i < r->next; i++)
        if (strcmp(r->ext[i].name, name) == 0) return i;
    return -1;
}

int sched_res_ext_set(sched_res *r, const char *name, int64_t count) {
    if (!r || !name || !*name || strlen(name) >= SCHED_EXT_NAME || count < 0) return MP_EINVAL;
    int i = ext_find(r, name);
    if (i < 0) {
        if (r->next >= SCHED_EXT_MAX) return MP_EINVAL;
        i = r->next++;
        mp_strlcpy(r->ext[i].name, name, sizeof r->ext[i].name);
    }
    r->ext[i].count = count;
    return 0;
}

int64_t sched_res_ext_get(const sched_res *r, const char *name) {
    int i = (r && name) ? ext_find(r, name) : -1;
    return i < 0 ? 0 : r->ext[i].count;
}

int sched_res_add(sched_res *a, const sched_res *b) {
    int fresh = 0;
    for (int i = 0; i < b->next; i++)
        if (b->ext[i].count > 0 && ext_find(a, b->ext[i].name) < 0) fresh++;
    if (a->next + fresh > SCHED_EXT_MAX) return MP_EINVAL;
    a->cpu_milli += b->cpu_milli;
    a->memory_bytes += b->memory_bytes;
    a->gpu += b->gpu;
    for (int i = 0; i < b->next; i++) {
        if (b->ext[i].count <= 0) continue;
        int j = ext_find(a, b->ext[i].name);
        if (j < 0) {
            j = a->next++;
            memcpy(a->ext[j].name, b->ext[i].name, sizeof a->ext[j].name);
            a->ext[j].count = 0;
        }
        a->ext[j].count += b->ext[i].count;
    }
    return 0;
}

static int64_t sub0(int64_t a, int64_t b) { return a > b ? a - b : 0; }

void sched_res_sub(sched_res *a, const sched_res *b) {
    a->cpu_milli = sub0(a->cpu_milli, b->cpu_milli);
    a->memory_bytes = sub0(a->memory_bytes, b->memory_bytes);
    a->gpu = sub0(a->gpu, b->gpu);
    for (int i = 0; i < b->next; i++) {
        int j = ext_find(a, b->ext[i].name);
        if (j >= 0) a->ext[j].count = sub0(a->ext[j].count, b->ext[i].count);
    }
    int k = 0; /* drop emptied entries, keeping the others' order */
    for (int i = 0; i < a->next; i++)
        if (a->ext[i].count > 0) a->ext[k++] = a->ext[i];
    a->next = k;
}

bool sched_res_fits(const sched_res *req, const sched_res *avail) {
    if (req->cpu_milli > avail->cpu_milli || req->memory_bytes > avail->memory_bytes || req->gpu > avail->gpu)
        return false;
    for (int i = 0; i < req->next; i++)
        if (req->ext[i].count > sched_res_ext_get(avail, req->ext[i].name)) return false;
    return true;
}

static bool res_valid(const sched_res *r) {
    if (r->cpu_milli < 0 || r->memory_bytes < 0 || r->gpu < 0 || r->next < 0 || r->next > SCHED_EXT_MAX)
        return false;
    for (int i = 0; i < r->next; i++)
        if (r->ext[i].count < 0 || !r->ext[i].name[0] || !memchr(r->ext[i].name, 0, sizeof r->ext[i].name))
            return false;
    return true;
}

/* ---- nodes and GPU devices ------------------------------------------------------ */

static const char *str(const char *s) { return s ? s : ""; }

static uint64_t tracked_mask(int64_t cap) {
    if (cap <= 0) return 0;
    return cap >= SCHED_GPU_TRACKED ? ~(uint64_t)0 : (((uint64_t)1 << cap) - 1);
}

/* Free GPUs with allocations alloc: the fewer of the count and the clear devices. */
static int64_t gpu_free(const sched_node *nd, const sched_res *alloc) {
    int64_t cap = nd->capacity.gpu;
    int64_t by_count = sub0(cap, alloc->gpu);
    int64_t by_dev = sub0(cap, __builtin_popcountll(nd->gpu_used & tracked_mask(cap)));
    return by_count < by_dev ? by_count : by_dev;
}

int sched_node_allocate(sched_node *node, const sched_res *r) { return sched_res_add(&node->allocated, r); }

void sched_node_release(sched_node *node, const sched_res *r) { sched_res_sub(&node->allocated, r); }

void sched_node_free(const sched_node *node, sched_res *out) {
    *out = node->capacity;
    sched_res_sub(out, &node->allocated);
    out->gpu = gpu_free(node, &node->allocated);
}

int sched_gpu_pick(const sched_node *node, int64_t count, int *devices) {
    if (!node || count < 0 || (count > 0 && !devices)) return MP_EINVAL;
    uint64_t clear = ~node->gpu_used & tracked_mask(node->capacity.gpu);
    if (__builtin_popcountll(clear) < count) return MP_EBUSY;
    int k = 0;
    for (int i = 0; i < SCHED_GPU_TRACKED && k < count; i++)
        if (clear & ((uint64_t)1 << i)) devices[k++] = i;
    return 0;
}

void sched_gpu_mark(sched_node *node, const int *devices, size_t n, bool used) {
    for (size_t i = 0; i < n; i++) {
        if (devices[i] < 0 || devices[i] >= SCHED_GPU_TRACKED) continue;
        uint64_t bit = (uint64_t)1 << devices[i];
        node->gpu_used = used ? (node->gpu_used | bit) : (node->gpu_used & ~bit);
    }
}

/* ---- the resources of a request, one by one ------------------------------------
 * Kind k of a request: 0 = GPUs, 1..next = its extended resources, then CPU, then
 * memory — scarcest first, the order reasons are looked for in. */

static int nkinds(const sched_pod_req *rq) { return 3 + rq->requests.next; }
static bool kind_accel(const sched_pod_req *rq, int k) { return k <= rq->requests.next; }

static int64_t kind_need(const sched_pod_req *rq, int k) {
    const sched_res *r = &rq->requests;
    if (k == 0) return r->gpu;
    if (k <= r->next) return r->ext[k - 1].count;
    return k == r->next + 1 ? r->cpu_milli : r->memory_bytes;
}

static const char *kind_name(const sched_pod_req *rq, int k) {
    const sched_res *r = &rq->requests;
    if (k == 0) return "nvidia.com/gpu";
    if (k <= r->next) return r->ext[k - 1].name;
    return k == r->next + 1 ? "cpu" : "memory";
}

static int64_t kind_cap(const sched_node *nd, const sched_pod_req *rq, int k) {
    const sched_res *r = &rq->requests;
    if (k == 0) return nd->capacity.gpu;
    if (k <= r->next) return sched_res_ext_get(&nd->capacity, r->ext[k - 1].name);
    return k == r->next + 1 ? nd->capacity.cpu_milli : nd->capacity.memory_bytes;
}

static int64_t kind_free(const sched_node *nd, const sched_res *alloc, const sched_pod_req *rq, int k) {
    const sched_res *r = &rq->requests;
    if (k == 0) return gpu_free(nd, alloc);
    if (k <= r->next) {
        const char *name = r->ext[k - 1].name;
        return sub0(sched_res_ext_get(&nd->capacity, name), sched_res_ext_get(alloc, name));
    }
    if (k == r->next + 1) return sub0(nd->capacity.cpu_milli, alloc->cpu_milli);
    return sub0(nd->capacity.memory_bytes, alloc->memory_bytes);
}

/* Writes an amount of kind k as people read it: "2", "500m", "16Gi". */
static void fmt_amount(const sched_pod_req *rq, int k, int64_t v, char *out, size_t n) {
    const int64_t ki = 1024, mi = ki * 1024, gi = mi * 1024;
    if (k == rq->requests.next + 1) { /* cpu */
        if (v % 1000 == 0) snprintf(out, n, "%lld", (long long)(v / 1000));
        else snprintf(out, n, "%lldm", (long long)v);
    } else if (k == rq->requests.next + 2) { /* memory */
        if (v == 0) snprintf(out, n, "0");
        else if (v % gi == 0) snprintf(out, n, "%lldGi", (long long)(v / gi));
        else if (v % mi == 0) snprintf(out, n, "%lldMi", (long long)(v / mi));
        else if (v >= gi) snprintf(out, n, "%.1fGi", (double)v / (double)gi);
        else if (v >= mi) snprintf(out, n, "%.1fMi", (double)v / (double)mi);
        else snprintf(out, n, "%lld bytes of", (long long)v);
    } else {
        snprintf(out, n, "%lld", (long long)v);
    }
}

/* Appends the request's non-zero amounts: "1 nvidia.com/gpu, 4 cpu, 16Gi memory". */
static void put_request(mp_buf *b, const sched_pod_req *rq) {
    bool any = false;
    for (int k = 0; k < nkinds(rq); k++) {
        int64_t need = kind_need(rq, k);
        if (need <= 0) continue;
        char amt[48];
        fmt_amount(rq, k, need, amt, sizeof amt);
        mp_buf_printf(b, "%s%s %s", any ? ", " : "", amt, kind_name(rq, k));
        any = true;
    }
    if (!any) mp_buf_puts(b, "nothing");
}

/* ---- filters ------------------------------------------------------------------ */

static const char *label_of(const sched_node *nd, const char *key) {
    for (size_t i = 0; i < nd->nlabels; i++)
        if (strcmp(str(nd->labels[i].key), key) == 0) return str(nd->labels[i].value);
    return NULL;
}

static bool selector_ok(const sched_node *nd, const sched_pod_req *rq) {
    for (size_t i = 0; i < rq->nnode_selector; i++) {
        const char *v = label_of(nd, str(rq->node_selector[i].key));
        if (!v || strcmp(v, str(rq->node_selector[i].value)) != 0) return false;
    }
    return true;
}

bool sched_tolerates(const sched_toleration *t, const sched_taint *ta) {
    if (t->effect != SCHED_EFFECT_ANY && t->effect != ta->effect) return false;
    const char *key = str(t->key);
    if (!*key && t->op == SCHED_TOL_EXISTS) return true;
    if (strcmp(key, str(ta->key)) != 0) return false;
    return t->op == SCHED_TOL_EXISTS || strcmp(str(t->value), str(ta->value)) == 0;
}

static bool tolerated(const sched_pod_req *rq, const sched_taint *ta) {
    for (size_t i = 0; i < rq->ntolerations; i++)
        if (sched_tolerates(&rq->tolerations[i], ta)) return true;
    return false;
}

/* The index of the node's first NoSchedule/NoExecute taint rq does not tolerate, or -1. */
static long hard_taint(const sched_node *nd, const sched_pod_req *rq) {
    for (size_t i = 0; i < nd->ntaints; i++) {
        const sched_taint *ta = &nd->taints[i];
        if (ta->effect != SCHED_PREFER_NO_SCHEDULE && !tolerated(rq, ta)) return (long)i;
    }
    return -1;
}

static size_t soft_taints(const sched_node *nd, const sched_pod_req *rq) {
    size_t c = 0;
    for (size_t i = 0; i < nd->ntaints; i++)
        if (nd->taints[i].effect == SCHED_PREFER_NO_SCHEDULE && !tolerated(rq, &nd->taints[i])) c++;
    return c;
}

static bool fits(const sched_node *nd, const sched_res *alloc, const sched_pod_req *rq) {
    for (int k = 0; k < nkinds(rq); k++) {
        int64_t need = kind_need(rq, k);
        if (need > 0 && kind_free(nd, alloc, rq, k) < need) return false;
    }
    return true;
}

/* ---- scores ------------------------------------------------------------------- */

typedef struct score {
    size_t soft_taints; /* intolerable PreferNoSchedule taints */
    int avoid;          /* 1: an accelerator node for a request that needs none */
    int64_t accel;      /* ppm of accelerators used after placement */
    int64_t general;    /* ppm of CPU and memory used after placement */
} score;

static bool has_accel(const sched_res *r) {
    if (r->gpu > 0) return true;
    for (int i = 0; i < r->next; i++)
        if (r->ext[i].count > 0) return true;
    return false;
}

static int64_t used_ppm(int64_t cap, int64_t free, int64_t need) {
    if (cap <= 0) return 0;
    return (int64_t)llround(PPM * (double)(cap - free + need) / (double)cap);
}

static void score_node(const sched_node *nd, const sched_res *alloc, const sched_pod_req *rq, bool req_accel,
                       score *s) {
    s->soft_taints = nd->ntaints ? soft_taints(nd, rq) : 0;
    s->avoid = !req_accel && has_accel(&nd->capacity);
    int64_t asum = 0, gsum = 0;
    int an = 0, gn = 0;
    for (int k = 0; k < nkinds(rq); k++) {
        int64_t need = kind_need(rq, k), cap = kind_cap(nd, rq, k);
        if (kind_accel(rq, k)) {
            if (need <= 0 || cap <= 0) continue;
            asum += used_ppm(cap, kind_free(nd, alloc, rq, k), need);
            an++;
        } else if (cap > 0) {
            gsum += used_ppm(cap, kind_free(nd, alloc, rq, k), need);
            gn++;
        }
    }
    s->accel = an ? asum / an : 0;
    s->general = gn ? gsum / gn : 0;
}

/* Whether a ranks strictly before b. */
static bool better(const score *a, const score *b, sched_policy p) {
    if (a->soft_taints != b->soft_taints) return a->soft_taints < b->soft_taints;
    if (a->avoid != b->avoid) return a->avoid < b->avoid;
    if (a->accel != b->accel) return p == SCHED_SPREAD ? a->accel < b->accel : a->accel > b->accel;
    if (a->general != b->general) return p == SCHED_SPREAD ? a->general < b->general : a->general > b->general;
    return false;
}

/* ---- placing ------------------------------------------------------------------ */

/* Allocations while a gang is placed: the nodes' own, except on the nodes a worker
 * was put on, whose copies are res[slot[i]] (slot[i] == SIZE_MAX: none). Copied
 * on write, so placing costs nothing for the nodes it does not use. */
typedef struct scratch {
    size_t *slot; /* per node */
    sched_res *res;
    size_t nres;
} scratch;

static const sched_res *alloc_of(const sched_node *nodes, const scratch *allocs, size_t i) {
    return allocs && allocs->slot[i] != SIZE_MAX ? &allocs->res[allocs->slot[i]] : &nodes[i].allocated;
}

static sched_res *alloc_mut(const sched_node *nodes, scratch *allocs, size_t i) {
    if (allocs->slot[i] == SIZE_MAX) {
        allocs->slot[i] = allocs->nres;
        allocs->res[allocs->nres++] = nodes[i].allocated;
    }
    return &allocs->res[allocs->slot[i]];
}

/* The best node for one worker with allocations allocs (NULL: the nodes' own):
 * true and *out, or false when none is feasible. */
static bool place_one(const sched_node *nodes, size_t n, const scratch *allocs, const sched_pod_req *rq,
                      sched_policy policy, size_t *out) {
    bool req_accel = has_accel(&rq->requests), found = false;
    score best = {0}, s;
    for (size_t i = 0; i < n; i++) {
        const sched_node *nd = &nodes[i];
        const sched_res *alloc = alloc_of(nodes, allocs, i);
        if (!selector_ok(nd, rq) || hard_taint(nd, rq) >= 0 || !fits(nd, alloc, rq)) continue;
        score_node(nd, alloc, rq, req_accel, &s);
        if (!found || better(&s, &best, policy)) {
            best = s;
            *out = i;
            found = true;
        }
    }
    return found;
}

static void set_why(char *why, size_t whyn, const char *s) {
    if (why && whyn) mp_strlcpy(why, s, whyn);
}

static int invalid(char *why, size_t whyn, const char *fmt, const char *name) {
    char msg[256];
    snprintf(msg, sizeof msg, fmt, name);
    set_why(why, whyn, msg);
    return MP_EINVAL;
}

static int validate(const sched_node *nodes, size_t n, const sched_pod_req *rq, sched_policy policy, char *why,
                    size_t whyn) {
    if (!rq || (n && !nodes)) return invalid(why, whyn, "%s", "no request or no node array");
    if (policy != SCHED_BINPACK && policy != SCHED_SPREAD) return invalid(why, whyn, "%s", "unknown placement policy");
    if (rq->gang < 0 || rq->gang > SCHED_GANG_MAX)
        return invalid(why, whyn, "%s", "a gang must have 0 to " SCHED_GANG_MAX_STR " workers");
    if (!res_valid(&rq->requests))
        return invalid(why, whyn, "%s", "the request has a negative amount or a malformed extended resource");
    if ((rq->nnode_selector && !rq->node_selector) || (rq->ntolerations && !rq->tolerations))
        return invalid(why, whyn, "%s", "the request's nodeSelector or tolerations are missing");
    for (size_t i = 0; i < n; i++) {
        const sched_node *nd = &nodes[i];
        if (!res_valid(&nd->capacity) || !res_valid(&nd->allocated) || (nd->nlabels && !nd->labels) ||
            (nd->ntaints && !nd->taints))
            return invalid(why, whyn, "node %s has a negative amount or a malformed resource, label or taint list",
                           str(nd->name));
    }
    return 0;
}

/* How many workers of rq a node could hold with nothing allocated, capped at want. */
static int64_t empty_share(const sched_node *nd, const sched_pod_req *rq, int64_t want) {
    int64_t share = want;
    for (int k = 0; k < nkinds(rq); k++) {
        int64_t need = kind_need(rq, k);
        if (need <= 0) continue;
        int64_t c = kind_cap(nd, rq, k) / need;
        if (c < share) share = c;
    }
    return share;
}

static void put_selector(mp_buf *b, const sched_pod_req *rq) {
    for (size_t i = 0; i < rq->nnode_selector; i++)
        mp_buf_printf(b, "%s%s=%s", i ? "," : "", str(rq->node_selector[i].key), str(rq->node_selector[i].value));
}

static const char *effect_name(sched_effect e) {
    static const char *const names[] = {"", "NoSchedule", "PreferNoSchedule", "NoExecute"};
    return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "?";
}

static void put_taint(mp_buf *b, const sched_taint *ta) {
    mp_buf_puts(b, str(ta->key));
    if (*str(ta->value)) mp_buf_printf(b, "=%s", ta->value);
    mp_buf_printf(b, ":%s", effect_name(ta->effect));
}

/* Explains, into b, why no node takes a worker of rq with allocations allocs;
 * returns MP_EBUSY when `want` workers would fit with every allocation released,
 * else MP_ENOENT. */
static int explain(const sched_node *nodes, size_t n, const scratch *allocs, const sched_pod_req *rq, int64_t want,
                   mp_buf *b) {
    if (n == 0) {
        mp_buf_puts(b, "0/0 nodes: there are no nodes to place on");
        return MP_ENOENT;
    }
    size_t sel_fail = 0, taint_fail = 0, eligible = 0, first_node = 0;
    long first_taint = -1;
    int64_t could = 0; /* workers the eligible nodes could hold when empty */
    for (size_t i = 0; i < n; i++) {
        if (!selector_ok(&nodes[i], rq)) {
            sel_fail++;
            continue;
        }
        long t = hard_taint(&nodes[i], rq);
        if (t >= 0) {
            if (first_taint < 0) first_node = i, first_taint = t;
            taint_fail++;
            continue;
        }
        eligible++;
        if (could < want) could += empty_share(&nodes[i], rq, want - could);
    }
    int code = could >= want ? MP_EBUSY : MP_ENOENT;
    if (eligible == 0 && taint_fail == 0) {
        mp_buf_printf(b, "0/%zu nodes match nodeSelector ", n);
        put_selector(b, rq);
        return code;
    }
    if (eligible == 0) {
        mp_buf_printf(b, "%s has taint ", str(nodes[first_node].name));
        put_taint(b, &nodes[first_node].taints[first_taint]);
        mp_buf_puts(b, " that the step does not tolerate");
        if (taint_fail > 1) mp_buf_printf(b, "; %zu/%zu nodes have taints it does not tolerate", taint_fail, n);
        if (sel_fail) {
            mp_buf_printf(b, "; %zu/%zu nodes do not match nodeSelector ", sel_fail, n);
            put_selector(b, rq);
        }
        return code;
    }
    /* Some nodes pass the selector and taints: resources are the problem. The
     * dominant one is the scarcest that no eligible node has enough of. */
    int nk = nkinds(rq);
    bool reported = false;
    for (int k = 0; k < nk && !reported; k++) {
        int64_t need = kind_need(rq, k), max_free = 0, max_cap = 0;
        if (need <= 0) continue;
        for (size_t i = 0; i < n; i++) {
            if (!selector_ok(&nodes[i], rq) || hard_taint(&nodes[i], rq) >= 0) continue;
            int64_t f = kind_free(&nodes[i], alloc_of(nodes, allocs, i), rq, k), c = kind_cap(&nodes[i], rq, k);
            if (f > max_free) max_free = f;
            if (c > max_cap) max_cap = c;
        }
        if (max_free >= need) continue;
        char a[48], f[48], c[48];
        fmt_amount(rq, k, need, a, sizeof a);
        fmt_amount(rq, k, max_free, f, sizeof f);
        fmt_amount(rq, k, max_cap, c, sizeof c);
        mp_buf_printf(b, "needs %s %s, largest free on any node is %s", a, kind_name(rq, k), f);
        if (max_cap < need) mp_buf_printf(b, " (largest capacity %s)", c);
        reported = true;
    }
    if (!reported) { /* each resource fits somewhere, never all on one node */
        mp_buf_puts(b, "needs ");
        put_request(b, rq);
        mp_buf_printf(b, " on one node; none of the %zu eligible nodes has it all free (", eligible);
        bool first = true;
        for (int k = 0; k < nk; k++) {
            int64_t need = kind_need(rq, k);
            size_t short_of = 0;
            if (need <= 0) continue;
            for (size_t i = 0; i < n; i++)
                if (selector_ok(&nodes[i], rq) && hard_taint(&nodes[i], rq) < 0 &&
                    kind_free(&nodes[i], alloc_of(nodes, allocs, i), rq, k) < need)
                    short_of++;
            if (!short_of) continue;
            mp_buf_printf(b, "%s%zu short of %s", first ? "" : ", ", short_of, kind_name(rq, k));
            first = false;
        }
        mp_buf_putc(b, ')');
    }
    if (eligible < n) mp_buf_printf(b, "; %zu other nodes excluded by nodeSelector or taints", n - eligible);
    return code;
}

int sched_place(const sched_node *nodes, size_t n, const sched_pod_req *req, sched_policy policy, size_t *node_out,
                char *why, size_t whyn) {
    int rc = validate(nodes, n, req, policy, why, whyn);
    if (rc) return rc;
    if (!node_out) return invalid(why, whyn, "%s", "no place for the chosen node");
    if (place_one(nodes, n, NULL, req, policy, node_out)) {
        set_why(why, whyn, "");
        return 0;
    }
    mp_buf b;
    mp_buf_init(&b);
    rc = explain(nodes, n, NULL, req, 1, &b);
    set_why(why, whyn, b.data);
    mp_buf_free(&b);
    return rc;
}

int sched_place_gang(const sched_node *nodes, size_t n, const sched_pod_req *req, sched_policy policy,
                     size_t *node_out, char *why, size_t whyn) {
    int rc = validate(nodes, n, req, policy, why, whyn);
    if (rc) return rc;
    if (!node_out) return invalid(why, whyn, "%s", "no place for the chosen nodes");
    size_t gang = req->gang > 1 ? (size_t)req->gang : 1;
    scratch allocs = {.slot = mp_xmalloc((n ? n : 1) * sizeof(size_t)),
                      .res = mp_xmalloc((gang < n ? gang : n ? n : 1) * sizeof(sched_res))};
    memset(allocs.slot, 0xff, (n ? n : 1) * sizeof(size_t)); /* SIZE_MAX: the node's own */
    size_t *chosen = mp_xmalloc(gang * sizeof *chosen);
    size_t placed = 0;
    while (placed < gang && place_one(nodes, n, &allocs, req, policy, &chosen[placed])) {
        if (sched_res_add(alloc_mut(nodes, &allocs, chosen[placed]), &req->requests) != 0) {
            rc = invalid(why, whyn, "node %s has no room left in its table of extended resources",
                         str(nodes[chosen[placed]].name));
            break;
        }
        placed++;
    }
    if (!rc && placed == gang) {
        memcpy(node_out, chosen, gang * sizeof *chosen);
        set_why(why, whyn, "");
    } else if (!rc) {
        mp_buf b, reason;
        mp_buf_init(&b);
        mp_buf_init(&reason);
        rc = explain(nodes, n, &allocs, req, (int64_t)gang, &reason);
        mp_buf_printf(&b, "gang of %zu workers of ", gang);
        put_request(&b, req);
        if (placed) mp_buf_printf(&b, ": only %zu fit (then: %s)", placed, reason.data);
        else mp_buf_printf(&b, ": none fit (%s)", reason.data);
        set_why(why, whyn, b.data);
        mp_buf_free(&reason);
        mp_buf_free(&b);
    }
    free(chosen);
    free(allocs.slot);
    free(allocs.res);
    return rc;
}
