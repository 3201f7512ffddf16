/* A self-signed P-256 certificate for localhost and its key, made with
   the openssl command in a fresh temporary directory, for tests that run
   TLS servers.  Header-only. */

#ifndef DILL_TESTS_SELFCERT_H
#define DILL_TESTS_SELFCERT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assert.h"

static char selfcert_dir[64], cert[128], key[128];

/* Fills cert and key with the paths of new files. */
__attribute__((unused)) static void makecert(void) {
    strcpy(selfcert_dir, "/tmp/dill-cert-XXXXXX");
    assert(mkdtemp(selfcert_dir));
    snprintf(cert, sizeof(cert), "%s/c.pem", selfcert_dir);
    snprintf(key, sizeof(key), "%s/k.pem", selfcert_dir);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
        "ec_paramgen_curve:P-256 -nodes -keyout %s -out %s -subj "
        "/CN=localhost -days 1 >/dev/null 2>&1", key, cert);
    assert(system(cmd) == 0);
}

/* Removes them. */
__attribute__((unused)) static void rmcert(void) {
    unlink(cert);
    unlink(key);
    rmdir(selfcert_dir);
}

#endif
