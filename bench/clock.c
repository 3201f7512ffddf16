/* What a clock reading costs: now() against the clock it caches.
   Usage: bench_clock [millions of readings] */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "libdill.h"

static int64_t nsnow(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    long n = (long)((argc > 1 ? atof(argv[1]) : 10) * 1e6);
    volatile int64_t sink = 0;
    int64_t t = nsnow();
    for(long i = 0; i != n; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += ts.tv_nsec;
    }
    printf("clock_gettime(CLOCK_MONOTONIC) %8.1f ns\n",
        (double)(nsnow() - t) / n);
    t = nsnow();
    for(long i = 0; i != n; i++) sink += now();
    printf("now()                          %8.1f ns\n",
        (double)(nsnow() - t) / n);
    /* The largest lag seen between now() and the clock it caches. */
    int64_t lag = 0;
    for(long i = 0; i != n / 10; i++) {
        int64_t a = now();
        int64_t b = nsnow() / 1000000;
        if(b - a > lag) lag = b - a;
    }
    printf("largest lag of now()           %8lld ms\n", (long long)lag);
    return (int)(sink & 0);
}
