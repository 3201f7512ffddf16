/* SOCKS5 over any bytestream socket: the libdill 2.14 socks5_* calls, a
   thin layer over the message functions of socks5msg.c. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "libdill.h"
#include "net/ipaddr.h"
#include "proto/socks5msg.h"

/* A peer that closes in the middle of the exchange broke it. */
static int dill__socks5_ioerr(void) {
    if(errno == EPIPE) errno = ECONNRESET;
    return -1;
}

static int dill__socks5_send(int s, const uint8_t *buf, size_t len,
      int64_t deadline) {
    if(dill_bsend(s, buf, len, deadline) < 0) return dill__socks5_ioerr();
    return 0;
}

/* Receives one message of the kind into buf (DILL__SOCKS5_MAXMSG bytes)
   and returns its length; nothing after it is taken from the socket.
   *got (may be NULL) gets how many bytes arrived, also on failure. */
static int dill__socks5_recv(int s, int kind, uint8_t *buf, size_t *got,
      int64_t deadline) {
    size_t have = 0;
    int n;
    if(got) *got = 0;
    while((n = dill__socks5_msglen(kind, buf, have)) > (int)have) {
        if(dill_brecv(s, buf + have, (size_t)n - have, deadline) < 0)
            return dill__socks5_ioerr();
        have = (size_t)n;
        if(got) *got = have;
    }
    if(n < 0) {errno = -n; return -1;}
    return n;
}

static void dill__socks5_fromip(struct dill__socks5_addr *a,
      const struct dill_ipaddr *addr) {
    const struct sockaddr *sa = dill_ipaddr_sockaddr(addr);
    if(sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6*)sa;
        a->atyp = DILL__SOCKS5_IPV6;
        memcpy(a->addr, &s6->sin6_addr, 16);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in*)sa;
        a->atyp = DILL__SOCKS5_IPV4;
        memcpy(a->addr, &s4->sin_addr, 4);
    }
    a->port = dill_ipaddr_port(addr);
}

static void dill__socks5_toip(struct dill_ipaddr *addr,
      const struct dill__socks5_addr *a) {
    if(a->atyp == DILL__SOCKS5_IPV6) {
        struct sockaddr_in6 s6;
        memset(&s6, 0, sizeof(s6));
        s6.sin6_family = AF_INET6;
        memcpy(&s6.sin6_addr, a->addr, 16);
        s6.sin6_port = htons((uint16_t)a->port);
        dill__ipaddr_set(addr, (struct sockaddr*)&s6);
    } else {
        struct sockaddr_in s4;
        memset(&s4, 0, sizeof(s4));
        s4.sin_family = AF_INET;
        memcpy(&s4.sin_addr, a->addr, 4);
        s4.sin_port = htons((uint16_t)a->port);
        dill__ipaddr_set(addr, (struct sockaddr*)&s4);
    }
}

/******************************************************************************/
/*  Client                                                                    */
/******************************************************************************/

static int dill__socks5_login(int s, const char *user, const char *pass,
      uint8_t *buf, int64_t deadline) {
    int userpass = user && pass;
    size_t n = dill__socks5_greeting(buf, userpass);
    if(dill__socks5_send(s, buf, n, deadline) < 0) return -1;
    if(dill__socks5_recv(s, DILL__SOCKS5_CHOICE, buf, NULL, deadline) < 0)
        return -1;
    int m = dill__socks5_choice(buf, userpass);
    if(m < 0) {errno = -m; return -1;}
    if(m == DILL__SOCKS5_NOAUTH) return 0;
    ssize_t an = dill__socks5_auth(buf, user, pass);
    if(dill__socks5_send(s, buf, (size_t)an, deadline) < 0) return -1;
    if(dill__socks5_recv(s, DILL__SOCKS5_AUTHREPLY, buf, NULL,
          deadline) < 0)
        return -1;
    int rc = dill__socks5_authreply(buf);
    if(rc < 0) {errno = -rc; return -1;}
    return 0;
}

