/* Busy-polling before sleeping (dill_busypoll(3)).

   Why: in a virtual machine a thread that sleeps in the kernel and is
   woken by a packet pays the hypervisor's halt/wake-up path, which can
   cost more than the message itself.  A latency-critical server that
   keeps a core for itself can instead poll (without sleeping) for a short
   while before giving up the CPU.  Off by default: it burns CPU. */

#include <errno.h>
#include <stdlib.h>
#include <sched.h>
#include <time.h>

#include "core.h"

/* -1: DILL_BUSYPOLL not read yet by this thread. */
__thread int64_t dill__bp_us __attribute__((tls_model("initial-exec"))) = -1;

static int64_t dill__bp_env(void) {
    const char *e = getenv("DILL_BUSYPOLL");
    if(!e || !*e) return 0;
    char *end;
    long long v = strtoll(e, &end, 10);
    if(*end || v < 0 || v > DILL_BUSYPOLL_MAX) return 0;
    return v;
}

static int64_t dill__bp_get(void) {
    if(dill__slow(dill__bp_us < 0)) dill__bp_us = dill__bp_env();
    return dill__bp_us;
}

int64_t dill_busypoll(int64_t us) {
    if(us < -1 || us > DILL_BUSYPOLL_MAX) {errno = EINVAL; return -1;}
    int64_t old = dill__bp_get();
    if(us >= 0) dill__bp_us = us;
    return old;
}

static int64_t dill__bp_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int dill__busypoll(struct dill__cr *const *ready,
      const struct dill__list *deferred, int64_t nt) {
    int64_t us = dill__bp_get();
    if(!us) return 0;
    int64_t end = dill__bp_clock() + us;
    /* A timer that expires sooner ends the spin: the scheduler fires it. */
    if(nt >= 0 && nt * 1000 < end) end = nt * 1000;
    while(1) {
        if(dill__poller_busy()) dill__poller_wait(0);
        dill__twake_poll();
        /* Work that poller callbacks deferred (a finished send lets the
           layer above push more) must not wait for the budget either. */
        if(*ready || !dill__list_empty(deferred)) return 1;
        if(dill__bp_clock() >= end) return 0;
        /* On a machine with more runnable threads than cores, the peer we
           wait for may need this core. */
        sched_yield();
    }
}
