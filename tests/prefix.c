/* PREFIX: size-prefixed messages over tcp and ipc, both byte orders, every
   header size, lists, the size limits, timeouts that resume, truncation,
   detach with the bytes that follow, the _mem variant, bad arguments. */

#include "assert.h"
#include "libdillimpl.h"
#include "bpair.h"
#include "plainsock.h"

coroutine static void echo(int s) {
    char buf[64];
    ssize_t n;
    while((n = mrecv(s, buf, sizeof(buf), now() + 5000)) >= 0)
        if(msend(s, buf, n, now() + 5000) < 0) break;
}

/* Over tcp, with a peer in another coroutine; then raw bytes after
   detach. */
static void test_tcp(void) {
    int p[2];
    bpair(1, p);
    int c = prefix_attach(p[0], 4, PREFIX_BIG_ENDIAN);
    errno_assert(c >= 0);
    int s = prefix_attach(p[1], 4, PREFIX_BIG_ENDIAN);
    errno_assert(s >= 0);
    int h = go(echo(s));
    errno_assert(h >= 0);
    char buf[64];
    errno_assert(msend(c, "hello", 5, now() + 5000) == 0);
    assert(mrecv(c, buf, sizeof(buf), now() + 5000) == 5);
    assert(memcmp(buf, "hello", 5) == 0);
    errno_assert(msend(c, "", 0, now() + 5000) == 0);
    assert(mrecv(c, buf, sizeof(buf), now() + 5000) == 0);
    errno_assert(hclose(h) == 0);
    /* The wire format: 4-byte big-endian size, then the bytes. */
    errno_assert(msend(c, "xyz", 3, now() + 5000) == 0);
    int u = prefix_detach(s);
    errno_assert(u >= 0);
    errno_assert(brecv(u, buf, 7, now() + 5000) == 0);
    assert(memcmp(buf, "\0\0\0\3xyz", 7) == 0);
    /* Raw bytes written after a message stay readable after detach. */
    errno_assert(bsend(u, "\0\0\0\2ok", 6, now() + 5000) == 0);
    errno_assert(bsend(u, "RAW", 3, now() + 5000) == 0);
    assert(mrecv(c, buf, sizeof(buf), now() + 5000) == 2);
    int cu = prefix_detach(c);
    errno_assert(cu >= 0);
    errno_assert(brecv(cu, buf, 3, now() + 5000) == 0);
    assert(memcmp(buf, "RAW", 3) == 0);
    errno_assert(hclose(cu) == 0);
    errno_assert(hclose(u) == 0);
}

/* Little endian, every header size, lists on both sides, mem variant. */
static void test_formats(void) {
    for(size_t hl = 1; hl <= 8; hl++) {
        int p[2];
        errno_assert(ipc_pair(p) == 0);
        struct prefix_storage mem;
        int a = prefix_attach_mem(p[0], hl, PREFIX_LITTLE_ENDIAN, &mem);
        errno_assert(a >= 0);
        int b = prefix_attach(p[1], hl, PREFIX_LITTLE_ENDIAN);
        errno_assert(b >= 0);
        struct iolist i2 = {"cd", 2, NULL, 0}, i1 = {"ab", 2, &i2, 0};
        errno_assert(msendl(a, &i1, &i2, now() + 1000) == 0);
        char r1[1], r2[8];
        struct iolist o2 = {r2, 8, NULL, 0}, o1 = {r1, 1, &o2, 0};
        assert(mrecvl(b, &o1, &o2, now() + 1000) == 4);
        assert(r1[0] == 'a' && memcmp(r2, "bcd", 3) == 0);
        /* The caller's list is unchanged. */
        assert(o1.iol_len == 1 && o1.iol_next == &o2 && o2.iol_len == 8 &&
            o2.iol_next == NULL);
        /* Dropped whole. */
        errno_assert(msend(a, "skip", 4, now() + 1000) == 0);
        errno_assert(msend(a, "keep", 4, now() + 1000) == 0);
        assert(mrecvl(b, NULL, NULL, now() + 1000) == 4);
        assert(mrecv(b, r2, 8, now() + 1000) == 4 && memcmp(r2, "keep", 4) == 0);
        /* The size field really is little endian, hl bytes. */
        int u = prefix_detach(a);
        errno_assert(u >= 0);
        errno_assert(msend(b, "Q", 1, now() + 1000) == 0);
        uint8_t hdr[9];
        errno_assert(brecv(u, hdr, hl + 1, now() + 1000) == 0);
        assert(hdr[0] == 1 && hdr[hl] == 'Q');
        for(size_t i = 1; i < hl; i++) assert(hdr[i] == 0);
        errno_assert(hclose(u) == 0);
        errno_assert(hclose(b) == 0);
    }
}

