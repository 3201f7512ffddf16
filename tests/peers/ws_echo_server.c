/* Interop peer: our WebSocket echo server, driven by tests/interop_*.sh.

   Listens on 127.0.0.1 with a kernel-chosen port, prints "PORT <n>" on
   stdout, then serves connections concurrently, one coroutine each.  Every
   message is echoed with its type.  The requested resource selects the
   behaviour:

     /close/<code>/<k>   echo k messages (default 0), then start the closing
                         handshake with <code> and the reason "going away";
     anything else       echo until the peer closes, then answer its Close
                         frame with the same status.

   One line per finished connection goes to stdout, for the scripts to check:

     CONN <id> path=<resource> msgs=<n> bytes=<n> end=<how> status=<code>
         reason=<peer's reason>

   where <how> is "peer-close" (the peer started the close), "closed" (we
   started it and the peer answered), or the errno name of the failure
   (EPROTO when the peer broke the protocol: dill has then failed the
   connection with the matching close code, e.g. 1007).

   With -z, a "DEFLATE <id> <answer>" line per connection tells what
   permessage-deflate answer was agreed ("off" when none).

   Usage: ws_echo_server [-n connections] [-t seconds] [-m max-message]
                         [-z deflate-memory] [--tls-cert FILE --tls-key FILE]
     -n  exit after serving that many connections (default 0: forever)
     -t  lifetime; exit with status 1 when it is over (default 60)
     -m  largest message echoed, in bytes (default 17 MiB)
     -z  accept permessage-deflate, keeping at most that many bytes of zlib
         state per connection between messages (0: no context takeover)
     --tls-cert, --tls-key  serve wss: the PEM certificate chain and key
         go into a dill_tls_server_ctx, and connections come from
         dill_ws_listen / dill_ws_accept (TLS and WebSocket handshakes in
         the listener) instead of tcp_accept + ws_attach_server
   Exit status: 0 when -n connections were served, 1 on setup failure or
   timeout. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdill.h>

#define RESOURCE_LEN 256

static size_t maxmsg = 17 * 1024 * 1024;
static long zmem = -1;

/* The options of every connection. */
static struct ws_options options(void) {
    struct ws_options o = WS_OPTIONS_INIT;
    o.flags = WS_BINARY;
    o.max_message = maxmsg;
    if(zmem >= 0) {
        o.deflate = WS_DEFLATE;
        o.deflate_memory = (size_t)zmem;
    }
    return o;
}

/* "DEFLATE <id> <what was agreed>" when -z is given. */
static void print_deflate(int ws, int id) {
    if(zmem < 0) return;
    struct ws_deflate_params p;
    if(ws_deflate(ws, &p) != 1) printf("DEFLATE %d off\n", id);
    else printf("DEFLATE %d server_window=%d client_window=%d snct=%d "
        "cnct=%d\n", id, p.server_max_window_bits, p.client_max_window_bits,
        p.server_no_context_takeover, p.client_no_context_takeover);
    fflush(stdout);
}
static int64_t deadline;

static const char *errname(int err) {
    const char *n = strerrorname_np(err);
    return n ? n : "E?";
}

/* Parses "/close/<code>/<k>"; returns the code or 0 for a plain echo. */
static int parse_close(const char *resource, int *after) {
    int code = 0, k = 0;
    *after = 0;
    if(sscanf(resource, "/close/%d/%d", &code, &k) < 1) return 0;
    *after = k;
    return code;
}

/* Prints the reason as-is but keeps the line single: no spaces/controls. */
static void print_reason(const char *r, ssize_t n) {
    for(ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)r[i];
        putchar(c <= ' ' || c == 0x7f ? '_' : c);
    }
}

/* Serves one connection: s is a TCP socket, or with ws_ready set a ws
   handle whose handshakes are done, with resource already filled in. */
static void serve_ws(int s, int ws_ready, char *resource, int id) {
    char host[256] = "";
    const char *end = "closed";
    int status = 0;
    char reason[128];
    ssize_t rlen = 0;
    size_t msgs = 0, bytes = 0;
    uint8_t *buf = NULL;
    struct ws_options o = options();
    int ws = ws_ready ? s : ws_attach_server_opts(s, resource,
        RESOURCE_LEN, host, sizeof(host), &o, NULL, deadline);
    if(ws < 0) {
        end = errname(errno);
        goto out;
    }
    print_deflate(ws, id);
    buf = malloc(maxmsg);
    if(!buf) {
        end = "ENOMEM";
        goto out;
    }
    int after;
    int code = parse_close(resource, &after);
    int closing = 0;
    while(1) {
        if(code && !closing && msgs == (size_t)after) {
            if(ws_done(ws, code, "going away", 10, deadline) < 0) {
                end = errname(errno);
                goto out;
            }
            closing = 1;
        }
        int flags;
        ssize_t n = ws_recv(ws, &flags, buf, maxmsg, deadline);
        if(n < 0) break;
        /* After our Close frame, messages still arriving are dropped. */
        if(closing) continue;
        if(ws_send(ws, flags, buf, n, deadline) < 0) {
            end = errname(errno);
            goto out;
        }
        msgs++;
        bytes += n;
    }
    if(errno != EPIPE) {
        end = errname(errno);
        goto out;
    }
    rlen = ws_status(ws, &status, reason, sizeof(reason));
    if(rlen < 0) {
        end = errname(errno);
        rlen = 0;
        goto out;
    }
    if(!closing) {
        end = "peer-close";
        /* Echo the peer's status, as RFC 6455 5.5.1 suggests.  EPIPE means
           the layer has already answered. */
        if(ws_done(ws, status, NULL, 0, deadline) < 0 && errno != EPIPE)
            end = errname(errno);
    }
out:
    printf("CONN %d path=%s msgs=%zu bytes=%zu end=%s status=%d reason=", id,
        resource[0] ? resource : "-", msgs, bytes, end, status);
    print_reason(reason, rlen);
    putchar('\n');
    fflush(stdout);
    free(buf);
    if(ws >= 0) hclose(ws);
}

