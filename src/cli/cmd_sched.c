/* cmd_sched.c — mlplane sched simulate FILE... [--policy binpack|spread] [-o ...]:
 * capacity planning on a declared cluster (kind: Node / NodePool) — would these
 * pipelines' steps, all at once, fit? Prints where each workload lands or why it
 * waits, and how full each node ends up. Exit 0 when everything fits, 1 when
 * something waits, 2 on invalid input. Nothing runs and nothing is stored. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static json_t *res_json(const sched_res *r) {
    json_t *o = json_pack("{s:I,s:I,s:I}", "cpu_milli", (json_int_t)r->cpu_milli, "memory_bytes",
                          (json_int_t)r->memory_bytes, "nvidia.com/gpu", (json_int_t)r->gpu);
    for (int i = 0; i < r->next; i++) json_object_set_new(o, r->ext[i].name, json_integer(r->ext[i].count));
    return o;
}

static void print_report(const sched_sim_report *r) {
    static const char *const wh[] = {"WORKLOAD", "PRIORITY", "WORKERS", "STATUS", "NODES / REASON"};
    cli_table t;
    cli_table_init(&t, 5, wh);
    for (size_t i = 0; i < r->nwork; i++) {
        const sched_sim_work *w = &r->work[i];
        char pri[16], gang[16];
        snprintf(pri, sizeof pri, "%d", (int)w->priority);
        snprintf(gang, sizeof gang, "%d", w->gang);
        const char *row[] = {w->name, pri, gang, w->placed ? "Placed" : "Pending", w->placed ? w->nodes : w->why};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    printf("\n");
    static const char *const nh[] = {"NODE", "CPU", "MEMORY", "GPU", "EXTENDED"};
    cli_table_init(&t, 5, nh);
    for (size_t i = 0; i < r->nnodes; i++) {
        const sched_sim_node *nd = &r->nodes[i];
        char a[32], b[32], cpu[80], mem[80], gpu[48];
        cli_fmt_cpu(nd->allocated.cpu_milli, a, sizeof a);
        cli_fmt_cpu(nd->capacity.cpu_milli, b, sizeof b);
        snprintf(cpu, sizeof cpu, "%s/%s", a, b);
        cli_fmt_mem(nd->allocated.memory_bytes, a, sizeof a);
        cli_fmt_mem(nd->capacity.memory_bytes, b, sizeof b);
        snprintf(mem, sizeof mem, "%s/%s", a, b);
        snprintf(gpu, sizeof gpu, "%lld/%lld", (long long)nd->allocated.gpu, (long long)nd->capacity.gpu);
        mp_buf ext;
        mp_buf_init(&ext);
        for (int k = 0; k < nd->capacity.next; k++)
            mp_buf_printf(&ext, "%s%s %lld/%lld", k ? ", " : "", nd->capacity.ext[k].name,
                          (long long)sched_res_ext_get(&nd->allocated, nd->capacity.ext[k].name),
                          (long long)nd->capacity.ext[k].count);
        const char *row[] = {nd->name, cpu, mem, gpu, ext.data};
        cli_table_add(&t, row);
        mp_buf_free(&ext);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

static json_t *report_json(const sched_sim_report *r) {
    json_t *work = json_array(), *nodes = json_array();
    for (size_t i = 0; i < r->nwork; i++) {
        const sched_sim_work *w = &r->work[i];
        json_t *o = json_pack("{s:s,s:i,s:i,s:s}", "workload", w->name, "priority", (int)w->priority, "workers", w->gang,
                              "status", w->placed ? "Placed" : "Pending");
        if (w->placed) {
            json_t *list = json_array();
            char *copy = mp_xstrdup(w->nodes), *save = NULL;
            for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                json_array_append_new(list, json_string(tok));
            free(copy);
            json_object_set_new(o, "nodes", list);
        } else {
            json_object_set_new(o, "reason", json_string(w->why));
        }
        json_array_append_new(work, o);
    }
    for (size_t i = 0; i < r->nnodes; i++)
        json_array_append_new(nodes, json_pack("{s:s,s:o,s:o}", "name", r->nodes[i].name, "capacity",
                                               res_json(&r->nodes[i].capacity), "allocated",
                                               res_json(&r->nodes[i].allocated)));
    return json_pack("{s:o,s:o}", "workloads", work, "nodes", nodes);
}

static const char simulate_help[] =
    "Usage: mlplane sched simulate FILE... [--policy binpack|spread] [-o table|json|yaml]\n\n"
    "Capacity planning: places every step of every Pipeline in FILEs, all at once,\n"
    "on the cluster the files declare (kind: Node, kind: NodePool), in priority order\n"
    "(kind: PriorityClass; steps name theirs with priorityClassName), honouring\n"
    "resources, nodeSelector, tolerations and gangs (parallelism). Shows where each\n"
    "workload lands, or why it would wait, and how full each node ends up.\n\n"
    "  --policy binpack   fill nodes up first, keeping whole GPUs and nodes free (default)\n"
    "  --policy spread    use the emptiest nodes first\n\n"
    "Exit status: 0 when everything fits, 1 when some workload would wait, 2 on\n"
    "invalid input.\n";

static int simulate(int argc, char **argv) {
    static const struct option longs[] = {{"policy", required_argument, 0, 'P'},
                                          {"output", required_argument, 0, 'o'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    sched_policy policy = SCHED_BINPACK;
    cli_out out = OUT_TABLE;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        if (c == 'P') {
            if (strcmp(optarg, "binpack") == 0) policy = SCHED_BINPACK;
            else if (strcmp(optarg, "spread") == 0) policy = SCHED_SPREAD;
            else return cli_fail(CLI_USAGE, "--policy expects binpack or spread, got \"%s\"", optarg);
        } else if (c == 'o') {
            if (cli_parse_out(optarg, &out)) return CLI_USAGE;
        } else if (c == 'h') {
            fputs(simulate_help, stdout);
            return CLI_OK;
        } else {
            return cli_fail(CLI_USAGE, "unknown or incomplete option %s (see mlplane sched simulate --help)",
                            argv[optind - 1]);
        }
    }
    int nfiles = argc - optind;
    if (nfiles < 1) return cli_fail(CLI_USAGE, "sched simulate needs at least one spec file");
    spec_file **files = mp_xcalloc((size_t)nfiles + 1, sizeof *files);
    int status = CLI_OK;
    for (int i = 0; i < nfiles; i++) {
        spec_diags d = {0};
        if (spec_load_file(argv[optind + i], &files[i], &d) != 0) {
            mp_buf b;
            mp_buf_init(&b);
            spec_diags_format(&d, &b);
            fputs(b.data, stderr);
            mp_buf_free(&b);
            status = CLI_USAGE;
        }
        spec_diags_free(&d);
    }
    if (status == CLI_OK) {
        sched_sim_report r;
        mp_err e;
        if (sched_simulate((const spec_file *const *)files, (size_t)nfiles, policy, &r, &e) != 0) {
            status = cli_fail_err(&e);
        } else {
            if (out == OUT_TABLE) {
                print_report(&r);
            } else {
                json_t *j = report_json(&r);
                status = cli_print_json(j, out);
                json_decref(j);
            }
            for (size_t i = 0; i < r.nwork && status == CLI_OK; i++)
                if (!r.work[i].placed) status = CLI_FAILED;
            sched_sim_report_free(&r);
        }
    }
    for (int i = 0; i < nfiles; i++) spec_file_free(files[i]);
    free(files);
    return status;
}

int cmd_sched(cli_env *env, int argc, char **argv) {
    (void)env;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(simulate_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "simulate") == 0) return simulate(argc - 1, argv + 1);
    return cli_fail(CLI_USAGE, "unknown sched command \"%s\" (expected: simulate)", argv[1]);
}

/* ---- get queue ------------------------------------------------------------------- */

