/* ws_connect through proxies played by the test: HTTP CONNECT over TCP
   and over TLS (https:// proxies; wss inside it is TLS in TLS), Basic
   credentials, SOCKS5 with local (socks5://) and remote (socks5h://) name
   resolution, on our own socks5_proxy_* calls.  Refusals (407, 403, 502,
   504, SOCKS reply codes, wrong passwords), malformed and interim
   answers, a proxy that closes or stalls (bounded by the deadline), a
   proxy that is not there, bad proxy URLs; and the pure parts (proxy URL
   parsing, the CONNECT request).  After the tunnel the "proxy" is itself
   the WebSocket server, so the target is never resolved or dialled: the
   test checks what the client asked the proxy for. */

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "assert.h"
#include "libdill.h"
#include "proto/proxy.h"
#include "tmpdir.h"

#define SLACK 3000  /* upper bounds only prove that a wait was bounded */

#if defined DILL_DISABLE_TLS
/* The test's proxies and targets need TLS for https:// and wss://. */
int main(void) {
    return 0;
}
#else

static char cert[128], key[128];

static void makecert(void) {
    tmpdir_make("wsproxy");
    snprintf(cert, sizeof(cert), "%s", path("c.pem"));
    snprintf(key, sizeof(key), "%s", path("k.pem"));
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
        "ec_paramgen_curve:P-256 -nodes -keyout %s -out %s -subj /CN=proxy "
        "-addext subjectAltName=IP:127.0.0.1,DNS:localhost "
        "-days 1 >/dev/null 2>&1", key, cert);
    assert(system(cmd) == 0);
}

/* What the proxy does with the one connection it accepts. */
struct pcfg {
    int https;              /* TLS between client and proxy */
    int socks;              /* SOCKS5 instead of HTTP */
    int wss;                /* TLS between client and "target" */
    /* HTTP: the response after the head ("" closes at once, NULL stalls),
       an interim 100 first, the Proxy-Authorization value the request
       must carry (NULL: none). */
    const char *response;
    int interim;
    const char *want_auth;
    /* The client does not trust the proxy's certificate. */
    int notrust;
    /* SOCKS5: require user/pass, the reply code (-1 stalls). */
    int socks_auth;
    int socks_reply;
    /* What the client must ask for: CONNECT target, or SOCKS host:port. */
    const char *want_target;
};

static int check_pass(const char *user, const char *pass) {
    return strcmp(user, "al ice") == 0 && strcmp(pass, "p@ss:w") == 0;
}

/* Reads a request head byte by byte; returns its length. */
static size_t readhead(int s, char *buf, size_t len) {
    size_t n = 0;
    while(n < 4 || memcmp(buf + n - 4, "\r\n\r\n", 4) != 0) {
        assert(n + 1 < len);
        errno_assert(brecv(s, buf + n, 1, now() + 5000) == 0);
        n++;
    }
    buf[n] = 0;
    return n;
}

/* Failures here show in the client's result. */
static void ws_echo(int s, int wss) {
    if(wss) {
        s = tls_attach_server(s, cert, key, now() + 5000);
        if(s < 0) return;
    }
    char res[256], host[256];
    s = ws_attach_server(s, WS_TEXT, res, sizeof(res), host, sizeof(host),
        now() + 5000);
    if(s < 0) return;
    assert(strcmp(res, "/chat") == 0);
    char buf[64];
    int flags;
    ssize_t n = ws_recv(s, &flags, buf, sizeof(buf), now() + 5000);
    errno_assert(n >= 0);
    errno_assert(ws_send(s, flags, buf, (size_t)n, now() + 5000) == 0);
    ws_recv(s, &flags, buf, sizeof(buf), now() + 5000);
    hclose(s);
}

/* Returns 1 when the tunnel is open. */
static int http_side(int s, const struct pcfg *c) {
    char head[2048];
    readhead(s, head, sizeof(head));
    char want[512];
    snprintf(want, sizeof(want), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n",
        c->want_target, c->want_target);
    assert(strncmp(head, want, strlen(want)) == 0);
    const char *auth = strstr(head, "Proxy-Authorization: ");
    if(c->want_auth) {
        assert(auth);
        assert(strncmp(auth + 21, c->want_auth, strlen(c->want_auth)) == 0);
    }
    else assert(!auth);
    if(!c->response) {msleep(-1); return 0;}
    if(!*c->response) return 0;
    if(c->interim)
        errno_assert(bsend(s, "HTTP/1.1 100 Continue\r\n\r\n", 25,
            now() + 5000) == 0);
    /* The client may give up in the middle of a long response. */
    if(bsend(s, c->response, strlen(c->response), now() + 5000) < 0) return 0;
    return strncmp(c->response + 8, " 200 ", 5) == 0 &&
        strstr(c->response, "\r\n\r\n");
}

