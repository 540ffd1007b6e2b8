/* authz.c — who may call a Deployment's routes when mlplane server checks
 * credentials, and the credential the server itself uses on them.
 *
 * A Deployment's process started by an authenticating server gets
 * --auth-review=URL (the server's own URL) and, in its environment, the fleet's
 * admin credential (MLPLANE_DEPLOY_CREDENTIAL, removed from the environment at
 * once so the replicas never see it). Each /admin/ request, and each inference
 * request of a Deployment with spec.auth.inference: token, is checked:
 *   - no Authorization header: 401;
 *   - "Bearer " and the admin credential: allowed (compared as BLAKE2b hashes in
 *     constant time), the server's own calls (rollout.c);
 *   - else the header is sent unchanged as the Authorization of POST
 *     URL/api/v1/authz/review {"verb","resource","namespace","name"} (src/api/authz.c, a
 *     self review: the server tells the caller only about itself), and its answer
 *     decides: 200 allowed, 403 with the reason (`user "ana" cannot update
 *     deployments in namespace "team-b"`), the server's 401 passed on, 503 when
 *     the server does not answer.
 * Answers are remembered for SERVE_AUTHZ_TTL_MS under a keyed BLAKE2b of (header,
 * verb, resource, namespace), the key random per process, in a bounded table
 * (BUCKETS x WAYS slots, the oldest of a bucket replaced), so a hot path costs one
 * hash and a lock. A revoked token may so go on working for that long.
 *
 * The admin credential: "mlpd_" and 64 hex characters from libsodium's
 * randombytes, made once per server start (serve__admin_credential_make), written
 * to HOME/serving/.admin-credential (mode 0600: whoever reads the home may do
 * everything anyway, as with `mlplane token create` on the home) for the server's
 * and the CLI's calls on a home's deployments (serve__admin_credential_read), and
 * never logged.
 *
 * Threads: serve__authz_new/free on the main thread; serve__authz_check on the
 * router's HTTP threads, concurrently; the cache under its mutex. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "serve/router_int.h"

#define BUCKETS 128
#define WAYS 4
#define REASON_MAX 300

typedef struct slot {
    unsigned char key[crypto_generichash_BYTES];
    int64_t expires_mono_ms; /* 0: empty */
    int status;              /* 200, 401 or 403 */
    char reason[REASON_MAX];
} slot;

struct serve__authz {
    char *review_url; /* URL/api/v1/authz/review */
    char *name;       /* the Deployment's name, in each review (for the server's audit log) */
    bool has_admin;
    unsigned char admin_hash[crypto_generichash_BYTES];
    unsigned char cache_key[crypto_generichash_KEYBYTES];
    pthread_mutex_t mu;
    slot slots[BUCKETS][WAYS];
};

static void hash_of(const char *s, unsigned char out[crypto_generichash_BYTES]) {
    crypto_generichash(out, crypto_generichash_BYTES, (const unsigned char *)s, strlen(s), NULL, 0);
}

int serve__authz_new(const char *server_url, const char *name, const char *admin_credential, serve__authz **out,
                     mp_err *e) {
    *out = NULL;
    if (!server_url || (!mp_str_starts(server_url, "http://") && !mp_str_starts(server_url, "https://")))
        return mp_err_set(e, MP_EINVAL, "--auth-review needs the URL of mlplane server, e.g. http://127.0.0.1:5000, got \"%s\"",
                          server_url ? server_url : "");
    if (sodium_init() < 0) return mp_err_set(e, MP_EIO, "cannot initialise libsodium");
    serve__authz *a = mp_xcalloc(1, sizeof *a);
    size_t n = strlen(server_url);
    while (n > 0 && server_url[n - 1] == '/') n--;
    a->review_url = mp_xasprintf("%.*s/api/v1/authz/review", (int)n, server_url);
    a->name = mp_xstrdup(name ? name : "");
    if (admin_credential && *admin_credential) {
        a->has_admin = true;
        hash_of(admin_credential, a->admin_hash);
    }
    randombytes_buf(a->cache_key, sizeof a->cache_key);
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return 0;
}

void serve__authz_free(serve__authz *a) {
    if (!a) return;
    pthread_mutex_destroy(&a->mu);
    free(a->review_url);
    free(a->name);
    sodium_memzero(a, sizeof *a); /* the hashes and the key */
    free(a);
}

/* ---- the cache -------------------------------------------------------------------- */

