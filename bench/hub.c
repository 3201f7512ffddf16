/* Broadcast benchmark: one publisher to N WebSocket subscribers over
   loopback TCP, through a hub (hub_publish) and through a send loop
   (ws_send to every connection in turn), alternated.

   The subscribers are coroutines of a forked process that count what they
   receive; the publisher publishes 20-byte messages for the given time,
   then an end marker, and waits until every subscriber has seen it.
   Prints, per run: messages delivered per second and the publishing
   process's CPU time (user + system) per delivered message.

   Usage: bench_hub [seconds] [subscribers] [rounds]
   (defaults 2.0, 1000, 3) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "libdill.h"
#include "wsconn.h"

#define MSG 20

/* Subscriber side (child process). */
static long received;

coroutine static void subscriber(int ws, int done) {
    char b[MSG];
    int type;
    while(ws_recv(ws, &type, b, sizeof(b), -1) == MSG) {
        if(b[0] == 'E') break;
        received++;
    }
    bench_done(done);
}

static void child(int port, int n, int report) {
    int ch[2];
    if(chmake(ch) < 0) die("chmake");
    int b = bundle();
    for(int i = 0; i != n; i++)
        if(bundle_go(b, subscriber(bench_ws_dial(port, NULL), ch[1])) < 0)
            die("go");
    bench_wait(ch[0], n);
    if(write(report, &received, sizeof(received)) < 0) die("write");
    hclose(b);
}

/* Publisher side. */
static int conns[20000];
static struct dill_hub *hub;

static void publish_loop(int n, int use_hub, double dur) {
    char msg[MSG];
    memset(msg, 'm', sizeof(msg));
    double end = secs() + dur;
    while(secs() < end) {
        for(int k = 0; k != 1024; k++) {
            if(use_hub) {
                if(hub_publish(hub, "t", 0, msg, sizeof(msg), -1) < 0)
                    die("hub_publish");
                continue;
            }
            for(int i = 0; i != n; i++)
                if(ws_send(conns[i], 0, msg, sizeof(msg), -1) < 0)
                    die("ws_send");
        }
        if(use_hub) yield();
    }
    msg[0] = 'E';
    if(use_hub) {
        if(hub_publish(hub, "t", 0, msg, sizeof(msg), -1) < 0)
            die("hub_publish");
    }
    else for(int i = 0; i != n; i++)
        if(ws_send(conns[i], 0, msg, sizeof(msg), -1) < 0) die("ws_send");
}

static void run(int n, int use_hub, double dur) {
    struct ipaddr addr;
    ipaddr_local(&addr, "127.0.0.1", 0, 0);
    int ls = tcp_listen(&addr, 1024);
    if(ls < 0) die("tcp_listen");
    int p[2];
    if(pipe(p) < 0) die("pipe");
    pid_t pid = fork();
    if(pid < 0) die("fork");
    if(pid == 0) {
        close(p[0]);
        child(ipaddr_port(&addr), n, p[1]);
        _exit(0);
    }
    close(p[1]);
    int subs[20000];
    /* Policy WAIT: nothing is dropped, the publisher keeps pace with the
       slowest subscriber, as the send loop does. */
    struct hub_options o = HUB_OPTIONS_INIT;
    o.policy = HUB_WAIT;
    o.max_queue = 64 * 1024;
    hub = hub_make(&o);
    for(int i = 0; i != n; i++)
        conns[i] = bench_ws_take(ls, NULL, use_hub ? hub : NULL, "t",
            &subs[i]);
    long c0 = cpu_us();
    double t0 = secs();
    publish_loop(n, use_hub, dur);
    /* Delivered when every subscriber saw the end marker. */
    long got = 0;
    /* Waiting here lets the writers finish. */
    if(fdin(p[0], -1) < 0) die("fdin");
    if(read(p[0], &got, sizeof(got)) != sizeof(got)) die("read");
    fdclean(p[0]);
    double t1 = secs();
    long c1 = cpu_us();
    printf("%-9s %5d subscribers: %9.0f deliveries/s  %6.3f us CPU per "
        "delivery (%ld delivered)\n", use_hub ? "hub" : "send loop", n,
        got / (t1 - t0), (double)(c1 - c0) / got, got);
    fflush(stdout);
    bench_ws_close(n, subs, conns);
    hub_free(hub);
    close(p[0]);
    hclose(ls);
    waitpid(pid, NULL, 0);
}

int main(int argc, char **argv) {
    double dur = argc > 1 ? atof(argv[1]) : 2.0;
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    if(n < 1 || n > 10000) {fprintf(stderr, "1..10000 subscribers\n"); return 1;}
    bench_nofile();
    for(int r = 0; r != rounds; r++) {
        run(n, 1, dur);
        run(n, 0, dur);
    }
    return 0;
}
