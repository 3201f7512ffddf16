/* UDP sockets: datagrams to explicit addresses, and the message-socket
   interface bound to the remote given at open. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/core.h"
#include "libdillimpl.h"
#include "net/fd.h"
#include "net/iol.h"
#include "net/ipaddr.h"

/* Datagram lists longer than this many iovec entries are refused. */
#define DILL__UDP_IOV_MAX 128

struct dill__udp {
    struct dill_hvfs hvfs;
    struct dill_msock_vfs mvfs;
    struct dill_ipaddr remote;
    int fd;
    unsigned int hasremote : 1;
    unsigned int mem : 1;
};

_Static_assert(sizeof(struct dill__udp) <= sizeof(struct dill_udp_storage),
    "udp object must fit udp_storage");

/* An empty datagram still gets one (empty) iovec: qemu-user returns 0
   from sendmsg and recvmsg with no iovec without calling the kernel, so
   the datagram was never sent, or never consumed
   (tests/emu/udp_empty.c shows it). */
static void dill__udp_iovmin(struct msghdr *msg) {
    if(msg->msg_iovlen) return;
    msg->msg_iov[0].iov_base = NULL;
    msg->msg_iov[0].iov_len = 0;
    msg->msg_iovlen = 1;
}

static const int dill__udp_type_id = 0;
static const void *dill__udp_type = &dill__udp_type_id;

/* Sends one datagram; EAGAIN drops it silently (UDP is unreliable). */
static int dill__udp_sendl(struct dill__udp *self,
    const struct dill_ipaddr *addr, struct dill_iolist *first) {
    if(!addr) {
        if(!self->hasremote) {errno = EINVAL; return -1;}
        addr = &self->remote;
    }
    struct iovec iov[DILL__UDP_IOV_MAX];
    size_t total = dill__iol_size(first), cap;
    struct dill__iolcur cur = {first, 0};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = dill__iol_toiov(&cur, iov, DILL__UDP_IOV_MAX, total, &cap);
    if(cap != total) {errno = EMSGSIZE; return -1;}
    dill__udp_iovmin(&msg);
    msg.msg_name = (void*)dill_ipaddr_sockaddr(addr);
    msg.msg_namelen = dill_ipaddr_len(addr);
    while(1) {
        ssize_t r = sendmsg(self->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if(r >= 0) return 0;
        switch(errno) {
        case EINTR: continue;
        case EAGAIN:
#if EAGAIN != EWOULDBLOCK
        case EWOULDBLOCK:
#endif
        case ENOBUFS: case ECONNREFUSED: case EHOSTUNREACH: case ENETUNREACH:
            return 0;
        case EAFNOSUPPORT: case EDESTADDRREQ:
            errno = EINVAL;
            return -1;
        default:
            return -1;
        }
    }
}

/* Receives one datagram into the list (NULL: drop it); returns its size.
   EMSGSIZE when it did not fit (the datagram is gone).  With a remote,
   datagrams from anyone else are dropped, as libdill does: a connected
   UDP socket would do the same in the kernel, but this one may still
   send to other addresses with udp_send. */
static ssize_t dill__udp_recvl(struct dill__udp *self,
    struct dill_ipaddr *addr, struct dill_iolist *first, int64_t deadline) {
    struct iovec iov[DILL__UDP_IOV_MAX];
    size_t total = dill__iol_size(first), cap;
    struct dill__iolcur cur = {first, 0};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = dill__iol_toiov(&cur, iov, DILL__UDP_IOV_MAX, total, &cap);
    if(cap != total) {errno = EINVAL; return -1;}
    dill__udp_iovmin(&msg);
    struct sockaddr_storage ss;
    while(1) {
        msg.msg_name = &ss;
        msg.msg_namelen = sizeof(ss);
        /* MSG_TRUNC makes the kernel report the datagram's real size. */
        ssize_t r = recvmsg(self->fd, &msg, MSG_TRUNC);
        if(r >= 0) {
            struct dill_ipaddr from;
            if(dill__ipaddr_set(&from, (struct sockaddr*)&ss) < 0)
                memset(&from, 0, sizeof(from));
            if(self->hasremote && !dill_ipaddr_equal(&from, &self->remote, 0)) {
                /* A flood from strangers must not outlive the deadline. */
                if(dill__busy(deadline) < 0) return -1;
                continue;
            }
            if(addr) *addr = from;
            if(first && (size_t)r > total) {errno = EMSGSIZE; return -1;}
            return r;
        }
        if(errno == EINTR) continue;
        if(errno == EAGAIN || errno == EWOULDBLOCK) {
            if(dill_fdin(self->fd, deadline) < 0) return -1;
            continue;
        }
        /* ICMP errors of earlier sends say nothing about this receive. */
        if(errno == ECONNREFUSED || errno == EHOSTUNREACH ||
           errno == ENETUNREACH) {
            if(dill__busy(deadline) < 0) return -1;
            continue;
        }
        return -1;
    }
}

static int dill__udp_msendl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__udp *self = (struct dill__udp*)(void*)
        ((char*)mvfs - offsetof(struct dill__udp, mvfs));
    if(!self->hasremote) {errno = EINVAL; return -1;}
    return dill__udp_sendl(self, NULL, first);
}

