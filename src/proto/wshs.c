#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "libdill.h"
#include "wshs.h"
#include "../util/base64.h"
#include "../util/random.h"
#include "../util/sha1.h"

/* RFC 6455, section 1.3. */
static const char dill__ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void dill__ws_accept_key(const char *key, size_t keylen,
      char out[DILL__WS_ACCEPT_LEN + 1]) {
    struct dill__sha1_ctx ctx;
    uint8_t digest[DILL__SHA1_LEN];
    dill__sha1_init(&ctx);
    dill__sha1_update(&ctx, key, keylen);
    dill__sha1_update(&ctx, dill__ws_guid, sizeof(dill__ws_guid) - 1);
    dill__sha1_final(&ctx, digest);
    dill__base64_encode(digest, sizeof(digest), out);
}

void dill__ws_make_key(char out[DILL__WS_KEY_LEN + 1]) {
    uint8_t nonce[16];
    dill__random(nonce, sizeof(nonce));
    dill__base64_encode(nonce, sizeof(nonce), out);
}

int dill__ws_key_valid(const char *key, size_t keylen) {
    uint8_t raw[16];
    if(keylen != DILL__WS_KEY_LEN) return 0;
    return dill__base64_decode(key, keylen, raw, sizeof(raw)) == 16;
}

const char *dill__ws_fail_str(enum dill__ws_fail f) {
    switch(f) {
    case DILL__WS_FAIL_NONE: return "no error";
    case DILL__WS_FAIL_METHOD: return "request method is not GET";
    case DILL__WS_FAIL_HTTPVER: return "request is older than HTTP/1.1";
    case DILL__WS_FAIL_TARGET: return "bad request target";
    case DILL__WS_FAIL_HOST: return "Host missing or repeated";
    case DILL__WS_FAIL_UPGRADE: return "Upgrade does not name websocket";
    case DILL__WS_FAIL_CONNECTION: return "Connection lacks upgrade";
    case DILL__WS_FAIL_KEY: return "bad Sec-WebSocket-Key";
    case DILL__WS_FAIL_VERSION: return "Sec-WebSocket-Version is not 13";
    case DILL__WS_FAIL_PROTOCOLS: return "bad Sec-WebSocket-Protocol offer";
    case DILL__WS_FAIL_STATUS: return "response status is not 101";
    case DILL__WS_FAIL_ACCEPT: return "bad Sec-WebSocket-Accept";
    case DILL__WS_FAIL_PROTOCOL: return "subprotocol was not offered";
    case DILL__WS_FAIL_EXTENSIONS: return "unexpected Sec-WebSocket-Extensions";
    case DILL__WS_FAIL_FRAMING: return "request has a body or bad framing";
    }
    return "unknown error";
}

/******************************************************************************/
/*  Output buffer                                                             */
/******************************************************************************/

struct dill__wsb {
    char *buf;
    size_t len;
    size_t pos;
    int full;
};

static void dill__wsb_put(struct dill__wsb *b, const char *s, size_t n) {
    if(b->full || b->len - b->pos < n) {
        b->full = 1;
        return;
    }
    memcpy(b->buf + b->pos, s, n);
    b->pos += n;
}

static void dill__wsb_puts(struct dill__wsb *b, const char *s) {
    dill__wsb_put(b, s, strlen(s));
}

/* "Name: value\r\n" */
static void dill__wsb_header(struct dill__wsb *b, const char *name,
      const char *value) {
    dill__wsb_puts(b, name);
    dill__wsb_put(b, ": ", 2);
    dill__wsb_puts(b, value);
    dill__wsb_put(b, "\r\n", 2);
}

/* NUL-terminates the message; the NUL must fit too. */
static ssize_t dill__wsb_finish(struct dill__wsb *b) {
    if(b->full || b->pos >= b->len) return -EMSGSIZE;
    b->buf[b->pos] = 0;
    return (ssize_t)b->pos;
}

