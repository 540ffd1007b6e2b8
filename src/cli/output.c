/* output.c — how the CLI prints: aligned tables, indented JSON (jansson), and
 * block YAML (the JSON re-emitted by libfyaml). The JSON views of runs, steps
 * and events live in src/api/json.c, shared with the HTTP API. */
#include "cli/cli.h"

#include <errno.h>
#include <libfyaml.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int cli_parse_out(const char *s, cli_out *out) {
    if (strcmp(s, "table") == 0 || strcmp(s, "wide") == 0) *out = OUT_TABLE;
    else if (strcmp(s, "json") == 0) *out = OUT_JSON;
    else if (strcmp(s, "yaml") == 0) *out = OUT_YAML;
    else return cli_fail(CLI_USAGE, "-o expects table, json or yaml, got \"%s\"", s);
    return 0;
}

/* Whether s can be written as a plain YAML scalar and still read back as this
 * same string (not a number, bool or null, nothing YAML would interpret). */
static bool yaml_plain_ok(const char *s) {
    if (!s[0] || s[0] == ' ' || s[strlen(s) - 1] == ' ') return false;
    static const char *const reserved[] = {"true", "false", "null", "yes", "no", "on", "off", "~", "y", "n"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcasecmp(s, reserved[i]) == 0) return false;
    char *end;
    strtod(s, &end);
    if (*end == '\0') return false;
    if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0])) return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == '#' || c == '"' || c == '\'' || c == '{' || c == '}' || c == '[' || c == ']' || c == ',')
            return false;
        if (c == ':' && (p[1] == ' ' || p[1] == '\0')) return false;
    }
    return true;
}

static struct fy_node *yaml_node(struct fy_document *d, json_t *v) {
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        struct fy_node *m = fy_node_create_mapping(d);
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            json_t *ks = json_string(k);
            fy_node_mapping_append(m, yaml_node(d, ks), yaml_node(d, x));
            json_decref(ks);
        }
        return m;
    }
    case JSON_ARRAY: {
        struct fy_node *q = fy_node_create_sequence(d);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) fy_node_sequence_append(q, yaml_node(d, x));
        return q;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        if (yaml_plain_ok(s)) return fy_node_create_scalar_copy(d, s, strlen(s));
        char *quoted = json_dumps(v, JSON_ENCODE_ANY); /* a JSON string is a valid double-quoted YAML scalar */
        /* libfyaml parses in place: hand it the buffer, it frees it with the document */
        return fy_node_build_from_malloc_string(d, quoted, strlen(quoted));
    }
    case JSON_INTEGER: snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: snprintf(num, sizeof num, "%.17g", json_real_value(v)); break;
    case JSON_TRUE: snprintf(num, sizeof num, "true"); break;
    case JSON_FALSE: snprintf(num, sizeof num, "false"); break;
    default: snprintf(num, sizeof num, "null"); break;
    }
    return fy_node_create_scalar_copy(d, num, strlen(num));
}

/* While get lists (get_list.c) capture, printing hands the value over instead. */
static cli_capture *capture;

void cli_capture_set(cli_capture *c) {
    if (c) {
        bool pass = c->pass_through;
        memset(c, 0, sizeof *c);
        c->pass_through = pass;
    }
    capture = c;
}

void cli_print_after_table(const char *text) {
    if (capture && !capture->pass_through) mp_buf_puts(&capture->after, text);
    else fputs(text, stdout);
}

char *cli_yaml_string(json_t *v) {
    struct fy_document *fyd = fy_document_create(NULL);
    if (!fyd) return mp_xstrdup("");
    fy_document_set_root(fyd, yaml_node(fyd, v));
    char *y = fy_emit_document_to_string(fyd, FYECF_MODE_BLOCK | FYECF_INDENT_2 | FYECF_WIDTH_INF);
    fy_document_destroy(fyd);
    if (!y) return mp_xstrdup("");
    if (strncmp(y, "---\n", 4) == 0) memmove(y, y + 4, strlen(y + 4) + 1);
    return y;
}

