/* TLS 1.3 record layer of our own (src/proto/tlsrec.c, and tls.c's switch
   to it after the handshake).  First the pure codec: RFC 8448 vectors for
   HKDF-Expand-Label and a record, seal/open round trips for every suite,
   padding, size limits, tampering, the post-handshake message parser fed
   at random cuts.  Then over real sockets: our client against a plain
   OpenSSL server written here (SSL_* directly) and our server against a
   plain OpenSSL client, in both directions, each cipher suite, KeyUpdate
   from the OpenSSL peer with and without update_requested, our own
   KeyUpdates, NewSessionTickets, close_notify, tls_detach, and a
   corrupted record on the wire.  Last, a hibernated wss server handler
   waiting shallow through TLS's waitin (both record layers). */

#if defined DILL_DISABLE_TLS
int main(void) {return 0;}
#else

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "assert.h"
#include "core/core.h"
#include "libdillimpl.h"
#include "proto/tlsrec.h"
#include "tmpdir.h"
#include "wsclient.h"

static void unhex(const char *s, uint8_t *out, size_t *len) {
    size_t n = 0;
    while(*s) {
        if(*s == ' ' || *s == '\n') {s++; continue;}
        unsigned int b;
        assert(sscanf(s, "%2x", &b) == 1);
        out[n++] = (uint8_t)b;
        s += 2;
    }
    *len = n;
}

static const uint16_t suites[3] = {
    DILL__TLSREC_AES128GCM, DILL__TLSREC_AES256GCM, DILL__TLSREC_CHACHA20};

static size_t hashlen(uint16_t suite) {
    return suite == DILL__TLSREC_AES256GCM ? 48 : 32;
}

/* RFC 8448 section 3 (simple 1-RTT handshake): application traffic
   secrets, the keys and ivs derived from them, and the client's first
   application data record (50 bytes 00..31). */
static void rfc8448(void) {
    uint8_t s[64], k[32], want[128];
    size_t n, wn;
    unhex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
        s, &n);
    assert(dill__tlsrec_expand(DILL__TLSREC_AES128GCM, s, "key", NULL, 0, k,
        16) == 0);
    unhex("9f02283b6c9c07efc26bb9f2ac92e356", want, &wn);
    assert(memcmp(k, want, 16) == 0);
    assert(dill__tlsrec_expand(DILL__TLSREC_AES128GCM, s, "iv", NULL, 0, k,
        12) == 0);
    unhex("cf782b88dd83549aadf1e984", want, &wn);
    assert(memcmp(k, want, 12) == 0);

    unhex("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
        s, &n);
    struct dill__tlsrec_dir w, r;
    memset(&w, 0, sizeof(w));
    memset(&r, 0, sizeof(r));
    assert(dill__tlsrec_init(&w, DILL__TLSREC_AES128GCM, 1, s, n) == 0);
    assert(dill__tlsrec_init(&r, DILL__TLSREC_AES128GCM, 0, s, n) == 0);
    unhex("5b78923dee08579033e523d9", want, &wn);
    assert(memcmp(w.iv, want, 12) == 0);
    uint8_t rec[128];
    size_t rn;
    unhex("17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55"
        "cb ef ac ea 42 f9 14 aa 66 bc ab 3f 2b 98 19 a8 a5 b4 6b 39"
        "5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2 97 70 14 bd"
        "1e 3d ea e6 3a ee bb 21 69 49 15 e4", rec, &rn);
    assert(rn == 72);
    uint8_t pay[50];
    for(int i = 0; i != 50; i++) pay[i] = (uint8_t)i;
    uint8_t out[128];
    assert(dill__tlsrec_seal(&w, DILL__TLSREC_APPDATA, pay, 50, 0, out,
        sizeof(out)) == 72);
    assert(memcmp(out, rec, 72) == 0);
    assert(w.seq == 1);
    assert(dill__tlsrec_reclen(rec, 3) == 0);
    assert(dill__tlsrec_reclen(rec, 5) == 72);
    uint8_t type = 0;
    assert(dill__tlsrec_open(&r, rec, 72, NULL, &type) == 50);
    assert(type == DILL__TLSREC_APPDATA);
    assert(memcmp(rec + 5, pay, 50) == 0);
    /* The same record again: the sequence number moved on. */
    memcpy(rec, out, 72);
    assert(dill__tlsrec_open(&r, rec, 72, NULL, &type) ==
        -DILL__TLSREC_BAD_MAC);
    dill__tlsrec_term(&w);
    dill__tlsrec_term(&r);
}

/* A writer and a reader with the same random secret. */
static void pair(uint16_t suite, struct dill__tlsrec_dir *w,
      struct dill__tlsrec_dir *r) {
    uint8_t s[48];
    for(size_t i = 0; i != sizeof(s); i++) s[i] = (uint8_t)random();
    memset(w, 0, sizeof(*w));
    memset(r, 0, sizeof(*r));
    assert(dill__tlsrec_init(w, suite, 1, s, hashlen(suite)) == 0);
    assert(dill__tlsrec_init(r, suite, 0, s, hashlen(suite)) == 0);
}

static uint8_t big[DILL__TLSREC_MAXREC + 64];
static uint8_t msg[DILL__TLSREC_MAXPT + 1];

