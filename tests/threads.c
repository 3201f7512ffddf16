/* Each thread runs its own scheduler. */

#include <pthread.h>
#include <stdint.h>

#include "assert.h"
#include "libdill.h"

coroutine static void pinger(int ch, int n) {
    for(int i = 0; i != n; i++) {
        int rc = chsend(ch, &i, sizeof(i), -1);
        errno_assert(rc == 0);
    }
}

coroutine static void napper(void) {
    msleep(now() + 5);
}

static void *thread_main(void *arg) {
    int ch[2];
    errno_assert(chmake(ch) == 0);
    int h = go(pinger(ch[0], 1000));
    errno_assert(h >= 0);
    int b = bundle();
    for(int i = 0; i != 100; i++) errno_assert(bundle_go(b, napper()) == 0);
    for(int i = 0; i != 1000; i++) {
        int v;
        errno_assert(chrecv(ch[1], &v, sizeof(v), -1) == 0);
        assert(v == i);
    }
    errno_assert(bundle_wait(b, now() + 5000) == 0);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(h) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    *(int*)arg = 1;
    return NULL;
}

int main(void) {
    enum {N = 8};
    pthread_t t[N];
    int ok[N] = {0};
    for(int i = 0; i != N; i++)
        errno_assert(pthread_create(&t[i], NULL, thread_main, &ok[i]) == 0);
    /* The main thread runs coroutines at the same time. */
    int dummy = 0;
    thread_main(&dummy);
    for(int i = 0; i != N; i++) {
        errno_assert(pthread_join(t[i], NULL) == 0);
        assert(ok[i]);
    }
    assert(dummy);
    return 0;
}
