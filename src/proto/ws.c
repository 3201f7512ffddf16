/* WebSocket handles (RFC 6455): frames, messages, control frames, closing.
   The opening handshakes are in wsattach.c.  See ws.h.

   Concurrency: one coroutine may receive while others send.  Frames are
   written under a send lock (a flag plus a FIFO of waiting coroutines), so
   frames never interleave.  The receiving side never waits for the lock:
   when it is taken, a pong or close reply is queued in st->pend and the
   holder writes it after its frame, before letting the next sender in. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/iol.h"
#include "proto/ws.h"
#include "util/random.h"
#include "util/utf8.h"

_Static_assert(sizeof(struct dill__ws) <= sizeof(struct dill_ws_storage),
    "ws object must fit dill_ws_storage");

static const int dill__ws_type_id = 0;
const void *dill__ws_type = &dill__ws_type_id;

/* Receive modes. */
#define DILL__WS_RX_PART 1 /* return pieces (dill_ws_recv_part) */
#define DILL__WS_RX_DROP 2 /* discard everything until the peer's Close */

/******************************************************************************/
/*  Buffer pool                                                               */
/******************************************************************************/

/* Two size classes from the per-thread pool: DILL__WS_BUFSZ (receive,
   handshake, small frames) and DILL__WS_BIGSZ (masking scratch for big
   client frames: fewer, larger writes). */
static uint8_t *dill__ws_pool_get(int big) {
    return big ? dill__pool_get(DILL__POOL_WSBIG, DILL__WS_BIGSZ) :
        dill__pool_get(DILL__POOL_WS, DILL__WS_BUFSZ);
}

static void dill__ws_pool_put(int big, uint8_t *buf) {
    dill__pool_put(big ? DILL__POOL_WSBIG : DILL__POOL_WS, buf);
}

uint8_t *dill__ws_buf_get(void) {
    return dill__ws_pool_get(0);
}

void dill__ws_buf_put(uint8_t *buf) {
    dill__ws_pool_put(0, buf);
}

/******************************************************************************/
/*  Control-frame memory                                                      */
/******************************************************************************/

/* All threads' blocks (connections may be closed by another thread than
   the one that made them). */
static size_t dill__ws_ncb;

size_t dill__ws_cb_live(void) {
    return __atomic_load_n(&dill__ws_ncb, __ATOMIC_RELAXED);
}

/* All threads' rare blocks (as dill__ws_ncb). */
static size_t dill__ws_nrare;

size_t dill__ws_rare_live(void) {
    return __atomic_load_n(&dill__ws_nrare, __ATOMIC_RELAXED);
}

/* The connection's block, made on first use.  NULL with ENOMEM. */
static struct dill__ws_cb *dill__ws_cbget(struct dill__ws_st *st) {
    if(dill__fast(st->cb != NULL)) return st->cb;
    struct dill__ws_cb *cb = malloc(sizeof(*cb));
    if(!cb) {errno = ENOMEM; return NULL;}
    cb->ctllen = cb->plen = cb->pendop = cb->pendlen = 0;
    cb->pblen = 0;
    __atomic_add_fetch(&dill__ws_ncb, 1, __ATOMIC_RELAXED);
    st->cb = cb;
    return cb;
}

static void dill__ws_cbfree(struct dill__ws_st *st) {
    if(!st->cb) return;
    free(st->cb);
    st->cb = NULL;
    __atomic_sub_fetch(&dill__ws_ncb, 1, __ATOMIC_RELAXED);
}

/* Frees the block once nothing in it is needed: no control frame being
   received or handled, nothing queued, no writer holding the lock (a
   blocked write may point into pb), no Close reason to report. */
static void dill__ws_cbtrim(struct dill__ws *self) {
    struct dill__ws_st *st = self->st;
    struct dill__ws_cb *cb = st->cb;
    if(!cb || st->ctlfr || st->ctlrun || self->sending || cb->pendop ||
       cb->pblen || cb->plen)
        return;
    dill__ws_cbfree(st);
}

/******************************************************************************/
/*  Object                                                                    */
/******************************************************************************/

static int dill__ws_msendl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline);
static ssize_t dill__ws_mrecvl(struct dill_msock_vfs *mvfs,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline);

static void *dill__ws_query(struct dill_hvfs *vfs, const void *type) {
    struct dill__ws *self = dill__cont(vfs, struct dill__ws, hvfs);
    if(type == dill_msock_type) return &self->mvfs;
    if(type == dill__ws_type) return self;
    errno = ENOTSUP;
    return NULL;
}

static int dill__ws_ctl(struct dill__ws *self, int op, const void *p,
    size_t n, int64_t deadline);

/* hclose after the peer's Close: the answer we owe, echoing its status as
   section 5.5.1 suggests, written without waiting (the socket's close
   makes one last attempt at what is queued). */
static void dill__ws_answer(struct dill__ws *self) {
    if(!self->rdone || self->sdone || self->serr || self->u < 0) return;
    uint16_t code = self->st->pcode;
    uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)(code & 0xff)};
    self->sdone = 1;
    dill__ws_ctl(self, DILL__WS_CLOSE, p, code ? 2 : 0, 0);
}

/* The memory, once no call is inside any more (dill__pin_close). */
static void dill__ws_release(struct dill__pin *p) {
    struct dill__ws *self = dill__cont(p, struct dill__ws, pin);
    if(self->rbuf && self->rbuf != self->st->stage)
        dill__ws_buf_put(self->rbuf);
    dill__ws_cbfree(self->st);
    struct dill__ws_z *z = dill__ws_zof(self->st);
    if(z) {
        dill__wsz_def_free(&z->def);
        dill__wsz_inf_free(&z->inf);
        free(z);
    }
    if(self->st->rare) {
        free(self->st->rare->protocol);
        free(self->st->rare);
        __atomic_sub_fetch(&dill__ws_nrare, 1, __ATOMIC_RELAXED);
    }
    /* Without the caller's storage the state is in the object's block. */
    if(self->mem) free(self->st);
    else free(self);
}

/* Calls still inside find both sides failed (they write nothing more)
   and the socket below closed under them. */
static void dill__ws_free(struct dill__ws *self) {
    dill__ws_answer(self);
    struct dill__ws_rare *r = self->st->rare;
    if(r && r->gone) r->gone(self, r->gonearg);
    self->serr = self->rerr = EBADF;
    if(self->u >= 0) dill_hclose(self->u);
    self->u = -1;
    dill__pin_close(&self->pin, dill__ws_release);
}

static void dill__ws_hclose(struct dill_hvfs *vfs) {
    dill__ws_free(dill__cont(vfs, struct dill__ws, hvfs));
}

/* An object and its state allocated together. */
struct dill__ws_both {
    struct dill__ws ws;
    struct dill__ws_st st;
};

struct dill__ws_rare *dill__ws_rare(struct dill__ws *self) {
    struct dill__ws_rare *r = self->st->rare;
    if(r) return r;
    r = calloc(1, sizeof(*r));
    if(!r) {errno = ENOMEM; return NULL;}
    __atomic_add_fetch(&dill__ws_nrare, 1, __ATOMIC_RELAXED);
    r->ws = self;
    dill__list_init(&r->lnode);
    self->st->rare = r;
    return r;
}

struct dill__ws *dill__ws_new(int s, int server, int text, size_t max_msg,
      void *mem) {
    struct dill_bsock_vfs *b = dill_hquery(s, dill_bsock_type);
    if(!b) return NULL;
    struct dill__bsockx_vfs *x = dill_hquery(s, dill__bsockx_type);
    struct dill__ws *self;
    struct dill__ws_st *st;
    if(mem) {
        st = calloc(1, sizeof(*st));
        if(!st) {errno = ENOMEM; return NULL;}
        self = mem;
        memset(self, 0, sizeof(*self));
    }
    else {
        /* One block (one malloc header, one rounding) for both. */
        struct dill__ws_both *both = calloc(1, sizeof(*both));
        if(!both) {errno = ENOMEM; return NULL;}
        self = &both->ws;
        st = &both->st;
    }
    self->st = st;
    dill__pin_init(&self->pin);
    self->hvfs.query = dill__ws_query;
    self->hvfs.close = dill__ws_hclose;
    self->mvfs.msendl = dill__ws_msendl;
    self->mvfs.mrecvl = dill__ws_mrecvl;
    self->b = b;
    self->x = x;
    self->gather = dill__bsockx_gathers(x) ? 1 : 0;
    self->u = s;
    self->server = server ? 1 : 0;
    self->text = text ? 1 : 0;
    self->mem = mem ? 1 : 0;
    dill__list_init(&self->ctlq);
    dill__list_init(&self->dataq);
    uint64_t lim = max_msg == 0 ? DILL__WS_DEFAULT_MAX :
        max_msg == SIZE_MAX ? 0 : (uint64_t)max_msg;
    dill__ws_dec_init(&self->st->dec, server ? DILL__WS_SERVER : 0, 0, lim,
        DILL__WS_DEC_UTF8);
    return self;
}

