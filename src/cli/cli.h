/* cli.h — internals of the mlplane command (not a public API).
 * main.c holds the command table and global flags; backend.c the two backends
 * commands call through (the home, or a server: remote.c, remote_deploy.c,
 * remote_inputs.c, remote_track.c, sharing remote_int.h); cmd_run.c run, resume
 * and cancel (with the live view); cmd_get.c get, describe and logs, with
 * get_list.c (selectors, --limit, --watch, -o name) and jsonpath.c; cmd_apply.c
 * apply; cmd_cluster.c delete and the scheduler objects' lists; cmd_nodes.c get
 * nodes; cmd_rollout.c rollout; cmd_models.c models; cmd_delete_run.c delete
 * run; cmd_sched.c sched simulate and get queue; cmd_k8s.c k8s render;
 * cmd_drift.c drift; cmd_misc.c validate and version; cmd_server.c the HTTP server; cmd_audit.c the audit log; cmd_serve.c
 * model serving; output.c table/json/yaml printing. */
#ifndef MLPLANE_CLI_H
#define MLPLANE_CLI_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "api/api.h"
#include "exec/exec.h"
#include "engine/engine.h"
#include "spec/spec.h"
#include "store/store.h"
#include "util/util.h"

/* Exit statuses. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

typedef struct cli_backend cli_backend;

typedef struct cli_env {
    const char *home_flag; /* --home given before the command (or after it: the command sets it), or NULL */
    const char *prog;      /* "mlplane" */
    const char *server;    /* --server URL or $MLPLANE_SERVER: talk to that server, else NULL (embedded) */
    bool server_flag;      /* server came from --server on the command line, not from $MLPLANE_SERVER */
    const char *cacert;    /* --cacert FILE or $MLPLANE_CACERT: the CA that verifies an https server, else NULL */
    const cli_backend *backend; /* where commands read and change things: cli_backend_local or cli_backend_remote */
} cli_env;

typedef int (*cli_fn)(cli_env *env, int argc, char **argv);

typedef struct cli_command {
    const char *name;
    cli_fn fn;
    const char *usage; /* one line: arguments */
    const char *help;  /* one line: what it does */
} cli_command;

/* Prints "mlplane: message" to stderr. Returns status. */
int cli_fail(int status, const char *fmt, ...) MP_PRINTF(2, 3);
/* Maps an mp_err code to an exit status and prints its message. */
int cli_fail_err(const mp_err *e);
/* The servers' way to stop (serve, route, server): block SIGTERM, SIGINT and
 * SIGHUP in the calling thread into *set, before any thread starts, so every
 * thread inherits the mask and no handler runs anywhere; then, once serving,
 * cli_wait_stop_signal(set) returns the first of them that arrives. */
void cli_block_stop_signals(sigset_t *set);
int cli_wait_stop_signal(const sigset_t *set);
/* Reads spec file path into *text (heap, NUL-terminated) and *len; when it
 * cannot, prints "PATH:1:1: cannot read: REASON" (as validate does) and
 * returns CLI_USAGE. */
int cli_read_spec(const char *path, char **text, size_t *len);

/* Opens the home's store (honours --home, MLPLANE_HOME). *home is a heap string;
 * on failure (the reason printed) *home is NULL and nothing needs freeing. */
int cli_open_store(cli_env *env, const char *home_flag, char **home, store **st);
/* The same for a command that only reads (or changes what must already be
 * there): a home that does not exist is an error, and nothing is created. */
int cli_open_store_existing(cli_env *env, const char *home_flag, char **home, store **st);

/* Parses flag's value v as a whole number in [lo, hi] into *out: 0, or CLI_USAGE
 * with the reason printed. */
int cli_parse_int(const char *flag, const char *v, int lo, int hi, int *out);

/* The options every HTTP server command takes, as getopt_long entries:
 * --listen, --threads, --max-body, --timeout, --drain, -v/--verbose. */
#define CLI_HTTPD_LONGOPTS                                                                                   \
    {"listen", required_argument, 0, 'l'}, {"threads", required_argument, 0, 't'},                         \
        {"max-body", required_argument, 0, 'b'}, {"timeout", required_argument, 0, 'T'},                   \
        {"drain", required_argument, 0, 'D'}, {"verbose", no_argument, 0, 'v'}
/* Applies option c of CLI_HTTPD_LONGOPTS with its argument arg to o: 0, CLI_USAGE
 * with the reason printed, or -1 when c is not one of them. */
