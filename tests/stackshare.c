/* Shared stacks (dill_stackshare): many coroutines bound to few stack
   slots keep their stacks intact (a buffer filled with their id, a
   pointer to it, a clause on their stack) across every wake, whether
   woken by channel data, fd readiness, a timeout, cancellation or the
   close of what they wait in; ws echo over real TCP with both ends in
   slots; a resident that cannot move while others need its slot; a
   handle closed while its user is out of its slot. */

#include <pthread.h>
#include <unistd.h>

#include "assert.h"
#include "bpair.h"
#include "libdill.h"
#include "wstest.h"

static void fill(uint8_t *p, size_t n, int seed) {
    for(size_t i = 0; i != n; i++) p[i] = (uint8_t)(i * 13 + (size_t)seed);
}

static int check(const uint8_t *p, size_t n, int seed) {
    for(size_t i = 0; i != n; i++)
        if(p[i] != (uint8_t)(i * 13 + (size_t)seed)) return 0;
    return 1;
}

/* What a worker reports, in main's memory (main has its own stack). */
struct rep {
    int rc;
    int err;
    int intact;
    int got;                       /* messages received */
    uintptr_t addr;                /* of its buffer */
};

/* Distinct buffer addresses among n reports. */
static int naddrs(struct rep *r, int n) {
    int k = 0;
    for(int i = 0; i != n; i++) {
        int j;
        for(j = 0; j != i; j++)
            if(r[j].addr == r[i].addr) break;
        if(j == i) k++;
    }
    return k;
}

/* Receives ints on its channel (through choose, with a clause array on
   its stack, every other time) and echoes each plus its id on out, until
   the channel is done or the wait fails. */
coroutine static void worker(int id, int in, int out, int64_t deadline,
      struct rep *r) {
    uint8_t buf[700];
    uint8_t *p = buf;
    fill(p, sizeof(buf), id);
    r->addr = (uintptr_t)p;
    r->intact = 1;
    while(1) {
        int v = -1, rc;
        struct chclause cl[1] = {{CHRECV, in, &v, sizeof(v)}};
        struct chclause *pcl = cl;
        errno = 0;
        /* choose reports a failed clause by its index, with errno. */
        if(r->got % 2) rc = choose(pcl, 1, deadline) < 0 || errno ? -1 : 0;
        else rc = chrecv(in, &v, sizeof(v), deadline);
        r->rc = rc;
        r->err = errno;
        if(!check(p, sizeof(buf), id) || pcl != cl || cl[0].val != &v)
            r->intact = 0;
        if(rc < 0) return;
        r->got++;
        v += id;
        if(chsend(out, &v, sizeof(v), now() + 10000) < 0) {
            r->rc = -1;
            r->err = errno;
            return;
        }
    }
}

/* 200 workers in 4 slots: rounds of messages in a scattered order, each
   answered by the right worker with its stack intact; then the ways a
   wait ends without data. */
static void chans(void) {
    enum {N = 200, ROUNDS = 5};
    static struct rep r[N];
    static int ch[N][2];
    memset(r, 0, sizeof(r));
    int out[2];
    errno_assert(chmake(out) == 0);
    errno_assert(stackshare(4) == 0);
    int b = bundle();
    errno_assert(b >= 0);
    for(int i = 0; i != N; i++) {
        errno_assert(chmake(ch[i]) == 0);
        errno_assert(bundle_go(b, worker(i, ch[i][1], out[0], -1,
            &r[i])) == 0);
    }
    assert(naddrs(r, N) <= 4);
    assert(stackshared() >= N - 4);
    for(int round = 0; round != ROUNDS; round++) {
        /* A batch at once: many woken before any runs. */
        for(int k = 0; k != N; k++) {
            int i = (k * 37 + round * 11) % N;
            int v = 1000 * round + i;
            errno_assert(chsend(ch[i][0], &v, sizeof(v), now() + 10000) == 0);
        }
        long sum = 0;
        for(int k = 0; k != N; k++) {
            int v;
            errno_assert(chrecv(out[1], &v, sizeof(v), now() + 10000) == 0);
            sum += v;
        }
        long want = 0;
        for(int i = 0; i != N; i++) want += 1000 * round + 2 * i;
        assert(sum == want);
        /* One at a time: each wake evicts a slot-mate. */
        for(int i = 0; i < N; i += 7) {
            int v = i;
            errno_assert(chsend(ch[i][0], &v, sizeof(v), now() + 10000) == 0);
            errno_assert(chrecv(out[1], &v, sizeof(v), now() + 10000) == 0);
            assert(v == 2 * i);
        }
    }
    assert(stackshared() >= N - 4);
    /* The channel done for a third, cancellation for the rest. */
    for(int i = 0; i < N; i += 3) errno_assert(chdone(ch[i][0]) == 0);
    errno_assert(msleep(now() + 50) == 0);
    errno_assert(hclose(b) == 0);
    assert(stackshared() == 0);
    for(int i = 0; i != N; i++) {
        assert(r[i].intact);
        assert(r[i].got == ROUNDS + ROUNDS * (i % 7 == 0));
        assert(r[i].rc == -1);
        assert(r[i].err == (i % 3 == 0 ? EPIPE : ECANCELED));
        errno_assert(hclose(ch[i][0]) == 0);
        errno_assert(hclose(ch[i][1]) == 0);
    }
    errno_assert(hclose(out[0]) == 0);
    errno_assert(hclose(out[1]) == 0);
}

