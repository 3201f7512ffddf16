/* Channels and choose. */

#include <stdint.h>

#include "assert.h"
#include "libdill.h"

coroutine static void sender(int ch, int val, int64_t delay) {
    if(delay) msleep(now() + delay);
    int rc = chsend(ch, &val, sizeof(val), -1);
    assert(rc == 0 || errno == ECANCELED || errno == EPIPE);
}

coroutine static void receiver(int ch, int expected) {
    int val;
    int rc = chrecv(ch, &val, sizeof(val), -1);
    errno_assert(rc == 0);
    assert(val == expected);
}

coroutine static void expect_err(int ch, int op, int err, int *done) {
    int val = 0;
    int rc = op == CHSEND ? chsend(ch, &val, sizeof(val), -1)
        : chrecv(ch, &val, sizeof(val), -1);
    assert(rc == -1 && errno == err);
    (*done)++;
}

coroutine static void choose_cancelled(int ch, int *done) {
    int val;
    struct chclause cl[] = {{CHRECV, ch, &val, sizeof(val)}};
    int rc = choose(cl, 1, -1);
    assert(rc == -1 && errno == ECANCELED);
    (*done)++;
}

coroutine static void many_senders(int ch, int i) {
    chsend(ch, &i, sizeof(i), -1);
}

