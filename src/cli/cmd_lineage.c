/* cmd_lineage.c — where a model came from and where data went:
 *   mlplane lineage models:/NAME/VERSION [-o table|json|yaml|dot]
 *   mlplane lineage models:/NAME@ALIAS   [-o ...]
 *   mlplane lineage artifact HASH        [-o ...]
 * The JSON is engine_lineage_model / engine_lineage_artifact's, read from the home
 * or, with --server, from GET /api/v1/lineage/...; this file only prints it: a
 * table, JSON, YAML or a Graphviz digraph. The command's thread owns everything. */
#include "cli/cli.h"
#include "cli/remote_int.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char lineage_help[] =
    "Usage: mlplane lineage models:/NAME/VERSION [-o table|json|yaml|dot] [--home DIR]\n"
    "       mlplane lineage models:/NAME@ALIAS   [-o ...]\n"
    "       mlplane lineage artifact HASH        [-o ...]\n\n"
    "models:/NAME/VERSION: the run that registered the version (its pipeline, spec hash and\n"
    "params), the step that registered it and every step upstream of it with their inputs\n"
    "and outputs by content hash (SHA-256 of a file's bytes, of a folder's tree), the data\n"
    "read from outside the run with its source, and the parent versions (versions whose\n"
    "file one of those steps read).\n"
    "artifact HASH (at least 8 hex digits): the steps that wrote and read it, what was\n"
    "made from it transitively, and the model versions that came from it.\n\n"
    "  -o, --output FMT   table (default), json, yaml, or dot (a Graphviz digraph)\n"
    "  --home DIR         the home to read (or --server URL: GET /api/v1/lineage/...)\n";

static const char *jstr(json_t *o, const char *k) { return cli_jstr(o, k, "-"); }

static void short_hash(json_t *o, char out[20]) {
    const char *h = cli_jstr(o, "hash", "");
    snprintf(out, 20, "%.12s", *h ? h : "-");
}

/* ---- dot ------------------------------------------------------------------------------------ */

/* A quoted DOT id or label: '"' and '\' escaped, control characters left out. */
static void dq(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fputc('\\', f);
        if (*p >= 0x20) fputc(*p, f);
    }
    fputc('"', f);
}

static void dot_node(FILE *f, const char *id, const char *label, const char *shape) {
    fputs("  ", f);
    dq(f, id);
    fputs(" [label=", f);
    dq(f, label);
    fprintf(f, ", shape=%s];\n", shape);
}

static void dot_edge(FILE *f, const char *a, const char *b, const char *style) {
    fputs("  ", f);
    dq(f, a);
    fputs(" -> ", f);
    dq(f, b);
    if (style) fprintf(f, " [style=%s]", style);
    fputs(";\n", f);
}

static void art_node(FILE *f, json_t *a, char *id, size_t n) {
    char label[400], h[20];
    short_hash(a, h);
    snprintf(id, n, "sha256:%s", cli_jstr(a, "hash", ""));
    snprintf(label, sizeof label, "%s\\nsha256:%s", jstr(a, "name"), h);
    dot_node(f, id, label, "note");
}

static void model_dot(json_t *j) {
    json_t *m = json_object_get(j, "model");
    char mid[300], label[400];
    snprintf(mid, sizeof mid, "models:/%s/%lld", jstr(m, "name"), (long long)json_integer_value(json_object_get(m, "version")));
    json_t *run = json_object_get(j, "run");
    printf("digraph lineage {\n  rankdir=LR;\n");
    dot_node(stdout, mid, mid, "box3d");
    size_t i, k;
    json_t *s, *a;
    json_array_foreach(json_object_get(j, "steps"), i, s) {
        char sid[400], aid[100];
        snprintf(sid, sizeof sid, "step:%s/%s", jstr(run, "id"), jstr(s, "name"));
        snprintf(label, sizeof label, "%s\\n%s", jstr(s, "name"), jstr(s, "state"));
        dot_node(stdout, sid, label, "box");
        json_array_foreach(json_object_get(s, "inputs"), k, a) {
            art_node(stdout, a, aid, sizeof aid);
            dot_edge(stdout, aid, sid, NULL);
        }
        json_array_foreach(json_object_get(s, "outputs"), k, a) {
            art_node(stdout, a, aid, sizeof aid);
            dot_edge(stdout, sid, aid, NULL);
            if (strcmp(cli_jstr(a, "hash", ""), cli_jstr(m, "hash", "?")) == 0) dot_edge(stdout, aid, mid, NULL);
        }
    }
    json_array_foreach(json_object_get(j, "parents"), i, a) {
        char pid[300], aid[100];
        snprintf(pid, sizeof pid, "models:/%s/%lld", jstr(a, "name"), (long long)json_integer_value(json_object_get(a, "version")));
        snprintf(aid, sizeof aid, "sha256:%s", cli_jstr(a, "hash", ""));
        dot_node(stdout, pid, pid, "box3d");
        dot_edge(stdout, pid, aid, "dashed");
    }
    printf("}\n");
}

