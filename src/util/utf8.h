/* Incremental UTF-8 validation (RFC 3629).

   Accepts exactly the well-formed UTF-8 of RFC 3629: no overlong forms, no
   surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no 5/6-byte forms,
   no 0xC0, 0xC1 or 0xF5..0xFF bytes.  The validator is a small DFA whose
   state survives between calls, so a text message can be checked chunk by
   chunk as it arrives.  It rejects at the first byte after which no
   continuation could make the input valid (0xC0 at once, 0xED 0xA0 and
   0xF4 0x90 at their second byte), which is what RFC 6455 section 8.1
   asks of a WebSocket endpoint. */

#ifndef DILL_UTIL_UTF8_H
#define DILL_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Validator state.  Treat as opaque.  A zero-filled struct is the same as
   one set up by dill__utf8_init. */
struct dill__utf8 {
    uint32_t state;
};

/* Resets u to the start of a new text (a character boundary). */
void dill__utf8_init(struct dill__utf8 *u);

/* Feeds n more bytes of the text.  Returns 0 while the text seen so far is
   still a prefix of some valid UTF-8 text, -1 once it cannot be.  The error
   is sticky: after -1 every further call returns -1 until dill__utf8_init.
   p may be NULL when n is 0. */
int dill__utf8_feed(struct dill__utf8 *u, const void *p, size_t n);

/* Returns 1 when the text fed so far is complete valid UTF-8 (no error and
   not in the middle of a multi-byte character), else 0.  Call it at the end
   of a message. */
int dill__utf8_complete(const struct dill__utf8 *u);

/* Returns 1 when u has failed (dill__utf8_feed returned -1), else 0. */
int dill__utf8_failed(const struct dill__utf8 *u);

/* One-shot check: returns 1 when the n bytes at p are complete valid
   UTF-8, else 0. */
int dill__utf8_valid(const void *p, size_t n);

#endif
