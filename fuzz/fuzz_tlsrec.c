/* libFuzzer target: the own TLS 1.3 record layer's receive path
   (src/proto/tlsrec.c).  Byte 0 picks the suite (bits 0-1), our role (bit
   2: server), the mode (bit 3) and whether records are opened in place
   (bit 4).

   Raw mode: the rest is what a hostile peer sends after the handshake;
   it is read as tls.c reads it (record length, open, post-handshake
   messages, KeyUpdate of the read key, alerts) until the first error,
   which must be a documented alert.

   Seal mode: the rest is a list of records to make (content type, padding
   length, content length, content); they are sealed with one key, the
   stream is cut at places chosen by the input and opened with the other
   end of that key: every record must come back as sealed, and handshake
   records go through the post-handshake message parser. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tlsrec.h"

#define CHECK(x) do {if(!(x)) __builtin_trap();} while(0)

static const uint16_t suites[4] = {DILL__TLSREC_AES128GCM,
    DILL__TLSREC_AES256GCM, DILL__TLSREC_CHACHA20, DILL__TLSREC_AES128GCM};

static int known_alert(ssize_t rc) {
    return rc == -DILL__TLSREC_UNEXPECTED || rc == -DILL__TLSREC_BAD_MAC ||
        rc == -DILL__TLSREC_OVERFLOW || rc == -DILL__TLSREC_DECODE ||
        rc == -DILL__TLSREC_INTERNAL;
}

static void keys(uint16_t suite, struct dill__tlsrec_dir *w,
      struct dill__tlsrec_dir *r) {
    uint8_t s[48];
    for(int i = 0; i != 48; i++) s[i] = (uint8_t)(i * 29 + 3);
    size_t hl = suite == DILL__TLSREC_AES256GCM ? 48 : 32;
    memset(w, 0, sizeof(*w));
    memset(r, 0, sizeof(*r));
    CHECK(dill__tlsrec_init(w, suite, 1, s, hl) == 0);
    CHECK(dill__tlsrec_init(r, suite, 0, s, hl) == 0);
}

static uint8_t out[DILL__TLSREC_MAXCT];

static void raw(struct dill__tlsrec_dir *r, int server, int inplace,
      const uint8_t *in, size_t n) {
    uint8_t *buf = malloc(n ? n : 1);
    CHECK(buf);
    memcpy(buf, in, n);
    struct dill__tlsrec_hs hs;
    memset(&hs, 0, sizeof(hs));
    size_t off = 0;
    while(1) {
        ssize_t rl = dill__tlsrec_reclen(buf + off, n - off);
        if(rl < 0) {CHECK(known_alert(rl)); break;}
        if(rl == 0 || (size_t)rl > n - off) break;
        CHECK((size_t)rl <= DILL__TLSREC_MAXREC);
        uint8_t type = 0;
        ssize_t m = dill__tlsrec_open(r, buf + off, (size_t)rl,
            inplace ? NULL : out, &type);
        if(m < 0) {CHECK(known_alert(m)); break;}
        CHECK((size_t)m <= DILL__TLSREC_MAXPT && type != 0);
        const uint8_t *p = inplace ? buf + off + DILL__TLSREC_HDR : out;
        off += (size_t)rl;
        if(type == DILL__TLSREC_HANDSHAKE) {
            int ku = -1;
            int rc = dill__tlsrec_hsfeed(&hs, p, (size_t)m, server, &ku);
            if(rc < 0) {CHECK(known_alert(rc)); break;}
            CHECK(ku >= 0 && ku <= 2);
            if(ku) CHECK(dill__tlsrec_update(r) == 0);
        } else if(type == DILL__TLSREC_ALERT) {
            break;
        } else if(type != DILL__TLSREC_APPDATA) {
            break;
        }
    }
    free(buf);
}

struct made {
    uint8_t type;
    size_t off, len;                /* content in the input */
};

static void sealed(struct dill__tlsrec_dir *w, struct dill__tlsrec_dir *r,
      int server, int inplace, const uint8_t *in, size_t n) {
    struct dill__tlsrec_hs hs;
    memset(&hs, 0, sizeof(hs));
    struct made recs[64];
    size_t nrec = 0;
    uint8_t *wire = malloc(64 * DILL__TLSREC_MAXREC);
    CHECK(wire);
    size_t wlen = 0;
    size_t off = 0;
    while(nrec < 64 && off + 4 <= n) {
        uint8_t type = in[off] ? in[off] : 1;
        size_t pad = in[off + 1] * 7u;
        size_t len = (size_t)in[off + 2] << 8 | in[off + 3];
        off += 4;
        if(len > n - off) len = n - off;
        if(len > DILL__TLSREC_MAXPT) len = DILL__TLSREC_MAXPT;
        if(pad > DILL__TLSREC_MAXPT - len) pad = DILL__TLSREC_MAXPT - len;
        ssize_t rl = dill__tlsrec_seal(w, type, in + off, len, pad,
            wire + wlen, DILL__TLSREC_MAXREC);
        CHECK(rl == (ssize_t)(len + pad + DILL__TLSREC_OVERHEAD));
        recs[nrec].type = type;
        recs[nrec].off = off;
        recs[nrec].len = len;
        nrec++;
        wlen += (size_t)rl;
        off += len;
    }
    /* Opened as they come in pieces (cut by the remaining input). */
    size_t have = 0, at = 0, got = 0;
    uint32_t seed = n ? in[n - 1] : 7;
    while(got < nrec) {
        seed = seed * 1103515245u + 12345u;
        size_t k = 1 + (seed >> 16) % 3000;
        have = have + k < wlen ? have + k : wlen;
        while(got < nrec) {
            ssize_t rl = dill__tlsrec_reclen(wire + at, have - at);
            CHECK(rl >= 0);
            if(rl == 0 || (size_t)rl > have - at) break;
            uint8_t type = 0;
            ssize_t m = dill__tlsrec_open(r, wire + at, (size_t)rl,
                inplace ? NULL : out, &type);
            CHECK(m == (ssize_t)recs[got].len && type == recs[got].type);
            CHECK(memcmp(inplace ? wire + at + DILL__TLSREC_HDR : out,
                in + recs[got].off, (size_t)m) == 0);
            at += (size_t)rl;
            got++;
            if(type != DILL__TLSREC_HANDSHAKE) continue;
            /* The peer's post-handshake messages; a KeyUpdate changes the
               key, after which the rest (sealed with the old one) cannot
               be opened: the run ends there. */
            int ku = -1;
            int rc = dill__tlsrec_hsfeed(&hs, inplace ? wire + at - rl +
                DILL__TLSREC_HDR : out, (size_t)m, server, &ku);
            if(rc < 0) CHECK(known_alert(rc));
            if(rc < 0 || ku) {free(wire); return;}
        }
    }
    CHECK(at == wlen);
    free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if(size < 1) return 0;
    uint8_t cfg = data[0];
    struct dill__tlsrec_dir w, r;
    keys(suites[cfg & 3], &w, &r);
    if(cfg & 8) sealed(&w, &r, cfg & 4, cfg & 16, data + 1, size - 1);
    else raw(&r, cfg & 4, cfg & 16, data + 1, size - 1);
    dill__tlsrec_term(&w);
    dill__tlsrec_term(&r);
    return 0;
}
