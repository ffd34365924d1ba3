/* Minimal test helpers: CHECK records a failure and continues; tests end with CHECK_DONE(). */
#ifndef TL_TESTS_CHECK_H
#define TL_TESTS_CHECK_H

#include <stdio.h>

static int check_failures, check_count;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        check_count++;                                                        \
        if (!(cond)) {                                                        \
            check_failures++;                                                 \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

#define CHECK_DONE()                                                                    \
    do {                                                                                \
        fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);         \
        return check_failures ? 1 : 0;                                                  \
    } while (0)

#endif
