/*
  dill: interfaces for writing your own handle types and protocols.
*/

#ifndef LIBDILLIMPL_H_INCLUDED
#define LIBDILLIMPL_H_INCLUDED

#include "libdill.h"

#ifdef __cplusplus
extern "C" {
#endif

/******************************************************************************/
/*  Handles                                                                   */
/******************************************************************************/

/* The operations of a handle.  query returns the interface identified by
   type (NULL with errno ENOTSUP when the object has none); close releases
   the object and must not block. */
struct dill_hvfs {
    void *(*query)(struct dill_hvfs *vfs, const void *type);
    void (*close)(struct dill_hvfs *vfs);
};

/* Creates a handle for the object whose vfs is given.  Errors: ECANCELED,
   EINVAL, ENOMEM. */
DILL_EXPORT int dill_hmake(struct dill_hvfs *vfs);
/* Returns the interface of type `type` of handle h.  Errors: EBADF,
   ENOTSUP. */
DILL_EXPORT void *dill_hquery(int h, const void *type);

#if !defined DILL_DISABLE_RAW_NAMES
#define hvfs dill_hvfs
#define hmake dill_hmake
#define hquery dill_hquery
#endif

#if !defined DILL_DISABLE_SOCKETS

/******************************************************************************/
/*  Bytestream sockets                                                        */
/******************************************************************************/

/* Type id of the bytestream interface, for hquery. */
DILL_EXPORT extern const void *dill_bsock_type;

/* bsendl sends the whole list or fails; brecvl fills the whole list or
   fails.  The lists are already validated. */
struct dill_bsock_vfs {
    int (*bsendl)(struct dill_bsock_vfs *vfs,
        struct dill_iolist *first, struct dill_iolist *last, int64_t deadline);
    int (*brecvl)(struct dill_bsock_vfs *vfs,
        struct dill_iolist *first, struct dill_iolist *last, int64_t deadline);
};

/******************************************************************************/
/*  Message sockets                                                           */
/******************************************************************************/

/* Type id of the message interface, for hquery. */
DILL_EXPORT extern const void *dill_msock_type;

struct dill_msock_vfs {
    int (*msendl)(struct dill_msock_vfs *vfs,
        struct dill_iolist *first, struct dill_iolist *last, int64_t deadline);
    ssize_t (*mrecvl)(struct dill_msock_vfs *vfs,
        struct dill_iolist *first, struct dill_iolist *last, int64_t deadline);
};

#if !defined DILL_DISABLE_RAW_NAMES
#define bsock_vfs dill_bsock_vfs
#define bsock_type dill_bsock_type
#define msock_vfs dill_msock_vfs
#define msock_type dill_msock_type
#endif

#endif /* !DILL_DISABLE_SOCKETS */

#ifdef __cplusplus
}
#endif

#endif
