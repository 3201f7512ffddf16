/* Handles: small integers naming objects with a virtual function table. */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "core.h"

/* A slot is 24 bytes on 64-bit (12 on 32-bit): the free-list link shares
   the room of the cached query result, which a free slot does not have. */
struct dill__hslot {
    struct dill_hvfs *vfs;         /* NULL when the slot is free */
    /* The last successful query (qtype NULL: none), so that hot paths
       (bsend on the same socket) skip the virtual call. */
    const void *qtype;
    union {
        void *qptr;
        int next;                  /* free slot: next free slot */
    } u;
};

/* The table is a directory of fixed-size chunks, allocated as handles are
   needed: it grows by one chunk at a time instead of doubling (so at most
   one chunk is unused), and slots never move, so a growth copies only the
   directory (a pointer per chunk). */
#define DILL__HCHUNK_SHIFT 8
#define DILL__HCHUNK (1 << DILL__HCHUNK_SHIFT)

static __thread struct dill__hslot **dill__hdir
    __attribute__((tls_model("initial-exec")));
/* The first chunk (dill__hdir[0]): the handles of a program with few of
   them, and the first ones any program makes, are found with one load
   less (a channel message looks up two handles). */
static __thread struct dill__hslot *dill__h0
    __attribute__((tls_model("initial-exec")));
/* Slots in the table (chunks * DILL__HCHUNK) and room in the directory. */
static __thread int dill__hcap __attribute__((tls_model("initial-exec")));
static __thread int dill__hdircap __attribute__((tls_model("initial-exec")));
/* Free slots form a FIFO queue (head dill__hfree, tail dill__htail): a
   freed number is reused last, as in libdill, so that a stale handle is
   likely to fail with EBADF instead of naming a newer object. */
static __thread int dill__hfree __attribute__((tls_model("initial-exec")));
static __thread int dill__htail __attribute__((tls_model("initial-exec")));

static inline struct dill__hslot *dill__hat(int h) {
    if(dill__fast((unsigned)h < DILL__HCHUNK)) return &dill__h0[h];
    return &dill__hdir[h >> DILL__HCHUNK_SHIFT][h & (DILL__HCHUNK - 1)];
}

static int dill__hgrow(void) {
    int nchunks = dill__hcap >> DILL__HCHUNK_SHIFT;
    if(dill__slow(nchunks > (INT_MAX >> DILL__HCHUNK_SHIFT) - 1)) return -1;
    if(nchunks == dill__hdircap) {
        int dcap = dill__hdircap ? dill__hdircap * 2 : 4;
        struct dill__hslot **d = realloc(dill__hdir, dcap * sizeof(*d));
        if(!d) return -1;
        dill__hdir = d;
        dill__hdircap = dcap;
    }
    struct dill__hslot *hs = malloc(DILL__HCHUNK * sizeof(*hs));
    if(!hs) return -1;
    int base = dill__hcap, cap = base + DILL__HCHUNK;
    /* Free slots are chained by index + 1 so that zeroed TLS means "no free
       slot". */
    for(int i = 0; i < DILL__HCHUNK; i++) {
        hs[i].vfs = NULL;
        hs[i].qtype = NULL;
        hs[i].u.next = base + i + 1 < cap ? base + i + 2 : 0;
    }
    dill__hdir[nchunks] = hs;
    if(!nchunks) dill__h0 = hs;
    if(dill__htail) dill__hat(dill__htail - 1)->u.next = base + 1;
    else dill__hfree = base + 1;
    dill__htail = cap;
    dill__hcap = cap;
    return 0;
}

static int dill__hnew(struct dill_hvfs *vfs) {
    if(dill__slow(!dill__hfree) && dill__hgrow() < 0) {
        errno = ENOMEM;
        return -1;
    }
    int h = dill__hfree - 1;
    struct dill__hslot *s = dill__hat(h);
    dill__hfree = s->u.next;
    if(!dill__hfree) dill__htail = 0;
    s->vfs = vfs;
    s->qtype = NULL;
    return h;
}

static void dill__hpush(int h) {
    dill__hat(h)->u.next = 0;
    if(dill__htail) dill__hat(dill__htail - 1)->u.next = h + 1;
    else dill__hfree = h + 1;
    dill__htail = h + 1;
}

static void dill__hrelease(int h) {
    struct dill__hslot *s = dill__hat(h);
    s->vfs = NULL;
    s->qtype = NULL;
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
    /* One unsigned comparison covers h < 0. */
    if(dill__slow((unsigned)h >= (unsigned)dill__hcap)) {
        errno = EBADF;
        return NULL;
    }
    struct dill__hslot *s = dill__hat(h);
    if(dill__slow(!s->vfs)) {
        errno = EBADF;
        return NULL;
    }
    return s;
}

void *dill_hquery(int h, const void *type) {
    struct dill__hslot *s = dill__hget(h);
    if(dill__slow(!s)) return NULL;
    if(dill__fast(s->qtype == type && type)) return s->u.qptr;
    void *p = s->vfs->query(s->vfs, type);
    if(p) {
        s->qtype = type;
        s->u.qptr = p;
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
    for(int i = 0; i != dill__hcap >> DILL__HCHUNK_SHIFT; i++)
        free(dill__hdir[i]);
    free(dill__hdir);
    dill__hdir = NULL;
    dill__h0 = NULL;
    dill__hcap = 0;
    dill__hdircap = 0;
    dill__hfree = 0;
    dill__htail = 0;
}
