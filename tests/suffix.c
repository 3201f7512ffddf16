/* SUFFIX: delimited messages over tcp and ipc, overlapping delimiters,
   lists, skipping, the buffer limit, timeouts, nothing read past the
   delimiter (detach), the _mem variant, bad arguments. */

#include "assert.h"
#include "libdillimpl.h"
#include "bpair.h"
#include "plainsock.h"

coroutine static void lines(int s) {
    errno_assert(bsend(s, "one\r\ntwo\r\r\n\r\nthree\r\nRAW", 23, -1) == 0);
}

static void test_tcp(void) {
    int p[2];
    bpair(1, p);
    int h = go(lines(p[0]));
    struct suffix_storage mem;
    int s = suffix_attach_mem(p[1], "\r\n", 2, &mem);
    errno_assert(s >= 0);
    char buf[16];
    assert(mrecv(s, buf, sizeof(buf), now() + 5000) == 3);
    assert(memcmp(buf, "one", 3) == 0);
    assert(mrecv(s, buf, sizeof(buf), now() + 5000) == 4);
    assert(memcmp(buf, "two\r", 4) == 0);
    assert(mrecv(s, buf, sizeof(buf), now() + 5000) == 0);
    assert(mrecv(s, buf, 5, now() + 5000) == 5);
    assert(memcmp(buf, "three", 5) == 0);
    /* Nothing after the last delimiter was read. */
    int u = suffix_detach(s, now() + 5000);
    errno_assert(u >= 0);
    errno_assert(brecv(u, buf, 3, now() + 5000) == 0);
    assert(memcmp(buf, "RAW", 3) == 0);
    errno_assert(hclose(h) == 0);
    /* Sending appends the delimiter. */
    int c = suffix_attach(p[0], "\r\n", 2);
    errno_assert(c >= 0);
    errno_assert(msend(c, "hi", 2, now() + 5000) == 0);
    struct iolist i2 = {"b", 1, NULL, 0}, i1 = {"a", 1, &i2, 0};
    errno_assert(msendl(c, &i1, &i2, now() + 5000) == 0);
    assert(i2.iol_next == NULL);
    errno_assert(brecv(u, buf, 8, now() + 5000) == 0);
    assert(memcmp(buf, "hi\r\nab\r\n", 8) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(u) == 0);
}

/* Delimiters whose prefix repeats inside them: the matcher must not lose
   content bytes nor miss a delimiter. */
static void test_overlap(void) {
    struct {const char *sfx; const char *wire; const char *msgs[4];} cases[] = {
        {"aab", "aaab" "aaaab" "abaab", {"a", "aa", "ab", NULL}},
        {"abab", "ababab" "aabab" "abaabab", {"", "aba", "aba", NULL}},
        {"\n", "x\n\ny\n", {"x", "", "y", NULL}},
        {"1234567890", "First1234567890Second12345678901234567890",
            {"First", "Second", "", NULL}},
    };
    for(size_t c = 0; c != sizeof(cases) / sizeof(cases[0]); c++) {
        int p[2];
        errno_assert(ipc_pair(p) == 0);
        int s = suffix_attach(p[1], cases[c].sfx, strlen(cases[c].sfx));
        errno_assert(s >= 0);
        errno_assert(bsend(p[0], cases[c].wire, strlen(cases[c].wire),
            now() + 1000) == 0);
        for(int i = 0; cases[c].msgs[i]; i++) {
            char buf[32];
            ssize_t n = mrecv(s, buf, sizeof(buf), now() + 1000);
            assert(n == (ssize_t)strlen(cases[c].msgs[i]));
            assert(memcmp(buf, cases[c].msgs[i], n) == 0);
        }
        assert_err(mrecv(s, NULL, 0, 0), ETIMEDOUT);
        errno_assert(hclose(s) == 0);
        errno_assert(hclose(p[0]) == 0);
    }
}

static void test_limits(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int s = suffix_attach(p[1], "\n", 1);
    errno_assert(s >= 0);
    errno_assert(bsend(p[0], "skipped\nlist\n0123456789\n", 24,
        now() + 1000) == 0);
    /* Skipped whole, size reported. */
    assert(mrecvl(s, NULL, NULL, now() + 1000) == 7);
    char r1[2], r2[8];
    struct iolist o2 = {r2, 8, NULL, 0}, o1 = {r1, 2, &o2, 0};
    assert(mrecvl(s, &o1, &o2, now() + 1000) == 4);
    assert(memcmp(r1, "li", 2) == 0 && memcmp(r2, "st", 2) == 0);
    /* Longer than the buffer: EMSGSIZE, and the stream is lost. */
    assert_err(mrecv(s, r2, 8, now() + 1000), EMSGSIZE);
    assert_err(mrecv(s, r2, 8, now() + 1000), ECONNRESET);
    assert_err(suffix_detach(s, now() + 1000), ECONNRESET);
    errno_assert(hclose(p[0]) == 0);
}

coroutine static void blocked_recv(int s, int *err) {
    char buf[4];
    *err = mrecv(s, buf, sizeof(buf), -1) < 0 ? errno : 0;
}

