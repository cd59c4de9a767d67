/* Starts QEMU detached from the daemon: own session, no inherited
 * descriptors, output to a log file, exec failures through an error pipe. */
#include "hv/vm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

#define CHILD_ERRFD 3

int hv_pidfd_open(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

/* PATH lookup in the parent: the child may only make async-signal-safe calls. */
static int resolve(const char *name, char *out, size_t n)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/'))
		return util_strlcpy(out, name, n) < 0 ? -ENAMETOOLONG : 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t len = strcspn(p, ":");

		snprintf(out, n, "%.*s/%s", (int)len, p, name);
		if (access(out, X_OK) == 0)
			return 0;
		p += len + (p[len] == ':');
	}
	return -ENOENT;
}

static void close_from(int lowfd)
{
	if (syscall(SYS_close_range, lowfd, ~0U, 0) == 0)
		return;
	for (int fd = lowfd; fd < 65536; fd++)
		close(fd);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child_exec(const char *path, char *const *argv, int nullfd, int logfd, int errfd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int e;

	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid(); /* the daemon's terminal and process group are not QEMU's */
	if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
	    dup3(errfd, CHILD_ERRFD, O_CLOEXEC) < 0)
		goto fail;
	close_from(CHILD_ERRFD + 1);
	execv(path, argv);
fail:
	e = errno;
	if (write(CHILD_ERRFD, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

static int report_exec_failure(pid_t pid, int e, const char *path, char *err, size_t errlen)
{
	int status;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	snprintf(err, errlen, "failed to execute %s: %s", path, strerror(e));
	return -e;
}

static int fork_exec(const char *path, char *const *argv, int nullfd, int logfd, pid_t *pid,
		     char *err, size_t errlen)
{
	int ep[2], e = 0;
	ssize_t n;

	if (pipe2(ep, O_CLOEXEC) < 0)
		return -errno;
	*pid = fork();
	if (*pid == 0)
		child_exec(path, argv, nullfd, logfd, ep[1]);
	close(ep[1]);
	if (*pid < 0) {
		e = errno;
		close(ep[0]);
		snprintf(err, errlen, "fork: %s", strerror(e));
		return -e;
	}
	/* EOF: the exec happened and closed the pipe.  Four bytes: errno. */
	do
		n = read(ep[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	return n == (ssize_t)sizeof(e) ? report_exec_failure(*pid, e, path, err, errlen) : 0;
}

int hv_spawn(char *const *argv, const char *log_path, pid_t *pid, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int nullfd, logfd, r;

	r = resolve(argv[0], path, sizeof(path));
	if (r < 0) {
		snprintf(err, errlen, "failed to execute %s: %s", argv[0], strerror(-r));
		return r;
	}
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0)
		return -errno;
	logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
	if (logfd < 0) {
		r = -errno;
		snprintf(err, errlen, "open %s: %s", log_path, strerror(errno));
		goto out_null;
	}
	r = fork_exec(path, argv, nullfd, logfd, pid, err, errlen);
	close(logfd);
out_null:
	close(nullfd);
	return r;
}
