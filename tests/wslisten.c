/* ws_listen as a server runs in production: the check callback sees the
   peer and hands a per-connection pointer to the handler, failed
   handshakes are reported and counted, a full handshake queue waits for a
   slot (no polling), certificates are replaced without dropping
   connections, and a graceful shutdown gives every client a Close frame. */

#include <stdio.h>
#include <string.h>

#include "assert.h"
#include "tmpdir.h"
#include <libdill.h>

static int listener(int *port, struct ws_listen_options *lo) {
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int l = ws_listen(&addr, lo);
    errno_assert(l >= 0);
    *port = ipaddr_port(&addr);
    return l;
}

static int connect_ws(int port, const struct dill_tls_client_options *tls,
      int64_t deadline) {
    char url[64];
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d/room", tls ? "wss" : "ws",
        port);
    return ws_connect(url, NULL, tls, deadline);
}

/******************************************************************************/
/*  check: peer and user data                                                 */
/******************************************************************************/

static int seen_port;

static int check_peer(const struct ws_request *req, void *arg) {
    struct ipaddr a;
    errno_assert(ws_request_peer(req, &a) == 0);
    char s[IPADDR_MAXSTRLEN];
    if(strcmp(ipaddr_str(&a, s), "127.0.0.1") != 0) return 403;
    seen_port = ipaddr_port(&a);
    errno_assert(ws_request_set_userdata(req, arg) == 0);
    assert_err(ws_request_peer(req, NULL), EINVAL);
    return 0;
}

static int check_plain(const struct ws_request *req, void *arg) {
    struct ipaddr a;
    assert_err(ws_request_peer(req, &a), ENOENT);
    return 0;
}

coroutine static void attach_plain(int s) {
    struct ws_options o = WS_OPTIONS_INIT;
    o.check = check_plain;
    char res[64], host[64];
    int h = ws_attach_server_opts(s, res, sizeof(res), host, sizeof(host),
        &o, NULL, now() + 5000);
    errno_assert(h >= 0);
    void *d = (void*)1;
    errno_assert(ws_userdata(h, &d) == 0 && d == NULL);
    hclose(h);
}

static void test_check(void) {
    static int token;
    struct ws_options wo = WS_OPTIONS_INIT;
    wo.check = check_peer;
    wo.check_arg = &token;
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    lo.ws = &wo;
    int port;
    int l = listener(&port, &lo);
    int c = connect_ws(port, NULL, now() + 5000);
    errno_assert(c >= 0);
    struct ipaddr peer;
    int s = ws_accept(l, NULL, 0, &peer, now() + 5000);
    errno_assert(s >= 0);
    assert(ipaddr_port(&peer) == seen_port);
    void *d;
    errno_assert(ws_userdata(s, &d) == 0 && d == &token);
    assert_err(ws_userdata(s, NULL), EINVAL);
    assert_err(ws_userdata(l, &d), ENOTSUP);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(l) == 0);
    /* A socket attached by the application has no peer and no data. */
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    int cr = go(attach_plain(p[1]));
    c = ws_attach_client(p[0], 0, "/", "x", now() + 5000);
    errno_assert(c >= 0);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(c) == 0);
}

/******************************************************************************/
/*  Failures, counters, throttling                                            */
/******************************************************************************/

static int nfailed, lasterr;

static void on_failed(const struct ipaddr *peer, int err, void *arg) {
    char s[IPADDR_MAXSTRLEN];
    assert(strcmp(ipaddr_str(peer, s), "127.0.0.1") == 0);
    assert(arg == &nfailed);
    nfailed++;
    lasterr = err;
}

static int raw(int port) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", port, IPADDR_IPV4) == 0);
    int s = tcp_connect(&a, now() + 5000);
    errno_assert(s >= 0);
    return s;
}

