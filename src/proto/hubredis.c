/* The hub over Redis pub/sub (dill extension, see hub_redis(3)).

   Each hub with a Redis URL has one thread of its own that owns both of
   its Redis connections, so that nothing Redis does (connecting, a stall,
   a restart) can hold up a serving thread.  Publishers, in any thread,
   format the PUBLISH command themselves (hiredis' formatter, a pure
   function) and append it to a queue bounded in bytes, then wake the
   thread through a dill__tsig; the thread's writer sends the queue
   pipelined.  A second connection is in subscriber mode (RESP2 forbids
   other commands there): its writer keeps Redis' set of channels equal to
   the hub's set of topics with subscribers, and its reader hands messages
   of other hubs to the local subscribers.  hiredis is used only as a
   parser and formatter; the sockets are dill's, so every wait has a
   deadline and is cancelled when the hub is freed. */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "libdillimpl.h"
#include "proto/hubredis.h"

#if !DILL_HAVE_HIREDIS

struct dill__hubr *dill__hubr_start(struct dill_hub *h,
      const struct dill_hub_options *o) {
    (void)h;
    (void)o;
    errno = ENOTSUP;
    return NULL;
}
void dill__hubr_stop(struct dill__hubr *r) {(void)r;}
void dill__hubr_publish(struct dill__hubr *r, const char *topic, int flags,
      const void *buf, size_t len) {
    (void)r; (void)topic; (void)flags; (void)buf; (void)len;
}
void dill__hubr_topics(struct dill__hubr *r) {(void)r;}
void *dill__hubr_reader(void) {return NULL;}
void dill__hubr_stats(struct dill__hubr *r, struct dill_hub_stats *st) {
    (void)r;
    (void)st;
}

#else

#include <hiredis/hiredis.h>

#include "core/core.h"
#include "net/bsockx.h"
#include "proto/redisproto.h"
#include "util/opts.h"
#include "util/random.h"
#include "util/utf8.h"

/* Reconnection back-off: doubles from MIN to MAX, each wait a random
   point in its upper half so that many nodes do not reconnect in step. */
#define DILL__HUBR_BACKOFF_MIN 50
#define DILL__HUBR_BACKOFF_MAX 2000
/* What one send of the publishing connection takes from the queue. */
#define DILL__HUBR_BATCH 64
#define DILL__HUBR_BATCH_BYTES (256 * 1024)
/* Channels per SUBSCRIBE or UNSUBSCRIBE command. */
#define DILL__HUBR_SUBCHUNK 128

struct dill__rcmd {
    struct dill__rcmd *next;
    char *cmd;                     /* hiredis-formatted */
    size_t len;
};

struct dill__hubr {
    struct dill_hub *hub;
    struct dill__redis_url url;
#if !defined DILL_DISABLE_TLS
    struct dill_tls_client_options tls;     /* rediss://; strings in tlsmem */
    char *tlsmem;
#endif
    char *prefix;
    size_t plen;
    size_t maxq;
    size_t maxreply;               /* unparsed bytes a reader may hold */
    int64_t timeout;
    int64_t send_timeout;          /* the hub's, for HUB_WAIT deliveries */
    uint64_t node;
    pthread_t thread;
    pthread_mutex_t lock;          /* everything below */
    pthread_cond_t cond;           /* start-up */
    int started;                   /* 1 running, -1 failed */
    int stop;
    struct dill__rcmd *qhead;
    struct dill__rcmd **qtail;
    size_t qbytes;
    /* Owned by the thread: publishers wake its writer, topic changes its
       subscriber, hub_free its main coroutine. */
    struct dill__tsig qsig, tsig, ssig;
    int pub_up, sub_up, topics;
    uint64_t connects, sent, received, dropped, lost;
};

/* One connection and its reader coroutine. */
struct dill__rconn {
    struct dill__hubr *r;
    int s;
    redisReader *rd;
    int dead;                      /* set by the reader when it fails */
    struct dill__tsig *wake;       /* posted then */
    uint64_t inflight;             /* commands awaiting a reply */
};

