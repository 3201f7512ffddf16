/* The SUFFIX protocol's delimiter search, pure functions (suffix.c): a
   Knuth-Morris-Pratt matcher that consumes one byte at a time and says
   which bytes are message content, so that nothing past the delimiter
   ever has to be read. */

#ifndef DILL_PROTO_SUFFIX_H
#define DILL_PROTO_SUFFIX_H

#include <stddef.h>
#include <stdint.h>

/* Longest delimiter, in bytes. */
#define DILL__SUFFIX_MAX 32

/* Fills fail[i] (i < len) with the length of the longest proper prefix of
   sfx[0..i] that is also its suffix.  len must be 1..DILL__SUFFIX_MAX. */
void dill__suffix_table(const uint8_t *sfx, size_t len, uint8_t *fail);

/* Feeds byte c to the matcher whose state *k (< the delimiter's length) says that the last
   *k bytes seen are sfx[0..*k).  Updates *k (the delimiter's length: it is
   complete) and returns how many bytes are now known to be message
   content: the first ones of sfx[0..old *k) followed by c. */
size_t dill__suffix_step(const uint8_t *sfx, const uint8_t *fail, size_t *k,
    uint8_t c);

#endif
