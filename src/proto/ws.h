/* WebSocket handles (RFC 6455): internal interface shared by ws.c (frames,
   messages, closing) and wsattach.c (opening handshakes, options).

   A ws object sits on top of a bytestream socket.  The object itself is
   small (it must fit struct dill_ws_storage); the decoder and the other
   per-connection state live in one heap block (struct dill__ws_st), and the
   receive buffer is borrowed from a per-thread pool only while bytes are
   buffered, so an idle connection holds no buffer. */

#ifndef DILL_PROTO_WS_H
#define DILL_PROTO_WS_H

#include <stdint.h>

#include "libdillimpl.h"
#include "core/core.h"
#include "net/bsockx.h"
#include "proto/wsdeflate.h"
#include "proto/wsframe.h"

/* Size of pooled buffers: receive buffer, client masking scratch, and the
   handshake buffer (an HTTP head may use all of it). */
#define DILL__WS_BUFSZ 16384
/* Masking scratch for client frames bigger than DILL__WS_BUFSZ. */
#define DILL__WS_BIGSZ 65536
/* Payloads at least this big are read straight into the caller's memory. */
#define DILL__WS_DIRECT_MIN 2048
/* Frames up to this size (header included) are gathered in the write
   buffer of the socket below, when it has one (tcp, ipc, TLS over them:
   net/bsockx.h), and leave together at the end of the turn. */
#define DILL__WS_GATHER_MAX 4096
/* Default largest message. */
#define DILL__WS_DEFAULT_MAX (16u * 1024 * 1024)
/* Room for pong frames waiting to be written together. */
#define DILL__WS_PONGBUF 256
/* Small area an idle connection reads into before it takes a buffer. */
#define DILL__WS_STAGE 32
/* Longest request target and Host value ws_listen hands out (ws_listen(3)
   documents them). */
#define DILL__WS_RESOURCE_MAX 511
#define DILL__WS_HOST_MAX 255

/* permessage-deflate state of a connection that agreed it (heap, made
   after the handshake). */
struct dill__ws_z {
    struct dill__wsz_def def;       /* our messages */
    struct dill__wsz_inf inf;       /* the peer's messages */
    struct dill__wsz_agreed agreed;
    uint64_t max;                   /* largest inflated message, 0: none */
    size_t threshold;               /* smaller messages go out plain */
    struct dill__utf8 utf8;         /* inflated TEXT message so far */
    uint8_t text;                   /* the message being inflated is TEXT */
};

/* Control-frame memory of a connection (heap, 630 bytes): made when a
   control frame arrives or has to wait for the send lock, freed as soon as
   nothing is pending, so that an idle connection holds none.  Kept once
   the peer's Close gave a reason (dill_ws_status reports it). */
struct dill__ws_cb {
    /* Control frame payload being collected. */
    uint8_t ctllen;
    uint8_t ctl[DILL__WS_CONTROL_MAX];
    /* The reason in the peer's Close frame. */
    uint8_t plen;
    uint8_t preason[DILL__WS_CONTROL_MAX];
    /* A control frame waiting for the send lock: opcode (0 = none) and
       payload. */
    uint8_t pendop;
    uint8_t pendlen;
    uint8_t pend[DILL__WS_CONTROL_MAX];
    /* Pongs waiting to be written, whole frames: a burst of pings is
       answered with one write. */
    uint16_t pblen;
    uint8_t pb[DILL__WS_PONGBUF];
};

/* Rarely used per-connection state (heap, made on first use, see
   dill__ws_rare): keepalive, the agreed subprotocol, what ws_listen and its
   check callback attach.  A plain ws_attach_server/client connection
   without these has none. */
