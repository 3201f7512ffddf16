/* Internal interface of the coroutine runtime, shared by src/core files and
   by the socket and protocol layers. */

#ifndef DILL_CORE_H_INCLUDED
#define DILL_CORE_H_INCLUDED

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "libdillimpl.h"

#define dill__slow(x) __builtin_expect(!!(x), 0)
#define dill__fast(x) __builtin_expect(!!(x), 1)
#define dill__cont(ptr, type, member) \
    ((type*)(((char*)(ptr)) - offsetof(type, member)))

/* Circular doubly linked list; an empty list points at itself. */
struct dill__list {
    struct dill__list *next;
    struct dill__list *prev;
};

static inline void dill__list_init(struct dill__list *l) {
    l->next = l; l->prev = l;
}
static inline int dill__list_empty(const struct dill__list *l) {
    return l->next == l;
}
/* Appends item at the end of list l. */
static inline void dill__list_push(struct dill__list *l,
      struct dill__list *item) {
    item->prev = l->prev; item->next = l;
    l->prev->next = item; l->prev = item;
}
/* Unlinks item and makes it a self-linked (empty) node, so erasing twice is
   harmless. */
static inline void dill__list_erase(struct dill__list *item) {
    item->prev->next = item->next; item->next->prev = item->prev;
    item->next = item; item->prev = item;
}

struct dill__cr;

/* Something a coroutine waits for.  When it fires (dill__trigger) the
   coroutine is resumed and every other clause it waited on is cancelled
   through its cancel function. */
struct dill__move;
struct dill__clause {
    struct dill__cr *cr;
    struct dill__clause *next;     /* other clauses of the same wait */
    void (*cancel)(struct dill__clause *cl);
    /* Set after dill__waitfor by clauses that can follow their coroutine
       into hibernation (see dill__move); NULL keeps the coroutine awake. */
    void (*move)(struct dill__clause *cl, const struct dill__move *m);
    int id;
};

/* Hibernation (cr.c, dill_hibernate(3)) moves the live part of a blocked
   coroutine's stack to a heap copy and back.  The copy keeps the
   coroutine's record (struct dill__cr) whole but leaves out the zero
   words of its frames, so a place in the frames and its place in the
   copy are not a fixed distance apart: dill__moved translates one.
   A clause's move function is called twice.  First, on the clause in
   place and before anything is copied, with dill__move_keeping(m) true:
   it names with dill__move_keep the stack memory that others read or
   write while the coroutine sleeps (the object the clause is part of, a
   buffer a peer fills), which the copy then stores whole, zero words
   included, in one piece (8-byte aligned); it changes nothing.  Then on
   the clause at its new place (everything copied, cl->cr and cl->next
   already translated): it makes whatever refers to the old clause refer
   to the new one; pointers it holds into the stack are translated with
   dill__moved.  It must not fail, and must not touch the stack itself
   (its pages are about to be given back): only translated addresses. */
struct dill__keep;
struct dill__move {
    char *lo;                      /* frames: lo..hi, word i of which is */
    char *hi;                      /* stored at base if bit i of map is */
    char *base;                    /* set (back: the copy's words, */
    const uint64_t *map;           /* going back to the stack at base) */
    int back;
    char *lo2;                     /* the record: lo2..hi2, delta2 away */
    char *hi2;
    ptrdiff_t delta2;
    struct dill__keep *keep;       /* the first call: what to keep */
};
static inline int dill__move_keeping(const struct dill__move *m) {
    return m->keep != NULL;
}
/* In the first call: the n bytes at p must stay addressable in the copy
   (ignored outside the frames). */
void dill__move_keep(const struct dill__move *m, const void *p, size_t n);
/* Where p (in the frames or the record, else unchanged) is after the
   move.  For memory not kept, the result is meaningless unless the
   word at p is nonzero. */
void *dill__moved(const struct dill__move *m, void *p);
/* item was copied with its region: relinks its neighbours to it. */
static inline void dill__list_moved(struct dill__list *item,
      const struct dill__move *m) {
    item->next = dill__moved(m, item->next);
    item->prev = dill__moved(m, item->prev);
    item->next->prev = item;
    item->prev->next = item;
}
/* Waits longer than the hibernation threshold would keep a coroutine
   awake when they cannot move (io_uring receives into its stack): such
   a wait uses this deadline instead and, when it expires, gives way to a
   wait that can move.  Returns deadline, or an earlier one when this
   thread hibernates coroutines, or now for a coroutine bound to a shared
   stack (dill_stackshare(3)), which may be copied out at its next wait
   (then better from a shallow frame). */
