/* A decompression bomb for the permessage-deflate tests and benchmark:
   raw deflate data (sync-flushed, the 00 00 ff ff tail removed, as it is
   sent in a message) of about 1 MiB that inflates to 1 GiB of zeros.
   Header-only. */

#ifndef DILL_TESTS_ZBOMB_H
#define DILL_TESTS_ZBOMB_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Blocks that each inflate to 1 MiB of zeros. */
#define ZBOMB_MIB 1024

/* Returns the bomb (malloc'ed; NULL when memory or zlib fails) and its
   length in *len.  The first 1 MiB block holds a literal; every following
   one refers back only to zeros and ends byte-aligned, so it can be
   repeated. */
static __attribute__((unused)) uint8_t *zbomb(size_t *len) {
    z_stream z;
    memset(&z, 0, sizeof(z));
    if(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uint8_t *zeros = calloc(1, 1 << 20);
    uint8_t blk[2][4096];
    size_t bl[2];
    for(int i = 0; zeros && i != 2; i++) {
        z.next_in = zeros;
        z.avail_in = 1 << 20;
        z.next_out = blk[i];
        z.avail_out = sizeof(blk[i]);
        if(deflate(&z, Z_SYNC_FLUSH) != Z_OK || z.avail_in) break;
        bl[i] = sizeof(blk[i]) - z.avail_out;
    }
    int ok = zeros && z.avail_in == 0;
    deflateEnd(&z);
    free(zeros);
    if(!ok) return NULL;
    size_t n = bl[0] + (ZBOMB_MIB - 1) * bl[1];
    uint8_t *p = malloc(n);
    if(!p) return NULL;
    memcpy(p, blk[0], bl[0]);
    for(size_t i = 0; i != ZBOMB_MIB - 1; i++)
        memcpy(p + bl[0] + i * bl[1], blk[1], bl[1]);
    *len = n - 4;
    return p;
}

#endif
