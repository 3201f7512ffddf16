/* IP addresses: literals, local interfaces and non-blocking name
   resolution (c-ares driven by the scheduler). */

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#if defined DILL_HAVE_CARES
#include <ares.h>
#else
#include <netdb.h>
#endif

#include "libdill.h"
#include "net/ipaddr.h"

/* What struct dill_ipaddr really holds. */
struct dill__ipa {
    union {
        struct sockaddr sa;
        struct sockaddr_in sin;
        struct sockaddr_in6 sin6;
    } u;
};

_Static_assert(sizeof(struct dill__ipa) <= sizeof(struct dill_ipaddr),
    "ipaddr must fit struct dill_ipaddr");
_Static_assert(_Alignof(struct dill__ipa) <= _Alignof(struct dill_ipaddr),
    "ipaddr alignment");

#define DILL__IPA(addr) ((struct dill__ipa*)(void*)(addr))
#define DILL__CIPA(addr) ((const struct dill__ipa*)(const void*)(addr))

int dill__ipaddr_set(struct dill_ipaddr *addr, const struct sockaddr *sa) {
    memset(addr, 0, sizeof(*addr));
    if(sa->sa_family == AF_INET)
        memcpy(addr, sa, sizeof(struct sockaddr_in));
    else if(sa->sa_family == AF_INET6)
        memcpy(addr, sa, sizeof(struct sockaddr_in6));
    else
        return -EAFNOSUPPORT;
    return 0;
}

int dill_ipaddr_family(const struct dill_ipaddr *addr) {
    return DILL__CIPA(addr)->u.sa.sa_family;
}

const struct sockaddr *dill_ipaddr_sockaddr(const struct dill_ipaddr *addr) {
    return &DILL__CIPA(addr)->u.sa;
}

int dill_ipaddr_len(const struct dill_ipaddr *addr) {
    return dill_ipaddr_family(addr) == AF_INET6 ?
        (int)sizeof(struct sockaddr_in6) : (int)sizeof(struct sockaddr_in);
}

int dill_ipaddr_port(const struct dill_ipaddr *addr) {
    const struct dill__ipa *a = DILL__CIPA(addr);
    return ntohs(a->u.sa.sa_family == AF_INET6 ?
        a->u.sin6.sin6_port : a->u.sin.sin_port);
}

void dill_ipaddr_setport(struct dill_ipaddr *addr, int port) {
    struct dill__ipa *a = DILL__IPA(addr);
    if(a->u.sa.sa_family == AF_INET6) a->u.sin6.sin6_port = htons(port);
    else a->u.sin.sin_port = htons(port);
}

const char *dill_ipaddr_str(const struct dill_ipaddr *addr, char *ipstr) {
    const struct dill__ipa *a = DILL__CIPA(addr);
    const void *src = a->u.sa.sa_family == AF_INET6 ?
        (const void*)&a->u.sin6.sin6_addr : (const void*)&a->u.sin.sin_addr;
    return inet_ntop(a->u.sa.sa_family, src, ipstr, DILL_IPADDR_MAXSTRLEN);
}

int dill_ipaddr_equal(const struct dill_ipaddr *addr1,
    const struct dill_ipaddr *addr2, int ignore_port) {
    const struct dill__ipa *a = DILL__CIPA(addr1), *b = DILL__CIPA(addr2);
    if(a->u.sa.sa_family != b->u.sa.sa_family) return 0;
    if(a->u.sa.sa_family == AF_INET6) {
        if(memcmp(&a->u.sin6.sin6_addr, &b->u.sin6.sin6_addr,
            sizeof(struct in6_addr)) != 0) return 0;
        if(a->u.sin6.sin6_scope_id != b->u.sin6.sin6_scope_id) return 0;
        return ignore_port || a->u.sin6.sin6_port == b->u.sin6.sin6_port;
    }
    if(a->u.sin.sin_addr.s_addr != b->u.sin.sin_addr.s_addr) return 0;
    return ignore_port || a->u.sin.sin_port == b->u.sin.sin_port;
}

