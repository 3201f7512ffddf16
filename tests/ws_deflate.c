/* permessage-deflate through the public API over real sockets: every
   memory tier both ways (whole messages, gathered lists, pieces in and
   out, empty and big messages, the threshold and WS_NOCOMPRESS), what
   ws_deflate reports, hand-built frames from a raw peer (the RFC 7692
   examples, RSV1 rules, 1002/1007/1009), a decompression bomb, and the
   client's checks of the server's answer (EPROTO, socket closed). */

/* Without zlib the library never agrees permessage-deflate. */
#if !DILL_HAVE_ZLIB
int main(void) {return 0;}
#else

#include <stddef.h>
#include <string.h>
#include <zlib.h>

#include <libdill.h>

#include "proto/ws.h"
#include "proto/wshs.h"
#include "zbomb.h"
#include "wstest.h"

static uint32_t seed = 777;
static uint32_t rnd(void) {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

static void gen(uint8_t *p, size_t n, int text) {
    static const char *const w[] = {"{\"user\":", "\"bob\",", "\"n\":12,",
        "\"ok\":true", "},"};
    size_t i = 0;
    while(i < n) {
        if(!text && (rnd() & 7) == 0) {p[i++] = (uint8_t)rnd(); continue;}
        const char *s = w[rnd() % 5];
        for(size_t k = 0; s[k] && i < n; k++) p[i++] = (uint8_t)s[k];
    }
}

static struct ws_options dopts(size_t mem) {
    struct ws_options o = WS_OPTIONS_INIT;
    o.deflate = WS_DEFLATE;
    o.deflate_memory = mem;
    o.deflate_threshold = 1;
    return o;
}

coroutine static void server_co(int s, struct ws_options o, int ch) {
    char res[64], host[64];
    int h = ws_attach_server_opts(s, res, sizeof(res), host, sizeof(host),
        &o, NULL, now() + 5000);
    int err = errno;
    errno_assert(chsend(ch, &h, sizeof(h), -1) == 0);
    errno_assert(chsend(ch, &err, sizeof(err), -1) == 0);
}

/* Collects the server's handle from server_co. */
static void server_done(int ch[2], int cr, int *s) {
    int err;
    errno_assert(chrecv(ch[0], s, sizeof(*s), -1) == 0);
    errno_assert(chrecv(ch[0], &err, sizeof(err), -1) == 0);
    errno = err;
    errno_assert(*s >= 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}

static void zpair(int tcp, const struct ws_options *co,
      const struct ws_options *so, int *c, int *s) {
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int a, b;
    wst_bpair(tcp, &a, &b);
    int cr = go(server_co(b, *so, ch[1]));
    errno_assert(cr >= 0);
    *c = ws_attach_client_opts(a, "/", "localhost", co, NULL,
        now() + 5000);
    errno_assert(*c >= 0);
    server_done(ch, cr, s);
}

static uint8_t sbuf[300000], rbuf[300000];

/* One message a -> b in the way kind picks; checks it arrives intact. */
coroutine static void sender(int a, int kind, size_t n, int text) {
    int fl = text ? WS_TEXT : WS_BINARY;
    if(kind == 0) errno_assert(ws_send(a, fl, sbuf, n, -1) == 0);
    else if(kind == 1) {
        size_t k = n / 3;
        struct iolist io[3] = {{sbuf, k, &io[1], 0},
            {sbuf + k, n - 2 * k, &io[2], 0}, {sbuf + n - k, k, NULL, 0}};
        errno_assert(ws_sendl(a, fl, &io[0], &io[2], -1) == 0);
    }
    else if(kind == 2) {
        size_t pos = 0;
        do {
            size_t k = rnd() % 5000;
            if(k > n - pos) k = n - pos;
            int more = pos + k < n ? WS_MORE : 0;
            errno_assert(ws_send_part(a, fl | more, sbuf + pos, k, -1) == 0);
            pos += k;
        } while(pos < n);
    }
    else errno_assert(ws_send(a, fl | WS_NOCOMPRESS, sbuf, n, -1) == 0);
}

static void one(int a, int b, int kind, size_t n, int text) {
    gen(sbuf, n, text);
    int cr = go(sender(a, kind, n, text));
    errno_assert(cr >= 0);
    int fl;
    ssize_t got;
    if(rnd() & 1) {
        /* An exact-size buffer is enough. */
        got = ws_recv(b, &fl, rbuf, (rnd() & 1) ? n : sizeof(rbuf),
            now() + 5000);
        errno_assert(got >= 0);
    }
    else {
        got = 0;
        do {
            size_t k = 1 + rnd() % 3000;
            ssize_t r = ws_recv_part(b, &fl, rbuf + got, k, now() + 5000);
            errno_assert(r >= 0);
            got += r;
        } while(fl & WS_MORE);
    }
    assert((fl & WS_TEXT) == (text ? WS_TEXT : 0));
    assert((size_t)got == n && memcmp(rbuf, sbuf, n) == 0);
    errno_assert(hclose(cr) == 0);
}

static void test_tiers(void) {
    static const size_t mems[] = {0, 20000, 42000, 400000};
    for(int m = 0; m != 4; m++) {
        for(int tcp = 0; tcp != 2; tcp++) {
            struct ws_options o = dopts(mems[m]);
            int c, s;
            zpair(tcp, &o, &o, &c, &s);
            struct ws_deflate_params p;
            assert(ws_deflate(c, &p) == 1);
            assert(p.server_no_context_takeover == (m == 0));
            assert(p.client_no_context_takeover == (m == 0));
            int bits = m == 0 || m == 3 ? 15 : m == 1 ? 9 : 12;
            assert(p.server_max_window_bits == bits);
            assert(p.client_max_window_bits == bits);
            assert(ws_deflate(s, &p) == 1 && ws_deflate(s, NULL) == 1);
            for(int i = 0; i != 24; i++) {
                size_t n = i == 0 ? 0 : i == 1 ? 200000 : rnd() % 20000;
                one(c, s, i % 4, n, i & 1);
                one(s, c, (i + 1) % 4, n, !(i & 1));
            }
            errno_assert(hclose(c) == 0);
            errno_assert(hclose(s) == 0);
        }
    }
    /* A buffer one byte short: EMSGSIZE, and the next message is fine. */
    struct ws_options z = dopts(400000);
    int c, s;
    zpair(1, &z, &z, &c, &s);
    for(int i = 0; i != 3; i++) {
        size_t n = i == 0 ? 1 : i == 1 ? 70000 : 200000;
        gen(sbuf, n, 1);
        errno_assert(ws_send(c, WS_TEXT, sbuf, n, now() + 5000) == 0);
        int fl;
        assert_err(ws_recv(s, &fl, rbuf, n - 1, now() + 5000), EMSGSIZE);
        one(c, s, 0, n, 1);
    }
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    /* A program built before the deflate fields existed passes a smaller
       size: whatever lies beyond it is not read, so deflate stays off. */
    struct ws_options old = dopts(0);
    old.size = offsetof(struct ws_options, deflate);
    zpair(1, &old, &z, &c, &s);
    assert(ws_deflate(c, NULL) == 0 && ws_deflate(s, NULL) == 0);
    one(c, s, 0, 1000, 1);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    /* Only one side wants it: not agreed, and messages still go. */
    struct ws_options on = dopts(0), off = WS_OPTIONS_INIT;
    zpair(1, &on, &off, &c, &s);
    assert(ws_deflate(c, NULL) == 0 && ws_deflate(s, NULL) == 0);
    one(c, s, 2, 1000, 1);
    one(s, c, 0, 1000, 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    zpair(1, &off, &on, &c, &s);
    assert(ws_deflate(c, NULL) == 0 && ws_deflate(s, NULL) == 0);
    one(c, s, 3, 1000, 1);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    /* Not a WebSocket, not a handle. */
    int a, b;
    wst_bpair(1, &a, &b);
    assert_err(ws_deflate(a, NULL), ENOTSUP);
    errno_assert(hclose(a) == 0);
    errno_assert(hclose(b) == 0);
    assert_err(ws_deflate(a, NULL), EBADF);
    on.deflate = 2;
    wst_bpair(1, &a, &b);
    assert_err(ws_attach_client_opts(a, "/", "x", &on, NULL,
        now() + 1000), EINVAL);
    errno_assert(hclose(b) == 0);
}

/******************************************************************************/
/*  Raw peers                                                                 */
/******************************************************************************/

/* Reads an HTTP head byte by byte into buf (NUL-terminated). */
static void read_head(int s, char *buf, size_t cap) {
    size_t n = 0;
    while(n < 4 || memcmp(buf + n - 4, "\r\n\r\n", 4) != 0) {
        assert(n + 1 < cap);
        errno_assert(brecv(s, buf + n, 1, now() + 5000) == 0);
        n++;
    }
    buf[n] = 0;
}

/* A raw client's handshake with extension lines ext (may be NULL);
   returns the response head in resp. */
static void raw_hs(int s, const char *ext, char *resp, size_t cap) {
    char req[1024];
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n%s\r\n", ext ? ext : "");
    errno_assert(bsend(s, req, strlen(req), now() + 5000) == 0);
    read_head(s, resp, cap);
    assert(strncmp(resp, "HTTP/1.1 101", 12) == 0);
}

/* Our server (options o) and a raw client that offered ext. */
static void raw_pair(const struct ws_options *o, const char *ext, int *raw,
      int *s, char *resp, size_t cap) {
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int b;
    wst_bpair(1, raw, &b);
    int cr = go(server_co(b, *o, ch[1]));
    errno_assert(cr >= 0);
    raw_hs(*raw, ext, resp, cap);
    server_done(ch, cr, s);
}

static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};

/* Frames from a raw client that break a rule: the server fails with the
   close code and the errno. */
static void bad_case(const char *ext, void (*send)(int raw), int code,
      int err) {
    struct ws_options o = dopts(0);
    int raw, s;
    char resp[1024];
    raw_pair(&o, ext, &raw, &s, resp, sizeof(resp));
    send(raw);
    char buf[1024];
    int fl;
    int64_t t0 = now();
    assert_err(ws_recv(s, &fl, buf, sizeof(buf), now() + 5000), err);
    assert(now() - t0 < SLACK);
    assert(raw_until_close(raw, now() + 5000) == code);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(raw) == 0);
}

static void send_rsv1_cont(int raw) {
    raw_frame(raw, 0x40 | DILL__WS_TEXT, 1, hello, 3);
    raw_frame(raw, 0x80 | 0x40, 1, hello + 3, 4);
}
static void send_rsv1_ping(int raw) {
    raw_frame(raw, 0x80 | 0x40 | DILL__WS_PING, 1, "x", 1);
}
static void send_hello(int raw) {
    raw_frame(raw, 0x80 | 0x40 | DILL__WS_TEXT, 1, hello, sizeof(hello));
}
static void send_garbage(int raw) {
    static const uint8_t g[] = {0xff, 0xff, 0xff, 0xff, 0xff};
    raw_frame(raw, 0x80 | 0x40 | DILL__WS_BINARY, 1, g, sizeof(g));
}
static void send_bad_utf8(int raw) {
    /* Raw deflate of the bytes "a\xff" (a stored block). */
    static const uint8_t g[] = {0x00, 0x02, 0x00, 0xfd, 0xff, 'a', 0xff};
    raw_frame(raw, 0x80 | 0x40 | DILL__WS_TEXT, 1, g, sizeof(g));
}
static void send_cut_utf8(int raw) {
    /* A text message ending inside a UTF-8 sequence. */
    static const uint8_t g[] = {0x00, 0x02, 0x00, 0xfd, 0xff, 'a', 0xc3};
    raw_frame(raw, 0x80 | 0x40 | DILL__WS_TEXT, 1, g, sizeof(g));
}

static void test_raw(void) {
    struct ws_options o = dopts(0);
    int raw, s;
    char resp[1024];
    /* Several offers over two lines: the first acceptable one wins. */
    raw_pair(&o, "Sec-WebSocket-Extensions: foo, permessage-deflate; x=1\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; "
        "client_max_window_bits; server_max_window_bits=10\r\n", &raw, &s,
        resp, sizeof(resp));
    assert(strstr(resp, "Sec-WebSocket-Extensions: permessage-deflate; "
        "server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10\r\n"));
    struct ws_deflate_params p;
    assert(ws_deflate(s, &p) == 1 && p.server_max_window_bits == 10 &&
        p.client_max_window_bits == 15);
    /* 7.2.3.1, whole and in two frames; a plain message in between. */
    char buf[256];
    int fl;
    send_hello(raw);
    raw_frame(raw, 0x40 | DILL__WS_BINARY, 1, hello, 3);
    raw_frame(raw, 0x80 | DILL__WS_PING, 1, "p", 1);
    raw_frame(raw, 0x80, 1, hello + 3, 4);
    raw_frame(raw, 0x80 | DILL__WS_TEXT, 1, "plain", 5);
    raw_frame(raw, 0x80 | 0x40 | DILL__WS_TEXT, 1, "\x00", 1);
    raw_frame(raw, 0x80 | 0x40 | DILL__WS_TEXT, 1, "", 0);
    assert(ws_recv(s, &fl, buf, sizeof(buf), now() + 5000) == 5);
    assert(fl == WS_TEXT && memcmp(buf, "Hello", 5) == 0);
    assert(ws_recv(s, &fl, buf, sizeof(buf), now() + 5000) == 5);
    assert(fl == WS_BINARY && memcmp(buf, "Hello", 5) == 0);
    assert(ws_recv(s, &fl, buf, sizeof(buf), now() + 5000) == 5);
    assert(fl == WS_TEXT && memcmp(buf, "plain", 5) == 0);
    assert(ws_recv(s, &fl, buf, sizeof(buf), now() + 5000) == 0);
    assert(ws_recv(s, &fl, buf, sizeof(buf), now() + 5000) == 0);
    /* Our frames: RSV1 on the first frame only, never on control frames;
       the tail is removed (RFC bytes for "Hello"). */
    static struct raw_rx f;
    errno_assert(raw_read(raw, &f, now() + 5000) == 0);
    assert(f.op == DILL__WS_PONG && f.rsv == 0);
    errno_assert(ws_send(s, WS_TEXT, "Hello", 5, now() + 5000) == 0);
    errno_assert(raw_read(raw, &f, now() + 5000) == 0);
    assert(f.fin && f.rsv == 0x40 && f.op == DILL__WS_TEXT && f.len == 7 &&
        memcmp(f.p, hello, 7) == 0);
    errno_assert(ws_ping(s, "q", 1, now() + 5000) == 0);
    errno_assert(raw_read(raw, &f, now() + 5000) == 0);
    assert(f.op == DILL__WS_PING && f.rsv == 0);
    errno_assert(ws_send_part(s, WS_BINARY | WS_MORE, "Hel", 3,
        now() + 5000) == 0);
    errno_assert(ws_send_part(s, 0, "lo", 2, now() + 5000) == 0);
    errno_assert(raw_read(raw, &f, now() + 5000) == 0);
    assert(!f.fin && f.rsv == 0x40 && f.op == DILL__WS_BINARY);
    errno_assert(raw_read(raw, &f, now() + 5000) == 0);
    assert(f.fin && f.rsv == 0 && f.op == DILL__WS_CONT);
    errno_assert(ws_send(s, WS_TEXT | WS_NOCOMPRESS, "Hello", 5,
        now() + 5000) == 0);
    errno_assert(raw_read(raw, &f, now() + 5000) == 0);
    assert(f.rsv == 0 && f.len == 5);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(raw) == 0);
    /* Threshold: short messages go plain. */
    o.deflate_threshold = 0;
    raw_pair(&o, "Sec-WebSocket-Extensions: permessage-deflate\r\n", &raw,
        &s, resp, sizeof(resp));
    errno_assert(ws_send(s, WS_TEXT, "Hello", 5, now() + 5000) == 0);
    errno_assert(raw_read(raw, &f, now() + 5000) == 0);
    assert(f.rsv == 0 && f.len == 5);
    memset(buf, 'a', 200);
    errno_assert(ws_send(s, WS_TEXT, buf, 200, now() + 5000) == 0);
    errno_assert(raw_read(raw, &f, now() + 5000) == 0);
    assert(f.rsv == 0x40 && f.len < 20);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(raw) == 0);
    /* Declined offers: no extension in the 101, RSV1 is then 1002. */
    o = dopts(0);
    raw_pair(&o, "Sec-WebSocket-Extensions: permessage-deflate; "
        "server_max_window_bits=7\r\n", &raw, &s, resp, sizeof(resp));
    assert(!strstr(resp, "Sec-WebSocket-Extensions"));
    assert(ws_deflate(s, NULL) == 0);
    send_hello(raw);
    assert_err(ws_recv(s, &fl, buf, sizeof(buf), now() + 5000), EPROTO);
    assert(raw_until_close(raw, now() + 5000) == 1002);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(raw) == 0);
    const char *pmd = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    bad_case(NULL, send_hello, 1002, EPROTO);
    bad_case(pmd, send_rsv1_cont, 1002, EPROTO);
    bad_case(pmd, send_rsv1_ping, 1002, EPROTO);
    bad_case(pmd, send_garbage, 1007, EPROTO);
    bad_case(pmd, send_bad_utf8, 1007, EPROTO);
    bad_case(pmd, send_cut_utf8, 1007, EPROTO);
    /* With deflate agreed, plain messages keep the exact limit, compressed
       ones count their inflated size (a stored block expands them). */
    o = dopts(0);
    o.max_message = 1000;
    raw_pair(&o, "Sec-WebSocket-Extensions: permessage-deflate\r\n", &raw,
        &s, resp, sizeof(resp));
    static uint8_t big[1100];
    memset(big, 'a', sizeof(big));
    big[0] = 0x01;
    big[1] = 0xe8;
    big[2] = 0x03;
    big[3] = 0x17;
    big[4] = 0xfc;
    raw_frame(raw, 0x80 | 0x40 | DILL__WS_TEXT, 1, big, 1005);
    assert(ws_recv(s, &fl, rbuf, sizeof(rbuf), now() + 5000) == 1000);
    raw_frame(raw, 0x80 | DILL__WS_TEXT, 1, big + 5, 1000);
    assert(ws_recv(s, &fl, rbuf, sizeof(rbuf), now() + 5000) == 1000);
    raw_frame(raw, 0x80 | DILL__WS_TEXT, 1, big + 5, 1001);
    assert_err(ws_recv(s, &fl, rbuf, sizeof(rbuf), now() + 5000), EMSGSIZE);
    assert(raw_until_close(raw, now() + 5000) == 1009);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(raw) == 0);
}