static void roundtrips(uint16_t suite) {
    struct dill__tlsrec_dir w, r;
    pair(suite, &w, &r);
    for(size_t i = 0; i != sizeof(msg); i++) msg[i] = (uint8_t)random();
    static const size_t lens[] = {0, 1, 20, 1000, 4096,
        DILL__TLSREC_MAXPT - 1, DILL__TLSREC_MAXPT};
    for(size_t li = 0; li != sizeof(lens) / sizeof(lens[0]); li++) {
        size_t n = lens[li];
        for(size_t pad = 0; pad <= 300 && n + pad <= DILL__TLSREC_MAXPT;
              pad += 150) {
            ssize_t rl = dill__tlsrec_seal(&w, DILL__TLSREC_APPDATA, msg, n,
                pad, big, sizeof(big));
            assert(rl == (ssize_t)(n + pad + DILL__TLSREC_OVERHEAD));
            assert(dill__tlsrec_reclen(big, (size_t)rl) == rl);
            uint8_t type = 0;
            /* Alternately in place and into another buffer. */
            static uint8_t out[DILL__TLSREC_MAXCT];
            int inplace = (li + pad) % 2;
            ssize_t m = dill__tlsrec_open(&r, big, (size_t)rl,
                inplace ? NULL : out, &type);
            assert(m == (ssize_t)n);
            assert(type == DILL__TLSREC_APPDATA);
            assert(memcmp(inplace ? big + 5 : out, msg, n) == 0);
        }
    }
    /* Sealed in place. */
    memcpy(big + 5, msg, 300);
    ssize_t rl = dill__tlsrec_seal(&w, DILL__TLSREC_HANDSHAKE, big + 5, 300,
        7, big, sizeof(big));
    assert(rl == 300 + 7 + DILL__TLSREC_OVERHEAD);
    uint8_t type = 0;
    assert(dill__tlsrec_open(&r, big, (size_t)rl, NULL, &type) == 300);
    assert(type == DILL__TLSREC_HANDSHAKE && memcmp(big + 5, msg, 300) == 0);
    /* Too long, or not enough room. */
    assert_err(dill__tlsrec_seal(&w, 23, msg, DILL__TLSREC_MAXPT + 1, 0, big,
        sizeof(big)), EMSGSIZE);
    assert_err(dill__tlsrec_seal(&w, 23, msg, 100, DILL__TLSREC_MAXPT - 99,
        big, sizeof(big)), EMSGSIZE);
    assert_err(dill__tlsrec_seal(&w, 23, msg, 100, 0, big, 121), EMSGSIZE);
    assert(dill__tlsrec_seal(&w, 23, msg, 100, 0, big, 122) == 122);
    assert(dill__tlsrec_open(&r, big, 122, NULL, &type) == 100);
    /* Every byte of a record altered in turn fails (header: the additional
       data; a length change fails the length check or the tag). */
    for(size_t i = 0; i != 122; i++) {
        struct dill__tlsrec_dir w2, r2;
        pair(suite, &w2, &r2);
        assert(dill__tlsrec_seal(&w2, 23, msg, 100, 0, big, 122) == 122);
        big[i] ^= 0x40;
        ssize_t rc = dill__tlsrec_open(&r2, big, 122, NULL, &type);
        assert(rc < 0);
        if(i >= 5) assert(rc == -DILL__TLSREC_BAD_MAC);
        dill__tlsrec_term(&w2);
        dill__tlsrec_term(&r2);
    }
    /* A skipped record: the next one fails. */
    assert(dill__tlsrec_seal(&w, 23, msg, 10, 0, big, sizeof(big)) > 0);
    assert(dill__tlsrec_seal(&w, 23, msg, 10, 0, big, sizeof(big)) > 0);
    assert(dill__tlsrec_open(&r, big, 10 + DILL__TLSREC_OVERHEAD, NULL,
        &type) == -DILL__TLSREC_BAD_MAC);
    /* KeyUpdate on both sides: in step again. */
    struct dill__tlsrec_dir w3, r3;
    pair(suite, &w3, &r3);
    uint8_t old[48];
    memcpy(old, w3.secret, 48);
    assert(dill__tlsrec_seal(&w3, 23, msg, 10, 0, big, sizeof(big)) > 0);
    assert(dill__tlsrec_update(&w3) == 0 && w3.seq == 0);
    assert(memcmp(old, w3.secret, hashlen(suite)) != 0);
    assert(dill__tlsrec_seal(&w3, 23, msg, 10, 0, big, sizeof(big)) > 0);
    assert(dill__tlsrec_open(&r3, big, 10 + DILL__TLSREC_OVERHEAD, NULL,
        &type) == -DILL__TLSREC_BAD_MAC);
    dill__tlsrec_term(&w3);
    dill__tlsrec_term(&r3);
    pair(suite, &w3, &r3);
    assert(dill__tlsrec_update(&w3) == 0 && dill__tlsrec_update(&r3) == 0);
    assert(dill__tlsrec_seal(&w3, 23, msg, 10, 0, big, sizeof(big)) > 0);
    assert(dill__tlsrec_open(&r3, big, 10 + DILL__TLSREC_OVERHEAD, NULL,
        &type) == 10);
    /* Spent sequence numbers. */
    w3.seq = UINT64_MAX;
    assert_err(dill__tlsrec_seal(&w3, 23, msg, 10, 0, big, sizeof(big)),
        EOVERFLOW);
    r3.seq = UINT64_MAX;
    assert(dill__tlsrec_open(&r3, big, 10 + DILL__TLSREC_OVERHEAD, NULL,
        &type) == -DILL__TLSREC_INTERNAL);
    dill__tlsrec_term(&w3);
    dill__tlsrec_term(&r3);
    dill__tlsrec_term(&w);
    dill__tlsrec_term(&r);
}

/* Records the peer cannot send: too long (before and after decryption),
   too short, unprotected, only padding. */
