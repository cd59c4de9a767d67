/* The hv/ drivers' shared helpers (hv_boot.c, hv_migrate.c): the guest's
 * serial console through the VM's socket in a run directory, and shell
 * commands of the fixtures. */
#ifndef CORRAL_TESTS_HV_SERIAL_H
#define CORRAL_TESTS_HV_SERIAL_H

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"

/* A connection to RUN_DIR/<vmid>.serial0, or -1. */
static inline int hv_serial_connect(const char *run_dir, int vmid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%d.serial0", run_dir, vmid);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect serial0");
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads the console into OUT until NEEDLE shows up (1) or TIMEOUT_MS pass
 * (0, the console so far on stderr); SEND (if any) is typed again every 5 s
 * in case the shell was not there yet. */
static inline int hv_serial_expect(int fd, struct buf *out, const char *needle, const char *send,
				   int timeout_ms)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms, next_send = 0;
	char chunk[4096];

	while (util_now_ms() < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (send && util_now_ms() >= next_send) {
			util_write_all(fd, send, strlen(send));
			next_send = util_now_ms() + 5000;
		}
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		buf_append(out, chunk, (size_t)n);
		if (strstr(out->data, needle))
			return 1;
	}
	fprintf(stderr, "  console so far:\n%s\n", out->data ? out->data : "");
	return 0;
}

/* system(CMD)'s exit status, or -1. */
static inline int hv_run_cmd(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
