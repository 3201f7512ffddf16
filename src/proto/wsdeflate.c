/* permessage-deflate (RFC 7692): negotiation and codec.  See wsdeflate.h. */

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wsdeflate.h"

/******************************************************************************/
/*  Negotiation                                                               */
/******************************************************************************/

static int dill__wsz_ows(char c) {
    return c == ' ' || c == '\t';
}

static int dill__wsz_tchar(char c) {
    return dill__http_is_token(&c, 1);
}

/* Reads a token at s[*i..n). */
static int dill__wsz_token(const char *s, size_t n, size_t *i,
      const char **t, size_t *tl) {
    size_t b = *i;
    while(*i < n && dill__wsz_tchar(s[*i])) (*i)++;
    *t = s + b;
    *tl = *i - b;
    return *tl ? 0 : -1;
}

/* Reads a parameter value: a token or a quoted string (whose unescaped
   text must fit v, which is all a window size needs). */
static int dill__wsz_value(const char *s, size_t n, size_t *i, char *v,
      size_t vcap, size_t *vl) {
    if(*i < n && s[*i] == '"') {
        (*i)++;
        size_t k = 0;
        while(*i < n && s[*i] != '"') {
            if(s[*i] == '\\' && ++(*i) == n) return -1;
            if(k == vcap) return -1;
            v[k++] = s[(*i)++];
        }
        if(*i == n) return -1;
        (*i)++;
        *vl = k;
        return 0;
    }
    const char *t;
    size_t tl;
    if(dill__wsz_token(s, n, i, &t, &tl) < 0 || tl > vcap) return -1;
    memcpy(v, t, tl);
    *vl = tl;
    return 0;
}

