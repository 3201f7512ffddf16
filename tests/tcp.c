/* TCP: listen/accept/connect, bytestream I/O, half-close, graceful close,
   errors, deadlines, cancellation, descriptor exhaustion, _mem variants. */

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined __has_include
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "assert.h"
#include "libdillimpl.h"
#include "net/bsockx.h"

/* Allowed lateness of a deadline (loaded CI machines, sanitizers). */
#define SLACK 3000  /* upper bounds only prove that a wait was bounded; loaded CI machines are slow */

coroutine static void recv_cancelled(int s, int *err) {
    char buf[10];
    *err = brecv(s, buf, sizeof(buf), -1) < 0 ? errno : 0;
}

static struct ipaddr lo4(int port) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", port, IPADDR_IPV4) == 0);
    return a;
}

/* A listener on 127.0.0.1 with a kernel-picked port (returned in *addr). */
static int listener(struct ipaddr *addr, int backlog) {
    *addr = lo4(0);
    int ls = tcp_listen(addr, backlog);
    errno_assert(ls >= 0);
    assert(ipaddr_port(addr) != 0);
    return ls;
}

/* Connected pair: *c is the connecting side, *a the accepted side. */
static void pair(int *c, int *a) {
    struct ipaddr addr;
    int ls = listener(&addr, 10);
    *c = tcp_connect(&addr, now() + 1000);
    errno_assert(*c >= 0);
    *a = tcp_accept(ls, NULL, now() + 1000);
    errno_assert(*a >= 0);
    errno_assert(hclose(ls) == 0);
}

static void fill(uint8_t *p, size_t n, unsigned seed) {
    for(size_t i = 0; i != n; i++) p[i] = (uint8_t)(i * 31 + seed + (i >> 9));
}

static int check(const uint8_t *p, size_t n, unsigned seed) {
    for(size_t i = 0; i != n; i++)
        if(p[i] != (uint8_t)(i * 31 + seed + (i >> 9))) return 0;
    return 1;
}

/******************************************************************************/

static void test_basic(void) {
    struct ipaddr addr;
    int ls = listener(&addr, 10);
    struct ipaddr la;
    errno_assert(tcp_localaddr(ls, &la) == 0);
    assert(ipaddr_port(&la) == ipaddr_port(&addr));
    int c = tcp_connect(&addr, now() + 1000);
    errno_assert(c >= 0);
    struct ipaddr peer;
    int s = tcp_accept(ls, &peer, now() + 1000);
    errno_assert(s >= 0);
    struct ipaddr cl;
    errno_assert(tcp_localaddr(c, &cl) == 0);
    assert(ipaddr_equal(&cl, &peer, 0));
    /* TCP_NODELAY on both ends: query the raw fd through a fromfd copy is
       not possible, so check the behaviour: 1-byte round trips work. */
    errno_assert(bsend(c, "ABC", 3, now() + 1000) == 0);
    char buf[3];
    errno_assert(brecv(s, buf, 3, now() + 1000) == 0);
    assert(memcmp(buf, "ABC", 3) == 0);
    errno_assert(bsend(s, "DEF", 3, -1) == 0);
    errno_assert(brecv(c, buf, 3, -1) == 0);
    assert(memcmp(buf, "DEF", 3) == 0);
    /* Zero-length operations succeed at once. */
    errno_assert(bsend(c, buf, 0, 0) == 0);
    errno_assert(brecv(s, buf, 0, 0) == 0);
    /* Wrong handle kinds. */
    assert_err(tcp_accept(c, NULL, 0), ENOTSUP);
    assert_err(tcp_done(ls, 0), ENOTSUP);
    assert_err(bsend(ls, "A", 1, 0), ENOTSUP);
    assert_err(msend(c, "A", 1, 0), ENOTSUP);
    assert_err(bsend(c, NULL, 1, 0), EINVAL);
    assert_err(tcp_connect(NULL, 0), EINVAL);
    assert_err(tcp_listen(NULL, 10), EINVAL);
    assert_err(tcp_localaddr(c, NULL), EINVAL);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    /* tcp_close works on listeners too. */
    errno_assert(tcp_close(ls, -1) == 0);
    assert_err(bsend(c, "A", 1, 0), EBADF);
    assert_err(tcp_accept(ls, NULL, 0), EBADF);
    assert_err(tcp_close(c, 0), EBADF);
    assert_err(tcp_localaddr(ls, &la), EBADF);
    /* A busy port. */
    ls = listener(&addr, 10);
    struct ipaddr same = addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    errno_assert(fd >= 0);
    assert(bind(fd, ipaddr_sockaddr(&same), ipaddr_len(&same)) < 0);
    close(fd);
    errno_assert(hclose(ls) == 0);
}

