/* What an idle WebSocket connection keeps (issue 16): its control-frame
   memory exists only while a control frame is received or waits to be
   written.  A server handler is hibernated (dill_hibernate) in ws_recv;
   a raw client, writing frames byte by byte as the RFC lays them out,
   sends it pings, pongs, data and a Close; each wakes the handler, gets
   its answer on the wire, and leaves the connection holding no control
   block again (dill__ws_cb_live, the library's count of those blocks). */

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "assert.h"
#include "bpair.h"
#include "libdill.h"
#include "proto/ws.h"
#include "wsclient.h"

#define DL (now() + 5000)

/* Whether the page at addr is resident. */
static int resident(uintptr_t addr) {
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char v = 0;
    errno_assert(mincore((void*)(addr & ~(uintptr_t)(pg - 1)), 1, &v) == 0);
    return v & 1;
}

/* Touches 16 KiB of stack below its caller; deep_at is an address in
   it. */
static uintptr_t deep_at;
__attribute__((noinline)) static void deep(void) {
    volatile char big[16384];
    for(size_t i = 0; i < sizeof(big); i += 512) big[i] = 1;
    deep_at = (uintptr_t)&big[1024];
}

/* What the handler saw at the end, in main's memory. */
struct report {
    int deep_before;       /* the deep page was resident before the */
    int deep_after;        /* handshake, and after it */
    int err;
    int status;
    ssize_t rlen;
    char reason[130];
    size_t live;           /* control blocks after ws_status */
    int msgs;
};

coroutine static void handler(int s, struct report *r) {
    char resource[256], host[256];
    /* Stands for a deep handshake (TLS's): ws_attach_server gives back the
       pages that calls deeper than its caller's frame touched. */
    deep();
    uintptr_t d = deep_at;
    r->deep_before = resident(d);
    int ws = ws_attach_server(s, WS_BINARY, resource, sizeof(resource),
        host, sizeof(host), DL);
    errno_assert(ws >= 0);
    r->deep_after = resident(d);
    int flags;
    while(1) {
        ssize_t n = ws_recv(ws, &flags, resource, sizeof(resource), -1);
        if(n < 0) break;
        r->msgs++;
        errno_assert(ws_send(ws, WS_BINARY, resource, (size_t)n, DL) == 0);
    }
    r->err = errno;
    r->rlen = ws_status(ws, &r->status, r->reason, sizeof(r->reason));
    r->live = dill__ws_cb_live();
    errno_assert(hclose(ws) == 0);
}

/* Main waits past the threshold until the handler hibernates again
   (bounded). */
static void settle(void) {
    int64_t end = now() + 5000;
    do errno_assert(msleep(now() + 30) == 0);
    while(hibernated() != 1 && now() < end);
    assert(hibernated() == 1);
}

static void rd(int c, const uint8_t *want, size_t n) {
    uint8_t got[256];
    assert(n <= sizeof(got));
    errno_assert(brecv(c, got, n, DL) == 0);
    if(memcmp(got, want, n) != 0) {
        for(size_t i = 0; i != n; i++) fprintf(stderr, "%02x/%02x ", got[i], want[i]);
        fprintf(stderr, "\n");
    }
    assert(memcmp(got, want, n) == 0);
}

static void handshake(int c) {
    errno_assert(bsend(c, wsc_request, strlen(wsc_request), DL) == 0);
    /* The answer ends with an empty line. */
    char tail[4] = {0};
    while(memcmp(tail, "\r\n\r\n", 4) != 0) {
        memmove(tail, tail + 1, 3);
        errno_assert(brecv(c, tail + 3, 1, DL) == 0);
    }
}

/* Keepalive on a hibernated connection: the handler's receiving call,
   waiting shallow, wakes for each ping it owes (every 100 ms) and goes
   back to sleep; pongs keep the connection up. */
coroutine static void ka_handler(int s, int *err) {
    char resource[256], host[256];
    struct ws_options o = WS_OPTIONS_INIT;
    o.ping_interval = 100;
    o.pong_timeout = 3000;
    int ws = ws_attach_server_opts(s, resource, sizeof(resource), host,
        sizeof(host), &o, NULL, DL);
    errno_assert(ws >= 0);
    int flags;
    ssize_t n = ws_recv(ws, &flags, resource, sizeof(resource), -1);
    assert(n < 0);
    *err = errno;
    errno_assert(hclose(ws) == 0);
}

