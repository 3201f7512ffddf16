/* Connected stream sockets (TCP and IPC share everything but addressing). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/stream.h"

#define DILL__CONT(ptr, type, member) \
    ((type*)(void*)((char*)(ptr) - offsetof(type, member)))

_Static_assert(sizeof(struct dill__stream) <= sizeof(struct dill_tcp_storage),
    "stream object must fit tcp_storage");
_Static_assert(sizeof(struct dill__stream) <= sizeof(struct dill_ipc_storage),
    "stream object must fit ipc_storage");
_Static_assert(2 * sizeof(struct dill_ipc_storage) <=
    sizeof(struct dill_ipc_pair_storage), "pair must fit ipc_pair_storage");

static int dill__stream_bsendl(struct dill_bsock_vfs *bvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__stream *self = DILL__CONT(bvfs, struct dill__stream, bvfs);
    if(self->outdone) {errno = EPIPE; return -1;}
    if(self->outerr) {errno = ECONNRESET; return -1;}
    size_t sent = 0;
    if(dill__fd_sendl(self->fd, first, deadline, &sent) == 0) return 0;
    /* EBADF: closed while we waited; self may be freed already. */
    if(errno == EBADF) return -1;
    /* Part of the data went out: the stream can no longer be resumed.  A
       timeout with nothing sent leaves the socket usable. */
    if(sent || errno == ECONNRESET) self->outerr = 1;
    if(errno == ECONNRESET) self->reset = 1;
    return -1;
}

/* Records what a failed receive did to the socket.  errno is kept. */
static void dill__stream_inerr(struct dill__stream *self, size_t got) {
    if(errno == EPIPE) self->indone = 1;
    else if(got || errno == ECONNRESET || errno == EPROTO) self->inerr = 1;
    if(errno == ECONNRESET) self->reset = 1;
}

static int dill__stream_brecvl(struct dill_bsock_vfs *bvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__stream *self = DILL__CONT(bvfs, struct dill__stream, bvfs);
    if(self->indone) {errno = EPIPE; return -1;}
    if(self->inerr) {errno = ECONNRESET; return -1;}
    size_t got = 0;
    int rc = dill__fd_recvl(self->fd, &self->rx,
        self->ipc ? &self->pendfd : NULL, first, deadline, &got);
    if(rc == 0) return 0;
    if(errno == EBADF) return -1;
    dill__stream_inerr(self, got);
    return -1;
}

static ssize_t dill__stream_brecvsome(struct dill__bsockx_vfs *xvfs,
    void *buf, size_t len, int64_t deadline) {
    struct dill__stream *self = DILL__CONT(xvfs, struct dill__stream, xvfs);
    if(self->indone) {errno = EPIPE; return -1;}
    if(self->inerr) {errno = ECONNRESET; return -1;}
    ssize_t r = dill__fd_recvsome(self->fd, &self->rx,
        self->ipc ? &self->pendfd : NULL, buf, len, deadline);
    if(r < 0 && errno != EBADF) dill__stream_inerr(self, 0);
    return r;
}

void *dill__stream_query(struct dill_hvfs *vfs, const void *type) {
    struct dill__stream *self = DILL__CONT(vfs, struct dill__stream, hvfs);
    if(type == dill_bsock_type) return &self->bvfs;
    if(type == dill__bsockx_type) return &self->xvfs;
    errno = ENOTSUP;
    return NULL;
}

static void dill__stream_hclose(struct dill_hvfs *vfs) {
    struct dill__stream *self = DILL__CONT(vfs, struct dill__stream, hvfs);
    dill__fd_close(self->fd);
    dill__fd_rxfree(&self->rx);
    if(self->pendfd >= 0) dill__fd_close(self->pendfd);
    if(!self->mem) free(self);
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
    self->ipc = ipc ? 1 : 0;
    self->mem = mem ? 1 : 0;
    int h = dill_hmake(&self->hvfs);
    if(h < 0) {
        int err = errno;
        if(!mem) free(self);
        errno = err;
        return -1;
    }
    return h;
}

int dill__stream_done(struct dill__stream *self) {
    if(self->outdone) {errno = EPIPE; return -1;}
    if(self->outerr) {errno = ECONNRESET; return -1;}
    if(shutdown(self->fd, SHUT_WR) < 0) {
        self->outerr = 1;
        errno = ECONNRESET;
        return -1;
    }
    self->outdone = 1;
    return 0;
}

int dill__stream_close(int h, struct dill__stream *self, int64_t deadline) {
    int err = 0;
    /* A receive or send that merely timed out midway does not stop the
       terminal handshake; a connection that failed does. */
    if(self->reset) err = ECONNRESET;
    if(!err && !self->outdone) {
        if(shutdown(self->fd, SHUT_WR) < 0) err = ECONNRESET;
        else self->outdone = 1;
    }
    if(!err && !self->indone) {
        if(self->pendfd >= 0) {
            dill__fd_close(self->pendfd);
            self->pendfd = -1;
        }
        if(dill__fd_drain(self->fd, &self->rx, deadline) < 0) {
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
