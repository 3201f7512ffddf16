/* A WebSocket listener: accepts TCP connections and runs their TLS and
   WebSocket server handshakes in coroutines of its own, so that a server
   is a loop of ws_accept + go(handler(s)).  It also keeps track of the
   connections it handed out, which is what lets it shut the server down
   gracefully (every connection gets a Close frame) and report counts. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "proto/ws.h"
#include "util/opts.h"
#if !defined DILL_DISABLE_TLS
#include "proto/tls.h"
#endif

/* A finished handshake on its way to dill_ws_accept. */
struct dill__wsconn {
    int s;
    struct dill_ipaddr peer;
    char resource[DILL__WS_RESOURCE_MAX + 1];
};

struct dill__wslistener {
    struct dill_hvfs vfs;
    int tcp;                       /* tcp listener, -1 once shut down */
    int workers;                   /* bundle: acceptor and handshakes */
    int ch[2];                     /* handshakes -> dill_ws_accept */
    struct dill_ws_options ws;
    struct dill_ws_listen_options o;
    struct dill_tls_server_ctx *tls;   /* a reference of our own */
    int64_t timeout;
    int maxpending;
    int pending;
    /* The acceptor waiting for a handshake to end, the shutdown waiting
       for the last connection to close (NULL: nobody waits). */
    struct dill__clause *acceptor_cl;
    struct dill__clause *drain_cl;
    /* Connections handed out and still open: not yet asked to close, and
       asked (during a shutdown). */
    struct dill__list live;
    struct dill__list asked;
    int nlive;
    int shutting;                  /* ws_listen_shutdown was called */
    /* ws_listen_shutdown is sending a Close in a connection, unpinned
       (see dill__wslistener_drain); closed: hclose came meanwhile, and
       the shutdown frees the listener when that send returns. */
    int sending;
    int closed;
    struct dill__pin pin;          /* ws_accept, ws_listen_shutdown */
    uint64_t accepted, handshakes, failed;
};

static const int dill__wslistener_type_placeholder = 0;
static const void *dill__wslistener_type = &dill__wslistener_type_placeholder;

static void *dill__wslistener_query(struct dill_hvfs *vfs, const void *type) {
    if(type == dill__wslistener_type) return vfs;
    errno = ENOTSUP;
    return NULL;
}

static void dill__wslistener_settls(struct dill__wslistener *self,
      struct dill_tls_server_ctx *ctx) {
#if !defined DILL_DISABLE_TLS
    if(ctx) dill__tls_server_ctx_ref(ctx);
    if(self->tls) dill_tls_server_ctx_free(self->tls);
#endif
    self->tls = ctx;
}

/* Stops accepting: the acceptor and the handshakes in progress are
   cancelled, connections waiting for ws_accept are closed, and ws_accept
   fails with EPIPE from then on. */
static void dill__wslistener_stop(struct dill__wslistener *self) {
    if(self->tcp < 0) return;
    dill_hclose(self->workers);
    self->workers = -1;
    struct dill__wsconn c;
    while(dill_chrecv(self->ch[1], &c, sizeof(c), 0) == 0) dill_hclose(c.s);
    dill_chdone(self->ch[0]);
    dill_hclose(self->tcp);
    self->tcp = -1;
}

/* The memory, once no call is inside any more. */
static void dill__wslistener_free(struct dill__pin *p) {
    struct dill__wslistener *self =
        dill__cont(p, struct dill__wslistener, pin);
    if(self->sending) self->closed = 1;
    else free(self);
}

static void dill__wslistener_close(struct dill_hvfs *vfs) {
    struct dill__wslistener *self = (struct dill__wslistener*)vfs;
    dill__wslistener_stop(self);
    /* Open connections outlive the listener: they forget it. */
    struct dill__list *lists[] = {&self->live, &self->asked};
    for(int i = 0; i < 2; i++) {
        while(!dill__list_empty(lists[i])) {
            struct dill__list *it = lists[i]->next;
            dill__list_erase(it);
            dill__list_init(it);
            dill__cont(it, struct dill__ws_rare, lnode)->gone = NULL;
        }
    }
    dill_hclose(self->ch[0]);
    dill_hclose(self->ch[1]);
    dill__wslistener_settls(self, NULL);
    dill__pin_close(&self->pin, dill__wslistener_free);
}

