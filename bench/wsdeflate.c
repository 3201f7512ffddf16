/* permessage-deflate benchmark: an echo server (forked process, one
   coroutine per connection, deflate on with a given memory tier) and a
   load client (coroutines) over loopback TCP.

   Prints, for each memory tier (deflate off, 0 = no context takeover, and
   the 9-, 12- and 15-bit tiers with context takeover):
     - the server's resident memory per idle connection: N connections
       that have each exchanged one compressed 1 KiB message both ways
       (so that every zlib state a tier keeps is allocated), VmRSS
       before/after divided by N;
     - the same for N connections in the middle of a message (its first
       512 bytes received, the rest not yet sent);
     - echo of 1 KiB JSON-like text messages over 100 connections: round
       trips per second and the CPU time per round trip of the server and
       of the client (each compresses and inflates once per round trip);
     - the compression ratio on the wire (compressed payload / payload) of
       those messages;
   and the bomb: a 1 MiB message that inflates to 1 GiB sent to a server
   whose max_message is 16 MiB: the time until the server's ws_recv fails
   with EMSGSIZE, and how much the server's peak resident memory grew.

   Usage: bench_wsdeflate [idle connections] [seconds per echo run]
   (defaults 10000 and 2) */

#if !DILL_HAVE_ZLIB
#include <stdio.h>
int main(void) {puts("bench_wsdeflate: built without zlib"); return 0;}
#else

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "libdill.h"
#include "proto/wsdeflate.h"
#include "proto/wsframe.h"
#include "../tests/zbomb.h"
#include "accept.h"
#include "clock.h"

#define MSG 1024
#define ECHO_CONNS 100
#define BOMB_LIMIT (16u << 20)

/* A line of /proc/self/status ("VmRSS:", "VmHWM:") in KiB. */
static long status_kib(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if(!f) return -1;
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while(fgets(line, sizeof(line), f))
        if(strncmp(line, key, kl) == 0) {v = atol(line + kl); break;}
    fclose(f);
    return v;
}

/* JSON-like text: records with varying numbers and names. */
static void json(uint8_t *p, size_t n, unsigned seed) {
    static const char *const names[] = {"alice", "bob", "carol", "dave"};
    size_t i = 0;
    for(int k = 0; i < n; k++) {
        char rec[128];
        seed = seed * 1103515245u + 12345u;
        int l = snprintf(rec, sizeof(rec), "{\"id\":%u,\"user\":\"%s\","
            "\"score\":%u,\"tags\":[\"x\",\"y\"],\"ok\":%s},", seed % 100000,
            names[(seed >> 8) % 4], (seed >> 4) % 10000,
            seed & 1 ? "true" : "false");
        for(int j = 0; j < l && i < n; j++) p[i++] = (uint8_t)rec[j];
    }
}

/* Tiers: deflate_memory, or -1 for deflate off. */
static const long tiers[] = {-1, 0, 16696, 41784, 308024};
static const char *const tiernames[] = {"off", "0 (no takeover)",
    "16,696 (9 bits)", "41,784 (12 bits)", "308,024 (15 bits)"};
#define NTIERS 5

static struct ws_options opts(long tier) {
    struct ws_options o = WS_OPTIONS_INIT;
    o.max_message = BOMB_LIMIT;
    if(tier >= 0) {
        o.deflate = WS_DEFLATE;
        o.deflate_memory = (size_t)tier;
        o.deflate_threshold = 1;
    }
    return o;
}

/******************************************************************************/
/*  Server                                                                    */
/******************************************************************************/

static long stier;

static void bomb_serve(int ws) {
    uint8_t *b = malloc(BOMB_LIMIT);
    if(!b) die("malloc");
    long hwm0 = status_kib("VmHWM:");
    double t0 = secs();
    int flags;
    ssize_t n = ws_recv(ws, &flags, b, BOMB_LIMIT, -1);
    double t = secs() - t0;
    printf("bomb: ws_recv %s after %.1f ms; server peak RSS %ld -> %ld KiB "
        "(+%ld KiB, with the 16 MiB receive buffer untouched beyond what "
        "was inflated)\n", n < 0 && errno == EMSGSIZE ? "failed with EMSGSIZE" :
        "did NOT fail", t * 1000, hwm0, status_kib("VmHWM:"),
        status_kib("VmHWM:") - hwm0);
    fflush(stdout);
    free(b);
}

coroutine static void serve(int s) {
    char res[64], host[64];
    struct ws_options o = opts(stier);
    int ws = ws_attach_server_opts(s, res, sizeof(res), host, sizeof(host),
        &o, NULL, now() + 10000);
    if(ws < 0) return;
    int flags;
    if(strcmp(res, "/bomb") == 0) bomb_serve(ws);
    else if(strcmp(res, "/rss") == 0) {
        char b[16];
        while(ws_recv(ws, &flags, b, sizeof(b), -1) >= 0) {
            char out[64];
            int n = snprintf(out, sizeof(out), "%ld %ld",
                status_kib("VmRSS:"), cpu_us());
            if(ws_send(ws, WS_TEXT, out, (size_t)n, -1) < 0) break;
        }
    }
    else {
        uint8_t b[MSG];
        while(1) {
            ssize_t n = ws_recv(ws, &flags, b, sizeof(b), -1);
            if(n < 0 || ws_send(ws, flags, b, (size_t)n, -1) < 0) break;
        }
    }
    hclose(ws);
}

