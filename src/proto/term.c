/* TERM: a terminal handshake over a message socket (libdill 2.14's
   term_*): each side ends its messages with an agreed terminal message, so
   that both know where the other's stream of messages stopped. */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "net/iol.h"
#include "proto/layer.h"

#define DILL__TERM_MAX 32

struct dill__term {
    struct dill__layer l;
    struct dill__pin pin;            /* held by every call that may sleep */
    struct dill_msock_vfs mvfs;
    uint8_t msg[DILL__TERM_MAX];
    uint8_t len;
    uint8_t txdone;     /* our terminal message is out */
    uint8_t rxdone;     /* the peer's arrived */
};

_Static_assert(sizeof(struct dill__term) <= sizeof(struct dill_term_storage),
    "term object must fit term_storage");
DILL__PLAYER_CHECK(struct dill__term);

static const int dill__term_type_id = 0;
static const void *dill__term_type = &dill__term_type_id;

static void *dill__term_query(struct dill_hvfs *vfs, const void *type) {
    struct dill__term *self = (struct dill__term*)vfs;
    if(type == dill_msock_type) return &self->mvfs;
    if(type == dill__term_type) return self;
    errno = ENOTSUP;
    return NULL;
}

static int dill__term_msendl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__term *self = dill__cont(mvfs, struct dill__term, mvfs);
    if(self->txdone) {errno = EPIPE; return -1;}
    struct dill_msock_vfs *m = dill_hquery(self->l.u, dill_msock_type);
    if(!m) return -1;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = m->msendl(m, first, last, deadline);
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return rc;
}

/* Whether the first n bytes held by the list are the terminal message;
   bytes received into NULL items are unknown, hence not. */
static int dill__term_is(const struct dill__term *self,
    const struct dill_iolist *it, size_t n) {
    if(n != self->len) return 0;
    size_t off = 0;
    for(; it && off < n; it = it->iol_next) {
        size_t k = n - off < it->iol_len ? n - off : it->iol_len;
        if(k && (!it->iol_base || memcmp(it->iol_base, self->msg + off, k)))
            return 0;
        off += k;
    }
    return 1;
}

/* The list is extended for the call so that a terminal message fits even
   when the caller's buffer is smaller: in its tail, or in scratch when the
   caller drops the message. */
static ssize_t dill__term_mrecvl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__term *self = dill__cont(mvfs, struct dill__term, mvfs);
    if(self->rxdone) {errno = EPIPE; return -1;}
    struct dill_msock_vfs *m = dill_hquery(self->l.u, dill_msock_type);
    if(!m) return -1;
    uint8_t scratch[DILL__TERM_MAX];
    struct dill_iolist drop = {NULL, SIZE_MAX - DILL__TERM_MAX, NULL, 0};
    struct dill_iolist tail = {scratch, 0, NULL, 0};
    size_t cap = first ? dill__iol_size(first) : 0;
    struct dill_iolist *f = first, *l = last;
    if(!first) {
        tail.iol_len = self->len;
        tail.iol_next = &drop;
        f = &tail;
        l = &drop;
        cap = SIZE_MAX;
    }
    else if(cap < self->len) {
        tail.iol_len = self->len - cap;
        last->iol_next = &tail;
        l = &tail;
    }
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    ssize_t r = m->mrecvl(m, f, l, deadline);
    if(first) last->iol_next = NULL;
    if(dill__unpin(&self->pin, &pr) < 0 || r < 0) return -1;
    if(dill__term_is(self, f, (size_t)r)) {
        self->rxdone = 1;
        errno = EPIPE;
        return -1;
    }
    if((size_t)r > cap) {errno = EMSGSIZE; return -1;}
    return r;
}

static int dill__term_attach(int s, const void *buf, size_t len,
    struct dill_term_storage *mem, int usemem) {
    if((!buf && len) || len > DILL__TERM_MAX || (usemem && !mem))
        return dill__layer_fail(s, EINVAL);
    struct dill__term *self = dill__layer_new(s, dill_msock_type, mem,
        sizeof(struct dill__term));
    if(!self) return -1;
    self->l.hvfs.query = dill__term_query;
    self->l.hvfs.close = dill__player_close;
    self->mvfs.msendl = dill__term_msendl;
    self->mvfs.mrecvl = dill__term_mrecvl;
    dill__pin_init(&self->pin);
    if(len) memcpy(self->msg, buf, len);
    self->len = (uint8_t)len;
    return dill__layer_make(&self->l, s);
}

int dill_term_attach(int s, const void *buf, size_t len) {
    return dill__term_attach(s, buf, len, NULL, 0);
}

int dill_term_attach_mem(int s, const void *buf, size_t len,
    struct dill_term_storage *mem) {
    return dill__term_attach(s, buf, len, mem, 1);
}

/* Sends our terminal message (the object pinned by the caller or here). */
static int dill__term_done(struct dill__term *self, int64_t deadline) {
    if(self->txdone) {errno = EPIPE; return -1;}
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = dill_msend(self->l.u, self->msg, self->len, deadline);
    if(dill__unpin(&self->pin, &pr) < 0 || rc < 0) return -1;
    self->txdone = 1;
    return 0;
}

int dill_term_done(int s, int64_t deadline) {
    struct dill__term *self = dill_hquery(s, dill__term_type);
    if(!self) return -1;
    return dill__term_done(self, deadline);
}

int dill_term_detach(int s, int64_t deadline) {
    struct dill__term *self = dill_hquery(s, dill__term_type);
    if(!self) return -1;
    /* The layer below cannot be handed back under a call still in it. */
    if(self->pin.holders) {errno = EBUSY; return -1;}
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = self->txdone ? 0 : dill__term_done(self, deadline);
    while(rc == 0 && !self->rxdone)
        if(dill__term_mrecvl(&self->mvfs, NULL, NULL, deadline) < 0 &&
           !self->rxdone) rc = -1;
    int err = errno;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    if(rc == 0) return dill__layer_detach(s, dill__term_type, 0);
    dill_hclose(s);
    errno = err == EPIPE ? ECONNRESET : err;
    return -1;
}
