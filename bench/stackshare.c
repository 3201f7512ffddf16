/* Cost of moving coroutines in and out of shared stacks (stackshare(3)).

   N coroutines, each with two 256-byte buffers on its stack, block in
   chrecv on channels of their own.  Every round main wakes each of them
   once, in an order that makes every wake need the slot its previous
   resident holds (round robin over the slots), and waits for its answer:
   each message then costs one copy out of the resident and one copy in
   of the woken coroutine.  The same rounds run with sharing off (every
   coroutine on its own stack), alternated; the difference per message
   is the cost of one eviction + restore.  Also: the same coroutine woken
   again and again (it stays resident: no copy), a token passed along
   the coroutines of one slot (each hop wakes a slot-mate and blocks: the
   scheduler runs on the slot it must refill, so the switch goes through
   the xfer context), and the process's RssAnon with N coroutines
   blocked, each way.

   Usage: bench_stackshare [N] [slots] [rounds]   (defaults 1000, 4, 50) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libdill.h"
#include "clock.h"

coroutine static void sleeper(int in, int out, int seed) {
    char a[256], b[256];
    memset(a, seed, sizeof(a));
    memset(b, seed + 1, sizeof(b));
    int v;
    while(chrecv(in, &v, sizeof(v), -1) == 0) {
        if(a[v % 256] != (char)seed || b[v % 256] != (char)(seed + 1))
            die("stack changed");
        if(chsend(out, &v, sizeof(v), -1) < 0) die("chsend");
    }
}

/* Passes the token on to next (the last hop to out). */
coroutine static void relay(int in, int next, int out) {
    char a[512];
    memset(a, 1, sizeof(a));
    int v;
    while(chrecv(in, &v, sizeof(v), -1) == 0) {
        if(a[v % 512] != 1) die("stack changed");
        v--;
        if(chsend(v ? next : out, &v, sizeof(v), -1) < 0) die("chsend");
    }
}

/* Seconds per hop of a token passed hops times around m relays, started
   with the given number of slots (1: each hop refills the slot the
   scheduler runs on). */
static double hops(int m, int slots, int nhops) {
    if(stackshare(slots) < 0) die("stackshare");
    int (*ch)[2] = malloc(sizeof(int[2]) * (size_t)m), out[2];
    if(!ch || chmake(out) < 0) die("chmake");
    for(int i = 0; i != m; i++)
        if(chmake(ch[i]) < 0) die("chmake");
    int b = bundle();
    for(int i = 0; i != m; i++)
        if(bundle_go(b, relay(ch[i][1], ch[(i + 1) % m][0], out[0])) < 0)
            die("bundle_go");
    if(stackshare(0) < 0) die("stackshare");
    double t0 = secs();
    int v = nhops;
    if(chsend(ch[0][0], &v, sizeof(v), -1) < 0) die("chsend");
    if(chrecv(out[1], &v, sizeof(v), -1) < 0) die("chrecv");
    double t = (secs() - t0) / nhops;
    hclose(b);
    for(int i = 0; i != m; i++) {hclose(ch[i][0]); hclose(ch[i][1]);}
    hclose(out[0]);
    hclose(out[1]);
    free(ch);
    return t;
}

struct set {
    int b;
    int (*ch)[2];
    int out[2];
    long rss;
};

static void start(struct set *s, int n, int slots) {
    if(stackshare(slots) < 0) die("stackshare");
    s->ch = malloc(sizeof(int[2]) * (size_t)n);
    if(!s->ch || chmake(s->out) < 0) die("chmake");
    s->b = bundle();
    if(s->b < 0) die("bundle");
    long r0 = proc_kib("/proc/self/status", "RssAnon");
    for(int i = 0; i != n; i++) {
        if(chmake(s->ch[i]) < 0) die("chmake");
        if(bundle_go(s->b, sleeper(s->ch[i][1], s->out[0], i & 0x7f)) < 0)
            die("bundle_go");
    }
    s->rss = proc_kib("/proc/self/status", "RssAnon") - r0;
    if(stackshare(0) < 0) die("stackshare");
}

static void stop(struct set *s, int n) {
    hclose(s->b);
    for(int i = 0; i != n; i++) {hclose(s->ch[i][0]); hclose(s->ch[i][1]);}
    hclose(s->out[0]);
    hclose(s->out[1]);
    free(s->ch);
}

/* Seconds per message for rounds of waking all n one by one; with
   same, always coroutine 0. */
static double run(struct set *s, int n, int slots, int rounds, int same) {
    double t0 = secs();
    for(int r = 0; r != rounds; r++)
        for(int k = 0; k != n; k++) {
            /* Coroutine i is in slot i % slots (started round robin);
               consecutive wakes go to different coroutines of a slot. */
            int i = same ? 0 : (k % slots) + slots * ((k / slots + r) %
                (n / slots));
            int v = k;
            if(chsend(s->ch[i][0], &v, sizeof(v), -1) < 0) die("chsend");
            if(chrecv(s->out[1], &v, sizeof(v), -1) < 0) die("chrecv");
        }
    return (secs() - t0) / rounds / n;
}

static void sort5(double *v) {
    for(int i = 0; i != 5; i++)
        for(int j = i + 1; j != 5; j++)
            if(v[j] < v[i]) {double t = v[i]; v[i] = v[j]; v[j] = t;}
}

int main(int argc, char *argv[]) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    int slots = argc > 2 ? atoi(argv[2]) : 4;
    int rounds = argc > 3 ? atoi(argv[3]) : 50;
    if(n < slots || slots < 1) die("usage");
    struct set own, shared;
    start(&own, n, 0);
    start(&shared, n, slots);
    double off[5], on[5], same[5], hoff[5], hon[5];
    for(int k = 0; k != 5; k++) {
        off[k] = run(&own, n, slots, rounds, 0);
        on[k] = run(&shared, n, slots, rounds, 0);
        same[k] = run(&shared, n, slots, rounds, 1);
        hoff[k] = hops(100, 0, 100000);
        hon[k] = hops(100, 1, 100000);
    }
    sort5(off);
    sort5(on);
    sort5(same);
    sort5(hoff);
    sort5(hon);
    printf("%d coroutines blocked in chrecv, %d slots, %d rounds, median "
        "of 5:\n"
        "  wake + answer + block, own stacks:          %.3f us\n"
        "  the same, shared stacks, slot-mate resident: %.3f us\n"
        "  the same, shared stacks, already resident:   %.3f us\n"
        "  one eviction + restore: %.3f us\n"
        "  token passed around 100 coroutines, per hop: own stacks %.3f us, "
        "all in one slot %.3f us (eviction + restore through the xfer "
        "context: %.3f us)\n"
        "  RssAnon of the coroutines: own stacks %ld KiB (%.2f KiB each), "
        "shared %ld KiB (%.2f KiB each)\n", n, slots, rounds, off[2] * 1e6,
        on[2] * 1e6, same[2] * 1e6, (on[2] - off[2]) * 1e6, hoff[2] * 1e6,
        hon[2] * 1e6, (hon[2] - hoff[2]) * 1e6, own.rss,
        (double)own.rss / n, shared.rss, (double)shared.rss / n);
    stop(&shared, n);
    stop(&own, n);
    return 0;
}
