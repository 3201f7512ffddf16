#include <stdint.h>

#include "base64.h"

static const char dill__b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Maps a character to its 6-bit value plus one, so that the zero the
   compiler puts in every other entry means "not in the alphabet" ('=' is
   handled separately by the decoder). */
static const uint8_t dill__b64_value[256] = {
    ['A'] = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
        19, 20, 21, 22, 23, 24, 25, 26,
    ['a'] = 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
        43, 44, 45, 46, 47, 48, 49, 50, 51, 52,
    ['0'] = 53, 54, 55, 56, 57, 58, 59, 60, 61, 62,
    ['+'] = 63,
    ['/'] = 64,
};

size_t dill__base64_encode(const void *in, size_t n, char *out) {
    const uint8_t *p = in;
    char *o = out;
    while(n >= 3) {
        uint32_t v = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
        o[0] = dill__b64_alphabet[(v >> 18) & 63];
        o[1] = dill__b64_alphabet[(v >> 12) & 63];
        o[2] = dill__b64_alphabet[(v >> 6) & 63];
        o[3] = dill__b64_alphabet[v & 63];
        p += 3;
        n -= 3;
        o += 4;
    }
    if(n > 0) {
        uint32_t v = (uint32_t)p[0] << 16;
        if(n == 2) v |= (uint32_t)p[1] << 8;
        o[0] = dill__b64_alphabet[(v >> 18) & 63];
        o[1] = dill__b64_alphabet[(v >> 12) & 63];
        o[2] = n == 2 ? dill__b64_alphabet[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    *o = 0;
    return (size_t)(o - out);
}

ssize_t dill__base64_decode(const char *in, size_t n, void *out,
      size_t outlen) {
    const unsigned char *p = (const unsigned char*)in;
    uint8_t *o = out;
    size_t olen = 0;
    if(n % 4 != 0) return -1;
    for(size_t i = 0; i < n; i += 4) {
        int last = (i + 4 == n);
        /* Padding is only allowed in the final quantum: "xx==" or "xxx=". */
        int pad = 0;
        if(last && p[i + 3] == '=') {
            pad = 1;
            if(p[i + 2] == '=') pad = 2;
        }
        uint32_t v = 0;
        for(int j = 0; j < 4 - pad; j++) {
            uint8_t c = dill__b64_value[p[i + j]];
            if(c == 0) return -1;
            v = (v << 6) | (uint32_t)(c - 1);
        }
        size_t nout = 3 - (size_t)pad;
        if(outlen - olen < nout) return -1;
        if(pad == 0) {
            o[olen++] = (uint8_t)(v >> 16);
            o[olen++] = (uint8_t)(v >> 8);
            o[olen++] = (uint8_t)v;
        } else if(pad == 1) {
            /* 18 bits carry 2 bytes; the 2 spare bits must be zero. */
            if(v & 3) return -1;
            o[olen++] = (uint8_t)(v >> 10);
            o[olen++] = (uint8_t)(v >> 2);
        } else {
            /* 12 bits carry 1 byte; the 4 spare bits must be zero. */
            if(v & 15) return -1;
            o[olen++] = (uint8_t)(v >> 4);
        }
    }
    return (ssize_t)olen;
}
