/* Listening sockets (TCP and IPC). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/core.h"
#include "net/fd.h"
#include "net/listener.h"

_Static_assert(sizeof(struct dill__listener) <=
    sizeof(struct dill_tcp_listener_storage), "must fit tcp listener storage");
_Static_assert(sizeof(struct dill__listener) <=
    sizeof(struct dill_ipc_listener_storage), "must fit ipc listener storage");

static void dill__listener_hclose(struct dill_hvfs *vfs) {
    struct dill__listener *self = (struct dill__listener*)vfs;
    dill__fd_close(self->fd);
    if(!self->mem) free(self);
}

void *dill__listener_query(struct dill_hvfs *vfs, const void *type,
    const void *mytype) {
    if(type == mytype) return vfs;
    errno = ENOTSUP;
    return NULL;
}

int dill__listener_make(int fd, void *mem,
    void *(*query)(struct dill_hvfs *vfs, const void *type)) {
    struct dill__listener *self = mem;
    if(!self) {
        self = malloc(sizeof(*self));
        if(!self) {errno = ENOMEM; return -1;}
    }
    memset(self, 0, sizeof(*self));
    self->hvfs.query = query;
    self->hvfs.close = dill__listener_hclose;
    self->fd = fd;
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

int dill__listener_accept(struct dill__listener *self, struct sockaddr *sa,
    socklen_t *salen, int64_t deadline) {
    while(1) {
        int fd = accept4(self->fd, sa, salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if(fd >= 0) return fd;
        switch(errno) {
        case EAGAIN:
#if EAGAIN != EWOULDBLOCK
        case EWOULDBLOCK:
#endif
            if(dill_fdin(self->fd, deadline) < 0) return -1;
            continue;
        /* The connection died before we took it, or a transient network
           error (accept(2) asks to retry these on Linux). */
        case EINTR: case ECONNABORTED: case EPROTO: case ENETDOWN:
        case ENOPROTOOPT: case EHOSTDOWN: case ENONET: case EHOSTUNREACH:
        case EOPNOTSUPP: case ENETUNREACH:
            if(dill__busy(deadline) < 0) return -1;
            continue;
        case ENOBUFS:
            errno = ENOMEM;
            return -1;
        default:
            return -1;
        }
    }
}
