/* Gathered writes: small WebSocket frames over tcp and ipc are collected in
   the socket's write buffer during one coroutine turn and written when the
   turn ends.  These tests check that nothing is lost or delayed on any of
   the ways a turn can end: blocking in another call, sleeping, a full
   kernel buffer, hclose, a plain send or half-close on the socket below,
   and the program's exit; and that a write that fails in the background is
   reported by the next send. */

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu.h"
#include "wsseq.h"
#include "wstest.h"

extern char **environ;

/* Messages sent in one turn stay in the buffer until the turn ends. */
static void test_turn(int tcp) {
    int c, s;
    wst_pair(tcp, 0, &c, &s);
    seq_send(c, 0, 100, 0);
    char b[8];
    int flags;
    /* A deadline of 0 reads without blocking: the turn goes on. */
    assert_err(ws_recv(s, &flags, b, sizeof(b), 0), ETIMEDOUT);
    errno_assert(yield() == 0);
    seq_expect(s, 0, 100, now() + 2000);
    /* Both directions, and more than one buffer's worth in one turn. */
    seq_send(s, 0, 5000, 0);
    seq_expect(c, 0, 5000, now() + 2000);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* A sender that goes to sleep right after its burst. */
static void test_sleep(int tcp) {
    int c, s;
    wst_pair(tcp, 0, &c, &s);
    int64_t start = now();
    int cr = go(seq_burst_then_sleep(c, 20000, 0, start + 10000));
    errno_assert(cr >= 0);
    seq_expect(s, 0, 20000, start + 5000);
    assert(now() - start < 5000);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* A WebSocket pair over a socketpair with the smallest kernel buffers. */
static void small_pair(int *c, int *s) {
    int p[2];
    bpair_small(p);
    int a = p[0], b = p[1];
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int cr = go(wst_server(b, ch[1], 0));
    errno_assert(cr >= 0);
    *c = ws_attach_client(a, 0, "/", "localhost", now() + 2000);
    errno_assert(*c >= 0);
    int err;
    errno_assert(chrecv(ch[0], s, sizeof(*s), -1) == 0);
    errno_assert(chrecv(ch[0], &err, sizeof(err), -1) == 0);
    errno_assert(*s >= 0);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}

/* A burst bigger than the kernel's socket buffer, sent in one turn, with
   the reader only starting later: the rest goes out in the background,
   when the poller reports room, while the sender sleeps. */
static void test_full(void) {
    int c, s;
    small_pair(&c, &s);
    /* ~15 KB in one turn: fits the gathering buffer, not the kernel's. */
    int64_t start = now();
    int cr;
    cr = go(seq_burst_then_sleep(c, 1500, 0, start + 10000));
    errno_assert(cr >= 0);
    errno_assert(msleep(now() + 100) == 0);
    seq_expect(s, 0, 1500, start + 5000);
    assert(now() - start < 5000);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* Closing the sender while the rest of a burst waits for room: what the
   kernel takes at once is delivered, the rest is dropped, nothing leaks
   and the reader sees the end of the connection. */
static void test_full_close(void) {
    int c, s;
    small_pair(&c, &s);
    seq_send(c, 0, 1500, 0);
    errno_assert(yield() == 0);
    errno_assert(hclose(c) == 0);
    int n = 0;
    while(1) {
        char b[64];
        int flags;
        ssize_t r = ws_recv(s, &flags, b, sizeof(b) - 1, now() + 2000);
        if(r < 0) {
            assert(errno == ECONNRESET || errno == EPIPE);
            break;
        }
        b[r] = 0;
        assert(atoi(b) == n);
        n++;
    }
    assert(n < 1500);
    errno_assert(hclose(s) == 0);
}

coroutine static void big_send(int s, int64_t deadline, int *res) {
    char big[8192];
    memset(big, 'b', sizeof(big));
    memcpy(big, "150 ", 4);
    *res = ws_send(s, 0, big, sizeof(big), deadline) == 0 ? 0 : errno;
}

/* A plain write (a frame too big to gather) behind gathered bytes that
   the kernel does not take: it waits for their write to end (a ring send
   or the poller), then writes itself.  Running out of time there is
   ETIMEDOUT and leaves the connection usable; closing the handle wakes it
   with EBADF. */
static void test_settle(void) {
    int c, s;
    small_pair(&c, &s);
    seq_send(c, 0, 150, 100);
    errno_assert(yield() == 0);
    int res = -1;
    big_send(c, now() + 50, &res);
    assert(res == ETIMEDOUT);
    int cr = go(big_send(c, now() + 5000, &res));
    errno_assert(cr >= 0);
    seq_expect(s, 0, 150, now() + 5000);
    char b[8192];
    int flags;
    assert(ws_recv(s, &flags, b, sizeof(b), now() + 5000) == sizeof(b));
    assert(memcmp(b, "150 bbb", 7) == 0);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    assert(res == 0);
    errno_assert(hclose(cr) == 0);
    seq_send(c, 0, 150, 100);
    errno_assert(yield() == 0);
    cr = go(big_send(c, -1, &res));
    errno_assert(cr >= 0);
    errno_assert(msleep(now() + 50) == 0);
    errno_assert(hclose(c) == 0);
    errno_assert(bundle_wait(cr, now() + 5000) == 0);
    assert(res == EBADF);
    errno_assert(hclose(cr) == 0);
    errno_assert(hclose(s) == 0);
}

/* hclose right after sending still hands the message to the kernel. */
static void test_hclose(int tcp) {
    int c, s;
    wst_pair(tcp, 0, &c, &s);
    seq_send(c, 0, 10, 0);
    errno_assert(hclose(c) == 0);
    seq_expect(s, 0, 10, now() + 2000);
    char b[8];
    int flags;
    ssize_t r = ws_recv(s, &flags, b, sizeof(b), now() + 2000);
    assert(r < 0 && (errno == EPIPE || errno == ECONNRESET));
    errno_assert(hclose(s) == 0);
}

/* ws_detach and ws_done order the gathered frames before their own. */
static void test_order(int tcp) {
    int c, s;
    wst_pair(tcp, 0, &c, &s);
    seq_send(c, 0, 10, 0);
    errno_assert(ws_done(c, 1000, NULL, 0, now() + 2000) == 0);
    seq_expect(s, 0, 10, now() + 2000);
    char b[8];
    int flags;
    assert_err(ws_recv(s, &flags, b, sizeof(b), now() + 2000), EPIPE);
    int status;
    errno_assert(ws_status(s, &status, NULL, 0) == 0);
    assert(status == 1000);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

/* The peer resets the connection while frames wait in the buffer: the
   background write fails and the next send says so. */
static void test_reset(void) {
    int c, s;
    wst_pair(1, 0, &c, &s);
    /* Make the server's socket reset on close: unread data. */
    seq_send(c, 0, 1, 0);
    errno_assert(yield() == 0);
    errno_assert(msleep(now() + 50) == 0);
    errno_assert(hclose(s) == 0);
    errno_assert(msleep(now() + 50) == 0);
    seq_send_until_reset(c);
    errno_assert(hclose(c) == 0);
}

/* The process returns from main right after sending: the message still
   goes out.  The child is this program run again with "child PORT". */
static int child(int port) {
    struct ipaddr addr;
    if(ipaddr_local(&addr, "127.0.0.1", port, IPADDR_IPV4) < 0) return 1;
    int s = tcp_connect(&addr, now() + 5000);
    if(s < 0) return 1;
    int ws = ws_attach_client(s, 0, "/", "localhost", now() + 5000);
    if(ws < 0) return 1;
    if(ws_send(ws, WS_TEXT, "bye", 3, -1) < 0) return 1;
    return 0;
}

static void test_exit(const char *self) {
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&addr, 10);
    errno_assert(ls >= 0);
    char port[16];
    snprintf(port, sizeof(port), "%d", ipaddr_port(&addr));
    char *argv[] = {(char*)self, "child", port, NULL};
    pid_t pid;
    /* Under user-mode emulation the host kernel cannot run this program
       (tests/emu/spawn_self.c): the emulator runs the child. */
    char *emu = (char*)emu_name();
    char *eargv[] = {emu, (char*)self, "child", port, NULL};
    if(emu)
        errno_assert(posix_spawnp(&pid, emu, NULL, NULL, eargv,
            environ) == 0);
    else
        errno_assert(posix_spawn(&pid, self, NULL, NULL, argv,
            environ) == 0);
    int t = tcp_accept(ls, NULL, now() + 5000);
    errno_assert(t >= 0);
    char res[64], host[64];
    int ws = ws_attach_server(t, WS_TEXT, res, sizeof(res), host,
        sizeof(host), now() + 5000);
    errno_assert(ws >= 0);
    char b[8];
    int flags;
    ssize_t r = ws_recv(ws, &flags, b, sizeof(b), now() + 5000);
    errno_assert(r == 3);
    assert(memcmp(b, "bye", 3) == 0);
    int status;
    errno_assert(waitpid(pid, &status, 0) == pid);
    assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    errno_assert(hclose(ws) == 0);
    errno_assert(hclose(ls) == 0);
}

int main(int argc, char *argv[]) {
    if(argc == 3 && strcmp(argv[1], "child") == 0) return child(atoi(argv[2]));
    for(int tcp = 0; tcp != 2; tcp++) {
        test_turn(tcp);
        test_sleep(tcp);
        test_hclose(tcp);
        test_order(tcp);
    }
    test_full();
    test_full_close();
    test_settle();
    test_reset();
    test_exit(argv[0]);
    return 0;
}
