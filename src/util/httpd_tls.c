/* httpd_tls.c — HTTPS for the HTTP engine (httpd.c): the certificate and key
 * of opts.tls_cert / opts.tls_key (PEM files), loaded with GnuTLS and handed
 * to libmicrohttpd on each handshake through its certificate callback
 * (MHD_OPTION_HTTPS_CERT_CALLBACK), so that util__tls_reload can swap them
 * while the server runs: new handshakes get the new pair, connections open
 * keep theirs.
 *
 * The callback has no argument of ours: it finds its engine from the
 * session's connection (libmicrohttpd sets the session pointer to it), its
 * daemon and that daemon's listening socket, in a process-wide list of the
 * engines serving TLS (at most a few).
 *
 * Threads: util__tls_open/close run on the engine's controlling thread,
 * util__tls_reload on any thread, the callback on the engine's workers. One
 * mutex (g_mu) guards the list and each engine's current pair. A pair that a
 * reload replaces is kept (GnuTLS does not copy what the callback returns, and
 * a handshake may still use it) until the engine closes. */
#include "util/httpd_int.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_CHAIN = 16 };

/* A certificate chain and its key, as GnuTLS wants them for a handshake. */
typedef struct tls_pair {
    gnutls_pcert_st pcert[MAX_CHAIN];
    unsigned n;
    gnutls_privkey_t key;
    struct tls_pair *older; /* the pairs it replaced, kept until close */
} tls_pair;

struct util__tls {
    char *cert_path, *key_path;
    int lsock;      /* the engine's listening socket: how the callback finds it */
    tls_pair *cur;  /* under g_mu */
    util__tls *next;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static util__tls *g_list;

static void pair_free(tls_pair *p) {
    while (p) {
        tls_pair *older = p->older;
        for (unsigned i = 0; i < p->n; i++) gnutls_pcert_deinit(&p->pcert[i]);
        if (p->key) gnutls_privkey_deinit(p->key);
        free(p);
        p = older;
    }
}

/* Whether the public key of key is the one of certificate pc. */
static bool key_matches(gnutls_privkey_t key, gnutls_pcert_st *pc) {
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t a = {0}, b = {0};
    bool same = false;
    if (gnutls_pubkey_init(&pub) == 0 && gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
        gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) == 0 &&
        gnutls_pubkey_export2(pc->pubkey, GNUTLS_X509_FMT_DER, &b) == 0)
        same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
    gnutls_free(a.data);
    gnutls_free(b.data);
    if (pub) gnutls_pubkey_deinit(pub);
    return same;
}

/* Reads and checks the pair of files: a new tls_pair (heap; pair_free), or an
 * error naming the file at fault. */
