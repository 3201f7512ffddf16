/* Publish/subscribe hub for WebSocket broadcast (dill extension).

   A hub is shared by threads and guarded by one mutex.  A message is
   copied once into a refcounted block that also holds its frame header,
   built once; every subscriber's queue points at that block.  Each
   subscriber (hub_join) has a writer coroutine in the subscriber's own
   thread that sends from its queue, so a slow connection blocks only its
   writer; the publisher only queues and wakes writers (through their
   thread's scheduler, see struct dill__tsig).  Queues are bounded in frame
   bytes; what happens when one is full is the hub's policy.

   Subscribers whose connections compress every message from a fresh
   stream (permessage-deflate without the server's context takeover) share
   one compressed copy per window size, made by the first writer that
   needs it and kept with the message.

   A thread that exits with subscribers open has them closed by a
   thread-exit hook, as hclose would: nothing in the hub keeps pointing at
   the dead thread's stacks or scheduler, and the hub can be freed. */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "proto/hub.h"
#include "proto/hubredis.h"
#include "proto/ws.h"
#include "proto/wsframe.h"
#include "util/opts.h"
#include "util/utf8.h"

struct dill_hub {
    pthread_mutex_t lock;
    struct dill__list topics;      /* dill__topic */
    struct dill__list room;        /* dill__roomwait: publishers (WAIT) */
    size_t max_queue;
    int policy;
    void (*dropped)(int ws, void *arg);
    void *dropped_arg;
    int64_t send_timeout;
    int close_code;                /* for subscribers too slow */
    int subs;                      /* joined subscribers */
    int ntopics;
    struct dill__hubr *redis;      /* or NULL */
};

struct dill__topic {
    struct dill__list item;
    struct dill__list members;     /* dill__member.titem */
    char name[];
};

/* A message compressed once, for window bits 8 + its index in
   dill__hmsg.zv. */
struct dill__hzv {
    size_t hl, len;
    uint8_t hdr[DILL__WS_HDR_MAX];
    uint8_t data[];
};

struct dill__hmsg {
    int refs;                      /* atomic */
    int text;
    size_t len;
    size_t hl;
    struct dill__hzv *zv[8];       /* atomic; dill__hzv_plain: no gain */
    uint8_t hdr[DILL__WS_HDR_MAX];
    uint8_t data[];
};

/* Marks a message that does not shrink: it goes out plain. */
static struct dill__hzv dill__hzv_plain;
/* Compressed copies made, for tests (atomic). */
static size_t dill__hub_nz;

struct dill__sub {
    struct dill_hvfs vfs;
    struct dill_hub *hub;
    int ws;
    int writer;                    /* coroutine handle */
    int refs;                      /* handle + waiting publishers (lock) */
    int dead;                      /* gone from every topic (lock) */
    int closecode;                 /* policy close to send (lock) */
    struct dill__tsig sig;         /* wakes the writer */
    int zon;                       /* shares compressed copies (zdef) */
    size_t zthr;                   /* smaller messages go plain */
    struct dill__wsz_def zdef;     /* settings of the connection's own */
    struct dill__list members;     /* dill__member.sitem */
    struct dill__list thitem;      /* in dill__hub_thread.subs */
    struct dill__hmsg **q;         /* ring (lock) */
    size_t qcap, qhead, qcount, qbytes;
};

struct dill__member {
    struct dill__list titem;
    struct dill__list sitem;
    struct dill__topic *t;
    struct dill__sub *s;
};

struct dill__roomwait {
    struct dill__list item;
    struct dill__tsig *sig;
};

/* The calling thread's open subscribers, for its exit. */
struct dill__hub_thread {
    struct dill__texit exit;
    struct dill__list subs;        /* dill__sub.thitem */
    int on;
};
static __thread struct dill__hub_thread dill__ht;

static const int dill__sub_type_placeholder = 0;
static const void *dill__sub_type = &dill__sub_type_placeholder;

static void dill__hmsg_unref(struct dill__hmsg *m) {
    if(__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL)) return;
    for(int i = 0; i != 8; i++)
        if(m->zv[i] != &dill__hzv_plain) free(m->zv[i]);
    free(m);
}

