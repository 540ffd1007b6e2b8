/* cmd_nodes.c — `mlplane get nodes`: this machine as the one node steps run on:
 * its capacity (CPUs, memory, NVIDIA GPUs found through NVML) and what is
 * allocated now: what running steps of live runs hold, the same ledger the
 * scheduler admits against (sched_holdings_sum). Read-only on the store, so
 * safe beside running runs. Single-threaded. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_table(const char *host, const sched_capacity *c, const sched_holdings *a, const sched_gpu *gpus,
                        size_t ngpu, const char *why) {
    static const char *const hdr[] = {"NAME", "CPU", "MEMORY", "GPU"};
    char x[32], y[32], cpu[80], mem[80], gpu[80];
    cli_fmt_cpu(c->cpu_milli, x, sizeof x);
    cli_fmt_cpu(a->cpu_milli, y, sizeof y);
    snprintf(cpu, sizeof cpu, "%s (%s used)", x, y);
    cli_fmt_mem(c->memory_bytes, x, sizeof x);
    cli_fmt_mem(a->memory_bytes, y, sizeof y);
    snprintf(mem, sizeof mem, "%s (%s used)", x, y);
    snprintf(gpu, sizeof gpu, "%lld (%lld used)", (long long)c->gpu, (long long)a->gpu);
    cli_table t;
    cli_table_init(&t, 4, hdr);
    const char *row[] = {host, cpu, mem, gpu};
    cli_table_add(&t, row);
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    if (ngpu) {
        fputs("GPUS: ", stdout);
        for (size_t i = 0; i < ngpu; i++) {
            cli_fmt_mem(gpus[i].memory_bytes, x, sizeof x);
            printf("%s%d: %s (%s)", i ? ", " : "", gpus[i].index, gpus[i].name, x);
        }
        fputc('\n', stdout);
    }
    if (why && *why) printf("Note: %s%s\n", ngpu ? "" : "no GPUs: ", why);
}

static json_t *node_json(const char *host, const sched_capacity *c, const sched_holdings *a, const sched_gpu *gpus,
                         size_t ngpu, const char *why) {
    json_t *ga = json_array();
    for (size_t i = 0; i < ngpu; i++)
        json_array_append_new(ga, json_pack("{s:i,s:s,s:s,s:I}", "index", gpus[i].index, "name", gpus[i].name, "uuid",
                                            gpus[i].uuid, "memory_bytes", (json_int_t)gpus[i].memory_bytes));
    return json_pack("{s:s,s:{s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I},s:o,s:s}", "name", host, "capacity", "cpu_milli",
                     (json_int_t)c->cpu_milli, "memory_bytes", (json_int_t)c->memory_bytes, "gpu", (json_int_t)c->gpu,
                     "allocated", "cpu_milli", (json_int_t)a->cpu_milli, "memory_bytes", (json_int_t)a->memory_bytes,
                     "gpu", (json_int_t)a->gpu, "steps", (json_int_t)a->steps, "gpus", ga, "gpu_discovery",
                     why && *why ? why : "ok");
}

int cli_get_nodes(cli_env *env, const char *home_flag, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store(env, home_flag, &home, &st)) {
        free(home);
        return CLI_FAILED;
    }
    sched_holdings a;
    mp_err e;
    int status = CLI_OK;
    if (sched_holdings_sum(st, NULL, &a, &e) != 0) {
        status = cli_fail_err(&e);
    } else {
        char host[256] = "localhost";
        if (gethostname(host, sizeof host) != 0) mp_strlcpy(host, "localhost", sizeof host);
        host[sizeof host - 1] = '\0';
        sched_capacity c;
        sched_local_capacity(&c);
        size_t ngpu = 0;
        const char *why = NULL;
        const sched_gpu *gpus = sched_gpu_local(&ngpu, &why);
        if (out == OUT_TABLE) {
            print_table(host, &c, &a, gpus, ngpu, why);
        } else {
            json_t *arr = json_array();
            json_array_append_new(arr, node_json(host, &c, &a, gpus, ngpu, why));
            status = cli_print_json(arr, out);
            json_decref(arr);
        }
    }
    st->m->close(st);
    free(home);
    return status;
}
