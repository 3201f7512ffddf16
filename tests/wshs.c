/* WebSocket opening handshake: keys, request/response building, request
   validation (with the status each broken rule gets), response validation
   (one failure per rule), and the libdill 2.14 key functions. */

#include <string.h>

#include <libdill.h>

#include "assert.h"
#include "proto/httpparse.h"
#include "proto/wshs.h"
#include "ws_samples.h"

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static int str_is(const char *p, size_t n, const char *s) {
    return p && n == strlen(s) && memcmp(p, s, n) == 0;
}

static void test_keys(void) {
    char acc[DILL__WS_ACCEPT_LEN + 1];
    dill__ws_accept_key(RFC_KEY, strlen(RFC_KEY), acc);
    assert(strcmp(acc, RFC_ACCEPT) == 0);
    assert(dill__ws_key_valid(RFC_KEY, 24));
    assert(!dill__ws_key_valid(RFC_KEY, 23));
    assert(!dill__ws_key_valid("AAAAAAAAAAAAAAAAAAAAAAAA", 24));   /* 18 B */
    assert(!dill__ws_key_valid("AAAAAAAAAAAAAAAAAAAAAAA=", 24));   /* 17 B */
    assert(!dill__ws_key_valid("dGhlIHNhbXBsZSBub25jZR==", 24));   /* bits */
    assert(!dill__ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=" "=\0", 25));
    char k1[DILL__WS_KEY_LEN + 1], k2[DILL__WS_KEY_LEN + 1];
    dill__ws_make_key(k1);
    dill__ws_make_key(k2);
    assert(strlen(k1) == DILL__WS_KEY_LEN && dill__ws_key_valid(k1, 24));
    assert(strcmp(k1, k2) != 0);

    /* libdill 2.14 API. */
    char req[WS_KEY_SIZE], rsp[WS_KEY_SIZE], prev[WS_KEY_SIZE] = "";
    for(int i = 0; i < 100; i++) {
        memset(req, 'x', sizeof(req));
        assert(ws_request_key(req) == 0);
        assert(strlen(req) == 24 && dill__ws_key_valid(req, 24));
        assert(strcmp(req, prev) != 0);
        memcpy(prev, req, sizeof(req));
        assert(ws_response_key(req, rsp) == 0);
        assert(strlen(rsp) == 28);
    }
    assert(ws_response_key(RFC_KEY, rsp) == 0);
    assert(strcmp(rsp, RFC_ACCEPT) == 0);
    assert_err(ws_request_key(NULL), EINVAL);
    assert_err(ws_response_key(NULL, rsp), EINVAL);
    assert_err(ws_response_key(RFC_KEY, NULL), EINVAL);
    assert_err(ws_response_key("", rsp), EPROTO);
    assert_err(ws_response_key("dGhlIHNhbXBsZSBub25jZQ=", rsp), EPROTO);
    assert_err(ws_response_key(RFC_KEY "A", rsp), EPROTO);
    assert_err(ws_response_key("AAAAAAAAAAAAAAAAAAAAAAAA", rsp), EPROTO);
    assert_err(ws_response_key("dGhlIHNhbXBsZSBub25jZQ!=", rsp), EPROTO);
    assert_err(ws_response_key(" dGhlIHNhbXBsZSBub25jZQ==", rsp), EPROTO);
    assert_err(ws_response_key("dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25"
        "jZQ==", rsp), EPROTO);
}

/* Parses text as a request and validates it; returns the status. */
static int srv(const char *text, struct dill__ws_server_req *r,
      struct dill__http_head *h) {
    int n = dill__http_parse_request(text, strlen(text), h);
    if(n != (int)strlen(text)) {
        fprintf(stderr, "parse %d:\n%s", n, text);
        assert(0);
    }
    return dill__ws_check_request(h, r);
}

static void split(const char *list, char names[][32], const char **ptrs,
      size_t *n) {
    *n = 0;
    while(*list) {
        const char *c = strchr(list, ',');
        size_t len = c ? (size_t)(c - list) : strlen(list);
        memcpy(names[*n], list, len);
        names[*n][len] = 0;
        ptrs[*n] = names[*n];
        (*n)++;
        list += len + (c ? 1 : 0);
    }
}

/* Each sample client's request is accepted; the response built for it
   passes the client-side check with what that client offered. */
static void test_samples(void) {
    struct dill__http_head h, rh;
    struct dill__ws_server_req r;
    static const char *const server_protos[] = {"superchat", "graphql-ws",
        "chat"};
    for(size_t i = 0; i < WS_NSAMPLES; i++) {
        const struct ws_sample *s = &ws_samples[i];
        assert(srv(s->text, &r, &h) == 0);
        assert(r.fail == DILL__WS_FAIL_NONE);
        assert(r.head == &h);
        assert(str_is(r.resource.p, r.resource.len, s->resource));
        assert(str_is(r.host.p, r.host.len, s->host));
        assert(str_is(r.key.p, r.key.len, s->key));
        char names[8][32];
        const char *offered[8];
        size_t noffered;
        split(s->protocols, names, offered, &noffered);
        assert(r.nprotocols == (int)noffered);
        for(size_t j = 0; j < noffered; j++)
            assert(str_is(r.protocols[j].p, r.protocols[j].len, offered[j]));
        int pick = dill__ws_choose_protocol(&r, server_protos, 3);
        const char *proto = pick >= 0 ? server_protos[pick] : NULL;
        /* Echo permessage-deflate when offered, as a deflate layer would. */
        int ext = dill__http_find(&h, "Sec-WebSocket-Extensions", 0);
        char rsp[512];
        ssize_t n = dill__ws_build_response(rsp, sizeof(rsp), &r, proto,
            ext >= 0 ? "permessage-deflate" : NULL, NULL);
        assert(n > 0 && (size_t)n == strlen(rsp));
        assert(dill__http_parse_response(rsp, (size_t)n, &rh) == n);
        struct dill__ws_client_opts o = {0};
        o.resource = s->resource;
        o.host = s->host;
        o.protocols = offered;
        o.nprotocols = noffered;
        o.extensions = ext >= 0 ? "permessage-deflate" : NULL;
        struct dill__ws_client_result cr;
        assert(dill__ws_check_response(&rh, &o, s->key, &cr) == 0);
        assert(cr.fail == DILL__WS_FAIL_NONE);
        if(proto) {
            assert(cr.protocol >= 0 && strcmp(cr.protocol_name, proto) == 0);
            assert(strcmp(offered[cr.protocol], proto) == 0);
        } else {
            assert(cr.protocol == -1 && cr.protocol_name == NULL);
        }
        if(ext >= 0)
            assert(str_is(cr.extensions, cr.extensionslen,
                "permessage-deflate"));
        else
            assert(cr.extensions == NULL);
    }
    /* Chrome offers "chat, superchat"; the server prefers superchat. */
    assert(srv(ws_samples[0].text, &r, &h) == 0);
    assert(dill__ws_choose_protocol(&r, server_protos, 3) == 0);
    static const char *const only_chat[] = {"x", "chat"};
    assert(dill__ws_choose_protocol(&r, only_chat, 2) == 1);
    static const char *const none[] = {"CHAT", "superchat2"};
    assert(dill__ws_choose_protocol(&r, none, 2) == -1);
    assert(dill__ws_choose_protocol(&r, NULL, 0) == -1);
}

#define REQ_HEAD "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"
#define REQ_UPG "Upgrade: websocket\r\nConnection: Upgrade\r\n"
#define REQ_KEY "Sec-WebSocket-Key: " RFC_KEY "\r\n"
#define REQ_VER "Sec-WebSocket-Version: 13\r\n"

struct bad_req {
    const char *text;
    int status;
    enum dill__ws_fail fail;
};

static const struct bad_req bad_reqs[] = {
    {"POST /chat HTTP/1.1\r\nHost: a\r\n" REQ_UPG REQ_KEY REQ_VER "\r\n",
     405, DILL__WS_FAIL_METHOD},
    {"get /chat HTTP/1.1\r\nHost: a\r\n" REQ_UPG REQ_KEY REQ_VER "\r\n",
     405, DILL__WS_FAIL_METHOD},
    {"GETS /chat HTTP/1.1\r\nHost: a\r\n" REQ_UPG REQ_KEY REQ_VER "\r\n",
     405, DILL__WS_FAIL_METHOD},
    {"GET /chat HTTP/1.0\r\nHost: a\r\n" REQ_UPG REQ_KEY REQ_VER "\r\n",
     400, DILL__WS_FAIL_HTTPVER},
    {"GET * HTTP/1.1\r\nHost: a\r\n" REQ_UPG REQ_KEY REQ_VER "\r\n",
     400, DILL__WS_FAIL_TARGET},
    {"GET chat HTTP/1.1\r\nHost: a\r\n" REQ_UPG REQ_KEY REQ_VER "\r\n",
     400, DILL__WS_FAIL_TARGET},
    {"GET ://a/ HTTP/1.1\r\nHost: a\r\n" REQ_UPG REQ_KEY REQ_VER "\r\n",
     400, DILL__WS_FAIL_TARGET},
    {"GET /chat HTTP/1.1\r\n" REQ_UPG REQ_KEY REQ_VER "\r\n",
     400, DILL__WS_FAIL_HOST},
    {REQ_HEAD "Host: other\r\n" REQ_UPG REQ_KEY REQ_VER "\r\n",
     400, DILL__WS_FAIL_HOST},
    {REQ_HEAD "Connection: Upgrade\r\n" REQ_KEY REQ_VER "\r\n",
     400, DILL__WS_FAIL_UPGRADE},
    {REQ_HEAD "Upgrade: h2c\r\nConnection: Upgrade\r\n" REQ_KEY REQ_VER
     "\r\n", 400, DILL__WS_FAIL_UPGRADE},
    {REQ_HEAD "Upgrade: websocket2\r\nConnection: Upgrade\r\n" REQ_KEY
     REQ_VER "\r\n", 400, DILL__WS_FAIL_UPGRADE},
    {REQ_HEAD "Upgrade: websocket\r\n" REQ_KEY REQ_VER "\r\n",
     400, DILL__WS_FAIL_CONNECTION},
    {REQ_HEAD "Upgrade: websocket\r\nConnection: keep-alive\r\n" REQ_KEY
     REQ_VER "\r\n", 400, DILL__WS_FAIL_CONNECTION},
    {REQ_HEAD "Upgrade: websocket\r\nConnection: upgraded, close\r\n"
     REQ_KEY REQ_VER "\r\n", 400, DILL__WS_FAIL_CONNECTION},
    {REQ_HEAD REQ_UPG REQ_VER "\r\n", 400, DILL__WS_FAIL_KEY},
    {REQ_HEAD REQ_UPG "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n"
     REQ_VER "\r\n", 400, DILL__WS_FAIL_KEY},
    {REQ_HEAD REQ_UPG "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA\r\n"
     REQ_VER "\r\n", 400, DILL__WS_FAIL_KEY},
    {REQ_HEAD REQ_UPG "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!=\r\n"
     REQ_VER "\r\n", 400, DILL__WS_FAIL_KEY},
    {REQ_HEAD REQ_UPG "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n"
     REQ_VER "\r\n", 400, DILL__WS_FAIL_KEY},
    {REQ_HEAD REQ_UPG "Sec-WebSocket-Key:\r\n" REQ_VER "\r\n",
     400, DILL__WS_FAIL_KEY},
    {REQ_HEAD REQ_UPG REQ_KEY REQ_KEY REQ_VER "\r\n", 400, DILL__WS_FAIL_KEY},
    {REQ_HEAD REQ_UPG REQ_KEY "\r\n", 426, DILL__WS_FAIL_VERSION},
    {REQ_HEAD REQ_UPG REQ_KEY "Sec-WebSocket-Version: 8\r\n\r\n",
     426, DILL__WS_FAIL_VERSION},
    {REQ_HEAD REQ_UPG REQ_KEY "Sec-WebSocket-Version: 013\r\n\r\n",
     426, DILL__WS_FAIL_VERSION},
    {REQ_HEAD REQ_UPG REQ_KEY "Sec-WebSocket-Version: 13, 8\r\n\r\n",
     426, DILL__WS_FAIL_VERSION},
    {REQ_HEAD REQ_UPG REQ_KEY REQ_VER REQ_VER "\r\n",
     426, DILL__WS_FAIL_VERSION},
    {REQ_HEAD REQ_UPG REQ_KEY REQ_VER
     "Sec-WebSocket-Protocol: chat, a b\r\n\r\n",
     400, DILL__WS_FAIL_PROTOCOLS},
    {REQ_HEAD REQ_UPG REQ_KEY REQ_VER
     "Sec-WebSocket-Protocol: chat, [x]\r\n\r\n",
     400, DILL__WS_FAIL_PROTOCOLS},
    {REQ_HEAD REQ_UPG REQ_KEY REQ_VER
     "Sec-WebSocket-Protocol: \"chat\"\r\n\r\n",
     400, DILL__WS_FAIL_PROTOCOLS},
    /* RFC 9112 section 6.3: conflicting or body-announcing framing. */
    {REQ_HEAD REQ_UPG REQ_KEY REQ_VER
     "Content-Length: 0\r\nContent-Length: 5\r\n\r\n",
     400, DILL__WS_FAIL_FRAMING},
    {REQ_HEAD REQ_UPG REQ_KEY REQ_VER "Content-Length: 0, 7\r\n\r\n",
     400, DILL__WS_FAIL_FRAMING},
    {REQ_HEAD REQ_UPG REQ_KEY REQ_VER
     "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
     400, DILL__WS_FAIL_FRAMING},
    {REQ_HEAD REQ_UPG REQ_KEY REQ_VER "Transfer-Encoding: chunked\r\n\r\n",
     400, DILL__WS_FAIL_FRAMING},
    {REQ_HEAD REQ_UPG REQ_KEY REQ_VER "Content-Length: 12\r\n\r\n",
     400, DILL__WS_FAIL_FRAMING},
    {REQ_HEAD REQ_UPG REQ_KEY REQ_VER "Content-Length: -0\r\n\r\n",
     400, DILL__WS_FAIL_FRAMING},
    {REQ_HEAD REQ_UPG REQ_KEY REQ_VER "Content-Length:\r\n\r\n",
     400, DILL__WS_FAIL_FRAMING},
};

static void test_bad_requests(void) {
    struct dill__http_head h;
    struct dill__ws_server_req r;
    for(size_t i = 0; i < sizeof(bad_reqs) / sizeof(bad_reqs[0]); i++) {
        int st = srv(bad_reqs[i].text, &r, &h);
        if(st != bad_reqs[i].status || r.fail != bad_reqs[i].fail) {
            fprintf(stderr, "request %zu: got %d (%s), want %d (%s)\n%s", i,
                st, dill__ws_fail_str(r.fail), bad_reqs[i].status,
                dill__ws_fail_str(bad_reqs[i].fail), bad_reqs[i].text);
            assert(0);
        }
    }
    /* Accepted variants: absolute-form target, tokens in lists and over
       several lines, trimmed version, case-insensitive names and tokens. */
    static const char *const good[] = {
        "GET ws://server.example.com/chat HTTP/1.1\r\nHost: a\r\n" REQ_UPG
            REQ_KEY REQ_VER "\r\n",
        "GET /chat HTTP/1.2\r\nhost: a\r\nupgrade: h2c, WebSocket\r\n"
            "connection: keep-alive\r\nCONNECTION: UPGRADE\r\n"
            "sec-websocket-key: " RFC_KEY "\r\n"
            "sec-websocket-version:   13  \r\n\r\n",
        REQ_HEAD REQ_UPG REQ_KEY REQ_VER "Content-Length: 0\r\n"
            "content-length: 0, 00\r\n\r\n",
        REQ_HEAD REQ_UPG REQ_KEY REQ_VER "Origin: http://a.example\r\n"
            "Sec-WebSocket-Protocol: one\r\n"
            "Sec-WebSocket-Protocol:\r\n"
            "Sec-WebSocket-Protocol: two , ,three\r\n\r\n",
    };
    for(size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if(srv(good[i], &r, &h) != 0) {
            fprintf(stderr, "rejected (%s):\n%s", dill__ws_fail_str(r.fail),
                good[i]);
            assert(0);
        }
    }
    assert(str_is(r.origin.p, r.origin.len, "http://a.example"));
    assert(r.nprotocols == 3);
    assert(str_is(r.protocols[0].p, r.protocols[0].len, "one"));
    assert(str_is(r.protocols[1].p, r.protocols[1].len, "two"));
    assert(str_is(r.protocols[2].p, r.protocols[2].len, "three"));
    static const char *const pref[] = {"three", "one"};
    assert(dill__ws_choose_protocol(&r, pref, 2) == 0);
    assert(srv(good[0], &r, &h) == 0);
    assert(r.origin.p == NULL && r.nprotocols == 0);
    /* Offer limit: DILL__WS_MAX_PROTOCOLS pass, one more does not. */
    static char big[4096];
    for(int extra = 0; extra < 2; extra++) {
        int n = sprintf(big, REQ_HEAD REQ_UPG REQ_KEY REQ_VER
            "Sec-WebSocket-Protocol: p0");
        for(int i = 1; i < DILL__WS_MAX_PROTOCOLS + extra; i++)
            n += sprintf(big + n, ", p%d", i);
        sprintf(big + n, "\r\n\r\n");
        int st = srv(big, &r, &h);
        assert(st == (extra ? 400 : 0));
        if(!extra) assert(r.nprotocols == DILL__WS_MAX_PROTOCOLS);
    }
}

/* Every length short of the message fails with -EMSGSIZE; its exact
   length plus the NUL works. */
#define CHECK_SIZES(call, buf, want) \
    do {\
        for(size_t l__ = 0; l__ <= strlen(want); l__++) {\
            size_t len = l__;\
            memset(buf, '#', sizeof(buf));\
            assert((call) == -EMSGSIZE);\
        }\
        size_t len = strlen(want) + 1;\
        assert((call) == (ssize_t)strlen(want));\
        assert(strcmp(buf, want) == 0);\
    } while(0)

static void test_build_request(void) {
    char buf[1024];
    static const char *const protos[] = {"chat", "superchat"};
    struct dill__ws_client_opts o = {
        .resource = "/chat?a=1", .host = "server.example.com:80",
        .origin = "http://example.com", .protocols = protos,
        .nprotocols = 2, .extensions = "permessage-deflate",
        .extra = "Authorization: Bearer x\r\nX-Trace: 1\r\n",
    };
    static const char want[] =
        "GET /chat?a=1 HTTP/1.1\r\n"
        "Host: server.example.com:80\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: " RFC_KEY "\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Origin: http://example.com\r\n"
        "Sec-WebSocket-Protocol: chat, superchat\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate\r\n"
        "Authorization: Bearer x\r\n"
        "X-Trace: 1\r\n"
        "\r\n";
    CHECK_SIZES(dill__ws_build_request(buf, len, &o, RFC_KEY), buf, want);
    /* The extra lines' final CRLF is optional. */
    o.extra = "Authorization: Bearer x\r\nX-Trace: 1";
    assert(dill__ws_build_request(buf, sizeof(buf), &o, RFC_KEY) ==
        (ssize_t)strlen(want));
    assert(strcmp(buf, want) == 0);
    /* What it builds, the server side accepts. */
    struct dill__http_head h;
    struct dill__ws_server_req r;
    assert(srv(buf, &r, &h) == 0);
    assert(r.nprotocols == 2);
    /* Minimal request. */
    struct dill__ws_client_opts m = {.resource = "/", .host = "h"};
    static const char want_min[] =
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY "\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    CHECK_SIZES(dill__ws_build_request(buf, len, &m, RFC_KEY), buf,
        want_min);
    /* Invalid arguments. */
    struct dill__ws_client_opts b;
    char key[DILL__WS_KEY_LEN + 1];
    dill__ws_make_key(key);
    assert(dill__ws_build_request(buf, sizeof(buf), &m, key) > 0);
    assert(dill__ws_build_request(buf, sizeof(buf), NULL, key) == -EINVAL);
    assert(dill__ws_build_request(buf, sizeof(buf), &m, NULL) == -EINVAL);
    assert(dill__ws_build_request(buf, sizeof(buf), &m, "abc") == -EINVAL);
    b = m; b.resource = NULL;
    assert(dill__ws_build_request(buf, sizeof(buf), &b, key) == -EINVAL);
    b = m; b.resource = "/a b";
    assert(dill__ws_build_request(buf, sizeof(buf), &b, key) == -EINVAL);
    b = m; b.resource = "";
    assert(dill__ws_build_request(buf, sizeof(buf), &b, key) == -EINVAL);
    b = m; b.host = NULL;
    assert(dill__ws_build_request(buf, sizeof(buf), &b, key) == -EINVAL);
    b = m; b.host = "h\r\nX-Injected: 1";
    assert(dill__ws_build_request(buf, sizeof(buf), &b, key) == -EINVAL);
    b = m; b.origin = "http://a\n";
    assert(dill__ws_build_request(buf, sizeof(buf), &b, key) == -EINVAL);
    static const char *const badp[] = {"chat", "a,b"};
    b = m; b.protocols = badp; b.nprotocols = 2;
    assert(dill__ws_build_request(buf, sizeof(buf), &b, key) == -EINVAL);
    b = m; b.protocols = NULL; b.nprotocols = 1;
    assert(dill__ws_build_request(buf, sizeof(buf), &b, key) == -EINVAL);
    b = m; b.extensions = "";
    assert(dill__ws_build_request(buf, sizeof(buf), &b, key) == -EINVAL);
    b = m; b.extensions = "x\r\n";
    assert(dill__ws_build_request(buf, sizeof(buf), &b, key) == -EINVAL);
    static const char *const bad_extra[] = {
        "Upgrade: h2c", "sec-websocket-key: x", "Host: y", "Origin: z",
        "Sec-WebSocket-Protocol: a", "Sec-WebSocket-Extensions: b",
        "Sec-WebSocket-Version: 8", "Connection: close",
        "A: b\nC: d", "A: b\r\n\r\nC: d", "A: b\rC: d", "A b", ": b",
        "A : b", "A: b\r\n\r\n", "A: b\x01", "A: b\r",
    };
    for(size_t i = 0; i < sizeof(bad_extra) / sizeof(bad_extra[0]); i++) {
        b = m; b.extra = bad_extra[i];
        if(dill__ws_build_request(buf, sizeof(buf), &b, key) != -EINVAL) {
            fprintf(stderr, "extra accepted: \"%s\"\n", bad_extra[i]);
            assert(0);
        }
    }
    b = m; b.extra = "";
    assert(dill__ws_build_request(buf, sizeof(buf), &b, RFC_KEY) ==
        (ssize_t)strlen(want_min));
}

