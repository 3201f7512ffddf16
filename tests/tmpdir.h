/* A temporary directory for the files a test makes (certificates), and
   paths inside it. */

#ifndef DILL_TESTS_TMPDIR_H
#define DILL_TESTS_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"

static char dir[64];

/* Creates /tmp/dill-<name>-XXXXXX as dir. */
static void tmpdir_make(const char *name) {
    snprintf(dir, sizeof(dir), "/tmp/dill-%s-XXXXXX", name);
    assert(mkdtemp(dir));
}

/* dir/name; the four latest results stay valid. */
static const char *path(const char *name) {
    static char buf[4][128];
    static int n;
    char *b = buf[n++ % 4];
    snprintf(b, 128, "%s/%s", dir, name);
    return b;
}

static void tmpdir_remove(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert(system(cmd) == 0);
}

#endif
