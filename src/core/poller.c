/* Waiting for file descriptors: epoll, one instance per thread.

   Registrations are lazy: a direction is armed in epoll when a coroutine
   first waits for it and stays armed afterwards, so a socket read in a loop
   costs no epoll_ctl per wait.  A direction is disarmed only when it fires
   with nobody waiting.  Level-triggered, so no readiness is ever lost. */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core.h"
#include "uring.h"

/* 40 bytes on 64-bit (20 on 32-bit).  The rare read callback (a thread's
   wake-up eventfd) is not here but in a per-thread list (dill__cbs), found
   through the cb flag. */
struct dill__fdinfo {
    struct dill__clause *in;
    struct dill__clause *out;
    struct dill__aop *rop;         /* the fd's receive operation */
    struct dill__aop *sop;         /* the fd's send operation */
    uint8_t armed;                 /* EPOLLIN / EPOLLOUT as registered */
    uint8_t registered;            /* known to epoll */
    uint8_t cb;                    /* has a read callback (dill__fdin_cb) */
};
_Static_assert((EPOLLIN | EPOLLOUT) <= UINT8_MAX, "armed fits uint8_t");

struct dill__fdwait {
    struct dill__clause cl;
    int fd;
    int dir;
};

static __thread int dill__epfd __attribute__((tls_model("initial-exec")));
/* The fd table is a directory of fixed-size chunks, indexed by fd: a chunk
   is allocated when an fd in its range is first used (a lone high fd costs
   one chunk and a directory entry per chunk below it), and entries never
   move, so a pointer to one stays valid while the thread runs. */
#define DILL__FDCHUNK_SHIFT 8
#define DILL__FDCHUNK (1 << DILL__FDCHUNK_SHIFT)
static __thread struct dill__fdinfo **dill__fds
    __attribute__((tls_model("initial-exec")));
/* Directory entries (chunks or NULL). */
static __thread int dill__nfdchunks __attribute__((tls_model("initial-exec")));
static __thread int dill__waiting __attribute__((tls_model("initial-exec")));
/* Read callbacks (wake-up eventfds): they do not make the poller busy (the
   scheduler checks their queue itself), but a blocking wait includes them.
   dill__incbs counts the list dill__cbs. */
static __thread int dill__incbs __attribute__((tls_model("initial-exec")));
static __thread struct dill__fdcb *dill__cbs
    __attribute__((tls_model("initial-exec")));

static int dill__epoll(void) {
    /* Stored as fd + 1 so that zeroed TLS means "not created". */
    if(dill__fast(dill__epfd)) return dill__epfd - 1;
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if(fd < 0) return -1;
    dill__epfd = fd + 1;
    return fd;
}

/* The entry of fd if its chunk exists, else NULL. */
static inline struct dill__fdinfo *dill__fdfind(int fd) {
    int c = fd >> DILL__FDCHUNK_SHIFT;
    if(dill__slow((unsigned)c >= (unsigned)dill__nfdchunks || !dill__fds[c]))
        return NULL;
    return &dill__fds[c][fd & (DILL__FDCHUNK - 1)];
}

/* The entry of an fd that has one (a waiter, an operation or a
   registration was made through dill__fdinfo). */
static inline struct dill__fdinfo *dill__fdat(int fd) {
    return &dill__fds[fd >> DILL__FDCHUNK_SHIFT][fd & (DILL__FDCHUNK - 1)];
}

static struct dill__fdinfo *dill__fdinfo_grow(int fd) {
    int c = fd >> DILL__FDCHUNK_SHIFT;
    if(c >= dill__nfdchunks) {
        int n = dill__nfdchunks ? dill__nfdchunks : 4;
        while(n <= c) n *= 2;
        struct dill__fdinfo **d = realloc(dill__fds, n * sizeof(*d));
        if(!d) return NULL;
        memset(d + dill__nfdchunks, 0, (n - dill__nfdchunks) * sizeof(*d));
        dill__fds = d;
        dill__nfdchunks = n;
    }
    if(!dill__fds[c]) {
        dill__fds[c] = calloc(DILL__FDCHUNK, sizeof(struct dill__fdinfo));
        if(!dill__fds[c]) return NULL;
    }
    return dill__fdat(fd);
}

static inline struct dill__fdinfo *dill__fdinfo(int fd) {
    struct dill__fdinfo *fi = dill__fdfind(fd);
    if(dill__fast(fi != NULL)) return fi;
    return dill__fdinfo_grow(fd);
}

