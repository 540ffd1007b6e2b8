/* secrets.c — Secrets at rest: the encryption key, sealing and opening values
 * (libsodium's XChaCha20-Poly1305, IETF construction), and the three things done
 * with a Secret's values through the store: replace them, read them, re-seal all
 * of them under a new key.
 *
 * A value is sealed with a fresh random nonce and its identity as additional
 * data ("mlplane-secret-v1" NUL NAMESPACE NUL NAME NUL KEY), so a ciphertext moved
 * to another row does not open. The key's id (16 hex digits of a keyed BLAKE2b
 * hash of the key) is kept with each value: opening with another key is reported
 * as such, naming both ids, instead of as tampering. The key is read from a key
 * file or an environment variable and never written anywhere by mlplane.
 * Plain text is held in heap buffers that are zeroed before they are freed.
 * Reentrant; no global state. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

static const char KEY_HOWTO[] =
    "give one with --secret-key-file FILE, MLPLANE_SECRET_KEY_FILE=FILE or MLPLANE_SECRET_KEY=KEY (32 bytes as 64 "
    "hex digits or base64; make one with: head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE)";

void store_secret_wipe(unsigned char *p, size_t len) {
    if (!p) return;
    sodium_memzero(p, len);
    free(p);
}

void store_secret_wipe_key(store_secret_key *k) { sodium_memzero(k, sizeof *k); }

void store_secret_value_free(store_secret_value *v) {
    if (!v) return;
    free(v->namespace_);
    free(v->name);
    free(v->key);
    free(v->key_id);
    free(v->nonce);
    free(v->ct);
    memset(v, 0, sizeof *v);
}

void store_secret_value_array_free(store_secret_value *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) store_secret_value_free(&v[i]);
    free(v);
}

void store_secret_plain_array_free(store_secret_plain *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].key);
        store_secret_wipe(v[i].value, v[i].len + 1);
    }
    free(v);
}

static void key_id(store_secret_key *k) {
    static const unsigned char label[] = "mlplane-secret-key-id-v1";
    unsigned char h[8];
    crypto_generichash(h, sizeof h, label, sizeof label - 1, k->k, sizeof k->k);
    sodium_bin2hex(k->id, sizeof k->id, h, sizeof h);
}

int store_secret_key_parse(const char *text, size_t len, const char *what, store_secret_key *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    if (len == STORE_SECRET_KEY_BYTES && memchr(text, '\0', len)) { /* raw bytes (a NUL rules out text) */
        memcpy(out->k, text, len);
        key_id(out);
        return 0;
    }
    size_t a = 0, b = len;
    while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\n' || text[a] == '\r')) a++;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\n' || text[b - 1] == '\r')) b--;
    size_t got = 0;
    int rc = -1;
    if (b - a == 2 * STORE_SECRET_KEY_BYTES)
        rc = sodium_hex2bin(out->k, sizeof out->k, text + a, b - a, NULL, &got, NULL);
    if (rc != 0 || got != STORE_SECRET_KEY_BYTES) {
        unsigned char tmp[STORE_SECRET_KEY_BYTES + 8];
        got = 0;
        rc = sodium_base642bin(tmp, sizeof tmp, text + a, b - a, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL);
        if (rc != 0) {
            got = 0;
            rc = sodium_base642bin(tmp, sizeof tmp, text + a, b - a, NULL, &got, NULL,
                                   sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
        }
        if (rc == 0 && got == STORE_SECRET_KEY_BYTES) memcpy(out->k, tmp, STORE_SECRET_KEY_BYTES);
        sodium_memzero(tmp, sizeof tmp);
    }
    if (rc != 0 || got != STORE_SECRET_KEY_BYTES) {
        sodium_memzero(out, sizeof *out);
        return mp_err_set(e, MP_EINVAL,
                          "the secret key in %s is not 32 bytes written as 64 hex digits or base64 (make one with: "
                          "head -c 32 /dev/urandom | base64)",
                          what);
    }
    key_id(out);
    return 0;
}

static int key_from_file(const char *path, store_secret_key *out, mp_err *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mp_err_set(e, MP_EINVAL, "cannot read the secret key file %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return mp_err_set(e, MP_EINVAL, "the secret key file %s is not a regular file", path);
    }
    if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        return mp_err_set(e, MP_EINVAL,
                          "the secret key file %s may be read by other users (mode %03o): make it private with "
                          "chmod 600 %s",
                          path, (unsigned)(sb.st_mode & 0777), path);
    }
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0) return mp_err_set(e, MP_EINVAL, "cannot read the secret key file %s: %s", path, strerror(errno));
    char *what = mp_xasprintf("the file %s", path);
    int rc = store_secret_key_parse(buf, (size_t)n, what, out, e);
    free(what);
    sodium_memzero(buf, sizeof buf);
    return rc;
}

int store_secret_key_load(const char *file, store_secret_key *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    if (file && *file) return key_from_file(file, out, e);
    const char *f = getenv("MLPLANE_SECRET_KEY_FILE");
    if (f && *f) return key_from_file(f, out, e);
    const char *k = getenv("MLPLANE_SECRET_KEY");
    if (k && *k) return store_secret_key_parse(k, strlen(k), "MLPLANE_SECRET_KEY", out, e);
    return mp_err_set(e, MP_ENOENT, "no secret key is given: %s", KEY_HOWTO);
}

