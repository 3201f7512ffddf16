/* DTLS (RFC 6347, OpenSSL) over a message socket, usually UDP
   (libdill 2.14's dtls_*).  Each message of the socket below carries one
   datagram of records; each message of the DTLS socket is one record.

   OpenSSL never blocks here: datagrams are received outside OpenSSL (with
   the deadline, or DTLS's retransmission timer) and handed to it through
   the BIO; what OpenSSL writes goes straight out, since a datagram that
   cannot be sent now is one that was lost, which DTLS recovers from. */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/core.h"
#include "proto/layer.h"
#include "proto/tls.h"

/* Largest datagram received, and largest record payload. */
#define DILL__DTLS_DGRAM 65536
#define DILL__DTLS_REC 16384
/* Link MTU assumed for records and handshake fragments (no path MTU
   discovery: the socket below may not be UDP). */
#define DILL__DTLS_MTU 1400

struct dill__dtls_buf {
    uint8_t in[DILL__DTLS_DGRAM];    /* the datagram OpenSSL reads next */
    uint8_t plain[DILL__DTLS_REC];   /* one record's payload */
};

struct dill__dtls {
    struct dill__layer l;
    struct dill_msock_vfs mvfs;
    SSL *ssl;
    struct dill__dtls_buf *buf;
    uint32_t inlen;                  /* bytes of buf->in not yet read */
    int ioerr;                       /* hard failure seen by the BIO */
    unsigned int sdone : 1;          /* our close_notify is out */
    unsigned int rdone : 1;          /* the peer's arrived */
    unsigned int broken : 1;         /* a fatal error: ECONNRESET */
    unsigned int busy : 1;           /* a receive is running */
};

_Static_assert(sizeof(struct dill__dtls) <= sizeof(struct dill_dtls_storage),
    "dtls object must fit dtls_storage");

static const int dill__dtls_type_id = 0;
static const void *dill__dtls_type = &dill__dtls_type_id;

/******************************************************************************/
/*  BIO over the message socket                                               */
/******************************************************************************/

static int dill__dtls_bread(BIO *b, char *out, size_t len, size_t *got) {
    struct dill__dtls *self = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if(!self->inlen) {BIO_set_retry_read(b); return 0;}
    size_t n = self->inlen < len ? self->inlen : len;
    memcpy(out, self->buf->in, n);
    self->inlen = 0;
    *got = n;
    return 1;
}

static int dill__dtls_bwrite(BIO *b, const char *p, size_t len, size_t *put) {
    struct dill__dtls *self = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if(dill_msend(self->l.u, p, len, 0) < 0 && errno != ETIMEDOUT &&
       errno != EAGAIN) {
        self->ioerr = errno;
        return 0;
    }
    *put = len;
    return 1;
}

static long dill__dtls_bctrl(BIO *b, int cmd, long num, void *ptr) {
    switch(cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU: return DILL__DTLS_MTU;
    case BIO_CTRL_WPENDING: case BIO_CTRL_PENDING: return 0;
    default: return 0;
    }
}

static BIO_METHOD *dill__dtls_bmeth;
static pthread_once_t dill__dtls_once = PTHREAD_ONCE_INIT;

static void dill__dtls_binit(void) {
    dill__dtls_bmeth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
        "dill-dtls");
    if(!dill__dtls_bmeth) return;
    BIO_meth_set_read_ex(dill__dtls_bmeth, dill__dtls_bread);
    BIO_meth_set_write_ex(dill__dtls_bmeth, dill__dtls_bwrite);
    BIO_meth_set_ctrl(dill__dtls_bmeth, dill__dtls_bctrl);
}

/******************************************************************************/
/*  Driving OpenSSL                                                           */
/******************************************************************************/

/* Receives the next datagram for OpenSSL, within the deadline or until the
   retransmission timer fires (then 0).  EBADF: closed meanwhile. */
static int dill__dtls_wait(struct dill__dtls *self, int64_t deadline) {
    struct timeval tv;
    int64_t dl = deadline;
    if(DTLSv1_get_timeout(self->ssl, &tv)) {
        int64_t t = dill_now() + tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
        if(dl < 0 || t < dl) dl = t;
    }
    ssize_t n = dill_mrecv(self->l.u, self->buf->in, DILL__DTLS_DGRAM, dl);
    if(n >= 0) {self->inlen = (uint32_t)n; return 0;}
    if(errno == EBADF) return -1;
    if(errno == ETIMEDOUT && dl != deadline) {
        if(DTLSv1_handle_timeout(self->ssl) < 0) {
            ERR_clear_error();
            errno = ECONNRESET;
            return -1;
        }
        return 0;
    }
    /* A datagram too big for any record: not ours, drop it. */
    if(errno == EMSGSIZE) return 0;
    return -1;
}

/* The errno for a failed OpenSSL call whose SSL_get_error is e. */
static int dill__dtls_errno(struct dill__dtls *self, int e) {
    if(self->ioerr) {int err = self->ioerr; self->ioerr = 0; return err;}
    if(e == SSL_ERROR_ZERO_RETURN) return EPIPE;
    int err = dill__tls_queue_errno();
    return err ? err : ECONNRESET;
}

