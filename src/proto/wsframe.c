/* WebSocket frame codec (RFC 6455 sections 5 and 7).  See wsframe.h. */

#include <errno.h>
#include <string.h>

#include "wsframe.h"

/* SSE2 on x86-64; plain 64-bit words elsewhere (or with DILL_NO_SIMD,
   which lets the tests cover that path on x86-64 too). */
#if (defined __x86_64__ || defined __SSE2__) && !defined DILL_NO_SIMD
#include <emmintrin.h>
#define DILL_WS_SSE2 1
#endif

/******************************************************************************/
/*  Headers                                                                   */
/******************************************************************************/

size_t dill__ws_header_len(uint8_t second) {
    unsigned len7 = second & 0x7F;
    size_t extlen = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    return 2 + extlen + ((second & 0x80) ? 4 : 0);
}

int dill__ws_parse_header(const uint8_t *buf, size_t n,
      struct dill__ws_hdr *h) {
    if(n < 2) return 0;
    unsigned len7 = buf[1] & 0x7F;
    int masked = (buf[1] & 0x80) != 0;
    /* A 64-bit length with the top bit set can never be valid; say so as
       soon as its first byte is there rather than waiting for the rest. */
    if(len7 == 127 && n >= 3 && (buf[2] & 0x80)) return -EPROTO;
    size_t extlen = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    size_t hlen = dill__ws_header_len(buf[1]);
    if(n < hlen) return 0;
    uint64_t len = len7;
    int minimal = 1;
    if(extlen) {
        len = 0;
        for(size_t i = 0; i != extlen; i++) len = (len << 8) | buf[2 + i];
        minimal = extlen == 2 ? len >= 126 : len > 0xFFFF;
    }
    h->fin = buf[0] >> 7;
    h->rsv = buf[0] & DILL__WS_RSV_ALL;
    h->opcode = buf[0] & 0x0F;
    h->masked = (uint8_t)masked;
    h->minimal = (uint8_t)minimal;
    if(masked) memcpy(h->key, buf + 2 + extlen, 4);
    else memset(h->key, 0, 4);
    h->len = len;
    return (int)hlen;
}

/* Rules that depend on nothing but the header and the connection's fixed
   settings.  Returns 0 or a close code. */
static int dill__ws_check_frame(const struct dill__ws_conn *c,
      const struct dill__ws_hdr *h) {
    int op = h->opcode;
    if(op > DILL__WS_BINARY && op < DILL__WS_CLOSE) return 1002;
    if(op > DILL__WS_PONG) return 1002;
    /* Extensions may only mark the first frame of a data message. */
    int first = op == DILL__WS_TEXT || op == DILL__WS_BINARY;
    if(h->rsv & ~(first ? c->rsv : 0)) return 1002;
    if(h->len >> 63) return 1002;
    if(!h->minimal && (c->flags & DILL__WS_STRICT_LENGTH)) return 1002;
    /* Section 5.1: clients mask, servers do not. */
    if(!h->masked != !(c->flags & DILL__WS_SERVER)) return 1002;
    /* Section 5.5: control frames are short and never fragmented. */
    if(dill__ws_is_control(op) &&
          (!h->fin || h->len > DILL__WS_CONTROL_MAX))
        return 1002;
    return 0;
}

int dill__ws_check(struct dill__ws_conn *c, const struct dill__ws_hdr *h) {
    int rc = dill__ws_check_frame(c, h);
    if(rc) return rc;
    if(dill__ws_is_control(h->opcode)) return 0;
    /* Section 5.4: fragments of one message are contiguous; only control
       frames may come between them. */
    uint64_t sofar;
    if(h->opcode == DILL__WS_CONT) {
        if(!c->msg_opcode) return 1002;
        sofar = c->msg_len;
    }
    else {
        if(c->msg_opcode) return 1002;
        sofar = 0;
    }
    if(c->max_msg && (h->len > c->max_msg || sofar > c->max_msg - h->len))
        return 1009;
    if(h->opcode != DILL__WS_CONT) {
        c->msg_opcode = h->opcode;
        c->msg_rsv = h->rsv;
    }
    /* Saturate instead of wrapping when there is no limit. */
    c->msg_len = sofar + h->len < sofar ? UINT64_MAX : sofar + h->len;
    if(h->fin) c->msg_opcode = DILL__WS_CONT;
    return 0;
}

