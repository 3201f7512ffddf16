/* The hub over Redis (hub_options.redis) against a real redis-server
   started here on a free port of 127.0.0.1: messages cross two hubs (each
   with its own Redis connections and thread) in both directions, in order
   per publisher, once each (no echo); the last subscriber leaving
   unsubscribes; Redis killed and restarted heals; Redis down at start;
   the bounded queue while Redis is away (oldest dropped and counted); a
   stalled connection is detected and replaced; churn of subscriptions and
   connections over three hubs; rediss://.  Skipped (77) without
   redis-server or without hiredis in the build. */

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "wstest.h"
#include "redisserver.h"
#include "tmpdir.h"
#include "net/bsockx.h"

#define MSG 1000

/* redis-server */

static void redis_run(struct redis *rd, int port) {
    errno_assert(redis_start(rd, port) == 0);
}

static char *url_of(int port) {
    static char url[4][64];
    static int i;
    char *u = url[i++ % 4];
    snprintf(u, 64, "redis://127.0.0.1:%d/", port);
    return u;
}

/* A TCP forwarder to Redis that the test can cut, refuse or stall. */

enum {GATE_REFUSE, GATE_OPEN, GATE_STALL};

struct gate {
    int ls;
    int port;                      /* where hubs connect */
    int to;                        /* redis port */
    int state;
    int conns;                     /* bundle of forwarding coroutines */
    int acceptor;
};

coroutine static void pump(struct gate *g, int from, int to) {
    struct dill__bsockx_vfs *x = hquery(from, dill__bsockx_type);
    char buf[16384];
    while(1) {
        ssize_t n = x->ops->brecvsome(x, buf, sizeof(buf), -1);
        if(n < 0) return;
        /* Stalled: data is held, as by a dead link. */
        while(g->state == GATE_STALL) if(msleep(now() + 10) < 0) return;
        if(bsend(to, buf, n, -1) < 0) return;
    }
}

coroutine static void forward(struct gate *g, int s) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", g->to, 0) == 0);
    int r = tcp_connect(&a, now() + 5000);
    if(r >= 0) {
        int b = bundle();
        errno_assert(b >= 0);
        errno_assert(bundle_go(b, pump(g, s, r)) == 0);
        errno_assert(bundle_go(b, pump(g, r, s)) == 0);
        bundle_wait(b, -1);
        hclose(b);
        hclose(r);
    }
    hclose(s);
}

coroutine static void acceptor(struct gate *g) {
    while(1) {
        int s = tcp_accept(g->ls, NULL, -1);
        if(s < 0) return;
        if(g->state == GATE_REFUSE) {hclose(s); continue;}
        errno_assert(bundle_go(g->conns, forward(g, s)) == 0);
    }
}

static void gate_open(struct gate *g, int to) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", 0, 0) == 0);
    g->ls = tcp_listen(&a, 16);
    errno_assert(g->ls >= 0);
    g->port = ipaddr_port(&a);
    g->to = to;
    g->state = GATE_REFUSE;
    g->conns = bundle();
    errno_assert(g->conns >= 0);
    g->acceptor = go(acceptor(g));
    errno_assert(g->acceptor >= 0);
}

/* Drops every forwarded connection. */
static void gate_cut(struct gate *g) {
    errno_assert(hclose(g->conns) == 0);
    g->conns = bundle();
    errno_assert(g->conns >= 0);
}

static void gate_close(struct gate *g) {
    errno_assert(hclose(g->acceptor) == 0);
    errno_assert(hclose(g->conns) == 0);
    errno_assert(hclose(g->ls) == 0);
}

/* Hubs and subscribers */

static struct hub_stats stats(struct dill_hub *h) {
    struct hub_stats st = HUB_STATS_INIT;
    errno_assert(hub_stats(h, &st) == 0);
    return st;
}

/* Waits (bounded) until h is connected with ntopics channels confirmed. */
static void wait_ready(struct dill_hub *h, int ntopics) {
    int64_t deadline = now() + 15000;
    while(1) {
        struct hub_stats st = stats(h);
        if(st.redis_up && st.redis_topics == ntopics) return;
        assert(now() < deadline);
        msleep(now() + 10);
    }
}

static struct dill_hub *mkhub(const char *url, size_t queue, int64_t timeout) {
    struct hub_options o = HUB_OPTIONS_INIT;
    o.redis = url;
    o.redis_prefix = "test:";
    o.redis_queue = queue;
    o.redis_timeout = timeout;
    struct dill_hub *h = hub_make(&o);
    errno_assert(h);
    return h;
}

