/* Gather/scatter list validation and cursor helpers. */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "net/iol.h"

/* Where receive-and-drop items point.  Only the kernel ever writes it and
   nobody reads it, so sharing it between sockets and threads is harmless. */
static char dill__iol_sink[4096];

int dill__iol_check(struct dill_iolist *first, struct dill_iolist *last,
    int sending, size_t *total) {
    if(!first || !last || last->iol_next) return -EINVAL;
    size_t sum = 0, marked = 0;
    int rc = 0;
    struct dill_iolist *it = first;
    /* Marking visited items with iol_rsvd = 1 finds loops in O(n) without
       memory; a pre-existing non-zero value is an error anyway. */
    while(1) {
        if(!it || it->iol_rsvd != 0) {rc = -EINVAL; break;}
        if(sending && !it->iol_base && it->iol_len) {rc = -EINVAL; break;}
        if(it->iol_len > SIZE_MAX - sum) {rc = -EINVAL; break;}
        sum += it->iol_len;
        it->iol_rsvd = 1;
        marked++;
        if(it == last) break;
        it = it->iol_next;
    }
    /* Undo exactly the marks made: they are the first `marked` items. */
    it = first;
    while(marked--) {
        it->iol_rsvd = 0;
        it = it->iol_next;
    }
    if(rc < 0) return rc;
    if(total) *total = sum;
    return 0;
}

size_t dill__iol_size(const struct dill_iolist *first) {
    size_t sum = 0;
    for(const struct dill_iolist *it = first; it; it = it->iol_next)
        sum += it->iol_len;
    return sum;
}

int dill__iol_toiov(const struct dill__iolcur *cur, struct iovec *iov,
    int maxiov, size_t limit, size_t *bytes) {
    int n = 0;
    size_t sum = 0;
    struct dill_iolist *it = cur->it;
    size_t off = cur->off;
    while(it && n < maxiov && sum < limit) {
        size_t len = it->iol_len - off;
        if(len > limit - sum) len = limit - sum;
        if(len == 0) {it = it->iol_next; off = 0; continue;}
        if(it->iol_base) {
            iov[n].iov_base = (char*)it->iol_base + off;
        } else {
            if(len > sizeof(dill__iol_sink)) len = sizeof(dill__iol_sink);
            iov[n].iov_base = dill__iol_sink;
        }
        iov[n].iov_len = len;
        n++;
        sum += len;
        off += len;
        if(off == it->iol_len) {it = it->iol_next; off = 0;}
    }
    *bytes = sum;
    return n;
}

void dill__iol_advance(struct dill__iolcur *cur, size_t n) {
    while(cur->it) {
        size_t len = cur->it->iol_len - cur->off;
        if(n < len) {cur->off += n; return;}
        n -= len;
        cur->it = cur->it->iol_next;
        cur->off = 0;
        if(n == 0) {
            /* Stop at the next non-empty item so that "at end" is easy to
               tell from cur->it == NULL. */
            while(cur->it && cur->it->iol_len == 0) cur->it = cur->it->iol_next;
            return;
        }
    }
}

void dill__iol_copyin(struct dill__iolcur *cur, const void *src, size_t n) {
    const char *p = src;
    while(n && cur->it) {
        size_t len = cur->it->iol_len - cur->off;
        if(len > n) len = n;
        if(cur->it->iol_base && len)
            memcpy((char*)cur->it->iol_base + cur->off, p, len);
        p += len;
        n -= len;
        dill__iol_advance(cur, len);
    }
}
