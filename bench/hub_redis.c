/* Hub over Redis benchmark (issue 17): cross-node fan-out through a real
   redis-server (started here on a free port of 127.0.0.1) against the same
   hub in one process.

   "redis": NODES hubs, each with its own Redis connections and thread,
   SUBS WebSocket subscribers each (loopback TCP pairs); hub 0 publishes.
   "local": one hub without Redis and NODES x SUBS subscribers.  Both run
   in this process: the subscribers' server ends (the hubs' writers), the
   reading clients and the publisher share the main thread, the Redis
   threads are extra.  Alternated for ROUNDS rounds.

   Per run: burst throughput (MSGS 64-byte messages published at once,
   deliveries per second from the first publish to the last delivery) and
   latency (PACED messages, one every 5 ms + 1 ms per 50 subscribers so
   that each fan-out ends before the next message, publish to delivery
   p50/p99 over every subscriber and message;
   for "redis" only the subscribers of the other hubs, i.e. through
   Redis).  At the end: recovery, seconds from a Redis restart (kill -9,
   start again on the same port) until a message of hub 0 reaches a
   subscriber of hub 1 again.

   Usage: bench_hub_redis [nodes] [subs] [msgs] [rounds]
   (defaults 3, 1000, 200, 3; needs redis-server on the PATH) */

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "clock.h"
#include "fanout.h"
#include "libdill.h"
#include "../tests/redisserver.h"

#define MSG 64
#define PACED 100

struct sub {
    int c, s, sub;
    int remote;                    /* on a hub other than the publisher's */
};

static struct sub *subs;
static int nsubs;
static long delivered, remote_delivered;
static double last_delivery;
static double *lat;                /* paced phase latencies */
static long nlat;
static int paced_phase;

static void fill(char *b, uint32_t seq) {
    memset(b, 'x', MSG);
    double t = secs();
    memcpy(b, &t, sizeof(t));
    memcpy(b + sizeof(t), &seq, sizeof(seq));
}

coroutine static void reader(struct sub *k) {
    char b[MSG];
    int type;
    while(ws_recv(k->c, &type, b, sizeof(b), -1) == MSG) {
        double t = secs(), sent;
        memcpy(&sent, b, sizeof(sent));
        delivered++;
        if(k->remote) remote_delivered++;
        last_delivery = t;
        /* 1: "redis", through Redis only; 2: "local", all. */
        if(paced_phase == 2 || (paced_phase == 1 && k->remote))
            lat[nlat++] = t - sent;
    }
}

/* A connected TCP pair through listener ls. */
static int pair(int *c, int *s, int ls, struct ipaddr *addr) {
    *c = tcp_connect(addr, now() + 10000);
    if(*c < 0) return -1;
    *s = tcp_accept(ls, NULL, now() + 10000);
    return *s < 0 ? -1 : 0;
}

coroutine static void srv_hs(int s, int ch) {
    char res[256], host[256];
    int ws = ws_attach_server(s, WS_BINARY, res, sizeof(res), host,
        sizeof(host), now() + 10000);
    chsend(ch, &ws, sizeof(ws), -1);
}

/* Connects n subscribers to hub h (the last argument marks them remote). */
static void connect_subs(struct dill_hub *h, int n, int remote, int ls,
      struct ipaddr *addr, int readers) {
    int ch[2];
    if(chmake(ch) < 0) die("chmake");
    for(int i = 0; i != n; i++) {
        int a, b;
        if(pair(&a, &b, ls, addr) < 0) die("connect");
        int cr = go(srv_hs(b, ch[1]));
        if(cr < 0) die("go");
        int c = ws_attach_client(a, WS_BINARY, "/", "localhost",
            now() + 10000);
        if(c < 0) die("ws_attach_client");
        int s;
        if(chrecv(ch[0], &s, sizeof(s), -1) < 0 || s < 0) die("handshake");
        hclose(cr);
        struct sub *k = &subs[nsubs++];
        k->c = c;
        k->s = s;
        k->remote = remote;
        k->sub = hub_join(h, s);
        if(k->sub < 0 || hub_subscribe(k->sub, "bench") < 0) die("hub_join");
        if(bundle_go(readers, reader(k)) < 0) die("go");
    }
    hclose(ch[0]);
    hclose(ch[1]);
}

