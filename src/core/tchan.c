/* Channels between threads (dill extension): the same rendezvous as chan.c,
   but the two sides of an exchange may run in different threads.

   A tchan has a mutex; ordinary channels never take it.  A coroutine that
   has to wait parks an operation (on its own stack) in the channel's lists
   and sleeps in its own scheduler.  The thread that completes it copies the
   message while holding the channel's lock, then hands the operation to the
   waiter's thread: a queue per thread, and an eventfd registered in that
   thread's poller (so an epoll or io_uring wait wakes up) that is written
   only when the queue goes from empty to non-empty.

   Races between a completion in one thread and a timeout or cancellation in
   the waiter's thread: the completer claims the wait (compare-and-swap on
   the dill__tswait shared by the wait's clauses) before touching the
   operation, so a choose completes at most one clause; the waiter, when it
   unregisters a claimed operation, takes the channel's lock (so the copy is
   over), takes the operation back out of its queue and reports it as done
   whatever woke it: a message that was exchanged is never reported lost.

   Lock order: channel locks by address, then a thread's queue lock. */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core.h"

struct dill_tchan {
    pthread_mutex_t lock;
    /* [f]: operations of flow f: sent on end !f, received on end f. */
    struct dill__list senders[2];
    struct dill__list receivers[2];
    int done;
    int refs;                      /* open handles + the creator's */
    int opens[2];                  /* open handles per end */
    int released;                  /* the creator's reference is gone */
};

/* Where other threads hand completed operations to this thread.  On the
   heap with a reference count: a wake-up (struct dill__tsig) may outlive
   its thread, whose exit marks it dead so that posts become no-ops. */
struct dill__twake {
    pthread_mutex_t lock;
    struct dill__list q;
    int efd;
    struct dill__fdcb cb;
    int posted;                    /* q non-empty (atomic hint) */
    int dead;                      /* the thread exited (lock) */
    int refs;                      /* the thread's + holders' (atomic) */
};

static __thread struct dill__twake *dill__twk
    __attribute__((tls_model("initial-exec")));

static struct dill__twake *dill__twake_ref(struct dill__twake *wk) {
    __atomic_add_fetch(&wk->refs, 1, __ATOMIC_RELAXED);
    return wk;
}

static void dill__twake_unref(struct dill__twake *wk) {
    if(__atomic_sub_fetch(&wk->refs, 1, __ATOMIC_ACQ_REL)) return;
    pthread_mutex_destroy(&wk->lock);
    free(wk);
}

struct dill__thalf {
    struct dill__half h;
    struct dill_tchan *tc;
    struct dill__twake *wk;        /* of the thread that opened it */
};

static void dill__twake_run(struct dill__fdcb *cb) {
    struct dill__twake *wk = dill__cont(cb, struct dill__twake, cb);
    uint64_t v;
    /* Read before taking the queue: a post after this read writes again. */
    if(read(wk->efd, &v, sizeof(v)) < 0 && errno != EAGAIN) return;
    struct dill__list batch;
    dill__list_init(&batch);
    pthread_mutex_lock(&wk->lock);
    __atomic_store_n(&wk->posted, 0, __ATOMIC_RELAXED);
    if(!dill__list_empty(&wk->q)) {
        batch.next = wk->q.next;
        batch.prev = wk->q.prev;
        batch.next->prev = &batch;
        batch.prev->next = &batch;
        dill__list_init(&wk->q);
    }
    pthread_mutex_unlock(&wk->lock);
    while(!dill__list_empty(&batch)) {
        struct dill__chop *op = dill__cont(batch.next, struct dill__chop,
            item);
        dill__list_erase(&op->item);
        dill__trigger(&op->cl, op->err);
    }
}

/* This thread's, with a reference for the caller. */
static struct dill__twake *dill__twake_get(void) {
    struct dill__twake *wk = dill__twk;
    if(dill__fast(wk != NULL)) return dill__twake_ref(wk);
    wk = calloc(1, sizeof(*wk));
    if(!wk) {errno = ENOMEM; return NULL;}
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if(efd < 0) {free(wk); return NULL;}
    pthread_mutex_init(&wk->lock, NULL);
    dill__list_init(&wk->q);
    wk->efd = efd;
    wk->cb.fn = dill__twake_run;
    if(dill__fdin_cb(efd, &wk->cb) < 0) {
        int err = errno;
        close(efd);
        pthread_mutex_destroy(&wk->lock);
        free(wk);
        errno = err;
        return NULL;
    }
    wk->refs = 2;
    dill__twk = wk;
    return wk;
}

