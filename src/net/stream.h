/* A connected stream socket object shared by TCP and IPC connections: the
   handle, bytestream and partial-read interfaces over one fd. */

#ifndef DILL_NET_STREAM_H
#define DILL_NET_STREAM_H

#include "libdillimpl.h"
#include "core/core.h"
#include "net/bsockx.h"
#include "net/fd.h"

/* Gathered writes (dill__bsockx_ops.reserve/commit): small writes made
   during one coroutine turn are copied here and go out in one system call
   when the turn ends (dill__defer), or earlier when the buffer fills or a
   plain send or close needs ordering. */
#define DILL__TXBUF_SIZE 16384
_Static_assert(DILL__TXBUF_SIZE >= DILL__BSOCKX_GATHER_MAX,
    "a reserve of DILL__BSOCKX_GATHER_MAX bytes must fit");
struct dill__fdtx;

struct dill__stream {
    struct dill_hvfs hvfs;
    struct dill_bsock_vfs bvfs;
    struct dill__bsockx_vfs xvfs;
    struct dill__fdrx io;          /* io.fd is the socket */
    struct dill__fdtx *tx;         /* gathered writes, or NULL */
    /* Calls that may sleep hold it (core.h), so that a close from another
       coroutine leaves the object to them until they return EBADF. */
    struct dill__pin pin;
};

/* Wraps connected non-blocking fd into a new handle whose hvfs uses the
   given query function (which should fall back to dill__stream_query).
   mem is the caller's storage or NULL to allocate.  On failure the fd is
   left open and -1 returned (ENOMEM, ECANCELED...). */
int dill__stream_make(int fd, int ipc, void *mem,
    void *(*query)(struct dill_hvfs *vfs, const void *type));

/* Answers dill_bsock_type and dill__bsockx_type; ENOTSUP otherwise. */
void *dill__stream_query(struct dill_hvfs *vfs, const void *type);

/* Type id: dill_hquery answers the struct dill__stream itself (tcp and
   ipc connections). */
extern const void *dill__stream_type;
/* Writes out the gathered bytes now.  Returns 0 or -1 with errno: EPIPE
   (done), ECONNRESET (also for a failed earlier gathered write),
   ETIMEDOUT, ECANCELED, EBUSY (another coroutine is writing), EBADF
   (closed meanwhile). */
int dill__stream_flush(struct dill__stream *self, int64_t deadline);
/* Half-close: writes out gathered bytes, then shutdown(SHUT_WR); later
   sends fail with EPIPE.  Errors: EPIPE (already done), ECONNRESET,
   ETIMEDOUT, ECANCELED. */
int dill__stream_done(struct dill__stream *self, int64_t deadline);

/* Graceful close of handle h whose object is self: half-close, discard
   incoming data until the peer closes or the deadline, then close the
   handle (always).  Errors: ECONNRESET, ETIMEDOUT, ECANCELED. */
int dill__stream_close(int h, struct dill__stream *self, int64_t deadline);

/* tcp_close / ipc_close: graceful close of a connection of the given type,
   or plain hclose of a listener of listener_type. */
int dill__stream_close_any(int s, const void *type, const void *listener_type,
    int64_t deadline);

#endif
