/* cmd_apply.c — mlplane apply -f FILE|DIR|- [-f ...]: stores the objects of
 * files, of every .yaml/.yml file of a directory (by name), or of standard input,
 * as a whole: every file is loaded and checked first, then all are applied in
 * one transaction (through --server: in one request, which the server applies in
 * one transaction), so that one bad file changes nothing. Single-threaded. */
#include "cli/cli.h"

#include <dirent.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One file to apply: its name in messages (a path or "<stdin>"), its text, what it holds. */
typedef struct apply_src {
    char *name;
    char *text;
    size_t len;
    spec_file *f;
} apply_src;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool yaml_name(const char *n) {
    size_t l = strlen(n);
    return n[0] != '.' && ((l > 5 && strcmp(n + l - 5, ".yaml") == 0) || (l > 4 && strcmp(n + l - 4, ".yml") == 0));
}

/* The files named by -f ARG: ARG itself, "-" (standard input) or the .yaml and .yml files of directory ARG, by name. */
static int collect(const char *arg, mp_strv *paths) {
    if (strcmp(arg, "-") == 0 || !mp_is_dir(arg)) {
        mp_strv_push(paths, arg);
        return 0;
    }
    DIR *d = opendir(arg);
    if (!d) return cli_fail(CLI_USAGE, "cannot read the directory %s", arg);
    struct dirent *de;
    mp_strv names = {0};
    while ((de = readdir(d)) != NULL)
        if (yaml_name(de->d_name)) mp_strv_push(&names, de->d_name);
    closedir(d);
    if (names.n) qsort(names.v, names.n, sizeof *names.v, cmp_str);
    size_t l = strlen(arg), had = paths->n;
    for (size_t i = 0; i < names.n; i++) {
        char *p = mp_xasprintf("%s%s%s", arg, l && arg[l - 1] == '/' ? "" : "/", names.v[i]);
        mp_strv_push(paths, p);
        free(p);
    }
    mp_strv_free(&names);
    if (paths->n == had) return cli_fail(CLI_USAGE, "%s has no .yaml or .yml files; nothing was applied", arg);
    return 0;
}

/* Reads and checks one file, printing every problem as FILE:LINE:COL lines; 0 or CLI_USAGE. */
static int load_src(const char *path, apply_src *s, bool many) {
    bool in = strcmp(path, "-") == 0;
    s->name = mp_xstrdup(in ? "<stdin>" : path);
    if (in) {
        mp_buf b;
        mp_buf_init(&b);
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) mp_buf_append(&b, chunk, n);
        if (ferror(stdin)) {
            mp_buf_free(&b);
            return cli_fail(CLI_USAGE, "cannot read standard input");
        }
        mp_buf_putc(&b, '\0');
        s->len = b.len - 1;
        s->text = b.data;
    } else if (cli_read_spec(path, &s->text, &s->len) != 0) {
        return many ? CLI_USAGE : cli_fail(CLI_USAGE, "nothing was applied");
    }
    char *abs = in ? NULL : mp_path_abs(NULL, path);
    char *dir = in ? mp_path_abs(NULL, ".") : mp_path_dir(abs);
    spec_diags d = {0};
    int status = CLI_OK;
    if (spec_load_string(s->name, dir, s->text, s->len, &s->f, &d) != 0) {
        mp_buf b;
        mp_buf_init(&b);
        spec_diags_format(&d, &b);
        if (b.data) fputs(b.data, stderr);
        mp_buf_free(&b);
        status = cli_fail(CLI_USAGE, many ? "%s is not valid" : "%s is not valid; nothing was applied", s->name);
    }
    spec_diags_free(&d);
    free(abs);
    free(dir);
    return status;
}

static void print_applied(const cli_apply_file *s) {
    for (size_t i = 0; i < s->f->nobjs; i++) {
        const spec_object *o = &s->f->objs[i];
        if (o->kind == SPEC_KIND_PIPELINE)
            printf("pipeline/%s not applied (run it with: mlplane run %s)\n", spec_object_meta(o)->name, s->name);
        else
            printf("%s/%s applied\n", spec_kind_name(o->kind), spec_object_meta(o)->name);
    }
}

/* Applies every file in one transaction: all or nothing. */
int cli_local_apply(cli_env *env, const cli_apply_file *srcs, size_t nsrc, const char *what) {
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store(env, NULL, &home, &st)) return CLI_FAILED;
    mp_err e = {0};
    spec_diags d = {0};
    size_t total = 0;
    int rc = st->m->begin(st, &e);
    for (size_t i = 0; rc == 0 && i < nsrc; i++) {
        size_t n = 0;
        rc = sched_objects_apply(st, srcs[i].f, srcs[i].text, &n, &d, &e);
        total += n;
    }
    int status = CLI_OK;
    if (rc == 0) rc = st->m->commit(st, &e);
    else st->m->rollback(st);
    if (rc) {
        mp_buf b;
        mp_buf_init(&b);
        spec_diags_format(&d, &b);
        if (b.data) fputs(b.data, stderr);
        mp_buf_free(&b);
        status = cli_fail_err(&e);
        if (nsrc > 1) fputs("mlplane: nothing was applied\n", stderr);
    } else {
        for (size_t i = 0; i < nsrc; i++) print_applied(&srcs[i]);
        if (total == 0) printf("nothing to apply in %s\n", what);
    }
    spec_diags_free(&d);
    st->m->close(st);
    free(home);
    return status;
}

