/* fdin, fdout, fdclean and deadline strictness. */

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "assert.h"
#include "core/core.h"

coroutine static void delayed_write(int fd, int64_t delay) {
    msleep(now() + delay);
    ssize_t n = write(fd, "x", 1);
    assert(n == 1);
}

coroutine static void wait_in(int fd, int *result) {
    int rc = fdin(fd, -1);
    *result = rc < 0 ? errno : 0;
}

coroutine static void spinner(int *count) {
    while(yield() == 0) (*count)++;
}

/* A loop that always finds work must still honour its deadline and let
   other coroutines run. */
static int busy_until(int64_t deadline, int *iterations) {
    while(1) {
        if(dill__busy(deadline) < 0) return -1;
        (*iterations)++;
    }
}

int main(void) {
    int p[2];
    errno_assert(pipe(p) == 0);
    errno_assert(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);

    /* A pipe's write end is writable at once; its read end is not. */
    errno_assert(fdout(p[1], -1) == 0);
    assert_err(fdin(p[0], 0), ETIMEDOUT);
    /* A deadline of 0 or already past still looks at the fd (fdin(3)):
       ready is success, not ETIMEDOUT. */
    errno_assert(fdout(p[1], 0) == 0);
    errno_assert(fdout(p[1], now() - 1000) == 0);
    assert_err(fdin(p[0], now() - 1000), ETIMEDOUT);
    errno_assert(write(p[1], "y", 1) == 1);
    errno_assert(fdin(p[0], 0) == 0);
    errno_assert(fdin(p[0], now() - 1) == 0);
    char y;
    assert(read(p[0], &y, 1) == 1 && y == 'y');
    assert_err(fdin(p[0], 0), ETIMEDOUT);
    int64_t start = now();
    assert_err(fdin(p[0], now() + 30), ETIMEDOUT);
    assert(now() - start >= 29);

    /* Readable after a write from another coroutine. */
    int h = go(delayed_write(p[1], 10));
    errno_assert(fdin(p[0], now() + 5000) == 0);
    char c;
    assert(read(p[0], &c, 1) == 1 && c == 'x');
    errno_assert(hclose(h) == 0);
    /* Twice in a row (the registration is kept). */
    h = go(delayed_write(p[1], 5));
    errno_assert(fdin(p[0], now() + 5000) == 0);
    assert(read(p[0], &c, 1) == 1);
    errno_assert(hclose(h) == 0);

    /* Two coroutines waiting on one fd in one direction: EBUSY. */
    int r1 = -1;
    h = go(wait_in(p[0], &r1));
    assert_err(fdin(p[0], 0), EBUSY);
    /* Cancelling the waiter. */
    errno_assert(hclose(h) == 0);
    assert(r1 == ECANCELED);
    /* fdclean wakes a waiter with EBADF. */
    h = go(wait_in(p[0], &r1));
    errno_assert(fdclean(p[0]) == 0);
    errno_assert(hclose(h) == 0);
    assert(r1 == EBADF);

    /* Invalid descriptors. */
    assert_err(fdin(-1, 0), EBADF);
    assert_err(fdout(1000000, 0), EBADF);
    int closed = dup(p[0]);
    close(closed);
    assert_err(fdin(closed, 0), EBADF);
    /* Regular files are always ready. */
    int f = open("/proc/self/stat", O_RDONLY);
    errno_assert(f >= 0);
    errno_assert(fdin(f, 0) == 0);
    fdclean(f);
    close(f);

    /* Hang-up of the other end counts as readable. */
    fdclean(p[1]);
    close(p[1]);
    errno_assert(fdin(p[0], now() + 1000) == 0);
    fdclean(p[0]);
    close(p[0]);

    /* Strict deadlines for busy loops, and fairness. */
    int spins = 0;
    h = go(spinner(&spins));
    int iterations = 0;
    start = now();
    assert(busy_until(now() + 50, &iterations) == -1 && errno == ETIMEDOUT);
    int64_t took = now() - start;
    assert(took >= 49 && took < 2000);
    assert(spins > 0);
    assert(iterations > 0);
    iterations = 0;
    assert(busy_until(0, &iterations) == -1 && errno == ETIMEDOUT);
    assert(iterations < 1000);
    errno_assert(hclose(h) == 0);
    return 0;
}
