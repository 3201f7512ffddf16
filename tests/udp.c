/* UDP: datagram boundaries, truncation, default remote, message-socket
   interface, deadlines, cancellation, _mem variant, IPv6. */

#include <sys/socket.h>
#include <unistd.h>

#include "assert.h"
#include "libdillimpl.h"

#define SLACK 3000  /* upper bounds only prove that a wait was bounded; loaded CI machines are slow */

static struct ipaddr lo4(int port) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", port, IPADDR_IPV4) == 0);
    return a;
}

static void test_basic(void) {
    struct ipaddr a1 = lo4(0), a2 = lo4(0);
    int s1 = udp_open(&a1, NULL);
    errno_assert(s1 >= 0);
    assert(ipaddr_port(&a1) != 0);
    int s2 = udp_open(&a2, &a1);
    errno_assert(s2 >= 0);
    assert(ipaddr_port(&a2) != 0 && ipaddr_port(&a2) != ipaddr_port(&a1));
    /* Datagram boundaries are kept. */
    errno_assert(udp_send(s2, NULL, "ABC", 3) == 0);
    errno_assert(udp_send(s2, &a1, "DEFGH", 5) == 0);
    errno_assert(udp_send(s2, NULL, "", 0) == 0);
    char buf[16];
    struct ipaddr from;
    assert(udp_recv(s1, &from, buf, sizeof(buf), now() + 1000) == 3);
    assert(memcmp(buf, "ABC", 3) == 0);
    assert(ipaddr_equal(&from, &a2, 0));
    assert(udp_recv(s1, NULL, buf, sizeof(buf), now() + 1000) == 5);
    assert(memcmp(buf, "DEFGH", 5) == 0);
    assert(udp_recv(s1, NULL, buf, sizeof(buf), now() + 1000) == 0);
    /* Truncation: the datagram is reported too big and is gone. */
    errno_assert(udp_send(s1, &a2, "0123456789", 10) == 0);
    errno_assert(udp_send(s1, &a2, "xy", 2) == 0);
    assert_err(udp_recv(s2, NULL, buf, 4, now() + 1000), EMSGSIZE);
    assert(udp_recv(s2, NULL, buf, 4, now() + 1000) == 2);
    assert(memcmp(buf, "xy", 2) == 0);
    /* An exact fit is no truncation. */
    errno_assert(udp_send(s1, &a2, "1234", 4) == 0);
    assert(udp_recv(s2, NULL, buf, 4, now() + 1000) == 4);
    /* Lists. */
    struct iolist i3 = {"3333", 4, NULL, 0};
    struct iolist i2 = {"22", 2, &i3, 0};
    struct iolist i1 = {"1", 1, &i2, 0};
    errno_assert(udp_sendl(s2, NULL, &i1, &i3) == 0);
    char r1[3], r2[4];
    struct iolist o2 = {r2, 4, NULL, 0};
    struct iolist o1 = {r1, 3, &o2, 0};
    assert(udp_recvl(s1, &from, &o1, &o2, now() + 1000) == 7);
    assert(memcmp(r1, "122", 3) == 0 && memcmp(r2, "3333", 4) == 0);
    errno_assert(udp_sendl(s2, NULL, &i1, &i3) == 0);
    o1.iol_base = NULL;  /* skip the first three bytes */
    assert(udp_recvl(s1, NULL, &o1, &o2, now() + 1000) == 7);
    assert(memcmp(r2, "3333", 4) == 0);
    errno_assert(udp_sendl(s2, NULL, &i1, &i3) == 0);
    o1.iol_len = 1;
    assert_err(udp_recvl(s1, NULL, &o1, &o2, now() + 1000), EMSGSIZE);
    /* Argument errors. */
    assert_err(udp_sendl(s2, NULL, &i1, &i2), EINVAL);
    assert_err(udp_recvl(s1, NULL, &o1, NULL, 0), EINVAL);
    assert_err(udp_send(s1, NULL, "A", 1), EINVAL);  /* no remote */
    assert_err(udp_send(s1, &a2, NULL, 1), EINVAL);
    struct ipaddr v6;
    errno_assert(ipaddr_local(&v6, "::1", 5555, IPADDR_IPV6) == 0);
    assert_err(udp_send(s1, &v6, "A", 1), EINVAL);
    assert_err(udp_open(NULL, NULL), EINVAL);
    assert_err(udp_open(&a1, &v6), EINVAL);
    struct ipaddr busy = a1;
    assert_err(udp_open(&busy, NULL), EADDRINUSE);
    char big[70000];
    memset(big, 0, sizeof(big));
    assert_err(udp_send(s1, &a2, big, sizeof(big)), EMSGSIZE);
    assert_err(udp_recv(s1, NULL, buf, 1, 0), ETIMEDOUT);
    assert_err(udp_recv(s1, NULL, buf, 1, now() - 1000), ETIMEDOUT);
    int64_t t = now();
    assert_err(udp_recv(s1, NULL, buf, 1, t + 50), ETIMEDOUT);
    assert(now() - t >= 45 && now() - t < 50 + SLACK);
    assert_err(bsend(s1, "A", 1, 0), ENOTSUP);
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    assert_err(udp_send(p[0], &a1, "A", 1), ENOTSUP);
    assert_err(udp_recv(p[0], NULL, buf, 1, 0), ENOTSUP);
    errno_assert(hclose(p[0]) == 0);
    errno_assert(hclose(p[1]) == 0);
    errno_assert(hclose(s1) == 0);
    errno_assert(hclose(s2) == 0);
    assert_err(udp_send(s1, &a2, "A", 1), EBADF);
}

