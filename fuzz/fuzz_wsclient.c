/* libFuzzer target: the client side of the WebSocket opening handshake.
   The first input byte picks the options (subprotocols offered, whether
   the response is recorded, the receiving call after the upgrade, how the
   resumed parser is fed); the rest is what the server answers.  "@@@@" in
   it is replaced by the Sec-WebSocket-Accept that fits the client's random
   key, so that inputs can get past the handshake into the frames.
   Besides sanitizer reports it checks that the resumed response parser
   agrees with the one-shot parser, that the attach fails with a documented
   errno, that a recorded response is sane, and that the handle closes. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libdill.h"
#include "proto/httpparse.h"

#define CHECK(x) do {if(!(x)) __builtin_trap();} while(0)

/* The resumed parser, fed in steps of 1 + (step & 15) bytes, reports what
   the one-shot parser reports (an error at most later, at a line end). */
static void resumed(const uint8_t *data, size_t size, int step) {
    static struct dill__http_head h, one;
    struct dill__http_pstate ps = DILL__HTTP_PSTATE_INIT;
    const char *buf = (const char*)data;
    int whole = dill__http_parse_response(buf, size, &one);
    size_t k = 0;
    int rc = 0;
    while(k < size && rc == 0) {
        k += 1 + (size_t)(step & 15);
        if(k > size) k = size;
        rc = dill__http_parse_response_r(buf, k, &h, &ps);
        if(rc != 0) CHECK(rc == dill__http_parse_response(buf, k, &one));
    }
    if(whole > 0) {
        CHECK(rc == whole);
        CHECK(h.status == one.status && h.nheaders == one.nheaders);
        CHECK(memcmp(h.headers, one.headers,
            sizeof(h.headers[0]) * (size_t)h.nheaders) == 0);
    }
    else if(whole < 0 && rc == 0) {
        /* Late only while no line end has come since the first failing
           prefix (errors are stable: bisect for it). */
        size_t lo = 0, hi = size;
        while(lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if(dill__http_parse_response(buf, mid, &one) != 0) hi = mid;
            else lo = mid + 1;
        }
        CHECK(size <= DILL__HTTP_MAX_HEAD && lo >= 1 &&
            !memchr(buf + lo - 1, '\n', size - lo + 1));
    }
}

/* The server: reads the request, answers with data. */
coroutine static void server(int s, const uint8_t *data, size_t size) {
    char req[4096];
    size_t n = 0;
    while(n < sizeof(req) - 1 && (n < 4 || memcmp(req + n - 4, "\r\n\r\n", 4)))
        if(brecv(s, req + n, 1, now() + 1000) < 0) goto out;
        else n++;
    req[n] = 0;
    char key[WS_KEY_SIZE] = "", acc[WS_KEY_SIZE] = "";
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    if(k) {
        memcpy(key, k + 19, 24);
        key[24] = 0;
        CHECK(ws_response_key(key, acc) == 0);
    }
    uint8_t *out = malloc(size + 32);
    if(!out) goto out;
    memcpy(out, data, size);
    size_t len = size;
    uint8_t *at = memmem(out, len, "@@@@", 4);
    if(at && acc[0]) {
        memmove(at + 28, at + 4, len - (size_t)(at + 4 - out));
        memcpy(at, acc, 28);
        len += 24;
    }
    bsend(s, out, len, now() + 1000);
    free(out);
out:
    hclose(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if(size < 1) return 0;
    int mode = data[0];
    data++;
    size--;
    resumed(data, size, mode >> 3);
    int p[2];
    if(ipc_pair(p) < 0) return 0;
    int w = go(server(p[1], data, size));
    CHECK(w >= 0);
    static const char *const protos[] = {"chat", "superchat", NULL};
    struct ws_options o = WS_OPTIONS_INIT;
    struct ws_response r = WS_RESPONSE_INIT;
    if(mode & 1) o.protocols = protos;
    if(mode & 2) o.response = &r;
    int s = ws_attach_client_opts(p[0], "/chat", "example.com", &o, NULL,
        now() + 1000);
    if(s < 0) {
        CHECK(errno == EPROTO || errno == EACCES || errno == ECONNRESET ||
            errno == EPIPE || errno == ETIMEDOUT || errno == EMSGSIZE);
    }
    if(mode & 2) {
        CHECK(r.status == 0 || (r.status >= 100 && r.status <= 999));
        CHECK(r.nheaders >= 0 && memchr(r.reason, 0, sizeof(r.reason)));
        CHECK(memchr(r.headers, 0, sizeof(r.headers)));
    }
    if(s >= 0) {
        char buf[1024];
        if(mode & 1) {
            char pr[64];
            CHECK(ws_protocol(s, pr, sizeof(pr)) >= 0);
        }
        for(int calls = 0; calls != 1000; calls++) {
            int flags;
            ssize_t n = (mode & 4) ?
                ws_recv_part(s, &flags, buf, sizeof(buf), now() + 1000) :
                ws_recv(s, &flags, buf, sizeof(buf), now() + 1000);
            if(n >= 0) {CHECK((size_t)n <= sizeof(buf)); continue;}
            if(errno == EMSGSIZE) continue;
            CHECK(errno == EPIPE || errno == ECONNRESET || errno == EPROTO ||
                errno == ETIMEDOUT);
            break;
        }
        CHECK(hclose(s) == 0);
    }
    CHECK(hclose(w) == 0);
    return 0;
}
