/* ChaCha20 as specified in RFC 8439, section 2; the generator construction
   follows D. J. Bernstein, "Fast-key-erasure random-number generators"
   (2017). */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "random.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

__thread int dill__random_nowipe;

static inline uint32_t dill__rotl(uint32_t x, int n) {
    return (x << n) | (x >> (32 - n));
}

static inline uint32_t dill__le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
        ((uint32_t)p[3] << 24);
}

#define DILL__QR(a, b, c, d) \
    do {\
        a += b; d ^= a; d = dill__rotl(d, 16);\
        c += d; b ^= c; b = dill__rotl(b, 12);\
        a += b; d ^= a; d = dill__rotl(d, 8);\
        c += d; b ^= c; b = dill__rotl(b, 7);\
    } while(0)

/* in: the 16-word state; out: 64 bytes of keystream (little-endian words of
   the state after 20 rounds plus the input state). */
static void dill__chacha20_core(const uint32_t in[16], uint8_t out[64]) {
    uint32_t x[16];
    memcpy(x, in, sizeof(x));
    for(int i = 0; i < 10; i++) {
        DILL__QR(x[0], x[4], x[8], x[12]);
        DILL__QR(x[1], x[5], x[9], x[13]);
        DILL__QR(x[2], x[6], x[10], x[14]);
        DILL__QR(x[3], x[7], x[11], x[15]);
        DILL__QR(x[0], x[5], x[10], x[15]);
        DILL__QR(x[1], x[6], x[11], x[12]);
        DILL__QR(x[2], x[7], x[8], x[13]);
        DILL__QR(x[3], x[4], x[9], x[14]);
    }
    for(int i = 0; i < 16; i++) {
        uint32_t v = x[i] + in[i];
        out[4 * i] = (uint8_t)v;
        out[4 * i + 1] = (uint8_t)(v >> 8);
        out[4 * i + 2] = (uint8_t)(v >> 16);
        out[4 * i + 3] = (uint8_t)(v >> 24);
    }
    /* The working state is a function of the key; do not leave it behind. */
    memset(x, 0, sizeof(x));
    __asm__ volatile("" :: "r"(x) : "memory");
}

static void dill__chacha20_setup(uint32_t st[16], const uint8_t key[32],
      uint32_t counter, const uint8_t nonce[12]) {
    st[0] = 0x61707865;
    st[1] = 0x3320646e;
    st[2] = 0x79622d32;
    st[3] = 0x6b206574;
    for(int i = 0; i < 8; i++)
        st[4 + i] = dill__le32(key + 4 * i);
    st[12] = counter;
    for(int i = 0; i < 3; i++)
        st[13 + i] = dill__le32(nonce + 4 * i);
}

void dill__chacha20_block(const uint8_t key[32], uint32_t counter,
      const uint8_t nonce[12], uint8_t out[64]) {
    uint32_t st[16];
    dill__chacha20_setup(st, key, counter, nonce);
    dill__chacha20_core(st, out);
    memset(st, 0, sizeof(st));
    __asm__ volatile("" :: "r"(st) : "memory");
}

/******************************************************************************/
/*  Per-thread generator                                                      */
/******************************************************************************/

/* Blocks produced per refill: the first 32 bytes become the next key, the
   other 736 are handed out. */
#define DILL__RNG_BLOCKS 12
#define DILL__RNG_BUFLEN (DILL__RNG_BLOCKS * 64)
#define DILL__RNG_KEYLEN 32

struct dill__rng {
    /* Zero means "seed before use".  MADV_WIPEONFORK zeroes the whole page
       in a forked child, so the child starts here. */
    int ready;
    /* dill__fork_gen when the state was seeded. */
    unsigned long gen;
    /* Next unread byte of buf; bytes before it are already wiped. */
    size_t pos;
    /* buf[0..32) is the current key, buf[32..768) unread output. */
    uint8_t buf[DILL__RNG_BUFLEN];
};

/* Incremented in every child process (pthread_atfork).  This catches fork()
   even where MADV_WIPEONFORK is unavailable (kernels before 4.14). */
static unsigned long dill__fork_gen;
static pthread_once_t dill__rng_once = PTHREAD_ONCE_INIT;
static pthread_key_t dill__rng_key;
static int dill__rng_key_ok;
static __thread struct dill__rng *dill__rng_self;
/* Used when no page can be mapped for the thread; fork detection then
   relies on dill__fork_gen alone. */
static __thread struct dill__rng dill__rng_fallback;

