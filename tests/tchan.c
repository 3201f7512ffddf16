/* Channels between threads (tchmake, tchopen, tchrelease): rendezvous,
   deadlines, cancellation, chdone, closing, choose, and a stress of 8
   sending threads against 8 receiving threads in which every message must
   arrive exactly once even when deadlines and cancellations race the
   exchanges. */

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "assert.h"
#include "core/core.h"
#include "libdill.h"

#if DILL_VALGRIND
#include <valgrind/valgrind.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SLOW_BUILD 4
#elif defined(__SANITIZE_THREAD__)
#define SLOW_BUILD 16
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOW_BUILD 4
#elif __has_feature(thread_sanitizer)
#define SLOW_BUILD 16
#endif
#endif

/* Messages per sending coroutine of the stress: 2 million in all in a
   release build, fewer under sanitizers and valgrind. */
static long per_sender(void) {
#if DILL_VALGRIND
    if(RUNNING_ON_VALGRIND) return 500;
#endif
#if SLOW_BUILD
    return 64000 / SLOW_BUILD;
#else
    return 64000;
#endif
}

enum {THREADS = 8, CRS = 4};

static struct tchan *tc;
static pthread_barrier_t opened;
static unsigned char *seen;        /* one byte per message value */
static long total;

struct side {
    int id;
    long count;
    uint64_t sum;
    long timeouts;
};

coroutine static void stress_sender(int h, struct side *s, int cr) {
    long n = per_sender();
    uint64_t base = ((uint64_t)s->id * CRS + cr) * (uint64_t)n;
    for(long i = 0; i != n; i++) {
        uint64_t v = base + (uint64_t)i;
        /* Every third sender uses a short deadline and retries: a send that
           reports ETIMEDOUT must not have been delivered. */
        int64_t dl = cr == 0 ? now() + 1 : -1;
        int rc;
        while((rc = chsend(h, &v, sizeof(v), dl)) < 0 && errno == ETIMEDOUT) {
            s->timeouts++;
            dl = now() + 1;
        }
        errno_assert(rc == 0);
        s->count++;
        s->sum += v;
    }
}

coroutine static void stress_receiver(int h, int local, struct side *s,
      int cr) {
    while(1) {
        uint64_t v;
        int rc;
        if(cr == 1) {
            /* Mixed with an ordinary channel nobody sends on. */
            uint64_t dummy;
            struct chclause cl[] = {{CHRECV, local, &dummy, sizeof(dummy)},
                {CHRECV, h, &v, sizeof(v)}};
            rc = choose(cl, 2, now() + 2);
            if(rc == 0) assert(0);
            if(rc == 1 && errno == 0) rc = 0;
            else if(rc == 1) rc = -1;
        }
        else rc = chrecv(h, &v, sizeof(v), cr == 0 ? now() + 1 : -1);
        if(rc < 0 && errno == ETIMEDOUT) {s->timeouts++; continue;}
        if(rc < 0) {assert(errno == EPIPE); return;}
        assert(v < (uint64_t)total);
        assert(__atomic_exchange_n(&seen[v], 1, __ATOMIC_RELAXED) == 0);
        s->count++;
        s->sum += v;
    }
}

static void *sender_thread(void *arg) {
    struct side *s = arg;
    int h = tchopen(tc, 0);
    errno_assert(h >= 0);
    pthread_barrier_wait(&opened);
    int b = bundle();
    errno_assert(b >= 0);
    for(int i = 0; i != CRS; i++)
        errno_assert(bundle_go(b, stress_sender(h, s, i)) == 0);
    errno_assert(bundle_wait(b, -1) == 0);
    errno_assert(hclose(b) == 0);
    /* The last sender to close makes the receivers' end fail with EPIPE. */
    errno_assert(hclose(h) == 0);
    return NULL;
}

static void *receiver_thread(void *arg) {
    struct side *s = arg;
    int h = tchopen(tc, 1);
    errno_assert(h >= 0);
    int local[2];
    errno_assert(chmake(local) == 0);
    pthread_barrier_wait(&opened);
    int b = bundle();
    errno_assert(b >= 0);
    for(int i = 0; i != CRS; i++)
        errno_assert(bundle_go(b, stress_receiver(h, local[1], s, i)) == 0);
    errno_assert(bundle_wait(b, -1) == 0);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(local[0]) == 0);
    errno_assert(hclose(local[1]) == 0);
    errno_assert(hclose(h) == 0);
    return NULL;
}

