/* RFC 6455 conformance with a raw peer: a socket on which the test writes
   hand-built frames and reads what our endpoint answers.  The groups follow
   the usual compliance-suite sections: framing, ping/pong, reserved bits,
   opcodes, fragmentation, UTF-8 handling, close handling, limits.  Each
   case runs against our server and our client where it applies. */

#include <stdio.h>

#include "wstest.h"

struct env {
    int us;      /* our endpoint */
    int raw;     /* the raw peer's socket */
    int server;  /* our endpoint is the server (the raw peer masks) */
};

static struct raw_rx rx;

static void setup(struct env *e, int server, size_t maxmsg) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    o.flags = WS_NOHTTP;
    o.max_message = maxmsg;
    e->server = server;
    e->raw = p[1];
    e->us = server ?
        ws_attach_server_opts(p[0], NULL, 0, NULL, 0, &o, NULL, -1) :
        ws_attach_client_opts(p[0], NULL, NULL, &o, NULL, -1);
    errno_assert(e->us >= 0);
}

static void teardown(struct env *e) {
    errno_assert(hclose(e->us) == 0);
    errno_assert(hclose(e->raw) == 0);
}

/* A frame from the raw peer, masked when it goes to our server. */
static void rawf(struct env *e, int b0, const void *p, size_t n) {
    raw_frame(e->raw, b0, e->server, p, n);
}

/* Hand-made header bytes h[0..hl) (mask bit clear, no key) and payload;
   the mask bit and a key are added for our server. */
static void rawh(struct env *e, const uint8_t *h, size_t hl, const void *p,
      size_t n) {
    uint8_t f[64 + 200];
    assert(hl + 4 + n <= sizeof(f));
    memcpy(f, h, hl);
    size_t len = hl;
    static const uint8_t key[4] = {1, 2, 3, 4};
    if(e->server) {
        f[1] |= 0x80;
        memcpy(f + len, key, 4);
        len += 4;
    }
    memcpy(f + len, p, n);
    if(e->server) dill__ws_mask(f + len, f + len, n, key, 0);
    errno_assert(bsend(e->raw, f, len + n, -1) == 0);
}

/* Our endpoint receives one message and it must be (type, p, n). */
static void expect_msg(struct env *e, int type, const void *p, size_t n) {
    static uint8_t buf[70000];
    int flags;
    ssize_t r = ws_recv(e->us, &flags, buf, sizeof(buf), now() + 2000);
    errno_assert(r >= 0);
    assert((size_t)r == n && flags == type);
    assert(memcmp(buf, p, n) == 0);
}

/* Our endpoint fails the connection: the receiving call fails with err and
   the raw peer gets a Close with code. */
static void expect_fail(struct env *e, int code, int err) {
    char buf[256];
    int flags;
    int64_t t = now();
    assert_err(ws_recv(e->us, &flags, buf, sizeof(buf), now() + 2000), err);
    /* Failing is immediate; no waiting for more input. */
    assert(now() - t < SLACK);
    assert(raw_until_close(e->raw, now() + 2000) == code);
    assert_err(ws_recv(e->us, &flags, buf, sizeof(buf), 0), err);
}

/* The next frame the raw peer reads is op with payload p. */
static void expect_frame(struct env *e, int op, const void *p, size_t n) {
    errno_assert(raw_read(e->raw, &rx, now() + 2000) == 0);
    assert(rx.op == op && rx.fin == 1 && rx.rsv == 0);
    assert(rx.masked == !e->server);
    assert(rx.len == n && memcmp(rx.p, p, n) == 0);
}

/******************************************************************************/
/*  Groups                                                                    */
/******************************************************************************/

