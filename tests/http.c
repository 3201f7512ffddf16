/* The libdill-compatible HTTP layer (http_attach and friends): the pure
   line parsers, full exchanges over ipc_pair and TCP, malformed and
   overlong lines from a raw peer (whole, byte by byte, random splits),
   small buffers, bad arguments, deadlines (silent and trickling peers,
   resumption after a timeout), cancellation, closing under a blocked call,
   http_detach handing back an exactly positioned socket, the _mem variant
   and hclose of the whole stack. */

#include <string.h>

#if defined __has_include
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "assert.h"
#include "plainsock.h"
#include "libdillimpl.h"
#include "proto/http.h"

/* Allowed lateness of a deadline (loaded machines, sanitizers). */
#define SLACK 3000  /* upper bounds only prove that a wait was bounded; loaded CI machines are slow */

/* Transports: 0 = ipc_pair, 1 = TCP over 127.0.0.1. */
static int tr;

/* A connected pair of bytestream sockets of the current transport. */
static void mkpair(int *a, int *b) {
    if(tr == 0) {
        int s[2];
        errno_assert(ipc_pair(s) == 0);
        *a = s[0];
        *b = s[1];
        return;
    }
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&addr, 10);
    errno_assert(ls >= 0);
    assert(ipaddr_port(&addr) != 0);
    *a = tcp_connect(&addr, now() + 1000);
    errno_assert(*a >= 0);
    *b = tcp_accept(ls, NULL, now() + 1000);
    errno_assert(*b >= 0);
    errno_assert(hclose(ls) == 0);
}

/* raw: a plain socket; *h: an HTTP socket over the other end. */
static void mkhttp(int *raw, int *h) {
    int b;
    mkpair(raw, &b);
    *h = http_attach(b);
    errno_assert(*h >= 0);
}

static void sendstr(int s, const char *str) {
    errno_assert(bsend(s, str, strlen(str), now() + 1000) == 0);
}

/* Receives exactly strlen(expect) bytes and compares them. */
static void expect_raw(int s, const char *expect) {
    size_t n = strlen(expect);
    char *buf = malloc(n + 1);
    assert(buf);
    errno_assert(brecv(s, buf, n, now() + 1000) == 0);
    buf[n] = 0;
    if(memcmp(buf, expect, n) != 0) {
        fprintf(stderr, "got \"%s\"\nwanted \"%s\"\n", buf, expect);
        assert(0);
    }
    free(buf);
}

/* Nothing more arrives on s for a short while. */
static void expect_silence(int s) {
    char c;
    assert_err(brecv(s, &c, 1, now() + 30), ETIMEDOUT);
}

static int elapsed_ok(int64_t start, int64_t want) {
    int64_t d = now() - start;
    return d >= want - 5 && d <= want + SLACK;
}

/******************************************************************************/
/*  Pure line parsers                                                         */
/******************************************************************************/

/* Copies the line into an exact-size heap block, so that any read past
   its end is an ASan error. */
static char *exact(const char *line) {
    size_t n = strlen(line);
    char *p = malloc(n ? n : 1);
    assert(p);
    memcpy(p, line, n);
    return p;
}

static int reqline(const char *line, const char *m, const char *t) {
    char *p = exact(line);
    const char *pm, *pt;
    size_t ml, tl;
    int rc = dill__http_reqline(p, strlen(line), &pm, &ml, &pt, &tl);
    if(rc == 0 && m)
        assert(ml == strlen(m) && memcmp(pm, m, ml) == 0 &&
            tl == strlen(t) && memcmp(pt, t, tl) == 0);
    free(p);
    return rc;
}

static int statusline(const char *line, int status, const char *r) {
    char *p = exact(line);
    const char *pr;
    size_t rl;
    int st;
    int rc = dill__http_statusline(p, strlen(line), &st, &pr, &rl);
    if(rc == 0 && r)
        assert(st == status && rl == strlen(r) && memcmp(pr, r, rl) == 0);
    free(p);
    return rc;
}

static int fieldline(const char *line, const char *n, const char *v) {
    char *p = exact(line);
    const char *pn, *pv;
    size_t nl, vl;
    int rc = dill__http_fieldline(p, strlen(line), &pn, &nl, &pv, &vl);
    if(rc == 0 && n)
        assert(nl == strlen(n) && memcmp(pn, n, nl) == 0 &&
            vl == strlen(v) && memcmp(pv, v, vl) == 0);
    free(p);
    return rc;
}

