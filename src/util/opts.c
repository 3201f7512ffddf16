#include "opts.h"

#include <errno.h>
#include <string.h>

int dill__opts_load(void *dst, size_t dstsize, const void *src) {
    memset(dst, 0, dstsize);
    if(src) {
        size_t size;
        memcpy(&size, src, sizeof(size));
        if(size < sizeof(size_t)) {errno = EINVAL; return -1;}
        /* A newer header's fields are acceptable only while unused. */
        const unsigned char *tail = (const unsigned char*)src;
        for(size_t i = dstsize; i < size; i++)
            if(tail[i]) {errno = EINVAL; return -1;}
        memcpy(dst, src, size < dstsize ? size : dstsize);
    }
    memcpy(dst, &dstsize, sizeof(dstsize));
    return 0;
}

size_t dill__opts_count(const char *const *list) {
    size_t n = 0;
    if(list) while(list[n]) n++;
    return n;
}
