/* UTF-8 validator: stress cases in the categories of Markus Kuhn's
   UTF-8 decoder test file, every code point, every split position and a
   randomized comparison with an independent (arithmetic) reference. */

#include "assert.h"
#include "emu.h"

#include "util/utf8.h"
#include "utf8ref.h"

/* Deterministic PRNG so that failures reproduce (seed from
   DILL_TEST_SEED when set). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Result of the validator as (status, fail index), status as ref_utf8.
   The fail index comes from byte-by-byte feeding; the fast (whole buffer)
   path must agree on both sides of it. */
static int dfa_utf8(const uint8_t *p, size_t n, size_t *fail) {
    struct dill__utf8 u;
    dill__utf8_init(&u);
    for(size_t i = 0; i != n; i++) {
        if(dill__utf8_feed(&u, p + i, 1) < 0) {
            *fail = i;
            assert(dill__utf8_failed(&u));
            assert(dill__utf8_feed(&u, p, n) == -1); /* sticky */
            assert(!dill__utf8_complete(&u));
            struct dill__utf8 v;
            dill__utf8_init(&v);
            assert(dill__utf8_feed(&v, p, i) == 0);
            assert(dill__utf8_feed(&v, p + i, n - i) == -1);
            dill__utf8_init(&v);
            assert(dill__utf8_feed(&v, p, i + 1) == -1);
            assert(!dill__utf8_valid(p, n));
            return -1;
        }
    }
    int ok = dill__utf8_complete(&u);
    assert(dill__utf8_valid(p, n) == ok);
    assert(!dill__utf8_failed(&u));
    return ok;
}

/* Whole-buffer outcome (0 = valid prefix, -1 invalid) plus completeness. */
static int whole(const uint8_t *p, size_t n) {
    struct dill__utf8 u;
    dill__utf8_init(&u);
    if(dill__utf8_feed(&u, p, n) < 0) return -1;
    return dill__utf8_complete(&u);
}

/* Checks p against the reference, including the failing position, and
   that every single split point gives the same answer. */
static void check(const uint8_t *p, size_t n) {
    size_t rf = (size_t)-1, df = (size_t)-1;
    int r = ref_utf8(p, n, &rf);
    int d = dfa_utf8(p, n, &df);
    if(r != d || (r < 0 && rf != df)) {
        fprintf(stderr, "mismatch: ref %d@%zu dfa %d@%zu on", r, rf, d, df);
        for(size_t i = 0; i != n && i < 64; i++)
            fprintf(stderr, " %02x", p[i]);
        fprintf(stderr, "\n");
        assert(0);
    }
    assert(whole(p, n) == r);
}

static void check_splits(const uint8_t *p, size_t n) {
    int w = whole(p, n);
    for(size_t i = 0; i <= n; i++) {
        struct dill__utf8 u;
        dill__utf8_init(&u);
        int a = dill__utf8_feed(&u, p, i);
        int b = dill__utf8_feed(&u, p + i, n - i);
        if(a < 0) assert(b < 0);
        int res = b < 0 ? -1 : dill__utf8_complete(&u);
        assert(res == w);
    }
}

/* Expects exactly this outcome: fail < 0 means valid (complete when
   complete is set), else invalid at byte index fail. */
static void expect(const char *s, size_t n, int fail, int complete) {
    const uint8_t *p = (const uint8_t*)s;
    check(p, n);
    check_splits(p, n);
    size_t df = 0;
    int d = dfa_utf8(p, n, &df);
    if(fail >= 0) {
        if(d != -1 || df != (size_t)fail) {
            fprintf(stderr, "expected failure at %d, got %d@%zu:", fail, d,
                df);
            for(size_t i = 0; i != n; i++) fprintf(stderr, " %02x", p[i]);
            fprintf(stderr, "\n");
            assert(0);
        }
    }
    else {
        assert(d == complete);
    }
}

#define VALID(s) expect(s, sizeof(s) - 1, -1, 1)
#define PARTIAL(s) expect(s, sizeof(s) - 1, -1, 0)
#define BAD(s, at) expect(s, sizeof(s) - 1, at, 0)

