/* cmd_k8s.c — `mlplane k8s render`: the Kubernetes objects of spec files
 * (src/k8s), printed as YAML documents or a JSON List, or written one file per
 * object under --out DIR. Nothing is printed or written when any object cannot
 * be rendered (exit 2, each problem at FILE:LINE:COL). Single-threaded. */
#include "cli/cli.h"
#include "k8s/k8s.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char render_help[] =
    "Usage: mlplane k8s render FILE... [-n NAMESPACE] [--image IMAGE] [--server URL] [--kueue]\n"
    "                          [--keda [--prometheus URL]] [--kserve] [-o yaml|json] [--out DIR]\n\n"
    "Writes the Kubernetes objects for every mlplane object in the files: a batch/v1 Job per\n"
    "pipeline step (a sweep's trials one each; a gang an Indexed Job with a headless Service),\n"
    "the ServiceAccount pods run as, a PriorityClass per PriorityClass, the scheduler's queues,\n"
    "and for a serving Deployment NAME a Deployment, Service, autoscaler and PodDisruptionBudget\n"
    "per version (NAME-vN) behind the router Deployment and Service NAME. The same input\n"
    "gives the same bytes, so the output can be committed and diffed. What renders to nothing\n"
    "is said on stderr.\n\n"
    "  -n, --namespace NS   namespace of every namespaced object (default: each object's own)\n"
    "  --image IMAGE        image of steps that name none, and of the launcher\n"
    "                       (default " K8S_DEFAULT_IMAGE ")\n"
    "  --server URL         how pods reach mlplane server (default " K8S_DEFAULT_SERVER ")\n"
    "  --kueue              Jobs with a queueName are created suspended with kueue.x-k8s.io/queue-name\n"
    "  --keda               serving: a KEDA ScaledObject per version instead of an HPA (scales to zero)\n"
    "  --prometheus URL     where the ScaledObjects query the router's metrics\n"
    "                       (default " K8S_DEFAULT_PROMETHEUS ")\n"
    "  --kserve             serving: a KServe InferenceService instead of the router and versions\n"
    "  -o yaml|json         YAML documents (default) or one JSON List\n"
    "  --out DIR            one file per object, DIR/KIND[-NAMESPACE]-NAME.yaml, instead of stdout\n";

static int write_out(json_t *objs, const char *dir, cli_out out) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return cli_fail(CLI_FAILED, "cannot create %s: %s", dir, strerror(errno));
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o) {
        char *name = k8s_object_file_name(o);
        char *path = mp_xasprintf("%s/%s", dir, name);
        char *text = cli_yaml_string(o);
        FILE *f = fopen(path, "w");
        int err = f ? 0 : errno;
        if (f) {
            fputs(out == OUT_JSON ? "" : text, f);
            if (out == OUT_JSON) {
                char *j = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputs(j, f);
                fputc('\n', f);
                free(j);
            }
            if (fclose(f) != 0) err = errno;
        }
        free(text);
        free(name);
        if (err) {
            int st = cli_fail(CLI_FAILED, "cannot write %s: %s", path, strerror(err));
            free(path);
            return st;
        }
        free(path);
    }
    return CLI_OK;
}

static int print_out(json_t *objs, cli_out out) {
    if (out == OUT_JSON) {
        json_t *list = json_object();
        json_object_set_new(list, "apiVersion", json_string("v1"));
        json_object_set_new(list, "kind", json_string("List"));
        json_object_set(list, "items", objs);
        char *j = json_dumps(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputs(j, stdout);
        fputc('\n', stdout);
        free(j);
        json_decref(list);
        return CLI_OK;
    }
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o) {
        char *text = cli_yaml_string(o);
        fputs("---\n", stdout);
        fputs(text, stdout);
        free(text);
    }
    return CLI_OK;
}

