/* Coroutines, the scheduler and bundles. */

/* The portable context switch jumps between stacks, which glibc's checked
   longjmp (_FORTIFY_SOURCE) takes for a corrupt stack. */
#undef _FORTIFY_SOURCE

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core.h"
#include "uring.h"

#if defined(__SANITIZE_ADDRESS__)
#define DILL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DILL_ASAN 1
#endif
#endif
#if DILL_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if DILL_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif
/* Under ThreadSanitizer each coroutine is a TSan fiber.  This file is built
   without TSan instrumentation (CMakeLists.txt), so that the function
   entries and exits TSan records stay balanced on each fiber across the
   switches made here and in the go() macro. */
#if DILL_TSAN
#include <sanitizer/tsan_interface.h>
#define DILL__TSAN_SWITCH(cr) __tsan_switch_to_fiber((cr)->tsan_fiber, 0)
#else
#define DILL__TSAN_SWITCH(cr) ((void)0)
#endif

DILL_EXPORT volatile void *dill_unoptimisable = NULL;

#if defined(DILL_PORTABLE_CTX)
/* The fallback saves and resumes contexts with the C library's
   _setjmp/_longjmp (no signal mask: coroutines share the thread's). */
static void dill__longjmp(struct dill_jmpbuf *jb)
    __attribute__((noreturn, noinline));
static void dill__longjmp(struct dill_jmpbuf *jb) {
    _longjmp(jb->buf, 1);
}
static void dill__swap(struct dill_jmpbuf *save, struct dill_jmpbuf *load)
    __attribute__((noinline));
static void dill__swap(struct dill_jmpbuf *save, struct dill_jmpbuf *load) {
    if(!_setjmp(save->buf)) dill__longjmp(load);
}
#else
void dill__longjmp(struct dill_jmpbuf *jb) __attribute__((noreturn));
void dill__swap(struct dill_jmpbuf *save, struct dill_jmpbuf *load);
#endif

/* A coroutine's saved registers.  ctx.S stores 8 words on x86-64 and 21 on
   aarch64, fewer than the public struct dill_jmpbuf holds (sized for the
   largest): the difference would be copied with every hibernated stack. */
#if defined(DILL_PORTABLE_CTX)
#define dill__regs dill_jmpbuf
#elif defined(__x86_64__)
struct dill__regs {void *regs[8];};
#else
struct dill__regs {void *regs[21];};
#endif
#define DILL__JB(r) ((struct dill_jmpbuf*)(void*)(r))

struct dill__bundle {
    struct dill_hvfs vfs;
    struct dill__list crs;         /* coroutines running in the bundle */
    struct dill__list waiters;     /* bundle_wait and hclose callers */
    unsigned int mem : 1;
    unsigned int embedded : 1;     /* lives inside a coroutine (go()) */
};

struct dill__slot;

/* Memory under the stack top of each coroutine: the coroutine itself and,
   for go(), the bundle that its handle refers to. */
struct dill__cr {
    struct dill__crflags f;
    /* Hibernation: while blocked, the coroutine is in its thread's list of
       sleepers (hib_item) since tick wait_epoch; once hibernated it lives
       in a heap copy of its record and live stack.  Where it goes back,
       its stack pointer and how many words are stored are found from
       stack, ctx and the copy's bitmap (dill__hib_home, dill__hib_lo),
       not stored.  (Fields are ordered to leave no padding: the record
       is part of every copy.) */
    unsigned int wait_epoch;
    uint32_t stacksz;              /* of stack (the library's: 256 KiB) */
    struct dill__regs ctx;
    struct dill__cr *next_ready;
    struct dill__clause *clauses;
    struct dill__timer timer;
    int wait_id;
    int wait_err;
    unsigned int waiting : 1;
    unsigned int cancellable : 1;
    unsigned int done : 1;
    unsigned int hibernated : 1;
    unsigned int yielded : 1;      /* ready after dill_yield */
#if DILL_VALGRIND
    unsigned int vgid;
#endif
    struct dill__bundle *bundle;
    struct dill__list bundle_item;
    void *stack;                   /* NULL when the caller gave the memory */
    struct dill__list hib_item;
#if defined(DILL_PORTABLE_CTX)
    char *sp;                      /* _setjmp's is mangled */
#endif
    struct dill__slot *slot;       /* shared stack it is bound to, or NULL */
#if DILL_ASAN
    void *asan_fake;
    const void *asan_bottom;
    size_t asan_size;
#endif
#if DILL_TSAN
    void *tsan_fiber;
#endif
    /* Last: a hibernated copy leaves it out (only go() coroutines, which
       never hibernate, use it).  At an 8-byte boundary: the copy's
       words follow the record's part before it (32-bit targets). */
    _Alignas(8) struct dill__bundle own;
};

_Static_assert(sizeof(struct dill__bundle) <= sizeof(struct dill_bundle_storage),
    "bundle does not fit its storage");

/* Stack room left free above the initial stack pointer: outgoing arguments
   of the coroutine's first call are written above it. */
#define DILL_STACK_SLACK 256

struct dill__ctx {
    int initialized;
    struct dill__cr *r;            /* running coroutine */
    struct dill__cr *ready;        /* FIFO of coroutines ready to run */
    struct dill__cr **ready_tail;
    struct dill__cr *zombie;       /* finished, memory to free */
    unsigned int ticks;
    unsigned int busy;
    struct dill__list deferred;    /* dill__defer items */
    /* Hibernation: threshold in ms (-1: off), coroutines blocked since
       (oldest first), the tick counter and the time of the next tick,
       how many coroutines are hibernated now / were in total, and the
       bytes of live stack copied for those hibernated now. */
    int64_t hib_ms;
    struct dill__list sleepers;
    unsigned int epoch;
    int64_t hib_next;
    size_t nhib;
    size_t hib_bytes;
    uint64_t hib_total;
    struct dill__cr *hib_from;     /* to hibernate once we are off it */
    void **hib_drop;               /* stacks to give back after a tick */
    size_t ndrop;
    size_t capdrop;
    struct dill__list texit;       /* dill__texit items */
#if DILL_ASAN
    struct dill__cr *asan_from;
#endif
    struct dill__cr main;
    /* Shared stacks: nslots slots take new coroutines (0: off), of
       capslots allocated (each created at its first use); xfer is the
       context that brings an evicted coroutine into the slot the
       scheduler was running on (xfer_to, evicting xfer_from first). */
    struct dill__slot **slots;
    int nslots;
    int capslots;
    int slot_rr;
    size_t nevicted;
    uint64_t evict_total;
    struct dill__cr *xfer_from;
    struct dill__cr *xfer_to;
    struct dill__regs xfer_boot;
    void *xfer_stack;
    size_t xfer_size;
    struct dill__cr xfer;
};

static __thread struct dill__ctx dill__c
    __attribute__((tls_model("initial-exec")));
__thread struct dill__crflags *dill__flags
    __attribute__((tls_model("initial-exec")));

/* Makes cr the running coroutine. */
static inline void dill__setrunning(struct dill__cr *cr) {
    dill__c.r = cr;
    dill__flags = &cr->f;
}

static pthread_key_t dill__key;
static pthread_once_t dill__key_once = PTHREAD_ONCE_INIT;

static void dill__defer_run(void);
static void dill__slots_term(void);
static int dill__share_env(void);

static void dill__texit_run(void) {
    struct dill__ctx *c = &dill__c;
    while(!dill__list_empty(&c->texit)) {
        struct dill__texit *e = dill__cont(c->texit.prev, struct dill__texit,
            item);
        dill__list_erase(&e->item);
        e->run(e);
    }
}

static void dill__ctx_term(void *p) {
    /* First: the hooks may still need the scheduler, and what they send
       is flushed below. */
    dill__texit_run();
    dill__defer_run();
    dill__uring_settle(1000);
    dill__timer_term();
    dill__twake_term();
    dill__poller_term();
    dill__handles_term();
    dill__slots_term();
    dill__stacks_term();
    free(dill__c.hib_drop);
    dill__c.hib_drop = NULL;
    dill__c.ndrop = dill__c.capdrop = 0;
    dill__c.initialized = 0;
}

/* DILL_HIBERNATE=ms in the environment turns hibernation on in every
   thread (dill_hibernate(3)). */
static int64_t dill__hib_env(void) {
    const char *e = getenv("DILL_HIBERNATE");
    if(!e || !*e) return -1;
    char *end;
    long long v = strtoll(e, &end, 10);
    if(*end || v < 0) return -1;
    return (int64_t)v;
}

static void dill__key_make(void) {
    pthread_key_create(&dill__key, dill__ctx_term);
}

