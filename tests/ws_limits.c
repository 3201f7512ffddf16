/* WebSocket limits under abuse (issue 13), through the public API over
   real sockets: keepalive drops a peer that stops reading while we send;
   a connection flooded with tiny fragments does not hold others back. */

#include <stddef.h>
#include <stdio.h>

#include "wstest.h"

/* A server WebSocket (no handshake) with keepalive over TCP; *peer gets
   the raw client end. */
static int ka_server(int64_t ivl, int *peer) {
    struct dill_ws_options o = WS_OPTIONS_INIT;
    o.ping_interval = ivl;
    o.pong_timeout = ivl;
    o.flags = WS_NOHTTP;
    int b;
    wst_bpair(1, peer, &b);
    int s = ws_attach_server_opts(b, NULL, 0, NULL, 0, &o, NULL, -1);
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
   has drained: the window must cover that, with room for a loaded
   machine that deschedules the process.) */
coroutine static void slow_reader(int s, size_t total, int done) {
    uint8_t buf[4096];
    size_t got = 0;
    while(got < total) {
        size_t k = total - got < sizeof(buf) ? total - got : sizeof(buf);
        errno_assert(brecv(s, buf, k, now() + 5000) == 0);
        got += k;
        if(got % (64 * 1024) == 0) msleep(now() + 10);
    }
    errno_assert(chsend(done, &got, sizeof(got), -1) == 0);
}