static void stress(void) {
    total = (long)THREADS * CRS * per_sender();
    seen = calloc((size_t)total, 1);
    assert(seen);
    tc = tchmake();
    assert(tc);
    errno_assert(pthread_barrier_init(&opened, NULL, 2 * THREADS + 1) == 0);
    pthread_t t[2 * THREADS];
    struct side sides[2 * THREADS];
    for(int i = 0; i != 2 * THREADS; i++) {
        sides[i] = (struct side){i % THREADS, 0, 0, 0};
        errno_assert(pthread_create(&t[i], NULL,
            i < THREADS ? sender_thread : receiver_thread, &sides[i]) == 0);
    }
    pthread_barrier_wait(&opened);
    errno_assert(tchrelease(tc) == 0);
    long sent = 0, received = 0, timeouts = 0;
    uint64_t ssum = 0, rsum = 0;
    for(int i = 0; i != 2 * THREADS; i++) {
        errno_assert(pthread_join(t[i], NULL) == 0);
        if(i < THREADS) {sent += sides[i].count; ssum += sides[i].sum;}
        else {received += sides[i].count; rsum += sides[i].sum;}
        timeouts += sides[i].timeouts;
    }
    assert(sent == total);
    assert(received == total);
    assert(ssum == rsum);
    assert(ssum == (uint64_t)total * (uint64_t)(total - 1) / 2);
    for(long i = 0; i != total; i++) assert(seen[i]);
    fprintf(stderr, "tchan stress: %ld messages, %ld timeouts retried\n",
        total, timeouts);
    pthread_barrier_destroy(&opened);
    free(seen);
}

/* One thread's program for the tests below: run fn in a new thread that
   opens end `end` of tc and passes the handle. */
struct peer {
    pthread_t t;
    struct tchan *tc;
    int end;
    void (*fn)(int h, struct peer *p);
    int64_t arg;
    long result;
    int opened;
};

static void *peer_main(void *arg) {
    struct peer *p = arg;
    int h = tchopen(p->tc, p->end);
    errno_assert(h >= 0);
    __atomic_store_n(&p->opened, 1, __ATOMIC_RELEASE);
    p->fn(h, p);
    errno_assert(hclose(h) == 0);
    return NULL;
}

static void peer_start(struct peer *p, struct tchan *c, int end,
      void (*fn)(int h, struct peer *p), int64_t arg) {
    p->tc = c;
    p->end = end;
    p->fn = fn;
    p->arg = arg;
    p->result = 0;
    p->opened = 0;
    errno_assert(pthread_create(&p->t, NULL, peer_main, p) == 0);
}

static void peer_join(struct peer *p) {
    errno_assert(pthread_join(p->t, NULL) == 0);
}

static void send_after(int h, struct peer *p) {
    msleep(now() + p->arg);
    int v = 1234;
    errno_assert(chsend(h, &v, sizeof(v), now() + 5000) == 0);
}

static void recv_one(int h, struct peer *p) {
    int v;
    errno_assert(chrecv(h, &v, sizeof(v), now() + 5000) == 0);
    p->result = v;
}

static void recv_expect_epipe(int h, struct peer *p) {
    int v;
    assert_err(chrecv(h, &v, sizeof(v), now() + 5000), EPIPE);
    p->result = 1;
}

static void done_after(int h, struct peer *p) {
    msleep(now() + p->arg);
    errno_assert(chdone(h) == 0);
}

static void recv_short(int h, struct peer *p) {
    char v[3];
    assert_err(chrecv(h, v, sizeof(v), now() + 5000), EMSGSIZE);
    p->result = 1;
}

coroutine static void recv_local(int ch, int *out) {
    msleep(now() + 10);
    errno_assert(chrecv(ch, out, sizeof(*out), now() + 5000) == 0);
}

coroutine static void blocked_recv(int h, int *err) {
    int v;
    int rc = chrecv(h, &v, sizeof(v), -1);
    assert(rc == -1);
    *err = errno;
}

/* Cancellation racing completions: a thread sends numbered messages with
   short deadlines while this one starts receivers and cancels them at
   random; whatever the sender counts as sent must have been received. */
