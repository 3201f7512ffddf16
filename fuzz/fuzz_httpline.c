/* libFuzzer target: the line parsers of the libdill-compatible HTTP layer
   (src/proto/http.h).  The input is one line.  Besides crashes and
   sanitizer reports it checks that parsed strings lie inside the line,
   that they pass the syntax checks the senders apply, and that what the
   senders would write for the parsed parts parses back to the same
   parts. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"
#include "proto/httpparse.h"

#define CHECK(x) do {if(!(x)) __builtin_trap();} while(0)

static int inside(const char *p, size_t n, const char *line, size_t len) {
    return p >= line && p + n <= line + len;
}

static void check_request(const char *line, size_t len) {
    const char *m, *t;
    size_t ml, tl;
    if(dill__http_reqline(line, len, &m, &ml, &t, &tl) < 0) return;
    CHECK(inside(m, ml, line, len) && inside(t, tl, line, len));
    CHECK(dill__http_is_token(m, ml) && dill__http_is_target(t, tl));
    /* What http_sendrequest writes for these parts. */
    char *out = malloc(ml + tl + 10);
    CHECK(out);
    memcpy(out, m, ml);
    out[ml] = ' ';
    memcpy(out + ml + 1, t, tl);
    memcpy(out + ml + 1 + tl, " HTTP/1.1", 9);
    size_t olen = ml + tl + 10;
    CHECK(olen == len && memcmp(out, line, len) == 0);
    free(out);
}

static void check_status(const char *line, size_t len) {
    int st;
    const char *r;
    size_t rl;
    if(dill__http_statusline(line, len, &st, &r, &rl) < 0) return;
    CHECK(st >= 100 && st <= 599);
    CHECK(inside(r, rl, line, len) && dill__http_is_value(r, rl));
    char head[16];
    snprintf(head, sizeof(head), "HTTP/1.1 %03d", st);
    CHECK(memcmp(line, head, 12) == 0);
}

static void check_field(const char *line, size_t len) {
    const char *n, *v;
    size_t nl, vl;
    if(dill__http_fieldline(line, len, &n, &nl, &v, &vl) < 0) return;
    CHECK(inside(n, nl, line, len) && inside(v, vl, line, len));
    CHECK(dill__http_is_token(n, nl) && dill__http_is_value(v, vl));
    size_t tl = vl;
    CHECK(dill__http_trim(v, &tl) == v && tl == vl);
    /* What http_sendfield writes parses back to the same parts. */
    size_t olen = nl + 2 + vl;
    char *out = malloc(olen);
    CHECK(out);
    memcpy(out, n, nl);
    memcpy(out + nl, ": ", 2);
    memcpy(out + nl + 2, v, vl);
    const char *n2, *v2;
    size_t nl2, vl2;
    CHECK(dill__http_fieldline(out, olen, &n2, &nl2, &v2, &vl2) == 0);
    CHECK(nl2 == nl && memcmp(n2, n, nl) == 0);
    CHECK(vl2 == vl && memcmp(v2, v, vl) == 0);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if(size > DILL__HTTP_LINE_MAX) return 0;
    /* An exact-size copy: any read past the end is reported. */
    char *line = malloc(size ? size : 1);
    if(!line) return 0;
    memcpy(line, data, size);
    check_request(line, size);
    check_status(line, size);
    check_field(line, size);
    free(line);
    return 0;
}
