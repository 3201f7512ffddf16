/* Closing a handle while coroutines sleep in it (core pins, issue 14):
   over a real TCP connection whose peer reads nothing, one coroutine
   blocked receiving and one blocked sending (the kernel buffers full), on
   a plain tcp socket, tls, ws, wss, suffix, prefix, http, an ipc socket
   (AF_UNIX) and term over suffix; then hclose from
   another coroutine.  Both calls fail with EBADF and nothing leaks or is
   touched after it is freed (ASan, valgrind).  The same with the
   sleepers hibernated, and with the objects in caller's storage (_mem),
   which is scribbled over as soon as the calls have returned.  ws also
   has a sender waiting for the send lock, and a waiter that was handed
   the lock but had not run yet when the handle was closed; a receiver
   in a flood is closed under while it yields; suffix_detach, term_detach,
   prefix_detach and http_detach refuse while a call is inside.  A
   ws_listen listener is closed under ws_accept and under
   ws_listen_shutdown, waiting for the connections it handed out or still
   sending them a Close. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "assert.h"
#include "libdill.h"
#include "tmpdir.h"

#if defined(__SANITIZE_ADDRESS__)
#define PIN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PIN_ASAN 1
#endif
#endif
#if PIN_ASAN
#include <sanitizer/asan_interface.h>
#endif

enum {K_TCP, K_TLS, K_WS, K_WSS, K_SUFFIX, K_PREFIX, K_HTTP, K_IPC, K_TERM,
    K_KINDS};
enum {M_PLAIN, M_HIB, M_MEM, M_MODES};
static const char *kname[] = {"tcp", "tls", "ws", "wss", "suffix",
    "prefix", "http", "ipc", "term"};
static const char *mname[] = {"plain", "hibernated", "mem"};

static int tlskind(int k) {return k == K_TLS || k == K_WSS;}
static int wskind(int k) {return k == K_WS || k == K_WSS;}
static int mkind(int k) {
    return k == K_SUFFIX || k == K_PREFIX || k == K_TERM;
}

/* Far more than the shrunk kernel buffers hold. */
#define BIG (1024 * 1024)
static uint8_t big[BIG];

/* What a sleeper reports, in main's memory (main never hibernates). */
struct report {
    int done;
    int rc;
    int err;
};

/* Our side's objects in caller's storage (M_MEM), in static memory. */
static struct {
    struct dill_tcp_storage tcp;
    struct dill_ipc_storage ipc;
    struct dill_term_storage term;
    struct dill_tls_storage tls;
    struct dill_ws_storage ws;
    struct dill_suffix_storage sfx;
    struct dill_prefix_storage pfx;
    struct dill_http_storage http;
} mem;

static const char *cert, *key;

/* A loopback TCP connection with the smallest kernel buffers: *ours
   connected to *peer (file descriptors). */
static int shrink = 1;

static void unixpair(int *ours, int *peer) {
    int small = shrink ? 1 : 1 << 20;
    int sv[2];
    errno_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    for(int i = 0; i != 2; i++) {
        errno_assert(setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &small,
            sizeof(small)) == 0);
        errno_assert(setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &small,
            sizeof(small)) == 0);
    }
    *ours = sv[0];
    *peer = sv[1];
}

static void rawpair(int *ours, int *peer) {
    int small = shrink ? 1 : 1 << 20;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    assert(l >= 0);
    errno_assert(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small,
        sizeof(small)) == 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    errno_assert(bind(l, (struct sockaddr*)&a, sizeof(a)) == 0);
    socklen_t alen = sizeof(a);
    errno_assert(getsockname(l, (struct sockaddr*)&a, &alen) == 0);
    errno_assert(listen(l, 1) == 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    assert(c >= 0);
    errno_assert(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small,
        sizeof(small)) == 0);
    errno_assert(setsockopt(c, SOL_SOCKET, SO_RCVBUF, &small,
        sizeof(small)) == 0);
    errno_assert(connect(c, (struct sockaddr*)&a, sizeof(a)) == 0);
    int p = accept(l, NULL, NULL);
    assert(p >= 0);
    errno_assert(close(l) == 0);
    *ours = c;
    *peer = p;
}