static void g_framing(int server) {
    struct env e;
    static uint8_t big[65536];
    for(size_t i = 0; i != sizeof(big); i++) big[i] = (uint8_t)(i % 95 + 32);
    static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536};
    setup(&e, server, 0);
    for(size_t i = 0; i != sizeof(sizes) / sizeof(sizes[0]); i++) {
        rawf(&e, 0x81, big, sizes[i]);
        expect_msg(&e, WS_TEXT, big, sizes[i]);
        rawf(&e, 0x82, big, sizes[i]);
        expect_msg(&e, WS_BINARY, big, sizes[i]);
        /* What we send: FIN, no RSV, minimal length, masked by the client
           only. */
        errno_assert(ws_send(e.us, WS_BINARY, big, sizes[i], -1) == 0);
        uint8_t h[2];
        errno_assert(brecv(e.raw, h, 2, -1) == 0);
        size_t l7 = h[1] & 0x7f;
        assert(h[0] == 0x82);
        assert(!!(h[1] & 0x80) == !server);
        assert(sizes[i] < 126 ? l7 == sizes[i] :
            sizes[i] < 65536 ? l7 == 126 : l7 == 127);
        size_t rest = dill__ws_header_len(h[1]) - 2 + sizes[i];
        errno_assert(brecv(e.raw, NULL, rest, -1) == 0);
    }
    /* Non-minimal length encodings are accepted. */
    uint8_t h16[4] = {0x82, 126, 0, 5};
    rawh(&e, h16, 4, "abcde", 5);
    expect_msg(&e, WS_BINARY, "abcde", 5);
    uint8_t h64[10] = {0x82, 127, 0, 0, 0, 0, 0, 0, 0, 3};
    rawh(&e, h64, 10, "xyz", 3);
    expect_msg(&e, WS_BINARY, "xyz", 3);
    /* Many small frames in one write. */
    /* The byte is (uint8_t)i, not the first byte of i (which is its high
       byte on a big-endian host). */
    for(int i = 0; i != 100; i++) {
        uint8_t b = (uint8_t)i;
        rawf(&e, 0x82, &b, 1);
    }
    for(int i = 0; i != 100; i++) {
        uint8_t b = (uint8_t)i;
        expect_msg(&e, WS_BINARY, &b, 1);
    }
    teardown(&e);
    /* 64-bit length with the top bit set. */
    setup(&e, server, 0);
    uint8_t hbad[10] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1};
    rawh(&e, hbad, 10, "", 0);
    expect_fail(&e, 1002, EPROTO);
    teardown(&e);
    /* Masking rules: a server needs masked frames, a client unmasked. */
    setup(&e, server, 0);
    raw_frame(e.raw, 0x82, !server, "a", 1);
    expect_fail(&e, 1002, EPROTO);
    teardown(&e);
}

static void g_pingpong(int server) {
    struct env e;
    uint8_t p125[125];
    memset(p125, 'p', sizeof(p125));
    setup(&e, server, 0);
    rawf(&e, 0x89, "", 0);
    rawf(&e, 0x89, "hello", 5);
    rawf(&e, 0x89, p125, 125);
    rawf(&e, 0x8A, "unsolicited", 11);
    rawf(&e, 0x82, "m", 1);
    expect_msg(&e, WS_BINARY, "m", 1);
    expect_frame(&e, 0xA, "", 0);
    expect_frame(&e, 0xA, "hello", 5);
    expect_frame(&e, 0xA, p125, 125);
    /* 10 pings, 10 pongs. */
    for(int i = 0; i != 10; i++) {
        uint8_t b = (uint8_t)i;
        rawf(&e, 0x89, &b, 1);
    }
    rawf(&e, 0x82, "n", 1);
    expect_msg(&e, WS_BINARY, "n", 1);
    for(int i = 0; i != 10; i++) {
        uint8_t b = (uint8_t)i;
        expect_frame(&e, 0xA, &b, 1);
    }
    /* Our own ping. */
    errno_assert(ws_ping(e.us, "mine", 4, -1) == 0);
    expect_frame(&e, 0x9, "mine", 4);
    assert_err(ws_ping(e.us, p125, 126, -1), EINVAL);
    teardown(&e);
    /* Control payload over 125 bytes. */
    setup(&e, server, 0);
    uint8_t h[4] = {0x89, 126, 0, 126};
    uint8_t p126[126] = {0};
    rawh(&e, h, 4, p126, 126);
    expect_fail(&e, 1002, EPROTO);
    teardown(&e);
    /* Fragmented ping. */
    setup(&e, server, 0);
    rawf(&e, 0x09, "a", 1);
    expect_fail(&e, 1002, EPROTO);
    teardown(&e);
}