int cli_httpd_option(int c, const char *arg, mp_httpd_opts *o);

/* Output formats for get commands. */
typedef enum { OUT_TABLE, OUT_JSON, OUT_YAML } cli_out;
int cli_parse_out(const char *s, cli_out *out);
/* The string at key k of object o, or def when absent or not a string. */
const char *cli_jstr(json_t *o, const char *k, const char *def);
/* describe run's "last log lines:" block of a failed step, from its "log_tail" array (nothing when NULL). */
void cli_print_log_tail(json_t *tail);
/* Prints a JSON value as indented JSON or as block YAML. */
int cli_print_json(json_t *v, cli_out fmt);
/* v as block YAML (heap, ends in a newline; no leading "---"). */
char *cli_yaml_string(json_t *v);

/* A simple left-aligned table. */
typedef struct cli_table {
    size_t ncols;
    size_t nrows;
    char **cells; /* nrows * ncols, row-major; row 0 is the header */
    size_t cap;
} cli_table;
void cli_table_init(cli_table *t, size_t ncols, const char *const *header);
void cli_table_add(cli_table *t, const char *const *row);
void cli_table_print(const cli_table *t, FILE *f);
void cli_table_free(cli_table *t);

/* Resource amounts as people read them: millicores as cores ("4", "0.5"), bytes
 * as "1.5Gi", "512.0Mi" or a plain number. */
void cli_fmt_cpu(int64_t milli, char *out, size_t n);
void cli_fmt_mem(int64_t bytes, char *out, size_t n);
/* How long ago ms (wall clock) was, as kubectl's AGE: "45s", "12m", "5h", "3d"; "-" when 0. */
void cli_fmt_age(int64_t ms, char *out, size_t n);
/* The last max (0: all) of v's "events" ([{type, message, count, firstMs, lastMs}]) as
 * kubectl describe's Events table; nothing when v has no "events". */
void cli_print_events(json_t *v, size_t max);

/* JSON views of store records (new references). */
json_t *cli_run_json(const store_run *r, const store_step *steps, size_t n);
json_t *cli_step_json(const store_step *s, const store_metric *m, size_t nm);
/* A run's state as shown to users: its stored state, or "Interrupted" for a
 * run no live process drives. */
const char *cli_run_state_shown(const store_run *r);

int cmd_run(cli_env *env, int argc, char **argv);
int cmd_resume(cli_env *env, int argc, char **argv);
int cmd_cancel(cli_env *env, int argc, char **argv);
int cmd_get(cli_env *env, int argc, char **argv);
int cmd_describe(cli_env *env, int argc, char **argv);
int cmd_logs(cli_env *env, int argc, char **argv);
int cmd_validate(cli_env *env, int argc, char **argv);
int cmd_version(cli_env *env, int argc, char **argv);
int cmd_data(cli_env *env, int argc, char **argv);
/* `mlplane data validate ...` (cmd_data_validate.c); argv[0] is "validate". */
int cli_data_validate(int argc, char **argv);
extern const char CLI_DATA_VALIDATE_USAGE[];
int cmd_xgb(cli_env *env, int argc, char **argv);

int cmd_server(cli_env *env, int argc, char **argv);
/* `mlplane audit verify|log|keygen` (cmd_audit.c). */
int cmd_audit(cli_env *env, int argc, char **argv);
/* token create|list|revoke and user create|set-password|delete|list (cmd_token.c). */
int cmd_token(cli_env *env, int argc, char **argv);
/* The token to send a server into out ("" when none): $MLPLANE_TOKEN, else the
 * credentials file's (credentials.c); CLI_USAGE, printed, for a file readable by others. */
int cli_credentials_token(char *out, size_t n);
int cmd_user(cli_env *env, int argc, char **argv);
int cmd_route(cli_env *env, int argc, char **argv);
int cmd_serve(cli_env *env, int argc, char **argv);
int cmd_models(cli_env *env, int argc, char **argv);
int cmd_sched(cli_env *env, int argc, char **argv);
/* `mlplane launch` (cmd_launch.c). */
int cmd_launch(cli_env *env, int argc, char **argv);
/* `mlplane k8s render` (cmd_k8s.c). */
int cmd_k8s(cli_env *env, int argc, char **argv);
/* `mlplane drift` (cmd_drift.c): 0 no drift, 1 drift, 2 bad input or usage. */
int cmd_drift(cli_env *env, int argc, char **argv);
/* `mlplane monitor check NAME`, `get monitors`, `describe monitor NAME` on the home (cmd_monitor.c). */
int cmd_monitor(cli_env *env, int argc, char **argv);
int cmd_lineage(cli_env *env, int argc, char **argv); /* cmd_lineage.c */
int cmd_gc(cli_env *env, int argc, char **argv);      /* cmd_gc.c */
/* get retentionpolicies: the applied RetentionPolicies (cmd_gc.c). */
int cli_get_retention(cli_env *env, cli_out out);
int cli_get_monitors(cli_env *env, const char *home_flag, cli_out out);
/* `get secrets`, `describe secret [NS/]NAME` (key names and sizes, never values) and
 * `secrets rotate-key` on the home (cmd_secrets.c). */