/* About 1 GiB of zeros in about 1 MB of frames, sent by a raw client in
   64 KiB frames; the server stops at max_message. */
coroutine static void bomb_sender(int raw, const uint8_t *p, size_t n) {
    size_t pos = 0;
    while(pos < n) {
        size_t k = n - pos < 65536 ? n - pos : 65536;
        int b0 = (pos == 0 ? 0x40 | DILL__WS_BINARY : 0) |
            (pos + k == n ? 0x80 : 0);
        /* The server may fail the connection before the end. */
        uint8_t f[DILL__WS_HDR_MAX + 65536];
        static const uint8_t key[4] = {1, 2, 3, 4};
        size_t hl = dill__ws_build_header(f, b0 >> 7, b0 & 0x0f, b0 & 0x70,
            key, k);
        dill__ws_mask(f + hl, p + pos, k, key, 0);
        if(bsend(raw, f, hl + k, now() + 5000) < 0) return;
        pos += k;
    }
}

static void test_bomb(void) {
    size_t n;
    uint8_t *bomb = zbomb(&n);
    assert(bomb);
    struct ws_options o = dopts(0);
    o.max_message = 1 << 20;
    int raw, s;
    char resp[1024];
    raw_pair(&o, "Sec-WebSocket-Extensions: permessage-deflate\r\n", &raw, &s,
        resp, sizeof(resp));
    int cr = go(bomb_sender(raw, bomb, n));
    errno_assert(cr >= 0);
    int fl;
    int64_t t0 = now();
    assert_err(ws_recv(s, &fl, rbuf, sizeof(rbuf), now() + 10000), EMSGSIZE);
    assert(now() - t0 < SLACK);
    /* The same through pieces and a buffer bigger than the limit. */
    assert(raw_until_close(raw, now() + 5000) == 1009);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(raw) == 0);
    raw_pair(&o, "Sec-WebSocket-Extensions: permessage-deflate\r\n", &raw, &s,
        resp, sizeof(resp));
    cr = go(bomb_sender(raw, bomb, n));
    errno_assert(cr >= 0);
    ssize_t r, total = 0;
    while((r = ws_recv_part(s, &fl, rbuf, sizeof(rbuf), now() + 10000)) >= 0)
        total += r;
    assert(errno == EMSGSIZE && total <= (1 << 20));
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(raw) == 0);
    free(bomb);
}

