/* TLS: certificate verification outcomes (valid chain, expired, wrong
   name, self-signed, untrusted CA), client certificates, ALPN, tls_done and
   tls_detach on both sides, deadlines, cancellation, garbage, truncation,
   large full-duplex transfers, the libdill-compatible calls, contexts from
   memory, TLS over other bytestreams.  Certificates are made at start by
   the openssl command in a temporary directory. */

#if defined DILL_DISABLE_TLS
int main(void) {return 0;}
#else

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#if defined __has_include
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "assert.h"
#include "plainsock.h"
#include "libdillimpl.h"
#include "net/bsockx.h"

#define SLACK 3000  /* upper bounds only prove that a wait was bounded; loaded CI machines are slow */

/* Checks that a pointer-returning call failed with err. */
#define assert_null(expr, err) \
    do {errno = 0; void *p__ = (expr); assert(!p__ && errno == (err));} \
    while(0)

static char dir[64];
static char path_buf[16][256];
static int npath;

/* dir/name (a few live at a time). */
static const char *p(const char *name) {
    char *b = path_buf[npath++ % 16];
    snprintf(b, 256, "%s/%s", dir, name);
    return b;
}

/* Root CA -> intermediate -> leaves; a second, untrusted CA; a self-signed
   leaf; an expired leaf; a leaf for another name; a client certificate. */
static const char *certscript =
    "set -e\n"
    "cd \"$1\"\n"
    "K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
    "printf 'basicConstraints=critical,CA:TRUE\\n"
        "keyUsage=critical,keyCertSign,cRLSign\\n' > ca.ext\n"
    "printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.ext\n"
    "printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n"
        "subjectAltName=DNS:example.com\\n' > other.ext\n"
    "printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n' "
        "> cli.ext\n"
    "openssl req -x509 $K -keyout ca.key -out ca.crt -subj /CN=dill-test-ca "
        "-days 30 -addext basicConstraints=critical,CA:TRUE "
        "-addext keyUsage=critical,keyCertSign,cRLSign\n"
    "openssl req $K -keyout int.key -out int.csr -subj /CN=dill-test-int\n"
    "openssl x509 -req -in int.csr -CA ca.crt -CAkey ca.key -set_serial 2 "
        "-days 30 -extfile ca.ext -out int.crt\n"
    "openssl req $K -keyout srv.key -out srv.csr -subj /CN=localhost\n"
    "openssl x509 -req -in srv.csr -CA int.crt -CAkey int.key -set_serial 3 "
        "-days 30 -extfile srv.ext -out srv.crt\n"
    "cat srv.crt int.crt > chain.pem\n"
    "openssl x509 -req -in srv.csr -CA int.crt -CAkey int.key -set_serial 4 "
        "-days -1 -extfile srv.ext -out exp.crt\n"
    "cat exp.crt int.crt > expchain.pem\n"
    "openssl x509 -req -in srv.csr -CA int.crt -CAkey int.key -set_serial 5 "
        "-days 30 -extfile other.ext -out other.crt\n"
    "cat other.crt int.crt > otherchain.pem\n"
    "openssl req -x509 -key srv.key -out self.crt -subj /CN=localhost "
        "-days 30 -addext subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    "openssl req -x509 $K -keyout ca2.key -out ca2.crt -subj /CN=untrusted "
        "-days 30 -addext basicConstraints=critical,CA:TRUE "
        "-addext keyUsage=critical,keyCertSign,cRLSign\n"
    "openssl x509 -req -in srv.csr -CA ca2.crt -CAkey ca2.key -set_serial 6 "
        "-days 30 -extfile srv.ext -out untrusted.crt\n"
    "openssl req $K -keyout cli.key -out cli.csr -subj /CN=dill-client\n"
    "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -set_serial 7 "
        "-days 30 -extfile cli.ext -out cli.crt\n"
    "mkdir cadir && cp ca.crt cadir/ && openssl rehash cadir\n";

static void makecerts(void) {
    strcpy(dir, "/tmp/dill-tls-XXXXXX");
    assert(mkdtemp(dir));
    char sh[128];
    snprintf(sh, sizeof(sh), "%s/certs.sh", dir);
    FILE *f = fopen(sh, "w");
    assert(f);
    fputs(certscript, f);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "sh %s %s >%s/log 2>&1", sh, dir, dir);
    if(system(cmd) != 0) {
        snprintf(cmd, sizeof(cmd), "cat %s/log >&2", dir);
        if(system(cmd)) {}
        assert(!"certificate generation failed");
    }
}

static void rmcerts(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert(system(cmd) == 0);
}

static char *slurp(const char *name) {
    FILE *f = fopen(name, "rb");
    assert(f);
    static char buf[8][8192];
    static int n;
    char *b = buf[n++ % 8];
    size_t len = fread(b, 1, 8191, f);
    b[len] = 0;
    fclose(f);
    return b;
}

/******************************************************************************/
/*  Harness                                                                   */
/******************************************************************************/

static int listener(int *port) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&a, 16);
    errno_assert(ls >= 0);
    *port = ipaddr_port(&a);
    return ls;
}

static int dial(int port) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", port, IPADDR_IPV4) == 0);
    int s = tcp_connect(&a, now() + 2000);
    errno_assert(s >= 0);
    return s;
}

struct srv {
    int ls;
    struct tls_server_ctx *ctx;
    int err;              /* 0, or errno of the first failure */
    char alpn[32];
};

/* Accepts one connection: handshake, "hello" in, "world" out, and waits
   for the client's close_notify. */
coroutine void srv_echo(struct srv *s) {
    s->err = -1;
    int c = tcp_accept(s->ls, NULL, now() + 5000);
    if(c < 0) {s->err = errno; return;}
    int t = tls_attach_server_ctx(c, s->ctx, NULL, now() + 5000);
    if(t < 0) {s->err = errno; return;}
    assert(tls_alpn(t, s->alpn, sizeof(s->alpn)) >= 0);
    char buf[5];
    if(brecv(t, buf, 5, now() + 5000) < 0) {s->err = errno; hclose(t); return;}
    assert(memcmp(buf, "hello", 5) == 0);
    if(bsend(t, "world", 5, now() + 5000) < 0) {
        s->err = errno; hclose(t); return;
    }
    int rc = brecv(t, buf, 1, now() + 5000);
    assert(rc < 0);
    s->err = errno == EPIPE ? 0 : errno;
    hclose(t);
}

