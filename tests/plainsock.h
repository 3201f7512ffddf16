/* A bytestream socket that forwards to an inner one through the public
   bsock interface only: it has no partial-read interface, so layers above
   it must fall back to exact reads.  Shared by the protocol tests. */

#ifndef DILL_TESTS_PLAINSOCK_H
#define DILL_TESTS_PLAINSOCK_H

#include <stddef.h>
#include <stdlib.h>

#include "assert.h"
#include "libdillimpl.h"

struct plain {
    struct hvfs hvfs;
    struct bsock_vfs bvfs;
    int inner;
    int failsend;    /* fail the next send with ETIMEDOUT, sending nothing */
};

/* The most recently wrapped socket, for tests that set failsend. */
__attribute__((unused)) static struct plain *last_plain;

static void *plain_query(struct hvfs *vfs, const void *type) {
    struct plain *self = (struct plain*)vfs;
    if(type == bsock_type) return &self->bvfs;
    errno = ENOTSUP;
    return NULL;
}

static void plain_close(struct hvfs *vfs) {
    struct plain *self = (struct plain*)vfs;
    hclose(self->inner);
    free(self);
}

static int plain_bsendl(struct bsock_vfs *vfs, struct iolist *first,
      struct iolist *last, int64_t deadline) {
    struct plain *self = (struct plain*)((char*)vfs -
        offsetof(struct plain, bvfs));
    if(self->failsend) {
        self->failsend = 0;
        errno = ETIMEDOUT;
        return -1;
    }
    return bsendl(self->inner, first, last, deadline);
}

static int plain_brecvl(struct bsock_vfs *vfs, struct iolist *first,
      struct iolist *last, int64_t deadline) {
    struct plain *self = (struct plain*)((char*)vfs -
        offsetof(struct plain, bvfs));
    return brecvl(self->inner, first, last, deadline);
}

/* Wraps the bytestream inner; the wrapper owns it. */
static int plain_wrap(int inner) {
    struct plain *self = malloc(sizeof(*self));
    assert(self);
    self->hvfs.query = plain_query;
    self->hvfs.close = plain_close;
    self->bvfs.bsendl = plain_bsendl;
    self->bvfs.brecvl = plain_brecvl;
    self->inner = inner;
    self->failsend = 0;
    last_plain = self;
    int h = hmake(&self->hvfs);
    errno_assert(h >= 0);
    return h;
}

#endif