/* Messages too big for the header, or for the receiver's buffer. */
static void test_sizes(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int a = prefix_attach(p[0], 1, PREFIX_BIG_ENDIAN);
    int b = prefix_attach(p[1], 1, PREFIX_BIG_ENDIAN);
    errno_assert(a >= 0 && b >= 0);
    static char big[256];
    memset(big, 'x', sizeof(big));
    assert_err(msend(a, big, 256, now() + 1000), EMSGSIZE);
    /* Nothing was sent: the socket still works, 255 is the limit. */
    errno_assert(msend(a, big, 255, now() + 1000) == 0);
    char small[10];
    assert_err(mrecv(b, small, sizeof(small), now() + 1000), EMSGSIZE);
    /* The message is still in the stream: the receive side is broken. */
    assert_err(mrecv(b, small, sizeof(small), now() + 1000), ECONNRESET);
    /* Sending still works; detaching reports the broken stream. */
    errno_assert(msend(b, "z", 1, now() + 1000) == 0);
    assert(mrecv(a, small, sizeof(small), now() + 1000) == 1);
    assert_err(prefix_detach(b), ECONNRESET);
    errno_assert(hclose(a) == 0);
}

/* An 8-byte size field arriving a byte at a time, a receive timing out
   after each: the bytes kept in between (up to 7) make the size.  Little
   endian, the size's only set byte comes first and must survive all 7
   timeouts in place. */
static void test_bytewise(int flags) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int b = prefix_attach(p[1], 8, flags);
    errno_assert(b >= 0);
    uint8_t hdr[8] = {0};
    hdr[flags == PREFIX_LITTLE_ENDIAN ? 0 : 7] = 5;
    char buf[8];
    for(int i = 0; i != 7; i++) {
        errno_assert(bsend(p[0], hdr + i, 1, now() + 1000) == 0);
        assert_err(mrecv(b, buf, sizeof(buf), now() + 20), ETIMEDOUT);
    }
    errno_assert(bsend(p[0], hdr + 7, 1, now() + 1000) == 0);
    errno_assert(bsend(p[0], "hello", 5, now() + 1000) == 0);
    assert(mrecv(b, buf, sizeof(buf), now() + 1000) == 5);
    assert(memcmp(buf, "hello", 5) == 0);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(p[0]) == 0);
}

/* A timeout in the middle of the size field keeps what arrived; the
   next receive completes the message. */
static void test_timeouts(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int b = prefix_attach(p[1], 4, PREFIX_BIG_ENDIAN);
    errno_assert(b >= 0);
    char buf[8];
    assert_err(mrecv(b, buf, sizeof(buf), now() + 20), ETIMEDOUT);
    assert_err(mrecv(b, buf, sizeof(buf), 0), ETIMEDOUT);
    errno_assert(bsend(p[0], "\0\0", 2, now() + 1000) == 0);
    assert_err(mrecv(b, buf, sizeof(buf), now() + 20), ETIMEDOUT);
    /* Detaching now would lose the half-read size field. */
    errno_assert(bsend(p[0], "\0\3abc", 5, now() + 1000) == 0);
    assert(mrecv(b, buf, sizeof(buf), now() + 1000) == 3);
    assert(memcmp(buf, "abc", 3) == 0);
    /* A timeout inside the body breaks the receive side. */
    errno_assert(bsend(p[0], "\0\0\0\5ab", 6, now() + 1000) == 0);
    assert_err(mrecv(b, buf, sizeof(buf), now() + 20), ETIMEDOUT);
    assert_err(mrecv(b, buf, sizeof(buf), now() + 20), ECONNRESET);
    errno_assert(hclose(b) == 0);
    /* A half-read size field makes detach fail and close everything. */
    errno_assert(ipc_pair(p) == 0);
    b = prefix_attach(p[1], 4, PREFIX_BIG_ENDIAN);
    errno_assert(bsend(p[0], "\0", 1, now() + 1000) == 0);
    assert_err(mrecv(b, buf, sizeof(buf), now() + 20), ETIMEDOUT);
    assert_err(prefix_detach(b), ECONNRESET);
    assert_err(hclose(b), EBADF);
    /* The peer closing: at a message boundary EPIPE, inside one
       ECONNRESET. */
    errno_assert(hclose(p[0]) == 0);
    errno_assert(ipc_pair(p) == 0);
    b = prefix_attach(p[1], 2, PREFIX_BIG_ENDIAN);
    errno_assert(bsend(p[0], "\0\1Z\0", 4, now() + 1000) == 0);
    errno_assert(hclose(p[0]) == 0);
    assert(mrecv(b, buf, sizeof(buf), now() + 1000) == 1 && buf[0] == 'Z');
    assert_err(mrecv(b, buf, sizeof(buf), now() + 1000), ECONNRESET);
    errno_assert(hclose(b) == 0);
    errno_assert(ipc_pair(p) == 0);
    b = prefix_attach(p[1], 2, PREFIX_BIG_ENDIAN);
    errno_assert(hclose(p[0]) == 0);
    assert_err(mrecv(b, buf, sizeof(buf), now() + 1000), EPIPE);
    assert_err(mrecv(b, buf, sizeof(buf), now() + 1000), EPIPE);
    errno_assert(hclose(b) == 0);
}

