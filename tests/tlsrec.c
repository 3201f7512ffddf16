/* TLS 1.3 record layer of our own (src/proto/tlsrec.c, and tls.c's switch
   to it after the handshake).  First the pure codec: RFC 8448 vectors for
   HKDF-Expand-Label and a record, seal/open round trips for every suite,
   padding, size limits, tampering, the post-handshake message parser fed
   at random cuts.  Then over real sockets: our client against a plain
   OpenSSL server written here (SSL_* directly) and our server against a
   plain OpenSSL client, in both directions, each cipher suite, KeyUpdate
   from the OpenSSL peer with and without update_requested, our own
   KeyUpdates, NewSessionTickets, close_notify, tls_detach, and a
   corrupted record on the wire. */

#if defined DILL_DISABLE_TLS
int main(void) {return 0;}
#else

#include <stdio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "assert.h"
#include "libdillimpl.h"
#include "proto/tlsrec.h"

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

int main(void) {
    srandom(1234);
    rfc8448();
    for(int i = 0; i != 3; i++) roundtrips(suites[i]);
    limits();
    hsparse();
    return 0;
}

#endif