static void dill__ctx_init(void) {
    struct dill__ctx *c = &dill__c;
    c->initialized = 1;
    dill__setrunning(&c->main);
    c->ready = NULL;
    c->ready_tail = &c->ready;
    dill__list_init(&c->deferred);
    dill__list_init(&c->texit);
    dill__list_init(&c->main.bundle_item);
    dill__list_init(&c->main.hib_item);
    dill__list_init(&c->sleepers);
    c->hib_ms = dill__hib_env();
    int share = dill__share_env();
#if DILL_TSAN
    c->main.tsan_fiber = __tsan_get_current_fiber();
#endif
    /* Threads other than main get their state released at exit. */
    pthread_once(&dill__key_once, dill__key_make);
    pthread_setspecific(dill__key, c);
    if(share) dill_stackshare(share);
}

static inline struct dill__cr *dill__cur(void) {
    if(dill__slow(!dill__c.initialized)) dill__ctx_init();
    return dill__c.r;
}

/******************************************************************************/
/*  Time                                                                      */
/******************************************************************************/

static int64_t dill__clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#if defined(__x86_64__) || defined(__i386__)
/* A deadline is usually computed right before a blocking call that checks
   it again, so now() runs twice per operation that has a deadline.  The
   vDSO clock reads the TSC and then scales it; reading only the TSC and
   reusing the last clock reading while fewer than DILL__NOW_CYCLES have
   passed costs less than half as much (measured here: 14 ns against
   33 ns).  A reading lags the clock by at most that many cycles (under a
   millisecond at 1 GHz and up), which the millisecond unit hides anyway;
   a TSC that jumps back (another CPU) only forces a fresh reading.  When
   a hypervisor traps rdtsc, the vDSO clock pays the same trap. */
#define DILL__NOW_CYCLES (1ULL << 20)
static __thread uint64_t dill__now_tsc
    __attribute__((tls_model("initial-exec")));
static __thread int64_t dill__now_ms
    __attribute__((tls_model("initial-exec")));

/* The scheduler fires timers with a fresh reading and the reading becomes
   the cache: a coroutine woken at its deadline must see now() >= deadline
   (a loop of msleep(t); if(now() >= t) ... relies on it). */
static int64_t dill__now_fill(uint64_t tsc) {
    int64_t ms = dill__clock_ms();
    /* Never backwards, even if the cache was filled on a CPU whose clock
       reading was later than this one's. */
    if(ms > dill__now_ms) dill__now_ms = ms;
    dill__now_tsc = tsc;
    return dill__now_ms;
}

int64_t dill__now_exact(void) {
    return dill__now_fill(__builtin_ia32_rdtsc());
}

int64_t dill_now(void) {
    uint64_t tsc = __builtin_ia32_rdtsc();
    if(dill__fast(tsc - dill__now_tsc < DILL__NOW_CYCLES)) return dill__now_ms;
    return dill__now_fill(tsc);
}
#else
int64_t dill__now_exact(void) {
    return dill__clock_ms();
}

int64_t dill_now(void) {
    return dill__clock_ms();
}
#endif

/******************************************************************************/
/*  Hibernation                                                               */
/******************************************************************************/

/* A coroutine blocked longer than the threshold leaves the pages of its
   stack to the kernel: its live part (from its stack pointer to the top,
   where struct dill__cr is) goes to a heap copy, whatever refers to it
   (its clauses' owners, the timer heap, its bundle's list) is pointed at
   the copy, and the pages are dropped with MADV_DONTNEED.  Waking copies
   it back to the same addresses before it runs, so pointers into the
   stack held by the coroutine itself stay valid.  Memory of the stack
   that others may use while it sleeps is not covered (dill_hibernate(3)
   says so). */

/* Lowest address a suspended coroutine still needs. */
static char *dill__hib_sp(struct dill__cr *cr) {
#if defined(DILL_PORTABLE_CTX)
    return cr->sp;
#elif defined(__x86_64__)
    return cr->ctx.regs[6];        /* ctx.S: stack pointer after return */
#else
    return cr->ctx.regs[12];       /* ctx.S (aarch64): sp */
#endif
}

/* Where a copy's frames start (8-byte aligned), from its saved context. */
static char *dill__hib_lo(struct dill__cr *cr) {
    return (char*)((uintptr_t)dill__hib_sp(cr) & ~(uintptr_t)7);
}

/* Where a coroutine's record is on its stack (stack, sz: the memory the
   record is at the top of). */
static struct dill__cr *dill__cr_top(void *stack, size_t sz) {
    return (struct dill__cr*)(((uintptr_t)stack + sz -
        sizeof(struct dill__cr)) & ~(uintptr_t)63);
}

/* Where a hibernated copy goes back: only coroutines with a stack of the
   library's (their own or a slot's) hibernate. */
static struct dill__cr *dill__hib_home(struct dill__cr *sc) {
    return dill__cr_top(sc->stack, sc->stacksz);
}

/* Stack memory is read and written without ASan's checks: frames have
   poisoned redzones, which the copy keeps as they are.  The loops then
   go through volatile, so as not to become calls of the checked
   memcpy and memset. */
#if DILL_ASAN
#define DILL__NOASAN __attribute__((no_sanitize_address))
#define DILL__HV volatile
#else
#define DILL__NOASAN
#define DILL__HV
#endif

/* n: a multiple of 8. */
#if DILL_ASAN
DILL__NOASAN static void dill__hib_copy(void *dst, const void *src, size_t n) {
    volatile uint64_t *d = dst;
    const volatile uint64_t *s = src;
    for(size_t i = 0; i != n / 8; i++) d[i] = s[i];
}
DILL__NOASAN static void dill__hib_clear(void *dst, size_t n) {
    volatile uint64_t *d = dst;
    for(size_t i = 0; i != n / 8; i++) d[i] = 0;
}
#else
#define dill__hib_copy memcpy
#define dill__hib_clear(d, n) memset(d, 0, n)
#endif

/* Whether cr can follow its copy: a coroutine started by go() is named
   by a handle that points into its stack, and waits whose clauses cannot
   move (an io_uring receive into a buffer on the stack, a channel between
   threads) keep it where it is. */
static int dill__hib_can(struct dill__cr *cr) {
    if(!cr->stack || cr->done || !cr->waiting || cr->bundle == &cr->own ||
       cr->f.awake)
        return 0;
    char *lo = dill__hib_sp(cr);
    if(lo < (char*)cr->stack || lo >= (char*)cr) return 0;
    if((char*)cr->bundle >= lo && (char*)cr->bundle < (char*)cr->stack +
       cr->stacksz)
        return 0;
    for(struct dill__clause *cl = cr->clauses; cl; cl = cl->next)
        if(!cl->move) return 0;
    return 1;
}

/* Gives cr's stack pages back now, or (batch) at the end of the tick
   with its neighbours'. */
static void dill__hib_drop(struct dill__cr *cr, int batch) {
    struct dill__ctx *c = &dill__c;
    if(batch && c->ndrop == c->capdrop) {
        size_t cap = c->capdrop ? c->capdrop * 2 : 64;
        void **v = realloc(c->hib_drop, cap * sizeof(void*));
        if(v) {c->hib_drop = v; c->capdrop = cap;}
    }
    if(batch && c->ndrop < c->capdrop) c->hib_drop[c->ndrop++] = cr->stack;
    /* The guard page below stays; the range stays mapped. */
    else madvise(cr->stack, cr->stacksz, MADV_DONTNEED);
}

/* The copy of a coroutine hibernated with its frames at lo..cr:

       struct dill__cr   the record, but for its last field (own), at
                         the start of the block
       uint64_t[]        a bit per word of lo..cr: 1 when it is kept
       uint64_t[n]       the words of lo..cr that are kept: the nonzero
                         ones and all of the memory others use meanwhile
                         (clauses, pins, buffers being filled: clause move
                         functions say which), in order (n: the bits set)

   Stacks hold many zero words (padding, NULL pointers, untouched parts
   of arrays, the slack above the first frame).  The record and the kept
   memory are addressable in the copy, so what refers to them is pointed
   there (dill__moved) as it was with a plain copy.  Under valgrind every
   word is kept (looking at them would trip it on undefined ones), and
   frames deeper than 32 KiB are copied whole. */
#define DILL__HIB_REC offsetof(struct dill__cr, own)
_Static_assert(offsetof(struct dill__cr, own) % 8 == 0 &&
    sizeof(struct dill__cr) - offsetof(struct dill__cr, own) -
    sizeof(struct dill__bundle) < 8, "own is the record's last field");
_Static_assert(_Alignof(struct dill__cr) <= _Alignof(max_align_t),
    "the record's copy is where malloc puts it");

/* The bitmap is made before the copy's size is known: here, for frames
   of up to 32 KiB (deeper ones are copied whole). */
#define DILL__HIB_MAPS 64
static __thread uint64_t dill__hib_scratch[DILL__HIB_MAPS]
    __attribute__((tls_model("initial-exec")));

/* Memory that must stay addressable in the copy, in 8-byte words of the
   frames lo..hi, ordered by start. */
#define DILL__KEEPS 16
struct dill__keep {
    char *lo;
    char *hi;
    int all;                       /* too much to say: keep every word */
    size_t n;
    char *from[DILL__KEEPS];
    char *to[DILL__KEEPS];
};