/* Publishes on h and measures; expect is deliveries per message. */
static void measure(const char *mode, struct dill_hub *h, int nodes, int per,
      int msgs, long expect) {
    char b[MSG];
    delivered = 0;
    paced_phase = 0;
    double start = secs();
    long cpu0 = cpu_us();
    for(int i = 0; i != msgs; i++) {
        fill(b, (uint32_t)i);
        if(hub_publish(h, "bench", 0, b, MSG, -1) < 0) die("hub_publish");
    }
    double deadline = secs() + 60;
    while(delivered < expect * msgs && secs() < deadline) msleep(now() + 1);
    double burst = last_delivery - start;
    long cpu = cpu_us() - cpu0;
    long got = delivered;
    /* Paced: latency. */
    nlat = 0;
    paced_phase = strcmp(mode, "redis") == 0 ? 1 : 2;
    delivered = 0;
    for(int i = 0; i != PACED; i++) {
        fill(b, (uint32_t)i);
        if(hub_publish(h, "bench", 0, b, MSG, -1) < 0) die("hub_publish");
        /* One message at a time through the whole fan-out: about 20 us
           per subscriber here (a send, a wake-up, a receive). */
        msleep(now() + 5 + expect / 50);
    }
    deadline = secs() + 60;
    while(delivered < expect * PACED && secs() < deadline) msleep(now() + 1);
    paced_phase = 0;
    double p50, p99;
    fanout_pct(lat, nlat, &p50, &p99);
    printf("%-5s %d x %d subscribers: burst %d msgs: %ld/%ld delivered, "
        "%.0f deliveries/s, %.2f us CPU/delivery; paced: p50 %.2f ms "
        "p99 %.2f ms (%ld samples)\n", mode, nodes, per, msgs, got,
        expect * msgs, got / burst, (double)cpu / got, p50, p99, nlat);
    fflush(stdout);
}

/* redis-server */

static struct redis rd;

static void redis_restart(int port) {
    if(redis_start(&rd, port) < 0) {
        fprintf(stderr, "redis-server did not start\n");
        exit(1);
    }
}

static void wait_ready(struct dill_hub *h) {
    for(int i = 0; i != 3000; i++) {
        struct hub_stats st = HUB_STATS_INIT;
        hub_stats(h, &st);
        if(st.redis_up && st.redis_topics == 1) return;
        msleep(now() + 10);
    }
    fprintf(stderr, "hub not connected to redis\n");
    exit(1);
}

static void close_all(int readers) {
    hclose(readers);
    for(int i = 0; i != nsubs; i++) {
        hclose(subs[i].sub);
        hclose(subs[i].s);
        hclose(subs[i].c);
    }
    nsubs = 0;
}

static void run_local(int nodes, int per, int msgs, int ls,
      struct ipaddr *addr) {
    struct dill_hub *h = hub_make(NULL);
    if(!h) die("hub_make");
    int readers = bundle();
    connect_subs(h, nodes * per, 0, ls, addr, readers);
    measure("local", h, nodes, per, msgs, (long)nodes * per);
    close_all(readers);
    hub_free(h);
}

static void run_redis(int nodes, int per, int msgs, int ls,
      struct ipaddr *addr, const char *url, double *recovery) {
    struct dill_hub *h[16];
    int readers = bundle();
    for(int n = 0; n != nodes; n++) {
        struct hub_options o = HUB_OPTIONS_INIT;
        o.redis = url;
        o.redis_prefix = "bench:";
        h[n] = hub_make(&o);
        if(!h[n]) die("hub_make");
        connect_subs(h[n], per, n != 0, ls, addr, readers);
    }
    for(int n = 0; n != nodes; n++) wait_ready(h[n]);
    if(!recovery) measure("redis", h[0], nodes, per, msgs, (long)nodes * per);
    else {
        /* Kill Redis, start it again, publish every 10 ms until a
           subscriber of hub 1 gets one. */
        int port = atoi(strrchr(url, ':') + 1);
        redis_kill(&rd);
        msleep(now() + 500);
        double t0 = secs();
        redis_restart(port);
        double up = secs() - t0;
        char b[MSG];
        remote_delivered = 0;
        double t = -1;
        while(secs() - t0 < 30) {
            fill(b, 0);
            hub_publish(h[0], "bench", 0, b, MSG, -1);
            msleep(now() + 10);
            if(remote_delivered) {t = secs() - t0; break;}
        }
        *recovery = t;
        printf("recovery: redis-server answering %.3f s after the restart, "
            "cross-node delivery again after %.3f s\n", up, t);
    }
    close_all(readers);
    for(int n = 0; n != nodes; n++) hub_free(h[n]);
}

int main(int argc, char *argv[]) {
    struct fanout_args a;
    fanout_args(argc, argv, 1, "bench_hub_redis [nodes 2-16] [subs] [msgs] "
        "[rounds]", &a);
    int nodes = a.nodes, per = a.per, msgs = a.msgs, rounds = a.rounds;
    signal(SIGPIPE, SIG_IGN);
    subs = calloc((size_t)nodes * per, sizeof(*subs));
    lat = calloc((size_t)nodes * per * PACED, sizeof(double));
    if(!subs || !lat) die("calloc");
    redis_restart(0);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/", rd.port);
    struct ipaddr addr;
    ipaddr_local(&addr, "127.0.0.1", 0, 0);
    int ls = tcp_listen(&addr, 4096);
    if(ls < 0) die("tcp_listen");
    for(int r = 0; r != rounds; r++) {
        run_local(nodes, per, msgs, ls, &addr);
        run_redis(nodes, per, msgs, ls, &addr, url, NULL);
    }
    double rec;
    run_redis(nodes, per, 1, ls, &addr, url, &rec);
    redis_kill(&rd);
    hclose(ls);
    return 0;
}