static void g_reserved(int server) {
    static const int b0[] = {0xC1, 0xA2, 0x91, 0xF1, 0xC9, 0xC0};
    for(size_t i = 0; i != sizeof(b0) / sizeof(b0[0]); i++) {
        struct env e;
        setup(&e, server, 0);
        /* A valid message before the bad frame is still delivered. */
        rawf(&e, 0x81, "ok", 2);
        rawf(&e, b0[i], "x", 1);
        expect_msg(&e, WS_TEXT, "ok", 2);
        expect_fail(&e, 1002, EPROTO);
        teardown(&e);
    }
}

static void g_opcodes(int server) {
    static const int ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for(size_t i = 0; i != sizeof(ops) / sizeof(ops[0]); i++) {
        struct env e;
        setup(&e, server, 0);
        rawf(&e, 0x80 | ops[i], "", 0);
        expect_fail(&e, 1002, EPROTO);
        teardown(&e);
    }
}

static void g_fragmentation(int server) {
    struct env e;
    setup(&e, server, 0);
    rawf(&e, 0x01, "Hel", 3);
    rawf(&e, 0x89, "p1", 2);
    rawf(&e, 0x00, "", 0);
    rawf(&e, 0x00, "lo", 2);
    rawf(&e, 0x8A, "pong", 4);
    rawf(&e, 0x89, "p2", 2);
    rawf(&e, 0x80, " you", 4);
    expect_msg(&e, WS_TEXT, "Hello you", 9);
    expect_frame(&e, 0xA, "p1", 2);
    expect_frame(&e, 0xA, "p2", 2);
    /* Empty fragments only. */
    rawf(&e, 0x02, "", 0);
    rawf(&e, 0x00, "", 0);
    rawf(&e, 0x80, "", 0);
    expect_msg(&e, WS_BINARY, "", 0);
    /* What we send in parts. */
    errno_assert(ws_send_part(e.us, WS_TEXT | WS_MORE, "ab", 2, -1) == 0);
    errno_assert(ws_ping(e.us, "x", 1, -1) == 0);
    errno_assert(ws_send_part(e.us, 0, "cd", 2, -1) == 0);
    errno_assert(raw_read(e.raw, &rx, -1) == 0);
    assert(rx.op == 1 && rx.fin == 0 && rx.len == 2);
    expect_frame(&e, 0x9, "x", 1);
    errno_assert(raw_read(e.raw, &rx, -1) == 0);
    assert(rx.op == 0 && rx.fin == 1 && memcmp(rx.p, "cd", 2) == 0);
    /* Receiving in pieces. */
    rawf(&e, 0x02, "123", 3);
    rawf(&e, 0x80, "45", 2);
    char buf[8];
    int flags;
    size_t got = 0;
    do {
        ssize_t r = ws_recv_part(e.us, &flags, buf + got, 2, now() + 1000);
        errno_assert(r >= 0);
        got += (size_t)r;
    } while(flags & WS_MORE);
    assert(got == 5 && memcmp(buf, "12345", 5) == 0);
    assert(flags == WS_BINARY);
    teardown(&e);
    /* Continuation with no message. */
    setup(&e, server, 0);
    rawf(&e, 0x80, "x", 1);
    expect_fail(&e, 1002, EPROTO);
    teardown(&e);
    /* A new message inside a fragmented one. */
    setup(&e, server, 0);
    rawf(&e, 0x01, "a", 1);
    rawf(&e, 0x81, "b", 1);
    expect_fail(&e, 1002, EPROTO);
    teardown(&e);
    setup(&e, server, 0);
    rawf(&e, 0x02, "a", 1);
    rawf(&e, 0x02, "b", 1);
    expect_fail(&e, 1002, EPROTO);
    teardown(&e);
}