/* Compresses m whole from a fresh stream with cfg's settings: the copy,
   &dill__hzv_plain when it would not be smaller, NULL without memory. */
static struct dill__hzv *dill__hzv_make(const struct dill__hmsg *m,
      const struct dill__wsz_def *cfg) {
    struct dill__wsz_def d = *cfg;
    d.hint = m->len;
    struct dill__hzv *v = malloc(sizeof(*v) + m->len);
    if(!v) return NULL;
    if(dill__wsz_def_input(&d, m->data, m->len, DILL__WSZ_FIN) < 0) {
        dill__wsz_def_free(&d);
        free(v);
        return NULL;
    }
    size_t fill = 0;
    int more = 1;
    while(more && m->len - fill >= 16)
        fill += dill__wsz_def_output(&d, v->data + fill, m->len - fill, &more);
    if(more) dill__wsz_def_abort(&d);
    dill__wsz_def_free(&d);
    if(more || fill >= m->len) {free(v); return &dill__hzv_plain;}
    v->len = fill;
    v->hl = dill__ws_build_header(v->hdr, 1,
        m->text ? DILL__WS_TEXT : DILL__WS_BINARY, DILL__WS_RSV1, NULL, fill);
    return v;
}

/* m's copy compressed for cfg's window size, made on first use.  Writers
   of two threads may both compress it; one copy is kept. */
static const struct dill__hzv *dill__hzv_get(struct dill__hmsg *m,
      const struct dill__wsz_def *cfg) {
    struct dill__hzv **slot = &m->zv[cfg->bits - 8];
    struct dill__hzv *v = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if(v) return v;
    v = dill__hzv_make(m, cfg);
    if(!v) return &dill__hzv_plain;
    struct dill__hzv *had = NULL;
    if(!__atomic_compare_exchange_n(slot, &had, v, 0, __ATOMIC_ACQ_REL,
          __ATOMIC_ACQUIRE)) {
        if(v != &dill__hzv_plain) free(v);
        return had;
    }
    __atomic_add_fetch(&dill__hub_nz, 1, __ATOMIC_RELAXED);
    return v;
}

static size_t dill__hmsg_size(const struct dill__hmsg *m) {
    return m->hl + m->len;
}

struct dill_hub *dill_hub_make(const struct dill_hub_options *opts) {
    struct dill_hub_options o;
    if(dill__opts_load(&o, sizeof(o), opts) < 0) return NULL;
    if(o.policy < DILL_HUB_DROP_OLDEST || o.policy > DILL_HUB_WAIT ||
       (o.close_code && o.close_code != 1008 && o.close_code != 1013)) {
        errno = EINVAL;
        return NULL;
    }
    struct dill_hub *h = malloc(sizeof(*h));
    if(!h) {errno = ENOMEM; return NULL;}
    pthread_mutex_init(&h->lock, NULL);
    dill__list_init(&h->topics);
    dill__list_init(&h->room);
    h->max_queue = o.max_queue ? o.max_queue : 1024 * 1024;
    h->policy = o.policy;
    h->dropped = o.dropped;
    h->dropped_arg = o.dropped_arg;
    h->send_timeout = o.send_timeout > 0 ? o.send_timeout : 0;
    h->close_code = o.close_code ? o.close_code : 1008;
    h->subs = 0;
    h->ntopics = 0;
    h->redis = NULL;
    if(o.redis) {
        h->redis = dill__hubr_start(h, &o);
        if(!h->redis) {
            int err = errno;
            pthread_mutex_destroy(&h->lock);
            free(h);
            errno = err;
            return NULL;
        }
    }
    return h;
}

int dill_hub_free(struct dill_hub *h) {
    if(!h) {errno = EINVAL; return -1;}
    pthread_mutex_lock(&h->lock);
    int busy = h->subs != 0;
    pthread_mutex_unlock(&h->lock);
    if(busy) {errno = EBUSY; return -1;}
    if(h->redis) dill__hubr_stop(h->redis);
    while(!dill__list_empty(&h->topics)) {
        struct dill__topic *t = dill__cont(h->topics.next,
            struct dill__topic, item);
        dill__list_erase(&t->item);
        free(t);
    }
    pthread_mutex_destroy(&h->lock);
    free(h);
    return 0;
}

