/* What abuse costs a WebSocket echo server (issue 13), measured from the
   outside with plain POSIX sockets, so that any server (dillws --listen
   --echo of two builds, for one) can be compared:

     trickle PORT PID [conns]   a 16,000-byte upgrade request sent one byte
                                per segment: the server's CPU time per
                                connection (from /proc/PID/stat)
     flood PORT [MiB]           one connection sends MiB of 1-byte
                                fragments (one message) while another does
                                small round trips: the bystander's worst and
                                median round trip during the flood
     accept PORT [busy] [conns] busy connections echo without pause while
                                conns connections are opened and upgraded
                                at once: time until the last 101, and rate

   Every figure is printed; nothing is judged.  The machine is whatever it
   is: run old and new servers alternately and compare medians. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"

static int port;

static int dial(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if(s < 0) die("socket");
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if(connect(s, (struct sockaddr*)&a, sizeof(a)) < 0) die("connect");
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return s;
}

static void writeall(int s, const void *p, size_t n) {
    const char *c = p;
    while(n) {
        ssize_t k = write(s, c, n);
        if(k < 0) {if(errno == EINTR) continue; die("write");}
        c += k;
        n -= (size_t)k;
    }
}

static void readall(int s, void *p, size_t n) {
    char *c = p;
    while(n) {
        ssize_t k = read(s, c, n);
        if(k == 0) {fprintf(stderr, "abuse: connection closed\n"); exit(1);}
        if(k < 0) {if(errno == EINTR) continue; die("read");}
        c += k;
        n -= (size_t)k;
    }
}

static const char head_start[] =
    "GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n";

/* An upgrade request padded with headers to about size bytes. */
static size_t make_head(char *buf, size_t size) {
    size_t n = strlen(head_start);
    memcpy(buf, head_start, n);
    for(int i = 0; n + 300 < size - 2; i++)
        n += (size_t)sprintf(buf + n, "X-Fill-%02d: %0280d\r\n", i, 0);
    memcpy(buf + n, "\r\n", 2);
    return n + 2;
}

/* Reads the response head; exits unless it is 101. */
static void expect_101(int s) {
    char h[4096];
    size_t n = 0;
    while(n < 4 || memcmp(h + n - 4, "\r\n\r\n", 4)) {
        if(n == sizeof(h)) {fprintf(stderr, "abuse: head too big\n"); exit(1);}
        readall(s, h + n, 1);
        n++;
    }
    if(strncmp(h, "HTTP/1.1 101", 12)) {
        fprintf(stderr, "abuse: not upgraded: %.40s\n", h);
        exit(1);
    }
}

static int ws_open(void) {
    int s = dial();
    writeall(s, head_start, strlen(head_start));
    writeall(s, "\r\n", 2);
    expect_101(s);
    return s;
}