/* Validates caller-supplied header lines (see dill__ws_client_opts.extra)
   and returns their length without a trailing CRLF through *outlen.
   Returns 0 if they are well-formed and use none of the forbidden names. */
static int dill__ws_extra_check(const char *extra,
      const char *const *forbidden, size_t *outlen) {
    const char *p = extra;
    *outlen = 0;
    if(!extra) return 0;
    while(*p) {
        const char *name = p;
        while(*p && *p != ':' && *p != '\r' && *p != '\n') p++;
        if(*p != ':') return -EINVAL;
        size_t namelen = (size_t)(p - name);
        if(!dill__http_is_token(name, namelen)) return -EINVAL;
        for(int i = 0; forbidden[i]; i++) {
            if(dill__http_ieq(name, namelen, forbidden[i])) return -EINVAL;
        }
        p++;
        const char *value = p;
        while(*p && *p != '\r' && *p != '\n') p++;
        if(!dill__http_is_value(value, (size_t)(p - value))) return -EINVAL;
        *outlen = (size_t)(p - extra);
        if(*p == 0) break;
        if(p[0] != '\r' || p[1] != '\n') return -EINVAL;
        p += 2;
    }
    return 0;
}

static void dill__wsb_extra(struct dill__wsb *b, const char *extra,
      size_t n) {
    if(n == 0) return;
    dill__wsb_put(b, extra, n);
    dill__wsb_put(b, "\r\n", 2);
}

/******************************************************************************/
/*  Client                                                                    */
/******************************************************************************/

static const char *const dill__ws_client_reserved[] = {
    "Host", "Upgrade", "Connection", "Sec-WebSocket-Key",
    "Sec-WebSocket-Version", "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions", "Origin", NULL
};

static int dill__ws_client_opts_ok(const struct dill__ws_client_opts *o,
      const char *key) {
    if(!o || !key || !o->resource || !o->host) return 0;
    if(!dill__ws_key_valid(key, strlen(key))) return 0;
    if(!dill__http_is_target(o->resource, strlen(o->resource))) return 0;
    if(!dill__http_is_target(o->host, strlen(o->host))) return 0;
    if(o->origin && !dill__http_is_target(o->origin, strlen(o->origin)))
        return 0;
    if(o->nprotocols > 0 && !o->protocols) return 0;
    for(size_t i = 0; i < o->nprotocols; i++) {
        const char *p = o->protocols[i];
        if(!p || !dill__http_is_token(p, strlen(p))) return 0;
    }
    if(o->extensions) {
        size_t n = strlen(o->extensions);
        if(n == 0 || !dill__http_is_value(o->extensions, n)) return 0;
    }
    return 1;
}

ssize_t dill__ws_build_request(char *buf, size_t len,
      const struct dill__ws_client_opts *o, const char *key) {
    size_t extralen;
    if(!dill__ws_client_opts_ok(o, key)) return -EINVAL;
    if(dill__ws_extra_check(o->extra, dill__ws_client_reserved, &extralen))
        return -EINVAL;
    struct dill__wsb b = {buf, len, 0, 0};
    dill__wsb_puts(&b, "GET ");
    dill__wsb_puts(&b, o->resource);
    dill__wsb_puts(&b, " HTTP/1.1\r\n");
    dill__wsb_header(&b, "Host", o->host);
    dill__wsb_header(&b, "Upgrade", "websocket");
    dill__wsb_header(&b, "Connection", "Upgrade");
    dill__wsb_header(&b, "Sec-WebSocket-Key", key);
    dill__wsb_header(&b, "Sec-WebSocket-Version", "13");
    if(o->origin) dill__wsb_header(&b, "Origin", o->origin);
    if(o->nprotocols > 0) {
        dill__wsb_puts(&b, "Sec-WebSocket-Protocol: ");
        for(size_t i = 0; i < o->nprotocols; i++) {
            if(i > 0) dill__wsb_put(&b, ", ", 2);
            dill__wsb_puts(&b, o->protocols[i]);
        }
        dill__wsb_put(&b, "\r\n", 2);
    }
    if(o->extensions)
        dill__wsb_header(&b, "Sec-WebSocket-Extensions", o->extensions);
    dill__wsb_extra(&b, o->extra, extralen);
    dill__wsb_put(&b, "\r\n", 2);
    return dill__wsb_finish(&b);
}

