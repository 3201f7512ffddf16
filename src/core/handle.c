/* Handles: small integers naming objects with a virtual function table. */

#include <errno.h>
#include <stdlib.h>

#include "core.h"

struct dill__hslot {
    struct dill_hvfs *vfs;         /* NULL when the slot is free */
    int next;                      /* next free slot */
    /* The last successful query, so that hot paths (bsend on the same
       socket) skip the virtual call. */
    const void *qtype;
    void *qptr;
};

static __thread struct dill__hslot *dill__hs
    __attribute__((tls_model("initial-exec")));
static __thread int dill__hcap __attribute__((tls_model("initial-exec")));
/* Free slots form a FIFO queue (head dill__hfree, tail dill__htail): a
   freed number is reused last, as in libdill, so that a stale handle is
   likely to fail with EBADF instead of naming a newer object. */
static __thread int dill__hfree __attribute__((tls_model("initial-exec")));
static __thread int dill__htail __attribute__((tls_model("initial-exec")));

static int dill__hgrow(void) {
    int cap = dill__hcap ? dill__hcap * 2 : 256;
    struct dill__hslot *hs = realloc(dill__hs, cap * sizeof(*hs));
    if(!hs) return -1;
    /* Free slots are chained by index + 1 so that zeroed TLS means "no free
       slot". */
    for(int i = dill__hcap; i < cap; i++) {
        hs[i].vfs = NULL;
        hs[i].next = i + 1 < cap ? i + 2 : 0;
        hs[i].qtype = NULL;
    }
    if(dill__htail) hs[dill__htail - 1].next = dill__hcap + 1;
    else dill__hfree = dill__hcap + 1;
    dill__htail = cap;
    dill__hs = hs;
    dill__hcap = cap;
    return 0;
}

static int dill__hnew(struct dill_hvfs *vfs) {
    if(dill__slow(!dill__hfree) && dill__hgrow() < 0) {
        errno = ENOMEM;
        return -1;
    }
    int h = dill__hfree - 1;
    dill__hfree = dill__hs[h].next;
    if(!dill__hfree) dill__htail = 0;
    dill__hs[h].vfs = vfs;
    dill__hs[h].qtype = NULL;
    return h;
}

static void dill__hpush(int h) {
    dill__hs[h].next = 0;
    if(dill__htail) dill__hs[dill__htail - 1].next = h + 1;
    else dill__hfree = h + 1;
    dill__htail = h + 1;
}

static void dill__hrelease(int h) {
    dill__hs[h].vfs = NULL;
    dill__hs[h].qtype = NULL;
    dill__hpush(h);
}

int dill_hmake(struct dill_hvfs *vfs) {
    if(dill__slow(!vfs || !vfs->query || !vfs->close)) {
        errno = EINVAL;
        return -1;
    }
    if(dill__slow(dill__canblock() < 0)) return -1;
    return dill__hnew(vfs);
}

static inline struct dill__hslot *dill__hget(int h) {
    if(dill__slow(h < 0 || h >= dill__hcap || !dill__hs[h].vfs)) {
        errno = EBADF;
        return NULL;
    }
    return &dill__hs[h];
}

void *dill_hquery(int h, const void *type) {
    struct dill__hslot *s = dill__hget(h);
    if(dill__slow(!s)) return NULL;
    if(dill__fast(s->qtype == type && type)) return s->qptr;
    void *p = s->vfs->query(s->vfs, type);
    if(p) {
        s->qtype = type;
        s->qptr = p;
    }
    return p;
}

int dill_hown(int h) {
    struct dill__hslot *s = dill__hget(h);
    if(dill__slow(!s)) return -1;
    struct dill_hvfs *vfs = s->vfs;
    int n = dill__hnew(vfs);
    if(dill__slow(n < 0)) {
        int err = errno;
        dill_hclose(h);
        errno = err;
        return -1;
    }
    dill__hrelease(h);
    return n;
}

int dill_hclose(int h) {
    struct dill__hslot *s = dill__hget(h);
    if(dill__slow(!s)) return -1;
    struct dill_hvfs *vfs = s->vfs;
    /* The number stays reserved until close returns, so a handle created
       meanwhile (a bundle's close waits for its coroutines) cannot take it. */
    s->vfs = NULL;
    s->qtype = NULL;
    dill__noblock(1);
    vfs->close(vfs);
    dill__noblock(0);
    dill__hpush(h);
    return 0;
}

void dill__handles_term(void) {
    free(dill__hs);
    dill__hs = NULL;
    dill__hcap = 0;
    dill__hfree = 0;
    dill__htail = 0;
}