static void server(int ls) {
    int b = bundle();
    if(b < 0) die("bundle");
    while(1) {
        int s = accept_retry(ls);
        if(bundle_go(b, serve(s)) < 0) die("bundle_go");
    }
}

/******************************************************************************/
/*  Client                                                                    */
/******************************************************************************/

static struct ipaddr addr;

static int connect_ws(const char *res, long tier) {
    int s = tcp_connect(&addr, now() + 10000);
    if(s < 0) die("tcp_connect");
    struct ws_options o = opts(tier);
    int ws = ws_attach_client_opts(s, res, "localhost", &o, NULL,
        now() + 10000);
    if(ws < 0) die("ws_attach_client");
    return ws;
}

static int ctl = -1;

static void server_stats(long *rss, long *cpu) {
    char b[64];
    int flags;
    if(ws_send(ctl, WS_TEXT, "?", 1, -1) < 0) die("ws_send");
    ssize_t n = ws_recv(ctl, &flags, b, sizeof(b) - 1, -1);
    if(n < 0) die("ws_recv");
    b[n] = 0;
    if(sscanf(b, "%ld %ld", rss, cpu) != 2) die("stats");
}

static void roundtrip(int ws, uint8_t *b, unsigned seed) {
    json(b, MSG, seed);
    if(ws_send(ws, WS_TEXT, b, MSG, -1) < 0) die("ws_send");
    int flags;
    if(ws_recv(ws, &flags, b, MSG, -1) != MSG) die("ws_recv");
}

static volatile long trips;
static volatile int stop;

coroutine static void echo_loop(int ws, unsigned seed) {
    uint8_t b[MSG];
    while(!stop) {
        roundtrip(ws, b, seed++);
        trips++;
    }
}

/* Server memory per connection: idle after one round trip, or (mid) in
   the middle of receiving a message whose first 512 bytes (compressed
   when deflate is on) have arrived. */
static double idle_kib(long tier, int nidle, int mid) {
    long r0, r1, c;
    server_stats(&r0, &c);
    int *ws = malloc(sizeof(int) * (size_t)nidle);
    if(!ws) die("malloc");
    uint8_t b[MSG];
    for(int i = 0; i != nidle; i++) {
        ws[i] = connect_ws("/echo", tier);
        if(!mid) {
            roundtrip(ws[i], b, (unsigned)i);
            continue;
        }
        json(b, 512, (unsigned)i);
        if(ws_send_part(ws[i], WS_TEXT | WS_MORE, b, 512, -1) < 0)
            die("ws_send_part");
    }
    /* Let the server take in the last pieces. */
    if(mid) msleep(now() + 1000);
    server_stats(&r1, &c);
    for(int i = 0; i != nidle; i++) hclose(ws[i]);
    free(ws);
    return (double)(r1 - r0) / nidle;
}

static void echo_run(long tier, double dur, double *rate, double *scpu,
      double *ccpu) {
    int ws[ECHO_CONNS];
    for(int i = 0; i != ECHO_CONNS; i++) ws[i] = connect_ws("/echo", tier);
    int b = bundle();
    trips = 0;
    stop = 0;
    long rss, s0, s1;
    server_stats(&rss, &s0);
    long c0 = cpu_us();
    double t0 = secs();
    for(int i = 0; i != ECHO_CONNS; i++)
        bundle_go(b, echo_loop(ws[i], (unsigned)i * 7919u));
    msleep(now() + (int64_t)(dur * 1000));
    stop = 1;
    bundle_wait(b, -1);
    double t = secs() - t0;
    long c1 = cpu_us();
    server_stats(&rss, &s1);
    hclose(b);
    for(int i = 0; i != ECHO_CONNS; i++) hclose(ws[i]);
    *rate = trips / t;
    *scpu = (double)(s1 - s0) / trips;
    *ccpu = (double)(c1 - c0) / trips;
}

/* Compressed payload / payload for 1,000 messages with the tier's
   compressor (as the server would send them). */
static double ratio(long tier) {
    struct dill__wsz_cfg cfg;
    dill__wsz_tier((size_t)tier, &cfg);
    struct dill__wsz_def d = {0};
    d.bits = cfg.send_bits;
    d.no_ctx = !cfg.ctx;
    d.mem_level = cfg.mem_level;
    d.level = cfg.level;
    uint8_t m[MSG], out[2 * MSG + 64];
    size_t in = 0, wire = 0;
    for(unsigned i = 0; i != 1000; i++) {
        json(m, MSG, i * 7919u);
        d.hint = MSG;
        if(dill__wsz_def_input(&d, m, MSG, DILL__WSZ_FIN) < 0) die("zlib");
        int more;
        do wire += dill__wsz_def_output(&d, out, sizeof(out), &more);
        while(more);
        in += MSG;
    }
    dill__wsz_def_free(&d);
    return (double)wire / in;
}