void dill__twake_poll(void) {
    struct dill__twake *wk = dill__twk;
    if(wk && __atomic_load_n(&wk->posted, __ATOMIC_RELAXED))
        dill__twake_run(&wk->cb);
}

void dill__twake_term(void) {
    struct dill__twake *wk = dill__twk;
    if(!wk) return;
    dill_fdclean(wk->efd);
    pthread_mutex_lock(&wk->lock);
    close(wk->efd);
    wk->efd = -1;
    wk->dead = 1;
    pthread_mutex_unlock(&wk->lock);
    dill__twk = NULL;
    dill__twake_unref(wk);
}

/* Under the channel's lock.  A thread that exited gets nothing (only a
   wake-up can be posted to one: its coroutines waited on nothing else). */
static void dill__twake_post(struct dill__twake *wk, struct dill__chop *op) {
    pthread_mutex_lock(&wk->lock);
    if(dill__slow(wk->dead)) {pthread_mutex_unlock(&wk->lock); return;}
    int was_empty = dill__list_empty(&wk->q);
    dill__list_push(&wk->q, &op->item);
    if(was_empty) {
        __atomic_store_n(&wk->posted, 1, __ATOMIC_RELAXED);
        uint64_t one = 1;
        /* Cannot fail short of the counter overflowing (2^64 - 2 posts). */
        ssize_t rc = write(wk->efd, &one, sizeof(one));
        (void)rc;
    }
    pthread_mutex_unlock(&wk->lock);
}

/* Under the channel's lock: takes peer p (in a channel list) for the
   caller.  Returns 0 if another thread or clause got its wait first. */
static int dill__tclaim(struct dill__chop *p) {
    if(!dill__tswait_claim(p->w)) return 0;
    dill__list_erase(&p->item);
    return 1;
}

/* Under the channel's lock: a claimed peer is done with err.  Peers of this
   thread are triggered after the unlock (their cancel functions take the
   lock), from *local. */
static void dill__tfinish(struct dill__chop *p, int err,
      struct dill__list *local) {
    p->claimed = 1;
    p->err = err;
    struct dill__thalf *th = (struct dill__thalf*)p->hf;
    if(th->wk == dill__twk) dill__list_push(local, &p->item);
    else dill__twake_post(th->wk, p);
}

static void dill__tlocal(struct dill__list *local) {
    while(!dill__list_empty(local)) {
        struct dill__chop *op = dill__cont(local->next, struct dill__chop,
            item);
        dill__list_erase(&op->item);
        dill__trigger(&op->cl, op->err);
    }
}

/* Under the lock: every waiter (of handle hf, or all if NULL) fails with
   EPIPE. */
static void dill__tpipe(struct dill_tchan *tc, struct dill__half *hf,
      struct dill__list *local) {
    for(int f = 0; f != 2; f++) {
        struct dill__list *ls[2] = {&tc->senders[f], &tc->receivers[f]};
        for(int k = 0; k != 2; k++) {
            struct dill__list *it = ls[k]->next;
            while(it != ls[k]) {
                struct dill__chop *p = dill__cont(it, struct dill__chop, item);
                it = it->next;
                if((hf && p->hf != hf) || !dill__tclaim(p)) continue;
                dill__tfinish(p, EPIPE, local);
            }
        }
    }
}

static void dill__tfinish_all(struct dill_tchan *tc, struct dill__list *local) {
    tc->done = 1;
    dill__tpipe(tc, NULL, local);
}

/* Under the lock: performs the operation at once if a peer waits.  Returns
   1 when done (errno 0 or the error), 0 when it would have to wait. */
static int dill__ttry(struct dill__thalf *th, int op, void *val, size_t len,
      struct dill__list *local) {
    struct dill_tchan *tc = th->tc;
    if(dill__slow(tc->done)) {errno = EPIPE; return 1;}
    struct dill__list *peers = op == DILL_CHSEND ?
        &tc->receivers[!th->h.index] : &tc->senders[th->h.index];
    struct dill__list *it = peers->next;
    while(it != peers) {
        struct dill__chop *p = dill__cont(it, struct dill__chop, item);
        it = it->next;
        if(!dill__tclaim(p)) continue;
        if(dill__slow(p->len != len)) {
            dill__tfinish(p, EMSGSIZE, local);
            errno = EMSGSIZE;
            return 1;
        }
        if(op == DILL_CHSEND) memcpy(p->val, val, len);
        else memcpy(val, p->val, len);
        dill__tfinish(p, 0, local);
        errno = 0;
        return 1;
    }
    return 0;
}