int dill__ws_publish(struct dill__ws *self) {
    int h = dill_hmake(&self->hvfs);
    if(h < 0) dill__ws_discard(self);
    return h;
}

int dill__ws_zsetup(struct dill__ws *self, const struct dill__wsz_agreed *a,
      const struct dill__wsz_cfg *cfg, size_t threshold) {
    struct dill__ws_rare *r = dill__ws_rare(self);
    if(!r) return -1;
    struct dill__ws_z *z = calloc(1, sizeof(*z));
    if(!z) {errno = ENOMEM; return -1;}
    z->agreed = *a;
    z->def.bits = a->send_bits;
    z->def.no_ctx = a->send_no_ctx;
    z->def.mem_level = cfg->mem_level;
    z->def.level = cfg->level;
    z->inf.bits = a->recv_bits;
    z->inf.no_ctx = a->recv_no_ctx;
    z->threshold = threshold;
    struct dill__ws_conn *c = &self->st->dec.conn;
    z->max = c->max_msg;
    /* The inflated size is what the limit is about; the decoder still
       bounds the compressed size, loosely, as a peer's compressor may
       expand data (a stored block per 128 bytes with memLevel 1, a flush
       per fragment).  Plain messages are held to the exact limit when
       their headers arrive. */
    if(c->max_msg) c->max_msg = c->max_msg > UINT64_MAX / 4 ? 0 :
        c->max_msg * 2 + 65536;
    c->rsv = DILL__WS_RSV1;
    r->z = z;
    self->st->zon = 1;
    return 0;
}

void dill__ws_discard(struct dill__ws *self) {
    int err = errno;
    dill__ws_free(self);
    errno = err;
}

/******************************************************************************/
/*  Send lock                                                                 */
/******************************************************************************/

struct dill__ws_waiter {
    struct dill__clause cl;
    struct dill__list item;
};

static void dill__ws_waiter_cancel(struct dill__clause *cl) {
    struct dill__ws_waiter *w = dill__cont(cl, struct dill__ws_waiter, cl);
    dill__list_erase(&w->item);
}

static void dill__ws_waiter_move(struct dill__clause *cl,
      const struct dill__move *m) {
    struct dill__ws_waiter *w = dill__cont(cl, struct dill__ws_waiter, cl);
    if(dill__move_keeping(m)) {dill__move_keep(m, w, sizeof(*w)); return;}
    dill__list_moved(&w->item, m);
}

/* Takes the send lock, waiting in FIFO order; data (a new message) also
   waits for an open fragmented message to end.  The caller has pinned
   the object (closing it fails the wait with EBADF). */
/* An open fragmented message holds back new ones, unless the send side
   has ended (they then fail at once). */
static int dill__ws_held(struct dill__ws *self) {
    return self->smsg && !self->sdone && !self->serr;
}

static int dill__ws_lock(struct dill__ws *self, int data, int64_t deadline) {
    if(!self->sending && !(data && dill__ws_held(self))) {
        if(dill__canblock() < 0) return -1;
        self->sending = 1;
        return 0;
    }
    struct dill__ws_waiter w;
    dill__list_init(&w.item);
    dill__list_push(data ? &self->dataq : &self->ctlq, &w.item);
    dill__waitfor(&w.cl, 0, dill__ws_waiter_cancel);
    w.cl.move = dill__ws_waiter_move;
    if(dill__wait(deadline, 1) < 0) return -1;
    if(errno) return -1;
    /* The previous holder handed the lock over; sending is still set. */
    return 0;
}

static int dill__ws_ctlframe(struct dill__ws *self, int op, const void *p,
    size_t n, int64_t deadline);

static int dill__ws_wrpongs(struct dill__ws *self, int64_t deadline);

/* Releasing the send lock does I/O: first it writes the control frames
   that the receiving side queued while the lock was held (pongs, a Close
   reply), then it passes the lock to the next waiter or frees it.  Those
   writes can block until the deadline and fail; a failure is recorded
   (serr) and reported by the next send, not here.  Returns -1 with EBADF
   when the object was closed meanwhile (its waiters are gone with their
   wait failed, and serr stops the writes), else 0. */
static int dill__ws_write_unlock(struct dill__ws *self, int64_t deadline) {
    struct dill__ws_st *st = self->st;
    if(st->cb && st->cb->pblen) dill__ws_wrpongs(self, deadline);
    while(st->cb && st->cb->pendop && !self->serr) {
        uint8_t p[DILL__WS_CONTROL_MAX];
        int op = st->cb->pendop;
        size_t n = st->cb->pendlen;
        memcpy(p, st->cb->pend, n);
        st->cb->pendop = 0;
        /* Nothing but the Close itself goes out after a Close. */
        if(op != DILL__WS_CLOSE && self->sdone) continue;
        dill__ws_ctlframe(self, op, p, n, deadline);
    }
    if(st->cb) st->cb->pendop = 0;
    struct dill__list *it;
    if(!dill__list_empty(&self->ctlq)) it = self->ctlq.next;
    else if(!dill__ws_held(self) && !dill__list_empty(&self->dataq))
        it = self->dataq.next;
    else {
        self->sending = 0;
        dill__ws_cbtrim(self);
        return dill__pin_closed(&self->pin) ? (errno = EBADF, -1) : 0;
    }
    dill__list_erase(it);
    dill__trigger(&dill__cont(it, struct dill__ws_waiter, item)->cl, 0);
    return 0;
}

static int dill__ws_cansend(struct dill__ws *self);

/* Every sending call is dill__ws_begin, its frames, dill__ws_finish,
   with a pin on its stack (pr) held in between. */

/* Ends what dill__ws_begin started, whose frames returned rc (errno set
   when -1): releases the lock with its I/O (dill__ws_write_unlock),
   unpins and returns rc with its errno, or -1 with EBADF when the object
   was closed meanwhile (then it must not be touched). */
static int dill__ws_finish(struct dill__ws *self, struct dill__pinref *pr,
      int rc, int64_t deadline) {
    int err = errno;
    dill__ws_write_unlock(self, deadline);
    if(dill__unpin(&self->pin, pr) < 0) return -1;
    errno = err;
    return rc;
}

/* Pins the object and takes the send lock (dill__ws_lock; data: for a
   new message) once the send side is usable, checked before and again
   after waiting.  Returns 0 with the lock and the pin held, or -1 with
   neither: the send side's error, ETIMEDOUT, ECANCELED, or EBADF (closed
   meanwhile: do not touch it). */
static int dill__ws_begin(struct dill__ws *self, struct dill__pinref *pr,
      int data, int64_t deadline) {
    if(dill__ws_cansend(self) < 0) return -1;
    dill__pin(&self->pin, pr);
    if(dill__ws_lock(self, data, deadline) < 0) {
        /* Its errno, or EBADF when closed. */
        dill__unpin(&self->pin, pr);
        return -1;
    }
    if(dill__ws_cansend(self) == 0) return 0;
    return dill__ws_finish(self, pr, -1, deadline);
}

/******************************************************************************/
/*  Writing frames (send lock held)                                           */
/******************************************************************************/

/* Sends a list to the underlying socket.  midframe says that part of the
   frame has already been written.  A failure leaves the send side unusable,
   except a timeout or cancellation of a frame's first write: whether that
   wrote anything is the lower layer's to tell (dill's sockets fail later
   sends with ECONNRESET when it did), so the socket stays usable. */
static int dill__ws_wrfail(struct dill__ws *self, int midframe) {
    if(!self->serr &&
       (midframe || (errno != ETIMEDOUT && errno != ECANCELED)))
        self->serr = ECONNRESET;
    return -1;
}

/* Keepalive bounds writes too: a peer that takes nothing for a ping
   interval plus the pong timeout while we send is as dead as one that does
   not answer a ping (and our ping could not get past the blocked write
   anyway).  The write's deadline, capped by that window. */
