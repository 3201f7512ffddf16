/* Coroutine stacks.

   Stacks are carved out of large mappings, DILL_STACKS_PER_CHUNK at a time.
   Each stack has a guard page below it.  Where the kernel supports guard
   markers (MADV_GUARD_INSTALL, Linux 6.13) the guard costs no memory
   mapping of its own, so a process can hold hundreds of thousands of
   coroutines within the default vm.max_map_count; elsewhere the guard page
   is mprotect()ed, which splits the mapping.  Freed stacks are cached per
   thread; past a threshold their memory is given back to the kernel (the
   address range and its guard stay). */

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define DILL_STACK_SIZE (256 * 1024)
#define DILL_STACKS_PER_CHUNK 64
/* Free stacks kept with their memory; the rest are returned to the OS. */
#define DILL_STACK_CACHE 64

struct dill__chunk {
    struct dill__chunk *next;
    void *base;
    size_t len;
};

static __thread void **dill__free __attribute__((tls_model("initial-exec")));
static __thread size_t dill__nfree __attribute__((tls_model("initial-exec")));
static __thread size_t dill__capfree
    __attribute__((tls_model("initial-exec")));
static __thread struct dill__chunk *dill__chunks
    __attribute__((tls_model("initial-exec")));
/* Stacks of the newest chunk not handed out yet. */
static __thread char *dill__fresh __attribute__((tls_model("initial-exec")));
static __thread size_t dill__nfresh __attribute__((tls_model("initial-exec")));

/* -1 unknown, 0 no, 1 yes: whether guard markers work here. */
static int dill__guard_markers = -1;

static size_t dill__page(void) {
    static size_t page;
    if(!page) page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

/* Size of one stack including its guard page. */
static size_t dill__slot(void) {
    return DILL_STACK_SIZE + dill__page();
}

static int dill__guard(char *p) {
    size_t pg = dill__page();
    if(dill__guard_markers != 0) {
        if(madvise(p, pg, MADV_GUARD_INSTALL) == 0) {
            dill__guard_markers = 1;
            return 0;
        }
        dill__guard_markers = 0;
    }
    return mprotect(p, pg, PROT_NONE);
}

static int dill__new_chunk(void) {
    struct dill__chunk *c = malloc(sizeof(*c));
    if(!c) return -1;
    size_t len = dill__slot() * DILL_STACKS_PER_CHUNK;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if(p == MAP_FAILED) {free(c); return -1;}
    c->base = p;
    c->len = len;
    c->next = dill__chunks;
    dill__chunks = c;
    dill__fresh = p;
    dill__nfresh = DILL_STACKS_PER_CHUNK;
    return 0;
}

void *dill__stack_alloc(size_t *size) {
    *size = DILL_STACK_SIZE;
    if(dill__nfree) return dill__free[--dill__nfree];
    if(!dill__nfresh && dill__new_chunk() < 0) return NULL;
    char *slot = dill__fresh;
    if(dill__guard(slot) < 0) return NULL;
    dill__fresh += dill__slot();
    dill__nfresh--;
    return slot + dill__page();
}

void dill__stack_free(void *stack, size_t size) {
    if(dill__slow(dill__nfree == dill__capfree)) {
        size_t cap = dill__capfree ? dill__capfree * 2 : 256;
        void **v = realloc(dill__free, cap * sizeof(void*));
        if(!v) {
            /* Cannot remember it: at least give its memory back. */
            madvise(stack, DILL_STACK_SIZE, MADV_DONTNEED);
            return;
        }
        dill__free = v;
        dill__capfree = cap;
    }
    /* Past the cache size the stack keeps its address range and guard but
       its pages go back to the kernel. */
    if(dill__nfree >= DILL_STACK_CACHE)
        madvise(stack, DILL_STACK_SIZE, MADV_DONTNEED);
    dill__free[dill__nfree++] = stack;
}

void dill__stacks_term(void) {
    while(dill__chunks) {
        struct dill__chunk *c = dill__chunks;
        dill__chunks = c->next;
        munmap(c->base, c->len);
        free(c);
    }
    free(dill__free);
    dill__free = NULL;
    dill__nfree = 0;
    dill__capfree = 0;
    dill__fresh = NULL;
    dill__nfresh = 0;
}
