/* libFuzzer target: the PREFIX size field and the SUFFIX delimiter
   matcher.  The first byte picks a delimiter length (1..32) and a header
   size (1..8); the delimiter is the next bytes, the rest is peer input.
   Checks: the matcher splits the input exactly where a naive search for
   the first occurrence of the delimiter does, every byte is either content
   or part of a delimiter, and the size field round-trips. */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "proto/prefix.h"
#include "proto/suffix.h"

#define CHECK(x) do {if(!(x)) __builtin_trap();} while(0)

/* Index just past the first occurrence of sfx in in[from..n), or 0. */
static size_t naive(const uint8_t *in, size_t from, size_t n,
      const uint8_t *sfx, size_t len) {
    for(size_t i = from; i + len <= n; i++)
        if(memcmp(in + i, sfx, len) == 0) return i + len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if(size < 2) return 0;
    size_t len = data[0] % DILL__SUFFIX_MAX + 1;
    size_t hl = (data[0] >> 5) % 8 + 1;
    data++;
    size--;
    if(size < len) return 0;
    const uint8_t *sfx = data;
    const uint8_t *in = data + len;
    size_t n = size - len;
    uint8_t fail[DILL__SUFFIX_MAX];
    dill__suffix_table(sfx, len, fail);
    size_t k = 0, content = 0, start = 0;
    for(size_t i = 0; i != n; i++) {
        size_t k0 = k;
        size_t e = dill__suffix_step(sfx, fail, &k, in[i]);
        CHECK(e <= k0 + 1 && k <= len);
        content += e;
        if(k == len) {
            /* A message ends here, exactly where the naive search says. */
            CHECK(naive(in, start, n, sfx, len) == i + 1);
            CHECK(content == i + 1 - len - start);
            start = i + 1;
            content = 0;
            k = 0;
        }
    }
    CHECK(naive(in, start, n, sfx, len) == 0);
    CHECK(content + k == n - start);
    /* The size field: whatever the peer sends decodes to a size that
       encodes back to the same bytes. */
    if(n >= hl) {
        for(int little = 0; little != 2; little++) {
            uint64_t v = dill__prefix_decode(in, hl, little);
            uint8_t out[8];
            CHECK(dill__prefix_encode(out, hl, little, v) == 0);
            CHECK(memcmp(out, in, hl) == 0);
            if(hl < 8) CHECK(dill__prefix_encode(out, hl, little,
                (uint64_t)1 << (8 * hl)) == -EMSGSIZE);
        }
    }
    return 0;
}