static struct dill__fdcb *dill__fdcb_find(int fd) {
    for(struct dill__fdcb *cb = dill__cbs; cb; cb = cb->next)
        if(cb->fd == fd) return cb;
    return NULL;
}

static void dill__fdcb_unlink(struct dill__fdcb *cb) {
    struct dill__fdcb **p = &dill__cbs;
    while(*p != cb) p = &(*p)->next;
    *p = cb->next;
    dill__incbs--;
}

static int dill__arm(int fd, struct dill__fdinfo *fi, uint32_t ev) {
    int ep = dill__epoll();
    if(dill__slow(ep < 0)) return -1;
    struct epoll_event e;
    e.events = fi->armed | ev;
    e.data.fd = fd;
    int rc = epoll_ctl(ep, fi->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
        fd, &e);
    if(dill__slow(rc < 0 && errno == ENOENT && fi->registered))
        rc = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    else if(dill__slow(rc < 0 && errno == EEXIST))
        rc = epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
    if(rc < 0) return -1;
    fi->registered = 1;
    fi->armed |= ev;
    return 0;
}

static void dill__fdwait_cancel(struct dill__clause *cl) {
    struct dill__fdwait *w = dill__cont(cl, struct dill__fdwait, cl);
    struct dill__fdinfo *fi = dill__fdat(w->fd);
    if(w->dir == EPOLLIN) {
        if(fi->in == cl) {fi->in = NULL; dill__waiting--;}
    }
    else {
        if(fi->out == cl) {fi->out = NULL; dill__waiting--;}
    }
}

static void dill__fdwait_move(struct dill__clause *cl,
      const struct dill__move *m) {
    struct dill__fdwait *w = dill__cont(cl, struct dill__fdwait, cl);
    if(dill__move_keeping(m)) {dill__move_keep(m, w, sizeof(*w)); return;}
    struct dill__fdinfo *fi = dill__fdat(w->fd);
    if(w->dir == EPOLLIN) fi->in = cl;
    else fi->out = cl;
}

/* Readiness right now, without waiting: 0, or -1 with ETIMEDOUT (not
   ready) or EBADF. */
static int dill__fdpoll(int fd, uint32_t dir) {
    struct pollfd p = {fd, dir == EPOLLIN ? POLLIN : POLLOUT, 0};
    int rc;
    do rc = poll(&p, 1, 0); while(rc < 0 && errno == EINTR);
    if(rc < 0) return -1;
    if(p.revents & POLLNVAL) {errno = EBADF; return -1;}
    if(rc == 0) {errno = ETIMEDOUT; return -1;}
    return 0;
}

/* Registers w as the wait for dir on fd.  Returns 1 (registered), 0
   (ready: no need to wait) or -1.  Apart from dill__fdwait so that the
   frame that waits is small: it is in the copy of a hibernated
   coroutine. */
__attribute__((noinline)) static int dill__fdwait_reg(struct dill__fdwait *w,
      int fd, uint32_t dir, int64_t deadline) {
    if(dill__slow(dill__canblock() < 0)) return -1;
    if(dill__slow(fd < 0)) {errno = EBADF; return -1;}
    struct dill__fdinfo *fi = dill__fdinfo(fd);
    if(dill__slow(!fi)) {errno = ENOMEM; return -1;}
    struct dill__clause **slot = dir == EPOLLIN ? &fi->in : &fi->out;
    if(dill__slow(*slot != NULL)) {errno = EBUSY; return -1;}
    /* An expired deadline rules out waiting, not looking (fdin(3)). */
    if(deadline >= 0 && (deadline == 0 || deadline <= dill_now()))
        return dill__fdpoll(fd, dir);
    if(!(fi->armed & dir) && dill__arm(fd, fi, dir) < 0) {
        /* Regular files cannot be polled; they are always ready. */
        if(errno == EPERM) return 0;
        return -1;
    }
    w->fd = fd;
    w->dir = (int)dir;
    *slot = &w->cl;
    dill__waiting++;
    dill__waitfor(&w->cl, 0, dill__fdwait_cancel);
    w->cl.move = dill__fdwait_move;
    return 1;
}

static int dill__fdwait(int fd, uint32_t dir, int64_t deadline) {
    struct dill__fdwait w;
    int rc = dill__fdwait_reg(&w, fd, dir, deadline);
    if(rc <= 0) return rc;
    if(dill__wait(deadline, 1) < 0) return -1;
    if(dill__slow(errno != 0)) return -1;
    return 0;
}

