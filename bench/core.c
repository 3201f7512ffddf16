/* Core runtime micro-benchmarks: prints ns per operation and the resident
   memory per blocked coroutine.  Usage: bench_core [scale] */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libdill.h"

static int64_t nsnow(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while(f && fgets(line, sizeof(line), f))
        if(!strncmp(line, "VmRSS:", 6)) kib = atol(line + 6);
    if(f) fclose(f);
    return kib;
}

coroutine static void yielder(int n) {
    for(int i = 0; i != n; i++) yield();
}

coroutine static void empty(void) {}

coroutine static void echo(int ch, int n) {
    int v;
    for(int i = 0; i != n; i++) {
        chrecv(ch, &v, sizeof(v), -1);
        chsend(ch, &v, sizeof(v), -1);
    }
}

coroutine static void chooser(int ch, int n) {
    int v;
    struct chclause cl[] = {{CHRECV, ch, &v, sizeof(v)}};
    for(int i = 0; i != n; i++) choose(cl, 1, -1);
}

coroutine static void blocked(int ch) {
    int v;
    chrecv(ch, &v, sizeof(v), -1);
}

static void report(const char *what, int64_t ns, long n) {
    printf("%-44s %8.1f ns\n", what, (double)ns / n);
}

int main(int argc, char **argv) {
    double scale = argc > 1 ? atof(argv[1]) : 1;
    long n = (long)(2000000 * scale) & ~3L;
    int64_t t;

    /* Context switch: two coroutines yielding to each other. */
    int h1 = go(yielder(n / 2));
    int h2 = go(yielder(n / 2));
    t = nsnow();
    bundle_wait(h1, -1);
    bundle_wait(h2, -1);
    report("context switch (yield)", nsnow() - t, n);
    hclose(h1);
    hclose(h2);

    /* go() + hclose() of an empty coroutine. */
    t = nsnow();
    for(long i = 0; i != n; i++) {
        int h = go(empty());
        hclose(h);
    }
    report("go + hclose (empty coroutine)", nsnow() - t, n);

    /* Channel message: one send + one receive (half a round trip). */
    int ch[2];
    chmake(ch);
    int h = go(echo(ch[1], n / 2));
    int v = 0;
    t = nsnow();
    for(long i = 0; i != n / 2; i++) {
        chsend(ch[0], &v, sizeof(v), -1);
        chrecv(ch[0], &v, sizeof(v), -1);
    }
    report("channel message (send+recv)", nsnow() - t, n);
    hclose(h);

    /* choose with one clause against a sender. */
    h = go(chooser(ch[1], n));
    t = nsnow();
    for(long i = 0; i != n; i++) chsend(ch[0], &v, sizeof(v), -1);
    report("choose (1 clause, per message)", nsnow() - t, n);
    hclose(h);

    /* Timer: a wait whose deadline has already passed, and a real timer
       armed and disarmed by a rendezvous. */
    t = nsnow();
    for(long i = 0; i != n; i++) msleep(now() - 1);
    report("msleep expiring at once", nsnow() - t, n);
    h = go(echo(ch[1], n / 2));
    t = nsnow();
    for(long i = 0; i != n / 2; i++) {
        chsend(ch[0], &v, sizeof(v), now() + 1000);
        chrecv(ch[0], &v, sizeof(v), now() + 1000);
    }
    report("channel message with deadline timer", nsnow() - t, n);
    hclose(h);

    /* Cancellation: start a coroutine blocked in chrecv, then hclose it. */
    t = nsnow();
    for(long i = 0; i != n / 4; i++) {
        h = go(blocked(ch[1]));
        hclose(h);
    }
    report("coroutine+channel cancellation", nsnow() - t, n / 4);
    hclose(ch[0]);
    hclose(ch[1]);

    /* Memory: 100,000 coroutines blocked in chrecv. */
    long M = argc > 2 ? atol(argv[2]) : 100000;
    chmake(ch);
    long before = rss_kib();
    int b = bundle();
    for(int i = 0; i != M; i++) bundle_go(b, blocked(ch[1]));
    long after = rss_kib();
    printf("%-44s %8.2f KiB\n", "resident memory per blocked coroutine",
        (double)(after - before) / M);
    t = nsnow();
    hclose(b);
    report("cancel one of 100,000 blocked coroutines", nsnow() - t, M);
    hclose(ch[0]);
    hclose(ch[1]);
    return 0;
}
