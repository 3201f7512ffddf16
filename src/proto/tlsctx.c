/* OpenSSL contexts for the TLS layer: loading certificates, keys and CAs
   (files are read by us, then parsed from memory, so that file errors keep
   their errno), server contexts, and a small cache so that repeated
   attaches with the same files do not parse them again. */

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "proto/tls.h"
#include "util/opts.h"

/* Largest PEM file we read (CA bundles are a few hundred KiB). */
#define DILL__TLS_MAXFILE (16 * 1024 * 1024)

/******************************************************************************/
/*  Error mapping                                                             */
/******************************************************************************/

/* Alerts that mean "your certificate is not acceptable". */
static int dill__tls_alert_access(int alert) {
    switch(alert) {
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_ACCESS_DENIED:
    case SSL_AD_CERTIFICATE_REQUIRED:
        return 1;
    default:
        return 0;
    }
}

/* Why the last TLS call failed in this thread (dill_tls_last_error). */
static __thread char dill__tls_lasterr[256];

void dill__tls_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dill__tls_lasterr, sizeof(dill__tls_lasterr), fmt, ap);
    va_end(ap);
}

ssize_t dill_tls_last_error(char *buf, size_t len) {
    if(!buf && len) {errno = EINVAL; return -1;}
    size_t n = strlen(dill__tls_lasterr);
    if(n >= len) {errno = EMSGSIZE; return -1;}
    memcpy(buf, dill__tls_lasterr, n + 1);
    return (ssize_t)n;
}

int dill__tls_alert_errno(int desc) {
    dill__tls_note("tlsv1 alert %s", SSL_alert_desc_string_long(desc));
    return dill__tls_alert_access(desc) ? EACCES : EPROTO;
}