/* Under the lock. */
static struct dill__topic *dill__topic_find(struct dill_hub *h,
      const char *name) {
    for(struct dill__list *it = h->topics.next; it != &h->topics;
          it = it->next) {
        struct dill__topic *t = dill__cont(it, struct dill__topic, item);
        if(strcmp(t->name, name) == 0) return t;
    }
    return NULL;
}

/* Under the lock: publishers waiting for room try again. */
static void dill__room_wake(struct dill_hub *h) {
    while(!dill__list_empty(&h->room)) {
        struct dill__roomwait *r = dill__cont(h->room.next,
            struct dill__roomwait, item);
        dill__list_erase(&r->item);
        dill__tsig_post(r->sig);
    }
}

/* Under the lock: t, empty, goes. */
static void dill__topic_free(struct dill_hub *h, struct dill__topic *t) {
    dill__list_erase(&t->item);
    free(t);
    h->ntopics--;
    if(h->redis) dill__hubr_topics(h->redis);
}

/* Under the lock: m leaves its topic, which goes when it is empty. */
static void dill__member_free(struct dill__member *m) {
    dill__list_erase(&m->sitem);
    dill__list_erase(&m->titem);
    if(dill__list_empty(&m->t->members)) dill__topic_free(m->s->hub, m->t);
    free(m);
}

/* Under the lock: the subscriber leaves every topic and its queue. */
static void dill__sub_kill(struct dill__sub *s) {
    if(s->dead) return;
    s->dead = 1;
    while(!dill__list_empty(&s->members)) {
        dill__member_free(dill__cont(s->members.next, struct dill__member,
            sitem));
    }
    while(s->qcount) {
        dill__hmsg_unref(s->q[s->qhead]);
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qcount--;
    }
    s->qbytes = 0;
    dill__room_wake(s->hub);
}

/* Under the lock. */
static void dill__sub_unref(struct dill__sub *s) {
    if(--s->refs) return;
    free(s->q);
    free(s);
}

static struct dill__hmsg *dill__sub_pop(struct dill__sub *s) {
    struct dill__hmsg *m = s->q[s->qhead];
    s->qhead = (s->qhead + 1) % s->qcap;
    s->qcount--;
    s->qbytes -= dill__hmsg_size(m);
    return m;
}

/* Under the lock: appends m.  Returns 0, or -1 with ENOMEM. */
static int dill__sub_push(struct dill__sub *s, struct dill__hmsg *m) {
    if(s->qcount == s->qcap) {
        size_t cap = s->qcap ? s->qcap * 2 : 16;
        struct dill__hmsg **q = malloc(cap * sizeof(*q));
        if(!q) return -1;
        for(size_t i = 0; i != s->qcount; i++)
            q[i] = s->q[(s->qhead + i) % s->qcap];
        free(s->q);
        s->q = q;
        s->qcap = cap;
        s->qhead = 0;
    }
    s->q[(s->qhead + s->qcount) % s->qcap] = m;
    int wasempty = s->qcount++ == 0;
    s->qbytes += dill__hmsg_size(m);
    __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
    /* The writer drains its queue before it waits. */
    if(wasempty) dill__tsig_post(&s->sig);
    return 0;
}

/* Under the lock: offers m to s according to the policy.  Returns 0 when
   done, 1 when s must be waited for (WAIT policy, no room), 2 when s must
   be dropped (closecode set; the caller kills it, after walking its list
   of members). */
static int dill__offer(struct dill_hub *h, struct dill__sub *s,
      struct dill__hmsg *m) {
    if(s->dead) return 0;
    size_t need = dill__hmsg_size(m);
    if(s->qbytes + need > h->max_queue) {
        switch(h->policy) {
        case DILL_HUB_DROP_OLDEST:
            while(s->qcount && s->qbytes + need > h->max_queue)
                dill__hmsg_unref(dill__sub_pop(s));
            break;
        case DILL_HUB_WAIT:
            return 1;
        default:
            /* Too slow: closed, so that it stops holding memory. */
            s->closecode = h->close_code;
            return 2;
        }
    }
    if(dill__sub_push(s, m) < 0) {
        s->closecode = 1011;
        return 2;
    }
    return 0;
}

