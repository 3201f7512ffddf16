/* Hibernation (dill_hibernate): coroutines blocked in each kind of call
   (channel, choose, msleep, fdin, tcp, ws over tcp and over TLS)
   give their stack pages back and come back with their stacks intact when
   woken by data, a timeout, cancellation or closing what they wait on.
   The copy leaves out zero words: the same runs with stacks that are
   all zeros (the receive buffer and the clauses in the middle of them)
   and with stacks without a zero word. */

#include <sys/mman.h>
#include <unistd.h>

#include "assert.h"
#include "core/core.h"
#include "libdill.h"
#include "wstest.h"

#if defined __has_include
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#if !defined RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

enum {K_CHAN, K_CHOOSE, K_MSLEEP, K_FDIN, K_TCP, K_WS, K_WSS, K_KINDS};
enum {W_DATA, W_TIMEOUT, W_CANCEL, W_CLOSE, W_WAYS};
static const char *kname[] = {"chan", "choose", "msleep", "fdin", "tcp", "ws",
    "wss"};
static const char *wname[] = {"data", "timeout", "cancel", "close"};

/* What a sleeper reports, in main's memory (main never hibernates). */
struct report {
    int rc;
    int err;
    int intact;                    /* its stack pattern survived */
    int value;                     /* what it received */
    uintptr_t page;                /* a page of its stack */
};

/* What sleepers keep on their stacks: bytes of a pattern (some zero
   words), zeros only, or bytes none of which is zero. */
enum {P_MIXED, P_ZERO, P_DENSE};
static int pattern = P_MIXED;

static uint8_t pbyte(size_t i, int seed) {
    if(pattern == P_ZERO) return 0;
    uint8_t b = (uint8_t)(i * 7 + (size_t)seed);
    return pattern == P_DENSE ? b | 1 : b;
}

static void fill(uint8_t *p, size_t n, int seed) {
    for(size_t i = 0; i != n; i++) p[i] = pbyte(i, seed);
}

static int check(const uint8_t *p, size_t n, int seed) {
    for(size_t i = 0; i != n; i++)
        if(p[i] != pbyte(i, seed)) return 0;
    return 1;
}

/* Whether the page at addr is resident. */
static int resident(uintptr_t addr) {
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char v = 0;
    errno_assert(mincore((void*)(addr & ~(uintptr_t)(pg - 1)), 1, &v) == 0);
    return v & 1;
}

/* Blocks on h (a channel end, a second channel for choose, an fd, a tcp
   or ws socket) with deadline; data, when it comes, is one int. */
coroutine static void sleeper(int kind, int h, int h2, int64_t deadline,
      int seed, struct report *r) {
    /* With P_ZERO, what receives the int (and the clauses below) sits
       among zero words. */
    uint8_t pat[6000];
    fill(pat, sizeof(pat), seed);
    r->page = (uintptr_t)(pat + 3000);
    int v = pattern == P_ZERO ? 0 : -1, flags;
    errno = 0;
    switch(kind) {
    case K_CHAN:
        r->rc = chrecv(h, &v, sizeof(v), deadline);
        break;
    case K_CHOOSE: {
        struct chclause cl[2] = {{CHRECV, h, &v, sizeof(v)},
            {CHRECV, h2, &v, sizeof(v)}};
        r->rc = choose(cl, 2, deadline);
        break;
    }
    case K_MSLEEP:
        r->rc = msleep(deadline);
        break;
    case K_FDIN:
        r->rc = fdin(h, deadline);
        if(r->rc == 0) assert(read(h, &v, sizeof(v)) == sizeof(v));
        break;
    case K_TCP:
        r->rc = brecv(h, &v, sizeof(v), deadline);
        break;
    case K_WS:
    case K_WSS:
        r->rc = (int)ws_recv(h, &flags, &v, sizeof(v), deadline);
        break;
    }
    r->err = errno;
    r->value = v;
    r->intact = check(pat, sizeof(pat), seed);
}

/* Lets the scheduler hibernate whoever is blocked: main sleeps past the
   threshold, longer than the ring receive's hand-over to epoll, until n
   coroutines hibernate (bounded: a loaded machine may be slow). */
static void settle_n(int n) {
    int64_t end = now() + 5000;
    do errno_assert(msleep(now() + 60) == 0);
    while(hibernated() != n && now() < end);
}

static void settle(void) {
    settle_n(1);
}

#if !defined DILL_DISABLE_TLS
#include "tmpdir.h"

static const char *cert, *key;

static void makecert(void) {
    tmpdir_make("hibernate");
    tmpdir_selfsigned("k.pem", "c.pem", 1, "");
    cert = strdup(path("c.pem"));
    key = strdup(path("k.pem"));
    assert(cert && key);
}

