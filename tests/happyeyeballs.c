/* happyeyeballs_connect: literals of both families, "localhost" with a
   listener on one family only, the 300 ms head start of IPv6 when its
   attempt hangs, refusal everywhere, unknown names, deadlines,
   cancellation, bad arguments.  Only loopback addresses are used. */

#include <sys/socket.h>

#include "assert.h"
#include "libdillimpl.h"

#define SLACK 3000  /* upper bounds only prove that a wait was bounded */

static int listen_on(const char *ip, int port, int backlog, int *gotport) {
    struct ipaddr a;
    if(ipaddr_local(&a, ip, port, 0) < 0) return -1;
    int ls = tcp_listen(&a, backlog);
    if(ls >= 0 && gotport) *gotport = ipaddr_port(&a);
    return ls;
}

static int family_of(int s) {
    struct ipaddr a;
    errno_assert(tcp_localaddr(s, &a) == 0);
    return ipaddr_family(&a);
}

/* A free port: listen on it and close. */
static int free_port(void) {
    int port;
    int ls = listen_on("127.0.0.1", 0, 1, &port);
    errno_assert(ls >= 0);
    errno_assert(hclose(ls) == 0);
    return port;
}

/* Fills the backlog of listener ls (never accepted), so that later SYNs
   to it are dropped and connecting hangs.  Returns how many connections
   it made (closed by the caller through conns). */
static int fill_backlog(const char *ip, int port, int *conns, int max) {
    struct ipaddr a;
    errno_assert(ipaddr_remote(&a, ip, port, 0, -1) == 0);
    int n = 0;
    while(n < max) {
        int s = tcp_connect(&a, now() + 500);
        if(s < 0) {assert(errno == ETIMEDOUT); break;}
        conns[n++] = s;
    }
    return n;
}

static int have_ipv6(void) {
    int ls = listen_on("::1", 0, 1, NULL);
    if(ls < 0) return 0;
    hclose(ls);
    return 1;
}

static void test_literals(void) {
    int port;
    int ls = listen_on("127.0.0.1", 0, 8, &port);
    errno_assert(ls >= 0);
    int s = happyeyeballs_connect("127.0.0.1", port, now() + SLACK);
    errno_assert(s >= 0);
    int as = tcp_accept(ls, NULL, now() + SLACK);
    errno_assert(as >= 0);
    errno_assert(bsend(s, "hi", 2, now() + SLACK) == 0);
    char buf[2];
    errno_assert(brecv(as, buf, 2, now() + SLACK) == 0);
    assert(family_of(s) == AF_INET);
    errno_assert(hclose(as) == 0);
    errno_assert(hclose(s) == 0);
    /* "localhost" reaches a listener on 127.0.0.1 only: the IPv6 attempt
       to ::1 is refused and IPv4 follows at once, not 300 ms later. */
    int64_t start = now();
    s = happyeyeballs_connect("localhost", port, now() + SLACK);
    errno_assert(s >= 0);
    assert(family_of(s) == AF_INET);
    assert(now() - start < SLACK);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(ls) == 0);
    if(!have_ipv6()) return;
    ls = listen_on("::1", 0, 8, &port);
    errno_assert(ls >= 0);
    s = happyeyeballs_connect("::1", port, now() + SLACK);
    errno_assert(s >= 0);
    assert(family_of(s) == AF_INET6);
    errno_assert(hclose(s) == 0);
    s = happyeyeballs_connect("localhost", port, now() + SLACK);
    errno_assert(s >= 0);
    assert(family_of(s) == AF_INET6);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(ls) == 0);
}

/* IPv6 gets a head start of 300 ms, then IPv4 is tried in parallel and
   wins when the IPv6 attempt hangs. */
static void test_head_start(void) {
    if(!have_ipv6()) return;
    int port = 0, l6 = -1, l4 = -1;
    for(int i = 0; i != 20 && l4 < 0; i++) {
        l6 = listen_on("::1", 0, 1, &port);
        errno_assert(l6 >= 0);
        l4 = listen_on("127.0.0.1", port, 8, NULL);
        if(l4 < 0) errno_assert(hclose(l6) == 0);
    }
    assert(l4 >= 0);
    int conns[64];
    int n = fill_backlog("::1", port, conns, 64);
    int64_t start = now();
    int s = happyeyeballs_connect("localhost", port, now() + SLACK);
    errno_assert(s >= 0);
    int64_t took = now() - start;
    assert(family_of(s) == AF_INET);
    /* Not before the head start: the IPv6 attempt was made first. */
    assert(took >= 290 && took < SLACK);
    errno_assert(hclose(s) == 0);
    /* With IPv4 refused too, the hanging IPv6 attempt runs until the
       deadline. */
    errno_assert(hclose(l4) == 0);
    start = now();
    assert_err(happyeyeballs_connect("localhost", port, now() + 500),
        ETIMEDOUT);
    took = now() - start;
    assert(took >= 490 && took < SLACK);
    for(int i = 0; i != n; i++) errno_assert(hclose(conns[i]) == 0);
    errno_assert(hclose(l6) == 0);
}

coroutine static void connect_cancelled(int port, int *err) {
    *err = happyeyeballs_connect("127.0.0.1", port, -1) < 0 ? errno : 0;
}

static void test_failures(void) {
    int port = free_port();
    assert_err(happyeyeballs_connect("127.0.0.1", port, now() + SLACK),
        ECONNREFUSED);
    assert_err(happyeyeballs_connect("localhost", port, now() + SLACK),
        ECONNREFUSED);
    assert_err(happyeyeballs_connect("nosuchhost.invalid", 80, now() + SLACK),
        EADDRNOTAVAIL);
    assert_err(happyeyeballs_connect(NULL, 80, -1), EINVAL);
    assert_err(happyeyeballs_connect("127.0.0.1", -1, -1), EINVAL);
    assert_err(happyeyeballs_connect("127.0.0.1", 65536, -1), EINVAL);
    /* A hanging attempt: the deadline, then cancellation. */
    int lport;
    int ls = listen_on("127.0.0.1", 0, 1, &lport);
    errno_assert(ls >= 0);
    int conns[64];
    int n = fill_backlog("127.0.0.1", lport, conns, 64);
    assert_err(happyeyeballs_connect("127.0.0.1", lport, now() + 50),
        ETIMEDOUT);
    assert_err(happyeyeballs_connect("127.0.0.1", lport, 0), ETIMEDOUT);
    int err = -1;
    int h = go(connect_cancelled(lport, &err));
    errno_assert(msleep(now() + 20) == 0);
    errno_assert(hclose(h) == 0);
    assert(err == ECANCELED);
    for(int i = 0; i != n; i++) errno_assert(hclose(conns[i]) == 0);
    errno_assert(hclose(ls) == 0);
}

int main(void) {
    test_literals();
    test_head_start();
    test_failures();
    return 0;
}
