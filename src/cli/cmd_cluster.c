/* cmd_cluster.c — the scheduler's objects, kubectl-style (apply: cmd_apply.c):
 *   mlplane delete KIND NAME [-n NS]
 *   mlplane get clusterqueues|localqueues|priorityclasses|resourceflavors [-o ...]
 * and `get queue`: every pending workload with its priority, queue and the
 * reason it waits, read from the workload rows the schedulers share.
 * Single-threaded; the store is opened per command. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char delete_help[] =
    "Usage: mlplane delete KIND NAME [-n NAMESPACE] [--home DIR]\n"
    "       mlplane delete run RUN [--force] [--home DIR]\n\n"
    "Removes an applied object. KIND: priorityclass (pc), node (no), nodepool,\n"
    "resourceflavor (rf), clusterqueue (cq), localqueue (lq; LocalQueues are per\n"
    "namespace, default \"default\"), deployment (deploy), monitor (mon), role and\n"
    "rolebinding (per namespace too), clusterrole, clusterrolebinding, as get names them; plurals\n"
    "work too. Workloads already admitted keep running; a deleted Deployment that\n"
    "mlplane server runs is drained and stopped.\n\n"
    "delete run removes a run for good (RUN: its id or a unique prefix): its records\n"
    "(steps, events, metrics, cache entries, its MLflow run), its folder HOME/runs/RUN\n"
    "with logs and outputs, and its MLflow artifacts. It refuses, changing nothing:\n"
    "  a run that has not ended, unless --force, which cancels it first;\n"
    "  a run holding the files of a registered model version (its source lies in the\n"
    "    run's folder): delete that version first, or keep the run;\n"
    "  a run whose outputs other runs reuse (cache hits): delete those first.\n";

int cmd_delete(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(delete_help, stdout);
        return CLI_OK;
    }
    static const struct option longs[] = {{"namespace", required_argument, 0, 'n'}, {"home", required_argument, 0, 'H'},
                                          {"force", no_argument, 0, 'F'}, {0, 0, 0, 0}};
    const char *ns = NULL, *home_flag = NULL;
    bool force = false;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "n:", longs, NULL)) != -1) {
        if (c == 'n') ns = optarg;
        else if (c == 'H') home_flag = optarg;
        else if (c == 'F') force = true;
        else return cli_fail(CLI_USAGE, "delete: unknown option %s (see mlplane delete --help)", argv[optind - 1]);
    }
    if (argc - optind != 2) return cli_fail(CLI_USAGE, "usage: mlplane delete KIND NAME, or mlplane delete run RUN");
    if (home_flag) env->home_flag = home_flag;
    if (strcmp(argv[optind], "run") == 0 || strcmp(argv[optind], "runs") == 0)
        return env->backend->delete_run(env, argv[optind + 1], force);
    if (force) return cli_fail(CLI_USAGE, "--force is only for mlplane delete run RUN");
    const char *kind = sched_object_kind_find(argv[optind]);
    if (!kind) {
        size_t nk;
        const sched_object_kind *k = sched_object_kinds(&nk);
        mp_buf list;
        mp_buf_init(&list);
        for (size_t i = 0; i < nk; i++) mp_buf_printf(&list, "%s%s", i + 1 == nk ? " or " : ", ", k[i].singular);
        int status = cli_fail(CLI_USAGE, "cannot delete \"%s\": expected run%s", argv[optind], list.data);
        mp_buf_free(&list);
        return status;
    }
    return env->backend->delete_object(env, kind, argv[optind + 1], ns);
}

int cli_local_delete_object(cli_env *env, const char *kind, const char *name, const char *ns) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
    mp_err e;
    int status = CLI_OK;
    if (sched_objects_delete(st, kind, ns, name, &e) != 0) status = cli_fail_err(&e);
    else printf("%s/%s deleted\n", kind, name);
    st->m->close(st);
    free(home);
    return status;
}

/* ---- reading the shared workload rows ------------------------------------------ */

typedef struct rows {
    store_workload *h;
    size_t n;
    sched_objects obj;
    bool loaded;
} rows;

static int rows_load(store *st, rows *r) {
    mp_err e;
    memset(r, 0, sizeof *r);
    if (st->w->workload_list(st, &r->h, &r->n, &e) != 0) return cli_fail_err(&e);
    if (sched_objects_load(st, &r->obj, &e) != 0) return cli_fail_err(&e);
    r->loaded = true;
    return CLI_OK;
}