static void kuhn_cases(void) {
    /* 1: some correct UTF-8 text. */
    VALID("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5");
    VALID("");
    VALID("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1"
        "-UTF-8!!");
    /* 2.1: first possible sequence of each length. */
    expect("\x00", 1, -1, 1);
    VALID("\xc2\x80");
    VALID("\xe0\xa0\x80");
    VALID("\xf0\x90\x80\x80");
    BAD("\xf8\x88\x80\x80\x80", 0);
    BAD("\xfc\x84\x80\x80\x80\x80", 0);
    /* 2.2: last possible sequence of each length. */
    VALID("\x7f");
    VALID("\xdf\xbf");
    VALID("\xef\xbf\xbf");
    BAD("\xf7\xbf\xbf\xbf", 0);
    BAD("\xfb\xbf\xbf\xbf\xbf", 0);
    BAD("\xfd\xbf\xbf\xbf\xbf\xbf", 0);
    /* 2.3: other boundary conditions. */
    VALID("\xed\x9f\xbf");
    VALID("\xee\x80\x80");
    VALID("\xef\xbf\xbd");
    VALID("\xf4\x8f\xbf\xbf");
    BAD("\xf4\x90\x80\x80", 1);
    /* 3.1: unexpected continuation bytes. */
    BAD("\x80", 0);
    BAD("\xbf", 0);
    BAD("\x80\xbf", 0);
    BAD("\x80\xbf\x80", 0);
    BAD("\x80\xbf\x80\xbf", 0);
    BAD("a\x80\xbf\x80\xbf\x80", 1);
    BAD("\xc2\x80\x80", 2);
    BAD("\xe1\x80\x80\xbf", 3);
    BAD("\xf1\x80\x80\x80\x80", 4);
    for(int c = 0x80; c <= 0xBF; c++) {
        uint8_t b[2] = {(uint8_t)c, 'x'};
        size_t f;
        assert(dfa_utf8(b, 2, &f) == -1 && f == 0);
        check_splits(b, 2);
    }
    /* 3.2: lonely start characters, each followed by a space. */
    for(int c = 0xC0; c <= 0xFF; c++) {
        uint8_t b[2] = {(uint8_t)c, ' '};
        size_t f;
        int valid_lead = (c >= 0xC2 && c <= 0xF4);
        assert(dfa_utf8(b, 2, &f) == -1);
        assert(f == (valid_lead ? 1u : 0u));
        check(b, 2);
        check_splits(b, 2);
        /* Alone at the end: a valid lead is merely incomplete. */
        assert(dfa_utf8(b, 1, &f) == (valid_lead ? 0 : -1));
    }
    /* 3.3/3.4: sequences with the last continuation byte missing. */
    BAD("\xc0", 0);
    BAD("\xe0\x80", 1);
    BAD("\xf0\x80\x80", 1);
    BAD("\xf8\x80\x80\x80", 0);
    BAD("\xfc\x80\x80\x80\x80", 0);
    PARTIAL("\xdf");
    PARTIAL("\xef\xbf");
    PARTIAL("\xf4\x8f\xbf");
    BAD("\xf7\xbf\xbf", 0); /* F7 is never valid */
    BAD("\xdf\xef\xbf", 1);
    BAD("\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80"
        "\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf", 0);
    /* 3.5: impossible bytes. */
    BAD("\xfe", 0);
    BAD("\xff", 0);
    BAD("\xfe\xfe\xff\xff", 0);
    BAD("abc\xfe", 3);
    /* 4.1: overlong ASCII slash. */
    BAD("\xc0\xaf", 0);
    BAD("\xe0\x80\xaf", 1);
    BAD("\xf0\x80\x80\xaf", 1);
    BAD("\xf8\x80\x80\x80\xaf", 0);
    BAD("\xfc\x80\x80\x80\x80\xaf", 0);
    /* 4.2: maximum overlong sequences. */
    BAD("\xc1\xbf", 0);
    BAD("\xe0\x9f\xbf", 1);
    BAD("\xf0\x8f\xbf\xbf", 1);
    BAD("\xf8\x87\xbf\xbf\xbf", 0);
    BAD("\xfc\x83\xbf\xbf\xbf\xbf", 0);
    /* 4.3: overlong NUL. */
    BAD("\xc0\x80", 0);
    BAD("\xe0\x80\x80", 1);
    BAD("\xf0\x80\x80\x80", 1);
    BAD("\xf8\x80\x80\x80\x80", 0);
    BAD("\xfc\x80\x80\x80\x80\x80", 0);
    /* 5.1: single UTF-16 surrogates. */
    BAD("\xed\xa0\x80", 1);
    BAD("\xed\xad\xbf", 1);
    BAD("\xed\xae\x80", 1);
    BAD("\xed\xaf\xbf", 1);
    BAD("\xed\xb0\x80", 1);
    BAD("\xed\xbe\x80", 1);
    BAD("\xed\xbf\xbf", 1);
    /* 5.2: paired surrogates. */
    BAD("\xed\xa0\x80\xed\xb0\x80", 1);
    BAD("\xed\xad\xbf\xed\xbf\xbf", 1);
    BAD("\xed\xaf\xbf\xed\xbf\xbf", 1);
    /* 5.3: noncharacters are valid scalar values. */
    VALID("\xef\xbf\xbe");
    VALID("\xef\xbf\xbf");
    VALID("\xef\xb7\x90");
    VALID("\xf4\x8f\xbf\xbe");
    /* Examples from the task statement. */
    BAD("\xf4\x90", 1);
    BAD("\xed\xa0", 1);
    BAD("\xc0", 0);
    /* Autobahn 6.x style: error right after a long valid ASCII run, at
       every offset within a SIMD block. */
    for(size_t pre = 0; pre != 100; pre++) {
        uint8_t b[128];
        memset(b, 'a', pre);
        b[pre] = 0xFF;
        memset(b + pre + 1, 'b', 20);
        size_t f;
        assert(dfa_utf8(b, pre + 21, &f) == -1 && f == pre);
        assert(whole(b, pre + 21) == -1);
        assert(whole(b, pre) == 1);
        b[pre] = 0xE2; /* truncated at the very end */
        assert(whole(b, pre + 1) == 0);
        assert(whole(b, pre + 2) == -1);
    }
}

