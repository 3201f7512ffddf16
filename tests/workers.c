/* One server on several threads: workers_start runs the same accept loop
   in N threads, each on its own SO_REUSEPORT listener (tcp and ws_listen);
   the kernel spreads connections over them; hclose stops every thread
   with connections still open. */

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "assert.h"
#include "libdill.h"

enum {NT = 2, NCONN = 64};

struct server {
    int ws;                        /* ws_listen instead of tcp_listen */
    int port;                      /* set by worker 0, atomic */
    int served[NT];                /* connections per thread, atomic */
    int exited[NT];                /* fn returned, atomic */
    int open;                      /* handlers running, atomic */
};

coroutine static void tcp_handler(int s, int index, struct server *srv) {
    __atomic_add_fetch(&srv->open, 1, __ATOMIC_RELAXED);
    char c[4];
    while(brecv(s, c, sizeof(c), -1) == 0) {
        c[0] = (char)index;
        if(bsend(s, c, sizeof(c), -1) < 0) break;
    }
    __atomic_sub_fetch(&srv->open, 1, __ATOMIC_RELAXED);
    hclose(s);
}

coroutine static void ws_handler(int s, int index, struct server *srv) {
    __atomic_add_fetch(&srv->open, 1, __ATOMIC_RELAXED);
    char c[4];
    int type;
    while(ws_recv(s, &type, c, sizeof(c), -1) == (ssize_t)sizeof(c)) {
        c[0] = (char)index;
        if(ws_send(s, WS_BINARY, c, sizeof(c), -1) < 0) break;
    }
    __atomic_sub_fetch(&srv->open, 1, __ATOMIC_RELAXED);
    hclose(s);
}

static int listen_shared(struct server *srv, struct ipaddr *addr) {
    int ls;
    if(srv->ws) {
        struct ws_listen_options o = WS_LISTEN_OPTIONS_INIT;
        o.reuseport = 1;
        ls = ws_listen(addr, &o);
    }
    else ls = tcp_listen_reuseport(addr, 16);
    return ls;
}

/* The accept loop every thread runs. */
static void serve(int index, void *arg) {
    struct server *srv = arg;
    struct ipaddr addr;
    int port = 0;
    if(index != 0) {
        while(!(port = __atomic_load_n(&srv->port, __ATOMIC_ACQUIRE)))
            if(msleep(now() + 1) < 0) goto out;
    }
    errno_assert(ipaddr_local(&addr, "127.0.0.1", port, 0) == 0);
    int ls = listen_shared(srv, &addr);
    errno_assert(ls >= 0);
    if(index == 0)
        __atomic_store_n(&srv->port, ipaddr_port(&addr), __ATOMIC_RELEASE);
    int b = bundle();
    errno_assert(b >= 0);
    while(1) {
        int s = srv->ws ? ws_accept(ls, NULL, 0, NULL, -1)
            : tcp_accept(ls, NULL, -1);
        if(s < 0) {assert(errno == ECANCELED); break;}
        __atomic_add_fetch(&srv->served[index], 1, __ATOMIC_RELAXED);
        errno_assert(bundle_go(b, srv->ws ? ws_handler(s, index, srv)
            : tcp_handler(s, index, srv)) == 0);
    }
    /* Structured: the handlers end with us. */
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(ls) == 0);
out:
    __atomic_store_n(&srv->exited[index], 1, __ATOMIC_RELEASE);
}