int64_t dill__hib_deadline(int64_t deadline);
/* deadline, or the end of the hibernation threshold from now when this
   thread hibernates coroutines and it comes first: where a wait that has
   gone on that long may give back what an idle connection need not hold
   (the TLS layer's cipher contexts).  Unlike dill__hib_deadline, the
   same for every coroutine. */
int64_t dill__hib_idle(int64_t deadline);
/* Bytes of the copies (coroutine record, the nonzero and kept words of
   the frames, the bitmap of those) of the coroutines of this thread
   hibernated now: what tests and benchmarks read to see how much a
   hibernated coroutine keeps. */
size_t dill__hib_bytes(void);
/* Whether the running coroutine shares its stack (dill_stackshare(3)):
   then a wait that cannot move (a ring receive into its stack) would
   keep the coroutines bound to the same slot from running. */
int dill__stackshared(void);
/* Gives back the pages of the running coroutine's stack below the
   caller's frame: what calls that have returned (a handshake) touched and
   the steady state will not need.  Costs a system call; for the end of a
   connection's setup. */
void dill__stack_trim(void);

/* Registers cl as part of the current coroutine's next wait.  cancel removes
   it from whatever object holds it (may be NULL). */
void dill__waitfor(struct dill__clause *cl, int id,
    void (*cancel)(struct dill__clause *cl));
/* Suspends the current coroutine until a registered clause fires, the
   deadline expires or the coroutine is cancelled.  Returns the firing
   clause's id with errno set to the error it fired with (0 if none), or -1
   with errno ETIMEDOUT or ECANCELED; all clauses are unregistered on return.
   With cancellable == 0 the wait ignores cancellation (used by hclose). */
int dill__wait(int64_t deadline, int cancellable);
/* dill__wait that leaves errno alone and stores the error in *err instead
   (0 when the clause fired without one): errno is a call into the C
   library, which the channel fast path does without. */
int dill__wait_err(int64_t deadline, int cancellable, int *err);
/* Fires cl with error err if its coroutine is still waiting. */
void dill__trigger(struct dill__clause *cl, int err);
/* Per-coroutine flags that every blocking call checks. */
struct dill__crflags {
    int canceled;
    int noblock;                   /* inside close callbacks (nesting) */
    int awake;                     /* may not hibernate (nesting) */
    struct dill__pinref *pins;     /* innermost pin held (dill__pin) */
};
/* Flags of the running coroutine; NULL before the thread's first use. */
extern __thread struct dill__crflags *dill__flags
    __attribute__((tls_model("initial-exec")));
int dill__canblock_slow(void);
/* Fails with ECANCELED if the current coroutine is cancelled or may not
   block (inside a close callback). */
static inline int dill__canblock(void) {
    struct dill__crflags *f = dill__flags;
    if(dill__slow(!f)) return dill__canblock_slow();
    if(dill__slow(f->canceled | f->noblock)) {errno = ECANCELED; return -1;}
    return 0;
}
/* Enters (on = 1) or leaves (on = 0) a close callback. */
static inline void dill__noblock(int on) {
    if(dill__slow(!dill__flags)) dill__canblock_slow();
    dill__flags->noblock += on ? 1 : -1;
}
/* Keeps the running coroutine from hibernating (on = 1) until the
   matching call with on = 0: for code whose helper coroutines use memory
   on its stack while it waits (dill_hibernate(3)).  Coroutines it starts
   meanwhile get stacks of their own, never a shared one
   (dill_stackshare(3)): also for those that wait on other threads. */