size_t dill__ws_build_header(uint8_t out[DILL__WS_HDR_MAX], int fin,
      int opcode, int rsv, const uint8_t *mask, uint64_t len) {
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv & DILL__WS_RSV_ALL) |
        (opcode & 0x0F));
    uint8_t m = mask ? 0x80 : 0;
    size_t pos;
    if(len < 126) {
        out[1] = m | (uint8_t)len;
        pos = 2;
    }
    else if(len <= 0xFFFF) {
        out[1] = m | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        pos = 4;
    }
    else {
        out[1] = m | 127;
        for(int i = 0; i != 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        pos = 10;
    }
    if(mask) {
        memcpy(out + pos, mask, 4);
        pos += 4;
    }
    return pos;
}

/******************************************************************************/
/*  Masking                                                                   */
/******************************************************************************/

/* Rotates a key held as a 32-bit word (in memory byte order) so that
   its first byte becomes the one at position by (0..3).  Kept in a
   register: building the key byte by byte in memory and reading it back
   as a word would stall on store forwarding, which dominates short
   payloads. */
static inline uint32_t dill__ws_rotkey(uint32_t k, size_t by) {
    unsigned r = (unsigned)(by & 3) * 8;
    if(!r) return k;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (k >> r) | (k << (32 - r));
#else
    return (k << r) | (k >> (32 - r));
#endif
}

/* XORs the n (< 8) bytes at s with the key word k, into d. */
static inline void dill__ws_mask_tail(uint8_t *d, const uint8_t *s,
      size_t n, uint32_t k) {
    if(n >= 4) {
        uint32_t w;
        memcpy(&w, s, 4);
        w ^= k;
        memcpy(d, &w, 4);
        d += 4;
        s += 4;
        n -= 4;
    }
    uint8_t kb[4];
    memcpy(kb, &k, 4);
    for(size_t i = 0; i != n; i++) d[i] = s[i] ^ kb[i];
}

void dill__ws_mask(void *dst, const void *src, size_t n,
      const uint8_t key[4], size_t offset) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    /* k is the key rotated so that its first byte applies to s[0]; every
       step below is a multiple of 4 bytes, which keeps it in phase. */
    uint32_t k;
    memcpy(&k, key, 4);
    k = dill__ws_rotkey(k, offset);
#if defined DILL_WS_SSE2
    if(n >= 128) {
        /* Align the stores; loads stay unaligned (dst and src may differ
           in alignment). */
        size_t head = (16 - ((uintptr_t)d & 15)) & 15;
        if(head) {
            uint8_t kb[4];
            memcpy(kb, &k, 4);
            for(size_t i = 0; i != head; i++) d[i] = s[i] ^ kb[i & 3];
            d += head;
            s += head;
            n -= head;
            k = dill__ws_rotkey(k, head);
        }
        __m128i kv = _mm_set1_epi32((int)k);
        while(n >= 64) {
            __m128i a = _mm_loadu_si128((const __m128i*)s);
            __m128i b = _mm_loadu_si128((const __m128i*)(s + 16));
            __m128i c = _mm_loadu_si128((const __m128i*)(s + 32));
            __m128i e = _mm_loadu_si128((const __m128i*)(s + 48));
            _mm_store_si128((__m128i*)d, _mm_xor_si128(a, kv));
            _mm_store_si128((__m128i*)(d + 16), _mm_xor_si128(b, kv));
            _mm_store_si128((__m128i*)(d + 32), _mm_xor_si128(c, kv));
            _mm_store_si128((__m128i*)(d + 48), _mm_xor_si128(e, kv));
            d += 64;
            s += 64;
            n -= 64;
        }
    }
    if(n >= 16) {
        __m128i kv = _mm_set1_epi32((int)k);
        do {
            __m128i a = _mm_loadu_si128((const __m128i*)s);
            _mm_storeu_si128((__m128i*)d, _mm_xor_si128(a, kv));
            d += 16;
            s += 16;
            n -= 16;
        } while(n >= 16);
    }
