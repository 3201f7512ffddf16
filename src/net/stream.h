/* A connected stream socket object shared by TCP and IPC connections: the
   handle, bytestream and partial-read interfaces over one fd. */

#ifndef DILL_NET_STREAM_H
#define DILL_NET_STREAM_H

#include "libdillimpl.h"
#include "net/bsockx.h"
#include "net/fd.h"

/* Gathered writes: small writes made during one coroutine turn are copied
   here and go out in one system call when the turn ends (dill__defer), or
   earlier when the buffer fills or a plain send or close needs ordering. */
#define DILL__TXBUF_SIZE 16384
struct dill__fdtx;

struct dill__stream {
    struct dill_hvfs hvfs;
    struct dill_bsock_vfs bvfs;
    struct dill__bsockx_vfs xvfs;
    struct dill__fdrx io;
    struct dill__fdtx *tx;         /* gathered writes, or NULL */
    int fd;
    /* Descriptor received with the last buffered byte (IPC only), or -1. */
    int pendfd;
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
   ipc connections), for the gathered-write calls below. */
extern const void *dill__stream_type;
/* Returns room for n bytes (n <= DILL__TXBUF_SIZE) at the end of the
   gathered-write buffer, first writing out what is queued (blocking until
   the deadline) if it does not fit.  Fill it and call dill__stream_commit
   before anything can block.  Returns NULL with errno: EPIPE (done),
   ECONNRESET (also for a failed earlier gathered write), ETIMEDOUT,
   ECANCELED, EBUSY (another coroutine is writing), ENOMEM. */
uint8_t *dill__stream_reserve(struct dill__stream *self, size_t n,
    int64_t deadline);
/* Queues the n bytes written at dill__stream_reserve's pointer: they go
   out when the running coroutine's turn ends, or before any later plain
   send, half-close or close of the socket. */
void dill__stream_commit(struct dill__stream *self, size_t n);
/* Writes out the gathered bytes now.  Returns 0 or -1 (as above). */
int dill__stream_flush(struct dill__stream *self, int64_t deadline);
/* Puts n received bytes back: the next receive delivers them first (an
   upper layer that read too far hands them back when it detaches).
   Errors: ENOBUFS (more than DILL__RXBUF_SIZE in all), ENOMEM. */
int dill__stream_unread(struct dill__stream *self, const void *p, size_t n);
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