static void cache_key(const serve__authz *a, const char *header, const char *verb, const char *resource,
                      const char *ns, unsigned char out[crypto_generichash_BYTES]) {
    crypto_generichash_state h;
    crypto_generichash_init(&h, a->cache_key, sizeof a->cache_key, crypto_generichash_BYTES);
    const char *parts[4] = {header, verb, resource, ns};
    for (int i = 0; i < 4; i++) crypto_generichash_update(&h, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    crypto_generichash_final(&h, out, crypto_generichash_BYTES);
}

static size_t bucket_of(const unsigned char *k) {
    return ((size_t)k[0] | (size_t)k[1] << 8) % BUCKETS;
}

static bool cache_get(serve__authz *a, const unsigned char *k, int *status, char *reason) {
    int64_t now = mp_mono_ms();
    bool hit = false;
    pthread_mutex_lock(&a->mu);
    slot *b = a->slots[bucket_of(k)];
    for (int i = 0; i < WAYS && !hit; i++) {
        if (b[i].expires_mono_ms > now && sodium_memcmp(b[i].key, k, crypto_generichash_BYTES) == 0) {
            hit = true;
            *status = b[i].status;
            mp_strlcpy(reason, b[i].reason, REASON_MAX);
        }
    }
    pthread_mutex_unlock(&a->mu);
    return hit;
}

static void cache_put(serve__authz *a, const unsigned char *k, int status, const char *reason) {
    int64_t now = mp_mono_ms();
    pthread_mutex_lock(&a->mu);
    slot *b = a->slots[bucket_of(k)];
    int w = 0; /* an expired slot, else the one expiring first */
    for (int i = 0; i < WAYS; i++) {
        if (b[i].expires_mono_ms <= now) {
            w = i;
            break;
        }
        if (b[i].expires_mono_ms < b[w].expires_mono_ms) w = i;
    }
    memcpy(b[w].key, k, crypto_generichash_BYTES);
    b[w].expires_mono_ms = now + SERVE_AUTHZ_TTL_MS;
    b[w].status = status;
    mp_strlcpy(b[w].reason, reason, REASON_MAX);
    pthread_mutex_unlock(&a->mu);
}

/* ---- the review ------------------------------------------------------------------- */

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
    mp_buf *b = ud;
    if (b->len + size * n > 65536) return 0; /* a review's answer is small */
    mp_buf_append(b, p, size * n);
    return size * n;
}

/* Asks the server: *status 200 (allowed), 401, 403 (reason filled) or 503 (why in reason). */
static void review(serve__authz *a, const char *header, const char *verb, const char *resource, const char *ns,
                   int *status, char *reason) {
    *status = 503;
    CURL *c = curl_easy_init();
    if (!c) {
        mp_strlcpy(reason, "cannot make an HTTP client to check the credentials", REASON_MAX);
        return;
    }
    json_t *q = json_pack("{s:s,s:s,s:s,s:s}", "verb", verb, "resource", resource, "namespace", ns, "name", a->name);
    char *body = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    char *auth = mp_xasprintf("Authorization: %s", header);
    struct curl_slist *hs = curl_slist_append(NULL, auth);
    hs = curl_slist_append(hs, "Content-Type: application/json");
    mp_buf b;
    mp_buf_init(&b);
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, a->review_url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "{}");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    json_t *v = rc == CURLE_OK ? json_loadb(b.data ? b.data : "", b.len, 0, NULL) : NULL;
    if (rc != CURLE_OK) {
        snprintf(reason, REASON_MAX, "cannot check the credentials with mlplane server (%.120s): %.120s", a->review_url,
                 ebuf[0] ? ebuf : curl_easy_strerror(rc));
    } else if (code == 401) {
        const char *m = json_string_value(json_object_get(v, "message"));
        *status = 401;
        snprintf(reason, REASON_MAX, "%s", m ? m : "the credentials are not valid");
    } else if (code == 200 && json_is_boolean(json_object_get(v, "allowed"))) {
        if (json_is_true(json_object_get(v, "allowed"))) {
            *status = 200;
            reason[0] = '\0';
        } else {
            const char *m = json_string_value(json_object_get(v, "reason"));
            *status = 403;
            snprintf(reason, REASON_MAX, "%s", m && *m ? m : "denied");
        }
    } else {
        const char *m = json_string_value(json_object_get(v, "message"));
        snprintf(reason, REASON_MAX, "cannot check the credentials: mlplane server (%s) answered %ld%s%s",
                 a->review_url, code, m ? ": " : "", m ? m : "");
    }
    json_decref(v);
    mp_buf_free(&b);
    curl_slist_free_all(hs);
    sodium_memzero(auth, strlen(auth));
    free(auth);
    free(body);
    curl_easy_cleanup(c);
}

