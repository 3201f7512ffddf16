/* io_uring inside core (src/core/uring.c): one ring per thread beside
   epoll.  Only src/core sees it; the layers above use the asynchronous
   operations of core.h (struct dill__aop), of which the ring is one
   implementation. */

#ifndef DILL_CORE_URING_H_INCLUDED
#define DILL_CORE_URING_H_INCLUDED

#include "core.h"

/* Whether this thread has a ring (created on first call; never with
   DILL_URING=0, under valgrind, or without kernel support). */
int dill__uring_active(void);
/* Queue a receive into op's buffer, a send (MSG_NOSIGNAL) from it, a
   one-shot POLLIN wait on fd (op's buffer unused), or the cancellation
   of op.  They reach the kernel with the scheduler's next wait; the
   completion calls dill__aop_ringdone.  Return 0 or -1 (EAGAIN: ring
   full). */
int dill__uring_recv(struct dill__aop *op);
int dill__uring_send(struct dill__aop *op);
int dill__uring_pollin(struct dill__aop *op, int fd);
int dill__uring_cancel(struct dill__aop *op);
/* Submits queued operations now, without waiting: before an fd they
   name is closed, so that the kernel holds the file they meant. */
void dill__uring_submit(void);
/* At exit: waits (up to ms) for queued and running sends to finish. */
void dill__uring_settle(int ms);
/* Whether operations are queued or in flight. */
int dill__uring_busy(void);
/* Submits what is queued and waits for completions up to timeout ms (0:
   do not wait, -1: forever); runs their completions. */
int dill__uring_wait(int timeout);
void dill__uring_term(void);
/* The ring was replaced (after fork): forget operations queued on it. */
void dill__poller_ringreset(void);

/* Between the operations (aop.c) and the poller (poller.c). */
/* The kernel ended op with res (a byte count or a negative errno). */
void dill__aop_ringdone(struct dill__aop *op, int res);
/* op's socket is ready in op's direction: try the system call, and end
   op unless it would block. */
void dill__aop_ready(struct dill__aop *op);
/* Makes op the fd's receive or send operation (one of each per fd).
   Returns 0 or -1: EBUSY (the fd has one already; for a receive, also
   when a coroutine waits in fdin), ENOMEM. */
int dill__poller_aopset(struct dill__aop *op);
/* Waits for readiness in op's direction through epoll, then calls
   dill__aop_ready (op's state must be DILL__AOP_POLL by then).  Returns
   0 or -1 (ENOMEM...). */
int dill__poller_aoppoll(struct dill__aop *op);
/* Forgets op as its fd's operation, and stops waiting for readiness. */
void dill__poller_aopclear(struct dill__aop *op);

/* dill_fdclean found op as its fd's operation (see core.h). */
void dill__aop_clean(struct dill__aop *op);

/* States of an operation (struct dill__aop's state). */
enum {
    DILL__AOP_IDLE,                /* not started, or ended */
    DILL__AOP_RING,                /* in the kernel through the ring */
    DILL__AOP_POLL                 /* waiting for readiness (epoll) */
};
/* Kinds of operation. */
enum {DILL__AOP_RECV = 1, DILL__AOP_SEND, DILL__AOP_POLLIN};

#endif
