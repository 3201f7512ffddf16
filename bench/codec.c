/* Codec micro-benchmarks: WebSocket masking and UTF-8 validation, each
   compared in the same run with a naive byte-by-byte loop (compiled with
   auto-vectorization disabled, so it really is byte by byte).  Buffers are
   64 KiB and stay in cache; figures are best of 3, in GB/s of thread CPU
   time.

   Usage: bench_codec [seconds per measurement, default 0.3] */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/wsframe.h"
#include "util/utf8.h"

#if defined __clang__
#define NOVEC
#define NOVEC_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define NOVEC __attribute__((optimize("no-tree-vectorize")))
#define NOVEC_LOOP
#endif

#define BARRIER() __asm__ volatile("" ::: "memory")

/* CPU time of this thread: the machine may be shared, and time spent
   descheduled says nothing about the code. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double min_time = 0.3;

/* Runs fn(arg) repeatedly for about min_time seconds, three times, and
   returns the best throughput in GB/s given bytes per call. */
static double measure(void (*fn)(void*), void *arg, size_t bytes) {
    double best = 0;
    for(int rep = 0; rep != 3; rep++) {
        size_t calls = 0;
        double start = now_s(), t;
        do {
            for(int i = 0; i != 16; i++) fn(arg);
            calls += 16;
            t = now_s() - start;
        } while(t < min_time);
        double gbs = (double)calls * (double)bytes / t / 1e9;
        if(gbs > best) best = gbs;
    }
    return best;
}

/******************************************************************************/
/*  Masking                                                                   */
/******************************************************************************/

NOVEC __attribute__((noinline))
static void naive_mask(uint8_t *d, const uint8_t *s, size_t n,
      const uint8_t key[4], size_t off) {
    NOVEC_LOOP
    for(size_t i = 0; i != n; i++) d[i] = s[i] ^ key[(off + i) & 3];
}

#define BIG (64 * 1024)
static uint8_t src[BIG], dst[BIG];
static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

static void mask_big(void *arg) {
    dill__ws_mask(dst, src, BIG, key, 0);
    BARRIER();
}

static void mask_big_naive(void *arg) {
    naive_mask(dst, src, BIG, key, 0);
    BARRIER();
}

/* 4096 separate 16-byte frames per call: the cost of short payloads. */
static void mask_small(void *arg) {
    for(size_t i = 0; i != BIG; i += 16) {
        dill__ws_mask(dst + i, src + i, 16, key, 0);
        BARRIER();
    }
}

static void mask_small_naive(void *arg) {
    for(size_t i = 0; i != BIG; i += 16) {
        naive_mask(dst + i, src + i, 16, key, 0);
        BARRIER();
    }
}

/******************************************************************************/
/*  UTF-8                                                                     */
/******************************************************************************/

