/* Memory per WebSocket connection on the server side (issue 16).

   A forked server runs one coroutine per connection (bundle_go), a handler
   that keeps two 256-byte buffers on its stack (the resource and host of
   the handshake; messages are received into the first) and echoes.  The
   client opens N connections (ws over tcp, or over TLS with -t), sends one
   20-byte message on each and reads the echo, waits for the connections
   to settle (hibernation, when DILL_HIBERNATE is set in the environment,
   happens in that time), then asks the server for its anonymous resident
   memory (RssAnon).  Printed:
     - idle: server RssAnon before and after, per connection, how much
       of it malloc hands out (the rest: stacks, free heap pages), the
       kernel's share (Slab + page tables + kernel stacks from
       /proc/meminfo, system-wide, so noisy on a shared machine),
     - active (with -a K): K connections of the N each echoing 20-byte
       messages in a closed loop for 2 s: the server's RssAnon in the
       middle of that, per connection, and messages/s.
   More than 20,000 connections use several 127.0.0.x source addresses
   (from 127.0.0.(1 + B) with -b B).  The fd limit is raised to fit (run as
   root for large N).  With -w ms the connections stay open that long after
   the figures are printed (bench/idlemem_multi.sh reads the kernel's
   figures meanwhile, for runs of several processes whose connections
   together exceed one process's fd limit); the server also prints how
   many of its coroutines hibernate.  With DILL_STACKSHARE=n in the
   environment both processes share stacks (stackshare(3)); the active
   figures then include the server's CPU time per message and how many of
   its coroutines were out of their slot.  With -r the handler fills its
   two buffers with random bytes after the handshake: a hibernated copy
   leaves out zero words, and a handler whose buffers hold data costs
   more than one whose buffers stayed zero.

   Usage: bench_idlemem [-t] [-r] [-n N] [-a K] [-s settle_ms] [-b B]
          [-w ms] */

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libdill.h"
#include "accept.h"
#include "clock.h"

static int use_tls;
static int fill_random;
static char dir[64];
#if !defined DILL_DISABLE_TLS
static struct tls_server_ctx *sctx;
#endif

static long kernel_kib(void) {
    return proc_kib("/proc/meminfo", "Slab") +
        proc_kib("/proc/meminfo", "PageTables") +
        proc_kib("/proc/meminfo", "KernelStack");
}

