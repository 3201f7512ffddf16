/* A connected pair of bytestream sockets over TCP (loopback, port picked
   by the kernel) or IPC, for the protocol tests.  Header-only. */

#ifndef DILL_TESTS_BPAIR_H
#define DILL_TESTS_BPAIR_H

#include <sys/socket.h>

#include "assert.h"
#include "libdill.h"

/* s[0] and s[1] connected, over TCP when tcp is set, else ipc_pair. */
__attribute__((unused)) static void bpair(int tcp, int s[2]) {
    if(!tcp) {
        errno_assert(ipc_pair(s) == 0);
        return;
    }
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&addr, 10);
    errno_assert(ls >= 0);
    s[0] = tcp_connect(&addr, now() + 5000);
    errno_assert(s[0] >= 0);
    s[1] = tcp_accept(ls, NULL, now() + 5000);
    errno_assert(s[1] >= 0);
    errno_assert(hclose(ls) == 0);
}

/* An IPC pair over a socketpair with the smallest kernel buffers (s[0]
   sends, s[1] receives): a burst of a few KB fills them. */
__attribute__((unused)) static void bpair_small(int s[2]) {
    int fds[2];
    errno_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    int small = 1;
    errno_assert(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small,
        sizeof(small)) == 0);
    errno_assert(setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small,
        sizeof(small)) == 0);
    s[0] = ipc_fromfd(fds[0]);
    errno_assert(s[0] >= 0);
    s[1] = ipc_fromfd(fds[1]);
    errno_assert(s[1] >= 0);
}

#endif