int cli_get_secrets(cli_env *env, const char *home_flag, cli_out out);
int cli_describe_secret(cli_env *env, const char *home_flag, const char *ref, cli_out out);
int cmd_secrets(cli_env *env, int argc, char **argv);
int cli_describe_monitor(cli_env *env, const char *home_flag, const char *name, cli_out out);
/* `get queue`: steps of live runs that wait, with why (cmd_sched.c). */
int cli_get_queue(cli_env *env, const char *home_flag, cli_out out);
/* get clusterqueues|localqueues|priorityclasses|resourceflavors (cmd_cluster.c). */
int cli_get_objects(cli_env *env, const char *home_flag, const char *what, cli_out out);
int cmd_apply(cli_env *env, int argc, char **argv);
/* rollout status|promote|rollback (cmd_rollout.c). */
int cmd_rollout(cli_env *env, int argc, char **argv);
/* `get deployments`: applied Deployments, live when they run (cmd_rollout.c). */
int cli_get_deployments(cli_env *env, const char *home_flag, cli_out out);
/* The printing shared by the embedded and --server forms (cmd_rollout.c): a
 * deployment's status as a table, what a promote/rollback did (an exit status),
 * and the deployments' table or JSON/YAML. */
void cli_print_rollout_status(json_t *v);
int cli_print_rollout_set(const char *name, const char *canary, int was, int percent, bool running, bool told,
                          const char *why);
int cli_print_deployments(json_t *all, cli_out out);
/* describe deployment NAME on the home (cmd_rollout.c), and its table (through --server too). */
int cli_describe_deployment(cli_env *env, const char *home_flag, const char *name, cli_out out);
void cli_print_deployment_describe(json_t *v);
int cmd_delete(cli_env *env, int argc, char **argv);
/* delete run RUN [--force] on the home (cmd_delete_run.c). */
int cli_delete_run(cli_env *env, const char *home_flag, const char *run, bool force);
/* `get experiments`: MLflow experiments of the embedded store. */
int cli_get_experiments(cli_env *env, const char *home_flag, cli_out out);
/* `get nodes` (cmd_nodes.c): this machine's capacity (GPUs included) and what running steps requested. */
int cli_get_nodes(cli_env *env, const char *home_flag, cli_out out);
/* The printing shared by the embedded and --server forms, from JSON: nodes as
 * api_nodes_json makes them (cmd_nodes.c); experiments, registered models (found:
 * as a search returns them, printed by -o json|yaml; full: each with its latest
 * versions and aliases, for the table) and one model with its versions, in
 * MLflow's shapes (cmd_models.c). Each returns an exit status. */
int cli_print_nodes(json_t *arr, cli_out out);
int cli_print_experiments(json_t *arr, cli_out out);
int cli_print_models(json_t *found, json_t *full, cli_out out);
int cli_print_model(json_t *model, json_t *versions, cli_out out);

/* ---- where commands act: the home or a server (backend.c) --------------------------
 * One table of operations with two implementations, chosen once in main.c:
 * cli_backend_local works on the home (the store, the log files, this machine's
 * processes), cli_backend_remote through `mlplane server` (remote*.c). Commands
 * parse their arguments, then call env->backend->X; a slot that is NULL is an
 * operation the backend cannot do (cli_not_remote says so). Every operation
 * prints what it shows and returns an exit status, its errors printed. The home
 * is env->home_flag (a command's own --home is stored there first). */
