/* libFuzzer target: a hand-over record as ron-monitor reads its --handover
 * argument: decoded, checked, encoded back, and resumed from (harness.h:
 * fuzz_handover_one). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_handover_one(data, size);
	return 0;
}
