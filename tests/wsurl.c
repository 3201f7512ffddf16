/* dill_ws_connect by URL and the dill_ws_listen / dill_ws_accept listener,
   over ws:// and wss:// (certificates made at test time). */

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "assert.h"
#include "libdill.h"
#include "tmpdir.h"

static void makecerts(void) {
    tmpdir_make("wsurl");
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
        "cd %s && K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' && "
        "openssl req -x509 $K -keyout ca.key -out ca.crt -subj /CN=wsurl-ca "
        "-days 2 -addext basicConstraints=critical,CA:TRUE "
        "-addext keyUsage=critical,keyCertSign >log 2>&1 && "
        "openssl req $K -keyout srv.key -out srv.csr -subj /CN=localhost "
        ">>log 2>&1 && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.ext && "
        "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key "
        "-set_serial 9 -days 2 -extfile srv.ext -out srv.crt >>log 2>&1",
        dir);
    assert(system(cmd) == 0);
}

coroutine static void echo_one(int s) {
    char buf[256];
    int flags;
    ssize_t n = ws_recv(s, &flags, buf, sizeof(buf), now() + 5000);
    if(n >= 0) ws_send(s, flags, buf, (size_t)n, now() + 5000);
    ws_recv(s, &flags, buf, sizeof(buf), now() + 5000);
    hclose(s);
}

coroutine static void server(int l, int n, int *accepted) {
    for(int i = 0; i != n; i++) {
        char resource[256];
        struct ipaddr peer;
        int s = ws_accept(l, resource, sizeof(resource), &peer, -1);
        if(s < 0) return;
        assert(!strcmp(resource, "/chat?room=1"));
        assert(ipaddr_family(&peer) == AF_INET);
        (*accepted)++;
        go(echo_one(s));
    }
}

static void roundtrip(const char *url, const struct dill_tls_client_options *t) {
    int s = ws_connect(url, NULL, t, now() + 5000);
    errno_assert(s >= 0);
    errno_assert(ws_send(s, WS_TEXT, "hello", 5, now() + 5000) == 0);
    char buf[16];
    int flags;
    ssize_t n = ws_recv(s, &flags, buf, sizeof(buf), now() + 5000);
    assert(n == 5 && !memcmp(buf, "hello", 5) && flags == WS_TEXT);
    errno_assert(ws_done(s, 1000, NULL, 0, now() + 5000) == 0);
    hclose(s);
}

coroutine static void silent_client(int port) {
    struct ipaddr a;
    ipaddr_remote(&a, "127.0.0.1", port, 0, -1);
    int s = tcp_connect(&a, -1);
    if(s < 0) return;
    msleep(-1);
    hclose(s);
}

static int deny(const struct ws_request *req, void *arg) {
    return 401;
}

