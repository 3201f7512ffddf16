/* Proxies for outgoing connections, sans I/O: proxy URLs, the HTTP
   CONNECT request (RFC 9110 section 9.3.6) and the meaning of its
   response.  The I/O (connecting to the proxy, TLS to an https proxy,
   SOCKS5) is in wsproxy.c. */

#ifndef DILL_PROTO_PROXY_H
#define DILL_PROTO_PROXY_H

#include <stddef.h>
#include <sys/types.h>

#include "libdill.h"
#include "httpparse.h"

enum dill__proxy_kind {
    DILL__PROXY_HTTP,      /* http://: CONNECT over TCP */
    DILL__PROXY_HTTPS,     /* https://: CONNECT over TLS to the proxy */
    DILL__PROXY_SOCKS5,    /* socks5://: names resolved by the client */
    DILL__PROXY_SOCKS5H    /* socks5h://: names resolved by the proxy */
};

/* Longest user name or password (the SOCKS5 limit, kept for HTTP too). */
#define DILL__PROXY_MAXCRED 255

struct dill__proxy {
    int kind;
    int port;              /* explicit, or 80, 443, 1080, 1080 */
    int auth;              /* userinfo was present */
    char host[256];        /* name or address literal, no brackets */
    char user[DILL__PROXY_MAXCRED + 1];   /* percent-decoded */
    char pass[DILL__PROXY_MAXCRED + 1];
};

/* Parses "scheme://[user[:password]@]host[:port][/]" with scheme http,
   https, socks5 or socks5h (any case).  User and password are
   percent-decoded (%00 is refused); the last '@' ends them, so an
   unencoded '@' in a password works.  Returns 0, -EINVAL for anything
   else (other schemes, a path, query or fragment, a bad host or port), or
   -EMSGSIZE when a part is too long. */
int dill__proxy_parse(const char *url, struct dill__proxy *p);

/* Writes the CONNECT request for host (an IPv6 literal when ipv6 is set)
   and port, with Host and, when p->auth, "Proxy-Authorization: Basic"
   headers, NUL-terminated.  Returns its length, or -EMSGSIZE when it does
   not fit in len bytes. */
ssize_t dill__proxy_connect_request(char *buf, size_t len, const char *host,
    int ipv6, int port, const struct dill__proxy *p);

/* What a complete response head to CONNECT means: 0 for a 2xx (the tunnel
   is open; the bytes after the head belong to it), 1 for an interim 1xx
   other than 101 (another head follows), otherwise the errno: EACCES for
   407 (credentials missing or wrong; tinyproxy answers wrong ones with
   401) and 403 (forbidden by the proxy's rules), ETIMEDOUT for 504 (the
   proxy timed out reaching the host), ECONNREFUSED for any other status
   (the proxy could not or would not open the tunnel). */
int dill__proxy_status(const struct dill__http_head *h);

#endif

/* I/O (wsproxy.c).  Connects through the proxy described by url to host
   (an IPv6 literal without brackets when ipv6 is set) and port, all
   within the deadline, and returns a bytestream socket that carries the
   tunnel: a tcp connection, or a TLS connection for https proxies (tls
   gives trust settings for the proxy's certificate, NULL for the system
   store; it is verified against the proxy's host name).  Returns -1 with
   errno: EINVAL (bad proxy URL), EMSGSIZE, ENOTSUP (https proxy without
   TLS), the errors of ipaddr_remote, tcp_connect and
   tls_attach_client_opts for the proxy itself, EACCES (credentials
   refused, or forbidden), ECONNREFUSED (the proxy could not or would not
   reach the host), ETIMEDOUT, EPROTO (malformed answer), the errors of
   socks5_client_connect, ECANCELED. */
int dill__proxy_dial(const char *url, const struct dill_tls_client_options *tls,
    const char *host, int ipv6, int port, int64_t deadline);
