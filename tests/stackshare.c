/* Shared stacks (dill_stackshare): many coroutines bound to few stack
   slots keep their stacks intact (a buffer filled with their id, a
   pointer to it, a clause on their stack) across every wake, whether
   woken by channel data, fd readiness, a timeout, cancellation or the
   close of what they wait in; ws echo over real TCP with both ends in
   slots; a resident that cannot move while others need its slot; a
   handle closed while its user is out of its slot. */

#include <pthread.h>
#include <stdio.h>
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

/* A bundle of n workers, each on a channel of its own. */
static int workers(int n, int (*ch)[2], int out, struct rep *r) {
    int b = bundle();
    errno_assert(b >= 0);
    for(int i = 0; i != n; i++) {
        errno_assert(chmake(ch[i]) == 0);
        errno_assert(bundle_go(b, worker(i, ch[i][1], out, -1, &r[i])) == 0);
    }
    return b;
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
    int b = workers(N, ch, out[0], r);
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

/* ws echo over real TCP, both ends bound to 8 slots: ws_listen's acceptor
   and handshakes, an accept loop, 300 handlers and 300 clients.  A
   coroutine started while no slot's resident can move (one waiting for
   the kernel to finish a ring send) gets a stack of its own: a few may. */
static struct rep hrep[300];

coroutine static void handler(int ws, int id) {
    uint8_t mine[300];
    fill(mine, sizeof(mine), id);
    hrep[id].addr = (uintptr_t)mine;
    char buf[256];
    int flags;
    ssize_t n;
    while((n = ws_recv(ws, &flags, buf, sizeof(buf), now() + 30000)) >= 0) {
        assert(check(mine, sizeof(mine), id));
        if(ws_send(ws, flags, buf, (size_t)n, now() + 30000) < 0) break;
        hrep[id].got++;
    }
    hrep[id].intact = check(mine, sizeof(mine), id);
    errno_assert(hclose(ws) == 0);
}

coroutine static void acceptor(int l, int b) {
    for(int id = 0; ; id++) {
        int s = ws_accept(l, NULL, 0, NULL, -1);
        if(s < 0) return;
        errno_assert(bundle_go(b, handler(s, id)) == 0);
    }
}

coroutine static void client(const struct ipaddr *addr, int id, int rounds,
      struct rep *r) {
    uint8_t mine[500];
    fill(mine, sizeof(mine), id);
    r->addr = (uintptr_t)mine;
    r->intact = 1;
    /* Not ws_connect: happy eyeballs keeps a connecting coroutine in its
       slot (its attempts use its stack). */
    int s = tcp_connect(addr, now() + 30000);
    errno_assert(s >= 0);
    int ws = ws_attach_client(s, WS_TEXT, "/", "localhost", now() + 30000);
    errno_assert(ws >= 0);
    for(int i = 0; i != rounds; i++) {
        char msg[64], back[64];
        int len = snprintf(msg, sizeof(msg), "client %d round %d", id, i);
        errno_assert(ws_send(ws, WS_TEXT, msg, (size_t)len,
            now() + 30000) == 0);
        int flags;
        ssize_t n = ws_recv(ws, &flags, back, sizeof(back), now() + 30000);
        errno_assert(n == len);
        assert(flags == WS_TEXT && memcmp(msg, back, (size_t)len) == 0);
        if(!check(mine, sizeof(mine), id)) r->intact = 0;
        r->got++;
    }
    errno_assert(hclose(ws) == 0);
}

static void wsecho(void) {
    enum {N = 300, ROUNDS = 10};
    static struct rep r[N];
    memset(r, 0, sizeof(r));
    errno_assert(stackshare(8) == 0);
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    struct ws_listen_options lo = WS_LISTEN_OPTIONS_INIT;
    /* Few handshakes at once: the acceptor waits for room. */
    lo.max_pending = 4;
    int l = ws_listen(&addr, &lo);
    errno_assert(l >= 0);
    int hb = bundle(), cb = bundle();
    errno_assert(hb >= 0 && cb >= 0);
    errno_assert(bundle_go(hb, acceptor(l, hb)) == 0);
    for(int i = 0; i != N; i++)
        errno_assert(bundle_go(cb, client(&addr, i, ROUNDS, &r[i])) == 0);
    errno_assert(bundle_wait(cb, now() + 60000) == 0);
    for(int i = 0; i != N; i++) {
        assert(r[i].intact);
        assert(r[i].got == ROUNDS);
    }
    errno_assert(hclose(cb) == 0);
    errno_assert(hclose(l) == 0);
    /* The handlers see the clients' Close. */
    errno_assert(bundle_wait(hb, now() + 30000) == 0);
    errno_assert(hclose(hb) == 0);
    for(int i = 0; i != N; i++) {
        assert(hrep[i].intact);
        assert(hrep[i].got == ROUNDS);
    }
    int nc = naddrs(r, N), nh = naddrs(hrep, N);
    fprintf(stderr, "ws echo: %d client and %d handler stacks\n", nc, nh);
    assert(nc <= 8 + N / 10 && nh <= 8 + N / 10);
    assert(stackshared() == 0);
}

/* A resident that cannot move (it waits on a channel between threads)
   keeps its slot: slot-mates woken meanwhile wait for it, and run once it
   is woken; a coroutine started meanwhile gets a stack of its own. */
static struct tchan *tc_go, *tc_data;

static void *feeder(void *arg) {
    (void)arg;
    int go = tchopen(tc_go, 1), data = tchopen(tc_data, 0);
    errno_assert(go >= 0 && data >= 0);
    int v;
    errno_assert(chrecv(go, &v, sizeof(v), now() + 30000) == 0);
    errno_assert(chsend(data, &v, sizeof(v), now() + 30000) == 0);
    errno_assert(hclose(go) == 0);
    errno_assert(hclose(data) == 0);
    return NULL;
}

coroutine static void holder(int h, struct rep *r) {
    uint8_t buf[800];
    fill(buf, sizeof(buf), 77);
    r->addr = (uintptr_t)buf;
    int v = 0;
    r->rc = chrecv(h, &v, sizeof(v), now() + 30000);
    r->err = errno;
    r->got = v;
    r->intact = check(buf, sizeof(buf), 77);
}

static void immovable(void) {
    enum {N = 10};
    struct rep r[N], hr = {0}, late = {0};
    memset(r, 0, sizeof(r));
    int ch[N][2], out[2];
    errno_assert(chmake(out) == 0);
    errno_assert(stackshare(1) == 0);
    tc_go = tchmake();
    tc_data = tchmake();
    assert(tc_go && tc_data);
    int go = tchopen(tc_go, 0), data = tchopen(tc_data, 1);
    errno_assert(go >= 0 && data >= 0);
    pthread_t t;
    errno_assert(pthread_create(&t, NULL, feeder, NULL) == 0);
    int b = workers(N, ch, out[0], r);
    errno_assert(bundle_go(b, holder(data, &hr)) == 0);
    /* The same slot: the holder's frame is another function's. */
    assert(naddrs(r, N) == 1 && hr.addr - r[0].addr + 4096 < 8192);
    for(int i = 0; i != N; i++) {
        int v = i;
        errno_assert(chsend(ch[i][0], &v, sizeof(v), now() + 10000) == 0);
    }
    /* The slot is the holder's until the feeder sends. */
    int v;
    assert_err(chrecv(out[1], &v, sizeof(v), now() + 100), ETIMEDOUT);
    for(int i = 0; i != N; i++) assert(r[i].got == 0);
    errno_assert(bundle_go(b, worker(N, ch[0][1], out[0], -1, &late)) == 0);
    assert(late.addr - r[0].addr + 4096 >= 8192);
    v = 4321;
    errno_assert(chsend(go, &v, sizeof(v), now() + 10000) == 0);
    long sum = 0;
    for(int i = 0; i != N; i++) {
        errno_assert(chrecv(out[1], &v, sizeof(v), now() + 10000) == 0);
        sum += v;
    }
    assert(sum == N * (N - 1));
    assert(hr.rc == 0 && hr.got == 4321 && hr.intact);
    errno_assert(hclose(b) == 0);
    for(int i = 0; i != N; i++) {
        assert(r[i].intact && r[i].got == 1);
        errno_assert(hclose(ch[i][0]) == 0);
        errno_assert(hclose(ch[i][1]) == 0);
    }
    assert(late.intact && late.rc == -1 && late.err == ECANCELED);
    errno_assert(pthread_join(t, NULL) == 0);
    errno_assert(hclose(go) == 0);
    errno_assert(hclose(data) == 0);
    errno_assert(tchrelease(tc_go) == 0);
    errno_assert(tchrelease(tc_data) == 0);
    errno_assert(hclose(out[0]) == 0);
    errno_assert(hclose(out[1]) == 0);
}

/* A handle closed while the coroutine blocked inside it (pinned) is out
   of its slot: it wakes with EBADF, its stack intact.  go() coroutines
   keep stacks of their own. */
coroutine static void user(int s, struct rep *r) {
    uint8_t buf[600];
    fill(buf, sizeof(buf), 5);
    r->addr = (uintptr_t)buf;
    int v;
    errno = 0;
    r->rc = brecv(s, &v, sizeof(v), now() + 30000);
    r->err = errno;
    r->intact = check(buf, sizeof(buf), 5);
}

static void pins(void) {
    enum {N = 3};
    struct rep u = {0}, w[N], g = {0};
    memset(w, 0, sizeof(w));
    int ch[2], out[2], s[2];
    errno_assert(chmake(ch) == 0);
    errno_assert(chmake(out) == 0);
    bpair(1, s);
    errno_assert(stackshare(1) == 0);
    int b = bundle();
    errno_assert(bundle_go(b, user(s[1], &u)) == 0);
    for(int i = 0; i != N; i++)
        errno_assert(bundle_go(b, worker(i, ch[1], out[0], -1, &w[i])) == 0);
    /* A worker is resident; the user is out. */
    int v = 1;
    errno_assert(chsend(ch[0], &v, sizeof(v), now() + 10000) == 0);
    errno_assert(chrecv(out[1], &v, sizeof(v), now() + 10000) == 0);
    assert(stackshared() == N);
    errno_assert(hclose(s[1]) == 0);
    int h = go(user(s[0], &g));
    errno_assert(h >= 0);
    assert(g.addr - u.addr + 4096 >= 8192);
    errno_assert(msleep(now() + 50) == 0);
    assert(u.rc == -1 && u.err == EBADF && u.intact);
    errno_assert(hclose(s[0]) == 0);
    errno_assert(hclose(h) == 0);
    assert(g.rc == -1 && g.intact);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    errno_assert(hclose(out[0]) == 0);
    errno_assert(hclose(out[1]) == 0);
}

int main(void) {
    chans();
    timers();
    fds();
    wsecho();
    immovable();
    pins();
    errno_assert(stackshare(0) == 0);
    assert_err(stackshare(-1), EINVAL);
    assert_err(stackshare(1025), EINVAL);
    return 0;
}
