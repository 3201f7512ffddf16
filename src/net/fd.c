/* Non-blocking stream fds driven by the scheduler: one receive buffer per
   socket so that many small reads cost one recvmsg(), gathered sends, and
   file descriptor passing for AF_UNIX. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"
#include "net/fd.h"
#include "net/iol.h"

_Static_assert(DILL__RXBUF_SIZE <= UINT16_MAX, "rx offsets are 16-bit");

/* Most iovec entries handed to one system call. */
#define DILL__IOV_MAX 64
/* Most descriptors accepted in one control message; extras are closed. */
#define DILL__MAXFDS 8

int dill__fd_unblock(int fd) {
    int fl = fcntl(fd, F_GETFL, 0);
    if(fl < 0) return -1;
    if(!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int fdfl = fcntl(fd, F_GETFD, 0);
    if(fdfl < 0) return -1;
    if(!(fdfl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

void dill__fd_close(int fd) {
    int err = errno;
    dill_fdclean(fd);
    close(fd);
    errno = err;
}

/* What a receive buffer block holds behind its bytes: fields used only
   while bytes are buffered, kept out of struct dill__fdrx (fd.h). */
struct dill__fdrxtail {
    uint16_t pos;
    int pendfd;    /* came with the last buffered byte (AF_UNIX), or -1 */
};

static struct dill__fdrxtail *dill__fd_tail(struct dill__fdrx *rx) {
    return (struct dill__fdrxtail*)(void*)(rx->buf + DILL__RXBUF_SIZE);
}

/* Gets an empty buffer block for rx (which has none).  NULL on ENOMEM. */
static uint8_t *dill__fd_rxalloc(struct dill__fdrx *rx) {
    rx->buf = dill__pool_get(DILL__POOL_FDRX,
        DILL__RXBUF_SIZE + sizeof(struct dill__fdrxtail));
    if(!rx->buf) {errno = ENOMEM; return NULL;}
    dill__fd_tail(rx)->pos = 0;
    dill__fd_tail(rx)->pendfd = -1;
    rx->len = 0;
    return rx->buf;
}

int dill__fd_unread(struct dill__fdrx *rx, const void *p, size_t n) {
    if(n == 0) return 0;
    if(n > (size_t)DILL__RXBUF_SIZE - rx->len) {errno = ENOBUFS; return -1;}
    if(!rx->buf && !dill__fd_rxalloc(rx)) return -1;
    struct dill__fdrxtail *t = dill__fd_tail(rx);
    if(t->pos < n) {
        memmove(rx->buf + n, rx->buf + t->pos, rx->len);
        t->pos = (uint16_t)n;
    }
    t->pos = (uint16_t)(t->pos - n);
    memcpy(rx->buf + t->pos, p, n);
    rx->len = (uint16_t)(rx->len + n);
    return 0;
}

void dill__fd_rxfree(struct dill__fdrx *rx) {
    if(rx->buf && dill__fd_tail(rx)->pendfd >= 0)
        dill__fd_close(dill__fd_tail(rx)->pendfd);
    dill__pool_put(DILL__POOL_FDRX, rx->buf);
    rx->buf = NULL;
    rx->len = 0;
}

/* Kernel errors on an established stream, in libdill's vocabulary. */
static int dill__fd_maperr(int err) {
    switch(err) {
    case ENOMEM: case ENOBUFS: return ENOMEM;
    case EBADF: return EBADF;
    default: return ECONNRESET;
    }
}

/* dill__busy for a loop that goes on using fd: fails with EBADF when the
   socket object (pinned by the caller, core.h) was closed meanwhile, as
   its fd number may already name another file. */
static int dill__fd_busy(int64_t deadline) {
    if(dill__busy(deadline) < 0) return -1;
    if(dill__pinned_closed()) {errno = EBADF; return -1;}
    return 0;
}

/* Delivers n buffered bytes.  If that empties a buffer whose last byte
   carried a descriptor, the caller consumed the marker as data: close it. */
static void dill__fd_rxtake(struct dill__fdrx *rx, size_t n) {
    struct dill__fdrxtail *t = dill__fd_tail(rx);
    t->pos = (uint16_t)(t->pos + n);
    rx->len = (uint16_t)(rx->len - n);
    if(rx->len == 0 && t->pendfd >= 0) {
        close(t->pendfd);
        t->pendfd = -1;
    }
}

/* Keeps the first SCM_RIGHTS descriptor of msg in *rfd (or -1) and closes
   any others so that nothing leaks. */
static void dill__fd_cmsgfds(struct msghdr *msg, int *rfd) {
    *rfd = -1;
    for(struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if(c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for(size_t i = 0; i != n; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if(*rfd < 0) *rfd = f;
            else close(f);
        }
    }
}

/* One recvmsg() into iov[0..n) (ucap bytes of the caller's memory),
   followed by the receive buffer when withbuf (rx must be empty then).
   Returns the byte count (> 0) or -1: EAGAIN, EPIPE (end of stream),
   ENOMEM, ECONNRESET.  *rfd gets a received descriptor or -1. */
static ssize_t dill__fd_read1(int fd, struct dill__fdrx *rx, int pass,
    struct iovec *iov, int n, size_t ucap, int withbuf, int *rfd) {
    *rfd = -1;
    if(withbuf) {
        /* Without memory for the surplus, which left the socket, the
           stream would be broken. */
        if(!rx->buf && !dill__fd_rxalloc(rx)) {errno = ECONNRESET; return -1;}
        iov[n].iov_base = rx->buf;
        iov[n].iov_len = DILL__RXBUF_SIZE;
        n++;
    }
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(DILL__MAXFDS * sizeof(int))];
    } cbuf;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    if(pass) {
        msg.msg_control = cbuf.b;
        msg.msg_controllen = sizeof(cbuf.b);
    }
    ssize_t r;
    /* Not readv: on sockets it costs more (file position lock). */
    do r = recvmsg(fd, &msg, pass ? MSG_CMSG_CLOEXEC : 0);
    while(r < 0 && errno == EINTR);
    if(r < 0) {
        errno = errno == EWOULDBLOCK ? EAGAIN : errno;
        if(errno != EAGAIN) errno = dill__fd_maperr(errno);
        return -1;
    }
    if(pass) dill__fd_cmsgfds(&msg, rfd);
    if(r == 0) {
        if(*rfd >= 0) {close(*rfd); *rfd = -1;}
        errno = EPIPE;
        return -1;
    }
    if((size_t)r > ucap) {
        dill__fd_tail(rx)->pos = 0;
        rx->len = (uint16_t)((size_t)r - ucap);
    }
    return r;
}

/* A descriptor came with the last byte of a read: keep it while that byte
   is buffered, close it if the caller already took the byte as data. */
static void dill__fd_placefd(struct dill__fdrx *rx, int rfd, int inbuf) {
    if(rfd < 0) return;
    if(!inbuf) {close(rfd); return;}
    struct dill__fdrxtail *t = dill__fd_tail(rx);
    if(t->pendfd >= 0) close(t->pendfd);
    t->pendfd = rfd;
}

/* Whether waiting makes sense: a deadline of 0 or in the past means "only
   if possible now", so such calls always try the system call instead. */
static int dill__fd_canwait(int64_t deadline) {
    return deadline < 0 || (deadline > 0 && deadline > dill_now());
}

/* Before sleeping: an idle socket keeps no buffer. */
static int dill__fd_waitin(int fd, struct dill__fdrx *rx, int64_t deadline) {
    if(rx->buf && rx->len == 0) dill__fd_rxfree(rx);
    return dill_fdin(fd, deadline);
}

int dill__fd_recvl(int fd, struct dill__fdrx *rx, struct dill_iolist *first, int64_t deadline, size_t *got) {
    struct dill__iolcur cur = {first, 0};
    dill__iol_advance(&cur, 0);
    size_t left = dill__iol_size(first);
    if(rx->len && left) {
        size_t n = rx->len < left ? rx->len : left;
        dill__iol_copyin(&cur, rx->buf + dill__fd_tail(rx)->pos, n);
        dill__fd_rxtake(rx, n);
        left -= n;
        *got += n;
    }
    int rc = 0;
    while(left) {
        if(rx->drained && dill__fd_canwait(deadline) &&
           dill__fd_waitin(fd, rx, deadline) < 0) {
            /* EBADF: the socket was closed under us (rx has no buffer
               any more). */
            if(errno == EBADF) return -1;
            rc = -1;
            break;
        }
        struct iovec iov[DILL__IOV_MAX + 1];
        size_t ucap;
        int n = dill__iol_toiov(&cur, iov, DILL__IOV_MAX, left, &ucap);
        /* Small reads read ahead into the buffer; large ones do not, so
           bulk data is copied only once, by the kernel. */
        int withbuf = ucap == left && left < DILL__RXBUF_SIZE;
        int rfd;
        ssize_t r = dill__fd_read1(fd, rx, rx->ipc, iov, n, ucap,
            withbuf, &rfd);
        if(r < 0) {
            if(errno != EAGAIN) {rc = -1; break;}
            rx->drained = 1;
            if(!dill__fd_canwait(deadline)) {errno = ETIMEDOUT; rc = -1; break;}
            continue;
        }
        rx->drained = (size_t)r < ucap + (withbuf ? DILL__RXBUF_SIZE : 0);
        if(rx->ipc) dill__fd_placefd(rx, rfd, (size_t)r > ucap);
        size_t u = (size_t)r < ucap ? (size_t)r : ucap;
        dill__iol_advance(&cur, u);
        left -= u;
        *got += u;
        /* A peer that keeps data coming must not keep us past the deadline
           nor starve other coroutines. */
        if(left && dill__fd_busy(deadline) < 0) {rc = -1; break;}
    }
    if(rx->buf && rx->len == 0) dill__fd_rxfree(rx);
    return rc;
}

/* Smallest asynchronous receive (see dill__fd_aoprecv).  A 1 KiB
   WebSocket message with its header fits; 2 KiB (and, once receiving
   calls pinned their objects, 1.5 KiB) did not leave room for a receiving
   handler with 512 bytes of its own in the top page of its stack, so
   every active connection kept two pages (bench/RESULTS.md, "Memory per
   connection, part 2"). */
#define DILL__AOP_MIN 1280

/* An asynchronous receive and the reader waiting for it. */
struct dill__fdrop {
    struct dill__aop op;
    struct dill__clause cl;
    int res;
    int done;
};

static void dill__fd_ropdone(struct dill__aop *op, int res) {
    struct dill__fdrop *o = dill__cont(op, struct dill__fdrop, op);
    o->res = res;
    o->done = 1;
    dill__trigger(&o->cl, 0);
}

/* Waits for data with one asynchronous receive (core.h: through the ring
   the wait and the read are one submission).  The kernel fills a buffer
   on this stack, since the caller's memory may be released by a close
   while we wait; it is then copied out.  Whatever ends the wait, the
   operation is over before returning.  Returns the count, -1 with
   errno, or -2 when the wait should go on through fdin (a long wait,
   which lets the coroutine hibernate). */
static ssize_t dill__fd_aoprecv(int fd, struct dill__fdrx *rx, void *buf,
      size_t len, int64_t deadline) {
    /* A little more than a small request, so that a message of a few KiB
       arriving on an idle connection needs no second read (the surplus is
       kept in rx); not much more, since the buffer is part of the waiting
       coroutine's resident stack. */
    size_t cap = len < DILL__AOP_MIN ? DILL__AOP_MIN : len;
    if(cap > DILL__RXBUF_SIZE) cap = DILL__RXBUF_SIZE;
    uint8_t tmp[cap];
    struct dill__fdrop o;
    o.op.done = dill__fd_ropdone;
    o.res = 0;
    o.done = 0;
    if(dill__aop_recv(&o.op, fd, tmp, cap) < 0) return -1;
    if(rx->buf && rx->len == 0) dill__fd_rxfree(rx);
    dill__waitfor(&o.cl, 0, NULL);
    /* tmp cannot move: a long wait ends in one through fdin instead
       (returning -2), which lets the coroutine hibernate. */
    int64_t dl = dill__hib_deadline(deadline);
    int err = dill__wait(dl, 1) < 0 ? errno : errno == EBADF ? EBADF : 0;
    if(err == ETIMEDOUT && dl != deadline) err = 0;
    if(!o.done) o.res = dill__aop_cancel(&o.op);
    /* Closed under us: rx has no buffer any more. */
    if(o.res == -EBADF || err == EBADF) {errno = EBADF; return -1;}
    if(o.res > 0) {
        size_t n = (size_t)o.res < len ? (size_t)o.res : len;
        memcpy(buf, tmp, n);
        if((size_t)o.res > n) {
            if(!dill__fd_rxalloc(rx)) return -1;
            memcpy(rx->buf, tmp + n, (size_t)o.res - n);
            rx->len = (uint16_t)((size_t)o.res - n);
        }
        rx->drained = (size_t)o.res < cap;
        return (ssize_t)n;
    }
    if(o.res == 0) {errno = EPIPE; return -1;}
    if(o.res == -ECANCELED || o.res == -EINTR || o.res == -EAGAIN) {
        if(err) {errno = err; return -1;}
        return -2;
    }
    errno = dill__fd_maperr(-o.res);
    return -1;
}

ssize_t dill__fd_recvsome(int fd, struct dill__fdrx *rx, void *buf, size_t len, int64_t deadline) {
    if(len == 0) return 0;
    if(rx->len) {
        size_t n = rx->len < len ? rx->len : len;
        memcpy(buf, rx->buf + dill__fd_tail(rx)->pos, n);
        dill__fd_rxtake(rx, n);
        if(rx->len == 0) dill__fd_rxfree(rx);
        return (ssize_t)n;
    }
    while(1) {
        /* Where the kernel fills receives, waiting and reading are one
           operation; elsewhere the wait below keeps the stack shallow
           (idle connections' resident memory). */
        if(rx->drained && !rx->ipc && dill__fd_canwait(deadline) &&
           dill__aop_fills()) {
            ssize_t r = dill__fd_aoprecv(fd, rx, buf, len, deadline);
            if(r >= 0) return r;
            if(r == -1) {
                if(errno == EBADF) return -1;
                break;
            }
        }
        if(rx->drained && dill__fd_canwait(deadline) &&
           dill__fd_waitin(fd, rx, deadline) < 0) {
            if(errno == EBADF) return -1;
            break;
        }
        struct iovec iov[2] = {{buf, len}};
        int rfd;
        int withbuf = len < DILL__RXBUF_SIZE;
        ssize_t r = dill__fd_read1(fd, rx, rx->ipc, iov, 1, len,
            withbuf, &rfd);
        if(r > 0) {
            rx->drained = (size_t)r < len + (withbuf ? DILL__RXBUF_SIZE : 0);
            if(rx->ipc) dill__fd_placefd(rx, rfd, (size_t)r > len);
            if(rx->buf && rx->len == 0) dill__fd_rxfree(rx);
            return (size_t)r < len ? r : (ssize_t)len;
        }
        if(errno != EAGAIN) break;
        rx->drained = 1;
        if(!dill__fd_canwait(deadline)) {errno = ETIMEDOUT; break;}
    }
    int err = errno;
    if(rx->buf && rx->len == 0) dill__fd_rxfree(rx);
    errno = err;
    return -1;
}

int dill__fd_sendl(int fd, struct dill_iolist *first, int64_t deadline,
    size_t *sent) {
    struct dill__iolcur cur = {first, 0};
    dill__iol_advance(&cur, 0);
    size_t left = dill__iol_size(first);
    /* Set after the kernel took less than offered: its buffer is full, so
       wait for room before trying again rather than fail with EAGAIN. */
    int full = 0;
    while(left) {
        if(full && dill__fd_canwait(deadline) && dill_fdout(fd, deadline) < 0)
            return -1;
        struct iovec iov[DILL__IOV_MAX];
        size_t cap;
        struct msghdr msg;
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = iov;
        msg.msg_iovlen = dill__iol_toiov(&cur, iov, DILL__IOV_MAX, left, &cap);
        /* One piece goes through send(), which skips sendmsg's header
           copy; writev() would raise SIGPIPE. */
        ssize_t r = msg.msg_iovlen == 1 ?
            send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL) :
            sendmsg(fd, &msg, MSG_NOSIGNAL);
        if(r < 0) {
            if(errno == EINTR) continue;
            if(errno == EAGAIN || errno == EWOULDBLOCK) {
                if(!dill__fd_canwait(deadline)) {errno = ETIMEDOUT; return -1;}
                full = 1;
                continue;
            }
            errno = dill__fd_maperr(errno);
            return -1;
        }
        full = (size_t)r < cap;
        dill__iol_advance(&cur, (size_t)r);
        left -= (size_t)r;
        *sent += (size_t)r;
        if(left && dill__fd_busy(deadline) < 0) return -1;
    }
    return 0;
}

int dill__fd_sendfd(int fd, int sfd, int64_t deadline) {
    char c = 0;
    struct iovec iov = {&c, 1};
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
    } cbuf;
    memset(&cbuf, 0, sizeof(cbuf));
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.b;
    msg.msg_controllen = sizeof(cbuf.b);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &sfd, sizeof(int));
    while(1) {
        ssize_t r = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if(r == 1) return 0;
        if(r < 0 && errno == EINTR) continue;
        if(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if(dill_fdout(fd, deadline) < 0) return -1;
            continue;
        }
        if(r < 0 && errno == EBADF) return -1;
        errno = dill__fd_maperr(r < 0 ? errno : ECONNRESET);
        return -1;
    }
}

