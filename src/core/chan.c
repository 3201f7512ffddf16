/* Channels: unbuffered rendezvous between the two ends of a pair.  What is
   sent to end 0 is received from end 1 and vice versa. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* Coroutines blocked on one direction of the channel: at any moment at most
   one of the two lists is non-empty. */
struct dill__dir {
    struct dill__list senders;
    struct dill__list receivers;
};

struct dill__chan {
    struct dill__half half[2];
    struct dill__dir dir[2];       /* dir[i]: messages sent to end i */
    unsigned int done : 2;         /* bit i: dir[i] finished (chdone) */
    unsigned int mem : 1;
    unsigned int closed : 2;       /* ends closed so far */
};

_Static_assert(sizeof(struct dill__chan) <= sizeof(struct dill_chstorage),
    "channel does not fit its storage");

static const int dill__chan_type_placeholder = 0;
const void *dill__chan_type = &dill__chan_type_placeholder;

static void *dill__half_query(struct dill_hvfs *vfs, const void *type) {
    if(dill__fast(type == dill__chan_type))
        return dill__cont(vfs, struct dill__half, vfs);
    errno = ENOTSUP;
    return NULL;
}

static void dill__wake_all(struct dill__list *l, int err) {
    while(!dill__list_empty(l)) {
        struct dill__chop *op = dill__cont(l->next, struct dill__chop, item);
        dill__list_erase(&op->item);
        dill__trigger(&op->cl, err);
    }
}

static void dill__chan_finish(struct dill__chan *ch, int i) {
    ch->done |= 1u << i;
    dill__wake_all(&ch->dir[i].senders, EPIPE);
    dill__wake_all(&ch->dir[i].receivers, EPIPE);
}

static void dill__half_close(struct dill_hvfs *vfs) {
    struct dill__half *h = dill__cont(vfs, struct dill__half, vfs);
    struct dill__chan *ch = h->ch;
    /* Whoever still waits on the other end would wait forever. */
    dill__chan_finish(ch, 0);
    dill__chan_finish(ch, 1);
    if(++ch->closed == 2 && !ch->mem) free(ch);
}

static void dill__chan_init(struct dill__chan *ch) {
    for(int i = 0; i != 2; i++) {
        ch->half[i].vfs.query = dill__half_query;
        ch->half[i].vfs.close = dill__half_close;
        ch->half[i].ch = ch;
        ch->half[i].index = i;
        ch->half[i].ts = 0;
        dill__list_init(&ch->dir[i].senders);
        dill__list_init(&ch->dir[i].receivers);
    }
    ch->done = 0;
    ch->closed = 0;
}

static int dill__chan_handles(struct dill__chan *ch, int chv[2]) {
    int h0 = dill_hmake(&ch->half[0].vfs);
    if(dill__slow(h0 < 0)) return -1;
    int h1 = dill_hmake(&ch->half[1].vfs);
    if(dill__slow(h1 < 0)) {
        int err = errno;
        /* Closing one end of a half-made channel must not free it. */
        ch->mem = 1;
        dill_hclose(h0);
        errno = err;
        return -1;
    }
    chv[0] = h0;
    chv[1] = h1;
    return 0;
}

int dill_chmake_mem(struct dill_chstorage *mem, int chv[2]) {
    if(dill__slow(!mem || !chv)) {errno = EINVAL; return -1;}
    struct dill__chan *ch = (struct dill__chan*)mem;
    dill__chan_init(ch);
    ch->mem = 1;
    return dill__chan_handles(ch, chv);
}

int dill_chmake(int chv[2]) {
    if(dill__slow(!chv)) {errno = EINVAL; return -1;}
    struct dill__chan *ch = malloc(sizeof(struct dill__chan));
    if(dill__slow(!ch)) {errno = ENOMEM; return -1;}
    dill__chan_init(ch);
    ch->mem = 0;
    if(dill__chan_handles(ch, chv) < 0) {
        int err = errno;
        free(ch);
        errno = err;
        return -1;
    }
    return 0;
}

/* Like libdill, only what h sends ends: the other end can still send to
   h. */
