/* Connected stream sockets (TCP and IPC share everything but addressing). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/core.h"
#include "net/stream.h"

#define DILL__CONT(ptr, type, member) \
    ((type*)(void*)((char*)(ptr) - offsetof(type, member)))

_Static_assert(sizeof(struct dill__stream) <= sizeof(struct dill_tcp_storage),
    "stream object must fit tcp_storage");
_Static_assert(sizeof(struct dill__stream) <= sizeof(struct dill_ipc_storage),
    "stream object must fit ipc_storage");
_Static_assert(2 * sizeof(struct dill_ipc_storage) <=
    sizeof(struct dill_ipc_pair_storage), "pair must fit ipc_pair_storage");

static const int dill__stream_type_id = 0;
const void *dill__stream_type = &dill__stream_type_id;

/******************************************************************************/
/*  Gathered writes                                                           */
/******************************************************************************/

/* The transmit state of a stream's gathered writes: who writes the
   gathered bytes out.  It is the one record of that; the block exists
   (self->tx) from the first gathered byte until it is written out.

     IDLE      nobody: the gathered bytes wait for the end of the turn
               (d is queued when there are any)
     SENDING   an asynchronous send (core.h: dill__aop_send, through the
               ring or epoll) of buf[0..inflight) is under way; bytes
               gathered meanwhile wait behind it
     WOKEN     that send ended while a coroutine waited for it (txsettle):
               the coroutine, resumed, takes over
     BLOCKED   a coroutine writes buf (and its list) itself, blocking
     ORPHAN    the stream was closed while SENDING: the operation owns the
               block, which its end (txend) frees (s is NULL)

   Transitions:

     IDLE -> SENDING     txkick: at the end of the turn (d), after the last
                         send ended with bytes left, or from a reserve that
                         may not wait
     SENDING -> IDLE     txend (from txdone, or within txkick for a send
                         that ended at once), nobody waiting: what is left
                         and what was gathered meanwhile goes in the next
                         send (at once, back to SENDING), or the block is
                         freed
     SENDING -> WOKEN    txend with a coroutine waiting in txsettle
     WOKEN -> IDLE       that coroutine runs
     IDLE -> BLOCKED     dill__stream_send (a plain send, a flush, a reserve
                         that must wait) once nothing is SENDING
     BLOCKED -> IDLE     it returns
     SENDING -> ORPHAN   the stream is closed (txlast); IDLE and WOKEN
                         first start one last send (txkick), as the kernel
                         keeps sending what was queued before close()

   A failed send marks the stream's send side broken (io.outerr) and
   frees the block; the next send or reserve reports it.  The end-of-turn
   item (d) is queued only in IDLE; the block grows (small to big) only
   in IDLE. */
enum dill__txstate {
    DILL__TX_IDLE,
    DILL__TX_SENDING,
    DILL__TX_WOKEN,
    DILL__TX_BLOCKED,
    DILL__TX_ORPHAN
};

/* A coroutine waiting for a send under way to end (it holds the pin: a
   close wakes it). */
struct dill__txwait {
    struct dill__clause cl;
};

struct dill__fdtx {
    struct dill__defer d;          /* queued for the end of the turn */
    struct dill__stream *s;        /* NULL in ORPHAN */
    uint32_t len;
    uint8_t state;                 /* enum dill__txstate */
    uint32_t inflight;             /* SENDING, ORPHAN: bytes being sent */
    struct dill__aop op;
    struct dill__txwait *waiter;   /* SENDING, WOKEN: the waiting
                                      coroutine */
    uint32_t cap;                  /* DILL__TXSMALL or DILL__TXBUF_SIZE */
    /* The layer above waits for room (dill__bsockx_ops.onroom). */
    struct dill__defer *room;
    uint8_t buf[];
};

/* Most turns gather a message or two: they start in a small block (plain
   malloc, cheap at this size) and move to a big pooled one only when a
   burst needs it.  With writes in flight, one block per
   connection may be out at a time, so big blocks for all would churn
   the heap. */