static inline void dill__keepawake(int on) {
    if(dill__slow(!dill__flags)) dill__canblock_slow();
    dill__flags->awake += on ? 1 : -1;
}
/* Closing a handle while coroutines sleep in it.

   A layer function that may switch coroutines (a blocking call of the
   layer below, dill__wait, dill__busy) pins its object first and unpins
   it on the way out, with a dill__pinref on its own stack:

       struct dill__pinref pr;
       dill__pin(&self->pin, &pr);
       int rc = ...work that may sleep...;
       self->busy = 0;                 (self is still there, closed or not)
       if(dill__unpin(&self->pin, &pr) < 0) return -1;   (EBADF: closed)
       return rc;

   The object's close function (dill_hvfs.close) releases what the object
   holds (buffers, the handle below: closing it wakes whoever sleeps in
   the layers below) and ends with dill__pin_close.  That wakes every
   coroutine still inside the object: one blocked in a cancellable wait
   has it fail at once with EBADF, one already woken but not yet run
   (ready) has the wait it returns from fail with EBADF instead, and one
   that yielded (dill__busy) finds dill__pin_closed true.  So after any
   call that may switch, pinned code checks the result as usual: failure
   of the layer below or of its own wait, or dill__pin_closed after
   dill__busy (dill__pin_busy does both); it may still read and write
   the object's own fields, but nothing that close released.  The memory
   goes (free) when the last pin is dropped, or at once by dill__pin_close
   when nobody is inside.  With caller's storage (the _mem functions)
   free only marks nothing: the storage may be reused once every call
   that was blocked in the handle has returned (they return at their
   next turn).

   Waking is by coroutine, not by wait: whatever a pinned call waits on
   fails.  So a pinned call may wait only in the object itself or in what
   its close closes (the layers below it owns); a detach that hands the
   layer below back must refuse (EBUSY) while another call is inside.

   Pins follow the coroutine into hibernation (cr.c relinks them): they
   hold no pointer into a stack that anything but their own coroutine
   and the object's list of holders uses.  A coroutine's pins nest: it
   unpins in the reverse order of pinning.  Not for objects shared
   between threads. */
struct dill__pin;
struct dill__pinref {
    struct dill__pinref *next;     /* the object's next holder */
    struct dill__pinref **pprev;   /* what points at this one */
    struct dill__pinref *up;       /* the coroutine's enclosing pin */
    struct dill__crflags *f;       /* the coroutine (dill__cr.f) */
    /* NULL while the object is open; once closed, what releases its
       memory (every holder has it: the last one out calls it). */
    void (*free)(struct dill__pin *p);
};
/* One pointer, so that it fits the libdill-sized _mem storage. */
struct dill__pin {
    struct dill__pinref *holders;  /* coroutines inside, or NULL */
};
static inline void dill__pin_init(struct dill__pin *p) {
    p->holders = NULL;
}
/* Whether the object was closed, asked by a call inside it (its memory
   is there while it is pinned). */
static inline int dill__pin_closed(const struct dill__pin *p) {
    return p->holders && p->holders->free;
}
/* The running coroutine enters the object; r lives on its stack until
   the matching dill__unpin. */
static inline void dill__pin(struct dill__pin *p, struct dill__pinref *r) {
    if(dill__slow(!dill__flags)) dill__canblock_slow();
    struct dill__crflags *f = dill__flags;
    r->f = f;
    r->up = f->pins;
    f->pins = r;
    r->next = p->holders;
    /* A call already inside a closed object may nest. */
    r->free = r->next ? r->next->free : NULL;
    if(r->next) r->next->pprev = &r->next;
    r->pprev = &p->holders;
    p->holders = r;
}
/* Leaves the object.  Returns 0 (errno untouched), or -1 with errno
   EBADF when it was closed meanwhile: then it must not be touched again,
   as this may have been the last pin (its memory is released here). */
static inline int dill__unpin(struct dill__pin *p, struct dill__pinref *r) {
    *r->pprev = r->next;
    if(r->next) r->next->pprev = r->pprev;
    dill__flags->pins = r->up;
    if(dill__fast(!r->free)) return 0;
    if(!p->holders) r->free(p);
    errno = EBADF;
    return -1;
}
/* The end of the object's close: marks it closed, wakes the coroutines
   inside (see above) and releases its memory through free now if none
   is inside, else at the last dill__unpin.  free must not block; for
   caller's storage pass dill__pin_nofree. */
void dill__pin_close(struct dill__pin *p, void (*free)(struct dill__pin *p));
void dill__pin_nofree(struct dill__pin *p);
/* dill__busy for pinned code: also fails, with EBADF, when the object
   was closed while the call yielded. */
int dill__pin_busy(struct dill__pin *p, int64_t deadline);
int dill__pin_busy_n(struct dill__pin *p, int64_t deadline, unsigned n);
/* Whether the innermost object the running coroutine pinned was closed:
   for code below a pinned call that does not see the object itself (the
   fd-level loops of a stream), to ask after dill__busy. */
