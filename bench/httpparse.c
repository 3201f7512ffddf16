/* Throughput of the handshake building blocks on a typical browser
   request (Chrome style, ~560 bytes):
     parse:     dill__http_parse_request alone
     server:    parse + dill__ws_check_request + dill__ws_build_response
                (includes SHA-1 and base64)
     client:    dill__http_parse_response + dill__ws_check_response
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
    return 0;
}
