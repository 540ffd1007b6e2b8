/* test_httpd_tls.c — the HTTP engine over HTTPS, in-process: certificates
 * made here with GnuTLS (self-signed, for 127.0.0.1), requests made with
 * libcurl verifying against one of them. The engine presents the certificate
 * of opts.tls_cert, in pool and loop_hook modes; mp_httpd_reload_tls swaps it
 * (new connections verify against the new one only), and a broken or
 * mismatched pair is refused naming the file while the old one serves; two
 * TLS engines in one process each present their own; mp_httpd_tls_check.
 * Uses MLPLANE_TEST_TMP. */
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/http.h"

static char g_dir[4096];

/* Writes DIR/NAME.pem (a self-signed certificate for 127.0.0.1, CN name) and DIR/NAME.key. */
static void make_cert(const char *name, unsigned serial) {
    gnutls_x509_privkey_t k;
    gnutls_x509_crt_t c;
    assert_int_equal(gnutls_x509_privkey_init(&k), 0);
    assert_int_equal(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
    assert_int_equal(gnutls_x509_crt_init(&c), 0);
    gnutls_x509_crt_set_version(c, 3);
    unsigned char ser[4] = {(unsigned char)(serial >> 24), (unsigned char)(serial >> 16), (unsigned char)(serial >> 8),
                            (unsigned char)serial};
    gnutls_x509_crt_set_serial(c, ser, sizeof ser);
    time_t now = time(NULL);
    gnutls_x509_crt_set_activation_time(c, now - 3600);
    gnutls_x509_crt_set_expiration_time(c, now + 86400);
    gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, name, (unsigned)strlen(name));
    gnutls_x509_crt_set_key(c, k);
    gnutls_x509_crt_set_basic_constraints(c, 1, -1);
    gnutls_x509_crt_set_key_usage(c, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN);
    unsigned char ip[4] = {127, 0, 0, 1};
    gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_IPADDRESS, ip, sizeof ip, GNUTLS_FSAN_SET);
    assert_int_equal(gnutls_x509_crt_sign2(c, c, k, GNUTLS_DIG_SHA256, 0), 0);
    gnutls_datum_t cd = {0}, kd = {0};
    assert_int_equal(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &cd), 0);
    assert_int_equal(gnutls_x509_privkey_export2_pkcs8(k, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &kd), 0);
    char path[4200];
    mp_err e = {0};
    snprintf(path, sizeof path, "%s/%s.pem", g_dir, name);
    assert_int_equal(mp_write_file_atomic(path, cd.data, cd.size, &e), 0);
    snprintf(path, sizeof path, "%s/%s.key", g_dir, name);
    assert_int_equal(mp_write_file_atomic(path, kd.data, kd.size, &e), 0);
    gnutls_free(cd.data);
    gnutls_free(kd.data);
    gnutls_x509_crt_deinit(c);
    gnutls_x509_privkey_deinit(k);
}

static char *path_of(const char *name) {
    return mp_xasprintf("%s/%s", g_dir, name);
}

/* Copies DIR/from over DIR/to (atomically). */
static void copy_file(const char *from, const char *to) {
    char *f = path_of(from), *t = path_of(to), *data = NULL;
    size_t n = 0;
    mp_err e = {0};
    assert_int_equal(mp_read_file(f, &data, &n, &e), 0);
    assert_int_equal(mp_write_file_atomic(t, data, n, &e), 0);
    free(data);
    free(f);
    free(t);
}

static int setup_all(void **state) {
    (void)state;
    const char *tmp = getenv("MLPLANE_TEST_TMP");
    if (!tmp) {
        fprintf(stderr, "MLPLANE_TEST_TMP must be set (run through ctest)\n");
        return -1;
    }
    snprintf(g_dir, sizeof g_dir, "%s/httpd-tls-%d", tmp, (int)getpid());
    mp_err e = {0};
    if (mp_rm_rf(g_dir, &e) != 0 || mp_mkdir_p(g_dir, &e) != 0) return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    make_cert("a", 1);
    make_cert("b", 2);
    return 0;
}

static int teardown_all(void **state) {
    (void)state;
    curl_global_cleanup();
    mp_rm_rf(g_dir, NULL);
    return 0;
}

static void on_req(void *cls, const mp_http_req *req, mp_http_resp *resp) {
    mp_http_text(resp, 200, "%s %s", (const char *)cls, req->path);
}

static void on_err(void *cls, mp_http_resp *resp, int status, const char *code, const char *msg) {
    (void)cls;
    mp_http_text(resp, status, "%s: %s", code, msg);
}

static void hook(void *cls) {
    (void)cls;
}

/* GET url/x on a new connection, verifying with the CA file DIR/ca: the curl
 * result; *body the answer. */
static CURLcode get(const char *url, const char *ca, mp_buf *body);

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
    mp_buf_append(ud, p, size * n);
    return size * n;
}

static CURLcode get(const char *url, const char *ca, mp_buf *body) {
    CURL *c = curl_easy_init();
    char *u = mp_xasprintf("%s/x", url), *cap = path_of(ca);
    mp_buf_init(body);
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_CAINFO, cap);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    free(u);
    free(cap);
    return rc;
}

/* Asserts that url answers "who /x" verified with ca, and fails verification with other. */
static void assert_serves(const char *url, const char *ca, const char *other, const char *who) {
    mp_buf b;
    assert_int_equal(get(url, ca, &b), CURLE_OK);
    char *want = mp_xasprintf("%s /x", who);
    assert_string_equal(b.data ? b.data : "", want);
    free(want);
    mp_buf_free(&b);
    assert_int_equal(get(url, other, &b), CURLE_PEER_FAILED_VERIFICATION);
    mp_buf_free(&b);
}

