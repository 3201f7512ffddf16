/* Gather/scatter list (struct dill_iolist) validation and helpers. */

#ifndef DILL_NET_IOL_H
#define DILL_NET_IOL_H

#include <stddef.h>
#include <sys/uio.h>

#include "libdill.h"

/* Checks that first..last is a chain: every iol_rsvd is 0, following
   iol_next from first reaches last, there is no loop and last->iol_next is
   NULL.  Each item is marked through iol_rsvd while walking and restored
   before returning.  When sending is set, an item with a NULL iol_base and a
   non-zero iol_len is invalid too.  Stores the summed length in *total
   (may be NULL).  Returns 0 or -EINVAL. */
int dill__iol_check(struct dill_iolist *first, struct dill_iolist *last,
    int sending, size_t *total);

/* Sum of iol_len over a valid list starting at first (NULL: 0). */
size_t dill__iol_size(const struct dill_iolist *first);

/* A position inside a valid list: item and offset within it. */
struct dill__iolcur {
    struct dill_iolist *it;
    size_t off;
};

/* Fills at most maxiov entries of iov with the bytes after cur, at most
   limit bytes in total.  Items with a NULL iol_base are pointed at a shared
   scratch area whose content is never read (receive-and-drop).  Returns the
   entry count; *bytes gets the number of bytes covered. */
int dill__iol_toiov(const struct dill__iolcur *cur, struct iovec *iov,
    int maxiov, size_t limit, size_t *bytes);

/* Moves cur forward by n bytes (n must not exceed what remains). */
void dill__iol_advance(struct dill__iolcur *cur, size_t n);

/* Copies n bytes from src into the list at cur and advances cur; NULL
   iol_base items swallow their bytes. */
void dill__iol_copyin(struct dill__iolcur *cur, const void *src, size_t n);

#endif
