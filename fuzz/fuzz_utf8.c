/* libFuzzer target: the UTF-8 validator fed incrementally (at split points
   chosen by the input), byte by byte and in one shot must agree with each
   other and with the independent reference in tests/utf8ref.h, including
   the position of the first failing byte.

   Input: byte 0 seeds the split points, the rest is the text. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "../tests/utf8ref.h"

#define CHECK(x) \
    do {\
        if(!(x)) {\
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,\
                #x);\
            abort();\
        }\
    } while(0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if(size < 1) return 0;
    uint32_t seed = data[0] * 2654435761u + 1;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    /* Copy to a buffer of exactly n bytes so ASan sees overreads. */
    uint8_t *buf = malloc(n ? n : 1);
    CHECK(buf);
    if(n) memcpy(buf, p, n);
    size_t rfail = 0;
    int ref = ref_utf8(buf, n, &rfail);
    /* One shot. */
    CHECK(dill__utf8_valid(buf, n) == (ref == 1));
    struct dill__utf8 u;
    dill__utf8_init(&u);
    int r = dill__utf8_feed(&u, buf, n);
    CHECK(r == (ref < 0 ? -1 : 0));
    CHECK(dill__utf8_complete(&u) == (ref == 1));
    CHECK(dill__utf8_failed(&u) == (ref < 0));
    /* Byte by byte: the first -1 is at the reference's failing byte. */
    dill__utf8_init(&u);
    for(size_t i = 0; i != n; i++) {
        r = dill__utf8_feed(&u, buf + i, 1);
        if(ref < 0 && i >= rfail) CHECK(r == -1);
        else CHECK(r == 0);
    }
    /* Split points. */
    dill__utf8_init(&u);
    size_t pos = 0;
    int res = 0;
    while(pos < n) {
        seed = seed * 1103515245u + 12345u;
        size_t k = (seed >> 16) % ((seed & 1) ? 5 : 70);
        if(k > n - pos) k = n - pos;
        r = dill__utf8_feed(&u, buf + pos, k);
        if(ref < 0 && pos + k > rfail) CHECK(r == -1);
        else CHECK(r == 0);
        if(r < 0) res = -1;
        pos += k;
    }
    CHECK(res == (ref < 0 ? -1 : 0));
    CHECK(dill__utf8_complete(&u) == (ref == 1));
    /* The valid prefix before the failing byte is accepted whole. */
    if(ref < 0) {
        CHECK(rfail < n);
        size_t f2;
        CHECK(ref_utf8(buf, rfail, &f2) >= 0);
        dill__utf8_init(&u);
        CHECK(dill__utf8_feed(&u, buf, rfail) == 0);
        CHECK(dill__utf8_feed(&u, buf + rfail, 1) == -1);
    }
    free(buf);
    return 0;
}
