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

static const char request[] =
    "GET /chat HTTP/1.1\r\n"
    "Host: example.com:8000\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=abc123; theme=dark\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; "
        "client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "\r\n";

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
    return dill__http_parse_request(request, sizeof(request) - 1, &h);
}

static int run_server(void) {
    static const char *const protos[] = {"superchat", "chat"};
    struct dill__http_head h;
    struct dill__ws_server_req r;
    char out[512];
    int n = dill__http_parse_request(request, sizeof(request) - 1, &h);
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
    if(run_parse() != (int)sizeof(request) - 1 || run_client() != 0) {
        fprintf(stderr, "self-check failed\n");
        return 1;
    }
    printf("request: %zu bytes, 14 headers (Chrome style)\n",
        sizeof(request) - 1);
    measure("parse", run_parse, sizeof(request) - 1, secs);
    measure("server", run_server, sizeof(request) - 1, secs);
    measure("client", run_client, sizeof(response) - 1, secs);
    return 0;
}