static const char apply_help[] =
    "Usage: mlplane apply -f FILE|DIR|- [-f ...] [--home DIR]\n\n"
    "Stores the objects of FILE: Deployments, Secrets and the scheduler objects (PriorityClass,\n"
    "Node, NodePool, ResourceFlavor, ClusterQueue, LocalQueue), Monitors, RetentionPolicies and the\n"
    "access objects (Role, RoleBinding, ClusterRole, ClusterRoleBinding), replacing those of the\n"
    "same names. -f DIR applies every *.yaml and *.yml file of DIR (not its\n"
    "subdirectories) in name order; -f - reads standard input (named <stdin> in\n"
    "messages); several -f are applied in their order. Every file is checked first,\n"
    "then all are applied together (through --server too): when one file has errors\n"
    "(each printed as FILE:LINE:COL) nothing is applied.\n"
    "References are checked too (a LocalQueue's clusterQueue, a\n"
    "ClusterQueue's flavors, one global default PriorityClass): a bad file changes\n"
    "nothing. Every mlplane run of this home\n"
    "schedules against them from its next decision. Pipelines in FILE are not applied;\n"
    "run them with `mlplane run FILE` (which applies the file's other objects too).\n"
    "Deployments in FILE are stored too: `mlplane server` on this home serves each one\n"
    "(restarting it when it is applied again), or run one with\n"
    "`mlplane serve deployment/NAME`. Applying a Deployment again resets the split\n"
    "`mlplane rollout` recorded to the spec's canary percent.\n"
    "Secrets in FILE are stored with their values encrypted with the key of\n"
    "--secret-key-file FILE (or MLPLANE_SECRET_KEY_FILE, MLPLANE_SECRET_KEY); without a key\n"
    "nothing is applied. See docs/security.md.\n";

int cmd_apply(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(apply_help, stdout);
        return CLI_OK;
    }
    static const struct option longs[] = {{"filename", required_argument, 0, 'f'}, {"home", required_argument, 0, 'H'},
                                          {0, 0, 0, 0}};
    const char *home_flag = env->home_flag;
    mp_strv args = {0};
    optind = 0;
    opterr = 0;
    int c;
    /* "-" leads: "-f -" keeps its "-" as f's argument, and a lone "-" stays a positional. */
    while ((c = getopt_long(argc, argv, "-f:", longs, NULL)) != -1) {
        if (c == 'f') mp_strv_push(&args, optarg);
        else if (c == 'H') home_flag = optarg;
        else if (c == 1 && !args.n) mp_strv_push(&args, optarg);
        else {
            mp_strv_free(&args);
            if (c == 1) return cli_fail(CLI_USAGE, "usage: mlplane apply -f FILE|DIR|- [-f ...]");
            return cli_fail(CLI_USAGE, "apply: unknown option %s (see mlplane apply --help)", argv[optind - 1]);
        }
    }
    if (!args.n || optind < argc) {
        mp_strv_free(&args);
        return cli_fail(CLI_USAGE, "usage: mlplane apply -f FILE|DIR|- [-f ...]");
    }
    mp_strv paths = {0};
    int status = CLI_OK;
    size_t nstdin = 0;
    for (size_t i = 0; status == CLI_OK && i < args.n; i++) {
        status = collect(args.v[i], &paths);
        nstdin += strcmp(args.v[i], "-") == 0;
    }
    if (status == CLI_OK && nstdin > 1) status = cli_fail(CLI_USAGE, "apply: -f - (standard input) can be given once");
    /* what "nothing to apply in ..." names: the -f arguments */
    mp_buf what;
    mp_buf_init(&what);
    for (size_t i = 0; i < args.n; i++)
        mp_buf_printf(&what, "%s%s", i ? ", " : "", strcmp(args.v[i], "-") == 0 ? "<stdin>" : args.v[i]);
    apply_src *srcs = mp_xcalloc(paths.n + 1, sizeof *srcs);
    size_t bad = 0;
    for (size_t i = 0; status == CLI_OK && i < paths.n; i++) {
        /* every file is checked, so that all their errors are printed at once */
        if (load_src(paths.v[i], &srcs[i], paths.n > 1)) bad++;
    }
    if (status == CLI_OK && bad)
        status = paths.n > 1 ? cli_fail(CLI_USAGE, "%zu of %zu files are not valid; nothing was applied", bad, paths.n)
                             : CLI_USAGE;
    if (status == CLI_OK) {
        /* all at once: the home's store (or the server) checks and applies them in one transaction */
        if (home_flag) env->home_flag = home_flag;
        cli_apply_file *files = mp_xcalloc(paths.n, sizeof *files);
        mp_strv abs = {0};
        for (size_t i = 0; i < paths.n; i++) {
            char *a = strcmp(paths.v[i], "-") == 0 ? mp_xstrdup(srcs[i].name) : mp_path_abs(NULL, paths.v[i]);
            mp_strv_push(&abs, a);
            free(a);
            files[i] = (cli_apply_file){
                .path = abs.v[i], .name = srcs[i].name, .text = srcs[i].text, .len = srcs[i].len, .f = srcs[i].f};
        }
        status = env->backend->apply(env, files, paths.n, what.data);
        mp_strv_free(&abs);
        free(files);
    }
    for (size_t i = 0; i < paths.n; i++) {
        free(srcs[i].name);
        free(srcs[i].text);
        spec_file_free(srcs[i].f);
    }
    free(srcs);
    mp_strv_free(&paths);
    mp_strv_free(&args);
    mp_buf_free(&what);
    return status;
}