struct race {
    struct tchan *tc;
    long sent;
    uint64_t sum;
    long rounds;
};

static void *race_sender(void *arg) {
    struct race *r = arg;
    int h = tchopen(r->tc, 0);
    errno_assert(h >= 0);
    for(long i = 1; i <= r->rounds; i++) {
        uint64_t v = (uint64_t)i;
        int rc = chsend(h, &v, sizeof(v), now() + 2);
        if(rc == 0) {r->sent++; r->sum += v; continue;}
        assert(errno == ETIMEDOUT);
    }
    uint64_t end = 0;
    errno_assert(chsend(h, &end, sizeof(end), now() + 5000) == 0);
    errno_assert(hclose(h) == 0);
    return NULL;
}

struct rstate {
    long got;
    uint64_t sum;
    int over;
};

coroutine static void race_receiver(int h, struct rstate *s) {
    uint64_t v;
    int rc = chrecv(h, &v, sizeof(v), -1);
    if(rc < 0) {assert(errno == ECANCELED); return;}
    if(v == 0) {s->over = 1; return;}
    s->got++;
    s->sum += v;
}

static void cancel_race(void) {
    struct race r = {tchmake(), 0, 0, per_sender() / 20};
    assert(r.tc);
    int h = tchopen(r.tc, 1);
    errno_assert(h >= 0);
    pthread_t t;
    errno_assert(pthread_create(&t, NULL, race_sender, &r) == 0);
    struct rstate s = {0, 0, 0};
    unsigned seed = 1;
    while(!s.over) {
        int b = bundle();
        errno_assert(b >= 0);
        int n = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 3;
        for(int i = 0; i != n; i++)
            errno_assert(bundle_go(b, race_receiver(h, &s)) == 0);
        /* Let the receivers block, sometimes let the exchange happen. */
        if((seed >> 20) & 1) yield();
        else msleep(now() + ((seed >> 21) & 1));
        errno_assert(hclose(b) == 0);
    }
    errno_assert(pthread_join(t, NULL) == 0);
    assert(s.got == r.sent);
    assert(s.sum == r.sum);
    fprintf(stderr, "tchan cancel race: %ld of %ld delivered\n", s.got,
        r.rounds);
    errno_assert(hclose(h) == 0);
    errno_assert(tchrelease(r.tc) == 0);
}