static void test_parsers(void) {
    assert(reqline("GET / HTTP/1.1", "GET", "/") == 0);
    assert(reqline("M-SEARCH * HTTP/1.1", "M-SEARCH", "*") == 0);
    assert(reqline("POST /a?b=c&d=%20 HTTP/1.1", "POST", "/a?b=c&d=%20") == 0);
    assert(reqline("CONNECT h:443 HTTP/1.1", "CONNECT", "h:443") == 0);
    const char *badreq[] = {
        "", "GET", "GET /", "GET / ", "GET  / HTTP/1.1", "GET /  HTTP/1.1",
        " GET / HTTP/1.1", "GET / HTTP/1.1 ", "GET / HTTP/1.0",
        "GET / HTTP/2.0", "GET / http/1.1", "GET / HTTP/1.10", "G(T / HTTP/1.1",
        "GET /\x7f HTTP/1.1", "GET /\x80 HTTP/1.1", "GET\t/ HTTP/1.1",
        " / HTTP/1.1", "GET  HTTP/1.1",
    };
    for(size_t i = 0; i != sizeof(badreq) / sizeof(badreq[0]); i++)
        assert(reqline(badreq[i], NULL, NULL) == -EPROTO);
    char nul[] = "GET /a\0b HTTP/1.1";
    const char *pm, *pt;
    size_t ml, tl;
    assert(dill__http_reqline(nul, sizeof(nul) - 1, &pm, &ml, &pt, &tl) ==
        -EPROTO);

    assert(statusline("HTTP/1.1 200 OK", 200, "OK") == 0);
    assert(statusline("HTTP/1.1 404 Not  Found ", 404, "Not  Found ") == 0);
    assert(statusline("HTTP/1.1 101 Switching Protocols", 101,
        "Switching Protocols") == 0);
    assert(statusline("HTTP/1.1 204", 204, "") == 0);
    assert(statusline("HTTP/1.1 204 ", 204, "") == 0);
    assert(statusline("HTTP/1.1 599 x\ty\xc3\xa9", 599, "x\ty\xc3\xa9") == 0);
    assert(statusline("HTTP/1.1 100 Continue", 100, "Continue") == 0);
    const char *badst[] = {
        "", "HTTP/1.1", "HTTP/1.1 ", "HTTP/1.1 20", "HTTP/1.1 099 X",
        "HTTP/1.1 600 X", "HTTP/1.1 999 X", "HTTP/1.1 2000 OK",
        "HTTP/1.1 20a OK", "HTTP/1.1  200 OK", "HTTP/1.1 200\tOK",
        "HTTP/1.0 200 OK", "HTTP/1.1 200 O\x7fK", "HTTP/1.1 200 O\x01K",
        "http/1.1 200 OK", "HTTP/1.1-200 OK", " HTTP/1.1 200 OK",
    };
    for(size_t i = 0; i != sizeof(badst) / sizeof(badst[0]); i++)
        assert(statusline(badst[i], 0, NULL) == -EPROTO);

    assert(fieldline("Host: example.org", "Host", "example.org") == 0);
    assert(fieldline("Host:example.org", "Host", "example.org") == 0);
    assert(fieldline("X:  \t a b \t ", "X", "a b") == 0);
    assert(fieldline("X:", "X", "") == 0);
    assert(fieldline("X: \t ", "X", "") == 0);
    assert(fieldline("X: a:b: c", "X", "a:b: c") == 0);
    assert(fieldline("X: \xc3\xa9t\xc3\xa9", "X", "\xc3\xa9t\xc3\xa9") == 0);
    assert(fieldline("!#$%&'*+-.^_`|~09az: v", "!#$%&'*+-.^_`|~09az",
        "v") == 0);
    const char *badf[] = {
        "", "Host", "Host example.org", ": v", "Host : v", "Host\t: v",
        " Host: v", "\tHost: v", "Ho st: v", "Ho(st: v", "H\x01: v",
        "Host: a\x01", "Host: a\x7f", "H\xc3\xa9: v",
    };
    for(size_t i = 0; i != sizeof(badf) / sizeof(badf[0]); i++)
        assert(fieldline(badf[i], NULL, NULL) == -EPROTO);

    size_t n = 7;
    const char *t = dill__http_trim(" \tab c\t ", &n);
    assert(n == 4 && memcmp(t, "ab c", 4) == 0);
    n = 3;
    t = dill__http_trim("   ", &n);
    assert(n == 0);
}

/******************************************************************************/
/*  Full exchange                                                             */
/******************************************************************************/

coroutine void server(int s, int usemem) {
    struct http_storage mem;
    s = usemem ? http_attach_mem(s, &mem) : http_attach(s);
    errno_assert(s >= 0);
    int64_t dl = now() + 2000;
    char cmd[16], res[64], name[32], value[64];
    errno_assert(http_recvrequest(s, cmd, sizeof(cmd), res, sizeof(res),
        dl) == 0);
    assert(strcmp(cmd, "GET") == 0 && strcmp(res, "/path?x=1") == 0);
    errno_assert(http_recvfield(s, name, sizeof(name), value, sizeof(value),
        dl) == 0);
    assert(strcmp(name, "Host") == 0 && strcmp(value, "example.org") == 0);
    errno_assert(http_recvfield(s, name, sizeof(name), value, sizeof(value),
        dl) == 0);
    assert(strcmp(name, "X-Test") == 0 && strcmp(value, "a  b") == 0);
    errno_assert(http_recvfield(s, name, sizeof(name), value, sizeof(value),
        dl) == 0);
    assert(strcmp(name, "Empty") == 0 && strcmp(value, "") == 0);
    assert_err(http_recvfield(s, name, sizeof(name), value, sizeof(value),
        dl), EPIPE);
    assert_err(http_recvfield(s, name, sizeof(name), value, sizeof(value),
        dl), EPIPE);
    assert_err(http_recvrequest(s, cmd, sizeof(cmd), res, sizeof(res), dl),
        EPIPE);
    errno_assert(http_sendstatus(s, 200, "OK", dl) == 0);
    errno_assert(http_sendfield(s, "Content-Length", "5", dl) == 0);
    errno_assert(http_done(s, dl) == 0);
    assert_err(http_sendfield(s, "Late", "x", dl), EPIPE);
    assert_err(http_sendstatus(s, 200, "OK", dl), EPIPE);
    assert_err(http_done(s, dl), EPIPE);
    int u = http_detach(s, dl);
    errno_assert(u >= 0);
    assert_err(hclose(s), EBADF);
    errno_assert(bsend(u, "hello", 5, dl) == 0);
    char buf[3];
    errno_assert(brecv(u, buf, 3, dl) == 0);
    assert(memcmp(buf, "abc", 3) == 0);
    errno_assert(hclose(u) == 0);
}

