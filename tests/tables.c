/* The handle table and the poller's fd table growing past their chunk
   boundaries: many handles and sockets opened and closed (coroutines
   waiting on the first sockets while the table grows), numbers reused, and
   an fd far above all the others. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <unistd.h>

#include "assert.h"
#include "libdillimpl.h"

/* More than a few chunks of either table (256 entries each). */
#define NH 1500
#define NCONN 400

struct obj {
    struct hvfs vfs;
    int id;
    int *closed;
};

static const int obj_type_ = 0;
static const void *obj_type = &obj_type_;

static void *obj_query(struct hvfs *vfs, const void *type) {
    if(type == obj_type) return vfs;
    errno = ENOTSUP;
    return NULL;
}

static void obj_close(struct hvfs *vfs);

static int obj_make(struct obj *o, int id, int *closed) {
    o->vfs.query = obj_query;
    o->vfs.close = obj_close;
    o->id = id;
    o->closed = closed;
    return hmake(&o->vfs);
}

static void obj_close(struct hvfs *vfs) {
    struct obj *o = (struct obj*)vfs;
    (*o->closed)++;
}

/* hquery fails with NULL, not -1. */
#define assert_ebadf(h) \
    do {\
        errno = 0;\
        assert(hquery((h), obj_type) == NULL && errno == EBADF);\
    } while(0)

static struct obj objs[2 * NH];
static int hs[2 * NH];

static void check_live(int n, const int *live) {
    for(int i = 0; i != n; i++) {
        if(!live[i]) {
            /* Unless a newer handle took the number. */
            int taken = 0;
            for(int j = 0; j != n; j++) taken |= live[j] && hs[j] == hs[i];
            if(!taken) assert_ebadf(hs[i]);
            continue;
        }
        /* Twice: the second answer comes from the slot's cached query. */
        for(int k = 0; k != 2; k++) {
            struct obj *o = hquery(hs[i], obj_type);
            assert(o == &objs[i] && o->id == i);
        }
    }
}

static void handles(void) {
    static int live[2 * NH];
    int closed = 0;
    for(int i = 0; i != NH; i++) {
        hs[i] = obj_make(&objs[i], i, &closed);
        errno_assert(hs[i] >= 0);
        live[i] = 1;
        for(int j = 0; j < i; j += 97) assert(hs[j] != hs[i]);
    }
    check_live(NH, live);
    /* Close every third, then reopen as many: numbers are reused, never two
       live handles share one. */
    for(int i = 0; i < NH; i += 3) {
        errno_assert(hclose(hs[i]) == 0);
        live[i] = 0;
    }
    assert(closed == (NH + 2) / 3);
    check_live(NH, live);
    for(int i = NH; i != 2 * NH; i++) {
        hs[i] = obj_make(&objs[i], i, &closed);
        errno_assert(hs[i] >= 0);
        live[i] = 1;
    }
    check_live(2 * NH, live);
    for(int i = 0; i != 2 * NH; i++)
        for(int j = i + 1; j != 2 * NH; j++)
            assert(!live[i] || !live[j] || hs[i] != hs[j]);
    /* A closed number does not come back at once (FIFO reuse). */
    int h = obj_make(&objs[0], 0, &closed);
    errno_assert(h >= 0);
    errno_assert(hclose(h) == 0);
    int h2 = obj_make(&objs[0], 0, &closed);
    errno_assert(h2 >= 0);
    assert(h2 != h);
    errno_assert(hclose(h2) == 0);
    closed -= 2;
    /* hown moves a handle to a new number (possibly in a new chunk). */
    int last = 2 * NH - 1;
    int owned = hown(hs[last]);
    errno_assert(owned >= 0);
    assert_ebadf(hs[last]);
    assert(hquery(owned, obj_type) == &objs[last]);
    hs[last] = owned;
    int before = closed;
    for(int i = 0; i != 2 * NH; i++) {
        if(!live[i]) continue;
        errno_assert(hclose(hs[i]) == 0);
        live[i] = 0;
    }
    assert(closed - before == 2 * NH - (NH + 2) / 3);
    check_live(2 * NH, live);
    assert_ebadf(-1);
    assert_ebadf(1 << 30);
    assert_err(hclose(1 << 30), EBADF);
}