/* hiredis 0.14's reader allocates a multi-bulk reply's element array as
   soon as it reads the count: "*999999999" from the peer would be gigabytes.
   No reply the hub asks for has more than 3 elements, so bigger arrays are
   refused (the reader reports an error and the connection starts again). */
#define DILL__HUBR_MAXELEMENTS 16
static redisReplyObjectFunctions dill__hubr_fns;
static void *(*dill__hubr_mkarray)(const redisReadTask*, int);
static pthread_once_t dill__hubr_fns_once = PTHREAD_ONCE_INIT;

static void *dill__hubr_array(const redisReadTask *t, int elements) {
    if(elements > DILL__HUBR_MAXELEMENTS) return NULL;
    return dill__hubr_mkarray(t, elements);
}

static void dill__hubr_fns_init(void) {
    redisReader *r = redisReaderCreate();
    if(!r) return;
    dill__hubr_fns = *r->fn;
    dill__hubr_mkarray = dill__hubr_fns.createArray;
    dill__hubr_fns.createArray = dill__hubr_array;
    redisReaderFree(r);
}

void *dill__hubr_reader(void) {
    pthread_once(&dill__hubr_fns_once, dill__hubr_fns_init);
    if(!dill__hubr_mkarray) return NULL;
    redisReader *r = redisReaderCreateWithFunctions(&dill__hubr_fns);
    /* Keeps what it read short of a whole reply bounded: the caller checks
       len - pos. */
    return r;
}

static void dill__hubr_count(struct dill__hubr *r, uint64_t *c, uint64_t n) {
    pthread_mutex_lock(&r->lock);
    *c += n;
    pthread_mutex_unlock(&r->lock);
}

/* Reads one reply into *reply.  Returns 0, or -1 with errno: EPIPE,
   ECONNRESET, ETIMEDOUT, ECANCELED, EPROTO (not RESP), EMSGSIZE (a reply
   bigger than the hub could deliver). */
static int dill__rconn_reply(struct dill__rconn *c, redisReply **reply,
      int64_t deadline) {
    struct dill__bsockx_vfs *x = dill_hquery(c->s, dill__bsockx_type);
    if(!x) return -1;
    while(1) {
        void *rep = NULL;
        if(redisReaderGetReply(c->rd, &rep) != REDIS_OK) {
            errno = EPROTO;
            return -1;
        }
        if(rep) {*reply = rep; return 0;}
        if(c->rd->len - c->rd->pos > c->r->maxreply) {
            errno = EMSGSIZE;
            return -1;
        }
        char buf[16384];
        ssize_t n = x->ops->brecvsome(x, buf, sizeof(buf), deadline);
        if(n < 0) return -1;
        if(redisReaderFeed(c->rd, buf, (size_t)n) != REDIS_OK) {
            errno = ENOMEM;
            return -1;
        }
    }
}

/* Sends a command of argc arguments.  Returns 0 or -1. */
static int dill__rconn_cmd(struct dill__rconn *c, int argc, const char **argv,
      const size_t *lens, int64_t deadline) {
    char *cmd;
    int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if(n < 0) {errno = ENOMEM; return -1;}
    int rc = dill_bsend(c->s, cmd, (size_t)n, deadline);
    int err = errno;
    redisFreeCommand(cmd);
    errno = err;
    return rc;
}

/* AUTH, or PING without a password: a connection counts as up only once
   Redis has answered on it (a port that accepts but is not Redis, or
   wants TLS, does not).  Returns 0 or -1 (EACCES: refused). */
