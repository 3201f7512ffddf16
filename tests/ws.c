/* WebSocket handles end to end: our client against our server over
   ipc_pair and TCP.  Message sizes and types, fragmentation, pings, every
   closing path, deadlines, cancellation, hostile handshakes, WS_NOHTTP,
   typed message-socket calls, EMSGSIZE, options, concurrency. */

#include <pthread.h>
#include <stdio.h>

#include "wstest.h"
#include "plainsock.h"
#include "proto/ws.h"

static uint8_t *pattern(size_t n, unsigned seed) {
    uint8_t *p = malloc(n ? n : 1);
    assert(p);
    for(size_t i = 0; i != n; i++) p[i] = (uint8_t)(i * 31 + seed + (i >> 9));
    return p;
}

coroutine static void sender(int s, int flags, const uint8_t *p, size_t n) {
    errno_assert(ws_send(s, flags, p, n, now() + 10000) == 0);
}

/* Sizes across the length encodings, both directions, both types. */
static void test_sizes(int tcp) {
    static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 1 << 20,
        16 << 20};
    int c, s;
    wst_pair(tcp, 0, &c, &s);
    uint8_t *buf = malloc((16 << 20) + 1);
    assert(buf);
    uint8_t *pat = pattern(16 << 20, 5);
    for(size_t i = 0; i != sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        uint8_t *p = pat;
        for(int dir = 0; dir != 2; dir++) {
            int from = dir ? s : c, to = dir ? c : s;
            int type = (i & 1) ? WS_TEXT : WS_BINARY;
            if(type == WS_TEXT) for(size_t j = 0; j != n; j++) p[j] &= 0x7f;
            int cr = go(sender(from, type, p, n));
            errno_assert(cr >= 0);
            int flags = -1;
            ssize_t r = ws_recv(to, &flags, buf, (16 << 20) + 1,
                now() + 10000);
            errno_assert(r == (ssize_t)n);
            assert(flags == type);
            assert(memcmp(buf, p, n) == 0);
            errno_assert(hclose(cr) == 0);
        }
    }
    free(pat);
    free(buf);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* msend/mrecv use the socket type; the other type fails with EPROTO and
   is consumed. */
static void test_types(void) {
    int c, s;
    wst_pair(0, WS_TEXT, &c, &s);
    char buf[64];
    errno_assert(msend(c, "hello", 5, -1) == 0);
    int flags;
    assert(ws_recv(s, &flags, buf, sizeof(buf), -1) == 5);
    assert(flags == WS_TEXT && memcmp(buf, "hello", 5) == 0);
    errno_assert(ws_send(c, WS_BINARY, "\x00\x01", 2, -1) == 0);
    errno_assert(msend(c, "next", 4, -1) == 0);
    assert_err(mrecv(s, buf, sizeof(buf), -1), EPROTO);
    assert(mrecv(s, buf, sizeof(buf), -1) == 4);
    assert(memcmp(buf, "next", 4) == 0);
    /* Invalid UTF-8 is not sent as text. */
    assert_err(ws_send(c, WS_TEXT, "\xc0\x80", 2, -1), EINVAL);
    assert_err(msend(c, "\xff", 1, -1), EINVAL);
    /* mrecvl with no list drops a message. */
    errno_assert(msend(c, "drop", 4, -1) == 0);
    assert(mrecvl(s, NULL, NULL, -1) == 4);
    /* sendl/recvl with lists. */
    struct iolist i2 = {"def", 3, NULL, 0};
    struct iolist i1 = {"abc", 3, &i2, 0};
    errno_assert(ws_sendl(c, WS_BINARY, &i1, &i2, -1) == 0);
    char x[2], y[10];
    struct iolist o2 = {y, sizeof(y), NULL, 0};
    struct iolist o1 = {x, sizeof(x), &o2, 0};
    assert(ws_recvl(s, &flags, &o1, &o2, -1) == 6);
    assert(flags == WS_BINARY && memcmp(x, "ab", 2) == 0 &&
        memcmp(y, "cdef", 4) == 0);
    /* Arguments. */
    assert_err(ws_send(c, 7, "a", 1, -1), EINVAL);
    assert_err(ws_recv(s, NULL, buf, 1, -1), EINVAL);
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    assert_err(ws_send(p[0], 0, "a", 1, -1), ENOTSUP);
    errno_assert(hclose(p[0]) == 0);
    errno_assert(hclose(p[1]) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* A message too big for the buffer: EMSGSIZE, the message is dropped and
   the next one arrives intact.  Over the limit: close 1009. */
static void test_msgsize(void) {
    int c, s;
    wst_pair(0, 0, &c, &s);
    uint8_t *big = pattern(100000, 3);
    errno_assert(ws_send(c, 0, big, 100000, -1) == 0);
    errno_assert(ws_send(c, 0, "tail", 4, -1) == 0);
    char buf[100];
    int flags;
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 2000), EMSGSIZE);
    assert(ws_recv(s, &flags, buf, sizeof(buf), now() + 2000) == 4);
    assert(memcmp(buf, "tail", 4) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);

    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    o.max_message = 1000;
    wst_sopts = o;
    wst_pair(0, 0, &c, &s);
    wst_sopts = (struct dill_ws_options)DILL_WS_OPTIONS_INIT;
    int cr = go(sender(c, 0, big, 1001));
    errno_assert(cr >= 0);
    uint8_t *rb = malloc(100000);
    assert_err(ws_recv(s, &flags, rb, 100000, now() + 2000), EMSGSIZE);
    errno_assert(hclose(cr) == 0);
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 2000), EPIPE);
    int status;
    assert(ws_status(c, &status, buf, sizeof(buf)) == 0);
    assert(status == 1009);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    free(rb);
    free(big);
}

