/* TLS 1.3 record protection after the handshake (RFC 8446 5.2-5.5, 7.1-7.3),
   sans-I/O: pure functions over caller's buffers.  OpenSSL does the
   handshake; tls.c then takes the traffic secrets and protects the
   records itself with these functions (a cipher context reused for every
   record: no per-record buffer management, provider lookups or error
   queue work).  Only AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305 (the
   TLS 1.3 suites OpenSSL enables by default). */

#ifndef DILL_PROTO_TLSREC_H
#define DILL_PROTO_TLSREC_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* Record sizes (RFC 8446 5.1, 5.2). */
#define DILL__TLSREC_HDR 5
#define DILL__TLSREC_TAG 16
#define DILL__TLSREC_MAXPT 16384
/* Largest ciphertext (the record's length field) a peer may send. */
#define DILL__TLSREC_MAXCT (DILL__TLSREC_MAXPT + 256)
/* Largest whole record on the wire. */
#define DILL__TLSREC_MAXREC (DILL__TLSREC_HDR + DILL__TLSREC_MAXCT)
/* What a record adds to n bytes of content (without padding): header,
   inner content type, tag. */
#define DILL__TLSREC_OVERHEAD (DILL__TLSREC_HDR + 1 + DILL__TLSREC_TAG)

/* Content types (RFC 8446 5.1). */
#define DILL__TLSREC_ALERT 21
#define DILL__TLSREC_HANDSHAKE 22
#define DILL__TLSREC_APPDATA 23

/* Alert descriptions that the functions below report (as negative
   return values) and that tls.c sends. */
#define DILL__TLSREC_CLOSE_NOTIFY 0
#define DILL__TLSREC_UNEXPECTED 10
#define DILL__TLSREC_BAD_MAC 20
#define DILL__TLSREC_OVERFLOW 22
#define DILL__TLSREC_DECODE 50
#define DILL__TLSREC_INTERNAL 80

/* Cipher suites, by their TLS code points. */
#define DILL__TLSREC_AES128GCM 0x1301
#define DILL__TLSREC_AES256GCM 0x1302
#define DILL__TLSREC_CHACHA20 0x1303

/* One direction of a connection: its current traffic secret (kept for
   KeyUpdate), the per-record nonce base, the record sequence number, and
   a cipher context that holds the key. */
struct dill__tlsrec_dir {
    EVP_CIPHER_CTX *c;
    uint64_t seq;
    uint16_t suite;
    uint8_t enc;                    /* 1: seals, 0: opens */
    uint8_t hlen;                   /* hash length: 32 or 48 */
    uint8_t rest;                   /* c freed by dill__tlsrec_rest */
    uint8_t iv[12];
    uint8_t secret[48];
    uint8_t key[32];                /* of c (which may be NULL: at rest) */
};

/* Whether suite (a TLS code point) is one of the three above. */
int dill__tlsrec_supported(uint16_t suite);

/* HKDF-Expand-Label(secret, label, context, outlen) (RFC 8446 7.1) with the
   hash of the suite (SHA-256, or SHA-384 for AES-256-GCM); label without
   the "tls13 " prefix.  outlen <= 255, label <= 249 bytes, context <= 255
   bytes.  Returns 0, or -1 (an OpenSSL failure or bad lengths). */
int dill__tlsrec_expand(uint16_t suite, const uint8_t *secret,
    const char *label, const uint8_t *ctx, size_t ctxlen, uint8_t *out,
    size_t outlen);

/* Sets d up for one direction from a traffic secret (hlen bytes: 32, or 48
   for AES-256-GCM): derives key and iv (RFC 8446 7.3), keys a new cipher
   context (the old one is freed) and sets the sequence number to 0.  enc:
   1 to seal, 0 to open.  d must be zeroed before the first call.  Returns
   0 or -1 (ENOMEM, or EINVAL for an unsupported suite). */
int dill__tlsrec_init(struct dill__tlsrec_dir *d, uint16_t suite, int enc,
    const uint8_t *secret, size_t hlen);

/* KeyUpdate for d (RFC 8446 7.2): the next traffic secret, new key and iv,
   sequence number 0.  Returns 0 or -1 (ENOMEM). */
int dill__tlsrec_update(struct dill__tlsrec_dir *d);