int dill__fd_recvfd(int fd, struct dill__fdrx *rx, int64_t deadline) {
    if(rx->len) {
        struct dill__fdrxtail *t = dill__fd_tail(rx);
        if(rx->len != 1 || t->pendfd < 0) {errno = EPROTO; return -1;}
        int r = t->pendfd;
        t->pendfd = -1;
        dill__fd_rxfree(rx);
        return r;
    }
    while(1) {
        char c;
        struct iovec iov[2] = {{&c, 1}};
        int rfd;
        ssize_t r = dill__fd_read1(fd, rx, 1, iov, 1, 1, 0, &rfd);
        if(r == 1) {
            if(rfd >= 0) return rfd;
            errno = EPROTO;
            return -1;
        }
        if(errno != EAGAIN || dill__fd_waitin(fd, rx, deadline) < 0)
            return -1;
    }
}

int dill__fd_drain(int fd, struct dill__fdrx *rx, int64_t deadline) {
    dill__fd_rxfree(rx);
    char tmp[2048];
    while(1) {
        ssize_t r = recv(fd, tmp, sizeof(tmp), 0);
        if(r == 0) return 0;
        if(r > 0) {
            if(dill__fd_busy(deadline) < 0) return -1;
            continue;
        }
        if(errno == EINTR) continue;
        if(errno == EAGAIN || errno == EWOULDBLOCK) {
            if(dill_fdin(fd, deadline) < 0) return -1;
            continue;
        }
        errno = dill__fd_maperr(errno);
        return -1;
    }
}

int dill__fd_checksock(int fd, int family1, int family2, int listening) {
    int val;
    socklen_t len = sizeof(val);
    if(getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len) < 0) return -1;
    if(val != SOCK_STREAM) {errno = EINVAL; return -1;}
    len = sizeof(val);
    if(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len) < 0) return -1;
    if(val != family1 && val != family2) {errno = EINVAL; return -1;}
    len = sizeof(val);
    if(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) < 0) return -1;
    if(!val != !listening) {errno = EINVAL; return -1;}
    return dill__fd_unblock(fd);
}
