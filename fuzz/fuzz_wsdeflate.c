/* libFuzzer target for permessage-deflate: the inflate path with random
   negotiated parameters, and the negotiation parsers on the same bytes.

   Input: byte 0 = window bits (8 + b % 8), bit 3 no context takeover;
   byte 1 = message limit (0: none, else byte * 97); byte 2 = split seed;
   then messages, each a 2-byte big-endian length and that many compressed
   bytes.  Every message is inflated twice, with the input and output cut
   at seeded points and whole, on two decompressors with the same history:
   results and output must agree (see below for the one exception),
   output never passes limit + 1, and the
   only errors are the documented codes.  The whole input is also given
   to the offer/answer parsers as a Sec-WebSocket-Extensions value. */

#if !DILL_HAVE_ZLIB
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    return 0;
}
#else

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/httpparse.h"
#include "proto/wsdeflate.h"

#define CHECK(x) do {if(!(x)) abort();} while(0)

static uint32_t next(uint32_t *s) {
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

/* Inflates one message; returns the result (size or code) and a hash. */
static ssize_t run(struct dill__wsz_inf *f, const uint8_t *in, size_t n,
      uint32_t *seed, uint64_t max, uint32_t *hash) {
    static uint8_t out[70000];
    dill__wsz_inf_begin(f, max);
    size_t pos = 0, got = 0;
    *hash = 2166136261u;
    while(1) {
        size_t k = seed ? 1 + next(seed) % 64 : n;
        if(k > n - pos) k = n - pos;
        dill__wsz_inf_input(f, in + pos, k, pos + k == n);
        pos += k;
        while(!dill__wsz_inf_idle(f)) {
            size_t cap = seed ? 1 + next(seed) % 700 : sizeof(out);
            ssize_t r = dill__wsz_inf_output(f, out, cap);
            if(r < 0) {
                CHECK(r == DILL__WSZ_EDATA || r == DILL__WSZ_ETOOBIG);
                CHECK(r != DILL__WSZ_ETOOBIG || (max && f->total == max + 1));
                return r;
            }
            CHECK((size_t)r <= cap);
            for(ssize_t i = 0; i != r; i++)
                *hash = (*hash ^ out[i]) * 16777619u;
            got += (size_t)r;
            CHECK(!max || got <= max);
            if(dill__wsz_inf_done(f)) return (ssize_t)got;
        }
        CHECK(pos < n);
    }
}

static void negotiate(const uint8_t *data, size_t size) {
    static const struct dill__wsz_cfg cfgs[] = {{0, 15, 15, 8, 6},
        {1, 15, 15, 8, 6}, {1, 9, 9, 1, 6}, {1, 12, 10, 4, 6}};
    struct dill__http_head h;
    memset(&h, 0, sizeof(h));
    h.nheaders = 1;
    h.headers[0].name = "Sec-WebSocket-Extensions";
    h.headers[0].namelen = 24;
    h.headers[0].value = (const char*)data;
    h.headers[0].valuelen = size;
    for(int i = 0; i != 4; i++) {
        struct dill__wsz_agreed a;
        char buf[256];
        int r = dill__wsz_server(&h, &cfgs[i], &a, buf, sizeof(buf));
        CHECK(r == 0 || r == 1);
        if(r == 1) {
            CHECK(a.send_bits >= 8 && a.send_bits <= cfgs[i].send_bits);
            CHECK(a.recv_bits >= 8 && a.recv_bits <= 15);
            /* Our answer is one a client that offered it accepts. */
            struct dill__wsz_params p;
            CHECK(dill__wsz_parse(buf, strlen(buf), &p) == 1);
        }
        r = dill__wsz_client((const char*)data, size, &cfgs[i], &a);
        CHECK(r == 0 || r == -EPROTO);
        if(r == 0) CHECK(a.send_bits >= 8 && a.recv_bits <= 15);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    negotiate(data, size);
    if(size < 3) return 0;
    struct dill__wsz_inf f1 = {0}, f2 = {0};
    f1.bits = f2.bits = (uint8_t)(8 + (data[0] & 7));
    f1.no_ctx = f2.no_ctx = (data[0] >> 3) & 1;
    uint64_t max = (uint64_t)data[1] * 97;
    uint32_t seed = data[2];
    size_t pos = 3;
    while(pos + 2 <= size) {
        size_t n = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if(n > size - pos) n = size - pos;
        uint32_t h1, h2;
        ssize_t r1 = run(&f1, data + pos, n, &seed, max, &h1);
        ssize_t r2 = run(&f2, data + pos, n, NULL, max, &h2);
        /* zlib's inflate takes distances up to the window plus what the
           current call has written, so bigger output buffers accept more
           of the streams that go beyond the agreed window: the cut run
           may fail with EDATA where the whole one succeeds, or gets far
           enough to pass the size limit (ETOOBIG); never the other way.
           Either way such a stream fails the connection. */
        CHECK(r1 == r2 || (r1 == DILL__WSZ_EDATA &&
            (r2 >= 0 || r2 == DILL__WSZ_ETOOBIG)));
        /* After an error the connection is failed: stop there. */
        if(r1 < 0 || r2 < 0) break;
        CHECK(h1 == h2);
        if(f1.no_ctx) CHECK(f1.z == NULL && f2.z == NULL);
        pos += n;
    }
    dill__wsz_inf_free(&f1);
    dill__wsz_inf_free(&f2);
    return 0;
}

#endif