coroutine static void wss_server(int s, int ch) {
    s = tls_attach_server(s, cert, key, now() + 60000);
    errno_assert(s >= 0);
    char res[64], host[64];
    s = ws_attach_server(s, WS_BINARY, res, sizeof(res), host, sizeof(host),
        now() + 60000);
    errno_assert(s >= 0);
    errno_assert(chsend(ch, &s, sizeof(s), -1) == 0);
}

/* A wss pair over loopback: *c client, *s server. */
static void wss_pair(int *c, int *s) {
    int p[2], ch[2];
    bpair(1, p);
    errno_assert(chmake(ch) == 0);
    int srv = go(wss_server(p[1], ch[1]));
    errno_assert(srv >= 0);
    struct tls_client_options o = TLS_CLIENT_OPTIONS_INIT;
    o.insecure_skip_verify = 1;
    int t = tls_attach_client_opts(p[0], &o, NULL, now() + 60000);
    errno_assert(t >= 0);
    *c = ws_attach_client(t, WS_BINARY, "/", "localhost", now() + 60000);
    errno_assert(*c >= 0);
    errno_assert(chrecv(ch[0], s, sizeof(*s), now() + 60000) == 0);
    errno_assert(hclose(srv) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}
#endif

static void one(int kind, int way) {
#if defined DILL_DISABLE_TLS
    if(kind == K_WSS) return;
#endif
    int ch[2], ch2[2], p[2] = {-1, -1}, a = -1, b = -1;
    errno_assert(chmake(ch) == 0);
    errno_assert(chmake(ch2) == 0);
    int h = ch[1], h2 = ch2[1];
    if(kind == K_FDIN) {
        errno_assert(pipe(p) == 0);
        h = p[0];
    }
    else if(kind == K_TCP) {
        int s[2];
        bpair(1, s);
        a = s[0];
        h = b = s[1];
    }
    else if(kind == K_WS) {
        wst_pair(1, WS_BINARY, &a, &b);
        h = b;
    }
#if !defined DILL_DISABLE_TLS
    else if(kind == K_WSS) {
        wss_pair(&a, &b);
        h = b;
    }
#endif
    /* msleep has no data: its deadline is what it waits for. */
    int64_t deadline = way == W_TIMEOUT ||
        (kind == K_MSLEEP && way == W_DATA) ? now() + 400 : -1;
    struct report r = {0};
    int seed = kind * 16 + way;
    int bndl = bundle();
    errno_assert(bndl >= 0);
    errno_assert(bundle_go(bndl, sleeper(kind, h, h2, deadline, seed,
        &r)) == 0);
    settle();
    assert(hibernated() == 1);
    assert(!resident(r.page));
    /* The copy: zero words left out (unless valgrind runs us), the rest
       all there. */
    size_t copied = dill__hib_bytes();
    if(pattern == P_DENSE) assert(copied > 6000);
    if(pattern == P_ZERO && !RUNNING_ON_VALGRIND) assert(copied < 3000);
    int v = 1234 + seed;
    switch(way) {
    case W_DATA:
        if(kind == K_CHAN) errno_assert(chsend(ch[0], &v, sizeof(v), -1) == 0);
        if(kind == K_CHOOSE)
            errno_assert(chsend(ch2[0], &v, sizeof(v), -1) == 0);
        if(kind == K_FDIN) assert(write(p[1], &v, sizeof(v)) == sizeof(v));
        if(kind == K_TCP) errno_assert(bsend(a, &v, sizeof(v), -1) == 0);
        if(kind == K_WS || kind == K_WSS)
            errno_assert(ws_send(a, WS_BINARY, &v, sizeof(v), -1) == 0);
        break;
    case W_CANCEL:
        errno_assert(hclose(bndl) == 0);
        bndl = -1;
        break;
    case W_CLOSE:
        if(kind == K_CHAN) errno_assert(chdone(ch[0]) == 0);
        if(kind == K_CHOOSE) errno_assert(chdone(ch2[0]) == 0);
        if(kind == K_MSLEEP) {errno_assert(hclose(bndl) == 0); bndl = -1;}
        if(kind == K_FDIN) {
            /* The wait ends with EBADF before the fd goes. */
            errno_assert(fdclean(p[0]) == 0);
        }
        if(kind == K_TCP || kind == K_WS || kind == K_WSS) {
            errno_assert(hclose(b) == 0);
            b = -1;
        }
        break;
    }
    if(bndl >= 0) {
        errno_assert(bundle_wait(bndl, now() + 5000) == 0);
        errno_assert(hclose(bndl) == 0);
    }
    assert(hibernated() == 0);
    fprintf(stderr, "%s woken by %s: rc %d errno %d intact %d\n",
        kname[kind], wname[way], r.rc, r.err, r.intact);
    assert(r.intact);
    switch(way) {
    case W_DATA:
        assert(r.rc >= 0);
        if(kind != K_MSLEEP) assert(r.value == v);
        break;
    case W_TIMEOUT:
        if(kind == K_MSLEEP) assert(r.rc == 0);
        else {assert(r.rc == -1); assert(r.err == ETIMEDOUT);}
        break;
    case W_CANCEL:
        assert(r.rc == -1);
        assert(r.err == ECANCELED);
        break;
    case W_CLOSE:
        /* choose reports the clause that failed. */
        assert(r.rc == (kind == K_CHOOSE ? 1 : -1));
        if(kind == K_CHAN || kind == K_CHOOSE) assert(r.err == EPIPE);
        else if(kind == K_MSLEEP) assert(r.err == ECANCELED);
        else assert(r.err == EBADF);
        break;
    }
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    errno_assert(hclose(ch2[0]) == 0);
    errno_assert(hclose(ch2[1]) == 0);
    if(p[0] >= 0) {close(p[0]); close(p[1]);}
    if(a >= 0) errno_assert(hclose(a) == 0);
    if(b >= 0) errno_assert(hclose(b) == 0);
}

/* Many receivers hibernated on one channel: each wakes with its own
   message (the channel's list of waiters was relinked to the copies). */
static void many(void) {
    enum {N = 50};
    int ch[2];
    errno_assert(chmake(ch) == 0);
    struct report r[N];
    memset(r, 0, sizeof(r));
    int bndl = bundle();
    errno_assert(bndl >= 0);
    for(int i = 0; i != N; i++)
        errno_assert(bundle_go(bndl, sleeper(K_CHAN, ch[1], -1,
            now() + 10000, i, &r[i])) == 0);
    settle_n(N);
    assert(hibernated() == N);
    /* Half of them wake and finish; the rest sleep on, relinked. */
    for(int i = 0; i != N; i++) {
        int v = 100 + i;
        errno_assert(chsend(ch[0], &v, sizeof(v), -1) == 0);
        if(i == N / 2) {
            settle_n(N - N / 2 - 1);
            assert(hibernated() == N - N / 2 - 1);
        }
    }
    errno_assert(bundle_wait(bndl, now() + 5000) == 0);
    int seen[N] = {0};
    for(int i = 0; i != N; i++) {
        assert(r[i].rc == 0);
        assert(r[i].intact);
        assert(r[i].value >= 100 && r[i].value < 100 + N);
        seen[r[i].value - 100]++;
    }
    for(int i = 0; i != N; i++) assert(seen[i] == 1);
    errno_assert(hclose(bndl) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}

/* Timers of hibernated coroutines fire in deadline order. */
coroutine static void timed(int i, int *order, int *n) {
    uint8_t pat[3000];
    fill(pat, sizeof(pat), i);
    errno_assert(msleep(now() + 150 + 40 * (5 - i)) == 0);
    assert(check(pat, sizeof(pat), i));
    order[(*n)++] = i;
}

static void timers(void) {
    int order[6], n = 0;
    int bndl = bundle();
    for(int i = 0; i != 6; i++)
        errno_assert(bundle_go(bndl, timed(i, order, &n)) == 0);
    errno_assert(msleep(now() + 60) == 0);
    assert(hibernated() == 6);
    errno_assert(bundle_wait(bndl, now() + 5000) == 0);
    assert(n == 6);
    for(int i = 0; i != 6; i++) assert(order[i] == 5 - i);
    errno_assert(hclose(bndl) == 0);
}

/* A coroutine with arguments on the stack (past the six of the x86-64
   registers, eight of aarch64's): they sit above its first frame, in the
   slack that a copy leaves out only when nothing was written there. */
coroutine static void stackargs(int ch, int a2, int a3, int a4, int a5,
      int a6, int a7, int a8, int a9, int a10, int *ok) {
    volatile int *p = &a10;
    int v;
    errno_assert(chrecv(ch, &v, sizeof(v), now() + 5000) == 0);
    *ok = v == 99 && a2 == 2 && a3 == 3 && a4 == 4 && a5 == 5 && a6 == 6 &&
        a7 == 7 && a8 == 8 && a9 == 9 && *p == 10;
}

static void slack(void) {
    int ch[2], ok = 0, v = 99;
    errno_assert(chmake(ch) == 0);
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, stackargs(ch[1], 2, 3, 4, 5, 6, 7, 8, 9, 10,
        &ok)) == 0);
    settle();
    errno_assert(chsend(ch[0], &v, sizeof(v), now() + 5000) == 0);
    errno_assert(bundle_wait(b, now() + 5000) == 0);
    assert(ok);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}