static int64_t dill__ws_txdl(struct dill__ws *self, int64_t deadline) {
    struct dill__ws_st *st = self->st;
    if(dill__fast(!st->ka)) return deadline;
    int64_t ka = dill_now() + st->rare->ping_ivl + st->rare->pong_tmo;
    return deadline >= 0 && deadline <= ka ? deadline : ka;
}

/* A write that ran out of time at dl: when that was the keepalive window
   and not the caller's deadline, the peer stalled and the connection is
   failed both ways. */
static int dill__ws_txfail(struct dill__ws *self, int midframe, int64_t dl,
      int64_t deadline) {
    if(errno == ETIMEDOUT && dl != deadline) {
        self->serr = ECONNRESET;
        self->rerr = ECONNRESET;
        self->st->pcode = DILL__WS_ABNORMAL;
        errno = ETIMEDOUT;
        return -1;
    }
    return dill__ws_wrfail(self, midframe);
}

/* With keepalive, writes go in pieces of at most this many bytes, each
   given the keepalive window: a peer must take that much per window. */
#define DILL__WS_KA_CHUNK 65536
#define DILL__WS_KA_IOV 16

static int dill__ws_wrka(struct dill__ws *self, struct dill_iolist *first,
      int midframe, int64_t deadline) {
    struct dill__iolcur cur = {first, 0};
    dill__iol_advance(&cur, 0);
    while(cur.it) {
        struct iovec iov[DILL__WS_KA_IOV];
        struct dill_iolist l[DILL__WS_KA_IOV];
        size_t n;
        int k = dill__iol_toiov(&cur, iov, DILL__WS_KA_IOV,
            DILL__WS_KA_CHUNK, &n);
        if(!k) break;
        for(int i = 0; i != k; i++) {
            l[i].iol_base = iov[i].iov_base;
            l[i].iol_len = iov[i].iov_len;
            l[i].iol_next = i + 1 < k ? &l[i + 1] : NULL;
            l[i].iol_rsvd = 0;
        }
        int64_t dl = dill__ws_txdl(self, deadline);
        if(dill__slow(self->b->bsendl(self->b, l, &l[k - 1], dl) < 0))
            return dill__ws_txfail(self, midframe, dl, deadline);
        midframe = 1;
        dill__iol_advance(&cur, n);
    }
    return 0;
}

static int dill__ws_wr(struct dill__ws *self, struct dill_iolist *first,
      struct dill_iolist *last, int midframe, int64_t deadline) {
    if(self->st->ka)
        return dill__ws_wrka(self, first, midframe, deadline);
    int rc = self->b->bsendl(self->b, first, last, deadline);
    if(dill__slow(rc < 0)) return dill__ws_wrfail(self, midframe);
    return rc;
}

/* Copies n bytes from the list at cur to dst, masking them with key (if
   not NULL) as payload bytes starting at offset off. */
static void dill__ws_gather(uint8_t *dst, struct dill__iolcur *cur, size_t n,
      const uint8_t *key, uint64_t off) {
    while(n) {
        size_t k = cur->it->iol_len - cur->off;
        if(k > n) k = n;
        const uint8_t *src = (uint8_t*)cur->it->iol_base + cur->off;
        if(key) dill__ws_mask(dst, src, k, key, (size_t)(off & 3));
        else memcpy(dst, src, k);
        dill__iol_advance(cur, k);
        dst += k;
        off += k;
        n -= k;
    }
}

/* Copies hl header bytes and n payload bytes from cur (masked with key,
   if not NULL, from payload offset off) into the socket's write buffer,
   where they leave with what is written next or at the end of the turn.
   midframe: part of the frame is out already. */
static int dill__ws_gather_out(struct dill__ws *self, const uint8_t *hdr,
      size_t hl, struct dill__iolcur *cur, size_t n, const uint8_t *key,
      uint64_t off, int midframe, int64_t deadline) {
    int64_t dl = dill__ws_txdl(self, deadline);
    struct dill__bsockx_vfs *x = self->x;
    uint8_t *p = x->ops->reserve(x, hl + n, dl);
    if(dill__slow(!p)) return dill__ws_txfail(self, midframe, dl, deadline);
    if(hl) memcpy(p, hdr, hl);
    if(n) dill__ws_gather(p + hl, cur, n, key, off);
    x->ops->commit(x, hl + n);
    return 0;
}

/* Client frames: masked through a pooled scratch buffer in big chunks;
   the header goes out with the first chunk, and a short last chunk joins
   the socket's gathered writes instead of taking a write of its own. */
static int dill__ws_frame_masked(struct dill__ws *self, uint8_t *hdr,
      size_t hl, const uint8_t *key, struct dill_iolist *first, size_t total,
      int64_t deadline) {
    int big = total + hl > DILL__WS_BUFSZ;
    size_t cap = big ? DILL__WS_BIGSZ : DILL__WS_BUFSZ;
    uint8_t *scr = dill__ws_pool_get(big);
    if(!scr) return -1;
    struct dill__iolcur cur = {first, 0};
    if(first) dill__iol_advance(&cur, 0);
    memcpy(scr, hdr, hl);
    size_t fill = hl;
    uint64_t off = 0;
    int rc;
    do {
        size_t n = cap - fill;
        if(n > total - off) n = total - off;
        if(!fill && self->gather && n <= DILL__WS_GATHER_MAX) {
            rc = dill__ws_gather_out(self, NULL, 0, &cur, n, key, off, 1,
                deadline);
            break;
        }
        dill__ws_gather(scr + fill, &cur, n, key, off);
        off += n;
        struct dill_iolist io = {scr, fill + n, NULL, 0};
        rc = dill__ws_wr(self, &io, &io, off != n, deadline);
        fill = 0;
    } while(rc == 0 && off < total);
    dill__ws_pool_put(big, scr);
    return rc;
}

/* A small frame is copied (and masked) into the socket's write buffer: a
   burst of small messages costs one system call, not one each. */
static int dill__ws_frame_gather(struct dill__ws *self, const uint8_t *hdr,
      size_t hl, const uint8_t *key, struct dill_iolist *first, size_t total,
      int64_t deadline) {
    struct dill__iolcur cur = {first, 0};
    if(total) dill__iol_advance(&cur, 0);
    return dill__ws_gather_out(self, hdr, hl, &cur, total, key, 0, 0,
        deadline);
}

/* A server frame whose header is built: small ones are gathered, big ones
   written straight from the caller's payload. */
static int dill__ws_frame_built(struct dill__ws *self, const uint8_t *hdr,
      size_t hl, struct dill_iolist *first, struct dill_iolist *last,
      size_t total, int64_t deadline) {
    if(self->gather && total <= DILL__WS_GATHER_MAX - DILL__WS_HDR_MAX)
        return dill__ws_frame_gather(self, hdr, hl, NULL, first, total,
            deadline);
    struct dill_iolist h = {(void*)hdr, hl, first, 0};
    return dill__ws_wr(self, &h, first ? last : &h, 0, deadline);
}

/* Sends one frame whose payload is the list first..last of total bytes. */
static int dill__ws_frame(struct dill__ws *self, int fin, int op, int rsv,
      struct dill_iolist *first, struct dill_iolist *last, size_t total,
      int64_t deadline) {
    uint8_t hdr[DILL__WS_HDR_MAX];
    uint8_t key[4];
    if(!self->server) dill__random(key, sizeof(key));
    const uint8_t *k = self->server ? NULL : key;
    size_t hl = dill__ws_build_header(hdr, fin, op, rsv, k, total);
    if(self->server)
        return dill__ws_frame_built(self, hdr, hl, first, last, total,
            deadline);
    if(self->gather && total <= DILL__WS_GATHER_MAX - DILL__WS_HDR_MAX)
        return dill__ws_frame_gather(self, hdr, hl, k, first, total,
            deadline);
    return dill__ws_frame_masked(self, hdr, hl, key, first, total, deadline);
}

/* Writes the queued pongs (send lock held). */
static int dill__ws_wrpongs(struct dill__ws *self, int64_t deadline) {
    struct dill__ws_cb *cb = self->st->cb;
    if(self->serr) {cb->pblen = 0; errno = self->serr; return -1;}
    struct dill_iolist io = {cb->pb, cb->pblen, NULL, 0};
    cb->pblen = 0;
    return dill__ws_wr(self, &io, &io, 0, deadline);
}