/* Common argument checks; mode 0 becomes IPADDR_PREF_IPV4. */
static int dill__ipaddr_args(const void *addr, int port, int *mode) {
    if(!addr || port < 0 || port > 65535) return -1;
    if(*mode == 0) *mode = DILL_IPADDR_PREF_IPV4;
    if(*mode < DILL_IPADDR_IPV4 || *mode > DILL_IPADDR_PREF_IPV6) return -1;
    return 0;
}

static void dill__ipaddr_v4(struct dill_ipaddr *addr, const void *in,
    int port) {
    struct dill__ipa *a = DILL__IPA(addr);
    memset(addr, 0, sizeof(*addr));
    a->u.sin.sin_family = AF_INET;
    memcpy(&a->u.sin.sin_addr, in, sizeof(struct in_addr));
    a->u.sin.sin_port = htons(port);
}

static void dill__ipaddr_v6(struct dill_ipaddr *addr, const void *in6,
    unsigned int scope, int port) {
    struct dill__ipa *a = DILL__IPA(addr);
    memset(addr, 0, sizeof(*addr));
    a->u.sin6.sin6_family = AF_INET6;
    memcpy(&a->u.sin6.sin6_addr, in6, sizeof(struct in6_addr));
    a->u.sin6.sin6_scope_id = scope;
    a->u.sin6.sin6_port = htons(port);
}

/* Parses an address literal of a family that mode allows ("fe80::1%eth0"
   scopes included).  Returns 0, or -1 when name is no such literal. */
static int dill__ipaddr_literal(struct dill_ipaddr *addr, const char *name,
    int port, int mode) {
    if(mode != DILL_IPADDR_IPV6) {
        struct in_addr in;
        if(inet_pton(AF_INET, name, &in) == 1) {
            dill__ipaddr_v4(addr, &in, port);
            return 0;
        }
    }
    if(mode == DILL_IPADDR_IPV4) return -1;
    char buf[DILL_IPADDR_MAXSTRLEN + IF_NAMESIZE + 1];
    if(strlen(name) >= sizeof(buf)) return -1;
    strcpy(buf, name);
    unsigned int scope = 0;
    char *pct = strchr(buf, '%');
    if(pct) {
        *pct = 0;
        scope = if_nametoindex(pct + 1);
        if(!scope) {
            char *end;
            unsigned long v = strtoul(pct + 1, &end, 10);
            if(!pct[1] || *end || v == 0 || v > 0xffffffffUL) return -1;
            scope = (unsigned int)v;
        }
    }
    struct in6_addr in6;
    if(inet_pton(AF_INET6, buf, &in6) != 1) return -1;
    dill__ipaddr_v6(addr, &in6, scope, port);
    return 0;
}

int dill_ipaddr_local(struct dill_ipaddr *addr, const char *name, int port,
    int mode) {
    if(dill__ipaddr_args(addr, port, &mode) < 0) {errno = EINVAL; return -1;}
    if(!name) {
        if(mode == DILL_IPADDR_IPV6 || mode == DILL_IPADDR_PREF_IPV6)
            dill__ipaddr_v6(addr, &in6addr_any, 0, port);
        else {
            struct in_addr any = {htonl(INADDR_ANY)};
            dill__ipaddr_v4(addr, &any, port);
        }
        return 0;
    }
    if(dill__ipaddr_literal(addr, name, port, mode) == 0) return 0;
    /* A network interface name: its first address of each family. */
    struct ifaddrs *ifs;
    if(getifaddrs(&ifs) < 0) {errno = ENOMEM; return -1;}
    const struct sockaddr *v4 = NULL, *v6 = NULL;
    for(struct ifaddrs *it = ifs; it; it = it->ifa_next) {
        if(!it->ifa_addr || strcmp(it->ifa_name, name) != 0) continue;
        if(it->ifa_addr->sa_family == AF_INET && !v4) v4 = it->ifa_addr;
        if(it->ifa_addr->sa_family == AF_INET6 && !v6) v6 = it->ifa_addr;
    }
    const struct sockaddr *pick = NULL;
    switch(mode) {
    case DILL_IPADDR_IPV4: pick = v4; break;
    case DILL_IPADDR_IPV6: pick = v6; break;
    case DILL_IPADDR_PREF_IPV4: pick = v4 ? v4 : v6; break;
    default: pick = v6 ? v6 : v4; break;
    }
    if(pick) {
        dill__ipaddr_set(addr, pick);
        dill_ipaddr_setport(addr, port);
    }
    freeifaddrs(ifs);
    if(!pick) {errno = ENODEV; return -1;}
    return 0;
}