static void semantics(void) {
    struct tchan *c = tchmake();
    assert(c);
    int h0 = tchopen(c, 0);
    int h1 = tchopen(c, 1);
    errno_assert(h0 >= 0 && h1 >= 0);
    assert_err(tchopen(c, 2), EINVAL);
    assert_err(tchopen(NULL, 0), EINVAL);

    /* Both ends in one thread behave like chmake's. */
    int v = 5;
    assert_err(chsend(h0, &v, sizeof(v), now() + 10), ETIMEDOUT);
    assert_err(chrecv(h1, &v, sizeof(v), 0), ETIMEDOUT);

    /* A receiver here, the sender in another thread, both directions. */
    struct peer p;
    peer_start(&p, c, 0, send_after, 20);
    v = 0;
    errno_assert(chrecv(h1, &v, sizeof(v), now() + 5000) == 0);
    assert(v == 1234);
    peer_join(&p);
    peer_start(&p, c, 1, recv_one, 0);
    v = 99;
    errno_assert(chsend(h0, &v, sizeof(v), now() + 5000) == 0);
    peer_join(&p);
    assert(p.result == 99);

    /* Sizes must match on both sides, across threads too. */
    peer_start(&p, c, 1, recv_short, 0);
    assert_err(chsend(h0, &v, sizeof(v), now() + 5000), EMSGSIZE);
    peer_join(&p);
    assert(p.result == 1);

    /* A deadline expires while another thread holds a handle but never
       sends; the wait was bounded. */
    int64_t start = now();
    assert_err(chrecv(h1, &v, sizeof(v), now() + 50), ETIMEDOUT);
    assert(now() - start >= 40 && now() - start < 5000);

    /* choose: the tchan clause of several wins when another thread sends. */
    int lc[2];
    errno_assert(chmake(lc) == 0);
    peer_start(&p, c, 0, send_after, 10);
    int lv;
    struct chclause cl[] = {{CHRECV, lc[1], &lv, sizeof(lv)},
        {CHRECV, h1, &v, sizeof(v)}};
    int id = choose(cl, 2, now() + 5000);
    assert(id == 1 && errno == 0 && v == 1234);
    peer_join(&p);
    /* ... and an ordinary clause still works beside a tchan one. */
    int sendv = 77;
    struct chclause cl2[] = {{CHRECV, h1, &v, sizeof(v)},
        {CHSEND, lc[0], &sendv, sizeof(sendv)}};
    int g = go(recv_local(lc[1], &lv));
    id = choose(cl2, 2, now() + 5000);
    assert(id == 1 && errno == 0);
    errno_assert(hclose(g) == 0);
    assert(lv == 77);
    errno_assert(hclose(lc[0]) == 0);
    errno_assert(hclose(lc[1]) == 0);

    /* Cancellation: closing the bundle wakes a coroutine blocked on a
       tchan with ECANCELED. */
    int err = 0;
    g = go(blocked_recv(h1, &err));
    msleep(now() + 5);
    errno_assert(hclose(g) == 0);
    assert(err == ECANCELED);

    /* Closing the handle a coroutine of this thread waits on: EPIPE. */
    int h1b = tchopen(c, 1);
    errno_assert(h1b >= 0);
    g = go(blocked_recv(h1b, &err));
    yield();
    errno_assert(hclose(h1b) == 0);
    errno_assert(hclose(g) == 0);
    assert(err == EPIPE);

    /* chdone in another thread wakes this one's waiter with EPIPE; after
       it everything fails with EPIPE, chdone included. */
    peer_start(&p, c, 0, done_after, 20);
    assert_err(chrecv(h1, &v, sizeof(v), now() + 5000), EPIPE);
    peer_join(&p);
    assert_err(chsend(h0, &v, sizeof(v), now() + 5000), EPIPE);
    assert_err(chdone(h1), EPIPE);
    errno_assert(hclose(h0) == 0);
    errno_assert(hclose(h1) == 0);
    errno_assert(tchrelease(c) == 0);

    /* Once released, the last handle of one end closing in one thread
       makes the waiter on the other end in another thread fail. */
    c = tchmake();
    assert(c);
    h0 = tchopen(c, 0);
    errno_assert(h0 >= 0);
    peer_start(&p, c, 1, recv_expect_epipe, 0);
    while(!__atomic_load_n(&p.opened, __ATOMIC_ACQUIRE)) msleep(now() + 1);
    errno_assert(tchrelease(c) == 0);
    assert_err(tchrelease(c), EINVAL);
    msleep(now() + 20);
    errno_assert(hclose(h0) == 0);
    peer_join(&p);
    assert(p.result == 1);
}

/* Releasing with an end that nobody opened finishes the channel at once. */
static void release_unopened(void) {
    struct tchan *c = tchmake();
    assert(c);
    int h0 = tchopen(c, 0);
    errno_assert(h0 >= 0);
    errno_assert(tchrelease(c) == 0);
    int v = 0;
    assert_err(chsend(h0, &v, sizeof(v), now() + 5000), EPIPE);
    errno_assert(hclose(h0) == 0);
}

/* A wake-up whose thread has exited: posting to it is harmless (the hub
   posts to subscribers whose thread may be gone). */
static struct dill__tsig orphan;

static void *orphan_thread(void *arg) {
    (void)arg;
    errno_assert(dill__tsig_init(&orphan) == 0);
    dill__tsig_post(&orphan);
    errno_assert(dill__tsig_wait(&orphan, now() + 5000) == 0);
    assert_err(dill__tsig_wait(&orphan, now() + 10), ETIMEDOUT);
    return NULL;
}

static void orphan_post(void) {
    pthread_t t;
    errno_assert(pthread_create(&t, NULL, orphan_thread, NULL) == 0);
    errno_assert(pthread_join(t, NULL) == 0);
    dill__tsig_post(&orphan);
    dill__tsig_post(&orphan);
    dill__tsig_term(&orphan);
}

int main(void) {
    semantics();
    orphan_post();
    release_unopened();
    int64_t start = now();
    cancel_race();
    fprintf(stderr, "tchan cancel race: %ld ms\n", (long)(now() - start));
    start = now();
    stress();
    fprintf(stderr, "tchan stress: %ld ms\n", (long)(now() - start));
    return 0;
}
