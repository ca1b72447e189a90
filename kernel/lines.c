/* The status pipe cut into lines: partial reads are joined, and a line too long
 * for any report is dropped whole instead of being taken for two reports.  A whole
 * line in what was read goes to fn where it lies; only a line cut by the end of a
 * read is copied, into a buffer that exists while it waits, so that the hundreds
 * of idle monitors a kernel may watch cost it nothing here. */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

void kernel_lines_init(struct kernel_lines *lb)
{
	lb->buf = NULL;
	lb->len = 0;
	lb->skipping = false;
}

void kernel_lines_reset(struct kernel_lines *lb)
{
	free(lb->buf);
	kernel_lines_init(lb);
}

/* Keeps the start of a line for the next read; false if there is no memory for it,
 * and the line is then dropped as if overlong. */
static bool keep(struct kernel_lines *lb, const char *data, size_t n)
{
	if (!lb->buf && !(lb->buf = malloc(KERNEL_LINES_CAP)))
		return false;
	memcpy(lb->buf + lb->len, data, n);
	lb->len += n;
	return true;
}

static void done(struct kernel_lines *lb)
{
	free(lb->buf);
	lb->buf = NULL;
	lb->len = 0;
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
		} else if (lb->len + take > KERNEL_LINES_CAP) {
			fn(arg, lb->len ? lb->buf : data, lb->len ? lb->len : take, true);
			done(lb);
			lb->skipping = nl == NULL;
		} else if (nl && lb->len == 0) {
			fn(arg, data, take, false); /* whole, where it lies */
		} else if (!keep(lb, data, take)) {
			fn(arg, lb->len ? lb->buf : data, lb->len ? lb->len : take, true);
			done(lb);
			lb->skipping = nl == NULL;
		} else if (nl) {
			fn(arg, lb->buf, lb->len, false);
			done(lb);
		}
		if (!nl)
			break;
		data = nl + 1;
		n -= take + 1;
	}
}
