/* The asynchronous operations of core (src/core/aop.c), driven through
   the sockets built on them: WebSockets over TCP receive through one
   (a reader that finds the socket drained waits in an asynchronous
   receive) and write their gathered frames through another (an
   asynchronous send at the end of the turn).  Every way an operation in
   flight can end: cancellation and deadline of the coroutine waiting for
   it, short sends, the peer resetting the connection, and the socket
   closed under it.  Then the primitive itself (core.h: struct
   dill__aop) over socket pairs, for the parts of its contract the
   sockets do not reach with every implementation: receives under epoll,
   a cancel that races with data, one operation per direction.
   Everything runs twice: in a child with DILL_URING=0 (epoll) and in the
   parent (io_uring where the kernel has it). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wstest.h"
#include "core/core.h"
#include "net/stream.h"

#define MSG 3000

/* The server side's fd, to reset the connection from there. */
static int srvfd = -1;

/* A small send buffer, so that a writer whose peer does not read fills
   the kernel's buffers sooner and then sends short.  The receiver's
   buffer keeps its size: over loopback a window much smaller than the
   segment size stalls TCP on its persist timer, for seconds. */
static void small_buffers(int a, int b) {
    struct dill__stream *sa = hquery(a, dill__stream_type);
    struct dill__stream *sb = hquery(b, dill__stream_type);
    assert(sa && sb);
    int n = 4096;
    errno_assert(setsockopt(sa->io.fd, SOL_SOCKET, SO_SNDBUF, &n,
        sizeof(n)) == 0);
    srvfd = sb->io.fd;
}

static void fill(uint8_t *b, uint32_t seq, size_t n) {
    memcpy(b, &seq, sizeof(seq));
    for(size_t i = sizeof(seq); i < n; i++) b[i] = (uint8_t)(seq * 31 + i);
}

/* Whether b is message seq of size n. */
static int intact(const uint8_t *b, uint32_t seq, size_t n) {
    uint8_t want[MSG * 4];
    assert(n <= sizeof(want));
    fill(want, seq, n);
    return memcmp(b, want, n) == 0;
}

/* Size of message seq in the short-send case: 1..4*MSG, varied. */
static size_t varsize(uint32_t seq) {
    return 1 + (seq * 2654435761u) % (MSG * 4);
}

/* ws_recv of a binary message. */
static ssize_t wsrecv(int s, void *buf, size_t len, int64_t deadline) {
    int flags;
    ssize_t n = ws_recv(s, &flags, buf, len, deadline);
    if(n >= 0) assert(flags == WS_BINARY);
    return n;
}

struct result {
    int rc;
    int err;
    int sent;                      /* messages sent before the failure */
    int64_t at;                    /* when it returned */
};

coroutine static void reader(int s, int64_t deadline, struct result *r) {
    char buf[64];
    errno = 0;
    r->rc = (int)wsrecv(s, buf, sizeof(buf), deadline);
    if(r->rc == 1) assert(buf[0] == 'x');
    r->err = errno;
    r->at = now();
}

/* Sends MSG-byte messages 0, 1, ... until one fails. */
coroutine static void writer(int s, int64_t deadline, struct result *r) {
    uint8_t b[MSG];
    for(uint32_t seq = 0;; seq++) {
        fill(b, seq, sizeof(b));
        errno = 0;
        r->rc = ws_send(s, WS_BINARY, b, sizeof(b), deadline);
        if(r->rc < 0) break;
        r->sent++;
    }
    r->err = errno;
    r->at = now();
}

/* Waits until the writer has stopped making progress (its peer does
   not read): it is then blocked with a gathered write in flight. */
static void stuck(struct result *r) {
    int last = -1;
    for(int i = 0; i != 200 && r->sent != last; i++) {
        last = r->sent;
        errno_assert(msleep(now() + 30) == 0);
    }
    assert(r->sent == last && r->rc == 0 && r->at == 0);
    assert(r->sent > 0);
}

/* A ws connection over TCP with the smallest kernel buffers: *c ours,
   *s the peer's. */
static void small_pair(int *c, int *s) {
    wst_bpair_hook = small_buffers;
    wst_pair(1, 0, c, s);
    wst_bpair_hook = NULL;
}

/* small_pair with a writer on *c (no deadline) reporting in r, stuck
   behind a send in flight; returns the writer's handle. */
static int stuck_writer(int *c, int *s, struct result *r) {
    small_pair(c, s);
    int cr = go(writer(*c, -1, r));
    errno_assert(cr >= 0);
    stuck(r);
    return cr;
}