static void keepalive(void) {
    int p[2];
    bpair(1, p);
    int c = p[0], err = 0;
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, ka_handler(p[1], &err)) == 0);
    handshake(c);
    for(int i = 0; i != 3; i++) {
        /* A ping (unmasked, 8 bytes of time) within a bounded wait. */
        uint8_t h[10], f[64];
        errno_assert(brecv(c, h, sizeof(h), DL) == 0);
        assert(h[0] == 0x89 && h[1] == 8);
        size_t n = wsc_frame(f, 0xa, h + 2, 8);
        errno_assert(bsend(c, f, n, DL) == 0);
    }
    settle();
    assert(dill__ws_cb_live() == 0);
    uint8_t f[16];
    size_t n = wsc_frame(f, 0x8, "\x03\xe8", 2);
    errno_assert(bsend(c, f, n, DL) == 0);
    errno_assert(bundle_wait(b, DL) == 0);
    assert(err == EPIPE);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(c) == 0);
}

int main(void) {
    errno_assert(hibernate(10) == 0);
    int p[2];
    bpair(1, p);
    int c = p[0];
    struct report r = {0};
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, handler(p[1], &r)) == 0);
    handshake(c);
    settle();
    assert(r.deep_before && !r.deep_after);
    assert(dill__ws_cb_live() == 0);
    /* Nor keepalive, subprotocol or ws_listen state. */
    assert(dill__ws_rare_live() == 0);

    /* A ping on the hibernated connection: its pong, then no block. */
    uint8_t f[512];
    size_t n = wsc_frame(f, 0x9, "hello", 5);
    errno_assert(bsend(c, f, n, DL) == 0);
    rd(c, (const uint8_t*)"\x8a\x05hello", 7);
    settle();
    assert(dill__ws_cb_live() == 0);

    /* Three pings in one write, answered in order. */
    n = wsc_frame(f, 0x9, "a", 1);
    n += wsc_frame(f + n, 0x9, "", 0);
    n += wsc_frame(f + n, 0x9, "ccc", 3);
    errno_assert(bsend(c, f, n, DL) == 0);
    rd(c, (const uint8_t*)"\x8a\x01" "a" "\x8a\x00" "\x8a\x03" "ccc", 10);
    settle();
    assert(dill__ws_cb_live() == 0);

    /* A ping of the largest size, cut in two writes: the handler wakes
       with half of it, waits for the rest holding the block. */
    uint8_t big[125];
    for(size_t i = 0; i != sizeof(big); i++) big[i] = (uint8_t)(i + 1);
    n = wsc_frame(f, 0x9, big, sizeof(big));
    errno_assert(bsend(c, f, 60, DL) == 0);
    errno_assert(msleep(now() + 60) == 0);
    assert(dill__ws_cb_live() == 1);
    errno_assert(bsend(c, f + 60, n - 60, DL) == 0);
    uint8_t want[127] = {0x8a, 125};
    memcpy(want + 2, big, sizeof(big));
    rd(c, want, sizeof(want));
    settle();
    assert(dill__ws_cb_live() == 0);

    /* An unsolicited pong needs no answer and leaves nothing. */
    n = wsc_frame(f, 0xa, "x", 1);
    errno_assert(bsend(c, f, n, DL) == 0);
    /* Then data: the echo proves the pong was taken and the handler is
       back in ws_recv. */
    n = wsc_frame(f, 0x2, "\x01\x02\x03", 3);
    errno_assert(bsend(c, f, n, DL) == 0);
    rd(c, (const uint8_t*)"\x82\x03\x01\x02\x03", 5);
    settle();
    assert(dill__ws_cb_live() == 0);
    assert(r.msgs == 1);

    /* A message in two writes, the second after the threshold: the
       handler, woken by the first, keeps waiting for the rest (the call's
       own deadline, not the threshold, bounds that wait). */
    n = wsc_frame(f, 0x2, big, 100);
    errno_assert(bsend(c, f, 40, DL) == 0);
    errno_assert(msleep(now() + 60) == 0);
    errno_assert(bsend(c, f + 40, n - 40, DL) == 0);
    uint8_t echo[102] = {0x82, 100};
    memcpy(echo + 2, big, 100);
    rd(c, echo, sizeof(echo));
    settle();
    assert(r.msgs == 2);

    /* The peer's Close: its reason is kept for ws_status (the block
       stays), our answer echoes the code, and hclose frees the rest. */
    n = wsc_frame(f, 0x8, "\x03\xe8" "bye", 5);
    errno_assert(bsend(c, f, n, DL) == 0);
    rd(c, (const uint8_t*)"\x88\x02\x03\xe8", 4);
    errno_assert(bundle_wait(b, DL) == 0);
    assert(r.err == EPIPE);
    assert(r.status == 1000);
    assert(r.rlen == 3);
    assert(memcmp(r.reason, "bye", 3) == 0);
    assert(r.live == 1);
    assert(dill__ws_cb_live() == 0);
    assert(hibernated() == 0);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(c) == 0);
    keepalive();
    return 0;
}
