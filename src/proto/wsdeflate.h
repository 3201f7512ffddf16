/* permessage-deflate (RFC 7692), sans I/O: negotiation over header values
   and the per-message codec over memory buffers.  Nothing here reads or
   writes a socket; zlib state is allocated on first use and, when a
   direction has no context takeover, handed back to a small per-thread
   cache as soon as its message is done, so idle connections hold none.

   Negotiation (section 7.1):
     client  dill__wsz_offer builds the one offer we send;
             dill__wsz_client checks the server's answer (-EPROTO fails
             the connection).
     server  dill__wsz_server walks every offer of every
             Sec-WebSocket-Extensions line in order, takes the first one
             it can accept and builds the answer; offers with an unknown
             or repeated parameter, a missing or bad value are declined.

   Window bits 8.  zlib's raw deflate refuses a 256-byte window
   (deflateInit2 fails for -8) and a 9-bit compressor may emit distances
   up to 512, which a peer that inflates with 256 bytes rejects.  Section
   7.1.2 lets the compressor use any window up to the agreed size and
   section 6 lets any message go out uncompressed, so when our sending
   direction agreed 8 bits we compress only whole messages of at most 256
   bytes, each from a fresh stream (no distance can then exceed 255), and
   send every other message uncompressed.  We still accept offers and
   answers of 8.  Inflating, we use at least 9 bits (zlib accepts 8 for
   raw inflate, but 9 also takes peers that compress with 9 when 8 was
   agreed), which costs 256 bytes more. */

#ifndef DILL_PROTO_WSDEFLATE_H
#define DILL_PROTO_WSDEFLATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "httpparse.h"

/* Parameters of one permessage-deflate offer or answer.  Window bits: 0 =
   parameter absent, DILL__WSZ_NOVALUE = present without a value (only
   client_max_window_bits in an offer), else 8..15. */
#define DILL__WSZ_NOVALUE 1
struct dill__wsz_params {
    uint8_t server_no_ctx;  /* server_no_context_takeover */
    uint8_t client_no_ctx;  /* client_no_context_takeover */
    uint8_t server_bits;    /* server_max_window_bits */
    uint8_t client_bits;    /* client_max_window_bits */
};

/* Parses one element of a Sec-WebSocket-Extensions list (as returned by
   dill__http_list_next).  Returns 0 when it names another extension, 1
   with *p filled in when it is a valid permessage-deflate element, and
   -EINVAL for a permessage-deflate element with a malformed, unknown or
   repeated parameter, a value outside 8..15 (decimal, no leading zero,
   token or quoted string), a value on a no_context_takeover parameter or
   a missing value on server_max_window_bits.  client_max_window_bits
   without a value gives DILL__WSZ_NOVALUE. */
int dill__wsz_parse(const char *elem, size_t len, struct dill__wsz_params *p);

/* Local preferences of one side.  ctx = 0 asks for no context takeover in
   both directions (idle connections then hold no zlib state).  send_bits
   (9..15) caps the window we compress with, recv_bits (8..15) the window
   we would like the peer to compress with (obtained only when the peer
   allows it), mem_level (1..9) is zlib's memLevel for our compressor,
   level (1..9) its compression level. */
struct dill__wsz_cfg {
    uint8_t ctx;
    uint8_t send_bits;
    uint8_t recv_bits;
    uint8_t mem_level;
    uint8_t level;
};

/* The local preferences for a connection that may keep budget bytes of
   zlib state between messages: the largest tier whose estimate
   (dill__wsz_tier_bytes) fits, with context takeover; below the smallest
   (about 16 KiB) no context takeover and 15-bit windows.  Level 6. */
void dill__wsz_tier(size_t budget, struct dill__wsz_cfg *cfg);

/* zlib's documented allocation for one compressor with window bits wb and
   memLevel ml plus one decompressor with window bits wb, with the sizes of
   the zlib state structures on this platform. */
