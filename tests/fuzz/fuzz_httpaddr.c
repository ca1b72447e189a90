/* libFuzzer target: a RON_HTTP_ADDR value (harness_http.h: fuzz_httpaddr_one). */
#include "harness_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_httpaddr_one(data, size);
	return 0;
}