typedef struct cli_apply_file cli_apply_file;
struct cli_backend {
    const char *name; /* "local" or "remote" */
    int (*run)(cli_env *env, const char *spec_path, const mp_strv *params, bool detach, int parallel);
    int (*resume)(cli_env *env, const char *run);
    int (*cancel)(cli_env *env, const char *run);
    int (*get_runs)(cli_env *env, cli_out out);
    /* what: "steps" or "metrics" */
    int (*get_run_items)(cli_env *env, const char *what, const char *run, cli_out out);
    int (*get_experiments)(cli_env *env, cli_out out);
    int (*get_nodes)(cli_env *env, cli_out out);
    int (*get_deployments)(cli_env *env, cli_out out);
    int (*get_queue)(cli_env *env, cli_out out);
    /* what: clusterqueues|localqueues|priorityclasses|resourceflavors */
    int (*get_objects)(cli_env *env, const char *what, cli_out out);
    int (*describe_run)(cli_env *env, const char *run, cli_out out);
    int (*describe_deployment)(cli_env *env, const char *name, cli_out out);
    /* models list (name NULL), models get NAME, or describe model NAME (describe: with every version's details) */
    int (*models)(cli_env *env, const char *name, bool describe, cli_out out);
    /* tail: only the last tail lines of each log (then follow), or all when negative */
    int (*logs)(cli_env *env, const char *run, const char *step, bool follow, int tail);
    int (*delete_run)(cli_env *env, const char *run, bool force);
    /* kind: as sched_object_kind_find returns it; ns: a LocalQueue's namespace, NULL for "default" */
    int (*delete_object)(cli_env *env, const char *kind, const char *name, const char *ns);
    int (*apply)(cli_env *env, const cli_apply_file *files, size_t n, const char *what);
    /* rollout status (percent < 0) or promote/rollback to percent */
    int (*rollout)(cli_env *env, const char *name, int percent, cli_out out);
    /* validate: checks the steps' priorityClassName and queueName of the loaded files
     * (f[i] NULL: did not load) against what is applied, into d[i] */
    int (*validate_names)(cli_env *env, spec_file *const *f, size_t n, spec_diags *d);
};
extern const cli_backend cli_backend_local, cli_backend_remote;
/* What a command says when env's backend cannot do it (its slot is NULL): "WHAT
 * works on the home directly, not through --server ...". Returns CLI_USAGE. */
int cli_not_remote(cli_env *env, const char *what);

/* The local implementations (the cmd_*.c files), as cli_backend_local holds them. */
int cli_local_run(cli_env *env, const char *spec_path, const mp_strv *params, bool detach, int parallel);
int cli_local_resume(cli_env *env, const char *run);
int cli_local_cancel(cli_env *env, const char *run);
int cli_local_get_runs(cli_env *env, cli_out out);
int cli_local_get_run_items(cli_env *env, const char *what, const char *run, cli_out out);
int cli_local_describe_run(cli_env *env, const char *run, cli_out out);
int cli_local_models(cli_env *env, const char *name, bool describe, cli_out out);
int cli_local_logs(cli_env *env, const char *run, const char *step, bool follow, int tail);
int cli_local_delete_object(cli_env *env, const char *kind, const char *name, const char *ns);
int cli_local_apply(cli_env *env, const cli_apply_file *files, size_t n, const char *what);
int cli_local_rollout(cli_env *env, const char *name, int percent, cli_out out);
int cli_local_validate_names(cli_env *env, spec_file *const *f, size_t n, spec_diags *d);

/* ---- the client side of `--server URL` (remote.c, remote_deploy.c, remote_track.c) ----
 * Each returns an exit status, its errors already printed; an unreachable server
 * is one sentence and status 1. */
int remote_run(cli_env *env, const char *spec_path, const mp_strv *params, bool detach, int parallel);
int remote_get_runs(cli_env *env, cli_out out);
/* apply of files through one POST /api/v1/apply, all or nothing: each file's
 * path is what the server is told (an absolute path or "<stdin>"), name what
 * messages say; what names them all in "nothing to apply in WHAT". */
