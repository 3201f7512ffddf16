/* WebSocket frame codec: RFC 6455 section 5.7 examples byte for byte,
   every protocol violation the checker knows, masking against a
   byte-by-byte reference, Close payloads, and the incremental decoder fed
   whole, byte by byte and at random split points. */

#include "assert.h"
#include "emu.h"

#include "proto/wsframe.h"
#include "wsdrive.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static size_t cut_random(void *ctx, size_t pos, size_t left) {
    size_t max = *(size_t*)ctx;
    size_t k = 1 + rnd() % max;
    return k < left ? k : left;
}

/* As a client we receive unmasked frames, as a server masked ones. */
static const struct wsd_cfg CLIENT = {0, 0, 0, DILL__WS_DEC_UTF8};
static const struct wsd_cfg SERVER = {DILL__WS_SERVER, 0, 0,
    DILL__WS_DEC_UTF8};

/* Decodes p whole, byte by byte and at random split points; all must
   agree.  Returns the whole-buffer recording in *out and, through
   *byte_error_at, how many bytes the byte-by-byte run had fed when the
   decoder failed (0 when it did not). */
static void decode(const struct wsd_cfg *cfg, const uint8_t *p, size_t n,
      struct wsd_log *out, size_t *byte_error_at) {
    memset(out, 0, sizeof(*out));
    wsd_run(out, cfg, p, n, wsd_cut_whole, NULL);
    struct wsd_log b = {0};
    wsd_run(&b, cfg, p, n, wsd_cut_bytes, NULL);
    assert(wsd_same(out, &b));
    if(byte_error_at) *byte_error_at = b.error ? b.error_at : 0;
    wsd_free(&b);
    static const size_t maxes[] = {2, 3, 7, 16, 100, 5000};
    for(size_t i = 0; i != sizeof(maxes) / sizeof(maxes[0]); i++) {
        for(int round = 0; round != 4; round++) {
            struct wsd_log r = {0};
            size_t max = maxes[i];
            wsd_run(&r, cfg, p, n, cut_random, &max);
            assert(wsd_same(out, &r));
            wsd_free(&r);
        }
    }
}

/* Expects decoding to fail with code; at, when not 0, is how many bytes
   the byte-by-byte run must have fed when it failed (the index of the
   culprit byte + 1). */
static void expect_error(const struct wsd_cfg *cfg, const uint8_t *p,
      size_t n, int code, size_t at) {
    struct wsd_log log;
    size_t bat;
    decode(cfg, p, n, &log, &bat);
    if(log.error != code || (at && bat != at)) {
        fprintf(stderr, "expected error %d at %zu, got %d at %zu\n", code,
            at, log.error, bat);
        assert(0);
    }
    wsd_free(&log);
}

static void expect_ok(const struct wsd_cfg *cfg, const uint8_t *p,
      size_t n, size_t nframes) {
    struct wsd_log log;
    decode(cfg, p, n, &log, NULL);
    if(log.error || log.nf != nframes) {
        fprintf(stderr, "expected %zu frames, got %zu, error %d\n", nframes,
            log.nf, log.error);
        assert(0);
    }
    for(size_t i = 0; i != log.nf; i++) assert(log.f[i].ended);
    wsd_free(&log);
}

/* Appends a frame to a stream under construction. */
struct stream {
    uint8_t buf[1 << 17];
    size_t n;
};

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

static void put(struct stream *s, int fin, int op, int rsv, int masked,
      const void *payload, size_t len) {
    assert(s->n + DILL__WS_HDR_MAX + len <= sizeof(s->buf));
    s->n += dill__ws_build_frame(s->buf + s->n, fin, op, rsv,
        masked ? KEY : NULL, payload, len);
}

/******************************************************************************/
/*  RFC 6455 section 5.7                                                      */
/******************************************************************************/

static void check_example(const struct wsd_cfg *cfg, const uint8_t *p,
      size_t n, size_t nframes, int op, const char *payload) {
    struct wsd_log log;
    decode(cfg, p, n, &log, NULL);
    assert(log.error == 0 && log.nf == nframes);
    size_t plen = strlen(payload), got = 0;
    uint8_t all[64];
    for(size_t i = 0; i != log.nf; i++) {
        assert(log.f[i].ended);
        assert(log.f[i].hdr.opcode == (i == 0 ? op : DILL__WS_CONT));
        assert(log.f[i].hdr.fin == (i + 1 == nframes));
        memcpy(all + got, log.f[i].data, log.f[i].len);
        got += log.f[i].len;
    }
    assert(got == plen && memcmp(all, payload, plen) == 0);
    assert(log.f[nframes - 1].msg_end == !dill__ws_is_control(op));
    wsd_free(&log);
}