static inline int dill__pinned_closed(void) {
    struct dill__pinref *r = dill__flags ? dill__flags->pins : NULL;
    return r && r->free;
}

/* Call from a loop that made progress without blocking: fails with
   ECANCELED when the current coroutine is cancelled and with ETIMEDOUT once
   the deadline (other than -1) has passed; every DILL__BUSY_UNITS units of
   work it yields, and the scheduler then looks at file descriptors and
   timers before anything else runs, so that a connection whose input never
   runs dry cannot hold others back for more than that much work.
   Returns 0 or -1. */
#define DILL__BUSY_UNITS 64
int dill__busy(int64_t deadline);
/* dill__busy for n units of work at once (a loop that did more than one
   step's worth, e.g. read many bytes). */
int dill__busy_n(int64_t deadline, unsigned n);

/* Work deferred to the end of the running coroutine's turn: queued items
   run (once each, in order) just before the scheduler switches away from
   the current coroutine, whatever made it stop (blocking, yielding,
   finishing), and at thread or process exit; also items that poller
   callbacks queue, before the scheduler next waits.  A run function must
   not block; it may queue items again, which run in a following round of
   the same switch (a few rounds at most).  Sockets use it to gather small
   writes made during one turn into one system call, and TLS to make them
   one record, pushed into the socket's gathered writes. */
struct dill__defer {
    struct dill__list item;        /* self-linked when not queued */
    void (*run)(struct dill__defer *d);
};
/* Prepares d (not queued). */
static inline void dill__defer_init(struct dill__defer *d,
      void (*run)(struct dill__defer *d)) {
    dill__list_init(&d->item);
    d->run = run;
}
/* Queues d unless it is queued already. */
void dill__defer(struct dill__defer *d);
/* Unqueues d if it is queued. */
static inline void dill__undefer(struct dill__defer *d) {
    dill__list_erase(&d->item);
}

/* Work done when a thread other than main exits, first, while its
   scheduler and handles still work: a run function may close handles and
   cancel coroutines, but not block otherwise.  Items run once, newest
   first; the main thread's never run (the process is ending). */
struct dill__texit {
    struct dill__list item;        /* self-linked when not registered */
    void (*run)(struct dill__texit *e);
};
/* Registers e (prepared with dill__list_init(&e->item) and run set) for
   the calling thread, unless it is registered already. */
void dill__texit_add(struct dill__texit *e);

/* A function the poller calls (in scheduler context, so it must not
   block). */
struct dill__fdcb {
    void (*fn)(struct dill__fdcb *cb);
    /* The poller's: its fd, and its thread's list of callbacks. */
    int fd;
    struct dill__fdcb *next;
};
/* Calls cb whenever fd is readable and no coroutine waits to read it, until
   dill_fdclean.  At most one per fd.  Returns 0 or -1 (ENOMEM...). */
int dill__fdin_cb(int fd, struct dill__fdcb *cb);

/* Busy-polling (src/core/busypoll.c).  The thread's setting in
   microseconds: 0 off, -1 not read from DILL_BUSYPOLL yet. */
extern __thread int64_t dill__bp_us __attribute__((tls_model("initial-exec")));
/* Called by the scheduler instead of sleeping: polls events without
   blocking until *ready becomes non-NULL or work is deferred (returns 1),
   or the thread's budget is spent or the timer deadline nt (ms, -1: none)
   is reached (returns 0). */
int dill__busypoll(struct dill__cr *const *ready,
    const struct dill__list *deferred, int64_t nt);

/* Per-thread caches of buffers, one per kind; every buffer of a kind has
   the same size.  get returns a cached buffer or mallocs size bytes (NULL
   with ENOMEM); put caches or frees it (NULL is ignored).  A buffer may be
   put back by another thread than the one that got it.  A thread caches
   at most 64 buffers and 1 MiB per kind (src/core/pool.c). */
#define DILL__POOL_FDRX 0      /* stream read-ahead (DILL__RXBUF_SIZE) */
#define DILL__POOL_FDTX 1      /* stream gathered writes */
#define DILL__POOL_WS 2        /* WebSocket receive buffer, scratch */
#define DILL__POOL_WSBIG 3     /* WebSocket masking scratch, big frames */
#define DILL__POOL_TLSTX 4     /* TLS gathered plaintext and records */
#define DILL__POOL_TLSRX 5     /* TLS records received (own record layer) */
#define DILL__POOL_KINDS 6
void *dill__pool_get(int kind, size_t size);
void dill__pool_put(int kind, void *buf);

