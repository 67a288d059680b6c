/* What the fuzz targets share: a check that libFuzzer reports as a crash,
 * with the input that broke it saved as an artifact. */
#ifndef BAEDAL_FUZZ_H
#define BAEDAL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* assert() would vanish under NDEBUG; a fuzz check must never. */
#define CHECK(cond)                                                                  \
	do {                                                                             \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                 \
		}                                                                            \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