static void raise_nofile(long n) {
    struct rlimit rl = {(rlim_t)n, (rlim_t)n};
    struct rlimit cur;
    getrlimit(RLIMIT_NOFILE, &cur);
    if(cur.rlim_cur >= (rlim_t)n) return;
    if(setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit(RLIMIT_NOFILE)");
}

/******************************************************************************/
/*  Server                                                                    */
/******************************************************************************/

coroutine static void handler(int s) {
    char resource[256], host[256];
#if !defined DILL_DISABLE_TLS
    if(use_tls) {
        s = tls_attach_server_ctx(s, sctx, NULL, now() + 30000);
        if(s < 0) return;
    }
#endif
    int ws = ws_attach_server(s, 0, resource, sizeof(resource), host,
        sizeof(host), now() + 30000);
    if(ws < 0) return;
    if(fill_random) {
        uint64_t x = (uint64_t)s * 0x9e3779b97f4a7c15u + 1;
        for(size_t i = 0; i != sizeof(resource); i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            resource[i] = (char)x;
            host[i] = (char)(x >> 8);
        }
    }
    int flags;
    while(1) {
        ssize_t n = ws_recv(ws, &flags, resource, sizeof(resource), -1);
        if(n < 0 || ws_send(ws, flags, resource, (size_t)n, -1) < 0) break;
    }
    hclose(ws);
}

/* Bytes the server's malloc hands out now (glibc): RssAnon less this is
   stacks plus the heap's free but resident pages. */
static long heap_kib(void) {
    struct mallinfo2 mi = mallinfo2();
    return (long)((mi.uordblks + mi.hblkhd) / 1024);
}

/* Answers each byte from the client with "RssAnon-KiB cpu-us heap-KiB
   hibernated out-of-slot". */
coroutine static void control(int fd) {
    while(1) {
        if(fdin(fd, -1) < 0) return;
        char c;
        if(read(fd, &c, 1) != 1) exit(0);
        char out[64];
        int n = snprintf(out, sizeof(out), "%ld %ld %ld %d %d\n",
            proc_kib("/proc/self/status", "RssAnon"), cpu_us(), heap_kib(),
            hibernated(), stackshared());
        if(write(fd, out, (size_t)n) != n) exit(1);
    }
}

static void server(int ls, int ctl) {
#if !defined DILL_DISABLE_TLS
    if(use_tls) {
        struct tls_server_options o = TLS_SERVER_OPTIONS_INIT;
        char cert[128], key[128];
        snprintf(cert, sizeof(cert), "%s/c.pem", dir);
        snprintf(key, sizeof(key), "%s/k.pem", dir);
        o.cert_file = cert;
        o.key_file = key;
        sctx = tls_server_ctx_new(&o);
        if(!sctx) die("tls_server_ctx_new");
    }
#endif
    int b = bundle();
    if(b < 0) die("bundle");
    if(bundle_go(b, control(ctl)) < 0) die("bundle_go");
    while(1) {
        int s = accept_retry(ls);
        if(bundle_go(b, handler(s)) < 0) die("bundle_go");
    }
}

/******************************************************************************/
/*  Client                                                                    */
/******************************************************************************/

static int port;
static int srcbase;
static int ctl = -1;

static int hib, outslot;

static void server_stats(long *rss, long *cpu, long *heap) {
    if(write(ctl, "r", 1) != 1) die("write");
    char buf[64];
    size_t n = 0;
    while(n == 0 || buf[n - 1] != '\n') {
        if(fdin(ctl, now() + 30000) < 0) die("fdin");
        ssize_t r = read(ctl, buf + n, sizeof(buf) - 1 - n);
        if(r <= 0) die("read");
        n += (size_t)r;
    }
    buf[n] = 0;
    if(sscanf(buf, "%ld %ld %ld %d %d", rss, cpu, heap, &hib, &outslot) != 5)
        die("sscanf");
}

/* Connection i comes from 127.0.0.(1 + i / 20000), so that 100,000 of
   them do not run out of ephemeral ports. */
static int dial(int i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if(fd < 0) die("socket");
    /* The port is picked at connect, by the whole 4-tuple: bind alone
       would run out among the TIME_WAIT sockets of earlier runs. */
    int one = 1;
    if(setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
       sizeof(one)) < 0)
        die("IP_BIND_ADDRESS_NO_PORT");
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(srcbase + i / 20000));
    if(bind(fd, (struct sockaddr*)&a, sizeof(a)) < 0) die("bind");
    a.sin_addr.s_addr = htonl(0x7f000001u);
    a.sin_port = htons((uint16_t)port);
    if(connect(fd, (struct sockaddr*)&a, sizeof(a)) < 0) die("connect");
    int s = tcp_fromfd(fd);
    if(s < 0) die("tcp_fromfd");
#if !defined DILL_DISABLE_TLS
    if(use_tls) {
        struct tls_client_options o = TLS_CLIENT_OPTIONS_INIT;
        o.insecure_skip_verify = 1;
        s = tls_attach_client_opts(s, &o, NULL, now() + 30000);
        if(s < 0) die("tls_attach_client_opts");
    }
#endif
    int ws = ws_attach_client(s, 0, "/", "localhost", now() + 30000);
    if(ws < 0) die("ws_attach_client");
    return ws;
}

static void echo1(int ws) {
    char msg[20] = "0123456789abcdefghi";
    int flags;
    if(ws_send(ws, WS_BINARY, msg, sizeof(msg), now() + 30000) < 0)
        die("ws_send");
    if(ws_recv(ws, &flags, msg, sizeof(msg), now() + 30000) !=
       (ssize_t)sizeof(msg))
        die("ws_recv");
}

static int64_t active_end;
static long active_msgs;

coroutine static void active_loop(int ws) {
    while(now() < active_end) {
        echo1(ws);
        active_msgs++;
    }
}

