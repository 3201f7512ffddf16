/* io_uring, one ring per thread, used beside epoll: one implementation
   of the asynchronous operations of core.h (see uring.h).

   Why: in this library's typical traffic (many connections, one small
   message at a time each) an epoll loop pays recv + send + epoll_wait per
   message.  With the ring, sockets queue their receives and sends as
   submissions and the scheduler hands them all to the kernel in the same
   system call that waits, so a message costs a fraction of one call.

   The ring is created on first use with DEFER_TASKRUN (completions are
   produced only inside our own io_uring_enter calls, which is both the
   cheapest mode and the one that keeps everything on this thread).  When
   it cannot be created (old kernel, seccomp, io_uring disabled), under
   valgrind (which cannot see the kernel writing into buffers later), or
   with DILL_URING=0 in the environment, everything stays on epoll. */

#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "uring.h"

#if DILL_VALGRIND
#include <valgrind/valgrind.h>
#endif

#define DILL__URING_ENTRIES 256

struct dill__ring {
    int fd;                        /* -1: not tried yet; -2: unavailable */
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *ring;                    /* both rings (one mapping) */
    size_t ring_sz, sqes_sz;
    unsigned sq_local_tail;        /* tail of SQEs filled but unsubmitted */
    unsigned inflight;             /* submitted ops still to complete */
    unsigned sends;                /* ... of which sends */
};

static __thread struct dill__ring dill__ring = {.fd = -1};

static int dill__uring_setup(struct io_uring_params *p, unsigned flags) {
    memset(p, 0, sizeof(*p));
    p->flags = flags;
    return (int)syscall(__NR_io_uring_setup, DILL__URING_ENTRIES, p);
}

static int dill__uring_disabled(void) {
    const char *e = getenv("DILL_URING");
    if(e && strcmp(e, "0") == 0) return 1;
#if DILL_VALGRIND
    if(RUNNING_ON_VALGRIND) return 1;
#endif
    return 0;
}

/* A child process must not share its parent's ring (its submissions would
   land in the parent's queue): it drops the inherited one and starts
   again.  Operations the parent had in flight do not exist in the child. */