#define DILL__TXSMALL 960

static void dill__stream_txdrop(struct dill__fdtx *tx) {
    if(tx->cap == DILL__TXBUF_SIZE) dill__pool_put(DILL__POOL_FDTX, tx);
    else free(tx);
}

/* Tells the layer above that its push may go on (or will fail). */
static void dill__stream_txroom(struct dill__fdtx *tx) {
    if(tx->room) {
        dill__defer(tx->room);
        tx->room = NULL;
    }
}

static void dill__stream_txfree(struct dill__stream *self) {
    struct dill__fdtx *tx = self->tx;
    dill__stream_txroom(tx);
    dill__undefer(&tx->d);
    self->tx = NULL;
    dill__stream_txdrop(tx);
}

/* The send of buf[0..inflight) ended with res (SENDING -> IDLE, WOKEN,
   or the end of an ORPHAN).  Returns 1 when what is left should go now:
   the block is still there and nobody waits to take over. */
static int dill__stream_txend(struct dill__fdtx *tx, int res) {
    struct dill__stream *self = tx->s;
    uint32_t n = tx->inflight;
    tx->inflight = 0;
    if(tx->state == DILL__TX_ORPHAN) {dill__stream_txdrop(tx); return 0;}
    tx->state = DILL__TX_IDLE;
    if(tx->waiter) {
        tx->state = DILL__TX_WOKEN;
        dill__trigger(&tx->waiter->cl, 0);
    }
    dill__stream_txroom(tx);
    if(res < 0) {
        self->io.outerr = 1;
        if(res != -ENOMEM && res != -ENOBUFS) self->io.reset = 1;
        if(!tx->waiter) dill__stream_txfree(self);
        else tx->len = 0;
        return 0;
    }
    /* A short send leaves the rest (and whatever was gathered meanwhile)
       for the next operation. */
    uint32_t k = (uint32_t)res < n ? (uint32_t)res : n;
    memmove(tx->buf, tx->buf + k, tx->len - k);
    tx->len -= k;
    return !tx->waiter;
}

/* Starts writing the gathered bytes (IDLE -> SENDING) without blocking;
   the operation's end continues (txdone), or, when it ended at once (the
   socket had room), the rest goes on here.  A failure breaks the send
   side, and the next send reports it.  Runs from the scheduler: errno is
   kept. */
static void dill__stream_txkick(struct dill__stream *self) {
    int err = errno;
    while(self->tx && self->tx->state == DILL__TX_IDLE) {
        struct dill__fdtx *tx = self->tx;
        if(!tx->len) {dill__stream_txfree(self); break;}
        int rc = dill__aop_send(&tx->op, self->io.fd, tx->buf, tx->len);
        if(rc < 0) {
            self->io.outerr = 1;
            dill__stream_txfree(self);
            break;
        }
        dill__undefer(&tx->d);
        tx->inflight = tx->len;
        tx->state = DILL__TX_SENDING;
        if(rc == 0 || !dill__stream_txend(tx, tx->op.res)) break;
    }
    errno = err;
}

static void dill__stream_txdone(struct dill__aop *op, int res) {
    struct dill__fdtx *tx = dill__cont(op, struct dill__fdtx, op);
    if(dill__stream_txend(tx, res)) dill__stream_txkick(tx->s);
}

/* Waits until no send is under way, so that writes stay in order.
   Returns 0, or -1 with errno: ETIMEDOUT, ECANCELED, EBADF (closed
   meanwhile: the caller holds the pin). */
static int dill__stream_txsettle(struct dill__stream *self,
      int64_t deadline) {
    while(self->tx && self->tx->state == DILL__TX_SENDING) {
        struct dill__txwait w;
        self->tx->waiter = &w;
        dill__waitfor(&w.cl, 0, NULL);
        int rc = dill__wait(deadline, 1);
        if(dill__pin_closed(&self->pin)) {errno = EBADF; return -1;}
        struct dill__fdtx *tx = self->tx;
        tx->waiter = NULL;
        if(tx->state == DILL__TX_WOKEN) {
            tx->state = DILL__TX_IDLE;
            /* Timed out just as the send ended: what is left goes out at
               the end of the turn. */
            if(rc < 0 && tx->len) dill__defer(&tx->d);
        }
        if(rc < 0) return -1;
    }
    return 0;
}

