/* Clients with churn for tests/cluster_churn.sh (issue 17): N WebSocket
   clients of a broadcast service (dillws --listen --broadcast --redis
   nodes behind HAProxy) that join, leave and come back while publishers,
   each a client of a different node, send numbered messages in windows.

   Usage: churn [-n CLIENTS] [-s SECONDS] [-r SEED] LB_URL PUB_URL...

   Half of the clients (the stable ones) stay connected from start to end;
   the others keep a connection for 0.3 to 4 s, close it, wait up to
   0.3 s and connect again, for SECONDS.  Every publisher (one per PUB_URL)
   sends K messages "P W I" per window, a window every 0.8 s.  Checks:
   - within one connection, the messages of each publisher arrive in
     order without a gap (each the next of the one before);
   - a connection open GRACE ms before a window started and not closed
     before it ended gets all of its messages: a client that decides to
     leave first waits (LINGER ms at most) for the windows it owes;
   - first (warm-up) and last windows reach every client, each connected;
   - no established connection breaks unless the client closes it.
   Prints a summary, "FAIL ..." lines, and exits 0 when all held.  Every
   wait is bounded: the whole run takes SECONDS + about 10 s, 90 s at
   most. */

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <libdill.h>

#define MAXPUB 8
#define MAXWIN 64
#define K 10                /* messages per publisher and window */
#define GRACE 1000          /* ms from connection to a window it owes */
#define LINGER 10000        /* ms a leaving client waits for owed windows */
#define PERIOD 800          /* ms from one window to the next */
#define SPACING 20          /* ms between two messages of a window */
#define BOUND 20000         /* ms any phase may take */

struct client {
    int stable;
    int staying;            /* churning client, connected after the churn */
    int ws;                 /* -1: not connected */
    int64_t t_conn;
    int last[MAXPUB];       /* last sequence number per publisher, -1 */
    unsigned char cnt[MAXWIN][MAXPUB];
};

static struct client *cl;
static int ncl = 1000, npub;
static const char *lb_url;
static int pubws[MAXPUB];
static struct {int64_t start, end;} win[MAXWIN];
static int nwin;                    /* windows started */
static int churning;                /* 1 during the churn, 2 after it */
static uint64_t rng = 1;
static long fails, sessions, leaves, retries, checked, checked_churn, msgs;
static int connect_err;             /* errno of the last failed connect */

static void fail(const char *fmt, ...) {
    if(fails++ >= 20) return;       /* enough to tell what went wrong */
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    fflush(stdout);
}

static int64_t rnd(int64_t lo, int64_t hi) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int64_t)((rng >> 33) % (uint64_t)(hi - lo + 1));
}

static int connect_ws(const char *url) {
    struct ws_options o = WS_OPTIONS_INIT;
    o.flags = WS_TEXT;
    return ws_connect(url, &o, NULL, now() + 10000);
}

/* Whether window w is one the connection of c must have in full at t. */
static int owed(const struct client *c, int w, int64_t t) {
    return win[w].end && win[w].start >= c->t_conn + GRACE &&
        win[w].end <= t;
}

static int complete(const struct client *c, int w) {
    for(int p = 0; p < npub; p++)
        if(c->cnt[w][p] != K) return 0;
    return 1;
}

/* Counts the windows owed at t that arrived; with report, says which did
   not.  Returns how many are missing. */
static int settle(struct client *c, int id, int64_t t, int report) {
    int missing = 0;
    for(int w = 0; w < nwin; w++) {
        if(!owed(c, w, t)) continue;
        if(complete(c, w)) {
            if(report) {checked++; if(!c->stable) checked_churn++;}
            continue;
        }
        missing++;
        for(int p = 0; report && p < npub; p++)
            if(c->cnt[w][p] != K)
                fail("client %d (%s): window %d of publisher %d: %d of %d "
                    "messages", id, c->stable ? "stable" : "churning", w, p,
                    c->cnt[w][p], K);
    }
    return missing;
}

/* One message "P W I" on the connection of c. */
static void take(struct client *c, int id, const char *b) {
    int p, w, i;
    if(sscanf(b, "%d %d %d", &p, &w, &i) != 3 || p < 0 || p >= npub ||
       w < 0 || w >= MAXWIN || i < 0 || i >= K) {
        fail("client %d: unexpected message '%s'", id, b);
        return;
    }
    msgs++;
    int seq = w * K + i;
    if(c->last[p] >= 0 && seq != c->last[p] + 1)
        fail("client %d: publisher %d: message %d after %d", id, p, seq,
            c->last[p]);
    c->last[p] = seq;
    c->cnt[w][p]++;
}