static void test_build_response(void) {
    struct dill__http_head h;
    struct dill__ws_server_req r;
    char buf[512];
    assert(srv(REQ_HEAD REQ_UPG REQ_KEY REQ_VER "\r\n", &r, &h) == 0);
    static const char want[] =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
        "\r\n";
    CHECK_SIZES(dill__ws_build_response(buf, len, &r, NULL, NULL, NULL),
        buf, want);
    static const char want_full[] =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
        "Sec-WebSocket-Protocol: chat\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; "
            "server_no_context_takeover\r\n"
        "Set-Cookie: a=b\r\n"
        "\r\n";
    CHECK_SIZES(dill__ws_build_response(buf, len, &r, "chat",
        "permessage-deflate; server_no_context_takeover", "Set-Cookie: a=b"),
        buf, want_full);
    assert(dill__ws_build_response(buf, sizeof(buf), NULL, NULL, NULL,
        NULL) == -EINVAL);
    assert(dill__ws_build_response(buf, sizeof(buf), &r, "a b", NULL,
        NULL) == -EINVAL);
    assert(dill__ws_build_response(buf, sizeof(buf), &r, "", NULL,
        NULL) == -EINVAL);
    assert(dill__ws_build_response(buf, sizeof(buf), &r, NULL, "",
        NULL) == -EINVAL);
    assert(dill__ws_build_response(buf, sizeof(buf), &r, NULL, "a\nb",
        NULL) == -EINVAL);
    assert(dill__ws_build_response(buf, sizeof(buf), &r, NULL, NULL,
        "Sec-WebSocket-Accept: x") == -EINVAL);
    assert(dill__ws_build_response(buf, sizeof(buf), &r, NULL, NULL,
        "Connection: close") == -EINVAL);
    /* A rejected request has no key to answer. */
    assert(srv(REQ_HEAD REQ_UPG REQ_VER "\r\n", &r, &h) == 400);
    assert(dill__ws_build_response(buf, sizeof(buf), &r, NULL, NULL,
        NULL) == -EINVAL);
}

