/* WebSocket frame codec (RFC 6455 sections 5 and 7), sans I/O.

   Pure functions over memory buffers; nothing here reads or writes a
   socket, allocates or blocks.  Pieces, from low level to high level:

     dill__ws_header_len     header length from its second byte
     dill__ws_parse_header   bytes -> struct dill__ws_hdr
     dill__ws_check          hdr + per-connection rules -> 0 or close code
     dill__ws_mask           XOR payload bytes with the masking key
     dill__ws_build_header   hdr fields -> bytes (minimal length encoding)
     dill__ws_build_frame    header + (masked) payload into one buffer
     dill__ws_close_parse    validate a received Close payload
     dill__ws_close_build    make a Close payload
     dill__ws_decode         incremental decoder over a byte stream that
                             combines all of the above

   Receive side, buffer driven: keep a struct dill__ws_dec per connection,
   read whatever the socket has into a buffer and call dill__ws_decode on it
   until it has consumed everything; it reports headers, unmasked payload
   chunks, frame ends and errors (with the close code to fail with).
   Callers that prefer to read headers and payloads separately (for example
   2 header bytes, then dill__ws_header_len - 2 more, then the payload
   straight into the user's buffer) use dill__ws_parse_header,
   dill__ws_check and dill__ws_mask directly.

   Send side: dill__ws_build_header gives the header bytes for one writev
   (header + payload); a client masks the payload with dill__ws_mask
   (offset lets it mask a payload in pieces through a scratch buffer).

   Non-minimal length encodings (e.g. 5 sent as 126 0 5): section 5.2 says
   the minimal number of bytes MUST be used, which binds the sender; the
   ABNF of the same section still matches such frames and the length means
   the same thing, so by default we accept them (be liberal in what we
   accept).  A connection that wants to be strict sets
   DILL__WS_STRICT_LENGTH and such frames then fail with 1002.  We always
   send the minimal encoding. */

#ifndef DILL_PROTO_WSFRAME_H
#define DILL_PROTO_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "../util/utf8.h"

/* Opcodes (section 5.2). */
#define DILL__WS_CONT 0x0
#define DILL__WS_TEXT 0x1
#define DILL__WS_BINARY 0x2
#define DILL__WS_CLOSE 0x8
#define DILL__WS_PING 0x9
#define DILL__WS_PONG 0xA

/* Reserved bits, in their position within the first header byte. */
#define DILL__WS_RSV1 0x40
#define DILL__WS_RSV2 0x20
#define DILL__WS_RSV3 0x10
#define DILL__WS_RSV_ALL 0x70

/* Close status codes (section 7.4.1 and the IANA registry). */
#define DILL__WS_NORMAL 1000
#define DILL__WS_GOING_AWAY 1001
#define DILL__WS_PROTOCOL_ERROR 1002
#define DILL__WS_UNSUPPORTED 1003
#define DILL__WS_NO_STATUS 1005 /* never on the wire: close had no code */
#define DILL__WS_ABNORMAL 1006 /* never on the wire: no close frame */
#define DILL__WS_INVALID_DATA 1007
#define DILL__WS_POLICY 1008
#define DILL__WS_TOO_BIG 1009
#define DILL__WS_MANDATORY_EXT 1010
#define DILL__WS_INTERNAL_ERROR 1011

/* Largest frame header: 2 + 8 (64-bit length) + 4 (masking key). */
#define DILL__WS_HDR_MAX 14
/* Largest payload of a control frame (section 5.5). */
#define DILL__WS_CONTROL_MAX 125
/* Largest whole control frame: header + payload. */
#define DILL__WS_CONTROL_FRAME_MAX (DILL__WS_HDR_MAX + DILL__WS_CONTROL_MAX)

/* Returns 1 for a control opcode (close, ping, pong and reserved 0xB-0xF),
   0 for data opcodes (0x0-0x7). */
#define dill__ws_is_control(opcode) (((opcode) & 0x8) != 0)

/* A parsed frame header. */
struct dill__ws_hdr {
    uint8_t fin; /* 1 = final fragment of a message */
    uint8_t rsv; /* RSV bits as DILL__WS_RSV* (first byte & 0x70) */
    uint8_t opcode; /* 0x0..0xF, not yet checked */
    uint8_t masked; /* 1 = a masking key follows and key is valid */
    uint8_t minimal; /* 1 = the length used the minimal encoding */
    uint8_t key[4]; /* masking key (zeros when !masked) */
    uint64_t len; /* payload length */
};

/* Returns the length (2..14) of a frame header from its second byte
   (MASK bit and 7-bit length), for callers that read a header with exact
   reads: first 2 bytes, then the rest. */
