/* ws_echo_client: sends each argument as a text message to a WebSocket
   server and prints what comes back.

   tcp_connect() opens the connection, ws_attach_client() performs the HTTP
   upgrade on top of it.  At the end ws_done() sends a Close frame; the
   server answers with its own, which makes ws_recv() fail with EPIPE, and
   ws_status() tells the status the server sent.

   Usage: ws_echo_client host port [message...]
   Try it against: ws_echo_server 8080 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdill.h>

int main(int argc, char *argv[]) {
    if(argc < 3) {
        fprintf(stderr, "usage: ws_echo_client host port [message...]\n");
        return 2;
    }
    int64_t deadline = now() + 10000;
    struct ipaddr addr;
    if(ipaddr_remote(&addr, argv[1], atoi(argv[2]), 0, deadline) < 0) {
        perror("ipaddr_remote");
        return 1;
    }
    int s = tcp_connect(&addr, deadline);
    if(s < 0) {perror("tcp_connect"); return 1;}
    char host[300];
    snprintf(host, sizeof(host), "%s:%s", argv[1], argv[2]);
    int ws = ws_attach_client(s, WS_TEXT, "/", host, deadline);
    if(ws < 0) {perror("ws_attach_client"); return 1;}
    for(int i = 3; i < argc; i++) {
        char buf[4096];
        int type;
        if(ws_send(ws, WS_TEXT, argv[i], strlen(argv[i]), deadline) < 0) {
            perror("ws_send");
            return 1;
        }
        ssize_t n = ws_recv(ws, &type, buf, sizeof(buf), deadline);
        if(n < 0) {perror("ws_recv"); return 1;}
        printf("%.*s\n", (int)n, buf);
    }
    /* Closing handshake: our Close frame, then the server's answer. */
    ws_done(ws, 1000, "bye", 3, deadline);
    char buf[256];
    int type, status;
    while(ws_recv(ws, &type, buf, sizeof(buf), deadline) >= 0) {}
    if(errno == EPIPE && ws_status(ws, &status, NULL, 0) >= 0)
        fprintf(stderr, "closed with status %d\n", status);
    hclose(ws);
    return 0;
}