struct conn {
    int c, s, sub;
};

static void conn_open(struct dill_hub *h, struct conn *k, const char *topic) {
    wst_pair(1, 0, &k->c, &k->s);
    k->sub = hub_join(h, k->s);
    errno_assert(k->sub >= 0);
    errno_assert(hub_subscribe(k->sub, topic) == 0);
}

static void conn_close(struct conn *k) {
    errno_assert(hclose(k->sub) == 0);
    errno_assert(hclose(k->s) == 0);
    errno_assert(hclose(k->c) == 0);
}

static void publish(struct dill_hub *h, const char *topic, int pub,
      uint32_t seq) {
    uint8_t b[MSG];
    memset(b, 'a' + pub, sizeof(b));
    b[0] = (uint8_t)pub;
    memcpy(b + 1, &seq, sizeof(seq));
    errno_assert(hub_publish(h, topic, 0, b, sizeof(b), now() + 5000) == 0);
}

/* Reads one message: returns its sequence number, *pub its publisher, or
   -1 on timeout. */
static int64_t readmsg(int c, int *pub, int64_t deadline) {
    uint8_t b[MSG];
    int type;
    ssize_t n = ws_recv(c, &type, b, sizeof(b), deadline);
    if(n < 0) {
        assert(errno == ETIMEDOUT);
        return -1;
    }
    assert(n == MSG && type == WS_BINARY);
    uint32_t seq;
    memcpy(&seq, b + 1, sizeof(seq));
    *pub = b[0];
    return seq;
}

static void expect_none(int c) {
    int pub;
    assert(readmsg(c, &pub, now() + 200) == -1);
}

/* Two hubs (a over url_a, b over url_b), one subscriber each to "room",
   both confirmed by Redis. */
struct two {
    struct dill_hub *a, *b;
    struct conn ka, kb;
};

static void two_open(struct two *t, const char *url_a, const char *url_b,
      int64_t timeout_a) {
    t->a = mkhub(url_a, 0, timeout_a);
    t->b = mkhub(url_b, 0, 0);
    conn_open(t->a, &t->ka, "room");
    conn_open(t->b, &t->kb, "room");
    wait_ready(t->a, 1);
    wait_ready(t->b, 1);
}

static void two_close(struct two *t) {
    conn_close(&t->ka);
    conn_close(&t->kb);
    errno_assert(hub_free(t->a) == 0);
    errno_assert(hub_free(t->b) == 0);
}

/* Both hubs publish M messages each, interleaved; both subscribers get
   all 2M, in order per publisher, each once. */
static void cross(int port) {
    struct two t;
    two_open(&t, url_of(port), url_of(port), 0);
    struct dill_hub *a = t.a, *b = t.b;
    enum {M = 300};
    for(uint32_t i = 0; i != M; i++) {
        publish(a, "room", 1, i);
        publish(b, "room", 2, i);
    }
    struct conn *ks[2] = {&t.ka, &t.kb};
    for(int k = 0; k != 2; k++) {
        uint32_t next[3] = {0, 0, 0};
        for(int i = 0; i != 2 * M; i++) {
            int pub;
            int64_t seq = readmsg(ks[k]->c, &pub, now() + 10000);
            assert(seq >= 0 && (pub == 1 || pub == 2));
            assert(seq == next[pub]);
            next[pub]++;
        }
        expect_none(ks[k]->c);
    }
    /* Text stays text, across the bus too; a topic nobody here follows
       does not arrive. */
    errno_assert(hub_publish(a, "room", WS_TEXT, "h\xc3\xa9", 3, -1) == 0);
    errno_assert(hub_publish(a, "elsewhere", WS_TEXT, "x", 1, -1) == 0);
    char buf[16];
    int type;
    assert(ws_recv(t.kb.c, &type, buf, sizeof(buf), now() + 10000) == 3);
    assert(type == WS_TEXT && memcmp(buf, "h\xc3\xa9", 3) == 0);
    assert(ws_recv(t.ka.c, &type, buf, sizeof(buf), now() + 10000) == 3);
    expect_none(t.kb.c);
    struct hub_stats st = stats(b);
    assert(st.redis_received == M + 1 && st.redis_dropped == 0);
    assert(st.subscribers == 1 && st.topics == 1);
    /* The last subscriber leaving unsubscribes. */
    errno_assert(hub_unsubscribe(t.kb.sub, "room") == 0);
    int64_t deadline = now() + 10000;
    while(stats(b).redis_topics != 0) {
        assert(now() < deadline);
        msleep(now() + 10);
    }
    two_close(&t);
}