static int session_start(struct client *c) {
    while(1) {
        int ws = connect_ws(lb_url);
        if(ws >= 0) {
            c->ws = ws;
            c->t_conn = now();
            memset(c->last, -1, sizeof(c->last));
            memset(c->cnt, 0, sizeof(c->cnt));
            sessions++;
            return 0;
        }
        if(errno == ECANCELED) return -1;
        connect_err = errno;
        retries++;
        if(msleep(now() + rnd(50, 200)) < 0) return -1;
    }
}

/* Receives until deadline; returns 0 then, -1 on ECANCELED, -2 when the
   connection broke. */
static int receive(struct client *c, int id, int64_t deadline,
      int64_t until_t) {
    char b[64];
    while(1) {
        if(until_t && !settle(c, id, until_t, 0)) return 0;
        int type;
        ssize_t n = ws_recv(c->ws, &type, b, sizeof(b) - 1, deadline);
        if(n < 0) {
            if(errno == ETIMEDOUT) return 0;
            if(errno == ECANCELED) return -1;
            fail("client %d: connection broke after %.1f s: %s", id,
                (now() - c->t_conn) / 1000.0, strerror(errno));
            return -2;
        }
        b[n] = 0;
        take(c, id, b);
    }
}

/* A churning client's connection: kept until the churn starts, then for
   0.3 to 4 s and until the windows it owes arrived (LINGER at most);
   after the churn, for good. */
static int churn_session(struct client *c, int id) {
    int rc = 0;
    while(!churning && !rc) rc = receive(c, id, now() + 100, 0);
    if(rc) return rc;
    if(churning == 2) {
        c->staying = 1;
        return receive(c, id, -1, 0);
    }
    rc = receive(c, id, now() + rnd(300, 4000), 0);
    int64_t t = now();
    if(!rc) rc = receive(c, id, t + LINGER, t);
    if(!rc) {
        settle(c, id, t, 1);
        leaves++;
    }
    return rc;
}

coroutine static void client(int id) {
    struct client *c = &cl[id];
    while(1) {
        if(session_start(c) < 0) return;
        int rc = c->stable ? receive(c, id, -1, 0) : churn_session(c, id);
        hclose(c->ws);
        c->ws = -1;
        if(rc == -1 || msleep(now() + rnd(0, 300)) < 0) return;
    }
}

/* Reads what the broadcast sends back to a publisher. */
coroutine static void drain(int ws) {
    char b[64];
    int type;
    while(ws_recv(ws, &type, b, sizeof(b), -1) >= 0) {}
}

static void publish_window(void) {
    int w = nwin++;
    win[w].start = now();
    char b[64];
    for(int i = 0; i < K; i++) {
        for(int p = 0; p < npub; p++) {
            int n = snprintf(b, sizeof(b), "%d %d %d", p, w, i);
            if(ws_send(pubws[p], WS_TEXT, b, (size_t)n, now() + 10000) < 0)
                fail("publisher %d: send: %s", p, strerror(errno));
        }
        msleep(now() + SPACING);
    }
    win[w].end = now();
}

/* Every client connected, and the churning ones for good. */
static int all_connected(void) {
    for(int i = 0; i < ncl; i++)
        if(cl[i].ws < 0 || (churning == 2 && !cl[i].stable &&
           !cl[i].staying)) return 0;
    return 1;
}

/* Waits until every client is connected and has window w complete. */
static int all_got(int w, int64_t deadline) {
    while(now() < deadline) {
        int n = 0;
        for(int i = 0; i < ncl; i++)
            n += cl[i].ws >= 0 && complete(&cl[i], w);
        if(n == ncl) return 1;
        msleep(now() + 50);
    }
    for(int i = 0, shown = 0; i < ncl && shown < 5; i++)
        if(cl[i].ws < 0 || !complete(&cl[i], w)) {
            fail("client %d: %s window %d", i, cl[i].ws < 0 ?
                "not connected for" : "did not get all of", w);
            shown++;
        }
    return 0;
}

