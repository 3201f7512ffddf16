/* TCP listeners and connections. */

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "net/fd.h"
#include "net/ipaddr.h"
#include "net/listener.h"
#include "net/stream.h"

static const int dill__tcp_type_id = 0;
static const void *dill__tcp_type = &dill__tcp_type_id;
static const int dill__tcp_listener_type_id = 0;
static const void *dill__tcp_listener_type = &dill__tcp_listener_type_id;

static void *dill__tcp_query(struct dill_hvfs *vfs, const void *type) {
    if(type == dill__tcp_type) return vfs;
    return dill__stream_query(vfs, type);
}

static void *dill__tcp_listener_query(struct dill_hvfs *vfs,
    const void *type) {
    return dill__listener_query(vfs, type, dill__tcp_listener_type);
}

static void dill__tcp_nodelay(int fd) {
    int one = 1;
    /* Best effort: latency, not correctness. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Wraps a connected fd; closes it on failure. */
static int dill__tcp_wrap(int fd, struct dill_tcp_storage *mem) {
    int h = dill__stream_make(fd, 0, mem, dill__tcp_query);
    if(h < 0) dill__fd_close(fd);
    return h;
}

static int dill__tcp_listen(struct dill_ipaddr *addr, int backlog,
    int reuseport, struct dill_tcp_listener_storage *mem) {
    if(!addr || (dill_ipaddr_family(addr) != AF_INET &&
       dill_ipaddr_family(addr) != AF_INET6)) {errno = EINVAL; return -1;}
    int fd = socket(dill_ipaddr_family(addr),
        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if(fd < 0) return -1;
    int one = 1;
    if(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
       (reuseport &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
       bind(fd, dill_ipaddr_sockaddr(addr), dill_ipaddr_len(addr)) < 0 ||
       listen(fd, backlog) < 0) {
        dill__fd_close(fd);
        return -1;
    }
    if(dill_ipaddr_port(addr) == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if(getsockname(fd, (struct sockaddr*)&ss, &sl) < 0) {
            dill__fd_close(fd);
            return -1;
        }
        struct dill_ipaddr bound;
        if(dill__ipaddr_set(&bound, (struct sockaddr*)&ss) == 0)
            dill_ipaddr_setport(addr, dill_ipaddr_port(&bound));
    }
    int h = dill__listener_make(fd, mem, dill__tcp_listener_query);
    if(h < 0) dill__fd_close(fd);
    return h;
}

int dill_tcp_listen_mem(struct dill_ipaddr *addr, int backlog,
    struct dill_tcp_listener_storage *mem) {
    return dill__tcp_listen(addr, backlog, 0, mem);
}

int dill_tcp_listen(struct dill_ipaddr *addr, int backlog) {
    return dill__tcp_listen(addr, backlog, 0, NULL);
}

int dill_tcp_listen_reuseport(struct dill_ipaddr *addr, int backlog) {
    return dill__tcp_listen(addr, backlog, 1, NULL);
}

int dill_tcp_accept_mem(int s, struct dill_ipaddr *addr,
    struct dill_tcp_storage *mem, int64_t deadline) {
    struct dill__listener *ls = dill_hquery(s, dill__tcp_listener_type);
    if(!ls) return -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = dill__listener_accept(ls, (struct sockaddr*)&ss, &sl, deadline);
    if(fd < 0) return -1;
    dill__tcp_nodelay(fd);
    if(addr) dill__ipaddr_set(addr, (struct sockaddr*)&ss);
    return dill__tcp_wrap(fd, mem);
}

int dill_tcp_accept(int s, struct dill_ipaddr *addr, int64_t deadline) {
    return dill_tcp_accept_mem(s, addr, NULL, deadline);
}

int dill_tcp_connect_mem(const struct dill_ipaddr *addr,
    struct dill_tcp_storage *mem, int64_t deadline) {
    if(!addr || (dill_ipaddr_family(addr) != AF_INET &&
       dill_ipaddr_family(addr) != AF_INET6)) {errno = EINVAL; return -1;}
    int fd = socket(dill_ipaddr_family(addr),
        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if(fd < 0) return -1;
    int rc = connect(fd, dill_ipaddr_sockaddr(addr), dill_ipaddr_len(addr));
    if(rc < 0 && errno != EINPROGRESS) {dill__fd_close(fd); return -1;}
    if(rc < 0) {
        if(dill_fdout(fd, deadline) < 0) {dill__fd_close(fd); return -1;}
        int err = 0;
        socklen_t len = sizeof(err);
        if(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if(err) {dill__fd_close(fd); errno = err; return -1;}
    }
    dill__tcp_nodelay(fd);
    return dill__tcp_wrap(fd, mem);
}

int dill_tcp_connect(const struct dill_ipaddr *addr, int64_t deadline) {
    return dill_tcp_connect_mem(addr, NULL, deadline);
}

int dill_tcp_done(int s, int64_t deadline) {
    struct dill__stream *self = dill_hquery(s, dill__tcp_type);
    if(!self) return -1;
    return dill__stream_done(self, deadline);
}

int dill_tcp_close(int s, int64_t deadline) {
    return dill__stream_close_any(s, dill__tcp_type, dill__tcp_listener_type, deadline);
}

static int dill__tcp_checkfd(int fd, int listening) {
    return dill__fd_checksock(fd, AF_INET, AF_INET6, listening);
}

int dill_tcp_listener_fromfd_mem(int fd,
    struct dill_tcp_listener_storage *mem) {
    if(dill__tcp_checkfd(fd, 1) < 0) return -1;
    return dill__listener_make(fd, mem, dill__tcp_listener_query);
}

int dill_tcp_listener_fromfd(int fd) {
    return dill_tcp_listener_fromfd_mem(fd, NULL);
}

int dill_tcp_fromfd_mem(int fd, struct dill_tcp_storage *mem) {
    if(dill__tcp_checkfd(fd, 0) < 0) return -1;
    return dill__stream_make(fd, 0, mem, dill__tcp_query);
}

int dill_tcp_fromfd(int fd) {
    return dill_tcp_fromfd_mem(fd, NULL);
}

int dill_tcp_localaddr(int s, struct dill_ipaddr *addr) {
    if(!addr) {errno = EINVAL; return -1;}
    int fd;
    struct dill__stream *conn = dill_hquery(s, dill__tcp_type);
    if(conn) {
        fd = conn->io.fd;
    } else {
        if(errno != ENOTSUP) return -1;
        struct dill__listener *ls = dill_hquery(s, dill__tcp_listener_type);
        if(!ls) return -1;
        fd = ls->fd;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if(getsockname(fd, (struct sockaddr*)&ss, &sl) < 0) return -1;
    if(dill__ipaddr_set(addr, (struct sockaddr*)&ss) < 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}
