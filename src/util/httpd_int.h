/* httpd_int.h — what the HTTP engine's files share (httpd.c and its TLS,
 * httpd_tls.c). Private to src/util. */
#ifndef MLPLANE_UTIL_HTTPD_INT_H
#define MLPLANE_UTIL_HTTPD_INT_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "util/util.h"

/* An engine's certificate and key (PEM files), reloadable. */
typedef struct util__tls util__tls;

/* Loads cert_path (the certificate, then any chain) and key_path (its
 * unencrypted private key) for the engine listening on lsock. An error names
 * the file at fault (unreadable, not PEM, a key of another certificate).
 * *out (heap) is freed by util__tls_close, after the engine's daemons stopped. */
int util__tls_open(const char *cert_path, const char *key_path, int lsock, util__tls **out, mp_err *e);
/* Rereads both files; on an error the pair loaded before goes on serving. Any thread. */
int util__tls_reload(util__tls *t, mp_err *e);
void util__tls_close(util__tls *t);
/* The certificate callback to give libmicrohttpd (MHD_OPTION_HTTPS_CERT_CALLBACK). */
gnutls_certificate_retrieve_function2 *util__tls_callback(void);

#endif
