/* libFuzzer target: the kernel -> ron-httpd pipe as ron-httpd reads it
 * (harness_http.h: fuzz_feed_one). */
#include "harness_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_feed_one(data, size);
	return 0;
}
