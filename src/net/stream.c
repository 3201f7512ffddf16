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

struct dill__fdtx {
    struct dill__defer d;          /* queued for the end of the turn */
    struct dill__fdcb cb;          /* waiting for room in the background */
    struct dill__stream *s;
    uint32_t len;
    uint8_t cbset;                 /* cb is registered with the poller */
    uint8_t busy;                  /* a blocking write holds buf */
    uint8_t buf[DILL__TXBUF_SIZE];
};

static void dill__stream_txfree(struct dill__stream *self) {
    struct dill__fdtx *tx = self->tx;
    dill__undefer(&tx->d);
    if(tx->cbset) dill__fdout_cb_clear(self->fd);
    self->tx = NULL;
    dill__pool_put(DILL__POOL_FDTX, tx);
}

/* Writes what the kernel takes now without blocking.  What is left waits
   for the poller to report room; a failure breaks the send side, and the
   next send reports it.  Runs from the scheduler: errno is kept. */
static void dill__stream_txkick(struct dill__stream *self) {
    struct dill__fdtx *tx = self->tx;
    int err = errno;
    size_t off = 0;
    while(off < tx->len) {
        ssize_t r = send(self->fd, tx->buf + off, tx->len - off,
            MSG_NOSIGNAL | MSG_DONTWAIT);
        if(r >= 0) {off += (size_t)r; continue;}
        if(errno == EINTR) continue;
        if(errno == EAGAIN || errno == EWOULDBLOCK) break;
        self->io.outerr = 1;
        if(errno != ENOMEM && errno != ENOBUFS) self->io.reset = 1;
        dill__stream_txfree(self);
        errno = err;
        return;
    }
    if(off == tx->len) dill__stream_txfree(self);
    else {
        memmove(tx->buf, tx->buf + off, tx->len - off);
        tx->len -= (uint32_t)off;
        if(!tx->cbset) {
            if(dill__fdout_cb(self->fd, &tx->cb) == 0) tx->cbset = 1;
            else {self->io.outerr = 1; dill__stream_txfree(self);}
        }
    }
    errno = err;
}

static void dill__stream_txrun(struct dill__defer *d) {
    dill__stream_txkick(dill__cont(d, struct dill__fdtx, d)->s);
}

static void dill__stream_txcb(struct dill__fdcb *cb) {
    dill__stream_txkick(dill__cont(cb, struct dill__fdtx, cb)->s);
}

/* Sends the gathered bytes followed by the list first (may be NULL) in as
   few system calls as possible.  keep: leave the emptied buffer for more
   gathering. */
static int dill__stream_send(struct dill__stream *self,
      struct dill_iolist *first, int keep, int64_t deadline) {
    if(self->io.outdone) {errno = EPIPE; return -1;}
    if(self->io.outerr) {errno = ECONNRESET; return -1;}
    struct dill__fdtx *tx = self->tx;
    struct dill_iolist t;
    struct dill_iolist *start = first;
    size_t pending = 0;
    if(tx) {
        if(tx->busy) {errno = EBUSY; return -1;}
        dill__undefer(&tx->d);
        if(tx->cbset) {dill__fdout_cb_clear(self->fd); tx->cbset = 0;}
        pending = tx->len;
        t.iol_base = tx->buf;
        t.iol_len = pending;
        t.iol_next = first;
        t.iol_rsvd = 0;
        start = &t;
        tx->busy = 1;
    }
    size_t sent = 0;
    int rc = start ? dill__fd_sendl(self->fd, start, deadline, &sent) : 0;
    /* EBADF: closed while we waited; self may be freed already. */
    if(rc < 0 && errno == EBADF) return -1;
    if(tx) {
        tx->busy = 0;
        size_t k = sent < pending ? sent : pending;
        memmove(tx->buf, tx->buf + k, pending - k);
        tx->len = (uint32_t)(pending - k);
        if(tx->len) dill__defer(&tx->d);
        else if(!keep) dill__stream_txfree(self);
    }
    if(rc == 0) return 0;
    /* Part of the data went out: the stream can no longer be resumed.  A
       timeout with nothing sent leaves the socket usable. */
    if(sent || errno == ECONNRESET) {
        self->io.outerr = 1;
        if(self->tx) dill__stream_txfree(self);
    }
    if(errno == ECONNRESET) self->io.reset = 1;
    return -1;
}

