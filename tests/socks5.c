/* SOCKS5 (socks5_client_* against socks5_proxy_*) over ipc_pair and TCP:
   both authentication methods, addresses (IPv4, IPv6), names and address
   literals, every reply code and its errno, wrong credentials, malformed
   messages from a raw peer on either side (EPROTO, and the RFC 1928 reply
   a bad request gets), a peer that closes (ECONNRESET), deadlines of a
   silent peer, bad arguments, stream bytes right after the reply, and a
   plain bytestream (exact reads) underneath.  Plus the message functions
   of socks5msg.c byte by byte. */

#include <string.h>

#include "assert.h"
#include "plainsock.h"
#include "wstest.h"
#include "net/ipaddr.h"
#include "proto/socks5msg.h"

/* Transports: 0 = ipc_pair, 1 = TCP over 127.0.0.1, 2 = ipc_pair under a
   bytestream without partial reads. */
static int tr;

static void mkpair(int *a, int *b) {
    wst_bpair(tr == 1, a, b);
    if(tr == 2) *a = plain_wrap(*a);
}

/******************************************************************************/
/*  Our proxy side, scripted                                                  */
/******************************************************************************/

struct pscript {
    int byname;          /* recvcommandbyname instead of recvcommand */
    int useauth;         /* auth function checks "user"/"pass" */
    int reply;           /* reply code to send */
    int sendv6;          /* bound address in the reply is ::1 */
    /* Results. */
    int autherr;         /* errno of socks5_proxy_auth, 0 on success */
    int cmd;
    struct ipaddr addr;
    char host[256];
    int port;
};

static int auth_calls;

static int check_user(const char *user, const char *pass) {
    auth_calls++;
    return strcmp(user, "user") == 0 && strcmp(pass, "pass") == 0;
}

coroutine static void proxy(int s, struct pscript *p) {
    p->autherr = 0;
    if(socks5_proxy_auth(s, p->useauth ? check_user : NULL,
          now() + 5000) < 0) {
        p->autherr = errno;
        return;
    }
    if(p->byname)
        p->cmd = socks5_proxy_recvcommandbyname(s, p->host, &p->port,
            now() + 5000);
    else
        p->cmd = socks5_proxy_recvcommand(s, &p->addr, now() + 5000);
    errno_assert(p->cmd >= 0);
    struct ipaddr bnd;
    if(p->sendv6)
        errno_assert(ipaddr_local(&bnd, "::1", 4321, IPADDR_IPV6) == 0);
    else
        errno_assert(ipaddr_local(&bnd, "0.0.0.0", 0, IPADDR_IPV4) == 0);
    errno_assert(socks5_proxy_sendreply(s, p->reply, &bnd, now() + 5000) == 0);
    if(p->reply != SOCKS5_SUCCESS) return;
    /* The tunnel: echo five bytes reversed. */
    char buf[5];
    errno_assert(brecv(s, buf, 5, now() + 5000) == 0);
    char rev[5] = {buf[4], buf[3], buf[2], buf[1], buf[0]};
    errno_assert(bsend(s, rev, 5, now() + 5000) == 0);
}

static void hello(int s) {
    errno_assert(bsend(s, "hello", 5, now() + 5000) == 0);
    char buf[5];
    errno_assert(brecv(s, buf, 5, now() + 5000) == 0);
    assert(memcmp(buf, "olleh", 5) == 0);
}

/* One exchange: 0 = by address, 1 = by name; returns the client's result
   (errno set) with the proxy's view in *p. */
static int exchange(int byname, const char *target, int port,
      const char *user, const char *pass, struct pscript *p) {
    int c, s;
    mkpair(&c, &s);
    int cr = go(proxy(s, p));
    errno_assert(cr >= 0);
    int rc;
    if(byname)
        rc = socks5_client_connectbyname(c, user, pass, target, port,
            now() + 5000);
    else {
        struct ipaddr addr;
        errno_assert(ipaddr_local(&addr, target, port, 0) == 0);
        rc = socks5_client_connect(c, user, pass, &addr, now() + 5000);
    }
    int err = errno;
    if(rc == 0) hello(c);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
    errno = err;
    return rc;
}

