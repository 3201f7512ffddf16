/* IPC (UNIX domain stream sockets): listen/accept/connect, pairs,
   descriptor passing, half-close, graceful close, errors, _mem variants. */

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "assert.h"
#include "libdillimpl.h"
#include "net/bsockx.h"

#define SLACK 3000  /* upper bounds only prove that a wait was bounded; loaded CI machines are slow */

static char path[64];

static void mkpath(void) {
    snprintf(path, sizeof(path), "/tmp/dill-ipc-test-%d.sock", (int)getpid());
    unlink(path);
}

/* Number of open descriptors of this process. */
static int nfds(void) {
    int n = 0;
    for(int fd = 0; fd != 1024; fd++)
        if(fcntl(fd, F_GETFD) >= 0) n++;
    return n;
}

coroutine void echo_once(int ls) {
    int s = ipc_accept(ls, now() + 1000);
    errno_assert(s >= 0);
    char buf[5];
    errno_assert(brecv(s, buf, 5, now() + 1000) == 0);
    errno_assert(bsend(s, buf, 5, now() + 1000) == 0);
    errno_assert(ipc_close(s, now() + 1000) == 0);
}

static void test_listen_connect(void) {
    mkpath();
    int ls = ipc_listen(path, 10);
    errno_assert(ls >= 0);
    assert_err(ipc_listen(path, 10), EADDRINUSE);
    int h = go(echo_once(ls));
    errno_assert(h >= 0);
    int c = ipc_connect(path, now() + 1000);
    errno_assert(c >= 0);
    errno_assert(bsend(c, "hello", 5, -1) == 0);
    char buf[5];
    errno_assert(brecv(c, buf, 5, now() + 1000) == 0);
    assert(memcmp(buf, "hello", 5) == 0);
    errno_assert(ipc_close(c, now() + 1000) == 0);
    errno_assert(bundle_wait(h, now() + 1000) == 0);
    errno_assert(hclose(h) == 0);
    /* Deadlines on accept. */
    assert_err(ipc_accept(ls, 0), ETIMEDOUT);
    assert_err(ipc_accept(ls, now() - 1000), ETIMEDOUT);
    int64_t t = now();
    assert_err(ipc_accept(ls, t + 50), ETIMEDOUT);
    assert(now() - t >= 45 && now() - t < 50 + SLACK);
    /* Wrong kinds of handles. */
    assert_err(ipc_accept(c, 0), EBADF);
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    assert_err(ipc_accept(p[0], 0), ENOTSUP);
    assert_err(ipc_sendfd(ls, 0, 0), ENOTSUP);
    assert_err(ipc_done(ls, 0), ENOTSUP);
    assert_err(mrecv(p[0], buf, 5, 0), ENOTSUP);
    errno_assert(hclose(p[0]) == 0);
    errno_assert(hclose(p[1]) == 0);
    errno_assert(ipc_close(ls, -1) == 0);
    unlink(path);
    /* Nobody listens. */
    assert_err(ipc_connect(path, now() + 1000), ENOENT);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un su = {AF_UNIX};
    strcpy(su.sun_path, path);
    errno_assert(bind(fd, (struct sockaddr*)&su, sizeof(su)) == 0);
    assert_err(ipc_connect(path, now() + 1000), ECONNREFUSED);
    close(fd);
    unlink(path);
    /* Bad addresses. */
    char longpath[200];
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = 0;
    assert_err(ipc_listen(longpath, 10), ENAMETOOLONG);
    assert_err(ipc_connect(longpath, 0), ENAMETOOLONG);
    assert_err(ipc_listen(NULL, 10), EINVAL);
    assert_err(ipc_connect("", 0), EINVAL);
    assert_err(ipc_listen("/nonexistent-dir/x.sock", 10), ENOENT);
}