static int dill__socks5_connect(int s, const char *user, const char *pass,
      const struct dill__socks5_addr *a, int64_t deadline) {
    if(user && pass && (strlen(user) > DILL__SOCKS5_MAXSTR ||
          strlen(pass) > DILL__SOCKS5_MAXSTR)) {
        errno = EINVAL;
        return -1;
    }
    uint8_t buf[DILL__SOCKS5_MAXMSG];
    ssize_t n = dill__socks5_command(buf, DILL_SOCKS5_CONNECT, a);
    if(n < 0) {errno = -n; return -1;}
    if(dill__socks5_login(s, user, pass, buf, deadline) < 0) return -1;
    /* The login used buf: build the request again. */
    n = dill__socks5_command(buf, DILL_SOCKS5_CONNECT, a);
    if(dill__socks5_send(s, buf, (size_t)n, deadline) < 0) return -1;
    int rl = dill__socks5_recv(s, DILL__SOCKS5_REPLY, buf, NULL, deadline);
    if(rl < 0) return -1;
    int rep;
    struct dill__socks5_addr bnd;
    int rc = dill__socks5_command_parse(buf, (size_t)rl, &rep, &bnd);
    if(rc < 0) {errno = -rc; return -1;}
    if(rep != DILL_SOCKS5_SUCCESS) {
        errno = dill__socks5_reply_errno(rep);
        return -1;
    }
    return 0;
}

int dill_socks5_client_connect(int s, const char *username,
      const char *password, struct dill_ipaddr *addr, int64_t deadline) {
    if(!addr) {errno = EINVAL; return -1;}
    struct dill__socks5_addr a;
    dill__socks5_fromip(&a, addr);
    return dill__socks5_connect(s, username, password, &a, deadline);
}

int dill_socks5_client_connectbyname(int s, const char *username,
      const char *password, const char *hostname, int port,
      int64_t deadline) {
    if(!hostname) {errno = EINVAL; return -1;}
    struct dill__socks5_addr a;
    memset(&a, 0, sizeof(a));
    a.port = port;
    /* Address literals go as addresses: the proxy need not parse them. */
    if(inet_pton(AF_INET, hostname, a.addr) == 1)
        a.atyp = DILL__SOCKS5_IPV4;
    else if(inet_pton(AF_INET6, hostname, a.addr) == 1)
        a.atyp = DILL__SOCKS5_IPV6;
    else {
        size_t nl = strlen(hostname);
        if(nl == 0 || nl > DILL__SOCKS5_MAXSTR) {errno = EINVAL; return -1;}
        a.atyp = DILL__SOCKS5_NAME;
        memcpy(a.name, hostname, nl + 1);
    }
    return dill__socks5_connect(s, username, password, &a, deadline);
}

/******************************************************************************/
/*  Proxy                                                                     */
/******************************************************************************/

static int dill__socks5_checkuser(int s, dill_socks5_auth_function *auth_fn,
      uint8_t *buf, int64_t deadline) {
    int n = dill__socks5_recv(s, DILL__SOCKS5_AUTH, buf, NULL, deadline);
    if(n < 0) return -1;
    char user[DILL__SOCKS5_MAXSTR + 1], pass[DILL__SOCKS5_MAXSTR + 1];
    int rc = dill__socks5_auth_parse(buf, (size_t)n, user, pass);
    /* Without an auth function every client is welcome. */
    int ok = rc == 0 && (!auth_fn || auth_fn(user, pass));
    memset(pass, 0, sizeof(pass));
    /* A refused client is told so (RFC 1929: non-zero status), also when
       its credentials could not be read. */
    buf[0] = 1;
    buf[1] = ok ? 0 : 1;
    if(dill__socks5_send(s, buf, 2, deadline) < 0) return -1;
    if(rc < 0) {errno = -rc; return -1;}
    if(!ok) {errno = EACCES; return -1;}
    return 0;
}