/* Whether name equals label or ends with "." label, ignoring case and one
   trailing dot. */
static int dill__ipaddr_under(const char *name, const char *label) {
    size_t n = strlen(name), l = strlen(label);
    if(n && name[n - 1] == '.') n--;
    if(n < l || strncasecmp(name + n - l, label, l) != 0) return 0;
    return n == l || name[n - l - 1] == '.';
}

/* Appends addresses of one family, in the order given by mode, skipping
   duplicates.  list holds cnt candidates; returns the new count in out. */
static int dill__ipaddr_pick(struct dill_ipaddr *out, int nout, int naddrs,
    const struct dill_ipaddr *cand, int ncand, int mode) {
    int fams[2];
    switch(mode) {
    case DILL_IPADDR_IPV4: fams[0] = AF_INET; fams[1] = -1; break;
    case DILL_IPADDR_IPV6: fams[0] = AF_INET6; fams[1] = -1; break;
    case DILL_IPADDR_PREF_IPV4: fams[0] = AF_INET; fams[1] = AF_INET6; break;
    default: fams[0] = AF_INET6; fams[1] = AF_INET; break;
    }
    for(int f = 0; f != 2; f++) {
        for(int i = 0; i != ncand && nout < naddrs; i++) {
            if(dill_ipaddr_family(&cand[i]) != fams[f]) continue;
            int dup = 0;
            for(int j = 0; j != nout; j++)
                if(dill_ipaddr_equal(&out[j], &cand[i], 0)) dup = 1;
            if(!dup) out[nout++] = cand[i];
        }
    }
    return nout;
}

/* RFC 6761 6.3: localhost names are the loopback addresses, no lookup. */
static int dill__ipaddr_loopback(struct dill_ipaddr *addrs, int naddrs,
    int port, int mode) {
    struct dill_ipaddr cand[2];
    struct in_addr lo = {htonl(INADDR_LOOPBACK)};
    dill__ipaddr_v4(&cand[0], &lo, port);
    dill__ipaddr_v6(&cand[1], &in6addr_loopback, 0, port);
    return dill__ipaddr_pick(addrs, 0, naddrs, cand, 2, mode);
}

static int dill__ipaddr_resolve(struct dill_ipaddr *addrs, int naddrs,
    const char *name, int port, int mode, int64_t deadline);

int dill_ipaddr_remotes(struct dill_ipaddr *addrs, int naddrs,
    const char *name, int port, int mode, int64_t deadline) {
    if(dill__ipaddr_args(addrs, port, &mode) < 0 || !name || naddrs < 1) {
        errno = EINVAL;
        return -1;
    }
    if(dill__ipaddr_literal(&addrs[0], name, port, mode) == 0) return 1;
    /* A literal of the family that mode excludes: nothing to look up. */
    struct in_addr tmp;
    if(inet_pton(AF_INET, name, &tmp) == 1 || strchr(name, ':') ||
       strchr(name, '%')) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    if(dill__ipaddr_under(name, "localhost"))
        return dill__ipaddr_loopback(addrs, naddrs, port, mode);
    /* RFC 6761 6.4: "invalid" names fail at once, with no network. */
    if(dill__ipaddr_under(name, "invalid") || !*name) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    return dill__ipaddr_resolve(addrs, naddrs, name, port, mode, deadline);
}

int dill_ipaddr_remote(struct dill_ipaddr *addr, const char *name, int port,
    int mode, int64_t deadline) {
    int n = dill_ipaddr_remotes(addr, 1, name, port, mode, deadline);
    return n < 0 ? -1 : 0;
}

static char *dill__ipaddr_servers;