struct dill__wslsleep {
    struct dill__clause cl;
    struct dill__clause **slot;
};

/* The sleeper's stack was copied (hibernation, shared stacks): the waker
   finds the clause at its new place.  The acceptor sleeps here for as
   long as the listener is full, which must not keep it from moving. */
static void dill__wslistener_move(struct dill__clause *cl,
      const struct dill__move *m) {
    struct dill__wslsleep *w = dill__cont(cl, struct dill__wslsleep, cl);
    if(dill__move_keeping(m)) {dill__move_keep(m, w, sizeof(*w)); return;}
    w->slot = dill__moved(m, w->slot);
    *w->slot = cl;
}

/* Sleeps until woken through *slot or the deadline.  Returns 0, or -1 with
   errno (ETIMEDOUT, ECANCELED, or the error the waker gave). */
static int dill__wslistener_sleep(struct dill__clause **slot,
      int64_t deadline) {
    struct dill__wslsleep w;
    dill__waitfor(&w.cl, 0, NULL);
    w.cl.move = dill__wslistener_move;
    w.slot = slot;
    *slot = &w.cl;
    int rc = dill__wait(deadline, 1);
    int err = errno;
    *slot = NULL;
    if(rc < 0 || err) {errno = err ? err : errno; return -1;}
    return 0;
}

static void dill__wslistener_wake(struct dill__clause **slot) {
    if(*slot) {
        dill__trigger(*slot, 0);
        *slot = NULL;
    }
}

/* A handed-out connection is being freed (closed or detached). */
static void dill__wslistener_gone(struct dill__ws *ws, void *arg) {
    struct dill__wslistener *self = arg;
    dill__list_erase(&ws->st->rare->lnode);
    dill__list_init(&ws->st->rare->lnode);
    self->nlive--;
    if(self->nlive == 0) dill__wslistener_wake(&self->drain_cl);
}

static void dill__wslistener_failed(struct dill__wslistener *self,
      const struct dill_ipaddr *peer, int err) {
    self->failed++;
    if(self->o.failed) self->o.failed(peer, err, self->o.failed_arg);
}

static void dill__wshandshake1(struct dill__wslistener *self, int s,
      struct dill_ipaddr peer) {
    int64_t deadline = dill_now() + self->timeout;
    struct dill__wsconn c;
#if !defined DILL_DISABLE_TLS
    struct dill_tls_server_ctx *tls = self->tls;
    if(tls) {
        /* Our own reference: the listener's may be replaced meanwhile. */
        dill__tls_server_ctx_ref(tls);
        s = dill_tls_attach_server_ctx(s, tls, NULL, deadline);
        int err = errno;
        dill_tls_server_ctx_free(tls);
        errno = err;
        if(s < 0) goto fail;
    }
#endif
    char host[DILL__WS_HOST_MAX + 1];
    struct dill__ws *ws;
    s = dill__ws_attach_server_ex(s, c.resource, sizeof(c.resource), host,
        sizeof(host), &self->ws, &peer, &ws, deadline);
    if(s < 0) goto fail;
    self->handshakes++;
    struct dill__ws_rare *r = dill__ws_rare(ws);
    if(!r) {
        int err = errno;
        dill_hclose(s);
        errno = err;
        goto fail;
    }
    r->gone = dill__wslistener_gone;
    r->gonearg = self;
    dill__list_push(&self->live, &r->lnode);
    self->nlive++;
    c.s = s;
    c.peer = peer;
    /* Waits (without a deadline) until the application accepts it. */
    if(dill_chsend(self->ch[0], &c, sizeof(c), -1) < 0) dill_hclose(s);
    goto done;
fail:
    if(errno != ECANCELED) dill__wslistener_failed(self, &peer, errno);
done:
    self->pending--;
    dill__wslistener_wake(&self->acceptor_cl);
}

/* Connections taken from the backlog at once, at most. */
#define DILL__WS_ACCEPT_BATCH 32

struct dill__wsnew {
    int s;
    struct dill_ipaddr peer;
};

/* Starts the handshakes of a batch as a tree: every go() makes its caller
   wait a whole scheduler round, long while many connections are busy, so
   a loop would need n rounds for n connections and a tree needs log2(n). */