static void limits(void) {
    uint8_t h[5] = {23, 3, 3, 0, 0};
    size_t ct = DILL__TLSREC_MAXCT;
    h[3] = (uint8_t)(ct >> 8);
    h[4] = (uint8_t)ct;
    assert(dill__tlsrec_reclen(h, 5) == (ssize_t)(5 + ct));
    ct++;
    h[3] = (uint8_t)(ct >> 8);
    h[4] = (uint8_t)ct;
    assert(dill__tlsrec_reclen(h, 5) == -DILL__TLSREC_OVERFLOW);
    h[3] = 0;
    h[4] = 16;
    assert(dill__tlsrec_reclen(h, 5) == -DILL__TLSREC_DECODE);
    h[4] = 17;
    assert(dill__tlsrec_reclen(h, 5) == 22);
    h[0] = 21;
    assert(dill__tlsrec_reclen(h, 5) == -DILL__TLSREC_UNEXPECTED);
    h[0] = 20;
    assert(dill__tlsrec_reclen(h, 5) == -DILL__TLSREC_UNEXPECTED);

    /* Inner plaintext of 2^14 + 2 bytes (content + type + padding): a
       valid tag on an overlong record.  Our seal refuses to make one, so
       it is made with a raw cipher context of the same key. */
    struct dill__tlsrec_dir w, r;
    pair(DILL__TLSREC_AES128GCM, &w, &r);
    size_t ilen = DILL__TLSREC_MAXPT + 2;
    ct = ilen + 16;
    big[0] = 23; big[1] = 3; big[2] = 3;
    big[3] = (uint8_t)(ct >> 8); big[4] = (uint8_t)ct;
    memset(big + 5, 0, ilen);
    big[5] = 'x';
    big[6] = 23;
    uint8_t nonce[12];
    memcpy(nonce, w.iv, 12);
    int outl;
    assert(EVP_CipherInit_ex(w.c, NULL, NULL, NULL, nonce, 1) == 1);
    assert(EVP_CipherUpdate(w.c, NULL, &outl, big, 5) == 1);
    assert(EVP_CipherUpdate(w.c, big + 5, &outl, big + 5, (int)ilen) == 1);
    assert(EVP_CipherFinal_ex(w.c, big + 5 + outl, &outl) == 1);
    assert(EVP_CIPHER_CTX_ctrl(w.c, EVP_CTRL_AEAD_GET_TAG, 16,
        big + 5 + ilen) == 1);
    uint8_t type;
    assert(dill__tlsrec_open(&r, big, 5 + ct, NULL, &type) ==
        -DILL__TLSREC_OVERFLOW);
    /* Content only zeros: no content type. */
    dill__tlsrec_term(&w);
    dill__tlsrec_term(&r);
    pair(DILL__TLSREC_AES128GCM, &w, &r);
    memset(msg, 0, 40);
    /* Type 0 with zeros after it looks like all padding. */
    assert(dill__tlsrec_seal(&w, 0, msg, 40, 3, big, sizeof(big)) > 0);
    assert(dill__tlsrec_open(&r, big, 40 + 3 + DILL__TLSREC_OVERHEAD, NULL,
        &type) == -DILL__TLSREC_UNEXPECTED);
    /* Content ending in zeros keeps them (the type byte delimits). */
    assert(dill__tlsrec_seal(&w, 23, msg, 40, 9, big, sizeof(big)) > 0);
    assert(dill__tlsrec_open(&r, big, 40 + 9 + DILL__TLSREC_OVERHEAD, NULL,
        &type) == 40);
    /* A record whose length is not what reclen says. */
    assert(dill__tlsrec_open(&r, big, 30, NULL, &type) ==
        -DILL__TLSREC_DECODE);
    dill__tlsrec_term(&w);
    dill__tlsrec_term(&r);
    /* Bad suites and secret lengths. */
    struct dill__tlsrec_dir z;
    memset(&z, 0, sizeof(z));
    assert_err(dill__tlsrec_init(&z, 0x1304, 1, msg, 32), EINVAL);
    assert_err(dill__tlsrec_init(&z, DILL__TLSREC_AES256GCM, 1, msg, 32),
        EINVAL);
    assert(!dill__tlsrec_supported(0x1305) &&
        dill__tlsrec_supported(DILL__TLSREC_CHACHA20));
}

/* Feeds p[0..len) as records cut at random places; returns the first
   error, or the sum of the KeyUpdate events (1: not requested, 2:
   requested) times 10 plus their count. */
static int feed(const uint8_t *p, size_t len, int server, int cuts) {
    struct dill__tlsrec_hs h;
    memset(&h, 0, sizeof(h));
    int sum = 0;
    size_t off = 0;
    while(off < len) {
        size_t k = cuts ? 1 + (size_t)random() % (len - off) : len - off;
        int ku;
        int rc = dill__tlsrec_hsfeed(&h, p + off, k, server, &ku);
        if(rc < 0) return rc;
        if(ku) sum += ku * 10 + 1;
        off += k;
    }
    return sum;
}

static void hsparse(void) {
    /* Two tickets (one empty body, one of 300 bytes), then a KeyUpdate
       with update_requested. */
    uint8_t m[600];
    size_t n = 0;
    m[n++] = 4; m[n++] = 0; m[n++] = 0; m[n++] = 0;
    m[n++] = 4; m[n++] = 0; m[n++] = 1; m[n++] = 44;
    for(int i = 0; i != 300; i++) m[n++] = (uint8_t)i;
    size_t tickets = n;
    m[n++] = 24; m[n++] = 0; m[n++] = 0; m[n++] = 1; m[n++] = 1;
    for(int round = 0; round != 200; round++) {
        /* Cut anywhere before the KeyUpdate's last byte, which must end a
           record: the cut feeder may split it, so the tickets go first. */
        struct dill__tlsrec_hs h;
        memset(&h, 0, sizeof(h));
        size_t off = 0;
        int ku = -1;
        while(off < tickets) {
            size_t k = 1 + (size_t)random() % (tickets - off);
            assert(dill__tlsrec_hsfeed(&h, m + off, k, 0, &ku) == 0);
            assert(ku == 0);
            off += k;
        }
        size_t k = (size_t)random() % 5;
        if(k) {
            assert(dill__tlsrec_hsfeed(&h, m + off, k, 0, &ku) == 0);
            assert(ku == (k == 5 ? 2 : 0));
        }
        if(k < 5) {
            assert(dill__tlsrec_hsfeed(&h, m + off + k, 5 - k, 0, &ku) == 0);
            assert(ku == 2);
        }
    }
    assert(feed(m, n, 0, 0) == 21);
    /* A server gets no tickets. */
    assert(feed(m, n, 1, 0) == -DILL__TLSREC_UNEXPECTED);
    assert(feed(m + tickets, 5, 1, 0) == 21);
    /* update_not_requested. */
    m[tickets + 4] = 0;
    assert(feed(m + tickets, 5, 1, 1) == 11);
    /* Bad value, bad length, bytes after a KeyUpdate in its record. */
    m[tickets + 4] = 2;
    assert(feed(m + tickets, 5, 1, 0) == -DILL__TLSREC_DECODE);
    m[tickets + 4] = 0;
    m[tickets + 3] = 2;
    assert(feed(m + tickets, 6, 1, 0) == -DILL__TLSREC_DECODE);
    m[tickets + 3] = 1;
    m[tickets + 5] = 24;
    assert(feed(m + tickets, 6, 1, 0) == -DILL__TLSREC_UNEXPECTED);
    /* Other messages (a CertificateRequest, a Finished). */
    uint8_t cr[8] = {13, 0, 0, 4, 0, 0, 0, 0};
    assert(feed(cr, 8, 0, 1) == -DILL__TLSREC_UNEXPECTED);
    cr[0] = 20;
    assert(feed(cr, 8, 1, 1) == -DILL__TLSREC_UNEXPECTED);
    /* An empty handshake record. */
    struct dill__tlsrec_hs h;
    memset(&h, 0, sizeof(h));
    int ku;
    assert(dill__tlsrec_hsfeed(&h, m, 0, 0, &ku) == -DILL__TLSREC_UNEXPECTED);
}


