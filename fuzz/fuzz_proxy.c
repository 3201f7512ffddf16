/* libFuzzer target: proxy URLs and the CONNECT exchange
   (src/proto/proxy.h).  The input is split at its first NUL: a proxy URL,
   then a response head as a proxy would send it.  Checks, besides crashes
   and sanitizer reports: a parsed URL has a usable host, port and
   credentials within their limits; the CONNECT request built from it is
   one well-formed request head (no header injection, whatever the
   credentials) that parses back to CONNECT with the right target; and
   every parsed response gets a defined verdict. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/httpparse.h"
#include "proto/proxy.h"

#define CHECK(x) do {if(!(x)) __builtin_trap();} while(0)

static struct dill__http_head head;

static void check_url(const char *url) {
    struct dill__proxy p;
    if(dill__proxy_parse(url, &p) < 0) return;
    CHECK(p.kind >= DILL__PROXY_HTTP && p.kind <= DILL__PROXY_SOCKS5H);
    CHECK(p.port >= 1 && p.port <= 65535);
    CHECK(p.host[0] && strlen(p.host) < sizeof(p.host));
    CHECK(strlen(p.user) <= DILL__PROXY_MAXCRED);
    CHECK(strlen(p.pass) <= DILL__PROXY_MAXCRED);
    char req[2048];
    ssize_t n = dill__proxy_connect_request(req, sizeof(req), "example.test",
        0, 443, &p);
    CHECK(n > 0);
    CHECK(dill__http_parse_request(req, (size_t)n, &head) == (int)n);
    CHECK(dill__http_ieq(head.method, head.methodlen, "CONNECT"));
    CHECK(head.targetlen == 16 &&
        memcmp(head.target, "example.test:443", 16) == 0);
    CHECK(head.nheaders == (p.auth ? 2 : 1));
}

static void check_response(const char *buf, size_t len) {
    if(dill__http_parse_response(buf, len, &head) <= 0) return;
    int v = dill__proxy_status(&head);
    CHECK(v == 0 || v == 1 || v == EACCES || v == ETIMEDOUT ||
        v == ECONNREFUSED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t ul = nul ? (size_t)(nul - data) : size;
    char *url = malloc(ul + 1);
    if(!url) return 0;
    memcpy(url, data, ul);
    url[ul] = 0;
    check_url(url);
    free(url);
    if(nul) {
        size_t rl = size - ul - 1;
        /* An exact-size copy: any read past the end is reported. */
        char *resp = malloc(rl ? rl : 1);
        if(!resp) return 0;
        memcpy(resp, nul + 1, rl);
        check_response(resp, rl);
        free(resp);
    }
    return 0;
}
