/* Memory of a hub with many subscribers and one slow one: N WebSocket
   subscribers (a forked process of coroutines) of which one never reads
   (its receive buffer, and the server's send buffer for it, shrunk to 4
   KiB, so that the kernel does not absorb what the hub must hold); the
   server publishes small
   messages to all of them, paced to the readers that keep up, under
   HUB_DROP_OLDEST with a configured max_queue.  Prints the server's
   resident memory before the connections, with them idle, at its peak
   while publishing (sampled), and the slow subscriber's queued bytes: the
   growth should stay near max_queue (plus what the kernel buffers, which
   RSS does not show).

   With slow 0 every subscriber reads: the difference between the two runs
   is what the slow one costs.

   Usage: bench_hubmem [subscribers] [messages] [max_queue KiB] [msg bytes]
   [slow] (defaults 10000, 2000, 256, 256, 1) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "libdill.h"
#include "wsconn.h"
#include "net/stream.h"
#include "proto/hub.h"

static size_t msgsz;
static int slowone;

/* Shrinks a buffer of the TCP socket under handle s. */
static void shrink(int s, int opt) {
    struct dill__stream *st = hquery(s, dill__stream_type);
    int sz = 4096;
    if(!st || setsockopt(st->io.fd, SOL_SOCKET, opt, &sz, sizeof(sz)) < 0)
        die("setsockopt");
}

static void shrink_rcv(int s) {shrink(s, SO_RCVBUF);}
static void shrink_snd(int s) {shrink(s, SO_SNDBUF);}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if(!f) die("statm");
    long size, res;
    if(fscanf(f, "%ld %ld", &size, &res) != 2) die("statm");
    fclose(f);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Subscribers (child process). */
static long received;

coroutine static void reader(int ws, int done) {
    char b[65536];
    int type;
    ssize_t n;
    while((n = ws_recv(ws, &type, b, sizeof(b), -1)) >= 0) {
        if(n == 1) break;          /* the end marker */
        received++;
    }
    bench_done(done);
}

static void child(int port, int n, int report) {
    int ch[2];
    if(chmake(ch) < 0) die("chmake");
    int b = bundle();
    int slow = -1;
    for(int i = 0; i != n; i++) {
        int last = slowone && i == n - 1;
        int ws = bench_ws_dial(port, last ? shrink_rcv : NULL);
        if(last) {slow = ws; continue;}
        if(bundle_go(b, reader(ws, ch[1])) < 0) die("go");
    }
    bench_wait(ch[0], n - slowone);
    if(write(report, &received, sizeof(received)) < 0) die("write");
    /* The server closes the slow one. */
    char c;
    if(fdin(report, -1) < 0 || read(report, &c, 1) < 0) {}
    if(slow >= 0) hclose(slow);
    hclose(b);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int msgs = argc > 2 ? atoi(argv[2]) : 2000;
    size_t maxq = (size_t)(argc > 3 ? atoi(argv[3]) : 256) * 1024;
    msgsz = argc > 4 ? (size_t)atoi(argv[4]) : 256;
    slowone = argc > 5 ? atoi(argv[5]) != 0 : 1;
    if(n < 2 || n > 10000 || msgs < 1 || msgsz < 2 || msgsz > 65536) {
        fprintf(stderr, "usage: bench_hubmem [2..10000] [messages] "
            "[max_queue KiB] [2..65536 bytes]\n");
        return 1;
    }
    bench_nofile();
    struct ipaddr addr;
    ipaddr_local(&addr, "127.0.0.1", 0, 0);
    int ls = tcp_listen(&addr, 1024);
    if(ls < 0) die("tcp_listen");
    int p[2];
    if(socketpair(AF_UNIX, SOCK_STREAM, 0, p) < 0) die("socketpair");
    pid_t pid = fork();
    if(pid < 0) die("fork");
    if(pid == 0) {
        close(p[0]);
        child(ipaddr_port(&addr), n, p[1]);
        _exit(0);
    }
    close(p[1]);
    long rss0 = rss_kib();
    struct hub_options o = HUB_OPTIONS_INIT;
    o.max_queue = maxq;
    struct dill_hub *hub = hub_make(&o);
    if(!hub) die("hub_make");
    static int conns[10000], subs[10000];
    /* Connections arrive in order: the last is the slow one. */
    for(int i = 0; i != n; i++)
        conns[i] = bench_ws_take(ls, slowone && i == n - 1 ? shrink_snd :
            NULL, hub, "t", &subs[i]);
    /* Let the handshakes' buffers go back to the pool. */
    msleep(now() + 100);
    long rss1 = rss_kib(), peak = rss1;
    char *msg = malloc(msgsz);
    memset(msg, 'm', msgsz);
    double t0 = secs();
    long c0 = cpu_us();
    for(int j = 0; j != msgs; j++) {
        if(hub_publish(hub, "t", 0, msg, msgsz, -1) < 0) die("hub_publish");
        if(j % 16 == 15) yield();
        if(j % 128 == 127) {
            /* Paced to the readers that keep up (all but the last). */
            for(int i = 0; i != n - slowone; i++)
                while(dill__hub_queued(subs[i]) > maxq / 4) msleep(now() + 1);
            long r = rss_kib();
            if(r > peak) peak = r;
        }
    }
    if(hub_publish(hub, "t", 0, "E", 1, -1) < 0) die("hub_publish");
    long got = 0;
    if(fdin(p[0], -1) < 0) die("fdin");
    if(read(p[0], &got, sizeof(got)) != sizeof(got)) die("read");
    double t1 = secs();
    long c1 = cpu_us();
    long r = rss_kib();
    if(r > peak) peak = r;
    size_t slowq = dill__hub_queued(subs[n - 1]);
    printf("subscribers %d (%d not reading), %d messages of %zu B, max_queue "
        "%zu KiB, policy drop-oldest\n", n, slowone, msgs, msgsz, maxq / 1024);
    printf("server RSS: %ld KiB before, %ld KiB idle subscribers "
        "(%.2f KiB each), %ld KiB peak publishing (+%ld KiB)\n", rss0, rss1,
        (double)(rss1 - rss0) / n, peak, peak - rss1);
    printf("slow subscriber's queue at the end: %zu KiB; delivered %ld to "
        "the %d readers in %.1f s (%.0f/s, %.3f us CPU each)\n",
        slowq / 1024, got, n - slowone, t1 - t0, got / (t1 - t0),
        (double)(c1 - c0) / got);
    fdclean(p[0]);
    bench_ws_close(n, subs, conns);
    if(write(p[0], "x", 1) < 0) {}
    hub_free(hub);
    close(p[0]);
    hclose(ls);
    waitpid(pid, NULL, 0);
    free(msg);
    return 0;
}
