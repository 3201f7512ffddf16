/* TLS connections over any dill bytestream socket.

   OpenSSL never blocks here: it talks to a custom BIO that only takes
   bytes the lower socket can give at once (deadline 0) and appends its
   output to a buffer of ours.  Waiting happens outside OpenSSL: for input
   we block on the lower socket for one byte and stash it for the BIO; for
   output we send the buffer.  So the SSL object is never in use while a
   coroutine sleeps, and one coroutine may read while another writes.

   Gathered writes (net/bsockx.h), offered when the socket below has them
   too: small writes made during one coroutine turn are copied into a
   plaintext buffer and, when the turn ends, sealed into one record and
   pushed into the gathered writes of the socket below without blocking,
   so that they leave with its one system call.  When the socket below is
   full, the record waits here and the push goes on when it reports room
   (onroom).

   Own record layer: once a TLS 1.3 handshake with one of the three
   standard AEAD suites is complete, the records are protected here
   (proto/tlsrec.h) with the traffic secrets OpenSSL hands over through its
   key log callback, and the SSL object is freed: an idle connection keeps
   two keyed cipher contexts, not OpenSSL's per-connection state, and a
   record costs one cipher call instead of OpenSSL's record machinery.
   DILL_TLS_OWNREC=0 in the environment turns this off. */

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/core.h"
#include "net/bsockx.h"
#include "proto/tls.h"
#include "proto/tlsrec.h"
#include "util/opts.h"

#define DILL__TLS_CONT(ptr, type, member) \
    ((type*)(void*)((char*)(ptr) - offsetof(type, member)))

/* Output buffer: room for four full records and the slack, so that a
   64 KiB message leaves with one send (with three, every such message
   took two sends, each waiting for the other's end: wss 64 KiB one-way
   ran at about half the rate, bench/RESULTS.md). */
#define DILL__TLS_OBUF 81920
/* Small pieces of a gather list are sent as one record. */
#define DILL__TLS_GATHER 4096
/* Room kept in the output buffer beyond the gathered plaintext: a
   record's header, tag and padding, and what a read may add (a KeyUpdate
   answer, an alert). */
#define DILL__TLS_SLACK 1024
/* Ciphertext goes into the gathered writes below in pieces of at most
   this much, so that a piece fits beside what is already there. */
#define DILL__TLS_PUSH 4096
/* Own record layer's receive buffer: four records of the largest size,
   so that several small records, or 64 KiB of big ones, come with one
   receive (a record, whole, always fits from where it starts). */
#define DILL__TLS_RXBUF (4 * DILL__TLSREC_MAXREC)
/* Records sealed with one key before we send a KeyUpdate: AES-GCM's limit
   is 2^24.5 full records (RFC 8446 5.5). */
#define DILL__TLS_REKEY ((uint64_t)1 << 24)

struct dill__tls;

/* Own record layer (see the top).  Allocated at attach when it may be
   used; until the switch it gathers what the switch needs from OpenSSL's
   callbacks. */
struct dill__tlsown {
    struct dill__tlsrec_dir rd;
    struct dill__tlsrec_dir wr;
    struct dill__tlsrec_hs hs;      /* post-handshake messages */
    uint64_t rekey;                 /* records per write key */
    struct dill__bsockx_vfs *lx;    /* the socket below's extension */
    uint8_t *rx;                    /* received records (pooled), or NULL */
    uint32_t rstart, rend;          /* rx[rstart..rend): not yet opened */
    uint32_t pstart, plen;          /* rx[pstart..+plen): plaintext */
    char *alpn;                     /* negotiated protocol, or NULL */
    uint8_t alpnlen;
    uint8_t server;
    /* Until the switch: the application traffic secrets, and the records
       written and read after each side's Finished (OpenSSL's share of the
       sequence numbers). */
    uint8_t wfin, rfin;
    uint8_t csecl, ssecl;
    uint32_t wrecs, rrecs;
    uint8_t csec[48], ssec[48];
};

/* Bytes on their way out; allocated (pooled) while there are any. */
struct dill__tlstx {
    struct dill__defer d;          /* end of turn: seal and push */
    struct dill__tls *self;
    /* The layer above waits for room here (our onroom), or NULL. */
    struct dill__defer *room;
    uint32_t glen;                 /* gathered plaintext: g[0..glen) */
    uint32_t olen;                 /* ciphertext to send: o[0..olen) */
    uint8_t waiting;               /* our onroom request is below */
    uint8_t g[DILL__BSOCKX_GATHER_MAX];
    uint8_t o[DILL__TLS_OBUF];
};

struct dill__tls {
    struct dill_hvfs hvfs;
    struct dill_bsock_vfs bvfs;
    struct dill__bsockx_vfs xvfs;
    /* OpenSSL until the switch to the own record layer (isown), then
       ours: one pointer, as the object must fit tls_storage. */
    union {
        SSL *ssl;
        struct dill__tlsown *own;
    };
    struct dill__tlstx *tx;         /* bytes on their way out, or NULL */
    int u;                          /* lower socket; -1 once detached */
    uint8_t stage;                  /* byte taken while waiting for input */
    unsigned int staged : 1;
    unsigned int leof : 1;          /* lower socket reported its end */
    unsigned int indone : 1;        /* close_notify received: EPIPE */
    unsigned int inerr : 1;         /* receive side broken: ECONNRESET */
    unsigned int outdone : 1;       /* close_notify sent: EPIPE */
    unsigned int outerr : 1;        /* send side broken: ECONNRESET */
    unsigned int flushing : 1;      /* a coroutine is sending tx->o */
    unsigned int rbusy : 1;         /* a receive is in progress */
    unsigned int wbusy : 1;         /* a send is in progress */
    unsigned int mem : 1;           /* caller's storage */
    unsigned int isown : 1;         /* own record layer: own, not ssl */
    /* Held by every call that may sleep (core.h). */
    struct dill__pin pin;
};

_Static_assert(sizeof(struct dill__tls) <= sizeof(struct dill_tls_storage),
    "tls object must fit tls_storage");

static const int dill__tls_type_id = 0;
static const void *dill__tls_type = &dill__tls_type_id;

/* Hard failure reported by the BIO during one OpenSSL call.  OpenSSL calls
   never block, so no other coroutine runs between setting and reading. */
static __thread int dill__tls_ioerr
    __attribute__((tls_model("initial-exec")));

/******************************************************************************/
/*  BIO over the lower socket                                                 */
/******************************************************************************/

/* Takes what the lower socket has right now.  Returns the count, 0 at its
   end, -1 with ETIMEDOUT when nothing is there, or -1 with another errno. */
static ssize_t dill__tls_lowread(int u, void *buf, size_t len) {
    struct dill__bsockx_vfs *x = dill_hquery(u, dill__bsockx_type);
    if(x) {
        ssize_t r = x->ops->brecvsome(x, buf, len, 0);
        if(r < 0 && errno == EPIPE) return 0;
        return r;
    }
    if(errno != ENOTSUP) return -1;
    /* A plain bytestream: byte by byte, as long as bytes come. */
    size_t n = 0;
    while(n < len && dill_brecv(u, (uint8_t*)buf + n, 1, 0) == 0) n++;
    if(n) return (ssize_t)n;
    return errno == EPIPE ? 0 : -1;
}

static int dill__tls_bread(BIO *b, char *buf, size_t len, size_t *got) {
    struct dill__tls *self = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if(len == 0) {*got = 0; return 1;}
    size_t n = 0;
    if(self->staged) {
        buf[0] = (char)self->stage;
        self->staged = 0;
        n = 1;
        if(len == 1 || self->leof) {*got = n; return 1;}
    }
    if(self->leof) return 0;
    ssize_t r = dill__tls_lowread(self->u, buf + n, len - n);
    if(r > 0) {*got = n + (size_t)r; return 1;}
    if(r == 0) self->leof = 1;
    else if(errno != ETIMEDOUT) dill__tls_ioerr = errno;
    if(n) {*got = n; return 1;}
    if(r < 0 && errno == ETIMEDOUT) BIO_set_retry_read(b);
    return 0;
}

static struct dill__tlstx *dill__tls_tx(struct dill__tls *self);
static void dill__tls_ownsealg(struct dill__tls *self);

