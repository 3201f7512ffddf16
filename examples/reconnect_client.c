/* reconnect_client: a WebSocket client that stays connected.

   It sends "ping N" every half second and prints the echoes.  When the
   server is not there, or the connection breaks, it tries again after a
   pause that doubles on every failure (100 ms, 200 ms, ... up to 5 s), with
   some random jitter so that many clients restarted together do not all
   come back at the same instant.  A successful connection resets the pause.

   ws_connect() (a dill extension) does all of connecting in one call: it
   parses the URL, resolves the host, connects, adds TLS for wss:// (with
   certificate checks) and performs the WebSocket handshake.

   With --listen it does not ping: it prints every message it receives
   ("msg: ...") and, after every (re)connection, sends the --hello text
   if there is one.  That is how a client of a broadcast service behind a
   load balancer survives the death of its server: it comes back through
   the balancer to another server and subscribes again (with dillws
   --broadcast, being connected is the subscription; with other services
   the hello would name the topics).  Messages published while it was away
   are missed: publish/subscribe keeps nothing.

   Usage: reconnect_client url [seconds] [--listen] [--hello TEXT]
   Try it: reconnect_client ws://127.0.0.1:8080/ & ws_echo_server 8080 5
   (start it first; stop and restart the server and watch it come back). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdill.h>

static int listen_only;
static const char *hello;

/* --listen: prints what arrives until the connection fails or the end
   comes.  Returns as talk. */
static int listen_ws(int ws, int64_t end) {
    if(hello && ws_send(ws, WS_TEXT, hello, strlen(hello), now() + 2000) < 0)
        return -1;
    while(1) {
        char buf[4096];
        int type;
        ssize_t r = ws_recv(ws, &type, buf, sizeof(buf), end);
        if(r < 0) return errno == ETIMEDOUT ? 0 : -1;
        printf("msg: %.*s\n", (int)r, buf);
        fflush(stdout);
    }
}

/* Talks until the connection fails or the end comes.  Returns 0 at the
   end, -1 when the connection was lost. */
static int talk(int ws, int64_t end, int *seq) {
    while(end < 0 || now() < end) {
        char msg[32], buf[256];
        int n = snprintf(msg, sizeof(msg), "ping %d", ++*seq);
        if(ws_send(ws, WS_TEXT, msg, (size_t)n, now() + 2000) < 0) return -1;
        int type;
        ssize_t r = ws_recv(ws, &type, buf, sizeof(buf), now() + 2000);
        if(r < 0) return -1;
        printf("echo: %.*s\n", (int)r, buf);
        fflush(stdout);
        msleep(now() + 500);
    }
    return 0;
}

int main(int argc, char *argv[]) {
    const char *url = NULL;
    int64_t end = -1;
    for(int i = 1; i < argc; i++) {
        if(!strcmp(argv[i], "--listen")) listen_only = 1;
        else if(!strcmp(argv[i], "--hello") && i + 1 < argc) hello = argv[++i];
        else if(!url) url = argv[i];
        else end = now() + atoi(argv[i]) * 1000;
    }
    if(!url) {
        fprintf(stderr, "usage: reconnect_client url [seconds] [--listen] "
            "[--hello TEXT]\n");
        return 2;
    }
    struct ws_options o = WS_OPTIONS_INIT;
    o.flags = WS_TEXT;
    int64_t pause = 100;
    int seq = 0, attempt = 0;
    while(end < 0 || now() < end) {
        attempt++;
        int ws = ws_connect(url, &o, NULL, now() + 3000);
        if(ws < 0 && errno == EINVAL) {
            fprintf(stderr, "reconnect_client: bad URL %s\n", url);
            return 2;
        }
        const char *what = "attempt failed";
        int err = errno;
        if(ws >= 0) {
            printf("connected (attempt %d)\n", attempt);
            pause = 100;
            fflush(stdout);
            int rc = listen_only ? listen_ws(ws, end) : talk(ws, end, &seq);
            err = errno;
            if(rc == 0) ws_done(ws, 1000, NULL, 0, now() + 1000);
            hclose(ws);
            if(rc == 0) break;
            what = "connection lost";
        }
        /* Jitter: between 75% and 125% of the pause. */
        int64_t wait = pause * (75 + rand() % 51) / 100;
        printf("%s (%s), retrying in %lld ms\n", what, strerror(err),
            (long long)wait);
        fflush(stdout);
        msleep(now() + wait);
        pause = pause * 2 > 5000 ? 5000 : pause * 2;
    }
    return 0;
}
