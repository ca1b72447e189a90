/* libFuzzer target: a request line as a client of control.sock sends it
 * (harness.h: fuzz_ctlreq_one). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_ctlreq_one(data, size);
	return 0;
}