/* Why a step of a live run has not started, as far as the store tells. */
static const char *wait_reason(const store_step *s) {
    if (s->state == STEP_RETRYING) return s->message ? s->message : "waiting to retry";
    if (s->message && mp_str_starts(s->message, "waiting for room")) return s->message;
    if (s->params_json) return "waiting for its dependencies or a free slot (--parallel, the sweep's maxParallel)";
    return "waiting for its dependencies or a free slot (--parallel)";
}

int cli_get_queue(cli_env *env, const char *home_flag, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store(env, home_flag, &home, &st)) {
        free(home);
        return CLI_FAILED;
    }
    store_run *runs = NULL;
    size_t n = 0;
    mp_err e;
    int status = CLI_OK;
    if (st->m->run_list(st, 0, &runs, &n, &e) != 0) {
        status = cli_fail_err(&e);
        n = 0;
    }
    static const char *const hdr[] = {"RUN", "STEP", "STATE", "WAITING FOR"};
    cli_table t;
    cli_table_init(&t, 4, hdr);
    json_t *arr = json_array();
    for (size_t i = n; i-- > 0;) { /* oldest run first: that is the order they were submitted */
        if (store_run_state_final(runs[i].state) || !sched_owner_alive(&runs[i])) continue;
        store_step *steps = NULL;
        size_t ns = 0;
        st->m->step_list(st, runs[i].id, &steps, &ns, NULL);
        for (size_t j = 0; j < ns; j++) {
            if (steps[j].state != STEP_PENDING && steps[j].state != STEP_RETRYING) continue;
            const char *why = wait_reason(&steps[j]);
            const char *row[] = {runs[i].id, steps[j].name, store_step_state_name(steps[j].state), why};
            cli_table_add(&t, row);
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "run", runs[i].id, "step", steps[j].name, "state",
                                                 store_step_state_name(steps[j].state), "reason", why));
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
    st->m->close(st);
    free(home);
    return status;
}
