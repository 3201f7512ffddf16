/* Happy Eyeballs (RFC 8305): connect by name over whichever IP family
   works, without waiting for a broken one to time out. */

#include <errno.h>
#include <string.h>

#include "core/core.h"

/* Addresses tried per family. */
#define DILL__HE_MAX 8
/* RFC 8305 5: Connection Attempt Delay (libdill's value). */
#define DILL__HE_DELAY 300
/* RFC 8305 3: Resolution Delay, how long IPv4 answers wait for IPv6 ones. */
#define DILL__HE_RESDELAY 50

/* What a helper coroutine reports: a lookup's address count (or -1), or a
   connection attempt's socket (or -1), with errno in err. */
struct dill__he_ev {
    int kind;           /* 0: IPv6 lookup, 1: IPv4 lookup, 2: attempt */
    int val;
    int err;
};

/* Shared by the call and its helpers, which all end before it returns. */
struct dill__he {
    struct dill_ipaddr addrs[2][DILL__HE_MAX];  /* [0] IPv6, [1] IPv4 */
    int naddrs[2];
    int resolved[2];
    int used[2];
    int ch[2];
    const char *name;
    int port;
    int64_t deadline;
};

dill_coroutine static void dill__he_lookup(struct dill__he *he, int fam) {
    int n = dill_ipaddr_remotes(he->addrs[fam], DILL__HE_MAX, he->name,
        he->port, fam ? DILL_IPADDR_IPV4 : DILL_IPADDR_IPV6, he->deadline);
    struct dill__he_ev e = {fam, n, n < 0 ? errno : 0};
    dill_chsend(he->ch[1], &e, sizeof(e), -1);
}

dill_coroutine static void dill__he_attempt(struct dill__he *he,
      const struct dill_ipaddr *addr) {
    int s = dill_tcp_connect(addr, he->deadline);
    struct dill__he_ev e = {2, s, s < 0 ? errno : 0};
    /* Cancelled because another attempt won: nobody wants this socket. */
    if(dill_chsend(he->ch[1], &e, sizeof(e), -1) < 0 && s >= 0)
        dill_hclose(s);
}

/* Starts a helper: a lookup of family kind (0, 1) or, for kind 2, an
   attempt to connect to addr.  Apart, so that no caller's locals live
   across the setjmp inside bundle_go. */
__attribute__((noinline)) static int dill__he_go(int b, struct dill__he *he,
      int kind, const struct dill_ipaddr *addr) {
    if(kind == 2) return dill_bundle_go(b, dill__he_attempt(he, addr));
    return dill_bundle_go(b, dill__he_lookup(he, kind));
}

/* The family of the next attempt (-1: no address available now).  They
   alternate, IPv6 first; while IPv6 answers may still come, IPv4 ones
   wait for them until resdelay. */
static int dill__he_next(struct dill__he *he, int last, int64_t tnow,
      int64_t resdelay) {
    int avail[2];
    for(int f = 0; f != 2; f++) avail[f] = he->used[f] < he->naddrs[f];
    if(avail[1] && !he->resolved[0] && he->used[0] == 0 &&
       he->used[1] == 0 && tnow < resdelay) avail[1] = 0;
    int f = last < 0 ? 0 : !last;
    if(avail[f]) return f;
    return avail[!f] ? !f : -1;
}

/* Runs the race on a bundle of helpers; returns the winning socket. */
static int dill__he_race(struct dill__he *he, int b) {
    int inflight = 0, last = -1, err = EADDRNOTAVAIL;
    int64_t nextat = 0, resdelay = -1;
    while(1) {
        int64_t tnow = dill_now();
        int f = dill__he_next(he, last, tnow, resdelay);
        if(f >= 0 && (inflight == 0 || tnow >= nextat)) {
            if(dill__he_go(b, he, 2, &he->addrs[f][he->used[f]]) < 0)
                return -1;
            he->used[f]++;
            inflight++;
            last = f;
            nextat = tnow + DILL__HE_DELAY;
            continue;
        }
        if(f < 0 && inflight == 0 && he->resolved[0] && he->resolved[1]) {
            errno = err;
            return -1;
        }
        int64_t w = he->deadline;
        if(f >= 0 && (w < 0 || nextat < w)) w = nextat;
        if(f < 0 && !he->resolved[0] && resdelay > tnow &&
           (w < 0 || resdelay < w)) w = resdelay;
        struct dill__he_ev e;
        if(dill_chrecv(he->ch[0], &e, sizeof(e), w) < 0) {
            if(errno == ETIMEDOUT && w != he->deadline) continue;
            return -1;
        }
        if(e.kind < 2) {
            he->resolved[e.kind] = 1;
            he->naddrs[e.kind] = e.val > 0 ? e.val : 0;
            if(e.kind == 1) resdelay = dill_now() + DILL__HE_RESDELAY;
            if(e.val < 0 && e.err != EADDRNOTAVAIL && err == EADDRNOTAVAIL)
                err = e.err;
            continue;
        }
        inflight--;
        if(e.val >= 0) return e.val;
        err = e.err;
        /* RFC 8305 5: a failed attempt lets the next one start at once. */
        nextat = 0;
    }
}

int dill_happyeyeballs_connect(const char *name, int port, int64_t deadline) {
    if(!name || port < 0 || port > 65535) {errno = EINVAL; return -1;}
    struct dill__he he;
    memset(&he, 0, sizeof(he));
    he.name = name;
    he.port = port;
    he.deadline = deadline;
    if(dill_chmake(he.ch) < 0) return -1;
    /* The attempts and lookups write into he. */
    dill__keepawake(1);
    int s = -1, err;
    int b = dill_bundle();
    if(b < 0) {err = errno; goto out;}
    if(dill__he_go(b, &he, 0, NULL) < 0 || dill__he_go(b, &he, 1, NULL) < 0) {
        err = errno;
        goto out;
    }
    s = dill__he_race(&he, b);
    err = errno;
out:
    /* Cancels the lookups and the attempts that lost. */
    if(b >= 0) dill_hclose(b);
    dill_hclose(he.ch[0]);
    dill_hclose(he.ch[1]);
    dill__keepawake(0);
    errno = err;
    return s;
}