/* The additional data of a value: its identity (heap; *len its length). */
static unsigned char *ad_of(const char *ns, const char *name, const char *key, size_t *len) {
    static const char tag[] = "mlplane-secret-v1";
    size_t a = sizeof tag, b = strlen(ns) + 1, c = strlen(name) + 1, d = strlen(key);
    unsigned char *ad = mp_xcalloc(a + b + c + d + 1, 1);
    memcpy(ad, tag, a);
    memcpy(ad + a, ns, b);
    memcpy(ad + a + b, name, c);
    memcpy(ad + a + b + c, key, d);
    *len = a + b + c + d;
    return ad;
}

int store_secret_seal(const store_secret_key *k, const char *ns, const char *name, const char *key,
                      const unsigned char *plain, size_t len, store_secret_value *out, mp_err *e) {
    memset(out, 0, sizeof *out);
    if (len > SIZE_MAX - TAG_BYTES - 1) return mp_err_set(e, MP_EINVAL, "secret %s/%s: value of %s too large", ns, name, key);
    size_t adlen;
    unsigned char *ad = ad_of(ns, name, key, &adlen);
    out->nonce = mp_xcalloc(NONCE_BYTES, 1);
    out->nonce_len = NONCE_BYTES;
    randombytes_buf(out->nonce, NONCE_BYTES);
    out->ct = mp_xcalloc(len + TAG_BYTES + 1, 1);
    unsigned long long ctlen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out->ct, &ctlen, plain, len, ad, adlen, NULL, out->nonce, k->k);
    out->ct_len = (size_t)ctlen;
    out->namespace_ = mp_xstrdup(ns);
    out->name = mp_xstrdup(name);
    out->key = mp_xstrdup(key);
    out->key_id = mp_xstrdup(k->id);
    free(ad);
    return 0;
}

int store_secret_open(const store_secret_key *k, const store_secret_value *v, unsigned char **plain, size_t *len,
                      mp_err *e) {
    *plain = NULL;
    *len = 0;
    if (v->key_id && strcmp(v->key_id, k->id) != 0)
        return mp_err_set(e, MP_EINVAL,
                          "secret %s/%s: key %s was encrypted with key id %s, but the key given has id %s (give the "
                          "key it was applied or rotated with)",
                          v->namespace_, v->name, v->key, v->key_id, k->id);
    if (v->nonce_len != NONCE_BYTES || v->ct_len < TAG_BYTES)
        return mp_err_set(e, MP_EINVAL, "secret %s/%s: key %s is not a sealed value (altered in the store?)",
                          v->namespace_, v->name, v->key);
    size_t adlen;
    unsigned char *ad = ad_of(v->namespace_, v->name, v->key, &adlen);
    unsigned char *p = mp_xcalloc(v->ct_len - TAG_BYTES + 1, 1);
    unsigned long long plen = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(p, &plen, NULL, v->ct, v->ct_len, ad, adlen, v->nonce, k->k);
    free(ad);
    if (rc != 0) {
        store_secret_wipe(p, v->ct_len - TAG_BYTES + 1);
        return mp_err_set(e, MP_EINVAL,
                          "secret %s/%s: key %s does not decrypt with key id %s: it was altered in the store (apply "
                          "the Secret again)",
                          v->namespace_, v->name, v->key, k->id);
    }
    p[plen] = '\0';
    *plain = p;
    *len = (size_t)plen;
    return 0;
}

int store_secrets_put(store *s, const store_secret_key *k, const char *ns, const char *name,
                      const store_secret_plain *items, size_t n, mp_err *e) {
    int rc = s->o->secret_clear(s, ns, name, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        store_secret_value v;
        rc = store_secret_seal(k, ns, name, items[i].key, items[i].value, items[i].len, &v, e);
        if (rc == 0) rc = s->o->secret_put(s, &v, e);
        store_secret_value_free(&v);
    }
    return rc;
}

int store_secrets_get(store *s, const store_secret_key *k, const char *ns, const char *name,
                      store_secret_plain **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    store_secret_value *v = NULL;
    size_t nv = 0;
    int rc = s->o->secret_list(s, ns, name, &v, &nv, e);
    if (rc) return rc;
    store_secret_plain *p = mp_xcalloc(nv + 1, sizeof *p);
    size_t got = 0;
    for (size_t i = 0; rc == 0 && i < nv; i++) {
        rc = store_secret_open(k, &v[i], &p[got].value, &p[got].len, e);
        if (rc == 0) p[got++].key = mp_xstrdup(v[i].key);
    }
    store_secret_value_array_free(v, nv);
    if (rc) {
        store_secret_plain_array_free(p, got);
        return rc;
    }
    *out = p;
    *n = got;
    return 0;
}

int store_secrets_rotate(store *s, const store_secret_key *old, const store_secret_key *new_key, size_t *count,
                         mp_err *e) {
    *count = 0;
    int rc = s->m->begin(s, e);
    if (rc) return rc;
    store_secret_value *v = NULL;
    size_t nv = 0;
    rc = s->o->secret_list(s, NULL, NULL, &v, &nv, e);
    for (size_t i = 0; rc == 0 && i < nv; i++) {
        unsigned char *p = NULL;
        size_t len = 0;
        if (strcmp(v[i].key_id, new_key->id) == 0) continue; /* already under the new key (a rotation redone) */
        rc = store_secret_open(old, &v[i], &p, &len, e);
        store_secret_value nv2;
        if (rc == 0) rc = store_secret_seal(new_key, v[i].namespace_, v[i].name, v[i].key, p, len, &nv2, e);
        store_secret_wipe(p, len + 1);
        if (rc == 0) {
            rc = s->o->secret_put(s, &nv2, e);
            store_secret_value_free(&nv2);
        }
        if (rc == 0) (*count)++;
    }
    store_secret_value_array_free(v, nv);
    if (rc == 0) return s->m->commit(s, e);
    s->m->rollback(s);
    *count = 0;
    return rc;
}
