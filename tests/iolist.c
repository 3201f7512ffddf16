/* iolist validation and cursor helpers, plus the public bytestream and
   message entry points' argument checks. */

#include <sys/uio.h>

#include "assert.h"
#include "libdillimpl.h"
#include "net/iol.h"

static void link_list(struct iolist *v, int n) {
    for(int i = 0; i != n; i++) {
        v[i].iol_next = i + 1 < n ? &v[i + 1] : NULL;
        v[i].iol_rsvd = 0;
    }
}

static void all_clear(struct iolist *v, int n) {
    for(int i = 0; i != n; i++) assert(v[i].iol_rsvd == 0);
}

static void test_check(void) {
    char buf[100];
    struct iolist v[5];
    for(int i = 0; i != 5; i++) {
        v[i].iol_base = buf + i * 10;
        v[i].iol_len = (size_t)i;
    }
    link_list(v, 5);
    size_t total = 0;
    assert(dill__iol_check(&v[0], &v[4], 1, &total) == 0);
    assert(total == 0 + 1 + 2 + 3 + 4);
    all_clear(v, 5);
    /* A one-item list; a sub-chain ending at the real end. */
    assert(dill__iol_check(&v[4], &v[4], 0, &total) == 0 && total == 4);
    assert(dill__iol_check(&v[2], &v[4], 0, NULL) == 0);
    /* last->iol_next must be NULL. */
    assert(dill__iol_check(&v[0], &v[3], 0, NULL) == -EINVAL);
    all_clear(v, 5);
    /* NULL ends. */
    assert(dill__iol_check(NULL, &v[4], 0, NULL) == -EINVAL);
    assert(dill__iol_check(&v[0], NULL, 0, NULL) == -EINVAL);
    /* first and last on different chains. */
    struct iolist other = {buf, 1, NULL, 0};
    assert(dill__iol_check(&v[0], &other, 0, NULL) == -EINVAL);
    all_clear(v, 5);
    assert(other.iol_rsvd == 0);
    /* last before first. */
    assert(dill__iol_check(&v[3], &v[1], 0, NULL) == -EINVAL);
    all_clear(v, 5);
    /* Non-zero iol_rsvd, anywhere; the value is left as it was. */
    v[2].iol_rsvd = 7;
    assert(dill__iol_check(&v[0], &v[4], 0, NULL) == -EINVAL);
    assert(v[2].iol_rsvd == 7);
    v[2].iol_rsvd = 0;
    v[0].iol_rsvd = 1;
    assert(dill__iol_check(&v[0], &v[4], 0, NULL) == -EINVAL);
    assert(v[0].iol_rsvd == 1);
    v[0].iol_rsvd = 0;
    all_clear(v, 5);
    /* Loops: to the start, to the middle, self. last is unreachable. */
    v[4].iol_next = &v[0];
    assert(dill__iol_check(&v[0], &other, 0, NULL) == -EINVAL);
    all_clear(v, 5);
    v[4].iol_next = &v[2];
    assert(dill__iol_check(&v[0], &other, 0, NULL) == -EINVAL);
    all_clear(v, 5);
    v[1].iol_next = &v[1];
    assert(dill__iol_check(&v[0], &v[4], 0, NULL) == -EINVAL);
    all_clear(v, 5);
    link_list(v, 5);
    /* NULL base: skipping is fine for receiving, not for sending. */
    v[3].iol_base = NULL;
    assert(dill__iol_check(&v[0], &v[4], 0, NULL) == 0);
    assert(dill__iol_check(&v[0], &v[4], 1, NULL) == -EINVAL);
    all_clear(v, 5);
    v[0].iol_base = NULL;  /* length 0: fine either way */
    v[3].iol_base = buf;
    assert(dill__iol_check(&v[0], &v[4], 1, NULL) == 0);
    /* Overflowing total length. */
    struct iolist h2 = {buf, SIZE_MAX, NULL, 0}, h1 = {buf, 2, &h2, 0};
    assert(dill__iol_check(&h1, &h2, 0, NULL) == -EINVAL);
    assert(h1.iol_rsvd == 0 && h2.iol_rsvd == 0);
}