void dill__move_keep(const struct dill__move *m, const void *p, size_t n) {
    struct dill__keep *k = m->keep;
    char *a = (char*)((uintptr_t)p & ~(uintptr_t)7);
    char *b = (char*)(((uintptr_t)p + n + 7) & ~(uintptr_t)7);
    if(a < k->lo) a = k->lo;
    if(b > k->hi) b = k->hi;
    if(a >= b) return;
    if(k->n == DILL__KEEPS) {k->all = 1; return;}
    size_t i = k->n++;
    for(; i && k->from[i - 1] > a; i--) {
        k->from[i] = k->from[i - 1];
        k->to[i] = k->to[i - 1];
    }
    k->from[i] = a;
    k->to[i] = b;
}

/* Bits set in map before bit i; the bit that is the k-th (0-based) set. */
static size_t dill__hib_rank(const uint64_t *map, size_t i) {
    size_t r = 0;
    for(size_t j = 0; j != i / 64; j++)
        r += (size_t)__builtin_popcountll(map[j]);
    if(i % 64)
        r += (size_t)__builtin_popcountll(map[i / 64] &
            ((UINT64_C(1) << (i % 64)) - 1));
    return r;
}
static size_t dill__hib_select(const uint64_t *map, size_t k) {
    size_t j = 0;
    for(;; j++) {
        size_t c = (size_t)__builtin_popcountll(map[j]);
        if(k < c) break;
        k -= c;
    }
    uint64_t b = map[j];
    while(k--) b &= b - 1;
    return j * 64 + (size_t)__builtin_ctzll(b);
}

void *dill__moved(const struct dill__move *m, void *p) {
    char *c = p;
    if(c >= m->lo2 && c < m->hi2) return c + m->delta2;
    if(c < m->lo || c >= m->hi) return p;
    size_t off = (size_t)(c - m->lo);
    size_t w = m->back ? dill__hib_select(m->map, off / 8) :
        dill__hib_rank(m->map, off / 8);
    return m->base + w * 8 + off % 8;
}

/* Bits of the nonzero words among the cnt (at most 64) at p, bit i for
   p[i].  Full chunks in four chains (the usual case). */
DILL__NOASAN static uint64_t dill__hib_bits(const DILL__HV uint64_t *p,
      size_t cnt) {
    if(cnt == 64) {
        uint64_t b0 = 0, b1 = 0, b2 = 0, b3 = 0;
        for(size_t i = 16; i-- != 0;) {
            b0 = b0 << 1 | (p[i] != 0);
            b1 = b1 << 1 | (p[16 + i] != 0);
            b2 = b2 << 1 | (p[32 + i] != 0);
            b3 = b3 << 1 | (p[48 + i] != 0);
        }
        return b0 | b1 << 16 | b2 << 32 | b3 << 48;
    }
    uint64_t b = 0;
    for(size_t i = cnt; i-- != 0;) b = b << 1 | (p[i] != 0);
    return b;
}

/* Fills map (a bit per word of k's frames: kept or not) and returns how
   many words are kept. */
static size_t dill__hib_map(const struct dill__keep *k, uint64_t *map) {
    const DILL__HV uint64_t *w = (const DILL__HV uint64_t*)(void*)k->lo;
    size_t nw = (size_t)(k->hi - k->lo) / 8, nmap = (nw + 63) / 64, n = 0;
    for(size_t j = 0; j != nmap; j++)
        map[j] = dill__hib_bits(w + j * 64, nw - j * 64 < 64 ? nw - j * 64 : 64);
    for(size_t r = 0; r != k->n; r++) {
        size_t a = (size_t)(k->from[r] - k->lo) / 8;
        size_t b = (size_t)(k->to[r] - k->lo) / 8;
        for(size_t i = a; i != b; i++) map[i / 64] |= UINT64_C(1) << (i % 64);
    }
    for(size_t j = 0; j != nmap; j++) n += (size_t)__builtin_popcountll(map[j]);
    return n;
}

/* Stores at dst the words of k's frames that map keeps, in order. */
DILL__NOASAN static void dill__hib_store(const struct dill__keep *k,
      const uint64_t *map, uint64_t *dst) {
    const DILL__HV uint64_t *w = (const DILL__HV uint64_t*)(void*)k->lo;
    size_t nmap = ((size_t)(k->hi - k->lo) / 8 + 63) / 64;
    for(size_t j = 0; j != nmap; j++) {
        const DILL__HV uint64_t *p = w + j * 64;
        uint64_t b = map[j];
        if(b == ~UINT64_C(0)) {
            dill__hib_copy(dst, (const void*)p, 512);
            dst += 64;
            continue;
        }
        for(; b; b &= b - 1) *dst++ = p[__builtin_ctzll(b)];
    }
}

/* Puts the nw words of the frames back at lo from the kept ones at src,
   zeros where map has no bit. */
DILL__NOASAN static void dill__hib_unpack(char *lo, size_t nw,
      const uint64_t *map, const uint64_t *src) {
    DILL__HV uint64_t *d = (DILL__HV uint64_t*)(void*)lo;
    for(size_t j = 0; j * 64 < nw; j++) {
        DILL__HV uint64_t *p = d + j * 64;
        size_t cnt = nw - j * 64 < 64 ? nw - j * 64 : 64;
        uint64_t b = map[j];
        if(b == ~UINT64_C(0)) {
            dill__hib_copy((void*)p, src, 512);
            src += 64;
            continue;
        }
        dill__hib_clear((void*)p, cnt * 8);
        for(; b; b &= b - 1) p[__builtin_ctzll(b)] = *src++;
    }
}

/* cr (at its new place) was copied with its region: its pins, which
   stay on its stack from one wait to the next, point the objects' lists
   of holders at their new place. */
static void dill__pins_moved(struct dill__cr *cr, const struct dill__move *m) {
    cr->f.pins = dill__moved(m, cr->f.pins);
    for(struct dill__pinref *r = cr->f.pins; r; r = r->up) {
        r->up = dill__moved(m, r->up);
        r->f = &cr->f;
        r->next = dill__moved(m, r->next);
        r->pprev = dill__moved(m, r->pprev);
        *r->pprev = r;
        if(r->next) r->next->pprev = &r->next;
    }
}

/* What of cr's frames (k->lo..k->hi) others use while it sleeps. */
static void dill__hib_keep(struct dill__cr *cr, struct dill__keep *k) {
    k->n = 0;
    k->all = 0;
#if DILL_VALGRIND
    if(RUNNING_ON_VALGRIND) k->all = 1;
#endif
    struct dill__move m;
    memset(&m, 0, sizeof(m));
    m.keep = k;
    for(struct dill__clause *cl = cr->clauses; cl; cl = cl->next)
        cl->move(cl, &m);
    for(struct dill__pinref *r = cr->f.pins; r; r = r->up)
        dill__move_keep(&m, r, sizeof(*r));
}

static struct dill__cr *dill__hib_sleep(struct dill__cr *cr, int batch) {
    dill__list_erase(&cr->hib_item);
    if(!dill__hib_can(cr)) return NULL;
    struct dill__keep k;
    k.lo = dill__hib_lo(cr);
    k.hi = (char*)cr;
    dill__hib_keep(cr, &k);
    size_t nw = (size_t)(k.hi - k.lo) / 8, nmap = (nw + 63) / 64;
    if(nmap > DILL__HIB_MAPS) k.all = 1;
    size_t n = k.all ? nw : dill__hib_map(&k, dill__hib_scratch);
    size_t nb = DILL__HIB_REC, len = nb + (n + nmap) * 8;
    char *rec = malloc(len);
    if(!rec) return NULL;
    uint64_t *map = (uint64_t*)(void*)(rec + nb), *words = map + nmap;
    dill__hib_copy(rec, cr, nb);
    if(k.all) {
        dill__hib_copy(words, k.lo, nw * 8);
        memset(map, 0xff, nmap * 8);
        if(nw % 64) map[nmap - 1] = (UINT64_C(1) << (nw % 64)) - 1;
    }
    else {
        memcpy(map, dill__hib_scratch, nmap * 8);
        dill__hib_store(&k, map, words);
    }
    struct dill__move m = {k.lo, k.hi, (char*)words, map, 0, (char*)cr,
        (char*)cr + nb, rec - (char*)cr, NULL};
    struct dill__cr *sc = (struct dill__cr*)(void*)rec;
    sc->clauses = dill__moved(&m, sc->clauses);
    for(struct dill__clause *cl = sc->clauses; cl; cl = cl->next) {
        cl->cr = sc;
        cl->next = dill__moved(&m, cl->next);
        cl->move(cl, &m);
    }
    dill__list_moved(&sc->bundle_item, &m);
    dill__pins_moved(sc, &m);
    dill__list_init(&sc->hib_item);
    sc->hibernated = 1;
    /* A shared stack's pages are the next resident's (see "Shared
       stacks"). */
    if(sc->slot) return sc;
    dill__hib_drop(cr, batch);
    dill__c.nhib++;
    dill__c.hib_total++;
    dill__c.hib_bytes += len;
    return sc;
}