static int socks_side(int s, const struct pcfg *c) {
    if(c->socks_reply < 0) {msleep(-1); return 0;}
    if(socks5_proxy_auth(s, c->socks_auth ? check_pass : NULL,
          now() + 5000) < 0)
        return 0;
    char host[256];
    int port;
    errno_assert(socks5_proxy_recvcommandbyname(s, host, &port,
        now() + 5000) == SOCKS5_CONNECT);
    char target[300];
    snprintf(target, sizeof(target), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
        host, port);
    assert(strcmp(target, c->want_target) == 0);
    errno_assert(socks5_proxy_sendreply(s, c->socks_reply, NULL,
        now() + 5000) == 0);
    return c->socks_reply == SOCKS5_SUCCESS;
}

coroutine static void proxy(int ls, const struct pcfg *c) {
    /* Cancelled when the client failed before reaching the proxy. */
    int s = tcp_accept(ls, NULL, now() + 5000);
    if(s < 0) return;
    if(c->https) {
        s = tls_attach_server(s, cert, key, now() + 5000);
        if(s < 0) return;
    }
    if(c->socks ? socks_side(s, c) : http_side(s, c)) ws_echo(s, c->wss);
    else hclose(s);
}

/* Runs the proxy and ws_connect(url) through proxyurl (with "PORT" for
   the proxy's port); returns ws_connect's result after an echo. */
static int run(const struct pcfg *c, const char *url, const char *proxyurl,
      int64_t timeout) {
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&addr, 10);
    errno_assert(ls >= 0);
    int cr = go(proxy(ls, c));
    errno_assert(cr >= 0);
    char purl[256];
    const char *at = strstr(proxyurl, "PORT");
    assert(at);
    snprintf(purl, sizeof(purl), "%.*s%d%s", (int)(at - proxyurl), proxyurl,
        ipaddr_port(&addr), at + 4);
    struct ws_options o = WS_OPTIONS_INIT;
    o.proxy = purl;
    struct tls_client_options ptls = TLS_CLIENT_OPTIONS_INIT;
    ptls.ca_file = c->notrust ? NULL : cert;
    o.proxy_tls = &ptls;
    struct tls_client_options ttls = TLS_CLIENT_OPTIONS_INIT;
    ttls.ca_file = cert;
    ttls.server_name = "localhost";
    struct ws_response r = WS_RESPONSE_INIT;
    r.step = -1;
    o.response = &r;
    int s = ws_connect(url, &o, &ttls, now() + timeout);
    int err = errno;
    /* Every failure here is the proxy's (the target never fails). */
    assert(r.step == (s >= 0 ? 0 : WS_STEP_PROXY));
    if(s >= 0) {
        errno_assert(ws_send(s, WS_TEXT, "hi", 2, now() + 5000) == 0);
        char buf[8];
        int flags;
        assert(ws_recv(s, &flags, buf, sizeof(buf), now() + 5000) == 2);
        assert(memcmp(buf, "hi", 2) == 0);
        hclose(s);
        errno_assert(bundle_wait(cr, now() + 5000) == 0);
    }
    hclose(cr);
    hclose(ls);
    errno = err;
    return s >= 0 ? 0 : -1;
}

