/* cmd_nodes.c — `mlplane get nodes`: the nodes steps run on, with capacity, what
 * is allocated now and which workloads hold it. The nodes and their JSON come
 * from api_nodes_json (the embedded store) or GET /api/v1/nodes (--server, see
 * remote.c); both print through cli_print_nodes, so the views match.
 * Single-threaded. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static json_int_t jint(json_t *o, const char *k) {
    return json_integer_value(json_object_get(o, k));
}

static bool standard_resource(const char *k) {
    return strcmp(k, "cpu_milli") == 0 || strcmp(k, "memory_bytes") == 0 || strcmp(k, "gpu") == 0;
}

/* One table row of a node's JSON. */
static void node_row(cli_table *t, json_t *nd) {
    json_t *c = json_object_get(nd, "capacity"), *a = json_object_get(nd, "allocated");
    char x[32], y[32], cpu[80], mem[80], gpu[80];
    cli_fmt_cpu(jint(c, "cpu_milli"), x, sizeof x);
    cli_fmt_cpu(jint(a, "cpu_milli"), y, sizeof y);
    snprintf(cpu, sizeof cpu, "%s (%s used)", x, y);
    cli_fmt_mem(jint(c, "memory_bytes"), x, sizeof x);
    cli_fmt_mem(jint(a, "memory_bytes"), y, sizeof y);
    snprintf(mem, sizeof mem, "%s (%s used)", x, y);
    snprintf(gpu, sizeof gpu, "%lld (%lld used)", (long long)jint(c, "gpu"), (long long)jint(a, "gpu"));
    mp_buf ext, work;
    mp_buf_init(&ext);
    mp_buf_init(&work);
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v) {
        if (standard_resource(k)) continue;
        mp_buf_printf(&ext, "%s%s %lld/%lld", ext.len ? ", " : "", k, (long long)jint(a, k), (long long)json_integer_value(v));
    }
    size_t i;
    json_array_foreach(json_object_get(nd, "workloads"), i, v)
        mp_buf_printf(&work, "%s%s", work.len ? ", " : "", json_string_value(v) ? json_string_value(v) : "");
    const char *row[] = {cli_jstr(nd, "name", ""), cpu, mem, gpu, ext.len ? ext.data : "-", work.len ? work.data : "-"};
    cli_table_add(t, row);
    mp_buf_free(&ext);
    mp_buf_free(&work);
}

int cli_print_nodes(json_t *arr, cli_out out) {
    if (out != OUT_TABLE) return cli_print_json(arr, out);
    static const char *const hdr[] = {"NAME", "CPU", "MEMORY", "GPU", "OTHER", "WORKLOADS"};
    cli_table t;
    cli_table_init(&t, 6, hdr);
    size_t i;
    json_t *nd, *first = json_array_get(arr, 0);
    json_array_foreach(arr, i, nd) node_row(&t, nd);
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    bool simulated = json_is_true(json_object_get(first, "simulated"));
    json_t *gpus = json_object_get(first, "gpus"), *g;
    mp_buf notes; /* after the table, also when get's -l, --limit or -w print it */
    mp_buf_init(&notes);
    if (json_array_size(gpus)) {
        mp_buf_puts(&notes, "GPUS: ");
        json_array_foreach(gpus, i, g) {
            char x[32];
            cli_fmt_mem(jint(g, "memory_bytes"), x, sizeof x);
            mp_buf_printf(&notes, "%s%d: %s (%s)", i ? ", " : "", (int)jint(g, "index"), cli_jstr(g, "name", ""), x);
        }
        mp_buf_putc(&notes, '\n');
    }
    const char *why = cli_jstr(first, "gpu_discovery", "ok");
    if (strcmp(why, "ok") != 0) mp_buf_printf(&notes, "Note: %s%s\n", json_array_size(gpus) ? "" : "no GPUs: ", why);
    if (simulated) mp_buf_puts(&notes, "Note: simulated nodes (applied Node/NodePool objects); their work runs on this machine\n");
    cli_print_after_table(notes.data);
    mp_buf_free(&notes);
    return CLI_OK;
}

int cli_get_nodes(cli_env *env, const char *home_flag, cli_out out) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, home_flag, &home, &st)) return CLI_FAILED;
    json_t *arr = NULL;
    mp_err e;
    int status = api_nodes_json(st, &arr, &e) != 0 ? cli_fail_err(&e) : cli_print_nodes(arr, out);
    json_decref(arr);
    st->m->close(st);
    free(home);
    return status;
}