int dill_fdin(int fd, int64_t deadline) {
    return dill__fdwait(fd, EPOLLIN, deadline);
}

int dill_fdout(int fd, int64_t deadline) {
    return dill__fdwait(fd, EPOLLOUT, deadline);
}

int dill__fdin_cb(int fd, struct dill__fdcb *cb) {
    struct dill__fdinfo *fi = dill__fdinfo(fd);
    if(dill__slow(!fi)) {errno = ENOMEM; return -1;}
    if(!(fi->armed & EPOLLIN) && dill__arm(fd, fi, EPOLLIN) < 0) return -1;
    if(fi->cb) {
        struct dill__fdcb *old = dill__fdcb_find(fd);
        if(old == cb) return 0;
        dill__fdcb_unlink(old);
    }
    cb->fd = fd;
    cb->next = dill__cbs;
    dill__cbs = cb;
    dill__incbs++;
    fi->cb = 1;
    return 0;
}

int dill__poller_aopset(struct dill__aop *op) {
    struct dill__fdinfo *fi = dill__fdinfo(op->fd);
    if(dill__slow(!fi)) {errno = ENOMEM; return -1;}
    struct dill__aop **slot = op->kind == DILL__AOP_RECV ? &fi->rop :
        &fi->sop;
    if(dill__slow(*slot || (op->kind == DILL__AOP_RECV && fi->in))) {
        errno = EBUSY;
        return -1;
    }
    *slot = op;
    op->slot = 1;
    return 0;
}

int dill__poller_aoppoll(struct dill__aop *op) {
    struct dill__fdinfo *fi = dill__fdat(op->fd);
    uint32_t dir = op->kind == DILL__AOP_RECV ? EPOLLIN : EPOLLOUT;
    if(!(fi->armed & dir) && dill__arm(op->fd, fi, dir) < 0) return -1;
    dill__waiting++;
    return 0;
}

void dill__poller_aopclear(struct dill__aop *op) {
    if(!op->slot) return;
    struct dill__fdinfo *fi = dill__fdat(op->fd);
    if(op->kind == DILL__AOP_RECV) fi->rop = NULL;
    else fi->sop = NULL;
    op->slot = 0;
    if(op->state == DILL__AOP_POLL) dill__waiting--;
}

int dill_fdclean(int fd) {
    struct dill__fdinfo *fi = dill__fdfind(fd);
    if(!fi) return 0;
    if(fi->cb) {
        dill__fdcb_unlink(dill__fdcb_find(fd));
        fi->cb = 0;
    }
    if(fi->rop) dill__aop_clean(fi->rop);
    if(fi->sop) dill__aop_clean(fi->sop);
    /* A ring receive held the socket open in the kernel: its cancellation
       reaches the kernel before the caller closes the fd. */
    dill__uring_submit();
    if(fi->in) dill__trigger(fi->in, EBADF);
    if(fi->out) dill__trigger(fi->out, EBADF);
    if(fi->registered && dill__epfd)
        epoll_ctl(dill__epfd - 1, EPOLL_CTL_DEL, fd, NULL);
    fi->armed = 0;
    fi->registered = 0;
    return 0;
}

int dill__poller_busy(void) {
    return dill__waiting > 0 || dill__uring_busy();
}

static int dill__poller_epoll(int timeout, int blocking);

/* The epoll instance watched from the ring, so that one io_uring_enter
   waits for both. */
static __thread struct dill__aop dill__epop;
static __thread int dill__epop_armed;
static __thread int dill__epop_fired;

static void dill__epop_done(struct dill__aop *op, int res) {
    (void)op;
    (void)res;
    dill__epop_armed = 0;
    dill__epop_fired = 1;
}

void dill__poller_ringreset(void) {
    dill__epop_armed = 0;
    dill__epop_fired = 0;
}

static int dill__poller_ring(int timeout) {
    if((dill__waiting || dill__incbs) && !dill__epop_armed) {
        int ep = dill__epoll();
        if(ep < 0) return -1;
        dill__epop.done = dill__epop_done;
        dill__epop.kind = DILL__AOP_POLLIN;
        dill__epop.slot = 0;
        dill__epop.closed = 0;
        dill__epop.cw = NULL;
        if(dill__uring_pollin(&dill__epop, ep) == 0) dill__epop_armed = 1;
        else timeout = 0;
    }
    if(dill__uring_wait(timeout) < 0) return -1;
    if(dill__epop_fired || (timeout == 0 && dill__waiting)) {
        dill__epop_fired = 0;
        return dill__poller_epoll(0, timeout != 0);
    }
    return 0;
}