static void test_keepalive_slow_reader(void) {
    int a;
    int s = ka_server(1500, &a);
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

/* A bytestream whose input never runs dry: a message of nframes 1-byte
   fragments (masked, key 0), served from memory without ever blocking, as
   from a peer that keeps the socket full.  served counts bytes handed out;
   a read past the end fails with ECONNRESET. */
struct gen {
    struct hvfs hvfs;
    struct bsock_vfs bvfs;
    size_t nframes;
    size_t served;
};

static void *gen_query(struct hvfs *vfs, const void *type) {
    struct gen *self = (struct gen*)vfs;
    if(type == bsock_type) return &self->bvfs;
    errno = ENOTSUP;
    return NULL;
}

static void gen_close(struct hvfs *vfs) {
    free(vfs);
}

static int gen_bsendl(struct bsock_vfs *vfs, struct iolist *first,
      struct iolist *last, int64_t deadline) {
    (void)vfs; (void)first; (void)last; (void)deadline;
    return 0;
}

static uint8_t gen_byte(struct gen *self, size_t pos) {
    size_t i = pos / 7, k = pos % 7;
    if(k == 0) return (uint8_t)((i + 1 == self->nframes ? 0x80 : 0) |
        (i ? 0 : 2));
    if(k == 1) return 0x81;
    return k == 6 ? 'f' : 0;
}

static int gen_brecvl(struct bsock_vfs *vfs, struct iolist *first,
      struct iolist *last, int64_t deadline) {
    struct gen *self = (struct gen*)((char*)vfs - offsetof(struct gen, bvfs));
    (void)last; (void)deadline;
    for(struct iolist *it = first; it; it = it->iol_next) {
        for(size_t i = 0; i != it->iol_len; i++) {
            if(self->served == self->nframes * 7) {
                errno = ECONNRESET;
                return -1;
            }
            uint8_t b = gen_byte(self, self->served++);
            if(it->iol_base) ((uint8_t*)it->iol_base)[i] = b;
        }
    }
    return 0;
}

static int gen_make(size_t nframes, struct gen **out) {
    struct gen *self = calloc(1, sizeof(*self));
    assert(self);
    self->hvfs.query = gen_query;
    self->hvfs.close = gen_close;
    self->bvfs.bsendl = gen_bsendl;
    self->bvfs.brecvl = gen_brecvl;
    self->nframes = nframes;
    *out = self;
    int h = hmake(&self->hvfs);
    errno_assert(h >= 0);
    return h;
}

static struct gen *flooded;

coroutine static void bystander(int ws, int ch) {
    char buf[16];
    int flags;
    errno_assert(ws_recv(ws, &flags, buf, sizeof(buf), now() + 30000) == 2);
    /* How far the flooded call had got when our turn came (copied now:
       the channel reads it only when the receiver comes). */
    size_t served = flooded->served;
    errno_assert(chsend(ch, &served, sizeof(served), -1) == 0);
}

/* While one call receives a message of 200,000 fragments whose bytes are
   always there, a message that arrives on another connection meanwhile
   is received after a bounded amount of that work (before: after 4,096
   reads, here 8,960 bytes of fragments; on TCP up to 64 MiB). */
static void test_flood_fairness(void) {
    size_t nframes = 200000;
    int g = gen_make(nframes, &flooded);
    struct dill_ws_options o = WS_OPTIONS_INIT;
    o.flags = WS_NOHTTP;
    int fw = ws_attach_server_opts(g, NULL, 0, NULL, 0, &o, NULL, -1);
    errno_assert(fw >= 0);
    int c, s;
    wst_pair(1, WS_NOHTTP, &c, &s);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int cr = go(bystander(s, ch[1]));
    errno_assert(cr >= 0);
    /* Gathered: it is written when this coroutine first gives way, which
       is inside the flooded call. */
    errno_assert(ws_send(c, WS_BINARY, "hi", 2, now() + 5000) == 0);
    uint8_t *msg = malloc(nframes);
    assert(msg);
    int flags;
    assert(ws_recv(fw, &flags, msg, nframes, now() + 60000) ==
        (ssize_t)nframes);
    size_t served;
    errno_assert(chrecv(ch[0], &served, sizeof(served), now() + 5000) == 0);
    if(served >= 2048)
        fprintf(stderr, "bystander ran after %zu flood bytes\n", served);
    assert(served < 2048);
    free(msg);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    errno_assert(hclose(fw) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* A burst of connections through ws_listen: more than a batch, with
   fewer handshakes allowed in flight than clients, while other
   connections keep the thread busy.  Every client is served once. */
#define BURST 100

coroutine static void burst_client(int port, int ch) {
    char url[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/c", port);
    int ws = ws_connect(url, NULL, NULL, now() + 20000);
    errno_assert(ws >= 0);
    char buf[8];
    int flags;
    errno_assert(ws_recv(ws, &flags, buf, sizeof(buf), now() + 20000) == 2);
    errno_assert(hclose(ws) == 0);
    int one = 1;
    errno_assert(chsend(ch, &one, sizeof(one), -1) == 0);
}

coroutine static void busy_echo(int ws, int client) {
    char buf[64];
    int flags;
    while(1) {
        if(client && ws_send(ws, WS_BINARY, "ping", 4, -1) < 0) return;
        ssize_t n = ws_recv(ws, &flags, buf, sizeof(buf), -1);
        if(n < 0) return;
        if(!client && ws_send(ws, WS_BINARY, buf, (size_t)n, -1) < 0) return;
    }
}

static void test_accept_burst(void) {
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    lo.max_pending = 7;
    int l = ws_listen(&addr, &lo);
    errno_assert(l >= 0);
    int b = bundle();
    errno_assert(b >= 0);
    int pairs[20];
    for(int i = 0; i != 10; i++) {
        wst_pair(1, WS_NOHTTP, &pairs[2 * i], &pairs[2 * i + 1]);
        errno_assert(bundle_go(b, busy_echo(pairs[2 * i], 1)) == 0);
        errno_assert(bundle_go(b, busy_echo(pairs[2 * i + 1], 0)) == 0);
    }
    int ch[2];
    errno_assert(chmake(ch) == 0);
    for(int i = 0; i != BURST; i++)
        errno_assert(bundle_go(b, burst_client(ipaddr_port(&addr), ch[1]))
            == 0);
    for(int i = 0; i != BURST; i++) {
        int s = ws_accept(l, NULL, 0, NULL, now() + 30000);
        errno_assert(s >= 0);
        errno_assert(ws_send(s, WS_BINARY, "ok", 2, now() + 5000) == 0);
        errno_assert(hclose(s) == 0);
    }
    for(int i = 0; i != BURST; i++) {
        int one;
        errno_assert(chrecv(ch[0], &one, sizeof(one), now() + 30000) == 0);
    }
    /* Nothing more is waiting. */
    assert_err(ws_accept(l, NULL, 0, NULL, now() + 50), ETIMEDOUT);
    errno_assert(hclose(b) == 0);
    for(int i = 0; i != 20; i++) errno_assert(hclose(pairs[i]) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    errno_assert(hclose(l) == 0);
}

int main(void) {
    test_accept_burst();
    test_flood_fairness();
    test_keepalive_send(1);
    test_keepalive_send(0);
    test_keepalive_slow_reader();
    return 0;
}
