/* Cross-node fan-out through real server processes (issue 17): NODES
   `dillws --listen --broadcast --threads 1 --redis URL` servers linked by a
   redis-server, all started here on 127.0.0.1, against one `dillws
   --listen --broadcast --threads 1` server without Redis holding every
   subscriber ("one").  This process is the clients: SUBS WebSocket
   connections to each node, read by coroutines of one thread, and one
   publishing connection to node 0.  Alternated for ROUNDS rounds.

   Per run: burst (MSGS text messages sent at once by the publisher,
   deliveries per second from the first send to the last delivery) and
   latency (PACED messages, one every 5 ms + 1 ms per 50 subscribers,
   send to delivery, p50/p99 over every subscriber and message).  Messages
   carry their send time; sender and readers share this process's clock.

   Usage: bench_hub_cluster DILLWS [nodes] [subs] [msgs] [rounds]
   (defaults: build/dillws, 3, 1000, 200, 3; needs redis-server) */

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fanout.h"
#include "libdill.h"
#include "../tests/redisserver.h"

#define PACED 100

static long delivered;
static double last_delivery;
static double *lat;
static long nlat, maxlat;
static int measuring;
static char *probed;                /* per connection: a probe arrived */

coroutine static void reader(int ws, int idx) {
    char b[64];
    int type;
    ssize_t n;
    while((n = ws_recv(ws, &type, b, sizeof(b) - 1, -1)) >= 0) {
        b[n] = 0;
        double t = secs();
        if(b[0] != 'T') {probed[idx] = 1; continue;}
        delivered++;
        last_delivery = t;
        if(measuring == 2 && nlat < maxlat) lat[nlat++] = t - atof(b + 1);
    }
}

/* Starts dillws --listen on a free port (with Redis URL url, or none). */
static int node_start(const char *dillws, const char *url, pid_t *pid) {
    for(int i = 0; i != 10; i++) {
        int port = free_port();
        char listen[32];
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        char *argv[] = {(char*)dillws, "--listen", listen, "--broadcast",
            "--threads", "1", "--timeout", "3600", url ? "--redis" : NULL,
            (char*)url, NULL};
        if(spawn(pid, argv) < 0) die("spawn");
        struct ipaddr a;
        ipaddr_local(&a, "127.0.0.1", port, 0);
        for(int j = 0; j != 200; j++) {
            int s = tcp_connect(&a, now() + 500);
            if(s >= 0) {hclose(s); return port;}
            msleep(now() + 20);
        }
        kill(*pid, SIGKILL);
    }
    fprintf(stderr, "dillws did not start\n");
    exit(1);
}

static int connect_ws(int port) {
    char url[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", port);
    struct ws_options o = WS_OPTIONS_INIT;
    o.flags = WS_TEXT;
    int ws = ws_connect(url, &o, NULL, now() + 10000);
    if(ws < 0) die("ws_connect");
    return ws;
}

static void send_stamped(int pub) {
    char b[64];
    int n = snprintf(b, sizeof(b), "T%.9f", secs());
    if(ws_send(pub, WS_TEXT, b, (size_t)n, now() + 10000) < 0) die("send");
}

static void wait_for(long n) {
    double deadline = secs() + 60;
    while(delivered < n && secs() < deadline) msleep(now() + 1);
}

/* One run: nodes servers (nports of them, the publisher on the first),
   per subscribers each. */
static void run(const char *mode, int *ports, int nports, int per, int msgs,
      int nodes) {
    int readers = bundle();
    int n = nports * per;
    int *conns = malloc(sizeof(int) * (size_t)n);
    probed = calloc((size_t)n + 1, 1);
    if(!conns || !probed) die("malloc");
    for(int i = 0; i != n; i++) {
        conns[i] = connect_ws(ports[i / per]);
        if(bundle_go(readers, reader(conns[i], i)) < 0) die("go");
    }
    int pub = connect_ws(ports[0]);
    if(bundle_go(readers, reader(pub, n)) < 0) die("go");
    long expect = (long)n + 1;
    /* Until every node subscribed to Redis: probes reach everyone. */
    for(int i = 0, all = 0; !all; i++) {
        if(i == 500) {fprintf(stderr, "probes lost\n"); exit(1);}
        if(ws_send(pub, WS_TEXT, "probe", 5, -1) < 0) die("send");
        msleep(now() + 20);
        all = 1;
        for(int j = 0; j != n && all; j++) all = probed[j];
    }
    msleep(now() + 500);
    measuring = 1;
    delivered = 0;
    double start = secs();
    for(int i = 0; i != msgs; i++) send_stamped(pub);
    wait_for(expect * msgs);
    long got = delivered;
    double burst = last_delivery - start;
    measuring = 2;
    nlat = 0;
    delivered = 0;
    for(int i = 0; i != PACED; i++) {
        send_stamped(pub);
        msleep(now() + 5 + expect / 50);
    }
    wait_for(expect * PACED);
    measuring = 0;
    double p50, p99;
    fanout_pct(lat, nlat, &p50, &p99);
    printf("%-5s %d x %d subscribers: burst %d msgs: %ld/%ld delivered, "
        "%.0f deliveries/s; paced: p50 %.2f ms p99 %.2f ms (%ld samples)\n",
        mode, nodes, per * nports / nodes, msgs, got, expect * msgs,
        got / burst, p50, p99, nlat);
    fflush(stdout);
    hclose(readers);
    for(int i = 0; i != nports * per; i++) hclose(conns[i]);
    hclose(pub);
    free(conns);
    free(probed);
}

int main(int argc, char *argv[]) {
    const char *dillws = argc > 1 ? argv[1] : "build/dillws";
    struct fanout_args a;
    fanout_args(argc, argv, 2, "bench_hub_cluster DILLWS [nodes 2-16] [subs] "
        "[msgs] [rounds]", &a);
    int nodes = a.nodes, per = a.per, msgs = a.msgs, rounds = a.rounds;
    signal(SIGPIPE, SIG_IGN);
    maxlat = (long)nodes * per * PACED + PACED;
    lat = malloc(sizeof(double) * (size_t)maxlat);
    if(!lat) die("malloc");
    struct redis rd;
    if(redis_start(&rd, 0) < 0) die("redis-server");
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/", rd.port);
    int ports[16], one;
    pid_t pids[16], onepid;
    for(int i = 0; i != nodes; i++) ports[i] = node_start(dillws, url, &pids[i]);
    one = node_start(dillws, NULL, &onepid);
    for(int r = 0; r != rounds; r++) {
        int all[16];
        for(int i = 0; i != nodes; i++) all[i] = one;
        run("one", all, nodes, per, msgs, nodes);
        run("redis", ports, nodes, per, msgs, nodes);
    }
    for(int i = 0; i != nodes; i++) kill(pids[i], SIGKILL);
    kill(onepid, SIGKILL);
    redis_kill(&rd);
    return 0;
}