/* A coroutine deeper than the bitmap's scratch (32 KiB of frames) is
   copied whole; one waiting on more clauses than the copy keeps track of
   (16 pieces of memory) too.  Both still wake intact. */
coroutine static void deepsleeper(int ch, struct report *r) {
    uint8_t big[40000];
    fill(big, sizeof(big), 5);
    int v = 0;
    r->rc = chrecv(ch, &v, sizeof(v), now() + 10000);
    r->err = errno;
    r->value = v;
    r->intact = check(big, sizeof(big), 5);
}

enum {WIDE = 20};
coroutine static void widesleeper(const int *chs, struct report *r) {
    uint8_t pat[2000];
    fill(pat, sizeof(pat), 6);
    int v[WIDE];
    struct chclause cl[WIDE];
    for(int i = 0; i != WIDE; i++) {
        v[i] = 0;
        cl[i] = (struct chclause){CHRECV, chs[i], &v[i], sizeof(v[i])};
    }
    r->rc = choose(cl, WIDE, now() + 10000);
    r->err = errno;
    r->value = r->rc >= 0 ? v[r->rc] : -1;
    r->intact = check(pat, sizeof(pat), 6);
    for(int i = 0; i != WIDE; i++)
        if(i != r->rc && v[i] != 0) r->intact = 0;
}

