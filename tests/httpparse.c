/* HTTP head parser: valid and malformed heads fed whole, byte by byte and
   at random cuts, every prefix placed so that it ends at a PROT_NONE page
   (any over-read crashes), limits, and the list/lookup helpers. */

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "assert.h"
#include "proto/httpparse.h"
#include "ws_samples.h"

typedef int (*parse_fn)(const char *buf, size_t len,
    struct dill__http_head *h);
#define REQ dill__http_parse_request
#define RSP dill__http_parse_response

/* Pages followed by an inaccessible one. */
static char *guard_end;
#define GUARD_ROOM (64 * 1024)

static void guard_init(void) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *base = mmap(NULL, GUARD_ROOM + pg, PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert(base != MAP_FAILED);
    assert(mprotect(base + GUARD_ROOM, pg, PROT_NONE) == 0);
    guard_end = base + GUARD_ROOM;
}

/* Copies n bytes so that they end exactly at the guard page. */
static const char *at_guard(const char *s, size_t n) {
    assert(n <= GUARD_ROOM);
    char *p = guard_end - n;
    memcpy(p, s, n);
    return p;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* What a parser must return for the first k bytes of an input whose full
   result is expect and whose first failing prefix (for errors) is
   firstbad: 0 until the head is complete, then the head size; for errors
   0 until firstbad, then the error. */
static int want_at(size_t k, int expect, size_t firstbad) {
    if(expect > 0) return k < (size_t)expect ? 0 : expect;
    return k < firstbad ? 0 : expect;
}

/* The resumed parser fed the prefixes of in at the lengths cuts[0..n):
   whatever it reports, the one-shot parser reports too (want_at); a
   complete head is never late and equals the one-shot parse; an error is
   late at most until the next line end or limit. */
static void feed_resumed(parse_fn f, const char *in, size_t len, int expect,
      size_t firstbad, const size_t *cuts, size_t n) {
    static struct dill__http_head h, one;
    struct dill__http_pstate ps = DILL__HTTP_PSTATE_INIT;
    int done = 0;
    for(size_t i = 0; i < n && !done; i++) {
        size_t k = cuts[i];
        int rc = f == dill__http_parse_request ?
            dill__http_parse_request_r(in, k, &h, &ps) :
            dill__http_parse_response_r(in, k, &h, &ps);
        int want = want_at(k, expect, firstbad);
        int late_ok = want < 0 && rc == 0 && k <= DILL__HTTP_MAX_HEAD &&
            !memchr(in + firstbad - 1, '\n', k - firstbad + 1);
        if(rc != want && !late_ok) {
            fprintf(stderr, "resumed, prefix %zu of %zu: got %d, want %d\n",
                k, len, rc, want);
            assert(0);
        }
        if(rc > 0) {
            assert(f(in, k, &one) == rc);
            assert(h.method == one.method && h.methodlen == one.methodlen);
            assert(h.target == one.target && h.targetlen == one.targetlen);
            assert(h.status == one.status && h.minor == one.minor);
            assert(h.reason == one.reason && h.reasonlen == one.reasonlen);
            assert(h.nheaders == one.nheaders);
            assert(memcmp(h.headers, one.headers,
                sizeof(h.headers[0]) * (size_t)h.nheaders) == 0);
        }
        done = rc != 0;
    }
    /* Fed to the end, an error must have come out. */
    if(expect < 0 && n && cuts[n - 1] == len) assert(done ||
        !memchr(in + firstbad - 1, '\n', len - firstbad + 1));
}

/* Resumed parsing byte by byte and in random steps. */
static void feed_resumed_all(parse_fn f, const char *in, size_t len,
      int expect, size_t firstbad) {
    size_t *cuts = malloc((len + 1) * sizeof(*cuts));
    assert(cuts);
    for(size_t k = 0; k <= len; k++) cuts[k] = k;
    feed_resumed(f, in, len, expect, firstbad, cuts, len + 1);
    for(int trial = 0; trial < 8; trial++) {
        size_t n = 0, have = 0;
        while(have < len) {
            have += 1 + rnd() % (trial < 4 ? 16 : len / 2 + 1);
            cuts[n++] = have < len ? have : len;
        }
        feed_resumed(f, in, len, expect, firstbad, cuts, n);
    }
    free(cuts);
}

/* Feeds in[0..len) every way.  Returns the parse of the whole input, left
   in *out (pointing into the caller's in). */
static void feed(parse_fn f, const char *in, size_t len, int expect,
      struct dill__http_head *out) {
    struct dill__http_head h;
    int rc = f(in, len, out);
    if(rc != expect) {
        fprintf(stderr, "whole input: got %d, want %d:\n%.*s\n", rc, expect,
            (int)(len > 300 ? 300 : len), in);
        assert(0);
    }
    /* Byte by byte, each prefix against the guard page.  Long inputs (the
       limit tests) get every prefix near the start, the end and the first
       failure, and every 61st elsewhere, to bound the run time. */
    size_t firstbad = (size_t)-1;
    int sparse = len > 2048;
    if(sparse && expect < 0) {
        /* Results only change once, so the first failure can be bisected;
           the checks below verify the results around it. */
        size_t lo = 0, hi = len;
        while(lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if(f(in, mid, &h) != 0) hi = mid;
            else lo = mid + 1;
        }
        firstbad = lo;
    }
    for(size_t k = 0; k <= len; k++) {
        if(sparse && k > 600 && len - k > 600 && k % 61 != 0 &&
              (firstbad == (size_t)-1 || k + 600 < firstbad ||
              k > firstbad + 600))
            continue;
        rc = f(at_guard(in, k), k, &h);
        if(expect < 0 && rc != 0 && firstbad == (size_t)-1) firstbad = k;
        if(rc != want_at(k, expect, firstbad)) {
            fprintf(stderr, "prefix %zu of %zu: got %d, want %d\n", k, len,
                rc, want_at(k, expect, firstbad));
            assert(0);
        }
    }
    if(expect < 0) assert(firstbad != (size_t)-1);
    feed_resumed_all(f, in, len, expect, firstbad);
    /* Random cuts: a buffer growing by reads of random sizes. */
    for(int trial = 0; trial < 16; trial++) {
        size_t have = 0;
        while(have < len) {
            size_t maxstep = trial < 8 && !sparse ? 16 : len / 2 + 1;
            have += 1 + rnd() % maxstep;
            if(have > len) have = len;
            rc = f(at_guard(in, have), have, &h);
            assert(rc == want_at(have, expect, firstbad));
        }
    }
}

/* Feeds a complete head followed by bytes that are not part of it. */
static void ok_head(parse_fn f, const char *head,
      struct dill__http_head *h) {
    static const char tail[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    size_t n = strlen(head);
    char buf[20000];
    assert(n + sizeof(tail) <= sizeof(buf));
    memcpy(buf, head, n);
    memcpy(buf + n, tail, sizeof(tail));
    static char keep[20000];
    feed(f, head, n, (int)n, h);
    feed(f, buf, n + sizeof(tail), (int)n, h);
    /* Leave h pointing at stable memory. */
    memcpy(keep, head, n);
    assert(f(keep, n, h) == (int)n);
}

static void bad_head(parse_fn f, const char *in, size_t len, int err) {
    struct dill__http_head h;
    feed(f, in, len, err, &h);
}

#define BAD(f, s, err) bad_head(f, s, sizeof(s) - 1, err)

static int str_is(const char *p, size_t n, const char *s) {
    return p && n == strlen(s) && memcmp(p, s, n) == 0;
}

static void hdr_is(const struct dill__http_head *h, int i, const char *name,
      const char *value) {
    assert(i < h->nheaders);
    if(!str_is(h->headers[i].name, h->headers[i].namelen, name) ||
          !str_is(h->headers[i].value, h->headers[i].valuelen, value)) {
        fprintf(stderr, "header %d: got \"%.*s: %.*s\", want \"%s: %s\"\n",
            i, (int)h->headers[i].namelen, h->headers[i].name,
            (int)h->headers[i].valuelen, h->headers[i].value, name, value);
        assert(0);
    }
}

static void test_samples(void) {
    struct dill__http_head h;
    for(size_t i = 0; i < WS_NSAMPLES; i++) {
        const struct ws_sample *s = &ws_samples[i];
        ok_head(REQ, s->text, &h);
        assert(str_is(h.method, h.methodlen, "GET"));
        assert(str_is(h.target, h.targetlen, s->resource));
        assert(h.minor == 1);
        assert(h.status == 0 && h.reason == NULL);
        assert(h.nheaders == s->nheaders);
        int k = dill__http_find(&h, "sec-websocket-key", 0);
        assert(k >= 0);
        assert(str_is(h.headers[k].value, h.headers[k].valuelen, s->key));
        k = dill__http_find(&h, "HOST", 0);
        assert(str_is(h.headers[k].value, h.headers[k].valuelen, s->host));
        /* A request is not a response. */
        assert(RSP(s->text, strlen(s->text), &h) == -EPROTO);
    }
}

static void test_requests(void) {
    struct dill__http_head h;
    /* Bare LF line ends, and a mix. */
    ok_head(REQ, "GET /a HTTP/1.1\nHost: x\nUpgrade: websocket\n\n", &h);
    assert(h.nheaders == 2);
    hdr_is(&h, 1, "Upgrade", "websocket");
    ok_head(REQ, "GET /a HTTP/1.0\r\nHost: x\n\r\n", &h);
    assert(h.minor == 0);
    /* No headers at all. */
    ok_head(REQ, "OPTIONS * HTTP/1.1\r\n\r\n", &h);
    assert(h.nheaders == 0);
    assert(str_is(h.method, h.methodlen, "OPTIONS"));
    assert(str_is(h.target, h.targetlen, "*"));
    /* Empty lines before the request line are skipped. */
    ok_head(REQ, "\r\n\nGET / HTTP/1.1\r\nA: b\r\n\r\n", &h);
    assert(str_is(h.method, h.methodlen, "GET"));
    hdr_is(&h, 0, "A", "b");
    /* Whitespace around values is trimmed, inside kept; empty values. */
    ok_head(REQ, "GET / HTTP/1.1\r\n"
        "A:b\r\n"
        "B: \t two  words \t\r\n"
        "C:\r\n"
        "D:   \r\n"
        "E: \xe2\x82\xac obs-text \xff\r\n"
        "F: tab\tinside\r\n"
        "\r\n", &h);
    assert(h.nheaders == 6);
    hdr_is(&h, 0, "A", "b");
    hdr_is(&h, 1, "B", "two  words");
    hdr_is(&h, 2, "C", "");
    hdr_is(&h, 3, "D", "");
    hdr_is(&h, 4, "E", "\xe2\x82\xac obs-text \xff");
    hdr_is(&h, 5, "F", "tab\tinside");
    /* Unusual but valid tokens, minor version 9, long-ish target. */
    ok_head(REQ, "M-SEARCH! /p?q=1&r=%20#f HTTP/1.9\r\n"
        "X-!#$%&'*+-.^_`|~0: v\r\n\r\n", &h);
    assert(h.minor == 9);
    assert(str_is(h.method, h.methodlen, "M-SEARCH!"));
    hdr_is(&h, 0, "X-!#$%&'*+-.^_`|~0", "v");
}

static void test_responses(void) {
    struct dill__http_head h;
    ok_head(RSP, "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", &h);
    assert(h.status == 101);
    assert(h.minor == 1);
    assert(str_is(h.reason, h.reasonlen, "Switching Protocols"));
    assert(h.method == NULL && h.target == NULL);
    assert(h.nheaders == 3);
    hdr_is(&h, 2, "Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* Reason phrase missing, with or without its space; odd reasons. */
    ok_head(RSP, "HTTP/1.1 101\r\n\r\n", &h);
    assert(h.status == 101 && h.reasonlen == 0);
    ok_head(RSP, "HTTP/1.1 200 \r\n\r\n", &h);
    assert(h.status == 200 && h.reasonlen == 0);
    ok_head(RSP, "HTTP/1.0 999 We\tll, \xc3\xa9 ok  \nA: 1\n\n", &h);
    assert(h.status == 999 && h.minor == 0);
    assert(str_is(h.reason, h.reasonlen, "We\tll, \xc3\xa9 ok  "));
    hdr_is(&h, 0, "A", "1");
}

static void test_malformed(void) {
    /* Start line. */
    BAD(REQ, "GET  / HTTP/1.1\r\n\r\n", -EPROTO);
    BAD(REQ, " GET / HTTP/1.1\r\n\r\n", -EPROTO);
    BAD(REQ, "GET /a b HTTP/1.1\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1 \r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/2.0\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.10\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / http/1.1\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.x\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1\r\n\r\n", -EPROTO);
    BAD(REQ, "GET /\x01 HTTP/1.1\r\n\r\n", -EPROTO);
    BAD(REQ, "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", -EPROTO);
    BAD(REQ, "GE(T / HTTP/1.1\r\n\r\n", -EPROTO);
    BAD(REQ, "GET\t/ HTTP/1.1\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\rX", -EPROTO);
    BAD(REQ, "\rGET / HTTP/1.1\r\n\r\n", -EPROTO);
    BAD(REQ, "GET\r\n\r\n", -EPROTO);
    BAD(REQ, "GET /\r\n\r\n", -EPROTO);
    /* Headers. */
    BAD(REQ, "GET / HTTP/1.1\r\nHost : x\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\n Host: x\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHost: a\x01" "b\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\n: x\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHo\x80st: x\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHost x\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nHost\r\n\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nA: b\r\n\r\r\n", -EPROTO);
    BAD(REQ, "GET / HTTP/1.1\r\nA: b\r\n\rx", -EPROTO);
    /* Status lines. */
    BAD(RSP, "HTTP/1.1 1010 X\r\n\r\n", -EPROTO);
    BAD(RSP, "HTTP/1.1 10 X\r\n\r\n", -EPROTO);
    BAD(RSP, "HTTP/1.1 099 X\r\n\r\n", -EPROTO);
    BAD(RSP, "HTTP/1.1  101 X\r\n\r\n", -EPROTO);
    BAD(RSP, "HTTP/1.1 abc OK\r\n\r\n", -EPROTO);
    BAD(RSP, "HTTP/1.1 101 Sw\x01tching\r\n\r\n", -EPROTO);
    BAD(RSP, "HTTP/1.1 101 Sw\x7f\r\n\r\n", -EPROTO);
    BAD(RSP, "HTTP/1.1101 X\r\n\r\n", -EPROTO);
    BAD(RSP, "HTTP/2 101 X\r\n\r\n", -EPROTO);
    BAD(RSP, "\r\nHTTP/1.1 101 X\r\n\r\n", -EPROTO);
    BAD(RSP, "HTTP/1.1 101 X\r\nA : b\r\n\r\n", -EPROTO);
}

/* A request whose line content is linelen bytes, with nhdr headers,
   padded with a last header so the head is exactly headlen bytes (0: no
   padding). */
static size_t make_big(char *buf, size_t linelen, int nhdr, size_t headlen) {
    size_t n = 0;
    memcpy(buf, "GET /", 5);
    n = 5;
    while(n < linelen - 9) buf[n++] = 'a';
    memcpy(buf + n, " HTTP/1.1\r\n", 11);
    n += 11;
    for(int i = 0; i < nhdr; i++)
        n += (size_t)sprintf(buf + n, "H%d: %d\r\n", i, i);
    if(headlen) {
        size_t fixed = n + strlen("Pad: \r\n\r\n");
        assert(headlen >= fixed);
        n += (size_t)sprintf(buf + n, "Pad: ");
        memset(buf + n, 'p', headlen - fixed);
        n += headlen - fixed;
        memcpy(buf + n, "\r\n", 2);
        n += 2;
    }
    memcpy(buf + n, "\r\n", 2);
    return n + 2;
}

static void test_limits(void) {
    static char buf[40000];
    struct dill__http_head h;
    size_t n;
    /* Request line: exactly at the limit, one over. */
    n = make_big(buf, DILL__HTTP_MAX_LINE, 1, 0);
    buf[n] = 0;
    ok_head(REQ, buf, &h);
    assert(h.targetlen == DILL__HTTP_MAX_LINE - 13);
    n = make_big(buf, DILL__HTTP_MAX_LINE + 1, 1, 0);
    bad_head(REQ, buf, n, -EMSGSIZE);
    /* An over-long method or status line. */
    memset(buf, 'G', 9000);
    bad_head(REQ, buf, 9000, -EMSGSIZE);
    memcpy(buf, "HTTP/1.1 200 ", 13);
    memset(buf + 13, 'r', 9000);
    bad_head(RSP, buf, 9013, -EMSGSIZE);
    /* Header count. */
    n = make_big(buf, 20, DILL__HTTP_MAX_HEADERS, 0);
    buf[n] = 0;
    ok_head(REQ, buf, &h);
    assert(h.nheaders == DILL__HTTP_MAX_HEADERS);
    hdr_is(&h, 63, "H63", "63");
    n = make_big(buf, 20, DILL__HTTP_MAX_HEADERS + 1, 0);
    bad_head(REQ, buf, n, -EMSGSIZE);
    /* Head size: exactly at the limit, one over (with more bytes after
       it, and as a prefix that is still short of the limit). */
    n = make_big(buf, 100, 10, DILL__HTTP_MAX_HEAD);
    assert(n == DILL__HTTP_MAX_HEAD);
    buf[n] = 0;
    ok_head(REQ, buf, &h);
    n = make_big(buf, 100, 10, DILL__HTTP_MAX_HEAD + 1);
    bad_head(REQ, buf, n, -EMSGSIZE);
    assert(REQ(buf, DILL__HTTP_MAX_HEAD, &h) == 0);
    memset(buf + n, 'x', 1000);
    assert(REQ(buf, n + 1000, &h) == -EMSGSIZE);
    /* Endless empty lines before a request. */
    memset(buf, '\n', DILL__HTTP_MAX_HEAD + 1);
    bad_head(REQ, buf, DILL__HTTP_MAX_HEAD + 1, -EMSGSIZE);
}

/* Random corruption of valid heads must never crash or over-read, and the
   result must be stable as the input grows. */
static void test_mutations(void) {
    static const char junk[] = {' ', '\t', '\r', '\n', ':', ',', 0, 1,
        0x7f, (char)0x80, (char)0xff, 'a', '"'};
    char buf[2048];
    struct dill__http_head h;
    for(int iter = 0; iter < 400; iter++) {
        const char *src = ws_samples[iter % WS_NSAMPLES].text;
        size_t n = strlen(src);
        memcpy(buf, src, n);
        int edits = 1 + (int)(rnd() % 3);
        for(int e = 0; e < edits; e++) {
            size_t at = rnd() % n;
            switch(rnd() % 3) {
            case 0:
                buf[at] = junk[rnd() % sizeof(junk)];
                break;
            case 1:
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = junk[rnd() % sizeof(junk)];
                n++;
                break;
            default:
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
            }
        }
        parse_fn f = iter % 7 == 0 ? RSP : REQ;
        int final = f(buf, n, &h);
        if(final == 0) continue;
        feed(f, buf, n, final, &h);
        if(final > 0) {
            /* Every recorded string lies inside the head. */
            for(int i = 0; i < h.nheaders; i++) {
                assert(h.headers[i].name >= buf);
                assert(h.headers[i].value + h.headers[i].valuelen <=
                    buf + final);
            }
        }
    }
}

static void test_helpers(void) {
    struct dill__http_head h;
    static const char req[] = "GET / HTTP/1.1\r\n"
        "Sec-WebSocket-Protocol: a, b\r\n"
        "Host: x\r\n"
        "sec-websocket-protocol: c\r\n"
        "SEC-WEBSOCKET-PROTOCOL:\r\n\r\n";
    assert(REQ(req, sizeof(req) - 1, &h) == (int)sizeof(req) - 1);
    assert(dill__http_find(&h, "Sec-WebSocket-Protocol", 0) == 0);
    assert(dill__http_find(&h, "Sec-WebSocket-Protocol", 1) == 2);
    assert(dill__http_find(&h, "Sec-WebSocket-Protocol", 3) == 3);
    assert(dill__http_find(&h, "Sec-WebSocket-Protocol", 4) == -1);
    assert(dill__http_find(&h, "Sec-WebSocket-Protoco", 0) == -1);
    assert(dill__http_find(&h, "Sec-WebSocket-Protocols", 0) == -1);
    assert(dill__http_find(&h, "host", -5) == 1);
    assert(dill__http_find(&h, "", 0) == -1);

    const char *v = "keep-alive, Upgrade";
    assert(dill__http_has_token(v, strlen(v), "upgrade"));
    assert(dill__http_has_token(v, strlen(v), "KEEP-ALIVE"));
    assert(!dill__http_has_token(v, strlen(v), "upgrad"));
    assert(!dill__http_has_token(v, strlen(v), "keep"));
    v = " ,\t, Upgrade ,, ";
    assert(dill__http_has_token(v, strlen(v), "upgrade"));
    v = "Upgradex, xUpgrade, up grade";
    assert(!dill__http_has_token(v, strlen(v), "upgrade"));
    assert(!dill__http_has_token("", 0, "upgrade"));
    assert(!dill__http_has_token("upgrade", 6, "upgrade"));
    v = "a=\"x, upgrade\", websocket";
    assert(!dill__http_has_token(v, strlen(v), "upgrade"));
    assert(dill__http_has_token(v, strlen(v), "websocket"));

    /* List iteration with quoted strings and escapes. */
    v = " permessage-deflate; a=\"1,\\\"2\", x , ,y\t";
    size_t pos = 0;
    const char *e;
    size_t elen;
    assert(dill__http_list_next(v, strlen(v), &pos, &e, &elen));
    assert(str_is(e, elen, "permessage-deflate; a=\"1,\\\"2\""));
    assert(dill__http_list_next(v, strlen(v), &pos, &e, &elen));
    assert(str_is(e, elen, "x"));
    assert(dill__http_list_next(v, strlen(v), &pos, &e, &elen));
    assert(str_is(e, elen, "y"));
    assert(!dill__http_list_next(v, strlen(v), &pos, &e, &elen));
    assert(!dill__http_list_next(v, strlen(v), &pos, &e, &elen));
    /* An unterminated quote runs to the end. */
    v = "a=\"b, c";
    pos = 0;
    assert(dill__http_list_next(v, strlen(v), &pos, &e, &elen));
    assert(str_is(e, elen, "a=\"b, c"));
    assert(!dill__http_list_next(v, strlen(v), &pos, &e, &elen));

    assert(dill__http_ieq("Upgrade", 7, "uPGRADE"));
    assert(!dill__http_ieq("Upgrade", 6, "upgrade"));
    assert(!dill__http_ieq("Upgrade", 7, "upgrad"));
    assert(!dill__http_ieq("Up\0rade", 7, "Up"));
    assert(dill__http_ieq("", 0, ""));
    assert(!dill__http_ieq("[", 1, "{"));

    assert(dill__http_is_token("Sec-WebSocket-Key", 17));
    assert(!dill__http_is_token("", 0));
    assert(!dill__http_is_token("a b", 3));
    assert(!dill__http_is_token("a,b", 3));
    assert(dill__http_is_target("/a?b=c", 6));
    assert(!dill__http_is_target("/a b", 4));
    assert(!dill__http_is_target("", 0));
    assert(dill__http_is_value("", 0));
    assert(dill__http_is_value("a b\tc\x80", 6));
    assert(!dill__http_is_value("a\r\nb", 4));
    assert(!dill__http_is_value("a\nb", 3));
}

int main(void) {
    guard_init();
    test_samples();
    test_requests();
    test_responses();
    test_malformed();
    test_limits();
    test_mutations();
    test_helpers();
    return 0;
}
