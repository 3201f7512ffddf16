/* TLS 1.3 record protection (see tlsrec.h). */

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "proto/tlsrec.h"

/* The ciphers are fetched once: an implicit fetch at every context
   initialisation costs a provider lookup. */
static EVP_CIPHER *dill__tlsrec_ciphers[3];
static pthread_once_t dill__tlsrec_once = PTHREAD_ONCE_INIT;

static void dill__tlsrec_term_ciphers(void) {
    for(int i = 0; i != 3; i++) {
        EVP_CIPHER_free(dill__tlsrec_ciphers[i]);
        dill__tlsrec_ciphers[i] = NULL;
    }
}

static void dill__tlsrec_fetch(void) {
    static const char *const names[3] = {
        "AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305"};
    for(int i = 0; i != 3; i++)
        dill__tlsrec_ciphers[i] = EVP_CIPHER_fetch(NULL, names[i], NULL);
    OPENSSL_atexit(dill__tlsrec_term_ciphers);
}

int dill__tlsrec_supported(uint16_t suite) {
    return suite >= DILL__TLSREC_AES128GCM && suite <= DILL__TLSREC_CHACHA20;
}

static size_t dill__tlsrec_keylen(uint16_t suite) {
    return suite == DILL__TLSREC_AES128GCM ? 16 : 32;
}

static const EVP_MD *dill__tlsrec_md(uint16_t suite) {
    return suite == DILL__TLSREC_AES256GCM ? EVP_sha384() : EVP_sha256();
}

int dill__tlsrec_expand(uint16_t suite, const uint8_t *secret,
      const char *label, const uint8_t *ctx, size_t ctxlen, uint8_t *out,
      size_t outlen) {
    size_t llen = strlen(label);
    if(!dill__tlsrec_supported(suite) || outlen > 255 || llen > 249 ||
       ctxlen > 255)
        return -1;
    const EVP_MD *md = dill__tlsrec_md(suite);
    size_t hlen = (size_t)EVP_MD_get_size(md);
    /* HkdfLabel, then the block counter (RFC 5869 2.3). */
    uint8_t info[2 + 1 + 255 + 1 + 255 + 1];
    size_t ilen = 0;
    info[ilen++] = 0;
    info[ilen++] = (uint8_t)outlen;
    info[ilen++] = (uint8_t)(6 + llen);
    memcpy(info + ilen, "tls13 ", 6);
    ilen += 6;
    memcpy(info + ilen, label, llen);
    ilen += llen;
    info[ilen++] = (uint8_t)ctxlen;
    if(ctxlen) memcpy(info + ilen, ctx, ctxlen);
    ilen += ctxlen;
    uint8_t t[64 + sizeof(info)];
    size_t tlen = 0;
    size_t done = 0;
    for(uint8_t i = 1; done < outlen; i++) {
        /* T(i) = HMAC(secret, T(i-1) | info | i) */
        memcpy(t + tlen, info, ilen);
        t[tlen + ilen] = i;
        uint8_t blk[64];
        unsigned int blen = 0;
        if(!HMAC(md, secret, (int)hlen, t, tlen + ilen + 1, blk, &blen))
            return -1;
        size_t k = outlen - done < blen ? outlen - done : blen;
        memcpy(out + done, blk, k);
        done += k;
        memcpy(t, blk, blen);
        tlen = blen;
        OPENSSL_cleanse(blk, sizeof(blk));
    }
    OPENSSL_cleanse(t, sizeof(t));
    return 0;
}

/* Directions at rest (dill__tlsrec_resting). */
static __thread size_t dill__tlsrec_nrest;

/* A cipher context keyed with d->key in place of d's (freed). */
static int dill__tlsrec_ctx(struct dill__tlsrec_dir *d) {
    pthread_once(&dill__tlsrec_once, dill__tlsrec_fetch);
    EVP_CIPHER *cipher = dill__tlsrec_ciphers[d->suite -
        DILL__TLSREC_AES128GCM];
    EVP_CIPHER_CTX *c = cipher ? EVP_CIPHER_CTX_new() : NULL;
    if(!c || EVP_CipherInit_ex(c, cipher, NULL, d->key, NULL, d->enc) != 1) {
        EVP_CIPHER_CTX_free(c);
        errno = ENOMEM;
        return -1;
    }
    EVP_CIPHER_CTX_free(d->c);
    d->c = c;
    return 0;
}