/* One byte in, the same byte back, until the peer closes. */
coroutine static void echo1(int s) {
    char c;
    while(brecv(s, &c, 1, now() + 30000) == 0)
        if(bsend(s, &c, 1, now() + 30000) < 0) break;
    hclose(s);
}

coroutine static void send_later(int s, char c) {
    msleep(now() + 20);
    errno_assert(bsend(s, &c, 1, now() + 30000) == 0);
}

static int listener(int *port) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&a, NCONN);
    errno_assert(ls >= 0);
    struct ipaddr la;
    errno_assert(tcp_localaddr(ls, &la) == 0);
    *port = ipaddr_port(&la);
    return ls;
}

static int connect1(int port) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", port, IPADDR_IPV4) == 0);
    int c = tcp_connect(&a, now() + 30000);
    errno_assert(c >= 0);
    return c;
}

static void roundtrip(int c, char v) {
    errno_assert(bsend(c, &v, 1, now() + 30000) == 0);
    char r;
    errno_assert(brecv(c, &r, 1, now() + 30000) == 0);
    assert(r == v);
}

static void sockets(int highfd) {
    int port;
    int ls = listener(&port);
    int b = bundle();
    errno_assert(b >= 0);
    static int cs[NCONN];
    for(int i = 0; i != NCONN; i++) {
        cs[i] = connect1(port);
        int s = tcp_accept(ls, NULL, now() + 30000);
        errno_assert(s >= 0);
        errno_assert(bundle_go(b, echo1(s)) == 0);
    }
    for(int i = 0; i != NCONN; i++) roundtrip(cs[i], (char)i);
    /* Half of them go; their fds and handles are reused by new ones. */
    for(int i = 0; i < NCONN; i += 2) {
        errno_assert(hclose(cs[i]) == 0);
        cs[i] = connect1(port);
        int s = tcp_accept(ls, NULL, now() + 30000);
        errno_assert(s >= 0);
        errno_assert(bundle_go(b, echo1(s)) == 0);
    }
    for(int i = NCONN - 1; i >= 0; i--) roundtrip(cs[i], (char)(i * 7));

    /* A connection moved to an fd far above all the others: the fd table
       gets a lone chunk there, and a coroutine waits on it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    errno_assert(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    errno_assert(connect(fd, (struct sockaddr*)&sa, sizeof(sa)) == 0);
    errno_assert(dup2(fd, highfd) == highfd);
    errno_assert(close(fd) == 0);
    int hs_ = tcp_fromfd(highfd);
    errno_assert(hs_ >= 0);
    int c = tcp_accept(ls, NULL, now() + 30000);
    errno_assert(c >= 0);
    int w = go(send_later(c, 'h'));
    errno_assert(w >= 0);
    char r;
    errno_assert(brecv(hs_, &r, 1, now() + 30000) == 0);
    assert(r == 'h');
    errno_assert(bsend(hs_, "i", 1, now() + 30000) == 0);
    errno_assert(brecv(c, &r, 1, now() + 30000) == 0);
    assert(r == 'i');
    errno_assert(hclose(w) == 0);
    errno_assert(hclose(hs_) == 0);
    errno_assert(hclose(c) == 0);
    /* Unknown fds, above or below everything seen, are nothing to clean. */
    errno_assert(fdclean(highfd + 1000000) == 0);
    errno_assert(fdclean(-1) == 0);
    assert_err(fdin(-1, 0), EBADF);

    for(int i = 0; i != NCONN; i++) errno_assert(hclose(cs[i]) == 0);
    errno_assert(bundle_wait(b, now() + 30000) == 0);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(ls) == 0);
}

int main(void) {
    struct rlimit rl;
    errno_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rlim_t want = 4096;
    if(rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) want = rl.rlim_max;
    if(rl.rlim_cur < want) {
        rl.rlim_cur = want;
        errno_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    }
    if(rl.rlim_cur < 2 * NCONN + 64) {
        fprintf(stderr, "skipped: RLIMIT_NOFILE %lu\n",
            (unsigned long)rl.rlim_cur);
        return 77;
    }
    handles();
    sockets((int)rl.rlim_cur - 1);
    /* Again, over the tables left by the first pass. */
    handles();
    sockets((int)rl.rlim_cur - 2);
    return 0;
}
