/* Protocols stacked on one socket below them (prefix, suffix, term): the
   common part of attaching, detaching and closing. */

#ifndef DILL_PROTO_LAYER_H
#define DILL_PROTO_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "libdillimpl.h"

/* The first member of every such object. */
struct dill__layer {
    struct dill_hvfs hvfs;
    int u;              /* the socket below; -1 once detached */
    uint8_t mem;        /* caller's storage: not freed */
    uint8_t inerr;      /* receive side broken: ECONNRESET */
    uint8_t outerr;     /* send side broken: ECONNRESET */
};

/* Returns zeroed memory of size bytes for a layer over s (mem, or
   allocated when mem is NULL), after checking that s offers interface
   below.  Returns NULL with s closed (unless it was not a handle) and errno:
   EBADF, EPROTO (s lacks interface below), ENOMEM. */
void *dill__layer_new(int s, const void *below, void *mem, size_t size);

/* Fails an attach before anything is set up: closes s (if it is a handle)
   and returns -1 with errno err. */
int dill__layer_fail(int s, int err);

/* Takes s over for the object l from dill__layer_new, whose hvfs.query is
   set (hvfs.close too, or it is set to dill__layer_close here), and
   returns its new handle.  On failure s
   is closed and l freed; errno: ECANCELED, ENOMEM. */
int dill__layer_make(struct dill__layer *l, int s);

/* Closes the object and the socket below; the usual hvfs.close. */
void dill__layer_close(struct dill_hvfs *hvfs);
/* Its two halves, for a layer whose calls pin it (core.h): release
   closes the socket below, in the close function before
   dill__pin_close; free releases the memory (unless mem), from the
   pin's free function. */
void dill__layer_release(struct dill__layer *l);
void dill__layer_free(struct dill__layer *l);

/* Ends layer handle s of the given type and returns the socket below.
   When err is set (the detach failed), or an earlier failure broke the
   socket (ECONNRESET), everything is closed and that error reported
   instead.  Errors: EBADF, ENOTSUP (s not of this type: left open), err,
   ECONNRESET. */
int dill__layer_detach(int s, const void *type, int err);

/* The layer object behind handle s of the given type, or NULL (EBADF,
   ENOTSUP). */
static inline struct dill__layer *dill__layer_get(int s, const void *type) {
    return (struct dill__layer*)dill_hquery(s, type);
}

#endif