/* tls_last_error() right after the client's last failed attach. */
static char cli_why[256];

/* Client side of srv_echo; returns 0 or the errno of the failing step. */
static int cli_echo(int port, const struct tls_client_options *o,
      char *alpn) {
    int s = dial(port);
    int t = tls_attach_client_opts(s, o, NULL, now() + 5000);
    if(t < 0) {
        int err = errno;
        /* The OpenSSL error queue is left clean. */
        assert(ERR_peek_error() == 0);
        /* Why, read before anything blocks (the server's own failure
           comes later and must not be what we see). */
        assert(tls_last_error(cli_why, sizeof(cli_why)) > 0);
        return err;
    }
    assert(hquery(t, bsock_type));
    assert(hquery(t, dill__bsockx_type));
    if(alpn) assert(tls_alpn(t, alpn, 32) >= 0);
    int err = 0;
    char buf[5];
    if(bsend(t, "hello", 5, now() + 5000) < 0) err = errno;
    if(!err && brecv(t, buf, 5, now() + 5000) < 0) err = errno;
    if(!err) assert(memcmp(buf, "world", 5) == 0);
    if(!err && tls_done(t, now() + 5000) < 0) err = errno;
    hclose(t);
    return err;
}

/* One connection against a server made from sopts; returns the client's
   result, *serr gets the server's. */
static int run_ctx(struct tls_server_ctx *ctx,
      const struct tls_client_options *copts, int *serr, char *calpn,
      char *salpn) {
    struct srv s;
    memset(&s, 0, sizeof(s));
    int port;
    s.ls = listener(&port);
    s.ctx = ctx;
    int h = go(srv_echo(&s));
    errno_assert(h >= 0);
    int err = cli_echo(port, copts, calpn);
    errno_assert(bundle_wait(h, now() + 5000) == 0);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(s.ls) == 0);
    if(serr) *serr = s.err;
    if(salpn) strcpy(salpn, s.alpn);
    return err;
}

static int run(const struct tls_server_options *sopts,
      const struct tls_client_options *copts, int *serr, char *calpn,
      char *salpn) {
    struct tls_server_ctx *ctx = tls_server_ctx_new(sopts);
    errno_assert(ctx);
    int err = run_ctx(ctx, copts, serr, calpn, salpn);
    tls_server_ctx_free(ctx);
    return err;
}

static struct tls_server_options srvopts(const char *chain) {
    struct tls_server_options o = TLS_SERVER_OPTIONS_INIT;
    o.cert_file = p(chain);
    o.key_file = p("srv.key");
    return o;
}

static struct tls_client_options cliopts(const char *name) {
    struct tls_client_options o = TLS_CLIENT_OPTIONS_INIT;
    o.server_name = name;
    o.ca_file = p("ca.crt");
    return o;
}

/******************************************************************************/
/*  Verification                                                              */
/******************************************************************************/

static void test_verify(void) {
    struct tls_server_options so = srvopts("chain.pem");
    struct tls_client_options co = cliopts("localhost");
    int serr;
    assert(run(&so, &co, &serr, NULL, NULL) == 0);
    assert(serr == 0);
    /* IP address SAN. */
    co = cliopts("127.0.0.1");
    assert(run(&so, &co, &serr, NULL, NULL) == 0 && serr == 0);
    /* A CA directory instead of a file. */
    co = cliopts("localhost");
    co.ca_file = NULL;
    co.ca_dir = p("cadir");
    assert(run(&so, &co, &serr, NULL, NULL) == 0 && serr == 0);
    /* No name: the chain alone is checked. */
    co = cliopts(NULL);
    assert(run(&so, &co, &serr, NULL, NULL) == 0 && serr == 0);
    /* TLS 1.3 only. */
    co = cliopts("localhost");
    co.min_version = TLS_VERSION_1_3;
    assert(run(&so, &co, &serr, NULL, NULL) == 0 && serr == 0);
    /* Names the certificate does not carry. */
    co = cliopts("example.org");
    assert(run(&so, &co, &serr, NULL, NULL) == EACCES && serr != 0);
    assert(strstr(cli_why, "verification failed: hostname mismatch"));
    co = cliopts("127.0.0.2");
    assert(run(&so, &co, &serr, NULL, NULL) == EACCES && serr != 0);
    assert(strstr(cli_why, "IP address mismatch"));
    /* Leaf without its intermediate: no path to the root. */
    so = srvopts("srv.crt");
    co = cliopts("localhost");
    assert(run(&so, &co, &serr, NULL, NULL) == EACCES && serr != 0);
    assert(strstr(cli_why, "unable to get local issuer certificate"));
    /* Expired. */
    so = srvopts("expchain.pem");
    assert(run(&so, &co, &serr, NULL, NULL) == EACCES && serr != 0);
    assert(strstr(cli_why, "certificate has expired"));
    /* The reason stays until the next failure; EMSGSIZE when it does not
       fit, EINVAL without a buffer. */
    char small[8];
    assert_err(tls_last_error(small, sizeof(small)), EMSGSIZE);
    assert_err(tls_last_error(NULL, 4), EINVAL);
    /* Issued for another name. */
    so = srvopts("otherchain.pem");
    assert(run(&so, &co, &serr, NULL, NULL) == EACCES && serr != 0);
    /* ... which is fine when that name is asked for. */
    co = cliopts("example.com");
    assert(run(&so, &co, &serr, NULL, NULL) == 0 && serr == 0);
    /* Self-signed. */
    so = srvopts("self.crt");
    co = cliopts("localhost");
    assert(run(&so, &co, &serr, NULL, NULL) == EACCES && serr != 0);
    assert(strstr(cli_why, "self-signed") || strstr(cli_why, "self signed"));
    /* ... accepted only when verification is switched off by name. */
    co.insecure_skip_verify = 1;
    assert(run(&so, &co, &serr, NULL, NULL) == 0 && serr == 0);
    /* Issued by a CA we do not trust. */
    so = srvopts("untrusted.crt");
    co = cliopts("localhost");
    assert(run(&so, &co, &serr, NULL, NULL) == EACCES && serr != 0);
    /* The system store does not know our private CA. */
    so = srvopts("chain.pem");
    /* (Loading the system store takes seconds under valgrind.) */
    if(RUNNING_ON_VALGRIND) return;
    co = cliopts("localhost");
    co.ca_file = NULL;
    assert(run(&so, &co, &serr, NULL, NULL) == EACCES && serr != 0);
}

