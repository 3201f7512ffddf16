/* Receives through io_uring (partial reads of tcp/ipc sockets; see
   src/core/uring.c): every way a waiting read can end must leave the
   kernel done with the buffer and the socket usable where documented:
   data, timeout, cancellation, the socket closed by another coroutine,
   the peer closing, and a fork.  With DILL_URING=0 (or no io_uring in
   the kernel) the same tests run on epoll. */

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wstest.h"
#include "core/core.h"
#include "net/bsockx.h"

static void pair(int *a, int *b) {
    wst_bpair(1, a, b);
}

static ssize_t recvsome(int s, void *buf, size_t len, int64_t deadline) {
    struct dill__bsockx_vfs *x = dill_hquery(s, dill__bsockx_type);
    assert(x);
    return x->ops->brecvsome(x, buf, len, deadline);
}

coroutine static void sender(int s, int64_t when, const char *msg) {
    if(msleep(when) < 0) return;
    bsend(s, msg, strlen(msg), -1);
}

coroutine static void reader(int s, int *res) {
    char b[16];
    ssize_t r = recvsome(s, b, sizeof(b), -1);
    *res = r < 0 ? -errno : (int)r;
}

coroutine static void closer(int s, int64_t when) {
    msleep(when);
    hclose(s);
}

int main(void) {
    int a, b;
    pair(&a, &b);
    char buf[64];

    /* Data arriving while the reader waits. */
    int cr = go(sender(a, now() + 50, "hello"));
    errno_assert(cr >= 0);
    ssize_t r = recvsome(b, buf, sizeof(buf), now() + 2000);
    errno_assert(r == 5);
    assert(memcmp(buf, "hello", 5) == 0);
    errno_assert(hclose(cr) == 0);

    /* A message bigger than the request: the rest is kept for the next
       reads, in order, without waiting. */
    char big[1000];
    for(int i = 0; i != (int)sizeof(big); i++) big[i] = (char)(i * 7);
    int64_t t0 = now();
    int snd = go(sender(a, t0 + 30, "x"));
    errno_assert(snd >= 0);
    r = recvsome(b, buf, 1, now() + 2000);
    errno_assert(r == 1 && buf[0] == 'x');
    errno_assert(hclose(snd) == 0);
    errno_assert(bsend(a, big, sizeof(big), -1) == 0);
    char got[1000];
    size_t have = 0;
    r = recvsome(b, got, 10, now() + 2000);
    errno_assert(r == 10);
    have = 10;
    while(have < sizeof(got)) {
        r = recvsome(b, got + have, sizeof(got) - have, now() + 2000);
        errno_assert(r > 0);
        have += (size_t)r;
    }
    assert(memcmp(got, big, sizeof(big)) == 0);

    /* A timeout, then the data sent afterwards is not lost. */
    int64_t start = now();
    assert_err(recvsome(b, buf, sizeof(buf), now() + 50), ETIMEDOUT);
    assert(now() - start >= 40);
    errno_assert(bsend(a, "after", 5, -1) == 0);
    r = recvsome(b, buf, sizeof(buf), now() + 2000);
    errno_assert(r == 5);
    assert(memcmp(buf, "after", 5) == 0);

    /* Cancellation (closing the reader's bundle) while it waits. */
    int res = 1;
    cr = go(reader(b, &res));
    errno_assert(cr >= 0);
    errno_assert(msleep(now() + 20) == 0);
    errno_assert(hclose(cr) == 0);
    assert(res == -ECANCELED);
    errno_assert(bsend(a, "again", 5, -1) == 0);
    r = recvsome(b, buf, sizeof(buf), now() + 2000);
    errno_assert(r == 5);
    assert(memcmp(buf, "again", 5) == 0);

    /* A second reader while one waits: EBUSY, and the first still gets
       the data. */
    res = 1;
    cr = go(reader(b, &res));
    errno_assert(cr >= 0);
    errno_assert(msleep(now() + 20) == 0);
    assert_err(recvsome(b, buf, sizeof(buf), now() + 1000), EBUSY);
    errno_assert(bsend(a, "y", 1, -1) == 0);
    errno_assert(bundle_wait(cr, now() + 2000) == 0);
    assert(res == 1);
    errno_assert(hclose(cr) == 0);

    /* Many readers on many sockets at once, each served. */
    enum {N = 50};
    int as[N], bs[N], rs[N], crs[N];
    for(int i = 0; i != N; i++) {
        pair(&as[i], &bs[i]);
        rs[i] = 1;
        crs[i] = go(reader(bs[i], &rs[i]));
        errno_assert(crs[i] >= 0);
    }
    errno_assert(msleep(now() + 20) == 0);
    for(int i = 0; i != N; i++) errno_assert(bsend(as[i], "x", 1, -1) == 0);
    for(int i = 0; i != N; i++) {
        errno_assert(bundle_wait(crs[i], now() + 2000) == 0);
        assert(rs[i] == 1);
        errno_assert(hclose(crs[i]) == 0);
        errno_assert(hclose(as[i]) == 0);
        errno_assert(hclose(bs[i]) == 0);
    }

    /* The peer closes while the reader waits: EPIPE. */
    int c, d;
    pair(&c, &d);
    cr = go(closer(c, now() + 30));
    errno_assert(cr >= 0);
    assert_err(recvsome(d, buf, sizeof(buf), now() + 2000), EPIPE);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(d) == 0);

    /* The socket is closed by another coroutine while the reader waits:
       the reader gets EBADF and nothing touches freed memory. */
    pair(&c, &d);
    res = 1;
    cr = go(reader(d, &res));
    errno_assert(cr >= 0);
    errno_assert(msleep(now() + 20) == 0);
    errno_assert(hclose(d) == 0);
    errno_assert(bundle_wait(cr, now() + 2000) == 0);
    assert(res == -EBADF);
    errno_assert(hclose(cr) == 0);
    /* The kernel let go of the socket: the peer sees it closed. */
    assert_err(brecv(c, buf, 1, now() + 2000), EPIPE);
    errno_assert(hclose(c) == 0);

    /* A child forked after the parent used the ring has its own. */
    pid_t pid = fork();
    errno_assert(pid >= 0);
    if(pid == 0) {
        int e, f;
        pair(&e, &f);
        int k = go(sender(e, now() + 20, "child"));
        if(k < 0) _exit(2);
        char cb[16];
        ssize_t n = recvsome(f, cb, sizeof(cb), now() + 2000);
        _exit(n == 5 && memcmp(cb, "child", 5) == 0 ? 0 : 1);
    }
    errno_assert(bsend(a, "parent", 6, -1) == 0);
    r = recvsome(b, buf, sizeof(buf), now() + 2000);
    errno_assert(r == 6);
    int status;
    errno_assert(waitpid(pid, &status, 0) == pid);
    assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    errno_assert(hclose(a) == 0);
    errno_assert(hclose(b) == 0);
    return 0;
}
