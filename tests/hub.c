/* The publish/subscribe hub over real TCP WebSocket connections: fan-out
   in publish order per topic, the three overflow policies with a client
   that does not read (others keep receiving, the queue stays within its
   byte bound), publishers and subscribers in other threads, churn while
   publishing, and shutdown with messages in flight. */

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include "wstest.h"
#include "net/stream.h"
#include "proto/hub.h"

#define MSG 4096

struct conn {
    int c;                         /* client end (reads) */
    int s;                         /* server end, joined */
    int sub;
};

static void conn_open(struct dill_hub *h, struct conn *k) {
    wst_pair(1, 0, &k->c, &k->s);
    k->sub = hub_join(h, k->s);
    errno_assert(k->sub >= 0);
}

/* Small socket buffers, so that a client that does not read is felt at
   once rather than after megabytes of loopback buffering. */
static void small_buffers(int a, int b) {
    struct dill__stream *sa = hquery(a, dill__stream_type);
    struct dill__stream *sb = hquery(b, dill__stream_type);
    assert(sa && sb);
    int n = 8192;
    errno_assert(setsockopt(sa->io.fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n)) == 0);
    errno_assert(setsockopt(sb->io.fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n)) == 0);
}

static void conn_close(struct conn *k) {
    errno_assert(hclose(k->sub) == 0);
    errno_assert(hclose(k->s) == 0);
    errno_assert(hclose(k->c) == 0);
}

/* Message: publisher id, sequence number, padding. */
static void fill(uint8_t *b, int pub, uint32_t seq) {
    memset(b, 0x5a, MSG);
    b[0] = (uint8_t)pub;
    memcpy(b + 1, &seq, sizeof(seq));
}

static int publish(struct dill_hub *h, const char *topic, int pub,
      uint32_t seq, int64_t deadline) {
    uint8_t b[MSG];
    fill(b, pub, seq);
    return hub_publish(h, topic, 0, b, sizeof(b), deadline);
}

/* Reads one message: returns its sequence number, *pub its publisher. */
static int64_t readmsg(int c, int *pub, int64_t deadline) {
    uint8_t b[MSG];
    int type;
    ssize_t n = ws_recv(c, &type, b, sizeof(b), deadline);
    if(n < 0) return -1;
    assert(n == MSG && type == WS_BINARY);
    uint32_t seq;
    memcpy(&seq, b + 1, sizeof(seq));
    if(pub) *pub = b[0];
    return seq;
}

/* Every subscriber gets every message of its topics, in publish order. */
static void fanout(void) {
    struct dill_hub *h = hub_make(NULL);
    assert(h);
    enum {N = 10, M = 200};
    struct conn k[N];
    for(int i = 0; i != N; i++) {
        conn_open(h, &k[i]);
        errno_assert(hub_subscribe(k[i].sub, "a") == 0);
        if(i < 3) errno_assert(hub_subscribe(k[i].sub, "b") == 0);
    }
    assert_err(hub_subscribe(k[0].sub, "a"), EEXIST);
    assert_err(hub_unsubscribe(k[5].sub, "b"), ENOENT);
    assert_err(hub_subscribe(k[0].sub, NULL), EINVAL);
    /* Nobody listens to "c": published to nobody. */
    errno_assert(publish(h, "c", 0, 0, -1) == 0);
    for(uint32_t i = 0; i != M; i++)
        errno_assert(publish(h, i % 3 ? "a" : "b", 0, i, -1) == 0);
    for(int i = 0; i != N; i++) {
        for(uint32_t j = 0; j != M; j++) {
            if(i >= 3 && j % 3 == 0) continue;
            assert(readmsg(k[i].c, NULL, now() + 5000) == j);
        }
        /* Nothing more. */
        assert(readmsg(k[i].c, NULL, now() + 20) == -1 && errno == ETIMEDOUT);
    }
    /* Unsubscribed: no more "a" for k[1]. */
    errno_assert(hub_unsubscribe(k[1].sub, "a") == 0);
    errno_assert(publish(h, "a", 0, 7777, -1) == 0);
    assert(readmsg(k[0].c, NULL, now() + 5000) == 7777);
    assert(readmsg(k[1].c, NULL, now() + 20) == -1 && errno == ETIMEDOUT);
    /* Text is checked once, at publish. */
    errno_assert(hub_publish(h, "a", WS_TEXT, "caf\xc3\xa9", 5, -1) == 0);
    assert_err(hub_publish(h, "a", WS_TEXT, "\xff", 1, -1), EINVAL);
    assert_err(hub_publish(h, NULL, 0, "x", 1, -1), EINVAL);
    char t[8];
    int type;
    assert(ws_recv(k[0].c, &type, t, sizeof(t), now() + 5000) == 5);
    assert(type == WS_TEXT && memcmp(t, "caf\xc3\xa9", 5) == 0);
    assert_err(hub_free(h), EBUSY);
    for(int i = 0; i != N; i++) conn_close(&k[i]);
    errno_assert(hub_free(h) == 0);
}