/* Messages sent in pieces; received whole and in pieces. */
static void test_parts(void) {
    int c, s;
    wst_pair(1, 0, &c, &s);
    errno_assert(ws_send_part(c, WS_TEXT | WS_MORE, "hel", 3, -1) == 0);
    errno_assert(ws_ping(c, "p", 1, -1) == 0);
    errno_assert(ws_send_part(c, WS_MORE, "lo ", 3, -1) == 0);
    errno_assert(ws_send_part(c, 0, "world", 5, -1) == 0);
    char buf[64];
    int flags;
    assert(ws_recv(s, &flags, buf, sizeof(buf), now() + 2000) == 11);
    assert(flags == WS_TEXT && memcmp(buf, "hello world", 11) == 0);
    /* A character split between pieces is fine; a broken one is refused. */
    errno_assert(ws_send_part(c, WS_TEXT | WS_MORE, "\xc3", 1, -1) == 0);
    assert_err(ws_send_part(c, 0, "A", 1, -1), EINVAL);
    errno_assert(ws_send_part(c, 0, "\xa9", 1, -1) == 0);
    assert(ws_recv(s, &flags, buf, sizeof(buf), now() + 2000) == 2);
    assert(memcmp(buf, "\xc3\xa9", 2) == 0);
    /* Receiving in pieces. */
    uint8_t *p = pattern(50000, 9);
    errno_assert(ws_send(s, WS_BINARY, p, 50000, -1) == 0);
    size_t got = 0;
    uint8_t *rb = malloc(50000);
    while(1) {
        ssize_t r = ws_recv_part(c, &flags, rb + got, 1000, now() + 2000);
        errno_assert(r >= 0);
        assert(r <= 1000);
        assert((flags & ~WS_MORE) == WS_BINARY);
        got += (size_t)r;
        if(!(flags & WS_MORE)) break;
    }
    assert(got == 50000 && memcmp(rb, p, 50000) == 0);
    /* A whole message from another coroutine waits for the open one. */
    errno_assert(ws_send_part(s, WS_BINARY | WS_MORE, "ab", 2, -1) == 0);
    int cr = go(sender(s, 0, (const uint8_t*)"zz", 2));
    errno_assert(msleep(now() + 50) == 0);
    errno_assert(ws_send_part(s, 0, "cd", 2, -1) == 0);
    assert(ws_recv(c, &flags, buf, sizeof(buf), now() + 2000) == 4);
    assert(memcmp(buf, "abcd", 4) == 0);
    assert(ws_recv(c, &flags, buf, sizeof(buf), now() + 2000) == 2);
    assert(memcmp(buf, "zz", 2) == 0);
    errno_assert(hclose(cr) == 0);
    free(rb);
    free(p);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

coroutine static void closer(int s, int status) {
    char buf[16];
    int flags;
    errno_assert(ws_send(s, 0, "x", 1, -1) == 0);
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 2000), EPIPE);
    /* Our answer goes out when we end our side. */
    errno_assert(ws_done(s, 1000, NULL, 0, now() + 2000) == 0);
}

/* Detaches after the peer's Close, then writes raw bytes at once. */
coroutine static void raw_after(int s, int ch) {
    char buf[16];
    int flags;
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 2000), EPIPE);
    int u = ws_detach(s, 1000, NULL, 0, now() + 2000);
    errno_assert(u >= 0);
    errno_assert(bsend(u, "RAW", 3, now() + 2000) == 0);
    errno_assert(chsend(ch, &u, sizeof(u), -1) == 0);
}

coroutine static void detacher(int s, int ch) {
    int u = ws_detach(s, 1000, "ok", 2, now() + 2000);
    errno_assert(chsend(ch, &u, sizeof(u), -1) == 0);
}