/* msend/mrecv go to and come from the remote given at open. */
static void test_msock(void) {
    struct ipaddr a1 = lo4(0), a2 = lo4(0), a3 = lo4(0);
    int s1 = udp_open(&a1, NULL);
    errno_assert(s1 >= 0);
    int s2 = udp_open(&a2, &a1);
    errno_assert(s2 >= 0);
    int s3 = udp_open(&a3, &a2);
    errno_assert(s3 >= 0);
    errno_assert(msend(s2, "hello", 5, -1) == 0);
    char buf[16];
    /* s1 has no remote: it takes messages from anyone, but cannot msend. */
    assert(mrecv(s1, buf, sizeof(buf), now() + 1000) == 5);
    assert(memcmp(buf, "hello", 5) == 0);
    assert_err(msend(s1, "A", 1, -1), EINVAL);
    /* s2's remote is s1: a datagram from s3 is dropped, s1's arrives. */
    errno_assert(udp_send(s3, &a2, "stranger", 8) == 0);
    errno_assert(udp_send(s1, &a2, "friend", 6) == 0);
    assert(mrecv(s2, buf, sizeof(buf), now() + 1000) == 6);
    assert(memcmp(buf, "friend", 6) == 0);
    /* udp_recv filters the same way (libdill does). */
    errno_assert(udp_send(s3, &a2, "stranger", 8) == 0);
    errno_assert(udp_send(s1, &a2, "pal", 3) == 0);
    struct ipaddr from;
    assert(udp_recv(s2, &from, buf, sizeof(buf), now() + 1000) == 3);
    assert(memcmp(buf, "pal", 3) == 0 && ipaddr_equal(&from, &a1, 0));
    errno_assert(udp_send(s3, &a2, "stranger", 8) == 0);
    assert_err(udp_recv(s2, NULL, buf, sizeof(buf), now() + 50), ETIMEDOUT);
    /* Too big for the buffer. */
    errno_assert(udp_send(s1, &a2, "0123456789", 10) == 0);
    assert_err(mrecv(s2, buf, 3, now() + 1000), EMSGSIZE);
    /* Received and dropped, size still reported. */
    errno_assert(udp_send(s1, &a2, "0123456789", 10) == 0);
    assert(mrecvl(s2, NULL, NULL, now() + 1000) == 10);
    errno_assert(udp_send(s1, &a2, "0123", 4) == 0);
    assert(mrecv(s2, NULL, 4, now() + 1000) == 4);
    struct iolist i2 = {"b", 1, NULL, 0}, i1 = {"a", 1, &i2, 0};
    errno_assert(msendl(s2, &i1, &i2, -1) == 0);
    assert(mrecv(s1, buf, sizeof(buf), now() + 1000) == 2);
    assert(memcmp(buf, "ab", 2) == 0);
    assert_err(msendl(s2, &i1, &i1, -1), EINVAL);
    assert_err(mrecvl(s2, &i1, NULL, -1), EINVAL);
    assert_err(mrecv(s2, buf, sizeof(buf), 0), ETIMEDOUT);
    int64_t t = now();
    assert_err(mrecv(s2, buf, sizeof(buf), t + 50), ETIMEDOUT);
    assert(now() - t < 50 + SLACK);
    errno_assert(hclose(s1) == 0);
    errno_assert(hclose(s2) == 0);
    errno_assert(hclose(s3) == 0);
}

