/* Incremental UTF-8 validator: a 9-state DFA in "shift" form.

   Each byte value maps to one 64-bit row holding, in 6-bit fields, the next
   state for every current state; a state is stored as its field's bit
   offset, so one step is a table load and a shift:
       state = row[byte] >> state
   The chain of dependent operations per byte is a single shift, which
   keeps multi-byte text fast.  Runs of ASCII at a character boundary are
   skipped 16 bytes at a time (SSE2) or 8 at a time (plain 64-bit words). */

#include <string.h>

#include "utf8.h"

#if defined __x86_64__ || defined __SSE2__
#include <emmintrin.h>
#define DILL_UTF8_SSE2 1
#endif

/* DFA states (as indices).  After a lead byte the DFA remembers how many
   continuation bytes are still due and, for E0/ED/F0/F4, the narrowed
   range the next one must fall into (RFC 3629 section 4). */
#define S_ACC 0 /* at a character boundary */
#define S_T1 1 /* one more 80..BF due */
#define S_T2 2 /* two more 80..BF due */
#define S_T3 3 /* three more 80..BF due */
#define S_E0 4 /* after E0: A0..BF, then one more */
#define S_ED 5 /* after ED: 80..9F (no surrogates), then one more */
#define S_F0 6 /* after F0: 90..BF (no overlongs), then two more */
#define S_F4 7 /* after F4: 80..8F (<= U+10FFFF), then two more */
#define S_REJ 8 /* invalid; absorbing */

#define F(s, next) ((uint64_t)((next) * 6) << ((s) * 6))
#define ROW(a, t1, t2, t3, e0, ed, f0, f4) \
    (F(S_ACC, a) | F(S_T1, t1) | F(S_T2, t2) | F(S_T3, t3) | \
     F(S_E0, e0) | F(S_ED, ed) | F(S_F0, f0) | F(S_F4, f4) | \
     F(S_REJ, S_REJ))
#define X S_REJ
#define LEAD(next) ROW(next, X, X, X, X, X, X, X)

/* Rows per byte class. */
#define R_ASCII LEAD(S_ACC)
#define R_80 ROW(X, S_ACC, S_T1, S_T2, X, S_T1, X, S_T2)
#define R_90 ROW(X, S_ACC, S_T1, S_T2, X, S_T1, S_T2, X)
#define R_A0 ROW(X, S_ACC, S_T1, S_T2, S_T1, X, S_T2, X)
#define R_BAD LEAD(X)

static const uint64_t dill__utf8_rows[256] = {
    [0x00 ... 0x7F] = R_ASCII,
    [0x80 ... 0x8F] = R_80,
    [0x90 ... 0x9F] = R_90,
    [0xA0 ... 0xBF] = R_A0,
    [0xC0 ... 0xC1] = R_BAD,
    [0xC2 ... 0xDF] = LEAD(S_T1),
    [0xE0] = LEAD(S_E0),
    [0xE1 ... 0xEC] = LEAD(S_T2),
    [0xED] = LEAD(S_ED),
    [0xEE ... 0xEF] = LEAD(S_T2),
    [0xF0] = LEAD(S_F0),
    [0xF1 ... 0xF3] = LEAD(S_T3),
    [0xF4] = LEAD(S_F4),
    [0xF5 ... 0xFF] = R_BAD,
};

#define ACC (S_ACC * 6)
#define REJ (S_REJ * 6)

/* How many bytes the DFA runs between checks for an error or for a return
   to a character boundary (where the ASCII fast path can resume). */
#define DILL_UTF8_BLOCK 32

/* Returns the first byte at or after p that is not ASCII, or end. */
static const uint8_t *dill__utf8_skip_ascii(const uint8_t *p,
      const uint8_t *end) {
#if defined DILL_UTF8_SSE2
    while(end - p >= 32) {
        __m128i a = _mm_loadu_si128((const __m128i*)p);
        __m128i b = _mm_loadu_si128((const __m128i*)(p + 16));
        if(_mm_movemask_epi8(_mm_or_si128(a, b))) {
            int m = _mm_movemask_epi8(a);
            if(m) return p + __builtin_ctz(m);
            return p + 16 + __builtin_ctz(_mm_movemask_epi8(b));
        }
        p += 32;
    }
    if(end - p >= 16) {
        int m = _mm_movemask_epi8(_mm_loadu_si128((const __m128i*)p));
        if(m) return p + __builtin_ctz(m);
        p += 16;
    }
#else
    while(end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w &= 0x8080808080808080ull;
        if(w) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(w) >> 3);
#else
            return p + (__builtin_clzll(w) >> 3);
#endif
        }
        p += 8;
    }
#endif
    while(p < end && *p < 0x80) p++;
    return p;
}

void dill__utf8_init(struct dill__utf8 *u) {
    u->state = ACC;
}

int dill__utf8_feed(struct dill__utf8 *u, const void *buf, size_t n) {
    const uint8_t *p = buf;
    const uint8_t *end = p + n;
    /* Only the low 6 bits of s are meaningful.  Masking the shift count
       with 63 is free on x86 (the instruction masks it anyway) and lets
       the loop skip clearing the garbage high bits at every step. */
    uint64_t s = u->state;
    if(s == REJ) return -1;
    if(n == 0) return 0;
    while(p < end) {
        if((s & 63) == ACC) {
            p = dill__utf8_skip_ascii(p, end);
            if(p == end) break;
        }
        const uint8_t *stop = end - p > DILL_UTF8_BLOCK ?
            p + DILL_UTF8_BLOCK : end;
        while(p < stop) s = dill__utf8_rows[*p++] >> (s & 63);
        if((s & 63) == REJ) break;
    }
    u->state = (uint32_t)(s & 63);
    return u->state == REJ ? -1 : 0;
}

int dill__utf8_complete(const struct dill__utf8 *u) {
    return u->state == ACC;
}

int dill__utf8_failed(const struct dill__utf8 *u) {
    return u->state == REJ;
}

int dill__utf8_valid(const void *p, size_t n) {
    struct dill__utf8 u;
    dill__utf8_init(&u);
    if(dill__utf8_feed(&u, p, n) < 0) return 0;
    return dill__utf8_complete(&u);
}