static void dill__tcancel(struct dill__clause *cl) {
    struct dill__chop *op = dill__cont(cl, struct dill__chop, cl);
    struct dill__thalf *th = (struct dill__thalf*)op->hf;
    pthread_mutex_lock(&th->tc->lock);
    if(op->claimed) {
        /* Completed: it is in this thread's queue or already out of it. */
        pthread_mutex_lock(&th->wk->lock);
        dill__list_erase(&op->item);
        pthread_mutex_unlock(&th->wk->lock);
    }
    else dill__list_erase(&op->item);
    pthread_mutex_unlock(&th->tc->lock);
}

/* Under the lock. */
static void dill__tpark(struct dill__thalf *th, int op, struct dill__chop *o,
      void *val, size_t len, int id, struct dill__tswait *w) {
    struct dill_tchan *tc = th->tc;
    o->val = val;
    o->len = len;
    o->w = w;
    o->hf = &th->h;
    o->claimed = 0;
    o->err = 0;
    struct dill__list *l = op == DILL_CHSEND ?
        &tc->senders[!th->h.index] : &tc->receivers[th->h.index];
    dill__list_push(l, &o->item);
    dill__waitfor(&o->cl, id, dill__tcancel);
}

/* The distinct channels of the tchan clauses, sorted by address (the lock
   order).  Returns how many. */
static int dill__tchans(struct dill__half **hfs, int ncls,
      struct dill_tchan **tcs) {
    int n = 0;
    for(int i = 0; i != ncls; i++) {
        if(!hfs[i]->ts) continue;
        struct dill_tchan *tc = ((struct dill__thalf*)hfs[i])->tc;
        int j = n;
        while(j > 0 && (uintptr_t)tcs[j - 1] > (uintptr_t)tc) j--;
        if(j > 0 && tcs[j - 1] == tc) continue;
        memmove(&tcs[j + 1], &tcs[j], sizeof(*tcs) * (size_t)(n - j));
        tcs[j] = tc;
        n++;
    }
    return n;
}

/* With every channel locked: tries the tchan clauses again (a peer may have
   come since the first pass; ordinary channels cannot have changed, this
   thread did not run), then parks every clause.  Returns the index of a
   clause done at once, or -1 when parked. */
static int dill__tpark_all(struct dill_chclause *cls, struct dill__half **hfs,
      int ncls, struct dill__chop *ops, struct dill__tswait *w,
      struct dill__list *local) {
    for(int i = 0; i != ncls; i++) {
        if(hfs[i]->ts && dill__ttry((struct dill__thalf*)hfs[i], cls[i].op,
              cls[i].val, cls[i].len, local))
            return i;
    }
    for(int i = 0; i != ncls; i++) {
        if(hfs[i]->ts)
            dill__tpark((struct dill__thalf*)hfs[i], cls[i].op, &ops[i],
                cls[i].val, cls[i].len, i, w);
        else {
            ops[i].hf = NULL;
            ops[i].claimed = 0;
            dill__chpark(hfs[i], cls[i].op, &ops[i], cls[i].val, cls[i].len,
                i, w);
        }
    }
    return -1;
}

/* First pass, in clause order, without holding several locks. */
static int dill__ttry_each(struct dill_chclause *cls, struct dill__half **hfs,
      int ncls) {
    for(int i = 0; i != ncls; i++) {
        if(!hfs[i]->ts) {
            if(dill__chtry(hfs[i], cls[i].op, cls[i].val, cls[i].len))
                return i;
            continue;
        }
        struct dill__thalf *th = (struct dill__thalf*)hfs[i];
        struct dill__list local;
        dill__list_init(&local);
        pthread_mutex_lock(&th->tc->lock);
        int done = dill__ttry(th, cls[i].op, cls[i].val, cls[i].len, &local);
        pthread_mutex_unlock(&th->tc->lock);
        if(done) {
            int err = errno;
            dill__tlocal(&local);
            errno = err;
            return i;
        }
    }
    return -1;
}