/* "8".."15", no sign, no leading zero. */
static int dill__wsz_bits(const char *v, size_t n) {
    if(n == 1 && v[0] >= '8' && v[0] <= '9') return v[0] - '0';
    if(n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + v[1] - '0';
    return -1;
}

/* Applies one parameter to p; seen tracks duplicates. */
static int dill__wsz_param(struct dill__wsz_params *p, int *seen,
      const char *name, size_t nl, const char *v, size_t vl, int hasv) {
    static const char *const names[] = {"server_no_context_takeover",
        "client_no_context_takeover", "server_max_window_bits",
        "client_max_window_bits"};
    int k;
    for(k = 0; k != 4; k++)
        if(dill__http_ieq(name, nl, names[k])) break;
    if(k == 4 || (*seen & (1 << k))) return -1;
    *seen |= 1 << k;
    if(k < 2) {
        if(hasv) return -1;
        if(k == 0) p->server_no_ctx = 1;
        else p->client_no_ctx = 1;
        return 0;
    }
    int b = DILL__WSZ_NOVALUE;
    if(hasv) b = dill__wsz_bits(v, vl);
    else if(k == 2) return -1;
    if(b < 0) return -1;
    if(k == 2) p->server_bits = (uint8_t)b;
    else p->client_bits = (uint8_t)b;
    return 0;
}

int dill__wsz_parse(const char *s, size_t n, struct dill__wsz_params *p) {
    size_t i = 0;
    const char *t;
    size_t tl;
    if(dill__wsz_token(s, n, &i, &t, &tl) < 0) return 0;
    if(!dill__http_ieq(t, tl, "permessage-deflate")) return 0;
    memset(p, 0, sizeof(*p));
    int seen = 0;
    while(1) {
        while(i < n && dill__wsz_ows(s[i])) i++;
        if(i == n) return 1;
        if(s[i++] != ';') return -EINVAL;
        while(i < n && dill__wsz_ows(s[i])) i++;
        if(dill__wsz_token(s, n, &i, &t, &tl) < 0) return -EINVAL;
        while(i < n && dill__wsz_ows(s[i])) i++;
        char v[8];
        size_t vl = 0;
        int hasv = i < n && s[i] == '=';
        if(hasv) {
            i++;
            while(i < n && dill__wsz_ows(s[i])) i++;
            if(dill__wsz_value(s, n, &i, v, sizeof(v), &vl) < 0)
                return -EINVAL;
        }
        if(dill__wsz_param(p, &seen, t, tl, v, vl, hasv) < 0) return -EINVAL;
    }
}

/* Appends text to buf at *pos; -1 when it does not fit (with the NUL). */
static int dill__wsz_cat(char *buf, size_t len, size_t *pos,
      const char *fmt, int v) {
    int k = snprintf(buf + *pos, len - *pos, fmt, v);
    if(k < 0 || (size_t)k >= len - *pos) return -1;
    *pos += (size_t)k;
    return 0;
}

/* Writes the element for p: every parameter that is present. */
static ssize_t dill__wsz_build(const struct dill__wsz_params *p, char *buf,
      size_t len) {
    size_t pos = 0;
    int rc = len ? 0 : -1;
    if(!rc) buf[0] = 0;
    if(!rc) rc = dill__wsz_cat(buf, len, &pos, "permessage-deflate", 0);
    if(!rc && p->server_no_ctx)
        rc = dill__wsz_cat(buf, len, &pos, "; server_no_context_takeover", 0);
    if(!rc && p->client_no_ctx)
        rc = dill__wsz_cat(buf, len, &pos, "; client_no_context_takeover", 0);
    if(!rc && p->server_bits)
        rc = dill__wsz_cat(buf, len, &pos, "; server_max_window_bits=%d",
            p->server_bits);
    if(!rc && p->client_bits == DILL__WSZ_NOVALUE)
        rc = dill__wsz_cat(buf, len, &pos, "; client_max_window_bits", 0);
    else if(!rc && p->client_bits)
        rc = dill__wsz_cat(buf, len, &pos, "; client_max_window_bits=%d",
            p->client_bits);
    return rc < 0 ? -EMSGSIZE : (ssize_t)pos;
}

/* Fills the directions of a from its answered parameters. */
static void dill__wsz_sides(struct dill__wsz_agreed *a, int server,
      const struct dill__wsz_cfg *cfg) {
    struct dill__wsz_params *p = &a->p;
    if(!p->server_bits) p->server_bits = 15;
    if(!p->client_bits) p->client_bits = 15;
    uint8_t sb = p->server_bits, cb = p->client_bits;
    uint8_t sn = p->server_no_ctx, cn = p->client_no_ctx;
    a->send_bits = server ? sb : cb;
    a->recv_bits = server ? cb : sb;
    /* We may always reset our own compressor. */
    a->send_no_ctx = (uint8_t)((server ? sn : cn) || !cfg->ctx);
    a->recv_no_ctx = server ? cn : sn;
    if(a->send_bits > cfg->send_bits) a->send_bits = cfg->send_bits;
}

ssize_t dill__wsz_offer(const struct dill__wsz_cfg *cfg, char *buf,
      size_t len) {
    struct dill__wsz_params p = {0};
    p.server_no_ctx = p.client_no_ctx = cfg->ctx ? 0 : 1;
    if(cfg->recv_bits < 15) p.server_bits = cfg->recv_bits;
    p.client_bits = cfg->send_bits < 15 ? cfg->send_bits : DILL__WSZ_NOVALUE;
    return dill__wsz_build(&p, buf, len);
}

int dill__wsz_client(const char *ext, size_t len,
      const struct dill__wsz_cfg *cfg, struct dill__wsz_agreed *a) {
    size_t pos = 0;
    const char *e;
    size_t el;
    int n = 0;
    while(dill__http_list_next(ext, len, &pos, &e, &el)) {
        if(n++ || dill__wsz_parse(e, el, &a->p) != 1) return -EPROTO;
    }
    if(!n) return -EPROTO;
    struct dill__wsz_params *p = &a->p;
    /* We always offer client_max_window_bits; the answer needs a value. */
    if(p->client_bits == DILL__WSZ_NOVALUE) return -EPROTO;
    /* A larger client window than our hint is no problem: we compress
       with our own, smaller one (dill__wsz_sides). */
    if(cfg->recv_bits < 15 &&
       (!p->server_bits || p->server_bits > cfg->recv_bits)) return -EPROTO;
    if(!cfg->ctx && !p->server_no_ctx) return -EPROTO;
    dill__wsz_sides(a, 0, cfg);
    return 0;
}

static uint8_t dill__wsz_min(uint8_t a, uint8_t b) {
    return a < b ? a : b;
}

/* The answer to one acceptable offer o. */
static void dill__wsz_answer(const struct dill__wsz_params *o,
      const struct dill__wsz_cfg *cfg, struct dill__wsz_params *p) {
    memset(p, 0, sizeof(*p));
    p->server_no_ctx = (uint8_t)(o->server_no_ctx || !cfg->ctx);
    p->client_no_ctx = (uint8_t)(o->client_no_ctx || !cfg->ctx);
    if(o->server_bits) p->server_bits = dill__wsz_min(o->server_bits,
        cfg->send_bits);
    else if(cfg->send_bits < 15) p->server_bits = cfg->send_bits;
    /* A client that cannot shrink its window keeps no context instead, so
       that our decompressor fits the tier between messages. */
    if(!o->client_bits && cfg->recv_bits < 15) p->client_no_ctx = 1;
    if(o->client_bits) {
        uint8_t want = o->client_bits == DILL__WSZ_NOVALUE ? 15 :
            o->client_bits;
        uint8_t cb = dill__wsz_min(want, cfg->recv_bits);
        if(cb < 15 || o->client_bits != DILL__WSZ_NOVALUE) p->client_bits = cb;
    }
}

int dill__wsz_server(const struct dill__http_head *h,
      const struct dill__wsz_cfg *cfg, struct dill__wsz_agreed *a, char *buf,
      size_t len) {
    for(int i = dill__http_find(h, "Sec-WebSocket-Extensions", 0); i >= 0;
          i = dill__http_find(h, "Sec-WebSocket-Extensions", i + 1)) {
        const char *v = h->headers[i].value;
        size_t vl = h->headers[i].valuelen, pos = 0;
        const char *e;
        size_t el;
        while(dill__http_list_next(v, vl, &pos, &e, &el)) {
            struct dill__wsz_params o;
            if(dill__wsz_parse(e, el, &o) != 1) continue;
            dill__wsz_answer(&o, cfg, &a->p);
            ssize_t n = dill__wsz_build(&a->p, buf, len);
            if(n < 0) return (int)n;
            /* The client uses its offered window unless we answer one. */
            if(!a->p.client_bits && o.client_bits != DILL__WSZ_NOVALUE)
                a->p.client_bits = o.client_bits;
            dill__wsz_sides(a, 1, cfg);
            return 1;
        }
    }
    return 0;
}

/* Tier memLevel for a window: 15 gets zlib's default 8; smaller windows
   get smaller hash tables. */
static int dill__wsz_tier_ml(int wb) {
    return wb == 15 ? 8 : wb - 8;
}

size_t dill__wsz_tier_bytes(int wb, int ml) {
    /* deflate: state + window (2 << wb) + prev (2 << wb) + head
       (2 << (ml + 7)) + pending (4 << (ml + 6)); inflate: state + window.
       The state sizes are those of zlib 1.2.13 on LP64. */
    return 5952 + ((size_t)4 << wb) + ((size_t)2 << (ml + 8)) + 7160 +
        ((size_t)1 << wb);
}

void dill__wsz_tier(size_t budget, struct dill__wsz_cfg *cfg) {
    cfg->ctx = 0;
    cfg->send_bits = cfg->recv_bits = 15;
    cfg->mem_level = 8;
    cfg->level = 6;
    for(int wb = 15; wb >= 9; wb--) {
        int ml = dill__wsz_tier_ml(wb);
        if(budget >= dill__wsz_tier_bytes(wb, ml)) {
            cfg->ctx = 1;
            cfg->send_bits = cfg->recv_bits = (uint8_t)wb;
            cfg->mem_level = (uint8_t)ml;
            return;
        }
    }
}

/******************************************************************************/
/*  zlib state cache                                                          */
/******************************************************************************/

#if !DILL_HAVE_ZLIB

/* Without zlib the extension is never agreed (wsattach.c does not offer
   or accept it); these are never called. */
int dill__wsz_def_can(const struct dill__wsz_def *d, uint64_t total,
      int whole) {return 0;}
int dill__wsz_def_input(struct dill__wsz_def *d, const void *in, size_t len,
      int mode) {return DILL__WSZ_ENOMEM;}
size_t dill__wsz_def_output(struct dill__wsz_def *d, uint8_t *out,
      size_t cap, int *more) {*more = 0; return 0;}
void dill__wsz_def_abort(struct dill__wsz_def *d) {}
void dill__wsz_def_free(struct dill__wsz_def *d) {}
void dill__wsz_inf_begin(struct dill__wsz_inf *f, uint64_t max) {}
void dill__wsz_inf_input(struct dill__wsz_inf *f, const uint8_t *in,
      size_t len, int fin) {}
ssize_t dill__wsz_inf_output(struct dill__wsz_inf *f, uint8_t *out,
      size_t cap) {return DILL__WSZ_ENOMEM;}
int dill__wsz_inf_done(const struct dill__wsz_inf *f) {return 1;}
int dill__wsz_inf_idle(const struct dill__wsz_inf *f) {return 1;}
void dill__wsz_inf_free(struct dill__wsz_inf *f) {}

#else

#include <zlib.h>

/* A z_stream with the settings it was made with, so that a cached one
   is reused only by a direction with the same settings. */
struct dill__wsz_z {
    z_stream s;
    uint8_t def, bits, mem_level, level;
};

#define DILL__WSZ_CACHE 8

struct dill__wsz_cache {
    struct dill__wsz_z *z[DILL__WSZ_CACHE];
    int n;
    int registered;
};

static __thread struct dill__wsz_cache dill__wsz_cache;
static pthread_key_t dill__wsz_key;
static pthread_once_t dill__wsz_once = PTHREAD_ONCE_INIT;

static void dill__wsz_destroy(struct dill__wsz_z *z) {
    if(z->def) deflateEnd(&z->s);
    else inflateEnd(&z->s);
    free(z);
}

static void dill__wsz_term(void *arg) {
    struct dill__wsz_cache *c = arg;
    while(c->n) dill__wsz_destroy(c->z[--c->n]);
}

static void dill__wsz_key_make(void) {
    pthread_key_create(&dill__wsz_key, dill__wsz_term);
}

static struct dill__wsz_z *dill__wsz_get(int def, int bits, int mem_level,
      int level) {
    struct dill__wsz_cache *c = &dill__wsz_cache;
    for(int i = c->n - 1; i >= 0; i--) {
        struct dill__wsz_z *z = c->z[i];
        if(z->def == def && z->bits == bits && z->mem_level == mem_level &&
           z->level == level) {
            c->z[i] = c->z[--c->n];
            return z;
        }
    }
    struct dill__wsz_z *z = calloc(1, sizeof(*z));
    if(!z) return NULL;
    z->def = (uint8_t)def;
    z->bits = (uint8_t)bits;
    z->mem_level = (uint8_t)mem_level;
    z->level = (uint8_t)level;
    int rc = def ? deflateInit2(&z->s, level, Z_DEFLATED, -bits, mem_level,
        Z_DEFAULT_STRATEGY) : inflateInit2(&z->s, -bits);
    if(rc != Z_OK) {free(z); return NULL;}
    return z;
}

/* Resets z and caches it (or frees it when the cache is full). */
static void dill__wsz_put(struct dill__wsz_z *z) {
    struct dill__wsz_cache *c = &dill__wsz_cache;
    if(!c->registered) {
        pthread_once(&dill__wsz_once, dill__wsz_key_make);
        pthread_setspecific(dill__wsz_key, c);
        c->registered = 1;
    }
    if(c->n == DILL__WSZ_CACHE) {dill__wsz_destroy(z); return;}
    if(z->def) deflateReset(&z->s);
    else inflateReset(&z->s);
    c->z[c->n++] = z;
}

/******************************************************************************/
/*  Compression                                                               */
/******************************************************************************/

/* Window 8 is compressed with zlib's 9, within the limits in the header. */
static int dill__wsz_zbits(int bits) {
    return bits < 9 ? 9 : bits;
}

int dill__wsz_def_can(const struct dill__wsz_def *d, uint64_t total,
      int whole) {
    return d->bits > 8 || (whole && total <= 256);
}

/* memLevel for the next message: see hint in the header. */
static int dill__wsz_def_ml(const struct dill__wsz_def *d) {
    if((d->no_ctx || d->bits < 9) && d->hint && d->hint <= 4096 &&
       d->mem_level > 3) return 3;
    return d->mem_level;
}

int dill__wsz_def_input(struct dill__wsz_def *d, const void *in, size_t len,
      int mode) {
    if(!d->z) {
        d->z = dill__wsz_get(1, dill__wsz_zbits(d->bits), dill__wsz_def_ml(d),
            d->level);
        if(!d->z) return DILL__WSZ_ENOMEM;
    }
    z_stream *z = &((struct dill__wsz_z*)d->z)->s;
    z->next_in = (Bytef*)in;
    z->avail_in = (uInt)len;
    d->flush = (uint8_t)mode;
    d->busy = 1;
    return 0;
}

/* The message is compressed: keep, reset or give back the state. */
static void dill__wsz_def_end(struct dill__wsz_def *d) {
    d->busy = 0;
    if(d->no_ctx || d->bits < 9) {
        dill__wsz_put(d->z);
        d->z = NULL;
    }
}

size_t dill__wsz_def_output(struct dill__wsz_def *d, uint8_t *out,
      size_t cap, int *more) {
    z_stream *z = &((struct dill__wsz_z*)d->z)->s;
    size_t fill = d->nhold;
    memcpy(out, d->hold, fill);
    d->nhold = 0;
    z->next_out = out + fill;
    z->avail_out = (uInt)(cap - fill);
    /* Z_OK or Z_BUF_ERROR (nothing to do): both fine here. */
    deflate(z, d->flush == DILL__WSZ_MORE ? Z_NO_FLUSH : Z_SYNC_FLUSH);
    size_t made = cap - fill - z->avail_out;
    fill += made;
    if(z->avail_in || !z->avail_out) {
        *more = 1;
        if(d->flush == DILL__WSZ_FIN) {
            /* These may be the tail: keep them until the end is known. */
            d->nhold = (uint8_t)(fill < 4 ? fill : 4);
            fill -= d->nhold;
            memcpy(d->hold, out + fill, d->nhold);
        }
        return fill;
    }
    *more = 0;
    if(d->flush != DILL__WSZ_FIN) return fill;
    static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
    if(fill >= 4 && memcmp(out + fill - 4, tail, 4) == 0) fill -= 4;
    else if(fill == 0) {
        /* Nothing was pending since the last flush, whose marker has
           already gone out: an empty stored block header keeps the
           receiver's appended tail well-formed. */
        out[0] = 0;
        fill = 1;
    }
    dill__wsz_def_end(d);
    return fill;
}

void dill__wsz_def_abort(struct dill__wsz_def *d) {
    if(!d->busy) return;
    d->busy = 0;
    d->nhold = 0;
    dill__wsz_put(d->z);
    d->z = NULL;
}

void dill__wsz_def_free(struct dill__wsz_def *d) {
    if(d->z) dill__wsz_destroy(d->z);
    d->z = NULL;
}

/******************************************************************************/
/*  Decompression                                                             */
/******************************************************************************/

void dill__wsz_inf_begin(struct dill__wsz_inf *f, uint64_t max) {
    f->fin = f->tail = f->ended = f->empty = f->any = 0;
    f->drained = 1;
    f->busy = 1;
    f->in = NULL;
    f->inlen = 0;
    f->total = 0;
    f->max = max;
}

void dill__wsz_inf_input(struct dill__wsz_inf *f, const uint8_t *in,
      size_t len, int fin) {
    f->in = in;
    f->inlen = len;
    if(len) f->any = 1;
    if(fin) {
        f->fin = 1;
        /* An empty compressed message inflates to nothing; the tail alone
           would leave the stream in the middle of a block. */
        if(!f->any) f->empty = 1;
    }
}

/* The message is complete: keep, reset or give back the state. */
static void dill__wsz_inf_end(struct dill__wsz_inf *f) {
    f->busy = 0;
    if(!f->z) return;
    z_stream *z = &((struct dill__wsz_z*)f->z)->s;
    if(f->no_ctx) {
        dill__wsz_put(f->z);
        f->z = NULL;
    }
    else if(f->ended) {
        /* A final block ended the stream; the window carries on. */
        uint8_t *w = malloc(32768);
        uInt wl = 0;
        if(w && inflateGetDictionary(z, w, &wl) != Z_OK) wl = 0;
        inflateReset(z);
        if(w && wl) inflateSetDictionary(z, w, wl);
        free(w);
    }
}

int dill__wsz_inf_done(const struct dill__wsz_inf *f) {
    return !f->busy;
}

int dill__wsz_inf_idle(const struct dill__wsz_inf *f) {
    return !f->busy || (!f->inlen && f->drained && !f->fin);
}

/* Input for the next inflate call: the caller's, then the tail. */
static const uint8_t *dill__wsz_inf_src(struct dill__wsz_inf *f,
      size_t *n) {
    static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
    if(f->ended || f->empty) {
        f->inlen = 0;
        if(f->fin) f->tail = 4;
    }
    if(f->inlen) {*n = f->inlen; return f->in;}
    *n = 0;
    if(f->fin && f->tail < 4) {*n = 4u - f->tail; return tail + f->tail;}
    return tail;
}

/* One inflate call over src[0..n) into out[0..room). */
static int dill__wsz_inf_step(struct dill__wsz_inf *f, const uint8_t *src,
      size_t n, uint8_t *out, size_t room, size_t *made) {
    z_stream *z = &((struct dill__wsz_z*)f->z)->s;
    z->next_in = (Bytef*)src;
    z->avail_in = (uInt)n;
    z->next_out = out;
    z->avail_out = (uInt)room;
    int rc = inflate(z, Z_SYNC_FLUSH);
    size_t used = n - z->avail_in;
    *made = room - z->avail_out;
    if(src == f->in) {f->in += used; f->inlen -= used;}
    else f->tail = (uint8_t)(f->tail + used);
    f->total += *made;
    f->drained = z->avail_out != 0;
    if(f->max && f->total > f->max) return DILL__WSZ_ETOOBIG;
    if(rc == Z_STREAM_END) {f->ended = 1; f->drained = 1; return 0;}
    if(rc == Z_MEM_ERROR) return DILL__WSZ_ENOMEM;
    if(rc != Z_OK && rc != Z_BUF_ERROR) return DILL__WSZ_EDATA;
    return 0;
}

ssize_t dill__wsz_inf_output(struct dill__wsz_inf *f, uint8_t *out,
      size_t cap) {
    if(!f->busy) return 0;
    if(!f->z && !f->empty) {
        f->z = dill__wsz_get(0, dill__wsz_zbits(f->bits), 0, 0);
        if(!f->z) return DILL__WSZ_ENOMEM;
    }
    size_t got = 0;
    while(1) {
        size_t n;
        const uint8_t *src = dill__wsz_inf_src(f, &n);
        if(!n && f->drained) {
            if(f->fin) dill__wsz_inf_end(f);
            return (ssize_t)got;
        }
        if(got == cap) return (ssize_t)got;
        size_t room = cap - got;
        if(f->max && room > f->max - f->total + 1)
            room = (size_t)(f->max - f->total + 1);
        if(n > UINT_MAX) n = UINT_MAX;
        if(room > UINT_MAX) room = UINT_MAX;
        size_t made;
        int rc = dill__wsz_inf_step(f, src, n, out + got, room, &made);
        got += made;
        if(rc < 0) return rc;
    }
}

void dill__wsz_inf_free(struct dill__wsz_inf *f) {
    if(f->z) dill__wsz_destroy(f->z);
    f->z = NULL;
}

#endif
