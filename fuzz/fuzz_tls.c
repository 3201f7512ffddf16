/* libFuzzer target: the TLS record path.  The first input byte picks the
   role (client or server), whether the peer's bytes come in one write or
   in small pieces, and the receiving call used after a handshake; the rest
   is what the peer sends: TLS records from a hostile or broken peer.
   Besides sanitizer reports it checks that the handshake fails with a
   documented errno and that the handle always closes. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libdill.h"

#define CHECK(x) do {if(!(x)) __builtin_trap();} while(0)

/* A throwaway self-signed P-256 certificate for "localhost", made for this
   target (the server role needs one; nothing trusts it). */
static const char cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgDCCASWgAwIBAgIUQ0a7TTLfAUHyIbr6OYor/nc3w+kwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNTIzMjE0M1oYDzIxMjYxMTEx\n"
    "MjMyMTQzWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAASEnAV2Cwk/UKfo59uh6o+Izj2x4M/fI60UHldLIQeAmntQwLEMLZn/\n"
    "nvxY4Srb4Lg039yZdkWyLxJa2+Z1C0f3o1MwUTAdBgNVHQ4EFgQUu9g8Nimw+VPQ\n"
    "dopwVgxSxIKtKvkwHwYDVR0jBBgwFoAUu9g8Nimw+VPQdopwVgxSxIKtKvkwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAxjMOIfDJ81abq8Ylld6I\n"
    "2EhE0hOGPmd7is8w2dFSTDQCIQDFNwpv5GWlCOCqXNmzSS1CaT/l6ls5ko4AObUH\n"
    "1GndXw==\n"
    "-----END CERTIFICATE-----\n"
    ;

static const char key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgo1EyH4CPDSZ11L2x\n"
    "gT7/weHRzniSb2kFAEAaMcLMe46hRANCAASEnAV2Cwk/UKfo59uh6o+Izj2x4M/f\n"
    "I60UHldLIQeAmntQwLEMLZn/nvxY4Srb4Lg039yZdkWyLxJa2+Z1C0f3\n"
    "-----END PRIVATE KEY-----\n"
    ;

/* The peer: sends data (in pieces of 1 + (step & 63) bytes when step is
   set), then ends its side of the stream (so that a handshake waiting for
   more fails at once) and reads what comes until the other side closes. */
coroutine static void peer(int s, const uint8_t *data, size_t size,
      int step) {
    size_t off = 0;
    while(off < size) {
        size_t n = step ? 1 + (size_t)(step & 63) : size - off;
        if(n > size - off) n = size - off;
        if(bsend(s, data + off, n, now() + 1000) < 0) break;
        off += n;
        if(step) yield();
    }
    ipc_done(s, now() + 1000);
    char buf[512];
    while(brecv(s, buf, 1, now() + 1000) == 0) {}
    hclose(s);
}

static struct tls_server_ctx *server_ctx(void) {
    static struct tls_server_ctx *ctx;
    if(!ctx) {
        struct tls_server_options o = TLS_SERVER_OPTIONS_INIT;
        o.cert_pem = cert_pem;
        o.key_pem = key_pem;
        ctx = tls_server_ctx_new(&o);
        CHECK(ctx);
    }
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if(size < 1) return 0;
    int mode = data[0];
    data++;
    size--;
    int p[2];
    if(ipc_pair(p) < 0) return 0;
    int w = go(peer(p[1], data, size, (mode & 2) ? mode >> 2 : 0));
    CHECK(w >= 0);
    int s;
    if(mode & 1)
        s = tls_attach_server_ctx(p[0], server_ctx(), NULL, now() + 1000);
    else {
        struct tls_client_options o = TLS_CLIENT_OPTIONS_INIT;
        o.server_name = "localhost";
        o.insecure_skip_verify = 1;
        s = tls_attach_client_opts(p[0], &o, NULL, now() + 1000);
    }
    if(s < 0)
        CHECK(errno == EPROTO || errno == ECONNRESET || errno == EPIPE ||
            errno == ETIMEDOUT || errno == EACCES || errno == ENOMEM);
    else {
        /* Not expected from random bytes, but whatever got this far is
           read until the peer is done. */
        char buf[256];
        for(int i = 0; i != 100; i++)
            if(brecv(s, buf, 1 + (size_t)i, now() + 1000) < 0) break;
        CHECK(hclose(s) == 0);
    }
    CHECK(hclose(w) == 0);
    return 0;
}
