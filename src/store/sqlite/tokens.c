/* tokens.c — API tokens and users of the SQLite store (store_auth_methods):
 * the credentials `mlplane server --auth` checks.
 *
 * A token is "mlp_<id>_<secret>": the id (12 hex digits) finds its row without a
 * scan; the row keeps only the BLAKE2b-256 hash of the whole text (crypto_generichash:
 * right for a secret of 32 random bytes, which no dictionary holds), compared in
 * constant time (sodium_memcmp). A token's last use is written at most once a
 * minute, so the request path reads and does not write. A user's password is kept
 * as its Argon2id hash (crypto_pwhash_str, interactive limits), checked with
 * crypto_pwhash_str_verify. Neither a secret nor a password is ever stored, logged
 * or put in an error message.
 * Thread-safety: as the store, one connection per thread; the prepared statements
 * live in the connection's STORE__EXT_AUTH slot. */
#include "store/sqlite/sqlite_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_PREFIX "mlp_"
#define TOKEN_LEN (4 + STORE_TOKEN_ID_LEN + 1 + STORE_TOKEN_SECRET_LEN)
#define LAST_USED_EVERY_MS 60000

enum {
    A_TOK_INSERT,
    A_TOK_GET,
    A_TOK_HASH,
    A_TOK_LIST,
    A_TOK_REVOKE,
    A_TOK_USED,
    A_USER_INSERT,
    A_USER_PW,
    A_USER_ADMIN,
    A_USER_GET,
    A_USER_HASH,
    A_USER_LIST,
    A_USER_DELETE,
    A__COUNT
};

#define TOK_COLS "id, user, namespace, groups, description, created_ms, expires_ms, last_used_ms, revoked_ms"
#define USER_COLS "name, admin, password_hash IS NOT NULL, created_ms, updated_ms"

static const char *const sql_text[A__COUNT] = {
    [A_TOK_INSERT] = "INSERT INTO api_tokens (id, user, namespace, groups, description, created_ms, expires_ms, "
                     "secret_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [A_TOK_GET] = "SELECT " TOK_COLS " FROM api_tokens WHERE id = ?1",
    [A_TOK_HASH] = "SELECT " TOK_COLS ", secret_hash FROM api_tokens WHERE id = ?1",
    [A_TOK_LIST] = "SELECT " TOK_COLS " FROM api_tokens ORDER BY created_ms DESC, id",
    [A_TOK_REVOKE] = "UPDATE api_tokens SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms = 0",
    [A_TOK_USED] = "UPDATE api_tokens SET last_used_ms = ?2 WHERE id = ?1 AND last_used_ms <= ?2 - 60000",
    [A_USER_INSERT] = "INSERT INTO api_users (name, password_hash, admin, created_ms, updated_ms) "
                      "VALUES (?1, ?2, ?3, ?4, ?4)",
    [A_USER_PW] = "UPDATE api_users SET password_hash = ?2, updated_ms = ?3 WHERE name = ?1",
    [A_USER_ADMIN] = "UPDATE api_users SET admin = ?2, updated_ms = ?3 WHERE name = ?1",
    [A_USER_GET] = "SELECT " USER_COLS " FROM api_users WHERE name = ?1",
    [A_USER_HASH] = "SELECT " USER_COLS ", password_hash FROM api_users WHERE name = ?1",
    [A_USER_LIST] = "SELECT " USER_COLS " FROM api_users ORDER BY name",
    [A_USER_DELETE] = "DELETE FROM api_users WHERE name = ?1",
};

static sqlite3_stmt *Q(store *st, int i, mp_err *e) {
    return store__ext_stmt(st, STORE__EXT_AUTH, sql_text, A__COUNT, i, "tokens", e);
}

/* ---- records ------------------------------------------------------------------- */

void store_token_free(store_token *t) {
    if (!t) return;
    free(t->id);
    free(t->user);
    free(t->namespace_);
    free(t->groups);
    free(t->description);
    memset(t, 0, sizeof *t);
}

void store_token_array_free(store_token *v, size_t n) {
    for (size_t i = 0; i < n; i++) store_token_free(&v[i]);
    free(v);
}

void store_user_free(store_user *u) {
    if (!u) return;
    free(u->name);
    memset(u, 0, sizeof *u);
}