static void artifact_dot(json_t *j) {
    printf("digraph lineage {\n  rankdir=LR;\n");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(j, "producedBy"), i, a) {
        char sid[400], aid[100];
        snprintf(sid, sizeof sid, "step:%s/%s", jstr(a, "run"), jstr(a, "step"));
        dot_node(stdout, sid, sid + 5, "box");
        art_node(stdout, a, aid, sizeof aid);
        dot_edge(stdout, sid, aid, NULL);
    }
    json_array_foreach(json_object_get(j, "consumedBy"), i, a) {
        char sid[400], aid[100];
        snprintf(sid, sizeof sid, "step:%s/%s", jstr(a, "run"), jstr(a, "step"));
        dot_node(stdout, sid, sid + 5, "box");
        art_node(stdout, a, aid, sizeof aid);
        dot_edge(stdout, aid, sid, NULL);
    }
    json_array_foreach(json_object_get(j, "models"), i, a) {
        char mid[300], aid[100];
        snprintf(mid, sizeof mid, "models:/%s/%lld", jstr(a, "name"), (long long)json_integer_value(json_object_get(a, "version")));
        snprintf(aid, sizeof aid, "sha256:%s", cli_jstr(a, "hash", ""));
        dot_node(stdout, mid, mid, "box3d");
        dot_edge(stdout, aid, mid, NULL);
    }
    printf("}\n");
}

/* ---- tables ---------------------------------------------------------------------------------- */

static void art_rows(cli_table *t, json_t *step, const char *key, const char *dir) {
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(step, key), k, a) {
        char h[20], from[300];
        short_hash(a, h);
        const char *fs = cli_jstr(a, "fromStep", NULL);
        if (fs) snprintf(from, sizeof from, "step %s", fs);
        else snprintf(from, sizeof from, "%s", cli_jstr(a, "path", "-"));
        const char *row[] = {jstr(step, "name"), dir, jstr(a, "name"), h, strcmp(dir, "in") == 0 ? from : jstr(a, "path")};
        cli_table_add(t, row);
    }
}

static void model_table(json_t *j) {
    json_t *m = json_object_get(j, "model"), *run = json_object_get(j, "run");
    printf("Model:      %s version %lld\n", jstr(m, "name"), (long long)json_integer_value(json_object_get(m, "version")));
    printf("Source:     %s\n", jstr(m, "source"));
    if (!json_is_object(run)) {
        printf("Run:        %s (%s)\n", jstr(m, "runId"), jstr(j, "note"));
        return;
    }
    printf("Run:        %s (%s)\n", jstr(run, "id"), jstr(run, "state"));
    printf("Pipeline:   %s (namespace %s)\n", jstr(run, "pipeline"), jstr(run, "namespace"));
    printf("Spec hash:  sha256:%s\n", jstr(run, "specHash"));
    printf("Params:    ");
    const char *k;
    json_t *v;
    bool any = false;
    json_object_foreach(json_object_get(run, "params"), k, v) {
        printf(" %s=%s", k, json_is_string(v) ? json_string_value(v) : "?");
        any = true;
    }
    printf("%s\n", any ? "" : " -");
    printf("Step:       %s\n\n", jstr(j, "step"));
    static const char *const hdr[] = {"STEP", "DIR", "NAME", "HASH", "FROM / PATH"};
    cli_table t;
    cli_table_init(&t, 5, hdr);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(j, "steps"), i, s) {
        art_rows(&t, s, "inputs", "in");
        art_rows(&t, s, "outputs", "out");
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    json_t *parents = json_object_get(j, "parents");
    if (json_array_size(parents)) {
        printf("\nParents:\n");
        json_array_foreach(parents, i, s)
            printf("  models:/%s/%lld (%s)\n", jstr(s, "name"), (long long)json_integer_value(json_object_get(s, "version")),
                   jstr(s, "via"));
    }
}

static void artifact_table(json_t *j) {
    static const char *const hdr[] = {"RUN", "STEP", "DIR", "NAME", "HASH", "DEPTH"};
    cli_table t;
    cli_table_init(&t, 6, hdr);
    static const char *const keys[] = {"producedBy", "consumedBy"};
    for (int w = 0; w < 2; w++) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(j, keys[w]), i, a) {
            char h[20], d[16];
            short_hash(a, h);
            snprintf(d, sizeof d, "%lld", (long long)json_integer_value(json_object_get(a, "depth")));
            const char *row[] = {jstr(a, "run"), jstr(a, "step"), w ? "in" : "out", jstr(a, "name"), h, d};
            cli_table_add(&t, row);
        }
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    json_t *models = json_object_get(j, "models");
    printf("\nModels:%s\n", json_array_size(models) ? "" : " none");
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m)
        printf("  models:/%s/%lld (run %s)\n", jstr(m, "name"), (long long)json_integer_value(json_object_get(m, "version")),
               jstr(m, "runId"));
}