/* A raw server answering our client's offer with ext. */
coroutine static void raw_server(int s, const char *ext) {
    char req[2048];
    read_head(s, req, sizeof(req));
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    assert(k);
    k += 19;
    char acc[DILL__WS_ACCEPT_LEN + 1];
    dill__ws_accept_key(k, DILL__WS_KEY_LEN, acc);
    char resp[1024];
    snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: %s\r\n%s\r\n", acc, ext);
    bsend(s, resp, strlen(resp), now() + 5000);
    char c;
    brecv(s, &c, 1, now() + 5000);
    hclose(s);
}

static int client_vs(const char *ext, size_t mem) {
    int a, b;
    wst_bpair(1, &a, &b);
    int cr = go(raw_server(b, ext));
    errno_assert(cr >= 0);
    struct ws_options o = dopts(mem);
    int c = ws_attach_client_opts(a, "/", "x", &o, NULL, now() + 5000);
    int err = errno;
    errno_assert(hclose(cr) == 0);
    if(c >= 0) {
        struct ws_deflate_params p;
        assert(ws_deflate(c, &p) == 1);
        errno_assert(hclose(c) == 0);
        return 0;
    }
    errno = err;
    return -1;
}

static void test_client_answers(void) {
    errno_assert(client_vs("Sec-WebSocket-Extensions: permessage-deflate; "
        "server_no_context_takeover\r\n", 0) == 0);
    errno_assert(client_vs("Sec-WebSocket-Extensions: permessage-deflate; "
        "client_max_window_bits=8\r\n", 1000000) == 0);
    static const char *const bad[] = {
        "Sec-WebSocket-Extensions: foo\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; "
            "server_no_context_takeover; bar\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; "
            "server_no_context_takeover, permessage-deflate\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; "
            "server_no_context_takeover\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; "
            "server_no_context_takeover\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; "
            "server_no_context_takeover; client_max_window_bits\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; "
            "server_no_context_takeover; server_max_window_bits=16\r\n",
        NULL};
    for(int i = 0; bad[i]; i++) assert_err(client_vs(bad[i], 0), EPROTO);
    /* The small tier asked for server_max_window_bits=10. */
    assert_err(client_vs("Sec-WebSocket-Extensions: permessage-deflate; "
        "server_max_window_bits=11\r\n", 21000), EPROTO);
    errno_assert(client_vs("Sec-WebSocket-Extensions: permessage-deflate; "
        "server_max_window_bits=8\r\n", 21000) == 0);
}