static mp_httpd *start(const char *cert, const char *key, bool loops, const char *who) {
    char *c = cert ? path_of(cert) : NULL, *k = key ? path_of(key) : NULL;
    mp_httpd_opts o = {.listen = "127.0.0.1:0", .threads = 2, .tls_cert = c, .tls_key = k, .handler = on_req,
                       .error = on_err, .cls = (void *)who, .loop_hook = loops ? hook : NULL};
    mp_httpd *s = NULL;
    mp_err e = {0};
    int rc = mp_httpd_start(&o, &s, &e);
    if (rc) fprintf(stderr, "start: %s\n", e.msg);
    assert_int_equal(rc, 0);
    free(c); /* the engine keeps copies */
    free(k);
    return s;
}

static void test_serves_and_reloads(void **state) {
    bool loops = *state != NULL;
    copy_file("a.pem", "srv.pem");
    copy_file("a.key", "srv.key");
    mp_httpd *s = start("srv.pem", "srv.key", loops, "one");
    assert_true(mp_str_starts(mp_httpd_url(s), "https://127.0.0.1:"));
    assert_serves(mp_httpd_url(s), "a.pem", "b.pem", "one");

    /* the files changed: nothing until the reload, then the new pair */
    copy_file("b.pem", "srv.pem");
    copy_file("b.key", "srv.key");
    assert_serves(mp_httpd_url(s), "a.pem", "b.pem", "one");
    mp_err e = {0};
    assert_int_equal(mp_httpd_reload_tls(s, &e), 0);
    assert_serves(mp_httpd_url(s), "b.pem", "a.pem", "one");

    /* a broken certificate: refused, named; b goes on serving */
    char *srv = path_of("srv.pem");
    const char junk[] = "-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n";
    assert_int_equal(mp_write_file_atomic(srv, junk, sizeof junk - 1, &e), 0);
    assert_int_equal(mp_httpd_reload_tls(s, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, srv));
    assert_serves(mp_httpd_url(s), "b.pem", "a.pem", "one");
    /* a key of another certificate */
    copy_file("a.pem", "srv.pem");
    assert_int_equal(mp_httpd_reload_tls(s, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "is not the key of the certificate"));
    assert_serves(mp_httpd_url(s), "b.pem", "a.pem", "one");
    /* a missing key file */
    char *key = path_of("srv.key");
    unlink(key);
    assert_int_equal(mp_httpd_reload_tls(s, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, key));
    assert_serves(mp_httpd_url(s), "b.pem", "a.pem", "one");
    /* and a good pair again */
    copy_file("a.key", "srv.key");
    assert_int_equal(mp_httpd_reload_tls(s, &e), 0);
    assert_serves(mp_httpd_url(s), "a.pem", "b.pem", "one");
    free(srv);
    free(key);
    mp_httpd_stop(s);
}

static void test_two_engines(void **state) {
    (void)state;
    mp_httpd *one = start("a.pem", "a.key", true, "one");
    mp_httpd *two = start("b.pem", "b.key", false, "two");
    mp_httpd *plain = start(NULL, NULL, false, "plain");
    assert_serves(mp_httpd_url(one), "a.pem", "b.pem", "one");
    assert_serves(mp_httpd_url(two), "b.pem", "a.pem", "two");
    assert_true(mp_str_starts(mp_httpd_url(plain), "http://"));
    mp_err e = {0};
    assert_int_equal(mp_httpd_reload_tls(plain, &e), MP_EINVAL);
    mp_httpd_stop(one);
    assert_serves(mp_httpd_url(two), "b.pem", "a.pem", "two");
    mp_httpd_stop(two);
    mp_httpd_stop(plain);
}

static void test_check(void **state) {
    (void)state;
    char *ac = path_of("a.pem"), *ak = path_of("a.key"), *bk = path_of("b.key"), *no = path_of("none.pem");
    mp_err e = {0};
    assert_int_equal(mp_httpd_tls_check(NULL, NULL, &e), 0);
    assert_int_equal(mp_httpd_tls_check(ac, ak, &e), 0);
    assert_int_equal(mp_httpd_tls_check(ac, NULL, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "go together"));
    assert_int_equal(mp_httpd_tls_check(NULL, ak, &e), MP_EINVAL);
    assert_int_equal(mp_httpd_tls_check(no, ak, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, no));
    assert_int_equal(mp_httpd_tls_check(ac, bk, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, bk));
    assert_int_equal(mp_httpd_tls_check(ak, ak, &e), MP_EINVAL);
    assert_non_null(strstr(e.msg, "not a PEM certificate"));
    /* the engine refuses the same, before listening */
    mp_httpd_opts o = {.listen = "127.0.0.1:0", .tls_cert = ac, .tls_key = bk, .handler = on_req, .error = on_err};
    mp_httpd *s = NULL;
    assert_int_equal(mp_httpd_start(&o, &s, &e), MP_EINVAL);
    assert_null(s);
    o.tls_key = NULL;
    assert_int_equal(mp_httpd_start(&o, &s, &e), MP_EINVAL);
    assert_null(s);
    free(ac);
    free(ak);
    free(bk);
    free(no);
}

int main(void) {
    static int loops_on = 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_serves_and_reloads, NULL),
        cmocka_unit_test_prestate(test_serves_and_reloads, &loops_on),
        cmocka_unit_test(test_two_engines),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
