/* libFuzzer target: a config file, read, checked and printed as ron-kernel
 * --config FILE --check-config does (harness.h: fuzz_config_one). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_config_one(data, size);
	return 0;
}
