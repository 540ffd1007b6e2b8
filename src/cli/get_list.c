/* get_list.c — what every `mlplane get KIND` list shares, whatever the kind and
 * whether it is read from the embedded store or through --server: label
 * selectors (-l), --limit, -o name|jsonpath=..., "No resources found.",
 * --show-labels and --watch. The kind prints its list as usual; the capture of output.c hands the
 * JSON (as -o json prints it) and the table over, and they are filtered here. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

int cli_list_parse_out(const char *s, cli_list_opts *o) {
    o->name = false;
    o->jsonpath = NULL;
    if (strcmp(s, "name") == 0) {
        o->name = true;
        o->out = OUT_JSON;
        return 0;
    }
    if (strncmp(s, "jsonpath=", 9) == 0) {
        o->jsonpath = s + 9;
        o->out = OUT_JSON;
        return 0;
    }
    if (strcmp(s, "table") == 0 || strcmp(s, "wide") == 0 || strcmp(s, "json") == 0 || strcmp(s, "yaml") == 0)
        return cli_parse_out(s, &o->out);
    return cli_fail(CLI_USAGE, "-o expects table, json or yaml (or wide, name, jsonpath=TEMPLATE), got \"%s\"", s);
}

/* The text of item's label key: labels, metadata.labels, params (runs), then a
 * top-level scalar field. Heap string, or NULL when it has none. */
static char *label_of(json_t *item, const char *key) {
    json_t *places[] = {json_object_get(item, "labels"), json_object_get(json_object_get(item, "metadata"), "labels"),
                        json_object_get(item, "params"), item};
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        json_t *v = json_object_get(places[i], key);
        if (!v || json_is_object(v) || json_is_array(v) || json_is_null(v)) continue;
        if (json_is_string(v)) return mp_xstrdup(json_string_value(v));
        return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    }
    return NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The LABELS cell of --show-labels, as kubectl prints it: "k=v,k2=v2" by key, or
 * "<none>". Heap string. */
static char *labels_cell(json_t *item) {
    json_t *l = json_object_get(item, "labels");
    if (!json_is_object(l)) l = json_object_get(json_object_get(item, "metadata"), "labels");
    size_t n = json_is_object(l) ? json_object_size(l) : 0;
    if (n == 0) return mp_xstrdup("<none>");
    const char **keys = mp_xcalloc(n, sizeof *keys);
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(l, key, v) keys[k++] = key;
    qsort(keys, k, sizeof *keys, cmp_str);
    mp_buf b;
    mp_buf_init(&b);
    for (size_t i = 0; i < k; i++) {
        json_t *jv = json_object_get(l, keys[i]);
        char *val = json_is_string(jv) ? mp_xstrdup(json_string_value(jv))
                                       : json_dumps(jv, JSON_ENCODE_ANY | JSON_COMPACT);
        mp_buf_printf(&b, "%s%s=%s", i ? "," : "", keys[i], val ? val : "");
        free(val);
    }
    free(keys);
    return mp_buf_steal(&b);
}

/* Checks the selector's syntax: 0, or CLI_USAGE with the reason. */
static int selector_check(const char *sel) {
    char *copy = mp_xstrdup(sel), *save = NULL;
    int status = 0;
    size_t col = 1;
    for (char *t = strtok_r(copy, ",", &save); t && !status; t = strtok_r(NULL, ",", &save)) {
        col = (size_t)(t - copy) + 1;
        const char *k = t[0] == '!' ? t + 1 : t;
        size_t kl = strcspn(k, "=!");
        if (kl == 0 || (k != t && k[kl]) || (k[kl] == '!' && k[kl + 1] != '='))
            status = cli_fail(CLI_USAGE, "-l %s: column %zu: expected key=value, key!=value, key or !key", sel, col);
    }
    free(copy);
    return status;
}

/* Whether item matches every requirement of the selector (comma = and). */
static bool selector_match(json_t *item, const char *sel) {
    char *copy = mp_xstrdup(sel), *save = NULL;
    bool ok = true;
    for (char *t = strtok_r(copy, ",", &save); t && ok; t = strtok_r(NULL, ",", &save)) {
        bool neg_exists = t[0] == '!';
        char *k = neg_exists ? t + 1 : t;
        char *op = k + strcspn(k, "=!");
        bool ne = op[0] == '!';
        char *val = NULL;
        if (*op) {
            *op = '\0';
            val = op + (ne ? 2 : op[1] == '=' ? 2 : 1);
        }
        char *have = label_of(item, k);
        if (neg_exists) ok = !have;
        else if (!val) ok = have != NULL;
        else if (ne) ok = !have || strcmp(have, val) != 0;
        else ok = have && strcmp(have, val) == 0;
        free(have);
    }
    free(copy);
    return ok;
}

