/* The WebSocket opening handshake (RFC 6455, section 4), sans I/O.

   Client: dill__ws_make_key, dill__ws_build_request, send it, read until
   dill__http_parse_response returns a head size, dill__ws_check_response.
   Server: read until dill__http_parse_request returns a head size,
   dill__ws_check_request, then either dill__ws_build_response (after
   dill__ws_choose_protocol) or dill__ws_build_error with the returned
   status.  Bytes after the head belong to the WebSocket stream.

   Builders write into a caller buffer, NUL-terminate the text and return
   its length without the NUL, or -EMSGSIZE when it (with the NUL) does not
   fit, or -EINVAL when an argument would produce an invalid message (bad
   characters, header injection, reserved header names in extra lines). */

#ifndef DILL_PROTO_WSHS_H
#define DILL_PROTO_WSHS_H

#include <stddef.h>
#include <sys/types.h>

#include "httpparse.h"

/* Sec-WebSocket-Key length: base64 of 16 bytes. */
#define DILL__WS_KEY_LEN 24
/* Sec-WebSocket-Accept length: base64 of a SHA-1 digest. */
#define DILL__WS_ACCEPT_LEN 28
/* Most subprotocols a client may offer; more is answered with 400. */
#define DILL__WS_MAX_PROTOCOLS 32

/* Writes the Sec-WebSocket-Accept value for the key (the key's exact bytes
   as sent): base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")),
   28 characters plus a NUL.  The key is not validated. */
void dill__ws_accept_key(const char *key, size_t keylen,
    char out[DILL__WS_ACCEPT_LEN + 1]);

/* Writes a fresh Sec-WebSocket-Key: 16 random bytes (dill__random) in
   base64, 24 characters plus a NUL. */
void dill__ws_make_key(char out[DILL__WS_KEY_LEN + 1]);

/* 1 if key[0..keylen) is a valid Sec-WebSocket-Key, i.e. strict base64 that
   decodes to exactly 16 bytes; 0 otherwise. */
int dill__ws_key_valid(const char *key, size_t keylen);

/* Which rule a handshake broke. */
enum dill__ws_fail {
    DILL__WS_FAIL_NONE = 0,
    DILL__WS_FAIL_METHOD,      /* Request method is not GET. */
    DILL__WS_FAIL_HTTPVER,     /* Request is older than HTTP/1.1. */
    DILL__WS_FAIL_TARGET,      /* Target neither "/..." nor absolute. */
    DILL__WS_FAIL_HOST,        /* Host missing or repeated. */
    DILL__WS_FAIL_UPGRADE,     /* No Upgrade header with "websocket". */
    DILL__WS_FAIL_CONNECTION,  /* No Connection header with "upgrade". */
    DILL__WS_FAIL_KEY,         /* Sec-WebSocket-Key missing, repeated or
                                  not base64 of 16 bytes. */
    DILL__WS_FAIL_VERSION,     /* Sec-WebSocket-Version not exactly 13. */
    DILL__WS_FAIL_PROTOCOLS,   /* Offered subprotocols malformed or too
                                  many. */
    DILL__WS_FAIL_STATUS,      /* Response status is not 101. */
    DILL__WS_FAIL_ACCEPT,      /* Sec-WebSocket-Accept missing, repeated or
                                  wrong. */
    DILL__WS_FAIL_PROTOCOL,    /* Server picked a subprotocol we did not
                                  offer, or sent several. */
    DILL__WS_FAIL_EXTENSIONS,  /* Server sent extensions we did not offer,
                                  or several Sec-WebSocket-Extensions. */
    DILL__WS_FAIL_FRAMING      /* Request has Transfer-Encoding, or a
                                  Content-Length that is malformed,
                                  repeated with another value, or not 0
                                  (RFC 9112, section 6.3). */
};

/* A short English description of f, for logs. */
const char *dill__ws_fail_str(enum dill__ws_fail f);

/******************************************************************************/
/*  Client                                                                    */
/******************************************************************************/

/* What the client asks for.  The same structure is passed to the request
   builder and to the response check. */
struct dill__ws_client_opts {
    /* Request target, e.g. "/chat?x=1"; required, printable ASCII. */
    const char *resource;
    /* Host header value, e.g. "example.com:8080"; required. */
    const char *host;
    /* Origin header value, or NULL to send none. */
    const char *origin;
    /* Subprotocols to offer, in order of preference (tokens); nprotocols
       may be 0 (protocols may then be NULL). */
    const char *const *protocols;
    size_t nprotocols;
    /* Sec-WebSocket-Extensions offer, or NULL for none.  Only when it is
       set does the response check accept extensions from the server. */
    const char *extensions;
    /* Additional header lines, "Name: value" separated by CRLF (a final
       CRLF is optional), or NULL.  Names the handshake itself sends are
       refused (-EINVAL). */
    const char *extra;
};

/* Builds the client's opening request into buf[0..len):
   GET, Host, Upgrade, Connection, Sec-WebSocket-Key (key: 24 characters,
   NUL-terminated, from dill__ws_make_key), Sec-WebSocket-Version: 13, then
   Origin, Sec-WebSocket-Protocol and Sec-WebSocket-Extensions if set, then
   the extra lines and the empty line.
   Returns the length, -EMSGSIZE or -EINVAL. */
