/* ws_chat: a chat server.  One port serves both the chat page (GET /) and
   the WebSocket behind it (GET /ws).

   Each connection gets a coroutine that reads the HTTP request with the
   HTTP layer (http_attach, http_recvrequest, http_recvfield).  A request for
   the page is answered with the page.  An upgrade request on /ws is answered
   here too: 101 with Sec-WebSocket-Accept computed by ws_response_key();
   then http_detach() gives the socket back and ws_attach_server(...,
   WS_NOHTTP) starts WebSocket framing on it, without a second handshake.

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

#define _GNU_SOURCE          /* strcasestr */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static void chat(int ws, const char *name) {
    static int guests;
    char who[40];
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
/*  HTTP: the page, or the upgrade to WebSocket                               */
/******************************************************************************/

/* The checks of RFC 6455 section 4.2.1 that ws_attach_server makes when it
   reads the request itself, with its limits: this server reads the request
   with the HTTP layer because the same port also serves the page. */
#define MAXFIELDS 64

struct request {
    char method[16];
    char target[512];
    int fields, hosts, upgrade, connection, keys, versions, version13, body;
    char key[64];
};

/* Reads the request head.  Returns 0, an HTTP status to refuse it with
   (431: a line or the number of lines is over the limit), or -1 when the
   connection broke. */
static int read_request(int h, struct request *r, int64_t deadline) {
    memset(r, 0, sizeof(*r));
    if(http_recvrequest(h, r->method, sizeof(r->method), r->target,
       sizeof(r->target), deadline) < 0)
        return errno == EMSGSIZE ? 431 : errno == EPROTO ? 400 : -1;
    while(1) {
        /* The HTTP layer's lines are at most 1,232 bytes: a value buffer
           that big fails only for lines over that limit. */
        char name[256], value[1240];
        if(http_recvfield(h, name, sizeof(name), value, sizeof(value),
           deadline) < 0) {
            if(errno == EPIPE) return 0;     /* end of the head */
            return errno == EMSGSIZE ? 431 : errno == EPROTO ? 400 : -1;
        }
        if(++r->fields > MAXFIELDS) return 431;
        if(!strcasecmp(name, "Host")) r->hosts++;
        else if(!strcasecmp(name, "Upgrade"))
            r->upgrade |= !strcasecmp(value, "websocket");
        else if(!strcasecmp(name, "Connection"))
            r->connection |= strcasestr(value, "upgrade") != NULL;
        else if(!strcasecmp(name, "Sec-WebSocket-Version"))
            r->versions++, r->version13 = !strcmp(value, "13");
        else if(!strcasecmp(name, "Sec-WebSocket-Key"))
            r->keys++, snprintf(r->key, sizeof(r->key), "%.63s", value);
        /* A body would be read as frames, and two framings of one request
           are how smuggling gets past a proxy (RFC 9112, 6.3). */
        else if(!strcasecmp(name, "Transfer-Encoding") ||
                (!strcasecmp(name, "Content-Length") && strcmp(value, "0")))
            r->body = 1;
    }
}

/* The status for an upgrade request (0: upgrade it). */
static int check_upgrade(const struct request *r) {
    if(strcmp(r->method, "GET")) return 405;
    if(r->hosts != 1 || !r->upgrade || !r->connection || r->keys != 1 ||
       r->body)
        return 400;
    if(r->versions != 1 || !r->version13) return 426;
    return 0;
}

/* Sends a complete response with a body and closes the connection.  A 426
   names the version we speak (RFC 6455, 4.4). */
static void respond(int h, int status, const char *reason, const char *type,
      const char *body, int64_t deadline) {
    char len[24];
    snprintf(len, sizeof(len), "%zu", strlen(body));
    if(http_sendstatus(h, status, reason, deadline) < 0 ||
       (status == 426 &&
        (http_sendfield(h, "Upgrade", "websocket", deadline) < 0 ||
         http_sendfield(h, "Sec-WebSocket-Version", "13", deadline) < 0)) ||
       http_sendfield(h, "Content-Type", type, deadline) < 0 ||
       http_sendfield(h, "Content-Length", len, deadline) < 0 ||
       http_sendfield(h, "Connection", status == 426 ? "Upgrade, close" :
           "close", deadline) < 0 ||
       http_done(h, deadline) < 0) {
        hclose(h);
        return;
    }
    int s = http_detach(h, deadline);
    if(s < 0) return;
    bsend(s, body, strlen(body), deadline);
#if !defined DILL_DISABLE_TLS
    if(cert) tls_done(s, deadline);
#endif
    hclose(s);
}

static void refuse(int h, int status, int64_t deadline) {
    respond(h, status, status == 405 ? "Method Not Allowed" :
        status == 426 ? "Upgrade Required" :
        status == 431 ? "Request Header Fields Too Large" : "Bad Request",
        "text/plain", status == 426 ? "this server speaks WebSocket 13\n" :
        "this is a WebSocket endpoint\n", deadline);
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

coroutine static void connection(int s) {
    int64_t deadline = now() + 10000;    /* for the HTTP part */
#if !defined DILL_DISABLE_TLS
    if(cert && (s = tls_attach_server(s, cert, key, deadline)) < 0) return;
#endif
    int h = http_attach(s);
    if(h < 0) {hclose(s); return;}
    struct request r;
    int status = read_request(h, &r, deadline);
    if(status < 0) {hclose(h); return;}
    if(status) {
        refuse(h, status, deadline);
        return;
    }
    size_t plen = strcspn(r.target, "?");
    int get = !strcmp(r.method, "GET");
    if(get && (!strcmp(r.target, "/") || !strncmp(r.target, "/?", 2))) {
        respond(h, 200, "OK", "text/html; charset=utf-8", page, deadline);
        return;
    }
    if(plen != 3 || strncmp(r.target, "/ws", 3)) {
        respond(h, 404, "Not Found", "text/plain", "not found\n", deadline);
        return;
    }
    if((status = check_upgrade(&r))) {
        refuse(h, status, deadline);
        return;
    }
    char accept[WS_KEY_SIZE];
    if(ws_response_key(r.key, accept) < 0) {
        respond(h, 400, "Bad Request", "text/plain", "bad key\n", deadline);
        return;
    }
    if(http_sendstatus(h, 101, "Switching Protocols", deadline) < 0 ||
       http_sendfield(h, "Upgrade", "websocket", deadline) < 0 ||
       http_sendfield(h, "Connection", "Upgrade", deadline) < 0 ||
       http_sendfield(h, "Sec-WebSocket-Accept", accept, deadline) < 0 ||
       http_done(h, deadline) < 0) {
        hclose(h);
        return;
    }
    s = http_detach(h, deadline);
    if(s < 0) return;
    /* The handshake is done: frames from here on. */
    /* Keepalive ends the receiving loop of a client that stopped
       answering, and sends to one that stopped reading. */
    struct ws_options o = WS_OPTIONS_INIT;
    o.flags = WS_TEXT | WS_NOHTTP;
    o.ping_interval = 30000;
    int ws = ws_attach_server_opts(s, NULL, 0, NULL, 0, &o, NULL, -1);
    if(ws < 0) return;
    char name[24];
    name_from(r.target, name, sizeof(name));
    chat(ws, name);
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
    int ls = tcp_listen(&addr, 512);
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
            break;              /* ETIMEDOUT: --seconds elapsed */
        }
        if(bundle_go(b, connection(s)) < 0) hclose(s);
    }
    hclose(b);               /* cancels every connection */
    hub_free(room);
    hclose(ls);
    printf("ws_chat: stopped\n");
    return 0;
}