static void rfc_examples(void) {
    uint8_t out[1 << 17];
    /* A single-frame unmasked text message. */
    static const uint8_t text[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c,
        0x6f};
    assert(dill__ws_build_frame(out, 1, DILL__WS_TEXT, 0, NULL, "Hello", 5)
        == sizeof(text));
    assert(memcmp(out, text, sizeof(text)) == 0);
    check_example(&CLIENT, text, sizeof(text), 1, DILL__WS_TEXT,
        "Hello");
    struct dill__ws_hdr h;
    assert(dill__ws_parse_header(text, sizeof(text), &h) == 2);
    assert(h.fin == 1 && h.rsv == 0 && h.opcode == 1 && !h.masked &&
        h.len == 5 && h.minimal);
    /* A single-frame masked text message. */
    static const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
        0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert(dill__ws_build_frame(out, 1, DILL__WS_TEXT, 0, KEY, "Hello", 5)
        == sizeof(masked));
    assert(memcmp(out, masked, sizeof(masked)) == 0);
    check_example(&SERVER, masked, sizeof(masked), 1, DILL__WS_TEXT,
        "Hello");
    assert(dill__ws_parse_header(masked, sizeof(masked), &h) == 6);
    assert(h.masked && memcmp(h.key, KEY, 4) == 0 && h.len == 5);
    /* The wrong side rejects each. */
    expect_error(&SERVER, text, sizeof(text), 1002, 2);
    expect_error(&CLIENT, masked, sizeof(masked), 1002, 6);
    /* A fragmented unmasked text message. */
    static const uint8_t frag[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80,
        0x02, 0x6c, 0x6f};
    size_t k = dill__ws_build_frame(out, 0, DILL__WS_TEXT, 0, NULL, "Hel",
        3);
    k += dill__ws_build_frame(out + k, 1, DILL__WS_CONT, 0, NULL, "lo", 2);
    assert(k == sizeof(frag) && memcmp(out, frag, k) == 0);
    check_example(&CLIENT, frag, sizeof(frag), 2, DILL__WS_TEXT,
        "Hello");
    /* Unmasked Ping and masked Pong. */
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c,
        0x6f};
    assert(dill__ws_build_frame(out, 1, DILL__WS_PING, 0, NULL, "Hello", 5)
        == sizeof(ping));
    assert(memcmp(out, ping, sizeof(ping)) == 0);
    check_example(&CLIENT, ping, sizeof(ping), 1, DILL__WS_PING,
        "Hello");
    static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
        0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert(dill__ws_build_frame(out, 1, DILL__WS_PONG, 0, KEY, "Hello", 5)
        == sizeof(pong));
    assert(memcmp(out, pong, sizeof(pong)) == 0);
    check_example(&SERVER, pong, sizeof(pong), 1, DILL__WS_PONG,
        "Hello");
    /* 256 bytes and 64 KiB of binary data in a single unmasked frame. */
    static const uint8_t h256[] = {0x82, 0x7E, 0x01, 0x00};
    static const uint8_t h64k[] = {0x82, 0x7F, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00};
    static uint8_t data[65536];
    for(size_t i = 0; i != sizeof(data); i++) data[i] = (uint8_t)(i * 7);
    struct {const uint8_t *hdr; size_t hlen, len;} big[] = {
        {h256, sizeof(h256), 256}, {h64k, sizeof(h64k), 65536}};
    for(int i = 0; i != 2; i++) {
        assert(dill__ws_build_header(out, 1, DILL__WS_BINARY, 0, NULL,
            big[i].len) == big[i].hlen);
        assert(memcmp(out, big[i].hdr, big[i].hlen) == 0);
        size_t n = dill__ws_build_frame(out, 1, DILL__WS_BINARY, 0, NULL,
            data, big[i].len);
        assert(n == big[i].hlen + big[i].len);
        assert(memcmp(out, big[i].hdr, big[i].hlen) == 0);
        struct wsd_log log;
        decode(&CLIENT, out, n, &log, NULL);
        assert(!log.error && log.nf == 1 && log.f[0].ended);
        assert(log.f[0].hdr.len == big[i].len && log.f[0].hdr.minimal);
        assert(memcmp(log.f[0].data, data, big[i].len) == 0);
        wsd_free(&log);
    }
}

/******************************************************************************/
/*  Headers                                                                   */
/******************************************************************************/

