/* One-call WebSocket clients and servers: connect by URL, and a listener
   that does the TLS and WebSocket server handshakes in the background so
   that a server is a loop of accept + go(handler(s)). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "url.h"
#include "util/opts.h"

/******************************************************************************/
/*  Client                                                                    */
/******************************************************************************/

int dill_ws_connect(const char *url, const struct dill_ws_options *ws,
      const struct dill_tls_client_options *tlsopts, int64_t deadline) {
    struct dill__url *u = malloc(sizeof(struct dill__url));
    if(!u) {errno = ENOMEM; return -1;}
    int rc = dill__url_parse(url, u);
    if(rc < 0) {free(u); errno = -rc; return -1;}
    int err;
    struct dill_ipaddr addr;
    if(dill_ipaddr_remote(&addr, u->host, u->port, 0, deadline) < 0) {
        err = errno;
        goto error;
    }
    int s = dill_tcp_connect(&addr, deadline);
    if(s < 0) {err = errno; goto error;}
    if(u->secure) {
#if defined DILL_DISABLE_TLS
        dill_hclose(s);
        err = ENOTSUP;
        goto error;
#else
        struct dill_tls_client_options t;
        if(dill__opts_load(&t, sizeof(t), tlsopts) < 0) {
            dill_hclose(s);
            err = EINVAL;
            goto error;
        }
        /* Verify against the URL's host unless told otherwise. */
        if(!t.server_name) t.server_name = u->host;
        s = dill_tls_attach_client_opts(s, &t, NULL, deadline);
        if(s < 0) {err = errno; goto error;}
#endif
    }
    s = dill_ws_attach_client_opts(s, u->resource, u->hosthdr, ws, NULL,
        deadline);
    if(s < 0) {err = errno; goto error;}
    free(u);
    return s;
error:
    free(u);
    errno = err;
    return -1;
}

/******************************************************************************/
/*  Listener                                                                  */
/******************************************************************************/

/* A finished handshake on its way to dill_ws_accept. */
struct dill__wsconn {
    int s;
    struct dill_ipaddr peer;
    char resource[512];
};

struct dill__wslistener {
    struct dill_hvfs vfs;
    int tcp;                       /* tcp listener */
    int workers;                   /* bundle: acceptor and handshakes */
    int ch[2];                     /* handshakes -> dill_ws_accept */
    struct dill_ws_options ws;
    struct dill_tls_server_ctx *tls;
    int64_t timeout;
    int maxpending;
    int pending;
};

static const int dill__wslistener_type_placeholder = 0;
static const void *dill__wslistener_type = &dill__wslistener_type_placeholder;

static void *dill__wslistener_query(struct dill_hvfs *vfs, const void *type) {
    if(type == dill__wslistener_type) return vfs;
    errno = ENOTSUP;
    return NULL;
}

static void dill__wslistener_close(struct dill_hvfs *vfs) {
    struct dill__wslistener *self = (struct dill__wslistener*)vfs;
    /* Cancels the acceptor and every handshake in progress; a handshake
       waiting to be accepted closes its connection. */
    dill_hclose(self->workers);
    dill_hclose(self->ch[0]);
    dill_hclose(self->ch[1]);
    dill_hclose(self->tcp);
    free(self);
}

dill_coroutine static void dill__wshandshake(struct dill__wslistener *self,
      int s, struct dill_ipaddr peer) {
    int64_t deadline = dill_now() + self->timeout;
    struct dill__wsconn c;
#if !defined DILL_DISABLE_TLS
    if(self->tls) {
        s = dill_tls_attach_server_ctx(s, self->tls, NULL, deadline);
        if(s < 0) goto done;
    }
#endif
    char host[256];
    s = dill_ws_attach_server_opts(s, c.resource, sizeof(c.resource), host,
        sizeof(host), &self->ws, NULL, deadline);
    if(s < 0) goto done;
    c.s = s;
    c.peer = peer;
    /* Waits (without a deadline) until the application accepts it. */
    if(dill_chsend(self->ch[0], &c, sizeof(c), -1) < 0) dill_hclose(s);
done:
    self->pending--;
}

dill_coroutine static void dill__wsacceptor(struct dill__wslistener *self) {
    while(1) {
        /* Bound the handshakes in flight so a flood cannot exhaust memory. */
        while(self->pending >= self->maxpending)
            if(dill_msleep(dill_now() + 10) < 0) return;
        struct dill_ipaddr peer;
        int s = dill_tcp_accept(self->tcp, &peer, -1);
        if(s < 0) {
            if(errno == ECANCELED) return;
            /* EMFILE and friends: wait for descriptors to free up. */
            if(dill_msleep(dill_now() + 10) < 0) return;
            continue;
        }
        self->pending++;
        if(dill_bundle_go(self->workers, dill__wshandshake(self, s, peer)) < 0) {
            self->pending--;
            dill_hclose(s);
            if(errno == ECANCELED) return;
        }
    }
}

int dill_ws_listen(struct dill_ipaddr *addr,
      const struct dill_ws_listen_options *opts) {
    int err;
    struct dill_ws_listen_options o;
    if(dill__opts_load(&o, sizeof(o), opts) < 0) return -1;
    struct dill__wslistener *self = calloc(1, sizeof(*self));
    if(!self) {errno = ENOMEM; return -1;}
    self->vfs.query = dill__wslistener_query;
    self->vfs.close = dill__wslistener_close;
    if(dill__opts_load(&self->ws, sizeof(self->ws), o.ws) < 0) {
        err = errno;
        goto error1;
    }
    self->tls = o.tls;
    self->timeout = o.handshake_timeout > 0 ? o.handshake_timeout : 10000;
    self->maxpending = o.max_pending > 0 ? o.max_pending : 256;
    int backlog = o.backlog > 0 ? o.backlog : 128;
    self->tcp = o.reuseport ? dill_tcp_listen_reuseport(addr, backlog) :
        dill_tcp_listen(addr, backlog);
    if(self->tcp < 0) {err = errno; goto error1;}
    if(dill_chmake(self->ch) < 0) {err = errno; goto error2;}
    self->workers = dill_bundle();
    if(self->workers < 0) {err = errno; goto error3;}
    if(dill_bundle_go(self->workers, dill__wsacceptor(self)) < 0) {
        err = errno;
        goto error4;
    }
    int h = dill_hmake(&self->vfs);
    if(h < 0) {
        err = errno;
        dill__wslistener_close(&self->vfs);
        errno = err;
        return -1;
    }
    return h;
error4:
    dill_hclose(self->workers);
error3:
    dill_hclose(self->ch[0]);
    dill_hclose(self->ch[1]);
error2:
    dill_hclose(self->tcp);
error1:
    free(self);
    errno = err;
    return -1;
}

int dill_ws_accept(int s, char *resource, size_t resourcelen,
      struct dill_ipaddr *peer, int64_t deadline) {
    struct dill__wslistener *self = dill_hquery(s, dill__wslistener_type);
    if(!self) return -1;
    struct dill__wsconn c;
    if(dill_chrecv(self->ch[1], &c, sizeof(c), deadline) < 0) return -1;
    if(peer) *peer = c.peer;
    if(resource) {
        size_t n = strlen(c.resource);
        if(n >= resourcelen) {
            dill_hclose(c.s);
            errno = EMSGSIZE;
            return -1;
        }
        memcpy(resource, c.resource, n + 1);
    }
    return c.s;
}