int main(void) {
    /* Malformed URLs. */
    assert_err(ws_connect("http://127.0.0.1/", NULL, NULL, now() + 1000),
        EINVAL);
    assert_err(ws_connect("ws://127.0.0.1:99999/", NULL, NULL, now() + 1000),
        EINVAL);
    assert_err(ws_connect("ws://a/#f", NULL, NULL, now() + 1000), EINVAL);
    assert_err(ws_connect(NULL, NULL, NULL, now() + 1000), EINVAL);
    /* The response's step tells a bad URL from a bad proxy URL (both
       EINVAL), and an old caller's shorter structure is not written past
       its size. */
    struct ws_response st = WS_RESPONSE_INIT;
    struct ws_options sto = WS_OPTIONS_INIT;
    sto.response = &st;
    sto.proxy = "http://127.0.0.1:1";
    assert_err(ws_connect("ws://a/#f", &sto, NULL, now() + 1000), EINVAL);
    assert(st.step == WS_STEP_URL);
    sto.proxy = "ftp://127.0.0.1:1";
    assert_err(ws_connect("ws://a/", &sto, NULL, now() + 1000), EINVAL);
    assert(st.step == WS_STEP_PROXY);
    st.size = offsetof(struct ws_response, step);
    st.step = 77;
    assert_err(ws_connect("ws://a/#f", &sto, NULL, now() + 1000), EINVAL);
    assert(st.step == 77);
    st.size = sizeof(st);
    sto.proxy = NULL;

    /* Plain ws: listener + connect by URL. */
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int l = ws_listen(&addr, NULL);
    errno_assert(l >= 0);
    int port = ipaddr_port(&addr);
    assert(port > 0);
    static int accepted = 0;
    int srv = go(server(l, 2, &accepted));
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/chat?room=1", port);
    roundtrip(url, NULL);
    /* A client that connects and never speaks does not block others. */
    int silent = go(silent_client(port));
    snprintf(url, sizeof(url), "ws://localhost:%d/chat?room=1", port);
    roundtrip(url, NULL);
    errno_assert(bundle_wait(srv, now() + 5000) == 0);
    assert(accepted == 2);
    hclose(srv);
    /* Accept with a deadline and nothing coming. */
    assert_err(ws_accept(l, NULL, 0, NULL, now() + 20), ETIMEDOUT);
    assert_err(ws_accept(srv, NULL, 0, NULL, 0), EBADF);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    assert_err(ws_accept(ch[0], NULL, 0, NULL, 0), ENOTSUP);
    hclose(ch[0]);
    hclose(ch[1]);
    /* Closing the listener with a handshake in progress. */
    errno_assert(hclose(l) == 0);
    /* A listener whose check refuses: EACCES with the answer reported. */
    struct ws_options refuse = WS_OPTIONS_INIT;
    refuse.check = deny;
    struct ws_listen_options rlo = WS_LISTEN_OPTIONS_INIT;
    rlo.ws = &refuse;
    struct ipaddr raddr;
    errno_assert(ipaddr_local(&raddr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int rl = ws_listen(&raddr, &rlo);
    errno_assert(rl >= 0);
    struct ws_response resp = WS_RESPONSE_INIT;
    struct ws_options co_ws = WS_OPTIONS_INIT;
    co_ws.response = &resp;
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", ipaddr_port(&raddr));
    assert_err(ws_connect(url, &co_ws, NULL, now() + 5000), EACCES);
    assert(resp.status == 401 && strcmp(resp.reason, "Unauthorized") == 0);
    assert(resp.step == WS_STEP_HANDSHAKE);
    /* Header lines that would change the handshake: EINVAL there too. */
    co_ws.headers = "Upgrade: h2c";
    assert_err(ws_connect(url, &co_ws, NULL, now() + 5000), EINVAL);
    assert(resp.step == WS_STEP_HANDSHAKE && resp.status == 0);
    co_ws.headers = NULL;
    errno_assert(hclose(rl) == 0);
    hclose(silent);
    /* Nobody listens there any more. */
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", port);
    assert_err(ws_connect(url, &co_ws, NULL, now() + 2000), ECONNREFUSED);
    assert(resp.step == WS_STEP_CONNECT);

#if !defined DILL_DISABLE_TLS
    /* wss: listener with a TLS context, client verifying the chain. */
    makecerts();
    struct tls_server_options so = TLS_SERVER_OPTIONS_INIT;
    so.cert_file = path("srv.crt");
    so.key_file = path("srv.key");
    struct tls_server_ctx *ctx = tls_server_ctx_new(&so);
    errno_assert(ctx != NULL);
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    lo.tls = ctx;
    lo.handshake_timeout = 2000;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    l = ws_listen(&addr, &lo);
    errno_assert(l >= 0);
    port = ipaddr_port(&addr);
    accepted = 0;
    srv = go(server(l, 2, &accepted));
    struct tls_client_options co = TLS_CLIENT_OPTIONS_INIT;
    co.ca_file = path("ca.crt");
    snprintf(url, sizeof(url), "wss://localhost:%d/chat?room=1", port);
    roundtrip(url, &co);
    snprintf(url, sizeof(url), "wss://127.0.0.1:%d/chat?room=1", port);
    roundtrip(url, &co);
    /* The system store does not know our CA: verification fails, and
       the step says it was TLS, not a refused upgrade. */
    assert_err(ws_connect(url, &co_ws, NULL, now() + 5000), EACCES);
    assert(resp.step == WS_STEP_TLS && resp.status == 0);
    char whyv[256];
    assert(tls_last_error(whyv, sizeof(whyv)) > 0);
    assert(strstr(whyv, "verif"));
    /* Wrong name for the certificate. */
    co.server_name = "example.com";
    assert_err(ws_connect(url, NULL, &co, now() + 5000), EACCES);
    char why[256];
    assert(tls_last_error(why, sizeof(why)) > 0);
    assert(strstr(why, "hostname mismatch"));
    /* wss to a plain ws server, and ws to a wss server: EPROTO both,
       one at the TLS step, the other at the handshake. */
    co.server_name = NULL;
    errno_assert(ipaddr_local(&raddr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    rl = ws_listen(&raddr, NULL);
    errno_assert(rl >= 0);
    snprintf(url, sizeof(url), "wss://127.0.0.1:%d/", ipaddr_port(&raddr));
    int rc = ws_connect(url, &co_ws, &co, now() + 5000);
    assert(rc < 0 && resp.step == WS_STEP_TLS);
    errno_assert(hclose(rl) == 0);
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", port);
    rc = ws_connect(url, &co_ws, NULL, now() + 5000);
    assert(rc < 0 && resp.step == WS_STEP_HANDSHAKE && resp.status == 0);
    /* Success clears the step of an earlier failure. */
    snprintf(url, sizeof(url), "wss://localhost:%d/chat?room=1", port);
    int ok = ws_connect(url, &co_ws, &co, now() + 5000);
    errno_assert(ok >= 0);
    assert(resp.step == 0 && resp.status == 101);
    hclose(ok);
    errno_assert(bundle_wait(srv, now() + 5000) == 0);
    assert(accepted == 2);
    hclose(srv);
    hclose(l);
    tls_server_ctx_free(ctx);
    tmpdir_remove();
#endif
    return 0;
}