static void dill__uring_close(struct dill__ring *r) {
    if(r->fd >= 0) {
        close(r->fd);
        munmap(r->sqes, r->sqes_sz);
        munmap(r->ring, r->ring_sz);
    }
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

static void dill__uring_atfork_child(void) {
    dill__uring_close(&dill__ring);
    dill__poller_ringreset();
}

static pthread_once_t dill__uring_once = PTHREAD_ONCE_INIT;

static void dill__uring_register(void) {
    pthread_atfork(NULL, NULL, dill__uring_atfork_child);
}

static int dill__uring_init(struct dill__ring *r) {
    r->fd = -2;
    if(dill__uring_disabled()) return -1;
    pthread_once(&dill__uring_once, dill__uring_register);
    struct io_uring_params p;
    int fd = dill__uring_setup(&p, IORING_SETUP_SINGLE_ISSUER |
        IORING_SETUP_DEFER_TASKRUN);
    if(fd < 0) return -1;
    if(!(p.features & IORING_FEAT_EXT_ARG) ||
       !(p.features & IORING_FEAT_SINGLE_MMAP) ||
       !(p.features & IORING_FEAT_NODROP)) {
        close(fd);
        return -1;
    }
    size_t sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    size_t sz = sqsz > cqsz ? sqsz : cqsz;
    void *ring = mmap(NULL, sz, PROT_READ | PROT_WRITE,
        MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if(ring == MAP_FAILED) {close(fd); return -1;}
    size_t sqesz = p.sq_entries * sizeof(struct io_uring_sqe);
    void *sqes = mmap(NULL, sqesz, PROT_READ | PROT_WRITE,
        MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if(sqes == MAP_FAILED) {munmap(ring, sz); close(fd); return -1;}
    char *b = ring;
    r->sq_head = (unsigned*)(b + p.sq_off.head);
    r->sq_tail = (unsigned*)(b + p.sq_off.tail);
    r->sq_mask = (unsigned*)(b + p.sq_off.ring_mask);
    r->sq_array = (unsigned*)(b + p.sq_off.array);
    r->cq_head = (unsigned*)(b + p.cq_off.head);
    r->cq_tail = (unsigned*)(b + p.cq_off.tail);
    r->cq_mask = (unsigned*)(b + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe*)(b + p.cq_off.cqes);
    r->sqes = sqes;
    r->ring = ring;
    r->ring_sz = sz;
    r->sqes_sz = sqesz;
    r->sq_local_tail = *r->sq_tail;
    r->inflight = 0;
    r->fd = fd;
    return 0;
}

int dill__uring_active(void) {
    struct dill__ring *r = &dill__ring;
    if(dill__fast(r->fd >= 0)) return 1;
    if(r->fd == -2) return 0;
    return dill__uring_init(r) == 0;
}

static int dill__uring_enter(struct dill__ring *r, unsigned submit,
      unsigned wait, int timeout) {
    struct __kernel_timespec ts;
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof(arg));
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    if(timeout > 0) {
        ts.tv_sec = timeout / 1000;
        ts.tv_nsec = (long long)(timeout % 1000) * 1000000;
        arg.ts = (uint64_t)(uintptr_t)&ts;
    }
    int rc = (int)syscall(__NR_io_uring_enter, r->fd, submit, wait, flags,
        &arg, sizeof(arg));
    if(rc < 0 && (errno == EINTR || errno == ETIME || errno == EBUSY ||
       errno == EAGAIN))
        return 0;
    return rc;
}

/* Hands the filled SQEs to the kernel (the next enter submits them). */
static unsigned dill__uring_publish(struct dill__ring *r) {
    unsigned n = r->sq_local_tail - *r->sq_tail;
    if(n) __atomic_store_n(r->sq_tail, r->sq_local_tail, __ATOMIC_RELEASE);
    return n;
}

static void dill__uring_reap(struct dill__ring *r) {
    unsigned head = *r->cq_head;
    while(1) {
        unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
        if(head == tail) break;
        struct io_uring_cqe *cqe = &r->cqes[head & *r->cq_mask];
        uint64_t ud = cqe->user_data;
        int res = cqe->res;
        head++;
        __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
        if(!ud) continue;
        /* Sends are tagged in the low bit (ops are aligned). */
        if(ud & 1) r->sends--;
        struct dill__aop *op = (struct dill__aop*)(uintptr_t)(ud & ~1ull);
        r->inflight--;
        dill__aop_ringdone(op, res);
    }
}

static struct io_uring_sqe *dill__uring_sqe(struct dill__ring *r) {
    unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
    if(r->sq_local_tail - head >= DILL__URING_ENTRIES) {
        /* Full: submit what is queued without waiting. */
        unsigned n = dill__uring_publish(r);
        if(dill__uring_enter(r, n, 0, 0) < 0) return NULL;
        dill__uring_reap(r);
        head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
        if(r->sq_local_tail - head >= DILL__URING_ENTRIES) return NULL;
    }
    unsigned idx = r->sq_local_tail & *r->sq_mask;
    struct io_uring_sqe *sqe = &r->sqes[idx];
    memset(sqe, 0, sizeof(*sqe));
    r->sq_array[idx] = idx;
    r->sq_local_tail++;
    return sqe;
}

/* Queues one operation; ud is its completion's user_data (0: no done
   function to call). */
static struct io_uring_sqe *dill__uring_prep(int opcode, int fd,
      const void *addr, size_t len, uint64_t ud) {
    struct dill__ring *r = &dill__ring;
    struct io_uring_sqe *sqe = dill__uring_sqe(r);
    if(!sqe) {errno = EAGAIN; return NULL;}
    sqe->opcode = (uint8_t)opcode;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)addr;
    sqe->len = (unsigned)len;
    sqe->user_data = ud;
    if(ud) r->inflight++;
    if(ud & 1) r->sends++;
    return sqe;
}

int dill__uring_recv(struct dill__aop *op) {
    return dill__uring_prep(IORING_OP_RECV, op->fd, op->buf, op->len,
        (uint64_t)(uintptr_t)op) ? 0 : -1;
}

/* Sends are tagged in the low bit of user_data (ops are aligned). */
int dill__uring_send(struct dill__aop *op) {
    struct io_uring_sqe *sqe = dill__uring_prep(IORING_OP_SEND, op->fd,
        op->buf, op->len, (uint64_t)(uintptr_t)op | 1);
    if(!sqe) return -1;
    sqe->msg_flags = MSG_NOSIGNAL;
    return 0;
}

int dill__uring_pollin(struct dill__aop *op, int fd) {
    struct io_uring_sqe *sqe = dill__uring_prep(IORING_OP_POLL_ADD, fd,
        NULL, 0, (uint64_t)(uintptr_t)op);
    if(!sqe) return -1;
    sqe->poll32_events = POLLIN;
    return 0;
}

/* Matches the operation by its user_data; the cancellation itself has no
   completion to report. */
int dill__uring_cancel(struct dill__aop *op) {
    uint64_t ud = (uint64_t)(uintptr_t)op;
    if(op->kind == DILL__AOP_SEND) ud |= 1;
    return dill__uring_prep(IORING_OP_ASYNC_CANCEL, -1,
        (const void*)(uintptr_t)ud, 0, 0) ? 0 : -1;
}

int dill__uring_busy(void) {
    struct dill__ring *r = &dill__ring;
    return r->fd >= 0 && (r->inflight || r->sq_local_tail != *r->sq_tail);
}

void dill__uring_submit(void) {
    struct dill__ring *r = &dill__ring;
    if(r->fd < 0) return;
    unsigned n = dill__uring_publish(r);
    if(n) dill__uring_enter(r, n, 0, 0);
    dill__uring_reap(r);
}

int dill__uring_wait(int timeout) {
    struct dill__ring *r = &dill__ring;
    unsigned n = dill__uring_publish(r);
    /* Completions that are already there need no waiting. */
    unsigned wait = timeout != 0 &&
        *r->cq_head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    int rc = dill__uring_enter(r, n, wait, timeout);
    dill__uring_reap(r);
    return rc < 0 ? -1 : 0;
}

void dill__uring_settle(int ms) {
    struct dill__ring *r = &dill__ring;
    if(r->fd < 0) return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while(r->sends || r->sq_local_tail != *r->sq_tail) {
        dill__uring_wait(10);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if((t1.tv_sec - t0.tv_sec) * 1000 +
           (t1.tv_nsec - t0.tv_nsec) / 1000000 >= ms) break;
    }
}

void dill__uring_term(void) {
    dill__uring_close(&dill__ring);
}