/* Raw client: handshake offering permessage-deflate, then a compressed
   message of about 1 MiB that inflates to 1 GiB, in masked 64 KiB
   frames. */
static void bomb(void) {
    size_t n;
    uint8_t *p = zbomb(&n);
    if(!p) die("zbomb");
    int s = tcp_connect(&addr, now() + 10000);
    if(s < 0) die("tcp_connect");
    const char *req = "GET /bomb HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    if(bsend(s, req, strlen(req), -1) < 0) die("bsend");
    char h[1024];
    size_t hl = 0;
    while(hl < 4 || memcmp(h + hl - 4, "\r\n\r\n", 4) != 0)
        if(brecv(s, h + hl++, 1, now() + 10000) < 0) die("brecv");
    printf("bomb: %zu compressed bytes that inflate to %d MiB, sent to a "
        "server with max_message %u MiB\n", n, 1024, BOMB_LIMIT >> 20);
    fflush(stdout);
    static uint8_t f[DILL__WS_HDR_MAX + 65536];
    static const uint8_t key[4] = {1, 2, 3, 4};
    for(size_t pos = 0; pos < n; ) {
        size_t k = n - pos < 65536 ? n - pos : 65536;
        size_t fl = dill__ws_build_header(f, pos + k == n,
            pos ? DILL__WS_CONT : DILL__WS_BINARY, pos ? 0 : DILL__WS_RSV1,
            key, k);
        dill__ws_mask(f + fl, p + pos, k, key, 0);
        if(bsend(s, f, fl + k, now() + 10000) < 0) break;
        pos += k;
    }
    uint8_t r[64];
    brecv(s, r, 4, now() + 10000);
    msleep(now() + 200);
    hclose(s);
    free(p);
}

/* The server is a fresh process (fork, then exec of this program with
   --serve FD TIER): a forked copy of the client would count the client's
   pages as its own and return them at random times. */
static pid_t start_server(long tier) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if(fd < 0) die("socket");
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if(bind(fd, (struct sockaddr*)&sa, sizeof(sa)) < 0 ||
       listen(fd, 4096) < 0 ||
       getsockname(fd, (struct sockaddr*)&sa, &sl) < 0) die("listen");
    addr = (struct ipaddr){0};
    if(ipaddr_local(&addr, "127.0.0.1", ntohs(sa.sin_port),
       IPADDR_IPV4) < 0) die("ipaddr");
    fflush(stdout);
    pid_t pid = fork();
    if(pid < 0) die("fork");
    if(pid == 0) {
        char f[16], t[32];
        snprintf(f, sizeof(f), "%d", fd);
        snprintf(t, sizeof(t), "%ld", tier);
        execl("/proc/self/exe", "bench_wsdeflate", "--serve", f, t,
            (char*)NULL);
        _exit(127);
    }
    close(fd);
    ctl = connect_ws("/rss", -1);
    return pid;
}

static void stop_server(pid_t pid) {
    hclose(ctl);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int main(int argc, char *argv[]) {
    if(argc == 4 && strcmp(argv[1], "--serve") == 0) {
        stier = atol(argv[3]);
        int ls = tcp_listener_fromfd(atoi(argv[2]));
        if(ls < 0) die("tcp_listener_fromfd");
        server(ls);
        return 0;
    }
    int nidle = argc > 1 ? atoi(argv[1]) : 10000;
    double dur = argc > 2 ? atof(argv[2]) : 2.0;
    struct rlimit rl;
    if(getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if(rl.rlim_cur < (rlim_t)nidle + 200) nidle = (int)rl.rlim_cur - 200;
    }
    printf("permessage-deflate: %d idle connections; echo of %d-byte "
        "JSON-like text over %d connections for %.1f s\n", nidle, MSG,
        ECHO_CONNS, dur);
    printf("%-20s %9s %9s %10s %11s %11s %7s\n", "deflate_memory",
        "KiB/idle", "KiB/mid", "msg/s", "srv us/msg", "cli us/msg",
        "ratio");
    for(int t = 0; t != NTIERS; t++) {
        pid_t pid = start_server(tiers[t]);
        /* Echo first: closing the idle connections keeps the server busy
           for a while. */
        double rate, scpu, ccpu;
        echo_run(tiers[t], dur, &rate, &scpu, &ccpu);
        double kib = idle_kib(tiers[t], nidle, 0);
        stop_server(pid);
        /* A fresh server: memory freed by the closed connections would be
           reused and hide what these take. */
        pid = start_server(tiers[t]);
        double mkib = idle_kib(tiers[t], nidle, 1);
        stop_server(pid);
        printf("%-20s %9.2f %9.2f %10.0f %11.1f %11.1f %7.3f\n",
            tiernames[t], kib, mkib, rate, scpu, ccpu,
            tiers[t] < 0 ? 1.0 : ratio(tiers[t]));
        fflush(stdout);
    }
    pid_t pid = start_server(0);
    bomb();
    msleep(now() + 500);
    stop_server(pid);
    return 0;
}

#endif
