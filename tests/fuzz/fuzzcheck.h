/* The invariant check of every fuzz harness (harness.h, harness_http.h): beyond the
 * sanitizers, a broken invariant says which and abort()s. */
#ifndef RON_FUZZ_CHECK_H
#define RON_FUZZ_CHECK_H
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz invariant failed: %s: ", #cond);                     \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
