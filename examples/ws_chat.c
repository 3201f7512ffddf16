/* ws_chat: a chat server.  One port serves both the chat page (GET /) and
   the WebSocket behind it (GET /ws).

   ws_listen does the handshakes (TLS too, with a certificate) in the
   background and ws_accept hands out the WebSockets.  Its options carry
   two callbacks: check, which sees every valid upgrade request and accepts
   only /ws, and http, which answers the requests that are not upgrades:
   the page on "/", 404 elsewhere.  The request checks of RFC 6455 and the
   limits on request heads are the library's.

   Broadcasting goes through a publish/subscribe hub (hub_make): every
   connection joins it and subscribes to the topic "chat"; what one says is
   published once and the hub's writer coroutines send it to everyone, so
   a slow browser never holds up the others (one that falls 256 KiB behind
   is disconnected with status 1008).

   With --redis URL (redis://host:port/) the hub is linked with the hubs
   of every other ws_chat using that Redis server (hub_redis(3)): run
   several behind a load balancer and the users of all of them chat
   together.

   Usage: ws_chat [--host ADDR] [--port N] [--seconds N]
                  [--tls-cert FILE --tls-key FILE] [--redis URL]
   Port 0 picks a free port.  With a certificate the server speaks https
   and wss.  Exit status 3: the port is taken. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdill.h>

static const char page[] =
"<!doctype html>\n"
"<html><head><meta charset=\"utf-8\"><title>dill chat</title>\n"
"<meta name=\"viewport\" content=\"width=device-width\">\n"
"<style>body{font:16px sans-serif;max-width:40em;margin:2em auto}\n"
"#log{border:1px solid #ccc;height:20em;overflow-y:auto;padding:.5em}\n"
".sys{color:#888}#f{display:flex;margin-top:.5em}#msg{flex:1}</style>\n"
"</head><body><h1>dill chat</h1><div id=\"log\"></div>\n"
"<form id=\"f\"><input id=\"msg\" autocomplete=\"off\" autofocus\n"
" placeholder=\"Say something\"><button>Send</button></form>\n"
"<script>\n"
"const log = document.getElementById('log');\n"
"function add(text, cls) {\n"
"  const d = document.createElement('div');\n"
"  d.textContent = text;\n"
"  if(cls) d.className = cls;\n"
"  log.appendChild(d);\n"
"  log.scrollTop = log.scrollHeight;\n"
"}\n"
"const q = new URLSearchParams(location.search);\n"
"const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' :\n"
"  'ws://') + location.host + '/ws' +\n"
"  (q.get('name') ? '?name=' + encodeURIComponent(q.get('name')) : ''));\n"
"ws.onopen = () => {\n"
"  add('connected', 'sys');\n"
"  if(q.get('say')) ws.send(q.get('say'));\n"
"};\n"
"ws.onmessage = e => add(e.data, e.data.startsWith('* ') ? 'sys' : 'msg');\n"
"ws.onclose = e => add('disconnected (' + e.code + ')', 'sys');\n"
"document.getElementById('f').onsubmit = e => {\n"
"  e.preventDefault();\n"
"  const m = document.getElementById('msg');\n"
"  if(m.value) ws.send(m.value);\n"
"  m.value = '';\n"
"};\n"
"</script></body></html>\n";

static const char *cert, *key;      /* set: https and wss */

/******************************************************************************/
/*  One chat participant                                                      */
/******************************************************************************/

static struct dill_hub *room;
static int online;

/* Publishes "<a><b>" (b of blen bytes) to everyone in the room. */
static void say(const char *a, const char *b, size_t blen) {
    char line[4096 + 64];
    int n = snprintf(line, sizeof(line), "%s%.*s", a, (int)blen, b);
    if(n < 0) return;
    if((size_t)n >= sizeof(line)) n = sizeof(line) - 1;
    hub_publish(room, "chat", WS_TEXT, line, (size_t)n, -1);
}

/* "/ws?name=bob" -> "bob", keeping letters, digits, '-' and '_'. */
static void name_from(const char *target, char *name, size_t len) {
    const char *p = strstr(target, "name=");
    size_t n = 0;
    while(p && p[5 + n] && n + 1 < len && n < 20) {
        char ch = p[5 + n];
        if(!(ch == '-' || ch == '_' || (ch >= '0' && ch <= '9') ||
             ((ch | 32) >= 'a' && (ch | 32) <= 'z'))) break;
        name[n] = ch;
        n++;
    }
    name[n] = 0;
}

/* A request target, by value to the coroutine. */
struct target {
    char s[512];
};

coroutine static void chat(int ws, struct target t) {
    static int guests;
    char name[24], who[40];
    name_from(t.s, name, sizeof(name));
    if(name[0]) snprintf(who, sizeof(who), "%s", name);
    else snprintf(who, sizeof(who), "guest-%d", ++guests);
    int sub = hub_join(room, ws);
    if(sub < 0 || hub_subscribe(sub, "chat") < 0) {
        if(sub >= 0) hclose(sub);
        hclose(ws);
        return;
    }
    char note[80];
    snprintf(note, sizeof(note), "* %s joined (%d online)", who, ++online);
    say(note, "", 0);
    char prefix[48];
    snprintf(prefix, sizeof(prefix), "%s: ", who);
    while(1) {
        char buf[4096];
        int type;
        ssize_t n = ws_recv(ws, &type, buf, sizeof(buf), -1);
        if(n < 0) break;               /* closed, broken or cancelled */
        if(type == WS_TEXT) say(prefix, buf, (size_t)n);
    }
    online--;
    /* Cancelled: the server is shutting down, nobody is left to tell. */
    if(errno != ECANCELED) {
        snprintf(note, sizeof(note), "* %s left", who);
        say(note, "", 0);
    }
    hclose(sub);
    hclose(ws);
}