coroutine static void serve(int s, int id) {
    char resource[RESOURCE_LEN] = "";
    serve_ws(s, 0, resource, id);
}

coroutine static void serve_accepted(int ws, char *resource, int id) {
    serve_ws(ws, 1, resource, id);
    free(resource);
}

/* wss: the listener runs the TLS and WebSocket handshakes; we echo. */
static int run_tls(const char *cert, const char *key, long nconns) {
    struct tls_server_options to = TLS_SERVER_OPTIONS_INIT;
    to.cert_file = cert;
    to.key_file = key;
    struct tls_server_ctx *ctx = tls_server_ctx_new(&to);
    if(!ctx) {
        fprintf(stderr, "ws_echo_server: tls_server_ctx_new: %s\n",
            errname(errno));
        return 1;
    }
    struct ws_options wo = options();
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    lo.ws = &wo;
    lo.tls = ctx;
    struct ipaddr addr;
    if(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) < 0) {
        perror("ipaddr_local");
        return 1;
    }
    int ls = ws_listen(&addr, &lo);
    if(ls < 0) {
        perror("ws_listen");
        return 1;
    }
    printf("PORT %d\n", ipaddr_port(&addr));
    fflush(stdout);
    int b = bundle();
    if(b < 0) {
        perror("bundle");
        return 1;
    }
    for(long id = 0; nconns == 0 || id < nconns; id++) {
        char *resource = calloc(1, RESOURCE_LEN);
        if(!resource) {
            perror("calloc");
            return 1;
        }
        int ws = ws_accept(ls, resource, RESOURCE_LEN, NULL, deadline);
        if(ws < 0) {
            fprintf(stderr, "ws_echo_server: ws_accept: %s\n",
                errname(errno));
            return 1;
        }
        if(bundle_go(b, serve_accepted(ws, resource, (int)id)) < 0) {
            perror("bundle_go");
            return 1;
        }
    }
    if(bundle_wait(b, deadline) < 0) {
        fprintf(stderr, "ws_echo_server: connections still open: %s\n",
            errname(errno));
        return 1;
    }
    hclose(b);
    hclose(ls);
    tls_server_ctx_free(ctx);
    return 0;
}

int main(int argc, char *argv[]) {
    long nconns = 0, secs = 60;
    const char *cert = NULL, *key = NULL;
    for(int i = 1; i < argc; i++) {
        if(i + 1 < argc && strcmp(argv[i], "-n") == 0)
            nconns = atol(argv[++i]);
        else if(i + 1 < argc && strcmp(argv[i], "-t") == 0)
            secs = atol(argv[++i]);
        else if(i + 1 < argc && strcmp(argv[i], "-m") == 0)
            maxmsg = (size_t)atol(argv[++i]);
        else if(i + 1 < argc && strcmp(argv[i], "-z") == 0)
            zmem = atol(argv[++i]);
        else if(i + 1 < argc && strcmp(argv[i], "--tls-cert") == 0)
            cert = argv[++i];
        else if(i + 1 < argc && strcmp(argv[i], "--tls-key") == 0)
            key = argv[++i];
        else {
            fprintf(stderr, "usage: %s [-n conns] [-t secs] [-m bytes] "
                "[-z bytes] [--tls-cert file --tls-key file]\n", argv[0]);
            return 2;
        }
    }
    if(!cert != !key) {
        fprintf(stderr, "%s: --tls-cert and --tls-key go together\n",
            argv[0]);
        return 2;
    }
    deadline = now() + secs * 1000;
    if(cert) return run_tls(cert, key, nconns);
    struct ipaddr addr;
    if(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) < 0) {
        perror("ipaddr_local");
        return 1;
    }
    int ls = tcp_listen(&addr, 64);
    if(ls < 0) {
        perror("tcp_listen");
        return 1;
    }
    printf("PORT %d\n", ipaddr_port(&addr));
    fflush(stdout);
    int b = bundle();
    if(b < 0) {
        perror("bundle");
        return 1;
    }
    for(long id = 0; nconns == 0 || id < nconns; id++) {
        int s = tcp_accept(ls, NULL, deadline);
        if(s < 0) {
            fprintf(stderr, "ws_echo_server: accept: %s\n", errname(errno));
            return 1;
        }
        if(bundle_go(b, serve(s, (int)id)) < 0) {
            perror("bundle_go");
            return 1;
        }
    }
    if(bundle_wait(b, deadline) < 0) {
        fprintf(stderr, "ws_echo_server: connections still open: %s\n",
            errname(errno));
        return 1;
    }
    hclose(b);
    hclose(ls);
    return 0;
}