static void test_success(void) {
    const char *targets[] = {"127.0.0.1", "::1", "localhost"};
    for(int auth = 0; auth != 2; auth++)
    for(int t = 0; t != 3; t++)
    for(int byname = 0; byname != 2; byname++)
    for(int pbyname = 0; pbyname != 2; pbyname++) {
        if(t == 2 && !byname) continue;   /* a name has no ipaddr_local */
        struct pscript p = {0};
        p.byname = pbyname;
        p.useauth = auth;
        p.sendv6 = t == 1;
        auth_calls = 0;
        errno_assert(exchange(byname, targets[t], 5555, auth ? "user" : NULL,
            auth ? "pass" : NULL, &p) == 0);
        assert(p.cmd == SOCKS5_CONNECT);
        assert(auth_calls == auth);
        if(pbyname) {
            /* Literals arrive as addresses and are formatted back. */
            assert(strcmp(p.host, targets[t]) == 0);
            assert(p.port == 5555);
        } else {
            assert(ipaddr_port(&p.addr) == 5555);
            char ip[IPADDR_MAXSTRLEN];
            ipaddr_str(&p.addr, ip);
            if(t == 1) assert(strcmp(ip, "::1") == 0);
            else if(t == 0) assert(strcmp(ip, "127.0.0.1") == 0);
            else assert(strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0);
        }
    }
}

static void test_replies(void) {
    static const int errs[] = {0, EIO, EACCES, ENETUNREACH, EHOSTUNREACH,
        ECONNREFUSED, ETIMEDOUT, EOPNOTSUPP, EAFNOSUPPORT, EPROTO, EPROTO};
    static const int codes[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255};
    for(size_t i = 1; i != sizeof(codes) / sizeof(codes[0]); i++) {
        struct pscript p = {0};
        p.reply = codes[i];
        p.byname = 1;
        assert_err(exchange(1, "example.org", 80, NULL, NULL, &p), errs[i]);
        assert(strcmp(p.host, "example.org") == 0 && p.port == 80);
        assert(p.cmd == SOCKS5_CONNECT);
    }
}

static void test_auth(void) {
    /* Wrong password. */
    struct pscript p = {0};
    p.useauth = 1;
    auth_calls = 0;
    assert_err(exchange(1, "127.0.0.1", 1, "user", "wrong", &p), EACCES);
    assert(p.autherr == EACCES && auth_calls == 1);
    /* No credentials where they are required: no method fits. */
    memset(&p, 0, sizeof(p));
    p.useauth = 1;
    auth_calls = 0;
    assert_err(exchange(1, "127.0.0.1", 1, NULL, NULL, &p), EACCES);
    assert(p.autherr == EACCES && auth_calls == 0);
    /* Only one of the two given: unauthenticated. */
    memset(&p, 0, sizeof(p));
    errno_assert(exchange(1, "127.0.0.1", 1, "user", NULL, &p) == 0);
    /* Empty user name and password are legal bytes on the wire. */
    memset(&p, 0, sizeof(p));
    p.useauth = 1;
    assert_err(exchange(1, "127.0.0.1", 1, "", "", &p), EACCES);
    assert(p.autherr == EACCES);
}

/* A name the proxy cannot resolve: recvcommand fails, the request is
   consumed, and the proxy can still answer it. */
coroutine static void unresolved_proxy(int s, int *err) {
    errno_assert(socks5_proxy_auth(s, NULL, now() + 5000) == 0);
    struct ipaddr addr;
    *err = 0;
    if(socks5_proxy_recvcommand(s, &addr, now() + 5000) < 0) *err = errno;
    errno_assert(socks5_proxy_sendreply(s, SOCKS5_HOST_UNREACHABLE, NULL,
        now() + 5000) == 0);
}

