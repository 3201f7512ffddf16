/* Internal extension of bytestream sockets: partial reads.  Upper layers
   (WebSocket, TLS, HTTP) use it so that one receive call on the transport
   serves many small frames instead of one call per frame. */

#ifndef DILL_NET_BSOCKX_H
#define DILL_NET_BSOCKX_H

#include <stdint.h>
#include <sys/types.h>

/* Type id for dill_hquery(s, dill__bsockx_type). */
extern const void *dill__bsockx_type;

struct dill__bsockx_vfs {
    /* Receives between 1 and len bytes into buf; returns the count, or -1
       with errno: EPIPE when the peer closed cleanly (no bytes),
       ECONNRESET, ETIMEDOUT, ECANCELED.  len 0 returns 0 at once. */
    ssize_t (*brecvsome)(struct dill__bsockx_vfs *vfs, void *buf, size_t len,
        int64_t deadline);
};

#endif
