/* Coroutines, bundles, cancellation, handles. */

#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "assert.h"
#include "emu.h"
#include "libdillimpl.h"
#if DILL_VALGRIND
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

static int counter;

coroutine static void incr(int n) {
    for(int i = 0; i != n; i++) {
        counter++;
        if(yield() < 0) {assert(errno == ECANCELED); return;}
    }
}

coroutine static void sleeper(int64_t deadline, int *result) {
    int rc = msleep(deadline);
    *result = rc < 0 ? errno : 0;
}

coroutine static void forever(int *result) {
    int rc = msleep(-1);
    assert(rc == -1);
    *result = errno;
    /* Every later blocking call fails as well. */
    assert_err(msleep(now() + 1000), ECANCELED);
    assert_err(yield(), ECANCELED);
    int ch[2];
    assert(chmake(ch) < 0 && errno == ECANCELED);
}

coroutine static void waiter_bundle(int b, int *result) {
    int rc = bundle_wait(b, -1);
    *result = rc < 0 ? errno : 0;
}

coroutine static void nothing(void) {}

coroutine static void blocked_recv(int ch) {
    int v;
    int rc = chrecv(ch, &v, sizeof(v), -1);
    assert(rc == -1 && errno == ECANCELED);
}

/* A handle type of our own, through libdillimpl.h. */
static const int my_type_id = 0;
static const void *my_type = &my_type_id;
struct my_obj {struct hvfs vfs; int closed;};
static void *my_query(struct hvfs *vfs, const void *type) {
    if(type == my_type) return vfs;
    errno = ENOTSUP;
    return NULL;
}
static void my_close(struct hvfs *vfs) {
    struct my_obj *o = (struct my_obj*)vfs;
    /* Blocking inside close is not allowed. */
    assert_err(msleep(now() + 10), ECANCELED);
    o->closed = 1;
}

static volatile int keep_going = 1;
__attribute__((unused)) coroutine static void recurse_forever(int depth) {
    volatile char buf[16384];
    buf[0] = (char)depth;
    if(keep_going) recurse_forever(depth + 1);
    (void)buf[0];
}