static void test_refused(void) {
    struct ipaddr addr;
    int ls = listener(&addr, 10);
    errno_assert(hclose(ls) == 0);
    assert_err(tcp_connect(&addr, now() + 1000), ECONNREFUSED);
}

/* Many small reads after one big write: the buffer serves them. */
static void test_small_reads(void) {
    int c, s;
    pair(&c, &s);
    static uint8_t data[100000], got[100000];
    fill(data, sizeof(data), 7);
    errno_assert(bsend(c, data, sizeof(data), now() + 1000) == 0);
    size_t pos = 0, step = 1;
    while(pos < sizeof(got)) {
        size_t n = step < sizeof(got) - pos ? step : sizeof(got) - pos;
        errno_assert(brecv(s, got + pos, n, now() + 1000) == 0);
        pos += n;
        step = step * 3 % 9001 + 1;
    }
    assert(check(got, sizeof(got), 7));
    /* Skipping with a NULL buffer. */
    errno_assert(bsend(c, data, 1000, -1) == 0);
    errno_assert(brecv(s, NULL, 990, -1) == 0);
    errno_assert(brecv(s, got, 10, -1) == 0);
    assert(memcmp(got, data + 990, 10) == 0);
    /* Partial reads through the extension interface. */
    struct dill__bsockx_vfs *x = hquery(s, dill__bsockx_type);
    assert(x);
    errno_assert(bsend(c, "hello world", 11, -1) == 0);
    size_t have = 0;
    while(have < 11) {
        ssize_t r = x->ops->brecvsome(x, got + have, 4, now() + 1000);
        assert(r >= 1 && r <= 4);
        have += (size_t)r;
    }
    assert(memcmp(got, "hello world", 11) == 0);
    assert(x->ops->brecvsome(x, got, 0, 0) == 0);
    assert_err(x->ops->brecvsome(x, got, 10, 0), ETIMEDOUT);
    errno_assert(hclose(c) == 0);
    assert_err(x->ops->brecvsome(x, got, 10, now() + 1000), EPIPE);
    errno_assert(hclose(s) == 0);
}

coroutine void sender(int s, size_t len, unsigned seed) {
    uint8_t *p = malloc(len);
    assert(p);
    fill(p, len, seed);
    errno_assert(bsend(s, p, len, now() + 10000) == 0);
    free(p);
}

