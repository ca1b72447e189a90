/* LeakSanitizer suppressions for the test runner (SANITIZE=1).  Criterion 2.4.1
 * leaks a 48-byte calloc of its own in the runner process when a run spans
 * several suites, which fails `make test SANITIZE=1` after every test passed.
 * The pattern matches any stack through libcriterion, so leaks in a test's own
 * worker process go unprinted too; they never failed a run anyway (a worker
 * reports its result before LeakSanitizer runs).  ron-kernel, ron-monitor and
 * svc-sim, which the tests start, are not affected: their leaks still fail. */
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";
}