void store_user_array_free(store_user *v, size_t n) {
    for (size_t i = 0; i < n; i++) store_user_free(&v[i]);
    free(v);
}

static void read_token(sqlite3_stmt *q, void *elem) {
    *(store_token *)elem = (store_token){.id = store__col_str(q, 0),
                                         .user = store__col_str(q, 1),
                                         .namespace_ = store__col_str(q, 2),
                                         .groups = store__col_str(q, 3),
                                         .description = store__col_str(q, 4),
                                         .created_ms = sqlite3_column_int64(q, 5),
                                         .expires_ms = sqlite3_column_int64(q, 6),
                                         .last_used_ms = sqlite3_column_int64(q, 7),
                                         .revoked_ms = sqlite3_column_int64(q, 8)};
}

static void read_user(sqlite3_stmt *q, void *elem) {
    *(store_user *)elem = (store_user){.name = store__col_str(q, 0),
                                       .admin = sqlite3_column_int(q, 1) != 0,
                                       .has_password = sqlite3_column_int(q, 2) != 0,
                                       .created_ms = sqlite3_column_int64(q, 3),
                                       .updated_ms = sqlite3_column_int64(q, 4)};
}

static void free_tokens(void *v, size_t n) { store_token_array_free(v, n); }
static void free_users(void *v, size_t n) { store_user_array_free(v, n); }

/* ---- tokens ------------------------------------------------------------------- */

/* The hex BLAKE2b-256 of the token's full text into hex (65 bytes). */
static void token_hash(const char *token, char hex[65]) {
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(hex, 65, h, sizeof h);
    sodium_memzero(h, sizeof h);
}

static bool all_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* Whether token has the shape mlp_<12 hex>_<64 hex>; its id into id (13 bytes). */
static bool token_parse(const char *token, char id[STORE_TOKEN_ID_LEN + 1]) {
    if (!token || strlen(token) != TOKEN_LEN || strncmp(token, TOKEN_PREFIX, 4) != 0) return false;
    const char *p = token + 4;
    if (!all_hex(p, STORE_TOKEN_ID_LEN) || p[STORE_TOKEN_ID_LEN] != '_') return false;
    if (!all_hex(p + STORE_TOKEN_ID_LEN + 1, STORE_TOKEN_SECRET_LEN)) return false;
    memcpy(id, p, STORE_TOKEN_ID_LEN);
    id[STORE_TOKEN_ID_LEN] = '\0';
    return true;
}

static void random_hex(char *out, size_t nbytes) {
    unsigned char b[64];
    randombytes_buf(b, nbytes);
    sodium_bin2hex(out, nbytes * 2 + 1, b, nbytes);
    sodium_memzero(b, sizeof b);
}

/* Reads the one row of the bound q into *out (when out is not NULL): 0, MP_ENOENT or an error. Resets q. */
static int read_one(store *st, sqlite3_stmt *q, void (*read)(sqlite3_stmt *, void *), void *out, const char *what,
                    const char *name, mp_err *e) {
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        if (out) read(q, out);
        sqlite3_reset(q);
        return 0;
    }
    if (rc != SQLITE_DONE) store__save_err(st);
    sqlite3_reset(q);
    if (rc == SQLITE_DONE) return mp_err_set(e, MP_ENOENT, "no %s \"%s\"", what, name);
    return store__fail(st, e, rc, "cannot read %s %s", what, name);
}

static int a_token_create(store *st, const store_token *in, char **token, store_token *out, mp_err *e) {
    *token = NULL;
    if (out) memset(out, 0, sizeof *out);
    if (!in->user || !*in->user) return mp_err_set(e, MP_EINVAL, "a token needs a user");
    if (sodium_init() < 0) return mp_err_set(e, MP_EINTERNAL, "cannot initialise libsodium");
    char id[STORE_TOKEN_ID_LEN + 1], secret[STORE_TOKEN_SECRET_LEN + 1];
    random_hex(id, STORE_TOKEN_ID_LEN / 2);
    random_hex(secret, STORE_TOKEN_SECRET_LEN / 2);
    char *text = mp_xasprintf(TOKEN_PREFIX "%s_%s", id, secret);
    sodium_memzero(secret, sizeof secret);
    char hex[65];
    token_hash(text, hex);
    sqlite3_stmt *q = Q(st, A_TOK_INSERT, e);
    if (!q) {
        sodium_memzero(text, strlen(text));
        free(text);
        return MP_ESTORE;
    }
    int64_t now = mp_now_ms();
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, in->user, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, in->namespace_ && *in->namespace_ ? in->namespace_ : "default", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, in->groups ? in->groups : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, in->description ? in->description : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, now);
    sqlite3_bind_int64(q, 7, in->expires_ms > 0 ? in->expires_ms : 0);
    sqlite3_bind_text(q, 8, hex, -1, SQLITE_STATIC);
    int rc = store__write(st, q);
    if (rc != SQLITE_DONE) {
        sodium_memzero(text, strlen(text));
        free(text);
        return store__fail(st, e, rc, "cannot record a token of user %s", in->user);
    }
    if (out && st->a->token_get(st, id, out, e) != 0) {
        sodium_memzero(text, strlen(text));
        free(text);
        return e->code;
    }
    *token = text;
    return 0;
}

