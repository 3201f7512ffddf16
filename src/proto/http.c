/* HTTP/1.1 message heads, one line per call, over a bytestream socket
   (libdill 2.14's http_* API). */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "net/bsockx.h"
#include "proto/http.h"
#include "proto/httpparse.h"

/******************************************************************************/
/*  Line syntax (pure)                                                        */
/******************************************************************************/

static const char dill__http_ver[] = "HTTP/1.1";
#define DILL__HTTP_VERLEN (sizeof(dill__http_ver) - 1)

const char *dill__http_trim(const char *s, size_t *len) {
    size_t n = *len;
    while(n && (s[0] == ' ' || s[0] == '\t')) {s++; n--;}
    while(n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    *len = n;
    return s;
}

int dill__http_reqline(const char *line, size_t len, const char **method,
    size_t *methodlen, const char **target, size_t *targetlen) {
    const char *sp1 = memchr(line, ' ', len);
    if(!sp1) return -EPROTO;
    const char *rest = sp1 + 1;
    size_t restlen = len - (size_t)(rest - line);
    const char *sp2 = memchr(rest, ' ', restlen);
    if(!sp2) return -EPROTO;
    const char *ver = sp2 + 1;
    size_t verlen = len - (size_t)(ver - line);
    size_t mlen = (size_t)(sp1 - line);
    size_t tlen = (size_t)(sp2 - rest);
    /* The version check also rejects a third space: it would be part of
       what follows the second one. */
    if(!dill__http_is_token(line, mlen) || !dill__http_is_target(rest, tlen) ||
       verlen != DILL__HTTP_VERLEN ||
       memcmp(ver, dill__http_ver, DILL__HTTP_VERLEN) != 0)
        return -EPROTO;
    *method = line;
    *methodlen = mlen;
    *target = rest;
    *targetlen = tlen;
    return 0;
}

int dill__http_statusline(const char *line, size_t len, int *status,
    const char **reason, size_t *reasonlen) {
    if(len < DILL__HTTP_VERLEN + 4 ||
       memcmp(line, dill__http_ver, DILL__HTTP_VERLEN) != 0 ||
       line[DILL__HTTP_VERLEN] != ' ')
        return -EPROTO;
    const char *d = line + DILL__HTTP_VERLEN + 1;
    int code = 0;
    for(int i = 0; i != 3; i++) {
        if(d[i] < '0' || d[i] > '9') return -EPROTO;
        code = code * 10 + (d[i] - '0');
    }
    if(code < 100 || code > 599) return -EPROTO;
    const char *r = d + 3;
    size_t rlen = len - (size_t)(r - line);
    if(rlen) {
        if(r[0] != ' ') return -EPROTO;
        r++;
        rlen--;
    }
    if(!dill__http_is_value(r, rlen)) return -EPROTO;
    *status = code;
    *reason = r;
    *reasonlen = rlen;
    return 0;
}

int dill__http_fieldline(const char *line, size_t len, const char **name,
    size_t *namelen, const char **value, size_t *valuelen) {
    const char *colon = memchr(line, ':', len);
    if(!colon) return -EPROTO;
    size_t nlen = (size_t)(colon - line);
    /* Rejects folding (leading whitespace) and whitespace before the colon
       too: neither is a token character. */
    if(!dill__http_is_token(line, nlen)) return -EPROTO;
    size_t vlen = len - nlen - 1;
    const char *v = dill__http_trim(colon + 1, &vlen);
    if(!dill__http_is_value(v, vlen)) return -EPROTO;
    *name = line;
    *namelen = nlen;
    *value = v;
    *valuelen = vlen;
    return 0;
}

/******************************************************************************/
/*  The socket                                                                */
/******************************************************************************/

static const int dill__http_type_id = 0;
static const void *dill__http_type = &dill__http_type_id;

struct dill__http {
    struct dill_hvfs hvfs;
    /* The layer below; u is -1 once http_detach has taken it back. */
    struct dill_bsock_vfs *bvfs;
    struct dill__bsockx_vfs *xvfs;    /* NULL: read through bvfs */
    int u;
    /* Bytes of the line being received.  A receive that times out keeps
       them here, so that the next call resumes where it stopped. */
    uint16_t linelen;
    unsigned int cr : 1;        /* the last byte received was a CR */
    unsigned int rxstarted : 1; /* a line of the peer's head was received */
    unsigned int rxdone : 1;    /* the peer's head ended */
    unsigned int rxerr : 1;     /* the peer's head is broken: ECONNRESET */
    unsigned int txstarted : 1; /* we sent a line of our head */
    unsigned int txdone : 1;    /* we sent the empty line */
    unsigned int mem : 1;
    /* Held by the calls that may sleep (core.h). */
    struct dill__pin pin;
    char line[DILL__HTTP_LINE_MAX];
};

_Static_assert(sizeof(struct dill__http) <= sizeof(struct dill_http_storage),
    "http object must fit http_storage");
_Static_assert(DILL__HTTP_LINE_MAX <= UINT16_MAX, "linelen is 16-bit");

static void *dill__http_query(struct dill_hvfs *vfs, const void *type) {
    if(type == dill__http_type) return vfs;
    errno = ENOTSUP;
    return NULL;
}

static void dill__http_free(struct dill__pin *p) {
    struct dill__http *self = dill__cont(p, struct dill__http, pin);
    if(!self->mem) free(self);
}

static void dill__http_close(struct dill_hvfs *vfs) {
    struct dill__http *self = (struct dill__http*)vfs;
    if(self->u >= 0) dill_hclose(self->u);
    self->u = -1;
    dill__pin_close(&self->pin, dill__http_free);
}

static int dill__http_attach(int s, struct dill_http_storage *mem,
    int usemem) {
    int err;
    if(!dill_hquery(s, dill_bsock_type)) {
        err = errno;
        /* Not a bytestream: still ours to close, as documented. */
        if(err != EBADF) dill_hclose(s);
        errno = err;
        return -1;
    }
    if(usemem && !mem) {err = EINVAL; goto fail;}
    struct dill__http *self = usemem ? (struct dill__http*)mem :
        malloc(sizeof(struct dill__http));
    if(!self) {err = ENOMEM; goto fail;}
    memset(self, 0, sizeof(*self) - sizeof(self->line));
    self->hvfs.query = dill__http_query;
    self->hvfs.close = dill__http_close;
    self->mem = usemem;
    dill__pin_init(&self->pin);
    self->u = dill_hown(s);
    if(self->u < 0) {
        /* hown closed s. */
        err = errno;
        if(!usemem) free(self);
        errno = err;
        return -1;
    }
    self->bvfs = dill_hquery(self->u, dill_bsock_type);
    self->xvfs = dill_hquery(self->u, dill__bsockx_type);
    int h = dill_hmake(&self->hvfs);
    if(h < 0) {
        err = errno;
        dill_hclose(self->u);
        if(!usemem) free(self);
        errno = err;
        return -1;
    }
    return h;
fail:
    dill_hclose(s);
    errno = err;
    return -1;
}

int dill_http_attach(int s) {
    return dill__http_attach(s, NULL, 0);
}

int dill_http_attach_mem(int s, struct dill_http_storage *mem) {
    return dill__http_attach(s, mem, 1);
}

/******************************************************************************/
/*  Receiving lines                                                           */
/******************************************************************************/

/* One byte from the layer below. */
static int dill__http_getc(struct dill__http *self, char *c,
    int64_t deadline) {
    if(self->xvfs)
        return self->xvfs->ops->brecvsome(self->xvfs, c, 1, deadline) == 1 ? 0 : -1;
    struct dill_iolist iol = {c, 1, NULL, 0};
    return self->bvfs->brecvl(self->bvfs, &iol, &iol, deadline);
}

/* Receives the rest of the current line into self->line.  Returns its
   length (line end excluded; the bytes stay in self->line until the next
   call) or -1: EMSGSIZE (too long) and EPROTO (CR without LF) break the
   receive side; errors of the layer below keep the partial line.  The
   caller has the object pinned. */
static ssize_t dill__http_getline1(struct dill__http *self,
      int64_t deadline) {
    while(1) {
        char c;
        if(dill__http_getc(self, &c, deadline) < 0) return -1;
        if(self->cr) {
            if(c != '\n') {self->rxerr = 1; errno = EPROTO; return -1;}
            break;
        }
        if(c == '\r') {self->cr = 1; continue;}
        if(c == '\n') break;
        if(self->linelen == DILL__HTTP_LINE_MAX) {
            self->rxerr = 1;
            errno = EMSGSIZE;
            return -1;
        }
        self->line[self->linelen++] = c;
    }
    ssize_t n = self->linelen;
    self->linelen = 0;
    self->cr = 0;
    return n;
}

/* dill__http_getline1, pinned: -1 with EBADF when closed meanwhile (then
   the object must not be touched). */
static ssize_t dill__http_getline(struct dill__http *self, int64_t deadline) {
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    ssize_t n = dill__http_getline1(self, deadline);
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return n;
}

/* Copies s[0..len) as a C string into buf of size buflen. */
static int dill__http_copyout(char *buf, size_t buflen, const char *s,
    size_t len) {
    if(len >= buflen) return -EMSGSIZE;
    memcpy(buf, s, len);
    buf[len] = 0;
    return 0;
}

/* Common start of the receive calls: the socket, if it can receive. */
static struct dill__http *dill__http_rxstart(int s) {
    struct dill__http *self = dill_hquery(s, dill__http_type);
    if(!self) return NULL;
    if(self->rxerr) {errno = ECONNRESET; return NULL;}
    if(self->rxdone) {errno = EPIPE; return NULL;}
    if(dill__canblock() < 0) return NULL;
    return self;
}

/* A line that is not valid HTTP ends the receive side. */
static int dill__http_rxfail(struct dill__http *self, int err) {
    if(err == EPROTO) self->rxerr = 1;
    errno = err;
    return -1;
}

int dill_http_recvrequest(int s, char *command, size_t commandlen,
    char *resource, size_t resourcelen, int64_t deadline) {
    if(!dill_hquery(s, dill__http_type)) return -1;
    if(!command || !commandlen || !resource || !resourcelen) {
        errno = EINVAL;
        return -1;
    }
    struct dill__http *self = dill__http_rxstart(s);
    if(!self) return -1;
    ssize_t n;
    for(int empty = 0; ; empty++) {
        n = dill__http_getline(self, deadline);
        if(n < 0) return -1;
        /* RFC 9112, 2.2: tolerate a few empty lines before a request. */
        if(n || self->rxstarted) break;
        if(empty == DILL__HTTP_MAX_EMPTY) return dill__http_rxfail(self, EPROTO);
    }
    self->rxstarted = 1;
    const char *m, *t;
    size_t mlen, tlen;
    int rc = dill__http_reqline(self->line, (size_t)n, &m, &mlen, &t, &tlen);
    if(rc < 0) return dill__http_rxfail(self, -rc);
    if(mlen >= commandlen || tlen >= resourcelen)
        return dill__http_rxfail(self, EMSGSIZE);
    dill__http_copyout(command, commandlen, m, mlen);
    dill__http_copyout(resource, resourcelen, t, tlen);
    return 0;
}

int dill_http_recvstatus(int s, char *reason, size_t reasonlen,
    int64_t deadline) {
    if(!dill_hquery(s, dill__http_type)) return -1;
    if(!reason || !reasonlen) {errno = EINVAL; return -1;}
    struct dill__http *self = dill__http_rxstart(s);
    if(!self) return -1;
    ssize_t n = dill__http_getline(self, deadline);
    if(n < 0) return -1;
    self->rxstarted = 1;
    int status;
    const char *r;
    size_t rlen;
    int rc = dill__http_statusline(self->line, (size_t)n, &status, &r, &rlen);
    if(rc < 0) return dill__http_rxfail(self, -rc);
    rc = dill__http_copyout(reason, reasonlen, r, rlen);
    if(rc < 0) return dill__http_rxfail(self, -rc);
    return status;
}

int dill_http_recvfield(int s, char *name, size_t namelen, char *value,
    size_t valuelen, int64_t deadline) {
    if(!dill_hquery(s, dill__http_type)) return -1;
    if(!name || !namelen || !value || !valuelen) {errno = EINVAL; return -1;}
    struct dill__http *self = dill__http_rxstart(s);
    if(!self) return -1;
    ssize_t n = dill__http_getline(self, deadline);
    if(n < 0) return -1;
    if(n == 0) {
        self->rxdone = 1;
        errno = EPIPE;
        return -1;
    }
    self->rxstarted = 1;
    const char *nm, *v;
    size_t nlen, vlen;
    int rc = dill__http_fieldline(self->line, (size_t)n, &nm, &nlen, &v, &vlen);
    if(rc < 0) return dill__http_rxfail(self, -rc);
    if(nlen >= namelen || vlen >= valuelen)
        return dill__http_rxfail(self, EMSGSIZE);
    dill__http_copyout(name, namelen, nm, nlen);
    dill__http_copyout(value, valuelen, v, vlen);
    return 0;
}

/******************************************************************************/
/*  Sending lines                                                             */
/******************************************************************************/

/* Common start of the send calls: the socket, if it can still send. */
static struct dill__http *dill__http_txstart(int s) {
    struct dill__http *self = dill_hquery(s, dill__http_type);
    if(!self) return NULL;
    if(self->txdone) {errno = EPIPE; return NULL;}
    if(dill__canblock() < 0) return NULL;
    return self;
}

/* Sends the pieces p[0..n) as one line (the caller includes the CRLF).
   -1 with EBADF: closed meanwhile (then the object must not be
   touched). */
static int dill__http_sendv(struct dill__http *self, const char **p,
    const size_t *len, int n, int64_t deadline) {
    struct dill_iolist iol[6];
    for(int i = 0; i != n; i++) {
        iol[i].iol_base = (void*)p[i];
        iol[i].iol_len = len[i];
        iol[i].iol_next = i + 1 < n ? &iol[i + 1] : NULL;
        iol[i].iol_rsvd = 0;
    }
    self->txstarted = 1;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = self->bvfs->bsendl(self->bvfs, &iol[0], &iol[n - 1], deadline);
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return rc;
}

int dill_http_sendrequest(int s, const char *command, const char *resource,
    int64_t deadline) {
    if(!dill_hquery(s, dill__http_type)) return -1;
    if(!command || !resource ||
       !dill__http_is_token(command, strlen(command)) ||
       !dill__http_is_target(resource, strlen(resource))) {
        errno = EINVAL;
        return -1;
    }
    struct dill__http *self = dill__http_txstart(s);
    if(!self) return -1;
    const char *p[] = {command, " ", resource, " HTTP/1.1\r\n"};
    size_t len[] = {strlen(command), 1, strlen(resource), 11};
    return dill__http_sendv(self, p, len, 4, deadline);
}

int dill_http_sendstatus(int s, int status, const char *reason,
    int64_t deadline) {
    if(!dill_hquery(s, dill__http_type)) return -1;
    if(status < 100 || status > 599 || !reason ||
       !dill__http_is_value(reason, strlen(reason))) {
        errno = EINVAL;
        return -1;
    }
    struct dill__http *self = dill__http_txstart(s);
    if(!self) return -1;
    char code[] = "HTTP/1.1 000 ";
    code[9] = (char)('0' + status / 100);
    code[10] = (char)('0' + status / 10 % 10);
    code[11] = (char)('0' + status % 10);
    const char *p[] = {code, reason, "\r\n"};
    size_t len[] = {sizeof(code) - 1, strlen(reason), 2};
    return dill__http_sendv(self, p, len, 3, deadline);
}

int dill_http_sendfield(int s, const char *name, const char *value,
    int64_t deadline) {
    if(!dill_hquery(s, dill__http_type)) return -1;
    if(!name || !value) {errno = EINVAL; return -1;}
    size_t nlen = strlen(name);
    size_t vlen = strlen(value);
    const char *v = dill__http_trim(value, &vlen);
    if(!dill__http_is_token(name, nlen) || !dill__http_is_value(v, vlen)) {
        errno = EINVAL;
        return -1;
    }
    struct dill__http *self = dill__http_txstart(s);
    if(!self) return -1;
    const char *p[] = {name, ": ", v, "\r\n"};
    size_t len[] = {nlen, 2, vlen, 2};
    return dill__http_sendv(self, p, len, 4, deadline);
}

int dill_http_done(int s, int64_t deadline) {
    struct dill__http *self = dill__http_txstart(s);
    if(!self) return -1;
    const char *p[] = {"\r\n"};
    size_t len[] = {2};
    if(dill__http_sendv(self, p, len, 1, deadline) < 0) return -1;
    self->txdone = 1;
    return 0;
}

/******************************************************************************/
/*  Detaching                                                                 */
/******************************************************************************/

/* Reads and drops lines up to the empty line that ends the peer's head.
   Returns 0, or -1 with errno.  The caller has the object pinned. */
static int dill__http_discard(struct dill__http *self, int64_t deadline) {
    size_t total = 0;
    while(1) {
        ssize_t n = dill__http_getline(self, deadline);
        if(n < 0) return -1;
        if(n == 0) {
            if(self->rxstarted) break;
            /* Only an empty line before any head was pending: finishing
               it took nothing that belongs to the peer's next head. */
            return 0;
        }
        self->rxstarted = 1;
        total += (size_t)n + 2;
        if(total > DILL__HTTP_DISCARD_MAX) {errno = EMSGSIZE; return -1;}
        /* A peer that keeps lines coming must not keep us past the
           deadline. */
        if(dill__canblock() < 0) return -1;
        if(deadline >= 0 && dill_now() >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
    self->rxdone = 1;
    return 0;
}

int dill_http_detach(int s, int64_t deadline) {
    struct dill__http *self = dill_hquery(s, dill__http_type);
    if(!self) return -1;
    /* A call inside would be woken in the socket handed back. */
    if(self->pin.holders) {errno = EBUSY; return -1;}
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int err = 0;
    if(dill__canblock() < 0) err = errno;
    if(!err && self->txstarted && !self->txdone) {
        const char *p[] = {"\r\n"};
        size_t len[] = {2};
        if(dill__http_sendv(self, p, len, 1, deadline) < 0) err = errno;
        else self->txdone = 1;
    }
    if(!err && self->rxerr) err = ECONNRESET;
    /* Bytes of an unfinished line were taken from the socket already: the
       head has started and has to be read to its end. */
    if(!err && !self->rxdone && (self->rxstarted || self->linelen ||
       self->cr)) {
        if(dill__http_discard(self, deadline) < 0) err = errno;
    }
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    if(err) {
        dill_hclose(s);
        errno = err;
        return -1;
    }
    int u = self->u;
    self->u = -1;
    dill_hclose(s);
    return u;
}