static int dill__rconn_hello(struct dill__rconn *c, int64_t deadline) {
    struct dill__redis_url *u = &c->r->url;
    const char *argv[3] = {"AUTH", u->user, u->pass};
    size_t lens[3] = {4, strlen(u->user), strlen(u->pass)};
    int rc = !u->haspass ?
        dill__rconn_cmd(c, 1, (const char*[]){"PING"}, (size_t[]){4},
            deadline) :
        u->user[0] ? dill__rconn_cmd(c, 3, argv, lens, deadline) :
        dill__rconn_cmd(c, 2, (const char*[]){"AUTH", u->pass},
            (size_t[]){4, lens[2]}, deadline);
    if(rc < 0) return -1;
    redisReply *rep;
    if(dill__rconn_reply(c, &rep, deadline) < 0) return -1;
    int ok = rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
    if(!ok) {errno = EACCES; return -1;}
    return 0;
}

/* Connects c (and authenticates, or pings).  Returns 0 or -1. */
static int dill__rconn_open(struct dill__rconn *c, struct dill__tsig *wake) {
    struct dill__hubr *r = c->r;
    int64_t deadline = dill_now() + r->timeout;
    c->dead = 0;
    c->inflight = 0;
    c->wake = wake;
    c->rd = dill__hubr_reader();
    if(!c->rd) {errno = ENOMEM; return -1;}
    struct dill_ipaddr a;
    int rc = dill_ipaddr_remote(&a, r->url.host, r->url.port, 0, deadline);
    c->s = rc < 0 ? -1 : dill_tcp_connect(&a, deadline);
#if !defined DILL_DISABLE_TLS
    /* tls_attach_client_opts closes the socket when it fails. */
    if(c->s >= 0 && r->url.tls)
        c->s = dill_tls_attach_client_opts(c->s, &r->tls, NULL, deadline);
#endif
    if(c->s >= 0 && dill__rconn_hello(c, deadline) == 0) return 0;
    int err = errno;
    if(c->s >= 0) dill_hclose(c->s);
    redisReaderFree(c->rd);
    errno = err;
    return -1;
}

static void dill__rconn_close(struct dill__rconn *c, int reader) {
    if(reader >= 0) dill_hclose(reader);
    dill_hclose(c->s);
    redisReaderFree(c->rd);
}

/* Waits before the next connection attempt.  Returns -1 on ECANCELED. */
static int dill__hubr_backoff(int *delay) {
    int d = *delay;
    int64_t wait = d / 2 + (int64_t)(dill__random_u32() % (uint32_t)(d / 2 + 1));
    *delay = d * 2 > DILL__HUBR_BACKOFF_MAX ? DILL__HUBR_BACKOFF_MAX : d * 2;
    return dill_msleep(dill_now() + wait);
}

/* The reader failed: the writer, waiting on c->wake, tears down. */
static void dill__rconn_died(struct dill__rconn *c) {
    if(errno == ECANCELED) return;
    c->dead = 1;
    dill__tsig_post(c->wake);
}

/* Publishing connection: acknowledgements. */
dill_coroutine static void dill__hubr_pubreader(struct dill__rconn *c) {
    struct dill__hubr *r = c->r;
    while(1) {
        redisReply *rep;
        if(dill__rconn_reply(c, &rep, dill_now() + r->timeout) < 0) {
            /* Silence is a stall only while replies are owed. */
            if(errno == ETIMEDOUT && !c->inflight) continue;
            break;
        }
        if(c->inflight) c->inflight--;
        if(rep->type == REDIS_REPLY_INTEGER) dill__hubr_count(r, &r->sent, 1);
        else dill__hubr_count(r, &r->lost, 1);
        freeReplyObject(rep);
    }
    dill__rconn_died(c);
}

/* Takes up to a batch of commands out of the queue (NULL: none). */
static struct dill__rcmd *dill__hubr_take(struct dill__hubr *r, size_t *n) {
    pthread_mutex_lock(&r->lock);
    struct dill__rcmd *first = r->qhead, *last = NULL;
    size_t cnt = 0, bytes = 0;
    for(struct dill__rcmd *it = first; it && cnt != DILL__HUBR_BATCH &&
          bytes < DILL__HUBR_BATCH_BYTES; it = it->next) {
        last = it;
        cnt++;
        bytes += it->len;
    }
    if(last) {
        r->qhead = last->next;
        if(!r->qhead) r->qtail = &r->qhead;
        last->next = NULL;
        r->qbytes -= bytes;
    }
    pthread_mutex_unlock(&r->lock);
    *n = cnt;
    return last ? first : NULL;
}

