/* Base64 with the standard alphabet and '=' padding (RFC 4648, section 4). */

#ifndef DILL_UTIL_BASE64_H
#define DILL_UTIL_BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* Characters produced by encoding n bytes (excluding the terminating NUL). */
#define DILL__BASE64_ENCLEN(n) ((((n) + 2) / 3) * 4)
/* Upper bound of the bytes produced by decoding n characters. */
#define DILL__BASE64_DECLEN(n) (((n) / 4) * 3)

/* Encodes the n bytes at in into out, which must hold
   DILL__BASE64_ENCLEN(n) + 1 characters: the output is NUL-terminated.
   Returns the number of characters written, not counting the NUL. */
size_t dill__base64_encode(const void *in, size_t n, char *out);

/* Strictly decodes the n characters at in into out (room for outlen bytes).
   Rejects (returns -1): n not a multiple of 4, characters outside the
   alphabet (including whitespace and NUL), '=' anywhere but in the last
   one or two positions, and non-zero bits in the unused low bits of the last
   character before padding (non-canonical encodings).  Also -1 when the
   result does not fit in outlen bytes; out may then hold partial output.
   Returns the number of decoded bytes otherwise. */
ssize_t dill__base64_decode(const char *in, size_t n, void *out,
    size_t outlen);

#endif