/* The peer's side of the handshakes; sends its handle on ch. */
coroutine static void peer_setup(int kind, int fd, int ch) {
    int s = kind == K_IPC ? ipc_fromfd(fd) : tcp_fromfd(fd);
    errno_assert(s >= 0);
    if(tlskind(kind)) {
        s = tls_attach_server(s, cert, key, now() + 10000);
        errno_assert(s >= 0);
    }
    if(wskind(kind)) {
        char res[64], host[64];
        s = ws_attach_server(s, WS_BINARY, res, sizeof(res), host,
            sizeof(host), now() + 10000);
        errno_assert(s >= 0);
    }
    errno_assert(chsend(ch, &s, sizeof(s), -1) == 0);
}

/* Our side of a connection of the given kind (in mem when m is set) and
   the peer's handle. */
static void pair(int kind, int m, int *ours, int *peer) {
    int fd, pfd, ch[2];
    if(kind == K_IPC) unixpair(&fd, &pfd);
    else rawpair(&fd, &pfd);
    errno_assert(chmake(ch) == 0);
    int cr = go(peer_setup(kind, pfd, ch[1]));
    errno_assert(cr >= 0);
    int s;
    if(kind == K_IPC) s = m ? ipc_fromfd_mem(fd, &mem.ipc) : ipc_fromfd(fd);
    else s = m ? tcp_fromfd_mem(fd, &mem.tcp) : tcp_fromfd(fd);
    errno_assert(s >= 0);
    if(tlskind(kind)) {
        struct tls_client_options o = TLS_CLIENT_OPTIONS_INIT;
        o.insecure_skip_verify = 1;
        s = tls_attach_client_opts(s, &o, m ? &mem.tls : NULL,
            now() + 10000);
        errno_assert(s >= 0);
    }
    if(wskind(kind)) {
        s = m ? ws_attach_client_mem(s, WS_BINARY, "/", "localhost", &mem.ws,
            now() + 10000) :
            ws_attach_client(s, WS_BINARY, "/", "localhost", now() + 10000);
        errno_assert(s >= 0);
    }
    if(kind == K_SUFFIX || kind == K_TERM) {
        s = m ? suffix_attach_mem(s, "\r\n", 2, &mem.sfx) :
            suffix_attach(s, "\r\n", 2);
        errno_assert(s >= 0);
    }
    if(kind == K_TERM) {
        s = m ? term_attach_mem(s, "END", 3, &mem.term) :
            term_attach(s, "END", 3);
        errno_assert(s >= 0);
    }
    if(kind == K_PREFIX) {
        s = m ? prefix_attach_mem(s, 4, PREFIX_BIG_ENDIAN, &mem.pfx) :
            prefix_attach(s, 4, PREFIX_BIG_ENDIAN);
        errno_assert(s >= 0);
    }
    if(kind == K_HTTP) {
        s = m ? http_attach_mem(s, &mem.http) : http_attach(s);
        errno_assert(s >= 0);
    }
    errno_assert(chrecv(ch[0], peer, sizeof(*peer), now() + 10000) == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    *ours = s;
}

coroutine static void receiver(int kind, int h, struct report *r) {
    uint8_t buf[64];
    int flags;
    errno = 0;
    if(wskind(kind))
        r->rc = (int)ws_recv(h, &flags, buf, sizeof(buf), -1);
    else if(mkind(kind))
        r->rc = (int)mrecv(h, buf, sizeof(buf), -1);
    else if(kind == K_HTTP)
        r->rc = http_recvfield(h, (char*)buf, 32, (char*)buf + 32, 32, -1);
    else
        r->rc = brecv(h, buf, sizeof(buf), -1);
    r->err = errno;
    r->done = 1;
}

/* A header field's value far bigger than the kernel buffers. */
static char bigvalue[BIG];

static int send_any(int kind, int h, size_t len) {
    if(wskind(kind)) return ws_send(h, WS_BINARY, big, len, -1);
    if(mkind(kind)) return msend(h, big, len, -1);
    if(kind == K_HTTP) return http_sendfield(h, "X", bigvalue, -1);
    return bsend(h, big, len, -1);
}

/* Sends len bytes; with closeme set, closes h once they are out. */
coroutine static void sender(int kind, int h, size_t len, int closeme,
      struct report *r) {
    errno = 0;
    r->rc = send_any(kind, h, len);
    r->err = errno;
    r->done = 1;
    if(closeme) errno_assert(hclose(h) == 0);
}

/* Lets the sleepers block: bounded, as a loaded machine may be slow.
   Hibernating, waits until want of them have hibernated. */
static void settle(int want) {
    int64_t end = now() + 5000;
    do errno_assert(msleep(now() + 30) == 0);
    while(want && hibernated() < want && now() < end);
}

/* With caller's storage nothing may touch the objects once every call
   that was inside has returned: scribble over them (and under ASan make
   any touch an error). */
static void scribble(int on) {
    if(on) memset(&mem, 0xA5, sizeof(mem));
#if PIN_ASAN
    if(on) __asan_poison_memory_region(&mem, sizeof(mem));
    else __asan_unpoison_memory_region(&mem, sizeof(mem));
#endif
}

static void one(int kind, int mode) {
    if(mode == M_HIB) errno_assert(hibernate(0) == 0);
    int ours, peer;
    pair(kind, mode == M_MEM, &ours, &peer);
    struct report rr = {0}, rs = {0}, rl = {0};
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, receiver(kind, ours, &rr)) == 0);
    errno_assert(bundle_go(b, sender(kind, ours, BIG, 0, &rs)) == 0);
    /* ws: a second sender waits for the send lock. */
    if(wskind(kind))
        errno_assert(bundle_go(b, sender(kind, ours, 10, 0, &rl)) == 0);
    int n = wskind(kind) ? 3 : 2;
    settle(0);
    int hib = 0;
    if(mode == M_HIB) {
        /* All of them: the receiver (through epoll after the ring's
           hand-over), the sender waiting for room, the lock waiter. */
        settle(n);
        hib = hibernated();
        assert(hib == n);
    }
    assert(!rr.done && !rs.done && !rl.done);
    errno_assert(hclose(ours) == 0);
    errno_assert(bundle_wait(b, now() + 5000) == 0);
    if(mode == M_MEM) scribble(1);
    fprintf(stderr, "%s %s (%d hibernated): recv %d/%d send %d/%d",
        kname[kind], mname[mode], hib, rr.rc, rr.err, rs.rc, rs.err);
    if(wskind(kind)) fprintf(stderr, " lock %d/%d", rl.rc, rl.err);
    fprintf(stderr, "\n");
    assert(rr.done && rr.rc == -1 && rr.err == EBADF);
    assert(rs.done && rs.rc == -1 && rs.err == EBADF);
    if(wskind(kind)) assert(rl.done && rl.rc == -1 && rl.err == EBADF);
    assert(hibernated() == 0);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(peer) == 0);
    if(mode == M_MEM) scribble(0);
    if(mode == M_HIB) errno_assert(hibernate(-1) == 0);
}

