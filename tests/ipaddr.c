/* IP addresses: literals, local interfaces, localhost and .invalid names,
   /etc/hosts, and DNS through a fake server on 127.0.0.1 (no traffic
   leaves the machine). */

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <unistd.h>

#include "assert.h"
#include "libdill.h"
#include "net/ipaddr.h"

#define SLACK 3000  /* upper bounds only prove that a wait was bounded; loaded CI machines are slow */

static void expect(const struct ipaddr *a, const char *str, int port) {
    char buf[IPADDR_MAXSTRLEN];
    assert(ipaddr_str(a, buf) == buf);
    if(strcmp(buf, str) != 0) {
        fprintf(stderr, "expected %s, got %s\n", str, buf);
        assert(0);
    }
    assert(ipaddr_port(a) == port);
}

static void test_literals(void) {
    struct ipaddr a, b;
    errno_assert(ipaddr_local(&a, "127.0.0.1", 80, 0) == 0);
    expect(&a, "127.0.0.1", 80);
    assert(ipaddr_family(&a) == AF_INET);
    assert(ipaddr_len(&a) == sizeof(struct sockaddr_in));
    const struct sockaddr_in *sin = (const void*)ipaddr_sockaddr(&a);
    assert(sin->sin_family == AF_INET && ntohs(sin->sin_port) == 80);
    ipaddr_setport(&a, 8080);
    assert(ipaddr_port(&a) == 8080);
    errno_assert(ipaddr_local(&b, "127.0.0.1", 80, IPADDR_PREF_IPV6) == 0);
    assert(ipaddr_equal(&a, &b, 1));
    assert(!ipaddr_equal(&a, &b, 0));
    errno_assert(ipaddr_local(&a, "::1", 443, 0) == 0);
    expect(&a, "::1", 443);
    assert(ipaddr_family(&a) == AF_INET6);
    assert(ipaddr_len(&a) == sizeof(struct sockaddr_in6));
    assert(!ipaddr_equal(&a, &b, 1));
    errno_assert(ipaddr_local(&a, "2001:db8::7", 1, IPADDR_IPV6) == 0);
    expect(&a, "2001:db8::7", 1);
    errno_assert(ipaddr_local(&a, "fe80::1%lo", 1, IPADDR_IPV6) == 0);
    expect(&a, "fe80::1", 1);
    assert(((const struct sockaddr_in6*)(const void*)ipaddr_sockaddr(&a))
        ->sin6_scope_id != 0);
    /* Families that mode excludes. */
    assert_err(ipaddr_local(&a, "::1", 1, IPADDR_IPV4), ENODEV);
    assert_err(ipaddr_local(&a, "127.0.0.1", 1, IPADDR_IPV6), ENODEV);
    assert_err(ipaddr_remote(&a, "::1", 1, IPADDR_IPV4, -1), EADDRNOTAVAIL);
    assert_err(ipaddr_remote(&a, "127.0.0.1", 1, IPADDR_IPV6, -1),
        EADDRNOTAVAIL);
    /* Remote literals skip DNS for both families, in every mode. */
    for(int mode = 0; mode <= IPADDR_PREF_IPV6; mode++) {
        if(mode != IPADDR_IPV6) {
            errno_assert(ipaddr_remote(&a, "192.0.2.9", 7, mode, 0) == 0);
            expect(&a, "192.0.2.9", 7);
        }
        if(mode != IPADDR_IPV4) {
            errno_assert(ipaddr_remote(&a, "2001:db8::9", 7, mode, 0) == 0);
            expect(&a, "2001:db8::9", 7);
        }
    }
    /* Argument checks. */
    assert_err(ipaddr_local(NULL, "127.0.0.1", 1, 0), EINVAL);
    assert_err(ipaddr_local(&a, "127.0.0.1", 65536, 0), EINVAL);
    assert_err(ipaddr_local(&a, "127.0.0.1", -1, 0), EINVAL);
    assert_err(ipaddr_local(&a, "127.0.0.1", 1, 5), EINVAL);
    assert_err(ipaddr_remote(&a, NULL, 1, 0, -1), EINVAL);
    assert_err(ipaddr_remote(&a, "127.0.0.1", 1, -1, -1), EINVAL);
    assert_err(ipaddr_remotes(&a, 0, "127.0.0.1", 1, 0, -1), EINVAL);
    assert_err(ipaddr_remote(&a, "", 1, 0, -1), EADDRNOTAVAIL);
}