#endif
    /* Words of 8 (the whole loop on targets without SSE2). */
    uint64_t k64 = (uint64_t)k << 32 | k;
    while(n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        w ^= k64;
        memcpy(d, &w, 8);
        d += 8;
        s += 8;
        n -= 8;
    }
    dill__ws_mask_tail(d, s, n, k);
}

size_t dill__ws_build_frame(uint8_t *out, int fin, int opcode, int rsv,
      const uint8_t *mask, const void *payload, size_t len) {
    size_t hlen = dill__ws_build_header(out, fin, opcode, rsv, mask, len);
    if(len) {
        if(mask) dill__ws_mask(out + hlen, payload, len, mask, 0);
        else memcpy(out + hlen, payload, len);
    }
    return hlen + len;
}

/******************************************************************************/
/*  Close frames (sections 5.5.1 and 7.4)                                     */
/******************************************************************************/

/* RFC 6455 section 7.4 plus the IANA "WebSocket Close Code Number"
   registry, which added 1012-1014 after the RFC (1015, like 1005 and 1006,
   is for reporting only and never goes on the wire). */
int dill__ws_close_code_valid(int code) {
    if(code >= 1000 && code <= 1003) return 1;
    if(code >= 1007 && code <= 1014) return 1;
    return code >= 3000 && code <= 4999;
}

int dill__ws_close_parse(const uint8_t *p, size_t n, int *code,
      const uint8_t **reason, size_t *reasonlen) {
    int c = DILL__WS_NO_STATUS;
    const uint8_t *r = p;
    size_t rl = 0;
    if(n == 1) return 1002;
    if(n >= 2) {
        c = (p[0] << 8) | p[1];
        if(!dill__ws_close_code_valid(c)) return 1002;
        r = p + 2;
        rl = n - 2;
        if(!dill__utf8_valid(r, rl)) return 1007;
    }
    if(code) *code = c;
    if(reason) *reason = r;
    if(reasonlen) *reasonlen = rl;
    return 0;
}

int dill__ws_close_build(uint8_t out[DILL__WS_CONTROL_MAX], int code,
      const void *reason, size_t reasonlen) {
    if(code == 0) return reasonlen ? -EINVAL : 0;
    if(!dill__ws_close_code_valid(code)) return -EINVAL;
    if(reasonlen > DILL__WS_CONTROL_MAX - 2) return -EMSGSIZE;
    if(!dill__utf8_valid(reason, reasonlen)) return -EILSEQ;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if(reasonlen) memcpy(out + 2, reason, reasonlen);
    return (int)(reasonlen + 2);
}

/******************************************************************************/
/*  Incremental decoder                                                       */
/******************************************************************************/

#define PH_HEADER 0 /* collecting a header */
#define PH_PAYLOAD 1 /* delivering payload; END once pos == hdr.len */
#define PH_DEAD 2 /* failed */

void dill__ws_dec_init(struct dill__ws_dec *d, int conn_flags, int rsv,
      uint64_t max_msg, int flags) {
    memset(d, 0, sizeof(*d));
    d->conn.flags = conn_flags;
    d->conn.rsv = (uint8_t)(rsv & DILL__WS_RSV_ALL);
    d->conn.max_msg = max_msg;
    d->flags = (uint8_t)flags;
    d->phase = PH_HEADER;
    dill__utf8_init(&d->utf8);
}

static size_t dill__ws_fail(struct dill__ws_dec *d, int code,
      struct dill__ws_ev *ev) {
    d->phase = PH_DEAD;
    d->error = (uint16_t)code;
    ev->type = DILL__WS_EV_ERROR;
    ev->code = code;
    return 0;
}