static void headers(void) {
    static const uint64_t lens[] = {0, 1, 125, 126, 127, 128, 255, 256,
        0xFFFF, 0x10000, 0x10001, 0xFFFFFFFFull, 0x100000000ull,
        0x7FFFFFFFFFFFFFFFull};
    for(size_t li = 0; li != sizeof(lens) / sizeof(lens[0]); li++) {
        for(int op = 0; op != 16; op++) {
            for(int rsv = 0; rsv <= 0x70; rsv += 0x10) {
                for(int m = 0; m != 2; m++) {
                    for(int fin = 0; fin != 2; fin++) {
                        uint8_t b[DILL__WS_HDR_MAX];
                        size_t n = dill__ws_build_header(b, fin, op, rsv,
                            m ? KEY : NULL, lens[li]);
                        size_t want = 2 + (lens[li] < 126 ? 0 :
                            lens[li] <= 0xFFFF ? 2 : 8) + (m ? 4 : 0);
                        assert(n == want);
                        assert(dill__ws_header_len(b[1]) == n);
                        struct dill__ws_hdr h;
                        /* Every proper prefix asks for more. */
                        for(size_t k = 0; k != n; k++)
                            assert(dill__ws_parse_header(b, k, &h) == 0);
                        memset(&h, 0xEE, sizeof(h));
                        assert(dill__ws_parse_header(b, n, &h) == (int)n);
                        assert(h.fin == fin && h.opcode == op &&
                            h.rsv == rsv && h.masked == m &&
                            h.len == lens[li] && h.minimal);
                        assert(memcmp(h.key, m ? KEY : (uint8_t*)"\0\0\0\0",
                            4) == 0);
                        /* Extra bytes after the header change nothing. */
                        uint8_t c[DILL__WS_HDR_MAX + 8];
                        memcpy(c, b, n);
                        memset(c + n, 0xFF, 8);
                        assert(dill__ws_parse_header(c, n + 8, &h) ==
                            (int)n);
                    }
                }
            }
        }
    }
    /* Non-minimal encodings are parsed and flagged. */
    static const uint8_t nm16[] = {0x82, 126, 0x00, 0x05};
    static const uint8_t nm64[] = {0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const uint8_t m64[] = {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0};
    static const uint8_t m16[] = {0x82, 126, 0, 126};
    struct dill__ws_hdr h;
    assert(dill__ws_parse_header(nm16, 4, &h) == 4 && h.len == 5 &&
        !h.minimal);
    assert(dill__ws_parse_header(nm64, 10, &h) == 10 && h.len == 0xFFFF &&
        !h.minimal);
    assert(dill__ws_parse_header(m64, 10, &h) == 10 && h.len == 0x10000 &&
        h.minimal);
    assert(dill__ws_parse_header(m16, 4, &h) == 4 && h.len == 126 &&
        h.minimal);
    static const uint8_t nm125[] = {0x82, 126, 0, 125};
    assert(dill__ws_parse_header(nm125, 4, &h) == 4 && h.len == 125 &&
        !h.minimal);
    /* Top bit of the 64-bit length: rejected as soon as it is seen. */
    static const uint8_t top[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    assert(dill__ws_parse_header(top, 2, &h) == 0);
    for(size_t k = 3; k <= sizeof(top); k++)
        assert(dill__ws_parse_header(top, k, &h) == -EPROTO);
    static const uint8_t top2[] = {0x82, 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF};
    assert(dill__ws_parse_header(top2, 10, &h) == 10 &&
        h.len == 0x7FFFFFFFFFFFFFFFull);
}

/******************************************************************************/
/*  dill__ws_check and the violations                                         */
/******************************************************************************/

static int check_one(struct dill__ws_conn *c, int fin, int op, int rsv,
      int masked, uint64_t len) {
    struct dill__ws_hdr h = {0};
    h.fin = (uint8_t)fin;
    h.opcode = (uint8_t)op;
    h.rsv = (uint8_t)rsv;
    h.masked = (uint8_t)masked;
    h.minimal = 1;
    h.len = len;
    struct dill__ws_conn before = *c;
    int rc = dill__ws_check(c, &h);
    if(rc) assert(memcmp(&before, c, sizeof(*c)) == 0);
    return rc;
}

static void checker(void) {
    struct dill__ws_conn c = {0};
    /* Opcodes. */
    for(int op = 0; op != 16; op++) {
        memset(&c, 0, sizeof(c));
        int known = op == 1 || op == 2 || (op >= 8 && op <= 10);
        assert(check_one(&c, 1, op, 0, 0, 0) == (known ? 0 : 1002));
    }
    /* RSV bits. */
    for(int rsv = 0x10; rsv <= 0x70; rsv += 0x10) {
        memset(&c, 0, sizeof(c));
        assert(check_one(&c, 1, DILL__WS_TEXT, rsv, 0, 1) == 1002);
        c.rsv = DILL__WS_RSV1;
        assert(check_one(&c, 1, DILL__WS_TEXT, rsv, 0, 1) ==
            (rsv == DILL__WS_RSV1 ? 0 : 1002));
        assert(check_one(&c, 1, DILL__WS_PING, rsv, 0, 1) == 1002);
        c.rsv = DILL__WS_RSV_ALL;
        assert(check_one(&c, 1, DILL__WS_BINARY, rsv, 0, 1) == 0);
        assert(check_one(&c, 1, DILL__WS_CLOSE, rsv, 0, 2) == 1002);
        assert(check_one(&c, 0, DILL__WS_BINARY, rsv, 0, 1) == 0);
        assert(c.msg_rsv == rsv && c.msg_opcode == DILL__WS_BINARY);
        assert(check_one(&c, 1, DILL__WS_CONT, rsv, 0, 1) == 1002);
        assert(check_one(&c, 1, DILL__WS_CONT, 0, 0, 1) == 0);
        assert(c.msg_opcode == 0);
    }
    /* Masking by role. */
    memset(&c, 0, sizeof(c));
    assert(check_one(&c, 1, DILL__WS_TEXT, 0, 1, 0) == 1002);
    assert(check_one(&c, 1, DILL__WS_PING, 0, 1, 0) == 1002);
    c.flags = DILL__WS_SERVER;
    assert(check_one(&c, 1, DILL__WS_TEXT, 0, 0, 0) == 1002);
    assert(check_one(&c, 1, DILL__WS_CLOSE, 0, 0, 0) == 1002);
    assert(check_one(&c, 1, DILL__WS_TEXT, 0, 1, 0) == 0);
    /* Control frames. */
    for(int op = 8; op <= 10; op++) {
        memset(&c, 0, sizeof(c));
        assert(check_one(&c, 1, op, 0, 0, 125) == 0);
        assert(check_one(&c, 1, op, 0, 0, 126) == 1002);
        assert(check_one(&c, 1, op, 0, 0, 0xFFFFFFFF) == 1002);
        assert(check_one(&c, 0, op, 0, 0, 0) == 1002);
    }
    /* Fragmentation. */
    memset(&c, 0, sizeof(c));
    assert(check_one(&c, 1, DILL__WS_CONT, 0, 0, 1) == 1002);
    assert(check_one(&c, 0, DILL__WS_CONT, 0, 0, 1) == 1002);
    assert(check_one(&c, 0, DILL__WS_TEXT, 0, 0, 1) == 0);
    assert(c.msg_opcode == DILL__WS_TEXT);
    assert(check_one(&c, 1, DILL__WS_TEXT, 0, 0, 1) == 1002);
    assert(check_one(&c, 0, DILL__WS_BINARY, 0, 0, 1) == 1002);
    assert(check_one(&c, 1, DILL__WS_PING, 0, 0, 1) == 0);
    assert(check_one(&c, 0, DILL__WS_CONT, 0, 0, 1) == 0);
    assert(check_one(&c, 1, DILL__WS_CLOSE, 0, 0, 2) == 0);
    assert(check_one(&c, 1, DILL__WS_CONT, 0, 0, 1) == 0);
    assert(c.msg_opcode == 0 && c.msg_len == 3);
    assert(check_one(&c, 1, DILL__WS_CONT, 0, 0, 1) == 1002);
    /* 64-bit length with the top bit (hand-made header). */
    memset(&c, 0, sizeof(c));
    assert(check_one(&c, 1, DILL__WS_BINARY, 0, 0, 1ull << 63) == 1002);
    /* Message size limit, per frame on the running total. */
    memset(&c, 0, sizeof(c));
    c.max_msg = 10;
    assert(check_one(&c, 1, DILL__WS_BINARY, 0, 0, 10) == 0);
    assert(check_one(&c, 1, DILL__WS_BINARY, 0, 0, 11) == 1009);
    assert(check_one(&c, 1, DILL__WS_BINARY, 0, 0,
        0x7FFFFFFFFFFFFFFFull) == 1009);
    assert(check_one(&c, 0, DILL__WS_TEXT, 0, 0, 6) == 0);
    assert(check_one(&c, 1, DILL__WS_PING, 0, 0, 100) == 0);
    assert(check_one(&c, 0, DILL__WS_CONT, 0, 0, 4) == 0);
    assert(check_one(&c, 1, DILL__WS_CONT, 0, 0, 1) == 1009);
    assert(check_one(&c, 1, DILL__WS_CONT, 0, 0, 0) == 0);
    assert(check_one(&c, 1, DILL__WS_TEXT, 0, 0, 10) == 0);
    /* No limit: the running total saturates instead of wrapping. */
    memset(&c, 0, sizeof(c));
    assert(check_one(&c, 0, DILL__WS_BINARY, 0, 0,
        0x7FFFFFFFFFFFFFFFull) == 0);
    for(int i = 0; i != 4; i++)
        assert(check_one(&c, 0, DILL__WS_CONT, 0, 0,
            0x7FFFFFFFFFFFFFFFull) == 0);
    assert(c.msg_len == UINT64_MAX);
    /* Non-minimal lengths: accepted unless strict. */
    struct dill__ws_hdr h = {0};
    h.fin = 1;
    h.opcode = DILL__WS_TEXT;
    h.len = 5;
    h.minimal = 1;
    memset(&c, 0, sizeof(c));
    assert(dill__ws_check(&c, &h) == 0);
    c.flags = DILL__WS_STRICT_LENGTH;
    assert(dill__ws_check(&c, &h) == 0);
    h.minimal = 0;
    assert(dill__ws_check(&c, &h) == 1002);
    c.flags = 0;
    assert(dill__ws_check(&c, &h) == 0);
}

/* The same violations as byte streams through the decoder. */
static void violations(void) {
    struct stream s;
    /* RSV bits without an extension: fail once the header is in. */
    for(int rsv = 0x10; rsv <= 0x70; rsv += 0x10) {
        s.n = 0;
        put(&s, 1, DILL__WS_TEXT, rsv, 0, "Hi", 2);
        expect_error(&CLIENT, s.buf, s.n, 1002, 2);
        struct wsd_cfg ext = CLIENT;
        ext.rsv = DILL__WS_RSV1;
        expect_error(&ext, s.buf, s.n, rsv == 0x40 ? 0 : 1002,
            rsv == 0x40 ? 0 : 2);
        /* With an extension: never on continuations or control frames. */
        s.n = 0;
        put(&s, 0, DILL__WS_TEXT, DILL__WS_RSV1, 0, "Hi", 2);
        put(&s, 1, DILL__WS_CONT, rsv, 0, "Hi", 2);
        expect_error(&ext, s.buf, s.n, 1002, 6);
        s.n = 0;
        put(&s, 1, DILL__WS_PING, rsv, 0, "", 0);
        expect_error(&ext, s.buf, s.n, 1002, 2);
    }
    /* Reserved opcodes. */
    for(int op = 0; op != 16; op++) {
        if(op <= 2 || (op >= 8 && op <= 10)) continue;
        s.n = 0;
        put(&s, 1, DILL__WS_TEXT, 0, 0, "ok", 2);
        put(&s, 1, op, 0, 0, "x", 1);
        expect_error(&CLIENT, s.buf, s.n, 1002, 6);
        s.n = 0;
        put(&s, 1, op, 0, 1, "x", 1);
        expect_error(&SERVER, s.buf, s.n, 1002, 6);
    }
    /* 64-bit length with the top bit: fails at its first byte. */
    static const uint8_t top[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0};
    expect_error(&CLIENT, top, sizeof(top), 1002, 3);
    static const uint8_t topm[] = {0x82, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0,
        1, 2, 3, 4};
    expect_error(&SERVER, topm, sizeof(topm), 1002, 3);
    /* Control frames: payload > 125, FIN = 0. */
    static uint8_t big[200];
    for(int op = 8; op <= 10; op++) {
        s.n = 0;
        put(&s, 1, op, 0, 0, big, 125);
        expect_error(&CLIENT, s.buf, s.n, 0, 0); /* body unchecked */
        s.n = 0;
        put(&s, 1, op, 0, 0, big, 126);
        expect_error(&CLIENT, s.buf, s.n, 1002, 4);
        s.n = 0;
        put(&s, 0, op, 0, 0, "", 0);
        expect_error(&CLIENT, s.buf, s.n, 1002, 2);
        s.n = 0;
        put(&s, 0, op, 0, 1, "ab", 2);
        expect_error(&SERVER, s.buf, s.n, 1002, 6);
    }
    /* Continuation without a message. */
    s.n = 0;
    put(&s, 1, DILL__WS_CONT, 0, 0, "x", 1);
    expect_error(&CLIENT, s.buf, s.n, 1002, 2);
    s.n = 0;
    put(&s, 1, DILL__WS_TEXT, 0, 0, "x", 1);
    put(&s, 0, DILL__WS_CONT, 0, 0, "x", 1);
    expect_error(&CLIENT, s.buf, s.n, 1002, 5);
    /* New data message inside a fragmented one. */
    for(int op = 1; op <= 2; op++) {
        for(int op2 = 1; op2 <= 2; op2++) {
            s.n = 0;
            put(&s, 0, op, 0, 1, "ab", 2);
            put(&s, 1, DILL__WS_PING, 0, 1, "p", 1);
            put(&s, 1, op2, 0, 1, "cd", 2);
            expect_error(&SERVER, s.buf, s.n, 1002, 8 + 7 + 6);
        }
    }
    /* Masked to a client, unmasked to a server. */
    s.n = 0;
    put(&s, 1, DILL__WS_BINARY, 0, 1, "x", 1);
    expect_error(&CLIENT, s.buf, s.n, 1002, 6);
    s.n = 0;
    put(&s, 1, DILL__WS_BINARY, 0, 1, "x", 1);
    put(&s, 1, DILL__WS_BINARY, 0, 0, "x", 1);
    expect_error(&SERVER, s.buf, s.n, 1002, 7 + 2);
    /* Message size. */
    struct wsd_cfg lim = CLIENT;
    lim.max_msg = 100;
    s.n = 0;
    put(&s, 1, DILL__WS_BINARY, 0, 0, big, 100);
    put(&s, 0, DILL__WS_BINARY, 0, 0, big, 50);
    put(&s, 1, DILL__WS_PING, 0, 0, big, 125);
    put(&s, 1, DILL__WS_CONT, 0, 0, big, 50);
    expect_ok(&lim, s.buf, s.n, 4);
    size_t ok_len = s.n;
    put(&s, 0, DILL__WS_TEXT, 0, 0, big, 60);
    put(&s, 1, DILL__WS_CONT, 0, 0, big, 41);
    expect_error(&lim, s.buf, s.n, 1009, ok_len + 62 + 2);
    s.n = 0;
    put(&s, 1, DILL__WS_BINARY, 0, 0, big, 101);
    expect_error(&lim, s.buf, s.n, 1009, 2);
    /* A huge announced frame fails before any payload arrives. */
    s.n = 0;
    s.n = dill__ws_build_header(s.buf, 1, DILL__WS_BINARY, 0, NULL,
        1ull << 40);
    expect_error(&lim, s.buf, s.n, 1009, 10);
    /* Non-minimal lengths: accepted, or 1002 when strict. */
    static const uint8_t nm[] = {0x81, 126, 0x00, 0x02, 'h', 'i',
        0x81, 127, 0, 0, 0, 0, 0, 0, 0, 2, 'h', 'i',
        0x81, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    struct wsd_log log;
    decode(&CLIENT, nm, 18, &log, NULL);
    assert(!log.error && log.nf == 2 && !log.f[0].hdr.minimal &&
        !log.f[1].hdr.minimal && memcmp(log.f[1].data, "hi", 2) == 0);
    wsd_free(&log);
    struct wsd_cfg strict = CLIENT;
    strict.conn_flags = DILL__WS_STRICT_LENGTH;
    expect_error(&strict, nm, sizeof(nm), 1002, 4);
    expect_error(&strict, nm + 6, sizeof(nm) - 6, 1002, 10);
    expect_error(&strict, nm + 18, sizeof(nm) - 18, 1002, 10);
    /* Truncated input is not an error. */
    decode(&CLIENT, nm, 3, &log, NULL);
    assert(!log.error && log.nf == 0);
    wsd_free(&log);
    decode(&CLIENT, nm, 5, &log, NULL);
    assert(!log.error && log.nf == 1 && !log.f[0].ended &&
        log.f[0].len == 1);
    wsd_free(&log);
}

/******************************************************************************/
/*  UTF-8 in TEXT messages                                                    */
/******************************************************************************/

static void text_utf8(void) {
    struct stream s;
    /* A character split across fragments and control frames. */
    s.n = 0;
    put(&s, 0, DILL__WS_TEXT, 0, 1, "a\xe2", 2);
    put(&s, 1, DILL__WS_PING, 0, 1, "\xff", 1); /* not checked */
    put(&s, 0, DILL__WS_CONT, 0, 1, "\x82", 1);
    put(&s, 0, DILL__WS_CONT, 0, 1, "", 0);
    put(&s, 1, DILL__WS_CONT, 0, 1, "\xac!", 2);
    expect_ok(&SERVER, s.buf, s.n, 5);
    /* Invalid byte: fails right at that byte. */
    s.n = 0;
    put(&s, 1, DILL__WS_TEXT, 0, 0, "abc\xc0xyz", 7);
    expect_error(&CLIENT, s.buf, s.n, 1007, 2 + 4);
    s.n = 0;
    put(&s, 1, DILL__WS_TEXT, 0, 1, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc"
        "\xce\xb5\xed\xa0\x80" "edited", 17);
    expect_error(&SERVER, s.buf, s.n, 1007, 6 + 13);
    /* Fails in the second fragment. */
    s.n = 0;
    put(&s, 0, DILL__WS_TEXT, 0, 0, "\xf4", 1);
    put(&s, 1, DILL__WS_CONT, 0, 0, "\x90\x80\x80", 3);
    expect_error(&CLIENT, s.buf, s.n, 1007, 3 + 3);
    /* Message ends inside a character: fails at END. */
    s.n = 0;
    put(&s, 0, DILL__WS_TEXT, 0, 0, "ok\xe2\x82", 4);
    put(&s, 1, DILL__WS_CONT, 0, 0, "", 0);
    expect_error(&CLIENT, s.buf, s.n, 1007, s.n);
    struct wsd_log log;
    decode(&CLIENT, s.buf, s.n, &log, NULL);
    assert(log.nf == 2 && log.f[0].ended && !log.f[1].ended);
    wsd_free(&log);
    /* Binary messages, extension-marked text and a decoder without the
       flag do not check. */
    s.n = 0;
    put(&s, 1, DILL__WS_BINARY, 0, 0, "\xff\xfe", 2);
    expect_ok(&CLIENT, s.buf, s.n, 1);
    s.n = 0;
    put(&s, 1, DILL__WS_TEXT, DILL__WS_RSV1, 0, "\xff\xfe", 2);
    struct wsd_cfg ext = CLIENT;
    ext.rsv = DILL__WS_RSV1;
    expect_ok(&ext, s.buf, s.n, 1);
    s.n = 0;
    put(&s, 1, DILL__WS_TEXT, 0, 0, "\xff", 1);
    struct wsd_cfg raw = CLIENT;
    raw.dec_flags = 0;
    expect_ok(&raw, s.buf, s.n, 1);
    /* A new TEXT message starts from a clean UTF-8 state. */
    s.n = 0;
    put(&s, 1, DILL__WS_TEXT, DILL__WS_RSV1, 0, "\xe2", 1);
    put(&s, 1, DILL__WS_TEXT, 0, 0, "\x82", 1);
    expect_error(&ext, s.buf, s.n, 1007, s.n);
}

/******************************************************************************/
/*  Masking                                                                   */
/******************************************************************************/

static void ref_mask(uint8_t *d, const uint8_t *s, size_t n,
      const uint8_t key[4], size_t off) {
    for(size_t i = 0; i != n; i++) d[i] = s[i] ^ key[(off + i) % 4];
}

static void masking(void) {
    static uint8_t src[400], dst[400], want[400], inplace[400], cc[400];
    memset(cc, 0xCC, sizeof(cc));
    const uint8_t key[4] = {0xA1, 0x5C, 0x07, 0xE3};
    for(size_t i = 0; i != sizeof(src); i++) src[i] = (uint8_t)rnd();
    static const size_t offs[] = {0, 1, 2, 3, 5, 1000003};
    for(size_t len = 0; len <= 300; len++) {
        for(size_t oi = 0; oi != sizeof(offs) / sizeof(offs[0]); oi++) {
            size_t off = offs[oi];
            for(size_t sa = 0; sa != 16; sa++) {
                ref_mask(want, src + sa, len, key, off);
                for(size_t da = 0; da != 16; da++) {
                    memset(dst, 0xCC, sizeof(dst));
                    dill__ws_mask(dst + da, src + sa, len, key, off);
                    assert(memcmp(dst + da, want, len) == 0);
                    /* Nothing outside [da, da + len) is touched. */
                    assert(memcmp(dst, cc, da) == 0);
                    assert(memcmp(dst + da + len, cc,
                        sizeof(dst) - da - len) == 0);
                }
                memcpy(inplace + sa, src + sa, len);
                dill__ws_mask(inplace + sa, inplace + sa, len, key, off);
                assert(memcmp(inplace + sa, want, len) == 0);
                /* Unmasking is masking. */
                dill__ws_mask(inplace + sa, inplace + sa, len, key, off);
                assert(memcmp(inplace + sa, src + sa, len) == 0);
            }
        }
    }
    /* In pieces of random sizes equals in one go. */
    static uint8_t big[70000], whole[70000], piece[70000];
    for(size_t i = 0; i != sizeof(big); i++) big[i] = (uint8_t)rnd();
    dill__ws_mask(whole, big, sizeof(big), key, 0);
    ref_mask(piece, big, sizeof(big), key, 0);
    assert(memcmp(whole, piece, sizeof(big)) == 0);
    for(int round = 0; round != 50; round++) {
        size_t pos = 0;
        memset(piece, 0, sizeof(piece));
        while(pos < sizeof(big)) {
            size_t k = rnd() % (round % 2 ? 40 : 5000);
            if(k > sizeof(big) - pos) k = sizeof(big) - pos;
            dill__ws_mask(piece + pos, big + pos, k, key, pos);
            pos += k;
        }
        assert(memcmp(whole, piece, sizeof(big)) == 0);
    }
}

/******************************************************************************/
/*  Close frames                                                              */
/******************************************************************************/

static void close_frames(void) {
    for(int code = 0; code <= 65535; code++) {
        int want = (code >= 1000 && code <= 1003) ||
            (code >= 1007 && code <= 1014) ||
            (code >= 3000 && code <= 4999);
        assert(dill__ws_close_code_valid(code) == want);
        uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        int c = -1;
        assert(dill__ws_close_parse(p, 2, &c, NULL, NULL) ==
            (want ? 0 : 1002));
        if(want) assert(c == code);
        uint8_t out[DILL__WS_CONTROL_MAX];
        assert(dill__ws_close_build(out, code, NULL, 0) ==
            (want ? 2 : (code ? -EINVAL : 0)));
        if(want) assert(out[0] == p[0] && out[1] == p[1]);
    }
    /* Known-bad codes explicitly. */
    static const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100,
        2000, 2999, 5000, 65535};
    /* Registered with IANA after RFC 6455. */
    static const int iana[] = {1012, 1013, 1014};
    for(size_t i = 0; i != sizeof(iana) / sizeof(iana[0]); i++)
        assert(dill__ws_close_code_valid(iana[i]));
    for(size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); i++)
        assert(!dill__ws_close_code_valid(bad[i]));
    int code = 0;
    const uint8_t *r = NULL;
    size_t rl = 99;
    /* Empty: no status. */
    assert(dill__ws_close_parse((const uint8_t*)"", 0, &code, &r, &rl) ==
        0);
    assert(code == DILL__WS_NO_STATUS && rl == 0);
    /* One byte: protocol error. */
    assert(dill__ws_close_parse((const uint8_t*)"\x03", 1, &code, &r, &rl)
        == 1002);
    /* Reason. */
    static const uint8_t ok[] = {0x03, 0xE8, 'b', 'y', 'e', 0xce, 0xba};
    assert(dill__ws_close_parse(ok, sizeof(ok), &code, &r, &rl) == 0);
    assert(code == 1000 && r == ok + 2 && rl == 5);
    static const uint8_t badr[] = {0x03, 0xE8, 'b', 0xce};
    assert(dill__ws_close_parse(badr, sizeof(badr), &code, &r, &rl) ==
        1007);
    static const uint8_t badr2[] = {0x03, 0xE8, 0xed, 0xa0, 0x80};
    assert(dill__ws_close_parse(badr2, sizeof(badr2), &code, &r, &rl) ==
        1007);
    /* An invalid code is reported before the reason is looked at. */
    static const uint8_t both[] = {0x03, 0xED, 0xff};
    assert(dill__ws_close_parse(both, sizeof(both), NULL, NULL, NULL) ==
        1002);
    /* Building. */
    uint8_t out[DILL__WS_CONTROL_MAX];
    char reason[200];
    memset(reason, 'r', sizeof(reason));
    assert(dill__ws_close_build(out, 4000, reason, 123) == 125);
    assert(out[0] == 0x0F && out[1] == 0xA0 && out[124] == 'r');
    assert(dill__ws_close_build(out, 4000, reason, 124) == -EMSGSIZE);
    assert(dill__ws_close_build(out, 1000, "\xc0", 1) == -EILSEQ);
    assert(dill__ws_close_build(out, 0, "x", 1) == -EINVAL);
    assert(dill__ws_close_build(out, 1005, NULL, 0) == -EINVAL);
    assert(dill__ws_close_build(out, 0, NULL, 0) == 0);
    int n = dill__ws_close_build(out, 1001, "\xce\xba", 2);
    assert(n == 4);
    assert(dill__ws_close_parse(out, (size_t)n, &code, &r, &rl) == 0);
    assert(code == 1001 && rl == 2 && memcmp(r, "\xce\xba", 2) == 0);
    /* A whole Close frame through the decoder. */
    struct stream s;
    s.n = 0;
    put(&s, 1, DILL__WS_CLOSE, 0, 1, out, (size_t)n);
    struct wsd_log log;
    decode(&SERVER, s.buf, s.n, &log, NULL);
    assert(!log.error && log.nf == 1 && log.f[0].len == 4);
    assert(dill__ws_close_parse(log.f[0].data, 4, &code, NULL, NULL) == 0 &&
        code == 1001);
    wsd_free(&log);
}

/******************************************************************************/
/*  Random streams                                                            */
/******************************************************************************/

/* Builds a random valid stream for the given side, then decodes it and
   compares with what was built.  Corrupted copies only need all decoding
   modes to agree. */
static void random_streams(void) {
    static struct stream s;
    static uint8_t payload[3000];
    struct {int op, fin; size_t len; size_t at;} frames[64];
    int rounds = emu_rounds("wsframe random_streams", 150, 5);
    for(int round = 0; round != rounds; round++) {
        int server = round % 2;
        struct wsd_cfg cfg = server ? SERVER : CLIENT;
        s.n = 0;
        int nf = 0, inmsg = 0;
        while(nf < 24 && s.n < sizeof(s.buf) - 4000) {
            int kind = (int)(rnd() % 4);
            int op, fin = (int)(rnd() % 2);
            size_t len;
            if(kind == 0) {
                op = 8 + (int)(rnd() % 3);
                if(op == DILL__WS_CLOSE) op = DILL__WS_PING;
                fin = 1;
                len = rnd() % 126;
            }
            else {
                op = inmsg ? DILL__WS_CONT :
                    (rnd() % 2 ? DILL__WS_TEXT : DILL__WS_BINARY);
                len = rnd() % (rnd() % 4 ? 200 : sizeof(payload));
                inmsg = !fin;
            }
            /* ASCII keeps TEXT valid whatever the fragmentation. */
            for(size_t i = 0; i != len; i++)
                payload[i] = (uint8_t)(0x20 + rnd() % 95);
            frames[nf].op = op;
            frames[nf].fin = fin;
            frames[nf].len = len;
            frames[nf].at = s.n;
            put(&s, fin, op, 0, server, payload, len);
            nf++;
        }
        struct wsd_log log;
        decode(&cfg, s.buf, s.n, &log, NULL);
        assert(!log.error && log.nf == (size_t)nf);
        for(int i = 0; i != nf; i++) {
            assert(log.f[i].hdr.opcode == frames[i].op);
            assert(log.f[i].hdr.len == frames[i].len && log.f[i].ended);
            /* Payload = unmasked bytes of the built frame. */
            uint8_t tmp[3000];
            struct dill__ws_hdr h;
            int r = dill__ws_parse_header(s.buf + frames[i].at,
                DILL__WS_HDR_MAX, &h);
            assert(r > 0 && h.masked == server);
            const uint8_t *raw = s.buf + frames[i].at + r;
            if(h.masked) dill__ws_mask(tmp, raw, frames[i].len, h.key, 0);
            else memcpy(tmp, raw, frames[i].len);
            assert(frames[i].len == 0 ||
                memcmp(tmp, log.f[i].data, frames[i].len) == 0);
        }
        wsd_free(&log);
        /* Corrupt a few bytes; the modes must still agree. */
        for(int k = 0; k != 3; k++) {
            size_t at = rnd() % s.n;
            s.buf[at] ^= (uint8_t)(1 + rnd() % 255);
            decode(&cfg, s.buf, s.n, &log, NULL);
            wsd_free(&log);
        }
    }
}

int main(void) {
    const char *seed = getenv("DILL_TEST_SEED");
    if(seed) rng_state = strtoull(seed, NULL, 0) | 1;
    rfc_examples();
    headers();
    checker();
    violations();
    text_utf8();
    masking();
    close_frames();
    random_streams();
    return 0;
}
