/* libFuzzer target: the ws/wss URL parser must never crash, and whatever
   it accepts must be consistent. */

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if(!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct dill__url u;
    if(dill__url_parse(s, &u) == 0) {
        assert(u.port >= 1 && u.port <= 65535);
        assert(u.host[0] != 0);
        assert(u.resource[0] == '/');
        assert(strlen(u.hosthdr) >= strlen(u.host));
    }
    free(s);
    return 0;
}
