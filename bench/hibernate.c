/* Cost of hibernating and waking a coroutine (hibernate(3)).

   N coroutines, each with two 256-byte buffers on its stack, block in
   chrecv.  Every round main sends each of them a message (it wakes,
   checks its buffers, blocks again), then sleeps (1 ms at a time) until the
   scheduler hibernates all of them when hibernation is on.  The same
   rounds run with hibernation off and on, alternated; the difference per
   coroutine and round is the cost of one hibernate + wake (the copy out,
   MADV_DONTNEED, the page faults and copy back).  Also printed: the
   process's RssAnon with N coroutines asleep, each way.

   Usage: bench_hibernate [N] [rounds]   (defaults 10000, 20) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libdill.h"
#include "clock.h"

coroutine static void sleeper(int ch, int seed) {
    char a[256], b[256];
    memset(a, seed, sizeof(a));
    memset(b, seed + 1, sizeof(b));
    int v;
    while(chrecv(ch, &v, sizeof(v), -1) == 0)
        if(a[v % 256] != (char)seed || b[v % 256] != (char)(seed + 1))
            die("stack changed");
}

/* Seconds for rounds of waking all n, per coroutine and round. */
static double run(int ch, int n, int rounds, int on, long *rss) {
    if(hibernate(on ? 0 : -1) < 0) die("hibernate");
    msleep(now() + 1);
    double t0 = secs();
    for(int r = 0; r != rounds; r++) {
        for(int i = 0; i != n; i++)
            if(chsend(ch, &i, sizeof(i), -1) < 0) die("chsend");
        /* Until all but the last to block (whose stack the scheduler
           uses) hibernate. */
        for(int k = 0; k != 1000; k++) {
            msleep(now() + 1);
            if(!on || hibernated() >= n - 1) break;
        }
    }
    double t = secs() - t0;
    if(on && hibernated() < n - 1) die("not hibernated");
    *rss = proc_kib("/proc/self/status", "RssAnon");
    return t / rounds / n;
}

int main(int argc, char *argv[]) {
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int rounds = argc > 2 ? atoi(argv[2]) : 20;
    int ch[2];
    if(chmake(ch) < 0) die("chmake");
    int b = bundle();
    if(b < 0) die("bundle");
    for(int i = 0; i != n; i++)
        if(bundle_go(b, sleeper(ch[1], i & 0x7f)) < 0) die("bundle_go");
    double off[5], onv[5];
    long roff = 0, ron = 0;
    for(int k = 0; k != 5; k++) {
        off[k] = run(ch[0], n, rounds, 0, &roff);
        onv[k] = run(ch[0], n, rounds, 1, &ron);
    }
    /* Medians of five. */
    for(int i = 0; i != 5; i++)
        for(int j = i + 1; j != 5; j++) {
            if(off[j] < off[i]) {double t = off[i]; off[i] = off[j]; off[j] = t;}
            if(onv[j] < onv[i]) {double t = onv[i]; onv[i] = onv[j]; onv[j] = t;}
        }
    printf("%d coroutines blocked in chrecv, %d rounds, median of 5:\n"
        "  wake + block again, hibernation off: %.2f us\n"
        "  wake + block again + hibernate, on:  %.2f us\n"
        "  one hibernate + wake: %.2f us\n"
        "  RssAnon asleep: off %ld KiB (%.2f KiB each), on %ld KiB "
        "(%.2f KiB each)\n", n, rounds, off[2] * 1e6, onv[2] * 1e6,
        (onv[2] - off[2]) * 1e6, roff, (double)roff / n, ron,
        (double)ron / n);
    hclose(b);
    hclose(ch[0]);
    hclose(ch[1]);
    return 0;
}