static void client(int s, int usemem) {
    struct http_storage mem;
    s = usemem ? http_attach_mem(s, &mem) : http_attach(s);
    errno_assert(s >= 0);
    int64_t dl = now() + 2000;
    errno_assert(http_sendrequest(s, "GET", "/path?x=1", dl) == 0);
    errno_assert(http_sendfield(s, "Host", "example.org", dl) == 0);
    errno_assert(http_sendfield(s, "X-Test", " \t a  b \t", dl) == 0);
    errno_assert(http_sendfield(s, "Empty", "", dl) == 0);
    errno_assert(http_done(s, dl) == 0);
    char reason[16], name[32], value[64];
    assert(http_recvstatus(s, reason, sizeof(reason), dl) == 200);
    assert(strcmp(reason, "OK") == 0);
    errno_assert(http_recvfield(s, name, sizeof(name), value, sizeof(value),
        dl) == 0);
    assert(strcmp(name, "Content-Length") == 0 && strcmp(value, "5") == 0);
    assert_err(http_recvfield(s, name, sizeof(name), value, sizeof(value),
        dl), EPIPE);
    assert_err(http_recvstatus(s, reason, sizeof(reason), dl), EPIPE);
    int u = http_detach(s, dl);
    errno_assert(u >= 0);
    char buf[5];
    errno_assert(brecv(u, buf, 5, dl) == 0);
    assert(memcmp(buf, "hello", 5) == 0);
    errno_assert(bsend(u, "abc", 3, dl) == 0);
    errno_assert(hclose(u) == 0);
}

static void test_exchange(int usemem) {
    int a, b;
    mkpair(&a, &b);
    int cr = go(server(b, usemem));
    errno_assert(cr >= 0);
    client(a, usemem);
    errno_assert(bundle_wait(cr, now() + 2000) == 0);
    errno_assert(hclose(cr) == 0);
}

/* What the wire carries for a typical head. */
static void test_wire_format(void) {
    int raw, h;
    mkhttp(&raw, &h);
    errno_assert(http_sendrequest(h, "POST", "/x", -1) == 0);
    errno_assert(http_sendfield(h, "A", "1", -1) == 0);
    errno_assert(http_done(h, -1) == 0);
    expect_raw(raw, "POST /x HTTP/1.1\r\nA: 1\r\n\r\n");
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(raw) == 0);
    mkhttp(&raw, &h);
    errno_assert(http_sendstatus(h, 101, "Switching Protocols", -1) == 0);
    errno_assert(http_sendstatus(h, 204, "", -1) == 0);
    errno_assert(http_sendstatus(h, 599, "x\ty", -1) == 0);
    expect_raw(raw, "HTTP/1.1 101 Switching Protocols\r\n"
        "HTTP/1.1 204 \r\nHTTP/1.1 599 x\ty\r\n");
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(raw) == 0);
}

/******************************************************************************/
/*  Raw peers                                                                 */
/******************************************************************************/

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* Sends str in pieces: mode 0 whole, 1 byte by byte, 2 random sizes,
   yielding between pieces so that the reader sees every split. */
coroutine void feeder(int s, const char *str, int mode) {
    size_t len = strlen(str), off = 0;
    while(off < len) {
        size_t n = len - off;
        if(mode == 1) n = 1;
        if(mode == 2) n = 1 + rnd() % (n < 16 ? n : 16);
        if(bsend(s, str + off, n, now() + 2000) < 0) return;
        off += n;
        if(mode && yield() < 0) return;
    }
}

/* Starts a feeder; a separate function keeps go()'s setjmp away from
   the caller's locals. */
static __attribute__((noinline)) int start_feeder(int s, const char *str,
    int mode) {
    int f = go(feeder(s, str, mode));
    errno_assert(f >= 0);
    return f;
}

static const char good_request[] =
    "\r\n\n"                                   /* tolerated before it */
    "PUT /up/load HTTP/1.1\r\n"
    "Host: h\n"                                /* a bare LF ends a line */
    "Content-Type:text/plain\r\n"
    "X-Ws:  \t spaced \t \r\n"
    "X-Utf8: \xc3\xa9\r\n"
    "\r\n"
    "BODY";

/* Reads good_request, then detaches and checks that the body is intact. */
static void read_good_request(int h) {
    int64_t dl = now() + 2000;
    char cmd[8], res[16], name[16], value[16];
    errno_assert(http_recvrequest(h, cmd, sizeof(cmd), res, sizeof(res),
        dl) == 0);
    assert(strcmp(cmd, "PUT") == 0 && strcmp(res, "/up/load") == 0);
    static const char *want[][2] = {
        {"Host", "h"}, {"Content-Type", "text/plain"}, {"X-Ws", "spaced"},
        {"X-Utf8", "\xc3\xa9"},
    };
    for(int i = 0; i != 4; i++) {
        errno_assert(http_recvfield(h, name, sizeof(name), value,
            sizeof(value), dl) == 0);
        assert(strcmp(name, want[i][0]) == 0);
        assert(strcmp(value, want[i][1]) == 0);
    }
    assert_err(http_recvfield(h, name, sizeof(name), value, sizeof(value),
        dl), EPIPE);
    int u = http_detach(h, dl);
    errno_assert(u >= 0);
    char body[4];
    errno_assert(brecv(u, body, 4, dl) == 0);
    assert(memcmp(body, "BODY", 4) == 0);
    errno_assert(hclose(u) == 0);
}

