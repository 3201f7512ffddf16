/* Interop peer: our WebSocket client, driven by tests/interop_*.sh.

   Connects to ws://HOST:PORT/PATH, sends a script of messages one at a time,
   checks that each one comes back byte for byte with the same type, then
   closes and reports the Close frame the peer sent.

   Usage: ws_client [options] ws://HOST:PORT/PATH
          ws_client [options] --ca FILE wss://HOST:PORT/PATH
     -s SCRIPT  comma-separated messages: 't' (text) or 'b' (binary) and a
                size with an optional k or M suffix, e.g. "t0,b125,t1M";
                the default covers every frame length encoding:
                0 1 125 126 65535 65536 1M, text and binary
     -L         append 16 MiB messages (text and binary) to the script
     -c CODE    close with CODE after the script (default 1000) ...
     -r REASON  ... and this reason (default "done")
     -W         do not close: wait for the peer to close after the script,
                then answer with the same status
     -t SECS    deadline for the whole run (default 60)
     --ca FILE  wss only: trust the CA certificates of FILE (PEM); the
                server's certificate must match the URL's host
     --server-name NAME  wss only: check the certificate against NAME
                (also sent as SNI) instead of the URL's host
     -z BYTES   offer permessage-deflate, keeping at most BYTES of zlib
                state between messages (0: no context takeover); prints
                "DEFLATE ..." with what was agreed, or "DEFLATE off"

   A ws:// URL goes through tcp_connect and ws_attach_client_opts; a wss:// URL
   through dill_ws_connect (TLS with verification, then the handshake).

   Output, one line each: "OK <item>" per echoed message, "PEER_CLOSE <code>
   <reason>" once the peer's Close frame arrived, "ERROR <what>: <errno>" on
   failure, and finally "RESULT PASS" or "RESULT FAIL".  Exit status 0 on
   PASS. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdill.h>

#include "payload.h"

#define DEFAULT_SCRIPT "t0,b0,t1,b1,t125,b125,t126,b126,t65535,b65535," \
    "t65536,b65536,t1M,b1M"

static int64_t deadline;

static const char *errname(int err) {
    const char *n = strerrorname_np(err);
    return n ? n : "E?";
}

static int fail(const char *what) {
    printf("ERROR %s: %s\n", what, errname(errno));
    printf("RESULT FAIL\n");
    return 1;
}

/* Parses "ws://host:port/path" into its parts; path defaults to "/". */
static int parse_url(const char *url, char *host, size_t hostlen, int *port,
      const char **path) {
    if(strncmp(url, "ws://", 5) != 0) return -1;
    const char *h = url + 5;
    const char *colon = strchr(h, ':');
    if(!colon || (size_t)(colon - h) >= hostlen) return -1;
    memcpy(host, h, colon - h);
    host[colon - h] = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if(p <= 0 || p > 65535) return -1;
    *port = (int)p;
    *path = *end == '/' ? end : "/";
    return 0;
}

/* wss: TLS with the server's certificate verified against ca (or the
   system store), then the WebSocket handshake, all by dill_ws_connect. */
/* -z: offer permessage-deflate keeping at most that many bytes. */
static long zmem = -1;

static struct ws_options options(void) {
    struct ws_options o = WS_OPTIONS_INIT;
    o.flags = WS_BINARY;
    if(zmem >= 0) {
        o.deflate = WS_DEFLATE;
        o.deflate_memory = (size_t)zmem;
    }
    return o;
}

static int connect_wss(const char *url, const char *ca, const char *sni) {
    struct tls_client_options to = TLS_CLIENT_OPTIONS_INIT;
    to.ca_file = ca;
    to.server_name = sni;
    struct ws_options wo = options();
    return ws_connect(url, &wo, &to, deadline);
}

/* Parses one script item such as "t125" or "b1M". */
static int parse_item(const char *item, int *type, size_t *len) {
    if(item[0] != 't' && item[0] != 'b') return -1;
    *type = item[0] == 't' ? WS_TEXT : WS_BINARY;
    char *end;
    unsigned long long n = strtoull(item + 1, &end, 10);
    if(end == item + 1) return -1;
    if(*end == 'k') n *= 1024, end++;
    else if(*end == 'M') n *= 1024 * 1024, end++;
    if(*end) return -1;
    *len = (size_t)n;
    return 0;
}

/* Sends one message and checks its echo; 0 on success. */
static int exchange(int ws, const char *item, int seq) {
    int type;
    size_t len;
    if(parse_item(item, &type, &len) < 0) {
        printf("ERROR bad script item '%s'\n", item);
        return -1;
    }
    uint8_t *out = malloc(len + 1), *in = malloc(len + 1);
    if(!out || !in) {
        printf("ERROR out of memory for %s\n", item);
        free(out);
        free(in);
        return -1;
    }
    if(type == WS_TEXT) payload_text(out, len, seq);
    else payload_binary(out, len, seq);
    int rc = -1;
    if(ws_send(ws, type, out, len, deadline) < 0) {
        printf("ERROR send %s: %s\n", item, errname(errno));
        goto out;
    }
    int rtype;
    /* One spare byte: a longer echo fails with EMSGSIZE, not silently. */
    ssize_t n = ws_recv(ws, &rtype, in, len + 1, deadline);
    if(n < 0) {
        printf("ERROR recv %s: %s\n", item, errname(errno));
        goto out;
    }
    if(rtype != type) {
        printf("ERROR echo of %s has type %s\n", item,
            rtype == WS_TEXT ? "text" : "binary");
        goto out;
    }
    if((size_t)n != len) {
        printf("ERROR echo of %s has %zd bytes\n", item, n);
        goto out;
    }
    if(len && memcmp(in, out, len) != 0) {
        size_t i = 0;
        while(in[i] == out[i]) i++;
        printf("ERROR echo of %s differs at byte %zu\n", item, i);
        goto out;
    }
    printf("OK %s\n", item);
    rc = 0;
out:
    fflush(stdout);
    free(out);
    free(in);
    return rc;
}