/******************************************************************************/
/*  Client certificates and ALPN                                              */
/******************************************************************************/

static void test_clientauth(void) {
    struct tls_server_options so = srvopts("chain.pem");
    so.client_auth = TLS_CLIENT_AUTH_REQUIRE;
    so.client_ca_file = p("ca.crt");
    struct tls_client_options co = cliopts("localhost");
    co.cert_file = p("cli.crt");
    co.key_file = p("cli.key");
    int serr;
    assert(run(&so, &co, &serr, NULL, NULL) == 0 && serr == 0);
    /* Missing: with TLS 1.3 the client learns it on its first read. */
    co = cliopts("localhost");
    assert(run(&so, &co, &serr, NULL, NULL) == EACCES);
    assert(serr == EACCES);
    /* Requested only: a client without one gets in. */
    so.client_auth = TLS_CLIENT_AUTH_REQUEST;
    assert(run(&so, &co, &serr, NULL, NULL) == 0 && serr == 0);
    /* A certificate from the wrong CA is refused even when optional. */
    co.cert_file = p("untrusted.crt");
    co.key_file = p("srv.key");
    assert(run(&so, &co, &serr, NULL, NULL) == EACCES);
    assert(serr == EACCES);
    /* Everything from memory: CA, certificate and key. */
    so.client_auth = TLS_CLIENT_AUTH_REQUIRE;
    co = cliopts("localhost");
    co.ca_file = NULL;
    co.ca_pem = slurp(p("ca.crt"));
    co.cert_pem = slurp(p("cli.crt"));
    co.key_pem = slurp(p("cli.key"));
    assert(run(&so, &co, &serr, NULL, NULL) == 0 && serr == 0);
    co.key_pem = slurp(p("srv.key"));    /* not the certificate's key */
    assert(run(&so, &co, &serr, NULL, NULL) == EINVAL);
    /* Client certificate without the key. */
    co = cliopts("localhost");
    co.cert_file = p("cli.crt");
    int s[2];
    errno_assert(ipc_pair(s) == 0);
    assert_err(tls_attach_client_opts(s[0], &co, NULL, now() + 1000), EINVAL);
    /* ... which closed the socket. */
    assert_err(hclose(s[0]), EBADF);
    errno_assert(hclose(s[1]) == 0);
    /* Options without their size. */
    co = cliopts("localhost");
    co.size = 0;
    errno_assert(ipc_pair(s) == 0);
    assert_err(tls_attach_client_opts(s[0], &co, NULL, now() + 1000), EINVAL);
    assert_err(hclose(s[0]), EBADF);
    errno_assert(hclose(s[1]) == 0);
}

/* One server, two certificates: the client's SNI picks. */
static void test_sni(void) {
    struct tls_server_options so = srvopts("chain.pem");
    struct tls_server_ctx *ctx = tls_server_ctx_new(&so);
    errno_assert(ctx);
    so = srvopts("otherchain.pem");
    struct tls_server_ctx *other = tls_server_ctx_new(&so);
    errno_assert(other);
    assert_err(tls_server_ctx_sni(ctx, "bad name", other), EINVAL);
    assert_err(tls_server_ctx_sni(ctx, "*example.com", other), EINVAL);
    assert_err(tls_server_ctx_sni(ctx, NULL, other), EINVAL);
    assert_err(tls_server_ctx_sni(ctx, "example.com", NULL), EINVAL);
    errno_assert(tls_server_ctx_sni(ctx, "nothing.invalid", other) == 0);
    errno_assert(tls_server_ctx_sni(ctx, "EXAMPLE.com", other) == 0);
    /* ctx keeps its own references. */
    tls_server_ctx_free(other);
    int serr;
    struct tls_client_options co = cliopts("example.com");
    assert(run_ctx(ctx, &co, &serr, NULL, NULL) == 0 && serr == 0);
    co = cliopts("localhost");
    assert(run_ctx(ctx, &co, &serr, NULL, NULL) == 0 && serr == 0);
    /* A name nobody configured gets the default certificate. */
    co = cliopts("example.org");
    assert(run_ctx(ctx, &co, &serr, NULL, NULL) == EACCES);
    tls_server_ctx_free(ctx);
    /* Wildcards: one label in front. */
    so = srvopts("chain.pem");
    ctx = tls_server_ctx_new(&so);
    so = srvopts("otherchain.pem");
    other = tls_server_ctx_new(&so);
    errno_assert(ctx && other);
    errno_assert(tls_server_ctx_sni(ctx, "*.com", other) == 0);
    tls_server_ctx_free(other);
    co = cliopts("example.com");
    assert(run_ctx(ctx, &co, &serr, NULL, NULL) == 0 && serr == 0);
    tls_server_ctx_free(ctx);
}

