/* A listening socket object shared by TCP and IPC listeners. */

#ifndef DILL_NET_LISTENER_H
#define DILL_NET_LISTENER_H

#include "libdillimpl.h"

struct dill__listener {
    struct dill_hvfs hvfs;
    int fd;
    unsigned int mem : 1;  /* caller's storage: do not free */
};

/* Wraps listening non-blocking fd into a new handle.  query answers the
   listener's type id with the object (see dill__listener_query).  On
   failure the fd is left open and -1 returned. */
int dill__listener_make(int fd, void *mem,
    void *(*query)(struct dill_hvfs *vfs, const void *type));

/* Returns the object if type equals mytype, else NULL with ENOTSUP. */
void *dill__listener_query(struct dill_hvfs *vfs, const void *type,
    const void *mytype);

/* Accepts one connection: a non-blocking close-on-exec fd, or -1 with
   EMFILE, ENFILE, ENOMEM, ETIMEDOUT, ECANCELED...  The peer's address is
   stored in sa/salen (may be NULL). */
int dill__listener_accept(struct dill__listener *self, struct sockaddr *sa,
    socklen_t *salen, int64_t deadline);

#endif