static void test_http(void) {
    const char *ok = "HTTP/1.1 200 Connection established\r\n\r\n";
    struct pcfg c = {0};
    c.response = ok;
    c.want_target = "example.test:8080";
    /* The target's name goes to the proxy unresolved. */
    errno_assert(run(&c, "ws://example.test:8080/chat", "http://127.0.0.1:PORT",
        5000) == 0);
    c.want_target = "[::1]:80";
    errno_assert(run(&c, "ws://[::1]/chat", "HTTP://127.0.0.1:PORT/", 5000) == 0);
    /* Credentials, percent-decoded from the URL: "al ice" and "p@ss:w"
       are YWwgaWNlOnBAc3M6dw== in base64. */
    c.want_target = "example.test:80";
    c.want_auth = "Basic YWwgaWNlOnBAc3M6dw==";
    errno_assert(run(&c, "ws://example.test/chat",
        "http://al%20ice:p%40ss%3Aw@127.0.0.1:PORT", 5000) == 0);
    errno_assert(run(&c, "ws://example.test/chat",
        "http://al%20ice:p@ss%3aw@127.0.0.1:PORT", 5000) == 0);
    /* An interim response first, and headers in the 200. */
    c.interim = 1;
    c.response = "HTTP/1.0 200 OK\r\nVia: test\r\nContent-Length: 9\r\n\r\n";
    errno_assert(run(&c, "ws://example.test/chat",
        "http://al%20ice:p%40ss%3Aw@127.0.0.1:PORT", 5000) == 0);
    /* Refusals. */
    c.interim = 0;
    c.want_auth = NULL;
    struct {const char *resp; int err;} refusals[] = {
        {"HTTP/1.1 407 Proxy Authentication Required\r\n"
         "Proxy-Authenticate: Basic realm=x\r\nContent-Length: 0\r\n\r\n",
         EACCES},
        {"HTTP/1.0 401 Unauthorized\r\n\r\n", EACCES},
        {"HTTP/1.1 403 Forbidden\r\n\r\n", EACCES},
        {"HTTP/1.1 502 Bad Gateway\r\n\r\n", ECONNREFUSED},
        {"HTTP/1.1 500 Unable to connect\r\n\r\n", ECONNREFUSED},
        {"HTTP/1.1 504 Gateway Timeout\r\n\r\n", ETIMEDOUT},
        {"HTTP/1.1 101 Switching Protocols\r\n\r\n", ECONNREFUSED},
        {"HTTP/1.1 2000 OK\r\n\r\n", EPROTO},
        {"SSH-2.0-OpenSSH\r\n\r\n", EPROTO},
        {"HTTP/1.1 200 OK\r\nBad header\r\n\r\n", EPROTO},
        {"", ECONNRESET},
        {"HTTP/1.1 200 OK\r\n", ECONNRESET},
    };
    for(size_t i = 0; i != sizeof(refusals) / sizeof(refusals[0]); i++) {
        c.response = refusals[i].resp;
        if(strstr(c.response, "\r\n\r\n") == NULL && *c.response) {
            /* A head cut short: the proxy closes after it. */
        }
        assert_err(run(&c, "ws://example.test/chat", "http://127.0.0.1:PORT",
            5000), refusals[i].err);
    }
    /* Heads past the limits: 16 KiB, or more than 64 header lines, or
       one endless line. */
    char *big = malloc(40000);
    assert(big);
    strcpy(big, "HTTP/1.1 200 OK\r\n");
    for(int i = 0; i != 2000; i++) strcat(big, "X-Pad: 0123456789\r\n");
    strcat(big, "\r\n");
    c.response = big;
    assert_err(run(&c, "ws://example.test/chat", "http://127.0.0.1:PORT",
        5000), EPROTO);
    strcpy(big, "HTTP/1.1 200 OK\r\n");
    for(int i = 0; i != 70; i++) strcat(big, "X: y\r\n");
    strcat(big, "\r\n");
    assert_err(run(&c, "ws://example.test/chat", "http://127.0.0.1:PORT",
        5000), EPROTO);
    memset(big, 'a', 39999);
    big[39999] = 0;
    memcpy(big, "HTTP/1.1 200 ", 13);
    assert_err(run(&c, "ws://example.test/chat", "http://127.0.0.1:PORT",
        5000), EPROTO);
    free(big);
    /* A proxy that never answers. */
    c.response = NULL;
    int64_t start = now();
    assert_err(run(&c, "ws://example.test/chat", "http://127.0.0.1:PORT", 400),
        ETIMEDOUT);
    assert(now() - start < 400 + SLACK);
}

static void test_https(void) {
    struct pcfg c = {0};
    c.https = 1;
    c.response = "HTTP/1.1 200 Connection established\r\n\r\n";
    c.want_target = "localhost:443";
    c.wss = 1;
    /* TLS to the proxy, and TLS to the target inside it. */
    errno_assert(run(&c, "wss://localhost/chat", "https://127.0.0.1:PORT",
        5000) == 0);
    c.wss = 0;
    c.want_target = "example.test:80";
    c.want_auth = "Basic dTpw";
    errno_assert(run(&c, "ws://example.test/chat", "https://u:p@127.0.0.1:PORT",
        5000) == 0);
    /* The proxy's certificate is not trusted. */
    c.notrust = 1;
    assert_err(run(&c, "ws://example.test/chat", "https://127.0.0.1:PORT",
        5000), EACCES);
}