static bool is_admin_credential(const serve__authz *a, const char *header) {
    if (!a->has_admin || strncasecmp(header, "Bearer ", 7) != 0) return false;
    const char *t = header + 7;
    while (*t == ' ') t++;
    if (!mp_str_starts(t, SERVE_ADMIN_CREDENTIAL_PREFIX)) return false;
    unsigned char h[crypto_generichash_BYTES];
    hash_of(t, h);
    return sodium_memcmp(h, a->admin_hash, sizeof h) == 0;
}

int serve__authz_check(serve__authz *a, const mp_http_req *req, const char *verb, const char *resource,
                       const char *ns, mp_http_resp *resp) {
    const char *h = mp_http_req_header(req, "Authorization");
    if (!h || !*h) {
        serve_oip_error(resp, 401,
                        "authentication required: send Authorization: Bearer TOKEN (mlplane token create) to %s %s",
                        req->method, req->path ? req->path : "");
        mp_http_header_add(resp, "WWW-Authenticate", "Bearer realm=\"mlplane\"");
        return MP_EPERM;
    }
    if (is_admin_credential(a, h)) return 0;
    unsigned char k[crypto_generichash_BYTES];
    cache_key(a, h, verb, resource, ns, k);
    int status = 0;
    char reason[REASON_MAX];
    if (!cache_get(a, k, &status, reason)) {
        review(a, h, verb, resource, ns, &status, reason);
        if (status != 503) cache_put(a, k, status, reason);
    }
    if (status == 200) return 0;
    serve_oip_error(resp, status, "%s", reason);
    if (status == 401) mp_http_header_add(resp, "WWW-Authenticate", "Bearer realm=\"mlplane\"");
    return MP_EPERM;
}

/* ---- the admin credential ------------------------------------------------------------- */

char *serve_admin_credential_path(const char *home) { return mp_xasprintf("%s/serving/.admin-credential", home); }

int serve_admin_credential_make(const char *home, char **out, mp_err *e) {
    *out = NULL;
    if (sodium_init() < 0) return mp_err_set(e, MP_EIO, "cannot initialise libsodium");
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    char hex[2 * sizeof raw + 1];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    char *cred = mp_xasprintf("%s%s", SERVE_ADMIN_CREDENTIAL_PREFIX, hex);
    sodium_memzero(hex, sizeof hex);
    char *dir = mp_xasprintf("%s/serving", home);
    char *path = serve_admin_credential_path(home);
    char *tmp = mp_xasprintf("%s.%d.tmp", path, (int)getpid());
    int rc = mp_mkdir_p(dir, e);
    if (rc == 0) {
        unlink(tmp);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        size_t len = strlen(cred);
        bool ok = fd >= 0 && write(fd, cred, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
        int err = errno;
        if (fd >= 0) close(fd);
        if (!ok || rename(tmp, path) != 0) {
            if (ok) err = errno;
            unlink(tmp);
            rc = mp_err_set(e, MP_EIO, "cannot write the deployments' admin credential %s: %s", path, strerror(err));
        }
    }
    free(tmp);
    free(path);
    free(dir);
    if (rc != 0) {
        sodium_memzero(cred, strlen(cred));
        free(cred);
        return rc;
    }
    *out = cred;
    return 0;
}

char *serve_admin_credential_read(const char *home) {
    if (!home) return NULL;
    char *path = serve_admin_credential_path(home), *text = NULL;
    size_t len = 0;
    mp_err e = {0};
    int rc = mp_read_file(path, &text, &len, &e);
    free(path);
    if (rc != 0) return NULL;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) text[--len] = '\0';
    if (!mp_str_starts(text, SERVE_ADMIN_CREDENTIAL_PREFIX)) {
        sodium_memzero(text, len);
        free(text);
        return NULL;
    }
    return text;
}

void serve_admin_credential_remove(const char *home, const char *cred) {
    char *mine = serve_admin_credential_read(home);
    if (mine && cred && strcmp(mine, cred) == 0) { /* another server's is not ours to remove */
        char *path = serve_admin_credential_path(home);
        unlink(path);
        free(path);
    }
    if (mine) {
        sodium_memzero(mine, strlen(mine));
        free(mine);
    }
}
