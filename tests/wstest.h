/* Helpers shared by the WebSocket tests: connected WebSocket pairs over
   ipc_pair and TCP, and a raw peer that reads and writes hand-built frames.
   Header-only (static functions). */

#ifndef DILL_TESTS_WSTEST_H
#define DILL_TESTS_WSTEST_H

#include "assert.h"
#include "libdillimpl.h"
#include "bpair.h"
#include "proto/wsframe.h"

/* Allowed lateness of a deadline (loaded machines, sanitizers). */
#define SLACK 3000  /* upper bounds only prove that a wait was bounded; loaded CI machines are slow */

#define WST_UNUSED __attribute__((unused))

static struct dill_ws_options wst_sopts = DILL_WS_OPTIONS_INIT;

coroutine static void wst_server(int s, int ch, int flags) {
    char res[256], host[256];
    struct dill_ws_options o = wst_sopts;
    o.flags = flags;
    int h = ws_attach_server_opts(s, res, sizeof(res), host, sizeof(host), &o,
        NULL, now() + 5000);
    int err = errno;
    errno_assert(chsend(ch, &h, sizeof(h), -1) == 0);
    errno_assert(chsend(ch, &err, sizeof(err), -1) == 0);
}

/* When set, called on every bytestream pair (*a client, *b server) before
   the WebSocket handshakes, e.g. to shrink socket buffers. */
static void (*wst_bpair_hook)(int a, int b) WST_UNUSED;

/* Bytestream pair: *a and *b connected, over TCP (tcp set) or IPC. */
static void wst_bpair(int tcp, int *a, int *b) {
    int p[2];
    bpair(tcp, p);
    *a = p[0];
    *b = p[1];
    if(wst_bpair_hook) wst_bpair_hook(*a, *b);
}

/* A connected WebSocket pair: *c client, *s server.  copts may be NULL.
   Returns 0, or -1 with errno from the failing side (server's errno in
   *serr when given). */
WST_UNUSED static int wst_pair_opts(int tcp, int cflags, int sflags,
      const struct dill_ws_options *copts, int *c, int *s, int *serr) {
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int a, b;
    wst_bpair(tcp, &a, &b);
    int cr = go(wst_server(b, ch[1], sflags));
    errno_assert(cr >= 0);
    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    if(copts) o = *copts;
    o.flags = cflags;
    *c = ws_attach_client_opts(a, "/path", "localhost", &o, NULL,
        now() + 5000);
    int cerr = errno;
    int err;
    errno_assert(chrecv(ch[0], s, sizeof(*s), -1) == 0);
    errno_assert(chrecv(ch[0], &err, sizeof(err), -1) == 0);
    if(serr) *serr = err;
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    if(*c < 0) {errno = cerr; return -1;}
    if(*s < 0) {errno = err; return -1;}
    return 0;
}

WST_UNUSED static void wst_pair(int tcp, int flags, int *c, int *s) {
    errno_assert(wst_pair_opts(tcp, flags, flags, NULL, c, s, NULL) == 0);
}

/******************************************************************************/
/*  Raw peer                                                                  */
/******************************************************************************/

/* Writes one frame with arbitrary header bits.  mask: 1 to mask with a
   fixed key.  len64: force the 64-bit length form. */
WST_UNUSED static void raw_frame(int s, int b0, int mask, const void *p,
      size_t n) {
    uint8_t f[DILL__WS_HDR_MAX + 65536 + 16];
    assert(n <= 65536 + 16);
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t hl = dill__ws_build_header(f, (b0 >> 7) & 1, b0 & 0x0f,
        b0 & 0x70, mask ? key : NULL, n);
    memcpy(f + hl, p, n);
    if(mask) dill__ws_mask(f + hl, f + hl, n, key, 0);
    errno_assert(bsend(s, f, hl + n, now() + 2000) == 0);
}

/* A frame as read by the raw peer. */
struct raw_rx {
    int fin, rsv, op, masked;
    size_t len;
    uint8_t p[70000];
};

/* Reads one frame (unmasking it).  Returns 0 or -1 (errno from brecv). */
WST_UNUSED static int raw_read(int s, struct raw_rx *f, int64_t deadline) {
    uint8_t h[DILL__WS_HDR_MAX];
    if(brecv(s, h, 2, deadline) < 0) return -1;
    size_t hl = dill__ws_header_len(h[1]);
    if(hl > 2 && brecv(s, h + 2, hl - 2, deadline) < 0) return -1;
    struct dill__ws_hdr hd;
    assert(dill__ws_parse_header(h, hl, &hd) == (int)hl);
    f->fin = hd.fin;
    f->rsv = hd.rsv;
    f->op = hd.opcode;
    f->masked = hd.masked;
    f->len = (size_t)hd.len;
    assert(f->len <= sizeof(f->p));
    if(f->len && brecv(s, f->p, f->len, deadline) < 0) return -1;
    if(hd.masked) dill__ws_mask(f->p, f->p, f->len, hd.key, 0);
    return 0;
}

/* Reads frames until a Close; returns its status (0 = none, -1 = the
   stream ended first).  Pings and data are skipped. */
WST_UNUSED static int raw_until_close(int s, int64_t deadline) {
    static struct raw_rx f;
    while(1) {
        if(raw_read(s, &f, deadline) < 0) return -1;
        if(f.op == DILL__WS_CLOSE)
            return f.len >= 2 ? (f.p[0] << 8 | f.p[1]) : 0;
    }
}

#endif
