/* Reference UTF-8 checker for tests and fuzzers.  Written independently
   of the DFA in src/util/utf8.c: it works on code point arithmetic (the
   range of values a partial character can still reach) rather than on
   byte ranges.  Header-only (static functions). */

#ifndef DILL_TESTS_UTF8REF_H
#define DILL_TESTS_UTF8REF_H

#include <stddef.h>
#include <stdint.h>

/* Reference: decides, from code point arithmetic rather than byte ranges,
   whether the prefix of a character seen so far can still be completed
   into a valid scalar value of that encoded length. */
static int ref_viable(uint32_t bits, int have, int len) {
    static const uint32_t lo_of[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const uint32_t hi_of[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    int rest = 6 * (len - have);
    uint64_t lo = (uint64_t)bits << rest;
    uint64_t hi = lo | ((1ull << rest) - 1);
    if(lo < lo_of[len]) lo = lo_of[len];
    if(hi > hi_of[len]) hi = hi_of[len];
    if(lo > hi) return 0;
    /* All candidates surrogates? */
    if(lo >= 0xD800 && hi <= 0xDFFF) return 0;
    return 1;
}

/* Returns 1 for complete valid UTF-8, 0 for a valid but truncated prefix,
   -1 for invalid with *fail = index of the first byte after which no
   continuation can be valid. */
static int ref_utf8(const uint8_t *p, size_t n, size_t *fail) {
    size_t i = 0;
    while(i < n) {
        uint8_t b = p[i];
        int len = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 :
            (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
        if(len == 1) {
            i++;
            continue;
        }
        if(len == 0) {
            *fail = i;
            return -1;
        }
        uint32_t bits = b & (0x7F >> len);
        if(!ref_viable(bits, 1, len)) {
            *fail = i;
            return -1;
        }
        for(int k = 1; k < len; k++) {
            if(i + k >= n) return 0;
            uint8_t c = p[i + k];
            bits = (bits << 6) | (c & 0x3F);
            if((c & 0xC0) != 0x80 || !ref_viable(bits, k + 1, len)) {
                *fail = i + k;
                return -1;
            }
        }
        i += len;
    }
    return 1;
}

#endif