static void g_utf8(int server) {
    struct env e;
    setup(&e, server, 0);
    /* Valid: every length of character, split at every point. */
    static const char txt[] = "a\xc2\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
    size_t n = sizeof(txt) - 1;
    for(size_t cut = 0; cut <= n; cut++) {
        rawf(&e, 0x01, txt, cut);
        rawf(&e, 0x80, txt + cut, n - cut);
        expect_msg(&e, WS_TEXT, txt, n);
    }
    /* Binary messages are not checked. */
    rawf(&e, 0x82, "\xff\xfe", 2);
    expect_msg(&e, WS_BINARY, "\xff\xfe", 2);
    teardown(&e);
    static const char *bad[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80",
        "\xf4\x90\x80\x80", "\xe0\x80\xaf", "a\x80", "\xf8\x88\x80\x80\x80"};
    for(size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); i++) {
        setup(&e, server, 0);
        rawf(&e, 0x81, bad[i], strlen(bad[i]));
        expect_fail(&e, 1007, EPROTO);
        teardown(&e);
        /* Split across fragments. */
        setup(&e, server, 0);
        rawf(&e, 0x01, bad[i], 1);
        rawf(&e, 0x80, bad[i] + 1, strlen(bad[i]) - 1);
        expect_fail(&e, 1007, EPROTO);
        teardown(&e);
    }
    /* Fail fast: the rest of the message never comes. */
    setup(&e, server, 0);
    rawf(&e, 0x01, "ok\xed\xa0", 4);
    expect_fail(&e, 1007, EPROTO);
    teardown(&e);
    /* Incomplete character at the end of the message. */
    setup(&e, server, 0);
    rawf(&e, 0x81, "\xe2\x82", 2);
    expect_fail(&e, 1007, EPROTO);
    teardown(&e);
}

static void close_frame(struct env *e, int code, const char *reason) {
    uint8_t p[130];
    size_t n = 0;
    if(code >= 0) {
        p[0] = (uint8_t)(code >> 8);
        p[1] = (uint8_t)code;
        n = 2;
        size_t rl = strlen(reason);
        memcpy(p + 2, reason, rl);
        n += rl;
    }
    rawf(e, 0x88, p, n);
}