static struct dill__cr *dill__hib_wake(struct dill__cr *sc) {
    struct dill__cr *cr = dill__hib_home(sc);
    char *lo = dill__hib_lo(sc), *rec = (char*)sc;
    size_t nw = (size_t)((char*)cr - lo) / 8, nmap = (nw + 63) / 64;
    size_t n = 0, nb = DILL__HIB_REC;
    uint64_t *map = (uint64_t*)(void*)(rec + nb), *words = map + nmap;
    for(size_t j = 0; j != nmap; j++) n += (size_t)__builtin_popcountll(map[j]);
    /* Woken: its clauses are gone (dill__resume cancelled them), only
       its bundle's list and the objects it is pinned in refer to it. */
    if(n == nw) dill__hib_copy(lo, words, nw * 8);
    else dill__hib_unpack(lo, nw, map, words);
    dill__hib_copy(cr, rec, nb);
    struct dill__move m = {(char*)words, (char*)(words + n), lo, map, 1,
        rec, rec + nb, (char*)cr - rec, NULL};
    dill__list_moved(&cr->bundle_item, &m);
    dill__pins_moved(cr, &m);
    dill__list_init(&cr->hib_item);
    cr->hibernated = 0;
    free(rec);
    if(cr->slot) return cr;
    dill__c.nhib--;
    dill__c.hib_bytes -= nb + (n + nmap) * 8;
    return cr;
}

/* A tick every half threshold; coroutines blocked for three ticks or more
   (threshold 0: since the previous tick) hibernate. */
static void dill__hib_tick(int64_t now) {
    struct dill__ctx *c = &dill__c;
    if(now < c->hib_next) return;
    c->epoch++;
    c->hib_next = now + (c->hib_ms + 1) / 2;
    unsigned int need = c->hib_ms ? 3 : 1;
    struct dill__list *it = c->sleepers.next;
    while(it != &c->sleepers) {
        struct dill__list *next = it->next;
        struct dill__cr *cr = dill__cont(it, struct dill__cr, hib_item);
        if(c->epoch - cr->wait_epoch < need) break;
        dill__list_erase(it);
        /* The scheduler runs on this one's stack: the next coroutine to
           run hibernates it (dill__arrived). */
        if(cr == c->r) c->hib_from = cr;
        else dill__hib_sleep(cr, 1);
        it = next;
    }
    /* Nobody wakes before this: the scheduler is not back yet. */
    if(c->ndrop) {
        dill__stacks_drop(c->hib_drop, c->ndrop);
        c->ndrop = 0;
        /* A big tick's list is not kept (8 bytes per coroutine). */
        if(c->capdrop > 256) {
            free(c->hib_drop);
            c->hib_drop = NULL;
            c->capdrop = 0;
        }
    }
}

/* Whether a tick may hibernate someone. */
static int dill__hib_pending(void) {
    struct dill__ctx *c = &dill__c;
    return c->hib_ms >= 0 && !dill__list_empty(&c->sleepers);
}

int dill_hibernate(int64_t threshold) {
    struct dill__ctx *c = &dill__c;
    dill__cur();
    if(threshold < -1) {errno = EINVAL; return -1;}
    c->hib_ms = threshold;
    c->hib_next = 0;
    return 0;
}

int dill_hibernated(void) {
    dill__cur();
    return (int)dill__c.nhib;
}

size_t dill__hib_bytes(void) {
    dill__cur();
    return dill__c.hib_bytes;
}

/* noinline: its own frame is below the caller's, so the caller's page
   stays whole; below that, nothing is live (the red zone is only for leaf
   functions, and this one makes a call). */
__attribute__((noinline)) void dill__stack_trim(void) {
    struct dill__cr *cr = dill__cur();
    /* A shared stack's pages serve its next residents. */
    if(!cr->stack || cr->slot) return;
    static size_t pg;
    if(!pg) pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t end = ((uintptr_t)__builtin_frame_address(0) - 256) &
        ~(uintptr_t)(pg - 1);
    if(end > (uintptr_t)cr->stack)
        madvise(cr->stack, end - (uintptr_t)cr->stack, MADV_DONTNEED);
}

int64_t dill__hib_deadline(int64_t deadline) {
    struct dill__ctx *c = &dill__c;
    /* A bound coroutine may be copied out at its next wait: the wait that
       can move, from a shallow frame, at once (a smaller copy, for one
       more read that finds nothing). */
    if(dill__slow(c->r->slot != NULL) && deadline != 0) return dill_now();
    return dill__hib_idle(deadline);
}

int64_t dill__hib_idle(int64_t deadline) {
    struct dill__ctx *c = &dill__c;
    if(dill__fast(c->hib_ms < 0) || deadline == 0) return deadline;
    int64_t d = dill_now() + c->hib_ms;
    return deadline < 0 || d < deadline ? d : deadline;
}

/******************************************************************************/
/*  Switching                                                                 */
/******************************************************************************/

static void dill__reap(void);

/* The coroutine we came from was found asleep long enough while the
   scheduler ran on its stack. */
static void dill__hib_late(void) {
    struct dill__cr *cr = dill__c.hib_from;
    dill__c.hib_from = NULL;
    if(cr != dill__c.r && cr->waiting) dill__hib_sleep(cr, 0);
}

/* Runs first in every context that has just been switched to. */
static inline void dill__arrived(struct dill__cr *cr, int fresh) {
#if DILL_ASAN
    struct dill__cr *from = dill__c.asan_from;
    __sanitizer_finish_switch_fiber(fresh ? NULL : cr->asan_fake,
        from ? &from->asan_bottom : NULL, from ? &from->asan_size : NULL);
#endif
    if(dill__slow(dill__c.zombie != NULL)) dill__reap();
    if(dill__slow(dill__c.hib_from != NULL)) dill__hib_late();
}

static inline void dill__push_ready(struct dill__cr *cr) {
    struct dill__ctx *c = &dill__c;
    cr->next_ready = NULL;
    *c->ready_tail = cr;
    c->ready_tail = &cr->next_ready;
}

/******************************************************************************/
/*  Shared stacks                                                             */
/******************************************************************************/

/* With dill_stackshare(3) on, a coroutine started by bundle_go() is bound
   for its whole life to one of the thread's N stack slots (ordinary
   stacks) instead of getting a stack of its own: its frames, its record
   and every pointer into its stack have the slot's addresses.  One
   coroutine at a time is resident in a slot (its frames are there);
   the others bound to it wait in heap copies made by the hibernation
   code (dill__hib_sleep without giving pages back: "evicted").

   - Lazy: a coroutine that blocks stays resident.  Only when an evicted
     coroutine must run (it was picked from the ready queue) is the
     slot's resident copied out and the runner copied in
     (dill__slot_bring), two copies of its live stack (~1.4 KB for a
     waiting ws handler) plus the relinking hibernation does (clauses,
     timer, bundle list, pins), and no system call.
   - The scheduler runs on the stack of whichever coroutine blocked last,
     so a slot cannot be refilled while we run on it: when the runner's
     slot is the one the current coroutine (blocking or finishing) is
     resident in, the switch goes through a per-thread context on a stack
     of its own (xfer), which evicts the previous resident once its
     registers are saved and then copies the runner in.  Otherwise the
     copies are made right where the scheduler is.
   - Which coroutines: those bundle_go() starts while the mode is on in
     their thread, in the slot with the fewest coroutines among those the
     caller does not run on whose resident can move (it is evicted).
     go() and the _mem variants keep their own stacks (a go() handle
     points into its stack), and so does a coroutine for which no slot
     is free now, rather than wait.
   - A resident that cannot move (dill__hib_can: it keeps awake, it waits
     for a ring send to end or on a channel between threads; or it was
     woken and has not run yet) keeps its slot: the woken coroutine waits
     in the slot's queue, and the queue goes back to the ready queue when
     the resident next blocks (dill__wait_err), yields or finishes.  A
     ready resident is evicted only when it yielded (else a busy one
     would starve its slot-mates) or for a new coroutine; otherwise it
     runs first, which costs no copy.  Nothing is lost: the resident runs
     again first, as whatever made it unmovable wakes it.  So a wait that
     cannot move must not depend on a coroutine of the
     same slot: the library's such waits end by themselves (the kernel
     finishing a ring send, a cancelled ring operation), ring receives are
     not used by bound coroutines (dill__aop_fills), ws_accept's wait
     moves, and coroutines started while their creator keeps awake
     (happy eyeballs' helpers, which use their creator's stack), by a
     coroutine of the same slot, or by go() get a stack of their own.
     Waits on channels between threads (tchan, and the hub's signals)
     hold the slot until they end.
   - Rules for user code are hibernation's, but a violation is worse:
     while a coroutine is evicted its slot holds another coroutine's
     frames, so writing through a pointer into an evicted coroutine's
     stack corrupts that other coroutine.
   - An idle ws receive waits from its shallow frame at once
     (dill__hib_deadline), for a smaller copy.
   - dill__hib_wake must write back every byte of the live range it was
     given, zeros included (slack above the first frame aside, zeroed
     here): a slot holds the previous resident's bytes, not the zero
     pages a hibernated stack comes back to.
   - Plain hibernation (dill_hibernate) leaves bound coroutines alone:
     they are not on its list of sleepers, an evicted one already lives
     in a copy of its live stack, and a slot's pages are shared.
   - ASan: slots keep one fiber range, which is right for whoever is
     resident; the shadow of a refilled slot still describes the previous
     resident's frames, so the range that any resident's frames have
     reached (asan_low up) is unpoisoned when a coroutine is copied in.
     valgrind: each slot's stack is registered once, and the range a
     coroutine is copied into is made addressable first (memcheck took
     what was below the previous resident's stack pointer for gone). */