static void test_alpn(void) {
    const char *sp[] = {"h2", "http/1.1", NULL};
    const char *cp[] = {"foo", "http/1.1", "h2", NULL};
    struct tls_server_options so = srvopts("chain.pem");
    so.alpn = sp;
    struct tls_client_options co = cliopts("localhost");
    co.alpn = cp;
    char ca[32], sa[32];
    int serr;
    /* Server preference wins. */
    assert(run(&so, &co, &serr, ca, sa) == 0 && serr == 0);
    assert(strcmp(ca, "h2") == 0 && strcmp(sa, "h2") == 0);
    const char *cp2[] = {"http/1.1", NULL};
    co.alpn = cp2;
    assert(run(&so, &co, &serr, ca, sa) == 0 && serr == 0);
    assert(strcmp(ca, "http/1.1") == 0 && strcmp(sa, "http/1.1") == 0);
    /* Nothing in common: refused. */
    const char *cp3[] = {"foo", NULL};
    co.alpn = cp3;
    assert(run(&so, &co, &serr, ca, sa) == EPROTO && serr == EPROTO);
    /* Client without ALPN: none agreed. */
    co.alpn = NULL;
    assert(run(&so, &co, &serr, ca, sa) == 0 && serr == 0);
    assert(ca[0] == 0 && sa[0] == 0);
    /* Bad lists. */
    const char *bad[] = {"", NULL};
    so.alpn = bad;
    assert_null(tls_server_ctx_new(&so), EINVAL);
    /* A structure without its size is refused even when complete. */
    struct tls_server_options nosize = srvopts("chain.pem");
    nosize.size = 0;
    assert_null(tls_server_ctx_new(&nosize), EINVAL);
}

/******************************************************************************/
/*  Connected pairs                                                           */
/******************************************************************************/

static struct tls_server_ctx *gctx;

struct pairsrv {
    int ls;
    int t;
    int err;
};

coroutine void pair_accept(struct pairsrv *s) {
    int c = tcp_accept(s->ls, NULL, now() + 5000);
    errno_assert(c >= 0);
    s->t = tls_attach_server_ctx(c, gctx, NULL, now() + 5000);
    s->err = s->t < 0 ? errno : 0;
}

/* A TLS connection over TCP: *c client side, *a server side. */
static void tlspair(int *c, int *a) {
    struct pairsrv s = {0};
    int port;
    s.ls = listener(&port);
    int h = go(pair_accept(&s));
    errno_assert(h >= 0);
    struct tls_client_options co = cliopts("localhost");
    *c = tls_attach_client_opts(dial(port), &co, NULL, now() + 5000);
    errno_assert(*c >= 0);
    errno_assert(bundle_wait(h, now() + 5000) == 0);
    hclose(h);
    hclose(s.ls);
    assert(s.err == 0);
    *a = s.t;
}

coroutine void detach_side(int t, const char *msg, int *out) {
    *out = tls_detach(t, now() + 5000);
    if(*out < 0) return;
    errno_assert(bsend(*out, msg, 3, now() + 5000) == 0);
}

static void test_done_detach(void) {
    int c, a;
    char buf[16];
    /* tls_done from the client, then from the server. */
    tlspair(&c, &a);
    errno_assert(bsend(c, "abc", 3, now() + 1000) == 0);
    errno_assert(tls_done(c, now() + 1000) == 0);
    assert_err(bsend(c, "x", 1, now() + 1000), EPIPE);
    assert_err(tls_done(c, now() + 1000), EPIPE);
    errno_assert(brecv(a, buf, 3, now() + 1000) == 0);
    assert(memcmp(buf, "abc", 3) == 0);
    assert_err(brecv(a, buf, 1, now() + 1000), EPIPE);
    assert_err(brecv(a, buf, 1, now() + 1000), EPIPE);
    /* The other direction still works. */
    errno_assert(bsend(a, "defg", 4, now() + 1000) == 0);
    errno_assert(tls_done(a, now() + 1000) == 0);
    errno_assert(brecv(c, buf, 4, now() + 1000) == 0);
    assert(memcmp(buf, "defg", 4) == 0);
    assert_err(brecv(c, buf, 1, now() + 1000), EPIPE);
    hclose(c);
    hclose(a);
    /* tls_detach on both sides at once, then plain TCP again. */
    tlspair(&c, &a);
    errno_assert(bsend(a, "data", 4, now() + 1000) == 0);
    int uc, ua;
    int h1 = go(detach_side(c, "cli", &uc));
    int h2 = go(detach_side(a, "srv", &ua));
    errno_assert(bundle_wait(h1, now() + 5000) == 0);
    errno_assert(bundle_wait(h2, now() + 5000) == 0);
    hclose(h1);
    hclose(h2);
    errno_assert(uc >= 0 && ua >= 0);
    assert_null(hquery(c, bsock_type), EBADF);
    errno_assert(brecv(uc, buf, 3, now() + 1000) == 0);
    assert(memcmp(buf, "srv", 3) == 0);
    errno_assert(brecv(ua, buf, 3, now() + 1000) == 0);
    assert(memcmp(buf, "cli", 3) == 0);
    /* And TLS again over the same TCP connection. */
    hclose(uc);
    hclose(ua);
    /* tls_done then tls_detach; detach of a non-TLS handle. */
    tlspair(&c, &a);
    errno_assert(tls_done(a, now() + 1000) == 0);
    h1 = go(detach_side(c, "cli", &uc));
    ua = tls_detach(a, now() + 5000);
    errno_assert(ua >= 0);
    errno_assert(bundle_wait(h1, now() + 5000) == 0);
    hclose(h1);
    errno_assert(uc >= 0);
    assert_err(tls_detach(ua, now() + 1000), ENOTSUP);
    assert_err(tls_done(ua, now() + 1000), ENOTSUP);
    assert_err(tls_alpn(ua, buf, sizeof(buf)), ENOTSUP);
    hclose(uc);
    hclose(ua);
}

/* A peer that ends without close_notify is told apart from one that
   sends it. */
