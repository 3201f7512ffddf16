/* ChaCha20 block function against RFC 8439, and the per-thread CSPRNG:
   distinct output, rough statistics, threads and fork. */

#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "assert.h"
#include "util/random.h"

static void unhex(const char *s, uint8_t *out) {
    size_t n = 0;
    while(*s) {
        if(*s == ' ' || *s == ':' || *s == '\n') {s++; continue;}
        unsigned v;
        assert(sscanf(s, "%2x", &v) == 1);
        out[n++] = (uint8_t)v;
        s += 2;
    }
}

static void test_vectors(void) {
    /* RFC 8439, section 2.3.2. */
    uint8_t key[32], nonce[12], out[64], want[64];
    for(int i = 0; i < 32; i++) key[i] = (uint8_t)i;
    unhex("00:00:00:09:00:00:00:4a:00:00:00:00", nonce);
    unhex("10 f1 e7 e4 d1 3b 59 15 50 0f dd 1f a3 20 71 c4"
          "c7 d1 f4 c7 33 c0 68 03 04 22 aa 9a c3 d4 6c 4e"
          "d2 82 64 46 07 9f aa 09 14 c2 d7 05 d9 8b 02 a2"
          "b5 12 9c d1 de 16 4e b9 cb d0 83 e8 a2 50 3c 4e", want);
    dill__chacha20_block(key, 1, nonce, out);
    assert(memcmp(out, want, 64) == 0);
    /* RFC 8439, appendix A.1, test vector #1: all-zero key and nonce. */
    memset(key, 0, sizeof(key));
    memset(nonce, 0, sizeof(nonce));
    unhex("76 b8 e0 ad a0 f1 3d 90 40 5d 6a e5 53 86 bd 28"
          "bd d2 19 b8 a0 8d ed 1a a8 36 ef cc 8b 77 0d c7"
          "da 41 59 7c 51 57 48 8d 77 24 e0 3f b8 d8 4a 37"
          "6a 43 b8 f4 15 18 a1 1c c3 87 b6 69 b2 ee 65 86", want);
    dill__chacha20_block(key, 0, nonce, out);
    assert(memcmp(out, want, 64) == 0);
}

static int cmp16(const void *a, const void *b) {
    return memcmp(a, b, 16);
}

static void test_distinct(void) {
    enum {N = 20000};
    uint8_t (*v)[16] = malloc(N * 16);
    assert(v);
    for(int i = 0; i < N; i++) dill__random(v[i], 16);
    qsort(v, N, 16, cmp16);
    for(int i = 1; i < N; i++) assert(memcmp(v[i - 1], v[i], 16) != 0);
    free(v);
    /* 32-bit values: collisions among 20000 are possible (p ~ 5%) but
       more than a handful means something is broken. */
    uint32_t *u = malloc(N * sizeof(uint32_t));
    assert(u);
    for(int i = 0; i < N; i++) u[i] = dill__random_u32();
    int same = 0;
    for(int i = 1; i < N; i++) same += u[i] == u[i - 1];
    assert(same <= 2);
    free(u);
}

static void test_stats(void) {
    /* Requests of every size from 1 to 2000 bytes, so the refill boundary
       falls everywhere; then byte-frequency chi-square and bit balance. */
    size_t total = 0;
    for(size_t n = 1; n <= 2000; n++) total += n;
    uint8_t *buf = malloc(total);
    assert(buf);
    size_t off = 0;
    for(size_t n = 1; n <= 2000; n++) {
        dill__random(buf + off, n);
        off += n;
    }
    dill__random(buf, 0);
    double count[256] = {0};
    uint64_t ones = 0;
    for(size_t i = 0; i < total; i++) {
        count[buf[i]]++;
        ones += (uint64_t)__builtin_popcount(buf[i]);
    }
    double expect = (double)total / 256, chi = 0;
    for(int i = 0; i < 256; i++)
        chi += (count[i] - expect) * (count[i] - expect) / expect;
    /* 255 degrees of freedom: mean 255, sd ~22.6; allow ~6 sd. */
    fprintf(stderr, "random: %zu bytes, chi-square %.1f, ones %.5f\n",
        total, chi, (double)ones / (8.0 * (double)total));
    assert(chi > 120 && chi < 390);
    double bits = 8.0 * (double)total;
    /* Squared deviation in units of the standard deviation sqrt(bits)/2. */
    double d = (double)ones - bits / 2;
    assert(d * d / (0.25 * bits) < 36);
    /* No run of 16 zero bytes (a sign of handing out wiped buffer). */
    for(size_t i = 0; i + 16 <= total; i++) {
        static const uint8_t z[16];
        assert(memcmp(buf + i, z, 16) != 0);
    }
    free(buf);
}

