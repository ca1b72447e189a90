/* libFuzzer target: a v1.health reply as the client reads it from the socket,
 * length prefix included (harness.h: fuzz_reply_one). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reply_one(data, size);
	return 0;
}