int dill_chdone(int h) {
    struct dill__half *hf = dill_hquery(h, dill__chan_type);
    if(dill__slow(!hf)) return -1;
    if(dill__slow(hf->ts)) return dill__tchdone(hf);
    int out = !hf->index;
    if(dill__slow(hf->ch->done & (1u << out))) {errno = EPIPE; return -1;}
    dill__chan_finish(hf->ch, out);
    return 0;
}

static void dill__chop_cancel(struct dill__clause *cl) {
    dill__list_erase(&dill__cont(cl, struct dill__chop, cl)->item);
}

/* Only operations this thread alone can complete (w == NULL) move: with
   a tchan in the same choose another thread may hold the operation. */
static void dill__chop_move(struct dill__clause *cl,
      const struct dill__move *m) {
    struct dill__chop *o = dill__cont(cl, struct dill__chop, cl);
    if(dill__move_keeping(m)) {
        dill__move_keep(m, o, sizeof(*o));
        dill__move_keep(m, o->val, o->len);
        return;
    }
    dill__list_moved(&o->item, m);
    o->val = dill__moved(m, o->val);
}

/* The first waiting peer whose wait nobody completed yet: a choose that
   also waits on a tchan may have been completed by another thread. */
static struct dill__chop *dill__chclaim(struct dill__list *peers) {
    for(struct dill__list *it = peers->next; it != peers; it = it->next) {
        struct dill__chop *peer = dill__cont(it, struct dill__chop, item);
        if(!peer->w || dill__tswait_claim(peer->w)) return peer;
    }
    return NULL;
}

/* Tries to perform one operation at once, without touching errno (a call
   into the C library on the fast path).  Returns -1 when it would have to
   wait, 0 when done, or the error it completed with (EPIPE, EMSGSIZE). */
static inline int dill__chtry_err(struct dill__half *hf, int op, void *val,
      size_t len) {
    struct dill__chan *ch = hf->ch;
    int d = op == DILL_CHSEND ? !hf->index : hf->index;
    if(dill__slow(ch->done & (1u << d))) return EPIPE;
    struct dill__list *peers;
    if(op == DILL_CHSEND) peers = &ch->dir[d].receivers;
    else peers = &ch->dir[d].senders;
    if(dill__list_empty(peers)) return -1;
    struct dill__chop *peer = dill__cont(peers->next, struct dill__chop, item);
    if(dill__slow(peer->w != NULL)) {
        peer = dill__chclaim(peers);
        if(!peer) return -1;
    }
    dill__list_erase(&peer->item);
    /* Unlinked already: waking the peer need not call back to unlink it. */
    peer->cl.cancel = NULL;
    if(dill__slow(peer->len != len)) {
        dill__trigger(&peer->cl, EMSGSIZE);
        return EMSGSIZE;
    }
    if(op == DILL_CHSEND) memcpy(peer->val, val, len);
    else memcpy(val, peer->val, len);
    dill__trigger(&peer->cl, 0);
    return 0;
}

/* Tries to perform one operation at once.  Returns 1 when done (errno 0 or
   the operation's error), 0 when it would have to wait, -1 when the clause
   is invalid (errno set). */
int dill__chtry(struct dill__half *hf, int op, void *val, size_t len) {
    int err = dill__chtry_err(hf, op, val, len);
    if(err < 0) return 0;
    errno = err;
    return 1;
}

void dill__chpark(struct dill__half *hf, int op, struct dill__chop *o,
      void *val, size_t len, int id, struct dill__tswait *w) {
    struct dill__chan *ch = hf->ch;
    o->val = val;
    o->len = len;
    o->w = w;
    struct dill__list *l = op == DILL_CHSEND ?
        &ch->dir[!hf->index].senders : &ch->dir[hf->index].receivers;
    dill__list_push(l, &o->item);
    dill__waitfor(&o->cl, id, dill__chop_cancel);
    if(!w) o->cl.move = dill__chop_move;
}

