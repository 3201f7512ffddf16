/* redis:// URLs and the hub's message envelope (see redisproto.h). */

#include <errno.h>
#include <string.h>

#include "proto/redisproto.h"
#include "proto/url.h"

static int dill__hexval(char c) {
    if(c >= '0' && c <= '9') return c - '0';
    if(c >= 'a' && c <= 'f') return c - 'a' + 10;
    if(c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes a[0..n) into out (cap bytes with the NUL). */
static int dill__redis_decode(const char *a, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for(size_t i = 0; i != n; i++) {
        int c = (unsigned char)a[i];
        if(c == '%') {
            if(n - i < 3) return -EINVAL;
            int h = dill__hexval(a[i + 1]), l = dill__hexval(a[i + 2]);
            if(h < 0 || l < 0 || (h == 0 && l == 0)) return -EINVAL;
            c = h * 16 + l;
            i += 2;
        }
        if(o + 1 >= cap) return -EMSGSIZE;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return 0;
}

static int dill__redis_creds(const char *a, size_t n,
      struct dill__redis_url *u) {
    const char *colon = memchr(a, ':', n);
    size_t ul = colon ? (size_t)(colon - a) : n;
    int rc = dill__redis_decode(a, ul, u->user, sizeof(u->user));
    if(rc < 0) return rc;
    if(!colon) {
        /* "redis://secret@host" is the password, as most clients read it. */
        memcpy(u->pass, u->user, sizeof(u->pass));
        u->user[0] = 0;
        u->haspass = 1;
        return 0;
    }
    u->haspass = 1;
    return dill__redis_decode(colon + 1, n - ul - 1, u->pass, sizeof(u->pass));
}

int dill__redis_url_parse(const char *url, struct dill__redis_url *u) {
    memset(u, 0, sizeof(*u));
    if(!url) return -EINVAL;
    const char *p;
    if(strncmp(url, "redis://", 8) == 0) p = url + 8;
    else if(strncmp(url, "rediss://", 9) == 0) {p = url + 9; u->tls = 1;}
    else return -EINVAL;
    for(const char *c = p; *c; c++)
        if((unsigned char)*c <= ' ' || *c == 0x7f || *c == '?' || *c == '#')
            return -EINVAL;
    const char *end = p + strcspn(p, "/");
    for(const char *c = end; *c; c++) {
        /* Only a database number may follow. */
        if(c != end && (*c < '0' || *c > '9')) return -EINVAL;
    }
    const char *at = NULL;
    for(const char *c = p; c != end; c++) if(*c == '@') at = c;
    if(at) {
        int rc = dill__redis_creds(p, (size_t)(at - p), u);
        if(rc < 0) return rc;
        p = at + 1;
    }
    if(p == end) return -EINVAL;
    struct dill__url h;
    memset(&h, 0, sizeof(h));
    h.port = 6379;
    int rc = dill__url_authority(p, (size_t)(end - p), &h);
    if(rc < 0) return rc;
    if(!h.host[0] || h.port <= 0) return -EINVAL;
    memcpy(u->host, h.host, sizeof(u->host));
    u->port = h.port;
    return 0;
}

void dill__redis_env_put(uint8_t *p, int flags, uint64_t node) {
    p[0] = 0xff;
    p[1] = 'd';
    p[2] = (uint8_t)flags;
    for(int i = 0; i != 8; i++) p[3 + i] = (uint8_t)(node >> (8 * i));
}

size_t dill__redis_env_get(const uint8_t *p, size_t n, int *flags,
      uint64_t *node) {
    if(n < DILL__REDIS_ENV || p[0] != 0xff || p[1] != 'd' ||
       (p[2] & ~DILL__REDIS_ENV_TEXT))
        return 0;
    uint64_t v = 0;
    for(int i = 0; i != 8; i++) v |= (uint64_t)p[3 + i] << (8 * i);
    *flags = p[2];
    *node = v;
    return DILL__REDIS_ENV;
}