/* Every way of closing. */
static void test_close(int tcp) {
    int c, s, flags, status;
    char buf[128];
    /* ws_done from the client; the server sees EPIPE and the status. */
    wst_pair(tcp, 0, &c, &s);
    assert_err(ws_status(s, &status, buf, sizeof(buf)), EAGAIN);
    errno_assert(ws_done(c, 4000, "bye", 3, -1) == 0);
    assert_err(ws_send(c, 0, "a", 1, -1), EPIPE);
    assert_err(ws_done(c, 1000, NULL, 0, -1), EPIPE);
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    assert(ws_status(s, &status, buf, sizeof(buf)) == 3);
    assert(status == 4000 && memcmp(buf, "bye", 3) == 0);
    assert_err(ws_status(s, &status, buf, 2), EMSGSIZE);
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    /* A half-close, as in libdill: the server has not answered yet and
       may still send; the client still receives. */
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 50), ETIMEDOUT);
    errno_assert(ws_send(s, WS_TEXT, "late", 4, -1) == 0);
    assert(ws_recv(c, &flags, buf, sizeof(buf), now() + 1000) == 4);
    assert(flags == WS_TEXT && memcmp(buf, "late", 4) == 0);
    /* The server's ws_done answers, and ends its sending too. */
    errno_assert(ws_done(s, 4001, NULL, 0, -1) == 0);
    assert_err(ws_send(s, 0, "a", 1, -1), EPIPE);
    assert_err(ws_done(s, 1000, NULL, 0, -1), EPIPE);
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    assert(ws_status(c, &status, NULL, 0) == 0);
    assert(status == 4001);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);

    /* Invalid arguments to ws_done. */
    wst_pair(tcp, 0, &c, &s);
    assert_err(ws_done(c, 1005, NULL, 0, -1), EINVAL);
    assert_err(ws_done(c, 999, NULL, 0, -1), EINVAL);
    assert_err(ws_done(c, 0, "x", 1, -1), EINVAL);
    assert_err(ws_done(c, 1000, "\xff", 1, -1), EINVAL);
    char long_reason[124];
    memset(long_reason, 'a', sizeof(long_reason));
    assert_err(ws_done(c, 1000, long_reason, 124, -1), EINVAL);
    errno_assert(ws_done(c, 1000, long_reason, 123, -1) == 0);
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    assert(ws_status(s, &status, buf, sizeof(buf)) == 123);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);

    /* Close without a status. */
    wst_pair(tcp, 0, &c, &s);
    errno_assert(ws_done(s, 0, NULL, 0, -1) == 0);
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    assert(ws_status(c, &status, buf, sizeof(buf)) == 0 && status == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);

    /* ws_detach on both sides at once; the server closes TCP first. */
    wst_pair(tcp, 0, &c, &s);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int cr = go(detacher(c, ch[1]));
    int u = ws_detach(s, 1001, NULL, 0, now() + 2000);
    errno_assert(u >= 0);
    errno_assert(hclose(u) == 0);
    int cu;
    errno_assert(chrecv(ch[0], &cu, sizeof(cu), -1) == 0);
    errno_assert(cu >= 0);
    assert_err(brecv(cu, buf, 1, now() + 1000), EPIPE);
    errno_assert(hclose(cu) == 0);
    errno_assert(hclose(cr) == 0);

    /* ws_detach while the peer still sends; its messages are dropped. */
    wst_pair(tcp, 0, &c, &s);
    cr = go(closer(c, 0));
    u = ws_detach(s, 1000, NULL, 0, now() + 2000);
    errno_assert(u >= 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(u) == 0);
    errno_assert(hclose(c) == 0);

    /* After the handshake ws_detach hands the socket back at once, with
       the bytes that followed the Close frame (read together with it)
       still there: the client first, then the server. */
    for(int side = 0; side != 2; side++) {
        wst_pair(tcp, 0, &c, &s);
        int first = side ? s : c, second = side ? c : s;
        cr = go(raw_after(second, ch[1]));
        int64_t t = now();
        u = ws_detach(first, 1000, NULL, 0, now() + 2000);
        errno_assert(u >= 0);
        errno_assert(brecv(u, buf, 3, now() + 2000) == 0);
        assert(memcmp(buf, "RAW", 3) == 0);
        assert(now() - t < SLACK);
        errno_assert(chrecv(ch[0], &cu, sizeof(cu), now() + 2000) == 0);
        errno_assert(bsend(u, "BACK", 4, now() + 2000) == 0);
        errno_assert(brecv(cu, buf, 4, now() + 2000) == 0);
        assert(memcmp(buf, "BACK", 4) == 0);
        errno_assert(hclose(cu) == 0);
        errno_assert(hclose(u) == 0);
        errno_assert(hclose(cr) == 0);
    }

    /* More bytes after the Close than the socket below can take back
       (30,000: however the reads split them, more than its 8 KiB buffer
       holds): ENOBUFS, and everything is closed. */
    {
        int r[2];
        wst_bpair(tcp, &r[0], &r[1]);
        c = ws_attach_client(r[0], WS_NOHTTP, NULL, NULL, -1);
        errno_assert(c >= 0);
        static uint8_t w[32000];
        size_t n = dill__ws_build_frame(w, 0, DILL__WS_TEXT, 0, NULL,
            "part", 4);
        errno_assert(bsend(r[1], w, n, now() + 1000) == 0);
        n = dill__ws_build_frame(w, 1, DILL__WS_CLOSE, 0, NULL, "\x03\xe8",
            2);
        memset(w + n, 'r', 30000);
        errno_assert(bsend(r[1], w, n + 30000, now() + 1000) == 0);
        assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
        assert_err(ws_detach(c, 1000, NULL, 0, now() + 1000), ENOBUFS);
        assert_err(hclose(c), EBADF);
        errno_assert(hclose(r[1]) == 0);
    }

    /* hclose after the peer's Close sends the answer. */
    wst_pair(tcp, 0, &c, &s);
    errno_assert(ws_done(c, 1000, "x", 1, -1) == 0);
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    errno_assert(hclose(s) == 0);
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    assert(ws_status(c, &status, buf, sizeof(buf)) == 0 && status == 1000);
    errno_assert(hclose(c) == 0);

    /* The client detaches; the server receives EPIPE, then closes. */
    wst_pair(tcp, 0, &c, &s);
    cr = go(detacher(c, ch[1]));
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    errno_assert(hclose(s) == 0);
    errno_assert(chrecv(ch[0], &cu, sizeof(cu), -1) == 0);
    errno_assert(cu >= 0);
    errno_assert(hclose(cu) == 0);
    errno_assert(hclose(cr) == 0);

    /* The client detaches but the server never answers its Close (it
       received it, and keeps its side open): ETIMEDOUT and everything is
       closed. */
    wst_pair(tcp, 0, &c, &s);
    cr = go(detacher(c, ch[1]));
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    errno_assert(chrecv(ch[0], &cu, sizeof(cu), now() + 3000) == 0);
    assert(cu == -1);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);

    /* Abrupt end of the connection: ECONNRESET, status 1006. */
    wst_pair(tcp, 0, &c, &s);
    errno_assert(hclose(s) == 0);
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 1000),
        ECONNRESET);
    assert(ws_status(c, &status, buf, sizeof(buf)) == 0 && status == 1006);
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 1000),
        ECONNRESET);
    errno_assert(hclose(c) == 0);
}

coroutine static void slow_sender(int s, const uint8_t *p, size_t n,
      size_t first, int64_t gap) {
    /* Raw: header and the first bytes, a pause, then the rest. */
    uint8_t h[DILL__WS_HDR_MAX];
    size_t hl = dill__ws_build_header(h, 1, DILL__WS_BINARY, 0, NULL, n);
    errno_assert(bsend(s, h, hl, -1) == 0);
    errno_assert(bsend(s, p, first, -1) == 0);
    if(msleep(now() + gap) < 0) return;
    errno_assert(bsend(s, p + first, n - first, -1) == 0);
    h[0] = 0x82; h[1] = 2;
    errno_assert(bsend(s, h, 2, -1) == 0);
    errno_assert(bsend(s, "ok", 2, -1) == 0);
}

coroutine static void receiver_cancelled(int s) {
    uint8_t buf[1000];
    int flags;
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), -1), ECANCELED);
}

/* Deadlines: idle timeouts keep the socket usable; a timeout in the middle
   of a message drops that message; cancellation leaves it closable. */
static void test_deadlines(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int c = ws_attach_client(p[0], WS_NOHTTP, NULL, NULL, -1);
    errno_assert(c >= 0);
    char buf[1000];
    int flags;
    int64_t t = now();
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), t + 100), ETIMEDOUT);
    assert(now() - t >= 90 && now() - t < 100 + SLACK);
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), 0), ETIMEDOUT);
    uint8_t *pat = pattern(500, 1);
    int cr = go(slow_sender(p[1], pat, 500, 100, 300));
    t = now();
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 100), ETIMEDOUT);
    /* The partial message is dropped; the next one arrives. */
    assert(ws_recv(c, &flags, buf, sizeof(buf), now() + 2000) == 2);
    assert(memcmp(buf, "ok", 2) == 0);
    errno_assert(hclose(cr) == 0);
    /* A timeout after the header but before any payload loses nothing. */
    uint8_t h[2] = {0x82, 3};
    errno_assert(bsend(p[1], h, 2, -1) == 0);
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 50), ETIMEDOUT);
    errno_assert(bsend(p[1], "abc", 3, -1) == 0);
    assert(ws_recv(c, &flags, buf, sizeof(buf), now() + 2000) == 3);
    /* Cancelled in the middle of a message. */
    cr = go(slow_sender(p[1], pat, 500, 100, 10000));
    int rcv = go(receiver_cancelled(c));
    errno_assert(msleep(now() + 50) == 0);
    errno_assert(hclose(rcv) == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(p[1]) == 0);
    free(pat);
}