/* The peer reads one message and ends (for the handed-over lock). */
coroutine static void peer_drain(int peer) {
    int flags;
    ssize_t n = ws_recv(peer, &flags, big, BIG, now() + 10000);
    errno_assert(n >= 0);
}

/* ws: the lock holder's message goes out, the lock passes to the waiting
   sender, and before that one runs the holder closes the handle: the
   waiter's lock wait, which had succeeded, fails with EBADF. */
static void handed(int kind, int mode) {
    int ours, peer;
    pair(kind, mode == M_MEM, &ours, &peer);
    struct report rs = {0}, rl = {0};
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, sender(kind, ours, BIG / 2, 1, &rs)) == 0);
    errno_assert(bundle_go(b, sender(kind, ours, 10, 0, &rl)) == 0);
    settle(0);
    assert(!rs.done && !rl.done);
    errno_assert(bundle_go(b, peer_drain(peer)) == 0);
    errno_assert(bundle_wait(b, now() + 10000) == 0);
    if(mode == M_MEM) scribble(1);
    fprintf(stderr, "%s %s handed over: send %d/%d lock %d/%d\n",
        kname[kind], mname[mode], rs.rc, rs.err, rl.rc, rl.err);
    assert(rs.rc == 0);
    assert(rl.rc == -1 && rl.err == EBADF);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(peer) == 0);
    if(mode == M_MEM) scribble(0);
}