static void dill__stream_txrun(struct dill__defer *d) {
    dill__stream_txkick(dill__cont(d, struct dill__fdtx, d)->s);
}

/* Sends the gathered bytes followed by the list first (may be NULL) in as
   few system calls as possible.  keep: leave the emptied buffer for more
   gathering. */
static int dill__stream_send(struct dill__stream *self,
      struct dill_iolist *first, int keep, int64_t deadline) {
    if(self->io.outdone) {errno = EPIPE; return -1;}
    if(self->io.outerr) {errno = ECONNRESET; return -1;}
    if(self->tx && self->tx->state == DILL__TX_SENDING) {
        if(self->tx->waiter) {errno = EBUSY; return -1;}
        if(dill__stream_txsettle(self, deadline) < 0) return -1;
        if(self->io.outerr) {errno = ECONNRESET; return -1;}
    }
    struct dill__fdtx *tx = self->tx;
    struct dill_iolist t;
    struct dill_iolist *start = first;
    size_t pending = 0;
    if(tx) {
        if(tx->state != DILL__TX_IDLE) {errno = EBUSY; return -1;}
        dill__undefer(&tx->d);
        pending = tx->len;
        t.iol_base = tx->buf;
        t.iol_len = pending;
        t.iol_next = first;
        t.iol_rsvd = 0;
        start = &t;
        tx->state = DILL__TX_BLOCKED;
    }
    size_t sent = 0;
    int rc = start ? dill__fd_sendl(self->io.fd, start, deadline, &sent) : 0;
    /* Closed while we waited: the close took tx. */
    if(dill__pin_closed(&self->pin)) {errno = EBADF; return -1;}
    if(tx) {
        tx->state = DILL__TX_IDLE;
        dill__stream_txroom(tx);
        size_t k = sent < pending ? sent : pending;
        memmove(tx->buf, tx->buf + k, pending - k);
        tx->len = (uint32_t)(pending - k);
        if(tx->len) dill__defer(&tx->d);
        else if(!keep) dill__stream_txfree(self);
    }
    if(rc == 0) return 0;
    /* Part of the caller's data went out: the stream can no longer be
       resumed.  A timeout before that leaves the socket usable (gathered
       bytes that did not go out stay gathered). */
    if(sent > pending || errno == ECONNRESET) {
        self->io.outerr = 1;
        if(self->tx) dill__stream_txfree(self);
    }
    if(errno == ECONNRESET) self->io.reset = 1;
    return -1;
}

static struct dill__fdtx *dill__stream_txnew(struct dill__stream *self,
      int big) {
    struct dill__fdtx *tx = big ?
        dill__pool_get(DILL__POOL_FDTX, sizeof(*tx) + DILL__TXBUF_SIZE) :
        malloc(sizeof(*tx) + DILL__TXSMALL);
    if(!tx) {errno = ENOMEM; return NULL;}
    dill__defer_init(&tx->d, dill__stream_txrun);
    tx->op.done = dill__stream_txdone;
    tx->s = self;
    tx->len = 0;
    tx->state = DILL__TX_IDLE;
    tx->inflight = 0;
    tx->waiter = NULL;
    tx->room = NULL;
    tx->cap = big ? DILL__TXBUF_SIZE : DILL__TXSMALL;
    return tx;
}

/* Moves the gathered bytes of an idle small block into a big one. */
static int dill__stream_txgrow(struct dill__stream *self) {
    struct dill__fdtx *old = self->tx;
    struct dill__fdtx *tx = dill__stream_txnew(self, 1);
    if(!tx) return -1;
    memcpy(tx->buf, old->buf, old->len);
    tx->len = old->len;
    tx->room = old->room;
    int queued = !dill__list_empty(&old->d.item);
    dill__undefer(&old->d);
    free(old);
    self->tx = tx;
    if(queued) dill__defer(&tx->d);
    return 0;
}

