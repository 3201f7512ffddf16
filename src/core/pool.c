/* Per-thread caches of fixed-size buffers (see core.h).  Sockets take a
   buffer while bytes are in flight and give it back as soon as they go
   idle, so that idle connections hold no memory; in request/response
   traffic that happens on every message, and the cache makes it a pointer
   pop instead of a malloc/free pair of 8-64 KiB blocks. */

#include <pthread.h>
#include <stdlib.h>

#include "core.h"

/* Up to DEPTH buffers and BYTES per kind and thread (so at most 4.5 MiB
   per thread with today's sizes).  A shallow cache is not enough: with
   io_uring, a batch of completions for 100-1,000 connections puts that many
   sends in flight at once, each holding a write buffer until the kernel is
   done with it; with 8 cached the rest went back to malloc, whose heap top
   was trimmed and grown again, and the page faults of regrowing it cost
   more CPU than everything else of ours per message (bench/RESULTS.md,
   "Hot path"). */
#define DILL__POOL_DEPTH 64
#define DILL__POOL_BYTES (1 << 20)

struct dill__pool {
    void *bufs[DILL__POOL_KINDS][DILL__POOL_DEPTH];
    int n[DILL__POOL_KINDS];
    int max[DILL__POOL_KINDS];     /* 0: no buffer of this kind made yet */
    int registered;
};

static __thread struct dill__pool dill__pool;
static pthread_key_t dill__pool_key;
static pthread_once_t dill__pool_once = PTHREAD_ONCE_INIT;

/* A thread that ends frees its cached buffers. */
static void dill__pool_term(void *arg) {
    struct dill__pool *p = arg;
    for(int k = 0; k != DILL__POOL_KINDS; k++)
        while(p->n[k]) free(p->bufs[k][--p->n[k]]);
}

static void dill__pool_key_make(void) {
    pthread_key_create(&dill__pool_key, dill__pool_term);
}

void *dill__pool_get(int kind, size_t size) {
    struct dill__pool *p = &dill__pool;
    if(dill__fast(p->n[kind] != 0)) return p->bufs[kind][--p->n[kind]];
    if(dill__slow(!p->max[kind])) {
        size_t m = DILL__POOL_BYTES / size;
        p->max[kind] = m < 1 ? 1 : m > DILL__POOL_DEPTH ? DILL__POOL_DEPTH :
            (int)m;
    }
    void *b = malloc(size);
    if(dill__slow(!b)) errno = ENOMEM;
    return b;
}

void dill__pool_put(int kind, void *buf) {
    if(!buf) return;
    struct dill__pool *p = &dill__pool;
    if(dill__slow(!p->registered)) {
        pthread_once(&dill__pool_once, dill__pool_key_make);
        pthread_setspecific(dill__pool_key, p);
        p->registered = 1;
    }
    /* Of a kind this thread never made (another thread's): its size is
       unknown here, keep few. */
    int max = p->max[kind] ? p->max[kind] : 8;
    if(p->n[kind] < max) p->bufs[kind][p->n[kind]++] = buf;
    else free(buf);
}
