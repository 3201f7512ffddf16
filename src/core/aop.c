/* Asynchronous socket operations (core.h: struct dill__aop): the one place
   that chooses between the ring and epoll, so that the socket layers above
   ask for "receive into this buffer" or "send these bytes" and are told
   when it is over, whatever the kernel interface.

   An operation goes IDLE -> RING (queued in the ring) or POLL (waiting
   for readiness) -> IDLE, through dill__aop_end, which reports it either
   to done or to a coroutine waiting in dill__aop_cancel; a send that ends
   at once stays IDLE and is reported by dill__aop_send itself. */

#include <errno.h>
#include <sys/socket.h>

#include "core.h"
#include "uring.h"

/* Bounded so that a result always fits the int of a completion. */
#define DILL__AOP_MAXLEN 0x40000000u

static void dill__aop_end(struct dill__aop *op, int res) {
    if(op->slot) dill__poller_aopclear(op);
    if(op->closed && op->kind == DILL__AOP_RECV) res = -EBADF;
    op->state = DILL__AOP_IDLE;
    if(op->cw) {
        op->res = res;
        dill__trigger(op->cw, 0);
        return;
    }
    op->done(op, res);
}

void dill__aop_ringdone(struct dill__aop *op, int res) {
    dill__aop_end(op, res);
}

/* The non-blocking system call; -EAGAIN when it would block. */
static int dill__aop_try(struct dill__aop *op) {
    ssize_t r;
    do r = op->kind == DILL__AOP_RECV ?
        recv(op->fd, op->buf, op->len, MSG_DONTWAIT) :
        send(op->fd, op->buf, op->len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while(r < 0 && errno == EINTR);
    if(r >= 0) return (int)r;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

/* Runs from the poller: errno belongs to whichever coroutine ran last. */
void dill__aop_ready(struct dill__aop *op) {
    int err = errno;
    int res = dill__aop_try(op);
    if(res != -EAGAIN) dill__aop_end(op, res);
    errno = err;
}

static int dill__aop_start(struct dill__aop *op, int kind, int fd,
      const void *buf, size_t len) {
    op->buf = (void*)buf;
    op->len = len < DILL__AOP_MAXLEN ? (uint32_t)len : DILL__AOP_MAXLEN;
    op->fd = fd;
    op->res = 0;
    op->kind = (uint8_t)kind;
    op->state = DILL__AOP_IDLE;
    op->slot = 0;
    op->closed = 0;
    op->cw = NULL;
    return dill__poller_aopset(op);
}

/* The ring is full or absent: wait for readiness instead. */
static int dill__aop_poll(struct dill__aop *op) {
    op->state = DILL__AOP_POLL;
    if(dill__poller_aoppoll(op) == 0) return 0;
    int err = errno;
    op->state = DILL__AOP_IDLE;
    dill__poller_aopclear(op);
    errno = err;
    return -1;
}

int dill__aop_fills(void) {
    /* A receive into a bound coroutine's stack would pin it in its slot
       (cr.c, "Shared stacks"). */
    return dill__uring_active() && !dill__stackshared();
}

int dill__aop_recv(struct dill__aop *op, int fd, void *buf, size_t len) {
    if(dill__aop_start(op, DILL__AOP_RECV, fd, buf, len) < 0) return -1;
    if(dill__uring_active() && dill__uring_recv(op) == 0) {
        op->state = DILL__AOP_RING;
        return 0;
    }
    return dill__aop_poll(op);
}

int dill__aop_send(struct dill__aop *op, int fd, const void *buf,
      size_t len) {
    if(dill__aop_start(op, DILL__AOP_SEND, fd, buf, len) < 0) return -1;
    if(dill__uring_active() && dill__uring_send(op) == 0) {
        op->state = DILL__AOP_RING;
        return 0;
    }
    /* The socket usually has room: try before asking epoll. */
    int err = errno;
    int res = dill__aop_try(op);
    errno = err;
    if(res == -EAGAIN) return dill__aop_poll(op);
    dill__poller_aopclear(op);
    op->res = res;
    return 1;
}

int dill__aop_cancel(struct dill__aop *op) {
    switch(op->state) {
    case DILL__AOP_POLL:
        dill__poller_aopclear(op);
        op->state = DILL__AOP_IDLE;
        return -ECANCELED;
    case DILL__AOP_RING:
        break;
    default:
        return -ECANCELED;
    }
    /* dill_fdclean cancelled it already. */
    int asked = op->closed == 2;
    struct dill__clause cl;
    op->cw = &cl;
    while(op->state == DILL__AOP_RING) {
        if(!asked) asked = dill__uring_cancel(op) == 0;
        /* Not cancellable: the kernel may still use the buffer.  A full
           ring is retried after a moment. */
        dill__waitfor(&cl, 0, NULL);
        dill__wait(asked ? -1 : dill_now() + 1, 0);
    }
    op->cw = NULL;
    return op->res;
}

/* dill_fdclean (poller.c) on an fd whose operation op is: see core.h. */
void dill__aop_clean(struct dill__aop *op) {
    dill__poller_aopclear(op);
    if(op->state == DILL__AOP_RING) {
        op->closed = 1;
        /* A receive would hold the socket open: it stops (2: asked). */
        if(op->kind == DILL__AOP_RECV && dill__uring_cancel(op) == 0)
            op->closed = 2;
        return;
    }
    if(op->state != DILL__AOP_POLL) return;
    int res = -EBADF;
    if(op->kind == DILL__AOP_SEND) {
        int err = errno;
        res = dill__aop_try(op);
        if(res == -EAGAIN) res = -EBADF;
        errno = err;
    }
    dill__aop_end(op, res);
}
