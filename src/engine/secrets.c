/* secrets.c — the Secrets a step refers to, made concrete for one attempt:
 * env vars from `valueFrom.secretKeyRef`, files from `secretFiles` (written
 * mode 0400 under HOME/runs/RUN/STEP.secrets, which MLPLANE_SECRETS names, just
 * before the step starts, and removed when it ends), and the list of values the
 * executor masks in the step's log (each value, and each line of a value of
 * several lines). Values are opened with the environment's key
 * (store_secret_key_load) when the step is prepared; nothing here writes a value
 * to the store, an event or a message. Called on the engine's thread. */
#include "engine/engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *engine__secrets_dir(const char *outputs_dir) { return mp_xasprintf("%s.secrets", outputs_dir); }

static void add_redact(engine__prep *pr, const unsigned char *v, size_t len) {
    if (!len) return;
    for (size_t i = 0; i < pr->nredact; i++)
        if (pr->redact_len[i] == len && memcmp(pr->redact[i], v, len) == 0) return;
    pr->redact = mp_xrealloc(pr->redact, (pr->nredact + 1) * sizeof *pr->redact);
    pr->redact_len = mp_xrealloc(pr->redact_len, (pr->nredact + 1) * sizeof *pr->redact_len);
    pr->redact[pr->nredact] = mp_xcalloc(len + 1, 1);
    memcpy(pr->redact[pr->nredact], v, len);
    pr->redact_len[pr->nredact++] = len;
}

/* The value, and each line of a value of several lines (4 bytes or more). */
static void add_masks(engine__prep *pr, const unsigned char *v, size_t len) {
    add_redact(pr, v, len);
    if (!memchr(v, '\n', len)) return;
    for (size_t a = 0; a < len;) {
        size_t b = a;
        while (b < len && v[b] != '\n') b++;
        size_t e = b;
        if (e > a && v[e - 1] == '\r') e--;
        if (e - a >= 4) add_redact(pr, v + a, e - a);
        a = b + 1;
    }
}

static const store_secret_plain *find_key(const store_secret_plain *v, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].key, key) == 0) return &v[i];
    return NULL;
}

void engine__secrets_resolve(const engine__ctx *c, const spec_step *sp, const char *outputs_dir, mp_strv *env,
                             engine__prep *pr) {
    if (!sp->nsecret_refs || pr->error) return;
    const char *ns = c->p->meta.namespace_ && *c->p->meta.namespace_ ? c->p->meta.namespace_ : "default";
    store_secret_key key;
    mp_err e = {0};
    if (!c->st) {
        pr->error = mp_xasprintf("step \"%s\" uses Secrets, and this run has no store to read them from", sp->name);
        pr->reason = "SecretUnavailable";
        return;
    }
    if (store_secret_key_load(NULL, &key, &e) != 0) {
        pr->error = mp_xasprintf("step \"%s\" uses Secret \"%s\", which cannot be opened: %s", sp->name,
                                 sp->secret_refs[0].secret, e.msg);
        pr->reason = "SecretUnavailable";
        return;
    }
    crypto_generichash_state hs;
    crypto_generichash_init(&hs, key.k, sizeof key.k, 32);
    bool files = false;
    for (size_t i = 0; i < sp->nsecret_refs && !pr->error; i++) {
        const spec_secret_ref *r = &sp->secret_refs[i];
        store_secret_plain *vals = NULL;
        size_t n = 0;
        if (store_secrets_get(c->st, &key, ns, r->secret, &vals, &n, &e) != 0) {
            pr->error = mp_xasprintf("step \"%s\": cannot read Secret \"%s\": %s", sp->name, r->secret, e.msg);
        } else if (n == 0) {
            pr->error = mp_xasprintf("step \"%s\": Secret \"%s\" is not applied in namespace \"%s\" (apply it with "
                                     "`mlplane apply -f FILE`)",
                                     sp->name, r->secret, ns);
        } else {
            const store_secret_plain *v = find_key(vals, n, r->key);
            if (!v) {
                mp_buf keys;
                mp_buf_init(&keys);
                for (size_t k = 0; k < n; k++) mp_buf_printf(&keys, "%s%s", k ? ", " : "", vals[k].key);
                pr->error = mp_xasprintf("step \"%s\": Secret \"%s\" has no key \"%s\" (its keys: %s)", sp->name,
                                         r->secret, r->key, keys.data);
                mp_buf_free(&keys);
            } else if (r->env && memchr(v->value, '\0', v->len)) {
                pr->error = mp_xasprintf("step \"%s\": key \"%s\" of Secret \"%s\" holds a NUL byte and cannot be env "
                                         "var %s: give it as a file (secretFiles)",
                                         sp->name, r->key, r->secret, r->env);
            } else {
                crypto_generichash_update(&hs, (const unsigned char *)r->secret, strlen(r->secret) + 1);
                crypto_generichash_update(&hs, (const unsigned char *)r->key, strlen(r->key) + 1);
                crypto_generichash_update(&hs, v->value, v->len);
                add_masks(pr, v->value, v->len);
                if (r->env) {
                    mp_strv_push_owned(env, mp_xasprintf("%s=%s", r->env, (const char *)v->value));
                } else {
                    files = true;
                    pr->secret_files =
                        mp_xrealloc(pr->secret_files, (pr->nsecret_files + 1) * sizeof *pr->secret_files);
                    store_secret_plain *f = &pr->secret_files[pr->nsecret_files++];
                    f->key = mp_xstrdup(r->path);
                    f->value = mp_xcalloc(v->len + 1, 1);
                    memcpy(f->value, v->value, v->len);
                    f->len = v->len;
                }
            }
        }
        store_secret_plain_array_free(vals, n);
    }
    if (pr->error) pr->reason = "SecretUnavailable";
    unsigned char h[32];
    crypto_generichash_final(&hs, h, sizeof h);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    pr->secrets_digest = mp_xstrdup(hex);
    store_secret_wipe_key(&key);
    if (files && !pr->error) {
        pr->secrets_dir = engine__secrets_dir(outputs_dir);
        mp_strv_push_owned(env, mp_xasprintf("MLPLANE_SECRETS=%s", pr->secrets_dir));
    }
}