/* Index of the only header called name (*idx), or -1 if absent; returns
   the number of such headers, saturated at 2. */
static int dill__ws_single(const struct dill__http_head *h, const char *name,
      int *idx) {
    *idx = dill__http_find(h, name, 0);
    if(*idx < 0) return 0;
    return dill__http_find(h, name, *idx + 1) < 0 ? 1 : 2;
}

/* 1 if any header called name has token in its list value. */
static int dill__ws_any_token(const struct dill__http_head *h,
      const char *name, const char *token) {
    for(int i = dill__http_find(h, name, 0); i >= 0;
          i = dill__http_find(h, name, i + 1)) {
        if(dill__http_has_token(h->headers[i].value, h->headers[i].valuelen,
              token))
            return 1;
    }
    return 0;
}

static int dill__ws_client_protocol(const struct dill__http_head *h,
      const struct dill__ws_client_opts *o,
      struct dill__ws_client_result *r) {
    int i;
    int n = dill__ws_single(h, "Sec-WebSocket-Protocol", &i);
    if(n == 0) return 0;
    if(n > 1) return -1;
    const struct dill__http_header *f = &h->headers[i];
    for(size_t j = 0; j < o->nprotocols; j++) {
        const char *p = o->protocols[j];
        if(strlen(p) == f->valuelen && memcmp(p, f->value, f->valuelen) == 0) {
            r->protocol = (int)j;
            r->protocol_name = p;
            return 0;
        }
    }
    return -1;
}

static int dill__ws_client_fail(struct dill__ws_client_result *r,
      enum dill__ws_fail f) {
    r->fail = f;
    return -EPROTO;
}

int dill__ws_check_response(const struct dill__http_head *h,
      const struct dill__ws_client_opts *o, const char *key,
      struct dill__ws_client_result *r) {
    int i;
    r->fail = DILL__WS_FAIL_NONE;
    r->protocol = -1;
    r->protocol_name = NULL;
    r->extensions = NULL;
    r->extensionslen = 0;
    if(h->status != 101)
        return dill__ws_client_fail(r, DILL__WS_FAIL_STATUS);
    if(!dill__ws_any_token(h, "Upgrade", "websocket"))
        return dill__ws_client_fail(r, DILL__WS_FAIL_UPGRADE);
    if(!dill__ws_any_token(h, "Connection", "upgrade"))
        return dill__ws_client_fail(r, DILL__WS_FAIL_CONNECTION);
    if(dill__ws_single(h, "Sec-WebSocket-Accept", &i) != 1)
        return dill__ws_client_fail(r, DILL__WS_FAIL_ACCEPT);
    char expect[DILL__WS_ACCEPT_LEN + 1];
    dill__ws_accept_key(key, strlen(key), expect);
    if(h->headers[i].valuelen != DILL__WS_ACCEPT_LEN ||
          memcmp(h->headers[i].value, expect, DILL__WS_ACCEPT_LEN) != 0)
        return dill__ws_client_fail(r, DILL__WS_FAIL_ACCEPT);
    if(dill__ws_client_protocol(h, o, r) < 0)
        return dill__ws_client_fail(r, DILL__WS_FAIL_PROTOCOL);
    int n = dill__ws_single(h, "Sec-WebSocket-Extensions", &i);
    if(n > 0) {
        if(n > 1 || !o->extensions)
            return dill__ws_client_fail(r, DILL__WS_FAIL_EXTENSIONS);
        r->extensions = h->headers[i].value;
        r->extensionslen = h->headers[i].valuelen;
    }
    return 0;
}

