/* Tests under user-mode emulation (make test-cross runs the cross-built
   tests under qemu-user with DILL_TEST_EMULATOR set to the emulator's
   command).  See tests/emu/ for the emulator behaviours that matter. */

#ifndef DILL_TESTS_EMU_H
#define DILL_TESTS_EMU_H

#include <stdio.h>
#include <stdlib.h>

/* The emulator's command, or NULL when running natively. */
static inline const char *emu_name(void) {
    const char *e = getenv("DILL_TEST_EMULATOR");
    return e && *e ? e : NULL;
}

/* Rounds of a randomised check: n natively, n / div under emulation,
   where the same code paths run 10 to 50 times slower (said on stderr). */
static inline int emu_rounds(const char *what, int n, int div) {
    const char *emu = emu_name();
    if(!emu) return n;
    fprintf(stderr, "%s: under %s: %d rounds, not %d (the same code paths, "
        "emulated 10 to 50 times slower)\n", what, emu, n / div, n);
    return n / div;
}

#endif