/* Runs op (handshake, read, shutdown) until it completes or fails.
   Returns its result (> 0) or -1 with errno.  rd is where SSL_read puts
   the payload. */
enum {DILL__DTLS_HANDSHAKE, DILL__DTLS_READ};

static int dill__dtls_run(struct dill__dtls *self, int op, int64_t deadline) {
    while(1) {
        if(dill__canblock() < 0) return -1;
        ERR_clear_error();
        int r = op == DILL__DTLS_HANDSHAKE ? SSL_do_handshake(self->ssl) :
            SSL_read(self->ssl, self->buf->plain, DILL__DTLS_REC);
        if(r > 0) return r;
        int e = SSL_get_error(self->ssl, r);
        if(e != SSL_ERROR_WANT_READ || self->ioerr) {
            errno = dill__dtls_errno(self, e);
            if(errno == EPIPE) self->rdone = 1;
            else self->broken = 1;
            return -1;
        }
        if(self->rdone) {errno = EPIPE; return -1;}
        if(dill__dtls_wait(self, deadline) < 0) return -1;
    }
}

/******************************************************************************/
/*  The socket                                                                */
/******************************************************************************/

static void *dill__dtls_query(struct dill_hvfs *vfs, const void *type) {
    struct dill__dtls *self = (struct dill__dtls*)vfs;
    if(type == dill_msock_type) return &self->mvfs;
    if(type == dill__dtls_type) return self;
    errno = ENOTSUP;
    return NULL;
}

static void dill__dtls_hclose(struct dill_hvfs *vfs) {
    struct dill__dtls *self = (struct dill__dtls*)vfs;
    SSL_free(self->ssl);
    free(self->buf);
    dill__layer_close(vfs);
}

static int dill__dtls_msendl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__dtls *self = dill__cont(mvfs, struct dill__dtls, mvfs);
    if(self->broken) {errno = ECONNRESET; return -1;}
    if(self->sdone) {errno = EPIPE; return -1;}
    size_t len = 0;
    for(struct dill_iolist *it = first; it; it = it->iol_next)
        len += it->iol_len;
    /* A record of its own for every message: no empty ones (OpenSSL
       cannot write them), none bigger than one datagram may carry. */
    if(len == 0) {errno = EINVAL; return -1;}
    if(len > DTLS_get_data_mtu(self->ssl) || len > DILL__DTLS_REC) {
        errno = EMSGSIZE;
        return -1;
    }
    uint8_t rec[DILL__DTLS_MTU];
    size_t off = 0;
    for(struct dill_iolist *it = first; it; it = it->iol_next) {
        memcpy(rec + off, it->iol_base, it->iol_len);
        off += it->iol_len;
    }
    ERR_clear_error();
    int r = SSL_write(self->ssl, rec, (int)len);
    if(r <= 0) {
        errno = dill__dtls_errno(self, SSL_get_error(self->ssl, r));
        self->broken = 1;
        return -1;
    }
    return 0;
}

static ssize_t dill__dtls_mrecvl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__dtls *self = dill__cont(mvfs, struct dill__dtls, mvfs);
    if(self->broken) {errno = ECONNRESET; return -1;}
    if(self->rdone) {errno = EPIPE; return -1;}
    if(self->busy) {errno = EBUSY; return -1;}
    self->busy = 1;
    int r = dill__dtls_run(self, DILL__DTLS_READ, deadline);
    if(r < 0 && errno == EBADF) return -1;
    self->busy = 0;
    if(r < 0) return -1;
    size_t cap = 0;
    for(struct dill_iolist *it = first; it; it = it->iol_next)
        cap += it->iol_len;
    if(first && (size_t)r > cap) {errno = EMSGSIZE; return -1;}
    size_t off = 0;
    for(struct dill_iolist *it = first; it && off < (size_t)r;
          it = it->iol_next) {
        size_t k = (size_t)r - off < it->iol_len ? (size_t)r - off :
            it->iol_len;
        if(it->iol_base) memcpy(it->iol_base, self->buf->plain + off, k);
        off += k;
    }
    return r;
}

/* dill__layer_make, which frees only the object itself on failure. */
static int dill__dtls_make(struct dill__dtls *self, int s) {
    SSL *ssl = self->ssl;
    struct dill__dtls_buf *buf = self->buf;
    int h = dill__layer_make(&self->l, s);
    if(h < 0) {
        int err = errno;
        SSL_free(ssl);
        free(buf);
        errno = err;
    }
    return h;
}

/* Wraps message socket s and runs the handshake.  s is closed on
   failure. */