static void makecert(void) {
    strcpy(dir, "/tmp/dill-idlemem-XXXXXX");
    if(!mkdtemp(dir)) die("mkdtemp");
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cd %s && openssl req -x509 -newkey ec "
        "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem "
        "-subj /CN=localhost -days 2 >/dev/null 2>&1", dir);
    if(system(cmd) != 0) {fprintf(stderr, "openssl failed\n"); exit(1);}
}

int main(int argc, char *argv[]) {
    int n = 10000, nactive = 0, settle = 1000, hold = 0, opt;
    while((opt = getopt(argc, argv, "trn:a:s:b:w:")) != -1) {
        switch(opt) {
        case 't': use_tls = 1; break;
        case 'r': fill_random = 1; break;
        case 'n': n = atoi(optarg); break;
        case 'a': nactive = atoi(optarg); break;
        case 's': settle = atoi(optarg); break;
        case 'b': srcbase = atoi(optarg); break;
        case 'w': hold = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench_idlemem [-t] [-r] [-n N] [-a K] "
                "[-s settle_ms] [-b src_base] [-w hold_ms]\n");
            return 2;
        }
    }
#if defined DILL_DISABLE_TLS
    if(use_tls) {printf("bench_idlemem: built without TLS\n"); return 0;}
#endif
    if(nactive > n) nactive = n;
    raise_nofile(n + 1000);
    if(use_tls) makecert();
    struct ipaddr addr;
    if(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) < 0) die("ipaddr");
    int ls = tcp_listen(&addr, 4096);
    if(ls < 0) die("tcp_listen");
    port = ipaddr_port(&addr);
    int sp[2];
    if(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0) die("socketpair");
    pid_t pid = fork();
    if(pid < 0) die("fork");
    if(pid == 0) {
        close(sp[0]);
        server(ls, sp[1]);
        return 0;
    }
    close(sp[1]);
    ctl = sp[0];
    hclose(ls);
    long r0, r1, c0, c1, h0, h1;
    server_stats(&r0, &c0, &h0);
    long k0 = kernel_kib();
    int *ws = malloc(sizeof(int) * (size_t)n);
    if(!ws) die("malloc");
    double t0 = secs();
    for(int i = 0; i != n; i++) {
        ws[i] = dial(i);
        echo1(ws[i]);
    }
    double t = secs() - t0;
    msleep(now() + settle);
    server_stats(&r1, &c1, &h1);
    long k1 = kernel_kib();
    printf("idle %s: %d connections (opened in %.1f s), server RssAnon "
        "%ld -> %ld KiB: %.2f KiB per connection (malloc'd: %.2f); kernel "
        "(Slab + page tables + kernel stacks, both ends, system-wide) %.2f "
        "KiB per connection; %d hibernated\n", use_tls ? "wss" : "ws", n, t,
        r0, r1, (double)(r1 - r0) / n, (double)(h1 - h0) / n,
        (double)(k1 - k0) / n, hib);
    if(nactive) {
        long rs, cs, hs;
        server_stats(&rs, &cs, &hs);
        active_end = now() + 2000;
        int b = bundle();
        if(b < 0) die("bundle");
        for(int i = 0; i != nactive; i++)
            if(bundle_go(b, active_loop(ws[i])) < 0) die("bundle_go");
        msleep(now() + 1000);
        long ra, ca, ha;
        server_stats(&ra, &ca, &ha);
        int outa = outslot;
        if(bundle_wait(b, now() + 60000) < 0) die("bundle_wait");
        hclose(b);
        long re, ce, he;
        server_stats(&re, &ce, &he);
        printf("active %s: %d of the %d connections echoing 20 B: server "
            "RssAnon %ld KiB (%.2f KiB per connection, %.2f over the idle "
            "state), %.0f msg/s, server CPU %.2f us per message; %d out of "
            "their shared stack\n", use_tls ? "wss" : "ws", nactive, n, ra,
            (double)(ra - r0) / nactive, (double)(ra - r1) / nactive,
            active_msgs / 2.0, (double)(ce - cs) / (double)active_msgs,
            outa);
    }
    fflush(stdout);
    if(hold) msleep(now() + hold);
    for(int i = 0; i != n; i++) hclose(ws[i]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if(use_tls) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if(system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    }
    return 0;
}
