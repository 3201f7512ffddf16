/* permessage-deflate (RFC 7692), sans I/O: offer parsing, the server's and
   the client's negotiation tables, the section 7.2.3 examples byte for
   byte, the codec against zlib-made reference streams in every split
   (byte by byte and random cuts, on input and output), context takeover
   kept and reset, window bits 8, and a 1 GB bomb stopped at the limit. */

/* Without zlib the library never agrees permessage-deflate. */
#if !DILL_HAVE_ZLIB
int main(void) {return 0;}
#else

#include <string.h>
#include <zlib.h>

#include "assert.h"
#include "proto/httpparse.h"
#include "proto/wsdeflate.h"
#include "zbomb.h"

/******************************************************************************/
/*  Negotiation                                                               */
/******************************************************************************/

static int parse(const char *s, struct dill__wsz_params *p) {
    return dill__wsz_parse(s, strlen(s), p);
}

static void test_parse(void) {
    struct dill__wsz_params p;
    assert(parse("x-webkit-deflate-frame", &p) == 0);
    assert(parse("permessage-deflatex", &p) == 0);
    assert(parse("permessage-deflate", &p) == 1);
    assert(!p.server_no_ctx && !p.client_no_ctx && !p.server_bits &&
        !p.client_bits);
    assert(parse("Permessage-Deflate ; server_no_context_takeover;"
        "client_no_context_takeover ;server_max_window_bits = 10;"
        " client_max_window_bits=\"9\"", &p) == 1);
    assert(p.server_no_ctx && p.client_no_ctx && p.server_bits == 10 &&
        p.client_bits == 9);
    assert(parse("permessage-deflate; client_max_window_bits", &p) == 1);
    assert(p.client_bits == DILL__WSZ_NOVALUE);
    assert(parse("permessage-deflate; server_max_window_bits=8", &p) == 1);
    assert(p.server_bits == 8);
    assert(parse("permessage-deflate; server_max_window_bits=15", &p) == 1);
    static const char *const bad[] = {
        "permessage-deflate; foo",
        "permessage-deflate; foo=1",
        "permessage-deflate; server_no_context_takeover; "
            "server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=+9",
        "permessage-deflate; server_max_window_bits=\"9",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; client_max_window_bits=",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=\"\"",
        "permessage-deflate;",
        "permessage-deflate server_no_context_takeover",
        "permessage-deflate; ;client_max_window_bits",
        NULL};
    for(int i = 0; bad[i]; i++) assert(parse(bad[i], &p) == -EINVAL);
}

static const struct dill__wsz_cfg cfg_noctx = {0, 15, 15, 8, 6};
static const struct dill__wsz_cfg cfg_ctx = {1, 15, 15, 8, 6};
static const struct dill__wsz_cfg cfg_small = {1, 10, 9, 2, 6};

/* Runs the server over a request with the given extension lines (NULL
   separated list) and checks the answer (NULL: declined). */
