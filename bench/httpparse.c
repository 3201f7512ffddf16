/* Throughput of the handshake building blocks on a typical browser
   request (Chrome style, ~560 bytes):
     parse:     dill__http_parse_request alone
     server:    parse + dill__ws_check_request + dill__ws_build_response
                (includes SHA-1 and base64)
     client:    dill__http_parse_response + dill__ws_check_response
   and the parse of a 16,000-byte head arriving one byte at a time, parsed
   after every byte: re-parsed from the start each time, and resumed
   (dill__http_parse_request_r).
   Usage: bench_httpparse [seconds per figure, default 1] */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/httpparse.h"
#include "proto/wshs.h"
#include "../tests/ws_samples.h"

/* The Chrome-style request of the test suite's samples. */
#define request (ws_samples[0].text)

static const char response[] =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "\r\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile int sink;

static int run_parse(void) {
    struct dill__http_head h;
    return dill__http_parse_request(request, strlen(request), &h);
}

static int run_server(void) {
    static const char *const protos[] = {"superchat", "chat"};
    struct dill__http_head h;
    struct dill__ws_server_req r;
    char out[512];
    int n = dill__http_parse_request(request, strlen(request), &h);
    if(n <= 0 || dill__ws_check_request(&h, &r) != 0) abort();
    int p = dill__ws_choose_protocol(&r, protos, 2);
    return (int)dill__ws_build_response(out, sizeof(out), &r, protos[p],
        NULL, NULL);
}

static int run_client(void) {
    static const char *const protos[] = {"chat", "superchat"};
    static const struct dill__ws_client_opts o = {.resource = "/chat",
        .host = "example.com:8000", .protocols = protos, .nprotocols = 2};
    struct dill__http_head h;
    struct dill__ws_client_result r;
    int n = dill__http_parse_response(response, sizeof(response) - 1, &h);
    if(n <= 0) abort();
    return dill__ws_check_response(&h, &o, "dGhlIHNhbXBsZSBub25jZQ==", &r);
}

static void measure(const char *name, int (*fn)(void), size_t bytes,
      double secs) {
    long iters = 0, batch = 1000;
    double t0 = now_s(), dt;
    do {
        for(long i = 0; i < batch; i++) sink = fn();
        iters += batch;
        dt = now_s() - t0;
    } while(dt < secs);
    double rate = (double)iters / dt;
    printf("%-7s %10.0f handshakes/s  %7.1f ns each", name, rate,
        1e9 / rate);
    if(bytes) printf("  %7.1f MB/s", rate * (double)bytes / 1e6);
    printf("\n");
}

/* A valid upgrade request padded with 280-byte headers to ~16,000 bytes. */
static char big[16384];
static size_t bigsz;

static void make_big(void) {
    bigsz = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: bench\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n");
    for(int i = 0; bigsz + 300 < 16000 - 2; i++)
        bigsz += (size_t)sprintf(big + bigsz, "X-Fill-%02d: %0280d\r\n", i, 0);
    memcpy(big + bigsz, "\r\n", 2);
    bigsz += 2;
}

static int run_trickle_whole(void) {
    static struct dill__http_head h;
    int r = 0;
    for(size_t k = 1; k <= bigsz; k++)
        r = dill__http_parse_request(big, k, &h);
    return r;
}

static int run_trickle_resumed(void) {
    static struct dill__http_head h;
    struct dill__http_pstate ps = DILL__HTTP_PSTATE_INIT;
    int r = 0;
    for(size_t k = 1; k <= bigsz; k++)
        r = dill__http_parse_request_r(big, k, &h, &ps);
    return r;
}

static void measure_trickle(const char *name, int (*fn)(void),
      double secs) {
    long iters = 0;
    double t0 = now_s(), dt;
    do {
        if(fn() != (int)bigsz) abort();
        iters++;
        dt = now_s() - t0;
    } while(dt < secs);
    printf("trickle %-8s %8.3f ms per %zu-byte head fed byte by byte\n",
        name, dt / (double)iters * 1e3, bigsz);
}

int main(int argc, char *argv[]) {
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if(run_parse() != (int)strlen(request) || run_client() != 0) {
        fprintf(stderr, "self-check failed\n");
        return 1;
    }
    printf("request: %zu bytes, 14 headers (Chrome style)\n",
        strlen(request));
    measure("parse", run_parse, strlen(request), secs);
    measure("server", run_server, strlen(request), secs);
    measure("client", run_client, sizeof(response) - 1, secs);
    make_big();
    measure_trickle("whole", run_trickle_whole, secs);
    measure_trickle("resumed", run_trickle_resumed, secs);
    return 0;
}