static int pair_load(const char *cert_path, const char *key_path, tls_pair **out, mp_err *e) {
    *out = NULL;
    char *ctext = NULL, *ktext = NULL;
    size_t clen = 0, klen = 0;
    mp_err re = {0};
    if (mp_read_file(cert_path, &ctext, &clen, &re) != 0)
        return mp_err_set(e, MP_EINVAL, "--tls-cert: %s", re.msg);
    if (mp_read_file(key_path, &ktext, &klen, &re) != 0) {
        free(ctext);
        return mp_err_set(e, MP_EINVAL, "--tls-key: %s", re.msg);
    }
    int rc = 0;
    tls_pair *p = mp_xcalloc(1, sizeof *p);
    gnutls_datum_t cd = {.data = (unsigned char *)ctext, .size = (unsigned)clen};
    gnutls_datum_t kd = {.data = (unsigned char *)ktext, .size = (unsigned)klen};
    p->n = MAX_CHAIN;
    int g = gnutls_pcert_list_import_x509_raw(p->pcert, &p->n, &cd, GNUTLS_X509_FMT_PEM, 0);
    if (g < 0) {
        p->n = 0;
        rc = mp_err_set(e, MP_EINVAL, "--tls-cert %s: not a PEM certificate (chain of at most %d): %s", cert_path,
                        MAX_CHAIN, gnutls_strerror(g));
    } else if (p->n == 0) {
        rc = mp_err_set(e, MP_EINVAL, "--tls-cert %s: no certificate in it", cert_path);
    }
    if (rc == 0) {
        g = gnutls_privkey_init(&p->key);
        if (g == 0) g = gnutls_privkey_import_x509_raw(p->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
        if (g < 0)
            rc = mp_err_set(e, MP_EINVAL, "--tls-key %s: not an unencrypted PEM private key: %s", key_path,
                            gnutls_strerror(g));
    }
    if (rc == 0 && !key_matches(p->key, &p->pcert[0]))
        rc = mp_err_set(e, MP_EINVAL, "--tls-key %s is not the key of the certificate in --tls-cert %s", key_path,
                        cert_path);
    gnutls_memset(ktext, 0, klen);
    free(ktext);
    free(ctext);
    if (rc) {
        pair_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* libmicrohttpd's certificate callback (gnutls_certificate_retrieve_function2), on a worker. */
static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                    unsigned int *pcert_length, gnutls_privkey_t *privkey) {
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    struct MHD_Connection *c = gnutls_session_get_ptr(session);
    const union MHD_ConnectionInfo *ci = c ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON) : NULL;
    const union MHD_DaemonInfo *di = ci && ci->daemon ? MHD_get_daemon_info(ci->daemon, MHD_DAEMON_INFO_LISTEN_FD) : NULL;
    int fd = di ? (int)di->listen_fd : -1;
    pthread_mutex_lock(&g_mu);
    util__tls *t = g_list;
    while (t && t->lsock != fd) t = t->next;
    if (!t && g_list && !g_list->next) t = g_list; /* one engine (a quiesced daemon has no socket) */
    int rc = -1;
    if (t && t->cur) {
        *pcert = t->cur->pcert;
        *pcert_length = t->cur->n;
        *privkey = t->cur->key;
        rc = 0;
    }
    pthread_mutex_unlock(&g_mu);
    return rc;
}

gnutls_certificate_retrieve_function2 *util__tls_callback(void) {
    return retrieve;
}

int mp_httpd_tls_check(const char *cert_path, const char *key_path, mp_err *e) {
    bool c = cert_path && *cert_path, k = key_path && *key_path;
    if (c != k)
        return mp_err_set(e, MP_EINVAL, "--tls-cert and --tls-key go together: give both (a PEM certificate and its key) or neither");
    if (!c) return 0;
    tls_pair *p = NULL;
    int rc = pair_load(cert_path, key_path, &p, e);
    pair_free(p);
    return rc;
}

int util__tls_open(const char *cert_path, const char *key_path, int lsock, util__tls **out, mp_err *e) {
    *out = NULL;
    if (!cert_path || !*cert_path || !key_path || !*key_path)
        return mp_err_set(e, MP_EINVAL, "TLS needs both a certificate (--tls-cert FILE) and its key (--tls-key FILE)");
    tls_pair *p = NULL;
    int rc = pair_load(cert_path, key_path, &p, e);
    if (rc) return rc;
    util__tls *t = mp_xcalloc(1, sizeof *t);
    t->cert_path = mp_xstrdup(cert_path);
    t->key_path = mp_xstrdup(key_path);
    t->lsock = lsock;
    t->cur = p;
    pthread_mutex_lock(&g_mu);
    t->next = g_list;
    g_list = t;
    pthread_mutex_unlock(&g_mu);
    *out = t;
    return 0;
}

int util__tls_reload(util__tls *t, mp_err *e) {
    tls_pair *p = NULL;
    int rc = pair_load(t->cert_path, t->key_path, &p, e);
    if (rc) return rc; /* the old pair goes on serving */
    pthread_mutex_lock(&g_mu);
    p->older = t->cur;
    t->cur = p;
    pthread_mutex_unlock(&g_mu);
    return 0;
}

void util__tls_close(util__tls *t) {
    if (!t) return;
    pthread_mutex_lock(&g_mu);
    for (util__tls **pp = &g_list; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    pthread_mutex_unlock(&g_mu);
    pair_free(t->cur);
    free(t->cert_path);
    free(t->key_path);
    free(t);
}