static int dill__chop1(int h, int op, void *val, size_t len,
      int64_t deadline) {
    if(dill__slow(dill__canblock() < 0)) return -1;
    if(dill__slow(!val && len)) {errno = EINVAL; return -1;}
    struct dill__half *hf = dill_hquery(h, dill__chan_type);
    if(dill__slow(!hf)) return -1;
    if(dill__slow(hf->ts)) {
        struct dill_chclause c = {op, h, val, len};
        int id = dill__tchoose(&c, &hf, 1, deadline, 1);
        return id < 0 || errno ? -1 : 0;
    }
    /* errno is written only on failure. */
    int err = dill__chtry_err(hf, op, val, len);
    if(err < 0) {
        struct dill__chop o;
        dill__chpark(hf, op, &o, val, len, 0, NULL);
        /* -1 comes with ETIMEDOUT or ECANCELED in err. */
        dill__wait_err(deadline, 1, &err);
    }
    if(dill__slow(err)) {errno = err; return -1;}
    return 0;
}

int dill__tchrecv_nocancel(int h, void *val, size_t len, int64_t deadline) {
    struct dill__half *hf = dill_hquery(h, dill__chan_type);
    if(dill__slow(!hf)) return -1;
    if(dill__slow(!hf->ts)) {errno = ENOTSUP; return -1;}
    struct dill_chclause c = {DILL_CHRECV, h, val, len};
    int id = dill__tchoose(&c, &hf, 1, deadline, 0);
    return id < 0 || errno ? -1 : 0;
}

int dill_chsend(int h, const void *val, size_t len, int64_t deadline) {
    return dill__chop1(h, DILL_CHSEND, (void*)val, len, deadline);
}

int dill_chrecv(int h, void *val, size_t len, int64_t deadline) {
    return dill__chop1(h, DILL_CHRECV, val, len, deadline);
}

/* A choose with a tchan among its clauses: tchan.c does it all, after the
   clauses are checked. */
static int dill__choose_ts(struct dill_chclause *cls, int ncls,
      int64_t deadline) {
    struct dill__half *stackhfs[16];
    struct dill__half **hfs = stackhfs;
    if(ncls > 16) {
        hfs = malloc(sizeof(struct dill__half*) * (size_t)ncls);
        if(dill__slow(!hfs)) {errno = ENOMEM; return -1;}
    }
    int id = 0;
    for(int i = 0; i != ncls; i++) {
        struct dill_chclause *c = &cls[i];
        if(dill__slow((c->op != DILL_CHSEND && c->op != DILL_CHRECV) ||
              (!c->val && c->len))) {errno = EINVAL; id = i; goto out;}
        hfs[i] = dill_hquery(c->ch, dill__chan_type);
        if(dill__slow(!hfs[i])) {id = i; goto out;}
    }
    id = dill__tchoose(cls, hfs, ncls, deadline, 1);
out:;
    int err = errno;
    if(hfs != stackhfs) free(hfs);
    errno = err;
    return id;
}

int dill_choose(struct dill_chclause *cls, int ncls, int64_t deadline) {
    if(dill__slow(dill__canblock() < 0)) return -1;
    if(dill__slow(ncls < 0 || (ncls && !cls))) {errno = EINVAL; return -1;}
    /* The first clause that can be performed, or that is invalid, decides
       the result. */
    for(int i = 0; i != ncls; i++) {
        struct dill_chclause *c = &cls[i];
        if(dill__slow((c->op != DILL_CHSEND && c->op != DILL_CHRECV) ||
              (!c->val && c->len))) {
            errno = EINVAL;
            return i;
        }
        struct dill__half *hf = dill_hquery(c->ch, dill__chan_type);
        if(dill__slow(!hf)) return i;
        if(dill__slow(hf->ts)) return dill__choose_ts(cls, ncls, deadline);
        if(dill__chtry(hf, c->op, c->val, c->len)) return i;
    }
    struct dill__chop stackops[16];
    struct dill__chop *ops = stackops;
    if(ncls > 16) {
        ops = malloc(sizeof(struct dill__chop) * (size_t)ncls);
        if(dill__slow(!ops)) {errno = ENOMEM; return -1;}
    }
    for(int i = 0; i != ncls; i++) {
        struct dill__half *hf = dill_hquery(cls[i].ch, dill__chan_type);
        dill__chpark(hf, cls[i].op, &ops[i], cls[i].val, cls[i].len, i,
            NULL);
    }
    int id = dill__wait(deadline, 1);
    int err = errno;
    if(ops != stackops) free(ops);
    errno = err;
    return id;
}
