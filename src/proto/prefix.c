/* PREFIX: messages preceded by their size in a fixed number of bytes, over
   a bytestream socket (libdill 2.14's prefix_*). */

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "net/bsockx.h"
#include "net/iol.h"
#include "proto/layer.h"
#include "proto/prefix.h"

struct dill__prefix {
    struct dill__layer l;
    struct dill__pin pin;            /* held by every call that may sleep */
    struct dill_msock_vfs mvfs;
    /* The size field being received: a receive that times out midway keeps
       what it got, so that the next one resumes.  Packed so that the pin
       fits libdill's 56-byte prefix_storage: a field of hdrlen bytes is
       kept only while incomplete, so 7 bytes hold it. */
    uint8_t part[7];
    uint8_t hdrgot : 3;
    uint8_t hdrlen1 : 3;           /* the field's size - 1 */
    uint8_t little : 1;
};

_Static_assert(sizeof(struct dill__prefix) <= sizeof(struct dill_prefix_storage),
    "prefix object must fit prefix_storage");
DILL__PLAYER_CHECK(struct dill__prefix);

static const int dill__prefix_type_id = 0;
static const void *dill__prefix_type = &dill__prefix_type_id;

/******************************************************************************/
/*  The size field (pure)                                                     */
/******************************************************************************/

int dill__prefix_encode(uint8_t *hdr, size_t hdrlen, int little,
    uint64_t size) {
    if(hdrlen < 8 && (size >> (8 * hdrlen)) != 0) return -EMSGSIZE;
    for(size_t i = 0; i != hdrlen; i++) {
        hdr[little ? i : hdrlen - 1 - i] = (uint8_t)size;
        size >>= 8;
    }
    return 0;
}

uint64_t dill__prefix_decode(const uint8_t *hdr, size_t hdrlen, int little) {
    uint64_t size = 0;
    for(size_t i = 0; i != hdrlen; i++)
        size = (size << 8) | hdr[little ? hdrlen - 1 - i : i];
    return size;
}

/******************************************************************************/
/*  The socket                                                                */
/******************************************************************************/

static void *dill__prefix_query(struct dill_hvfs *vfs, const void *type) {
    struct dill__prefix *self = (struct dill__prefix*)vfs;
    if(type == dill_msock_type) return &self->mvfs;
    if(type == dill__prefix_type) return self;
    errno = ENOTSUP;
    return NULL;
}

static int dill__prefix_msendl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__prefix *self = dill__cont(mvfs, struct dill__prefix, mvfs);
    if(self->l.outerr) {errno = ECONNRESET; return -1;}
    uint8_t hdr[8];
    size_t hdrlen = self->hdrlen1 + 1u;
    int rc = dill__prefix_encode(hdr, hdrlen, self->little,
        dill__iol_size(first));
    if(rc < 0) {errno = -rc; return -1;}
    struct dill_bsock_vfs *b = dill_hquery(self->l.u, dill_bsock_type);
    if(!b) return -1;
    struct dill_iolist h = {hdr, hdrlen, first, 0};
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    rc = b->bsendl(b, &h, first ? last : &h, deadline);
    /* Part of the message may be out: the stream cannot be trusted. */
    if(rc < 0) self->l.outerr = 1;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return rc;
}

/* Receives the rest of the size field into hdr (the caller has pinned
   the object).  With partial reads below, a timeout or cancellation
   leaves the socket usable: the bytes taken so far are kept. */
static int dill__prefix_recvhdr(struct dill__prefix *self, uint8_t *hdr,
      int64_t deadline) {
    struct dill__bsockx_vfs *x = dill_hquery(self->l.u, dill__bsockx_type);
    size_t hdrlen = self->hdrlen1 + 1u, got = self->hdrgot;
    memcpy(hdr, self->part, got);
    while(got < hdrlen) {
        size_t want = hdrlen - got;
        ssize_t n;
        if(x) n = x->ops->brecvsome(x, hdr + got, want, deadline);
        else n = dill_brecv(self->l.u, hdr + got, want, deadline) < 0 ?
            -1 : (ssize_t)want;
        if(n >= 0) {
            got += (size_t)n;
            if(got < hdrlen) {
                memcpy(self->part, hdr, got);
                self->hdrgot = (uint8_t)got;
            }
            continue;
        }
        if(errno == EPIPE && got == 0) return -1;
        if(x && (errno == ETIMEDOUT || errno == ECANCELED)) return -1;
        self->l.inerr = 1;
        if(errno == EPIPE) errno = ECONNRESET;
        return -1;
    }
    self->hdrgot = 0;
    return 0;
}