ssize_t dill__ws_build_request(char *buf, size_t len,
    const struct dill__ws_client_opts *o, const char *key);

/* Outcome of the response check. */
struct dill__ws_client_result {
    enum dill__ws_fail fail;
    /* Agreed subprotocol: index into opts->protocols and the string
       itself, or -1 and NULL when the server chose none. */
    int protocol;
    const char *protocol_name;
    /* The server's Sec-WebSocket-Extensions value (pointing into the
       response buffer) for the extension layer to check, or NULL. */
    const char *extensions;
    size_t extensionslen;
};

/* Checks a parsed response head against the request sent with o and key:
   status 101, Upgrade has "websocket", Connection has "upgrade",
   Sec-WebSocket-Accept matches key, a returned subprotocol is one of those
   offered (none returned is fine), extensions only if offered.
   Returns 0, or -EPROTO with r->fail telling which rule failed. */
int dill__ws_check_response(const struct dill__http_head *h,
    const struct dill__ws_client_opts *o, const char *key,
    struct dill__ws_client_result *r);

/******************************************************************************/
/*  Server                                                                    */
/******************************************************************************/

/* A string inside the request buffer. */
struct dill__ws_str {
    const char *p;
    size_t len;
};

/* What the server learns from a valid request.  All strings point into the
   request buffer. */
struct dill__ws_server_req {
    enum dill__ws_fail fail;
    /* Every request header (e.g. Sec-WebSocket-Extensions offers, Cookie,
       Authorization): use dill__http_find on it. */
    const struct dill__http_head *head;
    struct dill__ws_str resource;
    struct dill__ws_str host;
    struct dill__ws_str key;        /* DILL__WS_KEY_LEN characters. */
    struct dill__ws_str origin;     /* p is NULL when absent. */
    /* Offered subprotocols in the client's order, from all
       Sec-WebSocket-Protocol lines. */
    int nprotocols;
    struct dill__ws_str protocols[DILL__WS_MAX_PROTOCOLS];
};

/* Validates a parsed request head: method GET (else 405), HTTP/1.1 or later,
   target "/..." or absolute-form, exactly one Host, Upgrade with token
   "websocket", Connection with token "upgrade", no Transfer-Encoding and
   no Content-Length other than 0 (a body before the frames would be read
   as frames; RFC 9112 section 6.3 wants 400 for conflicting lengths, and
   a proxy in front may frame the request differently), exactly one
   Sec-WebSocket-Key that is base64 of 16 bytes (else 400), exactly one
   Sec-WebSocket-Version equal to 13 (else 426), offered subprotocols that
   are tokens and at most DILL__WS_MAX_PROTOCOLS (else 400).  Returns 0 and
   fills r, or returns the status to answer with (r->fail tells why);
   answer it with dill__ws_build_error. */
int dill__ws_check_request(const struct dill__http_head *h,
    struct dill__ws_server_req *r);

/* The index of the first of the server's accepted subprotocols (in server
   preference order) that the client offered, or -1 when there is none.
   Names compare exactly (case-sensitive). */
int dill__ws_choose_protocol(const struct dill__ws_server_req *r,
    const char *const *accepted, size_t naccepted);

/* Builds the "101 Switching Protocols" response to the request r: Upgrade,
   Connection, Sec-WebSocket-Accept, Sec-WebSocket-Protocol if protocol is
   not NULL (it should come from dill__ws_choose_protocol), Sec-WebSocket-
   Extensions if extensions is not NULL, then extra header lines (as in
   dill__ws_client_opts; handshake names refused).
   Returns the length, -EMSGSIZE or -EINVAL. */
ssize_t dill__ws_build_response(char *buf, size_t len,
    const struct dill__ws_server_req *r, const char *protocol,
    const char *extensions, const char *extra);

/* Builds an error response with status 400..599 (usually the return value
   of dill__ws_check_request; for parser errors use 400 for -EPROTO and 431
   for -EMSGSIZE).  It carries Connection: close, and Content-Length: 0 or
   the text body (NUL-terminated, may be NULL) with Content-Type text/plain.
   405 adds "Allow: GET"; 426 adds "Upgrade: websocket" and
   "Sec-WebSocket-Version: 13" and its Connection header is "Upgrade, close"
   (RFC 9110 requires the upgrade option next to an Upgrade header).
   extra: more header lines as above, or NULL.
   Returns the length, -EMSGSIZE or -EINVAL. */
ssize_t dill__ws_build_error(char *buf, size_t len, int status,
    const char *body, const char *extra);

/* 1 when the request asks for the WebSocket upgrade (an Upgrade header
   naming websocket), whether or not it is a valid one. */
int dill__ws_is_upgrade(const struct dill__http_head *h);

/* Builds the head of a plain HTTP response: status 200..599, Connection:
   close, Content-Type ctype (when not NULL), Content-Length bodylen, then
   extra header lines as above; the body is sent after it.  Returns the
   length, -EMSGSIZE or -EINVAL (bad status, ctype with CR or LF, or bad
   extra lines). */
ssize_t dill__ws_build_plain(char *buf, size_t len, int status,
    const char *ctype, size_t bodylen, const char *extra);

#endif