struct dill__ws_rare {
    /* Keepalive (st->ka says it is on): interval and pong timeout, when the
       next ping is due and when the pong is due (0: none awaited). */
    int64_t ping_ivl, pong_tmo, next_ping, pong_due;
    /* Agreed subprotocol (heap), or NULL. */
    char *protocol;
    /* permessage-deflate (heap), NULL when not agreed (st->zon says). */
    struct dill__ws_z *z;
    /* The application's pointer for this connection (set by its check
       callback through dill_ws_request_set_userdata). */
    void *userdata;
    /* The object this belongs to. */
    struct dill__ws *ws;
    /* Set by ws_listen on the connections it hands out: called when the
       object is freed (closed or detached); lnode is its place in the
       listener's list (self-linked otherwise). */
    void (*gone)(struct dill__ws *ws, void *arg);
    void *gonearg;
    struct dill__list lnode;
};

/* Per-connection state kept outside the handle object (in the same heap
   block when the object is not in the caller's storage). */
struct dill__ws_st {
    struct dill__ws_dec dec;
    /* Payload bytes left in the current frame. */
    uint64_t frem;
    /* Payload bytes of the current data message handed to the caller. */
    uint64_t msgpos;
    /* Control-frame memory, NULL while no control frame is being received
       or waits to be written (allocated on first use). */
    struct dill__ws_cb *cb;
    /* See struct dill__ws_rare; NULL until one of its fields is set. */
    struct dill__ws_rare *rare;
    /* UTF-8 state of a text message being sent in parts. */
    struct dill__utf8 sutf8;
    /* What the peer's Close frame said: status (0 = none, 1006 = the
       connection ended without one); its reason is in cb. */
    uint16_t pcode;
    /* permessage-deflate was agreed (its state is rare->z); the message
       being received is compressed (zrx), the message being sent in parts
       is (smz). */
    uint8_t zon, zrx, smz;
    /* Inside a frame (after its header, before its end). */
    uint8_t infr;
    /* The current frame is a control frame. */
    uint8_t ctlfr;
    /* A complete control frame is being handled (its payload in cb). */
    uint8_t ctlrun;
    /* Opcode of the data message in progress (TEXT/BINARY) or 0. */
    uint8_t msgop;
    /* Exact-read fallback: header bytes fed since the frame boundary and
       the header's second byte. */
    uint8_t hb, h2;
    /* Keepalive is on (its settings and timers are in rare). */
    uint8_t ka;
    uint8_t stage[DILL__WS_STAGE];
};

struct dill__ws {
    struct dill_hvfs hvfs;
    struct dill_msock_vfs mvfs;
    struct dill_bsock_vfs *b;      /* the underlying socket */
    /* Its partial reads and gathered writes (net/bsockx.h), or NULL. */
    struct dill__bsockx_vfs *x;
    struct dill__ws_st *st;
    uint8_t *rbuf;                 /* pooled receive buffer or NULL */
    uint32_t rpos, rlen;           /* buffered bytes: rbuf[rpos..rlen) */
    /* Coroutines waiting for the send lock: ctlq for control frames and
       further pieces of the open fragmented message, which may go while it
       is open; dataq for new messages, which wait until it ends. */
    struct dill__list ctlq;
    struct dill__list dataq;
    /* Calls that may sleep pin the object (core.h): closing it wakes
       them with EBADF and its memory goes with the last of them. */
    struct dill__pin pin;
    int u;                         /* handle of the underlying socket */
    int rerr;                      /* receiving fails with this, if set */
    int serr;                      /* sending fails with this, if set */
    unsigned int server : 1;
    unsigned int text : 1;         /* msend/mrecv type is TEXT */
    unsigned int mem : 1;          /* caller's storage */
    unsigned int sdone : 1;        /* Close sent (or queued) */
    unsigned int rdone : 1;        /* peer's Close received */
    unsigned int sending : 1;      /* send lock held (a frame is written) */
    unsigned int receiving : 1;    /* a receiving call is running */
    unsigned int skipping : 1;     /* dropping the rest of a message */
    unsigned int smsg : 1;         /* a message sent in parts is open:
                                      only control frames and its own
                                      pieces may be sent */
    unsigned int stext : 1;        /* ... and it is TEXT */
    unsigned int gather : 1;       /* x has gathered writes */
};