/* Reads n messages 0..n-1, checking each. */
static void expect(int s, int n) {
    uint8_t b[MSG];
    for(int i = 0; i != n; i++) {
        ssize_t r = wsrecv(s, b, sizeof(b), now() + 5000);
        errno_assert(r == MSG);
        assert(intact(b, (uint32_t)i, MSG));
    }
}

/* A ws connection over TCP (*c ours, *s the peer's) with a reader on *s
   (no deadline) reporting in r, let to block; returns its handle. */
static int waiting_reader(int *c, int *s, struct result *r) {
    wst_pair(1, 0, c, s);
    int cr = go(reader(*s, -1, r));
    errno_assert(cr >= 0);
    errno_assert(msleep(now() + 30) == 0);
    return cr;
}

/* A waiting receive ends by cancellation or its deadline, and the
   socket then works. */
static void recv_cancel(void) {
    int c, s;
    struct result r = {0};
    int cr = waiting_reader(&c, &s, &r);
    int64_t t0 = now();
    errno_assert(hclose(cr) == 0);
    assert(r.rc == -1 && r.err == ECANCELED);
    assert(r.at - t0 < SLACK);
    errno_assert(ws_send(c, WS_BINARY, "one", 3, now() + 5000) == 0);
    char buf[16];
    errno_assert(wsrecv(s, buf, sizeof(buf), now() + 5000) == 3);
    assert(memcmp(buf, "one", 3) == 0);

    t0 = now();
    assert_err(wsrecv(s, buf, sizeof(buf), now() + 50), ETIMEDOUT);
    assert(now() - t0 >= 40 && now() - t0 < SLACK);
    errno_assert(ws_send(c, WS_BINARY, "two", 3, now() + 5000) == 0);
    errno_assert(wsrecv(s, buf, sizeof(buf), now() + 5000) == 3);
    assert(memcmp(buf, "two", 3) == 0);

    /* Data that arrives as the deadline expires is not lost. */
    for(int i = 0; i != 20; i++) {
        memset(&r, 0, sizeof(r));
        cr = go(reader(s, now() + 20, &r));
        errno_assert(cr >= 0);
        errno_assert(msleep(now() + 20) == 0);
        errno_assert(ws_send(c, WS_BINARY, "x", 1, now() + 5000) == 0);
        errno_assert(bundle_wait(cr, now() + 5000) == 0);
        errno_assert(hclose(cr) == 0);
        /* The reader got it, or timed out and it is still there. */
        if(r.rc < 0) {
            assert(r.err == ETIMEDOUT);
            errno_assert(wsrecv(s, buf, sizeof(buf),
                now() + 5000) == 1);
            assert(buf[0] == 'x');
        }
        else assert(r.rc == 1);
    }
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* The socket is closed while a coroutine waits in a receive: EBADF, and
   the kernel lets go of the socket (the peer sees it closed). */
static void recv_hclose(void) {
    int c, s;
    struct result r = {0};
    int cr = waiting_reader(&c, &s, &r);
    errno_assert(hclose(s) == 0);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    assert(r.rc == -1 && r.err == EBADF);
    errno_assert(hclose(cr) == 0);
    char buf[16];
    ssize_t n = wsrecv(c, buf, sizeof(buf), now() + 5000);
    assert(n < 0 && (errno == EPIPE || errno == ECONNRESET));
    errno_assert(hclose(c) == 0);
}

/* A writer blocked behind a send in flight is cancelled, or its deadline
   expires: nothing of its message was written, so the WebSocket stays
   usable (ws_send(3)) and the peer gets every message sent before, whole
   and in order, then the ones sent after. */
static void send_cancel(int bydeadline) {
    int c, s;
    small_pair(&c, &s);
    struct result r = {0};
    int cr = go(writer(c, bydeadline ? now() + 300 : -1, &r));
    errno_assert(cr >= 0);
    if(bydeadline) {
        errno_assert(bundle_wait(cr, now() + 5000) == 0);
        assert(r.rc == -1 && r.err == ETIMEDOUT);
    }
    else {
        stuck(&r);
        int64_t t0 = now();
        errno_assert(hclose(cr) == 0);
        cr = -1;
        assert(r.rc == -1 && r.err == ECANCELED);
        assert(r.at - t0 < SLACK);
    }
    if(cr >= 0) errno_assert(hclose(cr) == 0);
    expect(s, r.sent);
    uint8_t b[MSG];
    fill(b, 1000, sizeof(b));
    errno_assert(ws_send(c, WS_BINARY, b, sizeof(b), now() + 5000) == 0);
    ssize_t n = wsrecv(s, b, sizeof(b), now() + 5000);
    errno_assert(n == MSG);
    assert(intact(b, 1000, MSG));
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

coroutine static void varwriter(int s, int n, struct result *r) {
    uint8_t b[MSG * 4];
    for(uint32_t seq = 0; seq != (uint32_t)n; seq++) {
        size_t len = varsize(seq);
        fill(b, seq, len);
        if(ws_send(s, WS_BINARY, b, len, now() + 10000) < 0) {
            r->err = errno;
            return;
        }
        r->sent++;
    }
}

/* Kernel buffers much smaller than the gathered writes: sends are short
   and the rest follows, in order, through both ends of the operation
   (completion with bytes left, new send). */
static void short_sends(void) {
    int c, s;
    small_pair(&c, &s);
    enum {N = 400};
    struct result r = {0};
    int cr = go(varwriter(c, N, &r));
    errno_assert(cr >= 0);
    /* The writer fills the buffers before anybody reads. */
    errno_assert(msleep(now() + 50) == 0);
    uint8_t b[MSG * 4];
    for(uint32_t seq = 0; seq != N; seq++) {
        ssize_t n = wsrecv(s, b, sizeof(b), now() + 10000);
        errno_assert(n >= 0);
        assert((size_t)n == varsize(seq));
        assert(intact(b, seq, (size_t)n));
        if(seq % 50 == 0) errno_assert(msleep(now() + 5) == 0);
    }
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    assert(r.sent == N);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* The peer resets the connection while the writer waits behind a send
   in flight: the writer fails with ECONNRESET, at once. */
static void send_reset(void) {
    int c, s;
    struct result r = {0};
    int cr = stuck_writer(&c, &s, &r);
    struct linger l = {1, 0};
    errno_assert(setsockopt(srvfd, SOL_SOCKET, SO_LINGER, &l,
        sizeof(l)) == 0);
    int64_t t0 = now();
    errno_assert(hclose(s) == 0);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    assert(r.rc == -1 && r.err == ECONNRESET);
    assert(r.at - t0 < SLACK);
    errno_assert(hclose(cr) == 0);
    /* And so does everything after. */
    assert_err(ws_send(c, WS_BINARY, "x", 1, now() + 1000), ECONNRESET);
    errno_assert(hclose(c) == 0);
}

/* The writer's socket is closed while it waits behind a send in flight:
   it fails with EBADF at once.  The send in flight goes on without the
   socket object (its block freed when it ends): the peer gets the
   messages sent before, whole and in order, and then sees the end of
   the connection rather than waiting for ever. */
static void send_hclose(void) {
    int c, s;
    struct result r = {0};
    int cr = stuck_writer(&c, &s, &r);
    int64_t t0 = now();
    errno_assert(hclose(c) == 0);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    assert(r.rc == -1 && r.err == EBADF);
    assert(r.at - t0 < SLACK);
    errno_assert(hclose(cr) == 0);
    uint8_t b[MSG];
    int got = 0;
    while(1) {
        ssize_t n = wsrecv(s, b, sizeof(b), now() + 5000);
        if(n < 0) {
            assert(errno == EPIPE || errno == ECONNRESET);
            break;
        }
        assert(n == MSG && intact(b, (uint32_t)got, MSG));
        got++;
    }
    assert(got <= r.sent);
    errno_assert(hclose(s) == 0);
}

/* Many connections, each with a send in flight, closed at once: every
   operation ends (the program would not exit cleanly otherwise under
   the sanitizers: the orphaned blocks are freed when their sends end). */
static void many_orphans(void) {
    enum {N = 20};
    int c[N], s[N], cr[N];
    struct result r[N];
    wst_bpair_hook = small_buffers;
    for(int i = 0; i != N; i++) {
        wst_pair(1, 0, &c[i], &s[i]);
        memset(&r[i], 0, sizeof(r[i]));
        cr[i] = go(writer(c[i], -1, &r[i]));
        errno_assert(cr[i] >= 0);
    }
    wst_bpair_hook = NULL;
    for(int i = 0; i != N; i++) stuck(&r[i]);
    for(int i = 0; i != N; i++) {
        errno_assert(hclose(cr[i]) == 0);
        errno_assert(hclose(c[i]) == 0);
    }
    /* The peers read until the end: every orphaned send completes. */
    for(int i = 0; i != N; i++) {
        uint8_t b[MSG];
        int got = 0;
        while(wsrecv(s[i], b, sizeof(b), now() + 5000) == MSG) got++;
        assert(errno == EPIPE || errno == ECONNRESET);
        assert(got <= r[i].sent);
        errno_assert(hclose(s[i]) == 0);
    }
    /* Their completions ran (or run at the next wait). */
    errno_assert(msleep(now() + 20) == 0);
}

/* An operation and how it ended. */
struct op {
    struct dill__aop op;
    int res;
    int ended;
};

static void op_done(struct dill__aop *a, int res) {
    struct op *o = dill__cont(a, struct op, op);
    o->res = res;
    o->ended++;
}

/* Lets the scheduler run until o ended (bounded). */
static void op_wait(struct op *o) {
    int64_t until = now() + 5000;
    while(!o->ended && now() < until) errno_assert(msleep(now() + 2) == 0);
    assert(o->ended == 1);
}

static void op_init(struct op *o) {
    memset(o, 0, sizeof(*o));
    o->op.done = op_done;
}

/* dill__aop_send, with a send that ended at once reported as done. */
static void op_send(struct op *o, int fd, const void *buf, size_t len) {
    int rc = dill__aop_send(&o->op, fd, buf, len);
    errno_assert(rc >= 0);
    if(rc == 1) {o->res = o->op.res; o->ended = 1;}
}

static void sockpair(int fds[2]) {
    errno_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
        SOCK_CLOEXEC, 0, fds) == 0);
}

static void prim_recv(void) {
    int p[2];
    sockpair(p);
    char buf[16];
    struct op o;
    /* Data after the start, then the peer closing: 0. */
    op_init(&o);
    errno_assert(dill__aop_recv(&o.op, p[1], buf, sizeof(buf)) == 0);
    /* One receive per fd. */
    struct op o2;
    op_init(&o2);
    assert_err(dill__aop_recv(&o2.op, p[1], buf, sizeof(buf)), EBUSY);
    errno_assert(msleep(now() + 10) == 0);
    assert(!o.ended);
    errno_assert(write(p[0], "hello", 5) == 5);
    op_wait(&o);
    assert(o.res == 5 && memcmp(buf, "hello", 5) == 0);
    /* Cancelled with nothing there: nothing is taken from the socket. */
    op_init(&o);
    errno_assert(dill__aop_recv(&o.op, p[1], buf, sizeof(buf)) == 0);
    errno_assert(msleep(now() + 10) == 0);
    assert(dill__aop_cancel(&o.op) == -ECANCELED && !o.ended);
    errno_assert(write(p[0], "abc", 3) == 3);
    errno_assert(recv(p[1], buf, sizeof(buf), 0) == 3);
    /* Cancelled as data arrives: either the operation has it, or the
       socket still does; never lost, never both. */
    for(int i = 0; i != 50; i++) {
        op_init(&o);
        memset(buf, 0, sizeof(buf));
        errno_assert(dill__aop_recv(&o.op, p[1], buf, sizeof(buf)) == 0);
        if(i % 2) errno_assert(yield() == 0);
        errno_assert(write(p[0], "race", 4) == 4);
        if(i % 3) errno_assert(yield() == 0);
        int r = o.ended ? o.res : dill__aop_cancel(&o.op);
        if(r == 4) assert(memcmp(buf, "race", 4) == 0);
        else {
            assert(r == -ECANCELED);
            errno_assert(recv(p[1], buf, sizeof(buf), 0) == 4);
        }
        assert(o.ended <= 1);
    }
    /* The peer goes: 0. */
    op_init(&o);
    errno_assert(dill__aop_recv(&o.op, p[1], buf, sizeof(buf)) == 0);
    errno_assert(close(p[0]) == 0);
    op_wait(&o);
    assert(o.res == 0);
    /* The fd is cleaned under a receive: -EBADF, once the kernel let go. */
    sockpair(p);
    op_init(&o);
    errno_assert(dill__aop_recv(&o.op, p[1], buf, sizeof(buf)) == 0);
    errno_assert(msleep(now() + 10) == 0);
    errno_assert(dill_fdclean(p[1]) == 0);
    errno_assert(close(p[1]) == 0);
    op_wait(&o);
    assert(o.res == -EBADF);
    errno_assert(close(p[0]) == 0);
}

static void prim_send(void) {
    int p[2];
    sockpair(p);
    int n = 4096;
    errno_assert(setsockopt(p[0], SOL_SOCKET, SO_SNDBUF, &n, sizeof(n)) == 0);
    enum {BIG = 1 << 20};
    uint8_t *big = malloc(BIG);
    assert(big);
    for(size_t i = 0; i != BIG; i++) big[i] = (uint8_t)(i * 13);
    /* Short: the kernel takes what fits. */
    struct op o;
    op_init(&o);
    int rc = dill__aop_send(&o.op, p[0], big, BIG);
    errno_assert(rc >= 0);
    /* done is never called from within the call. */
    assert(!o.ended);
    if(rc == 1) {o.res = o.op.res; o.ended = 1;}
    op_wait(&o);
    assert(o.res > 0 && o.res < BIG);
    size_t sent = (size_t)o.res;
    /* Full: the next one waits for room, which reading makes. */
    op_init(&o);
    op_send(&o, p[0], big + sent, BIG - sent);
    errno_assert(msleep(now() + 20) == 0);
    uint8_t *got = malloc(BIG);
    assert(got);
    size_t have = 0;
    while(!o.ended || have < sent) {
        ssize_t r = recv(p[1], got + have, BIG - have, 0);
        if(r > 0) have += (size_t)r;
        else errno_assert(msleep(now() + 2) == 0);
        if(o.ended && o.res > 0) {sent += (size_t)o.res; o.res = 0;}
    }
    assert(memcmp(got, big, have) == 0);
    /* The fd is cleaned under a send waiting for room: it ends (epoll:
       one last attempt; ring: when the kernel is done, the peer
       reading), and what it reports went is what the peer gets. */
    while(send(p[0], big, BIG, MSG_DONTWAIT) > 0) {}
    assert(errno == EAGAIN);
    op_init(&o);
    errno_assert(dill__aop_send(&o.op, p[0], big, BIG) == 0);
    errno_assert(msleep(now() + 20) == 0);
    errno_assert(dill_fdclean(p[0]) == 0);
    errno_assert(close(p[0]) == 0);
    int64_t until = now() + 5000;
    while(1) {
        ssize_t r = recv(p[1], got, BIG, 0);
        if(r == 0) break;
        if(r < 0) {
            assert(errno == EAGAIN && now() < until);
            errno_assert(msleep(now() + 2) == 0);
        }
    }
    op_wait(&o);
    assert(o.res == -EBADF || o.res > 0);
    /* A send cancelled once it ended (or while in the kernel) reports
       what went. */
    sockpair(p);
    op_init(&o);
    int r = dill__aop_send(&o.op, p[0], "xy", 2);
    errno_assert(r >= 0);
    /* Ended at once (epoll), or cancelled in the kernel (ring). */
    r = r == 1 ? o.op.res : dill__aop_cancel(&o.op);
    assert(r == 2 || r == -ECANCELED);
    assert(!o.ended);
    char c[4];
    ssize_t k = recv(p[1], c, sizeof(c), 0);
    assert(r == 2 ? k == 2 : (k < 0 && errno == EAGAIN));
    errno_assert(close(p[0]) == 0);
    errno_assert(close(p[1]) == 0);
    free(big);
    free(got);
}

#define STEP(x) do {int64_t t_ = now(); x; if(getenv("AOP_VERBOSE")) fprintf(stderr, "%s %s %d ms\n", mode, #x, (int)(now() - t_));} while(0)
static void run(const char *mode) {
    STEP(recv_cancel());
    STEP(recv_hclose());
    STEP(send_cancel(0));
    STEP(send_cancel(1));
    STEP(short_sends());
    STEP(send_reset());
    STEP(send_hclose());
    STEP(many_orphans());
    STEP(prim_recv());
    STEP(prim_send());
    fprintf(stderr, "aop: %s: passed\n", mode);
}

int main(void) {
    /* Before any use of the library, so the child starts afresh. */
    pid_t pid = fork();
    errno_assert(pid >= 0);
    if(pid == 0) {
        errno_assert(setenv("DILL_URING", "0", 1) == 0);
        run("epoll (DILL_URING=0)");
        return 0;
    }
    int status;
    errno_assert(waitpid(pid, &status, 0) == pid);
    assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const char *e = getenv("DILL_URING");
    run(e && strcmp(e, "0") == 0 ? "epoll (DILL_URING=0)" :
        "io_uring (epoll where the kernel has none)");
    return 0;
}
