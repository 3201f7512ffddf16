/* The one assertion header of the test suite.  Assertions are always on
   (NDEBUG does not remove them) and report errno when they fail. */

#ifndef DILL_TESTS_ASSERT_H
#define DILL_TESTS_ASSERT_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef static_assert
#define static_assert _Static_assert
#endif

/* Fails the test when x is false. */
#undef assert
#define assert(x) \
    do {\
        if(!(x)) {\
            int e__ = errno;\
            fprintf(stderr, "%s:%d: assertion failed: %s (errno %d: %s)\n",\
                __FILE__, __LINE__, #x, e__, strerror(e__));\
            fflush(stderr);\
            abort();\
        }\
    } while(0)

/* Fails the test when a call that should have succeeded returned -1. */
#define errno_assert(x) assert(x)

/* Checks that expr failed with -1 (or NULL) and errno == err. */
#define assert_err(expr, err) \
    do {\
        errno = 0;\
        long long r__ = (long long)(intptr_t)(expr);\
        int e__ = errno;\
        if(r__ != -1 || e__ != (err)) {\
            fprintf(stderr, "%s:%d: %s: expected -1/%s, got %lld/%s\n",\
                __FILE__, __LINE__, #expr, strerror(err), r__, strerror(e__));\
            fflush(stderr);\
            abort();\
        }\
    } while(0)

#endif