coroutine static void reader(int c, int m, int *got) {
    for(int j = 0; j != m; j++) {
        int64_t seq = readmsg(c, NULL, now() + 10000);
        if(seq != j)
            fprintf(stderr, "reader %d: message %d is %lld\n", c, j,
                (long long)seq);
        errno_assert(seq >= 0);
        assert(seq == j);
        (*got)++;
    }
}

static void on_dropped(int ws, void *arg) {
    int *n = arg;
    assert(ws >= 0);
    (*n)++;
}

/* One client never reads; the others, reading, get everything while the
   publisher goes on; the slow one's queue never exceeds the bound.  code:
   the hub's close_code; stall: its send_timeout. */
static void slow(int policy, int code, int64_t stall) {
    int ndropped = 0;
    struct hub_options o = HUB_OPTIONS_INIT;
    o.max_queue = 64 * 1024;
    o.policy = policy;
    o.close_code = code;
    o.send_timeout = stall;
    o.dropped = on_dropped;
    o.dropped_arg = &ndropped;
    struct dill_hub *h = hub_make(&o);
    assert(h);
    enum {N = 4};
    int M = policy == HUB_WAIT ? 100 : 1000;
    struct conn k[N + 1];
    int got[N] = {0};
    int b = bundle();
    errno_assert(b >= 0);
    for(int i = 0; i != N; i++) {
        conn_open(h, &k[i]);
        errno_assert(hub_subscribe(k[i].sub, "t") == 0);
        errno_assert(bundle_go(b, reader(k[i].c, M, &got[i])) == 0);
    }
    struct conn *z = &k[N];
    wst_bpair_hook = small_buffers;
    conn_open(h, z);
    wst_bpair_hook = NULL;
    errno_assert(hub_subscribe(z->sub, "t") == 0);
    int timedout = 0;
    size_t peak = 0;
    /* HUB_WAIT: the messages the slow one was given (publish succeeded). */
    char given[1000];
    assert(M <= (int)sizeof(given));
    for(uint32_t j = 0; j != (uint32_t)M; j++) {
        int rc = publish(h, "t", 0, j, now() + 5);
        given[j] = rc == 0;
        if(rc < 0) {
            assert(policy == HUB_WAIT && errno == ETIMEDOUT);
            timedout++;
            /* The fast ones got it: only the slow one is behind. */
        }
        size_t q = dill__hub_queued(z->sub);
        if(q > peak) peak = q;
        assert(q <= o.max_queue);
        /* Paced like a real source, so that the readers run; and, on a
           loaded machine, never faster than the readers: the policy is
           for the slow one only. */
        if(j % 8 == 0) msleep(now() + 1);
        int64_t deadline = now() + 10000;
        for(int i = 0; i != N; i++)
            while(dill__hub_queued(k[i].sub) > o.max_queue / 2) {
                assert(now() < deadline);
                msleep(now() + 1);
            }
    }
    errno_assert(bundle_wait(b, now() + 20000) == 0);
    for(int i = 0; i != N; i++) assert(got[i] == M);
    if(policy == HUB_WAIT) assert(timedout > 0);
    if(stall) {
        /* The writer gives up on the client after stall ms. */
        int64_t deadline = now() + 10000;
        while(!ndropped && now() < deadline) msleep(now() + 10);
        assert(ndropped == 1);
        assert(dill__hub_queued(z->sub) == 0);
        assert_err(hub_subscribe(z->sub, "u"), EPIPE);
        /* What the client still finds ends, one way or another. */
        while(readmsg(z->c, NULL, now() + 1000) >= 0) {}
        assert(errno == EPIPE || errno == ECONNRESET || errno == ETIMEDOUT);
    }
    else if(policy == HUB_CLOSE) {
        /* The slow client finds a Close with the policy's status after
           what was sent before it. */
        int64_t seq;
        while((seq = readmsg(z->c, NULL, now() + 5000)) >= 0) {}
        assert(errno == EPIPE);
        int status;
        assert(ws_status(z->c, &status, NULL, 0) >= 0);
        assert(status == (code ? code : 1008));
        assert(ndropped == 1);
        assert(dill__hub_queued(z->sub) == 0);
        assert_err(hub_subscribe(z->sub, "u"), EPIPE);
    }
    else {
        /* Drop-oldest or wait: what it reads is in order; drop-oldest
           keeps the newest, so it ends with the last one; wait gives it
           exactly the messages whose publish succeeded.  Read up to that
           last one (not until a pause: a loaded machine pauses too). */
        assert(peak > 0);
        int64_t end = M - 1;
        if(policy == HUB_WAIT)
            while(end >= 0 && !given[end]) end--;
        assert(end >= 0);
        int64_t last = -1, seq;
        while(last != end) {
            /* Tiny buffers: window updates may take a delayed ACK or two. */
            seq = readmsg(z->c, NULL, now() + 10000);
            errno_assert(seq >= 0);
            assert(seq > last && seq <= end);
            if(policy == HUB_WAIT)
                for(int64_t j = last + 1; j <= seq; j++)
                    assert(given[j] == (j == seq));
            last = seq;
        }
        /* Nothing more. */
        assert(readmsg(z->c, NULL, now() + 20) == -1 && errno == ETIMEDOUT);
        assert(ndropped == 0);
    }
    errno_assert(hclose(b) == 0);
    for(int i = 0; i != N + 1; i++) conn_close(&k[i]);
    errno_assert(hub_free(h) == 0);
}