int dill__tchoose(struct dill_chclause *cls, struct dill__half **hfs,
      int ncls, int64_t deadline, int cancellable) {
    int id = dill__ttry_each(cls, hfs, ncls);
    if(id >= 0) return id;
    struct dill__chop stackops[8];
    struct dill_tchan *stacktcs[8];
    struct dill__chop *ops = stackops;
    struct dill_tchan **tcs = stacktcs;
    if(ncls > 8) {
        ops = malloc(sizeof(*ops) * (size_t)ncls);
        tcs = malloc(sizeof(*tcs) * (size_t)ncls);
        if(dill__slow(!ops || !tcs)) {
            free(ops);
            free(tcs);
            errno = ENOMEM;
            return -1;
        }
    }
    int ntcs = dill__tchans(hfs, ncls, tcs);
    struct dill__tswait w = {0};
    struct dill__list local;
    dill__list_init(&local);
    for(int i = 0; i != ntcs; i++) pthread_mutex_lock(&tcs[i]->lock);
    id = dill__tpark_all(cls, hfs, ncls, ops, &w, &local);
    int err = errno;
    for(int i = ntcs; i != 0; i--) pthread_mutex_unlock(&tcs[i - 1]->lock);
    if(id >= 0) {
        dill__tlocal(&local);
        goto out;
    }
    id = dill__wait(deadline, cancellable);
    err = errno;
    /* A completion beats the timeout or cancellation that raced it.  (The
       handles may be closed by now: only ops are looked at.) */
    for(int i = 0; i != ncls; i++) {
        if(ops[i].hf && ops[i].claimed) {
            id = i;
            err = ops[i].err;
        }
    }
out:
    if(ops != stackops) {
        free(ops);
        free(tcs);
    }
    errno = err;
    return id;
}

int dill__tchdone(struct dill__half *hf) {
    struct dill_tchan *tc = ((struct dill__thalf*)hf)->tc;
    struct dill__list local;
    dill__list_init(&local);
    pthread_mutex_lock(&tc->lock);
    int done = tc->done;
    if(!done) dill__tfinish_all(tc, &local);
    pthread_mutex_unlock(&tc->lock);
    if(done) {errno = EPIPE; return -1;}
    dill__tlocal(&local);
    return 0;
}

static const int dill__tchan_type_placeholder = 0;
static const void *dill__tchan_type = &dill__tchan_type_placeholder;

static void *dill__thalf_query(struct dill_hvfs *vfs, const void *type) {
    struct dill__thalf *th = dill__cont(vfs, struct dill__thalf, h.vfs);
    if(type == dill__chan_type) return &th->h;
    if(type == dill__tchan_type) return th;
    errno = ENOTSUP;
    return NULL;
}

static void dill__tfree(struct dill_tchan *tc) {
    pthread_mutex_destroy(&tc->lock);
    free(tc);
}

static void dill__thalf_close(struct dill_hvfs *vfs) {
    struct dill__thalf *th = dill__cont(vfs, struct dill__thalf, h.vfs);
    struct dill_tchan *tc = th->tc;
    struct dill__list local;
    dill__list_init(&local);
    pthread_mutex_lock(&tc->lock);
    /* Coroutines of this thread blocked on the handle would wait on a
       handle that no longer exists. */
    dill__tpipe(tc, &th->h, &local);
    int end = th->h.index;
    tc->opens[end]--;
    /* Nobody can send or receive on that end any more. */
    if(tc->released && !tc->opens[end] && !tc->done)
        dill__tfinish_all(tc, &local);
    int last = --tc->refs == 0;
    pthread_mutex_unlock(&tc->lock);
    dill__tlocal(&local);
    if(last) dill__tfree(tc);
    dill__twake_unref(th->wk);
    free(th);
}

struct dill_tchan *dill_tchmake(void) {
    struct dill_tchan *tc = malloc(sizeof(struct dill_tchan));
    if(dill__slow(!tc)) {errno = ENOMEM; return NULL;}
    pthread_mutex_init(&tc->lock, NULL);
    for(int f = 0; f != 2; f++) {
        dill__list_init(&tc->senders[f]);
        dill__list_init(&tc->receivers[f]);
        tc->opens[f] = 0;
    }
    tc->done = 0;
    tc->refs = 1;
    tc->released = 0;
    return tc;
}

