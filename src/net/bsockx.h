/* Internal extension of bytestream sockets: partial reads, and gathered
   writes.  Upper layers (WebSocket, TLS, HTTP) use it so that one receive
   call on the transport serves many small frames instead of one call per
   frame, and so that the small frames written during one coroutine turn
   leave together (one system call; over TLS also one record) instead of
   one write each.

   A layer embeds one struct dill__bsockx_vfs (a pointer to its operations,
   so the extension costs 8 bytes of the handle object) and answers
   dill_hquery(s, dill__bsockx_type) with it.  Implemented by the tcp/ipc
   stream (src/net/stream.c) and by TLS (src/proto/tls.c). */

#ifndef DILL_NET_BSOCKX_H
#define DILL_NET_BSOCKX_H

#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"

/* Type id for dill_hquery(s, dill__bsockx_type). */
extern const void *dill__bsockx_type;

/* Largest n a reserve may ask for; a TLS record's plaintext limit (RFC
   8446 5.1), so that what one reserve gathers fits one record. */
#define DILL__BSOCKX_GATHER_MAX 16384

struct dill__bsockx_vfs;

struct dill__bsockx_ops {
    /* Receives between 1 and len bytes into buf; returns the count, or -1
       with errno: EPIPE when the peer closed cleanly (no bytes),
       ECONNRESET, ETIMEDOUT, ECANCELED.  len 0 returns 0 at once. */
    ssize_t (*brecvsome)(struct dill__bsockx_vfs *x, void *buf, size_t len,
        int64_t deadline);
    /* Puts n received bytes back: the next receive delivers them first (an
       upper layer that read too far hands them back when it detaches).
       Errors: ENOBUFS (more than the layer can hold), ENOMEM.  NULL when
       the layer cannot (callers then fail with ENOTSUP). */
    int (*unread)(struct dill__bsockx_vfs *x, const void *p, size_t n);

    /* Gathered writes; all four are NULL when the layer has none.

       reserve returns room for n bytes (1 <= n <= DILL__BSOCKX_GATHER_MAX)
       at the end of the layer's write buffer.  If they do not fit, what is
       queued is written out first, waiting until the deadline; with
       deadline 0 it never waits: it starts a write of what is queued
       without blocking and fails with ETIMEDOUT if there is still no room
       (the socket stays usable).  Fill the room and call commit before
       anything can block or yield.  Returns NULL with errno: EPIPE (done),
       ECONNRESET (also for a failed earlier gathered write), ETIMEDOUT,
       ECANCELED, EBUSY (another coroutine is writing), ENOMEM, EBADF
       (the handle was closed while the call waited). */
    uint8_t *(*reserve)(struct dill__bsockx_vfs *x, size_t n,
        int64_t deadline);
    /* Queues the n bytes written at reserve's pointer.  They go out when
       the running coroutine's turn ends (dill__defer), or before any later
       plain send, half-close or close of the socket; a failure of that
       write is reported by the next send or reserve. */
    void (*commit)(struct dill__bsockx_vfs *x, size_t n);
    /* Writes out the gathered bytes now (for TLS: seals them into a record
       and writes it and what the layer below gathered).  Returns 0 or -1
       (errors as for reserve). */
    int (*flush)(struct dill__bsockx_vfs *x, int64_t deadline);
    /* Asks for d to be queued (dill__defer) once after a reserve with
       deadline 0 failed with ETIMEDOUT: when the buffer has room again or
       its write failed.  One request per socket (a new one replaces it);
       d NULL withdraws it.  For the layer above this one, whose own end
       of turn pushes its output into this buffer without blocking. */
    void (*onroom)(struct dill__bsockx_vfs *x, struct dill__defer *d);
    /* Waits until a receive can deliver without blocking (bytes buffered,
       the socket readable, its end or an error to report) or the
       deadline, holding no receive buffer meanwhile.  Returns 0, or -1
       with ETIMEDOUT, ECANCELED, EBADF (the handle was closed while the
       call waited).  An upper layer whose receiving call has found its
       connection idle for a while waits here, from a shallow frame, so
       that a hibernated coroutine's live stack is small.  NULL when the
       layer has none. */
    int (*waitin)(struct dill__bsockx_vfs *x, int64_t deadline);
};

struct dill__bsockx_vfs {
    const struct dill__bsockx_ops *ops;
};

/* Whether x (may be NULL) offers gathered writes. */
static inline int dill__bsockx_gathers(struct dill__bsockx_vfs *x) {
    return x && x->ops->reserve;
}

#endif