static void test_pair(void) {
    int s[2];
    errno_assert(ipc_pair(s) == 0);
    static uint8_t data[200000], got[200000];
    for(size_t i = 0; i != sizeof(data); i++) data[i] = (uint8_t)(i * 7);
    /* More than the socket buffer holds: a writer coroutine is needed. */
    int b = bundle();
    errno_assert(b >= 0);
    struct dill__bsockx_vfs *x = hquery(s[1], dill__bsockx_type);
    assert(x);
    errno_assert(bsend(s[0], data, 1000, -1) == 0);
    ssize_t r = x->ops->brecvsome(x, got, sizeof(got), now() + 1000);
    assert(r >= 1 && r <= 1000);
    errno_assert(brecv(s[1], got + r, 1000 - r, now() + 1000) == 0);
    assert(memcmp(got, data, 1000) == 0);
    errno_assert(ipc_done(s[0], -1) == 0);
    assert_err(bsend(s[0], "A", 1, -1), EPIPE);
    assert_err(ipc_done(s[0], -1), EPIPE);
    assert_err(brecv(s[1], got, 1, now() + 1000), EPIPE);
    assert_err(x->ops->brecvsome(x, got, 1, now() + 1000), EPIPE);
    errno_assert(bsend(s[1], "back", 4, -1) == 0);
    errno_assert(brecv(s[0], got, 4, -1) == 0);
    errno_assert(ipc_close(s[1], now() + 1000) == 0);
    errno_assert(ipc_close(s[0], now() + 1000) == 0);
    errno_assert(hclose(b) == 0);
    assert_err(ipc_pair(NULL), EINVAL);
}

/* Descriptor passing with a real pipe. */
static void test_sendfd(void) {
    int base = nfds();
    int s[2];
    errno_assert(ipc_pair(s) == 0);
    int p[2];
    errno_assert(pipe(p) == 0);
    errno_assert(bsend(s[0], "before", 6, -1) == 0);
    errno_assert(ipc_sendfd(s[0], p[1], now() + 1000) == 0);
    errno_assert(bsend(s[0], "after", 5, -1) == 0);
    char buf[6];
    /* A one-byte read first: the buffered read-ahead must not lose the
       descriptor. */
    errno_assert(brecv(s[1], buf, 1, now() + 1000) == 0);
    errno_assert(brecv(s[1], buf + 1, 5, now() + 1000) == 0);
    assert(memcmp(buf, "before", 6) == 0);
    int fd = ipc_recvfd(s[1], now() + 1000);
    errno_assert(fd >= 0);
    assert(fd != p[1]);
    assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    errno_assert(brecv(s[1], buf, 5, now() + 1000) == 0);
    assert(memcmp(buf, "after", 5) == 0);
    /* The received descriptor is the pipe's write end. */
    errno_assert(write(fd, "pipe", 4) == 4);
    errno_assert(read(p[0], buf, 4) == 4);
    assert(memcmp(buf, "pipe", 4) == 0);
    close(fd);
    /* Unbuffered path: recvfd with nothing buffered, waiting for it. */
    assert_err(ipc_recvfd(s[1], 0), ETIMEDOUT);
    assert_err(ipc_recvfd(s[1], now() + 20), ETIMEDOUT);
    errno_assert(ipc_sendfd(s[0], p[1], -1) == 0);
    fd = ipc_recvfd(s[1], now() + 1000);
    errno_assert(fd >= 0);
    close(fd);
    /* A descriptor read as plain data is closed, not leaked. */
    errno_assert(ipc_sendfd(s[0], p[1], -1) == 0);
    errno_assert(brecv(s[1], buf, 1, now() + 1000) == 0);
    errno_assert(bsend(s[0], "xy", 2, -1) == 0);
    errno_assert(ipc_sendfd(s[0], p[1], -1) == 0);
    errno_assert(brecv(s[1], buf, 3, now() + 1000) == 0);
    assert(nfds() == base + 4);
    /* recvfd where data is expected: protocol error. */
    errno_assert(bsend(s[0], "data", 4, -1) == 0);
    assert_err(ipc_recvfd(s[1], now() + 1000), EPROTO);
    assert_err(brecv(s[1], buf, 1, 0), ECONNRESET);
    /* Bad descriptors. */
    assert_err(ipc_sendfd(s[0], -1, 0), EBADF);
    assert_err(ipc_sendfd(s[0], 1000, 0), EBADF);
    /* A descriptor still in flight when the socket closes does not leak. */
    errno_assert(ipc_sendfd(s[0], p[1], -1) == 0);
    errno_assert(hclose(s[1]) == 0);
    errno_assert(hclose(s[0]) == 0);
    /* Buffered with a pending descriptor, then closed. */
    errno_assert(ipc_pair(s) == 0);
    errno_assert(bsend(s[0], "z", 1, -1) == 0);
    errno_assert(ipc_sendfd(s[0], p[1], -1) == 0);
    msleep(now() + 10);
    errno_assert(brecv(s[1], buf, 1, now() + 1000) == 0);
    errno_assert(hclose(s[1]) == 0);
    errno_assert(hclose(s[0]) == 0);
    close(p[0]);
    close(p[1]);
    assert(nfds() == base);
}

