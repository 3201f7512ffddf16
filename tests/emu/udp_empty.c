/* qemu-user and zero-length UDP datagrams: sendmsg with no iovec returns
   0 without sending anything (Linux sends an empty datagram); one empty
   iovec works.  Exit status 1 when the datagram is lost. */
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>

static int arrives(int r) {
    struct pollfd p = {r, POLLIN, 0};
    char b[4];
    return poll(&p, 1, 500) == 1 && recv(r, b, sizeof(b), 0) == 0;
}

int main(void) {
    struct sockaddr_in a = {AF_INET, 0, {htonl(INADDR_LOOPBACK)}, {0}};
    socklen_t len = sizeof(a);
    int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
    if(bind(r, (struct sockaddr*)&a, len) || getsockname(r, (struct sockaddr*)&a, &len))
        return 2;
    struct iovec iov = {NULL, 0};
    struct msghdr m = {&a, len, &iov, 0, NULL, 0, 0};
    long n0 = sendmsg(s, &m, 0);
    int got0 = arrives(r);
    m.msg_iovlen = 1;
    long n1 = sendmsg(s, &m, 0);
    int got1 = arrives(r);
    printf("udp_empty: sendmsg with 0 iovecs: %ld, %s; with 1 empty iovec: %ld, %s\n",
        n0, got0 ? "arrived" : "LOST", n1, got1 ? "arrived" : "LOST");
    return got0 ? 0 : 1;
}
