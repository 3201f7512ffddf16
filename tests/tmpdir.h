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

/* Makes in dir a self-signed P-256 certificate for CN=localhost, valid
   for days, and its key; extra: more `openssl req` arguments (or ""). */
__attribute__((unused)) static void tmpdir_selfsigned(const char *key,
      const char *cert, int days, const char *extra) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cd %s && openssl req -x509 -newkey ec "
        "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s "
        "-subj /CN=localhost -days %d %s >log 2>&1", dir, key, cert, days,
        extra);
    assert(system(cmd) == 0);
}

static void tmpdir_remove(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert(system(cmd) == 0);
}

#endif