size_t dill__wsz_tier_bytes(int wb, int ml);

/* What one side uses after the handshake: window bits (8..15) and whether
   the context is reset after each message, per direction. */
struct dill__wsz_agreed {
    struct dill__wsz_params p;  /* as answered, absent bits filled (15) */
    uint8_t send_bits, send_no_ctx;
    uint8_t recv_bits, recv_no_ctx;
};

/* Client: writes our offer (NUL-terminated) to buf and returns its
   length, or -EMSGSIZE.  The offer asks for no context takeover in both
   directions when cfg->ctx is 0, for server_max_window_bits=recv_bits when
   recv_bits < 15, and always allows client_max_window_bits (with value
   send_bits when it is < 15). */
ssize_t dill__wsz_offer(const struct dill__wsz_cfg *cfg, char *buf,
    size_t len);

/* Client: checks the server's Sec-WebSocket-Extensions value (the one
   line, ext[0..len)) against the offer dill__wsz_offer built from cfg.
   Returns 0 with *a filled in, or -EPROTO when it names another extension,
   answers more than once, has a parameter that does not parse, a
   client_max_window_bits without a value, a server_max_window_bits above
   the one we asked for (or none when we asked), or lacks the
   server_no_context_takeover we asked for.  A client_max_window_bits above
   the value we offered is accepted: we keep compressing with ours. */
int dill__wsz_client(const char *ext, size_t len,
    const struct dill__wsz_cfg *cfg, struct dill__wsz_agreed *a);

/* Server: looks at every Sec-WebSocket-Extensions line of the request h
   and accepts the first permessage-deflate offer that parses.  Returns 1
   with *a filled in and the answer (NUL-terminated) in buf, 0 when no
   offer is acceptable (answer without the extension), -EMSGSIZE when buf
   is too small.  The answer carries server_no_context_takeover when the
   client asked for it or cfg->ctx is 0, client_no_context_takeover when
   the client offered it, cfg->ctx is 0 or recv_bits < 15 and the client
   cannot shrink its window, server_max_window_bits when the
   client asked (answer: the smaller of its value and send_bits) or
   send_bits < 15, client_max_window_bits only when the client offered it
   (the smaller of its value and recv_bits, omitted when that is 15 and
   the client gave no value). */
int dill__wsz_server(const struct dill__http_head *h,
    const struct dill__wsz_cfg *cfg, struct dill__wsz_agreed *a, char *buf,
    size_t len);

/******************************************************************************/
/*  Codec                                                                     */
/******************************************************************************/

/* Results of the codec calls besides byte counts. */
#define DILL__WSZ_EDATA (-1)    /* input does not inflate: close 1007 */
#define DILL__WSZ_ETOOBIG (-2)  /* message above the limit: close 1009 */
#define DILL__WSZ_ENOMEM (-3)   /* zlib state could not be allocated */

/* Compressor of one direction.  Zero it, then set bits (8..15), no_ctx,
   mem_level and level; dill__wsz_def_free releases it.  Set hint before a
   message's first input when its size is known: a message compressed
   from a fresh stream (no context takeover) of at most 4 KiB then uses
   memLevel 3, as resetting the hash table of memLevel 8 (64 KiB) would
   cost more than compressing it. */
struct dill__wsz_def {
    void *z;                /* z_stream, NULL until first use */
    uint8_t bits, no_ctx, mem_level, level;
    uint8_t flush;          /* flush mode of the current input */
    uint8_t nhold;          /* output bytes held back */
    uint8_t hold[4];        /* ... the possible tail of the message */
    uint8_t busy;           /* a message is being compressed */
    uint64_t hint;          /* size of the next message, 0: unknown */
};

/* 1 when a message of total bytes (whole: 1 when all of it is given at
   once) may be compressed at all; see "Window bits 8" above. */
int dill__wsz_def_can(const struct dill__wsz_def *d, uint64_t total,
    int whole);