/* Timers: workers in 3 slots sleep to staggered deadlines (and one
   waits on a channel with a deadline), each wakes intact, in order. */
coroutine static void sleeper(int id, int64_t deadline, int *order, int *n,
      struct rep *r) {
    uint8_t buf[1500];
    fill(buf, sizeof(buf), id);
    r->addr = (uintptr_t)buf;
    r->rc = msleep(deadline);
    r->intact = check(buf, sizeof(buf), id) && now() >= deadline;
    order[(*n)++] = id;
}

static void timers(void) {
    enum {N = 30};
    struct rep r[N];
    int order[N], n = 0;
    memset(r, 0, sizeof(r));
    errno_assert(stackshare(3) == 0);
    int b = bundle();
    errno_assert(b >= 0);
    int64_t t0 = now() + 100;
    for(int i = 0; i != N; i++)
        errno_assert(bundle_go(b, sleeper(i, t0 + 5 * (N - i), order, &n,
            &r[i])) == 0);
    assert(naddrs(r, N) <= 3);
    errno_assert(bundle_wait(b, now() + 10000) == 0);
    assert(n == N);
    for(int i = 0; i != N; i++) {
        assert(r[i].rc == 0);
        assert(r[i].intact);
        assert(order[i] == N - 1 - i);
    }
    errno_assert(hclose(b) == 0);
    /* A channel receive that times out. */
    int ch[2], out[2];
    errno_assert(chmake(ch) == 0);
    errno_assert(chmake(out) == 0);
    b = bundle();
    struct rep w[8];
    memset(w, 0, sizeof(w));
    for(int i = 0; i != 8; i++)
        errno_assert(bundle_go(b, worker(i, ch[1], out[0], now() + 100 + i,
            &w[i])) == 0);
    errno_assert(bundle_wait(b, now() + 10000) == 0);
    for(int i = 0; i != 8; i++) {
        assert(w[i].intact);
        assert(w[i].rc == -1 && w[i].err == ETIMEDOUT);
    }
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    errno_assert(hclose(out[0]) == 0);
    errno_assert(hclose(out[1]) == 0);
}

/* fd readiness: readers of pipes in 2 slots, woken by writes in a
   scattered order; then fdclean ends the rest with EBADF. */
coroutine static void reader(int id, int fd, int ch, struct rep *r) {
    uint8_t buf[900];
    fill(buf, sizeof(buf), id);
    r->addr = (uintptr_t)buf;
    r->intact = 1;
    while(1) {
        errno = 0;
        r->rc = fdin(fd, now() + 10000);
        r->err = errno;
        if(!check(buf, sizeof(buf), id)) r->intact = 0;
        if(r->rc < 0) return;
        int v;
        assert(read(fd, &v, sizeof(v)) == sizeof(v));
        r->got++;
        v += id;
        errno_assert(chsend(ch, &v, sizeof(v), now() + 10000) == 0);
    }
}

static void fds(void) {
    enum {N = 40};
    struct rep r[N];
    int p[N][2], out[2];
    memset(r, 0, sizeof(r));
    errno_assert(chmake(out) == 0);
    errno_assert(stackshare(2) == 0);
    int b = bundle();
    errno_assert(b >= 0);
    for(int i = 0; i != N; i++) {
        errno_assert(pipe(p[i]) == 0);
        errno_assert(bundle_go(b, reader(i, p[i][0], out[0], &r[i])) == 0);
    }
    assert(naddrs(r, N) <= 2);
    for(int round = 0; round != 3; round++) {
        for(int k = 0; k != N; k++) {
            int i = (k * 17 + round) % N;
            assert(write(p[i][1], &i, sizeof(i)) == sizeof(i));
        }
        for(int k = 0; k != N; k++) {
            int v;
            errno_assert(chrecv(out[1], &v, sizeof(v), now() + 10000) == 0);
            assert(v % 2 == 0);
        }
    }
    /* Until every reader is back in fdin (they are all ready). */
    errno_assert(msleep(now() + 50) == 0);
    for(int i = 0; i != N; i++) errno_assert(fdclean(p[i][0]) == 0);
    errno_assert(bundle_wait(b, now() + 10000) == 0);
    for(int i = 0; i != N; i++) {
        assert(r[i].intact);
        assert(r[i].got == 3);
        assert(r[i].rc == -1 && r[i].err == EBADF);
        close(p[i][0]);
        close(p[i][1]);
    }
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(out[0]) == 0);
    errno_assert(hclose(out[1]) == 0);
}

int main(void) {
    chans();
    timers();
    fds();
    errno_assert(stackshare(0) == 0);
    assert_err(stackshare(-1), EINVAL);
    assert_err(stackshare(1025), EINVAL);
    return 0;
}
