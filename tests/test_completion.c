/* The bash completion (scripts/completion/ron-kernel, installed by the Debian
 * package): commands and flags, and the service names of the running kernel the
 * command line names with --config. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "kconf.h"
#include "testlib.h"

TestSuite(completion, .init = tl_setup, .fini = tl_teardown, .timeout = 60);

static const char *script(void)
{
	static char path[700];
	snprintf(path, sizeof(path), "%s/scripts/completion/ron-kernel", tl_src_dir());
	return path;
}

/* COMPREPLY for the words given (the last one is being completed), one per line. */
static void complete(const char *words, char *out, size_t cap)
{
	char prog[4096], err[4096];
	snprintf(prog, sizeof(prog),
		 ". '%s' && COMP_WORDS=(%s) && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && "
		 "_ron_kernel && printf '%%s\\n' \"${COMPREPLY[@]}\"",
		 script(), words);
	char *argv[] = {"/bin/bash", "-c", prog, NULL};
	char *env[] = {"PATH=" RON_BUILD_DIR ":/usr/bin:/bin", NULL};
	int st = tl_run(argv, env, out, cap, err, sizeof(err), KC_WAIT_MS);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "bash: %#x: %s", st, err);
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

Test(completion, commands_from_a_prefix)
{
	char out[4096];
	struct stat st;
	cr_assert_eq(stat(script(), &st), 0, "no %s", script());
	complete("ron-kernel re", out, sizeof(out));
	cr_assert(has_line(out, "restart") && has_line(out, "reload"), "%s", out);
	cr_assert_not(has_line(out, "status"), "%s", out);
	complete("ron-kernel --ch", out, sizeof(out));
	cr_assert(has_line(out, "--check-config") && has_line(out, "--check"), "%s", out);
}

Test(completion, service_names_from_the_running_kernel)
{
	struct kc k;
	char line[4096], a[512], b[512], words[1024], out[4096];
	sim_section(a, sizeof(a), "alpha", NULL);
	sim_section(b, sizeof(b), "beta", NULL);
	kc_write(&k, "%s\n%s", a, b);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	snprintf(words, sizeof(words), "ron-kernel --config '%s' restart ''", k.conf);
	complete(words, out, sizeof(out));
	cr_assert(has_line(out, "alpha") && has_line(out, "beta") && has_line(out, "all"), "%s",
		  out);
	snprintf(words, sizeof(words), "ron-kernel --config '%s' stop al", k.conf);
	complete(words, out, sizeof(out));
	cr_assert(has_line(out, "alpha") && has_line(out, "all"), "%s", out);
	cr_assert_not(has_line(out, "beta"), "%s", out);
	snprintf(words, sizeof(words), "ron-kernel --config '%s' signal ''", k.conf);
	complete(words, out, sizeof(out));
	cr_assert(has_line(out, "HUP") && !has_line(out, "alpha"), "%s", out);
	kc_stop(&k);
}