static void test_splits(void) {
    for(int mode = 0; mode != 3; mode++) {
        for(int rep = 0; rep != (mode == 2 ? 20 : 1); rep++) {
            int raw, h;
            mkhttp(&raw, &h);
            int f = start_feeder(raw, good_request, mode);
            read_good_request(h);
            errno_assert(bundle_wait(f, now() + 2000) == 0);
            errno_assert(hclose(f) == 0);
            errno_assert(hclose(raw) == 0);
        }
    }
}

/* Operation kinds for bad_input. */
enum {REQ, STATUS, FIELD};

/* Feeds input and expects op to fail with err; after a protocol error the
   receive side is dead (ECONNRESET), also for http_detach. */
static void bad_input(const char *input, int op, int err) {
    for(int mode = 0; mode != 3; mode++) {
        int raw, h;
        mkhttp(&raw, &h);
        int f = start_feeder(raw, input, mode);
        int64_t dl = now() + 2000;
        char a[64], b[64];
        if(op == REQ)
            assert_err(http_recvrequest(h, a, sizeof(a), b, sizeof(b), dl),
                err);
        else if(op == STATUS)
            assert_err(http_recvstatus(h, a, sizeof(a), dl), err);
        else {
            errno_assert(http_recvrequest(h, a, sizeof(a), b, sizeof(b),
                dl) == 0);
            assert_err(http_recvfield(h, a, sizeof(a), b, sizeof(b), dl),
                err);
        }
        assert_err(http_recvfield(h, a, sizeof(a), b, sizeof(b), dl),
            ECONNRESET);
        assert_err(http_recvstatus(h, a, sizeof(a), dl), ECONNRESET);
        /* Sending is unaffected. */
        errno_assert(http_sendstatus(h, 400, "Bad Request", dl) == 0);
        expect_raw(raw, "HTTP/1.1 400 Bad Request\r\n");
        assert_err(http_detach(h, dl), ECONNRESET);
        assert_err(hclose(h), EBADF);
        errno_assert(bundle_wait(f, now() + 2000) == 0);
        errno_assert(hclose(f) == 0);
        errno_assert(hclose(raw) == 0);
    }
}

static void test_malformed(void) {
    bad_input("GET / HTTP/1.0\r\n", REQ, EPROTO);
    bad_input("GET  / HTTP/1.1\r\n", REQ, EPROTO);
    bad_input("GET / HTTP/1.1\rX", REQ, EPROTO);      /* CR without LF */
    bad_input("GET / HTTP/1.1\r\r\n", REQ, EPROTO);
    bad_input("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n", REQ,
        EPROTO);                                    /* too many empties */
    bad_input("HTTP/1.1 600 Nope\r\n", STATUS, EPROTO);
    bad_input("HTTP/1.1 20 OK\r\n", STATUS, EPROTO);
    bad_input("\r\nHTTP/1.1 200 OK\r\n", STATUS, EPROTO);
    bad_input("HTTP/1.1 200 O\x01K\r\n", STATUS, EPROTO);
    bad_input("GET / HTTP/1.1\r\nHost : x\r\n", FIELD, EPROTO);
    bad_input("GET / HTTP/1.1\r\n folded: x\r\n", FIELD, EPROTO);
    bad_input("GET / HTTP/1.1\r\nNoColon\r\n", FIELD, EPROTO);
    bad_input("GET / HTTP/1.1\r\nX: a\x01" "b\r\n", FIELD, EPROTO);
    bad_input("GET / HTTP/1.1\r\nX: a\rb\r\n", FIELD, EPROTO);
    static char nulfield[] = "GET / HTTP/1.1\r\nX: a_b\r\n";
    /* A NUL inside a value: the feeder uses strlen, so send it here. */
    for(int i = 0; i != 1; i++) {
        int raw, h;
        mkhttp(&raw, &h);
        nulfield[sizeof(nulfield) - 5] = 0;
        errno_assert(bsend(raw, nulfield, sizeof(nulfield) - 1, -1) == 0);
        char a[64], b[64];
        errno_assert(http_recvrequest(h, a, sizeof(a), b, sizeof(b),
            now() + 1000) == 0);
        assert_err(http_recvfield(h, a, sizeof(a), b, sizeof(b),
            now() + 1000), EPROTO);
        errno_assert(hclose(h) == 0);
        errno_assert(hclose(raw) == 0);
    }
}

static void test_overlong(void) {
    /* The longest accepted line, then one byte more. */
    size_t max = DILL__HTTP_LINE_MAX;
    char *in = malloc(max + 64);
    assert(in);
    char *out = malloc(max + 1);
    assert(out);
    strcpy(in, "GET / HTTP/1.1\r\nX: ");
    size_t pre = strlen(in);
    memset(in + pre, 'v', max - 3);
    strcpy(in + pre + max - 3, "\r\n\r\n");
    int raw, h;
    mkhttp(&raw, &h);
    int f = go(feeder(raw, in, 0));
    errno_assert(f >= 0);
    char a[8], b[8], name[8];
    errno_assert(http_recvrequest(h, a, sizeof(a), b, sizeof(b),
        now() + 1000) == 0);
    errno_assert(http_recvfield(h, name, sizeof(name), out, max + 1,
        now() + 1000) == 0);
    assert(strlen(out) == max - 3);
    assert_err(http_recvfield(h, name, sizeof(name), out, max + 1,
        now() + 1000), EPIPE);
    errno_assert(bundle_wait(f, now() + 2000) == 0);
    errno_assert(hclose(f) == 0);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(raw) == 0);
    /* One more byte. */
    memset(in + pre, 'v', max - 2);
    strcpy(in + pre + max - 2, "\r\n\r\n");
    bad_input(in, FIELD, EMSGSIZE);
    /* A request line without any line end. */
    memset(in, 'A', max + 10);
    in[max + 10] = 0;
    bad_input(in, REQ, EMSGSIZE);
    free(in);
    free(out);
}