static void dill__rcmd_free(struct dill__rcmd *list) {
    while(list) {
        struct dill__rcmd *next = list->next;
        redisFreeCommand(list->cmd);
        free(list);
        list = next;
    }
}

/* Sends the queue over c until c breaks.  Returns -1 on ECANCELED. */
static int dill__hubr_pump(struct dill__hubr *r, struct dill__rconn *c) {
    while(!c->dead) {
        size_t n;
        struct dill__rcmd *batch = dill__hubr_take(r, &n);
        if(!batch) {
            if(dill__tsig_wait(&r->qsig, -1) < 0) return -1;
            continue;
        }
        struct dill_iolist iol[DILL__HUBR_BATCH];
        size_t i = 0;
        for(struct dill__rcmd *it = batch; it; it = it->next, i++) {
            iol[i] = (struct dill_iolist){it->cmd, it->len,
                it->next ? &iol[i + 1] : NULL, 0};
        }
        c->inflight += n;
        int rc = dill_bsendl(c->s, iol, &iol[n - 1], dill_now() + r->timeout);
        int err = errno;
        dill__rcmd_free(batch);
        if(rc < 0 && err == ECANCELED) {errno = err; return -1;}
        if(rc < 0) c->dead = 1;
    }
    return 0;
}

/* Delivers a message that came from Redis on channel ch. */
static void dill__hubr_deliver(struct dill__hubr *r, redisReply *ch,
      redisReply *msg) {
    if(ch->len < r->plen || memcmp(ch->str, r->prefix, r->plen) != 0) return;
    const uint8_t *p = (const uint8_t*)msg->str;
    int flags;
    uint64_t node;
    size_t hl = dill__redis_env_get(p, msg->len, &flags, &node);
    if(hl && node == r->node) return;
    if(!hl) flags = dill__utf8_valid(p, msg->len) ? DILL__REDIS_ENV_TEXT : 0;
    int64_t t = r->send_timeout ? r->send_timeout : r->timeout;
    /* hiredis ends every string with a NUL: the topic is a C string. */
    int rc = dill__hub_local(r->hub, ch->str + r->plen,
        flags & DILL__REDIS_ENV_TEXT ? DILL_WS_TEXT : 0, p + hl,
        msg->len - hl, dill_now() + t);
    if(rc == 0 || errno == ETIMEDOUT) dill__hubr_count(r, &r->received, 1);
}

static int dill__reply_is(redisReply *e, const char *s) {
    size_t l = strlen(s);
    return (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) &&
        e->len == l && strncasecmp(e->str, s, l) == 0;
}

/* A reply on the subscriber connection. */
static void dill__hubr_onpush(struct dill__hubr *r, redisReply *rep) {
    if(rep->type != REDIS_REPLY_ARRAY || rep->elements < 2) return;
    redisReply **e = rep->element;
    if(rep->elements == 3 && dill__reply_is(e[0], "message") &&
       e[1]->type == REDIS_REPLY_STRING && e[2]->type == REDIS_REPLY_STRING)
        dill__hubr_deliver(r, e[1], e[2]);
    else if(rep->elements == 3 && e[2]->type == REDIS_REPLY_INTEGER &&
       (dill__reply_is(e[0], "subscribe") ||
        dill__reply_is(e[0], "unsubscribe"))) {
        pthread_mutex_lock(&r->lock);
        r->topics = (int)e[2]->integer;
        pthread_mutex_unlock(&r->lock);
    }
}

/* Subscriber connection: messages, confirmations, pongs.  The writer pings
   every third of the timeout, so silence for a whole timeout is a stall. */