int dill__poller_wait(int timeout) {
    if(dill__uring_busy()) return dill__poller_ring(timeout);
    return dill__poller_epoll(timeout, timeout != 0);
}

/* Events of one epoll_wait.  Not on the stack: the scheduler runs on the
   stack of whichever coroutine blocked last, and 1.5 KiB more there made
   every connection's coroutine keep a second stack page (bench/RESULTS.md,
   "Memory per connection, part 2").  A callback that re-enters the poller
   gets a small array of its own. */
#define DILL__EPOLL_EVENTS 128
static __thread struct epoll_event dill__evs[DILL__EPOLL_EVENTS]
    __attribute__((tls_model("initial-exec")));
static __thread int dill__evs_busy __attribute__((tls_model("initial-exec")));

static int dill__poller_epoll_in(int ep, struct epoll_event *ev, int cap,
    int timeout, int blocking);

/* blocking: the caller would have slept (nothing else to run), so events
   nobody waits for are disarmed. */
static int dill__poller_epoll(int timeout, int blocking) {
    int ep = dill__epoll();
    if(ep < 0) return -1;
    if(dill__slow(dill__evs_busy)) {
        struct epoll_event ev[8];
        return dill__poller_epoll_in(ep, ev, 8, timeout, blocking);
    }
    dill__evs_busy = 1;
    int n = dill__poller_epoll_in(ep, dill__evs, DILL__EPOLL_EVENTS, timeout,
        blocking);
    dill__evs_busy = 0;
    return n;
}

static int dill__poller_epoll_in(int ep, struct epoll_event *ev, int cap,
      int timeout, int blocking) {
    int n = epoll_wait(ep, ev, cap, timeout);
    if(n < 0) return errno == EINTR ? 0 : -1;
    for(int i = 0; i != n; i++) {
        int fd = ev[i].data.fd;
        struct dill__fdinfo *fi = dill__fdat(fd);
        uint32_t e = ev[i].events;
        uint32_t fired = 0;
        if(e & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) fired |= EPOLLIN;
        if(e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) fired |= EPOLLOUT;
        uint32_t idle = 0;
        if(fired & EPOLLIN) {
            if(fi->in) dill__trigger(fi->in, 0);
            else if(fi->rop && fi->rop->state == DILL__AOP_POLL)
                dill__aop_ready(fi->rop);
            else if(fi->cb) {
                struct dill__fdcb *cb = dill__fdcb_find(fd);
                cb->fn(cb);
            }
            else idle |= EPOLLIN;
        }
        if(fired & EPOLLOUT) {
            int any = 0;
            if(fi->out) {dill__trigger(fi->out, 0); any = 1;}
            if(fi->sop && fi->sop->state == DILL__AOP_POLL) {
                dill__aop_ready(fi->sop);
                any = 1;
            }
            if(!any) idle |= EPOLLOUT;
        }
        /* Nobody wants what fired: stop listening for it, or the level
           trigger would make every blocking wait return at once.  A
           non-blocking poll (the scheduler's fairness check while
           coroutines are ready) leaves it: the owner is usually among
           the ready ones and about to wait again, and disarming would
           cost two epoll_ctl calls per message. */
        if(!blocking) continue;
        idle &= fi->armed;
        int dead = (e & (EPOLLERR | EPOLLHUP)) && !fi->in && !fi->out &&
            !fi->rop && !fi->sop && !fi->cb;
        if(idle || dead) {
            uint32_t keep = dead ? 0 : fi->armed & ~idle;
            if(keep) {
                struct epoll_event m;
                m.events = keep;
                m.data.fd = fd;
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &m);
            }
            else {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                fi->registered = 0;
            }
            fi->armed = keep;
        }
    }
    return n;
}

void dill__poller_term(void) {
    dill__uring_term();
    dill__epop_armed = 0;
    dill__epop_fired = 0;
    if(dill__epfd) close(dill__epfd - 1);
    dill__epfd = 0;
    for(int i = 0; i != dill__nfdchunks; i++) free(dill__fds[i]);
    free(dill__fds);
    dill__fds = NULL;
    dill__nfdchunks = 0;
    dill__cbs = NULL;
    dill__incbs = 0;
}