static void test_truncation(void) {
    int c, a;
    char buf[8];
    tlspair(&c, &a);
    errno_assert(bsend(a, "xy", 2, now() + 1000) == 0);
    hclose(a);
    errno_assert(brecv(c, buf, 2, now() + 1000) == 0);
    assert_err(brecv(c, buf, 1, now() + 1000), ECONNRESET);
    assert_err(brecv(c, buf, 1, now() + 1000), ECONNRESET);
    hclose(c);
    /* Truncated in the middle of a brecv: partial data, then the error. */
    tlspair(&c, &a);
    errno_assert(bsend(a, "xy", 2, now() + 1000) == 0);
    errno_assert(tls_done(a, now() + 1000) == 0);
    assert_err(brecv(c, buf, 3, now() + 1000), EPIPE);
    hclose(a);
    hclose(c);
    /* The underlying TCP connection half-closed under TLS. */
    tlspair(&c, &a);
    hclose(a);
    int64_t start = now();
    assert_err(brecv(c, buf, 1, now() + 2000), ECONNRESET);
    assert(now() - start < 1000);
    hclose(c);
}

/******************************************************************************/
/*  Deadlines, cancellation, garbage                                          */
/******************************************************************************/

coroutine void silent(int ls, int ms) {
    int c = tcp_accept(ls, NULL, now() + 5000);
    if(c < 0) return;
    msleep(now() + ms);
    hclose(c);
}

coroutine void attach_forever(int port, int *err) {
    struct tls_client_options co = cliopts("localhost");
    int t = tls_attach_client_opts(dial(port), &co, NULL, -1);
    *err = t < 0 ? errno : 0;
}

coroutine void garbage(int ls) {
    int c = tcp_accept(ls, NULL, now() + 5000);
    if(c < 0) return;
    const char *g = "HTTP/1.1 400 Bad Request\r\n\r\n";
    bsend(c, g, strlen(g), now() + 1000);
    char buf[64];
    brecv(c, buf, sizeof(buf), now() + 1000);
    hclose(c);
}

static void test_deadlines(void) {
    int port;
    int ls = listener(&port);
    /* Client against a silent server. */
    int h = go(silent(ls, 1000));
    struct tls_client_options co = cliopts("localhost");
    int64_t start = now();
    assert_err(tls_attach_client_opts(dial(port), &co, NULL, now() + 200),
        ETIMEDOUT);
    int64_t el = now() - start;
    assert(el >= 190 && el < 200 + SLACK);
    hclose(h);
    /* Server against a silent client. */
    int s = dial(port);
    int c = tcp_accept(ls, NULL, now() + 1000);
    errno_assert(c >= 0);
    start = now();
    assert_err(tls_attach_server_ctx(c, gctx, NULL, now() + 200), ETIMEDOUT);
    el = now() - start;
    assert(el >= 190 && el < 200 + SLACK);
    assert_err(hclose(c), EBADF);
    hclose(s);
    /* Deadline 0 against a silent server fails at once. */
    h = go(silent(ls, 1000));
    start = now();
    assert_err(tls_attach_client_opts(dial(port), &co, NULL, 0), ETIMEDOUT);
    assert(now() - start < SLACK);
    hclose(h);
    /* Cancellation in the middle of a handshake. */
    h = go(silent(ls, 2000));
    int err = 0;
    int h2 = go(attach_forever(port, &err));
    errno_assert(msleep(now() + 50) == 0);
    start = now();
    errno_assert(hclose(h2) == 0);
    assert(now() - start < SLACK);
    assert(err == ECANCELED);
    hclose(h);
    /* Garbage instead of TLS, client side. */
    h = go(garbage(ls));
    start = now();
    assert_err(tls_attach_client_opts(dial(port), &co, NULL, now() + 3000),
        EPROTO);
    assert(now() - start < 1000);
    assert(ERR_peek_error() == 0);
    bundle_wait(h, now() + 2000);
    hclose(h);
    /* Garbage, server side. */
    s = dial(port);
    c = tcp_accept(ls, NULL, now() + 1000);
    const char *g = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    errno_assert(bsend(s, g, strlen(g), now() + 1000) == 0);
    start = now();
    assert_err(tls_attach_server_ctx(c, gctx, NULL, now() + 3000), EPROTO);
    assert(now() - start < 1000);
    hclose(s);
    /* A plain TCP peer that closes at once. */
    s = dial(port);
    c = tcp_accept(ls, NULL, now() + 1000);
    hclose(s);
    assert_err(tls_attach_server_ctx(c, gctx, NULL, now() + 3000),
        ECONNRESET);
    hclose(ls);
    /* Not a bytestream: EPROTO, and the handle is closed. */
    int ch[2];
    errno_assert(chmake(ch) == 0);
    assert_err(tls_attach_client(ch[0], now() + 1000), EPROTO);
    assert_err(hclose(ch[0]), EBADF);
    hclose(ch[1]);
    assert_err(tls_attach_client(12345, now() + 1000), EBADF);
}

/* Read timeouts leave the connection usable; a blocked call on a handle
   closed by another coroutine fails with EBADF. */
coroutine void closer(int t, int ms) {
    msleep(now() + ms);
    hclose(t);
}

coroutine void reader(int t, int *err) {
    char buf[4];
    *err = brecv(t, buf, 4, now() + 5000) < 0 ? errno : 0;
}

static void test_timeouts(void) {
    int c, a;
    char buf[8];
    tlspair(&c, &a);
    int64_t start = now();
    assert_err(brecv(c, buf, 3, now() + 100), ETIMEDOUT);
    assert(now() - start >= 90);
    assert_err(brecv(c, buf, 3, 0), ETIMEDOUT);
    errno_assert(bsend(a, "abc", 3, now() + 1000) == 0);
    errno_assert(brecv(c, buf, 3, now() + 1000) == 0);
    assert(memcmp(buf, "abc", 3) == 0);
    /* Two readers: the second is refused. */
    int err = -1;
    int h = go(reader(c, &err));
    assert_err(brecv(c, buf, 1, now() + 100), EBUSY);
    /* Close under the blocked reader. */
    int h2 = go(closer(c, 50));
    errno_assert(bundle_wait(h, now() + 2000) == 0);
    assert(err == EBADF);
    hclose(h);
    hclose(h2);
    hclose(a);
}

coroutine void big_writer(int t, int *err) {
    static uint8_t buf[1 << 20];
    *err = 0;
    for(int i = 0; i < 64; i++) {
        if(bsend(t, buf, sizeof(buf), now() + 5000) < 0) {
            *err = errno;
            return;
        }
    }
}

