/* WebSocket benchmark: an echo server (forked process, one coroutine per
   connection) and a load client (coroutines) over loopback TCP.

   Prints:
     - echo round trips per second with 1 and 100 connections for 16 B,
       1 KiB and 64 KiB messages (client masks, server unmasks and echoes),
       and the CPU time each side spent per round trip (a figure that
       holds up better than rates on a busy machine),
     - a client-to-server stream of 16 B messages (messages/s),
     - one-way throughput of 64 KiB and 1 MiB messages (MB/s),
     - the server's resident memory per idle connection with N open
       WebSocket connections (VmRSS before/after, N = 10000 by default).

   Usage: bench_ws [seconds per test] [idle connections] [tls]
   (defaults 1.0 and 10000; with "tls" everything runs over wss, TLS 1.3
   with an ECDSA P-256 certificate made by openssl in /tmp) */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libdill.h"
#include "accept.h"
#include "clock.h"

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if(!f) return -1;
    char line[256];
    long v = -1;
    while(fgets(line, sizeof(line), f))
        if(sscanf(line, "VmRSS: %ld", &v) == 1) break;
    fclose(f);
    return v;
}

#define MAXMSG (1 << 20)

/* wss: certificate and key files, or empty for ws. */
static char cert[64], key[64];

static void makecert(void) {
    char dir[] = "/tmp/bench-ws-XXXXXX";
    if(!mkdtemp(dir)) die("mkdtemp");
    snprintf(cert, sizeof(cert), "%s/c.pem", dir);
    snprintf(key, sizeof(key), "%s/k.pem", dir);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
        "ec_paramgen_curve:P-256 -nodes -keyout %s -out %s -subj "
        "/CN=localhost -days 1 >/dev/null 2>&1", key, cert);
    if(system(cmd) != 0) die("openssl req");
}

static void rmcert(void) {
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf $(dirname %s)", cert);
    if(system(cmd) != 0) die("rm");
}

/******************************************************************************/
/*  Server                                                                    */
/******************************************************************************/

