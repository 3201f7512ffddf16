/* dill_busypoll: the setting (per thread, from DILL_BUSYPOLL, errors), that
   it really polls instead of sleeping, and that with it on every blocking
   call still honours data, deadlines, cancellation and other threads. */

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "assert.h"
#include "libdill.h"

/* Upper bounds only prove that a wait was bounded (loaded machines). */
#define SLACK 3000

static long vcsw(void) {
    struct rusage ru;
    errno_assert(getrusage(RUSAGE_THREAD, &ru) == 0);
    return ru.ru_nvcsw;
}

/* Voluntary context switches (sleeps in the kernel) of n short msleeps. */
static long sleeps(int n) {
    long before = vcsw();
    for(int i = 0; i != n; i++) errno_assert(msleep(now() + 5) == 0);
    return vcsw() - before;
}

static void *getter(void *arg) {
    *(int64_t*)arg = busypoll(-1);
    return NULL;
}

static int64_t in_thread(void) {
    int64_t v = -2;
    pthread_t t;
    errno_assert(pthread_create(&t, NULL, getter, &v) == 0);
    errno_assert(pthread_join(t, NULL) == 0);
    return v;
}

coroutine static void reader(int s, int *err) {
    char c;
    *err = brecv(s, &c, 1, -1) < 0 ? errno : 0;
}

/* Echoes 1-byte messages until the peer closes. */
coroutine static void echo(int s) {
    char c;
    while(brecv(s, &c, 1, -1) == 0)
        if(bsend(s, &c, 1, -1) < 0) break;
    hclose(s);
}

struct srv {
    struct ipaddr addr;
    struct dill_tchan *tc;         /* the port is known */
};

/* A server thread that busy-polls (set by the environment) and echoes
   one connection. */
static void *server(void *arg) {
    struct srv *sv = arg;
    assert(busypoll(-1) == 200);
    errno_assert(ipaddr_local(&sv->addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&sv->addr, 10);
    errno_assert(ls >= 0);
    errno_assert(tcp_localaddr(ls, &sv->addr) == 0);
    int ch = tchopen(sv->tc, 0);
    errno_assert(ch >= 0);
    char one = 1;
    errno_assert(chsend(ch, &one, 1, now() + SLACK) == 0);
    errno_assert(hclose(ch) == 0);
    int s = tcp_accept(ls, NULL, now() + SLACK);
    errno_assert(s >= 0);
    int h = go(echo(s));
    errno_assert(h >= 0);
    /* Until the client closes (generous: two polling threads on a loaded
       machine). */
    errno_assert(bundle_wait(h, now() + 60000) == 0);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(ls) == 0);
    return NULL;
}

int main(void) {
    /* The setting: off by default, per thread, from DILL_BUSYPOLL. */
    unsetenv("DILL_BUSYPOLL");
    assert(busypoll(-1) == 0);
    assert_err(busypoll(-2), EINVAL);
    assert_err(busypoll(DILL_BUSYPOLL_MAX + 1), EINVAL);
    assert(busypoll(DILL_BUSYPOLL_MAX) == 0);
    assert(busypoll(-1) == DILL_BUSYPOLL_MAX);
    assert(in_thread() == 0);
    errno_assert(setenv("DILL_BUSYPOLL", "300", 1) == 0);
    assert(in_thread() == 300);
    errno_assert(setenv("DILL_BUSYPOLL", "12x", 1) == 0);
    assert(in_thread() == 0);
    errno_assert(setenv("DILL_BUSYPOLL", "2000000", 1) == 0);
    assert(in_thread() == 0);
    assert(busypoll(0) == DILL_BUSYPOLL_MAX);

    /* Off, the thread sleeps in the kernel for every wait; on, with a
       budget longer than the waits, it polls through them. */
    long off = sleeps(10);
    assert(busypoll(DILL_BUSYPOLL_MAX) == 0);
    long on = sleeps(10);
    /* Not exactly 10: under valgrind a wait may find its deadline past. */
    assert(off >= 7);
    assert(on <= 2);

    /* A deadline with nothing else to do, with a budget shorter and
       longer than the wait. */
    int p[2];
    errno_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
    int64_t budgets[] = {200, DILL_BUSYPOLL_MAX};
    for(int i = 0; i != 2; i++) {
        assert(busypoll(budgets[i]) >= 0);
        int64_t start = now();
        assert_err(fdin(p[0], now() + 30), ETIMEDOUT);
        int64_t el = now() - start;
        assert(el >= 29 && el < SLACK);
    }
    /* Data arriving while the thread polls. */
    int s[2];
    errno_assert(ipc_pair(s) == 0);
    int err = -1;
    int h = go(reader(s[1], &err));
    errno_assert(h >= 0);
    errno_assert(msleep(now() + 20) == 0);
    assert(err == -1);
    errno_assert(bsend(s[0], "x", 1, now() + SLACK) == 0);
    errno_assert(bundle_wait(h, now() + SLACK) == 0);
    assert(err == 0);
    errno_assert(hclose(h) == 0);
    /* Cancellation of a coroutine blocked while the thread polls. */
    err = -1;
    h = go(reader(s[1], &err));
    errno_assert(h >= 0);
    errno_assert(msleep(now() + 20) == 0);
    assert(err == -1);
    errno_assert(hclose(h) == 0);
    assert(err == ECANCELED);
    errno_assert(hclose(s[0]) == 0);
    errno_assert(hclose(s[1]) == 0);
    fdclean(p[0]);
    close(p[0]);
    close(p[1]);

    /* Over TCP, with a busy-polling server thread woken by a tchan and by
       its socket: 100 round trips of one byte, both sides polling. */
    errno_assert(setenv("DILL_BUSYPOLL", "200", 1) == 0);
    assert(busypoll(200) == DILL_BUSYPOLL_MAX);
    struct srv sv;
    sv.tc = tchmake();
    errno_assert(sv.tc != NULL);
    int ch = tchopen(sv.tc, 1);
    errno_assert(ch >= 0);
    pthread_t t;
    errno_assert(pthread_create(&t, NULL, server, &sv) == 0);
    char one;
    errno_assert(chrecv(ch, &one, 1, now() + SLACK) == 0);
    int c = tcp_connect(&sv.addr, now() + SLACK);
    errno_assert(c >= 0);
    for(int i = 0; i != 100; i++) {
        char b = (char)i, r;
        errno_assert(bsend(c, &b, 1, now() + SLACK) == 0);
        errno_assert(brecv(c, &r, 1, now() + SLACK) == 0);
        assert(r == b);
    }
    errno_assert(hclose(c) == 0);
    errno_assert(pthread_join(t, NULL) == 0);
    errno_assert(hclose(ch) == 0);
    errno_assert(tchrelease(sv.tc) == 0);
    assert(busypoll(0) == 200);
    return 0;
}