/* Receives (and drops) messages until the peer's Close frame, then prints
   it.  Returns 0 when a Close frame arrived. */
static int await_close(int ws) {
    static uint8_t buf[65536];
    int type, dropped = 0;
    while(ws_recv(ws, &type, buf, sizeof(buf), deadline) >= 0)
        dropped++;
    if(errno != EPIPE) return -1;
    int status;
    char reason[128];
    ssize_t rlen = ws_status(ws, &status, reason, sizeof(reason));
    if(rlen < 0) return -1;
    printf("PEER_CLOSE %d %.*s\n", status, (int)rlen, reason);
    if(dropped) printf("DROPPED %d\n", dropped);
    fflush(stdout);
    return 0;
}

int main(int argc, char *argv[]) {
    const char *script = DEFAULT_SCRIPT, *reason = "done", *url = NULL;
    const char *ca = NULL, *sni = NULL;
    int code = 1000, wait = 0, large = 0;
    long secs = 60;
    for(int i = 1; i < argc; i++) {
        if(strcmp(argv[i], "-s") == 0 && i + 1 < argc) script = argv[++i];
        else if(strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            code = atoi(argv[++i]);
        else if(strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            reason = argv[++i];
        else if(strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            secs = atol(argv[++i]);
        else if(strcmp(argv[i], "-W") == 0) wait = 1;
        else if(strcmp(argv[i], "-L") == 0) large = 1;
        else if(strcmp(argv[i], "-z") == 0 && i + 1 < argc)
            zmem = atol(argv[++i]);
        else if(strcmp(argv[i], "--ca") == 0 && i + 1 < argc) ca = argv[++i];
        else if(strcmp(argv[i], "--server-name") == 0 && i + 1 < argc)
            sni = argv[++i];
        else if(!url && argv[i][0] != '-') url = argv[i];
        else url = NULL, i = argc;
    }
    int secure = url && strncmp(url, "wss://", 6) == 0;
    char host[256];
    int port;
    const char *path;
    if(!url || (!secure && (ca || sni)) ||
          (!secure && parse_url(url, host, sizeof(host), &port, &path) < 0)) {
        fprintf(stderr, "usage: %s [-s script] [-L] [-c code] [-r reason] "
            "[-W] [-t secs] ws://host:port/path\n"
            "       %s [options] [--ca file] [--server-name name] "
            "wss://host:port/path\n", argv[0], argv[0]);
        return 2;
    }
    deadline = now() + secs * 1000;
    int ws;
    if(secure) {
        ws = connect_wss(url, ca, sni);
        if(ws < 0) return fail("connect");
    } else {
        struct ipaddr addr;
        if(ipaddr_remote(&addr, host, port, IPADDR_PREF_IPV4, deadline) < 0)
            return fail("resolve");
        int s = tcp_connect(&addr, deadline);
        if(s < 0) return fail("connect");
        char hostfield[300];
        snprintf(hostfield, sizeof(hostfield), "%s:%d", host, port);
        struct ws_options wo = options();
        ws = ws_attach_client_opts(s, path, hostfield, &wo, NULL, deadline);
        if(ws < 0) return fail("handshake");
    }
    struct ws_deflate_params zp;
    if(zmem >= 0 && ws_deflate(ws, &zp) == 1)
        printf("DEFLATE server_window=%d client_window=%d snct=%d cnct=%d\n",
            zp.server_max_window_bits, zp.client_max_window_bits,
            zp.server_no_context_takeover, zp.client_no_context_takeover);
    else if(zmem >= 0) printf("DEFLATE off\n");

    char *items = malloc(strlen(script) + 32);
    if(!items) return fail("malloc");
    strcpy(items, script);
    if(large) strcat(items, ",t16M,b16M");
    int seq = 0, ok = 1;
    for(char *save, *it = strtok_r(items, ",", &save); it;
          it = strtok_r(NULL, ",", &save)) {
        if(exchange(ws, it, seq++) < 0) {
            ok = 0;
            break;
        }
    }
    free(items);
    if(!ok) {
        /* Show how the peer ended the connection, if it did. */
        if(await_close(ws) < 0)
            printf("ERROR end: %s\n", errname(errno));
        hclose(ws);
        printf("RESULT FAIL\n");
        return 1;
    }
    if(wait) {
        if(await_close(ws) < 0) return fail("await close");
        /* Answer with the same status; EPIPE: the layer already did. */
        int status;
        if(ws_status(ws, &status, NULL, 0) < 0) return fail("status");
        if(ws_done(ws, status, NULL, 0, deadline) < 0 && errno != EPIPE)
            return fail("close reply");
    } else {
        if(ws_done(ws, code, reason, strlen(reason), deadline) < 0)
            return fail("close");
        if(await_close(ws) < 0) return fail("await close reply");
    }
    hclose(ws);
    printf("RESULT PASS\n");
    return 0;
}