int dill__ipaddr_dns_servers(const char *csv) {
    char *s = NULL;
    if(csv) {
        s = strdup(csv);
        if(!s) {errno = ENOMEM; return -1;}
    }
    free(dill__ipaddr_servers);
    dill__ipaddr_servers = s;
    return 0;
}

#if defined DILL_HAVE_CARES

/* Most sockets of one lookup that we track (c-ares uses one per server and
   protocol; a lookup touches few). */
#define DILL__DNS_MAXFDS 16

/* State of one lookup: its result and the sockets c-ares wants watched. */
struct dill__dns {
    int done;
    int status;
    struct ares_addrinfo *res;
    int nfds;
    struct {ares_socket_t fd; int rd; int wr;} fds[DILL__DNS_MAXFDS];
};

/* c-ares reports interest changes here; (0, 0) comes right before it
   closes the socket, which is when the scheduler must forget it. */
static void dill__dns_sockcb(void *data, ares_socket_t fd, int rd, int wr) {
    struct dill__dns *d = data;
    int i;
    for(i = 0; i != d->nfds; i++) if(d->fds[i].fd == fd) break;
    if(!rd && !wr) {
        dill_fdclean(fd);
        if(i < d->nfds) d->fds[i] = d->fds[--d->nfds];
        return;
    }
    if(i == d->nfds) {
        if(d->nfds == DILL__DNS_MAXFDS) return;
        d->nfds++;
        d->fds[i].fd = fd;
    }
    d->fds[i].rd = rd;
    d->fds[i].wr = wr;
}

static void dill__dns_done(void *arg, int status, int timeouts,
    struct ares_addrinfo *res) {
    struct dill__dns *d = arg;
    d->done = 1;
    d->status = status;
    d->res = res;
}

static pthread_once_t dill__dns_once = PTHREAD_ONCE_INIT;
static int dill__dns_initrc;
static void dill__dns_libinit(void) {
    dill__dns_initrc = ares_library_init(ARES_LIB_INIT_ALL);
}

/* Processes whatever is ready, else sleeps until a socket is ready, c-ares'
   next timeout or the deadline.  Returns 0 or an errno value. */
static int dill__dns_step(ares_channel ch, struct dill__dns *d,
    int64_t deadline) {
    struct pollfd p[DILL__DNS_MAXFDS];
    int n = d->nfds;
    for(int i = 0; i != n; i++) {
        p[i].fd = d->fds[i].fd;
        p[i].events = (short)((d->fds[i].rd ? POLLIN : 0) |
            (d->fds[i].wr ? POLLOUT : 0));
        p[i].revents = 0;
    }
    if(n && poll(p, n, 0) > 0) {
        for(int i = 0; i != n; i++) {
            short ev = p[i].revents;
            if(!ev) continue;
            ares_process_fd(ch,
                ev & (POLLIN | POLLERR | POLLHUP) ? p[i].fd : ARES_SOCKET_BAD,
                ev & (POLLOUT | POLLERR | POLLHUP) ? p[i].fd : ARES_SOCKET_BAD);
        }
        return 0;
    }
    int64_t tnow = dill_now();
    if(deadline >= 0 && tnow >= deadline) return ETIMEDOUT;
    int64_t wd = deadline;
    struct timeval tv;
    if(ares_timeout(ch, NULL, &tv)) {
        int64_t t = tnow + tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
        if(wd < 0 || t < wd) wd = t;
    }
    /* One coroutine waits on one fd: with several sockets, look at all of
       them again soon. */
    if(n > 1 && (wd < 0 || wd > tnow + 10)) wd = tnow + 10;
    int rc;
    if(n == 0) {
        if(wd < 0) return EADDRNOTAVAIL;
        rc = dill_msleep(wd);
    } else if(d->fds[0].wr) {
        rc = dill_fdout(d->fds[0].fd, wd);
    } else {
        rc = dill_fdin(d->fds[0].fd, wd);
    }
    if(rc < 0 && errno != ETIMEDOUT) return errno;
    /* Retransmissions and c-ares' own timeouts. */
    ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    return 0;
}