static void rows_free(rows *r) {
    store_workload_array_free(r->h, r->n);
    if (r->loaded) sched_objects_free(&r->obj);
}

/* One worker's request of row h, times its workers, added into sum. */
static void add_row_usage(const store_workload *h, sched_res *sum) {
    sched_res one;
    int workers;
    sched_row_request(h, &one, &workers);
    for (int i = 0; i < workers; i++) sched_res_add(sum, &one);
}

static void fmt_amount(const char *res, int64_t v, char *out, size_t n) {
    if (strcmp(res, "cpu") == 0) cli_fmt_cpu(v, out, n);
    else if (strcmp(res, "memory") == 0) cli_fmt_mem(v, out, n);
    else snprintf(out, n, "%lld", (long long)v);
}

static int64_t res_get(const sched_res *r, const char *name) {
    if (strcmp(name, "cpu") == 0) return r->cpu_milli;
    if (strcmp(name, "memory") == 0) return r->memory_bytes;
    if (strcmp(name, "nvidia.com/gpu") == 0) return r->gpu;
    return sched_res_ext_get(r, name);
}

static json_t *cq_json(const spec_cluster_queue *cq, const rows *r, char *usage, size_t un, int *pend, int *adm) {
    sched_res used = {0};
    *pend = *adm = 0;
    for (size_t i = 0; i < r->n; i++) {
        const store_workload *h = &r->h[i];
        if (!h->queue || strcmp(h->queue, cq->meta.name) != 0 || !sched_workload_live(h)) continue;
        if (h->pending) {
            (*pend)++;
        } else {
            (*adm)++;
            add_row_usage(h, &used);
        }
    }
    json_t *res = json_object();
    mp_buf b;
    mp_buf_init(&b);
    for (size_t g = 0; g < cq->ngroups; g++) {
        for (size_t c = 0; c < cq->groups[g].ncovered; c++) {
            const char *name = cq->groups[g].covered[c];
            int64_t nominal = 0;
            for (size_t f = 0; f < cq->groups[g].nflavors; f++)
                for (size_t k = 0; k < cq->groups[g].flavors[f].nresources; k++)
                    if (strcmp(cq->groups[g].flavors[f].resources[k].name, name) == 0)
                        nominal += cq->groups[g].flavors[f].resources[k].nominal;
            int64_t u = res_get(&used, name);
            json_object_set_new(res, name, json_pack("{s:I,s:I,s:I}", "used", (json_int_t)u, "nominal",
                                                     (json_int_t)nominal, "borrowed",
                                                     (json_int_t)(u > nominal ? u - nominal : 0)));
            char a[32], bb[32];
            fmt_amount(name, u, a, sizeof a);
            fmt_amount(name, nominal, bb, sizeof bb);
            mp_buf_printf(&b, "%s%s %s/%s", b.len ? ", " : "", name, a, bb);
        }
    }
    mp_strlcpy(usage, b.data ? b.data : "-", un);
    mp_buf_free(&b);
    return json_pack("{s:s,s:s?,s:f,s:i,s:i,s:o}", "name", cq->meta.name, "cohort", cq->cohort, "weight",
                     (double)cq->fair_weight_milli / 1000.0, "pending", *pend, "admitted", *adm, "resources", res);
}

/* Gives the last item of arr the object's metadata.labels (what get -l matches), when it has any. */
static void add_labels(json_t *arr, const spec_meta *m) {
    if (!m->nlabels) return;
    json_t *l = json_object();
    for (size_t k = 0; k < m->nlabels; k++) json_object_set_new(l, m->labels[k].key, json_string(m->labels[k].value));
    json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "labels", l);
}

