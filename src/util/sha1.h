/* SHA-1 (FIPS 180-4).  Used only where a protocol mandates it (the WebSocket
   handshake's Sec-WebSocket-Accept); it is not a secure hash for anything
   else. */

#ifndef DILL_UTIL_SHA1_H
#define DILL_UTIL_SHA1_H

#include <stddef.h>
#include <stdint.h>

/* Size of a SHA-1 digest in bytes. */
#define DILL__SHA1_LEN 20

/* Incremental hashing state.  Treat as opaque; it holds no pointers, so it
   may be copied to fork a computation. */
struct dill__sha1_ctx {
    uint32_t h[5];
    uint64_t nbytes;     /* Bytes hashed so far. */
    uint8_t block[64];   /* Pending partial block. */
    size_t blocklen;     /* Bytes used in block (0..63). */
};

/* Starts a new hash computation. */
void dill__sha1_init(struct dill__sha1_ctx *ctx);
/* Feeds n bytes at p (p may be NULL when n is 0).  Can be called any number
   of times with any split of the input. */
void dill__sha1_update(struct dill__sha1_ctx *ctx, const void *p, size_t n);
/* Writes the 20-byte digest to out.  The context is wiped afterwards; call
   dill__sha1_init before reusing it. */
void dill__sha1_final(struct dill__sha1_ctx *ctx, uint8_t out[DILL__SHA1_LEN]);
/* One-shot: the digest of the n bytes at p. */
void dill__sha1(const void *p, size_t n, uint8_t out[DILL__SHA1_LEN]);

#endif