coroutine void cancel_reader(int t, int *err) {
    char buf[4];
    *err = brecv(t, buf, 4, -1) < 0 ? errno : 0;
}

/* Blocked senders: closed under, peer gone (no SIGPIPE), second sender;
   a cancelled receive leaves the connection usable. */
static void test_writers(void) {
    int c, a;
    tlspair(&c, &a);
    int err = -1;
    int h = go(big_writer(c, &err));
    errno_assert(msleep(now() + 50) == 0);
    assert_err(bsend(c, "x", 1, now() + 100), EBUSY);
    errno_assert(hclose(c) == 0);
    errno_assert(bundle_wait(h, now() + 2000) == 0);
    assert(err == EBADF);
    hclose(h);
    hclose(a);
    /* The peer goes away while we send. */
    tlspair(&c, &a);
    h = go(big_writer(c, &err));
    errno_assert(msleep(now() + 50) == 0);
    hclose(a);
    errno_assert(bundle_wait(h, now() + 5000) == 0);
    assert(err == ECONNRESET);
    hclose(h);
    assert_err(bsend(c, "x", 1, now() + 100), ECONNRESET);
    hclose(c);
    /* Cancelled while waiting for data: nothing lost. */
    tlspair(&c, &a);
    h = go(cancel_reader(c, &err));
    errno_assert(msleep(now() + 20) == 0);
    hclose(h);
    assert(err == ECANCELED);
    errno_assert(bsend(a, "abcd", 4, now() + 1000) == 0);
    char buf[4];
    errno_assert(brecv(c, buf, 4, now() + 1000) == 0);
    assert(memcmp(buf, "abcd", 4) == 0);
    hclose(c);
    hclose(a);
}

/******************************************************************************/
/*  Large transfers                                                           */
/******************************************************************************/

static void fill(uint8_t *b, size_t n, unsigned seed) {
    for(size_t i = 0; i < n; i++) b[i] = (uint8_t)(i * 7 + seed + (i >> 12));
}

static int check(const uint8_t *b, size_t n, unsigned seed) {
    for(size_t i = 0; i < n; i++)
        if(b[i] != (uint8_t)(i * 7 + seed + (i >> 12))) return 0;
    return 1;
}

coroutine void sender(int t, const uint8_t *b, size_t n, int *err) {
    /* Mixed sizes, with gather lists. */
    size_t pos = 0, step = 1;
    while(pos < n) {
        size_t len = step < n - pos ? step : n - pos;
        size_t half = len / 2;
        struct iolist i2 = {(void*)(b + pos + half), len - half, NULL, 0};
        struct iolist i1 = {(void*)(b + pos), half, &i2, 0};
        if(bsendl(t, &i1, &i2, now() + 20000) < 0) {*err = errno; return;}
        pos += len;
        step = step * 3 + 1;
        if(step > 3000000) step = 1;
    }
    *err = 0;
}

coroutine void reader_all(int t, uint8_t *b, size_t n) {
    errno_assert(brecv(t, b, n, now() + 20000) == 0);
}

static void duplex(int x, int y, size_t n) {
    uint8_t *bx = malloc(n), *by = malloc(n);
    uint8_t *rx = malloc(n), *ry = malloc(n);
    assert(bx && by && rx && ry);
    fill(bx, n, 1);
    fill(by, n, 2);
    int ex = -1, ey = -1;
    int h1 = go(sender(x, bx, n, &ex));
    int h2 = go(sender(y, by, n, &ey));
    errno_assert(h1 >= 0 && h2 >= 0);
    /* y reads in one call, x in random pieces. */
    int hr = go(reader_all(y, rx, n));
    size_t pos = 0;
    unsigned r = 12345;
    while(pos < n) {
        r = r * 1103515245 + 12345;
        size_t len = (r >> 8) % 100000 + 1;
        if(len > n - pos) len = n - pos;
        errno_assert(brecv(x, ry + pos, len, now() + 20000) == 0);
        pos += len;
    }
    errno_assert(bundle_wait(hr, now() + 20000) == 0);
    errno_assert(bundle_wait(h1, now() + 20000) == 0);
    errno_assert(bundle_wait(h2, now() + 20000) == 0);
    assert(ex == 0 && ey == 0);
    assert(check(rx, n, 1));
    assert(check(ry, n, 2));
    hclose(h1);
    hclose(h2);
    hclose(hr);
    free(bx); free(by); free(rx); free(ry);
}

static size_t bigsize(void) {
    return RUNNING_ON_VALGRIND ? 1024 * 1024 : 16 * 1024 * 1024;
}

static void test_large(void) {
    int c, a;
    tlspair(&c, &a);
    duplex(c, a, bigsize());
    /* Still in sync afterwards. */
    char buf[3];
    errno_assert(bsend(c, "end", 3, now() + 1000) == 0);
    errno_assert(brecv(a, buf, 3, now() + 1000) == 0);
    assert(memcmp(buf, "end", 3) == 0);
    hclose(c);
    hclose(a);
}

/******************************************************************************/
/*  libdill-compatible calls, contexts, other transports                      */
/******************************************************************************/

coroutine void compat_server(int ls, int n, int usemem) {
    struct tls_storage mem;
    for(int i = 0; i < n; i++) {
        int c = tcp_accept(ls, NULL, now() + 5000);
        errno_assert(c >= 0);
        int t = usemem ?
            tls_attach_server_mem(c, p("chain.pem"), p("srv.key"), &mem,
                now() + 5000) :
            tls_attach_server(c, p("chain.pem"), p("srv.key"), now() + 5000);
        errno_assert(t >= 0);
        char buf[4];
        errno_assert(brecv(t, buf, 4, now() + 5000) == 0);
        errno_assert(bsend(t, buf, 4, now() + 5000) == 0);
        t = tls_detach(t, now() + 5000);
        errno_assert(t >= 0);
        errno_assert(tcp_close(t, now() + 5000) == 0);
    }
}

