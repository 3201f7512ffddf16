/* One-call WebSocket clients: connect by URL (the listener is in
   wslisten.c). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "proxy.h"
#include "url.h"
#include "util/opts.h"

/******************************************************************************/
/*  Client                                                                    */
/******************************************************************************/

int dill_ws_connect(const char *url, const struct dill_ws_options *ws,
      const struct dill_tls_client_options *tlsopts, int64_t deadline) {
    struct dill__url *u = malloc(sizeof(struct dill__url));
    if(!u) {errno = ENOMEM; return -1;}
    int rc = dill__url_parse(url, u);
    if(rc < 0) {free(u); errno = -rc; return -1;}
    int err;
    int s;
    /* Only the proxy fields are needed here: attach loads the rest. */
    struct dill_ws_options o;
    if(dill__opts_load(&o, sizeof(o), ws) < 0) {err = EINVAL; goto error;}
    if(o.proxy)
        s = dill__proxy_dial(o.proxy, o.proxy_tls, u->host, u->ipv6, u->port,
            deadline);
    else
        s = dill_happyeyeballs_connect(u->host, u->port, deadline);
    if(s < 0) {err = errno; goto error;}
    if(u->secure) {
#if defined DILL_DISABLE_TLS
        dill_hclose(s);
        err = ENOTSUP;
        goto error;
#else
        struct dill_tls_client_options t;
        if(dill__opts_load(&t, sizeof(t), tlsopts) < 0) {
            dill_hclose(s);
            err = EINVAL;
            goto error;
        }
        /* Verify against the URL's host unless told otherwise. */
        if(!t.server_name) t.server_name = u->host;
        s = dill_tls_attach_client_opts(s, &t, NULL, deadline);
        if(s < 0) {err = errno; goto error;}
#endif
    }
    s = dill_ws_attach_client_opts(s, u->resource, u->hosthdr, ws, NULL,
        deadline);
    if(s < 0) {err = errno; goto error;}
    free(u);
    return s;
error:
    free(u);
    errno = err;
    return -1;
}
