/* Loopback TCP benchmark: dill against plain blocking POSIX sockets.

   Measured in one run, each the best of several repetitions:
     - throughput with 1 KiB and 64 KiB writes (MB/s),
     - ping-pong of 1-byte messages (round trips per second).
   The reference uses two threads with blocking read()/write(); dill uses
   the same two-thread layout (one scheduler per thread) and, for
   information, also both ends as coroutines of one thread.

   Usage: bench_tcp [repetitions] [scale] [only]   (defaults 5, 1.0, all;
   only: 0 posix, 1 dill 2 threads, 2 dill 1 thread) */

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "libdill.h"
#include "clock.h"

static double scale = 1.0;
static int only = -1;  /* run just this implementation (0, 1, 2) */

/* A listening socket on 127.0.0.1 with a kernel-picked port. */
static int raw_listener(struct sockaddr_in *sin) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if(fd < 0) die("socket");
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(*sin);
    if(bind(fd, (struct sockaddr*)sin, sizeof(*sin)) < 0) die("bind");
    if(listen(fd, 10) < 0) die("listen");
    if(getsockname(fd, (struct sockaddr*)sin, &sl) < 0) die("getsockname");
    return fd;
}

struct job {
    int mode;          /* 0 throughput, 1 ping-pong */
    size_t wsize;      /* write size */
    size_t total;      /* bytes (throughput) or round trips (ping-pong) */
    int lfd;           /* listening socket */
    struct sockaddr_in addr;
};

/******************************************************************************/
/*  Reference: blocking sockets, two threads                                  */
/******************************************************************************/

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void full_read(int fd, char *buf, size_t len) {
    while(len) {
        ssize_t r = read(fd, buf, len);
        if(r <= 0) die("read");
        buf += r;
        len -= (size_t)r;
    }
}

static void full_write(int fd, const char *buf, size_t len) {
    while(len) {
        ssize_t r = write(fd, buf, len);
        if(r <= 0) die("write");
        buf += r;
        len -= (size_t)r;
    }
}

static void *ref_server(void *arg) {
    struct job *j = arg;
    int fd = accept(j->lfd, NULL, NULL);
    if(fd < 0) die("accept");
    nodelay(fd);
    char *buf = malloc(j->wsize);
    if(j->mode == 0) {
        for(size_t got = 0; got < j->total; got += j->wsize)
            full_read(fd, buf, j->wsize);
        full_write(fd, "k", 1);
    } else {
        for(size_t i = 0; i != j->total; i++) {
            full_read(fd, buf, 1);
            full_write(fd, buf, 1);
        }
    }
    free(buf);
    close(fd);
    return NULL;
}

static void *ref_client(void *arg) {
    struct job *j = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if(fd < 0) die("socket");
    if(connect(fd, (struct sockaddr*)&j->addr, sizeof(j->addr)) < 0)
        die("connect");
    nodelay(fd);
    char *buf = calloc(1, j->wsize);
    if(j->mode == 0) {
        for(size_t sent = 0; sent < j->total; sent += j->wsize)
            full_write(fd, buf, j->wsize);
        full_read(fd, buf, 1);
    } else {
        for(size_t i = 0; i != j->total; i++) {
            full_write(fd, buf, 1);
            full_read(fd, buf, 1);
        }
    }
    free(buf);
    close(fd);
    return NULL;
}

/******************************************************************************/
/*  dill                                                                      */
/******************************************************************************/

static void dill_serve(struct job *j, int s) {
    char *buf = malloc(j->wsize);
    if(j->mode == 0) {
        for(size_t got = 0; got < j->total; got += j->wsize)
            if(brecv(s, buf, j->wsize, -1) < 0) die("brecv");
        if(bsend(s, "k", 1, -1) < 0) die("bsend");
    } else {
        for(size_t i = 0; i != j->total; i++) {
            if(brecv(s, buf, 1, -1) < 0) die("brecv");
            if(bsend(s, buf, 1, -1) < 0) die("bsend");
        }
    }
    free(buf);
}

static void dill_drive(struct job *j, int s) {
    char *buf = calloc(1, j->wsize);
    if(j->mode == 0) {
        for(size_t sent = 0; sent < j->total; sent += j->wsize)
            if(bsend(s, buf, j->wsize, -1) < 0) die("bsend");
        if(brecv(s, buf, 1, -1) < 0) die("brecv");
    } else {
        for(size_t i = 0; i != j->total; i++) {
            if(bsend(s, buf, 1, -1) < 0) die("bsend");
            if(brecv(s, buf, 1, -1) < 0) die("brecv");
        }
    }
    free(buf);
}

