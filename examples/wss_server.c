/* wss_server: a WebSocket echo server over TLS (wss://).

   The layers stack: tcp_accept() gives a TCP socket, tls_attach_server_ctx()
   puts TLS on it, ws_attach_server() puts WebSocket on the TLS socket.  The
   certificate and key are loaded once, into a server context shared by all
   connections.

   Usage: wss_server cert.pem key.pem [port [seconds]]
   Make a throw-away certificate:
     openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem \
       -days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost
   Try it: echo hi | dillws --cacert cert.pem wss://localhost:8443/ */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdill.h>

static struct tls_server_ctx *ctx;

coroutine static void serve(int s) {
    int64_t deadline = now() + 10000;    /* for both handshakes */
    s = tls_attach_server_ctx(s, ctx, NULL, deadline);
    if(s < 0) return;                    /* not TLS, or refused */
    char resource[256], host[256];
    int ws = ws_attach_server(s, WS_TEXT, resource, sizeof(resource), host,
        sizeof(host), deadline);
    if(ws < 0) return;
    char *buf = malloc(1 << 20);
    while(buf) {
        int type;
        ssize_t n = ws_recv(ws, &type, buf, 1 << 20, -1);
        if(n < 0) break;
        if(ws_send(ws, type, buf, (size_t)n, -1) < 0) break;
    }
    free(buf);
    hclose(ws);                          /* closes TLS and TCP too */
}

int main(int argc, char *argv[]) {
    if(argc < 3) {
        fprintf(stderr, "usage: wss_server cert.pem key.pem [port [secs]]\n");
        return 2;
    }
    struct tls_server_options o = TLS_SERVER_OPTIONS_INIT;
    o.cert_file = argv[1];
    o.key_file = argv[2];
    ctx = tls_server_ctx_new(&o);
    if(!ctx) {perror("tls_server_ctx_new"); return 1;}
    int port = argc > 3 ? atoi(argv[3]) : 8443;
    int64_t deadline = argc > 4 ? now() + atoi(argv[4]) * 1000 : -1;
    struct ipaddr addr;
    ipaddr_local(&addr, "127.0.0.1", port, 0);
    int ls = tcp_listen(&addr, 512);
    if(ls < 0) {perror("tcp_listen"); return 1;}
    printf("listening on wss://127.0.0.1:%d/\n", ipaddr_port(&addr));
    fflush(stdout);
    int b = bundle();
    while(1) {
        int s = tcp_accept(ls, NULL, deadline);
        if(s < 0) {
            /* Out of descriptors or memory for a moment (a burst of
               clients): back off and keep serving; users already connected
               stay connected. */
            if(errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
               errno == ENOMEM) {
                msleep(now() + 100);
                continue;
            }
            break;
        }
        if(bundle_go(b, serve(s)) < 0) hclose(s);
    }
    hclose(b);
    hclose(ls);
    tls_server_ctx_free(ctx);
    return 0;
}