coroutine static void pinger_flood(int s) {
    uint8_t f[6 * 1000];
    for(int i = 0; i != 1000; i++) {
        f[i * 6] = 0x89;
        f[i * 6 + 1] = 4;
        memcpy(f + i * 6 + 2, "ping", 4);
    }
    while(bsend(s, f, sizeof(f), now() + 5000) == 0)
        ;
}

coroutine static void drain(int s) {
    uint8_t b[4096];
    while(brecv(s, b, sizeof(b), now() + 5000) == 0)
        ;
}

/* A peer flooding pings cannot keep ws_recv past its deadline. */
static void test_flood(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int c = ws_attach_client(p[0], WS_NOHTTP, NULL, NULL, -1);
    errno_assert(c >= 0);
    int cr1 = go(pinger_flood(p[1]));
    int cr2 = go(drain(p[1]));
    char buf[16];
    int flags;
    int64_t t = now();
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), t + 200), ETIMEDOUT);
    assert(now() - t < 200 + SLACK);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(cr1) == 0);
    errno_assert(hclose(cr2) == 0);
    errno_assert(hclose(p[1]) == 0);
}

/* Hostile and malformed opening requests. */
struct badreq {
    const char *req;
    int status;
};

coroutine static void raw_client(int s, const char *req, int ch) {
    if(bsend(s, req, strlen(req), now() + 2000) < 0) return;
    char resp[512];
    size_t n = 0;
    while(n < sizeof(resp) - 1 && brecv(s, resp + n, 1, now() + 2000) == 0)
        n++;
    resp[n] = 0;
    int status = 0;
    sscanf(resp, "HTTP/1.1 %d", &status);
    if(status == 426) assert(strstr(resp, "Sec-WebSocket-Version: 13"));
    errno_assert(chsend(ch, &status, sizeof(status), -1) == 0);
}

#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define UPG "Upgrade: websocket\r\nConnection: Upgrade\r\n"

static void test_handshake_bad(void) {
    static char huge[20000];
    memcpy(huge, "GET / HTTP/1.1\r\nX: ", 19);
    memset(huge + 19, 'a', sizeof(huge) - 19 - 5);
    memcpy(huge + sizeof(huge) - 5, "\r\n\r\n", 5);
    static char many[4096];
    strcpy(many, "GET / HTTP/1.1\r\n");
    for(int i = 0; i != 70; i++)
        sprintf(many + strlen(many), "X-%d: y\r\n", i);
    strcat(many, "\r\n");
    const struct badreq reqs[] = {
        {"POST / HTTP/1.1\r\nHost: x\r\n" UPG KEY
            "Sec-WebSocket-Version: 13\r\n\r\n", 405},
        {"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n" KEY
            "Sec-WebSocket-Version: 13\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" KEY
            "Sec-WebSocket-Version: 13\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\n" UPG KEY
            "Sec-WebSocket-Version: 12\r\n\r\n", 426},
        {"GET / HTTP/1.1\r\nHost: x\r\n" UPG
            "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
            400},
        {"GET / HTTP/1.1\r\nHost: x\r\n" UPG
            "Sec-WebSocket-Version: 13\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n" UPG KEY "Sec-WebSocket-Version: 13\r\n\r\n",
            400},
        {"GET / HTTP/1.0\r\nHost: x\r\n" UPG KEY
            "Sec-WebSocket-Version: 13\r\n\r\n", 400},
        {"garbage\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\n" UPG KEY
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: a b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n" UPG KEY
            "Sec-WebSocket-Version: 13\r\n\r\n", 400},
        {many, 431},
        {huge, 431},
        /* Framing a proxy could read differently (RFC 9112, 6.3). */
        {"GET / HTTP/1.1\r\nHost: x\r\n" UPG KEY
            "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n"
            "Content-Length: 9\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\n" UPG KEY
            "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n"
            "Transfer-Encoding: chunked\r\n\r\n", 400},
    };
    for(size_t i = 0; i != sizeof(reqs) / sizeof(reqs[0]); i++) {
        int p[2];
        errno_assert(ipc_pair(p) == 0);
        int ch[2];
        errno_assert(chmake(ch) == 0);
        int cr = go(raw_client(p[0], reqs[i].req, ch[1]));
        char res[64], host[64];
        assert_err(ws_attach_server(p[1], 0, res, sizeof(res), host,
            sizeof(host), now() + 2000), EPROTO);
        int status;
        errno_assert(chrecv(ch[0], &status, sizeof(status), now() + 3000)
            == 0);
        if(status != reqs[i].status)
            fprintf(stderr, "request %zu: got %d\n", i, status);
        assert(status == reqs[i].status);
        errno_assert(hclose(cr) == 0);
        errno_assert(hclose(p[0]) == 0);
        errno_assert(hclose(ch[0]) == 0);
        errno_assert(hclose(ch[1]) == 0);
    }
    /* A client trickling its request is bound by the deadline. */
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    errno_assert(bsend(p[0], "GET / HT", 8, -1) == 0);
    char res[64], host[64];
    int64_t t = now();
    assert_err(ws_attach_server(p[1], 0, res, sizeof(res), host,
        sizeof(host), t + 100), ETIMEDOUT);
    assert(now() - t < 100 + SLACK);
    errno_assert(hclose(p[0]) == 0);
    /* Resource too long for the caller's buffer. */
    errno_assert(ipc_pair(p) == 0);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int cr = go(raw_client(p[0], "GET /very/long/resource HTTP/1.1\r\n"
        "Host: x\r\n" UPG KEY "Sec-WebSocket-Version: 13\r\n\r\n", ch[1]));
    assert_err(ws_attach_server(p[1], 0, res, 4, host, sizeof(host),
        now() + 2000), EMSGSIZE);
    int status;
    errno_assert(chrecv(ch[0], &status, sizeof(status), now() + 3000) == 0);
    assert(status == 414);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(p[0]) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}

