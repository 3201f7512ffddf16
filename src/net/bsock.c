/* Public bytestream functions: validate arguments, dispatch to the socket's
   dill_bsock_vfs. */

#include <errno.h>

#include "libdillimpl.h"
#include "net/bsockx.h"
#include "net/iol.h"

static const int dill__bsock_type_id = 0;
DILL_EXPORT const void *dill_bsock_type = &dill__bsock_type_id;

static const int dill__bsockx_type_id = 0;
const void *dill__bsockx_type = &dill__bsockx_type_id;

int dill_bsendl(int s, struct dill_iolist *first, struct dill_iolist *last,
    int64_t deadline) {
    struct dill_bsock_vfs *vfs = dill_hquery(s, dill_bsock_type);
    if(!vfs) return -1;
    int rc = dill__iol_check(first, last, 1, NULL);
    if(rc < 0) {errno = -rc; return -1;}
    return vfs->bsendl(vfs, first, last, deadline);
}

int dill_brecvl(int s, struct dill_iolist *first, struct dill_iolist *last,
    int64_t deadline) {
    struct dill_bsock_vfs *vfs = dill_hquery(s, dill_bsock_type);
    if(!vfs) return -1;
    int rc = dill__iol_check(first, last, 0, NULL);
    if(rc < 0) {errno = -rc; return -1;}
    return vfs->brecvl(vfs, first, last, deadline);
}

int dill_bsend(int s, const void *buf, size_t len, int64_t deadline) {
    struct dill_bsock_vfs *vfs = dill_hquery(s, dill_bsock_type);
    if(!vfs) return -1;
    if(!buf && len) {errno = EINVAL; return -1;}
    struct dill_iolist iol = {(void*)buf, len, NULL, 0};
    return vfs->bsendl(vfs, &iol, &iol, deadline);
}

int dill_brecv(int s, void *buf, size_t len, int64_t deadline) {
    struct dill_bsock_vfs *vfs = dill_hquery(s, dill_bsock_type);
    if(!vfs) return -1;
    struct dill_iolist iol = {buf, len, NULL, 0};
    return vfs->brecvl(vfs, &iol, &iol, deadline);
}