static void test_timeouts(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int s = suffix_attach(p[1], "\r\n", 2);
    char buf[16];
    /* Nothing taken: still usable, after a timeout or a cancellation. */
    assert_err(mrecv(s, buf, sizeof(buf), now() + 20), ETIMEDOUT);
    assert_err(mrecv(s, buf, sizeof(buf), 0), ETIMEDOUT);
    int err = -1;
    int h = go(blocked_recv(s, &err));
    errno_assert(yield() == 0);
    errno_assert(hclose(h) == 0);
    assert(err == ECANCELED);
    errno_assert(bsend(p[0], "ok\r\n", 4, now() + 1000) == 0);
    assert(mrecv(s, buf, sizeof(buf), now() + 1000) == 2);
    /* A peer that never ends its message: bounded by the deadline, and
       the receive side is broken afterwards. */
    errno_assert(bsend(p[0], "partial\r", 8, now() + 1000) == 0);
    int64_t start = now();
    assert_err(mrecv(s, buf, sizeof(buf), now() + 30), ETIMEDOUT);
    assert(now() - start < 3000);
    assert_err(mrecv(s, buf, sizeof(buf), now() + 30), ECONNRESET);
    errno_assert(hclose(s) == 0);
    /* The peer closing: at a boundary EPIPE, inside a message ECONNRESET. */
    errno_assert(ipc_pair(p) == 0);
    s = suffix_attach(p[1], "\r\n", 2);
    errno_assert(bsend(p[0], "a\r\nb", 4, now() + 1000) == 0);
    errno_assert(hclose(p[0]) == 0);
    assert(mrecv(s, buf, sizeof(buf), now() + 1000) == 1);
    assert_err(mrecv(s, buf, sizeof(buf), now() + 1000), ECONNRESET);
    errno_assert(hclose(s) == 0);
    errno_assert(ipc_pair(p) == 0);
    s = suffix_attach(p[1], "\r\n", 2);
    errno_assert(hclose(p[0]) == 0);
    assert_err(mrecv(s, buf, sizeof(buf), now() + 1000), EPIPE);
    errno_assert(hclose(s) == 0);
    /* A send that fails breaks the send side. */
    errno_assert(ipc_pair(p) == 0);
    int w = plain_wrap(p[0]);
    s = suffix_attach(w, "\n", 1);
    last_plain->failsend = 1;
    assert_err(msend(s, "x", 1, now() + 1000), ETIMEDOUT);
    assert_err(msend(s, "x", 1, now() + 1000), ECONNRESET);
    assert_err(suffix_detach(s, -1), ECONNRESET);
    /* Over a bytestream without partial reads. */
    int a = suffix_attach(plain_wrap(p[1]), "--", 2);
    errno_assert(ipc_pair(p) == 0);
    errno_assert(hclose(a) == 0);
    a = suffix_attach(plain_wrap(p[0]), "--", 2);
    int b = suffix_attach(plain_wrap(p[1]), "--", 2);
    errno_assert(msend(a, "x-y", 3, now() + 1000) == 0);
    assert(mrecv(b, buf, sizeof(buf), now() + 1000) == 3);
    assert(memcmp(buf, "x-y", 3) == 0);
    errno_assert(hclose(a) == 0);
    errno_assert(hclose(b) == 0);
}

coroutine static void endless_recv(int s, int *err) {
    *err = mrecvl(s, NULL, NULL, -1) < 0 ? errno : 0;
}

/* Closing the socket while a receive works through a long message: the
   receive yields now and then, learns it is closed and fails with
   EBADF. */
static void test_close_under(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    static char junk[60000];
    memset(junk, 'j', sizeof(junk));
    errno_assert(bsend(p[0], junk, sizeof(junk), now() + 1000) == 0);
    int s = suffix_attach(p[1], "\r\n", 2);
    errno_assert(s >= 0);
    int err = -1;
    int h = go(endless_recv(s, &err));
    errno_assert(yield() == 0);
    /* A second receiver at once is refused. */
    assert_err(mrecv(s, NULL, 0, 0), EBUSY);
    errno_assert(hclose(s) == 0);
    errno_assert(bundle_wait(h, now() + 1000) == 0);
    assert(err == EBADF);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(p[0]) == 0);
}

static void test_args(void) {
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    assert_err(suffix_attach(p[0], "", 0), EINVAL);
    assert_err(hclose(p[0]), EBADF);
    static const char long_sfx[] = "012345678901234567890123456789012";
    assert_err(suffix_attach(p[1], long_sfx, 33), EINVAL);
    errno_assert(ipc_pair(p) == 0);
    assert_err(suffix_attach(p[0], NULL, 2), EINVAL);
    assert_err(suffix_attach_mem(p[1], "\n", 1, NULL), EINVAL);
    assert_err(suffix_attach(-1, "\n", 1), EBADF);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    assert_err(suffix_attach(ch[0], "\n", 1), EPROTO);
    assert_err(suffix_detach(ch[1], -1), ENOTSUP);
    errno_assert(hclose(ch[1]) == 0);
    assert_err(suffix_detach(-1, -1), EBADF);
    /* 32 bytes is the limit. */
    errno_assert(ipc_pair(p) == 0);
    int s = suffix_attach(p[0], long_sfx, 32);
    errno_assert(s >= 0);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(p[1]) == 0);
}

int main(void) {
    test_tcp();
    test_overlap();
    test_limits();
    test_timeouts();
    test_close_under();
    test_args();
    return 0;
}