/******************************************************************************/
/*  Over real sockets, against plain OpenSSL                                  */
/******************************************************************************/

static char cert[128], key[128];

static void makecert(void) {
    tmpdir_make("tlsrec");
    tmpdir_selfsigned("k.pem", "c.pem", 1, "");
    snprintf(cert, sizeof(cert), "%s", path("c.pem"));
    snprintf(key, sizeof(key), "%s", path("k.pem"));
}

/* The OpenSSL peer: a thread with a blocking socket.  Messages both ways
   are a 4-byte length and the payload; the peer echoes them, except
   commands (payloads starting with '!'). */
struct peer {
    pthread_t t;
    int port;
    int server;                     /* the peer is the TLS server */
    const char *suite;              /* NULL: TLS 1.2 */
    int kus;                        /* KeyUpdates received */
    int lport;                      /* its local port, once connected */
    int result;                     /* how it ended, see peer_run */
};

static void peer_msgcb(int write_p, int version, int ct, const void *buf,
      size_t len, SSL *ssl, void *arg) {
    struct peer *p = arg;
    if(!write_p && ct == SSL3_RT_HANDSHAKE && len &&
       *(const uint8_t*)buf == 24)
        p->kus++;
}

static int peer_readall(SSL *ssl, uint8_t *buf, size_t n) {
    while(n) {
        int r = SSL_read(ssl, buf, (int)n);
        if(r <= 0) return -1;
        buf += r;
        n -= (size_t)r;
    }
    return 0;
}

static void peer_send(SSL *ssl, const void *buf, size_t n) {
    uint8_t *m = malloc(n + 4);
    assert(m);
    m[0] = (uint8_t)(n >> 24); m[1] = (uint8_t)(n >> 16);
    m[2] = (uint8_t)(n >> 8); m[3] = (uint8_t)n;
    memcpy(m + 4, buf, n);
    assert(SSL_write(ssl, m, (int)(n + 4)) == (int)(n + 4));
    free(m);
}

/* What OpenSSL writes for f, taken off the socket: its bytes are
   returned (malloc'd) instead of sent. */
static uint8_t *peer_capture(SSL *ssl, void (*f)(SSL *ssl), size_t *len) {
    BIO *mem = BIO_new(BIO_s_mem());
    BIO *old = SSL_get_wbio(ssl);
    BIO_up_ref(old);
    SSL_set0_wbio(ssl, mem);
    f(ssl);
    char *p;
    long n = BIO_get_mem_data(mem, &p);
    uint8_t *out = malloc((size_t)n + 16);
    memcpy(out, p, (size_t)n);
    *len = (size_t)n;
    SSL_set0_wbio(ssl, old);
    return out;
}

static void peer_write_corrupt(SSL *ssl) {
    assert(SSL_write(ssl, "\0\0\0\1x", 5) == 5);
}

static void peer_shutdown(SSL *ssl) {
    assert(SSL_shutdown(ssl) >= 0);
}

/* result: 1 clean close (close_notify both ways), 2 our alert seen after
   a corrupted record, 3 dropped the connection, 4 detached (plain bytes
   after close_notify), -1 something went wrong. */
/* Connects the peer and makes its SSL object (NULL: the handshake
   failed); *fd and *ctx are for the caller to free. */
