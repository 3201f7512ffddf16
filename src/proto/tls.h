/* Internal interface between the TLS connection object (tls.c) and the
   OpenSSL context management (tlsctx.c). */

#ifndef DILL_PROTO_TLS_H
#define DILL_PROTO_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "libdill.h"

/* Builds an ALPN wire list (length-prefixed names) from a NULL-terminated
   array.  *out is malloc'd (NULL with *len 0 for an empty or NULL list).
   Returns 0, -EINVAL (a name empty or longer than 255 bytes, list too
   long) or -ENOMEM. */
int dill__tls_alpn_wire(const char *const *alpn, unsigned char **out,
    size_t *len);

/* A client context for opts (files are read once and cached; a cached
   context is rebuilt when one of its files changes).  With verify == 0 no
   CA store is loaded.  Returns a new reference (SSL_CTX_free it) or NULL
   with errno: EINVAL, ENOENT, EACCES, ENOMEM. */
SSL_CTX *dill__tls_client_ctx(const struct dill_tls_client_options *opts,
    int verify);

/* A server context for the given PEM files, cached like client contexts.
   Returns a new reference or NULL with errno (as dill_tls_server_ctx_new). */
SSL_CTX *dill__tls_server_ctx_files(const char *cert, const char *key);

/* Takes a reference on ctx (dill_tls_server_ctx_free releases it). */
void dill__tls_server_ctx_ref(struct dill_tls_server_ctx *ctx);

/* Maps the current thread's OpenSSL error queue after a failed handshake
   or record operation to an errno value (EACCES for certificate problems,
   ECONNRESET for a premature end, EPROTO otherwise) and clears the queue.
   Returns 0 when the queue held no SSL error. */
int dill__tls_queue_errno(void);
/* errno for a fatal alert received from the peer (EACCES for alerts about
   our certificate, EPROTO otherwise); records it for dill_tls_last_error. */
int dill__tls_alert_errno(int desc);
/* OpenSSL's key log callback, set on every context: hands the TLS 1.3
   application traffic secrets to a connection that will protect its
   records itself (tls.c). */
void dill__tls_keylog(const SSL *ssl, const char *line);
/* Records why a TLS call failed, for dill_tls_last_error (printf-style). */
void dill__tls_note(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