/* An idle connection's direction at rest: frees d's cipher context (about
   1 KiB in OpenSSL 3), keeping its key; the next seal or open makes it
   again (dill__tlsrec_wake).  d must be set up (dill__tlsrec_init). */
void dill__tlsrec_rest(struct dill__tlsrec_dir *d);
/* Makes d's cipher context again if it is at rest.  Returns 0 or -1
   (ENOMEM).  Seal and open call it; a caller that must tell a failure to
   make it from a bad record calls it first. */
int dill__tlsrec_wake(struct dill__tlsrec_dir *d);
/* Directions of this thread at rest now (for tests). */
size_t dill__tlsrec_resting(void);

/* Frees d's cipher context and wipes its secrets.  d may be zeroed. */
void dill__tlsrec_term(struct dill__tlsrec_dir *d);

/* Seals n bytes of content of type type (with pad zero bytes of padding)
   into one record at out (outlen bytes of room): header, ciphertext, tag.
   content may be at out + DILL__TLSREC_HDR (sealed in place) or must not
   overlap out.  n + pad <= DILL__TLSREC_MAXPT (the inner plaintext, with
   its content type byte, is at most 2^14 + 1 bytes: RFC 8446 5.4).
   Advances the sequence number.
   Returns the record's length (n + pad + DILL__TLSREC_OVERHEAD), or -1
   with errno: EMSGSIZE (too long for a record or for out), EOVERFLOW (the
   sequence number is spent: a KeyUpdate was due), ENOMEM (a context at
   rest could not be made again), EIO (cipher failure). */
ssize_t dill__tlsrec_seal(struct dill__tlsrec_dir *d, uint8_t type,
    const uint8_t *content, size_t n, size_t pad, uint8_t *out,
    size_t outlen);

/* Looks at the start of a byte stream of records: returns the length of the
   whole first record when its header is there (the rest may still be
   missing), 0 when fewer than DILL__TLSREC_HDR bytes are there, or minus an
   alert: -DILL__TLSREC_OVERFLOW (longer than DILL__TLSREC_MAXCT),
   -DILL__TLSREC_UNEXPECTED (not an application_data record: after the
   handshake every record is protected), -DILL__TLSREC_DECODE (shorter than
   a tag and a content type). */
ssize_t dill__tlsrec_reclen(const uint8_t *p, size_t len);

/* Opens one whole record (rec, reclen bytes as dill__tlsrec_reclen said),
   decrypting into out (NULL: in place, at rec + DILL__TLSREC_HDR; else
   room for reclen - DILL__TLSREC_HDR - DILL__TLSREC_TAG bytes, not
   overlapping rec).  Checks the tag, strips the padding and the inner
   content type.  Advances the sequence number.  Returns the content
   length and its type in *type, or minus an alert: -DILL__TLSREC_BAD_MAC
   (the tag does not match: altered, or out of sequence), -DILL__TLSREC_
   OVERFLOW (inner plaintext over 2^14 + 1 bytes), -DILL__TLSREC_UNEXPECTED
   (no content type: all zeros), -DILL__TLSREC_INTERNAL (sequence numbers
   spent, a cipher failure, or a context at rest that could not be made
   again).  On failure what out holds is garbage. */
ssize_t dill__tlsrec_open(struct dill__tlsrec_dir *d, uint8_t *rec,
    size_t reclen, uint8_t *out, uint8_t *type);

/* Streaming parser of the handshake messages that may follow the
   handshake, across records (RFC 8446 4.6): NewSessionTicket (to a client;
   skipped) and KeyUpdate.  Zero it to start. */
struct dill__tlsrec_hs {
    uint32_t left;                  /* body bytes of the message still due */
    uint8_t hdr[4];
    uint8_t hdrlen;
    uint8_t type;
};

/* Feeds the content of one handshake record.  server: whether we are the
   server (a server accepts only KeyUpdate).  Sets *keyupdate to 0, or to
   1 (KeyUpdate, update_not_requested) or 2 (update_requested); a KeyUpdate
   must end its record (the key changes after it).  Returns 0 or minus an
   alert: -DILL__TLSREC_UNEXPECTED (a message not allowed here, an empty
   record, or bytes after a KeyUpdate), -DILL__TLSREC_DECODE (a KeyUpdate
   of a bad length or value). */
int dill__tlsrec_hsfeed(struct dill__tlsrec_hs *h, const uint8_t *p,
    size_t len, int server, int *keyupdate);

#endif
