/* Shared machinery for non-blocking stream socket fds: buffered receive,
   gathered send, waiting through the scheduler, errno mapping. */

#ifndef DILL_NET_FD_H
#define DILL_NET_FD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libdill.h"

/* Size of the per-socket receive buffer.  Reads of at least this many
   bytes bypass it and land straight in the caller's memory. */
#define DILL__RXBUF_SIZE 8192

/* Receive buffer of one socket.  buf is allocated on first need and freed
   whenever it is empty and the socket is about to wait (idle sockets hold
   no buffer).  Bytes pos..pos+len of buf are buffered, not yet delivered;
   pos, and the descriptor that came with the last buffered byte (AF_UNIX),
   live in the block behind the buf's DILL__RXBUF_SIZE bytes (struct
   dill__fdrxtail in fd.c), which exists whenever len is not 0: that keeps
   this structure, with its owner's fd and flags, in 16 bytes, so that the
   stream object has room for its pin within libdill's 72-byte tcp_storage.
   drained is set when the last read found the kernel queue empty (it
   returned less than it could take): the next read then waits for
   readiness first instead of trying and failing with EAGAIN, which saves
   a system call per message in request/response traffic. */
struct dill__fdrx {
    uint8_t *buf;
    int fd;                   /* the owner's socket (here for the padding) */
    uint16_t len;
    uint8_t drained : 1;
    /* State of the socket object that owns this buffer. */
    uint8_t indone : 1;       /* peer closed: brecv fails with EPIPE */
    uint8_t inerr : 1;        /* receive side broken: ECONNRESET */
    uint8_t outdone : 1;      /* we half-closed: bsend fails with EPIPE */
    uint8_t outerr : 1;       /* send side broken: ECONNRESET */
    uint8_t reset : 1;        /* the connection itself failed */
    uint8_t ipc : 1;          /* AF_UNIX: descriptors may arrive */
    uint8_t mem : 1;          /* caller's storage: do not free */
};
_Static_assert(sizeof(struct dill__fdrx) <= 16, "fdrx must stay in 16 bytes");

/* Makes fd non-blocking and close-on-exec.  Returns 0 or -1 (errno). */
int dill__fd_unblock(int fd);

/* Forgets fd in the scheduler and closes it, keeping errno. */
void dill__fd_close(int fd);

/* Puts n bytes back in front of the buffered ones, so that the next
   receive delivers them first.  Errors: ENOBUFS (more than the buffer
   holds), ENOMEM. */
int dill__fd_unread(struct dill__fdrx *rx, const void *p, size_t n);

/* Frees the buffer (buffered bytes are dropped, and a descriptor that
   came with them is closed). */
void dill__fd_rxfree(struct dill__fdrx *rx);

/* Sends the whole valid list first..last with as few sendmsg calls as
   possible (MSG_NOSIGNAL).  *sent (must be 0 on entry) gets the number of
   bytes handed to the kernel, also on failure.  Errors: ECONNRESET (peer
   reset or gone), ETIMEDOUT, ECANCELED, EBUSY (another coroutine sends). */
int dill__fd_sendl(int fd, struct dill_iolist *first, int64_t deadline,
    size_t *sent);

/* Fills the whole valid list first..last from rx and fd.  When rx->ipc is
   set the socket may carry file descriptors (AF_UNIX): see
   dill__fd_recvfd.  *got (must be 0 on entry) gets the number of bytes
   taken from the stream, also on failure.  Errors: EPIPE (peer closed),
   ECONNRESET, ETIMEDOUT, ECANCELED, EBUSY, ENOMEM. */
int dill__fd_recvl(int fd, struct dill__fdrx *rx,
    struct dill_iolist *first, int64_t deadline, size_t *got);

/* Receives between 1 and len bytes; returns the count or -1 (errors as for
   dill__fd_recvl). */
ssize_t dill__fd_recvsome(int fd, struct dill__fdrx *rx,
    void *buf, size_t len, int64_t deadline);

/* Sends one marker byte carrying file descriptor sfd (SCM_RIGHTS).
   Errors as for dill__fd_sendl. */
int dill__fd_sendfd(int fd, int sfd, int64_t deadline);

/* Receives the marker byte sent by dill__fd_sendfd and returns the
   descriptor (close-on-exec).  A descriptor arrives together with the last
   byte of one read; it is kept with rx's buffer while that byte sits there
   and is closed if the byte is consumed as ordinary data.  Errors: EPROTO (the
   next byte carries no descriptor; nothing is consumed), plus those of
   dill__fd_recvl. */
int dill__fd_recvfd(int fd, struct dill__fdrx *rx, int64_t deadline);

/* Reads and discards everything until the peer closes (returns 0) or an
   error: ECONNRESET, ETIMEDOUT, ECANCELED. */
int dill__fd_drain(int fd, struct dill__fdrx *rx, int64_t deadline);

/* Checks that fd is a stream socket of one of the two address families,
   listening or not as asked, and makes it non-blocking (EINVAL if not). */
int dill__fd_checksock(int fd, int family1, int family2, int listening);

#endif
