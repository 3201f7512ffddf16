/* WebSocket handles: attaching to a bytestream socket, with the opening
   handshake (RFC 6455 section 4) done through the sans-I/O pieces in
   wshs.c and httpparse.c.  Bytes that follow the handshake head are
   WebSocket frames and stay in the receive buffer. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/httpparse.h"
#include "proto/ws.h"
#include "proto/wshs.h"
#include "util/opts.h"

struct dill_ws_request {
    const struct dill__ws_server_req *r;
    const struct dill_ipaddr *peer;    /* NULL: not known */
    void *userdata;
};

/* Receives an HTTP head into the receive buffer.  Returns its size, -1 on
   an I/O error (errno), or -2 with *perr = -EPROTO/-EMSGSIZE when the head
   is malformed or too big. */
static int dill__ws_readhead(struct dill__ws *self, int request,
      struct dill__http_head *h, int *perr, int64_t deadline) {
    self->rbuf = dill__ws_buf_get();
    if(!self->rbuf) return -1;
    self->rpos = self->rlen = 0;
    /* A peer trickling its head byte by byte costs each read only its new
       bytes, not a parse of the whole head. */
    struct dill__http_pstate ps = DILL__HTTP_PSTATE_INIT;
    while(1) {
        if(self->rlen) {
            const char *p = (const char*)self->rbuf;
            int r = request ?
                dill__http_parse_request_r(p, self->rlen, h, &ps) :
                dill__http_parse_response_r(p, self->rlen, h, &ps);
            if(r > 0) return r;
            if(r < 0) {*perr = r; return -2;}
            if(self->rlen == DILL__WS_BUFSZ) {*perr = -EMSGSIZE; return -2;}
            /* A peer trickling bytes is bound by the deadline. */
            if(dill__busy(deadline) < 0) return -1;
        }
        uint8_t *dst = self->rbuf + self->rlen;
        ssize_t r;
        if(self->x)
            r = self->x->ops->brecvsome(self->x, dst, DILL__WS_BUFSZ - self->rlen,
                deadline);
        else {
            /* Without partial reads, byte by byte: nothing past the head
               may be taken from the stream. */
            struct dill_iolist io = {dst, 1, NULL, 0};
            r = self->b->brecvl(self->b, &io, &io, deadline) < 0 ? -1 : 1;
        }
        if(r < 0) return -1;
        self->rlen += (uint32_t)r;
    }
}

/* The head has been used: keep only the bytes after it. */
static void dill__ws_headdone(struct dill__ws *self, int hl) {
    self->rpos = (uint32_t)hl;
    if(self->rpos == self->rlen) {
        dill__ws_buf_put(self->rbuf);
        self->rbuf = NULL;
        self->rpos = self->rlen = 0;
    }
}

static int dill__ws_sendtext(struct dill__ws *self, const char *p, size_t n,
      int64_t deadline) {
    struct dill_iolist io = {(void*)p, n, NULL, 0};
    return self->b->bsendl(self->b, &io, &io, deadline);
}

static int dill__ws_setup(struct dill__ws *self,
      const struct dill_ws_options *o) {
    if(o->ping_interval > 0) {
        struct dill__ws_rare *r = dill__ws_rare(self);
        if(!r) return -1;
        r->ping_ivl = o->ping_interval;
        r->pong_tmo = o->pong_timeout > 0 ? o->pong_timeout :
            o->ping_interval;
        r->next_ping = dill_now() + r->ping_ivl;
        self->st->ka = 1;
    }
    return 0;
}

/* The deflate preferences of the options; 0 when deflate is off (always
   in a build without zlib). */
static int dill__ws_zcfg(const struct dill_ws_options *o,
      struct dill__wsz_cfg *cfg) {
#if DILL_HAVE_ZLIB
    if(o->deflate != DILL_WS_DEFLATE) return 0;
    dill__wsz_tier(o->deflate_memory, cfg);
    return 1;
#else
    (void)o;
    (void)cfg;
    return 0;
#endif
}

static int dill__ws_zon(struct dill__ws *self, const struct dill__wsz_agreed *a,
      const struct dill__wsz_cfg *cfg, const struct dill_ws_options *o) {
    return dill__ws_zsetup(self, a, cfg,
        o->deflate_threshold ? o->deflate_threshold : 128);
}