int dill_tchopen(struct dill_tchan *tc, int end) {
    if(dill__slow(!tc || (end != 0 && end != 1))) {errno = EINVAL; return -1;}
    if(dill__slow(dill__canblock() < 0)) return -1;
    struct dill__twake *wk = dill__twake_get();
    if(dill__slow(!wk)) return -1;
    struct dill__thalf *th = malloc(sizeof(struct dill__thalf));
    if(dill__slow(!th)) {
        dill__twake_unref(wk);
        errno = ENOMEM;
        return -1;
    }
    th->h.vfs.query = dill__thalf_query;
    th->h.vfs.close = dill__thalf_close;
    th->h.ch = NULL;
    th->h.index = end;
    th->h.ts = 1;
    th->tc = tc;
    th->wk = wk;
    pthread_mutex_lock(&tc->lock);
    tc->refs++;
    tc->opens[end]++;
    pthread_mutex_unlock(&tc->lock);
    int h = dill_hmake(&th->h.vfs);
    if(dill__slow(h < 0)) {
        int err = errno;
        dill__thalf_close(&th->h.vfs);
        errno = err;
        return -1;
    }
    return h;
}

int dill_tchrelease(struct dill_tchan *tc) {
    if(dill__slow(!tc)) {errno = EINVAL; return -1;}
    struct dill__list local;
    dill__list_init(&local);
    pthread_mutex_lock(&tc->lock);
    if(dill__slow(tc->released)) {
        pthread_mutex_unlock(&tc->lock);
        errno = EINVAL;
        return -1;
    }
    tc->released = 1;
    if((!tc->opens[0] || !tc->opens[1]) && !tc->done)
        dill__tfinish_all(tc, &local);
    int last = --tc->refs == 0;
    pthread_mutex_unlock(&tc->lock);
    dill__tlocal(&local);
    if(last) dill__tfree(tc);
    return 0;
}

/* Wake-ups (struct dill__tsig): a single waiter parks an operation that a
   post completes like a tchan peer would. */

struct dill__tsigop {
    struct dill__chop op;
    struct dill__tsig *s;
};

int dill__tsig_init(struct dill__tsig *s) {
    struct dill__twake *wk = dill__twake_get();
    if(!wk) return -1;
    pthread_mutex_init(&s->lock, NULL);
    s->pending = 0;
    s->waiter = NULL;
    s->wk = wk;
    return 0;
}

void dill__tsig_term(struct dill__tsig *s) {
    pthread_mutex_destroy(&s->lock);
    dill__twake_unref(s->wk);
}

static void dill__tsig_cancel(struct dill__clause *cl) {
    struct dill__tsigop *o = dill__cont(cl, struct dill__tsigop, op.cl);
    struct dill__tsig *s = o->s;
    pthread_mutex_lock(&s->lock);
    if(o->op.claimed) {
        struct dill__twake *wk = s->wk;
        pthread_mutex_lock(&wk->lock);
        dill__list_erase(&o->op.item);
        pthread_mutex_unlock(&wk->lock);
    }
    else s->waiter = NULL;
    pthread_mutex_unlock(&s->lock);
}

void dill__tsig_post(struct dill__tsig *s) {
    pthread_mutex_lock(&s->lock);
    struct dill__chop *op = s->waiter;
    if(!op) {
        s->pending = 1;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    s->waiter = NULL;
    op->claimed = 1;
    op->err = 0;
    if(s->wk != dill__twk) {
        dill__twake_post(s->wk, op);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    /* Its cancel function takes the lock. */
    pthread_mutex_unlock(&s->lock);
    dill__trigger(&op->cl, 0);
}

int dill__tsig_wait(struct dill__tsig *s, int64_t deadline) {
    if(dill__canblock() < 0) return -1;
    pthread_mutex_lock(&s->lock);
    if(s->pending) {
        s->pending = 0;
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    struct dill__tsigop o;
    o.s = s;
    o.op.claimed = 0;
    o.op.err = 0;
    dill__list_init(&o.op.item);
    s->waiter = &o.op;
    dill__waitfor(&o.op.cl, 0, dill__tsig_cancel);
    pthread_mutex_unlock(&s->lock);
    int id = dill__wait(deadline, 1);
    if(o.op.claimed) {errno = 0; return 0;}
    return id < 0 ? -1 : 0;
}