static void *thread_fn(void *arg) {
    dill__random(arg, 32);
    return NULL;
}

static void test_threads(void) {
    uint8_t a[32], b[32], c[32];
    pthread_t t1, t2;
    assert(pthread_create(&t1, NULL, thread_fn, a) == 0);
    assert(pthread_create(&t2, NULL, thread_fn, b) == 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    dill__random(c, 32);
    assert(memcmp(a, b, 32) != 0);
    assert(memcmp(a, c, 32) != 0);
    assert(memcmp(b, c, 32) != 0);
}

/* Forks; the child sends its first 32 random bytes back.  Compares them
   with the parent's next 32 bytes: without a reseed in the child they
   would be identical. */
static void fork_check(void) {
    uint8_t mine[32], theirs[32], again[32];
    int fds[2];
    assert(pipe(fds) == 0);
    pid_t pid = fork();
    assert(pid >= 0);
    if(pid == 0) {
        uint8_t out[32];
        dill__random(out, sizeof(out));
        _exit(write(fds[1], out, sizeof(out)) == (ssize_t)sizeof(out) ?
            0 : 1);
    }
    dill__random(mine, sizeof(mine));
    ssize_t n = 0;
    while(n < (ssize_t)sizeof(theirs)) {
        ssize_t rc = read(fds[0], theirs + n, sizeof(theirs) - (size_t)n);
        assert(rc > 0);
        n += rc;
    }
    /* The child's exit status is not checked: receiving its bytes is the
       test, and under valgrind the child reports the parent's cached thread
       memory as leaked and exits non-zero. */
    assert(waitpid(pid, NULL, 0) == pid);
    close(fds[0]);
    close(fds[1]);
    assert(memcmp(mine, theirs, sizeof(mine)) != 0);
    /* Nor does the child's output continue the parent's stream later. */
    dill__random(again, sizeof(again));
    assert(memcmp(again, theirs, sizeof(again)) != 0);
}

static void test_fork(void) {
    /* First in a child process whose main thread's state relies on the
       pthread_atfork generation counter alone (no MADV_WIPEONFORK).  Done
       before this process has threads, so that valgrind sees no cached
       thread memory in the forked processes. */
    pid_t pid = fork();
    assert(pid >= 0);
    if(pid == 0) {
        dill__random_nowipe = 1;
        uint8_t warm[8];
        dill__random(warm, sizeof(warm));
        fork_check();
        fork_check();
        _exit(0);
    }
    int st;
    assert(waitpid(pid, &st, 0) == pid);
    assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Then with the default state (MADV_WIPEONFORK where available). */
    uint8_t warm[8];
    dill__random(warm, sizeof(warm));
    fork_check();
    fork_check();
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_speed(void) {
    /* Not a benchmark; just a sign that calls make no system call. */
    double t0 = now_s();
    uint32_t acc = 0;
    int n = 1000000;
    for(int i = 0; i < n; i++) acc ^= dill__random_u32();
    double dt = now_s() - t0;
    fprintf(stderr, "random: %.1f M dill__random_u32 calls/s (%x)\n",
        n / dt / 1e6, acc);
}

int main(void) {
    /* First: its nowipe child must make that process's first call. */
    test_fork();
    test_vectors();
    test_distinct();
    test_stats();
    test_threads();
    test_speed();
    return 0;
}
