/* Test helper shared by tests/wsframe.c and fuzz/fuzz_wsframe.c: drives
   dill__ws_decode over a byte stream cut into pieces, records what it
   reports, checks the decoder's contract on every call, and compares two
   recordings of the same stream.  Header-only (static functions). */

#ifndef DILL_TESTS_WSDRIVE_H
#define DILL_TESTS_WSDRIVE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wsframe.h"

#define WSD_CHECK(x) \
    do {\
        if(!(x)) {\
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,\
                #x);\
            abort();\
        }\
    } while(0)

/* One frame as reported: its header, the payload delivered so far. */
struct wsd_frame {
    struct dill__ws_hdr hdr;
    uint8_t *data;
    size_t len, cap;
    int ended; /* END was reported */
    int msg_end; /* END said the frame finished a message */
};

struct wsd_log {
    struct wsd_frame *f;
    size_t nf, cap;
    int error; /* close code reported by ERROR, or 0 */
    size_t error_at; /* input bytes given to the decoder when it failed */
};

/* Settings of the decoder under test. */
struct wsd_cfg {
    int conn_flags; /* DILL__WS_SERVER, DILL__WS_STRICT_LENGTH */
    int rsv; /* negotiated RSV bits */
    uint64_t max_msg;
    int dec_flags; /* DILL__WS_DEC_UTF8 */
};

/* Returns the size (>= 1) of the next piece; pos is the number of bytes
   already given, left how many remain (>= 1). */
typedef size_t (*wsd_cut_fn)(void *ctx, size_t pos, size_t left);

static size_t wsd_cut_whole(void *ctx, size_t pos, size_t left) {
    return left;
}

static size_t wsd_cut_bytes(void *ctx, size_t pos, size_t left) {
    return 1;
}

static int wsd_same_hdr(const struct dill__ws_hdr *a,
      const struct dill__ws_hdr *b) {
    return a->fin == b->fin && a->rsv == b->rsv && a->opcode == b->opcode &&
        a->masked == b->masked && a->minimal == b->minimal &&
        memcmp(a->key, b->key, 4) == 0 && a->len == b->len;
}

static void wsd_free(struct wsd_log *log) {
    for(size_t i = 0; i != log->nf; i++) free(log->f[i].data);
    free(log->f);
    memset(log, 0, sizeof(*log));
}

static void wsd_event(struct wsd_log *log, const struct dill__ws_ev *ev,
      const uint8_t *at) {
    struct wsd_frame *fr = log->nf ? &log->f[log->nf - 1] : NULL;
    switch(ev->type) {
    case DILL__WS_EV_HEADER:
        WSD_CHECK(!fr || fr->ended);
        if(log->nf == log->cap) {
            log->cap = log->cap ? log->cap * 2 : 16;
            log->f = realloc(log->f, log->cap * sizeof(*log->f));
            WSD_CHECK(log->f);
        }
        fr = &log->f[log->nf++];
        memset(fr, 0, sizeof(*fr));
        fr->hdr = ev->hdr;
        break;
    case DILL__WS_EV_DATA:
        WSD_CHECK(fr && !fr->ended);
        WSD_CHECK(wsd_same_hdr(&ev->hdr, &fr->hdr));
        WSD_CHECK(ev->len > 0 && ev->data == at);
        WSD_CHECK(ev->offset == fr->len);
        WSD_CHECK(fr->len + ev->len <= fr->hdr.len);
        if(fr->len + ev->len > fr->cap) {
            fr->cap = (fr->len + ev->len) * 2;
            fr->data = realloc(fr->data, fr->cap);
            WSD_CHECK(fr->data);
        }
        memcpy(fr->data + fr->len, ev->data, ev->len);
        fr->len += ev->len;
        break;
    case DILL__WS_EV_END:
        WSD_CHECK(fr && !fr->ended);
        WSD_CHECK(wsd_same_hdr(&ev->hdr, &fr->hdr));
        WSD_CHECK(fr->len == fr->hdr.len);
        WSD_CHECK(ev->msg_end == (!dill__ws_is_control(fr->hdr.opcode) &&
            fr->hdr.fin));
        fr->ended = 1;
        fr->msg_end = ev->msg_end;
        break;
    default:
        WSD_CHECK(0);
    }
}

/* Decodes in[0..n) given in pieces chosen by cut, recording into *log
   (which must be zeroed). */
static void wsd_run(struct wsd_log *log, const struct wsd_cfg *cfg,
      const uint8_t *in, size_t n, wsd_cut_fn cut, void *ctx) {
    /* The decoder unmasks in place: work on a copy. */
    uint8_t *buf = malloc(n ? n : 1);
    WSD_CHECK(buf);
    if(n) memcpy(buf, in, n);
    struct dill__ws_dec d;
    dill__ws_dec_init(&d, cfg->conn_flags, cfg->rsv, cfg->max_msg,
        cfg->dec_flags);
    size_t pos = 0, given = 0;
    for(;;) {
        if(given == n && pos == n) {
            /* Flush what needs no more input (END of a complete frame,
               HEADER/END of nothing). */
        }
        else if(pos == given) {
            size_t k = cut(ctx, given, n - given);
            WSD_CHECK(k >= 1 && k <= n - given);
            given += k;
        }
        struct dill__ws_ev ev;
        memset(&ev, 0x5A, sizeof(ev));
        size_t left = given - pos;
        size_t r = dill__ws_decode(&d, buf + pos, left, &ev);
        WSD_CHECK(r <= left);
        if(ev.type == DILL__WS_EV_ERROR) {
            WSD_CHECK(r == 0);
            WSD_CHECK(ev.code == 1002 || ev.code == 1007 ||
                ev.code == 1009);
            log->error = ev.code;
            log->error_at = given;
            /* The decoder stays dead. */
            struct dill__ws_ev ev2;
            WSD_CHECK(dill__ws_decode(&d, buf + pos, left, &ev2) == 0);
            WSD_CHECK(ev2.type == DILL__WS_EV_ERROR && ev2.code == ev.code);
            break;
        }
        if(ev.type == DILL__WS_EV_MORE) {
            /* MORE exactly when all given input is consumed. */
            WSD_CHECK(r == left);
            pos += r;
            if(given == n) break;
            continue;
        }
        wsd_event(log, &ev, buf + pos);
        pos += r;
    }
    free(buf);
}

/* Two recordings of the same stream must agree: same frames, same
   payloads, same error.  Only the last frame, when unfinished, may differ
   in how much of its payload was delivered before the input ran out or
   the decoder failed (one must be a prefix of the other). */
static int wsd_same(const struct wsd_log *a, const struct wsd_log *b) {
    if(a->nf != b->nf || a->error != b->error) return 0;
    for(size_t i = 0; i != a->nf; i++) {
        const struct wsd_frame *x = &a->f[i], *y = &b->f[i];
        if(!wsd_same_hdr(&x->hdr, &y->hdr)) return 0;
        if(x->ended != y->ended) return 0;
        if(x->ended && (x->msg_end != y->msg_end || x->len != y->len))
            return 0;
        /* Unfinished frames are the last; with prefixes compared below. */
        size_t m = x->len < y->len ? x->len : y->len;
        if(m && memcmp(x->data, y->data, m) != 0) return 0;
    }
    return 1;
}

#endif