static void test_failures(void) {
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    lo.failed = on_failed;
    lo.failed_arg = &nfailed;
    lo.handshake_timeout = 300;
    lo.max_pending = 1;
    int port;
    int l = listener(&port, &lo);
    /* A request that is not an upgrade. */
    int r = raw(port);
    const char *bad = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    errno_assert(bsend(r, bad, strlen(bad), now() + 5000) == 0);
    char buf[64];
    errno_assert(brecv(r, buf, 12, now() + 5000) == 0);
    assert(memcmp(buf, "HTTP/1.1 400", 12) == 0);
    errno_assert(hclose(r) == 0);
    int64_t until = now() + 5000;
    while(nfailed < 1 && now() < until) msleep(now() + 10);
    assert(nfailed == 1 && lasterr == EPROTO);
    /* A silent client holds the only handshake slot until its handshake
       times out; the next client waits for the slot, not for a poll. */
    r = raw(port);
    msleep(now() + 50);
    struct ws_listen_stats st = WS_LISTEN_STATS_INIT;
    errno_assert(ws_listen_stats(l, &st) == 0);
    assert(st.pending == 1 && st.accepted == 2 && st.failed == 1);
    int64_t start = now();
    int c = connect_ws(port, NULL, now() + 5000);
    errno_assert(c >= 0);
    int64_t took = now() - start;
    assert(took >= 150 && took < 3000);
    assert(nfailed == 2 && lasterr == ETIMEDOUT);
    int s = ws_accept(l, NULL, 0, NULL, now() + 5000);
    errno_assert(s >= 0);
    errno_assert(yield() == 0);
    errno_assert(ws_listen_stats(l, &st) == 0);
    assert(st.accepted == 3 && st.handshakes == 1 && st.failed == 2);
    assert(st.pending == 0 && st.open == 1);
    /* An older, shorter stats structure gets only what it holds. */
    struct {struct ws_listen_stats s; char canary[8];} old;
    memset(&old, 0x77, sizeof(old));
    old.s.size = offsetof(struct ws_listen_stats, handshakes);
    errno_assert(ws_listen_stats(l, &old.s) == 0);
    assert(old.s.accepted == 3);
    for(size_t i = old.s.size; i < sizeof(old); i++)
        assert(((unsigned char*)&old)[i] == 0x77);
    old.s.size = 0;
    assert_err(ws_listen_stats(l, &old.s), EINVAL);
    errno_assert(hclose(s) == 0);
    errno_assert(ws_listen_stats(l, &st) == 0);
    assert(st.open == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(r) == 0);
    errno_assert(hclose(l) == 0);
    assert_err(ws_listen_stats(l, &st), EBADF);
}

/******************************************************************************/
/*  Plain HTTP requests beside the WebSocket (ws_options.http)               */
/******************************************************************************/

static int npages;

static int page(const struct ws_request *req, struct ws_http_response *a,
      void *arg) {
    assert(arg == &npages);
    npages++;
    char m[16], path[64];
    errno_assert(ws_request_header(req, ":method", m, sizeof(m)) >= 0);
    errno_assert(ws_request_header(req, ":path", path, sizeof(path)) >= 0);
    struct ipaddr peer;
    errno_assert(ws_request_peer(req, &peer) == 0);
    if(strcmp(m, "GET") != 0) return 405;
    if(strcmp(path, "/page") == 0) {
        a->status = 200;
        a->content_type = "text/html";
        a->body = "hello";
        a->len = 5;
        a->headers = "X-Test: 1";
        return 0;
    }
    if(strcmp(path, "/empty") == 0) {a->status = 204; return 0;}
    if(strcmp(path, "/badstatus") == 0) {a->status = 700; return 0;}
    if(strcmp(path, "/badheader") == 0) {
        a->status = 200;
        a->headers = "Content-Length: 9";
        return 0;
    }
    return 404;
}

static int only_room(const struct ws_request *req, void *arg) {
    char path[64];
    errno_assert(ws_request_header(req, ":path", path, sizeof(path)) >= 0);
    return strcmp(path, "/room") == 0 ? 0 : 404;
}

/* Sends req on a new connection, returns the whole answer (up to the
   server's close) in buf. */
static size_t ask(int port, const char *req, char *buf, size_t len) {
    int r = raw(port);
    errno_assert(bsend(r, req, strlen(req), now() + 5000) == 0);
    size_t n = 0;
    while(n < len - 1 && brecv(r, buf + n, 1, now() + 5000) == 0) n++;
    assert(errno == EPIPE || errno == ECONNRESET);
    buf[n] = 0;
    errno_assert(hclose(r) == 0);
    return n;
}