/* Room for n bytes without any I/O: 0 when there is, 1 when the buffer
   is too full, -1 on error (EBUSY, ENOMEM). */
static int dill__stream_txfit(struct dill__stream *self, size_t n) {
    struct dill__fdtx *tx = self->tx;
    if(!tx) {
        tx = dill__stream_txnew(self, n > DILL__TXSMALL);
        if(!tx) return -1;
        self->tx = tx;
        return 0;
    }
    if(tx->state == DILL__TX_BLOCKED) {errno = EBUSY; return -1;}
    if(tx->len + n <= tx->cap) return 0;
    if(tx->cap < DILL__TXBUF_SIZE && tx->state == DILL__TX_IDLE &&
       tx->len + n <= DILL__TXBUF_SIZE)
        return dill__stream_txgrow(self);
    return 1;
}

static uint8_t *dill__stream_reserve(struct dill__stream *self, size_t n,
      int64_t deadline) {
    if(self->io.outdone) {errno = EPIPE; return NULL;}
    if(self->io.outerr) {errno = ECONNRESET; return NULL;}
    int rc = dill__stream_txfit(self, n);
    if(rc > 0 && deadline == 0) {
        /* Without waiting: start writing what is queued, which frees
           room when the send ends (onroom tells the layer above). */
        dill__stream_txkick(self);
        if(self->io.outerr) {errno = ECONNRESET; return NULL;}
        rc = dill__stream_txfit(self, n);
        if(rc > 0) {errno = ETIMEDOUT; return NULL;}
    }
    if(rc > 0) {
        if(dill__stream_send(self, NULL, 1, deadline) < 0) return NULL;
        /* Emptied, but maybe still small. */
        rc = dill__stream_txfit(self, n);
    }
    if(rc != 0) return NULL;
    return self->tx->buf + self->tx->len;
}

static void dill__stream_commit(struct dill__stream *self, size_t n) {
    struct dill__fdtx *tx = self->tx;
    tx->len += (uint32_t)n;
    /* A send under way continues with these bytes when it ends; a
       coroutine woken from waiting for it sends them itself. */
    if(tx->state == DILL__TX_IDLE) dill__defer(&tx->d);
}


/* dill__stream_send for a caller that does not hold the pin. */
static int dill__stream_psend(struct dill__stream *self,
      struct dill_iolist *first, int keep, int64_t deadline) {
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = dill__stream_send(self, first, keep, deadline);
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return rc;
}

int dill__stream_flush(struct dill__stream *self, int64_t deadline) {
    if(!self->tx) return 0;
    return dill__stream_psend(self, NULL, 0, deadline);
}

/* On close: one last send, like the kernel that keeps sending what was
   queued before close(); a send under way is left to finish on its own
   (core.h: after dill_fdclean it makes one last attempt or, in the
   kernel, keeps the socket open until done). */
static void dill__stream_txlast(struct dill__stream *self) {
    struct dill__fdtx *tx = self->tx;
    if(tx->state == DILL__TX_WOKEN || tx->state == DILL__TX_IDLE) {
        /* A woken waiter learns of the close from the pin. */
        tx->waiter = NULL;
        tx->state = DILL__TX_IDLE;
        if(self->io.outerr) {dill__stream_txfree(self); return;}
        dill__stream_txkick(self);
        tx = self->tx;
        if(!tx) return;
    }
    if(tx->state == DILL__TX_SENDING) {
        /* The operation owns the block now. */
        dill__stream_txroom(tx);
        dill__undefer(&tx->d);
        tx->waiter = NULL;
        tx->s = NULL;
        tx->state = DILL__TX_ORPHAN;
        self->tx = NULL;
        return;
    }
    dill__stream_txfree(self);
}

/******************************************************************************/
/*  Bytestream                                                                */
/******************************************************************************/