int cli_print_json(json_t *v, cli_out fmt) {
    if (capture && !capture->pass_through) {
        json_decref(capture->json);
        capture->json = json_incref(v);
        return CLI_OK;
    }
    if (fmt == OUT_JSON) {
        char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        if (!text) return cli_fail(CLI_FAILED, "cannot encode output as JSON");
        fputs(text, stdout);
        fputc('\n', stdout);
        free(text);
        return CLI_OK;
    }
    struct fy_document *fyd = fy_document_create(NULL);
    if (!fyd) return cli_fail(CLI_FAILED, "cannot convert output to YAML");
    fy_document_set_root(fyd, yaml_node(fyd, v));
    char *y = fy_emit_document_to_string(fyd, FYECF_MODE_BLOCK | FYECF_INDENT_2 | FYECF_WIDTH_INF);
    if (y) fputs(strncmp(y, "---\n", 4) == 0 ? y + 4 : y, stdout);
    free(y);
    fy_document_destroy(fyd);
    return CLI_OK;
}

void cli_table_init(cli_table *t, size_t ncols, const char *const *header) {
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    cli_table_add(t, header);
}

void cli_table_add(cli_table *t, const char *const *row) {
    if ((t->nrows + 1) * t->ncols > t->cap) {
        t->cap = t->cap ? t->cap * 2 : t->ncols * 16;
        while (t->cap < (t->nrows + 1) * t->ncols) t->cap *= 2;
        t->cells = mp_xrealloc(t->cells, t->cap * sizeof *t->cells);
    }
    for (size_t c = 0; c < t->ncols; c++) t->cells[t->nrows * t->ncols + c] = mp_xstrdup(row[c] ? row[c] : "");
    t->nrows++;
}

void cli_table_print(const cli_table *t, FILE *f) {
    if (capture && capture->pass_through && t->nrows <= 1) {
        fprintf(stderr, "No resources found.\n");
        return;
    }
    if (capture && !capture->pass_through) {
        cli_table_free(&capture->table);
        cli_table_init(&capture->table, t->ncols, (const char *const *)t->cells);
        for (size_t r = 1; r < t->nrows; r++) cli_table_add(&capture->table, (const char *const *)t->cells + r * t->ncols);
        capture->has_table = true;
        return;
    }
    size_t w[32] = {0};
    size_t nc = t->ncols < 32 ? t->ncols : 32;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < nc; c++) {
            size_t l = strlen(t->cells[r * t->ncols + c]);
            if (l > w[c]) w[c] = l;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < nc; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c + 1 == nc) fprintf(f, "%s", cell);
            else fprintf(f, "%-*s   ", (int)w[c], cell);
        }
        fputc('\n', f);
    }
}

void cli_table_free(cli_table *t) {
    for (size_t i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* "4", "0.5", "1.25": millicores as cores. */
void cli_fmt_cpu(int64_t m, char *out, size_t n) {
    snprintf(out, n, "%lld.%03lld", (long long)(m / 1000), (long long)(m % 1000));
    char *dot = strchr(out, '.');
    char *end = out + strlen(out);
    while (end > dot && (end[-1] == '0' || end[-1] == '.')) {
        bool was_dot = end[-1] == '.';
        *--end = '\0';
        if (was_dot) break;
    }
}

void cli_fmt_mem(int64_t b, char *out, size_t n) {
    if (b >= (1LL << 30)) snprintf(out, n, "%.1fGi", (double)b / (double)(1LL << 30));
    else if (b >= (1LL << 20)) snprintf(out, n, "%.1fMi", (double)b / (double)(1LL << 20));
    else snprintf(out, n, "%lld", (long long)b);
}

int cli_parse_int(const char *flag, const char *v, int lo, int hi, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi)
        return cli_fail(CLI_USAGE, "%s expects a whole number from %d to %d, got \"%s\"", flag, lo, hi, v);
    *out = (int)x;
    return 0;
}

int cli_httpd_option(int c, const char *arg, mp_httpd_opts *o) {
    mp_err e;
    switch (c) {
    case 'l': o->listen = arg; return 0;
    case 't': return cli_parse_int("--threads", arg, 1, 1024, &o->threads);
    case 'b': return mp_parse_size(arg, &o->max_body, &e) != 0 ? cli_fail(CLI_USAGE, "--max-body: %s", e.msg) : 0;
    case 'T': return cli_parse_int("--timeout", arg, 1, 86400, &o->timeout_s);
    case 'D': return cli_parse_int("--drain", arg, 1, 86400, &o->drain_s);
    case 'v': o->verbose = true; return 0;
    default: return -1;
    }
}

const char *cli_jstr(json_t *o, const char *k, const char *def) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : def;
}

