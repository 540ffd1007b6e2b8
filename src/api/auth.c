/* auth.c — who sends a request: the credentials of its Authorization header.
 *
 * `Authorization: Bearer TOKEN` (mlplane's CLI, MLflow's MLFLOW_TRACKING_TOKEN) and
 * `Authorization: Basic base64(user:password)` (MLflow's MLFLOW_TRACKING_USERNAME and
 * MLFLOW_TRACKING_PASSWORD; a token is accepted as the password too). Tokens are
 * checked by the store (one indexed read and a BLAKE2b hash); passwords by Argon2id,
 * slow by design, so a successful check is remembered for CACHE_TTL_MS under a keyed
 * BLAKE2b of user and password (the key random per process, so the cache is no
 * dictionary target), in a table of CACHE_SLOTS entries: repeated Basic requests
 * cost one hash. /healthz and /readyz stay public.
 *
 * Threads: api__authenticate runs on the server's worker threads, each with its
 * own store handle; the password cache is shared, under its mutex. */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"

#define CACHE_SLOTS 256
#define CACHE_TTL_MS 60000

typedef struct pw_slot {
    unsigned char key[crypto_generichash_BYTES]; /* BLAKE2b(cache_key; user NUL password) */
    int64_t expires_mono_ms;                     /* 0: empty */
    bool admin;
} pw_slot;

static pthread_mutex_t g_pw_mu = PTHREAD_MUTEX_INITIALIZER;
static pw_slot g_pw[CACHE_SLOTS];
static unsigned char g_pw_key[crypto_generichash_KEYBYTES];
static bool g_pw_key_set;

/* The cache key of (user, password) into out. Under g_pw_mu. */
static void pw_key(const char *user, const char *password, unsigned char out[crypto_generichash_BYTES]) {
    if (!g_pw_key_set) {
        randombytes_buf(g_pw_key, sizeof g_pw_key);
        g_pw_key_set = true;
    }
    crypto_generichash_state h;
    crypto_generichash_init(&h, g_pw_key, sizeof g_pw_key, crypto_generichash_BYTES);
    crypto_generichash_update(&h, (const unsigned char *)user, strlen(user) + 1);
    crypto_generichash_update(&h, (const unsigned char *)password, strlen(password));
    crypto_generichash_final(&h, out, crypto_generichash_BYTES);
}

/* Whether (user, password) verified less than CACHE_TTL_MS ago; *admin as it was then. */
static bool pw_cached(const char *user, const char *password, bool *admin) {
    unsigned char k[crypto_generichash_BYTES];
    int64_t now = mp_mono_ms();
    bool hit = false;
    pthread_mutex_lock(&g_pw_mu);
    pw_key(user, password, k);
    for (int i = 0; i < CACHE_SLOTS && !hit; i++) {
        if (g_pw[i].expires_mono_ms > now && sodium_memcmp(g_pw[i].key, k, sizeof k) == 0) {
            hit = true;
            *admin = g_pw[i].admin;
        }
    }
    pthread_mutex_unlock(&g_pw_mu);
    return hit;
}

static void pw_remember(const char *user, const char *password, bool admin) {
    unsigned char k[crypto_generichash_BYTES];
    int64_t now = mp_mono_ms();
    pthread_mutex_lock(&g_pw_mu);
    pw_key(user, password, k);
    int slot = 0; /* an empty or expired slot, else the one expiring first */
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (g_pw[i].expires_mono_ms <= now) {
            slot = i;
            break;
        }
        if (g_pw[i].expires_mono_ms < g_pw[slot].expires_mono_ms) slot = i;
    }
    memcpy(g_pw[slot].key, k, sizeof k);
    g_pw[slot].expires_mono_ms = now + CACHE_TTL_MS;
    g_pw[slot].admin = admin;
    pthread_mutex_unlock(&g_pw_mu);
}

void api__auth_forget(void) {
    pthread_mutex_lock(&g_pw_mu);
    sodium_memzero(g_pw, sizeof g_pw);
    pthread_mutex_unlock(&g_pw_mu);
}

/* ---- the principal ------------------------------------------------------------ */

static void add_group(api_principal *who, const char *g, size_t len) {
    if (len == 0 || len >= sizeof who->groups[0] || who->ngroups >= API_GROUPS_MAX) return;
    for (int i = 0; i < who->ngroups; i++)
        if (strlen(who->groups[i]) == len && strncmp(who->groups[i], g, len) == 0) return;
    memcpy(who->groups[who->ngroups], g, len);
    who->groups[who->ngroups][len] = '\0';
    who->ngroups++;
}