/* Asynchronous operations on a non-blocking socket (src/core/aop.c): a
   receive into a buffer or a send from one, whose end is reported to a
   completion function.  Two implementations behind one contract: with
   io_uring (src/core/uring.c) the operation is queued in the thread's
   ring and reaches the kernel with the scheduler's next wait; without it
   (DILL_URING=0, no kernel support, the ring full) the poller waits for
   readiness through epoll and then makes the non-blocking system call (a
   send tries that at once).  The buffer is the kernel's from the start
   until the completion function has run or dill__aop_cancel returned:
   it must stay where it is and alive (a coroutine that waits for an
   operation into its stack must not hibernate).  One receive and one
   send per fd at a time. */
struct dill__aop {
    /* Set by the caller before starting.  Runs from the scheduler (never
       from within the call that started the operation) and must not block
       or fail; it may start another operation with op.  res is the byte
       count (a receive: 0 when the peer closed; a send may be short) or a
       negative errno: -EBADF for a receive whose fd was cleaned
       (dill_fdclean) first. */
    void (*done)(struct dill__aop *op, int res);
    /* The result of a send that ended at once (dill__aop_send returned
       1).  The rest is core's. */
    int res;
    void *buf;
    uint32_t len;
    int fd;
    uint8_t kind;
    uint8_t state;
    uint8_t slot;                  /* the fd's operation (poller table) */
    uint8_t closed;                /* the fd was cleaned meanwhile (2: and
                                      the ring was asked to cancel) */
    struct dill__clause *cw;       /* dill__aop_cancel waits for the end */
};
/* Whether receives are filled by the kernel as data arrives (1: the
   ring; a receive that waits then costs no system call of its own, but
   its buffer is written at any time until it ends), or wait for
   readiness and then read (0: epoll; waiting with fdin and then reading
   straight into the final memory costs the same, and keeps no buffer on
   a waiting coroutine's stack). */
int dill__aop_fills(void);
/* Starts a receive of up to len bytes into buf (len 0 is not allowed).
   Returns 0, or -1 with errno: EBUSY (a receive on fd is under way, or a
   coroutine waits in fdin), ENOMEM; done is then never called. */
int dill__aop_recv(struct dill__aop *op, int fd, void *buf, size_t len);
/* Starts a send (MSG_NOSIGNAL) of up to len bytes from buf.  Returns 0
   (under way: done will be called), 1 when it ended at once (epoll: the
   socket had room, or failed; the result is in op->res and done is not
   called), or -1 with errno as for dill__aop_recv (EBUSY: a send on fd is
   under way).  When fd is cleaned (dill_fdclean) first, a send waiting
   for room makes one last attempt without waiting, as the kernel keeps
   sending what was queued before close, and ends with its result (-EBADF
   if nothing went); one the kernel holds ends when the kernel is done
   (it keeps the socket open until then). */
int dill__aop_send(struct dill__aop *op, int fd, const void *buf,
    size_t len);
/* Ends op, if under way, without calling done, and returns only once the
   kernel has let go of the buffer: it may wait, without being
   cancellable, so call it from a coroutine.  Returns what done would have
   got had the operation ended (bytes may have moved before the cancel
   reached the kernel: a receive's data is in the buffer, a send's left),
   -ECANCELED when nothing moved, or -EBADF (a receive whose fd was
   cleaned). */
int dill__aop_cancel(struct dill__aop *op);

/* Handle type id of bundles (go() returns a bundle). */
extern const void *dill__bundle_type;

/* Poller (one per thread): the scheduler calls it when no coroutine is
   ready (timeout in ms, -1 forever) and now and then with timeout 0. */
int dill__poller_wait(int timeout);
/* Whether any coroutine waits for a file descriptor. */
int dill__poller_busy(void);
void dill__poller_term(void);