static void test_unresolved(void) {
    /* DNS goes to a UDP port where nobody listens. */
    struct ipaddr dns;
    errno_assert(ipaddr_local(&dns, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int u = udp_open(&dns, NULL);
    errno_assert(u >= 0);
    char csv[64];
    snprintf(csv, sizeof(csv), "127.0.0.1:%d", ipaddr_port(&dns));
    errno_assert(hclose(u) == 0);
    errno_assert(dill__ipaddr_dns_servers(csv) == 0);
    int c, s, err = -1;
    mkpair(&c, &s);
    int cr = go(unresolved_proxy(s, &err));
    errno_assert(cr >= 0);
    assert_err(socks5_client_connectbyname(c, NULL, NULL, "no-such-host.test",
        80, now() + 5000), EHOSTUNREACH);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    assert(err == EADDRNOTAVAIL);
    hclose(cr);
    hclose(c);
    hclose(s);
    errno_assert(dill__ipaddr_dns_servers(NULL) == 0);
}

/******************************************************************************/
/*  Raw peers                                                                 */
/******************************************************************************/

struct raw {
    const char *expect;   /* bytes to receive first */
    size_t expectlen;
    const char *send;     /* then bytes to send */
    size_t sendlen;
    int close;            /* then close at once (else wait for the peer) */
};

coroutine static void rawpeer(int s, const struct raw *r, int n) {
    for(int i = 0; i != n; i++) {
        if(r[i].expectlen) {
            char buf[600];
            assert(r[i].expectlen <= sizeof(buf));
            errno_assert(brecv(s, buf, r[i].expectlen, now() + 5000) == 0);
            assert(memcmp(buf, r[i].expect, r[i].expectlen) == 0);
        }
        if(r[i].sendlen)
            errno_assert(bsend(s, r[i].send, r[i].sendlen, now() + 5000) == 0);
        if(r[i].close) {hclose(s); return;}
    }
    /* Wait for the other side to finish with the socket. */
    char c;
    brecv(s, &c, 1, now() + 5000);
    hclose(s);
}

#define R(e, s, c) {e, sizeof(e) - 1, s, sizeof(s) - 1, c}
#define GREET_NOAUTH "\x05\x01\x00"
#define GREET_BOTH "\x05\x02\x00\x02"
#define REQ_LOCAL "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50"

static int raw_client(const struct raw *r, int n, const char *user,
      const char *pass, int64_t deadline) {
    int c, s;
    mkpair(&c, &s);
    int cr = go(rawpeer(s, r, n));
    errno_assert(cr >= 0);
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 80, 0) == 0);
    int rc = socks5_client_connect(c, user, pass, &addr, deadline);
    int err = errno;
    hclose(c);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    hclose(cr);
    errno = err;
    return rc;
}

static void test_malformed_replies(void) {
    /* Each array is one script; the client must fail with EPROTO. */
    struct raw bad_choice_ver[] = {R(GREET_NOAUTH, "\x04\x00", 0)};
    struct raw not_offered[] = {R(GREET_NOAUTH, "\x05\x02", 0)};
    struct raw odd_method[] = {R(GREET_BOTH, "\x05\x01", 0)};
    struct raw bad_authreply[] = {R(GREET_BOTH, "\x05\x02", 0),
        R("\x01\x01u\x01p", "\x05\x00", 0)};
    struct raw bad_reply_ver[] = {R(GREET_NOAUTH, "\x05\x00", 0),
        R(REQ_LOCAL, "\x04\x00\x00\x01\0\0\0\0\0\0", 0)};
    struct raw bad_atyp[] = {R(GREET_NOAUTH, "\x05\x00", 0),
        R(REQ_LOCAL, "\x05\x00\x00\x07\0\0\0\0\0\0", 0)};
    struct raw empty_name[] = {R(GREET_NOAUTH, "\x05\x00", 0),
        R(REQ_LOCAL, "\x05\x00\x00\x03\x00\0\0", 0)};
    struct raw nul_name[] = {R(GREET_NOAUTH, "\x05\x00", 0),
        R(REQ_LOCAL, "\x05\x00\x00\x03\x02\x61\x00\0\0", 0)};
    assert_err(raw_client(bad_choice_ver, 1, NULL, NULL, now() + 5000), EPROTO);
    assert_err(raw_client(not_offered, 1, NULL, NULL, now() + 5000), EPROTO);
    assert_err(raw_client(odd_method, 1, "u", "p", now() + 5000), EPROTO);
    assert_err(raw_client(bad_authreply, 2, "u", "p", now() + 5000), EPROTO);
    assert_err(raw_client(bad_reply_ver, 2, NULL, NULL, now() + 5000), EPROTO);
    assert_err(raw_client(bad_atyp, 2, NULL, NULL, now() + 5000), EPROTO);
    assert_err(raw_client(empty_name, 2, NULL, NULL, now() + 5000), EPROTO);
    assert_err(raw_client(nul_name, 2, NULL, NULL, now() + 5000), EPROTO);
    /* Refusals by the proxy. */
    struct raw nomethod[] = {R(GREET_BOTH, "\x05\xff", 0)};
    assert_err(raw_client(nomethod, 1, "u", "p", now() + 5000), EACCES);
    struct raw authfail[] = {R(GREET_BOTH, "\x05\x02", 0),
        R("\x01\x01u\x01p", "\x01\x01", 0)};
    assert_err(raw_client(authfail, 2, "u", "p", now() + 5000), EACCES);
    /* A reply with a name and an IPv6 address as the bound address. */
    struct raw name_bnd[] = {R(GREET_NOAUTH, "\x05\x00", 0),
        R(REQ_LOCAL, "\x05\x00\x00\x03\x04host\x12\x34", 0)};
    errno_assert(raw_client(name_bnd, 2, NULL, NULL, now() + 5000) == 0);
    struct raw v6_bnd[] = {R(GREET_NOAUTH, "\x05\x00", 0),
        R(REQ_LOCAL, "\x05\x00\x00\x04" "0123456789abcdef\x12\x34", 0)};
    errno_assert(raw_client(v6_bnd, 2, NULL, NULL, now() + 5000) == 0);
    /* The proxy closes in the middle of a message. */
    struct raw cut[] = {R(GREET_NOAUTH, "\x05\x00", 0),
        R(REQ_LOCAL, "\x05\x00\x00\x01\x7f", 1)};
    assert_err(raw_client(cut, 2, NULL, NULL, now() + 5000), ECONNRESET);
    struct raw closed[] = {R(GREET_NOAUTH, "", 1)};
    assert_err(raw_client(closed, 1, NULL, NULL, now() + 5000), ECONNRESET);
}