/* ---- reading ------------------------------------------------------------------------------------ */

/* "models:/NAME/VERSION" or "models:/NAME@ALIAS" into name, version or alias. */
static int parse_ref(const char *ref, char *name, size_t nn, int64_t *version, char *alias, size_t na) {
    const char *p = ref + strlen("models:/");
    const char *at = strchr(p, '@'), *slash = strrchr(p, '/');
    *version = 0;
    alias[0] = '\0';
    if (at && at > p && at[1] && snprintf(name, nn, "%.*s", (int)(at - p), p) < (int)nn) {
        snprintf(alias, na, "%s", at + 1);
        return 0;
    }
    char *end = NULL;
    long long v = slash && slash > p ? strtoll(slash + 1, &end, 10) : 0;
    if (v <= 0 || !end || *end || snprintf(name, nn, "%.*s", (int)(slash - p), p) >= (int)nn)
        return cli_fail(CLI_USAGE, "%s: write models:/NAME/VERSION (a version number) or models:/NAME@ALIAS", ref);
    *version = v;
    return 0;
}

static int remote_lineage(cli_env *env, const char *name, int64_t version, const char *alias, const char *hash,
                          json_t **j) {
    remote r;
    int status = remote__open(env, &r);
    if (status) return status;
    char *path;
    if (hash) {
        char *h = curl_easy_escape(r.c, hash, 0);
        path = mp_xasprintf("/api/v1/lineage/artifacts/%s", h);
        curl_free(h);
    } else {
        char *n = curl_easy_escape(r.c, name, 0), *a = alias[0] ? curl_easy_escape(r.c, alias, 0) : NULL;
        path = a ? mp_xasprintf("/api/v1/lineage/models/%s/aliases/%s", n, a)
                 : mp_xasprintf("/api/v1/lineage/models/%s/versions/%lld", n, (long long)version);
        curl_free(n);
        curl_free(a);
    }
    reply y = {0};
    status = remote__get_json(&r, path, JSON_OBJECT, &y);
    if (status == 0) *j = json_incref(y.json);
    free(path);
    remote__reply_free(&y);
    remote__close(&r);
    return status;
}

static int local_lineage(cli_env *env, const char *name, int64_t version, const char *alias, const char *hash,
                         json_t **j) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, NULL, &home, &st)) return CLI_FAILED;
    mp_err e = {0};
    int rc = 0;
    if (hash) {
        rc = engine_lineage_artifact(st, hash, j, &e);
    } else {
        if (alias[0]) {
            store_model_version mv;
            rc = st->r->alias_get(st, name, alias, &mv, &e);
            if (rc == 0) version = mv.version;
            if (rc == 0) store_model_version_free(&mv);
        }
        if (rc == 0) rc = engine_lineage_model(st, name, version, j, &e);
    }
    int status = rc ? cli_fail_err(&e) : CLI_OK;
    st->m->close(st);
    free(home);
    return status;
}

int cmd_lineage(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(lineage_help, stdout);
        return CLI_OK;
    }
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"home", required_argument, NULL, 'H'}, {NULL, 0, NULL, 0}};
    cli_out out = OUT_TABLE;
    bool dot = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o') {
            dot = strcmp(optarg, "dot") == 0;
            if (!dot && cli_parse_out(optarg, &out)) return CLI_USAGE;
        } else if (c == 'H') {
            env->home_flag = optarg;
        } else {
            return cli_fail(CLI_USAGE, "lineage: unknown flag %s (see mlplane lineage --help)", argv[optind - 1]);
        }
    }
    int nargs = argc - optind;
    const char *hash = NULL;
    char name[256] = "", alias[256] = "";
    int64_t version = 0;
    if (nargs == 2 && strcmp(argv[optind], "artifact") == 0) {
        hash = argv[optind + 1];
        if (mp_str_starts(hash, "sha256:")) hash += 7;
    } else if (nargs == 1 && mp_str_starts(argv[optind], "models:/")) {
        if (parse_ref(argv[optind], name, sizeof name, &version, alias, sizeof alias)) return CLI_USAGE;
    } else {
        return cli_fail(CLI_USAGE, "usage: mlplane lineage models:/NAME/VERSION | artifact HASH [-o table|json|yaml|dot]");
    }
    json_t *j = NULL;
    int status = env->server ? remote_lineage(env, name, version, alias, hash, &j)
                             : local_lineage(env, name, version, alias, hash, &j);
    if (status) return status;
    if (dot) hash ? artifact_dot(j) : model_dot(j);
    else if (out != OUT_TABLE) cli_print_json(j, out);
    else hash ? artifact_table(j) : model_table(j);
    json_decref(j);
    return CLI_OK;
}