static void test_build_error(void) {
    char buf[512];
    static const char want400[] =
        "HTTP/1.1 400 Bad Request\r\n"
        "Connection: close\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    CHECK_SIZES(dill__ws_build_error(buf, len, 400, NULL, NULL), buf,
        want400);
    static const char want426[] =
        "HTTP/1.1 426 Upgrade Required\r\n"
        "Upgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Connection: Upgrade, close\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 29\r\n"
        "\r\n"
        "Unsupported WebSocket version";
    CHECK_SIZES(dill__ws_build_error(buf, len, 426,
        "Unsupported WebSocket version", NULL), buf, want426);
    static const char want405[] =
        "HTTP/1.1 405 Method Not Allowed\r\n"
        "Allow: GET\r\n"
        "Connection: close\r\n"
        "Content-Length: 0\r\n"
        "Retry-After: 5\r\n"
        "\r\n";
    CHECK_SIZES(dill__ws_build_error(buf, len, 405, "", "Retry-After: 5"),
        buf, want405);
    /* Every status round-trips through the response parser. */
    struct dill__http_head h;
    for(int st = 400; st <= 599; st++) {
        const char *body = st % 2 ? "no" : NULL;
        ssize_t n = dill__ws_build_error(buf, sizeof(buf), st, body, NULL);
        assert(n > 0);
        int hl = dill__http_parse_response(buf, (size_t)n, &h);
        assert(hl > 0);
        assert(h.status == st && h.reasonlen > 0);
        int i = dill__http_find(&h, "Content-Length", 0);
        assert(i >= 0);
        assert(str_is(h.headers[i].value, h.headers[i].valuelen,
            body ? "2" : "0"));
        assert((size_t)n - (size_t)hl == (body ? 2 : 0));
        i = dill__http_find(&h, "Connection", 0);
        assert(dill__http_has_token(h.headers[i].value, h.headers[i].valuelen,
            "close"));
        i = dill__http_find(&h, "Sec-WebSocket-Version", 0);
        assert(st == 426 ? i >= 0 : i < 0);
    }
    assert(dill__ws_build_error(buf, sizeof(buf), 200, NULL, NULL) ==
        -EINVAL);
    assert(dill__ws_build_error(buf, sizeof(buf), 600, NULL, NULL) ==
        -EINVAL);
    assert(dill__ws_build_error(buf, sizeof(buf), 399, NULL, NULL) ==
        -EINVAL);
    assert(dill__ws_build_error(buf, sizeof(buf), 400, NULL,
        "Content-Length: 5") == -EINVAL);
    assert(dill__ws_build_error(buf, sizeof(buf), 400, NULL,
        "X: y\r\nConnection: keep-alive") == -EINVAL);
}

