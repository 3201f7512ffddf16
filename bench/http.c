/* Throughput of the line-oriented HTTP layer (http_attach and friends)
   over an ipc_pair:
     recv:       a raw writer streams a typical browser request head (~560
                 bytes, 14 fields) over and over; the reader parses each
                 with http_recvrequest/http_recvfield, then http_detach and
                 http_attach again for the next one
     roundtrip:  request head (3 fields) and response head (2 fields),
                 both sides using the HTTP layer, one exchange at a time
   Usage: bench_http [seconds per figure, default 1] */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libdill.h"
#include "../tests/ws_samples.h"
#include "clock.h"

/* The Chrome-style request of the test suite's samples. */
#define request (ws_samples[0].text)

coroutine void writer(int s) {
    /* Several heads per write, as a pipelining client would send them. */
    char buf[8 * 1024];
    size_t n = strlen(request);
    for(int i = 0; i != 8; i++) memcpy(buf + i * n, request, n);
    while(bsend(s, buf, n * 8, -1) == 0) {}
}

/* Reads one head; returns its number of fields. */
static int read_head(int h) {
    char cmd[16], res[256], name[64], value[256];
    if(http_recvrequest(h, cmd, sizeof(cmd), res, sizeof(res), -1) < 0)
        die("http_recvrequest");
    int n = 0;
    while(http_recvfield(h, name, sizeof(name), value, sizeof(value),
        -1) == 0) n++;
    if(errno != EPIPE) die("http_recvfield");
    return n;
}

static void bench_recv(double secs) {
    int s[2];
    if(ipc_pair(s) < 0) die("ipc_pair");
    int w = go(writer(s[0]));
    if(w < 0) die("go");
    int u = s[1];
    long heads = 0;
    int64_t start = now(), end = start + (int64_t)(secs * 1000);
    while(now() < end) {
        for(int i = 0; i != 100; i++) {
            int h = http_attach(u);
            if(h < 0) die("http_attach");
            if(read_head(h) != 14) {fprintf(stderr, "bad head\n"); exit(1);}
            u = http_detach(h, -1);
            if(u < 0) die("http_detach");
        }
        heads += 100;
    }
    double t = (double)(now() - start) / 1000;
    printf("recv:      %9.0f heads/s  %7.1f MB/s\n", heads / t,
        heads * (double)(strlen(request)) / t / 1e6);
    hclose(w);
    hclose(s[0]);
    hclose(u);
}

coroutine void responder(int u) {
    char cmd[16], res[64], name[64], value[64];
    while(1) {
        int h = http_attach(u);
        if(h < 0) return;
        if(http_recvrequest(h, cmd, sizeof(cmd), res, sizeof(res), -1) < 0)
            {hclose(h); return;}
        while(http_recvfield(h, name, sizeof(name), value, sizeof(value),
            -1) == 0) {}
        if(http_sendstatus(h, 200, "OK", -1) < 0 ||
           http_sendfield(h, "Content-Length", "0", -1) < 0 ||
           http_sendfield(h, "Server", "dill", -1) < 0 ||
           http_done(h, -1) < 0) {hclose(h); return;}
        u = http_detach(h, -1);
        if(u < 0) return;
    }
}

static void bench_roundtrip(double secs) {
    int s[2];
    if(ipc_pair(s) < 0) die("ipc_pair");
    int r = go(responder(s[1]));
    if(r < 0) die("go");
    int u = s[0];
    long n = 0;
    int64_t start = now(), end = start + (int64_t)(secs * 1000);
    char reason[16], name[64], value[64];
    while(now() < end) {
        for(int i = 0; i != 100; i++) {
            int h = http_attach(u);
            if(h < 0) die("http_attach");
            if(http_sendrequest(h, "GET", "/index.html", -1) < 0 ||
               http_sendfield(h, "Host", "example.com", -1) < 0 ||
               http_sendfield(h, "Accept", "*/*", -1) < 0 ||
               http_sendfield(h, "User-Agent", "bench", -1) < 0 ||
               http_done(h, -1) < 0) die("send");
            if(http_recvstatus(h, reason, sizeof(reason), -1) != 200)
                die("http_recvstatus");
            while(http_recvfield(h, name, sizeof(name), value,
                sizeof(value), -1) == 0) {}
            u = http_detach(h, -1);
            if(u < 0) die("http_detach");
        }
        n += 100;
    }
    double t = (double)(now() - start) / 1000;
    printf("roundtrip: %9.0f exchanges/s\n", n / t);
    hclose(u);
    hclose(r);
}

int main(int argc, char *argv[]) {
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    bench_recv(secs);
    bench_roundtrip(secs);
    return 0;
}
