/* The libdill-compatible HTTP layer (http_attach and friends): one call per
   line of an HTTP/1.1 message head.  The line syntax is checked by the pure
   functions below (sans I/O); src/proto/http.c reads and writes the lines.

   Lines are read one byte at a time from the layer below, so the HTTP
   layer never holds bytes that belong to what follows the head, and
   http_detach can hand the underlying socket back exactly positioned. */

#ifndef DILL_PROTO_HTTP_H
#define DILL_PROTO_HTTP_H

#include <stddef.h>

/* Longest line accepted on receive, not counting its line end.  The line
   buffer lives inside the HTTP object, which must fit struct
   dill_http_storage. */
#define DILL__HTTP_LINE_MAX 1232

/* Most bytes http_detach reads and discards to reach the end of the peer's
   head. */
#define DILL__HTTP_DISCARD_MAX 65536

/* Most empty lines skipped before a request line (RFC 9112, section 2.2). */
#define DILL__HTTP_MAX_EMPTY 8

/* Splits a request line (without its line end) "METHOD SP target SP
   HTTP/1.1" into method and target, pointers into line.  Returns 0 or
   -EPROTO (wrong syntax, another HTTP version, illegal characters). */
int dill__http_reqline(const char *line, size_t len, const char **method,
    size_t *methodlen, const char **target, size_t *targetlen);

/* Parses a status line "HTTP/1.1 SP 3DIGIT [SP reason]".  The status must
   be 100..599; the reason may be empty or missing.  Returns 0 or
   -EPROTO. */
int dill__http_statusline(const char *line, size_t len, int *status,
    const char **reason, size_t *reasonlen);

/* Parses a header field line "name: value".  name is a token directly
   followed by the colon; value has the spaces and tabs around it removed.
   A line starting with whitespace (obsolete folding) is rejected.  Returns
   0 or -EPROTO. */
int dill__http_fieldline(const char *line, size_t len, const char **name,
    size_t *namelen, const char **value, size_t *valuelen);

/* Removes spaces and tabs from both ends of s[0..*len); returns the new
   start and updates *len. */
const char *dill__http_trim(const char *s, size_t *len);

#endif
