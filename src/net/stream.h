/* A connected stream socket object shared by TCP and IPC connections: the
   handle, bytestream and partial-read interfaces over one fd. */

#ifndef DILL_NET_STREAM_H
#define DILL_NET_STREAM_H

#include "libdillimpl.h"
#include "net/bsockx.h"
#include "net/fd.h"

struct dill__stream {
    struct dill_hvfs hvfs;
    struct dill_bsock_vfs bvfs;
    struct dill__bsockx_vfs xvfs;
    struct dill__fdrx rx;
    int fd;
    /* Descriptor received with the last buffered byte (IPC only), or -1. */
    int pendfd;
    unsigned int indone : 1;  /* peer closed: brecv fails with EPIPE */
    unsigned int inerr : 1;   /* receive side broken: ECONNRESET */
    unsigned int outdone : 1; /* we half-closed: bsend fails with EPIPE */
    unsigned int outerr : 1;  /* send side broken: ECONNRESET */
    unsigned int reset : 1;   /* the connection itself failed */
    unsigned int ipc : 1;     /* AF_UNIX: descriptors may arrive */
    unsigned int mem : 1;     /* caller's storage: do not free */
};

/* Wraps connected non-blocking fd into a new handle whose hvfs uses the
   given query function (which should fall back to dill__stream_query).
   mem is the caller's storage or NULL to allocate.  On failure the fd is
   left open and -1 returned (ENOMEM, ECANCELED...). */
int dill__stream_make(int fd, int ipc, void *mem,
    void *(*query)(struct dill_hvfs *vfs, const void *type));

/* Answers dill_bsock_type and dill__bsockx_type; ENOTSUP otherwise. */
void *dill__stream_query(struct dill_hvfs *vfs, const void *type);

/* Half-close: shutdown(SHUT_WR); later sends fail with EPIPE.  Errors:
   EPIPE (already done), ECONNRESET. */
int dill__stream_done(struct dill__stream *self);

/* Graceful close of handle h whose object is self: half-close, discard
   incoming data until the peer closes or the deadline, then close the
   handle (always).  Errors: ECONNRESET, ETIMEDOUT, ECANCELED. */
int dill__stream_close(int h, struct dill__stream *self, int64_t deadline);

/* tcp_close / ipc_close: graceful close of a connection of the given type,
   or plain hclose of a listener of listener_type. */
int dill__stream_close_any(int s, const void *type, const void *listener_type,
    int64_t deadline);

#endif
