/* All-to-all chat benchmark, the shape of uWebSockets' broadcast_test: N
   WebSocket clients in a room; every client sends, and every message goes
   to every client (the sender included).  The server relays through a hub
   (hub_publish to the room's topic) or through a send loop (ws_send to
   every connection in turn), alternated.

   The clients are coroutines of a forked process.  They go in rounds:
   client i sends its message k once it has received all k * N messages of
   the rounds before, so at most one round is in flight and neither relay
   ever has to queue more than a round.  Prints, per run: messages
   delivered per second, the server's CPU time (user + system) per
   delivered message, and the clients' CPU time.

   With "deflate" the messages are 1 KiB of JSON-like text and both sides
   agree permessage-deflate without context takeover: the hub compresses
   each message once, the loop once per connection.

   Usage: bench_chat [rounds] [clients] [runs] [hub|loop|both] [deflate]
   (defaults 300, 100, 3, both, plain 20-byte messages) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "libdill.h"
#include "wsconn.h"

#define MAXMSG 1024
static size_t msgsz = 20;

/* Clients (child process). */

/* Text that compresses like chat JSON does. */
static void fill(char *b, size_t n, int who) {
    static const char *w[] = {"{\"user\":", "\"alice\",", "\"text\":",
        "\"hello there\",", "\"ts\":", "1733450000,", "\"room\":",
        "\"lobby\"}"};
    size_t i = 0;
    for(int k = who; i < n; k++)
        for(const char *p = w[k % 8]; *p && i < n; p++) b[i++] = *p;
}

coroutine static void client(int ws, int n, int rounds, int done) {
    char b[MAXMSG];
    fill(b, msgsz, (int)(ws % 8));
    long got = 0, want = (long)n * rounds;
    int type;
    for(int k = 0; k != rounds; k++) {
        if(ws_send(ws, WS_BINARY, b, msgsz, -1) < 0) die("ws_send");
        while(got < (long)(k + 1) * n) {
            if(ws_recv(ws, &type, b, sizeof(b), -1) != (ssize_t)msgsz)
                die("ws_recv");
            got++;
        }
    }
    if(got != want) die("count");
    bench_done(done);
}

static void clients(int port, int n, int rounds, int start, int report) {
    int ws[1000];
    for(int i = 0; i != n; i++) ws[i] = bench_ws_dial(port, NULL);
    /* Everybody is in the room before the first message. */
    char c;
    if(fdin(start, -1) < 0 || read(start, &c, 1) != 1) die("start");
    long c0 = cpu_us();
    int ch[2];
    if(chmake(ch) < 0) die("chmake");
    int b = bundle();
    for(int i = 0; i != n; i++)
        if(bundle_go(b, client(ws[i], n, rounds, ch[1])) < 0) die("go");
    bench_wait(ch[0], n);
    long cpu = cpu_us() - c0;
    if(write(report, &cpu, sizeof(cpu)) < 0) die("write");
    hclose(b);
    for(int i = 0; i != n; i++) hclose(ws[i]);
}

/* Server. */

static int conns[1000];
static int nconns;
static struct dill_hub *room;

coroutine static void member(int ws, int use_hub) {
    char b[MAXMSG];
    int type;
    ssize_t n;
    while((n = ws_recv(ws, &type, b, sizeof(b), -1)) >= 0) {
        if(use_hub) {
            if(hub_publish(room, "room", 0, b, n, -1) < 0) die("hub_publish");
            continue;
        }
        for(int i = 0; i != nconns; i++)
            if(ws_send(conns[i], WS_BINARY, b, n, -1) < 0) die("ws_send");
    }
}

static void run(int n, int use_hub, int rounds) {
    struct ipaddr addr;
    ipaddr_local(&addr, "127.0.0.1", 0, 0);
    int ls = tcp_listen(&addr, 1024);
    if(ls < 0) die("tcp_listen");
    int start[2], rep[2];
    if(pipe(start) < 0 || pipe(rep) < 0) die("pipe");
    pid_t pid = fork();
    if(pid < 0) die("fork");
    if(pid == 0) {
        close(start[1]);
        close(rep[0]);
        clients(ipaddr_port(&addr), n, rounds, start[0], rep[1]);
        _exit(0);
    }
    close(start[0]);
    close(rep[1]);
    /* Nothing dropped: the hub waits for room like the loop does. */
    struct hub_options o = HUB_OPTIONS_INIT;
    o.policy = HUB_WAIT;
    o.max_queue = 64 * 1024;
    room = hub_make(&o);
    if(!room) die("hub_make");
    int subs[1000];
    int b = bundle();
    nconns = n;
    for(int i = 0; i != n; i++) {
        conns[i] = bench_ws_take(ls, NULL, use_hub ? room : NULL, "room",
            &subs[i]);
        if(bundle_go(b, member(conns[i], use_hub)) < 0) die("go");
    }
    long c0 = cpu_us();
    double t0 = secs();
    if(write(start[1], "g", 1) != 1) die("write");
    long ccpu = 0;
    if(fdin(rep[0], -1) < 0) die("fdin");
    if(read(rep[0], &ccpu, sizeof(ccpu)) != sizeof(ccpu)) die("read");
    double t1 = secs();
    long c1 = cpu_us();
    double got = (double)n * n * rounds;
    printf("%-9s %4d clients x %d rounds: %9.0f deliveries/s  %6.3f us "
        "server CPU per delivery  (clients' CPU %.2f s, %.0f delivered)\n",
        use_hub ? "hub" : "send loop", n, rounds, got / (t1 - t0),
        (c1 - c0) / got, ccpu / 1e6, got);
    fflush(stdout);
    fdclean(rep[0]);
    hclose(b);
    bench_ws_close(n, subs, conns);
    hub_free(room);
    close(start[1]);
    close(rep[0]);
    hclose(ls);
    waitpid(pid, NULL, 0);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 300;
    int n = argc > 2 ? atoi(argv[2]) : 100;
    int runs = argc > 3 ? atoi(argv[3]) : 3;
    const char *only = argc > 4 ? argv[4] : "";
    struct ws_options zo = WS_OPTIONS_INIT;
    if(argc > 5 && strcmp(argv[5], "deflate") == 0) {
        zo.deflate = WS_DEFLATE;
        msgsz = MAXMSG;
        bench_wsopts = &zo;
    }
    if(n < 1 || n > 1000 || rounds < 1) {
        fprintf(stderr, "usage: bench_chat [rounds] [1..1000 clients] [runs]\n");
        return 1;
    }
    for(int r = 0; r != runs; r++) {
        if(strcmp(only, "loop") != 0) run(n, 1, rounds);
        if(strcmp(only, "hub") != 0) run(n, 0, rounds);
    }
    return 0;
}
