/* Parsing of ws:// and wss:// URLs (RFC 6455 section 3), pure. */

#ifndef DILL_PROTO_URL_H_INCLUDED
#define DILL_PROTO_URL_H_INCLUDED

#include <stddef.h>

#define DILL__URL_MAXHOST 256
#define DILL__URL_MAXRESOURCE 2048

struct dill__url {
    int secure;                    /* wss */
    int port;                      /* explicit, or 80 / 443 */
    int ipv6;                      /* host was a bracketed IPv6 literal */
    /* Host name or address literal, without brackets. */
    char host[DILL__URL_MAXHOST];
    /* Value for the Host header: host as written plus ":port" when the
       port is not the scheme's default. */
    char hosthdr[DILL__URL_MAXHOST + 8];
    /* Path and query; "/" when the URL has none. */
    char resource[DILL__URL_MAXRESOURCE];
};

/* Parses url.  Returns 0, or -EINVAL for anything that is not an absolute
   ws/wss URL (other schemes, fragments, userinfo, empty host, bad port,
   unbalanced brackets, control characters or spaces), or -EMSGSIZE when a
   part exceeds its buffer. */
int dill__url_parse(const char *url, struct dill__url *u);

/* Parses the authority "host", "host:port", "[v6]" or "[v6]:port" in
   a[0..n) (no userinfo) into u->host, u->ipv6, u->port (left as it is when
   no port is given) and u->hosthdr (u->secure picks the default port left
   out of it).  Returns 0, -EINVAL or -EMSGSIZE as dill__url_parse. */
int dill__url_authority(const char *a, size_t n, struct dill__url *u);

#endif
