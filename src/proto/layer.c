/* Attaching and detaching stacked protocols (see layer.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/layer.h"

void *dill__layer_new(int s, const void *below, void *mem, size_t size) {
    if(!dill_hquery(s, below)) {
        if(errno == EBADF) return NULL;
        dill_hclose(s);
        errno = EPROTO;
        return NULL;
    }
    void *p = mem ? mem : malloc(size);
    if(!p) {
        dill_hclose(s);
        errno = ENOMEM;
        return NULL;
    }
    memset(p, 0, size);
    ((struct dill__layer*)p)->mem = mem != NULL;
    return p;
}

int dill__layer_fail(int s, int err) {
    dill_hclose(s);
    errno = err;
    return -1;
}

int dill__layer_make(struct dill__layer *l, int s) {
    if(!l->hvfs.close) l->hvfs.close = dill__layer_close;
    int err;
    /* hown closes s when it fails. */
    l->u = dill_hown(s);
    if(l->u < 0) {err = errno; goto fail;}
    int h = dill_hmake(&l->hvfs);
    if(h < 0) {err = errno; dill_hclose(l->u); goto fail;}
    return h;
fail:
    if(!l->mem) free(l);
    errno = err;
    return -1;
}

static void dill__layer_release(struct dill__layer *l) {
    if(l->u >= 0) dill_hclose(l->u);
    l->u = -1;
}

static void dill__layer_free(struct dill__layer *l) {
    if(!l->mem) free(l);
}

void dill__layer_close(struct dill_hvfs *hvfs) {
    struct dill__layer *l = (struct dill__layer*)hvfs;
    dill__layer_release(l);
    dill__layer_free(l);
}

static void dill__player_free(struct dill__pin *p) {
    dill__layer_free(&dill__cont(p, struct dill__player, pin)->l);
}

/* The socket below goes first: closing it wakes whoever sleeps in the
   layers below on this layer's behalf. */
void dill__player_close(struct dill_hvfs *hvfs) {
    struct dill__player *self = (struct dill__player*)hvfs;
    dill__layer_release(&self->l);
    dill__pin_close(&self->pin, dill__player_free);
}

int dill__layer_detach(int s, const void *type, int err) {
    struct dill__layer *l = dill__layer_get(s, type);
    if(!l) return -1;
    if(!err && (l->inerr || l->outerr)) err = ECONNRESET;
    if(err) {
        dill_hclose(s);
        errno = err;
        return -1;
    }
    int u = l->u;
    l->u = -1;
    dill_hclose(s);
    return u;
}
