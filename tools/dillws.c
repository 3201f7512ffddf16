/* dillws: a command-line WebSocket client, server and load generator.

     dillws [options] ws://host:port/path        interactive client
     dillws --listen [host:]port [options]       server (--echo, --broadcast)
     dillws bench [-c N] [-s BYTES] [-d SECONDS] ws://host:port/path

   Coroutines read stdin and the socket at the same time, and a server gives
   every connection its own coroutine; --echo and --broadcast servers run
   one accept loop per thread (--threads), broadcasting through a hub.  The
   manual is man/dillws.1. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libdill.h>

/* Exit statuses (documented in dillws.1). */
#define EX_OK 0
#define EX_FAIL 1      /* abnormal close, protocol error, bench errors */
#define EX_USAGE 2     /* bad option or URL */
#define EX_CONNECT 3   /* name not found, connection refused, timeout */
#define EX_TLS 4       /* TLS handshake or certificate verification */
#define EX_HANDSHAKE 5 /* HTTP upgrade refused or invalid */

#define MAX_HEADERS 32
#define MAX_PROTOCOLS 16
#define CHUNK 65536
#define MAX_THREADS 256

static struct {
    const char *url;
    const char *listen;
    int bench;
    int echo, broadcast, binary, raw, once, verbose;
    int deflate;                    /* --deflate */
    size_t deflate_mem;             /* --deflate-memory */
    const char *hdr[MAX_HEADERS];
    int nhdr;
    char *hdrtext;                  /* hdr[] joined with CRLF */
    const char *proto[MAX_PROTOCOLS + 1];  /* NULL-terminated */
    size_t nproto;
    const char *origin;
    int64_t ping_ms;
    size_t max_message;
    int insecure;
    const char *cacert, *cert, *key;
    const char *proxy;              /* --proxy; "" means none */
    int64_t timeout_ms;             /* 0: none */
    int64_t hs_ms;                  /* server handshake limit */
    int64_t stall_ms;               /* broadcast: drop a client this late */
    size_t queue_bytes;             /* broadcast: per-client queue bound */
    const char *redis;              /* broadcast: --redis URL */
    const char *health;             /* server: --health path; "": none */
    int64_t linger_ms;
    int conns;
    size_t size;
    double seconds;
    int threads;                    /* server threads; 0: one per core */
} cfg = {.conns = 1, .size = 16, .seconds = 5, .linger_ms = 1000,
    .hs_ms = 10000, .stall_ms = 10000, .queue_bytes = 4 << 20,
    .health = "/health"};

static void die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("dillws: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stdout);
    exit(code);
}

static void vlog(const char *fmt, ...);

/* The deflate options of every connection. */
static void deflate_opts(struct ws_options *o) {
    if(!cfg.deflate) return;
    o->deflate = WS_DEFLATE;
    o->deflate_memory = cfg.deflate_mem;
}

/* -v: what permessage-deflate came to on ws (prefix: "" or "[id] "). */
static void deflate_log(int ws, const char *prefix) {
    if(!cfg.deflate) return;
    struct ws_deflate_params p;
    if(ws_deflate(ws, &p) != 1) {
        vlog("%s* permessage-deflate: not agreed", prefix);
        return;
    }
    vlog("%s* permessage-deflate: server window %d bits%s, client window "
        "%d bits%s", prefix, p.server_max_window_bits,
        p.server_no_context_takeover ? " (no context takeover)" : "",
        p.client_max_window_bits,
        p.client_no_context_takeover ? " (no context takeover)" : "");
}

static void vlog(const char *fmt, ...) {
    if(!cfg.verbose) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int64_t deadline_in(int64_t ms) {
    return ms > 0 ? now() + ms : -1;
}

/* The client's --timeout bounds the whole run, from the start. */
static int64_t run_end = -1;

/* Deadline for connecting and handshaking: the end of the client's run,
   else --timeout (bench) or 10 s. */
static int64_t setup_deadline(void) {
    if(run_end >= 0) return run_end;
    return now() + (cfg.timeout_ms > 0 ? cfg.timeout_ms : 10000);
}

/* d, but no later than the end of the run. */
static int64_t capped(int64_t d) {
    return run_end >= 0 && (d < 0 || d > run_end) ? run_end : d;
}

/******************************************************************************/
/*  URLs and options                                                          */
/******************************************************************************/

/* The parts of the URL that dillws shows (-v) and matches against
   no_proxy.  ws_connect validates the URL; this only splits it. */
struct target {
    int secure;
    int port;                /* explicit, or 80 / 443 */
    char host[256];          /* without brackets */
    char hosthdr[300];       /* the Host header: no default port */
    const char *rest;        /* path and query, "" when none */
};

static void split_url(const char *s, struct target *t) {
    memset(t, 0, sizeof(*t));
    t->secure = strncasecmp(s, "wss://", 6) == 0;
    const char *a = strstr(s, "://");
    a = a ? a + 3 : s;
    size_t n = strcspn(a, "/?#");
    t->rest = a + n;
    const char *h = a, *e = a + n;
    if(*h == '[' && memchr(h, ']', n)) {
        h++;
        e = memchr(h, ']', n);
    }
    else if(memchr(h, ':', n)) e = memchr(h, ':', n);
    snprintf(t->host, sizeof(t->host), "%.*s", (int)(e - h), h);
    const char *c = memchr(e, ':', (size_t)(a + n - e));
    t->port = c ? atoi(c + 1) : t->secure ? 443 : 80;
    int dflt = t->port == (t->secure ? 443 : 80);
    snprintf(t->hosthdr, sizeof(t->hosthdr), "%.*s",
        (int)(dflt && c ? c - a : (ptrdiff_t)n), a);
}

/* Why ws_connect refused the URL s (err: its errno). */
static const char *url_problem(const char *s, int err) {
    if(strncasecmp(s, "ws://", 5) && strncasecmp(s, "wss://", 6))
        return "the scheme must be ws:// or wss://";
    if(err == EMSGSIZE) return "too long";
    const char *a = s + (s[2] == ':' ? 5 : 6);
    if(!*a || *a == '/' || *a == ':') return "no host";
    if(strchr(s, '#')) return "fragments are not allowed";
    if(strcspn(a, "/?") > strcspn(a, "@"))
        return "user information is not supported";
    return "malformed host, port or path";
}

/* "1.5" -> 1500 ms. */
static int64_t parse_seconds(const char *opt, const char *s) {
    char *end;
    double v = strtod(s, &end);
    if(end == s || *end || v < 0 || v > 1e9)
        die(EX_USAGE, "%s: bad number of seconds '%s'", opt, s);
    return (int64_t)(v * 1000 + 0.5);
}

/* "64k" -> 65536. */
static size_t parse_size(const char *opt, const char *s) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if(end == s) die(EX_USAGE, "%s: bad size '%s'", opt, s);
    if(*end == 'k' || *end == 'K') {v <<= 10; end++;}
    else if(*end == 'm' || *end == 'M') {v <<= 20; end++;}
    else if(*end == 'g' || *end == 'G') {v <<= 30; end++;}
    if(*end) die(EX_USAGE, "%s: bad size '%s'", opt, s);
    return (size_t)v;
}

static void usage(FILE *f) {
    fputs(
"usage: dillws [options] ws://host[:port]/path   (or wss://)\n"
"       dillws --listen [host:]port [--echo | --broadcast] [options]\n"
"       dillws bench [-c conns] [-s bytes] [-d seconds] ws://host:port/path\n"
"options:\n"
"  --binary            send stdin as binary messages (chunks), not lines\n"
"  --raw               print payloads exactly as received\n"
"  -1                  one message, then close\n"
"  -H 'Name: value'    extra header (request, or 101 response)\n"
"  --subprotocol P     offer (client) / accept (server) P; repeatable\n"
"  --origin O          send Origin O (client) / require it (server)\n"
"  --ping-interval S   keepalive pings every S seconds of silence\n"
"  --max-message N     largest message accepted (k/M suffixes)\n"
"  --deflate           offer (client) / accept (server) permessage-deflate\n"
"  --deflate-memory N  zlib state kept per connection between messages\n"
"                      (k/M suffixes; 0, the default: no context takeover)\n"
"  --timeout S         give up after S seconds (server: stop after S)\n"
"  --handshake-timeout S  server: time allowed for one connection's TLS\n"
"                      and WebSocket handshakes (default 10)\n"
"  --stall-timeout S   broadcast: drop a client that takes S seconds to\n"
"                      take one message (default 10)\n"
"  --queue-bytes N     broadcast: most bytes queued for one client\n"
"                      (default 4M; one message always fits)\n"
"  --redis URL         broadcast: also to and from the other servers using\n"
"                      Redis URL (redis://[:password@]host:port/)\n"
"  --health PATH       server: answer a plain GET of PATH with 200 OK, for\n"
"                      load balancers' checks (default /health; \"\": off)\n"
"  --linger S          at the end of input, wait for replies until S\n"
"                      seconds pass without one (default 1; 0: close now)\n"
"  --cacert FILE       trust the CA certificates in FILE (wss)\n"
"  --proxy URL         connect through http://, https://, socks5:// or\n"
"                      socks5h:// proxy URL (\"\": none; default: the\n"
"                      http_proxy, https_proxy, all_proxy, no_proxy variables)\n"
"  --tls-cert FILE     server certificate chain, PEM (serves wss)\n"
"  --tls-key FILE      server private key, PEM\n"
"  --threads N         server threads for --echo and --broadcast\n"
"                      (default: one per core)\n"
"  -k, --insecure      do not verify the server's certificate (wss)\n"
"  -v                  show the handshake, connections and close codes\n"
"  -V, --version       print the version\n"
"  -h, --help          this text\n"
"aliases: -l for --listen, -s (outside bench) and --protocol for\n"
"--subprotocol, -H for --header\n", f);
}

