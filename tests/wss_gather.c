/* Gathered writes through TLS: small WebSocket frames written during one
   coroutine turn leave as one TLS record (up to the 16 KiB record limit),
   pushed into the socket's own gathered writes.  A relay between the two
   ends reads the TLS stream record by record and counts the records, so
   the tests see exactly how many records a burst became.  Also: order
   next to big (not gathered) frames and ws_done, bursts bigger than every
   buffer on the way (the push waits for room below), hclose right after a
   burst, a peer that resets, and sends with deadline 0 that fail with
   ETIMEDOUT and leave the connection usable. */

#include <stdio.h>
#include <unistd.h>

#include "tmpdir.h"
#include "wsseq.h"
#include "wstest.h"

#if defined DILL_DISABLE_TLS
int main(void) {
    return 0;
}
#else

static void makecert(void) {
    tmpdir_make("wssgather");
    tmpdir_selfsigned("k.pem", "c.pem", 1, "");
}

/* Application data records (type 23) the relay passed from the server to
   the client. */
static int records;

/* Copies TLS records from one socket to the other; counts the
   application data ones when count is set.  At the end of the input,
   half-closes the output. */
coroutine static void relay(int from, int to, int count) {
    uint8_t *b = malloc(5 + 18432);
    assert(b);
    while(brecv(from, b, 5, -1) == 0) {
        size_t len = (size_t)b[3] << 8 | b[4];
        assert(len <= 18432);
        if(brecv(from, b + 5, len, -1) < 0) break;
        if(count && b[0] == 23) records++;
        if(bsend(to, b, 5 + len, -1) < 0) break;
    }
    tcp_done(to, now() + 1000);
    free(b);
}

coroutine static void tls_ws_server(int s, int ch) {
    int t = tls_attach_server(s, path("c.pem"), path("k.pem"), now() + 5000);
    errno_assert(t >= 0);
    char res[64], host[64];
    int ws = ws_attach_server(t, 0, res, sizeof(res), host, sizeof(host),
        now() + 5000);
    errno_assert(ws >= 0);
    errno_assert(chsend(ch, &ws, sizeof(ws), -1) == 0);
}

