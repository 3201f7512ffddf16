/* Timers: a binary min-heap of deadlines, one per thread. */

#include <errno.h>
#include <stdlib.h>

#include "core.h"

static __thread struct dill__timer **dill__heap
    __attribute__((tls_model("initial-exec")));
static __thread size_t dill__heap_n __attribute__((tls_model("initial-exec")));
static __thread size_t dill__heap_cap
    __attribute__((tls_model("initial-exec")));

/* Heap positions are 1-based so that idx 0 means "not in the heap". */
static inline void dill__heap_set(size_t i, struct dill__timer *t) {
    dill__heap[i] = t;
    t->idx = i;
}

static void dill__heap_up(size_t i) {
    struct dill__timer *t = dill__heap[i];
    while(i > 1) {
        struct dill__timer *p = dill__heap[i / 2];
        if(p->deadline <= t->deadline) break;
        dill__heap_set(i, p);
        i /= 2;
    }
    dill__heap_set(i, t);
}

static void dill__heap_down(size_t i) {
    struct dill__timer *t = dill__heap[i];
    while(1) {
        size_t c = i * 2;
        if(c > dill__heap_n) break;
        if(c + 1 <= dill__heap_n &&
              dill__heap[c + 1]->deadline < dill__heap[c]->deadline)
            c++;
        if(dill__heap[c]->deadline >= t->deadline) break;
        dill__heap_set(i, dill__heap[c]);
        i = c;
    }
    dill__heap_set(i, t);
}

static void dill__timer_remove(struct dill__timer *t) {
    size_t i = t->idx;
    if(!i) return;
    t->idx = 0;
    struct dill__timer *last = dill__heap[dill__heap_n--];
    if(last == t) return;
    dill__heap_set(i, last);
    if(i > 1 && dill__heap[i / 2]->deadline > last->deadline) dill__heap_up(i);
    else dill__heap_down(i);
}

static void dill__timer_cancel(struct dill__clause *cl) {
    dill__timer_remove(dill__cont(cl, struct dill__timer, cl));
}

void dill__timer_move(struct dill__clause *cl, const struct dill__move *m) {
    struct dill__timer *t = dill__cont(cl, struct dill__timer, cl);
    if(dill__move_keeping(m)) {dill__move_keep(m, t, sizeof(*t)); return;}
    if(t->idx) dill__heap[t->idx] = t;
}

void dill__timer_add(struct dill__timer *t, int64_t deadline, int id) {
    if(dill__slow(dill__heap_n + 1 >= dill__heap_cap)) {
        size_t cap = dill__heap_cap ? dill__heap_cap * 2 : 64;
        struct dill__timer **h = realloc(dill__heap, cap * sizeof(*h));
        /* Out of memory for the heap: the wait goes on without a deadline
           rather than corrupting memory. */
        if(!h) return;
        dill__heap = h;
        dill__heap_cap = cap;
    }
    t->deadline = deadline;
    dill__heap[++dill__heap_n] = t;
    dill__heap_up(dill__heap_n);
    dill__waitfor(&t->cl, id, dill__timer_cancel);
    t->cl.move = dill__timer_move;
}

int64_t dill__timer_next(void) {
    return dill__heap_n ? dill__heap[1]->deadline : -1;
}

int dill__timer_fire(int64_t now) {
    int n = 0;
    while(dill__heap_n && dill__heap[1]->deadline <= now) {
        struct dill__timer *t = dill__heap[1];
        dill__timer_remove(t);
        dill__trigger(&t->cl, ETIMEDOUT);
        n++;
    }
    return n;
}

void dill__timer_term(void) {
    free(dill__heap);
    dill__heap = NULL;
    dill__heap_n = 0;
    dill__heap_cap = 0;
}
