/* libFuzzer target: /proc/self/mountinfo and /proc/PID/cgroup text as the kernel
 * and ron-monitor read them to find cgroup v2 (harness.h: fuzz_cgroup_one). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_cgroup_one(data, size);
	return 0;
}