static int render(const cli_env *env, int argc, char **argv) {
    static const struct option longs[] = {{"namespace", required_argument, 0, 'n'}, {"image", required_argument, 0, 'I'},
                                          {"server", required_argument, 0, 'S'},    {"kueue", no_argument, 0, 'K'},
                                          {"keda", no_argument, 0, 'D'},            {"kserve", no_argument, 0, 'V'},
                                          {"out", required_argument, 0, 'O'},      {"help", no_argument, 0, 'h'},
                                          {"prometheus", required_argument, 0, 'P'}, {0, 0, 0, 0}};
    /* main takes --server out of every command's arguments; only the flag counts
     * here ($MLPLANE_SERVER is where this machine's CLI talks, not the cluster's) */
    k8s_opts o = {.server = env->server_flag ? env->server : NULL};
    cli_out out = OUT_YAML;
    const char *dir = NULL;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "n:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!k8s_dns_label(optarg))
                return cli_fail(CLI_USAGE, "-n %s: a namespace is a DNS-1123 label (lower-case letters, digits, '-')", optarg);
            o.namespace_ = optarg;
            break;
        case 'I': o.image = optarg; break;
        case 'S': o.server = optarg; break;
        case 'K': o.kueue = true; break;
        case 'D': o.keda = true; break;
        case 'V': o.kserve = true; break;
        case 'P':
            if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)
                return cli_fail(CLI_USAGE, "--prometheus %s: expected an http:// or https:// URL", optarg);
            o.prometheus = optarg;
            break;
        case 'O': dir = optarg; break;
        case 'o':
            if (strcmp(optarg, "yaml") == 0) out = OUT_YAML;
            else if (strcmp(optarg, "json") == 0) out = OUT_JSON;
            else return cli_fail(CLI_USAGE, "-o expects yaml or json, got \"%s\"", optarg);
            break;
        case 'h': fputs(render_help, stdout); return CLI_OK;
        default:
            return cli_fail(CLI_USAGE, "unknown or incomplete option %s (see mlplane k8s render --help)", argv[optind - 1]);
        }
    }
    int nfiles = argc - optind;
    if (nfiles < 1) return cli_fail(CLI_USAGE, "k8s render needs at least one spec file");
    spec_file **files = mp_xcalloc((size_t)nfiles + 1, sizeof *files);
    int status = CLI_OK;
    spec_diags d = {0};
    for (int i = 0; i < nfiles; i++) {
        char *text = NULL;
        size_t len = 0;
        if (cli_read_spec(argv[optind + i], &text, &len) != 0) {
            status = CLI_USAGE;
            continue;
        }
        char *pdir = mp_path_dir(argv[optind + i]);
        if (spec_load_string(argv[optind + i], pdir, text, len, &files[i], &d) != 0) status = CLI_USAGE;
        free(pdir);
        free(text);
    }
    json_t *objs = NULL;
    k8s_notes notes = {0};
    if (status == CLI_OK && k8s_render((const spec_file *const *)files, (size_t)nfiles, &o, &objs, &notes, &d) != 0)
        status = CLI_USAGE;
    if (d.n) {
        mp_buf b;
        mp_buf_init(&b);
        spec_diags_format(&d, &b);
        fputs(b.data, stderr);
        mp_buf_free(&b);
    }
    if (status == CLI_USAGE && (d.n || objs == NULL)) fputs("mlplane: nothing was rendered\n", stderr);
    for (size_t i = 0; i < notes.n; i++) fprintf(stderr, "%s\n", notes.v[i]);
    if (status == CLI_OK) status = dir ? write_out(objs, dir, out) : print_out(objs, out);
    json_decref(objs);
    k8s_notes_free(&notes);
    spec_diags_free(&d);
    for (int i = 0; i < nfiles; i++) spec_file_free(files[i]);
    free(files);
    return status;
}

int cmd_k8s(cli_env *env, int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(render_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "render") == 0) return render(env, argc - 1, argv + 1);
    return cli_fail(CLI_USAGE, "unknown k8s command \"%s\" (expected: render)", argv[1]);
}
