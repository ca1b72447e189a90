/* The status pipe cut into lines: partial reads are joined, and a line too long
 * for any report is dropped whole instead of being taken for two reports. */
#include <string.h>

#include "kernel.h"

void kernel_lines_init(struct kernel_lines *lb)
{
	lb->len = 0;
	lb->skipping = false;
}

void kernel_lines_feed(struct kernel_lines *lb, const char *data, size_t n, kernel_line_fn *fn,
		       void *arg)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		if (lb->skipping) {
			/* The rest of an overlong line: its start was already reported. */
			if (nl)
				lb->skipping = false;
		} else if (lb->len + take > sizeof(lb->buf)) {
			fn(arg, lb->buf, lb->len, true);
			lb->len = 0;
			lb->skipping = nl == NULL;
		} else {
			memcpy(lb->buf + lb->len, data, take);
			lb->len += take;
			if (nl) {
				fn(arg, lb->buf, lb->len, false);
				lb->len = 0;
			}
		}
		if (!nl)
			break;
		data = nl + 1;
		n -= take + 1;
	}
}
