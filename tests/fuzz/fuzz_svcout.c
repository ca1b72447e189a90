/* libFuzzer target: a service's output pipe as the kernel reads it (kernel/svcline.c),
 * cut into lines and pieces, escapes removed, formatted three ways (harness.h:
 * fuzz_svcout_one). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_svcout_one(data, size);
	return 0;
}