dill_coroutine static void dill__hubr_subreader(struct dill__rconn *c) {
    struct dill__hubr *r = c->r;
    while(1) {
        redisReply *rep;
        if(dill__rconn_reply(c, &rep, dill_now() + r->timeout) < 0) break;
        dill__hubr_onpush(r, rep);
        freeReplyObject(rep);
    }
    dill__rconn_died(c);
}

static int dill__strp_cmp(const void *a, const void *b) {
    return strcmp(*(char *const*)a, *(char *const*)b);
}

/* Sends cmd (SUBSCRIBE or UNSUBSCRIBE) for the n topics, in chunks. */
static int dill__hubr_subcmd(struct dill__rconn *c, const char *cmd,
      char **topics, size_t n) {
    struct dill__hubr *r = c->r;
    const char *argv[DILL__HUBR_SUBCHUNK + 1];
    size_t lens[DILL__HUBR_SUBCHUNK + 1];
    char *names[DILL__HUBR_SUBCHUNK];
    for(size_t i = 0; i < n; i += DILL__HUBR_SUBCHUNK) {
        size_t k = n - i < DILL__HUBR_SUBCHUNK ? n - i : DILL__HUBR_SUBCHUNK;
        argv[0] = cmd;
        lens[0] = strlen(cmd);
        size_t made = 0;
        int rc = 0;
        for(; made != k; made++) {
            size_t tl = strlen(topics[i + made]);
            names[made] = malloc(r->plen + tl);
            if(!names[made]) {errno = ENOMEM; rc = -1; break;}
            memcpy(names[made], r->prefix, r->plen);
            memcpy(names[made] + r->plen, topics[i + made], tl);
            argv[made + 1] = names[made];
            lens[made + 1] = r->plen + tl;
        }
        if(rc == 0)
            rc = dill__rconn_cmd(c, (int)k + 1, argv, lens,
                dill_now() + r->timeout);
        int err = errno;
        for(size_t j = 0; j != made; j++) free(names[j]);
        if(rc < 0) {errno = err; return -1;}
    }
    return 0;
}

/* Brings Redis' channels (*have, sorted, what was sent so far) to the
   hub's topics.  Returns 0 or -1. */
static int dill__hubr_sync(struct dill__rconn *c, char ***have,
      size_t *nhave) {
    size_t nwant;
    char **want = dill__hub_topic_names(c->r->hub, &nwant);
    if(nwant == (size_t)-1) {errno = ENOMEM; return -1;}
    if(nwant) qsort(want, nwant, sizeof(char*), dill__strp_cmp);
    /* Both lists sorted: one merge finds what to add and to remove. */
    char **add = malloc((nwant + *nhave + 1) * sizeof(char*));
    if(!add) {free(want); errno = ENOMEM; return -1;}
    char **del = add + nwant;
    size_t na = 0, nd = 0, i = 0, j = 0;
    while(i != nwant || j != *nhave) {
        int d = i == nwant ? 1 : j == *nhave ? -1 :
            strcmp(want[i], (*have)[j]);
        if(d < 0) add[na++] = want[i++];
        else if(d > 0) del[nd++] = (*have)[j++];
        else {i++; j++;}
    }
    int rc = dill__hubr_subcmd(c, "SUBSCRIBE", add, na);
    if(rc == 0) rc = dill__hubr_subcmd(c, "UNSUBSCRIBE", del, nd);
    int err = errno;
    free(add);
    free(*have);
    *have = want;
    *nhave = nwant;
    errno = err;
    return rc;
}

/* Keeps the subscriptions of c in step until c breaks.  Returns -1 on
   ECANCELED. */
