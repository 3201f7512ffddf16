/* One-call WebSocket clients: connect by URL (the listener is in
   wslisten.c). */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "proxy.h"
#include "url.h"
#include "util/opts.h"

/******************************************************************************/
/*  Client                                                                    */
/******************************************************************************/

/* Where ws_connect reports the step that failed: the caller's response
   structure, when it has room for the field. */
static int *dill__ws_stepfield(const struct dill_ws_options *o) {
    struct dill_ws_response *r = o->response;
    if(!r || r->size < offsetof(struct dill_ws_response, step) + sizeof(int))
        return NULL;
    return &r->step;
}

/* Until the handshake fills it, the caller's response says "no response"
   (it may hold an earlier call's). */
static void dill__ws_clearresponse(const struct dill_ws_options *o) {
    struct dill_ws_response *r = o->response;
    if(!r || r->size <= sizeof(size_t)) return;
    size_t n = r->size < sizeof(*r) ? r->size : sizeof(*r);
    memset((char*)r + sizeof(size_t), 0, n - sizeof(size_t));
}

/* Resolves, connects (through the proxy if any) and runs TLS for wss.
   Returns the bytestream, or -1 with errno and *step. */
static int dill__ws_connect_stream(const struct dill__url *u,
      const struct dill_ws_options *o,
      const struct dill_tls_client_options *tlsopts, int *step,
      int64_t deadline) {
    int s;
    *step = o->proxy ? DILL_WS_STEP_PROXY : DILL_WS_STEP_CONNECT;
    if(o->proxy)
        s = dill__proxy_dial(o->proxy, o->proxy_tls, u->host, u->ipv6, u->port,
            deadline);
    else
        s = dill_happyeyeballs_connect(u->host, u->port, deadline);
    if(s < 0 || !u->secure) return s;
    *step = DILL_WS_STEP_TLS;
#if defined DILL_DISABLE_TLS
    (void)tlsopts;
    dill_hclose(s);
    errno = ENOTSUP;
    return -1;
#else
    struct dill_tls_client_options t;
    if(dill__opts_load(&t, sizeof(t), tlsopts) < 0) {
        dill_hclose(s);
        *step = DILL_WS_STEP_URL;
        errno = EINVAL;
        return -1;
    }
    /* Verify against the URL's host unless told otherwise. */
    if(!t.server_name) t.server_name = u->host;
    return dill_tls_attach_client_opts(s, &t, NULL, deadline);
#endif
}

int dill_ws_connect(const char *url, const struct dill_ws_options *ws,
      const struct dill_tls_client_options *tlsopts, int64_t deadline) {
    int err, step = DILL_WS_STEP_URL;
    /* Only the proxy and response fields are needed here: attach loads
       the rest. */
    struct dill_ws_options o;
    if(dill__opts_load(&o, sizeof(o), ws) < 0) {errno = EINVAL; return -1;}
    dill__ws_clearresponse(&o);
    int *stepfield = dill__ws_stepfield(&o);
    struct dill__url *u = malloc(sizeof(struct dill__url));
    if(!u) {err = ENOMEM; goto error;}
    int rc = dill__url_parse(url, u);
    if(rc < 0) {err = -rc; goto error;}
    int s = dill__ws_connect_stream(u, &o, tlsopts, &step, deadline);
    if(s < 0) {err = errno; goto error;}
    step = DILL_WS_STEP_HANDSHAKE;
    s = dill_ws_attach_client_opts(s, u->resource, u->hosthdr, ws, NULL,
        deadline);
    if(s < 0) {err = errno; goto error;}
    free(u);
    return s;
error:
    free(u);
    /* Set last: the handshake rewrites the whole response structure. */
    if(stepfield) *stepfield = step;
    errno = err;
    return -1;
}
