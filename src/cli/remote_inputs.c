/* remote_inputs.c — the local inputs of a run submitted to a server: found in the
 * spec, hashed, sent once, and described in the submit request so the server
 * lays them out around the spec as they are here (see api/uploads.c).
 *
 * Local inputs are what the spec names relative to its own folder: each step's
 * `inputs[].path` (a file or a directory) and `workingDir` (the folder a step's
 * scripts run from, sent whole but for .git folders), once `{{params.X}}` is
 * rendered with the run's params. Paths built from `{{steps...}}`, `{{run...}}`
 * and absolute paths are the server's, and left to it. A local input that does
 * not exist is an error here, before anything is sent, at its place in the spec.
 *
 * The files go in a tree rooted at the deepest folder holding the spec's folder
 * and every input (so `../data/x.csv` keeps its place). Each file is named by its
 * SHA-256 (libsodium): the client asks the server which hashes it lacks and
 * sends only those, so an unchanged file is sent once. Each step input (a file
 * or a folder) is also recorded by its tree hash, the step cache's hash of it
 * (mp_hash_path), as a manifest naming those blobs (exec_tree_manifest, at
 * mlplane/trees/HE/HEX.json in the server's artifact store): the name the
 * pods of `mlplane k8s render` fetch it by (their launcher, src/exec/launch.c).
 *
 * Single-threaded. */
#include "cli/remote_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_DEPTH = 64, MAX_FILES = 100000 };

typedef struct lookup_ud {
    const spec_kv *kv;
    size_t n;
} lookup_ud;

/* Only params are known before the run exists: anything else leaves the path to the server. */
static const char *lookup(void *ud, const char *ref) {
    const lookup_ud *l = ud;
    if (!mp_str_starts(ref, "params.")) return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->kv[i].key, ref + 7) == 0) return l->kv[i].value;
    return NULL;
}

/* The deepest folder holding both a (a folder) and b (absolute, cleaned): heap. */
static char *common_dir(const char *a, const char *b) {
    size_t i = 0, slash = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '/') slash = i;
        i++;
    }
    if (!a[i] && (!b[i] || b[i] == '/')) return mp_xstrdup(a);
    return slash == 0 ? mp_xstrdup("/") : mp_xstrndup(a, slash);
}

/* p relative to root (p lies inside root): borrowed, "" for root itself. */
static const char *rel_to(const char *root, const char *p) {
    if (strcmp(root, "/") == 0) return p + 1;
    size_t l = strlen(root);
    return p[l] == '/' ? p + l + 1 : p + l;
}

static int sha256_file(const char *path, char hex[65], mp_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return mp_err_set(e, MP_EIO, "cannot read %s: %s", path, strerror(errno));
    mp_hash h;
    mp_hash_init(&h);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) mp_hash_bytes(&h, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return mp_err_set(e, MP_EIO, "cannot read %s", path);
    mp_hash_final_hex(&h, hex);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the file or tree at abs (rel in the tree) to in. */
static int walk(remote_inputs *in, json_t *seen, const char *abs, const char *rel, bool skip_git, int depth, mp_err *e) {
    struct stat sb;
    if (stat(abs, &sb) != 0) return mp_err_set(e, MP_EIO, "cannot read %s: %s", abs, strerror(errno));
    if (S_ISREG(sb.st_mode)) {
        if (json_object_get(seen, rel)) return 0;
        if (in->local.n >= MAX_FILES)
            return mp_err_set(e, MP_EINVAL, "more than %d local files to send; name the folders a step reads", MAX_FILES);
        char hex[65];
        if (sha256_file(abs, hex, e) != 0) return MP_EIO;
        json_object_set_new(seen, rel, json_true());
        json_array_append_new(in->files, json_pack("{s:s,s:s,s:I,s:b}", "path", rel, "sha256", hex, "size",
                                                   (json_int_t)sb.st_size, "executable", (sb.st_mode & S_IXUSR) != 0));
        mp_strv_push(&in->local, abs);
        return 0;
    }
    if (!S_ISDIR(sb.st_mode)) return 0; /* sockets, fifos, devices: nothing to send */
    if (depth > MAX_DEPTH) return mp_err_set(e, MP_EINVAL, "%s is nested more than %d folders deep (a link loop?)", abs, MAX_DEPTH);
    if (*rel) {
        char *key = mp_xasprintf("%s/", rel);
        if (!json_object_get(seen, key)) json_array_append_new(in->dirs, json_string(rel));
        json_object_set_new(seen, key, json_true());
        free(key);
    }
    DIR *d = opendir(abs);
    if (!d) return mp_err_set(e, MP_EIO, "cannot list %s: %s", abs, strerror(errno));
    mp_strv names = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (skip_git && strcmp(de->d_name, ".git") == 0) continue;
        mp_strv_push(&names, de->d_name);
    }
    closedir(d);
    if (names.n) qsort(names.v, names.n, sizeof *names.v, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        char *a = mp_xasprintf("%s/%s", abs, names.v[i]);
        char *r = *rel ? mp_xasprintf("%s/%s", rel, names.v[i]) : mp_xstrdup(names.v[i]);
        rc = walk(in, seen, a, r, skip_git, depth + 1, e);
        free(a);
        free(r);
    }
    mp_strv_free(&names);
    return rc;
}

