/* Tunnels for ws_connect: HTTP CONNECT (over TCP or TLS to the proxy) and
   SOCKS5, the I/O around proxy.c and socks5.c. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libdill.h"
#include "proto/proxy.h"
#include "util/opts.h"

/* Reads one response head byte by byte (nothing after it may be taken:
   it belongs to the tunnel) and returns what dill__proxy_status says, or
   -1 with errno. */
static int dill__proxy_readhead(int s, char *buf, struct dill__http_head *h,
      int64_t deadline) {
    size_t len = 0;
    while(1) {
        if(dill_brecv(s, buf + len, 1, deadline) < 0) {
            if(errno == EPIPE) errno = ECONNRESET;
            return -1;
        }
        len++;
        if(buf[len - 1] != '\n') {
            if(len < DILL__HTTP_MAX_HEAD) continue;
            errno = EPROTO;
            return -1;
        }
        int r = dill__http_parse_response(buf, len, h);
        if(r < 0) {errno = EPROTO; return -1;}
        if(r == 0) continue;
        return dill__proxy_status(h);
    }
}

static int dill__proxy_connect(int s, const struct dill__proxy *p,
      const char *host, int ipv6, int port, int64_t deadline) {
    char *buf = malloc(DILL__HTTP_MAX_HEAD);
    struct dill__http_head *h = malloc(sizeof(*h));
    int err = ENOMEM;
    if(!buf || !h) goto done;
    ssize_t n = dill__proxy_connect_request(buf, DILL__HTTP_MAX_HEAD, host,
        ipv6, port, p);
    if(n < 0) {err = -n; goto done;}
    int rc = dill_bsend(s, buf, (size_t)n, deadline);
    /* The request carried the password. */
    memset(buf, 0, (size_t)n);
    if(rc < 0) {err = errno; goto done;}
    do rc = dill__proxy_readhead(s, buf, h, deadline);
    while(rc == 1);
    err = rc < 0 ? errno : rc;
done:
    free(buf);
    free(h);
    errno = err;
    return err ? -1 : 0;
}

static int dill__proxy_socks5(int s, const struct dill__proxy *p,
      const char *host, int port, int64_t deadline) {
    const char *user = p->auth ? p->user : NULL;
    const char *pass = p->auth ? p->pass : NULL;
    if(p->kind == DILL__PROXY_SOCKS5H)
        return dill_socks5_client_connectbyname(s, user, pass, host, port,
            deadline);
    struct dill_ipaddr addr;
    if(dill_ipaddr_remote(&addr, host, port, 0, deadline) < 0) return -1;
    return dill_socks5_client_connect(s, user, pass, &addr, deadline);
}

/* Connects to the proxy itself: TCP, plus TLS for https proxies. */
static int dill__proxy_open(const struct dill__proxy *p,
      const struct dill_tls_client_options *tls, int64_t deadline) {
    int s = dill_happyeyeballs_connect(p->host, p->port, deadline);
    if(s < 0 || p->kind != DILL__PROXY_HTTPS) return s;
#if defined DILL_DISABLE_TLS
    (void)tls;
    dill_hclose(s);
    errno = ENOTSUP;
    return -1;
#else
    struct dill_tls_client_options t;
    if(dill__opts_load(&t, sizeof(t), tls) < 0) {
        dill_hclose(s);
        return -1;
    }
    if(!t.server_name) t.server_name = p->host;
    return dill_tls_attach_client_opts(s, &t, NULL, deadline);
#endif
}

int dill__proxy_dial(const char *url, const struct dill_tls_client_options *tls,
      const char *host, int ipv6, int port, int64_t deadline) {
    struct dill__proxy *p = malloc(sizeof(*p));
    if(!p) {errno = ENOMEM; return -1;}
    int err;
    int rc = dill__proxy_parse(url, p);
    if(rc < 0) {err = -rc; goto error;}
    int s = dill__proxy_open(p, tls, deadline);
    if(s < 0) {err = errno; goto error;}
    if(p->kind == DILL__PROXY_HTTP || p->kind == DILL__PROXY_HTTPS)
        rc = dill__proxy_connect(s, p, host, ipv6, port, deadline);
    else
        rc = dill__proxy_socks5(s, p, host, port, deadline);
    if(rc < 0) {err = errno; dill_hclose(s); goto error;}
    memset(p, 0, sizeof(*p));
    free(p);
    return s;
error:
    memset(p, 0, sizeof(*p));
    free(p);
    errno = err;
    return -1;
}