struct dill__slot {
    char *stack;
    size_t size;
    struct dill__cr *top;          /* where its coroutines' records are */
    int busy;                      /* a coroutine is resident */
    unsigned int nbound;           /* coroutines bound to it */
    struct dill__cr *q;            /* woken, waiting for the slot */
    struct dill__cr **qtail;
#if DILL_ASAN
    char *asan_low;                /* lowest address frames reached */
#endif
#if DILL_VALGRIND
    unsigned int vgid;
#endif
};

/* At most this many slots per thread: each is a stack's address range. */
#define DILL__SLOTS_MAX 1024

int dill__stackshared(void) {
    struct dill__cr *r = dill__c.r;
    return r && r->slot;
}

static struct dill__slot *dill__slot_new(void) {
    struct dill__slot *s = calloc(1, sizeof(struct dill__slot));
    if(!s) return NULL;
    int fresh;
    s->stack = dill__stack_alloc(&s->size, &fresh);
    if(!s->stack) {free(s); return NULL;}
    s->top = dill__cr_top(s->stack, s->size);
    s->qtail = &s->q;
#if DILL_ASAN
    s->asan_low = (char*)s->top;
    if(!fresh) __asan_unpoison_memory_region(s->stack, s->size);
#endif
#if DILL_VALGRIND
    s->vgid = VALGRIND_STACK_REGISTER(s->stack, s->stack + s->size);
#endif
    return s;
}

#if DILL_ASAN
static void dill__slot_reach(struct dill__slot *s, char *lo) {
    if(lo < s->asan_low) s->asan_low = lo < s->stack ? s->stack : lo;
}
#endif

/* Whether resident r can move; with ready_ok also when it is ready (not
   blocked) but has not run yet. */
static int dill__slot_can(struct dill__cr *r, int ready_ok) {
    if(r->waiting) return dill__hib_can(r);
    if(!ready_ok || r->done) return 0;
    /* Ready: no clause, no timer; the rest is as for a blocked one. */
    r->waiting = 1;
    int ok = dill__hib_can(r);
    r->waiting = 0;
    return ok;
}

/* Copies the resident out, if it can move (ready_ok: see above; its
   place in the ready queue goes to the copy).  Returns 0 or -1. */
static int dill__slot_out(struct dill__slot *s, int ready_ok) {
    struct dill__ctx *c = &dill__c;
    struct dill__cr *r = s->top;
    struct dill__cr **pp = NULL;
    if(!r->waiting) {
        if(!ready_ok || r->done || r == c->r) return -1;
        pp = &c->ready;
        while(*pp && *pp != r) pp = &(*pp)->next_ready;
        if(!*pp) return -1;
        r->waiting = 1;
    }
#if DILL_ASAN
    dill__slot_reach(s, dill__hib_sp(r));
#endif
    struct dill__cr *sc = dill__hib_sleep(r, 0);
    if(pp) {
        if(!sc) {r->waiting = 0; return -1;}
        sc->waiting = 0;
        *pp = sc;
        if(c->ready_tail == &r->next_ready) c->ready_tail = &sc->next_ready;
    }
    if(!sc) return -1;
    s->busy = 0;
    dill__c.nevicted++;
    dill__c.evict_total++;
    return 0;
}

/* Copies the evicted sc into its (empty) slot; returns it in place. */
static struct dill__cr *dill__slot_in(struct dill__slot *s,
      struct dill__cr *sc) {
#if DILL_ASAN
    dill__slot_reach(s, dill__hib_lo(sc));
    __asan_unpoison_memory_region(s->asan_low, (size_t)(s->stack + s->size -
        s->asan_low));
#endif
#if DILL_VALGRIND
    /* Memcheck took what lies below the previous resident's stack pointer
       for gone; the copy brings its own definedness.  The switch in
       ctx.S writes the return address just below the stack pointer. */
    VALGRIND_MAKE_MEM_UNDEFINED(dill__hib_lo(sc) - 64, (size_t)(s->stack +
        s->size - dill__hib_lo(sc) + 64));
#endif
    /* The copy writes back every word from the stack pointer to the
       record, zeros included: nothing of the previous resident shows. */
    struct dill__cr *cr = dill__hib_wake(sc);
    s->busy = 1;
    dill__c.nevicted--;
    return cr;
}

static void dill__slot_queue(struct dill__slot *s, struct dill__cr *sc) {
    sc->next_ready = NULL;
    *s->qtail = sc;
    s->qtail = &sc->next_ready;
}

/* The resident may have become movable, or is gone: whoever waited for
   the slot gets another try. */
static void dill__slot_release(struct dill__slot *s) {
    struct dill__cr *w = s->q;
    s->q = NULL;
    s->qtail = &s->q;
    while(w) {
        struct dill__cr *next = w->next_ready;
        dill__push_ready(w);
        w = next;
    }
}

/* The evicted sc was picked to run.  Returns it copied into its slot;
   the xfer context when that must be done off the current stack; NULL
   when it has to wait for the slot. */
static struct dill__cr *dill__slot_bring(struct dill__cr *sc) {
    struct dill__ctx *c = &dill__c;
    struct dill__slot *s = sc->slot;
    if(s->busy) {
        struct dill__cr *r = s->top;
        /* A resident that yielded gives way; one woken and not run yet
           is let run first (no copy: it gives the slot up once it
           blocks). */
        if(r == c->r) {
            if(!r->done && !dill__slot_can(r, r->yielded)) {
                dill__slot_queue(s, sc);
                return NULL;
            }
            c->xfer_from = r;
            c->xfer_to = sc;
            return &c->xfer;
        }
        if(dill__slot_out(s, r->yielded) < 0) {
            dill__slot_queue(s, sc);
            return NULL;
        }
    }
    return dill__slot_in(s, sc);
}

/* A bound coroutine finished and we are off its stack. */
static void dill__slot_free(struct dill__cr *cr) {
    struct dill__slot *s = cr->slot;
    s->busy = 0;
    s->nbound--;
    if(s->q) dill__slot_release(s);
}

/* A slot for a coroutine that parent starts: the one with the fewest
   coroutines among those parent does not run on whose resident can move
   (or none), the resident evicted.  NULL: none can take it now. */
static struct dill__slot *dill__slot_pick(struct dill__cr *parent) {
    struct dill__ctx *c = &dill__c;
    struct dill__slot *best = NULL;
    int ib = 0;
    for(int k = 0; k != c->nslots; k++) {
        int i = (c->slot_rr + k) % c->nslots;
        struct dill__slot *s = c->slots[i];
        if(!s) {
            s = dill__slot_new();
            if(!s) continue;
            c->slots[i] = s;
        }
        if(s->busy && (s->top == parent || !dill__slot_can(s->top, 1)))
            continue;
        if(!best || s->nbound < best->nbound) {best = s; ib = i;}
        if(!s->nbound) break;
    }
    if(!best || (best->busy && dill__slot_out(best, 1) < 0)) return NULL;
    c->slot_rr = (ib + 1) % c->nslots;
    return best;
}

static struct dill__cr *dill__next(void);

/* The xfer context: runs when the scheduler chose an evicted coroutine
   whose slot the coroutine it ran on (xfer_from) is resident in.  Now
   that the latter's registers are saved, it can be copied out, or, if
   it finished, its slot is free (dill__arrived reaps it). */
/* Not declared noreturn: under ASan a call to such a function first
   unpoisons the stack it thinks it runs on, which in the middle of the
   switch to this one is neither. */
__attribute__((noinline)) static void dill__xfer_main(void) {
    struct dill__ctx *c = &dill__c;
#if DILL_ASAN
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(NULL, &bottom, &size);
    __sanitizer_start_switch_fiber(&c->xfer.asan_fake, bottom, size);
#endif
#if DILL_TSAN
    __tsan_switch_to_fiber(c->r->tsan_fiber, 0);
#endif
    dill__swap(DILL__JB(&c->xfer.ctx), DILL__JB(&c->xfer_boot));
    /* Forever (the stack stays until the thread ends). */
    while(c->xfer_stack) {
        dill__arrived(&c->xfer, 0);
        struct dill__cr *sc = c->xfer_to;
        struct dill__slot *s = sc->slot;
        c->xfer_to = c->xfer_from = NULL;
        struct dill__cr *next;
        if(s->busy && dill__slot_out(s, s->top->yielded) < 0) {
            dill__slot_queue(s, sc);
            next = dill__next();
        }
        else next = dill__slot_in(s, sc);
        dill__setrunning(next);
#if DILL_ASAN
        c->asan_from = &c->xfer;
        __sanitizer_start_switch_fiber(&c->xfer.asan_fake, next->asan_bottom,
            next->asan_size);
#endif
        DILL__TSAN_SWITCH(next);
        dill__swap(DILL__JB(&c->xfer.ctx), DILL__JB(&next->ctx));
    }
    abort();
}