static void whole(void) {
    int ch[WIDE][2], chs[WIDE];
    for(int i = 0; i != WIDE; i++) {
        errno_assert(chmake(ch[i]) == 0);
        chs[i] = ch[i][1];
    }
    struct report r = {0}, rw = {0};
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, deepsleeper(ch[0][1], &r)) == 0);
    settle();
    assert(dill__hib_bytes() > 40000);
    errno_assert(bundle_go(b, widesleeper(chs, &rw)) == 0);
    settle_n(2);
    assert(hibernated() == 2);
    int v = 77;
    errno_assert(chsend(ch[0][0], &v, sizeof(v), now() + 5000) == 0);
    v = 78;
    errno_assert(chsend(ch[13][0], &v, sizeof(v), now() + 5000) == 0);
    errno_assert(bundle_wait(b, now() + 5000) == 0);
    assert(r.rc == 0 && r.value == 77 && r.intact);
    assert(rw.rc == 13 && rw.value == 78 && rw.intact);
    errno_assert(hclose(b) == 0);
    for(int i = 0; i != WIDE; i++) {
        errno_assert(hclose(ch[i][0]) == 0);
        errno_assert(hclose(ch[i][1]) == 0);
    }
}

/* What stays awake: go() coroutines (their handle points into their
   stack), and with hibernation off, everyone. */
static void excluded(void) {
    int ch[2];
    errno_assert(chmake(ch) == 0);
    struct report r = {0};
    int h = go(sleeper(K_CHAN, ch[1], -1, -1, 1, &r));
    errno_assert(h >= 0);
    errno_assert(msleep(now() + 120) == 0);
    assert(hibernated() == 0);
    errno_assert(hclose(h) == 0);
    assert(r.rc == -1 && r.err == ECANCELED && r.intact);
    errno_assert(hibernate(-1) == 0);
    int bndl = bundle();
    errno_assert(bundle_go(bndl, sleeper(K_CHAN, ch[1], -1, -1, 2, &r)) == 0);
    errno_assert(msleep(now() + 120) == 0);
    assert(hibernated() == 0);
    errno_assert(hclose(bndl) == 0);
    assert(r.rc == -1 && r.err == ECANCELED && r.intact);
    assert_err(hibernate(-2), EINVAL);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}

int main(void) {
#if !defined DILL_DISABLE_TLS
    makecert();
#endif
    /* A threshold of 10 ms: ring receives hand over to epoll after it. */
    errno_assert(hibernate(10) == 0);
    for(int k = 0; k != K_KINDS; k++)
        for(int w = 0; w != W_WAYS; w++) one(k, w);
    many();
    timers();
    slack();
    errno_assert(hibernate(0) == 0);
    one(K_WS, W_DATA);
    one(K_CHAN, W_DATA);
    excluded();
    /* Zero words everywhere, and none. */
    errno_assert(hibernate(10) == 0);
    static const int kinds[] = {K_CHAN, K_CHOOSE, K_MSLEEP, K_TCP, K_WS};
    for(pattern = P_ZERO; pattern <= P_DENSE; pattern++)
        for(size_t k = 0; k != sizeof(kinds) / sizeof(kinds[0]); k++)
            for(int w = 0; w != W_WAYS; w++) one(kinds[k], w);
    pattern = P_MIXED;
    whole();
#if !defined DILL_DISABLE_TLS
    tmpdir_remove();
    free((void*)cert);
    free((void*)key);
#endif
    return 0;
}
