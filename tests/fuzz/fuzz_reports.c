/* libFuzzer target: the bytes of a monitor's status pipe as the kernel reads
 * them: cut into lines, decoded, applied to the status table, formatted
 * (harness.h: fuzz_reports_one). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reports_one(data, size);
	return 0;
}