/* Waits until a message published on a reaches c (publishing again every
   100 ms, with seq counting up from *seq); returns the elapsed ms. */
static int64_t until_crosses(struct dill_hub *a, int c, uint32_t *seq) {
    int64_t start = now(), deadline = start + 20000;
    while(now() < deadline) {
        publish(a, "room", 1, (*seq)++);
        int pub;
        if(readmsg(c, &pub, now() + 100) >= 0) {
            /* Drain the retries that made it too. */
            while(readmsg(c, &pub, now() + 300) >= 0) {}
            return now() - start;
        }
    }
    assert(0 && "no delivery after the restart");
    return -1;
}

/* Redis killed and restarted: the hubs reconnect and resubscribe, local
   delivery works meanwhile. */
static void heal(struct redis *rd) {
    struct two t;
    two_open(&t, url_of(rd->port), url_of(rd->port), 1000);
    struct dill_hub *a = t.a, *b = t.b;
    struct conn ka = t.ka, kb = t.kb;
    uint64_t connects = stats(b).redis_connects;
    redis_kill(rd);
    int64_t deadline = now() + 10000;
    while(stats(a).redis_up || stats(b).redis_up) {
        assert(now() < deadline);
        msleep(now() + 10);
    }
    publish(a, "room", 1, 7);
    int pub;
    assert(readmsg(ka.c, &pub, now() + 5000) == 7 && pub == 1);
    expect_none(kb.c);
    redis_run(rd, rd->port);
    wait_ready(a, 1);
    wait_ready(b, 1);
    assert(stats(b).redis_connects > connects);
    uint32_t seq = 100;
    until_crosses(a, kb.c, &seq);
    /* a's own subscriber got every retry once. */
    for(uint32_t i = 100; i != seq; i++)
        assert(readmsg(ka.c, &pub, now() + 5000) == i);
    expect_none(ka.c);
    two_close(&t);
}

/* Redis down when the hub starts: local delivery works, the hub connects
   once Redis runs. */
static void down_at_start(void) {
    struct redis rd;
    rd.port = free_port();
    struct dill_hub *a = mkhub(url_of(rd.port), 0, 0);
    struct conn ka;
    conn_open(a, &ka, "room");
    publish(a, "room", 1, 1);
    int pub;
    assert(readmsg(ka.c, &pub, now() + 5000) == 1);
    msleep(now() + 200);
    assert(!stats(a).redis_up);
    redis_run(&rd, rd.port);
    struct dill_hub *b = mkhub(url_of(rd.port), 0, 0);
    struct conn kb;
    conn_open(b, &kb, "room");
    wait_ready(a, 1);
    wait_ready(b, 1);
    publish(b, "room", 2, 5);
    assert(readmsg(ka.c, &pub, now() + 10000) == 5 && pub == 2);
    /* a's message from before may come first: it waited in a's queue and
       went out once Redis ran, perhaps after b subscribed. */
    int64_t seq = readmsg(kb.c, &pub, now() + 10000);
    if(seq == 1 && pub == 1) seq = readmsg(kb.c, &pub, now() + 10000);
    assert(seq == 5 && pub == 2);
    conn_close(&ka);
    conn_close(&kb);
    errno_assert(hub_free(a) == 0);
    errno_assert(hub_free(b) == 0);
    redis_kill(&rd);
}

/* While Redis is away, at most redis_queue bytes wait; the oldest are
   dropped and counted, the rest go out in order when it is back. */
