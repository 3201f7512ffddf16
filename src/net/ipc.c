/* IPC: UNIX domain stream sockets, including descriptor passing. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "net/fd.h"
#include "net/listener.h"
#include "net/stream.h"

static const int dill__ipc_type_id = 0;
static const void *dill__ipc_type = &dill__ipc_type_id;
static const int dill__ipc_listener_type_id = 0;
static const void *dill__ipc_listener_type = &dill__ipc_listener_type_id;

static void *dill__ipc_query(struct dill_hvfs *vfs, const void *type) {
    if(type == dill__ipc_type) return vfs;
    return dill__stream_query(vfs, type);
}

static void *dill__ipc_listener_query(struct dill_hvfs *vfs,
    const void *type) {
    return dill__listener_query(vfs, type, dill__ipc_listener_type);
}

/* Wraps a connected fd; closes it on failure. */
static int dill__ipc_wrap(int fd, struct dill_ipc_storage *mem) {
    int h = dill__stream_make(fd, 1, mem, dill__ipc_query);
    if(h < 0) dill__fd_close(fd);
    return h;
}

static int dill__ipc_sockaddr(struct sockaddr_un *su, const char *addr) {
    if(!addr || !*addr) {errno = EINVAL; return -1;}
    if(strlen(addr) >= sizeof(su->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(su, 0, sizeof(*su));
    su->sun_family = AF_UNIX;
    strcpy(su->sun_path, addr);
    return 0;
}

int dill_ipc_listen_mem(const char *addr, int backlog,
    struct dill_ipc_listener_storage *mem) {
    struct sockaddr_un su;
    if(dill__ipc_sockaddr(&su, addr) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if(fd < 0) return -1;
    if(bind(fd, (struct sockaddr*)&su, sizeof(su)) < 0 ||
       listen(fd, backlog) < 0) {
        dill__fd_close(fd);
        return -1;
    }
    int h = dill__listener_make(fd, mem, dill__ipc_listener_query);
    if(h < 0) dill__fd_close(fd);
    return h;
}

int dill_ipc_listen(const char *addr, int backlog) {
    return dill_ipc_listen_mem(addr, backlog, NULL);
}

int dill_ipc_accept_mem(int s, struct dill_ipc_storage *mem,
    int64_t deadline) {
    struct dill__listener *ls = dill_hquery(s, dill__ipc_listener_type);
    if(!ls) return -1;
    int fd = dill__listener_accept(ls, NULL, NULL, deadline);
    if(fd < 0) return -1;
    return dill__ipc_wrap(fd, mem);
}

int dill_ipc_accept(int s, int64_t deadline) {
    return dill_ipc_accept_mem(s, NULL, deadline);
}

int dill_ipc_connect_mem(const char *addr, struct dill_ipc_storage *mem,
    int64_t deadline) {
    struct sockaddr_un su;
    if(dill__ipc_sockaddr(&su, addr) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if(fd < 0) return -1;
    while(1) {
        if(connect(fd, (struct sockaddr*)&su, sizeof(su)) == 0) break;
        if(errno == EINTR) continue;
        if(errno == EINPROGRESS) {
            if(dill_fdout(fd, deadline) < 0) {dill__fd_close(fd); return -1;}
            int err = 0;
            socklen_t len = sizeof(err);
            if(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
            if(err) {dill__fd_close(fd); errno = err; return -1;}
            break;
        }
        /* A full backlog: a non-blocking AF_UNIX connect says EAGAIN and
           there is nothing to wait on, so poll at a gentle pace. */
        if(errno == EAGAIN) {
            int64_t tnow = dill_now();
            if(deadline >= 0 && tnow >= deadline) {
                dill__fd_close(fd);
                errno = ETIMEDOUT;
                return -1;
            }
            int64_t wake = tnow + 10;
            if(deadline >= 0 && deadline < wake) wake = deadline;
            if(dill_msleep(wake) < 0) {dill__fd_close(fd); return -1;}
            continue;
        }
        dill__fd_close(fd);
        return -1;
    }
    return dill__ipc_wrap(fd, mem);
}

int dill_ipc_connect(const char *addr, int64_t deadline) {
    return dill_ipc_connect_mem(addr, NULL, deadline);
}

int dill_ipc_sendfd(int s, int fd, int64_t deadline) {
    struct dill__stream *self = dill_hquery(s, dill__ipc_type);
    if(!self) return -1;
    if(fd < 0) {errno = EBADF; return -1;}
    if(self->io.outdone) {errno = EPIPE; return -1;}
    if(self->io.outerr) {errno = ECONNRESET; return -1;}
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = self->tx ? dill__stream_flush(self, deadline) : 0;
    if(rc == 0) rc = dill__fd_sendfd(self->io.fd, fd, deadline);
    if(rc < 0 && errno == ECONNRESET) self->io.outerr = self->io.reset = 1;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return rc;
}

int dill_ipc_recvfd(int s, int64_t deadline) {
    struct dill__stream *self = dill_hquery(s, dill__ipc_type);
    if(!self) return -1;
    if(self->io.indone) {errno = EPIPE; return -1;}
    if(self->io.inerr) {errno = ECONNRESET; return -1;}
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int fd = dill__fd_recvfd(self->io.fd, &self->io, deadline);
    if(fd < 0 && errno == EPIPE) self->io.indone = 1;
    else if(fd < 0 && (errno == ECONNRESET || errno == EPROTO))
        self->io.inerr = 1;
    if(fd < 0 && errno == ECONNRESET) self->io.reset = 1;
    if(dill__unpin(&self->pin, &pr) < 0) {
        if(fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

int dill_ipc_done(int s, int64_t deadline) {
    struct dill__stream *self = dill_hquery(s, dill__ipc_type);
    if(!self) return -1;
    return dill__stream_done(self, deadline);
}

int dill_ipc_close(int s, int64_t deadline) {
    return dill__stream_close_any(s, dill__ipc_type, dill__ipc_listener_type, deadline);
}

static int dill__ipc_checkfd(int fd, int listening) {
    return dill__fd_checksock(fd, AF_UNIX, AF_UNIX, listening);
}

int dill_ipc_listener_fromfd_mem(int fd,
    struct dill_ipc_listener_storage *mem) {
    if(dill__ipc_checkfd(fd, 1) < 0) return -1;
    return dill__listener_make(fd, mem, dill__ipc_listener_query);
}

int dill_ipc_listener_fromfd(int fd) {
    return dill_ipc_listener_fromfd_mem(fd, NULL);
}

int dill_ipc_fromfd_mem(int fd, struct dill_ipc_storage *mem) {
    if(dill__ipc_checkfd(fd, 0) < 0) return -1;
    return dill__stream_make(fd, 1, mem, dill__ipc_query);
}

int dill_ipc_fromfd(int fd) {
    return dill_ipc_fromfd_mem(fd, NULL);
}

int dill_ipc_pair_mem(struct dill_ipc_pair_storage *mem, int s[2]) {
    if(!s) {errno = EINVAL; return -1;}
    int fds[2];
    if(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
        fds) < 0) return -1;
    struct dill_ipc_storage *m = (struct dill_ipc_storage*)mem;
    s[0] = dill__stream_make(fds[0], 1, m ? &m[0] : NULL, dill__ipc_query);
    if(s[0] < 0) {
        dill__fd_close(fds[0]);
        dill__fd_close(fds[1]);
        return -1;
    }
    s[1] = dill__stream_make(fds[1], 1, m ? &m[1] : NULL, dill__ipc_query);
    if(s[1] < 0) {
        int err = errno;
        dill_hclose(s[0]);
        dill__fd_close(fds[1]);
        errno = err;
        return -1;
    }
    return 0;
}

int dill_ipc_pair(int s[2]) {
    return dill_ipc_pair_mem(NULL, s);
}