/* Subscribers in two threads, publishers in two others and here. */
enum {XT = 2, XSUBS = 3, XPUBS = 3, XM = 500};
static struct dill_hub *xh;
static int xready;

coroutine static void xreader(int c, int *ok) {
    uint32_t next[XPUBS] = {0};
    for(int j = 0; j != XPUBS * XM; j++) {
        int pub;
        int64_t seq = readmsg(c, &pub, now() + 20000);
        errno_assert(seq >= 0);
        assert(pub < XPUBS && seq == next[pub]);
        next[pub]++;
    }
    *ok = 1;
}

static void *xsub_thread(void *arg) {
    int *ok = arg;
    struct conn k[XSUBS];
    int b = bundle();
    errno_assert(b >= 0);
    for(int i = 0; i != XSUBS; i++) {
        conn_open(xh, &k[i]);
        errno_assert(hub_subscribe(k[i].sub, "x") == 0);
        errno_assert(bundle_go(b, xreader(k[i].c, &ok[i])) == 0);
    }
    __atomic_add_fetch(&xready, 1, __ATOMIC_RELEASE);
    errno_assert(bundle_wait(b, now() + 30000) == 0);
    errno_assert(hclose(b) == 0);
    for(int i = 0; i != XSUBS; i++) conn_close(&k[i]);
    return NULL;
}

static void *xpub_thread(void *arg) {
    int pub = (int)(intptr_t)arg;
    for(uint32_t j = 0; j != XM; j++)
        errno_assert(publish(xh, "x", pub, j, -1) == 0);
    return NULL;
}

static void threads(void) {
    /* Publishers wait for slow readers rather than drop: every message
       must arrive. */
    struct hub_options o = HUB_OPTIONS_INIT;
    o.policy = HUB_WAIT;
    o.max_queue = 64 * 1024;
    xh = hub_make(&o);
    assert(xh);
    pthread_t st[XT], pt[XPUBS - 1];
    int ok[XT][XSUBS] = {{0}};
    for(int i = 0; i != XT; i++)
        errno_assert(pthread_create(&st[i], NULL, xsub_thread, ok[i]) == 0);
    while(__atomic_load_n(&xready, __ATOMIC_ACQUIRE) != XT) msleep(now() + 1);
    for(int i = 0; i != XPUBS - 1; i++)
        errno_assert(pthread_create(&pt[i], NULL, xpub_thread,
            (void*)(intptr_t)(i + 1)) == 0);
    xpub_thread((void*)(intptr_t)0);
    for(int i = 0; i != XPUBS - 1; i++)
        errno_assert(pthread_join(pt[i], NULL) == 0);
    for(int i = 0; i != XT; i++) {
        errno_assert(pthread_join(st[i], NULL) == 0);
        for(int j = 0; j != XSUBS; j++) assert(ok[i][j]);
    }
    errno_assert(hub_free(xh) == 0);
}

