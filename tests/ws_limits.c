/* WebSocket limits under abuse (issue 13), through the public API over
   real sockets: keepalive drops a peer that stops reading while we send. */

#include <stdio.h>

#include "wstest.h"

/* A server WebSocket (no handshake) with keepalive over TCP; *peer gets
   the raw client end. */
static int ka_server(int64_t ivl, int *peer) {
    struct dill_ws_options o = {0};
    o.ping_interval = ivl;
    o.pong_timeout = ivl;
    o.flags = WS_NOHTTP;
    int b;
    wst_bpair(1, peer, &b);
    int s = ws_attach_server_opts(b, NULL, 0, NULL, 0, &o, -1);
    errno_assert(s >= 0);
    return s;
}

/* A peer that reads nothing: sends with no deadline of their own fail
   with ETIMEDOUT once keepalive's window passes without progress, and the
   connection is then broken both ways.  big: messages that go out in
   direct writes; else small ones gathered in the socket's buffer. */
static void test_keepalive_send(int big) {
    int a;
    int s = ka_server(100, &a);
    size_t n = big ? 65536 : 100;
    uint8_t *m = calloc(1, n);
    assert(m);
    int64_t t = now();
    int rc;
    size_t sent = 0;
    while((rc = ws_send(s, WS_BINARY, m, n, -1)) == 0) {
        sent += n;
        assert(sent < (size_t)1 << 30);
    }
    assert(errno == ETIMEDOUT);
    assert(now() - t < 5000 + SLACK);
    int flags;
    assert_err(ws_send(s, WS_BINARY, m, 1, -1), ECONNRESET);
    assert_err(ws_recv(s, &flags, m, n, now() + 1000), ECONNRESET);
    free(m);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(a) == 0);
}

/* A peer that reads slowly but steadily is not dropped, even though one
   message takes several keepalive windows to go out.  (The kernel reports
   room only once a good part of the send buffer, megabytes on loopback,
   has drained: the window must cover that.) */
coroutine static void slow_reader(int s, size_t total, int done) {
    uint8_t buf[4096];
    size_t got = 0;
    while(got < total) {
        size_t k = total - got < sizeof(buf) ? total - got : sizeof(buf);
        errno_assert(brecv(s, buf, k, now() + 5000) == 0);
        got += k;
        if(got % (64 * 1024) == 0) msleep(now() + 5);
    }
    errno_assert(chsend(done, &got, sizeof(got), -1) == 0);
}

static void test_keepalive_slow_reader(void) {
    int a;
    int s = ka_server(500, &a);
    size_t n = 32 << 20;
    uint8_t *m = calloc(1, n);
    assert(m);
    /* Frame header: 10 bytes for a 64-bit length from the server. */
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int cr = go(slow_reader(a, n + 10, ch[1]));
    errno_assert(cr >= 0);
    int64_t t0 = now();
    errno_assert(ws_send(s, WS_BINARY, m, n, now() + 60000) == 0);
    fprintf(stderr, "slow reader: %d ms for %zu bytes\n", (int)(now() - t0),
        n);
    size_t got;
    errno_assert(chrecv(ch[0], &got, sizeof(got), now() + 60000) == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    free(m);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(a) == 0);
}

int main(void) {
    test_keepalive_send(1);
    test_keepalive_send(0);
    test_keepalive_slow_reader();
    return 0;
}