static size_t encode(uint32_t cp, int len, uint8_t *out) {
    if(len == 1) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    static const uint8_t lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    for(int i = len - 1; i > 0; i--) {
        out[i] = 0x80 | (cp & 0x3F);
        cp >>= 6;
    }
    out[0] = lead[len] | (uint8_t)cp;
    return (size_t)len;
}

static int natural_len(uint32_t cp) {
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Every code point in its natural form, every overlong form that fits
   the bit patterns, and every 4-byte form above U+10FFFF. */
static void every_code_point(void) {
    uint8_t b[4];
    size_t f;
    for(uint32_t cp = 0; cp <= 0x1FFFFF; cp++) {
        int nl = natural_len(cp);
        for(int len = nl; len <= 4; len++) {
            /* Bit capacity of the form. */
            if(len == 2 && cp > 0x7FF) continue;
            if(len == 3 && cp > 0xFFFF) continue;
            size_t n = encode(cp, len, b);
            int d = dfa_utf8(b, n, &f);
            int valid = len == nl && cp <= 0x10FFFF &&
                !(cp >= 0xD800 && cp <= 0xDFFF);
            if(valid) {
                assert(d == 1);
                /* Every proper prefix is an incomplete, valid prefix. */
                for(size_t k = 1; k < n; k++) assert(whole(b, k) == 0);
            }
            else {
                assert(d == -1);
                /* Overlong 2-byte forms fail at the lead; the others at
                   the second byte, except F5..F7 leads (> U+13FFFF). */
                size_t at = (len == 2 || b[0] >= 0xF5) ? 0 : 1;
                if(f != at) {
                    fprintf(stderr, "cp %x len %d fail %zu\n", cp, len, f);
                    assert(0);
                }
                size_t rf;
                assert(ref_utf8(b, n, &rf) == -1 && rf == f);
            }
        }
    }
    /* All valid code points in one buffer, fed whole and in random
       pieces. */
    size_t cap = 0x110000 * 4, n = 0;
    uint8_t *all = malloc(cap);
    assert(all);
    for(uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if(cp >= 0xD800 && cp <= 0xDFFF) continue;
        n += encode(cp, natural_len(cp), all + n);
    }
    assert(dill__utf8_valid(all, n));
    for(int round = 0; round != 20; round++) {
        struct dill__utf8 u;
        dill__utf8_init(&u);
        size_t pos = 0;
        while(pos < n) {
            size_t k = rnd() % (round < 10 ? 8 : 300);
            if(k > n - pos) k = n - pos;
            assert(dill__utf8_feed(&u, all + pos, k) == 0);
            if(k) assert(dill__utf8_complete(&u) ==
                (pos + k == n || (all[pos + k] & 0xC0) != 0x80));
            pos += k;
        }
        assert(dill__utf8_complete(&u));
    }
    /* Corrupting one byte anywhere must be found at the right place. */
    for(int round = 0; round != 2000; round++) {
        size_t at = rnd() % n;
        uint8_t old = all[at];
        all[at] = (uint8_t)rnd();
        size_t start = at > 100 ? at - 100 : 0;
        size_t end = at + 100 < n ? at + 100 : n;
        /* Start on a character boundary. */
        while(start < n && (all[start] & 0xC0) == 0x80 && start != at)
            start++;
        check(all + start, end - start);
        all[at] = old;
    }
    free(all);
}

/* Random inputs built from pieces likely to hit every DFA transition and
   every position of the fast path. */
static size_t gen(uint8_t *p, size_t cap) {
    size_t n = 0;
    while(n + 8 < cap) {
        unsigned r = (unsigned)(rnd() % 16);
        if(r < 4) {
            size_t k = rnd() % 40;
            if(n + k > cap - 8) k = cap - 8 - n;
            for(size_t i = 0; i != k; i++) p[n++] = 0x20 + rnd() % 95;
        }
        else if(r < 12) {
            uint32_t cp;
            do {
                cp = (uint32_t)(rnd() % 0x110000);
                if(rnd() % 2) cp &= 0xFFFF;
                if(rnd() % 2) cp &= 0x7FF;
            } while(cp >= 0xD800 && cp <= 0xDFFF);
            n += encode(cp, natural_len(cp), p + n);
        }
        else if(r < 13) {
            p[n++] = (uint8_t)rnd();
        }
        else if(r < 14) {
            /* Edge bytes around the special leads. */
            static const uint8_t edge[] = {0x7F, 0x80, 0x8F, 0x90, 0x9F,
                0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xEC, 0xED,
                0xEE, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5, 0xFF};
            p[n++] = edge[rnd() % sizeof(edge)];
        }
        else {
            if(rnd() % 8 == 0) break;
        }
    }
    return n;
}

static void randomized(void) {
    uint8_t buf[600];
    int rounds = emu_rounds("utf8 randomized", 200000, 10);
    for(int round = 0; round != rounds; round++) {
        size_t n = gen(buf, 16 + rnd() % (sizeof(buf) - 16));
        check(buf, n);
        /* Random split points. */
        int w = whole(buf, n);
        struct dill__utf8 u;
        dill__utf8_init(&u);
        size_t pos = 0;
        int res = 0;
        while(pos < n) {
            size_t k = 1 + rnd() % 70;
            if(k > n - pos) k = n - pos;
            if(dill__utf8_feed(&u, buf + pos, k) < 0) res = -1;
            pos += k;
        }
        if(res == 0) res = dill__utf8_complete(&u);
        assert(res == w);
        if(round < 2000) check_splits(buf, n);
    }
}

/* Long inputs are validated as two interleaved halves cut at a character
   start near the middle: damage around the cut, and characters spanning
   it, must be judged exactly as elsewhere. */
static void around_the_middle(void) {
    static const uint8_t bad[] = {0x80, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0,
        0xF4, 0xF5, 0xFF, 'a'};
    uint8_t buf[2100];
    int rounds = emu_rounds("utf8 around_the_middle", 300, 5);
    for(int round = 0; round != rounds; round++) {
        size_t n = 0, want = 256 + rnd() % 1800;
        while(n + 4 < want) {
            uint32_t cp = (uint32_t)(rnd() % (rnd() % 3 ? 0x800 : 0x110000));
            if(cp >= 0xD800 && cp <= 0xDFFF) continue;
            n += encode(cp, natural_len(cp), buf + n);
        }
        assert(whole(buf, n) == 1);
        for(size_t i = n / 2 - 8; i != n / 2 + 8; i++) {
            uint8_t old = buf[i];
            for(size_t k = 0; k != sizeof(bad); k++) {
                buf[i] = bad[k];
                check(buf, n);
            }
            /* Truncate the text right there, too. */
            check(buf, i);
            buf[i] = old;
        }
    }
    /* A character left open and followed by ASCII runs long enough for
       the fast path: the continuation bytes arriving later must not
       complete it. */
    for(size_t j = 0; j != 600; j += (j > 40 && j < 250) ? 13 : 1) {
        for(size_t gap = 14; gap != 40; gap++) {
            memset(buf, 'a', 650);
            buf[j] = 0xE2;
            buf[j + 1 + gap] = 0x82;
            buf[j + 2 + gap] = 0xAC;
            check(buf, 650);
            size_t f;
            assert(dfa_utf8(buf, 650, &f) == -1 && f == j + 1);
        }
    }
    /* Continuation runs at the cut longer than any character allows. */
    memset(buf, 'x', 600);
    for(size_t run = 1; run != 8; run++) {
        for(size_t at = 290; at != 310; at++) {
            memset(buf + at, 0x80, run);
            check(buf, 600);
            memset(buf + at, 'x', run);
        }
    }
}

int main(void) {
    const char *seed = getenv("DILL_TEST_SEED");
    if(seed) rng_state = strtoull(seed, NULL, 0) | 1;
    assert(sizeof(struct dill__utf8) == 4);
    /* A zeroed struct is a valid start state. */
    struct dill__utf8 z = {0};
    assert(dill__utf8_feed(&z, "ok", 2) == 0 && dill__utf8_complete(&z));
    assert(dill__utf8_feed(&z, NULL, 0) == 0);
    kuhn_cases();
    every_code_point();
    randomized();
    around_the_middle();
    return 0;
}