/* The peer floods our side until it fails. */
static uint8_t sink[BIG];

coroutine static void flooder(int kind, int peer) {
    if(wskind(kind)) while(ws_send(peer, WS_BINARY, big, BIG, -1) == 0);
    else while(bsend(peer, big, BIG, -1) == 0);
}

/* Receives for as long as data comes; a flood keeps it in dill__busy's
   yields (or, for suffix, one unbounded message that never ends). */
coroutine static void drinker(int kind, int h, struct report *r) {
    int flags;
    errno = 0;
    if(wskind(kind))
        while((r->rc = (int)ws_recv(h, &flags, sink, BIG, -1)) >= 0);
    else if(kind == K_SUFFIX || kind == K_TERM)
        r->rc = (int)mrecvl(h, NULL, NULL, -1);
    else
        while((r->rc = brecv(h, sink, BIG, -1)) == 0);
    r->err = errno;
    r->done = 1;
}

/* Closed while the receiver yields between reads of a flood: main runs
   only when the receiver yields or blocks, most often the former. */
static void flood(int kind, int mode) {
    if(mode == M_HIB) errno_assert(hibernate(0) == 0);
    int ours, peer;
    /* Big buffers: reads keep finding data, the receiver keeps yielding. */
    shrink = 0;
    pair(kind, mode == M_MEM, &ours, &peer);
    shrink = 1;
    struct report rr = {0};
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, drinker(kind, ours, &rr)) == 0);
    int f = go(flooder(kind, peer));
    errno_assert(f >= 0);
    errno_assert(msleep(now() + 50) == 0);
    /* Yielding, main runs right after the receiver's yields. */
    for(int i = 0; i != 20; i++) errno_assert(yield() == 0);
    assert(!rr.done);
    errno_assert(hclose(ours) == 0);
    errno_assert(bundle_wait(b, now() + 5000) == 0);
    if(mode == M_MEM) scribble(1);
    fprintf(stderr, "%s %s flood: recv %d/%d\n", kname[kind], mname[mode],
        rr.rc, rr.err);
    assert(rr.done && rr.rc == -1 && rr.err == EBADF);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(peer) == 0);
    errno_assert(hclose(f) == 0);
    if(mode == M_MEM) scribble(0);
    if(mode == M_HIB) errno_assert(hibernate(-1) == 0);
}

/* suffix_detach and http_detach with a receive inside: refused, the
   receive goes on and fails with EBADF when the handle is closed. */
static void detach_busy(int kind) {
    int ours, peer;
    pair(kind, 0, &ours, &peer);
    struct report rr = {0};
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, receiver(kind, ours, &rr)) == 0);
    settle(0);
    if(kind == K_SUFFIX) assert_err(suffix_detach(ours, -1), EBUSY);
    else if(kind == K_TERM) assert_err(term_detach(ours, -1), EBUSY);
    else if(kind == K_PREFIX) assert_err(prefix_detach(ours), EBUSY);
    else assert_err(http_detach(ours, -1), EBUSY);
    assert(!rr.done);
    errno_assert(hclose(ours) == 0);
    errno_assert(bundle_wait(b, now() + 5000) == 0);
    assert(rr.done && rr.rc == -1 && rr.err == EBADF);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(peer) == 0);
}

/* ws_listen: ws_accept waiting for a connection when another coroutine
   closes the listener. */
