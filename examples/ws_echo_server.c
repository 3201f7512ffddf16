/* ws_echo_server: a WebSocket echo server.

   Every accepted connection gets its own coroutine, all of them in one
   bundle.  ws_attach_server() performs the HTTP upgrade; then every message
   (text or binary) is sent back as it came.  Closing the bundle at the end
   cancels every connection at once.

   Usage: ws_echo_server [port [seconds]]
   (port 0 picks a free port; without seconds it runs until interrupted)
   Try it: ws_echo_client 127.0.0.1 8080 hello world */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdill.h>

coroutine static void serve(int s) {
    char resource[256], host[256];
    int ws = ws_attach_server(s, WS_TEXT, resource, sizeof(resource), host,
        sizeof(host), now() + 10000);
    if(ws < 0) return;             /* not a WebSocket client; s is closed */
    char buf[65536];               /* coroutine stacks are 256 KiB */
    while(1) {
        int type;
        ssize_t n = ws_recv(ws, &type, buf, sizeof(buf), -1);
        if(n < 0 && errno == EMSGSIZE) {
            /* Bigger than we echo (the library has read and dropped it):
               tell the client why with 1009, and wait a little for its
               answering Close so that it surely gets ours.  ws_recv_part()
               would echo messages of any size instead: see ws_server.c. */
            ws_done(ws, 1009, "message too big", 15, now() + 1000);
            while(ws_recv(ws, &type, buf, sizeof(buf), now() + 3000) >= 0) {}
            break;
        }
        if(n < 0) break;           /* EPIPE: the client closed */
        if(ws_send(ws, type, buf, (size_t)n, -1) < 0) break;
    }
    hclose(ws);
}

int main(int argc, char *argv[]) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    int64_t deadline = argc > 2 ? now() + atoi(argv[2]) * 1000 : -1;
    struct ipaddr addr;
    ipaddr_local(&addr, "127.0.0.1", port, 0);
    int ls = tcp_listen(&addr, 512);
    if(ls < 0) {perror("tcp_listen"); return 1;}
    printf("listening on ws://127.0.0.1:%d/\n", ipaddr_port(&addr));
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
            break;                   /* ETIMEDOUT when the time is up */
        }
        if(bundle_go(b, serve(s)) < 0) hclose(s);
    }
    hclose(b);
    hclose(ls);
    return 0;
}
