/* Coroutine stacks.

   Stacks are carved out of large mappings, DILL_STACKS_PER_CHUNK at a time.
   Each stack has a guard page below it.  Where the kernel supports guard
   markers (MADV_GUARD_INSTALL, Linux 6.13) the guard costs no memory
   mapping of its own, so a process can hold hundreds of thousands of
   coroutines within the default vm.max_map_count; elsewhere the guard page
   is mprotect()ed, which splits the mapping.  Freed stacks are cached per
   thread; past a threshold their memory is given back to the kernel in
   batches (the address range and its guard stay). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* 256 KiB where address space is plentiful; 128 KiB on 32-bit targets,
   where 100,000 stacks of 256 KiB would need 25 GiB of a 4 GiB space
   (and the library's own frames are smaller, pointers being half size). */
#if UINTPTR_MAX > 0xFFFFFFFFu
#define DILL_STACK_SIZE (256 * 1024)
#else
#define DILL_STACK_SIZE (128 * 1024)
#endif
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
/* Free stacks whose memory was returned to the kernel. */
static __thread void **dill__cold __attribute__((tls_model("initial-exec")));
static __thread size_t dill__ncold __attribute__((tls_model("initial-exec")));
static __thread size_t dill__capcold
    __attribute__((tls_model("initial-exec")));
static __thread struct dill__chunk *dill__chunks
    __attribute__((tls_model("initial-exec")));
/* Stacks of the newest chunk not handed out yet. */
static __thread char *dill__fresh __attribute__((tls_model("initial-exec")));
static __thread size_t dill__nfresh __attribute__((tls_model("initial-exec")));

/* -1 unknown, 0 no, 1 yes: whether guard markers work here.  Threads may
   find out at the same time (they find the same): relaxed atomics. */
static int dill__guard_markers = -1;

static size_t dill__page(void) {
    static size_t page;
    size_t pg = __atomic_load_n(&page, __ATOMIC_RELAXED);
    if(dill__slow(!pg)) {
        pg = (size_t)sysconf(_SC_PAGESIZE);
        __atomic_store_n(&page, pg, __ATOMIC_RELAXED);
    }
    return pg;
}

/* Size of one stack including its guard page. */
static size_t dill__slot(void) {
    return DILL_STACK_SIZE + dill__page();
}

static int dill__guard(char *p) {
    size_t pg = dill__page();
    if(__atomic_load_n(&dill__guard_markers, __ATOMIC_RELAXED) != 0) {
        if(madvise(p, pg, MADV_GUARD_INSTALL) == 0) {
            __atomic_store_n(&dill__guard_markers, 1, __ATOMIC_RELAXED);
            return 0;
        }
        __atomic_store_n(&dill__guard_markers, 0, __ATOMIC_RELAXED);
    }
    return mprotect(p, pg, PROT_NONE);
}

static int dill__new_chunk(void) {
    struct dill__chunk *c = calloc(1, sizeof(*c));
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

void *dill__stack_alloc(size_t *size, int *fresh) {
    *size = DILL_STACK_SIZE;
    *fresh = 0;
    if(dill__nfree) return dill__free[--dill__nfree];
    if(dill__ncold) return dill__cold[--dill__ncold];
    *fresh = 1;
    if(!dill__nfresh && dill__new_chunk() < 0) return NULL;
    char *slot = dill__fresh;
    if(dill__guard(slot) < 0) return NULL;
    dill__fresh += dill__slot();
    dill__nfresh--;
    return slot + dill__page();
}

static int dill__addr_cmp(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)*(void*const*)a, y = (uintptr_t)*(void*const*)b;
    return x < y ? -1 : x > y;
}

/* Gives the memory of the sorted stacks v[0..n) back to the kernel, one
   madvise per run of adjacent stacks (guard markers survive
   MADV_DONTNEED). */
static void dill__drop_sorted(void **v, size_t n) {
    size_t slot = dill__slot(), i = 0;
    while(i < n) {
        size_t j = i + 1;
        while(j < n && (char*)v[j] == (char*)v[j - 1] + slot) j++;
        madvise(v[i], (size_t)((char*)v[j - 1] - (char*)v[i]) +
            DILL_STACK_SIZE, MADV_DONTNEED);
        i = j;
    }
}

void dill__stacks_drop(void **stacks, size_t n) {
    qsort(stacks, n, sizeof(void*), dill__addr_cmp);
    dill__drop_sorted(stacks, n);
}

/* Gives the memory of all but DILL_STACK_CACHE warm stacks back to the
   kernel.  Syscalls (and page faults) are expensive, so adjacent stacks are
   released by one madvise: guard markers survive MADV_DONTNEED. */
static void dill__trim(void) {
    qsort(dill__free, dill__nfree, sizeof(void*), dill__addr_cmp);
    size_t n = dill__nfree - DILL_STACK_CACHE;
    if(dill__ncold + n > dill__capcold) {
        size_t cap = dill__capcold ? dill__capcold : 256;
        while(cap < dill__ncold + n) cap *= 2;
        void **v = realloc(dill__cold, cap * sizeof(void*));
        if(!v) return;
        dill__cold = v;
        dill__capcold = cap;
    }
    dill__drop_sorted(dill__free, n);
    memcpy(dill__cold + dill__ncold, dill__free, n * sizeof(void*));
    dill__ncold += n;
    memmove(dill__free, dill__free + n, DILL_STACK_CACHE * sizeof(void*));
    dill__nfree = DILL_STACK_CACHE;
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
    dill__free[dill__nfree++] = stack;
    if(dill__slow(dill__nfree >= DILL_STACK_CACHE * 4)) dill__trim();
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
    free(dill__cold);
    dill__cold = NULL;
    dill__ncold = 0;
    dill__capcold = 0;
    dill__fresh = NULL;
    dill__nfresh = 0;
}