/* Returns the value of option argv[*i] (also "--opt=value"). */
#ifndef DILL_TOOL_VERSION
#define DILL_TOOL_VERSION "unknown"
#endif

static const char *optval(int argc, char **argv, int *i, const char *eq) {
    if(eq) return eq + 1;
    if(*i + 1 >= argc) die(EX_USAGE, "%s needs a value", argv[*i]);
    return argv[++*i];
}

static int parse_flag(const char *a) {
    if(!strcmp(a, "--echo")) cfg.echo = 1;
    else if(!strcmp(a, "--broadcast")) cfg.broadcast = 1;
    else if(!strcmp(a, "--binary")) cfg.binary = 1;
    else if(!strcmp(a, "--raw")) cfg.raw = 1;
    else if(!strcmp(a, "-1")) cfg.once = 1;
    else if(!strcmp(a, "--deflate")) cfg.deflate = 1;
    else if(!strcmp(a, "-v") || !strcmp(a, "--verbose")) cfg.verbose = 1;
    else if(!strcmp(a, "--insecure") || !strcmp(a, "-k")) cfg.insecure = 1;
    else if(!strcmp(a, "-h") || !strcmp(a, "--help")) {usage(stdout); exit(0);}
    else if(!strcmp(a, "-V") || !strcmp(a, "--version")) {
        printf("dillws %s (libdill interface %d:%d:%d)\n", DILL_TOOL_VERSION,
            DILL_VERSION_CURRENT, DILL_VERSION_REVISION, DILL_VERSION_AGE);
        exit(0);
    }
    else return 0;
    return 1;
}

/* Options followed by a value (as a name, before '='). */
static int takes_value(const char *name) {
    static const char *const names[] = {"--listen", "-l", "-H", "--header",
        "--subprotocol", "--protocol", "--origin", "--ping-interval",
        "--max-message", "--deflate-memory", "--timeout", "--linger",
        "--cacert", "--proxy",
        "--tls-cert", "--tls-key", "--threads", "-c", "--connections", "-s", "--size",
        "-d", "--duration", "--handshake-timeout", "--stall-timeout",
        "--queue-bytes", "--redis", "--health", NULL};
    for(int i = 0; names[i]; i++)
        if(!strcmp(name, names[i])) return 1;
    return 0;
}

static void parse_args(int argc, char **argv) {
    int i = 1;
    if(argc > 1 && !strcmp(argv[1], "bench")) {cfg.bench = 1; i = 2;}
    for(; i < argc; i++) {
        char *a = argv[i];
        if(a[0] != '-' || !a[1]) {
            if(cfg.url) die(EX_USAGE, "more than one URL ('%s')", a);
            cfg.url = a;
            continue;
        }
        if(parse_flag(a)) continue;
        char name[32];
        const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
        snprintf(name, sizeof(name), "%.*s",
            eq ? (int)(eq - a) : (int)strlen(a), a);
        if(!takes_value(name)) {
            usage(stderr);
            die(EX_USAGE, "unknown option %s", name);
        }
        const char *v = optval(argc, argv, &i, eq);
        if(!strcmp(name, "--listen") || !strcmp(name, "-l")) cfg.listen = v;
        else if(!strcmp(name, "-H") || !strcmp(name, "--header")) {
            if(cfg.nhdr == MAX_HEADERS) die(EX_USAGE, "too many headers");
            if(!strchr(v, ':')) die(EX_USAGE, "-H wants 'Name: value'");
            cfg.hdr[cfg.nhdr++] = v;
        }
        else if(!strcmp(name, "--subprotocol") ||
                !strcmp(name, "--protocol") ||
                (!cfg.bench && !strcmp(name, "-s"))) {
            if(cfg.nproto == MAX_PROTOCOLS) die(EX_USAGE, "too many protocols");
            cfg.proto[cfg.nproto++] = v;
        }
        else if(!strcmp(name, "--origin")) cfg.origin = v;
        else if(!strcmp(name, "--ping-interval"))
            cfg.ping_ms = parse_seconds(name, v);
        else if(!strcmp(name, "--deflate-memory"))
            cfg.deflate_mem = parse_size(name, v);
        else if(!strcmp(name, "--max-message"))
            cfg.max_message = parse_size(name, v);
        else if(!strcmp(name, "--timeout"))
            cfg.timeout_ms = parse_seconds(name, v);
        else if(!strcmp(name, "--handshake-timeout"))
            cfg.hs_ms = parse_seconds(name, v);
        else if(!strcmp(name, "--stall-timeout"))
            cfg.stall_ms = parse_seconds(name, v);
        else if(!strcmp(name, "--queue-bytes"))
            cfg.queue_bytes = parse_size(name, v);
        else if(!strcmp(name, "--redis")) cfg.redis = v;
        else if(!strcmp(name, "--health")) cfg.health = v;
        else if(!strcmp(name, "--linger"))
            cfg.linger_ms = parse_seconds(name, v);
        else if(!strcmp(name, "--cacert")) cfg.cacert = v;
        else if(!strcmp(name, "--proxy")) cfg.proxy = v;
        else if(!strcmp(name, "--tls-cert")) cfg.cert = v;
        else if(!strcmp(name, "--tls-key")) cfg.key = v;
        else if(!strcmp(name, "--threads")) {
            cfg.threads = atoi(v);
            if(cfg.threads < 1 || cfg.threads > MAX_THREADS)
                die(EX_USAGE, "--threads must be between 1 and %d",
                    MAX_THREADS);
        }
        else if(!strcmp(name, "-c") || !strcmp(name, "--connections"))
            cfg.conns = atoi(v);
        else if(!strcmp(name, "-s") || !strcmp(name, "--size"))
            cfg.size = parse_size(name, v);
        else if(!strcmp(name, "-d") || !strcmp(name, "--duration"))
            cfg.seconds = parse_seconds(name, v) / 1000.0;
        else {
            usage(stderr);
            die(EX_USAGE, "unknown option %s", name);
        }
    }
    if(!!cfg.cert != !!cfg.key)
        die(EX_USAGE, "--tls-cert and --tls-key go together");
    if(cfg.hs_ms <= 0 || cfg.stall_ms <= 0)
        die(EX_USAGE, "--handshake-timeout and --stall-timeout must be > 0");
    if(cfg.echo && cfg.broadcast)
        die(EX_USAGE, "--echo and --broadcast exclude each other");
    if(cfg.redis && !cfg.broadcast)
        die(EX_USAGE, "--redis goes with --listen --broadcast");
    if(cfg.bench && (cfg.conns < 1 || cfg.conns > 10000))
        die(EX_USAGE, "-c must be between 1 and 10000");
    if(cfg.listen && cfg.url) die(EX_USAGE, "--listen takes no URL");
    if(!cfg.listen && !cfg.url) {usage(stderr); exit(EX_USAGE);}
    /* Extra headers as one CRLF-separated block (server's 101 response). */
    size_t n = 1;
    for(int k = 0; k < cfg.nhdr; k++) n += strlen(cfg.hdr[k]) + 2;
    cfg.hdrtext = calloc(1, n);
    if(!cfg.hdrtext) die(EX_FAIL, "out of memory");
    for(int k = 0; k < cfg.nhdr; k++) {
        if(k) strcat(cfg.hdrtext, "\r\n");
        strcat(cfg.hdrtext, cfg.hdr[k]);
    }
}

/******************************************************************************/
/*  Output                                                                    */
/******************************************************************************/

/* Prints a text message on one line: control characters (C0, DEL, C1) and
   backslashes are escaped, so that a message can never forge a line. */