/* A Close takes the queued pongs along (they answer earlier pings); no
   pong follows it. */
static int dill__ws_ctlframe(struct dill__ws *self, int op, const void *p,
      size_t n, int64_t deadline) {
    struct dill__ws_cb *cb = self->st->cb;
    uint8_t f[DILL__WS_CONTROL_FRAME_MAX];
    uint8_t key[4];
    if(!self->server) dill__random(key, sizeof(key));
    size_t len = dill__ws_build_frame(f, 1, op, 0,
        self->server ? NULL : key, p, n);
    struct dill_iolist io = {f, len, NULL, 0};
    int pongs = op == DILL__WS_CLOSE && cb && cb->pblen;
    struct dill_iolist pio = {pongs ? cb->pb : NULL, pongs ? cb->pblen : 0,
        &io, 0};
    if(cb) cb->pblen = 0;
    return dill__ws_wr(self, pongs ? &pio : &io, &io, 0, deadline);
}

/* A control frame from the receiving side: written at once when the lock
   is free, else queued for the holder (a Close replaces a queued pong). */
static int dill__ws_ctl(struct dill__ws *self, int op, const void *p,
      size_t n, int64_t deadline) {
    if(self->serr) {errno = self->serr; return -1;}
    if(self->sending) {
        struct dill__ws_cb *cb = dill__ws_cbget(self->st);
        if(!cb) return -1;
        if(cb->pendop == DILL__WS_CLOSE) return 0;
        if(op == DILL__WS_PING && cb->pendop) return 0;
        cb->pendop = (uint8_t)op;
        cb->pendlen = (uint8_t)n;
        if(n) memcpy(cb->pend, p, n);
        return 0;
    }
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    self->sending = 1;
    return dill__ws_finish(self, &pr, dill__ws_ctlframe(self, op, p, n,
        deadline), deadline);
}

/* Writes a queued control frame now, unless a sender holds the lock (it
   writes it after its frame).  Returns -1 only with EBADF (closed while
   it wrote; the caller has the object pinned). */
static int dill__ws_flush(struct dill__ws *self, int64_t deadline) {
    struct dill__ws_cb *cb = self->st->cb;
    if(!cb || (!cb->pendop && !cb->pblen) || self->sending) return 0;
    if(self->serr) {
        cb->pendop = 0;
        cb->pblen = 0;
        return 0;
    }
    self->sending = 1;
    return dill__ws_write_unlock(self, deadline);
}

/* Fails the connection: best-effort Close with code (0: none), then every
   receiving call fails with err. */
static int dill__ws_fail(struct dill__ws *self, int code, int err) {
    self->rerr = err;
    if(code && !self->sdone && !self->serr) {
        uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)(code & 0xff)};
        self->sdone = 1;
        dill__ws_ctl(self, DILL__WS_CLOSE, p, 2, 0);
    }
    self->sdone = 1;
    errno = err;
    return -1;
}

/******************************************************************************/
/*  Sending messages                                                          */
/******************************************************************************/

static int dill__ws_utf8_list(struct dill_iolist *first) {
    struct dill__utf8 u;
    dill__utf8_init(&u);
    for(struct dill_iolist *it = first; it; it = it->iol_next)
        if(dill__utf8_feed(&u, it->iol_base, it->iol_len) < 0) return 0;
    return dill__utf8_complete(&u);
}

static int dill__ws_cansend(struct dill__ws *self) {
    if(self->serr) {errno = self->serr; return -1;}
    if(self->sdone) {errno = EPIPE; return -1;}
    return 0;
}

/* Compressed frames of a message or of one piece of it: the list first
   (NULL: no payload) goes through the compressor into a pooled buffer;
   output that does not fit goes out as non-final frames.  start: the
   first frame of the message (opcode op, RSV1); fin: the message ends.
   On failure the compressor starts afresh next time; once a frame of
   this call went out the peer holds a partial message and the send side
   is unusable. */
static int dill__ws_zsend(struct dill__ws *self, int start, int op, int fin,
      struct dill_iolist *first, int64_t deadline) {
    struct dill__wsz_def *d = &dill__ws_zof(self->st)->def;
    uint8_t *buf = dill__ws_pool_get(1);
    if(!buf) return -1;
    struct dill_iolist none = {NULL, 0, NULL, 0};
    int rsv = start ? DILL__WS_RSV1 : 0, rc = 0, sent = 0;
    if(!start) op = DILL__WS_CONT;
    size_t fill = 0;
    for(struct dill_iolist *it = first ? first : &none; it && !rc;
          it = it->iol_next) {
        int mode = it->iol_next ? DILL__WSZ_MORE :
            fin ? DILL__WSZ_FIN : DILL__WSZ_FRAME;
        if(dill__wsz_def_input(d, it->iol_base, it->iol_len, mode) < 0) {
            errno = ENOMEM;
            rc = -1;
            break;
        }
        int more;
        do {
            fill += dill__wsz_def_output(d, buf + fill, DILL__WS_BIGSZ - fill,
                &more);
            if(more && DILL__WS_BIGSZ - fill < 64) {
                struct dill_iolist io = {buf, fill, NULL, 0};
                rc = dill__ws_frame(self, 0, op, rsv, &io, &io, fill,
                    deadline);
                sent = 1;
                fill = 0;
                op = DILL__WS_CONT;
                rsv = 0;
            }
        } while(more && !rc);
    }
    if(!rc) {
        struct dill_iolist io = {buf, fill, NULL, 0};
        rc = dill__ws_frame(self, fin, op, rsv, &io, &io, fill, deadline);
    }
    dill__ws_pool_put(1, buf);
    if(rc < 0) {
        dill__wsz_def_abort(d);
        if(sent && !self->serr) self->serr = ECONNRESET;
    }
    return rc;
}

/* Sends a whole message as one frame (or, compressed, as few as fit
   64 KiB each).  The list is already validated. */
static int dill__ws_sendmsg(struct dill__ws *self, int text, int plain,
      struct dill_iolist *first, struct dill_iolist *last, size_t total,
      int64_t deadline) {
    if(dill__ws_cansend(self) < 0) return -1;
    if(text && !dill__ws_utf8_list(first)) {errno = EINVAL; return -1;}
    struct dill__pinref pr;
    if(dill__ws_begin(self, &pr, 1, deadline) < 0) return -1;
    int op = text ? DILL__WS_TEXT : DILL__WS_BINARY;
    struct dill__ws_z *z = dill__ws_zof(self->st);
    int rc;
    if(dill__slow(z != NULL) && !plain && total >= z->threshold &&
       dill__wsz_def_can(&z->def, total, 1)) {
        z->def.hint = total;
        rc = dill__ws_zsend(self, 1, op, 1, first, deadline);
    }
    else
        rc = dill__ws_frame(self, 1, op, 0, first, last, total, deadline);
    return dill__ws_finish(self, &pr, rc, deadline);
}

static int dill__ws_msendl(struct dill_msock_vfs *mvfs,
      struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__ws *self = dill__cont(mvfs, struct dill__ws, mvfs);
    size_t total = dill__iol_size(first);
    return dill__ws_sendmsg(self, self->text, 0, first, last, total,
        deadline);
}

static struct dill__ws *dill__ws_get(int s) {
    return dill_hquery(s, dill__ws_type);
}

int dill_ws_sendl(int s, int flags, struct dill_iolist *first,
      struct dill_iolist *last, int64_t deadline) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    if(flags & ~(DILL_WS_TEXT | DILL_WS_NOCOMPRESS)) {
        errno = EINVAL;
        return -1;
    }
    size_t total;
    int rc = dill__iol_check(first, last, 1, &total);
    if(rc < 0) {errno = -rc; return -1;}
    return dill__ws_sendmsg(self, flags & DILL_WS_TEXT,
        flags & DILL_WS_NOCOMPRESS, first, last, total, deadline);
}

int dill_ws_send(int s, int flags, const void *buf, size_t len,
      int64_t deadline) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    if((flags & ~(DILL_WS_TEXT | DILL_WS_NOCOMPRESS)) || (!buf && len)) {
        errno = EINVAL;
        return -1;
    }
    struct dill_iolist io = {(void*)buf, len, NULL, 0};
    return dill__ws_sendmsg(self, flags & DILL_WS_TEXT,
        flags & DILL_WS_NOCOMPRESS, &io, &io, len, deadline);
}