/* A straightforward validator: decode each character with branches. */
NOVEC __attribute__((noinline))
static int naive_utf8(const uint8_t *p, size_t n) {
    size_t i = 0;
    NOVEC_LOOP
    while(i < n) {
        uint8_t c = p[i];
        if(c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;
        if(c >= 0xC2 && c <= 0xDF) need = 1;
        else if(c == 0xE0) need = 2, lo = 0xA0;
        else if(c == 0xED) need = 2, hi = 0x9F;
        else if(c >= 0xE1 && c <= 0xEF) need = 2;
        else if(c == 0xF0) need = 3, lo = 0x90;
        else if(c == 0xF4) need = 3, hi = 0x8F;
        else if(c >= 0xF1 && c <= 0xF3) need = 3;
        else return 0;
        if(n - i <= need) return 0;
        if(p[i + 1] < lo || p[i + 1] > hi) return 0;
        for(size_t k = 2; k <= need; k++)
            if((p[i + k] & 0xC0) != 0x80) return 0;
        i += need + 1;
    }
    return 1;
}

static uint8_t ascii[BIG], mixed[BIG];
static size_t mixed_len;
static volatile int sink;

static void utf8_ascii(void *arg) {
    sink = dill__utf8_valid(ascii, BIG);
}

static void utf8_ascii_naive(void *arg) {
    sink = naive_utf8(ascii, BIG);
}

static void utf8_mixed(void *arg) {
    sink = dill__utf8_valid(mixed, mixed_len);
}

/* Fed in pieces below the size where the validator splits its input
   into two interleaved streams: the single-stream speed. */
static void utf8_mixed_pieces(void *arg) {
    struct dill__utf8 u;
    dill__utf8_init(&u);
    int r = 0;
    for(size_t i = 0; i < mixed_len; i += 255) {
        size_t k = mixed_len - i < 255 ? mixed_len - i : 255;
        r |= dill__utf8_feed(&u, mixed + i, k);
    }
    sink = r;
}

static void utf8_mixed_naive(void *arg) {
    sink = naive_utf8(mixed, mixed_len);
}

static size_t put_cp(uint8_t *o, uint32_t cp) {
    if(cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if(cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if(cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static void make_texts(void) {
    uint32_t r = 12345;
    for(size_t i = 0; i != BIG; i++) {
        r = r * 1103515245u + 12345u;
        ascii[i] = (uint8_t)(0x20 + (r >> 16) % 95);
    }
    /* Mixed: by characters 40% ASCII, 30% Cyrillic/Greek (2 bytes), 20%
       CJK (3 bytes), 10% emoji (4 bytes); about 57% of the bytes are
       non-ASCII. */
    size_t n = 0;
    while(n + 4 <= BIG) {
        r = r * 1103515245u + 12345u;
        unsigned k = (r >> 16) % 10, v = (r >> 8) % 256;
        uint32_t cp = k < 4 ? 0x20 + v % 95 : k < 7 ? 0x391 + v :
            k < 9 ? 0x4E00 + v * 37 : 0x1F600 + v % 80;
        n += put_cp(mixed + n, cp);
    }
    mixed_len = n;
}

int main(int argc, char *argv[]) {
    if(argc > 1) min_time = atof(argv[1]);
    for(size_t i = 0; i != BIG; i++) src[i] = (uint8_t)(i * 31 + 7);
    make_texts();
    if(!dill__utf8_valid(ascii, BIG) || !naive_utf8(ascii, BIG) ||
          !dill__utf8_valid(mixed, mixed_len) ||
          !naive_utf8(mixed, mixed_len)) {
        fprintf(stderr, "benchmark texts are not valid UTF-8\n");
        return 1;
    }
    double a, b;
    printf("%-34s %10s %10s %8s\n", "benchmark", "dill GB/s", "naive GB/s",
        "speedup");
    a = measure(mask_big, NULL, BIG);
    b = measure(mask_big_naive, NULL, BIG);
    printf("%-34s %10.2f %10.2f %7.1fx\n", "mask, 64 KiB buffer", a, b,
        a / b);
    a = measure(mask_small, NULL, BIG);
    b = measure(mask_small_naive, NULL, BIG);
    printf("%-34s %10.2f %10.2f %7.1fx\n", "mask, 16-byte frames", a, b,
        a / b);
    printf("%-34s %10.1f %10.1f\n", "  (ns per 16-byte frame)",
        16 / a, 16 / b);
    a = measure(utf8_ascii, NULL, BIG);
    b = measure(utf8_ascii_naive, NULL, BIG);
    printf("%-34s %10.2f %10.2f %7.1fx\n", "utf8, ASCII text (64 KiB)", a, b,
        a / b);
    a = measure(utf8_mixed, NULL, mixed_len);
    b = measure(utf8_mixed_naive, NULL, mixed_len);
    printf("%-34s %10.2f %10.2f %7.1fx\n", "utf8, mixed multi-byte (64 KiB)",
        a, b, a / b);
    a = measure(utf8_mixed_pieces, NULL, mixed_len);
    printf("%-34s %10.2f %10.2f %7.1fx\n", "utf8, mixed, 255-byte pieces",
        a, b, a / b);
    return 0;
}