static void test_http(void) {
    struct ws_options wo = WS_OPTIONS_INIT;
    wo.http = page;
    wo.http_arg = &npages;
    wo.check = only_room;
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    lo.ws = &wo;
    lo.failed = on_failed;
    lo.failed_arg = &nfailed;
    int port;
    int l = listener(&port, &lo);
    nfailed = 0;
    char buf[512];
    ask(port, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof(buf));
    assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert(strstr(buf, "\r\nConnection: close\r\n"));
    assert(strstr(buf, "\r\nContent-Type: text/html\r\n"));
    assert(strstr(buf, "\r\nContent-Length: 5\r\n"));
    assert(strstr(buf, "\r\nX-Test: 1\r\n\r\nhello") &&
        strcmp(strstr(buf, "\r\n\r\n"), "\r\n\r\nhello") == 0);
    /* Answered, not upgraded: a failed handshake with EACCES. */
    int64_t until = now() + 5000;
    while(nfailed < 1 && now() < until) msleep(now() + 10);
    assert(nfailed == 1 && lasterr == EACCES);
    ask(port, "GET /empty HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof(buf));
    assert(strncmp(buf, "HTTP/1.1 204 ", 13) == 0);
    assert(strstr(buf, "\r\nContent-Length: 0\r\n"));
    ask(port, "POST /page HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        buf, sizeof(buf));
    assert(strncmp(buf, "HTTP/1.1 405 ", 13) == 0 && strstr(buf, "Allow: GET"));
    ask(port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof(buf));
    assert(strncmp(buf, "HTTP/1.1 404 ", 13) == 0);
    /* The application's mistakes become a 500. */
    ask(port, "GET /badstatus HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof(buf));
    assert(strncmp(buf, "HTTP/1.1 500 ", 13) == 0);
    ask(port, "GET /badheader HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof(buf));
    assert(strncmp(buf, "HTTP/1.1 500 ", 13) == 0);
    assert(npages == 6);
    /* Upgrades do not go there: a bad one gets the library's answer, a
       good one the check and then the WebSocket. */
    ask(port, "POST /room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\n\r\n", buf, sizeof(buf));
    assert(strncmp(buf, "HTTP/1.1 405 ", 13) == 0);
    assert(npages == 6);
    int c = connect_ws(port, NULL, now() + 5000);
    errno_assert(c >= 0);
    int s = ws_accept(l, NULL, 0, NULL, now() + 5000);
    errno_assert(s >= 0);
    errno_assert(ws_send(c, WS_TEXT, "hi", 2, now() + 5000) == 0);
    int type;
    assert(ws_recv(s, &type, buf, sizeof(buf), now() + 5000) == 2);
    assert(npages == 6);
    /* Each answered page counted as a failed handshake. */
    until = now() + 5000;
    while(nfailed < 7 && now() < until) msleep(now() + 10);
    assert(nfailed == 7 && lasterr == EPROTO);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(l) == 0);
}

/******************************************************************************/
/*  Graceful shutdown                                                         */
/******************************************************************************/

/* A handler as applications write them: echo until the connection ends,
   then close. */
coroutine static void handler(int s) {
    char buf[64];
    int flags;
    ssize_t n;
    while((n = ws_recv(s, &flags, buf, sizeof(buf), -1)) >= 0)
        if(ws_send(s, flags, buf, (size_t)n, -1) < 0) break;
    hclose(s);
}

/* A client that waits for the server to close, and reports the status. */
coroutine static void client(int c, int ch) {
    char buf[64];
    int flags, status = -1;
    if(ws_recv(c, &flags, buf, sizeof(buf), now() + 5000) < 0 &&
       errno == EPIPE) {
        ssize_t n = ws_status(c, &status, buf, sizeof(buf));
        if(n != 3 || memcmp(buf, "bye", 3) != 0) status = -2;
    }
    hclose(c);
    chsend(ch, &status, sizeof(status), -1);
}

static void test_shutdown(void) {
    int port;
    int l = listener(&port, NULL);
    int handlers = bundle();
    int clients = bundle();
    int ch[2];
    errno_assert(chmake(ch) == 0);
    for(int i = 0; i < 3; i++) {
        int c = connect_ws(port, NULL, now() + 5000);
        errno_assert(c >= 0);
        int s = ws_accept(l, NULL, 0, NULL, now() + 5000);
        errno_assert(s >= 0);
        errno_assert(bundle_go(handlers, handler(s)) == 0);
        errno_assert(bundle_go(clients, client(c, ch[0])) == 0);
    }
    assert_err(ws_listen_shutdown(l, 999, NULL, 0, -1), EINVAL);
    assert_err(ws_listen_shutdown(l, 1001, NULL, 200, -1), EINVAL);
    errno_assert(ws_listen_shutdown(l, 1001, "bye", 3, now() + 5000) == 0);
    for(int i = 0; i < 3; i++) {
        int status;
        errno_assert(chrecv(ch[1], &status, sizeof(status), now() + 5000) == 0);
        assert(status == 1001);
    }
    /* Nothing more is accepted; nobody listens any more. */
    assert_err(ws_accept(l, NULL, 0, NULL, now() + 100), EPIPE);
    assert_err(ws_listen_shutdown(l, 1001, NULL, 0, -1), EPIPE);
    assert_err(connect_ws(port, NULL, now() + 2000), ECONNREFUSED);
    errno_assert(bundle_wait(handlers, now() + 5000) == 0);
    errno_assert(hclose(handlers) == 0);
    errno_assert(hclose(clients) == 0);
    errno_assert(hclose(l) == 0);
    /* An application that never closes its connection: ETIMEDOUT, and the
       connection outlives the listener. */
    l = listener(&port, NULL);
    int c = connect_ws(port, NULL, now() + 5000);
    errno_assert(c >= 0);
    int s = ws_accept(l, NULL, 0, NULL, now() + 5000);
    errno_assert(s >= 0);
    assert_err(ws_listen_shutdown(l, 1001, NULL, 0, now() + 200), ETIMEDOUT);
    errno_assert(hclose(l) == 0);
    char buf[8];
    int flags, status;
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 5000), EPIPE);
    assert(ws_status(c, &status, buf, sizeof(buf)) == 0 && status == 1001);
    errno_assert(hclose(s) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}

/* A shutdown in another coroutine: cancelled (ECANCELED), or its listener
   closed under it (EBADF; the listener is freed once it returns). */
coroutine static void shutdown_in(int l, int *err) {
    *err = ws_listen_shutdown(l, 1001, NULL, 0, now() + 5000) < 0 ? errno : 0;
}

static void test_shutdown_errors(void) {
    assert_err(ws_request_set_userdata(NULL, NULL), EINVAL);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    assert_err(ws_listen_shutdown(ch[0], 1001, NULL, 0, -1), ENOTSUP);
    assert_err(ws_listen_set_tls(ch[0], NULL), ENOTSUP);
    struct ws_listen_stats st = WS_LISTEN_STATS_INIT;
    assert_err(ws_listen_stats(ch[0], &st), ENOTSUP);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    for(int round = 0; round < 2; round++) {
        int port;
        int l = listener(&port, NULL);
        int c = connect_ws(port, NULL, now() + 5000);
        errno_assert(c >= 0);
        int s = ws_accept(l, NULL, 0, NULL, now() + 5000);
        errno_assert(s >= 0);
        /* s is never closed by its owner: the shutdown waits. */
        int err = -1;
        int cr = go(shutdown_in(l, &err));
        errno_assert(cr >= 0);
        errno_assert(msleep(now() + 50) == 0);
        assert(err == -1);
        if(round == 0) {
            errno_assert(hclose(cr) == 0);
            assert(err == ECANCELED);
            errno_assert(hclose(l) == 0);
        }
        else {
            errno_assert(hclose(l) == 0);
            errno_assert(bundle_wait(cr, now() + 5000) == 0);
            assert(err == EBADF);
            errno_assert(hclose(cr) == 0);
        }
        /* The connection outlives the listener. */
        errno_assert(hclose(s) == 0);
        errno_assert(hclose(c) == 0);
    }
}

/******************************************************************************/
/*  Certificate replacement                                                   */
/******************************************************************************/

#if !defined DILL_DISABLE_TLS
/* Two CAs, each with a server certificate for 127.0.0.1. */
static void makecerts(void) {
    tmpdir_make("wslisten");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cd %s && "
        "K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' && "
        "printf 'subjectAltName=IP:127.0.0.1\\n' > ext && "
        "for i in 1 2; do "
        "openssl req -x509 $K -keyout ca$i.key -out ca$i.crt -subj /CN=ca$i "
        "-days 2 -addext basicConstraints=critical,CA:TRUE "
        "-addext keyUsage=critical,keyCertSign && "
        "openssl req $K -keyout srv$i.key -out srv$i.csr -subj /CN=srv$i && "
        "openssl x509 -req -in srv$i.csr -CA ca$i.crt -CAkey ca$i.key "
        "-set_serial $i -days 2 -extfile ext -out srv$i.crt || exit 1; "
        "done >log 2>&1", dir);
    assert(system(cmd) == 0);
}

static struct tls_server_ctx *ctx_for(int i) {
    char crt[16], key[16];
    snprintf(crt, sizeof(crt), "srv%d.crt", i);
    snprintf(key, sizeof(key), "srv%d.key", i);
    struct tls_server_options so = TLS_SERVER_OPTIONS_INIT;
    so.cert_file = path(crt);
    so.key_file = path(key);
    struct tls_server_ctx *ctx = tls_server_ctx_new(&so);
    errno_assert(ctx);
    return ctx;
}

static int echo_once(int c) {
    char buf[8];
    int flags;
    if(ws_send(c, WS_TEXT, "ping", 4, now() + 5000) < 0) return -1;
    return ws_recv(c, &flags, buf, sizeof(buf), now() + 5000) == 4 ? 0 : -1;
}

static void test_reload(void) {
    makecerts();
    struct tls_client_options t1 = TLS_CLIENT_OPTIONS_INIT, t2 = t1;
    char ca1[128], ca2[128];
    t1.ca_file = strcpy(ca1, path("ca1.crt"));
    t2.ca_file = strcpy(ca2, path("ca2.crt"));
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    lo.tls = ctx_for(1);
    int port;
    int l = listener(&port, &lo);
    /* The listener holds its own reference. */
    tls_server_ctx_free(lo.tls);
    int handlers = bundle();
    int c1 = connect_ws(port, &t1, now() + 5000);
    errno_assert(c1 >= 0);
    int s = ws_accept(l, NULL, 0, NULL, now() + 5000);
    errno_assert(s >= 0);
    errno_assert(bundle_go(handlers, handler(s)) == 0);
    /* Renewed certificate: new clients get it... */
    struct tls_server_ctx *ctx2 = ctx_for(2);
    errno_assert(ws_listen_set_tls(l, ctx2) == 0);
    tls_server_ctx_free(ctx2);
    int c2 = connect_ws(port, &t2, now() + 5000);
    errno_assert(c2 >= 0);
    s = ws_accept(l, NULL, 0, NULL, now() + 5000);
    errno_assert(s >= 0);
    errno_assert(bundle_go(handlers, handler(s)) == 0);
    assert_err(connect_ws(port, &t1, now() + 5000), EACCES);
    /* ... and the connection made before keeps working. */
    errno_assert(echo_once(c1) == 0);
    errno_assert(echo_once(c2) == 0);
    errno_assert(hclose(c1) == 0);
    errno_assert(hclose(c2) == 0);
    errno_assert(bundle_wait(handlers, now() + 5000) == 0);
    errno_assert(hclose(handlers) == 0);
    /* Back to plain ws. */
    errno_assert(ws_listen_set_tls(l, NULL) == 0);
    int c = connect_ws(port, NULL, now() + 5000);
    errno_assert(c >= 0);
    errno_assert(hclose(c) == 0);
    assert_err(ws_listen_set_tls(c, NULL), EBADF);
    errno_assert(hclose(l) == 0);
}
#endif

int main(void) {
    test_check();
    test_failures();
    test_http();
    test_shutdown();
    test_shutdown_errors();
#if !defined DILL_DISABLE_TLS
    test_reload();
    tmpdir_remove();
#endif
    return 0;
}