static int dill__hubr_follow(struct dill__hubr *r, struct dill__rconn *c) {
    char **have = NULL;
    size_t nhave = 0;
    int64_t nextping = dill_now() + r->timeout / 3;
    int rc = 0;
    while(!c->dead) {
        if(dill__hubr_sync(c, &have, &nhave) < 0) {
            rc = errno == ECANCELED ? -1 : 0;
            break;
        }
        if(dill_now() >= nextping) {
            const char *argv[1] = {"PING"};
            size_t lens[1] = {4};
            if(dill__rconn_cmd(c, 1, argv, lens, dill_now() + r->timeout) < 0) {
                rc = errno == ECANCELED ? -1 : 0;
                break;
            }
            nextping = dill_now() + r->timeout / 3;
        }
        if(dill__tsig_wait(&r->tsig, nextping) < 0 && errno == ECANCELED) {
            rc = -1;
            break;
        }
    }
    free(have);
    return rc;
}

/* Whether connection sub (0: publishing, 1: subscriber) is up; lost
   counts the replies it still owed. */
static void dill__hubr_up(struct dill__hubr *r, int sub, int up,
      uint64_t lost) {
    pthread_mutex_lock(&r->lock);
    if(sub) r->sub_up = up;
    else r->pub_up = up;
    if(up) r->connects++;
    if(sub && !up) r->topics = 0;
    r->lost += lost;
    pthread_mutex_unlock(&r->lock);
}

__attribute__((noinline)) static int dill__hubr_go_reader(
      struct dill__rconn *c, int sub);

/* One connection (sub: the subscriber one), made again whenever it
   breaks, until cancelled. */
dill_coroutine static void dill__hubr_conn(struct dill__hubr *r, int sub) {
    int delay = DILL__HUBR_BACKOFF_MIN;
    struct dill__rconn c = {.r = r};
    while(1) {
        if(dill__rconn_open(&c, sub ? &r->tsig : &r->qsig) == 0) {
            delay = DILL__HUBR_BACKOFF_MIN;
            int reader = dill__hubr_go_reader(&c, sub);
            if(reader >= 0) dill__hubr_up(r, sub, 1, 0);
            int rc = reader < 0 ? 0 : sub ? dill__hubr_follow(r, &c) :
                dill__hubr_pump(r, &c);
            if(reader >= 0) dill__hubr_up(r, sub, 0, c.inflight);
            dill__rconn_close(&c, reader);
            if(rc < 0) return;
        }
        else if(errno == ECANCELED) return;
        if(dill__hubr_backoff(&delay) < 0) return;
    }
}

/* go() apart, so that its setjmp clobbers no caller's locals. */
__attribute__((noinline)) static int dill__hubr_go_reader(
      struct dill__rconn *c, int sub) {
    return sub ? dill_go(dill__hubr_subreader(c)) :
        dill_go(dill__hubr_pubreader(c));
}

/* Returns a bundle running both connections, or -1. */
__attribute__((noinline)) static int dill__hubr_go_conns(
      struct dill__hubr *r) {
    int b = dill_bundle();
    if(b < 0) return -1;
    /* They wait on signals from other threads, which cannot move: with
       stacks of their own they keep no shared stack (dill_stackshare)
       from the coroutines bound to it. */
    dill__keepawake(1);
    int rc = 0;
    if(dill_bundle_go(b, dill__hubr_conn(r, 0)) < 0 ||
       dill_bundle_go(b, dill__hubr_conn(r, 1)) < 0)
        rc = -1;
    dill__keepawake(0);
    if(rc < 0) {
        dill_hclose(b);
        return -1;
    }
    return b;
}

