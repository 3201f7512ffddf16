/* Protocols stacked on one socket below them (prefix, suffix, term): the
   common part of attaching, detaching and closing. */

#ifndef DILL_PROTO_LAYER_H
#define DILL_PROTO_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "libdillimpl.h"
#include "core/core.h"

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
/* The start of a layer whose calls pin it (core.h): prefix, suffix and
   term begin with these two members, in this order (each checks it with
   DILL__PLAYER_CHECK), and set hvfs.close to dill__player_close, which
   closes the socket below, wakes whoever is inside and frees the memory
   (unless mem) with the last pin. */
struct dill__player {
    struct dill__layer l;
    struct dill__pin pin;
};
void dill__player_close(struct dill_hvfs *hvfs);
#define DILL__PLAYER_CHECK(type) \
    _Static_assert(offsetof(type, l) == offsetof(struct dill__player, l) && \
        offsetof(type, pin) == offsetof(struct dill__player, pin), \
        #type " must start as struct dill__player")

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