static void server_case(const struct dill__wsz_cfg *cfg,
      const char *const *lines, const char *want,
      struct dill__wsz_agreed *a) {
    char req[2048] = "GET / HTTP/1.1\r\nHost: x\r\n";
    for(int i = 0; lines[i]; i++) {
        strcat(req, "Sec-WebSocket-Extensions: ");
        strcat(req, lines[i]);
        strcat(req, "\r\n");
    }
    strcat(req, "\r\n");
    static struct dill__http_head h;
    assert(dill__http_parse_request(req, strlen(req), &h) > 0);
    char buf[256];
    int rc = dill__wsz_server(&h, cfg, a, buf, sizeof(buf));
    if(!want) {assert(rc == 0); return;}
    if(rc != 1 || strcmp(buf, want) != 0)
        fprintf(stderr, "server answer: %d [%s], want [%s]\n", rc,
            rc == 1 ? buf : "", want);
    assert(rc == 1 && strcmp(buf, want) == 0);
    assert(dill__wsz_server(&h, cfg, a, buf, 10) == -EMSGSIZE);
    assert(dill__wsz_server(&h, cfg, a, buf, sizeof(buf)) == 1);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_server(void) {
    struct dill__wsz_agreed a;
    server_case(&cfg_ctx, L("foo, bar"), NULL, &a);
    server_case(&cfg_ctx, L("permessage-deflate"), "permessage-deflate", &a);
    assert(a.send_bits == 15 && a.recv_bits == 15 && !a.send_no_ctx &&
        !a.recv_no_ctx);
    /* Default tier: no context takeover either way, asked for. */
    server_case(&cfg_noctx, L("permessage-deflate; client_max_window_bits"),
        "permessage-deflate; server_no_context_takeover; "
        "client_no_context_takeover", &a);
    assert(a.send_no_ctx && a.recv_no_ctx && a.recv_bits == 15);
    /* First acceptable offer wins; bad ones are skipped, across lines. */
    server_case(&cfg_ctx, L("foo, permessage-deflate; bogus",
        "permessage-deflate; server_max_window_bits=16, "
        "permessage-deflate; server_max_window_bits=9;"
        " client_no_context_takeover", "permessage-deflate"),
        "permessage-deflate; client_no_context_takeover; "
        "server_max_window_bits=9", &a);
    assert(a.send_bits == 9 && a.recv_no_ctx && !a.send_no_ctx);
    server_case(&cfg_ctx, L("permessage-deflate; server_no_context_takeover;"
        " server_no_context_takeover"), NULL, &a);
    server_case(&cfg_ctx, L("permessage-deflate; client_max_window_bits=x"),
        NULL, &a);
    /* server_no_context_takeover asked: always answered. */
    server_case(&cfg_ctx, L("permessage-deflate; server_no_context_takeover"),
        "permessage-deflate; server_no_context_takeover", &a);
    assert(a.send_no_ctx && !a.recv_no_ctx);
    /* Window 8 both ways is accepted. */
    server_case(&cfg_ctx, L("permessage-deflate; server_max_window_bits=8; "
        "client_max_window_bits=8"), "permessage-deflate; "
        "server_max_window_bits=8; client_max_window_bits=8", &a);
    assert(a.send_bits == 8 && a.recv_bits == 8);
    /* A small tier limits both windows where the client allows it. */
    server_case(&cfg_small, L("permessage-deflate; client_max_window_bits"),
        "permessage-deflate; server_max_window_bits=10; "
        "client_max_window_bits=9", &a);
    assert(a.send_bits == 10 && a.recv_bits == 9);
    server_case(&cfg_small, L("permessage-deflate"),
        "permessage-deflate; client_no_context_takeover; "
        "server_max_window_bits=10", &a);
    assert(a.send_bits == 10 && a.recv_bits == 15 && a.recv_no_ctx);
    /* A client hint is kept as the window it will use. */
    server_case(&cfg_ctx, L("permessage-deflate; client_max_window_bits=12"),
        "permessage-deflate; client_max_window_bits=12", &a);
    assert(a.recv_bits == 12);
}

static int client(const struct dill__wsz_cfg *cfg, const char *ans,
      struct dill__wsz_agreed *a) {
    return dill__wsz_client(ans, strlen(ans), cfg, a);
}

static void test_client(void) {
    char buf[256];
    assert(dill__wsz_offer(&cfg_noctx, buf, sizeof(buf)) > 0);
    assert(strcmp(buf, "permessage-deflate; server_no_context_takeover; "
        "client_no_context_takeover; client_max_window_bits") == 0);
    assert(dill__wsz_offer(&cfg_ctx, buf, sizeof(buf)) > 0);
    assert(strcmp(buf, "permessage-deflate; client_max_window_bits") == 0);
    assert(dill__wsz_offer(&cfg_small, buf, sizeof(buf)) > 0);
    assert(strcmp(buf, "permessage-deflate; server_max_window_bits=9; "
        "client_max_window_bits=10") == 0);
    assert(dill__wsz_offer(&cfg_small, buf, 20) == -EMSGSIZE);
    struct dill__wsz_agreed a;
    assert(client(&cfg_ctx, "permessage-deflate", &a) == 0);
    assert(a.send_bits == 15 && a.recv_bits == 15 && !a.send_no_ctx);
    assert(client(&cfg_ctx, "permessage-deflate; client_max_window_bits=8; "
        "server_max_window_bits=12; client_no_context_takeover", &a) == 0);
    assert(a.send_bits == 8 && a.recv_bits == 12 && a.send_no_ctx &&
        !a.recv_no_ctx);
    assert(client(&cfg_noctx, "permessage-deflate; "
        "server_no_context_takeover", &a) == 0);
    assert(a.send_no_ctx && a.recv_no_ctx);
    static const char *const bad[] = {
        "x-foo",
        "permessage-deflate, permessage-deflate",
        "permessage-deflate, x-foo",
        "permessage-deflate; foo",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; client_no_context_takeover; "
            "client_no_context_takeover",
        "",
        NULL};
    for(int i = 0; bad[i]; i++)
        assert(client(&cfg_ctx, bad[i], &a) == -EPROTO);
    /* We asked for server_no_context_takeover: the answer must have it. */
    assert(client(&cfg_noctx, "permessage-deflate", &a) == -EPROTO);
    /* We asked for server_max_window_bits=9 and client bits at most 10. */
    assert(client(&cfg_small, "permessage-deflate", &a) == -EPROTO);
    assert(client(&cfg_small, "permessage-deflate; server_max_window_bits=10",
        &a) == -EPROTO);
    assert(client(&cfg_small, "permessage-deflate; server_max_window_bits=9; "
        "client_max_window_bits=11", &a) == 0);
    assert(a.send_bits == 10 && a.recv_bits == 9);
    assert(client(&cfg_small, "permessage-deflate; server_max_window_bits=8",
        &a) == 0);
    assert(a.recv_bits == 8 && a.send_bits == 10);
}

/******************************************************************************/
/*  Codec                                                                     */
/******************************************************************************/

static uint32_t seed = 12345;
static uint32_t rnd(void) {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

/* Inflates one message given as frames (frag: sizes, 0-terminated),
   cutting input with icut and output with ocut (0: random).  Returns the
   size or a DILL__WSZ_* code. */
static ssize_t inflate_msg(struct dill__wsz_inf *f, const uint8_t *in,
      size_t n, size_t icut, size_t ocut, uint8_t *out, size_t cap,
      uint64_t max) {
    dill__wsz_inf_begin(f, max);
    size_t pos = 0, got = 0;
    while(1) {
        size_t k = icut ? icut : 1 + rnd() % 300;
        if(k > n - pos) k = n - pos;
        dill__wsz_inf_input(f, in + pos, k, pos + k == n);
        pos += k;
        while(!dill__wsz_inf_idle(f)) {
            size_t oc = ocut ? ocut : 1 + rnd() % 500;
            if(oc > cap - got) oc = cap - got;
            ssize_t r = dill__wsz_inf_output(f, out + got, oc);
            if(r < 0) return r;
            got += (size_t)r;
            assert(got <= cap);
            if(dill__wsz_inf_done(f)) return (ssize_t)got;
        }
        assert(pos < n);
    }
}

static void expect(struct dill__wsz_inf *f, const uint8_t *in, size_t n,
      const char *want) {
    uint8_t out[64];
    size_t cuts[] = {0, 1, 2, 3, 1000};
    for(int i = 0; i != 5; i++) {
        for(int oc = 1; oc <= 6; oc += 5) {
            struct dill__wsz_inf g = *f;
            g.z = NULL;
            ssize_t r = inflate_msg(&g, in, n, cuts[i], oc == 6 ? 1000 : oc,
                out, sizeof(out), 0);
            assert(r == (ssize_t)strlen(want));
            assert(memcmp(out, want, (size_t)r) == 0);
            dill__wsz_inf_free(&g);
        }
    }
}

/* Section 7.2.3: every example, byte for byte, both ways. */
static void test_rfc(void) {
    static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t again[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    static const uint8_t stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65,
        0x6c, 0x6c, 0x6f, 0x00};
    static const uint8_t bfinal[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07,
        0x00, 0x00};
    static const uint8_t two[] = {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff,
        0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t empty[] = {0x00};
    struct dill__wsz_inf f = {0};
    f.bits = 15;
    expect(&f, hello, sizeof(hello), "Hello");
    expect(&f, stored, sizeof(stored), "Hello");
    expect(&f, bfinal, sizeof(bfinal), "Hello");
    expect(&f, two, sizeof(two), "Hello");
    expect(&f, empty, 1, "");
    expect(&f, empty, 0, "");
    /* 7.2.3.2: the second message refers to the first (takeover). */
    uint8_t out[16];
    assert(inflate_msg(&f, hello, sizeof(hello), 3, 2, out, 16, 0) == 5);
    assert(inflate_msg(&f, again, sizeof(again), 1, 1, out, 16, 0) == 5);
    assert(memcmp(out, "Hello", 5) == 0);
    /* After a final block the window still carries on (7.2.3.4). */
    assert(inflate_msg(&f, bfinal, sizeof(bfinal), 0, 0, out, 16, 0) == 5);
    assert(inflate_msg(&f, again, sizeof(again), 0, 0, out, 16, 0) == 5);
    assert(memcmp(out, "Hello", 5) == 0);
    dill__wsz_inf_free(&f);
    /* Without takeover the second message cannot be inflated. */
    f.no_ctx = 1;
    assert(inflate_msg(&f, hello, sizeof(hello), 0, 0, out, 16, 0) == 5);
    assert(f.z == NULL);
    assert(inflate_msg(&f, again, sizeof(again), 0, 0, out, 16, 0) ==
        DILL__WSZ_EDATA);
    dill__wsz_inf_free(&f);
    /* Our compressor gives the same bytes, split in 2-byte outputs too. */
    struct dill__wsz_def d = {0};
    d.bits = 15;
    d.mem_level = 8;
    d.level = 6;
    for(int cap = 16; cap <= 17; cap++) {
        uint8_t buf[64];
        for(int m = 0; m != 3; m++) {
            size_t fill = 0;
            int more;
            assert(dill__wsz_def_input(&d, m == 2 ? "" : "Hello",
                m == 2 ? 0 : 5, DILL__WSZ_FIN) == 0);
            do fill += dill__wsz_def_output(&d, buf + fill, cap, &more);
            while(more);
            if(m == 0) assert(fill == 7 && memcmp(buf, hello, 7) == 0);
            if(m == 1) assert(fill == 5 && memcmp(buf, again, 5) == 0);
            if(m == 2) assert(fill == 1 && buf[0] == 0);
        }
        dill__wsz_def_free(&d);
    }
    d.no_ctx = 1;
    for(int m = 0; m != 2; m++) {
        uint8_t buf[64];
        int more;
        assert(dill__wsz_def_input(&d, "Hello", 5, DILL__WSZ_FIN) == 0);
        size_t fill = dill__wsz_def_output(&d, buf, sizeof(buf), &more);
        assert(!more && fill == 7 && memcmp(buf, hello, 7) == 0);
        assert(d.z == NULL);
    }
}

/* A JSON-like message of n bytes. */
static void gen(uint8_t *p, size_t n, int kind) {
    static const char *const words[] = {"{\"id\":", "\"name\":\"alice\",",
        "\"ts\":1712345678,", "\"tags\":[\"a\",\"b\"],", "}\n", "\"v\":"};
    size_t i = 0;
    while(i < n) {
        if(kind == 1) {p[i++] = (uint8_t)rnd(); continue;}
        const char *w = words[rnd() % 6];
        for(size_t k = 0; w[k] && i < n; k++) p[i++] = (uint8_t)w[k];
        if(i < n) p[i++] = (uint8_t)('0' + rnd() % 10);
    }
}

/* zlib's own raw deflate with sync flush, tail removed. */
static size_t zref(z_stream *z, const uint8_t *in, size_t n, uint8_t *out,
      size_t cap) {
    z->next_in = (Bytef*)in;
    z->avail_in = (uInt)n;
    z->next_out = out;
    z->avail_out = (uInt)cap;
    assert(deflate(z, Z_SYNC_FLUSH) == Z_OK);
    assert(z->avail_in == 0 && z->avail_out > 0);
    size_t len = cap - z->avail_out;
    assert(len >= 4 && memcmp(out + len - 4, "\0\0\xff\xff", 4) == 0);
    return len - 4;
}

/* zlib's own inflate of one message (tail restored). */
static size_t zinf(z_stream *z, const uint8_t *in, size_t n, uint8_t *out,
      size_t cap) {
    z->next_out = out;
    z->avail_out = (uInt)cap;
    z->next_in = (Bytef*)in;
    z->avail_in = (uInt)n;
    int rc = inflate(z, Z_SYNC_FLUSH);
    assert(rc == Z_OK || rc == Z_BUF_ERROR);
    z->next_in = (Bytef*)"\0\0\xff\xff";
    z->avail_in = 4;
    rc = inflate(z, Z_SYNC_FLUSH);
    assert(rc == Z_OK || rc == Z_BUF_ERROR);
    assert(z->avail_in == 0);
    return cap - z->avail_out;
}

/* Our compressor: the message in pieces of random sizes (mode MORE), the
   output through random caps; returns the compressed size. */
static size_t ours_def(struct dill__wsz_def *d, const uint8_t *in, size_t n,
      uint8_t *out, size_t cap) {
    size_t pos = 0, fill = 0;
    do {
        size_t k = 1 + rnd() % 3000;
        if(k > n - pos) k = n - pos;
        int mode = pos + k == n ? DILL__WSZ_FIN :
            (rnd() & 3) ? DILL__WSZ_MORE : DILL__WSZ_FRAME;
        assert(dill__wsz_def_input(d, in + pos, k, mode) == 0);
        pos += k;
        int more;
        do {
            size_t oc = 16 + rnd() % 700;
            if(oc > cap - fill) oc = cap - fill;
            fill += dill__wsz_def_output(d, out + fill, oc, &more);
        } while(more);
    } while(pos < n);
    return fill;
}

static void test_codec(void) {
    static uint8_t msg[40000], comp[50000], out[40000];
    for(int bits = 8; bits <= 15; bits++) {
        for(int noctx = 0; noctx != 2; noctx++) {
            /* zlib -> ours. */
            z_stream zd = {0}, zi = {0};
            assert(deflateInit2(&zd, 6, Z_DEFLATED, bits < 9 ? -9 : -bits, 8,
                Z_DEFAULT_STRATEGY) == Z_OK);
            assert(inflateInit2(&zi, -15) == Z_OK);
            struct dill__wsz_inf f = {0};
            f.bits = (uint8_t)bits;
            f.no_ctx = (uint8_t)noctx;
            struct dill__wsz_def d = {0};
            d.bits = (uint8_t)bits;
            d.no_ctx = (uint8_t)noctx;
            d.mem_level = (uint8_t)(1 + bits % 9);
            d.level = 6;
            for(int m = 0; m != 12; m++) {
                size_t n = m == 0 ? 0 : m == 1 ? 1 : rnd() % sizeof(msg);
                if(bits == 8) n = n % 257;
                gen(msg, n, m % 5 == 4);
                if(noctx) deflateReset(&zd);
                size_t cl = zref(&zd, msg, n, comp, sizeof(comp));
                size_t icut = m == 3 ? 1 : 0, ocut = m == 5 ? 1 : 0;
                ssize_t r = inflate_msg(&f, comp, cl, icut, ocut, out,
                    sizeof(out), 0);
                assert(r == (ssize_t)n && memcmp(out, msg, n) == 0);
                if(noctx) assert(f.z == NULL);
                /* ours -> zlib (and ours). */
                assert(dill__wsz_def_can(&d, n, 1));
                cl = ours_def(&d, msg, n, comp, sizeof(comp));
                if(noctx || bits == 8) {
                    assert(d.z == NULL);
                    inflateReset(&zi);
                }
                assert(zinf(&zi, comp, cl, out, sizeof(out)) == n);
                assert(memcmp(out, msg, n) == 0);
            }
            assert(dill__wsz_def_can(&d, 300, 1) == (bits > 8));
            assert(dill__wsz_def_can(&d, 100, 0) == (bits > 8));
            deflateEnd(&zd);
            inflateEnd(&zi);
            dill__wsz_inf_free(&f);
            dill__wsz_def_free(&d);
        }
    }
}

/* Window 8 on the wire: a 256-byte window inflater (zlib accepts -8)
   takes what we compress for an 8-bit peer. */
static void test_bits8(void) {
    z_stream zi = {0};
    assert(inflateInit2(&zi, -8) == Z_OK);
    struct dill__wsz_def d = {0};
    d.bits = 8;
    d.mem_level = 1;
    d.level = 9;
    static uint8_t msg[256], comp[512], out[256];
    for(int m = 0; m != 50; m++) {
        size_t n = m == 0 ? 256 : rnd() % 257;
        for(size_t i = 0; i != n; i++)
            msg[i] = (uint8_t)("abcdefghijklmnopqrstuvwxyz"[(i * 7 +
                (i / 200) * 3) % 26]);
        if(m % 3 == 0) gen(msg, n, 0);
        size_t cl = ours_def(&d, msg, n, comp, sizeof(comp));
        assert(zinf(&zi, comp, cl, out, sizeof(out)) == n);
        assert(memcmp(out, msg, n) == 0);
    }
    inflateEnd(&zi);
    dill__wsz_def_free(&d);
}

/* Corrupt input gives EDATA, never more than the limit. */
static void test_bad(void) {
    struct dill__wsz_inf f = {0};
    f.bits = 15;
    static const uint8_t bad1[] = {0xff, 0xff, 0xff, 0xff};
    uint8_t out[100];
    assert(inflate_msg(&f, bad1, 4, 0, 0, out, 100, 0) == DILL__WSZ_EDATA);
    dill__wsz_inf_free(&f);
    /* A stored block that claims more bytes than follow: the tail is
       taken as data and the stream ends short, which is not an error for
       inflate; the message is what the block held. */
    static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    assert(inflate_msg(&f, hello, 7, 0, 0, out, 100, 4) == DILL__WSZ_ETOOBIG);
    assert(f.total == 5);
    dill__wsz_inf_free(&f);
    assert(inflate_msg(&f, hello, 7, 0, 0, out, 100, 5) == 5);
    dill__wsz_inf_free(&f);
}

/* About 1 GB of zeros in about 1 MB: stopped at the limit. */
static void test_bomb(void) {
    size_t n;
    uint8_t *bomb = zbomb(&n);
    assert(bomb);
    static uint8_t out[65536];
    struct dill__wsz_inf f = {0};
    f.bits = 15;
    uint64_t max = 16u << 20;
    dill__wsz_inf_begin(&f, max);
    dill__wsz_inf_input(&f, bomb, n, 1);
    ssize_t r;
    while((r = dill__wsz_inf_output(&f, out, sizeof(out))) > 0) {}
    assert(r == DILL__WSZ_ETOOBIG);
    assert(f.total == max + 1);
    /* It was really a bomb: without a limit it gives 1 GiB. */
    dill__wsz_inf_free(&f);
    dill__wsz_inf_begin(&f, 0);
    dill__wsz_inf_input(&f, bomb, n, 1);
    while((r = dill__wsz_inf_output(&f, out, sizeof(out))) > 0) {}
    assert(r == 0 && dill__wsz_inf_done(&f));
    assert(f.total == (uint64_t)ZBOMB_MIB << 20);
    dill__wsz_inf_free(&f);
    free(bomb);
}

int main(void) {
    test_parse();
    test_server();
    test_client();
    test_rfc();
    test_codec();
    test_bits8();
    test_bad();
    test_bomb();
    return 0;
}

#endif
