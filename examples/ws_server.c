/* ws_server: a WebSocket echo server written the way a production server
   should be.

   - ws_listen() runs the TLS and WebSocket handshakes in the background,
     each bounded in time, so a slow or hostile client delays nobody.
   - Every message is echoed piece by piece with ws_recv_part() and
     ws_send_part() through a 16 KiB buffer, so a connection never holds
     more than that, whatever the message size; messages over 1 MiB are
     refused by the library itself (Close 1009, EMSGSIZE).
   - Keepalive pings drop clients that vanished without closing.
   - SIGINT or SIGTERM: stop accepting, send every client a Close 1001
     ("going away"), wait up to 5 s for them to answer, exit 0.
   - SIGHUP (with --cert/--key): load the certificate again and use it for
     new connections, without dropping the open ones.
   - Connections idle for 10 s hibernate (hibernate(3)): their coroutines
     give their stack pages back, keeping only the bytes in use, and a
     wss connection frees its cipher contexts too.

   Usage: ws_server [--cert chain.pem --key key.pem] [port]
   (port 0 picks a free one; the URL is printed on the first line) */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>

#include <libdill.h>

#define MAX_MESSAGE (1024 * 1024)

coroutine static void echo(int s) {
    char buf[16384];
    while(1) {
        int flags;
        ssize_t n = ws_recv_part(s, &flags, buf, sizeof(buf), -1);
        /* EPIPE: the client closed (or answered our shutdown); EMSGSIZE:
           the message passed MAX_MESSAGE and the library sent 1009;
           ETIMEDOUT: keepalive got no pong; ECANCELED: we are stopping. */
        if(n < 0) break;
        if(ws_send_part(s, flags, buf, (size_t)n, now() + 30000) < 0) break;
    }
    hclose(s);
}

coroutine static void acceptor(int listener, int workers) {
    while(1) {
        int s = ws_accept(listener, NULL, 0, NULL, -1);
        if(s < 0) {
            if(errno == ECANCELED || errno == EPIPE) return;
            continue;   /* EMSGSIZE: that client's path was too long */
        }
        if(bundle_go(workers, echo(s)) < 0) hclose(s);   /* ENOMEM */
    }
}

#if !defined DILL_DISABLE_TLS
static struct tls_server_ctx *load_tls(const char *cert, const char *key) {
    struct tls_server_options o = TLS_SERVER_OPTIONS_INIT;
    o.cert_file = cert;
    o.key_file = key;
    return tls_server_ctx_new(&o);
}
#endif

int main(int argc, char *argv[]) {
    const char *cert = NULL, *key = NULL;
    int port = 8080;
    for(int i = 1; i < argc; i++) {
        if(!strcmp(argv[i], "--cert") && i + 1 < argc) cert = argv[++i];
        else if(!strcmp(argv[i], "--key") && i + 1 < argc) key = argv[++i];
        else port = atoi(argv[i]);
    }
    /* Signals arrive on a descriptor that the main coroutine waits on. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    int sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if(sfd < 0) {perror("signalfd"); return 1;}

    struct ws_options wo = WS_OPTIONS_INIT;
    wo.max_message = MAX_MESSAGE;
    wo.ping_interval = 30000;
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    lo.ws = &wo;
    lo.handshake_timeout = 10000;
    lo.backlog = 512;
#if !defined DILL_DISABLE_TLS
    if(cert && key) {
        lo.tls = load_tls(cert, key);
        if(!lo.tls) {perror("certificate"); return 1;}
    }
#endif
    struct ipaddr addr;
    ipaddr_local(&addr, "127.0.0.1", port, 0);
    int listener = ws_listen(&addr, &lo);
    if(listener < 0) {perror("ws_listen"); return 1;}
#if !defined DILL_DISABLE_TLS
    if(lo.tls) tls_server_ctx_free(lo.tls);   /* the listener has its own */
#endif
    printf("listening on %s://127.0.0.1:%d/\n", lo.tls ? "wss" : "ws",
        ipaddr_port(&addr));
    fflush(stdout);

    /* Idle connections cost ~1-2 KiB each instead of the stack pages
       their last message touched; waking one costs a few microseconds. */
    if(hibernate(10000) < 0) {perror("hibernate"); return 1;}
    int workers = bundle();
    int acc = go(acceptor(listener, workers));
    if(workers < 0 || acc < 0) {perror("go"); return 1;}
    while(1) {
        if(fdin(sfd, -1) < 0) {perror("fdin"); return 1;}
        struct signalfd_siginfo si;
        if(read(sfd, &si, sizeof(si)) != sizeof(si)) continue;
        if(si.ssi_signo != SIGHUP) break;
#if !defined DILL_DISABLE_TLS
        if(!cert) continue;
        struct tls_server_ctx *ctx = load_tls(cert, key);
        if(!ctx) {
            /* A bad new file must not stop the server: keep the old one. */
            fprintf(stderr, "reload failed: %s\n", strerror(errno));
            continue;
        }
        ws_listen_set_tls(listener, ctx);
        tls_server_ctx_free(ctx);
        fprintf(stderr, "certificate reloaded\n");
#endif
    }
    /* Graceful shutdown. */
    hclose(acc);
    int rc = ws_listen_shutdown(listener, 1001, "going away", 10,
        now() + 5000);
    if(rc < 0 && errno == ETIMEDOUT)
        fprintf(stderr, "clients that did not answer are dropped\n");
    hclose(workers);   /* cancels whoever is left */
    hclose(listener);
    return 0;
}