static void test_cursor(void) {
    char a[3] = "abc", b[1] = "d", c[4] = "efgh";
    struct iolist v[4] = {
        {a, 3, &v[1], 0}, {NULL, 0, &v[2], 0}, {b, 1, &v[3], 0},
        {c, 4, NULL, 0}};
    assert(dill__iol_size(&v[0]) == 8);
    assert(dill__iol_size(NULL) == 0);
    struct dill__iolcur cur = {&v[0], 0};
    struct iovec iov[8];
    size_t bytes;
    assert(dill__iol_toiov(&cur, iov, 8, 100, &bytes) == 3 && bytes == 8);
    assert(iov[0].iov_base == a && iov[0].iov_len == 3);
    assert(iov[1].iov_base == b && iov[2].iov_base == c);
    assert(dill__iol_toiov(&cur, iov, 2, 100, &bytes) == 2 && bytes == 4);
    assert(dill__iol_toiov(&cur, iov, 8, 5, &bytes) == 3 && bytes == 5);
    assert(iov[2].iov_len == 1);
    dill__iol_advance(&cur, 2);
    assert(cur.it == &v[0] && cur.off == 2);
    dill__iol_advance(&cur, 1);
    assert(cur.it == &v[2] && cur.off == 0);  /* empty item skipped */
    dill__iol_advance(&cur, 2);
    assert(cur.it == &v[3] && cur.off == 1);
    dill__iol_advance(&cur, 3);
    assert(cur.it == NULL);
    /* copyin across items, with a skipped item. */
    v[2].iol_base = NULL;
    cur = (struct dill__iolcur){&v[0], 0};
    dill__iol_copyin(&cur, "12345678", 8);
    assert(memcmp(a, "123", 3) == 0 && b[0] == 'd' &&
        memcmp(c, "5678", 4) == 0);
    assert(cur.it == NULL);
    /* Skipped items point at scratch memory in pieces. */
    struct iolist big = {NULL, 100000, NULL, 0};
    cur = (struct dill__iolcur){&big, 0};
    int n = dill__iol_toiov(&cur, iov, 8, SIZE_MAX, &bytes);
    assert(n == 8 && bytes < 100000 && bytes > 0);
}

static void test_public_args(void) {
    int s[2];
    errno_assert(ipc_pair(s) == 0);
    char buf[10] = {0};
    struct iolist i2 = {buf, 5, NULL, 0}, i1 = {buf, 5, &i2, 0};
    errno_assert(bsendl(s[0], &i1, &i2, -1) == 0);
    errno_assert(brecvl(s[1], &i1, &i2, -1) == 0);
    assert_err(bsendl(s[0], &i1, &i1, -1), EINVAL);
    assert_err(brecvl(s[1], &i2, &i1, -1), EINVAL);
    assert_err(bsendl(s[0], NULL, &i2, -1), EINVAL);
    assert_err(brecvl(s[1], NULL, NULL, -1), EINVAL);
    i1.iol_rsvd = 1;
    assert_err(bsendl(s[0], &i1, &i2, -1), EINVAL);
    i1.iol_rsvd = 0;
    assert_err(bsend(s[0], NULL, 3, -1), EINVAL);
    assert_err(bsend(-1, buf, 3, -1), EBADF);
    assert_err(brecv(12345, buf, 3, -1), EBADF);
    assert_err(bsendl(-1, &i1, &i2, -1), EBADF);
    assert_err(brecvl(-1, &i1, &i2, -1), EBADF);
    assert_err(msend(s[0], buf, 3, -1), ENOTSUP);
    assert_err(mrecv(s[0], buf, 3, -1), ENOTSUP);
    assert_err(msendl(s[0], &i1, &i2, -1), ENOTSUP);
    assert_err(mrecvl(s[0], &i1, &i2, -1), ENOTSUP);
    assert_err(msend(-1, buf, 3, -1), EBADF);
    errno_assert(hclose(s[0]) == 0);
    errno_assert(hclose(s[1]) == 0);
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", 0, 0) == 0);
    int u = udp_open(&a, &a);
    errno_assert(u >= 0);
    assert_err(msend(u, NULL, 3, -1), EINVAL);
    assert_err(msendl(u, &i1, &i1, -1), EINVAL);
    assert_err(mrecvl(u, NULL, &i2, -1), EINVAL);
    assert_err(bsend(u, buf, 3, -1), ENOTSUP);
    assert_err(brecvl(u, &i1, &i2, -1), ENOTSUP);
    errno_assert(hclose(u) == 0);
    assert(dill_bsock_type != dill_msock_type);
}

int main(void) {
    test_check();
    test_cursor();
    test_public_args();
    return 0;
}