static void test_mem_fromfd(void) {
    mkpath();
    struct ipc_listener_storage lmem;
    struct ipc_storage cmem, amem;
    int ls = ipc_listen_mem(path, 10, &lmem);
    errno_assert(ls >= 0);
    int c = ipc_connect_mem(path, &cmem, now() + 1000);
    errno_assert(c >= 0);
    int s = ipc_accept_mem(ls, &amem, now() + 1000);
    errno_assert(s >= 0);
    errno_assert(bsend(c, "mem", 3, -1) == 0);
    char buf[3];
    errno_assert(brecv(s, buf, 3, -1) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(ls) == 0);
    unlink(path);
    struct ipc_pair_storage pmem;
    int p[2];
    errno_assert(ipc_pair_mem(&pmem, p) == 0);
    errno_assert(bsend(p[1], "pm", 2, -1) == 0);
    errno_assert(brecv(p[0], buf, 2, -1) == 0);
    errno_assert(hclose(p[0]) == 0);
    errno_assert(hclose(p[1]) == 0);
    /* fromfd */
    int fds[2];
    errno_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    int a = ipc_fromfd(fds[0]);
    errno_assert(a >= 0);
    struct ipc_storage bmem;
    int b = ipc_fromfd_mem(fds[1], &bmem);
    errno_assert(b >= 0);
    errno_assert(bsend(a, "fd", 2, -1) == 0);
    errno_assert(brecv(b, buf, 2, now() + 1000) == 0);
    errno_assert(hclose(a) == 0);
    errno_assert(hclose(b) == 0);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un su = {AF_UNIX};
    strcpy(su.sun_path, path);
    errno_assert(bind(lfd, (struct sockaddr*)&su, sizeof(su)) == 0);
    assert_err(ipc_listener_fromfd(lfd), EINVAL);
    errno_assert(listen(lfd, 10) == 0);
    assert_err(ipc_fromfd(lfd), EINVAL);
    ls = ipc_listener_fromfd_mem(lfd, &lmem);
    errno_assert(ls >= 0);
    c = ipc_connect(path, now() + 1000);
    errno_assert(c >= 0);
    s = ipc_accept(ls, now() + 1000);
    errno_assert(s >= 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(ls) == 0);
    unlink(path);
    int tfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_err(ipc_fromfd(tfd), EINVAL);
    assert_err(ipc_listener_fromfd(tfd), EINVAL);
    close(tfd);
}

static int cancel_errno;
coroutine void blocked_recvfd(int s) {
    int rc = ipc_recvfd(s, -1);
    cancel_errno = rc < 0 ? errno : 0;
}

static void test_cancel_close(void) {
    int s[2];
    errno_assert(ipc_pair(s) == 0);
    int h = go(blocked_recvfd(s[1]));
    errno_assert(h >= 0);
    msleep(now() + 20);
    cancel_errno = -1;
    int64_t t = now();
    errno_assert(hclose(h) == 0);
    assert(now() - t < 100);
    assert(cancel_errno == ECANCELED);
    /* A peer that never closes: ipc_close gives up at the deadline. */
    t = now();
    assert_err(ipc_close(s[0], t + 50), ETIMEDOUT);
    assert(now() - t < 50 + SLACK);
    errno_assert(hclose(s[1]) == 0);
}

/* Closing a connection from another coroutine while one sleeps in it (the
   stream's pin, issue 14 item 3): the sleeper fails with EBADF, a
   descriptor that came with buffered bytes is closed, nothing leaks. */
static int sleeper_rc, sleeper_err;
coroutine void sleep_recvfd(int s) {
    sleeper_rc = ipc_recvfd(s, now() + 5000);
    sleeper_err = errno;
}
coroutine void sleep_brecv(int s) {
    char buf[4];
    sleeper_rc = brecv(s, buf, sizeof(buf), now() + 5000);
    sleeper_err = errno;
}