/* Input modes for dill__wsz_def_input. */
#define DILL__WSZ_MORE 0   /* more input of the same frame follows */
#define DILL__WSZ_FRAME 1  /* end of a piece: all of it goes out now */
#define DILL__WSZ_FIN 2    /* end of the message: the tail is removed */

/* Gives the compressor the next input in[0..len) (it must stay valid until
   dill__wsz_def_output has consumed it).  Returns 0 or DILL__WSZ_ENOMEM. */
int dill__wsz_def_input(struct dill__wsz_def *d, const void *in, size_t len,
    int mode);

/* Writes compressed bytes to out (cap >= 16) and returns their count.
   *more is set to 1 when the output did not fit and the call must be
   repeated (the bytes so far may go out as a non-final frame), 0 when the
   input is consumed (and, for DILL__WSZ_FRAME or DILL__WSZ_FIN, flushed).
   With DILL__WSZ_FIN the 00 00 ff ff tail is removed and the context is
   reset or released when no_ctx says so.  With DILL__WSZ_MORE the count
   may be 0. */
size_t dill__wsz_def_output(struct dill__wsz_def *d, uint8_t *out,
    size_t cap, int *more);

/* Drops the message being compressed (after a failed send): the next
   message starts from a fresh stream, which any peer can inflate as long
   as the frames sent so far ended at a flush. */
void dill__wsz_def_abort(struct dill__wsz_def *d);

/* Releases the compressor's zlib state. */
void dill__wsz_def_free(struct dill__wsz_def *d);

/* Decompressor of one direction.  Zero it, then set bits and no_ctx. */
struct dill__wsz_inf {
    void *z;                /* z_stream, NULL until first use */
    uint8_t bits, no_ctx;
    uint8_t fin;            /* the message's last input has been given */
    uint8_t tail;           /* bytes of the 00 00 ff ff tail given */
    uint8_t ended;          /* the stream had a final block */
    uint8_t empty;          /* the message had no compressed bytes */
    uint8_t any;            /* compressed bytes were given */
    uint8_t drained;        /* zlib holds no output */
    uint8_t busy;           /* a message is being inflated */
    const uint8_t *in;      /* input not yet consumed */
    size_t inlen;
    uint64_t total;         /* bytes of the message produced so far */
    uint64_t max;           /* limit on total, 0: none */
};

/* Starts inflating a message of at most max bytes (0: no limit). */
void dill__wsz_inf_begin(struct dill__wsz_inf *f, uint64_t max);

/* Gives the next compressed input in[0..len) (it must stay valid until
   consumed: see dill__wsz_inf_pending); fin = 1 when it ends the
   message.  Call only when the previous input has been consumed. */
void dill__wsz_inf_input(struct dill__wsz_inf *f, const uint8_t *in,
    size_t len, int fin);

/* Inflates into out[0..cap) and returns the number of bytes written (0
   when the input is consumed and nothing more comes out), or
   DILL__WSZ_EDATA, DILL__WSZ_ETOOBIG (as soon as the message passes
   f->max: at most max + 1 bytes are ever produced), DILL__WSZ_ENOMEM.
   After the fin input, dill__wsz_inf_done tells when all output has been
   given; the state is then reset or released per no_ctx. */
ssize_t dill__wsz_inf_output(struct dill__wsz_inf *f, uint8_t *out,
    size_t cap);

/* 1 when the message's last input has been given and all of its output
   has been produced. */
int dill__wsz_inf_done(const struct dill__wsz_inf *f);

/* 1 when no output can come before more input is given: the given input
   has been consumed and all of its output produced (or no message is in
   progress). */
int dill__wsz_inf_idle(const struct dill__wsz_inf *f);

/* Unconsumed input bytes (they must stay valid). */
#define dill__wsz_inf_pending(f) ((f)->inlen)

/* Releases the decompressor's zlib state. */
void dill__wsz_inf_free(struct dill__wsz_inf *f);

#endif