static int cancel_errno;
coroutine void blocked_recv(int s) {
    char buf[10];
    ssize_t rc = udp_recv(s, NULL, buf, sizeof(buf), -1);
    cancel_errno = rc < 0 ? errno : 0;
}

static volatile int flood_stop;
coroutine void flood(int s, struct ipaddr to) {
    while(!flood_stop) {
        udp_send(s, &to, "noise", 5);
        if(yield() < 0) return;
    }
}

static void test_cancel_strict(void) {
    struct ipaddr a1 = lo4(0);
    int s1 = udp_open(&a1, NULL);
    errno_assert(s1 >= 0);
    int h = go(blocked_recv(s1));
    errno_assert(h >= 0);
    msleep(now() + 20);
    cancel_errno = -1;
    int64_t t = now();
    errno_assert(hclose(h) == 0);
    assert(now() - t < 100);
    assert(cancel_errno == ECANCELED);
    /* A stranger flooding a socket whose remote never talks: mrecv keeps
       dropping datagrams but still ends at its deadline. */
    struct ipaddr a2 = lo4(0), a3 = lo4(0), nobody = lo4(9);
    int s2 = udp_open(&a2, &nobody);
    errno_assert(s2 >= 0);
    int s3 = udp_open(&a3, NULL);
    errno_assert(s3 >= 0);
    flood_stop = 0;
    h = go(flood(s3, a2));
    errno_assert(h >= 0);
    char buf[16];
    t = now();
    assert_err(mrecv(s2, buf, sizeof(buf), t + 100), ETIMEDOUT);
    assert(now() - t < 100 + SLACK);
    flood_stop = 1;
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(s1) == 0);
    errno_assert(hclose(s2) == 0);
    errno_assert(hclose(s3) == 0);
}

static void test_mem_ipv6(void) {
    struct udp_storage m1, m2;
    struct ipaddr a1 = lo4(0), a2 = lo4(0);
    int s1 = udp_open_mem(&a1, NULL, &m1);
    errno_assert(s1 >= 0);
    int s2 = udp_open_mem(&a2, &a1, &m2);
    errno_assert(s2 >= 0);
    errno_assert(msend(s2, "mem", 3, -1) == 0);
    char buf[8];
    assert(udp_recv(s1, NULL, buf, sizeof(buf), now() + 1000) == 3);
    errno_assert(hclose(s1) == 0);
    errno_assert(hclose(s2) == 0);
    /* Remote only: the kernel binds on first send. */
    int s3 = udp_open(NULL, &a1);
    errno_assert(s3 >= 0);
    errno_assert(hclose(s3) == 0);
    struct ipaddr b1, b2;
    errno_assert(ipaddr_local(&b1, "::1", 0, IPADDR_IPV6) == 0);
    s1 = udp_open(&b1, NULL);
    if(s1 < 0) {
        fprintf(stderr, "udp: ::1 not available (%s), IPv6 skipped\n",
            strerror(errno));
        return;
    }
    errno_assert(ipaddr_local(&b2, "::1", 0, IPADDR_IPV6) == 0);
    s2 = udp_open(&b2, &b1);
    errno_assert(s2 >= 0);
    errno_assert(msend(s2, "six", 3, -1) == 0);
    struct ipaddr from;
    assert(udp_recv(s1, &from, buf, sizeof(buf), now() + 1000) == 3);
    assert(ipaddr_family(&from) == AF_INET6);
    assert(ipaddr_equal(&from, &b2, 0));
    errno_assert(hclose(s1) == 0);
    errno_assert(hclose(s2) == 0);
}

int main(void) {
    test_basic();
    test_msock();
    test_cancel_strict();
    test_mem_ipv6();
    return 0;
}