/******************************************************************************/
/*  Buffers too small, bad arguments                                          */
/******************************************************************************/

static void test_small_buffers(void) {
    int raw, h;
    mkhttp(&raw, &h);
    sendstr(raw, "GET /abc HTTP/1.1\r\nGET /abc HTTP/1.1\r\n"
        "GET /abc HTTP/1.1\r\n"
        "Name: value\r\nName: value\r\nName: value\r\n\r\n");
    int64_t dl = now() + 1000;
    char cmd[4], res[5], name[5], value[6];
    /* "GET" needs 4 bytes, "/abc" 5: one byte less fails, and the line
       is consumed so that the socket stays usable. */
    assert_err(http_recvrequest(h, cmd, 3, res, sizeof(res), dl), EMSGSIZE);
    assert_err(http_recvrequest(h, cmd, sizeof(cmd), res, 4, dl), EMSGSIZE);
    errno_assert(http_recvrequest(h, cmd, sizeof(cmd), res, sizeof(res),
        dl) == 0);
    assert(strcmp(cmd, "GET") == 0 && strcmp(res, "/abc") == 0);
    assert_err(http_recvfield(h, name, 4, value, sizeof(value), dl),
        EMSGSIZE);
    assert_err(http_recvfield(h, name, sizeof(name), value, 5, dl),
        EMSGSIZE);
    errno_assert(http_recvfield(h, name, sizeof(name), value, sizeof(value),
        dl) == 0);
    assert(strcmp(name, "Name") == 0 && strcmp(value, "value") == 0);
    assert_err(http_recvfield(h, name, sizeof(name), value, sizeof(value),
        dl), EPIPE);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(raw) == 0);

    mkhttp(&raw, &h);
    sendstr(raw, "HTTP/1.1 200 OK!\r\nHTTP/1.1 201 OK!\r\n");
    char reason2[5];
    assert_err(http_recvstatus(h, reason2, 3, dl), EMSGSIZE);
    assert(http_recvstatus(h, reason2, sizeof(reason2), dl) == 201);
    assert(strcmp(reason2, "OK!") == 0);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(raw) == 0);
}

static void test_bad_args(void) {
    int raw, h;
    mkhttp(&raw, &h);
    int64_t dl = now() + 1000;
    assert_err(http_sendrequest(h, NULL, "/", dl), EINVAL);
    assert_err(http_sendrequest(h, "GET", NULL, dl), EINVAL);
    assert_err(http_sendrequest(h, "", "/", dl), EINVAL);
    assert_err(http_sendrequest(h, "GET", "", dl), EINVAL);
    assert_err(http_sendrequest(h, "G ET", "/", dl), EINVAL);
    assert_err(http_sendrequest(h, "GET", "/a b", dl), EINVAL);
    assert_err(http_sendrequest(h, "GET", "/\r\nX: y", dl), EINVAL);
    assert_err(http_sendrequest(h, "GET\n", "/", dl), EINVAL);
    assert_err(http_sendrequest(h, "GET", "/\x80", dl), EINVAL);
    assert_err(http_sendstatus(h, 99, "X", dl), EINVAL);
    assert_err(http_sendstatus(h, 600, "X", dl), EINVAL);
    assert_err(http_sendstatus(h, -200, "X", dl), EINVAL);
    assert_err(http_sendstatus(h, 200, NULL, dl), EINVAL);
    assert_err(http_sendstatus(h, 200, "O\r\nK", dl), EINVAL);
    assert_err(http_sendstatus(h, 200, "OK\n", dl), EINVAL);
    assert_err(http_sendfield(h, NULL, "v", dl), EINVAL);
    assert_err(http_sendfield(h, "N", NULL, dl), EINVAL);
    assert_err(http_sendfield(h, "", "v", dl), EINVAL);
    assert_err(http_sendfield(h, "N:", "v", dl), EINVAL);
    assert_err(http_sendfield(h, "N M", "v", dl), EINVAL);
    assert_err(http_sendfield(h, "N\r\n", "v", dl), EINVAL);
    assert_err(http_sendfield(h, "N", "a\r\nX: injected", dl), EINVAL);
    assert_err(http_sendfield(h, "N", "a\nb", dl), EINVAL);
    assert_err(http_sendfield(h, "N", "a\rb", dl), EINVAL);
    assert_err(http_sendfield(h, "N", "a\x01", dl), EINVAL);
    assert_err(http_sendfield(h, "N", "a\x7f", dl), EINVAL);
    char a[8], b[8];
    assert_err(http_recvrequest(h, NULL, 8, b, 8, dl), EINVAL);
    assert_err(http_recvrequest(h, a, 0, b, 8, dl), EINVAL);
    assert_err(http_recvrequest(h, a, 8, NULL, 8, dl), EINVAL);
    assert_err(http_recvrequest(h, a, 8, b, 0, dl), EINVAL);
    assert_err(http_recvstatus(h, NULL, 8, dl), EINVAL);
    assert_err(http_recvstatus(h, a, 0, dl), EINVAL);
    assert_err(http_recvfield(h, NULL, 8, b, 8, dl), EINVAL);
    assert_err(http_recvfield(h, a, 0, b, 8, dl), EINVAL);
    assert_err(http_recvfield(h, a, 8, NULL, 8, dl), EINVAL);
    assert_err(http_recvfield(h, a, 8, b, 0, dl), EINVAL);
    /* Nothing went out, and the socket still works. */
    expect_silence(raw);
    errno_assert(http_sendfield(h, "N", "  ok  ", dl) == 0);
    expect_raw(raw, "N: ok\r\n");
    /* Not an HTTP socket, or no socket at all. */
    assert_err(http_sendfield(raw, "N", "v", dl), ENOTSUP);
    assert_err(http_recvfield(raw, a, 8, b, 8, dl), ENOTSUP);
    assert_err(http_done(raw, dl), ENOTSUP);
    assert_err(http_detach(raw, dl), ENOTSUP);
    assert_err(http_recvstatus(-1, a, 8, dl), EBADF);
    assert_err(http_sendstatus(12345, 200, "OK", dl), EBADF);
    assert_err(http_detach(-1, dl), EBADF);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(raw) == 0);

    /* Attaching to something that is not a bytestream closes it. */
    int ch[2];
    errno_assert(chmake(ch) == 0);
    assert_err(http_attach(ch[0]), ENOTSUP);
    assert_err(hclose(ch[0]), EBADF);
    errno_assert(hclose(ch[1]) == 0);
    assert_err(http_attach(-1), EBADF);
    assert_err(http_attach_mem(-1, NULL), EBADF);
    int x, y;
    mkpair(&x, &y);
    assert_err(http_attach_mem(y, NULL), EINVAL);
    assert_err(hclose(y), EBADF);
    char c;
    int rc = brecv(x, &c, 1, now() + 1000);
    assert(rc == -1 && (errno == EPIPE || errno == ECONNRESET));
    errno_assert(hclose(x) == 0);
}