static void from_token(api_principal *who, const store_token *t) {
    who->authenticated = true;
    mp_strlcpy(who->user, t->user, sizeof who->user);
    mp_strlcpy(who->namespace_, t->namespace_ && *t->namespace_ ? t->namespace_ : "default", sizeof who->namespace_);
    mp_strlcpy(who->token_id, t->id, sizeof who->token_id);
    for (const char *p = t->groups ? t->groups : ""; *p;) {
        size_t n = strcspn(p, ",");
        add_group(who, p, n);
        p += n;
        if (*p == ',') p++;
    }
    add_group(who, API_GROUP_AUTHENTICATED, strlen(API_GROUP_AUTHENTICATED));
}

static void from_user(api_principal *who, const char *user, bool admin) {
    who->authenticated = true;
    mp_strlcpy(who->user, user, sizeof who->user);
    if (admin) add_group(who, API_GROUP_MASTERS, strlen(API_GROUP_MASTERS));
    add_group(who, API_GROUP_AUTHENTICATED, strlen(API_GROUP_AUTHENTICATED));
}

bool api__principal_in_group(const api_principal *who, const char *group) {
    for (int i = 0; i < who->ngroups; i++)
        if (strcmp(who->groups[i], group) == 0) return true;
    return false;
}

static int unauthenticated(mp_http_resp *resp, const char *why) {
    mp_http_mlflow_error(resp, 401, "UNAUTHENTICATED",
                         "%s: send Authorization: Bearer TOKEN (mlplane token create; MLflow clients: "
                         "MLFLOW_TRACKING_TOKEN) or Basic user:password (MLFLOW_TRACKING_USERNAME and "
                         "MLFLOW_TRACKING_PASSWORD)",
                         why);
    mp_http_header_add(resp, "WWW-Authenticate", "Basic realm=\"mlplane\"");
    return MP_EPERM;
}

static int check_token(store *st, const char *token, api_principal *who, mp_http_resp *resp) {
    store_token t;
    mp_err e = {0};
    int rc = st->a->token_verify(st, token, mp_now_ms(), &t, &e);
    if (rc == MP_EPERM) return unauthenticated(resp, e.msg);
    if (rc != 0) {
        mp_http_mlflow_error(resp, 503, "TEMPORARILY_UNAVAILABLE", "cannot check the credentials: %s", e.msg);
        return MP_ESTORE;
    }
    from_token(who, &t);
    store_token_free(&t);
    return 0;
}

static int check_basic(store *st, const char *b64, api_principal *who, mp_http_resp *resp) {
    char dec[1024];
    size_t len = 0;
    while (*b64 == ' ') b64++;
    if (sodium_base642bin((unsigned char *)dec, sizeof dec - 1, b64, strlen(b64), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return unauthenticated(resp, "the Basic credentials are not base64 of user:password");
    dec[len] = '\0';
    char *colon = strchr(dec, ':');
    int rc;
    if (!colon || memchr(dec, '\0', len)) {
        rc = unauthenticated(resp, "the Basic credentials are not base64 of user:password");
    } else {
        *colon = '\0';
        const char *user = dec, *password = colon + 1;
        bool admin = false;
        if (strncmp(password, "mlp_", 4) == 0) {
            rc = check_token(st, password, who, resp);
        } else if (pw_cached(user, password, &admin)) {
            from_user(who, user, admin);
            rc = 0;
        } else {
            store_user u;
            mp_err e = {0};
            rc = st->a->user_verify(st, user, password, &u, &e);
            if (rc == 0) {
                pw_remember(user, password, u.admin);
                from_user(who, user, u.admin);
                store_user_free(&u);
            } else if (rc == MP_EPERM) {
                rc = unauthenticated(resp, e.msg);
            } else {
                mp_http_mlflow_error(resp, 503, "TEMPORARILY_UNAVAILABLE", "cannot check the credentials: %s", e.msg);
            }
        }
    }
    sodium_memzero(dec, sizeof dec);
    return rc;
}

/* The routes anyone may call: the probes. */
static bool is_public(const char *path) { return strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0; }

int api__authenticate(store *st, bool auth_on, const mp_http_req *req, api_principal *who, mp_http_resp *resp) {
    memset(who, 0, sizeof *who);
    who->auth_on = auth_on;
    mp_strlcpy(who->namespace_, "default", sizeof who->namespace_);
    if (!auth_on || is_public(req->path)) return 0;
    if (!st) {
        mp_http_mlflow_error(resp, 503, "TEMPORARILY_UNAVAILABLE", "cannot check the credentials: no store");
        return MP_ESTORE;
    }
    const char *h = mp_http_req_header(req, "Authorization");
    if (!h || !*h) return unauthenticated(resp, "authentication required");
    if (strncasecmp(h, "Bearer ", 7) == 0) {
        const char *t = h + 7;
        while (*t == ' ') t++;
        return check_token(st, t, who, resp);
    }
    if (strncasecmp(h, "Basic ", 6) == 0) return check_basic(st, h + 6, who, resp);
    return unauthenticated(resp, "the Authorization header is neither Bearer nor Basic");
}