static int dill__tls_bwrite(BIO *b, const char *buf, size_t len,
      size_t *put) {
    struct dill__tls *self = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    struct dill__tlstx *tx = dill__tls_tx(self);
    if(!tx) {dill__tls_ioerr = ENOMEM; return 0;}
    size_t room = DILL__TLS_OBUF - tx->olen;
    if(room == 0) {BIO_set_retry_write(b); return 0;}
    size_t n = len < room ? len : room;
    memcpy(tx->o + tx->olen, buf, n);
    tx->olen += (uint32_t)n;
    *put = n;
    return 1;
}

static long dill__tls_bctrl(BIO *b, int cmd, long num, void *ptr) {
    /* Flushing happens outside OpenSSL; tell it the data is on its way. */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int dill__tls_bcreate(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *dill__tls_bmeth;
static pthread_once_t dill__tls_bonce = PTHREAD_ONCE_INIT;
static int dill__tls_ownidx = -1;
static void dill__tls_ownexfree(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
    int idx, long argl, void *argp);

static void dill__tls_bterm(void) {
    BIO_meth_free(dill__tls_bmeth);
    dill__tls_bmeth = NULL;
}

static void dill__tls_binit(void) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
        "dill bytestream");
    if(!m) return;
    BIO_meth_set_read_ex(m, dill__tls_bread);
    BIO_meth_set_write_ex(m, dill__tls_bwrite);
    BIO_meth_set_ctrl(m, dill__tls_bctrl);
    BIO_meth_set_create(m, dill__tls_bcreate);
    dill__tls_ownidx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
        dill__tls_ownexfree);
    dill__tls_bmeth = m;
    OPENSSL_atexit(dill__tls_bterm);
}

/******************************************************************************/
/*  Waiting and errors                                                        */
/******************************************************************************/

static void dill__tls_txidle(struct dill__tls *self);

/* Sends the ciphertext (through the socket below, after whatever it has
   gathered).  When another coroutine is already sending, our bytes are
   behind its bytes and it sends them too (returns 0 at once).  Any failure
   breaks the send side: records already made cannot be taken back. */
static int dill__tls_flush(struct dill__tls *self, int64_t deadline) {
    struct dill__tlstx *tx = self->tx;
    if(self->flushing || !tx || !tx->olen) return 0;
    if(self->outerr) {errno = ECONNRESET; return -1;}
    self->flushing = 1;
    while(tx->olen) {
        uint32_t n = tx->olen;
        int rc = dill_bsend(self->u, tx->o, n, deadline);
        if(rc < 0) {
            int err = errno;
            self->flushing = 0;
            self->outerr = 1;
            errno = err == EPIPE ? ECONNRESET : err;
            return -1;
        }
        /* Bytes added meanwhile (only at the end: o never moves while it
           is being sent). */
        memmove(tx->o, tx->o + n, tx->olen - n);
        tx->olen -= n;
    }
    self->flushing = 0;
    dill__tls_txidle(self);
    return 0;
}

/* Makes room in the output buffer for OpenSSL (it asked to write more). */
static int dill__tls_room(struct dill__tls *self, int64_t deadline) {
    if(self->flushing) {errno = EBUSY; return -1;}
    return dill__tls_flush(self, deadline);
}

/* Blocks until the lower socket has input (its first byte is stashed) or
   has ended. */
static int dill__tls_wait(struct dill__tls *self, int64_t deadline) {
    if(self->staged || self->leof) return 0;
    uint8_t c;
    int rc;
    struct dill__bsockx_vfs *x = dill_hquery(self->u, dill__bsockx_type);
    if(x) {
        rc = x->ops->brecvsome(x, &c, 1, deadline) == 1 ? 0 : -1;
    } else {
        if(errno != ENOTSUP) return -1;
        rc = dill_brecv(self->u, &c, 1, deadline);
    }
    if(rc == 0) {
        self->stage = c;
        self->staged = 1;
        return 0;
    }
    if(errno == EPIPE) {self->leof = 1; return 0;}
    return -1;
}

/* errno for a failed OpenSSL call on self whose SSL_get_error was e.
   Clears the error queue. */
static int dill__tls_errno(struct dill__tls *self, int e) {
    int err = 0;
    if(e == SSL_ERROR_ZERO_RETURN) err = EPIPE;
    int queued = 0;
    if(e == SSL_ERROR_SSL) err = queued = dill__tls_queue_errno();
    if(!err && dill__tls_ioerr) err = dill__tls_ioerr;
    if(!err && e == SSL_ERROR_SYSCALL) err = ECONNRESET;
    if(!err) err = EPROTO;
    if(err == EPIPE && e != SSL_ERROR_ZERO_RETURN) err = ECONNRESET;
    /* dill__tls_queue_errno described what it found; else say the errno. */
    if(e != SSL_ERROR_SSL || err != queued) dill__tls_note("%s", strerror(err));
    /* A failed certificate check explains whatever error it caused. */
    long vr = SSL_get_verify_result(self->ssl);
    if(vr != X509_V_OK && SSL_get_verify_mode(self->ssl) != SSL_VERIFY_NONE) {
        err = EACCES;
        dill__tls_note("certificate verification failed: %s",
            X509_verify_cert_error_string(vr));
    }
    ERR_clear_error();
    return err;
}

static void dill__tls_callstart(void) {
    ERR_clear_error();
    dill__tls_ioerr = 0;
}

/******************************************************************************/
/*  Gathered writes                                                           */
/******************************************************************************/

static void dill__tls_txrun(struct dill__defer *d);

static struct dill__tlstx *dill__tls_tx(struct dill__tls *self) {
    if(self->tx) return self->tx;
    struct dill__tlstx *tx = dill__pool_get(DILL__POOL_TLSTX, sizeof(*tx));
    if(!tx) {errno = ENOMEM; return NULL;}
    dill__defer_init(&tx->d, dill__tls_txrun);
    tx->self = self;
    tx->room = NULL;
    tx->glen = 0;
    tx->olen = 0;
    tx->waiting = 0;
    self->tx = tx;
    return tx;
}

/* Tells the layer above (if it waits) that our buffer has room. */
static void dill__tls_txroom(struct dill__tlstx *tx) {
    if(tx->room) {
        dill__defer(tx->room);
        tx->room = NULL;
    }
}

/* Releases the block, whatever it holds.  The socket below must still be
   open if our onroom request may be there. */
static void dill__tls_txdrop(struct dill__tls *self) {
    struct dill__tlstx *tx = self->tx;
    dill__tls_txroom(tx);
    dill__undefer(&tx->d);
    if(tx->waiting) {
        struct dill__bsockx_vfs *x = dill_hquery(self->u, dill__bsockx_type);
        if(x) x->ops->onroom(x, NULL);
    }
    self->tx = NULL;
    dill__pool_put(DILL__POOL_TLSTX, tx);
}

/* Releases the block once nothing is on its way out and nobody is in the
   middle of sending it. */
static void dill__tls_txidle(struct dill__tls *self) {
    struct dill__tlstx *tx = self->tx;
    if(!tx || self->flushing || self->wbusy) return;
    if(tx->glen) dill__defer(&tx->d);
    else if(!tx->olen) dill__tls_txdrop(self);
}

/* Whether n more bytes of plaintext fit in the record being gathered and
   its ciphertext will fit in the output buffer. */
static int dill__tls_fits(struct dill__tlstx *tx, size_t n) {
    return tx->glen + n <= DILL__BSOCKX_GATHER_MAX &&
        tx->olen + tx->glen + n + DILL__TLS_SLACK <= DILL__TLS_OBUF;
}

/* Encrypts the gathered plaintext into one record at the end of the
   output buffer, if it fits there (else later, after a push).  Never
   blocks; not while a write holds wbusy (OpenSSL may be waiting for that
   write's retry).  A failure breaks the send side. */
static void dill__tls_seal(struct dill__tls *self) {
    struct dill__tlstx *tx = self->tx;
    if(!tx || !tx->glen || self->wbusy || self->outerr) return;
    if(self->isown) {dill__tls_ownsealg(self); return;}
    if(!dill__tls_fits(tx, 0)) return;
    dill__tls_callstart();
    size_t n = 0;
    int r = SSL_write_ex(self->ssl, tx->g, tx->glen, &n);
    tx->glen = 0;
    if(r == 1) return;
    /* Also WANT_WRITE, which the room kept makes impossible: the record
       would be half made. */
    int err = dill__tls_errno(self, SSL_get_error(self->ssl, r));
    (void)err;
    self->outerr = 1;
}

