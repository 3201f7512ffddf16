/* DTLS over UDP on 127.0.0.1: handshake, records both ways, the _mem
   variants, record size limits, done and detach on both sides, lost
   datagrams (retransmission), a silent peer (deadline), cancellation, bad
   certificate files, a socket that is not a message socket.  Certificates
   are made at start by the openssl command in a temporary directory. */

#if defined DILL_DISABLE_TLS
int main(void) {return 0;}
#else

#include "assert.h"
#include "libdillimpl.h"
#include "tmpdir.h"

#define SLACK 3000  /* upper bounds only prove that a wait was bounded */

static void makecerts(void) {
    tmpdir_make("dtls");
    tmpdir_selfsigned("key.pem", "cert.pem", 2, "");
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "echo garbage > %s/bad.pem", dir);
    assert(system(cmd) == 0);
}

/* Two UDP sockets, each with the other as remote. */
static void udp_pair(int s[2]) {
    struct ipaddr a0, a1;
    errno_assert(ipaddr_local(&a0, "127.0.0.1", 0, 0) == 0);
    errno_assert(ipaddr_local(&a1, "127.0.0.1", 0, 0) == 0);
    int t = udp_open(&a0, NULL);
    errno_assert(t >= 0);
    s[1] = udp_open(&a1, &a0);
    errno_assert(s[1] >= 0);
    errno_assert(hclose(t) == 0);
    s[0] = udp_open(&a0, &a1);
    errno_assert(s[0] >= 0);
}

/* A message socket that drops the first `drop` datagrams it sends. */
struct lossy {
    struct hvfs hvfs;
    struct msock_vfs mvfs;
    int inner;
    int drop;
};

static void *lossy_query(struct hvfs *vfs, const void *type) {
    struct lossy *self = (struct lossy*)vfs;
    if(type == msock_type) return &self->mvfs;
    errno = ENOTSUP;
    return NULL;
}

static void lossy_close(struct hvfs *vfs) {
    struct lossy *self = (struct lossy*)vfs;
    hclose(self->inner);
    free(self);
}

static int lossy_msendl(struct msock_vfs *vfs, struct iolist *first,
      struct iolist *last, int64_t deadline) {
    struct lossy *self = (struct lossy*)((char*)vfs -
        offsetof(struct lossy, mvfs));
    if(self->drop) {self->drop--; return 0;}
    return msendl(self->inner, first, last, deadline);
}

static ssize_t lossy_mrecvl(struct msock_vfs *vfs, struct iolist *first,
      struct iolist *last, int64_t deadline) {
    struct lossy *self = (struct lossy*)((char*)vfs -
        offsetof(struct lossy, mvfs));
    return mrecvl(self->inner, first, last, deadline);
}

static int lossy_wrap(int inner, int drop) {
    struct lossy *self = malloc(sizeof(*self));
    assert(self);
    self->hvfs.query = lossy_query;
    self->hvfs.close = lossy_close;
    self->mvfs.msendl = lossy_msendl;
    self->mvfs.mrecvl = lossy_mrecvl;
    self->inner = inner;
    self->drop = drop;
    int h = hmake(&self->hvfs);
    errno_assert(h >= 0);
    return h;
}

coroutine static void server(int s, int ch) {
    s = dtls_attach_server(s, path("cert.pem"), path("key.pem"),
        now() + 10000);
    int err = errno;
    errno_assert(chsend(ch, &s, sizeof(s), -1) == 0);
    errno_assert(chsend(ch, &err, sizeof(err), -1) == 0);
}

/* A connected DTLS pair: *c client, *s server. */
static void dtls_pair(int u[2], int *c, int *s, struct dtls_storage *cmem) {
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int h = go(server(u[1], ch[1]));
    *c = cmem ? dtls_attach_client_mem(u[0], cmem, now() + 10000) :
        dtls_attach_client(u[0], now() + 10000);
    errno_assert(*c >= 0);
    int err;
    errno_assert(chrecv(ch[0], s, sizeof(*s), -1) == 0);
    errno_assert(chrecv(ch[0], &err, sizeof(err), -1) == 0);
    errno = err;
    errno_assert(*s >= 0);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}

