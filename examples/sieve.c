/* sieve: a concurrent prime sieve.

   A generator coroutine sends 2, 3, 4, ... down a channel; every prime
   found gets its own filter coroutine that drops multiples of it and
   passes the rest on.  Thousands of coroutines connected by channels run in
   one thread.  All of them live in one bundle: when the deadline comes,
   hclose() on the bundle cancels every coroutine (their blocking calls fail
   with ECANCELED) and waits until all have exited.

   Usage: sieve [milliseconds]   (default 1000) */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libdill.h>

coroutine static void generate(int out) {
    for(long i = 2;; i++)
        if(chsend(out, &i, sizeof(i), -1) < 0) return;
}

coroutine static void filter(int in, int out, long prime) {
    while(1) {
        long n;
        if(chrecv(in, &n, sizeof(n), -1) < 0) return;
        if(n % prime && chsend(out, &n, sizeof(n), -1) < 0) return;
    }
}

int main(int argc, char **argv) {
    int ms = argc > 1 ? atoi(argv[1]) : 1000;
    int64_t deadline = now() + ms;
    int workers = bundle();
    if(workers < 0) {perror("bundle"); return 1;}
    int ch[2];
    if(chmake(ch) < 0) {perror("chmake"); return 1;}
    if(bundle_go(workers, generate(ch[0])) < 0) {perror("go"); return 1;}
    int in = ch[1];
    long count = 0, last = 0;
    while(1) {
        long prime;
        int rc = chrecv(in, &prime, sizeof(prime), deadline);
        if(rc < 0 && errno == ETIMEDOUT) break;
        if(rc < 0) {perror("chrecv"); return 1;}
        count++;
        last = prime;
        if(count <= 10 || count % 1000 == 0)
            printf("prime #%ld: %ld\n", count, prime);
        int next[2];
        if(chmake(next) < 0) {perror("chmake"); return 1;}
        if(bundle_go(workers, filter(in, next[0], prime)) < 0) {
            perror("go");
            return 1;
        }
        in = next[1];
    }
    /* Structured concurrency: cancel and wait for all of them at once. */
    if(hclose(workers) < 0) {perror("hclose"); return 1;}
    printf("found %ld primes (largest %ld) with %ld coroutines in %d ms; "
        "all cancelled cleanly\n", count, last, count + 1, ms);
    return 0;
}