static void put_text(FILE *f, const uint8_t *p, size_t n) {
    for(size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if(c == '\\') fputs("\\\\", f);
        else if(c == '\n') fputs("\\n", f);
        else if(c == '\r') fputs("\\r", f);
        else if(c == '\t') fputs("\\t", f);
        else if(c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else if(c == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 &&
                p[i + 1] <= 0x9f) {
            fprintf(f, "\\u%04x", p[i + 1]);
            i++;
        }
        else fputc(c, f);
    }
}

static void print_msg(int type, const uint8_t *p, size_t n) {
    if(cfg.raw) fwrite(p, 1, n, stdout);
    else if(type == WS_TEXT) {
        put_text(stdout, p, n);
        fputc('\n', stdout);
    }
    else {
        for(size_t i = 0; i < n; i++) printf("%02x", p[i]);
        fputc('\n', stdout);
    }
    fflush(stdout);
}

static const char *close_name(int code) {
    switch(code) {
    case 0: return "no status";
    case 1000: return "normal closure";
    case 1001: return "going away";
    case 1002: return "protocol error";
    case 1003: return "unsupported data";
    case 1007: return "invalid payload";
    case 1008: return "policy violation";
    case 1009: return "message too big";
    case 1010: return "extension required";
    case 1011: return "internal error";
    case 1012: return "service restart";
    case 1013: return "try again later";
    case 1014: return "bad gateway";
    default: return "application code";
    }
}

/* "closed: 1008 (policy violation): reason" on stderr, the peer's reason
   escaped like a text message so that it cannot forge lines or drive the
   terminal. */
static void put_close(const char *what, int code, const char *reason,
      size_t rlen) {
    fprintf(stderr, "%s%d (%s)", what, code, close_name(code));
    if(rlen) {
        fputs(": ", stderr);
        put_text(stderr, (const uint8_t*)reason, rlen);
    }
    fputc('\n', stderr);
}

/* A growable receive buffer. */
struct dbuf {
    uint8_t *p;
    size_t cap;
};

/* A connection's first receive buffer: small, so that a server's thousand
   connections exchanging small messages do not each keep a page of it. */
#define RECV_FIRST 1024

/* Receives one whole message, piece by piece, into b (doubled whenever
   full; the library enforces the size limit).  Returns its size. */
static ssize_t recv_msg(int ws, int *type, struct dbuf *b, int64_t deadline) {
    size_t len = 0;
    while(1) {
        if(b->cap == len) {
            size_t cap = b->cap ? b->cap * 2 : RECV_FIRST;
            uint8_t *p = realloc(b->p, cap);
            if(!p) {errno = ENOMEM; return -1;}
            b->p = p;
            b->cap = cap;
        }
        int fl;
        ssize_t n = ws_recv_part(ws, &fl, b->p + len, b->cap - len, deadline);
        if(n < 0) return -1;
        len += (size_t)n;
        if(!(fl & WS_MORE)) {
            *type = fl & WS_TEXT;
            return (ssize_t)len;
        }
    }
}

/* After a message: a buffer grown past CHUNK for a big message is given
   back, so that idle connections do not each hold their largest message. */
static void dbuf_trim(struct dbuf *b) {
    if(b->cap <= CHUNK) return;
    free(b->p);
    b->p = NULL;
    b->cap = 0;
}

/******************************************************************************/
/*  Client: connecting and the handshake                                      */
/******************************************************************************/

/* Whether host is in the no_proxy list: "*", or entries (a leading dot is
   optional) equal to host or to one of its parent domains. */
static int no_proxy_match(const char *host, const char *list) {
    size_t hl = strlen(host);
    while(*list) {
        list += strspn(list, ", \t");
        size_t n = strcspn(list, ", \t");
        const char *e = list;
        list += n;
        if(n == 1 && *e == '*') return 1;
        if(n && *e == '.') {e++; n--;}
        if(n >= 2 && e[0] == '[' && e[n - 1] == ']') {e++; n -= 2;}
        if(!n || n > hl || strncasecmp(host + hl - n, e, n)) continue;
        if(n == hl || host[hl - n - 1] == '.') return 1;
    }
    return 0;
}

static const char *env2(const char *lower, const char *upper) {
    const char *v = getenv(lower);
    if((!v || !*v) && upper) v = getenv(upper);
    return v && *v ? v : NULL;
}

/* The proxy for u: --proxy, else the environment the way curl reads it
   (http_proxy for ws://, in lower case only; https_proxy for wss://;
   all_proxy for both; no_proxy), or NULL.  A value without a scheme is an
   HTTP proxy. */
static const char *pick_proxy(const struct target *u) {
    static char buf[1024];
    if(cfg.proxy) return *cfg.proxy ? cfg.proxy : NULL;
    const char *np = env2("no_proxy", "NO_PROXY");
    if(np && no_proxy_match(u->host, np)) return NULL;
    const char *v = u->secure ? env2("https_proxy", "HTTPS_PROXY") :
        env2("http_proxy", NULL);
    if(!v) v = env2("all_proxy", "ALL_PROXY");
    if(!v || strstr(v, "://")) return v;
    snprintf(buf, sizeof(buf), "http://%s", v);
    return buf;
}

/* -v: the proxy's URL without the credentials. */
static void show_proxy(const char *url) {
    const char *a = strstr(url, "://");
    if(!a) return;
    a += 3;
    size_t n = strcspn(a, "/?#");
    const char *at = NULL;
    for(size_t i = 0; i != n; i++) if(a[i] == '@') at = a + i;
    const char *h = at ? at + 1 : a;
    vlog("* proxy %.*s%.*s%s", (int)(a - url), url, (int)(a + n - h), h,
        at ? " (with credentials)" : "");
}

/* -v: the request the library sends (its random key aside). */
static void show_request(const struct target *u) {
    vlog("> GET %s%s HTTP/1.1", *u->rest == '/' ? "" : "/", u->rest);
    vlog("> Host: %s", u->hosthdr);
    vlog("> Upgrade: websocket");
    vlog("> Connection: Upgrade");
    vlog("> Sec-WebSocket-Version: 13");
    if(cfg.nproto) {
        char list[1024] = "";
        for(size_t i = 0; i < cfg.nproto; i++) {
            if(i) strncat(list, ", ", sizeof(list) - strlen(list) - 1);
            strncat(list, cfg.proto[i], sizeof(list) - strlen(list) - 1);
        }
        vlog("> Sec-WebSocket-Protocol: %s", list);
    }
    if(cfg.deflate) vlog("> Sec-WebSocket-Extensions: permessage-deflate");
    if(cfg.origin) vlog("> Origin: %s", cfg.origin);
    for(int i = 0; i < cfg.nhdr; i++) vlog("> %s", cfg.hdr[i]);
    vlog(">");
}

/* -v: the server's answer, line by line. */
static void show_response(const struct ws_response *r) {
    if(!r->status) return;
    vlog("< HTTP/1.1 %d %s", r->status, r->reason);
    const char *p = r->headers;
    while(*p) {
        size_t n = strcspn(p, "\r");
        vlog("< %.*s", (int)n, p);
        p += n;
        if(*p == '\r') p++;
        if(*p == '\n') p++;
    }
    if(r->dropped) vlog("< (%d more lines)", r->dropped);
    vlog("<");
}

/* Exit on a failure at the proxy (ws_connect's WS_STEP_PROXY). */
static void die_proxy(const char *url, const struct target *u, int err) {
    if(err == EINVAL || err == EMSGSIZE)
        die(EX_USAGE, "bad proxy URL '%s'", url);
    if(err == EACCES)
        die(EX_CONNECT, "the proxy refused: wrong or missing credentials, "
            "forbidden, or its certificate failed verification");
    if(err == ECONNREFUSED)
        die(EX_CONNECT, "the proxy refused the connection, or could not "
            "connect to %s port %d", u->host, u->port);
    if(err == EPROTO) die(EX_CONNECT, "the proxy's answer is malformed");
    die(EX_CONNECT, "through the proxy to %s port %d: %s", u->host, u->port,
        strerror(err));
}

/* Exit on a failure to resolve or connect (WS_STEP_CONNECT). */
static void die_connect(const struct target *u, int err) {
    if(err == EADDRNOTAVAIL)
        die(EX_CONNECT, "cannot resolve %s: no such host", u->host);
    die(EX_CONNECT, "cannot connect to %s port %d: %s", u->host, u->port,
        err == ECONNREFUSED ? "connection refused" : strerror(err));
}

/* Exit on a TLS failure (WS_STEP_TLS), with tls_last_error's reason. */
static void die_tls(const struct target *u, int err) {
    if(err == ENOTSUP) die(EX_TLS, "this dillws was built without TLS");
    char why[256] = "";
#if !defined DILL_DISABLE_TLS
    tls_last_error(why, sizeof(why));
#endif
    if(err == EACCES && strstr(why, "mismatch"))
        die(EX_TLS, "TLS: the server's certificate is not for %s (%s)",
            u->host, why);
    if(err == EACCES && strstr(why, "verification failed"))
        die(EX_TLS, "TLS: %s for %s (try --cacert FILE, or --insecure)",
            why, u->host);
    if(err == EACCES) die(EX_TLS, "TLS: the server refused us: %s", why);
    if(err == ENOENT) die(EX_TLS, "TLS: cannot read %s", cfg.cacert);
    die(EX_TLS, "TLS handshake with %s failed: %s", u->host,
        err == EPROTO ? "the server does not speak TLS" : strerror(err));
}

/* Exit on a failed WebSocket handshake (WS_STEP_HANDSHAKE). */
static void die_handshake(const struct ws_response *r, int err) {
    if(err == EACCES)
        die(EX_HANDSHAKE, "handshake refused: HTTP %d %s", r->status,
            r->reason);
    if(err == EINVAL) die(EX_USAGE, "invalid header or subprotocol");
    if(err == EPROTO)
        die(EX_HANDSHAKE, r->status ? "invalid handshake response "
            "(HTTP %d: missing upgrade tokens, a wrong accept key, or "
            "a subprotocol or extension that was not offered)" :
            "no valid HTTP response from the server", r->status);
    die(EX_HANDSHAKE, "the handshake failed: %s",
        err == EPIPE ? "connection closed" : strerror(err));
}

/* Connects to cfg.url with the WebSocket options o (their proxy and
   response fields are set here) through the proxy that --proxy or the
   environment names, and exits with the documented status when that
   fails: ws_connect's step tells a TLS failure, a refused upgrade and a
   connection that could not be made apart.  show: -v shows the request
   and the answer.  Returns the WebSocket. */
static int client_connect(const struct target *u, struct ws_options *o,
      int show, int64_t deadline) {
    const char *proxy = pick_proxy(u);
    struct dill_tls_client_options *tls = NULL;
#if !defined DILL_DISABLE_TLS
    struct tls_client_options t = TLS_CLIENT_OPTIONS_INIT;
    t.ca_file = cfg.cacert;
    t.insecure_skip_verify = cfg.insecure;
    tls = &t;
    /* The same trust for an https:// proxy's certificate. */
    o->proxy_tls = tls;
#endif
    o->proxy = proxy;
    struct ws_response r = WS_RESPONSE_INIT;
    o->response = &r;
    if(proxy) show_proxy(proxy);
    int ws = ws_connect(cfg.url, o, tls, deadline);
    int err = errno;
    o->response = NULL;
    if(ws < 0 && r.step == WS_STEP_URL)
        die(EX_USAGE, "bad URL '%s': %s", cfg.url, url_problem(cfg.url, err));
    if(ws < 0 && r.step == WS_STEP_PROXY) die_proxy(proxy, u, err);
    if(ws < 0 && r.step == WS_STEP_CONNECT) die_connect(u, err);
    vlog("* connected to %s port %d%s", u->host, u->port,
        proxy ? " through the proxy" : "");
    if(ws < 0 && r.step == WS_STEP_TLS) die_tls(u, err);
    if(u->secure)
        vlog("* TLS established%s", cfg.insecure ? " (not verified)" : "");
    if(show) {
        show_request(u);
        show_response(&r);
    }
    if(ws < 0) die_handshake(&r, err);
    return ws;
}

/* The client's connection: the opening handshake's answer is shown with
   -v.  Returns the WebSocket. */
static int client_handshake(const struct target *u, int64_t deadline) {
    struct ws_options o = WS_OPTIONS_INIT;
    o.flags = cfg.binary ? 0 : WS_TEXT;
    o.max_message = cfg.max_message;
    o.ping_interval = cfg.ping_ms;
    o.protocols = cfg.proto;
    o.origin = cfg.origin;
    o.headers = cfg.nhdr ? cfg.hdrtext : NULL;
    deflate_opts(&o);
    int ws = client_connect(u, &o, 1, deadline);
    char proto[256];
    if(cfg.nproto && ws_protocol(ws, proto, sizeof(proto)) == 0)
        vlog("* the server agreed to none of the subprotocols");
    deflate_log(ws, "");
    return ws;
}

/******************************************************************************/
/*  Client: the session                                                       */
/******************************************************************************/

#define EV_STDIN_END 1
#define EV_RECV_END 2
#define EV_SIGNAL 3

static struct {
    int err;          /* errno that ended receiving */
    int code;         /* peer's close code */
    char reason[128];
    size_t rlen;
    uint64_t msgs;
    uint64_t replies;    /* messages received after our first send */
    int64_t last;        /* when the last message arrived */
} rx;

/* Messages sent; the stdin coroutine lingers until as many replies came. */
static uint64_t tx_sent;
static int lingering;
static int linger_ch[2] = {-1, -1};

static int stdin_fdin = 1;   /* 0: stdin cannot be polled (regular file) */

/* read(0) without blocking other coroutines. */
static ssize_t read_stdin(void *buf, size_t len) {
    while(1) {
        if(stdin_fdin && fdin(0, -1) < 0) {
            if(errno == ECANCELED) return -1;
            stdin_fdin = 0;   /* e.g. EPERM for files epoll cannot watch */
        }
        ssize_t n = read(0, buf, len);
        if(n >= 0 || (errno != EAGAIN && errno != EINTR)) return n;
    }
}

static int send_piece(int ws, int type, const uint8_t *p, size_t n) {
    static int warned;
    if(ws_send(ws, type, p, n, -1) == 0) {tx_sent++; return 0;}
    if(errno == EINVAL && type == WS_TEXT) {
        if(!warned++)
            fprintf(stderr, "dillws: a line is not valid UTF-8; such lines"
                " are sent as binary messages\n");
        if(ws_send(ws, WS_BINARY, p, n, -1) < 0) return -1;
        tx_sent++;
        return 0;
    }
    return -1;
}

/* Sends stdin: lines as text messages, or with --binary every chunk read as
   one binary message.  Returns the number sent, or -1. */
static int pump(int ws) {
    size_t cap = CHUNK, len = 0;
    uint8_t *buf = malloc(cap);
    int sent = 0;
    if(!buf) return -1;
    while(!(cfg.once && sent)) {
        if(len == cap) {
            uint8_t *p = realloc(buf, cap * 2);
            if(!p) break;
            buf = p;
            cap *= 2;
        }
        ssize_t n = read_stdin(buf + len, cfg.binary ? CHUNK : cap - len);
        if(n < 0) {sent = errno == ECANCELED ? -1 : sent; break;}
        if(n == 0) {
            /* A last line without a newline is still a line. */
            if(!cfg.binary && len && send_piece(ws, WS_TEXT, buf, len) == 0)
                sent++;
            break;
        }
        if(cfg.binary) {
            if(ws_send(ws, WS_BINARY, buf, (size_t)n, -1) < 0) break;
            tx_sent++;
            sent++;
            continue;
        }
        len += (size_t)n;
        uint8_t *nl, *start = buf;
        while(!(cfg.once && sent) &&
              (nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
            size_t l = (size_t)(nl - start);
            if(l && start[l - 1] == '\r') l--;
            if(send_piece(ws, WS_TEXT, start, l) < 0) goto out;
            sent++;
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
    }
out:
    free(buf);
    return sent;
}

/* At the end of the input: a server may drop replies it has not sent yet
   when our Close frame arrives (RFC 6455 lets it), so first wait until as
   many messages came back as were sent, or until --linger passes without
   any message. */
static int linger(void) {
    int64_t start = now();
    if(cfg.linger_ms > 0 && rx.replies < tx_sent)
        vlog("* end of input: waiting for %" PRIu64 " more message(s)",
            tx_sent - rx.replies);
    while(cfg.linger_ms > 0 && rx.replies < tx_sent) {
        int64_t from = rx.last > start ? rx.last : start;
        int one;
        lingering = 1;
        int rc = chrecv(linger_ch[0], &one, sizeof(one), from + cfg.linger_ms);
        lingering = 0;
        if(rc < 0) return errno == ECANCELED ? -1 : 0;
    }
    return 0;
}

coroutine static void stdin_task(int ws, int ev) {
    int n = pump(ws);
    if(n < 0) return;   /* cancelled */
    if(!(cfg.once && n > 0) && linger() < 0) return;
    /* In -1 mode the receiver closes after the answer; otherwise the end
       of stdin starts the closing handshake. */
    if(!(cfg.once && n > 0))
        ws_done(ws, 1000, NULL, 0, capped(now() + 5000));
    int e = EV_STDIN_END;
    chsend(ev, &e, sizeof(e), -1);
}

coroutine static void recv_task(int ws, int ev) {
    struct dbuf b = {NULL, 0};
    while(1) {
        int type;
        ssize_t n = recv_msg(ws, &type, &b, -1);
        if(n < 0) {rx.err = errno; break;}
        if(cfg.once && rx.msgs) continue; /* in flight after our Close */
        print_msg(type, b.p, (size_t)n);
        dbuf_trim(&b);
        rx.last = now();
        if(tx_sent) rx.replies++;
        int one = 1;
        if(lingering) chsend(linger_ch[1], &one, sizeof(one), 0);
        if(++rx.msgs == 1 && cfg.once)
            ws_done(ws, 1000, NULL, 0, capped(now() + 5000));
    }
    free(b.p);
    if(rx.err == EPIPE) {
        int code;
        ssize_t l = ws_status(ws, &code, rx.reason, sizeof(rx.reason) - 1);
        rx.code = code;
        rx.rlen = l > 0 ? (size_t)l : 0;
    }
    if(rx.err == ECANCELED) return;
    int e = EV_RECV_END;
    chsend(ev, &e, sizeof(e), -1);
}

/* Exit status from how receiving ended. */
static int client_result(void) {
    if(rx.err == EPIPE) {
        if(cfg.verbose) put_close("* closed: ", rx.code, rx.reason, rx.rlen);
        if(rx.code == 1000 || rx.code == 1001 || rx.code == 0) return EX_OK;
        put_close("dillws: closed by the peer with status ", rx.code,
            rx.reason, rx.rlen);
        return EX_FAIL;
    }
    const char *why = rx.err == ECONNRESET ?
        "the connection ended without a Close frame" :
        rx.err == EPROTO ? "the peer violated the protocol" :
        rx.err == EMSGSIZE ? "a message exceeded --max-message" :
        rx.err == ETIMEDOUT ? "no answer to a keepalive ping" :
        strerror(rx.err);
    fprintf(stderr, "dillws: %s\n", why);
    return EX_FAIL;
}

/* Ctrl-C and SIGTERM: the handler only writes to a pipe, and a coroutine
   waiting on the pipe turns that into an event for the main loop. */
static int sigfd[2] = {-1, -1};
static volatile sig_atomic_t signo;

static void on_signal(int sig) {
    signo = sig;
    signal(sig, SIG_DFL);      /* a second one ends the program at once */
    char c = 0;
    ssize_t n = write(sigfd[1], &c, 1);
    (void)n;
}

coroutine static void signal_task(int ev) {
    if(fdin(sigfd[0], -1) < 0) return;
    int e = EV_SIGNAL;
    chsend(ev, &e, sizeof(e), -1);
}

/* Makes fd a non-blocking pipe and sends the signals sig1 and sig2 (0:
   none) to handler, which writes to it.  Returns 0 or -1. */
static int signal_pipe(int fd[2], void (*handler)(int), int sig1, int sig2) {
    if(pipe(fd) < 0) return -1;
    fcntl(fd[0], F_SETFL, O_NONBLOCK);
    fcntl(fd[1], F_SETFL, O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigaction(sig1, &sa, NULL);
    if(sig2) sigaction(sig2, &sa, NULL);
    return 0;
}

static void catch_signals(void) {
    signal_pipe(sigfd, on_signal, SIGINT, SIGTERM);
}

/* Waits for the receiver to finish: the server closed, the end of stdin
   or a signal started our closing handshake (the server then has a few
   seconds to answer), or the time is up. */
static int client_loop(int ws, int ev, int *txc) {
    int64_t end = run_end, closing = -1;
    int e = 0;
    while(1) {
        int64_t d = closing >= 0 ? closing : end;
        if(end >= 0 && d > end) d = end;
        if(chrecv(ev, &e, sizeof(e), d) < 0) {
            fprintf(stderr, "dillws: %s\n", closing >= 0 ?
                "the server did not answer the Close frame" : "timed out");
            return signo ? 128 + signo : EX_FAIL;
        }
        if(e == EV_RECV_END) break;
        if(e == EV_STDIN_END) closing = now() + 5000;
        if(e == EV_SIGNAL) {
            hclose(*txc);
            *txc = -1;
            vlog("* interrupted: closing");
            ws_done(ws, 1000, NULL, 0, capped(now() + 1000));
            closing = now() + 2000;
        }
    }
    int rc = client_result();
    return signo ? 128 + signo : rc;
}

static int run_client(void) {
    run_end = deadline_in(cfg.timeout_ms);
    struct target u;
    split_url(cfg.url, &u);
    struct stat st;
    if(fstat(0, &st) == 0 && S_ISREG(st.st_mode)) stdin_fdin = 0;
    /* Before connecting: a signal during the handshakes is kept in the
       pipe and closes the connection properly once it is open. */
    catch_signals();
    int64_t dl = setup_deadline();
    int ws = client_handshake(&u, dl);
    int ev[2];
    if(chmake(ev) < 0 || chmake(linger_ch) < 0)
        die(EX_FAIL, "chmake: %s", strerror(errno));
    int rxc = go(recv_task(ws, ev[1]));
    int txc = go(stdin_task(ws, ev[1]));
    int sgc = sigfd[0] >= 0 ? go(signal_task(ev[1])) : -1;
    if(rxc < 0 || txc < 0) die(EX_FAIL, "go: %s", strerror(errno));
    int rc = client_loop(ws, ev[0], &txc);
    if(txc >= 0) hclose(txc);
    if(sgc >= 0) hclose(sgc);
    hclose(rxc);
    hclose(ws);
    fdclean(0);
    return rc;
}

/******************************************************************************/
/*  Server                                                                    */
/******************************************************************************/

#if !defined DILL_DISABLE_TLS
/* The context new handshakes use; SIGHUP replaces it.  Threads read it
   without a lock, so a replaced context is kept (not freed) until exit:
   a handshake may have just read the old pointer. */
static struct tls_server_ctx *tlsctx;
#define MAX_RELOADS 64
static struct tls_server_ctx *retired[MAX_RELOADS];
static int nretired;
#endif
/* Broadcast: every connection joins one hub (shared by the threads) and
   subscribes to one topic.  A client whose queue would exceed
   --queue-bytes is dropped with status 1008. */
static struct dill_hub *bhub;
static int rwatch = -1;            /* redis_watch, with -v and --redis */

static void on_dropped(int ws, void *arg) {
    (void)ws;
    (void)arg;
    vlog("a client too slow: dropped");
}

static int check_request(const struct ws_request *req, void *arg) {
    char target[512];
    if(cfg.verbose && ws_request_header(req, ":path", target,
       sizeof(target)) >= 0)
        vlog("[%d] < GET %s HTTP/1.1", *(int*)arg, target);
    static const char *show[] = {"Host", "Origin", "User-Agent",
        "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"};
    char v[512];
    int id = *(int*)arg;
    for(size_t i = 0; cfg.verbose && i < sizeof(show) / sizeof(*show); i++)
        if(ws_request_header(req, show[i], v, sizeof(v)) >= 0)
            vlog("[%d] < %s: %s", id, show[i], v);
    if(cfg.origin) {
        if(ws_request_header(req, "Origin", v, sizeof(v)) < 0 ||
           strcmp(v, cfg.origin)) {
            vlog("[%d] refused: Origin is not %s", id, cfg.origin);
            return 403;
        }
    }
    return 0;
}

/* A request that is no upgrade: the health path (a load balancer's check)
   gets 200, the rest 404; only GET, since HEAD would get a body.  What the
   server can tell is that it accepts and answers: that is the check. */
static int http_request(const struct ws_request *req,
      struct ws_http_response *resp, void *arg) {
    char method[16], target[512];
    if(ws_request_header(req, ":method", method, sizeof(method)) < 0 ||
       ws_request_header(req, ":path", target, sizeof(target)) < 0)
        return 400;
    target[strcspn(target, "?")] = 0;
    if(strcmp(target, cfg.health)) return 404;
    if(strcmp(method, "GET")) return 405;
    *(int*)arg = 1;
    static const char ok[] = "ok\n";
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = ok;
    resp->len = sizeof(ok) - 1;
    resp->headers = "Cache-Control: no-store";
    return 0;
}

/* The handshake of one accepted connection; returns the WebSocket.  Not
   inlined: its frame would stay in serve's, on every connection's stack. */
__attribute__((noinline)) static int server_attach(int s, int id) {
    /* Not --timeout: that one is for how long the server runs. */
    int64_t dl = now() + cfg.hs_ms;
#if !defined DILL_DISABLE_TLS
    struct tls_server_ctx *ctx = __atomic_load_n(&tlsctx, __ATOMIC_ACQUIRE);
    if(ctx) {
        s = tls_attach_server_ctx(s, ctx, NULL, dl);
        if(s < 0) {
            vlog("[%d] TLS handshake failed: %s", id, strerror(errno));
            return -1;
        }
    }
#endif
    struct ws_options o = WS_OPTIONS_INIT;
    o.flags = cfg.binary ? 0 : WS_TEXT;
    o.max_message = cfg.max_message;
    o.protocols = cfg.proto;
    o.headers = cfg.nhdr ? cfg.hdrtext : NULL;
    o.check = check_request;
    o.check_arg = &id;
    o.ping_interval = cfg.ping_ms;
    int healthy = 0;
    if(cfg.health[0]) {
        o.http = http_request;
        o.http_arg = &healthy;
    }
    deflate_opts(&o);
    /* On the heap: on the stack they would keep a second page of every
       connection's stack resident (the handshake's pages below this frame
       are given back, this frame's are not). */
    struct {char res[1024], host[256], proto[256];} *n = malloc(sizeof(*n));
    if(!n) {hclose(s); errno = ENOMEM; return -1;}
    int ws = ws_attach_server_opts(s, n->res, sizeof(n->res), n->host,
        sizeof(n->host), &o, NULL, dl);
    int err = errno;
    if(ws >= 0 && ws_protocol(ws, n->proto, sizeof(n->proto)) < 0)
        n->proto[0] = 0;
    /* Checks come every second or so: -v stays readable. */
    if(ws < 0 && !(healthy && err == EACCES))
        vlog("[%d] handshake failed: %s", id, strerror(err));
    else if(ws >= 0)
        vlog("[%d] open: %s%s%s", id, n->res, n->proto[0] ? " protocol " : "",
            n->proto);
    free(n);
    if(ws < 0) {errno = err; return -1;}
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "[%d] ", id);
    deflate_log(ws, prefix);
    return ws;
}

/* Not inlined: its buffers would stay in serve's frame, on every
   connection's stack. */
__attribute__((noinline)) static void log_end(int ws, int id, int err) {
    if(err == EPIPE) {
        int code;
        char reason[128];
        ssize_t l = ws_status(ws, &code, reason, sizeof(reason));
        char what[48];
        snprintf(what, sizeof(what), "[%d] closed by the client: ", id);
        if(cfg.verbose) put_close(what, code, reason, l > 0 ? (size_t)l : 0);
    }
    else if(err && err != ECANCELED)
        vlog("[%d] connection failed: %s", id, strerror(err));
}

/* Broadcast: join the hub, publish what arrives, leave. */
static int serve_broadcast(int ws, int id, struct dbuf *b) {
    int sub = hub_join(bhub, ws);
    if(sub < 0) return errno;
    int err = 0;
    if(hub_subscribe(sub, "all") < 0) err = errno;
    while(!err) {
        int type;
        ssize_t n = recv_msg(ws, &type, b, -1);
        if(n < 0) {err = errno; break;}
        if(hub_publish(bhub, "all", type, b->p, (size_t)n, -1) < 0) {
            err = errno;
            if(err == EMSGSIZE) {
                vlog("[%d] message of %zd bytes too big to broadcast", id, n);
                err = 0;
            }
        }
    }
    hclose(sub);
    return err;
}

/* Graceful shutdown (SIGINT, SIGTERM): every server thread closes its
   listener, sends 1001 on each of its open connections and waits up to
   DRAIN_MS for the clients to answer.  The connections of a thread, in two
   lists: not yet asked to close, and asked. */
#define DRAIN_MS 5000
struct live {
    struct live *next, *prev;
    int ws;
};
static __thread struct live live_open, live_asked;

/* The lists of this thread, set up on first use. */
static void live_init(void) {
    if(live_open.next) return;
    live_open.next = live_open.prev = &live_open;
    live_asked.next = live_asked.prev = &live_asked;
}

static void live_push(struct live *head, struct live *n) {
    live_init();
    n->next = head;
    n->prev = head->prev;
    head->prev->next = n;
    head->prev = n;
}

static void live_erase(struct live *n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
}

/* Asks every open connection of this thread to close, then waits until
   their coroutines have ended (or the time is up). */
static void drain_thread(void) {
    int64_t dl = now() + DRAIN_MS;
    live_init();
    /* ws_done may block: the list head is always re-read, since other
       connections may end meanwhile. */
    while(live_open.next != &live_open) {
        struct live *n = live_open.next;
        live_erase(n);
        live_push(&live_asked, n);
        ws_done(n->ws, 1001, "going away", 10, dl);
    }
    while(live_asked.next != &live_asked && now() < dl)
        if(msleep(now() + 10) < 0) break;
}

coroutine static void serve(int s, int id) {
    int ws = server_attach(s, id);
    if(ws < 0) return;
    /* On the heap: drain_thread walks the list from another coroutine,
       and with hibernation on (DILL_HIBERNATE) this stack may be away. */
    struct live *node = malloc(sizeof(*node));
    if(!node) {
        ws_done(ws, 1011, NULL, 0, now() + 1000);
        hclose(ws);
        return;
    }
    *node = (struct live){NULL, NULL, ws};
    live_push(&live_open, node);
    struct dbuf b = {NULL, 0};
    int err = 0;
    if(cfg.broadcast) err = serve_broadcast(ws, id, &b);
    while(!cfg.broadcast) {
        int type;
        ssize_t n = recv_msg(ws, &type, &b, -1);
        if(n < 0) {err = errno; break;}
        if(!cfg.echo) print_msg(type, b.p, (size_t)n);
        else if(ws_send(ws, type, b.p, (size_t)n, -1) < 0) {
            err = errno;
            break;
        }
        dbuf_trim(&b);
        if(cfg.once) {
            ws_done(ws, 1000, NULL, 0, now() + 1000);
            while((n = recv_msg(ws, &type, &b, now() + 5000)) >= 0) {}
            err = errno;
            break;
        }
    }
    log_end(ws, id, err);
    free(b.p);
    live_erase(node);
    free(node);
    hclose(ws);
}

static void parse_listen(const char *spec, struct ipaddr *addr) {
    char host[256] = "";
    const char *port = spec;
    const char *colon = strrchr(spec, ':');
    if(colon) {
        const char *h = spec;
        size_t n = (size_t)(colon - spec);
        if(n >= 2 && h[0] == '[' && h[n - 1] == ']') {h++; n -= 2;}
        if(n >= sizeof(host)) die(EX_USAGE, "bad --listen address");
        memcpy(host, h, n);
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if(!*port || *end || p < 0 || p > 65535)
        die(EX_USAGE, "bad --listen port '%s'", port);
    if(ipaddr_local(addr, host[0] ? host : NULL, (int)p, 0) < 0)
        die(EX_USAGE, "bad --listen address '%s'", host);
}

#if !defined DILL_DISABLE_TLS
static struct tls_server_ctx *server_load_tls(void) {
    struct tls_server_options o = TLS_SERVER_OPTIONS_INIT;
    o.cert_file = cfg.cert;
    o.key_file = cfg.key;
    return tls_server_ctx_new(&o);
}

static const char *tls_load_error(int err) {
    return err == EINVAL ? "not a usable certificate and key" : strerror(err);
}

/* SIGHUP: the certificate and key files are read again for new
   connections; open ones keep theirs.  A file that does not load leaves
   the server on the old certificate. */
static int hupfd[2] = {-1, -1};
static int reload_cr = -1;

static void on_hup(int sig) {
    (void)sig;
    char c = 0;
    ssize_t n = write(hupfd[1], &c, 1);
    (void)n;
}

coroutine static void reload_task(void) {
    while(fdin(hupfd[0], -1) == 0) {
        char c[16];
        while(read(hupfd[0], c, sizeof(c)) > 0) {}
        struct tls_server_ctx *ctx = server_load_tls();
        if(!ctx) {
            fprintf(stderr, "dillws: reload failed, keeping the old "
                "certificate: %s\n", tls_load_error(errno));
            continue;
        }
        if(nretired == MAX_RELOADS) {
            fprintf(stderr, "dillws: too many reloads; restart the server\n");
            tls_server_ctx_free(ctx);
            continue;
        }
        retired[nretired++] = __atomic_exchange_n(&tlsctx, ctx,
            __ATOMIC_ACQ_REL);
        fprintf(stderr, "dillws: certificate reloaded\n");
    }
}
#endif

/* At the end of the server: the reloader and every context. */
static void server_end_tls(void) {
#if !defined DILL_DISABLE_TLS
    if(reload_cr >= 0) hclose(reload_cr);
    for(int i = 0; i < nretired; i++) tls_server_ctx_free(retired[i]);
    if(tlsctx) tls_server_ctx_free(tlsctx);
#endif
}

static void server_setup_tls(void) {
    if(!cfg.cert) return;
#if defined DILL_DISABLE_TLS
    die(EX_TLS, "this dillws was built without TLS");
#else
    tlsctx = server_load_tls();
    if(!tlsctx)
        die(EX_TLS, "cannot load %s / %s: %s", cfg.cert, cfg.key,
            tls_load_error(errno));
    if(signal_pipe(hupfd, on_hup, SIGHUP, 0) == 0) {
        reload_cr = go(reload_task());
        if(reload_cr < 0) die(EX_FAIL, "go: %s", strerror(errno));
    }
#endif
}

/* Accepting in batches: what waits in the backlog is taken at once, and
   the batch's coroutines are started by a tree of starters.  Every go()
   makes its caller wait for a whole round of the scheduler, which is long
   while many connections are busy: started in a loop, n connections would
   take n rounds, in a tree they take about log2(n). */
#define ACCEPT_BATCH 64

struct conn {
    int s;
    int id;
};

coroutine static void start_batch(int b, const struct conn *cs, int n);

/* Starts the coroutines of cs[1..n-1]; returns cs[0].  A function of its
   own so that the batch's copy is off the stack before serve runs: above
   serve's frame for the connection's whole life, its 512 bytes would push
   the receiving path into a second stack page. */
__attribute__((noinline)) static struct conn start_rest(int b,
      const struct conn *cs, int n) {
    /* Copied before the caller goes on (a new coroutine runs first). */
    struct conn mine[ACCEPT_BATCH];
    memcpy(mine, cs, sizeof(*cs) * (size_t)n);
    while(n > 1) {
        int h = n / 2;
        if(bundle_go(b, start_batch(b, mine + h, n - h)) < 0) {
            vlog("cannot start a coroutine: %s", strerror(errno));
            for(int i = h; i < n; i++) hclose(mine[i].s);
        }
        n = h;
    }
    return mine[0];
}

coroutine static void start_batch(int b, const struct conn *cs, int n) {
    struct conn c = start_rest(b, cs, n);
    serve(c.s, c.id);
}

/* Takes up to ACCEPT_BATCH connections: the first waits until end, the
   others only if already there.  Returns the count, 0 at the end (timeout
   or cancelled); *id numbers them. */
static int accept_batch(int ls, struct conn *cs, int *id, int64_t end) {
    int n = 0;
    while(n < ACCEPT_BATCH) {
        struct ipaddr peer;
        int s = tcp_accept(ls, &peer, n ? 0 : end);
        if(s < 0) {
            if(n) break;
            if(errno == ETIMEDOUT || errno == ECANCELED) return 0;
            vlog("accept: %s", strerror(errno));
            msleep(now() + 100);
            continue;
        }
        char ip[IPADDR_MAXSTRLEN];
        ipaddr_str(&peer, ip);
        vlog("[%d] connection from %s port %d", *id, ip, ipaddr_port(&peer));
        cs[n].s = s;
        cs[n++].id = (*id)++;
        if(cfg.once) break;
    }
    return n;
}

static void banner(struct ipaddr *addr, int n) {
    char ip[IPADDR_MAXSTRLEN];
    ipaddr_str(addr, ip);
    int v6 = strchr(ip, ':') != NULL;
    fprintf(stderr, "dillws: listening on %s://%s%s%s:%d/ (%s", cfg.cert ?
        "wss" : "ws", v6 ? "[" : "", ip, v6 ? "]" : "", ipaddr_port(addr),
        cfg.echo ? "echo" : cfg.broadcast ? "broadcast" : "printing messages");
    if(n > 1) fprintf(stderr, ", %d threads", n);
    fprintf(stderr, ")\n");
}

/* Accepts on ls until end (or cancellation) and starts a coroutine in b
   for every connection; tells ch when it is done. */
coroutine static void acceptor(int ls, int b, int64_t end, int ch) {
    int id = 1, n;
    struct conn cs[ACCEPT_BATCH];
    while((n = accept_batch(ls, cs, &id, end)) > 0) {
        if(cfg.once) {
            /* One connection, served right here, then exit. */
            serve(cs[0].s, cs[0].id);
            break;
        }
        if(bundle_go(b, start_batch(b, cs, n)) < 0) {
            vlog("cannot start a coroutine: %s", strerror(errno));
            for(int i = 0; i < n; i++) hclose(cs[i].s);
        }
    }
    int e = 0;
    chsend(ch, &e, sizeof(e), -1);
}

/* Tells ch when SIGINT or SIGTERM came (the pipe is never read, so every
   thread's watcher sees it). */
coroutine static void drain_watch(int ch) {
    if(fdin(sigfd[0], -1) < 0) return;
    int e = 1;
    chsend(ch, &e, sizeof(e), -1);
}

/* Serves ls until end, a signal (then drains) or cancellation; one such
   loop runs in each server thread. */
static void accept_loop(int ls, int64_t end) {
    int b = bundle(), ch[2];
    if(b < 0 || chmake(ch) < 0) die(EX_FAIL, "bundle: %s", strerror(errno));
    int acc = go(acceptor(ls, b, end, ch[0]));
    int w = sigfd[0] >= 0 ? go(drain_watch(ch[0])) : -1;
    if(acc < 0) die(EX_FAIL, "go: %s", strerror(errno));
    int e = 0;
    chrecv(ch[1], &e, sizeof(e), -1);
    hclose(acc);
    if(w >= 0) hclose(w);
    if(e == 1) drain_thread();
    hclose(b);
    hclose(ch[0]);
    hclose(ch[1]);
}

/* --threads: every thread listens on the address with SO_REUSEPORT; the
   first one picks the port when it is 0. */
static struct ipaddr srv_addr;
static int srv_port, srv_listening, srv_failed, srv_done;

static void server_thread(int index, void *arg) {
    (void)arg;
    struct ipaddr a = srv_addr;
    if(index != 0) {
        int port;
        while(!(port = __atomic_load_n(&srv_port, __ATOMIC_ACQUIRE)))
            if(msleep(now() + 1) < 0) return;
        ipaddr_setport(&a, port);
    }
    int ls = tcp_listen_reuseport(&a, 1024);
    if(ls < 0) {
        __atomic_store_n(&srv_failed, errno, __ATOMIC_RELEASE);
        return;
    }
    if(index == 0)
        __atomic_store_n(&srv_port, ipaddr_port(&a), __ATOMIC_RELEASE);
    __atomic_add_fetch(&srv_listening, 1, __ATOMIC_RELEASE);
    accept_loop(ls, -1);
    hclose(ls);
    __atomic_add_fetch(&srv_done, 1, __ATOMIC_RELEASE);
}

static int run_threads(int n) {
    int w = workers_start(n, server_thread, NULL);
    if(w < 0) die(EX_FAIL, "cannot start threads: %s", strerror(errno));
    int err;
    while(__atomic_load_n(&srv_listening, __ATOMIC_ACQUIRE) != n) {
        if((err = __atomic_load_n(&srv_failed, __ATOMIC_ACQUIRE)))
            die(EX_CONNECT, "cannot listen on %s: %s", cfg.listen,
                strerror(err));
        msleep(now() + 1);
    }
    ipaddr_setport(&srv_addr, srv_port);
    banner(&srv_addr, n);
    if(sigfd[0] >= 0 && fdin(sigfd[0], deadline_in(cfg.timeout_ms)) == 0) {
        /* Every thread drains its connections; then they end. */
        int64_t dl = now() + DRAIN_MS + 1000;
        while(__atomic_load_n(&srv_done, __ATOMIC_ACQUIRE) != n &&
              now() < dl)
            msleep(now() + 10);
    }
    else msleep(deadline_in(cfg.timeout_ms));
    hclose(w);
    if(rwatch >= 0) hclose(rwatch);
    if(bhub) hub_free(bhub);
    server_end_tls();
    return EX_OK;
}

/* -v with --redis: logs the changes of the Redis link (up, down, messages
   dropped because the queue was full or lost with a broken connection),
   looked at every 200 ms. */
coroutine static void redis_watch(void) {
    struct hub_stats last = HUB_STATS_INIT;
    while(msleep(now() + 200) == 0) {
        struct hub_stats st = HUB_STATS_INIT;
        if(hub_stats(bhub, &st) < 0) return;
        if(st.redis_up != last.redis_up ||
           st.redis_connects != last.redis_connects)
            vlog("redis: %s (connections made: %" PRIu64 ")",
                st.redis_up ? "up" : "down", st.redis_connects);
        if(st.redis_dropped != last.redis_dropped ||
           st.redis_lost != last.redis_lost)
            vlog("redis: messages dropped (queue full): %" PRIu64 ", lost "
                "(connection broke): %" PRIu64, st.redis_dropped,
                st.redis_lost);
        last = st;
    }
}

static int run_server(void) {
    server_setup_tls();
    catch_signals();
    if(cfg.broadcast) {
        struct hub_options o = HUB_OPTIONS_INIT;
        o.max_queue = cfg.queue_bytes;
        o.policy = HUB_CLOSE;
        o.dropped = on_dropped;
        o.send_timeout = cfg.stall_ms;
        o.redis = cfg.redis;
        bhub = hub_make(&o);
        if(!bhub && cfg.redis)
            die(errno == EINVAL ? EX_USAGE : EX_FAIL, "--redis %s: %s",
                cfg.redis, strerror(errno));
        if(!bhub) die(EX_FAIL, "hub_make: %s", strerror(errno));
        if(cfg.redis && cfg.verbose) rwatch = go(redis_watch());
    }
    struct ipaddr addr;
    parse_listen(cfg.listen, &addr);
    /* Printing and -1 keep to one thread: one stdout, one connection. */
    int n = cfg.echo || cfg.broadcast ? cfg.threads : 1;
    if(cfg.once) n = 1;
    if(n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (int)cpus;
    }
    if(n > 1) {
        srv_addr = addr;
        return run_threads(n);
    }
    int ls = tcp_listen(&addr, 1024);
    if(ls < 0)
        die(EX_CONNECT, "cannot listen on %s: %s", cfg.listen,
            strerror(errno));
    banner(&addr, 1);
    accept_loop(ls, deadline_in(cfg.timeout_ms));
    hclose(ls);
    if(rwatch >= 0) hclose(rwatch);
    if(bhub) hub_free(bhub);
    server_end_tls();
    return EX_OK;
}

/******************************************************************************/
/*  Bench                                                                     */
/******************************************************************************/

static struct {
    uint64_t msgs, errors, last_msgs;
    uint32_t *lat;      /* round trips in ns */
    size_t nlat, caplat, last_nlat;
    int firsterr;
} bs;

static uint64_t ns_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lat_add(uint64_t ns) {
    if(bs.nlat == bs.caplat) {
        size_t cap = bs.caplat ? bs.caplat * 2 : 1 << 16;
        uint32_t *p = realloc(bs.lat, cap * sizeof(*p));
        if(!p) return;   /* keep counting; percentiles use what fits */
        bs.lat = p;
        bs.caplat = cap;
    }
    bs.lat[bs.nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static void bench_error(int err) {
    if(!bs.errors++) bs.firsterr = err;
}

/* n bytes of JSON-like text: records with varying numbers and names. */
static void bench_json(uint8_t *p, size_t n) {
    static const char *const names[] = {"alice", "bob", "carol", "dave"};
    size_t i = 0;
    for(int k = 0; i < n; k++) {
        char rec[128];
        int l = snprintf(rec, sizeof(rec), "{\"id\":%d,\"user\":\"%s\","
            "\"score\":%d,\"tags\":[\"x\",\"y\"],\"ok\":%s},", k,
            names[rand() % 4], rand() % 100000, rand() % 2 ? "true" : "false");
        for(int j = 0; j < l && i < n; j++) p[i++] = (uint8_t)rec[j];
    }
}

/* The sequence number as 8 hex digits at the start (still valid text). */
static void bench_seq(uint8_t *p, size_t n, uint64_t seq) {
    for(size_t i = 0; i < 8 && i < n; i++)
        p[i] = (uint8_t)"0123456789abcdef"[(seq >> (28 - 4 * i)) & 15];
}

coroutine static void bench_conn(int ws, int64_t end) {
    size_t n = cfg.size;
    uint8_t *out = malloc(n + 8), *in = malloc(n + 8);
    if(!out || !in) {bench_error(ENOMEM); goto done;}
    /* Random bytes do not compress: with --deflate, JSON-like text. */
    if(!cfg.deflate) for(size_t i = 0; i < n; i++) out[i] = (uint8_t)rand();
    int type = cfg.deflate ? WS_TEXT : WS_BINARY;
    for(uint64_t seq = 0; now() < end; seq++) {
        /* A sequence number in the payload catches stale or mixed echoes. */
        if(cfg.deflate) {
            /* Fresh records each time: a repeated message would make
               context takeover look better than it is. */
            bench_json(out, n);
            bench_seq(out, n, seq);
        }
        else memcpy(out, &seq, n < 8 ? n : 8);
        uint64_t t0 = ns_now();
        if(ws_send(ws, type, out, n, end + 5000) < 0) {
            bench_error(errno);
            goto done;
        }
        int fl;
        ssize_t r = ws_recv(ws, &fl, in, n + 8, end + 5000);
        if(r < 0) {bench_error(errno); goto done;}
        if((size_t)r != n || memcmp(in, out, n)) {
            bench_error(EPROTO);
            goto done;
        }
        lat_add(ns_now() - t0);
        bs.msgs++;
    }
    /* Close cleanly: our Close, then the server's answer. */
    if(ws_done(ws, 1000, NULL, 0, now() + 2000) == 0) {
        int fl;
        while(ws_recv(ws, &fl, in, n + 8, now() + 2000) >= 0) {}
        if(errno != EPIPE) bench_error(errno);
    }
done:
    free(out);
    free(in);
    hclose(ws);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
    return x < y ? -1 : x > y;
}

static double pct(double p) {
    if(!bs.nlat) return 0;
    size_t i = (size_t)(p / 100.0 * (double)(bs.nlat - 1) + 0.5);
    return bs.lat[i] / 1e6;
}

/* Percentiles of the round trips since the last call. */
static void interval_pct(double *p50, double *p99) {
    size_t n = bs.nlat - bs.last_nlat;
    *p50 = *p99 = 0;
    uint32_t *v = n ? malloc(n * sizeof(*v)) : NULL;
    if(v) {
        memcpy(v, bs.lat + bs.last_nlat, n * sizeof(*v));
        qsort(v, n, sizeof(*v), cmp_u32);
        *p50 = v[(n - 1) / 2] / 1e6;
        *p99 = v[(size_t)((double)(n - 1) * 0.99)] / 1e6;
        free(v);
    }
    bs.last_nlat = bs.nlat;
}

static int bench_connect(const struct target *u) {
    struct ws_options o = WS_OPTIONS_INIT;
    o.protocols = cfg.proto;
    o.origin = cfg.origin;
    o.headers = cfg.nhdr ? cfg.hdrtext : NULL;
    o.max_message = cfg.size + 8 > (16 << 20) ? cfg.size + 8 : 0;
    deflate_opts(&o);
    return client_connect(u, &o, 0, setup_deadline());
}

static void bench_report(double secs) {
    qsort(bs.lat, bs.nlat, sizeof(*bs.lat), cmp_u32);
    double rate = bs.msgs / secs;
    printf("dillws bench %s: %d connection%s, %zu-byte messages, %.1f s%s\n",
        cfg.url, cfg.conns, cfg.conns == 1 ? "" : "s", cfg.size, secs,
        cfg.deflate ? ", permessage-deflate (JSON-like text)" : "");
    printf("messages:   %" PRIu64 " echoed (%.0f msg/s)\n", bs.msgs, rate);
    printf("throughput: %.2f MB/s each way (payload)\n",
        rate * (double)cfg.size / 1e6);
    printf("latency:    p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  "
        "max %.3f ms\n", pct(50), pct(99), pct(99.9), pct(100));
    if(!bs.errors) printf("errors:     0\n");
    else if(bs.firsterr == EPROTO)
        printf("errors:     %" PRIu64 " (first: an answer was not the echo "
            "of the message: is the target an echo server?)\n", bs.errors);
    else
        printf("errors:     %" PRIu64 " (first: %s)\n", bs.errors,
            strerror(bs.firsterr));
}

static int run_bench(void) {
    struct target u;
    split_url(cfg.url, &u);
    int *ws = malloc(sizeof(int) * (size_t)cfg.conns);
    if(!ws) die(EX_FAIL, "out of memory");
    for(int i = 0; i < cfg.conns; i++) ws[i] = bench_connect(&u);
    struct ws_deflate_params zp;
    int z = cfg.deflate && ws_deflate(ws[0], &zp) == 1;
    if(cfg.deflate && !z)
        fprintf(stderr, "dillws: the server did not agree to "
            "permessage-deflate\n");
    int b = bundle();
    int64_t start = now(), end = start + (int64_t)(cfg.seconds * 1000);
    uint64_t t0 = ns_now();
    for(int i = 0; i < cfg.conns; i++)
        if(bundle_go(b, bench_conn(ws[i], end)) < 0)
            die(EX_FAIL, "go: %s", strerror(errno));
    for(int sec = 1; now() < end; sec++) {
        int64_t tick = start + sec * 1000;
        if(msleep(tick < end ? tick : end) < 0) break;
        if(now() < tick) break;
        uint64_t d = bs.msgs - bs.last_msgs;
        bs.last_msgs = bs.msgs;
        double p50, p99;
        interval_pct(&p50, &p99);
        fprintf(stderr, "[%3ds] %8" PRIu64 " msg/s  %8.2f MB/s  p50 %.3f ms"
            "  p99 %.3f ms  errors %" PRIu64 "\n", sec, d,
            d * (double)cfg.size / 1e6, p50, p99, bs.errors);
    }
    double secs = (ns_now() - t0) / 1e9;
    if(bundle_wait(b, now() + 15000) < 0) bench_error(ETIMEDOUT);
    hclose(b);
    free(ws);
    bench_report(secs);
    if(z)
        printf("deflate:    server window %d bits%s, client window %d bits%s\n",
            zp.server_max_window_bits,
            zp.server_no_context_takeover ? " (no takeover)" : "",
            zp.client_max_window_bits,
            zp.client_no_context_takeover ? " (no takeover)" : "");
    free(bs.lat);
    return bs.errors || !bs.msgs ? EX_FAIL : EX_OK;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    parse_args(argc, argv);
    int rc;
    if(cfg.bench) rc = run_bench();
    else if(cfg.listen) rc = run_server();
    else rc = run_client();
    fflush(stdout);
    return rc;
}