/* What -o name prints after "kind/": the item's id, name or deployment. */
static const char *ident_of(json_t *item) {
    static const char *const keys[] = {"id", "name", "deployment", "experiment_id", "run", "key"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *s = json_string_value(json_object_get(item, keys[i]));
        if (s) return s;
    }
    return "?";
}

/* Fetches once: the kept items (new array) and, for a table, the matching rows
 * (a table whose row 0 is the header) and what the kind prints after its table
 * (appended to after). Returns an exit status. */
static int fetch_once(cli_env *env, const cli_list_opts *o, cli_list_fetch fetch, void *ctx, json_t **items,
                      cli_table *table, mp_buf *after) {
    *items = NULL;
    memset(table, 0, sizeof *table);
    bool filter = o->selector || o->limit > 0 || o->show_labels;
    cli_capture cj = {0}, ct = {0};
    json_t *all = NULL;
    int status = CLI_OK;
    for (int attempt = 0; attempt < 3; attempt++) {
        json_decref(all);
        all = NULL;
        if (o->out != OUT_TABLE || filter || o->watch) {
            cli_capture_set(&cj);
            status = fetch(env, ctx, OUT_JSON);
            cli_capture_set(NULL);
            cli_table_free(&cj.table);
            mp_buf_free(&cj.after);
            all = cj.json;
            if (status) {
                json_decref(all);
                return status;
            }
            if (!json_is_array(all)) {
                json_decref(all);
                return cli_fail(CLI_FAILED, "this list did not come as a JSON array");
            }
        }
        if (o->out != OUT_TABLE) break;
        cli_capture_set(&ct);
        status = fetch(env, ctx, OUT_TABLE);
        cli_capture_set(NULL);
        json_decref(ct.json);
        if (status) {
            cli_table_free(&ct.table);
            mp_buf_free(&ct.after);
            json_decref(all);
            return status;
        }
        if (!ct.has_table) { /* the kind printed its own text */
            if (ct.after.data) fputs(ct.after.data, stdout);
            mp_buf_free(&ct.after);
            json_decref(all);
            return CLI_OK;
        }
        if (!all || ct.table.nrows - 1 == json_array_size(all)) {
            *table = ct.table;
            if (ct.after.data) mp_buf_puts(after, ct.after.data);
            mp_buf_free(&ct.after);
            break;
        }
        mp_buf_free(&ct.after);
        cli_table_free(&ct.table); /* the list changed between the two reads: read again */
        if (attempt == 2) {
            json_decref(all);
            return cli_fail(CLI_FAILED, "the list kept changing while it was read; try again");
        }
    }
    json_t *kept = json_array();
    cli_table rows = {0};
    bool labels = o->show_labels && all && table->ncols;
    size_t ncols = table->ncols + (labels ? 1 : 0);
    const char **row = mp_xcalloc(ncols + 1, sizeof *row);
    if (table->ncols) {
        for (size_t c = 0; c < table->ncols; c++) row[c] = table->cells[c];
        if (labels) row[table->ncols] = "LABELS";
        cli_table_init(&rows, ncols, row);
    }
    size_t n = all ? json_array_size(all) : table->nrows - 1;
    for (size_t i = 0; i < n; i++) {
        json_t *it = all ? json_array_get(all, i) : NULL;
        if (o->selector && !selector_match(it, o->selector)) continue;
        if (o->limit > 0 && json_array_size(kept) >= (size_t)o->limit) break;
        if (it) json_array_append(kept, it);
        else json_array_append_new(kept, json_null());
        if (!table->ncols) continue;
        for (size_t c = 0; c < table->ncols; c++) row[c] = table->cells[(i + 1) * table->ncols + c];
        char *cell = labels ? labels_cell(it) : NULL;
        if (labels) row[table->ncols] = cell;
        cli_table_add(&rows, row);
        free(cell);
    }
    free(row);
    json_decref(all);
    cli_table_free(table);
    *table = rows;
    *items = kept;
    return CLI_OK;
}