static SSL *peer_open(struct peer *p, int *fdp, SSL_CTX **ctxp) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)p->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert(connect(fd, (struct sockaddr*)&a, sizeof(a)) == 0);
    socklen_t al = sizeof(a);
    assert(getsockname(fd, (struct sockaddr*)&a, &al) == 0);
    __atomic_store_n(&p->lport, ntohs(a.sin_port), __ATOMIC_RELEASE);
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    SSL_CTX *ctx = SSL_CTX_new(p->server ? TLS_server_method() :
        TLS_client_method());
    assert(ctx);
    if(p->suite) {
        assert(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1);
        assert(SSL_CTX_set_ciphersuites(ctx, p->suite) == 1);
    } else {
        assert(SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) == 1);
    }
    if(p->server) {
        assert(SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) ==
            1);
        assert(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1);
    }
    SSL *ssl = SSL_new(ctx);
    assert(ssl);
    SSL_set_fd(ssl, fd);
    SSL_set_msg_callback(ssl, peer_msgcb);
    SSL_set_msg_callback_arg(ssl, p);
    *fdp = fd;
    *ctxp = ctx;
    if((p->server ? SSL_accept(ssl) : SSL_connect(ssl)) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static void *peer_run(void *arg) {
    struct peer *p = arg;
    p->result = -1;
    int fd = -1;
    SSL_CTX *ctx = NULL;
    SSL *ssl = peer_open(p, &fd, &ctx);
    if(!ssl) goto done;
    while(1) {
        uint8_t hdr[4];
        if(peer_readall(ssl, hdr, 4) < 0) break;
        size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
            (size_t)hdr[2] << 8 | hdr[3];
        uint8_t *m = malloc(n + 1);
        assert(m);
        if(peer_readall(ssl, m, n) < 0) {free(m); break;}
        m[n] = 0;
        const char *c = (const char*)m;
        if(n == 0 || m[0] != '!') {
            peer_send(ssl, m, n);
        } else if(strcmp(c, "!KU0") == 0 || strcmp(c, "!KU1") == 0) {
            assert(SSL_key_update(ssl, c[3] == '1' ?
                SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED) ==
                1);
            peer_send(ssl, "ok", 2);
        } else if(strcmp(c, "!TICKET") == 0) {
            assert(SSL_new_session_ticket(ssl) == 1);
            peer_send(ssl, "ok", 2);
        } else if(strcmp(c, "!KUS") == 0) {
            char b[32];
            snprintf(b, sizeof(b), "%d", p->kus);
            peer_send(ssl, b, strlen(b));
        } else if(strcmp(c, "!CORRUPT") == 0) {
            size_t len;
            uint8_t *w = peer_capture(ssl, peer_write_corrupt, &len);
            w[len - 3] ^= 1;
            assert(write(fd, w, len) == (ssize_t)len);
            free(w);
            uint8_t b;
            /* Our alert (bad_record_mac) makes the read fail. */
            if(SSL_read(ssl, &b, 1) <= 0 &&
               SSL_get_error(ssl, 0) == SSL_ERROR_SSL)
                p->result = 2;
            free(m);
            goto done;
        } else if(strcmp(c, "!DROP") == 0) {
            p->result = 3;
            free(m);
            goto done;
        } else if(strcmp(c, "!DETACH") == 0) {
            /* Our close_notify, then ours and plain bytes in one write. */
            uint8_t b;
            if(SSL_read(ssl, &b, 1) == 0 &&
               SSL_get_error(ssl, 0) == SSL_ERROR_ZERO_RETURN) {
                size_t len;
                uint8_t *w = peer_capture(ssl, peer_shutdown, &len);
                memcpy(w + len, "after", 5);
                if(write(fd, w, len + 5) == (ssize_t)len + 5) p->result = 4;
                free(w);
                /* Wait for the other side to finish. */
                char x;
                (void)read(fd, &x, 1);
            }
            free(m);
            goto done;
        } else if(strcmp(c, "!BYE") == 0) {
            assert(SSL_shutdown(ssl) == 0);
            uint8_t b;
            if(SSL_read(ssl, &b, 1) == 0 &&
               SSL_get_error(ssl, 0) == SSL_ERROR_ZERO_RETURN)
                p->result = 1;
            free(m);
            goto done;
        }
        free(m);
    }
done:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if(fd >= 0) close(fd);
    return NULL;
}

static int fsend(int s, const void *buf, size_t n) {
    uint8_t h[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16),
        (uint8_t)(n >> 8), (uint8_t)n};
    struct iolist i2 = {(void*)buf, n, NULL, 0};
    struct iolist i1 = {h, 4, &i2, 0};
    return bsendl(s, &i1, &i2, now() + 10000);
}

/* The next message, into buf (cap bytes); returns its length. */
static ssize_t frecv(int s, uint8_t *buf, size_t cap) {
    uint8_t h[4];
    if(brecv(s, h, 4, now() + 10000) < 0) return -1;
    size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 |
        h[3];
    assert(n <= cap);
    if(n && brecv(s, buf, n, now() + 10000) < 0) return -1;
    return (ssize_t)n;
}

static void cmd(int s, const char *c, const char *want) {
    static uint8_t b[64];
    errno_assert(fsend(s, c, strlen(c)) == 0);
    ssize_t n = frecv(s, b, sizeof(b) - 1);
    errno_assert(n >= 0);
    b[n] = 0;
    if(want) assert(strcmp((char*)b, want) == 0);
}

static int kus(int s) {
    static uint8_t b[64];
    errno_assert(fsend(s, "!KUS", 4) == 0);
    ssize_t n = frecv(s, b, sizeof(b) - 1);
    errno_assert(n > 0);
    b[n] = 0;
    return atoi((char*)b);
}

static uint8_t obuf[300000], ibuf[300000];

static void echo(int s, size_t n) {
    for(size_t i = 0; i != n; i++) obuf[i] = (uint8_t)(i * 7 + n);
    errno_assert(fsend(s, obuf, n) == 0);
    ssize_t r = frecv(s, ibuf, sizeof(ibuf));
    errno_assert(r == (ssize_t)n);
    assert(memcmp(obuf, ibuf, n) == 0);
}

/* Starts a peer and returns our end of the TLS connection: we are the
   client when the peer is the server. */
static int connect_run(struct peer *p, void *(*run)(void*), int peer_server,
      const char *suite) {
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&a, 4);
    errno_assert(ls >= 0);
    errno_assert(tcp_localaddr(ls, &a) == 0);
    p->server = peer_server;
    p->suite = suite;
    p->port = ipaddr_port(&a);
    assert(pthread_create(&p->t, NULL, run, p) == 0);
    /* The listener's port is an ephemeral one: under ctest -j a client of
       another test may reach it first.  Only the peer thread's connection
       counts. */
    int s;
    while(1) {
        struct ipaddr ra;
        s = tcp_accept(ls, &ra, now() + 10000);
        errno_assert(s >= 0);
        int lp;
        while(!(lp = __atomic_load_n(&p->lport, __ATOMIC_ACQUIRE)))
            errno_assert(msleep(now() + 1) == 0);
        if(ipaddr_port(&ra) == lp) break;
        hclose(s);
    }
    hclose(ls);
    if(peer_server) s = tls_attach_client(s, now() + 10000);
    else s = tls_attach_server(s, cert, key, now() + 10000);
    if(s < 0) {
        int err = errno;
        char why[256] = "";
        tls_last_error(why, sizeof(why));
        fprintf(stderr, "tls_attach_%s (%s): %s\n",
            peer_server ? "client" : "server", suite ? suite : "TLS 1.2",
            why);
        errno = err;
    }
    errno_assert(s >= 0);
    return s;
}