/* "get, list" of the bits of a rule's words (or "*" for all of them). */
static void rbac_words(unsigned bits, const char *const *words, mp_buf *b) {
    size_t n = 0;
    while (words[n]) n++;
    if (bits == (1u << n) - 1) {
        mp_buf_printf(b, "*");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (bits & (1u << i)) mp_buf_printf(b, "%s%s", b->len ? "," : "", words[i]);
}

static json_t *rbac_list(unsigned bits, const char *const *words) {
    json_t *a = json_array();
    for (size_t i = 0; words[i]; i++)
        if (bits & (1u << i)) json_array_append_new(a, json_string(words[i]));
    return a;
}

/* The rows of get roles|clusterroles|rolebindings|clusterrolebindings: the applied ones (and the built-in ClusterRoles). */
static void rbac_rows(const sched_objects *o, const char *what, json_t *arr, cli_table *t) {
    bool cluster = strncmp(what, "cluster", 7) == 0, binding = strstr(what, "binding") != NULL;
    if (!binding) {
        static const char *const hdr[] = {"NAMESPACE", "NAME", "RULES"};
        static const char *const chdr[] = {"NAME", "RULES"};
        cli_table_init(t, cluster ? 2 : 3, cluster ? chdr : hdr);
        if (cluster)
            for (size_t i = 0; SPEC_BUILTIN_ROLES[i]; i++) {
                json_array_append_new(arr, json_pack("{s:s,s:b}", "name", SPEC_BUILTIN_ROLES[i], "builtin", 1));
                const char *row[] = {SPEC_BUILTIN_ROLES[i], "(built in; see docs/security.md)"};
                cli_table_add(t, row);
            }
        for (size_t i = 0; i < o->nroles; i++) {
            const spec_role *r = o->roles[i];
            if (r->cluster != cluster) continue;
            mp_buf b;
            mp_buf_init(&b);
            json_t *rules = json_array();
            for (size_t k = 0; k < r->nrules; k++) {
                mp_buf v, res;
                mp_buf_init(&v);
                mp_buf_init(&res);
                rbac_words(r->rules[k].verbs, SPEC_RBAC_VERBS, &v);
                rbac_words(r->rules[k].resources, SPEC_RBAC_RESOURCES, &res);
                mp_buf_printf(&b, "%s%s on %s", k ? "; " : "", v.data ? v.data : "", res.data ? res.data : "");
                json_array_append_new(rules, json_pack("{s:o,s:o}", "verbs", rbac_list(r->rules[k].verbs, SPEC_RBAC_VERBS),
                                                       "resources", rbac_list(r->rules[k].resources, SPEC_RBAC_RESOURCES)));
                mp_buf_free(&v);
                mp_buf_free(&res);
            }
            json_t *j = json_pack("{s:s,s:o}", "name", r->meta.name, "rules", rules);
            if (!cluster) json_object_set_new(j, "namespace", json_string(r->meta.namespace_));
            json_array_append_new(arr, j);
            add_labels(arr, &r->meta);
            const char *row3[] = {r->meta.namespace_, r->meta.name, b.data ? b.data : "-"};
            cli_table_add(t, cluster ? row3 + 1 : row3);
            mp_buf_free(&b);
        }
        return;
    }
    static const char *const hdr[] = {"NAMESPACE", "NAME", "ROLE", "SUBJECTS"};
    static const char *const chdr[] = {"NAME", "ROLE", "SUBJECTS"};
    cli_table_init(t, cluster ? 3 : 4, cluster ? chdr : hdr);
    for (size_t i = 0; i < o->nbindings; i++) {
        const spec_role_binding *rb = o->bindings[i];
        if (rb->cluster != cluster) continue;
        mp_buf b;
        mp_buf_init(&b);
        json_t *subj = json_array();
        for (size_t k = 0; k < rb->nsubjects; k++) {
            const char *kind = rb->subjects[k].group ? "Group" : "User";
            mp_buf_printf(&b, "%s%s/%s", k ? "," : "", kind, rb->subjects[k].name);
            json_array_append_new(subj, json_pack("{s:s,s:s}", "kind", kind, "name", rb->subjects[k].name));
        }
        char ref[200];
        snprintf(ref, sizeof ref, "%s/%s", rb->ref_cluster ? "ClusterRole" : "Role", rb->ref_name);
        json_t *j = json_pack("{s:s,s:{s:s,s:s},s:o}", "name", rb->meta.name, "roleRef", "kind",
                              rb->ref_cluster ? "ClusterRole" : "Role", "name", rb->ref_name, "subjects", subj);
        if (!cluster) json_object_set_new(j, "namespace", json_string(rb->meta.namespace_));
        json_array_append_new(arr, j);
        add_labels(arr, &rb->meta);
        const char *row4[] = {rb->meta.namespace_, rb->meta.name, ref, b.data ? b.data : "-"};
        cli_table_add(t, cluster ? row4 + 1 : row4);
        mp_buf_free(&b);
    }
}

int cli_get_objects(cli_env *env, const char *home_flag, const char *what, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, home_flag, &home, &st)) return CLI_FAILED;
    rows r;
    int status = rows_load(st, &r);
    json_t *arr = json_array();
    cli_table t = {0};
    bool table = false;
    if (status == CLI_OK && strncmp(what, "clusterqueue", 12) == 0) {
        static const char *const hdr[] = {"NAME", "COHORT", "WEIGHT", "PENDING", "ADMITTED", "USED/NOMINAL"};
        cli_table_init(&t, 6, hdr);
        table = true;
        for (size_t i = 0; i < r.obj.nqueues; i++) {
            const spec_cluster_queue *cq = r.obj.queues[i];
            if (sched_objects_queue(&r.obj, cq->meta.name) != cq) continue; /* overridden */
            char usage[512], w[16], p[16], a[16];
            int pend, adm;
            json_array_append_new(arr, cq_json(cq, &r, usage, sizeof usage, &pend, &adm));
            add_labels(arr, &cq->meta);
            snprintf(w, sizeof w, "%g", (double)cq->fair_weight_milli / 1000.0);
            snprintf(p, sizeof p, "%d", pend);
            snprintf(a, sizeof a, "%d", adm);
            const char *row[] = {cq->meta.name, cq->cohort ? cq->cohort : "-", w, p, a, usage};
            cli_table_add(&t, row);
        }
    } else if (status == CLI_OK && strncmp(what, "localqueue", 10) == 0) {
        static const char *const hdr[] = {"NAMESPACE", "NAME", "CLUSTERQUEUE"};
        cli_table_init(&t, 3, hdr);
        table = true;
        for (size_t i = 0; i < r.obj.nlocal_queues; i++) {
            const spec_local_queue *lq = r.obj.local_queues[i];
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "namespace", lq->meta.namespace_, "name",
                                                 lq->meta.name, "clusterQueue", lq->cluster_queue));
            add_labels(arr, &lq->meta);
            const char *row[] = {lq->meta.namespace_, lq->meta.name, lq->cluster_queue};
            cli_table_add(&t, row);
        }
    } else if (status == CLI_OK && strncmp(what, "priorityclass", 13) == 0) {
        static const char *const hdr[] = {"NAME", "VALUE", "GLOBAL-DEFAULT", "PREEMPTION"};
        cli_table_init(&t, 4, hdr);
        table = true;
        const char *builtin[] = {"mlplane-serving", "mlplane-training"};
        size_t nall = r.obj.nclasses + 2;
        for (size_t i = 0; i < nall; i++) {
            const spec_priority_class *pc =
                i < r.obj.nclasses ? r.obj.classes[i] : sched_objects_class(&r.obj, builtin[i - r.obj.nclasses]);
            if (!pc || sched_objects_class(&r.obj, pc->meta.name) != pc) continue;
            char v[16];
            snprintf(v, sizeof v, "%d", (int)pc->value);
            const char *pol = pc->preemption == SPEC_PREEMPT_NEVER ? "Never" : "PreemptLowerPriority";
            json_array_append_new(arr, json_pack("{s:s,s:i,s:b,s:s,s:s?}", "name", pc->meta.name, "value",
                                                 (int)pc->value, "globalDefault", pc->global_default,
                                                 "preemptionPolicy", pol, "description", pc->description));
            add_labels(arr, &pc->meta);
            const char *row[] = {pc->meta.name, v, pc->global_default ? "true" : "false", pol};
            cli_table_add(&t, row);
        }
    } else if (status == CLI_OK && strncmp(what, "resourceflavor", 14) == 0) {
        static const char *const hdr[] = {"NAME", "NODE LABELS"};
        cli_table_init(&t, 2, hdr);
        table = true;
        for (size_t i = 0; i < r.obj.nflavors; i++) {
            const spec_resource_flavor *rf = r.obj.flavors[i];
            json_t *labels = json_object();
            mp_buf b;
            mp_buf_init(&b);
            for (size_t k = 0; k < rf->nnode_labels; k++) {
                json_object_set_new(labels, rf->node_labels[k].key, json_string(rf->node_labels[k].value));
                mp_buf_printf(&b, "%s%s=%s", k ? "," : "", rf->node_labels[k].key, rf->node_labels[k].value);
            }
            json_array_append_new(arr, json_pack("{s:s,s:o}", "name", rf->meta.name, "nodeLabels", labels));
            add_labels(arr, &rf->meta);
            const char *row[] = {rf->meta.name, b.data ? b.data : "-"};
            cli_table_add(&t, row);
            mp_buf_free(&b);
        }
    } else if (status == CLI_OK && (strncmp(what, "role", 4) == 0 || strncmp(what, "clusterrole", 11) == 0)) {
        table = true;
        rbac_rows(&r.obj, what, arr, &t);
    }
    if (status == CLI_OK) {
        if (out == OUT_TABLE) cli_table_print(&t, stdout);
        else status = cli_print_json(arr, out);
    }
    if (table) cli_table_free(&t);
    json_decref(arr);
    rows_free(&r);
    st->m->close(st);
    free(home);
    return status;
}