uint8_t *dill__stream_reserve(struct dill__stream *self, size_t n,
      int64_t deadline) {
    if(self->io.outdone) {errno = EPIPE; return NULL;}
    if(self->io.outerr) {errno = ECONNRESET; return NULL;}
    struct dill__fdtx *tx = self->tx;
    if(!tx) {
        tx = dill__pool_get(DILL__POOL_FDTX, sizeof(*tx));
        if(!tx) return NULL;
        dill__defer_init(&tx->d, dill__stream_txrun);
        tx->cb.fn = dill__stream_txcb;
        tx->s = self;
        tx->len = 0;
        tx->cbset = 0;
        tx->busy = 0;
        self->tx = tx;
    }
    else if(tx->busy) {errno = EBUSY; return NULL;}
    if(tx->len + n > DILL__TXBUF_SIZE &&
       dill__stream_send(self, NULL, 1, deadline) < 0)
        return NULL;
    return self->tx->buf + self->tx->len;
}

void dill__stream_commit(struct dill__stream *self, size_t n) {
    struct dill__fdtx *tx = self->tx;
    tx->len += (uint32_t)n;
    /* With the poller already waiting for room, that callback writes. */
    if(!tx->cbset) dill__defer(&tx->d);
}

int dill__stream_flush(struct dill__stream *self, int64_t deadline) {
    if(!self->tx) return 0;
    return dill__stream_send(self, NULL, 0, deadline);
}

/* On close: one last non-blocking attempt, like the kernel that keeps
   sending what was queued before close(). */
static void dill__stream_txlast(struct dill__stream *self) {
    if(!self->tx->busy && !self->io.outerr) {
        if(self->tx->cbset) {
            dill__fdout_cb_clear(self->fd);
            self->tx->cbset = 0;
        }
        dill__stream_txkick(self);
    }
    if(self->tx) dill__stream_txfree(self);
}

/******************************************************************************/
/*  Bytestream                                                                */
/******************************************************************************/

static int dill__stream_bsendl(struct dill_bsock_vfs *bvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__stream *self = DILL__CONT(bvfs, struct dill__stream, bvfs);
    return dill__stream_send(self, first, 0, deadline);
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
    int rc = dill__fd_recvl(self->fd, &self->io,
        self->io.ipc ? &self->pendfd : NULL, first, deadline, &got);
    if(rc == 0) return 0;
    if(errno == EBADF) return -1;
    dill__stream_inerr(self, got);
    return -1;
}

static ssize_t dill__stream_brecvsome(struct dill__bsockx_vfs *xvfs,
    void *buf, size_t len, int64_t deadline) {
    struct dill__stream *self = DILL__CONT(xvfs, struct dill__stream, xvfs);
    if(self->io.indone) {errno = EPIPE; return -1;}
    if(self->io.inerr) {errno = ECONNRESET; return -1;}
    ssize_t r = dill__fd_recvsome(self->fd, &self->io,
        self->io.ipc ? &self->pendfd : NULL, buf, len, deadline);
    if(r < 0 && errno != EBADF) dill__stream_inerr(self, 0);
    return r;
}

void *dill__stream_query(struct dill_hvfs *vfs, const void *type) {
    struct dill__stream *self = DILL__CONT(vfs, struct dill__stream, hvfs);
    if(type == dill_bsock_type) return &self->bvfs;
    if(type == dill__bsockx_type) return &self->xvfs;
    if(type == dill__stream_type) return self;
    errno = ENOTSUP;
    return NULL;
}

static void dill__stream_hclose(struct dill_hvfs *vfs) {
    struct dill__stream *self = DILL__CONT(vfs, struct dill__stream, hvfs);
    if(self->tx) dill__stream_txlast(self);
    dill__fd_close(self->fd);
    dill__fd_rxfree(&self->io);
    if(self->pendfd >= 0) dill__fd_close(self->pendfd);
    if(!self->io.mem) free(self);
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
    self->xvfs.brecvsome = dill__stream_brecvsome;
    self->fd = fd;
    self->pendfd = -1;
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
    if(shutdown(self->fd, SHUT_WR) < 0) {
        self->io.outerr = 1;
        errno = ECONNRESET;
        return -1;
    }
    self->io.outdone = 1;
    return 0;
}

int dill__stream_close(int h, struct dill__stream *self, int64_t deadline) {
    int err = 0;
    /* A receive or send that merely timed out midway does not stop the
       terminal handshake; a connection that failed does. */
    if(self->io.reset) err = ECONNRESET;
    if(!err && !self->io.outdone && self->tx &&
       dill__stream_flush(self, deadline) < 0) {
        if(errno == EBADF) return -1;
        err = errno;
    }
    if(!err && !self->io.outdone) {
        if(shutdown(self->fd, SHUT_WR) < 0) err = ECONNRESET;
        else self->io.outdone = 1;
    }
    if(!err && !self->io.indone) {
        if(self->pendfd >= 0) {
            dill__fd_close(self->pendfd);
            self->pendfd = -1;
        }
        if(dill__fd_drain(self->fd, &self->io, deadline) < 0) {
            /* Closed by someone else meanwhile: h is not ours any more. */
            if(errno == EBADF) return -1;
            err = errno;
        }
    }
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
