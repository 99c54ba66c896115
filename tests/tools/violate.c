/*
 * A test-only LD_PRELOAD shim that makes connectd break its sandbox on
 * request: when a read(2) returns bytes holding "X-Connectd-Test-Violate",
 * it calls execve(2), which no role's seccomp filter allows.  The booted
 * systemd tier loads it into connectd@.service with a drop-in, so a real
 * connection shows what a compromised one would meet: killed and logged,
 * not served.  Never installed; nothing in connectd knows of it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static ssize_t (*real_read)(int, void *, size_t);

/* Looked up at load, before connectd confines itself. */
__attribute__((constructor)) static void
violate_init(void)
{
	real_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
}

ssize_t
read(int fd, void *buf, size_t n)
{
	static const char mark[] = "X-Connectd-Test-Violate";
	ssize_t got = real_read(fd, buf, n);

	if (got > 0 && memmem(buf, (size_t)got, mark, sizeof(mark) - 1)) {
		char *argv[] = { (char *)"/bin/true", NULL };

		syscall(SYS_execve, argv[0], argv, (char *[]){ NULL });
	}
	return got;
}