struct cli_apply_file {
    const char *path;
    const char *name;
    const char *text;
    size_t len;
    const spec_file *f; /* the file loaded (what the local apply stores) */
};
int remote_apply(cli_env *env, const cli_apply_file *files, size_t n, const char *what);
/* rollout status (percent < 0) or promote/rollback to percent of deployment name. */
int remote_rollout(cli_env *env, const char *name, int percent, cli_out out);
/* delete KIND NAME through DELETE /api/v1/objects/KIND/NAME[?namespace=NS] (ns NULL: none, the server's default). */
int remote_delete(cli_env *env, const char *kind, const char *name, const char *ns);
/* get deployments through GET /api/v1/deployments. */
int remote_get_deployments(cli_env *env, cli_out out);
/* describe deployment NAME through GET /api/v1/deployments/NAME (with its events). */
int remote_describe_deployment(cli_env *env, const char *name, cli_out out);
/* what: "steps" or "metrics". */
int remote_get_run_items(cli_env *env, const char *what, const char *run, cli_out out);
int remote_describe(cli_env *env, const char *run, cli_out out);
/* tail: print only the last tail lines of each log (then follow), or all when negative. */
int remote_logs(cli_env *env, const char *run, const char *step, bool follow, int tail);
int remote_cancel(cli_env *env, const char *run);
/* delete run RUN through DELETE /api/v1/runs/ID[?force=true]. */
int remote_delete_run(cli_env *env, const char *run, bool force);
/* serve models:/NAME/VERSION|latest|@ALIAS --server: the version's model as
 * JSON from GET /api/v1/models/... into DIR/model.json (DIR made when missing);
 * *path, *name and *version (heap) say what was written and which version it
 * is (remote_models.c). */
int remote_model_fetch(cli_env *env, const char *ref, const char *dir, char **path, char **name, char **version);
/* get nodes through GET /api/v1/nodes (remote_track.c). */
int remote_get_nodes(cli_env *env, cli_out out);
/* get experiments through MLflow's experiments/search (remote_track.c). */
int remote_get_experiments(cli_env *env, cli_out out);
/* models list (name NULL) or models get NAME through MLflow's registry API (remote_track.c). */
int remote_models(cli_env *env, const char *name, cli_out out);

/* ---- get's list options (get_list.c, jsonpath.c) ------------------------------
 * Capture: while set, cli_print_json keeps (a reference to) the value and
 * cli_table_print a copy of the table, printing nothing. cli_capture_set(NULL)
 * stops; the caller frees json and table. */
typedef struct cli_capture {
    json_t *json;
    cli_table table;
    bool has_table;
    mp_buf after; /* what the kind prints after its table (cli_print_after_table), kept to print after the rows */
    bool pass_through; /* set before cli_capture_set: print as usual, but an empty table says "No resources found." */
} cli_capture;
void cli_capture_set(cli_capture *c);
/* Lines a kind prints after its table (notes such as get nodes' GPUs): on
 * stdout, or, while captured, kept in the capture's after. */
void cli_print_after_table(const char *text);

/* What `get KIND` was asked besides the kind. */
typedef struct cli_list_opts {
    cli_out out;          /* table, json or yaml (also json under -o name|jsonpath) */
    bool name;            /* -o name */
    const char *jsonpath; /* -o jsonpath=TEMPLATE, or NULL */
    const char *selector; /* -l SELECTOR, or NULL */
    int limit;            /* --limit N, 0 = all */
    bool watch;           /* -w */
    bool show_labels;     /* --show-labels: a LABELS column at the end of the table */
} cli_list_opts;
/* Fetches the kind's list once in format out (through the capture). */
typedef int (*cli_list_fetch)(cli_env *env, void *ctx, cli_out out);
/* Parses the -o value s into o (table|wide|json|yaml|name|jsonpath=...). */
int cli_list_parse_out(const char *s, cli_list_opts *o);
/* Lists kind (its singular name, for -o name) with o's selector, limit, format and watch. */
int cli_list_run(cli_env *env, const char *kind, const cli_list_opts *o, cli_list_fetch fetch, void *ctx);
/* A parsed jsonpath template; cli_jsonpath_parse returns NULL with the reason
 * (its 1-based column) in err. */
typedef struct cli_jsonpath cli_jsonpath;
cli_jsonpath *cli_jsonpath_parse(const char *tmpl, char *err, size_t errn);
/* Appends the template's text over root to out. */
void cli_jsonpath_eval(const cli_jsonpath *jp, json_t *root, mp_buf *out);
void cli_jsonpath_free(cli_jsonpath *jp);
/* Where the last n lines of data (len bytes) begin: an offset into data (len when n is 0).
 * A final newline ends the last line; it does not start an empty one. */
size_t cli_tail_start(const char *data, size_t len, int n);
/* Takes --tail N / --tail=N out of argv (up to "--"): *tail is N, or -1 when absent.
 * Returns the new argc, or -1 with the reason printed when N is not a whole number >= 0. */
int cli_take_tail(int argc, char **argv, int *tail);

/* Colour: off after cli_set_no_color() (--no-color), when $NO_COLOR is set and not
 * empty, or when stdout is not a terminal. */
void cli_set_no_color(void);
bool cli_color(void);

/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

#endif