static void bounded_queue(int port) {
    struct gate g;
    gate_open(&g, port);
    enum {N = 100, QUEUE = 20000};
    struct dill_hub *a = mkhub(url_of(g.port), QUEUE, 0);
    struct dill_hub *b = mkhub(url_of(port), 0, 0);
    struct conn kb;
    conn_open(b, &kb, "room");
    wait_ready(b, 1);
    for(uint32_t i = 0; i != N; i++) publish(a, "room", 1, i);
    struct hub_stats st = stats(a);
    assert(!st.redis_up && st.redis_queued <= QUEUE && st.redis_queued > 0);
    uint64_t dropped = st.redis_dropped;
    assert(dropped > 0 && dropped < N);
    g.state = GATE_OPEN;
    for(uint32_t i = (uint32_t)dropped; i != N; i++) {
        int pub;
        assert(readmsg(kb.c, &pub, now() + 10000) == i && pub == 1);
    }
    expect_none(kb.c);
    st = stats(a);
    assert(st.redis_dropped == dropped && st.redis_queued == 0);
    assert(st.redis_sent == N - dropped);
    conn_close(&kb);
    errno_assert(hub_free(a) == 0);
    errno_assert(hub_free(b) == 0);
    gate_close(&g);
}

/* A connection that stops carrying data is given up after redis_timeout
   and made again; cut connections too. */
static void stall(int port) {
    struct gate g;
    gate_open(&g, port);
    g.state = GATE_OPEN;
    struct two t;
    two_open(&t, url_of(g.port), url_of(port), 300);
    struct dill_hub *a = t.a;
    uint64_t connects = stats(a).redis_connects;
    g.state = GATE_STALL;
    int64_t deadline = now() + 10000;
    while(stats(a).redis_up) {
        assert(now() < deadline);
        msleep(now() + 10);
    }
    gate_cut(&g);
    g.state = GATE_OPEN;
    wait_ready(a, 1);
    assert(stats(a).redis_connects > connects);
    uint32_t seq = 0;
    until_crosses(a, t.kb.c, &seq);
    /* Cut under a live connection: back again. */
    connects = stats(a).redis_connects;
    gate_cut(&g);
    deadline = now() + 10000;
    while(stats(a).redis_connects < connects + 2) {
        assert(now() < deadline);
        msleep(now() + 10);
    }
    wait_ready(a, 1);
    until_crosses(a, t.kb.c, &seq);
    two_close(&t);
    gate_close(&g);
}

/* Options and URLs. */
static void bad_options(void) {
    const char *bad[] = {"http://127.0.0.1/", "redis://", "redis://:1/",
        "redis://h:99999/", "redis://h/x", "redis://h/?a", "redis://a b/",
        "redis://%zz@h/", NULL};
    for(int i = 0; bad[i]; i++) {
        struct hub_options o = HUB_OPTIONS_INIT;
        o.redis = bad[i];
        assert(!hub_make(&o) && errno == EINVAL);
    }
    struct hub_options o = HUB_OPTIONS_INIT;
#if defined DILL_DISABLE_TLS
    o.redis = "rediss://127.0.0.1/";
    assert(!hub_make(&o) && errno == ENOTSUP);
#else
    struct tls_client_options t = {.size = 1};
    o.redis = "rediss://127.0.0.1/";
    o.redis_tls = &t;
    assert(!hub_make(&o) && errno == EINVAL);
#endif
    assert(hub_stats(NULL, NULL) < 0 && errno == EINVAL);
    /* A hub without Redis has counters too. */
    struct dill_hub *h = hub_make(NULL);
    errno_assert(h);
    struct hub_stats st = stats(h);
    assert(st.subscribers == 0 && st.topics == 0 && !st.redis_up);
    struct hub_stats bad_st = {.size = 1};
    assert(hub_stats(h, &bad_st) < 0 && errno == EINVAL);
    errno_assert(hub_free(h) == 0);
}

/* A wrong password: EACCES inside, so the hub keeps trying (and local
   delivery works); the right one connects. */
static void auth(void) {
    struct redis rd = {.tls = 0};
    errno_assert(redis_start_args(&rd, 0,
        (char*[]){"--requirepass", "s3cr@t", NULL}) == 0);
    char url[128];
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d/", rd.port);
    struct dill_hub *a = mkhub(url, 0, 0);
    snprintf(url, sizeof(url), "redis://:s3cr%%40t@127.0.0.1:%d/0", rd.port);
    struct dill_hub *b = mkhub(url, 0, 0);
    struct conn ka;
    conn_open(a, &ka, "room");
    struct conn kb;
    conn_open(b, &kb, "room");
    wait_ready(b, 1);
    msleep(now() + 300);
    assert(!stats(a).redis_up);
    conn_close(&ka);
    conn_close(&kb);
    errno_assert(hub_free(a) == 0);
    errno_assert(hub_free(b) == 0);
    redis_kill(&rd);
}

