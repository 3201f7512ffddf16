/* TERM: the terminal handshake over prefix and suffix sockets on tcp and
   ipc: done, detach from both sides, messages dropped while detaching,
   terminal messages bigger than the receive buffer, empty terminal
   message, deadlines, cancellation, broken connections, bad arguments. */

#include "assert.h"
#include "libdillimpl.h"
#include "bpair.h"

coroutine static void client(int s) {
    s = term_attach(s, "STOP", 4);
    errno_assert(s >= 0);
    errno_assert(msend(s, "ABC", 3, now() + 5000) == 0);
    char buf[16];
    assert(mrecv(s, buf, sizeof(buf), now() + 5000) == 3);
    assert(memcmp(buf, "DEF", 3) == 0);
    /* These are dropped by the server's term_detach. */
    errno_assert(msend(s, "late1", 5, now() + 5000) == 0);
    errno_assert(msend(s, "late2", 5, now() + 5000) == 0);
    s = term_detach(s, now() + 5000);
    errno_assert(s >= 0);
    /* Both sides agree where the stream is: the next message is the
       server's first after the handshake. */
    assert(mrecv(s, buf, sizeof(buf), now() + 5000) == 5);
    assert(memcmp(buf, "after", 5) == 0);
    errno_assert(hclose(s) == 0);
}

static void test_handshake(void) {
    int p[2];
    bpair(1, p);
    int c = suffix_attach(p[0], "\r\n", 2);
    int sv = suffix_attach(p[1], "\r\n", 2);
    errno_assert(c >= 0 && sv >= 0);
    int h = go(client(c));
    struct term_storage mem;
    int s = term_attach_mem(sv, "STOP", 4, &mem);
    errno_assert(s >= 0);
    char buf[16];
    assert(mrecv(s, buf, sizeof(buf), now() + 5000) == 3);
    errno_assert(msend(s, "DEF", 3, now() + 5000) == 0);
    s = term_detach(s, now() + 5000);
    errno_assert(s >= 0);
    errno_assert(msend(s, "after", 5, now() + 5000) == 0);
    errno_assert(bundle_wait(h, now() + 5000) == 0);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(s) == 0);
}

/* term_done: our sends end, receiving goes on; the peer sees EPIPE. */
static void test_done(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int a = term_attach(prefix_attach(p[0], 2, 0), "END", 3);
    int b = term_attach(prefix_attach(p[1], 2, 0), "END", 3);
    errno_assert(a >= 0 && b >= 0);
    errno_assert(msend(a, "m1", 2, now() + 1000) == 0);
    errno_assert(term_done(a, now() + 1000) == 0);
    assert_err(term_done(a, now() + 1000), EPIPE);
    assert_err(msend(a, "m2", 2, now() + 1000), EPIPE);
    /* The terminal message is seen through a 1-byte buffer too. */
    char buf[8];
    assert(mrecv(b, buf, sizeof(buf), now() + 1000) == 2);
    assert_err(mrecv(b, buf, 1, now() + 1000), EPIPE);
    assert_err(mrecv(b, buf, 1, now() + 1000), EPIPE);
    /* b can still send; a still receives. */
    errno_assert(msend(b, "back", 4, now() + 1000) == 0);
    assert(mrecv(a, buf, sizeof(buf), now() + 1000) == 4);
    /* A message bigger than the buffer is still EMSGSIZE. */
    errno_assert(msend(b, "toolong", 7, now() + 1000) == 0);
    assert_err(mrecv(a, buf, 2, now() + 1000), EMSGSIZE);
    errno_assert(hclose(a) == 0);
    errno_assert(hclose(b) == 0);
}

/* An empty terminal message; messages dropped with a NULL list are still
   checked. */
static void test_empty(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int a = term_attach(suffix_attach(p[0], "\n", 1), NULL, 0);
    int b = term_attach(suffix_attach(p[1], "\n", 1), NULL, 0);
    errno_assert(a >= 0 && b >= 0);
    errno_assert(msend(a, "x", 1, now() + 1000) == 0);
    errno_assert(term_done(a, now() + 1000) == 0);
    assert(mrecvl(b, NULL, NULL, now() + 1000) == 1);
    assert_err(mrecvl(b, NULL, NULL, now() + 1000), EPIPE);
    /* b's detach sends its terminal message and returns at once: a's
       already arrived. */
    int ub = term_detach(b, now() + 1000);
    errno_assert(ub >= 0);
    int ua = term_detach(a, now() + 1000);
    errno_assert(ua >= 0);
    errno_assert(hclose(ua) == 0);
    errno_assert(hclose(ub) == 0);
}

coroutine static void detach_cancelled(int s, int *err) {
    *err = term_detach(s, -1) < 0 ? errno : 0;
}

/* A peer that never answers: the deadline and cancellation bound the
   detach, which then closes everything. */
static void test_failures(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int a = term_attach(prefix_attach(p[0], 1, 0), "Z", 1);
    errno_assert(a >= 0);
    int64_t start = now();
    assert_err(term_detach(a, now() + 30), ETIMEDOUT);
    assert(now() - start < 3000);
    assert_err(hclose(a), EBADF);
    errno_assert(hclose(p[1]) == 0);
    errno_assert(ipc_pair(p) == 0);
    a = term_attach(prefix_attach(p[0], 1, 0), "Z", 1);
    int err = -1;
    int h = go(detach_cancelled(a, &err));
    errno_assert(yield() == 0);
    errno_assert(hclose(h) == 0);
    assert(err == ECANCELED);
    assert_err(hclose(a), EBADF);
    errno_assert(hclose(p[1]) == 0);
    /* The peer vanishes before its terminal message. */
    errno_assert(ipc_pair(p) == 0);
    a = term_attach(prefix_attach(p[0], 1, 0), "Z", 1);
    errno_assert(hclose(p[1]) == 0);
    int r = term_detach(a, now() + 1000);
    assert(r == -1 && (errno == ECONNRESET || errno == EPIPE));
    assert_err(hclose(a), EBADF);
}

static void test_args(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    /* A bytestream is not a message socket. */
    assert_err(term_attach(p[0], "X", 1), EPROTO);
    assert_err(hclose(p[0]), EBADF);
    int m = prefix_attach(p[1], 1, 0);
    static const char big[33] = {0};
    assert_err(term_attach(m, big, 33), EINVAL);
    errno_assert(ipc_pair(p) == 0);
    m = prefix_attach(p[1], 1, 0);
    assert_err(term_attach(m, NULL, 1), EINVAL);
    m = prefix_attach(p[0], 1, 0);
    assert_err(term_attach_mem(m, "X", 1, NULL), EINVAL);
    assert_err(term_attach(-1, "X", 1), EBADF);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    assert_err(term_done(ch[0], 0), ENOTSUP);
    assert_err(term_detach(ch[0], 0), ENOTSUP);
    assert_err(term_done(-1, 0), EBADF);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}

int main(void) {
    test_handshake();
    test_done();
    test_empty();
    test_failures();
    test_args();
    return 0;
}