static void test_local(void) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, NULL, 5, 0) == 0);
    expect(&a, "0.0.0.0", 5);
    errno_assert(ipaddr_local(&a, NULL, 5, IPADDR_IPV4) == 0);
    expect(&a, "0.0.0.0", 5);
    errno_assert(ipaddr_local(&a, NULL, 5, IPADDR_IPV6) == 0);
    expect(&a, "::", 5);
    errno_assert(ipaddr_local(&a, NULL, 5, IPADDR_PREF_IPV6) == 0);
    expect(&a, "::", 5);
    /* The loopback interface by name. */
    errno_assert(ipaddr_local(&a, "lo", 6, IPADDR_IPV4) == 0);
    expect(&a, "127.0.0.1", 6);
    errno_assert(ipaddr_local(&a, "lo", 6, 0) == 0);
    expect(&a, "127.0.0.1", 6);
    if(ipaddr_local(&a, "lo", 6, IPADDR_IPV6) == 0) expect(&a, "::1", 6);
    else assert(errno == ENODEV);
    assert_err(ipaddr_local(&a, "nosuchif0", 1, 0), ENODEV);
}

static void test_special_names(void) {
    struct ipaddr a[4];
    errno_assert(ipaddr_remote(&a[0], "localhost", 80, 0, now() + 1000) == 0);
    expect(&a[0], "127.0.0.1", 80);
    errno_assert(ipaddr_remote(&a[0], "localhost", 80, IPADDR_IPV6, -1) == 0);
    expect(&a[0], "::1", 80);
    errno_assert(ipaddr_remote(&a[0], "LocalHost.", 80, IPADDR_PREF_IPV6,
        -1) == 0);
    expect(&a[0], "::1", 80);
    assert(ipaddr_remotes(a, 4, "localhost", 81, IPADDR_PREF_IPV4, -1) == 2);
    expect(&a[0], "127.0.0.1", 81);
    expect(&a[1], "::1", 81);
    assert(ipaddr_remotes(a, 4, "a.b.localhost", 82, IPADDR_PREF_IPV6, -1)
        == 2);
    expect(&a[0], "::1", 82);
    expect(&a[1], "127.0.0.1", 82);
    assert(ipaddr_remotes(a, 1, "localhost", 83, IPADDR_IPV4, -1) == 1);
    /* RFC 6761 .invalid: fails at once, whatever the deadline. */
    int64_t t = now();
    assert_err(ipaddr_remote(&a[0], "no-such-host.invalid", 80, 0, -1),
        EADDRNOTAVAIL);
    assert_err(ipaddr_remote(&a[0], "x.INVALID.", 80, IPADDR_IPV6, -1),
        EADDRNOTAVAIL);
    assert(now() - t < 100);
}

/* The first IPv4 name of /etc/hosts (not localhost) resolves to its
   address. */
static void check_hosts(void) {
    struct ipaddr a[1];
    FILE *f = fopen("/etc/hosts", "r");
    char line[512];
    int checked = 0;
    while(f && !checked && fgets(line, sizeof(line), f)) {
        char ip[64], name[256];
        if(line[0] == '#' || sscanf(line, "%63s %255s", ip, name) != 2)
            continue;
        struct in_addr in;
        if(inet_pton(AF_INET, ip, &in) != 1) continue;
        if(strstr(name, "localhost") || strchr(name, '#')) continue;
        errno_assert(ipaddr_remote(&a[0], name, 80, IPADDR_IPV4,
            now() + 2000) == 0);
        expect(&a[0], ip, 80);
        checked = 1;
    }
    if(f) fclose(f);
    if(!checked) fprintf(stderr, "ipaddr: no usable /etc/hosts entry\n");
}

#if defined DILL_HAVE_CARES

/******************************************************************************/
/*  A fake DNS server on 127.0.0.1                                            */
/******************************************************************************/

static int nfds(void) {
    int n = 0;
    for(int fd = 0; fd != 1024; fd++)
        if(fcntl(fd, F_GETFD) >= 0) n++;
    return n;
}

enum {DNS_SILENT, DNS_NXDOMAIN, DNS_ANSWER};
static int dns_mode;
static int dns_queries;

static size_t put16(uint8_t *p, size_t off, int v) {
    p[off] = (uint8_t)(v >> 8);
    p[off + 1] = (uint8_t)v;
    return off + 2;
}

/* Builds the reply to query q (n bytes) into r; returns its size or 0. */
static size_t dns_reply(const uint8_t *q, size_t n, uint8_t *r) {
    if(n < 17) return 0;
    size_t off = 12;
    while(off < n && q[off]) off += q[off] + 1;
    if(off + 5 > n) return 0;
    int qtype = q[off + 1] << 8 | q[off + 2];
    size_t qend = off + 5;
    memcpy(r, q, qend);
    int ans = dns_mode == DNS_ANSWER && (qtype == 1 || qtype == 28);
    put16(r, 2, 0x8180 | (dns_mode == DNS_NXDOMAIN ? 3 : 0));
    put16(r, 4, 1);
    put16(r, 6, ans);
    put16(r, 8, 0);
    put16(r, 10, 0);
    size_t o = qend;
    if(ans) {
        o = put16(r, o, 0xc00c);
        o = put16(r, o, qtype);
        o = put16(r, o, 1);
        o = put16(r, o, 0);
        o = put16(r, o, 60);
        if(qtype == 1) {
            o = put16(r, o, 4);
            inet_pton(AF_INET, "192.0.2.1", r + o);
            o += 4;
        } else {
            o = put16(r, o, 16);
            inet_pton(AF_INET6, "2001:db8::1", r + o);
            o += 16;
        }
    }
    return o;
}