static void test_stream_after_reply(void) {
    /* Reply and the first tunnelled bytes in one write: connect must take
       the reply only. */
    struct raw eager[] = {R(GREET_NOAUTH, "\x05\x00", 0),
        R(REQ_LOCAL, "\x05\x00\x00\x01\0\0\0\0\0\0tunnel", 0)};
    int c, s;
    mkpair(&c, &s);
    int cr = go(rawpeer(s, eager, 2));
    errno_assert(cr >= 0);
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 80, 0) == 0);
    errno_assert(socks5_client_connect(c, NULL, NULL, &addr, now() + 5000) == 0);
    char buf[6];
    errno_assert(brecv(c, buf, 6, now() + 5000) == 0);
    assert(memcmp(buf, "tunnel", 6) == 0);
    hclose(c);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    hclose(cr);
}

static void test_deadlines(void) {
    /* A proxy that accepts the greeting and never answers. */
    struct raw silent[] = {R(GREET_NOAUTH, "", 0)};
    int64_t start = now();
    assert_err(raw_client(silent, 1, NULL, NULL, now() + 300), ETIMEDOUT);
    int64_t took = now() - start;
    assert(took >= 250 && took < 300 + SLACK);
    /* One that answers the greeting, then stalls before the reply. */
    struct raw stall[] = {R(GREET_NOAUTH, "\x05\x00", 0), R(REQ_LOCAL, "", 0)};
    start = now();
    assert_err(raw_client(stall, 2, NULL, NULL, now() + 300), ETIMEDOUT);
    assert(now() - start < 300 + SLACK);
    /* Proxy side: a client that says nothing. */
    int c, s;
    mkpair(&c, &s);
    start = now();
    assert_err(socks5_proxy_auth(s, NULL, now() + 300), ETIMEDOUT);
    assert(now() - start < 300 + SLACK);
    struct ipaddr addr;
    assert_err(socks5_proxy_recvcommand(s, &addr, now() + 100), ETIMEDOUT);
    /* Deadline 0 with nothing to read fails at once. */
    assert_err(socks5_proxy_auth(s, NULL, 0), ETIMEDOUT);
    hclose(c);
    hclose(s);
}

/* The proxy side against a raw client: returns the proxy call's result
   (errno set); the bytes the proxy sent back are checked by the script. */
coroutine static void rawclient(int s, const struct raw *r, int n) {
    rawpeer(s, r, n);
}

