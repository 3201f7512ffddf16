#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "httpparse.h"

/* Character classes, one bit each. */
#define DILL__HP_TCHAR 1   /* RFC 9110 tchar: method and header names. */
#define DILL__HP_VCHAR 2   /* Printable ASCII: request target. */
#define DILL__HP_FIELD 4   /* HTAB, SP, VCHAR, obs-text: values, reason. */

static const uint8_t dill__hp_cls[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6,
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

#define DILL__HP_IS(c, cls) (dill__hp_cls[(uint8_t)(c)] & (cls))

/* Skips the run of characters of class cls starting at p, stopping at lim.
   Unrolled because header values dominate the input. */
static inline const char *dill__hp_span(const char *p, const char *lim,
      int cls) {
    while(lim - p >= 4) {
        if(!DILL__HP_IS(p[0], cls)) return p;
        if(!DILL__HP_IS(p[1], cls)) return p + 1;
        if(!DILL__HP_IS(p[2], cls)) return p + 2;
        if(!DILL__HP_IS(p[3], cls)) return p + 3;
        p += 4;
    }
    while(p < lim && DILL__HP_IS(*p, cls)) p++;
    return p;
}

/* Parsing state.  Only the first DILL__HTTP_MAX_HEAD bytes are ever looked
   at, which bounds the work per call and makes the size limit exact. */
struct dill__hp {
    const char *buf;
    const char *end;
    int clamped;        /* More input exists beyond end. */
    /* Start of the first header line not complete yet, and the headers
       before it: where a resumed parse goes on. */
    size_t mark;
    int markn;
};

/* Running out of input at lim: if lim is an artificial limit (line length
   or head size) the limit is exceeded, otherwise more bytes are needed. */
static int dill__hp_out(const struct dill__hp *s, const char *lim) {
    if(lim < s->end || s->clamped) return -EMSGSIZE;
    return 0;
}

/* The internal steps below return 1 on success (advancing *pp), 0 when more
   input is needed, or a negative error. */

static int dill__hp_eol(const struct dill__hp *s, const char **pp) {
    const char *p = *pp;
    if(p >= s->end) return dill__hp_out(s, s->end);
    if(*p == '\n') {
        *pp = p + 1;
        return 1;
    }
    if(*p != '\r') return -EPROTO;
    if(p + 1 >= s->end) return dill__hp_out(s, s->end);
    if(p[1] != '\n') return -EPROTO;
    *pp = p + 2;
    return 1;
}

/* "HTTP/1." DIGIT, within the start line (which ends at lend). */
static int dill__hp_version(const struct dill__hp *s, const char **pp,
      const char *lend, int *minor) {
    static const char prefix[] = "HTTP/1.";
    const char *p = *pp;
    for(int i = 0; i < 7; i++, p++) {
        if(p >= lend) return dill__hp_out(s, lend);
        if(*p != prefix[i]) return -EPROTO;
    }
    if(p >= lend) return dill__hp_out(s, lend);
    if(*p < '0' || *p > '9') return -EPROTO;
    *minor = *p - '0';
    *pp = p + 1;
    return 1;
}

/* Header lines up to and including the empty line.  Returns the head size,
   0 or a negative error. */
static int dill__hp_headers(struct dill__hp *s, const char *p,
      struct dill__http_head *h, int n) {
    for(;;) {
        s->mark = (size_t)(p - s->buf);
        s->markn = n;
        if(p >= s->end) return dill__hp_out(s, s->end);
        if(*p == '\r' || *p == '\n') {
            int rc = dill__hp_eol(s, &p);
            if(rc <= 0) return rc;
            h->nheaders = n;
            return (int)(p - s->buf);
        }
        if(n == DILL__HTTP_MAX_HEADERS) return -EMSGSIZE;
        /* A line starting with whitespace (obs-fold) fails here too: the
           name is empty. */
        const char *q = dill__hp_span(p, s->end, DILL__HP_TCHAR);
        if(q == s->end) return dill__hp_out(s, s->end);
        if(*q != ':' || q == p) return -EPROTO;
        struct dill__http_header *f = &h->headers[n];
        f->name = p;
        f->namelen = (size_t)(q - p);
        p = q + 1;
        while(p < s->end && (*p == ' ' || *p == '\t')) p++;
        q = dill__hp_span(p, s->end, DILL__HP_FIELD);
        if(q == s->end) return dill__hp_out(s, s->end);
        const char *vend = q;
        while(vend > p && (vend[-1] == ' ' || vend[-1] == '\t')) vend--;
        f->value = p;
        f->valuelen = (size_t)(vend - p);
        /* q is at the first byte that is not a value character: anything
           but a line end is a control character. */
        int rc = dill__hp_eol(s, &q);
        if(rc <= 0) return rc;
        p = q;
        n++;
    }
}

static void dill__hp_setup(struct dill__hp *s, const char *buf, size_t len) {
    s->buf = buf;
    s->clamped = len > DILL__HTTP_MAX_HEAD;
    s->end = buf + (s->clamped ? DILL__HTTP_MAX_HEAD : len);
    s->mark = 0;
    s->markn = 0;
}

static void dill__hp_init(struct dill__hp *s, const char *buf, size_t len,
      struct dill__http_head *h) {
    dill__hp_setup(s, buf, len);
    h->method = NULL;
    h->methodlen = 0;
    h->target = NULL;
    h->targetlen = 0;
    h->minor = 0;
    h->status = 0;
    h->reason = NULL;
    h->reasonlen = 0;
    h->nheaders = 0;
}

/* End of the start line's content beginning at p, for the length limit. */
static const char *dill__hp_lend(const struct dill__hp *s, const char *p) {
    return s->end - p > DILL__HTTP_MAX_LINE ? p + DILL__HTTP_MAX_LINE :
        s->end;
}

/* The request line, at buf; *pp gets the position after it.  Returns 1, 0
   (more input needed) or a negative error. */
static int dill__hp_reqline(struct dill__hp *s, const char *buf,
      const char **pp, struct dill__http_head *h) {
    const char *p = buf;
    int rc;
    while(p < s->end && (*p == '\r' || *p == '\n')) {
        rc = dill__hp_eol(s, &p);
        if(rc <= 0) return rc;
    }
    const char *lend = dill__hp_lend(s, p);
    /* method SP */
    const char *q = dill__hp_span(p, lend, DILL__HP_TCHAR);
    if(q == lend) return dill__hp_out(s, lend);
    if(*q != ' ' || q == p) return -EPROTO;
    h->method = p;
    h->methodlen = (size_t)(q - p);
    p = q + 1;
    /* request-target SP */
    q = dill__hp_span(p, lend, DILL__HP_VCHAR);
    if(q == lend) return dill__hp_out(s, lend);
    if(*q != ' ' || q == p) return -EPROTO;
    h->target = p;
    h->targetlen = (size_t)(q - p);
    p = q + 1;
    /* HTTP-version CRLF */
    rc = dill__hp_version(s, &p, lend, &h->minor);
    if(rc <= 0) return rc;
    rc = dill__hp_eol(s, &p);
    if(rc <= 0) return rc;
    *pp = p;
    return 1;
}

/* The status line, at buf; *pp gets the position after it.  Returns 1, 0
   (more input needed) or a negative error. */
static int dill__hp_statusline(struct dill__hp *s, const char *buf,
      const char **pp, struct dill__http_head *h) {
    const char *p = buf;
    const char *lend = dill__hp_lend(s, p);
    /* HTTP-version SP */
    int rc = dill__hp_version(s, &p, lend, &h->minor);
    if(rc <= 0) return rc;
    if(p >= lend) return dill__hp_out(s, lend);
    if(*p++ != ' ') return -EPROTO;
    /* status-code: 3 digits, the first 1-9 */
    int status = 0;
    for(int i = 0; i < 3; i++, p++) {
        if(p >= lend) return dill__hp_out(s, lend);
        if(*p < '0' || *p > '9' || (i == 0 && *p == '0')) return -EPROTO;
        status = status * 10 + (*p - '0');
    }
    h->status = status;
    /* [SP reason-phrase] CRLF; the line end may sit just past lend. */
    h->reason = p;
    if(p < lend && *p == ' ') {
        p++;
        h->reason = p;
        p = dill__hp_span(p, lend, DILL__HP_FIELD);
        if(p == lend && (p == s->end || (*p != '\r' && *p != '\n')))
            return dill__hp_out(s, lend);
    }
    h->reasonlen = (size_t)(p - h->reason);
    rc = dill__hp_eol(s, &p);
    if(rc <= 0) return rc;
    *pp = p;
    return 1;
}

typedef int (*dill__hp_first)(struct dill__hp *s, const char *buf,
    const char **pp, struct dill__http_head *h);

/* A whole head: the start line, then the headers. */
static int dill__hp_head(struct dill__hp *s, const char *buf, size_t len,
      struct dill__http_head *h, dill__hp_first first) {
    dill__hp_init(s, buf, len, h);
    const char *p;
    int rc = first(s, buf, &p, h);
    if(rc <= 0) return rc;
    return dill__hp_headers(s, p, h, 0);
}

int dill__http_parse_request(const char *buf, size_t len,
      struct dill__http_head *h) {
    struct dill__hp s;
    return dill__hp_head(&s, buf, len, h, dill__hp_reqline);
}

int dill__http_parse_response(const char *buf, size_t len,
      struct dill__http_head *h) {
    struct dill__hp s;
    return dill__hp_head(&s, buf, len, h, dill__hp_statusline);
}

/******************************************************************************/
/*  Resumed parsing                                                           */
/******************************************************************************/

/* Nothing can have changed since the last call when the new bytes hold no
   line end and no limit can have been reached: no line was completed, and
   the errors of an unfinished line wait for its end. */
static int dill__hp_unchanged(const char *buf, size_t len,
      const struct dill__http_pstate *ps) {
    if(len <= ps->seen || len > DILL__HTTP_MAX_HEAD) return 0;
    if(ps->line == 0 && len > DILL__HTTP_MAX_LINE) return 0;
    return memchr(buf + ps->seen, '\n', len - ps->seen) == NULL;
}

static int dill__hp_resume(const char *buf, size_t len,
      struct dill__http_head *h, struct dill__http_pstate *ps,
      dill__hp_first first) {
    if(dill__hp_unchanged(buf, len, ps)) {
        ps->seen = len;
        return 0;
    }
    struct dill__hp s;
    int rc;
    if(ps->line == 0) rc = dill__hp_head(&s, buf, len, h, first);
    else {
        /* The start line and the headers before mark are in h already. */
        dill__hp_setup(&s, buf, len);
        rc = dill__hp_headers(&s, buf + ps->line, h, ps->nheaders);
    }
    ps->seen = len;
    if(rc == 0) {
        ps->line = s.mark;
        ps->nheaders = s.markn;
    }
    return rc;
}

int dill__http_parse_request_r(const char *buf, size_t len,
      struct dill__http_head *h, struct dill__http_pstate *ps) {
    return dill__hp_resume(buf, len, h, ps, dill__hp_reqline);
}

int dill__http_parse_response_r(const char *buf, size_t len,
      struct dill__http_head *h, struct dill__http_pstate *ps) {
    return dill__hp_resume(buf, len, h, ps, dill__hp_statusline);
}

/******************************************************************************/
/*  Helpers                                                                   */
/******************************************************************************/

static inline int dill__hp_lower(int c) {
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int dill__http_ieq(const char *a, size_t alen, const char *b) {
    for(size_t i = 0; i < alen; i++) {
        /* Stops at b's end before reading past it; a may contain NULs. */
        if(b[i] == 0) return 0;
        if(dill__hp_lower((uint8_t)a[i]) != dill__hp_lower((uint8_t)b[i]))
            return 0;
    }
    return b[alen] == 0;
}

int dill__http_find(const struct dill__http_head *h, const char *name,
      int start) {
    if(start < 0) start = 0;
    for(int i = start; i < h->nheaders; i++) {
        if(dill__http_ieq(h->headers[i].name, h->headers[i].namelen, name))
            return i;
    }
    return -1;
}

int dill__http_list_next(const char *value, size_t len, size_t *pos,
      const char **elem, size_t *elemlen) {
    size_t i = *pos;
    while(i < len && (value[i] == ' ' || value[i] == '\t' ||
          value[i] == ','))
        i++;
    if(i >= len) {
        *pos = len;
        return 0;
    }
    size_t start = i;
    int quoted = 0;
    for(; i < len; i++) {
        char c = value[i];
        if(quoted) {
            if(c == '\\' && i + 1 < len) i++;
            else if(c == '"') quoted = 0;
        } else if(c == '"') {
            quoted = 1;
        } else if(c == ',') {
            break;
        }
    }
    size_t end = i;
    while(end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
        end--;
    *elem = value + start;
    *elemlen = end - start;
    *pos = i;
    return 1;
}

int dill__http_has_token(const char *value, size_t len, const char *token) {
    size_t pos = 0;
    const char *e;
    size_t elen;
    while(dill__http_list_next(value, len, &pos, &e, &elen)) {
        if(dill__http_ieq(e, elen, token)) return 1;
    }
    return 0;
}

int dill__http_is_token(const char *s, size_t len) {
    return len > 0 && dill__hp_span(s, s + len, DILL__HP_TCHAR) == s + len;
}

int dill__http_is_target(const char *s, size_t len) {
    return len > 0 && dill__hp_span(s, s + len, DILL__HP_VCHAR) == s + len;
}

int dill__http_is_value(const char *s, size_t len) {
    return dill__hp_span(s, s + len, DILL__HP_FIELD) == s + len;
}