int main(void) {
    /* go, yield order and hclose of a finished coroutine. */
    counter = 0;
    int h1 = go(incr(3));
    errno_assert(h1 >= 0);
    int h2 = go(incr(3));
    errno_assert(h2 >= 0);
    for(int i = 0; i != 10; i++) errno_assert(yield() == 0);
    assert(counter == 6);
    errno_assert(hclose(h1) == 0);
    errno_assert(hclose(h2) == 0);
    assert_err(hclose(h1), EBADF);

    /* Cancelling a sleeping coroutine. */
    int result = -1;
    int h = go(forever(&result));
    errno_assert(h >= 0);
    errno_assert(hclose(h) == 0);
    assert(result == ECANCELED);

    /* msleep with deadlines in the past, 0 and future. */
    errno_assert(msleep(0) == 0);
    errno_assert(msleep(now() - 100) == 0);
    int64_t start = now();
    errno_assert(msleep(now() + 50) == 0);
    int64_t elapsed = now() - start;
    assert(elapsed >= 49 && elapsed < 1000);
    /* Woken at a deadline, now() has reached it, whether the deadline
       fired from the poll or from the ready queue's timer check. */
    for(int i = 0; i != 100; ++i) {
        int64_t d = now() + 1 + i % 3;
        errno_assert(msleep(d) == 0);
        assert(now() >= d);
    }
    result = -1;
    h = go(sleeper(now() + 20, &result));
    errno_assert(hclose(h) == 0); /* cancels before it wakes */
    assert(result == ECANCELED);

    /* go_mem on caller memory, and a too small buffer. */
    static char stk[64 * 1024] __attribute__((aligned(16)));
    counter = 0;
    h = go_mem(incr(2), stk, sizeof(stk));
    errno_assert(h >= 0);
    errno_assert(bundle_wait(h, now() + 1000) == 0);
    assert(counter == 2);
    errno_assert(hclose(h) == 0);
    char tiny[16];
    assert_err(go_mem(nothing(), tiny, sizeof(tiny)), EINVAL);

    /* Bundles: bundle_go, bundle_wait with deadlines, hclose cancels. */
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_wait(b, 0) == 0); /* empty: at once */
    counter = 0;
    errno_assert(bundle_go(b, incr(5)) == 0);
    errno_assert(bundle_go(b, incr(5)) == 0);
    errno_assert(bundle_wait(b, now() + 1000) == 0);
    assert(counter == 10);
    int r1 = -1, r2 = -1;
    errno_assert(bundle_go(b, sleeper(-1, &r1)) == 0);
    errno_assert(bundle_go(b, sleeper(-1, &r2)) == 0);
    assert_err(bundle_wait(b, 0), ETIMEDOUT);
    assert_err(bundle_wait(b, now() + 20), ETIMEDOUT);
    errno_assert(hclose(b) == 0);
    assert(r1 == ECANCELED && r2 == ECANCELED);

    /* bundle_mem, bundle_go_mem. */
    struct bundle_storage bs;
    b = bundle_mem(&bs);
    errno_assert(b >= 0);
    counter = 0;
    errno_assert(bundle_go_mem(b, incr(4), stk, sizeof(stk)) == 0);
    errno_assert(bundle_wait(b, -1) == 0);
    assert(counter == 4);
    errno_assert(hclose(b) == 0);

    /* A coroutine blocked in bundle_wait is cancelled too. */
    b = bundle();
    errno_assert(bundle_go(b, sleeper(-1, &r1)) == 0);
    result = -1;
    h = go(waiter_bundle(b, &result));
    errno_assert(hclose(h) == 0);
    assert(result == ECANCELED);
    errno_assert(hclose(b) == 0);

    /* Wrong handles. */
    assert_err(bundle_wait(12345, 0), EBADF);
    assert_err(bundle_wait(-1, 0), EBADF);
    int ch[2];
    errno_assert(chmake(ch) == 0);
    assert_err(bundle_wait(ch[0], 0), ENOTSUP);
    assert_err(bundle_go(ch[0], nothing()), ENOTSUP);
    assert_err(bundle_go(777, nothing()), EBADF);
    h = go(blocked_recv(ch[1]));
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);

    /* hown gives a new number; the old one is gone. */
    h = go(nothing());
    int h3 = hown(h);
    errno_assert(h3 >= 0 && h3 != h);
    assert_err(hclose(h), EBADF);
    errno_assert(hclose(h3) == 0);
    assert_err(hown(4242), EBADF);

    /* hmake / hquery with a custom type. */
    struct my_obj o = {{my_query, my_close}, 0};
    int mh = hmake(&o.vfs);
    errno_assert(mh >= 0);
    assert(hquery(mh, my_type) == &o);
    assert(hquery(mh, my_type) == &o); /* cached */
    assert(hquery(mh, &counter) == NULL && errno == ENOTSUP);
    errno_assert(hclose(mh) == 0);
    assert(o.closed);
    assert(hquery(mh, my_type) == NULL && errno == EBADF);
    struct hvfs bad = {NULL, my_close};
    assert_err(hmake(&bad), EINVAL);
    assert_err(hmake(NULL), EINVAL);

    /* 100,000 coroutines alive at once, all blocked, then cancelled (fewer
       under valgrind, which keeps shadow state for every stack, and on
       32-bit targets, whose 4 GiB address space holds some 30,000 of
       their 128 KiB stacks: 5,000 there, 660 MiB). */
    int many = bundle();
    errno_assert(many >= 0);
    int sleeping = 0;
    int nmany = RUNNING_ON_VALGRIND ? 2000 : sizeof(void*) < 8 ? 5000 : 100000;
    const char *emu = emu_name();
    if(emu && nmany > 5000) {
        /* qemu-user keeps flags for every guest page it maps: 100,000
           stacks (26 GiB of mappings) take it 20 s and measure that
           bookkeeping, not ours. */
        fprintf(stderr, "cr: under %s: 5,000 coroutines at once, not "
            "100,000 (the emulator's page bookkeeping would dominate)\n", emu);
        nmany = 5000;
    }
    for(int i = 0; i != nmany; i++) {
        int rc = bundle_go(many, sleeper(-1, &sleeping));
        errno_assert(rc == 0);
    }
    errno_assert(hclose(many) == 0);
    assert(sleeping == ECANCELED);

#if !defined(__SANITIZE_ADDRESS__)
    /* A stack overflow hits the guard page (in a child process).  Not under
       ASan, whose report of a deep overflow takes a minute to symbolize. */
    if(RUNNING_ON_VALGRIND) return 0;
    pid_t pid = fork();
    errno_assert(pid >= 0);
    if(pid == 0) {
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl);
        int oh = go(recurse_forever(0));
        hclose(oh);
        _exit(0);
    }
    int status;
    errno_assert(waitpid(pid, &status, 0) == pid);
    assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
#endif
    return 0;
}