/* A complete header has been parsed into d->hdr: check it and report. */
static int dill__ws_dec_header(struct dill__ws_dec *d,
      struct dill__ws_ev *ev) {
    int rc = dill__ws_check(&d->conn, &d->hdr);
    if(rc) return rc;
    if(d->hdr.opcode == DILL__WS_TEXT || d->hdr.opcode == DILL__WS_BINARY) {
        /* A transformed payload (extension RSV bits) is checked by the
           extension after it undoes the transformation. */
        d->utf8_on = d->hdr.opcode == DILL__WS_TEXT && !d->hdr.rsv &&
            (d->flags & DILL__WS_DEC_UTF8);
        dill__utf8_init(&d->utf8);
    }
    d->pos = 0;
    d->phase = PH_PAYLOAD;
    ev->type = DILL__WS_EV_HEADER;
    ev->hdr = d->hdr;
    return 0;
}

/* Header phase: returns bytes consumed; sets ev->type to MORE or HEADER, or
   fails the decoder. */
static size_t dill__ws_dec_hdrbytes(struct dill__ws_dec *d, uint8_t *buf,
      size_t n, struct dill__ws_ev *ev) {
    int r;
    size_t used;
    if(d->hlen == 0) {
        /* Common case: the whole header is in the caller's buffer. */
        r = dill__ws_parse_header(buf, n, &d->hdr);
        used = r > 0 ? (size_t)r : n;
        if(r == 0) {
            /* n < DILL__WS_HDR_MAX here, as the header is incomplete. */
            memcpy(d->hbuf, buf, n);
            d->hlen = (uint8_t)n;
        }
    }
    else {
        size_t old = d->hlen;
        size_t take = DILL__WS_HDR_MAX - old;
        if(take > n) take = n;
        memcpy(d->hbuf + old, buf, take);
        r = dill__ws_parse_header(d->hbuf, old + take, &d->hdr);
        if(r > 0) {
            used = (size_t)r - old;
            d->hlen = 0;
        }
        else {
            used = take;
            d->hlen = (uint8_t)(old + take);
        }
    }
    if(r < 0) return dill__ws_fail(d, 1002, ev);
    if(r == 0) {
        ev->type = DILL__WS_EV_MORE;
        return used;
    }
    r = dill__ws_dec_header(d, ev);
    if(r) return dill__ws_fail(d, r, ev);
    return used;
}

size_t dill__ws_decode(struct dill__ws_dec *d, uint8_t *buf, size_t n,
      struct dill__ws_ev *ev) {
    ev->data = NULL;
    ev->len = 0;
    ev->offset = 0;
    ev->msg_end = 0;
    ev->code = 0;
    if(d->phase == PH_DEAD) return dill__ws_fail(d, d->error, ev);
    if(d->phase == PH_HEADER) {
        if(n == 0) {
            ev->type = DILL__WS_EV_MORE;
            return 0;
        }
        return dill__ws_dec_hdrbytes(d, buf, n, ev);
    }
    ev->hdr = d->hdr;
    int control = dill__ws_is_control(d->hdr.opcode);
    if(d->pos == d->hdr.len) {
        int msg_end = !control && d->hdr.fin;
        if(msg_end && d->utf8_on && !dill__utf8_complete(&d->utf8))
            return dill__ws_fail(d, 1007, ev);
        d->phase = PH_HEADER;
        ev->type = DILL__WS_EV_END;
        ev->msg_end = msg_end;
        return 0;
    }
    if(n == 0) {
        ev->type = DILL__WS_EV_MORE;
        return 0;
    }
    uint64_t left = d->hdr.len - d->pos;
    size_t chunk = left < n ? (size_t)left : n;
    if(d->hdr.masked) dill__ws_mask(buf, buf, chunk, d->hdr.key, d->pos);
    if(!control && d->utf8_on && dill__utf8_feed(&d->utf8, buf, chunk) < 0)
        return dill__ws_fail(d, 1007, ev);
    ev->type = DILL__WS_EV_DATA;
    ev->data = buf;
    ev->len = chunk;
    ev->offset = d->pos;
    d->pos += chunk;
    return chunk;
}
