/* A fault injector for the tests, preloaded with LD_PRELOAD: while the file an
 * environment variable names exists, the call fails as if a resource ran out.
 *   RON_FAULT_PROG=NAME    inject only in processes whose program name is NAME
 *   RON_FAULT_PIDFD=FILE   pidfd_open fails with EMFILE
 *   RON_FAULT_SOCKET=FILE  socket fails with EMFILE
 *   RON_FAULT_FORK=FILE    fork and clone fail with EAGAIN
 *   RON_FAULT_MALLOC=FILE  malloc, calloc and realloc fail with ENOMEM
 * A file rather than a count: a test turns a fault on and off while the
 * process runs, which is what a transient shortage looks like. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

extern char *program_invocation_short_name;

enum { F_PIDFD, F_SOCKET, F_FORK, F_MALLOC, F__COUNT };
static const char *const vars[F__COUNT] = {"RON_FAULT_PIDFD", "RON_FAULT_SOCKET", "RON_FAULT_FORK",
					   "RON_FAULT_MALLOC"};
static const char *files[F__COUNT];
static bool ready;

__attribute__((constructor)) static void faults_init(void)
{
	const char *prog = getenv("RON_FAULT_PROG");
	if (prog && strcmp(prog, program_invocation_short_name) != 0)
		return;
	for (int i = 0; i < F__COUNT; i++) {
		const char *f = getenv(vars[i]);
		files[i] = f && *f ? f : NULL;
	}
	ready = true;
}

/* access(2) through syscall(2): no allocation, no recursion into malloc. */
static bool faulty(int which)
{
	if (!ready || !files[which])
		return false;
	int saved = errno;
	bool on = syscall(SYS_faccessat, AT_FDCWD, files[which], F_OK) == 0;
	errno = saved;
	return on;
}

int pidfd_open(pid_t pid, unsigned flags)
{
	if (faulty(F_PIDFD)) {
		errno = EMFILE;
		return -1;
	}
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

int socket(int domain, int type, int protocol)
{
	if (faulty(F_SOCKET)) {
		errno = EMFILE;
		return -1;
	}
	return (int)syscall(SYS_socket, domain, type, protocol);
}

pid_t fork(void)
{
	static pid_t (*real)(void);
	if (faulty(F_FORK)) {
		errno = EAGAIN;
		return -1;
	}
	if (!real)
		real = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
	return real();
}

/* The kernel starts its monitors with clone(CLONE_VM | CLONE_VFORK): the same fault.
 * The optional arguments are passed on as they came; glibc reads them only for the
 * flags that ask for them. */
int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	static int (*real)(int (*)(void *), void *, int, void *, ...);
	if (faulty(F_FORK)) {
		errno = EAGAIN;
		return -1;
	}
	va_list ap;
	va_start(ap, arg);
	pid_t *ptid = va_arg(ap, pid_t *);
	void *tls = va_arg(ap, void *);
	pid_t *ctid = va_arg(ap, pid_t *);
	va_end(ap);
	if (!real)
		real =
		    (int (*)(int (*)(void *), void *, int, void *, ...))dlsym(RTLD_NEXT, "clone");
	return real(fn, stack, flags, arg, ptid, tls, ctid);
}

/* The next malloc in line (glibc's, or a sanitizer's): dlsym may itself allocate,
 * which a small static arena serves while the lookup is under way. */
static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static char arena[8192];
static size_t arena_used;
static bool resolving;

static void *arena_alloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (arena_used + n > sizeof(arena))
		return NULL;
	void *p = arena + arena_used;
	arena_used += n;
	return p;
}

static bool in_arena(const void *p)
{
	return (const char *)p >= arena && (const char *)p < arena + sizeof(arena);
}

static void resolve(void)
{
	if (next_free || resolving)
		return;
	resolving = true;
	next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	next_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	resolving = false;
}

void *malloc(size_t n)
{
	resolve();
	if (!next_malloc)
		return arena_alloc(n);
	if (faulty(F_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return next_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	resolve();
	if (!next_calloc) {
		void *p = size && n > sizeof(arena) / size ? NULL : arena_alloc(n * size);
		if (p)
			memset(p, 0, n * size);
		return p;
	}
	if (faulty(F_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return next_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	resolve();
	if (in_arena(p) || !next_realloc) {
		void *q = malloc(n);
		if (q && p) {
			size_t room = (size_t)(arena + sizeof(arena) - (char *)p);
			memcpy(q, p, n < room ? n : room);
		}
		return q;
	}
	if (faulty(F_MALLOC) && n) {
		errno = ENOMEM;
		return NULL;
	}
	return next_realloc(p, n);
}

void free(void *p)
{
	if (!p || in_arena(p))
		return;
	resolve();
	if (next_free)
		next_free(p);
}