int dill__ws_send_built(int s, const struct dill__ws_built *f, size_t n,
      int64_t deadline) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    if(!self->server) {
        /* Client frames are masked: each is built here. */
        for(size_t i = 0; i != n; i++) {
            struct dill_iolist io = {(void*)f[i].buf, f[i].len, NULL, 0};
            if(dill__ws_sendmsg(self, f[i].text, 0, &io, &io, f[i].len,
                  deadline) < 0)
                return -1;
        }
        return 0;
    }
    /* One lock for the whole batch. */
    struct dill__pinref pr;
    if(dill__ws_begin(self, &pr, 1, deadline) < 0) return -1;
    int rc = 0;
    for(size_t i = 0; rc == 0 && i != n; i++) {
        struct dill_iolist io = {(void*)f[i].buf, f[i].len, NULL, 0};
        rc = dill__ws_frame_built(self, f[i].hdr, f[i].hl, &io, &io,
            f[i].len, deadline);
    }
    return dill__ws_finish(self, &pr, rc, deadline);
}

int dill__ws_zshared(int s, struct dill__wsz_def *def, size_t *threshold) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    struct dill__ws_z *z = dill__ws_zof(self->st);
    if(!self->server || !z || !z->def.no_ctx) return 0;
    memset(def, 0, sizeof(*def));
    def->bits = z->def.bits;
    def->no_ctx = 1;
    def->mem_level = z->def.mem_level;
    def->level = z->def.level;
    *threshold = z->threshold;
    return 1;
}

/* A piece of a fragmented message.  While it is open (smsg) new messages
   wait; control frames and the following pieces do not. */
int dill_ws_send_part(int s, int flags, const void *buf, size_t len,
      int64_t deadline) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    if((flags & ~(DILL_WS_TEXT | DILL_WS_MORE | DILL_WS_NOCOMPRESS)) ||
       (!buf && len)) {
        errno = EINVAL;
        return -1;
    }
    struct dill__ws_st *st = self->st;
    int first = !self->smsg;
    struct dill__pinref pr;
    if(dill__ws_begin(self, &pr, first, deadline) < 0) return -1;
    int fin = !(flags & DILL_WS_MORE);
    int text = first ? (flags & DILL_WS_TEXT) != 0 : self->stext;
    int rc = 0;
    struct dill__utf8 u = st->sutf8;
    if(first) dill__utf8_init(&u);
    if(text && (dill__utf8_feed(&u, buf, len) < 0 ||
       (fin && !dill__utf8_complete(&u)))) {
        /* Nothing is sent; an open message stays open. */
        errno = EINVAL;
        rc = -1;
    }
    if(rc == 0) {
        int op = !first ? DILL__WS_CONT :
            text ? DILL__WS_TEXT : DILL__WS_BINARY;
        struct dill_iolist io = {(void*)buf, len, NULL, 0};
        /* Pieces are compressed unless asked not to (the threshold needs
           the whole size); window 8 sends them plain (wsdeflate.h). */
        int zp = first ? st->zon && !(flags & DILL_WS_NOCOMPRESS) &&
            dill__wsz_def_can(&dill__ws_zof(st)->def, 0, 0) : st->smz;
        if(zp && first) dill__ws_zof(st)->def.hint = 0;
        if(zp) rc = dill__ws_zsend(self, first, op, fin, &io, deadline);
        else rc = dill__ws_frame(self, fin, op, 0, &io, &io, len, deadline);
        if(first) self->stext = text ? 1 : 0;
        if(first && rc == 0) st->smz = (uint8_t)zp;
        /* A piece that failed without writing anything may be retried:
           an open message stays open. */
        if(rc == 0) {
            self->smsg = !fin;
            st->sutf8 = u;
        }
        else if(first) self->smsg = 0;
    }
    return dill__ws_finish(self, &pr, rc, deadline);
}

int dill_ws_ping(int s, const void *buf, size_t len, int64_t deadline) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    if((!buf && len) || len > DILL__WS_CONTROL_MAX) {
        errno = EINVAL;
        return -1;
    }
    struct dill__pinref pr;
    if(dill__ws_begin(self, &pr, 0, deadline) < 0) return -1;
    return dill__ws_finish(self, &pr, dill__ws_ctlframe(self, DILL__WS_PING,
        buf, len, deadline), deadline);
}

/******************************************************************************/
/*  Receiving                                                                 */
/******************************************************************************/

/* dill__busy for receiving calls (pinned): the handle may be closed
   while the call yields, which then fails with EBADF. */
static int dill__ws_busy_n(struct dill__ws *self, int64_t deadline,
      unsigned n) {
    return dill__pin_busy_n(&self->pin, deadline, n);
}

static int dill__ws_busy(struct dill__ws *self, int64_t deadline) {
    return dill__ws_busy_n(self, deadline, 1);
}

/* Work units of a receiving call (see dill__busy), so that a peer whose
   input never runs dry shares the thread: a read counts one unit per
   DILL__WS_BUFSZ bytes, and frames past the first few of one call one
   each (a flood of tiny fragments is many frames per read). */
#define DILL__WS_FREE_FRAMES 8

/* Keepalive step after a read timed out at the keepalive deadline: fail
   when a pong is overdue, else send a ping.  Returns 0 to go on reading. */
static int dill__ws_keepalive(struct dill__ws *self, int64_t now) {
    struct dill__ws_rare *st = self->st->rare;
    if(st->pong_due) {
        if(now < st->pong_due) return 0;
        dill__ws_fail(self, DILL__WS_GOING_AWAY, ECONNRESET);
        errno = ETIMEDOUT;
        return -1;
    }
    if(now >= st->next_ping) {
        uint8_t p[8];
        for(int i = 0; i != 8; i++) p[i] = (uint8_t)(now >> (56 - 8 * i));
        st->next_ping = now + st->ping_ivl;
        /* After our Close no ping may be sent, so none is awaited. */
        if(self->sdone) return 0;
        dill__ws_ctl(self, DILL__WS_PING, p, 8, 0);
        st->pong_due = now + st->pong_tmo;
    }
    return 0;
}

/* The deadline of a read: the caller's, or earlier for keepalive. */
static int64_t dill__ws_kadl(struct dill__ws_st *st, int64_t deadline) {
    if(!st->ka) return deadline;
    const struct dill__ws_rare *r = st->rare;
    int64_t k = r->pong_due ? r->pong_due : r->next_ping;
    return deadline < 0 || k < deadline ? k : deadline;
}

/* Exact-read fallback: how many bytes the decoder needs next. */
static size_t dill__ws_want(struct dill__ws_st *st, size_t cap) {
    if(st->infr) return st->frem < cap ? (size_t)st->frem : cap;
    if(st->hb < 2) return 2 - st->hb;
    return dill__ws_header_len(st->h2) - st->hb;
}

/* Reads at most cap bytes into dst.  Returns the count or -1. */
static ssize_t dill__ws_read1(struct dill__ws *self, uint8_t *dst, size_t cap,
      int64_t deadline) {
    struct dill__ws_st *st = self->st;
    while(1) {
        int64_t dl = dill__ws_kadl(st, deadline);
        ssize_t r;
        if(self->x) r = self->x->ops->brecvsome(self->x, dst, cap, dl);
        else {
            size_t want = dill__ws_want(st, cap);
            struct dill_iolist io = {dst, want, NULL, 0};
            r = self->b->brecvl(self->b, &io, &io, dl) < 0 ? -1 :
                (ssize_t)want;
            if(r > 0 && !st->infr) {
                for(ssize_t i = 0; i != r; i++, st->hb++)
                    if(st->hb == 1) st->h2 = dst[i];
            }
        }
        if(r > 0) {
            if(st->ka)
                st->rare->next_ping = dill_now() + st->rare->ping_ivl;
            return r;
        }
        if(errno == ETIMEDOUT && dl != deadline) {
            if(dill__ws_keepalive(self, dill_now()) < 0) return -1;
            continue;
        }
        if(errno == ETIMEDOUT || errno == ECANCELED) return -1;
        /* The connection ended without a Close frame, or broke. */
        self->st->pcode = DILL__WS_ABNORMAL;
        self->rerr = ECONNRESET;
        errno = ECONNRESET;
        return -1;
    }
}

/* Reads more input for the decoder.  Large payloads go straight to the
   caller's memory at cur (*direct set); otherwise into the receive
   buffer, or the small staging area when no message is in progress (so an
   idle connection holds no buffer). */
