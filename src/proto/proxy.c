/* Proxy URLs and HTTP CONNECT, pure. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"
#include "url.h"
#include "util/base64.h"

static int dill__proxy_hex(char c) {
    if(c >= '0' && c <= '9') return c - '0';
    if(c >= 'a' && c <= 'f') return c - 'a' + 10;
    if(c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into dst (DILL__PROXY_MAXCRED + 1 bytes). */
static int dill__proxy_unescape(char *dst, const char *s, size_t n) {
    size_t o = 0;
    for(size_t i = 0; i != n; i++) {
        int c = (unsigned char)s[i];
        if(c == '%') {
            if(i + 2 >= n) return -EINVAL;
            int h = dill__proxy_hex(s[i + 1]), l = dill__proxy_hex(s[i + 2]);
            if(h < 0 || l < 0 || (h | l) == 0) return -EINVAL;
            c = h * 16 + l;
            i += 2;
        }
        if(o == DILL__PROXY_MAXCRED) return -EMSGSIZE;
        dst[o++] = (char)c;
    }
    dst[o] = 0;
    return 0;
}

static const struct {const char *scheme; int kind; int port;}
dill__proxy_schemes[] = {
    {"http://", DILL__PROXY_HTTP, 80},
    {"https://", DILL__PROXY_HTTPS, 443},
    {"socks5://", DILL__PROXY_SOCKS5, 1080},
    {"socks5h://", DILL__PROXY_SOCKS5H, 1080},
};

static int dill__proxy_userinfo(const char *a, size_t n,
      struct dill__proxy *p) {
    const char *colon = memchr(a, ':', n);
    size_t ul = colon ? (size_t)(colon - a) : n;
    int rc = dill__proxy_unescape(p->user, a, ul);
    if(rc < 0) return rc;
    p->auth = 1;
    if(!colon) return 0;
    return dill__proxy_unescape(p->pass, colon + 1, n - ul - 1);
}

int dill__proxy_parse(const char *url, struct dill__proxy *p) {
    if(!url || !p) return -EINVAL;
    memset(p, 0, sizeof(*p));
    for(const char *c = url; *c; c++)
        if((unsigned char)*c <= 0x20 || *c == 0x7f) return -EINVAL;
    const char *a = NULL;
    for(size_t i = 0; i != sizeof(dill__proxy_schemes) /
          sizeof(dill__proxy_schemes[0]); i++) {
        size_t sl = strlen(dill__proxy_schemes[i].scheme);
        if(strncasecmp(url, dill__proxy_schemes[i].scheme, sl) == 0) {
            a = url + sl;
            p->kind = dill__proxy_schemes[i].kind;
            p->port = dill__proxy_schemes[i].port;
        }
    }
    if(!a) return -EINVAL;
    size_t n = strcspn(a, "/?#");
    /* Only an empty path may follow. */
    if(a[n] && strcmp(a + n, "/") != 0) return -EINVAL;
    const char *at = NULL;
    for(size_t i = 0; i != n; i++) if(a[i] == '@') at = a + i;
    if(at) {
        int rc = dill__proxy_userinfo(a, (size_t)(at - a), p);
        if(rc < 0) return rc;
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    struct dill__url u;
    memset(&u, 0, sizeof(u));
    u.port = p->port;
    int rc = dill__url_authority(a, n, &u);
    if(rc < 0) return rc;
    if(strlen(u.host) >= sizeof(p->host)) return -EMSGSIZE;
    strcpy(p->host, u.host);
    p->port = u.port;
    return 0;
}

ssize_t dill__proxy_connect_request(char *buf, size_t len, const char *host,
      int ipv6, int port, const struct dill__proxy *p) {
    char target[300];
    int tl = snprintf(target, sizeof(target), ipv6 ? "[%s]:%d" : "%s:%d",
        host, port);
    if(tl < 0 || (size_t)tl >= sizeof(target)) return -EMSGSIZE;
    char cred[2 * DILL__PROXY_MAXCRED + 2];
    char b64[DILL__BASE64_ENCLEN(sizeof(cred)) + 1];
    b64[0] = 0;
    if(p->auth) {
        int cl = snprintf(cred, sizeof(cred), "%s:%s", p->user, p->pass);
        dill__base64_encode(cred, (size_t)cl, b64);
        memset(cred, 0, sizeof(cred));
    }
    int n = snprintf(buf, len, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n",
        target, target, p->auth ? "Proxy-Authorization: Basic " : "", b64,
        p->auth ? "\r\n" : "");
    memset(b64, 0, sizeof(b64));
    if(n < 0 || (size_t)n >= len) return -EMSGSIZE;
    return n;
}

int dill__proxy_status(const struct dill__http_head *h) {
    if(h->status >= 200 && h->status <= 299) return 0;
    if(h->status >= 100 && h->status <= 199 && h->status != 101) return 1;
    if(h->status == 407 || h->status == 401 || h->status == 403)
        return EACCES;
    if(h->status == 504) return ETIMEDOUT;
    return ECONNREFUSED;
}