static int dill__ws_setproto(struct dill__ws *self, const char *p) {
    if(!p) return 0;
    struct dill__ws_rare *r = dill__ws_rare(self);
    if(!r) return -1;
    r->protocol = strdup(p);
    if(!r->protocol) {errno = ENOMEM; return -1;}
    return 0;
}

/******************************************************************************/
/*  Client                                                                    */
/******************************************************************************/

static void dill__ws_strcpy(char *dst, size_t size, const char *p, size_t n) {
    if(n >= size) n = size - 1;
    if(n) memcpy(dst, p, n);
    dst[n] = 0;
}

/* Copies the response head into the caller's structure (as much of it as
   its size field says it has). */
static void dill__ws_report(struct dill_ws_response *out,
      const struct dill__http_head *h) {
    if(out->size < sizeof(size_t)) return;
    struct dill_ws_response r;
    memset(&r, 0, sizeof(r));
    r.status = h->status;
    dill__ws_strcpy(r.reason, sizeof(r.reason), h->reason, h->reasonlen);
    size_t pos = 0;
    for(int i = 0; i < h->nheaders; i++) {
        const struct dill__http_header *f = &h->headers[i];
        size_t n = f->namelen + 2 + f->valuelen + 2;
        if(pos + n >= sizeof(r.headers)) {r.dropped++; continue;}
        pos += (size_t)sprintf(r.headers + pos, "%.*s: %.*s\r\n",
            (int)f->namelen, f->name, (int)f->valuelen, f->value);
        r.nheaders++;
    }
    size_t size = out->size < sizeof(r) ? out->size : sizeof(r);
    memcpy((char*)out + sizeof(size_t), (char*)&r + sizeof(size_t),
        size - sizeof(size_t));
}

static int dill__ws_client_hs(struct dill__ws *self, const char *resource,
      const char *host, const struct dill_ws_options *o, int64_t deadline) {
    struct dill__ws_client_opts co = {resource, host, o->origin,
        o->protocols, dill__opts_count(o->protocols), NULL, o->headers};
    struct dill__wsz_cfg zc;
    char offer[160];
    if(dill__ws_zcfg(o, &zc)) {
        if(dill__wsz_offer(&zc, offer, sizeof(offer)) < 0) {
            errno = EINVAL;
            return -1;
        }
        co.extensions = offer;
    }
    char key[DILL__WS_KEY_LEN + 1];
    dill__ws_make_key(key);
    uint8_t *buf = dill__ws_buf_get();
    if(!buf) return -1;
    ssize_t n = dill__ws_build_request((char*)buf, DILL__WS_BUFSZ, &co, key);
    if(n < 0) {
        dill__ws_buf_put(buf);
        errno = EINVAL;
        return -1;
    }
    int rc = dill__ws_sendtext(self, (char*)buf, (size_t)n, deadline);
    dill__ws_buf_put(buf);
    if(rc < 0) return -1;
    /* The head structure is big: keep it off the coroutine's stack. */
    struct dill__http_head *h = malloc(sizeof(*h));
    if(!h) {errno = ENOMEM; return -1;}
    int perr;
    /* Until a head arrives, the caller's structure says "no response". */
    static const struct dill__http_head nohead;
    if(o->response) dill__ws_report(o->response, &nohead);
    int hl = dill__ws_readhead(self, 0, h, &perr, deadline);
    if(hl == -2) errno = EPROTO;
    if(hl < 0) {free(h); return -1;}
    if(o->response) dill__ws_report(o->response, h);
    struct dill__ws_client_result res;
    rc = dill__ws_check_response(h, &co, key, &res);
    int refused = h->status != 101;
    struct dill__wsz_agreed za;
    int z = res.extensions != NULL;
    if(rc == 0 && z && dill__wsz_client(res.extensions, res.extensionslen,
       &zc, &za) < 0) rc = -1;
    free(h);
    /* A well-formed answer other than 101 is a refusal, not an error. */
    if(rc < 0) {errno = refused ? EACCES : EPROTO; return -1;}
    if(z && dill__ws_zon(self, &za, &zc, o) < 0) return -1;
    if(res.protocol >= 0 && dill__ws_setproto(self, res.protocol_name) < 0)
        return -1;
    dill__ws_headdone(self, hl);
    return 0;
}