static int connect_peer(struct peer *p, int peer_server, const char *suite) {
    memset(p, 0, sizeof(*p));
    return connect_run(p, peer_run, peer_server, suite);
}

static const char *const suite_names[3] = {
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256"};

/* Data both ways in sizes around the record limits, KeyUpdates from the
   peer (with and without update_requested), tickets, close_notify. */
static void session(int peer_server, const char *suite, int own) {
    struct peer p;
    int s = connect_peer(&p, peer_server, suite);
    static const size_t sizes[] = {0, 1, 20, 1000, 16379, 16380, 16384,
        16385, 70000, 250000};
    for(size_t i = 0; i != sizeof(sizes) / sizeof(sizes[0]); i++)
        echo(s, sizes[i]);
    int k0 = kus(s);
    cmd(s, "!KU0", "ok");
    echo(s, 20);
    echo(s, 100000);
    assert(kus(s) == k0);
    cmd(s, "!KU1", "ok");
    echo(s, 20);
    /* Our answer to update_requested. */
    assert(kus(s) == k0 + 1);
    cmd(s, "!KU1", "ok");
    cmd(s, "!KU1", "ok");
    echo(s, 30000);
    assert(kus(s) == k0 + 3);
    if(peer_server) {
        cmd(s, "!TICKET", "ok");
        echo(s, 20);
    }
    /* Many small messages in one turn (gathered into one record). */
    for(int i = 0; i != 50; i++) errno_assert(fsend(s, obuf, 20) == 0);
    for(int i = 0; i != 50; i++) errno_assert(frecv(s, ibuf, 100) == 20);
    errno_assert(fsend(s, "!BYE", 4) == 0);
    assert_err(brecv(s, ibuf, 1, now() + 10000), EPIPE);
    assert_err(brecv(s, ibuf, 1, now() + 10000), EPIPE);
    errno_assert(tls_done(s, now() + 10000) == 0);
    assert_err(bsend(s, "x", 1, now() + 10000), EPIPE);
    pthread_join(p.t, NULL);
    assert(p.result == 1);
    errno_assert(hclose(s) == 0);
    (void)own;
}

/* Ends a connection to the peer thread p: our goodbye, its close_notify
   (EPIPE), ours, and the peer's verdict. */
static void bye(int s, struct peer *p) {
    errno_assert(fsend(s, "!BYE", 4) == 0);
    assert_err(brecv(s, ibuf, 1, now() + 10000), EPIPE);
    errno_assert(tls_done(s, now() + 10000) == 0);
    pthread_join(p->t, NULL);
    assert(p->result == 1);
    errno_assert(hclose(s) == 0);
}

/* TLS 1.2 stays with OpenSSL's record layer. */
static void tls12(int peer_server) {
    struct peer p;
    int s = connect_peer(&p, peer_server, NULL);
    static const size_t sizes[] = {0, 20, 16384, 16385, 100000};
    for(size_t i = 0; i != sizeof(sizes) / sizeof(sizes[0]); i++)
        echo(s, sizes[i]);
    bye(s, &p);
}

static void setown(int own) {
    setenv("DILL_TLS_OWNREC", own ? "1" : "0", 1);
}

/* Our own KeyUpdates every few records: the peer keeps reading, and
   counts them (proof that our record layer is the one in use). */
static void rekey(int peer_server, const char *suite, int own) {
    setenv("DILL_TLS_OWNREC_REKEY", "3", 1);
    struct peer p;
    int s = connect_peer(&p, peer_server, suite);
    unsetenv("DILL_TLS_OWNREC_REKEY");
    for(int i = 0; i != 10; i++) echo(s, 100);
    echo(s, 200000);
    int n = kus(s);
    if(own) assert(n >= 5);
    else assert(n == 0);
    bye(s, &p);
}

/* A record altered on the wire: EPROTO, then the connection is broken
   both ways; the peer sees our alert. */
static void corrupt(int peer_server) {
    struct peer p;
    int s = connect_peer(&p, peer_server, suite_names[0]);
    echo(s, 20);
    errno_assert(fsend(s, "!CORRUPT", 8) == 0);
    assert_err(brecv(s, ibuf, 4, now() + 10000), EPROTO);
    char e[256];
    assert(tls_last_error(e, sizeof(e)) > 0);
    assert_err(brecv(s, ibuf, 4, now() + 10000), ECONNRESET);
    assert_err(bsend(s, "x", 1, now() + 10000), ECONNRESET);
    /* The alert leaves at the end of this coroutine's turn (with io_uring,
       at the scheduler's next wait). */
    errno_assert(msleep(now() + 20) == 0);
    pthread_join(p.t, NULL);
    assert(p.result == 2);
    errno_assert(hclose(s) == 0);
}

/* The peer goes away without close_notify: a truncation. */
static void drop(int peer_server) {
    struct peer p;
    int s = connect_peer(&p, peer_server, suite_names[2]);
    echo(s, 1000);
    errno_assert(fsend(s, "!DROP", 5) == 0);
    assert_err(brecv(s, ibuf, 4, now() + 10000), ECONNRESET);
    pthread_join(p.t, NULL);
    assert(p.result == 3);
    errno_assert(hclose(s) == 0);
}

/* tls_detach: plain bytes that came with the peer's close_notify are
   for the socket below. */
static void detach(int peer_server) {
    struct peer p;
    int s = connect_peer(&p, peer_server, suite_names[1]);
    echo(s, 5000);
    errno_assert(fsend(s, "!DETACH", 7) == 0);
    int u = tls_detach(s, now() + 10000);
    errno_assert(u >= 0);
    char b[6] = {0};
    errno_assert(brecv(u, b, 5, now() + 10000) == 0);
    assert(strcmp(b, "after") == 0);
    errno_assert(hclose(u) == 0);
    pthread_join(p.t, NULL);
    assert(p.result == 4);
}

/* A wss server handler hibernated while it waits for input (issue 16):
   past the threshold ws waits through TLS's waitin, from a shallow frame.
   The OpenSSL peer (a ws client here) does one step per byte main writes
   to its go pipe and answers on its done pipe; between steps main lets
   the handler hibernate.  Each run is done with hibernation on and off,
   and must end the same. */
struct wpeer {
    struct peer p;                 /* first: the thread gets &p */
    int go[2], done[2];
};

static int wexpect(SSL *ssl, const void *want, size_t n) {
    uint8_t got[256];
    assert(n <= sizeof(got));
    return peer_readall(ssl, got, n) == 0 && memcmp(got, want, n) == 0;
}

/* A record written in two pieces, the second after the threshold. */
static void wcut(SSL *ssl, int fd, const uint8_t *f, size_t n) {
    BIO *mem = BIO_new(BIO_s_mem());
    BIO *old = SSL_get_wbio(ssl);
    BIO_up_ref(old);
    SSL_set0_wbio(ssl, mem);
    assert(SSL_write(ssl, f, (int)n) == (int)n);
    char *r;
    long rl = BIO_get_mem_data(mem, &r);
    assert(rl > 10);
    assert(write(fd, r, 7) == 7);
    usleep(80000);
    assert(write(fd, r + 7, (size_t)rl - 7) == rl - 7);
    SSL_set0_wbio(ssl, old);
}

static int wstep(struct wpeer *w, SSL *ssl, int fd, char c) {
    uint8_t f[64];
    size_t n;
    switch(c) {
    case 'm':
        n = wsc_frame(f, 0x2, "hello", 5);
        assert(SSL_write(ssl, f, (int)n) == (int)n);
        return wexpect(ssl, "\x82\x05hello", 7);
    case 'p':
        n = wsc_frame(f, 0x9, "ping", 4);
        assert(SSL_write(ssl, f, (int)n) == (int)n);
        return wexpect(ssl, "\x8a\x04ping", 6);
    case 'c':
        /* A message in two records, the second after the threshold. */
        n = wsc_frame(f, 0x2, "0123456789", 10);
        assert(SSL_write(ssl, f, 4) == 4);
        usleep(80000);
        assert(SSL_write(ssl, f + 4, (int)n - 4) == (int)n - 4);
        return wexpect(ssl, "\x82\x0a" "0123456789", 12);
    case 'r':
        n = wsc_frame(f, 0x2, "cut record", 10);
        wcut(ssl, fd, f, n);
        return wexpect(ssl, "\x82\x0a" "cut record", 12);
    case 'k':
        /* A lone KeyUpdate asking for ours. */
        return SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) == 1 &&
            SSL_do_handshake(ssl) == 1;
    case 'K':
        /* Data both ways under the new keys, and our KeyUpdate came. */
        return wstep(w, ssl, fd, 'm') && w->p.kus == 1;
    case 'a':
        /* Keepalive: three pings answered. */
        for(int i = 0; i != 3; i++) {
            uint8_t h[10];
            if(peer_readall(ssl, h, sizeof(h)) < 0 || h[0] != 0x89 ||
               h[1] != 8)
                return 0;
            n = wsc_frame(f, 0xa, h + 2, 8);
            assert(SSL_write(ssl, f, (int)n) == (int)n);
        }
        return 1;
    case 'e':
        /* The end after the handler's: nothing more to do. */
        return 1;
    case 'z': {
        /* close_notify; the handler then closes the connection. */
        if(SSL_shutdown(ssl) < 0) return 0;
        uint8_t b;
        while(SSL_read(ssl, &b, 1) > 0) {}
        return 1;
    }
    }
    return 0;
}