/******************************************************************************/
/*  Server                                                                    */
/******************************************************************************/

/* origin-form ("/path?query") or absolute-form ("scheme://..."). */
static int dill__ws_target_ok(const char *t, size_t n) {
    if(n > 0 && t[0] == '/') return 1;
    size_t i = 0;
    while(i < n && ((t[i] >= 'a' && t[i] <= 'z') ||
          (t[i] >= 'A' && t[i] <= 'Z') ||
          (i > 0 && ((t[i] >= '0' && t[i] <= '9') || t[i] == '+' ||
          t[i] == '-' || t[i] == '.'))))
        i++;
    return i > 0 && n - i >= 3 && memcmp(t + i, "://", 3) == 0;
}

static int dill__ws_server_fail(struct dill__ws_server_req *r,
      enum dill__ws_fail f, int status) {
    r->fail = f;
    return status;
}

/* Collects the offered subprotocols from every Sec-WebSocket-Protocol
   line.  Returns -1 on a malformed element or too many. */
static int dill__ws_offered(const struct dill__http_head *h,
      struct dill__ws_server_req *r) {
    const char *name = "Sec-WebSocket-Protocol";
    for(int i = dill__http_find(h, name, 0); i >= 0;
          i = dill__http_find(h, name, i + 1)) {
        size_t pos = 0;
        const char *e;
        size_t elen;
        while(dill__http_list_next(h->headers[i].value,
              h->headers[i].valuelen, &pos, &e, &elen)) {
            if(!dill__http_is_token(e, elen)) return -1;
            if(r->nprotocols == DILL__WS_MAX_PROTOCOLS) return -1;
            r->protocols[r->nprotocols].p = e;
            r->protocols[r->nprotocols].len = elen;
            r->nprotocols++;
        }
    }
    return 0;
}

/* 0 if the request has no body: no Transfer-Encoding, and every
   Content-Length element (over all lines) is a decimal 0.  Anything else
   is refused rather than guessed at: two lengths that differ, or a length
   beside Transfer-Encoding, is how request smuggling gets past a proxy. */
static int dill__ws_nobody(const struct dill__http_head *h) {
    if(dill__http_find(h, "Transfer-Encoding", 0) >= 0) return -1;
    for(int i = dill__http_find(h, "Content-Length", 0); i >= 0;
          i = dill__http_find(h, "Content-Length", i + 1)) {
        const char *v = h->headers[i].value;
        size_t n = h->headers[i].valuelen, pos = 0, elen;
        const char *e;
        int any = 0;
        while(dill__http_list_next(v, n, &pos, &e, &elen)) {
            for(size_t k = 0; k < elen; k++)
                if(e[k] != '0') return -1;
            any = 1;
        }
        if(!any) return -1;
    }
    return 0;
}

static void dill__ws_server_req_init(const struct dill__http_head *h,
      struct dill__ws_server_req *r) {
    r->fail = DILL__WS_FAIL_NONE;
    r->head = h;
    r->resource.p = h->target;
    r->resource.len = h->targetlen;
    r->host.p = r->key.p = r->origin.p = NULL;
    r->host.len = r->key.len = r->origin.len = 0;
    r->nprotocols = 0;
}