/* One coroutine writes while another reads the same socket, both ways. */
static void test_duplex(void) {
    int c, s;
    pair(&c, &s);
    size_t len = 4 << 20;
    uint8_t *a = malloc(len), *b = malloc(len);
    assert(a && b);
    int b1 = bundle();
    errno_assert(b1 >= 0);
    errno_assert(bundle_go(b1, sender(c, len, 1)) == 0);
    errno_assert(bundle_go(b1, sender(s, len, 2)) == 0);
    errno_assert(brecv(s, a, len, now() + 10000) == 0);
    errno_assert(brecv(c, b, len, now() + 10000) == 0);
    assert(check(a, len, 1));
    assert(check(b, len, 2));
    errno_assert(bundle_wait(b1, now() + 10000) == 0);
    errno_assert(hclose(b1) == 0);
    free(a);
    free(b);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* Gather/scatter lists of more items than one system call takes. */
static void test_lists(void) {
    int c, s;
    pair(&c, &s);
    enum {N = 300};
    static struct iolist out[N], in[N];
    static uint8_t data[N * 5], got[N * 5];
    fill(data, sizeof(data), 3);
    for(int i = 0; i != N; i++) {
        int more = i + 1 < N;
        out[i] = (struct iolist){data + i * 5, 5, more ? &out[i + 1] : NULL, 0};
        in[i] = (struct iolist){got + i * 5, 5, more ? &in[i + 1] : NULL, 0};
    }
    in[7].iol_base = NULL;  /* skipped */
    in[8].iol_len = 0;      /* empty */
    errno_assert(bsendl(c, &out[0], &out[N - 1], -1) == 0);
    errno_assert(brecvl(s, &in[0], &in[N - 1], -1) == 0);
    for(int i = 0; i != N; i++) {
        if(i == 7 || i == 8) continue;
        /* in[8] took nothing, so later items are one item behind. */
        int j = i > 8 ? i - 1 : i;
        assert(memcmp(got + i * 5, data + j * 5, 5) == 0);
        assert(in[i].iol_rsvd == 0 && out[i].iol_rsvd == 0);
    }
    /* in[8] had length 0: 5 bytes are left over. */
    errno_assert(brecv(s, got, 5, -1) == 0);
    assert(memcmp(got, data + N * 5 - 5, 5) == 0);
    /* Malformed lists. */
    assert_err(bsendl(c, &out[0], &out[5], -1), EINVAL);
    assert_err(brecvl(s, &in[0], &in[5], -1), EINVAL);
    assert_err(bsendl(c, NULL, NULL, -1), EINVAL);
    out[3].iol_rsvd = 1;
    assert_err(bsendl(c, &out[0], &out[N - 1], -1), EINVAL);
    out[3].iol_rsvd = 0;
    for(int i = 0; i != N; i++) assert(out[i].iol_rsvd == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/******************************************************************************/

static void test_deadlines(void) {
    struct ipaddr addr;
    int ls = listener(&addr, 10);
    assert_err(tcp_accept(ls, NULL, 0), ETIMEDOUT);
    assert_err(tcp_accept(ls, NULL, now() - 1000), ETIMEDOUT);
    int64_t t = now();
    assert_err(tcp_accept(ls, NULL, t + 50), ETIMEDOUT);
    int64_t el = now() - t;
    assert(el >= 45 && el < 50 + SLACK);
    int c = tcp_connect(&addr, now() + 1000);
    errno_assert(c >= 0);
    int s = tcp_accept(ls, NULL, now() + 1000);
    errno_assert(s >= 0);
    char buf[10];
    assert_err(brecv(s, buf, 10, 0), ETIMEDOUT);
    assert_err(brecv(s, buf, 10, now() - 1000), ETIMEDOUT);
    t = now();
    assert_err(brecv(s, buf, 10, t + 50), ETIMEDOUT);
    el = now() - t;
    assert(el >= 45 && el < 50 + SLACK);
    /* A timeout with nothing received leaves the socket usable
       (brecv(3)); so does a cancellation. */
    errno_assert(bsend(c, "0123456789", 10, 0) == 0);
    errno_assert(brecv(s, buf, 10, now() + 1000) == 0);
    int err = 0;
    int h = go(recv_cancelled(s, &err));
    errno_assert(yield() == 0);
    errno_assert(hclose(h) == 0);
    assert(err == ECANCELED);
    errno_assert(bsend(c, "0123456789", 10, 0) == 0);
    errno_assert(brecv(s, buf, 10, now() + 1000) == 0);
    assert(memcmp(buf, "0123456789", 10) == 0);
    /* Data that is already there is delivered even with deadline 0. */
    errno_assert(bsend(c, "0123456789", 10, 0) == 0);
    msleep(now() + 20);
    errno_assert(brecv(s, buf, 10, 0) == 0);
    assert_err(brecv(s, buf, 10, 0), ETIMEDOUT);
    errno_assert(bsend(c, "0123456789", 10, 0) == 0);
    msleep(now() + 20);
    errno_assert(brecv(s, buf, 10, now() - 1000) == 0);
    /* A timeout in the middle of a message breaks the receive side. */
    errno_assert(bsend(c, "01234", 5, 0) == 0);
    assert_err(brecv(s, buf, 10, now() + 30), ETIMEDOUT);
    assert_err(brecv(s, buf, 1, 0), ECONNRESET);
    /* Sending is not affected. */
    errno_assert(bsend(s, "x", 1, now() + 1000) == 0);
    errno_assert(brecv(c, buf, 1, now() + 1000) == 0);
    /* Sending into a peer that does not read: the kernel buffers fill up and
       bsend times out. */
    static uint8_t big[1 << 20];
    int rc = 0;
    t = now();
    for(int i = 0; i != 200 && rc == 0; i++)
        rc = bsend(c, big, sizeof(big), now() + 100);
    assert(rc == -1 && errno == ETIMEDOUT);
    assert(now() - t < 10000);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(ls) == 0);
}

/* Fills the accept queue of a listener that never accepts, so that further
   SYNs are dropped and connects hang. */
static int full_listener(struct ipaddr *addr, int *conns, int *nconns) {
    int ls = listener(addr, 0);
    *nconns = 0;
    for(int i = 0; i != 16; i++) {
        int c = tcp_connect(addr, now() + 300);
        if(c < 0) {
            assert(errno == ETIMEDOUT);
            return ls;
        }
        conns[(*nconns)++] = c;
    }
    assert(!"accept queue never filled");
    return -1;
}

static void test_connect_timeout(void) {
    struct ipaddr addr;
    int conns[16], n;
    int ls = full_listener(&addr, conns, &n);
    assert_err(tcp_connect(&addr, 0), ETIMEDOUT);
    assert_err(tcp_connect(&addr, now() - 1000), ETIMEDOUT);
    int64_t t = now();
    assert_err(tcp_connect(&addr, t + 50), ETIMEDOUT);
    int64_t el = now() - t;
    assert(el >= 45 && el < 50 + SLACK);
    for(int i = 0; i != n; i++) errno_assert(hclose(conns[i]) == 0);
    errno_assert(hclose(ls) == 0);
}

/******************************************************************************/

static void test_done(void) {
    int c, s;
    pair(&c, &s);
    errno_assert(bsend(c, "ABC", 3, -1) == 0);
    errno_assert(tcp_done(c, -1) == 0);
    assert_err(bsend(c, "A", 1, -1), EPIPE);
    assert_err(tcp_done(c, -1), EPIPE);
    char buf[3];
    errno_assert(brecv(s, buf, 3, -1) == 0);
    assert(memcmp(buf, "ABC", 3) == 0);
    assert_err(brecv(s, buf, 1, now() + 1000), EPIPE);
    assert_err(brecv(s, buf, 1, now() + 1000), EPIPE);
    /* The other direction still works. */
    errno_assert(bsend(s, "XYZ", 3, -1) == 0);
    errno_assert(brecv(c, buf, 3, -1) == 0);
    assert(memcmp(buf, "XYZ", 3) == 0);
    /* Graceful close on both ends. */
    errno_assert(tcp_close(s, now() + 1000) == 0);
    errno_assert(tcp_close(c, now() + 1000) == 0);
}

coroutine void closer(int s) {
    char buf[4];
    errno_assert(brecv(s, buf, 4, now() + 1000) == 0);
    errno_assert(tcp_close(s, now() + 1000) == 0);
}

static void test_close(void) {
    int c, s;
    pair(&c, &s);
    int h = go(closer(s));
    errno_assert(h >= 0);
    errno_assert(bsend(c, "ABCD", 4, -1) == 0);
    errno_assert(tcp_close(c, now() + 1000) == 0);
    errno_assert(bundle_wait(h, now() + 1000) == 0);
    errno_assert(hclose(h) == 0);
    /* Unread data is discarded by tcp_close. */
    pair(&c, &s);
    errno_assert(bsend(s, "unread", 6, -1) == 0);
    errno_assert(tcp_done(s, -1) == 0);
    errno_assert(tcp_close(c, now() + 1000) == 0);
    errno_assert(hclose(s) == 0);
    /* A peer that never closes: the deadline ends tcp_close, which closes
       the socket anyway. */
    pair(&c, &s);
    int64_t t = now();
    assert_err(tcp_close(c, t + 50), ETIMEDOUT);
    assert(now() - t < 50 + SLACK);
    assert_err(hclose(c), EBADF);
    errno_assert(hclose(s) == 0);
}

/* A peer that resets the connection while we wait for more data. */
static void test_reset(void) {
    struct ipaddr addr;
    int ls = listener(&addr, 10);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    errno_assert(fd >= 0);
    errno_assert(connect(fd, ipaddr_sockaddr(&addr), ipaddr_len(&addr)) == 0);
    int s = tcp_accept(ls, NULL, now() + 1000);
    errno_assert(s >= 0);
    errno_assert(write(fd, "12345", 5) == 5);
    struct linger lg = {1, 0};
    errno_assert(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
    char buf[100] = {0};
    int64_t t = now();
    /* Let the 5 bytes arrive first so brecv is mid-message at the reset. */
    msleep(now() + 20);
    close(fd);
    assert_err(brecv(s, buf, 100, now() + 1000), ECONNRESET);
    assert(now() - t < 1000);
    assert_err(brecv(s, buf, 1, now() + 1000), ECONNRESET);
    /* Sending to a reset connection fails too (maybe after one send). */
    int rc = 0;
    for(int i = 0; i != 10 && rc == 0; i++) rc = bsend(s, buf, 100, -1);
    assert(rc == -1 && (errno == ECONNRESET || errno == EPIPE));
    assert_err(tcp_close(s, now() + 1000), ECONNRESET);
    errno_assert(hclose(ls) == 0);
}

/******************************************************************************/

/* What a cancelled coroutine saw. */
static int cancel_errno;

coroutine void blocked_brecv(int s) {
    char buf[10];
    int rc = brecv(s, buf, sizeof(buf), -1);
    cancel_errno = rc < 0 ? errno : 0;
}

coroutine void blocked_accept(int ls) {
    int rc = tcp_accept(ls, NULL, -1);
    cancel_errno = rc < 0 ? errno : 0;
}

coroutine void blocked_connect(struct ipaddr addr) {
    int rc = tcp_connect(&addr, -1);
    cancel_errno = rc < 0 ? errno : 0;
}

static void cancel_after(int h) {
    errno_assert(h >= 0);
    msleep(now() + 20);
    cancel_errno = -1;
    int64_t t = now();
    errno_assert(hclose(h) == 0);
    assert(now() - t < 100);
    assert(cancel_errno == ECANCELED);
}

static void test_cancel(void) {
    int c, s;
    pair(&c, &s);
    cancel_after(go(blocked_brecv(s)));
    /* Nothing was consumed: the socket still works. */
    errno_assert(bsend(c, "0123456789", 10, -1) == 0);
    char buf[10];
    errno_assert(brecv(s, buf, 10, now() + 1000) == 0);
    /* The socket closed under a blocked reader: it sees EBADF and does not
       touch the freed object (ASan/valgrind check that). */
    cancel_errno = -1;
    int h = go(blocked_brecv(s));
    errno_assert(h >= 0);
    msleep(now() + 20);
    assert(cancel_errno == -1);
    errno_assert(hclose(s) == 0);
    errno_assert(bundle_wait(h, now() + 1000) == 0);
    assert(cancel_errno == EBADF);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(c) == 0);
    struct ipaddr addr;
    int ls = listener(&addr, 10);
    cancel_after(go(blocked_accept(ls)));
    errno_assert(hclose(ls) == 0);
    int conns[16], n;
    ls = full_listener(&addr, conns, &n);
    cancel_after(go(blocked_connect(addr)));
    for(int i = 0; i != n; i++) errno_assert(hclose(conns[i]) == 0);
    errno_assert(hclose(ls) == 0);
}

/******************************************************************************/

/* A thread that writes as fast as it can until told to stop. */
static volatile int chatty_stop;
static void *chatty(void *arg) {
    int fd = *(int*)arg;
    static char buf[65536];
    while(!chatty_stop) {
        ssize_t r = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
        if(r < 0) break;
    }
    return NULL;
}

/* Loops that keep finding data must still honour their deadlines. */
static void test_strict(void) {
    struct ipaddr addr;
    int ls = listener(&addr, 10);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    errno_assert(fd >= 0);
    errno_assert(connect(fd, ipaddr_sockaddr(&addr), ipaddr_len(&addr)) == 0);
    int s = tcp_accept(ls, NULL, now() + 1000);
    errno_assert(s >= 0);
    chatty_stop = 0;
    pthread_t th;
    errno_assert(pthread_create(&th, NULL, chatty, &fd) == 0);
    int64_t t = now();
    /* More than the peer sends in the time (not 1 << 40: 0 on 32-bit). */
    assert_err(brecv(s, NULL, SIZE_MAX / 2, t + 100), ETIMEDOUT);
    assert(now() - t < 100 + SLACK);
    t = now();
    assert_err(tcp_close(s, t + 100), ETIMEDOUT);
    assert(now() - t < 100 + SLACK);
    chatty_stop = 1;
    shutdown(fd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(fd);
    errno_assert(hclose(ls) == 0);
}

/******************************************************************************/

static void test_emfile(void) {
    /* valgrind enforces its own descriptor limit by closing descriptors
       the kernel already handed out, which eats the pending connection. */
    if(RUNNING_ON_VALGRIND) return;
    struct ipaddr addr;
    int ls = listener(&addr, 10);
    int c = tcp_connect(&addr, now() + 1000);
    errno_assert(c >= 0);
    struct rlimit old, low;
    errno_assert(getrlimit(RLIMIT_NOFILE, &old) == 0);
    int next = dup(0);
    errno_assert(next >= 0);
    close(next);
    low = old;
    low.rlim_cur = (rlim_t)next;
    errno_assert(setrlimit(RLIMIT_NOFILE, &low) == 0);
    assert_err(tcp_accept(ls, NULL, now() + 1000), EMFILE);
    assert_err(tcp_connect(&addr, now() + 1000), EMFILE);
    errno_assert(setrlimit(RLIMIT_NOFILE, &old) == 0);
    /* The listener keeps working and the pending connection is still
       there. */
    int s = tcp_accept(ls, NULL, now() + 1000);
    errno_assert(s >= 0);
    errno_assert(bsend(c, "A", 1, -1) == 0);
    char ch;
    errno_assert(brecv(s, &ch, 1, now() + 1000) == 0);
    assert(ch == 'A');
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(ls) == 0);
}

static void test_mem(void) {
    struct tcp_listener_storage lmem;
    struct tcp_storage cmem, amem;
    struct ipaddr addr = lo4(0);
    int ls = tcp_listen_mem(&addr, 10, &lmem);
    errno_assert(ls >= 0);
    int c = tcp_connect_mem(&addr, &cmem, now() + 1000);
    errno_assert(c >= 0);
    int s = tcp_accept_mem(ls, NULL, &amem, now() + 1000);
    errno_assert(s >= 0);
    errno_assert(bsend(c, "ABC", 3, -1) == 0);
    char buf[3];
    errno_assert(brecv(s, buf, 3, -1) == 0);
    errno_assert(tcp_done(s, -1) == 0);
    errno_assert(tcp_close(c, now() + 1000) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(ls) == 0);
}

static void test_fromfd(void) {
    struct ipaddr addr = lo4(0);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    errno_assert(lfd >= 0);
    errno_assert(bind(lfd, ipaddr_sockaddr(&addr), ipaddr_len(&addr)) == 0);
    errno_assert(listen(lfd, 10) == 0);
    socklen_t sl = sizeof(struct sockaddr_in);
    struct sockaddr_in sin;
    errno_assert(getsockname(lfd, (struct sockaddr*)&sin, &sl) == 0);
    ipaddr_setport(&addr, ntohs(sin.sin_port));
    assert_err(tcp_fromfd(lfd), EINVAL);
    struct tcp_listener_storage lmem;
    int ls = tcp_listener_fromfd_mem(lfd, &lmem);
    errno_assert(ls >= 0);
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    errno_assert(cfd >= 0);
    assert_err(tcp_listener_fromfd(cfd), EINVAL);
    errno_assert(connect(cfd, ipaddr_sockaddr(&addr), ipaddr_len(&addr)) == 0);
    int c = tcp_fromfd(cfd);
    errno_assert(c >= 0);
    int s = tcp_accept(ls, NULL, now() + 1000);
    errno_assert(s >= 0);
    errno_assert(bsend(c, "xy", 2, -1) == 0);
    char buf[2];
    errno_assert(brecv(s, buf, 2, now() + 1000) == 0);
    assert(memcmp(buf, "xy", 2) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(ls) == 0);
    /* Not TCP at all. */
    int ufd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_err(tcp_fromfd(ufd), EINVAL);
    close(ufd);
    int p[2];
    errno_assert(pipe(p) == 0);
    assert(tcp_fromfd(p[0]) == -1);
    struct tcp_storage mem;
    assert(tcp_fromfd_mem(p[0], &mem) == -1);
    close(p[0]);
    close(p[1]);
    /* A fromfd listener with a second instance via plain fromfd. */
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    errno_assert(lfd >= 0);
    errno_assert(listen(lfd, 1) == 0);
    ls = tcp_listener_fromfd(lfd);
    errno_assert(ls >= 0);
    errno_assert(hclose(ls) == 0);
}

static void test_ipv6(void) {
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "::1", 0, IPADDR_IPV6) == 0);
    int ls = tcp_listen(&addr, 10);
    if(ls < 0) {
        fprintf(stderr, "tcp: ::1 not available (%s), IPv6 skipped\n",
            strerror(errno));
        return;
    }
    assert(ipaddr_port(&addr) != 0);
    int c = tcp_connect(&addr, now() + 1000);
    errno_assert(c >= 0);
    struct ipaddr peer;
    int s = tcp_accept(ls, &peer, now() + 1000);
    errno_assert(s >= 0);
    assert(ipaddr_family(&peer) == AF_INET6);
    errno_assert(bsend(s, "v6", 2, -1) == 0);
    char buf[2];
    errno_assert(brecv(c, buf, 2, -1) == 0);
    assert(memcmp(buf, "v6", 2) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(ls) == 0);
}

int main(void) {
    test_basic();
    test_refused();
    test_small_reads();
    test_duplex();
    test_lists();
    test_deadlines();
    test_connect_timeout();
    test_done();
    test_close();
    test_reset();
    test_cancel();
    test_strict();
    test_emfile();
    test_mem();
    test_fromfd();
    test_ipv6();
    return 0;
}