dill_coroutine static void dill__wshandshakes(struct dill__wslistener *self,
      const struct dill__wsnew *batch, int n) {
    /* Copied before the caller goes on (a new coroutine runs first). */
    struct dill__wsnew mine[DILL__WS_ACCEPT_BATCH];
    memcpy(mine, batch, sizeof(*batch) * (size_t)n);
    /* Lives across go()'s setjmp. */
    volatile int left = n;
    while(left > 1) {
        int h = left / 2;
        if(dill_bundle_go(self->workers,
           dill__wshandshakes(self, mine + h, left - h)) < 0) {
            for(int i = h; i < left; i++) {
                dill_hclose(mine[i].s);
                self->pending--;
            }
            dill__wslistener_wake(&self->acceptor_cl);
        }
        left = h;
    }
    dill__wshandshake1(self, mine[0].s, mine[0].peer);
}

/* Takes what waits in the backlog, up to the batch size and the bound on
   handshakes in flight (which keeps a flood from exhausting memory; the
   next handshake to end wakes us).  Returns the count, or -1 when
   cancelled. */
static int dill__wsaccept_batch(struct dill__wslistener *self,
      struct dill__wsnew *batch) {
    int n = 0;
    while(n < DILL__WS_ACCEPT_BATCH) {
        if(self->pending >= self->maxpending) {
            if(n) break;
            if(dill__wslistener_sleep(&self->acceptor_cl, -1) < 0) return -1;
            continue;
        }
        int s = dill_tcp_accept(self->tcp, &batch[n].peer, n ? 0 : -1);
        if(s < 0) {
            if(n) break;
            if(errno == ECANCELED) return -1;
            /* EMFILE and friends: wait for descriptors to free up. */
            if(dill_msleep(dill_now() + 10) < 0) return -1;
            continue;
        }
        batch[n++].s = s;
        self->accepted++;
        self->pending++;
    }
    return n;
}

dill_coroutine static void dill__wsacceptor(struct dill__wslistener *self) {
    struct dill__wsnew batch[DILL__WS_ACCEPT_BATCH];
    while(1) {
        int n = dill__wsaccept_batch(self, batch);
        if(n < 0) return;
        if(dill_bundle_go(self->workers, dill__wshandshakes(self, batch, n))
           < 0) {
            for(int i = 0; i < n; i++) dill_hclose(batch[i].s);
            self->pending -= n;
            if(errno == ECANCELED) return;
        }
    }
}

static int dill__wslistener_start(struct dill__wslistener *self,
      struct dill_ipaddr *addr) {
    int err;
    int backlog = self->o.backlog > 0 ? self->o.backlog : 1024;
    self->tcp = self->o.reuseport ?
        dill_tcp_listen_reuseport(addr, backlog) :
        dill_tcp_listen(addr, backlog);
    if(self->tcp < 0) return -1;
    if(dill_chmake(self->ch) < 0) {err = errno; goto error1;}
    self->workers = dill_bundle();
    if(self->workers < 0) {err = errno; goto error2;}
    if(dill_bundle_go(self->workers, dill__wsacceptor(self)) < 0) {
        err = errno;
        goto error3;
    }
    return 0;
error3:
    dill_hclose(self->workers);
error2:
    dill_hclose(self->ch[0]);
    dill_hclose(self->ch[1]);
error1:
    dill_hclose(self->tcp);
    errno = err;
    return -1;
}

int dill_ws_listen(struct dill_ipaddr *addr,
      const struct dill_ws_listen_options *opts) {
    struct dill__wslistener *self = calloc(1, sizeof(*self));
    if(!self) {errno = ENOMEM; return -1;}
    if(dill__opts_load(&self->o, sizeof(self->o), opts) < 0 ||
       dill__opts_load(&self->ws, sizeof(self->ws), self->o.ws) < 0) {
        free(self);
        errno = EINVAL;
        return -1;
    }
    self->vfs.query = dill__wslistener_query;
    self->vfs.close = dill__wslistener_close;
    dill__list_init(&self->live);
    dill__list_init(&self->asked);
    dill__pin_init(&self->pin);
    self->timeout = self->o.handshake_timeout > 0 ?
        self->o.handshake_timeout : 10000;
    self->maxpending = self->o.max_pending > 0 ? self->o.max_pending : 256;
    if(dill__wslistener_start(self, addr) < 0) {
        int err = errno;
        free(self);
        errno = err;
        return -1;
    }
    dill__wslistener_settls(self, self->o.tls);
    int h = dill_hmake(&self->vfs);
    if(h < 0) {
        int err = errno;
        dill__wslistener_close(&self->vfs);
        errno = err;
        return -1;
    }
    return h;
}

