/* Helpers shared by the hub benchmarks: WebSocket connections over
   loopback and hub membership.  Header-only; every failure is fatal. */

#ifndef DILL_BENCH_WSCONN_H
#define DILL_BENCH_WSCONN_H

#include <sys/resource.h>

#include "clock.h"
#include "libdill.h"

/* Options for both ends of the connections below (NULL: defaults). */
static const struct dill_ws_options *bench_wsopts;

/* As many descriptors as the hard limit allows. */
static inline void bench_nofile(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* A WebSocket client connected to 127.0.0.1:port; hook, when not NULL,
   gets the TCP handle before the handshake. */
static inline int bench_ws_dial(int port, void (*hook)(int s)) {
    struct ipaddr addr;
    if(ipaddr_remote(&addr, "127.0.0.1", port, 0, -1) < 0) die("ipaddr");
    int s = tcp_connect(&addr, now() + 10000);
    if(s < 0) die("tcp_connect");
    if(hook) hook(s);
    int ws = ws_attach_client_opts(s, "/", "localhost", bench_wsopts, NULL,
        now() + 10000);
    if(ws < 0) die("ws_attach_client");
    return ws;
}

/* The next connection of listener ls as a WebSocket, and *sub its
   subscriber of hub (subscribed to topic), or -1 when hub is NULL. */
static inline int bench_ws_take(int ls, void (*hook)(int s),
      struct dill_hub *hub, const char *topic, int *sub) {
    int s = tcp_accept(ls, NULL, now() + 10000);
    if(s < 0) die("tcp_accept");
    if(hook) hook(s);
    char res[64], host[64];
    int ws = ws_attach_server_opts(s, res, sizeof(res), host, sizeof(host),
        bench_wsopts, NULL, now() + 10000);
    if(ws < 0) die("ws_attach_server");
    *sub = -1;
    if(hub) {
        *sub = hub_join(hub, ws);
        if(*sub < 0 || hub_subscribe(*sub, topic) < 0) die("hub_join");
    }
    return ws;
}

/* A coroutine that finished tells on channel ch; bench_wait takes n
   such messages. */
static inline void bench_done(int ch) {
    int one = 1;
    if(chsend(ch, &one, sizeof(one), -1) < 0) die("chsend");
}

static inline void bench_wait(int ch, int n) {
    for(int i = 0; i != n; i++) {
        int one;
        if(chrecv(ch, &one, sizeof(one), -1) < 0) die("chrecv");
    }
}

/* Closes n subscribers (-1: none) and their connections. */
static inline void bench_ws_close(int n, const int *subs, const int *conns) {
    for(int i = 0; i != n; i++) {
        if(subs[i] >= 0) hclose(subs[i]);
        hclose(conns[i]);
    }
}

#endif
