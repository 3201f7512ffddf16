/* Public message functions: validate arguments, dispatch to the socket's
   dill_msock_vfs. */

#include <errno.h>

#include "libdillimpl.h"
#include "net/iol.h"

static const int dill__msock_type_id = 0;
DILL_EXPORT const void *dill_msock_type = &dill__msock_type_id;

int dill_msendl(int s, struct dill_iolist *first, struct dill_iolist *last,
    int64_t deadline) {
    struct dill_msock_vfs *vfs = dill_hquery(s, dill_msock_type);
    if(!vfs) return -1;
    int rc = dill__iol_check(first, last, 1, NULL);
    if(rc < 0) {errno = -rc; return -1;}
    return vfs->msendl(vfs, first, last, deadline);
}

/* Both first and last NULL means: receive a message and drop it. */
ssize_t dill_mrecvl(int s, struct dill_iolist *first, struct dill_iolist *last,
    int64_t deadline) {
    struct dill_msock_vfs *vfs = dill_hquery(s, dill_msock_type);
    if(!vfs) return -1;
    if(first || last) {
        int rc = dill__iol_check(first, last, 0, NULL);
        if(rc < 0) {errno = -rc; return -1;}
    }
    return vfs->mrecvl(vfs, first, last, deadline);
}

int dill_msend(int s, const void *buf, size_t len, int64_t deadline) {
    struct dill_msock_vfs *vfs = dill_hquery(s, dill_msock_type);
    if(!vfs) return -1;
    if(!buf && len) {errno = EINVAL; return -1;}
    struct dill_iolist iol = {(void*)buf, len, NULL, 0};
    return vfs->msendl(vfs, &iol, &iol, deadline);
}

ssize_t dill_mrecv(int s, void *buf, size_t len, int64_t deadline) {
    struct dill_msock_vfs *vfs = dill_hquery(s, dill_msock_type);
    if(!vfs) return -1;
    struct dill_iolist iol = {buf, len, NULL, 0};
    return vfs->mrecvl(vfs, &iol, &iol, deadline);
}