/* ws_listen / ws_connect pass the options through, over ws and wss. */
coroutine static void url_echo(int l) {
    int s = ws_accept(l, NULL, 0, NULL, now() + 5000);
    errno_assert(s >= 0);
    assert(ws_deflate(s, NULL) == 1);
    int fl;
    ssize_t n = ws_recv(s, &fl, rbuf, sizeof(rbuf), now() + 5000);
    errno_assert(n >= 0);
    errno_assert(ws_send(s, fl, rbuf, (size_t)n, now() + 5000) == 0);
    ws_recv(s, &fl, rbuf, sizeof(rbuf), now() + 5000);
    hclose(s);
}

static void url_case(struct tls_server_ctx *ctx,
      const struct tls_client_options *tco) {
    struct ws_options o = dopts(42000);
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    lo.ws = &o;
    lo.tls = ctx;
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int l = ws_listen(&addr, &lo);
    errno_assert(l >= 0);
    int cr = go(url_echo(l));
    errno_assert(cr >= 0);
    char url[64];
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d/", ctx ? "wss" : "ws",
        ipaddr_port(&addr));
    int c = ws_connect(url, &o, tco, now() + 5000);
    errno_assert(c >= 0);
    struct ws_deflate_params p;
    assert(ws_deflate(c, &p) == 1 && p.server_max_window_bits == 12);
    gen(sbuf, 50000, 1);
    errno_assert(ws_send(c, WS_TEXT, sbuf, 50000, now() + 5000) == 0);
    int fl;
    assert(ws_recv(c, &fl, rbuf, sizeof(rbuf), now() + 5000) == 50000);
    assert(memcmp(rbuf, sbuf, 50000) == 0);
    errno_assert(ws_done(c, 1000, NULL, 0, now() + 5000) == 0);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(l) == 0);
}