/* A thread that exits with its subscribers still open: the hub closes
   them at its exit, so publishers elsewhere neither wait for them nor touch
   the dead thread, and the hub can be freed. */
enum {EN = 3, EM = 50};
static struct dill_hub *eh;
static int estate;                 /* 1: subscribed, 2: thread joined */

static void *exit_thread(void *arg) {
    int *ok = arg;
    struct conn k[EN];
    for(int i = 0; i != EN; i++) {
        conn_open(eh, &k[i]);
        errno_assert(hub_subscribe(k[i].sub, "e") == 0);
        if(i) errno_assert(hub_subscribe(k[i].sub, "f") == 0);
    }
    __atomic_store_n(&estate, 1, __ATOMIC_RELEASE);
    for(int i = 0; i != EN; i++)
        for(uint32_t j = 0; j != EM; j++)
            assert(readmsg(k[i].c, NULL, now() + 10000) == j);
    /* The connections go (the writers are idle: whatever is published
       from now on fails on them), the subscribers are left open. */
    msleep(now() + 10);
    for(int i = 0; i != EN; i++) {
        errno_assert(hclose(k[i].s) == 0);
        errno_assert(hclose(k[i].c) == 0);
    }
    *ok = 1;
    return NULL;
}

static void *exit_joiner(void *arg) {
    errno_assert(pthread_join(*(pthread_t*)arg, NULL) == 0);
    __atomic_store_n(&estate, 2, __ATOMIC_RELEASE);
    return NULL;
}

static void thread_exit(void) {
    /* Waiting publishers: a subscriber the hub still counted would hold
       every publish until its deadline. */
    struct hub_options o = HUB_OPTIONS_INIT;
    o.policy = HUB_WAIT;
    o.max_queue = 16 * 1024;
    eh = hub_make(&o);
    assert(eh);
    estate = 0;
    int ok = 0;
    pthread_t t, j;
    errno_assert(pthread_create(&t, NULL, exit_thread, &ok) == 0);
    while(__atomic_load_n(&estate, __ATOMIC_ACQUIRE) != 1) msleep(now() + 1);
    errno_assert(pthread_create(&j, NULL, exit_joiner, &t) == 0);
    for(uint32_t i = 0; i != EM; i++)
        errno_assert(publish(eh, "e", 0, i, now() + 10000) == 0);
    /* Publishing goes on while the thread exits. */
    int64_t deadline = now() + 20000;
    uint32_t n = 0;
    while(__atomic_load_n(&estate, __ATOMIC_ACQUIRE) != 2) {
        errno_assert(publish(eh, n % 2 ? "e" : "f", 0, n, now() + 10000) == 0);
        n++;
        if(n % 16 == 0) msleep(now() + 1);
        assert(now() < deadline);
    }
    errno_assert(pthread_join(j, NULL) == 0);
    assert(ok);
    int64_t start = now();
    errno_assert(publish(eh, "e", 0, 0, now() + 10000) == 0);
    errno_assert(publish(eh, "f", 0, 0, now() + 10000) == 0);
    assert(now() - start < SLACK);
    /* Nobody is left: the exit closed them all. */
    errno_assert(hub_free(eh) == 0);
}

/* The client's socket of the pair being made, for FIONREAD. */
static int zfd;

static void client_fd(int a, int b) {
    struct dill__stream *sa = hquery(a, dill__stream_type);
    assert(sa && b >= 0);
    zfd = sa->io.fd;
}

/* Subscribers whose connections compress each message from a fresh
   stream share one compressed copy per window size; the others get the
   message plain (or compressed by their own context: not through the hub).
   Every client reads back exactly what was published. */