int dill__tls_queue_errno(void) {
    int err = 0;
    unsigned long e;
    while((e = ERR_get_error()) != 0) {
        int m = EPROTO;
        if(ERR_GET_LIB(e) == ERR_LIB_SSL) {
            int reason = ERR_GET_REASON(e);
            if(reason == SSL_R_CERTIFICATE_VERIFY_FAILED ||
               reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
                m = EACCES;
            else if(reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)
                m = ECONNRESET;
            else if(reason >= SSL_AD_REASON_OFFSET &&
                    reason < SSL_AD_REASON_OFFSET + 256 &&
                    dill__tls_alert_access(reason - SSL_AD_REASON_OFFSET))
                m = EACCES;
        }
        /* A certificate verdict is the most useful thing to report. */
        if(!err || m == EACCES) {
            err = m;
            const char *r = ERR_reason_error_string(e);
            dill__tls_note("%s", r ? r : "TLS error");
        }
    }
    return err;
}

/******************************************************************************/
/*  Loading PEM                                                               */
/******************************************************************************/

/* Reads a whole file into a NUL-terminated malloc'd buffer. */
static char *dill__tls_readfile(const char *name, size_t *len) {
    FILE *f = fopen(name, "rb");
    if(!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while(buf) {
        if(n + 1 >= cap) {
            if(cap >= DILL__TLS_MAXFILE) {free(buf); buf = NULL; break;}
            char *nb = realloc(buf, cap * 2);
            if(!nb) {free(buf); buf = NULL; break;}
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, f);
        n += r;
        if(r == 0) {
            if(ferror(f)) {free(buf); buf = NULL; errno = EIO;}
            break;
        }
    }
    int err = errno;
    fclose(f);
    if(!buf) {errno = err == 0 ? ENOMEM : err; return NULL;}
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Never prompts for a pass phrase: encrypted keys are refused. */
static int dill__tls_nopass(char *buf, int size, int rwflag, void *u) {
    return -1;
}

/* PEM text from memory (pem) or from a file (name). */
static BIO *dill__tls_pembio(const char *pem, const char *name, char **hold) {
    *hold = NULL;
    size_t len;
    if(!pem) {
        pem = *hold = dill__tls_readfile(name, &len);
        if(!pem) return NULL;
    } else {
        len = strlen(pem);
    }
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if(!b) {free(*hold); *hold = NULL; errno = ENOMEM;}
    return b;
}

/* Certificate chain (leaf first) and private key into ctx. */
static int dill__tls_usecert(SSL_CTX *ctx, const char *certpem,
      const char *certfile, const char *keypem, const char *keyfile) {
    char *hold;
    BIO *b = dill__tls_pembio(certpem, certfile, &hold);
    if(!b) return -1;
    int ok = 0;
    X509 *x = PEM_read_bio_X509_AUX(b, NULL, dill__tls_nopass, NULL);
    if(x && SSL_CTX_use_certificate(ctx, x) == 1) {
        ok = 1;
        X509 *ca;
        while(ok && (ca = PEM_read_bio_X509(b, NULL, dill__tls_nopass, NULL))) {
            if(SSL_CTX_add0_chain_cert(ctx, ca) != 1) {X509_free(ca); ok = 0;}
        }
    }
    X509_free(x);
    BIO_free(b);
    free(hold);
    ERR_clear_error();
    if(!ok) {errno = EINVAL; return -1;}
    b = dill__tls_pembio(keypem, keyfile, &hold);
    if(!b) return -1;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, dill__tls_nopass, NULL);
    ok = k && SSL_CTX_use_PrivateKey(ctx, k) == 1 &&
        SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(k);
    BIO_free(b);
    free(hold);
    ERR_clear_error();
    if(!ok) {errno = EINVAL; return -1;}
    return 0;
}

/* Trusted CA certificates into ctx's store; for servers their names also
   go into the certificate request. */
static int dill__tls_useca(SSL_CTX *ctx, const char *pem, const char *file,
      int names) {
    char *hold;
    BIO *b = dill__tls_pembio(pem, file, &hold);
    if(!b) return -1;
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    int n = 0, ok = 1;
    X509 *x;
    while(ok && (x = PEM_read_bio_X509(b, NULL, dill__tls_nopass, NULL))) {
        if(X509_STORE_add_cert(st, x) != 1) ok = 0;
        if(names && SSL_CTX_add_client_CA(ctx, x) != 1) ok = 0;
        X509_free(x);
        n++;
    }
    BIO_free(b);
    free(hold);
    ERR_clear_error();
    if(!ok || n == 0) {errno = EINVAL; return -1;}
    return 0;
}

/******************************************************************************/
/*  ALPN                                                                      */
/******************************************************************************/

int dill__tls_alpn_wire(const char *const *alpn, unsigned char **out,
      size_t *len) {
    *out = NULL;
    *len = 0;
    if(!alpn || !alpn[0]) return 0;
    size_t total = 0;
    for(size_t i = 0; alpn[i]; i++) {
        size_t l = strlen(alpn[i]);
        if(l == 0 || l > 255) return -EINVAL;
        total += l + 1;
        if(total > 65535) return -EINVAL;
    }
    unsigned char *w = malloc(total);
    if(!w) return -ENOMEM;
    size_t pos = 0;
    for(size_t i = 0; alpn[i]; i++) {
        size_t l = strlen(alpn[i]);
        w[pos++] = (unsigned char)l;
        memcpy(w + pos, alpn[i], l);
        pos += l;
    }
    *out = w;
    *len = total;
    return 0;
}

/* The server's list lives in the SSL_CTX's ex_data and dies with it. */
struct dill__tls_alpn {
    size_t len;
    unsigned char wire[];
};

static int dill__tls_alpn_idx = -1;
static int dill__tls_sni_idx = -1;
static pthread_once_t dill__tls_once = PTHREAD_ONCE_INIT;

static void dill__tls_alpn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
      int idx, long argl, void *argp) {
    free(ptr);
}

static void dill__tls_cache_term(void);
static void dill__tls_sni_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
    int idx, long argl, void *argp);

static void dill__tls_init(void) {
    dill__tls_alpn_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
        dill__tls_alpn_free);
    dill__tls_sni_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
        dill__tls_sni_free);
    /* Cached contexts go when OpenSSL shuts down (at exit), while OpenSSL
       still works; a destructor of ours might run after that. */
    OPENSSL_atexit(dill__tls_cache_term);
}

