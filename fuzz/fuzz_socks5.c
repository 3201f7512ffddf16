/* libFuzzer target: the SOCKS5 message functions (src/proto/socks5msg.h).
   The first input byte picks the message kind, the rest is the peer's
   byte stream, read the way the socket layer reads it (only as many bytes
   as dill__socks5_msglen asks for).  Besides crashes and sanitizer reports
   it checks that the length never shrinks or exceeds the maximum, that a
   complete message parses, and that a parsed REQUEST/REPLY or AUTH builds
   back to the same bytes. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/socks5msg.h"

#define CHECK(x) do {if(!(x)) __builtin_trap();} while(0)

static void check_complete(int kind, const uint8_t *m, size_t len) {
    switch(kind) {
    case DILL__SOCKS5_GREETING: {
        CHECK(len == 2u + m[1] && m[1] > 0);
        int c = dill__socks5_choose(m, len, m[2] & 1);
        CHECK(c == DILL__SOCKS5_NOAUTH || c == DILL__SOCKS5_USERPASS ||
            c == DILL__SOCKS5_NOMETHOD);
        break;
    }
    case DILL__SOCKS5_CHOICE: {
        int c = dill__socks5_choice(m, 1);
        CHECK(c == DILL__SOCKS5_NOAUTH || c == DILL__SOCKS5_USERPASS ||
            c < 0);
        break;
    }
    case DILL__SOCKS5_AUTH: {
        char u[256], p[256];
        if(dill__socks5_auth_parse(m, len, u, p) < 0) break;
        uint8_t out[DILL__SOCKS5_MAXMSG];
        CHECK(dill__socks5_auth(out, u, p) == (ssize_t)len);
        CHECK(memcmp(out, m, len) == 0);
        break;
    }
    case DILL__SOCKS5_AUTHREPLY:
        CHECK(dill__socks5_authreply(m) == (m[1] ? -EACCES : 0));
        break;
    default: {
        int code;
        struct dill__socks5_addr a;
        if(dill__socks5_command_parse(m, len, &code, &a) < 0) break;
        uint8_t out[262];
        CHECK(dill__socks5_command(out, code, &a) == (ssize_t)len);
        /* RSV is not kept. */
        CHECK(memcmp(out, m, 2) == 0 && memcmp(out + 3, m + 3, len - 3) == 0);
        CHECK(dill__socks5_reply_errno(code) != 0);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if(size < 1) return 0;
    int kind = data[0] % 6;
    data++;
    size--;
    /* An exact-size copy: any read past the end is reported. */
    uint8_t *buf = malloc(size ? size : 1);
    if(!buf) return 0;
    memcpy(buf, data, size);
    size_t have = 0;
    int n;
    while((n = dill__socks5_msglen(kind, buf, have)) > (int)have) {
        CHECK(n <= DILL__SOCKS5_MAXMSG);
        if((size_t)n > size) break;
        have = (size_t)n;
    }
    if(n == (int)have) check_complete(kind, buf, have);
    else CHECK(n < 0 || (size_t)n > size);
    free(buf);
    return 0;
}