/* The connection's permessage-deflate state, or NULL. */
static inline struct dill__ws_z *dill__ws_zof(const struct dill__ws_st *st) {
    return st->zon ? st->rare->z : NULL;
}

/* The rare block of self, made if needed.  Returns NULL (ENOMEM) when it
   cannot be allocated. */
struct dill__ws_rare *dill__ws_rare(struct dill__ws *self);
/* Rare blocks of all threads not freed yet: tests check with it that plain
   connections have none. */
size_t dill__ws_rare_live(void);

/* Control-frame blocks (struct dill__ws_cb) allocated by this thread and
   not freed yet: tests check with it that idle connections hold none. */
size_t dill__ws_cb_live(void);

/* Type id answered by ws handles. */
extern const void *dill__ws_type;

/* Per-thread pool of DILL__WS_BUFSZ buffers.  get returns NULL (ENOMEM)
   when memory is exhausted; put takes NULL too. */
uint8_t *dill__ws_buf_get(void);
void dill__ws_buf_put(uint8_t *buf);

/* Sets up the object in mem (or allocates it when mem is NULL) over the
   underlying socket s; no handle is made yet.  Returns NULL with errno
   set (ENOTSUP, ENOMEM); s is left alone. */
struct dill__ws *dill__ws_new(int s, int server, int text, size_t max_msg,
    void *mem);
/* Makes the handle for a set up object.  On failure the object and s are
   released (hclose) and -1 returned. */
int dill__ws_publish(struct dill__ws *self);
/* Turns permessage-deflate on for a set up object with what the handshake
   agreed (a) and the local preferences cfg; threshold: messages shorter
   than this go out uncompressed.  Returns 0 or -1 (ENOMEM). */
int dill__ws_zsetup(struct dill__ws *self, const struct dill__wsz_agreed *a,
    const struct dill__wsz_cfg *cfg, size_t threshold);
/* Releases an object that has no handle yet, and closes its underlying
   socket.  Keeps errno. */
void dill__ws_discard(struct dill__ws *self);
/* Sends a Close frame (what dill_ws_done does once it has the object).
   -1 with EBADF means the object was closed during the call: unless the
   caller pinned it, it may be gone. */
int dill__ws_sendclose(struct dill__ws *self, int status, const void *buf,
    size_t len, int64_t deadline);
/* dill_ws_attach_server_opts for ws_listen: peer (may be NULL) is what
   dill_ws_request_peer reports, and *obj gets the new object. */
struct dill_ipaddr;
int dill__ws_attach_server_ex(int s, char *resource, size_t resourcelen,
    char *host, size_t hostlen, const struct dill_ws_options *o,
    const struct dill_ipaddr *peer, struct dill__ws **obj, int64_t deadline);

/* One whole message whose frame header (hdr, hl bytes, unmasked, FIN
   set) was built once for many connections, and whose text (if text) was
   checked already. */
struct dill__ws_built {
    int text;
    const uint8_t *hdr;
    size_t hl;
    const void *buf;
    size_t len;
};
/* Sends the n messages f on ws handle s, in order, under one send lock:
   server connections write the built headers and payloads as they are;
   client ones (which must mask) build their own frames.  Returns 0, or -1
   with dill_ws_send's errors. */
int dill__ws_send_built(int s, const struct dill__ws_built *f, size_t n,
    int64_t deadline);
/* For messages compressed once for many connections: when ws handle s is
   a server connection that compresses each of its messages from a fresh
   stream (permessage-deflate, our side without context takeover), sets
   *def to a zeroed compressor of the same settings, *threshold to its
   deflate threshold and returns 1; a frame with RSV1 and a payload
   compressed that way may then go through dill__ws_send_built.  Returns 0
   otherwise, -1 with EBADF or ENOTSUP. */
int dill__ws_zshared(int s, struct dill__wsz_def *def, size_t *threshold);

#endif