coroutine void dns_server(int s) {
    uint8_t q[512], r[600];
    while(1) {
        struct ipaddr from;
        ssize_t n = udp_recv(s, &from, q, sizeof(q), -1);
        if(n < 0) return;
        dns_queries++;
        if(dns_mode == DNS_SILENT) continue;
        size_t len = dns_reply(q, (size_t)n, r);
        if(len) udp_send(s, &from, r, len);
    }
}

static int cancel_errno;
coroutine void blocked_resolve(void) {
    struct ipaddr a;
    int rc = ipaddr_remote(&a, "slow.example.com", 80, 0, -1);
    cancel_errno = rc < 0 ? errno : 0;
}

static void test_dns(void) {
    struct ipaddr srv;
    errno_assert(ipaddr_local(&srv, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int s = udp_open(&srv, NULL);
    errno_assert(s >= 0);
    int h = go(dns_server(s));
    errno_assert(h >= 0);
    char csv[64];
    snprintf(csv, sizeof(csv), "127.0.0.1:%d", ipaddr_port(&srv));
    errno_assert(dill__ipaddr_dns_servers(csv) == 0);
    int base = nfds();
    struct ipaddr a[4];

    dns_mode = DNS_ANSWER;
    errno_assert(ipaddr_remote(&a[0], "www.example.com", 80, 0,
        now() + 2000) == 0);
    expect(&a[0], "192.0.2.1", 80);
    errno_assert(ipaddr_remote(&a[0], "www.example.com", 81, IPADDR_IPV6,
        now() + 2000) == 0);
    expect(&a[0], "2001:db8::1", 81);
    assert(ipaddr_remotes(a, 4, "www.example.com", 82, IPADDR_PREF_IPV6,
        now() + 2000) == 2);
    expect(&a[0], "2001:db8::1", 82);
    expect(&a[1], "192.0.2.1", 82);
    assert(ipaddr_remotes(a, 4, "www.example.com", 82, IPADDR_PREF_IPV4,
        now() + 2000) == 2);
    expect(&a[0], "192.0.2.1", 82);
    assert(dns_queries > 0);

    dns_mode = DNS_NXDOMAIN;
    int64_t t = now();
    assert_err(ipaddr_remote(&a[0], "nothing.example.com", 80, 0,
        now() + 2000), EADDRNOTAVAIL);
    assert(now() - t < 1000);

    /* A server that never answers: the deadline wins, strictly. */
    dns_mode = DNS_SILENT;
    assert_err(ipaddr_remote(&a[0], "slow.example.com", 80, 0, 0),
        ETIMEDOUT);
    assert_err(ipaddr_remote(&a[0], "slow.example.com", 80, 0, now() - 10),
        ETIMEDOUT);
    t = now();
    assert_err(ipaddr_remote(&a[0], "slow.example.com", 80, 0, t + 150),
        ETIMEDOUT);
    assert(now() - t >= 145 && now() - t < 150 + SLACK);
    /* Without a deadline the resolver gives up by itself. */
    t = now();
    assert_err(ipaddr_remote(&a[0], "slow.example.com", 80, IPADDR_IPV4, -1),
        EADDRNOTAVAIL);
    assert(now() - t < 5000);
    /* Cancellation. */
    int r = go(blocked_resolve());
    errno_assert(r >= 0);
    msleep(now() + 30);
    cancel_errno = -1;
    t = now();
    errno_assert(hclose(r) == 0);
    assert(now() - t < 100);
    assert(cancel_errno == ECANCELED);
    /* No socket of the resolver is left open. */
    assert(nfds() == base);

    /* /etc/hosts is read before DNS (the fake server says NXDOMAIN, so a
       name found must come from the file). */
    dns_mode = DNS_NXDOMAIN;
    check_hosts();

    errno_assert(dill__ipaddr_dns_servers(NULL) == 0);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(s) == 0);
}

#endif

int main(void) {
    test_literals();
    test_local();
    test_special_names();
#if defined DILL_HAVE_CARES
    test_dns();
#else
    /* The fake DNS server needs c-ares (dill__ipaddr_dns_servers); the
       system resolver reads /etc/resolv.conf only. */
    fprintf(stderr, "ipaddr: built without c-ares: DNS checks skipped\n");
    check_hosts();
#endif
    return 0;
}