static int raw_proxy(const struct raw *r, int n, int step) {
    int c, s;
    mkpair(&c, &s);
    int cr = go(rawclient(c, r, n));
    errno_assert(cr >= 0);
    int rc;
    if(step == 0) rc = socks5_proxy_auth(s, check_user, now() + 5000);
    else {
        struct ipaddr addr;
        rc = socks5_proxy_recvcommand(s, &addr, now() + 5000);
    }
    int err = errno;
    hclose(s);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    hclose(cr);
    errno = err;
    return rc;
}

static void test_malformed_requests(void) {
    struct raw bad_ver[] = {R("", "\x04\x01\x00", 0)};
    assert_err(raw_proxy(bad_ver, 1, 0), EPROTO);
    struct raw no_methods[] = {R("", "\x05\x00", 0)};
    assert_err(raw_proxy(no_methods, 1, 0), EPROTO);
    struct raw bad_authver[] = {R("", GREET_BOTH, 0),
        R("\x05\x02", "\x05\x01u\x01p", 0)};
    assert_err(raw_proxy(bad_authver, 2, 0), EPROTO);
    struct raw nul_user[] = {R("", GREET_BOTH, 0),
        R("\x05\x02", "\x01\x02u\x00\x01p", 0), R("\x01\x01", "", 0)};
    assert_err(raw_proxy(nul_user, 3, 0), EPROTO);
    /* RFC 1928 section 6: an unknown address type or command is answered
       with 0x08 or 0x07 before the proxy gives up. */
    struct raw bad_atyp[] = {R("", "\x05\x01\x00\x05", 0),
        R("\x05\x08\x00\x01\0\0\0\0\0\0", "", 0)};
    assert_err(raw_proxy(bad_atyp, 2, 1), EPROTO);
    struct raw bad_cmd[] = {R("", "\x05\x09\x00\x01\x7f\0\0\x01\0\x50", 0),
        R("\x05\x07\x00\x01\0\0\0\0\0\0", "", 0)};
    assert_err(raw_proxy(bad_cmd, 2, 1), EPROTO);
    struct raw bad_reqver[] = {R("", "\x04\x01\x00\x01", 0)};
    assert_err(raw_proxy(bad_reqver, 1, 1), EPROTO);
    /* BIND and UDP ASSOCIATE are returned to the application. */
    struct raw bind[] = {R("", "\x05\x02\x00\x01\x7f\0\0\x01\0\x50", 0)};
    assert(raw_proxy(bind, 1, 1) == SOCKS5_BIND);
    struct raw udp[] = {R("", "\x05\x03\x00\x01\x7f\0\0\x01\0\x50", 0)};
    assert(raw_proxy(udp, 1, 1) == SOCKS5_UDP_ASSOCIATE);
    /* The client closes in the middle. */
    struct raw cut[] = {R("", "\x05\x02\x00", 1)};
    assert_err(raw_proxy(cut, 1, 0), ECONNRESET);
}

static void test_args(void) {
    int c, s;
    mkpair(&c, &s);
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    assert_err(socks5_client_connectbyname(c, NULL, NULL, longname, 80,
        now() + 1000), EINVAL);
    assert_err(socks5_client_connectbyname(c, NULL, NULL, "", 80,
        now() + 1000), EINVAL);
    assert_err(socks5_client_connectbyname(c, NULL, NULL, NULL, 80,
        now() + 1000), EINVAL);
    assert_err(socks5_client_connectbyname(c, NULL, NULL, "a", 65536,
        now() + 1000), EINVAL);
    assert_err(socks5_client_connectbyname(c, longname, "p", "a", 80,
        now() + 1000), EINVAL);
    assert_err(socks5_client_connect(c, NULL, NULL, NULL, now() + 1000),
        EINVAL);
    assert_err(socks5_proxy_sendreply(s, 256, NULL, now() + 1000), EINVAL);
    assert_err(socks5_proxy_sendreply(s, -1, NULL, now() + 1000), EINVAL);
    assert_err(socks5_proxy_recvcommand(s, NULL, now() + 1000), EINVAL);
    int port;
    assert_err(socks5_proxy_recvcommandbyname(s, NULL, &port, now() + 1000),
        EINVAL);
    /* Nothing was sent by the failed calls. */
    assert_err(socks5_proxy_auth(s, NULL, 0), ETIMEDOUT);
    /* A handle that is not a bytestream, and no handle at all. */
    int ch[2];
    errno_assert(chmake(ch) == 0);
    assert_err(socks5_client_connectbyname(ch[0], NULL, NULL, "a", 80,
        now() + 1000), ENOTSUP);
    assert_err(socks5_proxy_auth(ch[0], NULL, now() + 1000), ENOTSUP);
    assert_err(socks5_proxy_sendreply(12345, 0, NULL, now() + 1000), EBADF);
    hclose(ch[0]);
    hclose(ch[1]);
    hclose(c);
    hclose(s);
}