/* Client-side response checks. */
static int cli(const char *lines, const struct dill__ws_client_opts *o,
      struct dill__ws_client_result *r) {
    static char text[1024];
    static struct dill__http_head h;
    int n = snprintf(text, sizeof(text), "%s\r\n", lines);
    assert(dill__http_parse_response(text, (size_t)n, &h) == n);
    return dill__ws_check_response(&h, o, RFC_KEY, r);
}

#define R101 "HTTP/1.1 101 Switching Protocols\r\n"
#define RUPG "Upgrade: websocket\r\nConnection: Upgrade\r\n"
#define RACC "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"

static void expect_fail(const char *lines, const struct dill__ws_client_opts *o,
      enum dill__ws_fail f) {
    struct dill__ws_client_result r;
    int rc = cli(lines, o, &r);
    if(rc != -EPROTO || r.fail != f) {
        fprintf(stderr, "got %d (%s), want %s:\n%s\n", rc,
            dill__ws_fail_str(r.fail), dill__ws_fail_str(f), lines);
        assert(0);
    }
}

static void test_check_response(void) {
    static const char *const protos[] = {"chat", "superchat"};
    struct dill__ws_client_opts plain = {.resource = "/", .host = "h"};
    struct dill__ws_client_opts offer = plain;
    offer.protocols = protos;
    offer.nprotocols = 2;
    offer.extensions = "permessage-deflate";
    struct dill__ws_client_result r;

    /* Successes. */
    assert(cli(R101 RUPG RACC, &plain, &r) == 0);
    assert(r.protocol == -1 && r.protocol_name == NULL && !r.extensions);
    assert(cli(R101 RUPG RACC, &offer, &r) == 0);
    assert(r.protocol == -1 && !r.extensions);
    assert(cli(R101 RUPG RACC "Sec-WebSocket-Protocol: superchat\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; "
        "client_max_window_bits=10\r\n", &offer, &r) == 0);
    assert(r.protocol == 1 && strcmp(r.protocol_name, "superchat") == 0);
    assert(str_is(r.extensions, r.extensionslen,
        "permessage-deflate; client_max_window_bits=10"));
    assert(cli(R101 "upgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
        "sec-websocket-accept: " RFC_ACCEPT "\r\n", &plain, &r) == 0);
    assert(cli("HTTP/1.1 101\r\n" RUPG RACC, &plain, &r) == 0);

    /* One failure per rule. */
    expect_fail("HTTP/1.1 200 OK\r\n" RUPG RACC, &plain,
        DILL__WS_FAIL_STATUS);
    expect_fail("HTTP/1.1 426 Upgrade Required\r\n" RUPG RACC, &plain,
        DILL__WS_FAIL_STATUS);
    expect_fail(R101 "Connection: Upgrade\r\n" RACC, &plain,
        DILL__WS_FAIL_UPGRADE);
    expect_fail(R101 "Upgrade: h2c\r\nConnection: Upgrade\r\n" RACC, &plain,
        DILL__WS_FAIL_UPGRADE);
    expect_fail(R101 "Upgrade: websocket\r\n" RACC, &plain,
        DILL__WS_FAIL_CONNECTION);
    expect_fail(R101 "Upgrade: websocket\r\nConnection: close\r\n" RACC,
        &plain, DILL__WS_FAIL_CONNECTION);
    expect_fail(R101 RUPG, &plain, DILL__WS_FAIL_ACCEPT);
    expect_fail(R101 RUPG "Sec-WebSocket-Accept: "
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOO=\r\n", &plain, DILL__WS_FAIL_ACCEPT);
    expect_fail(R101 RUPG "Sec-WebSocket-Accept: "
        "S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n", &plain, DILL__WS_FAIL_ACCEPT);
    expect_fail(R101 RUPG "Sec-WebSocket-Accept: "
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n", &plain, DILL__WS_FAIL_ACCEPT);
    expect_fail(R101 RUPG "Sec-WebSocket-Accept:\r\n", &plain,
        DILL__WS_FAIL_ACCEPT);
    expect_fail(R101 RUPG RACC RACC, &plain, DILL__WS_FAIL_ACCEPT);
    expect_fail(R101 RUPG RACC "Sec-WebSocket-Protocol: chat\r\n", &plain,
        DILL__WS_FAIL_PROTOCOL);
    expect_fail(R101 RUPG RACC "Sec-WebSocket-Protocol: other\r\n", &offer,
        DILL__WS_FAIL_PROTOCOL);
    expect_fail(R101 RUPG RACC "Sec-WebSocket-Protocol: CHAT\r\n", &offer,
        DILL__WS_FAIL_PROTOCOL);
    expect_fail(R101 RUPG RACC "Sec-WebSocket-Protocol: chat, superchat\r\n",
        &offer, DILL__WS_FAIL_PROTOCOL);
    expect_fail(R101 RUPG RACC "Sec-WebSocket-Protocol: chat\r\n"
        "Sec-WebSocket-Protocol: chat\r\n", &offer, DILL__WS_FAIL_PROTOCOL);
    expect_fail(R101 RUPG RACC "Sec-WebSocket-Protocol:\r\n", &offer,
        DILL__WS_FAIL_PROTOCOL);
    expect_fail(R101 RUPG RACC "Sec-WebSocket-Extensions: "
        "permessage-deflate\r\n", &plain, DILL__WS_FAIL_EXTENSIONS);
    expect_fail(R101 RUPG RACC "Sec-WebSocket-Extensions: a\r\n"
        "Sec-WebSocket-Extensions: b\r\n", &offer, DILL__WS_FAIL_EXTENSIONS);
    /* The key the client sent matters. */
    char text[] = R101 RUPG RACC "\r\n";
    struct dill__http_head h;
    assert(dill__http_parse_response(text, strlen(text), &h) > 0);
    char other[DILL__WS_KEY_LEN + 1];
    dill__ws_make_key(other);
    assert(dill__ws_check_response(&h, &plain, other, &r) == -EPROTO);
    assert(r.fail == DILL__WS_FAIL_ACCEPT);
    for(int f = DILL__WS_FAIL_NONE; f <= DILL__WS_FAIL_EXTENSIONS; f++)
        assert(strlen(dill__ws_fail_str((enum dill__ws_fail)f)) > 0);
}

int main(void) {
    test_keys();
    test_samples();
    test_bad_requests();
    test_build_request();
    test_build_response();
    test_build_error();
    test_check_response();
    return 0;
}