void engine__secrets_free(engine__prep *pr) {
    store_secret_plain_array_free(pr->secret_files, pr->nsecret_files);
    for (size_t i = 0; i < pr->nredact; i++) store_secret_wipe(pr->redact[i], pr->redact_len[i] + 1);
    free(pr->redact);
    free(pr->redact_len);
    free(pr->secrets_dir);
    free(pr->secrets_digest);
    pr->secret_files = NULL;
    pr->redact = NULL;
    pr->redact_len = NULL;
    pr->nsecret_files = pr->nredact = 0;
    pr->secrets_dir = pr->secrets_digest = NULL;
}

/* mkdir -p of path's parent folders below root, mode 0700. */
static int make_parents(const char *root, const char *rel, mp_err *e) {
    char *p = mp_xasprintf("%s/%s", root, rel);
    size_t rl = strlen(root);
    for (char *s = p + rl + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            int rc = mp_err_set(e, MP_EIO, "cannot make the folder %s: %s", p, strerror(errno));
            free(p);
            return rc;
        }
        *s = '/';
    }
    free(p);
    return 0;
}

int engine__secrets_write(const engine__prep *pr, mp_err *e) {
    if (!pr->secrets_dir) return 0;
    mp_rm_rf(pr->secrets_dir, NULL);
    if (mkdir(pr->secrets_dir, 0700) != 0)
        return mp_err_set(e, MP_EIO, "cannot make the folder %s: %s", pr->secrets_dir, strerror(errno));
    for (size_t i = 0; i < pr->nsecret_files; i++) {
        const store_secret_plain *f = &pr->secret_files[i];
        if (make_parents(pr->secrets_dir, f->key, e) != 0) return MP_EIO;
        char *path = mp_xasprintf("%s/%s", pr->secrets_dir, f->key);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
        int rc = 0;
        if (fd < 0) rc = mp_err_set(e, MP_EIO, "cannot write the secret file %s: %s", path, strerror(errno));
        for (size_t off = 0; rc == 0 && off < f->len;) {
            ssize_t w = write(fd, f->value + off, f->len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) rc = mp_err_set(e, MP_EIO, "cannot write the secret file %s: %s", path, strerror(errno));
            else off += (size_t)w;
        }
        if (fd >= 0) close(fd);
        free(path);
        if (rc) return rc;
    }
    return 0;
}
