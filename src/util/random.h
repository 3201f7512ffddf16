/* Cryptographically secure random numbers for protocol use (WebSocket
   masking keys, Sec-WebSocket-Key).

   Each thread runs its own ChaCha20 generator, seeded from getrandom(2) and
   rekeyed from its own output after every refill ("fast key erasure"): the
   key that produced the bytes handed out no longer exists, and bytes are
   wiped from the buffer as they are handed out.  After fork() the child
   reseeds before producing output, so parent and child never share a
   stream.  Most calls make no system call at all. */

#ifndef DILL_UTIL_RANDOM_H
#define DILL_UTIL_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* Fills buf with n random bytes.  Never fails: if the kernel cannot supply
   a seed (neither getrandom(2) nor /dev/urandom works) the process aborts
   rather than produce predictable output. */
void dill__random(void *buf, size_t n);

/* A uniformly distributed random 32-bit value. */
uint32_t dill__random_u32(void);

/* The ChaCha20 block function of RFC 8439, section 2.3: writes the 64-byte
   keystream block for (key, counter, nonce) to out.  Exposed for tests. */
void dill__chacha20_block(const uint8_t key[32], uint32_t counter,
    const uint8_t nonce[12], uint8_t out[64]);

/* Test hook.  When non-zero in a thread before that thread's first call to
   dill__random, the thread's state is not protected by MADV_WIPEONFORK, so
   fork detection relies on the pthread_atfork generation counter alone. */
extern __thread int dill__random_nowipe;

#endif