typedef struct item {
    char *abs;
    bool skip_git;
} item;

/* A local path the spec names: its absolute path, or NULL when it is the server's
 * (built from something else than params, or absolute). */
static char *local_path(const spec_file *f, const char *tmpl, const lookup_ud *l) {
    char *r = NULL;
    if (spec_render(tmpl, lookup, (void *)l, &r, NULL) != 0) return NULL;
    char *abs = r[0] == '/' || !r[0] ? NULL : mp_path_abs(f->dir, r);
    free(r);
    return abs;
}

static void add_item(item **v, size_t *n, char *abs, bool skip_git) {
    *v = realloc(*v, (*n + 1) * sizeof **v);
    if (!*v) abort();
    (*v)[(*n)++] = (item){abs, skip_git};
}

/* Finds the local inputs of p; missing ones become diagnostics in d. */
static void find_items(const spec_file *f, const spec_pipeline *p, const lookup_ud *l, item **v, size_t *n, spec_diags *d) {
    for (size_t i = 0; i < p->nsteps; i++) {
        const spec_step *s = &p->steps[i];
        for (size_t j = 0; j < s->ninputs; j++) {
            char *abs = local_path(f, s->inputs[j].path, l);
            if (!abs) continue;
            if (!mp_path_exists(abs)) {
                spec_diag_add(d, f->path, s->inputs[j].pos,
                              "spec.steps[%zu].inputs[%zu].path: input \"%s\" not found: %s (no file or folder %s); a run "
                              "submitted to a server takes its local inputs along, so they must exist here",
                              i, j, s->inputs[j].name, s->inputs[j].path, abs);
                free(abs);
                continue;
            }
            add_item(v, n, abs, false);
        }
        if (s->working_dir) {
            char *abs = local_path(f, s->working_dir, l);
            if (!abs) continue;
            if (!mp_is_dir(abs)) {
                spec_diag_add(d, f->path, s->pos,
                              "spec.steps[%zu].workingDir: folder not found: %s (no folder %s); a run submitted to a "
                              "server takes the folder its step runs in along, so it must exist here",
                              i, s->working_dir, abs);
                free(abs);
                continue;
            }
            add_item(v, n, abs, true);
        }
    }
}

int remote__inputs_collect(const char *spec_path, const mp_strv *params, remote_inputs *in) {
    memset(in, 0, sizeof *in);
    in->files = json_array();
    in->dirs = json_array();
    spec_file *f = NULL;
    spec_diags d = {0};
    /* An invalid spec or params: the server says what is wrong, as it does today. */
    if (spec_load_file(spec_path, &f, &d) != 0 || !spec_file_pipeline(f)) {
        spec_diags_free(&d);
        spec_file_free(f);
        return 0;
    }
    const spec_pipeline *p = spec_file_pipeline(f);
    spec_kv *kv = NULL;
    if (spec_resolve_params(p, (const char *const *)params->v, params->n, &kv, NULL) != 0) {
        spec_file_free(f);
        return 0;
    }
    lookup_ud l = {kv, p->nparams};
    item *items = NULL;
    size_t n = 0;
    find_items(f, p, &l, &items, &n, &d);
    int status = 0;
    if (d.n) {
        mp_buf b;
        mp_buf_init(&b);
        spec_diags_format(&d, &b);
        fputs(b.data, stderr);
        mp_buf_free(&b);
        status = cli_fail(CLI_USAGE, "%s: %zu local input%s missing; nothing was submitted", spec_path, d.n,
                          d.n == 1 ? " is" : "s are");
    }
    char *root = mp_xstrdup(f->dir);
    for (size_t i = 0; i < n; i++) {
        char *c = common_dir(root, items[i].abs);
        free(root);
        root = c;
    }
    json_t *seen = json_object();
    mp_err e = {0};
    for (size_t i = 0; i < n && status == 0; i++)
        if (walk(in, seen, items[i].abs, rel_to(root, items[i].abs), items[i].skip_git, 0, &e) != 0)
            status = cli_fail(e.code == MP_EINVAL ? CLI_USAGE : CLI_FAILED, "%s: %s; nothing was submitted", spec_path, e.msg);
    for (size_t i = 0; i < n && status == 0; i++) {
        bool dup = items[i].skip_git;
        for (size_t j = 0; j < in->trees.n && !dup; j++) dup = strcmp(in->trees.v[j], items[i].abs) == 0;
        if (!dup) mp_strv_push(&in->trees, items[i].abs);
    }
    in->spec_dir = mp_xstrdup(rel_to(root, f->dir));
    json_decref(seen);
    free(root);
    for (size_t i = 0; i < n; i++) free(items[i].abs);
    free(items);
    spec_kv_array_free(kv, p->nparams);
    spec_diags_free(&d);
    spec_file_free(f);
    return status;
}

