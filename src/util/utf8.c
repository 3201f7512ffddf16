/* Incremental UTF-8 validator: a 9-state DFA in "shift" form.

   Each byte value maps to one 64-bit row holding, in 6-bit fields, the next
   state for every current state; a state is stored as its field's bit
   offset, so one step is a table load and a shift:
       state = row[byte] >> state
   The chain of dependent operations per byte is a single shift, which
   keeps multi-byte text fast; inputs of 256 bytes or more are cut in two
   and both halves run interleaved, which hides that latency.  Runs of
   ASCII at a character boundary are skipped 16 bytes at a time (SSE2) or
   8 at a time (plain 64-bit words; define DILL_NO_SIMD to test that path
   on x86-64). */

#include <string.h>

#include "utf8.h"

#if (defined __x86_64__ || defined __SSE2__) && !defined DILL_NO_SIMD
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

/* Only the low 6 bits of a state are meaningful.  Masking the shift count
   with 63 is free on x86 (the instruction masks it anyway) and lets the
   loops skip clearing the garbage high bits at every step. */
#define STEP(s, byte) ((s) = dill__utf8_rows[(byte)] >> ((s) & 63))

/* Single stream: runs the DFA from state s over [p, end), skipping ASCII
   runs while at a character boundary.  Returns the final state. */
static uint64_t dill__utf8_run(uint64_t s, const uint8_t *p,
      const uint8_t *end) {
    while(p < end) {
        if((s & 63) == ACC) {
            p = dill__utf8_skip_ascii(p, end);
            if(p == end) break;
        }
        if(end - p >= DILL_UTF8_BLOCK) {
#pragma GCC unroll 32
            for(int i = 0; i != DILL_UTF8_BLOCK; i++) STEP(s, p[i]);
            p += DILL_UTF8_BLOCK;
        }
        else {
            while(p < end) STEP(s, *p++);
        }
        if((s & 63) == REJ) break;
    }
    return s & 63;
}

static int dill__utf8_ascii16(const uint8_t *p) {
#if defined DILL_UTF8_SSE2
    return !_mm_movemask_epi8(_mm_loadu_si128((const __m128i*)p));
#else
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    return !((a | b) & 0x8080808080808080ull);
#endif
}

/* Two streams: a single DFA is bound by the latency of one shift per
   byte, so long inputs are cut in two at a character start and both
   halves run interleaved.  The first half must then end on a boundary:
   the byte at the cut is not a continuation byte, so a character left
   open before it could never be completed.  Returns the final state. */
static uint64_t dill__utf8_run2(uint64_t s, const uint8_t *p,
      const uint8_t *end) {
    const uint8_t *mid = p + (end - p) / 2;
    /* A valid text has at most 3 continuation bytes in a row; should the
       cut still land on one, the second stream rejects it at once. */
    for(int i = 0; i != 3 && (*mid & 0xC0) == 0x80; i++) mid++;
    const uint8_t *a = p, *b = mid;
    uint64_t t = ACC;
    while(mid - a >= 16 && end - b >= 16) {
        int skip_a = (s & 63) == ACC && dill__utf8_ascii16(a);
        int skip_b = (t & 63) == ACC && dill__utf8_ascii16(b);
        if(!skip_a && !skip_b) {
#pragma GCC unroll 16
            for(int i = 0; i != 16; i++) {
                STEP(s, a[i]);
                STEP(t, b[i]);
            }
        }
        else if(!skip_a) {
            for(int i = 0; i != 16; i++) STEP(s, a[i]);
        }
        else if(!skip_b) {
            for(int i = 0; i != 16; i++) STEP(t, b[i]);
        }
        a += 16;
        b += 16;
        if((s & 63) == REJ || (t & 63) == REJ) return REJ;
    }
    if(dill__utf8_run(s, a, mid) != ACC) return REJ;
    return dill__utf8_run(t, b, end);
}

/* Below this size the second stream does not pay for its setup. */
#define DILL_UTF8_TWO_STREAMS 256

void dill__utf8_init(struct dill__utf8 *u) {
    u->state = ACC;
}

int dill__utf8_feed(struct dill__utf8 *u, const void *buf, size_t n) {
    const uint8_t *p = buf;
    if(u->state == REJ) return -1;
    if(n == 0) return 0;
    const uint8_t *end = p + n;
    uint64_t s = u->state;
    /* Leading ASCII goes at full speed before any splitting. */
    if(s == ACC) p = dill__utf8_skip_ascii(p, end);
    if(end - p >= DILL_UTF8_TWO_STREAMS) s = dill__utf8_run2(s, p, end);
    else s = dill__utf8_run(s, p, end);
    u->state = (uint32_t)s;
    return s == REJ ? -1 : 0;
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
