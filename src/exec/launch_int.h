/* launch_int.h — what the files of the step launcher share (launch.c,
 * launch_desc.c, launch_tree.c, launch_xfer.c, launch_install.c): the parsed
 * artifacts description, the tree manifests artifacts travel as, and the
 * server client. Private to src/exec; the pure functions are tested by
 * tests/unit/test_launch.c. Single-threaded, like the launcher. */
#ifndef MLPLANE_EXEC_LAUNCH_INT_H
#define MLPLANE_EXEC_LAUNCH_INT_H

#include <jansson.h>

#include "exec/exec.h"

#define LAUNCH_WORK "/mlplane/work" /* the work folder paths in a description are written under */
#define LAUNCH_CHUNK ((size_t)8 << 20) /* the largest blob the launcher sends in one request */

/* ---- the artifacts description (launch_desc.c, pure) --------------------------------- */

typedef struct launch_input {
    char *name;
    char *sha256; /* a local input's tree hash (mp_hash_path), or NULL for one from an upstream output */
    char *from;   /* an upstream output's place in the work folder (mapped), or NULL */
} launch_input;

typedef struct launch_fetch {
    char *step, *output;
    char *path; /* where it goes (mapped into the work folder) */
} launch_fetch;

typedef struct launch_output {
    char *name;
    char *path; /* relative to the outputs folder, never leaving it */
} launch_output;

typedef struct launch_desc {
    launch_input *inputs;
    size_t ninputs;
    launch_fetch *fetch;
    size_t nfetch;
    launch_output *outputs;
    size_t noutputs;
    char *metrics; /* the metrics file, relative to the outputs folder */
} launch_desc;

/* Parses the JSON of a pod's mlplane.dev/artifacts annotation; paths under
 * /mlplane/work are moved under work. Every problem is an MP_EINVAL naming the
 * field ("MLPLANE_ARTIFACTS: fetch[1].path: ..."). Free d with
 * exec__launch_desc_free, also on failure. */
int exec__launch_desc_parse(const char *json, const char *work, launch_desc *d, mp_err *e);
void exec__launch_desc_free(launch_desc *d);
/* path ("/mlplane/work" or below, without "." or ".." segments) moved under work
 * (heap), or NULL when it lies elsewhere. Pure. */
char *exec__launch_map(const char *path, const char *work);
/* Whether p is a relative path staying where it starts (no "", ".", ".." segment). Pure. */
bool exec__launch_safe_rel(const char *p);

/* "mlplane/runs/RUN/steps/STEP[/trials/TRIAL]/REST": where a step's records
 * live in the artifact store (heap), or NULL when run, step or trial is not a
 * plain name. Pure. */
char *exec__launch_step_path(const char *run, const char *step, const char *trial, const char *rest);

/* The pause before retry number attempt (1, 2, ...): 250 ms doubling, at most
 * 8 s. Pure. */
int exec__launch_backoff_ms(int attempt);
/* Whether a transfer that ended so is worth another try: no answer at all
 * (http 0), 408, 429 and every 5xx. Pure. */
bool exec__launch_transient(long http);
/* The launcher's exit status for a waitpid status: the code, or 128+N for signal N. Pure. */
int exec__launch_exit_status(int wstatus);

/* ---- tree manifests (launch_tree.c) -----------------------------------------------------
 * An artifact (a file or a folder) travels as blobs of at most a chunk each,
 * named by their SHA-256 (the server's content-addressed store), and a
 * manifest naming them, stored under the tree hash of the artifact (what the
 * step cache hashes, mp_hash_path):
 *   {"format": "mlplane-tree-v1", "sha256": TREE, "kind": "file"|"dir", "size": BYTES,
 *    "entries": [{"path": REL, "kind": "file"|"dir", "size": N, "executable": B,
 *                 "chunks": [HEX, ...]}, ...]}
 * entries in mp_hash_path's order, the root's own entry first (path ""). */

/* Called with each chunk of a file as it is complete (data: its bytes, or NULL
 * when chunk_max is 0 and only the hash was kept). */
typedef int (*exec__chunk_fn)(void *ud, const char *hex, const void *data, size_t len, mp_err *e);

/* Reads the file or folder at path once: its tree hash into tree, its manifest
 * (new reference) into *manifest, each file cut into chunks of chunk_max bytes
 * (0: a file is one chunk) handed to on_chunk (may be NULL). */
int exec__tree_build(const char *path, size_t chunk_max, exec__chunk_fn on_chunk, void *ud, json_t **manifest,
                     char tree[65], mp_err *e);
/* Checks a manifest's shape (its entries' paths safe, the root first, hashes
 * hex): 0, or MP_EINVAL saying what is wrong. Pure. */
int exec__tree_check(const json_t *manifest, mp_err *e);
/* "mlplane/trees/HE/HEX.json": where the manifest of tree HEX lives in the
 * artifact store (heap). Pure. */
char *exec__tree_manifest_path(const char *hex);

/* ---- the server (launch_xfer.c) --------------------------------------------------------- */

typedef struct launch_client launch_client;

/* A client of the mlplane server at url (*out freed with exec__client_close);
 * retries is how many times a transient failure is tried again. */
int exec__client_open(const char *url, int retries, launch_client **out, mp_err *e);
void exec__client_close(launch_client *c);
/* GET path into *body (heap, NUL-terminated); *http the status (404 is not an error). */
int exec__client_get(launch_client *c, const char *path, char **body, size_t *len, long *http, mp_err *e);
/* PUT body (len bytes) to path; any status but 2xx is an error. */
int exec__client_put(launch_client *c, const char *path, const void *body, size_t len, const char *content_type,
                     mp_err *e);
/* Sends one blob unless the server has it already. */
int exec__client_put_blob(launch_client *c, const char *hex, const void *data, size_t len, mp_err *e);
/* GETs blob hex appended to the open file fd, checking its SHA-256 as it streams. */
int exec__client_get_blob(launch_client *c, const char *hex, int fd, int64_t *size, mp_err *e);

/* Uploads the file or folder at path (its blobs, then its manifest); its tree hash into tree. */
int exec__tree_upload(launch_client *c, const char *path, char tree[65], mp_err *e);
/* Fetches tree hex into dest (which must not exist), then checks its tree hash. */
int exec__tree_fetch(launch_client *c, const char *hex, const char *dest, mp_err *e);

#endif