/* The text of item i in the chosen format (heap, ends in a newline except jsonpath). */
static char *render_item(const cli_list_opts *o, const char *kind, const cli_jsonpath *jp, json_t *item) {
    mp_buf b;
    mp_buf_init(&b);
    if (o->name) mp_buf_printf(&b, "%s/%s\n", kind, ident_of(item));
    else if (jp) cli_jsonpath_eval(jp, item, &b);
    else {
        char *t = json_dumps(item, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        mp_buf_printf(&b, "%s\n", t ? t : "null");
        free(t);
    }
    return mp_buf_steal(&b);
}

/* A table row padded to the widths w (of the first print). */
static void print_row(const cli_table *t, size_t r, const size_t *w) {
    for (size_t c = 0; c < t->ncols; c++) {
        const char *cell = t->cells[r * t->ncols + c];
        if (c + 1 == t->ncols) printf("%s", cell);
        else printf("%-*s   ", (int)w[c], cell);
    }
    putchar('\n');
}

/* What a row's change is judged by: the item without the fields that move with the clock. */
static char *signature(json_t *item) {
    json_t *c = json_deep_copy(item);
    if (json_is_object(c)) {
        static const char *const volatile_keys[] = {"duration_ms", "age", "age_s", "uptime_s", "updated"};
        for (size_t i = 0; i < sizeof volatile_keys / sizeof volatile_keys[0]; i++) json_object_del(c, volatile_keys[i]);
    }
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(c);
    return s ? s : mp_xstrdup("");
}

static int watch_loop(cli_env *env, const char *kind, const cli_list_opts *o, cli_list_fetch fetch, void *ctx,
                      const cli_jsonpath *jp) {
    mp_strv keys = {0}, sigs = {0};
    size_t w[32] = {0};
    bool header = false, said_none = false, said_after = false;
    for (;;) {
        json_t *items;
        cli_table t;
        mp_buf after = {0};
        int status = fetch_once(env, o, fetch, ctx, &items, &t, &after);
        if (status) {
            mp_buf_free(&after);
            return status;
        }
        if (o->out == OUT_TABLE && t.ncols && !header && json_array_size(items) > 0) {
            for (size_t r = 0; r < t.nrows; r++)
                for (size_t c = 0; c < t.ncols && c < 32; c++) {
                    size_t l = strlen(t.cells[r * t.ncols + c]);
                    if (l > w[c]) w[c] = l;
                }
            print_row(&t, 0, w);
            header = true;
        }
        if (!json_array_size(items) && !header && !said_none) {
            fprintf(stderr, "No resources found.\n");
            said_none = true;
        }
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            char *key = mp_xstrdup(ident_of(it));
            char *sig = signature(it);
            size_t k = 0;
            while (k < keys.n && strcmp(keys.v[k], key) != 0) k++;
            bool changed = k == keys.n || strcmp(sigs.v[k], sig) != 0;
            if (k == keys.n) {
                mp_strv_push(&keys, key);
                mp_strv_push(&sigs, sig);
            } else if (changed) {
                free(sigs.v[k]);
                sigs.v[k] = mp_xstrdup(sig);
            }
            if (changed) {
                if (o->out == OUT_TABLE && t.ncols) print_row(&t, i + 1, w);
                else {
                    char *text = render_item(o, kind, jp, it);
                    fputs(text, stdout);
                    if (jp) putchar('\n');
                    free(text);
                }
                fflush(stdout);
            }
            free(key);
            free(sig);
        }
        if (header && !said_after && after.len) { /* the kind's notes, once, after the first rows */
            fputs(after.data, stdout);
            fflush(stdout);
            said_after = true;
        }
        mp_buf_free(&after);
        json_decref(items);
        cli_table_free(&t);
        mp_sleep_ms(500);
    }
}

int cli_list_run(cli_env *env, const char *kind, const cli_list_opts *o, cli_list_fetch fetch, void *ctx) {
    if (o->selector && selector_check(o->selector)) return CLI_USAGE;
    cli_jsonpath *jp = NULL;
    if (o->jsonpath) {
        char err[256];
        jp = cli_jsonpath_parse(o->jsonpath, err, sizeof err);
        if (!jp) return cli_fail(CLI_USAGE, "-o jsonpath=%s: %s", o->jsonpath, err + strlen("jsonpath: "));
    }
    int status;
    if (o->watch) {
        status = watch_loop(env, kind, o, fetch, ctx, jp);
        cli_jsonpath_free(jp);
        return status;
    }
    if (o->out != OUT_JSON || (!o->name && !jp)) {
        if (!o->selector && !o->limit && !o->show_labels) { /* print as the kind does; an empty table says so */
            cli_capture pass = {.pass_through = true};
            cli_capture_set(&pass);
            status = fetch(env, ctx, o->out);
            cli_capture_set(NULL);
            cli_jsonpath_free(jp);
            return status;
        }
    }
    json_t *items;
    cli_table t;
    mp_buf after = {0};
    status = fetch_once(env, o, fetch, ctx, &items, &t, &after);
    if (status == CLI_OK && items) {
        if (json_array_size(items) == 0 && (o->out == OUT_TABLE || o->name || jp)) fprintf(stderr, "No resources found.\n");
        else if (o->out == OUT_TABLE) cli_table_print(&t, stdout);
        else if (o->name) {
            size_t i;
            json_t *it;
            json_array_foreach(items, i, it) printf("%s/%s\n", kind, ident_of(it));
        } else if (jp) {
            mp_buf b;
            mp_buf_init(&b);
            cli_jsonpath_eval(jp, items, &b);
            fputs(b.data, stdout);
            mp_buf_free(&b);
        } else {
            status = cli_print_json(items, o->out);
        }
        if (o->out == OUT_TABLE && after.len) fputs(after.data, stdout); /* the kind's notes, after its table */
    }
    json_decref(items);
    cli_table_free(&t);
    mp_buf_free(&after);
    cli_jsonpath_free(jp);
    return status;
}
