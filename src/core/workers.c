/* Worker threads (dill extension): n threads, each with its own scheduler,
   each running fn(index, arg) as a coroutine.  The handle's hclose cancels
   those coroutines and joins the threads.

   Two tchans link the owner with the workers.  "stop": the owner holds end
   0, each worker waits on end 1; the owner's chdone wakes them all.
   "alive": each worker holds end 0 and sends one message once it is
   running; the owner holds end 1.  When the last worker closes its end,
   the owner's receive fails with EPIPE: every worker is done, and joining
   the threads cannot block for long. */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "core.h"

struct dill__workers {
    struct dill_hvfs vfs;
    void (*fn)(int index, void *arg);
    void *arg;
    struct dill_tchan *stop;
    struct dill_tchan *alive;
    int stop_h;
    int alive_h;
    int n;                         /* threads started */
    int failed;                    /* workers that could not run (atomic) */
    pthread_t *threads;
};

struct dill__worker {
    struct dill__workers *w;
    int index;
};

static const int dill__workers_type_placeholder = 0;
static const void *dill__workers_type = &dill__workers_type_placeholder;

static void *dill__workers_query(struct dill_hvfs *vfs, const void *type) {
    if(type == dill__workers_type)
        return dill__cont(vfs, struct dill__workers, vfs);
    errno = ENOTSUP;
    return NULL;
}

dill_coroutine static void dill__worker_run(void (*fn)(int index, void *arg),
      int index, void *arg) {
    fn(index, arg);
}

static void *dill__worker_main(void *p) {
    struct dill__worker *wk = p;
    struct dill__workers *w = wk->w;
    int index = wk->index;
    free(wk);
    int stop = dill_tchopen(w->stop, 1);
    int alive = dill_tchopen(w->alive, 0);
    int b = dill_bundle();
    char c = 0;
    if(stop >= 0 && alive >= 0 && b >= 0 &&
       dill_bundle_go(b, dill__worker_run(w->fn, index, w->arg)) == 0)
        dill_chsend(alive, &c, 1, -1);
    else
        /* Without its handles the worker cannot run or be stopped. */
        __atomic_add_fetch(&w->failed, 1, __ATOMIC_RELEASE);
    if(stop >= 0) dill_chrecv(stop, &c, 1, -1);
    /* Cancels fn (and through it, whatever it runs). */
    if(b >= 0) dill_hclose(b);
    if(alive >= 0) dill_hclose(alive);
    if(stop >= 0) dill_hclose(stop);
    return NULL;
}

/* Stops the n started threads and frees w.  Blocks without being
   cancellable (hclose). */
static void dill__workers_stop(struct dill__workers *w) {
    dill_chdone(w->stop_h);
    char c;
    /* Readiness messages not yet taken are consumed here too. */
    while(dill__tchrecv_nocancel(w->alive_h, &c, 1, -1) == 0) {}
    for(int i = 0; i != w->n; i++) pthread_join(w->threads[i], NULL);
    dill_hclose(w->stop_h);
    dill_hclose(w->alive_h);
    free(w->threads);
    free(w);
}

static void dill__workers_close(struct dill_hvfs *vfs) {
    dill__workers_stop(dill__cont(vfs, struct dill__workers, vfs));
}

/* Starts the threads; once they all run, releases the tchans so that the
   last worker to end is seen.  Returns 0, or -1 with what was started left
   in w->n. */
static int dill__workers_start(struct dill__workers *w, int n) {
    for(int i = 0; i != n; i++) {
        struct dill__worker *wk = malloc(sizeof(*wk));
        if(!wk) {errno = ENOMEM; return -1;}
        wk->w = w;
        wk->index = i;
        int rc = pthread_create(&w->threads[i], NULL, dill__worker_main, wk);
        if(rc != 0) {free(wk); errno = rc; return -1;}
        w->n++;
    }
    /* Each worker has opened both handles once it has sent this; one that
       failed cannot always say so on a tchan, hence the polled counter. */
    for(int ready = 0; ready != n;) {
        char c;
        if(dill_chrecv(w->alive_h, &c, 1, dill_now() + 50) == 0) ready++;
        else if(errno != ETIMEDOUT) return -1;
        if(__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE)) {
            errno = ENOMEM;
            return -1;
        }
    }
    return 0;
}

int dill_workers_start(int n, void (*fn)(int index, void *arg), void *arg) {
    int err;
    if(!fn || n < 0) {errno = EINVAL; return -1;}
    if(dill__canblock() < 0) return -1;
    if(n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (int)cpus : 1;
    }
    struct dill__workers *w = calloc(1, sizeof(*w));
    if(!w) {errno = ENOMEM; return -1;}
    w->vfs.query = dill__workers_query;
    w->vfs.close = dill__workers_close;
    w->fn = fn;
    w->arg = arg;
    w->stop_h = w->alive_h = -1;
    w->threads = calloc((size_t)n, sizeof(pthread_t));
    w->stop = dill_tchmake();
    w->alive = dill_tchmake();
    if(!w->threads || !w->stop || !w->alive) {err = ENOMEM; goto error;}
    w->stop_h = dill_tchopen(w->stop, 0);
    if(w->stop_h < 0) {err = errno; goto error;}
    w->alive_h = dill_tchopen(w->alive, 1);
    if(w->alive_h < 0) {err = errno; goto error;}
    /* On failure the workers that started still hold their handles, so the
       tchans stay alive while they are stopped. */
    int rc = dill__workers_start(w, n);
    err = errno;
    dill_tchrelease(w->stop);
    dill_tchrelease(w->alive);
    w->stop = w->alive = NULL;
    int h = rc < 0 ? -1 : dill_hmake(&w->vfs);
    if(h < 0) {
        if(rc == 0) err = errno;
        dill__workers_stop(w);
        errno = err;
        return -1;
    }
    return h;
error:
    if(w->stop_h >= 0) dill_hclose(w->stop_h);
    if(w->alive_h >= 0) dill_hclose(w->alive_h);
    if(w->stop) dill_tchrelease(w->stop);
    if(w->alive) dill_tchrelease(w->alive);
    free(w->threads);
    free(w);
    errno = err;
    return -1;
}