static void g_close(int server) {
    struct env e;
    char buf[200];
    int flags, status;
    /* 1012-1014: registered with IANA after RFC 6455. */
    static const int good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
        1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    for(size_t i = 0; i != sizeof(good) / sizeof(good[0]); i++) {
        setup(&e, server, 0);
        close_frame(&e, good[i], "why");
        /* Frames after the Close are ignored. */
        rawf(&e, 0x81, "late", 4);
        assert_err(ws_recv(e.us, &flags, buf, sizeof(buf), now() + 1000),
            EPIPE);
        assert(ws_status(e.us, &status, buf, sizeof(buf)) == 3);
        assert(status == good[i] && memcmp(buf, "why", 3) == 0);
        /* A half-close, as in libdill: no answer yet, and our side may
           still send. */
        errno_assert(ws_send(e.us, WS_BINARY, "more", 4, -1) == 0);
        expect_frame(&e, 0x2, "more", 4);
        errno_assert(ws_ping(e.us, "p", 1, -1) == 0);
        expect_frame(&e, 0x9, "p", 1);
        uint8_t echo[2] = {(uint8_t)(good[i] >> 8), (uint8_t)good[i]};
        if(i % 2) {
            /* hclose answers, echoing the status (RFC 6455 5.5.1). */
            errno_assert(hclose(e.us) == 0);
            expect_frame(&e, 0x8, echo, 2);
            errno_assert(hclose(e.raw) == 0);
            continue;
        }
        /* ws_done answers with the status given. */
        errno_assert(ws_done(e.us, 1001, "bye", 3, -1) == 0);
        uint8_t mine[5] = {0x03, 0xe9, 'b', 'y', 'e'};
        expect_frame(&e, 0x8, mine, 5);
        /* Nothing after our Close. */
        assert_err(ws_send(e.us, 0, "x", 1, -1), EPIPE);
        assert_err(ws_ping(e.us, "x", 1, -1), EPIPE);
        assert_err(ws_done(e.us, 1000, NULL, 0, -1), EPIPE);
        teardown(&e);
    }
    static const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016,
        2000, 2999, 5000, 65535};
    for(size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); i++) {
        setup(&e, server, 0);
        close_frame(&e, bad[i], "");
        expect_fail(&e, 1002, EPROTO);
        teardown(&e);
    }
    /* Empty close: echoed empty, status 0. */
    setup(&e, server, 0);
    close_frame(&e, -1, "");
    assert_err(ws_recv(e.us, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    assert(ws_status(e.us, &status, buf, sizeof(buf)) == 0 && status == 0);
    errno_assert(hclose(e.us) == 0);
    expect_frame(&e, 0x8, "", 0);
    errno_assert(hclose(e.raw) == 0);
    /* One-byte payload. */
    setup(&e, server, 0);
    rawf(&e, 0x88, "\x03", 1);
    expect_fail(&e, 1002, EPROTO);
    teardown(&e);
    /* Reason that is not UTF-8. */
    setup(&e, server, 0);
    close_frame(&e, 1000, "\xce\xba\xe1\xbd\xb9\xf4\x90\x80\x80");
    expect_fail(&e, 1007, EPROTO);
    teardown(&e);
    /* Longest reason. */
    setup(&e, server, 0);
    char r123[124];
    memset(r123, 'r', 123);
    r123[123] = 0;
    close_frame(&e, 1000, r123);
    assert_err(ws_recv(e.us, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    assert(ws_status(e.us, &status, buf, sizeof(buf)) == 123);
    teardown(&e);
    /* Close in the middle of a fragmented message. */
    setup(&e, server, 0);
    rawf(&e, 0x01, "part", 4);
    close_frame(&e, 1000, "");
    assert_err(ws_recv(e.us, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    teardown(&e);
    /* We close first; the peer answers; ws_detach returns the socket. */
    setup(&e, server, 0);
    errno_assert(ws_done(e.us, 1000, "done", 4, -1) == 0);
    uint8_t want[6] = {0x03, 0xe8, 'd', 'o', 'n', 'e'};
    expect_frame(&e, 0x8, want, 6);
    rawf(&e, 0x82, "still", 5);
    expect_msg(&e, WS_BINARY, "still", 5);
    close_frame(&e, 1000, "");
    if(!server) errno_assert(hclose(e.raw) == 0);
    int u = ws_detach(e.us, 1000, NULL, 0, now() + 1000);
    errno_assert(u >= 0);
    errno_assert(hclose(u) == 0);
    if(server) errno_assert(hclose(e.raw) == 0);
    /* The raw peer never answers our Close: ws_detach times out and
       closes everything. */
    setup(&e, server, 0);
    assert_err(ws_detach(e.us, 1000, NULL, 0, now() + 100), ETIMEDOUT);
    errno_assert(hclose(e.raw) == 0);
}

static void g_limits(int server) {
    struct env e;
    static uint8_t big[2000];
    memset(big, 'x', sizeof(big));
    setup(&e, server, 1000);
    rawf(&e, 0x82, big, 1000);
    expect_msg(&e, WS_BINARY, big, 1000);
    rawf(&e, 0x82, big, 1001);
    expect_fail(&e, 1009, EMSGSIZE);
    teardown(&e);
    /* Over the limit only in total. */
    setup(&e, server, 1000);
    rawf(&e, 0x02, big, 600);
    rawf(&e, 0x80, big, 600);
    expect_fail(&e, 1009, EMSGSIZE);
    teardown(&e);
    /* Buffer too small: EMSGSIZE, the stream stays in sync. */
    setup(&e, server, 0);
    rawf(&e, 0x02, big, 600);
    rawf(&e, 0x89, "p", 1);
    rawf(&e, 0x80, big, 600);
    rawf(&e, 0x82, "after", 5);
    char small[10];
    int flags;
    assert_err(ws_recv(e.us, &flags, small, sizeof(small), now() + 1000),
        EMSGSIZE);
    expect_frame(&e, 0xA, "p", 1);
    expect_msg(&e, WS_BINARY, "after", 5);
    teardown(&e);
}

int main(void) {
    for(int server = 0; server != 2; server++) {
        g_framing(server);
        g_pingpong(server);
        g_reserved(server);
        g_opcodes(server);
        g_fragmentation(server);
        g_utf8(server);
        g_close(server);
        g_limits(server);
    }
    return 0;
}