static void *wpeer_run(void *arg) {
    struct wpeer *w = arg;
    int fd = -1;
    SSL_CTX *ctx = NULL;
    SSL *ssl = peer_open(&w->p, &fd, &ctx);
    int ok = ssl && SSL_write(ssl, wsc_request, (int)strlen(wsc_request)) ==
        (int)strlen(wsc_request);
    char tail[4] = {0};
    while(ok && memcmp(tail, "\r\n\r\n", 4) != 0) {
        memmove(tail, tail + 1, 3);
        ok = SSL_read(ssl, tail + 3, 1) == 1;
    }
    char c;
    while(read(w->go[0], &c, 1) == 1) {
        char r = ok && wstep(w, ssl, fd, c) ? 1 : 0;
        assert(write(w->done[1], &r, 1) == 1);
        if(c == 'z' || c == 'e') break;
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if(fd >= 0) close(fd);
    return NULL;
}

struct wresult {
    int msgs;
    int err;
};

/* How a run ends: the peer's close_notify (with keepalive on), a
   deadline of the handler's receiving call, or its cancellation. */
enum {W_PLAIN, W_KEEPALIVE, W_DEADLINE, W_CANCEL};

coroutine static void whandler(int s, int mode, struct wresult *r) {
    char resource[256], host[256];
    struct ws_options o = WS_OPTIONS_INIT;
    if(mode == W_KEEPALIVE) {
        o.ping_interval = 100;
        o.pong_timeout = 3000;
    }
    int ws = ws_attach_server_opts(s, resource, sizeof(resource), host,
        sizeof(host), &o, NULL, now() + 10000);
    errno_assert(ws >= 0);
    int flags;
    while(1) {
        int64_t dl = mode == W_DEADLINE && r->msgs ? now() + 400 : -1;
        ssize_t n = ws_recv(ws, &flags, resource, sizeof(resource), dl);
        if(n < 0) break;
        r->msgs++;
        errno_assert(ws_send(ws, WS_BINARY, resource, (size_t)n,
            now() + 10000) == 0);
    }
    r->err = errno;
    errno_assert(hclose(ws) == 0);
}

/* The largest live stack copied for a hibernated handler. */
static size_t wcopy;
/* Whether the runs are on our record layer, whose idle connection puts
   its two cipher contexts at rest before it hibernates. */
static int wown;

/* With hibernation on, waits (bounded) until the handler hibernates;
   off, lets it settle in its wait. */
static void wsettle(int hib) {
    int64_t end = now() + 5000;
    size_t rest = hib && wown ? 2 : 0;
    do errno_assert(msleep(now() + 30) == 0);
    while(hib && (hibernated() != 1 || dill__tlsrec_resting() != rest) &&
        now() < end);
    assert(dill__tlsrec_resting() == rest);
    if(hib) {
        assert(hibernated() == 1);
        if(dill__hib_bytes() > wcopy) wcopy = dill__hib_bytes();
    } else {
        assert(hibernated() == 0);
    }
}

/* Has the peer do step c. */
static void wgo(struct wpeer *w, char c) {
    assert(write(w->go[1], &c, 1) == 1);
    errno_assert(fdin(w->done[0], now() + 10000) == 0);
    char ok = 0;
    assert(read(w->done[0], &ok, 1) == 1);
    assert(ok == 1);
}

static void wrun(const char *steps, int mode, int hib, struct wresult *r) {
    errno_assert(hibernate(hib ? 10 : -1) == 0);
    struct wpeer w;
    memset(&w, 0, sizeof(w));
    assert(pipe(w.go) == 0 && pipe(w.done) == 0);
    int s = connect_run(&w.p, wpeer_run, 0, suite_names[0]);
    memset(r, 0, sizeof(*r));
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, whandler(s, mode, r)) == 0);
    for(const char *c = steps; *c; c++) {
        wsettle(hib);
        wgo(&w, *c);
    }
    if(mode == W_CANCEL) {
        wsettle(hib);
        errno_assert(hclose(b) == 0);
        b = -1;
    }
    if(b >= 0) errno_assert(bundle_wait(b, now() + 10000) == 0);
    if(mode == W_DEADLINE || mode == W_CANCEL) wgo(&w, 'e');
    if(b >= 0) errno_assert(hclose(b) == 0);
    fdclean(w.done[0]);
    pthread_join(w.p.t, NULL);
    for(int i = 0; i != 2; i++) {close(w.go[i]); close(w.done[i]);}
    assert(hibernated() == 0);
    errno_assert(hibernate(-1) == 0);
}

