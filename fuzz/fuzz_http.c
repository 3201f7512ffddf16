/* libFuzzer target: the HTTP head parsers, the WebSocket request validator
   and the response check.  Besides crashes and sanitizer reports it checks
   invariants: results never exceed the input, parsed strings lie inside
   the head, results are stable across prefixes, and whatever the validator
   accepts yields a response that the client side accepts. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/httpparse.h"
#include "proto/wshs.h"

#define CHECK(x) do {if(!(x)) __builtin_trap();} while(0)

static void check_head(const char *buf, int rc,
      const struct dill__http_head *h) {
    if(rc <= 0) return;
    const char *end = buf + rc;
    CHECK(h->nheaders >= 0 && h->nheaders <= DILL__HTTP_MAX_HEADERS);
    for(int i = 0; i < h->nheaders; i++) {
        const struct dill__http_header *f = &h->headers[i];
        CHECK(f->name >= buf && f->name + f->namelen <= end);
        CHECK(f->value >= buf && f->value + f->valuelen <= end);
        CHECK(dill__http_is_token(f->name, f->namelen));
        CHECK(dill__http_is_value(f->value, f->valuelen));
        size_t pos = 0, n;
        const char *e;
        while(dill__http_list_next(f->value, f->valuelen, &pos, &e, &n))
            CHECK(e >= f->value && e + n <= f->value + f->valuelen);
        dill__http_has_token(f->value, f->valuelen, "upgrade");
    }
}

/* A shorter prefix must agree with the full result. */
static void check_prefix(int (*parse)(const char *, size_t,
      struct dill__http_head *), const char *buf, size_t len, int rc) {
    struct dill__http_head h;
    size_t cut = len / 2;
    int r = parse(buf, cut, &h);
    if(rc > 0) CHECK(r == ((size_t)rc <= cut ? rc : 0));
    else if(rc < 0) CHECK(r == 0 || r == rc);
    else CHECK(r == 0);
}

static void server_side(const char *buf, size_t len) {
    struct dill__http_head h, rh;
    struct dill__ws_server_req r;
    char out[1024];
    int rc = dill__http_parse_request(buf, len, &h);
    CHECK(rc <= (int)len && rc <= DILL__HTTP_MAX_HEAD);
    check_head(buf, rc, &h);
    check_prefix(dill__http_parse_request, buf, len, rc);
    if(rc <= 0) return;
    int st = dill__ws_check_request(&h, &r);
    if(st != 0) {
        CHECK(st == 400 || st == 405 || st == 426);
        ssize_t n = dill__ws_build_error(out, sizeof(out), st, NULL, NULL);
        CHECK(n > 0);
        CHECK(dill__http_parse_response(out, (size_t)n, &rh) == n);
        CHECK(rh.status == st);
        return;
    }
    static const char *const accepted[] = {"chat", "superchat"};
    int pick = dill__ws_choose_protocol(&r, accepted, 2);
    const char *proto = pick >= 0 ? accepted[pick] : NULL;
    ssize_t n = dill__ws_build_response(out, sizeof(out), &r, proto, NULL,
        NULL);
    CHECK(n > 0);
    CHECK(dill__http_parse_response(out, (size_t)n, &rh) == n);
    char key[DILL__WS_KEY_LEN + 1];
    CHECK(r.key.len == DILL__WS_KEY_LEN);
    memcpy(key, r.key.p, DILL__WS_KEY_LEN);
    key[DILL__WS_KEY_LEN] = 0;
    struct dill__ws_client_opts o = {.resource = "/", .host = "h",
        .protocols = accepted, .nprotocols = 2};
    struct dill__ws_client_result cr;
    CHECK(dill__ws_check_response(&rh, &o, key, &cr) == 0);
    CHECK(cr.protocol == pick);
}

static void client_side(const char *buf, size_t len) {
    struct dill__http_head h;
    int rc = dill__http_parse_response(buf, len, &h);
    CHECK(rc <= (int)len && rc <= DILL__HTTP_MAX_HEAD);
    check_head(buf, rc, &h);
    check_prefix(dill__http_parse_response, buf, len, rc);
    if(rc <= 0) return;
    CHECK(h.status >= 100 && h.status <= 999);
    static const char *const offered[] = {"chat", "superchat"};
    struct dill__ws_client_opts o = {.resource = "/", .host = "h",
        .protocols = offered, .nprotocols = 2,
        .extensions = "permessage-deflate"};
    struct dill__ws_client_result cr;
    if(dill__ws_check_response(&h, &o, "dGhlIHNhbXBsZSBub25jZQ==",
          &cr) == 0) {
        CHECK(h.status == 101);
        CHECK(cr.protocol >= -1 && cr.protocol < 2);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size heap copy, so that any over-read is reported. */
    char *buf = malloc(size ? size : 1);
    if(!buf) return 0;
    memcpy(buf, data, size);
    server_side(buf, size);
    client_side(buf, size);
    free(buf);
    return 0;
}
