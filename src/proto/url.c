/* ws:// and wss:// URLs. */

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "url.h"

static int dill__url_copy(char *dst, size_t cap, const char *src, size_t n) {
    if(n >= cap) return -EMSGSIZE;
    memcpy(dst, src, n);
    dst[n] = 0;
    return 0;
}

/* Characters allowed in a reg-name or IPv4 literal (RFC 3986 unreserved,
   sub-delims and pct-encoding). */
static int dill__url_hostchar(char c) {
    if((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9'))
        return 1;
    return strchr("-._~!$&'()*+,;=%", c) != NULL && c != 0;
}

static int dill__url_port(const char *p, size_t n, int *port) {
    if(n == 0 || n > 5) return -EINVAL;
    int v = 0;
    for(size_t i = 0; i != n; i++) {
        if(p[i] < '0' || p[i] > '9') return -EINVAL;
        v = v * 10 + (p[i] - '0');
    }
    if(v < 1 || v > 65535) return -EINVAL;
    *port = v;
    return 0;
}

int dill__url_authority(const char *a, size_t n, struct dill__url *u) {
    if(memchr(a, '@', n)) return -EINVAL;
    const char *host = a;
    size_t hostlen;
    const char *rest;
    if(n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if(!close) return -EINVAL;
        host = a + 1;
        hostlen = (size_t)(close - host);
        for(size_t i = 0; i != hostlen; i++) {
            char c = host[i];
            if(!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                  (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
                return -EINVAL;
        }
        if(hostlen < 2) return -EINVAL;
        u->ipv6 = 1;
        rest = close + 1;
    }
    else {
        const char *colon = memchr(a, ':', n);
        hostlen = colon ? (size_t)(colon - a) : n;
        for(size_t i = 0; i != hostlen; i++)
            if(!dill__url_hostchar(a[i])) return -EINVAL;
        rest = a + hostlen;
    }
    if(hostlen == 0) return -EINVAL;
    size_t restlen = (size_t)(a + n - rest);
    if(restlen) {
        if(rest[0] != ':') return -EINVAL;
        int rc = dill__url_port(rest + 1, restlen - 1, &u->port);
        if(rc < 0) return rc;
    }
    int rc = dill__url_copy(u->host, sizeof(u->host), host, hostlen);
    if(rc < 0) return rc;
    /* The Host header repeats the authority, dropping a default port. */
    int dflt = u->secure ? 443 : 80;
    size_t hlen = restlen && u->port != dflt ? n : (size_t)(rest - a);
    return dill__url_copy(u->hosthdr, sizeof(u->hosthdr), a, hlen);
}

int dill__url_parse(const char *url, struct dill__url *u) {
    if(!url || !u) return -EINVAL;
    memset(u, 0, sizeof(*u));
    for(const char *p = url; *p; p++)
        if((unsigned char)*p <= 0x20 || *p == 0x7f) return -EINVAL;
    const char *p;
    if(!strncasecmp(url, "ws://", 5)) {p = url + 5; u->port = 80;}
    else if(!strncasecmp(url, "wss://", 6)) {
        p = url + 6;
        u->port = 443;
        u->secure = 1;
    }
    else return -EINVAL;
    if(strchr(p, '#')) return -EINVAL;
    size_t alen = strcspn(p, "/?");
    int rc = dill__url_authority(p, alen, u);
    if(rc < 0) return rc;
    const char *res = p + alen;
    if(*res == 0) return dill__url_copy(u->resource, sizeof(u->resource), "/", 1);
    if(*res == '?') {
        /* "ws://host?q" means "/?q". */
        if(strlen(res) + 1 >= sizeof(u->resource)) return -EMSGSIZE;
        u->resource[0] = '/';
        strcpy(u->resource + 1, res);
        return 0;
    }
    return dill__url_copy(u->resource, sizeof(u->resource), res, strlen(res));
}
