/* libFuzzer target: what the hub's Redis backend reads from its peer and
   its configuration: redis:// URLs, RESP replies through the backend's
   hiredis reader (which must refuse huge arrays, not allocate them) and
   the envelope of messages. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/hubredis.h"
#include "proto/redisproto.h"

#if DILL_HAVE_HIREDIS
#include <hiredis/hiredis.h>

static void check_message(const redisReply *r) {
    if(r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
    const redisReply *m = r->element[2];
    if(m->type != REDIS_REPLY_STRING) return;
    int flags;
    uint64_t node;
    size_t hl = dill__redis_env_get((const uint8_t*)m->str, m->len, &flags,
        &node);
    /* abort, not assert: the fuzz build defines NDEBUG. */
    if(hl != 0 && (hl != DILL__REDIS_ENV || hl > m->len ||
       (flags & ~DILL__REDIS_ENV_TEXT) != 0))
        abort();
}

static void replies(const uint8_t *data, size_t size) {
    redisReader *rd = dill__hubr_reader();
    if(!rd) return;
    /* Fed in pieces, as a socket delivers them. */
    size_t step = size % 7 + 1;
    for(size_t i = 0; i < size; i += step) {
        size_t n = size - i < step ? size - i : step;
        if(redisReaderFeed(rd, (const char*)data + i, n) != REDIS_OK) break;
        void *rep;
        int rc;
        while((rc = redisReaderGetReply(rd, &rep)) == REDIS_OK && rep) {
            check_message(rep);
            freeReplyObject(rep);
        }
        if(rc != REDIS_OK) break;
    }
    redisReaderFree(rd);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if(size == 0) return 0;
    if(data[0] & 1) {
        char *s = malloc(size);
        if(!s) return 0;
        memcpy(s, data + 1, size - 1);
        s[size - 1] = 0;
        struct dill__redis_url u;
        if(dill__redis_url_parse(s, &u) == 0 && (u.port < 1 ||
           u.port > 65535 || !u.host[0] || (!u.haspass && u.user[0])))
            abort();
        free(s);
        return 0;
    }
#if DILL_HAVE_HIREDIS
    replies(data + 1, size - 1);
#endif
    return 0;
}
