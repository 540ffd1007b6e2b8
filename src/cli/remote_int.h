/* remote_int.h — what the files of the --server client share (remote.c,
 * remote_inputs.c, remote_track.c): one libcurl handle per command and the
 * calls made through it. Private to src/cli. */
#ifndef MLPLANE_CLI_REMOTE_INT_H
#define MLPLANE_CLI_REMOTE_INT_H

#include <curl/curl.h>

#include "cli/cli.h"

typedef struct remote {
    CURL *c;
    const char *server; /* without a trailing slash: base */
    char base[2048];
    char errbuf[CURL_ERROR_SIZE];
    char auth[600]; /* "Authorization: Bearer TOKEN", "" when no token (cli_credentials_token) */
} remote;

typedef struct reply {
    long status;
    mp_buf body;
    json_t *json; /* the body parsed, when it is JSON */
} reply;

/* Checks the URL and opens the handle; an exit status (printed) on failure. */
int remote__open(cli_env *env, remote *r);
void remote__close(remote *r);
/* h with r's Authorization header appended when it has a token. */
struct curl_slist *remote__auth(const remote *r, struct curl_slist *h);
void remote__reply_free(reply *y);
/* One request; body (JSON text) may be NULL. Returns 0 with *y filled (any HTTP
 * status), or prints why the server could not be reached and returns CLI_FAILED. */
int remote__call(remote *r, const char *method, const char *path, const char *body, reply *y);
/* Prints the server's error and returns the exit status: 2 for a 400, else 1. */
int remote__fail_reply(const reply *y);
/* GETs path and expects 200 with a JSON body of the given type; 0 or an exit status. */
int remote__get_json(remote *r, const char *path, json_type type, reply *y);
/* PUTs the file at local_path as the body of path; 0 with *y filled, or an exit status. */
int remote__put_file(remote *r, const char *path, const char *local_path, reply *y);
/* The same for len bytes of data (len > 0), named what in messages. */
int remote__put_data(remote *r, const char *path, const void *data, size_t len, const char *what, reply *y);

/* ---- local inputs (remote_inputs.c) ---------------------------------------------- */
typedef struct remote_inputs {
    char *spec_dir; /* the spec's folder in the tree ("" at its root) */
    json_t *files;  /* [{path, sha256, size, executable}] */
    json_t *dirs;   /* [path]: every folder of the tree (empty ones too) */
    mp_strv local;  /* the local path of each files[i] */
    mp_strv trees;  /* each step input's local path, once: recorded by its tree hash for pods */
} remote_inputs;

/* Finds and hashes the local inputs of the spec at spec_path, run with params
 * ("k=v"). Returns 0 (none found when the spec or params are invalid: the
 * server reports those), or an exit status with the missing inputs printed at
 * their places in the spec. Free in with remote__inputs_free either way. */
int remote__inputs_collect(const char *spec_path, const mp_strv *params, remote_inputs *in);
/* Sends the files the server lacks, then the manifest of each step input under
 * its tree hash (what the step cache and `mlplane k8s render` name it by, so a
 * pod's launcher finds it); prints one line saying how many were sent. */
int remote__inputs_upload(remote *r, const remote_inputs *in);
void remote__inputs_free(remote_inputs *in);

#endif