/* Under the lock: drops s after dill__offer said so. */
static void dill__sub_drop(struct dill__sub *s) {
    dill__sub_kill(s);
    dill__tsig_post(&s->sig);
}

/* Messages a writer takes out of its queue per lock. */
#define DILL__HUB_BATCH 64

/* Sends batch[0..n) in order; unrefs them all.  Returns 0 or -1. */
static int dill__sub_send(struct dill__sub *s, struct dill__hmsg **batch,
      size_t n) {
    struct dill__ws_built f[DILL__HUB_BATCH];
    for(size_t i = 0; i != n; i++) {
        struct dill__hmsg *m = batch[i];
        const struct dill__hzv *v = &dill__hzv_plain;
        if(s->zon && m->len >= s->zthr &&
           dill__wsz_def_can(&s->zdef, m->len, 1))
            v = dill__hzv_get(m, &s->zdef);
        if(v != &dill__hzv_plain)
            f[i] = (struct dill__ws_built){m->text, v->hdr, v->hl, v->data,
                v->len};
        else
            f[i] = (struct dill__ws_built){m->text, m->hdr, m->hl, m->data,
                m->len};
    }
    int64_t t = s->hub->send_timeout;
    int rc = dill__ws_send_built(s->ws, f, n, t ? dill_now() + t : -1);
    for(size_t i = 0; i != n; i++) dill__hmsg_unref(batch[i]);
    return rc;
}

dill_coroutine static void dill__sub_writer(struct dill__sub *s) {
    struct dill_hub *h = s->hub;
    struct dill__hmsg *batch[DILL__HUB_BATCH];
    while(1) {
        pthread_mutex_lock(&h->lock);
        if(s->dead || !s->qcount) {
            int code = s->dead ? s->closecode : 0;
            int dead = s->dead;
            pthread_mutex_unlock(&h->lock);
            if(dead) {
                /* The Close goes after what the connection holds already;
                   hclose of the subscriber cancels the wait. */
                if(code) dill_ws_done(s->ws, code, "too slow", 8, -1);
                return;
            }
            if(dill__tsig_wait(&s->sig, -1) < 0) return;
            continue;
        }
        size_t n = 0;
        while(n != DILL__HUB_BATCH && s->qcount) batch[n++] = dill__sub_pop(s);
        if(h->policy == DILL_HUB_WAIT) dill__room_wake(h);
        pthread_mutex_unlock(&h->lock);
        if(dill__sub_send(s, batch, n) < 0) {
            /* The connection failed, stalled or was cancelled: leave every
               topic.  A stall is a drop (what it holds may never go). */
            int stalled = errno == ETIMEDOUT;
            pthread_mutex_lock(&h->lock);
            dill__sub_kill(s);
            pthread_mutex_unlock(&h->lock);
            if(stalled && h->dropped) h->dropped(s->ws, h->dropped_arg);
            if(stalled) dill_ws_done(s->ws, h->close_code, "too slow", 8, 0);
            return;
        }
    }
}

static void *dill__sub_query(struct dill_hvfs *vfs, const void *type) {
    if(type == dill__sub_type) return dill__cont(vfs, struct dill__sub, vfs);
    errno = ENOTSUP;
    return NULL;
}

static void dill__sub_close(struct dill_hvfs *vfs) {
    struct dill__sub *s = dill__cont(vfs, struct dill__sub, vfs);
    struct dill_hub *h = s->hub;
    dill__list_erase(&s->thitem);
    pthread_mutex_lock(&h->lock);
    dill__sub_kill(s);
    s->closecode = 0;
    pthread_mutex_unlock(&h->lock);
    dill_hclose(s->writer);
    dill__tsig_term(&s->sig);
    pthread_mutex_lock(&h->lock);
    h->subs--;
    dill__sub_unref(s);
    pthread_mutex_unlock(&h->lock);
}

/* Thread exit: its handles are about to be forgotten, not closed. */
static void dill__hub_thread_exit(struct dill__texit *e) {
    struct dill__hub_thread *t = dill__cont(e, struct dill__hub_thread, exit);
    dill__noblock(1);
    while(!dill__list_empty(&t->subs)) {
        struct dill__sub *s = dill__cont(t->subs.next, struct dill__sub,
            thitem);
        dill__sub_close(&s->vfs);
    }
    dill__noblock(0);
    t->on = 0;
}