static int dill__stream_bsendl(struct dill_bsock_vfs *bvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__stream *self = DILL__CONT(bvfs, struct dill__stream, bvfs);
    return dill__stream_psend(self, first, 0, deadline);
}

/* Records what a failed receive did to the socket.  errno is kept. */
static void dill__stream_inerr(struct dill__stream *self, size_t got) {
    if(errno == EPIPE) self->io.indone = 1;
    else if(got || errno == ECONNRESET || errno == EPROTO) self->io.inerr = 1;
    if(errno == ECONNRESET) self->io.reset = 1;
}

static int dill__stream_brecvl(struct dill_bsock_vfs *bvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__stream *self = DILL__CONT(bvfs, struct dill__stream, bvfs);
    if(self->io.indone) {errno = EPIPE; return -1;}
    if(self->io.inerr) {errno = ECONNRESET; return -1;}
    size_t got = 0;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = dill__fd_recvl(self->io.fd, &self->io, first, deadline, &got);
    if(rc < 0) dill__stream_inerr(self, got);
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return rc;
}

/******************************************************************************/
/*  Partial reads and gathered writes (net/bsockx.h)                          */
/******************************************************************************/

static struct dill__stream *dill__stream_x(struct dill__bsockx_vfs *x) {
    return DILL__CONT(x, struct dill__stream, xvfs);
}

static ssize_t dill__stream_brecvsome(struct dill__bsockx_vfs *x,
      void *buf, size_t len, int64_t deadline) {
    struct dill__stream *self = dill__stream_x(x);
    if(self->io.indone) {errno = EPIPE; return -1;}
    if(self->io.inerr) {errno = ECONNRESET; return -1;}
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    ssize_t r = dill__fd_recvsome(self->io.fd, &self->io, buf, len, deadline);
    if(r < 0) dill__stream_inerr(self, 0);
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return r;
}

static int dill__stream_xunread(struct dill__bsockx_vfs *x, const void *p,
      size_t n) {
    return dill__fd_unread(&dill__stream_x(x)->io, p, n);
}

static uint8_t *dill__stream_xreserve(struct dill__bsockx_vfs *x, size_t n,
      int64_t deadline) {
    struct dill__stream *self = dill__stream_x(x);
    struct dill__fdtx *tx = self->tx;
    /* Room already (what dill__stream_reserve would find first): nothing
       can sleep, so no pin (the per-message path of gathered writes). */
    if(tx && tx->state != DILL__TX_BLOCKED && tx->len + n <= tx->cap &&
       !self->io.outdone && !self->io.outerr)
        return tx->buf + tx->len;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    uint8_t *p = dill__stream_reserve(self, n, deadline);
    if(dill__unpin(&self->pin, &pr) < 0) return NULL;
    return p;
}

static void dill__stream_xcommit(struct dill__bsockx_vfs *x, size_t n) {
    dill__stream_commit(dill__stream_x(x), n);
}

static int dill__stream_xflush(struct dill__bsockx_vfs *x,
      int64_t deadline) {
    return dill__stream_flush(dill__stream_x(x), deadline);
}

static void dill__stream_xonroom(struct dill__bsockx_vfs *x,
      struct dill__defer *d) {
    struct dill__stream *self = dill__stream_x(x);
    if(self->tx) self->tx->room = d;
    /* Nothing queued: there is room (or an error to report) now. */
    else if(d) dill__defer(d);
}

static int dill__stream_xwaitin(struct dill__bsockx_vfs *x,
      int64_t deadline) {
    struct dill__stream *self = dill__stream_x(x);
    if(self->io.len || self->io.indone || self->io.inerr) return 0;
    if(self->io.buf) dill__fd_rxfree(&self->io);
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = dill_fdin(self->io.fd, deadline);
    if(dill__unpin(&self->pin, &pr) < 0 || rc < 0) return -1;
    /* Readable: the next receive reads at once instead of waiting again. */
    self->io.drained = 0;
    return 0;
}

