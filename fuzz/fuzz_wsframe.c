/* libFuzzer target for the WebSocket frame codec.  Decodes the input
   stream whole, at split points chosen by the input and (for short inputs)
   byte by byte; all runs must agree (tests/wsdrive.h checks the decoder's
   contract on every call).  The whole-buffer run is also compared with a
   plain reference loop over dill__ws_parse_header, dill__ws_check,
   dill__ws_mask and the UTF-8 validator, and every accepted header must
   survive dill__ws_build_header -> dill__ws_parse_header.

   Input: byte 0 = settings (bit 0 server, bit 1 strict lengths, bit 2
   UTF-8 checks, bits 4-6 negotiated RSV bits), byte 1 = message size
   limit (0: none, else byte * 37), byte 2 = split seed, rest = stream. */

#include "../tests/wsdrive.h"

static size_t cut_seeded(void *ctx, size_t pos, size_t left) {
    uint32_t *seed = ctx;
    *seed = *seed * 1103515245u + 12345u;
    size_t k = 1 + (*seed >> 16) % ((*seed & 3) ? 9 : 300);
    return k < left ? k : left;
}

/* Non-incremental reference: frame by frame over the whole buffer. */
static void reference(const struct wsd_cfg *cfg, const uint8_t *in,
      size_t n, const struct wsd_log *log) {
    uint8_t *buf = malloc(n ? n : 1);
    WSD_CHECK(buf);
    if(n) memcpy(buf, in, n);
    struct dill__ws_conn c = {0};
    c.flags = cfg->conn_flags;
    c.rsv = (uint8_t)cfg->rsv;
    c.max_msg = cfg->max_msg;
    struct dill__utf8 u;
    dill__utf8_init(&u);
    int uon = 0, error = 0;
    size_t pos = 0, nf = 0;
    for(;;) {
        struct dill__ws_hdr h;
        int r = dill__ws_parse_header(buf + pos, n - pos, &h);
        if(r < 0) {
            WSD_CHECK(r == -EPROTO);
            error = 1002;
            break;
        }
        if(r == 0) break;
        int rc = dill__ws_check(&c, &h);
        if(rc) {
            error = rc;
            break;
        }
        WSD_CHECK(nf < log->nf);
        const struct wsd_frame *f = &log->f[nf++];
        WSD_CHECK(wsd_same_hdr(&h, &f->hdr));
        /* Round trip of the header through the builder. */
        uint8_t hb[DILL__WS_HDR_MAX];
        struct dill__ws_hdr h2;
        size_t hl = dill__ws_build_header(hb, h.fin, h.opcode, h.rsv,
            h.masked ? h.key : NULL, h.len);
        WSD_CHECK(dill__ws_parse_header(hb, hl, &h2) == (int)hl);
        WSD_CHECK(h2.minimal && h2.len == h.len && h2.fin == h.fin &&
            h2.opcode == h.opcode && h2.rsv == h.rsv &&
            h2.masked == h.masked && !memcmp(h2.key, h.key, 4));
        if(h.minimal) WSD_CHECK(hl == (size_t)r);
        int ctl = dill__ws_is_control(h.opcode);
        if(h.opcode == DILL__WS_TEXT || h.opcode == DILL__WS_BINARY) {
            uon = h.opcode == DILL__WS_TEXT && !h.rsv &&
                (cfg->dec_flags & DILL__WS_DEC_UTF8);
            dill__utf8_init(&u);
        }
        pos += (size_t)r;
        size_t avail = n - pos < h.len ? n - pos : (size_t)h.len;
        uint8_t *pl = buf + pos;
        if(h.masked) dill__ws_mask(pl, pl, avail, h.key, 0);
        if(!ctl && uon && dill__utf8_feed(&u, pl, avail) < 0) {
            error = 1007;
            break;
        }
        WSD_CHECK(f->len <= avail &&
            (f->len == 0 || !memcmp(f->data, pl, f->len)));
        if(avail < h.len) break;
        WSD_CHECK(f->len == avail);
        if(!ctl && h.fin && uon && !dill__utf8_complete(&u)) {
            error = 1007;
            break;
        }
        WSD_CHECK(f->ended);
        pos += avail;
        /* Close payloads: the parser must not crash and must agree with
           the builder on what it accepts. */
        if(h.opcode == DILL__WS_CLOSE) {
            int code;
            const uint8_t *reason;
            size_t rl;
            if(dill__ws_close_parse(pl, avail, &code, &reason, &rl) == 0 &&
                  avail >= 2) {
                uint8_t out[DILL__WS_CONTROL_MAX];
                WSD_CHECK(dill__ws_close_build(out, code, reason, rl) ==
                    (int)avail);
                WSD_CHECK(!memcmp(out, pl, avail));
            }
        }
    }
    WSD_CHECK(error == log->error);
    WSD_CHECK(nf == log->nf);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if(size < 3) return 0;
    struct wsd_cfg cfg;
    cfg.conn_flags = ((data[0] & 1) ? DILL__WS_SERVER : 0) |
        ((data[0] & 2) ? DILL__WS_STRICT_LENGTH : 0);
    cfg.dec_flags = (data[0] & 4) ? DILL__WS_DEC_UTF8 : 0;
    cfg.rsv = data[0] & DILL__WS_RSV_ALL;
    cfg.max_msg = (uint64_t)data[1] * 37;
    uint32_t seed = data[2];
    const uint8_t *p = data + 3;
    size_t n = size - 3;
    struct wsd_log whole = {0}, split = {0};
    wsd_run(&whole, &cfg, p, n, wsd_cut_whole, NULL);
    reference(&cfg, p, n, &whole);
    wsd_run(&split, &cfg, p, n, cut_seeded, &seed);
    WSD_CHECK(wsd_same(&whole, &split));
    wsd_free(&split);
    if(n <= 4096) {
        wsd_run(&split, &cfg, p, n, wsd_cut_bytes, NULL);
        WSD_CHECK(wsd_same(&whole, &split));
        wsd_free(&split);
    }
    wsd_free(&whole);
    return 0;
}