static void dill__hub_thread_add(struct dill__sub *s) {
    struct dill__hub_thread *t = &dill__ht;
    if(!t->on) {
        dill__list_init(&t->subs);
        dill__list_init(&t->exit.item);
        t->exit.run = dill__hub_thread_exit;
        dill__texit_add(&t->exit);
        t->on = 1;
    }
    dill__list_push(&t->subs, &s->thitem);
}

int dill_hub_join(struct dill_hub *h, int ws) {
    int err;
    if(!h) {errno = EINVAL; return -1;}
    if(!dill_hquery(ws, dill__ws_type)) return -1;
    struct dill__sub *s = calloc(1, sizeof(*s));
    if(!s) {errno = ENOMEM; return -1;}
    s->zon = dill__ws_zshared(ws, &s->zdef, &s->zthr) == 1;
    s->vfs.query = dill__sub_query;
    s->vfs.close = dill__sub_close;
    s->hub = h;
    s->ws = ws;
    s->refs = 1;
    dill__list_init(&s->members);
    if(dill__tsig_init(&s->sig) < 0) {err = errno; goto error1;}
    s->writer = dill_go(dill__sub_writer(s));
    if(s->writer < 0) {err = errno; goto error2;}
    int hd = dill_hmake(&s->vfs);
    if(hd < 0) {err = errno; goto error3;}
    pthread_mutex_lock(&h->lock);
    h->subs++;
    pthread_mutex_unlock(&h->lock);
    dill__hub_thread_add(s);
    return hd;
error3:
    dill_hclose(s->writer);
error2:
    dill__tsig_term(&s->sig);
error1:
    free(s);
    errno = err;
    return -1;
}

static struct dill__sub *dill__sub_get(int sub, const char *topic) {
    struct dill__sub *s = dill_hquery(sub, dill__sub_type);
    if(s && !topic) {errno = EINVAL; return NULL;}
    return s;
}

int dill_hub_subscribe(int sub, const char *topic) {
    struct dill__sub *s = dill__sub_get(sub, topic);
    if(!s) return -1;
    struct dill_hub *h = s->hub;
    size_t tl = strlen(topic);
    struct dill__member *m = malloc(sizeof(*m));
    struct dill__topic *nt = malloc(sizeof(*nt) + tl + 1);
    if(!m || !nt) {free(m); free(nt); errno = ENOMEM; return -1;}
    int err = 0;
    pthread_mutex_lock(&h->lock);
    struct dill__topic *t = dill__topic_find(h, topic);
    if(!t) {
        t = nt;
        nt = NULL;
        memcpy(t->name, topic, tl + 1);
        dill__list_init(&t->members);
        dill__list_push(&h->topics, &t->item);
        h->ntopics++;
        if(h->redis) dill__hubr_topics(h->redis);
    }
    for(struct dill__list *it = s->members.next; it != &s->members;
          it = it->next)
        if(dill__cont(it, struct dill__member, sitem)->t == t) err = EEXIST;
    if(s->dead) err = EPIPE;
    if(!err) {
        m->t = t;
        m->s = s;
        dill__list_push(&t->members, &m->titem);
        dill__list_push(&s->members, &m->sitem);
        m = NULL;
    }
    else if(dill__list_empty(&t->members)) dill__topic_free(h, t);
    pthread_mutex_unlock(&h->lock);
    free(m);
    free(nt);
    if(err) {errno = err; return -1;}
    return 0;
}