coroutine static void serve(int s) {
    char res[64], host[64];
#if !defined DILL_DISABLE_TLS
    if(cert[0]) {
        s = tls_attach_server(s, cert, key, now() + 10000);
        if(s < 0) return;
    }
#endif
    int ws = ws_attach_server(s, 0, res, sizeof(res), host, sizeof(host),
        now() + 10000);
    if(ws < 0) return;
    int flags;
    if(strcmp(res, "/idle") == 0) {
        char b[16];
        while(ws_recv(ws, &flags, b, sizeof(b), -1) >= 0)
            ;
    }
    else if(strcmp(res, "/rss") == 0) {
        char b[16];
        while(ws_recv(ws, &flags, b, sizeof(b), -1) >= 0) {
            char out[64];
            int n = snprintf(out, sizeof(out), "%ld %ld", rss_kib(),
                cpu_us());
            if(ws_send(ws, WS_TEXT, out, (size_t)n, -1) < 0) break;
        }
    }
    else if(strcmp(res, "/sink") == 0) {
        uint8_t *b = malloc(MAXMSG);
        /* Counts bytes; a 1-byte message asks for an acknowledgement. */
        while(1) {
            ssize_t n = ws_recv(ws, &flags, b, MAXMSG, -1);
            if(n < 0) break;
            if(n == 1 && ws_send(ws, 0, "k", 1, -1) < 0) break;
        }
        free(b);
    }
    else {
        uint8_t *b = malloc(MAXMSG);
        while(1) {
            ssize_t n = ws_recv(ws, &flags, b, MAXMSG, -1);
            if(n < 0 || ws_send(ws, flags, b, (size_t)n, -1) < 0) break;
        }
        free(b);
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

static int connect_ws(const char *res) {
    int s = tcp_connect(&addr, now() + 10000);
    if(s < 0) die("tcp_connect");
#if !defined DILL_DISABLE_TLS
    if(cert[0]) {
        s = tls_attach_client(s, now() + 10000);
        if(s < 0) die("tls_attach_client");
    }
#endif
    int ws = ws_attach_client(s, 0, res, "localhost", now() + 10000);
    if(ws < 0) die("ws_attach_client");
    return ws;
}

static int ctl = -1;

/* The server's VmRSS (KiB) and CPU time (microseconds). */
static void server_stats(long *rss, long *cpu) {
    char b[64];
    int flags;
    if(ws_send(ctl, WS_TEXT, "?", 1, -1) < 0) die("ws_send");
    ssize_t n = ws_recv(ctl, &flags, b, sizeof(b) - 1, -1);
    if(n < 0) die("ws_recv");
    b[n] = 0;
    if(sscanf(b, "%ld %ld", rss, cpu) != 2) die("stats");
}

static volatile long trips;
static volatile int stop;

coroutine static void echo_loop(int ws, size_t size) {
    uint8_t *b = malloc(size);
    memset(b, 'x', size);
    int flags;
    while(!stop) {
        if(ws_send(ws, 0, b, size, -1) < 0) die("ws_send");
        if(ws_recv(ws, &flags, b, size, -1) != (ssize_t)size) die("ws_recv");
        trips++;
    }
    free(b);
}

static void bench_echo(int nconn, size_t size, double dur) {
    int *ws = malloc(sizeof(int) * (size_t)nconn);
    for(int i = 0; i != nconn; i++) ws[i] = connect_ws("/echo");
    int b = bundle();
    trips = 0;
    stop = 0;
    long rss, scpu0, scpu1, ccpu0 = cpu_us();
    server_stats(&rss, &scpu0);
    double t0 = secs();
    for(int i = 0; i != nconn; i++)
        if(bundle_go(b, echo_loop(ws[i], size)) < 0) die("go");
    msleep(now() + (int64_t)(dur * 1000));
    stop = 1;
    bundle_wait(b, -1);
    double t = secs() - t0;
    server_stats(&rss, &scpu1);
    long ccpu = cpu_us() - ccpu0;
    hclose(b);
    printf("echo %3d conn %6zu B: %7.0f msgs/s, %7.1f MB/s each way; CPU "
        "per message: server %.1f us, client %.1f us\n", nconn, size,
        trips / t, trips * (double)size / t / 1e6,
        (double)(scpu1 - scpu0) / trips, (double)ccpu / trips);
    for(int i = 0; i != nconn; i++) hclose(ws[i]);
    free(ws);
}

static void bench_throughput(size_t size, double dur) {
    int ws = connect_ws("/sink");
    uint8_t *b = malloc(MAXMSG);
    memset(b, 'y', MAXMSG);
    long n = 0;
    double t0 = secs();
    while(secs() - t0 < dur) {
        for(int i = 0; i != 16; i++, n++)
            if(ws_send(ws, 0, b, size, -1) < 0) die("ws_send");
    }
    int flags;
    if(ws_send(ws, 0, "?", 1, -1) < 0) die("ws_send");
    if(ws_recv(ws, &flags, b, MAXMSG, -1) != 1) die("ws_recv");
    double t = secs() - t0;
    printf("throughput %zu B messages, client to server: %.0f MB/s "
        "(%.0f msgs/s)\n", size, n * (double)size / t / 1e6, n / t);
    free(b);
    hclose(ws);
}

/* Client-to-server stream of small messages: the client sends as fast as
   it can; the rate counts until the server has received them all. */
static void bench_stream(size_t size, double dur) {
    int ws = connect_ws("/sink");
    uint8_t b[64];
    memset(b, 'z', sizeof(b));
    long n = 0;
    double t0 = secs();
    long cpu0 = cpu_us();
    while(secs() - t0 < dur) {
        for(int i = 0; i != 1024; i++, n++)
            if(ws_send(ws, 0, b, size, -1) < 0) die("ws_send");
    }
    int flags;
    if(ws_send(ws, 0, "?", 1, -1) < 0) die("ws_send");
    if(ws_recv(ws, &flags, b, sizeof(b), -1) != 1) die("ws_recv");
    double t = secs() - t0;
    printf("stream client->server %zu B: %.0f msgs/s (%.1f MB/s); client "
        "CPU %.0f ns per message\n", size, n / t, n * (double)size / t / 1e6,
        (cpu_us() - cpu0) * 1000.0 / n);
    hclose(ws);
}

static void bench_idle(int nidle) {
    msleep(now() + 100);
    long before, after, cpu;
    server_stats(&before, &cpu);
    int *ws = malloc(sizeof(int) * (size_t)nidle);
    double t0 = secs();
    for(int i = 0; i != nidle; i++) ws[i] = connect_ws("/idle");
    double t = secs() - t0;
    /* Let the server settle into its receiving calls. */
    msleep(now() + 300);
    server_stats(&after, &cpu);
    printf("idle: %d connections opened in %.2f s (%.0f handshakes/s); "
        "server VmRSS %ld -> %ld KiB: %.2f KiB per connection\n", nidle, t,
        nidle / t, before, after, (double)(after - before) / nidle);
    for(int i = 0; i != nidle; i++) hclose(ws[i]);
    free(ws);
}

int main(int argc, char *argv[]) {
    double dur = argc > 1 ? atof(argv[1]) : 1.0;
    int nidle = argc > 2 ? atoi(argv[2]) : 10000;
    if(argc > 3 && strcmp(argv[3], "tls") == 0) {
#if defined DILL_DISABLE_TLS
        die("built without TLS");
#endif
        makecert();
    }
    struct rlimit rl;
    if(getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if(rl.rlim_cur < (rlim_t)nidle + 200) {
            nidle = (int)rl.rlim_cur - 200;
            printf("(RLIMIT_NOFILE %ld: %d idle connections)\n",
                (long)rl.rlim_cur, nidle);
        }
    }
    if(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) < 0) die("ipaddr");
    int ls = tcp_listen(&addr, 1024);
    if(ls < 0) die("tcp_listen");
    pid_t pid = fork();
    if(pid < 0) die("fork");
    if(pid == 0) {
        server(ls);
        _exit(0);
    }
    hclose(ls);
    ctl = connect_ws("/rss");
    static const size_t sizes[] = {16, 1024, 65536};
    for(size_t i = 0; i != 3; i++) {
        bench_echo(1, sizes[i], dur);
        bench_echo(100, sizes[i], dur);
    }
    bench_stream(16, dur);
    bench_throughput(65536, dur);
    bench_throughput(MAXMSG, dur);
    if(nidle > 0) bench_idle(nidle);
    hclose(ctl);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if(cert[0]) rmcert();
    return 0;
}