static void deflate_once(void) {
    struct dill_hub *h = hub_make(NULL);
    assert(h);
    struct ws_options saved = wst_sopts;
    /* deflate_memory 0: no context takeover, window 15; 20000: window 9
       with takeover (see ws_deflate.c). */
    static const size_t mem[] = {0, 0, 0, 20000};
    enum {N = 5, M = 20};
    struct conn k[N];
    int fds[N];
    wst_bpair_hook = client_fd;
    for(int i = 0; i != N; i++) {
        struct ws_options o = WS_OPTIONS_INIT;
        if(i < 4) {
            o.deflate = WS_DEFLATE;
            o.deflate_memory = mem[i];
        }
        wst_sopts = o;
        errno_assert(wst_pair_opts(1, 0, 0, &o, &k[i].c, &k[i].s, NULL) == 0);
        fds[i] = zfd;
        struct ws_deflate_params p;
        assert(ws_deflate(k[i].s, &p) == (i < 4));
        if(i < 3) assert(p.server_no_context_takeover);
        if(i == 3) assert(!p.server_no_context_takeover);
        k[i].sub = hub_join(h, k[i].s);
        errno_assert(k[i].sub >= 0);
        errno_assert(hub_subscribe(k[i].sub, "z") == 0);
    }
    wst_sopts = saved;
    wst_bpair_hook = NULL;
    size_t nz = dill__hub_compressions();
    static char msg[MSG + 1];
    for(int j = 0; j != M; j++) {
        snprintf(msg, sizeof(msg), "%d", j);
        for(int i = (int)strlen(msg); i != MSG; i++)
            msg[i] = "hello hub "[i % 10];
        errno_assert(hub_publish(h, "z", j % 2 ? WS_TEXT : 0, msg, MSG,
            -1) == 0);
    }
    /* Under the threshold (128 bytes by default): plain for everybody. */
    errno_assert(hub_publish(h, "z", 0, "short", 5, -1) == 0);
    /* Does not shrink: plain. */
    uint8_t noise[256];
    uint32_t x = 12345;
    for(size_t i = 0; i != sizeof(noise); i++) {
        x = x * 1103515245 + 12345;
        noise[i] = (uint8_t)(x >> 24);
    }
    errno_assert(hub_publish(h, "z", 0, noise, sizeof(noise), -1) == 0);
    /* On the wire: the sharing ones got compressed frames, the others
       (takeover, no deflate) the plain ones. */
    size_t plain = M * (MSG + 4) + 7 + 260;
    for(int i = 0; i != N; i++) {
        int64_t deadline = now() + 5000;
        int pending = 0;
        while(1) {
            errno_assert(ioctl(fds[i], FIONREAD, &pending) == 0);
            if(i < 3 && pending > 0) {
                /* All of it, once the size stops growing. */
                msleep(now() + 50);
                int again;
                errno_assert(ioctl(fds[i], FIONREAD, &again) == 0);
                if(again == pending) break;
            }
            if(i >= 3 && (size_t)pending >= plain) break;
            assert(now() < deadline);
            msleep(now() + 1);
        }
        if(i < 3) assert((size_t)pending < plain / 4);
        else assert((size_t)pending == plain);
    }
    char buf[MSG + 1];
    for(int i = 0; i != N; i++) {
        for(int j = 0; j != M; j++) {
            snprintf(msg, sizeof(msg), "%d", j);
            for(int l = (int)strlen(msg); l != MSG; l++)
                msg[l] = "hello hub "[l % 10];
            int type;
            ssize_t n = ws_recv(k[i].c, &type, buf, sizeof(buf), now() + 5000);
            errno_assert(n == MSG);
            assert(type == (j % 2 ? WS_TEXT : WS_BINARY));
            assert(memcmp(buf, msg, MSG) == 0);
        }
        int type;
        assert(ws_recv(k[i].c, &type, buf, sizeof(buf), now() + 5000) == 5);
        assert(memcmp(buf, "short", 5) == 0);
        assert(ws_recv(k[i].c, &type, buf, sizeof(buf), now() + 5000) ==
            sizeof(noise));
        assert(memcmp(buf, noise, sizeof(noise)) == 0);
    }
    /* Once per message for the three that share (the noise was tried
       once too), not once per subscriber. */
    assert(dill__hub_compressions() - nz == M + 1);
    for(int i = 0; i != N; i++) conn_close(&k[i]);
    errno_assert(hub_free(h) == 0);
}

/* Churn: subscribers come, go, unsubscribe and close while a publisher
   publishes; a steady subscriber still gets everything in order. */
