/* Load generator for broadcast servers of any make (dill, uWebSockets,
   Node ws...): N WebSocket clients connect to ws://127.0.0.1:port/ on a
   server that relays every message it receives to every client, the sender
   included.  The clients are coroutines of this one process.

   chat: every client sends (the shape of uWebSockets' broadcast_test, and
   of bench_chat): client i sends its message k once it has received all
   k * N messages of the rounds before, so at most one round is in flight.
   fan: client 0 alone publishes, with at most `window` messages that some
   client has not yet received, so a relay never has to queue more than
   window messages per client.

   The server is an outside process: its CPU time (user + system, all its
   threads) is read from /proc/<pid>/stat before and after the timed part,
   its resident memory from /proc/<pid>/status at the end.  Prints, per
   run: messages delivered per second, the server's CPU per delivered
   message, the clients' own CPU, the server's RSS.  Every receive has a
   10-second deadline: a server that loses a message fails the run.

   Usage: bench_chatload port pid label chat|fan clients messages [window]
   (messages: per client for chat, in all for fan; window default 64)
   Messages are 20 bytes, binary. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "libdill.h"
#include "wsconn.h"

#define MSG 20
#define WAIT_MS 10000

static int nclients, fan, window;
static long msgs;
/* fan: deliveries so far, and the count the publisher waits for. */
static long delivered, want = -1;
static int wake[2];

/* Receives one relayed message within the deadline, or dies. */
static void take(int ws) {
    char b[64];
    int type;
    ssize_t n = ws_recv(ws, &type, b, sizeof(b), now() + WAIT_MS);
    if(n != MSG) {
        if(n >= 0) errno = EPROTO;
        die(n < 0 && errno == ETIMEDOUT ? "a message never came" : "ws_recv");
    }
    delivered++;
    if(want >= 0 && delivered >= want) {
        want = -1;
        int one = 1;
        if(chsend(wake[0], &one, sizeof(one), -1) < 0) die("chsend");
    }
}

coroutine static void chatter(int ws, int done) {
    char b[MSG];
    memset(b, 'a' + (int)(ws % 26), sizeof(b));
    long got = 0;
    for(long k = 0; k != msgs; k++) {
        if(ws_send(ws, WS_BINARY, b, MSG, now() + WAIT_MS) < 0) die("ws_send");
        for(; got < (k + 1) * nclients; got++) take(ws);
    }
    bench_done(done);
}

coroutine static void listener(int ws, int done) {
    for(long k = 0; k != msgs; k++) take(ws);
    bench_done(done);
}

/* Sends message k once every client has every message before k - window. */
coroutine static void publisher(int ws) {
    char b[MSG];
    memset(b, 'p', sizeof(b));
    for(long k = 0; k != msgs; k++) {
        long need = (k - window + 1) * nclients;
        if(delivered < need) {
            want = need;
            int one;
            if(chrecv(wake[1], &one, sizeof(one), now() + WAIT_MS) < 0)
                die("publisher's wait");
        }
        if(ws_send(ws, WS_BINARY, b, MSG, now() + WAIT_MS) < 0) die("ws_send");
    }
}

int main(int argc, char **argv) {
    if(argc < 7) {
        fprintf(stderr, "usage: bench_chatload port pid label chat|fan "
            "clients messages [window]\n");
        return 2;
    }
    int port = atoi(argv[1]), pid = atoi(argv[2]);
    const char *label = argv[3];
    fan = strcmp(argv[4], "fan") == 0;
    nclients = atoi(argv[5]);
    msgs = atol(argv[6]);
    window = argc > 7 ? atoi(argv[7]) : 64;
    if(nclients < 1 || nclients > 20000 || msgs < 1 || window < 1 ||
       (!fan && strcmp(argv[4], "chat") != 0)) {
        fprintf(stderr, "bench_chatload: bad arguments\n");
        return 2;
    }
    bench_nofile();
    int *ws = malloc(sizeof(int) * nclients);
    if(!ws) die("malloc");
    for(int i = 0; i != nclients; i++) ws[i] = bench_ws_dial(port, NULL);
    /* Servers subscribe a client right after its handshake; give the last
       ones time to do so before anybody sends. */
    msleep(now() + 300);
    if(chmake(wake) < 0) die("chmake");
    int done[2];
    if(chmake(done) < 0) die("chmake");
    int b = bundle();
    double s0 = proc_cpu(pid);
    long c0 = cpu_us();
    double t0 = secs();
    for(int i = 0; i != nclients; i++)
        if(bundle_go(b, fan ? listener(ws[i], done[1])
                            : chatter(ws[i], done[1])) < 0)
            die("go");
    if(fan && bundle_go(b, publisher(ws[0])) < 0) die("go");
    bench_wait(done[0], nclients);
    double t1 = secs();
    double s1 = proc_cpu(pid);
    char status[64];
    snprintf(status, sizeof(status), "/proc/%d/status", pid);
    long c1 = cpu_us();
    double got = fan ? (double)msgs * nclients
                     : (double)msgs * nclients * nclients;
    if(delivered != (long)got) {
        fprintf(stderr, "bench_chatload: %ld delivered, %.0f expected\n",
            delivered, got);
        return 1;
    }
    printf("%-10s %-4s %5d clients: %9.0f deliveries/s  %6.3f us server CPU "
        "per delivery  (server CPU %.2f s, clients' CPU %.2f s, %.0f "
        "delivered, server RSS %ld KiB)\n",
        label, fan ? "fan" : "chat", nclients, got / (t1 - t0),
        (s1 - s0) * 1e6 / got, s1 - s0, (c1 - c0) / 1e6, got,
        proc_kib(status, "VmRSS"));
    fflush(stdout);
    hclose(b);
    for(int i = 0; i != nclients; i++) hclose(ws[i]);
    free(ws);
    hclose(done[0]);
    hclose(done[1]);
    hclose(wake[0]);
    hclose(wake[1]);
    return 0;
}
