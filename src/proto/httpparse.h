/* HTTP/1.1 message-head parser (RFC 9112, sections 2-5), sans I/O.

   The parser works on a caller buffer holding the bytes received so far and
   is restartable: call it again on the same buffer after more bytes have
   been appended (re-parsing from the start; it is a single pass and does
   not allocate; the _r variants below resume instead).  Parsed strings are (pointer, length) pairs into that
   buffer, valid while the buffer is unchanged; nothing is NUL-terminated.

   Accepted syntax is deliberately strict: single spaces between the parts
   of the start line, "HTTP/1.x" only, no whitespace before the colon of a
   header, no obsolete line folding, no control characters except HTAB
   inside values.  Lines may end with CRLF or a bare LF; a CR not followed
   by LF is an error.  A request may be preceded by empty lines (RFC 9112,
   section 2.2), which count towards the head size. */

#ifndef DILL_PROTO_HTTPPARSE_H
#define DILL_PROTO_HTTPPARSE_H

#include <stddef.h>

/* Longest request or status line, not counting its line end. */
#define DILL__HTTP_MAX_LINE 8192
/* Longest head: start line, headers and the final empty line. */
#define DILL__HTTP_MAX_HEAD 16384
/* Most header lines in one head. */
#define DILL__HTTP_MAX_HEADERS 64

/* One header line.  name is a non-empty token; value has the optional
   whitespace around it removed and may be empty. */
struct dill__http_header {
    const char *name;
    size_t namelen;
    const char *value;
    size_t valuelen;
};

/* A parsed head.  Members that do not apply to the message kind are NULL/0
   (method and target for responses; status and reason for requests). */
struct dill__http_head {
    const char *method;       /* Request method, a token (case-sensitive). */
    size_t methodlen;
    const char *target;       /* Request target, printable ASCII. */
    size_t targetlen;
    int minor;                /* x in HTTP/1.x, 0..9. */
    int status;               /* Response status code, 100..999. */
    const char *reason;       /* Response reason phrase, possibly empty. */
    size_t reasonlen;
    int nheaders;             /* Headers in order of appearance. */
    struct dill__http_header headers[DILL__HTTP_MAX_HEADERS];
};

/* Parses a request head at the start of buf[0..len).
   Returns the size of the complete head (through the empty line that ends
   it; bytes after it, e.g. a body or WebSocket frames, are not examined),
   0 when buf is a valid prefix and more bytes are needed, -EPROTO when the
   input is malformed, or -EMSGSIZE when a limit above is exceeded.  Errors
   are detected as early as possible and are stable: once a prefix fails,
   every longer input fails with the same code.  *h is filled only when the
   return value is positive; otherwise its contents are unspecified. */
int dill__http_parse_request(const char *buf, size_t len,
    struct dill__http_head *h);

/* Same as dill__http_parse_request for a response head ("HTTP/1.1 101
   Switching Protocols").  The reason phrase (and the space before it) may be
   missing. */
int dill__http_parse_response(const char *buf, size_t len,
    struct dill__http_head *h);

/* Where a resumed parse goes on.  Zero it (DILL__HTTP_PSTATE_INIT) before
   the first call on a new head. */
struct dill__http_pstate {
    size_t seen;      /* bytes looked at so far */
    size_t line;      /* start of the first unfinished header line, or 0
                         while the start line is unfinished */
    int nheaders;     /* complete header lines before it */
};
#define DILL__HTTP_PSTATE_INIT {0, 0, 0}

/* dill__http_parse_request and _response for a buffer that grows between
   calls (received bytes appended, the earlier ones unchanged), in time
   proportional to the new bytes plus the lines they complete instead of
   the whole head: the parse goes on after the last complete line, and
   bytes that complete no line are not parsed at all (picohttpparser's
   last_len idea).  Pass the same h and ps on every call for one head.
   Returns what the one-shot parser returns on the same bytes, except that
   an error inside an unfinished line may be reported only when a line end
   or a size limit arrives (0 until then); a complete head is never
   reported late. */
int dill__http_parse_request_r(const char *buf, size_t len,
    struct dill__http_head *h, struct dill__http_pstate *ps);
int dill__http_parse_response_r(const char *buf, size_t len,
    struct dill__http_head *h, struct dill__http_pstate *ps);

/* Index of the first header at or after index start whose name equals name
   (ASCII case-insensitive), or -1.  Iterate over repeated headers with
   start = previous index + 1. */
int dill__http_find(const struct dill__http_head *h, const char *name,
    int start);

/* Iterates over the elements of a comma-separated list value (RFC 9110,
   section 5.6.1).  *pos must start at 0.  Returns 1 and sets *elem and
   *elemlen to the next element with the whitespace around it removed, or
   returns 0 at the end of the list.  Empty elements (as in "a, ,b") are
   skipped; commas inside quoted strings do not split. */
int dill__http_list_next(const char *value, size_t len, size_t *pos,
    const char **elem, size_t *elemlen);

/* 1 if the comma-separated list value[0..len) has an element equal to
   token (ASCII case-insensitive), e.g. "keep-alive, Upgrade" has "upgrade";
   0 otherwise. */
int dill__http_has_token(const char *value, size_t len, const char *token);

/* 1 if a[0..alen) equals the NUL-terminated b, ASCII case-insensitively. */
int dill__http_ieq(const char *a, size_t alen, const char *b);

/* Syntax checks for building messages; each returns 1 or 0.
   is_token: non-empty RFC 9110 token (method, header name, protocol name).
   is_target: non-empty run of printable ASCII (no space or controls).
   is_value: header value characters only (HTAB, SP, printable ASCII and
   bytes >= 0x80); may be empty; never contains CR or LF. */
int dill__http_is_token(const char *s, size_t len);
int dill__http_is_target(const char *s, size_t len);
int dill__http_is_value(const char *s, size_t len);

#endif