/* Starts the xfer context on its stack; it comes straight back. */
__attribute__((noinline)) static void dill__xfer_boot(void) {
    struct dill__ctx *c = &dill__c;
#if DILL_ASAN
    __sanitizer_start_switch_fiber(&c->r->asan_fake, c->xfer.asan_bottom,
        c->xfer.asan_size);
#endif
#if DILL_TSAN
    c->xfer.tsan_fiber = __tsan_create_fiber(0);
    __tsan_switch_to_fiber(c->xfer.tsan_fiber, 0);
#endif
    if(!dill_setjmp(DILL__JB(&c->xfer_boot))) {
        char *top = (char*)(((uintptr_t)c->xfer_stack + c->xfer_size - 64) &
            ~(uintptr_t)15);
        dill_setsp(top);
        dill__xfer_main();
    }
#if DILL_ASAN
    __sanitizer_finish_switch_fiber(c->r->asan_fake, NULL, NULL);
    /* As in dill_resume_: dill_setsp's alloca left redzones below. */
    char *fa = __builtin_frame_address(0);
    __asan_unpoison_memory_region(fa - 2048, 2048 + 16);
#endif
}

static int dill__xfer_init(void) {
    struct dill__ctx *c = &dill__c;
    if(c->xfer_stack) return 0;
    int fresh;
    c->xfer_stack = dill__stack_alloc(&c->xfer_size, &fresh);
    if(!c->xfer_stack) return -1;
    dill__list_init(&c->xfer.bundle_item);
    dill__list_init(&c->xfer.hib_item);
#if DILL_ASAN
    if(!fresh) __asan_unpoison_memory_region(c->xfer_stack, c->xfer_size);
    c->xfer.asan_bottom = c->xfer_stack;
    c->xfer.asan_size = c->xfer_size;
#endif
#if DILL_VALGRIND
    c->xfer.vgid = VALGRIND_STACK_REGISTER(c->xfer_stack,
        (char*)c->xfer_stack + c->xfer_size);
#endif
    dill__xfer_boot();
    return 0;
}

/* DILL_STACKSHARE=n in the environment turns stack sharing on in every
   thread (dill_stackshare(3)). */
static int dill__share_env(void) {
    const char *e = getenv("DILL_STACKSHARE");
    if(!e || !*e) return 0;
    char *end;
    long v = strtol(e, &end, 10);
    if(*end || v < 0) return 0;
    return v > DILL__SLOTS_MAX ? DILL__SLOTS_MAX : (int)v;
}

int dill_stackshare(int nslots) {
    struct dill__ctx *c = &dill__c;
    dill__cur();
    if(nslots < 0 || nslots > DILL__SLOTS_MAX) {errno = EINVAL; return -1;}
    if(nslots > c->capslots) {
        struct dill__slot **v = realloc(c->slots, (size_t)nslots *
            sizeof(struct dill__slot*));
        if(!v) {errno = ENOMEM; return -1;}
        memset(v + c->capslots, 0, (size_t)(nslots - c->capslots) *
            sizeof(struct dill__slot*));
        c->slots = v;
        c->capslots = nslots;
    }
    if(nslots && dill__xfer_init() < 0) {errno = ENOMEM; return -1;}
    c->nslots = nslots;
    c->slot_rr = 0;
    return 0;
}

int dill_stackshared(void) {
    dill__cur();
    return (int)dill__c.nevicted;
}

/* At thread exit, after the handles (so no coroutine is bound any more);
   the stacks go with the rest. */
static void dill__slots_term(void) {
    struct dill__ctx *c = &dill__c;
    for(int i = 0; i != c->capslots; i++) {
        if(!c->slots[i]) continue;
#if DILL_VALGRIND
        VALGRIND_STACK_DEREGISTER(c->slots[i]->vgid);
#endif
#if DILL_ASAN
        /* The range may be mapped again (as fresh stacks), and ASan's
           shadow outlives the mapping. */
        __asan_unpoison_memory_region(c->slots[i]->stack, c->slots[i]->size);
#endif
        free(c->slots[i]);
    }
    free(c->slots);
    c->slots = NULL;
    c->nslots = c->capslots = 0;
#if DILL_VALGRIND
    if(c->xfer_stack) VALGRIND_STACK_DEREGISTER(c->xfer.vgid);
#endif
#if DILL_TSAN
    if(c->xfer_stack) __tsan_destroy_fiber(c->xfer.tsan_fiber);
#endif
#if DILL_ASAN
    /* Its frames are where a stack's coroutine record goes. */
    if(c->xfer_stack)
        __asan_unpoison_memory_region(c->xfer_stack, c->xfer_size);
#endif
    c->xfer_stack = NULL;
}

/******************************************************************************/
/*  Deferred work                                                             */
/******************************************************************************/

/* Rounds of deferred work per switch.  A run function may queue work of
   the layer below it (TLS pushes a record into the socket's gathered
   writes), which then runs in the next round of the same switch; the
   bound keeps a run function that requeues itself from looping here
   forever (what is left runs at the next switch, and the scheduler then
   polls without waiting). */
#define DILL__DEFER_ROUNDS 4

static void dill__defer_run(void) {
    struct dill__ctx *c = &dill__c;
    if(!c->initialized) return;
    for(int round = 0; round != DILL__DEFER_ROUNDS; round++) {
        if(dill__list_empty(&c->deferred)) return;
        /* Items queued while running wait for the next round. */
        struct dill__list batch;
        batch.next = c->deferred.next;
        batch.prev = c->deferred.prev;
        batch.next->prev = &batch;
        batch.prev->next = &batch;
        dill__list_init(&c->deferred);
        while(!dill__list_empty(&batch)) {
            struct dill__defer *d = dill__cont(batch.next, struct dill__defer,
                item);
            dill__list_erase(&d->item);
            d->run(d);
        }
    }
}

static void dill__defer_atexit(void) {
    dill__defer_run();
    dill__uring_settle(1000);
}

/* Writes gathered in main's last turn still go out when the program
   returns from main or calls exit(). */
static pthread_once_t dill__defer_once = PTHREAD_ONCE_INIT;
static int dill__defer_registered;

static void dill__defer_register(void) {
    atexit(dill__defer_atexit);
    __atomic_store_n(&dill__defer_registered, 1, __ATOMIC_RELEASE);
}

void dill__texit_add(struct dill__texit *e) {
    if(!dill__list_empty(&e->item)) return;
    dill__cur();
    dill__list_push(&dill__c.texit, &e->item);
}

void dill__defer(struct dill__defer *d) {
    if(!dill__list_empty(&d->item)) return;
    if(dill__slow(!__atomic_load_n(&dill__defer_registered,
       __ATOMIC_ACQUIRE)))
        pthread_once(&dill__defer_once, dill__defer_register);
    dill__cur();
    dill__list_push(&dill__c.deferred, &d->item);
}

/* Picks the next coroutine to run, polling for events as needed.  Not
   inlined into the waits: its frame is gone by the time they switch. */
__attribute__((noinline)) static struct dill__cr *dill__next(void) {
    struct dill__ctx *c = &dill__c;
    while(1) {
        /* Also work that poller callbacks deferred (a completed ring send
           lets the layer above push more). */
        if(dill__slow(!dill__list_empty(&c->deferred))) dill__defer_run();
        if(dill__fast(c->ready != NULL)) {
            /* Even when coroutines are always ready, file descriptors and
               timers get their turn. */
            if(dill__slow(++c->ticks >= 64)) {
                c->ticks = 0;
                if(dill__poller_busy()) dill__poller_wait(0);
                dill__twake_poll();
                if(dill__timer_next() >= 0) dill__timer_fire(dill_now());
                if(dill__slow(c->hib_ms >= 0)) dill__hib_tick(dill_now());
            }
            struct dill__cr *cr = c->ready;
            c->ready = cr->next_ready;
            if(!c->ready) c->ready_tail = &c->ready;
            if(dill__slow(cr->hibernated)) {
                if(!cr->slot) return dill__hib_wake(cr);
                cr = dill__slot_bring(cr);
                if(!cr) continue;
            }
            return cr;
        }
        int64_t nt = dill__timer_next();
        if(dill__slow(dill__hib_pending()) && (nt < 0 || c->hib_next < nt))
            nt = c->hib_next;
        if(dill__slow(dill__bp_us != 0) &&
           dill__busypoll(&c->ready, &c->deferred, nt))
            continue;
        int timeout = -1;
        if(nt >= 0) {
            int64_t n = dill__now_exact();
            timeout = nt > n ? (int)(nt - n < 0x7fffffff ? nt - n : 0x7fffffff)
                : 0;
        }
        if(dill__slow(!dill__list_empty(&c->deferred))) timeout = 0;
        dill__poller_wait(timeout);
        if(nt >= 0) {
            int64_t n = dill__now_exact();
            dill__timer_fire(n);
            if(dill__slow(c->hib_ms >= 0)) dill__hib_tick(n);
        }
    }
}