/* Common start of the attach calls: checks the options (loaded into o;
   argsok: the caller's own arguments are valid) and sets up the object
   over s.  On failure s is closed and NULL returned with errno (EINVAL,
   ENOMEM...). */
static struct dill__ws *dill__ws_begin(int s, int server, int argsok,
      const struct dill_ws_options *o, struct dill_ws_storage *mem) {
    int err = EINVAL;
    if(argsok && !(o->flags & ~(DILL_WS_TEXT | DILL_WS_NOHTTP)) &&
       (o->deflate == 0 || o->deflate == DILL_WS_DEFLATE)) {
        struct dill__ws *self = dill__ws_new(s, server,
            o->flags & DILL_WS_TEXT, o->max_message, mem);
        if(self && dill__ws_setup(self, o) == 0) return self;
        if(self) {
            /* It owns s now (and keeps errno). */
            dill__ws_discard(self);
            return NULL;
        }
        err = errno;
    }
    dill_hclose(s);
    errno = err;
    return NULL;
}

int dill_ws_attach_client_opts(int s, const char *resource, const char *host,
      const struct dill_ws_options *user, struct dill_ws_storage *mem,
      int64_t deadline) {
    struct dill_ws_options o;
    int ok = dill__opts_load(&o, sizeof(o), user) == 0;
    int nohttp = o.flags & DILL_WS_NOHTTP;
    struct dill__ws *self = dill__ws_begin(s, 0,
        ok && (nohttp || (resource && host)), &o, mem);
    if(!self) return -1;
    if(!nohttp && dill__ws_client_hs(self, resource, host, &o, deadline) < 0) {
        dill__ws_discard(self);
        return -1;
    }
    return dill__ws_publish(self);
}

int dill_ws_attach_client_mem(int s, int flags, const char *resource,
      const char *host, struct dill_ws_storage *mem, int64_t deadline) {
    if(!mem) {dill_hclose(s); errno = EINVAL; return -1;}
    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    o.flags = flags;
    return dill_ws_attach_client_opts(s, resource, host, &o, mem, deadline);
}

int dill_ws_attach_client(int s, int flags, const char *resource,
      const char *host, int64_t deadline) {
    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    o.flags = flags;
    return dill_ws_attach_client_opts(s, resource, host, &o, NULL, deadline);
}

/******************************************************************************/
/*  Server                                                                    */
/******************************************************************************/

/* Answers a refused request (best effort) and fails with err. */
static int dill__ws_refuse(struct dill__ws *self, int status, int err,
      int64_t deadline) {
    uint8_t *buf = dill__ws_buf_get();
    if(buf) {
        ssize_t n = dill__ws_build_error((char*)buf, DILL__WS_BUFSZ, status,
            NULL, NULL);
        if(n > 0) dill__ws_sendtext(self, (char*)buf, (size_t)n, deadline);
        dill__ws_buf_put(buf);
    }
    errno = err;
    return -1;
}

static int dill__ws_copystr(char *dst, size_t len, struct dill__ws_str s) {
    if(s.len >= len) return -1;
    memcpy(dst, s.p, s.len);
    dst[s.len] = 0;
    return 0;
}

struct dill__ws_srvhs {
    struct dill__http_head h;
    struct dill__ws_server_req r;
};

