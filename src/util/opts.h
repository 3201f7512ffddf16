/* Loading of the public option structures, which all begin with
   `size_t size` (see "option structures" in libdill.h). */

#ifndef DILL_UTIL_OPTS_H
#define DILL_UTIL_OPTS_H

#include <stddef.h>

/* Copies the caller's structure src into dst (dstsize bytes, the size this
   library was built with): the first min(src->size, dstsize) bytes are
   copied, the rest of dst is zeroed and dst's size field set to dstsize.
   src NULL gives an all-default dst.  Returns 0, or -1 with errno EINVAL
   when src->size is smaller than the size field itself, or when src is
   bigger than dstsize and its extra bytes are not all zero (it asks for
   something this library does not know). */
int dill__opts_load(void *dst, size_t dstsize, const void *src);

/* Number of entries of a NULL-terminated list (0 for NULL). */
size_t dill__opts_count(const char *const *list);

#endif