#if !defined DILL_DISABLE_TLS
/* rediss://: Redis with TLS only, a self-signed certificate for
   127.0.0.1 that the hubs trust through redis_tls.ca_file; a hub that
   does not trust it, or speaks plain RESP to the TLS port, never comes
   up. */
static void tls(void) {
    tmpdir_make("redis");
    tmpdir_selfsigned("k.pem", "c.pem", 30,
        "-addext subjectAltName=DNS:localhost,IP:127.0.0.1");
    char cert[128], key[128];
    snprintf(cert, sizeof(cert), "%s", path("c.pem"));
    snprintf(key, sizeof(key), "%s", path("k.pem"));
    struct redis rd = {.tls = 1};
    errno_assert(redis_start_args(&rd, 0, (char*[]){"--tls-cert-file", cert,
        "--tls-key-file", key, "--tls-ca-cert-file", cert,
        "--tls-auth-clients", "no", NULL}) == 0);
    struct tls_client_options t = TLS_CLIENT_OPTIONS_INIT;
    t.ca_file = cert;
    char url[128];
    snprintf(url, sizeof(url), "rediss://127.0.0.1:%d/", rd.port);
    struct two w;
    struct hub_options o = HUB_OPTIONS_INIT;
    o.redis = url;
    o.redis_prefix = "test:";
    o.redis_tls = &t;
    w.a = hub_make(&o);
    errno_assert(w.a);
    w.b = hub_make(&o);
    errno_assert(w.b);
    /* The hubs copied the options. */
    memset(cert, 0, sizeof(cert));
    memset(&t, 0, sizeof(t));
    struct dill_hub *untrusting = mkhub(url, 0, 0);
    struct dill_hub *plain = mkhub(url_of(rd.port), 0, 0);
    conn_open(w.a, &w.ka, "room");
    conn_open(w.b, &w.kb, "room");
    struct conn ku, kp;
    conn_open(untrusting, &ku, "room");
    conn_open(plain, &kp, "room");
    wait_ready(w.a, 1);
    wait_ready(w.b, 1);
    publish(w.a, "room", 1, 3);
    int pub;
    assert(readmsg(w.kb.c, &pub, now() + 10000) == 3 && pub == 1);
    assert(!stats(untrusting).redis_up && !stats(plain).redis_up);
    expect_none(ku.c);
    expect_none(kp.c);
    conn_close(&ku);
    conn_close(&kp);
    errno_assert(hub_free(untrusting) == 0);
    errno_assert(hub_free(plain) == 0);
    two_close(&w);
    redis_kill(&rd);
    tmpdir_remove();
}
#endif

/* Churn: CH_HUBS hubs with ch_conns connections each; for a bounded time
   connections subscribe, unsubscribe, leave and come back while the hubs
   publish.  Then Redis' channels match each hub's topics again, and a last
   message per topic reaches exactly the connections subscribed to it.
   DILL_CHURN_CONNS (connections per hub, default 40) and
   DILL_CHURN_SECONDS (default 2) make it bigger by hand. */
enum {CH_HUBS = 3, CH_MAXCONNS = 1000, CH_TOPICS = 8};
static int ch_conns = 40;

struct cconn {
    struct dill_hub *h;
    int c, s, sub, reader;
    unsigned topics;               /* subscribed */
    unsigned got;                  /* END messages received */
};

coroutine static void creader(struct cconn *k) {
    char b[16];
    int type;
    while(1) {
        ssize_t n = ws_recv(k->c, &type, b, sizeof(b), -1);
        if(n < 0) return;
        if(n == 4 && memcmp(b, "END", 3) == 0) k->got |= 1u << (b[3] - '0');
    }
}

static void cconn_open(struct cconn *k, struct dill_hub *h) {
    k->h = h;
    wst_pair(1, 0, &k->c, &k->s);
    k->sub = hub_join(h, k->s);
    errno_assert(k->sub >= 0);
    k->reader = go(creader(k));
    errno_assert(k->reader >= 0);
    k->topics = 0;
}

static void cconn_close(struct cconn *k) {
    errno_assert(hclose(k->reader) == 0);
    errno_assert(hclose(k->sub) == 0);
    errno_assert(hclose(k->s) == 0);
    errno_assert(hclose(k->c) == 0);
}