coroutine static void acceptor(int l, struct report *r) {
    errno = 0;
    r->rc = ws_accept(l, NULL, 0, NULL, -1);
    r->err = errno;
    r->done = 1;
}

static int wslistener(struct ipaddr *addr) {
    errno_assert(ipaddr_local(addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    struct ws_listen_options o = WS_LISTEN_OPTIONS_INIT;
    int l = ws_listen(addr, &o);
    errno_assert(l >= 0);
    return l;
}

static void listener_accept(void) {
    struct ipaddr addr;
    int l = wslistener(&addr);
    struct report r = {0};
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, acceptor(l, &r)) == 0);
    settle(0);
    assert(!r.done);
    errno_assert(hclose(l) == 0);
    errno_assert(bundle_wait(b, now() + 5000) == 0);
    fprintf(stderr, "ws_listen accept: %d/%d\n", r.rc, r.err);
    assert(r.done && r.rc == -1 && r.err == EBADF);
    errno_assert(hclose(b) == 0);
}

coroutine static void shutter(int l, struct report *r) {
    errno = 0;
    r->rc = ws_listen_shutdown(l, 1001, NULL, 0, -1);
    r->err = errno;
    r->done = 1;
}

/* ws_listen_shutdown, closed under by another coroutine: waiting for the
   connection it handed out to be closed, or (sending set) still sending
   it a Close, which waits for the send lock of a connection whose owner
   is blocked sending to a peer that reads nothing.  The latter ends, with
   EBADF, when that send does: here the owner closes the connection. */
static void listener_shutdown(int sending) {
    struct ipaddr addr;
    int l = wslistener(&addr);
    char url[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", ipaddr_port(&addr));
    int c = ws_connect(url, NULL, NULL, now() + 10000);
    errno_assert(c >= 0);
    int s = ws_accept(l, NULL, 0, NULL, now() + 10000);
    errno_assert(s >= 0);
    int f = -1;
    if(sending) {
        f = go(flooder(K_WS, s));
        errno_assert(f >= 0);
        settle(0);
    }
    struct report r = {0};
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, shutter(l, &r)) == 0);
    settle(0);
    assert(!r.done);
    errno_assert(hclose(l) == 0);
    if(sending) {
        settle(0);
        assert(!r.done);
        errno_assert(hclose(s) == 0);
    }
    errno_assert(bundle_wait(b, now() + 5000) == 0);
    fprintf(stderr, "ws_listen shutdown%s: %d/%d\n",
        sending ? " sending" : "", r.rc, r.err);
    assert(r.done && r.rc == -1 && r.err == EBADF);
    errno_assert(hclose(b) == 0);
    /* The connection outlives the listener. */
    if(!sending) errno_assert(hclose(s) == 0);
    else errno_assert(hclose(f) == 0);
    errno_assert(hclose(c) == 0);
}

int main(void) {
    memset(bigvalue, 'v', BIG - 1);
#if !defined DILL_DISABLE_TLS
    tmpdir_make("pin");
    tmpdir_selfsigned("k.pem", "c.pem", 1, "");
    cert = strdup(path("c.pem"));
    key = strdup(path("k.pem"));
    assert(cert && key);
#endif
    for(int kind = 0; kind != K_KINDS; kind++) {
#if defined DILL_DISABLE_TLS
        if(tlskind(kind)) continue;
#endif
        for(int mode = 0; mode != M_MODES; mode++) {
            one(kind, mode);
            if(wskind(kind) && mode != M_HIB) handed(kind, mode);
            if(kind != K_PREFIX && kind != K_HTTP) flood(kind, mode);
        }
    }
    detach_busy(K_SUFFIX);
    detach_busy(K_TERM);
    detach_busy(K_PREFIX);
    listener_accept();
    listener_shutdown(0);
    listener_shutdown(1);
    detach_busy(K_HTTP);
#if !defined DILL_DISABLE_TLS
    tmpdir_remove();
    free((void*)cert);
    free((void*)key);
#endif
    return 0;
}