static int dill__ws_fill(struct dill__ws *self, struct dill__iolcur *cur,
      size_t room, int direct_ok, uint8_t **in, size_t *inlen, int *direct,
      int64_t deadline) {
    struct dill__ws_st *st = self->st;
    *direct = 0;
    if(direct_ok && st->infr && !st->ctlfr && st->frem >= DILL__WS_DIRECT_MIN &&
       cur->it && cur->it->iol_base) {
        size_t k = cur->it->iol_len - cur->off;
        if(k > room) k = room;
        if(k > st->frem) k = (size_t)st->frem;
        if(k >= DILL__WS_DIRECT_MIN) {
            uint8_t *dst = (uint8_t*)cur->it->iol_base + cur->off;
            ssize_t r = dill__ws_read1(self, dst, k, deadline);
            if(r < 0) return -1;
            *in = dst;
            *inlen = (size_t)r;
            *direct = 1;
            return 0;
        }
    }
    uint8_t *stage = st->stage;
    if(!st->infr && !st->msgop) {
        if(self->rbuf && self->rbuf != stage) dill__ws_buf_put(self->rbuf);
        self->rbuf = stage;
    }
    else if(!self->rbuf || self->rbuf == stage) {
        self->rbuf = dill__ws_buf_get();
        if(!self->rbuf) {self->rbuf = stage; return -1;}
    }
    size_t cap = self->rbuf == stage ? DILL__WS_STAGE : DILL__WS_BUFSZ;
    self->rpos = self->rlen = 0;
    ssize_t r = dill__ws_read1(self, self->rbuf, cap, deadline);
    if(r < 0) return -1;
    self->rlen = (uint32_t)r;
    *in = self->rbuf;
    *inlen = (size_t)r;
    return 0;
}

/* A complete control frame has arrived.  Returns 0, or -1: EPIPE after a
   valid Close, EPROTO after an invalid one, or a send error. */
static int dill__ws_control(struct dill__ws *self, int op, int64_t deadline) {
    struct dill__ws_st *st = self->st;
    struct dill__ws_cb *cb = st->cb;
    if(op == DILL__WS_PING) {
        /* The pong waits until the buffered input has been processed (or
           the lock holder's frame is out), so that a burst of pings is
           answered with one write. */
        if(self->sdone) return 0;
        size_t need = DILL__WS_HDR_MAX + cb->ctllen;
        if(cb->pblen + need > DILL__WS_PONGBUF &&
           dill__ws_flush(self, deadline) < 0) return -1;
        /* Still full: a sender holds the lock; keep the latest only. */
        if(cb->pblen + need > DILL__WS_PONGBUF) cb->pblen = 0;
        uint8_t key[4];
        if(!self->server) dill__random(key, sizeof(key));
        cb->pblen = (uint16_t)(cb->pblen + dill__ws_build_frame(
            cb->pb + cb->pblen, 1, DILL__WS_PONG, 0,
            self->server ? NULL : key, cb->ctl, cb->ctllen));
        return 0;
    }
    if(op == DILL__WS_PONG) {
        if(st->rare) st->rare->pong_due = 0;
        return 0;
    }
    int code;
    const uint8_t *reason;
    size_t rlen;
    int rc = dill__ws_close_parse(cb->ctl, cb->ctllen, &code, &reason, &rlen);
    if(rc) return dill__ws_fail(self, rc, EPROTO);
    st->pcode = code == DILL__WS_NO_STATUS ? 0 : (uint16_t)code;
    cb->plen = (uint8_t)rlen;
    memmove(cb->preason, reason, rlen);
    /* A half-close, as in libdill: our answer goes out when the
       application ends its side (ws_done, ws_detach, hclose), and until
       then it may go on sending. */
    self->rdone = 1;
    errno = EPIPE;
    return -1;
}

/* What one receiving call is doing. */
struct dill__ws_rxc {
    struct dill__iolcur cur;
    size_t room;   /* space left in the caller's buffers */
    size_t got;    /* bytes delivered by this call */
    int mode;
    int want;      /* required opcode (mrecv) or 0 */
    int err;       /* error to report at the end of a dropped message */
    int *type;
    /* Deadline of the call's reads while the connection is idle (earlier
       than the call's when hibernation is on, see dill__ws_recvany). */
    int64_t idl;
};

/* Inflates what the decompressor holds into the caller's buffers (into a
   scratch buffer while the message is being skipped: the context must
   still follow it).  Returns 0 when it needs more input or the message
   is done, 1 when the caller's buffer is full in part mode (the rest
   stays pending), -1 after failing the connection or from dill__ws_busy:
   every DILL__WS_BUFSZ bytes inflated count as a unit of work, as a read
   does, so that a small frame that inflates to a lot shares the thread
   (except in part mode once something is delivered: the call returns
   soon anyway). */
static int dill__ws_zdrain(struct dill__ws *self, struct dill__ws_rxc *c,
      int64_t deadline) {
    struct dill__ws_st *st = self->st;
    struct dill__ws_z *z = dill__ws_zof(st);
    uint8_t *scr = NULL;
    int rc = 0;
    while(!rc && !dill__wsz_inf_idle(&z->inf)) {
        int keep = !self->skipping, probe = 0;
        if(keep && !c->room) {
            if(c->mode & DILL__WS_RX_PART) {rc = 1; break;}
            /* The buffer is full: only more output makes it too small. */
            keep = 0;
            probe = 1;
        }
        uint8_t *dst;
        size_t cap = DILL__WS_BUFSZ;
        if(keep && c->cur.it->iol_base) {
            dst = (uint8_t*)c->cur.it->iol_base + c->cur.off;
            cap = c->cur.it->iol_len - c->cur.off;
        }
        else {
            if(!scr && !(scr = dill__ws_buf_get())) {
                rc = dill__ws_fail(self, DILL__WS_INTERNAL_ERROR, ENOMEM);
                break;
            }
            dst = scr;
        }
        if(keep && cap > c->room) cap = c->room;
        /* At most a unit of work's worth at a time (see above). */
        if(cap > DILL__WS_BUFSZ) cap = DILL__WS_BUFSZ;
        ssize_t r = dill__wsz_inf_output(&z->inf, dst, cap);
        if(r == DILL__WSZ_ETOOBIG)
            rc = dill__ws_fail(self, DILL__WS_TOO_BIG, EMSGSIZE);
        else if(r == DILL__WSZ_ENOMEM)
            rc = dill__ws_fail(self, DILL__WS_INTERNAL_ERROR, ENOMEM);
        else if(r < 0 || (z->text && dill__utf8_feed(&z->utf8, dst,
                (size_t)r) < 0))
            rc = dill__ws_fail(self, DILL__WS_INVALID_DATA, EPROTO);
        else if(probe && r > 0) {
            self->skipping = 1;
            c->err = EMSGSIZE;
        }
        else if(keep) {
            dill__iol_advance(&c->cur, (size_t)r);
            c->room -= (size_t)r;
            c->got += (size_t)r;
            st->msgpos += (size_t)r;
        }
        if(!rc && r == DILL__WS_BUFSZ &&
           !((c->mode & DILL__WS_RX_PART) && c->got) &&
           dill__ws_busy(self, deadline) < 0) rc = -1;
    }
    dill__ws_buf_put(scr);
    return rc;
}

/* A data message begins (HEADER of its first frame) or goes on: a
   compressed one starts the decompressor; a plain one is held to the
   exact size limit (the decoder's allows for deflate's overhead). */
static int dill__ws_zheader(struct dill__ws *self, int op, int rsv) {
    struct dill__ws_st *st = self->st;
    struct dill__ws_z *z = dill__ws_zof(st);
    if(op != DILL__WS_CONT) {
        st->zrx = (rsv & DILL__WS_RSV1) ? 1 : 0;
        if(st->zrx) {
            z->text = op == DILL__WS_TEXT;
            dill__utf8_init(&z->utf8);
            dill__wsz_inf_begin(&z->inf, z->max);
        }
    }
    if(!st->zrx && z->max && st->dec.conn.msg_len > z->max)
        return dill__ws_fail(self, DILL__WS_TOO_BIG, EMSGSIZE);
    return 0;
}

/* The end of a data message: returns 1 when the call is complete, 0 to go
   on, -1 on error. */