static void close_under(int which, int mem) {
    int base = nfds();
    struct ipc_pair_storage pmem;
    int s[2];
    errno_assert((mem ? ipc_pair_mem(&pmem, s) : ipc_pair(s)) == 0);
    int p[2];
    errno_assert(pipe(p) == 0);
    if(which) {
        /* The marker byte of a descriptor sits in the read-ahead with its
           descriptor when the sleeper starts; it takes it as data and
           waits for more. */
        errno_assert(bsend(s[0], "zz", 2, -1) == 0);
        errno_assert(ipc_sendfd(s[0], p[1], -1) == 0);
        msleep(now() + 10);
        char c;
        errno_assert(brecv(s[1], &c, 1, now() + 1000) == 0);
    }
    sleeper_rc = 1;
    int cr = which ? go(sleep_brecv(s[1])) : go(sleep_recvfd(s[1]));
    errno_assert(cr >= 0);
    msleep(now() + 20);
    assert(sleeper_rc == 1);
    int64_t t = now();
    errno_assert(hclose(s[1]) == 0);
    msleep(now() + 10);
    assert(sleeper_rc == -1 && sleeper_err == EBADF);
    assert(now() - t < 1000);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(s[0]) == 0);
    close(p[0]);
    close(p[1]);
    assert(nfds() == base);
}

/* A sender of a descriptor blocked on a full socket buffer, closed from
   another coroutine (plain and hibernated): EBADF, and the descriptor it
   was sending stays the caller's, open. */
coroutine void sleep_sendfd(int s, int fd) {
    sleeper_rc = ipc_sendfd(s, fd, now() + 5000);
    sleeper_err = errno;
}

static void close_under_sendfd(int hib) {
    int base = nfds();
    int sv[2];
    errno_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int small = 1;
    errno_assert(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
        sizeof(small)) == 0);
    errno_assert(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
    char junk[512] = {0};
    size_t filled = 0;
    while(1) {
        ssize_t n = send(sv[0], junk, sizeof(junk), MSG_DONTWAIT);
        if(n < 0) {errno_assert(errno == EAGAIN); break;}
        filled += (size_t)n;
    }
    assert(filled > 0);
    int s = ipc_fromfd(sv[0]);
    errno_assert(s >= 0);
    int p[2];
    errno_assert(pipe(p) == 0);
    if(hib) errno_assert(hibernate(0) == 0);
    sleeper_rc = 1;
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, sleep_sendfd(s, p[1])) == 0);
    int64_t end = now() + 5000;
    do msleep(now() + 20);
    while(hib && hibernated() < 1 && now() < end);
    assert(sleeper_rc == 1);
    if(hib) assert(hibernated() == 1);
    int64_t t = now();
    errno_assert(hclose(s) == 0);
    errno_assert(bundle_wait(b, now() + 1000) == 0);
    assert(sleeper_rc == -1 && sleeper_err == EBADF);
    assert(now() - t < 1000);
    assert(hibernated() == 0);
    if(hib) errno_assert(hibernate(-1) == 0);
    errno_assert(hclose(b) == 0);
    errno_assert(fcntl(p[1], F_GETFD) >= 0);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
    assert(nfds() == base);
}

static void test_close_under_sleeper(void) {
    for(int which = 0; which != 2; which++)
        for(int mem = 0; mem != 2; mem++) close_under(which, mem);
    close_under_sendfd(0);
    close_under_sendfd(1);
    /* A descriptor pending in the read-ahead when the connection closes
       gracefully is closed too. */
    int base = nfds();
    int s[2];
    errno_assert(ipc_pair(s) == 0);
    int p[2];
    errno_assert(pipe(p) == 0);
    errno_assert(bsend(s[0], "z", 1, -1) == 0);
    errno_assert(ipc_sendfd(s[0], p[1], -1) == 0);
    msleep(now() + 10);
    char c;
    errno_assert(brecv(s[1], &c, 1, now() + 1000) == 0);
    errno_assert(ipc_done(s[0], -1) == 0);
    errno_assert(ipc_close(s[1], now() + 1000) == 0);
    errno_assert(hclose(s[0]) == 0);
    close(p[0]);
    close(p[1]);
    assert(nfds() == base);
}

int main(void) {
    test_listen_connect();
    test_pair();
    test_sendfd();
    test_mem_fromfd();
    test_cancel_close();
    test_close_under_sleeper();
    unlink(path);
    return 0;
}