static int dill_listen(struct job *j) {
    int ls = tcp_listener_fromfd(dup(j->lfd));
    if(ls < 0) die("tcp_listener_fromfd");
    return ls;
}

static int dill_conn(struct job *j) {
    struct ipaddr a;
    if(ipaddr_local(&a, "127.0.0.1", ntohs(j->addr.sin_port), 0) < 0)
        die("ipaddr_local");
    int s = tcp_connect(&a, -1);
    if(s < 0) die("tcp_connect");
    return s;
}

static void *dill_server(void *arg) {
    struct job *j = arg;
    int ls = dill_listen(j);
    int s = tcp_accept(ls, NULL, -1);
    if(s < 0) die("tcp_accept");
    dill_serve(j, s);
    hclose(s);
    hclose(ls);
    return NULL;
}

static void *dill_client(void *arg) {
    struct job *j = arg;
    int s = dill_conn(j);
    dill_drive(j, s);
    hclose(s);
    return NULL;
}

coroutine void dill_server_cr(struct job *j, int ls) {
    int s = tcp_accept(ls, NULL, -1);
    if(s < 0) die("tcp_accept");
    dill_serve(j, s);
    hclose(s);
}

static void *dill_onethread(void *arg) {
    struct job *j = arg;
    int ls = dill_listen(j);
    int h = go(dill_server_cr(j, ls));
    if(h < 0) die("go");
    dill_client(j);
    if(bundle_wait(h, -1) < 0) die("bundle_wait");
    hclose(h);
    hclose(ls);
    return NULL;
}

/******************************************************************************/

enum {REF, DILL2, DILL1};

/* Runs one measurement; returns seconds. */
static double run(int impl, int mode, size_t wsize, size_t total) {
    struct job j = {mode, wsize, total, -1, {0}};
    j.lfd = raw_listener(&j.addr);
    double t0 = secs();
    if(impl == DILL1) {
        pthread_t t;
        pthread_create(&t, NULL, dill_onethread, &j);
        pthread_join(t, NULL);
    } else {
        pthread_t ts, tc;
        pthread_create(&ts, NULL, impl == REF ? ref_server : dill_server, &j);
        pthread_create(&tc, NULL, impl == REF ? ref_client : dill_client, &j);
        pthread_join(tc, NULL);
        pthread_join(ts, NULL);
    }
    double t = secs() - t0;
    close(j.lfd);
    return t;
}

/* Best time of each implementation; runs are interleaved so that a slow
   patch of a noisy machine hits all of them alike. */
static void best(int reps, int mode, size_t wsize, size_t total, double *t) {
    for(int impl = 0; impl != 3; impl++) t[impl] = 1e9;
    for(int i = 0; i != reps; i++) {
        for(int impl = 0; impl != 3; impl++) {
            if(only >= 0 && impl != only) continue;
            double x = run(impl, mode, wsize, total);
            if(x < t[impl]) t[impl] = x;
        }
    }
}

int main(int argc, char *argv[]) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if(argc > 2) scale = atof(argv[2]);
    if(argc > 3) only = atoi(argv[3]);
    if(reps < 1) reps = 1;
    const char *names[] = {"posix (2 threads)", "dill (2 threads)",
        "dill (1 thread)"};
    struct {size_t wsize; size_t total;} tp[] = {
        {1024, (size_t)(128e6 * scale)}, {65536, (size_t)(512e6 * scale)}};
    for(int k = 0; k != 2; k++) {
        size_t w = tp[k].wsize, tot = tp[k].total / w * w;
        double r[3], t[3];
        best(reps, 0, w, tot, t);
        for(int impl = 0; impl != 3; impl++) {
            r[impl] = tot / t[impl] / 1e6;
            printf("throughput %5zu B writes  %-18s %9.1f MB/s\n", w,
                names[impl], r[impl]);
        }
        printf("throughput %5zu B writes  ratio dill/posix: %.2f (2 threads)"
            ", %.2f (1 thread)\n", w, r[DILL2] / r[REF], r[DILL1] / r[REF]);
    }
    size_t trips = (size_t)(100000 * scale);
    double r[3], t[3];
    best(reps, 1, 1, trips, t);
    for(int impl = 0; impl != 3; impl++) {
        r[impl] = trips / t[impl];
        printf("ping-pong 1 B             %-18s %9.0f round trips/s\n",
            names[impl], r[impl]);
    }
    printf("ping-pong 1 B             ratio dill/posix: %.2f (2 threads)"
        ", %.2f (1 thread)\n", r[DILL2] / r[REF], r[DILL1] / r[REF]);
    return 0;
}