/* Moves ciphertext into the gathered writes of the socket below without
   blocking; when they are full, asks to be run again once they have
   room.  Not while a coroutine is sending the buffer (it sends it all). */
static void dill__tls_push(struct dill__tls *self) {
    struct dill__tlstx *tx = self->tx;
    if(!tx || !tx->olen || self->flushing) return;
    struct dill__bsockx_vfs *x = dill_hquery(self->u, dill__bsockx_type);
    uint32_t off = 0;
    while(off < tx->olen) {
        size_t k = tx->olen - off;
        if(k > DILL__TLS_PUSH) k = DILL__TLS_PUSH;
        uint8_t *p = x ? x->ops->reserve(x, k, 0) : NULL;
        if(!p) {
            if(x && errno == ETIMEDOUT) {
                x->ops->onroom(x, &tx->d);
                tx->waiting = 1;
                break;
            }
            /* The bytes are lost: the stream cannot go on. */
            self->outerr = 1;
            off = tx->olen;
            tx->glen = 0;
            break;
        }
        memcpy(p, tx->o + off, k);
        x->ops->commit(x, k);
        off += (uint32_t)k;
    }
    if(!off) return;
    memmove(tx->o, tx->o + off, tx->olen - off);
    tx->olen -= off;
    dill__tls_txroom(tx);
}

/* End of the turn (or room below): seal what was gathered, push it.
   Runs from the scheduler: errno is kept. */
static void dill__tls_txrun(struct dill__defer *d) {
    struct dill__tlstx *tx = dill__cont(d, struct dill__tlstx, d);
    struct dill__tls *self = tx->self;
    int err = errno;
    dill__tls_push(self);
    dill__tls_seal(self);
    dill__tls_push(self);
    if(self->outerr) {
        tx->glen = 0;
        if(!self->flushing) tx->olen = 0;
    }
    if(!self->flushing && !self->wbusy && !tx->glen && !tx->olen)
        dill__tls_txdrop(self);
    errno = err;
}

/* Seals the gathered plaintext, first making room in the output buffer
   (blocking until the deadline).  The caller holds wbusy, which it lends
   to nobody: sealing runs with it cleared. */
static int dill__tls_sealwait(struct dill__tls *self, int64_t deadline) {
    struct dill__tlstx *tx = self->tx;
    if(!tx || !tx->glen) return 0;
    if(!dill__tls_fits(tx, 0) && dill__tls_flush(self, deadline) < 0)
        return -1;
    self->wbusy = 0;
    dill__tls_seal(self);
    self->wbusy = 1;
    if(self->outerr) {errno = ECONNRESET; return -1;}
    return 0;
}

static struct dill__tls *dill__tls_x(struct dill__bsockx_vfs *x);
static int dill__tls_wcheck(struct dill__tls *self);

static uint8_t *dill__tls_xreserve(struct dill__bsockx_vfs *x, size_t n,
      int64_t deadline) {
    struct dill__tls *self = dill__tls_x(x);
    if(dill__tls_wcheck(self) < 0) return NULL;
    if(n > DILL__BSOCKX_GATHER_MAX) {errno = EINVAL; return NULL;}
    struct dill__tlstx *tx = dill__tls_tx(self);
    if(!tx) return NULL;
    if(dill__tls_fits(tx, n)) return tx->g + tx->glen;
    if(deadline == 0) {
        /* Never waiting: whatever goes below now. */
        dill__tls_push(self);
        dill__tls_seal(self);
        dill__tls_push(self);
        if(self->outerr) {errno = ECONNRESET; return NULL;}
        if(!dill__tls_fits(tx, n)) {errno = ETIMEDOUT; return NULL;}
        return tx->g + tx->glen;
    }
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    self->wbusy = 1;
    int rc = dill__tls_sealwait(self, deadline);
    if(rc == 0 && !dill__tls_fits(self->tx, n))
        rc = dill__tls_flush(self, deadline);
    self->wbusy = 0;
    if(dill__unpin(&self->pin, &pr) < 0) return NULL;
    if(rc < 0) return NULL;
    /* The flush may have released the block. */
    tx = dill__tls_tx(self);
    if(!tx) return NULL;
    return tx->g + tx->glen;
}

static void dill__tls_xcommit(struct dill__bsockx_vfs *x, size_t n) {
    struct dill__tlstx *tx = dill__tls_x(x)->tx;
    tx->glen += (uint32_t)n;
    dill__defer(&tx->d);
}

static void dill__tls_xonroom(struct dill__bsockx_vfs *x,
      struct dill__defer *d) {
    struct dill__tls *self = dill__tls_x(x);
    if(self->tx) self->tx->room = d;
    else if(d) dill__defer(d);
}

/******************************************************************************/
/*  Own record layer                                                          */
/******************************************************************************/

static void dill__tls_ownfree(struct dill__tlsown *o) {
    if(!o) return;
    dill__tlsrec_term(&o->rd);
    dill__tlsrec_term(&o->wr);
    dill__pool_put(DILL__POOL_TLSRX, o->rx);
    free(o->alpn);
    OPENSSL_cleanse(o->csec, sizeof(o->csec));
    OPENSSL_cleanse(o->ssec, sizeof(o->ssec));
    free(o);
}

/* An SSL object freed before the switch (a failed handshake, TLS 1.2)
   takes the state with it. */
static void dill__tls_ownexfree(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
      int idx, long argl, void *argp) {
    dill__tls_ownfree(ptr);
}

void dill__tls_keylog(const SSL *ssl, const char *line) {
    if(dill__tls_ownidx < 0) return;
    struct dill__tlsown *o = SSL_get_ex_data(ssl, dill__tls_ownidx);
    if(!o) return;
    uint8_t *sec;
    uint8_t *len;
    if(strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0) {
        sec = o->csec;
        len = &o->csecl;
    } else if(strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0) {
        sec = o->ssec;
        len = &o->ssecl;
    } else {
        return;
    }
    /* Then the client random, then the secret, in hex. */
    const char *p = strchr(line + 24, ' ');
    if(!p) return;
    p++;
    size_t n = 0;
    while(n < 48 && p[0] && p[1]) {
        unsigned int b = 0;
        for(int i = 0; i != 2; i++) {
            char c = p[i];
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
                c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if(v < 0) return;
            b = b * 16 + (unsigned int)v;
        }
        sec[n++] = (uint8_t)b;
        p += 2;
    }
    if(*p) return;
    *len = (uint8_t)n;
}

/* Counts the records each side protected with its application key before
   the switch: those after its Finished message (the server's session
   tickets).  OpenSSL reports a written handshake message after the
   records that carry it, and a read one after reading all of them. */
static void dill__tls_msgcb(int write_p, int version, int content_type,
      const void *buf, size_t len, SSL *ssl, void *arg) {
    struct dill__tlsown *o = arg;
    if(content_type == SSL3_RT_HANDSHAKE && len &&
       *(const uint8_t*)buf == SSL3_MT_FINISHED) {
        if(write_p) {o->wfin = 1; o->wrecs = 0;}
        else {o->rfin = 1; o->rrecs = 0;}
    } else if(content_type == SSL3_RT_HEADER) {
        if(write_p && o->wfin) o->wrecs++;
        if(!write_p && o->rfin) o->rrecs++;
    }
}

/* Whether new connections use the own record layer (DILL_TLS_OWNREC). */
static int dill__tls_ownwanted(void) {
    const char *e = getenv("DILL_TLS_OWNREC");
    return !e || strcmp(e, "0") != 0;
}

/* Before the handshake: prepares the switch when it is possible. */
static void dill__tls_ownprep(struct dill__tls *self, int server) {
    struct dill__bsockx_vfs *lx = dill_hquery(self->u, dill__bsockx_type);
    if(dill__tls_ownidx < 0 || !dill__tls_ownwanted() || !lx) return;
    struct dill__tlsown *o = calloc(1, sizeof(*o));
    if(!o) return;
    o->lx = lx;
    if(SSL_set_ex_data(self->ssl, dill__tls_ownidx, o) != 1) {
        free(o);
        return;
    }
    o->server = server ? 1 : 0;
    o->rekey = DILL__TLS_REKEY;
    const char *e = getenv("DILL_TLS_OWNREC_REKEY");
    if(e && strtoull(e, NULL, 10) > 0) o->rekey = strtoull(e, NULL, 10);
    SSL_set_msg_callback(self->ssl, dill__tls_msgcb);
    SSL_set_msg_callback_arg(self->ssl, o);
}