static int dill__ipaddr_resolve(struct dill_ipaddr *addrs, int naddrs,
    const char *name, int port, int mode, int64_t deadline) {
    pthread_once(&dill__dns_once, dill__dns_libinit);
    if(dill__dns_initrc != ARES_SUCCESS) {errno = ENOMEM; return -1;}
    struct dill__dns d;
    memset(&d, 0, sizeof(d));
    struct ares_options opts;
    memset(&opts, 0, sizeof(opts));
    int optmask = ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB;
    /* Files (/etc/hosts) first, then DNS. */
    opts.lookups = (char*)"fb";
    opts.sock_state_cb = dill__dns_sockcb;
    opts.sock_state_cb_data = &d;
    if(dill__ipaddr_servers) {
        optmask |= ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
        opts.flags = ARES_FLAG_NOSEARCH;
        opts.timeout = 200;
        opts.tries = 2;
    }
    ares_channel ch;
    int rc = ares_init_options(&ch, &opts, optmask);
    if(rc != ARES_SUCCESS) {
        errno = rc == ARES_ENOMEM ? ENOMEM : EADDRNOTAVAIL;
        return -1;
    }
    if(dill__ipaddr_servers &&
       ares_set_servers_ports_csv(ch, dill__ipaddr_servers) != ARES_SUCCESS) {
        ares_destroy(ch);
        errno = EINVAL;
        return -1;
    }
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof(hints));
    /* No sorting: c-ares would connect() probe sockets for it. */
    hints.ai_flags = ARES_AI_NOSORT;
    hints.ai_family = mode == DILL_IPADDR_IPV4 ? AF_INET :
        mode == DILL_IPADDR_IPV6 ? AF_INET6 : AF_UNSPEC;
    ares_getaddrinfo(ch, name, NULL, &hints, dill__dns_done, &d);
    int err = 0;
    while(!d.done && !err) err = dill__dns_step(ch, &d, deadline);
    /* Destroying the channel closes its sockets (each one passes through
       dill__dns_sockcb first) and ends an unfinished query. */
    for(int i = 0; i != d.nfds; i++) dill_fdclean(d.fds[i].fd);
    ares_destroy(ch);
    if(!err) {
        switch(d.status) {
        case ARES_SUCCESS: break;
        case ARES_ENOMEM: err = ENOMEM; break;
        default: err = EADDRNOTAVAIL; break;
        }
    }
    int cnt = 0;
    if(!err && d.res) {
        struct dill_ipaddr cand[16];
        int ncand = 0;
        for(struct ares_addrinfo_node *it = d.res->nodes; it && ncand < 16;
            it = it->ai_next) {
            if(!it->ai_addr || dill__ipaddr_set(&cand[ncand], it->ai_addr))
                continue;
            dill_ipaddr_setport(&cand[ncand], port);
            ncand++;
        }
        cnt = dill__ipaddr_pick(addrs, 0, naddrs, cand, ncand, mode);
        if(cnt == 0) err = EADDRNOTAVAIL;
    }
    if(d.res) ares_freeaddrinfo(d.res);
    if(!err && cnt == 0) err = EADDRNOTAVAIL;
    if(err) {errno = err; return -1;}
    return cnt;
}

#else

/* Without c-ares: the system resolver, which blocks the whole thread. */
static int dill__ipaddr_resolve(struct dill_ipaddr *addrs, int naddrs,
    const char *name, int port, int mode, int64_t deadline) {
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = mode == DILL_IPADDR_IPV4 ? AF_INET :
        mode == DILL_IPADDR_IPV6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if(rc != 0) {
        errno = rc == EAI_MEMORY ? ENOMEM : EADDRNOTAVAIL;
        return -1;
    }
    struct dill_ipaddr cand[16];
    int ncand = 0;
    for(struct addrinfo *it = res; it && ncand < 16; it = it->ai_next) {
        if(dill__ipaddr_set(&cand[ncand], it->ai_addr)) continue;
        dill_ipaddr_setport(&cand[ncand], port);
        ncand++;
    }
    freeaddrinfo(res);
    int cnt = dill__ipaddr_pick(addrs, 0, naddrs, cand, ncand, mode);
    if(cnt == 0) {errno = EADDRNOTAVAIL; return -1;}
    return cnt;
}

#endif