/******************************************************************************/
/*  HTTP: the page beside the WebSocket                                       */
/******************************************************************************/

static int is_ws(const char *target) {
    return strcspn(target, "?") == 3 && !strncmp(target, "/ws", 3);
}

/* Upgrade requests that the library found valid: only on /ws. */
static int check(const struct ws_request *req, void *arg) {
    char target[512];
    if(ws_request_header(req, ":path", target, sizeof(target)) < 0)
        return 414;
    return is_ws(target) ? 0 : 404;
}

/* Requests that are not upgrades: the page on "/" (and "/?..."). */
static int http(const struct ws_request *req, struct ws_http_response *a,
      void *arg) {
    char method[8], target[512];
    if(ws_request_header(req, ":method", method, sizeof(method)) < 0 ||
       strcmp(method, "GET"))
        return 405;
    if(ws_request_header(req, ":path", target, sizeof(target)) < 0)
        return 414;
    if(strcmp(target, "/") && strncmp(target, "/?", 2))
        return is_ws(target) ? 400 : 404;
    a->status = 200;
    a->content_type = "text/html; charset=utf-8";
    a->body = page;
    a->len = sizeof(page) - 1;
    return 0;
}


/******************************************************************************/
/*  main                                                                      */
/******************************************************************************/

int main(int argc, char *argv[]) {
    const char *host = "127.0.0.1";
    int port = 8080;
    int64_t deadline = -1;
    const char *redis = NULL;
    for(int i = 1; i + 1 < argc; i += 2) {
        if(!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if(!strcmp(argv[i], "--host")) host = argv[i + 1];
        else if(!strcmp(argv[i], "--seconds"))
            deadline = now() + atoi(argv[i + 1]) * 1000;
        else if(!strcmp(argv[i], "--tls-cert")) cert = argv[i + 1];
        else if(!strcmp(argv[i], "--tls-key")) key = argv[i + 1];
        else if(!strcmp(argv[i], "--redis")) redis = argv[i + 1];
        else {
            fprintf(stderr, "usage: ws_chat [--host ADDR] [--port N] "
                "[--seconds N] [--tls-cert FILE --tls-key FILE] "
                "[--redis URL]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct ipaddr addr;
    if(ipaddr_local(&addr, host, port, 0) < 0) {
        perror("ipaddr_local");
        return 2;
    }
    /* Keepalive ends the receiving loop of a client that stopped
       answering, and sends to one that stopped reading. */
    struct ws_options wo = WS_OPTIONS_INIT;
    wo.flags = WS_TEXT;
    wo.ping_interval = 30000;
    wo.check = check;
    wo.http = http;
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    lo.ws = &wo;
    lo.backlog = 512;
#if !defined DILL_DISABLE_TLS
    if(cert) {
        struct tls_server_options to = TLS_SERVER_OPTIONS_INIT;
        to.cert_file = cert;
        to.key_file = key;
        lo.tls = tls_server_ctx_new(&to);
        if(!lo.tls) {perror("ws_chat: certificate"); return 1;}
    }
#endif
    int ls = ws_listen(&addr, &lo);
#if !defined DILL_DISABLE_TLS
    /* The listener holds its own reference. */
    if(lo.tls) tls_server_ctx_free(lo.tls);
#endif
    if(ls < 0) {
        fprintf(stderr, "ws_chat: cannot listen on %s:%d: %s\n", host, port,
            strerror(errno));
        return errno == EADDRINUSE ? 3 : 1;
    }
    printf("ws_chat: open %s://%s:%d/ in two browser windows and chat\n",
        cert ? "https" : "http", host, ipaddr_port(&addr));
    printf("ws_chat: or from a terminal: dillws %s://%s:%d/ws\n",
        cert ? "wss" : "ws", host, ipaddr_port(&addr));
    fflush(stdout);
    struct hub_options o = HUB_OPTIONS_INIT;
    o.max_queue = 256 * 1024;
    o.policy = HUB_CLOSE;
    o.redis = redis;            /* NULL: this process only */
    o.redis_prefix = "ws_chat:";
    room = hub_make(&o);
    if(!room) {perror("hub_make"); return 1;}
    int b = bundle();
    while(1) {
        /* The listener backs off by itself when out of descriptors. */
        struct target t;
        int ws = ws_accept(ls, t.s, sizeof(t.s), NULL, deadline);
        if(ws < 0) break;       /* ETIMEDOUT: --seconds elapsed */
        if(bundle_go(b, chat(ws, t)) < 0) hclose(ws);
    }
    hclose(b);               /* cancels every connection */
    hub_free(room);
    hclose(ls);
    printf("ws_chat: stopped\n");
    return 0;
}