void cli_print_log_tail(json_t *tail) {
    if (!json_array_size(tail)) return;
    printf("      last log lines:\n");
    size_t i;
    json_t *l;
    json_array_foreach(tail, i, l) printf("        | %s\n", json_is_string(l) ? json_string_value(l) : "?");
}

size_t cli_tail_start(const char *data, size_t len, int n) {
    if (n <= 0) return len;
    size_t i = len;
    if (i > 0 && data[i - 1] == '\n') i--; /* the newline that ends the last line */
    int seen = 0;
    while (i > 0) {
        if (data[i - 1] == '\n' && ++seen == n) return i;
        i--;
    }
    return 0;
}

int cli_take_tail(int argc, char **argv, int *tail) {
    *tail = -1;
    int w = 0;
    for (int r = 0; r < argc; r++) {
        const char *v = NULL;
        if (strcmp(argv[r], "--") == 0) {
            while (r < argc) argv[w++] = argv[r++];
            break;
        }
        if (strcmp(argv[r], "--tail") == 0) {
            if (r + 1 >= argc) {
                cli_fail(CLI_USAGE, "--tail needs a number of lines, e.g. --tail 20");
                return -1;
            }
            v = argv[++r];
        } else if (mp_str_starts(argv[r], "--tail=")) {
            v = argv[r] + 7;
        } else {
            argv[w++] = argv[r];
            continue;
        }
        char *end = NULL;
        errno = 0;
        long n = (*v >= '0' && *v <= '9') ? strtol(v, &end, 10) : -1;
        if (n < 0 || errno || !end || *end || n > INT_MAX) {
            cli_fail(CLI_USAGE, "--tail \"%s\": expected a whole number of lines >= 0, e.g. --tail 20", v);
            return -1;
        }
        *tail = (int)n;
    }
    argv[w] = NULL;
    return w;
}

static bool g_no_color;

void cli_set_no_color(void) { g_no_color = true; }

bool cli_color(void) {
    const char *nc = getenv("NO_COLOR");
    return !g_no_color && !(nc && *nc) && isatty(STDOUT_FILENO);
}

/* How long ago, as kubectl's AGE: "45s", "12m", "5h", "3d"; "-" when unknown. */
void cli_fmt_age(int64_t ms, char *out, size_t n) {
    if (ms <= 0) {
        snprintf(out, n, "-");
        return;
    }
    int64_t s = (mp_now_ms() - ms) / 1000;
    if (s < 0) s = 0;
    if (s < 120) snprintf(out, n, "%llds", (long long)s);
    else if (s < 120 * 60) snprintf(out, n, "%lldm", (long long)(s / 60));
    else if (s < 48 * 3600) snprintf(out, n, "%lldh", (long long)(s / 3600));
    else snprintf(out, n, "%lldd", (long long)(s / 86400));
}

/* The last max events of v (all when max is 0), kubectl describe's way. */
void cli_print_events(json_t *v, size_t max) {
    json_t *evs = json_object_get(v, "events");
    size_t n = json_array_size(evs);
    if (!evs) return;
    printf("\nEvents:%s\n", n ? "" : " <none>");
    if (!n) return;
    static const char *const hdr[] = {"TYPE", "LAST SEEN", "COUNT", "MESSAGE"};
    cli_table t;
    cli_table_init(&t, 4, hdr);
    for (size_t i = max && n > max ? n - max : 0; i < n; i++) {
        json_t *ev = json_array_get(evs, i);
        char seen[32], count[48], first[16];
        cli_fmt_age(json_integer_value(json_object_get(ev, "lastMs")), seen, sizeof seen);
        long long c = (long long)json_integer_value(json_object_get(ev, "count"));
        cli_fmt_age(json_integer_value(json_object_get(ev, "firstMs")), first, sizeof first);
        if (c > 1) snprintf(count, sizeof count, "x%lld over %s", c, first);
        else snprintf(count, sizeof count, "1");
        const char *row[] = {cli_jstr(ev, "type", "-"), seen, count, cli_jstr(ev, "message", "")};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}
