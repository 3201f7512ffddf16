/* libFuzzer target: a WebSocket handle receiving arbitrary bytes from its
   peer.  The first input byte picks the role (client or server), the
   receiving call (whole messages, pieces, message-socket calls) and
   whether the server first performs the HTTP handshake, and (bit 4,
   without the handshake) permessage-deflate as if agreed, with the window
   bits and takeover settings of bits 5-7; the second byte
   sizes the receive buffer.  The rest is what the peer sends.  Beyond
   sanitizer reports it checks that calls return sane values and that the
   handle can always be closed. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libdill.h"
#include "proto/ws.h"

#define CHECK(x) do {if(!(x)) __builtin_trap();} while(0)

coroutine static void writer(int s, const uint8_t *p, size_t n) {
    bsend(s, p, n, now() + 1000);
    hclose(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if(size < 2) return 0;
    int mode = data[0];
    size_t cap = (size_t)data[1] * 37 + 1;
    data += 2;
    size -= 2;
    int p[2];
    if(ipc_pair(p) < 0) return 0;
    int server = mode & 1;
    int http = server && (mode & 4);
    int w = go(writer(p[1], data, size));
    CHECK(w >= 0);
    int s;
    if(server) {
        char res[64], host[64];
        s = ws_attach_server(p[0], (http ? 0 : WS_NOHTTP) | (mode & 8 ?
            WS_TEXT : 0), res, sizeof(res), host, sizeof(host), now() + 1000);
    }
    else
        s = ws_attach_client(p[0], WS_NOHTTP, NULL, NULL, -1);
    if(s >= 0 && (mode & 0x10) && !http) {
        /* Both directions with the same parameters: windows 8..15. */
        int bits = 8 + ((mode >> 5) & 7);
        struct dill__wsz_agreed a = {{(uint8_t)(mode >> 7),
            (uint8_t)(mode >> 7), (uint8_t)bits, (uint8_t)bits}, (uint8_t)bits,
            (uint8_t)(mode >> 7), (uint8_t)bits, (uint8_t)(mode >> 7)};
        struct dill__wsz_cfg cfg = {1, 15, 15, 8, 6};
        CHECK(dill__ws_zsetup(hquery(s, dill__ws_type), &a, &cfg, 1) == 0);
    }
    if(s >= 0) {
        uint8_t *buf = malloc(cap);
        int64_t deadline = now() + 1000;
        /* EMSGSIZE and EPROTO may be sticky (the connection failed) or
           not (message dropped): bound the calls. */
        for(int calls = 0; calls != 10000; calls++) {
            int flags = 0;
            ssize_t r;
            switch((mode >> 1) & 3) {
            case 0:
                r = ws_recv(s, &flags, buf, cap, deadline);
                break;
            case 1:
                r = ws_recv_part(s, &flags, buf, cap, deadline);
                break;
            default:
                r = mrecv(s, buf, cap, deadline);
                break;
            }
            if(r >= 0) {
                CHECK((size_t)r <= cap);
                continue;
            }
            if(errno == EMSGSIZE || (errno == EPROTO && (mode & 6) == 6))
                continue;
            CHECK(errno == EPIPE || errno == ECONNRESET ||
                errno == EPROTO || errno == ETIMEDOUT);
            break;
        }
        if(errno == EPIPE) {
            int status;
            CHECK(ws_status(s, &status, buf, cap) >= 0 || errno == EMSGSIZE);
        }
        free(buf);
        CHECK(hclose(s) == 0);
    }
    CHECK(hclose(w) == 0);
    return 0;
}