static void dill__rng_atfork_child(void) {
    __atomic_add_fetch(&dill__fork_gen, 1, __ATOMIC_RELAXED);
}

/* Runs at thread exit.  Clearing the thread's pointer makes a call from a
   later destructor map a fresh page instead of touching this one. */
static void dill__rng_destroy(void *p) {
    struct dill__rng *r = p;
    dill__rng_self = NULL;
    memset(r, 0, sizeof(*r));
    __asm__ volatile("" :: "r"(r) : "memory");
    munmap(r, (size_t)sysconf(_SC_PAGESIZE));
}

static void dill__rng_init_once(void) {
    pthread_atfork(NULL, NULL, dill__rng_atfork_child);
    dill__rng_key_ok = pthread_key_create(&dill__rng_key,
        dill__rng_destroy) == 0;
}

/* Reads n bytes of seed from the kernel or aborts. */
static void dill__rng_seed(uint8_t *p, size_t n) {
    size_t got = 0;
    while(got < n) {
        ssize_t rc = getrandom(p + got, n - got, 0);
        if(rc > 0) {got += (size_t)rc; continue;}
        if(rc < 0 && errno == EINTR) continue;
        break;
    }
    if(got == n) return;
    /* getrandom(2) missing (ENOSYS) or refused: try the device. */
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if(fd < 0) abort();
    while(got < n) {
        ssize_t rc = read(fd, p + got, n - got);
        if(rc > 0) {got += (size_t)rc; continue;}
        if(rc < 0 && errno == EINTR) continue;
        abort();
    }
    close(fd);
}

/* Replaces the key and output with the next 768 bytes of keystream under
   the current key.  The old key is overwritten in the process. */
static void dill__rng_refill(struct dill__rng *r) {
    static const uint8_t nonce[12] = {0};
    uint32_t st[16];
    dill__chacha20_setup(st, r->buf, 0, nonce);
    for(int i = 0; i < DILL__RNG_BLOCKS; i++) {
        st[12] = (uint32_t)i;
        dill__chacha20_core(st, r->buf + 64 * i);
    }
    memset(st, 0, sizeof(st));
    __asm__ volatile("" :: "r"(st) : "memory");
    r->pos = DILL__RNG_KEYLEN;
}

static struct dill__rng *dill__rng_alloc(void) {
    pthread_once(&dill__rng_once, dill__rng_init_once);
    size_t pagesz = (size_t)sysconf(_SC_PAGESIZE);
    if(!dill__rng_key_ok || sizeof(struct dill__rng) > pagesz)
        return &dill__rng_fallback;
    struct dill__rng *r = mmap(NULL, pagesz, PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if(r == MAP_FAILED) return &dill__rng_fallback;
    /* Failure of either is tolerable: the fork counter still works, and
       the key would merely appear in core dumps. */
    if(!dill__random_nowipe) madvise(r, pagesz, MADV_WIPEONFORK);
    madvise(r, pagesz, MADV_DONTDUMP);
    if(pthread_setspecific(dill__rng_key, r) != 0) {
        munmap(r, pagesz);
        return &dill__rng_fallback;
    }
    return r;
}

/* The calling thread's generator, seeded and ready to hand out bytes. */
static struct dill__rng *dill__rng_get(void) {
    struct dill__rng *r = dill__rng_self;
    if(__builtin_expect(r == NULL, 0)) r = dill__rng_self = dill__rng_alloc();
    unsigned long gen = __atomic_load_n(&dill__fork_gen, __ATOMIC_RELAXED);
    if(__builtin_expect(!r->ready || r->gen != gen, 0)) {
        dill__rng_seed(r->buf, DILL__RNG_KEYLEN);
        /* The seed itself is never output: it only keys the first refill. */
        dill__rng_refill(r);
        r->gen = gen;
        r->ready = 1;
    }
    return r;
}

void dill__random(void *buf, size_t n) {
    struct dill__rng *r = dill__rng_get();
    uint8_t *out = buf;
    while(n > 0) {
        if(r->pos == DILL__RNG_BUFLEN) dill__rng_refill(r);
        size_t take = DILL__RNG_BUFLEN - r->pos;
        if(take > n) take = n;
        memcpy(out, r->buf + r->pos, take);
        memset(r->buf + r->pos, 0, take);
        r->pos += take;
        out += take;
        n -= take;
    }
}

uint32_t dill__random_u32(void) {
    uint32_t v;
    dill__random(&v, sizeof(v));
    return v;
}