coroutine static void raw_server(int s, const char *resp) {
    char req[2048];
    size_t n = 0;
    while(n < sizeof(req) - 1 && brecv(s, req + n, 1, now() + 2000) == 0) {
        n++;
        if(n >= 4 && memcmp(req + n - 4, "\r\n\r\n", 4) == 0) break;
    }
    bsend(s, resp, strlen(resp), now() + 2000);
}

/* Refusals (a well-formed status other than 101) fail with EACCES and are
   reported through ws_options.response; bad responses fail with EPROTO. */
static void test_handshake_refused(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int cr = go(raw_server(p[1], "HTTP/1.1 403 Go Away\r\nX-Why: banned\r\n"
        "Retry-After: 60\r\n\r\n"));
    assert_err(ws_attach_client(p[0], 0, "/", "x", now() + 2000), EACCES);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(p[1]) == 0);
    /* The same through the options, with the answer reported. */
    struct ws_response r = WS_RESPONSE_INIT;
    r.status = -1;
    struct ws_options o = WS_OPTIONS_INIT;
    o.response = &r;
    errno_assert(ipc_pair(p) == 0);
    cr = go(raw_server(p[1], "HTTP/1.1 403 Go Away\r\nX-Why: banned\r\n"
        "Retry-After: 60\r\n\r\n"));
    assert_err(ws_attach_client_opts(p[0], "/", "x", &o, NULL, now() + 2000),
        EACCES);
    assert(r.status == 403 && strcmp(r.reason, "Go Away") == 0);
    assert(r.nheaders == 2 && r.dropped == 0);
    assert(strcmp(r.headers, "X-Why: banned\r\nRetry-After: 60\r\n") == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(p[1]) == 0);
    /* An invalid 101 is EPROTO, and still reported. */
    errno_assert(ipc_pair(p) == 0);
    cr = go(raw_server(p[1], "HTTP/1.1 101 Switching\r\n\r\n"));
    assert_err(ws_attach_client_opts(p[0], "/", "x", &o, NULL, now() + 2000),
        EPROTO);
    assert(r.status == 101 && r.nheaders == 0 && r.headers[0] == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(p[1]) == 0);
    /* No head at all: status 0. */
    errno_assert(ipc_pair(p) == 0);
    assert_err(ws_attach_client_opts(p[0], "/", "x", &o, NULL, now() + 50),
        ETIMEDOUT);
    assert(r.status == 0 && r.reason[0] == 0);
    errno_assert(hclose(p[1]) == 0);
    /* Lines that do not fit are counted; an older, shorter structure gets
       only what it has room for. */
    char big[8192];
    size_t n = (size_t)sprintf(big, "HTTP/1.1 404 Not Found\r\n");
    for(int i = 0; i < 60; i++)
        n += (size_t)sprintf(big + n, "X-Filler-%02d: %080d\r\n", i, i);
    strcpy(big + n, "\r\n");
    struct {struct ws_response r; char canary[8];} old;
    memset(&old, 0x5a, sizeof(old));
    old.r.size = offsetof(struct ws_response, reason) + 8;
    o.response = &old.r;
    struct ws_response full = WS_RESPONSE_INIT;
    for(int round = 0; round < 2; round++) {
        errno_assert(ipc_pair(p) == 0);
        cr = go(raw_server(p[1], big));
        assert_err(ws_attach_client_opts(p[0], "/", "x", &o, NULL,
            now() + 2000), EACCES);
        errno_assert(hclose(cr) == 0);
        errno_assert(hclose(p[1]) == 0);
        o.response = &full;
    }
    assert(old.r.status == 404 && memcmp(old.r.reason, "Not Foun", 8) == 0);
    for(size_t i = old.r.size; i < sizeof(old); i++)
        assert(((unsigned char*)&old)[i] == 0x5a);
    assert(full.status == 404 && full.dropped > 0);
    assert(full.nheaders + full.dropped == 60);
    assert(strlen(full.headers) < sizeof(full.headers));
}

/* Bad responses make the client fail with EPROTO; frames after a good
   response head are kept. */
static void test_handshake_client(void) {
    static const char *resps[] = {
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Accept: xxx\r\n\r\n"),
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n",
        "nonsense\r\n\r\n",
    };
    for(size_t i = 0; i != sizeof(resps) / sizeof(resps[0]); i++) {
        int p[2];
        errno_assert(ipc_pair(p) == 0);
        int cr = go(raw_server(p[1], resps[i]));
        assert_err(ws_attach_client(p[0], 0, "/", "x", now() + 2000),
            EPROTO);
        errno_assert(hclose(cr) == 0);
        errno_assert(hclose(p[1]) == 0);
    }
    /* Attach failures close the underlying socket. */
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    assert_err(ws_attach_client(p[0], 8, "/", "x", -1), EINVAL);
    assert_err(hclose(p[0]), EBADF);
    assert_err(ws_attach_client(p[1], 0, NULL, "x", -1), EINVAL);
    assert_err(hclose(p[1]), EBADF);
    errno_assert(ipc_pair(p) == 0);
    assert_err(ws_attach_client(p[0], 0, "/", "x", now() + 50), ETIMEDOUT);
    assert_err(hclose(p[0]), EBADF);
    errno_assert(hclose(p[1]) == 0);
    /* A non-bytestream handle. */
    int ch[2];
    errno_assert(chmake(ch) == 0);
    assert_err(ws_attach_client(ch[0], 0, "/", "x", -1), ENOTSUP);
    assert_err(hclose(ch[0]), EBADF);
    errno_assert(hclose(ch[1]) == 0);
}

