/* test_secrets.c — unit tests of Secrets at rest (src/store/secrets.c): keys read
 * from text (hex, base64, raw) and refused when malformed, the seal/open round
 * trip, every kind of tampering detected (ciphertext, tag, nonce, identity, key
 * id), a wrong key named by its id; the store's round trip and rotation on a real
 * SQLite file (no value in plain text in it); the spec's Secret kind and its
 * stripped text; the streaming redactor of step output (src/exec/redact.c).
 * Single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "spec/spec.h"
#include "store/store.h"
#include "unit_helpers.h"

static void key_of(unsigned char fill, store_secret_key *k) {
    unsigned char raw[32];
    memset(raw, fill, sizeof raw);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    assert_int_equal(store_secret_key_parse(hex, strlen(hex), "test", k, NULL), 0);
}

static void test_key_forms(void **state) {
    (void)state;
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    raw[5] = 0; /* raw bytes are told from text by a NUL */
    char hex[65], b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    store_secret_key a, b, c;
    assert_int_equal(store_secret_key_parse(hex, strlen(hex), "hex", &a, NULL), 0);
    char *nl = mp_xasprintf("%s\n", b64); /* a file's trailing newline */
    assert_int_equal(store_secret_key_parse(nl, strlen(nl), "b64", &b, NULL), 0);
    free(nl);
    assert_int_equal(store_secret_key_parse((const char *)raw, 32, "raw", &c, NULL), 0);
    assert_memory_equal(a.k, raw, 32);
    assert_memory_equal(b.k, raw, 32);
    assert_memory_equal(c.k, raw, 32);
    assert_string_equal(a.id, b.id);
    assert_int_equal(strlen(a.id), 16);
    mp_err e = {0};
    assert_int_equal(store_secret_key_parse("abcd", 4, "short", &a, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "32 bytes"));
    assert_int_equal(store_secret_key_parse("zz", 2, "junk", &a, &e), MP_EINVAL);
    /* 31 bytes of base64 */
    char b31[sodium_base64_ENCODED_LEN(31, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b31, sizeof b31, raw, 31, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(store_secret_key_parse(b31, strlen(b31), "31", &a, &e), MP_EINVAL);
}

static void test_no_key(void **state) {
    (void)state;
    unsetenv("MLPLANE_SECRET_KEY_FILE");
    unsetenv("MLPLANE_SECRET_KEY");
    store_secret_key k;
    mp_err e = {0};
    assert_int_equal(store_secret_key_load(NULL, &k, &e), MP_ENOENT);
    assert_non_null(strstr(e.msg, "--secret-key-file"));
    setenv("MLPLANE_SECRET_KEY", "0101010101010101010101010101010101010101010101010101010101010101", 1);
    assert_int_equal(store_secret_key_load(NULL, &k, &e), 0);
    store_secret_key same;
    key_of(1, &same);
    assert_string_equal(k.id, same.id);
    unsetenv("MLPLANE_SECRET_KEY");
}

static void test_round_trip_and_tampering(void **state) {
    (void)state;
    store_secret_key k, other;
    key_of(7, &k);
    key_of(8, &other);
    const unsigned char plain[] = "hunter2-and-more\0binary";
    size_t len = sizeof plain - 1;
    store_secret_value v;
    assert_int_equal(store_secret_seal(&k, "ns", "db", "password", plain, len, &v, NULL), 0);
    assert_int_equal(v.ct_len, len + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    assert_null(memmem(v.ct, v.ct_len, "hunter2", 7));
    assert_string_equal(v.key_id, k.id);
    unsigned char *p = NULL;
    size_t plen = 0;
    assert_int_equal(store_secret_open(&k, &v, &p, &plen, NULL), 0);
    assert_int_equal(plen, len);
    assert_memory_equal(p, plain, len);
    store_secret_wipe(p, plen + 1);

    /* two seals of one value differ (a fresh nonce each) */
    store_secret_value v2;
    assert_int_equal(store_secret_seal(&k, "ns", "db", "password", plain, len, &v2, NULL), 0);
    assert_memory_not_equal(v.nonce, v2.nonce, v.nonce_len);
    assert_memory_not_equal(v.ct, v2.ct, v.ct_len);
    store_secret_value_free(&v2);

    mp_err e = {0};
    /* another key: named by its id, not taken for tampering */
    assert_int_equal(store_secret_open(&other, &v, &p, &plen, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, k.id));
    assert_non_null(strstr(e.msg, other.id));
    assert_null(p);
    /* another key under the same id (the id edited): the tag fails */
    free(v.key_id);
    v.key_id = mp_xstrdup(other.id);
    assert_int_equal(store_secret_open(&other, &v, &p, &plen, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "altered"));
    free(v.key_id);
    v.key_id = mp_xstrdup(k.id);
    /* each byte kind flipped: ciphertext, tag, nonce */
    size_t where[] = {0, len - 1, v.ct_len - 1};
    for (size_t i = 0; i < 3; i++) {
        v.ct[where[i]] ^= 0x01;
        assert_int_equal(store_secret_open(&k, &v, &p, &plen, &e), MP_EINVAL);
        v.ct[where[i]] ^= 0x01;
    }
    v.nonce[3] ^= 0x80;
    assert_int_equal(store_secret_open(&k, &v, &p, &plen, &e), MP_EINVAL);
    v.nonce[3] ^= 0x80;
    /* moved to another key, Secret or namespace: the identity is authenticated */
    const char *fields[] = {"key", "name", "namespace"};
    for (size_t i = 0; i < 3; i++) {
        char **f = i == 0 ? &v.key : i == 1 ? &v.name : &v.namespace_;
        char *was = *f;
        *f = mp_xstrdup("elsewhere");
        assert_int_equal(store_secret_open(&k, &v, &p, &plen, &e), MP_EINVAL);
        free(*f);
        *f = was;
        (void)fields[i];
    }
    /* truncated */
    size_t keep = v.ct_len;
    v.ct_len = 3;
    assert_int_equal(store_secret_open(&k, &v, &p, &plen, &e), MP_EINVAL);
    v.ct_len = keep;
    assert_int_equal(store_secret_open(&k, &v, &p, &plen, NULL), 0); /* all restored */
    store_secret_wipe(p, plen + 1);
    store_secret_value_free(&v);
}

static bool file_has(const char *path, const char *needle) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    mp_buf b;
    mp_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) mp_buf_append(&b, chunk, n);
    fclose(f);
    bool has = b.len && memmem(b.data, b.len, needle, strlen(needle)) != NULL;
    mp_buf_free(&b);
    return has;
}

