/* The hub's Redis backend (src/proto/hubredis.c) and what it uses of the
   hub (src/proto/hub.c). */

#ifndef DILL_PROTO_HUBREDIS_H
#define DILL_PROTO_HUBREDIS_H

#include <stddef.h>
#include <stdint.h>

struct dill_hub;
struct dill_hub_options;
struct dill_hub_stats;
struct dill__hubr;

/* Starts the Redis thread of hub h for the options' redis URL.  Returns
   NULL with EINVAL (bad URL or TLS options), ENOTSUP (no hiredis, or
   rediss:// without TLS, in this build), ENOMEM or EAGAIN. */
struct dill__hubr *dill__hubr_start(struct dill_hub *h,
    const struct dill_hub_options *o);
/* Stops the thread (it closes its connections) and frees r. */
void dill__hubr_stop(struct dill__hubr *r);
/* Queues a message published here for Redis; never blocks.  Failures are
   counted, not reported: local delivery does not depend on Redis. */
void dill__hubr_publish(struct dill__hubr *r, const char *topic, int flags,
    const void *buf, size_t len);
/* The set of topics with local subscribers changed (called under the hub's
   lock; only wakes the thread). */
void dill__hubr_topics(struct dill__hubr *r);
/* Adds the Redis counters to *st. */
void dill__hubr_stats(struct dill__hubr *r, struct dill_hub_stats *st);

/* A hiredis reader (redisReader *) that refuses arrays of more than a few
   elements, or NULL (ENOMEM, or no hiredis).  Free with redisReaderFree. */
void *dill__hubr_reader(void);

/* Delivers a message to this hub's subscribers only (hub_publish without
   Redis).  Returns 0 or -1 as hub_publish. */
int dill__hub_local(struct dill_hub *h, const char *topic, int flags,
    const void *buf, size_t len, int64_t deadline);
/* Names of the topics with subscribers now, as one malloc'd block: an
   array of *n pointers to the strings that follow it.  NULL with *n 0 when
   there are none or on ENOMEM (then *n is (size_t)-1). */
char **dill__hub_topic_names(struct dill_hub *h, size_t *n);

#endif