/* The same handler over plain TCP, hibernated: its copy is what the
   wss handler's must come near (its wait as shallow).  Bytes copied are
   read with dill__hib_bytes. */
static size_t wtcp(void) {
    errno_assert(hibernate(10) == 0);
    struct ipaddr a;
    errno_assert(ipaddr_local(&a, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&a, 4);
    errno_assert(ls >= 0);
    errno_assert(tcp_localaddr(ls, &a) == 0);
    int c = tcp_connect(&a, now() + 10000);
    errno_assert(c >= 0);
    int s = tcp_accept(ls, NULL, now() + 10000);
    errno_assert(s >= 0);
    struct wresult r = {0};
    int b = bundle();
    errno_assert(b >= 0);
    errno_assert(bundle_go(b, whandler(s, W_PLAIN, &r)) == 0);
    errno_assert(bsend(c, wsc_request, strlen(wsc_request),
        now() + 10000) == 0);
    char tail[4] = {0};
    while(memcmp(tail, "\r\n\r\n", 4) != 0) {
        memmove(tail, tail + 1, 3);
        errno_assert(brecv(c, tail + 3, 1, now() + 10000) == 0);
    }
    wcopy = 0;
    wsettle(1);
    size_t n = wcopy;
    errno_assert(hclose(c) == 0);
    errno_assert(bundle_wait(b, now() + 10000) == 0);
    errno_assert(hclose(b) == 0);
    errno_assert(hclose(ls) == 0);
    errno_assert(hibernate(-1) == 0);
    return n;
}

/* What TLS may add to a hibernated ws copy: less than the receive path
   (880 bytes; 1,776 with ASan). */
#if defined(__SANITIZE_ADDRESS__)
#define W_TLS_MORE 1024
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define W_TLS_MORE 1024
#endif
#endif
#ifndef W_TLS_MORE
#define W_TLS_MORE 640
#endif

static void wss(void) {
    size_t tcp = wtcp();
    static const struct {
        const char *steps;
        int mode, msgs, err;
    } runs[] = {
        {"mpcrkKmz", W_PLAIN, 5, ECONNRESET},
        {"az", W_KEEPALIVE, 0, ECONNRESET},
        {"m", W_DEADLINE, 1, ETIMEDOUT},
        {"m", W_CANCEL, 1, ECANCELED}};
    for(int own = 1; own >= 0; own--) {
        setown(own);
        wown = own;
        for(size_t i = 0; i != sizeof(runs) / sizeof(runs[0]); i++) {
            struct wresult on, off;
            wcopy = 0;
            wrun(runs[i].steps, runs[i].mode, 1, &on);
            /* TLS adds its waitin's frame, not its receive path: 112
               bytes more than ws instead of 880 (x86-64 RelWithDebInfo;
               with ASan 224 instead of 1,776).  The keepalive run waits
               through more frames (~530 bytes more than ws; with ASan
               ~640). */
            if(i == 0)
                fprintf(stderr, "hibernated copy: ws %zu B, wss %zu B\n",
                    tcp, wcopy);
            assert(wcopy > tcp && wcopy <= tcp + W_TLS_MORE);
            wrun(runs[i].steps, runs[i].mode, 0, &off);
            assert(on.msgs == off.msgs && on.err == off.err);
            assert(on.msgs == runs[i].msgs);
            assert(on.err == runs[i].err);
        }
    }
}

static void sockets(void) {
    makecert();
    for(int own = 1; own >= 0; own--) {
        setown(own);
        for(int i = 0; i != 3; i++) {
            session(1, suite_names[i], own);
            session(0, suite_names[i], own);
        }
        rekey(1, suite_names[0], own);
        rekey(0, suite_names[2], own);
        corrupt(1);
        corrupt(0);
        drop(1);
        drop(0);
        detach(1);
        detach(0);
        tls12(1);
        tls12(0);
    }
    wss();
    unsetenv("DILL_TLS_OWNREC");
    tmpdir_remove();
}

int main(void) {
    srandom(1234);
    rfc8448();
    for(int i = 0; i != 3; i++) roundtrips(suites[i]);
    limits();
    hsparse();
    sockets();
    return 0;
}

#endif
