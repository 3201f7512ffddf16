/* Deterministic test payloads shared by the interop peer programs.
   Header-only (static functions). */

#ifndef DILL_TESTS_PAYLOAD_H
#define DILL_TESTS_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Fills buf with len pseudo-random bytes derived from seed; the same
   (seed, len) always gives the same bytes. */
static void payload_binary(uint8_t *buf, size_t len, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1;
    for(size_t i = 0; i < len; i++) {
        /* xorshift32: cheap, full period, no libc state. */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)(x >> 24);
    }
}

/* Fills buf with exactly len bytes of valid UTF-8 mixing 1-, 2-, 3- and
   4-byte characters (so that fragment boundaries of a peer can fall inside
   a character), padding with ASCII where a longer one would not fit. */
static void payload_text_(uint8_t *buf, size_t len, uint32_t seed) {
    static const char *chars[] = {
        "a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "Z", "\xd0\x96",
        "\xe4\xb8\xad", "\xf4\x8f\xbf\xbf", "~", "\xef\xbf\xbd"
    };
    size_t pos = 0, k = seed % 10;
    while(pos < len) {
        const char *c = chars[k];
        size_t n = 0;
        while(c[n]) n++;
        if(n > len - pos) {
            buf[pos] = (uint8_t)('0' + pos % 10);
            pos++;
            continue;
        }
        for(size_t j = 0; j < n; j++) buf[pos++] = (uint8_t)c[j];
        k = (k + 1 + pos % 3) % 10;
    }
}

/* Same contract as payload_text_, faster for big messages: a block of
   characters repeated, then a tail. */
static void payload_text(uint8_t *buf, size_t len, uint32_t seed) {
    const size_t block = 4096;
    if(len <= 2 * block) {
        payload_text_(buf, len, seed);
        return;
    }
    payload_text_(buf, block, seed);
    size_t pos = block;
    while(len - pos > block) {
        memcpy(buf + pos, buf, block);
        pos += block;
    }
    payload_text_(buf + pos, len - pos, seed + 1);
}

#endif