coroutine static void blocked_recv(int s, int *err) {
    char buf[4];
    *err = mrecv(s, buf, sizeof(buf), -1) < 0 ? errno : 0;
}

/* Cancellation while waiting for a message leaves the socket usable;
   a layer below without partial reads works too. */
static void test_cancel_plain(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int b = prefix_attach(p[1], 2, PREFIX_BIG_ENDIAN);
    errno_assert(b >= 0);
    int err = -1;
    int h = go(blocked_recv(b, &err));
    errno_assert(yield() == 0);
    errno_assert(hclose(h) == 0);
    assert(err == ECANCELED);
    errno_assert(bsend(p[0], "\0\2hi", 4, now() + 1000) == 0);
    char buf[4];
    assert(mrecv(b, buf, sizeof(buf), now() + 1000) == 2);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(p[0]) == 0);
    /* Over a bytestream without partial reads. */
    errno_assert(ipc_pair(p) == 0);
    int a = prefix_attach(plain_wrap(p[0]), 3, PREFIX_BIG_ENDIAN);
    b = prefix_attach(plain_wrap(p[1]), 3, PREFIX_BIG_ENDIAN);
    errno_assert(a >= 0 && b >= 0);
    errno_assert(msend(a, "plain", 5, now() + 1000) == 0);
    assert(mrecv(b, buf, 4, now() + 1000) == -1 && errno == EMSGSIZE);
    errno_assert(msend(b, "ok", 2, now() + 1000) == 0);
    assert(mrecv(a, buf, 4, now() + 1000) == 2);
    errno_assert(hclose(a) == 0);
    errno_assert(hclose(b) == 0);
}

static void test_args(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    assert_err(prefix_attach(p[0], 0, 0), EINVAL);
    assert_err(hclose(p[0]), EBADF);   /* closed by the failed attach */
    assert_err(prefix_attach(p[1], 9, 0), EINVAL);
    errno_assert(ipc_pair(p) == 0);
    assert_err(prefix_attach(p[0], 2, 7), EINVAL);
    assert_err(prefix_attach_mem(p[1], 2, 0, NULL), EINVAL);
    assert_err(prefix_attach(-1, 2, 0), EBADF);
    assert_err(prefix_attach(12345, 2, 0), EBADF);
    /* Not a bytestream: a channel, or a message socket. */
    int ch[2];
    errno_assert(chmake(ch) == 0);
    assert_err(prefix_attach(ch[0], 2, 0), EPROTO);
    errno_assert(hclose(ch[1]) == 0);
    errno_assert(ipc_pair(p) == 0);
    int m = prefix_attach(p[0], 2, 0);
    errno_assert(m >= 0);
    assert_err(prefix_attach(m, 2, 0), EPROTO);
    assert_err(prefix_detach(p[1]), ENOTSUP);   /* p[1] left open */
    assert_err(prefix_detach(-1), EBADF);
    errno_assert(hclose(p[1]) == 0);
}

int main(void) {
    test_tcp();
    test_formats();
    test_sizes();
    test_timeouts();
    test_bytewise(PREFIX_LITTLE_ENDIAN);
    test_bytewise(PREFIX_BIG_ENDIAN);
    test_cancel_plain();
    test_args();
    return 0;
}