/* Receives size bytes into the list, cut short for the call and restored
   afterwards; NULL first drops them. */
static int dill__prefix_recvbody(struct dill__prefix *self,
    struct dill_iolist *first, uint64_t size, int64_t deadline) {
    if(size == 0) return 0;
    if(!first) return dill_brecv(self->l.u, NULL, size, deadline);
    struct dill_bsock_vfs *b = dill_hquery(self->l.u, dill_bsock_type);
    if(!b) return -1;
    struct dill_iolist *it = first;
    uint64_t before = 0;
    while(before + it->iol_len < size) {before += it->iol_len; it = it->iol_next;}
    size_t len = it->iol_len;
    struct dill_iolist *next = it->iol_next;
    it->iol_len = (size_t)(size - before);
    it->iol_next = NULL;
    int rc = b->brecvl(b, first, it, deadline);
    it->iol_len = len;
    it->iol_next = next;
    return rc;
}

static ssize_t dill__prefix_recv(struct dill__prefix *self,
    struct dill_iolist *first, int64_t deadline) {
    uint8_t hdr[8];
    if(dill__prefix_recvhdr(self, hdr, deadline) < 0) return -1;
    uint64_t size = dill__prefix_decode(hdr, self->hdrlen1 + 1u,
        self->little);
    if(size > SSIZE_MAX || (first && size > dill__iol_size(first))) {
        /* The message stays in the stream: nothing after it can be read. */
        self->l.inerr = 1;
        errno = EMSGSIZE;
        return -1;
    }
    if(dill__prefix_recvbody(self, first, size, deadline) < 0) {
        self->l.inerr = 1;
        if(errno == EPIPE) errno = ECONNRESET;
        return -1;
    }
    return (ssize_t)size;
}

static ssize_t dill__prefix_mrecvl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__prefix *self = dill__cont(mvfs, struct dill__prefix, mvfs);
    if(self->l.inerr) {errno = ECONNRESET; return -1;}
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    ssize_t r = dill__prefix_recv(self, first, deadline);
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return r;
}

static int dill__prefix_attach(int s, size_t hdrlen, int flags,
    struct dill_prefix_storage *mem) {
    if(hdrlen < 1 || hdrlen > 8 ||
       (flags != DILL_PREFIX_BIG_ENDIAN && flags != DILL_PREFIX_LITTLE_ENDIAN))
        return dill__layer_fail(s, EINVAL);
    struct dill__prefix *self = dill__layer_new(s, dill_bsock_type, mem,
        sizeof(struct dill__prefix));
    if(!self) return -1;
    self->l.hvfs.query = dill__prefix_query;
    self->l.hvfs.close = dill__player_close;
    self->mvfs.msendl = dill__prefix_msendl;
    self->mvfs.mrecvl = dill__prefix_mrecvl;
    dill__pin_init(&self->pin);
    self->hdrlen1 = (uint8_t)(hdrlen - 1);
    self->little = flags == DILL_PREFIX_LITTLE_ENDIAN;
    return dill__layer_make(&self->l, s);
}

int dill_prefix_attach(int s, size_t hdrlen, int flags) {
    return dill__prefix_attach(s, hdrlen, flags, NULL);
}

int dill_prefix_attach_mem(int s, size_t hdrlen, int flags,
    struct dill_prefix_storage *mem) {
    if(!mem) return dill__layer_fail(s, EINVAL);
    return dill__prefix_attach(s, hdrlen, flags, mem);
}

int dill_prefix_detach(int s) {
    struct dill__prefix *self = dill_hquery(s, dill__prefix_type);
    if(!self) return -1;
    /* The layer below cannot be handed back under a call still in it. */
    if(self->pin.holders) {errno = EBUSY; return -1;}
    return dill__layer_detach(s, dill__prefix_type,
        self->hdrgot ? ECONNRESET : 0);
}