static int dill__ws_msgend(struct dill__ws *self, struct dill__ws_rxc *c) {
    struct dill__ws_st *st = self->st;
    int drop = c->mode & DILL__WS_RX_DROP;
    /* zrx: deflate is on (rare->z). */
    if(st->zrx && !drop && st->rare->z->text &&
       !dill__utf8_complete(&st->rare->z->utf8))
        return dill__ws_fail(self, DILL__WS_INVALID_DATA, EPROTO);
    st->zrx = 0;
    st->msgop = 0;
    st->msgpos = 0;
    if(self->skipping) {
        self->skipping = 0;
        if(c->err) {errno = c->err; return -1;}
        return 0;
    }
    return drop ? 0 : 1;
}

/* Handles one decoder event.  Returns 1 when the call is complete, 0 to go
   on, -1 on error. */
static int dill__ws_event(struct dill__ws *self, struct dill__ws_rxc *c,
      struct dill__ws_ev *ev, int64_t deadline) {
    struct dill__ws_st *st = self->st;
    int drop = c->mode & DILL__WS_RX_DROP;
    switch(ev->type) {
    case DILL__WS_EV_HEADER: {
        int op = ev->hdr.opcode;
        st->hb = 0;
        st->infr = 1;
        st->frem = ev->hdr.len;
        st->ctlfr = dill__ws_is_control(op) ? 1 : 0;
        if(st->ctlfr) {
            if(!dill__ws_cbget(st)) {
                st->ctlfr = 0;
                return dill__ws_fail(self, DILL__WS_INTERNAL_ERROR, ENOMEM);
            }
            st->cb->ctllen = 0;
        }
        if(dill__slow(st->zon) && !st->ctlfr &&
           dill__ws_zheader(self, op, ev->hdr.rsv) < 0) return -1;
        if(st->ctlfr || op == DILL__WS_CONT) return 0;
        st->msgop = (uint8_t)op;
        st->msgpos = 0;
        if(drop || self->skipping) return 0;
        *c->type = op == DILL__WS_TEXT ? DILL_WS_TEXT : DILL_WS_BINARY;
        if(c->want && op != c->want) {
            self->skipping = 1;
            c->err = EPROTO;
        }
        return 0;
    }
    case DILL__WS_EV_DATA:
        st->frem -= ev->len;
        if(st->ctlfr) {
            struct dill__ws_cb *cb = st->cb;
            memcpy(cb->ctl + cb->ctllen, ev->data, ev->len);
            cb->ctllen = (uint8_t)(cb->ctllen + ev->len);
            return 0;
        }
        if(dill__slow(st->zrx)) {
            if(drop) return 0;
            dill__wsz_inf_input(&st->rare->z->inf, ev->data, ev->len, 0);
            return dill__ws_zdrain(self, c, deadline);
        }
        if(drop || self->skipping) return 0;
        if(c->cur.it->iol_base &&
           ev->data == (uint8_t*)c->cur.it->iol_base + c->cur.off)
            dill__iol_advance(&c->cur, ev->len);
        else
            dill__iol_copyin(&c->cur, ev->data, ev->len);
        c->room -= ev->len;
        c->got += ev->len;
        st->msgpos += ev->len;
        return 0;
    case DILL__WS_EV_END:
        st->infr = 0;
        if(st->ctlfr) {
            st->ctlfr = 0;
            st->ctlrun = 1;
            int crc = dill__ws_control(self, ev->hdr.opcode, deadline);
            st->ctlrun = 0;
            dill__ws_cbtrim(self);
            if(crc < 0) {
                if(drop && errno == EPIPE && self->rdone) return 1;
                return -1;
            }
            return dill__ws_busy(self, deadline) < 0 ? -1 : 0;
        }
        if(!ev->msg_end) return 0;
        if(dill__slow(st->zrx) && !drop) {
            dill__wsz_inf_input(&st->rare->z->inf, NULL, 0, 1);
            int rc = dill__ws_zdrain(self, c, deadline);
            if(rc) return rc;
        }
        return dill__ws_msgend(self, c);
    default:
        return dill__ws_fail(self, ev->code,
            ev->code == DILL__WS_TOO_BIG ? EMSGSIZE : EPROTO);
    }
}

/* The receiving engine behind every receiving call.  Returns bytes
   delivered or -1.  *more is set in part mode. */
static ssize_t dill__ws_rx(struct dill__ws *self, struct dill__ws_rxc *c,
      int *more, int64_t deadline) {
    struct dill__ws_st *st = self->st;
    int part = c->mode & DILL__WS_RX_PART;
    int drop = c->mode & DILL__WS_RX_DROP;
    if(st->msgop && !self->skipping && !drop) {
        /* A message is in progress (pieces, or a timed out call that had
           delivered nothing). */
        *c->type = st->msgop == DILL__WS_TEXT ? DILL_WS_TEXT : DILL_WS_BINARY;
        if(c->want && st->msgop != c->want) {
            self->skipping = 1;
            c->err = EPROTO;
        }
    }
    uint8_t *in = self->rbuf;
    size_t ipos = self->rpos, ilen = self->rlen;
    int direct = 0, reads = 0, frames = 0, rc = 0;
    /* A compressed message left output or input pending (part mode). */
    if(dill__slow(st->zrx) && !drop &&
       !dill__wsz_inf_idle(&st->rare->z->inf)) {
        rc = dill__ws_zdrain(self, c, deadline);
        if(!rc && dill__wsz_inf_done(&st->rare->z->inf))
            rc = dill__ws_msgend(self, c);
    }
    while(!rc) {
        int capped = st->infr && !st->ctlfr && !self->skipping && !drop &&
            !st->zrx;
        if(capped && st->frem && !c->room) {
            if(part) {*more = 1; rc = 1; break;}
            self->skipping = 1;
            c->err = EMSGSIZE;
            capped = 0;
        }
        size_t n = ilen - ipos;
        if(capped && n > c->room) n = c->room;
        struct dill__ws_ev ev;
        ipos += dill__ws_decode(&st->dec, in ? in + ipos : st->stage, n, &ev);
        if(ev.type == DILL__WS_EV_MORE) {
            if(ipos != ilen) continue;
            if(part && c->got) {*more = 1; rc = 1; break;}
            if(dill__ws_flush(self, deadline) < 0) return -1;
            size_t last = ilen;
            if(direct) {in = self->rbuf; ipos = ilen = 0; direct = 0;}
            if(reads++ && dill__ws_busy_n(self, deadline,
               1 + (unsigned)(last / DILL__WS_BUFSZ)) < 0) {
                rc = -1;
                break;
            }
            /* Between frames with nothing delivered yet (after a control
               frame, say), the idle deadline again. */
            int idle = !st->infr && !st->msgop && !c->got;
            if(dill__ws_fill(self, &c->cur, c->room, capped, &in, &ilen,
               &direct, idle ? c->idl : deadline) < 0) {
                rc = -1;
                break;
            }
            ipos = 0;
            continue;
        }
        rc = dill__ws_event(self, c, &ev, deadline);
        if(rc) break;
        if(ev.type == DILL__WS_EV_END && ++frames > DILL__WS_FREE_FRAMES &&
           dill__ws_busy(self, deadline) < 0) {
            rc = -1;
            break;
        }
    }
    if(direct) self->rpos = self->rlen = 0;
    else {
        self->rpos = (uint32_t)ipos;
        self->rlen = (uint32_t)ilen;
    }
    /* Between calls an empty buffer goes back to the pool (unless the
       decompressor still has to read from it). */
    if(self->rpos == self->rlen && self->rbuf &&
       !(st->zrx && dill__wsz_inf_pending(&st->rare->z->inf))) {
        if(self->rbuf != st->stage) dill__ws_buf_put(self->rbuf);
        self->rbuf = NULL;
        self->rpos = self->rlen = 0;
    }
    /* Pongs for the pings processed go out on every way out. */
    int err = errno;
    if(dill__ws_flush(self, deadline) < 0) return -1;
    dill__ws_cbtrim(self);
    errno = err;
    if(rc > 0) {
        if(more && !*more) *more = st->msgop ? 1 : 0;
        return (ssize_t)c->got;
    }
    if((errno == ETIMEDOUT || errno == ECANCELED) && !part && !drop &&
       st->msgpos)
        self->skipping = 1;
    return -1;
}

/* Whether a receiving call finds the connection idle (nothing buffered, no
   frame or message begun) and may wait shallow (x->ops->waitin). */
