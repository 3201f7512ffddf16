/* tcp_accept for the benchmark servers: out of descriptors (many idle
   connections), it waits a little and tries again; other errors are
   fatal.  Header-only. */

#ifndef DILL_BENCH_ACCEPT_H
#define DILL_BENCH_ACCEPT_H

#include <errno.h>

#include "libdill.h"
#include "clock.h"

static inline int accept_retry(int ls) {
    while(1) {
        int s = tcp_accept(ls, NULL, -1);
        if(s >= 0) return s;
        if(errno != EMFILE && errno != ENFILE) die("tcp_accept");
        msleep(now() + 10);
    }
}

#endif
