/* Shared by the hub-over-Redis benchmarks (bench/hub_redis.c,
   bench/hub_cluster.c): their arguments and latency percentiles.
   Header-only. */

#ifndef DILL_BENCH_FANOUT_H
#define DILL_BENCH_FANOUT_H

#include <stdio.h>
#include <stdlib.h>

struct fanout_args {
    int nodes, per, msgs, rounds;
};

/* Reads [nodes] [subs] [msgs] [rounds] from argv[first...] (defaults 3,
   1000, 200, 3); prints usage and exits with 2 when they are bad. */
static void fanout_args(int argc, char **argv, int first, const char *usage,
      struct fanout_args *a) {
    int v[4] = {3, 1000, 200, 3};
    for(int i = 0; i != 4; i++)
        if(argc > first + i) v[i] = atoi(argv[first + i]);
    *a = (struct fanout_args){v[0], v[1], v[2], v[3]};
    if(a->nodes < 2 || a->nodes > 16 || a->per < 1 || a->msgs < 1) {
        fprintf(stderr, "usage: %s\n", usage);
        exit(2);
    }
}

static int fanout_cmpd(const void *a, const void *b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

/* Sorts the n latencies (seconds) and gives p50 and p99 in ms (-1: none). */
static void fanout_pct(double *lat, long n, double *p50, double *p99) {
    qsort(lat, (size_t)n, sizeof(double), fanout_cmpd);
    *p50 = n ? lat[n / 2] * 1e3 : -1;
    *p99 = n ? lat[n * 99 / 100] * 1e3 : -1;
}

#endif
