/* redis-server for the hub-over-Redis test (tests/hub_redis.c) and
   benchmark (bench/hub_redis.c): started from the PATH on 127.0.0.1, on a
   free port, and killed with the process that started it.  Header-only;
   functions return -1 on failure (errno), the caller decides how to die. */

#ifndef DILL_TESTS_REDISSERVER_H
#define DILL_TESTS_REDISSERVER_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libdill.h"

struct redis {
    pid_t pid;
    int port;
    int tls;                       /* port is a --tls-port */
};

/* Starts argv[0] from the PATH in *pid; it is killed if this process
   dies first (a failed assertion must not leave a redis-server behind). */
__attribute__((unused)) static int spawn(pid_t *pid, char **argv) {
    *pid = fork();
    if(*pid < 0) return -1;
    if(*pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execvp(argv[0], argv);
        _exit(127);
    }
    return 0;
}

/* A port of 127.0.0.1 free right now (bound to 0, then released). */
static int free_port(void) {
    struct ipaddr a;
    if(ipaddr_local(&a, "127.0.0.1", 0, 0) < 0) return -1;
    int ls = tcp_listen(&a, 1);
    if(ls < 0) return -1;
    int port = ipaddr_port(&a);
    hclose(ls);
    return port;
}

/* Whether Redis on port answers PING (or asks for a password) within the
   deadline (0 or -1); a TLS port (tls set) only has to accept. */
static int redis_ping(int port, int tls, int64_t deadline) {
    struct ipaddr a;
    if(ipaddr_local(&a, "127.0.0.1", port, 0) < 0) return -1;
    int s = tcp_connect(&a, deadline);
    if(s < 0) return -1;
    char buf[7];
    int rc = tls ? 0 : bsend(s, "PING\r\n", 6, deadline);
    if(rc == 0 && !tls) rc = brecv(s, buf, 7, deadline);
    hclose(s);
    if(tls) return rc;
    return rc == 0 && (memcmp(buf, "+PONG\r\n", 7) == 0 ||
        memcmp(buf, "-NOAUTH", 7) == 0) ? 0 : -1;
}

/* Runs redis-server on rd->port (a TLS port if rd->tls), no persistence,
   with the extra arguments (NULL-terminated, or NULL).  Does not wait. */
static int redis_exec(struct redis *rd, char **extra) {
    char port[16];
    snprintf(port, sizeof(port), "%d", rd->port);
    char *argv[32] = {"redis-server", "--port", rd->tls ? "0" : port,
        "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--loglevel", "warning", "--logfile", "/dev/null"};
    int n = 13;
    if(rd->tls) {argv[n++] = "--tls-port"; argv[n++] = port;}
    for(int i = 0; extra && extra[i] && n < 31; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    return spawn(&rd->pid, argv);
}

/* Starts redis-server (see redis_exec) on port, or (port 0) on a free
   port, trying other ports (or again) when it exits at once (the port was
   taken meanwhile), and waits until it answers.  Returns 0 or -1. */
static int redis_start_args(struct redis *rd, int port, char **extra) {
    for(int i = 0; i != 20; i++) {
        rd->port = port ? port : free_port();
        if(rd->port < 0 || redis_exec(rd, extra) < 0) return -1;
        int64_t deadline = now() + 10000;
        while(now() < deadline) {
            if(redis_ping(rd->port, rd->tls, now() + 1000) == 0) return 0;
            int st;
            if(waitpid(rd->pid, &st, WNOHANG) == rd->pid) break;
            msleep(now() + 20);
        }
        if(now() >= deadline) return -1;
        msleep(now() + 100);
    }
    return -1;
}

__attribute__((unused)) static int redis_start(struct redis *rd, int port) {
    rd->tls = 0;
    return redis_start_args(rd, port, NULL);
}

static void redis_kill(struct redis *rd) {
    kill(rd->pid, SIGKILL);
    int st;
    waitpid(rd->pid, &st, 0);
}

#endif
