/* WebSocket echo server, one coroutine per connection.

   Usage: wsecho [port]   (default 8080; try it from a browser console:
   s = new WebSocket("ws://localhost:8080/"); s.onmessage = e =>
   console.log(e.data); s.onopen = () => s.send("hi");) */

#include <libdill.h>
#include <stdio.h>
#include <stdlib.h>

#define MAXMSG (1 << 20)

coroutine void serve(int s) {
    char resource[256], host[256];
    struct ws_options o = {0};
    o.max_message = MAXMSG;
    o.ping_interval = 30000;   /* drop peers that vanish silently */
    s = ws_attach_server_opts(s, resource, sizeof(resource), host,
        sizeof(host), &o, now() + 10000);
    if(s < 0) return;
    char *buf = malloc(MAXMSG);
    while(buf) {
        int flags;
        ssize_t n = ws_recv(s, &flags, buf, MAXMSG, -1);
        if(n < 0 || ws_send(s, flags, buf, (size_t)n, now() + 10000) < 0)
            break;
    }
    free(buf);
    /* Finish the closing handshake if the peer started it, then close. */
    int u = ws_detach(s, 1000, NULL, 0, now() + 1000);
    if(u >= 0) tcp_close(u, now() + 1000);
}

int main(int argc, char *argv[]) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    struct ipaddr addr;
    if(ipaddr_local(&addr, NULL, port, 0) < 0) {perror("addr"); return 1;}
    int ls = tcp_listen(&addr, 128);
    if(ls < 0) {perror("tcp_listen"); return 1;}
    int b = bundle();
    while(1) {
        int s = tcp_accept(ls, NULL, -1);
        if(s >= 0 && bundle_go(b, serve(s)) < 0) hclose(s);
    }
}