size_t dill__ws_header_len(uint8_t second);

/* Parses a frame header from the first n bytes of buf.  Returns the header
   length (2..14) once buf holds the whole header, 0 when more bytes are
   needed (at most DILL__WS_HDR_MAX in all), or -EPROTO when the 64-bit
   length has its most significant bit set (the frame cannot be valid; fail
   the connection with 1002).  On success *h is filled in; it is
   untouched otherwise.  Nothing beyond syntax is checked: pass the header to
   dill__ws_check before acting on it. */
int dill__ws_parse_header(const uint8_t *buf, size_t n,
    struct dill__ws_hdr *h);

/* Flags of struct dill__ws_conn. */
#define DILL__WS_SERVER 1 /* we are the server: peer frames must be masked */
#define DILL__WS_STRICT_LENGTH 2 /* fail non-minimal length encodings */

/* What one side of a connection knows about the frames it receives.  Set
   flags, rsv and max_msg once (after the handshake); zero the rest.  The
   other fields are kept up to date by dill__ws_check. */
struct dill__ws_conn {
    int flags; /* DILL__WS_SERVER | DILL__WS_STRICT_LENGTH */
    /* RSV bits a negotiated extension defines for the first frame of a data
       message (DILL__WS_RSV1 for permessage-deflate).  Following RFC 7692
       section 6.1 they stay forbidden on continuation and control frames. */
    uint8_t rsv;
    /* Opcode (TEXT or BINARY) of the fragmented message in progress, or 0
       (CONT) when the next data frame must start a new message. */
    uint8_t msg_opcode;
    /* RSV bits of the first frame of the current (or last) data message. */
    uint8_t msg_rsv;
    /* Largest acceptable message (sum of its frames' payloads), 0 for no
       limit. */
    uint64_t max_msg;
    /* Payload bytes of the current data message announced so far. */
    uint64_t msg_len;
};

/* Checks a received header against the protocol and the connection state
   and, when the frame is acceptable, advances the state (message started,
   continued or finished).  Returns 0 when the frame is acceptable, else
   the close code to fail the connection with:
     1002  RSV bits no extension negotiated (any RSV on continuation or
           control frames), reserved opcode (0x3-0x7, 0xB-0xF), 64-bit
           length with the top bit set, non-minimal length encoding under
           DILL__WS_STRICT_LENGTH, unmasked frame received by a server,
           masked frame received by a client, control frame with FIN=0 or
           payload > 125, continuation with no message in progress, new
           TEXT/BINARY inside a fragmented message;
     1009  the message would exceed c->max_msg.
   c is unchanged when a code is returned. */
int dill__ws_check(struct dill__ws_conn *c, const struct dill__ws_hdr *h);

/* Writes a frame header to out and returns its length (2..14).  fin is 0
   or 1; opcode is 0x0..0xF; rsv is a combination of DILL__WS_RSV*; mask is
   the 4-byte masking key, or NULL for an unmasked frame (server to
   client); len is the payload length and must be below 2^63.  The length
   always uses the minimal encoding. */
size_t dill__ws_build_header(uint8_t out[DILL__WS_HDR_MAX], int fin,
    int opcode, int rsv, const uint8_t *mask, uint64_t len);

/* XORs n payload bytes from src with the masking key and stores them in
   dst.  offset is the position of src[0] within the frame's payload, so a
   payload can be (un)masked in pieces of any size: masking [0, a) with
   offset 0 and then [a, n) with offset a equals masking [0, n) at once.
   Masking and unmasking are the same operation.  dst may equal src (in
   place); otherwise the two must not overlap.  Any alignment. */
void dill__ws_mask(void *dst, const void *src, size_t n,
    const uint8_t key[4], size_t offset);

/* Writes a whole frame (header followed by the payload, masked with mask
   when mask is not NULL) to out, which must have room for
   DILL__WS_HDR_MAX + len bytes.  Returns the frame length.  Meant for
   small frames (control frames, short messages) where one copy is
   cheaper than a writev.  payload may be NULL when len is 0. */
size_t dill__ws_build_frame(uint8_t *out, int fin, int opcode, int rsv,
    const uint8_t *mask, const void *payload, size_t len);

/* Returns 1 when code may appear in a Close frame on the wire: 1000-1003,
   1007-1014 (1012 service restart, 1013 try again later and 1014 bad
   gateway are IANA-registered after RFC 6455) and 3000-4999.  1004 and
   1016-2999 (reserved or unassigned), 1005, 1006 and 1015 (never sent)
   and everything else give 0. */
int dill__ws_close_code_valid(int code);