coroutine static void churner(struct dill_hub *h, int rounds) {
    for(int r = 0; r != rounds; r++) {
        struct conn k;
        conn_open(h, &k);
        errno_assert(hub_subscribe(k.sub, "c") == 0);
        errno_assert(hub_subscribe(k.sub, "d") == 0);
        yield();
        if(r % 2) errno_assert(hub_unsubscribe(k.sub, "c") == 0);
        if(r % 3 == 0) readmsg(k.c, NULL, now() + 1);
        /* The client end may go first: the writer sees the failure. */
        if(r % 4 == 0) errno_assert(hclose(k.c) == 0);
        yield();
        errno_assert(hclose(k.sub) == 0);
        errno_assert(hclose(k.s) == 0);
        if(r % 4) errno_assert(hclose(k.c) == 0);
    }
}

coroutine static void churn_pub(struct dill_hub *h, int m) {
    for(uint32_t j = 0; j != (uint32_t)m; j++) {
        errno_assert(publish(h, "c", 0, j, -1) == 0);
        if(j % 8 == 0) yield();
    }
}

static void churn(void) {
    /* Nothing may be dropped for the steady subscriber: the publisher waits
       for it (and for the churners until they go). */
    struct hub_options o = HUB_OPTIONS_INIT;
    o.policy = HUB_WAIT;
    struct dill_hub *h = hub_make(&o);
    assert(h);
    enum {M = 2000};
    struct conn steady;
    conn_open(h, &steady);
    errno_assert(hub_subscribe(steady.sub, "c") == 0);
    int got = 0;
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, reader(steady.c, M, &got)) == 0);
    for(int i = 0; i != 3; i++) errno_assert(bundle_go(b, churner(h, 40)) == 0);
    errno_assert(bundle_go(b, churn_pub(h, M)) == 0);
    errno_assert(bundle_wait(b, now() + 30000) == 0);
    assert(got == M);
    errno_assert(hclose(b) == 0);
    conn_close(&steady);
    errno_assert(hub_free(h) == 0);
}

/* Shutdown with messages queued and being written: nothing leaks, nothing
   waits past its bound. */
static void shutdown_in_flight(void) {
    struct dill_hub *h = hub_make(NULL);
    assert(h);
    struct conn k[3];
    for(int i = 0; i != 3; i++) {
        conn_open(h, &k[i]);
        errno_assert(hub_subscribe(k[i].sub, "s") == 0);
    }
    static uint8_t big[256 * 1024];
    for(int j = 0; j != 3; j++)
        errno_assert(hub_publish(h, "s", 0, big, sizeof(big), -1) == 0);
    for(uint32_t j = 0; j != 100; j++) errno_assert(publish(h, "s", 0, j, -1) == 0);
    yield();
    assert_err(hub_publish(h, "s", 0, big, 2 * 1024 * 1024, -1), EMSGSIZE);
    int64_t start = now();
    /* Subscriber first, or the connection first, or the client. */
    errno_assert(hclose(k[0].sub) == 0);
    errno_assert(hclose(k[0].s) == 0);
    errno_assert(hclose(k[0].c) == 0);
    errno_assert(hclose(k[1].c) == 0);
    errno_assert(hclose(k[1].sub) == 0);
    errno_assert(hclose(k[1].s) == 0);
    conn_close(&k[2]);
    assert(now() - start < SLACK);
    errno_assert(hub_free(h) == 0);
    assert_err(hub_join(NULL, 0), EINVAL);
    struct hub_options bad = HUB_OPTIONS_INIT;
    bad.policy = 9;
    errno = 0;
    assert(hub_make(&bad) == NULL && errno == EINVAL);
    bad.policy = HUB_CLOSE;
    bad.close_code = 1011;
    errno = 0;
    assert(hub_make(&bad) == NULL && errno == EINVAL);
}

#define STEP(x) do {int64_t t0 = now(); x; \
    fprintf(stderr, "%s: %d ms\n", #x, (int)(now() - t0));} while(0)

int main(void) {
    STEP(fanout());
    STEP(slow(HUB_DROP_OLDEST, 0, 0));
    STEP(slow(HUB_CLOSE, 0, 0));
    STEP(slow(HUB_CLOSE, 1013, 0));
    STEP(slow(HUB_WAIT, 0, 0));
    /* Too slow to take a batch in 50 ms: dropped whatever the policy. */
    STEP(slow(HUB_DROP_OLDEST, 1013, 50));
    STEP(threads());
    STEP(thread_exit());
    STEP(deflate_once());
    STEP(churn());
    STEP(shutdown_in_flight());
    return 0;
}