static void *dill__hubr_main(void *p) {
    struct dill__hubr *r = p;
    int sigs = 0;
    if(dill__tsig_init(&r->qsig) == 0) {
        if(dill__tsig_init(&r->tsig) == 0) {
            if(dill__tsig_init(&r->ssig) == 0) sigs = 1;
            else dill__tsig_term(&r->tsig);
        }
        if(!sigs) dill__tsig_term(&r->qsig);
    }
    int b = sigs ? dill__hubr_go_conns(r) : -1;
    pthread_mutex_lock(&r->lock);
    r->started = b >= 0 ? 1 : -1;
    pthread_cond_signal(&r->cond);
    while(b >= 0 && !r->stop) {
        pthread_mutex_unlock(&r->lock);
        dill__tsig_wait(&r->ssig, -1);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    /* Cancels both connections' coroutines, which close their sockets. */
    if(b >= 0) dill_hclose(b);
    if(sigs) {
        dill__tsig_term(&r->qsig);
        dill__tsig_term(&r->tsig);
        dill__tsig_term(&r->ssig);
    }
    return NULL;
}

#if !defined DILL_DISABLE_TLS
/* Copies the caller's TLS options and their strings (the hub outlives
   them).  The ALPN list is not kept: Redis does not use it. */
static int dill__hubr_tls(struct dill__hubr *r,
      const struct dill_tls_client_options *o) {
    if(dill__opts_load(&r->tls, sizeof(r->tls), o) < 0) return -1;
    const char **f[] = {&r->tls.server_name, &r->tls.ca_file,
        &r->tls.ca_dir, &r->tls.cert_file, &r->tls.key_file, &r->tls.ca_pem,
        &r->tls.cert_pem, &r->tls.key_pem};
    size_t nf = sizeof(f) / sizeof(*f), total = 0;
    if(!r->tls.server_name) r->tls.server_name = r->url.host;
    for(size_t i = 0; i != nf; i++) if(*f[i]) total += strlen(*f[i]) + 1;
    r->tlsmem = malloc(total ? total : 1);
    if(!r->tlsmem) {errno = ENOMEM; return -1;}
    char *p = r->tlsmem;
    for(size_t i = 0; i != nf; i++) {
        if(!*f[i]) continue;
        size_t l = strlen(*f[i]) + 1;
        memcpy(p, *f[i], l);
        *f[i] = p;
        p += l;
    }
    r->tls.alpn = NULL;
    return 0;
}
#endif

static int dill__hubr_config(struct dill__hubr *r,
      const struct dill_hub_options *o) {
    int rc = dill__redis_url_parse(o->redis, &r->url);
    if(rc < 0) {errno = -rc; return -1;}
#if !defined DILL_DISABLE_TLS
    if(r->url.tls && dill__hubr_tls(r, o->redis_tls) < 0) return -1;
#else
    if(r->url.tls) {errno = ENOTSUP; return -1;}
#endif
    const char *prefix = o->redis_prefix ? o->redis_prefix : "dill:";
    r->plen = strlen(prefix);
    r->prefix = malloc(r->plen + 1);
    if(!r->prefix) {errno = ENOMEM; return -1;}
    memcpy(r->prefix, prefix, r->plen + 1);
    r->maxq = o->redis_queue ? o->redis_queue : 1024 * 1024;
    r->timeout = o->redis_timeout > 0 ? o->redis_timeout : 3000;
    r->send_timeout = o->send_timeout > 0 ? o->send_timeout : 0;
    size_t mq = o->max_queue ? o->max_queue : 1024 * 1024;
    /* A message the hub could deliver, its channel name and RESP. */
    r->maxreply = mq + DILL__REDIS_ENV + 65536;
    dill__random(&r->node, sizeof(r->node));
    return 0;
}

static void dill__hubr_free(struct dill__hubr *r) {
#if !defined DILL_DISABLE_TLS
    free(r->tlsmem);
#endif
    free(r->prefix);
    free(r);
}

struct dill__hubr *dill__hubr_start(struct dill_hub *h,
      const struct dill_hub_options *o) {
    struct dill__hubr *r = calloc(1, sizeof(*r));
    if(!r) {errno = ENOMEM; return NULL;}
    r->hub = h;
    r->qtail = &r->qhead;
    if(dill__hubr_config(r, o) < 0) {
        int err = errno;
        dill__hubr_free(r);
        errno = err;
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    int err = pthread_create(&r->thread, NULL, dill__hubr_main, r);
    if(err == 0) {
        pthread_mutex_lock(&r->lock);
        while(!r->started) pthread_cond_wait(&r->cond, &r->lock);
        pthread_mutex_unlock(&r->lock);
        if(r->started > 0) return r;
        pthread_join(r->thread, NULL);
        err = ENOMEM;
    }
    else err = EAGAIN;
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    dill__hubr_free(r);
    errno = err;
    return NULL;
}

void dill__hubr_stop(struct dill__hubr *r) {
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    dill__tsig_post(&r->ssig);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    dill__rcmd_free(r->qhead);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    dill__hubr_free(r);
}

/* Formats PUBLISH prefix+topic envelope+payload. */
static struct dill__rcmd *dill__hubr_format(struct dill__hubr *r,
      const char *topic, int flags, const void *buf, size_t len) {
    size_t tl = strlen(topic);
    uint8_t small[4096];
    uint8_t *chan = r->plen + tl + DILL__REDIS_ENV + len <= sizeof(small) ?
        small : malloc(r->plen + tl + DILL__REDIS_ENV + len);
    struct dill__rcmd *c = malloc(sizeof(*c));
    if(!chan || !c) goto error;
    uint8_t *msg = chan + r->plen + tl;
    memcpy(chan, r->prefix, r->plen);
    memcpy(chan + r->plen, topic, tl);
    dill__redis_env_put(msg, flags & DILL_WS_TEXT ? DILL__REDIS_ENV_TEXT : 0,
        r->node);
    if(len) memcpy(msg + DILL__REDIS_ENV, buf, len);
    const char *argv[3] = {"PUBLISH", (char*)chan, (char*)msg};
    size_t lens[3] = {7, r->plen + tl, DILL__REDIS_ENV + len};
    int n = redisFormatCommandArgv(&c->cmd, 3, argv, lens);
    if(n < 0) goto error;
    c->len = (size_t)n;
    c->next = NULL;
    if(chan != small) free(chan);
    return c;
error:
    if(chan != small) free(chan);
    free(c);
    return NULL;
}

void dill__hubr_publish(struct dill__hubr *r, const char *topic, int flags,
      const void *buf, size_t len) {
    struct dill__rcmd *c = dill__hubr_format(r, topic, flags, buf, len);
    struct dill__rcmd *old = NULL, **oldtail = &old;
    pthread_mutex_lock(&r->lock);
    if(!c || c->len > r->maxq) {
        r->dropped++;
        pthread_mutex_unlock(&r->lock);
        dill__rcmd_free(c);
        return;
    }
    /* Full: the oldest go, as with the hub's default policy, so that what
       reaches the other nodes after an outage is the latest. */
    while(r->qbytes + c->len > r->maxq) {
        struct dill__rcmd *o = r->qhead;
        r->qhead = o->next;
        if(!r->qhead) r->qtail = &r->qhead;
        r->qbytes -= o->len;
        r->dropped++;
        o->next = NULL;
        *oldtail = o;
        oldtail = &o->next;
    }
    int wasempty = !r->qhead;
    *r->qtail = c;
    r->qtail = &c->next;
    r->qbytes += c->len;
    if(wasempty) dill__tsig_post(&r->qsig);
    pthread_mutex_unlock(&r->lock);
    dill__rcmd_free(old);
}

void dill__hubr_topics(struct dill__hubr *r) {
    dill__tsig_post(&r->tsig);
}

void dill__hubr_stats(struct dill__hubr *r, struct dill_hub_stats *st) {
    pthread_mutex_lock(&r->lock);
    st->redis_up = r->pub_up && r->sub_up;
    st->redis_topics = r->topics;
    st->redis_connects = r->connects;
    st->redis_sent = r->sent;
    st->redis_received = r->received;
    st->redis_dropped = r->dropped;
    st->redis_lost = r->lost;
    st->redis_queued = r->qbytes;
    pthread_mutex_unlock(&r->lock);
}

#endif