/* Validates the request, lets the application look at it, answers. */
static int dill__ws_server_answer(struct dill__ws *self,
      struct dill__ws_server_req *r, char *resource, size_t resourcelen,
      char *host, size_t hostlen, const struct dill_ws_options *o,
      const struct dill_ipaddr *peer, int64_t deadline) {
    if(dill__ws_copystr(resource, resourcelen, r->resource) < 0)
        return dill__ws_refuse(self, 414, EMSGSIZE, deadline);
    if(dill__ws_copystr(host, hostlen, r->host) < 0)
        return dill__ws_refuse(self, 400, EMSGSIZE, deadline);
    if(o->check) {
        struct dill_ws_request req = {r, peer, NULL};
        int status = o->check(&req, o->check_arg);
        if(status) {
            if(status < 400 || status > 599) status = 403;
            return dill__ws_refuse(self, status, EACCES, deadline);
        }
        if(req.userdata) {
            struct dill__ws_rare *rr = dill__ws_rare(self);
            if(!rr) return -1;
            rr->userdata = req.userdata;
        }
    }
    const char *proto = NULL;
    if(o->protocols && o->protocols[0]) {
        int i = dill__ws_choose_protocol(r, o->protocols,
            dill__opts_count(o->protocols));
        if(i >= 0) proto = o->protocols[i];
    }
    struct dill__wsz_cfg zc;
    struct dill__wsz_agreed za;
    char ext[160];
    int z = dill__ws_zcfg(o, &zc) &&
        dill__wsz_server(r->head, &zc, &za, ext, sizeof(ext)) == 1;
    uint8_t *buf = dill__ws_buf_get();
    if(!buf) return -1;
    ssize_t n = dill__ws_build_response((char*)buf, DILL__WS_BUFSZ, r, proto,
        z ? ext : NULL, o->headers);
    if(n < 0) {
        dill__ws_buf_put(buf);
        return dill__ws_refuse(self, 500, EINVAL, deadline);
    }
    int rc = dill__ws_sendtext(self, (char*)buf, (size_t)n, deadline);
    dill__ws_buf_put(buf);
    if(rc < 0) return -1;
    if(z && dill__ws_zon(self, &za, &zc, o) < 0) return -1;
    return dill__ws_setproto(self, proto);
}

/* A request that is not an upgrade, answered by the application's http
   callback.  Always fails: EACCES once answered. */
static int dill__ws_http_answer(struct dill__ws *self,
      struct dill__ws_server_req *r, const struct dill_ws_options *o,
      const struct dill_ipaddr *peer, int64_t deadline) {
    struct dill_ws_request req = {r, peer, NULL};
    struct dill_ws_http_response a = {0};
    int status = o->http(&req, &a, o->http_arg);
    if(status) {
        if(status < 400 || status > 599) status = 500;
        return dill__ws_refuse(self, status, EACCES, deadline);
    }
    uint8_t *buf = dill__ws_buf_get();
    if(!buf) return -1;
    ssize_t n = (a.body || !a.len) ? dill__ws_build_plain((char*)buf,
        DILL__WS_BUFSZ, a.status, a.content_type, a.len, a.headers) : -EINVAL;
    int rc = n < 0 ? -1 :
        dill__ws_sendtext(self, (char*)buf, (size_t)n, deadline);
    dill__ws_buf_put(buf);
    if(n < 0) return dill__ws_refuse(self, 500, EACCES, deadline);
    if(rc == 0 && a.len)
        rc = dill__ws_sendtext(self, (const char*)a.body, a.len, deadline);
    if(rc == 0) errno = EACCES;
    return -1;
}

static int dill__ws_server_hs(struct dill__ws *self, char *resource,
      size_t resourcelen, char *host, size_t hostlen,
      const struct dill_ws_options *o, const struct dill_ipaddr *peer,
      int64_t deadline) {
    struct dill__ws_srvhs *hs = malloc(sizeof(*hs));
    if(!hs) {errno = ENOMEM; return -1;}
    int perr, rc;
    int hl = dill__ws_readhead(self, 1, &hs->h, &perr, deadline);
    if(hl == -2)
        rc = dill__ws_refuse(self, perr == -EMSGSIZE ? 431 : 400, EPROTO,
            deadline);
    else if(hl < 0) rc = -1;
    else {
        int status = dill__ws_check_request(&hs->h, &hs->r);
        if(o->http && !dill__ws_is_upgrade(&hs->h))
            rc = dill__ws_http_answer(self, &hs->r, o, peer, deadline);
        else if(status) rc = dill__ws_refuse(self, status, EPROTO, deadline);
        else rc = dill__ws_server_answer(self, &hs->r, resource, resourcelen,
            host, hostlen, o, peer, deadline);
    }
    int err = errno;
    free(hs);
    if(rc < 0) {errno = err; return -1;}
    dill__ws_headdone(self, hl);
    return 0;
}

static int dill__ws_attach_server_x(int s, char *resource, size_t resourcelen,
    char *host, size_t hostlen, const struct dill_ws_options *user,
    struct dill_ws_storage *mem, const struct dill_ipaddr *peer,
    struct dill__ws **obj, int64_t deadline);