/* "512 B", "117.1 KiB", "2.0 GiB". */
static void fmt_bytes(int64_t n, char *out, size_t len) {
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) {
        snprintf(out, len, "%lld B", (long long)n);
        return;
    }
    double v = (double)n / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(out, len, "%.1f %s", v, unit[u]);
}

/* Files larger than this are sent in chunks of this size and assembled by the
 * server (POST /api/v1/uploads/assemble), so that no request body is larger
 * than a server's --max-body allows (64 MiB by default, at least 4 MiB kept
 * free for this) and neither side holds a whole file in memory. */
enum { UPLOAD_CHUNK = 4 << 20 };

/* Reads up to n bytes of f into buf; the count, or -1 on a read error. */
static ssize_t read_chunk(FILE *f, unsigned char *buf, size_t n) {
    size_t got = fread(buf, 1, n, f);
    return ferror(f) ? -1 : (ssize_t)got;
}

/* POSTs req (borrowed) as JSON to path; 0 with *y filled, or an exit status. */
static int post_json(remote *r, const char *path, const json_t *req, reply *y) {
    char *body = json_dumps(req, JSON_COMPACT);
    int status = remote__call(r, "POST", path, body, y);
    free(body);
    return status;
}

/* Asks the server which of hashes (borrowed, a list of hex digests) it lacks:
 * 0 with *missing a new object whose keys are those digests, or an exit status. */
static int ask_missing(remote *r, json_t *hashes, json_t **missing) {
    *missing = NULL;
    json_t *req = json_pack("{s:O}", "sha256", hashes);
    reply y;
    int status = post_json(r, "/api/v1/uploads/missing", req, &y);
    json_decref(req);
    if (status) return status;
    json_t *list = json_object_get(y.json, "missing");
    if (y.status != 200) status = remote__fail_reply(&y);
    else if (!json_is_array(list))
        status = cli_fail(CLI_FAILED, "the server at %s sent an answer mlplane does not understand", r->server);
    else {
        *missing = json_object();
        size_t i;
        json_t *h;
        json_array_foreach(list, i, h)
            if (json_is_string(h)) json_object_set_new(*missing, json_string_value(h), json_true());
    }
    remote__reply_free(&y);
    return status;
}

/* The exit status for a server that refused local: 2 for a 400, else 1, with its message. */
static int send_refused(const char *local, const reply *y) {
    const char *msg = json_string_value(json_object_get(y->json, "message"));
    return cli_fail(y->status == 400 ? CLI_USAGE : CLI_FAILED, "cannot send %s: %s", local,
                    msg ? msg : "the server refused it");
}

/* Sends the file local (SHA-256 hex) in chunks: their digests first, then the
 * chunks the server lacks, then the request that joins them. */
static int send_chunked(remote *r, const char *local, const char *hex) {
    FILE *f = fopen(local, "rb");
    if (!f) return cli_fail(CLI_FAILED, "cannot read %s: %s", local, strerror(errno));
    unsigned char *buf = mp_xmalloc(UPLOAD_CHUNK);
    json_t *chunks = json_array();
    int status = 0;
    for (;;) {
        ssize_t n = read_chunk(f, buf, UPLOAD_CHUNK);
        if (n < 0) status = cli_fail(CLI_FAILED, "cannot read %s: %s", local, strerror(errno));
        if (n <= 0) break;
        unsigned char d[crypto_hash_sha256_BYTES];
        char ch[65];
        crypto_hash_sha256(d, buf, (unsigned long long)n);
        sodium_bin2hex(ch, sizeof ch, d, sizeof d);
        json_array_append_new(chunks, json_string(ch));
    }
    json_t *missing = NULL;
    if (status == 0) status = ask_missing(r, chunks, &missing);
    rewind(f);
    size_t i;
    json_t *c;
    json_array_foreach(chunks, i, c) {
        if (status) break;
        ssize_t n = read_chunk(f, buf, UPLOAD_CHUNK);
        if (n <= 0) {
            status = cli_fail(CLI_FAILED, "%s changed while it was sent: send it again", local);
            break;
        }
        const char *ch = json_string_value(c);
        if (!json_object_get(missing, ch)) continue;
        char *path = mp_xasprintf("/api/v1/uploads/sha256/%s", ch);
        char *what = mp_xasprintf("%s (part %zu of %zu)", local, i + 1, json_array_size(chunks));
        reply y;
        status = remote__put_data(r, path, buf, (size_t)n, what, &y);
        if (status == 0) {
            if (y.status != 200 && y.status != 201) status = remote__fail_reply(&y);
            remote__reply_free(&y);
        }
        json_object_del(missing, ch); /* the same bytes again in this file: sent */
        free(what);
        free(path);
    }
    if (status == 0) {
        json_t *req = json_pack("{s:s,s:O}", "sha256", hex, "chunks", chunks);
        reply y;
        status = post_json(r, "/api/v1/uploads/assemble", req, &y);
        json_decref(req);
        if (status == 0) {
            if (y.status != 200 && y.status != 201) status = send_refused(local, &y);
            remote__reply_free(&y);
        }
    }
    json_decref(missing);
    json_decref(chunks);
    free(buf);
    fclose(f);
    return status;
}