static void test_compat(void) {
    int port;
    int ls = listener(&port);
    int h = go(compat_server(ls, 6, 0));
    struct tls_storage mem;
    for(int i = 0; i < 6; i++) {
        int s = dial(port);
        int t = i & 1 ? tls_attach_client_mem(s, &mem, now() + 5000) :
            tls_attach_client(s, now() + 5000);
        errno_assert(t >= 0);
        char buf[4];
        errno_assert(bsend(t, "ping", 4, now() + 5000) == 0);
        errno_assert(brecv(t, buf, 4, now() + 5000) == 0);
        assert(memcmp(buf, "ping", 4) == 0);
        t = tls_detach(t, now() + 5000);
        errno_assert(t >= 0);
        errno_assert(tcp_close(t, now() + 5000) == 0);
    }
    errno_assert(bundle_wait(h, now() + 5000) == 0);
    hclose(h);
    h = go(compat_server(ls, 1, 1));
    int t = tls_attach_client(dial(port), now() + 5000);
    errno_assert(t >= 0);
    char buf[4];
    errno_assert(bsend(t, "pong", 4, now() + 5000) == 0);
    errno_assert(brecv(t, buf, 4, now() + 5000) == 0);
    t = tls_detach(t, now() + 5000);
    errno_assert(t >= 0);
    hclose(t);
    errno_assert(bundle_wait(h, now() + 5000) == 0);
    hclose(h);
    /* Unreadable files: the socket is closed, errno tells why. */
    int s = dial(port);
    int c = tcp_accept(ls, NULL, now() + 1000);
    assert_err(tls_attach_server(c, p("nope.pem"), p("srv.key"), 0), ENOENT);
    assert_err(hclose(c), EBADF);
    hclose(s);
    s = dial(port);
    c = tcp_accept(ls, NULL, now() + 1000);
    /* Key that does not match the certificate. */
    assert_err(tls_attach_server(c, p("chain.pem"), p("cli.key"), 0),
        EINVAL);
    assert_err(hclose(c), EBADF);
    hclose(s);
    s = dial(port);
    assert_err(tls_attach_client_mem(s, NULL, 0), EINVAL);
    assert_err(hclose(s), EBADF);
    hclose(ls);
}

static void test_ctx(void) {
    struct tls_server_options so = TLS_SERVER_OPTIONS_INIT;
    assert_null(tls_server_ctx_new(NULL), EINVAL);
    assert_null(tls_server_ctx_new(&so), EINVAL);
    so.cert_pem = slurp(p("chain.pem"));
    so.key_pem = slurp(p("srv.key"));
    so.min_version = 0x0302;
    assert_null(tls_server_ctx_new(&so), EINVAL);
    so.min_version = TLS_VERSION_1_3;
    so.client_auth = TLS_CLIENT_AUTH_REQUIRE;
    assert_null(tls_server_ctx_new(&so), EINVAL);
    so.client_ca_pem = slurp(p("ca.crt"));
    struct tls_server_ctx *ctx = tls_server_ctx_new(&so);
    errno_assert(ctx);
    tls_server_ctx_free(ctx);
    so.client_auth = 0;
    so.key_pem =
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert_null(tls_server_ctx_new(&so), EINVAL);
    so.key_pem = NULL;
    so.key_file = p("missing.key");
    assert_null(tls_server_ctx_new(&so), ENOENT);
    assert(ERR_peek_error() == 0);
    /* A context from memory serves connections. */
    so.key_file = NULL;
    so.key_pem = slurp(p("srv.key"));
    struct tls_client_options co = cliopts("localhost");
    int serr;
    assert(run(&so, &co, &serr, NULL, NULL) == 0 && serr == 0);
    /* The context may go while its connections live. */
    struct tls_server_ctx *old = gctx;
    gctx = tls_server_ctx_new(&so);
    errno_assert(gctx);
    int c, a;
    tlspair(&c, &a);
    tls_server_ctx_free(gctx);
    gctx = old;
    char buf[2];
    errno_assert(bsend(c, "ok", 2, now() + 1000) == 0);
    errno_assert(brecv(a, buf, 2, now() + 1000) == 0);
    hclose(c);
    hclose(a);
}

coroutine void ipc_server(int s, struct tls_server_ctx *ctx, int *out) {
    *out = tls_attach_server_ctx(s, ctx, NULL, now() + 5000);
    errno_assert(*out >= 0);
}

/* TLS over ipc and TLS over TLS: any bytestream works below. */
static void test_layers(void) {
    int s[2];
    errno_assert(ipc_pair(s) == 0);
    int a;
    int h = go(ipc_server(s[1], gctx, &a));
    struct tls_client_options co = cliopts("localhost");
    struct tls_storage mem;
    int c = tls_attach_client_opts(s[0], &co, &mem, now() + 5000);
    errno_assert(c >= 0);
    errno_assert(bundle_wait(h, now() + 5000) == 0);
    hclose(h);
    int a2;
    h = go(ipc_server(a, gctx, &a2));
    int c2 = tls_attach_client_opts(c, &co, NULL, now() + 5000);
    errno_assert(c2 >= 0);
    errno_assert(bundle_wait(h, now() + 5000) == 0);
    hclose(h);
    duplex(c2, a2, bigsize() / 8);
    /* Detach the outer layer, the inner one still works. */
    int hd = go(detach_side(a2, "srv", &a));
    c = tls_detach(c2, now() + 5000);
    errno_assert(c >= 0);
    errno_assert(bundle_wait(hd, now() + 5000) == 0);
    hclose(hd);
    char buf[3];
    errno_assert(brecv(c, buf, 3, now() + 1000) == 0);
    assert(memcmp(buf, "srv", 3) == 0);
    hclose(c);
    hclose(a);
}