/* Handshake followed at once by frames in the same read. */
coroutine static void eager_server(int s) {
    char req[2048];
    size_t n = 0;
    while(n < sizeof(req) - 1 && brecv(s, req + n, 1, now() + 2000) == 0) {
        n++;
        if(n >= 4 && memcmp(req + n - 4, "\r\n\r\n", 4) == 0) break;
    }
    req[n] = 0;
    char *k = strstr(req, "Sec-WebSocket-Key: ");
    assert(k);
    k += 19;
    char key[25];
    memcpy(key, k, 24);
    key[24] = 0;
    char acc[WS_KEY_SIZE];
    errno_assert(ws_response_key(key, acc) == 0);
    char resp[512];
    int len = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols"
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: %s\r\n\r\n\x81\x02hi", acc);
    errno_assert(bsend(s, resp, (size_t)len, -1) == 0);
}

static void test_handshake_eager(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int cr = go(eager_server(p[1]));
    int c = ws_attach_client(p[0], 0, "/", "x", now() + 2000);
    errno_assert(c >= 0);
    char buf[8];
    int flags;
    assert(ws_recv(c, &flags, buf, sizeof(buf), now() + 1000) == 2);
    assert(flags == WS_TEXT && memcmp(buf, "hi", 2) == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(p[1]) == 0);
}

static int check_origin(const struct dill_ws_request *req, void *arg) {
    char v[64];
    if(ws_request_header(req, "origin", v, sizeof(v)) < 0) return 403;
    if(strcmp(v, "https://good.example") != 0) return 403;
    assert(ws_request_header(req, ":path", v, sizeof(v)) == 5);
    assert(strcmp(v, "/path") == 0);
    assert(ws_request_header(req, "X-Token", v, sizeof(v)) == 3);
    assert(strcmp(v, "abc") == 0);
    assert_err(ws_request_header(req, "X-Token", v, 3), EMSGSIZE);
    assert_err(ws_request_header(req, "X-None", v, sizeof(v)), ENOENT);
    ++*(int*)arg;
    return 0;
}

/* Subprotocols, extra headers, the request check. */
static void test_options(void) {
    static const char *offer[] = {"v2.chat", "v1.chat", NULL};
    static const char *accept[] = {"v1.chat", "v3.chat", NULL};
    int calls = 0;
    struct dill_ws_options so = DILL_WS_OPTIONS_INIT;
    so.protocols = accept;
    so.check = check_origin;
    so.check_arg = &calls;
    so.headers = "X-Server: dill";
    wst_sopts = so;
    struct dill_ws_options co = DILL_WS_OPTIONS_INIT;
    co.protocols = offer;
    co.origin = "https://good.example";
    co.headers = "X-Token: abc\r\n";
    int c, s;
    errno_assert(wst_pair_opts(0, 0, 0, &co, &c, &s, NULL) == 0);
    assert(calls == 1);
    char pr[32];
    assert(ws_protocol(c, pr, sizeof(pr)) == 7 && strcmp(pr, "v1.chat") == 0);
    assert(ws_protocol(s, pr, sizeof(pr)) == 7 && strcmp(pr, "v1.chat") == 0);
    assert_err(ws_protocol(s, pr, 7), EMSGSIZE);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    /* No common protocol: no protocol at all. */
    co.protocols = (const char *[]){"other", NULL};
    errno_assert(wst_pair_opts(0, 0, 0, &co, &c, &s, NULL) == 0);
    assert(ws_protocol(c, pr, sizeof(pr)) == 0 && pr[0] == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    /* Refused by the check. */
    co.origin = "https://evil.example";
    int serr;
    assert(wst_pair_opts(0, 0, 0, &co, &c, &s, &serr) < 0);
    assert(c < 0 && errno == EACCES);
    assert(s < 0 && serr == EACCES);
    wst_sopts = (struct dill_ws_options)DILL_WS_OPTIONS_INIT;
    /* _mem variants. */
    struct ws_storage m1, m2;
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    c = ws_attach_client_mem(p[0], WS_NOHTTP, NULL, NULL, &m1, -1);
    errno_assert(c >= 0);
    s = ws_attach_server_mem(p[1], WS_NOHTTP | WS_TEXT, NULL, 0, NULL, 0,
        &m2, -1);
    errno_assert(s >= 0);
    errno_assert(msend(s, "t", 1, -1) == 0);
    char buf[4];
    int flags;
    assert(ws_recv(c, &flags, buf, sizeof(buf), -1) == 1);
    assert(flags == WS_TEXT);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* Option structures are read up to their size field: an older, shorter
   structure works; size 0 and a longer one with unknown non-zero fields
   are refused. */
static void test_optsize(void) {
    int flags;
    char buf[8];
    /* A structure that ends right after flags: max_message and later take
       their defaults. */
    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    o.size = offsetof(struct dill_ws_options, flags) + sizeof(int);
    o.flags = WS_NOHTTP;
    o.max_message = 1;  /* beyond size: must be ignored */
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int s = ws_attach_server_opts(p[1], NULL, 0, NULL, 0, &o, NULL, -1);
    errno_assert(s >= 0);
    int c = ws_attach_client(p[0], WS_NOHTTP, NULL, NULL, -1);
    errno_assert(c >= 0);
    errno_assert(ws_send(c, 0, "abc", 3, -1) == 0);
    assert(ws_recv(s, &flags, buf, sizeof(buf), now() + 2000) == 3);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    /* size 0: EINVAL, and the socket is closed. */
    o.size = 0;
    errno_assert(ipc_pair(p) == 0);
    assert_err(ws_attach_server_opts(p[1], NULL, 0, NULL, 0, &o, NULL, -1),
        EINVAL);
    assert_err(hclose(p[1]), EBADF);
    errno_assert(hclose(p[0]) == 0);
    /* A newer program's structure: zero tail accepted, non-zero refused. */
    struct {struct dill_ws_options o; int future;} big;
    memset(&big, 0, sizeof(big));
    big.o.size = sizeof(big);
    big.o.flags = WS_NOHTTP;
    errno_assert(ipc_pair(p) == 0);
    s = ws_attach_client_opts(p[0], NULL, NULL, &big.o, NULL, -1);
    errno_assert(s >= 0);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(p[1]) == 0);
    big.future = 1;
    errno_assert(ipc_pair(p) == 0);
    assert_err(ws_attach_client_opts(p[0], NULL, NULL, &big.o, NULL, -1),
        EINVAL);
    errno_assert(hclose(p[1]) == 0);
    /* ws_listen checks both of its structures. */
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    lo.size = 0;
    assert_err(ws_listen(&addr, &lo), EINVAL);
    lo.size = sizeof(lo);
    o.size = 0;
    lo.ws = &o;
    assert_err(ws_listen(&addr, &lo), EINVAL);
}

/* Keepalive: pongs keep the connection; a silent peer fails it. */
static void test_keepalive(void) {
    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    o.ping_interval = 30;
    o.pong_timeout = 100;
    o.flags = WS_NOHTTP;
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int s = ws_attach_server_opts(p[1], NULL, 0, NULL, 0, &o, NULL, -1);
    errno_assert(s >= 0);
    int c = ws_attach_client(p[0], WS_NOHTTP, NULL, NULL, -1);
    errno_assert(c >= 0);
    /* The keepalive state is the server's only, in its side block. */
    assert(dill__ws_rare_live() == 1);
    int cr = go(receiver_cancelled(c));
    char buf[8];
    int flags;
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 300), ETIMEDOUT);
    errno_assert(ws_send(c, 0, "a", 1, -1) == 0);
    assert(ws_recv(s, &flags, buf, sizeof(buf), now() + 300) == 1);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    assert(dill__ws_rare_live() == 0);
    /* Nobody answers. */
    errno_assert(ipc_pair(p) == 0);
    s = ws_attach_server_opts(p[1], NULL, 0, NULL, 0, &o, NULL, -1);
    errno_assert(s >= 0);
    int64_t t = now();
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 2000), ETIMEDOUT);
    assert(now() - t >= 120 && now() - t < 130 + SLACK);
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 2000),
        ECONNRESET);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(p[0]) == 0);
}

