/* A raw WebSocket client's bytes, for tests that write them over any
   transport (a dill socket, an OpenSSL peer): the opening request and
   small masked frames. */

#ifndef DILL_TESTS_WSCLIENT_H
#define DILL_TESTS_WSCLIENT_H

#include <stdint.h>
#include <string.h>

/* The opening handshake (RFC 6455 section 1.3's sample key). */
static const char wsc_request[] __attribute__((unused)) =
    "GET / HTTP/1.1\r\nHost: localhost\r\n"
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

/* A client frame into out (len + 6 bytes): FIN, opcode, masked with the
   key 0 (the payload stays as it is), len < 126.  Returns its size. */
static inline size_t wsc_frame(uint8_t *out, int op, const void *p,
      size_t len) {
    out[0] = (uint8_t)(0x80 | op);
    out[1] = (uint8_t)(0x80 | len);
    memset(out + 2, 0, 4);
    memcpy(out + 6, p, len);
    return 6 + len;
}

#endif