/* wss pair over bytestreams a (client end) and b (server end). */
static void wss_over(int a, int b, int *c, int *s) {
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int cr = go(tls_ws_server(b, ch[1]));
    errno_assert(cr >= 0);
    int t = tls_attach_client(a, now() + 5000);
    errno_assert(t >= 0);
    *c = ws_attach_client(t, 0, "/", "localhost", now() + 5000);
    errno_assert(*c >= 0);
    errno_assert(chrecv(ch[0], s, sizeof(*s), now() + 5000) == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}

/* wss pair through the counting relay; *rl is the relay's bundle. */
static void relayed_pair(int *c, int *s, int *rl) {
    int a[2], b[2];
    bpair(1, a);
    bpair(1, b);
    *rl = bundle();
    errno_assert(*rl >= 0);
    errno_assert(bundle_go(*rl, relay(a[1], b[0], 0)) == 0);
    errno_assert(bundle_go(*rl, relay(b[0], a[1], 1)) == 0);
    wss_over(a[0], b[1], c, s);
}

/* One turn, one record; two turns, two; 40 KB in one turn, as few
   records of at most 16 KiB as the frames fit in (16 frames of 1004
   bytes each). */
static void test_records(void) {
    int c, s, rl;
    relayed_pair(&c, &s, &rl);
    int before = records;
    seq_send(s, 0, 100, 8);
    seq_expect(c, 0, 100, now() + 5000);
    assert(records - before == 1);
    before = records;
    seq_send(s, 0, 10, 8);
    errno_assert(yield() == 0);
    seq_send(s, 10, 10, 8);
    seq_expect(c, 0, 20, now() + 5000);
    assert(records - before == 2);
    before = records;
    seq_send(s, 0, 40, 1000);
    seq_expect(c, 0, 40, now() + 5000);
    assert(records - before == 3);
    /* The client's masked frames are gathered as well (no count that
       way: just that they arrive). */
    seq_send(c, 0, 100, 8);
    seq_expect(s, 0, 100, now() + 5000);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(bundle_wait(rl, now() + 5000) == 0);
    errno_assert(hclose(rl) == 0);
}

/* A big frame (written at once, not gathered) and ws_done go after the
   small frames gathered before them. */
static void test_order(void) {
    int c, s, rl;
    relayed_pair(&c, &s, &rl);
    seq_send(s, 0, 5, 8);
    uint8_t *big = malloc(65536);
    assert(big);
    memset(big, 'b', 65536);
    memcpy(big, "5 ", 2);
    errno_assert(ws_send(s, 0, big, 65536, -1) == 0);
    seq_send(s, 6, 5, 8);
    errno_assert(ws_done(s, 1000, NULL, 0, now() + 5000) == 0);
    seq_expect(c, 0, 5, now() + 5000);
    int flags;
    assert(ws_recv(c, &flags, big, 65536, now() + 5000) == 65536);
    assert(memcmp(big, "5 bbb", 5) == 0);
    seq_expect(c, 6, 5, now() + 5000);
    assert_err(ws_recv(c, &flags, big, 16, now() + 5000), EPIPE);
    free(big);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(bundle_wait(rl, now() + 5000) == 0);
    errno_assert(hclose(rl) == 0);
}

/* wss pair over a socketpair with the smallest kernel buffers: every
   buffer on the way fills up. */
static void small_pair(int *c, int *s) {
    int p[2];
    bpair_small(p);
    wss_over(p[0], p[1], c, s);
}

/* 300 KB in one turn, the reader starting later: the records wait in
   TLS for room below and go on when the socket reports it. */
static void test_full(void) {
    int c, s;
    small_pair(&c, &s);
    int64_t start = now();
    int cr = go(seq_burst_then_sleep(c, 3000, 100, start + 20000));
    errno_assert(cr >= 0);
    errno_assert(msleep(now() + 100) == 0);
    seq_expect(s, 0, 3000, start + 10000);
    assert(now() - start < 10000);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* hclose right after a burst: the frames still go out. */
static void test_hclose(void) {
    int c, s, rl;
    relayed_pair(&c, &s, &rl);
    seq_send(c, 0, 10, 8);
    errno_assert(hclose(c) == 0);
    seq_expect(s, 0, 10, now() + 5000);
    char b[8];
    int flags;
    ssize_t r = ws_recv(s, &flags, b, sizeof(b), now() + 5000);
    assert(r < 0 && (errno == EPIPE || errno == ECONNRESET));
    errno_assert(hclose(s) == 0);
    errno_assert(bundle_wait(rl, now() + 5000) == 0);
    errno_assert(hclose(rl) == 0);
}

/* The peer goes away with data unread (its kernel resets): a gathered
   write fails in the background and a later send says so. */
static void test_reset(void) {
    int a[2];
    bpair(1, a);
    int c, s;
    wss_over(a[0], a[1], &c, &s);
    seq_send(c, 0, 1, 8);
    errno_assert(msleep(now() + 50) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(msleep(now() + 50) == 0);
    seq_send_until_reset(c);
    errno_assert(hclose(c) == 0);
}

coroutine static void reader(int s, int n, int ch) {
    seq_expect(s, 0, n, now() + 10000);
    errno_assert(chsend(ch, &n, sizeof(n), -1) == 0);
}

/* Sends with deadline 0 until every buffer is full: ETIMEDOUT, nothing
   lost, and the connection goes on. */
static void test_nowait(void) {
    int c, s;
    small_pair(&c, &s);
    int n = 0;
    while(1) {
        char b[128];
        memset(b, 'y', sizeof(b));
        int len = snprintf(b, sizeof(b), "%d", n);
        b[len] = ' ';
        if(ws_send(c, 0, b, 100, 0) < 0) {
            assert(errno == ETIMEDOUT);
            break;
        }
        n++;
        assert(n < 1000000);
    }
    /* More than one record's worth got in without waiting. */
    assert(n > 16384 / 102);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int cr = go(reader(s, n + 1, ch[1]));
    errno_assert(cr >= 0);
    char b[16];
    int len = snprintf(b, sizeof(b), "%d", n);
    errno_assert(ws_send(c, 0, b, (size_t)len, now() + 10000) == 0);
    int got;
    errno_assert(chrecv(ch[0], &got, sizeof(got), now() + 10000) == 0);
    assert(got == n + 1);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

int main(void) {
    makecert();
    test_records();
    test_order();
    test_full();
    test_hclose();
    test_reset();
    test_nowait();
    tmpdir_remove();
    return 0;
}

#endif