static int wait_connected(int64_t deadline) {
    while(!all_connected() && now() < deadline) msleep(now() + 50);
    if(all_connected()) return 1;
    fail("not every client connected within %d s (%ld connection retries,"
        " the last error: %s)", BOUND / 1000, retries, strerror(connect_err));
    return 0;
}

static void raise_nofile(void) {
    struct rlimit r;
    if(getrlimit(RLIMIT_NOFILE, &r) < 0) return;
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
    if(r.rlim_cur != RLIM_INFINITY && (rlim_t)ncl + 64 > r.rlim_cur) {
        ncl = (int)r.rlim_cur - 64;
        printf("descriptor limit %ld: %d clients\n", (long)r.rlim_cur, ncl);
    }
}

static void usage(void) {
    fprintf(stderr, "usage: churn [-n CLIENTS] [-s SECONDS] [-r SEED] "
        "LB_URL PUB_URL...\n");
    exit(2);
}

static void args(int argc, char **argv, double *seconds) {
    int i = 1;
    for(; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if(!strcmp(argv[i], "-n")) ncl = atoi(argv[i + 1]);
        else if(!strcmp(argv[i], "-s")) *seconds = atof(argv[i + 1]);
        else if(!strcmp(argv[i], "-r")) rng = strtoull(argv[i + 1], NULL, 10);
        else usage();
    }
    if(i + 2 > argc || argc - i - 1 > MAXPUB || ncl < 2 || *seconds <= 0 ||
       *seconds > (MAXWIN - 4) * PERIOD / 1000.0)
        usage();
    lb_url = argv[i];
    npub = 0;
    for(i++; i < argc; i++) {
        pubws[npub] = connect_ws(argv[i]);
        if(pubws[npub] < 0) {
            fprintf(stderr, "churn: %s: %s\n", argv[i], strerror(errno));
            exit(1);
        }
        npub++;
    }
}

/* The churn itself: a window every PERIOD ms for seconds. */
static void churn(double seconds) {
    churning = 1;
    int64_t end = now() + (int64_t)(seconds * 1000);
    while(now() < end) {
        int64_t next = now() + PERIOD;
        publish_window();
        msleep(next);
    }
    churning = 2;
}

int main(int argc, char **argv) {
    double seconds = 10;
    args(argc, argv, &seconds);
    raise_nofile();
    cl = calloc((size_t)ncl, sizeof(*cl));
    if(!cl) return 1;
    int b = bundle();
    for(int p = 0; p < npub; p++) bundle_go(b, drain(pubws[p]));
    for(int i = 0; i < ncl; i++) {
        cl[i].ws = -1;
        cl[i].stable = i % 2 == 0;
        if(bundle_go(b, client(i)) < 0) {perror("go"); return 1;}
    }
    int64_t t0 = now();
    int ok = wait_connected(now() + BOUND);
    /* Warm-up: every node has subscribed to Redis once all got it. */
    if(ok) {
        publish_window();
        ok = all_got(0, now() + BOUND);
    }
    printf("%d clients connected and warmed up in %.1f s\n", ncl,
        (now() - t0) / 1000.0);
    if(ok) {
        msleep(now() + GRACE);
        churn(seconds);
        ok = wait_connected(now() + BOUND + LINGER);
    }
    if(ok) {
        msleep(now() + GRACE);
        publish_window();
        ok = all_got(nwin - 1, now() + BOUND);
    }
    /* The connections still open owe every window since their GRACE. */
    int64_t t = now();
    for(int i = 0; ok && i < ncl; i++) settle(&cl[i], i, t, 1);
    long stable_min = (long)((ncl + 1) / 2) * (nwin - 1);
    printf("%d clients, %d publishers, %d windows of %d messages each, "
        "%.1f s of churn\n", ncl, npub, nwin, K, seconds);
    printf("sessions %ld (left by choice %ld), connection retries %ld, "
        "messages received %ld\n", sessions, leaves, retries, msgs);
    printf("windows checked complete: %ld (%ld on churning connections)\n",
        checked, checked_churn);
    if(ok && checked < stable_min)
        fail("only %ld windows checked, the stable clients alone owe %ld",
            checked, stable_min);
    if(ok && !checked_churn) fail("no churning connection was checked");
    hclose(b);
    for(int p = 0; p < npub; p++) hclose(pubws[p]);
    free(cl);
    printf("total %.1f s: %s\n", (now() - t0) / 1000.0,
        ok && !fails ? "PASS" : "FAIL");
    return ok && !fails ? 0 : 1;
}
