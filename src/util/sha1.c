/* SHA-1 written from the description in FIPS 180-4, sections 4.1.1, 4.2.1,
   5.1.1, 5.3.1 and 6.1. */

#include <string.h>

#include "sha1.h"

static inline uint32_t dill__rol32(uint32_t x, int n) {
    return (x << n) | (x >> (32 - n));
}

static inline uint32_t dill__load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
        ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void dill__store_be32(uint8_t *p, uint32_t x) {
    p[0] = (uint8_t)(x >> 24);
    p[1] = (uint8_t)(x >> 16);
    p[2] = (uint8_t)(x >> 8);
    p[3] = (uint8_t)x;
}

/* Message schedule word t (t >= 16), computed in place in a rolling
   16-word window instead of the 80-word array of the specification. */
#define DILL__SHA1_W(w, t) \
    (w[(t) & 15] = dill__rol32(w[((t) - 3) & 15] ^ w[((t) - 8) & 15] ^ \
        w[((t) - 14) & 15] ^ w[(t) & 15], 1))

/* One round: f is the round function's value, k the round constant. */
#define DILL__SHA1_ROUND(f, k, wt) \
    do {\
        uint32_t tmp = dill__rol32(a, 5) + (f) + e + (k) + (wt);\
        e = d;\
        d = c;\
        c = dill__rol32(b, 30);\
        b = a;\
        a = tmp;\
    } while(0)

/* Processes one 512-bit block.  The four groups of 20 rounds use the
   functions Ch, Parity, Maj and Parity of FIPS 180-4, section 4.1.1. */
static void dill__sha1_block(uint32_t h[5], const uint8_t *blk) {
    uint32_t w[16];
    for(int t = 0; t < 16; t++)
        w[t] = dill__load_be32(blk + 4 * t);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    int t = 0;
    for(; t < 16; t++)
        DILL__SHA1_ROUND((b & c) | (~b & d), 0x5a827999, w[t]);
    for(; t < 20; t++)
        DILL__SHA1_ROUND((b & c) | (~b & d), 0x5a827999, DILL__SHA1_W(w, t));
    for(; t < 40; t++)
        DILL__SHA1_ROUND(b ^ c ^ d, 0x6ed9eba1, DILL__SHA1_W(w, t));
    for(; t < 60; t++)
        DILL__SHA1_ROUND((b & c) | (b & d) | (c & d), 0x8f1bbcdc,
            DILL__SHA1_W(w, t));
    for(; t < 80; t++)
        DILL__SHA1_ROUND(b ^ c ^ d, 0xca62c1d6, DILL__SHA1_W(w, t));
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void dill__sha1_init(struct dill__sha1_ctx *ctx) {
    ctx->h[0] = 0x67452301;
    ctx->h[1] = 0xefcdab89;
    ctx->h[2] = 0x98badcfe;
    ctx->h[3] = 0x10325476;
    ctx->h[4] = 0xc3d2e1f0;
    ctx->nbytes = 0;
    ctx->blocklen = 0;
}

void dill__sha1_update(struct dill__sha1_ctx *ctx, const void *p, size_t n) {
    const uint8_t *in = p;
    if(n == 0) return;
    ctx->nbytes += n;
    if(ctx->blocklen > 0) {
        size_t take = 64 - ctx->blocklen;
        if(take > n) take = n;
        memcpy(ctx->block + ctx->blocklen, in, take);
        ctx->blocklen += take;
        in += take;
        n -= take;
        if(ctx->blocklen < 64) return;
        dill__sha1_block(ctx->h, ctx->block);
        ctx->blocklen = 0;
    }
    /* Whole blocks are hashed straight from the caller's buffer. */
    while(n >= 64) {
        dill__sha1_block(ctx->h, in);
        in += 64;
        n -= 64;
    }
    if(n > 0) {
        memcpy(ctx->block, in, n);
        ctx->blocklen = n;
    }
}

void dill__sha1_final(struct dill__sha1_ctx *ctx,
      uint8_t out[DILL__SHA1_LEN]) {
    uint64_t bits = ctx->nbytes * 8;
    /* Padding: a 1 bit, zeros up to 56 mod 64, then the 64-bit length. */
    ctx->block[ctx->blocklen++] = 0x80;
    if(ctx->blocklen > 56) {
        memset(ctx->block + ctx->blocklen, 0, 64 - ctx->blocklen);
        dill__sha1_block(ctx->h, ctx->block);
        ctx->blocklen = 0;
    }
    memset(ctx->block + ctx->blocklen, 0, 56 - ctx->blocklen);
    dill__store_be32(ctx->block + 56, (uint32_t)(bits >> 32));
    dill__store_be32(ctx->block + 60, (uint32_t)bits);
    dill__sha1_block(ctx->h, ctx->block);
    for(int i = 0; i < 5; i++)
        dill__store_be32(out + 4 * i, ctx->h[i]);
    memset(ctx, 0, sizeof(*ctx));
}

void dill__sha1(const void *p, size_t n, uint8_t out[DILL__SHA1_LEN]) {
    struct dill__sha1_ctx ctx;
    dill__sha1_init(&ctx);
    dill__sha1_update(&ctx, p, n);
    dill__sha1_final(&ctx, out);
}
