/* The hub's use of Redis, the pure parts (no I/O, no hiredis): redis://
   URLs and the envelope that tags each message a hub publishes with its
   type and the publishing hub's id. */

#ifndef DILL_PROTO_REDISPROTO_H
#define DILL_PROTO_REDISPROTO_H

#include <stddef.h>
#include <stdint.h>

#define DILL__REDIS_MAXHOST 256
#define DILL__REDIS_MAXCRED 256

struct dill__redis_url {
    int tls;                       /* rediss:// */
    int port;                      /* 6379 unless given */
    char host[DILL__REDIS_MAXHOST];
    char user[DILL__REDIS_MAXCRED];     /* "" when none */
    char pass[DILL__REDIS_MAXCRED];     /* "" when none */
    int haspass;
};

/* Parses "redis://[[user]:password@]host[:port][/[db]]" (or rediss://);
   user and password are percent-decoded.  The database number is
   accepted and ignored (Redis channels do not belong to databases).
   Returns 0, -EINVAL (another scheme, bad port, bad escape, control
   characters, empty host, a query or fragment) or -EMSGSIZE (a part too
   long). */
int dill__redis_url_parse(const char *url, struct dill__redis_url *u);

/* Envelope: 0xff 'd' flags node[8], put before the payload.  0xff never
   starts UTF-8 text, so messages that other programs publish to the same
   channels (without envelope) are told apart. */
#define DILL__REDIS_ENV 11
#define DILL__REDIS_ENV_TEXT 1

void dill__redis_env_put(uint8_t *p, int flags, uint64_t node);

/* When p[0..n) begins with an envelope: sets *flags and *node and returns
   its length; otherwise returns 0 (a foreign message). */
size_t dill__redis_env_get(const uint8_t *p, size_t n, int *flags,
    uint64_t *node);

#endif