/******************************************************************************/
/*  Deadlines, cancellation, closing                                          */
/******************************************************************************/

coroutine void trickle(int s, const char *str, int ms) {
    for(size_t i = 0; str[i]; i++) {
        if(bsend(s, str + i, 1, -1) < 0) return;
        if(msleep(now() + ms) < 0) return;
    }
}

static void test_deadlines(void) {
    int raw, h;
    mkhttp(&raw, &h);
    char a[16], b[16];
    /* Silent peer. */
    assert_err(http_recvrequest(h, a, sizeof(a), b, sizeof(b), 0), ETIMEDOUT);
    int64_t t = now();
    assert_err(http_recvrequest(h, a, sizeof(a), b, sizeof(b), t + 100),
        ETIMEDOUT);
    assert(elapsed_ok(t, 100));
    /* Half a line, a timeout, then the rest: the call resumes. */
    sendstr(raw, "GET /x HT");
    t = now();
    assert_err(http_recvrequest(h, a, sizeof(a), b, sizeof(b), t + 50),
        ETIMEDOUT);
    assert(elapsed_ok(t, 50));
    sendstr(raw, "TP/1.1\r");
    assert_err(http_recvrequest(h, a, sizeof(a), b, sizeof(b), now() + 50),
        ETIMEDOUT);
    sendstr(raw, "\nA: 1\r\n");
    errno_assert(http_recvrequest(h, a, sizeof(a), b, sizeof(b),
        now() + 1000) == 0);
    assert(strcmp(a, "GET") == 0 && strcmp(b, "/x") == 0);
    /* Already buffered data is delivered even with deadline 0. */
    errno_assert(http_recvfield(h, a, sizeof(a), b, sizeof(b), 0) == 0);
    assert(strcmp(a, "A") == 0 && strcmp(b, "1") == 0);
    /* A trickling peer does not stretch the deadline. */
    int tr1 = go(trickle(raw, "Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 10));
    errno_assert(tr1 >= 0);
    t = now();
    assert_err(http_recvfield(h, a, sizeof(a), b, sizeof(b), t + 200),
        ETIMEDOUT);
    assert(elapsed_ok(t, 200));
    errno_assert(hclose(tr1) == 0);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(raw) == 0);

    /* http_detach waiting for the end of the peer's head. */
    mkhttp(&raw, &h);
    sendstr(raw, "GET / HTTP/1.1\r\nA: 1\r\n");
    errno_assert(http_recvrequest(h, a, sizeof(a), b, sizeof(b),
        now() + 1000) == 0);
    int tr2 = go(trickle(raw, "B: 22222222222222222222222222222222222222\r\n"
        "C: 3333333333333333333333333333333333333333333333\r\n\r\n", 10));
    errno_assert(tr2 >= 0);
    t = now();
    assert_err(http_detach(h, t + 150), ETIMEDOUT);
    assert(elapsed_ok(t, 150));
    assert_err(hclose(h), EBADF);        /* closed in every case */
    errno_assert(hclose(tr2) == 0);
    char c;
    int rc = brecv(raw, &c, 1, now() + 1000);
    assert(rc == -1 && (errno == EPIPE || errno == ECONNRESET));
    errno_assert(hclose(raw) == 0);

    /* Sending into a peer that does not read. */
    mkhttp(&raw, &h);
    size_t big = 16 * 1024 * 1024;
    char *v = malloc(big + 1);
    assert(v);
    memset(v, 'v', big);
    v[big] = 0;
    t = now();
    assert_err(http_sendfield(h, "Big", v, t + 100), ETIMEDOUT);
    /* Checking 16 MB of value is slow under valgrind, and that time
       counts. */
    assert(RUNNING_ON_VALGRIND || elapsed_ok(t, 100));
    free(v);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(raw) == 0);
}

static int cancel_rc[5];
static int cancel_err[5];