/* Key and iv from d->secret into a fresh cipher context. */
static int dill__tlsrec_key(struct dill__tlsrec_dir *d) {
    size_t klen = dill__tlsrec_keylen(d->suite);
    if(dill__tlsrec_expand(d->suite, d->secret, "key", NULL, 0, d->key,
       klen) < 0 ||
       dill__tlsrec_expand(d->suite, d->secret, "iv", NULL, 0, d->iv,
       12) < 0) {
        errno = ENOMEM;
        return -1;
    }
    if(dill__tlsrec_ctx(d) < 0) return -1;
    if(d->rest) {d->rest = 0; dill__tlsrec_nrest--;}
    d->seq = 0;
    return 0;
}

void dill__tlsrec_rest(struct dill__tlsrec_dir *d) {
    if(d->rest) return;
    EVP_CIPHER_CTX_free(d->c);
    d->c = NULL;
    d->rest = 1;
    dill__tlsrec_nrest++;
}

int dill__tlsrec_wake(struct dill__tlsrec_dir *d) {
    if(!d->rest) return 0;
    if(dill__tlsrec_ctx(d) < 0) return -1;
    d->rest = 0;
    dill__tlsrec_nrest--;
    return 0;
}

size_t dill__tlsrec_resting(void) {
    return dill__tlsrec_nrest;
}

int dill__tlsrec_init(struct dill__tlsrec_dir *d, uint16_t suite, int enc,
      const uint8_t *secret, size_t hlen) {
    size_t want = suite == DILL__TLSREC_AES256GCM ? 48 : 32;
    if(!dill__tlsrec_supported(suite) || hlen != want) {
        errno = EINVAL;
        return -1;
    }
    d->suite = suite;
    d->enc = enc ? 1 : 0;
    d->hlen = (uint8_t)hlen;
    memcpy(d->secret, secret, hlen);
    return dill__tlsrec_key(d);
}

int dill__tlsrec_update(struct dill__tlsrec_dir *d) {
    uint8_t next[48];
    if(dill__tlsrec_expand(d->suite, d->secret, "traffic upd", NULL, 0,
       next, d->hlen) < 0) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(d->secret, next, d->hlen);
    OPENSSL_cleanse(next, sizeof(next));
    return dill__tlsrec_key(d);
}

void dill__tlsrec_term(struct dill__tlsrec_dir *d) {
    if(d->rest) {d->rest = 0; dill__tlsrec_nrest--;}
    EVP_CIPHER_CTX_free(d->c);
    d->c = NULL;
    OPENSSL_cleanse(d->secret, sizeof(d->secret));
    OPENSSL_cleanse(d->iv, sizeof(d->iv));
    OPENSSL_cleanse(d->key, sizeof(d->key));
}

/* The per-record nonce (RFC 8446 5.3) goes into the context; then the
   header as additional data. */