int main(void) {
    int ch[2];
    errno_assert(chmake(ch) == 0);

    /* Rendezvous both ways: a blocked receiver, then a blocked sender. */
    int h = go(receiver(ch[1], 42));
    int val = 42;
    errno_assert(chsend(ch[0], &val, sizeof(val), -1) == 0);
    errno_assert(hclose(h) == 0);
    h = go(sender(ch[1], 7, 0));
    errno_assert(chrecv(ch[0], &val, sizeof(val), -1) == 0);
    assert(val == 7);
    errno_assert(hclose(h) == 0);
    /* A sender that arrives later. */
    h = go(sender(ch[0], 8, 20));
    errno_assert(chrecv(ch[1], &val, sizeof(val), now() + 5000) == 0);
    assert(val == 8);
    errno_assert(hclose(h) == 0);

    /* Deadlines: 0 and in the past do not block, a future one expires. */
    assert_err(chrecv(ch[0], &val, sizeof(val), 0), ETIMEDOUT);
    assert_err(chsend(ch[0], &val, sizeof(val), now() - 1), ETIMEDOUT);
    int64_t start = now();
    assert_err(chrecv(ch[0], &val, sizeof(val), now() + 30), ETIMEDOUT);
    assert(now() - start >= 29);

    /* Size mismatch fails both sides with EMSGSIZE. */
    h = go(expect_err(ch[1], CHRECV, EMSGSIZE, &(int){0}));
    char big[8] = {0};
    assert_err(chsend(ch[0], big, sizeof(big), -1), EMSGSIZE);
    errno_assert(hclose(h) == 0);

    /* Invalid arguments and handles. */
    assert_err(chsend(ch[0], NULL, 4, 0), EINVAL);
    assert_err(chsend(9999, &val, sizeof(val), 0), EBADF);
    int b = bundle();
    assert_err(chsend(b, &val, sizeof(val), 0), ENOTSUP);
    assert_err(chdone(b), ENOTSUP);
    assert_err(chdone(9999), EBADF);
    errno_assert(hclose(b) == 0);

    /* Zero-sized messages work as pure signals. */
    h = go(receiver(ch[1], 0));
    val = 0;
    errno_assert(chsend(ch[0], &val, sizeof(val), -1) == 0);
    errno_assert(hclose(h) == 0);

    /* choose: order of clauses, immediate and blocking. */
    int ch2[2];
    errno_assert(chmake(ch2) == 0);
    h = go(sender(ch[1], 1, 0));
    int h2 = go(sender(ch2[1], 2, 0));
    int v1 = 0, v2 = 0;
    struct chclause cl[] = {
        {CHRECV, ch2[0], &v2, sizeof(v2)},
        {CHRECV, ch[0], &v1, sizeof(v1)}};
    int rc = choose(cl, 2, -1);
    assert(rc == 0 && errno == 0 && v2 == 2);
    rc = choose(cl, 2, -1);
    assert(rc == 1 && errno == 0 && v1 == 1);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(h2) == 0);
    rc = choose(cl, 2, 0);
    assert(rc == -1 && errno == ETIMEDOUT);
    rc = choose(cl, 2, now() + 20);
    assert(rc == -1 && errno == ETIMEDOUT);
    h = go(sender(ch[1], 5, 10));
    rc = choose(cl, 2, now() + 5000);
    assert(rc == 1 && errno == 0 && v1 == 5);
    errno_assert(hclose(h) == 0);
    /* choose with a bad clause reports its index. */
    struct chclause bad[] = {{CHRECV, ch[0], &v1, sizeof(v1)},
        {CHRECV, 31337, &v1, sizeof(v1)}};
    rc = choose(bad, 2, 0);
    assert(rc == 1 && errno == EBADF);
    struct chclause badop[] = {{99, ch[0], &v1, sizeof(v1)}};
    rc = choose(badop, 1, 0);
    assert(rc == 0 && errno == EINVAL);
    assert_err(choose(NULL, -1, 0), EINVAL);
    /* choose with a send clause. */
    h = go(receiver(ch[1], 99));
    int out = 99;
    struct chclause sc[] = {{CHRECV, ch2[0], &v2, sizeof(v2)},
        {CHSEND, ch[0], &out, sizeof(out)}};
    rc = choose(sc, 2, -1);
    assert(rc == 1 && errno == 0);
    errno_assert(hclose(h) == 0);

    /* choose with many clauses over many channels. */
    enum {N = 100};
    int chs[N][2];
    int vals[N];
    struct chclause mcl[N];
    for(int i = 0; i != N; i++) {
        errno_assert(chmake(chs[i]) == 0);
        mcl[i] = (struct chclause){CHRECV, chs[i][0], &vals[i], sizeof(int)};
    }
    h = go(many_senders(chs[73][1], 73));
    rc = choose(mcl, N, now() + 5000);
    assert(rc == 73 && vals[73] == 73);
    errno_assert(hclose(h) == 0);
    for(int i = 0; i != N; i++) {
        errno_assert(hclose(chs[i][0]) == 0);
        errno_assert(hclose(chs[i][1]) == 0);
    }

    /* Cancellation while blocked in chsend, chrecv and choose. */
    int done = 0;
    h = go(expect_err(ch[0], CHSEND, ECANCELED, &done));
    h2 = go(expect_err(ch[0], CHRECV, ECANCELED, &done));
    int h3 = go(choose_cancelled(ch[0], &done));
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(h2) == 0);
    errno_assert(hclose(h3) == 0);
    assert(done == 3);

    /* chdone closes only the sending side of the end it is called on, as
       in libdill: receivers on the other end and senders on this end are
       woken with EPIPE and later ones fail at once; the other direction
       keeps working; a second chdone on the same end fails with EPIPE. */
    done = 0;
    int b2 = bundle();
    errno_assert(bundle_go(b2, expect_err(ch2[1], CHRECV, EPIPE, &done)) == 0);
    errno_assert(bundle_go(b2, expect_err(ch2[1], CHRECV, EPIPE, &done)) == 0);
    errno_assert(chdone(ch2[0]) == 0);
    errno_assert(bundle_wait(b2, now() + 1000) == 0);
    assert(done == 2);
    int ch3[2];
    errno_assert(chmake(ch3) == 0);
    errno_assert(bundle_go(b2, expect_err(ch3[0], CHSEND, EPIPE, &done)) == 0);
    errno_assert(yield() == 0);
    errno_assert(chdone(ch3[0]) == 0);
    errno_assert(bundle_wait(b2, now() + 1000) == 0);
    assert(done == 3);
    errno_assert(hclose(ch3[0]) == 0);
    errno_assert(hclose(ch3[1]) == 0);
    errno_assert(hclose(b2) == 0);
    assert_err(chsend(ch2[0], &val, sizeof(val), -1), EPIPE);
    assert_err(chrecv(ch2[1], &val, sizeof(val), -1), EPIPE);
    assert_err(chdone(ch2[0]), EPIPE);
    struct chclause dc[] = {{CHRECV, ch2[1], &val, sizeof(val)}};
    rc = choose(dc, 1, 0);
    assert(rc == 0 && errno == EPIPE);
    /* The other direction: ch2[1] still sends to ch2[0]. */
    h = go(sender(ch2[1], 42, 0));
    errno_assert(chrecv(ch2[0], &val, sizeof(val), now() + 1000) == 0);
    assert(val == 42);
    errno_assert(hclose(h) == 0);
    struct chclause dc2[] = {{CHSEND, ch2[1], &val, sizeof(val)}};
    assert(choose(dc2, 1, 0) == -1 && errno == ETIMEDOUT);
    /* Then its own chdone ends that direction too. */
    errno_assert(chdone(ch2[1]) == 0);
    assert_err(chrecv(ch2[0], &val, sizeof(val), -1), EPIPE);
    assert_err(chsend(ch2[1], &val, sizeof(val), -1), EPIPE);
    assert_err(chdone(ch2[1]), EPIPE);
    errno_assert(hclose(ch2[0]) == 0);
    errno_assert(hclose(ch2[1]) == 0);

    /* Closing one end wakes the other end's waiters with EPIPE. */
    done = 0;
    h = go(expect_err(ch[1], CHRECV, EPIPE, &done));
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(h) == 0);
    assert(done == 1);
    errno_assert(hclose(ch[1]) == 0);

    /* chmake_mem. */
    struct chstorage mem;
    errno_assert(chmake_mem(&mem, ch) == 0);
    h = go(sender(ch[0], 3, 0));
    errno_assert(chrecv(ch[1], &val, sizeof(val), -1) == 0);
    assert(val == 3);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    assert_err(chmake_mem(NULL, ch), EINVAL);
    return 0;
}