static void test_socks(void) {
    struct pcfg c = {0};
    c.socks = 1;
    c.socks_reply = SOCKS5_SUCCESS;
    /* socks5h: the name goes to the proxy. */
    c.want_target = "example.test:8080";
    errno_assert(run(&c, "ws://example.test:8080/chat", "socks5h://127.0.0.1:PORT",
        5000) == 0);
    /* socks5: resolved here, an address goes to the proxy. */
    c.want_target = "127.0.0.1:8080";
    errno_assert(run(&c, "ws://127.0.0.1:8080/chat", "socks5://127.0.0.1:PORT",
        5000) == 0);
    c.want_target = "[::1]:8080";
    errno_assert(run(&c, "ws://[::1]:8080/chat", "socks5h://127.0.0.1:PORT",
        5000) == 0);
    /* wss through SOCKS5, with credentials. */
    c.socks_auth = 1;
    c.wss = 1;
    c.want_target = "localhost:443";
    errno_assert(run(&c, "wss://localhost/chat",
        "socks5h://al%20ice:p%40ss%3Aw@127.0.0.1:PORT", 5000) == 0);
    c.wss = 0;
    c.want_target = "example.test:80";
    assert_err(run(&c, "ws://example.test/chat",
        "socks5h://al%20ice:wrong@127.0.0.1:PORT", 5000), EACCES);
    assert_err(run(&c, "ws://example.test/chat", "socks5h://127.0.0.1:PORT",
        5000), EACCES);
    c.socks_auth = 0;
    c.socks_reply = SOCKS5_CONNECTION_REFUSED;
    assert_err(run(&c, "ws://example.test/chat", "socks5h://127.0.0.1:PORT",
        5000), ECONNREFUSED);
    c.socks_reply = SOCKS5_CONNECTION_NOT_ALLOWED;
    assert_err(run(&c, "ws://example.test/chat", "socks5h://127.0.0.1:PORT",
        5000), EACCES);
    c.socks_reply = -1;
    int64_t start = now();
    assert_err(run(&c, "ws://example.test/chat", "socks5h://127.0.0.1:PORT",
        400), ETIMEDOUT);
    assert(now() - start < 400 + SLACK);
}

static void test_errors(void) {
    struct ws_options o = WS_OPTIONS_INIT;
    const char *bad[] = {"ftp://127.0.0.1:1", "http://", "http://:80",
        "http://127.0.0.1:0", "http://127.0.0.1:70000", "http://h/path",
        "http://h?q", "http://u%00:p@h", "http://u%4:p@h", "socks4://h",
        "http://h h", "127.0.0.1:3128", ""};
    for(size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); i++) {
        o.proxy = bad[i];
        struct ws_response r = WS_RESPONSE_INIT;
        o.response = &r;
        assert_err(ws_connect("ws://example.test/", &o, NULL, now() + 1000),
            EINVAL);
        /* A bad proxy URL, not a bad URL. */
        assert(r.step == WS_STEP_PROXY);
        o.response = NULL;
    }
    /* Nothing listens at the proxy's address. */
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&addr, 1);
    errno_assert(ls >= 0);
    char purl[64];
    snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", ipaddr_port(&addr));
    hclose(ls);
    o.proxy = purl;
    assert_err(ws_connect("ws://example.test/", &o, NULL, now() + 2000),
        ECONNREFUSED);
    /* A program built before the proxy fields existed: whatever lies
       past its size is not read, so the connection is direct. */
    o.proxy = "ftp://not-a-proxy";
    o.size = offsetof(struct ws_options, proxy);
    snprintf(purl, sizeof(purl), "ws://127.0.0.1:%d/", ipaddr_port(&addr));
    assert_err(ws_connect(purl, &o, NULL, now() + 2000), ECONNREFUSED);
    o.size = sizeof(o);
    /* A user name over 255 bytes. */
    char longurl[400];
    memset(longurl, 'u', sizeof(longurl));
    memcpy(longurl, "http://", 7);
    strcpy(longurl + 300, "@127.0.0.1:1");
    o.proxy = longurl;
    assert_err(ws_connect("ws://example.test/", &o, NULL, now() + 1000),
        EMSGSIZE);
}

static void test_pure(void) {
    struct dill__proxy p;
    assert(dill__proxy_parse("socks5h://[::1]", &p) == 0);
    assert(p.kind == DILL__PROXY_SOCKS5H && p.port == 1080 &&
        strcmp(p.host, "::1") == 0 && !p.auth);
    assert(dill__proxy_parse("https://u@proxy.example:8443/", &p) == 0);
    assert(p.kind == DILL__PROXY_HTTPS && p.port == 8443 && p.auth &&
        strcmp(p.user, "u") == 0 && strcmp(p.pass, "") == 0 &&
        strcmp(p.host, "proxy.example") == 0);
    assert(dill__proxy_parse("http://h", &p) == 0 && p.port == 80);
    assert(dill__proxy_parse("Socks5://h", &p) == 0 && p.port == 1080 &&
        p.kind == DILL__PROXY_SOCKS5);
    char buf[256];
    assert(dill__proxy_connect_request(buf, sizeof(buf), "::1", 1, 443, &p) ==
        (ssize_t)strlen("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"));
    assert(strcmp(buf, "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n")
        == 0);
    assert(dill__proxy_connect_request(buf, 20, "::1", 1, 443, &p) == -EMSGSIZE);
}

int main(void) {
    makecert();
    test_pure();
    test_http();
    test_https();
    test_socks();
    test_errors();
    tmpdir_remove();
    return 0;
}

#endif