static int a_token_get(store *st, const char *id, store_token *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *q = Q(st, A_TOK_GET, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    return read_one(st, q, read_token, out, "token", id, e);
}

static int a_token_verify(store *st, const char *token, int64_t now_ms, store_token *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    char id[STORE_TOKEN_ID_LEN + 1];
    if (!token_parse(token, id))
        return mp_err_set(e, MP_EPERM, "the token is not an mlplane token (mlp_<id>_<secret>, %d characters)",
                          TOKEN_LEN);
    sqlite3_stmt *q = Q(st, A_TOK_HASH, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        if (rc != SQLITE_DONE) store__save_err(st);
        sqlite3_reset(q);
        if (rc == SQLITE_DONE) return mp_err_set(e, MP_EPERM, "unknown token %s", id);
        return store__fail(st, e, rc, "cannot read token %s", id);
    }
    unsigned char want[32], got[32];
    const char *stored = (const char *)sqlite3_column_text(q, 9);
    size_t wl = 0;
    bool decoded = stored && sodium_hex2bin(want, sizeof want, stored, strlen(stored), NULL, &wl, NULL) == 0 &&
                   wl == sizeof want;
    char hex[65];
    token_hash(token, hex);
    size_t gl = 0;
    sodium_hex2bin(got, sizeof got, hex, 64, NULL, &gl, NULL);
    bool match = decoded && gl == sizeof got && sodium_memcmp(want, got, sizeof want) == 0;
    if (match) read_token(q, out);
    sqlite3_reset(q);
    if (!match) return mp_err_set(e, MP_EPERM, "the secret of token %s does not match", id);
    if (out->revoked_ms > 0) {
        store_token_free(out);
        return mp_err_set(e, MP_EPERM, "token %s was revoked", id);
    }
    if (out->expires_ms > 0 && now_ms >= out->expires_ms) {
        char when[40];
        mp_format_time(out->expires_ms, when, sizeof when);
        store_token_free(out);
        return mp_err_set(e, MP_EPERM, "token %s expired at %s; create a new one with mlplane token create", id,
                          when);
    }
    if (now_ms - out->last_used_ms >= LAST_USED_EVERY_MS && (q = Q(st, A_TOK_USED, e)) != NULL) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, now_ms);
        if (store__write(st, q) == SQLITE_DONE) out->last_used_ms = now_ms; /* a busy store only delays it */
    }
    return 0;
}

static int a_token_list(store *st, store_token **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = Q(st, A_TOK_LIST, e);
    if (!q) return MP_ESTORE;
    return store__list(st, q, sizeof **out, read_token, free_tokens, "tokens", (void **)out, n, e);
}

static int a_token_revoke(store *st, const char *id, mp_err *e) {
    store_token t;
    if (a_token_get(st, id, &t, e) != 0) return e->code;
    store_token_free(&t);
    sqlite3_stmt *q = Q(st, A_TOK_REVOKE, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, mp_now_ms());
    int rc = store__write(st, q);
    return rc == SQLITE_DONE ? 0 : store__fail(st, e, rc, "cannot revoke token %s", id);
}

/* ---- users -------------------------------------------------------------------- */

/* The Argon2id hash of password into out (crypto_pwhash_STRBYTES). */
static int pw_hash(const char *password, char out[crypto_pwhash_STRBYTES], mp_err *e) {
    if (sodium_init() < 0) return mp_err_set(e, MP_EINTERNAL, "cannot initialise libsodium");
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return mp_err_set(e, MP_EIO, "cannot hash the password: out of memory");
    return 0;
}