/* Several handshakes back to back on one socket pair, the way a program
   reusing a connection would see it. */
static void test_reuse(void) {
    int c, s;
    mkpair(&c, &s);
    for(int i = 0; i != 4; i++) {
        struct pscript p = {0};
        p.useauth = i & 1;
        p.byname = i >> 1;
        int cr = go(proxy(s, &p));
        errno_assert(cr >= 0);
        errno_assert(socks5_client_connectbyname(c, p.useauth ? "user" : NULL,
            "pass", "127.0.0.1", 5555, now() + 5000) == 0);
        hello(c);
        errno_assert(bundle_wait(cr, now() + 5000) == 0);
        hclose(cr);
    }
    hclose(c);
    hclose(s);
}

/******************************************************************************/
/*  Messages                                                                  */
/******************************************************************************/

static void test_msglen(void) {
    /* A complete request for "a.b":80, fed byte by byte. */
    const uint8_t req[] = {5, 1, 0, 3, 3, 'a', '.', 'b', 0, 80};
    size_t have = 0;
    int n, steps = 0;
    while((n = dill__socks5_msglen(DILL__SOCKS5_REQUEST, req, have)) >
          (int)have) {
        have = (size_t)n;
        steps++;
    }
    assert(n == (int)sizeof(req) && steps == 3);
    int code;
    struct dill__socks5_addr a;
    assert(dill__socks5_command_parse(req, sizeof(req), &code, &a) == 0);
    assert(code == 1 && a.atyp == 3 && strcmp(a.name, "a.b") == 0 &&
        a.port == 80);
    /* Round trip through the builder. */
    uint8_t out[262];
    assert(dill__socks5_command(out, 1, &a) == (ssize_t)sizeof(req));
    assert(memcmp(out, req, sizeof(req)) == 0);
    /* Auth: longest. */
    char u[256], p[256];
    memset(u, 'u', 255); u[255] = 0;
    memset(p, 'p', 255); p[255] = 0;
    uint8_t am[DILL__SOCKS5_MAXMSG];
    assert(dill__socks5_auth(am, u, p) == DILL__SOCKS5_MAXMSG);
    assert(dill__socks5_msglen(DILL__SOCKS5_AUTH, am, 2) == 258);
    assert(dill__socks5_msglen(DILL__SOCKS5_AUTH, am, 258) ==
        DILL__SOCKS5_MAXMSG);
    char u2[256], p2[256];
    assert(dill__socks5_auth_parse(am, DILL__SOCKS5_MAXMSG, u2, p2) == 0);
    assert(strcmp(u, u2) == 0 && strcmp(p, p2) == 0);
    /* Method choice. */
    const uint8_t g1[] = {5, 1, 0}, g2[] = {5, 1, 2}, g3[] = {5, 2, 2, 0},
        g4[] = {5, 1, 1};
    assert(dill__socks5_choose(g1, 3, 0) == DILL__SOCKS5_NOAUTH);
    assert(dill__socks5_choose(g1, 3, 1) == DILL__SOCKS5_NOMETHOD);
    assert(dill__socks5_choose(g2, 3, 0) == DILL__SOCKS5_USERPASS);
    assert(dill__socks5_choose(g3, 4, 0) == DILL__SOCKS5_NOAUTH);
    assert(dill__socks5_choose(g3, 4, 1) == DILL__SOCKS5_USERPASS);
    assert(dill__socks5_choose(g4, 3, 0) == DILL__SOCKS5_NOMETHOD);
}

int main(void) {
    test_msglen();
    for(tr = 0; tr != 3; tr++) {
        test_success();
        test_replies();
        test_unresolved();
        test_auth();
        test_malformed_replies();
        test_stream_after_reply();
        test_malformed_requests();
        test_deadlines();
        test_args();
        test_reuse();
    }
    return 0;
}
