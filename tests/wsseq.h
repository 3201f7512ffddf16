/* Numbered WebSocket messages for the gathered-write tests: bursts sent
   in one turn and checked in order at the other end.  Header-only. */

#ifndef DILL_TESTS_WSSEQ_H
#define DILL_TESTS_WSSEQ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "libdill.h"

#define SEQ_MAX 2048

/* Sends messages from..from+n-1 on s: the number in text, padded with
   'x' to size bytes (0: no padding). */
__attribute__((unused)) static void seq_send(int s, int from, int n,
      size_t size) {
    char b[SEQ_MAX];
    assert(size < sizeof(b));
    for(int i = from; i != from + n; i++) {
        int len = snprintf(b, sizeof(b), "%d", i);
        if((size_t)len < size) {
            memset(b + len, 'x', size - (size_t)len);
            len = (int)size;
        }
        errno_assert(ws_send(s, WS_TEXT, b, (size_t)len, -1) == 0);
    }
}

/* Receives messages from..from+n-1 on s and checks their numbers. */
__attribute__((unused)) static void seq_expect(int s, int from, int n,
      int64_t deadline) {
    for(int i = from; i != from + n; i++) {
        char b[SEQ_MAX + 1];
        int flags;
        ssize_t r = ws_recv(s, &flags, b, sizeof(b) - 1, deadline);
        errno_assert(r > 0);
        b[r] = 0;
        assert(atoi(b) == i);
    }
}

/* A sender that goes to sleep right after its burst of n messages. */
coroutine __attribute__((unused)) static void seq_burst_then_sleep(int s,
      int n, size_t size, int64_t until) {
    seq_send(s, 0, n, size);
    msleep(until);
}

/* After the peer went away with data unread (its kernel resets): sends
   until the failure of a background write shows up, which it must within
   a few turns.  Checks the errno. */
__attribute__((unused)) static void seq_send_until_reset(int c) {
    int rc = 0;
    for(int i = 0; i != 1000 && rc == 0; i++) {
        rc = ws_send(c, 0, "x", 1, now() + 1000);
        if(rc == 0) errno_assert(msleep(now() + 5) == 0);
    }
    assert(rc < 0);
    assert(errno == ECONNRESET || errno == EPIPE);
}

#endif