int dill__ws_check_request(const struct dill__http_head *h,
      struct dill__ws_server_req *r) {
    int i;
    dill__ws_server_req_init(h, r);
    /* Methods are case-sensitive (RFC 9110, section 9.1). */
    if(h->methodlen != 3 || memcmp(h->method, "GET", 3) != 0)
        return dill__ws_server_fail(r, DILL__WS_FAIL_METHOD, 405);
    if(h->minor < 1)
        return dill__ws_server_fail(r, DILL__WS_FAIL_HTTPVER, 400);
    if(!dill__ws_target_ok(h->target, h->targetlen))
        return dill__ws_server_fail(r, DILL__WS_FAIL_TARGET, 400);
    if(dill__ws_single(h, "Host", &i) != 1)
        return dill__ws_server_fail(r, DILL__WS_FAIL_HOST, 400);
    r->host.p = h->headers[i].value;
    r->host.len = h->headers[i].valuelen;
    if(!dill__ws_any_token(h, "Upgrade", "websocket"))
        return dill__ws_server_fail(r, DILL__WS_FAIL_UPGRADE, 400);
    if(!dill__ws_any_token(h, "Connection", "upgrade"))
        return dill__ws_server_fail(r, DILL__WS_FAIL_CONNECTION, 400);
    if(dill__ws_nobody(h) < 0)
        return dill__ws_server_fail(r, DILL__WS_FAIL_FRAMING, 400);
    if(dill__ws_single(h, "Sec-WebSocket-Key", &i) != 1 ||
          !dill__ws_key_valid(h->headers[i].value, h->headers[i].valuelen))
        return dill__ws_server_fail(r, DILL__WS_FAIL_KEY, 400);
    r->key.p = h->headers[i].value;
    r->key.len = h->headers[i].valuelen;
    if(dill__ws_single(h, "Sec-WebSocket-Version", &i) != 1 ||
          !dill__http_ieq(h->headers[i].value, h->headers[i].valuelen, "13"))
        return dill__ws_server_fail(r, DILL__WS_FAIL_VERSION, 426);
    if(dill__ws_offered(h, r) < 0)
        return dill__ws_server_fail(r, DILL__WS_FAIL_PROTOCOLS, 400);
    i = dill__http_find(h, "Origin", 0);
    if(i >= 0) {
        r->origin.p = h->headers[i].value;
        r->origin.len = h->headers[i].valuelen;
    }
    return 0;
}

int dill__ws_choose_protocol(const struct dill__ws_server_req *r,
      const char *const *accepted, size_t naccepted) {
    for(size_t i = 0; i < naccepted; i++) {
        size_t n = strlen(accepted[i]);
        for(int j = 0; j < r->nprotocols; j++) {
            if(r->protocols[j].len == n &&
                  memcmp(r->protocols[j].p, accepted[i], n) == 0)
                return (int)i;
        }
    }
    return -1;
}

static const char *const dill__ws_response_reserved[] = {
    "Upgrade", "Connection", "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", NULL
};

ssize_t dill__ws_build_response(char *buf, size_t len,
      const struct dill__ws_server_req *r, const char *protocol,
      const char *extensions, const char *extra) {
    size_t extralen;
    if(!r || !r->key.p) return -EINVAL;
    if(protocol && !dill__http_is_token(protocol, strlen(protocol)))
        return -EINVAL;
    if(extensions && (!*extensions ||
          !dill__http_is_value(extensions, strlen(extensions))))
        return -EINVAL;
    if(dill__ws_extra_check(extra, dill__ws_response_reserved, &extralen))
        return -EINVAL;
    char accept[DILL__WS_ACCEPT_LEN + 1];
    dill__ws_accept_key(r->key.p, r->key.len, accept);
    struct dill__wsb b = {buf, len, 0, 0};
    dill__wsb_puts(&b, "HTTP/1.1 101 Switching Protocols\r\n");
    dill__wsb_header(&b, "Upgrade", "websocket");
    dill__wsb_header(&b, "Connection", "Upgrade");
    dill__wsb_header(&b, "Sec-WebSocket-Accept", accept);
    if(protocol) dill__wsb_header(&b, "Sec-WebSocket-Protocol", protocol);
    if(extensions)
        dill__wsb_header(&b, "Sec-WebSocket-Extensions", extensions);
    dill__wsb_extra(&b, extra, extralen);
    dill__wsb_put(&b, "\r\n", 2);
    return dill__wsb_finish(&b);
}

