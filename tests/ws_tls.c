/* WebSocket over TLS over TCP (wss): handshake, messages of every length
   encoding both ways, pings, fragmented messages, closing handshake and
   detaching down to the TLS socket. */

#include <stdio.h>
#include <unistd.h>

#include "wstest.h"

#if defined DILL_DISABLE_TLS
int main(void) {
    return 0;
}
#else

static char dir[64], cert[128], key[128];

static void makecert(void) {
    strcpy(dir, "/tmp/dill-wstls-XXXXXX");
    assert(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/c.pem", dir);
    snprintf(key, sizeof(key), "%s/k.pem", dir);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
        "ec_paramgen_curve:P-256 -nodes -keyout %s -out %s -subj "
        "/CN=localhost -days 1 >/dev/null 2>&1", key, cert);
    assert(system(cmd) == 0);
}

static void rmcert(void) {
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

coroutine static void server(int ls, int ch) {
    int s = tcp_accept(ls, NULL, now() + 5000);
    errno_assert(s >= 0);
    s = tls_attach_server(s, cert, key, now() + 5000);
    errno_assert(s >= 0);
    char res[64], host[64];
    s = ws_attach_server(s, 0, res, sizeof(res), host, sizeof(host),
        now() + 5000);
    errno_assert(s >= 0);
    assert(strcmp(res, "/secure") == 0);
    errno_assert(chsend(ch, &s, sizeof(s), -1) == 0);
}

coroutine static void sender(int s, const uint8_t *p, size_t n) {
    errno_assert(ws_send(s, WS_BINARY, p, n, now() + 10000) == 0);
}

coroutine static void detacher(int s, int ch) {
    int u = ws_detach(s, 1000, NULL, 0, now() + 5000);
    errno_assert(u >= 0);
    /* The server closed TLS and TCP first; close our TLS side. */
    errno_assert(hclose(u) == 0);
    errno_assert(chsend(ch, &u, sizeof(u), -1) == 0);
}

/* A TLS peer that speaks WebSocket by hand: a Close frame and raw bytes in
   one record, then it waits for the client's Close. */
coroutine static void raw_closer(int ls) {
    int s = tcp_accept(ls, NULL, now() + 5000);
    errno_assert(s >= 0);
    s = tls_attach_server(s, cert, key, now() + 5000);
    errno_assert(s >= 0);
    uint8_t f[16];
    size_t n = dill__ws_build_frame(f, 1, DILL__WS_CLOSE, 0, NULL,
        "\x03\xe8", 2);
    memcpy(f + n, "RAW", 3);
    errno_assert(bsend(s, f, n + 3, now() + 5000) == 0);
    uint8_t in[16];
    errno_assert(brecv(s, in, 8, now() + 5000) == 0);  /* masked Close */
    assert((in[0] & 0x0f) == DILL__WS_CLOSE);
    errno_assert(hclose(s) == 0);
}

/* Bytes that arrived with the peer's Close cannot go back into a TLS
   socket: ws_detach fails with ENOTSUP and closes everything. */
static void test_handback(int ls, struct ipaddr *addr) {
    int cr = go(raw_closer(ls));
    int c = tcp_connect(addr, now() + 5000);
    errno_assert(c >= 0);
    c = tls_attach_client(c, now() + 5000);
    errno_assert(c >= 0);
    c = ws_attach_client(c, WS_NOHTTP, NULL, NULL, now() + 5000);
    errno_assert(c >= 0);
    char buf[16];
    int flags;
    assert_err(ws_recv(c, &flags, buf, sizeof(buf), now() + 5000), EPIPE);
    assert_err(ws_detach(c, 1000, NULL, 0, now() + 5000), ENOTSUP);
    assert_err(hclose(c), EBADF);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    errno_assert(hclose(cr) == 0);
}

int main(void) {
    makecert();
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&addr, 10);
    errno_assert(ls >= 0);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int cr = go(server(ls, ch[1]));
    int c = tcp_connect(&addr, now() + 5000);
    errno_assert(c >= 0);
    c = tls_attach_client(c, now() + 5000);
    errno_assert(c >= 0);
    c = ws_attach_client(c, 0, "/secure", "localhost", now() + 5000);
    errno_assert(c >= 0);
    int s;
    errno_assert(chrecv(ch[0], &s, sizeof(s), now() + 5000) == 0);
    errno_assert(hclose(cr) == 0);

    static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 1 << 20};
    uint8_t *pat = malloc(1 << 20), *buf = malloc(1 << 20);
    for(size_t i = 0; i != (1 << 20); i++) pat[i] = (uint8_t)(i * 7 + 3);
    for(size_t i = 0; i != sizeof(sizes) / sizeof(sizes[0]); i++) {
        for(int dir = 0; dir != 2; dir++) {
            int from = dir ? s : c, to = dir ? c : s;
            errno_assert(ws_ping(from, "p", 1, -1) == 0);
            cr = go(sender(from, pat, sizes[i]));
            int flags;
            assert(ws_recv(to, &flags, buf, 1 << 20, now() + 5000) ==
                (ssize_t)sizes[i]);
            assert(flags == WS_BINARY && memcmp(buf, pat, sizes[i]) == 0);
            errno_assert(hclose(cr) == 0);
        }
    }
    errno_assert(ws_send_part(c, WS_TEXT | WS_MORE, "wss ", 4, -1) == 0);
    errno_assert(ws_send_part(c, 0, "works", 5, -1) == 0);
    int flags;
    assert(ws_recv(s, &flags, buf, 100, now() + 2000) == 9);
    assert(flags == WS_TEXT && memcmp(buf, "wss works", 9) == 0);

    /* Closing: the client detaches; the server answers, detaches and
       closes TLS and TCP first. */
    cr = go(detacher(c, ch[1]));
    assert_err(ws_recv(s, &flags, buf, 100, now() + 2000), EPIPE);
    int u = ws_detach(s, 1000, NULL, 0, now() + 2000);
    errno_assert(u >= 0);
    errno_assert(tls_done(u, now() + 2000) == 0);
    errno_assert(hclose(u) == 0);
    int cu;
    errno_assert(chrecv(ch[0], &cu, sizeof(cu), now() + 5000) == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    test_handback(ls, &addr);
    errno_assert(hclose(ls) == 0);
    free(pat);
    free(buf);
    rmcert();
    return 0;
}

#endif
