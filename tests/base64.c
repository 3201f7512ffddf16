/* Base64: RFC 4648 test vectors, round trips and strict rejection. */

#include <string.h>

#include "assert.h"
#include "util/base64.h"

static const char *vec[][2] = {
    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void reject(const char *s) {
    uint8_t out[64];
    if(dill__base64_decode(s, strlen(s), out, sizeof(out)) != -1) {
        fprintf(stderr, "accepted \"%s\"\n", s);
        assert(0);
    }
}

int main(void) {
    char enc[64];
    uint8_t dec[64];
    for(size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        size_t n = strlen(vec[i][0]);
        assert(dill__base64_encode(vec[i][0], n, enc) == strlen(vec[i][1]));
        assert(strcmp(enc, vec[i][1]) == 0);
        assert(DILL__BASE64_ENCLEN(n) == strlen(vec[i][1]));
        ssize_t m = dill__base64_decode(vec[i][1], strlen(vec[i][1]), dec,
            sizeof(dec));
        assert(m == (ssize_t)n);
        assert(memcmp(dec, vec[i][0], n) == 0);
    }
    /* All 256 byte values survive a round trip at every length. */
    uint8_t raw[300], back[300];
    char text[DILL__BASE64_ENCLEN(300) + 1];
    for(size_t i = 0; i < sizeof(raw); i++) raw[i] = (uint8_t)(i * 151 + 3);
    for(size_t n = 0; n <= sizeof(raw); n++) {
        size_t tl = dill__base64_encode(raw, n, text);
        assert(tl == DILL__BASE64_ENCLEN(n));
        assert(text[tl] == 0);
        assert(dill__base64_decode(text, tl, back, sizeof(back)) ==
            (ssize_t)n);
        assert(memcmp(raw, back, n) == 0);
        /* Exactly n bytes of room is enough, one less is not. */
        assert(dill__base64_decode(text, tl, back, n) == (ssize_t)n);
        if(n > 0) assert(dill__base64_decode(text, tl, back, n - 1) == -1);
    }
    /* Strictness. */
    reject("Zg");          /* Missing padding. */
    reject("Zg=");
    reject("Zm9vY");
    reject("Zg==Zg==");    /* Padding before the end. */
    reject("Z===");
    reject("====");
    reject("=Zm9");
    reject("Zg=a");
    reject("Zh==");        /* Non-zero spare bits. */
    reject("Zm9=");
    reject("Zm 9v");
    reject("Zm9v\n");
    reject(" Zm9v");
    reject("Zm-v");        /* URL-safe alphabet is not accepted. */
    reject("Zm_v");
    reject("Zm9\x80");
    assert(dill__base64_decode("Zm9\0", 4, dec, sizeof(dec)) == -1);
    assert(dill__base64_decode("", 0, dec, 0) == 0);
    /* Exhaustive over one quantum: a 4-character string decodes exactly
       when it is the canonical encoding of what it decodes to. */
    const char cs[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789+/=-";
    size_t ncs = sizeof(cs) - 1;
    size_t ok = 0;
    for(size_t a = 0; a < ncs; a++) for(size_t b = 0; b < ncs; b++)
    for(size_t c = 0; c < ncs; c++) for(size_t d = 0; d < ncs; d++) {
        char q[4] = {cs[a], cs[b], cs[c], cs[d]};
        uint8_t o[3];
        char re[5];
        ssize_t m = dill__base64_decode(q, 4, o, sizeof(o));
        if(m < 0) continue;
        ok++;
        dill__base64_encode(o, (size_t)m, re);
        assert(memcmp(re, q, 4) == 0);
    }
    /* 64^4 full quanta, 64*64*16 "xxx=" (2 spare bits zero), 64*4 "xx=="
       (4 spare bits zero). */
    assert(ok == 64u * 64 * 64 * 64 + 64 * 64 * 16 + 64 * 4);
    return 0;
}