/* The manifest of each step input, under its tree hash, in the artifact store. */
static int put_trees(remote *r, const remote_inputs *in) {
    for (size_t i = 0; i < in->trees.n; i++) {
        char *text = NULL, tree[65];
        mp_err e;
        if (exec_tree_manifest(in->trees.v[i], &text, tree, &e) != 0) return cli_fail(CLI_FAILED, "%s", e.msg);
        char *rel = exec_tree_manifest_path(tree);
        char *path = mp_xasprintf("/api/2.0/mlflow-artifacts/artifacts/%s", rel);
        reply y;
        int status = remote__call(r, "PUT", path, text, &y);
        if (status == 0) {
            if (y.status != 200) status = remote__fail_reply(&y);
            remote__reply_free(&y);
        }
        free(path);
        free(rel);
        free(text);
        if (status) return status;
    }
    return 0;
}

int remote__inputs_upload(remote *r, const remote_inputs *in) {
    if (json_array_size(in->files) == 0) return 0;
    json_t *hashes = json_array(), *want = json_object();
    size_t i;
    json_t *fe;
    json_array_foreach(in->files, i, fe) {
        const char *hex = json_string_value(json_object_get(fe, "sha256"));
        if (!json_object_get(want, hex)) json_array_append_new(hashes, json_string(hex));
        json_object_set_new(want, hex, json_false());
    }
    json_t *missing = NULL;
    int status = ask_missing(r, hashes, &missing);
    json_decref(hashes);
    if (status) {
        json_decref(want);
        return status;
    }
    const char *mh;
    json_t *v;
    json_object_foreach(missing, mh, v)
        if (json_object_get(want, mh)) json_object_set_new(want, mh, json_true());
    json_decref(missing);
    int64_t total = 0, sent_bytes = 0;
    size_t sent = 0;
    json_array_foreach(in->files, i, fe) {
        const char *hex = json_string_value(json_object_get(fe, "sha256"));
        int64_t size = json_integer_value(json_object_get(fe, "size"));
        total += size;
        if (status || !json_is_true(json_object_get(want, hex))) continue;
        if (size > UPLOAD_CHUNK) {
            status = send_chunked(r, in->local.v[i], hex);
            if (status) break;
            json_object_set_new(want, hex, json_false());
            sent++;
            sent_bytes += size;
            continue;
        }
        char *path = mp_xasprintf("/api/v1/uploads/sha256/%s", hex);
        reply py;
        status = remote__put_file(r, path, in->local.v[i], &py);
        free(path);
        if (status) break;
        if (py.status != 200 && py.status != 201) {
            status = send_refused(in->local.v[i], &py);
        } else {
            json_object_set_new(want, hex, json_false()); /* the same bytes under another name: sent */
            sent++;
            sent_bytes += size;
        }
        remote__reply_free(&py);
    }
    json_decref(want);
    if (status == 0) status = put_trees(r, in);
    if (status == 0) {
        char a[32], b[32];
        fmt_bytes(total, a, sizeof a);
        fmt_bytes(sent_bytes, b, sizeof b);
        size_t nf = json_array_size(in->files);
        fprintf(stderr, "local inputs: %zu file%s (%s), %zu sent (%s), %zu already on the server\n", nf, nf == 1 ? "" : "s",
                a, sent, b, nf - sent);
    }
    return status;
}

void remote__inputs_free(remote_inputs *in) {
    free(in->spec_dir);
    json_decref(in->files);
    json_decref(in->dirs);
    mp_strv_free(&in->local);
    mp_strv_free(&in->trees);
    memset(in, 0, sizeof *in);
}