static int client(struct server *srv, int port) {
    struct ipaddr addr;
    errno_assert(ipaddr_remote(&addr, "127.0.0.1", port, 0, -1) == 0);
    if(!srv->ws) return tcp_connect(&addr, now() + 5000);
    char url[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", port);
    return ws_connect(url, NULL, NULL, now() + 5000);
}

static int roundtrip(struct server *srv, int s) {
    char c[4] = {9, 1, 2, 3};
    if(srv->ws) {
        errno_assert(ws_send(s, WS_BINARY, c, sizeof(c), now() + 5000) == 0);
        int type;
        errno_assert(ws_recv(s, &type, c, sizeof(c), now() + 5000) ==
            (ssize_t)sizeof(c));
    }
    else {
        errno_assert(bsend(s, c, sizeof(c), now() + 5000) == 0);
        errno_assert(brecv(s, c, sizeof(c), now() + 5000) == 0);
    }
    assert(c[1] == 1 && c[2] == 2 && c[3] == 3);
    return c[0];
}

static void spread(int ws) {
    struct server srv;
    memset(&srv, 0, sizeof(srv));
    srv.ws = ws;
    int w = workers_start(NT, serve, &srv);
    errno_assert(w >= 0);
    int port;
    while(!(port = __atomic_load_n(&srv.port, __ATOMIC_ACQUIRE)))
        msleep(now() + 1);
    /* Worker 1 listens too before clients come, or all go to worker 0. */
    msleep(now() + 50);
    int s[NCONN], per[NT] = {0};
    for(int i = 0; i != NCONN; i++) {
        s[i] = client(&srv, port);
        errno_assert(s[i] >= 0);
        int idx = roundtrip(&srv, s[i]);
        assert(idx >= 0 && idx < NT);
        per[idx]++;
    }
    /* The kernel hashes each connection to one listener: 64 connections
       all landing on one of two threads is a 2^-63 chance. */
    for(int i = 0; i != NT; i++) {
        assert(per[i] > 0);
        assert(per[i] == __atomic_load_n(&srv.served[i], __ATOMIC_RELAXED));
    }
    assert(__atomic_load_n(&srv.open, __ATOMIC_RELAXED) == NCONN);
    /* Stop with every connection open: the handlers are cancelled, the
       threads joined, and it does not wait for the clients. */
    int64_t start = now();
    errno_assert(hclose(w) == 0);
    assert(now() - start < 5000);
    for(int i = 0; i != NT; i++)
        assert(__atomic_load_n(&srv.exited[i], __ATOMIC_ACQUIRE));
    assert(__atomic_load_n(&srv.open, __ATOMIC_RELAXED) == 0);
    /* Clients see their connections end. */
    for(int i = 0; i != NCONN; i++) {
        char c[4];
        int type;
        int rc = ws ? (int)ws_recv(s[i], &type, c, sizeof(c), now() + 5000)
            : brecv(s[i], c, sizeof(c), now() + 5000);
        assert(rc < 0 && errno != ETIMEDOUT);
        hclose(s[i]);
    }
}

/* Without SO_REUSEPORT a second listener on the port fails. */
static void exclusive(void) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", 0, 0) == 0);
    int l1 = tcp_listen(&a, 8);
    errno_assert(l1 >= 0);
    assert_err(tcp_listen_reuseport(&a, 8), EADDRINUSE);
    assert_err(tcp_listen(&a, 8), EADDRINUSE);
    errno_assert(hclose(l1) == 0);
    int r1 = tcp_listen_reuseport(&a, 8);
    errno_assert(r1 >= 0);
    int r2 = tcp_listen_reuseport(&a, 8);
    errno_assert(r2 >= 0);
    assert_err(tcp_listen(&a, 8), EADDRINUSE);
    errno_assert(hclose(r1) == 0);
    errno_assert(hclose(r2) == 0);
    assert_err(tcp_listen_reuseport(NULL, 8), EINVAL);
}

static int ran[4];

static void quick(int index, void *arg) {
    (void)arg;
    __atomic_store_n(&ran[index], 1, __ATOMIC_RELAXED);
}

static void waiter(int index, void *arg) {
    (void)index;
    int *cancelled = arg;
    if(msleep(-1) < 0 && errno == ECANCELED)
        __atomic_add_fetch(cancelled, 1, __ATOMIC_RELAXED);
}

static void lifecycle(void) {
    assert_err(workers_start(-1, quick, NULL), EINVAL);
    assert_err(workers_start(1, NULL, NULL), EINVAL);
    /* fn may return early; the threads wait for hclose. */
    int w = workers_start(4, quick, NULL);
    errno_assert(w >= 0);
    errno_assert(hclose(w) == 0);
    for(int i = 0; i != 4; i++) assert(ran[i]);
    /* 0: one per CPU, every one cancelled. */
    int cancelled = 0;
    w = workers_start(0, waiter, &cancelled);
    errno_assert(w >= 0);
    errno_assert(hclose(w) == 0);
    assert(cancelled == (int)sysconf(_SC_NPROCESSORS_ONLN));
}

int main(void) {
    exclusive();
    lifecycle();
    spread(0);
    spread(1);
    return 0;
}
