/* TLS benchmark over loopback, client and server in two threads (one dill
   scheduler each):
     - full handshakes per second completed by the server (TLS 1.3,
       ECDSA P-256 and RSA-2048 certificates, client verifies chain and
       name),
     - throughput of 64 KiB writes over plain tcp and over TLS in the same
       run (MB/s),
     - ping-pong of 64-byte messages over tcp and over TLS (round trips
       per second),
   each the best of several repetitions.  Next to wall-clock rates it
   prints what the server thread's CPU time alone would allow, which is
   the steadier figure on a loaded machine.
   Certificates are made with the openssl command in a temporary directory.

   Usage: bench_tls [repetitions] [scale]   (defaults 3, 1.0) */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libdill.h"
#include "clock.h"

#if defined DILL_DISABLE_TLS
int main(void) {
    printf("bench_tls: built without TLS\n");
    return 0;
}
#else

static double scale = 1.0;
static char dir[64];

/* CPU time of the calling thread: with other load on the machine it tells
   what a core could do, where wall time tells what we got. */
static double cpusecs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *path(const char *name) {
    static char b[4][256];
    static int n;
    char *p = b[n++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static void makecerts(void) {
    strcpy(dir, "/tmp/dill-tlsbench-XXXXXX");
    if(!mkdtemp(dir)) die("mkdtemp");
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
        "set -e; cd %s; "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
        "-nodes -keyout ca.key -out ca.crt -subj /CN=bench-ca -days 2; "
        "printf 'subjectAltName=DNS:localhost\\n' > srv.ext; "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout ec.key -out ec.csr -subj /CN=localhost; "
        "openssl x509 -req -in ec.csr -CA ca.crt -CAkey ca.key "
        "-set_serial 2 -days 2 -extfile srv.ext -out ec.crt; "
        "openssl req -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.csr "
        "-subj /CN=localhost; "
        "openssl x509 -req -in rsa.csr -CA ca.crt -CAkey ca.key "
        "-set_serial 3 -days 2 -extfile srv.ext -out rsa.crt",
        dir);
    char full[2200];
    snprintf(full, sizeof(full), "(%s) >/dev/null 2>&1", cmd);
    if(system(full) != 0) {fprintf(stderr, "openssl failed\n"); exit(1);}
}

static void rmcerts(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if(system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

struct job {
    int tls;
    int handshakes;    /* 1: handshake loop, 0: throughput, 2: ping-pong */
    size_t wsize;
    size_t total;
    double seconds;    /* handshake loop length */
    int port;
    long count;        /* handshakes done (client side) */
};

static int dial(int port) {
    struct ipaddr a;
    if(ipaddr_local(&a, "127.0.0.1", port, IPADDR_IPV4) < 0) die("ipaddr");
    int s = tcp_connect(&a, now() + 5000);
    if(s < 0) die("tcp_connect");
    return s;
}

static int client_attach(int s) {
    struct tls_client_options o = TLS_CLIENT_OPTIONS_INIT;
    o.server_name = "localhost";
    o.ca_file = path("ca.crt");
    o.min_version = TLS_VERSION_1_3;
    int t = tls_attach_client_opts(s, &o, NULL, now() + 5000);
    if(t < 0) die("tls_attach_client_opts");
    return t;
}

static void *client(void *arg) {
    struct job *j = arg;
    if(j->handshakes == 1) {
        double end = secs() + j->seconds;
        while(secs() < end) {
            int t = client_attach(dial(j->port));
            if(bsend(t, "x", 1, now() + 5000) < 0) die("bsend");
            char c;
            if(brecv(t, &c, 1, now() + 5000) < 0) die("brecv");
            hclose(t);
            j->count++;
        }
        /* Tells the server to stop. */
        int s = dial(j->port);
        hclose(s);
        return NULL;
    }
    int s = dial(j->port);
    if(j->tls) s = client_attach(s);
    if(j->handshakes == 2) {
        char msg[64] = {0};
        for(size_t i = 0; i < j->total; i++) {
            if(bsend(s, msg, sizeof(msg), now() + 10000) < 0) die("bsend");
            if(brecv(s, msg, sizeof(msg), now() + 10000) < 0) die("brecv");
        }
        hclose(s);
        return NULL;
    }
    char *buf = calloc(1, j->wsize);
    if(!buf) die("calloc");
    for(size_t sent = 0; sent < j->total; sent += j->wsize)
        if(bsend(s, buf, j->wsize, now() + 10000) < 0) die("bsend");
    char c;
    if(brecv(s, &c, 1, now() + 10000) < 0) die("brecv ack");
    free(buf);
    hclose(s);
    return NULL;
}

/* Server side of one run; returns the seconds it took, *cpu the server
   thread's CPU seconds. */
static double serve(struct job *j, struct tls_server_ctx *ctx, double *cpu) {
    struct ipaddr a;
    if(ipaddr_local(&a, "127.0.0.1", 0, IPADDR_IPV4) < 0) die("ipaddr");
    int ls = tcp_listen(&a, 64);
    if(ls < 0) die("tcp_listen");
    j->port = ipaddr_port(&a);
    j->count = 0;
    pthread_t th;
    double start = secs();
    double cstart = cpusecs();
    if(pthread_create(&th, NULL, client, j) != 0) die("pthread_create");
    if(j->handshakes == 1) {
        while(1) {
            int s = tcp_accept(ls, NULL, now() + 10000);
            if(s < 0) die("tcp_accept");
            int t = tls_attach_server_ctx(s, ctx, NULL, now() + 5000);
            /* The client's final plain connection ends the loop. */
            if(t < 0) break;
            char c;
            if(brecv(t, &c, 1, now() + 5000) < 0) die("brecv");
            if(bsend(t, &c, 1, now() + 5000) < 0) die("bsend");
            hclose(t);
        }
    } else {
        int s = tcp_accept(ls, NULL, now() + 10000);
        if(s < 0) die("tcp_accept");
        if(j->tls) {
            s = tls_attach_server_ctx(s, ctx, NULL, now() + 5000);
            if(s < 0) die("tls_attach_server_ctx");
        }
        if(j->handshakes == 2) {
            char msg[64];
            for(size_t i = 0; i < j->total; i++) {
                if(brecv(s, msg, sizeof(msg), now() + 10000) < 0)
                    die("brecv");
                if(bsend(s, msg, sizeof(msg), now() + 10000) < 0)
                    die("bsend");
            }
            double el = secs() - start;
            *cpu = cpusecs() - cstart;
            pthread_join(th, NULL);
            hclose(s);
            hclose(ls);
            return el;
        }
        char *buf = malloc(j->wsize);
        if(!buf) die("malloc");
        for(size_t got = 0; got < j->total; got += j->wsize)
            if(brecv(s, buf, j->wsize, now() + 10000) < 0) die("brecv");
        if(bsend(s, "k", 1, now() + 10000) < 0) die("bsend ack");
        free(buf);
        hclose(s);
    }
    double el = secs() - start;
    *cpu = cpusecs() - cstart;
    pthread_join(th, NULL);
    hclose(ls);
    return el;
}

/* Resident memory of the process in bytes. */
static long rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if(!f) return 0;
    long size = 0, res = 0;
    if(fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
    return res * 4096;
}

struct idle {
    int ls;
    struct tls_server_ctx *ctx;
    int *out;
    int n;
};

coroutine void idle_accept(struct idle *d) {
    for(int i = 0; i < d->n; i++) {
        int s = tcp_accept(d->ls, NULL, now() + 10000);
        if(s < 0) die("tcp_accept");
        d->out[i] = tls_attach_server_ctx(s, d->ctx, NULL, now() + 10000);
        if(d->out[i] < 0) die("tls_attach_server_ctx");
        /* One message each way so that both sides did real work. */
        char c;
        if(brecv(d->out[i], &c, 1, now() + 5000) < 0) die("brecv");
        if(bsend(d->out[i], &c, 1, now() + 5000) < 0) die("bsend");
    }
}

/* Memory held by idle TLS connections (both ends, after one exchange),
   less what the same number of idle tcp connections holds. */
static void idle_memory(struct tls_server_ctx *ctx, int n) {
    int *cs = malloc(sizeof(int) * n), *as = malloc(sizeof(int) * n);
    if(!cs || !as) die("malloc");
    long base[2];
    for(int tls = 0; tls < 2; tls++) {
        struct ipaddr a;
        if(ipaddr_local(&a, "127.0.0.1", 0, IPADDR_IPV4) < 0) die("ipaddr");
        int ls = tcp_listen(&a, 1024);
        if(ls < 0) die("tcp_listen");
        long before = rss();
        struct idle d = {ls, ctx, as, n};
        int h = -1;
        if(tls) h = go(idle_accept(&d));
        for(int i = 0; i < n; i++) {
            cs[i] = dial(ipaddr_port(&a));
            if(!tls) {
                as[i] = tcp_accept(ls, NULL, now() + 5000);
                if(as[i] < 0) die("tcp_accept");
                continue;
            }
            cs[i] = client_attach(cs[i]);
            char c = 'x';
            if(bsend(cs[i], &c, 1, now() + 5000) < 0) die("bsend");
            if(brecv(cs[i], &c, 1, now() + 5000) < 0) die("brecv");
        }
        if(tls) {
            if(bundle_wait(h, now() + 10000) < 0) die("bundle_wait");
            hclose(h);
        }
        base[tls] = rss() - before;
        for(int i = 0; i < n; i++) {hclose(cs[i]); hclose(as[i]);}
        hclose(ls);
    }
    printf("idle memory per TLS connection pair (client + server end, "
        "%d pairs): %.1f KiB (tcp alone: %.1f KiB)\n", n,
        (base[1] - base[0]) / 1024.0 / n, base[0] / 1024.0 / n);
    free(cs);
    free(as);
}

static struct tls_server_ctx *ctx_for(const char *cert, const char *key) {
    struct tls_server_options o = TLS_SERVER_OPTIONS_INIT;
    o.cert_file = path(cert);
    o.key_file = path(key);
    struct tls_server_ctx *ctx = tls_server_ctx_new(&o);
    if(!ctx) die("tls_server_ctx_new");
    return ctx;
}

int main(int argc, char *argv[]) {
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if(argc > 2) scale = atof(argv[2]);
    if(reps < 1) reps = 1;
    makecerts();
    struct tls_server_ctx *ec = ctx_for("ec.crt", "ec.key");
    struct tls_server_ctx *rsa = ctx_for("rsa.crt", "rsa.key");
    const char *names[] = {"ECDSA P-256", "RSA-2048"};
    struct tls_server_ctx *ctxs[] = {ec, rsa};
    for(int k = 0; k < 2; k++) {
        double best = 0, bestcpu = 0;
        for(int r = 0; r < reps; r++) {
            struct job j = {1, 1, 0, 0, 1.0 * scale, 0, 0};
            double cpu;
            double el = serve(&j, ctxs[k], &cpu);
            if(j.count / el > best) best = j.count / el;
            if(j.count / cpu > bestcpu) bestcpu = j.count / cpu;
        }
        printf("handshakes/s (TLS 1.3, %s, verified client): %.0f "
            "(server thread CPU alone: %.0f per core-second)\n",
            names[k], best, bestcpu);
    }
    size_t total = (size_t)(256.0 * scale * 1024 * 1024);
    size_t ws = 64 * 1024;
    total -= total % ws;
    double best[2] = {0, 0}, bestcpu[2] = {0, 0};
    for(int r = 0; r < reps; r++) {
        for(int tls = 0; tls < 2; tls++) {
            struct job j = {tls, 0, ws, total, 0, 0, 0};
            double cpu;
            double el = serve(&j, ec, &cpu);
            if(total / el / 1e6 > best[tls]) best[tls] = total / el / 1e6;
            if(total / cpu / 1e6 > bestcpu[tls])
                bestcpu[tls] = total / cpu / 1e6;
        }
    }
    printf("throughput, 64 KiB writes, %zu MiB: tcp %.0f MB/s, tls %.0f "
        "MB/s\n  (receiving thread CPU alone: tcp %.0f, tls %.0f MB per "
        "core-second)\n", total >> 20, best[0], best[1], bestcpu[0],
        bestcpu[1]);
    size_t trips = (size_t)(50000 * scale);
    double rt[2] = {0, 0}, rtcpu[2] = {0, 0};
    for(int r = 0; r < reps; r++) {
        for(int tls = 0; tls < 2; tls++) {
            struct job j = {tls, 2, 64, trips, 0, 0, 0};
            double cpu;
            double el = serve(&j, ec, &cpu);
            if(trips / el > rt[tls]) rt[tls] = trips / el;
            if(trips / cpu > rtcpu[tls]) rtcpu[tls] = trips / cpu;
        }
    }
    printf("ping-pong, 64-byte messages: tcp %.0f, tls %.0f round trips/s\n"
        "  (echoing thread CPU alone: tcp %.0f, tls %.0f per core-second)\n",
        rt[0], rt[1], rtcpu[0], rtcpu[1]);
    idle_memory(ec, 500);
    tls_server_ctx_free(ec);
    tls_server_ctx_free(rsa);
    rmcerts();
    return 0;
}

#endif