/* Timer heap.  A timer fires its clause with ETIMEDOUT. */
struct dill__timer {
    struct dill__clause cl;
    int64_t deadline;
    size_t idx;                    /* position in the heap, 0 = none */
};
void dill__timer_add(struct dill__timer *t, int64_t deadline, int id);
/* Deadline of the earliest timer, or -1 if there is none. */
int64_t dill__timer_next(void);
/* Fires the timers that expired by now; returns how many fired. */
int dill__timer_fire(int64_t now);
void dill__timer_term(void);

/* Handles. */
void dill__handles_term(void);

/* Channels (src/core/chan.c, and src/core/tchan.c for channels between
   threads).  One end of a channel as its handle sees it. */
struct dill__chan;
extern const void *dill__chan_type;
struct dill__half {
    struct dill_hvfs vfs;
    struct dill__chan *ch;         /* NULL for an end of a tchan */
    int index;
    int ts;                        /* an end of a channel between threads */
};
/* The clauses of one wait that threads other than the waiter's may
   complete: whoever completes one of them first (compare-and-swap of state
   from 0 to 1) owns the wait. */
struct dill__tswait {
    int state;
};
/* One blocked operation of chsend/chrecv/choose. */
struct dill__chop {
    struct dill__clause cl;
    struct dill__list item;
    void *val;
    size_t len;
    struct dill__tswait *w;        /* NULL: only this thread can complete */
    struct dill__half *hf;         /* tchan end it waits on */
    int claimed;                   /* tchan op completed (under its lock) */
    int err;                       /* ... with this error */
};
/* Claims w for the caller: returns 1 if nobody had, 0 otherwise. */
static inline int dill__tswait_claim(struct dill__tswait *w) {
    int zero = 0;
    return __atomic_compare_exchange_n(&w->state, &zero, 1, 0,
        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
/* choose() over clauses of which at least one is on a tchan; hfs are the
   resolved ends.  Same contract as dill_choose; with cancellable 0 the
   wait ignores cancellation (for close callbacks). */
int dill__tchoose(struct dill_chclause *cls, struct dill__half **hfs,
    int ncls, int64_t deadline, int cancellable);
/* chrecv on a tchan handle that ignores cancellation and works inside
   close callbacks. */
int dill__tchrecv_nocancel(int h, void *val, size_t len, int64_t deadline);
/* Tries one operation on a normal channel at once (see chan.c). */
int dill__chtry(struct dill__half *hf, int op, void *val, size_t len);
/* Parks o on a normal channel as clause id of the current wait. */
void dill__chpark(struct dill__half *hf, int op, struct dill__chop *o,
    void *val, size_t len, int id, struct dill__tswait *w);
int dill__tchdone(struct dill__half *hf);
/* Completions other threads handed to this one, run now if there are
   any: the scheduler calls it while coroutines keep it busy (the eventfd
   wakes it only from a blocking wait). */
void dill__twake_poll(void);
/* At thread exit. */
void dill__twake_term(void);

/* A wake-up that any thread posts and one coroutine of the owner thread
   (the one that called init) waits for; posts made while nobody waits are
   remembered (once).  Waking a sleeping owner from another thread goes
   through its eventfd, like tchans. */
struct dill__tsig {
    pthread_mutex_t lock;
    int pending;
    struct dill__chop *waiter;
    void *wk;
};
/* Returns 0 or -1 (ENOMEM, EMFILE). */
int dill__tsig_init(struct dill__tsig *s);
void dill__tsig_term(struct dill__tsig *s);
void dill__tsig_post(struct dill__tsig *s);
/* Returns 0 when posted, -1 with ETIMEDOUT or ECANCELED. */
int dill__tsig_wait(struct dill__tsig *s, int64_t deadline);

/* Move function of the coroutine's own timer clause (timer.c). */
void dill__timer_move(struct dill__clause *cl, const struct dill__move *m);

/* Stacks. */
/* Returns a stack of *size bytes; *fresh tells whether it was never used. */
void *dill__stack_alloc(size_t *size, int *fresh);
void dill__stack_free(void *stack, size_t size);
/* Gives the memory of n stacks (in use, not free) back to the kernel, in
   as few system calls as their addresses allow; reorders stacks. */
void dill__stacks_drop(void **stacks, size_t n);
void dill__stacks_term(void);

/* Milliseconds from the monotonic clock, read afresh; the reading also
   becomes now()'s cached value, so that whatever is decided with it (a
   timer that fired) is what now() shows afterwards. */
int64_t dill__now_exact(void);

#endif