/* Suspends the running coroutine (which must already be registered
   somewhere to be resumed) and runs others until it is resumed.  Inlined:
   every frame between a blocked call and the switch is in the copy of a
   hibernated coroutine. */
__attribute__((always_inline)) static inline void dill__suspend(void) {
    struct dill__ctx *c = &dill__c;
    struct dill__cr *cur = c->r;
    struct dill__cr *next = dill__next();
    if(next == cur) {
        dill__c.hib_from = NULL;
        return;
    }
    dill__setrunning(next);
#if DILL_ASAN
    c->asan_from = cur;
    __sanitizer_start_switch_fiber(&cur->asan_fake, next->asan_bottom,
        next->asan_size);
#endif
    DILL__TSAN_SWITCH(next);
#if defined(DILL_PORTABLE_CTX)
    /* _setjmp's stack pointer is mangled: the frames below this one
       (dill__swap, _setjmp) fit in this much. */
    cur->sp = (char*)__builtin_frame_address(0) - 1024;
#endif
    dill__swap(DILL__JB(&cur->ctx), DILL__JB(&next->ctx));
    dill__arrived(cur, 0);
}

/******************************************************************************/
/*  Waiting                                                                   */
/******************************************************************************/

void dill__waitfor(struct dill__clause *cl, int id,
      void (*cancel)(struct dill__clause *cl)) {
    struct dill__cr *cr = dill__cur();
    cl->cr = cr;
    cl->id = id;
    cl->cancel = cancel;
    cl->move = NULL;
    cl->next = cr->clauses;
    cr->clauses = cl;
}

static void dill__resume(struct dill__cr *cr, int id, int err) {
    struct dill__clause *cl = cr->clauses;
    while(cl) {
        struct dill__clause *next = cl->next;
        if(cl->cancel) cl->cancel(cl);
        cl = next;
    }
    cr->clauses = NULL;
    dill__list_erase(&cr->hib_item);
    cr->waiting = 0;
    cr->wait_id = id;
    cr->wait_err = err;
    dill__push_ready(cr);
}

void dill__trigger(struct dill__clause *cl, int err) {
    if(cl->cr->waiting) dill__resume(cl->cr, cl->id, err);
}

static void dill__unwait(struct dill__cr *cr) {
    struct dill__clause *cl = cr->clauses;
    while(cl) {
        struct dill__clause *next = cl->next;
        if(cl->cancel) cl->cancel(cl);
        cl = next;
    }
    cr->clauses = NULL;
}

/* dill__wait and dill__wait_err are each one frame (see dill__suspend). */
__attribute__((always_inline)) static inline int dill__wait_in(
      int64_t deadline, int cancellable, int *err) {
    struct dill__cr *cr = dill__cur();
    if(cancellable && dill__slow(cr->f.canceled || cr->f.noblock)) {
        dill__unwait(cr);
        *err = ECANCELED;
        return -1;
    }
    if(deadline >= 0) {
        if(deadline == 0 || deadline <= dill_now()) {
            dill__unwait(cr);
            *err = ETIMEDOUT;
            return -1;
        }
        dill__timer_add(&cr->timer, deadline, -1);
    }
    cr->waiting = 1;
    cr->cancellable = !!cancellable;
    struct dill__ctx *c = &dill__c;
    if(dill__slow(cr->slot != NULL)) {
        /* It may be movable now. */
        if(cr->slot->q) dill__slot_release(cr->slot);
    }
    else if(dill__slow(c->hib_ms >= 0) && cr->stack) {
        cr->wait_epoch = c->epoch;
        dill__list_push(&c->sleepers, &cr->hib_item);
    }
    dill__suspend();
    *err = cr->wait_err;
    return cr->wait_id;
}

int dill__wait_err(int64_t deadline, int cancellable, int *err) {
    return dill__wait_in(deadline, cancellable, err);
}

int dill__wait(int64_t deadline, int cancellable) {
    int err;
    int id = dill__wait_in(deadline, cancellable, &err);
    errno = err;
    return id;
}

int dill__canblock_slow(void) {
    dill__cur();
    return dill__canblock();
}

int dill_yield(void) {
    if(dill__slow(dill__canblock() < 0)) return -1;
    struct dill__cr *cr = dill__c.r;
    /* Whoever waits for our shared stack goes first, and may evict us. */
    if(dill__slow(cr->slot != NULL)) {
        cr->yielded = 1;
        if(cr->slot->q) dill__slot_release(cr->slot);
    }
    dill__push_ready(cr);
    dill__suspend();
    cr->yielded = 0;
    return 0;
}

static int dill__busy_yield(int64_t deadline) {
    struct dill__ctx *c = &dill__c;
    if(dill__canblock() < 0) return -1;
    if(deadline != -1 && (deadline == 0 || dill_now() >= deadline)) {
        errno = ETIMEDOUT;
        return -1;
    }
    /* Without a poll now, a flooded connection would get up to 64 such
       turns before other sockets are even looked at. */
    c->ticks = 63;
    return dill_yield();
}

int dill__busy(int64_t deadline) {
    struct dill__ctx *c = &dill__c;
    if(dill__fast(++c->busy % DILL__BUSY_UNITS)) return 0;
    return dill__busy_yield(deadline);
}

int dill__busy_n(int64_t deadline, unsigned n) {
    struct dill__ctx *c = &dill__c;
    unsigned before = c->busy;
    c->busy += n;
    if(dill__fast(before / DILL__BUSY_UNITS == c->busy / DILL__BUSY_UNITS))
        return 0;
    return dill__busy_yield(deadline);
}

int dill_msleep(int64_t deadline) {
    if(dill__canblock() < 0) return -1;
    int rc = dill__wait(deadline, 1);
    if(rc < 0 && errno == ETIMEDOUT) {errno = 0; return 0;}
    return -1;
}

/* Marks cr cancelled; if it is blocked its wait fails with ECANCELED. */
static void dill__cancel(struct dill__cr *cr) {
    cr->f.canceled = 1;
    if(cr->waiting && cr->cancellable) dill__resume(cr, -1, ECANCELED);
}

/******************************************************************************/
/*  Pins                                                                      */
/******************************************************************************/

/* A coroutine inside an object being closed: a cancellable wait fails
   now with EBADF; one that was woken but has not run yet returns EBADF
   instead of what woke it (the object is gone: what it got is moot).
   Waits that ignore cancellation (close callbacks) are left alone. */
static void dill__evict(struct dill__cr *cr) {
    if(cr == dill__c.r) return;
    if(cr->waiting) {
        if(cr->cancellable) dill__resume(cr, -1, EBADF);
        return;
    }
    cr->wait_id = -1;
    cr->wait_err = EBADF;
}

void dill__pin_close(struct dill__pin *p, void (*free)(struct dill__pin *p)) {
    for(struct dill__pinref *r = p->holders; r; r = r->next) {
        r->free = free;
        dill__evict(dill__cont(r->f, struct dill__cr, f));
    }
    if(!p->holders) free(p);
}

void dill__pin_nofree(struct dill__pin *p) {
    (void)p;
}

int dill__pin_busy_n(struct dill__pin *p, int64_t deadline, unsigned n) {
    int rc = dill__busy_n(deadline, n);
    if(dill__slow(dill__pin_closed(p))) {errno = EBADF; return -1;}
    return rc;
}

int dill__pin_busy(struct dill__pin *p, int64_t deadline) {
    return dill__pin_busy_n(p, deadline, 1);
}

/******************************************************************************/
/*  Bundles                                                                   */
/******************************************************************************/

static const int dill__bundle_type_placeholder = 0;
const void *dill__bundle_type = &dill__bundle_type_placeholder;

struct dill__bwaiter {
    struct dill__clause cl;
    struct dill__list item;
};

static void dill__bwaiter_cancel(struct dill__clause *cl) {
    dill__list_erase(&dill__cont(cl, struct dill__bwaiter, cl)->item);
}

static void dill__bwaiter_move(struct dill__clause *cl,
      const struct dill__move *m) {
    struct dill__bwaiter *w = dill__cont(cl, struct dill__bwaiter, cl);
    if(dill__move_keeping(m)) {dill__move_keep(m, w, sizeof(*w)); return;}
    dill__list_moved(&w->item, m);
}

static void *dill__bundle_query(struct dill_hvfs *vfs, const void *type) {
    if(dill__fast(type == dill__bundle_type))
        return dill__cont(vfs, struct dill__bundle, vfs);
    errno = ENOTSUP;
    return NULL;
}