int dill_ws_attach_server_opts(int s, char *resource, size_t resourcelen,
      char *host, size_t hostlen, const struct dill_ws_options *user,
      struct dill_ws_storage *mem, int64_t deadline) {
    return dill__ws_attach_server_x(s, resource, resourcelen, host, hostlen,
        user, mem, NULL, NULL, deadline);
}

int dill__ws_attach_server_ex(int s, char *resource, size_t resourcelen,
      char *host, size_t hostlen, const struct dill_ws_options *o,
      const struct dill_ipaddr *peer, struct dill__ws **obj,
      int64_t deadline) {
    return dill__ws_attach_server_x(s, resource, resourcelen, host, hostlen,
        o, NULL, peer, obj, deadline);
}

static int dill__ws_attach_server_x(int s, char *resource, size_t resourcelen,
      char *host, size_t hostlen, const struct dill_ws_options *user,
      struct dill_ws_storage *mem, const struct dill_ipaddr *peer,
      struct dill__ws **obj, int64_t deadline) {
    struct dill_ws_options o;
    int ok = dill__opts_load(&o, sizeof(o), user) == 0;
    int nohttp = o.flags & DILL_WS_NOHTTP;
    struct dill__ws *self = dill__ws_begin(s, 1,
        ok && (nohttp || (resource && resourcelen && host && hostlen)), &o,
        mem);
    if(!self) return -1;
    if(!nohttp && dill__ws_server_hs(self, resource, resourcelen, host,
       hostlen, &o, peer, deadline) < 0) {
        dill__ws_discard(self);
        return -1;
    }
    int h = dill__ws_publish(self);
    if(h >= 0 && obj) *obj = self;
    /* The handshake's frames (and TLS's below, for wss) went deeper than
       the connection's messages will: their pages would stay with it. */
    if(h >= 0) dill__stack_trim();
    return h;
}

int dill_ws_attach_server_mem(int s, int flags, char *resource,
      size_t resourcelen, char *host, size_t hostlen,
      struct dill_ws_storage *mem, int64_t deadline) {
    if(!mem) {dill_hclose(s); errno = EINVAL; return -1;}
    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    o.flags = flags;
    return dill_ws_attach_server_opts(s, resource, resourcelen, host, hostlen,
        &o, mem, deadline);
}

int dill_ws_attach_server(int s, int flags, char *resource,
      size_t resourcelen, char *host, size_t hostlen, int64_t deadline) {
    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    o.flags = flags;
    return dill_ws_attach_server_opts(s, resource, resourcelen, host, hostlen,
        &o, NULL, deadline);
}

int dill_ws_request_peer(const struct dill_ws_request *req,
      struct dill_ipaddr *addr) {
    if(!req || !addr) {errno = EINVAL; return -1;}
    if(!req->peer) {errno = ENOENT; return -1;}
    *addr = *req->peer;
    return 0;
}

int dill_ws_request_set_userdata(const struct dill_ws_request *req,
      void *data) {
    if(!req) {errno = EINVAL; return -1;}
    /* The request object is the library's own, only handed out as const
       so that check cannot change the request. */
    ((struct dill_ws_request*)req)->userdata = data;
    return 0;
}

int dill_ws_userdata(int s, void **data) {
    struct dill__ws *self = dill_hquery(s, dill__ws_type);
    if(!self) return -1;
    if(!data) {errno = EINVAL; return -1;}
    *data = self->st->rare ? self->st->rare->userdata : NULL;
    return 0;
}

ssize_t dill_ws_request_header(const struct dill_ws_request *req,
      const char *name, char *buf, size_t len) {
    if(!req || !name || (!buf && len)) {errno = EINVAL; return -1;}
    struct dill__ws_str v;
    if(strcmp(name, ":path") == 0) v = req->r->resource;
    else if(strcmp(name, ":method") == 0) {
        v.p = req->r->head->method;
        v.len = req->r->head->methodlen;
    }
    else {
        const struct dill__http_head *h = req->r->head;
        int i = dill__http_find(h, name, 0);
        if(i < 0) {errno = ENOENT; return -1;}
        v.p = h->headers[i].value;
        v.len = h->headers[i].valuelen;
    }
    if(v.len >= len) {errno = EMSGSIZE; return -1;}
    memcpy(buf, v.p, v.len);
    buf[v.len] = 0;
    return (ssize_t)v.len;
}