/* Validates an unmasked Close payload of n bytes (n <= 125, as
   dill__ws_check guarantees).  Returns 0 when it is acceptable, else the
   close code to fail the connection with: 1002 for a 1-byte payload or an
   invalid status code, 1007 when the reason is not valid UTF-8.  On
   success *code gets the status code (DILL__WS_NO_STATUS, 1005, for an
   empty payload), *reason points at the reason text inside p and
   *reasonlen gets its length (0 when there is none).  Any output pointer
   may be NULL. */
int dill__ws_close_parse(const uint8_t *p, size_t n, int *code,
    const uint8_t **reason, size_t *reasonlen);

/* Writes a Close payload to out (room for DILL__WS_CONTROL_MAX bytes):
   the 2-byte status code followed by the reason.  code 0 means "no status
   code" and gives an empty payload (reasonlen must then be 0).  Returns the
   payload length, or -EINVAL when code is not valid to send (see
   dill__ws_close_code_valid), -EMSGSIZE when reasonlen > 123, -EILSEQ when
   the reason is not valid UTF-8. */
int dill__ws_close_build(uint8_t out[DILL__WS_CONTROL_MAX], int code,
    const void *reason, size_t reasonlen);

/* Incremental receive-side decoder.  Flags for dill__ws_dec_init: */
#define DILL__WS_DEC_UTF8 1 /* validate TEXT messages as UTF-8 (1007) */

/* Events reported by dill__ws_decode. */
#define DILL__WS_EV_MORE 0 /* all input consumed; feed more bytes */
#define DILL__WS_EV_HEADER 1 /* a frame header was received and checked */
#define DILL__WS_EV_DATA 2 /* a chunk of the frame's payload, unmasked */
#define DILL__WS_EV_END 3 /* the frame's payload is complete */
#define DILL__WS_EV_ERROR 4 /* fail the connection with ev->code */

/* One event.  Which fields are meaningful depends on type. */
struct dill__ws_ev {
    int type; /* DILL__WS_EV_* */
    /* HEADER, DATA, END: the current frame's header. */
    struct dill__ws_hdr hdr;
    /* DATA: the chunk, unmasked in place inside the caller's buffer. */
    uint8_t *data;
    size_t len;
    /* DATA: position of data[0] within the frame's payload. */
    uint64_t offset;
    /* END: 1 when this frame finished a data message (data frame, FIN). */
    int msg_end;
    /* ERROR: the close code to send (1002, 1007 or 1009). */
    int code;
};

/* Decoder state, one per connection.  Treat as opaque except conn, whose
   settings dill__ws_dec_init copies in. */
struct dill__ws_dec {
    struct dill__ws_conn conn;
    /* Bytes, not ints: the decoder is part of every connection's state. */
    uint8_t flags;
    uint8_t phase; /* internal */
    uint8_t utf8_on; /* current TEXT message is being validated */
    uint16_t error; /* close code once failed, else 0 */
    uint8_t hlen; /* bytes held in hbuf */
    uint8_t hbuf[DILL__WS_HDR_MAX]; /* partial header across calls */
    struct dill__ws_hdr hdr; /* current frame */
    uint64_t pos; /* payload bytes of the current frame delivered */
    struct dill__utf8 utf8; /* UTF-8 state of the current TEXT message */
};

/* Sets up a decoder.  conn_flags, rsv and max_msg are as in struct
   dill__ws_conn; flags are DILL__WS_DEC_*. */
void dill__ws_dec_init(struct dill__ws_dec *d, int conn_flags, int rsv,
    uint64_t max_msg, int flags);

/* Consumes bytes from buf[0..n) and reports one event in *ev.  Returns the
   number of bytes consumed; the caller drops them and calls again with the
   rest (also with n == 0, as a frame can end or start without more
   input) until the event is DILL__WS_EV_MORE, which is reported exactly
   when everything given has been consumed and nothing is pending.
   Payload bytes are unmasked in place, so buf must be writable; ev->data
   points into buf and stays valid as long as the caller keeps the bytes.
   Events per frame: HEADER, zero or more DATA (never empty), END.
   With DILL__WS_DEC_UTF8 the payload of a TEXT message whose first frame
   has no RSV bits (RSV bits mean an extension transforms the payload, so
   the check belongs after it) is validated as it arrives; invalid UTF-8
   gives ERROR 1007 instead of DATA, an incomplete character at the end of
   the message ERROR 1007 instead of END.  Control frame payloads are not
   checked: run dill__ws_close_parse on a Close payload.  After ERROR the
   decoder is dead: every later call consumes nothing and reports the same
   ERROR. */
size_t dill__ws_decode(struct dill__ws_dec *d, uint8_t *buf, size_t n,
    struct dill__ws_ev *ev);

#endif