/* After the handshake: takes the records over from OpenSSL when the
   connection is TLS 1.3 with a suite of ours and OpenSSL holds nothing
   it has read, then frees the SSL object.  Else OpenSSL goes on. */
static void dill__tls_ownswitch(struct dill__tls *self) {
    struct dill__tlsown *o = SSL_get_ex_data(self->ssl, dill__tls_ownidx);
    if(!o) return;
    SSL_set_ex_data(self->ssl, dill__tls_ownidx, NULL);
    SSL_set_msg_callback(self->ssl, NULL);
    const SSL_CIPHER *c = SSL_get_current_cipher(self->ssl);
    uint16_t suite = c ? SSL_CIPHER_get_protocol_id(c) : 0;
    size_t hl = suite == DILL__TLSREC_AES256GCM ? 48 : 32;
    if(SSL_version(self->ssl) != TLS1_3_VERSION ||
       !dill__tlsrec_supported(suite) || SSL_has_pending(self->ssl) ||
       self->leof || o->csecl != hl || o->ssecl != hl || !o->wfin ||
       !o->rfin)
        goto keep;
    uint8_t *ws = o->server ? o->ssec : o->csec;
    uint8_t *rs = o->server ? o->csec : o->ssec;
    if(dill__tlsrec_init(&o->wr, suite, 1, ws, hl) < 0 ||
       dill__tlsrec_init(&o->rd, suite, 0, rs, hl) < 0)
        goto keep;
    o->wr.seq = o->wrecs;
    o->rd.seq = o->rrecs;
    OPENSSL_cleanse(o->csec, sizeof(o->csec));
    OPENSSL_cleanse(o->ssec, sizeof(o->ssec));
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(self->ssl, &p, &n);
    if(p && n) {
        o->alpn = malloc(n);
        if(!o->alpn) goto keep;
        memcpy(o->alpn, p, n);
        o->alpnlen = (uint8_t)n;
    }
    /* A byte staged for OpenSSL (self->stage) is the first of ours. */
    /* Nothing was wrong with the connection: its session stays
       resumable. */
    SSL_set_shutdown(self->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(self->ssl);
    self->own = o;
    self->isown = 1;
    return;
keep:
    dill__tls_ownfree(o);
}

/* Gives the receive buffer back once nothing is left in it. */
static void dill__tls_rxidle(struct dill__tlsown *o) {
    if(o->plen || o->rstart != o->rend) return;
    dill__pool_put(DILL__POOL_TLSRX, o->rx);
    o->rx = NULL;
    o->rstart = o->rend = 0;
}

/* Appends one record to the output buffer, which has room for it and
   DILL__TLS_SLACK more (a KeyUpdate first when the write key is spent). */
static int dill__tls_ownseal(struct dill__tls *self, uint8_t type,
      const uint8_t *p, size_t n) {
    struct dill__tlsown *o = self->own;
    struct dill__tlstx *tx = self->tx;
    if(o->wr.seq >= o->rekey) {
        const uint8_t ku[5] = {24, 0, 0, 1, 0};
        ssize_t r = dill__tlsrec_seal(&o->wr, DILL__TLSREC_HANDSHAKE, ku, 5,
            0, tx->o + tx->olen, DILL__TLS_OBUF - tx->olen);
        if(r < 0) return -1;
        tx->olen += (uint32_t)r;
        if(dill__tlsrec_update(&o->wr) < 0) return -1;
    }
    ssize_t r = dill__tlsrec_seal(&o->wr, type, p, n, 0, tx->o + tx->olen,
        DILL__TLS_OBUF - tx->olen);
    if(r < 0) return -1;
    tx->olen += (uint32_t)r;
    return 0;
}

/* Seals the gathered plaintext: straight into the gathered writes below
   when nothing of ours is waiting before it, else into the output buffer
   (if it fits there: else later).  A failure breaks the send side. */
static void dill__tls_ownsealg(struct dill__tls *self) {
    struct dill__tlsown *o = self->own;
    struct dill__tlstx *tx = self->tx;
    size_t need = tx->glen + DILL__TLSREC_OVERHEAD;
    if(!tx->olen && !self->flushing && o->wr.seq < o->rekey &&
       need <= DILL__BSOCKX_GATHER_MAX) {
        struct dill__bsockx_vfs *x = o->lx;
        uint8_t *p = dill__bsockx_gathers(x) ? x->ops->reserve(x, need, 0) :
            NULL;
        if(p) {
            if(dill__tlsrec_seal(&o->wr, DILL__TLSREC_APPDATA, tx->g,
               tx->glen, 0, p, need) < 0)
                self->outerr = 1;
            else
                x->ops->commit(x, need);
            tx->glen = 0;
            return;
        }
        if(dill__bsockx_gathers(x) && errno != ETIMEDOUT) {
            self->outerr = 1;
            tx->glen = 0;
            return;
        }
    }
    if(!dill__tls_fits(tx, 0)) return;
    if(dill__tls_ownseal(self, DILL__TLSREC_APPDATA, tx->g, tx->glen) < 0)
        self->outerr = 1;
    tx->glen = 0;
}

/* Seals all of buf into records in the output buffer, sending whenever it
   fills up.  The caller holds wbusy. */
static int dill__tls_ownwrite(struct dill__tls *self, const void *buf,
      size_t len, int64_t deadline) {
    const uint8_t *p = buf;
    while(len) {
        size_t n = len < DILL__TLSREC_MAXPT ? len : DILL__TLSREC_MAXPT;
        struct dill__tlstx *tx = dill__tls_tx(self);
        if(!tx) return -1;
        if(tx->olen + n + DILL__TLSREC_OVERHEAD + DILL__TLS_SLACK >
           DILL__TLS_OBUF) {
            if(dill__tls_room(self, deadline) < 0) return -1;
            continue;
        }
        if(dill__tls_ownseal(self, DILL__TLSREC_APPDATA, p, n) < 0) {
            errno = ECONNRESET;
            return -1;
        }
        p += n;
        len -= n;
    }
    return 0;
}

/* Queues a small record of ours (an alert, a KeyUpdate answer) after what
   is already in the output buffer.  Nothing goes out after close_notify
   or once the send side is broken. */
static int dill__tls_ownctl(struct dill__tls *self, uint8_t type,
      const uint8_t *p, size_t n) {
    if(self->outdone || self->outerr) return -1;
    struct dill__tlstx *tx = dill__tls_tx(self);
    if(!tx || tx->olen + n + DILL__TLSREC_OVERHEAD > DILL__TLS_OBUF)
        return -1;
    ssize_t r = dill__tlsrec_seal(&self->own->wr, type, p, n, 0,
        tx->o + tx->olen, DILL__TLS_OBUF - tx->olen);
    if(r < 0) return -1;
    tx->olen += (uint32_t)r;
    return 0;
}

/* The peer broke the protocol (alert is what we tell it): both sides of
   the connection are done.  Returns -1 with EPROTO. */
static ssize_t dill__tls_ownfail(struct dill__tls *self, int alert) {
    const uint8_t a[2] = {2, (uint8_t)alert};
    if(dill__tls_ownctl(self, DILL__TLSREC_ALERT, a, 2) == 0) {
        /* Without blocking: at the end of the turn, or now if it fits. */
        if(dill__bsockx_gathers(&self->xvfs)) dill__defer(&self->tx->d);
        else dill__tls_flush(self, 0);
    }
    dill__tls_note("%s", SSL_alert_desc_string_long(alert));
    self->inerr = 1;
    self->outerr = 1;
    errno = EPROTO;
    return -1;
}

/* Post-handshake messages: tickets are dropped (nothing here resumes
   sessions); a KeyUpdate changes the read key, and when the peer asks,
   ours too (after telling it so). */
static ssize_t dill__tls_ownhs(struct dill__tls *self, const uint8_t *p,
      size_t n) {
    struct dill__tlsown *o = self->own;
    int ku = 0;
    int rc = dill__tlsrec_hsfeed(&o->hs, p, n, o->server, &ku);
    if(rc < 0) return dill__tls_ownfail(self, -rc);
    if(!ku) return 0;
    if(dill__tlsrec_update(&o->rd) < 0)
        return dill__tls_ownfail(self, DILL__TLSREC_INTERNAL);
    if(ku == 2) {
        const uint8_t m[5] = {24, 0, 0, 1, 0};
        if(dill__tls_ownctl(self, DILL__TLSREC_HANDSHAKE, m, 5) == 0 &&
           dill__tlsrec_update(&o->wr) < 0)
            self->outerr = 1;
    }
    return 0;
}

static ssize_t dill__tls_ownalert(struct dill__tls *self, const uint8_t *p,
      size_t n) {
    if(n != 2) return dill__tls_ownfail(self, DILL__TLSREC_DECODE);
    /* user_canceled is followed by close_notify (RFC 8446 6.1). */
    if(p[1] == 90) return 0;
    if(p[1] == DILL__TLSREC_CLOSE_NOTIFY) {
        self->indone = 1;
        dill__tls_note("%s", strerror(EPIPE));
        errno = EPIPE;
        return -1;
    }
    self->inerr = 1;
    self->outerr = 1;
    errno = dill__tls_alert_errno(p[1]);
    return -1;
}

/* Opens the next record if it is all in the receive buffer.  Application
   data is decrypted into buf when its record fits there (the bytes of buf
   beyond the returned count may then be overwritten), else in place and
   left pending.  Returns the bytes put into buf, 0 when the record gave
   none, -1 with EAGAIN when more input is needed, or -1 with another
   errno (the connection is done). */
static ssize_t dill__tls_ownrec(struct dill__tls *self, void *buf,
      size_t len) {
    struct dill__tlsown *o = self->own;
    if(!o->rx) {errno = EAGAIN; return -1;}
    uint8_t *rec = o->rx + o->rstart;
    size_t avail = o->rend - o->rstart;
    ssize_t rl = dill__tlsrec_reclen(rec, avail);
    if(rl < 0) return dill__tls_ownfail(self, (int)-rl);
    if(rl == 0 || (size_t)rl > avail) {errno = EAGAIN; return -1;}
    size_t ilen = (size_t)rl - DILL__TLSREC_HDR - DILL__TLSREC_TAG;
    uint8_t *out = len >= ilen ? buf : NULL;
    uint8_t type = 0;
    /* Out of memory is no bad record: nothing is taken, no alert. */
    if(dill__tlsrec_wake(&o->rd) < 0) return -1;
    ssize_t n = dill__tlsrec_open(&o->rd, rec, (size_t)rl, out, &type);
    o->rstart += (uint32_t)rl;
    if(n < 0) return dill__tls_ownfail(self, (int)-n);
    uint8_t *p = out ? out : rec + DILL__TLSREC_HDR;
    ssize_t rc = 0;
    if(type == DILL__TLSREC_APPDATA) {
        if(out) rc = n;
        else {o->pstart = (uint32_t)(p - o->rx); o->plen = (uint32_t)n;}
    } else if(type == DILL__TLSREC_HANDSHAKE) {
        rc = dill__tls_ownhs(self, p, (size_t)n);
    } else if(type == DILL__TLSREC_ALERT) {
        rc = dill__tls_ownalert(self, p, (size_t)n);
    } else {
        rc = dill__tls_ownfail(self, DILL__TLSREC_UNEXPECTED);
    }
    dill__tls_rxidle(o);
    return rc;
}

/* A receive from the socket below failed with err: a timeout or
   cancellation leaves the connection usable; anything else (the end
   without close_notify is a truncation) breaks it. */
static int dill__tls_ownlowerr(struct dill__tls *self, int err) {
    if(err == ETIMEDOUT || err == ECANCELED) {errno = err; return -1;}
    if(err == EPIPE) err = ECONNRESET;
    dill__tls_note("%s", strerror(err));
    self->inerr = 1;
    self->outerr = 1;
    errno = err;
    return -1;
}

/* Receives what the socket below has (at least one byte, waiting until
   the deadline) into the receive buffer.  With nothing pending the wait
   is for one byte on the side, without a buffer: an idle connection
   holds none. */
static int dill__tls_ownfill(struct dill__tls *self, int64_t deadline) {
    struct dill__tlsown *o = self->own;
    int fresh = 0;
    if(!o->rx) {
        if(dill__tls_wait(self, deadline) < 0) {
            if(dill__pin_closed(&self->pin)) {errno = EBADF; return -1;}
            return dill__tls_ownlowerr(self, errno);
        }
        if(!self->staged) return dill__tls_ownlowerr(self, EPIPE);
        o->rx = dill__pool_get(DILL__POOL_TLSRX, DILL__TLS_RXBUF);
        if(!o->rx) return -1;
        o->rx[0] = self->stage;
        self->staged = 0;
        o->rstart = 0;
        o->rend = 1;
        /* What came with the byte, if anything. */
        deadline = 0;
        fresh = 1;
    }
    /* A record, whole, must fit from where it starts. */
    if(o->rstart && DILL__TLS_RXBUF - o->rstart < DILL__TLSREC_MAXREC) {
        memmove(o->rx, o->rx + o->rstart, o->rend - o->rstart);
        o->rend -= o->rstart;
        o->rstart = 0;
    }
    ssize_t r = o->lx->ops->brecvsome(o->lx, o->rx + o->rend,
        DILL__TLS_RXBUF - o->rend, deadline);
    /* Closed meanwhile: o and its buffer are gone. */
    if(dill__pin_closed(&self->pin)) {errno = EBADF; return -1;}
    if(r > 0) {
        o->rend += (uint32_t)r;
        return 0;
    }
    int err = errno;
    if(fresh && err == ETIMEDOUT) return 0;
    dill__tls_rxidle(o);
    return dill__tls_ownlowerr(self, err);
}

/* Reading made output (a KeyUpdate answer, an alert): with gathered
   writes below it leaves at the end of the turn, else it is sent now (a
   failure shows on the send side).  -1 with EBADF: self was closed
   meanwhile (what it held is gone). */
static int dill__tls_readout(struct dill__tls *self, int64_t deadline) {
    if(!self->tx || !self->tx->olen) return 0;
    if(dill__bsockx_gathers(&self->xvfs)) {
        dill__defer(&self->tx->d);
        return 0;
    }
    if(dill__tls_flush(self, deadline) < 0 && dill__pin_closed(&self->pin)) {
        errno = EBADF;
        return -1;
    }
    return 0;
}

/* dill__tls_read for the own record layer. */
static ssize_t dill__tls_ownread(struct dill__tls *self, void *buf,
      size_t len, int64_t deadline) {
    struct dill__tlsown *o = self->own;
    while(1) {
        if(o->plen) {
            size_t n = len < o->plen ? len : o->plen;
            memcpy(buf, o->rx + o->pstart, n);
            o->pstart += (uint32_t)n;
            o->plen -= (uint32_t)n;
            dill__tls_rxidle(o);
            return (ssize_t)n;
        }
        ssize_t r = dill__tls_ownrec(self, buf, len);
        if(r != -1 || errno != EAGAIN) {
            int err = errno;
            if(dill__tls_readout(self, deadline) < 0) return -1;
            errno = err;
            if(r != 0) return r;
            continue;
        }
        if(dill__tls_ownfill(self, deadline) < 0) return -1;
    }
}

/* Queues close_notify after the gathered bytes and sends it.  The caller
   holds wbusy. */
static int dill__tls_ownshut(struct dill__tls *self, int64_t deadline) {
    if(dill__tls_sealwait(self, deadline) < 0) return -1;
    struct dill__tlstx *tx = dill__tls_tx(self);
    if(!tx) return -1;
    if(tx->olen + DILL__TLS_SLACK > DILL__TLS_OBUF &&
       dill__tls_flush(self, deadline) < 0)
        return -1;
    const uint8_t a[2] = {1, DILL__TLSREC_CLOSE_NOTIFY};
    if(dill__tls_ownctl(self, DILL__TLSREC_ALERT, a, 2) < 0) {
        self->outerr = 1;
        errno = ECONNRESET;
        return -1;
    }
    if(dill__tls_flush(self, deadline) < 0) return -1;
    self->outdone = 1;
    return 0;
}

/******************************************************************************/
/*  Receiving                                                                 */
/******************************************************************************/

/* Between 1 and len bytes of plaintext.  The caller holds rbusy and a
   pin, and has checked indone/inerr. */
static ssize_t dill__tls_read(struct dill__tls *self, void *buf, size_t len,
      int64_t deadline) {
    if(self->isown) return dill__tls_ownread(self, buf, len, deadline);
    /* With nothing inside OpenSSL, a read needs input: waiting for it
       first spares OpenSSL a try at the socket that would find it empty
       (one failing system call per message). */
    if(!SSL_has_pending(self->ssl) && dill__tls_wait(self, deadline) < 0)
        return -1;
    while(1) {
        dill__tls_callstart();
        size_t n = 0;
        int r = SSL_read_ex(self->ssl, buf, len, &n);
        int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(self->ssl, r);
        if(e == SSL_ERROR_NONE || e == SSL_ERROR_WANT_READ) {
            /* Reading can produce output (key updates); a failure to send
               it shows up on the send side.  With gathered writes below it
               leaves at the end of the turn. */
            if(dill__tls_readout(self, deadline) < 0) return -1;
            if(e == SSL_ERROR_NONE) return (ssize_t)n;
            if(dill__tls_wait(self, deadline) < 0) return -1;
            continue;
        }
        if(e == SSL_ERROR_WANT_WRITE) {
            if(dill__tls_room(self, deadline) < 0) {
                self->inerr = 1;
                return -1;
            }
            continue;
        }
        int err = dill__tls_errno(self, e);
        /* The alert OpenSSL made for the peer. */
        if(dill__tls_readout(self, 0) < 0) return -1;
        if(err == EPIPE) {
            self->indone = 1;
        } else {
            self->inerr = 1;
            self->outerr = 1;
        }
        errno = err;
        return -1;
    }
}

static int dill__tls_rcheck(struct dill__tls *self) {
    if(self->indone) {errno = EPIPE; return -1;}
    if(self->inerr) {errno = ECONNRESET; return -1;}
    if(self->rbusy) {errno = EBUSY; return -1;}
    return 0;
}

static ssize_t dill__tls_brecvsome(struct dill__bsockx_vfs *x, void *buf,
      size_t len, int64_t deadline) {
    struct dill__tls *self = dill__tls_x(x);
    if(dill__tls_rcheck(self) < 0) return -1;
    if(len == 0) return 0;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    self->rbusy = 1;
    ssize_t r = dill__tls_read(self, buf, len, deadline);
    self->rbusy = 0;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return r;
}

/* Whether a read may deliver without new input: plaintext, a whole
   record, a staged byte, the end or an error to report. */
static int dill__tls_ready(struct dill__tls *self) {
    if(self->indone || self->inerr || self->staged || self->leof) return 1;
    if(!self->isown) return SSL_has_pending(self->ssl);
    struct dill__tlsown *o = self->own;
    if(o->plen) return 1;
    if(o->rstart == o->rend) return 0;
    ssize_t rl = dill__tlsrec_reclen(o->rx + o->rstart, o->rend - o->rstart);
    return rl != 0 && (rl < 0 || (size_t)rl <= o->rend - o->rstart);
}

/* bsockx waitin.  The wait is the socket below's own waitin when it has
   one (no byte taken, no buffer held), else one byte staged as a read
   would stage it.  A record only partly here waits for more input the
   same way, so a wake-up may come before a whole record: the read that
   follows then waits for the rest. */
/* Waits in the socket below for input.  A connection on our record layer
   still idle after the hibernation threshold puts its cipher contexts at
   rest (about 2 KiB together), to be made again by the next record in
   either direction. */
static int dill__tls_waitidle(struct dill__tls *self,
      struct dill__bsockx_vfs *lx, int64_t deadline) {
    int64_t idle = self->isown ? dill__hib_idle(deadline) : deadline;
    int rc = lx->ops->waitin(lx, idle);
    if(rc == 0 || idle == deadline || errno != ETIMEDOUT ||
       dill__pin_closed(&self->pin))
        return rc;
    dill__tlsrec_rest(&self->own->rd);
    dill__tlsrec_rest(&self->own->wr);
    return lx->ops->waitin(lx, deadline);
}

static int dill__tls_waitin(struct dill__bsockx_vfs *x, int64_t deadline) {
    struct dill__tls *self = dill__tls_x(x);
    /* A busy receive, like a ready one, is reported by the next read. */
    if(self->rbusy || self->u < 0 || dill__tls_ready(self)) return 0;
    struct dill__bsockx_vfs *lx = dill_hquery(self->u, dill__bsockx_type);
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    self->rbusy = 1;
    int rc;
    if(lx && lx->ops->waitin) rc = dill__tls_waitidle(self, lx, deadline);
    /* The staged byte must come first: not behind buffered records. */
    else if(self->isown && self->own->rstart != self->own->rend) rc = 0;
    else rc = dill__tls_wait(self, deadline);
    self->rbusy = 0;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return rc;
}

/* Fills one buffer (NULL: skips len bytes).  *got counts what arrived. */
static int dill__tls_readall(struct dill__tls *self, uint8_t *buf,
      size_t len, int64_t deadline, size_t *got) {
    uint8_t skip[512];
    size_t pos = 0;
    while(pos < len) {
        size_t want = len - pos;
        uint8_t *dst = buf ? buf + pos : skip;
        if(!buf && want > sizeof(skip)) want = sizeof(skip);
        ssize_t r = dill__tls_read(self, dst, want, deadline);
        if(r < 0) return -1;
        pos += (size_t)r;
        *got += (size_t)r;
        if(pos < len && dill__pin_busy(&self->pin, deadline) < 0)
            return -1;
    }
    return 0;
}

static int dill__tls_brecvl(struct dill_bsock_vfs *bvfs,
      struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__tls *self = DILL__TLS_CONT(bvfs, struct dill__tls, bvfs);
    if(dill__tls_rcheck(self) < 0) return -1;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    self->rbusy = 1;
    size_t got = 0;
    int rc = 0;
    for(struct dill_iolist *it = first; it && rc == 0; it = it->iol_next)
        rc = dill__tls_readall(self, it->iol_base, it->iol_len, deadline,
            &got);
    self->rbusy = 0;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    /* A stream read halfway cannot be resumed. */
    if(rc < 0 && got && errno != EPIPE) {
        int err = errno;
        self->inerr = 1;
        errno = err;
    }
    return rc;
}

/******************************************************************************/
/*  Sending                                                                   */
/******************************************************************************/

/* Encrypts all of buf into obuf, sending whenever it fills up.  The caller
   holds wbusy. */
static int dill__tls_write(struct dill__tls *self, const void *buf,
      size_t len, int64_t deadline) {
    if(self->isown) return dill__tls_ownwrite(self, buf, len, deadline);
    while(1) {
        dill__tls_callstart();
        size_t n = 0;
        int r = SSL_write_ex(self->ssl, buf, len, &n);
        if(r == 1) return 0;
        int e = SSL_get_error(self->ssl, r);
        if(e == SSL_ERROR_WANT_WRITE) {
            if(dill__tls_room(self, deadline) < 0 ||
               dill__pin_busy(&self->pin, deadline) < 0)
                return -1;
            continue;
        }
        errno = dill__tls_errno(self, e);
        if(errno == EPIPE) errno = ECONNRESET;
        return -1;
    }
}

static int dill__tls_wcheck(struct dill__tls *self) {
    if(self->outdone) {errno = EPIPE; return -1;}
    if(self->outerr) {errno = ECONNRESET; return -1;}
    if(self->wbusy) {errno = EBUSY; return -1;}
    return 0;
}

/* Small consecutive pieces are gathered so that each becomes part of one
   record instead of a record each. */
static int dill__tls_sendlist(struct dill__tls *self,
      struct dill_iolist *first, int64_t deadline) {
    uint8_t gather[DILL__TLS_GATHER];
    size_t glen = 0;
    for(struct dill_iolist *it = first; it; it = it->iol_next) {
        size_t len = it->iol_len;
        if(len == 0) continue;
        if(glen + len <= sizeof(gather)) {
            memcpy(gather + glen, it->iol_base, len);
            glen += len;
            continue;
        }
        if(glen && dill__tls_write(self, gather, glen, deadline) < 0)
            return -1;
        glen = 0;
        if(len < sizeof(gather)) {
            memcpy(gather, it->iol_base, len);
            glen = len;
        } else if(dill__tls_write(self, it->iol_base, len, deadline) < 0) {
            return -1;
        }
    }
    if(glen && dill__tls_write(self, gather, glen, deadline) < 0) return -1;
    return dill__tls_flush(self, deadline);
}

static int dill__tls_xflush(struct dill__bsockx_vfs *x, int64_t deadline) {
    struct dill__tls *self = dill__tls_x(x);
    if(dill__tls_wcheck(self) < 0) return -1;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    self->wbusy = 1;
    int rc = dill__tls_sealwait(self, deadline);
    if(rc == 0) rc = dill__tls_flush(self, deadline);
    if(rc == 0) {
        /* Pushed records may wait in the gathered writes below. */
        struct dill__bsockx_vfs *lx = dill_hquery(self->u, dill__bsockx_type);
        rc = lx ? lx->ops->flush(lx, deadline) : -1;
    }
    self->wbusy = 0;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    dill__tls_txidle(self);
    if(rc < 0) {
        int err = errno;
        self->outerr = 1;
        errno = err == EPIPE ? ECONNRESET : err;
    }
    return rc;
}

static int dill__tls_bsendl(struct dill_bsock_vfs *bvfs,
      struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__tls *self = DILL__TLS_CONT(bvfs, struct dill__tls, bvfs);
    if(dill__tls_wcheck(self) < 0) return -1;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    self->wbusy = 1;
    /* Gathered bytes go first. */
    int rc = dill__tls_sealwait(self, deadline);
    if(rc == 0) rc = dill__tls_sendlist(self, first, deadline);
    self->wbusy = 0;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    if(rc < 0) {
        int err = errno;
        self->outerr = 1;
        errno = err;
    }
    return rc;
}

/******************************************************************************/
/*  Handle                                                                    */
/******************************************************************************/

static const struct dill__bsockx_ops dill__tls_xops = {
    dill__tls_brecvsome, NULL, NULL, NULL, NULL, NULL, dill__tls_waitin
};
/* Over a socket with gathered writes. */
static const struct dill__bsockx_ops dill__tls_gxops = {
    dill__tls_brecvsome, NULL, dill__tls_xreserve, dill__tls_xcommit,
    dill__tls_xflush, dill__tls_xonroom, dill__tls_waitin
};

static struct dill__tls *dill__tls_x(struct dill__bsockx_vfs *x) {
    return DILL__TLS_CONT(x, struct dill__tls, xvfs);
}

static void *dill__tls_query(struct dill_hvfs *hvfs, const void *type) {
    struct dill__tls *self = DILL__TLS_CONT(hvfs, struct dill__tls, hvfs);
    if(type == dill_bsock_type) return &self->bvfs;
    if(type == dill__bsockx_type) return &self->xvfs;
    if(type == dill__tls_type) return self;
    errno = ENOTSUP;
    return NULL;
}

/* Frees everything but the object. */
static void dill__tls_release(struct dill__tls *self) {
    struct dill__tlstx *tx = self->tx;
    if(tx) {
        /* One last try without blocking, as the kernel keeps sending
           what was written before close(). */
        if(self->u >= 0 && dill__bsockx_gathers(&self->xvfs)) {
            dill__tls_push(self);
            dill__tls_seal(self);
            dill__tls_push(self);
        }
        dill__tls_txroom(tx);
        dill__undefer(&tx->d);
        if(tx->waiting && self->u >= 0) {
            struct dill__bsockx_vfs *x = dill_hquery(self->u,
                dill__bsockx_type);
            if(x) x->ops->onroom(x, NULL);
        }
    }
    /* The lower socket goes first: a call sleeping in it wakes up with
       EBADF, and the buffers below go after it. */
    if(self->u >= 0) dill_hclose(self->u);
    self->u = -1;
    if(self->isown) dill__tls_ownfree(self->own);
    else SSL_free(self->ssl);
    self->ssl = NULL;
    self->isown = 0;
    if(tx) {
        self->tx = NULL;
        dill__pool_put(DILL__POOL_TLSTX, tx);
    }
}

static void dill__tls_free(struct dill__pin *p) {
    free(dill__cont(p, struct dill__tls, pin));
}

static void dill__tls_hclose(struct dill_hvfs *hvfs) {
    struct dill__tls *self = DILL__TLS_CONT(hvfs, struct dill__tls, hvfs);
    dill__tls_release(self);
    dill__pin_close(&self->pin, self->mem ? dill__pin_nofree :
        dill__tls_free);
}

/******************************************************************************/
/*  Attaching                                                                 */
/******************************************************************************/

/* Runs the handshake to its end.  Output is sent after every step, before
   waiting for input. */
static int dill__tls_handshake(struct dill__tls *self, int64_t deadline) {
    while(1) {
        dill__tls_callstart();
        int r = SSL_do_handshake(self->ssl);
        int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(self->ssl, r);
        if(e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ &&
           e != SSL_ERROR_WANT_WRITE) {
            int err = dill__tls_errno(self, e);
            /* Let the peer see our alert if it fits in the socket now. */
            dill__tls_flush(self, 0);
            errno = err;
            return -1;
        }
        if(dill__tls_flush(self, deadline) < 0) return -1;
        if(e == SSL_ERROR_NONE) return 0;
        if(e == SSL_ERROR_WANT_READ && dill__tls_wait(self, deadline) < 0)
            return -1;
        if(dill__busy(deadline) < 0) return -1;
    }
}

/* Wraps lower socket s into a TLS connection using ctx (a reference the
   caller keeps) and runs the handshake.  setup, if not NULL, adjusts the
   SSL object first.  s is closed on any failure. */
static int dill__tls_attach(int s, SSL_CTX *ctx, int server, void *mem,
      int (*setup)(SSL *ssl, const void *arg), const void *arg,
      int64_t deadline) {
    int err;
    if(!dill_hquery(s, dill_bsock_type)) {
        if(errno == EBADF) return -1;
        err = errno == ENOTSUP ? EPROTO : errno;
        goto fail0;
    }
    if(dill__canblock() < 0) {err = errno; goto fail0;}
    pthread_once(&dill__tls_bonce, dill__tls_binit);
    if(!dill__tls_bmeth) {err = ENOMEM; goto fail0;}
    struct dill__tls *self = mem ? mem : malloc(sizeof(*self));
    if(!self) {err = ENOMEM; goto fail0;}
    memset(self, 0, sizeof(*self));
    dill__pin_init(&self->pin);
    self->mem = mem ? 1 : 0;
    self->u = s;
    self->hvfs.query = dill__tls_query;
    self->hvfs.close = dill__tls_hclose;
    self->bvfs.bsendl = dill__tls_bsendl;
    self->bvfs.brecvl = dill__tls_brecvl;
    self->xvfs.ops = dill__bsockx_gathers(dill_hquery(s, dill__bsockx_type)) ?
        &dill__tls_gxops : &dill__tls_xops;
    self->ssl = SSL_new(ctx);
    BIO *bio = BIO_new(dill__tls_bmeth);
    if(!self->ssl || !bio) {BIO_free(bio); err = ENOMEM; goto fail1;}
    BIO_set_data(bio, self);
    SSL_set_bio(self->ssl, bio, bio);
    if(server) SSL_set_accept_state(self->ssl);
    else SSL_set_connect_state(self->ssl);
    if(setup && setup(self->ssl, arg) < 0) {err = errno; goto fail1;}
    dill__tls_ownprep(self, server);
    if(dill__tls_handshake(self, deadline) < 0) {err = errno; goto fail1;}
    dill__tls_ownswitch(self);
    int h = dill_hmake(&self->hvfs);
    if(h < 0) {err = errno; goto fail1;}
    return h;
fail1:
    dill__tls_release(self);
    if(!mem) free(self);
    ERR_clear_error();
    errno = err;
    return -1;
fail0:
    dill_hclose(s);
    errno = err;
    return -1;
}

/* Per-connection client settings: name, ALPN, minimum version. */
static int dill__tls_csetup(SSL *ssl, const void *arg) {
    const struct dill_tls_client_options *o = arg;
    if(!o) return 0;
    int minv = o->min_version == DILL_TLS_VERSION_1_3 ? TLS1_3_VERSION :
        TLS1_2_VERSION;
    if(SSL_set_min_proto_version(ssl, minv) != 1) {errno = EINVAL; return -1;}
    if(o->server_name) {
        unsigned char ip[16];
        int isip = inet_pton(AF_INET, o->server_name, ip) == 1 ||
            inet_pton(AF_INET6, o->server_name, ip) == 1;
        int verify = !o->insecure_skip_verify;
        /* SNI carries host names only (RFC 6066). */
        if(!isip && SSL_set_tlsext_host_name(ssl, o->server_name) != 1) {
            errno = EINVAL;
            return -1;
        }
        if(verify && isip && X509_VERIFY_PARAM_set1_ip_asc(
           SSL_get0_param(ssl), o->server_name) != 1) {
            errno = EINVAL;
            return -1;
        }
        if(verify && !isip) {
            SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if(SSL_set1_host(ssl, o->server_name) != 1) {
                errno = EINVAL;
                return -1;
            }
        }
    }
    unsigned char *w;
    size_t len;
    int rc = dill__tls_alpn_wire(o->alpn, &w, &len);
    if(rc < 0) {errno = -rc; return -1;}
    if(w) {
        /* Note: 0 means success for this one. */
        rc = SSL_set_alpn_protos(ssl, w, (unsigned int)len);
        free(w);
        if(rc != 0) {errno = ENOMEM; return -1;}
    }
    return 0;
}

int dill_tls_attach_client_opts(int s,
      const struct dill_tls_client_options *user,
      struct dill_tls_storage *mem, int64_t deadline) {
    struct dill_tls_client_options o, *opts = &o;
    if(dill__opts_load(&o, sizeof(o), user) < 0 || (o.min_version != 0 &&
       o.min_version != DILL_TLS_VERSION_1_2 &&
       o.min_version != DILL_TLS_VERSION_1_3)) {
        dill_hclose(s);
        errno = EINVAL;
        return -1;
    }
    SSL_CTX *ctx = dill__tls_client_ctx(opts, !opts->insecure_skip_verify);
    if(!ctx) {
        int err = errno;
        dill_hclose(s);
        errno = err;
        return -1;
    }
    int h = dill__tls_attach(s, ctx, 0, mem, dill__tls_csetup, opts,
        deadline);
    int err = errno;
    SSL_CTX_free(ctx);
    errno = err;
    return h;
}

int dill_tls_attach_client_mem(int s, struct dill_tls_storage *mem,
      int64_t deadline) {
    if(!mem) {dill_hclose(s); errno = EINVAL; return -1;}
    struct dill_tls_client_options opts = DILL_TLS_CLIENT_OPTIONS_INIT;
    opts.insecure_skip_verify = 1;
    return dill_tls_attach_client_opts(s, &opts, mem, deadline);
}

int dill_tls_attach_client(int s, int64_t deadline) {
    struct dill_tls_client_options opts = DILL_TLS_CLIENT_OPTIONS_INIT;
    opts.insecure_skip_verify = 1;
    return dill_tls_attach_client_opts(s, &opts, NULL, deadline);
}

int dill_tls_attach_server_ctx(int s, struct dill_tls_server_ctx *ctx,
      struct dill_tls_storage *mem, int64_t deadline) {
    if(!ctx) {dill_hclose(s); errno = EINVAL; return -1;}
    return dill__tls_attach(s, (SSL_CTX*)ctx, 1, mem, NULL, NULL, deadline);
}

/* Server side with a context from the file cache; mem may be NULL. */
static int dill__tls_attach_files(int s, const char *cert, const char *pkey,
      struct dill_tls_storage *mem, int64_t deadline) {
    SSL_CTX *ctx = dill__tls_server_ctx_files(cert, pkey);
    if(!ctx) {
        int err = errno;
        dill_hclose(s);
        errno = err;
        return -1;
    }
    int h = dill__tls_attach(s, ctx, 1, mem, NULL, NULL, deadline);
    int err = errno;
    SSL_CTX_free(ctx);
    errno = err;
    return h;
}

int dill_tls_attach_server_mem(int s, const char *cert, const char *pkey,
      struct dill_tls_storage *mem, int64_t deadline) {
    if(!mem) {dill_hclose(s); errno = EINVAL; return -1;}
    return dill__tls_attach_files(s, cert, pkey, mem, deadline);
}

int dill_tls_attach_server(int s, const char *cert, const char *pkey,
      int64_t deadline) {
    return dill__tls_attach_files(s, cert, pkey, NULL, deadline);
}

/******************************************************************************/
/*  Termination and queries                                                   */
/******************************************************************************/

/* Queues close_notify (after the gathered bytes) and sends it.  The
   caller holds wbusy. */
static int dill__tls_shutsend(struct dill__tls *self, int64_t deadline) {
    if(self->isown) return dill__tls_ownshut(self, deadline);
    if(dill__tls_sealwait(self, deadline) < 0) return -1;
    while(1) {
        dill__tls_callstart();
        int r = SSL_shutdown(self->ssl);
        if(r >= 0) break;
        int e = SSL_get_error(self->ssl, r);
        if(e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) {
            errno = dill__tls_errno(self, e);
            if(errno == EPIPE) errno = ECONNRESET;
            self->outerr = 1;
            return -1;
        }
        if(dill__tls_room(self, deadline) < 0 ||
           dill__pin_busy(&self->pin, deadline) < 0)
            return -1;
    }
    ERR_clear_error();
    if(dill__tls_flush(self, deadline) < 0) return -1;
    self->outdone = 1;
    return 0;
}

int dill_tls_done(int s, int64_t deadline) {
    struct dill__tls *self = dill_hquery(s, dill__tls_type);
    if(!self) return -1;
    if(dill__tls_wcheck(self) < 0) return -1;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    self->wbusy = 1;
    int rc = dill__tls_shutsend(self, deadline);
    self->wbusy = 0;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return rc;
}

/* Reads and discards until the peer's close_notify. */
static int dill__tls_drain(struct dill__tls *self, int64_t deadline) {
    uint8_t buf[512];
    while(!self->indone) {
        if(self->inerr) {errno = ECONNRESET; return -1;}
        if(dill__tls_read(self, buf, sizeof(buf), deadline) < 0) {
            if(errno == EPIPE) break;
            return -1;
        }
        if(dill__pin_busy(&self->pin, deadline) < 0) return -1;
    }
    return 0;
}

/* The own record layer reads ahead: what came after close_notify goes
   back to the socket below, for whoever uses it next. */
static int dill__tls_ownunread(struct dill__tls *self) {
    if(!self->isown) return 0;
    struct dill__tlsown *o = self->own;
    if(!o->rx || o->rend == o->rstart) return 0;
    struct dill__bsockx_vfs *x = o->lx;
    if(!x->ops->unread) {errno = ENOTSUP; return -1;}
    return x->ops->unread(x, o->rx + o->rstart, o->rend - o->rstart);
}

int dill_tls_detach(int s, int64_t deadline) {
    struct dill__tls *self = dill_hquery(s, dill__tls_type);
    if(!self) return -1;
    if(self->rbusy || self->wbusy) {errno = EBUSY; return -1;}
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    self->rbusy = 1;
    self->wbusy = 1;
    int rc = 0;
    if(self->outerr) {errno = ECONNRESET; rc = -1;}
    if(rc == 0 && !self->outdone) rc = dill__tls_shutsend(self, deadline);
    if(rc == 0) rc = dill__tls_drain(self, deadline);
    /* What reading made meanwhile (left for the end of the turn). */
    if(rc == 0) rc = dill__tls_flush(self, deadline);
    self->rbusy = 0;
    self->wbusy = 0;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    if(rc < 0) {
        int err = errno;
        dill_hclose(s);
        errno = err;
        return -1;
    }
    /* Nothing is left to send (close_notify went out): the block goes
       while the socket below is still ours to talk to. */
    if(self->tx) dill__tls_txdrop(self);
    if(dill__tls_ownunread(self) < 0) {
        int err = errno;
        dill_hclose(s);
        errno = err;
        return -1;
    }
    int u = self->u;
    self->u = -1;
    dill_hclose(s);
    return u;
}

ssize_t dill_tls_alpn(int s, char *buf, size_t len) {
    struct dill__tls *self = dill_hquery(s, dill__tls_type);
    if(!self) return -1;
    const unsigned char *p = NULL;
    unsigned int n = 0;
    if(self->isown) {
        p = (const unsigned char*)self->own->alpn;
        n = self->own->alpnlen;
    } else {
        SSL_get0_alpn_selected(self->ssl, &p, &n);
    }
    if(!p) n = 0;
    if(!buf || len < (size_t)n + 1) {errno = EMSGSIZE; return -1;}
    if(n) memcpy(buf, p, n);
    buf[n] = 0;
    return (ssize_t)n;
}