static const char *dill__ws_reason(int status) {
    switch(status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    }
    return status < 300 ? "Success" : status < 400 ? "Redirection" :
        status < 500 ? "Client Error" : "Server Error";
}

static const char *const dill__ws_error_reserved[] = {
    "Connection", "Content-Length", "Transfer-Encoding", NULL
};

ssize_t dill__ws_build_error(char *buf, size_t len, int status,
      const char *body, const char *extra) {
    size_t extralen;
    char line[64];
    if(status < 400 || status > 599) return -EINVAL;
    if(dill__ws_extra_check(extra, dill__ws_error_reserved, &extralen))
        return -EINVAL;
    size_t bodylen = body ? strlen(body) : 0;
    struct dill__wsb b = {buf, len, 0, 0};
    snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
    dill__wsb_puts(&b, line);
    dill__wsb_puts(&b, dill__ws_reason(status));
    dill__wsb_put(&b, "\r\n", 2);
    if(status == 405) dill__wsb_header(&b, "Allow", "GET");
    if(status == 426) {
        dill__wsb_header(&b, "Upgrade", "websocket");
        dill__wsb_header(&b, "Sec-WebSocket-Version", "13");
        dill__wsb_header(&b, "Connection", "Upgrade, close");
    } else {
        dill__wsb_header(&b, "Connection", "close");
    }
    if(bodylen > 0)
        dill__wsb_header(&b, "Content-Type", "text/plain; charset=utf-8");
    snprintf(line, sizeof(line), "%zu", bodylen);
    dill__wsb_header(&b, "Content-Length", line);
    dill__wsb_extra(&b, extra, extralen);
    dill__wsb_put(&b, "\r\n", 2);
    if(bodylen > 0) dill__wsb_put(&b, body, bodylen);
    return dill__wsb_finish(&b);
}

/******************************************************************************/
/*  libdill 2.14 compatibility                                                */
/******************************************************************************/

DILL_EXPORT int dill_ws_request_key(char *request_key) {
    if(!request_key) {
        errno = EINVAL;
        return -1;
    }
    dill__ws_make_key(request_key);
    return 0;
}

DILL_EXPORT int dill_ws_response_key(const char *request_key,
      char *response_key) {
    if(!request_key || !response_key) {
        errno = EINVAL;
        return -1;
    }
    size_t n = strnlen(request_key, DILL_WS_KEY_SIZE);
    if(!dill__ws_key_valid(request_key, n)) {
        errno = EPROTO;
        return -1;
    }
    dill__ws_accept_key(request_key, n, response_key);
    return 0;
}

int dill__ws_is_upgrade(const struct dill__http_head *h) {
    return dill__ws_any_token(h, "Upgrade", "websocket");
}

ssize_t dill__ws_build_plain(char *buf, size_t len, int status,
      const char *ctype, size_t bodylen, const char *extra) {
    size_t extralen;
    char line[64];
    if(status < 200 || status > 599) return -EINVAL;
    if(ctype && strpbrk(ctype, "\r\n")) return -EINVAL;
    if(dill__ws_extra_check(extra, dill__ws_error_reserved, &extralen))
        return -EINVAL;
    struct dill__wsb b = {buf, len, 0, 0};
    snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
    dill__wsb_puts(&b, line);
    dill__wsb_puts(&b, dill__ws_reason(status));
    dill__wsb_put(&b, "\r\n", 2);
    dill__wsb_header(&b, "Connection", "close");
    if(ctype) dill__wsb_header(&b, "Content-Type", ctype);
    snprintf(line, sizeof(line), "%zu", bodylen);
    dill__wsb_header(&b, "Content-Length", line);
    dill__wsb_extra(&b, extra, extralen);
    dill__wsb_put(&b, "\r\n", 2);
    return dill__wsb_finish(&b);
}
