/* SHA-1 against the FIPS 180 example messages and other known digests, and
   incremental hashing at every split point. */

#include <string.h>

#include "assert.h"
#include "util/sha1.h"

static void hex(const uint8_t *d, char *out) {
    for(int i = 0; i < DILL__SHA1_LEN; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void check(const void *p, size_t n, const char *expect) {
    uint8_t d[DILL__SHA1_LEN];
    char h[2 * DILL__SHA1_LEN + 1];
    dill__sha1(p, n, d);
    hex(d, h);
    if(strcmp(h, expect) != 0) {
        fprintf(stderr, "sha1 of %zu bytes: got %s, want %s\n", n, h, expect);
        assert(0);
    }
}

int main(void) {
    /* FIPS 180 examples (one-block, two-block, long message). */
    check("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(two, strlen(two), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    const char *four =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
        "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    check(four, strlen(four), "a49b2446a02c645bf419f995b67091253a04a259");
    check("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check(NULL, 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    const char *fox = "The quick brown fox jumps over the lazy dog";
    check(fox, strlen(fox), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");

    /* One million 'a': once in one piece, once in odd-sized pieces. */
    size_t mlen = 1000000;
    char *m = malloc(mlen);
    assert(m);
    memset(m, 'a', mlen);
    check(m, mlen, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    struct dill__sha1_ctx ctx;
    uint8_t d1[DILL__SHA1_LEN], d2[DILL__SHA1_LEN];
    dill__sha1_init(&ctx);
    for(size_t off = 0, step = 1; off < mlen; off += step, step = step % 97 + 1)
        dill__sha1_update(&ctx, m + off, off + step > mlen ? mlen - off : step);
    dill__sha1_final(&ctx, d1);
    dill__sha1(m, mlen, d2);
    assert(memcmp(d1, d2, sizeof(d1)) == 0);
    free(m);

    /* Lengths around the padding boundaries (55, 56, 63, 64, ...) split at
       every point give the same digest as one-shot hashing. */
    uint8_t buf[200];
    for(size_t i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)(i * 31 + 7);
    for(size_t n = 0; n <= sizeof(buf); n++) {
        dill__sha1(buf, n, d1);
        for(size_t cut = 0; cut <= n; cut++) {
            dill__sha1_init(&ctx);
            dill__sha1_update(&ctx, buf, cut);
            dill__sha1_update(&ctx, buf + cut, n - cut);
            dill__sha1_final(&ctx, d2);
            assert(memcmp(d1, d2, sizeof(d1)) == 0);
        }
        dill__sha1_init(&ctx);
        for(size_t i = 0; i < n; i++) dill__sha1_update(&ctx, buf + i, 1);
        dill__sha1_final(&ctx, d2);
        assert(memcmp(d1, d2, sizeof(d1)) == 0);
    }
    /* 55 and 56 bytes straddle the one/two final block cases. */
    memset(buf, 'a', 64);
    check(buf, 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    check(buf, 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    check(buf, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
    return 0;
}