int dill_hub_unsubscribe(int sub, const char *topic) {
    struct dill__sub *s = dill__sub_get(sub, topic);
    if(!s) return -1;
    struct dill_hub *h = s->hub;
    int found = 0;
    pthread_mutex_lock(&h->lock);
    for(struct dill__list *it = s->members.next; it != &s->members;
          it = it->next) {
        struct dill__member *m = dill__cont(it, struct dill__member, sitem);
        if(strcmp(m->t->name, topic) == 0) {
            dill__member_free(m);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
    if(!found) {errno = ENOENT; return -1;}
    return 0;
}

static struct dill__hmsg *dill__hmsg_make(int flags, const void *buf,
      size_t len) {
    struct dill__hmsg *m = malloc(sizeof(*m) + len);
    if(!m) {errno = ENOMEM; return NULL;}
    m->refs = 1;
    memset(m->zv, 0, sizeof(m->zv));
    m->text = flags & DILL_WS_TEXT;
    m->len = len;
    m->hl = dill__ws_build_header(m->hdr, 1,
        m->text ? DILL__WS_TEXT : DILL__WS_BINARY, 0, NULL, len);
    if(len) memcpy(m->data, buf, len);
    return m;
}

/* Appends s to the array *v of *n (with a reference).  Returns -1 on
   ENOMEM. */
static int dill__subv_add(struct dill__sub ***v, size_t *n,
      struct dill__sub *s) {
    if((*n & (*n - 1)) == 0) {
        struct dill__sub **w = realloc(*v, (*n ? *n * 2 : 8) * sizeof(*w));
        if(!w) {errno = ENOMEM; return -1;}
        *v = w;
    }
    s->refs++;
    (*v)[(*n)++] = s;
    return 0;
}

/* Under the lock: offers m to every member of t; the subscribers that need
   waiting for (WAIT policy) are collected in *wait (n of them), with a
   reference each.  Returns -1 with ENOMEM. */
static int dill__fanout(struct dill_hub *h, struct dill__topic *t,
      struct dill__hmsg *m, struct dill__sub ***wait, size_t *n,
      struct dill__sub ***dropv, size_t *ndropv) {
    struct dill__sub **drop = NULL;
    size_t ndrop = 0;
    int rc = 0;
    for(struct dill__list *it = t->members.next; it != &t->members;
          it = it->next) {
        struct dill__sub *s = dill__cont(it, struct dill__member, titem)->s;
        int r = dill__offer(h, s, m);
        if(r == 1) rc = dill__subv_add(wait, n, s);
        else if(r == 2) rc = dill__subv_add(&drop, &ndrop, s);
        if(rc < 0) break;
    }
    /* Dropping unlinks members (and maybe t): only after the walk.  The
       references are kept for the callbacks, made after the unlock. */
    for(size_t i = 0; i != ndrop; i++) dill__sub_drop(drop[i]);
    *dropv = drop;
    *ndropv = ndrop;
    return rc;
}

/* WAIT policy: gives m to the subscribers in w as they get room, until the
   deadline.  Called and returns with the lock held. */
static int dill__wait_room(struct dill_hub *h, struct dill__hmsg *m,
      struct dill__sub **w, size_t n, int64_t deadline) {
    struct dill__tsig sig;
    if(dill__tsig_init(&sig) < 0) return -1;
    int rc = 0;
    while(1) {
        size_t left = 0;
        for(size_t i = 0; i != n; i++) {
            if(!w[i]) continue;
            int r = w[i]->dead ? 0 : dill__offer(h, w[i], m);
            if(r == 1) {left++; continue;}
            if(r == 2) dill__sub_drop(w[i]);
            dill__sub_unref(w[i]);
            w[i] = NULL;
        }
        if(!left) break;
        struct dill__roomwait r = {.sig = &sig};
        dill__list_push(&h->room, &r.item);
        pthread_mutex_unlock(&h->lock);
        rc = dill__tsig_wait(&sig, deadline);
        int err = errno;
        pthread_mutex_lock(&h->lock);
        dill__list_erase(&r.item);
        if(rc < 0) {errno = err; break;}
    }
    for(size_t i = 0; i != n; i++) if(w[i]) dill__sub_unref(w[i]);
    dill__tsig_term(&sig);
    return rc;
}

/* Tells the application about the subscribers dropped (lock not held),
   then lets them go. */
static void dill__dropped(struct dill_hub *h, struct dill__sub **drop,
      size_t n) {
    for(size_t i = 0; i != n && h->dropped; i++)
        h->dropped(drop[i]->ws, h->dropped_arg);
    if(n) {
        pthread_mutex_lock(&h->lock);
        for(size_t i = 0; i != n; i++) dill__sub_unref(drop[i]);
        pthread_mutex_unlock(&h->lock);
    }
    free(drop);
}

int dill__hub_local(struct dill_hub *h, const char *topic, int flags,
      const void *buf, size_t len, int64_t deadline) {
    if(!h || !topic || (!buf && len) || (flags & ~DILL_WS_TEXT)) {
        errno = EINVAL;
        return -1;
    }
    if(dill__canblock() < 0) return -1;
    if((flags & DILL_WS_TEXT) && !dill__utf8_valid(buf, len)) {
        errno = EINVAL;
        return -1;
    }
    if(len + DILL__WS_HDR_MAX > h->max_queue) {errno = EMSGSIZE; return -1;}
    struct dill__hmsg *m = dill__hmsg_make(flags, buf, len);
    if(!m) return -1;
    struct dill__sub **wait = NULL, **drop = NULL;
    size_t n = 0, ndrop = 0;
    int rc = 0, err = 0;
    pthread_mutex_lock(&h->lock);
    struct dill__topic *t = dill__topic_find(h, topic);
    if(t) rc = dill__fanout(h, t, m, &wait, &n, &drop, &ndrop);
    if(rc == 0 && n) rc = dill__wait_room(h, m, wait, n, deadline);
    else for(size_t i = 0; i != n; i++) dill__sub_unref(wait[i]);
    err = errno;
    pthread_mutex_unlock(&h->lock);
    free(wait);
    dill__dropped(h, drop, ndrop);
    dill__hmsg_unref(m);
    if(rc < 0) {errno = err; return -1;}
    return 0;
}

int dill_hub_publish(struct dill_hub *h, const char *topic, int flags,
      const void *buf, size_t len, int64_t deadline) {
    int rc = dill__hub_local(h, topic, flags, buf, len, deadline);
    /* Only a local ETIMEDOUT (HUB_WAIT) still lets the message go out:
       it is a valid message that some local subscribers missed. */
    if(h && h->redis && (rc == 0 || errno == ETIMEDOUT)) {
        int err = errno;
        dill__hubr_publish(h->redis, topic, flags, buf, len);
        errno = err;
    }
    return rc;
}

char **dill__hub_topic_names(struct dill_hub *h, size_t *n) {
    pthread_mutex_lock(&h->lock);
    size_t cnt = 0, bytes = 0;
    for(struct dill__list *it = h->topics.next; it != &h->topics;
          it = it->next) {
        cnt++;
        bytes += strlen(dill__cont(it, struct dill__topic, item)->name) + 1;
    }
    char **v = cnt ? malloc(cnt * sizeof(char*) + bytes) : NULL;
    if(v) {
        char *p = (char*)(v + cnt);
        size_t i = 0;
        for(struct dill__list *it = h->topics.next; it != &h->topics;
              it = it->next) {
            const char *name = dill__cont(it, struct dill__topic, item)->name;
            size_t l = strlen(name) + 1;
            memcpy(p, name, l);
            v[i++] = p;
            p += l;
        }
    }
    pthread_mutex_unlock(&h->lock);
    *n = v ? cnt : (cnt ? (size_t)-1 : 0);
    return v;
}

int dill_hub_stats(struct dill_hub *h, struct dill_hub_stats *st) {
    struct dill_hub_stats r;
    if(!h || !st || dill__opts_load(&r, sizeof(r), st) < 0) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&h->lock);
    r.subscribers = h->subs;
    r.topics = h->ntopics;
    pthread_mutex_unlock(&h->lock);
    if(h->redis) dill__hubr_stats(h->redis, &r);
    size_t size = st->size < sizeof(r) ? st->size : sizeof(r);
    memcpy((char*)st + sizeof(size_t), (char*)&r + sizeof(size_t),
        size - sizeof(size_t));
    return 0;
}

size_t dill__hub_queued(int sub) {
    struct dill__sub *s = dill_hquery(sub, dill__sub_type);
    if(!s) return (size_t)-1;
    pthread_mutex_lock(&s->hub->lock);
    size_t n = s->qbytes;
    pthread_mutex_unlock(&s->hub->lock);
    return n;
}

size_t dill__hub_compressions(void) {
    return __atomic_load_n(&dill__hub_nz, __ATOMIC_RELAXED);
}
