/* The PREFIX protocol's size field, pure functions (prefix.c). */

#ifndef DILL_PROTO_PREFIX_H
#define DILL_PROTO_PREFIX_H

#include <stddef.h>
#include <stdint.h>

/* Writes size into the hdrlen-byte field hdr, least significant byte first
   when little is set.  Returns 0, or -EMSGSIZE when size needs more than
   hdrlen bytes. */
int dill__prefix_encode(uint8_t *hdr, size_t hdrlen, int little,
    uint64_t size);

/* The size held in the hdrlen-byte field hdr. */
uint64_t dill__prefix_decode(const uint8_t *hdr, size_t hdrlen, int little);

#endif
