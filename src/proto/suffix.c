/* SUFFIX: messages ended by a delimiter, over a bytestream socket
   (libdill 2.14's suffix_*). */

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "net/bsockx.h"
#include "net/iol.h"
#include "proto/layer.h"
#include "proto/suffix.h"

struct dill__suffix {
    struct dill__layer l;
    struct dill__pin pin;            /* held by every call that may sleep */
    struct dill_msock_vfs mvfs;
    uint8_t sfx[DILL__SUFFIX_MAX];
    uint8_t fail[DILL__SUFFIX_MAX];
    uint8_t len;
    uint8_t receiving;
};

_Static_assert(sizeof(struct dill__suffix) <= sizeof(struct dill_suffix_storage),
    "suffix object must fit suffix_storage");
DILL__PLAYER_CHECK(struct dill__suffix);

static const int dill__suffix_type_id = 0;
static const void *dill__suffix_type = &dill__suffix_type_id;

/******************************************************************************/
/*  The matcher (pure)                                                        */
/******************************************************************************/

void dill__suffix_table(const uint8_t *sfx, size_t len, uint8_t *fail) {
    size_t b = 0;
    fail[0] = 0;
    for(size_t i = 1; i < len; i++) {
        while(b && sfx[i] != sfx[b]) b = fail[b - 1];
        if(sfx[i] == sfx[b]) b++;
        fail[i] = (uint8_t)b;
    }
}

size_t dill__suffix_step(const uint8_t *sfx, const uint8_t *fail, size_t *k,
    uint8_t c) {
    size_t old = *k, n = old;
    while(n && sfx[n] != c) n = fail[n - 1];
    if(sfx[n] == c) n++;
    *k = n;
    return old + 1 - n;
}

/******************************************************************************/
/*  The socket                                                                */
/******************************************************************************/

static void *dill__suffix_query(struct dill_hvfs *vfs, const void *type) {
    struct dill__suffix *self = (struct dill__suffix*)vfs;
    if(type == dill_msock_type) return &self->mvfs;
    if(type == dill__suffix_type) return self;
    errno = ENOTSUP;
    return NULL;
}

static int dill__suffix_msendl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__suffix *self = dill__cont(mvfs, struct dill__suffix, mvfs);
    if(self->l.outerr) {errno = ECONNRESET; return -1;}
    struct dill_bsock_vfs *b = dill_hquery(self->l.u, dill_bsock_type);
    if(!b) return -1;
    struct dill_iolist tail = {self->sfx, self->len, NULL, 0};
    if(first) last->iol_next = &tail;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = b->bsendl(b, first ? first : &tail, &tail, deadline);
    if(first) last->iol_next = NULL;
    if(rc < 0) self->l.outerr = 1;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return rc;
}

/* Reads up to len bytes: fewer when the layer below offers partial reads. */
static ssize_t dill__suffix_read(int u, struct dill__bsockx_vfs *x, void *buf,
    size_t len, int64_t deadline) {
    if(x) return x->ops->brecvsome(x, buf, len, deadline);
    return dill_brecv(u, buf, len, deadline) < 0 ? -1 : (ssize_t)len;
}

/* Never reads past the delimiter: with k bytes of it matched, the message
   ends len - k bytes from here at the earliest.  So the socket below can
   be handed back with the bytes that follow intact. */
static ssize_t dill__suffix_recv(struct dill__suffix *self,
    struct dill_iolist *first, int64_t deadline) {
    struct dill__bsockx_vfs *x = dill_hquery(self->l.u, dill__bsockx_type);
    struct dill__iolcur cur = {first, 0};
    size_t cap = first ? dill__iol_size(first) : SIZE_MAX, got = 0, k = 0;
    uint8_t buf[DILL__SUFFIX_MAX];
    while(1) {
        ssize_t n = dill__suffix_read(self->l.u, x, buf, self->len - k,
            deadline);
        if(n < 0) {
            /* Nothing of the next message taken: the socket stays usable. */
            if(!got && !k && (errno == EPIPE ||
               (x && (errno == ETIMEDOUT || errno == ECANCELED)))) return -1;
            goto broken;
        }
        for(ssize_t i = 0; i != n; i++) {
            size_t k0 = k;
            size_t e = dill__suffix_step(self->sfx, self->fail, &k, buf[i]);
            if(e > cap - got) {errno = EMSGSIZE; goto broken;}
            if(first) {
                dill__iol_copyin(&cur, self->sfx, e < k0 ? e : k0);
                if(e > k0) dill__iol_copyin(&cur, &buf[i], 1);
            }
            got += e;
        }
        if(k == self->len) return got > SSIZE_MAX ? SSIZE_MAX : (ssize_t)got;
        /* A peer that never sends the delimiter must not hold us past the
           deadline nor starve other coroutines. */
        if(dill__pin_busy(&self->pin, deadline) < 0) goto broken;
    }
broken:
    self->l.inerr = 1;
    if(errno == EPIPE) errno = ECONNRESET;
    return -1;
}

static ssize_t dill__suffix_mrecvl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__suffix *self = dill__cont(mvfs, struct dill__suffix, mvfs);
    if(self->l.inerr) {errno = ECONNRESET; return -1;}
    if(self->receiving) {errno = EBUSY; return -1;}
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    self->receiving = 1;
    ssize_t r = dill__suffix_recv(self, first, deadline);
    self->receiving = 0;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return r;
}

static int dill__suffix_attach(int s, const void *suffix, size_t suffixlen,
    struct dill_suffix_storage *mem, int usemem) {
    if(!suffix || suffixlen < 1 || suffixlen > DILL__SUFFIX_MAX ||
       (usemem && !mem))
        return dill__layer_fail(s, EINVAL);
    struct dill__suffix *self = dill__layer_new(s, dill_bsock_type, mem,
        sizeof(struct dill__suffix));
    if(!self) return -1;
    self->l.hvfs.query = dill__suffix_query;
    self->l.hvfs.close = dill__player_close;
    self->mvfs.msendl = dill__suffix_msendl;
    self->mvfs.mrecvl = dill__suffix_mrecvl;
    dill__pin_init(&self->pin);
    memcpy(self->sfx, suffix, suffixlen);
    self->len = (uint8_t)suffixlen;
    dill__suffix_table(self->sfx, suffixlen, self->fail);
    return dill__layer_make(&self->l, s);
}

int dill_suffix_attach(int s, const void *suffix, size_t suffixlen) {
    return dill__suffix_attach(s, suffix, suffixlen, NULL, 0);
}

int dill_suffix_attach_mem(int s, const void *suffix, size_t suffixlen,
    struct dill_suffix_storage *mem) {
    return dill__suffix_attach(s, suffix, suffixlen, mem, 1);
}

/* Nothing is buffered on either side, so there is nothing to wait for.
   A call still inside would be woken in the socket below, which is no
   longer ours to close under it: refused. */
int dill_suffix_detach(int s, int64_t deadline) {
    struct dill__suffix *self = (struct dill__suffix*)dill__layer_get(s,
        dill__suffix_type);
    if(self && self->pin.holders) {errno = EBUSY; return -1;}
    return dill__layer_detach(s, dill__suffix_type, 0);
}