/* One random step of the churn. */
static void churn_step(struct cconn *ks, struct dill_hub **h) {
    struct cconn *k = &ks[rand() % (CH_HUBS * ch_conns)];
    int t = rand() % CH_TOPICS;
    char topic[4] = {'t', (char)('0' + t), 0};
    unsigned bit = 1u << t;
    switch(rand() % 4) {
    case 0:
        if(k->topics & bit)
            assert(hub_subscribe(k->sub, topic) < 0 && errno == EEXIST);
        else {
            errno_assert(hub_subscribe(k->sub, topic) == 0);
            k->topics |= bit;
        }
        break;
    case 1:
        if(!(k->topics & bit))
            assert(hub_unsubscribe(k->sub, topic) < 0 && errno == ENOENT);
        else {
            errno_assert(hub_unsubscribe(k->sub, topic) == 0);
            k->topics &= ~bit;
        }
        break;
    case 2:
        cconn_close(k);
        cconn_open(k, k->h);
        break;
    default:
        errno_assert(hub_publish(h[rand() % CH_HUBS], topic, WS_TEXT, "x", 1,
            -1) == 0);
    }
}

static void churn(int port) {
    struct dill_hub *h[CH_HUBS];
    static struct cconn ks[CH_HUBS * CH_MAXCONNS];
    const char *e = getenv("DILL_CHURN_CONNS");
    if(e && atoi(e) > 0) ch_conns = atoi(e) < CH_MAXCONNS ? atoi(e) : CH_MAXCONNS;
    e = getenv("DILL_CHURN_SECONDS");
    int64_t secs = e && atoi(e) > 0 ? atoi(e) : 2;
    for(int i = 0; i != CH_HUBS; i++) {
        h[i] = mkhub(url_of(port), 0, 0);
        for(int j = 0; j != ch_conns; j++)
            cconn_open(&ks[i * ch_conns + j], h[i]);
    }
    srand(17);
    int64_t end = now() + secs * 1000;
    int steps = 0;
    for(; now() < end; steps++) {
        churn_step(ks, h);
        /* Let the connections and the hubs' writers run. */
        if(steps % 20 == 0) msleep(now() + 1);
    }
    unsigned subs = 0;
    for(int i = 0; i != CH_HUBS * ch_conns; i++) subs += ks[i].topics != 0;
    printf("churn: %d x %d connections, %d steps in %d s, %u subscribed at "
        "the end\n", CH_HUBS, ch_conns, steps, (int)secs, subs);
    assert(steps > 100 && subs > 0);
    for(int i = 0; i != CH_HUBS; i++) wait_ready(h[i], stats(h[i]).topics);
    for(int i = 0; i != CH_HUBS * ch_conns; i++) ks[i].got = 0;
    for(int t = 0; t != CH_TOPICS; t++) {
        char topic[3] = {'t', (char)('0' + t), 0};
        char end[4] = {'E', 'N', 'D', (char)('0' + t)};
        errno_assert(hub_publish(h[t % CH_HUBS], topic, WS_TEXT, end, 4,
            -1) == 0);
    }
    int64_t deadline = now() + 15000;
    for(int i = 0; i != CH_HUBS * ch_conns; i++) {
        while(ks[i].got != ks[i].topics) {
            assert(now() < deadline);
            msleep(now() + 10);
        }
    }
    /* Nobody gets a topic it left. */
    msleep(now() + 200);
    for(int i = 0; i != CH_HUBS * ch_conns; i++) {
        assert(ks[i].got == ks[i].topics);
        cconn_close(&ks[i]);
    }
    for(int i = 0; i != CH_HUBS; i++) {
        struct hub_stats st = stats(h[i]);
        assert(st.redis_dropped == 0 && st.subscribers == 0);
        errno_assert(hub_free(h[i]) == 0);
    }
}

int main(void) {
#if !DILL_HAVE_HIREDIS
    struct hub_options o = HUB_OPTIONS_INIT;
    o.redis = "redis://127.0.0.1/";
    assert(!hub_make(&o) && errno == ENOTSUP);
    printf("skipped: built without hiredis\n");
    return 77;
#else
    if(system("redis-server --version >/dev/null 2>&1") != 0) {
        printf("skipped: no redis-server\n");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    bad_options();
    struct redis rd;
    redis_run(&rd, 0);
    cross(rd.port);
    churn(rd.port);
    bounded_queue(rd.port);
    stall(rd.port);
    heal(&rd);
    redis_kill(&rd);
    down_at_start();
    auth();
#if !defined DILL_DISABLE_TLS
    tls();
#endif
    return 0;
#endif
}