static void test_url(void) {
    url_case(NULL, NULL);
#if !defined DILL_DISABLE_TLS
    char dir[] = "/tmp/dill-wsz-XXXXXX", cmd[512], crt[64], key[64];
    assert(mkdtemp(dir));
    snprintf(crt, sizeof(crt), "%s/c.pem", dir);
    snprintf(key, sizeof(key), "%s/k.pem", dir);
    snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
        "ec_paramgen_curve:P-256 -nodes -keyout %s -out %s -subj "
        "/CN=localhost -days 1 >/dev/null 2>&1", key, crt);
    assert(system(cmd) == 0);
    struct tls_server_options so = TLS_SERVER_OPTIONS_INIT;
    so.cert_file = crt;
    so.key_file = key;
    struct tls_server_ctx *ctx = tls_server_ctx_new(&so);
    errno_assert(ctx != NULL);
    struct tls_client_options co = TLS_CLIENT_OPTIONS_INIT;
    co.insecure_skip_verify = 1;
    url_case(ctx, &co);
    tls_server_ctx_free(ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert(system(cmd) == 0);
#endif
}

/* What Autobahn's groups 12 and 13 check: every window size and takeover
   combination, messages of 16 B to 128 KiB both ways.  The handshake is
   skipped (WS_NOHTTP) and each side is given the parameters directly. */