/* ---- get queue ------------------------------------------------------------------- */

static const store_workload *row_of(const rows *r, const char *run, const char *step) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->h[i].run_id, run) == 0 && strcmp(r->h[i].step, step) == 0) return &r->h[i];
    return NULL;
}

int cli_get_queue(cli_env *env, const char *home_flag, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, home_flag, &home, &st)) return CLI_FAILED;
    store_run *runs = NULL;
    size_t n = 0;
    mp_err e;
    rows r;
    int status = rows_load(st, &r);
    if (status == CLI_OK && st->m->run_list(st, 0, &runs, &n, &e) != 0) {
        status = cli_fail_err(&e);
        n = 0;
    }
    static const char *const hdr[] = {"RUN", "STEP", "STATE", "PRIORITY", "QUEUE", "REASON"};
    cli_table t;
    cli_table_init(&t, 6, hdr);
    json_t *arr = json_array();
    for (size_t i = n; i-- > 0;) { /* oldest run first: that is the order they were submitted */
        if (store_run_state_final(runs[i].state) || !engine_owner_alive(&runs[i])) continue;
        store_step *steps = NULL;
        size_t ns = 0;
        st->m->step_list(st, runs[i].id, &steps, &ns, NULL);
        for (size_t j = 0; j < ns; j++) {
            if (steps[j].state != STEP_PENDING && steps[j].state != STEP_RETRYING) continue;
            const store_workload *h = row_of(&r, runs[i].id, steps[j].name);
            char *retry = steps[j].state == STEP_RETRYING
                              ? sched_why(SCHED_WAIT_RETRY, "%s", steps[j].message ? steps[j].message : "retrying")
                              : NULL;
            static const char slot[] = SCHED_WHY(SCHED_WAIT_SLOT, "upstream steps, the run's --parallel"),
                              trial[] = SCHED_WHY(SCHED_WAIT_SLOT,
                                                  "upstream steps, the run's --parallel, the sweep's maxParallel");
            const char *why = retry                        ? retry
                              : h && h->pending && h->reason ? h->reason
                              : steps[j].params_json         ? trial
                                                             : slot;
            char pri[16] = "-";
            if (h) snprintf(pri, sizeof pri, "%d", (int)h->priority);
            const char *q = h && h->queue ? h->queue : "-";
            const char *row[] = {runs[i].id, steps[j].name, store_step_state_name(steps[j].state), pri, q, why};
            cli_table_add(&t, row);
            json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "run", runs[i].id, "step", steps[j].name, "state",
                                  store_step_state_name(steps[j].state), "reason", why);
            if (h) {
                json_object_set_new(o, "priority", json_integer(h->priority));
                json_object_set_new(o, "queuedAt", json_integer(h->created_ms));
                if (h->queue) json_object_set_new(o, "clusterQueue", json_string(h->queue));
            }
            json_array_append_new(arr, o);
            free(retry);
        }
        store_step_array_free(steps, ns);
    }
    if (status == CLI_OK) {
        if (out == OUT_TABLE) cli_table_print(&t, stdout);
        else status = cli_print_json(arr, out);
    }
    json_decref(arr);
    cli_table_free(&t);
    store_run_array_free(runs, n);
    rows_free(&r);
    st->m->close(st);
    free(home);
    return status;
}
