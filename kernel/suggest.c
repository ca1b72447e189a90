/* An argument ron-kernel does not know: one line naming it, with the closest
 * command or flag it might have meant (by edit distance), and where the usage is. */
#include <stdio.h>
#include <string.h>

#include "kernel.h"

/* The flags that are no setting of the table. */
static const char *const own_flags[] = {"status", "check", "check-config", "help", "version", NULL};

struct best {
	const char *word;
	int d;
};

static void consider(struct best *b, const char *typed, const char *word)
{
	int d = svc_distance(typed, word);
	if (d < b->d) {
		b->d = d;
		b->word = word;
	}
}

const char *kernel_suggest(const char *arg, bool *flag)
{
	char typed[SVC_NAME_MAX];
	*flag = arg[0] == '-';
	const char *w = arg + strspn(arg, "-");
	snprintf(typed, sizeof(typed), "%.*s", (int)strcspn(w, "="), w);
	/* Close enough to be a slip: at most two edits, and fewer than the word has. */
	int len = (int)strlen(typed);
	struct best b = {NULL, len < 3 ? len : 3};
	if (*flag) {
		for (int i = 0; own_flags[i]; i++)
			consider(&b, typed, own_flags[i]);
		for (int i = 0; i < CFG__COUNT; i++)
			if (cfg_table[i].scope & CFG_KERNEL)
				consider(&b, typed, cfg_table[i].flag);
	} else {
		for (int i = 0; kernel_ctl_command(i); i++)
			consider(&b, typed, kernel_ctl_command(i));
	}
	return b.word;
}

void kernel_unknown_argument(FILE *f, const char *arg)
{
	bool flag;
	const char *best = kernel_suggest(arg, &flag);
	if (best)
		fprintf(f, "ron-kernel: unknown argument %s; did you mean %s%s?\n", arg,
			flag ? "--" : "", best);
	else
		fprintf(f, "ron-kernel: unknown argument %s\n", arg);
	fprintf(f, "Try 'ron-kernel --help' for the commands and settings.\n");
}