static ssize_t dill__udp_mrecvl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__udp *self = (struct dill__udp*)(void*)
        ((char*)mvfs - offsetof(struct dill__udp, mvfs));
    return dill__udp_recvl(self, NULL, first, deadline);
}

static void *dill__udp_query(struct dill_hvfs *vfs, const void *type) {
    struct dill__udp *self = (struct dill__udp*)vfs;
    if(type == dill_msock_type) return &self->mvfs;
    if(type == dill__udp_type) return self;
    errno = ENOTSUP;
    return NULL;
}

static void dill__udp_hclose(struct dill_hvfs *vfs) {
    struct dill__udp *self = (struct dill__udp*)vfs;
    dill__fd_close(self->fd);
    if(!self->mem) free(self);
}

/* Opens the socket, binds it to local (writing a picked port back). */
static int dill__udp_socket(struct dill_ipaddr *local,
    const struct dill_ipaddr *remote) {
    int fam = local ? dill_ipaddr_family(local) : dill_ipaddr_family(remote);
    if((fam != AF_INET && fam != AF_INET6) ||
       (local && remote && dill_ipaddr_family(remote) != fam)) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if(fd < 0) return -1;
    if(local) {
        if(bind(fd, dill_ipaddr_sockaddr(local), dill_ipaddr_len(local)) < 0) {
            dill__fd_close(fd);
            return -1;
        }
        if(dill_ipaddr_port(local) == 0) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            struct dill_ipaddr bound;
            if(getsockname(fd, (struct sockaddr*)&ss, &sl) < 0) {
                dill__fd_close(fd);
                return -1;
            }
            if(dill__ipaddr_set(&bound, (struct sockaddr*)&ss) == 0)
                dill_ipaddr_setport(local, dill_ipaddr_port(&bound));
        }
    }
    return fd;
}

int dill_udp_open_mem(struct dill_ipaddr *local,
    const struct dill_ipaddr *remote, struct dill_udp_storage *mem) {
    if(!local && !remote) {errno = EINVAL; return -1;}
    int fd = dill__udp_socket(local, remote);
    if(fd < 0) return -1;
    struct dill__udp *self = (struct dill__udp*)mem;
    if(!self) {
        self = malloc(sizeof(*self));
        if(!self) {dill__fd_close(fd); errno = ENOMEM; return -1;}
    }
    memset(self, 0, sizeof(*self));
    self->hvfs.query = dill__udp_query;
    self->hvfs.close = dill__udp_hclose;
    self->mvfs.msendl = dill__udp_msendl;
    self->mvfs.mrecvl = dill__udp_mrecvl;
    self->fd = fd;
    self->mem = mem ? 1 : 0;
    if(remote) {
        self->remote = *remote;
        self->hasremote = 1;
    }
    int h = dill_hmake(&self->hvfs);
    if(h < 0) {
        int err = errno;
        dill__fd_close(fd);
        if(!mem) free(self);
        errno = err;
        return -1;
    }
    return h;
}

int dill_udp_open(struct dill_ipaddr *local,
    const struct dill_ipaddr *remote) {
    return dill_udp_open_mem(local, remote, NULL);
}

int dill_udp_sendl(int s, const struct dill_ipaddr *addr,
    struct dill_iolist *first, struct dill_iolist *last) {
    struct dill__udp *self = dill_hquery(s, dill__udp_type);
    if(!self) return -1;
    int rc = dill__iol_check(first, last, 1, NULL);
    if(rc < 0) {errno = -rc; return -1;}
    return dill__udp_sendl(self, addr, first);
}

ssize_t dill_udp_recvl(int s, struct dill_ipaddr *addr,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__udp *self = dill_hquery(s, dill__udp_type);
    if(!self) return -1;
    if(first || last) {
        int rc = dill__iol_check(first, last, 0, NULL);
        if(rc < 0) {errno = -rc; return -1;}
    }
    return dill__udp_recvl(self, addr, first, deadline);
}

int dill_udp_send(int s, const struct dill_ipaddr *addr, const void *buf,
    size_t len) {
    struct dill__udp *self = dill_hquery(s, dill__udp_type);
    if(!self) return -1;
    if(!buf && len) {errno = EINVAL; return -1;}
    struct dill_iolist iol = {(void*)buf, len, NULL, 0};
    return dill__udp_sendl(self, addr, &iol);
}

ssize_t dill_udp_recv(int s, struct dill_ipaddr *addr, void *buf, size_t len,
    int64_t deadline) {
    struct dill__udp *self = dill_hquery(s, dill__udp_type);
    if(!self) return -1;
    struct dill_iolist iol = {buf, len, NULL, 0};
    return dill__udp_recvl(self, addr, &iol, deadline);
}