static const struct dill__bsockx_ops dill__stream_xops = {
    dill__stream_brecvsome, dill__stream_xunread, dill__stream_xreserve,
    dill__stream_xcommit, dill__stream_xflush, dill__stream_xonroom,
    dill__stream_xwaitin
};

void *dill__stream_query(struct dill_hvfs *vfs, const void *type) {
    struct dill__stream *self = DILL__CONT(vfs, struct dill__stream, hvfs);
    if(type == dill_bsock_type) return &self->bvfs;
    if(type == dill__bsockx_type) return &self->xvfs;
    if(type == dill__stream_type) return self;
    errno = ENOTSUP;
    return NULL;
}

static void dill__stream_free(struct dill__pin *p) {
    free(dill__cont(p, struct dill__stream, pin));
}

static void dill__stream_hclose(struct dill_hvfs *vfs) {
    struct dill__stream *self = DILL__CONT(vfs, struct dill__stream, hvfs);
    if(self->tx) dill__stream_txlast(self);
    dill__fd_close(self->io.fd);
    dill__fd_rxfree(&self->io);
    dill__pin_close(&self->pin,
        self->io.mem ? dill__pin_nofree : dill__stream_free);
}

int dill__stream_make(int fd, int ipc, void *mem,
    void *(*query)(struct dill_hvfs *vfs, const void *type)) {
    struct dill__stream *self = mem;
    if(!self) {
        self = malloc(sizeof(*self));
        if(!self) {errno = ENOMEM; return -1;}
    }
    memset(self, 0, sizeof(*self));
    self->hvfs.query = query;
    self->hvfs.close = dill__stream_hclose;
    self->bvfs.bsendl = dill__stream_bsendl;
    self->bvfs.brecvl = dill__stream_brecvl;
    self->xvfs.ops = &dill__stream_xops;
    self->io.fd = fd;
    dill__pin_init(&self->pin);
    self->io.ipc = ipc ? 1 : 0;
    self->io.mem = mem ? 1 : 0;
    int h = dill_hmake(&self->hvfs);
    if(h < 0) {
        int err = errno;
        if(!mem) free(self);
        errno = err;
        return -1;
    }
    return h;
}

int dill__stream_done(struct dill__stream *self, int64_t deadline) {
    if(self->io.outdone) {errno = EPIPE; return -1;}
    if(self->io.outerr) {errno = ECONNRESET; return -1;}
    if(dill__stream_flush(self, deadline) < 0) return -1;
    if(shutdown(self->io.fd, SHUT_WR) < 0) {
        self->io.outerr = 1;
        errno = ECONNRESET;
        return -1;
    }
    self->io.outdone = 1;
    return 0;
}

/* The terminal handshake of dill__stream_close, pinned by the caller.
   Returns 0 or an errno value. */
static int dill__stream_bye(struct dill__stream *self, int64_t deadline) {
    /* A receive or send that merely timed out midway does not stop the
       terminal handshake; a connection that failed does. */
    if(self->io.reset) return ECONNRESET;
    if(!self->io.outdone && self->tx &&
       dill__stream_send(self, NULL, 0, deadline) < 0) return errno;
    if(!self->io.outdone) {
        if(shutdown(self->io.fd, SHUT_WR) < 0) return ECONNRESET;
        self->io.outdone = 1;
    }
    if(!self->io.indone && dill__fd_drain(self->io.fd, &self->io,
       deadline) < 0) return errno;
    return 0;
}

int dill__stream_close(int h, struct dill__stream *self, int64_t deadline) {
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int err = dill__stream_bye(self, deadline);
    /* Closed by someone else meanwhile: h is not ours any more. */
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    dill_hclose(h);
    if(err) {errno = err; return -1;}
    return 0;
}

int dill__stream_close_any(int s, const void *type, const void *listener_type,
      int64_t deadline) {
    struct dill__stream *self = dill_hquery(s, type);
    if(!self) {
        /* Listeners have no terminal handshake. */
        if(errno == ENOTSUP && dill_hquery(s, listener_type))
            return dill_hclose(s);
        return -1;
    }
    return dill__stream_close(s, self, deadline);
}