static int dill__tlsrec_start(struct dill__tlsrec_dir *d,
      const uint8_t *hdr) {
    uint8_t nonce[12];
    memcpy(nonce, d->iv, 12);
    for(int i = 0; i != 8; i++)
        nonce[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
    int outl = 0;
    if(EVP_CipherInit_ex(d->c, NULL, NULL, NULL, nonce, -1) != 1 ||
       EVP_CipherUpdate(d->c, NULL, &outl, hdr, DILL__TLSREC_HDR) != 1)
        return -1;
    return 0;
}

ssize_t dill__tlsrec_seal(struct dill__tlsrec_dir *d, uint8_t type,
      const uint8_t *content, size_t n, size_t pad, uint8_t *out,
      size_t outlen) {
    if(n > DILL__TLSREC_MAXPT || pad > DILL__TLSREC_MAXPT - n ||
       outlen < n + pad + DILL__TLSREC_OVERHEAD) {
        errno = EMSGSIZE;
        return -1;
    }
    if(d->seq == UINT64_MAX) {errno = EOVERFLOW; return -1;}
    if(dill__tlsrec_wake(d) < 0) return -1;
    size_t ilen = n + 1 + pad;
    size_t ctlen = ilen + DILL__TLSREC_TAG;
    uint8_t *body = out + DILL__TLSREC_HDR;
    if(content != body) memmove(body, content, n);
    body[n] = type;
    memset(body + n + 1, 0, pad);
    out[0] = DILL__TLSREC_APPDATA;
    out[1] = 3;
    out[2] = 3;
    out[3] = (uint8_t)(ctlen >> 8);
    out[4] = (uint8_t)ctlen;
    int outl = 0, fin = 0;
    if(dill__tlsrec_start(d, out) < 0 ||
       EVP_CipherUpdate(d->c, body, &outl, body, (int)ilen) != 1 ||
       EVP_CipherFinal_ex(d->c, body + outl, &fin) != 1 ||
       EVP_CIPHER_CTX_ctrl(d->c, EVP_CTRL_AEAD_GET_TAG, DILL__TLSREC_TAG,
          body + ilen) != 1) {
        errno = EIO;
        return -1;
    }
    d->seq++;
    return (ssize_t)(DILL__TLSREC_HDR + ctlen);
}

ssize_t dill__tlsrec_reclen(const uint8_t *p, size_t len) {
    if(len < DILL__TLSREC_HDR) return 0;
    /* The legacy version is to be ignored (RFC 8446 5.1). */
    if(p[0] != DILL__TLSREC_APPDATA) return -DILL__TLSREC_UNEXPECTED;
    size_t ctlen = (size_t)p[3] << 8 | p[4];
    if(ctlen > DILL__TLSREC_MAXCT) return -DILL__TLSREC_OVERFLOW;
    if(ctlen < DILL__TLSREC_TAG + 1) return -DILL__TLSREC_DECODE;
    return (ssize_t)(DILL__TLSREC_HDR + ctlen);
}

ssize_t dill__tlsrec_open(struct dill__tlsrec_dir *d, uint8_t *rec,
      size_t reclen, uint8_t *out, uint8_t *type) {
    ssize_t want = dill__tlsrec_reclen(rec, reclen);
    if(want <= 0) return want ? want : -DILL__TLSREC_DECODE;
    if((size_t)want != reclen) return -DILL__TLSREC_DECODE;
    if(d->seq == UINT64_MAX || dill__tlsrec_wake(d) < 0)
        return -DILL__TLSREC_INTERNAL;
    size_t ilen = reclen - DILL__TLSREC_HDR - DILL__TLSREC_TAG;
    uint8_t *body = rec + DILL__TLSREC_HDR;
    if(!out) out = body;
    int outl = 0, fin = 0;
    if(dill__tlsrec_start(d, rec) < 0 ||
       EVP_CipherUpdate(d->c, out, &outl, body, (int)ilen) != 1 ||
       EVP_CIPHER_CTX_ctrl(d->c, EVP_CTRL_AEAD_SET_TAG, DILL__TLSREC_TAG,
          body + ilen) != 1)
        return -DILL__TLSREC_INTERNAL;
    if(EVP_CipherFinal_ex(d->c, out + outl, &fin) != 1)
        return -DILL__TLSREC_BAD_MAC;
    d->seq++;
    /* Checked after the tag: the length is the peer's (authenticated). */
    if(ilen > DILL__TLSREC_MAXPT + 1) return -DILL__TLSREC_OVERFLOW;
    size_t i = ilen;
    while(i && out[i - 1] == 0) i--;
    if(i == 0) return -DILL__TLSREC_UNEXPECTED;
    *type = out[i - 1];
    return (ssize_t)(i - 1);
}

int dill__tlsrec_hsfeed(struct dill__tlsrec_hs *h, const uint8_t *p,
      size_t len, int server, int *keyupdate) {
    *keyupdate = 0;
    if(len == 0) return -DILL__TLSREC_UNEXPECTED;
    while(len) {
        if(h->hdrlen < 4) {
            h->hdr[h->hdrlen++] = *p++;
            len--;
            if(h->hdrlen < 4) continue;
            h->type = h->hdr[0];
            h->left = (uint32_t)h->hdr[1] << 16 | (uint32_t)h->hdr[2] << 8 |
                h->hdr[3];
            /* new_session_ticket(4) to a client; key_update(24). */
            if(h->type == 24) {
                if(h->left != 1) return -DILL__TLSREC_DECODE;
            } else if(h->type != 4 || server) {
                return -DILL__TLSREC_UNEXPECTED;
            }
            if(h->left == 0) h->hdrlen = 0;
            continue;
        }
        if(h->type == 24) {
            uint8_t req = *p++;
            len--;
            if(req > 1) return -DILL__TLSREC_DECODE;
            if(len) return -DILL__TLSREC_UNEXPECTED;
            h->hdrlen = 0;
            h->left = 0;
            *keyupdate = req + 1;
            return 0;
        }
        size_t k = len < h->left ? len : h->left;
        p += k;
        len -= k;
        h->left -= (uint32_t)k;
        if(h->left == 0) h->hdrlen = 0;
    }
    return 0;
}