static int dill__ws_idle(struct dill__ws *self) {
    struct dill__ws_st *st = self->st;
    return self->x && self->x->ops->waitin && self->rpos == self->rlen &&
        !st->infr && !st->msgop && !st->zrx && !self->skipping;
}

static ssize_t dill__ws_recvany(struct dill__ws *self, int want, int *type,
      struct dill_iolist *first, size_t cap, int mode, int *more,
      int64_t deadline) {
    if(self->rerr) {errno = self->rerr; return -1;}
    if(self->rdone) {errno = EPIPE; return -1;}
    if(self->receiving) {errno = EBUSY; return -1;}
    int t;
    struct dill__ws_rxc c = {{first, 0}, cap, 0, mode, want, 0,
        type ? type : &t, deadline};
    if(first) dill__iol_advance(&c.cur, 0);
    int m = 0;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    self->receiving = 1;
    ssize_t r;
    /* On an idle connection the first read waits up to the hibernation
       threshold only; then the call waits here for input, with the frames
       of the receiving path gone from the stack. */
    c.idl = dill__slow(dill__ws_idle(self)) ? dill__hib_deadline(deadline) :
        deadline;
    while(1) {
        r = dill__ws_rx(self, &c, more ? more : &m, deadline);
        if(r >= 0 || c.idl == deadline || errno != ETIMEDOUT ||
           dill__pin_closed(&self->pin) || !dill__ws_idle(self) ||
           (deadline >= 0 && dill_now() >= deadline))
            break;
        int64_t kdl = dill__ws_kadl(self->st, deadline);
        int rc = self->x->ops->waitin(self->x, kdl);
        /* Input: read it.  Keepalive due: ping (or fail for a missing
           pong) from here, then wait again. */
        if(rc == 0) c.idl = dill__hib_deadline(deadline);
        else if(errno != ETIMEDOUT || kdl == deadline ||
           dill__ws_keepalive(self, dill_now()) < 0) {
            r = -1;
            break;
        }
    }
    self->receiving = 0;
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    return r;
}

static ssize_t dill__ws_mrecvl(struct dill_msock_vfs *mvfs,
      struct dill_iolist *first, struct dill_iolist *last, int64_t deadline) {
    struct dill__ws *self = dill__cont(mvfs, struct dill__ws, mvfs);
    size_t cap = first ? dill__iol_size(first) : 0;
    /* No list at all: receive the message and drop it. */
    struct dill_iolist sink = {NULL, SIZE_MAX, NULL, 0};
    if(!first) {first = &sink; cap = SIZE_MAX;}
    return dill__ws_recvany(self, self->text ? DILL__WS_TEXT :
        DILL__WS_BINARY, NULL, first, cap, 0, NULL, deadline);
}

ssize_t dill_ws_recvl(int s, int *flags, struct dill_iolist *first,
      struct dill_iolist *last, int64_t deadline) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    if(!flags) {errno = EINVAL; return -1;}
    size_t cap;
    int rc = dill__iol_check(first, last, 0, &cap);
    if(rc < 0) {errno = -rc; return -1;}
    return dill__ws_recvany(self, 0, flags, first, cap, 0, NULL, deadline);
}

ssize_t dill_ws_recv(int s, int *flags, void *buf, size_t len,
      int64_t deadline) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    if(!flags || (!buf && len)) {errno = EINVAL; return -1;}
    struct dill_iolist io = {buf, len, NULL, 0};
    return dill__ws_recvany(self, 0, flags, &io, len, 0, NULL, deadline);
}

ssize_t dill_ws_recv_part(int s, int *flags, void *buf, size_t len,
      int64_t deadline) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    if(!flags || (!buf && len)) {errno = EINVAL; return -1;}
    struct dill_iolist io = {buf, len, NULL, 0};
    int type = 0, more = 0;
    ssize_t r = dill__ws_recvany(self, 0, &type, &io, len, DILL__WS_RX_PART,
        &more, deadline);
    if(r >= 0) *flags = type | (more ? DILL_WS_MORE : 0);
    return r;
}

/******************************************************************************/
/*  Closing                                                                   */
/******************************************************************************/

/* Sends our Close frame (status 0: without a status). */
int dill__ws_sendclose(struct dill__ws *self, int status,
      const void *buf, size_t len, int64_t deadline) {
    if((!buf && len) || (!status && len)) {errno = EINVAL; return -1;}
    uint8_t p[DILL__WS_CONTROL_MAX];
    int n = dill__ws_close_build(p, status, buf, len);
    if(n < 0) {errno = EINVAL; return -1;}
    struct dill__pinref pr;
    if(dill__ws_begin(self, &pr, 0, deadline) < 0) return -1;
    int rc = dill__ws_ctlframe(self, DILL__WS_CLOSE, p, (size_t)n, deadline);
    self->sdone = 1;
    return dill__ws_finish(self, &pr, rc, deadline);
}

int dill_ws_done(int s, int status, const void *buf, size_t len,
      int64_t deadline) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    return dill__ws_sendclose(self, status, buf, len, deadline);
}

/* Bytes that followed the peer's Close frame in the receive buffer go back
   to the socket below, which then delivers them first. */
static int dill__ws_handback(struct dill__ws *self) {
    if(!self->rbuf || self->rpos == self->rlen) return 0;
    if(!self->x || !self->x->ops->unread) {errno = ENOTSUP; return -1;}
    return self->x->ops->unread(self->x, self->rbuf + self->rpos,
        self->rlen - self->rpos);
}

int dill_ws_detach(int s, int status, const void *buf, size_t len,
      int64_t deadline) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    struct dill__pinref pr;
    dill__pin(&self->pin, &pr);
    int rc = 0;
    if(!self->sdone)
        rc = dill__ws_sendclose(self, status, buf, len, deadline);
    if(rc == 0 && !self->rdone) {
        if(self->rerr) {errno = self->rerr; rc = -1;}
        else if(self->receiving) {errno = EBUSY; rc = -1;}
        else {
            struct dill__ws_rxc c = {{NULL, 0}, 0, 0, DILL__WS_RX_DROP, 0,
                0, NULL, deadline};
            int t, m = 0;
            c.type = &t;
            self->receiving = 1;
            ssize_t r = dill__ws_rx(self, &c, &m, deadline);
            self->receiving = 0;
            rc = r < 0 ? -1 : 0;
        }
    }
    /* Unlike hclose, no waiting for the server to close TCP first (RFC
       6455 7.1.1): the socket is the caller's now, which is what detaching
       is for. */
    if(rc == 0) rc = dill__ws_handback(self);
    if(dill__unpin(&self->pin, &pr) < 0) return -1;
    if(rc < 0) {
        int err = errno;
        dill_hclose(s);
        errno = err;
        return -1;
    }
    int u = self->u;
    self->u = -1;
    dill_hclose(s);
    return u;
}

ssize_t dill_ws_status(int s, int *status, void *buf, size_t len) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    if(!status) {errno = EINVAL; return -1;}
    struct dill__ws_st *st = self->st;
    if(!self->rdone && st->pcode != DILL__WS_ABNORMAL) {
        errno = EAGAIN;
        return -1;
    }
    size_t plen = st->cb ? st->cb->plen : 0;
    if(buf && len < plen) {errno = EMSGSIZE; return -1;}
    *status = st->pcode;
    if(buf && plen) memcpy(buf, st->cb->preason, plen);
    return (ssize_t)plen;
}

ssize_t dill_ws_protocol(int s, char *buf, size_t len) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    const char *p = self->st->rare && self->st->rare->protocol ?
        self->st->rare->protocol : "";
    size_t n = strlen(p);
    if(!buf || len <= n) {errno = EMSGSIZE; return -1;}
    memcpy(buf, p, n + 1);
    return (ssize_t)n;
}

int dill_ws_deflate(int s, struct dill_ws_deflate_params *p) {
    struct dill__ws *self = dill__ws_get(s);
    if(!self) return -1;
    struct dill__ws_z *z = dill__ws_zof(self->st);
    if(!z) return 0;
    if(p) {
        const struct dill__wsz_params *a = &z->agreed.p;
        p->server_no_context_takeover = a->server_no_ctx;
        p->client_no_context_takeover = a->client_no_ctx;
        p->server_max_window_bits = a->server_bits;
        p->client_max_window_bits = a->client_bits;
    }
    return 1;
}