/* Server preference: the first of our names that the client offers. */
static int dill__tls_alpn_select(SSL *ssl, const unsigned char **out,
      unsigned char *outlen, const unsigned char *in, unsigned int inlen,
      void *arg) {
    const struct dill__tls_alpn *a = arg;
    for(size_t i = 0; i < a->len; i += 1 + a->wire[i]) {
        for(unsigned int j = 0; j < inlen; j += 1 + in[j]) {
            if(j + 1 + in[j] > inlen) break;
            if(in[j] == a->wire[i] &&
               memcmp(in + j + 1, a->wire + i + 1, in[j]) == 0) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int dill__tls_setalpn(SSL_CTX *ctx, const char *const *alpn) {
    unsigned char *w;
    size_t len;
    int rc = dill__tls_alpn_wire(alpn, &w, &len);
    if(rc < 0) {errno = -rc; return -1;}
    if(!w) return 0;
    struct dill__tls_alpn *a = malloc(sizeof(*a) + len);
    if(!a) {free(w); errno = ENOMEM; return -1;}
    a->len = len;
    memcpy(a->wire, w, len);
    free(w);
    if(dill__tls_alpn_idx < 0 ||
       SSL_CTX_set_ex_data(ctx, dill__tls_alpn_idx, a) != 1) {
        free(a);
        errno = ENOMEM;
        return -1;
    }
    SSL_CTX_set_alpn_select_cb(ctx, dill__tls_alpn_select, a);
    return 0;
}

/******************************************************************************/
/*  Contexts                                                                  */
/******************************************************************************/

static int dill__tls_version(int v, int *out) {
    if(v == 0) v = DILL_TLS_VERSION_1_2;
    if(v != DILL_TLS_VERSION_1_2 && v != DILL_TLS_VERSION_1_3) return -1;
    *out = v == DILL_TLS_VERSION_1_2 ? TLS1_2_VERSION : TLS1_3_VERSION;
    return 0;
}

/* Settings common to both sides. */
static SSL_CTX *dill__tls_newctx(int server, int minv) {
    pthread_once(&dill__tls_once, dill__tls_init);
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() :
        TLS_client_method());
    if(!ctx) {ERR_clear_error(); errno = ENOMEM; return NULL;}
    SSL_CTX_set_min_proto_version(ctx, minv);
    /* Renegotiation would make a write wait for a read. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    /* Idle connections give their record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_default_passwd_cb(ctx, dill__tls_nopass);
    SSL_CTX_set_keylog_callback(ctx, dill__tls_keylog);
    return ctx;
}

static SSL_CTX *dill__tls_fail(SSL_CTX *ctx) {
    int err = errno;
    SSL_CTX_free(ctx);
    ERR_clear_error();
    errno = err;
    return NULL;
}

struct dill_tls_server_ctx *dill_tls_server_ctx_new(
      const struct dill_tls_server_options *user) {
    int minv;
    struct dill_tls_server_options o, *opts = &o;
    if(!user || dill__opts_load(&o, sizeof(o), user) < 0 ||
       dill__tls_version(opts->min_version, &minv) < 0 ||
       (!opts->cert_pem && !opts->cert_file) ||
       (!opts->key_pem && !opts->key_file) ||
       opts->client_auth < DILL_TLS_CLIENT_AUTH_NONE ||
       opts->client_auth > DILL_TLS_CLIENT_AUTH_REQUIRE ||
       (opts->client_auth != DILL_TLS_CLIENT_AUTH_NONE &&
        !opts->client_ca_file && !opts->client_ca_pem)) {
        errno = EINVAL;
        return NULL;
    }
    SSL_CTX *ctx = dill__tls_newctx(1, minv);
    if(!ctx) return NULL;
    if(dill__tls_usecert(ctx, opts->cert_pem, opts->cert_file,
       opts->key_pem, opts->key_file) < 0) return (void*)dill__tls_fail(ctx);
    if(opts->client_auth != DILL_TLS_CLIENT_AUTH_NONE) {
        if(dill__tls_useca(ctx, opts->client_ca_pem, opts->client_ca_file,
           1) < 0) return (void*)dill__tls_fail(ctx);
        int mode = SSL_VERIFY_PEER;
        if(opts->client_auth == DILL_TLS_CLIENT_AUTH_REQUIRE)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, NULL);
    }
    /* Session resumption needs a context id once clients are verified. */
    static const unsigned char sid[] = "dill";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
    if(dill__tls_setalpn(ctx, opts->alpn) < 0)
        return (void*)dill__tls_fail(ctx);
    return (struct dill_tls_server_ctx*)ctx;
}

/******************************************************************************/
/*  Certificates chosen by SNI                                                */
/******************************************************************************/

/* A server's extra certificates, in ex_data; dies with the context. */
struct dill__tls_sni {
    size_t n;
    struct {char *name; SSL_CTX *ctx;} e[];
};

static void dill__tls_sni_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
      int idx, long argl, void *argp) {
    struct dill__tls_sni *s = ptr;
    if(!s) return;
    for(size_t i = 0; i < s->n; i++) {
        free(s->e[i].name);
        SSL_CTX_free(s->e[i].ctx);
    }
    free(s);
}

/* "*.example.com" matches "a.example.com", not "example.com" nor
   "a.b.example.com". */
static int dill__tls_sni_match(const char *pat, const char *name) {
    if(pat[0] != '*') return strcasecmp(pat, name) == 0;
    const char *dot = strchr(name, '.');
    return dot && dot != name && strcasecmp(pat + 1, dot) == 0;
}

static int dill__tls_sni_select(SSL *ssl, int *alert, void *arg) {
    const struct dill__tls_sni *s = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if(!name) return SSL_TLSEXT_ERR_NOACK;
    for(size_t i = 0; i < s->n; i++) {
        if(dill__tls_sni_match(s->e[i].name, name)) {
            SSL_set_SSL_CTX(ssl, s->e[i].ctx);
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

static int dill__tls_sni_name_ok(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if(n == 0 || n > 253) return 0;
    if(name[0] == '*' && (n < 3 || name[1] != '.')) return 0;
    for(size_t i = name[0] == '*' ? 1 : 0; i < n; i++) {
        char c = name[i];
        if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '-' || c == '.')) return 0;
    }
    return 1;
}

int dill_tls_server_ctx_sni(struct dill_tls_server_ctx *sctx,
      const char *name, struct dill_tls_server_ctx *other) {
    SSL_CTX *ctx = (SSL_CTX*)sctx;
    if(!ctx || !other || !dill__tls_sni_name_ok(name)) {
        errno = EINVAL;
        return -1;
    }
    struct dill__tls_sni *s = SSL_CTX_get_ex_data(ctx, dill__tls_sni_idx);
    size_t n = s ? s->n : 0;
    struct dill__tls_sni *t = malloc(sizeof(*t) + (n + 1) * sizeof(t->e[0]));
    char *copy = strdup(name);
    if(!t || !copy) {free(t); free(copy); errno = ENOMEM; return -1;}
    if(n) memcpy(t->e, s->e, n * sizeof(t->e[0]));
    t->n = n + 1;
    t->e[n].name = copy;
    t->e[n].ctx = (SSL_CTX*)other;
    if(SSL_CTX_set_ex_data(ctx, dill__tls_sni_idx, t) != 1) {
        free(t);
        free(copy);
        errno = ENOMEM;
        return -1;
    }
    SSL_CTX_up_ref((SSL_CTX*)other);
    free(s);    /* its entries live on in t */
    SSL_CTX_set_tlsext_servername_callback(ctx, dill__tls_sni_select);
    SSL_CTX_set_tlsext_servername_arg(ctx, t);
    return 0;
}

void dill__tls_server_ctx_ref(struct dill_tls_server_ctx *ctx) {
    SSL_CTX_up_ref((SSL_CTX*)ctx);
}

void dill_tls_server_ctx_free(struct dill_tls_server_ctx *ctx) {
    /* Connections hold their own references. */
    SSL_CTX_free((SSL_CTX*)ctx);
}

static SSL_CTX *dill__tls_client_new(
      const struct dill_tls_client_options *opts, int verify) {
    SSL_CTX *ctx = dill__tls_newctx(0, TLS1_2_VERSION);
    if(!ctx) return NULL;
    if(verify) {
        if(opts->ca_file &&
           dill__tls_useca(ctx, NULL, opts->ca_file, 0) < 0)
            return dill__tls_fail(ctx);
        if(opts->ca_pem && dill__tls_useca(ctx, opts->ca_pem, NULL, 0) < 0)
            return dill__tls_fail(ctx);
        if(opts->ca_dir &&
           SSL_CTX_load_verify_dir(ctx, opts->ca_dir) != 1) {
            errno = EINVAL;
            return dill__tls_fail(ctx);
        }
        if(!opts->ca_file && !opts->ca_dir && !opts->ca_pem &&
           SSL_CTX_set_default_verify_paths(ctx) != 1) {
            errno = EINVAL;
            return dill__tls_fail(ctx);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if((opts->cert_file || opts->cert_pem) && dill__tls_usecert(ctx,
       opts->cert_pem, opts->cert_file, opts->key_pem, opts->key_file) < 0)
        return dill__tls_fail(ctx);
    ERR_clear_error();
    return ctx;
}

/******************************************************************************/
/*  Cache                                                                     */
/******************************************************************************/

/* Identity of a file's current content, to notice replaced certificates. */
struct dill__tls_fsig {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

#define DILL__TLS_NKEYS 4
#define DILL__TLS_CACHE 16

enum {DILL__TLS_SERVER = 1, DILL__TLS_CLIENT, DILL__TLS_CLIENT_NOVERIFY};

struct dill__tls_centry {
    int kind;                       /* 0: free slot */
    char *key[DILL__TLS_NKEYS];
    struct dill__tls_fsig sig[DILL__TLS_NKEYS];
    SSL_CTX *ctx;
    uint64_t used;
};

static pthread_mutex_t dill__tls_cmutex = PTHREAD_MUTEX_INITIALIZER;
static struct dill__tls_centry dill__tls_cache[DILL__TLS_CACHE];
static uint64_t dill__tls_ctick;

static void dill__tls_sigs(const char *const *keys, int files,
      struct dill__tls_fsig *sig) {
    memset(sig, 0, sizeof(*sig) * DILL__TLS_NKEYS);
    for(int i = 0; i < DILL__TLS_NKEYS; i++) {
        struct stat st;
        if(!(files & (1 << i)) || !keys[i] || stat(keys[i], &st) < 0)
            continue;
        sig[i].dev = st.st_dev;
        sig[i].ino = st.st_ino;
        sig[i].size = st.st_size;
        sig[i].mtime = st.st_mtim;
    }
}

static int dill__tls_streq(const char *a, const char *b) {
    if(!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static int dill__tls_sigeq(const struct dill__tls_fsig *a,
      const struct dill__tls_fsig *b) {
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
        a->mtime.tv_sec == b->mtime.tv_sec &&
        a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Cached context or NULL; a hit returns a new reference. */
static SSL_CTX *dill__tls_lookup(int kind, const char *const *keys,
      const struct dill__tls_fsig *sig) {
    SSL_CTX *ctx = NULL;
    pthread_mutex_lock(&dill__tls_cmutex);
    for(int i = 0; i < DILL__TLS_CACHE && !ctx; i++) {
        struct dill__tls_centry *e = &dill__tls_cache[i];
        if(e->kind != kind) continue;
        int j;
        for(j = 0; j < DILL__TLS_NKEYS; j++)
            if(!dill__tls_streq(e->key[j], keys[j]) ||
               !dill__tls_sigeq(&e->sig[j], &sig[j])) break;
        if(j < DILL__TLS_NKEYS) continue;
        if(SSL_CTX_up_ref(e->ctx) == 1) {
            ctx = e->ctx;
            e->used = ++dill__tls_ctick;
        }
    }
    pthread_mutex_unlock(&dill__tls_cmutex);
    return ctx;
}

static void dill__tls_evict(struct dill__tls_centry *e) {
    for(int j = 0; j < DILL__TLS_NKEYS; j++) free(e->key[j]);
    SSL_CTX_free(e->ctx);
    memset(e, 0, sizeof(*e));
}

/* Remembers ctx (takes no reference from the caller); failures to
   remember are harmless. */
static void dill__tls_insert(int kind, const char *const *keys,
      const struct dill__tls_fsig *sig, SSL_CTX *ctx) {
    struct dill__tls_centry n;
    memset(&n, 0, sizeof(n));
    n.kind = kind;
    for(int j = 0; j < DILL__TLS_NKEYS; j++) {
        if(keys[j] && !(n.key[j] = strdup(keys[j]))) {
            for(int k = 0; k < j; k++) free(n.key[k]);
            return;
        }
        n.sig[j] = sig[j];
    }
    if(SSL_CTX_up_ref(ctx) != 1) {
        for(int k = 0; k < DILL__TLS_NKEYS; k++) free(n.key[k]);
        return;
    }
    n.ctx = ctx;
    pthread_mutex_lock(&dill__tls_cmutex);
    struct dill__tls_centry *victim = &dill__tls_cache[0];
    for(int i = 0; i < DILL__TLS_CACHE; i++) {
        struct dill__tls_centry *e = &dill__tls_cache[i];
        if(e->kind == kind) {
            /* The same names with older file contents: replace. */
            int j;
            for(j = 0; j < DILL__TLS_NKEYS; j++)
                if(!dill__tls_streq(e->key[j], keys[j])) break;
            if(j == DILL__TLS_NKEYS) {victim = e; break;}
        }
        if(!e->kind) {victim = e; break;}
        if(e->used < victim->used) victim = e;
    }
    if(victim->kind) dill__tls_evict(victim);
    n.used = ++dill__tls_ctick;
    *victim = n;
    pthread_mutex_unlock(&dill__tls_cmutex);
}

static void dill__tls_cache_term(void) {
    for(int i = 0; i < DILL__TLS_CACHE; i++)
        if(dill__tls_cache[i].kind) dill__tls_evict(&dill__tls_cache[i]);
}

SSL_CTX *dill__tls_client_ctx(const struct dill_tls_client_options *opts,
      int verify) {
    const char *keys[DILL__TLS_NKEYS] = {
        verify ? opts->ca_file : NULL, verify ? opts->ca_dir : NULL,
        opts->cert_file, opts->key_file};
    if(!(opts->cert_file || opts->cert_pem) !=
       !(opts->key_file || opts->key_pem)) {
        errno = EINVAL;
        return NULL;
    }
    /* Text in memory has no file identity to cache by. */
    if(opts->ca_pem || opts->cert_pem || opts->key_pem)
        return dill__tls_client_new(opts, verify);
    int kind = verify ? DILL__TLS_CLIENT : DILL__TLS_CLIENT_NOVERIFY;
    struct dill__tls_fsig sig[DILL__TLS_NKEYS];
    dill__tls_sigs(keys, 1 | 4 | 8, sig);
    SSL_CTX *ctx = dill__tls_lookup(kind, keys, sig);
    if(ctx) return ctx;
    ctx = dill__tls_client_new(opts, verify);
    if(ctx) dill__tls_insert(kind, keys, sig, ctx);
    return ctx;
}

SSL_CTX *dill__tls_server_ctx_files(const char *cert, const char *key) {
    if(!cert || !key) {errno = EINVAL; return NULL;}
    const char *keys[DILL__TLS_NKEYS] = {cert, key, NULL, NULL};
    struct dill__tls_fsig sig[DILL__TLS_NKEYS];
    dill__tls_sigs(keys, 1 | 2, sig);
    SSL_CTX *ctx = dill__tls_lookup(DILL__TLS_SERVER, keys, sig);
    if(ctx) return ctx;
    struct dill_tls_server_options opts = DILL_TLS_SERVER_OPTIONS_INIT;
    opts.cert_file = cert;
    opts.key_file = key;
    ctx = (SSL_CTX*)dill_tls_server_ctx_new(&opts);
    if(ctx) dill__tls_insert(DILL__TLS_SERVER, keys, sig, ctx);
    return ctx;
}