static void test_store_round_trip_and_rotate(void **state) {
    (void)state;
    char *dir = ut_scratch_dir("secrets");
    char *path = mp_xasprintf("%s/mlplane.db", dir);
    store *s = ut_store_open(path);
    store_secret_key k1, k2;
    key_of(1, &k1);
    key_of(2, &k2);
    store_secret_plain items[] = {{"user", (unsigned char *)"admin-PLAIN-one", 15},
                                  {"password", (unsigned char *)"pw-PLAIN-two", 12}};
    assert_int_equal(store_secrets_put(s, &k1, "default", "db", items, 2, NULL), 0);
    assert_int_equal(store_secrets_put(s, &k1, "team-b", "api", items, 1, NULL), 0);
    store_secret_plain *got = NULL;
    size_t n = 0;
    assert_int_equal(store_secrets_get(s, &k1, "default", "db", &got, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(got[0].key, "password"); /* by key */
    assert_string_equal((char *)got[0].value, "pw-PLAIN-two");
    assert_string_equal((char *)got[1].value, "admin-PLAIN-one");
    store_secret_plain_array_free(got, n);
    /* replaced as a whole */
    assert_int_equal(store_secrets_put(s, &k1, "default", "db", items + 1, 1, NULL), 0);
    assert_int_equal(store_secrets_get(s, &k1, "default", "db", &got, &n, NULL), 0);
    assert_int_equal(n, 1);
    store_secret_plain_array_free(got, n);
    /* a wrong old key: nothing changes */
    size_t count = 9;
    mp_err e = {0};
    assert_int_equal(store_secrets_rotate(s, &k2, &k1, &count, &e), 0); /* all already under k1: nothing to do */
    assert_int_equal(count, 0);
    store_secret_key k3;
    key_of(3, &k3);
    assert_int_equal(store_secrets_rotate(s, &k3, &k2, &count, &e), MP_EINVAL);
    assert_int_equal(count, 0);
    assert_int_equal(store_secrets_get(s, &k1, "default", "db", &got, &n, NULL), 0);
    store_secret_plain_array_free(got, n);
    /* rotated: the new key opens every value, the old one is refused */
    assert_int_equal(store_secrets_rotate(s, &k1, &k2, &count, NULL), 0);
    assert_int_equal(count, 2);
    assert_int_equal(store_secrets_get(s, &k2, "team-b", "api", &got, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal((char *)got[0].value, "admin-PLAIN-one");
    store_secret_plain_array_free(got, n);
    assert_int_equal(store_secrets_get(s, &k1, "team-b", "api", &got, &n, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "key id"));
    assert_int_equal(s->o->secret_clear(s, "team-b", "api", NULL), 0);
    assert_int_equal(store_secrets_get(s, &k2, "team-b", "api", &got, &n, NULL), 0);
    assert_int_equal(n, 0);
    free(got);
    s->m->close(s);
    char *wal = mp_xasprintf("%s-wal", path);
    assert_false(file_has(path, "PLAIN"));
    assert_false(file_has(wal, "PLAIN"));
    free(wal);
    mp_rm_rf(dir, NULL);
    free(dir);
    free(path);
}

static void test_spec_secret(void **state) {
    (void)state;
    const char *text = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ntype: Opaque\n"
                       "data: {user: YWRtaW4=, both: b2xk}\nstringData: {password: hunter2, both: new}\n"
                       "---\napiVersion: mlplane.dev/v1\nkind: PriorityClass\nmetadata: {name: hi}\nvalue: 5\n";
    spec_file *f = NULL;
    spec_diags d = {0};
    assert_int_equal(spec_load_string("s.yaml", "/tmp", text, strlen(text), &f, &d), 0);
    const spec_secret *s = f->objs[0].u.secret;
    assert_int_equal(f->objs[0].kind, SPEC_KIND_SECRET);
    assert_string_equal(s->meta.namespace_, "default");
    assert_int_equal(s->nitems, 3);
    assert_string_equal(s->items[0].key, "both");
    assert_string_equal((char *)s->items[0].value, "new"); /* stringData wins */
    assert_string_equal((char *)s->items[2].value, "admin");
    char *stripped = NULL;
    assert_int_equal(spec_secret_strip(text, &stripped, NULL), 0);
    assert_non_null(stripped);
    assert_null(strstr(stripped, "hunter2"));
    assert_null(strstr(stripped, "YWRtaW4"));
    assert_non_null(strstr(stripped, "password"));
    assert_non_null(strstr(stripped, "PriorityClass"));
    spec_file *g = NULL;
    assert_int_equal(spec_load_string("s.yaml", "/tmp", stripped, strlen(stripped), &g, &d), 0);
    assert_int_equal(g->nobjs, 2);
    assert_int_equal(g->objs[0].u.secret->nitems, 3);
    spec_file_free(g);
    free(stripped);
    spec_file_free(f);
    /* a file without Secrets is kept as it is */
    assert_int_equal(spec_secret_strip("apiVersion: v1\nkind: Node\n", &stripped, NULL), 0);
    assert_null(stripped);
    /* bad base64 and a bad key, each at its place */
    const char *bad = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  ok: '!!!'\n  'a b': eA==\n";
    assert_int_equal(spec_load_string("b.yaml", "/tmp", bad, strlen(bad), &f, &d), MP_EINVAL);
    mp_buf b;
    mp_buf_init(&b);
    spec_diags_format(&d, &b);
    assert_non_null(strstr(b.data, "b.yaml:5:7: data.ok is not base64"));
    assert_non_null(strstr(b.data, "b.yaml:6:3:"));
    mp_buf_free(&b);
    spec_diags_free(&d);
}

static void test_step_refs(void **state) {
    (void)state;
    const char *text = "apiVersion: mlplane.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  steps:\n"
                       "    - name: a\n      command: [\"true\"]\n"
                       "      env:\n        PLAIN: x\n        PW: {valueFrom: {secretKeyRef: {name: db, key: pw}}}\n"
                       "      secretFiles: [{secretRef: db, key: cert, path: tls/c.pem}, {secretRef: db, key: tok}]\n"
                       "    - name: b\n      command: [\"true\"]\n"
                       "      env:\n        - {name: PW, valueFrom: {secretKeyRef: {name: db, key: pw}}}\n";
    spec_file *f = NULL;
    spec_diags d = {0};
    assert_int_equal(spec_load_string("p.yaml", "/tmp", text, strlen(text), &f, &d), 0);
    const spec_pipeline *p = spec_file_pipeline(f);
    const spec_step *a = &p->steps[0];
    assert_int_equal(a->nenv, 1);
    assert_int_equal(a->nsecret_refs, 3);
    assert_string_equal(a->secret_refs[0].env, "PW");
    assert_string_equal(a->secret_refs[0].secret, "db");
    assert_string_equal(a->secret_refs[1].path, "tls/c.pem");
    assert_string_equal(a->secret_refs[2].path, "tok"); /* default: the key's name */
    assert_int_equal(p->steps[1].nsecret_refs, 1);
    spec_file_free(f);
    const char *bad = "apiVersion: mlplane.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  steps:\n"
                      "    - name: a\n      command: [\"true\"]\n"
                      "      env:\n        - {name: PW, value: x, valueFrom: {secretKeyRef: {name: db, key: pw}}}\n"
                      "        - {name: Q, valueFrom: {secretKeyRef: {name: db}}}\n"
                      "      secretFiles: [{secretRef: db, key: k, path: ../out}]\n";
    assert_int_equal(spec_load_string("b.yaml", "/tmp", bad, strlen(bad), &f, &d), MP_EINVAL);
    mp_buf b;
    mp_buf_init(&b);
    spec_diags_format(&d, &b);
    assert_non_null(strstr(b.data, "both value and valueFrom"));
    assert_non_null(strstr(b.data, "missing required field \"spec.steps[0].env.Q.valueFrom.secretKeyRef.key\""));
    assert_non_null(strstr(b.data, "without \"..\""));
    mp_buf_free(&b);
    spec_diags_free(&d);
}

static char *redact_all(const char *const *vals, size_t nv, const char *const *chunks, size_t nc) {
    size_t lens[8];
    for (size_t i = 0; i < nv; i++) lens[i] = strlen(vals[i]);
    exec_redactor *r = exec_redactor_new((const unsigned char *const *)vals, lens, nv);
    mp_buf out;
    mp_buf_init(&out);
    for (size_t i = 0; i < nc; i++) exec_redactor_feed(r, chunks[i], strlen(chunks[i]), false, &out);
    exec_redactor_feed(r, NULL, 0, true, &out);
    exec_redactor_free(r);
    mp_buf_putc(&out, '\0');
    return mp_buf_steal(&out);
}

static void test_redactor(void **state) {
    (void)state;
    const char *vals[] = {"hunter2", "hunter2-long", ""};
    const char *one[] = {"pw=hunter2-long and hunter2.\n"};
    char *o = redact_all(vals, 3, one, 1);
    assert_string_equal(o, "pw=*** and ***.\n"); /* longest first */
    free(o);
    const char *split[] = {"a hun", "te", "r2 b hunt", "er", "x hunter"};
    o = redact_all(vals, 2, split, 5);
    assert_string_equal(o, "a *** b hunterx hunter"); /* across reads; a prefix at the end flushed */
    free(o);
    const char *none[] = {"nothing here\n"};
    o = redact_all(vals, 2, none, 1);
    assert_string_equal(o, "nothing here\n");
    free(o);
}

int main(void) {
    assert_int_equal(mp_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_forms),
        cmocka_unit_test(test_no_key),
        cmocka_unit_test(test_round_trip_and_tampering),
        cmocka_unit_test(test_store_round_trip_and_rotate),
        cmocka_unit_test(test_spec_secret),
        cmocka_unit_test(test_step_refs),
        cmocka_unit_test(test_redactor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