/* A masked client frame (key 0) header for op and len; returns its size. */
static size_t frame_hdr(uint8_t *f, int fin, int op, size_t len) {
    f[0] = (uint8_t)((fin ? 0x80 : 0) | op);
    size_t n;
    if(len < 126) {f[1] = (uint8_t)(0x80 | len); n = 2;}
    else if(len < 65536) {
        f[1] = 0x80 | 126; f[2] = (uint8_t)(len >> 8); f[3] = (uint8_t)len;
        n = 4;
    }
    else {
        f[1] = 0x80 | 127;
        for(int i = 0; i != 8; i++) f[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    memset(f + n, 0, 4);
    return n + 4;
}

/* Reads one server frame's header and skips its payload; returns the
   payload length. */
static uint64_t skip_frame(int s, int *op) {
    uint8_t h[10];
    readall(s, h, 2);
    *op = h[0] & 0x0f;
    uint64_t len = h[1] & 0x7f;
    if(len == 126) {readall(s, h, 2); len = (uint64_t)h[0] << 8 | h[1];}
    else if(len == 127) {
        readall(s, h, 8);
        len = 0;
        for(int i = 0; i != 8; i++) len = len << 8 | h[i];
    }
    char buf[65536];
    for(uint64_t left = len; left;) {
        size_t k = left < sizeof(buf) ? (size_t)left : sizeof(buf);
        readall(s, buf, k);
        left -= k;
    }
    return len;
}

/* One small round trip on s. */
static double round_trip(int s) {
    uint8_t f[32];
    size_t n = frame_hdr(f, 1, 2, 8);
    memset(f + n, 'r', 8);
    double t = secs();
    writeall(s, f, n + 8);
    int op;
    do skip_frame(s, &op); while(op != 2);
    return secs() - t;
}

/******************************************************************************/
/*  trickle                                                                   */
/******************************************************************************/

static int cmp_d(const void *a, const void *b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

static void trickle(int pid, int conns) {
    static char head[16384];
    size_t n = make_head(head, 16000);
    double *cpu = calloc((size_t)conns, sizeof(double));
    if(!cpu) die("calloc");
    for(int c = 0; c != conns; c++) {
        int s = dial();
        double c0 = proc_cpu(pid);
        for(size_t i = 0; i != n; i++) {
            writeall(s, head + i, 1);
            /* Give the server time to read each byte on its own. */
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
        expect_101(s);
        cpu[c] = proc_cpu(pid) - c0;
        close(s);
    }
    qsort(cpu, (size_t)conns, sizeof(double), cmp_d);
    printf("trickle: %zu-byte head, 1 byte per segment: server CPU per "
        "connection median %.1f ms (min %.1f, max %.1f; %d connections; "
        "clock ticks of %.0f ms)\n", n, cpu[conns / 2] * 1e3, cpu[0] * 1e3,
        cpu[conns - 1] * 1e3, conns, 1e3 / (double)sysconf(_SC_CLK_TCK));
    free(cpu);
}

/******************************************************************************/
/*  flood                                                                     */
/******************************************************************************/

static volatile int flooding;

struct flood_arg {
    int s;
    size_t bytes;
};

static void *flooder(void *arg) {
    struct flood_arg *a = arg;
    /* One message: a first fragment, 1-byte continuations, a final one. */
    size_t frames = a->bytes / 7;
    uint8_t *buf = malloc(frames * 7);
    if(!buf) die("malloc");
    for(size_t i = 0; i != frames; i++) {
        uint8_t *f = buf + i * 7;
        frame_hdr(f, i + 1 == frames, i == 0 ? 2 : 0, 1);
        f[6] = 'f';
    }
    flooding = 1;
    writeall(a->s, buf, frames * 7);
    /* The echo: one message of frames bytes. */
    int op;
    do skip_frame(a->s, &op); while(op != 2);
    flooding = 0;
    free(buf);
    return NULL;
}

static void flood(double mib) {
    int by = ws_open();
    struct flood_arg a = {ws_open(), (size_t)(mib * 1048576)};
    for(int i = 0; i != 100; i++) round_trip(by);   /* warm up */
    pthread_t t;
    double t0 = secs();
    if(pthread_create(&t, NULL, flooder, &a)) die("pthread_create");
    while(!flooding) sched_yield();
    size_t cap = 1 << 20, n = 0;
    double *rtt = malloc(cap * sizeof(double));
    if(!rtt) die("malloc");
    while(flooding && n < cap) rtt[n++] = round_trip(by);
    pthread_join(t, NULL);
    double dur = secs() - t0;
    qsort(rtt, n, sizeof(double), cmp_d);
    printf("flood: %.1f MiB of 1-byte fragments echoed in %.2f s; bystander "
        "round trips during it: %zu, median %.3f ms, worst %.1f ms\n",
        (double)a.bytes / 1048576, dur, n, n ? rtt[n / 2] * 1e3 : 0,
        n ? rtt[n - 1] * 1e3 : 0);
    free(rtt);
    close(a.s);
    close(by);
}

/******************************************************************************/
/*  accept                                                                    */
/******************************************************************************/

static volatile int busy_on = 1;

static void *busy(void *arg) {
    int s = *(int*)arg;
    while(busy_on) round_trip(s);
    return NULL;
}

static void accept_load(int nbusy, int conns) {
    int *bs = calloc((size_t)nbusy, sizeof(int));
    pthread_t *bt = calloc((size_t)nbusy, sizeof(pthread_t));
    int *cs = calloc((size_t)conns, sizeof(int));
    if(!bs || !bt || !cs) die("calloc");
    for(int i = 0; i != nbusy; i++) {
        bs[i] = ws_open();
        if(pthread_create(&bt[i], NULL, busy, &bs[i])) die("pthread_create");
    }
    usleep(300000);      /* the echo is busy now */
    double t0 = secs();
    /* All at once: non-blocking connects, then each request when its
       connection is up, then the answers. */
    for(int i = 0; i != conns; i++) {
        cs[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if(cs[i] < 0) die("socket");
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if(connect(cs[i], (struct sockaddr*)&a, sizeof(a)) < 0 &&
           errno != EINPROGRESS) die("connect");
    }
    double slowest_connect = 0;
    for(int i = 0; i != conns; i++) {
        struct pollfd p = {cs[i], POLLOUT, 0};
        if(poll(&p, 1, 60000) != 1) {fprintf(stderr, "abuse: connect "
            "timed out\n"); exit(1);}
        double t = secs() - t0;
        if(t > slowest_connect) slowest_connect = t;
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(cs[i], SOL_SOCKET, SO_ERROR, &err, &el);
        if(err) {errno = err; die("connect");}
        fcntl(cs[i], F_SETFL, fcntl(cs[i], F_GETFL) & ~O_NONBLOCK);
        writeall(cs[i], head_start, strlen(head_start));
        writeall(cs[i], "\r\n", 2);
    }
    for(int i = 0; i != conns; i++) expect_101(cs[i]);
    double dur = secs() - t0;
    busy_on = 0;
    for(int i = 0; i != nbusy; i++) pthread_join(bt[i], NULL);
    printf("accept: %d connections upgraded while %d others echo: all in "
        "%.3f s (%.0f/s); slowest TCP connect %.3f s\n", conns, nbusy, dur,
        conns / dur, slowest_connect);
    for(int i = 0; i != conns; i++) close(cs[i]);
    for(int i = 0; i != nbusy; i++) close(bs[i]);
    free(bs);
    free(bt);
    free(cs);
}

int main(int argc, char **argv) {
    if(argc < 3) {
        fprintf(stderr, "usage: bench_abuse trickle PORT PID [conns]\n"
            "       bench_abuse flood PORT [MiB]\n"
            "       bench_abuse accept PORT [busy] [conns]\n");
        return 2;
    }
    port = atoi(argv[2]);
    if(!strcmp(argv[1], "trickle") && argc > 3)
        trickle(atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 5);
    else if(!strcmp(argv[1], "flood"))
        flood(argc > 3 ? atof(argv[3]) : 10);
    else if(!strcmp(argv[1], "accept"))
        accept_load(argc > 3 ? atoi(argv[3]) : 50,
            argc > 4 ? atoi(argv[4]) : 1000);
    else {
        fprintf(stderr, "bench_abuse: unknown mode %s\n", argv[1]);
        return 2;
    }
    return 0;
}