/* Waits until the bundle has no coroutines; cancellable as asked. */
static int dill__bundle_drain(struct dill__bundle *b, int64_t deadline,
      int cancellable) {
    while(!dill__list_empty(&b->crs)) {
        struct dill__bwaiter w;
        dill__list_push(&b->waiters, &w.item);
        dill__waitfor(&w.cl, 0, dill__bwaiter_cancel);
        w.cl.move = dill__bwaiter_move;
        if(dill__wait(deadline, cancellable) < 0) return -1;
    }
    return 0;
}

static void dill__stack_release(struct dill__cr *cr) {
#if DILL_TSAN
    __tsan_destroy_fiber(cr->tsan_fiber);
#endif
    if(cr->slot) {dill__slot_free(cr); return;}
#if DILL_VALGRIND
    VALGRIND_STACK_DEREGISTER(cr->vgid);
#endif
    if(cr->stack) dill__stack_free(cr->stack, cr->stacksz);
}

static void dill__bundle_close(struct dill_hvfs *vfs) {
    struct dill__bundle *b = dill__cont(vfs, struct dill__bundle, vfs);
    struct dill__list *it;
    for(it = b->crs.next; it != &b->crs; it = it->next)
        dill__cancel(dill__cont(it, struct dill__cr, bundle_item));
    /* Structured concurrency: nothing outlives its owner. */
    dill__bundle_drain(b, -1, 0);
    if(b->embedded) {
        dill__stack_release(dill__cont(b, struct dill__cr, own));
        return;
    }
    if(!b->mem) free(b);
}

static void dill__bundle_init(struct dill__bundle *b) {
    b->vfs.query = dill__bundle_query;
    b->vfs.close = dill__bundle_close;
    dill__list_init(&b->crs);
    dill__list_init(&b->waiters);
    b->mem = 0;
    b->embedded = 0;
}

int dill_bundle_mem(struct dill_bundle_storage *mem) {
    if(dill__slow(!mem)) {errno = EINVAL; return -1;}
    struct dill__bundle *b = (struct dill__bundle*)mem;
    dill__bundle_init(b);
    b->mem = 1;
    return dill_hmake(&b->vfs);
}

int dill_bundle(void) {
    struct dill__bundle *b = malloc(sizeof(struct dill__bundle));
    if(dill__slow(!b)) {errno = ENOMEM; return -1;}
    dill__bundle_init(b);
    int h = dill_hmake(&b->vfs);
    if(dill__slow(h < 0)) {int err = errno; free(b); errno = err; return -1;}
    return h;
}

int dill_bundle_wait(int bndl, int64_t deadline) {
    struct dill__bundle *b = dill_hquery(bndl, dill__bundle_type);
    if(dill__slow(!b)) return -1;
    if(dill__list_empty(&b->crs)) return 0;
    if(dill__canblock() < 0) return -1;
    return dill__bundle_drain(b, deadline, 1);
}

/******************************************************************************/
/*  Coroutine life cycle                                                      */
/******************************************************************************/

int dill_prologue(struct dill_jmpbuf **jb, void **ptr, size_t len, int bndl,
      const char *file, int line) {
    if(dill__slow(dill__canblock() < 0)) return -1;
    struct dill__cr *parent = dill__c.r;
    struct dill__bundle *b = NULL;
    if(bndl >= 0) {
        b = dill_hquery(bndl, dill__bundle_type);
        if(dill__slow(!b)) return -1;
    }
    char *stk = *ptr;
    size_t sz = len;
    int fresh = 0;
    struct dill__slot *slot = NULL;
    if(stk) {
        if(dill__slow(sz < sizeof(struct dill__cr) + DILL_STACK_SLACK + 1024)) {
            errno = EINVAL;
            return -1;
        }
    }
    else {
        /* Shared stacks: see there for who is left out. */
        if(dill__slow(dill__c.nslots != 0) && b && !parent->f.awake)
            slot = dill__slot_pick(parent);
        if(slot) {
            stk = slot->stack;
            sz = slot->size;
        }
        else stk = dill__stack_alloc(&sz, &fresh);
        if(dill__slow(!stk)) {errno = ENOMEM; return -1;}
    }
    struct dill__cr *cr = dill__cr_top(stk, sz);
    cr->clauses = NULL;
    cr->timer.idx = 0;
    cr->waiting = 0;
    cr->f.canceled = 0;
    cr->f.noblock = 0;
    cr->f.awake = 0;
    cr->f.pins = NULL;
    cr->done = 0;
    cr->stack = *ptr ? NULL : stk;
    cr->stacksz = *ptr ? 0 : (uint32_t)sz;
    dill__list_init(&cr->hib_item);
    cr->hibernated = 0;
    cr->yielded = 0;
    cr->slot = slot;
    int h = 0;
    if(!b) {
        b = &cr->own;
        dill__bundle_init(b);
        b->embedded = 1;
        h = dill_hmake(&b->vfs);
        if(dill__slow(h < 0)) {
            int err = errno;
            if(cr->stack) dill__stack_free(stk, sz);
            errno = err;
            return -1;
        }
    }
    cr->bundle = b;
    dill__list_push(&b->crs, &cr->bundle_item);
    if(slot) {
        slot->busy = 1;
        slot->nbound++;
    }
#if DILL_VALGRIND
    cr->vgid = slot ? 0 : VALGRIND_STACK_REGISTER(stk, (char*)cr);
#endif
    char *sp = (char*)(((uintptr_t)cr - DILL_STACK_SLACK) & ~(uintptr_t)15);
    *ptr = sp;
    *jb = DILL__JB(&parent->ctx);
#if defined(DILL_PORTABLE_CTX)
    /* The caller saves its context right after this returns, from the
       frame this was called from: where a copy of its stack starts if it
       is evicted from a shared stack before it runs again. */
    parent->sp = (char*)__builtin_frame_address(0) - 1024;
#endif
    /* The new coroutine runs at once; the parent waits its turn. */
    dill__push_ready(parent);
    dill__setrunning(cr);
#if DILL_ASAN
    cr->asan_fake = NULL;
    cr->asan_bottom = stk;
    cr->asan_size = (size_t)(sp - stk);
    dill__c.asan_from = parent;
    __sanitizer_start_switch_fiber(&parent->asan_fake, stk, cr->asan_size);
    /* Frames of the stack's previous coroutine left their redzones. */
    if(!fresh) __asan_unpoison_memory_region(stk, (size_t)((char*)cr - stk));
#endif
#if DILL_TSAN
    /* The go() macro moves to the new stack right after this returns. */
    cr->tsan_fiber = __tsan_create_fiber(0);
    __tsan_switch_to_fiber(cr->tsan_fiber, 0);
#endif
    (void)file; (void)line; (void)fresh;
    return h;
}

void dill_enter_(void) {
    dill__arrived(dill__c.r, 1);
}

void dill_epilogue(void) {
    struct dill__ctx *c = &dill__c;
    struct dill__cr *cr = c->r;
    cr->done = 1;
    dill__unwait(cr);
    struct dill__bundle *b = cr->bundle;
    dill__list_erase(&cr->bundle_item);
    if(dill__list_empty(&b->crs)) {
        while(!dill__list_empty(&b->waiters)) {
            struct dill__bwaiter *w = dill__cont(b->waiters.next,
                struct dill__bwaiter, item);
            dill__list_erase(&w->item);
            dill__trigger(&w->cl, 0);
        }
    }
    /* A go() coroutine's memory holds its handle's bundle: hclose frees it.
       Otherwise free the stack once we are off it. */
    if(!b->embedded) c->zombie = cr;
    if(dill__slow(cr->slot != NULL)) {
        /* Whoever waits for the slot can have it once we are off it. */
        if(cr->slot->q) dill__slot_release(cr->slot);
#if DILL_ASAN
        /* The frames left here stay poisoned. */
        dill__slot_reach(cr->slot, (char*)__builtin_frame_address(0) - 1024);
#endif
    }
    struct dill__cr *next = dill__next();
    dill__setrunning(next);
#if DILL_ASAN
    c->asan_from = cr;
    __sanitizer_start_switch_fiber(NULL, next->asan_bottom, next->asan_size);
#endif
    DILL__TSAN_SWITCH(next);
    dill__longjmp(DILL__JB(&next->ctx));
}

static void dill__reap(void) {
    struct dill__cr *z = dill__c.zombie;
    dill__c.zombie = NULL;
    dill__stack_release(z);
}

/* Called in the go() macro when the parent is resumed. */
DILL_EXPORT void dill_resume_(void);
__attribute__((noinline)) void dill_resume_(void) {
#if DILL_ASAN
    /* The go() macro's alloca left poisoned redzones below the caller's
       stack pointer and the jump back skipped their cleanup. */
    char *fa = __builtin_frame_address(0);
    __asan_unpoison_memory_region(fa - 2048, 2048 + 16);
#endif
    dill__arrived(dill__c.r, 0);
}