coroutine void blocked_reader(int h, int spare) {
    char a[16], b[16];
    errno = 0;
    cancel_rc[0] = http_recvrequest(h, a, sizeof(a), b, sizeof(b), -1);
    cancel_err[0] = errno;
    /* In a cancelled coroutine every call fails at once. */
    errno = 0;
    cancel_rc[1] = http_sendfield(h, "A", "b", -1);
    cancel_err[1] = errno;
    errno = 0;
    cancel_rc[2] = http_recvfield(h, a, sizeof(a), b, sizeof(b), -1);
    cancel_err[2] = errno;
    errno = 0;
    cancel_rc[3] = http_detach(h, -1);
    cancel_err[3] = errno;
    errno = 0;
    cancel_rc[4] = http_attach(spare);
    cancel_err[4] = errno;
}

static int closed_err;

coroutine void reader_until_closed(int h) {
    char a[16], b[16];
    errno = 0;
    int rc = http_recvfield(h, a, sizeof(a), b, sizeof(b), -1);
    closed_err = rc == -1 ? errno : 0;
}

static void test_cancel_and_close(void) {
    int raw, h, x, spare;
    mkhttp(&raw, &h);
    mkpair(&x, &spare);
    int cr = go(blocked_reader(h, spare));
    errno_assert(cr >= 0);
    errno_assert(msleep(now() + 20) == 0);
    errno_assert(hclose(cr) == 0);
    for(int i = 0; i != 5; i++)
        assert(cancel_rc[i] == -1 && cancel_err[i] == ECANCELED);
    /* The failed attach closed the socket it was given. */
    char c0;
    int rc0 = brecv(x, &c0, 1, now() + 1000);
    assert(rc0 == -1 && (errno == EPIPE || errno == ECONNRESET));
    errno_assert(hclose(x) == 0);
    assert_err(hclose(h), EBADF);        /* detach closed it */
    char c;
    int rc = brecv(raw, &c, 1, now() + 1000);
    assert(rc == -1 && (errno == EPIPE || errno == ECONNRESET));
    errno_assert(hclose(raw) == 0);

    /* The stack closed under a blocked call. */
    mkhttp(&raw, &h);
    closed_err = -1;
    cr = go(reader_until_closed(h));
    errno_assert(cr >= 0);
    errno_assert(msleep(now() + 20) == 0);
    errno_assert(hclose(h) == 0);
    errno_assert(bundle_wait(cr, now() + 1000) == 0);
    assert(closed_err == EBADF);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(raw) == 0);
}

/* hclose on the HTTP socket closes the layer below too. */
static void test_hclose_stack(void) {
    int raw, h;
    mkhttp(&raw, &h);
    errno_assert(http_sendrequest(h, "GET", "/", -1) == 0);
    errno_assert(hclose(h) == 0);
    assert_err(hclose(h), EBADF);
    expect_raw(raw, "GET / HTTP/1.1\r\n");
    char c;
    int rc = brecv(raw, &c, 1, now() + 1000);
    assert(rc == -1 && (errno == EPIPE || errno == ECONNRESET));
    errno_assert(hclose(raw) == 0);
    /* The same with caller memory, several times in the same storage. */
    struct http_storage mem;
    for(int i = 0; i != 3; i++) {
        int b;
        mkpair(&raw, &b);
        h = http_attach_mem(b, &mem);
        errno_assert(h >= 0);
        sendstr(raw, "HTTP/1.1 200 OK\r\n");
        char r[8];
        assert(http_recvstatus(h, r, sizeof(r), now() + 1000) == 200);
        errno_assert(hclose(h) == 0);
        rc = brecv(raw, &c, 1, now() + 1000);
        assert(rc == -1 && (errno == EPIPE || errno == ECONNRESET));
        errno_assert(hclose(raw) == 0);
    }
}

/******************************************************************************/
/*  A layer below that has only the public bytestream interface               */
/******************************************************************************/


static void test_plain_lower(void) {
    for(int mode = 0; mode != 3; mode++) {
        int raw, b;
        mkpair(&raw, &b);
        int h = http_attach(plain_wrap(b));
        errno_assert(h >= 0);
        int f = start_feeder(raw, good_request, mode);
        read_good_request(h);
        errno_assert(bundle_wait(f, now() + 2000) == 0);
        errno_assert(hclose(f) == 0);
        errno_assert(hclose(raw) == 0);
    }
    /* Timeouts and resumption through brecvl. */
    int raw, b;
    mkpair(&raw, &b);
    int h = http_attach(plain_wrap(b));
    errno_assert(h >= 0);
    char a[16], v[16];
    sendstr(raw, "HTTP/1.1 2");
    assert_err(http_recvstatus(h, a, sizeof(a), now() + 30), ETIMEDOUT);
    sendstr(raw, "04 No Content\r\n\r\n");
    assert(http_recvstatus(h, a, sizeof(a), now() + 1000) == 204);
    assert(strcmp(a, "No Content") == 0);
    assert_err(http_recvfield(h, a, sizeof(a), v, sizeof(v), now() + 1000),
        EPIPE);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(raw) == 0);
}

/******************************************************************************/
/*  Detaching                                                                 */
/******************************************************************************/

coroutine void flood_fields(int s) {
    char line[1000];
    memset(line, 'a', sizeof(line));
    memcpy(line, "X: ", 3);
    line[sizeof(line) - 2] = '\r';
    line[sizeof(line) - 1] = '\n';
    if(bsend(s, "GET / HTTP/1.1\r\n", 16, -1) < 0) return;
    while(bsend(s, line, sizeof(line), -1) == 0) {}
}

