/* tutorial_2_tcp_echo: step 2 of docs/tutorial.md.

   A TCP echo server: tcp_listen(), tcp_accept(), and one coroutine per
   connection in a bundle.  A client that stays silent for 10 seconds is
   disconnected by the deadline on brecv().  When the server stops,
   hclose() on the bundle cancels every connection at once.

   Usage: tutorial_2_tcp_echo [port [seconds]]
   Try it: nc 127.0.0.1 5555 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libdill.h>

coroutine static void serve(int s) {
    while(1) {
        char c;
        /* Byte by byte keeps the example short; see brecvl(3) for more. */
        if(brecv(s, &c, 1, now() + 10000) < 0) break;   /* idle or gone */
        if(bsend(s, &c, 1, now() + 10000) < 0) break;
    }
    hclose(s);
}

int main(int argc, char *argv[]) {
    int port = argc > 1 ? atoi(argv[1]) : 5555;
    int64_t deadline = argc > 2 ? now() + atoi(argv[2]) * 1000 : -1;
    struct ipaddr addr;
    ipaddr_local(&addr, "127.0.0.1", port, 0);
    int ls = tcp_listen(&addr, 512);
    if(ls < 0) {perror("tcp_listen"); return 1;}
    printf("listening on 127.0.0.1:%d/\n", ipaddr_port(&addr));
    fflush(stdout);
    int b = bundle();
    while(1) {
        int s = tcp_accept(ls, NULL, deadline);
        if(s < 0) {
            /* Out of descriptors or memory for a moment: back off and go
               on serving.  Anything else (ETIMEDOUT) ends the loop. */
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
    return 0;
}