/* Concurrency: big sends from one coroutine while the receiving coroutine
   answers a stream of pings; two senders; two receivers. */
coroutine static void big_sender(int s, int n, volatile int *done) {
    static uint8_t big[300000];
    for(int i = 0; i != n; i++)
        if(ws_send(s, 0, big, sizeof(big), now() + 10000) < 0) {
            return;
        }
    ++*done;
}

coroutine static void ping_recv_loop(int s, volatile int *count) {
    static uint8_t buf[300000];
    int flags;
    static const uint8_t zero[300000];
    ssize_t r;
    /* A control frame written inside a message would show up as payload
       bytes or break the framing. */
    while((r = ws_recv(s, &flags, buf, sizeof(buf), now() + 10000)) >= 0) {
        assert(r == 300000 && memcmp(buf, zero, 300000) == 0);
        ++*count;
    }
}

coroutine static void pinger(int s) {
    while(ws_ping(s, "hb", 2, now() + 5000) == 0)
        if(msleep(now() + 1) < 0) return;
}

static void test_concurrency(int tcp) {
    int c, s;
    wst_pair(tcp, 0, &c, &s);
    /* Shared with the coroutines: volatile, as the compiler cannot see
       them running. */
    volatile int done = 0, got = 0, got2 = 0;
    /* Client: receiver (answers pings) + two senders. */
    int r1 = go(ping_recv_loop(c, &got2));
    int s1 = go(big_sender(c, 20, &done));
    int s2 = go(big_sender(c, 20, &done));
    /* Server: pinger + receiver. */
    int p1 = go(pinger(s));
    int r2 = go(ping_recv_loop(s, &got));
    int64_t t = now() + 15000;
    while(done < 2 || got < 40) {
        assert(now() < t);
        errno_assert(msleep(now() + 10) == 0);
    }
    /* A second receiver is refused. */
    char b[4];
    int flags;
    assert_err(ws_recv(s, &flags, b, sizeof(b), now() + 10), EBUSY);
    errno_assert(hclose(p1) == 0);
    errno_assert(hclose(s1) == 0);
    errno_assert(hclose(s2) == 0);
    errno_assert(hclose(r1) == 0);
    errno_assert(hclose(r2) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* Closing the handle wakes senders waiting for the lock. */
static void test_close_waiters(void) {
    int c, s;
    wst_pair(0, 0, &c, &s);
    volatile int done = 0;
    int s1 = go(big_sender(c, 1000, &done));
    int s2 = go(big_sender(c, 1000, &done));
    errno_assert(msleep(now() + 20) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s1) == 0);
    errno_assert(hclose(s2) == 0);
    errno_assert(hclose(s) == 0);
}


coroutine static void plain_server(int s, int ch) {
    char res[64], host[64];
    int h = ws_attach_server(s, 0, res, sizeof(res), host, sizeof(host),
        now() + 2000);
    errno_assert(h >= 0);
    assert(strcmp(res, "/plain") == 0);
    errno_assert(chsend(ch, &h, sizeof(h), -1) == 0);
}

static void test_fallback(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int a = plain_wrap(p[0]);
    struct plain *pa = last_plain;
    int b = plain_wrap(p[1]);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int cr = go(plain_server(b, ch[1]));
    int c = ws_attach_client(a, 0, "/plain", "x", now() + 2000);
    errno_assert(c >= 0);
    int s;
    errno_assert(chrecv(ch[0], &s, sizeof(s), now() + 2000) == 0);
    errno_assert(hclose(cr) == 0);
    static const size_t sizes[] = {0, 1, 126, 70000, 1 << 20};
    uint8_t *pat = pattern(1 << 20, 4);
    uint8_t *buf = malloc(1 << 20);
    for(size_t i = 0; i != 5; i++) {
        for(int dir = 0; dir != 2; dir++) {
            int from = dir ? s : c, to = dir ? c : s;
            errno_assert(ws_ping(from, "p", 1, -1) == 0);
            cr = go(sender(from, 0, pat, sizes[i]));
            int flags;
            assert(ws_recv(to, &flags, buf, 1 << 20, now() + 5000) ==
                (ssize_t)sizes[i]);
            assert(memcmp(buf, pat, sizes[i]) == 0);
            errno_assert(hclose(cr) == 0);
        }
    }
    /* A send that times out before writing anything leaves the socket
       usable. */
    pa->failsend = 1;
    assert_err(ws_send(c, 0, "lost", 4, 0), ETIMEDOUT);
    errno_assert(ws_send_part(c, WS_TEXT | WS_MORE, "ab", 2, -1) == 0);
    errno_assert(ws_send_part(c, 0, "c", 1, -1) == 0);
    int flags;
    assert(ws_recv(s, &flags, buf, 100, now() + 1000) == 3);
    assert(flags == WS_TEXT);
    errno_assert(ws_done(c, 1000, NULL, 0, -1) == 0);
    assert_err(ws_recv(s, &flags, buf, 100, now() + 1000), EPIPE);
    errno_assert(ws_done(s, 1000, NULL, 0, -1) == 0);
    assert_err(ws_recv(c, &flags, buf, 100, now() + 1000), EPIPE);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    free(buf);
    free(pat);
}

coroutine static void blocked_receiver(int s) {
    uint8_t buf[16];
    int flags;
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 5000), EBADF);
}