static void zforce(int h, int server, int sbits, int cbits, int sn, int cn) {
    struct dill__ws *self = hquery(h, dill__ws_type);
    assert(self);
    struct dill__wsz_agreed a = {{(uint8_t)sn, (uint8_t)cn, (uint8_t)sbits,
        (uint8_t)cbits}, 0, 0, 0, 0};
    a.send_bits = (uint8_t)(server ? sbits : cbits);
    a.recv_bits = (uint8_t)(server ? cbits : sbits);
    a.send_no_ctx = (uint8_t)(server ? sn : cn);
    a.recv_no_ctx = (uint8_t)(server ? cn : sn);
    struct dill__wsz_cfg cfg = {1, 15, 15, 8, 6};
    errno_assert(dill__ws_zsetup(self, &a, &cfg, 1) == 0);
}

static void test_matrix(void) {
    static const size_t sizes[] = {0, 16, 64, 256, 257, 1000, 4096, 65535,
        65536, 131072};
    static const int cb[] = {8, 9, 11, 15};
    for(int sbits = 8; sbits <= 15; sbits++) {
        for(int k = 0; k != 4; k++) {
            for(int t = 0; t != 4; t++) {
                int p[2];
                errno_assert(ipc_pair(p) == 0);
                int c = ws_attach_client(p[0], WS_NOHTTP, NULL, NULL, -1);
                int s = ws_attach_server(p[1], WS_NOHTTP, NULL, 0, NULL, 0,
                    -1);
                errno_assert(c >= 0 && s >= 0);
                zforce(c, 0, sbits, cb[k], t & 1, t >> 1);
                zforce(s, 1, sbits, cb[k], t & 1, t >> 1);
                for(int i = 0; i != 10; i++) {
                    one(c, s, i % 3, sizes[i], i & 1);
                    one(s, c, (i + 1) % 3, sizes[i], !(i & 1));
                }
                errno_assert(hclose(c) == 0);
                errno_assert(hclose(s) == 0);
            }
        }
    }
}

int main(void) {
    test_matrix();
    test_url();
    test_tiers();
    test_raw();
    test_bomb();
    test_client_answers();
    return 0;
}

#endif