static void test_detach(void) {
    int raw, h, rc;
    char a[16], b[16];
    /* Nothing exchanged: nothing is sent, nothing is waited for. */
    mkhttp(&raw, &h);
    int u = http_detach(h, 0);
    errno_assert(u >= 0);
    expect_silence(raw);
    sendstr(raw, "raw");
    expect_raw(u, "raw");
    sendstr(u, "back");
    expect_raw(raw, "back");
    errno_assert(hclose(u) == 0);
    errno_assert(hclose(raw) == 0);

    /* An unfinished local head is finished; unread fields of the peer are
       dropped, and the bytes after its head stay in the socket. */
    mkhttp(&raw, &h);
    sendstr(raw, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\nafter");
    errno_assert(http_recvrequest(h, a, sizeof(a), b, sizeof(b),
        now() + 1000) == 0);
    errno_assert(http_sendstatus(h, 101, "Switching", -1) == 0);
    u = http_detach(h, now() + 1000);
    errno_assert(u >= 0);
    expect_raw(raw, "HTTP/1.1 101 Switching\r\n\r\n");
    expect_raw(u, "after");
    expect_silence(u);
    errno_assert(hclose(u) == 0);
    errno_assert(hclose(raw) == 0);

    /* The peer's head is dropped once it started, even inside a line. */
    mkhttp(&raw, &h);
    sendstr(raw, "GET / HT");
    assert_err(http_recvrequest(h, a, sizeof(a), b, sizeof(b), now() + 20),
        ETIMEDOUT);
    sendstr(raw, "TP/1.1\r\nA: 1\r\n\r\nxyz");
    u = http_detach(h, now() + 1000);
    errno_assert(u >= 0);
    expect_raw(u, "xyz");
    errno_assert(hclose(u) == 0);
    errno_assert(hclose(raw) == 0);

    /* Only part of an empty line was taken: detach completes it and
       waits for nothing more. */
    mkhttp(&raw, &h);
    sendstr(raw, "\r");
    assert_err(http_recvrequest(h, a, sizeof(a), b, sizeof(b), now() + 20),
        ETIMEDOUT);
    sendstr(raw, "\nrest");
    u = http_detach(h, now() + 1000);
    errno_assert(u >= 0);
    expect_raw(u, "rest");
    errno_assert(hclose(u) == 0);
    errno_assert(hclose(raw) == 0);

    /* The empty line that finishes our head cannot be sent. */
    mkhttp(&raw, &h);
    errno_assert(http_sendrequest(h, "GET", "/", now() + 1000) == 0);
    errno_assert(hclose(raw) == 0);
    errno_assert(msleep(now() + 20) == 0);
    rc = http_detach(h, now() + 1000);
    assert(rc == -1 && (errno == EPIPE || errno == ECONNRESET));
    assert_err(hclose(h), EBADF);

    /* The HTTP socket is no bytestream. */
    mkhttp(&raw, &h);
    assert_err(bsend(h, "x", 1, -1), ENOTSUP);
    assert_err(brecv(h, a, 1, -1), ENOTSUP);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(raw) == 0);

    /* The peer goes away in the middle of its head. */
    mkhttp(&raw, &h);
    sendstr(raw, "GET / HTTP/1.1\r\nA: 1\r\n");
    errno_assert(http_recvrequest(h, a, sizeof(a), b, sizeof(b),
        now() + 1000) == 0);
    errno_assert(hclose(raw) == 0);
    rc = http_detach(h, now() + 1000);
    assert(rc == -1 && (errno == EPIPE || errno == ECONNRESET));
    assert_err(hclose(h), EBADF);

    /* A peer whose head never ends. */
    mkhttp(&raw, &h);
    int f = go(flood_fields(raw));
    errno_assert(f >= 0);
    errno_assert(http_recvrequest(h, a, sizeof(a), b, sizeof(b),
        now() + 1000) == 0);
    assert_err(http_detach(h, now() + 2000), EMSGSIZE);
    assert_err(hclose(h), EBADF);
    errno_assert(hclose(f) == 0);
    errno_assert(hclose(raw) == 0);

    /* The same peer with no deadline left. */
    mkhttp(&raw, &h);
    f = go(flood_fields(raw));
    errno_assert(f >= 0);
    errno_assert(http_recvrequest(h, a, sizeof(a), b, sizeof(b),
        now() + 1000) == 0);
    errno_assert(msleep(now() + 20) == 0);
    assert_err(http_detach(h, 0), ETIMEDOUT);
    errno_assert(hclose(f) == 0);
    errno_assert(hclose(raw) == 0);

    /* Detached sockets can carry a new HTTP layer. */
    mkhttp(&raw, &h);
    sendstr(raw, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n");
    assert(http_recvstatus(h, a, sizeof(a), now() + 1000) == 100);
    u = http_detach(h, now() + 1000);
    errno_assert(u >= 0);
    h = http_attach(u);
    errno_assert(h >= 0);
    assert(http_recvstatus(h, a, sizeof(a), now() + 1000) == 200);
    assert_err(http_recvfield(h, a, sizeof(a), b, sizeof(b), now() + 1000),
        EPIPE);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(raw) == 0);
}

int main(void) {
    test_parsers();
    for(tr = 0; tr != 2; tr++) {
        test_exchange(0);
        test_exchange(1);
        test_wire_format();
        test_splits();
        test_malformed();
        test_overlong();
        test_small_buffers();
        test_bad_args();
        test_deadlines();
        test_cancel_and_close();
        test_hclose_stack();
        test_plain_lower();
        test_detach();
    }
    return 0;
}