coroutine static void blocked_sender(int s) {
    static uint8_t big[4 << 20];
    assert_err(ws_send(s, 0, big, sizeof(big), now() + 5000), EBADF);
}

/* Closing the handle under blocked calls fails them with EBADF. */
static void test_close_under(void) {
    int c, s;
    wst_pair(0, 0, &c, &s);
    int r = go(blocked_receiver(c));
    int w1 = go(blocked_sender(c));
    int w2 = go(blocked_sender(c));
    errno_assert(msleep(now() + 50) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(bundle_wait(r, now() + 1000) == 0);
    errno_assert(bundle_wait(w1, now() + 1000) == 0);
    errno_assert(bundle_wait(w2, now() + 1000) == 0);
    errno_assert(hclose(r) == 0);
    errno_assert(hclose(w1) == 0);
    errno_assert(hclose(w2) == 0);
    errno_assert(hclose(s) == 0);
}

/* WebSockets in other threads; each thread frees its buffers at exit. */
static void *thread_main(void *arg) {
    int c, s;
    wst_pair(0, 0, &c, &s);
    uint8_t *p = pattern(100000, 8);
    uint8_t *buf = malloc(100000);
    for(int i = 0; i != 10; i++) {
        int cr = go(sender(c, 0, p, 100000));
        int flags;
        assert(ws_recv(s, &flags, buf, 100000, now() + 5000) == 100000);
        assert(memcmp(buf, p, 100000) == 0);
        errno_assert(hclose(cr) == 0);
    }
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    free(buf);
    free(p);
    return arg;
}

static void test_threads(void) {
    for(int i = 0; i != 3; i++) {
        pthread_t t[2];
        for(int j = 0; j != 2; j++)
            assert(pthread_create(&t[j], NULL, thread_main, NULL) == 0);
        for(int j = 0; j != 2; j++) assert(pthread_join(t[j], NULL) == 0);
    }
}

/* Assorted paths: EMSGSIZE with lists, detach after the peer's close,
   detach while another coroutine receives, client-side keepalive. */
static void test_misc(void) {
    int c, s, flags;
    char buf[64];
    wst_pair(0, 0, &c, &s);
    errno_assert(ws_send(c, 0, "0123456789", 10, -1) == 0);
    errno_assert(ws_send(c, 0, "ok", 2, -1) == 0);
    char a[3], b[3];
    struct iolist i2 = {b, sizeof(b), NULL, 0};
    struct iolist i1 = {a, sizeof(a), &i2, 0};
    assert_err(ws_recvl(s, &flags, &i1, &i2, now() + 1000), EMSGSIZE);
    assert(ws_recvl(s, &flags, &i1, &i2, now() + 1000) == 2);
    assert(memcmp(a, "ok", 2) == 0);
    /* The peer closed; ws_detach just hands the socket back. */
    errno_assert(ws_done(c, 1000, NULL, 0, -1) == 0);
    assert_err(ws_recv(s, &flags, buf, sizeof(buf), now() + 1000), EPIPE);
    int u = ws_detach(s, 1000, NULL, 0, now() + 1000);
    errno_assert(u >= 0);
    errno_assert(hclose(u) == 0);
    errno_assert(hclose(c) == 0);
    /* ws_detach while another coroutine receives: EBUSY, all closed. */
    wst_pair(0, 0, &c, &s);
    int r = go(blocked_receiver(c));
    errno_assert(msleep(now() + 20) == 0);
    assert_err(ws_detach(c, 1000, NULL, 0, now() + 1000), EBUSY);
    assert_err(hclose(c), EBADF);
    errno_assert(bundle_wait(r, now() + 1000) == 0);
    errno_assert(hclose(r) == 0);
    errno_assert(hclose(s) == 0);
    /* Keepalive on the client side; the server answers while it waits. */
    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    o.ping_interval = 20;
    errno_assert(wst_pair_opts(0, 0, 0, &o, &c, &s, NULL) == 0);
    r = go(receiver_cancelled(s));
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 200), ETIMEDOUT);
    errno_assert(ws_send(s, 0, "x", 1, -1) == 0);
    assert(ws_recv(c, &flags, buf, sizeof(buf), now() + 200) == 1);
    errno_assert(hclose(r) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    /* A close arriving in the middle of a message read in pieces. */
    wst_pair(0, 0, &c, &s);
    errno_assert(ws_send_part(s, WS_MORE, "abc", 3, -1) == 0);
    assert(ws_recv_part(c, &flags, buf, sizeof(buf), now() + 1000) == 3);
    assert(flags == (WS_BINARY | WS_MORE));
    errno_assert(ws_done(s, 1001, NULL, 0, -1) == 0);
    assert_err(ws_send_part(s, 0, "d", 1, -1), EPIPE);
    assert_err(ws_recv_part(c, &flags, buf, sizeof(buf), now() + 1000),
        EPIPE);
    int status;
    assert(ws_status(c, &status, NULL, 0) == 0 && status == 1001);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

int main(void) {
    test_types();
    test_msgsize();
    test_parts();
    for(int tcp = 0; tcp != 2; tcp++) {
        test_sizes(tcp);
        test_close(tcp);
        test_concurrency(tcp);
    }
    test_deadlines();
    test_flood();
    test_handshake_bad();
    test_handshake_client();
    test_handshake_eager();
    test_options();
    test_handshake_refused();
    test_optsize();
    test_keepalive();
    test_close_waiters();
    test_fallback();
    test_close_under();
    test_threads();
    test_misc();
    return 0;
}