static void test_records(void) {
    int u[2], c, s;
    udp_pair(u);
    struct dtls_storage mem;
    dtls_pair(u, &c, &s, &mem);
    char buf[2000];
    errno_assert(msend(c, "hello", 5, now() + 1000) == 0);
    assert(mrecv(s, buf, sizeof(buf), now() + 1000) == 5);
    assert(memcmp(buf, "hello", 5) == 0);
    struct iolist i2 = {"ld", 2, NULL, 0}, i1 = {"wor", 3, &i2, 0};
    errno_assert(msendl(s, &i1, &i2, now() + 1000) == 0);
    char r1[2], r2[8];
    struct iolist o2 = {r2, 8, NULL, 0}, o1 = {r1, 2, &o2, 0};
    assert(mrecvl(c, &o1, &o2, now() + 1000) == 5);
    assert(memcmp(r1, "wo", 2) == 0 && memcmp(r2, "rld", 3) == 0);
    /* Record boundaries are kept; too small a buffer: EMSGSIZE, the record
       is gone and the next one arrives. */
    static char big[1200];
    memset(big, 'b', sizeof(big));
    errno_assert(msend(c, big, sizeof(big), now() + 1000) == 0);
    errno_assert(msend(c, "x", 1, now() + 1000) == 0);
    assert_err(mrecv(s, buf, 10, now() + 1000), EMSGSIZE);
    assert(mrecv(s, buf, sizeof(buf), now() + 1000) == 1);
    /* Dropped whole. */
    errno_assert(msend(c, big, 100, now() + 1000) == 0);
    assert(mrecvl(s, NULL, NULL, now() + 1000) == 100);
    /* More than a datagram holds, and empty records, are refused. */
    static char huge[2000];
    assert_err(msend(c, huge, sizeof(huge), now() + 1000), EMSGSIZE);
    assert_err(msend(c, "", 0, now() + 1000), EINVAL);
    /* Nothing coming: the deadline, and the socket stays usable. */
    int64_t t = now();
    assert_err(mrecv(s, buf, sizeof(buf), now() + 50), ETIMEDOUT);
    assert(now() - t < 50 + SLACK);
    errno_assert(msend(c, "again", 5, now() + 1000) == 0);
    assert(mrecv(s, buf, sizeof(buf), now() + 1000) == 5);
    /* done: the peer sees EPIPE, still sends; we still receive. */
    errno_assert(dtls_done(c, now() + 1000) == 0);
    assert_err(dtls_done(c, now() + 1000), EPIPE);
    assert_err(msend(c, "late", 4, now() + 1000), EPIPE);
    assert_err(mrecv(s, buf, sizeof(buf), now() + 1000), EPIPE);
    errno_assert(msend(s, "bye", 3, now() + 1000) == 0);
    assert(mrecv(c, buf, sizeof(buf), now() + 1000) == 3);
    /* detach: the server's close_notify completes it on both sides; the
       UDP sockets below are back. */
    int us = dtls_detach(s, now() + 1000);
    errno_assert(us >= 0);
    int uc = dtls_detach(c, now() + 1000);
    errno_assert(uc >= 0);
    errno_assert(msend(uc, "plain", 5, now() + 1000) == 0);
    assert(mrecv(us, buf, sizeof(buf), now() + 1000) == 5);
    assert(memcmp(buf, "plain", 5) == 0);
    errno_assert(hclose(uc) == 0);
    errno_assert(hclose(us) == 0);
}

/* Lost handshake datagrams are sent again (DTLS's timer). */
static void test_loss(void) {
    int u[2], c, s;
    udp_pair(u);
    u[0] = lossy_wrap(u[0], 1);
    dtls_pair(u, &c, &s, NULL);
    errno_assert(msend(s, "ok", 2, now() + 1000) == 0);
    char buf[8];
    assert(mrecv(c, buf, sizeof(buf), now() + 1000) == 2);
    errno_assert(hclose(c) == 0);
    errno_assert(hclose(s) == 0);
}

coroutine static void attach_cancelled(int s, int *err) {
    *err = dtls_attach_client(s, -1) < 0 ? errno : 0;
}

static void test_failures(void) {
    int u[2];
    udp_pair(u);
    /* Nobody answers: the deadline, everything closed. */
    int64_t t = now();
    assert_err(dtls_attach_client(u[0], now() + 200), ETIMEDOUT);
    assert(now() - t < 200 + SLACK);
    assert_err(hclose(u[0]), EBADF);
    /* (u[1] holds the client hellos just sent: a fresh pair.) */
    errno_assert(hclose(u[1]) == 0);
    udp_pair(u);
    errno_assert(hclose(u[0]) == 0);
    int err = -1;
    int h = go(attach_cancelled(u[1], &err));
    errno_assert(msleep(now() + 20) == 0);
    errno_assert(hclose(h) == 0);
    assert(err == ECANCELED);
    assert_err(hclose(u[1]), EBADF);
    /* Bad files. */
    udp_pair(u);
    assert_err(dtls_attach_server(u[0], path("none.pem"), path("key.pem"),
        now() + 1000), ENOENT);
    assert_err(hclose(u[0]), EBADF);
    assert_err(dtls_attach_server(u[1], path("bad.pem"), path("key.pem"),
        now() + 1000), EINVAL);
    /* Not a message socket; bad arguments. */
    int p[2];
    errno_assert(ipc_pair(p) == 0);
    assert_err(dtls_attach_client(p[0], 0), EPROTO);
    assert_err(dtls_attach_client_mem(p[1], NULL, 0), EINVAL);
    assert_err(dtls_attach_client(-1, 0), EBADF);
    assert_err(dtls_done(-1, 0), EBADF);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    assert_err(dtls_done(ch[0], 0), ENOTSUP);
    assert_err(dtls_detach(ch[0], 0), ENOTSUP);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
}

int main(void) {
    makecerts();
    test_records();
    test_loss();
    test_failures();
    tmpdir_remove();
    return 0;
}

#endif