int dill_ws_accept(int s, char *resource, size_t resourcelen,
      struct dill_ipaddr *peer, int64_t deadline) {
    struct dill__wslistener *self = dill_hquery(s, dill__wslistener_type);
    if(!self) return -1;
    struct dill__wsconn c;
    c.s = -1;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = dill_chrecv(self->ch[1], &c, sizeof(c), deadline);
    if(dill__unpin(&self->pin, &pr) < 0) {
        /* Closed after a connection was handed over, before we ran. */
        if(c.s >= 0) dill_hclose(c.s);
        return -1;
    }
    if(rc < 0) return -1;
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

int dill_ws_listen_set_tls(int s, struct dill_tls_server_ctx *ctx) {
    struct dill__wslistener *self = dill_hquery(s, dill__wslistener_type);
    if(!self) return -1;
#if defined DILL_DISABLE_TLS
    if(ctx) {errno = ENOTSUP; return -1;}
#endif
    dill__wslistener_settls(self, ctx);
    return 0;
}

int dill_ws_listen_stats(int s, struct dill_ws_listen_stats *st) {
    struct dill__wslistener *self = dill_hquery(s, dill__wslistener_type);
    if(!self) return -1;
    struct dill_ws_listen_stats r;
    if(!st || dill__opts_load(&r, sizeof(r), st) < 0) {
        errno = EINVAL;
        return -1;
    }
    r.accepted = self->accepted;
    r.handshakes = self->handshakes;
    r.failed = self->failed;
    r.pending = self->pending;
    r.open = self->nlive;
    size_t size = st->size < sizeof(r) ? st->size : sizeof(r);
    memcpy((char*)st + sizeof(size_t), (char*)&r + sizeof(size_t),
        size - sizeof(size_t));
    return 0;
}

/* Asks every connection handed out to close, then waits until their
   owners have closed them all.  A Close is sent unpinned: a pin's
   eviction on hclose would cut short a wait in the connection, which is
   the application's (core.h: a pinned call waits only in what its
   object's close closes); closed tells instead. */
static int dill__wslistener_drain(struct dill__wslistener *self, int status,
      const void *reason, size_t len, int64_t deadline) {
    /* Always take the first connection not yet asked: closing one may free
       others (their gone hook unlinks them) but not the list itself. */
    while(!dill__list_empty(&self->live)) {
        struct dill__list *it = self->live.next;
        dill__list_erase(it);
        dill__list_push(&self->asked, it);
        struct dill__ws *ws = dill__cont(it, struct dill__ws_rare, lnode)->ws;
        self->sending = 1;
        int rc = dill__ws_sendclose(ws, status, reason, len, deadline);
        self->sending = 0;
        if(self->closed) {free(self); errno = EBADF; return -1;}
        if(rc < 0 && (errno == ECANCELED || errno == ETIMEDOUT)) return -1;
    }
    /* The owners see the peers' Close replies as EPIPE from their
       receiving calls and close their handles. */
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = 0;
    /* Closed during the sends while a ws_accept was still inside: nothing
       would wake us (the connections forgot the listener). */
    while(rc == 0 && self->nlive > 0 && !dill__pin_closed(&self->pin))
        rc = dill__wslistener_sleep(&self->drain_cl, deadline);
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return rc;
}

int dill_ws_listen_shutdown(int s, int status, const void *reason,
      size_t len, int64_t deadline) {
    struct dill__wslistener *self = dill_hquery(s, dill__wslistener_type);
    if(!self) return -1;
    if(self->shutting) {errno = EPIPE; return -1;}
    if((status != 0 && !dill__ws_close_code_valid(status)) ||
       len > DILL__WS_CONTROL_MAX - 2 || (len && !reason)) {
        errno = EINVAL;
        return -1;
    }
    self->shutting = 1;
    dill__wslistener_stop(self);
    return dill__wslistener_drain(self, status, reason, len, deadline);
}
