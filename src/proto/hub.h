/* Internals of the publish/subscribe hub (src/proto/hub.c) for tests. */

#ifndef DILL_PROTO_HUB_H
#define DILL_PROTO_HUB_H

#include <stddef.h>

/* Bytes of frames queued for subscriber handle sub, or (size_t)-1 when it
   is not one. */
size_t dill__hub_queued(int sub);
/* Compressed copies of messages the hubs of the process have made. */
size_t dill__hub_compressions(void);

#endif