static int dill__dtls_attach(int s, SSL_CTX *ctx, int server,
      struct dill_dtls_storage *mem, int64_t deadline) {
    pthread_once(&dill__dtls_once, dill__dtls_binit);
    struct dill__dtls *self = dill__layer_new(s, dill_msock_type, mem,
        sizeof(struct dill__dtls));
    if(!self) {SSL_CTX_free(ctx); return -1;}
    self->l.hvfs.query = dill__dtls_query;
    self->l.hvfs.close = dill__dtls_hclose;
    self->mvfs.msendl = dill__dtls_msendl;
    self->mvfs.mrecvl = dill__dtls_mrecvl;
    self->buf = malloc(sizeof(struct dill__dtls_buf));
    self->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    BIO *bio = dill__dtls_bmeth ? BIO_new(dill__dtls_bmeth) : NULL;
    if(!self->buf || !self->ssl || !bio) {
        BIO_free(bio);
        SSL_free(self->ssl);
        free(self->buf);
        if(!self->l.mem) free(self);
        ERR_clear_error();
        return dill__layer_fail(s, ENOMEM);
    }
    BIO_set_init(bio, 1);
    BIO_set_data(bio, self);
    SSL_set_bio(self->ssl, bio, bio);
    SSL_set_options(self->ssl, SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu(self->ssl, DILL__DTLS_MTU);
    if(server) SSL_set_accept_state(self->ssl);
    else SSL_set_connect_state(self->ssl);
    int h = dill__dtls_make(self, s);
    if(h < 0) return -1;
    if(dill__dtls_run(self, DILL__DTLS_HANDSHAKE, deadline) < 0) {
        int err = errno;
        if(err == EBADF) return -1;
        if(err == EPIPE) err = ECONNRESET;
        dill_hclose(h);
        errno = err;
        return -1;
    }
    return h;
}

static SSL_CTX *dill__dtls_ctx(int server, const char *cert, const char *key) {
    SSL_CTX *ctx = SSL_CTX_new(server ? DTLS_server_method() :
        DTLS_client_method());
    if(!ctx) {ERR_clear_error(); errno = ENOMEM; return NULL;}
    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_read_ahead(ctx, 1);
    if(!server) return ctx;
    int err = EINVAL;
    FILE *f;
    if(!cert || !key) goto fail;
    if(!(f = fopen(cert, "r")) || (fclose(f), !(f = fopen(key, "r")))) {
        err = errno;
        goto fail;
    }
    fclose(f);
    if(SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
       SSL_CTX_check_private_key(ctx) != 1) goto fail;
    return ctx;
fail:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    errno = err;
    return NULL;
}

static int dill__dtls_open(int s, int server, const char *cert,
      const char *key, struct dill_dtls_storage *mem, int usemem,
      int64_t deadline) {
    SSL_CTX *ctx = NULL;
    if(usemem && !mem) errno = EINVAL;
    else ctx = dill__dtls_ctx(server, cert, key);
    if(!ctx) {
        int err = errno;
        dill_hclose(s);
        errno = err;
        return -1;
    }
    return dill__dtls_attach(s, ctx, server, mem, deadline);
}

int dill_dtls_attach_client(int s, int64_t deadline) {
    return dill__dtls_open(s, 0, NULL, NULL, NULL, 0, deadline);
}

int dill_dtls_attach_client_mem(int s, struct dill_dtls_storage *mem,
      int64_t deadline) {
    return dill__dtls_open(s, 0, NULL, NULL, mem, 1, deadline);
}

int dill_dtls_attach_server(int s, const char *cert, const char *pkey,
      int64_t deadline) {
    return dill__dtls_open(s, 1, cert, pkey, NULL, 0, deadline);
}

int dill_dtls_attach_server_mem(int s, const char *cert, const char *pkey,
      struct dill_dtls_storage *mem, int64_t deadline) {
    return dill__dtls_open(s, 1, cert, pkey, mem, 1, deadline);
}

int dill_dtls_done(int s, int64_t deadline) {
    struct dill__dtls *self = dill_hquery(s, dill__dtls_type);
    if(!self) return -1;
    if(self->broken) {errno = ECONNRESET; return -1;}
    if(self->sdone) {errno = EPIPE; return -1;}
    ERR_clear_error();
    int r = SSL_shutdown(self->ssl);
    if(r < 0) {
        errno = dill__dtls_errno(self, SSL_get_error(self->ssl, r));
        self->broken = 1;
        return -1;
    }
    self->sdone = 1;
    return 0;
}

int dill_dtls_detach(int s, int64_t deadline) {
    struct dill__dtls *self = dill_hquery(s, dill__dtls_type);
    if(!self) return -1;
    int err = 0;
    if(!self->sdone && dill_dtls_done(s, deadline) < 0) err = errno;
    /* Records still coming are dropped until the peer's close_notify. */
    while(!err && !self->rdone) {
        if(self->busy) {err = EBUSY; break;}
        self->busy = 1;
        int r = dill__dtls_run(self, DILL__DTLS_READ, deadline);
        if(r < 0 && errno == EBADF) return -1;
        self->busy = 0;
        if(r < 0 && errno != EPIPE) err = errno;
    }
    return dill__layer_detach(s, dill__dtls_type, err);
}