static void test_plain_lower(void) {
    int s[2];
    errno_assert(ipc_pair(s) == 0);
    int a;
    int h = go(ipc_server(plain_wrap(s[1]), gctx, &a));
    struct tls_client_options co = cliopts("localhost");
    int c = tls_attach_client_opts(plain_wrap(s[0]), &co, NULL,
        now() + 5000);
    errno_assert(c >= 0);
    errno_assert(bundle_wait(h, now() + 5000) == 0);
    hclose(h);
    duplex(c, a, 256 * 1024);
    /* Truncation and close_notify are still told apart. */
    errno_assert(tls_done(a, now() + 1000) == 0);
    char buf[1];
    assert_err(brecv(c, buf, 1, now() + 1000), EPIPE);
    hclose(a);
    hclose(c);
}

/* Replaced certificate files are noticed by tls_attach_server. */
coroutine void rotate_server(int ls, const char *cert, int *err) {
    int c = tcp_accept(ls, NULL, now() + 5000);
    errno_assert(c >= 0);
    int t = tls_attach_server(c, cert, p("srv.key"), now() + 5000);
    *err = t < 0 ? errno : 0;
    if(t >= 0) {
        char b[1];
        brecv(t, b, 1, now() + 5000);
        hclose(t);
    }
}

static void test_rotation(void) {
    char cert[256];
    snprintf(cert, sizeof(cert), "%s/rotating.pem", dir);
    const char *names[] = {"localhost", "example.com"};
    const char *files[] = {"chain.pem", "otherchain.pem"};
    int port;
    int ls = listener(&port);
    for(int i = 0; i < 4; i++) {
        char cmd[1200];
        snprintf(cmd, sizeof(cmd), "cp %s %s.tmp && mv %s.tmp %s",
            p(files[i & 1]), cert, cert, cert);
        assert(system(cmd) == 0);
        int err = -1;
        int h = go(rotate_server(ls, cert, &err));
        struct tls_client_options co = cliopts(names[i & 1]);
        int t = tls_attach_client_opts(dial(port), &co, NULL, now() + 5000);
        errno_assert(t >= 0);
        errno_assert(bsend(t, "x", 1, now() + 1000) == 0);
        errno_assert(bundle_wait(h, now() + 5000) == 0);
        hclose(h);
        hclose(t);
        assert(err == 0);
    }
    hclose(ls);
}

/* WebSocket and HTTP run unchanged over TLS. */
coroutine void ws_server(int t, int *err) {
    char res[64], host[64];
    int w = ws_attach_server(t, WS_BINARY, res, sizeof(res), host,
        sizeof(host), now() + 5000);
    if(w < 0) {*err = errno; return;}
    assert(strcmp(res, "/chat") == 0 && strcmp(host, "localhost") == 0);
    static char buf[200000];
    for(int i = 0; i < 3; i++) {
        int flags;
        ssize_t n = ws_recv(w, &flags, buf, sizeof(buf), now() + 5000);
        if(n < 0) {*err = errno; hclose(w); return;}
        if(ws_send(w, flags, buf, (size_t)n, now() + 5000) < 0) {
            *err = errno; hclose(w); return;
        }
    }
    *err = 0;
    hclose(w);
}

static void test_ws_http(void) {
    int c, a;
    tlspair(&c, &a);
    int err = -1;
    int h = go(ws_server(a, &err));
    int w = ws_attach_client(c, WS_BINARY, "/chat", "localhost",
        now() + 5000);
    errno_assert(w >= 0);
    static char out[150000], in[200000];
    size_t sizes[] = {5, 70000, 150000};
    for(int i = 0; i < 3; i++) {
        fill((uint8_t*)out, sizes[i], (unsigned)i);
        errno_assert(ws_send(w, WS_BINARY, out, sizes[i], now() + 5000) == 0);
        int flags;
        ssize_t n = ws_recv(w, &flags, in, sizeof(in), now() + 5000);
        assert(n == (ssize_t)sizes[i]);
        assert(check((uint8_t*)in, sizes[i], (unsigned)i));
    }
    errno_assert(bundle_wait(h, now() + 5000) == 0);
    hclose(h);
    assert(err == 0);
    hclose(w);
    /* HTTP request line and fields. */
    tlspair(&c, &a);
    int hc = http_attach(c);
    int ha = http_attach(a);
    errno_assert(hc >= 0 && ha >= 0);
    errno_assert(http_sendrequest(hc, "GET", "/x", now() + 1000) == 0);
    errno_assert(http_sendfield(hc, "Host", "localhost", now() + 1000) == 0);
    errno_assert(http_done(hc, now() + 1000) == 0);
    char cmd[16], res[16], name[16], val[16];
    errno_assert(http_recvrequest(ha, cmd, sizeof(cmd), res, sizeof(res),
        now() + 1000) == 0);
    assert(strcmp(cmd, "GET") == 0 && strcmp(res, "/x") == 0);
    errno_assert(http_recvfield(ha, name, sizeof(name), val, sizeof(val),
        now() + 1000) == 0);
    assert(strcmp(name, "Host") == 0 && strcmp(val, "localhost") == 0);
    assert_err(http_recvfield(ha, name, sizeof(name), val, sizeof(val),
        now() + 1000), EPIPE);
    hclose(hc);
    hclose(ha);
}

/* Runs a test; DILL_TEST_VERBOSE=1 prints how long it took. */
#define RUN(f) \
    do {\
        int64_t t0__ = now();\
        f();\
        if(getenv("DILL_TEST_VERBOSE"))\
            fprintf(stderr, "%s: %d ms\n", #f, (int)(now() - t0__));\
    } while(0)

int main(void) {
    makecerts();
    struct tls_server_options so = srvopts("chain.pem");
    gctx = tls_server_ctx_new(&so);
    errno_assert(gctx);
    RUN(test_verify);
    RUN(test_clientauth);
    RUN(test_sni);
    RUN(test_alpn);
    RUN(test_done_detach);
    RUN(test_truncation);
    RUN(test_deadlines);
    RUN(test_timeouts);
    RUN(test_writers);
    RUN(test_large);
    RUN(test_compat);
    RUN(test_ctx);
    RUN(test_layers);
    RUN(test_plain_lower);
    RUN(test_rotation);
    RUN(test_ws_http);
    tls_server_ctx_free(gctx);
    rmcerts();
    return 0;
}

#endif