static int a_user_create(store *st, const char *name, const char *password, bool admin, mp_err *e) {
    if (!name || !*name) return mp_err_set(e, MP_EINVAL, "a user needs a name");
    char hash[crypto_pwhash_STRBYTES];
    if (password && pw_hash(password, hash, e) != 0) return e->code;
    sqlite3_stmt *q = Q(st, A_USER_INSERT, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (password) sqlite3_bind_text(q, 2, hash, -1, SQLITE_STATIC);
    else sqlite3_bind_null(q, 2);
    sqlite3_bind_int(q, 3, admin ? 1 : 0);
    sqlite3_bind_int64(q, 4, mp_now_ms());
    int rc = store__write(st, q);
    if (rc == SQLITE_DONE) return 0;
    rc = store__fail(st, e, rc, "cannot create user %s", name);
    if (rc == MP_EEXIST) mp_err_set(e, MP_EEXIST, "user \"%s\" already exists", name);
    return rc;
}

static int update_user(store *st, int which, const char *name, const char *text, int num, mp_err *e) {
    sqlite3_stmt *q = Q(st, which, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (text) sqlite3_bind_text(q, 2, text, -1, SQLITE_STATIC);
    else sqlite3_bind_int(q, 2, num);
    sqlite3_bind_int64(q, 3, mp_now_ms());
    int rc = store__write(st, q);
    if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot update user %s", name);
    if (store__changes(st) == 0) return mp_err_set(e, MP_ENOENT, "no user \"%s\"", name);
    return 0;
}

static int a_user_set_password(store *st, const char *name, const char *password, mp_err *e) {
    char hash[crypto_pwhash_STRBYTES];
    if (pw_hash(password, hash, e) != 0) return e->code;
    return update_user(st, A_USER_PW, name, hash, 0, e);
}

static int a_user_set_admin(store *st, const char *name, bool admin, mp_err *e) {
    return update_user(st, A_USER_ADMIN, name, NULL, admin ? 1 : 0, e);
}

static int a_user_get(store *st, const char *name, store_user *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *q = Q(st, A_USER_GET, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    return read_one(st, q, read_user, out, "user", name, e);
}

static int a_user_list(store *st, store_user **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = Q(st, A_USER_LIST, e);
    if (!q) return MP_ESTORE;
    return store__list(st, q, sizeof **out, read_user, free_users, "users", (void **)out, n, e);
}

static int a_user_delete(store *st, const char *name, mp_err *e) {
    sqlite3_stmt *q = Q(st, A_USER_DELETE, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = store__write(st, q);
    if (rc != SQLITE_DONE) return store__fail(st, e, rc, "cannot delete user %s", name);
    if (store__changes(st) == 0) return mp_err_set(e, MP_ENOENT, "no user \"%s\"", name);
    return 0;
}

static int a_user_verify(store *st, const char *name, const char *password, store_user *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *q = Q(st, A_USER_HASH, e);
    if (!q) return MP_ESTORE;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        if (rc != SQLITE_DONE) store__save_err(st);
        sqlite3_reset(q);
        if (rc == SQLITE_DONE) return mp_err_set(e, MP_EPERM, "wrong user name or password");
        return store__fail(st, e, rc, "cannot read user %s", name);
    }
    char hash[crypto_pwhash_STRBYTES] = "";
    const char *h = (const char *)sqlite3_column_text(q, 5);
    if (h) mp_strlcpy(hash, h, sizeof hash);
    read_user(q, out);
    sqlite3_reset(q);
    if (!*hash || sodium_init() < 0 || crypto_pwhash_str_verify(hash, password, strlen(password)) != 0) {
        store_user_free(out);
        return mp_err_set(e, MP_EPERM, "wrong user name or password");
    }
    return 0;
}

const store_auth_methods store__sqlite_auth = {
    .token_create = a_token_create,
    .token_verify = a_token_verify,
    .token_get = a_token_get,
    .token_list = a_token_list,
    .token_revoke = a_token_revoke,
    .user_create = a_user_create,
    .user_set_password = a_user_set_password,
    .user_set_admin = a_user_set_admin,
    .user_get = a_user_get,
    .user_list = a_user_list,
    .user_delete = a_user_delete,
    .user_verify = a_user_verify,
};