int dill_socks5_proxy_auth(int s, dill_socks5_auth_function *auth_fn,
      int64_t deadline) {
    uint8_t buf[DILL__SOCKS5_MAXMSG];
    int n = dill__socks5_recv(s, DILL__SOCKS5_GREETING, buf, NULL, deadline);
    if(n < 0) return -1;
    int m = dill__socks5_choose(buf, (size_t)n, auth_fn != NULL);
    buf[0] = 5;
    buf[1] = (uint8_t)m;
    if(dill__socks5_send(s, buf, 2, deadline) < 0) return -1;
    if(m == DILL__SOCKS5_NOMETHOD) {errno = EACCES; return -1;}
    if(m == DILL__SOCKS5_NOAUTH) return 0;
    return dill__socks5_checkuser(s, auth_fn, buf, deadline);
}

/* Best effort: a client that sent something unusable learns why. */
static void dill__socks5_refuse(int s, int rep, int64_t deadline) {
    struct dill__socks5_addr a;
    memset(&a, 0, sizeof(a));
    a.atyp = DILL__SOCKS5_IPV4;
    uint8_t buf[10];
    ssize_t n = dill__socks5_command(buf, rep, &a);
    dill_bsend(s, buf, (size_t)n, deadline);
}

static int dill__socks5_recvcmd(int s, struct dill__socks5_addr *a,
      int64_t deadline) {
    uint8_t buf[DILL__SOCKS5_MAXMSG];
    size_t got;
    int n = dill__socks5_recv(s, DILL__SOCKS5_REQUEST, buf, &got, deadline);
    if(n < 0) {
        /* A request with the right version and an unknown address type
           gets the reply RFC 1928 section 6 prescribes. */
        if(errno == EPROTO && got == 4 && buf[0] == 5) {
            dill__socks5_refuse(s, DILL_SOCKS5_ADDRESS_TYPE_NOT_SUPPORTED,
                deadline);
            errno = EPROTO;
        }
        return -1;
    }
    int cmd;
    int rc = dill__socks5_command_parse(buf, (size_t)n, &cmd, a);
    if(rc < 0) {errno = -rc; return -1;}
    if(cmd < DILL_SOCKS5_CONNECT || cmd > DILL_SOCKS5_UDP_ASSOCIATE) {
        dill__socks5_refuse(s, DILL_SOCKS5_COMMAND_NOT_SUPPORTED, deadline);
        errno = EPROTO;
        return -1;
    }
    return cmd;
}

int dill_socks5_proxy_recvcommand(int s, struct dill_ipaddr *addr,
      int64_t deadline) {
    if(!addr) {errno = EINVAL; return -1;}
    struct dill__socks5_addr a;
    int cmd = dill__socks5_recvcmd(s, &a, deadline);
    if(cmd < 0) return -1;
    if(a.atyp == DILL__SOCKS5_NAME) {
        if(dill_ipaddr_remote(addr, a.name, a.port, 0, deadline) < 0)
            return -1;
        return cmd;
    }
    dill__socks5_toip(addr, &a);
    return cmd;
}

int dill_socks5_proxy_recvcommandbyname(int s, char *host, int *port,
      int64_t deadline) {
    if(!host || !port) {errno = EINVAL; return -1;}
    struct dill__socks5_addr a;
    int cmd = dill__socks5_recvcmd(s, &a, deadline);
    if(cmd < 0) return -1;
    if(a.atyp == DILL__SOCKS5_NAME) memcpy(host, a.name, strlen(a.name) + 1);
    else inet_ntop(a.atyp == DILL__SOCKS5_IPV6 ? AF_INET6 : AF_INET, a.addr,
        host, DILL__SOCKS5_MAXSTR + 1);
    *port = a.port;
    return cmd;
}

int dill_socks5_proxy_sendreply(int s, int reply, struct dill_ipaddr *addr,
      int64_t deadline) {
    struct dill__socks5_addr a;
    memset(&a, 0, sizeof(a));
    a.atyp = DILL__SOCKS5_IPV4;
    if(addr) dill__socks5_fromip(&a, addr);
    uint8_t buf[32];
    ssize_t n = dill__socks5_command(buf, reply, &a);
    if(n < 0) {errno = -n; return -1;}
    return dill__socks5_send(s, buf, (size_t)n, deadline);
}
